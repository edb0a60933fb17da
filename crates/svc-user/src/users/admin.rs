//! What admins do to accounts: list, look up, change roles, disable; and the first-admin
//! bootstrap. The last active admin is never demoted or disabled.

use super::*;

impl Users {
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

    pub(super) async fn target(&self, id: &str) -> Result<UserRecord, ServiceError> {
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

    /// The documented bootstrap: creates the account as admin, or promotes an existing one.
    /// Whoever configures the bootstrap vouches for the address, so the admin is verified.
    /// An existing account is promoted only with its own password: knowing an email must
    /// not be enough to make its account an admin.
    pub async fn ensure_admin(&self, email: &str, password: &str) -> Result<User, ServiceError> {
        let email = validate::email("email", email)?;
        if let Some(existing) = self.store.user_by_email(&email).await? {
            if existing.role != StoredRole::Admin {
                let matches = self
                    .hasher
                    .verify(password.to_owned(), Some(existing.password_hash.clone()))
                    .await?;
                if !matches {
                    return Err(ServiceError::FailedPrecondition(format!(
                        "bootstrap admin {email} exists and the password does not match; \
                         it is not promoted"
                    )));
                }
                self.store.set_role(&existing.id, StoredRole::Admin).await?;
                tracing::info!(user_id = %existing.id, "existing account promoted to bootstrap admin");
            }
            let admin = self
                .store
                .mark_email_verified(&existing.id, now_ms())
                .await?;
            return Ok(to_proto(&admin));
        }
        validate::password("password", password)?;
        let password_hash = self.hasher.hash(password.to_owned()).await?;
        let now = now_ms();
        let created = self
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
                created_at_ms: now,
                email_verified_at_ms: Some(now),
                phone_verified_at_ms: None,
            })
            .await;
        let record = match created {
            // Another instance, started at the same moment, created it first: take it as
            // found, password check and all.
            Err(crate::store::StoreError::DuplicateEmail) => {
                return Box::pin(self.ensure_admin(&email, password)).await
            }
            other => other?,
        };
        tracing::info!(user_id = %record.id, "bootstrap admin created");
        Ok(to_proto(&record))
    }
}
