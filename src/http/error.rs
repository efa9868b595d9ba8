//! The HTTP layer's error: what went wrong with one request, before any API gives it meaning.
//!
//! API clients wrap it in their own typed errors (which add the endpoint and the resource) and
//! keep it as their source, so that [`super::retry::classify`] can still see the status or the
//! transport failure at the bottom of the chain.

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

/// How much of a body an error keeps: enough for any `{"error", "code"}` answer and the start
/// of an HTML page, small enough that a huge error page does not bloat every error value.
pub const MAX_ERROR_BODY_BYTES: usize = 64 * 1024;

/// The largest 2xx body the clients read. The largest answers known are a tracking plan of up
/// to 2 MB and a catalog page of 100 destinations (well under 1 MB); 32 MiB leaves room for
/// ten times either, and keeps a server that streams without end (or a gateway that answers
/// with a multi-gigabyte file) from growing the process until it is killed.
pub const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// How many characters of a body an error message quotes.
const EXCERPT_CHARS: usize = 200;

pub enum HttpError {
    /// The server answered with a status other than 2xx.
    Status {
        status: StatusCode,
        headers: HeaderMap,
        /// The start of the body, at most [`MAX_ERROR_BODY_BYTES`].
        body: Vec<u8>,
    },
    /// No complete answer: the connection failed, timed out or closed before the body ended.
    Transport(reqwest::Error),
    /// A 2xx answer whose body is larger than [`MAX_BODY_BYTES`] (announced by its
    /// `Content-Length`, or found while reading); reading stopped at the limit.
    TooLarge {
        status: StatusCode,
        limit: usize,
        /// The `Content-Length`, when the server announced one.
        declared: Option<u64>,
    },
    /// Retries ran out; `last` is the error of the final attempt.
    GaveUp {
        attempts: u32,
        elapsed: Duration,
        last: Box<HttpError>,
    },
    /// The server asked to wait longer before retrying than the retry policy allows.
    WaitTooLong {
        requested: Duration,
        allowed: Duration,
        last: Box<HttpError>,
    },
}

impl HttpError {
    /// The status of the final answer, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::Transport(err) => err.status(),
            Self::TooLarge { status, .. } => Some(*status),
            Self::GaveUp { last, .. } | Self::WaitTooLong { last, .. } => last.status(),
        }
    }

    /// The body of the final answer, if there was one.
    pub fn body(&self) -> Option<&[u8]> {
        match self {
            Self::Status { body, .. } => Some(body),
            Self::Transport(_) | Self::TooLarge { .. } => None,
            Self::GaveUp { last, .. } | Self::WaitTooLong { last, .. } => last.body(),
        }
    }

    /// How many attempts were made: more than one only when retries ran out.
    pub fn attempts(&self) -> u32 {
        match self {
            Self::GaveUp { attempts, .. } => *attempts,
            _ => 1,
        }
    }
}

