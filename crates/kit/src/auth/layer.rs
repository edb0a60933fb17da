//! Enforces the protos' access rules on a gRPC server: verifies the bearer token (or, from a
//! service holding the internal token, takes the caller it hands on), checks the role, and
//! puts the [`Caller`] into the request's extensions for the handler.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use http::HeaderMap;
use proto_gen::options::v1::Access;
use subtle::ConstantTimeEq;
use tonic::Status;
use tower::{Layer, Service};

use super::{role_from_claim, Caller, TokenVerifier, CALLER_HEADER};
use crate::policy::{AccessPolicy, MethodRule};

/// Header carrying the shared service secret on internal calls.
pub const INTERNAL_TOKEN_HEADER: &str = "x-votemesh-internal-token";

/// The bearer token of an `Authorization` header, if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

struct AuthState {
    policy: Arc<AccessPolicy>,
    verifier: TokenVerifier,
    internal_token: String,
}

impl AuthState {
    /// Whether the request carries the shared service secret.
    fn carries_internal_token(&self, headers: &HeaderMap) -> bool {
        let presented = headers
            .get(INTERNAL_TOKEN_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        let expected = self.internal_token.as_bytes();
        !expected.is_empty() && bool::from(presented.ct_eq(expected))
    }

    async fn authorize(&self, path: &str, headers: &HeaderMap) -> Result<Option<Caller>, Status> {
        let Some(rule) = self.policy.rule(path) else {
            // Health and reflection are infrastructure, open to probes and grpcurl.
            return Ok(None);
        };
        let from_a_service = self.carries_internal_token(headers);
        if rule.access == Access::Internal {
            return if from_a_service {
                Ok(None)
            } else {
                Err(Status::permission_denied("internal method: services only"))
            };
        }
        match headers.get(CALLER_HEADER) {
            // A service (the edge, or one serving the user) verified this caller and
            // confirmed the account on its hop; checking again here would add nothing.
            Some(value) if from_a_service => {
                let caller = value
                    .to_str()
                    .ok()
                    .and_then(Caller::from_header)
                    .ok_or_else(|| Status::unauthenticated("malformed caller header"))?;
                apply_rule(rule, Some(caller))
            }
            Some(_) => Err(Status::unauthenticated(format!(
                "{CALLER_HEADER} is only accepted from services"
            ))),
            None => authorize_user(rule, headers, &self.verifier).await,
        }
    }
}

/// Applies a user-facing rule (public, signed-in or admin) to a request's headers: the
/// bearer token's signature and claims, then (for signed-in methods) the account.
pub async fn authorize_user(
    rule: &MethodRule,
    headers: &HeaderMap,
    verifier: &TokenVerifier,
) -> Result<Option<Caller>, Status> {
    let token = bearer_token(headers);
    let caller = match token {
        Some(token) => match verifier.verify(token).await {
            Ok(claims) => match role_from_claim(&claims.role) {
                // Unverified until the account check says otherwise: the token does not
                // carry it, and a stale claim must not let anyone vote.
                Some(role) => Ok(Caller {
                    user_id: claims.sub,
                    role,
                    email_verified: false,
                }),
                None => Err(Status::unauthenticated("token role is not recognised")),
            },
            Err(error) => Err(Status::unauthenticated(error.to_string())),
        },
        None => Err(Status::unauthenticated(
            "sign in first: missing bearer token",
        )),
    };
    if rule.access == Access::Public {
        // A stale token must not block signing in again.
        return Ok(caller.ok());
    }
    let mut caller = caller?;
    if let Some(accounts) = verifier.account_status() {
        match accounts.standing(&caller.user_id).await? {
            Some(standing) => {
                caller.role = standing.role;
                caller.email_verified = standing.email_verified;
            }
            None => {
                return Err(Status::unauthenticated(
                    "account is disabled or no longer exists",
                ))
            }
        }
    }
    apply_rule(rule, Some(caller))
}

/// Whether a rule lets `caller` (verified, or absent) through.
fn apply_rule(rule: &MethodRule, caller: Option<Caller>) -> Result<Option<Caller>, Status> {
    match (rule.access, caller) {
        (Access::Public, caller) => Ok(caller),
        (Access::Internal | Access::Unspecified, _) => {
            Err(Status::permission_denied("method is not callable here"))
        }
        (_, None) => Err(Status::unauthenticated("sign in first")),
        (Access::Admin, Some(caller)) if !caller.is_admin() => {
            Err(Status::permission_denied("admin role required"))
        }
        (_, Some(caller)) => Ok(Some(caller)),
    }
}

/// A tower layer for tonic servers; see the module docs.
#[derive(Clone)]
pub struct AuthLayer {
    state: Arc<AuthState>,
}

impl AuthLayer {
    pub fn new(policy: Arc<AccessPolicy>, verifier: TokenVerifier, internal_token: String) -> Self {
        Self {
            state: Arc::new(AuthState {
                policy,
                verifier,
                internal_token,
            }),
        }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    state: Arc<AuthState>,
}

impl<S, B> Service<http::Request<B>> for AuthService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let state = self.state.clone();
        Box::pin(async move {
            match state
                .authorize(request.uri().path(), request.headers())
                .await
            {
                Ok(Some(caller)) => {
                    request.extensions_mut().insert(caller);
                }
                Ok(None) => {}
                Err(status) => return Ok(status.into_http()),
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proto_gen::user::v1::Role;
    use tonic::Code;

    use super::*;
    use crate::auth::{AccountStatus, Expectations, Standing, StaticKeys};

    const GET_ME: &str = "/votemesh.user.v1.UserService/GetMe";
    const LIST_USERS: &str = "/votemesh.user.v1.UserService/ListUsers";

    fn state() -> AuthState {
        let verifier = TokenVerifier::new(
            Arc::new(StaticKeys(HashMap::new())),
            Expectations {
                issuer: "votemesh".into(),
                audience: "votemesh".into(),
            },
        );
        AuthState {
            policy: Arc::new(AccessPolicy::from_contracts().expect("policy")),
            verifier,
            internal_token: "s3cret".into(),
        }
    }

    fn headers(internal_token: Option<&str>, caller: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(token) = internal_token {
            headers.insert(INTERNAL_TOKEN_HEADER, token.parse().expect("ascii"));
        }
        headers.insert(CALLER_HEADER, caller.parse().expect("ascii"));
        headers
    }

    #[tokio::test]
    async fn a_caller_handed_on_under_the_internal_token_is_taken() {
        let admitted = state()
            .authorize(LIST_USERS, &headers(Some("s3cret"), "u1 admin"))
            .await
            .expect("admitted");
        assert_eq!(
            admitted,
            Some(Caller {
                user_id: "u1".into(),
                role: Role::Admin,
                email_verified: false,
            })
        );
        let voter = state()
            .authorize(LIST_USERS, &headers(Some("s3cret"), "u1 voter"))
            .await
            .expect_err("voters are not admins");
        assert_eq!(voter.code(), Code::PermissionDenied);
    }

    #[tokio::test]
    async fn a_caller_header_without_the_internal_token_is_refused() {
        for token in [None, Some("guess"), Some("")] {
            let refused = state()
                .authorize(GET_ME, &headers(token, "u1 admin"))
                .await
                .expect_err("forged");
            assert_eq!(refused.code(), Code::Unauthenticated, "{token:?}");
        }
        let malformed = state()
            .authorize(GET_ME, &headers(Some("s3cret"), "u1 superuser"))
            .await
            .expect_err("malformed");
        assert_eq!(malformed.code(), Code::Unauthenticated);
    }

    #[tokio::test]
    async fn the_internal_token_alone_names_no_user() {
        let mut headers = HeaderMap::new();
        headers.insert(INTERNAL_TOKEN_HEADER, "s3cret".parse().expect("ascii"));
        let refused = state()
            .authorize(GET_ME, &headers)
            .await
            .expect_err("no user");
        assert_eq!(refused.code(), Code::Unauthenticated);
    }

    #[tokio::test]
    async fn a_handed_on_caller_keeps_whether_the_email_is_proven() {
        let taken = |caller: &'static str| async move {
            state()
                .authorize(GET_ME, &headers(Some("s3cret"), caller))
                .await
                .expect("admitted")
                .expect("a caller")
                .email_verified
        };
        assert!(taken("u1 voter verified").await);
        assert!(!taken("u1 voter unverified").await);
        assert!(!taken("u1 voter").await, "no third word fails closed");
    }

    /// svc-user as a fixed answer.
    struct FixedStanding(Option<Standing>);

    #[async_trait::async_trait]
    impl AccountStatus for FixedStanding {
        async fn standing(&self, _: &str) -> Result<Option<Standing>, crate::ServiceError> {
            Ok(self.0)
        }
    }

    /// A signed-in GetMe as the edge sees it, the account standing as `standing` says.
    async fn signed_in(standing: Option<Standing>) -> Result<Option<Caller>, Status> {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3u8; 32]);
        let verifier = TokenVerifier::new(
            Arc::new(StaticKeys(HashMap::from([(
                "k1".to_owned(),
                key.verifying_key(),
            )]))),
            Expectations {
                issuer: "votemesh".into(),
                audience: "votemesh".into(),
            },
        )
        .with_account_status(Arc::new(FixedStanding(standing)));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64;
        let token = crate::auth::sign(&key, "k1", &crate::auth::jwt::tests::claims(now + 300));
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("ascii"),
        );
        let policy = AccessPolicy::from_contracts().expect("policy");
        let rule = policy.rule(GET_ME).expect("a rule");
        authorize_user(rule, &headers, &verifier).await
    }

    #[tokio::test]
    async fn the_account_check_sets_the_role_and_whether_the_email_is_proven() {
        let verified = signed_in(Some(Standing {
            role: Role::Admin,
            email_verified: true,
        }))
        .await
        .expect("admitted")
        .expect("a caller");
        assert_eq!(
            (verified.role, verified.email_verified),
            (Role::Admin, true)
        );
        let unverified = signed_in(Some(Standing {
            role: Role::Voter,
            email_verified: false,
        }))
        .await
        .expect("admitted")
        .expect("a caller");
        assert_eq!(
            (unverified.role, unverified.email_verified),
            (Role::Voter, false)
        );
        let gone = signed_in(None).await.expect_err("disabled");
        assert_eq!(gone.code(), Code::Unauthenticated);
    }
}
