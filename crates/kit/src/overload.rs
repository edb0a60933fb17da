//! Load shedding: a bound on the calls one process works on at once. A call past it is
//! refused at once with RESOURCE_EXHAUSTED and a retry hint (503 with Retry-After over
//! REST), so a burst costs its callers a quick retry instead of a queue that stretches every
//! accepted call's latency. Long-lived streams (WatchResults, the registry's Watch) are not
//! counted: they hold a connection, not the machine.

use std::{
    sync::Arc,
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{metadata::MetadataValue, Status};
use tower::{Layer, Service};

use crate::policy::AccessPolicy;

/// Seconds a shed caller is told to wait: the bound frees within milliseconds, so the
/// smallest whole second the header can say.
pub const RETRY_AFTER_SECONDS: u64 = 1;
/// The metadata key that marks a refusal as overload (not a rate limit) and says when to retry.
pub const RETRY_AFTER: &str = "retry-after";

/// At most `limit` calls in flight in one process.
#[derive(Clone)]
pub struct InFlight {
    service: &'static str,
    permits: Arc<Semaphore>,
}

impl InFlight {
    pub fn new(service: &'static str, limit: usize) -> Self {
        Self {
            service,
            permits: Arc::new(Semaphore::new(limit.max(1))),
        }
    }

    /// A place for one call, held until it is dropped; `None` when every place is taken,
    /// which is counted as `votemesh_shed_total`.
    pub fn try_enter(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.permits.clone().try_acquire_owned().ok();
        if permit.is_none() {
            metrics::counter!("votemesh_shed_total", "service" => self.service).increment(1);
        }
        permit
    }

    /// The refusal for a call that found no place.
    pub fn busy(&self) -> Status {
        busy(format!(
            "{} is at capacity; retry in {RETRY_AFTER_SECONDS}s",
            self.service
        ))
    }
}

/// RESOURCE_EXHAUSTED saying `message`, with `retry-after` in its metadata.
pub fn busy(message: impl Into<String>) -> Status {
    let mut status = Status::resource_exhausted(message);
    status
        .metadata_mut()
        .insert(RETRY_AFTER, MetadataValue::from(RETRY_AFTER_SECONDS));
    status
}

/// Whether `status` is an overload refusal (see [`busy`]), and the seconds it asks to wait.
pub fn retry_after(status: &Status) -> Option<u64> {
    status
        .metadata()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
}

/// Whether the call to `path` is counted against the bound: every unary and client-streaming
/// method; not server streams, health checks or reflection.
pub fn is_counted(policy: &AccessPolicy, path: &str) -> bool {
    policy
        .rule(path)
        .is_some_and(|rule| !rule.descriptor.is_server_streaming())
}

/// Sheds the calls of a gRPC server past its [`InFlight`] bound.
#[derive(Clone)]
pub struct ShedLayer {
    in_flight: InFlight,
    policy: Arc<AccessPolicy>,
}

impl ShedLayer {
    pub fn new(in_flight: InFlight, policy: Arc<AccessPolicy>) -> Self {
        Self { in_flight, policy }
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Shed {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Shed<S> {
    inner: S,
    layer: ShedLayer,
}

impl<S, B, R> Service<http::Request<B>> for Shed<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        if !is_counted(&self.layer.policy, request.uri().path()) {
            return Box::pin(inner.call(request));
        }
        let Some(permit) = self.layer.in_flight.try_enter() else {
            let refusal = self.layer.in_flight.busy().into_http();
            return Box::pin(async move { Ok(refusal) });
        };
        Box::pin(async move {
            let response = inner.call(request).await;
            drop(permit);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_bounded_and_freed_when_a_call_ends() {
        let in_flight = InFlight::new("test", 2);
        let first = in_flight.try_enter().expect("a place");
        let _second = in_flight.try_enter().expect("a place");
        assert!(in_flight.try_enter().is_none(), "full");
        drop(first);
        assert!(in_flight.try_enter().is_some(), "freed");
    }

    #[test]
    fn a_busy_refusal_says_when_to_retry_and_others_do_not() {
        let status = InFlight::new("svc-voting", 1).busy();
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
        assert_eq!(retry_after(&status), Some(RETRY_AFTER_SECONDS));
        assert_eq!(retry_after(&Status::resource_exhausted("rate limit")), None);
    }

    #[test]
    fn streams_health_and_unknown_paths_are_not_counted() {
        let policy = AccessPolicy::from_contracts().expect("policy");
        assert!(is_counted(
            &policy,
            "/votemesh.voting.v1.VotingService/CastBallot"
        ));
        assert!(!is_counted(
            &policy,
            "/votemesh.result.v1.ResultService/WatchResults"
        ));
        assert!(!is_counted(&policy, "/grpc.health.v1.Health/Check"));
    }
}
