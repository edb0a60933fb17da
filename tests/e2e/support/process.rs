//! Real `votemesh` processes, killed when the guard drops.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
};

use super::Mesh;

pub fn votemesh() -> Command {
    Command::new(env!("CARGO_BIN_EXE_votemesh"))
}

/// `votemesh <service>` wired into `mesh` (its registry, secrets and database) on an
/// ephemeral port, logging warnings only, with a one-second lease so that a killed process
/// leaves the registry soon; the caller adds what else the test needs.
pub fn service_command(mesh: &Mesh, service: &str) -> Command {
    let mut command = votemesh();
    command
        .arg(service)
        .env("VOTEMESH_LOG", "warn")
        .env("VOTEMESH_LISTEN", "127.0.0.1:0")
        .env("VOTEMESH_REGISTRY_URL", &mesh.registry_url)
        .env("VOTEMESH_INTERNAL_TOKEN", &mesh.secret)
        // Only the services that declare them read these.
        .env("VOTEMESH_RECEIPT_SECRET", &mesh.receipt_secret)
        .env("VOTEMESH_SIGNING_KEY_SECRET", &mesh.signing_key_secret)
        .env(
            format!("VOTEMESH_{}_DATABASE_URL", service.to_uppercase()),
            &mesh.database_url,
        )
        .env("VOTEMESH_LEASE_TTL_SECONDS", "1")
        .env("VOTEMESH_MIX_MIN_BATCH", super::MIX_MIN_BATCH.to_string());
    command
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// Distinct ports that were free a moment ago; all are held while picking, so no two repeat.
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("bound").port())
}

pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn spawn(command: &mut Command) -> Self {
        Self(
            command
                .stdin(Stdio::null())
                .spawn()
                .expect("votemesh binary starts"),
        )
    }

    /// `Err` with the exit status once the process has ended.
    pub fn still_running(&mut self) -> Result<(), String> {
        match self.0.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("process {} exited: {status}", self.0.id())),
            Err(error) => Err(format!("process {} cannot be polled: {error}", self.0.id())),
        }
    }

    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }

    /// Sends `signal` and waits for the process to end; its exit status.
    pub async fn stop(mut self, signal: i32) -> std::process::ExitStatus {
        self.signal(signal);
        tokio::task::spawn_blocking(move || self.0.wait())
            .await
            .expect("join")
            .expect("exit status")
    }

    /// Sends a signal by number through the `kill` utility (SIGKILL 9, SIGTERM 15).
    pub fn signal(&self, signal: i32) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
