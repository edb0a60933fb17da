//! The whole system in this process on real PostgreSQL, Redis and Kafka, as the benchmark
//! runs it: every service shares the machine with the load, as in production on one node.

use ::mesh::{Database, Instances, Plan, Services};
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

const ADMIN_EMAIL: &str = "loadgen-admin@votemesh.test";
const ADMIN_PASSWORD: &str = "loadgen admin password";

/// Topics and group of this run only, so runs never read each other's events.
#[derive(Clone)]
struct RunNames {
    ballots: String,
    votes: String,
    status: String,
    group: String,
}

impl RunNames {
    fn fresh() -> Self {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let topic = |name: &str| format!("votemesh.loadgen.{name}.{suffix}");
        Self {
            ballots: topic("ballots"),
            votes: topic("votes"),
            status: topic("status"),
            group: format!("loadgen-{suffix}"),
        }
    }
}

/// Every service as the benchmark wants it: the admin bootstrapped, cheap set-up hashes,
/// this run's topics, and limits that one client address cannot reach.
fn services(args: &Args, names: RunNames) -> Services {
    let (max_connections, batch_max, batch_workers) = (
        args.concurrency.clamp(8, 64) as u32,
        args.cast_batch_max,
        args.cast_batch_workers,
    );
    let (candidate_names, result_names, notify_names) =
        (names.clone(), names.clone(), names.clone());
    let smtp_url = args.smtp_url.clone();
    Services {
        user: Instances {
            count: 1,
            configure: Box::new(move |user| {
                user.bootstrap_admin_email = Some(ADMIN_EMAIL.to_owned());
                user.bootstrap_admin_password = Some(ADMIN_PASSWORD.to_owned());
                // Set-up only: registering the voters. No cast hashes a password.
                user.bench_only_insecure_password_hash = true;
                // Set-up too: the load's voters count as having proven their addresses.
                user.bench_only_trust_registered_emails = true;
                user.access_token_ttl_seconds = 3600;
            }),
        },
        candidate: Instances {
            count: 1,
            configure: Box::new(move |candidate| {
                candidate.status_topic = candidate_names.status.clone();
            }),
        },
        voting: Instances {
            count: args.voting_instances,
            configure: Box::new(move |voting| {
                voting.ballot_topic = names.ballots.clone();
                voting.vote_topic = names.votes.clone();
                voting.status_topic = names.status.clone();
                voting.max_connections = max_connections;
                if let Some(batch_max) = batch_max {
                    voting.cast_batch_max = batch_max;
                }
                if let Some(batch_workers) = batch_workers {
                    voting.cast_batch_workers = batch_workers;
                }
            }),
        },
        result: Instances {
            count: 1,
            configure: Box::new(move |result| {
                result.ballot_topic = result_names.ballots.clone();
                result.consumer_group = result_names.group.clone();
                result.redis_namespace = result_names.group.clone();
            }),
        },
        notify: Instances {
            count: usize::from(smtp_url.is_some()),
            configure: Box::new(move |notify| {
                notify.vote_topic = notify_names.votes.clone();
                notify.consumer_group = format!("{}-notify", notify_names.group);
                notify.smtp_url = smtp_url.clone();
                notify.send_concurrency = 16;
            }),
        },
        edge: Box::new(|edge| {
            // One client address carries the whole load here; the limits are not under test.
            edge.per_ip_per_second = 1e9;
            edge.per_ip_burst = 1e9;
            edge.per_user_per_second = 1e9;
            edge.per_user_burst = 1e9;
            edge.credentials_per_minute = 1e9;
            edge.credentials_burst = 1e9;
        }),
        ..Services::default()
    }
}

pub async fn spawn(args: &Args, shutdown: &Shutdown) -> anyhow::Result<Spawned> {
    drop_earlier_runs(&args.postgres).await?;
    let plan = Plan {
        internal_token: uuid::Uuid::new_v4().simple().to_string(),
        receipt_secret: uuid::Uuid::new_v4().simple().to_string(),
        signing_key_secret: uuid::Uuid::new_v4().simple().to_string(),
        database: Database::Shared(fresh_database(&args.postgres, "mesh").await?),
        redis_url: Some(args.redis.clone()),
        kafka_brokers: Some(args.kafka.clone()),
        mix_min_batch: Some(args.mix_min_batch),
    };
    let services = services(args, RunNames::fresh());
    let running = ::mesh::spawn(&plan, services, shutdown).await?;
    Ok(Spawned {
        edge_url: running.edge_url,
        admin_email: ADMIN_EMAIL.to_owned(),
        admin_password: ADMIN_PASSWORD.to_owned(),
    })
}
