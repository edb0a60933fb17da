//! Enforces the protos' access rules on a gRPC server: verifies the bearer token, checks the
//! role, and puts the [`Caller`] into the request's extensions for the handler.

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

use super::{role_from_claim, Caller, TokenVerifier};
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
    async fn authorize(&self, path: &str, headers: &HeaderMap) -> Result<Option<Caller>, Status> {
        let Some(rule) = self.policy.rule(path) else {
            // Health and reflection are infrastructure, open to probes and grpcurl.
            return Ok(None);
        };
        if rule.access == Access::Internal {
            let presented = headers
                .get(INTERNAL_TOKEN_HEADER)
                .map(|v| v.as_bytes())
                .unwrap_or_default();
            let expected = self.internal_token.as_bytes();
            return if !expected.is_empty() && bool::from(presented.ct_eq(expected)) {
                Ok(None)
            } else {
                Err(Status::permission_denied("internal method: services only"))
            };
        }
        authorize_user(rule, headers, &self.verifier).await
    }
}

/// Applies a user-facing rule (public, signed-in or admin) to a request's headers.
pub async fn authorize_user(
    rule: &MethodRule,
    headers: &HeaderMap,
    verifier: &TokenVerifier,
) -> Result<Option<Caller>, Status> {
    let token = bearer_token(headers);
    let caller = match token {
        Some(token) => match verifier.verify(token).await {
            Ok(claims) => match role_from_claim(&claims.role) {
                Some(role) => Ok(Caller {
                    user_id: claims.sub.clone(),
                    role,
                    claims,
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
        match accounts.current_role(&caller.user_id).await? {
            Some(role) => caller.role = role,
            None => {
                return Err(Status::unauthenticated(
                    "account is disabled or no longer exists",
                ))
            }
        }
    }
    let caller = Ok(caller);
    match rule.access {
        Access::Public => Ok(None),
        Access::Authenticated => caller.map(Some),
        Access::Admin => {
            let caller = caller?;
            if caller.is_admin() {
                Ok(Some(caller))
            } else {
                Err(Status::permission_denied("admin role required"))
            }
        }
        Access::Internal | Access::Unspecified => {
            Err(Status::permission_denied("method is not callable here"))
        }
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
