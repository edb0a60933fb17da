//! Acceptance 7 and 8: `votemesh up` writes mail to files without an SMTP server and sends
//! through one when given; bad settings fail at start, naming the flag.

use std::{process::Stdio, time::Duration};

use crate::support::{mail::SmtpSink, process::*, *};

/// `votemesh up` on a fresh directory until its banner, on a free port.
async fn up(data_dir: &std::path::Path, extra: &[&str]) -> (ChildGuard, Rest) {
    let port = free_port();
    let mut command = votemesh();
    command
        .args(["up", "--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("VOTEMESH_LOG", "warn")
        .stdout(Stdio::null());
    let child = ChildGuard::spawn(&mut command);
    let url = format!("http://127.0.0.1:{port}");
    let keys = format!("{url}/v1/auth/keys");
    eventually("votemesh up answers", Duration::from_secs(60), || async {
        reqwest::get(&keys)
            .await
            .is_ok_and(|reply| reply.status().is_success())
    })
    .await;
    let api = Rest::new(&url);
    (child, api)
}

/// The `.eml` file `votemesh up` wrote to `address`, once it is there.
pub async fn eml_to(outbox: &std::path::Path, address: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let to = format!("To: {address}");
    until_some(&format!("an .eml file to {address}"), deadline, || async {
        let entries = std::fs::read_dir(outbox).ok()?;
        entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|e| e == "eml"))
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .find(|text| text.contains(&to))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votemesh_up_writes_mail_to_files_or_sends_it_over_smtp() {
    let data = tempfile::tempdir().expect("tempdir");
    let (files, api) = up(data.path(), &[]).await;
    let address = email("files");
    api.register(&address).await;
    let eml = eml_to(&data.path().join("outbox-mail"), &address).await;
    assert!(eml.contains("Subject: Your votemesh code"), "{eml}");
    drop(files);

    let smtp = SmtpSink::start().await.expect("SMTP server");
    let other = tempfile::tempdir().expect("tempdir");
    let (_sending, api) = up(other.path(), &["--smtp-url", &smtp.url()]).await;
    let address = email("smtp");
    api.register(&address).await;
    let mails = smtp
        .wait_for_count(1, Duration::from_secs(20))
        .await
        .expect("the mail reaches the SMTP server");
    assert_eq!(mails[0].to, vec![address]);
}

/// Runs `votemesh` with `args` and returns its exit status and stderr.
fn run(args: &[&str]) -> (bool, String) {
    let output = votemesh()
        .args(args)
        .env("VOTEMESH_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_fail_at_start_naming_the_flag() {
    let data = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", data.path().join("n.db").display());
    let notify = ["notify", "--internal-token", "t", "--database-url", &db];
    let cases: [(&[&str], &str); 3] = [
        (&["--smtp-url", "smtp//no scheme"], "--smtp-url"),
        (
            &[
                "--smtp-url",
                "smtp://127.0.0.1:1",
                "--sms-gateway-url",
                "sms.example.org/send",
            ],
            "--sms-gateway-url",
        ),
        (&[], "--smtp-url"),
    ];
    for (extra, flag) in cases {
        let args: Vec<&str> = notify.iter().chain(extra).copied().collect();
        let (ok, stderr) = run(&args);
        assert!(!ok, "{args:?} must not start");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
    let up_dir = data.path().join("up");
    let up_dir = up_dir.to_str().expect("path");
    let (ok, stderr) = run(&[
        "up",
        "--data-dir",
        up_dir,
        "--listen",
        "127.0.0.1:0",
        "--smtp-url",
        "bogus",
    ]);
    assert!(!ok, "votemesh up refuses a malformed SMTP URL");
    assert!(stderr.contains("--smtp-url"), "{stderr}");
}
