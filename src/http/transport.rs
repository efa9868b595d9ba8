//! One API's connection: base URL, token, pacing, retries, metrics and observer, behind a
//! cheap-to-clone handle.
//!
//! Every attempt takes a slot from the [`RateLimiter`] first, so retries are paced like any other
//! request. After a transient failure the loop waits what the server asked for or a backoff, and
//! tries again up to [`RetryPolicy::max_retries`] times; a 429 also holds the limiter for the
//! wait, so that concurrent requests back off together instead of collecting 429s of their own.
//!
//! [`Transport::get`] is all the Config API client uses (the source of a migration is read-only
//! by construction). [`Transport::send`] takes any method, media types and a body, for the Public
//! API client, whose writer is the only code that passes it a method other than GET. A write
//! cannot simply be retried like a read: a POST whose answer was lost may have been applied. So
//! every request says whether repeating it is harmless ([`Replay::Safe`]: reads, full
//! replacements, updates that set values) or not ([`Replay::Never`]: creates); the latter is
//! retried only after failures that prove nothing was applied (no connection, 429, 408; see
//! [`super::retry::may_have_been_applied`]) and any other failure is returned at once, for the
//! caller to reconcile by looking the object up.
//!
//! A request may also count against a bucket of its own endpoint (the Public API's per-endpoint
//! limits) as well as the transport's, and may let the server's `X-RateLimit-*` headers steer
//! that bucket ([`RateLimiter::follow_server`]).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use super::client::{
    BaseUrlError, ClientSettings, build_client, build_write_client, validate_base_url,
};
use super::error::{HttpError, MAX_BODY_BYTES, MAX_ERROR_BODY_BYTES};
use super::limit::{RateLimiter, ServerWindow};
use super::observe::{HttpMetrics, HttpObserver, WaitReason};
use super::retry::{
    RetryPolicy, Retryable, classify, may_have_been_applied, rate_limit_reset, retry_after,
};
use super::secret::Secret;
use super::{Endpoint, Response};

/// Reads how long to wait from a 429's body, for APIs that put it there (the Public API's
/// `msBeforeNext`).
pub type WaitFromBody = fn(&[u8]) -> Option<Duration>;

/// Whether a request may be sent again after a failure that left its outcome unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Sending it twice is the same as sending it once: reads, full replacements (PUT), updates
    /// that set fields to given values.
    Safe,
    /// A second copy could act twice (a create). Retried only after failures that prove the
    /// first was not applied; any other failure goes back to the caller.
    Never,
}

/// A request body with its media type.
#[derive(Debug, Clone)]
pub struct Body {
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// One request for [`Transport::send`].
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub endpoint: Endpoint,
    pub method: reqwest::Method,
    pub url: Url,
    /// The `Accept` header.
    pub accept: &'static str,
    pub body: Option<Body>,
    pub replay: Replay,
    /// The endpoint's own bucket, taken from as well as the transport's.
    pub bucket: Option<Arc<RateLimiter>>,
    /// Let `X-RateLimit-Consumed`, `-Remaining` and `-Reset` on a 2xx steer the endpoint's bucket
    /// (or the transport's, when the endpoint has none).
    pub follow_rate_headers: bool,
}

impl Outgoing {
    /// A GET as the Config API client sends it: `Accept: application/json`, retried freely,
    /// paced by the transport's bucket alone.
    pub fn get(endpoint: Endpoint, url: Url) -> Self {
        Self {
            endpoint,
            method: reqwest::Method::GET,
            url,
            accept: "application/json",
            body: None,
            replay: Replay::Safe,
            bucket: None,
            follow_rate_headers: false,
        }
    }
}

/// Everything a [`Transport`] is made from.
pub struct TransportSettings {
    /// A short name for messages and observers: `"config"`, `"public"`.
    pub api: &'static str,
    /// Where paths are appended; validated by [`validate_base_url`].
    pub base_url: Url,
    pub token: Secret,
    pub client: ClientSettings,
    pub retry: RetryPolicy,
    pub limiter: Arc<RateLimiter>,
    pub metrics: Arc<HttpMetrics>,
    pub observer: Option<Arc<dyn HttpObserver>>,
    pub wait_from_body: Option<WaitFromBody>,
}

