//! Signing keys at rest: sealed with ChaCha20-Poly1305 under a key derived from
//! `--signing-key-secret`, so a copy of the database alone cannot mint tokens.
//!
//! A sealed blob is `VERSION || nonce (12) || ciphertext + tag (48)`; the kid is the
//! associated data, so a sealed key moved to another row does not open. Rows written before
//! sealing hold the bare 32-byte seed; they open as legacy and the ring reseals them.

use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    ChaCha20Poly1305, Key, Nonce,
};
use sha2::{Digest, Sha256};

/// The format byte of a sealed key, so a later format can tell its rows apart.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const SEED_LEN: usize = 32;
const TAG_LEN: usize = 16;
const SEALED_LEN: usize = 1 + NONCE_LEN + SEED_LEN + TAG_LEN;
/// Separates this use of the secret from any other hash of it.
const CONTEXT: &[u8] = b"votemesh signing-key seal v1\0";

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("VOTEMESH_SIGNING_KEY_SECRET does not open the stored signing keys (kid {kid})")]
    WrongSecret { kid: String },
    #[error("stored signing key {kid} is malformed ({len} bytes)")]
    Malformed { kid: String, len: usize },
    #[error("--signing-key-secret (VOTEMESH_SIGNING_KEY_SECRET) must not be empty")]
    EmptySecret,
}

/// What a stored key turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Opened {
    Sealed([u8; SEED_LEN]),
    /// Written before sealing: to be resealed.
    Legacy([u8; SEED_LEN]),
}

impl Opened {
    pub fn seed(&self) -> &[u8; SEED_LEN] {
        match self {
            Self::Sealed(seed) | Self::Legacy(seed) => seed,
        }
    }
}

/// Seals and opens signing-key seeds.
pub struct Seal {
    cipher: ChaCha20Poly1305,
}

impl Seal {
    pub fn new(secret: &str) -> Result<Self, SealError> {
        if secret.is_empty() {
            return Err(SealError::EmptySecret);
        }
        let key = Sha256::new()
            .chain_update(CONTEXT)
            .chain_update(secret.as_bytes())
            .finalize();
        Ok(Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        })
    }

    /// `seed` sealed for row `kid`, under a fresh random nonce.
    pub fn seal(&self, kid: &str, seed: &[u8; SEED_LEN]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let payload = Payload {
            msg: seed,
            aad: kid.as_bytes(),
        };
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("ChaCha20-Poly1305 seals any 32 bytes");
        let mut blob = Vec::with_capacity(SEALED_LEN);
        blob.push(VERSION);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&sealed);
        blob
    }

    /// The seed stored for `kid`, sealed or legacy.
    pub fn open(&self, kid: &str, blob: &[u8]) -> Result<Opened, SealError> {
        if let Ok(seed) = <[u8; SEED_LEN]>::try_from(blob) {
            return Ok(Opened::Legacy(seed));
        }
        let malformed = || SealError::Malformed {
            kid: kid.to_owned(),
            len: blob.len(),
        };
        if blob.len() != SEALED_LEN || blob[0] != VERSION {
            return Err(malformed());
        }
        let (nonce, sealed) = blob[1..].split_at(NONCE_LEN);
        let payload = Payload {
            msg: sealed,
            aad: kid.as_bytes(),
        };
        let seed = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| SealError::WrongSecret {
                kid: kid.to_owned(),
            })?;
        let seed = <[u8; SEED_LEN]>::try_from(seed.as_slice()).map_err(|_| malformed())?;
        Ok(Opened::Sealed(seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 32] = [7; 32];

    #[test]
    fn a_sealed_seed_opens_with_its_secret_and_kid_only() {
        let seal = Seal::new("one").expect("seal");
        let blob = seal.seal("k1", &SEED);
        assert_eq!((blob.len(), blob[0]), (SEALED_LEN, VERSION));
        assert!(!blob.windows(SEED.len()).any(|w| w == SEED), "no raw seed");
        assert_eq!(seal.open("k1", &blob).expect("opens"), Opened::Sealed(SEED));
        assert_ne!(blob, seal.seal("k1", &SEED), "a fresh nonce each time");

        let other = Seal::new("two").expect("seal");
        assert!(matches!(
            other.open("k1", &blob),
            Err(SealError::WrongSecret { .. })
        ));
        assert!(matches!(
            seal.open("k2", &blob),
            Err(SealError::WrongSecret { .. })
        ));
    }

    #[test]
    fn bare_seeds_are_legacy_and_other_lengths_malformed() {
        let seal = Seal::new("one").expect("seal");
        assert_eq!(seal.open("k", &SEED).expect("opens"), Opened::Legacy(SEED));
        assert!(matches!(
            seal.open("k", &[1; 40]),
            Err(SealError::Malformed { len: 40, .. })
        ));
        let mut future = seal.seal("k", &SEED);
        future[0] = 2;
        assert!(matches!(
            seal.open("k", &future),
            Err(SealError::Malformed { .. })
        ));
        assert!(matches!(Seal::new(""), Err(SealError::EmptySecret)));
    }
}
