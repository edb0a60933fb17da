//! Compact JWS with Ed25519 only. The header is read just far enough to pick the key; the
//! signature is checked before any claim is decoded, and exp, iss and aud are required.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// The registered and votemesh claims of an access token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
}

/// The JOSE header fields votemesh reads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TokenHeader {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub typ: Option<String>,
}

/// What a verifier insists on besides a good signature.
#[derive(Clone, Debug)]
pub struct Expectations {
    pub issuer: String,
    pub audience: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported token algorithm {0:?}; only EdDSA is accepted")]
    UnsupportedAlgorithm(String),
    #[error("token has no key id")]
    MissingKeyId,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("bad token signature")]
    BadSignature,
    #[error("token claim {0} is missing or malformed")]
    MissingClaim(&'static str),
    #[error("token expired")]
    Expired,
    #[error("token issuer is not accepted")]
    WrongIssuer,
    #[error("token audience is not accepted")]
    WrongAudience,
}

/// Allowed clock difference between issuer and verifier.
const LEEWAY_SECONDS: i64 = 5;

pub fn sign(key: &SigningKey, kid: &str, claims: &Claims) -> String {
    let header = TokenHeader {
        alg: "EdDSA".into(),
        kid: Some(kid.into()),
        typ: Some("JWT".into()),
    };
    // Serializing these plain structs cannot fail.
    let header = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header).unwrap_or_default());
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let signing_input = format!("{header}.{payload}");
    let signature = key.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// Splits a token and decodes its header, without trusting anything in it yet.
pub(crate) fn parse_header(token: &str) -> Result<TokenHeader, TokenError> {
    let header_part = token.split('.').next().ok_or(TokenError::Malformed)?;
    let header_bytes = URL_SAFE_NO_PAD
        .decode(header_part)
        .map_err(|_| TokenError::Malformed)?;
    let header: TokenHeader =
        serde_json::from_slice(&header_bytes).map_err(|_| TokenError::Malformed)?;
    if header.alg != "EdDSA" {
        return Err(TokenError::UnsupportedAlgorithm(header.alg));
    }
    Ok(header)
}

/// Whether `claims` have expired at `now` (unix s), with the same leeway as [`verify_with`].
pub fn is_expired(claims: &Claims, now: i64) -> bool {
    claims.exp + LEEWAY_SECONDS <= now
}

/// Verifies `token` with `key` and then checks its claims against `expect` at `now` (unix s).
pub fn verify_with(
    token: &str,
    key: &VerifyingKey,
    expect: &Expectations,
    now: i64,
) -> Result<Claims, TokenError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header_part, payload_part, signature_part] = parts[..] else {
        return Err(TokenError::Malformed);
    };
    parse_header(header_part)?;
    let signature_bytes = URL_SAFE_NO_PAD
        .decode(signature_part)
        .map_err(|_| TokenError::Malformed)?;
    let signature = Signature::from_slice(&signature_bytes).map_err(|_| TokenError::Malformed)?;
    let signing_input = &token[..header_part.len() + 1 + payload_part.len()];
    key.verify_strict(signing_input.as_bytes(), &signature)
        .map_err(|_| TokenError::BadSignature)?;

    let payload = URL_SAFE_NO_PAD
        .decode(payload_part)
        .map_err(|_| TokenError::Malformed)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&payload).map_err(|_| TokenError::Malformed)?;
    let text = |name: &'static str| {
        claims
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or(TokenError::MissingClaim(name))
    };
    let number = |name: &'static str| {
        claims
            .get(name)
            .and_then(|v| v.as_i64())
            .ok_or(TokenError::MissingClaim(name))
    };
    let claims = Claims {
        exp: number("exp")?,
        iat: number("iat")?,
        iss: text("iss")?,
        aud: text("aud")?,
        sub: text("sub")?,
        role: text("role")?,
        jti: text("jti")?,
    };
    if is_expired(&claims, now) {
        return Err(TokenError::Expired);
    }
    if claims.iss != expect.issuer {
        return Err(TokenError::WrongIssuer);
    }
    if claims.aud != expect.audience {
        return Err(TokenError::WrongAudience);
    }
    Ok(claims)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    pub(crate) fn claims(exp: i64) -> Claims {
        Claims {
            iss: "votemesh".into(),
            aud: "votemesh".into(),
            sub: "user-1".into(),
            role: "voter".into(),
            exp,
            iat: 0,
            jti: "j".into(),
        }
    }

    fn expect() -> Expectations {
        Expectations {
            issuer: "votemesh".into(),
            audience: "votemesh".into(),
        }
    }

    #[test]
    fn a_signed_token_round_trips() {
        let token = sign(&key(), "k1", &claims(1000));
        let verified = verify_with(&token, &key().verifying_key(), &expect(), 10).expect("valid");
        assert_eq!(verified, claims(1000));
    }

    #[test]
    fn tampering_breaks_the_signature_before_claims_are_read() {
        let token = sign(&key(), "k1", &claims(1000));
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut forged = claims(1000);
        forged.role = "admin".into();
        parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json"));
        let forged = parts.join(".");
        assert_eq!(
            verify_with(&forged, &key().verifying_key(), &expect(), 10),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn other_algorithms_and_expired_tokens_are_refused() {
        let token = sign(&key(), "k1", &claims(1000));
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"k1"}"#);
        let rest: Vec<&str> = token.splitn(2, '.').collect();
        let alg_none = format!("{none_header}.{}", rest[1]);
        assert_eq!(
            verify_with(&alg_none, &key().verifying_key(), &expect(), 10),
            Err(TokenError::UnsupportedAlgorithm("none".into()))
        );
        assert_eq!(
            verify_with(&token, &key().verifying_key(), &expect(), 2000),
            Err(TokenError::Expired)
        );
    }
}
