//! Many voters, many ballots: elections of each method, deterministic selections, casting
//! through the edge, the counts a correct service must show, and svc-result processes.

use std::{collections::BTreeMap, process::Command, time::Duration};

use futures::{stream, StreamExt};
use proto_gen::{
    result::v1::{
        result_service_client::ResultServiceClient, GetResultsRequest, GetResultsResponse,
    },
    voting::v1::{
        voting_service_client::VotingServiceClient, CastBallotRequest, RecordedCountRequest,
        Selection,
    },
};
use serde_json::json;
use tonic::transport::Channel;

use super::{
    add_candidate, bearer, broker::kafka, create_election, draft_body, grpc, process::*,
    redis::SHARED_REDIS, transition, Instances, Mesh, MeshOptions, Rest, Session,
};

/// Topic and consumer group names of one test, apart from every other test's.
#[derive(Clone)]
pub struct Wiring {
    pub ballot_topic: String,
    pub vote_topic: String,
    pub group: String,
    pub namespace: String,
}

impl Wiring {
    pub fn fresh() -> Self {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        Self {
            ballot_topic: format!("votemesh.test.ballots.{suffix}"),
            vote_topic: format!("votemesh.test.votes.{suffix}"),
            group: format!("svc-result-{suffix}"),
            namespace: format!("vmt-{suffix}"),
        }
    }

    /// svc-voting on this wiring's topics on Kafka, with the shared Redis.
    pub fn voting(&self, config: &mut svc_voting::Config) {
        config.kafka_brokers = Some(kafka());
        config.redis_url = Some(SHARED_REDIS.into());
        config.ballot_topic = self.ballot_topic.clone();
        config.vote_topic = self.vote_topic.clone();
    }

    /// svc-result on this wiring's topic, group and Redis namespace.
    pub fn result(&self, config: &mut svc_result::Config) {
        config.kafka_brokers = Some(kafka());
        config.redis_url = Some(SHARED_REDIS.into());
        config.ballot_topic = self.ballot_topic.clone();
        config.consumer_group = self.group.clone();
        config.redis_namespace = self.namespace.clone();
    }
}

/// svc-voting on Kafka and Redis, svc-user with the bench-only hash (set-up only: the
/// measured path never hashes), and `results` in-process svc-result instances.
pub fn results_mesh(wiring: &Wiring, results: usize) -> MeshOptions {
    let (voting, result) = (wiring.clone(), wiring.clone());
    MeshOptions {
        user: Instances::one().configured(|config: &mut svc_user::Config| {
            config.bench_only_insecure_password_hash = true
        }),
        candidate: Instances::one(),
        voting: Instances::one().configured(move |config| voting.voting(config)),
        result: Instances::many(results).configured(move |config| result.result(config)),
        edge: Box::new(unthrottled_voters),
        ..Default::default()
    }
}

/// Lifts the edge's per-voter limits, for tests that cast in bulk.
pub fn unthrottled_voters(config: &mut edge::Config) {
    config.per_user_burst = 100_000.0;
    config.per_user_per_second = 100_000.0;
}

/// A `votemesh result` process wired like [`results_mesh`]'s instances.
pub fn result_process(mesh: &Mesh, wiring: &Wiring, metrics_port: Option<u16>) -> ChildGuard {
    ChildGuard::spawn(&mut result_command(mesh, wiring, metrics_port))
}

/// The command [`result_process`] runs, for a test that changes more of its settings.
pub fn result_command(mesh: &Mesh, wiring: &Wiring, metrics_port: Option<u16>) -> Command {
    let mut command = service_command(mesh, "result");
    command
        .env("VOTEMESH_KAFKA_BROKERS", kafka())
        .env("VOTEMESH_BALLOT_TOPIC", &wiring.ballot_topic)
        .env("VOTEMESH_RESULT_CONSUMER_GROUP", &wiring.group)
        .env("VOTEMESH_REDIS_URL", SHARED_REDIS)
        .env("VOTEMESH_RESULT_REDIS_NAMESPACE", &wiring.namespace);
    if let Some(port) = metrics_port {
        command.env("VOTEMESH_METRICS_LISTEN", format!("127.0.0.1:{port}"));
    }
    command
}

/// `n` signed-in voters, registered a few at a time.
pub async fn voters(api: &Rest, n: usize, tag: &str) -> Vec<Session> {
    stream::iter(0..n)
        .map(|i| {
            let api = api.clone();
            async move { api.voter(&format!("{tag}{i}")).await }
        })
        .buffer_unordered(16)
        .collect()
        .await
}

#[derive(Clone, Debug)]
pub struct OpenElection {
    pub id: String,
    pub method: &'static str,
    pub candidates: Vec<String>,
}

