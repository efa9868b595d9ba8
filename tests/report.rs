//! `segbridge plan --report` and `segbridge idmap` against both simulators at `--time-scale 60`
//! (`audit --report` is tested with the audits, in tests/audit.rs):
//! every format is written with mode 0600, holds no secret of either simulator, is the report
//! of the stored plan byte for byte, and the JSON validates against `docs/report.schema.json`.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

use segbridge::ledger::Ledger;
use segbridge::report::{ReportFormat, ReportOptions, render_stored_plan};
use segbridge::sim::Simulators;
use segbridge::sim::public::Target;

use common::report_files::{
    assert_no_secret, assert_private, assert_self_contained, assert_valid, parse_csv,
    secrets_and_tokens,
};
use common::scaled::{export_into, small_simulators};

/// Runs the binary without blocking the runtime the in-process simulators serve on.
async fn segbridge(sims: &Simulators, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(args)
        .env("SEGMENT_PUBLIC_API_TOKEN", &sims.public.token)
        .env("SEGBRIDGE_RETRY_BASE_MS", "20")
        .output()
        .await
        .unwrap()
}

async fn plan_with_reports(sims: &Simulators, ledger: &Path, extra: &[&str], reports: &[PathBuf]) {
    let url = sims.public.base_url();
    let mut args = vec![
        "plan",
        "--time-scale",
        "60",
        "--public-url",
        &url,
        "--ledger",
        ledger.to_str().unwrap(),
    ];
    args.extend(extra);
    for report in reports {
        args.extend(["--report", report.to_str().unwrap()]);
    }
    let out = segbridge(sims, &args).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    for report in reports {
        assert!(
            stderr.contains(&format!("Report written to `{}`", report.display())),
            "{stderr}"
        );
    }
}

/// Both simulators with an empty target, and a ledger in a new folder holding the export.
async fn exported() -> (Simulators, tempfile::TempDir, PathBuf) {
    let sims = small_simulators(Target::Empty).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("r.ledger");
    export_into(&sims, &ledger_path).await;
    (sims, dir, ledger_path)
}

