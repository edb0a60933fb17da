//! Access tokens: EdDSA JWTs, the keys that verify them, the account check, and the layer
//! that enforces the access policy on every server. The adapters that ask svc-user (for keys
//! and account status) live in the clients crate; the ports are here.

mod accounts;
mod caller;
mod jwt;
mod keys;
mod layer;

pub use accounts::{AccountStatus, Standing, ACCOUNT_STATUS_TTL};
pub use caller::{caller, role_claim, role_from_claim, Caller, CALLER_HEADER};
pub use jwt::{sign, verify_with, Claims, Expectations, TokenError, TokenHeader};
pub use keys::{KeyProvider, KeySet, StaticKeys, TokenVerifier};
pub use layer::{authorize_user, bearer_token, AuthLayer, AuthService, INTERNAL_TOKEN_HEADER};
