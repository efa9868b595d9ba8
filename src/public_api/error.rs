//! What can go wrong talking to the Public API, in terms a user (or the apply executor) can act
//! on.
//!
//! Every error names the operation (its operationId, method and path template) and the
//! resource (the concrete path, `sources/qT2mS9…/settings`), and an answered request carries the
//! status with every entry of the `{"errors": […]}` body (type, field and message: a 422 lists
//! each invalid field). A refused token says where tokens come from and that a token works only
//! in its workspace's region. A write whose outcome is unknown is its own kind,
//! [`PublicApiError::Ambiguous`], so that the executor looks the object up by its natural key
//! before sending the write again.
//!
//! The [`HttpError`] underneath stays the source, so [`PublicApiError::is_transient`] asks the
//! one classifier of [`crate::http::retry`]. The token never appears: the transport keeps it in
//! a sensitive header and nothing here formats a request.

use std::fmt;

use reqwest::StatusCode;

use super::operations::Operation;
use super::wire::{self, FieldError, WireError};
use crate::env_vars::SEGMENT_PUBLIC_API_TOKEN;
use crate::http::error::excerpt;
use crate::http::pages::Runaway;
use crate::http::retry::{Retryable, classify, may_have_been_applied};
use crate::http::{HttpError, Replay};

/// Which region the client talks to, for the hint of a refused token (from the base URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionHint {
    Us,
    Eu,
    /// A simulator or proxy: either region's token could be meant.
    Other,
}

impl fmt::Display for RegionHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Us => {
                "; a token works only in its workspace's region: if the workspace is in the EU, \
                 pass `--region eu`"
            }
            Self::Eu => {
                "; a token works only in its workspace's region: if the workspace is in the US, \
                 leave out `--region eu`"
            }
            Self::Other => {
                "; a token works only in its workspace's region (`--region eu` for EU workspaces)"
            }
        })
    }
}

/// The status of a failed request and what its body said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub status: StatusCode,
    /// The entries of the `{"errors": […]}` body, in order.
    pub errors: Vec<FieldError>,
    /// A quote of a body that was not the API's error envelope (a gateway's page), if any.
    pub other: Option<String>,
}

impl Detail {
    pub(crate) fn new(status: StatusCode, body: &[u8]) -> Self {
        match wire::errors(body) {
            Some(errors) => Self {
                status,
                errors,
                other: None,
            },
            None => {
                let quoted = excerpt(body);
                Self {
                    status,
                    errors: Vec::new(),
                    other: (!quoted.is_empty()).then_some(quoted),
                }
            }
        }
    }

    /// The fields the server named, in order.
    pub fn fields(&self) -> Vec<&str> {
        self.errors
            .iter()
            .filter_map(|e| e.field.as_deref())
            .collect()
    }
}

