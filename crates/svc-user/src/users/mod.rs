//! The account domain: what svc-user does, independent of the wire.

mod admin;
mod contacts;
mod sessions;

use std::sync::Arc;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use kit::{
    auth::{role_claim, sign, Caller, Claims},
    ServiceError,
};
use proto_gen::user::v1::{
    ChangePasswordRequest, DisableUserRequest, GetAccountStatusResponse, GetContactResponse,
    GetSigningKeysResponse, ListUsersRequest, ListUsersResponse, LoginRequest, LoginResponse,
    LogoutRequest, NotificationChannel, RefreshRequest, RefreshResponse, RegisterRequest, Role,
    SetRoleRequest, SigningKey, UpdateMeRequest, User,
};
use sha2::{Digest, Sha256};

pub use contacts::{CodeSettings, CODE_TRIES, CODE_TTL_MS, MAX_FIND_EMAILS, RESEND_INTERVAL_MS};

use crate::{
    keys::KeyRing,
    password::PasswordHasher,
    store::{
        Contact, ProfilePatch, RefreshTokenRecord, Rotation, StoredRole, UserFilter, UserRecord,
        UserStore,
    },
    validate,
};
use kit::time::{now_ms, timestamp};

/// Token lifetimes and the claims every token carries.
#[derive(Clone, Debug)]
pub struct TokenSettings {
    pub access_ttl_seconds: u32,
    pub refresh_ttl_seconds: u64,
    pub issuer: String,
    pub audience: String,
}

pub struct Users {
    store: Arc<dyn UserStore>,
    hasher: PasswordHasher,
    keys: Arc<KeyRing>,
    tokens: TokenSettings,
    codes: CodeSettings,
    /// Failed sign-ins per account (by email, known or not, so it tells nobody which exist).
    failed_sign_ins: kit::ratelimit::Buckets,
}

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 200;

fn channel_name(channel: NotificationChannel) -> &'static str {
    match channel {
        NotificationChannel::None => "none",
        NotificationChannel::Sms => "sms",
        NotificationChannel::Email | NotificationChannel::Unspecified => "email",
    }
}

fn channel_from_name(name: &str) -> NotificationChannel {
    match name {
        "none" => NotificationChannel::None,
        "sms" => NotificationChannel::Sms,
        _ => NotificationChannel::Email,
    }
}

fn role_of(stored: StoredRole) -> Role {
    match stored {
        StoredRole::Admin => Role::Admin,
        StoredRole::Voter => Role::Voter,
    }
}

pub fn to_proto(record: &UserRecord) -> User {
    User {
        user_id: record.id.clone(),
        email: record.email.clone(),
        display_name: record.display_name.clone(),
        phone: record.phone.clone(),
        role: role_of(record.role) as i32,
        notification_channel: channel_from_name(&record.notification_channel) as i32,
        disabled: record.disabled,
        created_at: Some(timestamp(record.created_at_ms)),
        email_verified: record.email_verified_at_ms.is_some(),
        phone_verified: record.phone_verified_at_ms.is_some(),
    }
}

