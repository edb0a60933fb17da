//! The sea-orm adapter's verified-contact half: pending codes, the outbox events that deliver
//! them, and the profile changes that take a verification away.

use kit::{db::statement, time::now_ms};
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, Set, TransactionTrait,
};

use super::{
    entities::{contact_code, user},
    sea::{is_unique_violation, to_model, to_record},
    CodeIssue, Contact, ContactCode, ProfilePatch, StoreError, UserRecord,
};

/// Stores a code in place of the pending one, but only when the pending one was created at or
/// before `$8`: the check and the write are one statement, so two resends racing within the
/// resend interval store (and send) one code, not two.
const PUT_CODE: &str = "INSERT INTO contact_codes \
    (user_id, kind, address, code_hash, expires_at_ms, tries_left, created_at_ms) \
    VALUES ($1, $2, $3, $4, $5, $6, $7) \
    ON CONFLICT (user_id, kind) DO UPDATE SET address = excluded.address, \
    code_hash = excluded.code_hash, expires_at_ms = excluded.expires_at_ms, \
    tries_left = excluded.tries_left, created_at_ms = excluded.created_at_ms \
    WHERE contact_codes.created_at_ms <= $8";

/// IN lists at most this long, well inside both backends' limits on bound values.
const EMAILS_PER_QUERY: usize = 500;

/// Stores `issue`'s code (see [`PUT_CODE`]) and, when it was stored, appends its event.
async fn put_code(
    txn: &impl ConnectionTrait,
    issue: &CodeIssue,
    replaceable_up_to_ms: i64,
) -> Result<bool, DbErr> {
    let code = &issue.code;
    let values = [
        code.user_id.clone().into(),
        code.kind.as_str().into(),
        code.address.clone().into(),
        code.code_hash.clone().into(),
        code.expires_at_ms.into(),
        code.tries_left.into(),
        code.created_at_ms.into(),
        replaceable_up_to_ms.into(),
    ];
    let stored = txn
        .execute(statement(txn.get_database_backend(), PUT_CODE, values))
        .await?
        .rows_affected()
        == 1;
    if stored {
        kit::outbox::append(txn, std::slice::from_ref(&issue.event)).await?;
    }
    Ok(stored)
}

async fn drop_code(txn: &impl ConnectionTrait, user_id: &str, kind: Contact) -> Result<(), DbErr> {
    contact_code::Entity::delete_many()
        .filter(contact_code::Column::UserId.eq(user_id))
        .filter(contact_code::Column::Kind.eq(kind.as_str()))
        .exec(txn)
        .await?;
    Ok(())
}

async fn reload(txn: &impl ConnectionTrait, id: &str) -> Result<UserRecord, StoreError> {
    user::Entity::find_by_id(id.to_owned())
        .one(txn)
        .await?
        .map(to_record)
        .ok_or(StoreError::UserNotFound)
}

fn verified_column(kind: Contact) -> user::Column {
    match kind {
        Contact::Email => user::Column::EmailVerifiedAtMs,
        Contact::Phone => user::Column::PhoneVerifiedAtMs,
    }
}

pub(super) async fn create_user_with_code(
    db: &DatabaseConnection,
    record: UserRecord,
    issue: CodeIssue,
) -> Result<UserRecord, StoreError> {
    let txn = db.begin().await?;
    let model = match to_model(record).insert(&txn).await {
        Ok(model) => model,
        Err(error) if is_unique_violation(&error) => return Err(StoreError::DuplicateEmail),
        Err(error) => return Err(error.into()),
    };
    put_code(&txn, &issue, i64::MAX).await?;
    txn.commit().await?;
    Ok(to_record(model))
}

pub(super) async fn update_profile(
    db: &DatabaseConnection,
    id: &str,
    patch: ProfilePatch,
) -> Result<UserRecord, StoreError> {
    let txn = db.begin().await?;
    let current = user::Entity::find_by_id(id.to_owned())
        .one(&txn)
        .await?
        .ok_or(StoreError::UserNotFound)?;
    let mut changed = Vec::new();
    let mut active: user::ActiveModel = current.clone().into();
    if let Some(name) = patch.display_name {
        active.display_name = Set(name);
    }
    if let Some(channel) = patch.notification_channel {
        active.notification_channel = Set(channel);
    }
    // Compared here, inside the transaction, so a proof never outlives its address.
    if let Some(email) = patch.email.filter(|email| *email != current.email) {
        active.email = Set(email);
        active.email_verified_at_ms = Set(None);
        changed.push(Contact::Email);
    }
    if let Some(phone) = patch.phone.filter(|phone| *phone != current.phone) {
        active.phone = Set(phone);
        active.phone_verified_at_ms = Set(None);
        changed.push(Contact::Phone);
    }
    active.updated_at_ms = Set(now_ms());
    let updated = match active.update(&txn).await {
        Ok(model) => model,
        Err(error) if is_unique_violation(&error) => return Err(StoreError::DuplicateEmail),
        Err(error) => return Err(error.into()),
    };
    for kind in changed {
        drop_code(&txn, id, kind).await?;
    }
    for issue in &patch.codes {
        put_code(&txn, issue, i64::MAX).await?;
    }
    txn.commit().await?;
    Ok(to_record(updated))
}

