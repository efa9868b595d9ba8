//! The actual side: what the Public API returned, normalised into the shape the expected side
//! is built in, so that the diff compares like with like.
//!
//! Normalisation, and why:
//! - **Only fields segbridge writes are kept.** Ids, timestamps, `writeKeys`, `workspaceId`,
//!   catalog metadata beyond its id, `deployedAt`, preview URLs: the Public API adds them on its
//!   own, and no Config field says what they should be.
//! - **Sets become objects keyed by their identity**, so order does not matter and a missing or
//!   extra element has a readable path: labels by `key:value`, rules by `TYPE/key/version`
//!   (the id the Public client gives them), function settings by name.
//! - **Nested ids are flattened** to what the create request carried: `metadata.id` →
//!   `metadataId`.
//! - Key order is irrelevant (the diff walks keys sorted); absent and empty are equal (the
//!   diff's rule).
//!
//! Everything here is pure; the same helpers normalise the expected side's payload bodies.

use serde_json::{Map, Value, json};

use crate::model::object;

fn get(value: &Value, key: &str) -> Value {
    value.get(key).cloned().unwrap_or(Value::Null)
}

/// Labels (`[{key, value, description?}]`) as `{"key:value": true}`.
pub fn label_set(labels: &[Value]) -> Value {
    let set: Map<String, Value> = labels
        .iter()
        .map(|l| {
            let part = |k: &str| l.get(k).and_then(Value::as_str).unwrap_or_default();
            (
                format!("{}:{}", part("key"), part("value")),
                Value::Bool(true),
            )
        })
        .collect();
    Value::Object(set)
}

/// Rules as `{"TYPE/key/version": {"jsonSchema": …}}`; a rule without key has an empty one and
/// a rule without version is version 1 (what the API assumes).
pub fn rule_map(rules: impl IntoIterator<Item = Value>) -> Value {
    Value::Object(rules.into_iter().map(rule_entry).collect())
}

/// One rule as [`rule_map`] keys it: `("TYPE/key/version", {"jsonSchema": …})`.
pub fn rule_entry(mut rule: Value) -> (String, Value) {
    let id = format!(
        "{}/{}/{}",
        rule.get("type").and_then(Value::as_str).unwrap_or_default(),
        rule.get("key").and_then(Value::as_str).unwrap_or_default(),
        rule.get("version").and_then(Value::as_i64).unwrap_or(1)
    );
    // Taken, not cloned: the schemas are the bulk of a tracking plan.
    let schema = rule.get_mut("jsonSchema").map_or(Value::Null, Value::take);
    (id, object([("jsonSchema", schema)]))
}

/// The fields of a filter both sides know (the create body, or a `DestinationFilterV1`).
pub const FILTER_FIELDS: [&str; 6] = [
    "sourceId",
    "if",
    "actions",
    "title",
    "description",
    "enabled",
];

/// The [`FILTER_FIELDS`] of a filter.
pub fn filter_fields(filter: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for key in FILTER_FIELDS {
        out.insert(key.into(), get(filter, key));
    }
    out
}

/// The fields of a function both sides know, settings keyed by name.
pub fn function_fields(function: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for key in [
        "displayName",
        "resourceType",
        "code",
        "description",
        "logoUrl",
    ] {
        out.insert(key.into(), get(function, key));
    }
    let settings: Map<String, Value> = function
        .get("settings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|s| {
            let name = s
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let mut fields = Map::new();
            for key in ["label", "description", "type", "required", "sensitive"] {
                fields.insert(key.into(), get(s, key));
            }
            (name, Value::Object(fields))
        })
        .collect();
    out.insert("settings".into(), Value::Object(settings));
    out
}

/// `metadata.id` of a `SourceV1` or `DestinationV1` (its catalog entry).
fn metadata_id(object: &Value) -> Value {
    object
        .pointer("/metadata/id")
        .cloned()
        .unwrap_or(Value::Null)
}

