//! The delivery log: its port and the sea-orm adapter for PostgreSQL and SQLite. One row per
//! (event id, channel), unique, so a redelivered event never sends twice.

use async_trait::async_trait;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, QueryResult, Value};

use kit::db::{insert_rows, statement, Migration};

/// How a message travels; `None` records a message nobody is to get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Email,
    Sms,
    None,
}

/// What a message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Verification,
    Confirmation,
    Invitation,
    Reminder,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Sent,
    Failed,
    Dead,
    Skipped,
}

macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal,)* }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text,)* }
            }
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)* _ => None }
            }
        }
    };
}
text_enum!(Channel { Email => "email", Sms => "sms", None => "none", });
text_enum!(Kind {
    Verification => "verification",
    Confirmation => "confirmation",
    Invitation => "invitation",
    Reminder => "reminder",
});
text_enum!(Status {
    Pending => "pending",
    Sent => "sent",
    Failed => "failed",
    Dead => "dead",
    Skipped => "skipped",
});

/// A message to record. `event_id` is the event's id, or for a message fanned out of a
/// request, a key that names the request's purpose and the recipient (see `plan`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    pub event_id: String,
    pub channel: Channel,
    pub kind: Kind,
    pub election_id: String,
    pub user_id: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    /// When the event happened, for the delay metric.
    pub source_at_ms: i64,
}

/// A delivery claimed for sending.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub id: String,
    pub channel: Channel,
    pub kind: Kind,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: u32,
    pub source_at_ms: i64,
}

/// A delivery as the API shows it (the recipient still unmasked).
#[derive(Clone, Debug)]
pub struct DeliveryRow {
    pub id: String,
    pub event_id: String,
    pub channel: Channel,
    pub kind: Kind,
    pub election_id: String,
    pub user_id: String,
    pub recipient: String,
    pub status: Status,
    pub attempts: u32,
    pub last_error: String,
    pub next_attempt_at_ms: i64,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// Which deliveries to list, newest first, after the `before` position.
#[derive(Clone, Debug, Default)]
pub struct DeliveryFilter {
    pub status: Option<Status>,
    pub election_id: Option<String>,
    pub user_id: Option<String>,
    /// (created_at_ms, id) of the last row of the previous page.
    pub before: Option<(i64, String)>,
    pub limit: u64,
}

/// How a send ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Failed for now: try again at `at_ms`, unless the attempts are spent.
    Retry {
        error: String,
        at_ms: i64,
    },
    /// Refused for good.
    Dead {
        error: String,
    },
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Records `rows`, skipping those whose (event id, channel) is known; returns how many
    /// are new. Each may be attempted `attempt_limit` times.
    async fn insert(
        &self,
        rows: &[NewDelivery],
        attempt_limit: u32,
        now_ms: i64,
    ) -> Result<u64, DbErr>;
    /// Up to `limit` due deliveries, each held until `lease_until_ms` and counted as an attempt.
    async fn claim(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u64,
    ) -> Result<Vec<Claimed>, DbErr>;
    /// Records the outcome of the claim that counted attempt `attempt`; `false`, and
    /// nothing changed, when that claim has lapsed and another sender has claimed the row
    /// since (it counted another attempt): the row is theirs now.
    async fn finish(
        &self,
        id: &str,
        attempt: u32,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<bool, DbErr>;
    async fn list(&self, filter: DeliveryFilter) -> Result<Vec<DeliveryRow>, DbErr>;
    /// Moves DEAD deliveries (of one election, when given) back to PENDING with
    /// `extra_attempts` more attempts; returns how many.
    async fn retry_dead(
        &self,
        election_id: Option<&str>,
        extra_attempts: u32,
        now_ms: i64,
    ) -> Result<u64, DbErr>;
}

pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "delivery log",
    statements: &[
        "CREATE TABLE deliveries (
            id TEXT PRIMARY KEY,
            event_id TEXT NOT NULL,
            channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'none')),
            kind TEXT NOT NULL,
            election_id TEXT NOT NULL,
            user_id TEXT NOT NULL,
            recipient TEXT NOT NULL,
            subject TEXT NOT NULL,
            body TEXT NOT NULL,
            status TEXT NOT NULL,
            attempts {bigint} NOT NULL DEFAULT 0,
            attempt_limit {bigint} NOT NULL,
            last_error TEXT NOT NULL DEFAULT '',
            next_attempt_at_ms {bigint} NOT NULL,
            claimed_until_ms {bigint} NOT NULL DEFAULT 0,
            source_at_ms {bigint} NOT NULL,
            created_at_ms {bigint} NOT NULL,
            updated_at_ms {bigint} NOT NULL,
            UNIQUE (event_id, channel)
        )",
        "CREATE INDEX deliveries_due ON deliveries (next_attempt_at_ms)
            WHERE status IN ('pending', 'failed')",
        "CREATE INDEX deliveries_newest ON deliveries (created_at_ms, id)",
        "CREATE INDEX deliveries_by_user ON deliveries (user_id, created_at_ms)",
    ],
    postgres_only: &[],
    sqlite_only: &[],
}];

