//! The notification requests, on SQLite and PostgreSQL: what reaches the outbox for
//! invitations, manual reminders and the scheduler's automatic round. (The store suite runs
//! on both backends in tests/e2e/conformance.rs.)

use std::{collections::HashSet, sync::Arc};

use async_trait::async_trait;
use kit::{time::now_ms, ServiceError};
use prost::Message;
use proto_gen::{
    election::v1::{
        AddCandidateRequest, BallotMethod, Candidate, CreateElectionRequest, Election,
        ElectionStatus, Eligibility, UpdateElectionRequest,
    },
    events::v1::{NotificationRequestKind, NotificationsRequested},
};
use sea_orm::ConnectionTrait;
use tempfile::TempDir;

use crate::{
    convert::{duration, timestamp},
    elections::{Elections, Topics},
    store::SeaElectionStore,
    voters::VoterEmails,
};

const NOTIFICATIONS: &str = "notifications";
const HOUR_MS: i64 = 3_600_000;

/// A fresh PostgreSQL database, on the server the e2e tests use (left for that suite's sweep).
async fn fresh_postgres() -> String {
    kit::testing::Backend::postgres("candidate")
        .await
        .url
        .clone()
}

/// A store on a fresh PostgreSQL database and one on a SQLite file in `dir`.
async fn stores(dir: &TempDir) -> [(String, SeaElectionStore); 2] {
    let sqlite = dir
        .path()
        .join(format!("{}.db", uuid::Uuid::new_v4().simple()));
    let urls = [
        fresh_postgres().await,
        format!("sqlite://{}?mode=rwc", sqlite.display()),
    ];
    let mut opened = Vec::new();
    for url in urls {
        let store = SeaElectionStore::open(&url, None, 4)
            .await
            .expect("store opens");
        opened.push((url, store));
    }
    opened
        .try_into()
        .unwrap_or_else(|_| unreachable!("two urls"))
}

/// Nobody is a registered voter; these tests never ask.
struct NoVoters;

#[async_trait]
impl VoterEmails for NoVoters {
    async fn email_of(&self, _: &str) -> Result<Option<String>, ServiceError> {
        Ok(None)
    }
}

fn elections(store: &SeaElectionStore) -> Elections {
    Elections::new(
        Arc::new(store.clone()),
        100_000,
        Topics {
            status: "status".into(),
            notifications: NOTIFICATIONS.into(),
        },
        Arc::new(NoVoters),
        1,
    )
}

/// A DRAFT election opening in an hour and closing in two, with `emails` on its roll when
/// `eligibility` is ROLL.
async fn draft(
    elections: &Elections,
    eligibility: Eligibility,
    remind_before_close_ms: Option<i64>,
    emails: &[String],
) -> String {
    let now = now_ms();
    let election = Election {
        title: "Board".into(),
        method: BallotMethod::Plurality as i32,
        opens_at: Some(timestamp(now + HOUR_MS)),
        closes_at: Some(timestamp(now + 2 * HOUR_MS)),
        eligibility: eligibility as i32,
        remind_before_close: remind_before_close_ms.map(duration),
        ..Default::default()
    };
    let created = elections
        .create(CreateElectionRequest {
            election: Some(election),
        })
        .await
        .expect("created");
    let id = created.election_id;
    for name in ["Ada", "Bob"] {
        let candidate = Candidate {
            name: name.into(),
            ..Default::default()
        };
        elections
            .add_candidate(AddCandidateRequest {
                election_id: id.clone(),
                candidate: Some(candidate),
                expected_version: 0,
            })
            .await
            .expect("candidate added");
    }
    if !emails.is_empty() {
        let imported = elections
            .import_roll(
                &id,
                emails
                    .iter()
                    .map(|email| proto_gen::election::v1::RollEntry {
                        email: email.clone(),
                        weight: String::new(),
                    })
                    .collect(),
            )
            .await;
        assert_eq!(imported.expect("imported").accepted as usize, emails.len());
    }
    id
}

