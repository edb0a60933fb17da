//! svc-voting: casts ballots. A Redis lock turns concurrent duplicates away early, the
//! database's unique constraint decides, and events leave through the outbox.
#![forbid(unsafe_code)]

mod ballot;
pub mod conformance;
mod directory;
pub mod group_commit;
mod grpc;
mod invalidation;
pub mod lock;
pub mod mix;
mod selection;
pub mod store;
#[cfg(test)]
mod tests;
mod voting;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use clients::{ElectionClient, UserClient};
use kit::{
    bus::{StartAt, SubscribeOptions},
    config::CommonArgs,
    internal::registry_for,
    outbox::{OutboxRelay, Retention},
    server::GrpcServer,
    shutdown::Shutdown,
};
use proto_gen::voting::v1::voting_service_server::VotingServiceServer;
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::{
    directory::ElectionDirectory,
    group_commit::{CommitWorkers, GroupCommit},
    grpc::VotingApi,
    lock::{CastLock, MemoryLock, RedisLock},
    mix::{seal::BallotSeal, Mix},
    store::{SeaVotingStore, VotingStore},
    voting::{Topics, Voting},
};

pub use proto_gen::voting::v1::voting_service_server::SERVICE_NAME;

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
    #[arg(long, env = "VOTEMESH_BALLOT_TOPIC", default_value = kit::bus::topics::BALLOT_CAST)]
    pub ballot_topic: String,
    /// Topic for VoteRecorded events.
    #[arg(long, env = "VOTEMESH_VOTE_TOPIC", default_value = kit::bus::topics::VOTE_RECORDED)]
    pub vote_topic: String,
    /// Topic of ElectionStatusChanged events, which invalidate cached elections.
    #[arg(long, env = "VOTEMESH_ELECTION_STATUS_TOPIC", default_value = kit::bus::topics::ELECTION_STATUS)]
    pub status_topic: String,
    /// Partitions of each topic when it is created.
    #[arg(long, env = "VOTEMESH_TOPIC_PARTITIONS", default_value_t = 3)]
    pub topic_partitions: i32,
    /// Key for receipt hashes; required, its own secret (never the internal token, which
    /// every service holds), and kept across restarts so old receipts still verify.
    #[arg(long, env = "VOTEMESH_RECEIPT_SECRET", hide_env_values = true)]
    pub receipt_secret: String,
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
    /// k: the fewest sealed ballots the mix releases to the count together while an election
    /// is open (at the close, everything left goes). Below 10 a watcher of live results
    /// learns more about each ballot; 1 turns the mix's anonymity off.
    #[arg(long, env = "VOTEMESH_MIX_MIN_BATCH", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub mix_min_batch: u64,
    /// Test only: abort right after a commit, before publishing, to prove the outbox. Only in
    /// builds with the `fault-injection` feature, which release builds leave out.
    #[cfg(any(test, feature = "fault-injection"))]
    #[arg(long, env = "VOTEMESH_FAULT_CRASH_AFTER_COMMIT", hide = true)]
    pub fault_crash_after_commit: bool,
}

impl Config {
    /// Whether the crash-after-commit fault is on.
    #[cfg(any(test, feature = "fault-injection"))]
    fn crash_after_commit(&self) -> bool {
        self.fault_crash_after_commit
    }

    /// A build without the feature has no such fault, not even as a flag.
    #[cfg(not(any(test, feature = "fault-injection")))]
    fn crash_after_commit(&self) -> bool {
        false
    }
}

/// The relay that publishes BallotCast and VoteRecorded, creating their topics when missing.
async fn outbox_relay(config: &Config, store: &SeaVotingStore) -> anyhow::Result<OutboxRelay> {
    let bus = kit::bus::connect(
        config.kafka_brokers.as_deref(),
        config.common.upstream_timeout(),
        &[
            (config.ballot_topic.as_str(), config.topic_partitions),
            (config.vote_topic.as_str(), config.topic_partitions),
        ],
    )
    .await?;
    Ok(OutboxRelay::new(
        store.connection().clone(),
        bus,
        Duration::from_millis(50),
        "svc-voting",
    )
    .with_retention(Retention::Delete))
}

