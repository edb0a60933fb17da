//! Addresses that change lose their proof; accounts are found by email; the bootstrap admin
//! is verified and never promoted without its password.

use super::*;

pub(super) async fn a_new_email_must_be_proven_again(env: &Env) {
    let eve = env.register("eve@example.org").await;
    env.register("taken@example.org").await;
    let code = env.code(&eve, Contact::Email).await;
    env.verify(&eve, ContactKind::Email, &code)
        .await
        .expect("verified");
    let change = |email: &str| UpdateMeRequest {
        email: Some(email.into()),
        ..UpdateMeRequest::default()
    };
    let taken = env.update(&eve, change(" Taken@Example.org")).await;
    fails(taken, Code::AlreadyExists, "email: already registered");
    let bad = env.update(&eve, change("not an email")).await;
    fails(
        bad,
        Code::InvalidArgument,
        "email: not a valid email address",
    );
    let same = env
        .update(&eve, change("EVE@example.org"))
        .await
        .expect("same");
    assert!(same.email_verified, "the same address stays proven");

    let moved = env
        .update(&eve, change(" Eve.New@Example.org "))
        .await
        .expect("moved");
    assert_eq!(moved.email, "eve.new@example.org");
    assert!(!moved.email_verified);
    let status = env
        .users
        .account_status(&eve.user_id)
        .await
        .expect("status");
    assert!(!status.email_verified);
    let events = env.events_for(&eve).await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().any(|e| e.address == "eve.new@example.org"));
    let code = env.code(&eve, Contact::Email).await;
    let verified = env
        .verify(&eve, ContactKind::Email, &code)
        .await
        .expect("verified");
    assert!(verified.email_verified);
}

pub(super) async fn phone_and_kind_must_exist(env: &Env) {
    let fay = env.register("fay@example.org").await;
    let no_phone = "there is no phone number on the account; add one with UpdateMe";
    fails(
        env.resend(&fay, ContactKind::Phone).await,
        Code::FailedPrecondition,
        no_phone,
    );
    fails(
        env.verify(&fay, ContactKind::Phone, "123456").await,
        Code::FailedPrecondition,
        no_phone,
    );
    let unknown = env
        .users
        .resend_verification(&fay, ResendVerificationRequest { kind: 42 })
        .await;
    fails(
        unknown,
        Code::InvalidArgument,
        "kind: must be CONTACT_KIND_EMAIL or CONTACT_KIND_PHONE",
    );
}

pub(super) async fn phone_codes_follow_the_phone(env: &Env) {
    let fay = env.register("fay@example.org").await;
    let phone = |number: &str| UpdateMeRequest {
        phone: Some(number.into()),
        ..UpdateMeRequest::default()
    };
    let set = env
        .update(&fay, phone("+4915112345678"))
        .await
        .expect("set");
    assert!(!set.phone_verified);
    let events = env.events_for(&fay).await;
    let sent = events.iter().find(|e| e.kind == ContactKind::Phone as i32);
    assert_eq!(sent.expect("phone code sent").address, "+4915112345678");
    let code = env.code(&fay, Contact::Phone).await;
    let proven = env
        .verify(&fay, ContactKind::Phone, &code)
        .await
        .expect("proven");
    assert!(proven.phone_verified && !proven.email_verified);
    assert!(
        env.users
            .contact(&fay.user_id)
            .await
            .expect("contact")
            .phone_verified
    );
    env.update(&fay, phone("+4915112345678"))
        .await
        .expect("same");
    assert_eq!(
        env.events_for(&fay).await.len(),
        2,
        "no code for the same number"
    );

    let changed = env
        .update(&fay, phone("+4915187654321"))
        .await
        .expect("changed");
    assert!(!changed.phone_verified);
    assert!(env
        .store
        .contact_code(&fay.user_id, Contact::Phone)
        .await
        .expect("read")
        .is_some());
    let cleared = env.update(&fay, phone("")).await.expect("cleared");
    assert!(cleared.phone.is_empty() && !cleared.phone_verified);
    assert_eq!(
        env.store
            .contact_code(&fay.user_id, Contact::Phone)
            .await
            .expect("read"),
        None
    );
    assert_eq!(env.events_for(&fay).await.len(), 3);
}

pub(super) async fn accounts_are_found_by_normalised_email(env: &Env) {
    let gus = env.register("gus@example.org").await;
    let hal = env.register("hal@example.org").await;
    let code = env.code(&hal, Contact::Email).await;
    env.verify(&hal, ContactKind::Email, &code)
        .await
        .expect("verified");
    let emails = [
        " GUS@example.org ",
        "hal@example.org",
        "hal@example.org",
        "",
        "x@example.org",
    ];
    let request = FindAccountsRequest {
        emails: emails.iter().map(|e| e.to_string()).collect(),
    };
    let mut found = env
        .users
        .find_accounts(request)
        .await
        .expect("found")
        .accounts;
    found.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    let mut expected = vec![
        (gus.user_id.clone(), "gus@example.org", false),
        (hal.user_id.clone(), "hal@example.org", true),
    ];
    expected.sort();
    let got: Vec<_> = found
        .iter()
        .map(|account| {
            let contact = account.contact.as_ref().expect("contact");
            assert!(!account.disabled);
            (
                account.user_id.clone(),
                contact.email.as_str(),
                contact.email_verified,
            )
        })
        .collect();
    assert_eq!(got, expected);

    let too_many = FindAccountsRequest {
        emails: vec!["a@example.org".into(); MAX_FIND_EMAILS + 1],
    };
    let refused = env.users.find_accounts(too_many).await;
    fails(
        refused,
        Code::InvalidArgument,
        "emails: at most 1000 per call",
    );
}

pub(super) async fn the_bootstrap_admin_is_verified_and_promotion_needs_its_password(env: &Env) {
    let created = env
        .users
        .ensure_admin("root@example.org", PASSWORD)
        .await
        .expect("created");
    assert!(created.email_verified && created.role == Role::Admin as i32);

    let ivy = env.register("ivy@example.org").await;
    let refused = env
        .users
        .ensure_admin("ivy@example.org", "not her password")
        .await;
    let message = "bootstrap admin ivy@example.org exists and the password does not match; \
                   it is not promoted";
    fails(refused, Code::FailedPrecondition, message);
    let status = env
        .users
        .account_status(&ivy.user_id)
        .await
        .expect("status");
    assert_eq!(
        (status.role, status.email_verified),
        (Role::Voter as i32, false)
    );

    let promoted = env
        .users
        .ensure_admin("ivy@example.org", PASSWORD)
        .await
        .expect("promoted");
    assert!(promoted.email_verified && promoted.role == Role::Admin as i32);
    assert_eq!(
        env.store
            .contact_code(&ivy.user_id, Contact::Email)
            .await
            .expect("read"),
        None
    );

    // An admin already is left as it is, whatever the password, and marked verified.
    let jo = env.register("jo@example.org").await;
    env.store
        .set_role(&jo.user_id, StoredRole::Admin)
        .await
        .expect("admin");
    let kept = env
        .users
        .ensure_admin("jo@example.org", "")
        .await
        .expect("kept");
    assert!(kept.email_verified && kept.role == Role::Admin as i32);
}
