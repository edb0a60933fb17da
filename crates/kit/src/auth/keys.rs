//! Where verifying keys come from: a fixed set, svc-user's own store, or svc-user's
//! GetSigningKeys RPC (the JWKS equivalent), behind one trait.

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use ed25519_dalek::VerifyingKey;

use super::{
    accounts::AccountStatus,
    jwt::{parse_header, verify_with, Claims, Expectations, TokenError},
};

/// How long a confirmed account stays confirmed.
pub const ACCOUNT_STATUS_TTL: std::time::Duration = std::time::Duration::from_secs(2);

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

    /// The verifier every service but svc-user uses: keys from svc-user's GetSigningKeys, and
    /// each signed-in caller's account confirmed with svc-user (cached for
    /// [`ACCOUNT_STATUS_TTL`], the most a disabled or demoted user keeps acting).
    pub fn from_user_service(
        users: crate::discovery::Balanced,
        common: &crate::config::CommonArgs,
    ) -> anyhow::Result<Self> {
        let accounts = super::RemoteAccounts::new(
            users.clone(),
            crate::internal::InternalToken::new(&common.internal_token)?,
            ACCOUNT_STATUS_TTL,
        );
        Ok(Self::new(
            Arc::new(super::RemoteKeys::new(users)),
            common.token_expectations(),
        )
        .with_account_status(Arc::new(accounts)))
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
