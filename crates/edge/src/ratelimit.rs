//! Keyed token buckets: per client IP, per user, and a stricter one for credentials.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Beyond this many keys, full (idle) buckets are dropped.
const PRUNE_ABOVE: usize = 50_000;

struct Bucket {
    tokens: f64,
    refreshed: Instant,
}

pub struct Buckets {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Buckets {
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self {
            per_second: per_second.max(f64::MIN_POSITIVE),
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `key`, or says how long until one is available.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.refreshed).as_secs_f64() * rate < burst
            });
        }
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            refreshed: now,
        });
        let elapsed = now.duration_since(bucket.refreshed).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.refreshed = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (1.0 - bucket.tokens) / self.per_second,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_cut_off_per_key_and_refills() {
        let buckets = Buckets::new(20.0, 3.0);
        for _ in 0..3 {
            assert!(buckets.take("a").is_ok());
        }
        let wait = buckets.take("a").expect_err("burst spent");
        assert!(wait <= Duration::from_millis(50));
        assert!(buckets.take("b").is_ok(), "another key has its own bucket");
        std::thread::sleep(Duration::from_millis(60));
        assert!(buckets.take("a").is_ok(), "refilled");
    }
}
