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
    inflight: Mutex<HashMap<K, Gate<V>>>,
}

/// One key's lookup in flight: callers queue on it, and the one that loads leaves what it
/// found for those queued behind it, kept in the cache or not.
type Gate<V> = Arc<tokio::sync::Mutex<Option<V>>>;

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
        self.get_or_load_keeping(key, |_| true, load).await
    }

    /// [`get_or_load`](Self::get_or_load), caching a loaded value only when `keep` says so.
    /// A value not kept is still shared with the callers that waited on the same lookup
    /// (it is as fresh for them as a lookup of their own), but the next caller loads again.
    pub async fn get_or_load_keeping<E, F, Fut>(
        &self,
        key: &K,
        keep: impl Fn(&V) -> bool,
        load: F,
    ) -> Result<V, E>
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
        let mut shared = gate.lock().await;
        if let Some(value) = shared.clone().or_else(|| self.fresh(key)) {
            return Ok(value);
        }
        let loaded = load().await;
        if let Ok(value) = &loaded {
            *shared = Some(value.clone());
            if keep(value) {
                self.store(key, value);
            }
        }
        self.inflight
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        loaded
    }

    fn store(&self, key: &K, value: &V) {
        let mut ready = self.ready.lock().unwrap_or_else(|p| p.into_inner());
        if ready.len() > PRUNE_ABOVE {
            let ttl = self.ttl;
            ready.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        ready.insert(key.clone(), (Instant::now(), value.clone()));
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

    #[tokio::test]
    async fn values_not_kept_are_loaded_again() {
        let cache = SingleFlight::<u8, bool>::new(Duration::from_secs(5));
        let loads = AtomicUsize::new(0);
        let load = |value: bool| {
            let loads = &loads;
            move || async move {
                loads.fetch_add(1, Ordering::SeqCst);
                Ok::<_, ()>(value)
            }
        };
        let keep_true = |value: &bool| *value;
        assert_eq!(
            cache.get_or_load_keeping(&1, keep_true, load(false)).await,
            Ok(false)
        );
        assert_eq!(
            cache.get_or_load_keeping(&1, keep_true, load(true)).await,
            Ok(true)
        );
        assert_eq!(loads.load(Ordering::SeqCst), 2, "false was not cached");
        assert_eq!(
            cache.get_or_load_keeping(&1, keep_true, load(false)).await,
            Ok(true)
        );
        assert_eq!(loads.load(Ordering::SeqCst), 2, "true was cached");
    }

    #[tokio::test]
    async fn a_burst_shares_one_lookup_even_when_it_is_not_kept() {
        let cache = Arc::new(SingleFlight::<String, u32>::new(Duration::from_secs(5)));
        let loads = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let (cache, loads) = (cache.clone(), loads.clone());
                tokio::spawn(async move {
                    cache
                        .get_or_load_keeping(
                            &"k".to_owned(),
                            |_| false,
                            || async {
                                loads.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                Ok::<_, ()>(7)
                            },
                        )
                        .await
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.expect("joined"), Ok(7));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "the waiters shared it");
        cache
            .get_or_load_keeping(
                &"k".to_owned(),
                |_| false,
                || async {
                    loads.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, ()>(8)
                },
            )
            .await
            .expect("loaded");
        assert_eq!(loads.load(Ordering::SeqCst), 2, "but it was not kept");
    }
}
