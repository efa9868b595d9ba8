//! The Public API's JSON shapes, rendered from the store.
//!
//! camelCase; optional fields are omitted rather than `null` unless the schema declares them
//! nullable and required (`trackingPlanId` of `GET /sources/{id}`); secrets are never rendered in
//! clear: PASSWORD settings of destinations and sensitive setting values of function instances
//! come back as `••••••••••` followed by their last four characters, the way Segment shows
//! censored values. These types are private to the simulator: the importer has its own, so a
//! misspelt field cannot hide by being misspelt identically on both sides.
//!
//! Catalog items are rendered from the shared catalog's Config-shaped data with the renames the
//! Public API documents (`display_name` → `name`, `methods` → `supportedMethods`, `platforms` →
//! `supportedPlatforms`, `browserUnbundling*` → `supportedFeatures`, `settings` → `options`).

use serde_json::{Map, Value, json};

use super::store::{
    Destination, Filter, Function, Group, Invite, Label, Permission, PublicStore, Regulation,
    RegulationScope, Role, Rule, SchemaSettings, Source, TrackingPlan, User, WorkspaceInfo,
};
use crate::sim::catalog::{CatalogDestination, CatalogSource, SettingType};
use crate::sim::workspace::ViolationAction;

/// The current time as the Public API writes timestamps (RFC 3339, milliseconds, `Z`).
pub fn now_timestamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Masks a secret: ten bullets and the last four characters (empty stays empty).
pub fn mask_secret(secret: &str) -> String {
    if secret.is_empty() {
        return String::new();
    }
    let chars: Vec<char> = secret.chars().collect();
    let tail: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("{}{tail}", "•".repeat(10))
}

pub fn workspace(ws: &WorkspaceInfo) -> Value {
    json!({"id": ws.id, "slug": ws.slug, "name": ws.name})
}

fn logos(config_wire: &Value) -> Value {
    let logos = &config_wire["logos"];
    let mut out = Map::new();
    out.insert(
        "default".into(),
        json!(logos["logo"].as_str().unwrap_or_default()),
    );
    if let Some(mark) = logos["mark"].as_str().filter(|m| !m.is_empty()) {
        out.insert("mark".into(), json!(mark));
    }
    Value::Object(out)
}

/// Source catalog categories of libraries rather than cloud apps (INFERRED split for
/// `isCloudEventSource`, which the Config catalog does not carry).
const LIBRARY_CATEGORIES: &[&str] = &["Website", "Mobile", "Server", "Ott", "Custom"];

pub fn catalog_source(item: &CatalogSource) -> Value {
    let cloud = !item
        .categories
        .iter()
        .any(|c| LIBRARY_CATEGORIES.contains(&c.as_str()));
    json!({
        "id": item.public_id,
        "name": item.display_name,
        "slug": item.slug,
        "description": "",
        "logos": logos(&item.config_wire),
        "options": [],
        "categories": item.categories,
        "isCloudEventSource": cloud,
        "status": "PUBLIC",
    })
}

/// The Public option type of a catalog setting type (lower-case free strings; INFERRED names
/// beyond `string`, `boolean` and `text-map`, which the reference shows).
fn option_type(kind: SettingType) -> &'static str {
    match kind {
        SettingType::String | SettingType::MultiLineString => "string",
        SettingType::Boolean => "boolean",
        SettingType::Number => "number",
        SettingType::Map => "text-map",
        SettingType::List | SettingType::Mixed => "array",
        SettingType::Select => "select",
        SettingType::Password => "password",
        SettingType::Color => "color",
    }
}

/// The value a setting of `kind` has when nobody set it.
pub fn empty_setting_value(kind: SettingType) -> Value {
    match kind {
        SettingType::Boolean => json!(false),
        SettingType::Number => json!(0),
        SettingType::Map => json!({}),
        SettingType::List | SettingType::Mixed => json!([]),
        _ => json!(""),
    }
}

fn component_type(config_type: &str) -> &'static str {
    match config_type {
        "WEB" => "BROWSER",
        "IOS" => "IOS",
        "ANDROID" => "ANDROID",
        _ => "SERVER",
    }
}

