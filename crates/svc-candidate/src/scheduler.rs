//! Opens and closes elections at their times, and requests each roll election's automatic
//! reminder round when its lead time before closing begins. It holds no state of its own:
//! each tick asks the database what is due, so a restarted (or second) replica applies missed
//! transitions, and the guarded updates make sure each happens once.

use std::{collections::HashSet, sync::Arc, time::Duration};

use kit::shutdown::Shutdown;

use crate::elections::Elections;

/// Ticks until the shutdown starts; a tick in progress finishes first, since each transition
/// is its own transaction.
pub async fn run(elections: Arc<Elections>, interval: Duration, shutdown: Shutdown) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut warned = HashSet::new();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.wait() => return,
        }
        match elections.apply_due_transitions().await {
            Ok(stuck) => {
                for id in stuck {
                    if warned.insert(id.clone()) {
                        tracing::warn!(election_id = %id, "opening time passed but the election has fewer than two candidates; it stays DRAFT");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "scheduler tick failed; retrying"),
        }
    }
}
