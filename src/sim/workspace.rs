//! The simulators' neutral model of a Segment workspace.
//!
//! The generator produces a [`Workspace`]; each simulator seeds its own store from it and renders
//! it in its own wire shape (snake_case names for the Config API, camelCase ids for the Public
//! API). Keeping this model free of either wire format is what lets the Public simulator start
//! as a `mirror` of the same workspace with its own ids.
//!
//! Identity: sources are keyed by slug, destinations by (source slug, instance slug), filters by
//! their `df_` id, tracking plans by their `rs_` id, functions, roles, users, policies and invites
//! by their ids. Order inside every `Vec` is meaningful (it is the order the API lists them in,
//! and for filters the order in which they apply).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// RFC 3339 UTC timestamp with millisecond precision, as the Config API returns them.
pub type Timestamp = String;

#[derive(Debug, Clone, Serialize)]
pub struct Workspace {
    /// The URL slug (`workspaces/{slug}` on the Config API, `slug` on the Public API).
    pub slug: String,
    /// The opaque 10-character workspace id (functions are addressed by it on the Config API).
    pub id: String,
    pub display_name: String,
    pub create_time: Timestamp,
    pub sources: Vec<Source>,
    pub tracking_plans: Vec<TrackingPlan>,
    pub functions: Vec<Function>,
    pub roles: Vec<Role>,
    pub users: Vec<User>,
    pub policies: Vec<Policy>,
    pub invites: Vec<Invite>,
    pub access_tokens: Vec<AccessToken>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Source {
    pub slug: String,
    /// Opaque source id (Config API `id`; the Public mirror uses its own ids).
    pub id: String,
    pub display_name: String,
    /// Slug of the source catalog item (`catalog/sources/{catalog_slug}`).
    pub catalog_slug: String,
    /// 32 alphanumeric characters each.
    pub write_keys: Vec<String>,
    pub library_config: LibraryConfig,
    /// Label key → value; order is the order the user added them.
    pub labels: Vec<(String, String)>,
    pub schema_config: SchemaConfig,
    /// Set when this source is an instance of a source function.
    pub function_instance: Option<FunctionInstance>,
    pub destinations: Vec<Destination>,
    pub create_time: Timestamp,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LibraryConfig {
    pub metrics_enabled: bool,
    pub retry_queue: bool,
    pub cross_domain_id_enabled: bool,
    pub api_host: String,
}

/// What a tracking plan does with events that violate it (`common_*_on_violations`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ViolationAction {
    Allow,
    /// `OMIT_PROPERTIES` for track events, `OMIT_TRAITS` for identify and group calls.
    Omit,
    Block,
}

/// Protocols schema configuration of a source (`.../schema-config`).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SchemaConfig {
    pub allow_unplanned_track_events: bool,
    pub allow_unplanned_identify_traits: bool,
    pub allow_unplanned_group_traits: bool,
    /// Source slug receiving blocked events, or empty.
    pub forwarding_blocked_events_to: String,
    pub allow_unplanned_track_event_properties: bool,
    pub allow_track_event_on_violations: bool,
    pub allow_identify_traits_on_violations: bool,
    pub allow_group_traits_on_violations: bool,
    /// Source slug receiving violations, or empty.
    pub forwarding_violations_to: String,
    pub allow_track_properties_on_violations: bool,
    pub common_track_event_on_violations: ViolationAction,
    pub common_identify_event_on_violations: ViolationAction,
    pub common_group_event_on_violations: ViolationAction,
}

impl Default for SchemaConfig {
    /// The defaults a source has before anyone touches Protocols.
    fn default() -> Self {
        Self {
            allow_unplanned_track_events: true,
            allow_unplanned_identify_traits: true,
            allow_unplanned_group_traits: true,
            forwarding_blocked_events_to: String::new(),
            allow_unplanned_track_event_properties: true,
            allow_track_event_on_violations: false,
            allow_identify_traits_on_violations: true,
            allow_group_traits_on_violations: true,
            forwarding_violations_to: String::new(),
            allow_track_properties_on_violations: true,
            common_track_event_on_violations: ViolationAction::Allow,
            common_identify_event_on_violations: ViolationAction::Allow,
            common_group_event_on_violations: ViolationAction::Allow,
        }
    }
}

