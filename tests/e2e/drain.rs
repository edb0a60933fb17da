//! Issue 9: the drain. A SIGTERMed svc-result with a live consumer and open WatchResults
//! streams stops well inside its deadline: streams end cleanly, the instance deregisters,
//! and the process exits 0. In-process, every tracked task of a whole mesh stops too.

use std::time::{Duration, Instant};

use proto_gen::result::v1::{WatchResultsRequest, WatchResultsResponse};
use tonic::Streaming;

use crate::support::{ballots::*, process::*, *};

/// Far longer than the drain may take, so only something holding it reaches the deadline.
const DRAIN_SECONDS: u64 = 30;
/// How soon a drain with nothing holding it must be over.
const PROMPTLY: Duration = Duration::from_secs(10);

/// A WatchResults stream of `election_id` at `url`, past its first snapshot.
async fn open_watch(url: &str, election_id: &str, token: &str) -> Streaming<WatchResultsResponse> {
    let mut client = result_client(url).await;
    let mut stream = client
        .watch_results(bearer(
            WatchResultsRequest {
                election_id: election_id.into(),
            },
            token,
        ))
        .await
        .expect("watch opens")
        .into_inner();
    let first = tokio::time::timeout(PROMPTLY, stream.message())
        .await
        .expect("a first snapshot in time")
        .expect("the stream is healthy");
    assert!(first.is_some(), "the stream opens with a snapshot");
    stream
}

/// Reads `stream` to its end; `Ok` when it ended with an OK status, the error status
/// otherwise; panics if it is still open after [`PROMPTLY`].
async fn read_to_end(mut stream: Streaming<WatchResultsResponse>) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + PROMPTLY;
    loop {
        match tokio::time::timeout_at(deadline, stream.message()).await {
            Ok(Ok(Some(_))) => continue,
            Ok(Ok(None)) => return Ok(()),
            Ok(Err(status)) => return Err(format!("{:?}: {}", status.code(), status.message())),
            Err(_) => panic!("the stream was still open {PROMPTLY:?} after SIGTERM"),
        }
    }
}

/// An open election with one counted ballot: the consumer holds a partition and has worked.
async fn counted_election(mesh: &Mesh, api: &Rest, admin: &str) -> OpenElection {
    let election = open_election(
        api,
        admin,
        "BALLOT_METHOD_PLURALITY",
        2,
        "RESULTS_VISIBILITY_LIVE",
    )
    .await;
    let voter = api.voter("drained").await;
    let jobs = vec![(election.id.clone(), selection(&election, 0), voter.access)];
    assert!(cast_all(&mesh.edge_url, jobs, 1)
        .await
        .iter()
        .all(Result::is_ok));
    let mut results = result_client(&mesh.edge_url).await;
    wait_for_total(&mut results, &election.id, admin, 1).await;
    election
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigtermed_result_service_with_a_consumer_and_watchers_drains_promptly() {
    let wiring = Wiring::fresh();
    let mesh = spawn_mesh_with(results_mesh(&wiring, 0)).await;
    let mut command = result_command(&mesh, &wiring, None);
    // A long lease, so the instance leaving the registry at once proves it deregistered.
    command
        .env("VOTEMESH_DRAIN_SECONDS", DRAIN_SECONDS.to_string())
        .env("VOTEMESH_LEASE_TTL_SECONDS", "60");
    let mut process = ChildGuard::spawn(&mut command);
    mesh.wait_for_instances_while(RESULT_SERVICE, 1, || process.still_running())
        .await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let election = counted_election(&mesh, &api, &admin.access).await;
    let address = mesh.resolve(RESULT_SERVICE).await.remove(0);
    let direct = open_watch(&address, &election.id, &admin.access).await;
    let through_edge = open_watch(&mesh.edge_url, &election.id, &admin.access).await;

    let signalled = Instant::now();
    process.signal(15);
    let (direct, through_edge) = tokio::join!(read_to_end(direct), read_to_end(through_edge));
    let exited = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + PROMPTLY;
        while Instant::now() < deadline {
            match process.0.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(error) => panic!("cannot poll the process: {error}"),
            }
        }
        None
    })
    .await
    .expect("join");
    let took = signalled.elapsed();
    let status = exited.unwrap_or_else(|| {
        panic!("still running {PROMPTLY:?} after SIGTERM (drain deadline {DRAIN_SECONDS} s)")
    });
    assert!(status.success(), "a drained process exits 0: {status}");
    assert!(took < PROMPTLY, "drained in {took:?}");
    assert_eq!(direct, Ok(()), "the direct stream ends with OK");
    assert_eq!(
        through_edge,
        Ok(()),
        "the stream through the edge ends with OK"
    );
    assert!(
        mesh.resolve(RESULT_SERVICE).await.is_empty(),
        "the instance deregistered (its 60 s lease has not lapsed)"
    );
}

/// The whole mesh in this process, with an election that has counted a ballot.
async fn in_process_mesh_with_a_count() -> (Mesh, Session, OpenElection) {
    let mesh = spawn_mesh_with(results_mesh(&Wiring::fresh(), 1)).await;
    let api = Rest::new(&mesh.edge_url);
    let admin = api.admin().await;
    let election = counted_election(&mesh, &api, &admin.access).await;
    (mesh, admin, election)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_mesh_stops_every_background_task_promptly() {
    // Relay and scheduler (svc-candidate), relay, group commit and invalidation (svc-voting),
    // consumer and Redis subscriber (svc-result), sweeper (registry), keep-alives (all).
    let (mesh, admin, election) = in_process_mesh_with_a_count().await;
    let watch = open_watch(&mesh.edge_url, &election.id, &admin.access).await;

    let triggered = Instant::now();
    mesh.shutdown.trigger();
    assert_eq!(read_to_end(watch).await, Ok(()), "the stream ends with OK");
    assert!(
        mesh.shutdown.drained(PROMPTLY).await,
        "every background task stopped within {PROMPTLY:?}"
    );
    assert!(
        triggered.elapsed() < PROMPTLY,
        "drained in {:?}",
        triggered.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edge_drains_with_a_forwarded_stream_open_while_the_service_stays_up() {
    let (mesh, admin, election) = in_process_mesh_with_a_count().await;
    // A second edge with a shutdown of its own: only it drains.
    let mut config = mesh.config::<edge::Config>();
    config.common.drain_seconds = DRAIN_SECONDS;
    let edge = ::mesh::Service::build(config).await.expect("edge builds");
    let edge_url = edge.url();
    let edge_shutdown = kit::shutdown::Shutdown::new();
    let served = tokio::spawn(edge.run_until_stopped(edge_shutdown.clone()));
    let watch = open_watch(&edge_url, &election.id, &admin.access).await;

    let triggered = Instant::now();
    edge_shutdown.trigger();
    assert_eq!(
        read_to_end(watch).await,
        Ok(()),
        "the forwarded stream ends with OK although svc-result keeps it open"
    );
    tokio::time::timeout(PROMPTLY, served)
        .await
        .expect("the edge stopped well inside its drain deadline")
        .expect("join")
        .expect("the edge stopped cleanly");
    assert!(
        triggered.elapsed() < PROMPTLY,
        "drained in {:?}",
        triggered.elapsed()
    );
    // The service's own stream is untouched: the mesh still serves a new one.
    let again = open_watch(&mesh.edge_url, &election.id, &admin.access).await;
    drop(again);
}
