//! svc-candidate instances a test starts and stops itself, beside a mesh that has none.

use kit::shutdown::Shutdown;

use super::{spawn_mesh_with, Instances, Mesh, MeshOptions, ELECTION_SERVICE};

/// A mesh with svc-user but no svc-candidate: the test starts its own.
pub async fn spawn_mesh_without_candidates() -> Mesh {
    spawn_mesh_with(MeshOptions {
        user: Instances::one(),
        ..Default::default()
    })
    .await
}

/// Starts one svc-candidate wired into `mesh`, changed by `configure`, and waits until it
/// is registered; it stops when the returned shutdown is triggered.
pub async fn start_candidate(
    mesh: &Mesh,
    configure: impl FnOnce(&mut svc_candidate::Config),
) -> Shutdown {
    let mut config: svc_candidate::Config = mesh.config();
    configure(&mut config);
    let app = ::mesh::Service::build(config)
        .await
        .expect("svc-candidate builds");
    let shutdown = Shutdown::new();
    tokio::spawn(app.run_until_stopped(shutdown.clone()));
    mesh.wait_for_instances(ELECTION_SERVICE, 1).await;
    shutdown
}