fn hash_refresh_token(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn user_id(value: &str) -> Result<String, ServiceError> {
    uuid::Uuid::parse_str(value)
        .map(|id| id.to_string())
        .map_err(|_| ServiceError::invalid("user_id", "not a valid user id"))
}

/// The channel an update asks for, if any; UNSPECIFIED is not a choice.
fn requested_channel(value: Option<i32>) -> Result<Option<NotificationChannel>, ServiceError> {
    match value.map(NotificationChannel::try_from) {
        None => Ok(None),
        Some(Ok(NotificationChannel::Unspecified) | Err(_)) => Err(ServiceError::invalid(
            "notification_channel",
            "must be NONE, EMAIL or SMS",
        )),
        Some(Ok(channel)) => Ok(Some(channel)),
    }
}

fn invalid_credentials() -> ServiceError {
    ServiceError::Unauthenticated("invalid email or password".into())
}

impl Users {
    pub fn new(
        store: Arc<dyn UserStore>,
        hasher: PasswordHasher,
        keys: Arc<KeyRing>,
        tokens: TokenSettings,
        codes: CodeSettings,
        failed_sign_ins: kit::ratelimit::Buckets,
    ) -> Self {
        Self {
            store,
            hasher,
            keys,
            tokens,
            codes,
            failed_sign_ins,
        }
    }

    /// The caller's stored account, which must still exist and be enabled: this is what makes
    /// a disabled user's unexpired tokens stop working.
    async fn active(&self, caller: &Caller) -> Result<UserRecord, ServiceError> {
        match self.store.user_by_id(&caller.user_id).await? {
            Some(user) if !user.disabled => Ok(user),
            _ => Err(ServiceError::Unauthenticated(
                "account is disabled or no longer exists".into(),
            )),
        }
    }

    /// Like [`active`](Self::active), and the stored role must be admin now, not just in the token.
    async fn active_admin(&self, caller: &Caller) -> Result<UserRecord, ServiceError> {
        let user = self.active(caller).await?;
        if user.role != StoredRole::Admin {
            return Err(ServiceError::PermissionDenied("admin role required".into()));
        }
        Ok(user)
    }

    fn access_token(&self, user: &UserRecord) -> String {
        let now = now_ms() / 1000;
        let claims = Claims {
            iss: self.tokens.issuer.clone(),
            aud: self.tokens.audience.clone(),
            sub: user.id.clone(),
            role: role_claim(role_of(user.role)).to_owned(),
            iat: now,
            exp: now + i64::from(self.tokens.access_ttl_seconds),
            jti: uuid::Uuid::new_v4().to_string(),
        };
        let (kid, key) = self.keys.signer();
        sign(&key, &kid, &claims)
    }

    fn refresh_record(&self, token: &str, user_id: &str, family_id: &str) -> RefreshTokenRecord {
        RefreshTokenRecord {
            token_hash: hash_refresh_token(token),
            user_id: user_id.to_owned(),
            family_id: family_id.to_owned(),
            expires_at_ms: now_ms() + (self.tokens.refresh_ttl_seconds as i64) * 1000,
        }
    }

    pub async fn register(&self, request: RegisterRequest) -> Result<User, ServiceError> {
        let email = validate::email("email", &request.email)?;
        validate::password("password", &request.password)?;
        let display_name = validate::display_name("display_name", &request.display_name)?;
        if self.store.user_by_email(&email).await?.is_some() {
            return Err(ServiceError::AlreadyExists(
                "email: already registered".into(),
            ));
        }
        let password_hash = self.hasher.hash(request.password).await?;
        let now = now_ms();
        let record = UserRecord {
            id: uuid::Uuid::new_v4().to_string(),
            email,
            display_name,
            phone: String::new(),
            role: StoredRole::Voter,
            notification_channel: channel_name(NotificationChannel::Email).into(),
            password_hash,
            disabled: false,
            created_at_ms: now,
            email_verified_at_ms: None,
            phone_verified_at_ms: None,
        };
        if self.codes.trust_registered_emails {
            let record = UserRecord {
                email_verified_at_ms: Some(now),
                ..record
            };
            return Ok(to_proto(&self.store.create_user(record).await?));
        }
        // The account and the code that proves its email commit together: no account is
        // left without a code on its way.
        let issue = self.issue_code(
            &record.id,
            &record.display_name,
            Contact::Email,
            &record.email,
            now,
        );
        let record = self.store.create_user_with_code(record, issue).await?;
        self.outbox_written();
        tracing::info!(user_id = %record.id, "user registered");
        Ok(to_proto(&record))
    }

    pub async fn me(&self, caller: &Caller) -> Result<User, ServiceError> {
        Ok(to_proto(&self.active(caller).await?))
    }

    pub async fn update_me(
        &self,
        caller: &Caller,
        request: UpdateMeRequest,
    ) -> Result<User, ServiceError> {
        let user = self.active(caller).await?;
        let display_name = request
            .display_name
            .as_deref()
            .map(|name| validate::display_name("display_name", name))
            .transpose()?;
        let phone = request
            .phone
            .as_deref()
            .map(|phone| validate::phone("phone", phone))
            .transpose()?;
        let email = request
            .email
            .as_deref()
            .map(|email| validate::email("email", email))
            .transpose()?;
        let channel = requested_channel(request.notification_channel)?;
        let resulting_phone = phone.clone().unwrap_or_else(|| user.phone.clone());
        let resulting_channel =
            channel.unwrap_or_else(|| channel_from_name(&user.notification_channel));
        if resulting_channel == NotificationChannel::Sms && resulting_phone.is_empty() {
            return Err(ServiceError::invalid(
                "notification_channel",
                "SMS needs a phone number",
            ));
        }
        let codes = self
            .codes_for_change(
                &user,
                email.as_deref(),
                phone.as_deref(),
                display_name.as_deref(),
            )
            .await?;
        let wrote_events = !codes.is_empty();
        let patch = ProfilePatch {
            display_name,
            phone,
            notification_channel: channel.map(|c| channel_name(c).to_owned()),
            email,
            codes,
        };
        let updated = self.store.update_profile(&user.id, patch).await?;
        if wrote_events {
            self.outbox_written();
        }
        Ok(to_proto(&updated))
    }

    pub async fn change_password(
        &self,
        caller: &Caller,
        request: ChangePasswordRequest,
    ) -> Result<(), ServiceError> {
        let user = self.active(caller).await?;
        validate::password("new_password", &request.new_password)?;
        if !self
            .hasher
            .verify(request.current_password, Some(user.password_hash.clone()))
            .await?
        {
            return Err(ServiceError::invalid("current_password", "does not match"));
        }
        let hash = self.hasher.hash(request.new_password).await?;
        self.store.set_password_hash(&user.id, &hash).await?;
        self.store.revoke_all_refresh_tokens(&user.id).await?;
        Ok(())
    }

    pub async fn account_status(&self, id: &str) -> Result<GetAccountStatusResponse, ServiceError> {
        let Ok(id) = user_id(id) else {
            return Ok(GetAccountStatusResponse::default());
        };
        Ok(match self.store.user_by_id(&id).await? {
            Some(user) => GetAccountStatusResponse {
                exists: true,
                disabled: user.disabled,
                role: role_of(user.role) as i32,
                email_verified: user.email_verified_at_ms.is_some(),
            },
            None => GetAccountStatusResponse::default(),
        })
    }

    pub async fn contact(&self, id: &str) -> Result<GetContactResponse, ServiceError> {
        Ok(contacts::contact_response(&self.target(id).await?))
    }
}
