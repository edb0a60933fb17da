//! Acceptance 1 and 2: registration sends one code; the code proves the address; wrong codes
//! lock it until a resend; an expired code is refused; and nobody votes, not even with a
//! roll voter's address, until their address is proven from its mailbox.

use std::time::Duration;

use serde_json::json;

use super::{verify, NotifyTest, QUICK};
use crate::support::*;

/// Codes expire in 4 s and may be resent after 1 s, so the test sees both happen.
fn short_codes(config: &mut svc_user::Config) {
    config.verification_code_ttl_seconds = 4;
    config.verification_resend_seconds = 1;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_proves_an_address_and_wrong_or_late_codes_do_not() {
    let test = NotifyTest::start_with(QUICK, short_codes).await;
    let api = &test.api;
    let (election, choice) = test.open_election("Verification", None).await;

    let address = email("ada");
    let (ada, code) = test.unverified_voter(&address).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(test.mails_to(&address).len(), 1, "exactly one code email");
    let (_, me) = api.get("/v1/me", Some(&ada.access)).await;
    assert_eq!(me["user"]["email_verified"], json!(false), "{me}");

    // Unverified: may sign in, may not vote, and nothing is stored.
    let (status, refused) = test.cast(&ada, &election, &choice).await;
    assert_eq!(status, 412, "{refused}");
    assert!(
        refused.to_string().contains("verify your email"),
        "{refused}"
    );
    let count = format!("/v1/elections/{election}/ballots:count");
    let (_, counted) = api.get(&count, Some(&test.admin.access)).await;
    assert_eq!(counted["ballots"].as_str().unwrap_or("0"), "0", "{counted}");

    // Five wrong codes lock the code, even the right one, until a resend.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for attempt in 1..=5 {
        let (status, body) = verify(api, &ada, "CONTACT_KIND_EMAIL", wrong).await;
        assert_eq!(status, 400, "wrong code {attempt}: {body}");
        assert!(body.to_string().contains("code"), "{body}");
    }
    let (status, body) = verify(api, &ada, "CONTACT_KIND_EMAIL", &code).await;
    assert_eq!(status, 412, "locked after five wrong codes: {body}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, body) = api
        .post(
            "/v1/me/verify:resend",
            Some(&ada.access),
            json!({"kind": "CONTACT_KIND_EMAIL"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mails = test.wait_for_mails_to(&address, 2).await;
    let fresh = super::code_in(&mails[1].body);
    let (status, body) = verify(api, &ada, "CONTACT_KIND_EMAIL", &fresh).await;
    assert_eq!(status, 200, "the resent code verifies: {body}");
    assert_eq!(body["user"]["email_verified"], json!(true), "{body}");
    let (status, body) = test.cast(&ada, &election, &choice).await;
    assert_eq!(status, 200, "a verified voter votes: {body}");

    // A code used after it expired is refused.
    let late = email("late");
    let (bob, code) = test.unverified_voter(&late).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (status, body) = verify(api, &bob, "CONTACT_KIND_EMAIL", &code).await;
    assert_eq!(status, 412, "{body}");
    assert!(body.to_string().contains("expired"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_roll_voters_address_votes_only_once_proven_from_its_mailbox() {
    let test = NotifyTest::start(QUICK).await;
    let roll_address = email("roll-ada");
    let (election, choice) = test
        .open_election("Roll", Some(&[roll_address.clone(), email("other")]))
        .await;

    // Someone registers the roll voter's address without access to its mailbox.
    test.api.register(&roll_address).await;
    let imposter = test.api.login(&roll_address, PASSWORD).await;
    let (status, body) = test.cast(&imposter, &election, &choice).await;
    assert_eq!(status, 412, "an unproven roll address cannot vote: {body}");
    let participation = format!("/v1/elections/{election}/participation");
    let (_, mine) = test.api.get(&participation, Some(&imposter.access)).await;
    assert_ne!(mine["voted"], json!(true), "nothing was stored: {mine}");

    // Whoever reads that mailbox can prove it, and then votes.
    let mails = test.wait_for_mails_to(&roll_address, 1).await;
    let code = super::code_in(&mails[0].body);
    let (status, body) = verify(&test.api, &imposter, "CONTACT_KIND_EMAIL", &code).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = test.cast(&imposter, &election, &choice).await;
    assert_eq!(status, 200, "{body}");
}
