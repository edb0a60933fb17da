//! Issue 3: reads go to the read replica when one is configured. With replay paused on the
//! standby, a new election is visible through Get (primary) but not through List (replica)
//! until replay resumes.

use std::time::Duration;

use kit::shutdown::Shutdown;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

use crate::support::*;

fn replica_server() -> String {
    std::env::var("VOTEMESH_TEST_REPLICA")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5433".into())
}

async fn replica_admin() -> DatabaseConnection {
    Database::connect(format!("{}/postgres", replica_server()))
        .await
        .expect("the streaming replica must be running (scripts/test.sh starts it on port 5433)")
}

/// Waits until the new database has reached the standby.
async fn replicated_url(primary_url: &str) -> String {
    let name = primary_url.rsplit('/').next().expect("database name");
    let url = format!("{}/{name}", replica_server());
    for _ in 0..100 {
        if let Ok(db) = Database::connect(url.clone()).await {
            db.close().await.ok();
            return url;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never reached the replica");
}

async fn listed(api: &Rest, token: &str, id: &str) -> bool {
    let (status, body) = api.get("/v1/elections?page_size=200", Some(token)).await;
    assert_eq!(status, 200, "{body}");
    body["elections"]
        .as_array()
        .is_some_and(|list| list.iter().any(|e| e["election_id"] == id))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_come_from_the_replica_and_gets_from_the_primary() {
    // A run that died mid-test may have left replay paused.
    replica_admin()
        .await
        .execute_unprepared("SELECT pg_wal_replay_resume()")
        .await
        .expect("resume replay");
    let mesh = spawn_mesh_with(MeshOptions {
        user_instances: 1,
        candidate_instances: 0,
        voting_instances: 0,
        edge: Box::new(|_| {}),
        ..Default::default()
    })
    .await;
    // The primary creates the schema first, so the standby has it to read.
    svc_candidate::store::SeaElectionStore::open(&mesh.database_url, None, 1)
        .await
        .expect("schema on the primary");
    let mut config = svc_candidate::Config::local(
        &mesh.secret,
        Some(mesh.registry_url.clone()),
        mesh.database_url.clone(),
    );
    config.read_database_url = Some(replicated_url(&mesh.database_url).await);
    let shutdown = Shutdown::new();
    let app = svc_candidate::App::build(config)
        .await
        .expect("svc-candidate with a replica");
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    mesh.wait_for_instances(ELECTION_SERVICE, 1).await;

    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let standby = replica_admin().await;
    standby
        .execute_unprepared("SELECT pg_wal_replay_pause()")
        .await
        .expect("pause replay");
    let created = create_election(&api, &admin.access, draft_body("Replicated")).await;
    let id = created["election_id"].as_str().expect("id").to_owned();
    let (status, _) = api
        .get(&format!("/v1/elections/{id}"), Some(&admin.access))
        .await;
    let seen_on_replica_while_paused = listed(&api, &admin.access, &id).await;
    standby
        .execute_unprepared("SELECT pg_wal_replay_resume()")
        .await
        .expect("resume replay");
    assert_eq!(
        status, 200,
        "Get reads the primary, which follows the write"
    );
    assert!(
        !seen_on_replica_while_paused,
        "List reads the paused replica"
    );

    let mut appeared = false;
    for _ in 0..100 {
        if listed(&api, &admin.access, &id).await {
            appeared = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(appeared, "once replay resumes the replica catches up");
    shutdown.trigger();
}
