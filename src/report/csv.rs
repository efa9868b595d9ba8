//! The plan report as CSV: one record per finding, for spreadsheets and scripts.
//!
//! Columns: `kind, config_name, action, severity, code, field, message, target_id`; RFC 4180
//! (CRLF line ends, fields quoted only when they hold a comma, a quote or a line break, quotes
//! doubled), UTF-8 without a byte-order mark. Objects without findings have no row: their
//! actions are in the other formats.

use super::model::PlanReport;
use super::table::csv_record;

/// The header record.
pub const COLUMNS: [&str; 8] = [
    "kind",
    "config_name",
    "action",
    "severity",
    "code",
    "field",
    "message",
    "target_id",
];

/// The CSV document.
pub fn render(report: &PlanReport) -> String {
    let mut out = csv_record(&COLUMNS);
    for (item, finding) in report.findings() {
        out.push_str(&csv_record(&[
            item.kind.as_str(),
            item.config_name.as_str(),
            item.action.as_str(),
            finding.severity.as_str(),
            finding.code.as_str(),
            finding.field.as_deref().unwrap_or(""),
            finding.message.as_str(),
            item.target_id.as_deref().unwrap_or(""),
        ]));
    }
    out
}
