//! Access tokens: EdDSA JWTs, the keys that verify them, and the layer that enforces the
//! access policy on every server.

mod accounts;
mod jwt;
mod keys;
mod layer;
mod remote_keys;

pub use accounts::{AccountStatus, RemoteAccounts};
pub use jwt::{sign, verify_with, Claims, Expectations, TokenError, TokenHeader};
pub use keys::{KeyProvider, KeySet, StaticKeys, TokenVerifier};
pub use layer::{authorize_user, bearer_token, AuthLayer, AuthService, INTERNAL_TOKEN_HEADER};
pub use remote_keys::{RemoteKeys, USER_SERVICE};

use proto_gen::user::v1::Role;

/// The signed-in user behind a request, put into request extensions by [`AuthLayer`].
#[derive(Clone, Debug)]
pub struct Caller {
    pub user_id: String,
    pub role: Role,
    pub claims: Claims,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// The caller of a request that the policy let through as a user.
pub fn caller<T>(request: &tonic::Request<T>) -> Result<Caller, crate::ServiceError> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| crate::ServiceError::Unauthenticated("sign in first".into()))
}

pub fn role_claim(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        _ => "voter",
    }
}

pub fn role_from_claim(claim: &str) -> Option<Role> {
    match claim {
        "admin" => Some(Role::Admin),
        "voter" => Some(Role::Voter),
        _ => None,
    }
}
