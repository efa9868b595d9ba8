//! Tracking plans, their rules and their source connections.
//!
//! A plan becomes `POST /tracking-plans` (type from `mappings/tracking_plans.toml`, `LIVE`), then
//! its rules: the first batch with `PUT …/rules` (replace, so a re-run converges on the export)
//! and every further batch with `PATCH …/rules` (upsert, which adds to the first). Batches hold
//! at most `max_rules_per_request` rules (200, the documented per-request cap) and stay under
//! `max_request_bytes` (the ≈2 MB tracking-plan body cap, minus a margin for the envelope).
//!
//! Every event version is kept: each `events[]` entry is its own TRACK rule (typewriter keeps
//! only the latest, for code generation, which is not what a migration wants). An event's
//! `description` has no Public field; INFERRED, it goes into the JSON Schema's own
//! `description` when that is absent. `global` / `identify` / `group` become COMMON / IDENTIFY /
//! GROUP rules (INFERRED; see the table) with version 1 and no key. The legacy
//! `identify_traits` / `group_traits` arrays are always present and almost always empty; a
//! non-empty one has no documented shape, so it is a manual finding, not a guess.

use std::collections::{BTreeMap, HashSet};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::payload::id_or_ref;
use super::{Context, FindingCode, Mapped, Payload, Ref, Step, str_field};
use crate::model::{Kind, object};

/// One Public `RuleInputV1`, the schema moved in (a plan's schemas are most of its text).
fn rule(rule_type: &str, key: Option<&str>, version: i64, schema: Value) -> Value {
    let (rule_type, version) = (Value::from(rule_type), Value::from(version));
    match key {
        Some(key) => object([
            ("type", rule_type),
            ("key", Value::from(key)),
            ("version", version),
            ("jsonSchema", schema),
        ]),
        None => object([
            ("type", rule_type),
            ("version", version),
            ("jsonSchema", schema),
        ]),
    }
}

/// The rules of one Config plan, as Public `RuleInputV1` objects: `events` are the entries of
/// `rules.events`, handed over one at a time (each schema is moved into its rule, not copied);
/// the rest of `rules` is read from `rules`.
fn rules_of(
    mapped: &mut Mapped,
    rules: &Value,
    events: impl Iterator<Item = Value>,
    ctx: &Context<'_>,
) -> Vec<Value> {
    let table = &ctx.tables.tracking_plans.rule_types;
    let mut out = Vec::new();
    let mut seen: HashSet<(String, String, i64)> = HashSet::new();
    let mut push = |mapped: &mut Mapped, rule: Value, field: String| {
        let identity = (
            rule["type"].as_str().unwrap_or_default().to_owned(),
            rule["key"].as_str().unwrap_or_default().to_owned(),
            rule["version"].as_i64().unwrap_or(1),
        );
        if !seen.insert(identity.clone()) {
            mapped.find(
                FindingCode::PlanDuplicateRule,
                Some(&field),
                format!(
                    "Rule {} `{}` version {} appears twice; the Public API keeps one per type, key \
                     and version.",
                    identity.0, identity.1, identity.2
                ),
            );
            return;
        }
        out.push(rule);
    };
    if let Some(track) = table.get("events") {
        for (index, mut event) in events.enumerate() {
            let field = format!("rules.events.{index}");
            let schema = event.as_object_mut().and_then(|e| e.remove("rules"));
            let event = &event;
            let Some(name) = str_field(event, "name") else {
                mapped.malformed(&format!("{field}.name"), "string");
                continue;
            };
            let version = event.get("version").and_then(Value::as_i64).unwrap_or(1);
            let mut schema = schema.unwrap_or_else(|| json!({}));
            if let Some(description) = str_field(event, "description").filter(|d| !d.is_empty())
                && let Some(object) = schema.as_object_mut()
            {
                match object.get("description").and_then(Value::as_str) {
                    None => {
                        object.insert("description".into(), Value::String(description.to_owned()));
                    }
                    Some(existing) if existing != description => mapped.find(
                        FindingCode::PlanDescriptionConflict,
                        Some(&format!("{field}.description")),
                        format!(
                            "Event `{name}` v{version} has a description that differs from its \
                             schema's; the schema's is kept and the other is lost."
                        ),
                    ),
                    Some(_) => {}
                }
            }
            let rule = rule(track.get_ref(), Some(name), version, schema);
            push(mapped, rule, field);
        }
    }
    for key in ["global", "identify", "group"] {
        let (Some(schema), Some(rule_type)) =
            (rules.get(key).filter(|v| v.is_object()), table.get(key))
        else {
            continue;
        };
        mapped.find(
            FindingCode::PlanInferredRuleType,
            Some(&format!("rules.{key}")),
            format!(
                "`rules.{key}` becomes a {} rule (INFERRED mapping; check it after the migration).",
                rule_type.get_ref()
            ),
        );
        let rule = rule(rule_type.get_ref(), None, 1, schema.clone());
        push(mapped, rule, format!("rules.{key}"));
    }
    for key in ["identify_traits", "group_traits"] {
        let count = rules.get(key).and_then(Value::as_array).map_or(0, Vec::len);
        if count > 0 {
            mapped.find(
                FindingCode::PlanLegacyTraits,
                Some(&format!("rules.{key}")),
                format!(
                    "`rules.{key}` holds {count} legacy entries with no documented shape; they are \
                     not migrated. Recreate them as rules in the app."
                ),
            );
        }
    }
    out
}

