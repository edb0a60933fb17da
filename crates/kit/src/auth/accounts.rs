//! Whether a token's account may still act, and with which role: asked of svc-user and
//! cached briefly, so disabling or demoting takes effect within the cache time everywhere,
//! not when the token expires.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use proto_gen::user::v1::{user_service_client::UserServiceClient, GetAccountStatusRequest, Role};
use tonic::Status;

use crate::{discovery::Balanced, internal::InternalToken};

/// Beyond this many cached accounts, expired entries are dropped.
const PRUNE_ABOVE: usize = 100_000;

#[async_trait]
pub trait AccountStatus: Send + Sync {
    /// The role the account holds now, or `None` when it is disabled or gone.
    async fn current_role(&self, user_id: &str) -> Result<Option<Role>, Status>;
}

pub struct RemoteAccounts {
    users: Balanced,
    token: InternalToken,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Option<Role>)>>,
}

impl RemoteAccounts {
    pub fn new(users: Balanced, token: InternalToken, ttl: Duration) -> Self {
        Self {
            users,
            token,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, user_id: &str) -> Option<Option<Role>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(user_id)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, role)| *role)
    }
}

#[async_trait]
impl AccountStatus for RemoteAccounts {
    async fn current_role(&self, user_id: &str) -> Result<Option<Role>, Status> {
        if let Some(known) = self.cached(user_id) {
            return Ok(known);
        }
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
        let role = (status.exists && !status.disabled)
            .then(|| Role::try_from(status.role).unwrap_or(Role::Voter));
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > PRUNE_ABOVE {
            let ttl = self.ttl;
            cache.retain(|_, (at, _)| at.elapsed() < ttl);
        }
        cache.insert(user_id.to_owned(), (Instant::now(), role));
        Ok(role)
    }
}
