//! Two svc-result instances split the partitions, and watchers on each see every change.

use std::time::Duration;

use proto_gen::result::v1::{GetResultsResponse, WatchResultsRequest};

use super::{cast_everyone, Counts, LIVE, PLURALITY};
use crate::support::{ballots::*, process::free_ports, *};

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

/// One election on each of the topic's three partitions.
async fn one_per_partition(api: &Rest, admin: &str) -> Vec<OpenElection> {
    let mut elections: Vec<Option<OpenElection>> = vec![None, None, None];
    for _ in 0..40 {
        if elections.iter().all(Option::is_some) {
            break;
        }
        let election = open_election(api, admin, PLURALITY, 3, LIVE).await;
        let slot = partition_of(&election.id, 3) as usize;
        elections[slot].get_or_insert(election);
    }
    elections
        .into_iter()
        .map(|e| e.expect("every partition"))
        .collect()
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
    let (api, admin) = rest_as_admin(&mesh).await;
    let elections = one_per_partition(&api, &admin.access).await;

    // The two members split the partitions before any ballot arrives.
    let held = || async {
        (
            metric(metrics_a, "votemesh_consumer_partitions").await,
            metric(metrics_b, "votemesh_consumer_partitions").await,
        )
    };
    let split_evenly = |(a, b): (f64, f64)| a >= 1.0 && b >= 1.0 && a + b == 3.0;
    eventually(
        "each instance holds a partition, and together all three",
        Duration::from_secs(60),
        || async { split_evenly(held().await) },
    )
    .await;

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

    let mut counts = Counts::new(&mesh, &admin).await;
    for (election, accepted) in elections.iter().zip(&accepted) {
        counts.assert_exact(election, accepted).await;
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
