//! The conformance suite every [`UserStore`] adapter must pass; the integration tests run it
//! against PostgreSQL and SQLite.

mod contacts;

use crate::store::{
    ProfilePatch, RefreshTokenRecord, Rotation, SigningKeyRecord, StoreError, StoredRole,
    UserFilter, UserRecord, UserStore,
};

fn user(email: &str, role: StoredRole) -> UserRecord {
    UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        email: email.into(),
        display_name: format!("name of {email}"),
        phone: String::new(),
        role,
        notification_channel: "email".into(),
        password_hash: "$argon2id$stub".into(),
        disabled: false,
        created_at_ms: 1_700_000_000_000,
        email_verified_at_ms: None,
        phone_verified_at_ms: None,
    }
}

fn token(hash: &str, user_id: &str, family: &str, expires_at_ms: i64) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: hash.into(),
        user_id: user_id.into(),
        family_id: family.into(),
        expires_at_ms,
    }
}

/// Runs every check; panics with the failing expectation.
pub async fn run(store: &dyn UserStore) -> anyhow::Result<()> {
    users(store).await?;
    listing(store).await?;
    refresh_tokens(store).await?;
    signing_keys(store).await?;
    contacts::run(store).await?;
    Ok(())
}

async fn users(store: &dyn UserStore) -> anyhow::Result<()> {
    let ada = store
        .create_user(user("ada@example.org", StoredRole::Voter))
        .await?;
    assert!(matches!(
        store
            .create_user(user("ada@example.org", StoredRole::Voter))
            .await,
        Err(StoreError::DuplicateEmail)
    ));
    assert_eq!(store.user_by_id(&ada.id).await?, Some(ada.clone()));
    assert_eq!(
        store.user_by_email("ada@example.org").await?,
        Some(ada.clone())
    );
    assert_eq!(store.user_by_email("nobody@example.org").await?, None);

    let patched = store
        .update_profile(
            &ada.id,
            ProfilePatch {
                display_name: Some("Ada L.".into()),
                phone: Some("+441234567890".into()),
                notification_channel: None,
                ..ProfilePatch::default()
            },
        )
        .await?;
    assert_eq!(patched.display_name, "Ada L.");
    assert_eq!(patched.phone, "+441234567890");
    assert_eq!(patched.notification_channel, "email");

    store.set_password_hash(&ada.id, "$argon2id$new").await?;
    assert_eq!(
        store.user_by_id(&ada.id).await?.map(|u| u.password_hash),
        Some("$argon2id$new".into())
    );
    let stale = store
        .replace_password_hash(&ada.id, "$argon2id$stub", "$argon2id$rehash")
        .await?;
    assert!(!stale, "a hash that changed meanwhile is not replaced");
    assert!(
        store
            .replace_password_hash(&ada.id, "$argon2id$new", "$argon2id$rehash")
            .await?
    );
    assert_eq!(
        store.user_by_id(&ada.id).await?.map(|u| u.password_hash),
        Some("$argon2id$rehash".into())
    );

    assert_eq!(store.count_active_admins().await?, 0);
    assert_eq!(
        store.set_role(&ada.id, StoredRole::Admin).await?.role,
        StoredRole::Admin
    );
    assert_eq!(store.count_active_admins().await?, 1);
    assert!(store.set_disabled(&ada.id, true).await?.disabled);
    assert_eq!(store.count_active_admins().await?, 0);
    assert!(!store.set_disabled(&ada.id, false).await?.disabled);
    assert!(matches!(
        store.set_role("no-such-id", StoredRole::Admin).await,
        Err(StoreError::UserNotFound)
    ));
    Ok(())
}

async fn listing(store: &dyn UserStore) -> anyhow::Result<()> {
    for i in 0..5 {
        store
            .create_user(user(&format!("list{i}@example.com"), StoredRole::Voter))
            .await?;
    }
    let hidden = store
        .create_user(user("list9@example.com", StoredRole::Voter))
        .await?;
    store.set_disabled(&hidden.id, true).await?;

    let page = |after: Option<String>, include_disabled| UserFilter {
        email_contains: Some("LIST".into()),
        role: None,
        include_disabled,
        after_email: after,
        limit: 2,
    };
    let first = store.list_users(page(None, false)).await?;
    let emails: Vec<_> = first.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, ["list0@example.com", "list1@example.com"]);
    let rest = store
        .list_users(UserFilter {
            limit: 100,
            ..page(Some("list1@example.com".into()), false)
        })
        .await?;
    assert_eq!(rest.len(), 3, "disabled users are hidden by default");
    let with_disabled = store
        .list_users(UserFilter {
            limit: 100,
            ..page(None, true)
        })
        .await?;
    assert_eq!(with_disabled.len(), 6);
    let admins = store
        .list_users(UserFilter {
            email_contains: None,
            role: Some(StoredRole::Admin),
            include_disabled: true,
            after_email: None,
            limit: 100,
        })
        .await?;
    assert!(admins.iter().all(|u| u.role == StoredRole::Admin));
    Ok(())
}

