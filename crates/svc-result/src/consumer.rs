//! Consumes BallotCast events: each batch is one transaction that records the ballot ids
//! (the unique key makes replays no-ops) and adds only the new ballots to the counts; the
//! offsets are committed after that. Redelivery, rebalances and crashes change nothing.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use kit::{
    bus::{BusError, Delivery, Lag, Subscription},
    discovery::Balanced,
    shutdown::Shutdown,
};
use prost::Message;
use proto_gen::events::v1::BallotCast;

use crate::{service::Results, store::CountedBallot};

const BATCH: usize = 1000;

/// How long a member may hold no partition while the group has one to spare before it
/// leaves and joins again. Some brokers (Tansu 0.6) leave a member that joined while the
/// old leader was dying with an empty assignment and never rebalance it.
const STRANDED_AFTER: Duration = Duration::from_secs(10);

/// Makes a fresh group member.
pub type Subscribe = Box<dyn Fn() -> Result<Box<dyn Subscription>, BusError> + Send + Sync>;

/// Watches for a member stranded without partitions.
struct Stranding {
    since: Option<Instant>,
}

impl Stranding {
    /// True when the member should rejoin: it has held nothing for [`STRANDED_AFTER`]
    /// although the group has no more live members (`peers`) than partitions.
    fn check(&mut self, lag: &Lag, peers: usize) -> bool {
        let stranded = lag.partitions == 0 && lag.available > 0 && peers <= lag.available;
        match (stranded, self.since) {
            (false, _) => {
                self.since = None;
                false
            }
            (true, None) => {
                self.since = Some(Instant::now());
                false
            }
            (true, Some(since)) => since.elapsed() >= STRANDED_AFTER,
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn decode(payload: &[u8]) -> Option<CountedBallot> {
    match BallotCast::decode(payload) {
        Ok(event) => Some(CountedBallot {
            ballot_id: event.ballot_id,
            election_id: event.election_id,
            selection: event.selection.map(|s| s.candidate_ids).unwrap_or_default(),
        }),
        Err(error) => {
            // A malformed event can never become countable; holding the partition for it
            // would stop every ballot behind it.
            tracing::error!(%error, "undecodable BallotCast skipped");
            metrics::counter!("votemesh_result_undecodable_events_total").increment(1);
            None
        }
    }
}

pub async fn run(subscribe: Subscribe, peers: Balanced, results: Arc<Results>, shutdown: Shutdown) {
    let Some(mut subscription) = join(&subscribe, &shutdown).await else {
        return;
    };
    let mut membership = Membership {
        checked: Instant::now(),
        stranding: Stranding { since: None },
    };
    loop {
        let batch = tokio::select! {
            batch = subscription.next_batch(BATCH, Duration::from_millis(500)) => batch,
            _ = shutdown.wait() => return,
        };
        match batch {
            Ok(events) if !events.is_empty() => {
                let counted = count(&results, subscription.as_mut(), &events, &shutdown).await;
                if counted.is_none() {
                    return;
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "ballot events unavailable; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        }
        membership.tend(&mut subscription, &subscribe, &peers).await;
    }
}

/// A first group member, retried until the bus takes it or the service stops.
async fn join(subscribe: &Subscribe, shutdown: &Shutdown) -> Option<Box<dyn Subscription>> {
    loop {
        match subscribe() {
            Ok(subscription) => return Some(subscription),
            Err(error) => {
                tracing::warn!(%error, "cannot join the consumer group yet; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.wait() => return None,
                }
            }
        }
    }
}

/// Applies one batch (retrying until the database takes it), commits its offsets and
/// refreshes the changed elections' snapshots. `None` when the service stopped first: the
/// uncommitted batch is read again after a restart.
async fn count(
    results: &Results,
    subscription: &mut dyn Subscription,
    events: &[Delivery],
    shutdown: &Shutdown,
) -> Option<()> {
    let ballots: Vec<CountedBallot> = events.iter().filter_map(|e| decode(&e.payload)).collect();
    let mut backoff = Duration::from_millis(100);
    let changed = loop {
        match results.store.apply(&ballots, now_ms()).await {
            Ok(changed) => break changed,
            Err(error) => {
                tracing::warn!(%error, "applying a batch failed; retrying it");
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.wait() => return None,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    };
    if let Err(error) = subscription.commit().await {
        tracing::warn!(%error, "offset commit failed; the batch will be replayed and absorbed");
    }
    metrics::counter!("votemesh_result_events_applied_total").increment(ballots.len() as u64);
    let refreshes = changed
        .iter()
        .map(|election_id| results.refresh(election_id));
    for refreshed in futures::future::join_all(refreshes).await {
        if let Err(error) = refreshed {
            tracing::warn!(%error, "results snapshot not refreshed");
        }
    }
    Some(())
}

/// Reports the member's lag every two seconds, and rejoins when it is stranded.
struct Membership {
    checked: Instant,
    stranding: Stranding,
}

impl Membership {
    async fn tend(
        &mut self,
        subscription: &mut Box<dyn Subscription>,
        subscribe: &Subscribe,
        peers: &Balanced,
    ) {
        if self.checked.elapsed() < Duration::from_secs(2) {
            return;
        }
        self.checked = Instant::now();
        let Some(lag) = subscription.lag().await else {
            return;
        };
        metrics::gauge!("votemesh_consumer_lag", "service" => "svc-result").set(lag.behind as f64);
        metrics::gauge!("votemesh_consumer_partitions", "service" => "svc-result")
            .set(lag.partitions as f64);
        if !self.stranding.check(&lag, peers.addresses().len().max(1)) {
            return;
        }
        tracing::warn!("holding no partition while the group has one to spare; rejoining");
        metrics::counter!("votemesh_consumer_rejoins_total", "service" => "svc-result")
            .increment(1);
        match subscribe() {
            Ok(fresh) => {
                // The old member leaves as it drops; the new one joins afresh.
                *subscription = fresh;
                self.stranding.since = None;
            }
            Err(error) => tracing::warn!(%error, "rejoining failed; trying again later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lag(partitions: usize, available: usize) -> Lag {
        Lag {
            behind: 0,
            partitions,
            available,
        }
    }

    #[test]
    fn only_a_member_without_partitions_in_a_group_with_room_rejoins() {
        let mut stranding = Stranding { since: None };
        assert!(
            !stranding.check(&lag(0, 3), 2),
            "first sighting starts the clock"
        );
        stranding.since = Some(Instant::now() - STRANDED_AFTER);
        assert!(stranding.check(&lag(0, 3), 2));
        assert!(
            !stranding.check(&lag(1, 3), 2),
            "holding a partition resets it"
        );
        stranding.since = Some(Instant::now() - STRANDED_AFTER);
        assert!(
            !stranding.check(&lag(0, 3), 4),
            "more members than partitions: idle is fine"
        );
    }
}
