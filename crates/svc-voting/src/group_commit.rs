//! Group commit: concurrent casts share one transaction, so the database pays one commit
//! for many ballots. The transaction is [`SeaVotingStore::write`], the same one a single
//! cast uses, so each cast's duplicate check is still its own.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use kit::shutdown::Shutdown;
use sea_orm::DbErr;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::store::{Cast, CastError, ReceiptStatus, Recorded, SeaVotingStore, VotingStore};

type Reply = oneshot::Sender<Result<(), CastError>>;

pub struct GroupCommit {
    store: SeaVotingStore,
    queue: mpsc::Sender<(Cast, Reply)>,
}

/// The workers that commit what [`GroupCommit`] queues; they run once spawned.
#[must_use = "casts wait for workers: spawn them"]
pub struct CommitWorkers {
    store: SeaVotingStore,
    receiver: mpsc::Receiver<(Cast, Reply)>,
    workers: usize,
    max_batch: usize,
}

impl GroupCommit {
    /// `workers` transactions in flight at once, each with up to `max_batch` casts, once the
    /// returned workers are spawned.
    pub fn new(store: SeaVotingStore, workers: usize, max_batch: usize) -> (Self, CommitWorkers) {
        let (queue, receiver) = mpsc::channel::<(Cast, Reply)>(max_batch * workers * 2);
        let workers = CommitWorkers {
            store: store.clone(),
            receiver,
            workers: workers.max(1),
            max_batch,
        };
        (Self { store, queue }, workers)
    }
}

impl CommitWorkers {
    /// Spawns the workers as drain-tracked tasks. Once the shutdown has started and the
    /// servers have finished their calls the queue closes: what is already queued still
    /// commits, later casts are refused as unavailable.
    pub fn spawn(self, shutdown: &Shutdown) {
        let receiver = Arc::new(Mutex::new(self.receiver));
        for _ in 0..self.workers {
            let (store, receiver) = (self.store.clone(), receiver.clone());
            let (max_batch, stop) = (self.max_batch, shutdown.clone());
            shutdown.spawn("group commit worker", async move {
                while let Some(batch) = next_batch(&receiver, max_batch, &stop).await {
                    commit(&store, batch).await;
                }
            });
        }
    }
}

/// The next batch, or `None` once the queue is closed and empty.
async fn next_batch(
    receiver: &Mutex<mpsc::Receiver<(Cast, Reply)>>,
    max_batch: usize,
    shutdown: &Shutdown,
) -> Option<Vec<(Cast, Reply)>> {
    let mut receiver = receiver.lock().await;
    let first = tokio::select! {
        biased;
        next = receiver.recv() => next,
        // Calls still being served may bring casts until the server has drained them.
        _ = shutdown.calls_drained() => {
            receiver.close();
            receiver.recv().await
        }
    }?;
    let mut batch = vec![first];
    // Whatever queued while the last batch committed joins this one; a lone cast never
    // waits for company.
    while batch.len() < max_batch {
        match receiver.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// Commits a batch; if the shared transaction fails, each cast is tried on its own so one
/// bad row cannot sink the others.
async fn commit(store: &SeaVotingStore, batch: Vec<(Cast, Reply)>) {
    let (casts, replies): (Vec<Cast>, Vec<Reply>) = batch.into_iter().unzip();
    metrics::histogram!("votemesh_cast_batch_size").record(casts.len() as f64);
    match store.write(&casts).await {
        Ok(recorded) => {
            for (i, reply) in replies.into_iter().enumerate() {
                let outcome = if recorded.contains(&i) {
                    Ok(())
                } else {
                    Err(CastError::AlreadyVoted)
                };
                let _ = reply.send(outcome);
            }
        }
        Err(error) => {
            tracing::warn!(%error, size = casts.len(), "group commit failed; casting one by one");
            for (cast, reply) in casts.into_iter().zip(replies) {
                let _ = reply.send(store.cast(cast).await);
            }
        }
    }
}

/// How long a cast may wait for its batch before the caller gives up on it.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

#[async_trait]
impl VotingStore for GroupCommit {
    async fn cast(&self, cast: Cast) -> Result<(), CastError> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .send((cast, reply))
            .await
            .map_err(|_| CastError::Unavailable("this instance is shutting down".into()))?;
        match tokio::time::timeout(QUEUE_TIMEOUT, outcome).await {
            Ok(Ok(outcome)) => outcome,
            // The batch may still commit; the caller sees an error and a retry gets the
            // database's answer (ALREADY_EXISTS if it did).
            _ => Err(CastError::Unavailable(
                "the cast's batch did not answer in time".into(),
            )),
        }
    }

    async fn participation(&self, election_id: &str, voter_id: &str) -> Result<Option<i64>, DbErr> {
        self.store.participation(election_id, voter_id).await
    }

    async fn voted_among(
        &self,
        election_id: &str,
        voter_ids: &[String],
    ) -> Result<Vec<String>, DbErr> {
        self.store.voted_among(election_id, voter_ids).await
    }

    async fn receipt(&self, receipt_hash: &str) -> Result<Option<ReceiptStatus>, DbErr> {
        self.store.receipt(receipt_hash).await
    }

    async fn counts(&self, election_id: &str) -> Result<Recorded, DbErr> {
        self.store.counts(election_id).await
    }
}

#[cfg(test)]
mod tests {
    use kit::bus::Event;

    use super::*;

    fn cast(voter: &str) -> Cast {
        Cast {
            election_id: "e1".into(),
            voter_id: voter.into(),
            cast_at_ms: 1,
            receipt_hash: format!("hash-{voter}"),
            sealed: vec![1, 2, 3],
            events: vec![Event {
                id: format!("event-{voter}"),
                topic: "ballots".into(),
                key: "e1".into(),
                payload: vec![1],
            }],
        }
    }

    #[tokio::test]
    async fn queued_casts_commit_at_shutdown_and_later_ones_are_refused() {
        // One connection, so the in-memory database is the same for every statement.
        let store = SeaVotingStore::open("sqlite::memory:", 1)
            .await
            .expect("store");
        let (group, workers) = GroupCommit::new(store, 2, 8);
        let group = Arc::new(group);
        let queued: Vec<_> = ["ada", "bob", "cy"]
            .into_iter()
            .map(|voter| {
                let group = group.clone();
                tokio::spawn(async move { group.cast(cast(voter)).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let shutdown = Shutdown::new();
        shutdown.trigger();
        workers.spawn(&shutdown);
        for cast in queued {
            assert!(cast.await.expect("joined").is_ok(), "a queued cast commits");
        }
        assert!(
            shutdown.drained(Duration::from_secs(5)).await,
            "the workers stop once the queue is empty"
        );
        assert!(matches!(
            group.cast(cast("dee")).await,
            Err(CastError::Unavailable(_))
        ));
        assert_eq!(group.counts("e1").await.expect("counts").ballots, 3);
    }
}
