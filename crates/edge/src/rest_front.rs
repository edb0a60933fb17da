//! REST/JSON: route by the protos' HTTP rules, check at the gate, transcode, call the
//! service with a unary gRPC call, and transcode the answer back.

use std::{net::SocketAddr, str::FromStr, sync::Arc, time::Instant};

use axum::{
    body::Body,
    http::{header, Request, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use bytes::Bytes;
use http::uri::PathAndQuery;
use kit::auth::Caller;
use tonic::{metadata::MetadataValue, Code};

use crate::{
    gate::{retry_after_seconds, Denied},
    raw_codec::RawCodec,
    rest::{request_message, response_json, RestError, Route, RouteMatch},
    EdgeState,
};

pub async fn handle(state: Arc<EdgeState>, client: SocketAddr, request: Request<Body>) -> Response {
    let started = Instant::now();
    let (label, outcome) = match transcoded_call(&state, client, request).await {
        Ok((label, json)) => (label, (StatusCode::OK, Json(json)).into_response()),
        Err((label, error)) => (label, error.into_response()),
    };
    kit::metrics::record(
        "edge",
        label,
        outcome.status().as_u16().to_string(),
        started,
    );
    outcome
}

type Labelled<T> = Result<(String, T), (String, RestError)>;

async fn transcoded_call(
    state: &EdgeState,
    client: SocketAddr,
    request: Request<Body>,
) -> Labelled<serde_json::Value> {
    let (parts, body) = request.into_parts();
    let (route, bound) = match state.routes.find(&parts.method, parts.uri.path()) {
        RouteMatch::Found(route, bound) => (route, bound),
        unmatched => return Err(("unknown".to_owned(), no_route(unmatched, &parts))),
    };
    let label = route.grpc_path.clone();
    let Some(_place) = state.in_flight.try_enter() else {
        return Err((label, RestError::from_status(&state.in_flight.busy())));
    };
    let answer = async {
        let caller = state
            .gate
            .admit(Some(client.ip()), &route.rule, &parts.headers)
            .await
            .map_err(refused)?;
        let body = read_body(state, &parts, body).await?;
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let message = request_message(route, &bound, parts.uri.query(), content_type, &body)?;
        forward(state, route, caller.as_ref(), &parts.headers, message).await
    };
    answer
        .await
        .map(|json| (label.clone(), json))
        .map_err(|error| (label, error))
}

/// 405 for a known path with another verb, 404 for an unknown one.
fn no_route(unmatched: RouteMatch<'_>, parts: &http::request::Parts) -> RestError {
    let (method, path) = (&parts.method, parts.uri.path());
    match unmatched {
        RouteMatch::WrongVerb => RestError::new(
            Code::Unimplemented,
            format!("{method} is not allowed on {path}"),
        )
        .with_status(405),
        _ => RestError::new(Code::NotFound, format!("no route for {method} {path}")),
    }
}

/// The gate's refusal as REST: 429 with Retry-After when limited, else the status's mapping.
fn refused(denied: Denied) -> RestError {
    match denied {
        Denied::Limited(wait) => {
            let mut error = RestError::new(Code::ResourceExhausted, "rate limit exceeded");
            error.retry_after_seconds = Some(retry_after_seconds(wait));
            error
        }
        Denied::Refused(status) => RestError::from_status(&status),
    }
}

/// The body, refused with 413 when its declared or actual length passes the limit.
async fn read_body(
    state: &EdgeState,
    parts: &http::request::Parts,
    body: Body,
) -> Result<Bytes, RestError> {
    let too_large = || {
        RestError::field(
            "body",
            format!("larger than {} bytes", state.limits.max_body_bytes),
        )
        .with_status(413)
    };
    let declared_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared_length.is_some_and(|length| length > state.limits.max_body_bytes) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, state.limits.max_body_bytes)
        .await
        .map_err(|_| too_large())
}

/// One unary call to a live instance of the route's service, with the caller's token or
/// the identity the gate verified, within the upstream timeout; the answer as JSON.
async fn forward(
    state: &EdgeState,
    route: &Route,
    caller: Option<&Caller>,
    headers: &http::HeaderMap,
    message: Vec<u8>,
) -> Result<serde_json::Value, RestError> {
    let service = route.method().parent_service().full_name().to_owned();
    let unavailable = |why: &str| RestError::new(Code::Unavailable, format!("{service} {why}"));
    let channel = state.upstreams.pick(&service).await.ok_or_else(|| {
        RestError::new(Code::Unavailable, format!("no live instance of {service}"))
    })?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|_| unavailable("is unreachable"))?;
    let mut call = tonic::Request::new(Bytes::from(message));
    call.set_timeout(state.upstreams.timeout());
    match caller {
        // The service takes the verified caller; the token itself need not travel further.
        Some(caller) => state
            .gate
            .hand_on(caller, call.metadata_mut())
            .map_err(|status| RestError::from_status(&status))?,
        None => {
            if let Some(value) = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| MetadataValue::try_from(v.as_bytes()).ok())
            {
                call.metadata_mut().insert("authorization", value);
            }
        }
    }
    let path = PathAndQuery::from_str(&route.grpc_path)
        .map_err(|_| RestError::new(Code::Internal, "bad method path"))?;
    let answer =
        tokio::time::timeout(state.upstreams.timeout(), grpc.unary(call, path, RawCodec)).await;
    match answer {
        Ok(Ok(response)) => response_json(route.method().output(), &response.into_inner()),
        Ok(Err(status)) => Err(RestError::from_status(&status)),
        Err(_) => Err(RestError::new(
            Code::DeadlineExceeded,
            format!("{service} did not answer in time"),
        )),
    }
}
