//! Event delivery metrics: telemetry, nothing to write. The exported summary becomes the
//! baseline the audit compares the migrated destination against after cut-over (delivery going
//! on, failures near the old rate).

use serde::Serialize;
use serde_json::Value;

use super::{FindingCode, Mapped};
use crate::model::Kind;

/// The delivery figures of one destination over the export's reporting window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeliveryBaseline {
    pub delivered: u64,
    pub not_delivered: u64,
    pub p95_latency_ms: Option<u64>,
}

/// A delivery summary, keyed by its destination's Config name.
pub fn map_delivery_summary(config_name: &str, body: &Value) -> Mapped {
    let mut mapped = Mapped::new(Kind::DeliveryMetrics, config_name);
    let count = |field: &str| body.get(field).and_then(Value::as_u64);
    match (count("delivered"), count("not_delivered")) {
        (Some(delivered), Some(not_delivered)) => {
            mapped.baseline = Some(DeliveryBaseline {
                delivered,
                not_delivered,
                p95_latency_ms: count("p95_latency_ms"),
            });
            mapped.find(
                FindingCode::DeliveryBaselineOnly,
                None,
                format!(
                    "Delivery history stays behind ({delivered} delivered, {not_delivered} not \
                     delivered); the audit uses it as the baseline."
                ),
            );
        }
        (None, _) => mapped.malformed("delivered", "count"),
        (_, None) => mapped.malformed("not_delivered", "count"),
    }
    mapped
}
