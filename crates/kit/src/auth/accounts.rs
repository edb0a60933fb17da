//! Whether a token's account may still act, and with which role: asked of svc-user and
//! cached briefly, so disabling or demoting takes effect within the cache time everywhere,
//! not when the token expires.

use std::time::Duration;

use async_trait::async_trait;
use proto_gen::user::v1::{user_service_client::UserServiceClient, GetAccountStatusRequest, Role};
use tonic::Status;

use crate::{cache::SingleFlight, discovery::Balanced, internal::InternalToken};

#[async_trait]
pub trait AccountStatus: Send + Sync {
    /// The role the account holds now, or `None` when it is disabled or gone.
    async fn current_role(&self, user_id: &str) -> Result<Option<Role>, Status>;
}

pub struct RemoteAccounts {
    users: Balanced,
    token: InternalToken,
    cache: SingleFlight<String, Option<Role>>,
}

impl RemoteAccounts {
    pub fn new(users: Balanced, token: InternalToken, ttl: Duration) -> Self {
        Self {
            users,
            token,
            cache: SingleFlight::new(ttl),
        }
    }

    async fn ask(&self, user_id: &str) -> Result<Option<Role>, Status> {
        let channel = self
            .users
            .pick_within(Duration::from_secs(2))
            .await
            .ok_or_else(|| Status::unavailable("svc-user is unavailable to confirm the account"))?;
        let status = UserServiceClient::with_interceptor(channel, self.token.clone())
            .get_account_status(GetAccountStatusRequest {
                user_id: user_id.to_owned(),
            })
            .await
            .map_err(|error| {
                Status::unavailable(format!("cannot confirm the account: {}", error.message()))
            })?
            .into_inner();
        Ok((status.exists && !status.disabled)
            .then(|| Role::try_from(status.role).unwrap_or(Role::Voter)))
    }
}

#[async_trait]
impl AccountStatus for RemoteAccounts {
    async fn current_role(&self, user_id: &str) -> Result<Option<Role>, Status> {
        self.cache
            .get_or_load(&user_id.to_owned(), || self.ask(user_id))
            .await
    }
}
