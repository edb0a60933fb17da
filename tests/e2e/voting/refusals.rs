//! Bad ballots get precise errors and store nothing; a receipt can be checked publicly.

use std::time::Duration;

use proto_gen::voting::v1::{
    voting_service_client::VotingServiceClient, CastBallotRequest, VerifyReceiptRequest,
};
use tonic::{transport::Channel, Code};

use super::{draft_election, open, open_election, voting_mesh};
use crate::support::{
    ballots::{ballot, recorded, voting_client},
    *,
};

/// Casts a ballot that must be refused; returns the refusal's code and message.
async fn refusal(
    client: &VotingServiceClient<Channel>,
    request: tonic::Request<CastBallotRequest>,
) -> (Code, String) {
    let refused = client
        .clone()
        .cast_ballot(request)
        .await
        .expect_err("a refusal");
    (refused.code(), refused.message().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ballots_get_precise_errors_and_store_nothing() {
    let mesh = spawn_mesh_with(voting_mesh(1, |_| {})).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let voter = api.voter("careless").await;
    let mut client = voting_client(&mesh.edge_url);

    let (draft, c) = draft_election(&api, &admin.access, "BALLOT_METHOD_PLURALITY", 1, false).await;
    let (code, message) = refusal(&client, ballot(&draft, &c[..1], &voter.access)).await;
    assert_eq!(code, Code::FailedPrecondition, "{message}");
    assert!(message.contains("DRAFT"), "{message}");

    let (approval, a) = open_election(&api, &admin.access, "BALLOT_METHOD_APPROVAL", 2).await;
    let (ranked, r) = open_election(&api, &admin.access, "BALLOT_METHOD_RANKED", 0).await;
    let stranger = uuid::Uuid::new_v4().to_string();
    for (election, choices, why) in [
        (&approval, a.clone(), "too many choices"),
        (&approval, vec![stranger], "not a candidate"),
        (
            &ranked,
            vec![r[0].clone(), r[1].clone(), r[0].clone()],
            "more than once",
        ),
    ] {
        let (code, message) = refusal(&client, ballot(election, &choices, &voter.access)).await;
        assert_eq!(code, Code::InvalidArgument, "{why}: {message}");
        assert!(message.contains(why), "{why}: {message}");
    }
    for election in [&approval, &ranked] {
        assert_eq!(recorded(&mut client, election, &admin.access).await, (0, 0));
    }

    let (rolled, c) = draft_election(&api, &admin.access, "BALLOT_METHOD_PLURALITY", 1, true).await;
    let listed = api.voter("listed").await;
    let csv = format!("email\n{}\n", listed.email);
    let roll = format!("/v1/elections/{rolled}/roll:import");
    assert_eq!(api.post_csv(&roll, &admin.access, csv).await.0, 200);
    open(&api, &admin.access, &rolled).await;
    let (code, _) = refusal(&client, ballot(&rolled, &c[..1], &voter.access)).await;
    assert_eq!(code, Code::PermissionDenied, "not on the roll");
    assert_eq!(recorded(&mut client, &rolled, &admin.access).await, (0, 0));
    let receipt = client
        .cast_ballot(ballot(&rolled, &c[..1], &listed.access))
        .await
        .expect("on the roll")
        .into_inner();

    transition_ok(&api, &admin.access, &rolled, "ELECTION_STATUS_CLOSED").await;
    // svc-voting caches election details for two seconds, so an early close shows within that.
    let late = api.voter("late").await;
    eventually(
        "a closed election refuses ballots",
        Duration::from_secs(5),
        || async {
            let (code, message) = refusal(&client, ballot(&rolled, &c[..1], &late.access)).await;
            if code == Code::FailedPrecondition && message.contains("CLOSED") {
                return true;
            }
            assert_eq!(
                code,
                Code::PermissionDenied,
                "only the roll refuses while the cache is fresh"
            );
            false
        },
    )
    .await;
    assert_eq!(recorded(&mut client, &rolled, &admin.access).await, (1, 1));

    // The public bulletin-board check: this receipt is recorded, a made-up one is not.
    let (status, verified) = api
        .get(&format!("/v1/receipts/{}", receipt.receipt_code), None)
        .await;
    assert_eq!((status, verified["recorded"].as_bool()), (200, Some(true)));
    assert_eq!(verified["election_id"], rolled.as_str());
    let check = client
        .verify_receipt(VerifyReceiptRequest {
            receipt_code: "made-up-receipt".into(),
        })
        .await
        .expect("public")
        .into_inner();
    assert!(!check.recorded && check.election_id.is_empty());
}
