//! Issue 15's chaos harness: the mesh as separate processes (two registry replicas on Redis,
//! two instances of every service, the edge) on its own PostgreSQL, Redis, broker and SMTP
//! server, with ballots cast through the edge while one fault at a time strikes:
//! every service SIGKILLed and restarted in turn (a registry replica too), a rolling restart
//! of every process behind the edge by SIGTERM, the broker stopped, Redis stopped,
//! PostgreSQL crashed and restarted.
//!
//! After each fault, once the election closes: every acknowledged ballot is recorded and
//! counted once (Audit matches, nothing left sealed, every receipt counted), each recorded
//! vote got exactly one confirmation email, and during the SIGTERM rolling restart the edge
//! returned no error at all.
//!
//! `.ci/run` runs the reduced form: 120 voters a scenario, one instance of each service
//! struck in the SIGKILL round, and every scenario but the broker stop.
//! `VOTEMESH_CHAOS_FULL=1` runs the full form: 600 voters a scenario, cast faster, both
//! instances of every service struck, and all five scenarios. `VOTEMESH_CHAOS_ONLY=a,b` runs
//! only the scenarios named, in either form. The broker stop stays out of `.ci/run` because
//! Tansu 0.6.0 can lose its storage task when consumer groups rejoin after its restart
//! (`UnableToSend`, or `SendError` on group updates), and the harness restarts it when it
//! sees that. One CI run saw the count wait past three minutes with only `SendError` in the
//! log, before the harness looked for it; the three runs since passed, but two of them took
//! over two minutes to settle. A stalled count reports svc-voting's outbox and the broker's
//! last errors.

#[allow(dead_code, unused_imports)]
#[path = "../e2e/support/mod.rs"]
mod support;

mod checks;
mod cluster;
mod infra;
mod load;
mod scenarios;

use std::time::Duration;

/// How hard a run pushes.
#[derive(Clone, Copy, Debug)]
pub struct Form {
    pub voters: usize,
    pub concurrency: usize,
    pub pause: Duration,
    /// Instances of each service struck in the SIGKILL round.
    pub struck_per_service: usize,
    /// The scenarios run, by name.
    pub scenarios: &'static [&'static str],
}

impl Form {
    fn from_env() -> Self {
        match std::env::var("VOTEMESH_CHAOS_FULL").as_deref() {
            Ok("1") => Self {
                voters: 600,
                concurrency: 8,
                pause: Duration::from_millis(100),
                struck_per_service: 2,
                scenarios: &["sigkill", "sigterm", "broker", "redis", "postgres"],
            },
            _ => Self {
                voters: 120,
                concurrency: 3,
                pause: Duration::from_millis(250),
                struck_per_service: 1,
                scenarios: &["sigkill", "sigterm", "redis", "postgres"],
            },
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mesh_keeps_every_ballot_through_one_fault_at_a_time() {
    kit::telemetry::init(kit::config::LogFormat::Text);
    let form = Form::from_env();
    // VOTEMESH_CHAOS_ONLY=broker,redis runs only the scenarios named, in either form.
    let only = std::env::var("VOTEMESH_CHAOS_ONLY").unwrap_or_default();
    let runs = |name: &str| match only.is_empty() {
        true => form.scenarios.contains(&name),
        false => only.split(',').any(|n| n == name),
    };
    let mut run = scenarios::Run::start(form).await;
    if runs("sigkill") {
        run.sigkill_each_service_in_turn().await;
    }
    if runs("sigterm") {
        run.rolling_restart_by_sigterm().await;
    }
    if runs("broker") {
        run.broker_stopped_for_ten_seconds().await;
    }
    if runs("redis") {
        run.redis_stopped_for_ten_seconds().await;
    }
    if runs("postgres") {
        run.postgres_crashed_and_restarted().await;
    }
}
