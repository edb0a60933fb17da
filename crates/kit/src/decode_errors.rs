//! tonic answers a request it cannot decode with INTERNAL; to a client that is its own
//! mistake, so this layer turns those answers into INVALID_ARGUMENT.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::HeaderValue;
use tower::{Layer, Service};

/// Messages tonic uses for undecodable or truncated request messages.
const CLIENT_FAULTS: &[&str] = &[
    "failed to decode Protobuf message",
    "Unexpected EOF decoding stream",
    "Error decompressing",
    "protocol error: received message with invalid compression flag",
];

#[derive(Clone, Copy, Debug, Default)]
pub struct DecodeErrorLayer;

impl<S> Layer<S> for DecodeErrorLayer {
    type Service = DecodeErrorService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DecodeErrorService { inner }
    }
}

#[derive(Clone)]
pub struct DecodeErrorService<S> {
    inner: S,
}

fn is_client_fault(response_headers: &http::HeaderMap) -> bool {
    let internal = response_headers
        .get("grpc-status")
        .map(HeaderValue::as_bytes)
        == Some(b"13");
    let message = response_headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // grpc-message is percent-encoded; spaces arrive as %20.
    let message = message.replace("%20", " ");
    internal && CLIENT_FAULTS.iter().any(|fault| message.starts_with(fault))
}

impl<S, B, R> Service<http::Request<B>> for DecodeErrorService<S>
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
        Box::pin(async move {
            let mut response = inner.call(request).await?;
            if is_client_fault(response.headers()) {
                response
                    .headers_mut()
                    .insert("grpc-status", HeaderValue::from_static("3"));
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_decode_failures_are_reclassified() {
        let mut headers = http::HeaderMap::new();
        headers.insert("grpc-status", HeaderValue::from_static("13"));
        headers.insert(
            "grpc-message",
            HeaderValue::from_static(
                "failed%20to%20decode%20Protobuf%20message:%20invalid%20wire%20type",
            ),
        );
        assert!(is_client_fault(&headers));
        headers.insert("grpc-message", HeaderValue::from_static("internal%20error"));
        assert!(!is_client_fault(&headers));
    }
}
