//! The duplicate-cast lock: turns concurrent attempts by one voter away early. It is an
//! optimisation only; the database's unique constraint decides. When Redis is unreachable
//! casting goes on without it, and the fallback is logged and counted.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use kit::redis::{redis, Redis};

#[derive(Debug, thiserror::Error)]
#[error("lock store unavailable: {0}")]
pub struct LockUnavailable(pub String);

#[async_trait]
pub trait CastLock: Send + Sync {
    /// Takes `key` for `ttl` with a fresh token; `None` when someone else holds it.
    async fn acquire(&self, key: &str, ttl: Duration) -> Result<Option<String>, LockUnavailable>;
    /// Releases `key` only if it still holds `token` (a lapsed lock may belong to another).
    async fn release(&self, key: &str, token: &str) -> Result<(), LockUnavailable>;
}

fn fresh_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Redis: `SET key token NX PX ttl`, released by compare-and-delete.
pub struct RedisLock {
    redis: Redis,
}

const COMPARE_AND_DELETE: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

impl RedisLock {
    pub fn connect(url: &str, timeout: Duration) -> anyhow::Result<Self> {
        // Casts come in bursts; a queue for connections would eat the command timeout.
        Ok(Self {
            redis: Redis::connect(url, 64, timeout)?,
        })
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        command: redis::Cmd,
    ) -> Result<T, LockUnavailable> {
        self.redis
            .run(command)
            .await
            .map_err(|e| LockUnavailable(e.0))
    }
}

#[async_trait]
impl CastLock for RedisLock {
    async fn acquire(&self, key: &str, ttl: Duration) -> Result<Option<String>, LockUnavailable> {
        let token = fresh_token();
        let mut command = redis::cmd("SET");
        command
            .arg(key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(ttl.as_millis() as u64);
        let set: Option<String> = self.run(command).await?;
        Ok(set.map(|_| token))
    }

    async fn release(&self, key: &str, token: &str) -> Result<(), LockUnavailable> {
        let mut command = redis::cmd("EVAL");
        command.arg(COMPARE_AND_DELETE).arg(1).arg(key).arg(token);
        self.run::<i64>(command).await.map(drop)
    }
}

/// The embedded default: the same semantics inside one process.
#[derive(Default)]
pub struct MemoryLock {
    held: Mutex<HashMap<String, (String, Instant)>>,
}

#[async_trait]
impl CastLock for MemoryLock {
    async fn acquire(&self, key: &str, ttl: Duration) -> Result<Option<String>, LockUnavailable> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if held.len() > 100_000 {
            held.retain(|_, (_, until)| *until > now);
        }
        if held.get(key).is_some_and(|(_, until)| *until > now) {
            return Ok(None);
        }
        let token = fresh_token();
        held.insert(key.to_owned(), (token.clone(), now + ttl));
        Ok(Some(token))
    }

    async fn release(&self, key: &str, token: &str) -> Result<(), LockUnavailable> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if held.get(key).is_some_and(|(owner, _)| owner == token) {
            held.remove(key);
        }
        Ok(())
    }
}

/// The conformance suite every [`CastLock`] must pass; run on Redis and in memory.
pub async fn conformance(lock: &dyn CastLock) -> anyhow::Result<()> {
    let key = format!("votemesh:conformance:{}", uuid::Uuid::new_v4());
    let token = lock
        .acquire(&key, Duration::from_secs(5))
        .await?
        .ok_or_else(|| anyhow::anyhow!("first acquire"))?;
    anyhow::ensure!(
        lock.acquire(&key, Duration::from_secs(5)).await?.is_none(),
        "held lock was taken twice"
    );
    lock.release(&key, "not the holder").await?;
    anyhow::ensure!(
        lock.acquire(&key, Duration::from_secs(5)).await?.is_none(),
        "released by a stranger"
    );
    lock.release(&key, &token).await?;
    let short = lock.acquire(&key, Duration::from_millis(50)).await?;
    anyhow::ensure!(short.is_some(), "not free after release");
    tokio::time::sleep(Duration::from_millis(120)).await;
    let after = lock.acquire(&key, Duration::from_secs(5)).await?;
    anyhow::ensure!(after.is_some(), "did not lapse");
    // The lapsed holder must not release the new holder's lock.
    lock.release(&key, &short.unwrap_or_default()).await?;
    anyhow::ensure!(
        lock.acquire(&key, Duration::from_secs(5)).await?.is_none(),
        "lapsed holder released it"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_memory_lock_conforms() {
        conformance(&MemoryLock::default()).await.expect("conforms");
    }

    /// Whether `key` could be taken for `ttl` now.
    async fn taken(lock: &MemoryLock, key: &str, ttl: Duration) -> bool {
        lock.acquire(key, ttl).await.expect("ok").is_some()
    }

    #[tokio::test]
    async fn a_held_lock_turns_others_away_until_released_or_lapsed() {
        let lock = MemoryLock::default();
        let token = lock
            .acquire("k", Duration::from_secs(5))
            .await
            .expect("ok")
            .expect("taken");
        assert!(!taken(&lock, "k", Duration::from_secs(5)).await);
        lock.release("k", "someone else").await.expect("ok");
        assert!(
            !taken(&lock, "k", Duration::from_secs(5)).await,
            "not theirs to release"
        );
        lock.release("k", &token).await.expect("ok");
        assert!(taken(&lock, "k", Duration::from_millis(20)).await);
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert!(taken(&lock, "k", Duration::from_secs(5)).await, "lapsed");
    }
}
