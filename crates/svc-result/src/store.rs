//! What svc-result keeps: the ids of the ballots it has counted (each once), per-candidate
//! counts, and the ballot profile (each distinct selection with its count), from which a
//! recount can start over. Nothing here names a voter.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseConnection, DbErr, IsolationLevel, TransactionTrait, Value,
};

use kit::db::{insert_rows, statement, Migration};

use crate::results;

const INITIAL: &[&str] = &[
    "CREATE TABLE counted_ballots (
        ballot_id TEXT PRIMARY KEY,
        election_id TEXT NOT NULL
    )",
    "CREATE INDEX counted_ballots_by_election ON counted_ballots (election_id)",
    "CREATE TABLE tallies (
        election_id TEXT NOT NULL,
        candidate_id TEXT NOT NULL,
        first_preferences {bigint} NOT NULL,
        mentions {bigint} NOT NULL,
        PRIMARY KEY (election_id, candidate_id)
    )",
    "CREATE TABLE profiles (
        election_id TEXT NOT NULL,
        selection TEXT NOT NULL,
        ballots {bigint} NOT NULL,
        PRIMARY KEY (election_id, selection)
    )",
    "CREATE TABLE totals (
        election_id TEXT PRIMARY KEY,
        ballots {bigint} NOT NULL,
        applied_at_ms {bigint} NOT NULL
    )",
];

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "counted ballots, tallies, profiles, totals",
        statements: INITIAL,
        postgres_only: &[],
        sqlite_only: &[],
    },
    Migration {
        version: 2,
        name: "published results, in steps of k",
        statements: &["CREATE TABLE published_results (
            election_id TEXT PRIMARY KEY,
            ballots {bigint} NOT NULL,
            snapshot {blob} NOT NULL
        )"],
        postgres_only: &[],
        sqlite_only: &[],
    },
    Migration {
        version: 3,
        name: "ballot tables keyed, without rowid",
        statements: &[],
        postgres_only: &[],
        sqlite_only: KEYED_ON_SQLITE,
    },
    Migration {
        version: 4,
        name: "profiles per question and weight",
        // A ballot counted before questions answered the first, whose id is the election's,
        // and weighed 1.
        statements: &["UPDATE profiles SET selection = election_id || '|1000000|' || selection"],
        postgres_only: &[],
        sqlite_only: &[],
    },
];

/// On SQLite a rowid counts insertions: counted ballots and profile rows would keep the order
/// ballots arrived in. Keyed `WITHOUT ROWID`, they are stored by random ballot id and by
/// selection instead.
const KEYED_ON_SQLITE: &[&str] = &[
    "CREATE TABLE counted_ballots_keyed (
        ballot_id TEXT PRIMARY KEY,
        election_id TEXT NOT NULL
    ) WITHOUT ROWID",
    "INSERT INTO counted_ballots_keyed SELECT ballot_id, election_id FROM counted_ballots",
    "DROP TABLE counted_ballots",
    "ALTER TABLE counted_ballots_keyed RENAME TO counted_ballots",
    "CREATE INDEX counted_ballots_by_election ON counted_ballots (election_id)",
    "CREATE TABLE profiles_keyed (
        election_id TEXT NOT NULL,
        selection TEXT NOT NULL,
        ballots INTEGER NOT NULL,
        PRIMARY KEY (election_id, selection)
    ) WITHOUT ROWID",
    "INSERT INTO profiles_keyed SELECT election_id, selection, ballots FROM profiles",
    "DROP TABLE profiles",
    "ALTER TABLE profiles_keyed RENAME TO profiles",
];

/// A ballot as the consumer hands it over.
#[derive(Clone, Debug)]
pub struct CountedBallot {
    pub ballot_id: String,
    pub election_id: String,
    /// Millionths of a vote.
    pub weight: u64,
    /// Each question's id with its answer as the profile keeps it ([`crate::profile`]).
    pub answers: Vec<(String, String)>,
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
    /// Each profile key ([`crate::profile`]) and how many ballots gave it.
    pub profile: BTreeMap<String, u64>,
    pub total: u64,
    pub applied_at_ms: i64,
}

/// What one batch did to one election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The counts of the ballots new in this batch alone (`applied_at_ms` is the batch's).
    pub added: Stored,
    /// The election's total right after this batch, as the database has it: more than a
    /// held total plus `added` means another member counted some too.
    pub total_after: u64,
}

