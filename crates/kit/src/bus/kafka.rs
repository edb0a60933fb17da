//! Kafka through rdkafka: an idempotent producer (`enable.idempotence=true`, acks from all
//! in-sync replicas), and topic creation at start.

use std::time::Duration;

use async_trait::async_trait;
use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    config::ClientConfig,
    producer::{FutureProducer, FutureRecord},
    types::RDKafkaErrorCode,
};

use super::{BusError, BusMessage, Publisher};

/// Where the brokers are and how long to wait for them.
#[derive(Clone, Debug)]
pub struct KafkaSettings {
    pub brokers: String,
    /// How long a message may wait for an acknowledgement before it counts as failed.
    pub delivery_timeout: Duration,
}

pub struct KafkaBus {
    producer: FutureProducer,
    settings: KafkaSettings,
}

impl KafkaBus {
    pub fn connect(settings: KafkaSettings) -> Result<Self, BusError> {
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &settings.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set(
                "message.timeout.ms",
                settings.delivery_timeout.as_millis().to_string(),
            )
            .set("socket.timeout.ms", "5000")
            .set("linger.ms", "5")
            .create()
            .map_err(|e| BusError::Config(e.to_string()))?;
        Ok(Self { producer, settings })
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

#[async_trait]
impl Publisher for KafkaBus {
    async fn publish(&self, message: &BusMessage) -> Result<(), BusError> {
        let record = FutureRecord::to(&message.topic)
            .key(&message.key)
            .payload(&message.payload);
        self.producer
            .send(record, self.settings.delivery_timeout)
            .await
            .map(drop)
            .map_err(|(error, _)| BusError::Unacknowledged(error.to_string()))
    }
}
