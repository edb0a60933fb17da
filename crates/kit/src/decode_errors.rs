//! tonic answers a request it cannot decode with INTERNAL; to a client that is its own
//! mistake, so this layer turns those answers into INVALID_ARGUMENT.

use http::HeaderValue;

/// Messages tonic uses for undecodable or truncated request messages.
const CLIENT_FAULTS: &[&str] = &[
    "failed to decode Protobuf message",
    "Unexpected EOF decoding stream",
    "Error decompressing",
    "protocol error: received message with invalid compression flag",
    // A unary call whose body holds no message at all (an empty grpc-web body, say).
    "Missing request message",
];

/// Answers tonic gave to undecodable requests, reclassified as INVALID_ARGUMENT; every
/// other response passes unchanged. Used as a `map_response` layer.
pub fn reclassify_client_faults<R>(mut response: http::Response<R>) -> http::Response<R> {
    if is_client_fault(response.headers()) {
        response
            .headers_mut()
            .insert("grpc-status", HeaderValue::from_static("3"));
    }
    response
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
        headers.insert(
            "grpc-message",
            HeaderValue::from_static("Missing%20request%20message."),
        );
        assert!(is_client_fault(&headers), "an empty unary body");
        headers.insert("grpc-message", HeaderValue::from_static("internal%20error"));
        assert!(!is_client_fault(&headers));
    }
}
