//! Many voters, many ballots: elections of each method, deterministic selections, casting
//! through the edge, the counts a correct service must show, and svc-result processes.

use std::{collections::BTreeMap, time::Duration};

use futures::{stream, StreamExt};
use proto_gen::{
    result::v1::{
        result_service_client::ResultServiceClient, GetResultsRequest, GetResultsResponse,
    },
    voting::v1::{voting_service_client::VotingServiceClient, CastBallotRequest, Selection},
};
use serde_json::json;
use tonic::transport::Channel;

use super::{
    add_candidate, bearer, create_election, draft_body, process::*, transition, Mesh, MeshOptions,
    Rest, Session,
};

pub fn kafka() -> String {
    std::env::var("VOTEMESH_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

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
}

/// svc-voting on Kafka and Redis, svc-user with the bench-only hash (set-up only: the
/// measured path never hashes), and `results` in-process svc-result instances.
pub fn results_mesh(wiring: &Wiring, results: usize) -> MeshOptions {
    let (voting, result) = (wiring.clone(), wiring.clone());
    MeshOptions {
        voting_instances: 1,
        result_instances: results,
        user: Box::new(|config| config.bench_only_insecure_password_hash = true),
        voting: Box::new(move |config| {
            config.kafka_brokers = Some(kafka());
            config.redis_url = Some("redis://127.0.0.1:6379".into());
            config.ballot_topic = voting.ballot_topic.clone();
            config.vote_topic = voting.vote_topic.clone();
        }),
        result: Box::new(move |config| {
            config.kafka_brokers = Some(kafka());
            config.redis_url = Some("redis://127.0.0.1:6379".into());
            config.ballot_topic = result.ballot_topic.clone();
            config.consumer_group = result.group.clone();
            config.redis_namespace = result.namespace.clone();
        }),
        edge: Box::new(|config| {
            config.per_user_burst = 100_000.0;
            config.per_user_per_second = 100_000.0;
        }),
        ..Default::default()
    }
}

/// A `votemesh result` process wired like [`results_mesh`]'s instances.
pub fn result_process(mesh: &Mesh, wiring: &Wiring, metrics_port: Option<u16>) -> ChildGuard {
    let mut command = votemesh();
    command
        .arg("result")
        .env("VOTEMESH_LOG", "warn")
        .env("VOTEMESH_LISTEN", "127.0.0.1:0")
        .env("VOTEMESH_REGISTRY_URL", &mesh.registry_url)
        .env("VOTEMESH_INTERNAL_TOKEN", &mesh.secret)
        .env("VOTEMESH_RESULT_DATABASE_URL", &mesh.database_url)
        .env("VOTEMESH_KAFKA_BROKERS", kafka())
        .env("VOTEMESH_BALLOT_TOPIC", &wiring.ballot_topic)
        .env("VOTEMESH_RESULT_CONSUMER_GROUP", &wiring.group)
        .env("VOTEMESH_REDIS_URL", "redis://127.0.0.1:6379")
        .env("VOTEMESH_RESULT_REDIS_NAMESPACE", &wiring.namespace)
        .env("VOTEMESH_LEASE_TTL_SECONDS", "1");
    if let Some(port) = metrics_port {
        command.env("VOTEMESH_METRICS_LISTEN", format!("127.0.0.1:{port}"));
    }
    ChildGuard::spawn(&mut command)
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

/// One cast to make: election, selection, voter's token.
pub type Job = (String, Vec<String>, String);

/// Casts every job through the edge, `concurrency` at a time; each outcome in job order.
pub async fn cast_all(
    edge_url: &str,
    jobs: Vec<Job>,
    concurrency: usize,
) -> Vec<Result<(), tonic::Status>> {
    let client = VotingServiceClient::connect(edge_url.to_owned())
        .await
        .expect("connect");
    let mut outcomes: Vec<(usize, Result<(), tonic::Status>)> =
        stream::iter(jobs.into_iter().enumerate())
            .map(|(i, (election_id, candidate_ids, token))| {
                let mut client = client.clone();
                async move {
                    let request = bearer(
                        CastBallotRequest {
                            election_id,
                            selection: Some(Selection { candidate_ids }),
                        },
                        &token,
                    );
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
    let Ok(response) = reqwest::get(format!("http://127.0.0.1:{port}/metrics")).await else {
        return 0.0;
    };
    let text = response.text().await.unwrap_or_default();
    text.lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter(|line| matches!(line.as_bytes().get(name.len()), Some(b' ' | b'{')))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}
