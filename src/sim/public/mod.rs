//! The Public API simulator.
//!
//! Serves the operations a Config API migration reads or writes (workspace, both catalogs,
//! sources with schema settings, labels and write keys, connected destinations, destinations and
//! their delivery metrics, destination filters under the singular `/destination/`, tracking
//! plans with rules and sources, IAM users, invites, groups (members under the singular
//! `/group/` for replace and remove), roles and permissions, functions and deploy, labels,
//! regulations, and the Delivery Overview and event-volume reads of an audit) with the
//! documented conventions:
//! - every success body is `{"data": …}` and every error body `{"errors": […]}`, camelCase,
//!   opaque ids; 201 only for the creates that declare it (sources, labels, invites), 200
//!   elsewhere; deletes and relationship changes answer `{"data": {"status": "SUCCESS"}}`;
//! - versioned media types: `Accept` picks `application/vnd.segment.v1+json`, `v1beta` or
//!   `v1alpha` (or, for `application/json`, `*/*` or no header, the most stable version the
//!   operation has), the answer carries the chosen type, and a version the operation lacks is
//!   406 (INFERRED); request bodies may be sent as any version the operation accepts or as plain
//!   `application/json`, and are validated against that version's schema (`schema.rs`), every
//!   problem reported as a 422 `input-validation` error with its field path;
//! - Bearer authentication (401), a per-token default rate limit plus the documented
//!   per-endpoint limits (`limits.rs`), `X-RateLimit-Consumed`, `-Remaining` and `-Reset`
//!   (RFC 5322 date) on every 2xx, 429 with `Retry-After` and the documented `msBeforeNext` body;
//! - payload caps: 2 MB on tracking-plan routes and 25 MB elsewhere, 413 `PayloadLimitError`.
//!
//! One gateway layer does authentication, rate limiting, content negotiation, body limits and
//! request validation before any handler runs, so handlers see only well-formed input and check
//! what the schema cannot (references between objects, documented limits, uniqueness).
//! The simulator never imports the importer's wire types, nor the Config simulator's; it is held
//! to the official schema by its own contract tests (`tests/public_sim.rs`).

pub mod error;
pub mod limits;
pub mod paging;
pub mod routes;
pub mod schema;
pub mod seed;
pub mod store;
pub mod wire;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use self::error::{ApiError, ErrorItem};
use self::limits::RateLimits;
use self::routes::{
    Call, PublicSim, catalog, destinations, filters, functions, iam, labels, observability,
    regulations, sources, tracking_plans, workspace,
};
use self::schema::{Operation, SchemaDoc};
pub use self::seed::Target;
pub use self::store::PublicStore;
use crate::sim::clock::TimeScale;
use crate::sim::ratelimit::Admission;
use crate::sim::server::{self, SimContext};
use crate::sim::stats::{RequestStats, stats_body};

/// The documented general payload cap (25 MB, `26,214,400` bytes).
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;
/// The documented cap on tracking-plan requests ("about 2 MB").
pub const MAX_TRACKING_PLAN_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Behaviours the references leave open, as switches (see docs/simulators.md).
#[derive(Debug, Clone)]
pub struct PublicOptions {
    /// Requests per minute per token on routes without a documented limit (unpublished;
    /// 1,000 by default).
    pub rate_limit_per_minute: u32,
    /// Refuse destination settings the catalog item does not list, with a 422 on
    /// `settings.<name>` (INFERRED; the schema leaves settings free-form).
    pub reject_unknown_settings: bool,
}

impl Default for PublicOptions {
    fn default() -> Self {
        Self {
            rate_limit_per_minute: limits::DEFAULT_PER_MINUTE,
            reject_unknown_settings: true,
        }
    }
}

/// Builds the simulator's shared handle. `scale` shrinks the rate-limit windows.
pub fn new_sim(
    store: PublicStore,
    token: String,
    options: PublicOptions,
    scale: TimeScale,
    stats: Arc<RequestStats>,
) -> Arc<PublicSim> {
    Arc::new(PublicSim {
        limits: RateLimits::new(options.rate_limit_per_minute, scale),
        store: Mutex::new(store),
        token,
        options,
        stats,
        schema: SchemaDoc::embedded(),
        scale,
    })
}