pub fn catalog_destination(item: &CatalogDestination) -> Value {
    let wire = &item.config_wire;
    let categories: Vec<&str> = [
        wire["categories"]["primary"].as_str(),
        wire["categories"]["secondary"].as_str(),
    ]
    .into_iter()
    .flatten()
    .chain(
        wire["categories"]["additional"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str),
    )
    .filter(|c| !c.is_empty())
    .collect();
    let components: Vec<Value> = wire["components"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            json!({
                "type": component_type(c["type"].as_str().unwrap_or_default()),
                "code": "",
                "owner": "SEGMENT",
            })
        })
        .collect();
    let options: Vec<Value> = item
        .settings
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "type": option_type(s.kind),
                "defaultValue": empty_setting_value(s.kind),
                "required": s.required,
                "label": s.display_name,
                "description": "",
            })
        })
        .collect();
    let flag = |v: &Value| v.as_bool().unwrap_or(false);
    json!({
        "id": item.public_id,
        "name": item.display_name,
        "description": "",
        "slug": item.slug,
        "logos": logos(wire),
        "options": options,
        "status": wire["status"].as_str().unwrap_or("PUBLIC"),
        "previousNames": item.previous_names,
        "categories": categories,
        "website": wire["website"].as_str().unwrap_or_default(),
        "components": components,
        "supportedFeatures": {
            "browserUnbundling": flag(&wire["browserUnbundlingSupported"]),
            "browserUnbundlingPublic": flag(&wire["browserUnbundlingPublic"]),
        },
        "supportedMethods": {
            "pageview": flag(&wire["methods"]["page_view"]),
            "identify": flag(&wire["methods"]["identify"]),
            "alias": flag(&wire["methods"]["alias"]),
            "track": flag(&wire["methods"]["track"]),
            "group": flag(&wire["methods"]["group"]),
        },
        "supportedPlatforms": {
            "browser": flag(&wire["platforms"]["browser"]),
            "server": flag(&wire["platforms"]["server"]),
            "mobile": flag(&wire["platforms"]["mobile"]),
        },
        "actions": [],
        "presets": [],
    })
}

/// The metadata of a source instance of a source function: the function's catalog entry.
fn function_source_metadata(function: &Function) -> Value {
    json!({
        "id": function.catalog_id,
        "name": function.display_name,
        "slug": slug_of(&function.display_name),
        "description": function.description,
        "logos": {"default": function.logo_url},
        "options": function.settings.iter().map(|s| json!({
            "name": s.name,
            "type": s.kind.to_lowercase().replace('_', "-"),
            "required": s.required,
            "label": s.label,
            "description": s.description,
        })).collect::<Vec<_>>(),
        "categories": ["Functions"],
        "isCloudEventSource": true,
        "status": "PUBLIC",
    })
}

/// `My Function` → `my-function`.
pub fn slug_of(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

pub fn source_metadata(store: &PublicStore, metadata_id: &str) -> Value {
    if let Some(item) = store.catalog.source_by_public_id(metadata_id) {
        return catalog_source(item);
    }
    if let Some(function) = store.function_by_catalog_id(metadata_id) {
        return function_source_metadata(function);
    }
    // A function deleted after its instance was created: the instance keeps a bare entry.
    json!({
        "id": metadata_id, "name": "", "slug": "", "description": "",
        "logos": {"default": ""}, "options": [], "categories": [],
        "isCloudEventSource": false, "status": "UNAVAILABLE",
    })
}

/// Whether a setting of a source is a sensitive function setting.
pub fn is_sensitive_source_setting(store: &PublicStore, source: &Source, name: &str) -> bool {
    store
        .function_by_catalog_id(&source.metadata_id)
        .is_some_and(|f| f.settings.iter().any(|s| s.name == name && s.sensitive))
}

/// Whether a destination setting is of the catalog's PASSWORD type.
pub fn is_secret_setting(store: &PublicStore, dest: &Destination, name: &str) -> bool {
    store
        .catalog
        .destination_by_public_id(&dest.metadata_id)
        .and_then(|c| c.setting(name))
        .is_some_and(|s| s.kind.is_secret())
}

fn masked(settings: &Map<String, Value>, is_secret: impl Fn(&str) -> bool) -> Value {
    Value::Object(
        settings
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    Value::String(s) if is_secret(name) => Value::String(mask_secret(s)),
                    other => other.clone(),
                };
                (name.clone(), value)
            })
            .collect(),
    )
}

