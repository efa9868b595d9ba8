//! Request accounting for `/_sim/stats`: what the client under test actually did to the API.
//!
//! Tests and rehearsals assert on these numbers (how many writes a dry run made, how many 429s
//! a migration provoked, whether it retried through resets), so they count what happened on the
//! wire: one entry per API request, under the status the client saw, or `"reset"` when it saw
//! none because the connection was dropped. `/_sim/` requests are never counted; the server layer
//! does not record them. Keys come out sorted so that snapshots diff cleanly and can be compared
//! as JSON text; every fault kind and write method is always present, even at zero, so that
//! readers need no defaults.

use std::collections::BTreeMap;
use std::sync::Mutex;

use axum::http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::faults::FaultKind;

/// The status key under which requests answered by a dropped connection are counted.
pub const DROPPED: &str = "reset";

/// The write methods counted under `writes` (those of [`super::faults::is_write`]), sorted.
const WRITE_METHODS: [Method; 4] = [Method::DELETE, Method::PATCH, Method::POST, Method::PUT];

#[derive(Debug, Default)]
struct Counts {
    requests_total: u64,
    /// `"<METHOD> <template>"` → status (or [`DROPPED`]) → count.
    by_endpoint: BTreeMap<String, BTreeMap<String, u64>>,
    rate_limited: u64,
    faults: BTreeMap<FaultKind, u64>,
    /// Indexed like [`WRITE_METHODS`].
    writes: [u64; WRITE_METHODS.len()],
}

/// Counters shared by a simulator's layers and its `/_sim/stats` handler (`Arc<RequestStats>`).
#[derive(Debug, Default)]
pub struct RequestStats {
    counts: Mutex<Counts>,
}