/// ` (HTTP 422: input-validation on `slug`: "slug" is required; …)`.
impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, " (HTTP {}", self.status.as_u16())?;
        let mut separator = ": ";
        for entry in &self.errors {
            f.write_str(separator)?;
            separator = "; ";
            f.write_str(if entry.kind.is_empty() {
                "error"
            } else {
                &entry.kind
            })?;
            if let Some(field) = &entry.field {
                write!(f, " on `{field}`")?;
            }
            if let Some(message) = &entry.message {
                write!(f, ": {message}")?;
            }
        }
        if let Some(other) = &self.other {
            write!(f, "{separator}{other}")?;
        }
        f.write_str(")")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublicApiError {
    #[error(
        "{operation} for `{resource}`: the Public API refused the token{detail}; set `{}` or \
         pass `--public-token-file` with a Public API token (not a Config API token) of the \
         target workspace{region}",
        SEGMENT_PUBLIC_API_TOKEN
    )]
    Unauthenticated {
        operation: Operation,
        resource: String,
        detail: Detail,
        region: RegionHint,
        #[source]
        source: HttpError,
    },
    #[error("{operation} for `{resource}` failed{detail}")]
    Api {
        operation: Operation,
        resource: String,
        detail: Detail,
        #[source]
        source: HttpError,
    },
    /// A write that may or may not have been applied: the request may have reached the server,
    /// and its answer was lost or was a server error. Sending it again could create a duplicate.
    #[error(
        "{operation} for `{resource}` may or may not have been applied; look the object up by \
         its natural key before sending it again"
    )]
    Ambiguous {
        operation: Operation,
        resource: String,
        #[source]
        source: HttpError,
    },
    #[error("{operation} for `{resource}` failed")]
    Transport {
        operation: Operation,
        resource: String,
        #[source]
        source: HttpError,
    },
    #[error("{operation} for `{resource}` answered with something other than expected")]
    Decode {
        operation: Operation,
        resource: String,
        #[source]
        source: WireError,
    },
    /// An empty, `.` or `..` id: no resource is named that, and as a path segment it would
    /// address another resource.
    #[error("{operation}: `{segment}` is not a valid id")]
    InvalidSegment {
        operation: Operation,
        segment: String,
    },
    #[error(
        "{operation} for `{resource}` returned the cursor `{cursor}` again after {pages} pages; \
         stopping instead of walking the same pages forever"
    )]
    RepeatedCursor {
        operation: Operation,
        resource: String,
        cursor: String,
        pages: usize,
    },
    /// A list that would not end (see [`crate::http::pages`]).
    #[error(
        "{operation} for `{resource}` was stopped after {pages} pages: {why}; the server's \
         pagination is broken"
    )]
    EndlessList {
        operation: Operation,
        resource: String,
        why: Runaway,
        pages: usize,
    },
    /// Refused before sending: the body is over what the endpoint accepts.
    #[error(
        "{operation} for `{resource}`: {what} is {bytes} bytes, over the {limit} bytes the \
         endpoint accepts in one request"
    )]
    TooLarge {
        operation: Operation,
        resource: String,
        what: String,
        bytes: usize,
        limit: usize,
    },
}

impl PublicApiError {
    /// Whether the same request may succeed later, by the one classifier
    /// ([`crate::http::classify`]). An [`Self::Ambiguous`] write is transient too, but must be
    /// reconciled before it is retried: check [`Self::is_ambiguous`] first.
    pub fn is_transient(&self) -> bool {
        classify(self) == Retryable::Transient
    }

