//! Where votes live. "Who voted" (participations, receipts) and "what was voted" (ballots)
//! never share a transaction: a cast writes its participation, its receipt and its ballot
//! sealed (opaque without the receipt secret); the mix (release.rs) later opens sealed
//! ballots in shuffled batches of at least k and writes them into `ballots` with random ids
//! and no time. The outbox rows of one cast carry no shared time either, and the relay
//! deletes them once published.

mod migrations;
mod release;

use std::collections::HashSet;

use async_trait::async_trait;
use kit::{
    bus::Event,
    db::{insert_rows, placeholders, statement},
};
use rand::seq::SliceRandom;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait, Value};

pub use migrations::MIGRATIONS;
pub use release::{Released, SealedBallot, MAX_RELEASE};

/// One accepted vote, written in one transaction.
pub struct Cast {
    pub election_id: String,
    pub voter_id: String,
    /// The hour only: an exact time would line a participation up with its ballot.
    pub cast_at_ms: i64,
    /// The keyed hash of the voter's receipt code.
    pub receipt_hash: String,
    /// The ballot, sealed (see `mix::seal`): opened only by the mix.
    pub sealed: Vec<u8>,
    /// The cast's VoteRecorded event, for the outbox; its BallotCast leaves with the mix.
    pub events: Vec<Event>,
}

impl Cast {
    /// (election_id, voter_id, cast_at_ms): who voted, and nothing about the choice.
    fn participation_row(&self) -> [Value; 3] {
        [
            self.election_id.clone().into(),
            self.voter_id.clone().into(),
            self.cast_at_ms.into(),
        ]
    }

    /// (receipt_hash, election_id): what VerifyReceipt finds.
    fn receipt_row(&self) -> [Value; 2] {
        [
            self.receipt_hash.clone().into(),
            self.election_id.clone().into(),
        ]
    }

    /// (receipt_hash, election_id, sealed): the choice, unreadable until the mix opens it.
    fn sealed_row(&self) -> [Value; 3] {
        [
            self.receipt_hash.clone().into(),
            self.election_id.clone().into(),
            self.sealed.clone().into(),
        ]
    }
}

/// What VerifyReceipt may say about a receipt: never the choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptStatus {
    pub election_id: String,
    /// The ballot has left the mix for the count.
    pub counted: bool,
}

/// What an election has recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// Ballots accepted, sealed or mixed (one receipt each).
    pub ballots: u64,
    pub participations: u64,
    /// Of those, still sealed.
    pub sealed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CastError {
    #[error("already voted")]
    AlreadyVoted,
    #[error(transparent)]
    Database(#[from] DbErr),
    /// Not taken (the instance is draining) or not answered in time; a retry is safe.
    #[error("{0}")]
    Unavailable(String),
}

/// Most voter ids one participation check may name: one `IN (…)` list, well inside both
/// backends' limits on bound values.
pub const MAX_PARTICIPATION_CHECK: usize = 1000;

#[async_trait]
pub trait VotingStore: Send + Sync {
    /// Participation, receipt, sealed ballot and outbox rows, all or nothing; the participation's
    /// uniqueness decides a duplicate.
    async fn cast(&self, cast: Cast) -> Result<(), CastError>;
    /// When the voter's participation was recorded, from the primary.
    async fn participation(&self, election_id: &str, voter_id: &str) -> Result<Option<i64>, DbErr>;
    /// Those of `voter_ids` with a participation in the election, from the primary; each
    /// once, in no particular order. At most [`MAX_PARTICIPATION_CHECK`] ids.
    async fn voted_among(
        &self,
        election_id: &str,
        voter_ids: &[String],
    ) -> Result<Vec<String>, DbErr>;
    /// The election of the ballot with this receipt hash, and whether it has been counted.
    async fn receipt(&self, receipt_hash: &str) -> Result<Option<ReceiptStatus>, DbErr>;
    /// What an election has recorded.
    async fn counts(&self, election_id: &str) -> Result<Recorded, DbErr>;
}

#[derive(Clone)]
pub struct SeaVotingStore {
    db: DatabaseConnection,
}

impl SeaVotingStore {
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let db = kit::db::connect(url, "svc_voting", max_connections).await?;
        kit::db::migrate(&db, MIGRATIONS).await?;
        Ok(Self { db })
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Writes `casts` in one transaction and returns the indices of those recorded; the
    /// others are duplicates. Each cast's duplicate check is its own: the participation
    /// insert reports which rows were new, and only those casts write a receipt, a sealed
    /// ballot and events. Those go in shuffled, so their physical order says nothing about
    /// the order of participations.
    pub async fn write(&self, casts: &[Cast]) -> Result<HashSet<usize>, DbErr> {
        // Two casts by one voter in one batch: the first goes to the database, the second is
        // a duplicate whatever the database says.
        let mut voters = HashSet::new();
        let first_per_voter: Vec<usize> = (0..casts.len())
            .filter(|&i| voters.insert((casts[i].election_id.as_str(), casts[i].voter_id.as_str())))
            .collect();
        let participations: Vec<[Value; 3]> = first_per_voter
            .iter()
            .map(|&i| casts[i].participation_row())
            .collect();
        let txn = self.db.begin().await?;
        let inserted: HashSet<(String, String)> = insert_rows(
            &txn,
            "INSERT INTO participations (election_id, voter_id, cast_at_ms)",
            "ON CONFLICT DO NOTHING RETURNING election_id, voter_id",
            &participations,
        )
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("", "election_id")?,
                row.try_get("", "voter_id")?,
            ))
        })
        .collect::<Result<_, DbErr>>()?;
        let mut accepted: Vec<usize> = first_per_voter
            .into_iter()
            .filter(|&i| {
                inserted.contains(&(casts[i].election_id.clone(), casts[i].voter_id.clone()))
            })
            .collect();
        accepted.shuffle(&mut rand::thread_rng());
        let receipts: Vec<[Value; 2]> = accepted.iter().map(|&i| casts[i].receipt_row()).collect();
        insert_rows(
            &txn,
            "INSERT INTO receipts (receipt_hash, election_id)",
            "",
            &receipts,
        )
        .await?;
        let sealed: Vec<[Value; 3]> = accepted.iter().map(|&i| casts[i].sealed_row()).collect();
        insert_rows(
            &txn,
            "INSERT INTO sealed_ballots (receipt_hash, election_id, sealed)",
            "",
            &sealed,
        )
        .await?;
        let events: Vec<Event> = accepted
            .iter()
            .flat_map(|&i| casts[i].events.iter().cloned())
            .collect();
        kit::outbox::append_unlinkable(&txn, &events).await?;
        txn.commit().await?;
        Ok(accepted.into_iter().collect())
    }
}

