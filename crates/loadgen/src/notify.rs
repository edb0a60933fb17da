//! With `--smtp-url`, the run also measures svc-notify: how fast confirmations leave through
//! SMTP, and how long a voter waits from the cast to the server accepting their confirmation
//! (svc-notify's `votemesh_notify_delay_seconds`, from the vote's time to the SMTP reply).

use std::time::{Duration, Instant};

/// Confirmations accepted by the SMTP server so far, from this process's metrics.
fn sent(rendered: &str) -> f64 {
    rendered
        .lines()
        .filter(|line| line.starts_with("votemesh_notify_sent_total{"))
        .filter(|line| line.contains("kind=\"confirmation\""))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The upper bound of the histogram bucket holding quantile `q` of the confirmation delay.
fn delay_quantile(rendered: &str, q: f64) -> Option<f64> {
    let mut buckets: Vec<(f64, f64)> = rendered
        .lines()
        .filter(|line| line.starts_with("votemesh_notify_delay_seconds_bucket{"))
        .filter(|line| line.contains("kind=\"confirmation\""))
        .filter_map(|line| {
            let le = line.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, line.rsplit(' ').next()?.parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = buckets.last()?.1;
    buckets
        .into_iter()
        .find(|(_, count)| *count >= q * total)
        .map(|(le, _)| le)
}

/// Samples the sent count every 250 ms from the start of casting until `expected`
/// confirmations are out (or a minute after casting ends), then prints the figures.
pub async fn follow(expected: tokio::sync::watch::Receiver<Option<u64>>) {
    let Some(handle) = kit::metrics::handle() else {
        println!("notify: no metrics recorder; nothing measured");
        return;
    };
    let started = Instant::now();
    let mut samples: Vec<(Duration, f64)> = Vec::new();
    let mut deadline = None;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = sent(&handle.render());
        samples.push((started.elapsed(), now));
        let target = *expected.borrow();
        if let Some(target) = target {
            let until = *deadline.get_or_insert(Instant::now() + Duration::from_secs(60));
            if now >= target as f64 || Instant::now() >= until {
                break;
            }
        }
    }
    // The fastest second: the sender's pace while it had a backlog.
    let best = samples
        .windows(5)
        .map(|w| w[4].1 - w[0].1)
        .fold(0.0_f64, f64::max);
    let rendered = handle.render();
    let last = samples.last().map(|s| s.1).unwrap_or(0.0);
    println!(
        "\n== svc-notify (confirmations through SMTP)\nsent: {last:.0} of {:?}; fastest second: {best:.0} messages/s",
        *expected.borrow()
    );
    let bucket = |q| delay_quantile(&rendered, q).map_or("-".into(), |le| format!("<= {le} s"));
    println!(
        "cast to SMTP acceptance: p50 {}  p99 {}  (histogram buckets)",
        bucket(0.5),
        bucket(0.99)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    const RENDERED: &str = "\
votemesh_notify_sent_total{kind=\"confirmation\"} 100
votemesh_notify_sent_total{kind=\"verification\"} 7
votemesh_notify_delay_seconds_bucket{kind=\"confirmation\",le=\"0.05\"} 10
votemesh_notify_delay_seconds_bucket{kind=\"confirmation\",le=\"0.1\"} 60
votemesh_notify_delay_seconds_bucket{kind=\"confirmation\",le=\"0.25\"} 99
votemesh_notify_delay_seconds_bucket{kind=\"confirmation\",le=\"+Inf\"} 100
";

    #[test]
    fn reads_the_confirmation_figures() {
        assert_eq!(sent(RENDERED), 100.0);
        assert_eq!(delay_quantile(RENDERED, 0.5), Some(0.1));
        assert_eq!(delay_quantile(RENDERED, 0.99), Some(0.25));
        assert_eq!(delay_quantile(RENDERED, 1.0), Some(f64::INFINITY));
    }
}
