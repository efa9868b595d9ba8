//! The plan report laid out as tables and sections, shared by the Markdown and HTML renderers so
//! that both show the same rows in the same order.
//!
//! Sections follow the order a person reads a migration in (sources, then what hangs off them,
//! then people, then what segbridge only resolves), not the alphabetical order of the JSON
//! report. A kind whose objects all need nothing (every one adopted or skipped, no finding, such
//! as the catalogs) is marked `collapsed`, so hundreds of catalog rows do not bury the rest.

use super::estimate::human_duration;
use super::model::{PlanReport, ReportItem};
use super::table::{Align, Cell, Style, Table};

/// Kinds in reading order; a kind missing here comes after them, alphabetically.
const READING_ORDER: [&str; 16] = [
    "sources",
    "schema_configs",
    "destinations",
    "destination_filters",
    "tracking_plans",
    "tracking_plan_connections",
    "functions",
    "users",
    "invites",
    "policies",
    "roles",
    "access_tokens",
    "workspaces",
    "catalog_sources",
    "catalog_destinations",
    "delivery_metrics",
];

/// A kind's heading.
pub fn kind_title(kind: &str) -> String {
    match kind {
        "sources" => "Sources".into(),
        "schema_configs" => "Schema settings".into(),
        "destinations" => "Destinations".into(),
        "destination_filters" => "Destination filters".into(),
        "tracking_plans" => "Tracking plans".into(),
        "tracking_plan_connections" => "Tracking-plan connections".into(),
        "functions" => "Functions".into(),
        "users" => "Users".into(),
        "invites" => "Invites".into(),
        "policies" => "Policies".into(),
        "roles" => "Roles".into(),
        "access_tokens" => "Access tokens".into(),
        "workspaces" => "Workspace".into(),
        "catalog_sources" => "Source catalog".into(),
        "catalog_destinations" => "Destination catalog".into(),
        "delivery_metrics" => "Delivery metrics".into(),
        other => other.replace('_', " "),
    }
}

/// The badge class of an action or a severity: a fixed set, never data.
pub fn badge_class(word: &str) -> &'static str {
    match word {
        "create" => "create",
        "adopt" => "adopt",
        "update" => "update",
        "skip" => "skip",
        "manual" => "manual",
        "blocker" => "blocker",
        "lossy" => "lossy",
        "info" => "info",
        _ => "other",
    }
}

/// One kind's objects.
pub struct KindSection<'a> {
    pub kind: &'a str,
    pub title: String,
    /// Anchor id, `kind-<kind>`.
    pub anchor: String,
    pub items: Vec<&'a ReportItem>,
    /// Every object adopted or skipped without a finding: nothing to read.
    pub collapsed: bool,
    pub findings: usize,
}

/// The kinds of the report in reading order.
pub fn kind_sections(report: &PlanReport) -> Vec<KindSection<'_>> {
    let mut kinds: Vec<&str> = report.summary.kinds.keys().map(String::as_str).collect();
    let rank = |k: &str| {
        READING_ORDER
            .iter()
            .position(|r| *r == k)
            .unwrap_or(READING_ORDER.len())
    };
    kinds.sort_by(|a, b| (rank(a), *a).cmp(&(rank(b), *b)));
    kinds
        .into_iter()
        .map(|kind| {
            let items: Vec<&ReportItem> = report.items.iter().filter(|i| i.kind == kind).collect();
            let findings = items.iter().map(|i| i.findings.len()).sum();
            KindSection {
                kind,
                title: kind_title(kind),
                anchor: format!("kind-{kind}"),
                collapsed: findings == 0
                    && items
                        .iter()
                        .all(|i| i.action == "adopt" || i.action == "skip"),
                items,
                findings,
            }
        })
        .collect()
}

const ACTIONS: [&str; 5] = ["create", "adopt", "update", "skip", "manual"];
const SEVERITIES: [&str; 4] = ["blocker", "manual", "lossy", "info"];

/// Objects per kind (rows in reading order) and action, with totals.
pub fn kinds_table(report: &PlanReport) -> Table {
    let mut columns = vec![("Kind", Align::Left)];
    columns.extend(ACTIONS.iter().map(|a| (*a, Align::Right)));
    columns.push(("Findings", Align::Right));
    columns.push(("Total", Align::Right));
    let mut table = Table::new(&columns);
    for section in kind_sections(report) {
        let actions = &report.summary.kinds[section.kind];
        let mut row = vec![Cell::text(section.title.clone())];
        row.extend(
            ACTIONS
                .iter()
                .map(|a| Cell::number(actions.get(*a).copied().unwrap_or(0))),
        );
        row.push(Cell::number(section.findings));
        row.push(Cell::number(section.items.len()));
        table.push(row);
    }
    let mut total = vec![Cell::default().with("Total", Style::Strong)];
    total.extend(
        ACTIONS
            .iter()
            .map(|a| Cell::number(report.summary.actions.get(*a).copied().unwrap_or(0))),
    );
    total.push(Cell::number(report.summary.findings.values().sum()));
    total.push(Cell::number(report.summary.objects));
    table.push(total);
    table
}