pub fn label(label: &Label) -> Value {
    let mut out = Map::new();
    out.insert("key".into(), json!(label.key));
    out.insert("value".into(), json!(label.value));
    if let Some(description) = &label.description {
        out.insert("description".into(), json!(description));
    }
    Value::Object(out)
}

pub fn source(store: &PublicStore, source: &Source) -> Value {
    json!({
        "id": source.id,
        "slug": source.slug,
        "name": source.name,
        "workspaceId": store.workspace.id,
        "enabled": source.enabled,
        "writeKeys": source.write_keys,
        "metadata": source_metadata(store, &source.metadata_id),
        "settings": masked(&source.settings, |n| is_sensitive_source_setting(store, source, n)),
        "labels": source.labels.iter().map(label).collect::<Vec<_>>(),
    })
}

pub fn destination(store: &PublicStore, dest: &Destination) -> Value {
    let metadata = store
        .catalog
        .destination_by_public_id(&dest.metadata_id)
        .map_or(Value::Null, catalog_destination);
    let mut out = Map::new();
    out.insert("id".into(), json!(dest.id));
    if let Some(name) = &dest.name {
        out.insert("name".into(), json!(name));
    }
    out.insert("enabled".into(), json!(dest.enabled));
    out.insert("metadata".into(), metadata);
    out.insert("sourceId".into(), json!(dest.source_id));
    out.insert(
        "settings".into(),
        masked(&dest.settings, |n| is_secret_setting(store, dest, n)),
    );
    Value::Object(out)
}

/// `track` settings spell "omit" `OMIT_PROPERTIES`, identify and group `OMIT_TRAITS`.
pub fn violation_name(action: ViolationAction, omit: &'static str) -> &'static str {
    match action {
        ViolationAction::Allow => "ALLOW",
        ViolationAction::Omit => omit,
        ViolationAction::Block => "BLOCK",
    }
}

pub fn schema_settings(schema: &SchemaSettings) -> Value {
    let traits = |t: &super::store::TraitSettings| {
        json!({
            "allowUnplannedTraits": t.allow_unplanned_traits,
            "allowTraitsOnViolations": t.allow_traits_on_violations,
            "commonEventOnViolations": violation_name(t.common_event_on_violations, "OMIT_TRAITS"),
        })
    };
    let mut out = Map::new();
    out.insert(
        "track".into(),
        json!({
            "allowUnplannedEvents": schema.track.allow_unplanned_events,
            "allowUnplannedEventProperties": schema.track.allow_unplanned_event_properties,
            "allowEventOnViolations": schema.track.allow_event_on_violations,
            "allowPropertiesOnViolations": schema.track.allow_properties_on_violations,
            "commonEventOnViolations":
                violation_name(schema.track.common_event_on_violations, "OMIT_PROPERTIES"),
        }),
    );
    out.insert("identify".into(), traits(&schema.identify));
    out.insert("group".into(), traits(&schema.group));
    if let Some(to) = &schema.forwarding_violations_to {
        out.insert("forwardingViolationsTo".into(), json!(to));
    }
    if let Some(to) = &schema.forwarding_blocked_events_to {
        out.insert("forwardingBlockedEventsTo".into(), json!(to));
    }
    Value::Object(out)
}

/// `{sourceId, settings}`, the `data` of both schema-settings operations.
pub fn schema_settings_output(source_id: &str, schema: &SchemaSettings) -> Value {
    json!({"sourceId": source_id, "settings": schema_settings(schema)})
}

pub fn filter(filter: &Filter) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(filter.id));
    out.insert("sourceId".into(), json!(filter.source_id));
    out.insert("destinationId".into(), json!(filter.destination_id));
    out.insert("if".into(), json!(filter.condition));
    out.insert("actions".into(), json!(filter.actions));
    out.insert("title".into(), json!(filter.title));
    if let Some(description) = &filter.description {
        out.insert("description".into(), json!(description));
    }
    out.insert("enabled".into(), json!(filter.enabled));
    out.insert("createdAt".into(), json!(filter.created_at));
    out.insert("updatedAt".into(), json!(filter.updated_at));
    Value::Object(out)
}

