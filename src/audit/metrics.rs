//! Delivery after cut-over (`--with-metrics`): each migrated destination's Public delivery
//! summary (`GET /destinations/{id}/delivery-metrics`, beta) against the baseline the export
//! stored from the Config API (`export --with-metrics`).
//!
//! What is flagged, and why:
//! - A destination that delivered nothing in the target's reporting window while the source
//!   delivered something is `differ` (`delivers_nothing`): after cut-over, traffic should flow.
//!   One that delivered nothing on both sides is `match`, still marked `delivers_nothing`, since
//!   an idle destination may be idle by design.
//! - A failure rate (`expired` + `discarded` over all attempts) more than
//!   [`FAILURE_RATE_MARGIN`] above the baseline's is `differ`: the migration notes say failures
//!   should stay near the old rate, and five points is well above the noise of a day's window
//!   while small enough to catch a wrong credential that fails part of the traffic.
//! - Metrics that cannot be read (beta endpoint refused, no such destination) are
//!   `not-comparable` with the reason; they never stop the audit.
//!
//! The Delivery Overview endpoints (`/delivery-overview/*`) are not used: they answer per
//! source and step with time series, and the summary endpoint already gives the per-destination
//! totals the Config baseline has.

use serde_json::Value;

use super::report::{DeliveryResult, Status};
use crate::mapping::DeliveryBaseline;
use crate::progress::Reporter;
use crate::public_api::PublicClient;

/// How far above the baseline's failure rate the target's may go (fraction of attempts).
pub const FAILURE_RATE_MARGIN: f64 = 0.05;

/// Delivered and not delivered, from a `deliveryMetricsSummary`.
pub fn parse_summary(summary: &Value) -> Option<(u64, u64)> {
    let metrics = summary.get("metrics")?.as_array()?;
    let total = |name: &str| {
        metrics
            .iter()
            .find(|m| m.get("metricName").and_then(Value::as_str) == Some(name))
            .and_then(|m| m.get("total"))
            .and_then(Value::as_u64)
    };
    let delivered = total("successes")?;
    let failed = total("expired").unwrap_or(0) + total("discarded").unwrap_or(0);
    Some((delivered, failed))
}

fn failure_rate(delivered: u64, failed: u64) -> f64 {
    let attempts = delivered + failed;
    if attempts == 0 {
        0.0
    } else {
        failed as f64 / attempts as f64
    }
}

/// One migrated destination to check.
#[derive(Debug, Clone)]
pub struct Migrated {
    pub config_name: String,
    pub public_id: String,
    pub source_id: String,
    pub enabled: bool,
    pub baseline: Option<DeliveryBaseline>,
}

/// Judges one destination from what could be read (`Err` holds why not).
pub fn judge(destination: &Migrated, target: Result<(u64, u64), String>) -> DeliveryResult {
    let mut result = DeliveryResult {
        config_name: destination.config_name.clone(),
        public_id: destination.public_id.clone(),
        status: Status::Match,
        baseline: destination.baseline,
        delivered: None,
        not_delivered: None,
        delivers_nothing: false,
        notes: Vec::new(),
    };
    let (delivered, failed) = match target {
        Ok(figures) => figures,
        Err(why) => {
            result.status = Status::NotComparable;
            result.notes.push(format!(
                "The target's delivery metrics cannot be read: {why}"
            ));
            return result;
        }
    };
    result.delivered = Some(delivered);
    result.not_delivered = Some(failed);
    if destination.baseline.is_none() {
        result.notes.push(
            "No baseline: the export did not read this destination's delivery metrics \
             (`export --with-metrics`)."
                .into(),
        );
    }
    if delivered == 0 {
        result.delivers_nothing = true;
        match destination.baseline {
            Some(b) if b.delivered == 0 => result
                .notes
                .push("Delivers nothing, as in the source's baseline.".into()),
            Some(b) => {
                result.status = Status::Differ;
                result.notes.push(format!(
                    "Delivers nothing; the source delivered {} events in its baseline.",
                    b.delivered
                ));
            }
            None => {
                result.status = Status::Differ;
                result.notes.push("Delivers nothing.".into());
            }
        }
        if !destination.enabled {
            result.notes.push("It is disabled in the target.".into());
        }
        return result;
    }
    if let Some(b) = destination.baseline {
        let now = failure_rate(delivered, failed);
        let before = failure_rate(b.delivered, b.not_delivered);
        if now > before + FAILURE_RATE_MARGIN {
            result.status = Status::Differ;
            result.notes.push(format!(
                "{:.1}% of deliveries fail, against {:.1}% in the source's baseline.",
                now * 100.0,
                before * 100.0
            ));
        }
    }
    result
}

/// Reads the delivery summary of each destination and judges it.
pub async fn check(
    client: &PublicClient,
    destinations: &[Migrated],
    reporter: &dyn Reporter,
) -> Vec<DeliveryResult> {
    let mut out = Vec::with_capacity(destinations.len());
    for destination in destinations {
        reporter.collection_started(
            crate::model::Kind::DeliveryMetrics,
            &format!("destinations/{}/delivery-metrics", destination.public_id),
        );
        let figures = client
            .get_delivery_metrics(&destination.public_id, &destination.source_id, None)
            .await
            .map_err(|e| crate::diagnostics::chain(&e))
            .and_then(|summary| {
                parse_summary(&summary.body)
                    .ok_or_else(|| "the summary has no `successes` total".to_owned())
            });
        reporter.stored(crate::model::Kind::DeliveryMetrics, 1);
        out.push(judge(destination, figures));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn migrated(baseline: Option<(u64, u64)>) -> Migrated {
        Migrated {
            config_name: "d".into(),
            public_id: "1".into(),
            source_id: "s".into(),
            enabled: true,
            baseline: baseline.map(|(delivered, not_delivered)| DeliveryBaseline {
                delivered,
                not_delivered,
                p95_latency_ms: None,
            }),
        }
    }

    #[test]
    fn the_summary_is_read_from_its_metrics() {
        let summary = json!({"metrics": [
            {"metricName": "successes", "total": 90},
            {"metricName": "expired", "total": 4},
            {"metricName": "discarded", "total": 6},
        ]});
        assert_eq!(parse_summary(&summary), Some((90, 10)));
        assert_eq!(parse_summary(&json!({"metrics": []})), None);
    }

    #[test]
    fn destinations_that_deliver_nothing_are_flagged() {
        let flagged = judge(&migrated(Some((1200, 3))), Ok((0, 0)));
        assert_eq!(flagged.status, Status::Differ);
        assert!(flagged.delivers_nothing);
        let idle = judge(&migrated(Some((0, 0))), Ok((0, 0)));
        assert_eq!(idle.status, Status::Match);
        assert!(idle.delivers_nothing);
        let fine = judge(&migrated(Some((1200, 3))), Ok((1000, 4)));
        assert_eq!(fine.status, Status::Match);
        assert!(!fine.delivers_nothing);
    }

    #[test]
    fn a_failure_rate_well_above_the_baseline_differs() {
        let worse = judge(&migrated(Some((1000, 10))), Ok((800, 200)));
        assert_eq!(worse.status, Status::Differ);
        assert!(worse.notes[0].contains("20.0%"), "{:?}", worse.notes);
        let unreadable = judge(&migrated(None), Err("403".into()));
        assert_eq!(unreadable.status, Status::NotComparable);
    }
}
