//! The system in-process on ephemeral ports, started by the production assembly
//! (`mesh::spawn`) on a fresh PostgreSQL database, and stopped when the [`Mesh`] drops.

use std::time::Duration;

use kit::{internal::registry_client, shutdown::Shutdown};
pub use mesh::Database;
use mesh::{InstanceUrls, Plan, Service};
use proto_gen::registry::v1::ResolveRequest;

use super::{fresh_database, ADMIN_EMAIL, ADMIN_PASSWORD};

/// What a test starts: the registry, the edge and the instances it asks for, each config
/// changed as it says. `MeshOptions::default()` has no service instances at all.
pub use mesh::{Instances, Services as MeshOptions};
pub use proto_gen::{
    election::v1::election_service_server::SERVICE_NAME as ELECTION_SERVICE,
    result::v1::result_service_server::SERVICE_NAME as RESULT_SERVICE,
    user::v1::user_service_server::SERVICE_NAME as USER_SERVICE,
    voting::v1::voting_service_server::SERVICE_NAME as VOTING_SERVICE,
};

pub struct Mesh {
    pub edge_url: String,
    pub registry_url: String,
    /// The internal token.
    pub secret: String,
    /// svc-voting's receipt secret and svc-user's signing key secret, fresh per mesh.
    pub receipt_secret: String,
    pub signing_key_secret: String,
    pub database_url: String,
    /// Each service's instance URLs.
    pub instances: InstanceUrls,
    pub shutdown: Shutdown,
    plan: Plan,
}

impl Drop for Mesh {
    fn drop(&mut self) {
        self.shutdown.trigger();
    }
}

/// k of a test mesh: 1, so a ballot counts as soon as the mix wakes and tests that are not
/// about the mix see each cast in the results; the mix's own tests set k themselves.
pub const MIX_MIN_BATCH: u64 = 1;

/// Generous limits, so only the rate-limit tests meet them.
fn relax(config: &mut edge::Config) {
    config.credentials_per_minute = 60_000.0;
    config.credentials_burst = 1_000.0;
    config.per_ip_burst = 10_000.0;
    config.per_ip_per_second = 10_000.0;
}

/// One svc-user and one svc-candidate: what most tests need.
pub async fn spawn_mesh() -> Mesh {
    spawn_mesh_with(MeshOptions {
        user: Instances::one(),
        candidate: Instances::one(),
        ..Default::default()
    })
    .await
}

/// Starts `options` with the test admin in place and relaxed edge limits (which a test's own
/// changes override), and waits until every instance is registered.
pub async fn spawn_mesh_with(options: MeshOptions) -> Mesh {
    spawn_mesh_on(Database::Shared(fresh_database().await), options).await
}

/// [`spawn_mesh_with`] on `database`, e.g. a directory of SQLite files as `votemesh up` uses.
pub async fn spawn_mesh_on(database: Database, options: MeshOptions) -> Mesh {
    let token = uuid::Uuid::new_v4().simple().to_string();
    spawn_mesh_with_token(database, options, token).await
}

/// [`spawn_mesh_on`] with an internal token the test chose, for processes it starts first.
pub async fn spawn_mesh_with_token(
    database: Database,
    mut options: MeshOptions,
    internal_token: String,
) -> Mesh {
    kit::telemetry::init(kit::config::LogFormat::Text);
    let shutdown = Shutdown::new();
    let plan = Plan {
        internal_token,
        receipt_secret: uuid::Uuid::new_v4().simple().to_string(),
        signing_key_secret: uuid::Uuid::new_v4().simple().to_string(),
        database,
        redis_url: None,
        kafka_brokers: None,
        mix_min_batch: Some(MIX_MIN_BATCH),
    };
    let user = options.user.configure;
    options.user.configure = Box::new(move |config| {
        config.bootstrap_admin_email = Some(ADMIN_EMAIL.into());
        config.bootstrap_admin_password = Some(ADMIN_PASSWORD.into());
        // Most tests register voters as set-up; the notify tests prove addresses for real.
        config.bench_only_trust_registered_emails = true;
        user(config);
    });
    let edge = options.edge;
    options.edge = Box::new(move |config| {
        relax(config);
        edge(config);
    });
    let running = mesh::spawn(&plan, options, &shutdown)
        .await
        .unwrap_or_else(|error| panic!("the mesh starts: {error:#}"));
    let mesh = Mesh {
        edge_url: running.edge_url,
        registry_url: running.registry_url,
        secret: plan.internal_token.clone(),
        receipt_secret: plan.receipt_secret.clone(),
        signing_key_secret: plan.signing_key_secret.clone(),
        database_url: plan.database.url_for::<svc_user::Config>(),
        instances: running.instances,
        shutdown,
        plan,
    };
    for (service, urls) in mesh.instances.by_service() {
        mesh.wait_for_instances(service, urls.len()).await;
    }
    mesh
}

impl Mesh {
    /// The database URL service `S` uses in this mesh.
    pub fn database_url_of<S: Service>(&self) -> String {
        self.plan.database.url_for::<S>()
    }

    /// Service `S`'s config wired into this mesh, for a test that starts an instance itself.
    pub fn config<S: Service>(&self) -> S {
        self.plan
            .config(Some(&self.registry_url))
            .unwrap_or_else(|error| panic!("{} config: {error:#}", S::NAME))
    }

    /// The addresses the registry lists for `service`; panics when the registry cannot
    /// answer, so a check for "deregistered" never passes on a registry that is down.
    pub async fn resolve(&self, service: &str) -> Vec<String> {
        let mut client = registry_client(&self.registry_url, &self.secret, Duration::from_secs(2))
            .expect("registry client");
        let listed = client
            .resolve(ResolveRequest {
                service: service.into(),
            })
            .await
            .unwrap_or_else(|status| panic!("the registry resolves {service}: {status}"));
        listed
            .into_inner()
            .instances
            .into_iter()
            .map(|instance| instance.address)
            .collect()
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
