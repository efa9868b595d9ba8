//! Delivery Overview (`/delivery-overview/…`, beta) and event volume (`GET /events/volume`): the
//! reads an audit makes after a cut-over to see that migrated sources receive and migrated
//! destinations deliver.
//!
//! The figures derive from each destination's delivery totals in the model, read as events per
//! simulated day and spread evenly over the requested buckets (bucket `i` of a window holds the
//! integer part of the cumulative share, so buckets always add up to the window's total). What a
//! source received is what its busiest destination handled (delivered or not); sources with no
//! destination receive nothing. Nothing fails on ingest and nothing is filtered, so those
//! metrics are zero. Breakdowns by event name, type, app version or discard reason are not
//! modelled: `groupBy` is checked and answered with one undivided series.
//!
//! The documented windows are enforced with 422s on the offending parameter: MINUTE buckets
//! over at most 4 hours starting at most 48 hours ago, HOUR over at most 14 days starting at
//! most 30 days ago, DAY over at most 30 days starting at most 30 days ago, and an end after the
//! start.

use axum::extract::RawQuery;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};

use super::{Reply, Sim, ok};
use crate::sim::public::error::ApiError;
use crate::sim::public::paging::{Page, Params};
use crate::sim::public::store::PublicStore;

/// Bucket size, longest window and oldest start of a granularity (documented).
fn granularity(name: &str) -> Option<(Duration, Duration, Duration)> {
    match name {
        "MINUTE" => Some((
            Duration::minutes(1),
            Duration::hours(4),
            Duration::hours(48),
        )),
        "HOUR" => Some((Duration::hours(1), Duration::days(14), Duration::days(30))),
        "DAY" => Some((Duration::days(1), Duration::days(30), Duration::days(30))),
        _ => None,
    }
}

const DELIVERY_GROUPS: &[&str] = &[
    "eventName",
    "eventType",
    "discardReason",
    "appVersion",
    "subscriptionId",
    "activationId",
    "audienceId",
    "spaceId",
];
const VOLUME_GROUPS: &[&str] = &["eventName", "eventType", "source"];

/// A validated time window cut into buckets.
#[derive(Debug)]
struct Window {
    buckets: Vec<DateTime<Utc>>,
    bucket: Duration,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

fn time(params: &Params, name: &str) -> Result<DateTime<Utc>, ApiError> {
    let raw = params.get(name).unwrap_or_default();
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| ApiError::field(name, "must be an ISO 8601 date-time"))
}

fn window(params: &Params) -> Result<Window, ApiError> {
    let name = params.get("granularity").unwrap_or_default();
    let (bucket, longest, oldest) = granularity(name)
        .ok_or_else(|| ApiError::field("granularity", "must be one of [DAY, HOUR, MINUTE]"))?;
    let start = time(params, "startTime")?;
    let end = time(params, "endTime")?;
    if end <= start {
        return Err(ApiError::field("endTime", "must be after startTime"));
    }
    if end - start > longest {
        return Err(ApiError::field(
            "endTime",
            &format!(
                "must be at most {} hours after startTime for {name} granularity",
                longest.num_hours()
            ),
        ));
    }
    if start < Utc::now() - oldest {
        return Err(ApiError::field(
            "startTime",
            &format!(
                "must be at most {} hours in the past for {name} granularity",
                oldest.num_hours()
            ),
        ));
    }
    let mut buckets = Vec::new();
    let mut at = start.duration_trunc(bucket).unwrap_or(start);
    while at < end {
        buckets.push(at);
        at += bucket;
    }
    Ok(Window {
        buckets,
        bucket,
        start,
        end,
    })
}

