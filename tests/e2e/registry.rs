//! The registry: lapsed leases are evicted and watchers told; instances register again on
//! their own after the registry restarts.

use std::time::Duration;

use futures::StreamExt;
use kit::{internal::registry_client, shutdown::Shutdown};
use proto_gen::registry::v1::{Instance, RegisterRequest, WatchRequest};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_see_registrations_and_evictions() {
    let shutdown = Shutdown::new();
    let config: registry::Config =
        kit::config::local(["--internal-token=s3cret"]).expect("registry config");
    let registry = ::mesh::Service::build(config).await.expect("registry");
    let url = registry.url();
    tokio::spawn(registry.run_until_stopped(shutdown.clone()));
    let mut client = registry_client(&url, "s3cret", Duration::from_secs(2)).expect("client");
    let mut stream = client
        .watch(WatchRequest {
            service: "svc-test".into(),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = stream.next().await.expect("snapshot").expect("ok");
    assert!(first.instances.is_empty());

    client
        .register(RegisterRequest {
            instance: Some(Instance {
                service: "svc-test".into(),
                instance_id: "one".into(),
                address: "http://127.0.0.1:1".into(),
                metadata: Default::default(),
            }),
            ttl_seconds: 1,
        })
        .await
        .expect("register");
    let added = stream.next().await.expect("snapshot").expect("ok");
    assert_eq!(added.instances.len(), 1);
    // No heartbeat: the lease lapses and the watcher is told.
    let evicted = tokio::time::timeout(Duration::from_secs(3), stream.next())
        .await
        .expect("eviction reported")
        .expect("snapshot")
        .expect("ok");
    assert!(evicted.instances.is_empty());

    let mut wrong_secret = registry_client(&url, "guess", Duration::from_secs(2)).expect("client");
    let refused = wrong_secret
        .resolve(proto_gen::registry::v1::ResolveRequest {
            service: "svc-test".into(),
        })
        .await
        .expect_err("internal only");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_register_again_after_the_registry_restarts() {
    let mesh = spawn_mesh_with(MeshOptions::default()).await;
    // A registry of our own on a fixed port, so a restart keeps its address.
    let first = Shutdown::new();
    let mut config: registry::Config =
        kit::config::local([format!("--internal-token={}", mesh.secret)]).expect("config");
    let registry = ::mesh::Service::build(config.clone())
        .await
        .expect("registry");
    let address = registry.local_addr();
    let url = registry.url();
    tokio::spawn(registry.run_until_stopped(first.clone()));

    let user_shutdown = Shutdown::new();
    let mut user_config: svc_user::Config = mesh.config();
    user_config.common.registry_url = Some(url.clone());
    user_config.common.lease_ttl_seconds = 1;
    let user = ::mesh::Service::build(user_config).await.expect("svc-user");
    tokio::spawn(user.run_until_stopped(user_shutdown.clone()));

    let listed = |url: String, secret: String| async move {
        let mut client = registry_client(&url, &secret, Duration::from_secs(1)).expect("client");
        client
            .resolve(proto_gen::registry::v1::ResolveRequest {
                service: USER_SERVICE.into(),
            })
            .await
            .map(|r| r.into_inner().instances.len())
            .unwrap_or(0)
    };
    let registered = |what: &'static str| {
        eventually(what, Duration::from_secs(5), || async {
            listed(url.clone(), mesh.secret.clone()).await == 1
        })
    };
    registered("svc-user registered").await;

    first.trigger();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = Shutdown::new();
    config.common.listen = address;
    let restarted = ::mesh::Service::build(config)
        .await
        .expect("registry restarts on its port");
    tokio::spawn(restarted.run_until_stopped(second.clone()));
    registered("svc-user registered again with the restarted registry").await;
    user_shutdown.trigger();
    second.trigger();
}

/// `votemesh health`, the containers' healthcheck: 0 for a serving service, 1 with a reason
/// for an address nothing answers on, and 1 once the service drains (NOT_SERVING).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_command_tells_serving_from_not() {
    let shutdown = Shutdown::new();
    let config: registry::Config =
        kit::config::local(["--internal-token=s3cret"]).expect("registry config");
    let registry = ::mesh::Service::build(config).await.expect("registry");
    let url = registry.url();
    let running = tokio::spawn(registry.run_until_stopped(shutdown.clone()));
    let health = |address: String| async move {
        tokio::task::spawn_blocking(move || {
            crate::support::process::votemesh()
                .args(["health", &address])
                .output()
                .expect("votemesh runs")
        })
        .await
        .expect("joined")
    };
    let serving = health(url.clone()).await;
    assert!(serving.status.success(), "{serving:?}");
    let port = crate::support::process::free_port();
    let nobody = health(format!("http://127.0.0.1:{port}")).await;
    assert_eq!(nobody.status.code(), Some(1), "{nobody:?}");
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("not serving"));
    shutdown.trigger();
    running.await.expect("joined").expect("stopped cleanly");
    let stopped = health(url).await;
    assert_eq!(stopped.status.code(), Some(1), "{stopped:?}");
}
