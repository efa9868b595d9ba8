//! `segbridge demo`, the README's main command, as a newcomer runs it: no token in the
//! environment, no set-up. It must end with a matching audit, write every report and the id map
//! into its folder with mode 0600, and leave no token or secret anywhere it wrote.

mod common;

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use segbridge::sim::generator::{Counts, Preset};
use segbridge::sim::{SimSettings, Simulators};

use common::inspect::{secrets_in, state_at};

const SEED: u64 = 3;

fn demo(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .arg("demo")
        .args(["--size", "tiny", "--seed", "3", "--time-scale", "60"])
        .args(args)
        .env_remove("SEGMENT_CONFIG_API_TOKEN")
        .env_remove("SEGMENT_PUBLIC_API_TOKEN")
        .env("SEGBRIDGE_RETRY_BASE_MS", "20")
        .output()
        .unwrap()
}

/// The secrets of the demo's workspace: the generator is deterministic, so simulators started
/// here with the same preset and seed hold the same values.
async fn secrets_of_the_demo_workspace() -> Vec<String> {
    let mut settings = SimSettings::for_tests(SEED);
    settings.counts = Counts::preset(Preset::Tiny);
    let sims = Simulators::start(settings).await.unwrap();
    let secrets = secrets_in(&state_at(&sims.config.base_url()).await);
    sims.shutdown().await;
    secrets
}

/// Whether `text` holds something shaped like a simulator token: a Config API token (two
/// 43-character base64url halves joined by a dot) or a Public API token (`sgp_` and 64
/// alphanumerics). The demo's tokens are random, so their shape is what can be looked for.
fn holds_a_token(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let base64url = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    let run =
        |from: usize, ok: &dyn Fn(u8) -> bool| bytes[from..].iter().take_while(|b| ok(**b)).count();
    for (i, window) in bytes.windows(4).enumerate() {
        if window == b"sgp_" && run(i + 4, &|b| b.is_ascii_alphanumeric()) >= 64 {
            return Some(text[i..i + 68].to_owned());
        }
    }
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'.' && i >= 43 && run(i + 1, &base64url) >= 43 {
            let before = bytes[..i]
                .iter()
                .rev()
                .take_while(|b| base64url(**b))
                .count();
            if before >= 43 {
                return Some(String::from_utf8_lossy(&bytes[i - 43..i + 44]).into_owned());
            }
        }
    }
    None
}

fn assert_clean(name: &str, text: &str, secrets: &[String]) {
    if let Some(token) = holds_a_token(text) {
        panic!("{name} holds a token-shaped string `{token}`");
    }
    for secret in secrets {
        assert!(!text.contains(secret.as_str()), "{name} holds a secret");
    }
}

#[test]
fn the_token_detector_finds_both_shapes() {
    let config = format!("x {}.{} y", "a".repeat(43), "B-_".repeat(15));
    assert!(holds_a_token(&config).is_some());
    assert!(holds_a_token(&format!("token=sgp_{}", "Z9".repeat(32))).is_some());
    assert!(holds_a_token("sgp_short and example.com and a.b").is_none());
}

#[tokio::test]
async fn the_demo_migrates_a_workspace_and_leaves_reports_but_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("demo");
    let out = demo(&["--out", folder.to_str().unwrap(), "--json"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();

    let migrate = &summary["migrate"];
    assert_eq!(migrate["audit"]["summary"]["ok"], true, "{migrate}");
    assert_eq!(migrate["apply"]["failed"], 0);
    // The demo goes all the way: invitations and the cut-over are sent, not deferred.
    assert_eq!(migrate["apply"]["deferred"]["iam"], 0);
    assert_eq!(migrate["apply"]["deferred"]["cut_over"], 0);
    assert!(migrate["apply"]["writes"].as_u64().unwrap() > 0);
    assert!(
        stderr.contains("Simulators on 127.0.0.1") && stderr.contains("Step 4/4: audit"),
        "{stderr}"
    );

    let mut names: Vec<String> = summary["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let path = Path::new(f["path"].as_str().unwrap());
            assert!(path.starts_with(&folder), "{}", path.display());
            path.file_name().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "audit.csv",
            "audit.html",
            "audit.json",
            "audit.md",
            "demo.ledger",
            "idmap.csv",
            "plan.csv",
            "plan.html",
            "plan.json",
            "plan.md"
        ]
    );

    // The audit report says what the summary says.
    let audit: Value =
        serde_json::from_slice(&std::fs::read(folder.join("audit.json")).unwrap()).unwrap();
    assert_eq!(audit["summary"], migrate["audit"]["summary"]);

    let secrets = secrets_of_the_demo_workspace().await;
    assert!(!secrets.is_empty(), "the tiny workspace holds secrets");
    assert_clean("stdout", &stdout, &secrets);
    assert_clean("stderr", &stderr, &secrets);
    for entry in std::fs::read_dir(&folder).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert_clean(&path.display().to_string(), &text, &secrets);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode & 0o077, 0, "{} is readable by others", path.display());
        }
    }
}

#[test]
fn the_text_summary_ends_with_the_files_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("text");
    let out = demo(&["--out", folder.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("the audit finds the copy complete and faithful"),
        "{stdout}"
    );
    let files: Vec<&str> = stdout
        .lines()
        .skip_while(|l| *l != "Files:")
        .skip(1)
        .collect();
    assert_eq!(files.len(), 10, "{stdout}");
    for line in files {
        let path = line.trim().split("  ").next().unwrap();
        assert!(Path::new(path).exists(), "{path} is listed but missing");
    }
}

#[test]
fn the_demo_will_not_write_into_a_folder_that_holds_something() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "mine").unwrap();
    let out = demo(&["--out", dir.path().to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is not an empty folder") && stderr.contains("hint: name a new folder"),
        "{stderr}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "nothing was written next to keep.txt");
}
