//! Sources (`/workspaces/{ws}/sources`), their schema config and connected warehouses.
//!
//! Creating a source takes its full name (the slug is the last segment) and a catalog name;
//! a taken slug is 409 `source already exists`. Which fields PATCH may change is undocumented:
//! the simulator allows `source.display_name`, `source.labels` and `source.library_config`
//! (INFERRED). Deleting a source deletes its destinations and filters and its tracking-plan
//! connection, as the app does.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use serde_json::{Value, json};

use super::{Reply, Sim, check_slug, empty, masked_bool, masked_fields, masked_str, parse_body};
use crate::sim::config::error::{ApiError, ApiResult};
use crate::sim::config::paging::{Page, Params};
use crate::sim::config::store;
use crate::sim::config::wire::{self, Fields};
use crate::sim::workspace::{LibraryConfig, SchemaConfig, Source, Workspace};

/// A source as the API returns it; function instances show their function's setting types.
fn render(ws: &Workspace, src: &Source, masked: bool) -> Value {
    let function = src
        .function_instance
        .as_ref()
        .and_then(|i| ws.functions.iter().find(|f| f.id == i.function_id));
    wire::source(ws, src, function, masked)
}

pub async fn list(sim: Sim, Path(ws): Path<String>, RawQuery(query): RawQuery) -> Reply {
    let page = Page::from_params(
        &Params::parse(query.as_deref()),
        sim.options.default_page_size,
        sim.options.max_page_size,
    )?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    Ok(Json(page.render("sources", ws.sources.len(), |i| {
        render(ws, &ws.sources[i], sim.options.mask_secrets)
    })))
}

pub async fn get(sim: Sim, Path((ws, src)): Path<(String, String)>) -> Reply {
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    let source = store::source(ws, &src)?;
    Ok(Json(render(ws, source, sim.options.mask_secrets)))
}

fn parse_labels(value: Option<&Value>) -> ApiResult<Vec<(String, String)>> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                v.as_str()
                    .map(|v| (k.clone(), v.to_owned()))
                    .ok_or_else(|| ApiError::invalid(format!("label `{k}` must be a string")))
            })
            .collect(),
        Some(_) => Err(ApiError::invalid("`labels` must be an object of strings")),
    }
}

fn parse_library_config(value: Option<&Value>) -> ApiResult<LibraryConfig> {
    let empty = json!({});
    let f = Fields::of(value.unwrap_or(&empty), "library_config")?;
    Ok(LibraryConfig {
        metrics_enabled: f.bool("metrics_enabled")?.unwrap_or(false),
        retry_queue: f.bool("retry_queue")?.unwrap_or(false),
        cross_domain_id_enabled: f.bool("cross_domain_id_enabled")?.unwrap_or(false),
        api_host: f.str("api_host")?.unwrap_or("").to_owned(),
    })
}

pub async fn create(sim: Sim, Path(ws_slug): Path<String>, body: Bytes) -> Reply {
    let body = parse_body(&body)?;
    let f = wire::unwrap_body(&body, "source")?;
    let mut store = sim.store();
    let ws = store.workspace(&ws_slug)?;
    let name = f.required_str("name")?;
    let prefix = format!("{}/sources/", wire::workspace_name(ws));
    let slug = name
        .strip_prefix(&prefix)
        .ok_or_else(|| ApiError::invalid(format!("source name must start with `{prefix}`")))?
        .to_owned();
    check_slug(&slug, "source")?;
    let catalog_name = f.required_str("catalog_name")?;
    let catalog_slug = catalog_name
        .strip_prefix("catalog/sources/")
        .filter(|s| store.catalog.source(s).is_some())
        .ok_or_else(|| ApiError::invalid(format!("unknown catalog source `{catalog_name}`")))?
        .to_owned();
    if ws.sources.iter().any(|s| s.slug == slug) {
        return Err(ApiError::already_exists("source"));
    }
    let id = store.new_id("", 22);
    // Write keys are 32 alphanumeric characters.
    let write_key = store.new_id("", 32);
    let source = Source {
        display_name: f.str("display_name")?.unwrap_or(&slug).to_owned(),
        slug,
        id,
        catalog_slug,
        write_keys: vec![write_key],
        library_config: parse_library_config(f.get("library_config"))?,
        labels: parse_labels(f.get("labels"))?,
        schema_config: SchemaConfig::default(),
        function_instance: None,
        destinations: Vec::new(),
        create_time: wire::now_timestamp(),
    };
    let masked = sim.options.mask_secrets;
    let ws = store.workspace_mut(&ws_slug)?;
    ws.sources.push(source);
    let ws = store.workspace(&ws_slug)?;
    let created = ws.sources.last().expect("just pushed");
    Ok(Json(render(ws, created, masked)))
}

