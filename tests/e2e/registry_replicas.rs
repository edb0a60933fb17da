//! Issue 14, acceptance 3: three registry replicas sharing their leases in Redis. Services
//! register through different replicas and every replica serves one view; with two replicas
//! SIGKILLed, calls through the edge keep succeeding and a new instance is still discovered;
//! a restarted replica serves the full view at once.

use std::time::Duration;

use kit::internal::registry_client;
use proto_gen::registry::v1::ResolveRequest;
use serde_json::json;

use crate::support::{
    process::{free_ports, votemesh, ChildGuard},
    *,
};

/// A `votemesh registry` process on `port`, keeping its leases in Redis under `namespace`.
fn replica(port: u16, token: &str, namespace: &str) -> ChildGuard {
    ChildGuard::spawn(
        votemesh()
            .arg("registry")
            .env("VOTEMESH_LOG", "warn")
            .env("VOTEMESH_LISTEN", format!("127.0.0.1:{port}"))
            .env("VOTEMESH_INTERNAL_TOKEN", token)
            .env("VOTEMESH_REGISTRY_REDIS_URL", "redis://127.0.0.1:6379")
            .env("VOTEMESH_REGISTRY_REDIS_NAMESPACE", namespace),
    )
}

/// The addresses `url`'s replica lists for `service`, or `None` when it cannot answer.
async fn listed(url: &str, token: &str, service: &str) -> Option<Vec<String>> {
    let mut client = registry_client(url, token, Duration::from_secs(1)).ok()?;
    let request = ResolveRequest {
        service: service.into(),
    };
    let instances = client.resolve(request).await.ok()?.into_inner().instances;
    let mut addresses: Vec<String> = instances.into_iter().map(|i| i.address).collect();
    addresses.sort();
    Some(addresses)
}

/// Each service's instances as `url`'s replica lists them, once it answers.
async fn view(url: &str, token: &str) -> Vec<Vec<String>> {
    let mut views = Vec::new();
    for service in [USER_SERVICE, ELECTION_SERVICE, edge::SERVICE_NAME] {
        let mut answer = None;
        for _ in 0..100 {
            answer = listed(url, token, service).await;
            if answer.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        views.push(answer.unwrap_or_else(|| panic!("{url} never answered")));
    }
    views
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_replicas_on_redis_survive_losing_two_and_restart_with_the_full_view() {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let namespace = format!("vmt-registry-{}", uuid::Uuid::new_v4().simple());
    let [p0, p1, p2] = free_ports::<3>();
    let url = |port: u16| format!("http://127.0.0.1:{port}");
    let second = replica(p1, &token, &namespace);
    let third = replica(p2, &token, &namespace);
    // Each service starts with a different replica first in its list.
    let order = |ports: [u16; 3]| ports.map(url).join(",");
    let (user_order, candidate_order, edge_order) = (
        order([p1, p0, p2]),
        order([p2, p0, p1]),
        order([p0, p1, p2]),
    );
    let ns = namespace.clone();
    let options = MeshOptions {
        registry: Box::new(move |config: &mut registry::Config| {
            config.common.listen = format!("127.0.0.1:{p0}").parse().expect("address");
            config.registry_redis_url = Some("redis://127.0.0.1:6379".into());
            config.redis_namespace = ns.clone();
        }),
        user: Instances::one().configured(move |config: &mut svc_user::Config| {
            config.common.registry_url = Some(user_order.clone());
            config.common.lease_ttl_seconds = 2;
        }),
        candidate: Instances::one().configured(move |config: &mut svc_candidate::Config| {
            config.common.registry_url = Some(candidate_order.clone());
            config.common.lease_ttl_seconds = 2;
        }),
        edge: Box::new(move |config: &mut edge::Config| {
            config.common.registry_url = Some(edge_order.clone());
            config.common.lease_ttl_seconds = 2;
        }),
        ..Default::default()
    };
    let mesh = spawn_mesh_with_token(
        Database::Shared(fresh_database().await),
        options,
        token.clone(),
    )
    .await;
    let full = view(&url(p0), &token).await;
    assert!(full.iter().all(|listed| listed.len() == 1), "{full:?}");
    for port in [p1, p2] {
        assert_eq!(
            view(&url(port), &token).await,
            full,
            "one view on every replica"
        );
    }

    second.signal(9);
    drop(third);
    let (api, admin) = rest_as_admin(&mesh).await;
    // Beyond two leases' length: the services renew through the replica left.
    for round in 0..10 {
        let created =
            create_election(&api, &admin.access, draft_body(&format!("HA {round}"))).await;
        let (status, read) = api
            .get(
                &format!("/v1/elections/{}", id_of(&created)),
                Some(&admin.access),
            )
            .await;
        assert_eq!(status, 200, "round {round}: {read}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(view(&url(p0), &token).await, full, "no lease lapsed");

    // A new svc-candidate whose first two replicas are dead still registers.
    let mut config: svc_candidate::Config = mesh.config();
    config.common.registry_url = Some(order([p1, p2, p0]));
    let newcomer = ::mesh::Service::build(config)
        .await
        .expect("svc-candidate builds");
    tokio::spawn(newcomer.run_until_stopped(mesh.shutdown.clone()));
    mesh.wait_for_instances(ELECTION_SERVICE, 2).await;
    let (status, _) = api
        .post(
            "/v1/elections",
            Some(&admin.access),
            json!({"election": {}}),
        )
        .await;
    assert_eq!(status, 400, "calls still reach svc-candidate");

    // A restarted replica serves everything at once, from Redis.
    drop(second);
    let _second = replica(p1, &token, &namespace);
    assert_eq!(
        view(&url(p1), &token).await,
        view(&url(p0), &token).await,
        "the restarted replica's view"
    );
    assert_eq!(
        listed(&url(p1), &token, ELECTION_SERVICE)
            .await
            .map(|l| l.len()),
        Some(2)
    );
}
