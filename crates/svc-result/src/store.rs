//! What svc-result keeps: the ids of the ballots it has counted (each once), per-candidate
//! counts, and the ballot profile (each distinct selection with its count), from which a
//! recount can start over. Nothing here names a voter.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, TransactionTrait, Value};

use kit::db::{placeholder, placeholder_rows, Migration};

const POSTGRES: &[&str] = &[
    "CREATE TABLE counted_ballots (
        ballot_id TEXT PRIMARY KEY,
        election_id TEXT NOT NULL
    )",
    "CREATE INDEX counted_ballots_by_election ON counted_ballots (election_id)",
    "CREATE TABLE tallies (
        election_id TEXT NOT NULL,
        candidate_id TEXT NOT NULL,
        first_preferences BIGINT NOT NULL,
        mentions BIGINT NOT NULL,
        PRIMARY KEY (election_id, candidate_id)
    )",
    "CREATE TABLE profiles (
        election_id TEXT NOT NULL,
        selection TEXT NOT NULL,
        ballots BIGINT NOT NULL,
        PRIMARY KEY (election_id, selection)
    )",
    "CREATE TABLE totals (
        election_id TEXT PRIMARY KEY,
        ballots BIGINT NOT NULL,
        applied_at_ms BIGINT NOT NULL
    )",
];

const SQLITE: &[&str] = &[
    "CREATE TABLE counted_ballots (
        ballot_id TEXT PRIMARY KEY,
        election_id TEXT NOT NULL
    )",
    "CREATE INDEX counted_ballots_by_election ON counted_ballots (election_id)",
    "CREATE TABLE tallies (
        election_id TEXT NOT NULL,
        candidate_id TEXT NOT NULL,
        first_preferences INTEGER NOT NULL,
        mentions INTEGER NOT NULL,
        PRIMARY KEY (election_id, candidate_id)
    )",
    "CREATE TABLE profiles (
        election_id TEXT NOT NULL,
        selection TEXT NOT NULL,
        ballots INTEGER NOT NULL,
        PRIMARY KEY (election_id, selection)
    )",
    "CREATE TABLE totals (
        election_id TEXT PRIMARY KEY,
        ballots INTEGER NOT NULL,
        applied_at_ms INTEGER NOT NULL
    )",
];

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "counted ballots, tallies, profiles, totals",
    postgres: POSTGRES,
    sqlite: SQLITE,
}];

/// A ballot as the consumer hands it over.
#[derive(Clone, Debug)]
pub struct CountedBallot {
    pub ballot_id: String,
    pub election_id: String,
    /// Candidate ids in the voter's order.
    pub selection: Vec<String>,
}

/// Per-candidate counts: first preferences (PLURALITY, RANKED) and mentions (APPROVAL).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub first_preferences: u64,
    pub mentions: u64,
}

/// Everything stored for one election.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stored {
    pub tallies: BTreeMap<String, Counts>,
    /// Selection (candidate ids joined by ',') and how many ballots carried it.
    pub profile: BTreeMap<String, u64>,
    pub total: u64,
    pub applied_at_ms: i64,
}

#[async_trait]
pub trait ResultStore: Send + Sync {
    /// Counts the ballots not counted before, in one transaction; returns the elections
    /// that changed.
    async fn apply(
        &self,
        ballots: &[CountedBallot],
        now_ms: i64,
    ) -> Result<BTreeSet<String>, DbErr>;
    async fn stored(&self, election_id: &str) -> Result<Stored, DbErr>;
    /// Ballots counted for an election, by their ids.
    async fn counted(&self, election_id: &str) -> Result<u64, DbErr>;
}

#[derive(Clone)]
pub struct SeaResultStore {
    db: DatabaseConnection,
}

/// Rows per statement, well inside both databases' parameter limits.
const CHUNK: usize = 500;

