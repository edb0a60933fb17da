//! The components a chaos run owns, so it can stop and restart them without touching anyone
//! else's: a PostgreSQL cluster of its own (initdb in a temporary directory, as the
//! `postgres` user), Redis servers on fixed ports, and the broker (support's PrivateBroker).

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use crate::support::{
    process::{free_port, ChildGuard},
    redis::redis_cli,
    wait::eventually,
};

const START_OR_STOP: Duration = Duration::from_secs(30);

/// Runs `script` as the `postgres` user (PostgreSQL refuses to run as root).
fn as_postgres(script: &str) {
    let status = Command::new("su")
        .args(["postgres", "-s", "/bin/sh", "-c", script])
        .stdout(Stdio::null())
        .status()
        .expect("su runs");
    assert!(status.success(), "as postgres: {script}");
}

fn postgres_bin() -> PathBuf {
    let mut versions: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.parse::<u32>().ok())
        .collect();
    versions.sort();
    let version = versions.last().expect("a PostgreSQL version");
    PathBuf::from(format!("/usr/lib/postgresql/{version}/bin"))
}

/// A PostgreSQL cluster of this run's own on a free port, trust auth, stopped on drop.
pub struct PrivatePostgres {
    pub port: u16,
    dir: tempfile::TempDir,
}

impl PrivatePostgres {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().display().to_string();
        let status = Command::new("chown")
            .args(["-R", "postgres", &path])
            .status()
            .expect("chown");
        assert!(status.success());
        let bin = postgres_bin().display().to_string();
        as_postgres(&format!(
            "{bin}/initdb -D {path}/data -A trust -U postgres --no-sync >/dev/null"
        ));
        let postgres = Self {
            port: free_port(),
            dir,
        };
        postgres.start_server();
        postgres
    }

    fn start_server(&self) {
        let (bin, path, port) = (
            postgres_bin().display().to_string(),
            self.dir.path().display().to_string(),
            self.port,
        );
        as_postgres(&format!(
            "{bin}/pg_ctl -D {path}/data -l {path}/log -w -o \"-p {port} -k {path} \
             -c listen_addresses=127.0.0.1 -c max_connections=300\" start"
        ));
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates `database` and returns its URL.
    pub async fn database(&self, database: &str) -> String {
        use sea_orm::ConnectionTrait;
        let admin = sea_orm::Database::connect(self.url("postgres"))
            .await
            .expect("the private PostgreSQL");
        admin
            .execute_unprepared(&format!("CREATE DATABASE \"{database}\""))
            .await
            .expect("create database");
        self.url(database)
    }

    /// Stops the server as a crash would (immediate: no checkpoint, recovery at start), keeps
    /// it down for `down`, and starts it again on the same port and data.
    pub async fn crash_and_restart(&self, down: Duration) {
        let (bin, path) = (
            postgres_bin().display().to_string(),
            self.dir.path().display().to_string(),
        );
        as_postgres(&format!("{bin}/pg_ctl -D {path}/data -m immediate -w stop"));
        tokio::time::sleep(down).await;
        self.start_server();
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let (bin, path) = (
            postgres_bin().display().to_string(),
            self.dir.path().display().to_string(),
        );
        let _ = Command::new("su")
            .args(["postgres", "-s", "/bin/sh", "-c"])
            .arg(format!("{bin}/pg_ctl -D {path}/data -m immediate -w stop"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A Redis on a fixed port that can be stopped and started again there.
pub struct Redis {
    pub port: u16,
    process: Option<ChildGuard>,
}

impl Redis {
    pub async fn start() -> Self {
        let mut redis = Self {
            port: free_port(),
            process: None,
        };
        redis.resume().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn answers(port: u16) -> bool {
        redis_cli(port, &["ping"])
            .await
            .is_some_and(|reply| reply.starts_with("PONG"))
    }

    pub async fn resume(&mut self) {
        let port = self.port;
        self.process = Some(ChildGuard::spawn(
            Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null()),
        ));
        eventually("Redis answers", START_OR_STOP, || Self::answers(port)).await;
    }

    /// SIGKILLs Redis and waits until PING fails.
    pub async fn kill(&mut self) {
        if let Some(process) = self.process.take() {
            process.stop(9).await;
        }
        let port = self.port;
        eventually("Redis stops answering", START_OR_STOP, || async move {
            !Self::answers(port).await
        })
        .await;
    }
}
