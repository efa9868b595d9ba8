//! The Public simulator's starting states (`segbridge sim --target`).
//!
//! - `empty`: a new workspace, the migration target of a cross-workspace copy: the catalog and
//!   the built-in roles, nothing else.
//! - `mirror`: the generated workspace seen through the Public API, with the Public API's own
//!   ids: sources (same slugs and write keys), destinations named after the model's instance
//!   names, filters with the Public action names, tracking plans holding their Config `rs_` id as
//!   `resourceSchemaId` with one rule per event version (`TRACK`) plus `COMMON`, `IDENTIFY` and
//!   `GROUP` rules from the plan's global, identify and group schemas, plan↔source connections,
//!   functions (same ids: a function is the same object on both APIs), users with the
//!   permissions their policies can express, invites, and labels from the sources' labels.
//! - `partial`: a deterministic subset of `mirror` for conflict tests: every third source, every
//!   other destination of those (with their filters), the first tracking plan, every other
//!   function plus the ones kept sources run, every user and every other invite.
//!
//! Role ids and user ids are the model's (roles are global in Segment, user accounts are too).
//! Mirror ids come from a generator seeded by the workspace id, so a workspace always mirrors to
//! the same ids and `partial` shares them.

use std::fmt;
use std::str::FromStr;

use serde_json::{Map, Value, json};

use super::store::{
    Destination, Filter, Function, FunctionSetting, Invite, Label, Permission, PermissionResource,
    PublicStore, Role, Rule, SchemaSettings, Source, TrackSettings, TrackingPlan, TraitSettings,
    User, WorkspaceInfo,
};
use crate::sim::catalog::Catalog;
use crate::sim::generator::{BUILTIN_ROLES, role_id};
use crate::sim::rng::{BASE62, Rng};
use crate::sim::workspace::{
    FieldSets, FilterAction, FunctionKind, PolicyResource, SchemaConfig, Workspace,
};

/// Which workspace the Public simulator starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    #[default]
    Empty,
    Mirror,
    Partial,
}

impl Target {
    pub const ALL: [Target; 3] = [Target::Empty, Target::Mirror, Target::Partial];

    pub fn name(self) -> &'static str {
        match self {
            Target::Empty => "empty",
            Target::Mirror => "mirror",
            Target::Partial => "partial",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown target `{0}`: use empty, mirror or partial")]
pub struct UnknownTarget(String);

impl FromStr for Target {
    type Err = UnknownTarget;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Target::ALL
            .into_iter()
            .find(|t| t.name() == text.trim())
            .ok_or_else(|| UnknownTarget(text.to_owned()))
    }
}

/// A stable 64-bit seed from a string (FNV-1a), so ids depend on the workspace alone.
fn seed_of(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The built-in roles every workspace has.
pub fn builtin_roles() -> Vec<Role> {
    BUILTIN_ROLES
        .iter()
        .map(|(name, description)| Role {
            id: role_id(name),
            name: (*name).to_owned(),
            description: (*description).to_owned(),
        })
        .collect()
}

/// Builds the store for `target` from the generated workspace.
pub fn seed(target: Target, ws: &Workspace, catalog: &'static Catalog) -> PublicStore {
    match target {
        Target::Empty => empty(ws, catalog),
        Target::Mirror => mirror(ws, catalog),
        Target::Partial => partial(mirror(ws, catalog)),
    }
}

fn empty(ws: &Workspace, catalog: &'static Catalog) -> PublicStore {
    let mut rng = Rng::new(seed_of(&ws.id)).fork("public-empty");
    let info = WorkspaceInfo {
        id: rng.string(BASE62, 22),
        slug: format!("{}-target", ws.slug),
        name: format!("{} (target)", ws.display_name),
    };
    let mut store = PublicStore::new(catalog, info, rng.next_u64());
    store.roles = builtin_roles();
    store
}

fn traits(
    allow_unplanned: bool,
    allow_on_violations: bool,
    common: crate::sim::workspace::ViolationAction,
) -> TraitSettings {
    TraitSettings {
        allow_unplanned_traits: allow_unplanned,
        allow_traits_on_violations: allow_on_violations,
        common_event_on_violations: common,
    }
}

fn schema_settings(
    config: &SchemaConfig,
    id_of_slug: &dyn Fn(&str) -> Option<String>,
) -> SchemaSettings {
    SchemaSettings {
        track: TrackSettings {
            allow_unplanned_events: config.allow_unplanned_track_events,
            allow_unplanned_event_properties: config.allow_unplanned_track_event_properties,
            allow_event_on_violations: config.allow_track_event_on_violations,
            allow_properties_on_violations: config.allow_track_properties_on_violations,
            common_event_on_violations: config.common_track_event_on_violations,
        },
        identify: traits(
            config.allow_unplanned_identify_traits,
            config.allow_identify_traits_on_violations,
            config.common_identify_event_on_violations,
        ),
        group: traits(
            config.allow_unplanned_group_traits,
            config.allow_group_traits_on_violations,
            config.common_group_event_on_violations,
        ),
        forwarding_violations_to: id_of_slug(&config.forwarding_violations_to),
        forwarding_blocked_events_to: id_of_slug(&config.forwarding_blocked_events_to),
    }
}

fn fields_to_public(fields: &FieldSets) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|(section, list)| (section.clone(), json!(list)))
            .collect(),
    )
}

