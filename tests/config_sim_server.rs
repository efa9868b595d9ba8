//! The Config simulator served on 127.0.0.1 as `segbridge sim` serves it: the rate limit, the
//! fault layer with the Config API's error shapes, and the inspection endpoints.

mod common;

use std::time::Duration;

use serde_json::Value;

use common::inspect::{state_at, stats_at};
use common::{RW_TOKEN, WS, small_workspace};
use segbridge::sim::clock::TimeScale;
use segbridge::sim::{SimSettings, Simulators};

async fn start(configure: impl FnOnce(&mut SimSettings)) -> Simulators {
    let mut settings = SimSettings::for_tests(1);
    settings.config_token = Some(RW_TOKEN.to_owned());
    configure(&mut settings);
    Simulators::start_with(settings, small_workspace())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_rate_limit_answers_429_code_8_with_retry_after_then_lets_through() {
    // 20 requests per minute, with a minute lasting 1/30 s... too short to be reliable; a
    // window of two seconds keeps the test fast and its timing robust on a loaded machine.
    let sims = start(|s| {
        s.config_rate_limit = 20;
        s.time_scale = TimeScale::new(30.0).unwrap();
    })
    .await;
    let base = sims.config.base_url();
    let client = reqwest::Client::new();
    let url = format!("{base}/v1beta/workspaces/{WS}/sources");
    let mut limited = 0;
    let mut retry_after = None;
    for _ in 0..30 {
        let response = client.get(&url).bearer_auth(RW_TOKEN).send().await.unwrap();
        if response.status() == 429 {
            limited += 1;
            retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().parse::<u64>().unwrap());
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["code"], 8);
        }
    }
    assert_eq!(limited, 10, "20 of 30 fit in one window");
    assert!(retry_after.is_some_and(|s| s >= 1), "{retry_after:?}");
    let counted = stats_at(&base).await;
    assert_eq!(counted["rate_limited"], 10);
    assert_eq!(
        counted["requests"]["GET /v1beta/workspaces/{ws}/sources"]["429"],
        10
    );
    // The limit in force, per simulated minute, for whoever measures against it.
    assert_eq!(counted["rate_limits"]["default"]["limit"], 20);
    assert_eq!(counted["rate_limits"]["default"]["window_seconds"], 60);
    // A client that waits out the window is admitted again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let response = client.get(&url).bearer_auth(RW_TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    sims.shutdown().await;
}

#[tokio::test]
async fn injected_faults_speak_the_config_api_error_shapes() {
    let sims = start(|_| {}).await;
    let base = sims.config.base_url();
    let client = reqwest::Client::new();
    let url = format!("{base}/v1beta/workspaces/{WS}/sources");
    let set = |spec: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let reply = client
                .post(format!("{base}/_sim/faults"))
                .body(spec)
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), 200, "{spec}");
        }
    };
    set("5xx=1").await;
    let response = client.get(&url).bearer_auth(RW_TOKEN).send().await.unwrap();
    assert!(response.status().is_server_error());
    let body: Value = response.json().await.unwrap();
    assert!(body["code"].is_u64() && body["error"].is_string(), "{body}");

    set("outage=0s+1h").await;
    let response = client.get(&url).bearer_auth(RW_TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .starts_with("upstream connect error")
    );

    set("reset=1").await;
    let err = client
        .get(&url)
        .bearer_auth(RW_TOKEN)
        .send()
        .await
        .unwrap_err();
    assert!(err.status().is_none(), "a reset has no status: {err}");

    set("none").await;
    assert_eq!(
        client
            .get(&url)
            .bearer_auth(RW_TOKEN)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let counted = stats_at(&base).await;
    assert_eq!(counted["faults"]["reset"], 1);
    sims.shutdown().await;
}

#[tokio::test]
async fn stats_report_resources_and_duplicates_and_state_is_served() {
    let sims = start(|_| {}).await;
    let base = sims.config.base_url();
    let client = reqwest::Client::new();
    let counted = stats_at(&base).await;
    assert_eq!(counted["api"], "config");
    assert_eq!(counted["resources"]["sources"], 2);
    assert_eq!(counted["resources"]["destinations"], 3);
    assert_eq!(counted["resources"]["catalog_destinations"], 348);
    assert_eq!(counted["duplicates_total"], 0);
    // A careless client can duplicate a filter (the Config API does not enforce its natural key).
    let filters =
        format!("{base}/v1beta/workspaces/{WS}/sources/js/destinations/google-analytics/filters");
    let body = serde_json::json!({"filter": {"if": "type != 'track'", "title": "Only allow track events", "actions": [{"type": "drop_event"}]}});
    let reply = client
        .post(&filters)
        .bearer_auth(RW_TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let counted = stats_at(&base).await;
    assert_eq!(counted["duplicate_natural_keys"]["destination_filters"], 1);
    assert_eq!(counted["writes"]["POST"], 1);
    let state = state_at(&base).await;
    assert_eq!(state["sources"].as_object().unwrap().len(), 2);
    sims.shutdown().await;
}
