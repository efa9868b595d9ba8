//! `segbridge export` against the Config simulator: complete and byte-exact, minimal in requests,
//! under the rate limit, unmoved by faults, resumable after kill -9, and loud about what it could
//! not read. The simulator runs in this process at `--time-scale 60` (a minute lasts a second);
//! the exporter paces itself with the same scale, so the real 200-per-minute limit applies.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use segbridge::config_api::{ConfigClient, ConfigClientSettings};
use segbridge::export::{self, ExportOptions, ExportOutcome};
use segbridge::http::{RetryPolicy, ScaledClock, Secret, SecretSource};
use segbridge::ledger::Ledger;
use segbridge::model::Kind;
use segbridge::progress::HiddenReporter;
use segbridge::secrets::SecretHasher;
use segbridge::sim::clock::TimeScale;
use segbridge::sim::faults::{FaultSpec, Matcher, ScriptedFault};
use segbridge::sim::generator::{Counts, Preset};
use segbridge::sim::{SimSettings, Simulators};

const SCALE: f64 = 60.0;
const TOKEN: &str =
    "exporttestexporttestexporttestexporttest123.exporttestexporttestexporttestexporttest123";

async fn simulator(preset: Preset, seed: u64, faults: &str) -> Simulators {
    let mut settings = SimSettings::for_tests(seed);
    settings.counts = Counts::preset(preset);
    settings.time_scale = TimeScale::new(SCALE).unwrap();
    settings.faults = faults.parse::<FaultSpec>().unwrap();
    // One token for every simulator: secret markers are keyed by the token, so comparing two
    // exports of the same workspace needs the same one.
    settings.config_token = Some(TOKEN.to_owned());
    Simulators::start(settings).await.unwrap()
}

fn client(sims: &Simulators) -> ConfigClient {
    let token = Secret::new(
        sims.config.token.clone(),
        SecretSource::EnvVar("SEGMENT_CONFIG_API_TOKEN".into()),
    )
    .unwrap();
    let mut settings = ConfigClientSettings::new(token);
    settings.base_url = sims.config.base_url().parse().unwrap();
    settings.clock = Arc::new(ScaledClock::new(SCALE));
    // Short backoffs: the faults are frequent and the test should not sleep for long.
    settings.retry = RetryPolicy {
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(500),
        max_retries: 12,
        ..RetryPolicy::default()
    };
    ConfigClient::new(settings).unwrap()
}

fn options(sims: &Simulators, kinds: BTreeSet<Kind>) -> ExportOptions {
    ExportOptions {
        config_url: sims.config.base_url(),
        workspace: None,
        kinds,
        concurrency: 4,
        held_secrets: None,
    }
}

fn all_kinds() -> BTreeSet<Kind> {
    Kind::ALL.into_iter().collect()
}

async fn export_with(
    sims: &Simulators,
    ledger: &Mutex<Ledger>,
    kinds: BTreeSet<Kind>,
) -> (ExportOutcome, ConfigClient) {
    let client = client(sims);
    let hasher = SecretHasher::from_token(&sims.config.token);
    let outcome = export::export(
        &client,
        ledger,
        &hasher,
        &options(sims, kinds),
        &HiddenReporter,
    )
    .await
    .unwrap();
    (outcome, client)
}

async fn get_json(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// Walks `stored` and `served` together: equal except where `stored` holds a secret marker.
fn same_but_secrets(stored: &Value, served: &Value) -> bool {
    match (stored, served) {
        (Value::Object(a), _) if a.contains_key("segbridge_secret") => true,
        (Value::Object(a), Value::Object(b)) => {
            a.keys().eq(b.keys()) && a.iter().all(|(k, v)| same_but_secrets(v, &b[k]))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_but_secrets(x, y))
        }
        (a, b) => a == b,
    }
}

/// (kind, name, content hash) of every object in a ledger: what "the same result" means.
fn fingerprint(ledger: &Mutex<Ledger>) -> BTreeSet<(String, String, String)> {
    let ledger = ledger.lock().unwrap();
    Kind::ALL
        .into_iter()
        .flat_map(|kind| ledger.objects_of_kind(kind).unwrap())
        .map(|o| (o.kind, o.name, o.hash))
        .collect()
}

