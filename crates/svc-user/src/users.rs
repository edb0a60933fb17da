//! The account domain: what svc-user does, independent of the wire.

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

use crate::{
    keys::KeyRing,
    password::PasswordHasher,
    store::{
        ProfilePatch, RefreshTokenRecord, Rotation, StoredRole, UserFilter, UserRecord, UserStore,
    },
    validate,
};

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
}

const DEFAULT_PAGE_SIZE: u32 = 50;
const MAX_PAGE_SIZE: u32 = 200;

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

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

fn invalid_credentials() -> ServiceError {
    ServiceError::Unauthenticated("invalid email or password".into())
}

impl Users {
    pub fn new(
        store: Arc<dyn UserStore>,
        hasher: PasswordHasher,
        keys: Arc<KeyRing>,
        tokens: TokenSettings,
    ) -> Self {
        Self {
            store,
            hasher,
            keys,
            tokens,
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
        let record = self
            .store
            .create_user(UserRecord {
                id: uuid::Uuid::new_v4().to_string(),
                email,
                display_name,
                phone: String::new(),
                role: StoredRole::Voter,
                notification_channel: channel_name(NotificationChannel::Email).into(),
                password_hash,
                disabled: false,
                created_at_ms: now_ms(),
            })
            .await?;
        tracing::info!(user_id = %record.id, "user registered");
        Ok(to_proto(&record))
    }

    pub async fn login(&self, request: LoginRequest) -> Result<LoginResponse, ServiceError> {
        // A malformed email still pays for a hash, so timing tells nothing.
        let email = validate::email("email", &request.email).unwrap_or_default();
        let user = if email.is_empty() {
            None
        } else {
            self.store.user_by_email(&email).await?
        };
        let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
        if !self.hasher.verify(request.password, stored_hash).await? {
            return Err(invalid_credentials());
        }
        let user = user.ok_or_else(invalid_credentials)?;
        if user.disabled {
            return Err(ServiceError::PermissionDenied("account is disabled".into()));
        }
        let refresh_token = new_refresh_token();
        let family = uuid::Uuid::new_v4().to_string();
        self.store
            .insert_refresh_token(self.refresh_record(&refresh_token, &user.id, &family))
            .await?;
        Ok(LoginResponse {
            access_token: self.access_token(&user),
            expires_in: self.tokens.access_ttl_seconds,
            refresh_token,
            user: Some(to_proto(&user)),
        })
    }

    pub async fn refresh(&self, request: RefreshRequest) -> Result<RefreshResponse, ServiceError> {
        if request.refresh_token.is_empty() {
            return Err(ServiceError::invalid("refresh_token", "required"));
        }
        let replacement = new_refresh_token();
        // The family is carried over by the store; the id here is a placeholder.
        let record = self.refresh_record(&replacement, "", "");
        let rotation = self
            .store
            .rotate_refresh_token(
                &hash_refresh_token(&request.refresh_token),
                record,
                now_ms(),
            )
            .await?;
        let user_id = match rotation {
            Rotation::Rotated { user_id } => user_id,
            Rotation::Invalid => {
                return Err(ServiceError::Unauthenticated(
                    "refresh token is not valid".into(),
                ))
            }
            Rotation::Reused => {
                tracing::warn!("a spent refresh token was presented again; its family is revoked");
                return Err(ServiceError::Unauthenticated(
                    "refresh token is not valid".into(),
                ));
            }
        };
        let user = match self.store.user_by_id(&user_id).await? {
            Some(user) if !user.disabled => user,
            _ => return Err(ServiceError::Unauthenticated("account is disabled".into())),
        };
        Ok(RefreshResponse {
            access_token: self.access_token(&user),
            expires_in: self.tokens.access_ttl_seconds,
            refresh_token: replacement,
        })
    }

    pub async fn logout(
        &self,
        caller: &Caller,
        request: LogoutRequest,
    ) -> Result<(), ServiceError> {
        let user = self.active(caller).await?;
        if request.all_sessions {
            self.store.revoke_all_refresh_tokens(&user.id).await?;
            return Ok(());
        }
        if request.refresh_token.is_empty() {
            return Err(ServiceError::invalid(
                "refresh_token",
                "required unless all_sessions is set",
            ));
        }
        self.store
            .revoke_refresh_token(&user.id, &hash_refresh_token(&request.refresh_token))
            .await?;
        Ok(())
    }

    pub async fn signing_keys(&self) -> Result<GetSigningKeysResponse, ServiceError> {
        let keys = self
            .keys
            .public_keys()
            .await
            .map_err(ServiceError::internal)?
            .into_iter()
            .map(|(kid, key)| SigningKey {
                kid,
                algorithm: "EdDSA".into(),
                public_key: key.to_bytes().to_vec(),
            })
            .collect();
        Ok(GetSigningKeysResponse { keys })
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
        let channel = match request.notification_channel {
            Some(value) => match NotificationChannel::try_from(value) {
                Ok(NotificationChannel::Unspecified) | Err(_) => {
                    return Err(ServiceError::invalid(
                        "notification_channel",
                        "must be NONE, EMAIL or SMS",
                    ))
                }
                Ok(channel) => Some(channel),
            },
            None => None,
        };
        let resulting_phone = phone.clone().unwrap_or_else(|| user.phone.clone());
        let resulting_channel =
            channel.unwrap_or_else(|| channel_from_name(&user.notification_channel));
        if resulting_channel == NotificationChannel::Sms && resulting_phone.is_empty() {
            return Err(ServiceError::invalid(
                "notification_channel",
                "SMS needs a phone number",
            ));
        }
        let patch = ProfilePatch {
            display_name,
            phone,
            notification_channel: channel.map(|c| channel_name(c).to_owned()),
        };
        Ok(to_proto(&self.store.update_profile(&user.id, patch).await?))
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

    pub async fn list_users(
        &self,
        caller: &Caller,
        request: ListUsersRequest,
    ) -> Result<ListUsersResponse, ServiceError> {
        self.active_admin(caller).await?;
        let page_size = match request.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n > MAX_PAGE_SIZE => {
                return Err(ServiceError::invalid(
                    "page_size",
                    format!("must be at most {MAX_PAGE_SIZE}"),
                ))
            }
            n => n,
        };
        let after_email =
            if request.page_token.is_empty() {
                None
            } else {
                let bytes = URL_SAFE_NO_PAD.decode(&request.page_token).map_err(|_| {
                    ServiceError::invalid("page_token", "not a token from this API")
                })?;
                Some(String::from_utf8(bytes).map_err(|_| {
                    ServiceError::invalid("page_token", "not a token from this API")
                })?)
            };
        let role = match Role::try_from(request.role) {
            Ok(Role::Unspecified) => None,
            Ok(Role::Voter) => Some(StoredRole::Voter),
            Ok(Role::Admin) => Some(StoredRole::Admin),
            Err(_) => return Err(ServiceError::invalid("role", "unknown role")),
        };
        let mut users = self
            .store
            .list_users(UserFilter {
                email_contains: Some(request.email_contains),
                role,
                include_disabled: request.include_disabled,
                after_email,
                limit: u64::from(page_size) + 1,
            })
            .await?;
        let next_page_token = if users.len() > page_size as usize {
            users.truncate(page_size as usize);
            users
                .last()
                .map(|u| URL_SAFE_NO_PAD.encode(u.email.as_bytes()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(ListUsersResponse {
            users: users.iter().map(to_proto).collect(),
            next_page_token,
        })
    }

    pub async fn get_user(&self, caller: &Caller, id: &str) -> Result<User, ServiceError> {
        self.active_admin(caller).await?;
        let id = user_id(id)?;
        let user = self
            .store
            .user_by_id(&id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("user_id: no such user".into()))?;
        Ok(to_proto(&user))
    }

    /// Refuses a change that would leave no enabled admin.
    async fn keep_an_admin(&self, target: &UserRecord) -> Result<(), ServiceError> {
        if target.role == StoredRole::Admin
            && !target.disabled
            && self.store.count_active_admins().await? <= 1
        {
            return Err(ServiceError::FailedPrecondition(
                "this is the last enabled admin".into(),
            ));
        }
        Ok(())
    }

    async fn target(&self, id: &str) -> Result<UserRecord, ServiceError> {
        let id = user_id(id)?;
        self.store
            .user_by_id(&id)
            .await?
            .ok_or_else(|| ServiceError::NotFound("user_id: no such user".into()))
    }

    pub async fn set_role(
        &self,
        caller: &Caller,
        request: SetRoleRequest,
    ) -> Result<User, ServiceError> {
        self.active_admin(caller).await?;
        let role = match Role::try_from(request.role) {
            Ok(Role::Voter) => StoredRole::Voter,
            Ok(Role::Admin) => StoredRole::Admin,
            _ => {
                return Err(ServiceError::invalid(
                    "role",
                    "must be ROLE_VOTER or ROLE_ADMIN",
                ))
            }
        };
        let target = self.target(&request.user_id).await?;
        if role == StoredRole::Voter {
            self.keep_an_admin(&target).await?;
        }
        Ok(to_proto(&self.store.set_role(&target.id, role).await?))
    }

    pub async fn disable_user(
        &self,
        caller: &Caller,
        request: DisableUserRequest,
    ) -> Result<User, ServiceError> {
        self.active_admin(caller).await?;
        let target = self.target(&request.user_id).await?;
        if request.disabled {
            self.keep_an_admin(&target).await?;
        }
        let updated = self
            .store
            .set_disabled(&target.id, request.disabled)
            .await?;
        if request.disabled {
            self.store.revoke_all_refresh_tokens(&target.id).await?;
        }
        tracing::info!(user_id = %target.id, disabled = request.disabled, "user disabled flag changed");
        Ok(to_proto(&updated))
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
            },
            None => GetAccountStatusResponse::default(),
        })
    }

    pub async fn contact(&self, id: &str) -> Result<GetContactResponse, ServiceError> {
        let user = self.target(id).await?;
        Ok(GetContactResponse {
            email: user.email,
            phone: user.phone,
            display_name: user.display_name,
            notification_channel: channel_from_name(&user.notification_channel) as i32,
        })
    }

    /// The documented bootstrap: creates the account as admin, or promotes an existing one.
    pub async fn ensure_admin(&self, email: &str, password: &str) -> Result<User, ServiceError> {
        let email = validate::email("email", email)?;
        if let Some(existing) = self.store.user_by_email(&email).await? {
            let promoted = self.store.set_role(&existing.id, StoredRole::Admin).await?;
            return Ok(to_proto(&promoted));
        }
        validate::password("password", password)?;
        let password_hash = self.hasher.hash(password.to_owned()).await?;
        let record = self
            .store
            .create_user(UserRecord {
                id: uuid::Uuid::new_v4().to_string(),
                email: email.clone(),
                display_name: "Administrator".into(),
                phone: String::new(),
                role: StoredRole::Admin,
                notification_channel: channel_name(NotificationChannel::Email).into(),
                password_hash,
                disabled: false,
                created_at_ms: now_ms(),
            })
            .await?;
        tracing::info!(user_id = %record.id, "bootstrap admin created");
        Ok(to_proto(&record))
    }
}
