//! The verified-contact checks of the suite: codes are issued and replaced, tries run out and
//! stay out under concurrent guesses, verifying marks the user and removes the code, a
//! changed address loses its verification, and accounts are found by email.

use kit::bus::Event;

use super::user;
use crate::store::{
    CodeIssue, Contact, ContactCode, ProfilePatch, StoreError, StoredRole, UserRecord, UserStore,
};

const TTL: i64 = 900_000;

fn issue(user_id: &str, kind: Contact, address: &str, hash: &str, created_at_ms: i64) -> CodeIssue {
    CodeIssue {
        code: ContactCode {
            user_id: user_id.into(),
            kind,
            address: address.into(),
            code_hash: hash.into(),
            expires_at_ms: created_at_ms + TTL,
            tries_left: 5,
            created_at_ms,
        },
        event: Event {
            id: uuid::Uuid::new_v4().to_string(),
            topic: "t".into(),
            key: user_id.into(),
            payload: hash.as_bytes().to_vec(),
        },
    }
}

/// A voter with `email` and a pending email code `hash` created at 1,000.
async fn with_code(store: &dyn UserStore, email: &str, hash: &str) -> anyhow::Result<UserRecord> {
    let record = user(email, StoredRole::Voter);
    let code = issue(&record.id, Contact::Email, email, hash, 1_000);
    Ok(store.create_user_with_code(record, code).await?)
}

async fn pending(
    store: &dyn UserStore,
    user: &UserRecord,
    kind: Contact,
) -> anyhow::Result<Option<ContactCode>> {
    Ok(store.contact_code(&user.id, kind).await?)
}

pub async fn run(store: &dyn UserStore) -> anyhow::Result<()> {
    codes_are_issued_and_replaced(store).await?;
    tries_run_out(store).await?;
    verification(store).await?;
    address_changes(store).await?;
    finding_accounts(store).await?;
    Ok(())
}

async fn codes_are_issued_and_replaced(store: &dyn UserStore) -> anyhow::Result<()> {
    let ann = with_code(store, "codes@example.org", "h1").await?;
    assert_eq!(ann.email_verified_at_ms, None);
    let code = pending(store, &ann, Contact::Email).await?.expect("issued");
    assert_eq!(
        code,
        issue(&ann.id, Contact::Email, "codes@example.org", "h1", 1_000).code
    );
    assert_eq!(pending(store, &ann, Contact::Phone).await?, None);

    // A duplicate account leaves no code behind: user and code commit together.
    let twin = user("codes@example.org", StoredRole::Voter);
    let twin_code = issue(&twin.id, Contact::Email, "codes@example.org", "x", 1);
    assert!(matches!(
        store.create_user_with_code(twin.clone(), twin_code).await,
        Err(StoreError::DuplicateEmail)
    ));
    assert_eq!(pending(store, &twin, Contact::Email).await?, None);

    let too_soon = issue(&ann.id, Contact::Email, "codes@example.org", "h2", 30_000);
    assert!(
        !store.replace_code(too_soon, 999).await?,
        "a code created after the cut-off stays"
    );
    assert_eq!(pending(store, &ann, Contact::Email).await?, Some(code));

    let later = issue(&ann.id, Contact::Email, "codes@example.org", "h2", 61_000);
    assert!(store.replace_code(later.clone(), 1_000).await?);
    assert_eq!(
        pending(store, &ann, Contact::Email).await?,
        Some(later.code)
    );

    let phone = issue(&ann.id, Contact::Phone, "+4915112345678", "p1", 5);
    assert!(
        store.replace_code(phone.clone(), 0).await?,
        "with no code pending, any cut-off stores one"
    );
    assert_eq!(
        pending(store, &ann, Contact::Phone).await?,
        Some(phone.code)
    );
    Ok(())
}

async fn tries_run_out(store: &dyn UserStore) -> anyhow::Result<()> {
    let ben = with_code(store, "tries@example.org", "h1").await?;
    // Eight guesses at once: the conditional update lets exactly five through.
    let guesses = (0..8).map(|_| store.spend_code_try(&ben.id, Contact::Email, "h1"));
    let spent = futures::future::join_all(guesses).await;
    let spent = spent.into_iter().collect::<Result<Vec<bool>, _>>()?;
    assert_eq!(spent.iter().filter(|&&s| s).count(), 5, "{spent:?}");
    let locked = pending(store, &ben, Contact::Email).await?.expect("kept");
    assert_eq!(locked.tries_left, 0);
    assert!(!store.spend_code_try(&ben.id, Contact::Email, "h1").await?);
    let still = pending(store, &ben, Contact::Email).await?.expect("kept");
    assert_eq!(still.tries_left, 0, "never below zero");
    assert_eq!(
        store
            .verify_contact(&ben.id, Contact::Email, "h1", 2_000)
            .await?,
        None,
        "a locked code proves nothing"
    );

    let fresh = issue(&ben.id, Contact::Email, "tries@example.org", "h2", 70_000);
    assert!(store.replace_code(fresh, i64::MAX).await?);
    assert!(
        !store.spend_code_try(&ben.id, Contact::Email, "h1").await?,
        "a guess at a replaced code costs the new one nothing"
    );
    let renewed = pending(store, &ben, Contact::Email).await?.expect("kept");
    assert_eq!(renewed.tries_left, 5);
    Ok(())
}

