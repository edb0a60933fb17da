//! The conformance suite every [`ElectionStore`] adapter must pass, with the outbox relay on
//! the same database; the integration tests run it on PostgreSQL and SQLite.

use std::{sync::Arc, time::Duration};

use kit::{
    bus::{Event, InProcessBus, Publisher, StartAt, SubscribeOptions, Subscription},
    outbox::OutboxRelay,
};

mod questions;

pub use questions::upgrade_from_before_questions;

use proto_gen::election::v1::BallotMethod;
use sea_orm::ConnectionTrait;

/// One vote's weight, as roll entries store it.
const ONE: i64 = 1_000_000;

/// Two candidates, and roll weights accepted.
const OPENING: OpeningChecks = OpeningChecks {
    min_candidates: 2,
    min_weight_group: 0,
};

use crate::store::{
    CandidateChange, CandidateRecord, DraftFields, ElectionRecord, ElectionStore, Guard,
    NotificationsFor, OpeningChecks, SeaElectionStore, Status, StoreError,
};

fn election(id: &str) -> ElectionRecord {
    ElectionRecord {
        id: id.into(),
        title: "T".into(),
        description: String::new(),
        method: "plurality".into(),
        max_choices: 1,
        opens_at_ms: 1_000,
        closes_at_ms: 2_000,
        results_visibility: "live".into(),
        eligibility: "roll".into(),
        status: Status::Draft,
        version: 1,
        created_at_ms: 10,
        remind_before_close_ms: None,
        ballot_export: "admins".into(),
        questions: vec![crate::questions::only(
            id,
            BallotMethod::Plurality as i32,
            1,
        )],
    }
}

fn candidate(election_id: &str, id: &str) -> CandidateRecord {
    CandidateRecord {
        id: id.into(),
        election_id: election_id.into(),
        name: id.into(),
        party: String::new(),
        description: String::new(),
        image_url: String::new(),
        ballot_position: 0,
        question_id: election_id.into(),
    }
}

fn event(election: &ElectionRecord) -> Event {
    Event {
        id: format!("{}-{}", election.id, election.version),
        topic: "t".into(),
        key: election.id.clone(),
        payload: vec![election.version as u8],
    }
}

fn fields(id: &str, title: &str) -> DraftFields {
    DraftFields {
        questions: vec![crate::questions::only(id, BallotMethod::Approval as i32, 2)],
        title: title.into(),
        description: String::new(),
        method: "approval".into(),
        max_choices: 2,
        opens_at_ms: 1_000,
        closes_at_ms: 3_000,
        results_visibility: "after_close".into(),
        eligibility: "roll".into(),
        remind_before_close_ms: None,
        ballot_export: "admins".into(),
    }
}

