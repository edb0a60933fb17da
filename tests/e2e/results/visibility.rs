//! Voters see results as the election allows, admins always; a browser watches over
//! grpc-web.

use std::time::Duration;

use prost::Message as _;
use proto_gen::result::v1::{GetResultsResponse, WatchResultsRequest, WatchResultsResponse};

use super::{LIVE, PLURALITY};
use crate::{
    grpc_web::{frame, send_grpc_web},
    support::{ballots::*, *},
};

/// The first snapshot of a WatchResults stream read over grpc-web (HTTP/1.1, as a browser
/// sends it) through the edge.
async fn first_snapshot_over_grpc_web(
    edge: &str,
    election_id: &str,
    token: &str,
) -> GetResultsResponse {
    let request = WatchResultsRequest {
        election_id: election_id.into(),
    };
    let mut response = send_grpc_web(
        edge,
        "/votemesh.result.v1.ResultService/WatchResults",
        "application/grpc-web+proto",
        frame(&request.encode_to_vec()),
        Some(token),
    )
    .await;
    assert_eq!(response.status(), 200);
    let mut buffer = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if buffer.len() >= 5 {
            let length = u32::from_be_bytes([buffer[1], buffer[2], buffer[3], buffer[4]]) as usize;
            if buffer.len() >= 5 + length {
                assert_eq!(buffer[0] & 0x80, 0, "a data frame before any trailer");
                let update = WatchResultsResponse::decode(&buffer[5..5 + length]).expect("frame");
                return update.results.expect("a snapshot");
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("a frame in time")
            .expect("body")
            .expect("stream still open");
        buffer.extend_from_slice(&chunk);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voters_see_results_as_the_election_allows_and_admins_always() {
    let wiring = Wiring::fresh();
    let mesh = spawn_mesh_with(results_mesh(&wiring, 1)).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let live = open_election(&api, &admin.access, PLURALITY, 2, LIVE).await;
    let later = open_election(
        &api,
        &admin.access,
        PLURALITY,
        2,
        "RESULTS_VISIBILITY_AFTER_CLOSE",
    )
    .await;
    let draft = id_of(&create_election(&api, &admin.access, draft_body("Not yet")).await);
    let voter = api.voter("sees").await;
    let jobs = [&live, &later]
        .iter()
        .map(|e| (e.id.clone(), selection(e, 0), voter.access.clone()))
        .collect();
    assert!(cast_all(&mesh.edge_url, jobs, 2)
        .await
        .iter()
        .all(Result::is_ok));
    let mut results = result_client(&mesh.edge_url).await;
    let code = |outcome: Result<GetResultsResponse, tonic::Status>| outcome.err().map(|s| s.code());

    // While open: LIVE shows to voters, AFTER_CLOSE only to admins, DRAFT to nobody but admins.
    wait_for_total(&mut results, &live.id, &voter.access, 1).await;
    wait_for_total(&mut results, &later.id, &admin.access, 1).await;
    for hidden in [&later.id, &draft] {
        assert_eq!(
            code(get_results(&mut results, hidden, &voter.access).await),
            Some(tonic::Code::FailedPrecondition)
        );
    }
    assert!(get_results(&mut results, &draft, &admin.access)
        .await
        .is_ok());
    let watch = results
        .watch_results(bearer(
            WatchResultsRequest {
                election_id: later.id.clone(),
            },
            &voter.access,
        ))
        .await
        .expect_err("no live stream of a closed-ballot election");
    assert_eq!(watch.code(), tonic::Code::FailedPrecondition);
    let path = format!("/v1/elections/{}/results", later.id);
    let reply = api.get(&path, Some(&voter.access)).await;
    assert_eq!(error(&reply, "status"), (412, Some("FAILED_PRECONDITION")));
    let (audit, _) = api.get(&format!("{path}:audit"), Some(&voter.access)).await;
    assert_eq!(audit, 403, "audit is for admins");
    let (recount, _) = api
        .post(
            &format!("{path}:recount"),
            Some(&voter.access),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(recount, 403, "recount is for admins");
    // A browser watches the LIVE election over grpc-web through the edge.
    let first = first_snapshot_over_grpc_web(&mesh.edge_url, &live.id, &voter.access).await;
    assert_eq!(first.total_ballots, 1);

    // After the close everyone sees both.
    for election in [&live, &later] {
        transition_ok(&api, &admin.access, &election.id, "ELECTION_STATUS_CLOSED").await;
    }
    let shown = eventually_some(
        "AFTER_CLOSE results show to voters once closed",
        Duration::from_secs(5),
        || {
            let mut results = results.clone();
            let (id, token) = (&later.id, &voter.access);
            async move { get_results(&mut results, id, token).await.ok() }
        },
    )
    .await;
    assert_eq!(shown.total_ballots, 1);
    assert_eq!(
        get_results(&mut results, &live.id, &voter.access)
            .await
            .expect("live")
            .total_ballots,
        1
    );
}
