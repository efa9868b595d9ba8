//! One API's connection: base URL, token, pacing, retries, metrics and observer, behind a
//! cheap-to-clone handle.
//!
//! Every attempt takes a slot from the [`RateLimiter`] first, so retries are paced like any other
//! request. After a transient failure the loop waits what the server asked for or a backoff, and
//! tries again up to [`RetryPolicy::max_retries`] times; a 429 also holds the limiter for the
//! wait, so that concurrent requests back off together instead of collecting 429s of their own.
//!
//! Only GET exists. The Config API client, the only user so far, must never write (the source of
//! a migration is read-only by construction), and a write cannot simply be retried like this: a
//! POST whose answer was lost may have been applied. Whoever adds writes for the Public API adds
//! them as a separate path that surfaces such failures for reconciliation instead of retrying.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use super::client::{BaseUrlError, ClientSettings, build_client, validate_base_url};
use super::error::{HttpError, MAX_ERROR_BODY_BYTES};
use super::limit::RateLimiter;
use super::observe::{HttpMetrics, HttpObserver, WaitReason};
use super::retry::{RetryPolicy, Retryable, classify, rate_limit_reset, retry_after};
use super::secret::Secret;
use super::{Endpoint, Response};

/// Reads how long to wait from a 429's body, for APIs that put it there (the Public API's
/// `msBeforeNext`).
pub type WaitFromBody = fn(&[u8]) -> Option<Duration>;

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
        let inner = &self.inner;
        let started = Instant::now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            self.wait_for_budget().await;
            let error = match self.attempt(&url).await {
                Ok(response) => return Ok(response),
                Err(error) => error,
            };
            if classify(&error) == Retryable::Permanent {
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
            if error.status() == Some(StatusCode::TOO_MANY_REQUESTS) {
                inner.limiter.hold(wait);
            }
            inner.metrics.retry();
            if let Some(observer) = &inner.observer {
                observer.on_retry(inner.api, endpoint, attempt, &error);
            }
            self.wait(reason, wait).await;
        }
    }

    async fn wait_for_budget(&self) {
        let limiter = &self.inner.limiter;
        let wait = limiter.reserve();
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

    async fn attempt(&self, url: &Url) -> Result<Response, HttpError> {
        let inner = &self.inner;
        inner.metrics.request_sent();
        let sent = inner
            .client
            .get(url.clone())
            .header(header::AUTHORIZATION, inner.authorization.clone())
            .header(header::ACCEPT, "application/json")
            .send()
            .await;
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
            return match response.bytes().await {
                Ok(body) => Ok(Response {
                    status,
                    headers,
                    body: body.to_vec(),
                }),
                Err(err) => {
                    inner.metrics.transport_error();
                    Err(HttpError::Transport(err))
                }
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
