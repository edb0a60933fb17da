//! The event bus port: Kafka in production, an in-process bus for the embedded default.
//! Correctness never rests on it alone: events come from an outbox, and consumers
//! deduplicate by event id.

mod kafka;
mod memory;

use async_trait::async_trait;

pub use kafka::{KafkaBus, KafkaSettings};
pub use memory::InProcessBus;

/// One event on the wire: a protobuf payload keyed so one election's events stay in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusMessage {
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
}

#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes and waits until the bus has acknowledged the message.
    async fn publish(&self, message: &BusMessage) -> Result<(), BusError>;
}

/// Kafka when `brokers` is set (creating the missing `topics`), else the in-process bus.
/// A broker that is down at start is not fatal: the outbox keeps events until it returns.
pub async fn connect(
    brokers: Option<&str>,
    delivery_timeout: std::time::Duration,
    topics: &[(&str, i32)],
) -> Result<std::sync::Arc<dyn Publisher>, BusError> {
    let Some(brokers) = brokers else {
        return Ok(std::sync::Arc::new(InProcessBus::default()));
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
    Ok(std::sync::Arc::new(bus))
}
