//! Issue #11: each secret is its own. A service refuses to start without the secret it
//! needs, and svc-user refuses signing keys its secret does not open, minting none.

use std::{
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use crate::support::process::votemesh;

const SECRETS: [&str; 3] = [
    "VOTEMESH_INTERNAL_TOKEN",
    "VOTEMESH_RECEIPT_SECRET",
    "VOTEMESH_SIGNING_KEY_SECRET",
];

/// `votemesh` with `args` and none of the secrets from this test's environment.
fn bare(args: &[&str]) -> Command {
    let mut command = votemesh();
    command
        .args(args)
        .env("VOTEMESH_LOG", "warn")
        .env("VOTEMESH_LISTEN", "127.0.0.1:0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for secret in SECRETS {
        command.env_remove(secret);
    }
    command
}

/// Runs `command` until it exits, failing the test when it is still up after 30 s (then it
/// started, which it must not).
fn exits(command: &mut Command) -> Output {
    let mut child = command.spawn().expect("votemesh starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("polls").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{command:?} kept running");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn refused(command: &mut Command, named: &str) {
    let output = exits(command);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{command:?} must not start");
    assert!(
        stderr.contains(named),
        "{command:?} names {named}: {stderr}"
    );
}

#[test]
fn a_service_without_its_secret_refuses_to_start() {
    let data = tempfile::tempdir().expect("tempdir");
    let db = |name: &str| format!("sqlite://{}?mode=rwc", data.path().join(name).display());
    let (voting_db, user_db) = (db("voting.db"), db("user.db"));
    let voting = ["voting", "--internal-token=t", "--database-url", &voting_db];
    refused(&mut bare(&voting), "--receipt-secret");
    let user = ["user", "--internal-token=t", "--database-url", &user_db];
    refused(&mut bare(&user), "--signing-key-secret");
}

#[test]
fn a_wrong_signing_key_secret_fails_start_and_mints_nothing() {
    let data = tempfile::tempdir().expect("tempdir");
    let dir = data.path().to_str().expect("utf-8 path");
    let bootstrap = |extra: &[&str]| {
        let mut args = vec!["admin", "bootstrap", "--data-dir", dir];
        args.extend(["--email", "secrets@example.org"]);
        args.extend(["--password", "a password long enough"]);
        args.extend(extra);
        bare(&args)
    };
    // The first bootstrap creates the data directory's secret and the first signing key.
    let first = exits(&mut bootstrap(&[]));
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(first.status.success(), "{stderr}");
    let stored = std::fs::read_to_string(data.path().join("signing-key-secret")).expect("kept");
    let reuse = format!("--signing-key-secret={stored}");
    assert!(exits(&mut bootstrap(&[&reuse])).status.success());

    let wrong = "VOTEMESH_SIGNING_KEY_SECRET does not open the stored signing keys";
    refused(&mut bootstrap(&["--signing-key-secret=wrong"]), wrong);
    let user_db = format!(
        "sqlite://{}?mode=rwc",
        data.path().join("user.db").display()
    );
    let user = [
        "user",
        "--internal-token=t",
        "--database-url",
        &user_db,
        "--signing-key-secret=wrong",
    ];
    refused(&mut bare(&user), wrong);
    // Still the one key: the right secret opens it as before.
    assert!(exits(&mut bootstrap(&[])).status.success());

    let elsewhere = ["--database-url", &user_db];
    refused(&mut bootstrap(&elsewhere), "--signing-key-secret");
}
