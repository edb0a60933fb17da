//! Where leases live. The in-memory store is the default; the trait leaves room for a shared
//! backend (Redis) so several registry replicas can serve one view.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use proto_gen::registry::v1::Instance;

#[async_trait]
pub trait RegistryStore: Send + Sync {
    /// Inserts or replaces an instance with a lease ending `ttl` from now.
    async fn upsert(&self, instance: Instance, ttl: Duration);
    /// Extends a live lease by its original length; false when the instance is unknown.
    async fn renew(&self, service: &str, instance_id: &str) -> bool;
    /// Removes an instance; true when it was there.
    async fn remove(&self, service: &str, instance_id: &str) -> bool;
    /// The instances whose leases have not lapsed, ordered by id.
    async fn live(&self, service: &str) -> Vec<Instance>;
    /// Drops lapsed leases and names the services that changed.
    async fn evict_expired(&self) -> Vec<String>;
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
    async fn upsert(&self, instance: Instance, ttl: Duration) {
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
    }

    async fn renew(&self, service: &str, instance_id: &str) -> bool {
        self.with(|services| {
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
        })
    }

    async fn remove(&self, service: &str, instance_id: &str) -> bool {
        self.with(|services| {
            services
                .get_mut(service)
                .and_then(|s| s.remove(instance_id))
                .is_some()
        })
    }

    async fn live(&self, service: &str) -> Vec<Instance> {
        self.with(|services| {
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
        })
    }

    async fn evict_expired(&self) -> Vec<String> {
        self.with(|services| {
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(id: &str) -> Instance {
        Instance {
            service: "svc".into(),
            instance_id: id.into(),
            address: format!("http://127.0.0.1:1/{id}"),
            metadata: Default::default(),
        }
    }

    #[tokio::test]
    async fn lapsed_leases_vanish_and_cannot_be_renewed() {
        let store = MemoryStore::default();
        store.upsert(instance("a"), Duration::from_millis(50)).await;
        store.upsert(instance("b"), Duration::from_secs(60)).await;
        assert_eq!(store.live("svc").await.len(), 2);
        tokio::time::sleep(Duration::from_millis(80)).await;
        let live: Vec<_> = store
            .live("svc")
            .await
            .into_iter()
            .map(|i| i.instance_id)
            .collect();
        assert_eq!(live, vec!["b"]);
        assert!(!store.renew("svc", "a").await);
        assert_eq!(store.evict_expired().await, vec!["svc".to_owned()]);
        assert!(store.evict_expired().await.is_empty());
    }

    #[tokio::test]
    async fn renewal_keeps_a_lease_alive() {
        let store = MemoryStore::default();
        store
            .upsert(instance("a"), Duration::from_millis(100))
            .await;
        for _ in 0..4 {
            tokio::time::sleep(Duration::from_millis(40)).await;
            assert!(store.renew("svc", "a").await);
        }
        assert_eq!(store.live("svc").await.len(), 1);
    }
}
