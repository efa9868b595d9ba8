//! Tracking plans (`/workspaces/{ws}/tracking-plans`, ids `rs_` + 27 characters) and their
//! source connections.
//!
//! Update is `PUT` with a mask over `tracking_plan.display_name`, `tracking_plan.rules` and the
//! parts of the rules (`tracking_plan.rules.events`, `.global`, `.identify`, `.group`). Request
//! bodies over 2 MB are refused (documented cap; the status, 400 code 3, is INFERRED). Lists
//! carry whole plans with their rules. A source can be connected to at most one plan: a second
//! connection is 409 code 6.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use serde_json::{Value, json};

use super::{Reply, Sim, empty, masked_fields, masked_str, parse_body};
use crate::sim::config::error::{ApiError, ApiResult};
use crate::sim::config::paging::{Page, Params};
use crate::sim::config::store;
use crate::sim::config::wire::{self, Fields};
use crate::sim::workspace::{TrackingPlan, TrackingPlanRules, Workspace};

/// The documented cap on tracking-plan request bodies.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

fn check_size(body: &Bytes) -> ApiResult<()> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::invalid(format!(
            "tracking plan request of {} bytes exceeds the 2 MB limit",
            body.len()
        )));
    }
    Ok(())
}

fn page(sim: &Sim, q: Option<&str>) -> ApiResult<Page> {
    Page::from_params(
        &Params::parse(q),
        sim.options.default_page_size,
        sim.options.max_page_size,
    )
}

pub async fn list(sim: Sim, Path(ws): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let page = page(&sim, q.as_deref())?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    Ok(Json(page.render(
        "tracking_plans",
        ws.tracking_plans.len(),
        |i| wire::tracking_plan(ws, &ws.tracking_plans[i]),
    )))
}

pub async fn get(sim: Sim, Path((ws, id)): Path<(String, String)>) -> Reply {
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    Ok(Json(wire::tracking_plan(
        ws,
        store::tracking_plan(ws, &id)?,
    )))
}

pub async fn create(sim: Sim, Path(ws_slug): Path<String>, body: Bytes) -> Reply {
    check_size(&body)?;
    let body = parse_body(&body)?;
    let f = wire::unwrap_body(&body, "tracking_plan")?;
    let display_name = f.required_str("display_name")?.to_owned();
    let rules = match f.get("rules") {
        None | Some(Value::Null) => TrackingPlanRules::default(),
        Some(rules) => wire::parse_rules(rules)?,
    };
    let mut store = sim.store();
    store.workspace(&ws_slug)?;
    let now = wire::now_timestamp();
    let plan = TrackingPlan {
        id: store.new_id("rs_", 27),
        display_name,
        rules,
        source_slugs: Vec::new(),
        create_time: now.clone(),
        update_time: now,
    };
    let ws = store.workspace_mut(&ws_slug)?;
    let out = wire::tracking_plan(ws, &plan);
    ws.tracking_plans.push(plan);
    Ok(Json(out))
}

const MASK_FIELDS: &[&str] = &[
    "display_name",
    "rules",
    "rules.events",
    "rules.global",
    "rules.identify",
    "rules.group",
];

pub async fn update(sim: Sim, Path((ws_slug, id)): Path<(String, String)>, body: Bytes) -> Reply {
    check_size(&body)?;
    let body = parse_body(&body)?;
    let fields = masked_fields(&body, "tracking_plan", MASK_FIELDS)?;
    let mut store = sim.store();
    let ws = store.workspace_mut(&ws_slug)?;
    let mut plan = store::tracking_plan(ws, &id)?.clone();
    for field in &fields {
        let empty = json!({});
        match field.field {
            "display_name" => plan.display_name = masked_str(field)?,
            "rules" => plan.rules = wire::parse_rules(field.value.unwrap_or(&empty))?,
            part => {
                // Parse the one part through the same path as whole rules.
                let key = &part["rules.".len()..];
                let mut one = serde_json::Map::new();
                if let Some(value) = field.value {
                    one.insert(key.to_owned(), value.clone());
                }
                let parsed = wire::parse_rules(&Value::Object(one))?;
                match key {
                    "events" => plan.rules.events = parsed.events,
                    "global" => plan.rules.global = parsed.global,
                    "identify" => plan.rules.identify = parsed.identify,
                    _ => plan.rules.group = parsed.group,
                }
            }
        }
    }
    if !fields.is_empty() {
        plan.update_time = wire::now_timestamp();
    }
    let out = wire::tracking_plan(ws, &plan);
    *store::tracking_plan_mut(ws, &id)? = plan;
    Ok(Json(out))
}

