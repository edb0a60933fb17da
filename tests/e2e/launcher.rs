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
    // A voter proves their address with the code `votemesh up` wrote to its mail outbox.
    let address = email("quickstart");
    api.register(&address).await;
    let session = api.login(&address, PASSWORD).await;
    let mail = crate::notify::eml_to(&data_dir.join("outbox-mail"), &address).await;
    let code = crate::notify::code_in(&mail);
    let (status, body) = crate::notify::verify(&api, &session, "CONTACT_KIND_EMAIL", &code).await;
    assert_eq!(status, 200, "{body}");
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
    let (status, _) = api.try_login(&session.email, "wrong password!!").await;
    assert_eq!(status, 401);

    let election = create_election(&api, &admin.access, draft_body("Quickstart poll")).await;
    assert_eq!(election["status"], "ELECTION_STATUS_DRAFT");
    assert!(data_dir.join("candidate.db").exists());

    // The embedded default counts too: in-process bus, SQLite, in-memory results cache.
    let id = id_of(&election);
    let ada = add_candidate(&api, &admin.access, &id, "Ada").await;
    add_candidate(&api, &admin.access, &id, "Bob").await;
    transition_ok(&api, &admin.access, &id, "ELECTION_STATUS_OPEN").await;
    let (status, body) = api
        .post(
            &format!("/v1/elections/{id}/ballots"),
            Some(&session.access),
            json!({"selection": {"candidate_ids": [ada]}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A lone ballot stays sealed in the mix (k = 10 here): recorded, not yet counted, and
    // not in the live results, where it would show what its voter chose.
    let receipt = body["receipt_code"].as_str().expect("receipt").to_owned();
    let check = format!("/v1/receipts/{receipt}");
    let (status, verified) = api.get(&check, None).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["recorded"], true, "{verified}");
    assert_ne!(verified["counted"], true, "a lone ballot waits: {verified}");
    let results = format!("/v1/elections/{id}/results");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (status, shown) = api.get(&results, Some(&admin.access)).await;
    assert_eq!(status, 200, "{shown}");
    assert_ne!(
        shown["total_ballots"], "1",
        "the lone ballot is not shown: {shown}"
    );
    // The close releases it, and the results show it.
    transition_ok(&api, &admin.access, &id, "ELECTION_STATUS_CLOSED").await;
    eventually(
        "the ballot shows in the results once the election closes",
        Duration::from_secs(10),
        || async {
            let (status, shown) = api.get(&results, Some(&session.access)).await;
            status == 200 && shown["total_ballots"] == "1"
        },
    )
    .await;
    assert!(data_dir.join("result.db").exists());

    let exit = up.stop(15).await;
    assert!(
        exit.success(),
        "Ctrl-C/SIGTERM stops votemesh up cleanly: {exit}"
    );
    secrets_are_kept_apart_and_owner_only(&data_dir);
    secrets_survive_a_restart(&data_dir, port, &receipt, &session.access).await;
}

/// `votemesh up` keeps one file per secret, readable by its owner only, and no two alike.
fn secrets_are_kept_apart_and_owner_only(data_dir: &std::path::Path) {
    let secrets = ["internal-token", "receipt-secret", "signing-key-secret"].map(|name| {
        let path = data_dir.join(name);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect(name).permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name} is owner-only");
        }
        std::fs::read_to_string(&path).expect(name)
    });
    assert!(
        secrets.iter().all(|secret| secret.len() >= 32),
        "{secrets:?}"
    );
    assert!(
        secrets[0] != secrets[1] && secrets[1] != secrets[2] && secrets[0] != secrets[2],
        "each secret is its own"
    );
}

/// Started again on the same directory, `votemesh up` keeps its secrets: the receipt from
/// before the restart still verifies (recorded and counted), and an access token signed before it still works (the
/// sealed signing keys opened again).
async fn secrets_survive_a_restart(
    data_dir: &std::path::Path,
    port: u16,
    receipt: &str,
    access: &str,
) {
    let _again = ChildGuard::spawn(
        votemesh()
            .args(["up", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data_dir)
            .env("VOTEMESH_LOG", "warn")
            .stdout(Stdio::null()),
    );
    let check = format!("http://127.0.0.1:{port}/v1/receipts/{receipt}");
    let verified = eventually(
        "the restarted system verifies the receipt",
        Duration::from_secs(60),
        || async {
            let Ok(reply) = reqwest::get(&check).await else {
                return false;
            };
            reply
                .json::<serde_json::Value>()
                .await
                .is_ok_and(|shown| shown["recorded"] == true && shown["counted"] == true)
        },
    );
    verified.await;
    let api = Rest::new(&format!("http://127.0.0.1:{port}"));
    let (status, me) = api.get("/v1/me", Some(access)).await;
    assert_eq!(
        status, 200,
        "the token from before the restart still works: {me}"
    );
}
