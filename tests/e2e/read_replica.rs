//! Issues 3 and 14: reads go to the read replica when one is configured. With replay paused on
//! the standby, what a write just made is visible through reads that follow the caller's own
//! write (the primary) but not through listings (the replica) until replay resumes: elections
//! (svc-candidate), users (svc-user), and the published results a cache miss reads
//! (svc-result).

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

/// One test at a time pauses replay on the shared standby.
static STANDBY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
    let _standby = STANDBY.lock().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_listings_come_from_the_replica_and_the_callers_own_reads_from_the_primary() {
    let _standby = STANDBY.lock().await;
    let standby = REPLICA.admin().await;
    replay(&standby, "resume").await;
    let database = fresh_database().await;
    // The primary creates the schema first, so the standby has it to read.
    svc_user::store::SeaUserStore::open(&database, 1)
        .await
        .expect("schema on the primary");
    let replica_url = replicated_url(&database).await;
    let options = MeshOptions {
        user: Instances::one().configured(move |config: &mut svc_user::Config| {
            config.read_database_url = Some(replica_url.clone());
        }),
        candidate: Instances::one(),
        ..Default::default()
    };
    let mesh = spawn_mesh_on(::mesh::Database::Shared(database), options).await;
    let (api, admin) = rest_as_admin(&mesh).await;
    let listed = |email: String| {
        let (api, token) = (api.clone(), admin.access.clone());
        async move {
            let path = format!("/v1/admin/users?email_contains={email}");
            let (status, body) = api.get(&path, Some(&token)).await;
            assert_eq!(status, 200, "{body}");
            body["users"]
                .as_array()
                .is_some_and(|users| !users.is_empty())
        }
    };
    replay(&standby, "pause").await;
    // The write lands on the primary (the standby is read-only), and the caller's own read
    // right after it (GetMe, from the primary) sees it.
    let voter = api.voter("replicated-user").await;
    let (status, me) = api.get("/v1/me", Some(&voter.access)).await;
    let seen_on_replica_while_paused = listed(voter.email.clone()).await;
    replay(&standby, "resume").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["email"], voter.email.as_str());
    assert!(
        !seen_on_replica_while_paused,
        "ListUsers reads the paused replica"
    );
    eventually("the replica catches up", Duration::from_secs(5), || {
        listed(voter.email.clone())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_results_cache_miss_reads_the_replica_and_publishing_the_primary() {
    use svc_result::store::{ResultStore, SeaResultStore};
    let _standby = STANDBY.lock().await;
    let standby = REPLICA.admin().await;
    replay(&standby, "resume").await;
    let database = fresh_database().await;
    let store = SeaResultStore::open(&database, 2).await.expect("primary");
    let replica_url = replicated_url(&database).await;
    let store = store.with_replica(&replica_url, 2).await.expect("replica");
    store.publish("e", 10, b"ten", 0).await.expect("published");
    eventually(
        "the first step reaches the replica",
        Duration::from_secs(5),
        || async {
            store
                .published_for_readers("e")
                .await
                .ok()
                .flatten()
                .is_some()
        },
    )
    .await;
    replay(&standby, "pause").await;
    let written = store.publish("e", 20, b"twenty", 10).await;
    let primary = store.published("e").await;
    let replica = store.published_for_readers("e").await;
    replay(&standby, "resume").await;
    assert!(
        written.expect("the primary takes the write"),
        "a step of 10"
    );
    assert_eq!(
        primary.expect("primary").map(|(n, _)| n),
        Some(20),
        "the counter's read"
    );
    assert_eq!(
        replica.expect("replica").map(|(n, _)| n),
        Some(10),
        "a cache miss's read"
    );
    eventually("the replica catches up", Duration::from_secs(5), || async {
        store
            .published_for_readers("e")
            .await
            .ok()
            .flatten()
            .map(|(n, _)| n)
            == Some(20)
    })
    .await;
}
