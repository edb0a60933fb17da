//! Issue 5: live results. Exact totals from 5,000 ballots cast through the edge, a replay
//! from offset zero, a SIGKILLed svc-result, two instances splitting the partitions with
//! watchers on each, and the visibility rules.

use std::{collections::BTreeMap, time::Duration};

use prost::Message as _;
use proto_gen::{
    result::v1::{
        AuditRequest, GetResultsResponse, RecountRequest, WatchResultsRequest, WatchResultsResponse,
    },
    voting::v1::{voting_service_client::VotingServiceClient, RecordedCountRequest},
};
use rdkafka::{
    consumer::{BaseConsumer, CommitMode, Consumer},
    ClientConfig, Offset, TopicPartitionList,
};
use tonic::transport::Channel;

use crate::support::{ballots::*, process::*, *};

const PLURALITY: &str = "BALLOT_METHOD_PLURALITY";
const APPROVAL: &str = "BALLOT_METHOD_APPROVAL";
const RANKED: &str = "BALLOT_METHOD_RANKED";
const LIVE: &str = "RESULTS_VISIBILITY_LIVE";

/// Every election's selections, cast by every voter; panics unless all are accepted.
async fn cast_everyone(
    mesh: &Mesh,
    elections: &[OpenElection],
    people: &[Session],
) -> Vec<Vec<Vec<String>>> {
    let mut jobs = Vec::new();
    let mut selections = vec![Vec::new(); elections.len()];
    for (e, election) in elections.iter().enumerate() {
        for (i, voter) in people.iter().enumerate() {
            let chosen = selection(election, i);
            selections[e].push(chosen.clone());
            jobs.push((election.id.clone(), chosen, voter.access.clone()));
        }
    }
    let outcomes = cast_all(&mesh.edge_url, jobs, 32).await;
    let refused: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert!(
        refused.is_empty(),
        "{} refused, e.g. {:?}",
        refused.len(),
        refused.first()
    );
    selections
}

/// Totals, per-candidate votes and (RANKED) the winner are those of the accepted ballots;
/// Recount and Audit agree.
async fn assert_exact(
    results: &mut proto_gen::result::v1::result_service_client::ResultServiceClient<Channel>,
    edge_url: &str,
    election: &OpenElection,
    accepted: &[Vec<String>],
    admin: &str,
) {
    let shown = wait_for_total(results, &election.id, admin, accepted.len() as u64).await;
    assert_eq!(
        shown_votes(&shown),
        expected_votes(election, accepted),
        "{}",
        election.method
    );
    if election.method == RANKED {
        let mut profile: BTreeMap<Vec<String>, u64> = BTreeMap::new();
        for selection in accepted {
            *profile.entry(selection.clone()).or_default() += 1;
        }
        let profile: Vec<_> = profile.into_iter().collect();
        let outcome = svc_result::irv::count(&election.candidates, &profile);
        assert_eq!(
            shown.winner_candidate_id,
            outcome.winner.unwrap_or_default()
        );
        assert_eq!(shown.rounds.len(), outcome.rounds.len());
    }
    let mut voting = VotingServiceClient::connect(edge_url.to_owned())
        .await
        .expect("connect");
    let recorded = voting
        .recorded_count(bearer(
            RecordedCountRequest {
                election_id: election.id.clone(),
            },
            admin,
        ))
        .await
        .expect("recorded")
        .into_inner();
    assert_eq!(
        recorded.ballots, shown.total_ballots,
        "totals equal recorded ballots"
    );
    let recount = results
        .recount(bearer(
            RecountRequest {
                election_id: election.id.clone(),
            },
            admin,
        ))
        .await
        .expect("recount")
        .into_inner();
    assert!(
        recount.matches,
        "recount differs: {:?}",
        recount.differences
    );
    let audit = results
        .audit(bearer(
            AuditRequest {
                election_id: election.id.clone(),
            },
            admin,
        ))
        .await
        .expect("audit")
        .into_inner();
    assert!(
        audit.matches && audit.counted == accepted.len() as u64,
        "audit: {audit:?}"
    );
}

