//! The outbox relay: rows written in the same transaction as a change are published to the
//! bus and then marked. Replicas share the work through `FOR UPDATE SKIP LOCKED`; a crash
//! between publish and mark publishes again, which consumers absorb by event id. While the
//! bus is down rows wait, and the relay drains them when it returns.

use std::{sync::Arc, time::Duration};

use rand::seq::SliceRandom;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, TransactionTrait, Value,
};

use crate::time::now_ms;
use crate::{
    bus::{Event, Publisher},
    db::{insert_rows, placeholders, statement, Migration},
    shutdown::Shutdown,
};

/// The outbox table every relaying service migrates, in the shape [`OutboxRelay`] reads and
/// [`append`] writes (dialect tokens as in [`Migration`]).
pub const TABLE: &str = "CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    topic TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    payload {blob} NOT NULL,
    created_at_ms {bigint} NOT NULL,
    published_at_ms {bigint}
)";

/// The outbox is a queue: rows live for milliseconds. Without this, every relay pass scans
/// the dead rows left since the last vacuum, and a long busy run slows down as they pile up.
/// Each relaying service adds it as its own migration `version`.
pub const fn queue_tuning(version: i64) -> Migration {
    Migration {
        version,
        name: "outbox as a queue",
        statements: &[
            "CREATE INDEX outbox_waiting ON outbox (created_at_ms) WHERE published_at_ms IS NULL",
        ],
        // SQLite has no vacuum settings per table.
        postgres_only: &[
            "ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.0, \
             autovacuum_vacuum_threshold = 5000, autovacuum_vacuum_cost_delay = 0)",
        ],
        sqlite_only: &[],
    }
}

/// Writes `events` in the caller's transaction, so they are published if and only if the
/// change they report commits. Each row carries the time it was written, and the relay
/// publishes in that order.
pub async fn append(txn: &impl ConnectionTrait, events: &[Event]) -> Result<(), DbErr> {
    insert(txn, events.iter(), now_ms()).await
}

/// [`append`] for events that must not be linkable to each other or to when they were
/// written (a cast's ballot and vote; see docs/ballot-secrecy.md): no creation time (0),
/// and the rows go in shuffled, so their physical order says nothing either.
pub async fn append_unlinkable(txn: &impl ConnectionTrait, events: &[Event]) -> Result<(), DbErr> {
    let mut shuffled: Vec<&Event> = events.iter().collect();
    shuffled.shuffle(&mut rand::thread_rng());
    insert(txn, shuffled, 0).await
}

/// One multi-row INSERT for all of `events`.
async fn insert<'a>(
    txn: &impl ConnectionTrait,
    events: impl IntoIterator<Item = &'a Event>,
    created_at_ms: i64,
) -> Result<(), DbErr> {
    let rows: Vec<[Value; 5]> = events
        .into_iter()
        .map(|event| {
            [
                event.id.clone().into(),
                event.topic.clone().into(),
                event.key.clone().into(),
                event.payload.clone().into(),
                created_at_ms.into(),
            ]
        })
        .collect();
    insert_rows(
        txn,
        "INSERT INTO outbox (id, topic, partition_key, payload, created_at_ms)",
        "",
        &rows,
    )
    .await?;
    Ok(())
}

