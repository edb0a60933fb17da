//! svc-result: counts ballot events exactly once into tallies, serves results live from a
//! cache, and streams them to watchers on every replica.
#![forbid(unsafe_code)]

pub mod cache;
pub mod conformance;
mod consumer;
mod elections;
mod grpc;
pub mod irv;
mod results;
mod service;
pub mod store;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use kit::{
    auth::{TokenVerifier, USER_SERVICE},
    bus::{StartAt, SubscribeOptions},
    config::CommonArgs,
    discovery::Balanced,
    elections::ELECTION_SERVICE,
    internal::{registry_for, InternalToken},
    server::GrpcServer,
    shutdown::Shutdown,
};
use proto_gen::result::v1::result_service_server::ResultServiceServer;
use tonic::service::Routes;

use crate::{
    cache::{MemoryCache, RedisCache, ResultCache},
    elections::ElectionDirectory,
    grpc::ResultApi,
    service::Results,
    store::SeaResultStore,
};

pub const SERVICE_NAME: &str = "votemesh.result.v1.ResultService";
const VOTING_SERVICE: &str = "votemesh.voting.v1.VotingService";
pub const BALLOT_TOPIC: &str = "votemesh.ballot.cast.v1";

/// svc-result settings.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonArgs,
    /// `postgres://…` in production, `sqlite://path?mode=rwc` embedded.
    #[arg(long, env = "VOTEMESH_RESULT_DATABASE_URL")]
    pub database_url: String,
    /// Database pool size.
    #[arg(long, env = "VOTEMESH_RESULT_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub max_connections: u32,
    /// Redis for the results cache and the fan-out to watchers; unset keeps both in memory.
    #[arg(long, env = "VOTEMESH_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Prefix of the Redis keys and channel, so several deployments can share one Redis.
    #[arg(
        long,
        env = "VOTEMESH_RESULT_REDIS_NAMESPACE",
        default_value = "votemesh"
    )]
    pub redis_namespace: String,
    /// Kafka bootstrap servers; unset uses the in-process bus.
    #[arg(long, env = "VOTEMESH_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Topic of BallotCast events.
    #[arg(long, env = "VOTEMESH_BALLOT_TOPIC", default_value = BALLOT_TOPIC)]
    pub ballot_topic: String,
    /// Consumer group; replicas in one group split the topic's partitions.
    #[arg(
        long,
        env = "VOTEMESH_RESULT_CONSUMER_GROUP",
        default_value = "svc-result"
    )]
    pub consumer_group: String,
    /// How long election details are cached, in milliseconds.
    #[arg(long, env = "VOTEMESH_ELECTION_CACHE_MS", default_value_t = 1000)]
    pub election_cache_ms: u64,
}

impl Config {
    pub fn local(internal_token: &str, registry_url: Option<String>, database_url: String) -> Self {
        Self {
            common: CommonArgs::local(internal_token, registry_url),
            database_url,
            max_connections: 10,
            redis_url: None,
            redis_namespace: "votemesh".into(),
            kafka_brokers: None,
            ballot_topic: BALLOT_TOPIC.into(),
            consumer_group: "svc-result".into(),
            election_cache_ms: 1000,
        }
    }
}

/// A bound svc-result, ready to run.
pub struct App {
    server: GrpcServer,
    results: Arc<Results>,
    subscribe: consumer::Subscribe,
    peers: Balanced,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let common = &config.common;
        let store = SeaResultStore::open(&config.database_url, config.max_connections).await?;
        let registry = registry_for(common, "svc-result")?;
        let users = Balanced::watch(registry.clone(), USER_SERVICE, common.upstream_timeout());
        let elections = Balanced::watch(
            registry.clone(),
            ELECTION_SERVICE,
            common.upstream_timeout(),
        );
        let voting = Balanced::watch(registry.clone(), VOTING_SERVICE, common.upstream_timeout());
        let cache: Arc<dyn ResultCache> = match &config.redis_url {
            Some(url) => Arc::new(RedisCache::connect(
                url,
                &config.redis_namespace,
                Duration::from_secs(1),
            )?),
            None => Arc::new(MemoryCache::default()),
        };
        let brokers = config.kafka_brokers.clone();
        let options = SubscribeOptions {
            group: config.consumer_group.clone(),
            topics: vec![config.ballot_topic.clone()],
            start_at: StartAt::Earliest,
        };
        let subscribe: consumer::Subscribe =
            Box::new(move || kit::bus::subscribe(brokers.as_deref(), options.clone()));
        let peers = Balanced::watch(registry.clone(), SERVICE_NAME, common.upstream_timeout());
        let results = Arc::new(Results {
            store: Arc::new(store),
            cache,
            directory: ElectionDirectory::new(
                elections,
                InternalToken::new(&common.internal_token)?,
                Duration::from_millis(config.election_cache_ms),
            ),
            voting,
        });
        let verifier = TokenVerifier::from_user_service(users, common)?;
        let routes = Routes::new(ResultServiceServer::new(ResultApi(results.clone())));
        let server =
            GrpcServer::bind("svc-result", common, routes, vec![SERVICE_NAME], verifier).await?;
        Ok(Self {
            server,
            results,
            subscribe,
            peers,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn url(&self) -> String {
        self.server.advertised_address()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let consumer = tokio::spawn(consumer::run(
            self.subscribe,
            self.peers,
            self.results,
            shutdown.clone(),
        ));
        let served = self.server.run_until_stopped(shutdown).await;
        // The consumer stops at a batch boundary; an unfinished batch is replayed later.
        let _ = tokio::time::timeout(Duration::from_secs(5), consumer).await;
        served
    }
}
