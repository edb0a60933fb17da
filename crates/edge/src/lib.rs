//! The edge: one listener for native gRPC (h2c), grpc-web and REST/JSON, in front of the
//! services it finds through the registry.
#![forbid(unsafe_code)]

mod client_address;
mod draining_body;
mod gate;
mod grpc_front;
mod listener;
mod message_limit;
mod raw_codec;
pub mod rest;
mod rest_front;
mod upstreams;
mod webapp;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{
    body::Body,
    extract::{ConnectInfo, State},
    http::{header, HeaderName, Method, Request, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use clients::UserClient;
use kit::{
    config::CommonArgs,
    internal::{registry_for, InternalToken},
    policy::AccessPolicy,
    shutdown::Shutdown,
};
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic_health::ServingStatus;
use tower::{Layer, ServiceExt};
use tower_http::cors::{AllowOrigin, CorsLayer};

pub use gate::Limits;

use crate::{gate::Gate, grpc_front::GrpcFront, rest::RouteTable, upstreams::Upstreams};

pub const SERVICE_NAME: &str = "votemesh.edge";

/// Edge settings.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Requests per second per client IP.
    #[arg(long, env = "VOTEMESH_EDGE_PER_IP_PER_SECOND", default_value_t = 200.0)]
    pub per_ip_per_second: f64,
    /// Burst per client IP.
    #[arg(long, env = "VOTEMESH_EDGE_PER_IP_BURST", default_value_t = 400.0)]
    pub per_ip_burst: f64,
    /// Requests per second per signed-in user.
    #[arg(
        long,
        env = "VOTEMESH_EDGE_PER_USER_PER_SECOND",
        default_value_t = 50.0
    )]
    pub per_user_per_second: f64,
    /// Burst per signed-in user.
    #[arg(long, env = "VOTEMESH_EDGE_PER_USER_BURST", default_value_t = 100.0)]
    pub per_user_burst: f64,
    /// Login, register and refresh calls per minute per client IP.
    #[arg(
        long,
        env = "VOTEMESH_EDGE_CREDENTIALS_PER_MINUTE",
        default_value_t = 30.0
    )]
    pub credentials_per_minute: f64,
    /// Burst of credential calls per client IP.
    #[arg(long, env = "VOTEMESH_EDGE_CREDENTIALS_BURST", default_value_t = 10.0)]
    pub credentials_burst: f64,
    /// Largest REST body, and largest gRPC or grpc-web request message, accepted.
    #[arg(long, env = "VOTEMESH_EDGE_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Largest total size of request headers.
    #[arg(long, env = "VOTEMESH_EDGE_MAX_HEADER_BYTES", default_value_t = 16 << 10)]
    pub max_header_bytes: usize,
    /// Serve the web app from this directory (a `web/` build) instead of the bundle built
    /// into the binary: for working on the app.
    #[arg(long, env = "VOTEMESH_WEB_DIR")]
    pub web_dir: Option<std::path::PathBuf>,
    /// Proxies in front of the edge (addresses or blocks, comma-separated, e.g.
    /// `10.0.0.0/8`) whose X-Forwarded-For names the client the rate limits key on; none by
    /// default, so no client can pick its own address.
    #[arg(long, env = "VOTEMESH_EDGE_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
}

impl Config {
    fn limits(&self) -> anyhow::Result<Limits> {
        let trusted_proxies = client_address::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|why| anyhow::anyhow!("--trusted-proxies: {why}"))?;
        Ok(Limits {
            trusted_proxies,
            per_ip_per_second: self.per_ip_per_second,
            per_ip_burst: self.per_ip_burst,
            per_user_per_second: self.per_user_per_second,
            per_user_burst: self.per_user_burst,
            credentials_per_minute: self.credentials_per_minute,
            credentials_burst: self.credentials_burst,
        })
    }
}

#[derive(Clone, Debug)]
pub struct SizeLimits {
    pub max_body_bytes: usize,
    pub max_header_bytes: usize,
}

/// What every request handler shares.
pub struct EdgeState {
    pub policy: Arc<AccessPolicy>,
    pub routes: RouteTable,
    pub gate: Gate,
    pub upstreams: Arc<Upstreams>,
    pub limits: SizeLimits,
    /// The bound on calls in flight through this edge (streams not counted).
    pub in_flight: kit::overload::InFlight,
    openapi: serde_json::Value,
    webapp: webapp::WebApp,
}

/// A bound edge, ready to run.
pub struct App {
    listener: TcpListener,
    router: Router,
    health: tonic_health::server::HealthReporter,
    /// Fired once the drain starts, to end forwarded server streams.
    streams_end: Shutdown,
    config: Config,
}

