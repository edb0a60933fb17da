//! The registry: instances hold leases renewed by heartbeat; lapsed leases are evicted and
//! watchers get a fresh snapshot on every change.
#![forbid(unsafe_code)]

pub mod conformance;
mod redis_store;
mod service;
mod store;

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use kit::{
    auth::{StaticKeys, TokenVerifier},
    config::CommonArgs,
    server::GrpcServer,
    shutdown::Shutdown,
};
use proto_gen::registry::v1::registry_service_server::RegistryServiceServer;
use tokio::net::TcpListener;
use tonic::service::Routes;

pub use proto_gen::registry::v1::registry_service_server::SERVICE_NAME;
pub use redis_store::RedisStore;
pub use service::RegistryService;
pub use store::{MemoryStore, RegistryStore};

/// Registry settings.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Lease length granted when an instance asks for none.
    #[arg(
        long,
        env = "VOTEMESH_REGISTRY_DEFAULT_TTL_SECONDS",
        default_value_t = 10
    )]
    pub default_ttl_seconds: u32,
    /// How often lapsed leases are swept and watchers told, in milliseconds.
    #[arg(long, env = "VOTEMESH_REGISTRY_SWEEP_MS", default_value_t = 200)]
    pub sweep_interval_ms: u64,
    /// Redis for the leases, so several registry replicas serve one view and a restart
    /// loses no registration; unset keeps them in memory (one replica). A flag of its own:
    /// sharing leases is a deployment's choice, not a consequence of the services' Redis.
    #[arg(long, env = "VOTEMESH_REGISTRY_REDIS_URL")]
    pub registry_redis_url: Option<String>,
    /// The prefix of the registry's Redis keys.
    #[arg(
        long,
        env = "VOTEMESH_REGISTRY_REDIS_NAMESPACE",
        default_value = "votemesh:registry"
    )]
    pub redis_namespace: String,
}

/// A bound registry, ready to run.
pub struct App {
    listener: TcpListener,
    store: Arc<dyn RegistryStore>,
    config: Config,
}

impl App {
    /// Builds on a listener the caller bound (the mesh binds `config.common.listen`).
    pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let store: Arc<dyn RegistryStore> = match &config.registry_redis_url {
            Some(url) => Arc::new(RedisStore::connect(
                url,
                &config.redis_namespace,
                config.common.upstream_timeout(),
            )?),
            None => Arc::new(MemoryStore::default()),
        };
        Ok(Self {
            listener,
            store,
            config,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        kit::server::local_addr(&self.listener)
    }

    pub fn url(&self) -> String {
        kit::server::advertised_url(&self.config.common, &self.listener)
    }

    /// The gRPC server for `registry`, whose watch streams end with the run's shutdown.
    fn server(
        listener: TcpListener,
        common: &CommonArgs,
        registry: Arc<RegistryService>,
    ) -> anyhow::Result<GrpcServer> {
        let routes = Routes::new(RegistryServiceServer::from_arc(registry));
        // The registry serves internal methods only, so it needs no user keys.
        let verifier = TokenVerifier::new(
            Arc::new(StaticKeys(HashMap::new())),
            common.token_expectations(),
        );
        GrpcServer::bind(
            "registry",
            listener,
            common,
            routes,
            vec![SERVICE_NAME],
            verifier,
        )
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let common = &self.config.common;
        let registry = Arc::new(RegistryService::new(
            self.store,
            self.config.default_ttl_seconds,
            shutdown.clone(),
        ));
        let server = Self::server(self.listener, common, registry.clone())?;
        let sweep_interval = Duration::from_millis(self.config.sweep_interval_ms.max(10));
        shutdown.spawn(
            "registry sweeper",
            registry.sweep_until_stopped(sweep_interval),
        );
        server.run_until_stopped(shutdown).await
    }
}