fn check_groups(params: &Params, allowed: &[&str]) -> Result<(), ApiError> {
    for group in params.list("groupBy") {
        if !allowed.contains(&group.as_str()) {
            return Err(ApiError::field(
                "groupBy",
                &format!("must hold values of [{}]", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

/// `per_day` events spread over the window's buckets: `(time, count)` pairs and the total.
fn series(window: &Window, per_day: u64) -> (Vec<(String, u64)>, u64) {
    let day = Duration::days(1).num_seconds() as u128;
    let origin = window.start;
    let at = |t: DateTime<Utc>| -> u64 {
        let seconds = (t.max(origin) - origin).num_seconds().max(0) as u128;
        u64::try_from(u128::from(per_day) * seconds / day).unwrap_or(u64::MAX)
    };
    let mut points = Vec::new();
    for &bucket in &window.buckets {
        let from = bucket.max(window.start);
        let to = (bucket + window.bucket).min(window.end);
        points.push((
            bucket.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            at(to) - at(from),
        ));
    }
    (points, at(window.end))
}

/// Which figure a Delivery Overview step reports.
#[derive(Clone, Copy)]
enum Step {
    Received,
    FailedOnIngest,
    FilteredAtSource,
    FilteredAtDestination,
    FailedDelivery,
    SuccessfulDelivery,
}

/// One simulated retry in ten deliveries, as the delivery-metrics summary has it.
const RETRY_SHARE: u64 = 10;

fn per_day(store: &PublicStore, params: &Params, step: Step) -> Result<u64, ApiError> {
    let source_id = params.get("sourceId").unwrap_or_default();
    store.source(source_id)?;
    let destination = match step {
        Step::FilteredAtDestination | Step::FailedDelivery | Step::SuccessfulDelivery => {
            let id = params.get("destinationConfigId").unwrap_or_default();
            let dest = store
                .destinations
                .iter()
                .find(|d| d.id == id && d.source_id == source_id)
                .ok_or_else(|| {
                    ApiError::field(
                        "destinationConfigId",
                        "must be the id of a Destination connected to the Source",
                    )
                })?;
            Some(dest)
        }
        _ => None,
    };
    Ok(match step {
        Step::Received => store
            .destinations
            .iter()
            .filter(|d| d.source_id == source_id)
            .map(|d| d.delivery.delivered + d.delivery.not_delivered)
            .max()
            .unwrap_or(0),
        Step::FailedOnIngest | Step::FilteredAtSource | Step::FilteredAtDestination => 0,
        Step::FailedDelivery => destination.map_or(0, |d| d.delivery.not_delivered),
        Step::SuccessfulDelivery => destination.map_or(0, |d| d.delivery.delivered),
    })
}

fn delivery_overview(sim: &Sim, query: Option<&str>, step: Step) -> Reply {
    let params = Params::parse(query);
    let page = Page::from_params(&params)?;
    check_groups(&params, DELIVERY_GROUPS)?;
    let window = window(&params)?;
    let rate = per_day(&sim.store(), &params, step)?;
    let (points, total) = series(&window, rate);
    let retries = matches!(step, Step::SuccessfulDelivery);
    let datapoints: Vec<Value> = points
        .iter()
        .map(|(time, count)| {
            if retries {
                json!({"time": time, "count": count, "retryCount": count / RETRY_SHARE})
            } else {
                json!({"time": time, "count": count})
            }
        })
        .collect();
    let mut dataset = json!({"total": total, "series": datapoints});
    if retries {
        dataset["totalRetryCount"] = json!(total / RETRY_SHARE);
    }
    let mut data = page.render("dataset", 1, |_| dataset.clone());
    data["total"] = json!(total);
    ok(data)
}

pub async fn successfully_received(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    delivery_overview(&sim, q.as_deref(), Step::Received)
}

pub async fn failed_on_ingest(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    delivery_overview(&sim, q.as_deref(), Step::FailedOnIngest)
}

pub async fn filtered_at_source(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    delivery_overview(&sim, q.as_deref(), Step::FilteredAtSource)
}

pub async fn filtered_at_destination(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    delivery_overview(&sim, q.as_deref(), Step::FilteredAtDestination)
}

pub async fn failed_delivery(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    delivery_overview(&sim, q.as_deref(), Step::FailedDelivery)
}

pub async fn successful_delivery(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    delivery_overview(&sim, q.as_deref(), Step::SuccessfulDelivery)
}

/// `GET /events/volume`: events received per source (with `groupBy=source`) or for the whole
/// workspace, optionally restricted to `sourceId` values.
pub async fn events_volume(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let page = Page::from_params(&params)?;
    check_groups(&params, VOLUME_GROUPS)?;
    let window = window(&params)?;
    let wanted = params.list("sourceId");
    let by_source = params.list("groupBy").iter().any(|g| g == "source");
    let store = sim.store();
    let mut rates: Vec<(&crate::sim::public::store::Source, u64)> = Vec::new();
    for source in &store.sources {
        if !wanted.is_empty() && !wanted.contains(&source.id) {
            continue;
        }
        let received = store
            .destinations
            .iter()
            .filter(|d| d.source_id == source.id)
            .map(|d| d.delivery.delivered + d.delivery.not_delivered)
            .max()
            .unwrap_or(0);
        rates.push((source, received));
    }
    let render = |rate: u64, source: Option<&crate::sim::public::store::Source>| {
        let (points, total) = series(&window, rate);
        let mut entry = json!({
            "total": total,
            "series": points.iter().map(|(t, c)| json!({"time": t, "count": c})).collect::<Vec<_>>(),
        });
        if let Some(source) = source {
            entry["source"] = json!({"id": source.id, "name": source.name, "slug": source.slug});
        }
        entry
    };
    let mut query = json!({
        "workspaceId": store.workspace.id,
        "granularity": params.get("granularity"),
        "startTime": params.get("startTime"),
        "endTime": params.get("endTime"),
    });
    for name in [
        "groupBy",
        "sourceId",
        "eventName",
        "eventType",
        "appVersion",
    ] {
        let values = params.list(name);
        if !values.is_empty() {
            query[name] = json!(values);
        }
    }
    let mut data = if by_source {
        page.render("result", rates.len(), |i| {
            render(rates[i].1, Some(rates[i].0))
        })
    } else {
        let total: u64 = rates.iter().map(|(_, r)| r).sum();
        page.render("result", 1, |_| render(total, None))
    };
    data["path"] = json!("/events/volume");
    data["query"] = query;
    ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        Params::parse(Some(query))
    }

    fn recent(hours_ago: i64, span_hours: i64, granularity: &str) -> String {
        let start = Utc::now() - Duration::hours(hours_ago);
        let end = start + Duration::hours(span_hours);
        format!(
            "granularity={granularity}&startTime={}&endTime={}",
            start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
        .replace('+', "%2B")
    }

    #[test]
    fn buckets_add_up_to_the_total() {
        let w = window(&params(&recent(10, 5, "HOUR"))).unwrap();
        assert!((5..=6).contains(&w.buckets.len()));
        let (points, total) = series(&w, 24_000);
        assert_eq!(total, 5_000);
        assert_eq!(points.iter().map(|(_, c)| c).sum::<u64>(), total);
    }

    #[test]
    fn the_documented_windows_are_enforced() {
        assert!(window(&params(&recent(3, 4, "MINUTE"))).is_ok());
        let too_long = window(&params(&recent(6, 5, "MINUTE"))).unwrap_err();
        assert_eq!(too_long.errors[0].field.as_deref(), Some("endTime"));
        let too_old = window(&params(&recent(49, 1, "MINUTE"))).unwrap_err();
        assert_eq!(too_old.errors[0].field.as_deref(), Some("startTime"));
        assert!(window(&params(&recent(24 * 20, 24 * 15, "HOUR"))).is_err());
        assert!(window(&params(&recent(24 * 29, 24 * 29, "DAY"))).is_ok());
        assert!(window(&params(&recent(2, 1, "WEEK"))).is_err());
        assert!(window(&params("granularity=DAY&startTime=yesterday&endTime=today")).is_err());
    }
}
