//! Event delivery metrics. Only the paths survive in public material; every response shape here
//! is INFERRED (docs/simulators.md) and follows the reference's suggestion:
//!
//! - `GET {dst}/metrics` → `{"metrics": [TimeSeries]}` for every metric name;
//! - `GET {dst}/metrics/{metric}` → `TimeSeries` `{"name", "datapoints": [{"time", "value"}]}`;
//! - `GET {dst}/metrics:batchGet?names=…` → `{"metrics": [TimeSeries]}`;
//! - `GET {dst}/metrics:getSummary` → `{"summary": {"name", "delivered", "not_delivered",
//!   "p95_latency_ms"}}`;
//! - `GET /workspaces/{ws}/event-delivery-metrics:batchGetSummary?names=…` →
//!   `{"summaries": [Summary]}`.
//!
//! The time window is `start_time`/`end_time` (RFC 3339) with `granularity` `MINUTE`, `HOUR`
//! (default) or `DAY`; without one it is the last 24 hours. Parameters may also come as a JSON
//! body on GET, as one client sent them. Figures are spread evenly over the window so that the
//! series always sums to the summary.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};

use super::{Reply, Sim};
use crate::sim::config::error::{ApiError, ApiResult};
use crate::sim::config::paging::Params;
use crate::sim::config::store;
use crate::sim::config::wire;
use crate::sim::workspace::Destination;

/// The metric names served, as seen in the one client that listed them.
pub const METRICS: &[&str] = &["successes", "retried_502", "time_to_success_p95"];

/// The summary object of one destination (also used by `/_sim/state`).
pub fn summary_json(dest_name: &str, dest: &Destination) -> Value {
    json!({
        "name": dest_name,
        "delivered": dest.delivery.delivered,
        "not_delivered": dest.delivery.not_delivered,
        "p95_latency_ms": dest.delivery.p95_latency_ms,
    })
}

struct Window {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: Duration,
}

/// Query parameters, or the same keys in a JSON body.
fn params(query: Option<&str>, body: &Bytes) -> Params {
    let mut params = Params::parse(query);
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        let mut pairs: Vec<String> = Vec::new();
        for (key, value) in map {
            let values = match value {
                Value::Array(items) => items,
                other => vec![other],
            };
            for v in values {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                pairs.push(format!(
                    "{}={}",
                    key,
                    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>()
                ));
            }
        }
        if !pairs.is_empty() {
            let joined = [query.unwrap_or(""), &pairs.join("&")].join("&");
            params = Params::parse(Some(&joined));
        }
    }
    params
}

fn window(params: &Params) -> ApiResult<Window> {
    let step = match params.get("granularity", "granularity").unwrap_or("HOUR") {
        "MINUTE" => Duration::minutes(1),
        "HOUR" => Duration::hours(1),
        "DAY" => Duration::days(1),
        other => {
            return Err(ApiError::invalid(format!(
                "`granularity` must be MINUTE, HOUR or DAY, not `{other}`"
            )));
        }
    };
    let parse = |key: &str, camel: &str| -> ApiResult<Option<DateTime<Utc>>> {
        params
            .get(key, camel)
            .map(|raw| {
                DateTime::parse_from_rfc3339(raw)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| ApiError::invalid(format!("`{key}` must be an RFC 3339 time")))
            })
            .transpose()
    };
    let end = match parse("end_time", "endTime")? {
        Some(t) => t,
        None => Utc::now()
            .duration_trunc(step)
            .unwrap_or_else(|_| Utc::now()),
    };
    let start = parse("start_time", "startTime")?.unwrap_or(end - Duration::hours(24));
    if start >= end {
        return Err(ApiError::invalid("`start_time` must be before `end_time`"));
    }
    if (end - start).num_seconds() / step.num_seconds() > 10_000 {
        return Err(ApiError::invalid(
            "the window holds more than 10,000 data points",
        ));
    }
    Ok(Window { start, end, step })
}