/// The API routes behind the gateway layer. Faults and statistics are layered on by
/// [`app`].
pub fn api_router(sim: Arc<PublicSim>) -> Router {
    const SRC: &str = "/sources/{sourceId}";
    const DST: &str = "/destinations/{destinationId}";
    const FLT: &str = "/destination/{destinationId}/filters";
    const TP: &str = "/tracking-plans/{trackingPlanId}";
    Router::new()
        .route("/", get(workspace::get))
        .route("/echo", get(workspace::echo))
        .route("/catalog/sources", get(catalog::list_sources))
        .route(
            "/catalog/sources/{sourceMetadataId}",
            get(catalog::get_source),
        )
        .route("/catalog/destinations", get(catalog::list_destinations))
        .route(
            "/catalog/destinations/{destinationMetadataId}",
            get(catalog::get_destination),
        )
        .route("/sources", get(sources::list).post(sources::create))
        .route(
            SRC,
            get(sources::get)
                .patch(sources::update)
                .delete(sources::delete),
        )
        .route(
            &format!("{SRC}/connected-destinations"),
            get(sources::connected_destinations),
        )
        .route(
            &format!("{SRC}/connected-warehouses"),
            get(sources::connected_warehouses),
        )
        .route(
            &format!("{SRC}/labels"),
            post(sources::add_labels).put(sources::replace_labels),
        )
        .route(
            &format!("{SRC}/settings"),
            get(sources::get_settings).patch(sources::update_settings),
        )
        .route(&format!("{SRC}/writekey"), post(sources::create_write_key))
        .route(
            &format!("{SRC}/writekey/{{writeKey}}"),
            axum::routing::delete(sources::remove_write_key),
        )
        .route(
            "/destinations",
            get(destinations::list).post(destinations::create),
        )
        .route(
            DST,
            get(destinations::get)
                .patch(destinations::update)
                .delete(destinations::delete),
        )
        .route(
            &format!("{DST}/delivery-metrics"),
            get(destinations::delivery_metrics),
        )
        .route(
            "/delivery-overview/successfully-received",
            get(observability::successfully_received),
        )
        .route(
            "/delivery-overview/failed-on-ingest",
            get(observability::failed_on_ingest),
        )
        .route(
            "/delivery-overview/filtered-at-source",
            get(observability::filtered_at_source),
        )
        .route(
            "/delivery-overview/filtered-at-destination",
            get(observability::filtered_at_destination),
        )
        .route(
            "/delivery-overview/failed-delivery",
            get(observability::failed_delivery),
        )
        .route(
            "/delivery-overview/successful-delivery",
            get(observability::successful_delivery),
        )
        .route("/events/volume", get(observability::events_volume))
        .route(FLT, get(filters::list).post(filters::create))
        .route(
            &format!("{FLT}/{{filterId}}"),
            get(filters::get)
                .patch(filters::update)
                .delete(filters::delete),
        )
        .route(
            "/tracking-plans",
            get(tracking_plans::list).post(tracking_plans::create),
        )
        .route(
            TP,
            get(tracking_plans::get)
                .patch(tracking_plans::update)
                .delete(tracking_plans::delete),
        )
        .route(
            &format!("{TP}/rules"),
            get(tracking_plans::list_rules)
                .put(tracking_plans::replace_rules)
                .patch(tracking_plans::upsert_rules)
                .delete(tracking_plans::remove_rules),
        )
        .route(
            &format!("{TP}/sources"),
            get(tracking_plans::list_sources)
                .post(tracking_plans::add_source)
                .delete(tracking_plans::remove_source),
        )
        .route("/users", get(iam::list_users).delete(iam::delete_users))
        .route("/users/{userId}", get(iam::get_user))
        .route("/users/{userId}/groups", get(iam::list_user_groups))
        .route(
            "/users/{userId}/permissions",
            post(iam::add_user_permissions).put(iam::replace_user_permissions),
        )
        .route(
            "/invites",
            get(iam::list_invites)
                .post(iam::create_invites)
                .delete(iam::delete_invites),
        )
        .route("/roles", get(iam::list_roles))
        .route("/groups", get(iam::list_groups).post(iam::create_group))
        .route(
            "/groups/{userGroupId}",
            get(iam::get_group)
                .patch(iam::update_group)
                .delete(iam::delete_group),
        )
        .route(
            "/groups/{userGroupId}/invites",
            get(iam::list_group_invites),
        )
        .route(
            "/groups/{userGroupId}/permissions",
            post(iam::add_group_permissions).put(iam::replace_group_permissions),
        )
        .route(
            "/groups/{userGroupId}/users",
            get(iam::list_group_users).post(iam::add_group_users),
        )
        .route(
            "/group/{userGroupId}/users",
            axum::routing::put(iam::replace_group_users).delete(iam::remove_group_users),
        )
        .route("/functions", get(functions::list).post(functions::create))
        .route(
            "/functions/{functionId}",
            get(functions::get)
                .patch(functions::update)
                .delete(functions::delete),
        )
        .route("/functions/{functionId}/deploy", post(functions::deploy))
        .route("/labels", get(labels::list).post(labels::create))
        .route(
            "/labels/{key}/{value}",
            axum::routing::delete(labels::delete),
        )
        .route(
            "/regulations",
            get(regulations::list).post(regulations::create_for_workspace),
        )
        .route("/regulations/{regulateId}", get(regulations::get))
        .route(
            "/regulations/sources/{sourceId}",
            get(regulations::list_for_source).post(regulations::create_for_source),
        )
        .route(
            "/regulations/cloudsources/{sourceId}",
            post(regulations::create_for_cloud_source),
        )
        .route("/suppressions", get(regulations::list_suppressions))
        .method_not_allowed_fallback(not_found)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(sim.clone(), gateway))
        .with_state(sim)
}

