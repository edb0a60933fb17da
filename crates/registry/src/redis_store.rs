//! Leases in Redis, so several registry replicas serve one view and a restarted replica
//! loses nothing. Each lease is a key that expires with it (`PX`), holding its length and the
//! encoded instance; a set per service names its instances and a set names the services, so
//! a sweep finds the leases Redis has let lapse.

use std::time::Duration;

use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD_NO_PAD, Engine};
use kit::redis::{redis, Redis};
use prost::Message;
use proto_gen::registry::v1::Instance;

use crate::store::{RegistryStore, StoreResult, Unavailable};

pub struct RedisStore {
    redis: Redis,
    namespace: String,
}

impl From<kit::redis::RedisUnavailable> for Unavailable {
    fn from(error: kit::redis::RedisUnavailable) -> Self {
        Unavailable(error.to_string())
    }
}

impl RedisStore {
    pub fn connect(url: &str, namespace: &str, timeout: Duration) -> anyhow::Result<Self> {
        Ok(Self {
            redis: Redis::connect(url, 8, timeout)?,
            namespace: namespace.to_owned(),
        })
    }

    fn services_key(&self) -> String {
        format!("{}:services", self.namespace)
    }

    fn members_key(&self, service: &str) -> String {
        format!("{}:members:{service}", self.namespace)
    }

    fn lease_key(&self, service: &str, instance_id: &str) -> String {
        format!("{}:lease:{service}:{instance_id}", self.namespace)
    }

    /// Each member of `service` with its lease, `None` where the lease has lapsed.
    async fn leases(&self, service: &str) -> StoreResult<Vec<(String, Option<Instance>)>> {
        let mut ids: Vec<String> = self
            .redis
            .run(
                redis::cmd("SMEMBERS")
                    .arg(self.members_key(service))
                    .clone(),
            )
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        ids.sort();
        let keys: Vec<String> = ids.iter().map(|id| self.lease_key(service, id)).collect();
        let values: Vec<Option<String>> = self
            .redis
            .run(redis::cmd("MGET").arg(&keys).clone())
            .await?;
        Ok(ids
            .into_iter()
            .zip(values)
            .map(|(id, value)| (id, value.and_then(|v| decode(&v).map(|(_, i)| i))))
            .collect())
    }
}

/// A lease's value: its length in milliseconds and the instance.
fn encode(ttl: Duration, instance: &Instance) -> String {
    let bytes = instance.encode_to_vec();
    format!("{}:{}", ttl.as_millis(), STANDARD_NO_PAD.encode(bytes))
}

fn decode(value: &str) -> Option<(u64, Instance)> {
    let (ttl, encoded) = value.split_once(':')?;
    let bytes = STANDARD_NO_PAD.decode(encoded).ok()?;
    Some((ttl.parse().ok()?, Instance::decode(bytes.as_slice()).ok()?))
}

#[async_trait]
impl RegistryStore for RedisStore {
    async fn upsert(&self, instance: Instance, ttl: Duration) -> StoreResult<()> {
        let (service, id) = (instance.service.clone(), instance.instance_id.clone());
        let lease = redis::cmd("SET")
            .arg(self.lease_key(&service, &id))
            .arg(encode(ttl, &instance))
            .arg("PX")
            .arg(ttl.as_millis().max(1) as u64)
            .clone();
        self.redis.run::<()>(lease).await?;
        let member = redis::cmd("SADD")
            .arg(self.members_key(&service))
            .arg(&id)
            .clone();
        self.redis.run::<()>(member).await?;
        let known = redis::cmd("SADD")
            .arg(self.services_key())
            .arg(&service)
            .clone();
        self.redis.run::<()>(known).await?;
        Ok(())
    }

    async fn renew(&self, service: &str, instance_id: &str) -> StoreResult<bool> {
        let key = self.lease_key(service, instance_id);
        let value: Option<String> = self.redis.run(redis::cmd("GET").arg(&key).clone()).await?;
        let Some((ttl, _)) = value.as_deref().and_then(decode) else {
            return Ok(false);
        };
        let renewed: i64 = self
            .redis
            .run(redis::cmd("PEXPIRE").arg(&key).arg(ttl.max(1)).clone())
            .await?;
        Ok(renewed == 1)
    }

    async fn remove(&self, service: &str, instance_id: &str) -> StoreResult<bool> {
        let removed: i64 = self
            .redis
            .run(
                redis::cmd("DEL")
                    .arg(self.lease_key(service, instance_id))
                    .clone(),
            )
            .await?;
        let member = redis::cmd("SREM")
            .arg(self.members_key(service))
            .arg(instance_id)
            .clone();
        self.redis.run::<()>(member).await?;
        Ok(removed == 1)
    }

    async fn live(&self, service: &str) -> StoreResult<Vec<Instance>> {
        Ok(self
            .leases(service)
            .await?
            .into_iter()
            .filter_map(|(_, instance)| instance)
            .collect())
    }

    async fn evict_expired(&self) -> StoreResult<Vec<String>> {
        let services: Vec<String> = self
            .redis
            .run(redis::cmd("SMEMBERS").arg(self.services_key()).clone())
            .await?;
        let mut changed = Vec::new();
        for service in services {
            let lapsed: Vec<String> = self
                .leases(&service)
                .await?
                .into_iter()
                .filter(|(_, instance)| instance.is_none())
                .map(|(id, _)| id)
                .collect();
            if lapsed.is_empty() {
                continue;
            }
            let forget = redis::cmd("SREM")
                .arg(self.members_key(&service))
                .arg(&lapsed)
                .clone();
            let forgotten: i64 = self.redis.run(forget).await?;
            // Another replica's sweep may have forgotten them first; only one says so.
            if forgotten > 0 {
                tracing::info!(%service, instances = ?lapsed, "leases lapsed; evicted");
                changed.push(service);
            }
        }
        Ok(changed)
    }
}
