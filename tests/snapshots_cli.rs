//! Snapshots of what a user sees: `--help` of every subcommand, and the text of `plan`,
//! `status` and `audit` (matching, then with differences) on a fixed tiny simulated workspace
//! (seed 11). Ports, ids, times and temporary paths are filtered, so a snapshot changes only
//! when the output does.

mod common;

use std::path::Path;

use segbridge::sim::clock::TimeScale;
use segbridge::sim::generator::{Counts, Preset};
use segbridge::sim::public::Target;
use segbridge::sim::{SimSettings, Simulators};

use serde_json::{Value, json};

use common::public::public_api;
use common::scaled::{SCALE, export_into};

fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(args)
        .env("COLUMNS", "100")
        .output()
        .unwrap()
}

#[test]
fn help_of_every_subcommand() {
    // Every subcommand clap knows, so that a new one cannot go without a snapshot.
    let command = <segbridge::cli::Cli as clap::CommandFactory>::command();
    let names: Vec<String> = command
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .filter(|name| name != "help")
        .collect();
    assert!(names.len() >= 9, "{names:?}");
    for sub in std::iter::once(None).chain(names.iter().map(|n| Some(n.as_str()))) {
        let mut args: Vec<&str> = sub.into_iter().collect();
        args.push("--help");
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0));
        let name = format!("help_{}", sub.unwrap_or("segbridge"));
        if sub.is_some() {
            let help = String::from_utf8_lossy(&out.stdout);
            let example = help.split_once("\nExample:\n").map(|(_, rest)| rest);
            assert!(
                example.is_some_and(|e| e.contains(&format!("  segbridge {}", sub.unwrap()))),
                "{name} has no example"
            );
        }
        insta::assert_snapshot!(name, String::from_utf8(out.stdout).unwrap());
    }
}

/// Filters for what changes from run to run.
fn settings(dir: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(dir.to_str().unwrap()), "[TMP]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"\|[A-Za-z0-9]{10,}", "|[WORKSPACE_ID]");
    settings
}

fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// Both simulators serving the tiny workspace of seed 11, the target empty.
async fn tiny_simulators() -> Simulators {
    let mut sim = SimSettings::for_tests(11);
    sim.counts = Counts::preset(Preset::Tiny);
    sim.time_scale = TimeScale::new(SCALE).unwrap();
    sim.target = Target::Empty;
    Simulators::start(sim).await.unwrap()
}

/// Runs the binary with both tokens, without blocking the simulators' runtime.
async fn segbridge(sims: &Simulators, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(args)
        .env("SEGMENT_CONFIG_API_TOKEN", &sims.config.token)
        .env("SEGMENT_PUBLIC_API_TOKEN", &sims.public.token)
        .output()
        .await
        .unwrap()
}

/// stderr without progress lines: those are printed only when a run is slow enough, and are
/// not part of the result.
fn result_text(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.starts_with("progress:"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[tokio::test]
async fn plan_and_status_text() {
    let sims = tiny_simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("snap.ledger");
    export_into(&sims, &ledger).await;

    let url = sims.public.base_url();
    let args = [
        "plan",
        "--time-scale",
        "60",
        "--public-url",
        &url,
        "--ledger",
    ];
    let output = segbridge(&sims, &[&args[..], &[ledger.to_str().unwrap()]].concat()).await;
    let text = result_text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{text}");
    settings(dir.path()).bind(|| insta::assert_snapshot!("plan_text", text));

    let output = segbridge(&sims, &["status", "--ledger", ledger.to_str().unwrap()]).await;
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    settings(dir.path()).bind(|| insta::assert_snapshot!("status_text", text));
}

#[tokio::test]
async fn audit_text_matching_and_with_differences() {
    let sims = tiny_simulators().await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("snap.ledger");
    export_into(&sims, &ledger).await;
    let ledger = ledger.to_str().unwrap();
    let (config, public) = (sims.config.base_url(), sims.public.base_url());
    let both = [
        "--time-scale",
        "60",
        "--ledger",
        ledger,
        "--config-url",
        &config,
        "--public-url",
        &public,
    ];
    let plan = [
        "plan",
        "--time-scale",
        "60",
        "--ledger",
        ledger,
        "--public-url",
        &public,
    ];
    let apply = [&["apply", "--allow-missing-secrets"][..], &both[..]].concat();
    for args in [&plan[..], &apply[..]] {
        let out = segbridge(&sims, args).await;
        assert_eq!(out.status.code(), Some(0), "{}", result_text(&out.stderr));
    }

    let audit = [&["audit"][..], &both[..]].concat();
    let clean = segbridge(&sims, &audit).await;
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        result_text(&clean.stderr)
    );
    settings(dir.path())
        .bind(|| insta::assert_snapshot!("audit_text_match", result_text(&clean.stderr)));

    // Behind segbridge's back: the first destination by name gets another value in its first
    // plain setting (by name too, so the snapshot names the same one every run), and a source
    // is made by hand.
    let list = public_api(&sims, "GET", "/destinations", None).await;
    let mut destinations: Vec<&Value> = list["data"]["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    destinations.sort_by_key(|d| d["name"].as_str().unwrap().to_owned());
    let (id, setting) = destinations
        .iter()
        .find_map(|d| {
            let plain = d["settings"]
                .as_object()?
                .iter()
                .filter(|(_, v)| {
                    v.as_str()
                        .is_some_and(|s| !s.is_empty() && !s.contains('•'))
                })
                .map(|(k, _)| k)
                .min()?;
            Some((d["id"].as_str()?.to_owned(), plain.clone()))
        })
        .expect("a destination with a plain setting");
    let body = json!({"settings": {setting: "changed by hand"}});
    public_api(&sims, "PATCH", &format!("/destinations/{id}"), Some(body)).await;
    let sources = public_api(&sims, "GET", "/sources", None).await;
    let metadata = &sources["data"]["sources"][0]["metadata"]["id"];
    let body =
        json!({"slug": "made-by-hand", "enabled": false, "metadataId": metadata, "settings": {}});
    public_api(&sims, "POST", "/sources", Some(body)).await;

    let changed = segbridge(&sims, &audit).await;
    assert_eq!(
        changed.status.code(),
        Some(1),
        "{}",
        result_text(&changed.stderr)
    );
    let mut settings = settings(dir.path());
    // Public ids the simulator made up for this run.
    settings.add_filter(r"\b[A-Za-z0-9]{22}\b", "[ID]");
    settings.bind(|| insta::assert_snapshot!("audit_text_differ", result_text(&changed.stderr)));
}
