//! Public API errors: `{"errors": [{"type", "message", "field"?, "data"?, "status"?}]}`, never
//! mixed with `data` (documented envelope).
//!
//! The `type` strings are the ones Segment's own examples use: `input-validation` for field
//! errors (422, one entry per problem, `field` a dotted path such as `rules.0.type`), `NotFound`
//! (404), `RequestError` (429, with `data.msBeforeNext`), `PayloadLimitError` (413). The 401 type
//! (`unauthorized`) and the 406/415 types are INFERRED: the reference documents no body for them.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// One entry of an error envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorItem {
    pub kind: String,
    pub message: String,
    pub field: Option<String>,
    pub data: Option<Value>,
}

impl ErrorItem {
    fn to_json(&self, status: StatusCode) -> Value {
        let mut out = Map::new();
        out.insert("type".into(), json!(self.kind));
        out.insert("message".into(), json!(self.message));
        if let Some(field) = &self.field {
            out.insert("field".into(), json!(field));
        }
        if let Some(data) = &self.data {
            out.insert("data".into(), data.clone());
        }
        out.insert("status".into(), json!(status.as_u16()));
        Value::Object(out)
    }
}

/// An error answer of the Public API simulator.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub errors: Vec<ErrorItem>,
}

/// The label Joi-style messages use for a dotted field path: its last key, or `[n]` for an
/// array element (`rules.0` → `[0]`).
pub fn label_of(field: &str) -> String {
    let last = field.rsplit('.').next().unwrap_or(field);
    if !last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()) {
        format!("[{last}]")
    } else {
        last.to_owned()
    }
}

impl ApiError {
    pub fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            errors: vec![ErrorItem {
                kind: kind.to_owned(),
                message: message.into(),
                field: None,
                data: None,
            }],
        }
    }

    /// 422 for one field: `message` is appended to the quoted field label, Joi style
    /// (`"slug" is required`).
    pub fn field(field: &str, message: &str) -> Self {
        Self::validation(vec![field_error(field, message)])
    }

    /// 422 with several field errors at once.
    pub fn validation(errors: Vec<ErrorItem>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors,
        }
    }

    pub fn required(field: &str) -> Self {
        Self::field(field, "is required")
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", "Resource not found")
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized: a valid Public API token is required",
        )
    }

    /// 413 with the documented message, naming the limit that applies (`25mb`, `2mb`).
    pub fn payload_too_large(limit: &str) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadLimitError",
            format!("The payload limit size of {limit} has been reached"),
        )
    }
}

/// A 422 entry for `field` (a dotted path); the message starts with the field's quoted label.
pub fn field_error(field: &str, message: &str) -> ErrorItem {
    ErrorItem {
        kind: "input-validation".into(),
        message: format!("\"{}\" {message}", label_of(field)),
        field: Some(field.to_owned()),
        data: None,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let errors: Vec<Value> = self.errors.iter().map(|e| e.to_json(self.status)).collect();
        let mut response = (self.status, axum::Json(json!({ "errors": errors }))).into_response();
        // Every error body is declared as plain `application/json`, whatever was negotiated.
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_last_key_or_an_index() {
        assert_eq!(label_of("slug"), "slug");
        assert_eq!(label_of("warehouse.metadataId"), "metadataId");
        assert_eq!(label_of("rules.0"), "[0]");
    }

    #[test]
    fn field_errors_follow_the_guide_example() {
        let err = ApiError::required("warehouse.metadataId");
        assert_eq!(err.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err.errors[0].message, "\"metadataId\" is required");
        assert_eq!(err.errors[0].kind, "input-validation");
        assert_eq!(err.errors[0].field.as_deref(), Some("warehouse.metadataId"));
    }
}
