//! The client stack every typed client shares: a live instance of the service (round-robin
//! over what the registry reports), the internal token on every call, one timeout from
//! `--upstream-timeout-ms`, call metrics, and statuses mapped back to `ServiceError`.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use kit::{
    config::CommonArgs,
    discovery::Balanced,
    error::code_name,
    internal::{InternalToken, RegistryClient},
    ServiceError,
};
use tonic::{
    service::interceptor::InterceptedService, transport::Channel as Transport, Response, Status,
};

/// What a generated client is built on: a channel that adds the internal token.
pub type Channel = InterceptedService<Transport, InternalToken>;

/// The instances of one service, and how every call to them is made.
#[derive(Clone)]
pub struct Upstream {
    instances: Balanced,
    token: InternalToken,
    timeout: Duration,
}

impl Upstream {
    /// Calls to `instances` (one service's balanced set) with the settings in `common`.
    pub fn new(instances: Balanced, common: &CommonArgs) -> anyhow::Result<Self> {
        Ok(Self {
            instances,
            token: InternalToken::new(&common.internal_token)?,
            timeout: common.upstream_timeout(),
        })
    }

    /// Follows `service` in the registry.
    pub fn watch(
        registry: &RegistryClient,
        service: &str,
        common: &CommonArgs,
    ) -> anyhow::Result<Self> {
        let instances = Balanced::watch(registry.clone(), service, common.upstream_timeout());
        Self::new(instances, common)
    }

    pub fn service(&self) -> &str {
        self.instances.service()
    }

    pub(crate) fn token(&self) -> &InternalToken {
        &self.token
    }

    /// Makes one call, `rpc` naming it in metrics and errors: waits up to the timeout for a
    /// live instance, then up to the timeout for the answer.
    pub(crate) async fn call<T, F, Fut>(
        &self,
        rpc: &'static str,
        call: F,
    ) -> Result<T, ServiceError>
    where
        F: FnOnce(Channel) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        let started = Instant::now();
        let outcome = self.attempt(rpc, call).await;
        let code = match &outcome {
            Ok(_) => "OK",
            Err(error) => code_name(error.grpc_code()),
        };
        let service = self.service().to_owned();
        metrics::counter!(
            "votemesh_client_calls_total",
            "service" => service.clone(),
            "rpc" => rpc,
            "code" => code
        )
        .increment(1);
        metrics::histogram!(
            "votemesh_client_call_duration_seconds",
            "service" => service,
            "rpc" => rpc
        )
        .record(started.elapsed().as_secs_f64());
        outcome
    }

    async fn attempt<T, F, Fut>(&self, rpc: &'static str, call: F) -> Result<T, ServiceError>
    where
        F: FnOnce(Channel) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        let service = self.service();
        let channel = self
            .instances
            .pick_within(self.timeout)
            .await
            .ok_or_else(|| ServiceError::Unavailable(format!("no live instance of {service}")))?;
        let channel = InterceptedService::new(channel, self.token.clone());
        match tokio::time::timeout(self.timeout, call(channel)).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(ServiceError::from_upstream(service, status)),
            Err(_) => Err(ServiceError::DeadlineExceeded(format!(
                "{service} did not answer {rpc} within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use proto_gen::user::v1::{
        user_service_client::UserServiceClient, user_service_server::SERVICE_NAME,
        GetSigningKeysRequest,
    };
    use tonic::Code;

    use super::*;

    fn upstream(addresses: &[String], timeout: Duration) -> Upstream {
        Upstream {
            instances: Balanced::fixed(SERVICE_NAME, addresses, Duration::from_secs(30)),
            token: InternalToken::new("s3cret").expect("ascii"),
            timeout,
        }
    }

    async fn get_signing_keys(upstream: &Upstream) -> Result<(), ServiceError> {
        upstream
            .call("GetSigningKeys", |channel| async move {
                UserServiceClient::new(channel)
                    .get_signing_keys(GetSigningKeysRequest {})
                    .await
            })
            .await
            .map(|_| ())
    }

    #[tokio::test]
    async fn no_live_instance_is_unavailable() {
        let refused = get_signing_keys(&upstream(&[], Duration::from_secs(5)))
            .await
            .expect_err("nobody to ask");
        assert_eq!(refused.grpc_code(), Code::Unavailable);
    }

    #[tokio::test]
    async fn a_silent_instance_times_out_at_the_configured_timeout() {
        // The kernel completes the connection into the backlog; nobody ever answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let started = Instant::now();
        let refused = get_signing_keys(&upstream(&[address], Duration::from_millis(300)))
            .await
            .expect_err("silence");
        assert_eq!(refused.grpc_code(), Code::DeadlineExceeded, "{refused}");
        assert!(started.elapsed() < Duration::from_secs(5));
        drop(listener);
    }

    #[tokio::test]
    async fn a_closed_port_is_unavailable() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        drop(listener);
        let refused = get_signing_keys(&upstream(&[address], Duration::from_secs(5)))
            .await
            .expect_err("nobody listens");
        assert_eq!(refused.grpc_code(), Code::Unavailable, "{refused}");
    }
}