/// The length of a value's JSON text, without building the text.
fn serialized_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a Value to a sink that cannot fail cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

/// Splits rules into request-sized batches.
fn batches(mapped: &mut Mapped, rules: Vec<Value>, ctx: &Context<'_>) -> Vec<Vec<Value>> {
    let table = &ctx.tables.tracking_plans;
    let mut out: Vec<Vec<Value>> = Vec::new();
    let mut current: Vec<Value> = Vec::new();
    let mut bytes = 0usize;
    for rule in rules {
        let size = serialized_len(&rule) + 1;
        if size > table.max_request_bytes {
            mapped.find(
                FindingCode::PlanRuleTooLarge,
                None,
                format!(
                    "Rule `{}` is {size} bytes; a tracking-plan request may hold {}.",
                    rule["key"]
                        .as_str()
                        .unwrap_or(rule["type"].as_str().unwrap_or_default()),
                    table.max_request_bytes
                ),
            );
            continue;
        }
        if !current.is_empty()
            && (current.len() >= table.max_rules_per_request
                || bytes + size > table.max_request_bytes)
        {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(rule);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A Config tracking plan (`workspaces/<ws>/tracking-plans/rs_…`).
pub fn map_tracking_plan(config_name: &str, body: &Value, ctx: &Context<'_>) -> Mapped {
    let empty = json!({});
    let rules = body.get("rules").unwrap_or(&empty);
    let events = rules.get("events").and_then(Value::as_array);
    map_parts(
        config_name,
        str_field(body, "display_name"),
        rules,
        events.into_iter().flatten().cloned(),
        ctx,
    )
}

/// [`map_tracking_plan`] of a plan's JSON text, its events parsed one at a time as they are
/// mapped: parsed whole, a plan is about twenty times its text (a 362 KB plan, 8 MB), and a
/// plan's rules are most of what the planner and the audit map. Text that does not have the
/// usual shape (an object, with an object `rules` whose `events` is a list) is parsed whole
/// and mapped as a value, which reports what is wrong with it.
pub fn map_tracking_plan_text(config_name: &str, text: &str, ctx: &Context<'_>) -> Mapped {
    match PlanText::parse(text) {
        Some(plan) => {
            let events = plan.events.into_iter().map(|event| {
                // A raw value is valid JSON: it parses.
                serde_json::from_str(event.get()).unwrap_or(Value::Null)
            });
            map_parts(
                config_name,
                plan.display_name.as_deref(),
                &plan.rules,
                events,
                ctx,
            )
        }
        None => {
            let body = serde_json::from_str(text).unwrap_or(Value::Null);
            map_tracking_plan(config_name, &body, ctx)
        }
    }
}

/// A plan's text taken apart: the fields the mapping reads, with `rules.events` left as the
/// text of each event.
struct PlanText<'a> {
    display_name: Option<String>,
    /// `rules` without `events`.
    rules: Value,
    events: Vec<&'a RawValue>,
}

impl<'a> PlanText<'a> {
    fn parse(text: &'a str) -> Option<PlanText<'a>> {
        #[derive(Deserialize)]
        struct Plan<'a> {
            #[serde(default)]
            display_name: Option<Value>,
            #[serde(borrow, default)]
            rules: Option<&'a RawValue>,
        }
        // A struct also reads from a list (`["P", {…}]`), which a plan is not.
        if !text.trim_start().starts_with('{') {
            return None;
        }
        let plan: Plan<'a> = serde_json::from_str(text).ok()?;
        let mut rules: BTreeMap<String, &'a RawValue> = match plan.rules {
            Some(rules) => serde_json::from_str(rules.get()).ok()?,
            None => BTreeMap::new(),
        };
        let events = match rules.remove("events") {
            Some(events) => serde_json::from_str(events.get()).ok()?,
            None => Vec::new(),
        };
        let rest = rules
            .into_iter()
            .map(|(key, value)| Some((key, serde_json::from_str(value.get()).ok()?)))
            .collect::<Option<Map<String, Value>>>()?;
        Some(PlanText {
            display_name: match plan.display_name {
                Some(Value::String(name)) => Some(name),
                _ => None,
            },
            rules: Value::Object(rest),
            events,
        })
    }
}

/// A plan from its parts: its `display_name`, its `rules` (whose `events` are not read) and
/// the entries of `rules.events`.
fn map_parts(
    config_name: &str,
    display_name: Option<&str>,
    rules: &Value,
    events: impl Iterator<Item = Value>,
    ctx: &Context<'_>,
) -> Mapped {
    let mut mapped = Mapped::new(Kind::TrackingPlans, config_name);
    let Some(display) = display_name else {
        mapped.malformed("display_name", "string");
        return mapped;
    };
    let this = Ref::id(Kind::TrackingPlans, config_name);
    mapped.payloads.push(
        Payload::new(Step::CreateTrackingPlan, "POST", "/tracking-plans")
            .body(json!({"name": display, "type": ctx.tables.tracking_plans.plan_type.get_ref()}))
            .records(this.clone(), "/data/trackingPlan/id"),
    );
    mapped.find(
        FindingCode::PlanNewId,
        Some("name"),
        format!(
            "Plan `{display}` gets a new `tp_` id; typewriter configurations and scripts that use \
             `{}` must be updated.",
            super::last_segment(config_name)
        ),
    );
    if ctx.keys_only {
        return mapped;
    }
    let plan_id = id_or_ref(ctx.ids, this);
    let rules = rules_of(&mut mapped, rules, events, ctx);
    for (index, batch) in batches(&mut mapped, rules, ctx).into_iter().enumerate() {
        let (step, method) = if index == 0 {
            (Step::ReplaceRules, "PUT")
        } else {
            (Step::UpsertRules, "PATCH")
        };
        mapped.payloads.push(
            Payload::new(step, method, "/tracking-plans/{trackingPlanId}/rules")
                .param("trackingPlanId", plan_id.clone())
                .body(object([("rules", Value::Array(batch))])),
        );
    }
    mapped
}

/// A source connection (`<plan name>/source-connections/<source slug>`).
pub fn map_connection(config_name: &str, body: &Value, ctx: &Context<'_>) -> Mapped {
    let mut mapped = Mapped::new(Kind::TrackingPlanConnections, config_name);
    let Some(plan) = config_name
        .rsplit_once("/source-connections/")
        .map(|(plan, _)| plan)
    else {
        mapped.malformed("name", "`…/source-connections/…`");
        return mapped;
    };
    let Some(source) = str_field(body, "source_name") else {
        mapped.malformed("source_name", "string");
        return mapped;
    };
    mapped.payloads.push(
        Payload::new(
            Step::ConnectSourceToPlan,
            "POST",
            "/tracking-plans/{trackingPlanId}/sources",
        )
        .param(
            "trackingPlanId",
            id_or_ref(ctx.ids, Ref::id(Kind::TrackingPlans, plan)),
        )
        .body(json!({"sourceId": id_or_ref(ctx.ids, Ref::id(Kind::Sources, source))})),
    );
    mapped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_of_the_usual_shape_is_taken_apart_with_its_events_as_text() {
        let text = r#"{"name": "n", "display_name": "P", "rules": {"events": [{"name": "A"}, {"name": "B", "rules": {"type": "object"}}], "global": {"type": "object"}, "identify_traits": []}}"#;
        let plan = PlanText::parse(text).expect("the usual shape");
        assert_eq!(plan.display_name.as_deref(), Some("P"));
        assert_eq!(
            plan.events.iter().map(|e| e.get()).collect::<Vec<_>>(),
            [
                r#"{"name": "A"}"#,
                r#"{"name": "B", "rules": {"type": "object"}}"#
            ]
        );
        assert_eq!(
            plan.rules,
            json!({"global": {"type": "object"}, "identify_traits": []})
        );
        // Without rules, or without events, there is nothing to take apart, which is usual too.
        assert!(PlanText::parse(r#"{"display_name": "P"}"#).is_some_and(|p| p.events.is_empty()));
        for unusual in [
            r#"[]"#,
            r#"["P", {"events": [{"name": "A"}]}]"#,
            r#"{"display_name": "P", "rules": []}"#,
            r#"{"display_name": "P", "rules": {"events": {}}}"#,
            r#"{"display_name": "P", "display_name": "Q"}"#,
        ] {
            assert!(PlanText::parse(unusual).is_none(), "{unusual}");
        }
    }
}
