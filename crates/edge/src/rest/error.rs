//! REST error bodies: `{"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": …, "field": …}}`.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use kit::error::{code_name, http_status_for};
use tonic::Code;

#[derive(Debug)]
pub struct RestError {
    pub code: Code,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_seconds: Option<u64>,
    /// Overrides the status that `code` maps to (405, 413, 431).
    pub http_status: Option<u16>,
}

impl RestError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            retry_after_seconds: None,
            http_status: None,
        }
    }

    /// A bad request that names its field.
    pub fn field(field: impl Into<String>, reason: impl std::fmt::Display) -> Self {
        let field = field.into();
        Self {
            message: format!("{field}: {reason}"),
            field: Some(field),
            ..Self::new(Code::InvalidArgument, "")
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    pub fn from_status(status: &tonic::Status) -> Self {
        let message = status.message().to_owned();
        // Services name the field as the message's `field: ` prefix.
        let field = (status.code() == Code::InvalidArgument)
            .then(|| message.split_once(": ").map(|(f, _)| f.to_owned()))
            .flatten()
            .filter(|f| {
                f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            });
        // An overloaded service (or this edge) asks for a retry: 503 with Retry-After, where
        // a rate limit's RESOURCE_EXHAUSTED stays 429.
        let overloaded = kit::overload::retry_after(status);
        Self {
            field,
            retry_after_seconds: overloaded,
            http_status: overloaded.map(|_| 503),
            ..Self::new(status.code(), message)
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let status = self
            .http_status
            .unwrap_or_else(|| http_status_for(self.code));
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut error = serde_json::json!({
            "code": status.as_u16(),
            "status": code_name(self.code),
            "message": self.message,
        });
        if let Some(field) = self.field {
            error["field"] = serde_json::Value::String(field);
        }
        let mut response =
            (status, axum::Json(serde_json::json!({ "error": error }))).into_response();
        if let Some(seconds) = self.retry_after_seconds {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
