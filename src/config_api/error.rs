//! What can go wrong reading the Config API, in terms a user can act on.
//!
//! Every error names the endpoint (method and path template, the same in every message and
//! metric) and the resource (the concrete path: `workspaces/acme/sources/js`), and carries the
//! HTTP status with the API's gRPC `code` and `error` message, or a quote of a body that was not
//! the API's JSON (a gateway's plain-text or HTML page). The failures a user fixes rather than
//! waits out get messages that say what to fix: a refused token names where tokens come from,
//! a 403 with code 7 says "insufficient scope", and a missing workspace says which one.
//!
//! The [`HttpError`] underneath stays the source, so [`ConfigApiError::is_transient`] asks the
//! one classifier of [`crate::http::retry`] rather than deciding again here.

use std::fmt;

use reqwest::StatusCode;

use super::wire::{ErrorDetail, WireError};
use crate::env_vars::SEGMENT_CONFIG_API_TOKEN;
use crate::http::pages::Runaway;
use crate::http::retry::{Retryable, classify};
use crate::http::{Endpoint, HttpError};

/// The gRPC code the Config API gives a refusal for lack of scope.
const PERMISSION_DENIED: i64 = 7;

/// The status of a failed request and what the body said about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detail {
    pub status: StatusCode,
    /// The gRPC code of a `{"error", "code"}` body.
    pub code: Option<i64>,
    /// The body's `error` message, or a quote of a body that was not the API's JSON.
    pub message: String,
}

impl Detail {
    pub(crate) fn new(status: StatusCode, body: &[u8]) -> Self {
        let ErrorDetail { code, message } = super::wire::error_detail(body);
        Self {
            status,
            code,
            message,
        }
    }
}

/// ` (HTTP 404, code 5: workspace not found)`.
impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, " (HTTP {}", self.status.as_u16())?;
        if let Some(code) = self.code {
            write!(f, ", code {code}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        f.write_str(")")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigApiError {
    #[error(
        "{endpoint} for `{resource}`: the Config API refused the token{detail}; set `{}` or \
         pass `--config-token-file` with a valid Config API token",
        SEGMENT_CONFIG_API_TOKEN
    )]
    Unauthenticated {
        endpoint: Endpoint,
        resource: String,
        detail: Detail,
        #[source]
        source: HttpError,
    },
    #[error(
        "{endpoint} for `{resource}`: insufficient scope{detail}; the token may not read this \
         resource"
    )]
    InsufficientScope {
        endpoint: Endpoint,
        resource: String,
        detail: Detail,
        #[source]
        source: HttpError,
    },
    #[error(
        "workspace {workspace} was not found{detail} ({endpoint}); check the workspace slug, and \
         that the token belongs to that workspace"
    )]
    WorkspaceNotFound {
        /// How the workspace was named: "`acme`", or "with id `e5bdb0902b`" for functions.
        workspace: String,
        endpoint: Endpoint,
        detail: Detail,
        #[source]
        source: HttpError,
    },
    #[error("{endpoint} for `{resource}` failed{detail}")]
    Api {
        endpoint: Endpoint,
        resource: String,
        detail: Detail,
        #[source]
        source: HttpError,
    },
    #[error("{endpoint} for `{resource}` failed")]
    Transport {
        endpoint: Endpoint,
        resource: String,
        #[source]
        source: HttpError,
    },
    #[error("{endpoint} for `{resource}` answered with something other than expected")]
    Decode {
        endpoint: Endpoint,
        resource: String,
        #[source]
        source: WireError,
    },
    /// An empty, `.` or `..` slug or id: no resource is named that, and as a path segment it
    /// would address another resource.
    #[error("{endpoint}: `{segment}` is not a valid slug or id")]
    InvalidSegment { endpoint: Endpoint, segment: String },
    #[error(
        "{endpoint} for `{resource}` returned the page token `{token}` again after {pages} pages; \
         stopping instead of walking the same pages forever"
    )]
    RepeatedCursor {
        endpoint: Endpoint,
        resource: String,
        token: String,
        pages: usize,
    },
    /// A list that would not end (see [`crate::http::pages`]).
    #[error(
        "{endpoint} for `{resource}` was stopped after {pages} pages: {why}; the server's \
         pagination is broken"
    )]
    EndlessList {
        endpoint: Endpoint,
        resource: String,
        why: Runaway,
        pages: usize,
    },
}

impl ConfigApiError {
    /// Whether the same request may succeed later, by the one classifier
    /// ([`crate::http::classify`]).
    pub fn is_transient(&self) -> bool {
        classify(self) == Retryable::Transient
    }

    pub fn endpoint(&self) -> &Endpoint {
        match self {
            Self::Unauthenticated { endpoint, .. }
            | Self::InsufficientScope { endpoint, .. }
            | Self::WorkspaceNotFound { endpoint, .. }
            | Self::Api { endpoint, .. }
            | Self::Transport { endpoint, .. }
            | Self::Decode { endpoint, .. }
            | Self::InvalidSegment { endpoint, .. }
            | Self::RepeatedCursor { endpoint, .. }
            | Self::EndlessList { endpoint, .. } => endpoint,
        }
    }

