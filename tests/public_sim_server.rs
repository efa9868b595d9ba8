//! The Public simulator served on 127.0.0.1 beside the Config one, as `segbridge sim` serves
//! them: its own token, rate limiter, fault layer (speaking the Public API's error envelope) and
//! inspection endpoints.

mod common;

use std::time::Duration;

use serde_json::Value;

use common::inspect::get_json_as;
use common::{PUBLIC_TOKEN, RW_TOKEN, WS, small_workspace};
use segbridge::sim::clock::TimeScale;
use segbridge::sim::public::Target;
use segbridge::sim::{SimSettings, Simulators};

async fn start(configure: impl FnOnce(&mut SimSettings)) -> Simulators {
    let mut settings = SimSettings::for_tests(1);
    settings.config_token = Some(RW_TOKEN.to_owned());
    settings.public_token = Some(PUBLIC_TOKEN.to_owned());
    settings.target = Target::Mirror;
    configure(&mut settings);
    Simulators::start_with(settings, small_workspace())
        .await
        .unwrap()
}

#[tokio::test]
async fn both_simulators_serve_the_same_workspace_with_their_own_tokens() {
    let sims = start(|_| {}).await;
    let client = reqwest::Client::new();
    let public = sims.public.base_url();
    assert_ne!(public, sims.config.base_url());
    let ws = get_json_as(format!("{public}/"), PUBLIC_TOKEN).await;
    assert_eq!(ws["data"]["workspace"]["slug"], WS);
    // Each API accepts only its own token.
    let wrong = client
        .get(format!("{public}/sources"))
        .bearer_auth(RW_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let config = client
        .get(format!(
            "{}/v1beta/workspaces/{WS}/sources",
            sims.config.base_url()
        ))
        .bearer_auth(PUBLIC_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(config.status(), 401);
    assert_eq!(sims.public.resource_counts()["sources"], 2);
    assert!(sims.public.generated_token.is_none());
    sims.shutdown().await;
}

#[tokio::test]
async fn the_default_limit_window_shrinks_with_the_time_scale() {
    let sims = start(|s| {
        s.public_rate_limit = 20;
        s.time_scale = TimeScale::new(30.0).unwrap();
    })
    .await;
    let client = reqwest::Client::new();
    let url = format!("{}/sources", sims.public.base_url());
    let mut limited = 0;
    for _ in 0..30 {
        let response = client
            .get(&url)
            .bearer_auth(PUBLIC_TOKEN)
            .send()
            .await
            .unwrap();
        if response.status() == 429 {
            limited += 1;
            assert!(response.headers().contains_key("retry-after"));
            let body: Value = response.json().await.unwrap();
            assert!(body["errors"][0]["data"]["msBeforeNext"].as_u64().unwrap() <= 2_000);
        }
    }
    assert_eq!(limited, 10, "20 of 30 fit in one two-second window");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let response = client
        .get(&url)
        .bearer_auth(PUBLIC_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The limits in force, in simulated time, for whoever measures against them.
    let stats: Value = client
        .get(format!("{}/_sim/stats", sims.public.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let limits = &stats["rate_limits"];
    assert_eq!(limits["default"]["limit"], 20);
    assert_eq!(limits["default"]["window_seconds"], 60);
    assert_eq!(limits["endpoints"]["POST /labels"]["limit"], 60);
    sims.shutdown().await;
}

#[tokio::test]
async fn injected_faults_speak_the_public_error_envelope() {
    let sims = start(|_| {}).await;
    let base = sims.public.base_url();
    let client = reqwest::Client::new();
    let url = format!("{base}/sources");
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
    let response = client
        .get(&url)
        .bearer_auth(PUBLIC_TOKEN)
        .send()
        .await
        .unwrap();
    assert!(response.status().is_server_error());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["type"], "ServerError", "{body}");
    set("storm=1h/1h,outage=0s+1h").await;
    let response = client
        .get(&url)
        .bearer_auth(PUBLIC_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"].is_array());
    set("none").await;
    let response = client
        .get(&url)
        .bearer_auth(PUBLIC_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let stats: Value = client
        .get(format!("{base}/_sim/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["api"], "public");
    assert_eq!(stats["requests"]["GET /sources"]["200"], 1);
    // The Config simulator has its own injector: none of this reached it.
    assert_eq!(sims.config.stats.requests_total(), 0);
    sims.shutdown().await;
}
