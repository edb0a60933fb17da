//! Keyed token buckets with bounded memory: the edge's per client IP, per user and
//! credentials limits, and svc-user's per-account sign-in throttle.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

/// Beyond this many keys, full (idle) buckets are dropped.
const PRUNE_ABOVE: usize = 50_000;
/// The most keys kept, however many are busy: past it the least recently used half goes, so
/// a flood from many addresses costs bounded memory (a forgotten key starts with a full
/// burst, which only ever lets a caller through a little sooner).
const KEEP_AT_MOST: usize = 200_000;

struct Bucket {
    tokens: f64,
    refreshed: Instant,
}

pub struct Buckets {
    per_second: f64,
    burst: f64,
    buckets: Mutex<Held>,
}

/// The buckets, and how many there may be before the next sweep: twice what the last sweep
/// left, so sweeping costs O(1) per call however many keys are busy.
struct Held {
    map: HashMap<String, Bucket>,
    sweep_at: usize,
}

impl Buckets {
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self {
            per_second: per_second.max(f64::MIN_POSITIVE),
            burst: burst.max(1.0),
            buckets: Mutex::new(Held {
                map: HashMap::new(),
                sweep_at: PRUNE_ABOVE,
            }),
        }
    }

    /// Drops the full (idle) buckets, then, past [`KEEP_AT_MOST`], the least recently used
    /// half.
    fn sweep(&self, map: &mut HashMap<String, Bucket>, now: Instant) {
        let (rate, burst) = (self.per_second, self.burst);
        map.retain(|_, b| b.tokens + now.duration_since(b.refreshed).as_secs_f64() * rate < burst);
        if map.len() > KEEP_AT_MOST {
            let mut ages: Vec<Instant> = map.values().map(|b| b.refreshed).collect();
            let (_, median, _) = ages.select_nth_unstable(map.len() / 2);
            let cutoff = *median;
            map.retain(|_, b| b.refreshed > cutoff);
        }
    }

    /// Whether `key` has a token, without taking it: for a limit charged only by outcome,
    /// such as failed sign-ins, checked before the attempt and taken after it fails.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        let held = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(bucket) = held.map.get(key) else {
            return Ok(());
        };
        let elapsed = Instant::now()
            .duration_since(bucket.refreshed)
            .as_secs_f64();
        let tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        match tokens >= 1.0 {
            true => Ok(()),
            false => Err(self.wait_for_one(tokens)),
        }
    }

    fn wait_for_one(&self, tokens: f64) -> Duration {
        // A rate near zero means "never": a wait too long for a Duration.
        Duration::try_from_secs_f64((1.0 - tokens) / self.per_second).unwrap_or(Duration::MAX)
    }

    /// How many keys are held: what the buckets cost in memory.
    pub fn len(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes one token for `key`, or says how long until one is available.
    pub fn take(&self, key: &str) -> Result<(), Duration> {
        let now = Instant::now();
        let mut held = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if held.map.len() > held.sweep_at {
            self.sweep(&mut held.map, now);
            held.sweep_at = (held.map.len() * 2).max(PRUNE_ABOVE);
        }
        let bucket = held.map.entry(key.to_owned()).or_insert(Bucket {
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
            Err(self.wait_for_one(bucket.tokens))
        }
    }
}

/// The key a client address is limited under: an IPv4 address, or an IPv6 address's /64,
/// the block one subscriber usually holds whole, so rotating addresses within it gains
/// nothing.
pub fn client_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_share_their_64_and_mapped_ipv4_is_ipv4() {
        let key = |text: &str| client_key(text.parse().expect("an address"));
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
    }

    #[test]
    fn memory_stays_bounded_under_a_flood_of_busy_keys() {
        // A bucket that never refills stays busy, so only the hard bound can drop it.
        let buckets = Buckets::new(f64::MIN_POSITIVE, 1.0);
        for i in 0..(KEEP_AT_MOST + 10) {
            let _ = buckets.take(&i.to_string());
        }
        for i in 0..(3 * KEEP_AT_MOST) {
            let _ = buckets.take(&format!("more{i}"));
        }
        let held = buckets.buckets.lock().expect("lock").map.len();
        assert!(held <= 2 * KEEP_AT_MOST, "{held} keys held");
        assert!(
            buckets.take("fresh").is_ok(),
            "a new caller still gets its burst"
        );
    }

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

    #[test]
    fn a_check_takes_nothing_and_says_when_the_bucket_is_empty() {
        let buckets = Buckets::new(f64::MIN_POSITIVE, 2.0);
        for _ in 0..5 {
            assert!(buckets.check("a").is_ok(), "checking spends nothing");
        }
        assert!(buckets.is_empty(), "nor holds a key");
        assert!(buckets.take("a").is_ok());
        assert!(buckets.check("a").is_ok(), "one left");
        assert!(buckets.take("a").is_ok());
        assert!(buckets.check("a").is_err(), "spent");
        assert!(buckets.take("a").is_err());
        assert_eq!(buckets.len(), 1);
    }
}