/// Why a transport could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    BaseUrl(#[from] BaseUrlError),
    #[error("could not initialise the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("the API token contains characters that cannot be sent in an HTTP header")]
    Token,
}

struct Inner {
    api: &'static str,
    base_url: Url,
    client: reqwest::Client,
    /// For every method but GET: follows no redirect (see [`super::client`]).
    write_client: reqwest::Client,
    authorization: HeaderValue,
    retry: RetryPolicy,
    limiter: Arc<RateLimiter>,
    metrics: Arc<HttpMetrics>,
    observer: Option<Arc<dyn HttpObserver>>,
    wait_from_body: Option<WaitFromBody>,
}

/// A handle on one API. Clones share the connection pool, limiter and metrics.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("api", &self.inner.api)
            .field("base_url", &self.inner.base_url.as_str())
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

impl Transport {
    pub fn new(settings: TransportSettings) -> Result<Self, BuildError> {
        validate_base_url(&settings.base_url)?;
        let client = build_client(&settings.client).map_err(BuildError::Client)?;
        let write_client = build_write_client(&settings.client).map_err(BuildError::Client)?;
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {}", settings.token.dangerously_expose()))
                .map_err(|_| BuildError::Token)?;
        // Keeps the value out of the header map's Debug output.
        authorization.set_sensitive(true);
        Ok(Self {
            inner: Arc::new(Inner {
                api: settings.api,
                base_url: settings.base_url,
                client,
                write_client,
                authorization,
                retry: settings.retry,
                limiter: settings.limiter,
                metrics: settings.metrics,
                observer: settings.observer,
                wait_from_body: settings.wait_from_body,
            }),
        })
    }

    pub fn api(&self) -> &'static str {
        self.inner.api
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    pub fn metrics(&self) -> Arc<HttpMetrics> {
        self.inner.metrics.clone()
    }

    pub fn limiter(&self) -> Arc<RateLimiter> {
        self.inner.limiter.clone()
    }

    /// The base URL with `segments` appended, each percent-encoded as one path segment: a `/`,
    /// `?`, `#` or space inside a slug cannot change the route.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// GETs `url`, with pacing and retries. A 2xx answer read in full is `Ok`, whatever its
    /// body; anything else is the last attempt's error (wrapped in [`HttpError::GaveUp`] when
    /// retries ran out).
    pub async fn get(&self, endpoint: &Endpoint, url: Url) -> Result<Response, HttpError> {
        self.send(&Outgoing::get(*endpoint, url)).await
    }

