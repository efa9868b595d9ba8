//! The Public simulator's state: one workspace as the Public API models it (opaque ids,
//! destinations and filters as top-level objects pointing at their source, rules inside plans,
//! labels, user groups and permissions), the token it accepts, and the lookups handlers share.
//!
//! The store is separate from the neutral [`Workspace`](crate::sim::workspace::Workspace): the
//! Public API has objects the Config API never had (labels as their own resource, user groups,
//! permissions, regulations, rule types) and addresses everything by its own ids, so it is seeded
//! from the neutral model once ([`super::seed`]) and then evolves on its own.
//!
//! Invariants: a destination's `source_id` names a source of the store, a filter's
//! `destination_id` a destination, a plan's `source_ids` sources, each in at most one plan;
//! deleting a source deletes its destinations, their filters and its plan connection. Handlers
//! lock the store for one request and never across an `.await`.

use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value, json};

use super::error::{ApiError, ApiResult};
use super::wire;
use crate::sim::catalog::Catalog;
use crate::sim::rng::{BASE62, Rng};
use crate::sim::workspace::{DeliveryMetrics, ViolationAction};

/// The token's workspace (`GET /`).
#[derive(Debug, Clone)]
pub struct WorkspaceInfo {
    pub id: String,
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub key: String,
    pub value: String,
    pub description: Option<String>,
}

impl Label {
    pub fn same_key(&self, other: &Label) -> bool {
        self.key == other.key && self.value == other.value
    }
}

/// Track-event schema settings of a source (`settings.track`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSettings {
    pub allow_unplanned_events: bool,
    pub allow_unplanned_event_properties: bool,
    pub allow_event_on_violations: bool,
    pub allow_properties_on_violations: bool,
    pub common_event_on_violations: ViolationAction,
}

/// Identify or group schema settings of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraitSettings {
    pub allow_unplanned_traits: bool,
    pub allow_traits_on_violations: bool,
    pub common_event_on_violations: ViolationAction,
}

/// `GET|PATCH /sources/{id}/settings`; forwarding targets are Public source ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaSettings {
    pub track: TrackSettings,
    pub identify: TraitSettings,
    pub group: TraitSettings,
    pub forwarding_violations_to: Option<String>,
    pub forwarding_blocked_events_to: Option<String>,
}

