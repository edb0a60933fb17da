//! The consumer loop every event consumer shares, after rust-rdkafka's `at_least_once` and
//! arroyo's `StreamProcessor`: join the group (retrying), read a batch, decode it (an
//! undecodable event is skipped and counted: it can never succeed, and holding the partition
//! for it would stop everything behind it), hand it to a [`Handler`], and commit only after
//! the handler's `Ok`. A failed batch is retried with backoff and never committed. The loop
//! reports lag, rejoins when stranded without partitions, and stops at a batch boundary once
//! the shutdown starts, so an unfinished batch is replayed by whoever reads next.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{BusError, Delivery, Lag, Subscription};
use crate::shutdown::Shutdown;

/// Why a handler could not finish a batch; the loop retries it.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// What a consumer does with its events.
#[async_trait]
pub trait Handler: Send {
    /// The protobuf event the topic carries.
    type Event: prost::Message + Default + Send + Sync + 'static;

    /// Handles one batch, in order. `Ok` commits it; `Err` hands the same batch again after
    /// a backoff, so the effects must be idempotent (deduplicate by event id).
    async fn handle(&mut self, events: &[Self::Event]) -> Result<(), HandlerError>;
}

/// How many group members are alive, as some outside source (the registry) counts them.
pub type LiveMembers = Box<dyn Fn() -> usize + Send + Sync>;

/// Exponential backoff between retries.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    fn after(&self, last: Duration) -> Duration {
        (last * 2).min(self.max)
    }
}

pub const DEFAULT_BATCH_MAX: usize = 1000;
pub const DEFAULT_POLL_WAIT: Duration = Duration::from_millis(500);
pub const DEFAULT_RETRY: Backoff = Backoff {
    first: Duration::from_millis(100),
    max: Duration::from_secs(5),
};
/// How long a member may hold no partition while the group has one to spare before it
/// leaves and joins again. Some brokers (Tansu 0.6) leave a member that joined while the old
/// leader was dying with an empty assignment and never rebalance it.
pub const DEFAULT_STRANDED_AFTER: Duration = Duration::from_secs(10);
pub const DEFAULT_REPORT_EVERY: Duration = Duration::from_secs(2);

/// How a [`consume`] loop reads and reports.
pub struct ConsumeOptions {
    /// Names the consumer in logs and in the `consumer` label of its metrics.
    pub name: &'static str,
    pub batch_max: usize,
    /// How long one poll waits for a first event.
    pub poll_wait: Duration,
    /// Between failed joins, polls and handler calls.
    pub retry: Backoff,
    /// When set, a member holding no partition rejoins if the group has no more live members
    /// than partitions. Unset for a group of one.
    pub live_members: Option<LiveMembers>,
    pub stranded_after: Duration,
    /// How often lag is reported and stranding checked.
    pub report_every: Duration,
}

impl ConsumeOptions {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            batch_max: DEFAULT_BATCH_MAX,
            poll_wait: DEFAULT_POLL_WAIT,
            retry: DEFAULT_RETRY,
            live_members: None,
            stranded_after: DEFAULT_STRANDED_AFTER,
            report_every: DEFAULT_REPORT_EVERY,
        }
    }

    pub fn live_members(mut self, count: impl Fn() -> usize + Send + Sync + 'static) -> Self {
        self.live_members = Some(Box::new(count));
        self
    }
}

/// Makes a fresh group member: the loop calls it again to rejoin after an error.
pub type Subscribe = Box<dyn Fn() -> Result<Box<dyn Subscription>, BusError> + Send + Sync>;

/// Members of `options.group` on Kafka at `brokers`, or on the in-process bus when unset.
pub fn subscriber(brokers: Option<String>, options: super::SubscribeOptions) -> Subscribe {
    Box::new(move || super::subscribe(brokers.as_deref(), options.clone()))
}

