//! Which failures are worth another attempt, and how long to wait before it.
//!
//! [`classify`] is the one place that decides transient or permanent, for the retry loop here
//! and for every caller that needs to know later (the ledger records a failed item as retryable
//! or not, and a resumed run retries only the former). It walks the whole `source()` chain, so an
//! API client's error that wraps an [`HttpError`] is classified by what is at the bottom:
//!
//! - transient: connect failures, timeouts, connections reset, aborted or closed before the
//!   answer was complete (including a 2xx whose body was cut off), 408, 429 and every 5xx,
//!   whatever the body looks like (a gateway's HTML page is still a 5xx);
//! - permanent: every other status, a complete answer whose body is not what was expected (the
//!   same bytes would come back), TLS failures, redirects refused, and anything unrecognised.
//!   Unknown errors are permanent on purpose: retrying what we do not understand only delays the
//!   report.
//!
//! Writes need a second question answered: [`may_have_been_applied`]. A transient failure of a
//! create whose request may have reached the server (a timeout, a reset or a 5xx after the
//! body was sent, a 2xx whose body broke off) leaves its outcome unknown, and the API has no
//! idempotency keys, so sending it again could create a second object. Only failures that prove
//! the server did not act are safe to repeat blindly: no connection was made, or the server
//! refused before doing anything (429, 408), or it rejected the request (other 4xx).
//!
//! Waiting: when the server says how long (`Retry-After` in seconds or as an HTTP date, else the
//! end of the rate-limit window in `X-RateLimit-Reset`), its word is followed up to
//! [`RetryPolicy::max_wait_for_retry_after`]; otherwise the delay doubles from
//! [`RetryPolicy::base_delay`] up to [`RetryPolicy::max_delay`], each drawn at random from its
//! upper half so that concurrent callers that failed together do not retry together.

use std::error::Error;
use std::io;
use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use super::error::HttpError;

/// The verdict on a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retryable {
    /// The same request may succeed later.
    Transient,
    /// The same request will fail the same way.
    Permanent,
}

/// The verdict on an HTTP status.
pub fn classify_status(status: StatusCode) -> Retryable {
    if status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
    {
        Retryable::Transient
    } else {
        Retryable::Permanent
    }
}

/// What one link of an error chain says.
#[derive(Default)]
struct Hints {
    transient: bool,
    permanent: bool,
}