/// Browsers may call from any origin (grpc-web and REST), and read the gRPC status headers.
fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-grpc-web"),
            HeaderName::from_static("x-user-agent"),
            HeaderName::from_static("grpc-timeout"),
        ])
        .expose_headers([
            HeaderName::from_static("grpc-status"),
            HeaderName::from_static("grpc-message"),
            HeaderName::from_static("grpc-status-details-bin"),
            header::RETRY_AFTER,
        ])
        .max_age(Duration::from_secs(600))
}

fn is_grpc(request: &Request<Body>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/grpc"))
}

fn header_bytes(request: &Request<Body>) -> usize {
    request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum()
}

async fn dispatch(
    State((state, grpc)): State<(Arc<EdgeState>, tonic_web::GrpcWebService<GrpcFront>)>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    if header_bytes(&request) > state.limits.max_header_bytes {
        let error = rest::RestError::field(
            "headers",
            format!("larger than {} bytes", state.limits.max_header_bytes),
        );
        return error.with_status(431).into_response();
    }
    if is_grpc(&request) {
        return match grpc.oneshot(request).await {
            Ok(response) => response.map(Body::new),
            Err(error) => {
                tracing::debug!(%error, "grpc-web translation failed");
                (StatusCode::BAD_REQUEST, "malformed grpc-web request").into_response()
            }
        };
    }
    if request.method() == Method::GET || request.method() == Method::HEAD {
        if let Some(page) = state.webapp.serve(request.uri().path()).await {
            return page;
        }
    }
    rest_front::handle(state, client, request).await
}

impl App {
    /// Builds on a listener the caller bound (the mesh binds `config.common.listen`).
    pub async fn build(config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let policy = Arc::new(AccessPolicy::from_contracts()?);
        let routes = RouteTable::from_policy(&policy)?;
        let registry = registry_for(&config.common, "the edge")?;
        let upstreams = Arc::new(Upstreams::new(registry, config.common.upstream_timeout()));
        let mut services: Vec<String> = policy
            .rules()
            .map(|(_, rule)| rule.descriptor.parent_service().full_name().to_owned())
            .filter(|name| !name.contains(".registry."))
            .collect();
        services.sort();
        services.dedup();
        for service in &services {
            upstreams.follow(service);
        }
        let users = UserClient::new(upstreams.follow(UserClient::SERVICE), &config.common)?;
        let verifier = clients::token_verifier(&users, &config.common);
        let internal_token = InternalToken::new(&config.common.internal_token)?;
        let openapi = rest::openapi::document(&routes);
        let state = Arc::new(EdgeState {
            policy,
            routes,
            gate: Gate::new(verifier, internal_token, &config.limits()?),
            upstreams,
            limits: SizeLimits {
                max_body_bytes: config.max_body_bytes,
                max_header_bytes: config.max_header_bytes,
            },
            in_flight: kit::overload::InFlight::new("edge", config.common.max_in_flight),
            openapi,
            webapp: webapp::WebApp::new(config.web_dir.clone()),
        });

        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_service_status("", ServingStatus::Serving).await;
        let local = kit::server::with_reflection(Routes::new(health_service))?;
        let streams_end = Shutdown::new();
        let grpc = tonic_web::GrpcWebLayer::new().layer(GrpcFront {
            state: state.clone(),
            local,
            streams_end: streams_end.clone(),
        });
        let openapi_state = state.clone();
        let router = Router::new()
            .route(
                "/api/openapi.json",
                get(move || {
                    let state = openapi_state.clone();
                    async move { Json(state.openapi.clone()) }
                }),
            )
            .route("/healthz", get(|| async { "ok" }))
            .fallback(dispatch)
            .with_state((state, grpc))
            .layer(cors());
        Ok(Self {
            listener,
            router,
            health,
            streams_end,
            config,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        kit::server::local_addr(&self.listener)
    }

    pub fn url(&self) -> String {
        kit::server::advertised_url(&self.config.common, &self.listener)
    }

    pub async fn run_until_stopped(self, shutdown: Shutdown) -> anyhow::Result<()> {
        shutdown.propagate_to(self.streams_end.clone());
        let url = self.url();
        let Self {
            listener,
            router,
            health,
            config,
            ..
        } = self;
        let drain = kit::server::announce(
            "edge",
            &config.common,
            &[SERVICE_NAME],
            url,
            health,
            &shutdown,
        )
        .await?;
        let (deadline, max_header_bytes) =
            (config.common.drain_deadline(), config.max_header_bytes);
        let server = async move {
            listener::serve(listener, router, max_header_bytes, drain).await;
            Ok::<_, std::convert::Infallible>(())
        };
        kit::shutdown::serve_with_drain_deadline("edge", server, &shutdown, deadline).await?;
        Ok(())
    }
}