pub async fn delete(sim: Sim, Path((ws_slug, id)): Path<(String, String)>) -> Reply {
    let mut store = sim.store();
    let ws = store.workspace_mut(&ws_slug)?;
    store::tracking_plan(ws, &id)?;
    ws.tracking_plans.retain(|p| p.id != id);
    empty()
}

pub async fn list_connections(
    sim: Sim,
    Path((ws, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Reply {
    let page = page(&sim, q.as_deref())?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    let plan = store::tracking_plan(ws, &id)?;
    Ok(Json(page.render(
        "connections",
        plan.source_slugs.len(),
        |i| wire::connection(ws, &plan.id, &plan.source_slugs[i]),
    )))
}

/// Checks that `source_name` names a source of `ws` that no plan has yet; returns its slug.
fn connectable(ws: &Workspace, source_name: &str, pending: &[String]) -> ApiResult<String> {
    let prefix = format!("{}/sources/", wire::workspace_name(ws));
    let slug = source_name
        .strip_prefix(&prefix)
        .ok_or_else(|| ApiError::invalid(format!("`source_name` must start with `{prefix}`")))?;
    store::source(ws, slug)?;
    if ws
        .tracking_plans
        .iter()
        .any(|p| p.source_slugs.iter().any(|s| s == slug))
        || pending.iter().any(|s| s == slug)
    {
        return Err(ApiError::already_exists(format!(
            "a tracking plan connection for `{source_name}`"
        )));
    }
    Ok(slug.to_owned())
}

pub async fn create_connection(
    sim: Sim,
    Path((ws_slug, id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = parse_body(&body)?;
    let outer = Fields::of(&body, "request body")?;
    // The documented body is bare; one client wrapped it as `{"connection": {...}}`.
    let f = match outer.get("connection") {
        Some(inner) => Fields::of(inner, "connection")?,
        None => outer,
    };
    let source_name = f.required_str("source_name")?;
    let mut store = sim.store();
    let ws = store.workspace_mut(&ws_slug)?;
    store::tracking_plan(ws, &id)?;
    let slug = connectable(ws, source_name, &[])?;
    let out = wire::connection(ws, &id, &slug);
    store::tracking_plan_mut(ws, &id)?.source_slugs.push(slug);
    Ok(Json(out))
}

pub async fn batch_create_connections(
    sim: Sim,
    Path((ws_slug, id)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = parse_body(&body)?;
    let f = Fields::of(&body, "request body")?;
    let names = f
        .array("source_names")?
        .ok_or_else(|| ApiError::invalid("`source_names` is required"))?;
    let mut store = sim.store();
    let ws = store.workspace_mut(&ws_slug)?;
    store::tracking_plan(ws, &id)?;
    // All or nothing: validate every name before connecting any.
    let mut slugs = Vec::new();
    for name in names {
        let name = name
            .as_str()
            .ok_or_else(|| ApiError::invalid("`source_names` must hold strings"))?;
        slugs.push(connectable(ws, name, &slugs)?);
    }
    let connections: Vec<Value> = slugs.iter().map(|s| wire::connection(ws, &id, s)).collect();
    store::tracking_plan_mut(ws, &id)?
        .source_slugs
        .extend(slugs);
    Ok(Json(json!({"connections": connections})))
}

pub async fn delete_connection(
    sim: Sim,
    Path((ws_slug, id, src)): Path<(String, String, String)>,
) -> Reply {
    let mut store = sim.store();
    let ws = store.workspace_mut(&ws_slug)?;
    let plan = store::tracking_plan_mut(ws, &id)?;
    if !plan.source_slugs.contains(&src) {
        return Err(ApiError::not_found(format!(
            "source connection `{src}` of `{id}`"
        )));
    }
    plan.source_slugs.retain(|s| *s != src);
    empty()
}