/// Classifies an error by everything in its `source()` chain. A status decides at once; among
/// other clues, one that marks the failure permanent (a TLS certificate refused under a connect
/// error) wins over one that marks it transient.
pub fn classify(error: &(dyn Error + 'static)) -> Retryable {
    let mut hints = Hints::default();
    let mut current = Some(error);
    while let Some(link) = current {
        if let Some(verdict) = inspect(link, &mut hints) {
            return verdict;
        }
        current = link.source();
    }
    if hints.permanent || !hints.transient {
        Retryable::Permanent
    } else {
        Retryable::Transient
    }
}

fn inspect(link: &(dyn Error + 'static), hints: &mut Hints) -> Option<Retryable> {
    if let Some(http) = link.downcast_ref::<HttpError>() {
        return match http {
            HttpError::Status { status, .. } => Some(classify_status(*status)),
            // The same request brings the same oversized answer back.
            HttpError::TooLarge { .. } => Some(Retryable::Permanent),
            // The wrapped error is quoted, not chained (see HttpError's `source`).
            HttpError::GaveUp { last, .. } | HttpError::WaitTooLong { last, .. } => {
                Some(classify(last.as_ref()))
            }
            // HttpError's source skips the reqwest error itself, so look at it here.
            HttpError::Transport(err) => inspect_reqwest(err, hints),
        };
    }
    if let Some(err) = link.downcast_ref::<reqwest::Error>() {
        return inspect_reqwest(err, hints);
    }
    if let Some(err) = link.downcast_ref::<hyper::Error>() {
        if err.is_incomplete_message()
            || err.is_closed()
            || err.is_canceled()
            || err.is_timeout()
            || err.is_body_write_aborted()
        {
            hints.transient = true;
        }
        return None;
    }
    if let Some(err) = link.downcast_ref::<io::Error>() {
        // A refused certificate or a failed handshake comes back the same on every attempt.
        if is_tls_failure(err) {
            hints.permanent = true;
            return None;
        }
        match err.kind() {
            io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::TimedOut
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::Interrupted
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::NetworkDown => hints.transient = true,
            // What TLS reports a refused certificate as; retrying will not change the
            // certificate.
            io::ErrorKind::InvalidData => hints.permanent = true,
            _ => {}
        }
        return None;
    }
    if link.is::<serde_json::Error>() {
        // A body that arrived whole and is not the JSON expected: the same bytes would come back.
        hints.permanent = true;
    }
    None
}

/// Whether `err` carries a TLS failure. The TLS connector wraps rustls's error in an
/// `io::Error`, which the HTTP client wraps in another one of kind `Other`; `source()` skips
/// the payload of both, so the payloads are followed through `get_ref`.
fn is_tls_failure(err: &io::Error) -> bool {
    let mut current = err;
    loop {
        let Some(inner) = current.get_ref() else {
            return false;
        };
        if inner.is::<rustls::Error>() {
            return true;
        }
        match inner.downcast_ref::<io::Error>() {
            Some(io) => current = io,
            None => return false,
        }
    }
}

fn inspect_reqwest(err: &reqwest::Error, hints: &mut Hints) -> Option<Retryable> {
    if let Some(status) = err.status() {
        return Some(classify_status(status));
    }
    if err.is_redirect() || err.is_builder() {
        hints.permanent = true;
    } else if err.is_timeout() || err.is_connect() {
        hints.transient = true;
    }
    None
}

/// Whether the request that failed with `error` may have taken effect on the server: see the
/// module doc. Only a 2xx proves it did; this says whether a failure proves it did not.
pub fn may_have_been_applied(error: &HttpError) -> bool {
    match error {
        HttpError::Status { status, .. } => {
            // A refusal before any work (rate limit, request timeout) or a rejection of the
            // request (validation, not found, conflict) applies nothing; a server error may
            // come after the work was done.
            status.is_server_error()
        }
        // A 2xx came back: the server acted.
        HttpError::TooLarge { .. } => true,
        HttpError::Transport(err) => {
            // A connection never made carries no request; anything else (a timeout, a reset
            // while waiting, a body cut off) may have come after the server acted.
            !(err.is_connect() || err.is_builder())
        }
        HttpError::GaveUp { last, .. } | HttpError::WaitTooLong { last, .. } => {
            may_have_been_applied(last)
        }
    }
}

/// How hard to retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts after the first. Eight backoffs from half a second add up to a minute or so,
    /// enough to ride out a gateway restart without hiding a real outage for long.
    pub max_retries: u32,
    /// The first backoff; each later one doubles.
    pub base_delay: Duration,
    /// No backoff is longer than this.
    pub max_delay: Duration,
    /// The longest wait the server may ask for (`Retry-After`, `X-RateLimit-Reset`). Longer
    /// requests fail at once rather than leaving a run silently asleep; five minutes covers the
    /// one-minute windows of both Segment APIs with room for a 429 storm.
    pub max_wait_for_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 8,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_wait_for_retry_after: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("environment variable `{name}` must be a whole number of milliseconds, not `{value}`")]
pub struct RetryEnvError {
    pub name: &'static str,
    pub value: String,
}

impl RetryPolicy {
    /// Applies [`super::SEGBRIDGE_RETRY_BASE_MS`] when it is set: the base backoff in
    /// milliseconds (0 retries at once), so that tests of the binary do not sleep through their
    /// backoffs.
    pub fn with_env_overrides(self) -> Result<Self, RetryEnvError> {
        let value = std::env::var_os(super::SEGBRIDGE_RETRY_BASE_MS)
            .map(|v| v.to_string_lossy().into_owned());
        self.with_base_ms(value.as_deref())
    }

    /// [`Self::with_env_overrides`] for a given value of the variable.
    fn with_base_ms(mut self, value: Option<&str>) -> Result<Self, RetryEnvError> {
        if let Some(value) = value {
            let ms: u64 = value.trim().parse().map_err(|_| RetryEnvError {
                name: super::SEGBRIDGE_RETRY_BASE_MS,
                value: value.to_owned(),
            })?;
            self.base_delay = Duration::from_millis(ms);
        }
        Ok(self)
    }

    /// The backoff before retry number `retry` (1 for the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        self.backoff_at(retry, fastrand::f64())
    }

    /// The backoff for a given draw `unit` in `[0, 1)`: a point in the upper half of the
    /// exponential delay, so that waits keep growing while callers spread out.
    pub fn backoff_at(&self, retry: u32, unit: f64) -> Duration {
        let exponent = retry.saturating_sub(1).min(30);
        let ceiling = self
            .base_delay
            .saturating_mul(1 << exponent)
            .min(self.max_delay);
        ceiling.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }
}

