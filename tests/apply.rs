//! `segbridge apply` against both simulators at `--time-scale 60`: a `small` workspace is
//! exported in-process and planned in create mode against an empty target by the binary, then
//! the binary applies it: cleanly and twice, as a dry run, under ghost writes and 5xx, killed
//! with SIGKILL at seeded moments and resumed, and without the secrets it needs. Every test
//! checks the target's content against the plan and that no natural key was duplicated.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use segbridge::ledger::Ledger;
use segbridge::sim::clock::TimeScale;
use segbridge::sim::faults::{Matcher, ScriptedFault};
use segbridge::sim::generator::{Counts, Preset};
use segbridge::sim::public::Target;
use segbridge::sim::{SimSettings, Simulators};

use common::inspect::{secrets_in, state_at, stats_at, writes_in};
use common::outcome::{CREATES, Summarized, due, payloads};
use common::scaled::{export_into, small_simulators};

async fn simulators() -> Simulators {
    small_simulators(Target::Empty).await
}

fn command(sims: &Simulators, sub: &str, ledger: &Path, extra: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"));
    cmd.args([sub, "--json", "--time-scale", "60", "--ledger"])
        .arg(ledger)
        .args(["--public-url", &sims.public.base_url()])
        .args(extra)
        .env("SEGMENT_PUBLIC_API_TOKEN", &sims.public.token)
        // Secrets come from the secrets file here; tests that re-read them set it.
        .env_remove("SEGMENT_CONFIG_API_TOKEN")
        .env("SEGBRIDGE_RETRY_BASE_MS", "20")
        .kill_on_drop(true);
    cmd
}

async fn run(sims: &Simulators, sub: &str, ledger: &Path, extra: &[&str]) -> Summarized {
    let output = command(sims, sub, ledger, extra).output().await.unwrap();
    Summarized::of(output)
}

async fn stats(sims: &Simulators) -> Value {
    stats_at(&sims.public.base_url()).await
}

/// Exports, plans in create mode, and writes a secrets file giving every secret setting the
/// plan needs an operator value. Returns the operator values.
async fn prepared(sims: &Simulators, dir: &Path) -> Vec<String> {
    let ledger = dir.join("apply.ledger");
    export_into(sims, &ledger).await;
    let planned = run(sims, "plan", &ledger, &[]).await;
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    let dry = run(sims, "apply", &ledger, &["--dry-run"]).await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let mut by_name: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut values = Vec::new();
    for (i, missing) in dry.summary["missing_secrets"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let value = format!("operator-secret-{i:04}-7f3c9e1a");
        by_name
            .entry(missing["config_name"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                missing["setting"].as_str().unwrap().to_owned(),
                value.clone(),
            ));
        values.push(value);
    }
    assert!(
        !values.is_empty(),
        "the small workspace has secret settings"
    );
    let mut toml = String::new();
    for (name, settings) in by_name {
        toml.push_str(&format!("[{name:?}]\n"));
        for (setting, value) in settings {
            toml.push_str(&format!("{setting:?} = {value:?}\n"));
        }
    }
    std::fs::write(dir.join("secrets.toml"), toml).unwrap();
    values
}

/// What the plan says the target must hold once applied, per `/_sim/state` kind.
fn expected(ledger: &Path) -> BTreeMap<&'static str, usize> {
    let ledger = Ledger::inspect(ledger).unwrap();
    let plan = ledger.plans().unwrap().last().unwrap().0;
    let payloads = ledger.plan_payloads(plan).unwrap();
    let mut out = BTreeMap::new();
    for (step, kind) in CREATES {
        out.insert(kind, payloads.iter().filter(|p| p.step == step).count());
    }
    let rules: usize = payloads
        .iter()
        .filter(|p| p.step == "replace_rules" || p.step == "upsert_rules")
        .map(|p| p.payload.value()["body"]["rules"].as_array().unwrap().len())
        .sum();
    out.insert("tracking_plan_rules", rules);
    let labels: std::collections::BTreeSet<String> = payloads
        .iter()
        .filter(|p| p.step == "create_label")
        .map(|p| p.payload.value()["body"]["label"].to_string())
        .collect();
    out.insert("labels", labels.len());
    out
}

