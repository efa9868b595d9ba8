//! Destination instances: `POST /destinations` with the settings object built from the Config
//! `config[]` array.
//!
//! Each `config[]` item becomes `settings[<key>]`, the key being the last segment of the item's
//! name, transformed by the row of `mappings/destination_settings.toml` for its type (copy, or
//! secret) and by the per-integration rename and drop rows. A key the target catalog item does
//! not list as an option is dropped with a lossy finding. A value that is (or contains) a secret
//! marker becomes a `$secret` placeholder, whatever its type.
//!
//! Destinations are created disabled: the Config API created them disabled too, and enabling
//! them is the cut-over step, after sources send with their new write keys. Connection mode has
//! no Public field at all and is a manual step.

use serde_json::{Map, Value, json};

use super::catalog::{CatalogKind, resolve_for};
use super::payload::id_or_ref;
use super::sources::secret_or_value;
use super::tables::Transform;
use super::{Context, FindingCode, Mapped, Payload, Ref, Step, last_segment, str_field};
use crate::model::{Kind, object};
use crate::secrets;

/// True for `""`, `[]`, `{}`: what the Config API returns for a setting nobody set.
fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn contains_marker(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            map.contains_key(secrets::MARKER_KEY) || map.values().any(contains_marker)
        }
        Value::Array(items) => items.iter().any(contains_marker),
        _ => false,
    }
}

/// The source a destination belongs to: `…/sources/<s>/destinations/<d>` → `…/sources/<s>`.
pub fn source_of(destination_name: &str) -> &str {
    destination_name
        .rsplit_once("/destinations/")
        .map_or(destination_name, |(source, _)| source)
}

