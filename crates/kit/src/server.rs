//! The gRPC server every service runs: health, reflection, the access policy, metrics, request
//! limits, registration, and a drain with a deadline.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{service::Routes, transport::Server};
use tonic_health::{server::HealthReporter, ServingStatus};

use crate::{
    auth::{AuthLayer, TokenVerifier},
    config::CommonArgs,
    decode_errors::reclassify_client_faults,
    internal::registry_client,
    metrics::MetricsLayer,
    overload::{InFlight, ShedLayer},
    policy::AccessPolicy,
    registration::Registration,
    shutdown::{serve_with_drain_deadline, Shutdown},
};

/// Most concurrent calls one connection may have in flight.
const CONCURRENCY_PER_CONNECTION: usize = 512;
/// Most streams a client may open at once on one HTTP/2 connection (advertised in SETTINGS).
pub const MAX_CONCURRENT_STREAMS: u32 = 1024;
/// Streams a client may reset before the server accepted them, and streams the server may
/// reset for a client's protocol errors, before the connection is closed with GOAWAY: the
/// rapid-reset (CVE-2023-44487) bound.
pub const MAX_PENDING_ACCEPT_RESET_STREAMS: usize = 64;
pub const MAX_LOCAL_ERROR_RESET_STREAMS: usize = 256;
/// Longest any single call may run on the server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A bound, not yet running gRPC server.
pub struct GrpcServer {
    name: &'static str,
    listener: TcpListener,
    routes: Routes,
    services: Vec<&'static str>,
    auth: AuthLayer,
    policy: Arc<AccessPolicy>,
    common: CommonArgs,
}

/// Binds `common.listen` (port 0 picks a free port); the mesh hands the listener to
/// `App::build(config, listener)`, and a caller holding a listener already passes its own.
pub async fn listen(common: &CommonArgs) -> anyhow::Result<TcpListener> {
    TcpListener::bind(common.listen)
        .await
        .with_context(|| format!("binding {}", common.listen))
}

/// The address `listener` is bound to.
pub fn local_addr(listener: &TcpListener) -> SocketAddr {
    // A bound listener always has an address.
    listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// The URI other services reach `listener` by: the advertised host and the bound port.
pub fn advertised_url(common: &CommonArgs, listener: &TcpListener) -> String {
    let host = match common.advertise_host.as_str() {
        "auto" => own_address(),
        host => host.to_owned(),
    };
    format!("http://{host}:{}", local_addr(listener).port())
}

/// This machine's address on its default route (a container's own address), for
/// `--advertise-host auto`: replicas behind one name must each register where they are.
/// Connecting a UDP socket only picks the route; nothing is sent.
fn own_address() -> String {
    let routed = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|socket| {
            socket.connect("192.0.2.1:9")?;
            socket.local_addr()
        })
        .map(|address| address.ip());
    match routed {
        Ok(ip) if !ip.is_unspecified() => ip.to_string(),
        _ => {
            tracing::warn!(
                "no default route to find this machine's address; advertising 127.0.0.1"
            );
            "127.0.0.1".into()
        }
    }
}

