//! The embedded bus: an append-only log per topic inside the process, with positions per
//! consumer group, so a slow consumer is never skipped past events it has not seen. It
//! lives as long as the process; the embedded default runs every service in one process.
//! What every group has committed is dropped; a topic nobody consumes keeps its newest
//! [`UNCONSUMED_KEPT`] events.

use std::{
    collections::{HashMap, VecDeque},
    sync::{Arc, Mutex, OnceLock},
    time::Duration,
};

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{BusError, Delivery, Event, Lag, Publisher, StartAt, SubscribeOptions, Subscription};

/// Events kept on a topic that no group has committed on.
const UNCONSUMED_KEPT: usize = 100_000;

/// One topic's events; positions are absolute, `base` is the first one still held.
#[derive(Default)]
struct TopicLog {
    base: usize,
    messages: VecDeque<Event>,
}

impl TopicLog {
    fn end(&self) -> usize {
        self.base + self.messages.len()
    }

    fn get(&self, at: usize) -> Option<&Event> {
        at.checked_sub(self.base).and_then(|i| self.messages.get(i))
    }

    fn drop_before(&mut self, at: usize) {
        while self.base < at && self.messages.pop_front().is_some() {
            self.base += 1;
        }
    }
}

#[derive(Default)]
struct Log {
    topics: HashMap<String, TopicLog>,
    /// Committed position per (group, topic).
    committed: HashMap<(String, String), usize>,
}

#[derive(Clone, Default)]
pub struct InProcessBus {
    log: Arc<Mutex<Log>>,
    appended: Arc<Notify>,
}

impl InProcessBus {
    /// The bus every service of this process shares when no broker is configured.
    pub fn shared() -> Self {
        static SHARED: OnceLock<InProcessBus> = OnceLock::new();
        SHARED.get_or_init(Self::default).clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A member of `options.group`, starting at the group's committed position.
    pub fn subscription(&self, options: &SubscribeOptions) -> InProcessSubscription {
        let mut log = self.lock();
        let mut positions = Vec::new();
        for topic in &options.topics {
            let key = (options.group.clone(), topic.clone());
            let start = match (log.committed.get(&key), options.start_at) {
                (Some(at), _) => *at,
                (None, StartAt::Earliest) => log.topics.get(topic).map_or(0, |t| t.base),
                (None, StartAt::Latest) => log.topics.get(topic).map_or(0, TopicLog::end),
            };
            // Registered at once, so nothing it has yet to read is dropped for others.
            log.committed.insert(key, start);
            positions.push((topic.clone(), start));
        }
        InProcessSubscription {
            bus: self.clone(),
            group: options.group.clone(),
            positions,
        }
    }
}

#[async_trait]
impl Publisher for InProcessBus {
    async fn publish(&self, event: &Event) -> Result<(), BusError> {
        let mut log = self.lock();
        let consumed = log.committed.keys().any(|(_, topic)| *topic == event.topic);
        let topic = log.topics.entry(event.topic.clone()).or_default();
        topic.messages.push_back(event.clone());
        if !consumed && topic.messages.len() > UNCONSUMED_KEPT {
            let keep_from = topic.end() - UNCONSUMED_KEPT;
            topic.drop_before(keep_from);
        }
        drop(log);
        self.appended.notify_waiters();
        Ok(())
    }
}

pub struct InProcessSubscription {
    bus: InProcessBus,
    group: String,
    positions: Vec<(String, usize)>,
}

impl InProcessSubscription {
    fn take(&mut self, max: usize) -> Vec<Delivery> {
        let log = self.bus.lock();
        let mut batch = Vec::new();
        for (topic, position) in &mut self.positions {
            let Some(messages) = log.topics.get(topic.as_str()) else {
                continue;
            };
            *position = (*position).max(messages.base);
            while batch.len() < max {
                let Some(message) = messages.get(*position) else {
                    break;
                };
                batch.push(Delivery {
                    topic: topic.clone(),
                    payload: message.payload.clone(),
                });
                *position += 1;
            }
        }
        batch
    }
}

#[async_trait]
impl Subscription for InProcessSubscription {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        let appended = self.bus.appended.clone();
        let notified = appended.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let batch = self.take(max);
        if !batch.is_empty() {
            return Ok(batch);
        }
        let _ = tokio::time::timeout(wait, notified).await;
        Ok(self.take(max))
    }

