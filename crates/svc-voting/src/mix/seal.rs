//! Ballots sealed at the cast: ChaCha20-Poly1305 under a key derived from the receipt secret,
//! with the election id as associated data. Only the mix opens them; someone reading the
//! database without the secret sees ciphertext beside each participation, nothing more.
//!
//! A sealed ballot is `nonce (12) || ciphertext + tag` of `ballot_id \n selection \n`,
//! padded with spaces to a length fixed per election ([`padded_len`]): the sealed row sits
//! beside its participation, and its size must not tell how many candidates the voter chose.

use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    ChaCha20Poly1305, Key, Nonce,
};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;
/// Separates this use of the secret from the receipt hashes keyed by it.
const CONTEXT: &[u8] = b"votemesh ballot seal v1\0";

/// A ballot as the mix opens it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub ballot_id: String,
    /// Candidate ids in the voter's order, comma-separated.
    pub selection: String,
}

pub struct BallotSeal {
    cipher: ChaCha20Poly1305,
}

impl BallotSeal {
    pub fn new(secret: &[u8]) -> Self {
        let key = Sha256::new()
            .chain_update(CONTEXT)
            .chain_update(secret)
            .finalize();
        Self {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    /// `selection` sealed, padded to `padded_len` bytes (longer ones are sealed as they are).
    pub fn seal(
        &self,
        election_id: &str,
        ballot_id: &str,
        selection: &str,
        padded_len: usize,
    ) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
        let mut plaintext = format!("{ballot_id}\n{selection}\n");
        let padding = padded_len.saturating_sub(plaintext.len());
        plaintext.extend(std::iter::repeat_n(' ', padding));
        let payload = Payload {
            msg: plaintext.as_bytes(),
            aad: election_id.as_bytes(),
        };
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .expect("ChaCha20-Poly1305 seals any ballot");
        [nonce.as_slice(), &sealed].concat()
    }

    /// The ballot, or `None` when the blob was sealed under another secret or election.
    pub fn open(&self, election_id: &str, blob: &[u8]) -> Option<Opened> {
        if blob.len() < NONCE_LEN {
            return None;
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let payload = Payload {
            msg: sealed,
            aad: election_id.as_bytes(),
        };
        let plaintext = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .ok()?;
        let text = String::from_utf8(plaintext).ok()?;
        let (ballot_id, rest) = text.split_once('\n')?;
        // Sealed before padding existed, a ballot has no trailing newline.
        let selection = rest.split('\n').next().unwrap_or_default();
        Some(Opened {
            ballot_id: ballot_id.to_owned(),
            selection: selection.to_owned(),
        })
    }
}

/// The padded length of a sealed ballot whose content is at most `longest` bytes: room for a
/// ballot id and the longest content, so every ballot of an election seals to one size.
pub fn padded_len(longest: usize) -> usize {
    const ID: usize = 36;
    ID + 1 + longest + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_ballot_opens_only_with_its_secret_and_election() {
        let seal = BallotSeal::new(b"secret");
        let blob = seal.seal("e1", "b1", "c1,c2", 64);
        assert_eq!(
            seal.open("e1", &blob),
            Some(Opened {
                ballot_id: "b1".into(),
                selection: "c1,c2".into()
            })
        );
        assert_eq!(seal.open("e2", &blob), None, "another election");
        assert_eq!(BallotSeal::new(b"other").open("e1", &blob), None);
        assert_ne!(
            blob,
            seal.seal("e1", "b1", "c1,c2", 64),
            "a fresh nonce each time"
        );
        assert_eq!(
            blob.len(),
            seal.seal("e1", "b1", "c1", 64).len(),
            "one size whatever was chosen"
        );
        assert!(!blob.windows(5).any(|w| w == b"c1,c2"), "no plaintext");
    }
}
