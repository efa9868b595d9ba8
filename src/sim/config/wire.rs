//! The Config API's JSON shapes, rendered from and parsed into the neutral workspace model.
//!
//! Output is snake_case with defaults emitted explicitly (`""`, `false`, `[]`), as the real
//! protobuf-JSON gateway did; key order follows the documented examples. Input accepts both
//! snake_case and lowerCamelCase field names (the gateway's protobuf parser did), but only for
//! field names: user data (JSON Schemas, setting values, labels) is never rewritten.
//! These types are private to the simulator: the exporter has its own, so a misspelt field
//! cannot hide by being misspelt identically on both sides.

use serde_json::{Map, Value, json};

use super::error::{ApiError, ApiResult};
use crate::sim::catalog::{CatalogDestination, SettingType};
use crate::sim::workspace::{
    AccessToken, BlockSpelling, ConnectionMode, Destination, EventRule, FieldSets, Filter,
    FilterAction, Function, FunctionKind, FunctionSetting, Invite, Policy, PolicyResource, Role,
    SchemaConfig, Source, TrackingPlan, TrackingPlanRules, User, ViolationAction, Workspace,
};

/// The current time as the Config API writes timestamps (RFC 3339, milliseconds, `Z`).
pub fn now_timestamp() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// Masks a secret the way Segment shows censored settings: bullets and the last four characters.
pub fn mask_secret(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{}{tail}", "•".repeat(10))
}

/// `display_name` → `displayName`.
pub fn camel(snake: &str) -> String {
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

/// Read access to a request object that accepts both spellings of a field name.
#[derive(Clone, Copy)]
pub struct Fields<'a>(pub &'a Map<String, Value>);

impl<'a> Fields<'a> {
    pub fn of(value: &'a Value, what: &str) -> ApiResult<Self> {
        value
            .as_object()
            .map(Fields)
            .ok_or_else(|| ApiError::invalid(format!("`{what}` must be a JSON object")))
    }

    pub fn get(&self, snake: &str) -> Option<&'a Value> {
        self.0.get(snake).or_else(|| self.0.get(&camel(snake)))
    }

    pub fn has(&self, snake: &str) -> bool {
        self.get(snake).is_some()
    }

    pub fn str(&self, snake: &str) -> ApiResult<Option<&'a str>> {
        match self.get(snake) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::invalid(format!("`{snake}` must be a string"))),
        }
    }

    pub fn bool(&self, snake: &str) -> ApiResult<Option<bool>> {
        match self.get(snake) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::invalid(format!("`{snake}` must be a boolean"))),
        }
    }

    pub fn array(&self, snake: &str) -> ApiResult<Option<&'a Vec<Value>>> {
        match self.get(snake) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(_) => Err(ApiError::invalid(format!("`{snake}` must be an array"))),
        }
    }

    pub fn required_str(&self, snake: &str) -> ApiResult<&'a str> {
        self.str(snake)?
            .ok_or_else(|| ApiError::invalid(format!("`{snake}` is required")))
    }
}

/// The wrapped object of a create or update body (`{"source": {...}}`).
pub fn unwrap_body<'a>(body: &'a Value, wrapper: &str) -> ApiResult<Fields<'a>> {
    let outer = Fields::of(body, "request body")?;
    let inner = outer
        .get(wrapper)
        .ok_or_else(|| ApiError::invalid(format!("request body must contain `{wrapper}`")))?;
    Fields::of(inner, wrapper)
}

