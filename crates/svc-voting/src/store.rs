//! Where votes live. "Who voted" (participations) and "what was voted" (ballots) are separate
//! tables with nothing in common but the election: random ballot ids, no timestamps on
//! ballots, no sequence. The outbox rows of one cast carry no shared time either, and the
//! relay deletes them once published.

use std::collections::HashSet;

use async_trait::async_trait;
use kit::{
    bus::Event,
    db::{insert_rows, placeholders, statement, Migration},
};
use rand::seq::SliceRandom;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, TransactionTrait, Value};

const INITIAL: &[&str] = &[
    "CREATE TABLE participations (
        election_id TEXT NOT NULL,
        voter_id TEXT NOT NULL,
        cast_at_ms {bigint} NOT NULL,
        PRIMARY KEY (election_id, voter_id)
    )",
    "CREATE TABLE ballots (
        ballot_id TEXT PRIMARY KEY,
        election_id TEXT NOT NULL,
        selection TEXT NOT NULL,
        receipt_hash TEXT NOT NULL UNIQUE
    )",
    "CREATE INDEX ballots_by_election ON ballots (election_id)",
    kit::outbox::TABLE,
];

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "participations, ballots, outbox",
        statements: INITIAL,
        postgres_only: &[],
        sqlite_only: &[],
    },
    kit::outbox::queue_tuning(2),
    Migration {
        version: 3,
        name: "voter and ballot tables keyed, without rowid",
        statements: &[],
        postgres_only: &[],
        sqlite_only: KEYED_ON_SQLITE,
    },
];

/// On SQLite a table's rowid counts insertions, so ordering participations and ballots by it
/// would pair them at low traffic. Keyed `WITHOUT ROWID`, each table is stored in the order
/// of its primary key: voters by id, ballots by their random id.
const KEYED_ON_SQLITE: &[&str] = &[
    "CREATE TABLE participations_keyed (
        election_id TEXT NOT NULL,
        voter_id TEXT NOT NULL,
        cast_at_ms INTEGER NOT NULL,
        PRIMARY KEY (election_id, voter_id)
    ) WITHOUT ROWID",
    "INSERT INTO participations_keyed SELECT election_id, voter_id, cast_at_ms FROM participations",
    "DROP TABLE participations",
    "ALTER TABLE participations_keyed RENAME TO participations",
    "CREATE TABLE ballots_keyed (
        ballot_id TEXT PRIMARY KEY,
        election_id TEXT NOT NULL,
        selection TEXT NOT NULL,
        receipt_hash TEXT NOT NULL UNIQUE
    ) WITHOUT ROWID",
    "INSERT INTO ballots_keyed SELECT ballot_id, election_id, selection, receipt_hash FROM ballots",
    "DROP TABLE ballots",
    "ALTER TABLE ballots_keyed RENAME TO ballots",
    "CREATE INDEX ballots_by_election ON ballots (election_id)",
];

/// One accepted vote, written in one transaction.
pub struct Cast {
    pub election_id: String,
    pub voter_id: String,
    pub cast_at_ms: i64,
    pub ballot_id: String,
    /// Candidate ids in the voter's order, comma-separated.
    pub selection: String,
    pub receipt_hash: String,
    /// The cast's events (BallotCast, VoteRecorded), for the outbox.
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

    /// (ballot_id, election_id, selection, receipt_hash): the choice, and nothing about
    /// who made it.
    fn ballot_row(&self) -> [Value; 4] {
        [
            self.ballot_id.clone().into(),
            self.election_id.clone().into(),
            self.selection.clone().into(),
            self.receipt_hash.clone().into(),
        ]
    }
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
    /// Participation, ballot and outbox rows, all or nothing; the participation's
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
    /// The election of the ballot with this receipt hash.
    async fn receipt(&self, receipt_hash: &str) -> Result<Option<String>, DbErr>;
    /// (ballots, participations) recorded for an election.
    async fn counts(&self, election_id: &str) -> Result<(u64, u64), DbErr>;
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
    /// insert reports which rows were new, and only those casts write a ballot and events.
    /// Ballots and outbox rows go in shuffled, so their physical order says nothing about
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
        let ballots: Vec<[Value; 4]> = accepted.iter().map(|&i| casts[i].ballot_row()).collect();
        insert_rows(
            &txn,
            "INSERT INTO ballots (ballot_id, election_id, selection, receipt_hash)",
            "",
            &ballots,
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

    async fn receipt(&self, receipt_hash: &str) -> Result<Option<String>, DbErr> {
        kit::db::scalar(
            &self.db,
            "SELECT election_id FROM ballots WHERE receipt_hash = $1",
            [receipt_hash.into()],
        )
        .await
    }

    async fn counts(&self, election_id: &str) -> Result<(u64, u64), DbErr> {
        let count = |table: &str| {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE election_id = $1");
            async move { kit::db::count(&self.db, &sql, [election_id.into()]).await }
        };
        Ok((count("ballots").await?, count("participations").await?))
    }
}
