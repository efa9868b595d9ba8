//! The audit report laid out as sentences, tables and sections, shared by the Markdown and HTML
//! renderers so both show the same rows in the same order and the same words for a verdict.
//!
//! A kind's section lists the resources that are not `match` (problems first in the report's
//! own order, then the ones the plan left out), each with its field differences; the matching
//! ones are only counted and listed in a collapsed table, because in a healthy migration they
//! are nearly everything and would bury the few lines a person has to act on.
//!
//! Values are compact JSON. A cell shows at most [`MAX_VALUE_CHARS`] characters of one: a
//! tracking-plan rule's JSON Schema can run to kilobytes, and the point of a cell is to show
//! which value it is; the JSON and CSV reports carry every value whole.

use serde_json::Value;

use crate::audit::{AuditReport, DeliveryResult, ResourceResult, Status};
use crate::model::Kind;
use crate::report::table::{Align, Cell, Style, Table};
use crate::report::view::kind_title;

/// How much of a value a table cell shows.
pub const MAX_VALUE_CHARS: usize = 160;

/// The statuses in the order of the summary's columns: the good, the problems, the left out.
pub const STATUS_ORDER: [Status; 5] = [
    Status::Match,
    Status::Differ,
    Status::MissingInTarget,
    Status::UnexpectedInTarget,
    Status::NotComparable,
];

/// A status in words, for headings and sentences.
pub fn status_words(status: Status) -> &'static str {
    match status {
        Status::Match => "match",
        Status::Differ => "differ",
        Status::MissingInTarget => "missing in target",
        Status::UnexpectedInTarget => "unexpected in target",
        Status::NotComparable => "not comparable",
    }
}

/// A status as a badge; its CSS class is the status's own fixed name, never data.
pub fn status_cell(status: Status) -> Cell {
    Cell::badge(status.as_str(), status.as_str())
}

/// `1 resource`, `2 resources`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The line at the top: whether the target matches, and if not, what fails the audit.
pub struct Verdict {
    pub ok: bool,
    pub text: String,
}

/// Destinations whose delivery fails the audit.
fn delivery_problems(report: &AuditReport) -> usize {
    report
        .delivery
        .iter()
        .flatten()
        .filter(|d| d.status.is_problem())
        .count()
}

pub fn verdict(report: &AuditReport) -> Verdict {
    let by = |s: Status| report.summary.by_status.get(&s).copied().unwrap_or(0);
    if report.ok() {
        return Verdict {
            ok: true,
            text: format!(
                "The target matches the source: {} compared, {} match, {} not comparable.",
                count(report.summary.total, "resource"),
                by(Status::Match),
                by(Status::NotComparable)
            ),
        };
    }
    let mut parts: Vec<String> = [
        Status::Differ,
        Status::MissingInTarget,
        Status::UnexpectedInTarget,
    ]
    .iter()
    .filter(|s| by(**s) > 0)
    .map(|s| format!("{} {}", by(*s), status_words(*s)))
    .collect();
    let delivery = delivery_problems(report);
    if delivery > 0 {
        parts.push(format!(
            "{} with a delivery problem",
            count(delivery, "destination")
        ));
    }
    let problems = report.problems().count() + delivery;
    Verdict {
        ok: false,
        text: format!(
            "{}: the target does not match the source ({}).",
            count(problems, "problem"),
            parts.join(", ")
        ),
    }
}

