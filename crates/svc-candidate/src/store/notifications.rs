//! Invitations and reminders for a roll: the events go to the outbox in the transaction that
//! read the roll, and the automatic reminder round is claimed there too, by a conditional
//! UPDATE, so however many replicas (or passes) find it due, one requests it.

use sea_orm::{
    sea_query::Expr, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect,
};

use super::{entities::election, rolls, ElectionRecord, NotificationsFor, Status, StoreError};

/// Appends the events `events` makes of `election` and its whole roll; returns the roll's size.
pub(super) async fn append_for_roll(
    txn: &DatabaseTransaction,
    election: &ElectionRecord,
    events: NotificationsFor,
) -> Result<u64, StoreError> {
    let emails = rolls::all(txn, &election.id).await?;
    let built = events(election, &emails);
    kit::outbox::append(txn, &built).await?;
    Ok(emails.len() as u64)
}

/// Whether this transaction took the election's automatic reminder round: the UPDATE
/// matches only while nobody has, and on PostgreSQL a concurrent claimer waits for this
/// transaction and then matches nothing.
pub(super) async fn claim_auto_reminder(
    txn: &DatabaseTransaction,
    election_id: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let claimed = election::Entity::update_many()
        .col_expr(
            election::Column::AutoReminderRequestedAtMs,
            Expr::value(now_ms),
        )
        .filter(election::Column::Id.eq(election_id))
        .filter(election::Column::Status.eq(Status::Open.as_str()))
        .filter(election::Column::AutoReminderRequestedAtMs.is_null())
        .exec(txn)
        .await?
        .rows_affected;
    Ok(claimed == 1)
}

/// See [`ElectionStore::due_for_auto_reminder`](super::ElectionStore::due_for_auto_reminder).
pub(super) async fn due(db: &impl ConnectionTrait, now_ms: i64) -> Result<Vec<String>, StoreError> {
    Ok(election::Entity::find()
        .select_only()
        .column(election::Column::Id)
        .filter(election::Column::Status.eq(Status::Open.as_str()))
        .filter(election::Column::Eligibility.eq("roll"))
        .filter(election::Column::RemindBeforeCloseMs.is_not_null())
        .filter(election::Column::AutoReminderRequestedAtMs.is_null())
        .filter(election::Column::ClosesAtMs.gt(now_ms))
        .filter(
            Expr::col(election::Column::ClosesAtMs)
                .lte(Expr::col(election::Column::RemindBeforeCloseMs).add(now_ms)),
        )
        .into_tuple()
        .all(db)
        .await?)
}
