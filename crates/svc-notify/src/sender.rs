//! Works the delivery log: claims due rows under a lease, sends them, and records each
//! outcome. A sender that dies mid-send leaves its rows leased; once the lease lapses another
//! (or the restarted one) tries them again. Email is recorded as sent just before the SMTP
//! server can take it (see `channels::gate`), so that retry never makes a second copy; SMS
//! and files are recorded the moment the gateway answers or the file is written.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use futures::StreamExt;
use kit::{shutdown::Shutdown, time::now_ms};
use rand::Rng;
use tokio::sync::Notify;

use crate::{
    channels::{Channels, Commit, Outgoing, SendError},
    store::{Channel, Claimed, DeliveryStore, Outcome},
};

/// How often due retries are looked for when nothing wakes the sender.
const POLL: Duration = Duration::from_millis(250);

#[derive(Clone, Copy, Debug)]
pub struct SendSettings {
    pub concurrency: usize,
    pub lease: Duration,
    pub retry_base: Duration,
    pub retry_max: Duration,
}

impl SendSettings {
    /// Exponential backoff with full jitter over the upper half, after `attempts` tries.
    fn retry_delay(&self, attempts: u32) -> Duration {
        let doubled = self
            .retry_base
            .saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let ceiling = doubled.min(self.retry_max);
        let half = ceiling / 2;
        half + rand::thread_rng().gen_range(Duration::ZERO..=half)
    }
}

pub struct Sender {
    store: Arc<dyn DeliveryStore>,
    channels: Channels,
    settings: SendSettings,
    wake: Arc<Notify>,
}

impl Sender {
    pub fn new(
        store: Arc<dyn DeliveryStore>,
        channels: Channels,
        settings: SendSettings,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            channels,
            settings,
            wake,
        }
    }

    /// Sends until `shutdown` starts; the batch in flight is finished, not abandoned.
    pub async fn run(self, shutdown: Shutdown) {
        let batch = (self.settings.concurrency * 4) as u64;
        while !shutdown.is_triggered() {
            let now = now_ms();
            let lease_until = now + self.settings.lease.as_millis() as i64;
            let due = match self.store.claim(now, lease_until, batch).await {
                Ok(due) => due,
                Err(error) => {
                    tracing::warn!(%error, "claiming deliveries failed; retrying");
                    Vec::new()
                }
            };
            if due.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(POLL) => {}
                    _ = shutdown.wait() => {}
                }
                continue;
            }
            futures::stream::iter(due)
                .for_each_concurrent(self.settings.concurrency, |delivery| self.deliver(delivery))
                .await;
        }
    }

    /// Records `id` as sent; the SMTP adapter runs it just before the end of DATA.
    /// A claim that lapsed meanwhile records nothing and fails, so its end of DATA never
    /// goes: the sender holding the row now sends the one copy.
    fn commit(&self, id: &str, attempt: u32, committed: Arc<AtomicBool>) -> Commit {
        let (store, id) = (self.store.clone(), id.to_owned());
        Box::pin(async move {
            let recorded = store
                .finish(&id, attempt, &Outcome::Sent, now_ms())
                .await
                .map_err(|error| error.to_string())?;
            if !recorded {
                return Err("the claim lapsed; another sender holds the delivery".into());
            }
            committed.store(true, Ordering::SeqCst);
            Ok(())
        })
    }

    async fn send(&self, delivery: &Claimed, committed: &Arc<AtomicBool>) -> Result<(), SendError> {
        let outgoing = Outgoing {
            id: delivery.id.clone(),
            recipient: delivery.recipient.clone(),
            subject: delivery.subject.clone(),
            body: delivery.body.clone(),
        };
        match (delivery.channel, &self.channels.sms) {
            (Channel::Sms, Some(sms)) => sms.send(&outgoing).await,
            (Channel::Sms, None) => Err(SendError::Permanent(
                "no SMS gateway is configured (--sms-gateway-url)".into(),
            )),
            _ => {
                let commit = self.commit(&delivery.id, delivery.attempts, committed.clone());
                self.channels.mail.send(&outgoing, commit).await
            }
        }
    }

    async fn deliver(&self, delivery: Claimed) {
        let committed = Arc::new(AtomicBool::new(false));
        let sent = self.send(&delivery, &committed).await;
        let now = now_ms();
        let retry_at = now + self.settings.retry_delay(delivery.attempts).as_millis() as i64;
        let outcome = match sent {
            Ok(()) => Outcome::Sent,
            Err(SendError::Permanent(error)) => Outcome::Dead { error },
            // Recorded and then unanswered: the end of the message went out, so another
            // try could make a second copy. It stays SENT.
            Err(SendError::Unanswered(error)) if committed.load(Ordering::SeqCst) => {
                tracing::warn!(delivery = %delivery.id, %error, "sent, but the answer was lost");
                Outcome::Sent
            }
            Err(SendError::Transient(error) | SendError::Unanswered(error)) => Outcome::Retry {
                error,
                at_ms: retry_at,
            },
        };
        // Recorded already when the adapter committed before the server took the message;
        // a refusal after that overrides it.
        let recorded = outcome == Outcome::Sent && committed.load(Ordering::SeqCst);
        if !recorded {
            let finished = self
                .store
                .finish(&delivery.id, delivery.attempts, &outcome, now)
                .await;
            if let Err(error) = finished {
                // The lease lapses and the row is tried again.
                tracing::error!(%error, delivery = %delivery.id, "recording a send failed");
                return;
            }
        }
        self.count(&delivery, &outcome, now);
    }

    fn count(&self, delivery: &Claimed, outcome: &Outcome, now: i64) {
        let kind = delivery.kind.as_str();
        match outcome {
            Outcome::Sent => {
                metrics::counter!("votemesh_notify_sent_total", "kind" => kind).increment(1);
                let delay = (now - delivery.source_at_ms).max(0) as f64 / 1000.0;
                metrics::histogram!("votemesh_notify_delay_seconds", "kind" => kind).record(delay);
            }
            Outcome::Retry { error, .. } | Outcome::Dead { error } => {
                tracing::warn!(delivery = %delivery.id, %kind, %error, "send failed");
                metrics::counter!("votemesh_notify_failures_total", "kind" => kind).increment(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_within_bounds() {
        let settings = SendSettings {
            concurrency: 1,
            lease: Duration::from_secs(1),
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let first = settings.retry_delay(1);
            assert!((Duration::from_millis(50)..=Duration::from_millis(100)).contains(&first));
            let third = settings.retry_delay(3);
            assert!((Duration::from_millis(200)..=Duration::from_millis(400)).contains(&third));
            let late = settings.retry_delay(30);
            assert!((Duration::from_millis(500)..=Duration::from_secs(1)).contains(&late));
        }
    }
}
