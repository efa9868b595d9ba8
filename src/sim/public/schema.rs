//! The Public API's request schemas, and the validator that holds request bodies to them.
//!
//! `data/public-api.schema.json` is the official (derived 73.2.0) schema trimmed to the operations
//! the simulator serves by `scripts/derive_public_schema.py`, keyed by `"<METHOD> <template>"`,
//! status and media type, with OpenAPI `nullable` already turned into JSON Schema. It is embedded
//! in the binary, so the simulator validates exactly what the contract tests check it against.
//!
//! The validator understands the subset of JSON Schema the file uses (`$ref`, `allOf`, `anyOf`,
//! `type` (one or several), `enum`, `required`, `properties`, `additionalProperties`, `items`)
//! and reports every problem at once as Joi-style `input-validation` errors with dotted field
//! paths (`"type" is required` at `rules.0.type`), the format of the API's 422 answers. Objects
//! accept unknown fields, as the schema does (no `additionalProperties: false` anywhere).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::Value;

use super::error::{ErrorItem, field_error};

const SCHEMA_JSON: &str = include_str!("../../../data/public-api.schema.json");

const REF_PREFIX: &str = "#/components/schemas/";

/// One operation of the schema file.
#[derive(Debug)]
pub struct Operation {
    pub key: String,
    pub operation_id: String,
    /// Media types of the 2xx answer, most stable first.
    pub accept: Vec<String>,
    /// Request media type → body schema; empty for operations without a body.
    pub request: Vec<(String, Value)>,
    pub request_required: bool,
    /// Query parameters the operation requires (`resourceType`, `sourceId`, `emails`, …).
    pub required_query: Vec<String>,
}

/// The parsed schema file.
#[derive(Debug)]
pub struct SchemaDoc {
    pub doc: Value,
    operations: HashMap<String, Operation>,
}

