//! The plan report as one self-contained HTML page: readable on screen, printable, shareable as a
//! single file. The page itself (style sheet, script, head, cards, contents, filter bar) is
//! [`super::page`], shared with the audit report; this module fills it with the plan.
//!
//! Invariant: all data goes through [`escape_html`]; classes and ids are the renderer's own
//! constants or kind names, which are fixed identifiers.

use std::fmt::Write as _;

use super::estimate::human_duration;
use super::model::PlanReport;
use super::page::{self, Card, FilterBar, Page, TocEntry};
use super::table::{Cell, escape_html, html_inline, html_table};
use super::view::{
    codes_table, items_table, kind_sections, kinds_table, summary_sentences, writes_table,
};

/// The HTML document.
pub fn render(report: &PlanReport) -> String {
    let plan = &report.plan;
    let s = &report.summary;
    let title = format!("Compatibility report: {} → {}", plan.workspace, plan.target);
    let heading = format!(
        "Compatibility report: <code>{}</code> → <code>{}</code>",
        escape_html(&plan.workspace),
        escape_html(&plan.target)
    );
    let meta = format!(
        "Plan {} · {} mode · on conflict: {} · export run {} · planned {} · segbridge {} · schema version {}",
        plan.id,
        escape_html(&plan.mode),
        escape_html(&plan.on_conflict),
        plan.export_run,
        escape_html(&plan.planned_at),
        env!("CARGO_PKG_VERSION"),
        report.schema_version
    );
    let mut out = String::new();

    let get =
        |map: &std::collections::BTreeMap<String, usize>, k: &str| map.get(k).copied().unwrap_or(0);
    let card = |class, n: String, label: &str| Card {
        class,
        n,
        label: label.to_owned(),
    };
    out.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    out.push_str(&page::cards(&[
        card("", s.objects.to_string(), "objects"),
        card("", s.writes.calls.to_string(), "write requests"),
        card(
            "",
            human_duration(s.writes.estimated_seconds),
            "at least, under rate limits",
        ),
        card(
            "blocker",
            get(&s.findings, "blocker").to_string(),
            "blockers",
        ),
        card(
            "manual",
            get(&s.findings, "manual").to_string(),
            "manual findings",
        ),
        card("", get(&s.findings, "lossy").to_string(), "lossy findings"),
        card("", s.follow_ups.to_string(), "follow-ups"),
    ]));
    out.push_str(&page::sentences(&summary_sentences(report)));

    let sections = kind_sections(report);
    let mut contents: Vec<TocEntry> = sections
        .iter()
        .map(|section| TocEntry {
            anchor: section.anchor.clone(),
            title: section.title.clone(),
            count: Some(section.items.len()),
        })
        .collect();
    contents.push(TocEntry {
        anchor: "follow-ups".into(),
        title: "Manual follow-ups".into(),
        count: None,
    });
    out.push_str(&page::toc(&contents));

    out.push_str("<h3>Objects per kind and action</h3>\n");
    out.push_str(&html_table(&kinds_table(report), "summary"));
    if !s.finding_codes.is_empty() {
        out.push_str("<h3>Findings per code</h3>\n");
        out.push_str(&html_table(&codes_table(report), "codes"));
    }
    if !s.writes.operations.is_empty() {
        out.push_str("<h3>Write requests</h3>\n");
        out.push_str(&html_table(&writes_table(report), "summary writes"));
    }
    out.push_str("</section>\n");

    out.push_str("<section id=\"objects\">\n<h2>Objects</h2>\n");
    out.push_str(&page::filter_bar(&FilterBar {
        noun: "objects",
        placeholder: "Filter objects: name, id, code, text…",
        // The findings are the last column of an object table.
        badge_cell: "td:last-child",
        options: &[
            ("", "All objects"),
            ("blocker manual lossy info", "With findings"),
            ("blocker", "With blockers"),
            ("manual", "With manual findings"),
            ("lossy", "With lossy findings"),
            ("info", "With info findings"),
        ],
    }));
    for section in &sections {
        out.push_str(&page::kind_heading(
            &section.anchor,
            &section.title,
            &format!(
                "{} objects, {} findings",
                section.items.len(),
                section.findings
            ),
        ));
        let table = html_table(&items_table(section), "items");
        if section.collapsed {
            out.push_str(&page::collapsed(
                &format!(
                    "{} objects, all resolved in the target or skipped, without findings",
                    section.items.len()
                ),
                &table,
            ));
        } else {
            out.push_str(&table);
        }
    }
    out.push_str("</section>\n");

    out.push_str("<section id=\"follow-ups\">\n<h2>Manual follow-ups</h2>\n");
    if report.follow_ups.is_empty() {
        out.push_str("<p>Nothing needs a person.</p>\n");
    }
    for group in &report.follow_ups {
        let _ = writeln!(
            out,
            "<div class=\"group\" id=\"follow-up-{}\">\n<h3>{} <span class=\"meta\">({})</span></h3>\n<p>{}</p>\n<ul class=\"checklist\">",
            escape_html(group.id),
            escape_html(group.title),
            group.entries.len(),
            html_inline(&Cell::backticked(group.instructions))
        );
        for entry in &group.entries {
            let _ = write!(
                out,
                "<li><input type=\"checkbox\" aria-label=\"done\"><span><code>{}</code>",
                escape_html(&entry.config_name)
            );
            if !entry.fields.is_empty() {
                let fields: Vec<String> = entry
                    .fields
                    .iter()
                    .map(|f| format!("<code>{}</code>", escape_html(f)))
                    .collect();
                let _ = write!(
                    out,
                    " <span class=\"fields\">({})</span>",
                    fields.join(", ")
                );
            }
            let details: Vec<String> = entry
                .details
                .iter()
                .map(|d| html_inline(&Cell::backticked(d)))
                .collect();
            let _ = writeln!(out, ": {}</span></li>", details.join(" "));
        }
        out.push_str("</ul>\n</div>\n");
    }
    out.push_str("</section>\n");
    let made_from = format!("the ledger's plan {}", plan.id);
    page::document(&Page {
        title: &title,
        heading_html: &heading,
        meta_html: &meta,
        body_html: &out,
        made_from: &made_from,
    })
}
