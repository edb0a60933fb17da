//! Group commit: concurrent casts share one transaction, so the database pays one commit
//! for many ballots. Each cast's duplicate check is still its own: the participation insert
//! reports which rows were new, and only those casts write a ballot. Ballots and outbox rows
//! go in shuffled, so their physical order says nothing about the order of participations.

use std::{collections::HashSet, sync::Arc, time::Duration};

use async_trait::async_trait;
use kit::db::placeholder_rows;
use rand::seq::SliceRandom;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, TransactionTrait, Value};
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::store::{Cast, CastError, SeaVotingStore, VotingStore};

type Reply = oneshot::Sender<Result<(), CastError>>;

pub struct GroupCommit {
    store: SeaVotingStore,
    queue: mpsc::Sender<(Cast, Reply)>,
}

impl GroupCommit {
    /// `workers` transactions in flight at once, each with up to `max_batch` casts.
    pub fn new(store: SeaVotingStore, workers: usize, max_batch: usize) -> Self {
        let (queue, receiver) = mpsc::channel::<(Cast, Reply)>(max_batch * workers * 2);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..workers.max(1) {
            let (store, receiver) = (store.clone(), receiver.clone());
            tokio::spawn(async move {
                loop {
                    let batch = {
                        let mut receiver = receiver.lock().await;
                        let Some(first) = receiver.recv().await else {
                            return;
                        };
                        let mut batch = vec![first];
                        // Whatever queued while the last batch committed joins this one; a
                        // lone cast never waits for company.
                        while batch.len() < max_batch {
                            match receiver.try_recv() {
                                Ok(next) => batch.push(next),
                                Err(_) => break,
                            }
                        }
                        batch
                    };
                    commit(&store, batch).await;
                }
            });
        }
        Self { store, queue }
    }
}

/// Commits a batch; if the shared transaction fails, each cast is tried on its own so one
/// bad row cannot sink the others.
async fn commit(store: &SeaVotingStore, batch: Vec<(Cast, Reply)>) {
    let (casts, replies): (Vec<Cast>, Vec<Reply>) = batch.into_iter().unzip();
    metrics::histogram!("votemesh_cast_batch_size").record(casts.len() as f64);
    match write_batch(store.connection(), &casts).await {
        Ok(outcomes) => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
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

async fn write_batch(
    db: &DatabaseConnection,
    casts: &[Cast],
) -> Result<Vec<Result<(), CastError>>, DbErr> {
    let backend = db.get_database_backend();
    // Two casts by one voter in one batch: the first goes to the database, the second is a
    // duplicate whatever the database says.
    let mut keys = HashSet::new();
    let candidates: Vec<usize> = (0..casts.len())
        .filter(|&i| keys.insert((casts[i].election_id.as_str(), casts[i].voter_id.as_str())))
        .collect();
    let txn = db.begin().await?;
    let values: Vec<Value> = candidates
        .iter()
        .flat_map(|&i| {
            let c = &casts[i];
            [
                c.election_id.clone().into(),
                c.voter_id.clone().into(),
                c.cast_at_ms.into(),
            ]
        })
        .collect();
    let inserted: HashSet<(String, String)> = txn
        .query_all(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO participations (election_id, voter_id, cast_at_ms) VALUES {} \
                 ON CONFLICT DO NOTHING RETURNING election_id, voter_id",
                placeholder_rows(backend, candidates.len(), 3)
            ),
            values,
        ))
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("", "election_id")?,
                row.try_get("", "voter_id")?,
            ))
        })
        .collect::<Result<_, DbErr>>()?;
    let mut accepted: Vec<usize> = candidates
        .into_iter()
        .filter(|&i| inserted.contains(&(casts[i].election_id.clone(), casts[i].voter_id.clone())))
        .collect();
    if !accepted.is_empty() {
        accepted.shuffle(&mut rand::thread_rng());
        let values: Vec<Value> = accepted
            .iter()
            .flat_map(|&i| {
                let c = &casts[i];
                [
                    c.ballot_id.clone().into(),
                    c.election_id.clone().into(),
                    c.selection.clone().into(),
                    c.receipt_hash.clone().into(),
                ]
            })
            .collect();
        txn.execute(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO ballots (ballot_id, election_id, selection, receipt_hash) VALUES {}",
                placeholder_rows(backend, accepted.len(), 4)
            ),
            values,
        ))
        .await?;
        let mut events: Vec<&(String, String, String, Vec<u8>)> = accepted
            .iter()
            .flat_map(|&i| casts[i].events.iter())
            .collect();
        events.shuffle(&mut rand::thread_rng());
        // No creation time (0): events of one cast must not share one.
        let values: Vec<Value> = events
            .iter()
            .flat_map(|(id, topic, key, payload)| {
                [
                    id.clone().into(),
                    topic.clone().into(),
                    key.clone().into(),
                    payload.clone().into(),
                    0i64.into(),
                ]
            })
            .collect();
        txn.execute(Statement::from_sql_and_values(
            backend,
            format!(
                "INSERT INTO outbox (id, topic, partition_key, payload, created_at_ms) VALUES {}",
                placeholder_rows(backend, events.len(), 5)
            ),
            values,
        ))
        .await?;
    }
    txn.commit().await?;
    let accepted: HashSet<usize> = accepted.into_iter().collect();
    Ok((0..casts.len())
        .map(|i| {
            if accepted.contains(&i) {
                Ok(())
            } else {
                Err(CastError::AlreadyVoted)
            }
        })
        .collect())
}

/// How long a cast may wait for its batch before the caller gives up on it.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

#[async_trait]
impl VotingStore for GroupCommit {
    async fn cast(&self, cast: Cast) -> Result<(), CastError> {
        let (reply, outcome) = oneshot::channel();
        let unavailable = || CastError::Database(DbErr::Custom("group commit stopped".into()));
        self.queue
            .send((cast, reply))
            .await
            .map_err(|_| unavailable())?;
        match tokio::time::timeout(QUEUE_TIMEOUT, outcome).await {
            Ok(Ok(outcome)) => outcome,
            // The batch may still commit; the caller sees an error and a retry gets the
            // database's answer (ALREADY_EXISTS if it did).
            _ => Err(unavailable()),
        }
    }

    async fn participation(&self, election_id: &str, voter_id: &str) -> Result<Option<i64>, DbErr> {
        self.store.participation(election_id, voter_id).await
    }

    async fn receipt(&self, receipt_hash: &str) -> Result<Option<String>, DbErr> {
        self.store.receipt(receipt_hash).await
    }

    async fn counts(&self, election_id: &str) -> Result<(u64, u64), DbErr> {
        self.store.counts(election_id).await
    }
}
