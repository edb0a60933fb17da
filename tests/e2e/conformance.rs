//! Acceptance 7: each store's conformance suite on PostgreSQL and on SQLite, and each
//! adapter's suite on its real backend and in memory.

use std::sync::Arc;

use svc_user::store::SeaUserStore;
use tempfile::TempDir;

use crate::support::{fresh_database, kafka};

/// A SQLite file in `dir`, created on first use.
fn sqlite(dir: &TempDir, name: &str) -> String {
    let path = dir.path().join(format!("{name}.db"));
    format!("sqlite://{}?mode=rwc", path.display())
}

/// The SQL backends a store runs on: a fresh PostgreSQL database and a SQLite file.
async fn backends(dir: &TempDir, name: &str) -> [String; 2] {
    [fresh_database().await, sqlite(dir, name)]
}

/// Fails with the backend a suite ran on and what it found.
fn conforms(backend: &str, outcome: anyhow::Result<()>) {
    outcome.unwrap_or_else(|error| panic!("{backend}: {error:#}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_store_conforms_on_postgres_and_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    for url in backends(&dir, "user").await {
        let store = SeaUserStore::open(&url, 4).await.expect("store opens");
        conforms(&url, svc_user::conformance::run(&store).await);
    }
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
    let database_url = fresh_database().await;
    let config: svc_user::Config = kit::config::local([
        "--internal-token=unused",
        "--signing-key-secret=one seal for all",
        &format!("--database-url={database_url}"),
    ])
    .expect("svc-user config");
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
async fn the_election_store_conforms_on_postgres_and_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    for url in backends(&dir, "candidate").await {
        let store = svc_candidate::store::SeaElectionStore::open(&url, None, 4)
            .await
            .expect("store opens");
        conforms(&url, svc_candidate::conformance::run(&store).await);
    }
    for url in backends(&dir, "candidate-upgrade").await {
        conforms(
            &url,
            svc_candidate::conformance::upgrade_from_before_questions(&url).await,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_log_conforms_on_postgres_and_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    for url in backends(&dir, "notify").await {
        let store = svc_notify::store::SeaDeliveryStore::open(&url, 4)
            .await
            .expect("store opens");
        conforms(&url, svc_notify::conformance::run(&store).await);
    }
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_store_conforms_on_redis_across_replicas() {
    let namespace = format!("vmt-registry-{}", uuid::Uuid::new_v4().simple());
    let connect = || {
        registry::RedisStore::connect(
            "redis://127.0.0.1:6379",
            &namespace,
            std::time::Duration::from_secs(1),
        )
        .expect("redis store")
    };
    let (store, peer) = (connect(), connect());
    registry::conformance::run(&store, &peer, "svc")
        .await
        .expect("the redis store conforms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_result_store_conforms_on_postgres_and_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    for url in backends(&dir, "result").await {
        let store = svc_result::store::SeaResultStore::open(&url, 4)
            .await
            .expect("store opens");
        conforms(&url, svc_result::conformance::store(&store).await);
    }
    for url in backends(&dir, "result-upgrade").await {
        conforms(
            &url,
            svc_result::conformance::upgrade_from_before_questions(&url).await,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_results_cache_conforms_on_redis_across_replicas_and_in_memory() {
    let namespace = format!("vmt-{}", uuid::Uuid::new_v4().simple());
    let connect = || {
        svc_result::cache::RedisCache::connect(
            "redis://127.0.0.1:6379",
            &namespace,
            std::time::Duration::from_secs(1),
        )
        .expect("redis cache")
    };
    // Two replicas: what one stores and announces, the other reads and hears.
    let (writer, reader) = (connect(), connect());
    svc_result::conformance::cache(&writer, &reader)
        .await
        .expect("redis conforms");
    let memory = svc_result::cache::MemoryCache::default();
    svc_result::conformance::cache(&memory, &memory)
        .await
        .expect("memory conforms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_bus_conforms_on_kafka_and_in_process() {
    use kit::bus::{InProcessBus, KafkaBus, KafkaSettings, Subscription};

    let brokers = kafka();
    let topic = format!(
        "votemesh.test.conformance.{}",
        uuid::Uuid::new_v4().simple()
    );
    let kafka = KafkaBus::connect(KafkaSettings {
        brokers: brokers.clone(),
        delivery_timeout: std::time::Duration::from_secs(10),
    })
    .expect("kafka producer");
    kafka
        .ensure_topics(&[(topic.as_str(), 3)])
        .await
        .expect("topic created");
    kit::bus::conformance::run(
        &kafka,
        |options| kit::bus::subscribe(Some(&brokers), options),
        &topic,
    )
    .await
    .expect("kafka conforms");

    let memory = InProcessBus::default();
    kit::bus::conformance::run(
        &memory,
        |options| Ok(Box::new(memory.subscription(&options)) as Box<dyn Subscription>),
        "conformance",
    )
    .await
    .expect("in-process bus conforms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_voting_store_conforms_on_postgres_and_sqlite_with_and_without_group_commit() {
    use svc_voting::{group_commit::GroupCommit, store::SeaVotingStore};

    let dir = tempfile::tempdir().expect("tempdir");
    let [postgres_single, sqlite_single] = backends(&dir, "voting-single").await;
    let [postgres_grouped, sqlite_grouped] = backends(&dir, "voting-grouped").await;
    for (url, grouped) in [
        (postgres_single, false),
        (postgres_grouped, true),
        (sqlite_single, false),
        (sqlite_grouped, true),
    ] {
        let store = SeaVotingStore::open(&url, 8).await.expect("store");
        let sea = store.clone();
        let adapter: Arc<dyn svc_voting::store::VotingStore> = if grouped {
            let (group, workers) = GroupCommit::new(store, 4, 64);
            workers.spawn(&kit::shutdown::Shutdown::new());
            Arc::new(group)
        } else {
            Arc::new(store)
        };
        let backend = format!("{url} (group commit {grouped})");
        conforms(&backend, svc_voting::conformance::run(adapter, &sea).await);
    }
}

/// `votemesh migrate <service>` (the chart's migration hook) applies each service's schema in
/// its own schema on a fresh database, and running it again changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votemesh_migrate_applies_every_services_schema_once() {
    use sea_orm::ConnectionTrait;
    let url = fresh_database().await;
    for service in ["user", "candidate", "voting", "result", "notify"] {
        for run in 0..2 {
            let url = url.clone();
            let output = tokio::task::spawn_blocking(move || {
                crate::support::process::votemesh()
                    .args(["migrate", service, "--database-url", &url])
                    .env("VOTEMESH_LOG", "warn")
                    .output()
                    .expect("votemesh runs")
            })
            .await
            .expect("joined");
            assert!(output.status.success(), "{service} run {run}: {output:?}");
        }
    }
    let db = sea_orm::Database::connect(url).await.expect("connect");
    for service in ["user", "candidate", "voting", "result", "notify"] {
        let sql = format!("SELECT COUNT(*) AS n FROM svc_{service}.schema_migrations");
        let row = db
            .query_one(sea_orm::Statement::from_string(
                db.get_database_backend(),
                sql,
            ))
            .await
            .expect("the schema's migrations table")
            .expect("a row");
        let applied: i64 = row.try_get("", "n").expect("a count");
        assert!(applied >= 1, "svc-{service}: {applied} migrations");
    }
}
