//! The mesh as separate `votemesh` processes, as a deployment runs it: two registry replicas
//! on Redis, two instances of every service, one edge, on this run's own PostgreSQL, Redis,
//! broker and SMTP server. Each process keeps its port across restarts.

use std::{collections::BTreeMap, process::Command, time::Duration};

use kit::internal::registry_client;
use proto_gen::registry::v1::ResolveRequest;

use crate::{
    infra::{PrivatePostgres, Redis},
    support::{
        broker::PrivateBroker,
        mail::SmtpSink,
        process::{free_port, votemesh, ChildGuard},
        ADMIN_EMAIL, ADMIN_PASSWORD,
    },
};

/// k of the chaos mesh: the mix's smallest batch and the results' smallest step.
pub const MIX_MIN_BATCH: u64 = 5;

/// The services behind the edge, by subcommand, with the gRPC service each registers.
pub const SERVICES: &[(&str, &str)] = &[
    ("user", "votemesh.user.v1.UserService"),
    ("candidate", "votemesh.election.v1.ElectionService"),
    ("voting", "votemesh.voting.v1.VotingService"),
    ("result", "votemesh.result.v1.ResultService"),
    ("notify", "votemesh.notify.v1.NotifyService"),
];

/// One process of the mesh: what it runs, where, and the process while it runs.
pub struct Member {
    pub service: &'static str,
    pub port: u16,
    process: Option<ChildGuard>,
}

pub struct Cluster {
    pub postgres: PrivatePostgres,
    /// The Redis svc-voting locks casts in and svc-result caches results in.
    pub redis: Redis,
    /// The registry's own Redis, kept apart so that stopping the data Redis is one fault.
    registry_redis: Redis,
    pub broker: PrivateBroker,
    pub smtp: SmtpSink,
    pub database_url: String,
    pub edge_url: String,
    secrets: BTreeMap<&'static str, String>,
    pub registries: Vec<Member>,
    pub members: Vec<Member>,
    pub edge: Member,
}

