//! The Config API client against the simulator over real sockets: every read returns what the
//! simulator holds, byte for byte; pages are walked; transient failures are retried and
//! permanent ones are not; the limiter keeps the client under the real limit; nothing but GET
//! is ever sent; and the token never shows up in an error.
//!
//! The simulator runs with `--time-scale 60` (a rate-limit minute lasts one second) and the
//! client paces on a clock scaled the same way, so that minutes of traffic take seconds.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use futures::StreamExt;
use serde_json::Value;
use url::Url;

use common::{RW_TOKEN, WS, WS_ID, small_workspace};
use segbridge::config_api::{
    ConfigApiError, ConfigClient, ConfigClientSettings, FunctionKind, RawObject,
};
use segbridge::http::{
    BuildError, Endpoint, HttpError, HttpObserver, ScaledClock, Secret, SecretSource, WaitReason,
};
use segbridge::sim::clock::TimeScale;
use segbridge::sim::faults::{Matcher, ScriptedFault};
use segbridge::sim::{SimSettings, Simulators};

const SCALE: f64 = 60.0;

async fn start(configure: impl FnOnce(&mut SimSettings)) -> Simulators {
    let mut settings = SimSettings::for_tests(1);
    settings.config_token = Some(RW_TOKEN.to_owned());
    settings.time_scale = TimeScale::new(SCALE).unwrap();
    configure(&mut settings);
    Simulators::start_with(settings, small_workspace())
        .await
        .unwrap()
}

fn secret(token: &str) -> Secret {
    Secret::new(token, SecretSource::EnvVar("TEST_TOKEN".into())).unwrap()
}

/// Settings for a client of `base`, pacing on the simulator's scaled minutes, with short
/// backoffs so that retried tests stay fast.
fn settings_for(base: &str) -> ConfigClientSettings {
    let mut settings = ConfigClientSettings::new(secret(RW_TOKEN));
    settings.base_url = Url::parse(base).unwrap();
    settings.clock = Arc::new(ScaledClock::new(SCALE));
    settings.retry.base_delay = Duration::from_millis(1);
    settings.retry.max_delay = Duration::from_millis(20);
    settings
}

fn client_of(sims: &Simulators) -> ConfigClient {
    ConfigClient::new(settings_for(&sims.config.base_url())).unwrap()
}

