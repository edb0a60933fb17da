//! Election status events reach every svc-voting instance (each in a group of its own), so
//! an early close stops ballots at once instead of when the cached election lapses.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use kit::{
    bus::{
        consume::{consume, ConsumeOptions, Handler, HandlerError},
        BusError, Subscription,
    },
    shutdown::Shutdown,
};
use proto_gen::events::v1::ElectionStatusChanged;

use crate::voting::Voting;

/// Drops the cached election named by each status event.
struct DropCachedElections(Arc<Voting>);

#[async_trait]
impl Handler for DropCachedElections {
    type Event = ElectionStatusChanged;

    async fn handle(&mut self, events: &[ElectionStatusChanged]) -> Result<(), HandlerError> {
        for changed in events {
            self.0.directory.invalidate(&changed.election_id);
        }
        Ok(())
    }
}

/// Follows the status topic with `subscription` until the shutdown starts.
pub async fn follow_status_changes(
    subscription: Box<dyn Subscription>,
    voting: Arc<Voting>,
    shutdown: Shutdown,
) {
    // The group is this instance's alone, so it is never stranded and joins only once.
    let joined = Mutex::new(Some(subscription));
    let subscribe = move || {
        joined
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| BusError::Config("the status subscription was already taken".into()))
    };
    let options = ConsumeOptions {
        batch_max: 256,
        ..ConsumeOptions::new("svc-voting-status")
    };
    consume(subscribe, DropCachedElections(voting), options, shutdown).await;
}
