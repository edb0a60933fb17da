//! The votemesh load generator: creates elections, registers voters, casts their ballots through the
//! edge over gRPC, and reports votes/s, latency percentiles, errors by code, the result lag
//! and the ratio to a raw PostgreSQL baseline. It checks that accepted equals recorded.
#![forbid(unsafe_code)]

mod baseline;
mod cast;
mod lag;
mod mesh;
mod notify;
mod setup;
mod stats;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::Context;
use proto_gen::voting::v1::{voting_service_client::VotingServiceClient, RecordedCountRequest};
use tonic::transport::Channel;

use crate::stats::{millis, percentile};

/// Load generator for votemesh. By default it starts the whole system in this process on
/// real PostgreSQL, Redis and Kafka; with --edge it targets a running deployment.
#[derive(clap::Parser, Clone, Debug)]
#[command(name = "votemesh-loadgen", version)]
pub struct Args {
    /// A running edge to target instead of starting the system here.
    #[arg(long, env = "LOADGEN_EDGE")]
    pub edge: Option<String>,
    /// Admin account (with --edge).
    #[arg(long, env = "LOADGEN_ADMIN_EMAIL", default_value = "root@example.org")]
    pub admin_email: String,
    /// Admin password (with --edge).
    #[arg(long, env = "LOADGEN_ADMIN_PASSWORD", default_value = "")]
    pub admin_password: String,
    /// PostgreSQL server, without a database name; each run creates fresh databases.
    #[arg(
        long,
        env = "LOADGEN_POSTGRES",
        default_value = "postgres://postgres@127.0.0.1:5432"
    )]
    pub postgres: String,
    #[arg(long, env = "LOADGEN_REDIS", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    #[arg(long, env = "LOADGEN_KAFKA", default_value = "127.0.0.1:9092")]
    pub kafka: String,
    /// svc-voting instances to start.
    #[arg(long, default_value_t = 1)]
    pub voting_instances: usize,
    /// Casts sharing one transaction in svc-voting (1: one transaction per cast); unset
    /// keeps svc-voting's own default.
    #[arg(long)]
    pub cast_batch_max: Option<usize>,
    /// svc-voting's cast transactions in flight; unset keeps svc-voting's own default.
    #[arg(long)]
    pub cast_batch_workers: Option<usize>,
    /// Voters to register; each votes once in every election.
    #[arg(long, default_value_t = 20_000)]
    pub voters: usize,
    /// Elections (K candidates each, RANKED).
    #[arg(long, default_value_t = 10)]
    pub elections: usize,
    #[arg(long, default_value_t = 4)]
    pub candidates: usize,
    /// Concurrent callers.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// How long to cast, at most.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Casts per second (open loop); as fast as possible when unset.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Also run svc-notify, sending every vote's confirmation to this SMTP server (spawned
    /// mesh only); the report adds messages per second and the cast-to-confirmation delay.
    #[arg(long)]
    pub smtp_url: Option<String>,
    /// Callers of the raw baseline; the cast concurrency when unset.
    #[arg(long)]
    pub baseline_concurrency: Option<usize>,
    /// How long the raw PostgreSQL baseline runs; 0 skips it.
    #[arg(long, default_value_t = 15)]
    pub baseline_seconds: u64,
    /// Elections the result-lag sampler follows (the first ones), to keep its own load small.
    #[arg(long, default_value_t = 2)]
    pub lag_elections: usize,
    /// How often the result-lag sampler polls each election, in milliseconds.
    #[arg(long, default_value_t = 25)]
    pub lag_poll_ms: u64,
    /// k of the spawned mesh: the mix's smallest batch and the results' smallest step.
    #[arg(long, default_value_t = 10)]
    pub mix_min_batch: u64,
}

fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Report {
    pub accepted: u64,
    pub recorded: u64,
    pub votes_per_second: f64,
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Casts acknowledged but never seen in GetResults by the end of the run.
    pub unseen_in_results: usize,
    pub baseline_per_second: Option<f64>,
}

/// Where the load goes and who administers it.
struct Target {
    edge_url: String,
    admin_email: String,
    admin_password: String,
}

