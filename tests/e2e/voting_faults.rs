//! Issue 4: no ballot is lost to a crash between commit and publish.

use std::time::Duration;

use prost::Message as _;
use proto_gen::{
    events::v1::{BallotCast, VoteRecorded},
    voting::v1::{voting_service_client::VotingServiceClient, CastBallotRequest, Selection},
};
use rdkafka::{
    consumer::{Consumer, StreamConsumer},
    ClientConfig, Message,
};
use sea_orm::{ConnectionTrait, Database};

use crate::support::{broker::PrivateBroker, process::*, *};

fn cast(election_id: &str, candidate: &str, token: &str) -> tonic::Request<CastBallotRequest> {
    bearer(
        CastBallotRequest {
            election_id: election_id.into(),
            selection: Some(Selection {
                candidate_ids: vec![candidate.into()],
            }),
        },
        token,
    )
}

async fn open_plurality(api: &Rest, admin: &str) -> (String, String) {
    let id = create_election(api, admin, draft_body("Faults")).await["election_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let ada = add_candidate(api, admin, &id, "Ada").await;
    add_candidate(api, admin, &id, "Bob").await;
    assert_eq!(
        transition(api, admin, &id, "ELECTION_STATUS_OPEN").await.0,
        200
    );
    (id, ada)
}

/// Event ids per topic, read from the start until `expected` of each have been seen (or the
/// deadline passes), then for one more second to catch duplicates.
async fn event_ids(
    brokers: &str,
    ballot_topic: &str,
    vote_topic: &str,
    expected: usize,
) -> (Vec<String>, Vec<String>) {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("faults-{}", uuid::Uuid::new_v4()))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer
        .subscribe(&[ballot_topic, vote_topic])
        .expect("subscribe");
    let (mut ballots, mut votes) = (Vec::new(), Vec::new());
    let mut deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut settled = false;
    while let Ok(received) = tokio::time::timeout_at(deadline, consumer.recv()).await {
        // A broker that has just come back reports transient errors; keep reading.
        let Ok(message) = received else { continue };
        let payload = message.payload().unwrap_or_default();
        if message.topic() == ballot_topic {
            ballots.push(BallotCast::decode(payload).expect("BallotCast").event_id);
        } else {
            votes.push(
                VoteRecorded::decode(payload)
                    .expect("VoteRecorded")
                    .event_id,
            );
        }
        if !settled && ballots.len() >= expected && votes.len() >= expected {
            settled = true;
            deadline = tokio::time::Instant::now() + Duration::from_secs(1);
        }
    }
    (ballots, votes)
}

async fn outbox_rows(database_url: &str) -> i64 {
    let db = Database::connect(database_url.to_owned())
        .await
        .expect("db");
    db.query_one(sea_orm::Statement::from_string(
        sea_orm::DatabaseBackend::Postgres,
        "SELECT COUNT(*) AS n FROM svc_voting.outbox",
    ))
    .await
    .expect("outbox")
    .map(|row| row.try_get::<i64>("", "n").expect("n"))
    .unwrap_or(0)
}