impl SchemaDoc {
    /// The embedded schema, parsed once. A malformed embedded file is a build defect the tests
    /// catch, hence the panic.
    pub fn embedded() -> &'static SchemaDoc {
        static DOC: OnceLock<SchemaDoc> = OnceLock::new();
        DOC.get_or_init(|| SchemaDoc::parse(SCHEMA_JSON).expect("embedded Public API schema"))
    }

    pub fn parse(text: &str) -> Result<SchemaDoc, serde_json::Error> {
        let doc: Value = serde_json::from_str(text)?;
        let mut operations = HashMap::new();
        if let Some(ops) = doc["operations"].as_object() {
            for (key, op) in ops {
                let strings = |v: &Value| -> Vec<String> {
                    v.as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let request = op["requestBody"]["content"]
                    .as_object()
                    .map(|content| {
                        content
                            .iter()
                            .map(|(media, schema)| (media.clone(), schema.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                // The versions an answer may take: the SDK's preference order (`x-accept`),
                // restricted to the media types the 2xx answer declares (the SDK lists
                // `application/json` even where the answer has no such entry).
                let declared: Vec<String> = op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(status, _)| status.starts_with('2'))
                    .flat_map(|(_, content)| content.as_object().into_iter().flatten())
                    .map(|(media, _)| media.clone())
                    .collect();
                let mut accept: Vec<String> = strings(&op["accept"])
                    .into_iter()
                    .filter(|m| declared.contains(m))
                    .collect();
                for media in declared {
                    if !accept.contains(&media) {
                        accept.push(media);
                    }
                }
                operations.insert(
                    key.clone(),
                    Operation {
                        key: key.clone(),
                        operation_id: op["operationId"].as_str().unwrap_or_default().to_owned(),
                        accept,
                        request,
                        request_required: op["requestBody"]["required"].as_bool().unwrap_or(false),
                        required_query: op["parameters"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|p| p["in"] == "query" && p["required"] == true)
                            .filter_map(|p| p["name"].as_str().map(str::to_owned))
                            .collect(),
                    },
                );
            }
        }
        Ok(SchemaDoc { doc, operations })
    }

    /// The operation served at `method` and route template `template` (`GET /sources/{sourceId}`).
    pub fn operation(&self, method: &str, template: &str) -> Option<&Operation> {
        self.operations.get(&format!("{method} {template}"))
    }

    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.operations.values()
    }

    /// A named component schema.
    pub fn component(&self, name: &str) -> Option<&Value> {
        self.doc["components"]["schemas"].get(name)
    }

    /// Every problem of `value` against `schema`, as 422 entries. `path` is the field path of
    /// `value` (empty for a whole body).
    pub fn validate(&self, schema: &Value, value: &Value, path: &str) -> Vec<ErrorItem> {
        let mut errors = Vec::new();
        self.check(schema, value, path, &mut errors, 0);
        errors
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut current = schema;
        // `$ref` chains are short; the bound only protects against a cyclic file.
        for _ in 0..16 {
            match current.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let name = reference.strip_prefix(REF_PREFIX).unwrap_or(reference);
                    match self.component(name) {
                        Some(target) => current = target,
                        None => return &Value::Null,
                    }
                }
                None => return current,
            }
        }
        current
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        path: &str,
        errors: &mut Vec<ErrorItem>,
        depth: usize,
    ) {
        // Rule JSON Schemas are user data and are never descended into (`jsonSchema: {}`), so
        // real bodies are shallow; the bound only protects against a cyclic schema file.
        if depth > 64 {
            return;
        }
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for part in all {
                self.check(part, value, path, errors, depth + 1);
            }
        }
        if let Some(any) = schema.get("anyOf").and_then(Value::as_array) {
            let mut first_errors = None;
            for alternative in any {
                let mut attempt = Vec::new();
                self.check(alternative, value, path, &mut attempt, depth + 1);
                if attempt.is_empty() {
                    first_errors = None;
                    break;
                }
                let is_null_branch = alternative.get("type") == Some(&Value::from("null"));
                if first_errors.is_none() && !is_null_branch {
                    first_errors = Some(attempt);
                }
            }
            if let Some(found) = first_errors {
                errors.extend(found);
            }
        }
        if let Some(kind) = schema.get("type") {
            let kinds: Vec<&str> = match kind {
                Value::String(k) => vec![k.as_str()],
                Value::Array(ks) => ks.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !kinds.is_empty() && !kinds.iter().any(|k| type_matches(k, value)) {
                let wanted = kinds
                    .iter()
                    .find(|k| **k != "null")
                    .copied()
                    .unwrap_or("null");
                errors.push(field_error(&field_name(path), type_message(wanted)));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            let names: Vec<String> = allowed
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect();
            errors.push(field_error(
                &field_name(path),
                &format!("must be one of [{}]", names.join(", ")),
            ));
            return;
        }
        match value {
            Value::Object(object) => {
                if let Some(required) = schema.get("required").and_then(Value::as_array) {
                    for name in required.iter().filter_map(Value::as_str) {
                        if !object.contains_key(name) {
                            errors.push(field_error(&join(path, name), "is required"));
                        }
                    }
                }
                let properties = schema.get("properties").and_then(Value::as_object);
                for (name, child) in object {
                    match properties.and_then(|p| p.get(name)) {
                        Some(property) => {
                            self.check(property, child, &join(path, name), errors, depth + 1);
                        }
                        None => {
                            if let Some(extra) = schema.get("additionalProperties")
                                && extra.is_object()
                            {
                                self.check(extra, child, &join(path, name), errors, depth + 1);
                            }
                        }
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (index, item) in items.iter().enumerate() {
                        self.check(
                            item_schema,
                            item,
                            &join(path, &index.to_string()),
                            errors,
                            depth + 1,
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// A whole body that has the wrong type is reported as `value`, Joi's name for the root.
fn field_name(path: &str) -> String {
    if path.is_empty() {
        "value".to_owned()
    } else {
        path.to_owned()
    }
}

fn type_matches(kind: &str, value: &Value) -> bool {
    match kind {
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.as_f64().is_some_and(|n| n.fract() == 0.0),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "null" => value.is_null(),
        _ => true,
    }
}

fn type_message(kind: &str) -> &'static str {
    match kind {
        "string" => "must be a string",
        "number" => "must be a number",
        "integer" => "must be an integer",
        "boolean" => "must be a boolean",
        "object" => "must be of type object",
        "array" => "must be an array",
        _ => "must be null",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request_errors(key: &str, body: Value) -> Vec<(String, String)> {
        let doc = SchemaDoc::embedded();
        let (method, template) = key.split_once(' ').unwrap();
        let op = doc.operation(method, template).unwrap();
        let schema = &op.request[0].1;
        doc.validate(schema, &body, "")
            .into_iter()
            .map(|e| (e.field.unwrap_or_default(), e.message))
            .collect()
    }

    #[test]
    fn reports_the_reference_examples() {
        let errors = request_errors(
            "POST /sources",
            json!({"enabled": "yes", "metadataId": "x"}),
        );
        assert!(
            errors.contains(&("slug".into(), "\"slug\" is required".into())),
            "{errors:?}"
        );
        assert!(errors.contains(&("enabled".into(), "\"enabled\" must be a boolean".into())));
        let errors = request_errors(
            "POST /destination/{destinationId}/filters",
            json!({"sourceId": "s", "if": "all", "title": "t", "enabled": true, "actions": [{"type": "drop"}]}),
        );
        assert_eq!(
            errors,
            [(
                "actions.0.type".to_owned(),
                "\"type\" must be one of [ALLOW_PROPERTIES, DROP, DROP_PROPERTIES, SAMPLE]"
                    .to_owned()
            )]
        );
    }

    #[test]
    fn nullable_fields_accept_null_and_rule_schemas_anything() {
        assert!(
            request_errors(
                "PATCH /destination/{destinationId}/filters/{filterId}",
                json!({"description": null})
            )
            .is_empty()
        );
        assert!(
            request_errors(
                "PUT /tracking-plans/{trackingPlanId}/rules",
                json!({"rules": [{"type": "TRACK", "key": "A", "version": 1, "jsonSchema": null}]})
            )
            .is_empty()
        );
        let errors = request_errors(
            "PUT /tracking-plans/{trackingPlanId}/rules",
            json!({"rules": [{"key": "A"}]}),
        );
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            ["rules.0.type", "rules.0.jsonSchema", "rules.0.version"]
        );
    }

    #[test]
    fn every_operation_has_an_id_and_answer_types() {
        let doc = SchemaDoc::embedded();
        assert_eq!(doc.operations().count(), 87);
        for op in doc.operations() {
            assert!(!op.operation_id.is_empty(), "{}", op.key);
            assert!(!op.accept.is_empty(), "{}", op.key);
        }
    }
}
