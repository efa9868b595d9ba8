//! Sources (`/sources`), their schema settings, labels, write keys and connections.
//!
//! Creation answers 201 (documented since API 41). The v1 create input has no `name`, so a
//! source created with it is named after its slug, as the reference example shows; the alpha
//! input (`application/vnd.segment.v1alpha+json`) may set `name`. Referential rules (INFERRED
//! statuses, all 422 on the offending field): `metadataId` must be a catalog source or a source
//! function's catalog id, the slug must be unused in the workspace, labels must exist
//! (`POST /labels`) before they are attached, and forwarding targets must be sources of the
//! workspace. `PATCH` is partial; `settings` keys are merged. Deleting a source deletes its
//! destinations, their filters and its tracking-plan connection.

use axum::extract::{Path, RawQuery};
use serde_json::{Map, Value, json};

use super::{Input, Reply, Sim, created, ok, parse_labels, success};
use crate::sim::public::error::{ApiError, ApiResult, ErrorItem, field_error};
use crate::sim::public::paging::{Page, Params};
use crate::sim::public::store::{
    Label, PublicStore, SchemaSettings, Source, TraitSettings, WRITE_KEY_LEN,
};
use crate::sim::public::wire;
use crate::sim::workspace::ViolationAction;

pub async fn list(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    ok(page.render("sources", store.sources.len(), |i| {
        wire::source(&store, &store.sources[i])
    }))
}

/// Slugs are what the app puts in URLs: lower-case letters, digits, `-` and `_`.
fn check_slug(slug: &str) -> ApiResult<()> {
    let valid = !slug.is_empty()
        && slug.len() <= 100
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::field(
            "slug",
            "must contain only lower-case letters, digits, `-` and `_`",
        ))
    }
}

fn check_slug_free(store: &PublicStore, slug: &str, except: Option<&str>) -> ApiResult<()> {
    if store
        .sources
        .iter()
        .any(|s| s.slug == slug && Some(s.id.as_str()) != except)
    {
        return Err(ApiError::field("slug", "is already used by another Source"));
    }
    Ok(())
}

