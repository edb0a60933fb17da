//! Redis through deadpool-redis, every command bounded by a timeout, for the services that
//! use it (svc-voting's cast lock, svc-result's cache). Callers map the error to their own.

use std::time::Duration;

pub use deadpool_redis::redis;
use deadpool_redis::{Config, Pool, PoolConfig, Runtime};

#[derive(Debug, thiserror::Error)]
#[error("redis unavailable: {0}")]
pub struct RedisUnavailable(pub String);

pub struct Redis {
    pool: Pool,
    timeout: Duration,
}

impl Redis {
    /// A pool of up to `connections`; each command (pool wait included) gets `timeout`.
    pub fn connect(url: &str, connections: usize, timeout: Duration) -> anyhow::Result<Self> {
        let mut config = Config::from_url(url);
        config.pool = Some(PoolConfig::new(connections));
        Ok(Self {
            pool: config.create_pool(Some(Runtime::Tokio1))?,
            timeout,
        })
    }

    pub async fn run<T: redis::FromRedisValue>(
        &self,
        command: redis::Cmd,
    ) -> Result<T, RedisUnavailable> {
        let work = async {
            let mut connection = self
                .pool
                .get()
                .await
                .map_err(|e| RedisUnavailable(e.to_string()))?;
            command
                .query_async::<T>(&mut connection)
                .await
                .map_err(|e| RedisUnavailable(e.to_string()))
        };
        tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| RedisUnavailable("timed out".into()))?
    }
}