/// Findings per code, most severe first, then by code.
pub fn codes_table(report: &PlanReport) -> Table {
    let mut table = Table::new(&[
        ("Severity", Align::Left),
        ("Code", Align::Left),
        ("Findings", Align::Right),
        ("Meaning", Align::Left),
    ]);
    let mut codes: Vec<(&str, &str, usize)> = report
        .summary
        .finding_codes
        .iter()
        .map(|(code, n)| {
            let severity = report
                .findings()
                .find(|(_, f)| &f.code == code)
                .map_or("info", |(_, f)| f.severity.as_str());
            (severity, code.as_str(), *n)
        })
        .collect();
    let rank = |s: &str| SEVERITIES.iter().position(|x| *x == s).unwrap_or(9);
    codes.sort_by(|a, b| (rank(a.0), a.1).cmp(&(rank(b.0), b.1)));
    for (severity, code, n) in codes {
        let meaning = crate::mapping::FindingCode::ALL
            .iter()
            .find(|c| c.as_str() == code)
            .map_or("", |c| c.summary());
        table.push(vec![
            Cell::badge(severity, badge_class(severity)),
            Cell::code(code),
            Cell::number(n),
            Cell::backticked(meaning),
        ]);
    }
    table
}

/// Write requests per operation.
pub fn writes_table(report: &PlanReport) -> Table {
    let mut table = Table::new(&[
        ("Operation", Align::Left),
        ("Request", Align::Left),
        ("Calls", Align::Right),
        ("Limit / min", Align::Right),
    ]);
    for op in &report.summary.writes.operations {
        let limit = if op.own_limit {
            format!("{} (own)", op.requests_per_minute)
        } else if op.requests_per_minute == 0 {
            "unpaced".to_owned()
        } else {
            format!("{} (default)", op.requests_per_minute)
        };
        table.push(vec![
            Cell::code(op.operation.clone()),
            Cell::code(format!("{} {}", op.method, op.path)),
            Cell::number(op.calls),
            Cell::text(limit),
        ]);
    }
    table
}

/// The objects of one kind.
pub fn items_table(section: &KindSection<'_>) -> Table {
    let mut table = Table::new(&[
        ("Config name", Align::Left),
        ("Action", Align::Left),
        ("Public id", Align::Left),
        ("Writes", Align::Right),
        ("Findings", Align::Left),
    ]);
    for item in &section.items {
        let mut action = Cell::badge(item.action.clone(), badge_class(&item.action));
        if item.conflict {
            action = action.plain(" ").with("conflict", Style::Badge("blocker"));
        }
        let public = match (&item.target_id, &item.matched_by) {
            (Some(id), Some(by)) => Cell::code(id.clone()).plain(format!(" by {by}")),
            (Some(id), None) => Cell::code(id.clone()),
            (None, _) => Cell::text("—"),
        };
        let mut findings = Cell::default();
        for (index, finding) in item.findings.iter().enumerate() {
            if index > 0 {
                findings = findings.line_break();
            }
            findings = findings
                .with(
                    finding.severity.clone(),
                    Style::Badge(badge_class(&finding.severity)),
                )
                .plain(" ")
                .with(finding.code.clone(), Style::Code)
                .plain(" ");
            if let Some(field) = &finding.field {
                findings = findings
                    .plain("(")
                    .with(field.clone(), Style::Code)
                    .plain(") ");
            }
            findings
                .spans
                .extend(Cell::backticked(&finding.message).spans);
        }
        table.push(vec![
            Cell::code(item.config_name.clone()),
            action,
            public,
            Cell::number(item.writes),
            findings,
        ]);
    }
    table
}

/// The summary sentence shared by both documents.
pub fn summary_sentences(report: &PlanReport) -> Vec<String> {
    let s = &report.summary;
    let count = |map: &std::collections::BTreeMap<String, usize>, key: &str| {
        map.get(key).copied().unwrap_or(0)
    };
    let actions = ACTIONS
        .iter()
        .map(|a| format!("{} {a}", count(&s.actions, a)))
        .collect::<Vec<_>>()
        .join(", ");
    let severities = SEVERITIES
        .iter()
        .map(|sev| format!("{} {sev}", count(&s.findings, sev)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = vec![
        format!("{} objects: {actions}.", s.objects),
        format!("Findings: {severities}."),
    ];
    let w = &s.writes;
    out.push(if w.calls == 0 {
        "apply will send no write request.".to_owned()
    } else {
        format!(
            "apply will send {} write requests, which the Public API rate limits make take at \
             least {} (one at a time; default bucket {} per minute, lower per-endpoint limits \
             where documented; latency and retries come on top).",
            w.calls,
            human_duration(w.estimated_seconds),
            w.default_requests_per_minute
        )
    });
    let opt_in: Vec<String> = w
        .opt_in
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(flag, n)| format!("{n} only with `apply {flag}`"))
        .collect();
    if !opt_in.is_empty() {
        out.push(format!(
            "Of these, {} ({}).",
            opt_in.join(", "),
            "invitations and permissions wait for `--include-iam`, enabling sources and \
             destinations for `--enable`"
        ));
    }
    if s.conflicts > 0 {
        out.push(format!(
            "{} objects already exist in the target (conflicts; --on-conflict {}).",
            s.conflicts, report.plan.on_conflict
        ));
    }
    if count(&s.findings, "blocker") > 0 {
        out.push(
            "Blockers keep some objects out of apply: see the first group of the follow-ups."
                .to_owned(),
        );
    }
    out.push(format!(
        "{} manual follow-ups in {} groups.",
        s.follow_ups,
        report.follow_ups.len()
    ));
    out
}
