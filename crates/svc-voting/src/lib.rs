//! svc-voting: casts ballots. A Redis lock turns concurrent duplicates away early, the
//! database's unique constraint decides, and events leave through the outbox.
#![forbid(unsafe_code)]

pub mod conformance;
mod directory;
pub mod group_commit;
mod grpc;
mod invalidation;
pub mod lock;
mod selection;
pub mod store;
mod voting;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use kit::{
    auth::{TokenVerifier, USER_SERVICE},
    bus::{StartAt, SubscribeOptions, Subscription},
    config::CommonArgs,
    discovery::Balanced,
    elections::ELECTION_SERVICE,
    internal::{registry_for, InternalToken},
    outbox::{OutboxRelay, Retention},
    server::GrpcServer,
    shutdown::Shutdown,
};
use proto_gen::voting::v1::voting_service_server::VotingServiceServer;
use tonic::service::Routes;

use crate::{
    directory::ElectionDirectory,
    group_commit::GroupCommit,
    grpc::VotingApi,
    lock::{CastLock, MemoryLock, RedisLock},
    store::{SeaVotingStore, VotingStore},
    voting::{Topics, Voting},
};

pub const SERVICE_NAME: &str = "votemesh.voting.v1.VotingService";
pub const BALLOT_TOPIC: &str = "votemesh.ballot.cast.v1";
pub const VOTE_TOPIC: &str = "votemesh.vote.recorded.v1";
pub const STATUS_TOPIC: &str = "votemesh.election.status.v1";

/// svc-voting settings.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonArgs,
    /// `postgres://…` in production, `sqlite://path?mode=rwc` embedded.
    #[arg(long, env = "VOTEMESH_VOTING_DATABASE_URL")]
    pub database_url: String,
    /// Database pool size.
    #[arg(long, env = "VOTEMESH_VOTING_DB_MAX_CONNECTIONS", default_value_t = 20)]
    pub max_connections: u32,
    /// Redis for the duplicate-cast lock; unset uses an in-process lock.
    #[arg(long, env = "VOTEMESH_REDIS_URL")]
    pub redis_url: Option<String>,
    /// Kafka bootstrap servers; unset uses the in-process bus.
    #[arg(long, env = "VOTEMESH_KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// Topic for BallotCast events.
    #[arg(long, env = "VOTEMESH_BALLOT_TOPIC", default_value = BALLOT_TOPIC)]
    pub ballot_topic: String,
    /// Topic for VoteRecorded events.
    #[arg(long, env = "VOTEMESH_VOTE_TOPIC", default_value = VOTE_TOPIC)]
    pub vote_topic: String,
    /// Topic of ElectionStatusChanged events, which invalidate cached elections.
    #[arg(long, env = "VOTEMESH_ELECTION_STATUS_TOPIC", default_value = STATUS_TOPIC)]
    pub status_topic: String,
    /// Partitions of each topic when it is created.
    #[arg(long, env = "VOTEMESH_TOPIC_PARTITIONS", default_value_t = 3)]
    pub topic_partitions: i32,
    /// Key for receipt hashes; defaults to the internal token.
    #[arg(long, env = "VOTEMESH_RECEIPT_SECRET", hide_env_values = true)]
    pub receipt_secret: Option<String>,
    /// How long a cast lock holds before it lapses, in milliseconds.
    #[arg(long, env = "VOTEMESH_CAST_LOCK_TTL_MS", default_value_t = 5000)]
    pub lock_ttl_ms: u64,
    /// How long election details are cached, in milliseconds.
    #[arg(long, env = "VOTEMESH_ELECTION_CACHE_MS", default_value_t = 2000)]
    pub election_cache_ms: u64,
    /// Most casts that share one transaction; 1 gives each cast its own.
    #[arg(long, env = "VOTEMESH_CAST_BATCH_MAX", default_value_t = 128)]
    pub cast_batch_max: usize,
    /// Cast transactions in flight at once.
    #[arg(long, env = "VOTEMESH_CAST_BATCH_WORKERS", default_value_t = 4)]
    pub cast_batch_workers: usize,
    /// Test only: abort right after a commit, before publishing, to prove the outbox.
    #[arg(long, env = "VOTEMESH_FAULT_CRASH_AFTER_COMMIT", hide = true)]
    pub fault_crash_after_commit: bool,
}

