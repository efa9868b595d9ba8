//! `segbridge audit` against both simulators at `--time-scale 60`: a `small` workspace is
//! exported (with its delivery metrics), planned in create mode against an empty target and
//! applied by the binary; the audit must then match everything. The target is then changed
//! behind segbridge's back through the Public simulator's own API, and the audit must name each
//! change. Every audit is checked to send no write to either simulator and to print no secret.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use segbridge::ledger::Ledger;
use segbridge::sim::Simulators;
use segbridge::sim::public::Target;

use common::inspect::{secrets_in, state_at, writes_at};
use common::public::public_api;
use common::report_files::{
    assert_private, assert_self_contained, assert_valid, parse_csv, secrets_and_tokens,
};
use common::scaled::small_simulators;

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Output {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("no JSON on stdout ({e}); stderr:\n{}", self.stderr))
    }
}

async fn run(sims: &Simulators, args: &[&str], ledger: &Path) -> Output {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(args)
        .args(["--json", "--time-scale", "60", "--ledger"])
        .arg(ledger)
        .env("SEGMENT_CONFIG_API_TOKEN", &sims.config.token)
        .env("SEGMENT_PUBLIC_API_TOKEN", &sims.public.token)
        .env("SEGBRIDGE_RETRY_BASE_MS", "20")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    Output {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn audit(sims: &Simulators, ledger: &Path, extra: &[&str]) -> Output {
    let config = sims.config.base_url();
    let public = sims.public.base_url();
    let mut args = vec![
        "audit",
        "--config-url",
        config.as_str(),
        "--public-url",
        public.as_str(),
    ];
    args.extend_from_slice(extra);
    run(sims, &args, ledger).await
}

async fn writes_of_both(sims: &Simulators) -> (u64, u64) {
    (
        writes_at(&sims.config.base_url()).await,
        writes_at(&sims.public.base_url()).await,
    )
}

/// Export (with delivery metrics), plan and apply with a secrets file giving every secret the
/// plan needs. Returns the operator's secret values.
async fn migrated(sims: &Simulators, dir: &Path) -> Vec<String> {
    let ledger = dir.join("audit.ledger");
    let config = sims.config.base_url();
    let public = sims.public.base_url();
    let export = run(
        sims,
        &["export", "--with-metrics", "--config-url", &config],
        &ledger,
    )
    .await;
    assert_eq!(export.code, 0, "{}", export.stderr);
    let plan = run(sims, &["plan", "--public-url", &public], &ledger).await;
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let dry = run(
        sims,
        &["apply", "--dry-run", "--public-url", &public],
        &ledger,
    )
    .await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let mut by_name: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut values = Vec::new();
    for (i, missing) in dry.json()["missing_secrets"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let value = format!("operator-secret-{i:04}-c41d7e");
        by_name
            .entry(missing["config_name"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                missing["setting"].as_str().unwrap().to_owned(),
                value.clone(),
            ));
        values.push(value);
    }
    let mut toml = String::new();
    for (name, settings) in by_name {
        toml.push_str(&format!("[{name:?}]\n"));
        for (setting, value) in settings {
            toml.push_str(&format!("{setting:?} = {value:?}\n"));
        }
    }
    let secrets = dir.join("secrets.toml");
    std::fs::write(&secrets, toml).unwrap();
    let apply = run(
        sims,
        &[
            "apply",
            "--public-url",
            &public,
            "--secrets",
            secrets.to_str().unwrap(),
        ],
        &ledger,
    )
    .await;
    assert_eq!(apply.code, 0, "{}", apply.stderr);
    values
}

/// Plan items per kind that the target is to hold (create, update or adopt), for the audited
/// kinds, and the ones the plan leaves out.
fn planned(ledger: &Path) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let audited = [
        "sources",
        "schema_configs",
        "destinations",
        "destination_filters",
        "tracking_plans",
        "tracking_plan_connections",
        "functions",
    ];
    let ledger = Ledger::inspect(ledger).unwrap();
    let plan = ledger.plans().unwrap().last().unwrap().0;
    let (mut migrated, mut left_out) = (BTreeMap::new(), BTreeMap::new());
    for item in ledger.plan_items(plan).unwrap() {
        if !audited.contains(&item.kind.as_str()) {
            continue;
        }
        let bucket = match item.action.as_str() {
            "create" | "update" | "adopt" => &mut migrated,
            _ => &mut left_out,
        };
        *bucket.entry(item.kind).or_insert(0) += 1;
    }
    (migrated, left_out)
}

/// The Public id the ledger recorded for a Config name.
fn public_id(ledger: &Path, kind: &str, config_name: &str) -> String {
    let ledger = Ledger::inspect(ledger).unwrap();
    let target = ledger.plans().unwrap().last().unwrap().1.clone();
    ledger
        .id_map(&target)
        .unwrap()
        .into_iter()
        .find(|p| p.kind == kind && p.config_name == config_name && p.field == "id")
        .unwrap_or_else(|| panic!("no id for {kind} {config_name}"))
        .public_id
}

/// Every secret either simulator holds, plus the operator's values.
async fn all_secrets(sims: &Simulators, operator: &[String]) -> Vec<String> {
    let mut secrets = operator.to_vec();
    for base in [sims.config.base_url(), sims.public.base_url()] {
        secrets.extend(secrets_in(&state_at(&base).await));
    }
    assert!(!secrets.is_empty());
    secrets
}

fn assert_no_secret(output: &Output, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !output.stdout.contains(secret.as_str()) && !output.stderr.contains(secret.as_str()),
            "a secret is in the audit output"
        );
    }
    // Not even a masked one: the mask keeps a secret's last characters.
    assert!(!output.stdout.contains('•') && !output.stderr.contains('•'));
}

