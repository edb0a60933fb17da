//! svc-candidate: elections, their candidates and voter rolls.
#![forbid(unsafe_code)]

pub mod conformance;
mod convert;
pub mod elections;
mod grpc;
mod questions;
mod roll;
mod scheduler;
pub mod store;
#[cfg(test)]
mod tests;
mod validate;
mod voters;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use clients::UserClient;
use kit::{
    config::CommonArgs, internal::registry_for, outbox::OutboxRelay, server::GrpcServer,
    shutdown::Shutdown,
};
use proto_gen::election::v1::election_service_server::ElectionServiceServer;
use tokio::net::TcpListener;
use tonic::service::Routes;

pub use elections::{Elections, Topics};

use crate::{grpc::ElectionApi, store::SeaElectionStore, voters::EmailsFromUsers};

pub use proto_gen::election::v1::election_service_server::SERVICE_NAME;

/// svc-candidate settings.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonArgs,
    /// `postgres://…` in production, `sqlite://path?mode=rwc` embedded.
    #[arg(long, env = "VOTEMESH_CANDIDATE_DATABASE_URL")]
    pub database_url: String,
    /// A read replica for list and count reads; the primary when unset.
    #[arg(long, env = "VOTEMESH_CANDIDATE_READ_DATABASE_URL")]
    pub read_database_url: Option<String>,
    /// Database pool size.
    #[arg(
        long,
        env = "VOTEMESH_CANDIDATE_DB_MAX_CONNECTIONS",
        default_value_t = 10
    )]
    pub max_connections: u32,
    /// How often the scheduler looks for due openings and closings, in milliseconds.
    #[arg(long, env = "VOTEMESH_SCHEDULER_INTERVAL_MS", default_value_t = 500)]
    pub scheduler_interval_ms: u64,
    /// Most rows one roll import may carry; later rows are reported, not imported.
    #[arg(long, env = "VOTEMESH_ROLL_IMPORT_LIMIT", default_value_t = 100_000)]
    pub roll_import_limit: usize,
    /// Kafka bootstrap servers; unset uses the in-process bus (the embedded default).
    #[arg(long, env = "VOTEMESH_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Topic for election status events.
    #[arg(long, env = "VOTEMESH_ELECTION_STATUS_TOPIC", default_value = kit::bus::topics::ELECTION_STATUS)]
    pub status_topic: String,
    /// Topic for NotificationsRequested events (roll invitations and reminders).
    #[arg(long, env = "VOTEMESH_NOTIFICATION_TOPIC", default_value = kit::bus::topics::NOTIFICATION_REQUESTS)]
    pub notification_topic: String,
    /// Partitions of each topic svc-candidate creates (status, notification requests).
    #[arg(long, env = "VOTEMESH_ELECTION_STATUS_PARTITIONS", default_value_t = 3)]
    pub status_partitions: i32,
    /// k, as svc-voting's mix has it: a roll weight shared by fewer than k entries would
    /// single out their ballots, so the import reports it and opening needs an admin's
    /// acknowledgement.
    #[arg(long, env = "VOTEMESH_MIX_MIN_BATCH", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub mix_min_batch: u64,
}

/// A bound svc-candidate, ready to run.
pub struct App {
    server: GrpcServer,
    elections: Arc<Elections>,
    scheduler_interval: Duration,
    relay: OutboxRelay,
}

impl App {
    /// Builds on a listener the caller bound (the mesh binds `config.common.listen`).
    pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let store = SeaElectionStore::open(
            &config.database_url,
            config.read_database_url.as_deref(),
            config.max_connections,
        )
        .await?;
        let relay = OutboxRelay::new(
            store.primary().clone(),
            kit::bus::connect(
                config.kafka_brokers.as_deref(),
                config.common.upstream_timeout(),
                &[
                    (config.status_topic.as_str(), config.status_partitions),
                    (config.notification_topic.as_str(), config.status_partitions),
                ],
            )
            .await?,
            Duration::from_millis(200),
            "svc-candidate",
        );
        let users = UserClient::watch(
            &registry_for(&config.common, "svc-candidate")?,
            &config.common,
        )?;
        let elections = Arc::new(Elections::new(
            Arc::new(store),
            config.roll_import_limit,
            Topics {
                status: config.status_topic.clone(),
                notifications: config.notification_topic.clone(),
            },
            Arc::new(EmailsFromUsers::new(users.clone())),
            config.mix_min_batch,
        ));
        let verifier = clients::token_verifier(&users, &config.common);
        let routes = Routes::new(ElectionServiceServer::new(ElectionApi(elections.clone())));
        let server = GrpcServer::bind(
            "svc-candidate",
            listener,
            &config.common,
            routes,
            vec![SERVICE_NAME],
            verifier,
        )?;
        Ok(Self {
            server,
            elections,
            scheduler_interval: Duration::from_millis(config.scheduler_interval_ms.max(10)),
            relay,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn url(&self) -> String {
        self.server.advertised_address()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        shutdown.spawn(
            "election scheduler",
            scheduler::run(
                self.elections.clone(),
                self.scheduler_interval,
                shutdown.clone(),
            ),
        );
        shutdown.spawn("outbox relay", self.relay.run(shutdown.clone()));
        self.server.run_until_stopped(shutdown).await
    }
}
