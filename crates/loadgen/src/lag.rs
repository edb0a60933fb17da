//! Result lag: how long after a cast is acknowledged it shows in GetResults. A sampler polls
//! each election's results; the k-th acknowledged cast of an election counts as visible at
//! the first poll showing at least k ballots.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use proto_gen::result::v1::{result_service_client::ResultServiceClient, GetResultsRequest};
use tokio::sync::watch;
use tonic::transport::Channel;

/// (when, ballots shown) per election.
pub type Samples = Vec<Vec<(Instant, u64)>>;

/// Polls every `interval` until `stop` says true and every election shows `expected`.
pub async fn sample(
    channel: Channel,
    token: String,
    elections: Arc<Vec<String>>,
    interval: Duration,
    mut stop: watch::Receiver<Option<Vec<u64>>>,
) -> Samples {
    let client = ResultServiceClient::new(channel);
    let mut samples: Samples = vec![Vec::new(); elections.len()];
    let mut settled_deadline = None;
    loop {
        // All elections at once, so the poll interval is the same for each.
        let polls = elections.iter().map(|election_id| {
            let mut client = client.clone();
            let mut request = tonic::Request::new(GetResultsRequest {
                election_id: election_id.clone(),
            });
            if let Ok(value) = format!("Bearer {token}").parse() {
                request.metadata_mut().insert("authorization", value);
            }
            async move {
                let total = client
                    .get_results(request)
                    .await
                    .map(|r| r.into_inner().total_ballots)
                    .unwrap_or(0);
                (Instant::now(), total)
            }
        });
        let mut shown = Vec::with_capacity(elections.len());
        for (e, (at, total)) in futures::future::join_all(polls)
            .await
            .into_iter()
            .enumerate()
        {
            samples[e].push((at, total));
            shown.push(total);
        }
        if let Some(expected) = stop.borrow_and_update().clone() {
            let deadline =
                *settled_deadline.get_or_insert(Instant::now() + Duration::from_secs(30));
            if shown.iter().zip(&expected).all(|(s, e)| s >= e) || Instant::now() > deadline {
                return samples;
            }
        }
        tokio::time::sleep(interval).await;
    }
}

/// Lags in microseconds of every acknowledged cast seen by the sampler, and how many never
/// showed.
pub fn lags(acks: &[Vec<Instant>], samples: &Samples) -> (Vec<u64>, usize) {
    let mut lags = Vec::new();
    let mut unseen = 0;
    for (election, acked) in acks.iter().enumerate() {
        let mut acked = acked.clone();
        acked.sort();
        let polls = &samples[election];
        let mut cursor = 0;
        for (k, at) in acked.iter().enumerate() {
            let needed = k as u64 + 1;
            while cursor < polls.len() && (polls[cursor].0 < *at || polls[cursor].1 < needed) {
                cursor += 1;
            }
            match polls.get(cursor) {
                Some((seen, _)) => lags.push((*seen - *at).as_micros() as u64),
                None => unseen += 1,
            }
        }
    }
    (lags, unseen)
}
