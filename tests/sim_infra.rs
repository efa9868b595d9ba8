//! The shared simulator infrastructure over real sockets: a tiny API served by `server::spawn`,
//! hit with reqwest on 127.0.0.1, proving that every fault is what a client would really see.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use segbridge::sim::clock::TimeScale;
use segbridge::sim::faults::{FaultInjector, FaultKind, FaultSpec, Matcher, ScriptedFault};
use segbridge::sim::server::{self, RunningServer, SimContext};
use segbridge::sim::stats::RequestStats;

fn error_envelope(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

fn rate_limited(retry_after: Duration) -> Response {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let mut response = error_envelope(StatusCode::TOO_MANY_REQUESTS, "rate limited");
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

fn outage() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "upstream unavailable").into_response()
}

#[derive(Clone)]
struct AppState {
    writes: Arc<AtomicUsize>,
    stats: Arc<RequestStats>,
}

/// Big enough that half of it is clearly not a JSON document.
fn item_list() -> Value {
    let items: Vec<Value> = (0..50)
        .map(|i| json!({ "id": i, "name": format!("item-{i}") }))
        .collect();
    json!({ "items": items })
}

async fn list_items() -> Json<Value> {
    Json(item_list())
}

async fn create_item(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let id = state.writes.fetch_add(1, Ordering::SeqCst);
    (StatusCode::CREATED, Json(json!({ "id": id })))
}

async fn get_item(Path(id): Path<u32>) -> Response {
    if id >= 100 {
        return error_envelope(StatusCode::NOT_FOUND, "no such item");
    }
    Json(json!({ "id": id })).into_response()
}

async fn stats_snapshot(State(state): State<AppState>) -> Json<Value> {
    Json(state.stats.snapshot())
}

struct Harness {
    server: RunningServer,
    faults: Arc<FaultInjector>,
    stats: Arc<RequestStats>,
    writes: Arc<AtomicUsize>,
    client: reqwest::Client,
}

impl Harness {
    async fn start(spec: &str, time_scale: f64) -> Self {
        let scale = TimeScale::new(time_scale).unwrap();
        let spec: FaultSpec = spec.parse().unwrap();
        let faults = Arc::new(FaultInjector::new(spec, scale, 1));
        let stats = Arc::new(RequestStats::new());
        let writes = Arc::new(AtomicUsize::new(0));
        let app = Router::new()
            .route("/v1/items", get(list_items).post(create_item))
            .route("/v1/items/{id}", get(get_item))
            .route("/_sim/stats", get(stats_snapshot))
            .merge(server::fault_control_routes(faults.clone()))
            .with_state(AppState {
                writes: writes.clone(),
                stats: stats.clone(),
            });
        let ctx = SimContext {
            api: "test",
            faults: faults.clone(),
            stats: stats.clone(),
            scale,
            error_response: error_envelope,
            rate_limited_response: rate_limited,
            outage_response: outage,
        };
        let server = server::spawn(app, ctx, 0).await.unwrap();
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Self {
            server,
            faults,
            stats,
            writes,
            client,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base_url())
    }

    async fn get(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        self.client.get(self.url(path)).send().await
    }

    /// What the client saw: a status with the body, or a transport error.
    async fn outcome(&self, method: Method, path: &str) -> String {
        match self.client.request(method, self.url(path)).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                match response.text().await {
                    Ok(_) => status.to_string(),
                    Err(_) => format!("{status} cut"),
                }
            }
            Err(error) => {
                assert!(error.status().is_none());
                "error".into()
            }
        }
    }
}

#[tokio::test]
async fn a_reset_is_a_connection_error_without_a_status() {
    let sim = Harness::start("none", 1.0).await;
    sim.faults.script(
        Matcher::new(Method::GET, "/v1/items"),
        ScriptedFault::Reset,
        1,
    );
    let error = sim.get("/v1/items").await.unwrap_err();
    assert!(error.status().is_none(), "{error:?}");
    assert!(!error.is_timeout(), "{error:?}");
    // The next request gets a fresh connection and a normal answer.
    assert_eq!(sim.get("/v1/items").await.unwrap().status(), 200);
    assert_eq!(sim.stats.count("GET /v1/items", "reset"), 1);
    assert_eq!(sim.stats.count("GET /v1/items", "200"), 1);
    assert_eq!(sim.stats.faults(FaultKind::Reset), 1);
}

#[tokio::test]
async fn a_truncated_body_announces_its_full_length_and_fails_the_read() {
    let sim = Harness::start("none", 1.0).await;
    sim.faults
        .script(Matcher::any(), ScriptedFault::Truncate, 1);
    let full_length = serde_json::to_vec(&item_list()).unwrap().len() as u64;
    let response = sim.get("/v1/items").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(full_length));
    assert!(response.bytes().await.is_err());
    let whole = sim.get("/v1/items").await.unwrap().bytes().await.unwrap();
    assert_eq!(whole.len() as u64, full_length);
    assert_eq!(sim.stats.faults(FaultKind::Truncate), 1);
}

