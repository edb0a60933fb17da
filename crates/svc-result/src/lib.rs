//! svc-result: counts ballot events exactly once into tallies, serves results live from a
//! cache, and streams them to watchers on every replica.
#![forbid(unsafe_code)]

pub mod cache;
pub mod conformance;
mod consumer;
mod elections;
mod exports;
mod grpc;
mod live_counts;
mod methods;
mod profile;
mod results;
mod service;
pub mod store;
pub mod watchers;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use clients::{ElectionClient, UserClient, VotingClient};
use kit::{
    bus::{StartAt, SubscribeOptions},
    config::CommonArgs,
    discovery::Balanced,
    internal::registry_for,
    server::GrpcServer,
    shutdown::Shutdown,
};
use proto_gen::result::v1::result_service_server::ResultServiceServer;
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::{
    cache::{MemoryCache, RedisCache, ResultCache},
    elections::ElectionDirectory,
    grpc::ResultApi,
    service::Results,
    store::SeaResultStore,
};

pub use proto_gen::result::v1::result_service_server::SERVICE_NAME;

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
    /// A read replica for the results readers ask for when the cache has none; the primary
    /// when unset. Counting and publishing always use the primary.
    #[arg(long, env = "VOTEMESH_RESULT_READ_DATABASE_URL")]
    pub read_database_url: Option<String>,
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
    #[arg(long, env = "VOTEMESH_BALLOT_TOPIC", default_value = kit::bus::topics::BALLOT_CAST)]
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
    /// k: the fewest ballots by which results move while an election is open, as svc-voting's
    /// mix releases them (set both to the same value).
    #[arg(long, env = "VOTEMESH_MIX_MIN_BATCH", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub mix_min_batch: u64,
}

/// A bound svc-result, ready to run.
pub struct App {
    server: GrpcServer,
    results: Arc<Results>,
    subscribe: kit::bus::consume::Subscribe,
    peers: Balanced,
    /// Fired once the drain starts, to end the WatchResults streams.
    streams_end: Shutdown,
}

impl App {
    /// Builds on a listener the caller bound (the mesh binds `config.common.listen`).
    pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let common = &config.common;
        let mut store = SeaResultStore::open(&config.database_url, config.max_connections).await?;
        if let Some(read_url) = &config.read_database_url {
            store = store.with_replica(read_url, config.max_connections).await?;
        }
        let registry = registry_for(common, "svc-result")?;
        let users = UserClient::watch(&registry, common)?;
        let elections = ElectionClient::watch(&registry, common)?;
        let voting = VotingClient::watch(&registry, common)?;
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
        let subscribe = kit::bus::consume::subscriber(brokers, options);
        let peers = Balanced::watch(registry.clone(), SERVICE_NAME, common.upstream_timeout());
        let results = Arc::new(Results {
            store: Arc::new(store),
            cache,
            directory: ElectionDirectory::new(
                elections,
                Duration::from_millis(config.election_cache_ms),
            ),
            voting,
            min_step: config.mix_min_batch,
            published_at_least: Default::default(),
            final_checks: Default::default(),
        });
        let verifier = clients::token_verifier(&users, common);
        let streams_end = Shutdown::new();
        let routes = Routes::new(ResultServiceServer::new(ResultApi {
            results: results.clone(),
            streams_end: streams_end.clone(),
        }));
        let server = GrpcServer::bind(
            "svc-result",
            listener,
            common,
            routes,
            vec![SERVICE_NAME],
            verifier,
        )?;
        Ok(Self {
            server,
            results,
            subscribe,
            peers,
            streams_end,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn url(&self) -> String {
        self.server.advertised_address()
    }

    /// Serves until `shutdown` starts, then drains: the watch streams end, the consumer stops
    /// at a batch boundary (an unfinished batch is replayed later), the relay stops, and the
    /// whole drain keeps within the configured deadline.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        consumer::spawn(self.subscribe, self.peers, self.results.clone(), &shutdown);
        self.results.cache.relay(&shutdown);
        shutdown.propagate_to(self.streams_end);
        self.server.run_until_stopped(shutdown).await
    }
}