/// Runs every check; panics with the failing expectation.
pub async fn run(store: &SeaElectionStore) -> anyhow::Result<()> {
    let e = store.create_election(election("e1")).await?;
    assert_eq!((e.status, e.version), (Status::Draft, 1));
    assert_eq!(store.election("e1").await?, Some(e.clone()));

    let edited = store
        .update_draft("e1", Guard::Version(1), fields("e1", "T2"))
        .await?;
    assert_eq!((edited.title.as_str(), edited.version), ("T2", 2));
    assert!(matches!(
        store
            .update_draft("e1", Guard::Version(1), fields("e1", "stale"))
            .await,
        Err(StoreError::Stale { current: 2 })
    ));
    assert_eq!(
        store.election("e1").await?.map(|e| e.title),
        Some("T2".into())
    );

    let (_, list) = store
        .change_candidates("e1", Guard::Any, CandidateChange::Add(candidate("e1", "a")))
        .await?;
    assert_eq!(list.len(), 1);
    assert!(matches!(
        store
            .transition(
                "e1",
                Status::Draft,
                Status::Open,
                Guard::Any,
                Some(OPENING),
                Box::new(event)
            )
            .await,
        Err(StoreError::TooFewCandidates(1))
    ));
    assert_eq!(
        store.election("e1").await?.map(|e| e.status),
        Some(Status::Draft),
        "refusal rolled back"
    );
    store
        .change_candidates("e1", Guard::Any, CandidateChange::Add(candidate("e1", "b")))
        .await?;

    assert_eq!(
        store
            .import_roll(
                "e1",
                vec![("x@y.org".into(), ONE), ("z@y.org".into(), 2 * ONE)]
            )
            .await?,
        Vec::<String>::new()
    );
    assert_eq!(
        store
            .import_roll("e1", vec![("x@y.org".into(), ONE), ("w@y.org".into(), ONE)])
            .await?,
        vec!["x@y.org".to_owned()]
    );
    assert_eq!(store.roll_count("e1").await?, 3);
    assert_eq!(store.on_roll("e1", "w@y.org").await?, Some(ONE));
    assert_eq!(store.on_roll("e1", "nobody@y.org").await?, None);
    assert_eq!(
        store.roll_weights("e1").await?,
        [(ONE, 2), (2 * ONE, 1)],
        "each weight with its entries"
    );
    assert_eq!(
        store
            .roll_page("e1", Some("y.org".into()), Some("w@y.org".into()), 10)
            .await?,
        [("x@y.org".to_owned(), ONE), ("z@y.org".to_owned(), 2 * ONE)]
    );
    store.remove_roll_entry("e1", "w@y.org").await?;
    assert!(matches!(
        store.remove_roll_entry("e1", "w@y.org").await,
        Err(StoreError::RollEntryNotFound)
    ));

    assert_eq!(store.due_for_opening(1_500).await?, vec!["e1".to_owned()]);
    let opened = store
        .transition(
            "e1",
            Status::Draft,
            Status::Open,
            Guard::Any,
            Some(OPENING),
            Box::new(event),
        )
        .await?;
    assert_eq!(opened.status, Status::Open);
    assert!(store.due_for_opening(1_500).await?.is_empty());
    assert!(matches!(
        store
            .change_candidates("e1", Guard::Any, CandidateChange::Remove("a".into()))
            .await,
        Err(StoreError::WrongStatus(Status::Open))
    ));
    assert!(matches!(
        store
            .import_roll("e1", vec![("late@y.org".into(), ONE)])
            .await,
        Err(StoreError::WrongStatus(Status::Open))
    ));
    assert_eq!(store.candidates("e1").await?.len(), 2);
    let extended = store
        .extend("e1", Guard::Any, 5_000, Box::new(event))
        .await?;
    assert_eq!(extended.closes_at_ms, 5_000);
    assert_eq!(store.due_for_closing(6_000).await?, vec!["e1".to_owned()]);
    store
        .transition(
            "e1",
            Status::Open,
            Status::Closed,
            Guard::Any,
            None,
            Box::new(event),
        )
        .await?;
    assert!(matches!(store.election("nope").await, Ok(None)));
    assert!(matches!(
        store
            .transition(
                "nope",
                Status::Draft,
                Status::Open,
                Guard::Any,
                None,
                Box::new(event)
            )
            .await,
        Err(StoreError::NotFound)
    ));

    // Three events were written with their changes; the relay publishes them once.
    let bus = InProcessBus::default();
    let mut received = bus.subscription(&SubscribeOptions {
        group: "conformance".into(),
        topics: vec!["t".into()],
        start_at: StartAt::Earliest,
    });
    let publisher: Arc<dyn Publisher> = Arc::new(bus);
    let relay = OutboxRelay::new(
        store.primary().clone(),
        publisher,
        Duration::from_millis(10),
        "conformance",
    );
    assert_eq!(relay.lag().await?, 3);
    assert_eq!(relay.relay_once().await?, 3);
    assert_eq!(relay.relay_once().await?, 0);
    assert_eq!(relay.lag().await?, 0);
    let payloads: Vec<u8> = received
        .next_batch(100, Duration::from_millis(10))
        .await?
        .iter()
        .map(|message| message.payload[0])
        .collect();
    assert_eq!(payloads.len(), 3);
    assert!(
        payloads.windows(2).all(|w| w[0] < w[1]),
        "in order: {payloads:?}"
    );
    notifications(store).await?;
    questions::run(store).await
}

/// One event per roll email on topic "n", its payload the email.
fn one_per_email() -> NotificationsFor {
    Box::new(|election, emails| {
        emails
            .iter()
            .map(|email| Event {
                id: uuid::Uuid::new_v4().to_string(),
                topic: "n".into(),
                key: election.id.clone(),
                payload: email.clone().into_bytes(),
            })
            .collect()
    })
}

