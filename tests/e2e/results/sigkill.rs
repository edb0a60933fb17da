//! A SIGKILLed svc-result, restarted, ends with exact totals while ballots keep coming.

use std::time::Duration;

use super::{mesh_with_result_process, only_result_process, Counts, LIVE, RANKED};
use crate::support::{ballots::*, *};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkilled_result_service_ends_with_exact_totals_after_restart() {
    let (wiring, mesh, first) = mesh_with_result_process().await;
    let (api, admin) = rest_as_admin(&mesh).await;
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
    let results = result_client(&mesh.edge_url).await;
    eventually(
        "svc-result started counting",
        Duration::from_secs(12),
        || {
            let mut results = results.clone();
            let (id, token) = (&election.id, &admin.access);
            async move {
                get_results(&mut results, id, token)
                    .await
                    .is_ok_and(|shown| shown.total_ballots >= 100)
            }
        },
    )
    .await;
    first.stop(9).await;
    assert!(
        !casting.is_finished(),
        "ballots were still being cast at the kill"
    );
    mesh.wait_for_instances(RESULT_SERVICE, 0).await;

    let _second = only_result_process(&mesh, &wiring).await;
    let outcomes = casting.await.expect("casting");
    let accepted: Vec<Vec<String>> = outcomes
        .iter()
        .zip(selections)
        .filter(|(outcome, _)| outcome.is_ok())
        .map(|(_, selection)| selection)
        .collect();
    assert_eq!(accepted.len(), 800, "casting does not depend on svc-result");
    let mut counts = Counts::new(&mesh, &admin).await;
    counts.assert_exact(&election, &accepted).await;
}
