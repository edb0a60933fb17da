//! svc-user: accounts, sign-in, tokens and roles.
#![forbid(unsafe_code)]

pub mod conformance;
mod grpc;
mod keys;
mod password;
pub mod store;
mod users;
mod validate;

use std::{net::SocketAddr, sync::Arc};

use kit::{auth::TokenVerifier, config::CommonArgs, server::GrpcServer, shutdown::Shutdown};
use proto_gen::user::v1::user_service_server::UserServiceServer;
use tokio::net::TcpListener;
use tonic::service::Routes;

pub use keys::KeyRing;
pub use password::{HashStrength, PasswordHasher};
pub use users::{TokenSettings, Users};

use crate::{grpc::UserApi, store::SeaUserStore};

pub use proto_gen::user::v1::user_service_server::SERVICE_NAME;

/// svc-user settings.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonArgs,
    /// `postgres://…` in production, `sqlite://path?mode=rwc` embedded.
    #[arg(long, env = "VOTEMESH_USER_DATABASE_URL")]
    pub database_url: String,
    /// Database pool size.
    #[arg(long, env = "VOTEMESH_USER_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub max_connections: u32,
    /// Access-token lifetime.
    #[arg(long, env = "VOTEMESH_ACCESS_TOKEN_TTL_SECONDS", default_value_t = 300)]
    pub access_token_ttl_seconds: u32,
    /// Refresh-token lifetime.
    #[arg(long, env = "VOTEMESH_REFRESH_TOKEN_TTL_SECONDS", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_seconds: u64,
    /// Bootstrap: make this account an admin at start (created with the password if missing).
    #[arg(long, env = "VOTEMESH_BOOTSTRAP_ADMIN_EMAIL")]
    pub bootstrap_admin_email: Option<String>,
    /// Password for a bootstrap admin that does not exist yet.
    #[arg(
        long,
        env = "VOTEMESH_BOOTSTRAP_ADMIN_PASSWORD",
        hide_env_values = true
    )]
    pub bootstrap_admin_password: Option<String>,
    /// Concurrent password hashes; defaults to the number of cores.
    #[arg(long, env = "VOTEMESH_PASSWORD_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,
    /// BENCH ONLY, INSECURE: a cheap password hash so a load test can register many voters
    /// quickly. Never set it where real accounts live.
    #[arg(long, env = "VOTEMESH_BENCH_ONLY_INSECURE_PASSWORD_HASH", hide = true)]
    pub bench_only_insecure_password_hash: bool,
}

/// Builds the domain service from config: store, hasher, key ring.
pub async fn build_users(config: &Config) -> anyhow::Result<(Arc<Users>, Arc<KeyRing>)> {
    let store: Arc<dyn store::UserStore> =
        Arc::new(SeaUserStore::open(&config.database_url, config.max_connections).await?);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let strength = if config.bench_only_insecure_password_hash {
        tracing::warn!("BENCH ONLY: passwords are hashed with an insecure, cheap setting");
        HashStrength::BenchOnlyInsecure
    } else {
        HashStrength::Owasp
    };
    let hasher = PasswordHasher::new(strength, config.hash_concurrency.unwrap_or(cores))?;
    let keys = KeyRing::open(store.clone()).await?;
    let users = Arc::new(Users::new(
        store,
        hasher,
        keys.clone(),
        TokenSettings {
            access_ttl_seconds: config.access_token_ttl_seconds,
            refresh_ttl_seconds: config.refresh_token_ttl_seconds,
            issuer: config.common.jwt_issuer.clone(),
            audience: config.common.jwt_audience.clone(),
        },
    ));
    Ok((users, keys))
}

/// A bound svc-user, ready to run.
pub struct App {
    server: GrpcServer,
}

impl App {
    /// Builds on a listener the caller bound (the mesh binds `config.common.listen`).
    pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let (users, keys) = build_users(&config).await?;
        if let Some(email) = &config.bootstrap_admin_email {
            let password = config
                .bootstrap_admin_password
                .as_deref()
                .unwrap_or_default();
            let admin = users.ensure_admin(email, password).await?;
            tracing::info!(user_id = %admin.user_id, "bootstrap admin is in place");
        }
        let verifier = TokenVerifier::new(keys, config.common.token_expectations());
        let routes = Routes::new(UserServiceServer::new(UserApi(users)));
        let server = GrpcServer::bind(
            "svc-user",
            listener,
            &config.common,
            routes,
            vec![SERVICE_NAME],
            verifier,
        )?;
        Ok(Self { server })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn url(&self) -> String {
        self.server.advertised_address()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        self.server.run_until_stopped(shutdown).await
    }
}
