//! What the HTTP layer tells the rest of the program: counters anyone can read, and callbacks
//! for whoever draws progress.
//!
//! Core code never prints; the CLI implements [`HttpObserver`] to show "waiting on the rate
//! limit" in a progress bar, and reports [`HttpMetrics`] at the end of a run (how many 429s,
//! how long was spent waiting, and why). Counters are atomics with relaxed ordering: each is a
//! tally read for reporting, not a synchronisation point. Waits are summed over concurrent
//! requests, so with several requests in flight the total can exceed the wall-clock time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;

use super::Endpoint;
use super::error::HttpError;

/// Why a request is waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitReason {
    /// Our own limiter is keeping us under the API's rate limit.
    Budget,
    /// The server said how long to wait (`Retry-After`, `X-RateLimit-Reset`).
    RetryAfter,
    /// Backing off before retrying a transient failure.
    Backoff,
}

impl WaitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Budget => "budget",
            Self::RetryAfter => "retry_after",
            Self::Backoff => "backoff",
        }
    }
}

/// Callbacks from the HTTP layer. Every method has an empty default, so an observer implements
/// only what it shows. Called from request tasks: keep them quick and never block.
pub trait HttpObserver: Send + Sync {
    /// A request is about to wait `duration` (real time) for `reason`.
    fn on_wait(&self, api: &'static str, reason: WaitReason, duration: Duration) {
        let _ = (api, reason, duration);
    }

    /// Attempt number `attempt` (1 for the first) at `endpoint` failed with a transient `error`
    /// and will be retried.
    fn on_retry(&self, api: &'static str, endpoint: &Endpoint, attempt: u32, error: &HttpError) {
        let _ = (api, endpoint, attempt, error);
    }
}

/// Counters of one API client, shared through an `Arc` by every clone of the client.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    requests_sent: AtomicU64,
    responses_2xx: AtomicU64,
    responses_3xx: AtomicU64,
    responses_4xx: AtomicU64,
    responses_5xx: AtomicU64,
    rate_limited: AtomicU64,
    retries: AtomicU64,
    transport_errors: AtomicU64,
    budget_wait_nanos: AtomicU64,
    retry_after_wait_nanos: AtomicU64,
    backoff_wait_nanos: AtomicU64,
}

/// A copy of [`HttpMetrics`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpMetricsSnapshot {
    /// Attempts put on the wire, retries included.
    pub requests_sent: u64,
    pub responses_2xx: u64,
    pub responses_3xx: u64,
    pub responses_4xx: u64,
    pub responses_5xx: u64,
    /// 429 answers (also counted in `responses_4xx`).
    pub rate_limited: u64,
    /// Attempts made after a transient failure.
    pub retries: u64,
    /// Attempts that ended without a complete answer (connect failures, resets, timeouts,
    /// bodies cut off).
    pub transport_errors: u64,
    /// Time spent waiting on our own limiter.
    pub budget_wait: Duration,
    /// Time spent waiting because the server said so.
    pub retry_after_wait: Duration,
    /// Time spent backing off before retries.
    pub backoff_wait: Duration,
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl HttpMetrics {
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn request_sent(&self) {
        self.requests_sent.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn response(&self, status: StatusCode) {
        let counter = match status.as_u16() {
            200..=299 => &self.responses_2xx,
            300..=399 => &self.responses_3xx,
            400..=499 => &self.responses_4xx,
            500..=599 => &self.responses_5xx,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn transport_error(&self) {
        self.transport_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn waited(&self, reason: WaitReason, duration: Duration) {
        let counter = match reason {
            WaitReason::Budget => &self.budget_wait_nanos,
            WaitReason::RetryAfter => &self.retry_after_wait_nanos,
            WaitReason::Backoff => &self.backoff_wait_nanos,
        };
        counter.fetch_add(nanos(duration), Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> HttpMetricsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HttpMetricsSnapshot {
            requests_sent: get(&self.requests_sent),
            responses_2xx: get(&self.responses_2xx),
            responses_3xx: get(&self.responses_3xx),
            responses_4xx: get(&self.responses_4xx),
            responses_5xx: get(&self.responses_5xx),
            rate_limited: get(&self.rate_limited),
            retries: get(&self.retries),
            transport_errors: get(&self.transport_errors),
            budget_wait: Duration::from_nanos(get(&self.budget_wait_nanos)),
            retry_after_wait: Duration::from_nanos(get(&self.retry_after_wait_nanos)),
            backoff_wait: Duration::from_nanos(get(&self.backoff_wait_nanos)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_status_class_and_wait_reason() {
        let metrics = HttpMetrics::new();
        for code in [200, 204, 301, 404, 429, 503] {
            metrics.request_sent();
            metrics.response(StatusCode::from_u16(code).unwrap());
        }
        metrics.transport_error();
        metrics.retry();
        metrics.waited(WaitReason::Budget, Duration::from_millis(5));
        metrics.waited(WaitReason::Budget, Duration::from_millis(7));
        metrics.waited(WaitReason::RetryAfter, Duration::from_secs(1));
        let snapshot = metrics.snapshot();
        assert_eq!(
            snapshot,
            HttpMetricsSnapshot {
                requests_sent: 6,
                responses_2xx: 2,
                responses_3xx: 1,
                responses_4xx: 2,
                responses_5xx: 1,
                rate_limited: 1,
                retries: 1,
                transport_errors: 1,
                budget_wait: Duration::from_millis(12),
                retry_after_wait: Duration::from_secs(1),
                backoff_wait: Duration::ZERO,
            }
        );
    }
}
