//! One watch channel per watched election: an announced snapshot wakes only its election's
//! watchers, instead of every watcher hearing every election and filtering. A channel is
//! made for an election's first watcher and removed when its last one leaves. It holds the
//! newest snapshot announced and never takes an older one, so a slow watcher skips ahead.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, MutexGuard},
};

use proto_gen::result::v1::GetResultsResponse;
use tokio::sync::watch;

type Newest = Option<GetResultsResponse>;

/// The watched elections of one process.
#[derive(Clone, Default)]
pub struct Watchers {
    channels: Arc<Mutex<HashMap<String, watch::Sender<Newest>>>>,
}

impl Watchers {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<Newest>>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A watcher of `election_id`: it hears snapshots announced from now on.
    pub fn watch(&self, election_id: &str) -> ElectionWatch {
        let receiver = self
            .lock()
            .entry(election_id.to_owned())
            .or_insert_with(|| watch::channel(None).0)
            .subscribe();
        ElectionWatch {
            election_id: election_id.to_owned(),
            receiver: Some(receiver),
            watchers: self.clone(),
        }
    }

    /// Hands `snapshot` to its election's watchers, if it has any and they hold nothing newer.
    pub fn announce(&self, snapshot: &GetResultsResponse) {
        if let Some(sender) = self.lock().get(&snapshot.election_id) {
            sender.send_if_modified(|newest| {
                let newer = is_newer(snapshot, newest.as_ref());
                if newer {
                    *newest = Some(snapshot.clone());
                }
                newer
            });
        }
    }

    /// Elections with at least one watcher.
    pub fn watched(&self) -> usize {
        self.lock().len()
    }
}

/// Whether `snapshot` shows a later count than `than`: more ballots, or as many applied
/// later (counts only grow, so an older snapshot never replaces a newer one).
pub fn is_newer(snapshot: &GetResultsResponse, than: Option<&GetResultsResponse>) -> bool {
    let Some(than) = than else {
        return true;
    };
    let as_of = |s: &GetResultsResponse| s.as_of.map(|t| (t.seconds, t.nanos));
    snapshot.total_ballots > than.total_ballots
        || (snapshot.total_ballots == than.total_ballots && as_of(snapshot) > as_of(than))
}

/// One watcher of one election; leaving (drop) removes the channel once nobody watches.
pub struct ElectionWatch {
    election_id: String,
    receiver: Option<watch::Receiver<Newest>>,
    watchers: Watchers,
}

impl ElectionWatch {
    /// Waits until a newer snapshot is announced; false if the channel is gone.
    pub async fn changed(&mut self) -> bool {
        match self.receiver.as_mut() {
            Some(receiver) => receiver.changed().await.is_ok(),
            None => false,
        }
    }

    /// The newest snapshot announced, marked as seen.
    pub fn newest(&mut self) -> Option<GetResultsResponse> {
        self.receiver
            .as_mut()
            .and_then(|receiver| receiver.borrow_and_update().clone())
    }
}

impl Drop for ElectionWatch {
    fn drop(&mut self) {
        // Unsubscribe first, so the count below no longer includes this watcher.
        drop(self.receiver.take());
        let mut channels = self.watchers.lock();
        let abandoned = channels
            .get(&self.election_id)
            .is_some_and(|sender| sender.receiver_count() == 0);
        if abandoned {
            channels.remove(&self.election_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(election: &str, total: u64) -> GetResultsResponse {
        GetResultsResponse {
            election_id: election.into(),
            total_ballots: total,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_watcher_hears_only_its_election_and_never_an_older_count() {
        let watchers = Watchers::default();
        let mut watch = watchers.watch("e1");
        watchers.announce(&snapshot("e2", 5));
        watchers.announce(&snapshot("e1", 3));
        watchers.announce(&snapshot("e1", 2));
        assert!(watch.changed().await);
        assert_eq!(watch.newest().map(|s| s.total_ballots), Some(3));
        watchers.announce(&snapshot("e1", 3));
        let again = tokio::time::timeout(std::time::Duration::from_millis(50), watch.changed());
        assert!(again.await.is_err(), "nothing newer was announced");
    }

    #[test]
    fn the_channel_goes_when_the_last_watcher_leaves() {
        let watchers = Watchers::default();
        let first = watchers.watch("e");
        let second = watchers.watch("e");
        assert_eq!(watchers.watched(), 1);
        drop(first);
        assert_eq!(watchers.watched(), 1, "one watcher is left");
        drop(second);
        assert_eq!(watchers.watched(), 0);
        // Announcing an election nobody watches makes no channel.
        watchers.announce(&snapshot("e", 1));
        assert_eq!(watchers.watched(), 0);
    }
}