    /// Sends `request` with pacing and retries (see the module doc for what [`Replay::Never`]
    /// changes). A 2xx answer read in full is `Ok`; anything else is the last attempt's error,
    /// wrapped in [`HttpError::GaveUp`] when retries ran out.
    pub async fn send(&self, request: &Outgoing) -> Result<Response, HttpError> {
        let inner = &self.inner;
        let endpoint = &request.endpoint;
        let bucket = request.bucket.as_deref();
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let ticket = self.wait_for_budget(bucket).await;
            let error = match self.attempt(request).await {
                Ok(response) => {
                    if request.follow_rate_headers
                        && let Some(window) = server_window(&response.headers)
                    {
                        bucket
                            .unwrap_or(&inner.limiter)
                            .follow_server(ticket, window);
                    }
                    return Ok(response);
                }
                Err(error) => error,
            };
            if classify(&error) == Retryable::Permanent
                || (request.replay == Replay::Never && may_have_been_applied(&error))
            {
                return Err(error);
            }
            if attempt > inner.retry.max_retries {
                return Err(if attempt == 1 {
                    error
                } else {
                    HttpError::GaveUp {
                        attempts: attempt,
                        elapsed: started.elapsed(),
                        last: Box::new(error),
                    }
                });
            }
            let (reason, wait) = self.delay_after(&error, attempt);
            if reason == WaitReason::RetryAfter && wait > inner.retry.max_wait_for_retry_after {
                return Err(HttpError::WaitTooLong {
                    requested: wait,
                    allowed: inner.retry.max_wait_for_retry_after,
                    last: Box::new(error),
                });
            }
            let wait = match reason {
                WaitReason::RetryAfter => past_the_asked_wait(wait, fastrand::f64()),
                _ => wait,
            };
            if error.status() == Some(StatusCode::TOO_MANY_REQUESTS) {
                // The endpoint's own window is the likelier one to be spent; holding it spares
                // the other endpoints, which learn of a spent default window from their own 429.
                bucket.unwrap_or(&inner.limiter).hold(wait);
            }
            inner.metrics.retry();
            if let Some(observer) = &inner.observer {
                observer.on_retry(inner.api, endpoint, attempt, &error);
            }
            self.wait(reason, wait).await;
        }
    }

    /// Takes a slot from the transport's bucket and from `bucket`, waits for the later, and
    /// returns the ticket of the bucket the server's headers steer.
    async fn wait_for_budget(&self, bucket: Option<&RateLimiter>) -> u64 {
        let limiter = &self.inner.limiter;
        let own = limiter.reserve_ticket();
        let (wait_on, reservation, ticket) = match bucket {
            None => (limiter.as_ref(), own, own.ticket),
            Some(bucket) => {
                let theirs = bucket.reserve_ticket();
                // Both slots are committed; the later one decides.
                if bucket.real_duration(theirs.wait) >= limiter.real_duration(own.wait) {
                    (bucket, theirs, theirs.ticket)
                } else {
                    (limiter.as_ref(), own, theirs.ticket)
                }
            }
        };
        self.sleep_for_budget(wait_on, reservation.wait).await;
        ticket
    }

    async fn sleep_for_budget(&self, limiter: &RateLimiter, wait: Duration) {
        if wait.is_zero() {
            return;
        }
        let real = limiter.real_duration(wait);
        self.notify_wait(WaitReason::Budget, real);
        limiter.sleep(wait).await;
        self.inner.metrics.waited(WaitReason::Budget, real);
    }

    async fn wait(&self, reason: WaitReason, duration: Duration) {
        if duration.is_zero() {
            return;
        }
        self.notify_wait(reason, duration);
        tokio::time::sleep(duration).await;
        self.inner.metrics.waited(reason, duration);
    }

    fn notify_wait(&self, reason: WaitReason, duration: Duration) {
        if let Some(observer) = &self.inner.observer {
            observer.on_wait(self.inner.api, reason, duration);
        }
    }

    /// What the server asked for, else a backoff. Any transient status may carry `Retry-After`
    /// (a 503 during maintenance does); the window reset and body hints belong to 429s.
    fn delay_after(&self, error: &HttpError, retry: u32) -> (WaitReason, Duration) {
        if let HttpError::Status {
            status,
            headers,
            body,
        } = error
        {
            let now = SystemTime::now();
            let limited = *status == StatusCode::TOO_MANY_REQUESTS;
            let asked = retry_after(headers, now)
                .or_else(|| {
                    self.inner
                        .wait_from_body
                        .filter(|_| limited)
                        .and_then(|read| read(body))
                })
                .or_else(|| limited.then(|| rate_limit_reset(headers, now)).flatten());
            if let Some(wait) = asked {
                return (WaitReason::RetryAfter, wait);
            }
        }
        (WaitReason::Backoff, self.inner.retry.backoff(retry))
    }

    async fn attempt(&self, request: &Outgoing) -> Result<Response, HttpError> {
        let inner = &self.inner;
        inner.metrics.request_sent();
        let client = if request.method == reqwest::Method::GET {
            &inner.client
        } else {
            &inner.write_client
        };
        let mut builder = client
            .request(request.method.clone(), request.url.clone())
            .header(header::AUTHORIZATION, inner.authorization.clone())
            .header(header::ACCEPT, request.accept);
        if let Some(body) = &request.body {
            builder = builder
                .header(header::CONTENT_TYPE, body.content_type)
                .body(body.bytes.clone());
        }
        let sent = builder.send().await;
        let mut response = match sent {
            Ok(response) => response,
            Err(err) => {
                inner.metrics.transport_error();
                return Err(HttpError::Transport(err));
            }
        };
        let status = response.status();
        inner.metrics.response(status);
        let headers: HeaderMap = response.headers().clone();
        if status.is_success() {
            return match read_bounded(&mut response, MAX_BODY_BYTES).await {
                Ok(body) => Ok(Response {
                    status,
                    headers,
                    body,
                }),
                Err(Some(err)) => {
                    inner.metrics.transport_error();
                    Err(HttpError::Transport(err))
                }
                Err(None) => Err(HttpError::TooLarge {
                    status,
                    limit: MAX_BODY_BYTES,
                    declared: response.content_length(),
                }),
            };
        }
        // The status is the error; the body only explains it, so a body that breaks off is kept
        // as far as it came, and a huge one is cut.
        let mut body = Vec::new();
        while body.len() < MAX_ERROR_BODY_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        body.truncate(MAX_ERROR_BODY_BYTES);
        Err(HttpError::Status {
            status,
            headers,
            body,
        })
    }
}

