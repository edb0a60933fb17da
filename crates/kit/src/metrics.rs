//! Prometheus metrics: one recorder per process, a `/metrics` listener, and a layer that
//! counts requests and times them by method and status code.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
    time::Instant,
};

use futures::future::BoxFuture;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tower::{Layer, Service};

use crate::{policy::AccessPolicy, shutdown::Shutdown};

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Installs the process-wide recorder once; `None` if another recorder was installed first.
pub fn handle() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .ok()?
                .install_recorder()
                .ok()
        })
        .clone()
}

/// Serves `GET /metrics` until shutdown, as a drain-tracked task; returns the bound address.
pub async fn serve(listen: SocketAddr, shutdown: Shutdown) -> anyhow::Result<SocketAddr> {
    let handle = handle().ok_or_else(|| anyhow::anyhow!("metrics recorder unavailable"))?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move { handle.render() }
        }),
    );
    let stop = shutdown.clone();
    shutdown.spawn("metrics listener", async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.wait().await })
            .await;
        if let Err(error) = served {
            tracing::warn!(%error, "metrics listener stopped");
        }
    });
    Ok(local)
}

/// Records `votemesh_rpc_requests_total` and `votemesh_rpc_duration_seconds`.
#[derive(Clone)]
pub struct MetricsLayer {
    service: &'static str,
    policy: Arc<AccessPolicy>,
}

impl MetricsLayer {
    pub fn new(service: &'static str, policy: Arc<AccessPolicy>) -> Self {
        handle();
        Self { service, policy }
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    layer: MetricsLayer,
}

impl MetricsLayer {
    /// Known method paths keep their name; anything else is one label, so junk paths
    /// cannot blow up the series count.
    fn method_label(&self, path: &str) -> String {
        let infrastructure =
            path.starts_with("/grpc.health.") || path.starts_with("/grpc.reflection.");
        if self.policy.rule(path).is_some() || infrastructure {
            path.to_owned()
        } else {
            "unknown".to_owned()
        }
    }
}

/// Records one finished call; used by the layer and by the edge's REST front.
pub fn record(service: &'static str, method: String, code: String, started: Instant) {
    metrics::counter!(
        "votemesh_rpc_requests_total",
        "service" => service,
        "method" => method.clone(),
        "code" => code
    )
    .increment(1);
    metrics::histogram!(
        "votemesh_rpc_duration_seconds",
        "service" => service,
        "method" => method
    )
    .record(started.elapsed().as_secs_f64());
}

impl<S, B, R> Service<http::Request<B>> for MetricsService<S>
where
    S: Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
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
        let method = self.layer.method_label(request.uri().path());
        let service = self.layer.service;
        let started = Instant::now();
        Box::pin(async move {
            let result = inner.call(request).await;
            // Errors travel as trailers-only responses, so a status in the headers is the
            // outcome; without one the call succeeded (a later stream error is not seen here).
            let code = match &result {
                Ok(response) => response
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("0")
                    .to_owned(),
                Err(_) => "transport".to_owned(),
            };
            record(service, method, code, started);
            result
        })
    }
}
