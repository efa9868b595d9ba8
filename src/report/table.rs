//! Format-neutral tables and the escaping every renderer needs: the helpers the plan report is
//! drawn with, meant to be reused by the audit and id-map reports.
//!
//! A [`Table`] is headers plus rows of [`Cell`]s, each a sequence of styled [`Span`]s (plain,
//! code, strong, a badge with a CSS class, a line break). [`markdown_table`] and [`html_table`]
//! draw it; [`csv_record`] quotes one CSV record.
//!
//! Invariants: every piece of text from the ledger passes through [`escape_html`] or
//! [`escape_markdown_cell`] before it reaches a document, because Config names, display names and
//! FQL conditions are the customer's free text (`<`, `|`, backticks and newlines all occur);
//! badge classes are only ever the renderers' own constants, never data.

use std::fmt::Write as _;

/// How a span is drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Style {
    Plain,
    Code,
    Strong,
    /// A coloured label; the class is a renderer constant (`create`, `blocker`, …).
    Badge(&'static str),
    /// A line break inside the cell (its text is ignored).
    Break,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub style: Style,
}

/// One table cell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cell {
    pub spans: Vec<Span>,
}

impl Cell {
    pub fn text(text: impl Into<String>) -> Cell {
        Cell::default().plain(text)
    }

    pub fn code(text: impl Into<String>) -> Cell {
        Cell::default().with(text, Style::Code)
    }

    pub fn badge(text: impl Into<String>, class: &'static str) -> Cell {
        Cell::default().with(text, Style::Badge(class))
    }

    pub fn number(n: usize) -> Cell {
        Cell::text(n.to_string())
    }

    pub fn with(mut self, text: impl Into<String>, style: Style) -> Cell {
        self.spans.push(Span {
            text: text.into(),
            style,
        });
        self
    }

    pub fn plain(self, text: impl Into<String>) -> Cell {
        self.with(text, Style::Plain)
    }

    pub fn line_break(self) -> Cell {
        self.with(String::new(), Style::Break)
    }

    /// Text whose backtick-quoted parts (`name`) become code spans, as the findings' sentences
    /// quote names; an unpaired backtick stays plain text.
    pub fn backticked(text: &str) -> Cell {
        let parts: Vec<&str> = text.split('`').collect();
        // Backticks pair up from the left; with an odd count the last one is literal.
        let pairs = (parts.len() - 1) / 2;
        let mut cell = Cell::default();
        for (index, part) in parts.iter().enumerate() {
            if index % 2 == 1 && index < 2 * pairs + 1 {
                cell = cell.with(*part, Style::Code);
            } else if index > 2 * pairs {
                cell = cell.plain(format!("`{part}"));
            } else if !part.is_empty() {
                cell = cell.plain(*part);
            }
        }
        cell
    }

    /// The cell's text without styling, for sorting and CSV.
    pub fn plain_text(&self) -> String {
        let mut out = String::new();
        for span in &self.spans {
            match span.style {
                Style::Break => out.push('\n'),
                _ => out.push_str(&span.text),
            }
        }
        out
    }
}

/// Column alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub title: String,
    pub align: Align,
}

/// A table: columns and rows of cells (each row has one cell per column).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(columns: &[(&str, Align)]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|(title, align)| Column {
                    title: (*title).to_owned(),
                    align: *align,
                })
                .collect(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len(), "one cell per column");
        self.rows.push(row);
    }
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a Markdown table cell or paragraph: HTML-special characters become entities
/// (Markdown renderers pass raw HTML through), Markdown punctuation is backslash-escaped, and
/// line breaks become `<br>` (a table row is one line).
pub fn escape_markdown_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => {}
            '\n' => out.push_str("<br>"),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A Markdown code span holding `text` verbatim: the fence is one backtick more than the longest
/// run inside. For a table cell use [`markdown_inline`] or [`markdown_table`], which also escape
/// `|` (GitHub ends a cell at a bare `|` even inside a code span).
pub fn markdown_code(text: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let body = text.replace(['\n', '\r'], " ");
    let pad = if body.starts_with('`') || body.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}

/// A cell's content as inline Markdown, safe in a table cell as well as in running text.
pub fn markdown_inline(cell: &Cell) -> String {
    let mut out = String::new();
    for span in &cell.spans {
        match &span.style {
            Style::Plain => out.push_str(&escape_markdown_cell(&span.text)),
            Style::Code => out.push_str(&markdown_code(&span.text).replace('|', "\\|")),
            Style::Strong => {
                let _ = write!(out, "**{}**", escape_markdown_cell(&span.text));
            }
            Style::Badge(_) => out.push_str(&escape_markdown_cell(&span.text)),
            Style::Break => out.push_str("<br>"),
        }
    }
    out
}

