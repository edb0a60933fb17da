//! Where leases live. The in-memory store is the embedded default; the Redis store
//! (`redis_store.rs`) lets several registry replicas serve one view.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use proto_gen::registry::v1::Instance;

/// The store could not be reached (only a shared store fails).
#[derive(Debug, thiserror::Error)]
#[error("registry store unavailable: {0}")]
pub struct Unavailable(pub String);

pub type StoreResult<T> = Result<T, Unavailable>;

#[async_trait]
pub trait RegistryStore: Send + Sync {
    /// Inserts or replaces an instance with a lease ending `ttl` from now.
    async fn upsert(&self, instance: Instance, ttl: Duration) -> StoreResult<()>;
    /// Extends a live lease by its original length; false when the instance is unknown.
    async fn renew(&self, service: &str, instance_id: &str) -> StoreResult<bool>;
    /// Removes an instance; true when it was there.
    async fn remove(&self, service: &str, instance_id: &str) -> StoreResult<bool>;
    /// The instances whose leases have not lapsed, ordered by id.
    async fn live(&self, service: &str) -> StoreResult<Vec<Instance>>;
    /// Drops lapsed leases and names the services that changed.
    async fn evict_expired(&self) -> StoreResult<Vec<String>>;
}

struct Lease {
    instance: Instance,
    ttl: Duration,
    expires: Instant,
}

#[derive(Default)]
pub struct MemoryStore {
    services: Mutex<HashMap<String, BTreeMap<String, Lease>>>,
}

impl MemoryStore {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, BTreeMap<String, Lease>>) -> R) -> R {
        // A poisoned lock only means another call panicked mid-update of plain data.
        let mut guard = match self.services.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }
}

#[async_trait]
impl RegistryStore for MemoryStore {
    async fn upsert(&self, instance: Instance, ttl: Duration) -> StoreResult<()> {
        self.with(|services| {
            services
                .entry(instance.service.clone())
                .or_default()
                .insert(
                    instance.instance_id.clone(),
                    Lease {
                        instance,
                        ttl,
                        expires: Instant::now() + ttl,
                    },
                );
        });
        Ok(())
    }

    async fn renew(&self, service: &str, instance_id: &str) -> StoreResult<bool> {
        Ok(self.with(|services| {
            let now = Instant::now();
            match services
                .get_mut(service)
                .and_then(|s| s.get_mut(instance_id))
            {
                Some(lease) if lease.expires > now => {
                    lease.expires = now + lease.ttl;
                    true
                }
                _ => false,
            }
        }))
    }

    async fn remove(&self, service: &str, instance_id: &str) -> StoreResult<bool> {
        Ok(self.with(|services| {
            services
                .get_mut(service)
                .and_then(|s| s.remove(instance_id))
                .is_some()
        }))
    }

    async fn live(&self, service: &str) -> StoreResult<Vec<Instance>> {
        Ok(self.with(|services| {
            let now = Instant::now();
            services
                .get(service)
                .map(|leases| {
                    leases
                        .values()
                        .filter(|lease| lease.expires > now)
                        .map(|lease| lease.instance.clone())
                        .collect()
                })
                .unwrap_or_default()
        }))
    }

    async fn evict_expired(&self) -> StoreResult<Vec<String>> {
        Ok(self.with(|services| {
            let now = Instant::now();
            let mut changed = Vec::new();
            for (service, leases) in services.iter_mut() {
                let before = leases.len();
                leases.retain(|id, lease| {
                    let live = lease.expires > now;
                    if !live {
                        tracing::info!(%service, instance_id = %id, "lease lapsed; evicted");
                    }
                    live
                });
                if leases.len() != before {
                    changed.push(service.clone());
                }
            }
            changed
        }))
    }
}