    /// The status and body detail, when the API answered.
    pub fn detail(&self) -> Option<&Detail> {
        match self {
            Self::Unauthenticated { detail, .. }
            | Self::InsufficientScope { detail, .. }
            | Self::WorkspaceNotFound { detail, .. }
            | Self::Api { detail, .. } => Some(detail),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<StatusCode> {
        self.detail().map(|d| d.status)
    }

    /// A 404: the resource (or its workspace) does not exist. Some endpoints answer it for
    /// optional parts (a source's schema config when Protocols is off).
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(StatusCode::NOT_FOUND)
    }

    /// How many attempts were made before this error was returned.
    pub fn attempts(&self) -> u32 {
        match self {
            Self::Unauthenticated { source, .. }
            | Self::InsufficientScope { source, .. }
            | Self::WorkspaceNotFound { source, .. }
            | Self::Api { source, .. }
            | Self::Transport { source, .. } => source.attempts(),
            Self::Decode { .. } | Self::RepeatedCursor { .. } | Self::EndlessList { .. } => 1,
            Self::InvalidSegment { .. } => 0,
        }
    }

    /// Gives a failed request its meaning. `workspace` is set, as it should be shown, when a 404
    /// from this endpoint can only mean that the workspace does not exist.
    pub(crate) fn from_http(
        endpoint: Endpoint,
        resource: String,
        workspace: Option<&str>,
        source: HttpError,
    ) -> Self {
        let detail = match final_answer(&source) {
            Some((status, body)) => Detail::new(status, body),
            None => {
                return Self::Transport {
                    endpoint,
                    resource,
                    source,
                };
            }
        };
        match detail.status {
            StatusCode::UNAUTHORIZED => Self::Unauthenticated {
                endpoint,
                resource,
                detail,
                source,
            },
            StatusCode::FORBIDDEN
                if detail.code == Some(PERMISSION_DENIED)
                    || detail.message.contains("insufficient scope") =>
            {
                Self::InsufficientScope {
                    endpoint,
                    resource,
                    detail,
                    source,
                }
            }
            StatusCode::NOT_FOUND if workspace.is_some() => Self::WorkspaceNotFound {
                workspace: workspace.unwrap_or_default().to_owned(),
                endpoint,
                detail,
                source,
            },
            _ => Self::Api {
                endpoint,
                resource,
                detail,
                source,
            },
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
    use std::time::Duration;

    use super::*;
    use reqwest::header::HeaderMap;

    const SOURCES: Endpoint = Endpoint::get("/v1beta/workspaces/{ws}/sources");

    fn status(code: u16, body: &str) -> HttpError {
        HttpError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn error(code: u16, body: &str, workspace: Option<&str>) -> ConfigApiError {
        ConfigApiError::from_http(
            SOURCES,
            "workspaces/acme/sources".into(),
            workspace,
            status(code, body),
        )
    }

    #[test]
    fn a_refused_token_says_where_tokens_come_from() {
        let err = error(
            401,
            r#"{"error":"missing or invalid access token","code":16}"#,
            None,
        );
        assert_eq!(
            err.to_string(),
            "GET /v1beta/workspaces/{ws}/sources for `workspaces/acme/sources`: the Config API \
             refused the token (HTTP 401, code 16: missing or invalid access token); set \
             `SEGMENT_CONFIG_API_TOKEN` or pass `--config-token-file` with a valid Config API \
             token"
        );
        assert!(!err.is_transient());
    }

    #[test]
    fn code_7_is_insufficient_scope() {
        let err = error(403, r#"{"error":"insufficient scope","code":7}"#, None);
        assert!(matches!(err, ConfigApiError::InsufficientScope { .. }));
        assert!(
            err.to_string()
                .contains(": insufficient scope (HTTP 403, code 7")
        );
        let other = error(403, r#"{"error":"forbidden","code":13}"#, None);
        assert!(matches!(other, ConfigApiError::Api { .. }));
    }

    #[test]
    fn a_404_on_a_workspace_names_the_workspace() {
        let err = error(
            404,
            r#"{"error":"workspace `acme` not found","code":5}"#,
            Some("`acme`"),
        );
        assert_eq!(
            err.to_string(),
            "workspace `acme` was not found (HTTP 404, code 5: workspace `acme` not found) (GET \
             /v1beta/workspaces/{ws}/sources); check the workspace slug, and that the token \
             belongs to that workspace"
        );
        assert!(err.is_not_found());
        assert!(!err.is_transient());
    }

    #[test]
    fn a_gateway_page_is_quoted_and_transient_even_after_retries() {
        let err = ConfigApiError::from_http(
            SOURCES,
            "workspaces/acme/sources".into(),
            None,
            HttpError::GaveUp {
                attempts: 9,
                elapsed: Duration::from_secs(70),
                last: Box::new(status(
                    503,
                    "upstream connect error or disconnect/reset before headers",
                )),
            },
        );
        assert_eq!(
            err.to_string(),
            "GET /v1beta/workspaces/{ws}/sources for `workspaces/acme/sources` failed (HTTP 503: \
             upstream connect error or disconnect/reset before headers)"
        );
        assert!(err.is_transient());
        assert_eq!(err.attempts(), 9);
        assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    }

    #[test]
    fn decoding_failures_are_permanent() {
        let source = super::super::wire::json_text(b"<html>").unwrap_err();
        let err = ConfigApiError::Decode {
            endpoint: SOURCES,
            resource: "workspaces/acme/sources".into(),
            source,
        };
        assert!(!err.is_transient());
    }
}
