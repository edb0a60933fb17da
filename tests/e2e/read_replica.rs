//! Issue 3: reads go to the read replica when one is configured. With replay paused on the
//! standby, a new election is visible through Get (primary) but not through List (replica)
//! until replay resumes.

use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

use crate::support::{candidate::*, postgres::REPLICA, *};

/// Waits until the new database has reached the standby.
async fn replicated_url(primary_url: &str) -> String {
    let name = primary_url.rsplit('/').next().expect("database name");
    let url = REPLICA.url(name);
    eventually(
        &format!("{name} reaches the replica"),
        Duration::from_secs(5),
        || async {
            let Ok(db) = Database::connect(url.clone()).await else {
                return false;
            };
            db.close().await.ok();
            true
        },
    )
    .await;
    url
}

async fn replay(standby: &DatabaseConnection, action: &str) {
    standby
        .execute_unprepared(&format!("SELECT pg_wal_replay_{action}()"))
        .await
        .unwrap_or_else(|error| panic!("{action} replay: {error}"));
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
    let standby = REPLICA.admin().await;
    // A run that died mid-test may have left replay paused.
    replay(&standby, "resume").await;
    let mesh = spawn_mesh_without_candidates().await;
    // The primary creates the schema first, so the standby has it to read.
    svc_candidate::store::SeaElectionStore::open(&mesh.database_url, None, 1)
        .await
        .expect("schema on the primary");
    let replica_url = replicated_url(&mesh.database_url).await;
    let candidate =
        start_candidate(&mesh, |config| config.read_database_url = Some(replica_url)).await;

    let (api, admin) = rest_as_admin(&mesh).await;
    replay(&standby, "pause").await;
    let id = id_of(&create_election(&api, &admin.access, draft_body("Replicated")).await);
    let (status, _) = api
        .get(&format!("/v1/elections/{id}"), Some(&admin.access))
        .await;
    let seen_on_replica_while_paused = listed(&api, &admin.access, &id).await;
    replay(&standby, "resume").await;
    assert_eq!(
        status, 200,
        "Get reads the primary, which follows the write"
    );
    assert!(
        !seen_on_replica_while_paused,
        "List reads the paused replica"
    );

    eventually(
        "once replay resumes the replica catches up",
        Duration::from_secs(5),
        || listed(&api, &admin.access, &id),
    )
    .await;
    candidate.trigger();
}
