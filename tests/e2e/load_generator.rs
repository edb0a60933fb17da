//! Issue 4: the load generator runs end to end on real components and finds every accepted
//! ballot recorded and counted. (Its speed figures are benchmarks, reported in
//! docs/benchmarks.md, never asserted here.)

use clap::Parser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_generator_casts_checks_and_measures() {
    let kafka = std::env::var("VOTEMESH_TEST_KAFKA").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let args = loadgen::Args::parse_from([
        "votemesh-loadgen",
        "--kafka",
        &kafka,
        "--voters",
        "60",
        "--elections",
        "2",
        "--concurrency",
        "8",
        "--seconds",
        "30",
        "--baseline-seconds",
        "1",
    ]);
    let report = loadgen::run(args).await.expect("the run completes");
    assert_eq!(
        report.accepted, 120,
        "every ballot cast: {:?}",
        report.errors
    );
    assert_eq!(report.recorded, report.accepted);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(
        report.unseen_in_results, 0,
        "every acknowledged cast showed in the results"
    );
    assert!(report.baseline_per_second.is_some_and(|n| n > 0.0));
}