/// Natural-key collisions the plan itself makes: the workspace may hold two objects with the
/// same key (two unnamed destinations of one type on one source), and both are created. Any
/// collision beyond these would be a duplicate write.
fn planned_duplicates(ledger: &Path) -> u64 {
    let ledger = Ledger::inspect(ledger).unwrap();
    let plan = ledger.plans().unwrap().last().unwrap().0;
    let mut seen = std::collections::HashSet::new();
    let mut dupes = 0;
    for p in ledger.plan_payloads(plan).unwrap() {
        let body = &p.payload.value()["body"];
        let key = match p.step.as_str() {
            "create_source" => body["slug"].to_string(),
            "create_destination" => {
                format!(
                    "{}|{}|{}",
                    body["sourceId"], body["metadataId"], body["name"]
                )
            }
            "create_filter" => format!(
                "{}|{}|{}",
                p.payload.value()["path_params"],
                body["title"],
                body["if"]
            ),
            "create_tracking_plan" => body["name"].to_string(),
            "create_function" => body["displayName"].to_string(),
            _ => continue,
        };
        if !seen.insert(format!("{}|{key}", p.step)) {
            dupes += 1;
        }
    }
    dupes
}

/// The target's content per kind, and the filter titles of each destination in the order
/// they were created (sorted, so destinations compare whatever their ids).
async fn target_content(sims: &Simulators) -> (BTreeMap<&'static str, usize>, Vec<Vec<String>>) {
    let state = state_at(&sims.public.base_url()).await;
    let kinds = [
        "sources",
        "destinations",
        "destination_filters",
        "tracking_plans",
        "tracking_plan_connections",
        "functions",
        "tracking_plan_rules",
        "labels",
    ];
    let counts = kinds
        .into_iter()
        .map(|k| (k, state[k].as_object().map_or(0, |m| m.len())))
        .collect();
    let mut per_destination: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for filter in state["destination_filters"]
        .as_object()
        .into_iter()
        .flat_map(|m| m.values())
    {
        per_destination
            .entry(filter["destinationId"].as_str().unwrap().to_owned())
            .or_default()
            .push(filter["title"].as_str().unwrap_or_default().to_owned());
    }
    let mut titles: Vec<Vec<String>> = per_destination.into_values().collect();
    titles.sort();
    (counts, titles)
}

/// The planned filter titles of each destination in plan order (sorted like
/// [`target_content`]'s): the order the Public API must keep them in.
fn planned_filter_titles(ledger: &Path) -> Vec<Vec<String>> {
    let ledger = Ledger::inspect(ledger).unwrap();
    let plan = ledger.plans().unwrap().last().unwrap().0;
    let mut per_destination: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in ledger
        .plan_payloads(plan)
        .unwrap()
        .iter()
        .filter(|p| p.step == "create_filter")
    {
        per_destination
            .entry(p.payload.value()["path_params"].to_string())
            .or_default()
            .push(
                p.payload.value()["body"]["title"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
    }
    let mut titles: Vec<Vec<String>> = per_destination.into_values().collect();
    titles.sort();
    titles
}

fn assert_all_done(ledger: &Path) {
    let payloads = payloads(ledger);
    for p in due(&payloads) {
        assert_eq!(p.state, "done", "{} {} {}", p.seq, p.ordinal, p.step);
    }
}

/// `segbridge status --json` on a ledger: exit code and output.
fn status_of(ledger: &Path) -> (i32, Value) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(["status", "--json", "--ledger"])
        .arg(ledger)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code().unwrap(), json)
}

async fn apply_all(sims: &Simulators, dir: &Path) -> Summarized {
    let ledger = dir.join("apply.ledger");
    let secrets = dir.join("secrets.toml");
    run(
        sims,
        "apply",
        &ledger,
        &["--secrets", secrets.to_str().unwrap()],
    )
    .await
}

fn assert_no_secret_in(dir: &Path, secrets: &[String]) {
    assert!(!secrets.is_empty());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            continue; // the operator's own file
        }
        let bytes = std::fs::read(&path).unwrap();
        for secret in secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret is in {}",
                path.display()
            );
        }
    }
}

