//! The measured path: CastBallot over native gRPC through the edge, closed-loop (as fast as
//! `concurrency` callers go) or paced at a fixed rate.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use proto_gen::voting::v1::{
    voting_service_client::VotingServiceClient, CastBallotRequest, Selection,
};
use tonic::transport::Channel;

use crate::stats::Outcomes;

/// One ballot to cast.
pub struct Job {
    pub election: usize,
    pub election_id: String,
    pub token: String,
    pub selection: Vec<String>,
}

/// When each election's accepted casts were acknowledged, in order.
pub type Acks = Arc<Mutex<Vec<Vec<Instant>>>>;

pub struct Plan {
    pub concurrency: usize,
    pub duration: Duration,
    /// Casts per second, or as fast as possible.
    pub rate: Option<f64>,
}

pub struct Run {
    pub outcomes: Outcomes,
    pub elapsed: Duration,
}

pub async fn run(channels: Vec<Channel>, jobs: Vec<Job>, plan: &Plan, acks: Acks) -> Run {
    let jobs = Arc::new(jobs);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + plan.duration;
    let mut workers = Vec::new();
    for worker in 0..plan.concurrency {
        let channel = channels[worker % channels.len()].clone();
        let (jobs, next, acks) = (jobs.clone(), next.clone(), acks.clone());
        let rate = plan.rate;
        workers.push(tokio::spawn(async move {
            let mut client = VotingServiceClient::new(channel);
            let mut outcomes = Outcomes::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                if let Some(rate) = rate {
                    // Open loop: job i is due at i / rate, whether or not earlier ones are done.
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                if Instant::now() >= deadline {
                    break;
                }
                let mut request = tonic::Request::new(CastBallotRequest {
                    election_id: job.election_id.clone(),
                    selection: Some(Selection {
                        candidate_ids: job.selection.clone(),
                    }),
                    answers: Vec::new(),
                });
                if let Ok(value) = format!("Bearer {}", job.token).parse() {
                    request.metadata_mut().insert("authorization", value);
                }
                let sent = Instant::now();
                match client.cast_ballot(request).await {
                    Ok(_) => {
                        let done = Instant::now();
                        outcomes.accepted.push((done - sent).as_micros() as u64);
                        if let Ok(mut acks) = acks.lock() {
                            acks[job.election].push(done);
                        }
                    }
                    Err(status) => {
                        *outcomes
                            .errors
                            .entry(format!("{:?}", status.code()))
                            .or_default() += 1;
                    }
                }
            }
            outcomes
        }));
    }
    let mut outcomes = Outcomes::default();
    for worker in workers {
        if let Ok(done) = worker.await {
            outcomes.merge(done);
        }
    }
    Run {
        outcomes,
        elapsed: started.elapsed(),
    }
}