pub fn tracking_plan(plan: &TrackingPlan) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), json!(plan.id));
    out.insert("name".into(), json!(plan.name));
    out.insert("slug".into(), json!(plan.slug));
    out.insert("description".into(), json!(plan.description));
    out.insert("type".into(), json!(plan.plan_type));
    if let Some(rs) = &plan.resource_schema_id {
        out.insert("resourceSchemaId".into(), json!(rs));
    }
    out.insert("createdAt".into(), json!(plan.created_at));
    out.insert("updatedAt".into(), json!(plan.updated_at));
    Value::Object(out)
}

pub fn rule(rule: &Rule) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), json!(rule.rule_type));
    if let Some(key) = &rule.key {
        out.insert("key".into(), json!(key));
    }
    out.insert("version".into(), json!(rule.version));
    out.insert("jsonSchema".into(), rule.json_schema.clone());
    out.insert("createdAt".into(), json!(rule.created_at));
    out.insert("updatedAt".into(), json!(rule.updated_at));
    Value::Object(out)
}

pub fn role(role: &Role) -> Value {
    json!({"id": role.id, "name": role.name, "description": role.description})
}

fn role_name(store: &PublicStore, role_id: &str) -> String {
    store
        .roles
        .iter()
        .find(|r| r.id == role_id)
        .map(|r| r.name.clone())
        .unwrap_or_default()
}

fn resources(permission: &Permission) -> Vec<Value> {
    permission
        .resources
        .iter()
        .map(|r| {
            let mut out = Map::new();
            out.insert("id".into(), json!(r.id));
            out.insert("type".into(), json!(r.kind));
            if !r.labels.is_empty() {
                out.insert(
                    "labels".into(),
                    Value::Array(r.labels.iter().map(label).collect()),
                );
            }
            Value::Object(out)
        })
        .collect()
}

/// A permission as users and groups show it (`PermissionV1`, `AccessPermissionV1`).
pub fn permission(store: &PublicStore, permission: &Permission) -> Value {
    let mut out = Map::new();
    out.insert("roleId".into(), json!(permission.role_id));
    out.insert(
        "roleName".into(),
        json!(role_name(store, &permission.role_id)),
    );
    out.insert("resources".into(), Value::Array(resources(permission)));
    if !permission.labels.is_empty() {
        out.insert(
            "labels".into(),
            Value::Array(permission.labels.iter().map(label).collect()),
        );
    }
    Value::Object(out)
}

pub fn user(store: &PublicStore, user: &User) -> Value {
    json!({
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "permissions": user.permissions.iter().map(|p| permission(store, p)).collect::<Vec<_>>(),
    })
}

pub fn minimal_user(user: &User) -> Value {
    json!({"id": user.id, "name": user.name, "email": user.email})
}

/// An invite as `/_sim/state` shows it (the API itself only lists emails).
pub fn invite(store: &PublicStore, invite: &Invite) -> Value {
    json!({
        "email": invite.email,
        "permissions": invite.permissions.iter().map(|p| permission(store, p)).collect::<Vec<_>>(),
        "createdAt": invite.created_at,
    })
}

pub fn group(store: &PublicStore, group: &Group) -> Value {
    json!({
        "id": group.id,
        "name": group.name,
        "memberCount": group.members.len(),
        "permissions": group.permissions.iter().map(|p| permission(store, p)).collect::<Vec<_>>(),
    })
}

pub fn function(function: &Function) -> Value {
    let mut out = function_item(function);
    let Some(obj) = out.as_object_mut() else {
        return out;
    };
    obj.insert("code".into(), json!(function.code));
    obj.insert(
        "settings".into(),
        Value::Array(
            function
                .settings
                .iter()
                .map(|s| {
                    json!({
                        "name": s.name,
                        "label": s.label,
                        "description": s.description,
                        "type": s.kind,
                        "required": s.required,
                        "sensitive": s.sensitive,
                    })
                })
                .collect(),
        ),
    );
    obj.insert("deployedAt".into(), json!(function.deployed_at));
    obj.insert(
        "previewWebhookUrl".into(),
        json!(format!(
            "https://fn-preview.segment.invalid/{}",
            function.id
        )),
    );
    obj.insert("batchMaxCount".into(), json!(0));
    obj.insert("isLatestVersion".into(), json!(function.is_latest_version));
    out
}

