//! Destinations: the instances of catalog integrations on a source
//! (`/workspaces/{ws}/sources/{src}/destinations`).
//!
//! The last segment of a destination's name is its catalog slug; further instances of the same
//! integration on one source are `{slug}-2`, `{slug}-3`, … (INFERRED, see docs/simulators.md).
//! Destinations are created disabled unless the body says otherwise (documented), reads list
//! every catalog setting with its value or its type's empty value, and a `config` update merges
//! by setting name (documented).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};
use serde_json::Value;

use super::{Reply, Sim, empty, masked_bool, masked_fields, masked_str, parse_body};
use crate::sim::config::error::{ApiError, ApiResult};
use crate::sim::config::paging::{Page, Params};
use crate::sim::config::store::{self, ConfigStore};
use crate::sim::config::wire;
use crate::sim::workspace::{DeliveryMetrics, Destination, Workspace};

fn render(
    store: &ConfigStore,
    ws: &Workspace,
    src: &str,
    dest: &Destination,
    masked: bool,
) -> Value {
    match store.catalog.destination(&dest.catalog_slug) {
        Some(catalog) => wire::destination(ws, src, dest, catalog, masked),
        // Every destination is created against a catalog item, so this cannot happen unless the
        // seed data is inconsistent; show the object without settings rather than fail a list.
        None => serde_json::json!({"name": wire::destination_name(ws, src, &dest.slug)}),
    }
}

