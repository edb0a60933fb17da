//! The Kafka-compatible broker: the one the tests share, readers of test topics, and a
//! private Tansu on its own port and sqlite file, which a test may stop and restart without
//! touching the shared one.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use rdkafka::{
    consumer::{Consumer, StreamConsumer},
    message::BorrowedMessage,
    ClientConfig,
};
use tokio::time::Instant;

use super::process::{free_port, ChildGuard};

/// The shared broker's address.
pub fn kafka() -> String {
    std::env::var("VOTEMESH_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into())
}

/// A consumer in a group of its own, reading `topics` from their start.
pub fn reader(brokers: &str, topics: &[&str]) -> StreamConsumer {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set(
            "group.id",
            format!("test-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(topics).expect("subscribe");
    consumer
}

/// The next message, which must arrive by `deadline`.
pub async fn next_message(consumer: &StreamConsumer, deadline: Instant) -> BorrowedMessage<'_> {
    tokio::time::timeout_at(deadline, consumer.recv())
        .await
        .expect("a message in time")
        .expect("a message")
}

pub struct PrivateBroker {
    pub address: String,
    dir: tempfile::TempDir,
    process: Option<ChildGuard>,
}

impl PrivateBroker {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        let mut broker = Self {
            address: format!("127.0.0.1:{}", free_port()),
            dir,
            process: None,
        };
        broker.resume().await;
        broker
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("tansu.log")
    }

    /// What the broker has logged, across restarts.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// Starts the broker (again) on the same port and the same durable file.
    pub async fn resume(&mut self) {
        let url = format!("tcp://{}", self.address);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .expect("broker log");
        let mut command = Command::new("tansu");
        command
            .current_dir(self.dir.path())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "sqlite://data/tansu.db"])
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log));
        self.process = Some(ChildGuard::spawn(&mut command));
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(&self.address).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "tansu did not listen on {}: {}",
            self.address,
            self.log_text()
        );
    }

    /// SIGKILLs the broker and waits until its port is closed.
    pub async fn kill(&mut self) {
        self.stop_with(9).await;
    }

    /// Stops the broker with `signal` (15, SIGTERM, lets it close its store as an operator's
    /// stop does) and waits until its port is closed.
    pub async fn stop_with(&mut self, signal: i32) {
        if let Some(process) = self.process.take() {
            process.stop(signal).await;
        }
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(&self.address).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "tansu on {} still answers after signal {signal}",
            self.address
        );
    }
}
