//! Labels (`/labels`): workspace-wide key/value pairs, attached to sources and used to scope
//! workspace permissions. Identity is the (key, value) pair, as the delete path shows; creating
//! an existing pair is 422 (INFERRED). `GET /labels` has no pagination (documented). Deleting a
//! label detaches it from every source. Label writes are limited to 60 requests per minute.

use axum::extract::Path;
use serde_json::json;

use super::{Input, Reply, Sim, created, ok, success};
use crate::sim::public::error::{ApiError, ErrorItem, field_error};
use crate::sim::public::store::Label;
use crate::sim::public::wire;

pub async fn list(sim: Sim) -> Reply {
    let store = sim.store();
    ok(json!({"labels": store.labels.iter().map(wire::label).collect::<Vec<_>>()}))
}

pub async fn create(sim: Sim, axum::Extension(call): Input) -> Reply {
    let input = &call.body["label"];
    let label = Label {
        key: input["key"].as_str().unwrap_or_default().to_owned(),
        value: input["value"].as_str().unwrap_or_default().to_owned(),
        description: input
            .get("description")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    };
    let mut errors: Vec<ErrorItem> = Vec::new();
    if label.key.trim().is_empty() {
        errors.push(field_error("label.key", "is not allowed to be empty"));
    }
    if label.value.trim().is_empty() {
        errors.push(field_error("label.value", "is not allowed to be empty"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut store = sim.store();
    if store.labels.iter().any(|l| l.same_key(&label)) {
        return Err(ApiError::field("label", "already exists in this workspace"));
    }
    let out = wire::label(&label);
    store.labels.push(label);
    created(json!({ "label": out }))
}

pub async fn delete(sim: Sim, Path((key, value)): Path<(String, String)>) -> Reply {
    let mut store = sim.store();
    let before = store.labels.len();
    store.labels.retain(|l| !(l.key == key && l.value == value));
    if store.labels.len() == before {
        return Err(ApiError::not_found());
    }
    for source in &mut store.sources {
        source
            .labels
            .retain(|l| !(l.key == key && l.value == value));
    }
    success()
}
