//! The outbox relay: rows written in the same transaction as a change are published to the
//! bus and then marked. Replicas share the work through `FOR UPDATE SKIP LOCKED`; a crash
//! between publish and mark publishes again, which consumers absorb by event id. While the
//! bus is down rows wait, and the relay drains them when it returns.

use std::{sync::Arc, time::Duration};

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, TransactionTrait, Value,
};

use crate::{
    bus::{BusMessage, Publisher},
    db::{placeholder, Migration},
    shutdown::Shutdown,
};

/// The outbox table every relaying service migrates, in the shape [`OutboxRelay`] reads.
pub const TABLE_POSTGRES: &str = "CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    payload BYTEA NOT NULL,
    created_at_ms BIGINT NOT NULL,
    published_at_ms BIGINT
)";

/// [`TABLE_POSTGRES`] for SQLite.
pub const TABLE_SQLITE: &str = "CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    payload BLOB NOT NULL,
    created_at_ms INTEGER NOT NULL,
    published_at_ms INTEGER
)";

/// The outbox is a queue: rows live for milliseconds. Without this, every relay pass scans
/// the dead rows left since the last vacuum, and a long busy run slows down as they pile up.
/// Each relaying service adds it as its own migration `version`.
pub const fn queue_tuning(version: i64) -> Migration {
    Migration {
        version,
        name: "outbox as a queue",
        postgres: QUEUE_TUNING_POSTGRES,
        sqlite: QUEUE_TUNING_SQLITE,
    }
}

const QUEUE_TUNING_POSTGRES: &[&str] = &[
    "CREATE INDEX outbox_waiting ON outbox (created_at_ms) WHERE published_at_ms IS NULL",
    "ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.0, \
     autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0)",
];

/// [`QUEUE_TUNING_POSTGRES`] for SQLite, which has no vacuum settings per table.
const QUEUE_TUNING_SQLITE: &[&str] =
    &["CREATE INDEX outbox_waiting ON outbox (created_at_ms) WHERE published_at_ms IS NULL"];

/// Rows per batch.
const BATCH: u64 = 256;

/// How long a woken relay waits for more commits before it publishes.
const WAKE_GATHER: Duration = Duration::from_millis(5);

/// What happens to a row once it is published.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// Keep it, marked with its publish time (an audit trail).
    Mark,
    /// Delete it (nothing lingers that could pair events up).
    Delete,
}