async fn sim_json(sims: &Simulators, path: &str) -> Value {
    reqwest::get(format!("{}{path}", sims.config.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The simulator's objects of one kind, serialized: comparing text compares key order too.
fn expected(state: &Value, kind: &str) -> BTreeMap<String, String> {
    state[kind]
        .as_object()
        .unwrap_or_else(|| panic!("no kind {kind} in the state"))
        .iter()
        .map(|(name, body)| (name.clone(), serde_json::to_string(body).unwrap()))
        .collect()
}

fn got(objects: &[RawObject]) -> BTreeMap<String, String> {
    let map: BTreeMap<String, String> = objects
        .iter()
        .map(|o| (o.name.clone(), o.body.get().to_owned()))
        .collect();
    assert_eq!(map.len(), objects.len(), "duplicate names");
    map
}

/// Records what the HTTP layer tells an observer.
#[derive(Default)]
struct Recorder {
    waits: Mutex<Vec<(WaitReason, Duration)>>,
    retries: Mutex<Vec<(String, u32, String)>>,
}

impl HttpObserver for Recorder {
    fn on_wait(&self, api: &'static str, reason: WaitReason, duration: Duration) {
        assert_eq!(api, "config");
        self.waits.lock().unwrap().push((reason, duration));
    }

    fn on_retry(&self, api: &'static str, endpoint: &Endpoint, attempt: u32, error: &HttpError) {
        assert_eq!(api, "config");
        self.retries
            .lock()
            .unwrap()
            .push((endpoint.to_string(), attempt, error.to_string()));
    }
}

#[tokio::test]
async fn every_read_returns_what_the_simulator_holds_and_nothing_but_get_is_sent() {
    let sims = start(|_| {}).await;
    let client = client_of(&sims);
    let state = sim_json(&sims, "/_sim/state").await;

    let workspaces = client.list_workspaces().all().await.unwrap();
    assert_eq!(got(&workspaces), expected(&state, "workspaces"));
    let workspace = client.get_workspace(WS).await.unwrap();
    assert_eq!(
        got(std::slice::from_ref(&workspace)),
        expected(&state, "workspaces")
    );
    assert_eq!(workspace.str_field("id").as_deref(), Some(WS_ID));

    let tokens = client.list_access_tokens().all().await.unwrap();
    assert_eq!(got(&tokens), expected(&state, "access_tokens"));

    let sources = client.list_sources(WS).all().await.unwrap();
    assert_eq!(got(&sources), expected(&state, "sources"));
    let (mut one_by_one, mut schema_configs, mut destinations, mut filters) =
        (vec![], vec![], vec![], vec![]);
    let (mut summaries, mut destination_names) = (vec![], vec![]);
    for source in &sources {
        one_by_one.push(client.get_source(WS, source.slug()).await.unwrap());
        schema_configs.push(client.get_schema_config(WS, source.slug()).await.unwrap());
        for destination in client
            .list_destinations(WS, source.slug())
            .all()
            .await
            .unwrap()
        {
            let again = client
                .get_destination(WS, source.slug(), destination.slug())
                .await
                .unwrap();
            assert_eq!(again, destination);
            let listed = client
                .list_filters(WS, source.slug(), destination.slug())
                .all()
                .await
                .unwrap();
            for filter in &listed {
                let again = client
                    .get_filter(WS, source.slug(), destination.slug(), filter.slug())
                    .await
                    .unwrap();
                assert_eq!(&again, filter);
            }
            filters.extend(listed);
            summaries.push(
                client
                    .get_delivery_summary(WS, source.slug(), destination.slug(), None)
                    .await
                    .unwrap(),
            );
            destination_names.push(destination.name.clone());
            destinations.push(destination);
        }
    }
    assert_eq!(got(&one_by_one), expected(&state, "sources"));
    assert_eq!(got(&schema_configs), expected(&state, "schema_configs"));
    assert_eq!(got(&destinations), expected(&state, "destinations"));
    assert_eq!(got(&filters), expected(&state, "destination_filters"));
    assert_eq!(got(&summaries), expected(&state, "delivery_metrics"));
    let batch = client
        .batch_delivery_summaries(WS, &destination_names, None)
        .await
        .unwrap();
    assert_eq!(got(&batch), expected(&state, "delivery_metrics"));

    let ga = &destinations[0];
    let (src, dst) = ("js", ga.slug());
    let series = client
        .list_delivery_series(WS, src, dst, None)
        .await
        .unwrap();
    assert_eq!(series.len(), 3);
    assert_eq!(series[0].name, format!("{}/metrics/successes", ga.name));
    let one = client
        .get_delivery_series(WS, src, dst, "successes", None)
        .await
        .unwrap();
    assert_eq!(one.name, series[0].name);

    let plans = client.list_tracking_plans(WS).all().await.unwrap();
    assert_eq!(got(&plans), expected(&state, "tracking_plans"));
    let mut connections = vec![];
    for plan in &plans {
        let again = client.get_tracking_plan(WS, plan.slug()).await.unwrap();
        assert_eq!(&again, plan);
        connections.extend(
            client
                .list_source_connections(WS, plan.slug())
                .all()
                .await
                .unwrap(),
        );
    }
    assert_eq!(
        got(&connections),
        expected(&state, "tracking_plan_connections")
    );

    let roles = client.list_roles(WS).all().await.unwrap();
    assert_eq!(got(&roles), expected(&state, "roles"));
    let policies = client.list_policies(WS).all().await.unwrap();
    assert_eq!(got(&policies), expected(&state, "policies"));
    let invites = client.list_invites(WS).all().await.unwrap();
    assert_eq!(got(&invites), expected(&state, "invites"));
    let users = client.list_users(WS).all().await.unwrap();
    assert_eq!(got(&users), expected(&state, "users"));

    let mut functions = vec![];
    for kind in FunctionKind::ALL {
        for function in client.list_functions(WS_ID, kind).all().await.unwrap() {
            let again = client.get_function(WS_ID, function.slug()).await.unwrap();
            assert_eq!(again, function);
            functions.push(function);
        }
    }
    assert_eq!(got(&functions), expected(&state, "functions"));

    let catalog_sources = client.list_catalog_sources().all().await.unwrap();
    let catalog_destinations = client.list_catalog_destinations().all().await.unwrap();
    let one_source = client
        .get_catalog_source(catalog_sources[0].slug())
        .await
        .unwrap();
    assert_eq!(one_source, catalog_sources[0]);
    let one_destination = client
        .get_catalog_destination(catalog_destinations[7].slug())
        .await
        .unwrap();
    assert_eq!(one_destination, catalog_destinations[7]);

    let stats = sim_json(&sims, "/_sim/stats").await;
    assert_eq!(
        catalog_sources.len() as u64,
        stats["resources"]["catalog_sources"]
    );
    assert_eq!(
        catalog_destinations.len() as u64,
        stats["resources"]["catalog_destinations"]
    );
    // The source is read-only: not one write, and every request was a GET.
    assert_eq!(
        stats["writes"],
        serde_json::json!({"DELETE": 0, "PATCH": 0, "POST": 0, "PUT": 0})
    );
    for endpoint in stats["requests"].as_object().unwrap().keys() {
        assert!(endpoint.starts_with("GET "), "{endpoint}");
    }
    let metrics = client.metrics().snapshot();
    assert_eq!(metrics.requests_sent, stats["requests_total"]);
    assert_eq!(metrics.responses_2xx, metrics.requests_sent);
    assert_eq!((metrics.retries, metrics.rate_limited), (0, 0));
    sims.shutdown().await;
}

#[tokio::test]
async fn pages_are_walked_to_the_end_100_at_a_time() {
    let sims = start(|_| {}).await;
    let client = client_of(&sims);
    // The embedded catalog has 348 destinations: four pages.
    let mut pages = client.list_catalog_destinations();
    let mut sizes = vec![];
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        assert_eq!(page.number, sizes.len() + 1);
        assert_eq!(page.last, page.objects.len() < 100);
        sizes.push(page.objects.len());
    }
    assert_eq!(sizes, [100, 100, 100, 48]);
    let stats = sim_json(&sims, "/_sim/stats").await;
    assert_eq!(
        stats["requests"]["GET /v1beta/catalog/destinations"]["200"],
        4
    );
    sims.shutdown().await;

    // A workspace with more than a page of sources.
    let mut settings = SimSettings::for_tests(3);
    settings.config_token = Some(RW_TOKEN.to_owned());
    settings.time_scale = TimeScale::new(SCALE).unwrap();
    settings.counts.sources = 130;
    let sims = Simulators::start(settings).await.unwrap();
    let client = client_of(&sims);
    let slug = sims.config.workspace_slug.clone();
    let state = sim_json(&sims, "/_sim/state").await;
    let sources = client.list_sources(&slug).all().await.unwrap();
    assert_eq!(sources.len(), 130);
    assert_eq!(got(&sources), expected(&state, "sources"));
    sims.shutdown().await;
}

#[tokio::test]
async fn a_429_is_waited_out_for_as_long_as_retry_after_says() {
    let sims = start(|_| {}).await;
    let recorder = Arc::new(Recorder::default());
    let mut settings = settings_for(&sims.config.base_url());
    settings.observer = Some(recorder.clone());
    let client = ConfigClient::new(settings).unwrap();
    sims.config.faults.script(
        Matcher::new(Method::GET, format!("/v1beta/workspaces/{WS}/sources")),
        ScriptedFault::RateLimited,
        1,
    );
    let started = Instant::now();
    let sources = client.list_sources(WS).all().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(sources.len(), 2);
    // The simulator's Retry-After is whole seconds, at least one.
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    let metrics = client.metrics().snapshot();
    assert_eq!(
        (metrics.rate_limited, metrics.retries, metrics.requests_sent),
        (1, 1, 2)
    );
    // What was asked, and up to a tenth more that keeps retries out of lockstep.
    let asked =
        |wait: Duration| (Duration::from_secs(1)..=Duration::from_millis(1_100)).contains(&wait);
    assert!(
        asked(metrics.retry_after_wait),
        "{:?}",
        metrics.retry_after_wait
    );
    let waits = recorder.waits.lock().unwrap().clone();
    assert!(
        waits
            .iter()
            .any(|(reason, wait)| *reason == WaitReason::RetryAfter && asked(*wait)),
        "{waits:?}"
    );
    let retries = recorder.retries.lock().unwrap().clone();
    assert_eq!(retries.len(), 1);
    assert_eq!(retries[0].0, "GET /v1beta/workspaces/{ws}/sources");
    assert_eq!(retries[0].1, 1);
    assert!(retries[0].2.starts_with("HTTP 429"), "{}", retries[0].2);
    sims.shutdown().await;
}

#[tokio::test]
async fn server_errors_resets_truncated_bodies_html_and_timeouts_are_retried_to_success() {
    let sims = start(|_| {}).await;
    let mut settings = settings_for(&sims.config.base_url());
    // Long enough for any healthy answer, short next to the scripted delay (60 s simulated,
    // one second real).
    settings.timeout = Duration::from_millis(400);
    let client = ConfigClient::new(settings).unwrap();
    let path = format!("/v1beta/workspaces/{WS}/sources");
    for fault in [
        ScriptedFault::Status(500),
        ScriptedFault::Status(503),
        ScriptedFault::Reset,
        ScriptedFault::Truncate,
        ScriptedFault::Html,
        ScriptedFault::Delay(Duration::from_secs(60)),
    ] {
        sims.config
            .faults
            .script(Matcher::new(Method::GET, path.clone()), fault, 1);
    }
    let state = sim_json(&sims, "/_sim/state").await;
    let sources = client.list_sources(WS).all().await.unwrap();
    assert_eq!(got(&sources), expected(&state, "sources"));
    let metrics = client.metrics().snapshot();
    assert_eq!(metrics.retries, 6);
    assert_eq!(metrics.requests_sent, 7);
    // Reset, truncated body, timeout.
    assert_eq!(metrics.transport_errors, 3);
    assert_eq!(metrics.responses_5xx, 3);
    let stats = sim_json(&sims, "/_sim/stats").await;
    for fault in ["5xx", "reset", "truncate", "html", "delay"] {
        assert!(stats["faults"][fault].as_u64().unwrap() >= 1, "{fault}");
    }
    sims.shutdown().await;
}

#[tokio::test]
async fn retries_give_up_after_max_retries_and_say_so() {
    let sims = start(|_| {}).await;
    let mut settings = settings_for(&sims.config.base_url());
    settings.retry.max_retries = 3;
    let client = ConfigClient::new(settings).unwrap();
    sims.config.faults.script(
        Matcher::new(Method::GET, format!("/v1beta/workspaces/{WS}/sources/js")),
        ScriptedFault::Status(503),
        10,
    );
    let err = client.get_source(WS, "js").await.unwrap_err();
    assert!(err.is_transient());
    assert_eq!(err.attempts(), 4);
    assert!(matches!(err, ConfigApiError::Api { .. }), "{err:?}");
    let chain = segbridge::diagnostics::render(&anyhow::Error::new(err));
    assert!(
        chain.contains(
            "GET /v1beta/workspaces/{ws}/sources/{src} for \
             `workspaces/automated-testing-demo/sources/js` failed (HTTP 503, code 14"
        ),
        "{chain}"
    );
    assert!(
        chain.contains("Caused by: request failed after 4 attempts in"),
        "{chain}"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn permanent_errors_are_not_retried_and_say_what_to_fix() {
    let sims = start(|_| {}).await;
    let client = client_of(&sims);

    let err = client.get_source(WS, "missing").await.unwrap_err();
    assert!(matches!(err, ConfigApiError::Api { .. }), "{err:?}");
    assert!(err.is_not_found() && !err.is_transient());
    assert!(
        err.to_string().starts_with(
            "GET /v1beta/workspaces/{ws}/sources/{src} for \
             `workspaces/automated-testing-demo/sources/missing` failed (HTTP 404, code 5: "
        ),
        "{err}"
    );

    let err = client
        .list_sources("no-such-workspace")
        .all()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("workspace `no-such-workspace` was not found (HTTP 404, code 5"),
        "{err}"
    );
    let err = client
        .list_functions("nope", FunctionKind::Source)
        .all()
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("workspace with id `nope` was not found"),
        "{err}"
    );

    sims.config.faults.script(
        Matcher::new(Method::GET, "/v1beta/workspaces"),
        ScriptedFault::Status(400),
        1,
    );
    let err = client.get_workspace(WS).await.unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert!(!err.is_transient());

    let mut settings = settings_for(&sims.config.base_url());
    settings.token = secret("not-a-token-the-simulator-knows");
    let stranger = ConfigClient::new(settings).unwrap();
    let err = stranger.list_workspaces().all().await.unwrap_err();
    assert!(matches!(err, ConfigApiError::Unauthenticated { .. }));
    assert!(
        err.to_string().contains("`SEGMENT_CONFIG_API_TOKEN`")
            && err.to_string().contains("`--config-token-file`"),
        "{err}"
    );

    // Four requests, four answers, no retry.
    assert_eq!(client.metrics().snapshot().retries, 0);
    assert_eq!(stranger.metrics().snapshot().retries, 0);
    let stats = sim_json(&sims, "/_sim/stats").await;
    assert_eq!(stats["requests_total"], 5);
    sims.shutdown().await;
}

#[tokio::test]
async fn slugs_cannot_change_the_route() {
    let sims = start(|_| {}).await;
    let client = client_of(&sims);
    for slug in [
        "js/destinations/google-analytics",
        "js?page_size=1",
        "js#fragment",
        "j s",
        "%2E%2E",
    ] {
        let err = client.get_source(WS, slug).await.unwrap_err();
        assert!(err.is_not_found(), "{slug}: {err}");
    }
    // Dot and empty segments would be resolved away by the URL: refused before sending.
    for slug in ["..", ".", ""] {
        let err = client.get_source(WS, slug).await.unwrap_err();
        assert!(
            matches!(err, ConfigApiError::InvalidSegment { .. }),
            "{slug}: {err}"
        );
    }
    let stats = sim_json(&sims, "/_sim/stats").await;
    assert_eq!(
        stats["requests"]["GET /v1beta/workspaces/{ws}/sources/{src}"]["404"], 5,
        "{stats:#}"
    );
    sims.shutdown().await;
}

#[tokio::test]
async fn the_limiter_keeps_429s_at_zero_under_the_real_limit() {
    // The documented 200 requests per minute, with a minute lasting one second.
    const REQUESTS: usize = 400;
    let sims = start(|s| s.config_rate_limit = 200).await;
    let client = client_of(&sims);
    let started = Instant::now();
    let results: Vec<_> = futures::stream::iter(0..REQUESTS)
        .map(|i| {
            let client = client.clone();
            async move {
                let slug = if i % 2 == 0 { "js" } else { "webhook" };
                client.get_source(WS, slug).await
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let elapsed = started.elapsed();
    assert!(results.iter().all(Result::is_ok));
    let stats = sim_json(&sims, "/_sim/stats").await;
    let metrics = client.metrics().snapshot();
    assert_eq!(stats["rate_limited"], 0, "{stats:#}");
    assert_eq!(metrics.rate_limited, 0);
    assert_eq!(metrics.requests_sent, REQUESTS as u64);
    // 2 at once, then 194 per (scaled) minute: about 2.05 s, and not much slower.
    assert!(elapsed >= Duration::from_millis(1_900), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(metrics.budget_wait > Duration::ZERO);
    sims.shutdown().await;

    // Without pacing, the same burst collects 429s: the test above is not passing by luck. The
    // minute lasts ten seconds here, so that however slow the machine, the burst fits in one.
    let sims = start(|s| {
        s.config_rate_limit = 200;
        s.time_scale = TimeScale::new(6.0).unwrap();
    })
    .await;
    let mut settings = settings_for(&sims.config.base_url());
    settings.requests_per_minute = 0;
    settings.retry.max_retries = 0;
    let unpaced = ConfigClient::new(settings).unwrap();
    let results: Vec<_> = futures::stream::iter(0..REQUESTS)
        .map(|_| {
            let client = unpaced.clone();
            async move { client.get_source(WS, "js").await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let limited = results
        .iter()
        .filter(|r| matches!(r, Err(e) if e.status().map(|s| s.as_u16()) == Some(429)))
        .count();
    assert_eq!(limited, REQUESTS - 200);
    sims.shutdown().await;
}

#[tokio::test]
async fn batches_of_summaries_stay_under_the_url_limit() {
    let sims = start(|_| {}).await;
    let client = client_of(&sims);
    let names: Vec<String> = (0..300)
        .map(|i| {
            let dst = ["google-analytics", "google-analytics-2", "salesforce"][i % 3];
            format!("workspaces/{WS}/sources/js/destinations/{dst}")
        })
        .collect();
    let summaries = client
        .batch_delivery_summaries(WS, &names, None)
        .await
        .unwrap();
    assert_eq!(summaries.len(), 300);
    let stats = sim_json(&sims, "/_sim/stats").await;
    let calls = stats["requests"]
        ["GET /v1beta/workspaces/{ws}/event-delivery-metrics:batchGetSummary"]["200"]
        .as_u64()
        .unwrap();
    // 300 names of about 65 bytes: at least four URLs of at most 6 KB.
    assert!((4..=5).contains(&calls), "{calls}");
    sims.shutdown().await;
}

#[tokio::test]
async fn plain_http_is_refused_off_loopback() {
    let mut settings = ConfigClientSettings::new(secret(RW_TOKEN));
    settings.base_url = Url::parse("http://platform.segmentapis.com").unwrap();
    let err = ConfigClient::new(settings).unwrap_err();
    assert!(matches!(err, BuildError::BaseUrl(_)));
    assert!(
        err.to_string()
            .starts_with("refusing the plain-HTTP base URL `http://platform.segmentapis.com/`"),
        "{err}"
    );
}

#[tokio::test]
async fn connection_failures_are_retried_then_reported_without_the_token() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = settings_for(&format!("http://127.0.0.1:{port}"));
    settings.retry.max_retries = 2;
    let client = ConfigClient::new(settings).unwrap();
    let err = client.list_workspaces().all().await.unwrap_err();
    assert!(matches!(err, ConfigApiError::Transport { .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(err.attempts(), 3);
    assert_eq!(client.metrics().snapshot().transport_errors, 3);
    assert_no_token(&err);
}

fn assert_no_token(err: &ConfigApiError) {
    let rendered = segbridge::diagnostics::render(&anyhow::anyhow!(format!("{err}")));
    let debug = format!("{err:?} {err:#?}");
    for text in [err.to_string(), rendered, debug] {
        assert!(!text.contains(RW_TOKEN), "{text}");
        assert!(!text.contains("rwtoken"), "{text}");
    }
}

#[tokio::test]
async fn the_token_never_appears_in_errors() {
    let sims = start(|_| {}).await;
    let client = client_of(&sims);
    sims.config.faults.script(
        Matcher::new(Method::GET, "/v1beta/workspaces"),
        ScriptedFault::Status(500),
        20,
    );
    let mut errors = vec![client.get_source(WS, "missing").await.unwrap_err()];
    errors.push(client.get_workspace(WS).await.unwrap_err());
    let mut settings = settings_for(&sims.config.base_url());
    settings.token = secret("wrong-token-rwtoken");
    errors.push(
        ConfigClient::new(settings)
            .unwrap()
            .list_workspaces()
            .all()
            .await
            .unwrap_err(),
    );
    for err in &errors {
        assert_no_token(err);
    }
    sims.shutdown().await;
}

/// A server the simulator cannot imitate: one that misbehaves on purpose.
mod rogue {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::get;

    pub struct Rogue {
        pub base: String,
        pub hits: Arc<AtomicUsize>,
        pub authorized_hits: Arc<AtomicUsize>,
        _task: tokio::task::JoinHandle<()>,
    }

    #[derive(Clone)]
    struct Counters {
        hits: Arc<AtomicUsize>,
        authorized: Arc<AtomicUsize>,
        elsewhere: String,
    }

    fn count(counters: &Counters, headers: &HeaderMap) {
        counters.hits.fetch_add(1, Ordering::SeqCst);
        if headers.contains_key(header::AUTHORIZATION) {
            counters.authorized.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Serves `/v1beta/workspaces` with a cursor that never changes, `/v1beta/catalog/sources`
    /// as a redirect to another origin (`elsewhere`), `/v1beta/access-tokens` as a same-origin
    /// redirect to a real list, users as a redirect loop, and roles as a 429 that asks for an
    /// hour's wait.
    pub async fn start(elsewhere: String) -> Rogue {
        let counters = Counters {
            hits: Arc::new(AtomicUsize::new(0)),
            authorized: Arc::new(AtomicUsize::new(0)),
            elsewhere,
        };
        let app = Router::new()
            .route(
                "/v1beta/workspaces",
                get(|State(c): State<Counters>, headers: HeaderMap| async move {
                    count(&c, &headers);
                    axum::Json(serde_json::json!({
                        "workspaces": [{"name": "workspaces/a"}],
                        "next_page_token": "same-every-time",
                    }))
                }),
            )
            .route(
                "/v1beta/catalog/sources",
                get(|State(c): State<Counters>, headers: HeaderMap| async move {
                    count(&c, &headers);
                    (
                        StatusCode::TEMPORARY_REDIRECT,
                        [(
                            header::LOCATION,
                            format!("{}/v1beta/catalog/sources", c.elsewhere),
                        )],
                    )
                }),
            )
            .route(
                "/v1beta/access-tokens",
                get(|State(c): State<Counters>, headers: HeaderMap| async move {
                    count(&c, &headers);
                    (
                        StatusCode::PERMANENT_REDIRECT,
                        [(header::LOCATION, "/v1beta/moved/access-tokens")],
                    )
                }),
            )
            .route(
                "/v1beta/moved/access-tokens",
                get(|State(c): State<Counters>, headers: HeaderMap| async move {
                    count(&c, &headers);
                    axum::Json(serde_json::json!({
                        "access_tokens": [{"name": "access-tokens/1"}],
                    }))
                    .into_response()
                }),
            )
            .route(
                "/v1beta/workspaces/{ws}/users",
                get(|State(c): State<Counters>, headers: HeaderMap| async move {
                    count(&c, &headers);
                    (
                        StatusCode::FOUND,
                        [(header::LOCATION, "/v1beta/workspaces/loop/users")],
                    )
                }),
            )
            .route(
                "/v1beta/workspaces/{ws}/roles",
                get(|State(c): State<Counters>, headers: HeaderMap| async move {
                    count(&c, &headers);
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [(header::RETRY_AFTER, "3600")],
                        axum::Json(serde_json::json!({"error": "rate limit", "code": 8})),
                    )
                }),
            )
            .with_state(counters.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Rogue {
            base,
            hits: counters.hits,
            authorized_hits: counters.authorized,
            _task: task,
        }
    }
}

#[tokio::test]
async fn a_cursor_that_repeats_is_an_error_not_a_loop() {
    let server = rogue::start("http://127.0.0.2:9".into()).await;
    let client = ConfigClient::new(settings_for(&server.base)).unwrap();
    let err = client.list_workspaces().all().await.unwrap_err();
    assert!(
        matches!(err, ConfigApiError::RepeatedCursor { pages: 2, .. }),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn redirects_stay_on_the_origin_and_never_carry_the_token_elsewhere() {
    use std::sync::atomic::Ordering::SeqCst;

    let elsewhere = rogue::start("http://127.0.0.2:9".into()).await;
    let server = rogue::start(elsewhere.base.clone()).await;
    let client = ConfigClient::new(settings_for(&server.base)).unwrap();

    let tokens = client.list_access_tokens().all().await.unwrap();
    assert_eq!(tokens[0].name, "access-tokens/1");

    let err = client.list_catalog_sources().all().await.unwrap_err();
    assert!(!err.is_transient(), "{err:?}");
    let chain = segbridge::diagnostics::render(&anyhow::Error::new(err));
    assert!(chain.contains("to another origin"), "{chain}");
    assert_eq!(elsewhere.hits.load(SeqCst), 0);
    assert_eq!(elsewhere.authorized_hits.load(SeqCst), 0);

    let before = server.hits.load(SeqCst);
    let err = client.list_users("loop").all().await.unwrap_err();
    let chain = segbridge::diagnostics::render(&anyhow::Error::new(err));
    assert!(chain.contains("stopped after 5 redirects"), "{chain}");
    // The request and five redirects followed.
    assert_eq!(server.hits.load(SeqCst), before + 6);
}

#[tokio::test]
async fn a_wait_longer_than_allowed_fails_at_once() {
    let server = rogue::start("http://127.0.0.2:9".into()).await;
    let client = ConfigClient::new(settings_for(&server.base)).unwrap();
    let started = Instant::now();
    let err = client.list_roles("acme").all().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    // Still a rate limit: the item may be retried by a later run.
    assert!(err.is_transient());
    let chain = segbridge::diagnostics::render(&anyhow::Error::new(err));
    assert!(
        chain.contains(
            "the server asked to wait 3600s before retrying, longer than the 300s allowed"
        ),
        "{chain}"
    );
    assert_eq!(server.hits.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// The clients and the simulators keep separate wire types: neither side may import the other,
/// so that a field misspelt on one side cannot pass by being misspelt the same way on the other.
#[test]
fn the_client_and_the_simulator_do_not_import_each_other() {
    fn sources(dir: &str) -> Vec<(std::path::PathBuf, String)> {
        let mut out = Vec::new();
        let mut pending = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push((path, text));
                }
            }
        }
        assert!(!out.is_empty(), "no sources under {dir}");
        out
    }
    for (dir, forbidden) in [
        (
            "src/config_api",
            ["crate::sim", "super::sim", "super::super::sim"],
        ),
        (
            "src/http",
            ["crate::sim", "super::sim", "super::super::sim"],
        ),
        (
            "src/sim",
            [
                "crate::config_api",
                "crate::public_api",
                "segbridge::config_api",
            ],
        ),
    ] {
        for (path, text) in sources(dir) {
            for needle in forbidden {
                assert!(
                    !text.contains(needle),
                    "{} mentions `{needle}`",
                    path.display()
                );
            }
        }
    }
}