impl RequestStats {
    pub fn new() -> Self {
        Self::default()
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // Counters are updated in single statements, so a poisoned lock still holds valid counts.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Counts one API request to the route `template` (such as
    /// `/v1beta/workspaces/{ws}/sources`) that ended with `status`, or with a dropped connection
    /// when `status` is `None`. Writes are counted whatever the outcome, since the client sent them.
    pub fn record(&self, method: &Method, template: &str, status: Option<StatusCode>) {
        let status_key = status.map_or_else(|| DROPPED.to_owned(), |s| s.as_u16().to_string());
        let mut counts = self.counts();
        counts.requests_total += 1;
        *counts
            .by_endpoint
            .entry(format!("{method} {template}"))
            .or_default()
            .entry(status_key)
            .or_default() += 1;
        if status == Some(StatusCode::TOO_MANY_REQUESTS) {
            counts.rate_limited += 1;
        }
        if let Some(index) = WRITE_METHODS.iter().position(|m| m == method) {
            counts.writes[index] += 1;
        }
    }

    /// Counts one injected fault. A request can carry two (a latency spike and then a reset).
    pub fn record_fault(&self, kind: FaultKind) {
        *self.counts().faults.entry(kind).or_default() += 1;
    }

    pub fn requests_total(&self) -> u64 {
        self.counts().requests_total
    }

    /// 429 responses sent, whoever sent them: the simulator's limiter, a storm, or a script.
    pub fn rate_limited(&self) -> u64 {
        self.counts().rate_limited
    }

    /// Write requests (POST, PUT, PATCH, DELETE) received.
    pub fn writes_total(&self) -> u64 {
        self.counts().writes.iter().sum()
    }

    pub fn faults(&self, kind: FaultKind) -> u64 {
        self.counts().faults.get(&kind).copied().unwrap_or(0)
    }

    /// Requests to `endpoint` ("GET /v1beta/workspaces/{ws}") that ended with `status` (a code
    /// such as "200", or [`DROPPED`]).
    pub fn count(&self, endpoint: &str, status: &str) -> u64 {
        self.counts()
            .by_endpoint
            .get(endpoint)
            .and_then(|statuses| statuses.get(status))
            .copied()
            .unwrap_or(0)
    }

    /// The API-agnostic part of `/_sim/stats`, keys sorted at every level:
    /// `{"faults": {"5xx": n, ...}, "rate_limited": n, "requests": {"GET /t": {"200": n}},
    /// "requests_total": n, "writes": {"DELETE": n, "PATCH": n, "POST": n, "PUT": n}}`.
    /// Simulators insert their own keys (resource counts, duplicates) into the returned object.
    pub fn snapshot(&self) -> Value {
        let counts = self.counts();
        let mut faults: Vec<(&str, u64)> = FaultKind::ALL
            .iter()
            .map(|&kind| {
                (
                    kind.as_str(),
                    counts.faults.get(&kind).copied().unwrap_or(0),
                )
            })
            .collect();
        faults.sort_unstable();
        let faults: Map<String, Value> = faults
            .into_iter()
            .map(|(name, n)| (name.to_owned(), n.into()))
            .collect();
        let requests: Map<String, Value> = counts
            .by_endpoint
            .iter()
            .map(|(endpoint, statuses)| (endpoint.clone(), json!(statuses)))
            .collect();
        let writes: Map<String, Value> = WRITE_METHODS
            .iter()
            .zip(counts.writes)
            .map(|(method, n)| (method.to_string(), n.into()))
            .collect();
        json!({
            "faults": faults,
            "rate_limited": counts.rate_limited,
            "requests": requests,
            "requests_total": counts.requests_total,
            "writes": writes,
        })
    }
}

/// The body of a simulator's `GET /_sim/stats`: which API, resource counts per kind, the
/// total of the workspace's own objects, duplicate natural keys per kind and their total, then
/// the request counters of [`RequestStats::snapshot`].
pub fn stats_body(
    api: &str,
    counts: &std::collections::BTreeMap<&'static str, usize>,
    resources_total: usize,
    duplicates: &std::collections::BTreeMap<&'static str, usize>,
    requests: &RequestStats,
) -> Value {
    let mut body = serde_json::json!({
        "api": api,
        "resources": counts,
        "resources_total": resources_total,
        "duplicate_natural_keys": duplicates,
        "duplicates_total": duplicates.values().sum::<usize>(),
    });
    if let (Some(out), Value::Object(requests)) = (body.as_object_mut(), requests.snapshot()) {
        out.extend(requests);
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_snapshot_lists_every_fault_kind_and_write_method() {
        let snapshot = RequestStats::new().snapshot();
        assert_eq!(
            snapshot.to_string(),
            r#"{"faults":{"5xx":0,"delay":0,"ghost":0,"html":0,"outage":0,"rate_limited":0,"reset":0,"spike":0,"storm":0,"truncate":0},"rate_limited":0,"requests":{},"requests_total":0,"writes":{"DELETE":0,"PATCH":0,"POST":0,"PUT":0}}"#
        );
    }

    #[test]
    fn counts_per_template_and_status_in_sorted_order() {
        let stats = RequestStats::new();
        let sources = "/v1beta/workspaces/{ws}/sources";
        stats.record(&Method::POST, sources, Some(StatusCode::OK));
        stats.record(&Method::GET, sources, Some(StatusCode::TOO_MANY_REQUESTS));
        stats.record(&Method::GET, sources, Some(StatusCode::OK));
        stats.record(&Method::GET, sources, Some(StatusCode::OK));
        stats.record(&Method::DELETE, sources, None);
        stats.record_fault(FaultKind::Reset);
        stats.record_fault(FaultKind::Spike);
        stats.record_fault(FaultKind::Reset);

        assert_eq!(stats.requests_total(), 5);
        assert_eq!(stats.rate_limited(), 1);
        assert_eq!(stats.writes_total(), 2);
        assert_eq!(stats.faults(FaultKind::Reset), 2);
        assert_eq!(stats.count(&format!("GET {sources}"), "200"), 2);
        assert_eq!(stats.count(&format!("DELETE {sources}"), DROPPED), 1);

        let snapshot = stats.snapshot();
        assert_eq!(
            snapshot["requests"].to_string(),
            r#"{"DELETE /v1beta/workspaces/{ws}/sources":{"reset":1},"GET /v1beta/workspaces/{ws}/sources":{"200":2,"429":1},"POST /v1beta/workspaces/{ws}/sources":{"200":1}}"#
        );
        assert_eq!(
            snapshot["writes"].to_string(),
            r#"{"DELETE":1,"PATCH":0,"POST":1,"PUT":0}"#
        );
        assert_eq!(snapshot["faults"]["reset"], 2);
        assert_eq!(snapshot["faults"]["spike"], 1);
    }
}