async fn move_to(elections: &Elections, id: &str, target: ElectionStatus) {
    elections
        .transition(id, target as i32, 0, false)
        .await
        .expect("moved");
}

fn roll(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("voter{i:05}@example.org")).collect()
}

/// The NotificationsRequested events in the outbox, oldest first.
async fn requested(store: &SeaElectionStore) -> Vec<NotificationsRequested> {
    let db = store.primary();
    db.query_all(kit::db::statement(
        db.get_database_backend(),
        "SELECT payload FROM outbox WHERE topic = $1 ORDER BY created_at_ms, id",
        [NOTIFICATIONS.into()],
    ))
    .await
    .expect("outbox read")
    .iter()
    .map(|row| {
        let payload: Vec<u8> = row.try_get_by_index(0).expect("payload");
        NotificationsRequested::decode(payload.as_slice()).expect("decodes")
    })
    .collect()
}

fn failed_precondition(outcome: Result<impl std::fmt::Debug, ServiceError>, says: &str) {
    match outcome {
        Err(ServiceError::FailedPrecondition(reason)) => {
            assert!(reason.contains(says), "{reason:?} should say {says:?}")
        }
        other => panic!("expected FAILED_PRECONDITION ({says}), got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_carry_every_roll_email_once_at_most_500_per_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (url, store) in stores(&dir).await {
        let elections = elections(&store);
        let emails = roll(1201);
        let id = draft(&elections, Eligibility::Roll, None, &emails).await;
        assert_eq!(elections.invite_roll(&id).await.expect("invited"), 1201);

        let events = requested(&store).await;
        assert_eq!(events.len(), 3, "{url}: ceil(1201 / 500) events");
        let mut seen = HashSet::new();
        for event in &events {
            assert!(event.emails.len() <= 500, "{url}");
            assert_eq!(event.election_id, id);
            assert_eq!(event.kind, NotificationRequestKind::Invitation as i32);
            assert_eq!(event.round, "");
            assert_eq!(event.election_title, "Board");
            assert!(event.opens_at.is_some() && event.closes_at.is_some());
            assert!(uuid::Uuid::parse_str(&event.event_id).is_ok());
            for email in &event.emails {
                assert!(seen.insert(email.clone()), "{url}: {email} twice");
            }
        }
        assert_eq!(seen, emails.iter().cloned().collect(), "{url}: every email");

        // svc-notify keeps it idempotent per recipient; here a repeat simply asks again.
        move_to(&elections, &id, ElectionStatus::Open).await;
        assert_eq!(elections.invite_roll(&id).await.expect("again"), 1201);
        assert_eq!(requested(&store).await.len(), 6, "{url}");
        move_to(&elections, &id, ElectionStatus::Closed).await;
        failed_precondition(elections.invite_roll(&id).await, "CLOSED");
        assert_eq!(requested(&store).await.len(), 6, "{url}: nothing more");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_need_an_open_election_with_a_roll() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (url, store) in stores(&dir).await {
        let elections = elections(&store);
        let everyone = draft(&elections, Eligibility::AllVoters, None, &[]).await;
        move_to(&elections, &everyone, ElectionStatus::Open).await;
        failed_precondition(
            elections.remind_non_voters(&everyone, 1).await,
            "voter roll",
        );
        failed_precondition(elections.invite_roll(&everyone).await, "voter roll");

        let id = draft(&elections, Eligibility::Roll, None, &roll(3)).await;
        failed_precondition(elections.remind_non_voters(&id, 1).await, "DRAFT");
        let empty = draft(&elections, Eligibility::Roll, None, &[]).await;
        failed_precondition(elections.invite_roll(&empty).await, "empty");
        move_to(&elections, &empty, ElectionStatus::Open).await;
        failed_precondition(elections.remind_non_voters(&empty, 1).await, "empty");
        let unknown = uuid::Uuid::new_v4().to_string();
        assert!(matches!(
            elections.remind_non_voters(&unknown, 1).await,
            Err(ServiceError::NotFound(_))
        ));
        assert!(matches!(
            elections.invite_roll("not-an-id").await,
            Err(ServiceError::InvalidArgument { field, .. }) if field == "election_id"
        ));
        assert!(
            requested(&store).await.is_empty(),
            "{url}: refusals write nothing"
        );

        move_to(&elections, &id, ElectionStatus::Open).await;
        let first = elections.remind_non_voters(&id, 0).await.expect("round 1");
        assert_eq!(first, (3, 1), "{url}: round 0 means 1");
        assert_eq!(
            elections.remind_non_voters(&id, 4).await.expect("round 4"),
            (3, 4)
        );
        let rounds: Vec<(i32, String)> = requested(&store)
            .await
            .into_iter()
            .map(|event| (event.kind, event.round))
            .collect();
        let reminder = NotificationRequestKind::Reminder as i32;
        assert_eq!(
            rounds,
            [(reminder, "1".into()), (reminder, "4".into())],
            "{url}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_automatic_round_is_requested_once_however_many_passes_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (url, store) in stores(&dir).await {
        let elections = elections(&store);
        // Closes in two hours and reminds three hours before: due as soon as it opens.
        let emails = roll(3);
        let id = draft(&elections, Eligibility::Roll, Some(3 * HOUR_MS), &emails).await;
        let quiet = draft(&elections, Eligibility::Roll, None, &roll(2)).await;
        elections.apply_due_transitions().await.expect("a pass");
        assert!(requested(&store).await.is_empty(), "{url}: not while DRAFT");

        move_to(&elections, &id, ElectionStatus::Open).await;
        move_to(&elections, &quiet, ElectionStatus::Open).await;
        let (a, b) = tokio::join!(
            elections.apply_due_transitions(),
            elections.apply_due_transitions()
        );
        a.expect("first pass");
        b.expect("second pass");
        elections
            .apply_due_transitions()
            .await
            .expect("a later pass");

        let events = requested(&store).await;
        assert_eq!(events.len(), 1, "{url}: one round, once");
        let round = &events[0];
        assert_eq!(round.election_id, id, "{url}: only the election that asked");
        assert_eq!(round.kind, NotificationRequestKind::Reminder as i32);
        assert_eq!(round.round, "auto");
        assert_eq!(round.emails, emails);
    }
}

#[tokio::test]
async fn the_reminder_lead_time_is_stored_validated_and_cleared() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("lead.db").display());
    let store = SeaElectionStore::open(&url, None, 2).await.expect("store");
    let elections = elections(&store);
    let id = draft(&elections, Eligibility::Roll, Some(HOUR_MS), &[]).await;
    let read = elections.get(&id).await.expect("read");
    assert_eq!(read.remind_before_close, Some(duration(HOUR_MS)));

    let update = |remind_before_close| UpdateElectionRequest {
        election_id: id.clone(),
        remind_before_close,
        ..Default::default()
    };
    let refused = elections
        .update(update(Some(duration(30_000))))
        .await
        .expect_err("too short");
    assert!(
        matches!(&refused, ServiceError::InvalidArgument { field, .. } if field == "remind_before_close")
    );
    let kept = elections.update(update(None)).await.expect("unchanged");
    assert_eq!(kept.remind_before_close, Some(duration(HOUR_MS)));
    let changed = elections
        .update(update(Some(duration(2 * HOUR_MS))))
        .await
        .expect("changed");
    assert_eq!(changed.remind_before_close, Some(duration(2 * HOUR_MS)));
    let cleared = elections
        .update(update(Some(duration(0))))
        .await
        .expect("cleared");
    assert_eq!(cleared.remind_before_close, None);
    assert_eq!(
        elections.get(&id).await.expect("read").remind_before_close,
        None
    );
}