/// The summary in sentences.
pub fn summary_sentences(report: &AuditReport) -> Vec<String> {
    let s = &report.summary;
    let by = STATUS_ORDER
        .iter()
        .map(|st| {
            format!(
                "{} {}",
                s.by_status.get(st).copied().unwrap_or(0),
                status_words(*st)
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let kinds = report
        .kinds
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = vec![
        format!("{} audited: {by}.", count(s.total, "resource")),
        format!("Kinds audited: {kinds}."),
    ];
    if s.not_comparable_fields > 0 {
        out.push(format!(
            "{} not compared: secret values are compared as present or absent only, and are never shown.",
            count(s.not_comparable_fields, "field")
        ));
    }
    if let Some(delivery) = &report.delivery {
        out.push(format!(
            "Delivery after cut-over: {} checked, {} nothing, {} flagged.",
            count(delivery.len(), "destination"),
            match s.delivers_nothing.unwrap_or(0) {
                1 => "1 delivers".to_owned(),
                n => format!("{n} deliver"),
            },
            delivery_problems(report)
        ));
    }
    out
}

/// Resources per kind and status, with totals.
pub fn kinds_table(report: &AuditReport) -> Table {
    let mut columns = vec![("Kind", Align::Left)];
    columns.extend(
        STATUS_ORDER
            .iter()
            .map(|s| (status_words(*s), Align::Right)),
    );
    columns.push(("Total", Align::Right));
    let mut table = Table::new(&columns);
    let row = |label: Cell, counts: Option<&std::collections::BTreeMap<Status, usize>>| {
        let of = |s: &Status| counts.and_then(|c| c.get(s)).copied().unwrap_or(0);
        let mut row = vec![label];
        row.extend(STATUS_ORDER.iter().map(|s| Cell::number(of(s))));
        row.push(Cell::number(STATUS_ORDER.iter().map(of).sum()));
        row
    };
    for kind in &report.kinds {
        table.push(row(
            Cell::text(kind_title(kind.as_str())),
            report.summary.by_kind.get(kind),
        ));
    }
    table.push(row(
        Cell::default().with("Total", Style::Strong),
        Some(&report.summary.by_status),
    ));
    table
}

/// One audited kind's resources.
pub struct KindSection<'a> {
    pub kind: Kind,
    pub title: String,
    /// Anchor id, `kind-<kind>`.
    pub anchor: String,
    /// Resources that are not `match`, in report order.
    pub listed: Vec<&'a ResourceResult>,
    pub matched: Vec<&'a ResourceResult>,
}

impl KindSection<'_> {
    pub fn total(&self) -> usize {
        self.listed.len() + self.matched.len()
    }

    /// `3 resources: 2 match, 1 differ`.
    pub fn counts(&self) -> String {
        let mut parts = Vec::new();
        for status in STATUS_ORDER {
            let n = if status == Status::Match {
                self.matched.len()
            } else {
                self.listed.iter().filter(|r| r.status == status).count()
            };
            if n > 0 {
                parts.push(format!("{n} {}", status_words(status)));
            }
        }
        if parts.is_empty() {
            "nothing of this kind on either side".to_owned()
        } else {
            format!("{}: {}", count(self.total(), "resource"), parts.join(", "))
        }
    }
}

/// The audited kinds, in the report's (export) order.
pub fn kind_sections(report: &AuditReport) -> Vec<KindSection<'_>> {
    report
        .kinds
        .iter()
        .map(|kind| {
            let (matched, listed) = report
                .results
                .iter()
                .filter(|r| r.kind == *kind)
                .partition(|r| r.status == Status::Match);
            KindSection {
                kind: *kind,
                title: kind_title(kind.as_str()),
                anchor: format!("kind-{kind}"),
                listed,
                matched,
            }
        })
        .collect()
}

/// A value as compact JSON, whole: what CSV carries. `None` (absent) is the empty string.
pub fn json_text(value: Option<&Value>) -> String {
    value.map(Value::to_string).unwrap_or_default()
}

/// A value for a table cell: compact JSON in a code span, cut after [`MAX_VALUE_CHARS`]
/// characters with the number left out said; `(absent)` when the side lacks the field.
pub fn value_cell(value: Option<&Value>) -> Cell {
    let Some(value) = value else {
        return Cell::text("(absent)");
    };
    let text = value.to_string();
    let length = text.chars().count();
    if length <= MAX_VALUE_CHARS {
        return Cell::code(text);
    }
    let cut: String = text.chars().take(MAX_VALUE_CHARS).collect();
    Cell::code(format!("{cut}…")).plain(format!(" ({} more characters)", length - MAX_VALUE_CHARS))
}

/// The fields of a `differ` resource: path, expected, actual.
pub fn diffs_table(result: &ResourceResult) -> Table {
    let mut table = Table::new(&[
        ("Field", Align::Left),
        ("Expected (source)", Align::Left),
        ("Actual (target)", Align::Left),
    ]);
    for diff in &result.differences {
        table.push(vec![
            Cell::code(diff.path.clone()),
            value_cell(diff.expected.as_ref()),
            value_cell(diff.actual.as_ref()),
        ]);
    }
    table
}

