//! Where verifying keys come from: a fixed set, svc-user's own store, or svc-user's
//! GetSigningKeys RPC (the JWKS equivalent), behind one trait.

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use ed25519_dalek::VerifyingKey;

use super::{
    accounts::AccountStatus,
    jwt::{parse_header, verify_with, Claims, Expectations, TokenError},
};

/// Verifying keys by kid.
pub type KeySet = HashMap<String, VerifyingKey>;

/// Looks up a verifying key by kid, refreshing its source on a miss if it can.
#[async_trait]
pub trait KeyProvider: Send + Sync {
    async fn key(&self, kid: &str) -> Option<VerifyingKey>;
}

/// A fixed key set.
pub struct StaticKeys(pub KeySet);

#[async_trait]
impl KeyProvider for StaticKeys {
    async fn key(&self, kid: &str) -> Option<VerifyingKey> {
        self.0.get(kid).copied()
    }
}

/// Verifies access tokens: picks the key by kid, checks the signature, then the claims.
#[derive(Clone)]
pub struct TokenVerifier {
    keys: Arc<dyn KeyProvider>,
    expect: Expectations,
    accounts: Option<Arc<dyn AccountStatus>>,
}

impl TokenVerifier {
    pub fn new(keys: Arc<dyn KeyProvider>, expect: Expectations) -> Self {
        Self {
            keys,
            expect,
            accounts: None,
        }
    }

    /// Also confirms each signed-in caller's account and takes its current role from there.
    pub fn with_account_status(mut self, accounts: Arc<dyn AccountStatus>) -> Self {
        self.accounts = Some(accounts);
        self
    }

    pub fn account_status(&self) -> Option<&dyn AccountStatus> {
        self.accounts.as_deref()
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = parse_header(token)?;
        let kid = header.kid.ok_or(TokenError::MissingKeyId)?;
        let key = self.keys.key(&kid).await.ok_or(TokenError::UnknownKey)?;
        verify_with(token, &key, &self.expect, chrono_now())
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