/// The `update_mask.paths` of an update body, or `None` when the body has no mask.
pub fn mask_paths(body: &Value) -> ApiResult<Option<Vec<String>>> {
    let outer = Fields::of(body, "request body")?;
    let Some(mask) = outer.get("update_mask") else {
        return Ok(None);
    };
    let paths = Fields::of(mask, "update_mask")?
        .array("paths")?
        .ok_or_else(|| ApiError::invalid("`update_mask.paths` is required"))?;
    paths
        .iter()
        .map(|p| {
            p.as_str()
                .map(str::to_owned)
                .ok_or_else(|| ApiError::invalid("`update_mask.paths` must hold strings"))
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

// ---- names ----------------------------------------------------------------------------------

pub fn workspace_name(ws: &Workspace) -> String {
    format!("workspaces/{}", ws.slug)
}

pub fn source_name(ws: &Workspace, source_slug: &str) -> String {
    format!("workspaces/{}/sources/{source_slug}", ws.slug)
}

pub fn destination_name(ws: &Workspace, source_slug: &str, dest_slug: &str) -> String {
    format!("{}/destinations/{dest_slug}", source_name(ws, source_slug))
}

pub fn role_name(ws: &Workspace, role_id: &str) -> String {
    format!("workspaces/{}/roles/{role_id}", ws.slug)
}

pub fn resource_name(ws: &Workspace, resource: &PolicyResource) -> String {
    match resource {
        PolicyResource::Workspace => workspace_name(ws),
        PolicyResource::Source(src) => source_name(ws, src),
        PolicyResource::Destination(src, dst) => destination_name(ws, src, dst),
        PolicyResource::TrackingPlan(id) => format!("workspaces/{}/tracking-plans/{id}", ws.slug),
    }
}

/// Parses a policy resource name of this workspace.
pub fn parse_resource(ws: &Workspace, name: &str) -> ApiResult<PolicyResource> {
    let prefix = workspace_name(ws);
    let invalid = || ApiError::invalid(format!("`{name}` is not a resource of `{prefix}`"));
    let rest = name.strip_prefix(&prefix).ok_or_else(invalid)?;
    let parts: Vec<&str> = rest.split('/').skip(1).collect();
    match parts.as_slice() {
        [] => Ok(PolicyResource::Workspace),
        ["sources", src] => Ok(PolicyResource::Source((*src).to_owned())),
        ["sources", src, "destinations", dst] => Ok(PolicyResource::Destination(
            (*src).to_owned(),
            (*dst).to_owned(),
        )),
        ["tracking-plans", id] => Ok(PolicyResource::TrackingPlan((*id).to_owned())),
        _ => Err(invalid()),
    }
}

// ---- rendering ------------------------------------------------------------------------------

pub fn workspace(ws: &Workspace) -> Value {
    json!({
        "name": workspace_name(ws),
        "display_name": ws.display_name,
        "id": ws.id,
        "create_time": ws.create_time,
    })
}

pub fn source(ws: &Workspace, source: &Source, function: Option<&Function>, masked: bool) -> Value {
    let labels: Map<String, Value> = source
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let function_config: Vec<Value> = source
        .function_instance
        .iter()
        .flat_map(|instance| {
            instance.settings.iter().map(move |(name, value)| {
                let setting = function.and_then(|f| f.settings.iter().find(|s| &s.name == name));
                let sensitive = setting.is_some_and(|s| s.sensitive);
                let value = match value {
                    Value::String(s) if sensitive && masked => Value::String(mask_secret(s)),
                    other => other.clone(),
                };
                json!({
                    "name": name,
                    "value": value,
                    "type": setting.map_or("string", |s| s.kind.as_str()),
                })
            })
        })
        .collect();
    json!({
        "name": source_name(ws, &source.slug),
        "parent": workspace_name(ws),
        "display_name": source.display_name,
        "catalog_name": format!("catalog/sources/{}", source.catalog_slug),
        "write_keys": source.write_keys,
        "library_config": {
            "metrics_enabled": source.library_config.metrics_enabled,
            "retry_queue": source.library_config.retry_queue,
            "cross_domain_id_enabled": source.library_config.cross_domain_id_enabled,
            "api_host": source.library_config.api_host,
        },
        "function_config": function_config,
        "labels": labels,
        "id": source.id,
        "create_time": source.create_time,
    })
}

fn violation_name(action: ViolationAction, omit: &str) -> &str {
    match action {
        ViolationAction::Allow => "ALLOW",
        ViolationAction::Omit => omit,
        ViolationAction::Block => "BLOCK",
    }
}

/// The 13 writable schema-config fields, in the order the API returns them.
pub const SCHEMA_CONFIG_FIELDS: &[&str] = &[
    "allow_unplanned_track_events",
    "allow_unplanned_identify_traits",
    "allow_unplanned_group_traits",
    "forwarding_blocked_events_to",
    "allow_unplanned_track_event_properties",
    "allow_track_event_on_violations",
    "allow_identify_traits_on_violations",
    "allow_group_traits_on_violations",
    "forwarding_violations_to",
    "allow_track_properties_on_violations",
    "common_track_event_on_violations",
    "common_identify_event_on_violations",
    "common_group_event_on_violations",
];

pub fn schema_config(ws: &Workspace, source_slug: &str, config: &SchemaConfig) -> Value {
    let source = source_name(ws, source_slug);
    json!({
        "name": format!("{source}/schema-config"),
        "parent": source,
        "allow_unplanned_track_events": config.allow_unplanned_track_events,
        "allow_unplanned_identify_traits": config.allow_unplanned_identify_traits,
        "allow_unplanned_group_traits": config.allow_unplanned_group_traits,
        "forwarding_blocked_events_to": config.forwarding_blocked_events_to,
        "allow_unplanned_track_event_properties": config.allow_unplanned_track_event_properties,
        "allow_track_event_on_violations": config.allow_track_event_on_violations,
        "allow_identify_traits_on_violations": config.allow_identify_traits_on_violations,
        "allow_group_traits_on_violations": config.allow_group_traits_on_violations,
        "forwarding_violations_to": config.forwarding_violations_to,
        "allow_track_properties_on_violations": config.allow_track_properties_on_violations,
        "common_track_event_on_violations":
            violation_name(config.common_track_event_on_violations, "OMIT_PROPERTIES"),
        "common_identify_event_on_violations":
            violation_name(config.common_identify_event_on_violations, "OMIT_TRAITS"),
        "common_group_event_on_violations":
            violation_name(config.common_group_event_on_violations, "OMIT_TRAITS"),
    })
}

/// Parses a full schema-config object (every field present, as [`schema_config`] renders it).
pub fn parse_schema_config(value: &Value) -> ApiResult<SchemaConfig> {
    let f = Fields::of(value, "schema_config")?;
    let flag = |name: &str| -> ApiResult<bool> { Ok(f.bool(name)?.unwrap_or(false)) };
    let text = |name: &str| -> ApiResult<String> { Ok(f.str(name)?.unwrap_or("").to_owned()) };
    let action = |name: &str, omit: &str| -> ApiResult<ViolationAction> {
        match f.str(name)?.unwrap_or("") {
            "" | "ALLOW" => Ok(ViolationAction::Allow),
            "BLOCK" => Ok(ViolationAction::Block),
            other if other == omit => Ok(ViolationAction::Omit),
            other => Err(ApiError::invalid(format!(
                "`{name}` must be ALLOW, {omit} or BLOCK, not `{other}`"
            ))),
        }
    };
    Ok(SchemaConfig {
        allow_unplanned_track_events: flag("allow_unplanned_track_events")?,
        allow_unplanned_identify_traits: flag("allow_unplanned_identify_traits")?,
        allow_unplanned_group_traits: flag("allow_unplanned_group_traits")?,
        forwarding_blocked_events_to: text("forwarding_blocked_events_to")?,
        allow_unplanned_track_event_properties: flag("allow_unplanned_track_event_properties")?,
        allow_track_event_on_violations: flag("allow_track_event_on_violations")?,
        allow_identify_traits_on_violations: flag("allow_identify_traits_on_violations")?,
        allow_group_traits_on_violations: flag("allow_group_traits_on_violations")?,
        forwarding_violations_to: text("forwarding_violations_to")?,
        allow_track_properties_on_violations: flag("allow_track_properties_on_violations")?,
        common_track_event_on_violations: action(
            "common_track_event_on_violations",
            "OMIT_PROPERTIES",
        )?,
        common_identify_event_on_violations: action(
            "common_identify_event_on_violations",
            "OMIT_TRAITS",
        )?,
        common_group_event_on_violations: action(
            "common_group_event_on_violations",
            "OMIT_TRAITS",
        )?,
    })
}

fn connection_mode(mode: ConnectionMode) -> &'static str {
    match mode {
        ConnectionMode::Cloud => "CLOUD",
        ConnectionMode::Device => "DEVICE",
        ConnectionMode::Unspecified => "UNSPECIFIED",
    }
}

pub fn parse_connection_mode(value: &str) -> ApiResult<ConnectionMode> {
    match value {
        "CLOUD" => Ok(ConnectionMode::Cloud),
        "DEVICE" => Ok(ConnectionMode::Device),
        "" | "UNSPECIFIED" => Ok(ConnectionMode::Unspecified),
        other => Err(ApiError::invalid(format!(
            "`connection_mode` must be CLOUD, DEVICE or UNSPECIFIED, not `{other}`"
        ))),
    }
}

/// The value a setting reads back as when it was never set.
pub fn empty_setting_value(kind: SettingType) -> Value {
    match kind {
        SettingType::Boolean => Value::Bool(false),
        SettingType::Number => json!(0),
        SettingType::Map => json!({}),
        SettingType::List | SettingType::Mixed => json!([]),
        SettingType::String
        | SettingType::Select
        | SettingType::Password
        | SettingType::Color
        | SettingType::MultiLineString => Value::String(String::new()),
    }
}

/// A destination with every catalog setting in `config` (set values, else empty values), as a
/// GET returns it (INFERRED from the tutorial's elided responses).
pub fn destination(
    ws: &Workspace,
    source_slug: &str,
    dest: &Destination,
    catalog: &CatalogDestination,
    masked: bool,
) -> Value {
    let name = destination_name(ws, source_slug, &dest.slug);
    let config: Vec<Value> = catalog
        .settings
        .iter()
        .map(|setting| {
            let value = dest
                .config
                .iter()
                .find(|(n, _)| n == &setting.name)
                .map_or_else(|| empty_setting_value(setting.kind), |(_, v)| v.clone());
            let value = match value {
                Value::String(s) if masked && setting.kind.is_secret() && !s.is_empty() => {
                    Value::String(mask_secret(&s))
                }
                other => other,
            };
            json!({
                "name": format!("{name}/config/{}", setting.name),
                "display_name": setting.display_name,
                "value": value,
                "type": setting.kind.config_value_type(),
            })
        })
        .collect();
    json!({
        "name": name,
        "parent": source_name(ws, source_slug),
        "display_name": catalog.display_name,
        "create_time": dest.create_time,
        "update_time": dest.update_time,
        "enabled": dest.enabled,
        "connection_mode": connection_mode(dest.connection_mode),
        "config": config,
    })
}

/// Checks that `value` fits a catalog setting of type `kind`.
fn check_setting_value(
    setting: &crate::sim::catalog::CatalogSetting,
    value: &Value,
) -> ApiResult<()> {
    let ok = match setting.kind {
        SettingType::Boolean => value.is_boolean(),
        SettingType::Number => value.is_number(),
        SettingType::Map => value.is_object(),
        SettingType::List => value
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string)),
        SettingType::Mixed => !value.is_null(),
        SettingType::Select => value.as_str().is_some_and(|s| {
            s.is_empty()
                || setting.select_options().is_empty()
                || setting.select_options().iter().any(|o| o == s)
        }),
        SettingType::String
        | SettingType::Password
        | SettingType::Color
        | SettingType::MultiLineString => value.is_string(),
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "invalid value for setting `{}` of type {}",
            setting.name,
            setting.kind.config_value_type()
        )))
    }
}