pub(super) async fn users_by_emails(
    db: &DatabaseConnection,
    emails: &[String],
) -> Result<Vec<UserRecord>, StoreError> {
    let mut found = Vec::new();
    for chunk in emails.chunks(EMAILS_PER_QUERY) {
        let models = user::Entity::find()
            .filter(user::Column::Email.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        found.extend(models.into_iter().map(to_record));
    }
    Ok(found)
}

pub(super) async fn contact_code(
    db: &DatabaseConnection,
    user_id: &str,
    kind: Contact,
) -> Result<Option<ContactCode>, StoreError> {
    let model = contact_code::Entity::find_by_id((user_id.to_owned(), kind.as_str().to_owned()))
        .one(db)
        .await?;
    Ok(model.map(|model| ContactCode {
        user_id: model.user_id,
        kind,
        address: model.address,
        code_hash: model.code_hash,
        expires_at_ms: model.expires_at_ms,
        tries_left: model.tries_left,
        created_at_ms: model.created_at_ms,
    }))
}

pub(super) async fn replace_code(
    db: &DatabaseConnection,
    issue: CodeIssue,
    replaceable_up_to_ms: i64,
) -> Result<bool, StoreError> {
    let txn = db.begin().await?;
    let stored = put_code(&txn, &issue, replaceable_up_to_ms).await?;
    txn.commit().await?;
    Ok(stored)
}

pub(super) async fn spend_code_try(
    db: &DatabaseConnection,
    user_id: &str,
    kind: Contact,
    code_hash: &str,
) -> Result<bool, StoreError> {
    // The `tries_left > 0` condition and the row count decide between concurrent guesses.
    let spent = contact_code::Entity::update_many()
        .col_expr(
            contact_code::Column::TriesLeft,
            Expr::col(contact_code::Column::TriesLeft).sub(1),
        )
        .filter(contact_code::Column::UserId.eq(user_id))
        .filter(contact_code::Column::Kind.eq(kind.as_str()))
        .filter(contact_code::Column::CodeHash.eq(code_hash))
        .filter(contact_code::Column::TriesLeft.gt(0))
        .exec(db)
        .await?
        .rows_affected;
    Ok(spent == 1)
}

pub(super) async fn verify_contact(
    db: &DatabaseConnection,
    user_id: &str,
    kind: Contact,
    code_hash: &str,
    now_ms: i64,
) -> Result<Option<UserRecord>, StoreError> {
    let txn = db.begin().await?;
    // Deleting the code is what claims it: of two racing verifications, or a verification
    // racing the guess that locks the code, the row count lets exactly one outcome through.
    let claimed = contact_code::Entity::delete_many()
        .filter(contact_code::Column::UserId.eq(user_id))
        .filter(contact_code::Column::Kind.eq(kind.as_str()))
        .filter(contact_code::Column::CodeHash.eq(code_hash))
        .filter(contact_code::Column::TriesLeft.gt(0))
        .filter(contact_code::Column::ExpiresAtMs.gt(now_ms))
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed != 1 {
        return Ok(None);
    }
    user::Entity::update_many()
        .col_expr(verified_column(kind), Expr::value(now_ms))
        .col_expr(user::Column::UpdatedAtMs, Expr::value(now_ms))
        .filter(user::Column::Id.eq(user_id))
        .exec(&txn)
        .await?;
    let user = reload(&txn, user_id).await?;
    txn.commit().await?;
    Ok(Some(user))
}

pub(super) async fn mark_email_verified(
    db: &DatabaseConnection,
    id: &str,
    at_ms: i64,
) -> Result<UserRecord, StoreError> {
    let txn = db.begin().await?;
    user::Entity::update_many()
        .col_expr(user::Column::EmailVerifiedAtMs, Expr::value(at_ms))
        .filter(user::Column::Id.eq(id))
        .filter(user::Column::EmailVerifiedAtMs.is_null())
        .exec(&txn)
        .await?;
    drop_code(&txn, id, Contact::Email).await?;
    let user = reload(&txn, id).await?;
    txn.commit().await?;
    Ok(user)
}