/// `ListFunctionItemV1`: a function without its code and settings.
pub fn function_item(function: &Function) -> Value {
    json!({
        "id": function.id,
        "resourceType": function.resource_type,
        "createdAt": function.created_at,
        "createdBy": function.created_by,
        "displayName": function.display_name,
        "description": function.description,
        "logoUrl": function.logo_url,
        "catalogId": function.catalog_id,
    })
}

/// The delivery summary of a destination over the simulated reporting window. One delivery in
/// ten needs a retry, and half the failures expire while the other half are discarded, so the
/// breakdowns always add up to their totals.
pub fn delivery_metrics(dest: &Destination) -> Value {
    let d = dest.delivery;
    let first_attempt = d.delivered - d.delivered / 10;
    json!({
        "sourceId": dest.source_id,
        "destinationMetadataId": dest.metadata_id,
        "metrics": [
            {"metricName": "successes", "total": d.delivered, "breakdown": [
                {"metricName": "successes_on_first_attempt", "value": first_attempt},
                {"metricName": "successes_after_retry", "value": d.delivered - first_attempt},
            ]},
            {"metricName": "expired", "total": d.not_delivered / 2},
            {"metricName": "discarded", "total": d.not_delivered - d.not_delivered / 2},
            {"metricName": "retried", "total": d.delivered / 10},
            {"metricName": "time_to_success", "total": d.p95_latency_ms, "breakdown": [
                {"metricName": "time_to_success_average", "value": d.p95_latency_ms / 2},
                {"metricName": "time_to_success_p95", "value": d.p95_latency_ms},
            ]},
        ],
    })
}

/// Regulations finish as soon as they are created (nothing to delete in a simulator).
const REGULATION_STATUS: &str = "FINISHED";

pub fn regulation_entry(regulation: &Regulation) -> Value {
    json!({
        "id": regulation.id,
        "regulationType": regulation.regulation_type,
        "subjectType": regulation.subject_type,
        "subjects": regulation.subject_ids,
        "status": REGULATION_STATUS,
        "createdAt": regulation.created_at,
        "finishedAt": regulation.created_at,
    })
}

pub fn regulation(store: &PublicStore, regulation: &Regulation) -> Value {
    let source_id = match &regulation.scope {
        RegulationScope::Workspace => None,
        RegulationScope::Source(id) | RegulationScope::CloudSource(id) => Some(id.clone()),
    };
    let streams: Vec<Value> = source_id
        .iter()
        .map(|id| {
            json!({
                "id": format!("{}-{id}", regulation.id),
                "status": REGULATION_STATUS,
                "source": {"id": id, "name": store.source(id).map(|s| s.name.clone()).unwrap_or_default()},
                "destinations": [],
            })
        })
        .collect();
    json!({
        "id": regulation.id,
        "workspaceId": store.workspace.id,
        "overallStatus": REGULATION_STATUS,
        "createdAt": regulation.created_at,
        "finishedAt": regulation.created_at,
        "streamStatus": streams,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_four_characters_and_never_the_rest() {
        assert_eq!(mask_secret("supersecretdada"), "••••••••••dada");
        assert_eq!(mask_secret(""), "");
        assert_eq!(mask_secret("東京都庁"), "••••••••••東京都庁");
    }

    #[test]
    fn catalog_items_use_the_public_names() {
        let catalog = crate::sim::catalog::Catalog::embedded();
        let ga = catalog_destination(catalog.destination("google-analytics").unwrap());
        assert_eq!(ga["name"], "Google Analytics");
        assert_eq!(ga["slug"], "google-analytics");
        assert!(ga["supportedMethods"]["pageview"].is_boolean());
        assert!(
            ga["options"]
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["name"] == "trackingId")
        );
        let js = catalog_source(catalog.source("javascript").unwrap());
        assert_eq!(js["isCloudEventSource"], false);
        assert_eq!(slug_of("My Fn (Acme Inc.)"), "my-fn-acme-inc");
    }
}