fn files_contain(path: &Path, needle: &str) -> bool {
    let dir = path.parent().unwrap();
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

#[tokio::test]
async fn a_medium_export_matches_the_simulator_count_for_count_and_byte_for_byte() {
    let sims = simulator(Preset::Medium, 5, "none").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.ledger");
    let ledger = Mutex::new(Ledger::open(&path).unwrap());
    let (outcome, client) = export_with(&sims, &ledger, all_kinds()).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);

    let base = sims.config.base_url();
    let stats = get_json(format!("{base}/_sim/stats")).await;
    for (kind, served) in stats["resources"].as_object().unwrap() {
        let kind: Kind = kind.parse().unwrap();
        assert_eq!(
            outcome.objects.get(&kind).copied().unwrap_or(0),
            served.as_u64().unwrap(),
            "{kind}"
        );
    }

    let state = get_json(format!("{base}/_sim/state")).await;
    let mut compared = 0;
    for kind in Kind::ALL.into_iter().filter(|k| k.is_stored()) {
        for object in ledger.lock().unwrap().objects_of_kind(kind).unwrap() {
            let served = &state[kind.as_str()][&object.name];
            assert!(
                !served.is_null(),
                "{kind} {} is not in the simulator",
                object.name
            );
            assert!(
                same_but_secrets(&object.json(), served),
                "{kind} {} differs",
                object.name
            );
            compared += 1;
        }
    }
    let served_total: usize = state
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "secrets")
        .map(|(_, v)| v.as_object().unwrap().len())
        .sum();
    assert_eq!(compared, served_total);

    // No secret the simulator holds is anywhere in the ledger's files.
    drop(ledger);
    let secrets = state["secrets"].as_array().unwrap();
    assert!(!secrets.is_empty());
    for secret in secrets {
        assert!(
            !files_contain(&path, secret.as_str().unwrap()),
            "a secret leaked"
        );
    }

    // Paced under the real limit: 429s are rare, not the pacing mechanism.
    let metrics = client.metrics().snapshot();
    assert!(
        metrics.rate_limited * 100 <= metrics.requests_sent,
        "{} 429s in {} requests",
        metrics.rate_limited,
        metrics.requests_sent
    );
}

/// The fewest requests the API allows for this workspace: one per page of every list, one per
/// schema config (there is no list of them), nothing per item where a list carries the object.
/// Tracking plans go a few to a page rather than a hundred, to keep a page (which carries every
/// plan's rules) small: `TRACKING_PLANS_PAGE_SIZE`.
fn minimum_requests(state: &Value) -> u64 {
    let pages = |n: usize| n.div_ceil(100).max(1) as u64;
    let plan_pages = |n: usize| {
        let per_page = segbridge::config_api::TRACKING_PLANS_PAGE_SIZE as usize;
        n.div_ceil(per_page).max(1) as u64
    };
    let count = |kind: &str| state[kind].as_object().map_or(0, |o| o.len());
    let objects = |kind: &str| state[kind].as_object().unwrap().iter();
    let mut total = 1 // workspaces
        + pages(count("catalog_sources"))
        + pages(count("catalog_destinations"))
        + pages(count("access_tokens"))
        + pages(count("sources"))
        + plan_pages(count("tracking_plans"))
        + pages(count("roles"))
        + pages(count("policies"))
        + pages(count("invites"))
        + pages(count("users"));
    let functions = |t: &str| objects("functions").filter(|(_, f)| f["type"] == t).count();
    total += pages(functions("SOURCE")) + pages(functions("DESTINATION"));
    for (source, _) in objects("sources") {
        let prefix = format!("{source}/destinations/");
        let destinations: Vec<&String> = objects("destinations")
            .map(|(name, _)| name)
            .filter(|name| name.starts_with(&prefix))
            .collect();
        total += 1 + pages(destinations.len()); // schema config + destination pages
        for destination in destinations {
            let filters = format!("{destination}/filters/");
            total += pages(
                objects("destination_filters")
                    .filter(|(n, _)| n.starts_with(&filters))
                    .count(),
            );
        }
    }
    for (plan, _) in objects("tracking_plans") {
        let connections = format!("{plan}/source-connections/");
        total += pages(
            objects("tracking_plan_connections")
                .filter(|(n, _)| n.starts_with(&connections))
                .count(),
        );
    }
    total
}

