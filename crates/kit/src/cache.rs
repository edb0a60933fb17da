//! A small time-bounded cache where concurrent misses for one key share a single lookup,
//! so a burst (500 casts by one voter, say) makes one upstream call, not 500.

use std::{
    collections::HashMap,
    future::Future,
    hash::Hash,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Beyond this many entries, expired ones are dropped.
const PRUNE_ABOVE: usize = 100_000;

pub struct SingleFlight<K, V> {
    ttl: Duration,
    ready: Mutex<HashMap<K, (Instant, V)>>,
    inflight: Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
}

impl<K: Eq + Hash + Clone, V: Clone> SingleFlight<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            ready: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
        }
    }

    fn fresh(&self, key: &K) -> Option<V> {
        let ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        ready
            .get(key)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, value)| value.clone())
    }

    /// Drops `key`, so the next read loads afresh (an event said it changed).
    pub fn invalidate(&self, key: &K) {
        self.ready
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// The cached value, or the result of `load`; errors are not cached.
    pub async fn get_or_load<E, F, Fut>(&self, key: &K, load: F) -> Result<V, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.fresh(key) {
            return Ok(value);
        }
        let gate = {
            let mut inflight = self.inflight.lock().unwrap_or_else(|p| p.into_inner());
            inflight.entry(key.clone()).or_default().clone()
        };
        let _turn = gate.lock().await;
        if let Some(value) = self.fresh(key) {
            return Ok(value);
        }
        let loaded = load().await;
        if let Ok(value) = &loaded {
            let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
            if ready.len() > PRUNE_ABOVE {
                let ttl = self.ttl;
                ready.retain(|_, (at, _)| at.elapsed() < ttl);
            }
            ready.insert(key.clone(), (Instant::now(), value.clone()));
        }
        self.inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        loaded
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_burst_of_misses_loads_once() {
        let cache = Arc::new(SingleFlight::<String, u32>::new(Duration::from_secs(5)));
        let loads = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (cache, loads) = (cache.clone(), loads.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_load(&"k".to_owned(), || async {
                            loads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            Ok::<_, ()>(7)
                        })
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("joined"), Ok(7));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn errors_are_not_cached() {
        let cache = SingleFlight::<u8, u8>::new(Duration::from_secs(5));
        assert_eq!(
            cache
                .get_or_load(&1, || async { Err::<u8, &str>("down") })
                .await,
            Err("down")
        );
        assert_eq!(
            cache.get_or_load(&1, || async { Ok::<u8, &str>(3) }).await,
            Ok(3)
        );
    }
}
