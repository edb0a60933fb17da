//! Issue 3, acceptance 1: the whole lifecycle over REST and over gRPC; every forbidden
//! transition or edit is refused and leaves the stored state unchanged.

use prost::Message;
use proto_gen::{
    election::v1::{
        election_service_client::ElectionServiceClient, AddCandidateRequest, BallotMethod,
        Candidate, CreateElectionRequest, Election, ElectionStatus, ListCandidatesRequest,
        TransitionElectionRequest,
    },
    events::v1::ElectionStatusChanged,
};
use reqwest::Method;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_election_runs_its_whole_lifecycle_over_rest() {
    let mesh = spawn_mesh().await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let voter = api.voter("lifecycle").await;
    let token = admin.access.as_str();

    let election = create_election(&api, token, draft_body("Board 2027")).await;
    assert_eq!(election["status"], "ELECTION_STATUS_DRAFT");
    assert_eq!(election["method"], "BALLOT_METHOD_RANKED");
    let id = election["election_id"].as_str().expect("id").to_owned();
    let path = format!("/v1/elections/{id}");
    let candidates_path = format!("{path}/candidates");

    let (status, refused) = transition(&api, token, &id, "ELECTION_STATUS_OPEN").await;
    assert_eq!(
        (status, refused["error"]["status"].as_str()),
        (412, Some("FAILED_PRECONDITION"))
    );
    let ada = add_candidate(&api, token, &id, "Ada").await;
    let (status, refused) = transition(&api, token, &id, "ELECTION_STATUS_OPEN").await;
    assert_eq!(status, 412, "one candidate is not enough: {refused}");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("DRAFT"));
    assert_eq!(status_of(&api, token, &id).await, "ELECTION_STATUS_DRAFT");

    let (status, _) = api
        .post(
            &candidates_path,
            Some(token),
            json!({"candidate": {"name": "Bob", "ballot_position": 1}}),
        )
        .await;
    assert_eq!(status, 200);
    let cy = add_candidate(&api, token, &id, "Cy").await;
    let (status, bad_url) = api
        .post(
            &candidates_path,
            Some(token),
            json!({"candidate": {"name": "Eve", "image_url": "http://x.org/e.png"}}),
        )
        .await;
    assert_eq!(
        (status, bad_url["error"]["field"].as_str()),
        (400, Some("candidate.image_url"))
    );
    let (_, listed) = api.get(&candidates_path, Some(&voter.access)).await;
    assert_eq!(
        names(&listed),
        ["Bob", "Ada", "Cy"],
        "a voter may list candidates"
    );
    let bob = listed["candidates"][0]["candidate_id"]
        .as_str()
        .expect("bob")
        .to_owned();

    let (status, updated) = api
        .call(
            Method::PATCH,
            &format!("{candidates_path}/{cy}"),
            Some(token),
            Some(json!({"party": "Greens", "image_url": "https://img.example.org/cy.png"})),
        )
        .await;
    assert_eq!(
        (status, updated["candidate"]["party"].as_str()),
        (200, Some("Greens"))
    );
    let (status, reordered) = api
        .post(
            &format!("{candidates_path}:reorder"),
            Some(token),
            json!({"candidate_ids": [ada, bob, cy]}),
        )
        .await;
    assert_eq!(status, 200, "{reordered}");
    assert_eq!(names(&reordered), ["Ada", "Bob", "Cy"]);
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("{candidates_path}/{cy}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        names(&api.get(&candidates_path, Some(token)).await.1),
        ["Ada", "Bob"]
    );

    let (status, refused) = transition(&api, token, &id, "ELECTION_STATUS_CLOSED").await;
    assert_eq!(status, 412, "a DRAFT cannot close");
    assert!(refused["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("election is DRAFT"));
    assert_eq!(status_of(&api, token, &id).await, "ELECTION_STATUS_DRAFT");

    let (status, edited) = api
        .call(
            Method::PATCH,
            &path,
            Some(token),
            Some(json!({"title": "Board 2027 (final)"})),
        )
        .await;
    assert_eq!(
        (status, edited["election"]["title"].as_str()),
        (200, Some("Board 2027 (final)"))
    );
    let (status, bad) = api
        .call(
            Method::PATCH,
            &path,
            Some(token),
            Some(json!({"closes_at": in_seconds(60)})),
        )
        .await;
    assert_eq!(
        (status, bad["error"]["field"].as_str()),
        (400, Some("closes_at"))
    );

    let (status, opened) = transition(&api, token, &id, "ELECTION_STATUS_OPEN").await;
    assert_eq!(
        (status, opened["election"]["status"].as_str()),
        (200, Some("ELECTION_STATUS_OPEN"))
    );

    // The ballot is frozen now: every edit is refused and nothing changes.
    let before = api.get(&candidates_path, Some(token)).await.1;
    let frozen = [
        api.post(
            &candidates_path,
            Some(token),
            json!({"candidate": {"name": "Late"}}),
        )
        .await,
        api.call(
            Method::PATCH,
            &format!("{candidates_path}/{ada}"),
            Some(token),
            Some(json!({"name": "Ada X"})),
        )
        .await,
        api.call(
            Method::DELETE,
            &format!("{candidates_path}/{bob}"),
            Some(token),
            None,
        )
        .await,
        api.post(
            &format!("{candidates_path}:reorder"),
            Some(token),
            json!({"candidate_ids": [bob, ada]}),
        )
        .await,
        api.call(
            Method::PATCH,
            &path,
            Some(token),
            Some(json!({"method": "BALLOT_METHOD_PLURALITY"})),
        )
        .await,
    ];
    for (status, body) in &frozen {
        assert_eq!(*status, 412, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("OPEN"),
            "{body}"
        );
    }
    assert_eq!(api.get(&candidates_path, Some(token)).await.1, before);
    assert_eq!(
        api.get(&path, Some(token)).await.1["election"]["method"],
        "BALLOT_METHOD_RANKED"
    );

    let (status, extended) = api
        .post(
            &format!("{path}/extend"),
            Some(token),
            json!({"closes_at": in_seconds(9000)}),
        )
        .await;
    assert_eq!(status, 200, "{extended}");
    let (status, _) = transition(&api, token, &id, "ELECTION_STATUS_ARCHIVED").await;
    assert_eq!(status, 412, "an OPEN election cannot be archived");
    assert_eq!(
        transition(&api, token, &id, "ELECTION_STATUS_CLOSED")
            .await
            .0,
        200
    );
    let (status, _) = api
        .post(
            &format!("{path}/extend"),
            Some(token),
            json!({"closes_at": in_seconds(9900)}),
        )
        .await;
    assert_eq!(status, 412, "a CLOSED election cannot be extended");
    assert_eq!(
        transition(&api, token, &id, "ELECTION_STATUS_ARCHIVED")
            .await
            .0,
        200
    );
    assert_eq!(
        transition(&api, token, &id, "ELECTION_STATUS_OPEN").await.0,
        412
    );
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

    let (status, _) = api
        .get(
            &format!("/v1/elections/{}", uuid::Uuid::new_v4()),
            Some(token),
        )
        .await;
    assert_eq!(status, 404);
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
    let close_draft = client
        .transition_election(bearer(
            TransitionElectionRequest {
                election_id: id.clone(),
                target: ElectionStatus::Closed as i32,
                expected_version: 0,
            },
            &admin.access,
        ))
        .await
        .expect_err("draft cannot close");
    assert_eq!(close_draft.code(), Code::FailedPrecondition);
    assert!(close_draft.message().contains("DRAFT"));
    for name in ["Grace", "Linus"] {
        client
            .add_candidate(bearer(
                AddCandidateRequest {
                    election_id: id.clone(),
                    candidate: Some(Candidate {
                        name: name.into(),
                        ..Default::default()
                    }),
                    expected_version: 0,
                },
                &admin.access,
            ))
            .await
            .expect("add");
    }
    let open = |target: ElectionStatus| {
        bearer(
            TransitionElectionRequest {
                election_id: id.clone(),
                target: target as i32,
                expected_version: 0,
            },
            &admin.access,
        )
    };
    let opened = client
        .transition_election(open(ElectionStatus::Open))
        .await
        .expect("open")
        .into_inner();
    assert_eq!(
        opened.election.expect("election").status,
        ElectionStatus::Open as i32
    );
    let late = client
        .add_candidate(bearer(
            AddCandidateRequest {
                election_id: id.clone(),
                candidate: Some(Candidate {
                    name: "Late".into(),
                    ..Default::default()
                }),
                expected_version: 0,
            },
            &admin.access,
        ))
        .await
        .expect_err("frozen");
    assert_eq!(late.code(), Code::FailedPrecondition);
    let listed = client
        .list_candidates(bearer(
            ListCandidatesRequest {
                election_id: id.clone(),
            },
            &admin.access,
        ))
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.candidates.len(), 2);
    client
        .transition_election(open(ElectionStatus::Closed))
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
    for _ in 0..100 {
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
        if rows.len() == count && published {
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
            return events.iter().map(|e| e.status).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the outbox never held {count} published events for {election_id}");
}

fn prost_types_timestamp(seconds_from_now: i64) -> prost_types::Timestamp {
    let at = chrono::Utc::now() + chrono::Duration::seconds(seconds_from_now);
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}