/// Presents refresh token `presented` at `now_ms`, asking for `replacement` (far-off expiry).
async fn rotate(
    store: &dyn UserStore,
    presented: &str,
    replacement: &str,
    now_ms: i64,
) -> Result<Rotation, StoreError> {
    store
        .rotate_refresh_token(
            presented,
            token(replacement, "", "", 4_000_000_000_000),
            now_ms,
        )
        .await
}

async fn refresh_tokens(store: &dyn UserStore) -> anyhow::Result<()> {
    let owner = store
        .create_user(user("tokens@example.org", StoredRole::Voter))
        .await?;
    let other = store
        .create_user(user("other@example.org", StoredRole::Voter))
        .await?;
    let far = 4_000_000_000_000;
    store
        .insert_refresh_token(token("t1", &owner.id, "fam", far))
        .await?;

    let rotated = store
        .rotate_refresh_token("t1", token("t2", "", "", far), 1)
        .await?;
    assert_eq!(
        rotated,
        Rotation::Rotated {
            user_id: owner.id.clone()
        }
    );
    // Presenting the spent token again is reuse: the whole family dies, t2 included.
    assert_eq!(rotate(store, "t1", "t3", 2).await?, Rotation::Reused);
    assert_eq!(rotate(store, "t2", "t4", 3).await?, Rotation::Reused);
    assert_eq!(rotate(store, "nope", "t5", 4).await?, Rotation::Invalid);

    store
        .insert_refresh_token(token("old", &owner.id, "fam2", 10))
        .await?;
    assert_eq!(rotate(store, "old", "t6", 11).await?, Rotation::Invalid);

    store
        .insert_refresh_token(token("mine", &owner.id, "fam3", far))
        .await?;
    assert!(
        !store.revoke_refresh_token(&other.id, "mine").await?,
        "only the owner revokes"
    );
    assert!(store.revoke_refresh_token(&owner.id, "mine").await?);
    assert!(
        !store.revoke_refresh_token(&owner.id, "mine").await?,
        "already revoked"
    );

    store
        .insert_refresh_token(token("a", &owner.id, "fam4", far))
        .await?;
    store
        .insert_refresh_token(token("b", &owner.id, "fam5", far))
        .await?;
    // "a", "b", and the expired but never revoked "old".
    assert_eq!(store.revoke_all_refresh_tokens(&owner.id).await?, 3);
    assert_eq!(rotate(store, "a", "t7", 5).await?, Rotation::Reused);
    Ok(())
}

async fn signing_keys(store: &dyn UserStore) -> anyhow::Result<()> {
    assert!(store.signing_keys().await?.is_empty());
    for (kid, at) in [("older", 1), ("newer", 2)] {
        store
            .insert_signing_key(SigningKeyRecord {
                kid: kid.into(),
                secret_key: vec![at as u8; 32],
                created_at_ms: at,
            })
            .await?;
    }
    let keys = store.signing_keys().await?;
    let kids: Vec<_> = keys.iter().map(|k| k.kid.as_str()).collect();
    assert_eq!(kids, ["newer", "older"], "newest first");
    assert_eq!(keys[0].secret_key, vec![2u8; 32]);

    // A compare-and-set, so two instances resealing one key do not both write.
    assert!(
        store
            .replace_signing_key("newer", &[2; 32], vec![9; 61])
            .await?
    );
    assert!(
        !store
            .replace_signing_key("newer", &[2; 32], vec![8; 61])
            .await?
    );
    assert!(
        !store
            .replace_signing_key("gone", &[2; 32], vec![8; 61])
            .await?
    );
    let keys = store.signing_keys().await?;
    assert_eq!((keys[0].secret_key.clone(), keys.len()), (vec![9u8; 61], 2));
    assert_eq!(
        keys[1].secret_key,
        vec![1u8; 32],
        "the other key is untouched"
    );
    Ok(())
}
