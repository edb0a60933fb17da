//! One suite for every lease store, in memory and on Redis: leases lapse and cannot be
//! renewed once lapsed, renewal keeps a lease alive, a sweep names each service it changed
//! once, and two stores on one shared backend see each other's leases.

use std::time::Duration;

use anyhow::ensure;
use proto_gen::registry::v1::Instance;

use crate::store::RegistryStore;

fn instance(service: &str, id: &str) -> Instance {
    Instance {
        service: service.into(),
        instance_id: id.into(),
        address: format!("http://127.0.0.1:1/{id}"),
        metadata: Default::default(),
    }
}

fn ids(instances: &[Instance]) -> Vec<&str> {
    instances.iter().map(|i| i.instance_id.as_str()).collect()
}

/// Runs the suite on `store`; `peer` is a second store on the same backend (for memory, the
/// same store), which must see what the first wrote. `service` keeps runs apart.
pub async fn run(
    store: &dyn RegistryStore,
    peer: &dyn RegistryStore,
    service: &str,
) -> anyhow::Result<()> {
    store
        .upsert(instance(service, "b"), Duration::from_secs(60))
        .await?;
    store
        .upsert(instance(service, "a"), Duration::from_millis(150))
        .await?;
    ensure!(
        ids(&peer.live(service).await?) == ["a", "b"],
        "ordered by id, seen by a peer"
    );
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(60)).await;
        ensure!(
            peer.renew(service, "a").await?,
            "renewal keeps a lease alive"
        );
    }
    ensure!(peer.live(service).await?.len() == 2);
    tokio::time::sleep(Duration::from_millis(250)).await;
    ensure!(
        ids(&store.live(service).await?) == ["b"],
        "a lapsed lease is gone"
    );
    ensure!(!store.renew(service, "a").await?, "and cannot be renewed");
    let changed = store.evict_expired().await?;
    ensure!(
        changed.iter().filter(|s| *s == service).count() == 1,
        "{changed:?}"
    );
    ensure!(
        !peer.evict_expired().await?.iter().any(|s| s == service),
        "named once"
    );
    ensure!(peer.remove(service, "b").await?, "removed");
    ensure!(!store.remove(service, "b").await?, "once");
    ensure!(store.live(service).await?.is_empty());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_store_conforms() {
        let store = crate::MemoryStore::default();
        super::run(&store, &store, "svc").await.expect("conforms");
    }
}
