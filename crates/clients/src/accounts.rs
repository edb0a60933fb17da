//! Whether a token's account may still act, and with which role: asked of svc-user and
//! cached for [`ACCOUNT_STATUS_TTL`], so disabling or demoting takes effect within that
//! time everywhere, not when the token expires.

use async_trait::async_trait;
use kit::{
    auth::{AccountStatus, ACCOUNT_STATUS_TTL},
    cache::SingleFlight,
    ServiceError,
};
use proto_gen::user::v1::Role;

use crate::UserClient;

pub struct RemoteAccounts {
    users: UserClient,
    cache: SingleFlight<String, Option<Role>>,
}

impl RemoteAccounts {
    pub fn new(users: UserClient) -> Self {
        Self {
            users,
            cache: SingleFlight::new(ACCOUNT_STATUS_TTL),
        }
    }

    async fn ask(&self, user_id: &str) -> Result<Option<Role>, ServiceError> {
        let status = self
            .users
            .get_account_status(user_id)
            .await
            // Fail closed, and say why: the caller can retry, nothing is wrong with the call.
            .map_err(|error| {
                ServiceError::Unavailable(format!("cannot confirm the account: {error}"))
            })?;
        Ok((status.exists && !status.disabled)
            .then(|| Role::try_from(status.role).unwrap_or(Role::Voter)))
    }
}

#[async_trait]
impl AccountStatus for RemoteAccounts {
    async fn current_role(&self, user_id: &str) -> Result<Option<Role>, ServiceError> {
        self.cache
            .get_or_load(&user_id.to_owned(), || self.ask(user_id))
            .await
    }
}
