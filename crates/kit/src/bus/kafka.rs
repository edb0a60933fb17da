//! Kafka through rdkafka: an idempotent producer (`enable.idempotence=true`, acks from all
//! in-sync replicas), and topic creation at start.

use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

use async_trait::async_trait;
use futures::future::join_all;
use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    config::ClientConfig,
    producer::{FutureProducer, FutureRecord, Producer},
    types::RDKafkaErrorCode,
};

use super::{BusError, Event, Publisher};

/// Where the brokers are and how long to wait for them.
#[derive(Clone, Debug)]
pub struct KafkaSettings {
    pub brokers: String,
    /// How long a message may wait for an acknowledgement before it counts as failed.
    pub delivery_timeout: Duration,
}

pub struct KafkaBus {
    /// Replaced when it fails for good: an idempotent producer whose broker lost its
    /// producer state (a restart, say) stays failed, and the outbox holds the events.
    producer: Mutex<FutureProducer>,
    settings: KafkaSettings,
}

fn producer(settings: &KafkaSettings) -> Result<FutureProducer, BusError> {
    ClientConfig::new()
        .set("bootstrap.servers", &settings.brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set(
            "message.timeout.ms",
            settings.delivery_timeout.as_millis().to_string(),
        )
        .set("socket.timeout.ms", "5000")
        .set("linger.ms", "2")
        .create()
        .map_err(|e| BusError::Config(e.to_string()))
}

impl KafkaBus {
    pub fn connect(settings: KafkaSettings) -> Result<Self, BusError> {
        Ok(Self {
            producer: Mutex::new(producer(&settings)?),
            settings,
        })
    }

    fn current(&self) -> FutureProducer {
        self.producer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Starts a fresh producer after a failed delivery when the old one reports a fatal
    /// error; redelivered events are absorbed by consumers through their event ids.
    fn renew_if_fatal(&self, failed: &FutureProducer) {
        if let Some((code, reason)) = failed.client().fatal_error() {
            tracing::warn!(?code, %reason, "Kafka producer failed for good; starting a new one");
            match producer(&self.settings) {
                Ok(fresh) => {
                    *self.producer.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
                }
                Err(error) => tracing::warn!(%error, "new Kafka producer"),
            }
        }
    }

    /// Creates the topics that are missing; existing ones are left as they are.
    pub async fn ensure_topics(&self, topics: &[(&str, i32)]) -> Result<(), BusError> {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", &self.settings.brokers)
            .create()
            .map_err(|e| BusError::Config(e.to_string()))?;
        let wanted: Vec<NewTopic> = topics
            .iter()
            .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
        let results = admin
            .create_topics(wanted.iter(), &options)
            .await
            .map_err(|e| BusError::Unacknowledged(e.to_string()))?;
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => {
                    return Err(BusError::Unacknowledged(format!(
                        "creating {topic}: {code}"
                    )))
                }
            }
        }
        Ok(())
    }
}

async fn send(producer: &FutureProducer, event: &Event, timeout: Duration) -> Result<(), BusError> {
    let record = FutureRecord::to(&event.topic)
        .key(&event.key)
        .payload(&event.payload);
    producer
        .send(record, timeout)
        .await
        .map(drop)
        .map_err(|(error, _)| BusError::Unacknowledged(error.to_string()))
}

#[async_trait]
impl Publisher for KafkaBus {
    async fn publish(&self, event: &Event) -> Result<(), BusError> {
        self.publish_all(std::slice::from_ref(event))
            .await
            .pop()
            .unwrap_or(Ok(()))
    }

    async fn publish_all(&self, events: &[Event]) -> Vec<Result<(), BusError>> {
        let producer = self.current();
        // Enqueued in order on the first poll; the idempotent producer keeps that order
        // per partition while the acknowledgements are awaited together.
        let timeout = self.settings.delivery_timeout;
        let outcomes = join_all(events.iter().map(|e| send(&producer, e, timeout))).await;
        if outcomes.iter().any(Result::is_err) {
            self.renew_if_fatal(&producer);
        }
        outcomes
    }
}
