//! Acceptance 6: a roll of 200, 120 of them with verified accounts, 50 of whom have voted.
//! RemindNonVoters sends exactly 70 reminders and 80 invitations; asking again in the same
//! round sends none. InviteRoll before it invites each entry once, however often it is asked. InviteRoll before it invites each entry once, however often it is asked.

use std::time::Duration;

use futures::{stream, StreamExt};
use serde_json::json;

use super::{NotifyTest, QUICK};
use crate::support::*;

/// Registration is set-up here, not the subject: the 120 accounts count as proven.
fn proven_on_registration(config: &mut svc_user::Config) {
    config.bench_only_trust_registered_emails = true;
}

fn subjects(test: &NotifyTest, prefix: &str) -> usize {
    let mails = test.smtp.messages().expect("mail log");
    mails
        .iter()
        .filter(|m| m.subject.starts_with(prefix))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_reach_each_non_voter_once_per_round() {
    let test = NotifyTest::start_with(QUICK, proven_on_registration).await;
    let roll: Vec<String> = (0..200).map(|i| email(&format!("roll{i}"))).collect();
    let (election, choice) = test.open_election("Reminded", Some(&roll)).await;
    let accounts: Vec<Session> = stream::iter(&roll[..120])
        .map(|address| {
            let api = test.api.clone();
            async move {
                api.register(address).await;
                api.login(address, PASSWORD).await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    // Invitations first: one per roll entry, and none again for the same election.
    let invite = format!("/v1/elections/{election}/roll:invite");
    for _ in 0..2 {
        let (status, body) = test
            .api
            .post(&invite, Some(&test.admin.access), json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    test.smtp
        .wait_for_count(200, Duration::from_secs(60))
        .await
        .expect("200 invitations");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        subjects(&test, "You are invited"),
        200,
        "one invitation each"
    );

    for voter in &accounts[..50] {
        let (status, body) = test.cast(voter, &election, &choice).await;
        assert_eq!(status, 200, "{body}");
    }
    test.smtp
        .wait_for_count(250, Duration::from_secs(30))
        .await
        .expect("50 confirmations");

    let remind = format!("/v1/elections/{election}/roll:remind");
    let (status, body) = test
        .api
        .post(&remind, Some(&test.admin.access), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["requested"], json!("200"), "{body}");
    test.smtp
        .wait_for_count(400, Duration::from_secs(60))
        .await
        .expect("reminders and invitations");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(subjects(&test, "Reminder:"), 70, "verified non-voters");
    let invited = subjects(&test, "You are invited") - 200;
    assert_eq!(invited, 80, "entries without an account");
    for voter in &accounts[..50] {
        let mails = test.mails_to(&voter.email);
        assert_eq!(
            mails.len(),
            2,
            "a voter gets the invitation and the confirmation"
        );
    }

    // The same round again: nothing new.
    let (status, body) = test
        .api
        .post(&remind, Some(&test.admin.access), json!({"round": 1}))
        .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut per_recipient = std::collections::BTreeMap::<String, Vec<String>>::new();
    for mail in test.smtp.messages().expect("log") {
        per_recipient
            .entry(mail.to.join(","))
            .or_default()
            .push(mail.subject);
    }
    let twice: Vec<_> = per_recipient.iter().filter(|(_, s)| s.len() > 2).collect();
    assert!(twice.is_empty(), "{twice:?}");
    let strangers: Vec<_> = per_recipient
        .iter()
        .filter(|(to, _)| !roll.contains(to))
        .collect();
    assert!(strangers.is_empty(), "mail for others: {strangers:?}");
    assert_eq!(
        test.smtp.messages().expect("log").len(),
        400,
        "no second reminder"
    );
}