fn group_consumer(group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", kafka())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer")
}

/// (committed, end) offsets of the group on each partition of the topic.
fn group_offsets(group: &str, topic: &str) -> Vec<(i64, i64)> {
    let consumer = group_consumer(group);
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .expect("metadata");
    let partitions = metadata.topics()[0].partitions().len() as i32;
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(list, Duration::from_secs(5))
        .expect("committed offsets");
    (0..partitions)
        .map(|partition| {
            let (_, high) = consumer
                .fetch_watermarks(topic, partition, Duration::from_secs(5))
                .expect("watermarks");
            let at = match committed
                .find_partition(topic, partition)
                .map(|p| p.offset())
            {
                Some(Offset::Offset(at)) => at,
                _ => 0,
            };
            (at, high)
        })
        .collect()
}

/// Rewinds an idle group to the start of every partition, as an operator would.
fn reset_group(group: &str, topic: &str) {
    let consumer = group_consumer(group);
    let partitions = group_offsets(group, topic).len() as i32;
    let mut list = TopicPartitionList::new();
    for partition in 0..partitions {
        list.add_partition_offset(topic, partition, Offset::Offset(0))
            .expect("offset");
    }
    consumer.assign(&list).expect("assign");
    consumer.commit(&list, CommitMode::Sync).expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_ballots_count_exactly_and_a_replay_from_zero_changes_nothing() {
    let wiring = Wiring::fresh();
    let mesh = spawn_mesh_with(results_mesh(&wiring, 0)).await;
    let mut first = result_process(&mesh, &wiring, None);
    mesh.wait_for_instances_while(RESULT_SERVICE, 1, || first.still_running())
        .await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let mut elections = Vec::new();
    for (method, candidates) in [
        (PLURALITY, 3),
        (APPROVAL, 4),
        (RANKED, 4),
        (RANKED, 3),
        (PLURALITY, 5),
    ] {
        elections.push(open_election(&api, &admin.access, method, candidates, LIVE).await);
    }
    let people = voters(&api, 1000, "five").await;
    let accepted = cast_everyone(&mesh, &elections, &people).await;
    let mut results = result_client(&mesh.edge_url).await;
    let mut before = Vec::new();
    for (election, accepted) in elections.iter().zip(&accepted) {
        assert_exact(
            &mut results,
            &mesh.edge_url,
            election,
            accepted,
            &admin.access,
        )
        .await;
        before.push(
            get_results(&mut results, &election.id, &admin.access)
                .await
                .expect("results"),
        );
    }

    // Stop the only consumer, rewind its group to offset zero, and start it again.
    first.signal(15);
    tokio::task::spawn_blocking(move || first.0.wait())
        .await
        .expect("join")
        .expect("stopped");
    mesh.wait_for_instances(RESULT_SERVICE, 0).await;
    let (group, topic) = (wiring.group.clone(), wiring.ballot_topic.clone());
    let rewound = tokio::task::spawn_blocking(move || {
        reset_group(&group, &topic);
        group_offsets(&group, &topic)
    })
    .await
    .expect("reset");
    assert!(
        rewound.iter().all(|(at, _)| *at == 0),
        "rewound: {rewound:?}"
    );
    let ends: i64 = rewound.iter().map(|(_, high)| high).sum();
    assert!(ends >= 5000, "the topic holds every ballot: {ends}");

    let mut second = result_process(&mesh, &wiring, None);
    mesh.wait_for_instances_while(RESULT_SERVICE, 1, || second.still_running())
        .await;
    let mut replayed = false;
    for _ in 0..300 {
        let (group, topic) = (wiring.group.clone(), wiring.ballot_topic.clone());
        let offsets = tokio::task::spawn_blocking(move || group_offsets(&group, &topic))
            .await
            .expect("offsets");
        if offsets.iter().all(|(at, high)| at == high) {
            replayed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(replayed, "the group consumed the whole topic again");
    for ((election, accepted), earlier) in elections.iter().zip(&accepted).zip(&before) {
        let now = get_results(&mut results, &election.id, &admin.access)
            .await
            .expect("results");
        assert_eq!(now.tallies, earlier.tallies, "replay changed nothing");
        assert_eq!(now.total_ballots, earlier.total_ballots);
        assert_exact(
            &mut results,
            &mesh.edge_url,
            election,
            accepted,
            &admin.access,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_result_service_ends_with_exact_totals_after_restart() {
    let wiring = Wiring::fresh();
    let mesh = spawn_mesh_with(results_mesh(&wiring, 0)).await;
    let mut first = result_process(&mesh, &wiring, None);
    mesh.wait_for_instances_while(RESULT_SERVICE, 1, || first.still_running())
        .await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let election = open_election(&api, &admin.access, RANKED, 4, LIVE).await;
    let people = voters(&api, 800, "kill").await;
    let jobs: Vec<Job> = people
        .iter()
        .enumerate()
        .map(|(i, voter)| {
            (
                election.id.clone(),
                selection(&election, i),
                voter.access.clone(),
            )
        })
        .collect();
    let selections: Vec<Vec<String>> = jobs.iter().map(|(_, s, _)| s.clone()).collect();
    let edge = mesh.edge_url.clone();
    // A steady stream (20 ballots every 50 ms at most), so the kill lands mid-stream.
    let casting = tokio::spawn(async move {
        let mut outcomes = Vec::new();
        let mut jobs = jobs.into_iter().peekable();
        while jobs.peek().is_some() {
            let chunk: Vec<Job> = jobs.by_ref().take(20).collect();
            outcomes.extend(cast_all(&edge, chunk, 4).await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        outcomes
    });

    // Kill it once it is counting, while ballots keep coming.
    let mut results = result_client(&mesh.edge_url).await;
    let mut counting = false;
    for _ in 0..600 {
        if let Ok(shown) = get_results(&mut results, &election.id, &admin.access).await {
            if shown.total_ballots >= 100 {
                counting = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(counting, "svc-result started counting");
    first.signal(9);
    let _ = tokio::task::spawn_blocking(move || first.0.wait()).await;
    assert!(
        !casting.is_finished(),
        "ballots were still being cast at the kill"
    );
    mesh.wait_for_instances(RESULT_SERVICE, 0).await;

    let mut second = result_process(&mesh, &wiring, None);
    mesh.wait_for_instances_while(RESULT_SERVICE, 1, || second.still_running())
        .await;
    let outcomes = casting.await.expect("casting");
    let accepted: Vec<Vec<String>> = outcomes
        .iter()
        .zip(selections)
        .filter(|(outcome, _)| outcome.is_ok())
        .map(|(_, selection)| selection)
        .collect();
    assert_eq!(accepted.len(), 800, "casting does not depend on svc-result");
    assert_exact(
        &mut results,
        &mesh.edge_url,
        &election,
        &accepted,
        &admin.access,
    )
    .await;
}

/// Snapshots one watcher saw until the election showed `target` ballots.
async fn watch_until(
    url: String,
    election_id: String,
    token: String,
    target: u64,
) -> Vec<GetResultsResponse> {
    let mut client = result_client(&url).await;
    let mut stream = client
        .watch_results(bearer(
            WatchResultsRequest {
                election_id: election_id.clone(),
            },
            &token,
        ))
        .await
        .expect("watch")
        .into_inner();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while let Ok(Ok(Some(update))) = tokio::time::timeout_at(deadline, stream.message()).await {
        let results = update.results.expect("a snapshot");
        let done = results.total_ballots >= target;
        seen.push(results);
        if done {
            break;
        }
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_split_the_partitions_and_watchers_on_each_see_every_change() {
    let wiring = Wiring::fresh();
    let mesh = spawn_mesh_with(results_mesh(&wiring, 0)).await;
    let [metrics_a, metrics_b] = free_ports::<2>();
    let mut a = result_process(&mesh, &wiring, Some(metrics_a));
    let mut b = result_process(&mesh, &wiring, Some(metrics_b));
    mesh.wait_for_instances_while(RESULT_SERVICE, 2, || {
        a.still_running()?;
        b.still_running()
    })
    .await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;

    // One election on each of the topic's three partitions.
    let mut elections: Vec<Option<OpenElection>> = vec![None, None, None];
    for _ in 0..40 {
        if elections.iter().all(Option::is_some) {
            break;
        }
        let election = open_election(&api, &admin.access, PLURALITY, 3, LIVE).await;
        let slot = partition_of(&election.id, 3) as usize;
        elections[slot].get_or_insert(election);
    }
    let elections: Vec<OpenElection> = elections
        .into_iter()
        .map(|e| e.expect("every partition"))
        .collect();

    // The two members split the partitions before any ballot arrives.
    let mut split = (0.0, 0.0);
    for _ in 0..120 {
        split = (
            metric(metrics_a, "votemesh_consumer_partitions").await,
            metric(metrics_b, "votemesh_consumer_partitions").await,
        );
        if split.0 >= 1.0 && split.1 >= 1.0 && split.0 + split.1 == 3.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        split.0 >= 1.0 && split.1 >= 1.0 && split.0 + split.1 == 3.0,
        "partitions held by each instance: {split:?}"
    );

    let people = voters(&api, 150, "split").await;
    let target = people.len() as u64;
    let mut watchers = Vec::new();
    for url in mesh.resolve(RESULT_SERVICE).await {
        for election in &elections {
            watchers.push(tokio::spawn(watch_until(
                url.clone(),
                election.id.clone(),
                admin.access.clone(),
                target,
            )));
        }
    }
    let accepted = cast_everyone(&mesh, &elections, &people).await;

    let mut results = result_client(&mesh.edge_url).await;
    for (election, accepted) in elections.iter().zip(&accepted) {
        assert_exact(
            &mut results,
            &mesh.edge_url,
            election,
            accepted,
            &admin.access,
        )
        .await;
    }
    for (i, watcher) in watchers.into_iter().enumerate() {
        let seen = watcher.await.expect("watcher");
        let election = &elections[i % elections.len()];
        let last = seen.last().expect("at least the first snapshot");
        assert_eq!(
            last.total_ballots, target,
            "watcher {i} saw the final count"
        );
        assert_eq!(
            shown_votes(last),
            expected_votes(election, &accepted[i % elections.len()]),
            "watcher {i} saw the final tallies"
        );
        assert!(
            seen.windows(2)
                .all(|w| w[0].total_ballots <= w[1].total_ballots),
            "watcher {i} never went backwards"
        );
        assert!(
            seen.len() >= 2,
            "watcher {i} got updates, not just the first snapshot"
        );
    }
    let applied = (
        metric(metrics_a, "votemesh_result_events_applied_total").await,
        metric(metrics_b, "votemesh_result_events_applied_total").await,
    );
    assert!(
        applied.0 > 0.0 && applied.1 > 0.0,
        "both instances counted: {applied:?}"
    );
    // Redelivery may apply an event twice (absorbed by the ballot id); none is skipped.
    assert!(
        applied.0 + applied.1 >= 3.0 * target as f64,
        "every ballot reached a consumer"
    );
}

/// The first snapshot of a WatchResults stream read over grpc-web (HTTP/1.1, as a browser
/// sends it) through the edge.
async fn first_snapshot_over_grpc_web(
    edge: &str,
    election_id: &str,
    token: &str,
) -> GetResultsResponse {
    let request = WatchResultsRequest {
        election_id: election_id.into(),
    };
    let client = reqwest::Client::builder()
        .http1_only()
        .build()
        .expect("client");
    let mut response = client
        .post(format!(
            "{edge}/votemesh.result.v1.ResultService/WatchResults"
        ))
        .header("content-type", "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .bearer_auth(token)
        .body(crate::grpc_web::frame(&request.encode_to_vec()))
        .send()
        .await
        .expect("edge answers");
    assert_eq!(response.status(), 200);
    let mut buffer = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if buffer.len() >= 5 {
            let length = u32::from_be_bytes([buffer[1], buffer[2], buffer[3], buffer[4]]) as usize;
            if buffer.len() >= 5 + length {
                assert_eq!(buffer[0] & 0x80, 0, "a data frame before any trailer");
                let update = WatchResultsResponse::decode(&buffer[5..5 + length]).expect("frame");
                return update.results.expect("a snapshot");
            }
        }
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("a frame in time")
            .expect("body")
            .expect("stream still open");
        buffer.extend_from_slice(&chunk);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voters_see_results_as_the_election_allows_and_admins_always() {
    let wiring = Wiring::fresh();
    let mesh = spawn_mesh_with(results_mesh(&wiring, 1)).await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let live = open_election(&api, &admin.access, PLURALITY, 2, LIVE).await;
    let later = open_election(
        &api,
        &admin.access,
        PLURALITY,
        2,
        "RESULTS_VISIBILITY_AFTER_CLOSE",
    )
    .await;
    let draft = create_election(&api, &admin.access, draft_body("Not yet")).await["election_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let voter = api.voter("sees").await;
    let jobs = [&live, &later]
        .iter()
        .map(|e| (e.id.clone(), selection(e, 0), voter.access.clone()))
        .collect();
    assert!(cast_all(&mesh.edge_url, jobs, 2)
        .await
        .iter()
        .all(Result::is_ok));
    let mut results = result_client(&mesh.edge_url).await;
    let code = |outcome: Result<GetResultsResponse, tonic::Status>| outcome.err().map(|s| s.code());

    // While open: LIVE shows to voters, AFTER_CLOSE only to admins, DRAFT to nobody but admins.
    wait_for_total(&mut results, &live.id, &voter.access, 1).await;
    wait_for_total(&mut results, &later.id, &admin.access, 1).await;
    assert_eq!(
        code(get_results(&mut results, &later.id, &voter.access).await),
        Some(tonic::Code::FailedPrecondition)
    );
    assert_eq!(
        code(get_results(&mut results, &draft, &voter.access).await),
        Some(tonic::Code::FailedPrecondition)
    );
    assert!(get_results(&mut results, &draft, &admin.access)
        .await
        .is_ok());
    let watch = results
        .watch_results(bearer(
            WatchResultsRequest {
                election_id: later.id.clone(),
            },
            &voter.access,
        ))
        .await
        .expect_err("no live stream of a closed-ballot election");
    assert_eq!(watch.code(), tonic::Code::FailedPrecondition);
    let (status, body) = api
        .get(
            &format!("/v1/elections/{}/results", later.id),
            Some(&voter.access),
        )
        .await;
    assert_eq!(status, 412, "{body}");
    assert_eq!(body["error"]["status"], "FAILED_PRECONDITION");
    for path in ["results:audit", "results:recount"] {
        let url = format!("/v1/elections/{}/{path}", later.id);
        let (status, _) = if path.ends_with("audit") {
            api.get(&url, Some(&voter.access)).await
        } else {
            api.post(&url, Some(&voter.access), serde_json::json!({}))
                .await
        };
        assert_eq!(status, 403, "{path} is for admins");
    }
    // A browser watches the LIVE election over grpc-web through the edge.
    let first = first_snapshot_over_grpc_web(&mesh.edge_url, &live.id, &voter.access).await;
    assert_eq!(first.total_ballots, 1);

    // After the close everyone sees both.
    for election in [&live, &later] {
        let (status, body) =
            transition(&api, &admin.access, &election.id, "ELECTION_STATUS_CLOSED").await;
        assert_eq!(status, 200, "{body}");
    }
    let mut visible = false;
    for _ in 0..50 {
        if let Ok(shown) = get_results(&mut results, &later.id, &voter.access).await {
            assert_eq!(shown.total_ballots, 1);
            visible = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(visible, "AFTER_CLOSE results show to voters once closed");
    assert_eq!(
        get_results(&mut results, &live.id, &voter.access)
            .await
            .expect("live")
            .total_ballots,
        1
    );
}
