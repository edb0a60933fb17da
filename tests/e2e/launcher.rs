//! Acceptance 8: `votemesh up` starts on an empty data directory and serves a
//! register-and-login round trip; the documented admin bootstrap works against it, and a
//! ballot cast there shows in the live results.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    time::Duration,
};

use serde_json::json;

use crate::support::{process::*, *};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votemesh_up_serves_a_round_trip_from_an_empty_directory() {
    let data = tempfile::tempdir().expect("tempdir");
    let data_dir = data.path().join("fresh");
    let port = free_port();
    let mut up = ChildGuard::spawn(
        votemesh()
            .args(["up", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(&data_dir)
            .env("VOTEMESH_LOG", "warn")
            .stdout(Stdio::piped()),
    );
    let stdout = up.0.stdout.take().expect("stdout");
    let (banner_tx, banner_rx) = tokio::sync::oneshot::channel();
    // Keeps reading after the banner, so the launcher's stdout stays open.
    std::thread::spawn(move || {
        let mut banner_tx = Some(banner_tx);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("votemesh is up at") {
                if let Some(tx) = banner_tx.take() {
                    let _ = tx.send(line);
                }
            }
        }
    });
    let banner = tokio::time::timeout(Duration::from_secs(60), banner_rx)
        .await
        .expect("banner in time")
        .expect("votemesh up prints its URL");
    let url = format!("http://127.0.0.1:{port}");
    assert!(banner.contains(&url), "{banner}");

    let api = Rest::new(&url);
    let session = api.voter("quickstart").await;
    assert_eq!(api.get("/v1/me", Some(&session.access)).await.0, 200);
    assert!(
        data_dir.join("user.db").exists(),
        "data lives under the data directory"
    );

    let bootstrap = votemesh()
        .args([
            "admin",
            "bootstrap",
            "--email",
            "first-admin@example.org",
            "--password",
            "first admin password",
            "--data-dir",
        ])
        .arg(&data_dir)
        .env("VOTEMESH_LOG", "warn")
        .output()
        .expect("bootstrap runs");
    assert!(
        bootstrap.status.success(),
        "{}",
        String::from_utf8_lossy(&bootstrap.stderr)
    );
    let admin = api
        .login("first-admin@example.org", "first admin password")
        .await;
    let (status, users) = api.get("/v1/admin/users", Some(&admin.access)).await;
    assert_eq!(status, 200);
    assert_eq!(users["users"].as_array().map(Vec::len), Some(2));
    let (status, _) = api
        .post(
            "/v1/auth/login",
            None,
            json!({"email": session.email, "password": "wrong password!!"}),
        )
        .await;
    assert_eq!(status, 401);

    let election = create_election(&api, &admin.access, draft_body("Quickstart poll")).await;
    assert_eq!(election["status"], "ELECTION_STATUS_DRAFT");
    assert!(data_dir.join("candidate.db").exists());

    // The embedded default counts too: in-process bus, SQLite, in-memory results cache.
    let id = election["election_id"].as_str().expect("id").to_owned();
    let ada = add_candidate(&api, &admin.access, &id, "Ada").await;
    add_candidate(&api, &admin.access, &id, "Bob").await;
    assert_eq!(
        transition(&api, &admin.access, &id, "ELECTION_STATUS_OPEN")
            .await
            .0,
        200
    );
    let (status, body) = api
        .post(
            &format!("/v1/elections/{id}/ballots"),
            Some(&session.access),
            json!({"selection": {"candidate_ids": [ada]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut counted = false;
    for _ in 0..100 {
        let (status, results) = api
            .get(
                &format!("/v1/elections/{id}/results"),
                Some(&session.access),
            )
            .await;
        if status == 200 && results["total_ballots"] == "1" {
            counted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(counted, "the ballot shows in the live results");
    assert!(data_dir.join("result.db").exists());

    up.signal(15);
    let exit = tokio::task::spawn_blocking(move || up.0.wait())
        .await
        .expect("join")
        .expect("exit");
    assert!(
        exit.success(),
        "Ctrl-C/SIGTERM stops votemesh up cleanly: {exit}"
    );
}
