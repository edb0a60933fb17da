//! Acceptance 3: a cast sends exactly one confirmation, by email or, for a voter who prefers
//! it, by one gateway request; and afterwards no table and no topic holds a receipt code.

use std::time::Duration;

use rdkafka::Message;
use sea_orm::{ConnectionTrait, Database, DatabaseBackend, Statement};
use serde_json::json;

use super::{contact_topic, verify, NotifyTest};
use crate::support::{
    ballots::Wiring,
    broker::{next_message, reader},
    *,
};

const PHONE: &str = "+447700900123";

/// Every row of every votemesh table, as text.
async fn every_row(database_url: &str) -> Vec<String> {
    let db = Database::connect(database_url.to_owned())
        .await
        .expect("db");
    let tables = db
        .query_all(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT table_schema || '.' || table_name AS name FROM information_schema.tables \
             WHERE table_schema LIKE 'svc_%' AND table_type = 'BASE TABLE'",
        ))
        .await
        .expect("tables");
    let mut rows = Vec::new();
    for table in tables {
        let name: String = table.try_get("", "name").expect("name");
        let sql = format!("SELECT CAST(t.* AS TEXT) AS row FROM {name} t");
        let found = db
            .query_all(Statement::from_string(DatabaseBackend::Postgres, sql))
            .await
            .expect("rows");
        rows.extend(
            found
                .iter()
                .map(|r| r.try_get::<String>("", "row").expect("row")),
        );
    }
    assert!(rows.len() > 10, "the scan read the mesh's tables");
    rows
}

/// Every event on `topics` until the stream stays quiet for a few seconds.
async fn every_event(topics: &[&str], at_least: usize) -> Vec<Vec<u8>> {
    let consumer = reader(&kafka(), topics);
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while events.len() < at_least {
        let message = next_message(&consumer, deadline).await;
        events.push(message.payload().unwrap_or_default().to_vec());
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cast_sends_one_confirmation_and_no_receipt_is_kept_anywhere() {
    let wiring = Wiring::fresh();
    let test = NotifyTest::start_on_kafka(&wiring).await;
    let api = &test.api;
    let (election, choice) = test.open_election("Board 2026", None).await;

    // By email.
    let ada = test.verified_voter("confirm-ada").await;
    let (status, cast) = test.cast(&ada, &election, &choice).await;
    assert_eq!(status, 200, "{cast}");
    let receipt_ada = cast["receipt_code"].as_str().expect("receipt").to_owned();
    let mails = test.wait_for_mails_to(&ada.email, 2).await;
    let confirmation = &mails[1];
    assert_eq!(
        confirmation.subject,
        "Your ballot in Board 2026 was recorded"
    );
    assert!(
        !confirmation.raw.contains(&receipt_ada),
        "no receipt in the mail"
    );
    assert!(!confirmation.raw.contains(&choice), "no choice in the mail");

    // The voter sees their own notifications, recipients masked.
    let (status, mine) = api.get("/v1/me/notifications", Some(&ada.access)).await;
    assert_eq!(status, 200, "{mine}");
    let kinds: Vec<&str> = mine["deliveries"]
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r["kind"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        kinds,
        ["DELIVERY_KIND_CONFIRMATION", "DELIVERY_KIND_VERIFICATION"],
        "{mine}"
    );
    assert!(!mine.to_string().contains(&ada.email), "masked: {mine}");

    // By SMS, for a voter with a proven phone who prefers it.
    let bob = test.verified_voter("confirm-bob").await;
    let (status, body) = api
        .patch("/v1/me", Some(&bob.access), json!({"phone": PHONE}))
        .await;
    assert_eq!(status, 200, "{body}");
    let sent = test
        .sms
        .wait_for_count(1, Duration::from_secs(20))
        .await
        .expect("code SMS");
    let code = super::code_in(&sent[0].body["Body"]);
    let (status, body) = verify(api, &bob, "CONTACT_KIND_PHONE", &code).await;
    assert_eq!(status, 200, "{body}");
    let prefer_sms = json!({"notification_channel": "NOTIFICATION_CHANNEL_SMS"});
    let (status, body) = api.patch("/v1/me", Some(&bob.access), prefer_sms).await;
    assert_eq!(status, 200, "{body}");
    let (status, cast) = test.cast(&bob, &election, &choice).await;
    assert_eq!(status, 200, "{cast}");
    let receipt_bob = cast["receipt_code"].as_str().expect("receipt").to_owned();
    let requests = test
        .sms
        .wait_for_count(2, Duration::from_secs(20))
        .await
        .expect("SMS");
    let sms = &requests[1];
    assert_eq!(sms.body["To"], PHONE);
    assert!(sms.body["Body"].contains("Board 2026"), "{:?}", sms.body);
    assert_eq!(sms.basic_auth(), Some(("AC".into(), "token".into())));

    // Exactly one each, however long we wait.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        test.mails_to(&ada.email).len(),
        2,
        "a code and one confirmation"
    );
    assert_eq!(
        test.mails_to(&bob.email).len(),
        1,
        "only the code: bob chose SMS"
    );
    assert_eq!(test.sms.requests().len(), 2, "a code and one confirmation");

    // No receipt code anywhere: not in a table, not on a topic.
    for row in every_row(&test.mesh.database_url).await {
        for receipt in [&receipt_ada, &receipt_bob] {
            assert!(
                !row.contains(receipt.as_str()),
                "a table holds a receipt: {row}"
            );
        }
    }
    let contacts = contact_topic(&wiring);
    let topics = [
        wiring.ballot_topic.as_str(),
        wiring.vote_topic.as_str(),
        contacts.as_str(),
    ];
    // Two ballots, two votes, two email codes and a phone code.
    for event in every_event(&topics, 7).await {
        for receipt in [&receipt_ada, &receipt_bob] {
            let found = event
                .windows(receipt.len())
                .any(|w| w == receipt.as_bytes());
            assert!(!found, "an event holds a receipt");
        }
    }
}
