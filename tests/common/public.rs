//! Requests to the Public simulator's own API, as another tool would send them: how the tests
//! change a target behind segbridge's back.

use serde_json::Value;

use segbridge::sim::Simulators;

/// A request to the Public simulator's API, as another tool would send it.
pub async fn public_api(sims: &Simulators, method: &str, path: &str, body: Option<Value>) -> Value {
    let client = reqwest::Client::new();
    let mut request = client
        .request(
            method.parse().unwrap(),
            format!("{}{path}", sims.public.base_url()),
        )
        .bearer_auth(&sims.public.token)
        .header("accept", "application/json");
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}