/// The fields left uncompared, `path (reason)`, comma-separated; empty when there are none.
pub fn not_compared_cell(result: &ResourceResult) -> Cell {
    let mut cell = Cell::default();
    for (index, field) in result.not_comparable.iter().enumerate() {
        if index > 0 {
            cell = cell.plain(", ");
        }
        cell = cell
            .with(field.path.clone(), Style::Code)
            .plain(format!(" ({})", field.reason));
    }
    cell
}

/// The Config name, or a dash for an object only the target holds.
pub fn config_name_cell(result: &ResourceResult) -> Cell {
    match &result.config_name {
        Some(name) => Cell::code(name.clone()),
        None => Cell::text("—"),
    }
}

/// The Public id, or a dash when the target holds nothing for the Config object.
pub fn public_id_cell(result: &ResourceResult) -> Cell {
    match &result.public_id {
        Some(id) => Cell::code(id.clone()),
        None => Cell::text("—"),
    }
}

/// The matching resources of a kind: name, id and what was left uncompared.
pub fn matched_table(section: &KindSection<'_>) -> Table {
    let mut table = Table::new(&[
        ("Status", Align::Left),
        ("Config name", Align::Left),
        ("Public id", Align::Left),
        ("Not compared", Align::Left),
    ]);
    for result in &section.matched {
        table.push(vec![
            status_cell(result.status),
            config_name_cell(result),
            public_id_cell(result),
            not_compared_cell(result),
        ]);
    }
    table
}

fn optional_number(n: Option<u64>) -> Cell {
    n.map_or_else(|| Cell::text("—"), |n| Cell::text(n.to_string()))
}

/// Delivery per destination against the export's baseline.
pub fn delivery_table(rows: &[&DeliveryResult]) -> Table {
    let mut table = Table::new(&[
        ("Status", Align::Left),
        ("Destination", Align::Left),
        ("Public id", Align::Left),
        ("Baseline delivered", Align::Right),
        ("Baseline failed", Align::Right),
        ("Delivered", Align::Right),
        ("Failed", Align::Right),
        ("Notes", Align::Left),
    ]);
    for d in rows {
        let mut notes = Cell::default();
        for (index, note) in d.notes.iter().enumerate() {
            if index > 0 {
                notes = notes.plain(" ");
            }
            notes.spans.extend(Cell::backticked(note).spans);
        }
        table.push(vec![
            status_cell(d.status),
            Cell::code(d.config_name.clone()),
            Cell::code(d.public_id.clone()),
            optional_number(d.baseline.map(|b| b.delivered)),
            optional_number(d.baseline.map(|b| b.not_delivered)),
            optional_number(d.delivered),
            optional_number(d.not_delivered),
            notes,
        ]);
    }
    table
}

/// The delivery results split into those to read (not `match`) and the matching ones.
pub fn delivery_split(delivery: &[DeliveryResult]) -> (Vec<&DeliveryResult>, Vec<&DeliveryResult>) {
    delivery.iter().partition(|d| d.status != Status::Match)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_values_are_cut_and_say_how_much_is_left() {
        let long = json!("x".repeat(500));
        let cell = value_cell(Some(&long));
        let text = cell.plain_text();
        assert!(text.starts_with("\"xxx"), "{text}");
        assert!(text.contains("…"));
        // 502 characters with the quotes, 160 shown.
        assert!(text.ends_with(" (342 more characters)"), "{text}");
        assert_eq!(value_cell(None).plain_text(), "(absent)");
        assert_eq!(
            value_cell(Some(&json!({"a": [1, 2]}))).plain_text(),
            r#"{"a":[1,2]}"#
        );
        // Exactly at the limit: whole.
        let edge = json!("y".repeat(MAX_VALUE_CHARS - 2));
        assert!(!value_cell(Some(&edge)).plain_text().contains('…'));
    }

    #[test]
    fn json_text_keeps_absent_and_empty_apart() {
        assert_eq!(json_text(None), "");
        assert_eq!(json_text(Some(&json!(""))), "\"\"");
        assert_eq!(json_text(Some(&json!("a\nb"))), "\"a\\nb\"");
    }
}
