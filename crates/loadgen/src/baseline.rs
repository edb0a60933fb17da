//! The raw grouped ceiling: svc-voting's own cast write (participation, receipt, sealed
//! ballot and outbox row) through its group commit, with svc-voting's default batch and
//! worker settings, straight to PostgreSQL at the same concurrency: no network hop, lock,
//! token check or election lookup. What votemesh's rate is a share of.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use svc_voting::{
    group_commit::{CommitWorkers, GroupCommit},
    store::{Cast, SeaVotingStore, VotingStore},
};

/// svc-voting's group commit with the batch and worker settings its flags default to.
fn grouped(
    store: SeaVotingStore,
    database_url: &str,
) -> anyhow::Result<(GroupCommit, CommitWorkers)> {
    let defaults: svc_voting::Config = kit::config::local([
        "--internal-token=baseline",
        "--receipt-secret=baseline",
        &format!("--database-url={database_url}"),
    ])?;
    Ok(GroupCommit::new(
        store,
        defaults.cast_batch_workers,
        defaults.cast_batch_max,
    ))
}

pub async fn run(
    database_url: &str,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    // The same pool bound svc-voting gets from the load generator; PostgreSQL allows ~100.
    let store = SeaVotingStore::open(database_url, concurrency.clamp(8, 64) as u32).await?;
    let store = grouped(store, database_url)?;
    let shutdown = kit::shutdown::Shutdown::new();
    store.1.spawn(&shutdown);
    let store: Arc<dyn VotingStore> = Arc::new(store.0);
    let election = uuid::Uuid::new_v4().to_string();
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (store, done, election) = (store.clone(), done.clone(), election.clone());
        workers.push(tokio::spawn(async move {
            while started.elapsed() < duration {
                let cast = Cast {
                    election_id: election.clone(),
                    voter_id: uuid::Uuid::new_v4().to_string(),
                    cast_at_ms: chrono::Utc::now().timestamp_millis(),
                    receipt_hash: uuid::Uuid::new_v4().simple().to_string(),
                    // A sealed ballot is about this size: nonce, ids, tag.
                    sealed: vec![0u8; 80],
                    events: vec![kit::bus::Event {
                        id: uuid::Uuid::new_v4().to_string(),
                        topic: "votes".into(),
                        key: election.clone(),
                        payload: vec![0u8; 120],
                    }],
                };
                if store.cast(cast).await.is_ok() {
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }
    shutdown.trigger();
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}