impl Config {
    pub fn local(internal_token: &str, registry_url: Option<String>, database_url: String) -> Self {
        Self {
            common: CommonArgs::local(internal_token, registry_url),
            database_url,
            max_connections: 20,
            redis_url: None,
            kafka_brokers: None,
            ballot_topic: BALLOT_TOPIC.into(),
            vote_topic: VOTE_TOPIC.into(),
            status_topic: STATUS_TOPIC.into(),
            topic_partitions: 3,
            receipt_secret: None,
            lock_ttl_ms: 5000,
            election_cache_ms: 2000,
            cast_batch_max: 128,
            cast_batch_workers: 4,
            fault_crash_after_commit: false,
        }
    }
}

/// A bound svc-voting, ready to run.
pub struct App {
    server: GrpcServer,
    relay: Option<OutboxRelay>,
    voting: Arc<Voting>,
    status_events: Box<dyn Subscription>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let common = &config.common;
        let store = SeaVotingStore::open(&config.database_url, config.max_connections).await?;
        let registry = registry_for(common, "svc-voting")?;
        let users = Balanced::watch(registry.clone(), USER_SERVICE, common.upstream_timeout());
        let elections = Balanced::watch(registry, ELECTION_SERVICE, common.upstream_timeout());
        let token = InternalToken::new(&common.internal_token)?;
        let lock: Arc<dyn CastLock> = match &config.redis_url {
            Some(url) => Arc::new(RedisLock::connect(url, Duration::from_secs(1))?),
            None => Arc::new(MemoryLock::default()),
        };
        let bus = kit::bus::connect(
            config.kafka_brokers.as_deref(),
            common.upstream_timeout(),
            &[
                (config.ballot_topic.as_str(), config.topic_partitions),
                (config.vote_topic.as_str(), config.topic_partitions),
            ],
        )
        .await?;
        let relay = OutboxRelay::new(
            store.connection().clone(),
            bus,
            Duration::from_millis(50),
            "svc-voting",
        )
        .with_retention(Retention::Delete);
        let store: Arc<dyn VotingStore> = if config.cast_batch_max > 1 {
            Arc::new(GroupCommit::new(
                store,
                config.cast_batch_workers,
                config.cast_batch_max,
            ))
        } else {
            Arc::new(store)
        };
        let voting = Voting {
            store,
            lock,
            directory: ElectionDirectory::new(
                elections,
                users.clone(),
                token.clone(),
                Duration::from_millis(config.election_cache_ms),
            ),
            receipt_key: config
                .receipt_secret
                .clone()
                .unwrap_or_else(|| common.internal_token.clone())
                .into_bytes(),
            topics: Topics {
                ballots: config.ballot_topic.clone(),
                votes: config.vote_topic.clone(),
            },
            lock_ttl: Duration::from_millis(config.lock_ttl_ms),
            crash_after_commit: config.fault_crash_after_commit,
            outbox_written: relay.waker(),
        };
        let status_events = kit::bus::subscribe(
            config.kafka_brokers.as_deref(),
            SubscribeOptions {
                group: format!("svc-voting-cache-{}", uuid::Uuid::new_v4().simple()),
                topics: vec![config.status_topic.clone()],
                // The topic is small; reading it whole means no change slips past a join.
                start_at: StartAt::Earliest,
            },
        )?;
        let voting = Arc::new(voting);
        let verifier = TokenVerifier::from_user_service(users.clone(), common)?;
        let routes = Routes::new(VotingServiceServer::new(VotingApi(voting.clone())));
        let server =
            GrpcServer::bind("svc-voting", common, routes, vec![SERVICE_NAME], verifier).await?;
        // With the crash fault on, nothing may publish before the abort.
        let relay = (!config.fault_crash_after_commit).then_some(relay);
        Ok(Self {
            server,
            relay,
            voting,
            status_events,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn url(&self) -> String {
        self.server.advertised_address()
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let relay = self
            .relay
            .map(|relay| tokio::spawn(relay.run(shutdown.clone())));
        let invalidation = tokio::spawn(invalidation::follow_status_changes(
            self.status_events,
            self.voting,
            shutdown.clone(),
        ));
        let served = self.server.run_until_stopped(shutdown).await;
        if let Some(relay) = relay {
            relay.abort();
        }
        invalidation.abort();
        served
    }
}