/// Parses `config[]` items of a create or update body into (setting name, value) pairs, checking
/// each name against the destination's catalog item and each value against the setting's type.
pub fn parse_config_items(
    items: &[Value],
    dest_name: &str,
    catalog: &CatalogDestination,
) -> ApiResult<Vec<(String, Value)>> {
    let prefix = format!("{dest_name}/config/");
    items
        .iter()
        .map(|item| {
            let f = Fields::of(item, "config item")?;
            let full = f.required_str("name")?;
            // Short names are tolerated: several clients send just the setting name.
            let name = full.strip_prefix(&prefix).unwrap_or(full);
            let setting = catalog.setting(name).ok_or_else(|| {
                ApiError::invalid(format!(
                    "unknown setting `{name}` for destination `{}`",
                    catalog.slug
                ))
            })?;
            let value = f.get("value").cloned().unwrap_or(Value::Null);
            let value = if value.is_null() {
                empty_setting_value(setting.kind)
            } else {
                value
            };
            check_setting_value(setting, &value)?;
            Ok((name.to_owned(), value))
        })
        .collect()
}

fn field_sets_to_wire(fields: &FieldSets) -> Value {
    fields
        .iter()
        .map(|(section, list)| (section.clone(), json!({ "fields": list })))
        .collect::<Map<String, Value>>()
        .into()
}

