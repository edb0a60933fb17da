//! Redis: the one the tests share, and a private one on its own port, which a test may
//! flush or kill without touching the shared one.

use std::process::{Command, Stdio};

use super::{
    process::{free_port, ChildGuard},
    wait::eventually,
};

/// The Redis the tests share.
pub const SHARED_REDIS: &str = "redis://127.0.0.1:6379";

/// How long Redis may take to start or to go.
const START_OR_STOP: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `redis-cli` against the Redis on `port`; its output when it succeeded.
pub async fn redis_cli(port: u16, args: &[&str]) -> Option<String> {
    let output = tokio::process::Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .await
        .expect("redis-cli runs");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Whether the Redis on `port` answers PING.
async fn answers(port: u16) -> bool {
    redis_cli(port, &["ping"])
        .await
        .is_some_and(|reply| reply.starts_with("PONG"))
}

pub struct PrivateRedis {
    pub port: u16,
    process: Option<ChildGuard>,
}

impl PrivateRedis {
    /// Starts a Redis without persistence and waits until it answers PING.
    pub async fn start() -> Self {
        let port = free_port();
        let process = ChildGuard::spawn(
            Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null()),
        );
        eventually("the private Redis answers", START_OR_STOP, || answers(port)).await;
        Self {
            port,
            process: Some(process),
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// SIGKILLs Redis and waits until PING fails, so what follows runs without it.
    pub async fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.signal(9);
            let _ = process.0.wait();
        }
        let port = self.port;
        eventually(
            "the killed Redis stops answering",
            START_OR_STOP,
            || async move { !answers(port).await },
        )
        .await;
    }
}