/// A source that runs a source function, with the values of the function's settings.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionInstance {
    pub function_id: String,
    /// Setting name → value. Values of `sensitive` settings are secrets.
    pub settings: Vec<(String, Value)>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConnectionMode {
    Cloud,
    Device,
    Unspecified,
}

/// A destination instance on a source.
#[derive(Debug, Clone, Serialize)]
pub struct Destination {
    /// The last segment of the Config API name. The first instance of an integration on a source
    /// uses the catalog slug itself (documented); further instances use `{catalog_slug}-{n}`
    /// with n = 2, 3, … (INFERRED: the Config API's naming of extra instances is undocumented).
    pub slug: String,
    pub catalog_slug: String,
    /// The Public API instance name; the Config API only shows the catalog display name.
    pub instance_name: String,
    pub enabled: bool,
    pub connection_mode: ConnectionMode,
    /// Settings that were set explicitly, by catalog setting name, in catalog order. Settings not
    /// listed here read back as their type's empty value. Values of PASSWORD settings are secrets.
    pub config: Vec<(String, Value)>,
    /// Filters in the order they apply.
    pub filters: Vec<Filter>,
    pub delivery: DeliveryMetrics,
    pub create_time: Timestamp,
    pub update_time: Timestamp,
}

/// Event delivery figures of a destination over the simulated reporting window.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct DeliveryMetrics {
    pub delivered: u64,
    pub not_delivered: u64,
    pub p95_latency_ms: u64,
}

/// A destination filter (`df_` + 27 characters).
#[derive(Debug, Clone, Serialize)]
pub struct Filter {
    pub id: String,
    pub title: String,
    pub description: String,
    /// The FQL condition (`if` on the wire).
    pub condition: String,
    pub enabled: bool,
    pub actions: Vec<FilterAction>,
}

/// Field lists by event section (`properties`, `context`, `traits`).
pub type FieldSets = BTreeMap<String, Vec<String>>;

