//! Config API errors: `{"error": "<message>", "code": <gRPC code>}` with the documented
//! HTTP status ↔ code table (Invalid Argument 400/3, Unauthenticated 401/16, Permission Denied
//! 403/7, Not Found 404/5, Already Exists 409/6, Resource Exhausted 429/8, Internal 500/13,
//! Unimplemented 501/12, Unavailable 503/14).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The gRPC status codes the Config API puts in error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    AlreadyExists,
    ResourceExhausted,
    Internal,
    Unimplemented,
    Unavailable,
}

impl Code {
    pub fn grpc(self) -> u16 {
        match self {
            Self::InvalidArgument => 3,
            Self::Unauthenticated => 16,
            Self::PermissionDenied => 7,
            Self::NotFound => 5,
            Self::AlreadyExists => 6,
            Self::ResourceExhausted => 8,
            Self::Internal => 13,
            Self::Unimplemented => 12,
            Self::Unavailable => 14,
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidArgument => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::PermissionDenied => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::AlreadyExists => StatusCode::CONFLICT,
            Self::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The code the real gateway pairs with an HTTP status, for errors raised by status alone
    /// (injected faults).
    pub fn for_status(status: StatusCode) -> Self {
        match status.as_u16() {
            400 => Self::InvalidArgument,
            401 => Self::Unauthenticated,
            403 => Self::PermissionDenied,
            404 => Self::NotFound,
            409 => Self::AlreadyExists,
            429 => Self::ResourceExhausted,
            501 => Self::Unimplemented,
            503 => Self::Unavailable,
            _ => Self::Internal,
        }
    }
}

/// An error answer of the Config API simulator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidArgument, message)
    }

    pub fn not_found(what: impl std::fmt::Display) -> Self {
        Self::new(Code::NotFound, format!("{what} not found"))
    }

    pub fn already_exists(what: impl std::fmt::Display) -> Self {
        Self::new(Code::AlreadyExists, format!("{what} already exists"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.message, "code": self.code.grpc() });
        (self.code.status(), axum::Json(body)).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_table_round_trips_through_the_status() {
        for code in [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::NotFound,
            Code::AlreadyExists,
            Code::ResourceExhausted,
            Code::Internal,
            Code::Unimplemented,
            Code::Unavailable,
        ] {
            assert_eq!(Code::for_status(code.status()), code);
        }
        assert_eq!(Code::ResourceExhausted.grpc(), 8);
        assert_eq!(Code::Unauthenticated.status().as_u16(), 401);
    }
}