/// Casts through group commit when batches may hold more than one, else one transaction per
/// cast; the group's workers are returned to run under the drain.
fn cast_store(
    config: &Config,
    store: SeaVotingStore,
) -> (Arc<dyn VotingStore>, Option<group_commit::CommitWorkers>) {
    if config.cast_batch_max > 1 {
        let (group, workers) =
            GroupCommit::new(store, config.cast_batch_workers, config.cast_batch_max);
        (Arc::new(group), Some(workers))
    } else {
        (Arc::new(store), None)
    }
}

/// A bound svc-voting, ready to run.
pub struct App {
    server: GrpcServer,
    relay: Option<OutboxRelay>,
    commit_workers: Option<CommitWorkers>,
    voting: Arc<Voting>,
    mix: Mix,
    status_events: kit::bus::consume::Subscribe,
}

impl App {
    /// Builds on a listener the caller bound (the mesh binds `config.common.listen`).
    pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let common = &config.common;
        anyhow::ensure!(
            !config.receipt_secret.is_empty(),
            "--receipt-secret (VOTEMESH_RECEIPT_SECRET) must not be empty"
        );
        let store = SeaVotingStore::open(&config.database_url, config.max_connections).await?;
        let registry = registry_for(common, "svc-voting")?;
        let users = UserClient::watch(&registry, common)?;
        let elections = ElectionClient::watch(&registry, common)?;
        let lock: Arc<dyn CastLock> = match &config.redis_url {
            Some(url) => Arc::new(RedisLock::connect(url, Duration::from_secs(1))?),
            None => Arc::new(MemoryLock::default()),
        };
        let relay = outbox_relay(&config, &store).await?;
        let mixed = store.clone();
        let (store, commit_workers) = cast_store(&config, store);
        let voting = Voting {
            users: users.clone(),
            store,
            lock,
            directory: ElectionDirectory::new(
                elections,
                Duration::from_millis(config.election_cache_ms),
            ),
            receipt_key: config.receipt_secret.clone().into_bytes(),
            topics: Topics {
                ballots: config.ballot_topic.clone(),
                votes: config.vote_topic.clone(),
            },
            lock_ttl: Duration::from_millis(config.lock_ttl_ms),
            crash_after_commit: config.crash_after_commit(),
            outbox_written: relay.waker(),
            seal: BallotSeal::new(config.receipt_secret.as_bytes()),
            mix_wake: tokio::sync::Notify::new(),
        };
        // A group of this instance's own, so every instance sees every change; the topic is
        // small, and reading it whole means no change slips past a join.
        let status_events = kit::bus::consume::subscriber(
            config.kafka_brokers.clone(),
            SubscribeOptions {
                group: format!("svc-voting-cache-{}", uuid::Uuid::new_v4().simple()),
                topics: vec![config.status_topic.clone()],
                start_at: StartAt::Earliest,
            },
        );
        let voting = Arc::new(voting);
        let mix = Mix {
            store: mixed,
            voting: voting.clone(),
            min_batch: config.mix_min_batch,
        };
        let verifier = clients::token_verifier(&users, common);
        let routes = Routes::new(VotingServiceServer::new(VotingApi(voting.clone())));
        let server = GrpcServer::bind(
            "svc-voting",
            listener,
            common,
            routes,
            vec![SERVICE_NAME],
            verifier,
        )?;
        // With the crash fault on, nothing may publish before the abort.
        let relay = (!config.crash_after_commit()).then_some(relay);
        Ok(Self {
            server,
            relay,
            commit_workers,
            voting,
            mix,
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
        if let Some(workers) = self.commit_workers {
            workers.spawn(&shutdown);
        }
        // With the crash fault on there is no relay, and no mix either: nothing may move
        // before the abort.
        if let Some(relay) = self.relay {
            shutdown.spawn("outbox relay", relay.run(shutdown.clone()));
            shutdown.spawn("mix", self.mix.run(shutdown.clone()));
        }
        shutdown.spawn(
            "status invalidation",
            invalidation::follow_status_changes(self.status_events, self.voting, shutdown.clone()),
        );
        self.server.run_until_stopped(shutdown).await
    }
}
