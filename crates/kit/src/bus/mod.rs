//! The event bus port: Kafka in production, an in-process bus for the embedded default.
//! Correctness never rests on it alone: events come from an outbox, and consumers
//! deduplicate by event id.

pub mod conformance;
pub mod consume;
mod kafka;
mod kafka_consumer;
mod memory;
pub mod topics;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;

pub use kafka::{KafkaBus, KafkaSettings};
pub use kafka_consumer::KafkaSubscription;
pub use memory::InProcessBus;

/// One event, as the outbox keeps it and the bus carries it: a protobuf payload keyed so one
/// election's events stay in order. `id` is the event's id, the outbox row's key; the payload
/// carries it too, for consumers to deduplicate by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub id: String,
    pub topic: String,
    pub key: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("broker did not acknowledge: {0}")]
    Unacknowledged(String),
    #[error("bus configuration: {0}")]
    Config(String),
    #[error("consuming: {0}")]
    Consume(String),
}

#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes and waits until the bus has acknowledged the event.
    async fn publish(&self, event: &Event) -> Result<(), BusError>;

    /// Publishes a batch, in order, and reports each event's outcome. Kafka pipelines
    /// the batch instead of waiting a round trip per event.
    async fn publish_all(&self, events: &[Event]) -> Vec<Result<(), BusError>> {
        let mut outcomes = Vec::with_capacity(events.len());
        for event in events {
            outcomes.push(self.publish(event).await);
        }
        outcomes
    }
}

/// Where a consumer group with no committed position starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// Every retained event (results must count them all).
    Earliest,
    /// Only events from now on (cache invalidation).
    Latest,
}

/// What a subscription reads and as whom.
#[derive(Clone, Debug)]
pub struct SubscribeOptions {
    /// The consumer group; instances in one group split the partitions.
    pub group: String,
    pub topics: Vec<String>,
    pub start_at: StartAt,
}

/// An event as a consumer receives it.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// A member's backlog: events waiting on the partitions it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lag {
    pub behind: u64,
    /// Partitions assigned to this member (1 per topic in process).
    pub partitions: usize,
    /// Partitions the subscribed topics have in all.
    pub available: usize,
}

/// A consumer group member. Positions move only when [`Subscription::commit`] is called,
/// so a consumer commits after its own effects are durable and a crash replays.
#[async_trait]
pub trait Subscription: Send {
    /// Up to `max` events, waiting at most `wait` for the first.
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError>;
    /// Records everything handed out so far as processed.
    async fn commit(&mut self) -> Result<(), BusError>;
    /// How far behind this member is, when the bus can tell.
    async fn lag(&self) -> Option<Lag>;
}

/// Kafka when `brokers` is set (creating the missing `topics`), else the process's shared
/// in-process bus. A broker that is down at start is not fatal: the outbox keeps events
/// until it returns.
pub async fn connect(
    brokers: Option<&str>,
    delivery_timeout: Duration,
    topics: &[(&str, i32)],
) -> Result<Arc<dyn Publisher>, BusError> {
    let Some(brokers) = brokers else {
        return Ok(Arc::new(InProcessBus::shared()));
    };
    let bus = KafkaBus::connect(KafkaSettings {
        brokers: brokers.to_owned(),
        delivery_timeout,
    })?;
    // A broker that is down must not hold the service's start up.
    match tokio::time::timeout(delivery_timeout, bus.ensure_topics(topics)).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "could not create topics now; publishing will retry")
        }
        Err(_) => {
            tracing::warn!("broker did not answer in time; topics are created on first publish")
        }
    }
    Ok(Arc::new(bus))
}

/// A Kafka consumer group member when `brokers` is set, else a reader of the process's
/// shared in-process bus.
pub fn subscribe(
    brokers: Option<&str>,
    options: SubscribeOptions,
) -> Result<Box<dyn Subscription>, BusError> {
    match brokers {
        Some(brokers) => Ok(Box::new(KafkaSubscription::new(brokers, &options)?)),
        None => Ok(Box::new(InProcessBus::shared().subscription(&options))),
    }
}