/// Reads a body of at most `limit` bytes: `Err(None)` as soon as it is known to be larger (its
/// `Content-Length` says so, or the bytes read pass the limit), without reading further, so a
/// server that streams without end costs `limit` bytes of memory and no more.
async fn read_bounded(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, Option<reqwest::Error>> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(None);
    }
    let mut body = Vec::with_capacity(
        response
            .content_length()
            .map_or(0, |length| length as usize),
    );
    while let Some(chunk) = response.chunk().await.map_err(Some)? {
        if body.len() + chunk.len() > limit {
            return Err(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The longest rate-limit window a server's headers may impose on later requests. The Public
/// API's windows are a minute long; a reset further away than an hour is a broken or hostile
/// header, which would otherwise stall every later request (or overflow the clock) and is
/// ignored instead.
const MAX_SERVER_WINDOW: Duration = Duration::from_secs(3600);

/// The window an answer reports in `X-RateLimit-Remaining` and `-Reset` (and `-Consumed`, when
/// present); `None` unless both of the first two are there and readable, and the reset is at
/// most [`MAX_SERVER_WINDOW`] away.
fn server_window(headers: &HeaderMap) -> Option<ServerWindow> {
    let number =
        |name: &str| -> Option<u32> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
    Some(ServerWindow {
        consumed: number("x-ratelimit-consumed"),
        remaining: number("x-ratelimit-remaining")?,
        reset_in: rate_limit_reset(headers, SystemTime::now())
            .filter(|reset| *reset <= MAX_SERVER_WINDOW)?,
    })
}

/// A wait the server asked for, plus up to a tenth more (`draw` in `[0, 1)`). `Retry-After`
/// comes in whole seconds, so a client that waits exactly that long keeps a fixed phase against
/// the server's clock: against limits or storms that recur on a period (a window of one
/// minute, a storm every two), every retry can land in the same spot of the next one, and all
/// of a request's retries fail alike. A little random extra breaks the lockstep, and spreads
/// the clients a 429 stopped together.
fn past_the_asked_wait(wait: Duration, draw: f64) -> Duration {
    wait.saturating_add(wait.mul_f64(draw.clamp(0.0, 1.0) / 10.0))
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_asked_wait_is_kept_and_lengthened_by_a_tenth_at_most() {
        let asked = Duration::from_secs(1);
        assert_eq!(past_the_asked_wait(asked, 0.0), asked);
        assert_eq!(
            past_the_asked_wait(asked, 0.5),
            Duration::from_millis(1_050)
        );
        let most = past_the_asked_wait(asked, 0.999_999);
        assert!(
            most > asked && most < Duration::from_millis(1_100),
            "{most:?}"
        );
        assert_eq!(
            past_the_asked_wait(asked, 7.0),
            Duration::from_millis(1_100)
        );
        assert_eq!(past_the_asked_wait(Duration::MAX, 0.5), Duration::MAX);
    }

    use super::*;

    #[test]
    fn the_window_needs_remaining_and_reset() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("7"));
        assert_eq!(server_window(&headers), None);
        headers.insert("x-ratelimit-reset", HeaderValue::from_static("30"));
        headers.insert("x-ratelimit-consumed", HeaderValue::from_static("3"));
        assert_eq!(
            server_window(&headers),
            Some(ServerWindow {
                consumed: Some(3),
                remaining: 7,
                reset_in: Duration::from_secs(30),
            })
        );
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("many"));
        assert_eq!(server_window(&headers), None);
        // A reset years away (or past what the clock can hold) is ignored, not obeyed.
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        for far in [
            "7200",
            "99999999999",
            "9000000000000000000",
            "18446744073709551615",
        ] {
            headers.insert("x-ratelimit-reset", HeaderValue::from_static(far));
            assert_eq!(server_window(&headers), None, "{far}");
        }
    }
}
