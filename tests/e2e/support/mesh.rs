//! The system in-process on ephemeral ports: registry, svc-user instance(s) on PostgreSQL,
//! and the edge, all stopped when the [`Mesh`] drops.

use std::time::Duration;

use kit::{internal::registry_client, shutdown::Shutdown};
use proto_gen::registry::v1::ResolveRequest;

use super::{fresh_database, ADMIN_EMAIL, ADMIN_PASSWORD};

pub const USER_SERVICE: &str = "votemesh.user.v1.UserService";
pub const ELECTION_SERVICE: &str = "votemesh.election.v1.ElectionService";
pub const VOTING_SERVICE: &str = "votemesh.voting.v1.VotingService";
pub const RESULT_SERVICE: &str = "votemesh.result.v1.ResultService";

pub struct Mesh {
    pub edge_url: String,
    pub registry_url: String,
    pub secret: String,
    pub database_url: String,
    pub user_urls: Vec<String>,
    pub candidate_urls: Vec<String>,
    pub shutdown: Shutdown,
}

impl Drop for Mesh {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// What a test may change about the mesh.
pub struct MeshOptions {
    pub user_instances: usize,
    pub candidate_instances: usize,
    pub voting_instances: usize,
    pub result_instances: usize,
    pub user: Box<dyn Fn(&mut svc_user::Config) + Send>,
    pub candidate: Box<dyn Fn(&mut svc_candidate::Config) + Send>,
    pub voting: Box<dyn Fn(&mut svc_voting::Config) + Send>,
    pub result: Box<dyn Fn(&mut svc_result::Config) + Send>,
    pub edge: Box<dyn FnOnce(&mut edge::Config) + Send>,
}

impl Default for MeshOptions {
    fn default() -> Self {
        Self {
            user_instances: 1,
            candidate_instances: 1,
            voting_instances: 0,
            result_instances: 0,
            user: Box::new(|_| {}),
            candidate: Box::new(|_| {}),
            voting: Box::new(|_| {}),
            result: Box::new(|_| {}),
            edge: Box::new(|_| {}),
        }
    }
}

/// Generous limits, so only the rate-limit tests meet them.
fn relax(config: &mut edge::Config) {
    config.credentials_per_minute = 60_000.0;
    config.credentials_burst = 1_000.0;
    config.per_ip_burst = 10_000.0;
    config.per_ip_per_second = 10_000.0;
}

pub async fn spawn_mesh() -> Mesh {
    spawn_mesh_with(MeshOptions::default()).await
}

pub async fn spawn_mesh_with(options: MeshOptions) -> Mesh {
    kit::telemetry::init(kit::config::LogFormat::Text);
    let shutdown = Shutdown::new();
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let database_url = fresh_database().await;

    let registry = registry::App::build(registry::Config::local(&secret), shutdown.clone())
        .await
        .expect("registry builds");
    let registry_url = registry.url();
    tokio::spawn(registry.run_until_stopped(shutdown.clone()));

    let mut user_urls = Vec::new();
    for _ in 0..options.user_instances {
        let mut config =
            svc_user::Config::local(&secret, Some(registry_url.clone()), database_url.clone());
        config.bootstrap_admin_email = Some(ADMIN_EMAIL.into());
        config.bootstrap_admin_password = Some(ADMIN_PASSWORD.into());
        (options.user)(&mut config);
        let user = svc_user::App::build(config).await.expect("svc-user builds");
        user_urls.push(user.url());
        tokio::spawn(user.run_until_stopped(shutdown.clone()));
    }

    let mut candidate_urls = Vec::new();
    for _ in 0..options.candidate_instances {
        let mut config =
            svc_candidate::Config::local(&secret, Some(registry_url.clone()), database_url.clone());
        (options.candidate)(&mut config);
        let candidate = svc_candidate::App::build(config)
            .await
            .expect("svc-candidate builds");
        candidate_urls.push(candidate.url());
        tokio::spawn(candidate.run_until_stopped(shutdown.clone()));
    }

    for _ in 0..options.voting_instances {
        let mut config =
            svc_voting::Config::local(&secret, Some(registry_url.clone()), database_url.clone());
        (options.voting)(&mut config);
        let voting = svc_voting::App::build(config)
            .await
            .expect("svc-voting builds");
        tokio::spawn(voting.run_until_stopped(shutdown.clone()));
    }

    for _ in 0..options.result_instances {
        let mut config =
            svc_result::Config::local(&secret, Some(registry_url.clone()), database_url.clone());
        (options.result)(&mut config);
        let result = svc_result::App::build(config)
            .await
            .expect("svc-result builds");
        tokio::spawn(result.run_until_stopped(shutdown.clone()));
    }

    let mut config = edge::Config::local(&secret, registry_url.clone());
    relax(&mut config);
    (options.edge)(&mut config);
    let edge = edge::App::build(config).await.expect("edge builds");
    let edge_url = edge.url();
    tokio::spawn(edge.run_until_stopped(shutdown.clone()));

    let mesh = Mesh {
        edge_url,
        registry_url,
        secret,
        database_url,
        user_urls,
        candidate_urls,
        shutdown,
    };
    mesh.wait_for_instances(USER_SERVICE, options.user_instances)
        .await;
    mesh.wait_for_instances(ELECTION_SERVICE, options.candidate_instances)
        .await;
    mesh.wait_for_instances(VOTING_SERVICE, options.voting_instances)
        .await;
    mesh.wait_for_instances(RESULT_SERVICE, options.result_instances)
        .await;
    mesh
}

impl Mesh {
    /// The addresses the registry lists for `service`.
    pub async fn resolve(&self, service: &str) -> Vec<String> {
        let mut client = registry_client(&self.registry_url, &self.secret, Duration::from_secs(2))
            .expect("registry client");
        client
            .resolve(ResolveRequest {
                service: service.into(),
            })
            .await
            .map(|r| {
                r.into_inner()
                    .instances
                    .into_iter()
                    .map(|i| i.address)
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn wait_for_instances(&self, service: &str, count: usize) {
        self.wait_for_instances_while(service, count, || Ok(()))
            .await
    }

    /// Waits up to 30 s for `count` instances, failing at once when `alive` reports a
    /// process that died on the way.
    pub async fn wait_for_instances_while(
        &self,
        service: &str,
        count: usize,
        mut alive: impl FnMut() -> Result<(), String>,
    ) {
        for _ in 0..600 {
            if let Err(death) = alive() {
                panic!("waiting for {service}: {death}");
            }
            if self.resolve(service).await.len() == count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{service} never reached {count} registered instances");
    }
}