#[tokio::test]
async fn plan_writes_every_format_from_the_stored_plan_without_secrets() {
    let (sims, dir, ledger_path) = exported().await;
    let reports: Vec<PathBuf> = ["plan.md", "plan.html", "plan.json", "plan.csv"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    plan_with_reports(&sims, &ledger_path, &[], &reports).await;

    let secrets = secrets_and_tokens(&sims).await;
    assert!(secrets.len() > 2, "the simulators hold secrets");
    for path in &reports {
        #[cfg(unix)]
        assert_private(path);
        assert_no_secret(path, &secrets);
    }

    // Each file is the report of the stored plan, as `apply --dry-run --report` will render it.
    let ledger = Ledger::inspect(&ledger_path).unwrap();
    let target = ledger.plans().unwrap().last().unwrap().1.clone();
    for (path, format) in reports.iter().zip(ReportFormat::ALL) {
        let again =
            render_stored_plan(&ledger, &target, &ReportOptions::default(), format).unwrap();
        assert_eq!(std::fs::read_to_string(path).unwrap(), again, "{format:?}");
    }

    let json: Value = serde_json::from_str(&std::fs::read_to_string(&reports[2]).unwrap()).unwrap();
    assert_valid(&json, "report.schema.json");

    let plan_id = ledger.latest_plan(&target).unwrap().unwrap().id;
    let items = ledger.plan_items(plan_id).unwrap();
    let findings = ledger.plan_findings(plan_id).unwrap();
    let payloads = ledger.plan_payloads(plan_id).unwrap();
    assert_eq!(json["summary"]["objects"], items.len());
    // One request per payload, but fifty invitations to a request.
    let invitations = payloads.iter().filter(|p| p.step == "invite_user").count();
    assert!(invitations > 1);
    assert_eq!(
        json["summary"]["writes"]["calls"],
        payloads.len() - invitations + invitations.div_ceil(50)
    );
    assert!(
        json["summary"]["writes"]["estimated_seconds"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let follow_ups: Vec<&str> = json["follow_ups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    for id in [
        "supply_secrets",
        "rotate_write_keys",
        "set_connection_modes",
        "invite_people",
    ] {
        assert!(follow_ups.contains(&id), "no {id} in {follow_ups:?}");
    }

    let csv = parse_csv(&std::fs::read_to_string(&reports[3]).unwrap());
    assert_eq!(csv[0][4], "code");
    assert_eq!(csv.len(), 1 + findings.len());
    assert!(csv.iter().all(|r| r.len() == 8));

    let html = std::fs::read_to_string(&reports[1]).unwrap();
    assert_self_contained(&html);
    let md = std::fs::read_to_string(&reports[0]).unwrap();
    for group in json["follow_ups"].as_array().unwrap() {
        let title = group["title"].as_str().unwrap();
        assert!(md.contains(title) && html.contains(title), "{title}");
    }
}

#[tokio::test]
async fn idmap_prints_the_adopted_ids_with_config_ids() {
    let sims = small_simulators(Target::Mirror).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger_path = dir.path().join("i.ledger");
    export_into(&sims, &ledger_path).await;
    plan_with_reports(&sims, &ledger_path, &["--mode", "adopt"], &[]).await;
    let ledger_arg = ledger_path.to_str().unwrap();

    let out = segbridge(&sims, &["idmap", "--ledger", ledger_arg]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = parse_csv(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        csv[0],
        [
            "kind",
            "config_name",
            "config_id",
            "field",
            "public_id",
            "matched_by"
        ]
    );
    let ledger = Ledger::inspect(&ledger_path).unwrap();
    let target = ledger.plans().unwrap().last().unwrap().1.clone();
    assert_eq!(csv.len(), 1 + ledger.id_map(&target).unwrap().len());
    let row = |kind: &str| {
        csv.iter()
            .find(|r| r[0] == kind && r[3] == "id")
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let plan = row("tracking_plans");
    assert!(
        plan[2].starts_with("rs_") && plan[1].ends_with(&plan[2]),
        "{plan:?}"
    );
    let function = row("functions");
    assert_eq!(function[2], function[1], "{function:?}");
    let source = row("sources");
    assert_eq!(source[5], "slug");
    // Where the exported body carries an `id`, that is the Config id.
    let mut with_body_id = 0;
    for r in &csv[1..] {
        let kind: segbridge::model::Kind = r[0].parse().unwrap();
        let body = ledger.object(kind, &r[1]).unwrap().map(|o| o.json());
        if let Some(id) = body.as_ref().and_then(|b| b["id"].as_str()) {
            assert_eq!(r[2], id, "{r:?}");
            with_body_id += 1;
        }
    }
    assert!(with_body_id > 0);
    let catalog = row("catalog_destinations");
    assert_eq!(
        catalog[2], "",
        "catalog items are named by slug: {catalog:?}"
    );

    let output = dir.path().join("ids.json");
    let out = segbridge(
        &sims,
        &[
            "idmap",
            "--ledger",
            ledger_arg,
            "--format",
            "json",
            "--target",
            target.rsplit('|').next().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    #[cfg(unix)]
    assert_private(&output);
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&output).unwrap()).unwrap();
    assert_eq!(json["target"], target.as_str());
    assert_eq!(json["pairs"].as_array().unwrap().len(), csv.len() - 1);

    let out = segbridge(
        &sims,
        &["idmap", "--ledger", ledger_arg, "--target", "nope"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&target));
}

/// `plan --report` and `audit --report`: an unknown extension is refused before anything is
/// read (no ledger, no token).
#[test]
fn an_unknown_report_extension_is_a_usage_error() {
    for command in ["plan", "audit"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
            .args([command, "--ledger", "/nonexistent/l", "--report", "out.pdf"])
            .env_remove("SEGMENT_CONFIG_API_TOKEN")
            .env_remove("SEGMENT_PUBLIC_API_TOKEN")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("out.pdf") && stderr.contains(".md, .html, .json, .csv"),
            "{command}: {stderr}"
        );
    }
}

#[test]
fn the_schema_names_every_kind_and_follow_up_group() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/report.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let names = |v: &Value| -> Vec<String> {
        let mut out: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect();
        out.sort();
        out
    };
    let mut kinds: Vec<String> = segbridge::model::Kind::ALL
        .iter()
        .map(|k| k.as_str().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(names(&schema["$defs"]["kind"]["enum"]), kinds);
    let mut groups: Vec<String> = segbridge::report::followups::GROUPS
        .iter()
        .map(|g| g.id.to_owned())
        .collect();
    groups.sort();
    assert_eq!(
        names(&schema["properties"]["follow_ups"]["items"]["properties"]["id"]["enum"]),
        groups
    );
}

#[tokio::test]
async fn apply_dry_run_writes_the_report_of_the_stored_plan_again() {
    let (sims, dir, ledger_path) = exported().await;
    let first = [dir.path().join("plan.json"), dir.path().join("plan.md")];
    plan_with_reports(&sims, &ledger_path, &[], &first).await;

    let again = [dir.path().join("again.json"), dir.path().join("again.md")];
    let url = sims.public.base_url();
    let mut args = vec![
        "apply",
        "--dry-run",
        "--time-scale",
        "60",
        "--public-url",
        &url,
        "--ledger",
        ledger_path.to_str().unwrap(),
    ];
    for path in &again {
        args.extend(["--report", path.to_str().unwrap()]);
    }
    let out = segbridge(&sims, &args).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("nothing was written"), "{stderr}");
    for (plan, dry_run) in first.iter().zip(&again) {
        assert_eq!(
            std::fs::read(plan).unwrap(),
            std::fs::read(dry_run).unwrap(),
            "{} differs from the plan's report",
            dry_run.display()
        );
        #[cfg(unix)]
        assert_private(dry_run);
    }
    let stats = common::inspect::stats_at(&url).await;
    assert_eq!(
        common::inspect::writes_in(&stats),
        0,
        "a dry run writes nothing"
    );
}

#[tokio::test]
async fn a_report_that_cannot_be_written_fails_the_command_but_keeps_the_plan() {
    let (sims, dir, ledger_path) = exported().await;
    // A folder in the way of the file: the path passes the up-front check of its folder (a
    // missing folder is refused before any work, see tests/malformed_local.rs), and the write
    // itself fails.
    let unwritable = dir.path().join("plan.html");
    std::fs::create_dir(&unwritable).unwrap();
    let url = sims.public.base_url();
    let out = segbridge(
        &sims,
        &[
            "plan",
            "--time-scale",
            "60",
            "--public-url",
            &url,
            "--ledger",
            ledger_path.to_str().unwrap(),
            "--report",
            unwritable.to_str().unwrap(),
        ],
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("error: Cannot write the compatibility report")
            && stderr.contains("plan.html")
            && stderr.contains("hint: the plan is stored in the ledger"),
        "{stderr}"
    );
    let ledger = Ledger::inspect(&ledger_path).unwrap();
    assert_eq!(ledger.plans().unwrap().len(), 1, "the plan stays stored");
}