/// A `SourceV1`.
pub fn source(source: &Value) -> Value {
    let labels = source
        .get("labels")
        .and_then(Value::as_array)
        .map(|l| label_set(l))
        .unwrap_or_else(|| json!({}));
    object([
        ("slug", get(source, "slug")),
        ("name", get(source, "name")),
        ("metadataId", metadata_id(source)),
        ("settings", get(source, "settings")),
        ("labels", labels),
    ])
}

/// A `DestinationV1`.
pub fn destination(destination: &Value) -> Value {
    object([
        ("name", get(destination, "name")),
        ("metadataId", metadata_id(destination)),
        ("sourceId", get(destination, "sourceId")),
        ("settings", get(destination, "settings")),
        ("enabled", get(destination, "enabled")),
    ])
}

/// A `DestinationFilterV1`, with the destination it was listed under.
pub fn filter(filter: &Value, destination_id: &str) -> Value {
    let mut out = filter_fields(filter);
    out.insert("destinationId".into(), json!(destination_id));
    Value::Object(out)
}

/// The fields of a `TrackingPlanV1` besides its rules (which `plan_rules` compares one by one).
pub fn tracking_plan_fields(plan: &Value) -> Map<String, Value> {
    Map::from_iter([
        ("name".to_owned(), get(plan, "name")),
        ("type".to_owned(), get(plan, "type")),
    ])
}

/// A `FunctionV1`.
pub fn function(function: &Value) -> Value {
    Value::Object(function_fields(function))
}

/// Schema settings (`{track, identify, group, forwarding…}`), reduced to the fields the expected
/// side sets: the Public API returns every setting with its default, and a default nobody set
/// in the source is not a difference.
pub fn schema_settings(settings: &Value, expected: &Value) -> Value {
    match (settings, expected) {
        (Value::Object(actual), Value::Object(wanted)) => Value::Object(
            wanted
                .iter()
                .filter_map(|(k, w)| actual.get(k).map(|a| (k.clone(), schema_settings(a, w))))
                .collect(),
        ),
        (actual, _) => actual.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_keyed_by_identity() {
        let labels = label_set(&[json!({"key": "env", "value": "prod", "description": "x"})]);
        assert_eq!(labels, json!({"env:prod": true}));
        let rules = rule_map([
            json!({"type": "TRACK", "key": "Order Completed", "version": 2, "jsonSchema": {"a": 1}, "createdAt": "t"}),
            json!({"type": "COMMON", "jsonSchema": {}}),
        ]);
        assert_eq!(
            rules,
            json!({"TRACK/Order Completed/2": {"jsonSchema": {"a": 1}}, "COMMON//1": {"jsonSchema": {}}})
        );
    }

    #[test]
    fn public_objects_keep_only_what_segbridge_writes() {
        let body = json!({
            "id": "d1", "name": "GA", "enabled": true, "sourceId": "s1",
            "metadata": {"id": "m1", "slug": "google-analytics", "options": []},
            "settings": {"trackingId": "UA-1"}, "createdAt": "t",
        });
        assert_eq!(
            destination(&body),
            json!({"name": "GA", "metadataId": "m1", "sourceId": "s1", "settings": {"trackingId": "UA-1"}, "enabled": true})
        );
        let function = function_fields(&json!({
            "id": "f", "displayName": "F", "resourceType": "SOURCE", "code": "c",
            "settings": [{"name": "apiKey", "label": "API Key", "description": "", "type": "STRING", "required": false, "sensitive": true}],
            "deployedAt": "t", "previewWebhookUrl": "u",
        }));
        assert_eq!(function["settings"]["apiKey"]["sensitive"], true);
        assert!(!function.contains_key("deployedAt"));
    }

    #[test]
    fn schema_settings_are_reduced_to_the_expected_fields() {
        let actual =
            json!({"track": {"allowUnplannedEvents": true, "other": false}, "identify": {}});
        let expected = json!({"track": {"allowUnplannedEvents": false}});
        assert_eq!(
            schema_settings(&actual, &expected),
            json!({"track": {"allowUnplannedEvents": true}})
        );
    }
}