/// The Public spelling of a filter action (`drop_event` → `DROP`, …).
pub fn action_to_public(action: &FilterAction) -> Value {
    match action {
        FilterAction::DropEvent => json!({"type": "DROP"}),
        FilterAction::SampleEvent { percent, path } => {
            let mut out = Map::new();
            out.insert("type".into(), json!("SAMPLE"));
            out.insert("percent".into(), json!(percent));
            if let Some(path) = path {
                out.insert("path".into(), json!(path));
            }
            Value::Object(out)
        }
        FilterAction::AllowFields(fields) => {
            json!({"type": "ALLOW_PROPERTIES", "fields": fields_to_public(fields)})
        }
        FilterAction::BlockFields { fields, .. } => {
            json!({"type": "DROP_PROPERTIES", "fields": fields_to_public(fields)})
        }
    }
}

/// An event's description lives in its JSON Schema on the Public API (no separate field).
fn with_description(schema: &Value, description: &str) -> Value {
    let mut schema = schema.clone();
    if let Some(obj) = schema.as_object_mut()
        && !description.is_empty()
        && !obj.contains_key("description")
    {
        obj.insert("description".into(), json!(description));
    }
    schema
}

/// The Public spelling of a function setting type (`text-map` → `TEXT_MAP`).
pub fn function_setting_type(kind: &str) -> String {
    kind.to_uppercase().replace('-', "_")
}

