//! Sources, their labels, and their Protocols schema configuration.
//!
//! A source becomes up to four kinds of request: `POST /sources` (slug, catalog item, settings;
//! created disabled, enabled at cut-over, because its new write keys are not in any app yet),
//! `PATCH /sources/{id}` for the display name (the v1 create input has no `name`), one
//! `POST /labels` per label (the label must exist before a source can carry it; the planner
//! deduplicates them by key and value) and `PUT /sources/{id}/labels`. The schema config is one
//! `PATCH /sources/{id}/settings`, its fields renamed by `mappings/schema_config.toml`.
//!
//! `library_config` has no documented Public counterpart: a key is carried into `settings` only
//! where the target source metadata lists it as an option (under its Config or camelCase name,
//! the Public API's spelling); a non-default value that cannot be carried is a lossy finding.
//!
//! A source whose `function_config` is set runs a source function, which the Config source does
//! not name. INFERRED: it is the one exported source function whose setting names include all
//! of the instance's (narrowed, when several fit, to the one whose display name starts the
//! source's display name, the app's default instance name); exactly one candidate gives a `$ref` to that function's catalog id plus a
//! manual finding asking for confirmation, anything else is a blocker. Every function setting
//! value is a secret marker in the snapshot (see `crate::secrets`) and becomes `$secret`.

use serde_json::{Map, Value, json};

use super::catalog::{CatalogKind, resolve_for};
use super::payload::id_or_ref;
use super::{
    Context, FindingCode, Mapped, Payload, Ref, RefField, SecretRef, SecretState, Step,
    last_segment, source_name, str_field, workspace_slug,
};
use crate::model::{Kind, object};
use crate::secrets;

/// The value a library setting has when nobody changed it: `false` or `""`.
fn is_default(value: &Value) -> bool {
    matches!(value, Value::Bool(false) | Value::Null) || value.as_str() == Some("")
}

fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A secret marker of the snapshot as a `$secret` placeholder (or the value, when it is none).
/// `setting` names it in the Public payload, `config_setting` in the Config object.
pub(super) fn secret_or_value(
    value: &Value,
    kind: Kind,
    config_name: &str,
    setting: &str,
    config_setting: &str,
) -> Value {
    match value.get(secrets::MARKER_KEY).and_then(Value::as_str) {
        Some(state) => SecretRef {
            kind,
            config_name: config_name.to_owned(),
            setting: setting.to_owned(),
            config_setting: config_setting.to_owned(),
            state: if state == "masked" {
                SecretState::Masked
            } else {
                SecretState::Present
            },
        }
        .to_marker(),
        None => value.clone(),
    }
}

