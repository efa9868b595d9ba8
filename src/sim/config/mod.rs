//! The Config API v1beta simulator.
//!
//! Every endpoint of the eleven services a migration reads (workspaces, access tokens, both
//! catalogs, sources with schema config, destinations, destination filters, tracking plans with
//! source connections, IAM, functions, event delivery metrics) is served under `/v1beta/` with
//! the documented shapes: snake_case, slug-based `name`s, wrapped create/update bodies with
//! `update_mask` semantics, bare responses, `{}` on delete, `page_size`/`page_token`
//! pagination, `{"error", "code"}` errors, Bearer auth with read-only tokens refused on writes,
//! and 200 requests per minute per token. Paths are normalised before routing (trailing slashes
//! and doubled slashes, which real clients send, are tolerated), and request bodies on GET are
//! ignored except where a client is known to put parameters there.
//!
//! The simulator never imports the exporter's wire types; it is held to the references by its
//! own contract tests (`tests/config_sim.rs`).

pub mod error;
pub mod paging;
pub mod routes;
pub mod store;
pub mod wire;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use serde_json::{Value, json};

use self::error::{ApiError, Code};
use self::routes::{
    ConfigSim, catalog, destinations, filters, functions, iam, metrics, sources, tokens,
    tracking_plans, workspaces,
};
pub use self::store::{ConfigOptions, ConfigStore, Scope, Token};
use crate::sim::faults;
use crate::sim::ratelimit::{Admission, FixedWindow};
use crate::sim::server::{self, SimContext};
use crate::sim::stats::{RequestStats, stats_body};

/// Bodies larger than the largest documented cap (functions, 25 MB) plus headroom are refused
/// before a handler sees them.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024 * 1024;

/// Builds the simulator's shared handle from a store. `window` is the rate-limit window, one
/// minute divided by the time scale.
pub fn new_sim(
    store: ConfigStore,
    options: ConfigOptions,
    window: Duration,
    stats: Arc<RequestStats>,
) -> Arc<ConfigSim> {
    Arc::new(ConfigSim {
        limiter: FixedWindow::new(options.rate_limit_per_minute, window),
        store: Mutex::new(store),
        options,
        stats,
    })
}

