//! The plan report as one self-contained HTML page: readable on screen, printable, shareable as a
//! single file.
//!
//! Invariants:
//! - **No network resource of any kind.** Styles and the script are inline; there is no `src`,
//!   no external `href`, no `url()`, no font or image. A `Content-Security-Policy` meta tag
//!   (`default-src 'none'`) makes the browser refuse any request the page might still try, so a
//!   mistake shows up as a console error in `scripts/check_html_report.sh` instead of a leak.
//! - All data goes through [`escape_html`]; classes and ids are the renderer's own constants or
//!   kind names, which are fixed identifiers.
//! - Works without the script: the script only adds sorting (click a column heading), a filter
//!   over the object tables, and opens every collapsed section before printing.

use std::fmt::Write as _;

use super::estimate::human_duration;
use super::model::PlanReport;
use super::table::{Cell, escape_html, html_inline, html_table};
use super::view::{
    codes_table, items_table, kind_sections, kinds_table, summary_sentences, writes_table,
};

const STYLE: &str = r#"
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --soft:#f6f8fa; --accent:#0969da; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.5 -apple-system, "Segoe UI", "Helvetica Neue", Arial, sans-serif; color:var(--fg); background:var(--bg); }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 64px; }
header.top { border-bottom: 1px solid var(--line); padding-bottom: 12px; margin-bottom: 20px; }
h1 { font-size: 24px; margin: 0 0 6px; }
h2 { font-size: 19px; margin: 36px 0 12px; padding-bottom: 6px; border-bottom: 1px solid var(--line); }
h3 { font-size: 16px; margin: 24px 0 8px; }
.meta { color: var(--muted); margin: 0; }
code { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--soft); border-radius: 4px; padding: 1px 4px; overflow-wrap: anywhere; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin: 16px 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: var(--soft); }
.card .n { font-size: 24px; font-weight: 600; display: block; }
.card .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card.blocker { border-color: #cf222e; } .card.blocker .n { color: #cf222e; }
.card.manual .n { color: #bc4c00; }
ul.sentences { padding-left: 20px; }
nav.toc { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: 8px 16px; }
nav.toc ol { margin: 4px 0; padding-left: 20px; columns: 2; }
nav.toc a { color: var(--accent); text-decoration: none; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; }
th, td { border: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
th[data-col] { cursor: pointer; user-select: none; }
th[data-col]::after { content: " \2195"; color: #8c959f; font-weight: 400; }
th.asc::after { content: " \2191"; } th.desc::after { content: " \2193"; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) { background: #fbfcfd; }
table.items td:first-child { width: 34%; }
table.items td:nth-child(2) { white-space: nowrap; }
table.codes td:nth-child(2) code { white-space: nowrap; overflow-wrap: normal; }
table.summary { width: auto; min-width: 60%; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 11px; font-weight: 600; line-height: 18px; text-transform: uppercase; letter-spacing: .03em; border: 1px solid transparent; }
.badge.create { background:#dafbe1; color:#116329; border-color:#aceebb; }
.badge.adopt { background:#ddf4ff; color:#0550ae; border-color:#b6e3ff; }
.badge.update { background:#e0f7f5; color:#0a5c55; border-color:#a8e6df; }
.badge.skip, .badge.other { background:#eff2f5; color:#59636e; border-color:#d1d9e0; }
.badge.manual { background:#fff1e5; color:#953800; border-color:#ffd8b5; }
.badge.blocker { background:#ffebe9; color:#a40e26; border-color:#ffcecb; }
.badge.lossy { background:#fbefff; color:#6e40c9; border-color:#ecd8ff; }
.badge.info { background:#f6f8fa; color:#3d444d; border-color:#d1d9e0; }
.filters { position: sticky; top: 0; z-index: 2; background: var(--bg); border-bottom: 1px solid var(--line); padding: 8px 0; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
.filters input[type=search] { flex: 1 1 280px; padding: 6px 10px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
.filters select { padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; font: inherit; background: var(--bg); }
.filters .count { color: var(--muted); }
details { margin: 4px 0 12px; } summary { cursor: pointer; color: var(--muted); }
.group { border: 1px solid var(--line); border-radius: 8px; padding: 4px 16px 8px; margin: 12px 0; break-inside: avoid-page; }
.group p { color: var(--muted); margin: 4px 0 8px; }
ul.checklist { list-style: none; padding-left: 0; margin: 0; }
ul.checklist li { padding: 4px 0; border-top: 1px solid #eef1f4; display: flex; gap: 8px; align-items: baseline; }
ul.checklist input { margin: 0; flex: none; }
.fields { color: var(--muted); }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print {
  body { font-size: 10.5px; }
  main { max-width: none; padding: 0; }
  .filters, th[data-col]::after { display: none; content: none; }
  nav.toc ol { columns: 3; }
  tr, li, .card { break-inside: avoid; }
  thead { display: table-header-group; }
  a { color: inherit; text-decoration: none; }
  tbody tr:nth-child(even) { background: none; }
}
"#;

/// Sorting, filtering, and opening collapsed sections for print. Plain DOM, no dependency.
const SCRIPT: &str = r#"
(function () {
  "use strict";
  function key(cell) { return (cell.textContent || "").trim(); }
  document.querySelectorAll("table").forEach(function (table) {
    table.querySelectorAll("th[data-col]").forEach(function (th) {
      th.addEventListener("click", function () {
        var col = Number(th.getAttribute("data-col"));
        var asc = !th.classList.contains("asc");
        table.querySelectorAll("th").forEach(function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(asc ? "asc" : "desc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[col]), y = key(b.cells[col]);
          var nx = Number(x), ny = Number(y);
          var c = (x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
          return asc ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var search = document.getElementById("filter-text");
  var severity = document.getElementById("filter-severity");
  var count = document.getElementById("filter-count");
  function apply() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var sev = severity.value;
    var shown = 0;
    document.querySelectorAll("table.items tbody tr").forEach(function (row) {
      var text = row.textContent.toLowerCase();
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; });
      if (ok && sev === "any-finding") { ok = row.querySelector("td:last-child .badge") !== null; }
      else if (ok && sev !== "") { ok = row.querySelector("td:last-child .badge." + sev) !== null; }
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    if (words.length || sev) {
      document.querySelectorAll("details.kind").forEach(function (d) { d.open = true; });
    }
    count.textContent = shown + " objects shown";
  }
  if (search && severity && count) {
    search.addEventListener("input", apply);
    severity.addEventListener("change", apply);
  }
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
})();
"#;

/// The HTML document.
pub fn render(report: &PlanReport) -> String {
    let plan = &report.plan;
    let s = &report.summary;
    let mut out = String::new();
    let title = format!("Compatibility report: {} → {}", plan.workspace, plan.target);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"segbridge {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        env!("CARGO_PKG_VERSION"),
        escape_html(&title)
    );
    let _ = write!(
        out,
        "<header class=\"top\">\n<h1>Compatibility report: <code>{}</code> → <code>{}</code></h1>\n\
         <p class=\"meta\">Plan {} · {} mode · on conflict: {} · export run {} · planned {} · segbridge {} · schema version {}</p>\n</header>\n",
        escape_html(&plan.workspace),
        escape_html(&plan.target),
        plan.id,
        escape_html(&plan.mode),
        escape_html(&plan.on_conflict),
        plan.export_run,
        escape_html(&plan.planned_at),
        env!("CARGO_PKG_VERSION"),
        report.schema_version
    );

    let get =
        |map: &std::collections::BTreeMap<String, usize>, k: &str| map.get(k).copied().unwrap_or(0);
    out.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n<div class=\"cards\">\n");
    let cards = [
        ("", s.objects.to_string(), "objects"),
        ("", s.writes.calls.to_string(), "write requests"),
        (
            "",
            human_duration(s.writes.estimated_seconds),
            "at least, under rate limits",
        ),
        (
            "blocker",
            get(&s.findings, "blocker").to_string(),
            "blockers",
        ),
        (
            "manual",
            get(&s.findings, "manual").to_string(),
            "manual findings",
        ),
        ("", get(&s.findings, "lossy").to_string(), "lossy findings"),
        ("", s.follow_ups.to_string(), "follow-ups"),
    ];
    for (class, n, label) in cards {
        let _ = writeln!(
            out,
            "<div class=\"card {class}\"><span class=\"n\">{}</span><span class=\"l\">{}</span></div>",
            escape_html(&n),
            escape_html(label)
        );
    }
    out.push_str("</div>\n<ul class=\"sentences\">\n");
    for sentence in summary_sentences(report) {
        let _ = writeln!(
            out,
            "<li>{}</li>",
            html_inline(&Cell::backticked(&sentence))
        );
    }
    out.push_str("</ul>\n");

    let sections = kind_sections(report);
    out.push_str("<nav class=\"toc\"><strong>Contents</strong><ol>\n");
    out.push_str("<li><a href=\"#summary\">Summary</a></li>\n");
    for section in &sections {
        let _ = writeln!(
            out,
            "<li><a href=\"#{}\">{}</a> ({})</li>",
            escape_html(&section.anchor),
            escape_html(&section.title),
            section.items.len()
        );
    }
    out.push_str("<li><a href=\"#follow-ups\">Manual follow-ups</a></li>\n</ol></nav>\n");

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
    out.push_str(
        "<div class=\"filters\"><input type=\"search\" id=\"filter-text\" placeholder=\"Filter objects: name, id, code, text…\" aria-label=\"Filter objects\">\
         <select id=\"filter-severity\" aria-label=\"Findings\"><option value=\"\">All objects</option>\
         <option value=\"any-finding\">With findings</option><option value=\"blocker\">With blockers</option>\
         <option value=\"manual\">With manual findings</option><option value=\"lossy\">With lossy findings</option>\
         <option value=\"info\">With info findings</option></select><span class=\"count\" id=\"filter-count\"></span></div>\n",
    );
    for section in &sections {
        let _ = writeln!(
            out,
            "<h3 id=\"{}\">{} <span class=\"meta\">({} objects, {} findings)</span></h3>",
            escape_html(&section.anchor),
            escape_html(&section.title),
            section.items.len(),
            section.findings
        );
        let table = html_table(&items_table(section), "items");
        if section.collapsed {
            let _ = writeln!(
                out,
                "<details class=\"kind\"><summary>{} objects, all resolved in the target or skipped, without findings</summary>\n{table}</details>",
                section.items.len()
            );
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
    let _ = write!(
        out,
        "<footer>Made by segbridge {} from the ledger's plan {}. Secret values are never part of a report.</footer>\n</main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        plan.id
    );
    out
}
