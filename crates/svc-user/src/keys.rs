//! The signing key ring: the newest stored key signs; every stored key verifies. Keys are
//! created on first start and picked up from the store on an unknown kid, so several
//! instances and rotations agree. They are sealed at rest (see [`seal`]); the store only
//! ever sees sealed bytes.

mod seal;
#[cfg(test)]
mod tests;

use std::{
    sync::{Arc, Mutex, RwLock},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use ed25519_dalek::{SigningKey, VerifyingKey};
use kit::auth::{KeyProvider, KeySet};

use crate::store::{SigningKeyRecord, UserStore};
use kit::time::now_ms;

pub use seal::{Seal, SealError};

/// At most one reload per this interval, so random kids cannot hammer the database.
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

struct Loaded {
    signer_kid: String,
    signer: SigningKey,
    verifiers: KeySet,
}

pub struct KeyRing {
    store: Arc<dyn UserStore>,
    seal: Seal,
    loaded: RwLock<Loaded>,
    /// `None` until the first reload, so a fresh ring may reload at once.
    last_reload: Mutex<Option<Instant>>,
}

fn decode(seal: &Seal, record: &SigningKeyRecord) -> Result<SigningKey, SealError> {
    let opened = seal.open(&record.kid, &record.secret_key)?;
    Ok(SigningKey::from_bytes(opened.seed()))
}

/// The kid of the key created on first start. A fixed kid makes instances that start together
/// on an empty database collide on the primary key, so they all end up with the one key.
const FIRST_KID: &str = "initial";

async fn create_first(store: &dyn UserStore, seal: &Seal) {
    let mut seed = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
    let created = store
        .insert_signing_key(SigningKeyRecord {
            kid: FIRST_KID.into(),
            secret_key: seal.seal(FIRST_KID, &seed),
            created_at_ms: now_ms(),
        })
        .await;
    match created {
        Ok(()) => tracing::info!("created the first signing key"),
        Err(error) => tracing::info!(%error, "another instance created the first signing key"),
    }
}

/// Every stored key, opened; one that does not open fails the whole load, so a wrong secret
/// stops the service instead of leaving it with fewer keys (or minting new ones).
async fn load(store: &dyn UserStore, seal: &Seal) -> anyhow::Result<Loaded> {
    let mut records = store.signing_keys().await?;
    if records.is_empty() {
        create_first(store, seal).await;
        records = store.signing_keys().await?;
    }
    let newest = records
        .first()
        .ok_or_else(|| anyhow::anyhow!("no signing key after creating one"))?;
    let signer = decode(seal, newest)?;
    let verifiers = records
        .iter()
        .map(|record| Ok((record.kid.clone(), decode(seal, record)?.verifying_key())))
        .collect::<Result<_, SealError>>()?;
    Ok(Loaded {
        signer_kid: newest.kid.clone(),
        signer,
        verifiers,
    })
}

/// Seals the keys stored before sealing existed, each once, in place.
async fn reseal_legacy(store: &dyn UserStore, seal: &Seal) -> anyhow::Result<()> {
    for record in store.signing_keys().await? {
        if let seal::Opened::Legacy(seed) = seal.open(&record.kid, &record.secret_key)? {
            let sealed = seal.seal(&record.kid, &seed);
            if store
                .replace_signing_key(&record.kid, &record.secret_key, sealed)
                .await?
            {
                tracing::info!(kid = %record.kid, "sealed a signing key stored in the clear");
            }
        }
    }
    Ok(())
}

impl KeyRing {
    /// The ring over `store`, its keys sealed with `seal`. Fails when a stored key does not
    /// open, naming the secret.
    pub async fn open(store: Arc<dyn UserStore>, seal: Seal) -> anyhow::Result<Arc<Self>> {
        reseal_legacy(store.as_ref(), &seal).await?;
        let loaded = load(store.as_ref(), &seal).await?;
        Ok(Arc::new(Self {
            store,
            seal,
            loaded: RwLock::new(loaded),
            last_reload: Mutex::new(None),
        }))
    }

    /// The key that signs new tokens, with its kid.
    pub fn signer(&self) -> (String, SigningKey) {
        let loaded = self.loaded.read().unwrap_or_else(|p| p.into_inner());
        (loaded.signer_kid.clone(), loaded.signer.clone())
    }

    /// Every verifying key, from the store (so rotations elsewhere show at once).
    pub async fn public_keys(&self) -> anyhow::Result<Vec<(String, VerifyingKey)>> {
        Ok(self
            .store
            .signing_keys()
            .await?
            .iter()
            .filter_map(|record| {
                let key = decode(&self.seal, record)
                    .inspect_err(|error| tracing::warn!(%error, "skipping a signing key"))
                    .ok()?;
                Some((record.kid.clone(), key.verifying_key()))
            })
            .collect())
    }

    async fn reload_if_due(&self) {
        {
            let mut last = self.last_reload.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < RELOAD_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        match load(self.store.as_ref(), &self.seal).await {
            Ok(fresh) => {
                let mut loaded = self.loaded.write().unwrap_or_else(|p| p.into_inner());
                // Keep signing with the key we have; only learn new verifiers.
                loaded.verifiers.extend(fresh.verifiers);
            }
            Err(error) => tracing::warn!(%error, "reloading signing keys failed"),
        }
    }
}

#[async_trait]
impl KeyProvider for KeyRing {
    async fn key(&self, kid: &str) -> Option<VerifyingKey> {
        let known = {
            let loaded = self.loaded.read().unwrap_or_else(|p| p.into_inner());
            loaded.verifiers.get(kid).copied()
        };
        if known.is_some() {
            return known;
        }
        self.reload_if_due().await;
        let loaded = self.loaded.read().unwrap_or_else(|p| p.into_inner());
        loaded.verifiers.get(kid).copied()
    }
}