/// A short, single-line quote of a body for messages: whitespace runs collapsed, at most
/// 200 characters, invalid UTF-8 and control characters replaced by `�`. The body comes from
/// the network and lands on a terminal: an escape sequence in it could rewrite what the user
/// sees (or the terminal's title), and a NUL cuts some log viewers short.
pub fn excerpt(body: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .map(|c| {
            if c.is_control() && !c.is_whitespace() {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect();
    let mut out = String::new();
    let mut words = text.split_whitespace();
    if let Some(first) = words.next() {
        out.push_str(first);
    }
    for word in words {
        out.push(' ');
        out.push_str(word);
    }
    match out.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The body is left to the API client, which knows how to read it (and quotes it in
            // its own message); quoting it here too would print it twice in a chain.
            Self::Status {
                status, headers, ..
            } if status.is_redirection() => write!(
                f,
                "HTTP {status}: a redirect to `{}`, which segbridge does not follow for a write \
                 (the method and body would be lost); check the base URL",
                headers
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    // A query could carry anything; the path is what tells the mistake.
                    .map_or("?", |v| v.split('?').next().unwrap_or(v))
            ),
            Self::Status { status, .. } => write!(f, "HTTP {status}"),
            Self::Transport(err) => fmt::Display::fmt(err, f),
            Self::TooLarge {
                status,
                limit,
                declared,
            } => {
                write!(f, "HTTP {status} with a body of ")?;
                match declared {
                    Some(length) => write!(f, "{length} bytes")?,
                    None => f.write_str("more bytes than that")?,
                }
                write!(
                    f,
                    ", more than the {} MiB segbridge reads from one answer",
                    limit / (1024 * 1024)
                )
            }
            Self::GaveUp {
                attempts,
                elapsed,
                last,
            } => write!(
                f,
                "request failed after {attempts} attempts in {:.1}s: {last}",
                elapsed.as_secs_f64()
            ),
            Self::WaitTooLong {
                requested,
                allowed,
                last,
            } => write!(
                f,
                "the server asked to wait {:.0}s before retrying, longer than the {:.0}s allowed: \
                 {last}",
                requested.as_secs_f64(),
                allowed.as_secs_f64()
            ),
        }
    }
}

/// Bodies show as text (an excerpt), not as a list of byte values.
impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status {
                status,
                headers,
                body,
            } => f
                .debug_struct("Status")
                .field("status", status)
                .field("headers", headers)
                .field("body", &excerpt(body))
                .finish(),
            Self::Transport(err) => f.debug_tuple("Transport").field(err).finish(),
            Self::TooLarge {
                status,
                limit,
                declared,
            } => f
                .debug_struct("TooLarge")
                .field("status", status)
                .field("limit", limit)
                .field("declared", declared)
                .finish(),
            Self::GaveUp {
                attempts,
                elapsed,
                last,
            } => f
                .debug_struct("GaveUp")
                .field("attempts", attempts)
                .field("elapsed", elapsed)
                .field("last", last)
                .finish(),
            Self::WaitTooLong {
                requested,
                allowed,
                last,
            } => f
                .debug_struct("WaitTooLong")
                .field("requested", requested)
                .field("allowed", allowed)
                .field("last", last)
                .finish(),
        }
    }
}

/// The wrapped variants quote the last error in their own message, so their source is the last
/// error's source: each message appears once in a rendered chain.
/// [`super::retry::classify`] looks inside them itself.
impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Status { .. } | Self::TooLarge { .. } => None,
            Self::Transport(err) => err.source(),
            Self::GaveUp { last, .. } | Self::WaitTooLong { last, .. } => last.source(),
        }
    }
}

impl From<reqwest::Error> for HttpError {
    fn from(err: reqwest::Error) -> Self {
        Self::Transport(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, body: &str) -> HttpError {
        HttpError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            headers: HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_status_shows_its_body_as_one_line_of_text_in_debug_only() {
        let err = status(
            502,
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>",
        );
        assert_eq!(err.to_string(), "HTTP 502 Bad Gateway");
        assert!(
            format!("{err:?}")
                .contains(r#"body: "<html> <head><title>502 Bad Gateway</title></head> </html>""#),
            "{err:?}"
        );
    }

    #[test]
    fn control_characters_never_reach_the_terminal() {
        let quoted = excerpt(b"bad\x1b]0;owned\x07 gateway\x00page\r\n\tend");
        assert_eq!(
            quoted,
            "bad\u{fffd}]0;owned\u{fffd} gateway\u{fffd}page end"
        );
    }

    #[test]
    fn long_bodies_are_cut() {
        let quoted = excerpt("é".repeat(500).as_bytes());
        assert_eq!(quoted.chars().count(), EXCERPT_CHARS + 1);
        assert!(quoted.ends_with('…'));
    }

    #[test]
    fn giving_up_names_the_attempts_the_time_and_the_last_error() {
        let err = HttpError::GaveUp {
            attempts: 9,
            elapsed: Duration::from_millis(12_340),
            last: Box::new(status(503, "upstream connect error")),
        };
        assert_eq!(
            err.to_string(),
            "request failed after 9 attempts in 12.3s: HTTP 503 Service Unavailable"
        );
        assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert_eq!(err.attempts(), 9);
        assert!(std::error::Error::source(&err).is_none());
    }
}
