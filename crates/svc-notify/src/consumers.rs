//! The three event streams svc-notify follows, each a consumer group on the kit's consumer
//! loop reading from the earliest retained event. A batch becomes delivery rows in one
//! statement; the loop commits offsets only after that, and the rows' unique (event id,
//! channel) absorbs every redelivery. Sending is the sender's job, woken here.

use std::sync::Arc;

use async_trait::async_trait;
use kit::{
    bus::{
        consume::{consume, subscriber, ConsumeOptions, Handler, HandlerError, Subscribe},
        StartAt, SubscribeOptions,
    },
    discovery::Balanced,
    shutdown::Shutdown,
    time::now_ms,
};
use proto_gen::events::v1::{ContactVerificationRequested, NotificationsRequested, VoteRecorded};
use tokio::sync::Notify;

use crate::{
    plan::Planner,
    store::{DeliveryStore, NewDelivery},
    Config,
};

/// What every handler shares: where rows go and whom to wake.
#[derive(Clone)]
struct Recorder {
    planner: Arc<Planner>,
    store: Arc<dyn DeliveryStore>,
    wake: Arc<Notify>,
}

impl Recorder {
    async fn record(&self, rows: &[NewDelivery], stream: &'static str) -> Result<(), HandlerError> {
        if rows.is_empty() {
            return Ok(());
        }
        let new = self
            .store
            .insert(rows, self.planner.attempt_limit, now_ms())
            .await?;
        metrics::counter!("votemesh_notify_deliveries_recorded_total", "stream" => stream)
            .increment(new);
        if new > 0 {
            self.wake.notify_one();
        }
        Ok(())
    }
}

struct Verifications(Recorder);
struct Confirmations(Recorder);
struct Requests(Recorder);

#[async_trait]
impl Handler for Verifications {
    type Event = ContactVerificationRequested;

    async fn handle(&mut self, events: &[Self::Event]) -> Result<(), HandlerError> {
        let rows: Vec<NewDelivery> = events
            .iter()
            .map(|e| self.0.planner.verification(e))
            .collect();
        self.0.record(&rows, "verification").await
    }
}

#[async_trait]
impl Handler for Confirmations {
    type Event = VoteRecorded;

    async fn handle(&mut self, events: &[Self::Event]) -> Result<(), HandlerError> {
        let rows = self.0.planner.confirmations(events).await?;
        self.0.record(&rows, "confirmation").await
    }
}

#[async_trait]
impl Handler for Requests {
    type Event = NotificationsRequested;

    async fn handle(&mut self, events: &[Self::Event]) -> Result<(), HandlerError> {
        let mut rows = Vec::new();
        for request in events {
            rows.extend(self.0.planner.requested(request).await?);
        }
        self.0.record(&rows, "request").await
    }
}

/// The three subscriptions, made at build and started by [`Consumers::spawn`].
pub struct Consumers {
    recorder: Recorder,
    /// svc-notify's live instances: a member holding no partition rejoins while the group
    /// has no more members than partitions (Tansu can strand one after a member dies).
    peers: Balanced,
    verifications: Subscribe,
    confirmations: Subscribe,
    requests: Subscribe,
}

impl Consumers {
    pub fn new(
        config: &Config,
        planner: Arc<Planner>,
        store: Arc<dyn DeliveryStore>,
        wake: Arc<Notify>,
        peers: Balanced,
    ) -> Self {
        let group = |stream: &str, topic: &str| {
            subscriber(
                config.kafka_brokers.clone(),
                SubscribeOptions {
                    group: format!("{}-{stream}", config.consumer_group),
                    topics: vec![topic.to_owned()],
                    start_at: StartAt::Earliest,
                },
            )
        };
        Self {
            recorder: Recorder {
                planner,
                store,
                wake,
            },
            peers,
            verifications: group("verification", &config.contact_topic),
            confirmations: group("confirmation", &config.vote_topic),
            requests: group("request", &config.notification_topic),
        }
    }

    fn options(&self, name: &'static str) -> ConsumeOptions {
        let peers = self.peers.clone();
        ConsumeOptions::new(name).live_members(move || peers.addresses().len())
    }

    pub fn spawn(self, shutdown: &Shutdown) {
        let options = [
            self.options("svc-notify-verification"),
            self.options("svc-notify-confirmation"),
            // Requests fan out to up to 500 recipients each: small batches keep a retry cheap.
            ConsumeOptions {
                batch_max: 8,
                ..self.options("svc-notify-request")
            },
        ];
        let [verifications, confirmations, requests] = options;
        let recorder = self.recorder;
        shutdown.spawn(
            "verification consumer",
            consume(
                self.verifications,
                Verifications(recorder.clone()),
                verifications,
                shutdown.clone(),
            ),
        );
        shutdown.spawn(
            "confirmation consumer",
            consume(
                self.confirmations,
                Confirmations(recorder.clone()),
                confirmations,
                shutdown.clone(),
            ),
        );
        shutdown.spawn(
            "request consumer",
            consume(
                self.requests,
                Requests(recorder),
                requests,
                shutdown.clone(),
            ),
        );
    }
}
