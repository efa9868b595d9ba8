//! Reports as JSON: the serde form of the report, pretty-printed. The plan's [`PlanReport`] is
//! described by `docs/report.schema.json`, the audit's [`crate::audit::AuditReport`] by
//! `docs/audit.schema.json` (tests validate real reports against both).
//!
//! Invariant: deterministic bytes for equal reports (maps are `BTreeMap`s, items sorted by the
//! builders, `serde_json` keeps field order), so two reports can be diffed.
//!
//! [`PlanReport`]: super::model::PlanReport

use serde::Serialize;

/// The JSON document, with a final newline.
pub fn render<R: Serialize>(report: &R) -> String {
    let mut out = serde_json::to_string_pretty(report).expect("a report serializes");
    out.push('\n');
    out
}