fn action_to_wire(action: &FilterAction) -> Value {
    match action {
        FilterAction::DropEvent => json!({"type": "drop_event"}),
        FilterAction::SampleEvent { percent, path } => json!({
            "type": "sample_event",
            "percent": percent,
            "path": path.clone().unwrap_or_default(),
        }),
        FilterAction::AllowFields(fields) => {
            json!({"type": "whitelist_fields", "fields": field_sets_to_wire(fields)})
        }
        FilterAction::BlockFields { spelling, fields } => json!({
            "type": match spelling {
                BlockSpelling::Blacklist => "blacklist_fields",
                BlockSpelling::Blocklist => "blocklist_fields",
            },
            "fields": field_sets_to_wire(fields),
        }),
    }
}

pub fn filter(ws: &Workspace, source_slug: &str, dest_slug: &str, filter: &Filter) -> Value {
    json!({
        "name": format!("{}/filters/{}", destination_name(ws, source_slug, dest_slug), filter.id),
        "if": filter.condition,
        "actions": filter.actions.iter().map(action_to_wire).collect::<Vec<_>>(),
        "title": filter.title,
        "description": filter.description,
        "enabled": filter.enabled,
    })
}

fn parse_field_sets(value: Option<&Value>) -> ApiResult<FieldSets> {
    let Some(value) = value else {
        return Ok(FieldSets::new());
    };
    let sections = Fields::of(value, "fields")?;
    sections
        .0
        .iter()
        .map(|(section, inner)| {
            let list = Fields::of(inner, "fields")?
                .array("fields")?
                .map(|a| {
                    a.iter()
                        .map(|f| {
                            f.as_str()
                                .map(str::to_owned)
                                .ok_or_else(|| ApiError::invalid("field lists must hold strings"))
                        })
                        .collect::<ApiResult<Vec<_>>>()
                })
                .transpose()?
                .unwrap_or_default();
            Ok((section.clone(), list))
        })
        .collect()
}