    /// A write whose outcome is unknown (see [`Self::Ambiguous`]).
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, Self::Ambiguous { .. })
    }

    pub fn operation(&self) -> &Operation {
        match self {
            Self::Unauthenticated { operation, .. }
            | Self::Api { operation, .. }
            | Self::Ambiguous { operation, .. }
            | Self::Transport { operation, .. }
            | Self::Decode { operation, .. }
            | Self::InvalidSegment { operation, .. }
            | Self::RepeatedCursor { operation, .. }
            | Self::EndlessList { operation, .. }
            | Self::TooLarge { operation, .. } => operation,
        }
    }

    /// The status and body detail, when the API answered.
    pub fn detail(&self) -> Option<&Detail> {
        match self {
            Self::Unauthenticated { detail, .. } | Self::Api { detail, .. } => Some(detail),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<StatusCode> {
        self.detail().map(|d| d.status)
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// Gives a failed request its meaning. A request that must not be replayed and may have
    /// been applied is [`Self::Ambiguous`], whatever else is known about the failure.
    pub(crate) fn from_http(
        operation: Operation,
        resource: String,
        replay: Replay,
        region: RegionHint,
        source: HttpError,
    ) -> Self {
        if replay == Replay::Never && may_have_been_applied(&source) {
            return Self::Ambiguous {
                operation,
                resource,
                source,
            };
        }
        let Some((status, body)) = final_answer(&source) else {
            return Self::Transport {
                operation,
                resource,
                source,
            };
        };
        let detail = Detail::new(status, body);
        // The API documents 401 for a missing, invalid or under-privileged token; Segment's
        // own tools treat 403 the same way.
        if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Self::Unauthenticated {
                operation,
                resource,
                detail,
                region,
                source,
            };
        }
        Self::Api {
            operation,
            resource,
            detail,
            source,
        }
    }
}

/// The status and body of the last answer, if the request got one.
fn final_answer(error: &HttpError) -> Option<(StatusCode, &[u8])> {
    match error {
        HttpError::Status { status, body, .. } => Some((*status, body)),
        HttpError::Transport(_) | HttpError::TooLarge { .. } => None,
        HttpError::GaveUp { last, .. } | HttpError::WaitTooLong { last, .. } => final_answer(last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public_api::operations::{GET_WORKSPACE, LIST_SOURCES};
    use reqwest::header::HeaderMap;

    fn status(code: u16, body: &str) -> HttpError {
        HttpError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_refused_token_names_the_variable_the_flag_and_the_other_region() {
        let err = PublicApiError::from_http(
            GET_WORKSPACE,
            "the token's workspace".into(),
            Replay::Safe,
            RegionHint::Us,
            status(
                401,
                r#"{"errors":[{"type":"unauthorized","message":"Unauthorized"}]}"#,
            ),
        );
        assert_eq!(
            err.to_string(),
            "getWorkspace (GET /) for `the token's workspace`: the Public API refused the token (HTTP 401: \
             unauthorized: Unauthorized); set `SEGMENT_PUBLIC_API_TOKEN` or pass \
             `--public-token-file` with a Public API token (not a Config API token) of the \
             target workspace; a token works only in its workspace's region: if the workspace \
             is in the EU, pass `--region eu`"
        );
        assert!(!err.is_transient());
    }

    #[test]
    fn every_field_error_is_named() {
        let err = PublicApiError::from_http(
            LIST_SOURCES,
            "sources".into(),
            Replay::Safe,
            RegionHint::Other,
            status(
                422,
                r#"{"errors": [
                    {"type": "input-validation", "message": "\"metadataId\" is required", "field": "warehouse.metadataId"},
                    {"type": "input-validation", "message": "\"settings\" is required", "field": "warehouse.settings"}]}"#,
            ),
        );
        assert_eq!(
            err.to_string(),
            "listSources (GET /sources) for `sources` failed (HTTP 422: input-validation on \
             `warehouse.metadataId`: \"metadataId\" is required; input-validation on \
             `warehouse.settings`: \"settings\" is required)"
        );
        assert_eq!(
            err.detail().unwrap().fields(),
            ["warehouse.metadataId", "warehouse.settings"]
        );
    }

    #[test]
    fn a_server_error_on_a_create_is_ambiguous_and_a_429_is_not() {
        let ambiguous = PublicApiError::from_http(
            LIST_SOURCES,
            "sources".into(),
            Replay::Never,
            RegionHint::Other,
            status(
                500,
                r#"{"errors":[{"type":"ServerError","message":"boom"}]}"#,
            ),
        );
        assert!(ambiguous.is_ambiguous());
        let refused = PublicApiError::from_http(
            LIST_SOURCES,
            "sources".into(),
            Replay::Never,
            RegionHint::Other,
            status(429, r#"{"errors":[{"type":"RequestError"}]}"#),
        );
        assert!(!refused.is_ambiguous() && refused.is_transient());
    }

    #[test]
    fn a_gateway_page_is_quoted() {
        let err = PublicApiError::from_http(
            LIST_SOURCES,
            "sources".into(),
            Replay::Safe,
            RegionHint::Other,
            status(502, "<html><title>502 Bad Gateway</title></html>"),
        );
        assert!(
            err.to_string()
                .ends_with("(HTTP 502: <html><title>502 Bad Gateway</title></html>)"),
            "{err}"
        );
        assert!(err.is_transient());
    }
}
