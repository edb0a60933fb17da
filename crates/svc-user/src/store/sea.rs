//! The sea-orm adapter: one implementation for PostgreSQL (production) and SQLite (embedded).

use async_trait::async_trait;
use sea_orm::{
    sea_query::Expr, ActiveModelTrait, ColumnTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqlErr, TransactionTrait,
};

use super::{
    entities::{refresh_token, signing_key, user},
    sea_contacts, CodeIssue, Contact, ContactCode, ProfilePatch, RefreshTokenRecord, Rotation,
    SigningKeyRecord, StoreError, StoredRole, UserFilter, UserRecord, UserStore,
};
use kit::time::now_ms;

#[derive(Clone)]
pub struct SeaUserStore {
    db: DatabaseConnection,
    /// The read replica for listings when configured, else the primary.
    reads: DatabaseConnection,
}

impl SeaUserStore {
    /// Connects, applies migrations, and returns the store.
    pub async fn open(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let db = kit::db::connect(url, "svc_user", max_connections).await?;
        kit::db::migrate(&db, super::MIGRATIONS).await?;
        Ok(Self {
            reads: db.clone(),
            db,
        })
    }

    /// Serves listings from `read_url`, a streaming replica of the primary.
    pub async fn with_replica(self, read_url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let reads = kit::db::connect_replica(read_url, "svc_user", max_connections).await?;
        Ok(Self { reads, ..self })
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }
}

pub(super) fn to_record(model: user::Model) -> UserRecord {
    UserRecord {
        id: model.id,
        email: model.email,
        display_name: model.display_name,
        phone: model.phone,
        role: StoredRole::parse(&model.role),
        notification_channel: model.notification_channel,
        password_hash: model.password_hash,
        disabled: model.disabled,
        created_at_ms: model.created_at_ms,
        email_verified_at_ms: model.email_verified_at_ms,
        phone_verified_at_ms: model.phone_verified_at_ms,
    }
}

pub(super) fn to_model(record: UserRecord) -> user::ActiveModel {
    user::ActiveModel {
        id: Set(record.id),
        email: Set(record.email),
        display_name: Set(record.display_name),
        phone: Set(record.phone),
        role: Set(record.role.as_str().to_owned()),
        notification_channel: Set(record.notification_channel),
        password_hash: Set(record.password_hash),
        disabled: Set(record.disabled),
        created_at_ms: Set(record.created_at_ms),
        updated_at_ms: Set(record.created_at_ms),
        email_verified_at_ms: Set(record.email_verified_at_ms),
        phone_verified_at_ms: Set(record.phone_verified_at_ms),
    }
}

pub(super) fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

impl SeaUserStore {
    async fn update_user(
        &self,
        id: &str,
        change: impl FnOnce(&mut user::ActiveModel),
    ) -> Result<UserRecord, StoreError> {
        let model = user::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .ok_or(StoreError::UserNotFound)?;
        let mut active: user::ActiveModel = model.into();
        change(&mut active);
        active.updated_at_ms = Set(now_ms());
        Ok(to_record(active.update(&self.db).await?))
    }
}

#[async_trait]
impl UserStore for SeaUserStore {
    async fn create_user(&self, record: UserRecord) -> Result<UserRecord, StoreError> {
        match to_model(record).insert(&self.db).await {
            Ok(model) => Ok(to_record(model)),
            Err(error) if is_unique_violation(&error) => Err(StoreError::DuplicateEmail),
            Err(error) => Err(error.into()),
        }
    }

