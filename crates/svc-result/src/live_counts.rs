//! The counts of the elections this member is counting, held in memory, so the snapshot
//! after a batch is the held counts plus what the batch added, not a re-read of every
//! tally, profile and total. The database's total after the batch tells whether anything
//! else was counted meanwhile (another member during a rebalance, a batch whose outcome was
//! lost); then, and for an election not held yet, the counts are read in full.

use std::collections::{BTreeMap, HashMap};

use futures::future::join_all;

use crate::{
    results,
    store::{Applied, ResultStore, Stored},
};

/// Elections held at most; the least recently counted are dropped beyond it (and read in
/// full if they change again).
const HELD_MAX: usize = 10_000;

#[derive(Default)]
pub struct LiveCounts {
    held: HashMap<String, Held>,
    /// Batches advanced so far: when each election last changed.
    batches: u64,
}

struct Held {
    counts: Stored,
    batch: u64,
}

impl LiveCounts {
    /// Each changed election's counts after a batch. An election whose counts cannot be read
    /// now is left out: its snapshot waits for its next change.
    pub async fn advance(
        &mut self,
        store: &dyn ResultStore,
        applied: BTreeMap<String, Applied>,
    ) -> Vec<(String, Stored)> {
        self.batches += 1;
        let mut current = Vec::with_capacity(applied.len());
        let mut unknown = Vec::new();
        for (election_id, applied) in applied {
            match self.held.get_mut(&election_id) {
                Some(held) if held.counts.total + applied.added.total == applied.total_after => {
                    results::add(&mut held.counts, &applied.added);
                    held.batch = self.batches;
                    current.push((election_id, held.counts.clone()));
                }
                _ => {
                    self.held.remove(&election_id);
                    unknown.push(election_id);
                }
            }
        }
        let reads = join_all(unknown.iter().map(|election_id| store.stored(election_id))).await;
        for (election_id, read) in unknown.into_iter().zip(reads) {
            let counts = match read {
                Ok(counts) => counts,
                Err(error) => {
                    tracing::warn!(%error, election_id, "counts not read; the snapshot waits");
                    continue;
                }
            };
            // A read that raced another member's batch can be torn across the three
            // tables; it is shown, but only a consistent one is a base for the next batch.
            if consistent(&counts) {
                let held = Held {
                    counts: counts.clone(),
                    batch: self.batches,
                };
                self.held.insert(election_id.clone(), held);
            }
            current.push((election_id, counts));
        }
        self.forget_the_oldest();
        current
    }

    /// Beyond [`HELD_MAX`], drops the least recently counted tenth.
    fn forget_the_oldest(&mut self) {
        if self.held.len() <= HELD_MAX {
            return;
        }
        let mut ages: Vec<u64> = self.held.values().map(|held| held.batch).collect();
        let excess = self.held.len() - HELD_MAX * 9 / 10;
        let (_, cutoff, _) = ages.select_nth_unstable(excess - 1);
        let cutoff = *cutoff;
        self.held.retain(|_, held| held.batch > cutoff);
    }
}

/// Every ballot adds to the profile, the total and its candidates' tallies alike, so
/// counts read at one moment agree with a recount from their profile.
fn consistent(counts: &Stored) -> bool {
    results::differences(counts, &results::recount(counts)).is_empty()
}

#[cfg(test)]
mod tests;