/// A Config source (`workspaces/<ws>/sources/<slug>`).
pub fn map_source(config_name: &str, body: &Value, ctx: &Context<'_>) -> Mapped {
    let mut mapped = Mapped::new(Kind::Sources, config_name);
    let slug = last_segment(config_name);
    let Some(catalog_slug) = str_field(body, "catalog_name").map(last_segment) else {
        mapped.malformed("catalog_name", "string");
        return mapped;
    };
    let item = resolve_for(
        &mut mapped,
        ctx,
        CatalogKind::Source,
        catalog_slug,
        None,
        "catalog_name",
    );
    let this = Ref::id(Kind::Sources, config_name);
    let mut settings = Map::new();

    let function_config: Vec<&Value> = body
        .get("function_config")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let mut metadata_id = item.map(|i| Value::String(i.id.clone()));
    if function_config.is_empty() {
        carry_library_config(&mut mapped, body, item, &mut settings);
    } else {
        let display = str_field(body, "display_name").unwrap_or_default();
        metadata_id =
            function_instance(&mut mapped, ctx, &function_config, display).or(metadata_id);
        for setting in &function_config {
            let Some(name) = str_field(setting, "name") else {
                continue;
            };
            let value = setting.get("value").unwrap_or(&Value::Null);
            let value = secret_or_value(value, Kind::Sources, config_name, name, name);
            if value.get("$secret").is_some() {
                mapped.find(
                    FindingCode::SourceSecretRequired,
                    Some(&format!("function_config.{name}")),
                    format!(
                        "Function setting `{name}` is treated as secret; its value is supplied \
                         at apply time (from the Config API or the secrets file)."
                    ),
                );
            }
            settings.insert(name.to_owned(), value);
        }
    }

    let write_keys: Vec<&str> = body
        .get("write_keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    if !write_keys.is_empty() {
        let tails: Vec<String> = write_keys
            .iter()
            .map(|k| {
                let tail: String = k
                    .chars()
                    .rev()
                    .take(4)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                format!("…{tail}")
            })
            .collect();
        mapped.find(
            FindingCode::SourceWriteKeyRegenerated,
            Some("write_keys"),
            format!(
                "Write keys cannot be set through the Public API: the new source gets new keys. \
                 Every app and server sending with {} must be switched to the new key at cut-over.",
                tails.join(", ")
            ),
        );
    }
    mapped.find(
        FindingCode::SourceCreatedDisabled,
        None,
        "The source is created disabled and enabled at cut-over, once apps send with its new \
         write key.",
    );

    let create = Payload::new(Step::CreateSource, "POST", "/sources")
        .body(object([
            ("slug", Value::from(slug)),
            ("enabled", Value::Bool(false)),
            (
                "metadataId",
                metadata_id.unwrap_or(Value::String(String::new())),
            ),
            ("settings", Value::Object(settings)),
        ]))
        .records(this.clone(), "/data/source/id");
    mapped.payloads.push(create);

    let source_id = id_or_ref(ctx.ids, this);
    // Last in the plan's order (see `apply::schedule`), and only sent with `apply --enable`.
    mapped.payloads.push(
        Payload::new(Step::EnableSource, "PATCH", "/sources/{sourceId}")
            .param("sourceId", source_id.clone())
            .body(json!({"enabled": true})),
    );
    if let Some(display) = str_field(body, "display_name").filter(|d| !d.is_empty() && *d != slug) {
        mapped.payloads.push(
            Payload::new(Step::NameSource, "PATCH", "/sources/{sourceId}")
                .param("sourceId", source_id.clone())
                .body(json!({"name": display})),
        );
    }

    let labels: Vec<(String, String)> = body
        .get("labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let value = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (k.clone(), value)
        })
        .collect();
    if !labels.is_empty() {
        for (key, value) in &labels {
            mapped.payloads.push(
                Payload::new(Step::CreateLabel, "POST", "/labels")
                    .body(json!({"label": {"key": key, "value": value}})),
            );
        }
        let list: Vec<Value> = labels
            .iter()
            .map(|(key, value)| json!({"key": key, "value": value}))
            .collect();
        mapped.payloads.push(
            Payload::new(Step::SetSourceLabels, "PUT", "/sources/{sourceId}/labels")
                .param("sourceId", source_id)
                .body(object([("labels", Value::Array(list))])),
        );
    }
    mapped
}

fn carry_library_config(
    mapped: &mut Mapped,
    body: &Value,
    item: Option<&super::CatalogItem>,
    settings: &mut Map<String, Value>,
) {
    let Some(library) = body.get("library_config").and_then(Value::as_object) else {
        return;
    };
    for (key, value) in library {
        let option = item.and_then(|i| {
            [key.clone(), camel(key)]
                .into_iter()
                .find(|name| i.options.contains(name))
        });
        match option {
            Some(name) => {
                settings.insert(name, value.clone());
            }
            None if !is_default(value) => mapped.find(
                FindingCode::SourceLibraryConfigDropped,
                Some(&format!("library_config.{key}")),
                format!(
                    "Library setting `{key}` = {value} has no option in the target source \
                     metadata; set it in the app or the SDK configuration."
                ),
            ),
            None => {}
        }
    }
}