/// The running deployment at `--edge`, or the whole system spawned in this process.
async fn target(args: &Args, shutdown: &kit::shutdown::Shutdown) -> anyhow::Result<Target> {
    if let Some(edge) = &args.edge {
        return Ok(Target {
            edge_url: edge.clone(),
            admin_email: args.admin_email.clone(),
            admin_password: args.admin_password.clone(),
        });
    }
    let spawned = mesh::spawn(args, shutdown).await?;
    // Let every service register and every watch settle before the clock starts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok(Target {
        edge_url: spawned.edge_url,
        admin_email: spawned.admin_email,
        admin_password: spawned.admin_password,
    })
}

/// Every (voter, election) cast, interleaved so consecutive casts go to different elections
/// and voters, each ranking a different prefix of the candidates.
fn jobs(tokens: &[String], elections: &[setup::Election]) -> Vec<cast::Job> {
    let mut jobs = Vec::with_capacity(tokens.len() * elections.len());
    for (v, token) in tokens.iter().enumerate() {
        for (e, election) in elections.iter().enumerate() {
            let k = election.candidates.len();
            let first = (v + e) % k;
            let selection = (0..k)
                .map(|i| election.candidates[(first + i) % k].clone())
                .take(1 + v % k)
                .collect();
            jobs.push(cast::Job {
                election: e,
                election_id: election.id.clone(),
                token: token.clone(),
                selection,
            });
        }
    }
    jobs
}

/// Runs the benchmark and prints its figures.
pub async fn run(args: Args) -> anyhow::Result<Report> {
    let shutdown = kit::shutdown::Shutdown::new();
    // Installed before the services start, so their first counts are kept.
    let _ = kit::metrics::handle();
    let target = target(&args, &shutdown).await?;
    let edge_url = target.edge_url;
    println!("edge: {edge_url}");

    let api = setup::Api::new(&edge_url);
    let admin = api
        .login(&target.admin_email, &target.admin_password)
        .await
        .context("admin login")?;
    let (elections, tokens) = prepare(&api, &admin, &args).await?;
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(Channel::from_shared(edge_url.clone())?.connect().await?);
    }
    let ids: Vec<String> = elections.iter().map(|e| e.id.clone()).collect();
    let probed: Vec<String> = ids
        .iter()
        .take(args.lag_elections.max(1))
        .cloned()
        .collect();
    let casting = Casting {
        api: &api,
        channels: &channels,
        admin: &admin,
        elections: &ids,
        probed: &probed,
    };
    let (expected, expecting) = tokio::sync::watch::channel(None);
    let confirmations = args
        .smtp_url
        .is_some()
        .then(|| tokio::spawn(notify::follow(expecting)));
    let (mut run, acked, samples) = casting.cast(&args, jobs(&tokens, &elections)).await?;

    let (accepted, throughput) = print_casts(&mut run);
    let _ = expected.send(Some(accepted));

    let recorded = recorded_total(channels[0].clone(), &admin, &ids).await?;
    println!(
        "check: accepted {accepted} vs recorded {recorded}: {}",
        if accepted == recorded {
            "EQUAL"
        } else {
            "MISMATCH"
        }
    );
    let (mut lags, unseen) = lag::lags(&acked[..probed.len()], &samples);
    println!(
        "result lag (ack to GetResults, {} elections polled every {} ms): p50 {}  p99 {}  max {}  never shown: {unseen}",
        probed.len(),
        args.lag_poll_ms,
        millis(percentile(&mut lags, 50.0)),
        millis(percentile(&mut lags, 99.0)),
        millis(percentile(&mut lags, 100.0)),
    );

    if let Some(confirmations) = confirmations {
        confirmations.await?;
    }
    let baseline_per_second = baseline(&args, throughput).await?;
    shutdown.trigger();
    Ok(Report {
        accepted,
        recorded,
        votes_per_second: throughput,
        errors: run.outcomes.errors,
        unseen_in_results: unseen,
        baseline_per_second,
    })
}

/// The elections, opened, and a token per registered voter.
async fn prepare(
    api: &setup::Api,
    admin: &str,
    args: &Args,
) -> anyhow::Result<(Vec<setup::Election>, Vec<String>)> {
    let started = Instant::now();
    let mut elections = Vec::new();
    for e in 0..args.elections {
        elections.push(
            api.open_election(admin, &format!("Load {e}"), args.candidates)
                .await?,
        );
    }
    let tokens = api.voters(args.voters, 32).await?;
    println!(
        "setup: {} elections, {} voters in {:.1} s (BENCH-ONLY cheap password hash when spawned)",
        elections.len(),
        tokens.len(),
        started.elapsed().as_secs_f64()
    );
    Ok((elections, tokens))
}

