//! The conformance suite every [`ElectionStore`] adapter must pass, with the outbox relay on
//! the same database; the integration tests run it on PostgreSQL and SQLite.

use std::{sync::Arc, time::Duration};

use kit::{
    bus::{Event, InProcessBus, Publisher, StartAt, SubscribeOptions, Subscription},
    outbox::OutboxRelay,
};

use crate::store::{
    CandidateChange, CandidateRecord, DraftFields, ElectionRecord, ElectionStore, Guard,
    SeaElectionStore, Status, StoreError,
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

fn fields(title: &str) -> DraftFields {
    DraftFields {
        title: title.into(),
        description: String::new(),
        method: "approval".into(),
        max_choices: 2,
        opens_at_ms: 1_000,
        closes_at_ms: 3_000,
        results_visibility: "after_close".into(),
        eligibility: "roll".into(),
    }
}

/// Runs every check; panics with the failing expectation.
pub async fn run(store: &SeaElectionStore) -> anyhow::Result<()> {
    let e = store.create_election(election("e1")).await?;
    assert_eq!((e.status, e.version), (Status::Draft, 1));
    assert_eq!(store.election("e1").await?, Some(e.clone()));

    let edited = store
        .update_draft("e1", Guard::Version(1), fields("T2"))
        .await?;
    assert_eq!((edited.title.as_str(), edited.version), ("T2", 2));
    assert!(matches!(
        store
            .update_draft("e1", Guard::Version(1), fields("stale"))
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
                2,
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
            .import_roll("e1", vec!["x@y.org".into(), "z@y.org".into()])
            .await?,
        Vec::<String>::new()
    );
    assert_eq!(
        store
            .import_roll("e1", vec!["x@y.org".into(), "w@y.org".into()])
            .await?,
        vec!["x@y.org".to_owned()]
    );
    assert_eq!(store.roll_count("e1").await?, 3);
    assert!(store.on_roll("e1", "w@y.org").await?);
    assert_eq!(
        store
            .roll_page("e1", Some("y.org".into()), Some("w@y.org".into()), 10)
            .await?,
        ["x@y.org", "z@y.org"]
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
            2,
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
        store.import_roll("e1", vec!["late@y.org".into()]).await,
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
            0,
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
                0,
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
    Ok(())
}
