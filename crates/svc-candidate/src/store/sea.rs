//! The sea-orm adapter. Every mutation starts by taking the election row with a guarded
//! `UPDATE … SET version = version + 1`: that one statement checks the status and the
//! caller's version, and holds the row until commit, so concurrent writers serialise and a
//! half-applied change is impossible.

use std::collections::HashSet;

use async_trait::async_trait;
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::{
    entities::{candidate, election, outbox, roll_entry},
    CandidateChange, CandidateRecord, DraftFields, ElectionRecord, ElectionStore, EventFor, Guard,
    OutboxEvent, Status, StoreError,
};

/// Rows per INSERT when importing a roll.
const INSERT_CHUNK: usize = 1000;

#[derive(Clone)]
pub struct SeaElectionStore {
    primary: DatabaseConnection,
    /// The read replica when configured, else the primary.
    reads: DatabaseConnection,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn to_election(model: election::Model) -> ElectionRecord {
    ElectionRecord {
        id: model.id,
        title: model.title,
        description: model.description,
        method: model.method,
        max_choices: model.max_choices,
        opens_at_ms: model.opens_at_ms,
        closes_at_ms: model.closes_at_ms,
        results_visibility: model.results_visibility,
        eligibility: model.eligibility,
        status: Status::parse(&model.status),
        version: model.version,
        created_at_ms: model.created_at_ms,
    }
}

fn to_candidate(model: candidate::Model) -> CandidateRecord {
    CandidateRecord {
        id: model.id,
        election_id: model.election_id,
        name: model.name,
        party: model.party,
        description: model.description,
        image_url: model.image_url,
        ballot_position: model.ballot_position,
    }
}

impl SeaElectionStore {
    /// Connects to the primary (and the replica, if any) and migrates the primary.
    pub async fn open(
        url: &str,
        read_url: Option<&str>,
        max_connections: u32,
    ) -> anyhow::Result<Self> {
        let primary = kit::db::connect(url, "svc_candidate", max_connections).await?;
        kit::db::migrate(&primary, super::MIGRATIONS).await?;
        let reads = match read_url {
            Some(read_url) => {
                kit::db::connect_replica(read_url, "svc_candidate", max_connections).await?
            }
            None => primary.clone(),
        };
        Ok(Self { primary, reads })
    }

    /// The primary connection, for the outbox relay.
    pub fn primary(&self) -> &DatabaseConnection {
        &self.primary
    }

    /// Takes the election row for this transaction; see the module docs.
    async fn lock(
        txn: &DatabaseTransaction,
        id: &str,
        required: Status,
        guard: Guard,
    ) -> Result<election::Model, StoreError> {
        let mut update = election::Entity::update_many()
            .col_expr(
                election::Column::Version,
                Expr::col(election::Column::Version).add(1),
            )
            .col_expr(election::Column::UpdatedAtMs, Expr::value(now_ms()))
            .filter(election::Column::Id.eq(id))
            .filter(election::Column::Status.eq(required.as_str()));
        if let Guard::Version(version) = guard {
            update = update.filter(election::Column::Version.eq(version));
        }
        let taken = update.exec(txn).await?.rows_affected == 1;
        let current = election::Entity::find_by_id(id.to_owned())
            .one(txn)
            .await?
            .ok_or(StoreError::NotFound)?;
        if taken {
            return Ok(current);
        }
        let status = Status::parse(&current.status);
        if status != required {
            Err(StoreError::WrongStatus(status))
        } else {
            Err(StoreError::Stale {
                current: current.version,
            })
        }
    }

    async fn write_event(txn: &DatabaseTransaction, event: OutboxEvent) -> Result<(), StoreError> {
        outbox::ActiveModel {
            id: Set(event.id),
            topic: Set(event.topic),
            partition_key: Set(event.partition_key),
            payload: Set(event.payload),
            created_at_ms: Set(now_ms()),
            published_at_ms: Set(None),
        }
        .insert(txn)
        .await?;
        Ok(())
    }