#[async_trait]
pub trait ResultStore: Send + Sync {
    /// Counts the ballots not counted before, in one transaction; returns what it added to
    /// each election that changed.
    async fn apply(
        &self,
        ballots: &[CountedBallot],
        now_ms: i64,
    ) -> Result<BTreeMap<String, Applied>, DbErr>;
    async fn stored(&self, election_id: &str) -> Result<Stored, DbErr>;
    /// Ballots counted for an election, by their ids.
    async fn counted(&self, election_id: &str) -> Result<u64, DbErr>;
    /// The results last published for an election (an encoded `GetResultsResponse`) and how
    /// many ballots they hold.
    async fn published(&self, election_id: &str) -> Result<Option<(u64, Vec<u8>)>, DbErr>;
    /// The same for readers on a cache miss, from the read replica when there is one: it may
    /// be a moment behind the primary.
    async fn published_for_readers(
        &self,
        election_id: &str,
    ) -> Result<Option<(u64, Vec<u8>)>, DbErr>;
    /// Publishes results holding `ballots` ballots, unless the published ones hold more than
    /// `ballots - min_step`: results never move back, nor (while open, `min_step` = k) by
    /// fewer than k, whoever publishes at the same moment. Whether these were published.
    async fn publish(
        &self,
        election_id: &str,
        ballots: u64,
        snapshot: &[u8],
        min_step: u64,
    ) -> Result<bool, DbErr>;
}

#[derive(Clone)]
pub struct SeaResultStore {
    db: DatabaseConnection,
    /// The read replica when configured, else the primary.
    reads: DatabaseConnection,
}

impl SeaResultStore {
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let db = kit::db::connect(url, "svc_result", max_connections).await?;
        kit::db::migrate(&db, MIGRATIONS).await?;
        Ok(Self {
            reads: db.clone(),
            db,
        })
    }

    /// Serves readers' cache misses from `read_url`, a streaming replica of the primary.
    pub async fn with_replica(self, read_url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let reads = kit::db::connect_replica(read_url, "svc_result", max_connections).await?;
        Ok(Self { reads, ..self })
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

/// The published results on `db` (the primary or the read replica).
async fn published_on(
    db: &DatabaseConnection,
    election_id: &str,
) -> Result<Option<(u64, Vec<u8>)>, DbErr> {
    let Some(row) = db
        .query_one(statement(
            db.get_database_backend(),
            "SELECT ballots, snapshot FROM published_results WHERE election_id = $1",
            [election_id.into()],
        ))
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((n(&row, "ballots")?, row.try_get("", "snapshot")?)))
}

fn n(row: &sea_orm::QueryResult, column: &str) -> Result<u64, DbErr> {
    Ok(row.try_get::<i64>("", column)?.max(0) as u64)
}

// Rows in key order (election, then candidate or selection): two instances briefly counting
// one partition during a rebalance lock rows in the same order, so they never deadlock.

fn tally_rows(added: &BTreeMap<String, Stored>) -> Vec<[Value; 4]> {
    added
        .iter()
        .flat_map(|(election, added)| {
            added.tallies.iter().map(move |(candidate, counts)| {
                [
                    election.clone().into(),
                    candidate.clone().into(),
                    (counts.first_preferences as i64).into(),
                    (counts.mentions as i64).into(),
                ]
            })
        })
        .collect()
}

fn profile_rows(added: &BTreeMap<String, Stored>) -> Vec<[Value; 3]> {
    added
        .iter()
        .flat_map(|(election, added)| {
            added.profile.iter().map(move |(selection, ballots)| {
                [
                    election.clone().into(),
                    selection.clone().into(),
                    (*ballots as i64).into(),
                ]
            })
        })
        .collect()
}

fn total_rows(added: &BTreeMap<String, Stored>, now_ms: i64) -> Vec<[Value; 3]> {
    added
        .iter()
        .map(|(election, added)| {
            [
                election.clone().into(),
                (added.total as i64).into(),
                now_ms.into(),
            ]
        })
        .collect()
}

