//! Acceptance 5: two svc-user processes share the load; after one is SIGKILLed the registry
//! drops it within its lease and requests keep succeeding. Also shows the Prometheus metrics.

use std::time::{Duration, Instant};

use futures::StreamExt;
use kit::internal::registry_client;
use proto_gen::registry::v1::WatchRequest;

use crate::support::{ballots::metric_with, process::*, *};

const LEASE_SECONDS: u64 = 2;

fn user_process(mesh: &Mesh, metrics_port: u16) -> ChildGuard {
    ChildGuard::spawn(
        service_command(mesh, "user")
            .env(
                "VOTEMESH_METRICS_LISTEN",
                format!("127.0.0.1:{metrics_port}"),
            )
            .env("VOTEMESH_LEASE_TTL_SECONDS", LEASE_SECONDS.to_string())
            .env("VOTEMESH_DRAIN_SECONDS", "5"),
    )
}

/// Successful GetMe calls an instance has counted, from its /metrics.
async fn get_me_count(metrics_port: u16) -> u64 {
    let labels = [
        r#"method="/votemesh.user.v1.UserService/GetMe""#,
        r#"code="0""#,
    ];
    metric_with(metrics_port, "votemesh_rpc_requests_total", &labels).await as u64
}

fn mesh_without_users() -> MeshOptions {
    MeshOptions {
        edge: Box::new(|config| config.common.upstream_timeout_ms = 2000),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_spreads_and_survives_a_killed_instance() {
    let mesh = spawn_mesh_with(mesh_without_users()).await;
    let [port_a, port_b] = free_ports::<2>();
    let mut a = user_process(&mesh, port_a);
    let mut b = user_process(&mesh, port_b);
    mesh.wait_for_instances_while(USER_SERVICE, 2, || a.still_running().and(b.still_running()))
        .await;
    let api = Rest::new(&mesh.edge_url);
    let session = api.voter("balance").await;

    for _ in 0..40 {
        let (status, body) = api.get("/v1/me", Some(&session.access)).await;
        assert_eq!(status, 200, "{body}");
    }
    let (served_a, served_b) = (get_me_count(port_a).await, get_me_count(port_b).await);
    assert!(
        served_a > 0 && served_b > 0,
        "both instances served: {served_a} and {served_b}"
    );
    assert_eq!(served_a + served_b, 40);

    let killed = tokio::time::Instant::now();
    a.stop(9).await;
    let lease = Duration::from_secs(LEASE_SECONDS) + Duration::from_millis(750);
    until(
        "the registry drops a dead instance within its lease",
        killed + lease,
        || async { mesh.resolve(USER_SERVICE).await.len() == 1 },
    )
    .await;
    wait_until_watch_shows(&mesh, 1).await;

    for _ in 0..20 {
        let (status, body) = api.get("/v1/me", Some(&session.access)).await;
        assert_eq!(
            status, 200,
            "requests succeed once the lease lapsed: {body}"
        );
    }
    assert_eq!(get_me_count(port_b).await, served_b + 20);
}

/// Waits until a watcher (like the edge's) has been told the instance set shrank to `count`.
async fn wait_until_watch_shows(mesh: &Mesh, count: usize) {
    let mut registry =
        registry_client(&mesh.registry_url, &mesh.secret, Duration::from_secs(2)).expect("client");
    let mut stream = registry
        .watch(WatchRequest {
            service: USER_SERVICE.into(),
        })
        .await
        .expect("watch")
        .into_inner();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Ok(Some(Ok(snapshot))) = tokio::time::timeout_at(deadline, stream.next()).await {
        if snapshot.instances.len() == count {
            // The edge's own watch got the same snapshot; give its task a moment to apply it.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return;
        }
    }
    panic!("watchers never saw {count} instances");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_deregisters_at_once() {
    let mesh = spawn_mesh_with(mesh_without_users()).await;
    let mut child = user_process(&mesh, free_port());
    mesh.wait_for_instances_while(USER_SERVICE, 1, || child.still_running())
        .await;
    let started = Instant::now();
    let status = child.stop(15).await;
    assert!(
        status.success(),
        "SIGTERM ends the process cleanly: {status}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "within the drain deadline"
    );
    assert!(
        mesh.resolve(USER_SERVICE).await.is_empty(),
        "deregistered, not left to lapse"
    );
}
