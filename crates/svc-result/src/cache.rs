//! The results cache and its fan-out: every applied batch stores a fresh snapshot and
//! announces it, so a watcher on any replica sees every change. Redis in production
//! (a key per election plus one pub/sub channel, relayed into this replica's per-election
//! watch channels); in memory for the embedded default.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use async_trait::async_trait;
use futures::StreamExt;
use kit::{
    redis::{redis, Redis},
    shutdown::Shutdown,
};
use prost::Message;
use proto_gen::result::v1::GetResultsResponse;

use crate::watchers::{ElectionWatch, Watchers};

#[derive(Debug, thiserror::Error)]
#[error("results cache unavailable: {0}")]
pub struct CacheUnavailable(pub String);

#[async_trait]
pub trait ResultCache: Send + Sync {
    async fn get(&self, election_id: &str) -> Result<Option<GetResultsResponse>, CacheUnavailable>;
    /// Stores the snapshot and announces it to the watchers on every replica.
    async fn put(&self, snapshot: &GetResultsResponse) -> Result<(), CacheUnavailable>;
    /// A watcher of one election's snapshots announced from now on, by any replica.
    fn watch(&self, election_id: &str) -> ElectionWatch;
    /// Relays the other replicas' announcements to this one's watchers until the shutdown
    /// starts; nothing to relay in memory.
    fn relay(&self, _shutdown: &Shutdown) {}
}

#[derive(Default)]
pub struct MemoryCache {
    snapshots: Mutex<HashMap<String, GetResultsResponse>>,
    watchers: Watchers,
}

#[async_trait]
impl ResultCache for MemoryCache {
    async fn get(&self, election_id: &str) -> Result<Option<GetResultsResponse>, CacheUnavailable> {
        Ok(self
            .snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(election_id)
            .cloned())
    }

    async fn put(&self, snapshot: &GetResultsResponse) -> Result<(), CacheUnavailable> {
        self.snapshots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(snapshot.election_id.clone(), snapshot.clone());
        self.watchers.announce(snapshot);
        Ok(())
    }

    fn watch(&self, election_id: &str) -> ElectionWatch {
        self.watchers.watch(election_id)
    }
}

pub struct RedisCache {
    redis: Redis,
    client: redis::Client,
    channel: String,
    prefix: String,
    timeout: Duration,
    watchers: Watchers,
}

impl RedisCache {
    /// Connects; announcements from other replicas arrive once [`ResultCache::relay`] runs.
    pub fn connect(url: &str, namespace: &str, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            redis: Redis::connect(url, 16, timeout)?,
            client: redis::Client::open(url)?,
            channel: format!("{namespace}:results:updates"),
            prefix: format!("{namespace}:results:"),
            timeout,
            watchers: Watchers::default(),
        })
    }

    async fn run<T: redis::FromRedisValue>(
        &self,
        command: redis::Cmd,
    ) -> Result<T, CacheUnavailable> {
        self.redis
            .run(command)
            .await
            .map_err(|e| CacheUnavailable(e.0))
    }
}

/// Relays the channel's announcements to `watchers` until the shutdown starts,
/// resubscribing after errors.
async fn relay_announcements(
    client: redis::Client,
    channel: String,
    watchers: Watchers,
    timeout: Duration,
    shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            _ = relay_until_closed(&client, &channel, &watchers, timeout) => {}
            _ = shutdown.wait() => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = shutdown.wait() => return,
        }
    }
}

async fn relay_until_closed(
    client: &redis::Client,
    channel: &str,
    watchers: &Watchers,
    timeout: Duration,
) {
    let subscribed = tokio::time::timeout(timeout, async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(channel).await?;
        Ok::<_, redis::RedisError>(pubsub)
    })
    .await;
    let mut pubsub = match subscribed {
        Ok(Ok(pubsub)) => pubsub,
        Ok(Err(error)) => {
            tracing::debug!(%error, "results channel unavailable");
            return;
        }
        Err(_) => {
            tracing::debug!("results channel did not answer in time");
            return;
        }
    };
    let mut messages = pubsub.on_message();
    while let Some(message) = messages.next().await {
        let payload: Vec<u8> = message.get_payload().unwrap_or_default();
        if let Ok(snapshot) = GetResultsResponse::decode(payload.as_slice()) {
            watchers.announce(&snapshot);
        }
    }
    tracing::warn!("results channel closed; resubscribing");
}

#[async_trait]
impl ResultCache for RedisCache {
    async fn get(&self, election_id: &str) -> Result<Option<GetResultsResponse>, CacheUnavailable> {
        let mut command = redis::cmd("GET");
        command.arg(format!("{}{election_id}", self.prefix));
        let bytes: Option<Vec<u8>> = self.run(command).await?;
        Ok(bytes.and_then(|b| GetResultsResponse::decode(b.as_slice()).ok()))
    }

    async fn put(&self, snapshot: &GetResultsResponse) -> Result<(), CacheUnavailable> {
        // This replica's watchers need no round trip through Redis.
        self.watchers.announce(snapshot);
        let payload = snapshot.encode_to_vec();
        let mut set = redis::cmd("SET");
        set.arg(format!("{}{}", self.prefix, snapshot.election_id))
            .arg(&payload);
        self.run::<()>(set).await?;
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(&self.channel).arg(&payload);
        self.run::<i64>(publish).await.map(drop)
    }

    fn watch(&self, election_id: &str) -> ElectionWatch {
        self.watchers.watch(election_id)
    }

    fn relay(&self, shutdown: &Shutdown) {
        shutdown.spawn(
            "results relay",
            relay_announcements(
                self.client.clone(),
                self.channel.clone(),
                self.watchers.clone(),
                self.timeout,
                shutdown.clone(),
            ),
        );
    }
}
