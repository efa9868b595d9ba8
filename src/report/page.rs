//! The HTML page every report is drawn in: one self-contained document with the shared style
//! sheet and script, plus the pieces both the plan and the audit report put on it (summary
//! cards, contents, the filter bar), so the two reports look and behave alike and a fix to one
//! reaches the other.
//!
//! Invariants:
//! - **No network resource of any kind.** Styles and the script are inline; there is no `src`,
//!   no external `href`, no `url()`, no font or image. A `Content-Security-Policy` meta tag
//!   (`default-src 'none'`) makes the browser refuse any request the page might still try, so a
//!   mistake shows up as a console error in `scripts/check_html_report.sh` instead of a leak.
//! - Every argument that is text is escaped here; arguments named `*_html` are markup the
//!   renderers built from escaped data. Classes are renderer constants, never data.
//! - Works without the script: the script only adds sorting (click a column heading), the
//!   filter over the tables of class `items`, and opens every collapsed section before printing.

use std::fmt::Write as _;

use super::table::{Cell, escape_html, html_inline};

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
.card.ok .n { color: #1a7f37; }
.verdict { margin: 0 0 16px; padding: 10px 14px; border: 1px solid; border-left-width: 5px; border-radius: 6px; font-size: 16px; font-weight: 600; }
.verdict.ok { background: #dafbe1; border-color: #1a7f37; color: #116329; }
.verdict.fail { background: #ffebe9; border-color: #cf222e; color: #a40e26; }
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
table.audit > tbody > tr > td:first-child { width: 1%; white-space: nowrap; }
table.audit > tbody > tr > td:nth-child(2) { width: 25%; white-space: normal; }
table.audit > tbody > tr > td:nth-child(3) { white-space: nowrap; }
table.audit > tbody > tr > td:nth-child(3) code { overflow-wrap: normal; }
table.diffs { margin: 2px 0 6px; table-layout: fixed; }
table.diffs th, table.diffs td { padding: 3px 6px; font-size: 12px; }
/* A table inside an `items` row: undo the widths meant for the outer table's cells. */
table.diffs td:first-child, table.diffs td:nth-child(2) { width: auto; white-space: normal; }
table.diffs th:first-child { width: 30%; }
table.diffs tbody tr:nth-child(even) { background: none; }
table.codes td:nth-child(2) code { white-space: nowrap; overflow-wrap: normal; }
table.summary { width: auto; min-width: 60%; }
.badge { display: inline-block; padding: 0 7px; border-radius: 10px; font-size: 11px; font-weight: 600; line-height: 18px; text-transform: uppercase; letter-spacing: .03em; border: 1px solid transparent; white-space: nowrap; }
.badge.create, .badge.match { background:#dafbe1; color:#116329; border-color:#aceebb; }
.badge.adopt { background:#ddf4ff; color:#0550ae; border-color:#b6e3ff; }
.badge.update { background:#e0f7f5; color:#0a5c55; border-color:#a8e6df; }
.badge.skip, .badge.other, .badge.not-comparable { background:#eff2f5; color:#59636e; border-color:#d1d9e0; }
.badge.manual, .badge.differ { background:#fff1e5; color:#953800; border-color:#ffd8b5; }
.badge.blocker, .badge.missing-in-target { background:#ffebe9; color:#a40e26; border-color:#ffcecb; }
.badge.lossy, .badge.unexpected-in-target { background:#fbefff; color:#6e40c9; border-color:#ecd8ff; }
.badge.info { background:#f6f8fa; color:#3d444d; border-color:#d1d9e0; }
.absent { color: var(--muted); font-style: italic; }
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
ul.notes { margin: 2px 0; padding-left: 18px; }
.fields, .note { color: var(--muted); }
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
/// Only a table's own heading sorts it and only the rows of `items` tables are filtered, so a
/// table nested in a cell (an audit's field differences) moves with its row.
const SCRIPT: &str = r#"
(function () {
  "use strict";
  function key(cell) { return (cell.textContent || "").trim(); }
  document.querySelectorAll("table").forEach(function (table) {
    var heads = table.querySelectorAll(":scope > thead th");
    heads.forEach(function (th) {
      if (!th.hasAttribute("data-col")) { return; }
      th.addEventListener("click", function () {
        var col = Number(th.getAttribute("data-col"));
        var asc = !th.classList.contains("asc");
        heads.forEach(function (h) { h.classList.remove("asc", "desc"); });
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
  var badges = document.getElementById("filter-badge");
  var count = document.getElementById("filter-count");
  function apply() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var wanted = badges.value.split(" ").filter(Boolean);
    var cell = badges.getAttribute("data-cell");
    var shown = 0;
    document.querySelectorAll("table.items > tbody > tr").forEach(function (row) {
      var text = row.textContent.toLowerCase();
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; });
      if (ok && wanted.length) {
        ok = wanted.some(function (c) { return row.querySelector(cell + " .badge." + c) !== null; });
      }
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    if (words.length || wanted.length) {
      document.querySelectorAll("details.kind").forEach(function (d) { d.open = true; });
    }
    count.textContent = shown + " " + badges.getAttribute("data-noun") + " shown";
  }
  if (search && badges && count) {
    search.addEventListener("input", apply);
    badges.addEventListener("change", apply);
  }
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
})();
"#;

/// A whole report page.
pub struct Page<'a> {
    /// The window title, plain text.
    pub title: &'a str,
    /// The `<h1>` content.
    pub heading_html: &'a str,
    /// The line under the heading.
    pub meta_html: &'a str,
    /// Everything between the header and the footer.
    pub body_html: &'a str,
    /// What the report was made from, for the footer, plain text: `the ledger's plan 3`.
    pub made_from: &'a str,
}

/// The HTML document: head with the policy, style and title, the page, then the script.
pub fn document(page: &Page<'_>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"segbridge {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n\
         <header class=\"top\">\n<h1>{}</h1>\n<p class=\"meta\">{}</p>\n</header>\n",
        env!("CARGO_PKG_VERSION"),
        escape_html(page.title),
        page.heading_html,
        page.meta_html,
    );
    out.push_str(page.body_html);
    let _ = write!(
        out,
        "<footer>Made by segbridge {} from {}. Secret values are never part of a report.</footer>\n\
         </main>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        escape_html(page.made_from)
    );
    out
}

/// One summary figure: a number, its label, and a class (`""`, `blocker`, `manual`, `ok`).
pub struct Card {
    pub class: &'static str,
    pub n: String,
    pub label: String,
}

/// The row of summary cards.
pub fn cards(cards: &[Card]) -> String {
    let mut out = String::from("<div class=\"cards\">\n");
    for card in cards {
        let _ = writeln!(
            out,
            "<div class=\"card {}\"><span class=\"n\">{}</span><span class=\"l\">{}</span></div>",
            card.class,
            escape_html(&card.n),
            escape_html(&card.label)
        );
    }
    out.push_str("</div>\n");
    out
}

/// One line of the contents: anchor, title and an optional count.
pub struct TocEntry {
    pub anchor: String,
    pub title: String,
    pub count: Option<usize>,
}

/// The summary as a bulleted list; backtick-quoted names in a sentence become code.
pub fn sentences(sentences: &[String]) -> String {
    let mut out = String::from("<ul class=\"sentences\">\n");
    for sentence in sentences {
        let _ = writeln!(out, "<li>{}</li>", html_inline(&Cell::backticked(sentence)));
    }
    out.push_str("</ul>\n");
    out
}

/// The contents box: the summary (`#summary`, which every report opens with), then `entries`.
pub fn toc(entries: &[TocEntry]) -> String {
    let mut out = String::from(
        "<nav class=\"toc\"><strong>Contents</strong><ol>\n<li><a href=\"#summary\">Summary</a></li>\n",
    );
    for entry in entries {
        let _ = write!(
            out,
            "<li><a href=\"#{}\">{}</a>",
            escape_html(&entry.anchor),
            escape_html(&entry.title)
        );
        if let Some(n) = entry.count {
            let _ = write!(out, " ({n})");
        }
        out.push_str("</li>\n");
    }
    out.push_str("</ol></nav>\n");
    out
}

/// A kind's heading, with its anchor and a muted remark: `Sources (24 objects, 3 findings)`.
pub fn kind_heading(anchor: &str, title: &str, remark: &str) -> String {
    format!(
        "<h3 id=\"{}\">{} <span class=\"meta\">({})</span></h3>\n",
        escape_html(anchor),
        escape_html(title),
        escape_html(remark)
    )
}

/// Rows nobody has to read, closed: the script opens them when a filter is set and before
/// printing.
pub fn collapsed(summary: &str, inner_html: &str) -> String {
    format!(
        "<details class=\"kind\"><summary>{}</summary>\n{inner_html}</details>\n",
        escape_html(summary)
    )
}

/// The sticky filter bar over the `items` tables: a text box and a select whose option values
/// are space-separated badge classes (a row is shown when the cell `badge_cell` holds a badge of
/// one of them; `""` shows every row).
pub struct FilterBar<'a> {
    /// What the rows are, plural: `objects`, `resources`.
    pub noun: &'a str,
    pub placeholder: &'a str,
    /// CSS selector of the cell holding the badges within a row, e.g. `td:last-child`.
    pub badge_cell: &'a str,
    /// `(badge classes, label)`.
    pub options: &'a [(&'a str, &'a str)],
}

pub fn filter_bar(bar: &FilterBar<'_>) -> String {
    let mut out = format!(
        "<div class=\"filters\"><input type=\"search\" id=\"filter-text\" placeholder=\"{}\" aria-label=\"Filter {}\">\
         <select id=\"filter-badge\" data-cell=\"{}\" data-noun=\"{}\" aria-label=\"Show\">",
        escape_html(bar.placeholder),
        escape_html(bar.noun),
        escape_html(bar.badge_cell),
        escape_html(bar.noun)
    );
    for (classes, label) in bar.options {
        let _ = write!(
            out,
            "<option value=\"{}\">{}</option>",
            escape_html(classes),
            escape_html(label)
        );
    }
    out.push_str("</select><span class=\"count\" id=\"filter-count\"></span></div>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_escapes_its_text_and_loads_nothing() {
        let html = document(&Page {
            title: "a <b> & \"c\"",
            heading_html: "<code>x</code>",
            meta_html: "m",
            body_html: "<p>body</p>\n",
            made_from: "</footer><script>",
        });
        assert!(html.contains("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"));
        assert!(html.contains("<h1><code>x</code></h1>"));
        assert!(html.contains("from &lt;/footer&gt;&lt;script&gt;. Secret values"));
        assert_eq!(html.matches("<script>").count(), 1);
        assert!(html.contains("default-src 'none'"));
        for needle in ["src=", "<link", "@import", "url(", "http://", "https://"] {
            assert!(!html.contains(needle), "`{needle}` in the page");
        }
    }

    #[test]
    fn the_filter_bar_names_its_cell_and_classes() {
        let bar = filter_bar(&FilterBar {
            noun: "resources",
            placeholder: "Filter \"x\"",
            badge_cell: "td:first-child",
            options: &[("", "All"), ("differ missing-in-target", "Problems")],
        });
        assert!(bar.contains("data-cell=\"td:first-child\" data-noun=\"resources\""));
        assert!(bar.contains("<option value=\"differ missing-in-target\">Problems</option>"));
        assert!(bar.contains("placeholder=\"Filter &quot;x&quot;\""));
    }
}
