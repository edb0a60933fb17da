//! Issue 4: no ballot is lost to a crash between commit and publish.

use std::{collections::HashSet, time::Duration};

use prost::Message as _;
use proto_gen::events::v1::{BallotCast, VoteRecorded};
use rdkafka::Message;
use sea_orm::Database;

use crate::support::{
    ballots::{self, ballot, voting_client, Wiring},
    broker::{reader, PrivateBroker},
    postgres::count,
    process::*,
    *,
};

/// An OPEN plurality election with Ada and Bob; returns its id and Ada's.
async fn open_plurality(api: &Rest, admin: &str) -> (String, Vec<String>) {
    let (id, candidates) = election_with(api, admin, draft_body("Faults"), &["Ada", "Bob"]).await;
    transition_ok(api, admin, &id, "ELECTION_STATUS_OPEN").await;
    (id, candidates[..1].to_vec())
}

/// Event ids per topic, read from the start until `expected` of each have been seen (or the
/// deadline passes), then for one more second to catch duplicates.
async fn event_ids(
    brokers: &str,
    ballot_topic: &str,
    vote_topic: &str,
    expected: usize,
) -> (Vec<String>, Vec<String>) {
    let consumer = reader(brokers, &[ballot_topic, vote_topic]);
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
    count(&db, "SELECT COUNT(*) AS n FROM svc_voting.outbox").await
}

pub async fn sealed_rows(database_url: &str) -> i64 {
    let db = Database::connect(database_url.to_owned())
        .await
        .expect("db");
    count(&db, "SELECT COUNT(*) AS n FROM svc_voting.sealed_ballots").await
}

fn voting_process(mesh: &Mesh, wiring: &Wiring, crash: bool) -> ChildGuard {
    voting_process_with(mesh, wiring, crash, MIX_MIN_BATCH)
}

/// A `votemesh voting` process on the wiring's topics, mixing in batches of `k`.
pub fn voting_process_with(mesh: &Mesh, wiring: &Wiring, crash: bool, k: u64) -> ChildGuard {
    let mut command = service_command(mesh, "voting");
    command.env("VOTEMESH_MIX_MIN_BATCH", k.to_string());
    command
        .env("VOTEMESH_KAFKA_BROKERS", kafka())
        .env("VOTEMESH_BALLOT_TOPIC", &wiring.ballot_topic)
        .env("VOTEMESH_VOTE_TOPIC", &wiring.vote_topic);
    if crash {
        command.env("VOTEMESH_FAULT_CRASH_AFTER_COMMIT", "true");
    }
    ChildGuard::spawn(&mut command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_commit_loses_nothing_and_publishes_once() {
    let wiring = Wiring::fresh();
    let mesh = spawn_mesh().await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let (id, ada) = open_plurality(&api, &admin.access).await;
    let voter = api.voter("crashing").await;

    let mut crashing = voting_process(&mesh, &wiring, true);
    mesh.wait_for_instances_while(VOTING_SERVICE, 1, || crashing.still_running())
        .await;
    let mut client = voting_client(&mesh.edge_url);
    let lost_reply = client.cast_ballot(ballot(&id, &ada, &voter.access)).await;
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
        1,
        "the VoteRecorded waits in the outbox"
    );
    assert_eq!(
        sealed_rows(&mesh.database_url).await,
        1,
        "the ballot waits sealed for the mix"
    );

    // Its lease lapses; a healthy process takes over and drains the outbox.
    mesh.wait_for_instances(VOTING_SERVICE, 0).await;
    let mut healthy = voting_process(&mesh, &wiring, false);
    mesh.wait_for_instances_while(VOTING_SERVICE, 1, || healthy.still_running())
        .await;
    let again = client
        .cast_ballot(ballot(&id, &ada, &voter.access))
        .await
        .expect_err("already recorded");
    assert_eq!(
        again.code(),
        tonic::Code::AlreadyExists,
        "the crashed cast was kept"
    );
    let (ballots, votes) = event_ids(&kafka(), &wiring.ballot_topic, &wiring.vote_topic, 1).await;
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
        user: Instances::one(),
        candidate: Instances::one(),
        voting: Instances::one().configured(move |config: &mut svc_voting::Config| {
            config.kafka_brokers = Some(address.clone())
        }),
        ..Default::default()
    })
    .await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let (id, ada) = open_plurality(&api, &admin.access).await;
    let mut client = voting_client(&mesh.edge_url);
    let mut voters = Vec::new();
    for i in 0..12 {
        voters.push(api.voter(&format!("outage{i}")).await);
    }
    for voter in &voters[..2] {
        client
            .cast_ballot(ballot(&id, &ada, &voter.access))
            .await
            .expect("cast while the broker is up");
    }
    // Both ballots mixed and every event published before the broker goes.
    eventually("the mix releases both", Duration::from_secs(30), || async {
        sealed_rows(&mesh.database_url).await == 0
    })
    .await;
    wait_for_empty_outbox(&mesh.database_url).await;

    broker.kill().await;
    for voter in &voters[2..] {
        client
            .cast_ballot(ballot(&id, &ada, &voter.access))
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
        kit::bus::topics::BALLOT_CAST,
        kit::bus::topics::VOTE_RECORDED,
        12,
    )
    .await;
    let distinct = |ids: &[String]| ids.iter().collect::<HashSet<_>>().len();
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
    eventually("the outbox empties", Duration::from_secs(60), || async {
        outbox_rows(database_url).await == 0
    })
    .await;
}

