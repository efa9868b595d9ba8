//! `segbridge sim` as a user runs it: the binary prints what a client needs on stdout, serves a
//! generated workspace on 127.0.0.1, and refuses bad options with exit code 2.

mod common;

use std::process::Stdio;

use common::inspect::{get_json_as, stats_at};
use common::sim_process::{Running, segbridge, start};

#[tokio::test]
async fn sim_prints_url_and_tokens_and_serves_the_generated_workspace() {
    let (_sim, lines) = start(&["--size", "tiny", "--seed", "9"], &[]);
    let url = lines
        .get("SEGMENT_CONFIG_API_URL")
        .map(String::as_str)
        .expect("URL printed");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let token = lines
        .get("SEGMENT_CONFIG_API_TOKEN")
        .map(String::as_str)
        .expect("token printed");
    let workspace = lines.get("SEGMENT_WORKSPACE").map(String::as_str).unwrap();
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
    assert!(
        lines
            .get("SEGMENT_CONFIG_API_TOKEN")
            .map(String::as_str)
            .is_none()
    );
    assert!(lines.values().all(|v| !v.contains(token)));
    let url = lines
        .get("SEGMENT_CONFIG_API_URL")
        .map(String::as_str)
        .unwrap();
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
