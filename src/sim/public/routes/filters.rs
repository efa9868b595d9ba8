//! Destination filters, under the singular `/destination/{destinationId}/filters` as documented.
//!
//! The documented limits are enforced with 422s (statuses INFERRED): at most 10 filters per
//! destination, an `if` of at most 3 KB, at most 4 actions per filter, at most 8 objects of at
//! most 64 fields in an allow/drop-properties action, and a `SAMPLE` percent between 0 and 1.
//! A filter's `sourceId` must be the source its destination is connected to. Filters list in
//! creation order, the order in which they apply.

use axum::extract::{Path, RawQuery};
use serde_json::{Value, json};

use super::{Input, Reply, Sim, ok, success};
use crate::sim::public::error::{ApiError, ApiResult, ErrorItem, field_error};
use crate::sim::public::paging::{Page, Params};
use crate::sim::public::store::{Filter, PublicStore};
use crate::sim::public::wire;

pub const MAX_FILTERS_PER_DESTINATION: usize = 10;
pub const MAX_CONDITION_BYTES: usize = 3 * 1024;
pub const MAX_ACTIONS: usize = 4;
pub const MAX_FIELD_OBJECTS: usize = 8;
pub const MAX_FIELDS_PER_OBJECT: usize = 64;

fn check_condition(condition: &str) -> Option<ErrorItem> {
    if condition.trim().is_empty() {
        Some(field_error("if", "is not allowed to be empty"))
    } else if condition.len() > MAX_CONDITION_BYTES {
        Some(field_error(
            "if",
            &format!("must be at most {MAX_CONDITION_BYTES} bytes long"),
        ))
    } else {
        None
    }
}

fn check_actions(actions: &[Value]) -> Vec<ErrorItem> {
    let mut errors = Vec::new();
    if actions.len() > MAX_ACTIONS {
        errors.push(field_error(
            "actions",
            &format!("must contain less than or equal to {MAX_ACTIONS} items"),
        ));
    }
    for (i, action) in actions.iter().enumerate() {
        match action["type"].as_str() {
            Some("SAMPLE") => {
                let percent = action.get("percent").and_then(Value::as_f64).unwrap_or(0.0);
                if !(0.0..=1.0).contains(&percent) {
                    errors.push(field_error(
                        &format!("actions.{i}.percent"),
                        "must be between 0 and 1",
                    ));
                }
            }
            Some("ALLOW_PROPERTIES" | "DROP_PROPERTIES") => {
                let fields = action.get("fields").and_then(Value::as_object);
                let Some(fields) = fields else {
                    errors.push(field_error(&format!("actions.{i}.fields"), "is required"));
                    continue;
                };
                if fields.len() > MAX_FIELD_OBJECTS {
                    errors.push(field_error(
                        &format!("actions.{i}.fields"),
                        &format!("must have at most {MAX_FIELD_OBJECTS} objects"),
                    ));
                }
                for (path, list) in fields {
                    let field = format!("actions.{i}.fields.{path}");
                    match list.as_array() {
                        Some(names) if names.iter().all(Value::is_string) => {
                            if names.len() > MAX_FIELDS_PER_OBJECT {
                                errors.push(field_error(
                                    &field,
                                    &format!("must have at most {MAX_FIELDS_PER_OBJECT} fields"),
                                ));
                            }
                        }
                        _ => errors.push(field_error(&field, "must be an array of strings")),
                    }
                }
            }
            _ => {}
        }
    }
    errors
}

fn destination_source(store: &PublicStore, destination_id: &str) -> ApiResult<String> {
    let index = store.destination_index(destination_id)?;
    Ok(store.destinations[index].source_id.clone())
}

fn filter_index(store: &PublicStore, destination_id: &str, filter_id: &str) -> ApiResult<usize> {
    store
        .filters
        .iter()
        .position(|f| f.id == filter_id && f.destination_id == destination_id)
        .ok_or_else(ApiError::not_found)
}

pub async fn list(sim: Sim, Path(destination_id): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    destination_source(&store, &destination_id)?;
    let own: Vec<usize> = store
        .filters
        .iter()
        .enumerate()
        .filter(|(_, f)| f.destination_id == destination_id)
        .map(|(i, _)| i)
        .collect();
    ok(page.render("filters", own.len(), |i| {
        wire::filter(&store.filters[own[i]])
    }))
}

pub async fn create(
    sim: Sim,
    Path(destination_id): Path<String>,
    axum::Extension(call): Input,
) -> Reply {
    let mut store = sim.store();
    let source_id = destination_source(&store, &destination_id)?;
    let mut errors = Vec::new();
    if call.str("sourceId") != Some(source_id.as_str()) {
        errors.push(field_error(
            "sourceId",
            "must be the id of the Source the Destination is connected to",
        ));
    }
    let condition = call.str("if").unwrap_or_default().to_owned();
    errors.extend(check_condition(&condition));
    errors.extend(check_actions(call.array("actions")));
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let existing = store
        .filters
        .iter()
        .filter(|f| f.destination_id == destination_id)
        .count();
    if existing >= MAX_FILTERS_PER_DESTINATION {
        return Err(ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            "ValidationFailure",
            format!("A Destination can have at most {MAX_FILTERS_PER_DESTINATION} filters"),
        ));
    }
    let now = wire::now_timestamp();
    let filter = Filter {
        id: store.new_id("", 27),
        destination_id,
        source_id,
        condition,
        actions: call.array("actions").to_vec(),
        title: call.str("title").unwrap_or_default().to_owned(),
        description: call.str("description").map(str::to_owned),
        enabled: call.bool("enabled").unwrap_or(true),
        created_at: now.clone(),
        updated_at: now,
    };
    let out = wire::filter(&filter);
    store.filters.push(filter);
    ok(json!({ "filter": out }))
}

pub async fn get(sim: Sim, Path((destination_id, filter_id)): Path<(String, String)>) -> Reply {
    let store = sim.store();
    destination_source(&store, &destination_id)?;
    let index = filter_index(&store, &destination_id, &filter_id)?;
    ok(json!({"filter": wire::filter(&store.filters[index])}))
}

pub async fn update(
    sim: Sim,
    Path((destination_id, filter_id)): Path<(String, String)>,
    axum::Extension(call): Input,
) -> Reply {
    let mut store = sim.store();
    destination_source(&store, &destination_id)?;
    let index = filter_index(&store, &destination_id, &filter_id)?;
    let mut errors = Vec::new();
    if let Some(condition) = call.str("if") {
        errors.extend(check_condition(condition));
    }
    if call.body.get("actions").is_some() {
        errors.extend(check_actions(call.array("actions")));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let filter = &mut store.filters[index];
    if let Some(condition) = call.str("if") {
        filter.condition = condition.to_owned();
    }
    if call.body.get("actions").is_some() {
        filter.actions = call.array("actions").to_vec();
    }
    if let Some(title) = call.str("title") {
        filter.title = title.to_owned();
    }
    match call.body.get("description") {
        Some(Value::String(d)) => filter.description = Some(d.clone()),
        Some(Value::Null) => filter.description = None,
        _ => {}
    }
    if let Some(enabled) = call.bool("enabled") {
        filter.enabled = enabled;
    }
    filter.updated_at = wire::now_timestamp();
    ok(json!({"filter": wire::filter(filter)}))
}

pub async fn delete(sim: Sim, Path((destination_id, filter_id)): Path<(String, String)>) -> Reply {
    let mut store = sim.store();
    destination_source(&store, &destination_id)?;
    let index = filter_index(&store, &destination_id, &filter_id)?;
    store.filters.remove(index);
    success()
}