#[tokio::test]
async fn ghost_writes_change_state_yet_the_client_sees_an_error() {
    let sim = Harness::start("none", 1.0).await;
    sim.faults.script(
        Matcher::new(Method::POST, "/v1/items"),
        ScriptedFault::Ghost,
        8,
    );
    let mut outcomes = Vec::new();
    for _ in 0..8 {
        outcomes.push(sim.outcome(Method::POST, "/v1/items").await);
    }
    assert_eq!(
        sim.writes.load(Ordering::SeqCst),
        8,
        "every ghost write ran"
    );
    assert!(
        outcomes.iter().all(|o| o == "error" || o == "500"),
        "{outcomes:?}"
    );
    assert!(outcomes.contains(&"error".to_owned()), "{outcomes:?}");
    assert!(outcomes.contains(&"500".to_owned()), "{outcomes:?}");
    assert_eq!(sim.outcome(Method::POST, "/v1/items").await, "201");
    assert_eq!(sim.writes.load(Ordering::SeqCst), 9);
    assert_eq!(sim.stats.faults(FaultKind::Ghost), 8);
    assert_eq!(sim.stats.writes_total(), 9);
}

#[tokio::test]
async fn random_ghosts_spare_reads() {
    let sim = Harness::start("ghost=1", 1.0).await;
    assert_eq!(sim.outcome(Method::GET, "/v1/items").await, "200");
    assert_ne!(sim.outcome(Method::POST, "/v1/items").await, "201");
    assert_eq!(sim.writes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_storm_answers_429_with_retry_after() {
    // At 100x, the first storm starts 1 s after the server and never ends (length = period).
    let sim = Harness::start("storm=100s/100s", 100.0).await;
    assert_eq!(sim.get("/v1/items").await.unwrap().status(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let response = sim.get("/v1/items").await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    // The control surface stays reachable in the middle of a storm.
    assert_eq!(sim.get("/_sim/faults").await.unwrap().status(), 200);
    assert_eq!(sim.stats.rate_limited(), 1);
    assert_eq!(sim.stats.faults(FaultKind::Storm), 1);
}

#[tokio::test]
async fn an_outage_answers_503_to_everything() {
    let sim = Harness::start("outage=0s+1h", 1.0).await;
    for path in ["/v1/items", "/v1/items/3", "/nowhere"] {
        let response = sim.get(path).await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.text().await.unwrap(), "upstream unavailable");
    }
    assert_eq!(sim.outcome(Method::POST, "/v1/items").await, "503");
    assert_eq!(sim.writes.load(Ordering::SeqCst), 0, "handlers do not run");
    assert_eq!(sim.stats.faults(FaultKind::Outage), 4);
}

#[tokio::test]
async fn scripted_statuses_and_html_pages() {
    let sim = Harness::start("none", 1.0).await;
    sim.faults
        .script(Matcher::any(), ScriptedFault::Status(503), 1);
    sim.faults.script(Matcher::any(), ScriptedFault::Html, 1);
    sim.faults
        .script(Matcher::any(), ScriptedFault::RateLimited, 1);

    let response = sim.get("/v1/items").await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, json!({ "error": "Service Unavailable" }));

    let response = sim.get("/v1/items").await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html");
    assert!(response.text().await.unwrap().contains("502 Bad Gateway"));

    let response = sim.get("/v1/items").await.unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    assert_eq!(sim.faults.scripted_remaining(), 0);
}

#[tokio::test]
async fn sim_paths_are_never_faulted_or_counted() {
    let sim = Harness::start("reset=1,latency=5s", 1.0).await;
    let started = Instant::now();
    let response = sim.get("/_sim/faults").await.unwrap();
    assert_eq!(response.text().await.unwrap(), "reset=1,latency=5s");
    assert_eq!(sim.get("/_sim/stats").await.unwrap().status(), 200);
    assert!(started.elapsed() < Duration::from_secs(2), "no latency");

    let bad = sim
        .client
        .post(sim.url("/_sim/faults"))
        .body("reset=2")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(bad.text().await.unwrap().contains("fault key \"reset\""));

    let replaced = sim
        .client
        .post(sim.url("/_sim/faults"))
        .body("none")
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.text().await.unwrap(), "none");
    assert_eq!(sim.get("/v1/items").await.unwrap().status(), 200);
    assert_eq!(sim.stats.requests_total(), 1);
}

#[tokio::test]
async fn stats_count_per_route_template_and_status() {
    let sim = Harness::start("none", 1.0).await;
    for path in ["/v1/items/1", "/v1/items/2", "/v1/items/404", "/nowhere"] {
        sim.get(path).await.unwrap();
    }
    sim.outcome(Method::POST, "/v1/items").await;
    sim.faults.script(Matcher::any(), ScriptedFault::Reset, 1);
    sim.outcome(Method::POST, "/v1/items").await;
    sim.outcome(Method::DELETE, "/v1/items").await;

    let snapshot: Value = sim.get("/_sim/stats").await.unwrap().json().await.unwrap();
    assert_eq!(
        snapshot["requests"],
        json!({
            "DELETE /v1/items": { "405": 1 },
            "GET /nowhere": { "404": 1 },
            "GET /v1/items/{id}": { "200": 2, "404": 1 },
            "POST /v1/items": { "201": 1, "reset": 1 },
        })
    );
    assert_eq!(snapshot["requests_total"], 7);
    assert_eq!(
        snapshot["writes"],
        json!({ "DELETE": 1, "PATCH": 0, "POST": 2, "PUT": 0 })
    );
    assert_eq!(snapshot["faults"]["reset"], 1);
    let keys: Vec<&String> = snapshot.as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[tokio::test]
async fn latency_is_divided_by_the_time_scale() {
    let sim = Harness::start("latency=3s", 20.0).await;
    let started = Instant::now();
    assert_eq!(sim.get("/v1/items").await.unwrap().status(), 200);
    let elapsed = started.elapsed();
    assert!(
        (Duration::from_millis(150)..Duration::from_secs(3)).contains(&elapsed),
        "{elapsed:?}"
    );
}

async fn outcomes_for(spec: &str) -> (Vec<String>, Value) {
    let sim = Harness::start(spec, 1.0).await;
    let mut outcomes = Vec::new();
    for i in 0..40 {
        let method = if i % 3 == 0 {
            Method::POST
        } else {
            Method::GET
        };
        outcomes.push(sim.outcome(method, "/v1/items").await);
    }
    (outcomes, sim.stats.snapshot())
}

#[tokio::test]
async fn seeded_runs_are_reproducible() {
    let spec = "5xx=0.2,reset=0.15,truncate=0.15,html=0.1,ghost=0.2,seed=42";
    let (first, first_stats) = outcomes_for(spec).await;
    let (second, second_stats) = outcomes_for(spec).await;
    assert_eq!(first, second);
    assert_eq!(first_stats, second_stats);
    for expected in ["200", "201", "500", "502", "error", "200 cut"] {
        assert!(
            first.contains(&expected.to_owned()),
            "{expected} in {first:?}"
        );
    }
    let (other_seed, _) = outcomes_for(&spec.replace("seed=42", "seed=43")).await;
    assert_ne!(first, other_seed);
}

#[tokio::test]
async fn shutdown_closes_the_port() {
    let sim = Harness::start("none", 1.0).await;
    let addr = sim.server.addr;
    assert!(addr.ip().is_loopback());
    assert_eq!(sim.get("/v1/items").await.unwrap().status(), 200);
    sim.server.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let sim = Harness::start("none", 1.0).await;
    sim.faults.script(
        Matcher::any(),
        ScriptedFault::Delay(Duration::from_millis(300)),
        1,
    );
    let in_flight = tokio::spawn(sim.client.get(sim.url("/v1/items")).send());
    tokio::time::sleep(Duration::from_millis(100)).await;
    sim.server.shutdown().await;
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.bytes().await.is_ok());
}

/// A simulator that rewrites paths before routing, so its routes are matched inside a fallback
/// service: it instruments the inner router and serves the outer one.
#[tokio::test]
async fn routers_behind_a_path_rewriter_instrument_the_inner_router() {
    let scale = TimeScale::real();
    let faults = Arc::new(FaultInjector::new(FaultSpec::default(), scale, 1));
    let stats = Arc::new(RequestStats::new());
    let ctx = SimContext {
        api: "test",
        faults: faults.clone(),
        stats: stats.clone(),
        scale,
        error_response: error_envelope,
        rate_limited_response: rate_limited,
        outage_response: outage,
    };
    let api = Router::new().route("/v1/items/{id}", get(get_item));
    let rewritten = tower::ServiceExt::map_request(
        server::instrument(api, ctx),
        |mut request: axum::extract::Request| {
            let trimmed = request.uri().path().trim_end_matches('/').to_owned();
            *request.uri_mut() = trimmed.parse().unwrap();
            request
        },
    );
    let app = Router::new()
        .merge(server::fault_control_routes(faults.clone()))
        .fallback_service(rewritten);
    let running = server::serve(app, 0).await.unwrap();
    faults.restart_clock();
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let url = |path: &str| format!("{}{path}", running.base_url());

    assert_eq!(
        client
            .get(url("/v1/items/7/"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    faults.script(Matcher::any(), ScriptedFault::Reset, 1);
    assert!(client.get(url("/v1/items/8/")).send().await.is_err());
    let control = client.get(url("/_sim/faults")).send().await.unwrap();
    assert_eq!(control.status(), 200);
    assert_eq!(stats.count("GET /v1/items/{id}", "200"), 1);
    assert_eq!(stats.count("GET /v1/items/{id}", "reset"), 1);
    assert_eq!(stats.requests_total(), 2);
}

#[tokio::test]
#[should_panic(expected = "runs at time scale 1 but its fault injector at 10")]
async fn a_context_whose_scales_disagree_is_refused() {
    let faults = Arc::new(FaultInjector::new(
        FaultSpec::default(),
        TimeScale::new(10.0).unwrap(),
        1,
    ));
    let ctx = SimContext {
        api: "test",
        faults,
        stats: Arc::new(RequestStats::new()),
        scale: TimeScale::real(),
        error_response: error_envelope,
        rate_limited_response: rate_limited,
        outage_response: outage,
    };
    let _ = server::spawn(Router::new(), ctx, 0).await;
}