#[derive(Clone)]
pub struct SeaDeliveryStore {
    db: DatabaseConnection,
}

impl SeaDeliveryStore {
    /// Connects, applies migrations, and returns the store.
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let db = kit::db::connect(url, "svc_notify", max_connections).await?;
        kit::db::migrate(&db, MIGRATIONS).await?;
        Ok(Self { db })
    }

    fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    async fn execute(&self, sql: &str, values: Vec<Value>) -> Result<u64, DbErr> {
        let done = self
            .db
            .execute(statement(self.backend(), sql, values))
            .await?;
        Ok(done.rows_affected())
    }
}

fn insert_values(row: &NewDelivery, attempt_limit: u32, now_ms: i64) -> [Value; 15] {
    let status = if row.channel == Channel::None {
        Status::Skipped
    } else {
        Status::Pending
    };
    [
        uuid::Uuid::new_v4().to_string().into(),
        row.event_id.clone().into(),
        row.channel.as_str().into(),
        row.kind.as_str().into(),
        row.election_id.clone().into(),
        row.user_id.clone().into(),
        row.recipient.clone().into(),
        row.subject.clone().into(),
        row.body.clone().into(),
        status.as_str().into(),
        i64::from(attempt_limit).into(),
        now_ms.into(),
        row.source_at_ms.into(),
        now_ms.into(),
        now_ms.into(),
    ]
}

fn text<T>(row: &QueryResult, column: &str, parse: fn(&str) -> Option<T>) -> Result<T, DbErr> {
    let value: String = row.try_get("", column)?;
    parse(&value).ok_or_else(|| DbErr::Custom(format!("{column}: unknown value {value:?}")))
}

fn attempts(row: &QueryResult) -> Result<u32, DbErr> {
    Ok(row.try_get::<i64>("", "attempts")?.max(0) as u32)
}

fn claimed(row: &QueryResult) -> Result<Claimed, DbErr> {
    Ok(Claimed {
        id: row.try_get("", "id")?,
        channel: text(row, "channel", Channel::parse)?,
        kind: text(row, "kind", Kind::parse)?,
        recipient: row.try_get("", "recipient")?,
        subject: row.try_get("", "subject")?,
        body: row.try_get("", "body")?,
        attempts: attempts(row)?,
        source_at_ms: row.try_get("", "source_at_ms")?,
    })
}

fn listed(row: &QueryResult) -> Result<DeliveryRow, DbErr> {
    Ok(DeliveryRow {
        id: row.try_get("", "id")?,
        event_id: row.try_get("", "event_id")?,
        channel: text(row, "channel", Channel::parse)?,
        kind: text(row, "kind", Kind::parse)?,
        election_id: row.try_get("", "election_id")?,
        user_id: row.try_get("", "user_id")?,
        recipient: row.try_get("", "recipient")?,
        status: text(row, "status", Status::parse)?,
        attempts: attempts(row)?,
        last_error: row.try_get("", "last_error")?,
        next_attempt_at_ms: row.try_get("", "next_attempt_at_ms")?,
        created_at_ms: row.try_get("", "created_at_ms")?,
        updated_at_ms: row.try_get("", "updated_at_ms")?,
    })
}

const LIST_COLUMNS: &str = "id, event_id, channel, kind, election_id, user_id, recipient, \
    status, attempts, last_error, next_attempt_at_ms, created_at_ms, updated_at_ms";

#[async_trait]
impl DeliveryStore for SeaDeliveryStore {
    async fn insert(
        &self,
        rows: &[NewDelivery],
        attempt_limit: u32,
        now_ms: i64,
    ) -> Result<u64, DbErr> {
        let values: Vec<[Value; 15]> = rows
            .iter()
            .map(|row| insert_values(row, attempt_limit, now_ms))
            .collect();
        let inserted = insert_rows(
            &self.db,
            "INSERT INTO deliveries (id, event_id, channel, kind, election_id, user_id, \
             recipient, subject, body, status, attempt_limit, next_attempt_at_ms, source_at_ms, \
             created_at_ms, updated_at_ms)",
            "ON CONFLICT (event_id, channel) DO NOTHING RETURNING id",
            &values,
        )
        .await?;
        Ok(inserted.len() as u64)
    }

