//! svc-user: accounts, sign-in, tokens and roles.
#![forbid(unsafe_code)]

pub mod conformance;
mod grpc;
mod keys;
mod password;
pub mod store;
mod users;
mod validate;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use kit::{
    auth::TokenVerifier,
    config::CommonArgs,
    outbox::{OutboxRelay, Retention},
    server::GrpcServer,
    shutdown::Shutdown,
};
use proto_gen::user::v1::user_service_server::UserServiceServer;
use tokio::{net::TcpListener, sync::Notify};
use tonic::service::Routes;

pub use keys::{KeyRing, Seal};
pub use password::{HashStrength, PasswordHasher};
pub use users::{
    CodeSettings, TokenSettings, Users, CODE_TRIES, CODE_TTL_MS, MAX_FIND_EMAILS,
    RESEND_INTERVAL_MS,
};

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
    /// A read replica for admins' user listings; the primary when unset. Sign-in, tokens
    /// and everything that follows a caller's own write read the primary.
    #[arg(long, env = "VOTEMESH_USER_READ_DATABASE_URL")]
    pub read_database_url: Option<String>,
    /// Seals the token signing keys at rest; required, and the same for every instance and
    /// every restart (a different one cannot open the stored keys, and the service refuses
    /// to start).
    #[arg(long, env = "VOTEMESH_SIGNING_KEY_SECRET", hide_env_values = true)]
    pub signing_key_secret: String,
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
    /// Concurrent password hashes; defaults to half the cores (at least one), so a flood of
    /// sign-ins leaves the rest of the machine to voting.
    #[arg(long, env = "VOTEMESH_PASSWORD_HASH_CONCURRENCY")]
    pub hash_concurrency: Option<usize>,
    /// Password hashes running or waiting at most; past it a sign-in or registration is
    /// refused at once with RESOURCE_EXHAUSTED and a retry hint (503 over REST).
    #[arg(long, env = "VOTEMESH_PASSWORD_HASH_QUEUE", default_value_t = 64)]
    pub hash_queue: usize,
    /// Failed sign-ins one account may take in a burst; past it the account's sign-ins are
    /// refused (429) until it refills, whichever addresses they come from. A sign-in that
    /// succeeds costs nothing. Each svc-user instance counts its own.
    #[arg(
        long,
        env = "VOTEMESH_USER_FAILED_SIGN_IN_BURST",
        default_value_t = 10.0
    )]
    pub failed_sign_in_burst: f64,
    /// Failed sign-ins an account is allowed again per hour, after its burst.
    #[arg(
        long,
        env = "VOTEMESH_USER_FAILED_SIGN_INS_PER_HOUR",
        default_value_t = 60.0
    )]
    pub failed_sign_ins_per_hour: f64,
    /// BENCH ONLY, INSECURE: a cheap password hash so a load test can register many voters
    /// quickly. Only in builds with the `bench` feature, which release builds leave out.
    #[cfg(any(test, feature = "bench"))]
    #[arg(long, env = "VOTEMESH_BENCH_ONLY_INSECURE_PASSWORD_HASH", hide = true)]
    pub bench_only_insecure_password_hash: bool,
    /// Kafka bootstrap servers; unset uses the in-process bus.
    #[arg(long, env = "VOTEMESH_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Topic for ContactVerificationRequested events (verification codes to send).
    #[arg(long, env = "VOTEMESH_CONTACT_TOPIC", default_value = kit::bus::topics::CONTACT_VERIFICATION)]
    pub contact_topic: String,
    /// Partitions of the contact topic when it is created.
    #[arg(long, env = "VOTEMESH_TOPIC_PARTITIONS", default_value_t = 3)]
    pub topic_partitions: i32,
    /// How long a verification code works, in seconds.
    #[arg(long, env = "VOTEMESH_VERIFICATION_CODE_TTL_SECONDS", default_value_t = 15 * 60)]
    pub verification_code_ttl_seconds: u32,
    /// How soon a new code may be asked for, in seconds.
    #[arg(
        long,
        env = "VOTEMESH_VERIFICATION_RESEND_SECONDS",
        default_value_t = 60
    )]
    pub verification_resend_seconds: u32,
    /// BENCH AND TEST ONLY, INSECURE: a registered email counts as proven without a code, so
    /// a load test can register many voters. Only in builds with the `bench` feature.
    #[cfg(any(test, feature = "bench"))]
    #[arg(long, env = "VOTEMESH_BENCH_ONLY_TRUST_REGISTERED_EMAILS", hide = true)]
    pub bench_only_trust_registered_emails: bool,
}

/// The key verification codes are hashed under: svc-user's own secret (not the internal
/// token every service holds), labelled so it is a different key from the one sealing the
/// signing keys.
fn code_key(secret: &str) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::new()
        .chain_update(b"votemesh verification codes\0")
        .chain_update(secret.as_bytes())
        .finalize()
        .to_vec()
}

/// The bench-only switches a config sets: (cheap password hash, trust registered emails).
/// A build without the `bench` feature has neither, not even as flags.
#[cfg(any(test, feature = "bench"))]
fn bench_switches(config: &Config) -> (bool, bool) {
    (
        config.bench_only_insecure_password_hash,
        config.bench_only_trust_registered_emails,
    )
}

#[cfg(not(any(test, feature = "bench")))]
fn bench_switches(_: &Config) -> (bool, bool) {
    (false, false)
}

/// Builds the domain service from config: store, hasher, key ring. Nothing relays its outbox
/// here; codes it issues wait there until a running svc-user's relay sends them.
pub async fn build_users(config: &Config) -> anyhow::Result<(Arc<Users>, Arc<KeyRing>)> {
    let store = SeaUserStore::open(&config.database_url, config.max_connections).await?;
    assemble(config, store, Arc::new(Notify::new())).await
}

