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
use tonic::{metadata::MetadataValue, Code};

use crate::{
    gate::{retry_after_seconds, Denied},
    raw_codec::RawCodec,
    rest::{request_message, response_json, RestError, RouteMatch},
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
    let unknown = || "unknown".to_owned();
    let (route, bound) = match state.routes.find(&parts.method, parts.uri.path()) {
        RouteMatch::Found(route, bound) => (route, bound),
        RouteMatch::WrongVerb => {
            let error = RestError::new(
                Code::Unimplemented,
                format!("{} is not allowed on {}", parts.method, parts.uri.path()),
            );
            return Err((unknown(), error.with_status(405)));
        }
        RouteMatch::NotFound => {
            let error = RestError::new(
                Code::NotFound,
                format!("no route for {} {}", parts.method, parts.uri.path()),
            );
            return Err((unknown(), error));
        }
    };
    let label = route.grpc_path.clone();
    let fail = |error: RestError| Err((label.clone(), error));

    match state
        .gate
        .admit(Some(client.ip()), &route.rule, &parts.headers)
        .await
    {
        Ok(_) => {}
        Err(Denied::Limited(wait)) => {
            let mut error = RestError::new(Code::ResourceExhausted, "rate limit exceeded");
            error.retry_after_seconds = Some(retry_after_seconds(wait));
            return fail(error);
        }
        Err(Denied::Refused(status)) => return fail(RestError::from_status(&status)),
    }

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
        return fail(too_large());
    }
    let body = match axum::body::to_bytes(body, state.limits.max_body_bytes).await {
        Ok(body) => body,
        Err(_) => return fail(too_large()),
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let message = match request_message(route, &bound, parts.uri.query(), content_type, &body) {
        Ok(message) => message,
        Err(error) => return fail(error),
    };

    let service = route.method().parent_service().full_name().to_owned();
    let Some(channel) = state.upstreams.pick(&service).await else {
        return fail(RestError::new(
            Code::Unavailable,
            format!("no live instance of {service}"),
        ));
    };
    let mut grpc = tonic::client::Grpc::new(channel);
    if grpc.ready().await.is_err() {
        return fail(RestError::new(
            Code::Unavailable,
            format!("{service} is unreachable"),
        ));
    }
    let mut call = tonic::Request::new(Bytes::from(message));
    call.set_timeout(state.upstreams.timeout());
    if let Some(value) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| MetadataValue::try_from(v.as_bytes()).ok())
    {
        call.metadata_mut().insert("authorization", value);
    }
    let Ok(path) = PathAndQuery::from_str(&route.grpc_path) else {
        return fail(RestError::new(Code::Internal, "bad method path"));
    };
    let answer =
        tokio::time::timeout(state.upstreams.timeout(), grpc.unary(call, path, RawCodec)).await;
    match answer {
        Ok(Ok(response)) => match response_json(route.method().output(), &response.into_inner()) {
            Ok(json) => Ok((label, json)),
            Err(error) => fail(error),
        },
        Ok(Err(status)) => fail(RestError::from_status(&status)),
        Err(_) => fail(RestError::new(
            Code::DeadlineExceeded,
            format!("{service} did not answer in time"),
        )),
    }
}