pub fn parse_actions(actions: &[Value]) -> ApiResult<Vec<FilterAction>> {
    actions
        .iter()
        .map(|action| {
            let f = Fields::of(action, "action")?;
            match f.required_str("type")? {
                "drop_event" => Ok(FilterAction::DropEvent),
                "sample_event" => {
                    let percent = f.get("percent").and_then(Value::as_f64).unwrap_or(0.0);
                    if !(0.0..=1.0).contains(&percent) {
                        return Err(ApiError::invalid("`percent` must be between 0 and 1"));
                    }
                    let path = f.str("path")?.filter(|p| !p.is_empty()).map(str::to_owned);
                    Ok(FilterAction::SampleEvent { percent, path })
                }
                "whitelist_fields" => Ok(FilterAction::AllowFields(parse_field_sets(
                    f.get("fields"),
                )?)),
                kind @ ("blacklist_fields" | "blocklist_fields") => Ok(FilterAction::BlockFields {
                    spelling: if kind == "blacklist_fields" {
                        BlockSpelling::Blacklist
                    } else {
                        BlockSpelling::Blocklist
                    },
                    fields: parse_field_sets(f.get("fields"))?,
                }),
                other => Err(ApiError::invalid(format!(
                    "unknown filter action `{other}`"
                ))),
            }
        })
        .collect()
}

/// A light FQL sanity check: balanced parentheses and quotes. The real API accepted any string
/// and dropped events on invalid FQL; it did reject the empty condition.
pub fn check_fql(condition: &str) -> ApiResult<()> {
    if condition.trim().is_empty() {
        return Err(ApiError::invalid("`if` must not be empty"));
    }
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in condition.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => {
                depth -= 1;
                if depth < 0 {
                    break;
                }
            }
            _ => {}
        }
    }
    if depth != 0 || quote.is_some() {
        return Err(ApiError::invalid(format!(
            "invalid FQL in `if`: {condition}"
        )));
    }
    Ok(())
}

pub fn tracking_plan_name(ws: &Workspace, id: &str) -> String {
    format!("workspaces/{}/tracking-plans/{id}", ws.slug)
}

