//! Issue 3, acceptance 2: an election scheduled a few seconds ahead opens and then closes by
//! itself, even when svc-candidate is down at closing time and comes back later.

use std::time::Duration;

use kit::shutdown::Shutdown;
use serde_json::json;

use crate::support::*;

async fn start_candidate_service(mesh: &Mesh) -> Shutdown {
    let shutdown = Shutdown::new();
    let mut config = svc_candidate::Config::local(
        &mesh.secret,
        Some(mesh.registry_url.clone()),
        mesh.database_url.clone(),
    );
    config.scheduler_interval_ms = 200;
    let app = svc_candidate::App::build(config)
        .await
        .expect("svc-candidate builds");
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    mesh.wait_for_instances(ELECTION_SERVICE, 1).await;
    shutdown
}

async fn wait_for_status(api: &Rest, token: &str, id: &str, wanted: &str) {
    for _ in 0..100 {
        if status_of(api, token, id).await == wanted {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("election never became {wanted}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_election_opens_and_closes_itself_across_a_restart() {
    let mesh = spawn_mesh_with(MeshOptions {
        user_instances: 1,
        candidate_instances: 0,
        voting_instances: 0,
        edge: Box::new(|_| {}),
        ..Default::default()
    })
    .await;
    let first = start_candidate_service(&mesh).await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let token = admin.access.as_str();
    let election = create_election(
        &api,
        token,
        json!({"election": {
            "title": "Snap poll",
            "method": "BALLOT_METHOD_APPROVAL",
            "max_choices": 2,
            "opens_at": in_seconds(2),
            "closes_at": in_seconds(5),
        }}),
    )
    .await;
    let id = election["election_id"].as_str().expect("id").to_owned();
    add_candidate(&api, token, &id, "Yes").await;
    add_candidate(&api, token, &id, "No").await;
    assert_eq!(status_of(&api, token, &id).await, "ELECTION_STATUS_DRAFT");

    wait_for_status(&api, token, &id, "ELECTION_STATUS_OPEN").await;

    // Down across the closing time: nothing can close it.
    first.trigger();
    mesh.wait_for_instances(ELECTION_SERVICE, 0).await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Back up: the missed closing is applied at once.
    let second = start_candidate_service(&mesh).await;
    wait_for_status(&api, token, &id, "ELECTION_STATUS_CLOSED").await;
    second.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_election_without_two_candidates_stays_draft_when_its_time_comes() {
    let mesh = spawn_mesh().await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let election = create_election(
        &api,
        &admin.access,
        json!({"election": {"title": "Lonely", "method": "BALLOT_METHOD_PLURALITY", "opens_at": in_seconds(1), "closes_at": in_seconds(30)}}),
    )
    .await;
    let id = election["election_id"].as_str().expect("id").to_owned();
    add_candidate(&api, &admin.access, &id, "Only").await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(
        status_of(&api, &admin.access, &id).await,
        "ELECTION_STATUS_DRAFT"
    );
}
