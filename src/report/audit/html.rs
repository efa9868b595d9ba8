//! The audit report as one self-contained HTML page, in the same frame as the plan report
//! ([`crate::report::page`]: style sheet, script, cards, contents, filter bar), so the two files
//! a migration produces look like one family.
//!
//! Layout: the verdict in a coloured bar, summary cards and sentences, contents, resources per
//! kind and status; then one table per kind whose rows are the resources that are not `match`
//! (status badge, Config name, Public id, and in the last cell the differing fields as a small
//! table, the fields not compared and the notes); the matching ones in a closed `<details>`; the
//! delivery check last. The filter bar filters the rows by text and by status.
//!
//! Invariant: every piece of data goes through [`escape_html`] (directly or through
//! [`html_inline`] and [`html_table`]); the only classes are status names, which are the
//! [`Status`] enum's fixed words.

use std::fmt::Write as _;

use super::view::{
    self, STATUS_ORDER, config_name_cell, delivery_split, delivery_table, diffs_table,
    kind_sections, kinds_table, matched_table, not_compared_cell, public_id_cell, status_cell,
    status_words, summary_sentences,
};
use crate::audit::{AuditReport, ResourceResult, Status};
use crate::report::page::{self, Card, FilterBar, Page, TocEntry};
use crate::report::table::{
    Align, Cell, Table, escape_html, html_inline, html_table, html_table_head,
};

/// The HTML document.
pub fn render(report: &AuditReport) -> String {
    let title = format!("Audit report: {} → {}", report.workspace, report.target);
    let heading = format!(
        "Audit report: <code>{}</code> → <code>{}</code>",
        escape_html(&report.workspace),
        escape_html(&report.target)
    );
    let meta = format!(
        "Plan {} · audited {} · kinds: {} · segbridge {} · schema version {}",
        report.plan,
        escape_html(
            report
                .audited_at
                .as_deref()
                .unwrap_or("(time not recorded)")
        ),
        report.kinds.len(),
        env!("CARGO_PKG_VERSION"),
        report.schema_version
    );
    let s = &report.summary;
    let mut out = String::new();

    let verdict = view::verdict(report);
    let _ = writeln!(
        out,
        "<p class=\"verdict {}\" id=\"verdict\">{}</p>",
        if verdict.ok { "ok" } else { "fail" },
        escape_html(&verdict.text)
    );

    out.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n");
    let by = |st: Status| s.by_status.get(&st).copied().unwrap_or(0);
    let mut cards = vec![Card {
        class: "",
        n: s.total.to_string(),
        label: "resources".into(),
    }];
    cards.extend(STATUS_ORDER.iter().map(|st| Card {
        class: match st {
            Status::Match => "ok",
            _ if st.is_problem() && by(*st) > 0 => "blocker",
            _ => "",
        },
        n: by(*st).to_string(),
        label: status_words(*st).into(),
    }));
    cards.push(Card {
        class: "",
        n: s.not_comparable_fields.to_string(),
        label: "fields not compared".into(),
    });
    if let Some(nothing) = s.delivers_nothing {
        cards.push(Card {
            class: if nothing > 0 { "manual" } else { "" },
            n: nothing.to_string(),
            label: "deliver nothing".into(),
        });
    }
    out.push_str(&page::cards(&cards));
    out.push_str(&page::sentences(&summary_sentences(report)));

    let sections = kind_sections(report);
    let mut contents: Vec<TocEntry> = sections
        .iter()
        .map(|section| TocEntry {
            anchor: section.anchor.clone(),
            title: section.title.clone(),
            count: Some(section.total()),
        })
        .collect();
    if report.delivery.is_some() {
        contents.push(TocEntry {
            anchor: "delivery".into(),
            title: "Delivery after cut-over".into(),
            count: None,
        });
    }
    out.push_str(&page::toc(&contents));
    out.push_str("<h3>Resources per kind and status</h3>\n");
    out.push_str(&html_table(&kinds_table(report), "summary"));
    out.push_str("</section>\n");

    out.push_str("<section id=\"resources\">\n<h2>Resources</h2>\n");
    out.push_str(&page::filter_bar(&FilterBar {
        noun: "resources",
        placeholder: "Filter resources: name, id, field, value, note…",
        // The status badge is the first column of a resource table.
        badge_cell: "td:first-child",
        options: &[
            ("", "All resources"),
            (
                "differ missing-in-target unexpected-in-target",
                "Problems (fail the audit)",
            ),
            ("differ", "Differ"),
            ("missing-in-target", "Missing in target"),
            ("unexpected-in-target", "Unexpected in target"),
            ("not-comparable", "Not comparable"),
            ("match", "Match"),
        ],
    }));
    for section in &sections {
        out.push_str(&page::kind_heading(
            &section.anchor,
            &section.title,
            &section.counts(),
        ));
        if !section.listed.is_empty() {
            out.push_str(&listed_table(&section.listed));
        }
        if !section.matched.is_empty() {
            out.push_str(&page::collapsed(
                &view::count(section.matched.len(), "matching resource"),
                &html_table(&matched_table(section), "items audit"),
            ));
        }
    }
    out.push_str("</section>\n");

    if let Some(delivery) = &report.delivery {
        out.push_str("<section id=\"delivery\">\n<h2>Delivery after cut-over</h2>\n");
        out.push_str(
            "<p class=\"meta\">Each migrated destination's delivery in the target against the \
             baseline the export stored (<code>export --with-metrics</code>).</p>\n",
        );
        let (listed, matched) = delivery_split(delivery);
        if delivery.is_empty() {
            out.push_str("<p>No migrated destination to check.</p>\n");
        }
        if !listed.is_empty() {
            out.push_str(&html_table(&delivery_table(&listed), "delivery"));
        }
        if !matched.is_empty() {
            out.push_str(&page::collapsed(
                &format!(
                    "{} delivering as before",
                    view::count(matched.len(), "destination")
                ),
                &html_table(&delivery_table(&matched), "delivery"),
            ));
        }
        out.push_str("</section>\n");
    }

    let made_from = format!(
        "an audit of both APIs against the ledger's plan {}",
        report.plan
    );
    page::document(&Page {
        title: &title,
        heading_html: &heading,
        meta_html: &meta,
        body_html: &out,
        made_from: &made_from,
    })
}

/// The resources of a kind that are not `match`. Written here rather than with
/// [`html_table`] because the last cell holds a table of its own (the differing fields).
fn listed_table(results: &[&ResourceResult]) -> String {
    let columns = Table::new(&[
        ("Status", Align::Left),
        ("Config name", Align::Left),
        ("Public id", Align::Left),
        ("Differences and notes", Align::Left),
    ])
    .columns;
    let mut out = html_table_head(&columns, "items audit");
    for result in results {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>",
            html_inline(&status_cell(result.status)),
            html_inline(&config_name_cell(result)),
            html_inline(&public_id_cell(result))
        );
        if !result.differences.is_empty() {
            out.push_str(&html_table(&diffs_table(result), "diffs"));
        }
        if !result.not_comparable.is_empty() {
            let _ = write!(
                out,
                "<p class=\"note\">Not compared: {}</p>",
                html_inline(&not_compared_cell(result))
            );
        }
        if !result.notes.is_empty() {
            out.push_str("<ul class=\"notes\">");
            for note in &result.notes {
                let _ = write!(out, "<li>{}</li>", html_inline(&Cell::backticked(note)));
            }
            out.push_str("</ul>");
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}