    async fn claim(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: u64,
    ) -> Result<Vec<Claimed>, DbErr> {
        // Replicas take disjoint rows on PostgreSQL; SQLite has one writer at a time.
        let lock = match self.backend() {
            DatabaseBackend::Postgres => "FOR UPDATE SKIP LOCKED",
            _ => "",
        };
        let sql = format!(
            "UPDATE deliveries SET claimed_until_ms = $1, attempts = attempts + 1, \
             updated_at_ms = $2 WHERE id IN (SELECT id FROM deliveries \
             WHERE status IN ('pending', 'failed') AND next_attempt_at_ms <= $2 \
             AND claimed_until_ms <= $2 ORDER BY next_attempt_at_ms LIMIT $3 {lock}) \
             RETURNING id, channel, kind, recipient, subject, body, attempts, source_at_ms"
        );
        let values = vec![lease_until_ms.into(), now_ms.into(), (limit as i64).into()];
        let rows = self
            .db
            .query_all(statement(self.backend(), sql, values))
            .await?;
        rows.iter().map(claimed).collect()
    }

    async fn finish(
        &self,
        id: &str,
        attempt: u32,
        outcome: &Outcome,
        now_ms: i64,
    ) -> Result<bool, DbErr> {
        let (sql, mut values): (&str, Vec<Value>) = match outcome {
            // The body may hold a code: it goes once the message is out.
            Outcome::Sent => (
                "UPDATE deliveries SET status = 'sent', body = '', last_error = '', \
                 claimed_until_ms = 0, updated_at_ms = $2 WHERE id = $1",
                vec![id.into(), now_ms.into()],
            ),
            Outcome::Retry { error, at_ms } => (
                "UPDATE deliveries SET status = CASE WHEN attempts >= attempt_limit \
                 THEN 'dead' ELSE 'failed' END, last_error = $3, next_attempt_at_ms = $4, \
                 claimed_until_ms = 0, updated_at_ms = $2 WHERE id = $1",
                vec![
                    id.into(),
                    now_ms.into(),
                    error.clone().into(),
                    (*at_ms).into(),
                ],
            ),
            Outcome::Dead { error } => (
                "UPDATE deliveries SET status = 'dead', last_error = $3, claimed_until_ms = 0, \
                 updated_at_ms = $2 WHERE id = $1",
                vec![id.into(), now_ms.into(), error.clone().into()],
            ),
        };
        // Fenced by the attempt the claim counted, so a sender whose lease lapsed (a stall,
        // an outage) cannot record over the sender that claimed the row after it.
        values.push(i64::from(attempt).into());
        let fenced = format!("{sql} AND attempts = ${}", values.len());
        Ok(self.execute(&fenced, values).await? == 1)
    }

    async fn list(&self, filter: DeliveryFilter) -> Result<Vec<DeliveryRow>, DbErr> {
        let mut conditions = vec!["TRUE".to_owned()];
        let mut values: Vec<Value> = Vec::new();
        let mut bind = |condition: &str, value: Value, values: &mut Vec<Value>| {
            values.push(value);
            conditions.push(condition.replace('?', &format!("${}", values.len())));
        };
        if let Some(status) = filter.status {
            bind("status = ?", status.as_str().into(), &mut values);
        }
        if let Some(election_id) = filter.election_id {
            bind("election_id = ?", election_id.into(), &mut values);
        }
        if let Some(user_id) = filter.user_id {
            bind("user_id = ?", user_id.into(), &mut values);
        }
        if let Some((created, id)) = filter.before {
            bind("created_at_ms <= ?", created.into(), &mut values);
            let n = values.len();
            values.push(id.into());
            conditions.push(format!("(created_at_ms < ${n} OR id < ${})", values.len()));
        }
        values.push((filter.limit as i64).into());
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM deliveries WHERE {} \
             ORDER BY created_at_ms DESC, id DESC LIMIT ${}",
            conditions.join(" AND "),
            values.len()
        );
        let rows = self
            .db
            .query_all(statement(self.backend(), sql, values))
            .await?;
        rows.iter().map(listed).collect()
    }

    async fn retry_dead(
        &self,
        election_id: Option<&str>,
        extra_attempts: u32,
        now_ms: i64,
    ) -> Result<u64, DbErr> {
        let mut sql = "UPDATE deliveries SET status = 'pending', \
            attempt_limit = attempts + $1, next_attempt_at_ms = $2, updated_at_ms = $2 \
            WHERE status = 'dead'"
            .to_owned();
        let mut values: Vec<Value> = vec![i64::from(extra_attempts.max(1)).into(), now_ms.into()];
        if let Some(election_id) = election_id {
            sql.push_str(" AND election_id = $3");
            values.push(election_id.into());
        }
        self.execute(&sql, values).await
    }
}