async fn not_found() -> Response {
    ApiError::not_found().into_response()
}

/// The Public API's error body for a status raised without a handler (injected faults).
pub fn error_response(status: StatusCode, message: &str) -> Response {
    let kind = if status.is_server_error() {
        "ServerError"
    } else {
        "RequestError"
    };
    ApiError::new(status, kind, message).into_response()
}

/// The 429 of the rate-limit guide: `Retry-After` in whole seconds (at least one) and
/// `data.msBeforeNext`, with the window's consumed points.
pub fn rate_limited(retry_after: Duration, consumed: u32) -> Response {
    let ms = u64::try_from(retry_after.as_micros().div_ceil(1000)).unwrap_or(u64::MAX);
    let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u64;
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RequestError",
        "Too many requests",
    );
    error.errors[0].data = Some(json!({
        "remainingPoints": 0,
        "msBeforeNext": ms,
        "consumedPoints": consumed,
    }));
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// A 429 not decided by the limiter (storms, scripted faults): nothing counted.
pub fn rate_limited_response(retry_after: Duration) -> Response {
    rate_limited(retry_after, 0)
}

/// The answer during an outage: a JSON 503 (the Public API's gateway speaks its envelope;
/// INFERRED).
pub fn outage_response() -> Response {
    error_response(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))?;
    Some(token.trim())
}

fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

const VENDOR_PREFIX: &str = "application/vnd.segment.";