/// An OPEN election with `candidates` candidates.
pub async fn open_election(
    api: &Rest,
    admin: &str,
    method: &'static str,
    candidates: usize,
    visibility: &str,
) -> OpenElection {
    let mut body = draft_body("Results");
    body["election"]["method"] = json!(method);
    body["election"]["results_visibility"] = json!(visibility);
    let max_choices = if method == "BALLOT_METHOD_PLURALITY" {
        1
    } else {
        candidates
    };
    body["election"]["max_choices"] = json!(max_choices);
    let id = create_election(api, admin, body).await["election_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mut ids = Vec::new();
    for i in 0..candidates {
        ids.push(add_candidate(api, admin, &id, &format!("Candidate {i}")).await);
    }
    let (status, body) = transition(api, admin, &id, "ELECTION_STATUS_OPEN").await;
    assert_eq!(status, 200, "{body}");
    OpenElection {
        id,
        method,
        candidates: ids,
    }
}

/// Voter `i`'s selection: varied, valid for the method, and the same on every run.
pub fn selection(election: &OpenElection, i: usize) -> Vec<String> {
    let c = &election.candidates;
    let n = c.len();
    let start = (i * 7 + i / 3) % n;
    let mut order: Vec<String> = (0..n).map(|k| c[(start + k) % n].clone()).collect();
    if i % 2 == 1 {
        order[1..].reverse();
    }
    match election.method {
        "BALLOT_METHOD_PLURALITY" => order[..1].to_vec(),
        _ => order[..1 + i % n].to_vec(),
    }
}

/// Votes per candidate a correct count shows for these accepted selections.
pub fn expected_votes(election: &OpenElection, accepted: &[Vec<String>]) -> BTreeMap<String, u64> {
    let mut votes: BTreeMap<String, u64> =
        election.candidates.iter().map(|c| (c.clone(), 0)).collect();
    for selection in accepted {
        let counted: &[String] = match election.method {
            "BALLOT_METHOD_APPROVAL" => selection,
            _ => &selection[..1],
        };
        for candidate in counted {
            *votes.get_mut(candidate).expect("a candidate") += 1;
        }
    }
    votes
}

pub fn shown_votes(results: &GetResultsResponse) -> BTreeMap<String, u64> {
    results
        .tallies
        .iter()
        .map(|t| (t.candidate_id.clone(), t.votes))
        .collect()
}

/// A CastBallot request: `choices` in the voter's order, sent with the voter's token.
pub fn ballot(
    election_id: &str,
    choices: &[String],
    token: &str,
) -> tonic::Request<CastBallotRequest> {
    bearer(
        CastBallotRequest {
            election_id: election_id.into(),
            selection: Some(Selection {
                candidate_ids: choices.to_vec(),
            }),
            answers: Vec::new(),
        },
        token,
    )
}

pub fn voting_client(url: &str) -> VotingServiceClient<Channel> {
    grpc(url, VotingServiceClient::new)
}

/// (ballots, participations) svc-voting has recorded for the election, as an admin asks.
pub async fn recorded(
    client: &mut VotingServiceClient<Channel>,
    election_id: &str,
    admin: &str,
) -> (u64, u64) {
    let counts = client
        .recorded_count(bearer(
            RecordedCountRequest {
                election_id: election_id.into(),
            },
            admin,
        ))
        .await
        .expect("recorded count")
        .into_inner();
    (counts.ballots, counts.participations)
}

/// One cast to make: election, selection, voter's token.
pub type Job = (String, Vec<String>, String);

/// Casts every job through the edge, `concurrency` at a time; each outcome in job order.
pub async fn cast_all(
    edge_url: &str,
    jobs: Vec<Job>,
    concurrency: usize,
) -> Vec<Result<(), tonic::Status>> {
    let client = voting_client(edge_url);
    let mut outcomes: Vec<(usize, Result<(), tonic::Status>)> =
        stream::iter(jobs.into_iter().enumerate())
            .map(|(i, (election_id, choices, token))| {
                let mut client = client.clone();
                async move {
                    let request = ballot(&election_id, &choices, &token);
                    (i, client.cast_ballot(request).await.map(drop))
                }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
    outcomes.sort_by_key(|(i, _)| *i);
    outcomes.into_iter().map(|(_, outcome)| outcome).collect()
}

pub async fn result_client(url: &str) -> ResultServiceClient<Channel> {
    ResultServiceClient::connect(url.to_owned())
        .await
        .expect("connect")
}

pub async fn get_results(
    client: &mut ResultServiceClient<Channel>,
    election_id: &str,
    token: &str,
) -> Result<GetResultsResponse, tonic::Status> {
    client
        .get_results(bearer(
            GetResultsRequest {
                election_id: election_id.into(),
            },
            token,
        ))
        .await
        .map(tonic::Response::into_inner)
}

/// Polls GetResults until it shows `total` ballots (60 s at most); fails on more.
pub async fn wait_for_total(
    client: &mut ResultServiceClient<Channel>,
    election_id: &str,
    token: &str,
    total: u64,
) -> GetResultsResponse {
    let mut last = None;
    for _ in 0..600 {
        if let Ok(results) = get_results(client, election_id, token).await {
            assert!(
                results.total_ballots <= total,
                "more ballots counted than accepted: {} > {total}",
                results.total_ballots
            );
            if results.total_ballots == total {
                return results;
            }
            last = Some(results.total_ballots);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("election {election_id} never showed {total} ballots; last {last:?}");
}

/// The partition librdkafka's default partitioner (CRC-32 of the key) picks for `key`.
pub fn partition_of(key: &str, partitions: u32) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for byte in key.bytes() {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc % partitions
}

/// The sum of every series of `name` on a process's /metrics.
pub async fn metric(port: u16, name: &str) -> f64 {
    metric_with(port, name, &[]).await
}

/// The sum of the series of `name` on a process's /metrics whose labels include every one
/// of `labels` (each written `key="value"`).
pub async fn metric_with(port: u16, name: &str, labels: &[&str]) -> f64 {
    let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await else {
        return 0.0;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter(|line| matches!(line.as_bytes().get(name.len()), Some(b' ' | b'{')))
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
