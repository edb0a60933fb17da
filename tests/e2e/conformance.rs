//! Acceptance 7: the user-store conformance suite on PostgreSQL and on SQLite.

use svc_user::store::SeaUserStore;

use crate::support::fresh_database;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_store_conforms_on_postgres() {
    let store = SeaUserStore::open(&fresh_database().await, 4)
        .await
        .expect("postgres store");
    svc_user::conformance::run(&store)
        .await
        .expect("conformance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_store_conforms_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("user.db").display());
    let store = SeaUserStore::open(&url, 4).await.expect("sqlite store");
    svc_user::conformance::run(&store)
        .await
        .expect("conformance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_safe_to_run_concurrently_and_again() {
    let url = fresh_database().await;
    let (a, b) = tokio::join!(SeaUserStore::open(&url, 2), SeaUserStore::open(&url, 2));
    a.expect("first instance migrates");
    b.expect("second instance waits and finds the schema in place");
    SeaUserStore::open(&url, 2)
        .await
        .expect("a restart migrates nothing twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_share_one_signing_key() {
    let config = svc_user::Config::local("unused", None, fresh_database().await);
    let (a, b, c) = tokio::join!(
        svc_user::build_users(&config),
        svc_user::build_users(&config),
        svc_user::build_users(&config)
    );
    let kids = [a, b, c].map(|built| built.expect("svc-user builds").1.signer().0);
    assert!(
        kids.iter().all(|kid| kid == &kids[0]),
        "one key for all: {kids:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_election_store_conforms_on_postgres() {
    let store = svc_candidate::store::SeaElectionStore::open(&fresh_database().await, None, 4)
        .await
        .expect("postgres store");
    svc_candidate::conformance::run(&store)
        .await
        .expect("conformance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_election_store_conforms_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("candidate.db").display()
    );
    let store = svc_candidate::store::SeaElectionStore::open(&url, None, 4)
        .await
        .expect("sqlite store");
    svc_candidate::conformance::run(&store)
        .await
        .expect("conformance");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cast_lock_conforms_on_redis_and_in_memory() {
    let redis = svc_voting::lock::RedisLock::connect(
        "redis://127.0.0.1:6379",
        std::time::Duration::from_millis(500),
    )
    .expect("redis pool");
    svc_voting::lock::conformance(&redis)
        .await
        .expect("redis lock conforms");
    svc_voting::lock::conformance(&svc_voting::lock::MemoryLock::default())
        .await
        .expect("memory lock conforms");
}