    async fn commit(&mut self) -> Result<(), BusError> {
        let mut log = self.bus.lock();
        for (topic, position) in &self.positions {
            log.committed
                .insert((self.group.clone(), topic.clone()), *position);
            let everyone_past = log
                .committed
                .iter()
                .filter(|((_, t), _)| t == topic)
                .map(|(_, at)| *at)
                .min();
            if let (Some(at), Some(held)) = (everyone_past, log.topics.get_mut(topic)) {
                held.drop_before(at);
            }
        }
        Ok(())
    }

    async fn lag(&self) -> Option<Lag> {
        let log = self.bus.lock();
        let behind = self
            .positions
            .iter()
            .map(|(topic, at)| {
                log.topics
                    .get(topic)
                    .map_or(0, TopicLog::end)
                    .saturating_sub(*at) as u64
            })
            .sum();
        Some(Lag {
            behind,
            partitions: self.positions.len(),
            available: self.positions.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(topic: &str, n: u8) -> Event {
        Event {
            id: format!("{topic}-{n}"),
            topic: topic.into(),
            key: "k".into(),
            payload: vec![n],
        }
    }

    fn options(group: &str, start_at: StartAt) -> SubscribeOptions {
        SubscribeOptions {
            group: group.into(),
            topics: vec!["t".into()],
            start_at,
        }
    }

    #[tokio::test]
    async fn a_group_resumes_at_its_commit_and_latest_skips_the_past() {
        let bus = InProcessBus::default();
        for n in 0..3 {
            bus.publish(&message("t", n)).await.expect("published");
        }
        let mut first = bus.subscription(&options("g", StartAt::Earliest));
        let wait = Duration::from_millis(10);
        let got = first.next_batch(2, wait).await.expect("batch");
        assert_eq!(got.iter().map(|d| d.payload[0]).collect::<Vec<_>>(), [0, 1]);
        first.commit().await.expect("commit");
        assert_eq!(first.lag().await.map(|l| l.behind), Some(1));
        // Uncommitted reads are replayed to the next member; committed ones are not.
        first.next_batch(10, wait).await.expect("rest");
        let mut again = bus.subscription(&options("g", StartAt::Earliest));
        let got = again.next_batch(10, wait).await.expect("batch");
        assert_eq!(got.iter().map(|d| d.payload[0]).collect::<Vec<_>>(), [2]);
        let mut latest = bus.subscription(&options("other", StartAt::Latest));
        assert!(latest.next_batch(10, wait).await.expect("none").is_empty());
        bus.publish(&message("t", 9)).await.expect("published");
        let got = latest
            .next_batch(10, Duration::from_secs(5))
            .await
            .expect("new");
        assert_eq!(got.iter().map(|d| d.payload[0]).collect::<Vec<_>>(), [9]);
    }

    #[tokio::test]
    async fn what_every_group_has_committed_is_dropped() {
        let bus = InProcessBus::default();
        for n in 0..4 {
            bus.publish(&message("t", n)).await.expect("published");
        }
        let wait = Duration::from_millis(10);
        let mut fast = bus.subscription(&options("fast", StartAt::Earliest));
        let mut slow = bus.subscription(&options("slow", StartAt::Earliest));
        fast.next_batch(10, wait).await.expect("all four");
        fast.commit().await.expect("commit");
        slow.next_batch(1, wait).await.expect("one");
        slow.commit().await.expect("commit");
        let held = |bus: &InProcessBus| bus.lock().topics["t"].messages.len();
        assert_eq!(held(&bus), 3, "the slow group still needs three");
        let rest = slow.next_batch(10, wait).await.expect("rest");
        assert_eq!(
            rest.iter().map(|d| d.payload[0]).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        slow.commit().await.expect("commit");
        assert_eq!(held(&bus), 0);
        bus.publish(&message("t", 4)).await.expect("published");
        let got = fast.next_batch(10, wait).await.expect("new one");
        assert_eq!(got.iter().map(|d| d.payload[0]).collect::<Vec<_>>(), [4]);
    }
}
