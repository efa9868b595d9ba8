//! Functions (`/workspaces/{workspace_id}/functions`), addressed by workspace *id*, not slug.
//!
//! Lists need `type=SOURCE|DESTINATION`. Create takes the type from the query or, as one real
//! caller sent it, from the body's top level. Ids are `sfnc_` (documented for source functions)
//! and `dfn_` (INFERRED) followed by 22 characters. Destination function code updates deploy at
//! once; source function code updates wait for `deploy` (`is-latest-version` tells which).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use serde_json::{Value, json};

use super::{Reply, Sim, empty, masked_fields, masked_str, parse_body};
use crate::sim::config::error::{ApiError, ApiResult};
use crate::sim::config::paging::{Page, Params};
use crate::sim::config::store;
use crate::sim::config::wire::{self, Fields};
use crate::sim::workspace::{Function, FunctionKind};

/// The documented cap on function request bodies.
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

fn kind_param(params: &Params) -> ApiResult<Option<FunctionKind>> {
    params
        .get("type", "type")
        .map(wire::parse_function_kind)
        .transpose()
}

pub async fn list(sim: Sim, Path(ws_id): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let kind = kind_param(&params)?
        .ok_or_else(|| ApiError::invalid("`type` is required: SOURCE or DESTINATION"))?;
    let page = Page::from_params(
        &params,
        sim.options.default_page_size,
        sim.options.max_page_size,
    )?;
    let mut store = sim.store();
    let ws = store.workspace_by_id_mut(&ws_id)?;
    let functions: Vec<&Function> = ws.functions.iter().filter(|f| f.kind == kind).collect();
    Ok(Json(page.render("functions", functions.len(), |i| {
        wire::function(ws, functions[i])
    })))
}

pub async fn get(sim: Sim, Path((ws_id, id)): Path<(String, String)>) -> Reply {
    let mut store = sim.store();
    let ws = store.workspace_by_id_mut(&ws_id)?;
    Ok(Json(wire::function(ws, store::function(ws, &id)?)))
}

fn check_size(body: &Bytes) -> ApiResult<()> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::invalid(
            "function request exceeds the 25 MB limit",
        ));
    }
    Ok(())
}

pub async fn create(
    sim: Sim,
    Path(ws_id): Path<String>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> Reply {
    check_size(&body)?;
    let params = Params::parse(q.as_deref());
    let body = parse_body(&body)?;
    let outer = Fields::of(&body, "request body")?;
    let f = wire::unwrap_body(&body, "function")?;
    let kind = match kind_param(&params)? {
        Some(kind) => kind,
        None => wire::parse_function_kind(
            outer
                .str("type")?
                .or(f.str("type")?)
                .ok_or_else(|| ApiError::invalid("`type` is required: SOURCE or DESTINATION"))?,
        )?,
    };
    let display_name = f.required_str("display_name")?.to_owned();
    let code = f.required_str("code")?.to_owned();
    let settings =
        wire::parse_function_settings(f.array("settings")?.map(Vec::as_slice).unwrap_or_default())?;
    let mut store = sim.store();
    let (prefix, id_len) = match kind {
        FunctionKind::Source => ("sfnc_", 22),
        FunctionKind::Destination => ("dfn_", 22),
    };
    let id = store.new_id(prefix, id_len);
    let catalog_id = store.new_id("", 24).to_ascii_lowercase();
    let ws = store.workspace_by_id_mut(&ws_id)?;
    let function = Function {
        id,
        kind,
        display_name,
        description: f.str("description")?.unwrap_or("").to_owned(),
        code,
        settings,
        logo_url: f.str("logo_url")?.unwrap_or("").to_owned(),
        catalog_id,
        created_at: wire::now_timestamp(),
        created_by: ws.users.first().map_or_else(String::new, |u| u.id.clone()),
        deployed: true,
    };
    let out = wire::function(ws, &function);
    ws.functions.push(function);
    Ok(Json(out))
}

pub async fn update(sim: Sim, Path((ws_id, id)): Path<(String, String)>, body: Bytes) -> Reply {
    check_size(&body)?;
    let body = parse_body(&body)?;
    let fields = masked_fields(
        &body,
        "function",
        &[
            "code",
            "settings",
            "buildpack",
            "display_name",
            "logo_url",
            "description",
        ],
    )?;
    let mut store = sim.store();
    let ws = store.workspace_by_id_mut(&ws_id)?;
    let mut function = store::function(ws, &id)?.clone();
    for field in &fields {
        match field.field {
            "code" => {
                function.code = masked_str(field)?;
                // Destination functions redeploy on every code change; source functions wait.
                function.deployed = function.kind == FunctionKind::Destination;
            }
            "settings" => {
                function.settings = match field.value {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(items)) => wire::parse_function_settings(items)?,
                    Some(_) => return Err(ApiError::invalid("`settings` must be an array")),
                }
            }
            "buildpack" => {
                let buildpack = masked_str(field)?;
                if buildpack != "boreal" {
                    return Err(ApiError::invalid("`buildpack` must be `boreal`"));
                }
            }
            "display_name" => function.display_name = masked_str(field)?,
            "logo_url" => function.logo_url = masked_str(field)?,
            _ => function.description = masked_str(field)?,
        }
    }
    let out = wire::function(ws, &function);
    let slot = ws
        .functions
        .iter_mut()
        .find(|f| f.id == id)
        .expect("found above");
    *slot = function;
    Ok(Json(out))
}

pub async fn delete(sim: Sim, Path((ws_id, id)): Path<(String, String)>) -> Reply {
    let mut store = sim.store();
    let ws = store.workspace_by_id_mut(&ws_id)?;
    store::function(ws, &id)?;
    ws.functions.retain(|f| f.id != id);
    empty()
}

pub async fn deploy(sim: Sim, Path((ws_id, id)): Path<(String, String)>) -> Reply {
    let mut store = sim.store();
    let ws = store.workspace_by_id_mut(&ws_id)?;
    store::function(ws, &id)?;
    if let Some(f) = ws.functions.iter_mut().find(|f| f.id == id) {
        f.deployed = true;
    }
    empty()
}

pub async fn is_latest_version(sim: Sim, Path((ws_id, id)): Path<(String, String)>) -> Reply {
    let mut store = sim.store();
    let ws = store.workspace_by_id_mut(&ws_id)?;
    Ok(Json(
        json!({"is_latest": store::function(ws, &id)?.deployed}),
    ))
}