/// The wait a `Retry-After` header asks for: whole (or, leniently, fractional) seconds, or an
/// HTTP date. A date in the past means no wait.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    until_date(value, now)
}

/// Values of `X-RateLimit-Reset` above this are Unix times rather than seconds to wait: no
/// window lasts 30 years, and no Unix time since 2001 is this small.
const UNIX_TIME_THRESHOLD: u64 = 1_000_000_000;

/// The wait until the rate-limit window resets, from `X-RateLimit-Reset`: an HTTP date (as the
/// Public API documents it), or leniently a Unix time or a number of seconds.
pub fn rate_limit_reset(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get("x-ratelimit-reset")?.to_str().ok()?.trim();
    match value.parse::<u64>() {
        // A time past what `SystemTime` can hold is no answer (adding would panic).
        Ok(n) if n >= UNIX_TIME_THRESHOLD => Some(
            SystemTime::UNIX_EPOCH
                .checked_add(Duration::from_secs(n))?
                .duration_since(now)
                .unwrap_or(Duration::ZERO),
        ),
        Ok(n) => Some(Duration::from_secs(n)),
        Err(_) => until_date(value, now),
    }
}

fn until_date(value: &str, now: SystemTime) -> Option<Duration> {
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn status(code: u16) -> HttpError {
        HttpError::Status {
            status: StatusCode::from_u16(code).unwrap(),
            headers: HeaderMap::new(),
            body: b"<html>502</html>".to_vec(),
        }
    }

    /// An error of another module that keeps an HttpError as its source, as API clients do.
    #[derive(Debug, thiserror::Error)]
    #[error("GET /v1beta/workspaces failed")]
    struct Wrapper(#[source] HttpError);

    #[derive(Debug, thiserror::Error)]
    #[error("decoding failed")]
    struct DecodeWrapper(#[source] serde_json::Error);

    #[derive(Debug, thiserror::Error)]
    #[error("transport")]
    struct IoWrapper(#[source] io::Error);

    #[test]
    fn statuses() {
        for code in [500, 502, 503, 504, 408, 429] {
            assert_eq!(classify(&status(code)), Retryable::Transient, "{code}");
        }
        for code in [400, 401, 403, 404, 409, 413, 422, 301] {
            assert_eq!(classify(&status(code)), Retryable::Permanent, "{code}");
        }
    }

    #[test]
    fn the_whole_chain_is_walked() {
        assert_eq!(classify(&Wrapper(status(503))), Retryable::Transient);
        assert_eq!(classify(&Wrapper(status(404))), Retryable::Permanent);
        let gave_up = HttpError::GaveUp {
            attempts: 9,
            elapsed: Duration::from_secs(60),
            last: Box::new(status(502)),
        };
        assert_eq!(classify(&Wrapper(gave_up)), Retryable::Transient);
    }

    #[test]
    fn io_failures_are_transient_and_tls_failures_permanent() {
        for kind in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::UnexpectedEof,
            io::ErrorKind::TimedOut,
            io::ErrorKind::ConnectionRefused,
        ] {
            let err = IoWrapper(io::Error::new(kind, "x"));
            assert_eq!(classify(&err), Retryable::Transient, "{kind:?}");
        }
        let tls = IoWrapper(io::Error::new(io::ErrorKind::InvalidData, "bad cert"));
        assert_eq!(classify(&tls), Retryable::Permanent);
        // As the HTTP client reports a refused certificate: kind `Other`, around the TLS
        // connector's `InvalidData`, around the rustls error.
        let refused = IoWrapper(io::Error::other(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        )));
        assert_eq!(classify(&refused), Retryable::Permanent);
        let other = IoWrapper(io::Error::other("what"));
        assert_eq!(classify(&other), Retryable::Permanent);
    }

    #[test]
    fn undecodable_bodies_and_unknown_errors_are_permanent() {
        let decode = serde_json::from_str::<serde_json::Value>("<html>").unwrap_err();
        assert_eq!(classify(&DecodeWrapper(decode)), Retryable::Permanent);
        assert_eq!(classify(&std::fmt::Error), Retryable::Permanent);
    }

    #[test]
    fn only_server_errors_leave_a_write_in_doubt_among_statuses() {
        for code in [500, 502, 503, 504] {
            assert!(may_have_been_applied(&status(code)), "{code}");
        }
        for code in [400, 401, 404, 408, 409, 413, 422, 429] {
            assert!(!may_have_been_applied(&status(code)), "{code}");
        }
        let gave_up = HttpError::GaveUp {
            attempts: 3,
            elapsed: Duration::from_secs(1),
            last: Box::new(status(502)),
        };
        assert!(may_have_been_applied(&gave_up));
    }

    #[tokio::test]
    async fn a_refused_connection_applied_nothing() {
        // A port that was free a moment ago: nothing listens there now.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let client = reqwest::Client::new();
        let err = client
            .post(format!("http://127.0.0.1:{port}/sources"))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
        assert!(!may_have_been_applied(&HttpError::Transport(err)));
    }

    #[test]
    fn backoff_doubles_in_its_upper_half_up_to_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff_at(1, 0.0), Duration::from_millis(250));
        assert_eq!(policy.backoff_at(1, 1.0), Duration::from_millis(500));
        assert_eq!(policy.backoff_at(3, 1.0), Duration::from_secs(2));
        assert_eq!(policy.backoff_at(8, 1.0), Duration::from_secs(30));
        assert_eq!(policy.backoff_at(100, 0.0), Duration::from_secs(15));
        for retry in 1..20 {
            let d = policy.backoff(retry);
            assert!(d <= policy.max_delay, "{retry}: {d:?}");
        }
        let zero = RetryPolicy {
            base_delay: Duration::ZERO,
            ..policy
        };
        assert_eq!(zero.backoff(5), Duration::ZERO);
    }

    #[test]
    fn the_environment_can_shrink_the_base_delay() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.clone().with_base_ms(None).unwrap(), policy);
        let fast = policy.clone().with_base_ms(Some("0")).unwrap();
        assert_eq!(fast.base_delay, Duration::ZERO);
        let err = policy.with_base_ms(Some("fast")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable `SEGBRIDGE_RETRY_BASE_MS` must be a whole number of \
             milliseconds, not `fast`"
        );
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_500);
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers, now), None);
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        // 2025-01-01T00:00:00Z is 100 s after `now`.
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Wed, 01 Jan 2025 00:00:00 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(100)));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Tue, 31 Dec 2024 00:00:00 GMT"),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
        headers.insert("retry-after", HeaderValue::from_static("-3"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn rate_limit_reset_takes_a_date_a_unix_time_or_seconds() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_735_689_500);
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("Wed, 01 Jan 2025 00:00:00 GMT"),
        );
        assert_eq!(
            rate_limit_reset(&headers, now),
            Some(Duration::from_secs(100))
        );
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("1735689530"));
        assert_eq!(
            rate_limit_reset(&headers, now),
            Some(Duration::from_secs(30))
        );
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("12"));
        assert_eq!(
            rate_limit_reset(&headers, now),
            Some(Duration::from_secs(12))
        );
    }
}
