//! argon2id hashing off the async runtime, behind a semaphore so a login burst cannot
//! starve the blocking pool or the machine's memory.

use std::sync::Arc;

use argon2::{
    password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString},
    Algorithm, Argon2, Params, Version,
};
use kit::ServiceError;
use tokio::sync::Semaphore;

/// How expensive a hash is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashStrength {
    /// OWASP's argon2id setting: m=19456 KiB, t=2, p=1.
    Owasp,
    /// Far cheaper, for load-generator setup only; never for real accounts.
    BenchOnlyInsecure,
}

#[derive(Clone)]
pub struct PasswordHasher {
    argon: Arc<Argon2<'static>>,
    permits: Arc<Semaphore>,
    /// Verified against when the email is unknown, so that costs what a wrong password does.
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    pub fn new(strength: HashStrength, concurrency: usize) -> anyhow::Result<Self> {
        let params = match strength {
            HashStrength::Owasp => Params::new(19_456, 2, 1, None),
            HashStrength::BenchOnlyInsecure => Params::new(256, 1, 1, None),
        }
        .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let dummy_hash = argon
            .hash_password(b"votemesh dummy password for unknown accounts", &salt)
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string();
        Ok(Self {
            argon: Arc::new(argon),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    pub async fn hash(&self, password: String) -> Result<String, ServiceError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(ServiceError::internal)?;
        let argon = self.argon.clone();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon
                .hash_password(password.as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(|e| ServiceError::internal(anyhow::anyhow!("argon2: {e}")))
        })
        .await
        .map_err(ServiceError::internal)?
    }

    /// Checks `password` against `stored`, or against the dummy hash when there is no account.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, ServiceError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(ServiceError::internal)?;
        let account_exists = stored.is_some();
        let hash = stored.unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        let argon = self.argon.clone();
        let matches = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|parsed| argon.verify_password(password.as_bytes(), &parsed).is_ok())
                .unwrap_or(false)
        })
        .await
        .map_err(ServiceError::internal)?;
        Ok(matches && account_exists)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_only_its_password_and_unknown_accounts_never_do() {
        let hasher = PasswordHasher::new(HashStrength::Owasp, 2).expect("hasher");
        let hash = hasher
            .hash("correct horse battery".into())
            .await
            .expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(hasher
            .verify("correct horse battery".into(), Some(hash.clone()))
            .await
            .expect("verify"));
        assert!(!hasher
            .verify("wrong horse battery".into(), Some(hash))
            .await
            .expect("verify"));
        assert!(!hasher
            .verify("votemesh dummy password for unknown accounts".into(), None)
            .await
            .expect("verify"));
    }
}