#[derive(Debug, Clone, Serialize)]
pub enum FilterAction {
    DropEvent,
    SampleEvent {
        /// 0.0–1.0.
        percent: f64,
        path: Option<String>,
    },
    /// `whitelist_fields` on the Config API, `ALLOW_PROPERTIES` on the Public API.
    AllowFields(FieldSets),
    /// `blacklist_fields` (or the newer spelling `blocklist_fields`, kept as written) on the
    /// Config API, `DROP_PROPERTIES` on the Public API.
    BlockFields {
        spelling: BlockSpelling,
        fields: FieldSets,
    },
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub enum BlockSpelling {
    Blacklist,
    Blocklist,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrackingPlan {
    /// `rs_` + 27 characters (the Config API id; the Public mirror exposes it as
    /// `resourceSchemaId` next to its own `tp_` id).
    pub id: String,
    pub display_name: String,
    pub rules: TrackingPlanRules,
    /// Slugs of the connected sources (a source is in at most one plan).
    pub source_slugs: Vec<String>,
    pub create_time: Timestamp,
    pub update_time: Timestamp,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct TrackingPlanRules {
    /// Track events; several entries may share a name with different versions.
    pub events: Vec<EventRule>,
    /// JSON Schemas applying to all calls, identify calls and group calls; omitted when unset.
    pub global: Option<Value>,
    pub identify: Option<Value>,
    pub group: Option<Value>,
    /// Legacy arrays, almost always empty in real responses.
    pub identify_traits: Vec<Value>,
    pub group_traits: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EventRule {
    pub name: String,
    pub description: String,
    pub version: u32,
    /// The JSON Schema of the whole event (`properties.{context,properties,traits}`).
    pub rules: Value,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FunctionKind {
    Source,
    Destination,
}

#[derive(Debug, Clone, Serialize)]
pub struct Function {
    /// `sfnc_…` for source functions, `dfn_…` for destination functions (INFERRED prefixes).
    pub id: String,
    pub kind: FunctionKind,
    pub display_name: String,
    pub description: String,
    pub code: String,
    pub settings: Vec<FunctionSetting>,
    pub logo_url: String,
    /// The catalog id its instances use as their metadata id.
    pub catalog_id: String,
    pub created_at: Timestamp,
    /// A user id.
    pub created_by: String,
    /// Whether the latest code is deployed (`is-latest-version`).
    pub deployed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct FunctionSetting {
    pub name: String,
    pub label: String,
    /// `string`, `boolean`, `text-map` or `array` (Config API spelling).
    pub kind: String,
    pub description: String,
    pub required: bool,
    pub sensitive: bool,
}

/// An IAM role (27-character KSUID id).
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    pub id: String,
    pub display_name: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub display_name: String,
}

/// What an IAM policy or invite grants access to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum PolicyResource {
    Workspace,
    Source(String),
    /// Scoped to one destination (source slug, destination slug): no Public API equivalent.
    Destination(String, String),
    /// Scoped to one tracking plan (`rs_` id): no Public API equivalent.
    TrackingPlan(String),
}

/// A role granted to a user on a resource.
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub id: String,
    pub role_id: String,
    pub user_id: String,
    pub resource: PolicyResource,
}

#[derive(Debug, Clone, Serialize)]
pub struct Invite {
    pub id: String,
    pub email: String,
    /// (role id, resource) pairs granted when the invite is accepted.
    pub grants: Vec<(String, PolicyResource)>,
    pub create_time: Timestamp,
    pub expire_time: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct AccessToken {
    /// `access-tokens/{number}`.
    pub number: u32,
    pub description: String,
    /// `workspace` or `workspace:read`.
    pub scopes: String,
    pub create_time: Timestamp,
}

/// The resource kinds the simulators count in `/_sim/stats` and the exporter reports. One name
/// per kind, shared by both sides so their counts can be compared mechanically.
pub const KINDS: &[&str] = &[
    "workspaces",
    "access_tokens",
    "catalog_sources",
    "catalog_destinations",
    "sources",
    "schema_configs",
    "destinations",
    "destination_filters",
    "tracking_plans",
    "tracking_plan_rules",
    "tracking_plan_connections",
    "roles",
    "policies",
    "invites",
    "users",
    "functions",
    "delivery_metrics",
];

impl Workspace {
    pub fn source(&self, slug: &str) -> Option<&Source> {
        self.sources.iter().find(|s| s.slug == slug)
    }

    pub fn destinations(&self) -> impl Iterator<Item = (&Source, &Destination)> {
        self.sources
            .iter()
            .flat_map(|s| s.destinations.iter().map(move |d| (s, d)))
    }

    /// Counts per kind of the workspace's own resources (the catalogs are counted by the
    /// simulators, which know which catalog they serve). Rules count every event version plus
    /// each `global`/`identify`/`group` schema that is set.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let destinations = self.destinations().count();
        let filters = self.destinations().map(|(_, d)| d.filters.len()).sum();
        let rules = self
            .tracking_plans
            .iter()
            .map(|p| {
                p.rules.events.len()
                    + usize::from(p.rules.global.is_some())
                    + usize::from(p.rules.identify.is_some())
                    + usize::from(p.rules.group.is_some())
            })
            .sum();
        let connections = self
            .tracking_plans
            .iter()
            .map(|p| p.source_slugs.len())
            .sum();
        BTreeMap::from([
            ("workspaces", 1),
            ("access_tokens", self.access_tokens.len()),
            ("sources", self.sources.len()),
            ("schema_configs", self.sources.len()),
            ("destinations", destinations),
            ("destination_filters", filters),
            ("tracking_plans", self.tracking_plans.len()),
            ("tracking_plan_rules", rules),
            ("tracking_plan_connections", connections),
            ("roles", self.roles.len()),
            ("policies", self.policies.len()),
            ("invites", self.invites.len()),
            ("users", self.users.len()),
            ("functions", self.functions.len()),
            ("delivery_metrics", destinations),
        ])
    }
}
