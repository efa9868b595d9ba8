//! Tracking plans (`/tracking-plans`, ids `tp_…`), their rules and their sources.
//!
//! The whole route tree is capped at 2 MB per request (by the gateway; 413). Rules are
//! identified by (type, key, version): `PUT` replaces them all, `PATCH` upserts (and renames
//! with `newKey`), `DELETE` removes those named in the `rules` query array, read in both the qs
//! (`rules[0][type]`) and the Go SDK (`rules.0[type]`) spellings. At most 200 rules per request
//! (documented: "rules must contain less than or equal to 200 items"). Rule versions must be
//! positive integers. A source can be in at most one plan: connecting a source that already has
//! one is 422 (INFERRED status). `GET /tracking-plans/{id}/rules` is limited to 200 requests per
//! minute (see `limits.rs`).

use axum::extract::{Path, RawQuery};
use serde_json::{Value, json};

use super::{Input, Reply, Sim, ok, required_param, success};
use crate::sim::public::error::{ApiError, ApiResult, ErrorItem, field_error};
use crate::sim::public::paging::{Page, Params};
use crate::sim::public::store::{Rule, TrackingPlan};
use crate::sim::public::wire;

/// The documented cap on rules per write request.
pub const MAX_RULES_PER_REQUEST: usize = 200;

const PLAN_TYPES: &[&str] = &[
    "ENGAGE",
    "LIVE",
    "PROPERTY_LIBRARY",
    "RULE_LIBRARY",
    "TEMPLATE",
];
const RULE_TYPES: &[&str] = &["COMMON", "GROUP", "IDENTIFY", "PAGE", "SCREEN", "TRACK"];

pub async fn list(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let page = Page::from_params(&params)?;
    let wanted = params.get("type");
    if let Some(kind) = wanted
        && !PLAN_TYPES.contains(&kind)
    {
        return Err(ApiError::field(
            "type",
            &format!("must be one of [{}]", PLAN_TYPES.join(", ")),
        ));
    }
    let store = sim.store();
    let matching: Vec<usize> = store
        .tracking_plans
        .iter()
        .enumerate()
        .filter(|(_, p)| wanted.is_none_or(|w| p.plan_type == w))
        .map(|(i, _)| i)
        .collect();
    ok(page.render("trackingPlans", matching.len(), |i| {
        wire::tracking_plan(&store.tracking_plans[matching[i]])
    }))
}

pub async fn create(sim: Sim, axum::Extension(call): Input) -> Reply {
    let now = wire::now_timestamp();
    let mut store = sim.store();
    let plan = TrackingPlan {
        id: store.new_id("tp_", 27),
        name: call.str("name").unwrap_or_default().to_owned(),
        slug: String::new(),
        description: call.str("description").unwrap_or_default().to_owned(),
        plan_type: call.str("type").unwrap_or("LIVE").to_owned(),
        resource_schema_id: None,
        rules: Vec::new(),
        source_ids: Vec::new(),
        created_at: now.clone(),
        updated_at: now,
    };
    let out = wire::tracking_plan(&plan);
    store.tracking_plans.push(plan);
    ok(json!({ "trackingPlan": out }))
}

pub async fn get(sim: Sim, Path(id): Path<String>) -> Reply {
    let store = sim.store();
    let index = store.plan_index(&id)?;
    ok(json!({"trackingPlan": wire::tracking_plan(&store.tracking_plans[index])}))
}

pub async fn update(sim: Sim, Path(id): Path<String>, axum::Extension(call): Input) -> Reply {
    let mut store = sim.store();
    let index = store.plan_index(&id)?;
    let plan = &mut store.tracking_plans[index];
    if let Some(name) = call.str("name") {
        plan.name = name.to_owned();
    }
    if let Some(description) = call.str("description") {
        plan.description = description.to_owned();
    }
    plan.updated_at = wire::now_timestamp();
    success()
}

pub async fn delete(sim: Sim, Path(id): Path<String>) -> Reply {
    let mut store = sim.store();
    let index = store.plan_index(&id)?;
    store.tracking_plans.remove(index);
    success()
}

pub async fn list_rules(sim: Sim, Path(id): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    let plan = &store.tracking_plans[store.plan_index(&id)?];
    ok(page.render("rules", plan.rules.len(), |i| wire::rule(&plan.rules[i])))
}

/// A rule version: the schema says `number`; Protocols versions are positive integers.
fn version_of(value: &Value) -> Option<u64> {
    value
        .as_f64()
        .filter(|v| v.fract() == 0.0 && *v >= 1.0)
        .map(|v| v as u64)
}

fn bad_version(field: &str) -> ErrorItem {
    field_error(field, "must be a positive integer")
}

