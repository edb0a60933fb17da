//! A Kafka consumer group member through rdkafka. Offsets are committed only when the
//! consumer says its effects are durable (`enable.auto.commit=false`), so a crash replays
//! rather than skips; consumers absorb the replay by event id.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_trait::async_trait;
use rdkafka::{
    config::ClientConfig,
    consumer::{CommitMode, Consumer, StreamConsumer},
    Message, Offset, TopicPartitionList,
};

use super::{BusError, Delivery, Lag, StartAt, SubscribeOptions, Subscription};

/// How long a batch keeps gathering once its first event has arrived.
const GATHER: Duration = Duration::from_millis(5);

pub struct KafkaSubscription {
    consumer: Arc<StreamConsumer>,
    /// The next offset to commit per (topic, partition).
    pending: HashMap<(String, i32), i64>,
    topics: Vec<String>,
}

impl KafkaSubscription {
    pub fn new(brokers: &str, options: &SubscribeOptions) -> Result<Self, BusError> {
        let reset = match options.start_at {
            StartAt::Earliest => "earliest",
            StartAt::Latest => "latest",
        };
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", brokers)
            .set("group.id", &options.group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", reset)
            .set("session.timeout.ms", "10000")
            // Also the rebalance timeout: how long a rebalance waits for a member that died
            // without leaving before it is dropped and its partitions handed on.
            .set("max.poll.interval.ms", "20000")
            .set("socket.timeout.ms", "5000")
            // Results are live: an idle fetch is answered within 20 ms, not the default 500
            // (some brokers hold it that long even when data arrives).
            .set("fetch.wait.max.ms", "20")
            .create()
            .map_err(|e| BusError::Config(e.to_string()))?;
        let topics: Vec<&str> = options.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(|e| BusError::Config(e.to_string()))?;
        Ok(Self {
            consumer: Arc::new(consumer),
            pending: HashMap::new(),
            topics: options.topics.clone(),
        })
    }

    fn keep(&mut self, message: &rdkafka::message::BorrowedMessage<'_>) -> Delivery {
        self.pending.insert(
            (message.topic().to_owned(), message.partition()),
            message.offset() + 1,
        );
        Delivery {
            topic: message.topic().to_owned(),
            payload: message.payload().unwrap_or_default().to_vec(),
        }
    }
}

#[async_trait]
impl Subscription for KafkaSubscription {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let consumer = self.consumer.clone();
        let mut batch = Vec::new();
        match tokio::time::timeout(wait, consumer.recv()).await {
            Err(_) => return Ok(batch),
            Ok(Err(error)) => return Err(BusError::Consume(error.to_string())),
            Ok(Ok(message)) => batch.push(self.keep(&message)),
        }
        let gathering = tokio::time::Instant::now() + GATHER;
        while batch.len() < max {
            match tokio::time::timeout_at(gathering, consumer.recv()).await {
                Ok(Ok(message)) => batch.push(self.keep(&message)),
                // What was gathered is handed out; an error shows again on the next call.
                Ok(Err(_)) | Err(_) => break,
            }
        }
        Ok(batch)
    }

    async fn commit(&mut self) -> Result<(), BusError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let mut offsets = TopicPartitionList::new();
        for ((topic, partition), next) in self.pending.drain() {
            offsets
                .add_partition_offset(&topic, partition, Offset::Offset(next))
                .map_err(|e| BusError::Consume(e.to_string()))?;
        }
        // Asynchronous: a commit lost to a crash only means a replay, which is absorbed.
        self.consumer
            .commit(&offsets, CommitMode::Async)
            .map_err(|e| BusError::Consume(e.to_string()))
    }

    async fn lag(&self) -> Option<Lag> {
        let consumer = self.consumer.clone();
        let topics = self.topics.clone();
        tokio::task::spawn_blocking(move || {
            let positions = consumer.position().ok()?;
            let mut behind = 0u64;
            for element in positions.elements() {
                let (_, high) = consumer
                    .fetch_watermarks(element.topic(), element.partition(), Duration::from_secs(2))
                    .ok()?;
                let at = match element.offset() {
                    Offset::Offset(at) => at,
                    _ => 0,
                };
                behind += high.saturating_sub(at).max(0) as u64;
            }
            let mut available = 0;
            for topic in &topics {
                let metadata = consumer
                    .fetch_metadata(Some(topic), Duration::from_secs(2))
                    .ok()?;
                available += metadata
                    .topics()
                    .iter()
                    .map(|t| t.partitions().len())
                    .sum::<usize>();
            }
            Some(Lag {
                behind,
                partitions: positions.count(),
                available,
            })
        })
        .await
        .ok()
        .flatten()
    }
}