fn voting_process(
    mesh: &Mesh,
    brokers: &str,
    ballot_topic: &str,
    vote_topic: &str,
    crash: bool,
) -> ChildGuard {
    let mut command = votemesh();
    command
        .arg("voting")
        .env("VOTEMESH_LOG", "warn")
        .env("VOTEMESH_LISTEN", "127.0.0.1:0")
        .env("VOTEMESH_REGISTRY_URL", &mesh.registry_url)
        .env("VOTEMESH_INTERNAL_TOKEN", &mesh.secret)
        .env("VOTEMESH_VOTING_DATABASE_URL", &mesh.database_url)
        .env("VOTEMESH_KAFKA_BROKERS", brokers)
        .env("VOTEMESH_BALLOT_TOPIC", ballot_topic)
        .env("VOTEMESH_VOTE_TOPIC", vote_topic)
        .env("VOTEMESH_LEASE_TTL_SECONDS", "1");
    if crash {
        command.env("VOTEMESH_FAULT_CRASH_AFTER_COMMIT", "true");
    }
    ChildGuard::spawn(&mut command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_commit_loses_nothing_and_publishes_once() {
    let brokers = std::env::var("VOTEMESH_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (ballot_topic, vote_topic) = (
        format!("votemesh.test.crash-ballots.{suffix}"),
        format!("votemesh.test.crash-votes.{suffix}"),
    );
    let mesh = spawn_mesh().await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let (id, ada) = open_plurality(&api, &admin.access).await;
    let voter = api.voter("crashing").await;

    let mut crashing = voting_process(&mesh, &brokers, &ballot_topic, &vote_topic, true);
    mesh.wait_for_instances_while(VOTING_SERVICE, 1, || crashing.still_running())
        .await;
    let mut client = VotingServiceClient::connect(mesh.edge_url.clone())
        .await
        .expect("connect");
    let lost_reply = client.cast_ballot(cast(&id, &ada, &voter.access)).await;
    assert!(
        lost_reply.is_err(),
        "the process died before it could answer"
    );
    let status = tokio::task::spawn_blocking(move || crashing.0.wait())
        .await
        .expect("join")
        .expect("status");
    assert!(!status.success(), "aborted after the commit: {status}");
    assert_eq!(
        outbox_rows(&mesh.database_url).await,
        2,
        "both events wait in the outbox"
    );

    // Its lease lapses; a healthy process takes over and drains the outbox.
    mesh.wait_for_instances(VOTING_SERVICE, 0).await;
    let mut healthy = voting_process(&mesh, &brokers, &ballot_topic, &vote_topic, false);
    mesh.wait_for_instances_while(VOTING_SERVICE, 1, || healthy.still_running())
        .await;
    let again = client
        .cast_ballot(cast(&id, &ada, &voter.access))
        .await
        .expect_err("already recorded");
    assert_eq!(
        again.code(),
        tonic::Code::AlreadyExists,
        "the crashed cast was kept"
    );
    let (ballots, votes) = event_ids(&brokers, &ballot_topic, &vote_topic, 1).await;
    assert_eq!(
        (ballots.len(), votes.len()),
        (1, 1),
        "published exactly once: {ballots:?} {votes:?}"
    );
    assert_eq!(outbox_rows(&mesh.database_url).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_are_accepted_while_the_broker_is_down_and_every_event_arrives_after() {
    let mut broker = PrivateBroker::start().await;
    let address = broker.address.clone();
    let mesh = spawn_mesh_with(MeshOptions {
        voting_instances: 1,
        voting: Box::new(move |config| config.kafka_brokers = Some(address.clone())),
        ..Default::default()
    })
    .await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let (id, ada) = open_plurality(&api, &admin.access).await;
    let mut client = VotingServiceClient::connect(mesh.edge_url.clone())
        .await
        .expect("connect");
    let mut voters = Vec::new();
    for i in 0..12 {
        voters.push(api.voter(&format!("outage{i}")).await);
    }
    for voter in &voters[..2] {
        client
            .cast_ballot(cast(&id, &ada, &voter.access))
            .await
            .expect("cast while the broker is up");
    }
    wait_for_empty_outbox(&mesh.database_url).await;

    broker.kill().await;
    for voter in &voters[2..] {
        client
            .cast_ballot(cast(&id, &ada, &voter.access))
            .await
            .expect("cast while the broker is down");
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        outbox_rows(&mesh.database_url).await,
        20,
        "the events of the ten casts wait in the outbox"
    );

    broker.resume().await;
    let (ballots, votes) = event_ids(
        &broker.address,
        svc_voting::BALLOT_TOPIC,
        svc_voting::VOTE_TOPIC,
        12,
    )
    .await;
    let distinct = |ids: &[String]| ids.iter().collect::<std::collections::HashSet<_>>().len();
    assert_eq!(
        (distinct(&ballots), distinct(&votes)),
        (12, 12),
        "every BallotCast and VoteRecorded arrives: {} and {} received",
        ballots.len(),
        votes.len()
    );
    wait_for_empty_outbox(&mesh.database_url).await;
}

async fn wait_for_empty_outbox(database_url: &str) {
    for _ in 0..600 {
        if outbox_rows(database_url).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the outbox still holds {} rows",
        outbox_rows(database_url).await
    );
}
