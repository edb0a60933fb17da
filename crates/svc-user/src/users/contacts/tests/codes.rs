//! Codes: issued on registration, proven once, locked after five wrong tries, expiring,
//! and resent no more than once a minute.

use super::*;

const LOCKED: &str = "too many wrong codes; ask for a new code (ResendVerification)";

pub(super) async fn registering_sends_one_code_and_verifying_proves_the_email(env: &Env) {
    let before = now_ms();
    let ada = env.register("ada@example.org").await;
    let events = env.events().await;
    assert_eq!(events.len(), 1, "one event per issued code");
    let sent = &events[0];
    assert_eq!(sent.user_id, ada.user_id);
    assert_eq!(sent.kind, ContactKind::Email as i32);
    assert_eq!(sent.address, "ada@example.org");
    assert_eq!(sent.display_name, "name of ada@example.org");
    assert!(sent.code.len() == 6 && sent.code.chars().all(|c| c.is_ascii_digit()));
    let expires = sent.expires_at.expect("expiry").seconds * 1000;
    assert!((before + CODE_TTL_MS - 1000..=now_ms() + CODE_TTL_MS).contains(&expires));
    assert_eq!(env.tries_left(&ada).await, CODE_TRIES);

    let status = env
        .users
        .account_status(&ada.user_id)
        .await
        .expect("status");
    assert!(status.exists && !status.email_verified, "{status:?}");
    let contact = env.users.contact(&ada.user_id).await.expect("contact");
    assert!(!contact.email_verified && !contact.phone_verified);

    let verified = env.verify(&ada, ContactKind::Unspecified, &sent.code).await;
    assert!(verified.expect("verified").email_verified);
    let status = env
        .users
        .account_status(&ada.user_id)
        .await
        .expect("status");
    assert!(status.email_verified);
    assert!(
        env.users
            .contact(&ada.user_id)
            .await
            .expect("contact")
            .email_verified
    );
    let pending = env.store.contact_code(&ada.user_id, Contact::Email).await;
    assert_eq!(pending.expect("read"), None, "the code is spent");

    let again = env.verify(&ada, ContactKind::Email, &sent.code).await;
    fails(
        again,
        Code::FailedPrecondition,
        "the email is already verified",
    );
    let resend = env.resend(&ada, ContactKind::Email).await;
    fails(
        resend,
        Code::FailedPrecondition,
        "the email is already verified",
    );
    assert_eq!(env.events().await.len(), 1);
}

pub(super) async fn five_wrong_codes_lock_even_the_right_one(env: &Env) {
    let ben = env.register("ben@example.org").await;
    let code = env.code(&ben, Contact::Email).await;
    for left in (0..CODE_TRIES).rev() {
        let wrong = env.verify(&ben, ContactKind::Email, &not(&code)).await;
        let message = format!("code: does not match; {left} tries left");
        fails(wrong, Code::InvalidArgument, &message);
    }
    assert_eq!(env.tries_left(&ben).await, 0);
    fails(
        env.verify(&ben, ContactKind::Email, &code).await,
        Code::FailedPrecondition,
        LOCKED,
    );
    fails(
        env.verify(&ben, ContactKind::Email, &not(&code)).await,
        Code::FailedPrecondition,
        LOCKED,
    );
    assert_eq!(env.tries_left(&ben).await, 0, "no further than zero");
    let status = env
        .users
        .account_status(&ben.user_id)
        .await
        .expect("status");
    assert!(!status.email_verified);
}

pub(super) async fn an_expired_code_is_refused(env: &Env) {
    let cy = env.register("cy@example.org").await;
    let code = env.code(&cy, Contact::Email).await;
    env.execute("UPDATE contact_codes SET expires_at_ms = 1")
        .await;
    let late = env.verify(&cy, ContactKind::Email, &code).await;
    let message = "the code has expired; ask for a new code (ResendVerification)";
    fails(late, Code::FailedPrecondition, message);
    assert_eq!(env.tries_left(&cy).await, CODE_TRIES, "no try spent");
}

pub(super) async fn resending_waits_a_minute_and_restores_the_tries(env: &Env) {
    let dee = env.register("dee@example.org").await;
    let first = env.code(&dee, Contact::Email).await;
    let error = env
        .resend(&dee, ContactKind::Email)
        .await
        .expect_err("too soon");
    assert_eq!(error.grpc_code(), Code::ResourceExhausted);
    let message = error.to_string();
    assert!(
        message == "a code was sent less than a minute ago; try again in 60 seconds"
            || message == "a code was sent less than a minute ago; try again in 59 seconds",
        "{message}"
    );
    for _ in 0..2 {
        let _ = env.verify(&dee, ContactKind::Email, &not(&first)).await;
    }
    assert_eq!(env.tries_left(&dee).await, CODE_TRIES - 2);

    let a_minute_ago = now_ms() - RESEND_INTERVAL_MS;
    env.execute(&format!(
        "UPDATE contact_codes SET created_at_ms = {a_minute_ago}"
    ))
    .await;
    let expires = env.resend(&dee, ContactKind::Email).await.expect("resent");
    assert!(expires > now_ms() + CODE_TTL_MS - 60_000);
    assert_eq!(env.tries_left(&dee).await, CODE_TRIES, "fresh tries");
    let events = env.events_for(&dee).await;
    assert_eq!(events.len(), 2, "one event per issued code");
    assert!(events.iter().all(|e| e.address == "dee@example.org"));
    let second = env.code(&dee, Contact::Email).await;
    if second != first {
        let stale = env.verify(&dee, ContactKind::Email, &first).await;
        fails(
            stale,
            Code::InvalidArgument,
            "code: does not match; 4 tries left",
        );
    }
    assert!(
        env.verify(&dee, ContactKind::Email, &second)
            .await
            .expect("verified")
            .email_verified
    );
}
