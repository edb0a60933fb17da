//! Native gRPC and (through tonic-web) grpc-web: checked at the gate, then forwarded as-is to
//! a live instance of the method's service.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use axum::extract::ConnectInfo;
use futures::future::BoxFuture;
use http::{HeaderValue, Request, Response};
use tonic::{body::Body, metadata::MetadataMap, service::Routes, Status};
use tower::{Service, ServiceExt};

use kit::{policy::MethodRule, shutdown::Shutdown};

use crate::{
    draining_body::DrainingBody,
    gate::{retry_after_seconds, Denied},
    message_limit::{read_unary, StreamLimit},
    EdgeState,
};

/// Headers that belong to one hop, or that only services may set.
const STRIPPED_HEADERS: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    kit::auth::INTERNAL_TOKEN_HEADER,
    kit::auth::CALLER_HEADER,
];

#[derive(Clone)]
pub struct GrpcFront {
    pub state: Arc<EdgeState>,
    /// The edge's own health and reflection services.
    pub local: Routes,
    /// Fired when the edge drains: forwarded server streams end then.
    pub streams_end: Shutdown,
}

fn reply(status: Status) -> Response<Body> {
    status.into_http()
}

impl GrpcFront {
    async fn handle(self, mut request: Request<Body>) -> Response<Body> {
        let path = request.uri().path().to_owned();
        if path.starts_with("/grpc.health.v1.") || path.starts_with("/grpc.reflection.") {
            return match self.local.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
        }
        let started = Instant::now();
        let state = self.state.clone();
        let Some(rule) = state.policy.rule(&path) else {
            return reply(Status::unimplemented(format!("unknown method {path}")));
        };
        let _place = match kit::overload::is_counted(&state.policy, &path) {
            true => match state.in_flight.try_enter() {
                Some(place) => Some(place),
                None => return reply(state.in_flight.busy()),
            },
            false => None,
        };
        let client = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let caller = match state.gate.admit(client, rule, request.headers()).await {
            Ok(caller) => caller,
            Err(Denied::Limited(wait)) => {
                let seconds = retry_after_seconds(wait);
                let mut response = reply(Status::resource_exhausted(format!(
                    "rate limit exceeded; retry in {seconds}s"
                )));
                if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert("retry-after", value);
                }
                return response;
            }
            Err(Denied::Refused(status)) => return reply(status),
        };
        let service = rule.descriptor.parent_service().full_name().to_owned();
        let Some(channel) = state.upstreams.pick(&service).await else {
            return reply(Status::unavailable(format!(
                "no live instance of {service}"
            )));
        };
        for header in STRIPPED_HEADERS {
            request.headers_mut().remove(*header);
        }
        if let Some(caller) = &caller {
            // The service takes the verified caller; the token itself need not travel
            // further (and costs a header encoding and decoding on every call if it does).
            request.headers_mut().remove(http::header::AUTHORIZATION);
            let mut metadata = MetadataMap::from_headers(std::mem::take(request.headers_mut()));
            if let Err(status) = state.gate.hand_on(caller, &mut metadata) {
                return reply(status);
            }
            *request.headers_mut() = metadata.into_headers();
        }
        if let Some(path_and_query) = request.uri().path_and_query().cloned() {
            *request.uri_mut() = http::Uri::from(path_and_query);
        }
        let (parts, body) = request.into_parts();
        let body = match bounded_body(&state, rule, body).await {
            Ok(body) => body,
            Err(status) => return reply(status),
        };
        let request = Request::from_parts(parts, body);
        let streaming = rule.descriptor.is_server_streaming();
        let response =
            match tokio::time::timeout(state.upstreams.timeout(), channel.oneshot(request)).await {
                Ok(Ok(response)) if streaming => response
                    .map(|body| Body::new(DrainingBody::new(Body::new(body), &self.streams_end))),
                Ok(Ok(response)) => response.map(Body::new),
                Ok(Err(error)) => {
                    tracing::warn!(%service, %error, "upstream call failed");
                    reply(Status::unavailable(format!("{service} is unreachable")))
                }
                Err(_) => reply(Status::deadline_exceeded(format!(
                    "{service} did not answer in time"
                ))),
            };
        let code = response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("0")
            .to_owned();
        kit::metrics::record("edge", path, code, started);
        response
    }
}

/// The request's body within the size limit: a unary call's read whole, a client stream's
/// checked message by message.
async fn bounded_body(state: &EdgeState, rule: &MethodRule, body: Body) -> Result<Body, Status> {
    let max = state.limits.max_body_bytes;
    if rule.descriptor.is_client_streaming() {
        return Ok(Body::new(StreamLimit::new(body, max)));
    }
    read_unary(body, max, state.upstreams.timeout()).await
}

impl Service<Request<Body>> for GrpcFront {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let this = self.clone();
        Box::pin(async move { Ok(this.handle(request).await) })
    }
}
