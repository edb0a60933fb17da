//! The whole system in this process on real PostgreSQL, Redis and Kafka, as the benchmark
//! runs it: every service shares the machine with the load, as in production on one node.

use kit::shutdown::Shutdown;

use crate::Args;

pub struct Spawned {
    pub edge_url: String,
    pub admin_email: String,
    pub admin_password: String,
}

/// A fresh database on the server at `postgres` (a URL without a database name).
pub async fn fresh_database(postgres: &str, label: &str) -> anyhow::Result<String> {
    use sea_orm::ConnectionTrait;
    let name = format!("loadgen_{label}_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(format!("{postgres}/postgres")).await?;
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await?;
    admin.close().await?;
    Ok(format!("{postgres}/{name}"))
}

/// Drops the databases earlier runs left behind (one run at a time is assumed).
async fn drop_earlier_runs(postgres: &str) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let admin = sea_orm::Database::connect(format!("{postgres}/postgres")).await?;
    let rows = admin
        .query_all(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'loadgen\\_%'",
        ))
        .await?;
    for row in rows {
        let name: String = row.try_get("", "datname")?;
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await?;
    }
    admin.close().await?;
    Ok(())
}

pub async fn spawn(args: &Args, shutdown: &Shutdown) -> anyhow::Result<Spawned> {
    drop_earlier_runs(&args.postgres).await?;
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let database_url = fresh_database(&args.postgres, "mesh").await?;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let ballot_topic = format!("votemesh.loadgen.ballots.{suffix}");
    let admin_email = "loadgen-admin@votemesh.test".to_owned();
    let admin_password = "loadgen admin password".to_owned();

    let registry = registry::App::build(registry::Config::local(&secret), shutdown.clone()).await?;
    let registry_url = registry.url();
    tokio::spawn(registry.run_until_stopped(shutdown.clone()));

    let mut user =
        svc_user::Config::local(&secret, Some(registry_url.clone()), database_url.clone());
    user.bootstrap_admin_email = Some(admin_email.clone());
    user.bootstrap_admin_password = Some(admin_password.clone());
    // Set-up only: registering the voters. No cast hashes a password.
    user.bench_only_insecure_password_hash = true;
    user.access_token_ttl_seconds = 3600;
    let user = svc_user::App::build(user).await?;
    tokio::spawn(user.run_until_stopped(shutdown.clone()));

    let candidate =
        svc_candidate::Config::local(&secret, Some(registry_url.clone()), database_url.clone());
    let candidate = svc_candidate::App::build(candidate).await?;
    tokio::spawn(candidate.run_until_stopped(shutdown.clone()));

    for _ in 0..args.voting_instances {
        let mut voting =
            svc_voting::Config::local(&secret, Some(registry_url.clone()), database_url.clone());
        voting.redis_url = Some(args.redis.clone());
        voting.kafka_brokers = Some(args.kafka.clone());
        voting.ballot_topic = ballot_topic.clone();
        voting.vote_topic = format!("votemesh.loadgen.votes.{suffix}");
        voting.max_connections = args.concurrency.clamp(8, 64) as u32;
        voting.cast_batch_max = args.cast_batch_max;
        voting.cast_batch_workers = args.cast_batch_workers;
        let voting = svc_voting::App::build(voting).await?;
        tokio::spawn(voting.run_until_stopped(shutdown.clone()));
    }

    let mut result =
        svc_result::Config::local(&secret, Some(registry_url.clone()), database_url.clone());
    result.redis_url = Some(args.redis.clone());
    result.kafka_brokers = Some(args.kafka.clone());
    result.ballot_topic = ballot_topic;
    result.consumer_group = format!("loadgen-{suffix}");
    result.redis_namespace = format!("loadgen-{suffix}");
    let result = svc_result::App::build(result).await?;
    tokio::spawn(result.run_until_stopped(shutdown.clone()));

    let mut edge = edge::Config::local(&secret, registry_url);
    // One client address carries the whole load here; the limits are not under test.
    edge.per_ip_per_second = 1e9;
    edge.per_ip_burst = 1e9;
    edge.per_user_per_second = 1e9;
    edge.per_user_burst = 1e9;
    edge.credentials_per_minute = 1e9;
    edge.credentials_burst = 1e9;
    let edge = edge::App::build(edge).await?;
    let edge_url = edge.url();
    tokio::spawn(edge.run_until_stopped(shutdown.clone()));

    Ok(Spawned {
        edge_url,

        admin_email,
        admin_password,
    })
}