    async fn ordered_candidates<C: sea_orm::ConnectionTrait>(
        db: &C,
        election_id: &str,
    ) -> Result<Vec<CandidateRecord>, StoreError> {
        Ok(candidate::Entity::find()
            .filter(candidate::Column::ElectionId.eq(election_id))
            .order_by_asc(candidate::Column::BallotPosition)
            .order_by_asc(candidate::Column::Id)
            .all(db)
            .await?
            .into_iter()
            .map(to_candidate)
            .collect())
    }
}

/// The candidate list after `change`, renumbered 1..n.
fn apply(
    mut list: Vec<CandidateRecord>,
    change: CandidateChange,
) -> Result<Vec<CandidateRecord>, StoreError> {
    match change {
        CandidateChange::Add(added) => {
            let at = match usize::try_from(added.ballot_position) {
                Ok(position) if position >= 1 => (position - 1).min(list.len()),
                _ => list.len(),
            };
            list.insert(at, added);
        }
        CandidateChange::Update(updated) => {
            let slot = list
                .iter_mut()
                .find(|c| c.id == updated.id)
                .ok_or(StoreError::CandidateNotFound)?;
            *slot = CandidateRecord {
                ballot_position: slot.ballot_position,
                ..updated
            };
        }
        CandidateChange::Remove(id) => {
            let before = list.len();
            list.retain(|c| c.id != id);
            if list.len() == before {
                return Err(StoreError::CandidateNotFound);
            }
        }
        CandidateChange::Reorder(ids) => {
            let distinct: HashSet<&String> = ids.iter().collect();
            if ids.len() != list.len() || distinct.len() != ids.len() {
                return Err(StoreError::BadOrder);
            }
            let mut reordered = Vec::with_capacity(list.len());
            for id in &ids {
                let index = list
                    .iter()
                    .position(|c| &c.id == id)
                    .ok_or(StoreError::BadOrder)?;
                reordered.push(list.swap_remove(index));
            }
            list = reordered;
        }
    }
    for (index, candidate) in list.iter_mut().enumerate() {
        candidate.ballot_position = index as i64 + 1;
    }
    Ok(list)
}

#[async_trait]
impl ElectionStore for SeaElectionStore {
    async fn create_election(&self, record: ElectionRecord) -> Result<ElectionRecord, StoreError> {
        let model = election::ActiveModel {
            id: Set(record.id),
            title: Set(record.title),
            description: Set(record.description),
            method: Set(record.method),
            max_choices: Set(record.max_choices),
            opens_at_ms: Set(record.opens_at_ms),
            closes_at_ms: Set(record.closes_at_ms),
            results_visibility: Set(record.results_visibility),
            eligibility: Set(record.eligibility),
            status: Set(Status::Draft.as_str().to_owned()),
            version: Set(1),
            created_at_ms: Set(record.created_at_ms),
            updated_at_ms: Set(record.created_at_ms),
        };
        Ok(to_election(model.insert(&self.primary).await?))
    }

    async fn election(&self, id: &str) -> Result<Option<ElectionRecord>, StoreError> {
        Ok(election::Entity::find_by_id(id.to_owned())
            .one(&self.primary)
            .await?
            .map(to_election))
    }

    async fn list_elections(
        &self,
        status: Option<Status>,
        after: Option<(i64, String)>,
        limit: u64,
    ) -> Result<Vec<ElectionRecord>, StoreError> {
        let mut query = election::Entity::find()
            .order_by_desc(election::Column::CreatedAtMs)
            .order_by_desc(election::Column::Id);
        if let Some(status) = status {
            query = query.filter(election::Column::Status.eq(status.as_str()));
        }
        if let Some((created, id)) = after {
            query = query.filter(
                election::Column::CreatedAtMs
                    .lt(created)
                    .or(election::Column::CreatedAtMs
                        .eq(created)
                        .and(election::Column::Id.lt(id))),
            );
        }
        Ok(query
            .limit(limit)
            .all(&self.reads)
            .await?
            .into_iter()
            .map(to_election)
            .collect())
    }

