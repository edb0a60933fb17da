//! Issue 11, acceptance 1 and 2: at low traffic, with voters casting one at a time, nothing
//! stored or published pairs a voter with a choice better than chance, and a voter watching
//! live results never sees them move by fewer than k ballots. On PostgreSQL with Kafka, and
//! on SQLite with the in-process bus, as `votemesh up` runs.

use std::collections::HashMap;

use proto_gen::result::v1::result_service_client::ResultServiceClient;
use rand::{seq::SliceRandom, SeedableRng};
use tonic::transport::Channel;

use super::attacker::{broker_orders, database_orders, Orders};
use crate::support::{
    ballots::{
        ballot, get_results, open_election, result_client, unthrottled_voters, voting_client,
        Wiring,
    },
    *,
};

/// k in these tests: the mix's smallest batch and the results' smallest step.
const K: u64 = 12;
/// Voters: three full batches while the election is open, and 8 left for the close.
const VOTERS: usize = 44;

/// The mesh of these tests, with the mix at k; on Kafka and Redis when `wiring` is given.
fn mixing_mesh(wiring: Option<Wiring>) -> MeshOptions {
    let (voting, result) = (wiring.clone(), wiring);
    MeshOptions {
        user: Instances::one(),
        candidate: Instances::one(),
        voting: Instances::one().configured(move |config: &mut svc_voting::Config| {
            config.mix_min_batch = K;
            if let Some(wiring) = &voting {
                wiring.voting(config);
            }
        }),
        result: Instances::one().configured(move |config: &mut svc_result::Config| {
            config.mix_min_batch = K;
            if let Some(wiring) = &result {
                wiring.result(config);
            }
        }),
        edge: Box::new(unthrottled_voters),
        ..Default::default()
    }
}

/// Every distinct ranking of `candidates`, in a fixed order.
fn rankings(candidates: &[String]) -> Vec<Vec<String>> {
    if candidates.len() <= 1 {
        return vec![candidates.to_vec()];
    }
    let mut all = Vec::new();
    for (i, first) in candidates.iter().enumerate() {
        let mut rest = candidates.to_vec();
        rest.remove(i);
        for mut tail in rankings(&rest) {
            tail.insert(0, first.clone());
            all.push(tail);
        }
    }
    all
}

/// What the test knows and an attacker must find: each voter's ranking.
pub struct Cast {
    pub election_id: String,
    /// Voter id to the ranking it cast (candidate ids joined by ',').
    pub truth: HashMap<String, String>,
}

/// Registers the voters, then has them cast one at a time in a shuffled order, each with a
/// ranking of its own, while a voter polls the live results after every cast; then closes
/// the election and waits for every ballot to be counted. Asserts the steps.
async fn cast_one_at_a_time(mesh: &Mesh) -> Cast {
    let (api, admin) = rest_as_admin(mesh).await;
    let election = open_election(
        &api,
        &admin.access,
        "BALLOT_METHOD_RANKED",
        5,
        "RESULTS_VISIBILITY_LIVE",
    )
    .await;
    let mut people = Vec::new();
    for i in 0..VOTERS {
        people.push(api.voter(&format!("mix{i}")).await);
    }
    let mut order: Vec<usize> = (0..VOTERS).collect();
    order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(11));
    let rankings = rankings(&election.candidates);
    let watcher = &people[0].access;
    let mut results = result_client(&mesh.edge_url).await;
    let mut client = voting_client(&mesh.edge_url);
    let (mut truth, mut seen) = (HashMap::new(), vec![0u64]);
    for (n, &i) in order.iter().enumerate() {
        let ranking = &rankings[(i * 37) % rankings.len()];
        client
            .cast_ballot(ballot(&election.id, ranking, &people[i].access))
            .await
            .expect("cast");
        truth.insert(people[i].user_id.clone(), ranking.join(","));
        observe(&mut results, &election.id, watcher, &mut seen).await;
        assert!(
            *seen.last().expect("seen") <= n as u64 + 1,
            "never more than was cast"
        );
    }
    // The three full batches show while the election is open; the last 8 wait for the close.
    let open_total = VOTERS as u64 - VOTERS as u64 % K;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while *seen.last().expect("seen") < open_total {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the full batches never showed: {seen:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        observe(&mut results, &election.id, watcher, &mut seen).await;
    }
    observe(&mut results, &election.id, watcher, &mut seen).await;
    assert_steps(&seen);
    transition_ok(&api, &admin.access, &election.id, "ELECTION_STATUS_CLOSED").await;
    eventually(
        "every ballot counts at the close",
        std::time::Duration::from_secs(30),
        || {
            let mut results = results.clone();
            let id = election.id.clone();
            async move {
                get_results(&mut results, &id, watcher)
                    .await
                    .is_ok_and(|shown| shown.total_ballots == VOTERS as u64)
            }
        },
    )
    .await;
    Cast {
        election_id: election.id,
        truth,
    }
}