fn results_of<'a>(audit: &'a Value, status: &str) -> Vec<&'a Value> {
    audit["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] == status)
        .collect()
}

#[tokio::test]
async fn a_fresh_migration_matches_and_changes_behind_its_back_are_named() {
    let sims = small_simulators(Target::Empty).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("audit.ledger");
    let operator = migrated(&sims, dir.path()).await;
    let (migrated, left_out) = planned(&ledger);
    assert!(migrated["destination_filters"] > 1 && migrated["functions"] > 0);

    let before = writes_of_both(&sims).await;
    let clean = audit(&sims, &ledger, &[]).await;
    assert_eq!(
        writes_of_both(&sims).await,
        before,
        "the audit sent a write"
    );
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    let report = clean.json();
    assert_eq!(report["schema_version"], 2);
    assert_eq!(report["report"], "audit");
    assert!(report["audited_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(report["summary"]["ok"], true);
    for (kind, n) in &migrated {
        assert_eq!(
            report["summary"]["by_kind"][kind]["match"], *n,
            "{kind}: {}",
            report["summary"]
        );
    }
    for (kind, n) in &left_out {
        assert_eq!(report["summary"]["by_kind"][kind]["not-comparable"], *n);
    }
    let total: u64 = migrated.values().chain(left_out.values()).sum();
    assert_eq!(report["summary"]["total"], total);
    assert!(
        report["summary"]["not_comparable_fields"].as_u64().unwrap() > 0,
        "the secret settings are reported as not comparable"
    );
    assert!(clean.stderr.contains("The target matches the source"));
    let secrets = all_secrets(&sims, &operator).await;
    assert_no_secret(&clean, &secrets);

    // Behind segbridge's back: change a destination setting, delete a filter, add a source.
    let state = state_at(&sims.public.base_url()).await;
    let destinations = public_api(&sims, "GET", "/destinations", None).await;
    let (changed_id, setting) = destinations["data"]["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|d| {
            let (key, _) = d["settings"].as_object()?.iter().find(|(_, v)| {
                v.as_str()
                    .is_some_and(|s| !s.is_empty() && !s.contains('•'))
            })?;
            Some((d["id"].as_str()?.to_owned(), key.clone()))
        })
        .expect("a destination with a plain string setting");
    public_api(
        &sims,
        "PATCH",
        &format!("/destinations/{changed_id}"),
        Some(json!({"settings": {setting.clone(): "changed-behind-its-back"}})),
    )
    .await;
    let inspect = Ledger::inspect(&ledger).unwrap();
    let target = inspect.plans().unwrap().last().unwrap().1.clone();
    let filter = inspect
        .id_map(&target)
        .unwrap()
        .into_iter()
        .find(|p| p.kind == "destination_filters" && p.field == "id")
        .unwrap();
    drop(inspect);
    let destination_name = filter
        .config_name
        .rsplit_once("/filters/")
        .unwrap()
        .0
        .to_owned();
    let filter_destination = public_id(&ledger, "destinations", &destination_name);
    public_api(
        &sims,
        "DELETE",
        &format!(
            "/destination/{filter_destination}/filters/{}",
            filter.public_id
        ),
        None,
    )
    .await;
    let metadata = state["sources"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["metadata"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = public_api(
        &sims,
        "POST",
        "/sources",
        Some(json!({"slug": "made-by-hand", "enabled": false, "metadataId": metadata, "settings": {}})),
    )
    .await;
    let extra_source = created["data"]["source"]["id"].as_str().unwrap().to_owned();

    let before = writes_of_both(&sims).await;
    let changed = audit(&sims, &ledger, &[]).await;
    assert_eq!(
        writes_of_both(&sims).await,
        before,
        "the audit sent a write"
    );
    assert_eq!(changed.code, 1, "{}", changed.stderr);
    let report = changed.json();
    assert_eq!(report["summary"]["ok"], false);

    let differ = results_of(&report, "differ");
    assert_eq!(differ.len(), 1, "{differ:?}");
    assert_eq!(differ[0]["kind"], "destinations");
    assert_eq!(differ[0]["public_id"], changed_id.as_str());
    let path = format!("settings.{setting}");
    let field = differ[0]["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == path.as_str())
        .unwrap_or_else(|| panic!("no difference at {path}: {}", differ[0]));
    assert_eq!(field["actual"], "changed-behind-its-back");

    let missing = results_of(&report, "missing-in-target");
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert_eq!(missing[0]["kind"], "destination_filters");
    assert_eq!(missing[0]["config_name"], filter.config_name.as_str());

    let unexpected = results_of(&report, "unexpected-in-target");
    assert_eq!(unexpected.len(), 1, "{unexpected:?}");
    assert_eq!(unexpected[0]["kind"], "sources");
    assert_eq!(unexpected[0]["public_id"], extra_source.as_str());
    assert!(unexpected[0]["config_name"].is_null());

    assert!(
        changed.stderr.contains(&path) && changed.stderr.contains("made in the target"),
        "{}",
        changed.stderr
    );
    assert!(
        changed
            .stderr
            .contains("The target does not match the source")
    );
    let secrets = all_secrets(&sims, &operator).await;
    assert_no_secret(&changed, &secrets);

    // `--only` narrows the audit: the destinations alone still differ, the sources are not read.
    let only = audit(&sims, &ledger, &["--only", "sources"]).await;
    assert_eq!(only.code, 1, "{}", only.stderr);
    let report = only.json();
    assert_eq!(report["kinds"], json!(["sources"]));
    assert_eq!(results_of(&report, "differ").len(), 0);
    assert_eq!(results_of(&report, "unexpected-in-target").len(), 1);

    // The source is read again, not taken from the export: a filter removed from the source
    // after the migration makes its copy in the target unexpected, named after it.
    let inspect = Ledger::inspect(&ledger).unwrap();
    let removed = inspect
        .id_map(&target)
        .unwrap()
        .into_iter()
        .find(|p| {
            p.kind == "destination_filters"
                && p.field == "id"
                && p.config_name != filter.config_name
        })
        .unwrap();
    drop(inspect);
    let response = reqwest::Client::new()
        .delete(format!(
            "{}/v1beta/{}",
            sims.config.base_url(),
            removed.config_name
        ))
        .bearer_auth(&sims.config.token)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let before = writes_of_both(&sims).await;
    let drifted = audit(&sims, &ledger, &["--only", "destination_filters"]).await;
    assert_eq!(
        writes_of_both(&sims).await,
        before,
        "the audit sent a write"
    );
    assert_eq!(drifted.code, 1, "{}", drifted.stderr);
    let report = drifted.json();
    let unexpected = results_of(&report, "unexpected-in-target");
    assert_eq!(unexpected.len(), 1, "{unexpected:?}");
    assert_eq!(unexpected[0]["public_id"], removed.public_id.as_str());
    assert!(
        unexpected[0]["notes"][0]
            .as_str()
            .unwrap()
            .contains(&removed.config_name),
        "{}",
        unexpected[0]
    );
    assert_eq!(results_of(&report, "missing-in-target").len(), 1);
    assert_eq!(results_of(&report, "differ").len(), 0, "{}", drifted.stderr);

    // The ledger records the audit runs and keeps no secret either.
    let inspect = Ledger::inspect(&ledger).unwrap();
    let audits = inspect
        .runs()
        .unwrap()
        .into_iter()
        .filter(|r| r.command == "audit")
        .count();
    assert_eq!(audits, 4);
    drop(inspect);
    let bytes = std::fs::read(&ledger).unwrap();
    for secret in &secrets {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
}

#[tokio::test]
async fn with_metrics_flags_destinations_that_deliver_nothing_after_cut_over() {
    let sims = small_simulators(Target::Empty).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("audit.ledger");
    let operator = migrated(&sims, dir.path()).await;
    let (migrated, _) = planned(&ledger);

    let before = writes_of_both(&sims).await;
    let out = audit(&sims, &ledger, &["--with-metrics"]).await;
    assert_eq!(
        writes_of_both(&sims).await,
        before,
        "the audit sent a write"
    );
    // Destinations made through the Public API have delivered nothing yet.
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = out.json();
    let delivery = report["delivery"].as_array().unwrap();
    assert_eq!(delivery.len() as u64, migrated["destinations"]);
    assert_eq!(
        report["summary"]["delivers_nothing"],
        migrated["destinations"]
    );
    let mut flagged = 0;
    for d in delivery {
        assert_eq!(d["delivered"], 0, "{d}");
        let baseline = d["baseline"]["delivered"]
            .as_u64()
            .expect("the export stored a baseline for every destination");
        let want = if baseline > 0 { "differ" } else { "match" };
        assert_eq!(d["status"], want, "{d}");
        flagged += u64::from(baseline > 0);
    }
    assert!(
        flagged > 0,
        "the small workspace has delivering destinations"
    );
    // After cut-over `enabled` is compared strictly: destinations still disabled differ.
    let enabled_differs = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "destinations")
        .flat_map(|r| r["differences"].as_array().unwrap())
        .any(|d| d["path"] == "enabled");
    assert!(enabled_differs, "{}", report["summary"]);
    assert!(out.stderr.contains("deliver nothing"), "{}", out.stderr);
    assert_no_secret(&out, &all_secrets(&sims, &operator).await);
}

/// `--report FILE` (repeatable) writes the audit in each format its extension names, mode 0600,
/// whatever the verdict; the files hold no secret or token, the JSON file is the `--json`
/// document and validates against `docs/audit.schema.json`, and the CSV has one record per
/// finding. A file that cannot be written is an error (exit 2).
#[tokio::test]
async fn reports_are_written_in_every_format_without_secrets() {
    let sims = small_simulators(Target::Empty).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("audit.ledger");
    let operator = migrated(&sims, dir.path()).await;
    let report_args = |stem: &str| -> Vec<String> {
        ["md", "html", "json", "csv"]
            .iter()
            .flat_map(|ext| {
                let path = dir.path().join(format!("{stem}.{ext}"));
                ["--report".to_owned(), path.to_str().unwrap().to_owned()]
            })
            .collect()
    };
    let file = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();

    // A matching audit: the verdict says so, and the JSON file is what `--json` printed.
    let args = report_args("clean");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let clean = audit(&sims, &ledger, &args).await;
    assert_eq!(clean.code, 0, "{}", clean.stderr);
    for ext in ["md", "html", "json", "csv"] {
        let path = dir.path().join(format!("clean.{ext}"));
        assert!(
            clean
                .stderr
                .contains(&format!("Report written to `{}`", path.display())),
            "{}",
            clean.stderr
        );
    }
    let json: Value = serde_json::from_str(&file("clean.json")).unwrap();
    assert_eq!(json, clean.json());
    assert_valid(&json, "audit.schema.json");
    assert!(
        file("clean.md").contains("**Verdict: match.** The target matches the source"),
        "{}",
        file("clean.md")
    );
    assert!(file("clean.html").contains("<p class=\"verdict ok\""));
    assert_eq!(parse_csv(&file("clean.csv")).len(), 1, "a header only");

    // After "cut-over" nothing has delivered and `enabled` differs: many problems, and delivery.
    let args = report_args("audit");
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.push("--with-metrics");
    let out = audit(&sims, &ledger, &args).await;
    assert_eq!(
        out.code, 1,
        "the report does not change the verdict: {}",
        out.stderr
    );
    let mut secrets = all_secrets(&sims, &operator).await;
    secrets.extend(secrets_and_tokens(&sims).await);
    for ext in ["md", "html", "json", "csv"] {
        let path = dir.path().join(format!("audit.{ext}"));
        #[cfg(unix)]
        assert_private(&path);
        common::report_files::assert_no_secret(&path, &secrets);
        // Not even a masked value: the mask keeps a secret's last characters.
        assert!(!file(&format!("audit.{ext}")).contains('•'), "{ext}");
    }
    let json: Value = serde_json::from_str(&file("audit.json")).unwrap();
    assert_eq!(json, out.json());
    assert_valid(&json, "audit.schema.json");
    let results = json["results"].as_array().unwrap();
    let problems: Vec<&Value> = results.iter().filter(|r| r["status"] != "match").collect();
    let differ = results_of(&json, "differ");
    assert!(!differ.is_empty() && json["delivery"].is_array());
    assert!(
        json["summary"]["not_comparable_fields"].as_u64().unwrap() > 0,
        "the reports have secret fields to withhold"
    );

    let csv = parse_csv(&file("audit.csv"));
    assert_eq!(csv[0], segbridge::report::audit::csv::COLUMNS);
    let findings: usize = problems
        .iter()
        .map(|r| {
            1 + r["differences"].as_array().unwrap().len()
                + r["not_comparable"].as_array().unwrap().len()
        })
        .sum();
    let delivery = json["delivery"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] != "match")
        .count();
    assert!(delivery > 0);
    assert_eq!(csv.len(), 1 + findings + delivery);
    let first = &differ[0]["differences"][0];
    let record = csv
        .iter()
        .find(|r| r[4] == "difference" && r[2] == differ[0]["public_id"].as_str().unwrap())
        .expect("a record for the first difference");
    assert_eq!(record[5], first["path"].as_str().unwrap());
    let expected: Value = serde_json::from_str(&record[6]).unwrap();
    assert_eq!(&expected, &first["expected"]);

    // Every problem is in both documents, with its Public id; the HTML loads nothing.
    let md = file("audit.md");
    let html = file("audit.html");
    assert_self_contained(&html);
    for problem in &problems {
        let label = problem["config_name"]
            .as_str()
            .or(problem["public_id"].as_str())
            .unwrap();
        assert!(
            md.contains(&format!("`{label}`")),
            "{label} not in the Markdown"
        );
        assert!(html.contains(label), "{label} not in the HTML");
    }
    assert!(md.contains("## Delivery after cut-over") && html.contains("id=\"delivery\""));
    assert!(md.contains("**Verdict: differences.**"));

    // A report into a folder that does not exist is refused before the audit runs.
    let nowhere = dir.path().join("no-such-dir/audit.md");
    let refused = audit(&sims, &ledger, &["--report", nowhere.to_str().unwrap()]).await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("no-such-dir` of `--report")
            && refused.stderr.contains("hint: create it first"),
        "{}",
        refused.stderr
    );
    // One that cannot be written (a folder in the way of the file) stops the command after
    // the audit, naming the file.
    let blocked = dir.path().join("blocked.md");
    std::fs::create_dir(&blocked).unwrap();
    let failed = audit(&sims, &ledger, &["--report", blocked.to_str().unwrap()]).await;
    assert_eq!(failed.code, 2, "{}", failed.stderr);
    assert!(
        failed
            .stderr
            .contains("error: Cannot write the audit report")
            && failed.stderr.contains("blocked.md"),
        "{}",
        failed.stderr
    );
}
