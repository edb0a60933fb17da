//! The load that runs while a fault happens: every voter casts once in the scenario's
//! election through the edge over native gRPC, a few at a time and paced, so the casts span
//! the fault. What was acknowledged (with its receipt) and what was refused are kept.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{stream, StreamExt};

use crate::support::{
    ballots::{ballot, voting_client, OpenElection},
    clients::Session,
};

/// What the load saw.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Receipts of the casts the edge acknowledged, with the voter's email.
    pub acknowledged: Vec<(String, String)>,
    /// Refusals and failures by gRPC code, with one message of each.
    pub errors: BTreeMap<String, (u64, String)>,
}

impl Outcome {
    pub fn error_count(&self) -> u64 {
        self.errors.values().map(|(n, _)| n).sum()
    }
}

/// Casts every voter's ballot, `concurrency` at a time, each caller pausing `pause`
/// between its casts.
pub async fn cast_everyone(
    edge_url: &str,
    election: &OpenElection,
    voters: &[Session],
    concurrency: usize,
    pause: Duration,
) -> Outcome {
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let client = voting_client(edge_url);
    stream::iter(voters.iter().enumerate())
        .for_each_concurrent(concurrency, |(i, voter)| {
            let (mut client, outcome) = (client.clone(), outcome.clone());
            let choice = vec![election.candidates[i % election.candidates.len()].clone()];
            async move {
                let cast = client
                    .cast_ballot(ballot(&election.id, &choice, &voter.access))
                    .await;
                {
                    let mut outcome = outcome.lock().unwrap_or_else(|p| p.into_inner());
                    record(&mut outcome, voter, cast);
                }
                tokio::time::sleep(pause).await;
            }
        })
        .await;
    Arc::try_unwrap(outcome)
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
        .unwrap_or_default()
}

fn record(
    outcome: &mut Outcome,
    voter: &Session,
    cast: Result<tonic::Response<proto_gen::voting::v1::CastBallotResponse>, tonic::Status>,
) {
    match cast {
        Ok(reply) => outcome
            .acknowledged
            .push((voter.email.clone(), reply.into_inner().receipt_code)),
        Err(status) => {
            let entry = outcome
                .errors
                .entry(format!("{:?}", status.code()))
                .or_insert((0, status.message().to_owned()));
            entry.0 += 1;
        }
    }
}
