//! The HTTP layer both API clients share: the `reqwest` client and where it may send a token
//! ([`client`]), tokens that never print ([`secret`]), the one transient-or-permanent classifier
//! and the backoff rules ([`retry`]), pacing under a rate limit ([`limit`]), counters and
//! progress callbacks ([`observe`]), and the retry loop that ties them together
//! ([`transport::Transport`]).
//!
//! Writes go through the same loop ([`Transport::send`]) but are retried only when repeating
//! them is harmless ([`Replay`]) or the failure proves nothing was applied
//! ([`retry::may_have_been_applied`]); the caller gets every other failure back to reconcile.
//!
//! Invariants: a token goes only to an `https://` origin or to a loopback host, and never into a
//! message; every request passes the limiter; every failure is classified by
//! [`retry::classify`] and nowhere else; nothing here prints (callers learn about waits and
//! retries through [`observe::HttpObserver`]). This module knows no API: the Config and Public
//! API clients give errors their meaning.

pub mod client;
pub mod error;
pub mod json;
pub mod limit;
pub mod observe;
pub mod pages;
pub mod retry;
pub mod secret;
pub mod transport;

use std::fmt;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

pub use self::client::{BaseUrlError, ClientSettings, USER_AGENT, parse_base_url};
pub use self::error::HttpError;
pub use self::limit::{Clock, RateLimiter, Reservation, ScaledClock, ServerWindow, SystemClock};
pub use self::observe::{HttpMetrics, HttpMetricsSnapshot, HttpObserver, WaitReason};
pub use self::retry::{RetryPolicy, Retryable, classify, may_have_been_applied};
pub use self::secret::{Secret, SecretError, SecretSource};
pub use self::transport::{Body, BuildError, Outgoing, Replay, Transport, TransportSettings};

/// The base backoff of retries in milliseconds, overriding [`RetryPolicy::base_delay`] (0 retries
/// at once). Meant for tests of the binary, which should not sleep through backoffs; waits the
/// server asks for (`Retry-After`) are still honoured. Applied by
/// [`RetryPolicy::with_env_overrides`].
pub const SEGBRIDGE_RETRY_BASE_MS: &str = "SEGBRIDGE_RETRY_BASE_MS";

/// What a request is for, as errors, metrics and observers name it: the method and the path
/// template (`GET /v1beta/workspaces/{ws}/sources`), not the concrete path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub method: &'static str,
    pub template: &'static str,
}

impl Endpoint {
    pub const fn get(template: &'static str) -> Self {
        Self::new("GET", template)
    }

    pub const fn new(method: &'static str, template: &'static str) -> Self {
        Self { method, template }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.template)
    }
}

/// A 2xx answer, read in full.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}
