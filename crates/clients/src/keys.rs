//! Token verification keys fetched from svc-user's GetSigningKeys (the JWKS equivalent),
//! cached, and refetched on an unknown kid at most once a second; and the verifier every
//! service but svc-user builds from them.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use ed25519_dalek::VerifyingKey;
use kit::{
    auth::{KeyProvider, KeySet, TokenVerifier},
    config::CommonArgs,
};

use crate::{RemoteAccounts, UserClient};

const REFETCH_INTERVAL: Duration = Duration::from_secs(1);

/// The verifier every service but svc-user uses: keys from svc-user's GetSigningKeys, and
/// each signed-in caller's account confirmed with svc-user (cached for
/// `kit::auth::ACCOUNT_STATUS_TTL`, the most a disabled or demoted user keeps acting).
pub fn token_verifier(users: &UserClient, common: &CommonArgs) -> TokenVerifier {
    TokenVerifier::new(
        Arc::new(RemoteKeys::new(users.clone())),
        common.token_expectations(),
    )
    .with_account_status(Arc::new(RemoteAccounts::new(users.clone())))
}

pub struct RemoteKeys {
    users: UserClient,
    keys: RwLock<KeySet>,
    /// Held across a fetch, so concurrent misses wait for it instead of finding nothing.
    last_fetch: tokio::sync::Mutex<Option<Instant>>,
}

impl RemoteKeys {
    pub fn new(users: UserClient) -> Self {
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
        match self.users.get_signing_keys().await {
            Ok(response) => {
                let fetched: KeySet = response
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
            Err(error) => tracing::warn!(%error, "fetching signing keys failed"),
        }
    }

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
