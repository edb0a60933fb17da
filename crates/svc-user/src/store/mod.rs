//! The user store port, and its sea-orm adapter for PostgreSQL and SQLite.

mod entities;
mod migrations;
mod sea;

use async_trait::async_trait;

pub use migrations::MIGRATIONS;
pub use sea::SeaUserStore;

/// A stored account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub phone: String,
    pub role: StoredRole,
    pub notification_channel: String,
    pub password_hash: String,
    pub disabled: bool,
    pub created_at_ms: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredRole {
    Voter,
    Admin,
}

impl StoredRole {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Voter => "voter",
            Self::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Self {
        if text == "admin" {
            Self::Admin
        } else {
            Self::Voter
        }
    }
}

/// Fields of a profile update; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    pub phone: Option<String>,
    pub notification_channel: Option<String>,
}

/// Which users to list: by email, after `after_email`.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    pub email_contains: Option<String>,
    pub role: Option<StoredRole>,
    pub include_disabled: bool,
    pub after_email: Option<String>,
    pub limit: u64,
}

/// A refresh token as stored: only its hash.
#[derive(Clone, Debug)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub user_id: String,
    pub family_id: String,
    pub expires_at_ms: i64,
}

/// What rotating a refresh token found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// Spent and replaced; the token belonged to this user.
    Rotated { user_id: String },
    /// Unknown or expired.
    Invalid,
    /// Already spent: a sign of theft, so its whole family was revoked.
    Reused,
}

/// A stored Ed25519 signing key.
#[derive(Clone, Debug)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub secret_key: Vec<u8>,
    pub created_at_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("email is already registered")]
    DuplicateEmail,
    #[error("no such user")]
    UserNotFound,
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
}

impl From<StoreError> for kit::ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::DuplicateEmail => {
                kit::ServiceError::AlreadyExists("email: already registered".into())
            }
            StoreError::UserNotFound => kit::ServiceError::NotFound("user_id: no such user".into()),
            StoreError::Database(error) => kit::ServiceError::internal(error),
        }
    }
}

/// Everything svc-user keeps.
#[async_trait]
pub trait UserStore: Send + Sync {
    async fn create_user(&self, user: UserRecord) -> Result<UserRecord, StoreError>;
    async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<UserRecord>, StoreError>;
    async fn update_profile(&self, id: &str, patch: ProfilePatch)
        -> Result<UserRecord, StoreError>;
    async fn set_password_hash(&self, id: &str, hash: &str) -> Result<(), StoreError>;
    async fn set_role(&self, id: &str, role: StoredRole) -> Result<UserRecord, StoreError>;
    async fn set_disabled(&self, id: &str, disabled: bool) -> Result<UserRecord, StoreError>;
    async fn list_users(&self, filter: UserFilter) -> Result<Vec<UserRecord>, StoreError>;
    /// Enabled admins.
    async fn count_active_admins(&self) -> Result<u64, StoreError>;

    async fn insert_refresh_token(&self, token: RefreshTokenRecord) -> Result<(), StoreError>;
    /// Atomically spends `presented_hash` and stores `replacement` in the same family.
    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        replacement: RefreshTokenRecord,
        now_ms: i64,
    ) -> Result<Rotation, StoreError>;
    /// Revokes one token of a user; false when it was not theirs or already spent.
    async fn revoke_refresh_token(
        &self,
        user_id: &str,
        token_hash: &str,
    ) -> Result<bool, StoreError>;
    async fn revoke_all_refresh_tokens(&self, user_id: &str) -> Result<u64, StoreError>;

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    async fn insert_signing_key(&self, key: SigningKeyRecord) -> Result<(), StoreError>;
}