/// A Config destination (`workspaces/<ws>/sources/<s>/destinations/<slug>`).
pub fn map_destination(config_name: &str, body: &Value, ctx: &Context<'_>) -> Mapped {
    let mut mapped = Mapped::new(Kind::Destinations, config_name);
    let slug = last_segment(config_name);
    let display = str_field(body, "display_name");
    let Some(config) = body.get("config").and_then(Value::as_array) else {
        mapped.malformed("config", "array");
        return mapped;
    };
    let item = resolve_for(
        &mut mapped,
        ctx,
        CatalogKind::Destination,
        slug,
        display,
        "name",
    );
    let extra_instance = mapped
        .findings
        .iter()
        .any(|f| f.code == FindingCode::DestinationExtraInstance);
    let integration = match item {
        Some(item) if extra_instance => item.slug.as_str(),
        _ => slug,
    };
    if let Some(item) = item
        && extra_instance
        && item.single_instance
    {
        mapped.find(
            FindingCode::DestinationSingleInstance,
            Some("name"),
            format!(
                "`{}` allows one cloud-mode instance per source in the target; this is a further \
                 instance.",
                item.slug
            ),
        );
    }

    let table = &ctx.tables.destination_settings;
    let mut settings = Map::new();
    for (index, entry) in config.iter().enumerate() {
        let Some(full) = str_field(entry, "name") else {
            mapped.malformed(&format!("config.{index}.name"), "string");
            continue;
        };
        let key = full.rsplit_once("/config/").map_or(full, |(_, k)| k);
        let field = || format!("config.{key}");
        let value_type = str_field(entry, "type").unwrap_or("string");
        let rule = table
            .types
            .get(value_type)
            .or_else(|| table.types.get(&value_type.to_ascii_lowercase()));
        let Some(rule) = rule else {
            mapped.malformed(&format!("{}.type", field()), "known setting");
            continue;
        };
        let value = entry.get("value").unwrap_or(&Value::Null);
        if let Some(drop) = table.dropped(integration, key) {
            if !is_empty_value(value) {
                mapped.find(
                    FindingCode::DestinationSettingDropped,
                    Some(&field()),
                    format!("Setting `{key}` is not carried over: {}", drop.reason),
                );
            }
            continue;
        }
        let secret = contains_marker(value) || rule.transform == Transform::Secret;
        if rule.omit_when_empty && is_empty_value(value) {
            continue;
        }
        let public_key = match table.renamed_key(integration, key) {
            Some(renamed) => {
                mapped.find(
                    FindingCode::DestinationSettingRenamed,
                    Some(&field()),
                    format!("Setting `{key}` is `{renamed}` in the Public API."),
                );
                renamed
            }
            None => key,
        };
        if let Some(item) = item
            && !item.options.contains(public_key)
        {
            mapped.find(
                FindingCode::DestinationSettingNotInTarget,
                Some(&field()),
                format!(
                    "Setting `{public_key}` has no option in the target `{}` metadata and is not \
                     carried over.",
                    item.slug
                ),
            );
            continue;
        }
        let out = if secret {
            let marker = if contains_marker(value) && value.get(secrets::MARKER_KEY).is_none() {
                // A marker nested inside a structured value: the whole value is the secret.
                json!({ secrets::MARKER_KEY: "masked" })
            } else if value.get(secrets::MARKER_KEY).is_some() {
                value.clone()
            } else {
                json!({ secrets::MARKER_KEY: "present" })
            };
            let placeholder =
                secret_or_value(&marker, Kind::Destinations, config_name, public_key, key);
            let masked = marker[secrets::MARKER_KEY] == "masked";
            let (code, message) = if masked {
                (
                    FindingCode::DestinationMaskedSecret,
                    format!(
                        "Setting `{key}` was read masked; the mask is never copied. Supply the \
                         value in the secrets file."
                    ),
                )
            } else {
                (
                    FindingCode::DestinationSecretRequired,
                    format!(
                        "Setting `{key}` is secret; its value is read again from the Config API \
                         at write time or taken from the secrets file."
                    ),
                )
            };
            mapped.find(code, Some(&field()), message);
            placeholder
        } else {
            value.clone()
        };
        settings.insert(public_key.to_owned(), out);
    }

    if let Some(mode @ ("CLOUD" | "DEVICE")) = str_field(body, "connection_mode") {
        mapped.find(
            FindingCode::DestinationConnectionMode,
            Some("connection_mode"),
            format!(
                "Connection mode {mode} cannot be set through the Public API; check it in the \
                 app (Connections › destination › settings) after the migration."
            ),
        );
    }
    let enabled = body.get("enabled").and_then(Value::as_bool) == Some(true);
    if enabled {
        mapped.find(
            FindingCode::DestinationCreatedDisabled,
            Some("enabled"),
            "The destination is created disabled and enabled at cut-over.",
        );
    }

    let mut create = object([
        (
            "sourceId",
            id_or_ref(ctx.ids, Ref::id(Kind::Sources, source_of(config_name))),
        ),
        (
            "metadataId",
            Value::String(item.map_or_else(String::new, |i| i.id.clone())),
        ),
        ("enabled", Value::Bool(false)),
        ("settings", Value::Object(settings)),
    ]);
    if let Some(display) = display.filter(|d| !d.is_empty()) {
        // The Config API shows only the integration's display name, the same for every
        // instance on a source; the Public API tells instances apart by name, so a further
        // instance (`{slug}-{n}`) is named `{display} ({n})`, unique on its source.
        let nth = item
            .filter(|_| extra_instance)
            .and_then(|i| slug.strip_prefix(&format!("{}-", i.slug)));
        create["name"] = Value::String(match nth {
            Some(n) => format!("{display} ({n})"),
            None => display.to_owned(),
        });
    }
    mapped.payloads.push(
        Payload::new(Step::CreateDestination, "POST", "/destinations")
            .body(create)
            .records(
                Ref::id(Kind::Destinations, config_name),
                "/data/destination/id",
            ),
    );
    if enabled {
        // Sent last, and only with `apply --enable` (see `apply::schedule`).
        mapped.payloads.push(
            Payload::new(
                Step::EnableDestination,
                "PATCH",
                "/destinations/{destinationId}",
            )
            .param(
                "destinationId",
                id_or_ref(ctx.ids, Ref::id(Kind::Destinations, config_name)),
            )
            .body(json!({"enabled": true})),
        );
    }
    mapped
}
