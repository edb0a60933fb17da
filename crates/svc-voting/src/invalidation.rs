//! Election status events reach every svc-voting instance (each in a group of its own), so
//! an early close stops ballots at once instead of when the cached election lapses.

use std::sync::Arc;

use async_trait::async_trait;
use kit::{
    bus::consume::{consume, ConsumeOptions, Handler, HandlerError, Subscribe},
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
pub async fn follow_status_changes(subscribe: Subscribe, voting: Arc<Voting>, shutdown: Shutdown) {
    let options = ConsumeOptions {
        batch_max: 256,
        ..ConsumeOptions::new("svc-voting-status")
    };
    consume(subscribe, DropCachedElections(voting), options, shutdown).await;
}
