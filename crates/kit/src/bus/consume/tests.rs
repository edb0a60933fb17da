use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc, Mutex,
};

use prost::Message;
use proto_gen::events::v1::ElectionStatusChanged;
use tokio::sync::oneshot;

use super::*;
use crate::bus::{Event, InProcessBus, Publisher, StartAt, SubscribeOptions};

/// Records each batch's event versions; fails the first `failures` calls.
#[derive(Default)]
struct Recorder {
    seen: Arc<Mutex<Vec<Vec<u64>>>>,
    failures: usize,
    delay: Duration,
    started: Option<oneshot::Sender<()>>,
}

#[async_trait]
impl Handler for Recorder {
    type Event = ElectionStatusChanged;

    async fn handle(&mut self, events: &[ElectionStatusChanged]) -> Result<(), HandlerError> {
        let versions = events.iter().map(|e| e.version).collect();
        self.seen.lock().expect("seen").push(versions);
        if let Some(started) = self.started.take() {
            let _ = started.send(());
        }
        tokio::time::sleep(self.delay).await;
        if self.failures > 0 {
            self.failures -= 1;
            return Err("not yet".into());
        }
        Ok(())
    }
}

fn group() -> SubscribeOptions {
    SubscribeOptions {
        group: "g".into(),
        topics: vec!["t".into()],
        start_at: StartAt::Earliest,
    }
}

fn fast() -> ConsumeOptions {
    ConsumeOptions {
        poll_wait: Duration::from_millis(20),
        retry: Backoff {
            first: Duration::from_millis(5),
            max: Duration::from_millis(20),
        },
        ..ConsumeOptions::new("test")
    }
}

fn event(version: u64) -> Vec<u8> {
    ElectionStatusChanged {
        version,
        ..Default::default()
    }
    .encode_to_vec()
}

async fn publish(bus: &InProcessBus, payloads: Vec<Vec<u8>>) {
    for payload in payloads {
        let message = Event {
            id: uuid::Uuid::new_v4().to_string(),
            topic: "t".into(),
            key: "k".into(),
            payload,
        };
        bus.publish(&message).await.expect("published");
    }
}

fn run(bus: &InProcessBus, handler: Recorder, shutdown: &Shutdown) {
    let bus = bus.clone();
    let subscribe = move || Ok(Box::new(bus.subscription(&group())) as Box<dyn Subscription>);
    shutdown.spawn(
        "test consumer",
        consume(subscribe, handler, fast(), shutdown.clone()),
    );
}

