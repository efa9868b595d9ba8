//! The audit renderers on a hand-made report holding one result of each status, the customer's
//! free text at its worst (`|`, `<`, backticks, line breaks, very long values) and a delivery
//! check: escaping, layout, CSV records and determinism.

use serde_json::{Value, json};

use super::*;
use crate::audit::report::fixtures::one_of_each;
use crate::audit::{FieldDiff, NotComparable, ResourceResult, Status};
use crate::model::Kind;

const GA: &str = "workspaces/acme/sources/web/destinations/google-analytics";
const TARGET: &str = "https://eu1.api.segmentapis.com|ws1";

/// The fixture every audit printer shares, with the customer's free text at its worst in the
/// differing destination and the unexpected source, and the time of the audit.
fn report() -> AuditReport {
    let fixture = one_of_each();
    let mut results = fixture.results;
    for result in &mut results {
        match result.status {
            Status::Differ => {
                result.differences[1] = FieldDiff {
                    path: "settings.trackingId".into(),
                    expected: Some(json!("UA-1 | <b>bold</b>")),
                    actual: Some(json!("line one\nline two `tick`")),
                };
                result.differences.push(FieldDiff {
                    path: "settings.schema".into(),
                    expected: Some(json!({"properties": {"p": "z".repeat(400)}})),
                    actual: None,
                });
                result.not_comparable.push(NotComparable {
                    path: "settings.password".into(),
                    reason: "secret".into(),
                });
                result.notes.push(
                    "Enabled in the source, disabled in the target: pending cut-over.".into(),
                );
            }
            Status::UnexpectedInTarget => {
                result.notes[0] = "No Config object maps to it: <made> in the target.".into();
            }
            _ => {}
        }
    }
    // Built again, so the added differences are sorted as the audit sorts them.
    AuditReport::new(
        fixture.workspace,
        fixture.target,
        fixture.plan,
        fixture.kinds,
        results,
        fixture.delivery,
    )
    .audited_at("2025-05-02T09:14:03Z")
}

fn matching_report() -> AuditReport {
    AuditReport::new(
        "acme".into(),
        TARGET.into(),
        3,
        vec![Kind::Sources],
        vec![ResourceResult::new(
            Kind::Sources,
            Some("workspaces/acme/sources/web".into()),
            Some("s1".into()),
        )],
        None,
    )
}

#[test]
fn every_format_renders_the_same_bytes_twice() {
    for format in ReportFormat::ALL {
        assert_eq!(
            render_audit(&report(), format),
            render_audit(&report(), format),
            "{format:?}"
        );
    }
}

#[test]
fn markdown_has_the_verdict_the_counts_and_each_problem() {
    let md = render_audit(&report(), ReportFormat::Markdown);
    assert!(md.starts_with("# Audit report: `acme` → `https://eu1.api.segmentapis.com|ws1`\n"));
    assert!(md.contains("run at 2025-05-02T09:14:03Z"), "{md}");
    assert!(
        md.contains("**Verdict: differences.** 4 problems: the target does not match the source (1 differ, 1 missing in target, 1 unexpected in target, 1 destination with a delivery problem)."),
        "{md}"
    );
    assert!(md.contains("| Kind | match | differ | missing in target | unexpected in target | not comparable | Total |"));
    assert!(
        md.contains("| Destinations | 0 | 1 | 0 | 0 | 0 | 1 |"),
        "{md}"
    );
    assert!(md.contains("| **Total** | 1 | 1 | 1 | 1 | 1 | 5 |"), "{md}");
    assert!(md.contains(&format!("### differ: `{GA}`")));
    assert!(md.contains("### unexpected in target: `s9`"));
    assert!(md.contains("Status `missing-in-target` · Config name"));
    // The matching source is counted and listed in a collapsed table, not as a problem.
    assert!(
        md.contains("<details><summary>1 matching resource</summary>"),
        "{md}"
    );
    assert!(!md.contains("### match"));
    assert!(md.contains("Not compared: `settings.password` (secret)."));
    assert!(md.contains("## Delivery after cut-over"));
    assert!(md.contains("| differ | `workspaces/acme/sources/web/destinations/google-analytics` | `d1` | 1200 | 3 | 0 | 0 |"), "{md}");
}