#[tokio::test]
async fn requests_are_the_minimum_the_api_allows() {
    let sims = simulator(Preset::Small, 11, "none").await;
    let ledger = Mutex::new(Ledger::open_in_memory().unwrap());
    let (outcome, _) = export_with(&sims, &ledger, ExportOptions::default_kinds()).await;
    assert!(outcome.failures.is_empty());
    let base = sims.config.base_url();
    let state = get_json(format!("{base}/_sim/state")).await;
    let stats = get_json(format!("{base}/_sim/stats")).await;
    let made = stats["requests_total"].as_u64().unwrap();
    assert_eq!(made, minimum_requests(&state));
    assert!(made < 200, "a small workspace exports in {made} requests");
}

#[tokio::test]
async fn faults_do_not_change_the_result() {
    let clean_sims = simulator(Preset::Small, 21, "none").await;
    let clean = Mutex::new(Ledger::open_in_memory().unwrap());
    export_with(&clean_sims, &clean, all_kinds()).await;

    // 5% server errors, resets, truncated bodies, HTML gateway pages, and a 429 storm of 3 (real)
    // seconds every 10 — all while the exporter works.
    let faulty = simulator(
        Preset::Small,
        21,
        "5xx=0.05,reset=0.02,truncate=0.02,html=0.01,storm=180s/600s,seed=4",
    )
    .await;
    let ledger = Mutex::new(Ledger::open_in_memory().unwrap());
    let (outcome, client) = export_with(&faulty, &ledger, all_kinds()).await;
    assert!(outcome.failures.is_empty(), "{:?}", outcome.failures);
    let stats = get_json(format!("{}/_sim/stats", faulty.config.base_url())).await;
    let faults = stats["faults"].as_object().unwrap();
    let injected: u64 = faults.values().map(|v| v.as_u64().unwrap()).sum();
    assert!(injected > 5, "the faults were injected: {faults:?}");
    assert!(client.metrics().snapshot().retries > 0);
    assert_same(&fingerprint(&ledger), &fingerprint(&clean));
}

fn assert_same(
    actual: &BTreeSet<(String, String, String)>,
    expected: &BTreeSet<(String, String, String)>,
) {
    let missing: Vec<_> = expected.difference(actual).take(5).collect();
    let extra: Vec<_> = actual.difference(expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing or different: {missing:?}\nextra or different: {extra:?}"
    );
}

/// Collections completed by any run of the ledger at `path` (0 while it does not exist yet).
fn completed_collections(path: &Path) -> u64 {
    if !path.exists() {
        return 0;
    }
    let Ok(ledger) = Ledger::inspect(path) else {
        return 0;
    };
    let runs = ledger.runs().unwrap_or_default();
    runs.iter()
        .map(|run| ledger.completed_collections(run.id).unwrap_or(0))
        .sum()
}

fn segbridge() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"));
    command
        .env("SEGBRIDGE_RETRY_BASE_MS", "20")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn export_command(sims: &Simulators, ledger: &Path) -> tokio::process::Command {
    let mut command = segbridge();
    command
        .env("SEGMENT_CONFIG_API_TOKEN", &sims.config.token)
        .args(["export", "--json", "--time-scale", "60", "--config-url"])
        .arg(sims.config.base_url())
        .arg("--ledger")
        .arg(ledger);
    command
}

#[tokio::test]
async fn a_permanently_failing_endpoint_exits_1_and_names_the_endpoint() {
    let sims = simulator(Preset::Tiny, 3, "none").await;
    let ws = sims.config.workspace_slug.clone();
    let source = sims.config.sim.store().workspaces[0].sources[1]
        .slug
        .clone();
    let broken = format!("/v1beta/workspaces/{ws}/sources/{source}/destinations");
    sims.config.faults.script(
        Matcher::new(axum::http::Method::GET, broken.clone()),
        ScriptedFault::Status(400),
        1000,
    );
    let dir = tempfile::tempdir().unwrap();
    let output = export_command(&sims, &dir.path().join("l"))
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&broken[8..]), "{stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["failures"].as_array().unwrap().len(), 1);
    assert_eq!(summary["failures"][0]["kind"], "destinations");
    assert!(
        summary["objects"]["sources"].as_u64().unwrap() > 0,
        "the rest was exported"
    );
}

