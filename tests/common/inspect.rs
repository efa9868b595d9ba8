//! What the tests read from a running simulator's `/_sim` routes: its state, its request
//! statistics, the writes it received and the secret values it holds.

use serde_json::Value;

pub async fn get_json(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// A GET of either API with `token`, its answer as JSON.
pub async fn get_json_as(url: String, token: &str) -> Value {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// `/_sim/state` of the simulator at `base`.
pub async fn state_at(base: &str) -> Value {
    get_json(format!("{base}/_sim/state")).await
}

/// `/_sim/stats` of the simulator at `base`.
pub async fn stats_at(base: &str) -> Value {
    get_json(format!("{base}/_sim/stats")).await
}

/// Writes counted in a `/_sim/stats` body, over every route.
pub fn writes_in(stats: &Value) -> u64 {
    stats["writes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum()
}

/// Writes the simulator at `base` has received.
pub async fn writes_at(base: &str) -> u64 {
    writes_in(&stats_at(base).await)
}

/// The secret values a `/_sim/state` body lists.
pub fn secrets_in(state: &Value) -> Vec<String> {
    state["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}