#[test]
fn markdown_values_cannot_break_a_table_or_inject_html() {
    let md = render_audit(&report(), ReportFormat::Markdown);
    let row = md
        .lines()
        .find(|l| l.starts_with("| `settings.trackingId`"))
        .unwrap();
    // Three cells: the `|` inside the value is escaped, the line break is JSON's `\n`.
    let bare_pipes = row
        .char_indices()
        .filter(|(i, c)| *c == '|' && !row[..*i].ends_with('\\'))
        .count();
    assert_eq!(bare_pipes, 4, "{row}");
    assert!(row.contains(r#"`"UA-1 \| <b>bold</b>"`"#), "{row}");
    assert!(row.contains(r#"``"line one\nline two `tick`"``"#), "{row}");
    // Outside code spans no tag survives.
    assert!(md.contains("&lt;made&gt; in the target"), "{md}");
    assert!(!md.contains("<made>"));
    // The long schema is cut with the rest counted, and absent is said.
    let schema = md
        .lines()
        .find(|l| l.starts_with("| `settings.schema`"))
        .unwrap();
    assert!(
        schema.contains("…` (263 ") && schema.contains("more characters) | (absent) |"),
        "{schema}"
    );
    assert!(schema.chars().count() < 300, "{schema}");
}

#[test]
fn a_matching_audit_says_so_and_lists_no_problem() {
    let md = render_audit(&matching_report(), ReportFormat::Markdown);
    assert!(md.contains("**Verdict: match.** The target matches the source: 1 resource compared, 1 match, 0 not comparable."), "{md}");
    assert!(md.contains("time not recorded"));
    assert_eq!(
        md.matches("\n### ").count(),
        1,
        "only the summary table's heading: {md}"
    );
    assert!(!md.contains("Delivery"));
    let html = render_audit(&matching_report(), ReportFormat::Html);
    assert!(html.contains("<p class=\"verdict ok\" id=\"verdict\">The target matches the source"));
    let csv = render_audit(&matching_report(), ReportFormat::Csv);
    assert_eq!(
        csv,
        "kind,config_name,public_id,status,finding,path,expected,actual,note\r\n"
    );
}

#[test]
fn html_escapes_data_nests_the_fields_and_loads_nothing() {
    let html = render_audit(&report(), ReportFormat::Html);
    assert!(html.contains("<p class=\"verdict fail\" id=\"verdict\">4 problems:"));
    assert!(!html.contains("<b>bold</b>") && !html.contains("<made>"));
    assert!(
        html.contains("&quot;UA-1 | &lt;b&gt;bold&lt;/b&gt;&quot;"),
        "{html}"
    );
    assert!(html.contains("&lt;made&gt; in the target"));
    assert!(html.contains("<span class=\"badge differ\">differ</span>"));
    assert!(html.contains("<span class=\"badge missing-in-target\">missing-in-target</span>"));
    // The differing fields are a table inside the resource's row.
    let row = html
        .lines()
        .find(|l| l.contains("<span class=\"badge differ\">differ</span></td><td><code>workspaces"))
        .expect("the differ row");
    assert!(row.contains("<table class=\"diffs\">"), "{row}");
    assert!(html.contains("<table class=\"items audit\">"));
    assert!(
        html.contains("id=\"filter-badge\" data-cell=\"td:first-child\" data-noun=\"resources\"")
    );
    assert!(html.contains("<details class=\"kind\"><summary>1 matching resource</summary>"));
    assert_eq!(
        html.matches("<script>").count(),
        1,
        "only the page's own script"
    );
    assert!(html.contains("default-src 'none'"));
    let outside_text = html.replace(TARGET, "");
    for needle in ["src=", "<link", "@import", "url(", "http://", "https://"] {
        assert!(
            !outside_text.contains(needle),
            "`{needle}` in the HTML report"
        );
    }
    // The same frame as the plan report.
    assert!(html.contains("<header class=\"top\">") && html.contains("<nav class=\"toc\">"));
}

#[test]
fn csv_has_a_record_per_finding_with_whole_values() {
    let csv = render_audit(&report(), ReportFormat::Csv);
    // No value holds CR LF (JSON escapes line breaks), so records split on it.
    let records: Vec<&str> = csv.split_terminator("\r\n").collect();
    assert_eq!(
        records[0],
        "kind,config_name,public_id,status,finding,path,expected,actual,note"
    );
    let ga = |rest: &str| format!("destinations,{GA},d1,differ,{rest}");
    assert_eq!(
        records[1..],
        [
            "sources,,s9,unexpected-in-target,resource,,,,No Config object maps to it: <made> in the target.".to_owned(),
            ga("resource,,,,\"Enabled in the source, disabled in the target: pending cut-over.\""),
            ga(r#"difference,settings.apiKey,"""<secret: present>""",,"#),
            ga(&format!(
                "difference,settings.schema,\"{{\"\"properties\"\":{{\"\"p\"\":\"\"{}\"\"}}}}\",,",
                "z".repeat(400)
            )),
            ga(r#"difference,settings.trackingId,"""UA-1 | <b>bold</b>""","""line one\nline two `tick`""","#),
            ga("not-compared,settings.password,,,secret"),
            format!("destination_filters,{GA}/filters/df_1,f1,missing-in-target,resource,,,,\"The ledger maps it to `f1`, which the target does not hold.\""),
            "functions,sfnc_1,,not-comparable,resource,,,,Not migrated: the plan's action is `manual`.".to_owned(),
            ga(r#"delivery,,"{""delivered"":1200,""not_delivered"":3}","{""delivered"":0,""not_delivered"":0}",Delivers nothing; the source delivered 1200 events in its baseline."#),
        ]
    );
}

#[test]
fn json_is_the_report_itself() {
    let json: Value = serde_json::from_str(&render_audit(&report(), ReportFormat::Json)).unwrap();
    assert_eq!(json, serde_json::to_value(report()).unwrap());
    assert_eq!(json["report"], "audit");
    assert_eq!(json["audited_at"], "2025-05-02T09:14:03Z");
}

#[cfg(unix)]
#[test]
fn every_file_is_written_private_in_its_format() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<ReportPath> = ["a.md", "a.htm", "a.json", "a.csv"]
        .iter()
        .map(|n| dir.path().join(n).to_str().unwrap().parse().unwrap())
        .collect();
    let written = write_audit_reports(&report(), &paths).unwrap();
    assert_eq!(written.len(), 4);
    for (path, format) in paths.iter().zip(ReportFormat::ALL) {
        let text = std::fs::read_to_string(&path.path).unwrap();
        assert_eq!(text, render_audit(&report(), format));
        let mode = std::fs::metadata(&path.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let nowhere: ReportPath = dir
        .path()
        .join("missing/dir/a.md")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let error = write_audit_reports(&report(), &[nowhere]).unwrap_err();
    assert!(error.to_string().contains("missing/dir/a.md"), "{error}");
}
