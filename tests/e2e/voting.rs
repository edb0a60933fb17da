//! Issue 4: casting ballots. One voter, one vote under any concurrency, with Redis working,
//! flushed or gone; precise refusals that store nothing; receipts; and ballot secrecy checked
//! against the real schema and the real events.

use std::{collections::HashMap, process::Command, time::Duration};

use futures::future::join_all;
use prost::Message as _;
use proto_gen::{
    events::v1::{BallotCast, VoteRecorded},
    voting::v1::{
        voting_service_client::VotingServiceClient, CastBallotRequest, GetMyParticipationRequest,
        RecordedCountRequest, Selection, VerifyReceiptRequest,
    },
};
use rdkafka::{
    consumer::{Consumer, StreamConsumer},
    ClientConfig, Message,
};
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;
use tonic::{transport::Channel, Code};

use crate::support::{process::*, *};

fn voting_mesh(
    instances: usize,
    configure: impl Fn(&mut svc_voting::Config) + Send + 'static,
) -> MeshOptions {
    MeshOptions {
        voting_instances: instances,
        voting: Box::new(configure),
        edge: Box::new(|config| {
            config.per_user_burst = 100_000.0;
            config.per_user_per_second = 100_000.0;
        }),
        ..Default::default()
    }
}

/// An OPEN election with three candidates; returns its id and the candidate ids.
async fn open_election(
    api: &Rest,
    admin: &str,
    method: &str,
    max_choices: u32,
    roll: bool,
) -> (String, Vec<String>) {
    let mut body = draft_body("Vote now");
    body["election"]["method"] = json!(method);
    body["election"]["max_choices"] = json!(max_choices);
    if roll {
        body["election"]["eligibility"] = json!("ELIGIBILITY_ROLL");
    }
    let id = create_election(api, admin, body).await["election_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut candidates = Vec::new();
    for name in ["Ada", "Bob", "Cy"] {
        candidates.push(add_candidate(api, admin, &id, name).await);
    }
    (id, candidates)
}

async fn open(api: &Rest, admin: &str, id: &str) {
    let (status, body) = transition(api, admin, id, "ELECTION_STATUS_OPEN").await;
    assert_eq!(status, 200, "{body}");
}

fn cast(election_id: &str, choices: &[String], token: &str) -> tonic::Request<CastBallotRequest> {
    bearer(
        CastBallotRequest {
            election_id: election_id.into(),
            selection: Some(Selection {
                candidate_ids: choices.to_vec(),
            }),
        },
        token,
    )
}

async fn recorded(
    client: &mut VotingServiceClient<Channel>,
    election_id: &str,
    admin: &str,
) -> (u64, u64) {
    let counts = client
        .recorded_count(bearer(
            RecordedCountRequest {
                election_id: election_id.into(),
            },
            admin,
        ))
        .await
        .expect("count")
        .into_inner();
    (counts.ballots, counts.participations)
}

/// 500 concurrent casts by one voter; returns the codes, with OK for the accepted one.
async fn race(
    client: &VotingServiceClient<Channel>,
    election_id: &str,
    choice: &[String],
    token: &str,
) -> HashMap<Code, usize> {
    let attempts = (0..500).map(|_| {
        let mut client = client.clone();
        let request = cast(election_id, choice, token);
        async move {
            match client.cast_ballot(request).await {
                Ok(_) => Code::Ok,
                Err(status) => {
                    if !matches!(status.code(), Code::AlreadyExists | Code::Aborted) {
                        eprintln!("unexpected cast outcome: {status:?}");
                    }
                    status.code()
                }
            }
        }
    });
    let mut codes = HashMap::new();
    for code in join_all(attempts).await {
        *codes.entry(code).or_default() += 1;
    }
    codes
}

fn assert_one_accepted(codes: &HashMap<Code, usize>) {
    assert_eq!(
        codes.get(&Code::Ok),
        Some(&1),
        "exactly one accepted: {codes:?}"
    );
    let refused: usize = codes
        .iter()
        .filter(|(code, _)| matches!(code, Code::AlreadyExists | Code::Aborted))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        refused, 499,
        "the rest are ALREADY_EXISTS or ABORTED: {codes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_voter_racing_500_casts_over_two_instances_gets_one_ballot() {
    let mesh = spawn_mesh_with(voting_mesh(2, |config| {
        config.redis_url = Some("redis://127.0.0.1:6379".into())
    }))
    .await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let (id, candidates) =
        open_election(&api, &admin.access, "BALLOT_METHOD_PLURALITY", 1, false).await;
    open(&api, &admin.access, &id).await;
    let voter = api.voter("racer").await;
    let client = VotingServiceClient::connect(mesh.edge_url.clone())
        .await
        .expect("connect");

    let codes = race(&client, &id, &candidates[..1], &voter.access).await;
    assert_one_accepted(&codes);
    assert_eq!(
        recorded(&mut client.clone(), &id, &admin.access).await,
        (1, 1)
    );

    let mut client = client;
    let mine = client
        .get_my_participation(bearer(
            GetMyParticipationRequest {
                election_id: id.clone(),
            },
            &voter.access,
        ))
        .await
        .expect("participation")
        .into_inner();
    assert!(mine.voted && mine.cast_at.is_some());
    let again = client
        .cast_ballot(cast(&id, &candidates[1..2], &voter.access))
        .await
        .expect_err("second ballot");
    assert_eq!(again.code(), Code::AlreadyExists);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_decides_when_redis_is_flushed_or_gone() {
    let port = free_port();
    let mut redis = ChildGuard::spawn(
        Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null()),
    );
    for _ in 0..50 {
        if Command::new("redis-cli")
            .args(["-p", &port.to_string(), "ping"])
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"PONG"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let url = format!("redis://127.0.0.1:{port}");
    let mesh = spawn_mesh_with(voting_mesh(2, move |config| {
        config.redis_url = Some(url.clone())
    }))
    .await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let client = VotingServiceClient::connect(mesh.edge_url.clone())
        .await
        .expect("connect");

    // Flushed again and again while the race runs.
    let (flushed_id, candidates) =
        open_election(&api, &admin.access, "BALLOT_METHOD_PLURALITY", 1, false).await;
    open(&api, &admin.access, &flushed_id).await;
    let voter = api.voter("flushed").await;
    let flusher = {
        let port = port.to_string();
        tokio::spawn(async move {
            for _ in 0..20 {
                let _ = tokio::process::Command::new("redis-cli")
                    .args(["-p", &port, "flushall"])
                    .output()
                    .await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let codes = race(&client, &flushed_id, &candidates[..1], &voter.access).await;
    flusher.await.expect("flusher");
    assert_one_accepted(&codes);
    assert_eq!(
        recorded(&mut client.clone(), &flushed_id, &admin.access).await,
        (1, 1)
    );

    // Redis stops during the race: casting goes on, the unique constraint decides.
    let (gone_id, candidates) =
        open_election(&api, &admin.access, "BALLOT_METHOD_PLURALITY", 1, false).await;
    open(&api, &admin.access, &gone_id).await;
    let voter = api.voter("no-redis").await;
    let fallbacks_before = fallback_count();
    let killer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        redis.signal(9);
        let _ = redis.0.wait();
    });
    let codes = race(&client, &gone_id, &candidates[..1], &voter.access).await;
    killer.await.expect("killer");
    assert_eq!(
        codes.get(&Code::Ok),
        Some(&1),
        "exactly one accepted without Redis: {codes:?}"
    );
    assert_eq!(
        recorded(&mut client.clone(), &gone_id, &admin.access).await,
        (1, 1)
    );
    let late = api.voter("after-redis").await;
    client
        .clone()
        .cast_ballot(cast(&gone_id, &candidates[..1], &late.access))
        .await
        .expect("votes go on without Redis");
    assert!(
        fallback_count() > fallbacks_before,
        "lock fallbacks are counted"
    );
}

/// The process-wide `votemesh_cast_lock_fallbacks_total`.
fn fallback_count() -> f64 {
    kit::metrics::handle()
        .map(|handle| handle.render())
        .unwrap_or_default()
        .lines()
        .filter(|line| line.starts_with("votemesh_cast_lock_fallbacks_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_ballots_get_precise_errors_and_store_nothing() {
    let mesh = spawn_mesh_with(voting_mesh(1, |_| {})).await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let voter = api.voter("careless").await;
    let mut client = VotingServiceClient::connect(mesh.edge_url.clone())
        .await
        .expect("connect");

    let (draft, draft_candidates) =
        open_election(&api, &admin.access, "BALLOT_METHOD_PLURALITY", 1, false).await;
    let refused = client
        .cast_ballot(cast(&draft, &draft_candidates[..1], &voter.access))
        .await
        .expect_err("draft");
    assert_eq!(
        refused.code(),
        Code::FailedPrecondition,
        "{}",
        refused.message()
    );
    assert!(refused.message().contains("DRAFT"), "{}", refused.message());

    let (approval, c) =
        open_election(&api, &admin.access, "BALLOT_METHOD_APPROVAL", 2, false).await;
    open(&api, &admin.access, &approval).await;
    let too_many = client
        .cast_ballot(cast(&approval, &c, &voter.access))
        .await
        .expect_err("three of two");
    assert_eq!(too_many.code(), Code::InvalidArgument);
    assert!(too_many.message().contains("too many choices"));
    let unknown = client
        .cast_ballot(cast(
            &approval,
            &[uuid::Uuid::new_v4().to_string()],
            &voter.access,
        ))
        .await
        .expect_err("unknown candidate");
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert!(unknown.message().contains("not a candidate"));
    assert_eq!(
        recorded(&mut client, &approval, &admin.access).await,
        (0, 0)
    );

    let (ranked, c) = open_election(&api, &admin.access, "BALLOT_METHOD_RANKED", 0, false).await;
    open(&api, &admin.access, &ranked).await;
    let malformed = client
        .cast_ballot(cast(
            &ranked,
            &[c[0].clone(), c[1].clone(), c[0].clone()],
            &voter.access,
        ))
        .await
        .expect_err("duplicate rank");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(malformed.message().contains("more than once"));
    assert_eq!(recorded(&mut client, &ranked, &admin.access).await, (0, 0));

    let (rolled, c) = open_election(&api, &admin.access, "BALLOT_METHOD_PLURALITY", 1, true).await;
    let listed = api.voter("listed").await;
    let csv = format!("email\n{}\n", listed.email);
    let imported = api
        .client
        .post(format!(
            "{}/v1/elections/{rolled}/roll:import",
            mesh.edge_url
        ))
        .bearer_auth(&admin.access)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("import");
    assert_eq!(imported.status(), 200);
    open(&api, &admin.access, &rolled).await;
    let ineligible = client
        .cast_ballot(cast(&rolled, &c[..1], &voter.access))
        .await
        .expect_err("not on roll");
    assert_eq!(ineligible.code(), Code::PermissionDenied);
    assert_eq!(recorded(&mut client, &rolled, &admin.access).await, (0, 0));
    let receipt = client
        .cast_ballot(cast(&rolled, &c[..1], &listed.access))
        .await
        .expect("on the roll")
        .into_inner();

    assert_eq!(
        transition(&api, &admin.access, &rolled, "ELECTION_STATUS_CLOSED")
            .await
            .0,
        200
    );
    // svc-voting caches election details for two seconds, so an early close shows within that.
    let late = api.voter("late").await;
    let mut refused_as_closed = false;
    for _ in 0..50 {
        let refusal = client
            .cast_ballot(cast(&rolled, &c[..1], &late.access))
            .await
            .expect_err("closed");
        if refusal.code() == Code::FailedPrecondition && refusal.message().contains("CLOSED") {
            refused_as_closed = true;
            break;
        }
        assert_eq!(
            refusal.code(),
            Code::PermissionDenied,
            "only the roll refuses while the cache is fresh"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused_as_closed, "a closed election refuses ballots");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_in_the_schema_or_the_events_links_a_voter_to_a_choice() {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let ballot_topic = format!("votemesh.test.ballots.{suffix}");
    let vote_topic = format!("votemesh.test.votes.{suffix}");
    let (bt, vt) = (ballot_topic.clone(), vote_topic.clone());
    let brokers = std::env::var("VOTEMESH_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let b = brokers.clone();
    let mesh = spawn_mesh_with(voting_mesh(1, move |config| {
        config.kafka_brokers = Some(b.clone());
        config.ballot_topic = bt.clone();
        config.vote_topic = vt.clone();
    }))
    .await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let (id, c) = open_election(&api, &admin.access, "BALLOT_METHOD_RANKED", 0, false).await;
    open(&api, &admin.access, &id).await;
    let mut client = VotingServiceClient::connect(mesh.edge_url.clone())
        .await
        .expect("connect");
    let mut voters = Vec::new();
    for (i, choice) in [&c[..], &c[1..2], &c[2..]].iter().enumerate() {
        let voter = api.voter(&format!("secret{i}")).await;
        client
            .cast_ballot(cast(&id, choice, &voter.access))
            .await
            .expect("cast");
        voters.push(voter.user_id);
    }

    // The real schema: ballots know nothing of voters or time; participations nothing of choices.
    let db = Database::connect(mesh.database_url.clone())
        .await
        .expect("db");
    let columns = |table: &'static str| {
        let db = &db;
        async move {
            db.query_all(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                format!("SELECT column_name FROM information_schema.columns WHERE table_schema = 'svc_voting' AND table_name = '{table}' ORDER BY column_name"),
            ))
            .await
            .expect("columns")
            .iter()
            .map(|row| row.try_get::<String>("", "column_name").expect("name"))
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        columns("ballots").await,
        ["ballot_id", "election_id", "receipt_hash", "selection"]
    );
    assert_eq!(
        columns("participations").await,
        ["cast_at_ms", "election_id", "voter_id"]
    );

    // Published events leave the outbox, so no pending pair lingers there.
    let mut drained = false;
    for _ in 0..100 {
        let waiting = db
            .query_one(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT COUNT(*) AS n FROM svc_voting.outbox",
            ))
            .await
            .expect("outbox")
            .map(|row| row.try_get::<i64>("", "n").expect("n"))
            .unwrap_or(0);
        if waiting == 0 {
            drained = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(drained, "the relay published and removed every outbox row");

    // The events themselves: BallotCast carries no voter, VoteRecorded no choice.
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("secrecy-{suffix}"))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer
        .subscribe(&[&ballot_topic, &vote_topic])
        .expect("subscribe");
    let (mut ballots, mut votes) = (Vec::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ballots.len() < 3 || votes.len() < 3 {
        let message = tokio::time::timeout_at(deadline, consumer.recv())
            .await
            .expect("events arrive")
            .expect("message");
        let payload = message.payload().unwrap_or_default().to_vec();
        if message.topic() == ballot_topic {
            ballots.push(payload);
        } else {
            votes.push(payload);
        }
    }
    for raw in &ballots {
        let event = BallotCast::decode(raw.as_slice()).expect("BallotCast");
        assert!(!event.selection.expect("selection").candidate_ids.is_empty());
        for voter in &voters {
            assert!(
                !raw.windows(voter.len()).any(|w| w == voter.as_bytes()),
                "a BallotCast names a voter"
            );
        }
        let hour = event.cast_hour.expect("hour");
        assert_eq!(
            (hour.seconds % 3600, hour.nanos),
            (0, 0),
            "cast time is coarsened to the hour"
        );
    }
    for raw in &votes {
        let event = VoteRecorded::decode(raw.as_slice()).expect("VoteRecorded");
        assert!(voters.contains(&event.voter_id));
        for candidate in &c {
            assert!(
                !raw.windows(candidate.len())
                    .any(|w| w == candidate.as_bytes()),
                "a VoteRecorded names a choice"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_close_stops_ballots_at_once_on_every_instance() {
    let brokers = std::env::var("VOTEMESH_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let status_topic = format!("votemesh.test.status.{suffix}");
    let (b, t) = (brokers.clone(), status_topic.clone());
    let mut options = voting_mesh(2, move |config| {
        config.kafka_brokers = Some(b.clone());
        config.status_topic = t.clone();
        config.ballot_topic = format!("votemesh.test.close-ballots.{suffix}");
        config.vote_topic = format!("votemesh.test.close-votes.{suffix}");
        // Without the events, a closed election would stay open here for ten minutes.
        config.election_cache_ms = 600_000;
    });
    options.candidate = Box::new(move |config| {
        config.kafka_brokers = Some(brokers.clone());
        config.status_topic = status_topic.clone();
    });
    let mesh = spawn_mesh_with(options).await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let (id, c) = open_election(&api, &admin.access, "BALLOT_METHOD_PLURALITY", 1, false).await;
    open(&api, &admin.access, &id).await;
    let mut client = VotingServiceClient::connect(mesh.edge_url.clone())
        .await
        .expect("connect");
    // Both instances cache the election as OPEN.
    for i in 0..4 {
        let voter = api.voter(&format!("early{i}")).await;
        client
            .cast_ballot(cast(&id, &c[..1], &voter.access))
            .await
            .expect("open: accepted");
    }
    let (status, body) = transition(&api, &admin.access, &id, "ELECTION_STATUS_CLOSED").await;
    assert_eq!(status, 200, "{body}");

    let mut refused_in_a_row = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    while refused_in_a_row < 4 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "svc-voting still accepts ballots 30 s after the close"
        );
        n += 1;
        let voter = api.voter(&format!("late{n}")).await;
        match client.cast_ballot(cast(&id, &c[..1], &voter.access)).await {
            Err(status) if status.code() == Code::FailedPrecondition => refused_in_a_row += 1,
            Ok(_) => {
                refused_in_a_row = 0;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => panic!("unexpected: {status:?}"),
        }
    }
}
