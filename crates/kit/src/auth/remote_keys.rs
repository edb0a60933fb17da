//! Token verification keys fetched from svc-user's GetSigningKeys (the JWKS equivalent),
//! cached, and refetched on an unknown kid at most once a second.

use std::{
    collections::HashMap,
    sync::RwLock,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use ed25519_dalek::VerifyingKey;
use proto_gen::user::v1::{user_service_client::UserServiceClient, GetSigningKeysRequest};

use super::{KeyProvider, KeySet};
use crate::discovery::Balanced;

const REFETCH_INTERVAL: Duration = Duration::from_secs(1);
/// The service that issues tokens and serves their keys.
pub const USER_SERVICE: &str = "votemesh.user.v1.UserService";

pub struct RemoteKeys {
    users: Balanced,
    keys: RwLock<KeySet>,
    /// Held across a fetch, so concurrent misses wait for it instead of finding nothing.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl RemoteKeys {
    /// Fetches from the svc-user instances in `users`.
    pub fn new(users: Balanced) -> Self {
        Self {
            users,
            keys: RwLock::new(HashMap::new()),
            last_fetch: tokio::sync::Mutex::new(None),
        }
    }

    async fn refetch(&self, kid: &str) {
        let mut last = self.last_fetch.lock().await;
        if self.cached(kid).is_some() || last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        let Some(channel) = self.users.pick_within(REFETCH_INTERVAL).await else {
            tracing::warn!("no svc-user instance to fetch signing keys from");
            return;
        };
        match UserServiceClient::new(channel)
            .get_signing_keys(GetSigningKeysRequest {})
            .await
        {
            Ok(response) => {
                let fetched: KeySet = response
                    .into_inner()
                    .keys
                    .into_iter()
                    .filter(|key| key.algorithm == "EdDSA")
                    .filter_map(|key| {
                        let bytes: [u8; 32] = key.public_key.as_slice().try_into().ok()?;
                        Some((key.kid, VerifyingKey::from_bytes(&bytes).ok()?))
                    })
                    .collect();
                let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
                *keys = fetched;
            }
            Err(status) => tracing::warn!(%status, "fetching signing keys failed"),
        }
    }
}

impl RemoteKeys {
    fn cached(&self, kid: &str) -> Option<VerifyingKey> {
        self.keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(kid)
            .copied()
    }
}

#[async_trait]
impl KeyProvider for RemoteKeys {
    async fn key(&self, kid: &str) -> Option<VerifyingKey> {
        if let Some(key) = self.cached(kid) {
            return Some(key);
        }
        self.refetch(kid).await;
        self.cached(kid)
    }
}
