//! argon2id hashing off the async runtime, behind a semaphore so a login burst cannot
//! starve the blocking pool, the machine's cores (voting shares them) or its memory; and
//! behind a bounded queue, so a flood of sign-ins is refused at once with a retry hint
//! instead of waiting in a line that only grows.

use std::sync::{
    atomic::{AtomicUsize, Ordering},
    Arc,
};

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
    /// Hashes running or waiting, and how many may be.
    queued: Arc<AtomicUsize>,
    queue_limit: usize,
    /// Verified against when the email is unknown, so that costs what a wrong password does.
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    /// `concurrency` hashes at once, and at most `queue_limit` running or waiting.
    pub fn new(
        strength: HashStrength,
        concurrency: usize,
        queue_limit: usize,
    ) -> anyhow::Result<Self> {
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
            queued: Arc::new(AtomicUsize::new(0)),
            queue_limit: queue_limit.max(concurrency.max(1)),
            dummy_hash: Arc::new(dummy_hash),
        })
    }

    /// A place in the queue, or Overloaded when it is full.
    fn enqueue(&self) -> Result<Queued, ServiceError> {
        if self.queued.fetch_add(1, Ordering::AcqRel) >= self.queue_limit {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            metrics::counter!("votemesh_password_hash_shed_total").increment(1);
            return Err(ServiceError::Overloaded(
                "too many sign-ins at once; retry in 1s".into(),
            ));
        }
        Ok(Queued(self.queued.clone()))
    }

    pub async fn hash(&self, password: String) -> Result<String, ServiceError> {
        let _queued = self.enqueue()?;
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
        let _queued = self.enqueue()?;
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

    /// Whether a hash that just verified falls short of the current policy, so that login
    /// can replace it: raising the policy then upgrades accounts as their owners sign in.
    /// Cheap (a parse, no hashing), so it can run on every login.
    pub fn needs_rehash(&self, stored_hash: &str) -> bool {
        // Unparsable cannot have verified; if it somehow did, a fresh hash is the safe answer.
        let Ok(parsed) = PasswordHash::new(stored_hash) else {
            return true;
        };
        if parsed.algorithm != argon2::ARGON2ID_IDENT
            || parsed.version != Some(Version::V0x13.into())
        {
            return true;
        }
        let Ok(params) = Params::try_from(&parsed) else {
            return true;
        };
        let policy = self.argon.params();
        params.m_cost() < policy.m_cost()
            || params.t_cost() < policy.t_cost()
            || params.p_cost() < policy.p_cost()
    }
}

/// One hash running or waiting, until dropped.
struct Queued(Arc<AtomicUsize>);

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn past_the_queue_a_hash_is_refused_at_once_and_the_queue_frees() {
        let hasher = PasswordHasher::new(HashStrength::Owasp, 1, 2).expect("hasher");
        let (a, b, c) = tokio::join!(
            hasher.hash("one".into()),
            hasher.hash("two".into()),
            hasher.hash("three".into())
        );
        let refused: Vec<_> = [a, b, c].into_iter().filter_map(Result::err).collect();
        assert_eq!(refused.len(), 1, "two places, three hashes: {refused:?}");
        assert!(matches!(refused[0], ServiceError::Overloaded(_)));
        assert_eq!(refused[0].http_status(), 503);
        hasher
            .hash("four".into())
            .await
            .expect("the queue is free again");
    }

    #[tokio::test]
    async fn a_hash_verifies_only_its_password_and_unknown_accounts_never_do() {
        let hasher = PasswordHasher::new(HashStrength::Owasp, 2, 8).expect("hasher");
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

    /// A PHC string for `password` made with explicit settings, as an older policy would have.
    fn hash_with(algorithm: Algorithm, version: Version, m: u32, t: u32, p: u32) -> String {
        let params = Params::new(m, t, p, None).expect("params");
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::new(algorithm, version, params)
            .hash_password(b"correct horse battery", &salt)
            .expect("hash")
            .to_string()
    }

    #[test]
    fn below_policy_hashes_need_a_rehash_and_current_ones_do_not() {
        let owasp = PasswordHasher::new(HashStrength::Owasp, 1, 8).expect("hasher");
        let id = Algorithm::Argon2id;
        assert!(!owasp.needs_rehash(&hash_with(id, Version::V0x13, 19_456, 2, 1)));
        // Stronger than policy in every dimension is left alone: no downgrade.
        assert!(!owasp.needs_rehash(&hash_with(id, Version::V0x13, 32_768, 3, 2)));
        for weaker in [
            hash_with(id, Version::V0x13, 256, 1, 1),
            hash_with(id, Version::V0x13, 19_455, 2, 1),
            hash_with(id, Version::V0x13, 65_536, 1, 1),
            hash_with(Algorithm::Argon2i, Version::V0x13, 19_456, 2, 1),
            hash_with(Algorithm::Argon2d, Version::V0x13, 19_456, 2, 1),
            hash_with(id, Version::V0x10, 19_456, 2, 1),
            "not a PHC string".to_owned(),
        ] {
            assert!(owasp.needs_rehash(&weaker), "{weaker}");
        }
        // The bench policy is weaker, so an OWASP hash already meets it.
        let bench = PasswordHasher::new(HashStrength::BenchOnlyInsecure, 1, 8).expect("hasher");
        assert!(!bench.needs_rehash(&hash_with(id, Version::V0x13, 19_456, 2, 1)));
        assert!(!bench.needs_rehash(&hash_with(id, Version::V0x13, 256, 1, 1)));
    }
}
