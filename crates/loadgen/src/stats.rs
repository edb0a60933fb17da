//! Latency percentiles and outcome counts.

use std::{collections::BTreeMap, time::Duration};

#[derive(Default)]
pub struct Outcomes {
    /// Latencies of accepted casts, in microseconds.
    pub accepted: Vec<u64>,
    /// Refusals and failures by gRPC code.
    pub errors: BTreeMap<String, u64>,
}

impl Outcomes {
    pub fn merge(&mut self, other: Outcomes) {
        self.accepted.extend(other.accepted);
        for (code, n) in other.errors {
            *self.errors.entry(code).or_default() += n;
        }
    }
}

/// The `p`-th percentile (0–100) of `samples`, which it sorts.
pub fn percentile(samples: &mut [u64], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((p / 100.0) * (samples.len() - 1) as f64).round() as usize;
    Duration::from_micros(samples[rank.min(samples.len() - 1)])
}

pub fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
