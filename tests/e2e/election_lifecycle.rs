//! Issue 3, acceptance 1: the whole lifecycle over REST and over gRPC; every forbidden
//! transition or edit is refused and leaves the stored state unchanged.

use std::time::Duration;

use prost::Message;
use proto_gen::{
    election::v1::{
        election_service_client::ElectionServiceClient, AddCandidateRequest, BallotMethod,
        Candidate, CreateElectionRequest, Election, ElectionStatus, ListCandidatesRequest,
        TransitionElectionRequest,
    },
    events::v1::ElectionStatusChanged,
};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use tonic::Code;

use crate::support::*;

fn names(candidates: &Value) -> Vec<String> {
    candidates["candidates"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| c["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The message of a refusal, which must be a 412.
fn precondition_failed(reply: &(u16, Value)) -> &str {
    assert_eq!(reply.0, 412, "{}", reply.1);
    reply.1["error"]["message"].as_str().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_election_runs_its_whole_lifecycle_over_rest() {
    let mesh = spawn_mesh().await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let voter = api.voter("lifecycle").await;
    let token = admin.access.as_str();
    let admin_token = Some(token);

    let election = create_election(&api, token, draft_body("Board 2027")).await;
    assert_eq!(election["status"], "ELECTION_STATUS_DRAFT");
    assert_eq!(election["method"], "BALLOT_METHOD_RANKED");
    let id = id_of(&election);
    let path = format!("/v1/elections/{id}");
    let candidates_path = format!("{path}/candidates");

    let refused = transition(&api, token, &id, "ELECTION_STATUS_OPEN").await;
    assert_eq!(
        error(&refused, "status"),
        (412, Some("FAILED_PRECONDITION"))
    );
    let ada = add_candidate(&api, token, &id, "Ada").await;
    let refused = transition(&api, token, &id, "ELECTION_STATUS_OPEN").await;
    assert!(
        precondition_failed(&refused).contains("DRAFT"),
        "one candidate is not enough"
    );
    assert_eq!(status_of(&api, token, &id).await, "ELECTION_STATUS_DRAFT");

    let bob_first = json!({"candidate": {"name": "Bob", "ballot_position": 1}});
    assert_eq!(
        api.post(&candidates_path, admin_token, bob_first).await.0,
        200
    );
    let cy = add_candidate(&api, token, &id, "Cy").await;
    let insecure_image = json!({"candidate": {"name": "Eve", "image_url": "http://x.org/e.png"}});
    let bad_url = api
        .post(&candidates_path, admin_token, insecure_image)
        .await;
    assert_eq!(error(&bad_url, "field"), (400, Some("candidate.image_url")));
    let (_, listed) = api.get(&candidates_path, Some(&voter.access)).await;
    assert_eq!(
        names(&listed),
        ["Bob", "Ada", "Cy"],
        "a voter may list candidates"
    );
    let bob = text(&listed["candidates"][0], "candidate_id");

    let cy_path = format!("{candidates_path}/{cy}");
    let greens = json!({"party": "Greens", "image_url": "https://img.example.org/cy.png"});
    let (status, updated) = api.patch(&cy_path, admin_token, greens).await;
    assert_eq!(
        (status, updated["candidate"]["party"].as_str()),
        (200, Some("Greens"))
    );
    let reorder = format!("{candidates_path}:reorder");
    let (status, reordered) = api
        .post(
            &reorder,
            admin_token,
            json!({"candidate_ids": [ada, bob, cy]}),
        )
        .await;
    assert_eq!(status, 200, "{reordered}");
    assert_eq!(names(&reordered), ["Ada", "Bob", "Cy"]);
    assert_eq!(api.delete(&cy_path, admin_token).await.0, 200);
    assert_eq!(
        names(&api.get(&candidates_path, admin_token).await.1),
        ["Ada", "Bob"]
    );

    let refused = transition(&api, token, &id, "ELECTION_STATUS_CLOSED").await;
    assert!(
        precondition_failed(&refused).contains("election is DRAFT"),
        "a DRAFT cannot close"
    );
    assert_eq!(status_of(&api, token, &id).await, "ELECTION_STATUS_DRAFT");

    let final_title = json!({"title": "Board 2027 (final)"});
    let (status, edited) = api.patch(&path, admin_token, final_title).await;
    assert_eq!(
        (status, edited["election"]["title"].as_str()),
        (200, Some("Board 2027 (final)"))
    );
    let too_soon = json!({"closes_at": in_seconds(60)});
    let bad = api.patch(&path, admin_token, too_soon).await;
    assert_eq!(error(&bad, "field"), (400, Some("closes_at")));

    let opened = transition_ok(&api, token, &id, "ELECTION_STATUS_OPEN").await;
    assert_eq!(opened["election"]["status"], "ELECTION_STATUS_OPEN");

    // The ballot is frozen now: every edit is refused and nothing changes.
    let before = api.get(&candidates_path, admin_token).await.1;
    let frozen = [
        api.post(
            &candidates_path,
            admin_token,
            json!({"candidate": {"name": "Late"}}),
        )
        .await,
        api.patch(
            &format!("{candidates_path}/{ada}"),
            admin_token,
            json!({"name": "Ada X"}),
        )
        .await,
        api.delete(&format!("{candidates_path}/{bob}"), admin_token)
            .await,
        api.post(&reorder, admin_token, json!({"candidate_ids": [bob, ada]}))
            .await,
        api.patch(
            &path,
            admin_token,
            json!({"method": "BALLOT_METHOD_PLURALITY"}),
        )
        .await,
    ];
    for refused in &frozen {
        assert!(
            precondition_failed(refused).contains("OPEN"),
            "{}",
            refused.1
        );
    }
    assert_eq!(api.get(&candidates_path, admin_token).await.1, before);
    assert_eq!(
        api.get(&path, admin_token).await.1["election"]["method"],
        "BALLOT_METHOD_RANKED"
    );

    let extend = format!("{path}/extend");
    let (status, extended) = api
        .post(&extend, admin_token, json!({"closes_at": in_seconds(9000)}))
        .await;
    assert_eq!(status, 200, "{extended}");
    let (status, _) = transition(&api, token, &id, "ELECTION_STATUS_ARCHIVED").await;
    assert_eq!(status, 412, "an OPEN election cannot be archived");
    transition_ok(&api, token, &id, "ELECTION_STATUS_CLOSED").await;
    let (status, _) = api
        .post(&extend, admin_token, json!({"closes_at": in_seconds(9900)}))
        .await;
    assert_eq!(status, 412, "a CLOSED election cannot be extended");
    transition_ok(&api, token, &id, "ELECTION_STATUS_ARCHIVED").await;
    let (status, _) = transition(&api, token, &id, "ELECTION_STATUS_OPEN").await;
    assert_eq!(status, 412, "an ARCHIVED election stays archived");
    assert_eq!(
        status_of(&api, token, &id).await,
        "ELECTION_STATUS_ARCHIVED"
    );

    // Every status change (and the extension) went into the outbox with its event, and the
    // relay published each one.
    let statuses = wait_for_published_events(&mesh.database_url, &id, 4).await;
    use ElectionStatus::*;
    assert_eq!(
        statuses,
        [Open as i32, Open as i32, Closed as i32, Archived as i32]
    );

    let stranger = format!("/v1/elections/{}", uuid::Uuid::new_v4());
    assert_eq!(api.get(&stranger, admin_token).await.0, 404);
    let (status, listed) = api
        .get(
            "/v1/elections?status=ELECTION_STATUS_ARCHIVED",
            Some(&voter.access),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["elections"][0]["election_id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_election_runs_its_lifecycle_over_grpc() {
    let mesh = spawn_mesh().await;
    let admin = Rest::new(&mesh.edge_url).admin().await;
    let mut client = ElectionServiceClient::connect(mesh.edge_url.clone())
        .await
        .expect("connect");
    let at = |seconds: i64| prost_types_timestamp(seconds);
    let created = client
        .create_election(bearer(
            CreateElectionRequest {
                election: Some(Election {
                    title: "Treasurer".into(),
                    method: BallotMethod::Plurality as i32,
                    opens_at: Some(at(3600)),
                    closes_at: Some(at(7200)),
                    ..Default::default()
                }),
            },
            &admin.access,
        ))
        .await
        .expect("create")
        .into_inner()
        .election
        .expect("election");
    assert_eq!(created.max_choices, 1, "PLURALITY means one choice");
    let id = created.election_id.clone();
    let transition_to = |target: ElectionStatus| {
        bearer(
            TransitionElectionRequest {
                election_id: id.clone(),
                target: target as i32,
                expected_version: 0,
                acknowledge_identifying_weights: false,
            },
            &admin.access,
        )
    };
    let candidate = |name: &str| {
        bearer(
            AddCandidateRequest {
                election_id: id.clone(),
                candidate: Some(Candidate {
                    name: name.into(),
                    ..Default::default()
                }),
                expected_version: 0,
            },
            &admin.access,
        )
    };
    let close_draft = client
        .transition_election(transition_to(ElectionStatus::Closed))
        .await
        .expect_err("draft cannot close");
    assert_eq!(close_draft.code(), Code::FailedPrecondition);
    assert!(close_draft.message().contains("DRAFT"));
    for name in ["Grace", "Linus"] {
        client.add_candidate(candidate(name)).await.expect("add");
    }
    let opened = client
        .transition_election(transition_to(ElectionStatus::Open))
        .await
        .expect("open")
        .into_inner();
    assert_eq!(
        opened.election.expect("election").status,
        ElectionStatus::Open as i32
    );
    let late = client
        .add_candidate(candidate("Late"))
        .await
        .expect_err("frozen");
    assert_eq!(late.code(), Code::FailedPrecondition);
    let election_id = id.clone();
    let list = bearer(ListCandidatesRequest { election_id }, &admin.access);
    let listed = client.list_candidates(list).await.expect("list");
    assert_eq!(listed.into_inner().candidates.len(), 2);
    client
        .transition_election(transition_to(ElectionStatus::Closed))
        .await
        .expect("close");
}

/// The statuses of an election's outbox events once all `count` are published.
async fn wait_for_published_events(
    database_url: &str,
    election_id: &str,
    count: usize,
) -> Vec<i32> {
    let db = sea_orm::Database::connect(database_url.to_owned())
        .await
        .expect("db");
    let published = || async {
        let rows = db
            .query_all(sea_orm::Statement::from_sql_and_values(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT payload, published_at_ms FROM svc_candidate.outbox WHERE partition_key = $1 ORDER BY created_at_ms",
                [election_id.into()],
            ))
            .await
            .expect("outbox rows");
        let published = rows.iter().all(|row| {
            row.try_get::<Option<i64>>("", "published_at_ms")
                .ok()
                .flatten()
                .is_some()
        });
        (rows.len() == count && published).then_some(rows)
    };
    let rows = eventually_some(
        &format!("the outbox holds {count} published events for {election_id}"),
        Duration::from_secs(5),
        published,
    )
    .await;
    let events: Vec<ElectionStatusChanged> = rows
        .iter()
        .map(|row| {
            let payload: Vec<u8> = row.try_get("", "payload").expect("payload");
            ElectionStatusChanged::decode(payload.as_slice()).expect("event decodes")
        })
        .collect();
    assert!(
        events.windows(2).all(|w| w[0].version < w[1].version),
        "versions increase"
    );
    events.iter().map(|e| e.status).collect()
}

fn prost_types_timestamp(seconds_from_now: i64) -> prost_types::Timestamp {
    let at = chrono::Utc::now() + chrono::Duration::seconds(seconds_from_now);
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}