#[tokio::test]
async fn verbose_prints_every_retry_and_quiet_prints_none() {
    let sims = simulator(Preset::Tiny, 4, "5xx=0.3").await;
    let dir = tempfile::tempdir().unwrap();
    let mut stderr_of = Vec::new();
    for (name, flag) in [
        ("plain", None),
        ("verbose", Some("-v")),
        ("quiet", Some("-q")),
    ] {
        let mut command = export_command(&sims, &dir.path().join(name));
        command.args(flag);
        let output = command.output().await.unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        stderr_of.push(stderr);
    }
    let retries = |text: &str| text.lines().filter(|l| l.starts_with("retry ")).count();
    assert_eq!(retries(&stderr_of[0]), 0, "{}", stderr_of[0]);
    assert!(retries(&stderr_of[1]) > 0, "{}", stderr_of[1]);
    assert!(
        stderr_of[1].contains("retry 1 of config GET /v1beta/"),
        "{}",
        stderr_of[1]
    );
    assert_eq!(stderr_of[2], "", "-q prints nothing on success");
}

#[tokio::test]
async fn kill_nine_at_random_moments_then_rerun_completes_with_fewer_requests() {
    let sims = simulator(Preset::Small, 8, "none").await;
    let dir = tempfile::tempdir().unwrap();

    // A reference: one uninterrupted export and its request count.
    let full = export_command(&sims, &dir.path().join("full.ledger"))
        .output()
        .await
        .unwrap();
    assert_eq!(
        full.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&full.stderr)
    );
    let full_summary: Value = serde_json::from_slice(&full.stdout).unwrap();
    let full_requests = full_summary["requests"].as_u64().unwrap();
    let reference = Mutex::new(Ledger::open(&dir.path().join("full.ledger")).unwrap());

    // Kill at seeded random moments inside the run, then let the last one finish.
    let path = dir.path().join("killed.ledger");
    let mut rng = segbridge::sim::rng::Rng::new(77);
    for _ in 0..3 {
        let mut child = export_command(&sims, &path).spawn().unwrap();
        // Kill inside the run, not before it starts: wait until the ledger shows the run's
        // first completed collection, then a random moment more.
        while completed_collections(&path) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let at = Duration::from_millis(rng.range(20, 400) as u64);
        tokio::time::sleep(at).await;
        child.start_kill().unwrap();
        child.wait().await.unwrap();
    }
    let last = export_command(&sims, &path).output().await.unwrap();
    assert_eq!(
        last.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&last.stderr)
    );
    let summary: Value = serde_json::from_slice(&last.stdout).unwrap();
    assert_eq!(summary["resumed"], true);
    let after_restart = summary["requests"].as_u64().unwrap();
    assert!(
        after_restart < full_requests,
        "{after_restart} requests after the restart, {full_requests} for a full export"
    );
    let resumed = Mutex::new(Ledger::open(&path).unwrap());
    assert_same(&fingerprint(&resumed), &fingerprint(&reference));
    assert_eq!(resumed.lock().unwrap().integrity_check().unwrap(), Ok(()));
}

#[tokio::test]
async fn a_token_on_the_command_line_is_refused_with_a_hint() {
    let output = segbridge()
        .args([
            "export",
            "--config-token",
            "abc",
            "--ledger",
            "/nonexistent/l",
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("hint:") && stderr.contains("SEGMENT_CONFIG_API_TOKEN"),
        "{stderr}"
    );
    assert!(!stderr.contains("abc"), "the token is not echoed: {stderr}");
}

#[tokio::test]
async fn a_second_export_on_a_ledger_in_use_is_refused_and_changes_nothing() {
    let sims = simulator(Preset::Tiny, 4, "none").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.ledger");
    let holder = Ledger::open(&path).unwrap();
    let output = export_command(&sims, &path).output().await.unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("another segbridge process"), "{stderr}");
    assert!(
        holder.runs().unwrap().is_empty(),
        "the refused export wrote nothing"
    );
    let stats = get_json(format!("{}/_sim/stats", sims.config.base_url())).await;
    assert_eq!(stats["requests_total"], 0, "it did not even start reading");
}
