//! Functions: `POST /functions` with the setting definitions, then, for the resource types the
//! table lists under `deploy` (source functions), `POST /functions/{id}/deploy`.
//!
//! Types and setting types are renamed by `mappings/functions.toml`. Only the current code is
//! copied: version history has no write path. Destination functions gain the workspace name in
//! their display name on the Public side, which breaks `integrations` object keys in tracking
//! code that names them: a lossy finding. Setting *definitions* carry over whole (`sensitive`
//! included); setting *values* live on the instances (sources), never here.

use serde_json::{Map, Value, json};

use super::payload::id_or_ref;
use super::{Context, FindingCode, Mapped, Payload, Ref, RefField, Step, str_field};
use crate::model::Kind;

/// A Config function, keyed by its id.
pub fn map_function(config_name: &str, body: &Value, ctx: &Context<'_>) -> Mapped {
    let mut mapped = Mapped::new(Kind::Functions, config_name);
    let table = &ctx.tables.functions;
    let (Some(display), Some(code), Some(config_type)) = (
        str_field(body, "display_name"),
        str_field(body, "code"),
        str_field(body, "type"),
    ) else {
        for field in ["display_name", "code", "type"] {
            if str_field(body, field).is_none() {
                mapped.malformed(field, "string");
            }
        }
        return mapped;
    };
    let Some(resource_type) = table
        .resource_types
        .get(config_type)
        .map(|t| t.get_ref().clone())
    else {
        mapped.find(
            FindingCode::FunctionUnknownType,
            Some("type"),
            format!("Function type `{config_type}` has no row in mappings/functions.toml."),
        );
        return mapped;
    };

    let mut settings = Vec::new();
    for (index, setting) in body
        .get("settings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(name) = str_field(setting, "name") else {
            mapped.malformed(&format!("settings.{index}.name"), "string");
            continue;
        };
        let setting_type = str_field(setting, "type").unwrap_or("string");
        let Some(public_type) = table.setting_types.get(setting_type) else {
            mapped.find(
                FindingCode::FunctionUnknownSettingType,
                Some(&format!("settings.{index}.type")),
                format!(
                    "Setting `{name}` has type `{setting_type}`, which has no row in \
                     mappings/functions.toml."
                ),
            );
            continue;
        };
        let flag = |field: &str| setting.get(field).and_then(Value::as_bool).unwrap_or(false);
        settings.push(json!({
            "name": name,
            "label": str_field(setting, "label").unwrap_or(name),
            "description": str_field(setting, "description").unwrap_or_default(),
            "type": public_type.get_ref(),
            "required": flag("required"),
            "sensitive": flag("sensitive"),
        }));
    }

    let mut create = Map::new();
    create.insert("code".into(), json!(code));
    create.insert("settings".into(), Value::Array(settings));
    create.insert("displayName".into(), json!(display));
    create.insert("resourceType".into(), json!(resource_type));
    for (config, public) in [("description", "description"), ("logo_url", "logoUrl")] {
        if let Some(value) = str_field(body, config).filter(|v| !v.is_empty()) {
            create.insert(public.into(), json!(value));
        }
    }
    let this = Ref::id(Kind::Functions, config_name);
    mapped.payloads.push(
        Payload::new(Step::CreateFunction, "POST", "/functions")
            .body(Value::Object(create))
            .records(this.clone(), "/data/function/id")
            .records(
                Ref {
                    field: RefField::CatalogId,
                    ..this.clone()
                },
                "/data/function/catalogId",
            ),
    );
    if table.deploy.contains(&resource_type) {
        mapped.payloads.push(
            Payload::new(
                Step::DeployFunction,
                "POST",
                "/functions/{functionId}/deploy",
            )
            .param("functionId", id_or_ref(ctx.ids, this)),
        );
    }
    if table.display_name_gains_workspace.contains(&resource_type) {
        mapped.find(
            FindingCode::FunctionDisplayNameSuffix,
            Some("display_name"),
            format!(
                "The Public API appends the workspace name to `{display}`; tracking code that \
                 enables it by name in the `integrations` object must use the new name."
            ),
        );
    }
    mapped.find(
        FindingCode::FunctionHistoryNotMigrated,
        None,
        "Only the current code is copied; earlier versions stay in the old workspace.",
    );
    mapped
}