async fn until_seen(seen: &Mutex<Vec<Vec<u64>>>, calls: usize) {
    for _ in 0..500 {
        if seen.lock().expect("seen").len() >= calls {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the handler was called fewer than {calls} times");
}

/// What a new member of the group reads: everything not committed.
async fn uncommitted(bus: &InProcessBus) -> Vec<u64> {
    let mut member = bus.subscription(&group());
    let batch = member
        .next_batch(100, Duration::from_millis(20))
        .await
        .expect("batch");
    decode_all::<ElectionStatusChanged>(&batch, "test")
        .iter()
        .map(|e| e.version)
        .collect()
}

async fn stop(shutdown: &Shutdown) {
    shutdown.trigger();
    assert!(
        shutdown.drained(Duration::from_secs(2)).await,
        "the loop stopped"
    );
}

#[tokio::test]
async fn a_failed_batch_is_handed_again_and_committed_only_after_ok() {
    let (bus, shutdown) = (InProcessBus::default(), Shutdown::new());
    publish(&bus, vec![event(1), event(2), event(3)]).await;
    let handler = Recorder {
        failures: 2,
        ..Default::default()
    };
    let seen = handler.seen.clone();
    run(&bus, handler, &shutdown);
    until_seen(&seen, 3).await;
    stop(&shutdown).await;
    assert_eq!(*seen.lock().expect("seen"), vec![vec![1, 2, 3]; 3]);
    assert!(uncommitted(&bus).await.is_empty(), "committed after the Ok");
}

#[tokio::test]
async fn nothing_is_committed_while_the_handler_fails_and_the_loop_stops_on_shutdown() {
    let (bus, shutdown) = (InProcessBus::default(), Shutdown::new());
    publish(&bus, vec![event(1), event(2)]).await;
    let handler = Recorder {
        failures: usize::MAX,
        ..Default::default()
    };
    let seen = handler.seen.clone();
    run(&bus, handler, &shutdown);
    until_seen(&seen, 2).await;
    stop(&shutdown).await;
    assert_eq!(
        uncommitted(&bus).await,
        [1, 2],
        "replayed to the next member"
    );
}

#[tokio::test]
async fn a_batch_in_progress_finishes_and_commits_before_the_loop_stops() {
    let (bus, shutdown) = (InProcessBus::default(), Shutdown::new());
    publish(&bus, vec![event(1)]).await;
    let (started, handling) = oneshot::channel();
    let handler = Recorder {
        delay: Duration::from_millis(200),
        started: Some(started),
        ..Default::default()
    };
    let seen = handler.seen.clone();
    run(&bus, handler, &shutdown);
    handling.await.expect("handling");
    stop(&shutdown).await;
    assert_eq!(seen.lock().expect("seen").len(), 1);
    assert!(
        uncommitted(&bus).await.is_empty(),
        "the batch was committed"
    );
}

#[tokio::test]
async fn undecodable_events_are_skipped_and_committed() {
    let (bus, shutdown) = (InProcessBus::default(), Shutdown::new());
    // Claims a 100-byte string but holds one byte.
    publish(&bus, vec![vec![0x0a, 0x64, 0x01], event(5)]).await;
    let handler = Recorder::default();
    let seen = handler.seen.clone();
    run(&bus, handler, &shutdown);
    until_seen(&seen, 1).await;
    stop(&shutdown).await;
    assert_eq!(*seen.lock().expect("seen"), [[5]]);
    let mut member = bus.subscription(&group());
    let left = member.next_batch(10, Duration::from_millis(20)).await;
    assert!(
        left.expect("batch").is_empty(),
        "the bad event was committed too"
    );
}

#[tokio::test]
async fn joining_is_retried_until_the_bus_takes_it() {
    let (bus, shutdown) = (InProcessBus::default(), Shutdown::new());
    publish(&bus, vec![event(7)]).await;
    let attempts = Arc::new(AtomicUsize::new(0));
    let subscribe = {
        let (bus, attempts) = (bus.clone(), attempts.clone());
        move || {
            if attempts.fetch_add(1, Ordering::SeqCst) < 2 {
                return Err(BusError::Config("broker down".into()));
            }
            Ok(Box::new(bus.subscription(&group())) as Box<dyn Subscription>)
        }
    };
    let handler = Recorder::default();
    let seen = handler.seen.clone();
    shutdown.spawn(
        "test consumer",
        consume(subscribe, handler, fast(), shutdown.clone()),
    );
    until_seen(&seen, 1).await;
    stop(&shutdown).await;
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
}

/// A member the group never gives a partition.
struct Stranded;

#[async_trait]
impl Subscription for Stranded {
    async fn next_batch(&mut self, _: usize, wait: Duration) -> Result<Vec<Delivery>, BusError> {
        tokio::time::sleep(wait).await;
        Ok(Vec::new())
    }
    async fn commit(&mut self) -> Result<(), BusError> {
        Ok(())
    }
    async fn lag(&self) -> Option<Lag> {
        Some(lag(0, 1))
    }
}

fn lag(partitions: usize, available: usize) -> Lag {
    Lag {
        behind: 0,
        partitions,
        available,
    }
}

#[tokio::test]
async fn a_stranded_member_rejoins_when_the_group_has_room() {
    let shutdown = Shutdown::new();
    let joins = Arc::new(AtomicUsize::new(0));
    let subscribe = {
        let joins = joins.clone();
        move || {
            joins.fetch_add(1, Ordering::SeqCst);
            Ok(Box::new(Stranded) as Box<dyn Subscription>)
        }
    };
    let options = ConsumeOptions {
        report_every: Duration::ZERO,
        stranded_after: Duration::ZERO,
        ..fast()
    }
    .live_members(|| 1);
    let consumer = consume(subscribe, Recorder::default(), options, shutdown.clone());
    shutdown.spawn("test consumer", consumer);
    for _ in 0..200 {
        if joins.load(Ordering::SeqCst) >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop(&shutdown).await;
    assert!(joins.load(Ordering::SeqCst) >= 3, "rejoined");
}

#[test]
fn only_a_member_without_partitions_in_a_group_with_room_rejoins() {
    let after = DEFAULT_STRANDED_AFTER;
    let mut stranding = Stranding::default();
    assert!(
        !stranding.check(&lag(0, 3), 2, after),
        "first sighting starts the clock"
    );
    stranding.since = Some(Instant::now() - after);
    assert!(stranding.check(&lag(0, 3), 2, after));
    assert!(
        !stranding.check(&lag(1, 3), 2, after),
        "holding a partition resets it"
    );
    stranding.since = Some(Instant::now() - after);
    assert!(
        !stranding.check(&lag(0, 3), 4, after),
        "more members than partitions: idle is fine"
    );
}