fn mirror(ws: &Workspace, catalog: &'static Catalog) -> PublicStore {
    let rng = Rng::new(seed_of(&ws.id));
    let info = WorkspaceInfo {
        id: ws.id.clone(),
        slug: ws.slug.clone(),
        name: ws.display_name.clone(),
    };
    let mut store = PublicStore::new(catalog, info, rng.fork("public-api-ids").next_u64());
    store.roles = builtin_roles();
    // A workspace generated with roles of its own keeps them, so its grants still resolve.
    for role in &ws.roles {
        if !store.roles.iter().any(|r| r.id == role.id) {
            store.roles.push(Role {
                id: role.id.clone(),
                name: role.display_name.clone(),
                description: role.description.clone(),
            });
        }
    }

    store.functions = ws
        .functions
        .iter()
        .map(|f| Function {
            id: f.id.clone(),
            resource_type: match f.kind {
                FunctionKind::Source => "SOURCE",
                FunctionKind::Destination => "DESTINATION",
            }
            .to_owned(),
            // Destination functions show the workspace name appended (documented).
            display_name: match f.kind {
                FunctionKind::Source => f.display_name.clone(),
                FunctionKind::Destination => format!("{} ({})", f.display_name, ws.display_name),
            },
            description: f.description.clone(),
            code: f.code.clone(),
            settings: f
                .settings
                .iter()
                .map(|s| FunctionSetting {
                    name: s.name.clone(),
                    label: s.label.clone(),
                    description: s.description.clone(),
                    kind: function_setting_type(&s.kind),
                    required: s.required,
                    sensitive: s.sensitive,
                })
                .collect(),
            logo_url: f.logo_url.clone(),
            catalog_id: f.catalog_id.clone(),
            created_at: f.created_at.clone(),
            created_by: f.created_by.clone(),
            deployed_at: f.deployed.then(|| f.created_at.clone()),
            is_latest_version: f.deployed,
        })
        .collect();

    let mut ids = rng.fork("sources");
    let source_ids: Vec<(String, String)> = ws
        .sources
        .iter()
        .map(|s| (s.slug.clone(), ids.string(BASE62, 22)))
        .collect();
    let id_of_slug = |slug: &str| -> Option<String> {
        source_ids
            .iter()
            .find(|(s, _)| s == slug)
            .map(|(_, id)| id.clone())
    };
    let mut labels: Vec<Label> = Vec::new();
    let mut dest_ids = rng.fork("destinations");
    let mut filter_ids = rng.fork("filters");
    for (src, (_, id)) in ws.sources.iter().zip(&source_ids) {
        let (metadata_id, settings) = match &src.function_instance {
            Some(instance) => (
                ws.functions
                    .iter()
                    .find(|f| f.id == instance.function_id)
                    .map(|f| f.catalog_id.clone())
                    .unwrap_or_default(),
                instance.settings.iter().cloned().collect::<Map<_, _>>(),
            ),
            None => (
                catalog
                    .source(&src.catalog_slug)
                    .map(|c| c.public_id.clone())
                    .unwrap_or_default(),
                Map::new(),
            ),
        };
        let source_labels: Vec<Label> = src
            .labels
            .iter()
            .map(|(key, value)| Label {
                key: key.clone(),
                value: value.clone(),
                description: None,
            })
            .collect();
        for label in &source_labels {
            if !labels.iter().any(|l| l.same_key(label)) {
                labels.push(label.clone());
            }
        }
        store.sources.push(Source {
            id: id.clone(),
            slug: src.slug.clone(),
            name: src.display_name.clone(),
            metadata_id,
            enabled: true,
            write_keys: src.write_keys.clone(),
            settings,
            labels: source_labels,
            schema: schema_settings(&src.schema_config, &|slug| {
                (!slug.is_empty()).then(|| id_of_slug(slug)).flatten()
            }),
            created_at: src.create_time.clone(),
        });
        for dest in &src.destinations {
            let Some(item) = catalog.destination(&dest.catalog_slug) else {
                continue;
            };
            let dest_id = dest_ids.string(BASE62, 22);
            for f in &dest.filters {
                store.filters.push(Filter {
                    id: filter_ids.string(BASE62, 27),
                    destination_id: dest_id.clone(),
                    source_id: id.clone(),
                    condition: f.condition.clone(),
                    actions: f.actions.iter().map(action_to_public).collect(),
                    title: f.title.clone(),
                    description: Some(f.description.clone()),
                    enabled: f.enabled,
                    created_at: dest.create_time.clone(),
                    updated_at: dest.update_time.clone(),
                });
            }
            store.destinations.push(Destination {
                id: dest_id,
                source_id: id.clone(),
                metadata_id: item.public_id.clone(),
                name: Some(dest.instance_name.clone()),
                enabled: dest.enabled,
                settings: dest.config.iter().cloned().collect(),
                delivery: dest.delivery,
                created_at: dest.create_time.clone(),
                updated_at: dest.update_time.clone(),
            });
        }
    }
    store.labels = labels;

    let mut plan_ids = rng.fork("tracking-plans");
    for plan in &ws.tracking_plans {
        let at = plan.update_time.clone();
        let rule = |rule_type: &str, key: Option<String>, schema: Value, version: u64| Rule {
            rule_type: rule_type.to_owned(),
            key,
            json_schema: schema,
            version,
            created_at: plan.create_time.clone(),
            updated_at: at.clone(),
        };
        let mut rules: Vec<Rule> = plan
            .rules
            .events
            .iter()
            .map(|e| {
                rule(
                    "TRACK",
                    Some(e.name.clone()),
                    with_description(&e.rules, &e.description),
                    u64::from(e.version),
                )
            })
            .collect();
        for (rule_type, schema) in [
            ("COMMON", &plan.rules.global),
            ("IDENTIFY", &plan.rules.identify),
            ("GROUP", &plan.rules.group),
        ] {
            if let Some(schema) = schema {
                rules.push(rule(rule_type, None, schema.clone(), 1));
            }
        }
        store.tracking_plans.push(TrackingPlan {
            id: format!("tp_{}", plan_ids.string(BASE62, 27)),
            name: plan.display_name.clone(),
            slug: String::new(),
            description: String::new(),
            plan_type: "LIVE".into(),
            resource_schema_id: Some(plan.id.clone()),
            rules,
            source_ids: plan
                .source_slugs
                .iter()
                .filter_map(|slug| id_of_slug(slug))
                .collect(),
            created_at: plan.create_time.clone(),
            updated_at: plan.update_time.clone(),
        });
    }

    let resource = |resource: &PolicyResource| -> Option<PermissionResource> {
        match resource {
            PolicyResource::Workspace => Some(PermissionResource {
                id: ws.id.clone(),
                kind: "WORKSPACE".into(),
                labels: Vec::new(),
            }),
            PolicyResource::Source(slug) => id_of_slug(slug).map(|id| PermissionResource {
                id,
                kind: "SOURCE".into(),
                labels: Vec::new(),
            }),
            // Destination- and plan-scoped grants have no Public API equivalent.
            PolicyResource::Destination(..) | PolicyResource::TrackingPlan(_) => None,
        }
    };
    let merge = |permissions: &mut Vec<Permission>, role_id: &str, res: PermissionResource| {
        match permissions.iter_mut().find(|p| p.role_id == role_id) {
            Some(p) => {
                if !p.resources.contains(&res) {
                    p.resources.push(res);
                }
            }
            None => permissions.push(Permission {
                role_id: role_id.to_owned(),
                resources: vec![res],
                labels: Vec::new(),
            }),
        }
    };
    for user in &ws.users {
        let mut permissions = Vec::new();
        for policy in ws.policies.iter().filter(|p| p.user_id == user.id) {
            if let Some(res) = resource(&policy.resource) {
                merge(&mut permissions, &policy.role_id, res);
            }
        }
        store.users.push(User {
            id: user.id.clone(),
            name: user.display_name.clone(),
            email: user.email.clone(),
            permissions,
        });
    }
    for invite in &ws.invites {
        let mut permissions = Vec::new();
        for (role_id, res) in &invite.grants {
            if let Some(res) = resource(res) {
                merge(&mut permissions, role_id, res);
            }
        }
        store.invites.push(Invite {
            email: invite.email.clone(),
            permissions,
            created_at: invite.create_time.clone(),
        });
    }
    store
}

