//! The report built from a plan stored in an in-memory ledger, through every renderer.

use serde_json::{Value, json};

use super::*;
use crate::ledger::{Ledger, RunStatus};
use crate::mapping::{Condition, Finding, FindingCode, Payload, RefField, Step};
use crate::model::Kind;
use crate::plan::{Action, IdPair, Mode, OnConflict, Plan, PlanItem};

const TARGET: &str = "http://127.0.0.1:1|ws_target";
/// A name with every character that could break a document.
const NASTY: &str = "workspaces/acme/sources/a|b<script>alert(1)</script>`x`,\"q\"";

fn finding(kind: Kind, name: &str, code: FindingCode, field: Option<&str>, msg: &str) -> Finding {
    Finding {
        code,
        severity: code.severity(),
        kind,
        config_name: name.to_owned(),
        field: field.map(str::to_owned),
        message: msg.to_owned(),
    }
}

fn payload(step: Step, method: &'static str, path: &'static str) -> Payload {
    Payload {
        step,
        method,
        path,
        path_params: vec![],
        body: Some(json!({"name": "x", "settings": {"apiKey": {"$secret": "apiKey"}}})),
        when: Condition::Always,
        records: vec![],
    }
}

fn item(kind: Kind, name: &str, action: Action) -> PlanItem {
    PlanItem {
        kind,
        config_name: name.to_owned(),
        action,
        target_id: None,
        natural_key: None,
        matched_by: None,
        conflict: false,
        payloads: vec![],
        findings: vec![],
    }
}

fn sample_plan() -> Plan {
    let source = "workspaces/acme/sources/web";
    let dest = "workspaces/acme/sources/web/destinations/salesforce";
    let mut web = item(Kind::Sources, source, Action::Create);
    web.payloads = vec![
        payload(Step::CreateSource, "POST", "/sources"),
        payload(Step::CreateLabel, "POST", "/labels"),
        payload(Step::SetSourceLabels, "PUT", "/sources/{sourceId}/labels"),
    ];
    web.findings = vec![finding(
        Kind::Sources,
        source,
        FindingCode::SourceWriteKeyRegenerated,
        Some("write_keys"),
        "Every app sending with …TuX3 must be switched to the new key at cut-over.",
    )];
    let mut salesforce = item(Kind::Destinations, dest, Action::Create);
    salesforce.payloads = vec![payload(Step::CreateDestination, "POST", "/destinations")];
    salesforce.findings = vec![
        finding(
            Kind::Destinations,
            dest,
            FindingCode::DestinationSecretRequired,
            Some("config.password"),
            "Setting `password` is secret.",
        ),
        finding(
            Kind::Destinations,
            dest,
            FindingCode::DestinationConnectionMode,
            Some("connection_mode"),
            "Connection mode CLOUD cannot be set, \"really\".",
        ),
    ];
    let mut nasty = item(Kind::Sources, NASTY, Action::Manual);
    nasty.conflict = true;
    nasty.target_id = Some("src_existing".into());
    nasty.findings = vec![finding(
        Kind::Sources,
        NASTY,
        FindingCode::TargetConflict,
        None,
        "The target already holds it\nwith <b>the key</b>.",
    )];
    let mut catalog = item(
        Kind::CatalogSources,
        "catalog/sources/javascript",
        Action::Adopt,
    );
    catalog.target_id = Some("IqDTy1TpoU".into());
    catalog.matched_by = Some("slug");
    Plan {
        mode: Mode::Create,
        on_conflict: OnConflict::Fail,
        items: vec![web, salesforce, nasty, catalog],
        id_map: vec![IdPair {
            kind: Kind::CatalogSources,
            config_name: "catalog/sources/javascript".into(),
            field: RefField::Id,
            public_id: "IqDTy1TpoU".into(),
            matched_by: "slug",
            natural_key: None,
        }],
    }
}

fn stored() -> Ledger {
    let mut ledger = Ledger::open_in_memory().unwrap();
    let export = ledger
        .begin_run("export", "http://127.0.0.1:2|acme")
        .unwrap();
    ledger.finish_run(export, RunStatus::Complete).unwrap();
    let run = ledger.begin_run("plan", TARGET).unwrap();
    ledger
        .store_plan(run, export, TARGET, &sample_plan())
        .unwrap();
    ledger.finish_run(run, RunStatus::Complete).unwrap();
    ledger
}

#[test]
fn the_summary_counts_what_the_ledger_holds() {
    let ledger = stored();
    let report = plan_report(&ledger, TARGET, &ReportOptions::default()).unwrap();
    let s = &report.summary;
    assert_eq!(report.plan.workspace, "acme");
    assert_eq!(s.objects, 4);
    assert_eq!(s.actions["create"], 2);
    assert_eq!(s.actions["manual"], 1);
    assert_eq!(s.actions["update"], 0);
    assert_eq!(s.kinds["sources"]["create"], 1);
    assert_eq!(s.findings["manual"], 3);
    assert_eq!(s.findings["blocker"], 1);
    assert_eq!(s.findings["lossy"], 0);
    assert_eq!(s.conflicts, 1);
    assert_eq!(s.writes.calls, 4);
    let ops: Vec<_> = s
        .writes
        .operations
        .iter()
        .map(|o| (o.operation.as_str(), o.calls, o.own_limit))
        .collect();
    assert_eq!(
        ops,
        [
            ("createDestination", 1, false),
            ("createLabel", 1, true),
            ("createSource", 1, false),
            ("replaceLabelsInSource", 1, false)
        ]
    );
    // Items sorted by kind, then Config name.
    let order: Vec<_> = report
        .items
        .iter()
        .map(|i| (i.kind.as_str(), i.config_name.as_str()))
        .collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(order, sorted);
    let ids: Vec<_> = report.follow_ups.iter().map(|g| g.id).collect();
    assert_eq!(
        ids,
        [
            "resolve_blockers",
            "supply_secrets",
            "rotate_write_keys",
            "set_connection_modes"
        ]
    );
    assert_eq!(s.follow_ups, 4);
    let secrets = &report.follow_ups[1].entries[0];
    assert_eq!(secrets.fields, ["config.password"]);
}

