//! Where verifying keys come from: a fixed set, svc-user's own store, or svc-user's
//! GetSigningKeys RPC (the JWKS equivalent, `clients::RemoteKeys`), behind one trait.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use async_trait::async_trait;
use ed25519_dalek::VerifyingKey;

use super::{
    accounts::AccountStatus,
    jwt::{is_expired, parse_header, verify_with, Claims, Expectations, TokenError},
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
    verified: Arc<Mutex<HashMap<String, Claims>>>,
}

/// Beyond this many remembered tokens the memory starts afresh.
const VERIFIED_CAPACITY: usize = 50_000;

impl TokenVerifier {
    pub fn new(keys: Arc<dyn KeyProvider>, expect: Expectations) -> Self {
        Self {
            keys,
            expect,
            accounts: None,
            verified: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Also confirms each signed-in caller's account and takes its current role, and whether
    /// its email is proven, from there.
    pub fn with_account_status(mut self, accounts: Arc<dyn AccountStatus>) -> Self {
        self.accounts = Some(accounts);
        self
    }

    pub fn account_status(&self) -> Option<&dyn AccountStatus> {
        self.accounts.as_deref()
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let now = chrono_now();
        // The same token string verified before verifies again (keys are only ever added),
        // so only its expiry needs a fresh look; a voter's burst costs one signature check.
        // Revocation is the account check's job, which runs on every call regardless.
        if let Some(claims) = self.remembered(token) {
            if !is_expired(&claims, now) {
                return Ok(claims);
            }
        }
        let header = parse_header(token)?;
        let kid = header.kid.ok_or(TokenError::MissingKeyId)?;
        let key = self.keys.key(&kid).await.ok_or(TokenError::UnknownKey)?;
        let claims = verify_with(token, &key, &self.expect, now)?;
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(token.to_owned(), claims.clone());
        Ok(claims)
    }

    fn remembered(&self, token: &str) -> Option<Claims> {
        self.verified
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(token)
            .cloned()
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::auth::jwt::{sign, tests::claims};

    fn verifier(key: &SigningKey) -> TokenVerifier {
        let keys = HashMap::from([("k1".to_owned(), key.verifying_key())]);
        TokenVerifier::new(
            Arc::new(StaticKeys(keys)),
            Expectations {
                issuer: "votemesh".into(),
                audience: "votemesh".into(),
            },
        )
    }

    #[tokio::test]
    async fn a_remembered_token_is_still_refused_once_expired() {
        let key = SigningKey::from_bytes(&[9u8; 32]);
        let verifier = verifier(&key);
        let fresh = sign(&key, "k1", &claims(chrono_now() + 300));
        assert!(verifier.verify(&fresh).await.is_ok());
        assert!(
            verifier.remembered(&fresh).is_some(),
            "remembered after one check"
        );
        assert!(verifier.verify(&fresh).await.is_ok(), "and accepted again");

        // A token remembered with claims that have since expired goes through the full
        // check again, which refuses it.
        let stale = sign(&key, "k1", &claims(chrono_now() - 60));
        verifier
            .verified
            .lock()
            .expect("lock")
            .insert(stale.clone(), claims(chrono_now() - 60));
        assert_eq!(verifier.verify(&stale).await, Err(TokenError::Expired));
        let forged = format!("{fresh}x");
        assert!(
            verifier.verify(&forged).await.is_err(),
            "a different string is checked"
        );
    }
}