fn secret() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Cluster {
    /// Starts everything and waits until every instance is registered.
    pub async fn start() -> Self {
        let postgres = PrivatePostgres::start().await;
        let database_url = postgres.database("votemesh").await;
        let mut cluster = Self {
            redis: Redis::start().await,
            registry_redis: Redis::start().await,
            broker: PrivateBroker::start().await,
            smtp: SmtpSink::start().await.expect("the SMTP server"),
            postgres,
            database_url,
            edge_url: String::new(),
            secrets: BTreeMap::from([
                ("VOTEMESH_INTERNAL_TOKEN", secret()),
                ("VOTEMESH_RECEIPT_SECRET", secret()),
                ("VOTEMESH_SIGNING_KEY_SECRET", secret()),
            ]),
            registries: (0..2).map(|_| Member::new("registry")).collect(),
            members: Vec::new(),
            edge: Member::new("edge"),
        };
        cluster.edge_url = format!("http://127.0.0.1:{}", cluster.edge.port);
        for index in 0..cluster.registries.len() {
            cluster.start_registry(index);
        }
        // svc-user first: it mints the signing key the others fetch.
        for (service, _) in SERVICES {
            for _ in 0..2 {
                cluster.members.push(Member::new(service));
                let index = cluster.members.len() - 1;
                cluster.start_member(index);
            }
            cluster.wait_for(service, 2).await;
        }
        cluster.start_edge();
        cluster.wait_for("edge", 1).await;
        cluster
    }

    pub fn registry_urls(&self) -> String {
        let urls: Vec<String> = self
            .registries
            .iter()
            .map(|r| format!("http://127.0.0.1:{}", r.port))
            .collect();
        urls.join(",")
    }

    /// What every process shares: its port, the registries, the secrets, quiet logs, short
    /// leases (so a killed process leaves the registry within seconds) and a short drain.
    fn command(&self, member: &Member) -> Command {
        let mut command = votemesh();
        command
            .arg(member.service)
            .env("VOTEMESH_LOG", "warn")
            .env("VOTEMESH_LISTEN", format!("127.0.0.1:{}", member.port))
            .env("VOTEMESH_REGISTRY_URL", self.registry_urls())
            .env("VOTEMESH_LEASE_TTL_SECONDS", "2")
            .env("VOTEMESH_DRAIN_SECONDS", "10")
            .env("VOTEMESH_MIX_MIN_BATCH", MIX_MIN_BATCH.to_string())
            .env("VOTEMESH_KAFKA_BROKERS", &self.broker.address)
            .env("VOTEMESH_REDIS_URL", self.redis.url());
        for (name, value) in &self.secrets {
            command.env(name, value);
        }
        command
    }

    fn start_registry(&mut self, index: usize) {
        let mut command = self.command(&self.registries[index]);
        command
            .env("VOTEMESH_REGISTRY_REDIS_URL", self.registry_redis.url())
            .env_remove("VOTEMESH_REGISTRY_URL");
        self.registries[index].process = Some(ChildGuard::spawn(&mut command));
    }

    fn start_member(&mut self, index: usize) {
        let member = &self.members[index];
        let mut command = self.command(member);
        command.env(
            format!("VOTEMESH_{}_DATABASE_URL", member.service.to_uppercase()),
            &self.database_url,
        );
        match member.service {
            "user" => {
                command
                    .env("VOTEMESH_BOOTSTRAP_ADMIN_EMAIL", ADMIN_EMAIL)
                    .env("VOTEMESH_BOOTSTRAP_ADMIN_PASSWORD", ADMIN_PASSWORD)
                    // The voters' tokens last the whole run.
                    .env("VOTEMESH_ACCESS_TOKEN_TTL_SECONDS", "3600")
                    // Set-up, not the subject: cheap hashes, registered addresses proven.
                    .env("VOTEMESH_BENCH_ONLY_INSECURE_PASSWORD_HASH", "true")
                    .env("VOTEMESH_BENCH_ONLY_TRUST_REGISTERED_EMAILS", "true");
            }
            "notify" => {
                command
                    .env("VOTEMESH_SMTP_URL", self.smtp.url())
                    .env("VOTEMESH_NOTIFY_SEND_LEASE_MS", "2000");
            }
            _ => {}
        }
        self.members[index].process = Some(ChildGuard::spawn(&mut command));
    }

    fn start_edge(&mut self) {
        let mut command = self.command(&self.edge);
        for (name, value) in [
            ("VOTEMESH_EDGE_PER_IP_PER_SECOND", "100000"),
            ("VOTEMESH_EDGE_PER_IP_BURST", "100000"),
            ("VOTEMESH_EDGE_PER_USER_PER_SECOND", "100000"),
            ("VOTEMESH_EDGE_PER_USER_BURST", "100000"),
            ("VOTEMESH_EDGE_CREDENTIALS_PER_MINUTE", "1000000"),
            ("VOTEMESH_EDGE_CREDENTIALS_BURST", "100000"),
        ] {
            command.env(name, value);
        }
        self.edge.process = Some(ChildGuard::spawn(&mut command));
    }

    /// The instances the registry lists for `service`; none when it cannot answer.
    pub async fn resolve(&self, service: &str) -> Vec<String> {
        let name = registered_name(service);
        let Ok(mut client) = registry_client(
            &self.registry_urls(),
            &self.secrets["VOTEMESH_INTERNAL_TOKEN"],
            Duration::from_secs(2),
        ) else {
            return Vec::new();
        };
        match client
            .resolve(ResolveRequest {
                service: name.into(),
            })
            .await
        {
            Ok(listed) => listed
                .into_inner()
                .instances
                .into_iter()
                .map(|i| i.address)
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Waits up to 60 s until `count` instances of `service` are registered, failing at once
    /// when one of its processes has died.
    pub async fn wait_for(&mut self, service: &str, count: usize) {
        for _ in 0..1200 {
            for member in self.members.iter_mut().chain([&mut self.edge]) {
                if member.service == service {
                    if let Some(process) = member.process.as_mut() {
                        if let Err(death) = process.still_running() {
                            panic!("{service}: {death}");
                        }
                    }
                }
            }
            if self.resolve(service).await.len() == count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{service} never reached {count} registered instances");
    }

    /// The indexes of `service`'s members.
    pub fn instances_of(&self, service: &str) -> Vec<usize> {
        (0..self.members.len())
            .filter(|&i| self.members[i].service == service)
            .collect()
    }

    /// Sends `signal` to member `index`, waits for it to end, and starts it again.
    pub async fn restart_member(&mut self, index: usize, signal: i32) -> std::process::ExitStatus {
        let status = self.members[index].stop(signal).await;
        self.start_member(index);
        status
    }

    /// Restarts registry replica `index` with `signal`.
    pub async fn restart_registry(
        &mut self,
        index: usize,
        signal: i32,
    ) -> std::process::ExitStatus {
        let status = self.registries[index].stop(signal).await;
        self.start_registry(index);
        status
    }
}

impl Member {
    fn new(service: &'static str) -> Self {
        Self {
            service,
            port: free_port(),
            process: None,
        }
    }

    async fn stop(&mut self, signal: i32) -> std::process::ExitStatus {
        let process = self.process.take().expect("a running process");
        process.stop(signal).await
    }
}

/// The gRPC service `service` (a subcommand) registers under.
fn registered_name(service: &str) -> &str {
    match service {
        "edge" => edge::SERVICE_NAME,
        other => SERVICES
            .iter()
            .find(|(name, _)| *name == other)
            .map(|(_, registered)| *registered)
            .unwrap_or(other),
    }
}
