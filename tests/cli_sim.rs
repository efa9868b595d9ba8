//! `segbridge sim` as a user runs it: the binary prints what a client needs on stdout, serves a
//! generated workspace on 127.0.0.1, and refuses bad options with exit code 2.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::inspect::{get_json_as, stats_at};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn segbridge() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_segbridge"));
    command.env_remove("SEGMENT_CONFIG_API_TOKEN");
    command
}

/// Starts `segbridge sim` and reads its `KEY=value` lines, up to the last one.
fn start(args: &[&str], env: &[(&str, &str)]) -> (Running, Vec<(String, String)>) {
    let mut command = segbridge();
    command
        .arg("sim")
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("segbridge runs");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some((key, value)) = line.split_once('=') {
            lines.push((key.to_owned(), value.to_owned()));
            if key == "SEGMENT_PUBLIC_WORKSPACE" {
                break;
            }
        }
    }
    (running, lines)
}

fn value<'a>(lines: &'a [(String, String)], key: &str) -> Option<&'a str> {
    lines
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn sim_prints_url_and_tokens_and_serves_the_generated_workspace() {
    let (_sim, lines) = start(&["--size", "tiny", "--seed", "9"], &[]);
    let url = value(&lines, "SEGMENT_CONFIG_API_URL").expect("URL printed");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let token = value(&lines, "SEGMENT_CONFIG_API_TOKEN").expect("token printed");
    let workspace = value(&lines, "SEGMENT_WORKSPACE").unwrap();
    let stats = stats_at(url).await;
    assert!(stats["resources_total"].as_u64().unwrap() > 20);
    let sources = get_json_as(
        format!("{url}/v1beta/workspaces/{workspace}/sources"),
        token,
    )
    .await;
    assert!(!sources["sources"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_token_from_the_environment_is_accepted_and_not_echoed() {
    let token =
        "envtokenenvtokenenvtokenenvtokenenvtokenenv.envtokenenvtokenenvtokenenvtokenenvtokenenv";
    let (_sim, lines) = start(&["--size", "tiny"], &[("SEGMENT_CONFIG_API_TOKEN", token)]);
    assert!(value(&lines, "SEGMENT_CONFIG_API_TOKEN").is_none());
    assert!(lines.iter().all(|(_, v)| !v.contains(token)));
    let url = value(&lines, "SEGMENT_CONFIG_API_URL").unwrap();
    let status = reqwest::Client::new()
        .get(format!("{url}/v1beta/workspaces"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

#[test]
fn bad_options_are_usage_errors() {
    for args in [
        &["sim", "--size", "huge"][..],
        &["sim", "--faults", "5xx=2"],
        &["sim", "--time-scale", "0"],
    ] {
        let output = segbridge().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("error"), "{args:?}: {stderr}");
    }
    let output = segbridge()
        .args(["sim", "--counts", "sourcez=3"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error: Invalid `--counts`"), "{stderr}");
    assert!(stderr.contains("sourcez"), "{stderr}");
}

#[tokio::test]
async fn the_simulators_keep_serving_when_their_reader_goes_away() {
    // A free port, so the test knows where to look without reading the (closed) output.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut command = segbridge();
    command
        .args(["sim", "--size", "tiny", "--config-port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    // Close the read end before the simulators print anything: their writes fail with EPIPE.
    drop(child.stdout.take());
    let running = Running(child);
    let url = format!("http://127.0.0.1:{port}/_sim/stats");
    let mut status = None;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if let Ok(response) = reqwest::get(&url).await {
            status = Some(response.status());
            break;
        }
    }
    assert_eq!(status.map(|s| s.as_u16()), Some(200));
    // Still serving a moment later (a process dying of the closed pipe would be gone by now).
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    drop(running);
}
