//! `segbridge sim` as a user runs it: the binary prints both simulators' URLs and tokens as
//! `KEY=value` lines on stdout, serves them, and takes tokens from the environment when set.

mod common;

use common::inspect::get_json_as;
use common::sim_process::start;
use serde_json::Value;

#[tokio::test]
async fn prints_both_simulators_and_serves_the_public_one_as_asked() {
    let (_sim, lines) = start(&["--size", "tiny", "--target", "mirror"], &[]);
    for key in [
        "SEGMENT_CONFIG_API_URL",
        "SEGMENT_CONFIG_API_TOKEN",
        "SEGMENT_WORKSPACE",
        "SEGMENT_PUBLIC_API_URL",
        "SEGMENT_PUBLIC_API_TOKEN",
    ] {
        assert!(lines.contains_key(key), "{key} missing from {lines:?}");
    }
    let token = &lines["SEGMENT_PUBLIC_API_TOKEN"];
    assert!(token.starts_with("sgp_"), "{token}");
    let url = &lines["SEGMENT_PUBLIC_API_URL"];
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let ws = get_json_as(format!("{url}/"), token).await;
    // A mirror shows the same workspace as the Config side.
    assert_eq!(
        ws["data"]["workspace"]["slug"],
        lines["SEGMENT_WORKSPACE"].as_str()
    );
    assert_eq!(
        lines["SEGMENT_PUBLIC_WORKSPACE"],
        lines["SEGMENT_WORKSPACE"]
    );
}

#[tokio::test]
async fn a_token_from_the_environment_is_accepted_and_not_echoed() {
    let mine = "sgp_mine";
    let (_sim, lines) = start(
        &["--size", "tiny", "--public-rate-limit", "50"],
        &[("SEGMENT_PUBLIC_API_TOKEN", mine)],
    );
    assert!(!lines.contains_key("SEGMENT_PUBLIC_API_TOKEN"), "{lines:?}");
    let url = &lines["SEGMENT_PUBLIC_API_URL"];
    let response = reqwest::Client::new()
        .get(format!("{url}/sources"))
        .bearer_auth(mine)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-ratelimit-remaining"], "49");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["data"]["sources"],
        serde_json::json!([]),
        "empty is the default target"
    );
}