/// The rules of a write body, after the per-request cap.
fn parse_rules(body: &Value, now: &str) -> ApiResult<Vec<(Rule, Option<String>)>> {
    let items = body["rules"].as_array().map_or(&[][..], Vec::as_slice);
    if items.len() > MAX_RULES_PER_REQUEST {
        return Err(ApiError::field(
            "rules",
            &format!("must contain less than or equal to {MAX_RULES_PER_REQUEST} items"),
        ));
    }
    let mut errors = Vec::new();
    let mut rules = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let Some(version) = version_of(&item["version"]) else {
            errors.push(bad_version(&format!("rules.{i}.version")));
            continue;
        };
        let rule = Rule {
            rule_type: item["type"].as_str().unwrap_or_default().to_owned(),
            key: item.get("key").and_then(Value::as_str).map(str::to_owned),
            json_schema: item.get("jsonSchema").cloned().unwrap_or(Value::Null),
            version,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
        };
        let new_key = item
            .get("newKey")
            .and_then(Value::as_str)
            .map(str::to_owned);
        rules.push((rule, new_key));
    }
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(ApiError::validation(errors))
    }
}

pub async fn replace_rules(
    sim: Sim,
    Path(id): Path<String>,
    axum::Extension(call): Input,
) -> Reply {
    let now = wire::now_timestamp();
    let rules = parse_rules(&call.body, &now)?;
    let mut store = sim.store();
    let index = store.plan_index(&id)?;
    let plan = &mut store.tracking_plans[index];
    plan.rules = rules.into_iter().map(|(rule, _)| rule).collect();
    plan.updated_at = now;
    success()
}

pub async fn upsert_rules(sim: Sim, Path(id): Path<String>, axum::Extension(call): Input) -> Reply {
    let now = wire::now_timestamp();
    let rules = parse_rules(&call.body, &now)?;
    let mut store = sim.store();
    let index = store.plan_index(&id)?;
    let plan = &mut store.tracking_plans[index];
    for (mut rule, new_key) in rules {
        let existing = plan
            .rules
            .iter_mut()
            .find(|r| r.identity() == rule.identity());
        if let Some(new_key) = new_key {
            rule.key = Some(new_key);
        }
        match existing {
            Some(current) => {
                rule.created_at = current.created_at.clone();
                *current = rule;
            }
            None => plan.rules.push(rule),
        }
    }
    plan.updated_at = now;
    success()
}

pub async fn remove_rules(sim: Sim, Path(id): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let wanted = params.objects("rules");
    if wanted.is_empty() {
        return Err(ApiError::required("rules"));
    }
    let mut errors = Vec::new();
    let mut identities = Vec::new();
    for (i, rule) in wanted.iter().enumerate() {
        let kind = rule.get("type").and_then(Value::as_str).unwrap_or_default();
        if !RULE_TYPES.contains(&kind) {
            errors.push(field_error(
                &format!("rules.{i}.type"),
                &format!("must be one of [{}]", RULE_TYPES.join(", ")),
            ));
        }
        let version = rule
            .get("version")
            .and_then(Value::as_str)
            .and_then(|v| v.parse::<f64>().ok())
            .map(Value::from)
            .unwrap_or(Value::Null);
        match version_of(&version) {
            Some(version) => identities.push((
                kind.to_owned(),
                rule.get("key").and_then(Value::as_str).map(str::to_owned),
                version,
            )),
            None => errors.push(bad_version(&format!("rules.{i}.version"))),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut store = sim.store();
    let index = store.plan_index(&id)?;
    let plan = &mut store.tracking_plans[index];
    plan.rules.retain(|r| {
        !identities
            .iter()
            .any(|(t, k, v)| r.rule_type == *t && r.key == *k && r.version == *v)
    });
    plan.updated_at = wire::now_timestamp();
    success()
}

pub async fn list_sources(sim: Sim, Path(id): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    let plan = &store.tracking_plans[store.plan_index(&id)?];
    let sources: Vec<usize> = plan
        .source_ids
        .iter()
        .filter_map(|s| store.source_index(s).ok())
        .collect();
    ok(page.render("sources", sources.len(), |i| {
        wire::source(&store, &store.sources[sources[i]])
    }))
}

pub async fn add_source(sim: Sim, Path(id): Path<String>, axum::Extension(call): Input) -> Reply {
    let source_id = call.str("sourceId").unwrap_or_default().to_owned();
    let mut store = sim.store();
    let index = store.plan_index(&id)?;
    if store.source(&source_id).is_err() {
        return Err(ApiError::field(
            "sourceId",
            "must be the id of a Source of this workspace",
        ));
    }
    if let Some(plan) = store.plan_of_source(&source_id) {
        if plan.id == id {
            // Connecting again is a no-op, so a retried call after a lost answer succeeds.
            return success();
        }
        return Err(ApiError::field(
            "sourceId",
            "is already connected to another Tracking Plan",
        ));
    }
    store.tracking_plans[index].source_ids.push(source_id);
    success()
}

pub async fn remove_source(sim: Sim, Path(id): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let source_id = required_param(&params, "sourceId")?;
    let mut store = sim.store();
    let index = store.plan_index(&id)?;
    let plan = &mut store.tracking_plans[index];
    if !plan.source_ids.contains(&source_id) {
        return Err(ApiError::not_found());
    }
    plan.source_ids.retain(|s| *s != source_id);
    success()
}
