//! Client-side balancing over the instances the registry reports live: a watch stream feeds
//! a round-robin set of lazily connected channels. While the registry is unreachable the
//! last known set is kept, as Eureka clients do.

use std::{
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, RwLock, Weak,
    },
    time::Duration,
};

use proto_gen::registry::v1::{Instance, WatchRequest};
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, DropGuard};
use tonic::transport::Channel;

use crate::internal::{endpoint, RegistryClient};

#[derive(Clone)]
struct Member {
    instance_id: String,
    address: String,
    channel: Channel,
}

struct Shared {
    members: RwLock<Vec<Member>>,
    next: AtomicUsize,
    /// Set once the first snapshot arrived: from then on an empty set is an answer, not a wait.
    snapshot_seen: AtomicBool,
    changed: Notify,
    /// Tells the watch task to stop when the last clone goes; it is never aborted.
    _release_watch: DropGuard,
}

/// A balanced set of channels to one service's live instances.
#[derive(Clone)]
pub struct Balanced {
    service: Arc<str>,
    shared: Arc<Shared>,
}

impl Balanced {
    fn empty(service: &str, released: &CancellationToken) -> Self {
        Self {
            service: service.into(),
            shared: Arc::new(Shared {
                members: RwLock::new(Vec::new()),
                next: AtomicUsize::new(0),
                snapshot_seen: AtomicBool::new(false),
                changed: Notify::new(),
                _release_watch: released.clone().drop_guard(),
            }),
        }
    }

    /// Follows `service` in the registry for as long as a clone of the result lives. The set
    /// is the owner's, not the process's: it ends with its last clone, after the owner's
    /// drain, so calls still finishing during a drain keep their instances.
    pub fn watch(registry: RegistryClient, service: &str, call_timeout: Duration) -> Self {
        let released = CancellationToken::new();
        let balanced = Self::empty(service, &released);
        let follow = follow(
            registry,
            service.to_owned(),
            Arc::downgrade(&balanced.shared),
            call_timeout,
        );
        tokio::spawn(async move {
            tokio::select! {
                _ = follow => {}
                _ = released.cancelled() => {}
            }
        });
        balanced
    }

    /// A fixed set of addresses, for tools and tests that bypass the registry.
    pub fn fixed(service: &str, addresses: &[String], call_timeout: Duration) -> Self {
        let balanced = Self::empty(service, &CancellationToken::new());
        let instances: Vec<Instance> = addresses
            .iter()
            .enumerate()
            .map(|(i, address)| Instance {
                service: service.to_owned(),
                instance_id: i.to_string(),
                address: address.clone(),
                metadata: Default::default(),
            })
            .collect();
        apply(&balanced.shared, &instances, call_timeout);
        balanced
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    /// The next live instance's channel, round-robin.
    pub fn pick(&self) -> Option<Channel> {
        let members = self.shared.members.read().ok()?;
        if members.is_empty() {
            return None;
        }
        let index = self.shared.next.fetch_add(1, Ordering::Relaxed) % members.len();
        Some(members[index].channel.clone())
    }

    /// Like [`pick`](Self::pick), but waits up to `timeout` for a first instance to appear.
    pub async fn pick_within(&self, timeout: Duration) -> Option<Channel> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.changed.notified();
            if let Some(channel) = self.pick() {
                return Some(channel);
            }
            if self.shared.snapshot_seen.load(Ordering::Acquire) {
                return None;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }

    /// The addresses currently in rotation.
    pub fn addresses(&self) -> Vec<String> {
        self.shared
            .members
            .read()
            .map(|members| members.iter().map(|m| m.address.clone()).collect())
            .unwrap_or_default()
    }
}

/// Applies the registry's snapshots of `service` until the set is released.
async fn follow(
    mut registry: RegistryClient,
    service: String,
    shared: Weak<Shared>,
    call_timeout: Duration,
) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let request = WatchRequest {
            service: service.clone(),
        };
        match registry.watch(request).await {
            Ok(response) => {
                backoff = Duration::from_millis(100);
                let mut stream = response.into_inner();
                loop {
                    match stream.message().await {
                        Ok(Some(snapshot)) => {
                            let Some(shared) = shared.upgrade() else {
                                return;
                            };
                            apply(&shared, &snapshot.instances, call_timeout);
                        }
                        Ok(None) => break,
                        Err(status) => {
                            tracing::warn!(%service, %status, "registry watch broke; keeping last known instances");
                            break;
                        }
                    }
                }
            }
            Err(status) => {
                tracing::debug!(%service, %status, "registry unreachable; retrying")
            }
        }
        if shared.strong_count() == 0 {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(2));
    }
}

fn apply(shared: &Shared, instances: &[Instance], call_timeout: Duration) {
    let Ok(mut members) = shared.members.write() else {
        return;
    };
    let previous = std::mem::take(&mut *members);
    for instance in instances {
        let reused = previous
            .iter()
            .find(|m| m.instance_id == instance.instance_id && m.address == instance.address);
        let member = match reused {
            Some(member) => member.clone(),
            None => match endpoint(&instance.address, call_timeout) {
                Ok(endpoint) => Member {
                    instance_id: instance.instance_id.clone(),
                    address: instance.address.clone(),
                    channel: endpoint.connect_lazy(),
                },
                Err(error) => {
                    tracing::warn!(address = %instance.address, %error, "skipping instance with a bad address");
                    continue;
                }
            },
        };
        members.push(member);
    }
    drop(members);
    shared.snapshot_seen.store(true, Ordering::Release);
    shared.changed.notify_waiters();
}