/// A number in an Audit reply over REST, where uint64 is a string and zero may be left out.
fn number(reply: &serde_json::Value, key: &str) -> u64 {
    match &reply[key] {
        serde_json::Value::String(text) => text.parse().expect("a number"),
        other => other.as_u64().unwrap_or(0),
    }
}

/// The Audit, as (recorded, counted, sealed, matches), once svc-voting answers it.
async fn audit(api: &Rest, admin: &str, id: &str) -> (u64, u64, u64, bool) {
    let path = format!("/v1/elections/{id}/results:audit");
    eventually_some(
        "svc-voting answers the audit",
        Duration::from_secs(30),
        || async {
            let (status, reply) = api.get(&path, Some(admin)).await;
            (status == 200).then(|| {
                let matches = reply["matches"] == true;
                let counts = ["recorded", "counted", "sealed"].map(|key| number(&reply, key));
                (counts[0], counts[1], counts[2], matches)
            })
        },
    )
    .await
}

/// Issue 11, acceptance 3: svc-voting is SIGKILLed with ballots committed sealed and not yet
/// mixed (fewer than k); after a restart every one of them is counted exactly once, and the
/// Audit matches before and after the close.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ballots_sealed_when_svc_voting_is_killed_are_counted_once_after_a_restart() {
    let wiring = Wiring::fresh();
    let mut options = ballots::results_mesh(&wiring, 1);
    options.voting = Instances::none();
    let mesh = spawn_mesh_with(options).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let (id, ada) = open_plurality(&api, &admin.access).await;
    let mut voting = voting_process_with(&mesh, &wiring, false, 10);
    mesh.wait_for_instances_while(VOTING_SERVICE, 1, || voting.still_running())
        .await;
    let mut client = voting_client(&mesh.edge_url);
    for i in 0..6 {
        let voter = api.voter(&format!("sealed{i}")).await;
        client
            .cast_ballot(ballot(&id, &ada, &voter.access))
            .await
            .expect("cast");
    }
    assert_eq!(
        sealed_rows(&mesh.database_url).await,
        6,
        "fewer than k wait sealed"
    );
    let killed = voting.stop(9).await;
    assert!(!killed.success(), "SIGKILLed: {killed}");

    mesh.wait_for_instances(VOTING_SERVICE, 0).await;
    let mut again = voting_process_with(&mesh, &wiring, false, 10);
    mesh.wait_for_instances_while(VOTING_SERVICE, 1, || again.still_running())
        .await;
    assert_eq!(audit(&api, &admin.access, &id).await, (6, 0, 6, true));

    transition_ok(&api, &admin.access, &id, "ELECTION_STATUS_CLOSED").await;
    let path = format!("/v1/elections/{id}/results");
    eventually(
        "the six are counted at the close",
        Duration::from_secs(30),
        || async {
            let (status, shown) = api.get(&path, Some(&admin.access)).await;
            status == 200 && number(&shown, "total_ballots") == 6
        },
    )
    .await;
    assert_eq!(audit(&api, &admin.access, &id).await, (6, 6, 0, true));
    let (ballots, votes) = event_ids(&kafka(), &wiring.ballot_topic, &wiring.vote_topic, 6).await;
    let distinct = |ids: &[String]| ids.iter().collect::<HashSet<_>>().len();
    // Released after the restart, each ballot is published once. A VoteRecorded the killed
    // process sent but had not yet deleted goes again (at least once; consumers deduplicate
    // by event id).
    assert_eq!(
        (ballots.len(), distinct(&ballots), distinct(&votes)),
        (6, 6, 6),
        "each ballot published once: {ballots:?} {votes:?}"
    );
}