/// The table as a GitHub-flavoured Markdown table.
pub fn markdown_table(table: &Table) -> String {
    let mut out = String::new();
    out.push('|');
    for column in &table.columns {
        let _ = write!(out, " {} |", escape_markdown_cell(&column.title));
    }
    out.push_str("\n|");
    for column in &table.columns {
        out.push_str(match column.align {
            Align::Left => " --- |",
            Align::Right => " ---: |",
        });
    }
    out.push('\n');
    for row in &table.rows {
        out.push('|');
        for cell in row {
            let _ = write!(out, " {} |", markdown_inline(cell));
        }
        out.push('\n');
    }
    out
}

/// A cell's content as inline HTML.
pub fn html_inline(cell: &Cell) -> String {
    let mut out = String::new();
    for span in &cell.spans {
        let text = escape_html(&span.text);
        match &span.style {
            Style::Plain => out.push_str(&text),
            Style::Code => {
                let _ = write!(out, "<code>{text}</code>");
            }
            Style::Strong => {
                let _ = write!(out, "<strong>{text}</strong>");
            }
            Style::Badge(class) => {
                let _ = write!(out, "<span class=\"badge {class}\">{text}</span>");
            }
            Style::Break => out.push_str("<br>"),
        }
    }
    out
}

/// The start of an HTML `<table>` with the given class, up to the opening `<tbody>`: for a
/// renderer that writes rows [`html_table`] cannot (a cell holding a table of its own).
pub fn html_table_head(columns: &[Column], class: &str) -> String {
    let mut out = format!("<table class=\"{}\">\n<thead><tr>", escape_html(class));
    for (index, column) in columns.iter().enumerate() {
        let align = match column.align {
            Align::Left => "",
            Align::Right => " class=\"num\"",
        };
        let _ = write!(
            out,
            "<th{align} data-col=\"{index}\" scope=\"col\">{}</th>",
            escape_html(&column.title)
        );
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    out
}

/// The table as an HTML `<table>` with the given class; headers carry `data-col` so the inline
/// script can sort by them, and numeric columns are marked `num` for alignment and sorting.
pub fn html_table(table: &Table, class: &str) -> String {
    let mut out = html_table_head(&table.columns, class);
    for row in &table.rows {
        out.push_str("<tr>");
        for (cell, column) in row.iter().zip(&table.columns) {
            let align = match column.align {
                Align::Left => "",
                Align::Right => " class=\"num\"",
            };
            let _ = write!(out, "<td{align}>{}</td>", html_inline(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// One CSV field, quoted per RFC 4180 when it holds a comma, a double quote, CR or LF (quotes
/// doubled), as is otherwise.
pub fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// One CSV record terminated by CRLF, as RFC 4180 specifies.
pub fn csv_record<S: AsRef<str>>(fields: &[S]) -> String {
    let mut out = fields
        .iter()
        .map(|f| csv_field(f.as_ref()))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_rfc_4180_requires() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_record(&["a", "b,c", ""]), "a,\"b,c\",\r\n");
    }

    #[test]
    fn html_escaping_covers_content_and_attributes() {
        assert_eq!(
            escape_html(r#"<script>"x" & 'y'</script>"#),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn markdown_cells_cannot_break_the_table_or_inject_html() {
        let escaped = escape_markdown_cell("a | b\n<img src=x> `c` *d*");
        assert!(!escaped.contains('\n'));
        assert!(!escaped.contains("<img"));
        assert!(escaped.contains("a \\| b<br>&lt;img"), "{escaped}");
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("`x"), "`` `x ``");
        assert_eq!(markdown_code("x|y"), "`x|y`");
        assert_eq!(markdown_inline(&Cell::code("x|y")), "`x\\|y`");
    }

    #[test]
    fn tables_render_in_both_formats() {
        let mut table = Table::new(&[("name", Align::Left), ("n", Align::Right)]);
        table.push(vec![
            Cell::code("js").line_break().plain("<b>"),
            Cell::badge("3", "create"),
        ]);
        let md = markdown_table(&table);
        assert_eq!(
            md,
            "| name | n |\n| --- | ---: |\n| `js`<br>&lt;b&gt; | 3 |\n"
        );
        let html = html_table(&table, "items");
        assert!(
            html.contains("<td><code>js</code><br>&lt;b&gt;</td>"),
            "{html}"
        );
        assert!(html.contains("<td class=\"num\"><span class=\"badge create\">3</span></td>"));
        assert_eq!(table.rows[0][0].plain_text(), "js\n<b>");
    }

    #[test]
    fn backticked_sentences_become_code_spans() {
        let cell = Cell::backticked("Plan `Web` gets a new `tp_` id");
        assert_eq!(markdown_inline(&cell), "Plan `Web` gets a new `tp_` id");
        assert_eq!(
            html_inline(&cell),
            "Plan <code>Web</code> gets a new <code>tp_</code> id"
        );
        let odd = Cell::backticked("a `b` c `d");
        assert_eq!(odd.plain_text(), "a b c `d");
    }
}
