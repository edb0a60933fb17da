//! Signing in and out: passwords for tokens, refresh-token rotation with theft detection.

use super::*;

/// Too many failed sign-ins for one account.
fn throttled(seconds: u64) -> ServiceError {
    ServiceError::ResourceExhausted(format!(
        "too many failed sign-ins for this account; retry in {seconds}s"
    ))
}

impl Users {
    pub async fn login(&self, request: LoginRequest) -> Result<LoginResponse, ServiceError> {
        // A malformed email still pays for a hash, so timing tells nothing.
        let email = validate::email("email", &request.email).unwrap_or_default();
        let user = if email.is_empty() {
            None
        } else {
            self.store.user_by_email(&email).await?
        };
        let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
        // Decided before verify consumes the password, so it is kept only when needed.
        let rehash_with = stored_hash
            .as_deref()
            .is_some_and(|hash| self.hasher.needs_rehash(hash))
            .then(|| request.password.clone());
        // Only failures count against the account: checked before the attempt costs a
        // hash, charged when it fails. Concurrent guesses can pass the check together, at
        // most as many as the hash queue holds.
        self.failed_sign_ins
            .check(&email)
            .map_err(|wait| throttled(wait.as_secs().max(1)))?;
        if !self.hasher.verify(request.password, stored_hash).await? {
            let _ = self.failed_sign_ins.take(&email);
            return Err(invalid_credentials());
        }
        let user = user.ok_or_else(invalid_credentials)?;
        if user.disabled {
            return Err(ServiceError::PermissionDenied("account is disabled".into()));
        }
        if let Some(password) = rehash_with {
            self.upgrade_password_hash(&user, password).await;
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

    /// Replaces a below-policy hash after its password verified. Best effort: the login has
    /// already succeeded, and the old hash still works, so a failure here is only logged.
    async fn upgrade_password_hash(&self, user: &UserRecord, password: String) {
        let hash = match self.hasher.hash(password).await {
            Ok(hash) => hash,
            Err(error) => {
                tracing::warn!(user_id = %user.id, %error, "could not rehash a below-policy password");
                return;
            }
        };
        // A password change that landed while this hash was computed must not be overwritten
        // with the old password: the store replaces the hash only if it is still the one read.
        match self
            .store
            .replace_password_hash(&user.id, &user.password_hash, &hash)
            .await
        {
            Ok(true) => {
                tracing::info!(user_id = %user.id, "password hash upgraded to current policy")
            }
            Ok(false) => {}
            Err(error) => {
                tracing::warn!(user_id = %user.id, %error, "could not store an upgraded password hash")
            }
        }
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
}

#[cfg(test)]
#[path = "rehash_tests.rs"]
mod rehash_tests;
