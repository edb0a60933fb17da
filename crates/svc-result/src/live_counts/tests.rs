use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Mutex,
    },
};

use async_trait::async_trait;
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use sea_orm::DbErr;

use super::*;
use crate::store::CountedBallot;

/// The store's contract in memory, counting full reads.
#[derive(Default)]
struct MemoryStore {
    counted: Mutex<(BTreeSet<String>, HashMap<String, Stored>)>,
    full_reads: AtomicUsize,
}

#[async_trait]
impl ResultStore for MemoryStore {
    async fn apply(
        &self,
        ballots: &[CountedBallot],
        now_ms: i64,
    ) -> Result<BTreeMap<String, Applied>, DbErr> {
        let mut guard = self.counted.lock().expect("store");
        let (ids, elections) = &mut *guard;
        let fresh = ballots
            .iter()
            .filter(|b| !ids.contains(&b.ballot_id))
            .map(|b| b.ballot_id.clone())
            .collect();
        let added = results::added(ballots, &fresh, now_ms);
        ids.extend(fresh);
        Ok(added
            .into_iter()
            .map(|(election_id, added)| {
                let counts = elections.entry(election_id.clone()).or_default();
                results::add(counts, &added);
                let total_after = counts.total;
                (election_id, Applied { added, total_after })
            })
            .collect())
    }

    async fn stored(&self, election_id: &str) -> Result<Stored, DbErr> {
        self.full_reads.fetch_add(1, Ordering::SeqCst);
        let guard = self.counted.lock().expect("store");
        Ok(guard.1.get(election_id).cloned().unwrap_or_default())
    }

    async fn counted(&self, _: &str) -> Result<u64, DbErr> {
        unreachable!("not used here")
    }

    async fn published(&self, _: &str) -> Result<Option<(u64, Vec<u8>)>, DbErr> {
        unreachable!("not used here")
    }

    async fn published_for_readers(&self, _: &str) -> Result<Option<(u64, Vec<u8>)>, DbErr> {
        unreachable!("not used here")
    }

    async fn publish(&self, _: &str, _: u64, _: &[u8], _: u64) -> Result<bool, DbErr> {
        unreachable!("not used here")
    }
}

impl MemoryStore {
    fn truth(&self, election_id: &str) -> Stored {
        let guard = self.counted.lock().expect("store");
        guard.1.get(election_id).cloned().unwrap_or_default()
    }

    fn full_reads(&self) -> usize {
        self.full_reads.load(Ordering::SeqCst)
    }
}

fn ballot(id: usize, election: &str, selection: &[&str]) -> CountedBallot {
    CountedBallot {
        ballot_id: format!("b{id}"),
        election_id: election.into(),
        weight: counting::ONE,
        answers: vec![(election.to_owned(), selection.join(","))],
    }
}

#[tokio::test]
async fn an_election_is_read_once_then_advanced_by_each_batch() {
    let (store, mut live) = (MemoryStore::default(), LiveCounts::default());
    let first = store
        .apply(&[ballot(1, "e", &["a", "b"])], 1)
        .await
        .expect("apply");
    let current = live.advance(&store, first).await;
    assert_eq!(current, [("e".to_owned(), store.truth("e"))]);
    assert_eq!(store.full_reads(), 1, "not held yet: read in full");
    for n in 2..10 {
        let batch = [ballot(n, "e", &["b"]), ballot(n - 1, "e", &["a", "b"])];
        let applied = store.apply(&batch, n as i64).await.expect("apply");
        let current = live.advance(&store, applied).await;
        assert_eq!(current, [("e".to_owned(), store.truth("e"))]);
    }
    assert_eq!(
        store.full_reads(),
        1,
        "every later batch is added in memory"
    );
}

#[tokio::test]
async fn ballots_counted_elsewhere_force_a_full_read() {
    let (store, mut live) = (MemoryStore::default(), LiveCounts::default());
    let applied = store
        .apply(&[ballot(1, "e", &["a"])], 1)
        .await
        .expect("apply");
    live.advance(&store, applied).await;
    // Another member counts a ballot of this election (a rebalance).
    store
        .apply(&[ballot(2, "e", &["b"])], 2)
        .await
        .expect("apply");
    let applied = store
        .apply(&[ballot(3, "e", &["a"])], 3)
        .await
        .expect("apply");
    let current = live.advance(&store, applied).await;
    assert_eq!(current, [("e".to_owned(), store.truth("e"))]);
    assert_eq!(current[0].1.total, 3);
    assert_eq!(store.full_reads(), 2);
}

#[test]
fn torn_counts_are_not_consistent() {
    let mut counts = Stored::default();
    results::add(
        &mut counts,
        &results::added(&[ballot(1, "e", &["a", "b"])], &["b1".to_owned()].into(), 1)["e"],
    );
    assert!(consistent(&counts));
    counts.total += 1;
    assert!(!consistent(&counts), "a total ahead of the profile");
    counts.total -= 1;
    counts.tallies.remove("b");
    assert!(!consistent(&counts), "tallies behind the profile");
}

#[tokio::test]
async fn random_batches_with_replays_and_other_members_stay_exact() {
    let mut rng = StdRng::seed_from_u64(9);
    let (store, mut live) = (MemoryStore::default(), LiveCounts::default());
    let elections = ["e1", "e2", "e3"];
    let candidates = ["a", "b", "c", "d"];
    let mut next_id = 0;
    for round in 0..300 {
        let mut batch = Vec::new();
        for _ in 0..rng.gen_range(1..40) {
            // Some ballots are replays of earlier ones.
            let id = if next_id > 0 && rng.gen_bool(0.2) {
                rng.gen_range(0..next_id)
            } else {
                next_id += 1;
                next_id
            };
            let mut selection: Vec<&str> = candidates.to_vec();
            selection.shuffle(&mut rng);
            selection.truncate(rng.gen_range(1..=candidates.len()));
            let election = elections[id % elections.len()];
            batch.push(ballot(id, election, &selection));
        }
        let applied = store.apply(&batch, round).await.expect("apply");
        if rng.gen_bool(0.1) {
            continue; // another member's batch: this one never sees it
        }
        for (election_id, counts) in live.advance(&store, applied).await {
            assert_eq!(counts, store.truth(&election_id), "round {round}");
        }
    }
    assert!(
        store.full_reads() < 100,
        "mostly in memory: {}",
        store.full_reads()
    );
}