/// The `/v1beta` routes with authentication. Rate limiting, faults and statistics are layered
/// on by [`crate::sim`] when the server is spawned.
pub fn api_router(sim: Arc<ConfigSim>) -> Router {
    const DST: &str = "/v1beta/workspaces/{ws}/sources/{src}/destinations/{dst}";
    const TP: &str = "/v1beta/workspaces/{ws}/tracking-plans/{tp}";
    let fns = "/v1beta/workspaces/{ws_id}/functions";
    Router::new()
        .route("/v1beta/workspaces", get(workspaces::list))
        .route("/v1beta/workspaces/{ws}", get(workspaces::get))
        .route(
            "/v1beta/access-tokens",
            get(tokens::list).post(tokens::create),
        )
        .route(
            "/v1beta/access-tokens/{n}",
            get(tokens::get).delete(tokens::delete),
        )
        .route("/v1beta/catalog/sources", get(catalog::list_sources))
        .route("/v1beta/catalog/sources/{slug}", get(catalog::get_source))
        .route(
            "/v1beta/catalog/destinations",
            get(catalog::list_destinations),
        )
        .route(
            "/v1beta/catalog/destinations/{slug}",
            get(catalog::get_destination),
        )
        .route(
            "/v1beta/workspaces/{ws}/sources",
            get(sources::list).post(sources::create),
        )
        .route(
            "/v1beta/workspaces/{ws}/sources/{src}",
            get(sources::get)
                .patch(sources::update)
                .delete(sources::delete),
        )
        .route(
            "/v1beta/workspaces/{ws}/sources/{src}/schema-config",
            get(sources::get_schema_config).patch(sources::update_schema_config),
        )
        .route(
            "/v1beta/workspaces/{ws}/sources/{src}/connected-warehouses",
            patch(sources::update_connected_warehouses),
        )
        .route(
            "/v1beta/workspaces/{ws}/sources/{src}/destinations",
            get(destinations::list).post(destinations::create),
        )
        .route(
            DST,
            get(destinations::get)
                .patch(destinations::update)
                .delete(destinations::delete),
        )
        .route(
            &format!("{DST}/filters"),
            get(filters::list).post(filters::create),
        )
        .route(
            &format!("{DST}/filters/{{id}}"),
            get(filters::get)
                .patch(filters::update)
                .delete(filters::delete),
        )
        .route(&format!("{DST}/metrics"), get(metrics::list))
        .route(&format!("{DST}/metrics/{{metric}}"), get(metrics::get))
        .route(&format!("{DST}/metrics:batchGet"), get(metrics::batch_get))
        .route(&format!("{DST}/metrics:getSummary"), get(metrics::summary))
        .route(
            "/v1beta/workspaces/{ws}/event-delivery-metrics:batchGetSummary",
            get(metrics::batch_summary),
        )
        .route(
            "/v1beta/workspaces/{ws}/tracking-plans",
            get(tracking_plans::list).post(tracking_plans::create),
        )
        .route(
            TP,
            get(tracking_plans::get)
                .put(tracking_plans::update)
                .delete(tracking_plans::delete),
        )
        .route(
            &format!("{TP}/source-connections"),
            get(tracking_plans::list_connections).post(tracking_plans::create_connection),
        )
        .route(
            &format!("{TP}/source-connections:batchCreateConnections"),
            post(tracking_plans::batch_create_connections),
        )
        .route(
            &format!("{TP}/source-connections/{{src}}"),
            delete(tracking_plans::delete_connection),
        )
        .route("/v1beta/workspaces/{ws}/roles", get(iam::list_roles))
        .route(
            "/v1beta/workspaces/{ws}/roles/{role}/policies",
            get(iam::list_policies).post(iam::create_policy),
        )
        .route(
            "/v1beta/workspaces/{ws}/roles/{role}/policies/{id}",
            get(iam::get_policy).delete(iam::delete_policy),
        )
        .route(
            "/v1beta/workspaces/{ws}/invites",
            get(iam::list_invites).post(iam::create_invite),
        )
        .route(
            "/v1beta/workspaces/{ws}/invites/{id}",
            get(iam::get_invite).delete(iam::delete_invite),
        )
        .route("/v1beta/workspaces/{ws}/users", get(iam::list_users))
        .route(fns, get(functions::list).post(functions::create))
        .route(
            &format!("{fns}/{{id}}"),
            get(functions::get)
                .patch(functions::update)
                .delete(functions::delete),
        )
        // One client deployed with GET; both are accepted.
        .route(
            &format!("{fns}/{{id}}/deploy"),
            post(functions::deploy).get(functions::deploy),
        )
        .route(
            &format!("{fns}/{{id}}/is-latest-version"),
            get(functions::is_latest_version),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(unroutable)
        .layer(middleware::from_fn_with_state(sim.clone(), authenticate))
        // Handlers enforce the documented per-resource caps (2 MB tracking plans, 25 MB
        // functions) with the API's own error; this outer bound only protects the process.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(sim)
}

async fn method_not_allowed() -> Response {
    ApiError::new(Code::Unimplemented, "Method not supported").into_response()
}

async fn unroutable(State(sim): State<Arc<ConfigSim>>) -> Response {
    if sim.options.plain_text_unroutable {
        outage_response()
    } else {
        ApiError::new(Code::NotFound, "Not Found").into_response()
    }
}

/// The gateway's answer for URLs it cannot route and for outages: plain text, not JSON.
pub fn outage_response() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::CONTENT_TYPE, "text/plain")],
        "upstream connect error or disconnect/reset before headers",
    )
        .into_response()
}

/// The Config API's error body for an HTTP status raised without a handler (injected faults).
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let code = Code::for_status(status);
    (
        status,
        axum::Json(json!({"error": message, "code": code.grpc()})),
    )
        .into_response()
}