/// The emails of the events on topic "n", in order of writing.
async fn notified(store: &SeaElectionStore) -> anyhow::Result<Vec<String>> {
    let db = store.primary();
    let rows = db
        .query_all(kit::db::statement(
            db.get_database_backend(),
            "SELECT payload FROM outbox WHERE topic = $1 ORDER BY created_at_ms, id",
            ["n".into()],
        ))
        .await?;
    let mut emails = rows
        .iter()
        .map(|row| Ok(String::from_utf8(row.try_get_by_index::<Vec<u8>>(0)?)?))
        .collect::<anyhow::Result<Vec<String>>>()?;
    emails.sort();
    Ok(emails)
}

/// Roll notifications: the whole roll in one transaction with its events, only in the
/// statuses allowed.
async fn notifications(store: &SeaElectionStore) -> anyhow::Result<()> {
    let mut record = election("n1");
    record.remind_before_close_ms = Some(500);
    let created = store.create_election(record).await?;
    assert_eq!(created.remind_before_close_ms, Some(500));
    assert_eq!(created.ballot_export, "admins");
    let edited = store
        .update_draft(
            "n1",
            Guard::Any,
            DraftFields {
                remind_before_close_ms: Some(400),
                ballot_export: "public".into(),
                ..fields("n1", "N")
            },
        )
        .await?;
    assert_eq!(edited.remind_before_close_ms, Some(400));
    assert_eq!(edited.ballot_export, "public", "who may export is kept");
    assert_eq!(
        store
            .election("n1")
            .await?
            .and_then(|e| e.remind_before_close_ms),
        Some(400),
        "stored and read back"
    );
    store
        .import_roll(
            "n1",
            ["a@n.org", "b@n.org", "c@n.org"]
                .map(|e| (e.to_owned(), ONE))
                .to_vec(),
        )
        .await?;
    let both = [Status::Draft, Status::Open];
    assert_eq!(store.notify_roll("n1", &both, one_per_email()).await?, 3);
    assert_eq!(notified(store).await?, ["a@n.org", "b@n.org", "c@n.org"]);
    assert!(matches!(
        store
            .notify_roll("n1", &[Status::Open], one_per_email())
            .await,
        Err(StoreError::WrongStatus(Status::Draft))
    ));
    assert!(matches!(
        store.notify_roll("nope", &both, one_per_email()).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(notified(store).await?.len(), 3, "refusals wrote nothing");
    auto_reminder(store).await
}

/// The automatic reminder round of "n1" (closes at 3000, reminds 400 before): due from
/// 2600 until it closes, while OPEN, and claimed once however many ask together.
async fn auto_reminder(store: &SeaElectionStore) -> anyhow::Result<()> {
    assert!(
        store.due_for_auto_reminder(2_700).await?.is_empty(),
        "a draft"
    );
    assert_eq!(
        store
            .claim_auto_reminder("n1", 2_700, one_per_email())
            .await?,
        None,
        "a draft is not claimed"
    );
    for candidate_id in ["na", "nb"] {
        let change = CandidateChange::Add(candidate("n1", candidate_id));
        store.change_candidates("n1", Guard::Any, change).await?;
    }
    let open = Status::Open;
    store
        .transition(
            "n1",
            Status::Draft,
            open,
            Guard::Any,
            Some(OPENING),
            Box::new(event),
        )
        .await?;
    assert!(store.due_for_auto_reminder(2_599).await?.is_empty());
    assert!(
        store.due_for_auto_reminder(3_000).await?.is_empty(),
        "closing"
    );
    assert_eq!(store.due_for_auto_reminder(2_600).await?, ["n1"]);
    let (first, second) = tokio::join!(
        store.claim_auto_reminder("n1", 2_600, one_per_email()),
        store.claim_auto_reminder("n1", 2_600, one_per_email())
    );
    let mut claims = [first?, second?];
    claims.sort();
    assert_eq!(claims, [None, Some(3)], "one claim wins");
    assert_eq!(
        store
            .claim_auto_reminder("n1", 2_700, one_per_email())
            .await?,
        None
    );
    assert!(store.due_for_auto_reminder(2_700).await?.is_empty());
    assert_eq!(
        notified(store).await?.len(),
        6,
        "the round was written once"
    );
    Ok(())
}