pub fn rules(rules: &TrackingPlanRules) -> Value {
    let mut out = Map::new();
    let events: Vec<Value> = rules
        .events
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "description": e.description,
                "rules": e.rules,
                "version": e.version,
            })
        })
        .collect();
    out.insert("events".into(), Value::Array(events));
    for (key, schema) in [
        ("global", &rules.global),
        ("identify", &rules.identify),
        ("group", &rules.group),
    ] {
        if let Some(schema) = schema {
            out.insert(key.into(), schema.clone());
        }
    }
    out.insert(
        "identify_traits".into(),
        Value::Array(rules.identify_traits.clone()),
    );
    out.insert(
        "group_traits".into(),
        Value::Array(rules.group_traits.clone()),
    );
    Value::Object(out)
}

pub fn tracking_plan(ws: &Workspace, plan: &TrackingPlan) -> Value {
    json!({
        "name": tracking_plan_name(ws, &plan.id),
        "display_name": plan.display_name,
        "rules": rules(&plan.rules),
        "create_time": plan.create_time,
        "update_time": plan.update_time,
    })
}

pub fn parse_rules(value: &Value) -> ApiResult<TrackingPlanRules> {
    let f = Fields::of(value, "rules")?;
    let events = f
        .array("events")?
        .map(|events| {
            events
                .iter()
                .map(|e| {
                    let ef = Fields::of(e, "event rule")?;
                    let version = match ef.get("version") {
                        None | Some(Value::Null) => 1,
                        Some(v) => v
                            .as_u64()
                            .and_then(|v| u32::try_from(v).ok())
                            .filter(|v| *v >= 1)
                            .ok_or_else(|| {
                                ApiError::invalid("event `version` must be a positive integer")
                            })?,
                    };
                    let rules = ef.get("rules").cloned().unwrap_or_else(|| json!({}));
                    if !rules.is_object() {
                        return Err(ApiError::invalid(
                            "event `rules` must be a JSON Schema object",
                        ));
                    }
                    Ok(EventRule {
                        name: ef.required_str("name")?.to_owned(),
                        description: ef.str("description")?.unwrap_or("").to_owned(),
                        version,
                        rules,
                    })
                })
                .collect::<ApiResult<Vec<_>>>()
        })
        .transpose()?
        .unwrap_or_default();
    let schema = |key: &str| -> ApiResult<Option<Value>> {
        match f.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Object(_)) => Ok(Some(v.clone())),
            Some(_) => Err(ApiError::invalid(format!(
                "`rules.{key}` must be an object"
            ))),
        }
    };
    Ok(TrackingPlanRules {
        events,
        global: schema("global")?,
        identify: schema("identify")?,
        group: schema("group")?,
        identify_traits: f.array("identify_traits")?.cloned().unwrap_or_default(),
        group_traits: f.array("group_traits")?.cloned().unwrap_or_default(),
    })
}

pub fn connection(ws: &Workspace, plan_id: &str, source_slug: &str) -> Value {
    json!({
        "source_name": source_name(ws, source_slug),
        "tracking_plan_id": plan_id,
    })
}

pub fn role(ws: &Workspace, role: &Role) -> Value {
    json!({
        "name": role_name(ws, &role.id),
        "display_name": role.display_name,
        "description": role.description,
    })
}

pub fn policy(ws: &Workspace, policy: &Policy) -> Value {
    json!({
        "name": format!("{}/policies/{}", role_name(ws, &policy.role_id), policy.id),
        "subject": format!("users/{}", policy.user_id),
        "resource": resource_name(ws, &policy.resource),
    })
}

pub fn invite(ws: &Workspace, invite: &Invite) -> Value {
    let policies: Vec<Value> = invite
        .grants
        .iter()
        .map(|(role_id, resource)| {
            json!({"role": role_name(ws, role_id), "resource": resource_name(ws, resource)})
        })
        .collect();
    json!({
        "name": format!("workspaces/{}/invites/{}", ws.slug, invite.id),
        "email": invite.email,
        "create_time": invite.create_time,
        "expire_time": invite.expire_time,
        "policies": policies,
    })
}

pub fn user(user: &User) -> Value {
    json!({
        "name": format!("users/{}", user.id),
        "email": user.email,
        "display_name": user.display_name,
    })
}