impl GrpcServer {
    /// A server on a bound `listener` (see [`listen`]), so its address is known before it runs.
    pub fn bind(
        name: &'static str,
        listener: TcpListener,
        common: &CommonArgs,
        routes: Routes,
        services: Vec<&'static str>,
        verifier: TokenVerifier,
    ) -> anyhow::Result<Self> {
        let policy = Arc::new(AccessPolicy::from_contracts()?);
        Ok(Self {
            name,
            listener,
            routes,
            services,
            auth: AuthLayer::new(policy.clone(), verifier, common.internal_token.clone()),
            policy,
            common: common.clone(),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        local_addr(&self.listener)
    }

    /// The URI other services reach this one by.
    pub fn advertised_address(&self) -> String {
        advertised_url(&self.common, &self.listener)
    }

    /// Serves until `shutdown` fires, then drains the calls and the background tasks within
    /// the configured deadline.
    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        let advertised = self.advertised_address();
        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_service_status("", ServingStatus::Serving).await;
        for service in &self.services {
            health
                .set_service_status(*service, ServingStatus::Serving)
                .await;
        }
        let routes = with_reflection(self.routes.add_service(health_service))?;

        let drain_signal = announce(
            self.name,
            &self.common,
            &self.services,
            advertised,
            health,
            &shutdown,
        )
        .await?;
        let layers = tower::ServiceBuilder::new()
            .layer(MetricsLayer::new(self.name, self.policy.clone()))
            .map_response(reclassify_client_faults::<tonic::body::Body>)
            .layer(ShedLayer::new(
                InFlight::new(self.name, self.common.max_in_flight),
                self.policy.clone(),
            ))
            .layer(self.auth.clone())
            .into_inner();
        let server = Server::builder()
            .concurrency_limit_per_connection(CONCURRENCY_PER_CONNECTION)
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .http2_max_pending_accept_reset_streams(Some(MAX_PENDING_ACCEPT_RESET_STREAMS))
            .http2_max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESET_STREAMS))
            .timeout(REQUEST_TIMEOUT)
            .http2_keepalive_interval(Some(Duration::from_secs(20)))
            .http2_keepalive_timeout(Some(Duration::from_secs(10)))
            .layer(layers)
            .add_routes(routes)
            .serve_with_incoming_shutdown(TcpListenerStream::new(self.listener), drain_signal);
        serve_with_drain_deadline(self.name, server, &shutdown, self.common.drain_deadline())
            .await?;
        Ok(())
    }
}

/// Makes a serving process known: its metrics listener, its registration (kept alive under
/// the drain), health SERVING. Returns the future that resolves when the drain starts, after
/// health turns NOT_SERVING, the instance has deregistered and its grace has passed, so no new
/// call is routed here.
pub async fn announce(
    name: &'static str,
    common: &CommonArgs,
    services: &[&'static str],
    advertised: String,
    health: HealthReporter,
    shutdown: &Shutdown,
) -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    if let Some(listen) = common.metrics_listen {
        let bound = crate::metrics::serve(listen, shutdown.clone()).await?;
        tracing::info!(service = name, metrics = %bound, "metrics listening");
    }
    let registration = match &common.registry_url {
        Some(url) => Some(Registration::spawn(
            registry_client(url, &common.internal_token, common.upstream_timeout())?,
            services,
            advertised.clone(),
            common.lease_ttl_seconds,
            shutdown,
        )),
        None => None,
    };
    tracing::info!(service = name, address = %advertised, "serving");
    let services = services.to_vec();
    let shutdown = shutdown.clone();
    let grace = common.deregister_grace();
    Ok(async move {
        shutdown.wait().await;
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        for service in services {
            health
                .set_service_status(service, ServingStatus::NotServing)
                .await;
        }
        if let Some(registration) = registration {
            registration.deregister().await;
            // Callers learn of the deregistration through their watch a moment later; until
            // then they may still pick this instance, so it keeps taking calls.
            tokio::time::sleep(grace).await;
        }
    })
}

/// Adds server reflection, v1 and the v1alpha that grpcurl 1.8 asks for, over every votemesh
/// contract and grpc.health.v1.
pub fn with_reflection(routes: Routes) -> anyhow::Result<Routes> {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(proto_gen::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Ok(routes
        .add_service(builder().build_v1()?)
        .add_service(builder().build_v1alpha()?))
}

#[cfg(test)]
mod advertise_tests {
    use super::*;

    #[tokio::test]
    async fn auto_advertises_an_address_other_machines_can_use() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
        let mut common: CommonArgs =
            crate::config::local::<CommonArgs, _, _>(["--internal-token=t"]).expect("config");
        common.advertise_host = "auto".into();
        let url = advertised_url(&common, &listener);
        let host = url
            .trim_start_matches("http://")
            .rsplit_once(':')
            .map(|(host, _)| host)
            .expect("host and port");
        let ip: std::net::IpAddr = host.parse().expect("an address");
        assert!(!ip.is_unspecified(), "{url}");
    }
}
