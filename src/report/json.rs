//! The plan report as JSON: the serde form of [`PlanReport`], pretty-printed, described by
//! `docs/report.schema.json` (a test validates generated reports against it).
//!
//! Invariant: deterministic bytes for equal reports (maps are `BTreeMap`s, items sorted by the
//! builder), so two reports can be diffed.

use super::model::PlanReport;

/// The JSON document, with a final newline.
pub fn render(report: &PlanReport) -> String {
    let mut out = serde_json::to_string_pretty(report).expect("a report serializes");
    out.push('\n');
    out
}