/// The `$ref` to the catalog id of the function this instance runs, when exactly one exported
/// source function fits (see the module docs).
fn function_instance(
    mapped: &mut Mapped,
    ctx: &Context<'_>,
    function_config: &[&Value],
    source_display_name: &str,
) -> Option<Value> {
    let mut names: Vec<&str> = function_config
        .iter()
        .filter_map(|s| str_field(s, "name"))
        .collect();
    names.sort_unstable();
    let mut candidates: Vec<&super::ExportedFunction> = ctx
        .functions
        .iter()
        .filter(|f| f.kind == "SOURCE")
        .filter(|f| names.iter().all(|n| f.setting_names.iter().any(|s| s == n)))
        .collect();
    // Several functions share setting names; the app names an instance after its function by
    // default, which narrows them without choosing between equals.
    if candidates.len() > 1 {
        let named: Vec<&super::ExportedFunction> = candidates
            .iter()
            .copied()
            .filter(|f| {
                !f.display_name.is_empty() && source_display_name.starts_with(&f.display_name)
            })
            .collect();
        if named.len() == 1 {
            candidates = named;
        }
    }
    match candidates.as_slice() {
        [function] => {
            mapped.find(
                FindingCode::SourceFunctionInstance,
                Some("function_config"),
                format!(
                    "The source runs a source function; the Config API does not say which. \
                     `{}` ({}) is the only exported source function that fits (settings {}, \
                     name): confirm it.",
                    function.id,
                    function.display_name,
                    names.join(", ")
                ),
            );
            Some(id_or_ref(
                ctx.ids,
                Ref {
                    kind: Kind::Functions,
                    config_name: function.id.clone(),
                    field: RefField::CatalogId,
                },
            ))
        }
        many => {
            let ids: Vec<&str> = many.iter().map(|f| f.id.as_str()).collect();
            mapped.find(
                FindingCode::SourceFunctionUnresolved,
                Some("function_config"),
                format!(
                    "The source runs a source function with settings {}; {} exported source \
                     functions fit ({}). Recreate this source from the right function in the app.",
                    names.join(", "),
                    many.len(),
                    ids.join(", ")
                ),
            );
            None
        }
    }
}

/// A source's schema config (`workspaces/<ws>/sources/<slug>/schema-config`).
pub fn map_schema_config(config_name: &str, body: &Value, ctx: &Context<'_>) -> Mapped {
    let mut mapped = Mapped::new(Kind::SchemaConfigs, config_name);
    let Some(source) = config_name.strip_suffix("/schema-config") else {
        mapped.malformed("name", "`…/schema-config`");
        return mapped;
    };
    let Some(object) = body.as_object() else {
        mapped.malformed("schema_config", "object");
        return mapped;
    };
    let ws = workspace_slug(config_name).unwrap_or_default();
    let table = &ctx.tables.schema_config;
    let mut settings = Map::new();
    for (field, value) in object {
        if matches!(field.as_str(), "name" | "parent") {
            continue;
        }
        if let Some(path) = table.fields.get(field) {
            let (group, key) = path
                .get_ref()
                .split_once('.')
                .unwrap_or(("", path.get_ref()));
            let group = settings
                .entry(group.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(group) = group.as_object_mut() {
                group.insert(key.to_owned(), value.clone());
            }
        } else if let Some(public) = table.forwarding.get(field) {
            // An empty target means "no forwarding"; the Public endpoint rejects an empty value.
            if let Some(slug) = value.as_str().filter(|s| !s.is_empty()) {
                settings.insert(
                    public.get_ref().clone(),
                    id_or_ref(ctx.ids, Ref::id(Kind::Sources, source_name(ws, slug))),
                );
            }
        } else {
            mapped.find(
                FindingCode::SchemaConfigUnknownField,
                Some(field),
                format!(
                    "Schema-config field `{field}` has no row in mappings/schema_config.toml and \
                     is not carried over."
                ),
            );
        }
    }
    mapped.find(
        FindingCode::SchemaConfigNeedsProtocols,
        None,
        "These schema settings only take effect if Protocols is enabled in the target workspace.",
    );
    mapped.payloads.push(
        Payload::new(
            Step::UpdateSourceSchemaSettings,
            "PATCH",
            "/sources/{sourceId}/settings",
        )
        .param(
            "sourceId",
            id_or_ref(ctx.ids, Ref::id(Kind::Sources, source)),
        )
        .body(Value::Object(settings)),
    );
    mapped
}
