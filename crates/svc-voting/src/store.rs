//! Where votes live. "Who voted" (participations) and "what was voted" (ballots) are separate
//! tables with nothing in common but the election: random ballot ids, no timestamps on
//! ballots, no sequence. The outbox rows of one cast carry no shared time either, and the
//! relay deletes them once published.

use async_trait::async_trait;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait, Value,
};

use kit::db::Migration;

const POSTGRES: &[&str] = &[
    "CREATE TABLE participations (
        election_id TEXT NOT NULL,
        voter_id TEXT NOT NULL,
        cast_at_ms BIGINT NOT NULL,
        PRIMARY KEY (election_id, voter_id)
    )",
    "CREATE TABLE ballots (
        ballot_id TEXT PRIMARY KEY,
        election_id TEXT NOT NULL,
        selection TEXT NOT NULL,
        receipt_hash TEXT NOT NULL UNIQUE
    )",
    "CREATE INDEX ballots_by_election ON ballots (election_id)",
    kit::outbox::TABLE_POSTGRES,
];

const SQLITE: &[&str] = &[
    "CREATE TABLE participations (
        election_id TEXT NOT NULL,
        voter_id TEXT NOT NULL,
        cast_at_ms INTEGER NOT NULL,
        PRIMARY KEY (election_id, voter_id)
    )",
    "CREATE TABLE ballots (
        ballot_id TEXT PRIMARY KEY,
        election_id TEXT NOT NULL,
        selection TEXT NOT NULL,
        receipt_hash TEXT NOT NULL UNIQUE
    )",
    "CREATE INDEX ballots_by_election ON ballots (election_id)",
    kit::outbox::TABLE_SQLITE,
];

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "participations, ballots, outbox",
        postgres: POSTGRES,
        sqlite: SQLITE,
    },
    kit::outbox::queue_tuning(2),
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
    /// (id, topic, key, payload) of each event.
    pub events: Vec<(String, String, String, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error)]
pub enum CastError {
    #[error("already voted")]
    AlreadyVoted,
    #[error(transparent)]
    Database(#[from] DbErr),
}

#[async_trait]
pub trait VotingStore: Send + Sync {
    /// Participation, ballot and outbox rows, all or nothing; the participation's
    /// uniqueness decides a duplicate.
    async fn cast(&self, cast: Cast) -> Result<(), CastError>;
    /// When the voter's participation was recorded, from the primary.
    async fn participation(&self, election_id: &str, voter_id: &str) -> Result<Option<i64>, DbErr>;
    /// The election of the ballot with this receipt hash.
    async fn receipt(&self, receipt_hash: &str) -> Result<Option<String>, DbErr>;
    /// (ballots, participations) recorded for an election.
    async fn counts(&self, election_id: &str) -> Result<(u64, u64), DbErr>;
}

#[derive(Clone)]
pub struct SeaVotingStore {
    db: DatabaseConnection,
}

/// PostgreSQL placeholders (`$1`) rewritten for SQLite (`?`), in the same order.
fn statement(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DatabaseBackend::Postgres => sql.to_owned(),
        _ => {
            let mut out = String::with_capacity(sql.len());
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                    while chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
    };
    Statement::from_sql_and_values(backend, sql, values)
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
}

#[async_trait]
impl VotingStore for SeaVotingStore {
    async fn cast(&self, cast: Cast) -> Result<(), CastError> {
        let backend = self.db.get_database_backend();
        let txn = self.db.begin().await?;
        let recorded = txn
            .execute(statement(
                backend,
                "INSERT INTO participations (election_id, voter_id, cast_at_ms) VALUES ($1, $2, $3) \
                 ON CONFLICT DO NOTHING",
                vec![cast.election_id.clone().into(), cast.voter_id.into(), cast.cast_at_ms.into()],
            ))
            .await?
            .rows_affected();
        if recorded == 0 {
            return Err(CastError::AlreadyVoted);
        }
        txn.execute(statement(
            backend,
            "INSERT INTO ballots (ballot_id, election_id, selection, receipt_hash) VALUES ($1, $2, $3, $4)",
            vec![cast.ballot_id.into(), cast.election_id.into(), cast.selection.into(), cast.receipt_hash.into()],
        ))
        .await?;
        for (id, topic, key, payload) in cast.events {
            // No creation time: the two events of one cast must not share one.
            txn.execute(statement(
                backend,
                "INSERT INTO outbox (id, topic, partition_key, payload, created_at_ms) VALUES ($1, $2, $3, $4, 0)",
                vec![id.into(), topic.into(), key.into(), payload.into()],
            ))
            .await?;
        }
        txn.commit().await?;
        Ok(())
    }

    async fn participation(&self, election_id: &str, voter_id: &str) -> Result<Option<i64>, DbErr> {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one(statement(
                backend,
                "SELECT cast_at_ms FROM participations WHERE election_id = $1 AND voter_id = $2",
                vec![election_id.into(), voter_id.into()],
            ))
            .await?;
        row.map(|r| r.try_get::<i64>("", "cast_at_ms")).transpose()
    }

    async fn receipt(&self, receipt_hash: &str) -> Result<Option<String>, DbErr> {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one(statement(
                backend,
                "SELECT election_id FROM ballots WHERE receipt_hash = $1",
                vec![receipt_hash.into()],
            ))
            .await?;
        row.map(|r| r.try_get::<String>("", "election_id"))
            .transpose()
    }

    async fn counts(&self, election_id: &str) -> Result<(u64, u64), DbErr> {
        let backend = self.db.get_database_backend();
        let count = |table: &str| {
            statement(
                backend,
                &format!("SELECT COUNT(*) AS n FROM {table} WHERE election_id = $1"),
                vec![election_id.into()],
            )
        };
        let n = |row: Option<sea_orm::QueryResult>| -> Result<u64, DbErr> {
            Ok(row
                .map(|r| r.try_get::<i64>("", "n"))
                .transpose()?
                .unwrap_or(0) as u64)
        };
        let ballots = n(self.db.query_one(count("ballots")).await?)?;
        let participations = n(self.db.query_one(count("participations")).await?)?;
        Ok((ballots, participations))
    }
}