impl SeaResultStore {
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let db = kit::db::connect(url, "svc_result", max_connections).await?;
        kit::db::migrate(&db, MIGRATIONS).await?;
        Ok(Self { db })
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// `insert VALUES (…), (…) on_conflict`, [`CHUNK`] rows per statement.
async fn upsert<const WIDTH: usize>(
    txn: &sea_orm::DatabaseTransaction,
    insert: &str,
    on_conflict: &str,
    values: Vec<[Value; WIDTH]>,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    for chunk in values.chunks(CHUNK) {
        let sql = format!(
            "{insert} VALUES {} {on_conflict}",
            placeholder_rows(backend, chunk.len(), WIDTH)
        );
        let flat: Vec<Value> = chunk.iter().flat_map(|row| row.iter().cloned()).collect();
        txn.execute(Statement::from_sql_and_values(backend, sql, flat))
            .await?;
    }
    Ok(())
}

fn n(row: &sea_orm::QueryResult, column: &str) -> Result<u64, DbErr> {
    Ok(row.try_get::<i64>("", column)?.max(0) as u64)
}

#[async_trait]
impl ResultStore for SeaResultStore {
    async fn apply(
        &self,
        ballots: &[CountedBallot],
        now_ms: i64,
    ) -> Result<BTreeSet<String>, DbErr> {
        let backend = self.db.get_database_backend();
        let txn = self.db.begin().await?;
        // The unique ballot id decides what is new; replays insert nothing.
        let mut fresh: BTreeSet<String> = BTreeSet::new();
        for chunk in ballots.chunks(CHUNK) {
            let sql = format!(
                "INSERT INTO counted_ballots (ballot_id, election_id) VALUES {} \
                 ON CONFLICT DO NOTHING RETURNING ballot_id",
                placeholder_rows(backend, chunk.len(), 2)
            );
            let values: Vec<Value> = chunk
                .iter()
                .flat_map(|b| [b.ballot_id.clone().into(), b.election_id.clone().into()])
                .collect();
            for row in txn
                .query_all(Statement::from_sql_and_values(backend, sql, values))
                .await?
            {
                fresh.insert(row.try_get("", "ballot_id")?);
            }
        }
        let mut tallies: BTreeMap<(String, String), Counts> = BTreeMap::new();
        let mut profiles: BTreeMap<(String, String), u64> = BTreeMap::new();
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for ballot in ballots {
            // A batch can carry the same ballot twice (a redelivery); count it once.
            if !fresh.contains(&ballot.ballot_id) || !seen.insert(&ballot.ballot_id) {
                continue;
            }
            for (rank, candidate) in ballot.selection.iter().enumerate() {
                let counts = tallies
                    .entry((ballot.election_id.clone(), candidate.clone()))
                    .or_default();
                counts.mentions += 1;
                if rank == 0 {
                    counts.first_preferences += 1;
                }
            }
            *profiles
                .entry((ballot.election_id.clone(), ballot.selection.join(",")))
                .or_default() += 1;
            *totals.entry(ballot.election_id.clone()).or_default() += 1;
        }
        // Sorted keys everywhere, so two instances during a rebalance never deadlock.
        let tallies: Vec<[Value; 4]> = tallies
            .into_iter()
            .map(|((election, candidate), counts)| {
                [
                    election.into(),
                    candidate.into(),
                    (counts.first_preferences as i64).into(),
                    (counts.mentions as i64).into(),
                ]
            })
            .collect();
        upsert(
            &txn,
            "INSERT INTO tallies (election_id, candidate_id, first_preferences, mentions)",
            "ON CONFLICT (election_id, candidate_id) DO UPDATE SET \
             first_preferences = tallies.first_preferences + excluded.first_preferences, \
             mentions = tallies.mentions + excluded.mentions",
            tallies,
        )
        .await?;
        let profiles: Vec<[Value; 3]> = profiles
            .into_iter()
            .map(|((election, selection), ballots)| {
                [election.into(), selection.into(), (ballots as i64).into()]
            })
            .collect();
        upsert(
            &txn,
            "INSERT INTO profiles (election_id, selection, ballots)",
            "ON CONFLICT (election_id, selection) DO UPDATE SET \
             ballots = profiles.ballots + excluded.ballots",
            profiles,
        )
        .await?;
        let changed: Vec<String> = totals.keys().cloned().collect();
        let totals: Vec<[Value; 3]> = totals
            .into_iter()
            .map(|(election, ballots)| [election.into(), (ballots as i64).into(), now_ms.into()])
            .collect();
        upsert(
            &txn,
            "INSERT INTO totals (election_id, ballots, applied_at_ms)",
            "ON CONFLICT (election_id) DO UPDATE SET \
             ballots = totals.ballots + excluded.ballots, applied_at_ms = excluded.applied_at_ms",
            totals,
        )
        .await?;
        txn.commit().await?;
        Ok(changed.into_iter().collect())
    }

    async fn stored(&self, election_id: &str) -> Result<Stored, DbErr> {
        let backend = self.db.get_database_backend();
        let by_election = |sql: &str| {
            Statement::from_sql_and_values(
                backend,
                sql.replace("$1", &placeholder(backend, 1)),
                [election_id.into()],
            )
        };
        let mut stored = Stored::default();
        for row in self
            .db
            .query_all(by_election(
                "SELECT candidate_id, first_preferences, mentions FROM tallies WHERE election_id = $1",
            ))
            .await?
        {
            stored.tallies.insert(
                row.try_get("", "candidate_id")?,
                Counts {
                    first_preferences: n(&row, "first_preferences")?,
                    mentions: n(&row, "mentions")?,
                },
            );
        }
        for row in self
            .db
            .query_all(by_election(
                "SELECT selection, ballots FROM profiles WHERE election_id = $1",
            ))
            .await?
        {
            stored
                .profile
                .insert(row.try_get("", "selection")?, n(&row, "ballots")?);
        }
        if let Some(row) = self
            .db
            .query_one(by_election(
                "SELECT ballots, applied_at_ms FROM totals WHERE election_id = $1",
            ))
            .await?
        {
            stored.total = n(&row, "ballots")?;
            stored.applied_at_ms = row.try_get("", "applied_at_ms")?;
        }
        Ok(stored)
    }

    async fn counted(&self, election_id: &str) -> Result<u64, DbErr> {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one(Statement::from_sql_and_values(
                backend,
                format!(
                    "SELECT COUNT(*) AS n FROM counted_ballots WHERE election_id = {}",
                    placeholder(backend, 1)
                ),
                [election_id.into()],
            ))
            .await?;
        row.map(|r| n(&r, "n"))
            .transpose()
            .map(Option::unwrap_or_default)
    }
}