fn series(dest_name: &str, metric: &str, dest: &Destination, window: &Window) -> ApiResult<Value> {
    let total = match metric {
        "successes" => dest.delivery.delivered,
        "retried_502" => dest.delivery.not_delivered,
        "time_to_success_p95" => dest.delivery.p95_latency_ms,
        other => {
            return Err(ApiError::not_found(format!(
                "metric `{dest_name}/metrics/{other}`"
            )));
        }
    };
    let mut times = Vec::new();
    let mut t = window.start;
    while t < window.end {
        times.push(t);
        t += window.step;
    }
    let n = times.len() as u64;
    let datapoints: Vec<Value> = times
        .iter()
        .enumerate()
        .map(|(i, time)| {
            // Latency is a level, not a count: every point carries it. Counts are split so
            // that they sum exactly to the total.
            let value = if metric == "time_to_success_p95" {
                total
            } else {
                total / n + u64::from((i as u64) < total % n)
            };
            json!({"time": time.format("%Y-%m-%dT%H:%M:%SZ").to_string(), "value": value})
        })
        .collect();
    Ok(json!({"name": format!("{dest_name}/metrics/{metric}"), "datapoints": datapoints}))
}

type DestPath = Path<(String, String, String)>;

pub async fn list(
    sim: Sim,
    Path((ws, src, dst)): DestPath,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let window = window(&params(q.as_deref(), &body))?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    let (_, dest) = store::destination(ws, &src, &dst)?;
    let name = wire::destination_name(ws, &src, &dst);
    let metrics = METRICS
        .iter()
        .map(|m| series(&name, m, dest, &window))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(json!({"metrics": metrics})))
}

pub async fn get(
    sim: Sim,
    Path((ws, src, dst, metric)): Path<(String, String, String, String)>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let window = window(&params(q.as_deref(), &body))?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    let (_, dest) = store::destination(ws, &src, &dst)?;
    let name = wire::destination_name(ws, &src, &dst);
    Ok(Json(series(&name, &metric, dest, &window)?))
}

pub async fn batch_get(
    sim: Sim,
    Path((ws, src, dst)): DestPath,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let params = params(q.as_deref(), &body);
    let window = window(&params)?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    let (_, dest) = store::destination(ws, &src, &dst)?;
    let name = wire::destination_name(ws, &src, &dst);
    let prefix = format!("{name}/metrics/");
    let metrics = params
        .all("names")
        .into_iter()
        .map(|full| {
            let metric = full.strip_prefix(&prefix).ok_or_else(|| {
                ApiError::invalid(format!("`{full}` is not a metric of `{name}`"))
            })?;
            series(&name, metric, dest, &window)
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(json!({"metrics": metrics})))
}

pub async fn summary(
    sim: Sim,
    Path((ws, src, dst)): DestPath,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    window(&params(q.as_deref(), &body))?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    let (_, dest) = store::destination(ws, &src, &dst)?;
    let name = wire::destination_name(ws, &src, &dst);
    Ok(Json(json!({"summary": summary_json(&name, dest)})))
}

pub async fn batch_summary(
    sim: Sim,
    Path(ws): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    let params = params(q.as_deref(), &body);
    window(&params)?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    let prefix = format!("{}/sources/", wire::workspace_name(ws));
    let summaries = params
        .all("names")
        .into_iter()
        .map(|full| {
            let parts: Vec<&str> = full
                .strip_prefix(&prefix)
                .map(|rest| rest.split('/').collect())
                .unwrap_or_default();
            let [src, "destinations", dst] = parts.as_slice() else {
                return Err(ApiError::invalid(format!(
                    "`{full}` is not a destination name"
                )));
            };
            let (_, dest) = store::destination(ws, src, dst)?;
            Ok(summary_json(full, dest))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(Json(json!({"summaries": summaries})))
}