    async fn update_draft(
        &self,
        id: &str,
        guard: Guard,
        fields: DraftFields,
    ) -> Result<ElectionRecord, StoreError> {
        let txn = self.primary.begin().await?;
        let current = Self::lock(&txn, id, Status::Draft, guard).await?;
        let mut active: election::ActiveModel = current.into();
        active.title = Set(fields.title);
        active.description = Set(fields.description);
        active.method = Set(fields.method);
        active.max_choices = Set(fields.max_choices);
        active.opens_at_ms = Set(fields.opens_at_ms);
        active.closes_at_ms = Set(fields.closes_at_ms);
        active.results_visibility = Set(fields.results_visibility);
        active.eligibility = Set(fields.eligibility);
        let updated = active.update(&txn).await?;
        txn.commit().await?;
        Ok(to_election(updated))
    }

    async fn transition(
        &self,
        id: &str,
        from: Status,
        to: Status,
        guard: Guard,
        min_candidates: usize,
        event: EventFor,
    ) -> Result<ElectionRecord, StoreError> {
        let txn = self.primary.begin().await?;
        let current = Self::lock(&txn, id, from, guard).await?;
        if min_candidates > 0 {
            let count = candidate::Entity::find()
                .filter(candidate::Column::ElectionId.eq(id))
                .count(&txn)
                .await? as usize;
            if count < min_candidates {
                return Err(StoreError::TooFewCandidates(count));
            }
        }
        let mut active: election::ActiveModel = current.into();
        active.status = Set(to.as_str().to_owned());
        let updated = to_election(active.update(&txn).await?);
        Self::write_event(&txn, event(&updated)).await?;
        txn.commit().await?;
        Ok(updated)
    }

    async fn extend(
        &self,
        id: &str,
        guard: Guard,
        closes_at_ms: i64,
        event: EventFor,
    ) -> Result<ElectionRecord, StoreError> {
        let txn = self.primary.begin().await?;
        let current = Self::lock(&txn, id, Status::Open, guard).await?;
        let mut active: election::ActiveModel = current.into();
        active.closes_at_ms = Set(closes_at_ms);
        let updated = to_election(active.update(&txn).await?);
        Self::write_event(&txn, event(&updated)).await?;
        txn.commit().await?;
        Ok(updated)
    }

    async fn candidates(&self, election_id: &str) -> Result<Vec<CandidateRecord>, StoreError> {
        Self::ordered_candidates(&self.reads, election_id).await
    }

    async fn change_candidates(
        &self,
        election_id: &str,
        guard: Guard,
        change: CandidateChange,
    ) -> Result<(ElectionRecord, Vec<CandidateRecord>), StoreError> {
        let txn = self.primary.begin().await?;
        let locked = Self::lock(&txn, election_id, Status::Draft, guard).await?;
        let before = Self::ordered_candidates(&txn, election_id).await?;
        let after = apply(before.clone(), change)?;
        let kept: HashSet<&str> = after.iter().map(|c| c.id.as_str()).collect();
        for gone in before.iter().filter(|c| !kept.contains(c.id.as_str())) {
            candidate::Entity::delete_by_id(gone.id.clone())
                .exec(&txn)
                .await?;
        }
        for candidate in &after {
            if before.iter().any(|b| b == candidate) {
                continue;
            }
            let model = candidate::ActiveModel {
                id: Set(candidate.id.clone()),
                election_id: Set(election_id.to_owned()),
                name: Set(candidate.name.clone()),
                party: Set(candidate.party.clone()),
                description: Set(candidate.description.clone()),
                image_url: Set(candidate.image_url.clone()),
                ballot_position: Set(candidate.ballot_position),
            };
            if before.iter().any(|b| b.id == candidate.id) {
                model.update(&txn).await?;
            } else {
                model.insert(&txn).await?;
            }
        }
        txn.commit().await?;
        Ok((to_election(locked), after))
    }

    async fn due_for_opening(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        Ok(election::Entity::find()
            .select_only()
            .column(election::Column::Id)
            .filter(election::Column::Status.eq(Status::Draft.as_str()))
            .filter(election::Column::OpensAtMs.lte(now_ms))
            .filter(election::Column::ClosesAtMs.gt(now_ms))
            .into_tuple()
            .all(&self.primary)
            .await?)
    }

