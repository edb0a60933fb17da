//! Issue 3, acceptance 2: an election scheduled a few seconds ahead opens and then closes by
//! itself, even when svc-candidate is down at closing time and comes back later.

use std::time::Duration;

use kit::shutdown::Shutdown;
use serde_json::json;

use crate::support::{candidate::*, *};

/// The scheduler's tick in these tests.
const TICK: Duration = Duration::from_millis(200);

async fn start_scheduler(mesh: &Mesh) -> Shutdown {
    start_candidate(mesh, |config| {
        config.scheduler_interval_ms = TICK.as_millis() as u64
    })
    .await
}

/// A mesh whose svc-candidate ticks every [`TICK`] (the shutdown stops it), and the admin
/// signed in.
async fn scheduled_mesh() -> (Mesh, Shutdown, Rest, Session) {
    let mesh = spawn_mesh_without_candidates().await;
    let scheduler = start_scheduler(&mesh).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    (mesh, scheduler, api, admin)
}

async fn wait_for_status(api: &Rest, token: &str, id: &str, wanted: &str, within: Duration) {
    eventually(
        &format!("election {id} becomes {wanted}"),
        within,
        || async { status_of(api, token, id).await == wanted },
    )
    .await
}

/// An election due to open at `opens_at` and to close `closes_in` seconds from now.
fn timed(title: &str, opens_at: &str, closes_in: i64) -> serde_json::Value {
    json!({"election": {
        "title": title,
        "method": "BALLOT_METHOD_PLURALITY",
        "opens_at": opens_at,
        "closes_at": in_seconds(closes_in),
    }})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_election_opens_and_closes_itself_across_a_restart() {
    let (mesh, first, api, admin) = scheduled_mesh().await;
    let token = admin.access.as_str();
    let (id, _) = election_with(
        &api,
        token,
        timed("Snap poll", &in_seconds(2), 5),
        &["Yes", "No"],
    )
    .await;
    assert_eq!(status_of(&api, token, &id).await, "ELECTION_STATUS_DRAFT");

    wait_for_status(
        &api,
        token,
        &id,
        "ELECTION_STATUS_OPEN",
        Duration::from_secs(10),
    )
    .await;

    // Down across the closing time: nothing can close it.
    first.trigger();
    mesh.wait_for_instances(ELECTION_SERVICE, 0).await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Back up: the missed closing is applied at once, on the first ticks.
    let second = start_scheduler(&mesh).await;
    wait_for_status(&api, token, &id, "ELECTION_STATUS_CLOSED", 10 * TICK).await;
    second.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_election_without_two_candidates_stays_draft_when_its_time_comes() {
    let (_mesh, scheduler, api, admin) = scheduled_mesh().await;
    let token = admin.access.as_str();
    let opens_at = in_seconds(1);
    let (lonely, _) = election_with(&api, token, timed("Lonely", &opens_at, 30), &["Only"]).await;
    // The positive control: due at the same moment, with two candidates, this one opens, so
    // the scheduler did run past the opening time.
    let (ready, _) =
        election_with(&api, token, timed("Ready", &opens_at, 30), &["Ada", "Bob"]).await;
    wait_for_status(
        &api,
        token,
        &ready,
        "ELECTION_STATUS_OPEN",
        Duration::from_secs(10),
    )
    .await;
    // The tick that opened it may reach the lonely one last; give it that tick and one more.
    tokio::time::sleep(2 * TICK).await;
    assert_eq!(
        status_of(&api, token, &lonely).await,
        "ELECTION_STATUS_DRAFT"
    );
    scheduler.trigger();
}