pub async fn list(
    sim: Sim,
    Path((ws, src)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Reply {
    let page = Page::from_params(
        &Params::parse(q.as_deref()),
        sim.options.default_page_size,
        sim.options.max_page_size,
    )?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    let source = store::source(ws, &src)?;
    Ok(Json(page.render(
        "destinations",
        source.destinations.len(),
        |i| {
            render(
                &store,
                ws,
                &src,
                &source.destinations[i],
                sim.options.mask_secrets,
            )
        },
    )))
}

pub async fn get(sim: Sim, Path((ws, src, dst)): Path<(String, String, String)>) -> Reply {
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    let (_, dest) = store::destination(ws, &src, &dst)?;
    Ok(Json(render(
        &store,
        ws,
        &src,
        dest,
        sim.options.mask_secrets,
    )))
}

/// The catalog slug behind an instance slug: the slug itself, or `{slug}-{n}` (n ≥ 2) when the
/// first instance of that integration already exists on the source.
fn catalog_slug_of(store: &ConfigStore, existing: &[Destination], slug: &str) -> ApiResult<String> {
    if store.catalog.destination(slug).is_some() {
        return Ok(slug.to_owned());
    }
    if let Some((base, n)) = slug.rsplit_once('-')
        && n.parse::<u32>().is_ok_and(|n| n >= 2)
        && store.catalog.destination(base).is_some()
    {
        if existing.iter().any(|d| d.slug == base) {
            return Ok(base.to_owned());
        }
        return Err(ApiError::invalid(format!(
            "`{slug}` is a further instance of `{base}`, which this source does not have yet"
        )));
    }
    Err(ApiError::invalid(format!(
        "unknown catalog destination `{slug}`"
    )))
}

pub async fn create(sim: Sim, Path((ws_slug, src)): Path<(String, String)>, body: Bytes) -> Reply {
    let body = parse_body(&body)?;
    let f = wire::unwrap_body(&body, "destination")?;
    let mut store = sim.store();
    let ws = store.workspace(&ws_slug)?;
    let source = store::source(ws, &src)?;
    let name = f.required_str("name")?;
    let prefix = format!("{}/destinations/", wire::source_name(ws, &src));
    let slug = name
        .strip_prefix(&prefix)
        .filter(|s| !s.is_empty() && !s.contains('/'))
        .ok_or_else(|| ApiError::invalid(format!("destination name must be `{prefix}<slug>`")))?
        .to_owned();
    if source.destinations.iter().any(|d| d.slug == slug) {
        return Err(ApiError::already_exists("destination"));
    }
    let catalog_slug = catalog_slug_of(&store, &source.destinations, &slug)?;
    let catalog = store.catalog_destination(&catalog_slug)?;
    let config = match f.array("config")? {
        Some(items) => wire::parse_config_items(items, name, catalog)?,
        None => Vec::new(),
    };
    let now = wire::now_timestamp();
    let instance = source
        .destinations
        .iter()
        .filter(|d| d.catalog_slug == catalog_slug)
        .count();
    let dest = Destination {
        instance_name: if instance == 0 {
            catalog.display_name.clone()
        } else {
            format!("{} ({})", catalog.display_name, instance + 1)
        },
        slug,
        catalog_slug,
        enabled: f.bool("enabled")?.unwrap_or(false),
        connection_mode: wire::parse_connection_mode(f.str("connection_mode")?.unwrap_or(""))?,
        config,
        filters: Vec::new(),
        delivery: DeliveryMetrics {
            delivered: 0,
            not_delivered: 0,
            p95_latency_ms: 0,
        },
        create_time: now.clone(),
        update_time: now,
    };
    let masked = sim.options.mask_secrets;
    let out = render(&store, ws, &src, &dest, masked);
    let ws = store.workspace_mut(&ws_slug)?;
    store::source_mut(ws, &src)?.destinations.push(dest);
    Ok(Json(out))
}

pub async fn update(
    sim: Sim,
    Path((ws_slug, src, dst)): Path<(String, String, String)>,
    body: Bytes,
) -> Reply {
    let body = parse_body(&body)?;
    let fields = masked_fields(
        &body,
        "destination",
        &["enabled", "config", "connection_mode"],
    )?;
    let mut store = sim.store();
    let catalog_slug = {
        let ws = store.workspace(&ws_slug)?;
        store::destination(ws, &src, &dst)?.1.catalog_slug.clone()
    };
    let catalog = store.catalog_destination(&catalog_slug)?;
    let name = wire::destination_name(store.workspace(&ws_slug)?, &src, &dst);
    let ws = store.workspace_mut(&ws_slug)?;
    let dest = store::destination_mut(ws, &src, &dst)?;
    // Validate everything before changing anything: a rejected update leaves no trace.
    let mut enabled = dest.enabled;
    let mut mode = dest.connection_mode;
    let mut config = dest.config.clone();
    for field in &fields {
        match field.field {
            "enabled" => enabled = masked_bool(field)?,
            "connection_mode" => mode = wire::parse_connection_mode(&masked_str(field)?)?,
            _ => match field.value {
                // An empty mask value clears every setting.
                None | Some(Value::Null) => config.clear(),
                Some(Value::Array(items)) => {
                    for (key, value) in wire::parse_config_items(items, &name, catalog)? {
                        match config.iter_mut().find(|(k, _)| *k == key) {
                            Some(slot) => slot.1 = value,
                            None => config.push((key, value)),
                        }
                    }
                }
                Some(_) => return Err(ApiError::invalid("`config` must be an array")),
            },
        }
    }
    if !fields.is_empty() {
        dest.enabled = enabled;
        dest.connection_mode = mode;
        dest.config = config;
        dest.update_time = wire::now_timestamp();
    }
    let ws = store.workspace(&ws_slug)?;
    let (_, dest) = store::destination(ws, &src, &dst)?;
    Ok(Json(render(
        &store,
        ws,
        &src,
        dest,
        sim.options.mask_secrets,
    )))
}

pub async fn delete(sim: Sim, Path((ws_slug, src, dst)): Path<(String, String, String)>) -> Reply {
    let mut store = sim.store();
    let ws = store.workspace_mut(&ws_slug)?;
    store::destination_mut(ws, &src, &dst)?;
    store::source_mut(ws, &src)?
        .destinations
        .retain(|d| d.slug != dst);
    empty()
}
