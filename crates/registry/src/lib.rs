//! The registry: instances hold leases renewed by heartbeat; lapsed leases are evicted and
//! watchers get a fresh snapshot on every change.
#![forbid(unsafe_code)]

mod service;
mod store;

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use kit::{
    auth::{Expectations, StaticKeys, TokenVerifier},
    config::CommonArgs,
    server::GrpcServer,
    shutdown::Shutdown,
};
use proto_gen::registry::v1::registry_service_server::RegistryServiceServer;
use tonic::service::Routes;

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
}

impl Config {
    pub fn local(internal_token: &str) -> Self {
        Self {
            common: CommonArgs::local(internal_token, None),
            default_ttl_seconds: 10,
            sweep_interval_ms: 200,
        }
    }
}

/// A bound registry, ready to run.
pub struct App {
    server: GrpcServer,
    registry: Arc<RegistryService>,
    sweep_interval: Duration,
}

impl App {
    pub async fn build(config: Config, shutdown: Shutdown) -> anyhow::Result<Self> {
        let store: Arc<dyn RegistryStore> = Arc::new(MemoryStore::default());
        let registry = Arc::new(RegistryService::new(
            store,
            config.default_ttl_seconds,
            shutdown,
        ));
        let routes = Routes::new(RegistryServiceServer::from_arc(registry.clone()));
        // The registry serves internal methods only, so it needs no user keys.
        let verifier = TokenVerifier::new(
            Arc::new(StaticKeys(HashMap::new())),
            Expectations {
                issuer: config.common.jwt_issuer.clone(),
                audience: config.common.jwt_audience.clone(),
            },
        );
        let server = GrpcServer::bind(
            "registry",
            &config.common,
            routes,
            vec!["votemesh.registry.v1.RegistryService"],
            verifier,
        )
        .await?;
        Ok(Self {
            server,
            registry,
            sweep_interval: Duration::from_millis(config.sweep_interval_ms.max(10)),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn url(&self) -> String {
        self.server.advertised_address()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let sweeper = tokio::spawn(self.registry.clone().sweep_forever(self.sweep_interval));
        let served = self.server.run_until_stopped(shutdown).await;
        sweeper.abort();
        served
    }
}
