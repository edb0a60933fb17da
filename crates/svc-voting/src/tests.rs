//! The domain's refusals that must leave nothing behind, and what SQLite's storage order
//! gives away. (The store suite runs on both backends in tests/e2e/conformance.rs.)

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use async_trait::async_trait;
use kit::{auth::Caller, discovery::Balanced, ServiceError};
use proto_gen::{
    election::v1::election_service_server::SERVICE_NAME as ELECTIONS,
    user::v1::user_service_server::SERVICE_NAME as USERS,
    user::v1::Role,
    voting::v1::{CastBallotRequest, Selection},
};
use sea_orm::ConnectionTrait;

use crate::{
    directory::ElectionDirectory,
    lock::{CastLock, LockUnavailable},
    store::{Recorded, Released, SeaVotingStore, VotingStore},
    voting::{Topics, Voting, UNVERIFIED_EMAIL},
};

/// A lock that counts who asked for it.
#[derive(Default)]
struct CountingLock(AtomicUsize);

#[async_trait]
impl CastLock for CountingLock {
    async fn acquire(&self, _: &str, _: Duration) -> Result<Option<String>, LockUnavailable> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Some("token".into()))
    }

    async fn release(&self, _: &str, _: &str) -> Result<(), LockUnavailable> {
        Ok(())
    }
}

/// Casting over `store` and `lock`, with no svc-candidate to ask: a call to it would fail.
fn voting(store: SeaVotingStore, lock: Arc<CountingLock>) -> Voting {
    let common: kit::config::CommonArgs =
        kit::config::local(["--internal-token=s3cret"]).expect("common args");
    let nobody = Balanced::fixed(ELECTIONS, &[], Duration::from_secs(1));
    let elections = clients::ElectionClient::new(nobody, &common).expect("client");
    let no_users = Balanced::fixed(USERS, &[], Duration::from_secs(1));
    Voting {
        users: clients::UserClient::new(no_users, &common).expect("client"),
        store: Arc::new(store),
        lock,
        directory: ElectionDirectory::new(elections, Duration::from_secs(1)),
        receipt_key: b"key".to_vec(),
        topics: Topics {
            ballots: "ballots".into(),
            votes: "votes".into(),
        },
        lock_ttl: Duration::from_secs(5),
        crash_after_commit: false,
        outbox_written: Arc::new(tokio::sync::Notify::new()),
        seal: crate::mix::seal::BallotSeal::new(b"key"),
        mix_wake: tokio::sync::Notify::new(),
    }
}

async fn memory_store() -> SeaVotingStore {
    // One connection, so the in-memory database is the same for every statement.
    SeaVotingStore::open("sqlite::memory:", 1)
        .await
        .expect("store")
}

#[tokio::test]
async fn an_unverified_email_may_not_vote_and_nothing_is_stored() {
    let store = memory_store().await;
    let lock = Arc::new(CountingLock::default());
    let voting = voting(store.clone(), lock.clone());
    let election_id = uuid::Uuid::new_v4().to_string();
    let caller = Caller {
        user_id: "u1".into(),
        role: Role::Voter,
        email_verified: false,
    };
    let request = CastBallotRequest {
        election_id: election_id.clone(),
        selection: Some(Selection {
            candidate_ids: vec!["a".into()],
        }),
        answers: Vec::new(),
    };
    let refused = voting
        .cast(&caller, request.clone())
        .await
        .expect_err("unverified");
    assert!(
        matches!(&refused, ServiceError::FailedPrecondition(reason) if reason == UNVERIFIED_EMAIL),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("VerifyContact"));
    assert_eq!(lock.0.load(Ordering::SeqCst), 0, "no lock taken");
    assert_eq!(
        store.counts(&election_id).await.expect("counts"),
        Recorded::default()
    );
    let outbox = kit::db::count(store.connection(), "SELECT COUNT(*) FROM outbox", [])
        .await
        .expect("outbox");
    assert_eq!(outbox, 0, "no event written");

    // A verified caller gets past the check (and then finds no svc-candidate to ask).
    let verified = Caller {
        email_verified: true,
        ..caller
    };
    let error = voting
        .cast(&verified, request)
        .await
        .expect_err("no svc-candidate");
    assert!(
        matches!(error, ServiceError::Unavailable(_)),
        "past the check: {error:?}"
    );
}

#[tokio::test]
async fn participation_checks_name_their_bad_field() {
    let voting = voting(memory_store().await, Arc::default());
    let refused = voting
        .check_participation("not-an-id", &[])
        .await
        .expect_err("bad id");
    assert!(
        matches!(&refused, ServiceError::InvalidArgument { field, .. } if field == "election_id")
    );
    let election_id = uuid::Uuid::new_v4().to_string();
    let too_many: Vec<String> = (0..1001).map(|i| format!("v{i}")).collect();
    let refused = voting
        .check_participation(&election_id, &too_many)
        .await
        .expect_err("too many");
    assert!(
        matches!(&refused, ServiceError::InvalidArgument { field, .. } if field == "voter_ids")
    );
    let answer = voting
        .check_participation(&election_id, &too_many[..1000])
        .await
        .expect("a full list is fine");
    assert!(answer.voted_voter_ids.is_empty());
}

/// The column `column` of `table` in the order SQLite hands rows out when asked for none.
async fn stored_order(db: &sea_orm::DatabaseConnection, table: &str, column: &str) -> Vec<String> {
    let rows = db
        .query_all(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT {column} FROM {table}"),
        ))
        .await
        .expect("scan");
    rows.iter()
        .map(|row| row.try_get::<String>("", column).expect("column"))
        .collect()
}

#[tokio::test]
async fn on_sqlite_no_rowid_or_stored_order_follows_the_casts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("v.db").display());
    let store = SeaVotingStore::open(&url, 1).await.expect("store");
    let db = store.connection().clone();
    // Twelve casts one at a time, in an order unrelated to voter or ballot ids, then mixed.
    for i in (0..12).rev() {
        let voter = format!("{:02}-{}", (i * 7) % 12, uuid::Uuid::new_v4());
        store
            .cast(crate::conformance::cast_of("e", &voter))
            .await
            .expect("cast");
    }
    let mut ballot_ids = (0..12).map(|i| format!("{:02}-{}", (i * 5) % 12, uuid::Uuid::new_v4()));
    let released = store
        .release("e", 12, |sealed| {
            Ok(sealed
                .iter()
                .map(|_| Released {
                    ballot_id: ballot_ids.next().expect("an id"),
                    selection: "a".into(),
                    event: kit::bus::Event {
                        id: uuid::Uuid::new_v4().to_string(),
                        topic: "ballots".into(),
                        key: "e".into(),
                        payload: vec![1],
                    },
                })
                .collect())
        })
        .await
        .expect("release");
    assert_eq!(released, 12);
    for table in ["participations", "ballots", "receipts", "sealed_ballots"] {
        let asked = db
            .query_all(sea_orm::Statement::from_string(
                db.get_database_backend(),
                format!("SELECT rowid FROM {table}"),
            ))
            .await;
        assert!(asked.is_err(), "{table} has no rowid to order casts by");
    }
    for (table, column) in [
        ("participations", "voter_id"),
        ("ballots", "ballot_id"),
        ("receipts", "receipt_hash"),
    ] {
        let stored = stored_order(&db, table, column).await;
        let mut by_key = stored.clone();
        by_key.sort();
        assert_eq!(stored, by_key, "{table} is stored by {column}, not by cast");
        assert_eq!(stored.len(), 12);
    }
}