#[async_trait]
impl VotingStore for SeaVotingStore {
    /// A batch of one: the same statements as a group commit.
    async fn cast(&self, cast: Cast) -> Result<(), CastError> {
        if self.write(std::slice::from_ref(&cast)).await?.contains(&0) {
            Ok(())
        } else {
            Err(CastError::AlreadyVoted)
        }
    }

    async fn participation(&self, election_id: &str, voter_id: &str) -> Result<Option<i64>, DbErr> {
        kit::db::scalar(
            &self.db,
            "SELECT cast_at_ms FROM participations WHERE election_id = $1 AND voter_id = $2",
            [election_id.into(), voter_id.into()],
        )
        .await
    }

    async fn voted_among(
        &self,
        election_id: &str,
        voter_ids: &[String],
    ) -> Result<Vec<String>, DbErr> {
        // `IN ()` is not SQL; nobody asked about is nobody who voted.
        if voter_ids.is_empty() {
            return Ok(Vec::new());
        }
        let distinct: Vec<&String> = voter_ids
            .iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let sql = format!(
            "SELECT voter_id FROM participations WHERE election_id = $1 AND voter_id IN ({})",
            placeholders(2, distinct.len())
        );
        let values = std::iter::once(Value::from(election_id))
            .chain(distinct.into_iter().map(|id| Value::from(id.as_str())));
        let backend = self.db.get_database_backend();
        self.db
            .query_all(statement(backend, sql, values))
            .await?
            .iter()
            .map(|row| row.try_get_by_index::<String>(0))
            .collect()
    }

    async fn receipt(&self, receipt_hash: &str) -> Result<Option<ReceiptStatus>, DbErr> {
        let backend = self.db.get_database_backend();
        let found = self
            .db
            .query_one(statement(
                backend,
                "SELECT election_id, (SELECT COUNT(*) FROM sealed_ballots s \
                 WHERE s.receipt_hash = r.receipt_hash) AS sealed \
                 FROM receipts r WHERE r.receipt_hash = $1",
                [receipt_hash.into()],
            ))
            .await?;
        found
            .map(|row| {
                Ok(ReceiptStatus {
                    election_id: row.try_get("", "election_id")?,
                    counted: row.try_get::<i64>("", "sealed")? == 0,
                })
            })
            .transpose()
    }

    async fn counts(&self, election_id: &str) -> Result<Recorded, DbErr> {
        let count = |table: &str| {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE election_id = $1");
            async move { kit::db::count(&self.db, &sql, [election_id.into()]).await }
        };
        Ok(Recorded {
            ballots: count("receipts").await?,
            participations: count("participations").await?,
            sealed: count("sealed_ballots").await?,
        })
    }
}