impl Default for SchemaSettings {
    /// What a new source reads before anyone touches Protocols: everything allowed.
    fn default() -> Self {
        let traits = TraitSettings {
            allow_unplanned_traits: true,
            allow_traits_on_violations: true,
            common_event_on_violations: ViolationAction::Allow,
        };
        Self {
            track: TrackSettings {
                allow_unplanned_events: true,
                allow_unplanned_event_properties: true,
                allow_event_on_violations: true,
                allow_properties_on_violations: true,
                common_event_on_violations: ViolationAction::Allow,
            },
            identify: traits.clone(),
            group: traits,
            forwarding_violations_to: None,
            forwarding_blocked_events_to: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Source {
    pub id: String,
    pub slug: String,
    pub name: String,
    /// A source catalog id, or the `catalogId` of a source function for function instances.
    pub metadata_id: String,
    pub enabled: bool,
    pub write_keys: Vec<String>,
    /// Instance settings; for a function instance, its setting values (sensitive ones secret).
    pub settings: Map<String, Value>,
    pub labels: Vec<Label>,
    pub schema: SchemaSettings,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct Destination {
    pub id: String,
    pub source_id: String,
    /// A destination catalog id.
    pub metadata_id: String,
    pub name: Option<String>,
    pub enabled: bool,
    /// Settings as set, by catalog option name. PASSWORD values are secrets.
    pub settings: Map<String, Value>,
    pub delivery: DeliveryMetrics,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct Filter {
    pub id: String,
    pub destination_id: String,
    pub source_id: String,
    pub condition: String,
    /// `DestinationFilterActionV1` objects, as validated against the schema.
    pub actions: Vec<Value>,
    pub title: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub rule_type: String,
    pub key: Option<String>,
    pub json_schema: Value,
    pub version: u64,
    pub created_at: String,
    pub updated_at: String,
}

impl Rule {
    /// The identity rules are upserted and removed by.
    pub fn identity(&self) -> (&str, Option<&str>, u64) {
        (&self.rule_type, self.key.as_deref(), self.version)
    }
}

#[derive(Debug, Clone)]
pub struct TrackingPlan {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub description: String,
    pub plan_type: String,
    /// The Config-era `rs_` id of a plan that existed before the Public API (undocumented field
    /// that typewriter reads).
    pub resource_schema_id: Option<String>,
    pub rules: Vec<Rule>,
    pub source_ids: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionResource {
    pub id: String,
    /// `WORKSPACE`, `SOURCE`, `FUNCTION`, `WAREHOUSE` or `SPACE`.
    pub kind: String,
    pub labels: Vec<Label>,
}

/// A role granted on resources (users, groups) or promised by an invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub role_id: String,
    pub resources: Vec<PermissionResource>,
    /// Invite permissions carry labels beside the resources.
    pub labels: Vec<Label>,
}

#[derive(Debug, Clone)]
pub struct Role {
    pub id: String,
    pub name: String,
    pub description: String,
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub name: String,
    pub email: String,
    pub permissions: Vec<Permission>,
}

#[derive(Debug, Clone)]
pub struct Invite {
    pub email: String,
    pub permissions: Vec<Permission>,
    pub created_at: String,
}

#[derive(Debug, Clone)]
pub struct Group {
    pub id: String,
    pub name: String,
    /// Member emails: users, or pending invitees.
    pub members: Vec<String>,
    pub permissions: Vec<Permission>,
}

#[derive(Debug, Clone)]
pub struct FunctionSetting {
    pub name: String,
    pub label: String,
    pub description: String,
    /// `STRING`, `BOOLEAN`, `ARRAY` or `TEXT_MAP`.
    pub kind: String,
    pub required: bool,
    pub sensitive: bool,
}

#[derive(Debug, Clone)]
pub struct Function {
    pub id: String,
    pub resource_type: String,
    pub display_name: String,
    pub description: String,
    pub code: String,
    pub settings: Vec<FunctionSetting>,
    pub logo_url: String,
    pub catalog_id: String,
    pub created_at: String,
    pub created_by: String,
    pub deployed_at: Option<String>,
    /// Whether the deployed code is the current code.
    pub is_latest_version: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegulationScope {
    Workspace,
    Source(String),
    CloudSource(String),
}

#[derive(Debug, Clone)]
pub struct Regulation {
    pub id: String,
    pub scope: RegulationScope,
    pub regulation_type: String,
    pub subject_type: String,
    pub subject_ids: Vec<String>,
    pub collection: Option<String>,
    pub created_at: String,
}

pub struct PublicStore {
    pub catalog: &'static Catalog,
    pub workspace: WorkspaceInfo,
    pub sources: Vec<Source>,
    pub destinations: Vec<Destination>,
    pub filters: Vec<Filter>,
    pub tracking_plans: Vec<TrackingPlan>,
    pub labels: Vec<Label>,
    pub roles: Vec<Role>,
    pub users: Vec<User>,
    pub invites: Vec<Invite>,
    pub groups: Vec<Group>,
    pub functions: Vec<Function>,
    pub regulations: Vec<Regulation>,
    /// Draws ids for objects created through the API.
    ids: Rng,
}

/// 32 alphanumeric characters, like real write keys.
pub const WRITE_KEY_LEN: usize = 32;

impl PublicStore {
    pub fn new(catalog: &'static Catalog, workspace: WorkspaceInfo, id_seed: u64) -> Self {
        Self {
            catalog,
            workspace,
            sources: Vec::new(),
            destinations: Vec::new(),
            filters: Vec::new(),
            tracking_plans: Vec::new(),
            labels: Vec::new(),
            roles: Vec::new(),
            users: Vec::new(),
            invites: Vec::new(),
            groups: Vec::new(),
            functions: Vec::new(),
            regulations: Vec::new(),
            ids: Rng::new(id_seed),
        }
    }

    /// A new id: `prefix` and `len` base62 characters.
    pub fn new_id(&mut self, prefix: &str, len: usize) -> String {
        format!("{prefix}{}", self.ids.string(BASE62, len))
    }

    pub fn source_index(&self, id: &str) -> ApiResult<usize> {
        self.sources
            .iter()
            .position(|s| s.id == id)
            .ok_or_else(ApiError::not_found)
    }

    pub fn source(&self, id: &str) -> ApiResult<&Source> {
        Ok(&self.sources[self.source_index(id)?])
    }

    pub fn destination_index(&self, id: &str) -> ApiResult<usize> {
        self.destinations
            .iter()
            .position(|d| d.id == id)
            .ok_or_else(ApiError::not_found)
    }

    pub fn plan_index(&self, id: &str) -> ApiResult<usize> {
        self.tracking_plans
            .iter()
            .position(|p| p.id == id)
            .ok_or_else(ApiError::not_found)
    }

    pub fn function_index(&self, id: &str) -> ApiResult<usize> {
        self.functions
            .iter()
            .position(|f| f.id == id)
            .ok_or_else(ApiError::not_found)
    }

    pub fn group_index(&self, id: &str) -> ApiResult<usize> {
        self.groups
            .iter()
            .position(|g| g.id == id)
            .ok_or_else(ApiError::not_found)
    }

    pub fn user_index(&self, id: &str) -> ApiResult<usize> {
        self.users
            .iter()
            .position(|u| u.id == id)
            .ok_or_else(ApiError::not_found)
    }

    /// The function a source instance or destination runs, by its catalog id.
    pub fn function_by_catalog_id(&self, catalog_id: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.catalog_id == catalog_id)
    }

    /// The plan a source is connected to.
    pub fn plan_of_source(&self, source_id: &str) -> Option<&TrackingPlan> {
        self.tracking_plans
            .iter()
            .find(|p| p.source_ids.iter().any(|s| s == source_id))
    }

    /// Removes a source and everything that hangs off it (destinations, their filters, its plan
    /// connection, forwarding that pointed at it), as the app does.
    pub fn delete_source(&mut self, id: &str) -> ApiResult<()> {
        let index = self.source_index(id)?;
        self.sources.remove(index);
        let gone: HashSet<String> = self
            .destinations
            .iter()
            .filter(|d| d.source_id == id)
            .map(|d| d.id.clone())
            .collect();
        self.destinations.retain(|d| d.source_id != id);
        self.filters.retain(|f| !gone.contains(&f.destination_id));
        for plan in &mut self.tracking_plans {
            plan.source_ids.retain(|s| s != id);
        }
        for source in &mut self.sources {
            let schema = &mut source.schema;
            if schema.forwarding_violations_to.as_deref() == Some(id) {
                schema.forwarding_violations_to = None;
            }
            if schema.forwarding_blocked_events_to.as_deref() == Some(id) {
                schema.forwarding_blocked_events_to = None;
            }
        }
        Ok(())
    }

    /// Resource counts per kind, in the kind names of [`crate::sim::workspace::KINDS`] plus
    /// `labels`, `groups`, `permissions` (users' and groups' role grants) and `regulations`.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let rules = self.tracking_plans.iter().map(|p| p.rules.len()).sum();
        let connections = self.tracking_plans.iter().map(|p| p.source_ids.len()).sum();
        let permissions = self
            .users
            .iter()
            .map(|u| u.permissions.len())
            .chain(self.groups.iter().map(|g| g.permissions.len()))
            .sum();
        BTreeMap::from([
            ("workspaces", 1),
            ("catalog_sources", self.catalog.sources.len()),
            ("catalog_destinations", self.catalog.destinations.len()),
            ("sources", self.sources.len()),
            ("schema_configs", self.sources.len()),
            ("destinations", self.destinations.len()),
            ("destination_filters", self.filters.len()),
            ("tracking_plans", self.tracking_plans.len()),
            ("tracking_plan_rules", rules),
            ("tracking_plan_connections", connections),
            ("roles", self.roles.len()),
            ("invites", self.invites.len()),
            ("users", self.users.len()),
            ("functions", self.functions.len()),
            ("delivery_metrics", self.destinations.len()),
            ("labels", self.labels.len()),
            ("groups", self.groups.len()),
            ("permissions", permissions),
            ("regulations", self.regulations.len()),
        ])
    }

    /// How many objects share a natural key with an earlier one, per kind: the keys an importer
    /// reconciles on after a crash (source slug; destination source+metadata+name; tracking plan
    /// name; filter destination+title+if; function displayName; label key+value; invite email;
    /// rule plan+type+key+version). Every kind is present, even at zero.
    pub fn duplicate_natural_keys(&self) -> BTreeMap<&'static str, usize> {
        fn dupes(keys: impl Iterator<Item = String>) -> usize {
            let mut seen = HashSet::new();
            keys.filter(|k| !seen.insert(k.clone())).count()
        }
        BTreeMap::from([
            (
                "sources",
                dupes(self.sources.iter().map(|s| s.slug.clone())),
            ),
            (
                "destinations",
                dupes(self.destinations.iter().map(|d| {
                    format!(
                        "{}|{}|{}",
                        d.source_id,
                        d.metadata_id,
                        d.name.as_deref().unwrap_or("")
                    )
                })),
            ),
            (
                "tracking_plans",
                dupes(self.tracking_plans.iter().map(|p| p.name.clone())),
            ),
            (
                "destination_filters",
                dupes(
                    self.filters
                        .iter()
                        .map(|f| format!("{}|{}|{}", f.destination_id, f.title, f.condition)),
                ),
            ),
            (
                "functions",
                dupes(self.functions.iter().map(|f| f.display_name.clone())),
            ),
            (
                "labels",
                dupes(self.labels.iter().map(|l| format!("{}|{}", l.key, l.value))),
            ),
            (
                "invites",
                dupes(self.invites.iter().map(|i| i.email.clone())),
            ),
            (
                "tracking_plan_rules",
                dupes(self.tracking_plans.iter().flat_map(|p| {
                    p.rules.iter().map(move |r| {
                        format!(
                            "{}|{}|{}|{}",
                            p.id,
                            r.rule_type,
                            r.key.as_deref().unwrap_or(""),
                            r.version
                        )
                    })
                })),
            ),
        ])
    }

    /// Every secret value the store holds: PASSWORD destination settings and sensitive
    /// function-instance settings (for leak tests; never served by the API itself).
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets = Vec::new();
        for dest in &self.destinations {
            for (name, value) in &dest.settings {
                if let (true, Some(s)) = (wire::is_secret_setting(self, dest, name), value.as_str())
                {
                    secrets.push(s.to_owned());
                }
            }
        }
        for source in &self.sources {
            for (name, value) in &source.settings {
                if let (true, Some(s)) = (
                    wire::is_sensitive_source_setting(self, source, name),
                    value.as_str(),
                ) {
                    secrets.push(s.to_owned());
                }
            }
        }
        secrets.retain(|s| !s.is_empty());
        secrets.sort();
        secrets.dedup();
        secrets
    }

    /// Every object in Public wire form (secrets masked, as the API serves them), keyed by kind
    /// and id, plus `secrets`: the clear values the store holds.
    pub fn state_json(&self) -> Value {
        let mut kinds: BTreeMap<&'static str, Map<String, Value>> = BTreeMap::new();
        let mut put = |kind: &'static str, key: String, value: Value| {
            kinds.entry(kind).or_default().insert(key, value);
        };
        put(
            "workspaces",
            self.workspace.id.clone(),
            wire::workspace(&self.workspace),
        );
        for source in &self.sources {
            put("sources", source.id.clone(), wire::source(self, source));
            put(
                "schema_configs",
                source.id.clone(),
                wire::schema_settings_output(&source.id, &source.schema),
            );
        }
        for dest in &self.destinations {
            put(
                "destinations",
                dest.id.clone(),
                wire::destination(self, dest),
            );
            put(
                "delivery_metrics",
                dest.id.clone(),
                wire::delivery_metrics(dest),
            );
        }
        for filter in &self.filters {
            put(
                "destination_filters",
                filter.id.clone(),
                wire::filter(filter),
            );
        }
        for plan in &self.tracking_plans {
            put("tracking_plans", plan.id.clone(), wire::tracking_plan(plan));
            for rule in &plan.rules {
                let key = format!(
                    "{}/{}/{}/{}",
                    plan.id,
                    rule.rule_type,
                    rule.key.as_deref().unwrap_or(""),
                    rule.version
                );
                put("tracking_plan_rules", key, wire::rule(rule));
            }
            for source_id in &plan.source_ids {
                put(
                    "tracking_plan_connections",
                    format!("{}/{source_id}", plan.id),
                    json!({"trackingPlanId": plan.id, "sourceId": source_id}),
                );
            }
        }
        for label in &self.labels {
            put(
                "labels",
                format!("{}:{}", label.key, label.value),
                wire::label(label),
            );
        }
        for role in &self.roles {
            put("roles", role.id.clone(), wire::role(role));
        }
        for user in &self.users {
            put("users", user.id.clone(), wire::user(self, user));
        }
        for (index, invite) in self.invites.iter().enumerate() {
            // Invites have no id; the same email may be invited twice by a careless client.
            put(
                "invites",
                format!("{}#{index}", invite.email),
                wire::invite(self, invite),
            );
        }
        for group in &self.groups {
            put("groups", group.id.clone(), wire::group(self, group));
        }
        for function in &self.functions {
            put("functions", function.id.clone(), wire::function(function));
        }
        for regulation in &self.regulations {
            put(
                "regulations",
                regulation.id.clone(),
                wire::regulation_entry(regulation),
            );
        }
        let mut out: Map<String, Value> = kinds
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::Object(v)))
            .collect();
        out.insert("secrets".into(), json!(self.secrets()));
        Value::Object(out)
    }
}
