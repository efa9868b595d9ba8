//! Destination filters (`{destination}/filters`). Filter ids are `df_` + 27 characters; the
//! list keeps the order in which filters apply; update-mask paths are bare (`if`, `actions`,
//! `title`, `description`, `enabled`), unlike every other resource. Some clients send an
//! `update_mask` on create too; it is ignored, as the real API did.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};

use super::{Reply, Sim, empty, masked_bool, masked_fields, masked_str, parse_body};
use crate::sim::config::error::{ApiError, ApiResult};
use crate::sim::config::paging::{Page, Params};
use crate::sim::config::store;
use crate::sim::config::wire;
use crate::sim::workspace::{Filter, FilterAction};

type FilterPath = Path<(String, String, String, String)>;

pub async fn list(
    sim: Sim,
    Path((ws, src, dst)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> Reply {
    let page = Page::from_params(
        &Params::parse(q.as_deref()),
        sim.options.default_page_size,
        sim.options.max_page_size,
    )?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    let (_, dest) = store::destination(ws, &src, &dst)?;
    Ok(Json(page.render("filters", dest.filters.len(), |i| {
        wire::filter(ws, &src, &dst, &dest.filters[i])
    })))
}

fn find<'a>(filters: &'a [Filter], id: &str, dest_name: &str) -> ApiResult<&'a Filter> {
    filters
        .iter()
        .find(|f| f.id == id)
        .ok_or_else(|| ApiError::not_found(format!("filter `{dest_name}/filters/{id}`")))
}

pub async fn get(sim: Sim, Path((ws, src, dst, id)): FilterPath) -> Reply {
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    let (_, dest) = store::destination(ws, &src, &dst)?;
    let filter = find(&dest.filters, &id, &wire::destination_name(ws, &src, &dst))?;
    Ok(Json(wire::filter(ws, &src, &dst, filter)))
}

fn actions(value: Option<&serde_json::Value>) -> ApiResult<Vec<FilterAction>> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => wire::parse_actions(items),
        Some(_) => Err(ApiError::invalid("`actions` must be an array")),
    }
}

pub async fn create(
    sim: Sim,
    Path((ws_slug, src, dst)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let body = parse_body(&body)?;
    let f = wire::unwrap_body(&body, "filter")?;
    let condition = f.required_str("if")?.to_owned();
    wire::check_fql(&condition)?;
    let actions = actions(f.get("actions"))?;
    if actions.is_empty() {
        return Err(ApiError::invalid("a filter needs at least one action"));
    }
    let mut store = sim.store();
    store::destination(store.workspace(&ws_slug)?, &src, &dst)?;
    let filter = Filter {
        id: store.new_id("df_", 27),
        title: f.str("title")?.unwrap_or("").to_owned(),
        description: f.str("description")?.unwrap_or("").to_owned(),
        condition,
        enabled: f.bool("enabled")?.unwrap_or(false),
        actions,
    };
    let out = wire::filter(store.workspace(&ws_slug)?, &src, &dst, &filter);
    let ws = store.workspace_mut(&ws_slug)?;
    store::destination_mut(ws, &src, &dst)?.filters.push(filter);
    Ok(Json(out))
}

pub async fn update(sim: Sim, Path((ws_slug, src, dst, id)): FilterPath, body: Bytes) -> Reply {
    let body = parse_body(&body)?;
    let fields = masked_fields(
        &body,
        "filter",
        &["if", "actions", "title", "description", "enabled"],
    )?;
    let mut store = sim.store();
    let dest_name = wire::destination_name(store.workspace(&ws_slug)?, &src, &dst);
    let ws = store.workspace_mut(&ws_slug)?;
    let dest = store::destination_mut(ws, &src, &dst)?;
    let mut updated = find(&dest.filters, &id, &dest_name)?.clone();
    for field in &fields {
        match field.field {
            "if" => {
                updated.condition = masked_str(field)?;
                wire::check_fql(&updated.condition)?;
            }
            "actions" => updated.actions = actions(field.value)?,
            "title" => updated.title = masked_str(field)?,
            "description" => updated.description = masked_str(field)?,
            _ => updated.enabled = masked_bool(field)?,
        }
    }
    let slot = dest
        .filters
        .iter_mut()
        .find(|f| f.id == id)
        .expect("found above under the same lock");
    *slot = updated;
    let ws = store.workspace(&ws_slug)?;
    let (_, dest) = store::destination(ws, &src, &dst)?;
    Ok(Json(wire::filter(
        ws,
        &src,
        &dst,
        find(&dest.filters, &id, &dest_name)?,
    )))
}

pub async fn delete(sim: Sim, Path((ws_slug, src, dst, id)): FilterPath) -> Reply {
    let mut store = sim.store();
    let dest_name = wire::destination_name(store.workspace(&ws_slug)?, &src, &dst);
    let ws = store.workspace_mut(&ws_slug)?;
    let dest = store::destination_mut(ws, &src, &dst)?;
    find(&dest.filters, &id, &dest_name)?;
    dest.filters.retain(|f| f.id != id);
    empty()
}
