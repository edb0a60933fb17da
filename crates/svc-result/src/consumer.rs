//! Consumes BallotCast events: each batch is one transaction that records the ballot ids
//! (the unique key makes replays no-ops) and adds only the new ballots to the counts; the
//! offsets are committed after that. Redelivery, rebalances and crashes change nothing.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use kit::{bus::Subscription, shutdown::Shutdown};
use prost::Message;
use proto_gen::events::v1::BallotCast;

use crate::{service::Results, store::CountedBallot};

const BATCH: usize = 1000;

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

pub async fn run(
    mut subscription: Box<dyn Subscription>,
    results: Arc<Results>,
    shutdown: Shutdown,
) {
    let mut lag_checked = Instant::now();
    loop {
        let batch = tokio::select! {
            batch = subscription.next_batch(BATCH, Duration::from_millis(500)) => batch,
            _ = shutdown.wait() => return,
        };
        let events = match batch {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(%error, "ballot events unavailable; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if !events.is_empty() {
            let ballots: Vec<CountedBallot> =
                events.iter().filter_map(|e| decode(&e.payload)).collect();
            let mut backoff = Duration::from_millis(100);
            let changed = loop {
                match results.store.apply(&ballots, now_ms()).await {
                    Ok(changed) => break changed,
                    Err(error) => {
                        tracing::warn!(%error, "applying a batch failed; retrying it");
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            // Uncommitted offsets mean the batch is read again after a restart.
                            _ = shutdown.wait() => return,
                        }
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            };
            if let Err(error) = subscription.commit().await {
                tracing::warn!(%error, "offset commit failed; the batch will be replayed and absorbed");
            }
            metrics::counter!("votemesh_result_events_applied_total")
                .increment(ballots.len() as u64);
            for election_id in changed {
                if let Err(error) = results.refresh(&election_id).await {
                    tracing::warn!(%error, "results snapshot not refreshed");
                }
            }
        }
        if lag_checked.elapsed() > Duration::from_secs(2) {
            lag_checked = Instant::now();
            if let Some(lag) = subscription.lag().await {
                metrics::gauge!("votemesh_consumer_lag", "service" => "svc-result")
                    .set(lag.behind as f64);
                metrics::gauge!("votemesh_consumer_partitions", "service" => "svc-result")
                    .set(lag.partitions as f64);
            }
        }
    }
}