/// Runs `handler` over the events of a group member made by `subscribe` until `shutdown`
/// starts. Spawn it through [`Shutdown::spawn`].
pub async fn consume<S, H>(
    subscribe: S,
    mut handler: H,
    options: ConsumeOptions,
    shutdown: Shutdown,
) where
    S: Fn() -> Result<Box<dyn Subscription>, BusError> + Send + Sync,
    H: Handler,
{
    let Some(subscription) = join(&subscribe, &options, &shutdown).await else {
        return;
    };
    let mut member = Member {
        subscription,
        reported: Instant::now(),
        stranding: Stranding::default(),
    };
    let mut poll_backoff = options.retry.first;
    loop {
        let polled = tokio::select! {
            polled = member.subscription.next_batch(options.batch_max, options.poll_wait) => polled,
            _ = shutdown.wait() => return,
        };
        match polled {
            Ok(deliveries) => {
                poll_backoff = options.retry.first;
                let subscription = member.subscription.as_mut();
                if !deliveries.is_empty()
                    && !handle_then_commit(
                        &mut handler,
                        subscription,
                        &deliveries,
                        &options,
                        &shutdown,
                    )
                    .await
                {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(consumer = options.name, %error, "events unavailable; retrying");
                if !pause(poll_backoff, &shutdown).await {
                    return;
                }
                poll_backoff = options.retry.after(poll_backoff);
                continue;
            }
        }
        // Asking the broker for lag can take seconds; the shutdown does not wait for it.
        tokio::select! {
            _ = member.tend(&subscribe, &options) => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// A first group member, retried until the bus takes it or the shutdown starts.
async fn join<S>(
    subscribe: &S,
    options: &ConsumeOptions,
    shutdown: &Shutdown,
) -> Option<Box<dyn Subscription>>
where
    S: Fn() -> Result<Box<dyn Subscription>, BusError>,
{
    let mut backoff = options.retry.first;
    loop {
        match subscribe() {
            Ok(subscription) => return Some(subscription),
            Err(error) => {
                tracing::warn!(consumer = options.name, %error, "cannot join the group yet; retrying");
                if !pause(backoff, shutdown).await {
                    return None;
                }
                backoff = options.retry.after(backoff);
            }
        }
    }
}

/// Sleeps `pause`; false when the shutdown started first.
async fn pause(pause: Duration, shutdown: &Shutdown) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(pause) => true,
        _ = shutdown.wait() => false,
    }
}

/// Decodes, handles until the handler succeeds, then commits. False when the shutdown
/// started before the handler succeeded: nothing is committed and the batch is replayed.
async fn handle_then_commit<H: Handler>(
    handler: &mut H,
    subscription: &mut dyn Subscription,
    deliveries: &[Delivery],
    options: &ConsumeOptions,
    shutdown: &Shutdown,
) -> bool {
    let events = decode_all::<H::Event>(deliveries, options.name);
    let mut backoff = options.retry.first;
    while !events.is_empty() {
        let Err(error) = handler.handle(&events).await else {
            break;
        };
        metrics::counter!("votemesh_consumer_handler_failures_total", "consumer" => options.name)
            .increment(1);
        tracing::warn!(consumer = options.name, %error, "handling a batch failed; retrying it");
        if !pause(backoff, shutdown).await {
            return false;
        }
        backoff = options.retry.after(backoff);
    }
    if let Err(error) = subscription.commit().await {
        tracing::warn!(consumer = options.name, %error, "offset commit failed; the batch will be replayed");
    }
    true
}

fn decode_all<E: prost::Message + Default>(
    deliveries: &[Delivery],
    consumer: &'static str,
) -> Vec<E> {
    deliveries
        .iter()
        .filter_map(|delivery| match E::decode(delivery.payload.as_slice()) {
            Ok(event) => Some(event),
            Err(error) => {
                tracing::error!(consumer, topic = %delivery.topic, %error, "undecodable event skipped");
                metrics::counter!("votemesh_consumer_undecodable_events_total", "consumer" => consumer)
                    .increment(1);
                None
            }
        })
        .collect()
}

/// The current group member and what the loop tracks about it.
struct Member {
    subscription: Box<dyn Subscription>,
    reported: Instant,
    stranding: Stranding,
}

impl Member {
    /// Every [`ConsumeOptions::report_every`]: reports lag, and rejoins when stranded.
    async fn tend<S>(&mut self, subscribe: &S, options: &ConsumeOptions)
    where
        S: Fn() -> Result<Box<dyn Subscription>, BusError>,
    {
        if self.reported.elapsed() < options.report_every {
            return;
        }
        self.reported = Instant::now();
        let Some(lag) = self.subscription.lag().await else {
            return;
        };
        metrics::gauge!("votemesh_consumer_lag", "consumer" => options.name).set(lag.behind as f64);
        metrics::gauge!("votemesh_consumer_partitions", "consumer" => options.name)
            .set(lag.partitions as f64);
        let Some(live_members) = &options.live_members else {
            return;
        };
        if !self
            .stranding
            .check(&lag, live_members().max(1), options.stranded_after)
        {
            return;
        }
        tracing::warn!(
            consumer = options.name,
            "holding no partition while the group has one to spare; rejoining"
        );
        metrics::counter!("votemesh_consumer_rejoins_total", "consumer" => options.name)
            .increment(1);
        match subscribe() {
            Ok(fresh) => {
                // The old member leaves as it drops; the new one joins afresh.
                self.subscription = fresh;
                self.stranding = Stranding::default();
            }
            Err(error) => {
                tracing::warn!(consumer = options.name, %error, "rejoining failed; trying again later")
            }
        }
    }
}

/// Watches for a member stranded without partitions.
#[derive(Default)]
struct Stranding {
    since: Option<Instant>,
}

impl Stranding {
    /// True when the member should rejoin: it has held nothing for `after` although the
    /// group has no more live members than partitions.
    fn check(&mut self, lag: &Lag, live_members: usize, after: Duration) -> bool {
        let stranded = lag.partitions == 0 && lag.available > 0 && live_members <= lag.available;
        match (stranded, self.since) {
            (false, _) => {
                self.since = None;
                false
            }
            (true, None) => {
                self.since = Some(Instant::now());
                after.is_zero()
            }
            (true, Some(since)) => since.elapsed() >= after,
        }
    }
}

#[cfg(test)]
mod tests;
