//! The user store port, and its sea-orm adapter for PostgreSQL and SQLite.

mod entities;
mod migrations;
mod sea;
mod sea_contacts;

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
    /// When the owner proved the email with a code; `None` while unproven.
    pub email_verified_at_ms: Option<i64>,
    /// When the owner proved the phone with a code; `None` while unproven or absent.
    pub phone_verified_at_ms: Option<i64>,
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

/// Which of a user's addresses a code proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Contact {
    Email,
    Phone,
}

impl Contact {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Phone => "phone",
        }
    }
}

/// A pending verification code: only its keyed hash is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactCode {
    pub user_id: String,
    pub kind: Contact,
    /// The address the code was sent to.
    pub address: String,
    pub code_hash: String,
    pub expires_at_ms: i64,
    pub tries_left: i32,
    pub created_at_ms: i64,
}

/// A code and the outbox event that delivers it; the store writes both in the transaction of
/// the change that asked for the code, so a code is sent if and only if it is stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeIssue {
    pub code: ContactCode,
    pub event: kit::bus::Event,
}

/// Fields of a profile update; `None` leaves a field as it is.
///
/// An email or phone that differs from the stored one loses its verification and its pending
/// code; `codes` (for the new addresses) are stored after that, in the same transaction.
#[derive(Clone, Debug, Default)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    pub phone: Option<String>,
    pub notification_channel: Option<String>,
    pub email: Option<String>,
    pub codes: Vec<CodeIssue>,
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
    /// As the key ring wrote it (sealed); the store keeps the bytes opaque.
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
    /// Replaces the hash only while it is still `expected`; false when it changed meanwhile
    /// (a password change must never be undone by a rehash of the old password).
    async fn replace_password_hash(
        &self,
        id: &str,
        expected: &str,
        hash: &str,
    ) -> Result<bool, StoreError>;
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
    /// Stores `replacement` as key `kid`'s bytes if they still are `current`; false when
    /// another writer changed them first (or the key is gone).
    async fn replace_signing_key(
        &self,
        kid: &str,
        current: &[u8],
        replacement: Vec<u8>,
    ) -> Result<bool, StoreError>;

    /// Creates the user with its first code and that code's event, all or nothing.
    async fn create_user_with_code(
        &self,
        user: UserRecord,
        issue: CodeIssue,
    ) -> Result<UserRecord, StoreError>;
    /// The users with these (normalised) emails; missing ones are left out.
    async fn users_by_emails(&self, emails: &[String]) -> Result<Vec<UserRecord>, StoreError>;
    /// The pending code for one of a user's addresses.
    async fn contact_code(
        &self,
        user_id: &str,
        kind: Contact,
    ) -> Result<Option<ContactCode>, StoreError>;
    /// Stores `issue` in place of the address's pending code and appends its event, unless the
    /// pending code was created after `replaceable_up_to_ms`; false then, and nothing changed.
    async fn replace_code(
        &self,
        issue: CodeIssue,
        replaceable_up_to_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Spends one try of the pending code with `code_hash`, only while it has tries left, so
    /// concurrent wrong guesses never get more tries than stored; false when none was left or
    /// that code is no longer the pending one.
    async fn spend_code_try(
        &self,
        user_id: &str,
        kind: Contact,
        code_hash: &str,
    ) -> Result<bool, StoreError>;
    /// Marks the address verified at `now_ms` and deletes its code, in one transaction, if the
    /// code with `code_hash` is still pending, unexpired and has tries left; `None` otherwise.
    async fn verify_contact(
        &self,
        user_id: &str,
        kind: Contact,
        code_hash: &str,
        now_ms: i64,
    ) -> Result<Option<UserRecord>, StoreError>;
    /// Marks the email verified at `at_ms` unless it already is, and drops its pending code
    /// (the bootstrap admin is verified by the operator who configured it).
    async fn mark_email_verified(&self, id: &str, at_ms: i64) -> Result<UserRecord, StoreError>;
}