pub struct OutboxRelay {
    db: DatabaseConnection,
    bus: Arc<dyn Publisher>,
    idle_interval: Duration,
    service: &'static str,
    retention: Retention,
    wake: Arc<tokio::sync::Notify>,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

impl OutboxRelay {
    /// Relays the `outbox` table of `db` (columns id, topic, partition_key, payload,
    /// created_at_ms, published_at_ms).
    pub fn new(
        db: DatabaseConnection,
        bus: Arc<dyn Publisher>,
        idle_interval: Duration,
        service: &'static str,
    ) -> Self {
        Self {
            db,
            bus,
            idle_interval,
            service,
            retention: Retention::Mark,
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Wakes the relay early: a writer of this process calls it after committing outbox
    /// rows, so events leave at once instead of at the next idle tick.
    pub fn waker(&self) -> Arc<tokio::sync::Notify> {
        self.wake.clone()
    }

    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// Publishes one batch; returns how many rows it published.
    pub async fn relay_once(&self) -> anyhow::Result<usize> {
        let backend = self.db.get_database_backend();
        let txn = self.db.begin().await?;
        let select = match backend {
            DatabaseBackend::Postgres => format!(
                "SELECT id, topic, partition_key, payload FROM outbox WHERE published_at_ms IS NULL \
                 ORDER BY created_at_ms LIMIT {BATCH} FOR UPDATE SKIP LOCKED"
            ),
            _ => format!(
                "SELECT id, topic, partition_key, payload FROM outbox WHERE published_at_ms IS NULL \
                 ORDER BY created_at_ms LIMIT {BATCH}"
            ),
        };
        let rows = txn
            .query_all(Statement::from_string(backend, select))
            .await?;
        let mut ids = Vec::with_capacity(rows.len());
        let mut messages = Vec::with_capacity(rows.len());
        for row in &rows {
            ids.push(row.try_get::<String>("", "id")?);
            messages.push(BusMessage {
                topic: row.try_get("", "topic")?,
                key: row.try_get("", "partition_key")?,
                payload: row.try_get("", "payload")?,
            });
        }
        let outcomes = self.bus.publish_all(&messages).await;
        let mut published = Vec::with_capacity(rows.len());
        let mut first_error = None;
        for (id, outcome) in ids.into_iter().zip(outcomes) {
            match outcome {
                Ok(()) => published.push(id),
                // What went out is marked; the rest stays for the next attempt.
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        if let Some(error) = first_error {
            tracing::warn!(service = self.service, %error, "bus unavailable; outbox rows wait");
        }
        if !published.is_empty() {
            let placeholder = |n: usize| placeholder(backend, n);
            let mut values: Vec<Value> = Vec::with_capacity(published.len() + 1);
            let sql = match self.retention {
                Retention::Mark => {
                    values.push(now_ms().into());
                    let ids: Vec<String> =
                        (0..published.len()).map(|i| placeholder(i + 2)).collect();
                    format!(
                        "UPDATE outbox SET published_at_ms = {} WHERE id IN ({})",
                        placeholder(1),
                        ids.join(", ")
                    )
                }
                Retention::Delete => {
                    let ids: Vec<String> =
                        (0..published.len()).map(|i| placeholder(i + 1)).collect();
                    format!("DELETE FROM outbox WHERE id IN ({})", ids.join(", "))
                }
            };
            values.extend(published.iter().map(|id| Value::from(id.clone())));
            txn.execute(Statement::from_sql_and_values(backend, sql, values))
                .await?;
        }
        txn.commit().await?;
        metrics::counter!("votemesh_outbox_published_total", "service" => self.service)
            .increment(published.len() as u64);
        if published.len() < rows.len() {
            anyhow::bail!("bus unavailable");
        }
        Ok(published.len())
    }

    /// Rows not yet published, as the `votemesh_outbox_unpublished` gauge reports.
    pub async fn lag(&self) -> anyhow::Result<i64> {
        let backend = self.db.get_database_backend();
        let row = self
            .db
            .query_one(Statement::from_string(
                backend,
                "SELECT COUNT(*) AS waiting FROM outbox WHERE published_at_ms IS NULL",
            ))
            .await?;
        Ok(row
            .map(|r| r.try_get::<i64>("", "waiting"))
            .transpose()?
            .unwrap_or(0))
    }

    /// Relays until shutdown: at once while there is work, every `idle_interval` otherwise,
    /// backing off while the bus is down.
    pub async fn run(self, shutdown: Shutdown) {
        let mut backoff = self.idle_interval;
        let mut lag_reported: Option<std::time::Instant> = None;
        loop {
            let pause = match self.relay_once().await {
                Ok(n) if n as u64 == BATCH => Duration::ZERO,
                Ok(_) => {
                    backoff = self.idle_interval;
                    self.idle_interval
                }
                Err(error) => {
                    tracing::debug!(service = self.service, %error, "outbox relay retrying");
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    backoff
                }
            };
            if lag_reported.is_none_or(|at| at.elapsed() >= Duration::from_secs(2)) {
                lag_reported = Some(std::time::Instant::now());
                if let Ok(waiting) = self.lag().await {
                    metrics::gauge!("votemesh_outbox_unpublished", "service" => self.service)
                        .set(waiting as f64);
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                // While the bus is down, commits must not turn the back-off into a busy loop;
                // a short gather lets a burst of commits leave in one batch.
                _ = self.wake.notified(), if pause <= self.idle_interval => {
                    tokio::time::sleep(WAKE_GATHER).await;
                }
                _ = shutdown.wait() => return,
            }
        }
    }
}
