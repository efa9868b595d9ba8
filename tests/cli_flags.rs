//! Command-line rules that hold before anything is read: tokens are never plain arguments, and
//! the target's region and URL cannot both be given.

use std::process::Command;

fn segbridge(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(args)
        .env_remove("SEGMENT_CONFIG_API_TOKEN")
        .env_remove("SEGMENT_PUBLIC_API_TOKEN")
        .output()
        .unwrap()
}

#[test]
fn a_public_token_on_the_command_line_is_refused_and_not_echoed() {
    let output = segbridge(&[
        "plan",
        "--public-token",
        "sgp_secretvalue",
        "--ledger",
        "/nonexistent/l",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("hint:") && stderr.contains("SEGMENT_PUBLIC_API_TOKEN"),
        "{stderr}"
    );
    assert!(!stderr.contains("sgp_secretvalue"), "{stderr}");
}

#[test]
fn region_and_public_url_exclude_each_other() {
    let output = segbridge(&[
        "plan",
        "--region",
        "eu",
        "--public-url",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--region") && stderr.contains("--public-url"),
        "{stderr}"
    );
}

#[test]
fn a_missing_token_names_the_variable_and_the_file_flag() {
    let output = segbridge(&["export", "--ledger", "/nonexistent/l"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("SEGMENT_CONFIG_API_TOKEN") && stderr.contains("--config-token-file"),
        "{stderr}"
    );
}

#[test]
fn status_without_a_ledger_says_to_export_first() {
    let output = segbridge(&["status", "--ledger", "/nonexistent/segbridge.ledger"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("run `segbridge export` first"), "{stderr}");
}

#[test]
fn concurrency_is_a_whole_number_from_1_to_64() {
    for bad in ["0", "65", "four"] {
        let output = segbridge(&["apply", "--concurrency", bad]);
        assert_eq!(output.status.code(), Some(2), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("from 1 to 64"), "{bad}: {stderr}");
    }
}

#[test]
fn a_reader_that_closes_stdout_early_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("empty.ledger");
    drop(segbridge::ledger::Ledger::open(&ledger).unwrap());
    for json in [false, true] {
        // The pipe's reading end is closed before the command starts, so its first write to
        // stdout fails with EPIPE, as under `segbridge status | head -c 1` on a long output.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut command = Command::new(env!("CARGO_BIN_EXE_segbridge"));
        command.args(["status", "--ledger", ledger.to_str().unwrap()]);
        if json {
            command.arg("--json");
        }
        let output = command
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert_eq!(stderr, "", "nothing to say about a closed pipe");
    }
}
