//! Functions (`/functions`): source, destination and insert functions, and their deployment.
//!
//! `GET /functions` requires `resourceType` (one type per call, documented) and lists items
//! without code and settings. Ids are a type prefix and 22 base62 characters, the catalog id the
//! same characters without the prefix (`sfnc_…` for source functions is documented; `dfn_`,
//! `ifnd_`, `ifns_` and `ifnt_` are INFERRED). Destination and insert-destination functions get
//! the workspace name appended to their display name, as documented. Changing the code marks
//! the function as not deployed at its latest version until `POST …/deploy`.

use axum::extract::{Path, RawQuery};
use serde_json::{Value, json};

use super::{Input, Reply, Sim, ok, success};
use crate::sim::public::error::ApiError;
use crate::sim::public::paging::{Page, Params};
use crate::sim::public::store::{Function, FunctionSetting, PublicStore};
use crate::sim::public::wire;

const RESOURCE_TYPES: &[&str] = &[
    "DESTINATION",
    "INSERT_DESTINATION",
    "INSERT_SOURCE",
    "INSERT_TRANSFORMATION",
    "SOURCE",
];

fn id_prefix(resource_type: &str) -> &'static str {
    match resource_type {
        "SOURCE" => "sfnc_",
        "DESTINATION" => "dfn_",
        "INSERT_DESTINATION" => "ifnd_",
        "INSERT_SOURCE" => "ifns_",
        _ => "ifnt_",
    }
}

/// The display name as the API stores it: destination-side functions carry the workspace name.
fn display_name(store: &PublicStore, resource_type: &str, name: &str) -> String {
    let suffix = format!(" ({})", store.workspace.name);
    if matches!(resource_type, "DESTINATION" | "INSERT_DESTINATION") && !name.ends_with(&suffix) {
        format!("{name}{suffix}")
    } else {
        name.to_owned()
    }
}

fn settings(values: &[Value]) -> Vec<FunctionSetting> {
    values
        .iter()
        .map(|s| FunctionSetting {
            name: s["name"].as_str().unwrap_or_default().to_owned(),
            label: s["label"].as_str().unwrap_or_default().to_owned(),
            description: s["description"].as_str().unwrap_or_default().to_owned(),
            kind: s["type"].as_str().unwrap_or("STRING").to_owned(),
            required: s["required"].as_bool().unwrap_or(false),
            sensitive: s["sensitive"].as_bool().unwrap_or(false),
        })
        .collect()
}

pub async fn list(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let page = Page::from_params(&params)?;
    let Some(resource_type) = params.get("resourceType").filter(|t| !t.is_empty()) else {
        return Err(ApiError::required("resourceType"));
    };
    if !RESOURCE_TYPES.contains(&resource_type) {
        return Err(ApiError::field(
            "resourceType",
            &format!("must be one of [{}]", RESOURCE_TYPES.join(", ")),
        ));
    }
    let store = sim.store();
    let matching: Vec<&Function> = store
        .functions
        .iter()
        .filter(|f| f.resource_type == resource_type)
        .collect();
    ok(page.render("functions", matching.len(), |i| {
        wire::function_item(matching[i])
    }))
}

pub async fn create(sim: Sim, axum::Extension(call): Input) -> Reply {
    let resource_type = call.str("resourceType").unwrap_or("SOURCE").to_owned();
    let name = call
        .str("displayName")
        .unwrap_or_default()
        .trim()
        .to_owned();
    if name.is_empty() {
        return Err(ApiError::field("displayName", "is not allowed to be empty"));
    }
    let mut store = sim.store();
    let catalog_id = store.new_id("", 22);
    let function = Function {
        id: format!("{}{catalog_id}", id_prefix(&resource_type)),
        display_name: display_name(&store, &resource_type, &name),
        resource_type,
        description: call.str("description").unwrap_or_default().to_owned(),
        code: call.str("code").unwrap_or_default().to_owned(),
        settings: settings(call.array("settings")),
        logo_url: call.str("logoUrl").unwrap_or_default().to_owned(),
        catalog_id,
        created_at: wire::now_timestamp(),
        created_by: store
            .users
            .first()
            .map(|u| u.id.clone())
            .unwrap_or_default(),
        deployed_at: None,
        is_latest_version: false,
    };
    let out = wire::function(&function);
    store.functions.push(function);
    ok(json!({ "function": out }))
}

pub async fn get(sim: Sim, Path(id): Path<String>) -> Reply {
    let store = sim.store();
    let index = store.function_index(&id)?;
    ok(json!({"function": wire::function(&store.functions[index])}))
}

pub async fn update(sim: Sim, Path(id): Path<String>, axum::Extension(call): Input) -> Reply {
    let mut store = sim.store();
    let index = store.function_index(&id)?;
    let renamed = call
        .str("displayName")
        .map(|name| display_name(&store, &store.functions[index].resource_type, name.trim()));
    let function = &mut store.functions[index];
    if let Some(name) = renamed {
        function.display_name = name;
    }
    if let Some(code) = call.str("code")
        && code != function.code
    {
        function.code = code.to_owned();
        function.is_latest_version = false;
    }
    if call.body.get("settings").is_some() {
        function.settings = settings(call.array("settings"));
    }
    if let Some(logo) = call.str("logoUrl") {
        function.logo_url = logo.to_owned();
    }
    if let Some(description) = call.str("description") {
        function.description = description.to_owned();
    }
    ok(json!({"function": wire::function(function)}))
}

pub async fn delete(sim: Sim, Path(id): Path<String>) -> Reply {
    let mut store = sim.store();
    let index = store.function_index(&id)?;
    store.functions.remove(index);
    success()
}

pub async fn deploy(sim: Sim, Path(id): Path<String>) -> Reply {
    let mut store = sim.store();
    let index = store.function_index(&id)?;
    let function = &mut store.functions[index];
    function.deployed_at = Some(wire::now_timestamp());
    function.is_latest_version = true;
    ok(json!({"functionDeployment": {"status": "SUCCESS"}}))
}