#[test]
fn a_target_without_a_plan_is_an_error() {
    let ledger = stored();
    let err = plan_report(&ledger, "elsewhere", &ReportOptions::default()).unwrap_err();
    assert!(err.to_string().contains("elsewhere"), "{err}");
}

#[test]
fn rendering_twice_gives_the_same_bytes() {
    let ledger = stored();
    for format in ReportFormat::ALL {
        let a = render_stored_plan(&ledger, TARGET, &ReportOptions::default(), format).unwrap();
        let b = render_stored_plan(&ledger, TARGET, &ReportOptions::default(), format).unwrap();
        assert_eq!(a, b, "{format:?}");
    }
}

#[test]
fn html_escapes_data_and_loads_nothing() {
    let ledger = stored();
    let html = render_stored_plan(
        &ledger,
        TARGET,
        &ReportOptions::default(),
        ReportFormat::Html,
    )
    .unwrap();
    assert!(!html.contains("<script>alert"), "unescaped data");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("<b>the key"));
    assert_eq!(
        html.matches("<script>").count(),
        1,
        "only the report's own script"
    );
    assert!(html.contains("default-src 'none'"));
    for needle in ["src=", "<link", "@import", "url(", "http://", "https://"] {
        // The target is a loopback URL in this test: it is shown as text, never loaded.
        let outside_text = html.replace(TARGET, "").replace("http://127.0.0.1:2", "");
        assert!(
            !outside_text.contains(needle),
            "`{needle}` in the HTML report"
        );
    }
    assert!(html.contains("<input type=\"checkbox\""));
}

#[test]
fn markdown_keeps_tables_intact() {
    let ledger = stored();
    let md = render_stored_plan(
        &ledger,
        TARGET,
        &ReportOptions::default(),
        ReportFormat::Markdown,
    )
    .unwrap();
    assert!(md.starts_with("# Compatibility report: `acme` → "));
    // Data is either escaped or inside a code span, where Markdown shows it literally.
    assert!(!md.contains("<b>the key"));
    assert!(md.contains("&lt;b&gt;the key"));
    let in_table = format!("``{}``", NASTY.replace('|', "\\|"));
    let in_text = format!("``{NASTY}``");
    assert_eq!(
        md.matches("<script>").count(),
        md.matches(in_table.as_str()).count() + md.matches(in_text.as_str()).count(),
        "`<script>` outside a code span"
    );
    // Every row of a table has as many unescaped pipes as the header.
    let mut header_pipes = None;
    for line in md.lines() {
        if !line.starts_with('|') {
            header_pipes = None;
            continue;
        }
        let pipes = line.replace("\\|", "").matches('|').count();
        match header_pipes {
            None => header_pipes = Some(pipes),
            Some(n) => assert_eq!(pipes, n, "{line}"),
        }
    }
    assert!(
        md.contains("- [ ] `workspaces/acme/sources/web` (`write_keys`)"),
        "{md}"
    );
    assert!(md.contains("<details>"), "the catalog is collapsed");
}

#[test]
fn json_carries_the_summary_and_the_items() {
    let ledger = stored();
    let text = render_stored_plan(
        &ledger,
        TARGET,
        &ReportOptions::default(),
        ReportFormat::Json,
    )
    .unwrap();
    let json: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["schema_version"], SCHEMA_VERSION);
    assert_eq!(json["report"], "plan");
    assert_eq!(json["summary"]["writes"]["calls"], 4);
    assert_eq!(json["items"].as_array().unwrap().len(), 4);
    assert_eq!(json["plan"]["target"], TARGET);
}

#[test]
fn csv_has_one_record_per_finding() {
    let ledger = stored();
    let text = render_stored_plan(
        &ledger,
        TARGET,
        &ReportOptions::default(),
        ReportFormat::Csv,
    )
    .unwrap();
    assert!(text.starts_with("kind,config_name,action,severity,code,field,message,target_id\r\n"));
    let records = parse_csv(&text);
    assert_eq!(records.len(), 1 + 4);
    assert!(records.iter().all(|r| r.len() == 8), "{records:?}");
    let nasty = records.iter().find(|r| r[1] == NASTY).expect("round-trips");
    assert_eq!(
        nasty[6],
        "The target already holds it\nwith <b>the key</b>."
    );
    assert_eq!(nasty[7], "src_existing");
}

/// A strict RFC 4180 reader, to check the writer independently of it.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => {
                assert!(c != '"' && c != '\n', "bare {c:?} in an unquoted field");
                field.push(c);
            }
        }
    }
    assert!(
        field.is_empty() && record.is_empty(),
        "last record not terminated"
    );
    records
}

#[test]
fn reports_are_written_private_and_once_per_path() {
    let ledger = stored();
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<ReportPath> = ["r.md", "r.html", "r.json", "r.csv"]
        .iter()
        .map(|n| dir.path().join(n).to_str().unwrap().parse().unwrap())
        .collect();
    let written = write_plan_reports(&ledger, TARGET, &ReportOptions::default(), &paths).unwrap();
    assert_eq!(written.len(), 4);
    for path in written {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", path.display());
        }
    }
}
