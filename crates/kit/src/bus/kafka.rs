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
    error::KafkaError,
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
    /// When the current producer last delivered (or was made): one that has delivered
    /// nothing for a few delivery timeouts while the broker is reachable again may be wedged
    /// on a connection or producer id the restarted broker forgot, so it is replaced.
    last_delivered: Mutex<std::time::Instant>,
}

/// Delivery timeouts without a single delivery after which the producer is replaced.
const STALE_AFTER_TIMEOUTS: u32 = 3;

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
            last_delivered: Mutex::new(std::time::Instant::now()),
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
            self.renew(failed, &format!("{code:?}: {reason}"));
        }
    }

    /// Replaces `failed` with a fresh producer, unless another caller already has.
    fn renew(&self, failed: &FutureProducer, why: &str) {
        let mut current = self.producer.lock().unwrap_or_else(PoisonError::into_inner);
        if !std::ptr::eq(current.client().native_ptr(), failed.client().native_ptr()) {
            return;
        }
        tracing::warn!(%why, "Kafka producer failed for good; starting a new one");
        match producer(&self.settings) {
            Ok(fresh) => *current = fresh,
            Err(error) => tracing::warn!(%error, "new Kafka producer"),
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

async fn send(
    producer: &FutureProducer,
    event: &Event,
    timeout: Duration,
) -> Result<(), KafkaError> {
    let record = FutureRecord::to(&event.topic)
        .key(&event.key)
        .payload(&event.payload);
    producer
        .send(record, timeout)
        .await
        .map(drop)
        .map_err(|(error, _)| error)
}

/// Whether a failed delivery was the broker refusing this producer (not the broker being
/// out of reach): after a broker restart that lost its producer state, the idempotent
/// producer's sequence is refused as an unknown error for ever, and only a new producer
/// (a new producer id) gets through. Consumers absorb what it sends again by event id.
fn refused_by_the_broker(error: &KafkaError) -> bool {
    match error.rdkafka_error_code() {
        Some(
            RDKafkaErrorCode::MessageTimedOut
            | RDKafkaErrorCode::QueueFull
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::NetworkException
            | RDKafkaErrorCode::UnknownTopicOrPartition
            | RDKafkaErrorCode::NotLeaderForPartition
            | RDKafkaErrorCode::LeaderNotAvailable,
        ) => false,
        Some(_) => true,
        None => false,
    }
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
        let refused = outcomes
            .iter()
            .any(|o| o.as_ref().is_err_and(refused_by_the_broker));
        let mut last_delivered = self
            .last_delivered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let stale =
            last_delivered.elapsed() > self.settings.delivery_timeout * STALE_AFTER_TIMEOUTS;
        if outcomes.iter().any(Result::is_ok) {
            *last_delivered = std::time::Instant::now();
        } else if refused || stale {
            *last_delivered = std::time::Instant::now();
            drop(last_delivered);
            let why = match refused {
                true => "the broker refuses the producer",
                false => "nothing delivered for several delivery timeouts",
            };
            self.renew(&producer, why);
        } else if outcomes.iter().any(Result::is_err) {
            drop(last_delivered);
            self.renew_if_fatal(&producer);
        }
        outcomes
            .into_iter()
            .map(|o| o.map_err(|error| BusError::Unacknowledged(error.to_string())))
            .collect()
    }
}