pub async fn update(sim: Sim, Path((ws_slug, src)): Path<(String, String)>, body: Bytes) -> Reply {
    let body = parse_body(&body)?;
    let fields = masked_fields(
        &body,
        "source",
        &["display_name", "labels", "library_config"],
    )?;
    let mut store = sim.store();
    let ws = store.workspace_mut(&ws_slug)?;
    let source = store::source_mut(ws, &src)?;
    for field in &fields {
        match field.field {
            "display_name" => source.display_name = masked_str(field)?,
            "labels" => source.labels = parse_labels(field.value)?,
            _ => source.library_config = parse_library_config(field.value)?,
        }
    }
    drop(fields);
    let ws = store.workspace(&ws_slug)?;
    Ok(Json(render(
        ws,
        store::source(ws, &src)?,
        sim.options.mask_secrets,
    )))
}

pub async fn delete(sim: Sim, Path((ws_slug, src)): Path<(String, String)>) -> Reply {
    let mut store = sim.store();
    let ws = store.workspace_mut(&ws_slug)?;
    store::source(ws, &src)?;
    ws.sources.retain(|s| s.slug != src);
    for plan in &mut ws.tracking_plans {
        plan.source_slugs.retain(|s| *s != src);
    }
    empty()
}

pub async fn get_schema_config(sim: Sim, Path((ws, src)): Path<(String, String)>) -> Reply {
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    let source = store::source(ws, &src)?;
    Ok(Json(wire::schema_config(ws, &src, &source.schema_config)))
}

pub async fn update_schema_config(
    sim: Sim,
    Path((ws_slug, src)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = parse_body(&body)?;
    let fields = masked_fields(&body, "schema_config", wire::SCHEMA_CONFIG_FIELDS)?;
    let mut store = sim.store();
    let ws = store.workspace(&ws_slug)?;
    let current = store::source(ws, &src)?.schema_config.clone();
    // Apply the mask on the wire form, then parse it back: one validation path for every field.
    let mut wire_form = wire::schema_config(ws, &src, &current);
    for field in &fields {
        let value = match field.value {
            Some(v) => v.clone(),
            None if field.field.starts_with("forwarding") => json!(""),
            None if field.field.starts_with("common") => json!("ALLOW"),
            None => json!(masked_bool(field)?),
        };
        if field.field.starts_with("forwarding") {
            let target = masked_str(field)?;
            if !target.is_empty() && store::source(ws, &target).is_err() {
                return Err(ApiError::invalid(format!(
                    "`{}` names no source of this workspace: `{target}`",
                    field.field
                )));
            }
        }
        wire_form[field.field] = value;
    }
    let updated: SchemaConfig = wire::parse_schema_config(&wire_form)?;
    let ws = store.workspace_mut(&ws_slug)?;
    store::source_mut(ws, &src)?.schema_config = updated;
    let ws = store.workspace(&ws_slug)?;
    Ok(Json(wire::schema_config(
        ws,
        &src,
        &store::source(ws, &src)?.schema_config,
    )))
}

/// `PATCH .../connected-warehouses` (`{"warehouse_id", "enabled"}`): the Config API had no
/// warehouse resource, so the simulator checks the body and answers `{}` (INFERRED).
pub async fn update_connected_warehouses(
    sim: Sim,
    Path((ws, src)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = parse_body(&body)?;
    let f = Fields::of(&body, "request body")?;
    f.required_str("warehouse_id")?;
    f.bool("enabled")?;
    let store = sim.store();
    store::source(store.workspace(&ws)?, &src)?;
    empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_must_be_strings() {
        assert!(parse_labels(Some(&json!({"env": "prod"}))).is_ok());
        assert!(parse_labels(Some(&json!({"env": 1}))).is_err());
        assert!(parse_labels(Some(&json!(["env"]))).is_err());
    }
}