fn object(value: Option<&Value>) -> Map<String, Value> {
    value
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

pub async fn create(sim: Sim, axum::Extension(call): Input) -> Reply {
    let slug = call.str("slug").unwrap_or_default().to_owned();
    check_slug(&slug)?;
    let metadata_id = call.str("metadataId").unwrap_or_default().to_owned();
    let mut store = sim.store();
    let known = store.catalog.source_by_public_id(&metadata_id).is_some()
        || store
            .function_by_catalog_id(&metadata_id)
            .is_some_and(|f| f.resource_type == "SOURCE");
    if !known {
        return Err(ApiError::field(
            "metadataId",
            "must be the id of a Source in the catalog",
        ));
    }
    check_slug_free(&store, &slug, None)?;
    let name = call
        .is_alpha()
        .then(|| call.str("name"))
        .flatten()
        .unwrap_or(&slug)
        .to_owned();
    let id = store.new_id("", 22);
    let write_key = store.new_id("", WRITE_KEY_LEN);
    let source = Source {
        id,
        slug,
        name,
        metadata_id,
        enabled: call.bool("enabled").unwrap_or(true),
        write_keys: vec![write_key],
        settings: object(call.body.get("settings")),
        labels: Vec::new(),
        schema: SchemaSettings::default(),
        created_at: wire::now_timestamp(),
    };
    let out = wire::source(&store, &source);
    store.sources.push(source);
    created(json!({ "source": out }))
}

pub async fn get(sim: Sim, Path(id): Path<String>) -> Reply {
    let store = sim.store();
    let source = store.source(&id)?;
    let plan = store.plan_of_source(&id).map(|p| p.id.clone());
    ok(json!({"source": wire::source(&store, source), "trackingPlanId": plan}))
}

pub async fn update(sim: Sim, Path(id): Path<String>, axum::Extension(call): Input) -> Reply {
    let mut store = sim.store();
    let index = store.source_index(&id)?;
    if let Some(slug) = call.str("slug") {
        check_slug(slug)?;
        check_slug_free(&store, slug, Some(&id))?;
    }
    let source = &mut store.sources[index];
    if let Some(slug) = call.str("slug") {
        source.slug = slug.to_owned();
    }
    if let Some(name) = call.str("name") {
        source.name = name.to_owned();
    }
    if let Some(enabled) = call.bool("enabled") {
        source.enabled = enabled;
    }
    if let Some(settings) = call.body.get("settings").and_then(Value::as_object) {
        source.settings.extend(settings.clone());
    }
    let out = wire::source(&store, &store.sources[index]);
    ok(json!({ "source": out }))
}

pub async fn delete(sim: Sim, Path(id): Path<String>) -> Reply {
    sim.store().delete_source(&id)?;
    success()
}

pub async fn connected_destinations(
    sim: Sim,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    store.source(&id)?;
    let connected: Vec<usize> = store
        .destinations
        .iter()
        .enumerate()
        .filter(|(_, d)| d.source_id == id)
        .map(|(i, _)| i)
        .collect();
    ok(page.render("destinations", connected.len(), |i| {
        wire::destination(&store, &store.destinations[connected[i]])
    }))
}

/// The simulated workspaces have no warehouses (the Config API had none to migrate), so every
/// source lists none.
pub async fn connected_warehouses(
    sim: Sim,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    sim.store().source(&id)?;
    ok(page.render("warehouses", 0, |_| Value::Null))
}

/// Labels in a request must exist already: 422 on each one that does not.
fn existing_labels(store: &PublicStore, call: &super::Call) -> ApiResult<Vec<Label>> {
    let labels = parse_labels(call.array("labels"));
    let missing: Vec<ErrorItem> = labels
        .iter()
        .enumerate()
        .filter(|(_, l)| !store.labels.iter().any(|known| known.same_key(l)))
        .map(|(i, _)| {
            field_error(
                &format!("labels.{i}"),
                "must be an existing label: create it with POST /labels first",
            )
        })
        .collect();
    if !missing.is_empty() {
        return Err(ApiError::validation(missing));
    }
    // Descriptions come from the workspace's label, not from the request.
    Ok(labels
        .iter()
        .filter_map(|l| store.labels.iter().find(|known| known.same_key(l)).cloned())
        .collect())
}

fn labels_reply(labels: &[Label]) -> Reply {
    ok(json!({"labels": labels.iter().map(wire::label).collect::<Vec<_>>()}))
}

pub async fn add_labels(sim: Sim, Path(id): Path<String>, axum::Extension(call): Input) -> Reply {
    let mut store = sim.store();
    let index = store.source_index(&id)?;
    let labels = existing_labels(&store, &call)?;
    let source = &mut store.sources[index];
    for label in labels {
        if !source.labels.iter().any(|l| l.same_key(&label)) {
            source.labels.push(label);
        }
    }
    labels_reply(&source.labels)
}

pub async fn replace_labels(
    sim: Sim,
    Path(id): Path<String>,
    axum::Extension(call): Input,
) -> Reply {
    let mut store = sim.store();
    let index = store.source_index(&id)?;
    let mut labels = existing_labels(&store, &call)?;
    labels.dedup_by(|a, b| a.same_key(b));
    let source = &mut store.sources[index];
    source.labels = labels;
    labels_reply(&source.labels)
}

pub async fn get_settings(sim: Sim, Path(id): Path<String>) -> Reply {
    let store = sim.store();
    let source = store.source(&id)?;
    ok(wire::schema_settings_output(&source.id, &source.schema))
}

fn violation(value: Option<&Value>, current: ViolationAction) -> ViolationAction {
    match value.and_then(Value::as_str) {
        Some("ALLOW") => ViolationAction::Allow,
        Some("BLOCK") => ViolationAction::Block,
        Some("OMIT_PROPERTIES" | "OMIT_TRAITS") => ViolationAction::Omit,
        _ => current,
    }
}

fn flag(section: &Value, name: &str, current: bool) -> bool {
    section
        .get(name)
        .and_then(Value::as_bool)
        .unwrap_or(current)
}

fn apply_traits(section: &Value, settings: &mut TraitSettings) {
    settings.allow_unplanned_traits = flag(
        section,
        "allowUnplannedTraits",
        settings.allow_unplanned_traits,
    );
    settings.allow_traits_on_violations = flag(
        section,
        "allowTraitsOnViolations",
        settings.allow_traits_on_violations,
    );
    settings.common_event_on_violations = violation(
        section.get("commonEventOnViolations"),
        settings.common_event_on_violations,
    );
}

pub async fn update_settings(
    sim: Sim,
    Path(id): Path<String>,
    axum::Extension(call): Input,
) -> Reply {
    let mut store = sim.store();
    let index = store.source_index(&id)?;
    let mut errors = Vec::new();
    let mut forwarding = Vec::new();
    for field in ["forwardingViolationsTo", "forwardingBlockedEventsTo"] {
        if let Some(target) = call.str(field) {
            // The documented troubleshooting case: an empty or unknown target is an error;
            // clients must omit the field to leave forwarding off.
            if store.source(target).is_err() {
                errors.push(field_error(
                    field,
                    "must be the id of a Source of this workspace",
                ));
            }
            forwarding.push((field, target.to_owned()));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let schema = &mut store.sources[index].schema;
    let body = &call.body;
    let track = &body["track"];
    schema.track.allow_unplanned_events = flag(
        track,
        "allowUnplannedEvents",
        schema.track.allow_unplanned_events,
    );
    schema.track.allow_unplanned_event_properties = flag(
        track,
        "allowUnplannedEventProperties",
        schema.track.allow_unplanned_event_properties,
    );
    schema.track.allow_event_on_violations = flag(
        track,
        "allowEventOnViolations",
        schema.track.allow_event_on_violations,
    );
    schema.track.allow_properties_on_violations = flag(
        track,
        "allowPropertiesOnViolations",
        schema.track.allow_properties_on_violations,
    );
    schema.track.common_event_on_violations = violation(
        track.get("commonEventOnViolations"),
        schema.track.common_event_on_violations,
    );
    apply_traits(&body["identify"], &mut schema.identify);
    apply_traits(&body["group"], &mut schema.group);
    for (field, target) in forwarding {
        if field == "forwardingViolationsTo" {
            schema.forwarding_violations_to = Some(target);
        } else {
            schema.forwarding_blocked_events_to = Some(target);
        }
    }
    let source = &store.sources[index];
    ok(wire::schema_settings_output(&source.id, &source.schema))
}

pub async fn create_write_key(sim: Sim, Path(id): Path<String>) -> Reply {
    let mut store = sim.store();
    let index = store.source_index(&id)?;
    let key = store.new_id("", WRITE_KEY_LEN);
    store.sources[index].write_keys.push(key);
    let out = wire::source(&store, &store.sources[index]);
    ok(json!({ "source": out }))
}

pub async fn remove_write_key(sim: Sim, Path((id, write_key)): Path<(String, String)>) -> Reply {
    let mut store = sim.store();
    let index = store.source_index(&id)?;
    let keys = &mut store.sources[index].write_keys;
    let before = keys.len();
    keys.retain(|k| *k != write_key);
    if keys.len() == before {
        return Err(ApiError::not_found());
    }
    success()
}