/// Polls the live results once and appends the total when it changed.
async fn observe(
    results: &mut ResultServiceClient<Channel>,
    election_id: &str,
    token: &str,
    seen: &mut Vec<u64>,
) {
    let shown = get_results(results, election_id, token)
        .await
        .expect("live results")
        .total_ballots;
    if seen.last() != Some(&shown) {
        seen.push(shown);
    }
}

/// While open, the results move forward only, by at least k at a time.
fn assert_steps(seen: &[u64]) {
    for pair in seen.windows(2) {
        assert!(
            pair[1] >= pair[0] + K,
            "a step of fewer than {K} ballots: {seen:?}"
        );
    }
    assert!(seen.len() > 2, "the results moved while open: {seen:?}");
}

/// No ordering pairs more than a quarter of the voters with their rankings.
fn assert_unpaired(cast: &Cast, voters: &Orders, choices: &Orders) {
    let quarter = VOTERS / 4;
    let mut best = (0, String::new());
    for (voter_order, voter_ids) in voters {
        assert_eq!(voter_ids.len(), VOTERS, "{voter_order}");
        for (choice_order, selections) in choices {
            assert_eq!(selections.len(), VOTERS, "{choice_order}");
            let paired = voter_ids
                .iter()
                .zip(selections)
                .filter(|(voter, selection)| cast.truth[*voter] == **selection)
                .count();
            if paired > best.0 {
                best = (paired, format!("{voter_order} with {choice_order}"));
            }
        }
    }
    assert!(
        best.0 <= quarter,
        "{} of {VOTERS} voters paired with their ranking by {}",
        best.0,
        best.1
    );
    assert!(
        voters.len() >= 3 && choices.len() >= 5,
        "every ordering was tried"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_and_kafka_no_ordering_pairs_voters_with_choices() {
    let wiring = Wiring::fresh();
    let mesh = spawn_mesh_with(mixing_mesh(Some(wiring.clone()))).await;
    let cast = cast_one_at_a_time(&mesh).await;
    let voting = mesh.database_url_of::<svc_voting::Config>();
    let result = mesh.database_url_of::<svc_result::Config>();
    let (voters, mut choices) = database_orders(&voting, &result, &cast.election_id).await;
    choices.extend(broker_orders(&kafka(), &wiring.ballot_topic, VOTERS).await);
    assert_unpaired(&cast, &voters, &choices);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_no_ordering_pairs_voters_with_choices() {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = Database::SqliteDir(dir.path().to_owned());
    let mesh = spawn_mesh_on(database, mixing_mesh(None)).await;
    let cast = cast_one_at_a_time(&mesh).await;
    let voting = mesh.database_url_of::<svc_voting::Config>();
    let result = mesh.database_url_of::<svc_result::Config>();
    let (voters, choices) = database_orders(&voting, &result, &cast.election_id).await;
    assert_unpaired(&cast, &voters, &choices);
}
