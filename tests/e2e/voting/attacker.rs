//! The attacker of issue 11: someone who reads svc-voting's and svc-result's databases and
//! the broker's ballot topic, and lines voters up with choices by every order those offer:
//! each column, PostgreSQL's ctid and xmin, SQLite's rowid, the order a scan returns, and the
//! broker's offsets and timestamps.

use std::collections::HashMap;

use prost::Message as _;
use proto_gen::events::v1::BallotCast;
use rdkafka::Message;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};

use crate::support::broker::{next_message, reader};

/// Named sequences: voter ids, or the selections (candidate ids joined by ',').
pub type Orders = Vec<(String, Vec<String>)>;

/// A database as the attacker reads it: its tables' names, and the orders it offers beyond
/// its columns.
struct Reader {
    db: DatabaseConnection,
    /// `svc_voting.` or `svc_result.` on PostgreSQL, where every service has its schema.
    schema: &'static str,
    postgres: bool,
}

impl Reader {
    async fn open(url: &str, schema: &'static str) -> Self {
        let postgres = url.starts_with("postgres");
        Self {
            db: Database::connect(url.to_owned()).await.expect("connect"),
            schema: if postgres { schema } else { "" },
            postgres,
        }
    }

    /// The physical orders: ctid and xmin on PostgreSQL, the rowid on SQLite where the table
    /// has one (a table stored `WITHOUT ROWID` refuses the question), and a plain scan.
    async fn physical(&self, table: &str) -> Vec<Option<&'static str>> {
        if self.postgres {
            return vec![Some("ctid"), Some("xmin::text::bigint"), None];
        }
        if self.has_rowid(table).await {
            vec![Some("rowid"), None]
        } else {
            vec![None]
        }
    }

    /// Whether a SQLite table answers for its rowid (one stored `WITHOUT ROWID` refuses).
    async fn has_rowid(&self, table: &str) -> bool {
        let asked = format!("SELECT rowid FROM {table} LIMIT 1");
        self.db.query_all(self.statement(&asked)).await.is_ok()
    }

    fn statement(&self, sql: &str) -> Statement {
        Statement::from_string(self.db.get_database_backend(), sql.to_owned())
    }

    /// `column` of `table`'s rows of the election, in each of `orders` and every physical one.
    async fn sequences(
        &self,
        table: &str,
        column: &str,
        election_id: &str,
        orders: &[&'static str],
    ) -> Vec<(String, Vec<String>)> {
        let mut all: Vec<Option<&'static str>> = orders.iter().copied().map(Some).collect();
        all.extend(self.physical(table).await);
        let mut sequences = Vec::new();
        for order in all {
            let by = order.map(|o| format!(" ORDER BY {o}")).unwrap_or_default();
            let sql = format!(
                "SELECT {column} FROM {}{table} WHERE election_id = '{election_id}'{by}",
                self.schema
            );
            let rows = self
                .db
                .query_all(self.statement(&sql))
                .await
                .unwrap_or_else(|error| panic!("{sql}: {error}"));
            let values = rows
                .iter()
                .map(|row| row.try_get_by_index::<String>(0).expect("text"))
                .collect();
            let name = format!("{table}.{column} by {}", order.unwrap_or("scan"));
            sequences.push((name, values));
        }
        sequences
    }
}

/// Voter orders from svc-voting's participations, and choice orders from svc-voting's
/// ballots and svc-result's counted ballots and profiles.
pub async fn database_orders(
    voting_url: &str,
    result_url: &str,
    election_id: &str,
) -> (Orders, Orders) {
    let voting = Reader::open(voting_url, "svc_voting.").await;
    let result = Reader::open(result_url, "svc_result.").await;
    if !voting.postgres {
        // Issue 11: SQLite tables that hold ballots, or voters beside them, keep no rowid.
        for table in ["participations", "receipts", "sealed_ballots", "ballots"] {
            assert!(
                !voting.has_rowid(table).await,
                "voting.db {table} has a rowid"
            );
        }
        for table in ["counted_ballots", "profiles"] {
            assert!(
                !result.has_rowid(table).await,
                "result.db {table} has a rowid"
            );
        }
    }
    let voters = voting
        .sequences(
            "participations",
            "voter_id",
            election_id,
            &["voter_id", "cast_at_ms"],
        )
        .await;
    let mut choices = voting
        .sequences(
            "ballots",
            "selection",
            election_id,
            &["ballot_id", "selection"],
        )
        .await;
    // The ballot ids svc-result counted, in its orders, stand for the ballots they name.
    let ballots: HashMap<String, String> = voting
        .sequences("ballots", "ballot_id", election_id, &["ballot_id"])
        .await
        .remove(0)
        .1
        .into_iter()
        .zip(choices[0].1.clone())
        .collect();
    for (name, ids) in result
        .sequences("counted_ballots", "ballot_id", election_id, &["ballot_id"])
        .await
    {
        let selections = ids.iter().map(|id| ballots[id].clone()).collect();
        choices.push((name, selections));
    }
    // Every ranking is distinct, so each profile row is one ballot.
    choices.extend(
        result
            .sequences(
                "profiles",
                "selection",
                election_id,
                &["selection", "ballots"],
            )
            .await,
    );
    (voters, choices)
}

/// A BallotCast record as the broker holds it.
#[derive(Clone)]
struct Record {
    /// (partition, offset)
    position: (i32, i64),
    timestamp_ms: i64,
    released_at_ms: i64,
    selection: String,
}

/// Choice orders from the broker: BallotCast records by offset, by timestamp, and by the
/// release time they carry.
pub async fn broker_orders(brokers: &str, topic: &str, expected: usize) -> Orders {
    let consumer = reader(brokers, &[topic]);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut records = Vec::new();
    while records.len() < expected {
        let message = next_message(&consumer, deadline).await;
        let event = BallotCast::decode(message.payload().unwrap_or_default()).expect("BallotCast");
        assert!(
            event.cast_hour.is_none(),
            "no cast time travels with a ballot"
        );
        let released = event.released_at.expect("a release time");
        records.push(Record {
            position: (message.partition(), message.offset()),
            timestamp_ms: message.timestamp().to_millis().unwrap_or_default(),
            released_at_ms: released.seconds * 1000 + i64::from(released.nanos / 1_000_000),
            selection: event.selection.expect("selection").candidate_ids.join(","),
        });
    }
    let by = |key: fn(&Record) -> (i64, (i32, i64))| {
        let mut sorted = records.clone();
        sorted.sort_by_key(key);
        sorted.into_iter().map(|record| record.selection).collect()
    };
    vec![
        ("broker offset".into(), by(|r| (0, r.position))),
        (
            "broker timestamp".into(),
            by(|r| (r.timestamp_ms, r.position)),
        ),
        (
            "BallotCast released_at".into(),
            by(|r| (r.released_at_ms, r.position)),
        ),
    ]
}