/// Picks the answer's media type from `Accept` and the operation's versions (most stable
/// first). `application/json`, `*/*` and no header all get the most stable version, as the
/// versioning guide says; `application/json` is echoed back where the operation lists it.
pub fn negotiate(accept: Option<&str>, available: &[String]) -> Result<String, ApiError> {
    let most_stable = available
        .iter()
        .find(|m| m.starts_with(VENDOR_PREFIX))
        .or_else(|| available.first())
        .cloned()
        .unwrap_or_else(|| "application/json".into());
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Ok(most_stable);
    };
    let mut asked_for_vendor = false;
    for entry in accept.split(',').map(media_type) {
        if entry.starts_with(VENDOR_PREFIX) {
            asked_for_vendor = true;
            if available.contains(&entry) {
                return Ok(entry);
            }
        } else if entry == "application/json" {
            return Ok(if available.iter().any(|m| m == "application/json") {
                entry
            } else {
                most_stable
            });
        } else if entry == "*/*" || entry == "application/*" {
            return Ok(most_stable);
        }
    }
    if asked_for_vendor {
        return Err(ApiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "NotAcceptable",
            format!(
                "This endpoint is available as {}",
                available
                    .iter()
                    .filter(|m| m.starts_with(VENDOR_PREFIX))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    Ok(most_stable)
}

/// The request body schema for a `Content-Type`: the version's own, or for plain JSON (or no
/// type) the operation's `application/json` entry, else its most stable one.
fn request_schema<'a>(
    op: &'a Operation,
    content_type: Option<&str>,
) -> Result<&'a Value, ApiError> {
    let wanted = content_type.map(media_type).unwrap_or_default();
    if (wanted.starts_with(VENDOR_PREFIX) || wanted == "application/json")
        && let Some((_, schema)) = op.request.iter().find(|(m, _)| *m == wanted)
    {
        return Ok(schema);
    }
    if wanted.is_empty() || wanted == "application/json" {
        let plain = op.request.iter().find(|(m, _)| m == "application/json");
        let first_vendor = op
            .request
            .iter()
            .find(|(m, _)| m.starts_with(VENDOR_PREFIX));
        if let Some((_, schema)) = plain.or(first_vendor) {
            return Ok(schema);
        }
    }
    Err(ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UnsupportedMediaType",
        format!(
            "Content-Type `{wanted}` is not accepted here; use one of {}",
            op.request
                .iter()
                .map(|(m, _)| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

fn rate_limit_headers(response: &mut Response, admission: Admission) {
    if let Admission::Allowed {
        consumed,
        remaining,
        reset_in,
    } = admission
    {
        let reset = httpdate::fmt_http_date(SystemTime::now() + reset_in);
        let headers = response.headers_mut();
        headers.insert("x-ratelimit-consumed", HeaderValue::from(consumed));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        if let Ok(value) = HeaderValue::from_str(&reset) {
            headers.insert("x-ratelimit-reset", value);
        }
    }
}

/// Authentication, rate limits, content negotiation, body caps and request validation, in the
/// order a gateway applies them, then the handler; 2xx answers get the negotiated media type and
/// the rate-limit headers.
async fn gateway(State(sim): State<Arc<PublicSim>>, request: Request, next: Next) -> Response {
    let Some(token) = bearer(request.headers()).filter(|t| *t == sim.token) else {
        return ApiError::unauthorized().into_response();
    };
    let token = token.to_owned();
    let method = request.method().clone();
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let admission = sim.limits.check(&token, &method, template.as_deref());
    if let Admission::Limited {
        retry_after,
        consumed,
    } = admission
    {
        return rate_limited(retry_after, consumed);
    }
    let Some(op) = template
        .as_deref()
        .and_then(|t| sim.schema.operation(method.as_str(), t))
    else {
        // Unroutable paths and methods: the router's own 404.
        return next.run(request).await;
    };
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let response_media = match negotiate(accept, &op.accept) {
        Ok(media) => media,
        Err(error) => return error.into_response(),
    };
    if let Some(missing) = missing_query(op, request.uri().query()) {
        return ApiError::required(&missing).into_response();
    }
    let (mut parts, body) = request.into_parts();
    let (limit, limit_text) = if parts.uri.path().starts_with("/tracking-plans") {
        (MAX_TRACKING_PLAN_BODY_BYTES, "2mb")
    } else {
        (MAX_BODY_BYTES, "25mb")
    };
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return ApiError::payload_too_large(limit_text).into_response();
    };
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = if op.request.is_empty() {
        // Operations without a body ignore whatever is sent (`POST …/deploy` with `{}`).
        Value::Null
    } else {
        match parse_and_validate(&sim, op, content_type.as_deref(), &bytes) {
            Ok(body) => body,
            Err(error) => return error.into_response(),
        }
    };
    parts.extensions.insert(Call {
        body,
        request_media: content_type.map(|c| media_type(&c)),
    });
    let request = Request::from_parts(parts, axum::body::Body::empty());
    let mut response = next.run(request).await;
    if response.status().is_success() {
        if let Ok(value) = HeaderValue::from_str(&response_media) {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        rate_limit_headers(&mut response, admission);
    }
    response
}

/// The first required query parameter the request lacks. Arrays and objects count in every
/// spelling clients use (`emails=`, `emails[]=`, `rules[0][type]=`, `rules.0[type]=`).
fn missing_query(op: &Operation, query: Option<&str>) -> Option<String> {
    let params = paging::Params::parse(query);
    op.required_query
        .iter()
        .find(|name| {
            !params.keys().any(|key| {
                key.strip_prefix(name.as_str()).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with('[') || rest.starts_with('.')
                })
            })
        })
        .cloned()
}

fn parse_and_validate(
    sim: &PublicSim,
    op: &Operation,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<Value, ApiError> {
    let schema = request_schema(op, content_type)?;
    let body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        if !op.request_required {
            return Ok(Value::Null);
        }
        json!({})
    } else {
        serde_json::from_slice(bytes).map_err(|e| {
            ApiError::validation(vec![ErrorItem {
                kind: "input-validation".into(),
                message: format!("The request body is not valid JSON: {e}"),
                field: None,
                data: None,
            }])
        })?
    };
    let errors = sim.schema.validate(schema, &body, "");
    if errors.is_empty() {
        Ok(body)
    } else {
        Err(ApiError::validation(errors))
    }
}

/// The whole simulator as one service: inspection routes under `/_sim/`, and the API behind
/// path normalisation, with the fault and statistics layer on the API router itself (see
/// [`server`]).
pub fn app(sim: Arc<PublicSim>, ctx: SimContext) -> Router {
    let faults = ctx.faults.clone();
    let api = server::instrument(api_router(sim.clone()), ctx);
    let inspection = Router::new()
        .route("/_sim/state", get(sim_state))
        .route("/_sim/stats", get(sim_stats))
        .with_state(sim);
    server::assemble(api, inspection, faults)
}

/// `GET /_sim/stats`: resource counts per kind, duplicate natural keys, and the request
/// counters.
async fn sim_stats(State(sim): State<Arc<PublicSim>>) -> axum::Json<Value> {
    let (counts, duplicates) = {
        let store = sim.store();
        (store.counts(), store.duplicate_natural_keys())
    };
    // The workspace's own objects: the catalogs are global, rules live inside plans, and roles
    // are built in.
    let total: usize = counts
        .iter()
        .filter(|(kind, _)| {
            !kind.starts_with("catalog_") && !matches!(**kind, "tracking_plan_rules" | "roles")
        })
        .map(|(_, n)| n)
        .sum();
    let mut body = stats_body("public", &counts, total, &duplicates, &sim.stats);
    body["rate_limits"] = sim.limits.describe();
    axum::Json(body)
}

/// `GET /_sim/state`: every object in wire form, plus the secrets in clear.
async fn sim_state(State(sim): State<Arc<PublicSim>>) -> axum::Json<Value> {
    axum::Json(sim.store().state_json())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn negotiation_follows_the_versioning_guide() {
        let all = versions(&[
            "application/vnd.segment.v1+json",
            "application/json",
            "application/vnd.segment.v1beta+json",
            "application/vnd.segment.v1alpha+json",
        ]);
        assert_eq!(
            negotiate(None, &all).unwrap(),
            "application/vnd.segment.v1+json"
        );
        assert_eq!(
            negotiate(Some("*/*"), &all).unwrap(),
            "application/vnd.segment.v1+json"
        );
        assert_eq!(
            negotiate(Some("application/json"), &all).unwrap(),
            "application/json"
        );
        assert_eq!(
            negotiate(Some("application/vnd.segment.v1beta+json"), &all).unwrap(),
            "application/vnd.segment.v1beta+json"
        );
        let alpha = versions(&["application/vnd.segment.v1alpha+json"]);
        assert_eq!(
            negotiate(Some("application/json"), &alpha).unwrap(),
            "application/vnd.segment.v1alpha+json"
        );
        let err = negotiate(Some("application/vnd.segment.v1+json"), &alpha).unwrap_err();
        assert_eq!(err.status, StatusCode::NOT_ACCEPTABLE);
    }

    #[test]
    fn the_429_body_has_ms_before_next_and_retry_after() {
        let response = rate_limited(Duration::from_millis(1500), 61);
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
    }
}
