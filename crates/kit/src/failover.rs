//! Calls to one of several replicas of a service that share their state (the registry's
//! replicas on Redis): every call goes to the current replica, and a call that fails to reach
//! it moves the next calls to the next replica. The failed call is not retried (its body is
//! gone); its caller retries as it would any failure. A dead replica costs one failed call per
//! pass over the list, instead of a share of every call as a balancer would.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    task::{Context, Poll},
};

use futures::future::BoxFuture;
use tonic::{body::Body, transport::Channel};
use tower::{Service, ServiceExt};

#[derive(Clone)]
pub struct Failover {
    replicas: Arc<[Channel]>,
    current: Arc<AtomicUsize>,
}

impl Failover {
    pub fn new(replicas: Vec<Channel>) -> Self {
        Self {
            replicas: replicas.into(),
            current: Arc::new(AtomicUsize::new(0)),
        }
    }
}

impl Service<http::Request<Body>> for Failover {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        // Each call waits for its replica's channel itself.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let at = self.current.load(Ordering::Relaxed) % self.replicas.len();
        let channel = self.replicas[at].clone();
        let (current, count) = (self.current.clone(), self.replicas.len());
        Box::pin(async move {
            let outcome = channel.oneshot(request).await;
            if outcome.is_err() {
                // Only the first of several concurrent failures moves on.
                let _ = current.compare_exchange(
                    at,
                    (at + 1) % count,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            outcome
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_replica_that_cannot_be_reached_passes_the_next_calls_on() {
        let dead =
            crate::internal::endpoint("http://127.0.0.1:9", std::time::Duration::from_secs(1))
                .expect("endpoint")
                .connect_lazy();
        let failover = Failover::new(vec![dead.clone(), dead]);
        let mut service = failover.clone();
        let request = http::Request::builder()
            .uri("http://127.0.0.1:9/x.Y/Z")
            .body(Body::empty())
            .expect("request");
        assert!(service.call(request).await.is_err());
        assert_eq!(failover.current.load(Ordering::Relaxed), 1, "moved on");
    }
}