/// Rows per batch.
const BATCH: u64 = 1024;

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
        // SQLite's single writer needs no row locks.
        let lock = match backend {
            DatabaseBackend::Postgres => "FOR UPDATE SKIP LOCKED",
            _ => "",
        };
        let select = format!(
            "SELECT id, topic, partition_key, payload FROM outbox WHERE published_at_ms IS NULL \
             ORDER BY created_at_ms LIMIT {BATCH} {lock}"
        );
        let events = txn
            .query_all(statement(backend, select, []))
            .await?
            .iter()
            .map(|row| {
                Ok(Event {
                    id: row.try_get("", "id")?,
                    topic: row.try_get("", "topic")?,
                    key: row.try_get("", "partition_key")?,
                    payload: row.try_get("", "payload")?,
                })
            })
            .collect::<Result<Vec<Event>, DbErr>>()?;
        let outcomes = self.bus.publish_all(&events).await;
        let mut published: Vec<Value> = Vec::with_capacity(events.len());
        let mut first_error = None;
        for (event, outcome) in events.iter().zip(outcomes) {
            match outcome {
                Ok(()) => published.push(event.id.clone().into()),
                // What went out is marked; the rest stays for the next attempt.
                Err(error) => {
                    first_error.get_or_insert(error);
                }
            }
        }
        if let Some(error) = first_error {
            tracing::warn!(service = self.service, %error, "bus unavailable; outbox rows wait");
        }
        let count = published.len();
        if count > 0 {
            let done = match self.retention {
                Retention::Mark => statement(
                    backend,
                    format!(
                        "UPDATE outbox SET published_at_ms = $1 WHERE id IN ({})",
                        placeholders(2, count)
                    ),
                    std::iter::once(now_ms().into()).chain(published),
                ),
                Retention::Delete => statement(
                    backend,
                    format!(
                        "DELETE FROM outbox WHERE id IN ({})",
                        placeholders(1, count)
                    ),
                    published,
                ),
            };
            txn.execute(done).await?;
        }
        txn.commit().await?;
        metrics::counter!("votemesh_outbox_published_total", "service" => self.service)
            .increment(count as u64);
        if count < events.len() {
            anyhow::bail!("bus unavailable");
        }
        Ok(count)
    }

    /// Rows not yet published, as the `votemesh_outbox_unpublished` gauge reports.
    pub async fn lag(&self) -> anyhow::Result<u64> {
        Ok(crate::db::count(
            &self.db,
            "SELECT COUNT(*) FROM outbox WHERE published_at_ms IS NULL",
            [],
        )
        .await?)
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

#[cfg(test)]
mod tests {
    use sea_orm::Database;

    use super::*;
    use crate::bus::{InProcessBus, StartAt, SubscribeOptions, Subscription};

    fn event(n: u8) -> Event {
        Event {
            id: format!("event-{n}"),
            topic: "t".into(),
            key: "election".into(),
            payload: vec![n],
        }
    }

    #[tokio::test]
    async fn appended_events_are_relayed_once_and_unlinkable_ones_carry_no_time() {
        let db = Database::connect("sqlite::memory:").await.expect("sqlite");
        let schema = [
            Migration {
                version: 1,
                name: "outbox",
                statements: &[TABLE],
                postgres_only: &[],
                sqlite_only: &[],
            },
            queue_tuning(2),
        ];
        crate::db::migrate(&db, &schema).await.expect("migrated");
        let txn = db.begin().await.expect("begin");
        append(&txn, &[event(1)]).await.expect("appended");
        append_unlinkable(&txn, &[event(2), event(3)])
            .await
            .expect("appended");
        txn.commit().await.expect("commit");

        let times = db
            .query_all(statement(
                db.get_database_backend(),
                "SELECT created_at_ms FROM outbox ORDER BY id",
                [],
            ))
            .await
            .expect("rows")
            .iter()
            .map(|row| row.try_get::<i64>("", "created_at_ms").expect("time"))
            .collect::<Vec<_>>();
        assert!(times[0] > 0, "a plain append is stamped: {times:?}");
        assert_eq!(times[1..], [0, 0], "unlinkable rows carry no time");

        let bus = Arc::new(InProcessBus::default());
        let relay = OutboxRelay::new(db, bus.clone(), Duration::from_secs(1), "test")
            .with_retention(Retention::Delete);
        assert_eq!(relay.relay_once().await.expect("relayed"), 3);
        assert_eq!(relay.relay_once().await.expect("nothing left"), 0);
        assert_eq!(relay.lag().await.expect("lag"), 0);
        let mut subscription = bus.subscription(&SubscribeOptions {
            group: "g".into(),
            topics: vec!["t".into()],
            start_at: StartAt::Earliest,
        });
        let mut payloads: Vec<u8> = subscription
            .next_batch(10, Duration::from_millis(100))
            .await
            .expect("delivered")
            .iter()
            .map(|delivery| delivery.payload[0])
            .collect();
        payloads.sort_unstable();
        assert_eq!(payloads, [1, 2, 3], "each event published once");
    }
}
