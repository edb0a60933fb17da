//! One fault at a time, each in an election of its own while the load casts in it.

use std::time::Duration;

use serde_json::json;
use tokio::task::JoinHandle;

use crate::{
    checks,
    cluster::{Cluster, SERVICES},
    load::{cast_everyone, Outcome},
    support::{
        ballots::{voters, OpenElection},
        clients::{Rest, Session},
        elections::{draft_body, election_with, transition_ok},
    },
    Form,
};

/// A scenario under way: its election and the load casting in it.
pub struct Pending {
    title: String,
    admin: Session,
    election: OpenElection,
    load: JoinHandle<Outcome>,
}

pub struct Run {
    form: Form,
    cluster: Cluster,
    api: Rest,
    voters: Vec<Session>,
    scenarios: usize,
}

/// Until the process on `port` accepts connections (it may not be registered yet).
async fn accepting(port: u16) {
    for _ in 0..600 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("nothing listens on {port}");
}

impl Run {
    pub async fn start(form: Form) -> Self {
        let cluster = Cluster::start().await;
        let api = Rest::new(&cluster.edge_url);
        let voters = voters(&api, form.voters, "chaos").await;
        Self {
            form,
            cluster,
            api,
            voters,
            scenarios: 0,
        }
    }

    /// Opens the scenario's election and starts casting in it.
    async fn begin(&mut self, fault: &str) -> Pending {
        self.scenarios += 1;
        let title = format!("Chaos {}: {fault}", self.scenarios);
        let admin = self.api.admin().await;
        let mut body = draft_body(&title);
        body["election"]["method"] = json!("BALLOT_METHOD_PLURALITY");
        body["election"]["max_choices"] = json!(1);
        let (id, candidates) =
            election_with(&self.api, &admin.access, body, &["Ada", "Bob", "Cy"]).await;
        transition_ok(&self.api, &admin.access, &id, "ELECTION_STATUS_OPEN").await;
        let election = OpenElection {
            id,
            method: "BALLOT_METHOD_PLURALITY",
            candidates,
        };
        let (edge, cast_in, voters, form) = (
            self.cluster.edge_url.clone(),
            election.clone(),
            self.voters.clone(),
            self.form,
        );
        let load = tokio::spawn(async move {
            cast_everyone(&edge, &cast_in, &voters, form.concurrency, form.pause).await
        });
        // Let the load get going before the fault strikes.
        tokio::time::sleep(Duration::from_secs(1)).await;
        Pending {
            title,
            admin,
            election,
            load,
        }
    }

    /// Waits for the load, then for the mesh to settle, and checks the invariants.
    async fn finish(&mut self, pending: Pending) -> Outcome {
        let outcome = pending.load.await.expect("the load ran");
        let recorded = checks::settle(
            &self.cluster,
            &pending.admin.access,
            &pending.election,
            &pending.title,
            &outcome,
            self.voters.len(),
        )
        .await;
        eprintln!(
            "chaos: {}: {} acknowledged, {recorded} recorded and counted, errors {:?}",
            pending.title,
            outcome.acknowledged.len(),
            outcome.errors
        );
        outcome
    }

    pub async fn sigkill_each_service_in_turn(&mut self) {
        let pending = self.begin("SIGKILL in turn").await;
        for (service, _) in SERVICES {
            let struck = self.cluster.instances_of(service);
            for index in struck.into_iter().take(self.form.struck_per_service) {
                self.cluster.restart_member(index, 9).await;
                accepting(self.cluster.members[index].port).await;
                self.cluster.wait_for(service, 2).await;
            }
        }
        let port = self.cluster.registries[0].port;
        self.cluster.restart_registry(0, 9).await;
        accepting(port).await;
        self.finish(pending).await;
    }

    /// Every process behind the edge, one at a time, by SIGTERM: each drains, and the edge
    /// returns no error at all.
    pub async fn rolling_restart_by_sigterm(&mut self) {
        let pending = self.begin("SIGTERM rolling restart").await;
        for index in 0..self.cluster.registries.len() {
            let status = self.cluster.restart_registry(index, 15).await;
            assert!(status.success(), "registry {index} drained: {status}");
            accepting(self.cluster.registries[index].port).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        for index in 0..self.cluster.members.len() {
            let service = self.cluster.members[index].service;
            let status = self.cluster.restart_member(index, 15).await;
            assert!(status.success(), "{service} drained: {status}");
            accepting(self.cluster.members[index].port).await;
            self.cluster.wait_for(service, 2).await;
            // Every watcher learns of the new instance before the next one goes.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let outcome = self.finish(pending).await;
        assert_eq!(
            outcome.error_count(),
            0,
            "the edge returned errors during the rolling restart: {:?}",
            outcome.errors
        );
    }

    pub async fn broker_stopped_for_ten_seconds(&mut self) {
        let pending = self.begin("broker stopped").await;
        self.cluster.broker.stop_with(15).await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        self.restart_broker().await;
        self.finish(pending).await;
    }

    /// Starts the broker again. Tansu 0.6.0 (the test broker) can lose its storage task as
    /// the consumer groups rejoin right after a restart: it then logs `UnableToSend`, or a
    /// `SendError` from its storage service, and refuses every request (or every group
    /// update) while the process lives on, which real Kafka does not do. An operator would
    /// restart it; so does the harness, at most twice, and says so.
    async fn restart_broker(&mut self) {
        for attempt in 0..3 {
            let logged = self.cluster.broker.log_text().len();
            self.cluster.broker.resume().await;
            let mut lost = false;
            for _ in 0..30 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let log = self.cluster.broker.log_text();
                if log.get(logged..).is_some_and(|new| {
                    new.contains("UnableToSend")
                        || (new.contains("tansu_storage::service") && new.contains("SendError"))
                }) {
                    lost = true;
                    break;
                }
            }
            if !lost {
                return;
            }
            eprintln!("chaos: Tansu lost its storage task after restart {attempt}; restarting it");
            self.cluster.broker.kill().await;
        }
        panic!("Tansu kept losing its storage task after restarts");
    }

    pub async fn redis_stopped_for_ten_seconds(&mut self) {
        let pending = self.begin("Redis stopped").await;
        self.cluster.redis.kill().await;
        tokio::time::sleep(Duration::from_secs(10)).await;
        self.cluster.redis.resume().await;
        self.finish(pending).await;
    }

    pub async fn postgres_crashed_and_restarted(&mut self) {
        let pending = self.begin("PostgreSQL restarted").await;
        self.cluster
            .postgres
            .crash_and_restart(Duration::from_secs(3))
            .await;
        self.finish(pending).await;
    }
}
