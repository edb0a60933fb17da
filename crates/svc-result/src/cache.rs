//! The results cache and its fan-out: every applied batch stores a fresh snapshot and
//! announces it, so a watcher on any replica sees every change. Redis in production
//! (a key per election plus one pub/sub channel); in memory for the embedded default.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use async_trait::async_trait;
use futures::StreamExt;
use kit::redis::{redis, Redis};
use prost::Message;
use proto_gen::result::v1::GetResultsResponse;
use tokio::sync::broadcast;

#[derive(Debug, thiserror::Error)]
#[error("results cache unavailable: {0}")]
pub struct CacheUnavailable(pub String);

#[async_trait]
pub trait ResultCache: Send + Sync {
    async fn get(&self, election_id: &str) -> Result<Option<GetResultsResponse>, CacheUnavailable>;
    /// Stores the snapshot and announces it to every replica.
    async fn put(&self, snapshot: &GetResultsResponse) -> Result<(), CacheUnavailable>;
    /// Snapshots announced from now on, by any replica.
    fn updates(&self) -> broadcast::Receiver<GetResultsResponse>;
}

/// How many announcements a slow watcher may fall behind before it rereads the cache.
const FAN_OUT_BUFFER: usize = 1024;

#[derive(Default)]
pub struct MemoryCache {
    snapshots: Mutex<HashMap<String, GetResultsResponse>>,
    announced: Mutex<Option<broadcast::Sender<GetResultsResponse>>>,
}

impl MemoryCache {
    fn sender(&self) -> broadcast::Sender<GetResultsResponse> {
        self.announced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(|| broadcast::channel(FAN_OUT_BUFFER).0)
            .clone()
    }
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
        let _ = self.sender().send(snapshot.clone());
        Ok(())
    }

    fn updates(&self) -> broadcast::Receiver<GetResultsResponse> {
        self.sender().subscribe()
    }
}

pub struct RedisCache {
    redis: Redis,
    channel: String,
    prefix: String,
    announced: broadcast::Sender<GetResultsResponse>,
}

impl RedisCache {
    /// Connects and starts relaying the channel's announcements to local watchers.
    pub fn connect(url: &str, namespace: &str, timeout: Duration) -> anyhow::Result<Self> {
        let redis = Redis::connect(url, 16, timeout)?;
        let client = redis::Client::open(url)?;
        let (announced, _) = broadcast::channel(FAN_OUT_BUFFER);
        let channel = format!("{namespace}:results:updates");
        tokio::spawn(relay_announcements(
            client,
            channel.clone(),
            announced.clone(),
        ));
        Ok(Self {
            redis,
            channel,
            prefix: format!("{namespace}:results:"),
            announced,
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

/// Subscribes to the channel for as long as the process lives, reconnecting after errors.
async fn relay_announcements(
    client: redis::Client,
    channel: String,
    announced: broadcast::Sender<GetResultsResponse>,
) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if let Err(error) = pubsub.subscribe(&channel).await {
                    tracing::warn!(%error, "results channel subscribe failed");
                } else {
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let payload: Vec<u8> = message.get_payload().unwrap_or_default();
                        if let Ok(snapshot) = GetResultsResponse::decode(payload.as_slice()) {
                            let _ = announced.send(snapshot);
                        }
                    }
                    tracing::warn!("results channel closed; resubscribing");
                }
            }
            Err(error) => tracing::debug!(%error, "results channel unavailable"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
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
        let payload = snapshot.encode_to_vec();
        let mut set = redis::cmd("SET");
        set.arg(format!("{}{}", self.prefix, snapshot.election_id))
            .arg(&payload);
        self.run::<()>(set).await?;
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(&self.channel).arg(&payload);
        self.run::<i64>(publish).await.map(drop)
    }

    fn updates(&self) -> broadcast::Receiver<GetResultsResponse> {
        self.announced.subscribe()
    }
}