async fn verification(store: &dyn UserStore) -> anyhow::Result<()> {
    let cy = with_code(store, "verify@example.org", "h1").await?;
    let verify =
        |hash: &'static str, now: i64| store.verify_contact(&cy.id, Contact::Email, hash, now);
    assert_eq!(verify("wrong", 2_000).await?, None);
    assert_eq!(verify("h1", 1_000 + TTL).await?, None, "expired");
    assert!(pending(store, &cy, Contact::Email).await?.is_some());

    let verified = verify("h1", 2_000).await?.expect("verified");
    assert_eq!(verified.email_verified_at_ms, Some(2_000));
    assert_eq!(verified.phone_verified_at_ms, None);
    assert_eq!(store.user_by_id(&cy.id).await?, Some(verified));
    assert_eq!(pending(store, &cy, Contact::Email).await?, None, "spent");
    assert_eq!(verify("h1", 2_001).await?, None, "once only");

    let phone = "+4915112345678";
    let patch = ProfilePatch {
        phone: Some(phone.into()),
        codes: vec![issue(&cy.id, Contact::Phone, phone, "p1", 3_000)],
        ..ProfilePatch::default()
    };
    store.update_profile(&cy.id, patch).await?;
    let both = store
        .verify_contact(&cy.id, Contact::Phone, "p1", 4_000)
        .await?
        .expect("phone verified");
    assert_eq!(
        (both.email_verified_at_ms, both.phone_verified_at_ms),
        (Some(2_000), Some(4_000))
    );

    let dee = with_code(store, "marked@example.org", "h1").await?;
    let marked = store.mark_email_verified(&dee.id, 7).await?;
    assert_eq!(marked.email_verified_at_ms, Some(7));
    assert_eq!(pending(store, &dee, Contact::Email).await?, None);
    let again = store.mark_email_verified(&dee.id, 8).await?;
    assert_eq!(
        again.email_verified_at_ms,
        Some(7),
        "the first proof stands"
    );
    assert!(matches!(
        store.mark_email_verified("no-such-id", 9).await,
        Err(StoreError::UserNotFound)
    ));
    Ok(())
}

async fn address_changes(store: &dyn UserStore) -> anyhow::Result<()> {
    let phone = "+4915112345678";
    let eve = store
        .create_user(UserRecord {
            phone: phone.into(),
            email_verified_at_ms: Some(5),
            phone_verified_at_ms: Some(6),
            ..user("change@example.org", StoredRole::Voter)
        })
        .await?;
    let patch = |patch: ProfilePatch| store.update_profile(&eve.id, patch);
    let same = patch(ProfilePatch {
        email: Some("change@example.org".into()),
        phone: Some(phone.into()),
        display_name: Some("Eve".into()),
        ..ProfilePatch::default()
    })
    .await?;
    assert_eq!(
        (same.email_verified_at_ms, same.phone_verified_at_ms),
        (Some(5), Some(6)),
        "unchanged addresses stay proven"
    );

    let taken = store
        .create_user(user("taken@example.org", StoredRole::Voter))
        .await?;
    assert!(matches!(
        patch(ProfilePatch {
            email: Some(taken.email.clone()),
            ..ProfilePatch::default()
        })
        .await,
        Err(StoreError::DuplicateEmail)
    ));

    let new_email = "changed@example.org";
    let code = issue(&eve.id, Contact::Email, new_email, "n1", 9);
    let moved = patch(ProfilePatch {
        email: Some(new_email.into()),
        codes: vec![code.clone()],
        ..ProfilePatch::default()
    })
    .await?;
    assert_eq!(moved.email, new_email);
    assert_eq!(moved.email_verified_at_ms, None, "a new email is unproven");
    assert_eq!(moved.phone_verified_at_ms, Some(6));
    assert_eq!(pending(store, &eve, Contact::Email).await?, Some(code.code));
    assert_eq!(store.user_by_email("change@example.org").await?, None);

    let new_phone = "+4915187654321";
    let code = issue(&eve.id, Contact::Phone, new_phone, "q1", 10);
    let rephoned = patch(ProfilePatch {
        phone: Some(new_phone.into()),
        codes: vec![code.clone()],
        ..ProfilePatch::default()
    })
    .await?;
    assert_eq!(rephoned.phone_verified_at_ms, None);
    assert_eq!(pending(store, &eve, Contact::Phone).await?, Some(code.code));

    let cleared = patch(ProfilePatch {
        phone: Some(String::new()),
        ..ProfilePatch::default()
    })
    .await?;
    assert_eq!(
        (cleared.phone.as_str(), cleared.phone_verified_at_ms),
        ("", None)
    );
    assert_eq!(pending(store, &eve, Contact::Phone).await?, None);
    assert!(
        pending(store, &eve, Contact::Email).await?.is_some(),
        "the email code is untouched"
    );
    Ok(())
}

async fn finding_accounts(store: &dyn UserStore) -> anyhow::Result<()> {
    let one = store
        .create_user(user("find1@example.org", StoredRole::Voter))
        .await?;
    let two = store
        .create_user(user("find2@example.org", StoredRole::Voter))
        .await?;
    let ids = |found: Vec<UserRecord>| {
        let mut ids: Vec<String> = found.into_iter().map(|u| u.id).collect();
        ids.sort();
        ids
    };
    let mut expected = vec![one.id.clone(), two.id.clone()];
    expected.sort();
    let asked = [
        "find1@example.org",
        "find2@example.org",
        "nobody@example.org",
    ];
    let asked: Vec<String> = asked.iter().map(|e| e.to_string()).collect();
    assert_eq!(ids(store.users_by_emails(&asked).await?), expected);

    // More emails than one IN list holds.
    let mut many: Vec<String> = (0..1_000)
        .map(|i| format!("missing{i}@example.org"))
        .collect();
    many.push(two.email.clone());
    assert_eq!(ids(store.users_by_emails(&many).await?), vec![two.id]);
    assert!(store.users_by_emails(&[]).await?.is_empty());
    Ok(())
}