#[async_trait]
impl ResultStore for SeaResultStore {
    async fn apply(
        &self,
        ballots: &[CountedBallot],
        now_ms: i64,
    ) -> Result<BTreeMap<String, Applied>, DbErr> {
        let txn = self.db.begin().await?;
        // The unique ballot id decides what is new; replays insert nothing.
        let ids: Vec<[Value; 2]> = ballots
            .iter()
            .map(|b| [b.ballot_id.clone().into(), b.election_id.clone().into()])
            .collect();
        let fresh: BTreeSet<String> = insert_rows(
            &txn,
            "INSERT INTO counted_ballots (ballot_id, election_id)",
            "ON CONFLICT DO NOTHING RETURNING ballot_id",
            &ids,
        )
        .await?
        .iter()
        .map(|row| row.try_get("", "ballot_id"))
        .collect::<Result<_, DbErr>>()?;
        let mut added = results::added(ballots, &fresh, now_ms);
        insert_rows(
            &txn,
            "INSERT INTO tallies (election_id, candidate_id, first_preferences, mentions)",
            "ON CONFLICT (election_id, candidate_id) DO UPDATE SET \
             first_preferences = tallies.first_preferences + excluded.first_preferences, \
             mentions = tallies.mentions + excluded.mentions",
            &tally_rows(&added),
        )
        .await?;
        insert_rows(
            &txn,
            "INSERT INTO profiles (election_id, selection, ballots)",
            "ON CONFLICT (election_id, selection) DO UPDATE SET \
             ballots = profiles.ballots + excluded.ballots",
            &profile_rows(&added),
        )
        .await?;
        let totals_after = insert_rows(
            &txn,
            "INSERT INTO totals (election_id, ballots, applied_at_ms)",
            "ON CONFLICT (election_id) DO UPDATE SET \
             ballots = totals.ballots + excluded.ballots, applied_at_ms = excluded.applied_at_ms \
             RETURNING election_id, ballots",
            &total_rows(&added, now_ms),
        )
        .await?;
        txn.commit().await?;
        let mut applied = BTreeMap::new();
        for row in totals_after {
            let election: String = row.try_get("", "election_id")?;
            if let Some(added) = added.remove(&election) {
                let total_after = n(&row, "ballots")?;
                applied.insert(election, Applied { added, total_after });
            }
        }
        Ok(applied)
    }

    async fn stored(&self, election_id: &str) -> Result<Stored, DbErr> {
        let backend = self.db.get_database_backend();
        let by_election = |sql: &str| statement(backend, sql, [election_id.into()]);
        // One snapshot for the three reads, so a batch counted meanwhile is either wholly in
        // them or not at all (SQLite's read transaction is one snapshot already).
        let txn = if backend == sea_orm::DatabaseBackend::Postgres {
            self.db
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
        } else {
            self.db.begin().await?
        };
        let mut stored = Stored::default();
        for row in txn
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
        for row in txn
            .query_all(by_election(
                "SELECT selection, ballots FROM profiles WHERE election_id = $1",
            ))
            .await?
        {
            stored
                .profile
                .insert(row.try_get("", "selection")?, n(&row, "ballots")?);
        }
        if let Some(row) = txn
            .query_one(by_election(
                "SELECT ballots, applied_at_ms FROM totals WHERE election_id = $1",
            ))
            .await?
        {
            stored.total = n(&row, "ballots")?;
            stored.applied_at_ms = row.try_get("", "applied_at_ms")?;
        }
        txn.commit().await?;
        Ok(stored)
    }

    async fn counted(&self, election_id: &str) -> Result<u64, DbErr> {
        kit::db::count(
            &self.db,
            "SELECT COUNT(*) FROM counted_ballots WHERE election_id = $1",
            [election_id.into()],
        )
        .await
    }

    async fn published(&self, election_id: &str) -> Result<Option<(u64, Vec<u8>)>, DbErr> {
        published_on(&self.db, election_id).await
    }

    async fn published_for_readers(
        &self,
        election_id: &str,
    ) -> Result<Option<(u64, Vec<u8>)>, DbErr> {
        published_on(&self.reads, election_id).await
    }

    async fn publish(
        &self,
        election_id: &str,
        ballots: u64,
        snapshot: &[u8],
        min_step: u64,
    ) -> Result<bool, DbErr> {
        let backend = self.db.get_database_backend();
        let written = self
            .db
            .execute(statement(
                backend,
                "INSERT INTO published_results (election_id, ballots, snapshot) VALUES ($1, $2, $3) \
                 ON CONFLICT (election_id) DO UPDATE SET ballots = excluded.ballots, \
                 snapshot = excluded.snapshot \
                 WHERE published_results.ballots + $4 <= excluded.ballots",
                [
                    election_id.into(),
                    (ballots as i64).into(),
                    snapshot.to_vec().into(),
                    (min_step as i64).into(),
                ],
            ))
            .await?;
        Ok(written.rows_affected() > 0)
    }
}
