//! Counts BallotCast events through the kit consumer loop: each batch is one transaction
//! that records the ballot ids (the unique key makes replays no-ops) and adds only the new
//! ballots to the counts; the loop commits the offsets after that. Redelivery, rebalances
//! and crashes change nothing. Then each changed election's results are shown from the
//! counts held in memory plus the batch's, when they have moved by a step of k.

use std::sync::Arc;

use async_trait::async_trait;
use kit::{
    bus::consume::{consume, ConsumeOptions, Handler, HandlerError, Subscribe},
    discovery::Balanced,
    shutdown::Shutdown,
};
use proto_gen::events::v1::BallotCast;

use crate::{live_counts::LiveCounts, profile, service::Results, store::CountedBallot};
use kit::time::now_ms;

/// Counts ballots; spawned through the drain, it stops at a batch boundary.
pub fn spawn(subscribe: Subscribe, peers: Balanced, results: Arc<Results>, shutdown: &Shutdown) {
    // A member is stranded only while the group has no more live members than partitions.
    let options = ConsumeOptions::new("svc-result").live_members(move || peers.addresses().len());
    let counter = BallotCounter {
        results,
        live: LiveCounts::default(),
    };
    shutdown.spawn(
        "ballot consumer",
        consume(subscribe, counter, options, shutdown.clone()),
    );
}

struct BallotCounter {
    results: Arc<Results>,
    live: LiveCounts,
}

fn counted(event: &BallotCast) -> CountedBallot {
    let answers = if event.answers.is_empty() {
        // Released before questions: the first question's answer alone.
        let selection = event.selection.as_ref();
        let ids = selection
            .map(|s| s.candidate_ids.join(","))
            .unwrap_or_default();
        vec![(event.election_id.clone(), ids)]
    } else {
        event
            .answers
            .iter()
            .map(|answer| (answer.question_id.clone(), profile::answer_text(answer)))
            .collect()
    };
    CountedBallot {
        ballot_id: event.ballot_id.clone(),
        election_id: event.election_id.clone(),
        weight: match event.weight_millionths {
            0 => counting::ONE,
            weight => weight,
        },
        answers,
    }
}

#[async_trait]
impl Handler for BallotCounter {
    type Event = BallotCast;

    /// An `Err` only when the transaction failed; a snapshot not shown now is shown after
    /// the election's next change, and never holds the partition.
    async fn handle(&mut self, events: &[BallotCast]) -> Result<(), HandlerError> {
        let ballots: Vec<CountedBallot> = events.iter().map(counted).collect();
        let applied = self.results.store.apply(&ballots, now_ms()).await?;
        metrics::counter!("votemesh_result_events_applied_total").increment(ballots.len() as u64);
        let current = self
            .live
            .advance(self.results.store.as_ref(), applied)
            .await;
        // The mix's last batch of an election says so; its results show at once, however few.
        let closing: std::collections::HashSet<&str> = events
            .iter()
            .filter(|event| event.closing)
            .map(|event| event.election_id.as_str())
            .collect();
        let shown = current.iter().map(|(election_id, counts)| {
            let closing = closing.contains(election_id.as_str());
            self.results.advance(election_id, counts, closing)
        });
        for outcome in futures::future::join_all(shown).await {
            if let Err(error) = outcome {
                tracing::warn!(%error, "results snapshot not refreshed");
            }
        }
        Ok(())
    }
}