/// The relay that publishes ContactVerificationRequested, creating its topic when missing.
async fn outbox_relay(config: &Config, store: &SeaUserStore) -> anyhow::Result<OutboxRelay> {
    let bus = kit::bus::connect(
        config.kafka_brokers.as_deref(),
        config.common.upstream_timeout(),
        &[(config.contact_topic.as_str(), config.topic_partitions)],
    )
    .await?;
    Ok(OutboxRelay::new(
        store.connection().clone(),
        bus,
        Duration::from_millis(200),
        "svc-user",
    )
    // The event carries the plaintext code: once published, the row must not linger.
    .with_retention(Retention::Delete))
}

/// The domain over `store`; `outbox_written` is notified after commits that wrote events.
async fn assemble(
    config: &Config,
    store: SeaUserStore,
    outbox_written: Arc<Notify>,
) -> anyhow::Result<(Arc<Users>, Arc<KeyRing>)> {
    let store: Arc<dyn store::UserStore> = Arc::new(store);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let (insecure_hash, trust_emails) = bench_switches(config);
    let strength = if insecure_hash {
        tracing::warn!("BENCH ONLY: passwords are hashed with an insecure, cheap setting");
        HashStrength::BenchOnlyInsecure
    } else {
        HashStrength::Owasp
    };
    let hash_concurrency = config.hash_concurrency.unwrap_or(cores.div_ceil(2));
    let hasher = PasswordHasher::new(strength, hash_concurrency, config.hash_queue)?;
    let failed_sign_ins = kit::ratelimit::Buckets::new(
        config.failed_sign_ins_per_hour / 3600.0,
        config.failed_sign_in_burst,
    );
    let keys = KeyRing::open(store.clone(), keys::Seal::new(&config.signing_key_secret)?).await?;
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
        CodeSettings {
            key: code_key(&config.signing_key_secret),
            topic: config.contact_topic.clone(),
            outbox_written,
            ttl_ms: i64::from(config.verification_code_ttl_seconds) * 1000,
            resend_interval_ms: i64::from(config.verification_resend_seconds) * 1000,
            trust_registered_emails: trust_emails,
        },
        failed_sign_ins,
    ));
    if trust_emails {
        tracing::warn!("BENCH/TEST ONLY: registered emails count as proven without a code");
    }
    Ok((users, keys))
}

/// A bound svc-user, ready to run.
pub struct App {
    server: GrpcServer,
    relay: OutboxRelay,
}

impl App {
    /// Builds on a listener the caller bound (the mesh binds `config.common.listen`).
    pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let mut store = SeaUserStore::open(&config.database_url, config.max_connections).await?;
        if let Some(read_url) = &config.read_database_url {
            store = store.with_replica(read_url, config.max_connections).await?;
        }
        let relay = outbox_relay(&config, &store).await?;
        let (users, keys) = assemble(&config, store, relay.waker()).await?;
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
        Ok(Self { server, relay })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn url(&self) -> String {
        self.server.advertised_address()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        shutdown.spawn("outbox relay", self.relay.run(shutdown.clone()));
        self.server.run_until_stopped(shutdown).await
    }
}

#[cfg(test)]
mod tests {
    use kit::bus::{InProcessBus, StartAt, SubscribeOptions, Subscription};
    use prost::Message;
    use proto_gen::{events::v1::ContactVerificationRequested, user::v1::RegisterRequest};

    use super::*;
    use kit::testing::Backend;

    async fn outbox_rows(store: &SeaUserStore) -> u64 {
        kit::db::count(store.connection(), "SELECT COUNT(*) FROM outbox", [])
            .await
            .expect("count")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_relay_sends_each_code_and_keeps_no_copy() {
        let backend = Backend::sqlite("user");
        let topic = format!("votemesh.test.contact.{}", uuid::Uuid::new_v4().simple());
        let config: Config = kit::config::local([
            "--internal-token=test-token".to_owned(),
            "--signing-key-secret=test-seal".to_owned(),
            format!("--database-url={}", backend.url),
            format!("--contact-topic={topic}"),
            "--bench-only-insecure-password-hash".to_owned(),
        ])
        .expect("config");
        let mut codes = InProcessBus::shared().subscription(&SubscribeOptions {
            group: "test".into(),
            topics: vec![topic],
            start_at: StartAt::Earliest,
        });
        let store = SeaUserStore::open(&config.database_url, 2)
            .await
            .expect("store");
        let relay = outbox_relay(&config, &store).await.expect("relay");
        let (users, _keys) = assemble(&config, store.clone(), relay.waker())
            .await
            .expect("users");
        let shutdown = Shutdown::new();
        let relaying = shutdown.spawn("outbox relay", relay.run(shutdown.clone()));

        let user = users
            .register(RegisterRequest {
                email: "relay@example.org".into(),
                password: "correct horse battery".into(),
                display_name: "Relay".into(),
            })
            .await
            .expect("registered");
        let sent = codes
            .next_batch(10, Duration::from_secs(5))
            .await
            .expect("delivered");
        assert_eq!(sent.len(), 1);
        let event =
            ContactVerificationRequested::decode(sent[0].payload.as_slice()).expect("event");
        assert_eq!(
            (event.user_id.as_str(), event.address.as_str()),
            (user.user_id.as_str(), "relay@example.org")
        );
        // The delete commits just after the publish.
        for _ in 0..50 {
            if outbox_rows(&store).await == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(outbox_rows(&store).await, 0, "the plaintext code is gone");
        shutdown.trigger();
        relaying.await.expect("relay stops");
    }
}