pub fn function_kind(kind: FunctionKind) -> &'static str {
    match kind {
        FunctionKind::Source => "SOURCE",
        FunctionKind::Destination => "DESTINATION",
    }
}

pub fn parse_function_kind(value: &str) -> ApiResult<FunctionKind> {
    match value {
        "SOURCE" => Ok(FunctionKind::Source),
        "DESTINATION" => Ok(FunctionKind::Destination),
        other => Err(ApiError::invalid(format!(
            "`type` must be SOURCE or DESTINATION, not `{other}`"
        ))),
    }
}

pub fn function(ws: &Workspace, function: &Function) -> Value {
    let settings: Vec<Value> = function
        .settings
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "label": s.label,
                "type": s.kind,
                "description": s.description,
                "required": s.required,
                "sensitive": s.sensitive,
            })
        })
        .collect();
    json!({
        "id": function.id,
        "workspace_id": ws.id,
        "display_name": function.display_name,
        "description": function.description,
        "type": function_kind(function.kind),
        "code": function.code,
        "buildpack": "boreal",
        "settings": settings,
        "logo_url": function.logo_url,
        "catalog_id": function.catalog_id,
        "created_at": function.created_at,
        "created_by": function.created_by,
    })
}

pub fn parse_function_settings(items: &[Value]) -> ApiResult<Vec<FunctionSetting>> {
    items
        .iter()
        .map(|item| {
            let f = Fields::of(item, "function setting")?;
            let kind = f.str("type")?.unwrap_or("string");
            if !matches!(kind, "string" | "boolean" | "text-map" | "array") {
                return Err(ApiError::invalid(format!(
                    "function setting `type` must be string, boolean, text-map or array, not `{kind}`"
                )));
            }
            Ok(FunctionSetting {
                name: f.required_str("name")?.to_owned(),
                label: f.str("label")?.unwrap_or("").to_owned(),
                kind: kind.to_owned(),
                description: f.str("description")?.unwrap_or("").to_owned(),
                required: f.bool("required")?.unwrap_or(false),
                sensitive: f.bool("sensitive")?.unwrap_or(false),
            })
        })
        .collect()
}

pub fn access_token(token: &AccessToken, workspaces: &[String]) -> Value {
    json!({
        "name": format!("access-tokens/{}", token.number),
        "description": token.description,
        "scopes": token.scopes,
        "create_time": token.create_time,
        "workspace_names": workspaces.iter().map(|w| format!("workspaces/{w}")).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_accept_both_spellings() {
        let body = json!({"displayName": "A", "catalog_name": "catalog/sources/ios"});
        let f = Fields::of(&body, "source").unwrap();
        assert_eq!(f.str("display_name").unwrap(), Some("A"));
        assert_eq!(f.str("catalog_name").unwrap(), Some("catalog/sources/ios"));
        assert!(f.bool("display_name").is_err());
    }

    #[test]
    fn mask_keeps_only_the_last_four_characters() {
        assert_eq!(mask_secret("supersecretdada"), "••••••••••dada");
        assert_eq!(mask_secret("ab"), "••••••••••ab");
    }

    #[test]
    fn fql_check_catches_unbalanced_input_only() {
        assert!(check_fql("all").is_ok());
        assert!(check_fql("type = 'track' and (event = \"a)b\" or length(userId) > 3)").is_ok());
        assert!(check_fql("(type = 'track'").is_err());
        assert!(check_fql("type = 'track").is_err());
        assert!(check_fql(" ").is_err());
    }

    #[test]
    fn actions_round_trip_through_the_wire() {
        let wire = json!([
            {"type": "drop_event"},
            {"type": "sample_event", "percent": 0.25, "path": "userId"},
            {"type": "whitelist_fields", "fields": {"properties": {"fields": ["a", "b"]}}},
            {"type": "blocklist_fields", "fields": {"context": {"fields": ["ip"]}}},
        ]);
        let parsed = parse_actions(wire.as_array().unwrap()).unwrap();
        let back: Vec<Value> = parsed.iter().map(action_to_wire).collect();
        assert_eq!(Value::Array(back), wire);
        assert!(parse_actions(&[json!({"type": "explode"})]).is_err());
    }
}
