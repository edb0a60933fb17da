//! The sea-orm adapter. Every mutation starts by taking the election row with a guarded
//! `UPDATE … SET version = version + 1`: that one statement checks the status and the
//! caller's version, and holds the row until commit, so concurrent writers serialise and a
//! half-applied change is impossible.

use async_trait::async_trait;
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};

use super::{
    candidates, entities::election, notifications, opening, rolls, CandidateChange,
    CandidateRecord, DraftFields, ElectionRecord, ElectionStore, EventFor, Guard, NotificationsFor,
    OpeningChecks, Status, StoreError,
};
use kit::time::now_ms;

#[derive(Clone)]
pub struct SeaElectionStore {
    primary: DatabaseConnection,
    /// The read replica when configured, else the primary.
    reads: DatabaseConnection,
}

fn to_election(model: election::Model) -> ElectionRecord {
    let questions = crate::questions::stored(
        &model.id,
        crate::convert::method_of(&model.method) as i32,
        model.max_choices as u32,
        model.questions.as_deref(),
    );
    ElectionRecord {
        questions,
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
        remind_before_close_ms: model.remind_before_close_ms,
        ballot_export: model.ballot_export,
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

    /// The election as this transaction reads it.
    async fn read(txn: &DatabaseTransaction, id: &str) -> Result<ElectionRecord, StoreError> {
        election::Entity::find_by_id(id.to_owned())
            .one(txn)
            .await?
            .map(to_election)
            .ok_or(StoreError::NotFound)
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
            remind_before_close_ms: Set(record.remind_before_close_ms),
            ballot_export: Set(record.ballot_export),
            auto_reminder_requested_at_ms: Set(None),
            questions: Set(Some(crate::questions::encode(&record.questions))),
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
        active.remind_before_close_ms = Set(fields.remind_before_close_ms);
        active.ballot_export = Set(fields.ballot_export);
        active.questions = Set(Some(crate::questions::encode(&fields.questions)));
        let kept = fields.questions.iter().map(|q| q.question_id.clone());
        candidates::change(&txn, id, CandidateChange::RetainQuestions(kept.collect())).await?;
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
        checks: Option<OpeningChecks>,
        event: EventFor,
    ) -> Result<ElectionRecord, StoreError> {
        let txn = self.primary.begin().await?;
        let current = Self::lock(&txn, id, from, guard).await?;
        if let Some(checks) = checks {
            opening::check(&txn, &to_election(current.clone()), checks).await?;
        }
        let mut active: election::ActiveModel = current.into();
        active.status = Set(to.as_str().to_owned());
        let updated = to_election(active.update(&txn).await?);
        kit::outbox::append(&txn, &[event(&updated)]).await?;
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
        kit::outbox::append(&txn, &[event(&updated)]).await?;
        txn.commit().await?;
        Ok(updated)
    }

    async fn candidates(&self, election_id: &str) -> Result<Vec<CandidateRecord>, StoreError> {
        candidates::ordered(&self.reads, election_id).await
    }

    async fn change_candidates(
        &self,
        election_id: &str,
        guard: Guard,
        change: CandidateChange,
    ) -> Result<(ElectionRecord, Vec<CandidateRecord>), StoreError> {
        let txn = self.primary.begin().await?;
        let locked = Self::lock(&txn, election_id, Status::Draft, guard).await?;
        if let CandidateChange::Add(added) = &change {
            let questions = to_election(locked.clone()).questions;
            if !questions.iter().any(|q| q.question_id == added.question_id) {
                return Err(StoreError::UnknownQuestion);
            }
        }
        let after = candidates::change(&txn, election_id, change).await?;
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
        entries: Vec<(String, i64)>,
    ) -> Result<Vec<String>, StoreError> {
        let txn = self.primary.begin().await?;
        Self::lock(&txn, election_id, Status::Draft, Guard::Any).await?;
        let already = rolls::import(&txn, election_id, entries).await?;
        txn.commit().await?;
        Ok(already)
    }

    async fn roll_page(
        &self,
        election_id: &str,
        email_contains: Option<String>,
        after: Option<String>,
        limit: u64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        rolls::page(&self.reads, election_id, email_contains, after, limit).await
    }

    async fn roll_weights(&self, election_id: &str) -> Result<Vec<(i64, u64)>, StoreError> {
        rolls::weights(&self.primary, election_id).await
    }

    async fn roll_count(&self, election_id: &str) -> Result<u64, StoreError> {
        rolls::count(&self.reads, election_id).await
    }

    async fn remove_roll_entry(&self, election_id: &str, email: &str) -> Result<(), StoreError> {
        let txn = self.primary.begin().await?;
        Self::lock(&txn, election_id, Status::Draft, Guard::Any).await?;
        rolls::remove(&txn, election_id, email).await?;
        txn.commit().await?;
        Ok(())
    }

    async fn on_roll(&self, election_id: &str, email: &str) -> Result<Option<i64>, StoreError> {
        rolls::weight(&self.primary, election_id, email).await
    }

    /// Does not take the election row: a notification request changes nothing about the
    /// election, so it must not bump its version under an admin's edit.
    async fn notify_roll(
        &self,
        election_id: &str,
        allowed: &[Status],
        events: NotificationsFor,
    ) -> Result<u64, StoreError> {
        let txn = self.primary.begin().await?;
        // A write that changes nothing takes the row first (and on SQLite the write lock,
        // which a read turning into a write cannot wait for): a concurrent transition, invite
        // or reminder waits instead of failing, and the status read below holds until commit.
        election::Entity::update_many()
            .col_expr(election::Column::Id, Expr::col(election::Column::Id).into())
            .filter(election::Column::Id.eq(election_id))
            .exec(&txn)
            .await?;
        let election = Self::read(&txn, election_id).await?;
        if !allowed.contains(&election.status) {
            return Err(StoreError::WrongStatus(election.status));
        }
        let requested = notifications::append_for_roll(&txn, &election, events).await?;
        txn.commit().await?;
        Ok(requested)
    }

    async fn due_for_auto_reminder(&self, now_ms: i64) -> Result<Vec<String>, StoreError> {
        notifications::due(&self.primary, now_ms).await
    }

    async fn claim_auto_reminder(
        &self,
        election_id: &str,
        now_ms: i64,
        events: NotificationsFor,
    ) -> Result<Option<u64>, StoreError> {
        let txn = self.primary.begin().await?;
        if !notifications::claim_auto_reminder(&txn, election_id, now_ms).await? {
            return Ok(None);
        }
        let election = Self::read(&txn, election_id).await?;
        let requested = notifications::append_for_roll(&txn, &election, events).await?;
        txn.commit().await?;
        Ok(Some(requested))
    }
}
