//! The mix: sealed ballots leave for the count only in shuffled batches of at least k
//! (`--mix-min-batch`), or all at once when the election has closed. A round's batches (one
//! per election that is due) are written in a transaction of their own, apart from any cast,
//! each batch's BallotCast events carry its release time, and the
//! results (svc-result) move only by whole batches: neither the database, the broker nor a
//! watcher of live results can tell which ballot came with which participation.

pub mod seal;

use std::{collections::HashSet, sync::Arc, time::Duration};

use kit::{bus::Event, shutdown::Shutdown, time::now_ms};
use prost::Message;
use proto_gen::{election::v1::ElectionStatus, events::v1::BallotCast};

use crate::{
    ballot::Ballot,
    store::{Released, SeaVotingStore, SealedBallot, MAX_RELEASE},
    voting::Voting,
};
use kit::time::timestamp;

/// How often the mix looks for batches when no cast wakes it: how soon an election that
/// closed on its schedule has its last ballots counted.
const INTERVAL: Duration = Duration::from_millis(500);

/// The least time between two rounds. Under load a commit wakes the mix every few
/// milliseconds; without this it would run a round (and a release transaction) per commit,
/// competing with the casts for the database. Batches grow instead. A ballot waits up to
/// this long for its round, so it is also a floor under the result lag.
const GAP: Duration = Duration::from_millis(50);

pub struct Mix {
    pub store: SeaVotingStore,
    pub voting: Arc<Voting>,
    /// k: the fewest ballots a batch may hold while the election is open.
    pub min_batch: u64,
}

impl Mix {
    /// Mixes until the drain starts. Sealed ballots not yet released stay sealed in the
    /// database and leave with the next instance's first round.
    pub async fn run(self, shutdown: Shutdown) {
        loop {
            if let Err(error) = self.round().await {
                tracing::warn!(%error, "mix round failed; sealed ballots wait for the next");
            }
            let next = tokio::time::Instant::now() + GAP;
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = self.voting.mix_wake.notified() => {}
                _ = tokio::time::sleep(INTERVAL) => {}
            }
            tokio::select! {
                _ = shutdown.wait() => return,
                _ = tokio::time::sleep_until(next) => {}
            }
        }
    }

    /// Releases every batch that is due, all of the round's elections in one transaction;
    /// an election with more than [`MAX_RELEASE`] waiting goes again at once.
    async fn round(&self) -> anyhow::Result<()> {
        let mut due = Vec::new();
        let mut closing = HashSet::new();
        for (election_id, waiting) in self.store.pending().await? {
            let closed = self.closed(&election_id).await;
            let min = if closed { 1 } else { self.min_batch };
            if waiting >= min {
                if closed {
                    closing.insert(election_id.clone());
                }
                due.push((election_id, min as usize));
            }
        }
        while !due.is_empty() {
            let outcomes = self
                .store
                .release_round(&due, |election_id, sealed| {
                    self.open(election_id, sealed, closing.contains(election_id))
                })
                .await?;
            let mut released = 0;
            let mut more = HashSet::new();
            for (election_id, outcome) in outcomes {
                match outcome {
                    Ok(count) => {
                        released += count;
                        if count == MAX_RELEASE {
                            more.insert(election_id);
                        }
                    }
                    // One election's failure (a sealed ballot that does not open, say) must
                    // not hold back the others' batches.
                    Err(error) => tracing::warn!(
                        %error, %election_id, "batch not released; its ballots stay sealed"
                    ),
                }
            }
            if released > 0 {
                metrics::counter!("votemesh_ballots_mixed_total").increment(released as u64);
                self.voting.outbox_written.notify_one();
            }
            due.retain(|(election_id, _)| more.contains(election_id));
        }
        Ok(())
    }

    /// Whether svc-candidate says the election is no longer OPEN; when it cannot say, the
    /// election is taken as open, so no batch smaller than k leaves by mistake. Only the
    /// status counts, not `closes_at` on this instance's clock: until svc-candidate closes
    /// the election an admin may still extend it, and another instance may still take casts.
    async fn closed(&self, election_id: &str) -> bool {
        match self.voting.directory.election(election_id).await {
            Ok(election) => election.status != ElectionStatus::Open as i32,
            Err(error) => {
                tracing::warn!(%error, "election status unknown; mixing as if open");
                false
            }
        }
    }

    /// Opens a batch and makes each ballot's BallotCast, all stamped with one release time.
    fn open(
        &self,
        election_id: &str,
        sealed: Vec<SealedBallot>,
        closing: bool,
    ) -> Result<Vec<Released>, String> {
        let released_at = timestamp(now_ms());
        sealed
            .into_iter()
            .map(|ballot| {
                let opened =
                    self.voting.seal.open(election_id, &ballot.sealed).ok_or(
                        "a sealed ballot does not open: was VOTEMESH_RECEIPT_SECRET changed?",
                    )?;
                let ballot = Ballot::from_text(election_id, &opened.selection)
                    .ok_or("a sealed ballot opened but does not read as a ballot")?;
                let event = BallotCast {
                    event_id: uuid::Uuid::new_v4().to_string(),
                    election_id: election_id.to_owned(),
                    ballot_id: opened.ballot_id.clone(),
                    selection: Some(ballot.first_selection()),
                    cast_hour: None,
                    released_at: Some(released_at),
                    closing,
                    answers: ballot.answers,
                    weight_millionths: ballot.weight,
                };
                Ok(Released {
                    event: Event {
                        id: event.event_id.clone(),
                        topic: self.voting.topics.ballots.clone(),
                        key: election_id.to_owned(),
                        payload: event.encode_to_vec(),
                    },
                    ballot_id: opened.ballot_id,
                    selection: opened.selection,
                })
            })
            .collect()
    }
}