fn partial(mut store: PublicStore) -> PublicStore {
    let kept_sources: Vec<String> = store
        .sources
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 == 0)
        .map(|(_, s)| s.id.clone())
        .collect();
    let keep_source = |id: &str| kept_sources.iter().any(|k| k == id);
    store.sources.retain(|s| keep_source(&s.id));
    let mut per_source: std::collections::HashMap<String, usize> = Default::default();
    store.destinations.retain(|d| {
        if !keep_source(&d.source_id) {
            return false;
        }
        let n = per_source.entry(d.source_id.clone()).or_default();
        *n += 1;
        *n % 2 == 1
    });
    let kept_destinations: Vec<String> = store.destinations.iter().map(|d| d.id.clone()).collect();
    store
        .filters
        .retain(|f| kept_destinations.contains(&f.destination_id));
    store.tracking_plans.truncate(1);
    for plan in &mut store.tracking_plans {
        plan.source_ids.retain(|s| keep_source(s));
    }
    for source in &mut store.sources {
        let schema = &mut source.schema;
        if schema
            .forwarding_violations_to
            .as_deref()
            .is_some_and(|id| !keep_source(id))
        {
            schema.forwarding_violations_to = None;
        }
        if schema
            .forwarding_blocked_events_to
            .as_deref()
            .is_some_and(|id| !keep_source(id))
        {
            schema.forwarding_blocked_events_to = None;
        }
    }
    let used: Vec<String> = store
        .sources
        .iter()
        .map(|s| s.metadata_id.clone())
        .collect();
    let mut index = 0;
    store.functions.retain(|f| {
        index += 1;
        index % 2 == 1 || used.contains(&f.catalog_id)
    });
    let used_labels: Vec<Label> = store
        .sources
        .iter()
        .flat_map(|s| s.labels.clone())
        .collect();
    store
        .labels
        .retain(|l| used_labels.iter().any(|u| u.same_key(l)));
    // Grants on sources that are not in the subset go with them.
    for user in &mut store.users {
        for permission in &mut user.permissions {
            permission
                .resources
                .retain(|r| r.kind != "SOURCE" || keep_source(&r.id));
        }
        user.permissions.retain(|p| !p.resources.is_empty());
    }
    let mut index = 0;
    store.invites.retain(|_| {
        index += 1;
        index % 2 == 1
    });
    for invite in &mut store.invites {
        for permission in &mut invite.permissions {
            permission
                .resources
                .retain(|r| r.kind != "SOURCE" || keep_source(&r.id));
        }
    }
    store
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::generator::{Counts, Preset, generate};

    fn workspace() -> Workspace {
        generate(3, &Counts::preset(Preset::Small), Catalog::embedded())
    }

    #[test]
    fn targets_parse_and_print() {
        for target in Target::ALL {
            assert_eq!(target.name().parse::<Target>().unwrap(), target);
        }
        assert!("full".parse::<Target>().is_err());
        assert_eq!(Target::default(), Target::Empty);
    }

    #[test]
    fn empty_has_only_roles() {
        let ws = workspace();
        let store = seed(Target::Empty, &ws, Catalog::embedded());
        assert_eq!(store.roles.len(), BUILTIN_ROLES.len());
        assert!(store.sources.is_empty() && store.users.is_empty() && store.labels.is_empty());
        assert_ne!(store.workspace.id, ws.id);
    }

    #[test]
    fn mirror_keeps_every_object_with_its_own_ids() {
        let ws = workspace();
        let store = seed(Target::Mirror, &ws, Catalog::embedded());
        let counts = ws.counts();
        assert_eq!(store.sources.len(), counts["sources"]);
        assert_eq!(store.destinations.len(), counts["destinations"]);
        assert_eq!(store.filters.len(), counts["destination_filters"]);
        assert_eq!(store.tracking_plans.len(), counts["tracking_plans"]);
        let rules: usize = store.tracking_plans.iter().map(|p| p.rules.len()).sum();
        assert_eq!(rules, counts["tracking_plan_rules"]);
        assert_eq!(store.functions[0].id, ws.functions[0].id);
        assert_ne!(store.sources[0].id, ws.sources[0].id);
        assert_eq!(
            store.tracking_plans[0].resource_schema_id.as_deref(),
            Some(ws.tracking_plans[0].id.as_str())
        );
        assert!(store.duplicate_natural_keys().values().all(|n| *n == 0));
        // Same workspace, same ids.
        let again = seed(Target::Mirror, &ws, Catalog::embedded());
        assert_eq!(again.sources[3].id, store.sources[3].id);
        assert_eq!(
            again.filters.last().unwrap().id,
            store.filters.last().unwrap().id
        );
    }

    #[test]
    fn partial_is_a_consistent_subset_of_mirror() {
        let ws = workspace();
        let mirror = seed(Target::Mirror, &ws, Catalog::embedded());
        let store = seed(Target::Partial, &ws, Catalog::embedded());
        assert_eq!(store.sources.len(), mirror.sources.len().div_ceil(3));
        assert!(store.destinations.len() < mirror.destinations.len());
        assert_eq!(store.tracking_plans.len(), 1);
        for dest in &store.destinations {
            assert!(store.source(&dest.source_id).is_ok());
            assert!(mirror.destinations.iter().any(|d| d.id == dest.id));
        }
        for filter in &store.filters {
            assert!(store.destination_index(&filter.destination_id).is_ok());
        }
        for plan in &store.tracking_plans {
            for id in &plan.source_ids {
                assert!(store.source(id).is_ok());
            }
        }
    }
}
