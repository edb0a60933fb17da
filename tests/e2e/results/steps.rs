//! Issue 11: results move in steps of k while open, and show every counted ballot once the
//! election has closed.

use super::{LIVE, RANKED};
use crate::support::{ballots::*, *};

/// Ballots counted before the close that never made a step of k still show once the election
/// has closed, though no ballot arrives after the close to publish them: svc-voting mixes one
/// at a time here (k = 1) while svc-result publishes in steps of 10.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ballots_counted_short_of_a_step_show_after_the_close() {
    let wiring = Wiring::fresh();
    let mut options = results_mesh(&wiring, 0);
    let result = wiring.clone();
    options.result = Instances::one().configured(move |config: &mut svc_result::Config| {
        result.result(config);
        config.mix_min_batch = 10;
    });
    let mesh = spawn_mesh_with(options).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let election = open_election(&api, &admin.access, RANKED, 3, LIVE).await;
    let people = voters(&api, 5, "short").await;
    super::cast_everyone(&mesh, std::slice::from_ref(&election), &people).await;
    let audit = format!("/v1/elections/{}/results:audit", election.id);
    eventually(
        "the five are counted",
        std::time::Duration::from_secs(30),
        || async {
            let (_, reply) = api.get(&audit, Some(&admin.access)).await;
            reply["counted"] == "5"
        },
    )
    .await;
    let mut results = result_client(&mesh.edge_url).await;
    let shown = get_results(&mut results, &election.id, &admin.access).await;
    assert_eq!(
        shown.expect("results").total_ballots,
        0,
        "no step of 10 yet"
    );
    transition_ok(&api, &admin.access, &election.id, "ELECTION_STATUS_CLOSED").await;
    wait_for_total(&mut results, &election.id, &admin.access, 5).await;
}