    async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(user::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
            .map(to_record))
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(user::Entity::find()
            .filter(user::Column::Email.eq(email))
            .one(&self.db)
            .await?
            .map(to_record))
    }

    async fn update_profile(
        &self,
        id: &str,
        patch: ProfilePatch,
    ) -> Result<UserRecord, StoreError> {
        sea_contacts::update_profile(&self.db, id, patch).await
    }

    async fn set_password_hash(&self, id: &str, hash: &str) -> Result<(), StoreError> {
        self.update_user(id, |active| active.password_hash = Set(hash.to_owned()))
            .await
            .map(drop)
    }

    async fn replace_password_hash(
        &self,
        id: &str,
        expected: &str,
        hash: &str,
    ) -> Result<bool, StoreError> {
        let replaced = user::Entity::update_many()
            .col_expr(user::Column::PasswordHash, Expr::value(hash))
            .col_expr(user::Column::UpdatedAtMs, Expr::value(now_ms()))
            .filter(user::Column::Id.eq(id))
            .filter(user::Column::PasswordHash.eq(expected))
            .exec(&self.db)
            .await?
            .rows_affected;
        Ok(replaced == 1)
    }

    async fn set_role(&self, id: &str, role: StoredRole) -> Result<UserRecord, StoreError> {
        self.update_user(id, |active| active.role = Set(role.as_str().to_owned()))
            .await
    }

    async fn set_disabled(&self, id: &str, disabled: bool) -> Result<UserRecord, StoreError> {
        self.update_user(id, |active| active.disabled = Set(disabled))
            .await
    }

    async fn list_users(&self, filter: UserFilter) -> Result<Vec<UserRecord>, StoreError> {
        let mut query = user::Entity::find().order_by_asc(user::Column::Email);
        if let Some(text) = filter.email_contains.filter(|t| !t.is_empty()) {
            query = query.filter(user::Column::Email.contains(text.to_lowercase()));
        }
        if let Some(role) = filter.role {
            query = query.filter(user::Column::Role.eq(role.as_str()));
        }
        if !filter.include_disabled {
            query = query.filter(user::Column::Disabled.eq(false));
        }
        if let Some(after) = filter.after_email {
            query = query.filter(user::Column::Email.gt(after));
        }
        // A listing for admins may be a moment behind: the replica serves it.
        Ok(query
            .limit(filter.limit)
            .all(&self.reads)
            .await?
            .into_iter()
            .map(to_record)
            .collect())
    }

    async fn count_active_admins(&self) -> Result<u64, StoreError> {
        Ok(user::Entity::find()
            .filter(user::Column::Role.eq(StoredRole::Admin.as_str()))
            .filter(user::Column::Disabled.eq(false))
            .count(&self.db)
            .await?)
    }

    async fn insert_refresh_token(&self, token: RefreshTokenRecord) -> Result<(), StoreError> {
        refresh_token::ActiveModel {
            token_hash: Set(token.token_hash),
            user_id: Set(token.user_id),
            family_id: Set(token.family_id),
            expires_at_ms: Set(token.expires_at_ms),
            revoked: Set(false),
            created_at_ms: Set(now_ms()),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        replacement: RefreshTokenRecord,
        now_ms: i64,
    ) -> Result<Rotation, StoreError> {
        let txn = self.db.begin().await?;
        let Some(current) = refresh_token::Entity::find_by_id(presented_hash.to_owned())
            .one(&txn)
            .await?
        else {
            return Ok(Rotation::Invalid);
        };
        if current.expires_at_ms <= now_ms {
            return Ok(Rotation::Invalid);
        }
        // Spend it only if nobody else did: the row count decides a race between two refreshes.
        let spent = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::Revoked, Expr::value(true))
            .filter(refresh_token::Column::TokenHash.eq(presented_hash))
            .filter(refresh_token::Column::Revoked.eq(false))
            .exec(&txn)
            .await?
            .rows_affected;
        if spent != 1 {
            refresh_token::Entity::update_many()
                .col_expr(refresh_token::Column::Revoked, Expr::value(true))
                .filter(refresh_token::Column::FamilyId.eq(current.family_id.clone()))
                .exec(&txn)
                .await?;
            txn.commit().await?;
            return Ok(Rotation::Reused);
        }
        refresh_token::ActiveModel {
            token_hash: Set(replacement.token_hash),
            user_id: Set(current.user_id.clone()),
            family_id: Set(current.family_id),
            expires_at_ms: Set(replacement.expires_at_ms),
            revoked: Set(false),
            created_at_ms: Set(now_ms),
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        Ok(Rotation::Rotated {
            user_id: current.user_id,
        })
    }

    async fn revoke_refresh_token(
        &self,
        user_id: &str,
        token_hash: &str,
    ) -> Result<bool, StoreError> {
        let revoked = refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::Revoked, Expr::value(true))
            .filter(refresh_token::Column::TokenHash.eq(token_hash))
            .filter(refresh_token::Column::UserId.eq(user_id))
            .filter(refresh_token::Column::Revoked.eq(false))
            .exec(&self.db)
            .await?
            .rows_affected;
        Ok(revoked == 1)
    }

    async fn revoke_all_refresh_tokens(&self, user_id: &str) -> Result<u64, StoreError> {
        Ok(refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::Revoked, Expr::value(true))
            .filter(refresh_token::Column::UserId.eq(user_id))
            .filter(refresh_token::Column::Revoked.eq(false))
            .exec(&self.db)
            .await?
            .rows_affected)
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        Ok(signing_key::Entity::find()
            .order_by_desc(signing_key::Column::CreatedAtMs)
            .order_by_desc(signing_key::Column::Kid)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|model| SigningKeyRecord {
                kid: model.kid,
                secret_key: model.secret_key,
                created_at_ms: model.created_at_ms,
            })
            .collect())
    }

    async fn insert_signing_key(&self, key: SigningKeyRecord) -> Result<(), StoreError> {
        signing_key::ActiveModel {
            kid: Set(key.kid),
            secret_key: Set(key.secret_key),
            created_at_ms: Set(key.created_at_ms),
        }
        .insert(&self.db)
        .await?;
        Ok(())
    }

    async fn replace_signing_key(
        &self,
        kid: &str,
        current: &[u8],
        replacement: Vec<u8>,
    ) -> Result<bool, StoreError> {
        let replaced = signing_key::Entity::update_many()
            .col_expr(signing_key::Column::SecretKey, Expr::value(replacement))
            .filter(signing_key::Column::Kid.eq(kid))
            .filter(signing_key::Column::SecretKey.eq(current.to_vec()))
            .exec(&self.db)
            .await?;
        Ok(replaced.rows_affected == 1)
    }

    async fn create_user_with_code(
        &self,
        user: UserRecord,
        issue: CodeIssue,
    ) -> Result<UserRecord, StoreError> {
        sea_contacts::create_user_with_code(&self.db, user, issue).await
    }

    async fn users_by_emails(&self, emails: &[String]) -> Result<Vec<UserRecord>, StoreError> {
        sea_contacts::users_by_emails(&self.db, emails).await
    }

    async fn contact_code(
        &self,
        user_id: &str,
        kind: Contact,
    ) -> Result<Option<ContactCode>, StoreError> {
        sea_contacts::contact_code(&self.db, user_id, kind).await
    }

    async fn replace_code(
        &self,
        issue: CodeIssue,
        replaceable_up_to_ms: i64,
    ) -> Result<bool, StoreError> {
        sea_contacts::replace_code(&self.db, issue, replaceable_up_to_ms).await
    }

    async fn spend_code_try(
        &self,
        user_id: &str,
        kind: Contact,
        code_hash: &str,
    ) -> Result<bool, StoreError> {
        sea_contacts::spend_code_try(&self.db, user_id, kind, code_hash).await
    }

    async fn verify_contact(
        &self,
        user_id: &str,
        kind: Contact,
        code_hash: &str,
        now_ms: i64,
    ) -> Result<Option<UserRecord>, StoreError> {
        sea_contacts::verify_contact(&self.db, user_id, kind, code_hash, now_ms).await
    }

    async fn mark_email_verified(&self, id: &str, at_ms: i64) -> Result<UserRecord, StoreError> {
        sea_contacts::mark_email_verified(&self.db, id, at_ms).await
    }
}