    async fn due_for_closing(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        Ok(election::Entity::find()
            .select_only()
            .column(election::Column::Id)
            .filter(election::Column::Status.eq(Status::Open.as_str()))
            .filter(election::Column::ClosesAtMs.lte(now_ms))
            .into_tuple()
            .all(&self.primary)
            .await?)
    }

    async fn import_roll(
        &self,
        election_id: &str,
        emails: Vec<String>,
    ) -> Result<Vec<String>, StoreError> {
        let txn = self.primary.begin().await?;
        Self::lock(&txn, election_id, Status::Draft, Guard::Any).await?;
        let existing: HashSet<String> = roll_entry::Entity::find()
            .select_only()
            .column(roll_entry::Column::Email)
            .filter(roll_entry::Column::ElectionId.eq(election_id))
            .into_tuple::<String>()
            .all(&txn)
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
            .exec(&txn)
            .await?;
        }
        txn.commit().await?;
        Ok(already)
    }

    async fn roll_page(
        &self,
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
        Ok(query.limit(limit).into_tuple().all(&self.reads).await?)
    }

    async fn roll_count(&self, election_id: &str) -> Result<u64, StoreError> {
        Ok(roll_entry::Entity::find()
            .filter(roll_entry::Column::ElectionId.eq(election_id))
            .count(&self.reads)
            .await?)
    }

    async fn remove_roll_entry(&self, election_id: &str, email: &str) -> Result<(), StoreError> {
        let txn = self.primary.begin().await?;
        Self::lock(&txn, election_id, Status::Draft, Guard::Any).await?;
        let removed = roll_entry::Entity::delete_many()
            .filter(roll_entry::Column::ElectionId.eq(election_id))
            .filter(roll_entry::Column::Email.eq(email))
            .exec(&txn)
            .await?
            .rows_affected;
        if removed == 0 {
            return Err(StoreError::RollEntryNotFound);
        }
        txn.commit().await?;
        Ok(())
    }

    async fn on_roll(&self, election_id: &str, email: &str) -> Result<bool, StoreError> {
        Ok(roll_entry::Entity::find()
            .filter(roll_entry::Column::ElectionId.eq(election_id))
            .filter(roll_entry::Column::Email.eq(email))
            .count(&self.primary)
            .await?
            > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: &str, position: i64) -> CandidateRecord {
        CandidateRecord {
            id: id.into(),
            election_id: "e".into(),
            name: id.into(),
            party: String::new(),
            description: String::new(),
            image_url: String::new(),
            ballot_position: position,
        }
    }

    fn ids(list: &[CandidateRecord]) -> Vec<(&str, i64)> {
        list.iter()
            .map(|c| (c.id.as_str(), c.ballot_position))
            .collect()
    }

    #[test]
    fn positions_stay_dense_through_every_change() {
        let list = vec![candidate("a", 1), candidate("b", 2)];
        let list = apply(list, CandidateChange::Add(candidate("c", 1))).expect("add first");
        assert_eq!(ids(&list), [("c", 1), ("a", 2), ("b", 3)]);
        let list = apply(list, CandidateChange::Add(candidate("d", 0))).expect("append");
        assert_eq!(ids(&list), [("c", 1), ("a", 2), ("b", 3), ("d", 4)]);
        let list = apply(list, CandidateChange::Remove("a".into())).expect("remove");
        assert_eq!(ids(&list), [("c", 1), ("b", 2), ("d", 3)]);
        let list = apply(
            list,
            CandidateChange::Reorder(vec!["d".into(), "c".into(), "b".into()]),
        )
        .expect("reorder");
        assert_eq!(ids(&list), [("d", 1), ("c", 2), ("b", 3)]);
        assert!(matches!(
            apply(
                list.clone(),
                CandidateChange::Reorder(vec!["d".into(), "d".into(), "b".into()])
            ),
            Err(StoreError::BadOrder)
        ));
        assert!(matches!(
            apply(list, CandidateChange::Remove("zz".into())),
            Err(StoreError::CandidateNotFound)
        ));
    }
}
