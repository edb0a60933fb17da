//! Acceptance 4: while the SMTP server is down, sends are retried and delivered once it is
//! back, with the attempts recorded; a permanent refusal is DEAD at once; attempts that run
//! out end DEAD too, and RetryDead sends such a message exactly once. The SMS gateway's 5xx
//! is retried and its 4xx is final.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::NotifyTest;
use crate::support::*;

/// Six attempts, 150 ms to 1 s apart, each cut off after 1.5 s: a few seconds (at most
/// about fifteen) before a message is given up.
fn patient(config: &mut svc_notify::Config) {
    config.max_attempts = 6;
    // While the server is down, another test may take its port and never greet.
    config.send_timeout_ms = 1500;
}

/// The delivery log's row for the verification mail to `address` (masked as the API shows).
async fn delivery_to(test: &NotifyTest, address: &str) -> Option<Value> {
    let (local, domain) = address.split_once('@').expect("address");
    let masked = format!("{}***@{domain}", &local[..1]);
    let rows = test.deliveries("").await;
    // Masks can collide; the unique local parts here start with distinct letters.
    rows.into_iter().find(|row| row["recipient"] == masked)
}

async fn wait_for_status(
    test: &NotifyTest,
    address: &str,
    status: &str,
    min_attempts: u64,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    until_some(&format!("{address} {status}"), deadline, || async {
        delivery_to(test, address).await.filter(|row| {
            row["status"] == status && row["attempts"].as_u64().unwrap_or(0) >= min_attempts
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sends_are_retried_and_dead_ones_retried_once_on_request() {
    let mut test = NotifyTest::start(patient).await;

    // Down for a while: retried, then delivered once it is back.
    test.smtp.stop().await;
    let carol = email("carol");
    test.api.register(&carol).await;
    let failing = wait_for_status(&test, &carol, "DELIVERY_STATUS_FAILED", 2).await;
    assert!(
        !failing["last_error"].as_str().unwrap_or("").is_empty(),
        "{failing}"
    );
    test.smtp.restart().await.expect("SMTP back");
    test.wait_for_mails_to(&carol, 1).await;
    let sent = wait_for_status(&test, &carol, "DELIVERY_STATUS_SENT", 2).await;
    assert!(
        sent["attempts"].as_u64() >= Some(2),
        "attempts are recorded: {sent}"
    );

    // A permanent refusal (550) is DEAD after one attempt.
    let rejected = format!("reject-{}", email("r"));
    test.api.register(&rejected).await;
    let dead = wait_for_status(&test, &rejected, "DELIVERY_STATUS_DEAD", 1).await;
    assert_eq!(dead["attempts"], json!(1), "{dead}");

    // Down for longer than the attempts last: DEAD; RetryDead then sends it once.
    test.smtp.stop().await;
    let dave = email("dave");
    test.api.register(&dave).await;
    let dead = wait_for_status(&test, &dave, "DELIVERY_STATUS_DEAD", 6).await;
    assert!(dead["last_error"].as_str().is_some_and(|e| !e.is_empty()));
    test.smtp.restart().await.expect("SMTP back");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        test.mails_to(&dave).is_empty(),
        "a DEAD message waits for an admin"
    );
    let (status, body) = test
        .api
        .post(
            "/v1/admin/deliveries:retry-dead",
            Some(&test.admin.access),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["retried"].as_u64() >= Some(1), "{body}");
    test.wait_for_mails_to(&dave, 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(test.mails_to(&dave).len(), 1, "sent exactly once");
    // The permanently refused one was retried too, and refused again: still never delivered.
    assert!(test.mails_to(&rejected).is_empty());
}

/// The gateway's row for the code SMS to `phone` (masked as the API shows).
async fn sms_row(test: &NotifyTest, phone: &str, status: &str, min_attempts: u64) -> Value {
    let masked = format!(
        "{}{}{}",
        &phone[..3],
        "*".repeat(phone.len() - 5),
        &phone[phone.len() - 2..]
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    until_some(&format!("SMS to {phone} {status}"), deadline, || async {
        let rows = test.deliveries("").await;
        rows.into_iter().find(|row| {
            row["recipient"] == masked.as_str()
                && row["status"] == status
                && row["attempts"].as_u64().unwrap_or(0) >= min_attempts
        })
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_5xx_is_retried_and_4xx_is_final() {
    let test = NotifyTest::start(patient).await;
    let voter = test.verified_voter("gateway").await;

    test.sms.respond_with(StatusCode::SERVICE_UNAVAILABLE);
    let first = "+447700900111";
    let (status, body) = test
        .api
        .patch("/v1/me", Some(&voter.access), json!({"phone": first}))
        .await;
    assert_eq!(status, 200, "{body}");
    sms_row(&test, first, "DELIVERY_STATUS_FAILED", 2).await;
    test.sms.respond_with(StatusCode::CREATED);
    let sent = sms_row(&test, first, "DELIVERY_STATUS_SENT", 3).await;
    assert!(sent["attempts"].as_u64() >= Some(3), "{sent}");

    test.sms.respond_with(StatusCode::BAD_REQUEST);
    let second = "+447700900222";
    let (status, body) = test
        .api
        .patch("/v1/me", Some(&voter.access), json!({"phone": second}))
        .await;
    assert_eq!(status, 200, "{body}");
    let dead = sms_row(&test, second, "DELIVERY_STATUS_DEAD", 1).await;
    assert_eq!(dead["attempts"], json!(1), "a 4xx is not retried: {dead}");
}