#[tokio::test]
async fn apply_creates_every_planned_object_once_and_a_second_run_writes_nothing() {
    let sims = simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("apply.ledger");
    let operator_secrets = prepared(&sims, dir.path()).await;
    let want = expected(&ledger);
    assert!(want["sources"] > 0 && want["destination_filters"] > 0 && want["functions"] > 0);
    assert!(want["tracking_plan_rules"] > 0 && want["tracking_plan_connections"] > 0);

    let first = apply_all(&sims, dir.path()).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.summary["failed"], 0, "{}", first.summary);
    assert!(first.summary["writes"].as_u64().unwrap() > 0);
    assert!(first.stderr.contains("writes"), "{}", first.stderr);
    let (got, titles) = target_content(&sims).await;
    assert_eq!(got, want);
    assert_eq!(
        titles,
        planned_filter_titles(&ledger),
        "filters in plan order"
    );
    let after_first = stats(&sims).await;
    // The plan creates each natural key once (further instances of an integration are named
    // apart), and the target holds no duplicate either.
    assert_eq!(planned_duplicates(&ledger), 0);
    assert_eq!(
        after_first["duplicates_total"],
        planned_duplicates(&ledger),
        "{after_first}"
    );
    assert_all_done(&ledger);
    let (code, status) = status_of(&ledger);
    assert_eq!(code, 0);
    let progress = status["plans"][0]["progress"].as_object().unwrap();
    assert!(
        progress
            .values()
            .all(|s| s["failed"] == 0 && s["intent"] == 0),
        "{status}"
    );
    assert!(progress["destinations"]["done"].as_u64().unwrap() > 0);
    assert_eq!(status["export"]["status"], "complete");
    // What waits for an opt-in is told apart from what is still to do.
    let held: u64 = progress.values().map(|s| s["held"].as_u64().unwrap()).sum();
    let deferred = &first.summary["deferred"];
    assert_eq!(
        held,
        deferred["iam"].as_u64().unwrap() + deferred["cut_over"].as_u64().unwrap(),
        "{status}"
    );
    assert!(held > 0);

    // Every created object is in the id map.
    let inspect = Ledger::inspect(&ledger).unwrap();
    let target = inspect.plans().unwrap().last().unwrap().1.clone();
    let created = inspect
        .id_map(&target)
        .unwrap()
        .into_iter()
        .filter(|p| p.matched_by == "created" && p.field == "id")
        .count();
    assert_eq!(
        created,
        want["sources"]
            + want["destinations"]
            + want["destination_filters"]
            + want["tracking_plans"]
            + want["functions"]
    );
    drop(inspect);

    let second = apply_all(&sims, dir.path()).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.summary["writes"], 0);
    assert_eq!(
        writes_in(&stats(&sims).await),
        writes_in(&after_first),
        "a second apply sent writes"
    );

    // No secret of either simulator, nor any operator value, is at rest in the ledger.
    let mut secrets = operator_secrets;
    for base in [sims.config.base_url(), sims.public.base_url()] {
        secrets.extend(secrets_in(&state_at(&base).await));
    }
    // The operator values did reach the target (so the check above is not vacuous).
    let public = state_at(&sims.public.base_url()).await;
    assert!(
        public["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_str().unwrap().starts_with("operator-secret-"))
    );
    assert_no_secret_in(dir.path(), &secrets);
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_counts_what_it_would_write() {
    let sims = simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("apply.ledger");
    prepared(&sims, dir.path()).await;
    let dry = run(&sims, "apply", &ledger, &["--dry-run"]).await;
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(dry.summary["dry_run"], true);
    let want = expected(&ledger);
    assert_eq!(
        dry.summary["writes_per_kind"]["sources"]["create_source"],
        want["sources"]
    );
    assert!(dry.summary["would_write"].as_u64().unwrap() > 0);
    assert!(dry.stderr.contains("nothing was written"), "{}", dry.stderr);
    assert_eq!(writes_in(&stats(&sims).await), 0);
    let (got, _) = target_content(&sims).await;
    assert_eq!(got["sources"], 0);
    let inspect = Ledger::inspect(&ledger).unwrap();
    let plan = inspect.plans().unwrap().last().unwrap().0;
    assert!(
        inspect
            .plan_payloads(plan)
            .unwrap()
            .iter()
            .all(|p| p.state == "pending")
    );
}

#[tokio::test]
async fn ghost_writes_and_server_errors_neither_duplicate_nor_lose_objects() {
    let sims = simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("apply.ledger");
    prepared(&sims, dir.path()).await;
    let want = expected(&ledger);
    sims.public
        .faults
        // 429 storms of 6 s every 30 s (a tenth of a second in two at this scale) on top.
        .set_spec(
            "ghost=0.1,5xx=0.05,reset=0.02,storm=6s/30s"
                .parse()
                .unwrap(),
        );
    // A run may end with transient failures left for the next one; three runs converge.
    let mut code = 1;
    for _ in 0..3 {
        let out = apply_all(&sims, dir.path()).await;
        code = out.code;
        if code == 0 {
            break;
        }
        assert_eq!(code, 1, "{}", out.stderr);
    }
    assert_eq!(code, 0);
    let faults = stats(&sims).await;
    for fault in ["ghost", "storm"] {
        assert!(
            faults["faults"][fault].as_u64().unwrap_or(0) > 0,
            "no {fault} was injected: {faults}"
        );
    }
    assert_eq!(
        faults["duplicates_total"],
        planned_duplicates(&ledger),
        "{faults}"
    );
    let (got, titles) = target_content(&sims).await;
    assert_eq!(got, want);
    assert_eq!(titles, planned_filter_titles(&ledger));
    assert_all_done(&ledger);
    let inspect = Ledger::inspect(&ledger).unwrap();
    let target = inspect.plans().unwrap().last().unwrap().1.clone();
    assert!(
        inspect
            .id_map(&target)
            .unwrap()
            .iter()
            .any(|p| p.matched_by == "reconciled"),
        "a ghost write was reconciled"
    );
}

#[tokio::test]
async fn killed_at_twenty_random_moments_apply_resumes_to_the_same_target() {
    let sims = simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("apply.ledger");
    prepared(&sims, dir.path()).await;
    let want = expected(&ledger);
    let secrets = dir.path().join("secrets.toml");
    // 20 ms a request (scaled from 1.2 s) makes one apply last a few seconds, long enough for
    // twenty kills at random moments before it could finish.
    sims.public
        .faults
        .set_spec("latency=1200ms".parse().unwrap());
    let mut rng = fastrand::Rng::with_seed(20_261_128);
    let (mut kills, mut mid_write) = (0, 0);
    for _ in 0..20 {
        let mut child = command(
            &sims,
            "apply",
            &ledger,
            &["--secrets", secrets.to_str().unwrap()],
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
        let wait = Duration::from_millis(rng.u64(30..150));
        match tokio::time::timeout(wait, child.wait()).await {
            Ok(status) => {
                assert!(status.unwrap().success());
                break;
            }
            Err(_) => {
                child.start_kill().unwrap(); // SIGKILL: no cleanup runs
                child.wait().await.unwrap();
                kills += 1;
                let conn = rusqlite::Connection::open(&ledger).unwrap();
                let intents: i64 = conn
                    .query_row(
                        "SELECT count(*) FROM payload_progress WHERE state = 'intent'",
                        [],
                        |r| r.get(0),
                    )
                    .unwrap();
                mid_write += usize::from(intents > 0);
            }
        }
    }
    assert_eq!(kills, 20, "the apply finished before the twentieth kill");
    // Intents left by the kills are what the resume must reconcile.
    assert!(
        mid_write > 0,
        "none of {kills} kills landed between a write's intent and its result"
    );
    sims.public.faults.set_spec("none".parse().unwrap());
    let last = apply_all(&sims, dir.path()).await;
    assert_eq!(last.code, 0, "{}", last.stderr);
    let after = stats(&sims).await;
    assert_eq!(
        after["duplicates_total"],
        planned_duplicates(&ledger),
        "{after}"
    );
    let (got, titles) = target_content(&sims).await;
    assert_eq!(got, want);
    assert_eq!(titles, planned_filter_titles(&ledger));
    assert_all_done(&ledger);
}

#[tokio::test]
async fn a_missing_secret_fails_its_destination_as_manual_and_skips_its_filters() {
    let sims = simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("apply.ledger");
    prepared(&sims, dir.path()).await;
    let out = run(&sims, "apply", &ledger, &[]).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let problems = out.summary["problems"].as_array().unwrap();
    let manual: Vec<_> = problems
        .iter()
        .filter(|p| p["state"] == "failed" && p["manual"] == true)
        .collect();
    assert!(!manual.is_empty(), "{}", out.summary);
    let manual_of = |kind: &str| manual.iter().filter(|p| p["kind"] == kind).count();
    assert!(manual_of("destinations") > 0, "{}", out.summary);
    assert_eq!(
        manual_of("destinations") + manual_of("sources"),
        manual.len(),
        "only objects with secret settings fail as manual"
    );
    for p in &manual {
        let reason = p["reason"].as_str().unwrap();
        assert!(
            reason.contains("secret") && reason.contains("--allow-missing-secrets"),
            "{reason}"
        );
    }
    // Their dependents are skipped, naming the failure.
    let skipped: Vec<_> = problems
        .iter()
        .filter(|p| p["state"] == "skipped")
        .collect();
    assert!(
        skipped.iter().any(|p| p["kind"] == "destination_filters"
            && p["reason"].as_str().unwrap().contains("failed")),
        "{}",
        out.summary
    );
    assert!(out.stderr.contains("failed destinations"), "{}", out.stderr);
    // `status` reads the same failures back from the ledger, and exits 1 for them.
    let status = status_of(&ledger);
    assert_eq!(status.0, 1);
    let failures = status.1["plans"][0]["failures"].as_array().unwrap().clone();
    assert_eq!(failures.len(), manual.len());
    assert!(
        failures
            .iter()
            .all(|f| f["error"].as_str().unwrap().contains("secret"))
    );
    // What was skipped was never sent: pending, whatever intents were recorded ahead of it.
    let unresolved: Vec<_> = common::outcome::payloads(&ledger)
        .into_iter()
        .filter(|p| p.state == "intent")
        .map(|p| (p.seq, p.ordinal, p.step))
        .collect();
    assert!(unresolved.is_empty(), "{unresolved:?}");
    // Everything that does not depend on them was created.
    let want = expected(&ledger);
    let (got, _) = target_content(&sims).await;
    assert_eq!(got["sources"], want["sources"] - manual_of("sources"));
    assert!(got["destinations"] <= want["destinations"] - manual_of("destinations"));
    assert!(got["destination_filters"] < want["destination_filters"]);
    assert_eq!(got["tracking_plans"], want["tracking_plans"]);
    assert_eq!(got["functions"], want["functions"]);

    // With --allow-missing-secrets the rest is created without them.
    let allowed = run(&sims, "apply", &ledger, &["--allow-missing-secrets"]).await;
    assert_eq!(allowed.code, 0, "{}", allowed.stderr);
    assert!(
        !allowed.summary["omitted_secrets"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (got, _) = target_content(&sims).await;
    assert_eq!(got, want);
    assert_eq!(
        stats(&sims).await["duplicates_total"],
        planned_duplicates(&ledger)
    );
}

/// Puts payloads back to where a crash between the write and its record leaves them: `intent`,
/// no result, no id-map row. Returns the ids they had recorded.
fn rewind_to_intent(ledger: &Path, steps: &[(&str, usize)]) -> Vec<String> {
    let conn = rusqlite::Connection::open(ledger).unwrap();
    let mut ids = Vec::new();
    for (step, nth) in steps {
        let (plan, seq, ordinal, result): (i64, i64, i64, String) = conn
            .query_row(
                "SELECT p.plan, p.seq, p.ordinal, g.result
                 FROM plan_payloads p JOIN payload_progress g
                     ON g.plan = p.plan AND g.seq = p.seq AND g.ordinal = p.ordinal
                 WHERE p.step = ?1 AND g.state = 'done' ORDER BY p.plan DESC, p.seq, p.ordinal
                 LIMIT 1 OFFSET ?2",
                rusqlite::params![step, *nth as i64],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        let result: Value = serde_json::from_str(&result).unwrap();
        for (key, id) in result.as_object().unwrap() {
            let mut parts = key.splitn(3, '|');
            let (kind, name, field) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            conn.execute(
                "DELETE FROM id_map WHERE kind = ?1 AND config_name = ?2 AND field = ?3",
                rusqlite::params![kind, name, field],
            )
            .unwrap();
            if field == "id" {
                ids.push(id.as_str().unwrap().to_owned());
            }
        }
        conn.execute(
            "UPDATE payload_progress SET state = 'intent', result = NULL
             WHERE plan = ?1 AND seq = ?2 AND ordinal = ?3",
            rusqlite::params![plan, seq, ordinal],
        )
        .unwrap();
    }
    ids
}

fn reconciled_ids(ledger: &Path) -> Vec<String> {
    let ledger = Ledger::inspect(ledger).unwrap();
    let target = ledger.plans().unwrap().last().unwrap().1.clone();
    let mut ids: Vec<String> = ledger
        .id_map(&target)
        .unwrap()
        .into_iter()
        .filter(|p| p.matched_by == "reconciled" && p.field == "id")
        .map(|p| p.public_id)
        .collect();
    ids.sort();
    ids
}

/// The index, among destination creates, of a further instance of an integration on a source:
/// it shares source and catalog item with an earlier one and differs from it by name only.
fn second_instance(ledger: &Path) -> usize {
    let ledger = Ledger::inspect(ledger).unwrap();
    let plan = ledger.plans().unwrap().last().unwrap().0;
    let mut seen = std::collections::HashSet::new();
    ledger
        .plan_payloads(plan)
        .unwrap()
        .iter()
        .filter(|p| p.step == "create_destination")
        .position(|p| {
            let body = &p.payload.value()["body"];
            !seen.insert(format!("{}|{}", body["sourceId"], body["metadataId"]))
        })
        .expect("the small workspace has two instances of one integration on a source")
}

#[tokio::test]
async fn an_intent_without_a_result_is_found_by_its_natural_key_not_written_again() {
    let sims = simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("apply.ledger");
    prepared(&sims, dir.path()).await;
    let first = apply_all(&sims, dir.path()).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = stats(&sims).await;

    // The second instance of an integration on a source must be told apart from the first,
    // which shares its source and catalog item.
    let mut rewound = rewind_to_intent(
        &ledger,
        &[
            ("create_source", 3),
            ("create_destination", second_instance(&ledger)),
            ("create_filter", 11),
            ("create_function", 0),
            ("create_tracking_plan", 1),
        ],
    );
    assert_eq!(rewound.len(), 5);
    let resumed = apply_all(&sims, dir.path()).await;
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    assert_eq!(resumed.summary["reconciled"], 5, "{}", resumed.summary);
    assert_eq!(resumed.summary["writes"], 0, "{}", resumed.summary);
    let after = stats(&sims).await;
    assert_eq!(writes_in(&after), writes_in(&before));
    rewound.sort();
    assert_eq!(
        reconciled_ids(&ledger),
        rewound,
        "the same objects were found"
    );
    assert_all_done(&ledger);
}

#[tokio::test]
async fn an_intent_whose_natural_key_matches_twice_fails_and_is_never_picked() {
    let sims = simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("apply.ledger");
    prepared(&sims, dir.path()).await;
    let first = apply_all(&sims, dir.path()).await;
    assert_eq!(first.code, 0, "{}", first.stderr);

    // Someone creates a second tracking plan with the name of a migrated one.
    let state = state_at(&sims.public.base_url()).await;
    let name = state["tracking_plans"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = reqwest::Client::new()
        .post(format!("{}/tracking-plans", sims.public.base_url()))
        .bearer_auth(&sims.public.token)
        .header("content-type", "application/vnd.segment.v1+json")
        .header("accept", "application/vnd.segment.v1+json")
        .body(serde_json::json!({"name": name, "type": "LIVE"}).to_string())
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success(), "{}", created.status());

    // The ledger is rewound to a crash right after that plan's own create.
    let conn = rusqlite::Connection::open(&ledger).unwrap();
    let (seq, ordinal): (i64, i64) = conn
        .query_row(
            "SELECT seq, ordinal FROM plan_payloads WHERE step = 'create_tracking_plan'
             AND json_extract(payload, '$.body.name') = ?1 ORDER BY plan DESC LIMIT 1",
            [&name],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    drop(conn);
    let nth = {
        let inspect = Ledger::inspect(&ledger).unwrap();
        let plan = inspect.plans().unwrap().last().unwrap().0;
        inspect
            .plan_payloads(plan)
            .unwrap()
            .iter()
            .filter(|p| p.step == "create_tracking_plan")
            .position(|p| p.seq == seq && p.ordinal == ordinal)
            .unwrap()
    };
    rewind_to_intent(&ledger, &[("create_tracking_plan", nth)]);
    let before = stats(&sims).await;
    let out = apply_all(&sims, dir.path()).await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.summary["failed"], 1, "{}", out.summary);
    let problem = &out.summary["problems"][0];
    assert_eq!(problem["step"], "create_tracking_plan");
    let reason = problem["reason"].as_str().unwrap();
    assert!(
        reason.contains("2 objects") && reason.contains("does not pick"),
        "{reason}"
    );
    assert_eq!(writes_in(&stats(&sims).await), writes_in(&before));
    assert!(out.stderr.contains("does not pick"), "{}", out.stderr);
}

#[tokio::test]
async fn a_plan_stopped_by_conflicts_is_not_applied() {
    let sims = small_simulators(Target::Partial).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("apply.ledger");
    export_into(&sims, &ledger).await;
    let planned = run(&sims, "plan", &ledger, &[]).await;
    assert_eq!(planned.code, 1, "{}", planned.stderr);
    let out = command(&sims, "apply", &ledger, &[])
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("conflicts") && stderr.contains("--on-conflict"),
        "{stderr}"
    );
    assert_eq!(writes_in(&stats(&sims).await), 0);
}

/// Both simulators of the `small` workspace with `users` users and no pending invite, an
/// empty target: every user is invited.
async fn simulators_with_users(users: usize) -> Simulators {
    let mut settings = SimSettings::for_tests(11);
    settings.counts = Counts::preset(Preset::Small);
    settings.counts.users = users;
    settings.counts.invites = 0;
    settings.time_scale = TimeScale::new(60.0).unwrap();
    settings.target = Target::Empty;
    Simulators::start(settings).await.unwrap()
}

/// `POST /invites` requests the Public simulator answered, whatever the status.
fn invite_requests(stats: &Value) -> u64 {
    stats["requests"]["POST /invites"]
        .as_object()
        .map_or(0, |statuses| {
            statuses.values().map(|n| n.as_u64().unwrap()).sum()
        })
}

fn invitations(ledger: &Path) -> Vec<common::outcome::Payload> {
    payloads(ledger)
        .into_iter()
        .filter(|p| p.step == "invite_user")
        .collect()
}

/// Applies the prepared plan with `--include-iam`, which sends the invitations; exit 0.
async fn apply_with_invitations(sims: &Simulators, dir: &Path) -> Summarized {
    let secrets = dir.join("secrets.toml");
    let out = run(
        sims,
        "apply",
        &dir.join("apply.ledger"),
        &["--secrets", secrets.to_str().unwrap(), "--include-iam"],
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    out
}

/// Every invitation payload done and the target holding each invitation once; the Public
/// simulator's statistics.
async fn each_invited_once(sims: &Simulators, invited: &[common::outcome::Payload]) -> Value {
    assert!(invited.iter().all(|p| p.state == "done"));
    let stats = stats(sims).await;
    assert_eq!(stats["duplicate_natural_keys"]["invites"], 0, "{stats}");
    let state = state_at(&sims.public.base_url()).await;
    assert_eq!(state["invites"].as_object().unwrap().len(), invited.len());
    stats
}

#[tokio::test]
async fn invitations_go_fifty_to_a_request() {
    let sims = simulators_with_users(120).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("apply.ledger");
    prepared(&sims, dir.path()).await;
    apply_with_invitations(&sims, dir.path()).await;

    let invited = invitations(&ledger);
    assert!(invited.len() > 100, "{} invitations", invited.len());
    let stats = each_invited_once(&sims, &invited).await;
    assert_eq!(
        invite_requests(&stats),
        invited.len().div_ceil(50) as u64,
        "{stats}"
    );
}

#[tokio::test]
async fn a_batch_whose_answer_is_lost_or_refused_invites_each_person_once() {
    // Two batches of fifty.
    let sims = simulators_with_users(100).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("apply.ledger");
    prepared(&sims, dir.path()).await;
    // The first batch is applied and its answer lost; the second is refused as a whole.
    let invites = || Matcher::new(reqwest::Method::POST, "/invites");
    sims.public
        .faults
        .script(invites(), ScriptedFault::Ghost, 1);
    sims.public
        .faults
        .script(invites(), ScriptedFault::Status(400), 1);
    let out = apply_with_invitations(&sims, dir.path()).await;
    assert_eq!(sims.public.faults.scripted_remaining(), 0);

    let invited = invitations(&ledger);
    assert_eq!(invited.len(), 100);
    let stats = each_invited_once(&sims, &invited).await;
    // The lost batch's invitations were found, not sent again; the refused batch's were each
    // looked for, then sent alone (a second attempt each).
    assert_eq!(out.summary["reconciled"], 50, "{}", out.summary);
    let sent_again = Ledger::inspect(&ledger)
        .unwrap()
        .plan_payloads(1)
        .unwrap()
        .into_iter()
        .filter(|p| p.step == "invite_user" && p.attempts == 2)
        .count();
    assert_eq!(sent_again, 50);
    assert_eq!(invite_requests(&stats), 2 + 50, "{stats}");
}

/// Labels are created beside the first steps (their endpoint has a limit of its own), and a
/// label the target refuses breaks its source only from `set_source_labels` on, as when labels
/// came after the sources: the source is still created and named.
#[tokio::test]
async fn labels_go_beside_the_first_steps_and_a_refused_one_still_lets_its_source_be_made() {
    let sims = simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("apply.ledger");
    prepared(&sims, dir.path()).await;
    let labels = payloads(&ledger)
        .iter()
        .filter(|p| p.step == "create_label")
        .count();
    assert!(labels >= 2, "the small workspace has labels");
    // The first label sent is refused.
    sims.public.faults.script(
        Matcher::new(reqwest::Method::POST, "/labels"),
        ScriptedFault::Status(400),
        1,
    );
    let secrets = dir.path().join("secrets.toml");
    let out = run(
        &sims,
        "apply",
        &ledger,
        &["--secrets", secrets.to_str().unwrap(), "--json-progress"],
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(sims.public.faults.scripted_remaining(), 0);

    // Beside: a label is done before the sources are named, which came first in line.
    let events: Vec<Value> = out
        .stderr
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let first = |kind: &str, task: &str| {
        events
            .iter()
            .position(|e| e["type"] == kind && e["data"]["task"] == task)
            .unwrap_or_else(|| panic!("no {kind} of {task} in\n{}", out.stderr))
    };
    assert!(
        first("task_advanced", "create_label") < first("task_started", "name_source"),
        "the labels waited for the sources"
    );

    // The refused label's source is created, not labelled; the other sources' labels are made.
    let after = payloads(&ledger);
    let refused = after
        .iter()
        .find(|p| p.step == "create_label" && p.state == "failed")
        .expect("the refused label failed");
    let state_of = |step: &str| {
        after
            .iter()
            .find(|p| p.seq == refused.seq && p.step == step)
            .map(|p| p.state.as_str())
    };
    assert_eq!(state_of("create_source"), Some("done"));
    assert_eq!(state_of("set_source_labels"), Some("pending"));
    // (Another label of the same source waits with it, as any later payload of a broken item.)
    let others = || {
        after
            .iter()
            .filter(|p| p.step == "create_label" && p.seq != refused.seq)
    };
    assert!(others().count() > 0);
    assert!(others().all(|p| p.state == "done"));
}
