//! Voter rolls: the normalised emails allowed to vote in a roll election. Writers call these
//! inside the transaction that holds the election row.

use std::collections::HashSet;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::{entities::roll_entry, StoreError};

/// Rows per INSERT when importing a roll.
const INSERT_CHUNK: usize = 1000;

/// Adds the emails not on the roll yet; returns those that were.
pub(super) async fn import(
    txn: &DatabaseTransaction,
    election_id: &str,
    emails: Vec<String>,
) -> Result<Vec<String>, StoreError> {
    let existing: HashSet<String> = roll_entry::Entity::find()
        .select_only()
        .column(roll_entry::Column::Email)
        .filter(roll_entry::Column::ElectionId.eq(election_id))
        .into_tuple::<String>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let (already, fresh): (Vec<String>, Vec<String>) = emails
        .into_iter()
        .partition(|email| existing.contains(email));
    for chunk in fresh.chunks(INSERT_CHUNK) {
        roll_entry::Entity::insert_many(chunk.iter().map(|email| roll_entry::ActiveModel {
            election_id: Set(election_id.to_owned()),
            email: Set(email.clone()),
        }))
        .exec(txn)
        .await?;
    }
    Ok(already)
}

/// Up to `limit` emails after `after`, in order, optionally those containing a text.
pub(super) async fn page(
    db: &impl ConnectionTrait,
    election_id: &str,
    email_contains: Option<String>,
    after: Option<String>,
    limit: u64,
) -> Result<Vec<String>, StoreError> {
    let mut query = roll_entry::Entity::find()
        .select_only()
        .column(roll_entry::Column::Email)
        .filter(roll_entry::Column::ElectionId.eq(election_id))
        .order_by_asc(roll_entry::Column::Email);
    if let Some(text) = email_contains.filter(|t| !t.is_empty()) {
        query = query.filter(roll_entry::Column::Email.contains(text.to_lowercase()));
    }
    if let Some(after) = after {
        query = query.filter(roll_entry::Column::Email.gt(after));
    }
    Ok(query.limit(limit).into_tuple().all(db).await?)
}

/// The whole roll, in order.
pub(super) async fn all(
    db: &impl ConnectionTrait,
    election_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(roll_entry::Entity::find()
        .select_only()
        .column(roll_entry::Column::Email)
        .filter(roll_entry::Column::ElectionId.eq(election_id))
        .order_by_asc(roll_entry::Column::Email)
        .into_tuple()
        .all(db)
        .await?)
}

/// Entries matching `email` (all of the roll when `None`).
pub(super) async fn count(
    db: &impl ConnectionTrait,
    election_id: &str,
    email: Option<&str>,
) -> Result<u64, StoreError> {
    let mut query =
        roll_entry::Entity::find().filter(roll_entry::Column::ElectionId.eq(election_id));
    if let Some(email) = email {
        query = query.filter(roll_entry::Column::Email.eq(email));
    }
    Ok(query.count(db).await?)
}

pub(super) async fn remove(
    txn: &DatabaseTransaction,
    election_id: &str,
    email: &str,
) -> Result<(), StoreError> {
    let removed = roll_entry::Entity::delete_many()
        .filter(roll_entry::Column::ElectionId.eq(election_id))
        .filter(roll_entry::Column::Email.eq(email))
        .exec(txn)
        .await?
        .rows_affected;
    if removed == 0 {
        return Err(StoreError::RollEntryNotFound);
    }
    Ok(())
}
