//! Voter rolls: the normalised emails allowed to vote in a roll election, each with the
//! weight its ballot counts with. Writers call these inside the transaction that holds the
//! election row.

use std::collections::HashSet;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::{entities::roll_entry, StoreError};

/// Rows per INSERT when importing a roll.
const INSERT_CHUNK: usize = 1000;

/// Adds the entries not on the roll yet; returns the emails of those that were.
pub(super) async fn import(
    txn: &DatabaseTransaction,
    election_id: &str,
    entries: Vec<(String, i64)>,
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
    type Entries = Vec<(String, i64)>;
    let (already, fresh): (Entries, Entries) = entries
        .into_iter()
        .partition(|(email, _)| existing.contains(email));
    for chunk in fresh.chunks(INSERT_CHUNK) {
        roll_entry::Entity::insert_many(chunk.iter().map(|(email, weight)| {
            roll_entry::ActiveModel {
                election_id: Set(election_id.to_owned()),
                email: Set(email.clone()),
                weight: Set(*weight),
            }
        }))
        .exec(txn)
        .await?;
    }
    Ok(already.into_iter().map(|(email, _)| email).collect())
}

/// Up to `limit` emails with their weights after `after`, in order, optionally those
/// containing a text.
pub(super) async fn page(
    db: &impl ConnectionTrait,
    election_id: &str,
    email_contains: Option<String>,
    after: Option<String>,
    limit: u64,
) -> Result<Vec<(String, i64)>, StoreError> {
    let mut query = roll_entry::Entity::find()
        .select_only()
        .column(roll_entry::Column::Email)
        .column(roll_entry::Column::Weight)
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

/// Entries on the roll.
pub(super) async fn count(db: &impl ConnectionTrait, election_id: &str) -> Result<u64, StoreError> {
    Ok(roll_entry::Entity::find()
        .filter(roll_entry::Column::ElectionId.eq(election_id))
        .count(db)
        .await?)
}

/// The weight of `email`'s entry, if it is on the roll.
pub(super) async fn weight(
    db: &impl ConnectionTrait,
    election_id: &str,
    email: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(roll_entry::Entity::find()
        .select_only()
        .column(roll_entry::Column::Weight)
        .filter(roll_entry::Column::ElectionId.eq(election_id))
        .filter(roll_entry::Column::Email.eq(email))
        .into_tuple()
        .one(db)
        .await?)
}

/// Each weight on the roll and how many entries carry it.
pub(super) async fn weights(
    db: &impl ConnectionTrait,
    election_id: &str,
) -> Result<Vec<(i64, u64)>, StoreError> {
    let groups: Vec<(i64, i64)> = roll_entry::Entity::find()
        .select_only()
        .column(roll_entry::Column::Weight)
        .column_as(roll_entry::Column::Email.count(), "entries")
        .filter(roll_entry::Column::ElectionId.eq(election_id))
        .group_by(roll_entry::Column::Weight)
        .order_by_asc(roll_entry::Column::Weight)
        .into_tuple()
        .all(db)
        .await?;
    Ok(groups
        .into_iter()
        .map(|(w, n)| (w, n.max(0) as u64))
        .collect())
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
