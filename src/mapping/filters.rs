//! Destination filters: one `POST /destination/{destinationId}/filters` each, in the order the
//! Config API listed them, which is the order they apply in.
//!
//! Action types are renamed by `mappings/filters.toml`; the fields map is reshaped from
//! `{"properties": {"fields": ["a"]}}` to `{"properties": ["a"]}`; `percent` and `path` of a
//! sample action carry over (an empty `path` is left out: it means random sampling). The FQL
//! condition is copied verbatim. Every Public limit of the table is checked before anything is
//! written: a filter over a limit is a blocker, because the API would refuse it half-way
//! through a destination's filters and leave them in a different order.

use serde_json::{Map, Value};

use super::payload::id_or_ref;
use super::{Context, FindingCode, Mapped, Payload, Ref, Step, str_field};
use crate::model::{Kind, object};

/// The destination a filter belongs to: `…/destinations/<d>/filters/<id>` → `…/destinations/<d>`.
pub fn destination_of(filter_name: &str) -> &str {
    filter_name
        .rsplit_once("/filters/")
        .map_or(filter_name, |(destination, _)| destination)
}

/// The filters of one destination, in order.
pub fn map_filters(
    destination_name: &str,
    filters: &[(&str, &Value)],
    ctx: &Context<'_>,
) -> Vec<Mapped> {
    let max = ctx.tables.filters.limits.max_filters_per_destination;
    filters
        .iter()
        .enumerate()
        .map(|(position, &(name, body))| {
            let mut mapped = map_filter(name, body, ctx);
            if position >= max {
                mapped.find(
                    FindingCode::FilterTooMany,
                    None,
                    format!(
                        "Destination `{destination_name}` has {} filters; the Public API allows \
                         {max}. This one (number {}) cannot be created; merge filters first.",
                        filters.len(),
                        position + 1
                    ),
                );
            }
            mapped
        })
        .collect()
}

/// One filter, without the per-destination count check of [`map_filters`].
pub fn map_filter(config_name: &str, body: &Value, ctx: &Context<'_>) -> Mapped {
    let mut mapped = Mapped::new(Kind::DestinationFilters, config_name);
    let limits = &ctx.tables.filters.limits;
    let Some(condition) = str_field(body, "if") else {
        mapped.malformed("if", "string");
        return mapped;
    };
    let Some(config_actions) = body.get("actions").and_then(Value::as_array) else {
        mapped.malformed("actions", "array");
        return mapped;
    };
    if condition.len() > limits.max_if_bytes {
        mapped.find(
            FindingCode::FilterConditionTooLong,
            Some("if"),
            format!(
                "The condition is {} bytes; the Public API allows {}.",
                condition.len(),
                limits.max_if_bytes
            ),
        );
    }
    if config_actions.len() > limits.max_actions_per_filter {
        mapped.find(
            FindingCode::FilterTooManyActions,
            Some("actions"),
            format!(
                "The filter has {} actions; the Public API allows {}.",
                config_actions.len(),
                limits.max_actions_per_filter
            ),
        );
    }
    let actions: Vec<Value> = config_actions
        .iter()
        .enumerate()
        .filter_map(|(index, action)| map_action(&mut mapped, index, action, ctx))
        .collect();

    let enabled = match body.get("enabled").and_then(Value::as_bool) {
        Some(enabled) => enabled,
        None => {
            mapped.find(
                FindingCode::FilterEnabledDefaulted,
                Some("enabled"),
                "The filter had no `enabled`; it is created enabled, as the Config API applied it.",
            );
            true
        }
    };
    let destination = destination_of(config_name);
    let source = super::destinations::source_of(destination);
    let mut create = object([
        (
            "sourceId",
            id_or_ref(ctx.ids, Ref::id(Kind::Sources, source)),
        ),
        ("if", Value::from(condition)),
        ("actions", Value::Array(actions)),
        (
            "title",
            Value::from(str_field(body, "title").unwrap_or_default()),
        ),
        ("enabled", Value::Bool(enabled)),
    ]);
    if let Some(description) = str_field(body, "description").filter(|d| !d.is_empty()) {
        create["description"] = Value::String(description.to_owned());
    }
    mapped.payloads.push(
        Payload::new(
            Step::CreateFilter,
            "POST",
            "/destination/{destinationId}/filters",
        )
        .param(
            "destinationId",
            id_or_ref(ctx.ids, Ref::id(Kind::Destinations, destination)),
        )
        .body(create)
        .records(
            Ref::id(Kind::DestinationFilters, config_name),
            "/data/filter/id",
        ),
    );
    mapped
}

fn map_action(
    mapped: &mut Mapped,
    index: usize,
    action: &Value,
    ctx: &Context<'_>,
) -> Option<Value> {
    let field = format!("actions.{index}");
    let Some(config_type) = str_field(action, "type") else {
        mapped.malformed(&format!("{field}.type"), "string");
        return None;
    };
    let Some(public_type) = ctx.tables.filter_action(config_type) else {
        mapped.find(
            FindingCode::FilterUnknownAction,
            Some(&field),
            format!("Action type `{config_type}` has no row in mappings/filters.toml."),
        );
        return None;
    };
    let mut out = Map::new();
    out.insert("type".into(), Value::String(public_type.to_owned()));
    if let Some(percent) = action.get("percent").filter(|p| p.is_number()) {
        out.insert("percent".into(), percent.clone());
    }
    if let Some(path) = str_field(action, "path").filter(|p| !p.is_empty()) {
        out.insert("path".into(), Value::String(path.to_owned()));
    }
    if let Some(fields) = action.get("fields").and_then(Value::as_object) {
        let limits = &ctx.tables.filters.limits;
        let list_key = ctx.tables.filters.field_list_key.as_str();
        if fields.len() > limits.max_field_objects {
            mapped.find(
                FindingCode::FilterTooManyFieldObjects,
                Some(&format!("{field}.fields")),
                format!(
                    "The action names {} objects; the Public API allows {}.",
                    fields.len(),
                    limits.max_field_objects
                ),
            );
        }
        let mut reshaped = Map::new();
        for (object, inner) in fields {
            let list = inner
                .get(list_key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if list.len() > limits.max_fields_per_object {
                mapped.find(
                    FindingCode::FilterTooManyFields,
                    Some(&format!("{field}.fields.{object}")),
                    format!(
                        "The action lists {} fields of `{object}`; the Public API allows {}.",
                        list.len(),
                        limits.max_fields_per_object
                    ),
                );
            }
            reshaped.insert(object.clone(), Value::Array(list));
        }
        out.insert("fields".into(), Value::Object(reshaped));
    }
    Some(Value::Object(out))
}
