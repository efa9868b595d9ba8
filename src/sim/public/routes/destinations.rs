//! Destinations (`/destinations`): instances of a catalog destination on a source.
//!
//! Create answers 200 (not 201: the declared status). `sourceId` must name a source and
//! `metadataId` a catalog destination (422 on the field otherwise; INFERRED status). `enabled`
//! defaults to true, as the reference's create example shows. Settings are checked against the
//! catalog item's options: unknown names are refused unless the `reject_unknown_settings` switch
//! is off, and values must fit the option's type. `PATCH` merges settings and may clear the
//! name with `null`. PASSWORD settings are only ever returned masked.

use axum::extract::{Path, RawQuery};
use serde_json::{Map, Value, json};

use super::{Input, Reply, Sim, ok, required_param, success};
use crate::sim::catalog::{CatalogDestination, SettingType};
use crate::sim::public::error::{ApiError, ApiResult, ErrorItem, field_error};
use crate::sim::public::paging::{Page, Params};
use crate::sim::public::store::Destination;
use crate::sim::public::wire;
use crate::sim::workspace::DeliveryMetrics;

pub async fn list(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    ok(page.render("destinations", store.destinations.len(), |i| {
        wire::destination(&store, &store.destinations[i])
    }))
}

fn fits(kind: SettingType, value: &Value) -> bool {
    match kind {
        SettingType::Boolean => value.is_boolean(),
        SettingType::Number => value.is_number(),
        SettingType::Map => value.is_object(),
        SettingType::List => value.is_array(),
        SettingType::Mixed => !value.is_null(),
        SettingType::String
        | SettingType::Select
        | SettingType::Password
        | SettingType::Color
        | SettingType::MultiLineString => value.is_string(),
    }
}

/// Checks settings against the catalog item; every problem is one 422 entry.
fn check_settings(
    settings: &Map<String, Value>,
    item: &CatalogDestination,
    reject_unknown: bool,
) -> ApiResult<()> {
    let mut errors: Vec<ErrorItem> = Vec::new();
    for (name, value) in settings {
        let field = format!("settings.{name}");
        match item.setting(name) {
            None if reject_unknown => errors.push(field_error(
                &field,
                &format!("is not a setting of the `{}` destination", item.slug),
            )),
            None => {}
            Some(setting) if !value.is_null() && !fits(setting.kind, value) => {
                errors.push(field_error(
                    &field,
                    &format!(
                        "must be a {} value",
                        setting.kind.config_value_type().replace('_', " ")
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

pub async fn create(sim: Sim, axum::Extension(call): Input) -> Reply {
    let source_id = call.str("sourceId").unwrap_or_default().to_owned();
    let metadata_id = call.str("metadataId").unwrap_or_default().to_owned();
    let settings = call
        .body
        .get("settings")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut store = sim.store();
    let mut errors = Vec::new();
    if store.source(&source_id).is_err() {
        errors.push(field_error(
            "sourceId",
            "must be the id of a Source of this workspace",
        ));
    }
    let item = store.catalog.destination_by_public_id(&metadata_id);
    if item.is_none() {
        errors.push(field_error(
            "metadataId",
            "must be the id of a Destination in the catalog",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    if let Some(item) = item {
        check_settings(&settings, item, sim.options.reject_unknown_settings)?;
    }
    let now = wire::now_timestamp();
    let destination = Destination {
        id: store.new_id("", 22),
        source_id,
        metadata_id,
        name: call.str("name").map(str::to_owned),
        enabled: call.bool("enabled").unwrap_or(true),
        settings,
        delivery: DeliveryMetrics {
            delivered: 0,
            not_delivered: 0,
            p95_latency_ms: 0,
        },
        created_at: now.clone(),
        updated_at: now,
    };
    let out = wire::destination(&store, &destination);
    store.destinations.push(destination);
    ok(json!({ "destination": out }))
}

pub async fn get(sim: Sim, Path(id): Path<String>) -> Reply {
    let store = sim.store();
    let index = store.destination_index(&id)?;
    ok(json!({"destination": wire::destination(&store, &store.destinations[index])}))
}

pub async fn update(sim: Sim, Path(id): Path<String>, axum::Extension(call): Input) -> Reply {
    let mut store = sim.store();
    let index = store.destination_index(&id)?;
    let settings = call.body.get("settings").and_then(Value::as_object);
    if let Some(settings) = settings
        && let Some(item) = store
            .catalog
            .destination_by_public_id(&store.destinations[index].metadata_id)
    {
        check_settings(settings, item, sim.options.reject_unknown_settings)?;
    }
    let dest = &mut store.destinations[index];
    match call.body.get("name") {
        Some(Value::String(name)) => dest.name = Some(name.clone()),
        Some(Value::Null) => dest.name = None,
        _ => {}
    }
    if let Some(enabled) = call.bool("enabled") {
        dest.enabled = enabled;
    }
    if let Some(settings) = settings {
        dest.settings.extend(settings.clone());
    }
    dest.updated_at = wire::now_timestamp();
    ok(json!({"destination": wire::destination(&store, &store.destinations[index])}))
}

pub async fn delete(sim: Sim, Path(id): Path<String>) -> Reply {
    let mut store = sim.store();
    let index = store.destination_index(&id)?;
    store.destinations.remove(index);
    store.filters.retain(|f| f.destination_id != id);
    success()
}

const GRANULARITIES: &[&str] = &["DAY", "HOUR", "MINUTE"];

pub async fn delivery_metrics(sim: Sim, Path(id): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let store = sim.store();
    let index = store.destination_index(&id)?;
    let source_id = required_param(&params, "sourceId")?;
    if let Some(granularity) = params.get("granularity")
        && !GRANULARITIES.contains(&granularity)
    {
        return Err(ApiError::field(
            "granularity",
            "must be one of [DAY, HOUR, MINUTE]",
        ));
    }
    let dest = &store.destinations[index];
    if dest.source_id != source_id {
        return Err(ApiError::field(
            "sourceId",
            "must be the id of the Source the Destination is connected to",
        ));
    }
    ok(json!({"deliveryMetricsSummary": wire::delivery_metrics(dest)}))
}
