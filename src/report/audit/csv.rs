//! The audit report as CSV: one record per finding, for spreadsheets, scripts and ticket
//! imports.
//!
//! Columns ([`COLUMNS`]): `kind, config_name, public_id, status, finding, path, expected,
//! actual, note`. Every resource that is not `match` has one `resource` record (its notes in
//! `note`), followed by one `difference` record per differing field (`path`, `expected`,
//! `actual`) and one `not-compared` record per field left uncompared (`path`, the reason in
//! `note`). With `--with-metrics`, every destination whose delivery is not `match` has a
//! `delivery` record (`expected` is the baseline, `actual` the target's figures, both as JSON
//! objects `{"delivered":…,"not_delivered":…}`). Matching resources have no record: a match is
//! not a finding, and the summary of the other formats counts them.
//!
//! Values are compact JSON, whole (never cut as in the tables of the documents), so `"abc"` is
//! a string and `abc` cannot occur; an empty field means absent. RFC 4180 like the plan's CSV:
//! CRLF, fields quoted only when they hold a comma, a quote or a line break, UTF-8 without a
//! byte-order mark.

use serde_json::json;

use super::view::json_text;
use crate::audit::{AuditReport, Status};
use crate::model::Kind;
use crate::report::table::csv_record;

/// The header record.
pub const COLUMNS: [&str; 9] = [
    "kind",
    "config_name",
    "public_id",
    "status",
    "finding",
    "path",
    "expected",
    "actual",
    "note",
];

/// The CSV document.
pub fn render(report: &AuditReport) -> String {
    let mut out = csv_record(&COLUMNS);
    for result in report.results.iter().filter(|r| r.status != Status::Match) {
        // The four columns naming the resource, then what one record says about it.
        let mut record = |finding: &str, path: &str, expected: &str, actual: &str, note: &str| {
            out.push_str(&csv_record(&[
                result.kind.as_str(),
                result.config_name.as_deref().unwrap_or(""),
                result.public_id.as_deref().unwrap_or(""),
                result.status.as_str(),
                finding,
                path,
                expected,
                actual,
                note,
            ]));
        };
        record("resource", "", "", "", &result.notes.join(" "));
        for diff in &result.differences {
            let expected = json_text(diff.expected.as_ref());
            let actual = json_text(diff.actual.as_ref());
            record("difference", &diff.path, &expected, &actual, "");
        }
        for field in &result.not_comparable {
            record("not-compared", &field.path, "", "", &field.reason);
        }
    }
    for d in report.delivery.iter().flatten() {
        if d.status == Status::Match {
            continue;
        }
        let baseline = d
            .baseline
            .map(|b| json!({"delivered": b.delivered, "not_delivered": b.not_delivered}));
        let actual = (d.delivered.is_some() || d.not_delivered.is_some())
            .then(|| json!({"delivered": d.delivered, "not_delivered": d.not_delivered}));
        out.push_str(&csv_record(&[
            Kind::Destinations.as_str(),
            &d.config_name,
            &d.public_id,
            d.status.as_str(),
            "delivery",
            "",
            &json_text(baseline.as_ref()),
            &json_text(actual.as_ref()),
            &d.notes.join(" "),
        ]));
    }
    out
}
