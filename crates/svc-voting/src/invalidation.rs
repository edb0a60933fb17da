//! Election status events reach every svc-voting instance (each in a group of its own), so
//! an early close stops ballots at once instead of when the cached election lapses.

use std::{sync::Arc, time::Duration};

use kit::{bus::Subscription, shutdown::Shutdown};
use prost::Message;
use proto_gen::events::v1::ElectionStatusChanged;

use crate::voting::Voting;

pub async fn follow_status_changes(
    mut subscription: Box<dyn Subscription>,
    voting: Arc<Voting>,
    shutdown: Shutdown,
) {
    loop {
        let batch = tokio::select! {
            batch = subscription.next_batch(256, Duration::from_secs(1)) => batch,
            _ = shutdown.wait() => return,
        };
        match batch {
            Ok(events) => {
                for event in events {
                    match ElectionStatusChanged::decode(event.payload.as_slice()) {
                        Ok(changed) => voting.directory.invalidate(&changed.election_id),
                        Err(error) => tracing::warn!(%error, "undecodable status event skipped"),
                    }
                }
                let _ = subscription.commit().await;
            }
            Err(error) => {
                tracing::debug!(%error, "status events unavailable; cached elections lapse");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}
