//! The raw baseline: svc-voting's own cast transaction (participation, ballot and two outbox
//! rows) issued straight to PostgreSQL at the same concurrency, with no network hop, lock,
//! token check or election lookup.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use svc_voting::store::{Cast, SeaVotingStore, VotingStore};

pub async fn run(
    database_url: &str,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<f64> {
    // The same pool bound svc-voting gets from the load generator; PostgreSQL allows ~100.
    let store =
        Arc::new(SeaVotingStore::open(database_url, concurrency.clamp(8, 64) as u32).await?);
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
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}
