//! Redis through deadpool-redis, every command bounded by a timeout, for the services that
//! use it (svc-voting's cast lock, svc-result's cache, the registry). Callers map the error to
//! their own.
//!
//! A deadpool-redis connection is multiplexed: it pipelines every concurrent command over one
//! socket. Taking it from the pool for each command would cost a health check (UNWATCH and
//! PING, a round trip) per command, doubling the round trips of every cast. So one connection
//! is taken from the pool, health-checked once, and shared by every command until one fails;
//! the next command then takes (and checks) a fresh one. No caller uses WATCH, the one kind of
//! state a shared connection could leak between callers.

use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

pub use deadpool_redis::redis;
use deadpool_redis::{redis::aio::MultiplexedConnection, Config, Pool, PoolConfig, Runtime};

#[derive(Debug, thiserror::Error)]
#[error("redis unavailable: {0}")]
pub struct RedisUnavailable(pub String);

pub struct Redis {
    pool: Pool,
    timeout: Duration,
    /// The connection commands share while it works.
    shared: Mutex<Option<MultiplexedConnection>>,
}

impl Redis {
    /// A pool of up to `connections` (fresh ones are taken from it when the shared one
    /// fails); each command (connecting included) gets `timeout`.
    pub fn connect(url: &str, connections: usize, timeout: Duration) -> anyhow::Result<Self> {
        let mut config = Config::from_url(url);
        config.pool = Some(PoolConfig::new(connections));
        Ok(Self {
            pool: config.create_pool(Some(Runtime::Tokio1))?,
            timeout,
            shared: Mutex::new(None),
        })
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The shared connection, or a fresh one from the pool (checked there) when none works.
    async fn connection(&self) -> Result<MultiplexedConnection, RedisUnavailable> {
        if let Some(connection) = self.slot().clone() {
            return Ok(connection);
        }
        let pooled = self
            .pool
            .get()
            .await
            .map_err(|e| RedisUnavailable(e.to_string()))?;
        let connection = deadpool_redis::Connection::take(pooled);
        *self.slot() = Some(connection.clone());
        Ok(connection)
    }

    pub async fn run<T: redis::FromRedisValue>(
        &self,
        command: redis::Cmd,
    ) -> Result<T, RedisUnavailable> {
        let work = async {
            let mut connection = self.connection().await?;
            command
                .query_async::<T>(&mut connection)
                .await
                .map_err(|e| RedisUnavailable(e.to_string()))
        };
        let outcome = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| RedisUnavailable("timed out".into()))
            .and_then(|outcome| outcome);
        if outcome.is_err() {
            // A refused or lost connection, or none in time: the next command starts afresh
            // instead of waiting on this one again. (A command the server itself refused
            // costs a reconnect too; none of the callers sends one in normal operation.)
            *self.slot() = None;
        }
        outcome
    }
}