/// A 429 with the documented code 8 and a `Retry-After` in whole seconds (at least one).
pub fn rate_limited_response(retry_after: std::time::Duration) -> Response {
    let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut response = ApiError::new(
        Code::ResourceExhausted,
        "rate limit exceeded: 200 requests per minute",
    )
    .into_response();
    if let Ok(value) = seconds.to_string().parse() {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Who is calling, from the Authorization header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A bearer token the simulator knows, with its scope.
    Token(String, Scope),
    /// HTTP Basic credentials, accepted only to create access tokens.
    Basic,
}

fn caller(store: &ConfigStore, headers: &HeaderMap) -> Option<Caller> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if let Some(token) = value.strip_prefix("Bearer ") {
        let token = token.trim();
        return store
            .scope_of(token)
            .map(|scope| Caller::Token(token.to_owned(), scope));
    }
    let basic = value.strip_prefix("Basic ")?;
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(basic.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    (!user.is_empty() && !password.is_empty()).then_some(Caller::Basic)
}

/// Bearer authentication and scopes: 401 code 16 without a known token, 403 code 7 for a write
/// with a read-only token. The caller is attached to the request for the rate limiter.
async fn authenticate(State(sim): State<Arc<ConfigSim>>, request: Request, next: Next) -> Response {
    let who = caller(&sim.store(), request.headers());
    let creating_token =
        request.method() == Method::POST && request.uri().path() == "/v1beta/access-tokens";
    match who {
        None => {
            return ApiError::new(Code::Unauthenticated, "missing or invalid access token")
                .into_response();
        }
        Some(Caller::Basic) if !creating_token => {
            return ApiError::new(
                Code::Unauthenticated,
                "Basic credentials are only accepted to create access tokens",
            )
            .into_response();
        }
        Some(Caller::Token(_, Scope::ReadOnly)) if faults::is_write(request.method()) => {
            return ApiError::new(Code::PermissionDenied, "insufficient scope").into_response();
        }
        Some(_) => {}
    }
    let key = match &who {
        Some(Caller::Token(token, _)) => token.as_str(),
        _ => "basic",
    };
    if let Admission::Limited { retry_after, .. } = sim.limiter.check(key) {
        return rate_limited_response(retry_after);
    }
    next.run(request).await
}

/// The whole simulator as one service: inspection routes under `/_sim/`, and the API behind
/// path normalisation (which must run before routing, hence the service wrapper).
///
/// The fault and statistics layer wraps the API router itself (`server::instrument`): that is
/// where route templates are known and where faults must strike before authentication.
pub fn app(sim: Arc<ConfigSim>, ctx: SimContext) -> Router {
    let faults = ctx.faults.clone();
    let api = server::instrument(api_router(sim.clone()), ctx);
    let inspection = Router::new()
        .route("/_sim/state", get(sim_state))
        .route("/_sim/stats", get(sim_stats))
        .with_state(sim);
    server::assemble(api, inspection, faults)
}

/// `GET /_sim/stats`: resource counts per kind, duplicate natural keys, and the request
/// counters (per endpoint and status, 429s sent, faults injected, writes).
async fn sim_stats(State(sim): State<Arc<ConfigSim>>) -> axum::Json<Value> {
    let (counts, total, duplicates) = {
        let store = sim.store();
        (
            store.counts(),
            store.resources_total(),
            store.duplicate_natural_keys(),
        )
    };
    let mut body = stats_body("config", &counts, total, &duplicates, &sim.stats);
    // One window per token for every route, so a benchmark can tell the least time the calls
    // it counted need.
    body["rate_limits"] = serde_json::json!({
        "default": {"limit": sim.limiter.limit(), "window_seconds": 60},
        "endpoints": {},
    });
    axum::Json(body)
}

/// `GET /_sim/state`: every object in wire form, with secrets in clear.
async fn sim_state(State(sim): State<Arc<ConfigSim>>) -> axum::Json<Value> {
    axum::Json(sim.store().state_json())
}