/// Prints throughput, latency percentiles and errors; returns (accepted, votes per second).
fn print_casts(run: &mut cast::Run) -> (u64, f64) {
    let outcomes = &mut run.outcomes;
    let accepted = outcomes.accepted.len() as u64;
    let throughput = accepted as f64 / run.elapsed.as_secs_f64();
    println!("\n== votemesh (CastBallot over gRPC through the edge)");
    println!(
        "accepted: {accepted} in {:.1} s = {throughput:.0} votes/s",
        run.elapsed.as_secs_f64()
    );
    println!(
        "latency: p50 {}  p95 {}  p99 {}  max {}",
        millis(percentile(&mut outcomes.accepted, 50.0)),
        millis(percentile(&mut outcomes.accepted, 95.0)),
        millis(percentile(&mut outcomes.accepted, 99.0)),
        millis(percentile(&mut outcomes.accepted, 100.0)),
    );
    println!("errors by code: {:?}", outcomes.errors);
    (accepted, throughput)
}

/// What the casting phase shares: connections to the edge, the admin, the elections polled
/// for the result lag.
struct Casting<'a> {
    api: &'a setup::Api,
    channels: &'a [Channel],
    admin: &'a str,
    elections: &'a [String],
    probed: &'a [String],
}

impl Casting<'_> {
    /// Casts `jobs` as planned while a sampler polls results; returns the run, each
    /// election's acknowledgement times, and the sampler's observations.
    async fn cast(
        &self,
        args: &Args,
        jobs: Vec<cast::Job>,
    ) -> anyhow::Result<(cast::Run, Vec<Vec<Instant>>, lag::Samples)> {
        let acks: cast::Acks = Arc::new(Mutex::new(vec![Vec::new(); args.elections]));
        let (stop, stopped) = tokio::sync::watch::channel(None);
        let sampler = tokio::spawn(lag::sample(
            self.channels[0].clone(),
            self.admin.to_owned(),
            Arc::new(self.probed.to_vec()),
            Duration::from_millis(args.lag_poll_ms),
            stopped,
        ));
        let plan = cast::Plan {
            concurrency: args.concurrency,
            duration: Duration::from_secs(args.seconds),
            rate: args.rate,
        };
        println!(
            "casting: up to {} ballots for {} s at concurrency {}{}",
            jobs.len(),
            args.seconds,
            args.concurrency,
            args.rate
                .map(|r| format!(", paced at {r}/s"))
                .unwrap_or_default()
        );
        let run = cast::run(self.channels.to_vec(), jobs, &plan, acks.clone()).await;
        // Closed, the elections' last ballots (fewer than k) leave the mix and are counted.
        for id in self.elections {
            self.api.close_election(self.admin, id).await?;
        }
        let acked: Vec<Vec<Instant>> = acks.lock().map(|a| a.clone()).unwrap_or_default();
        let _ = stop.send(Some(acked.iter().map(|a| a.len() as u64).collect()));
        let samples = sampler.await?;
        Ok((run, acked, samples))
    }
}

/// Ballots svc-voting recorded across `elections`, asked as the admin.
async fn recorded_total(
    channel: Channel,
    admin: &str,
    elections: &[String],
) -> anyhow::Result<u64> {
    let mut voting = VotingServiceClient::new(channel);
    let mut recorded = 0;
    for id in elections {
        recorded += voting
            .recorded_count(authorized(
                RecordedCountRequest {
                    election_id: id.clone(),
                },
                admin,
            ))
            .await?
            .into_inner()
            .ballots;
    }
    Ok(recorded)
}

/// The raw PostgreSQL baseline at the same concurrency, when asked for; prints the ratio.
async fn baseline(args: &Args, throughput: f64) -> anyhow::Result<Option<f64>> {
    if args.baseline_seconds == 0 {
        return Ok(None);
    }
    let database = mesh::fresh_database(&args.postgres, "baseline").await?;
    let callers = args.baseline_concurrency.unwrap_or(args.concurrency);
    let per_second = baseline::run(
        &database,
        callers,
        Duration::from_secs(args.baseline_seconds),
    )
    .await?;
    println!(
        "\n== raw grouped ceiling (svc-voting's group commit straight to PostgreSQL, concurrency {callers})"
    );
    println!(
        "{per_second:.0} votes/s; votemesh/ceiling = {:.2}",
        throughput / per_second
    );
    Ok(Some(per_second))
}
