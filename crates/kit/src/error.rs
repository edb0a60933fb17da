//! One error enum for every service, mapped to both a gRPC code and an HTTP status, and back
//! from the status another service answered with.

use tonic::Code;

/// What went wrong, in terms a client can act on.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A request field is invalid; `field` names it.
    #[error("{field}: {reason}")]
    InvalidArgument { field: String, reason: String },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    PermissionDenied(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// A concurrent change won; retry with fresh state.
    #[error("{0}")]
    Aborted(String),
    #[error("{0}")]
    ResourceExhausted(String),
    /// Too busy to take the call now (not a limit the caller passed): RESOURCE_EXHAUSTED with
    /// a retry hint, 503 with Retry-After over REST.
    #[error("{0}")]
    Overloaded(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    DeadlineExceeded(String),
    /// A fault on our side; the detail is logged, never sent.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidArgument {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }

    pub fn grpc_code(&self) -> Code {
        match self {
            Self::InvalidArgument { .. } => Code::InvalidArgument,
            Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::PermissionDenied(_) => Code::PermissionDenied,
            Self::NotFound(_) => Code::NotFound,
            Self::AlreadyExists(_) => Code::AlreadyExists,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::Aborted(_) => Code::Aborted,
            Self::ResourceExhausted(_) | Self::Overloaded(_) => Code::ResourceExhausted,
            Self::Unavailable(_) => Code::Unavailable,
            Self::DeadlineExceeded(_) => Code::DeadlineExceeded,
            Self::Internal(_) => Code::Internal,
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Self::Overloaded(_) => 503,
            _ => http_status_for(self.grpc_code()),
        }
    }
}

/// The grpc-gateway mapping from gRPC codes to HTTP statuses.
pub fn http_status_for(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::Cancelled => 499,
        Code::InvalidArgument | Code::OutOfRange => 400,
        Code::FailedPrecondition => 412,
        Code::DeadlineExceeded => 504,
        Code::NotFound => 404,
        Code::AlreadyExists | Code::Aborted => 409,
        Code::PermissionDenied => 403,
        Code::Unauthenticated => 401,
        Code::ResourceExhausted => 429,
        Code::Unimplemented => 501,
        Code::Unavailable => 503,
        Code::Unknown | Code::Internal | Code::DataLoss => 500,
    }
}

/// The canonical upper-snake name of a code, as REST error bodies carry it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(error: ServiceError) -> Self {
        if let ServiceError::Internal(source) = &error {
            tracing::error!(error = ?source, "internal error");
        }
        if let ServiceError::Overloaded(message) = &error {
            return crate::overload::busy(message.clone());
        }
        tonic::Status::new(error.grpc_code(), error.to_string())
    }
}

impl ServiceError {
    /// The typed error behind a status that `upstream` (a service name) answered with, or
    /// that the transport made up on the way: refusals keep their kind and message, transport
    /// failures become Unavailable or DeadlineExceeded, and faults on the other side Internal.
    pub fn from_upstream(upstream: &str, status: tonic::Status) -> Self {
        let message = status.message().to_owned();
        match status.code() {
            Code::InvalidArgument | Code::OutOfRange => match message.split_once(": ") {
                Some((field, reason)) => Self::invalid(field, reason),
                None => Self::invalid("request", message),
            },
            Code::Unauthenticated => Self::Unauthenticated(message),
            Code::PermissionDenied => Self::PermissionDenied(message),
            Code::NotFound => Self::NotFound(message),
            Code::AlreadyExists => Self::AlreadyExists(message),
            Code::FailedPrecondition => Self::FailedPrecondition(message),
            Code::Aborted => Self::Aborted(message),
            Code::ResourceExhausted if crate::overload::retry_after(&status).is_some() => {
                Self::Overloaded(message)
            }
            Code::ResourceExhausted => Self::ResourceExhausted(message),
            Code::Unavailable => Self::Unavailable(format!("{upstream}: {message}")),
            // tonic reports its own client-side timeout as Cancelled.
            Code::DeadlineExceeded | Code::Cancelled => {
                Self::DeadlineExceeded(format!("{upstream} did not answer in time: {message}"))
            }
            // A status with a source was made on our side of the wire: a transport failure.
            Code::Unknown if std::error::Error::source(&status).is_some() => {
                Self::Unavailable(format!("{upstream} is unreachable: {message}"))
            }
            Code::Ok | Code::Unknown | Code::Internal | Code::Unimplemented | Code::DataLoss => {
                Self::internal(anyhow::anyhow!(
                    "{upstream} failed: {:?}: {message}",
                    status.code()
                ))
            }
        }
    }
}

impl From<sea_orm::DbErr> for ServiceError {
    fn from(error: sea_orm::DbErr) -> Self {
        Self::Internal(error.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_argument_names_the_field_on_both_fronts() {
        let error = ServiceError::invalid("email", "not a valid email address");
        assert_eq!(error.http_status(), 400);
        let status = tonic::Status::from(error);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "email: not a valid email address");
    }

    #[test]
    fn internal_details_are_not_sent() {
        let status = tonic::Status::from(ServiceError::internal(anyhow::anyhow!(
            "db password is hunter2"
        )));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("hunter2"));
    }

    #[test]
    fn statuses_come_back_as_the_errors_they_were() {
        let upstream = "votemesh.election.v1.ElectionService";
        let original = ServiceError::invalid("election_id", "not a valid id");
        let back = ServiceError::from_upstream(upstream, tonic::Status::from(original));
        assert!(
            matches!(&back, ServiceError::InvalidArgument { field, reason }
                if field == "election_id" && reason == "not a valid id"),
            "{back:?}"
        );
        for code in [
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::NotFound,
            Code::AlreadyExists,
            Code::FailedPrecondition,
            Code::Aborted,
            Code::ResourceExhausted,
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::Internal,
        ] {
            let back = ServiceError::from_upstream(upstream, tonic::Status::new(code, "why"));
            assert_eq!(back.grpc_code(), code);
        }
    }

    #[test]
    fn transport_failures_are_unavailable_or_timeouts() {
        let upstream = "votemesh.user.v1.UserService";
        let timed_out =
            ServiceError::from_upstream(upstream, tonic::Status::cancelled("Timeout expired"));
        assert_eq!(timed_out.grpc_code(), Code::DeadlineExceeded);
        let broken = tonic::Status::from_error(Box::new(std::io::Error::other("connection reset")));
        assert_eq!(
            ServiceError::from_upstream(upstream, broken).grpc_code(),
            Code::Unavailable
        );
        let peer_fault = ServiceError::from_upstream(upstream, tonic::Status::unknown("boom"));
        assert_eq!(peer_fault.grpc_code(), Code::Internal);
    }

    #[test]
    fn conflicts_map_to_409_and_limits_to_429() {
        assert_eq!(http_status_for(Code::AlreadyExists), 409);
        assert_eq!(http_status_for(Code::Aborted), 409);
        assert_eq!(http_status_for(Code::ResourceExhausted), 429);
        assert_eq!(http_status_for(Code::Unauthenticated), 401);
    }
}
