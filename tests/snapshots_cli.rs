//! Snapshots of what a user sees: `--help` of every subcommand, and the text of `plan` and
//! `status` on a fixed tiny simulated workspace (seed 11). Ports, ids, times and temporary
//! paths are filtered, so a snapshot changes only when the output does.

mod common;

use std::path::Path;

use segbridge::sim::clock::TimeScale;
use segbridge::sim::generator::{Counts, Preset};
use segbridge::sim::public::Target;
use segbridge::sim::{SimSettings, Simulators};

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

#[tokio::test]
async fn plan_and_status_text() {
    let mut sim = SimSettings::for_tests(11);
    sim.counts = Counts::preset(Preset::Tiny);
    sim.time_scale = TimeScale::new(SCALE).unwrap();
    sim.target = Target::Empty;
    let sims = Simulators::start(sim).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("snap.ledger");
    export_into(&sims, &ledger).await;

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(["plan", "--time-scale", "60", "--ledger"])
        .arg(&ledger)
        .args(["--public-url", &sims.public.base_url()])
        .env("SEGMENT_PUBLIC_API_TOKEN", &sims.public.token)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    // Progress lines (only when the run is slow enough to print any) are not part of the result.
    let text: String = stderr
        .lines()
        .filter(|l| !l.starts_with("progress:"))
        .map(|l| format!("{l}\n"))
        .collect();
    settings(dir.path()).bind(|| insta::assert_snapshot!("plan_text", text));

    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(["status", "--ledger"])
        .arg(&ledger)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    settings(dir.path()).bind(|| insta::assert_snapshot!("status_text", text));
}
