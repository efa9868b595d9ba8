//! The mapping layer: pure translation of exported Config API objects into Public API payloads
//! and compatibility findings, driven by the tables in `mappings/` ([`Tables`]).
//!
//! Role: the planner hands in a snapshot object (the JSON the Config API returned, secrets
//! already replaced by markers, see [`crate::secrets`]) and a [`Context`] (tables, the target
//! catalog, roles and workspace id, the ids already known); it gets back a [`Mapped`]: the
//! requests that would recreate the object ([`Payload`]s, in the order they must be sent) and
//! the [`Finding`]s a person must read. [`map_workspace`] does a whole snapshot; the modules
//! below do one kind each, for a planner that works object by object.
//!
//! Invariants:
//! - No I/O, no async, no ledger, no clock: equal inputs give equal outputs, so a plan can be
//!   recomputed and compared.
//! - Nothing is guessed silently. An id that only exists at apply time is a `$ref` marker
//!   (see [`Payload`]), a secret is a `$secret` marker, and every choice the export does not
//!   settle (an integration found only through previous names, a function instance recognised
//!   by its setting names) is a finding.
//! - A secret marker of the snapshot never reaches a payload, and a masked value is never
//!   copied: both become `$secret` placeholders plus a `manual` finding.
//! - A malformed object is a `blocker` finding on that object, never a panic or an error that
//!   stops the rest of the workspace.
//! - Payload bodies follow the request schemas of the Public API (tests validate every payload
//!   of a large generated workspace against them).

pub mod catalog;
mod context;
pub mod delivery_metrics;
pub mod destinations;
pub mod docs;
pub mod filters;
mod findings;
pub mod functions;
pub mod iam;
mod payload;
pub mod sources;
pub mod tables;
pub mod tracking_plans;
pub mod workspace;

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;

use crate::model::Kind;

pub use context::{
    CatalogItem, CatalogItemError, Context, ExportedFunction, TargetCatalog, TargetRole,
};
pub use delivery_metrics::DeliveryBaseline;
pub use findings::{Finding, FindingCode, Severity};
pub use payload::{
    Condition, IdMap, Payload, Records, Ref, RefField, Request, SecretRef, SecretState, Step,
    Unresolved, ref_marker, resolve_value, secret_marker, secrets_in,
};
pub use tables::{Tables, TablesError};

/// The translation of one Config object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mapped {
    pub kind: Kind,
    pub config_name: String,
    /// Requests to send, in order (a later one may refer to what an earlier one creates).
    pub payloads: Vec<Payload>,
    pub findings: Vec<Finding>,
    /// For objects that are matched rather than created (workspace, catalog items, roles): the
    /// Public id they correspond to, when found.
    pub resolved_id: Option<String>,
    /// For delivery metrics: the figures the audit compares against after cut-over.
    pub baseline: Option<DeliveryBaseline>,
}

impl Mapped {
    pub fn new(kind: Kind, config_name: impl Into<String>) -> Mapped {
        Mapped {
            kind,
            config_name: config_name.into(),
            payloads: Vec::new(),
            findings: Vec::new(),
            resolved_id: None,
            baseline: None,
        }
    }

    /// Records a finding about this object.
    pub fn find(&mut self, code: FindingCode, field: Option<&str>, message: impl Into<String>) {
        self.findings.push(Finding {
            code,
            severity: code.severity(),
            kind: self.kind,
            config_name: self.config_name.clone(),
            field: field.map(str::to_owned),
            message: message.into(),
        });
    }

    /// Records that a field the mapping needs is missing or has the wrong type.
    fn malformed(&mut self, field: &str, expected: &str) {
        self.find(
            FindingCode::ObjectMalformed,
            Some(field),
            format!("The exported object has no {expected} `{field}`, so it cannot be mapped."),
        );
    }

    /// True when some finding blocks this object.
    pub fn is_blocked(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == Severity::Blocker)
    }
}

/// The exported objects of one workspace, by kind, each list in export (API) order.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub objects: BTreeMap<Kind, Vec<(String, Value)>>,
}

impl Snapshot {
    pub fn push(&mut self, kind: Kind, config_name: impl Into<String>, body: Value) {
        self.objects
            .entry(kind)
            .or_default()
            .push((config_name.into(), body));
    }

    pub fn of(&self, kind: Kind) -> &[(String, Value)] {
        self.objects.get(&kind).map_or(&[], Vec::as_slice)
    }

    /// The exported functions, as the context needs them.
    pub fn functions(&self) -> Vec<ExportedFunction> {
        self.of(Kind::Functions)
            .iter()
            .filter_map(|(_, body)| ExportedFunction::from_config(body))
            .collect()
    }
}

/// Maps a whole snapshot, in the order the objects must be created in a new workspace
/// (sources, schema settings, tracking plans, connections, functions, destinations, filters,
/// IAM), then the kinds that create nothing.
pub fn map_workspace(snapshot: &Snapshot, ctx: &Context<'_>) -> Vec<Mapped> {
    let mut out = Vec::new();
    let each = |kind: Kind, out: &mut Vec<Mapped>, f: &dyn Fn(&str, &Value) -> Mapped| {
        out.extend(snapshot.of(kind).iter().map(|(name, body)| f(name, body)));
    };
    each(Kind::Workspaces, &mut out, &|n, b| {
        workspace::map_workspace_object(n, b, ctx)
    });
    each(Kind::AccessTokens, &mut out, &|n, b| {
        workspace::map_access_token(n, b)
    });
    each(Kind::CatalogSources, &mut out, &|n, b| {
        catalog::map_catalog_item(Kind::CatalogSources, n, b, ctx)
    });
    each(Kind::CatalogDestinations, &mut out, &|n, b| {
        catalog::map_catalog_item(Kind::CatalogDestinations, n, b, ctx)
    });
    each(Kind::Sources, &mut out, &|n, b| {
        sources::map_source(n, b, ctx)
    });
    each(Kind::SchemaConfigs, &mut out, &|n, b| {
        sources::map_schema_config(n, b, ctx)
    });
    each(Kind::TrackingPlans, &mut out, &|n, b| {
        tracking_plans::map_tracking_plan(n, b, ctx)
    });
    each(Kind::TrackingPlanConnections, &mut out, &|n, b| {
        tracking_plans::map_connection(n, b, ctx)
    });
    each(Kind::Functions, &mut out, &|n, b| {
        functions::map_function(n, b, ctx)
    });
    each(Kind::Destinations, &mut out, &|n, b| {
        destinations::map_destination(n, b, ctx)
    });
    // Filters are grouped by destination, keeping their order: it is the order they apply in.
    let mut groups: Vec<(&str, Vec<(&str, &Value)>)> = Vec::new();
    let mut group_of: HashMap<&str, usize> = HashMap::new();
    for (name, body) in snapshot.of(Kind::DestinationFilters) {
        let destination = filters::destination_of(name);
        let index = *group_of.entry(destination).or_insert_with(|| {
            groups.push((destination, Vec::new()));
            groups.len() - 1
        });
        groups[index].1.push((name.as_str(), body));
    }
    for (destination, list) in &groups {
        out.extend(filters::map_filters(destination, list, ctx));
    }
    let roles = iam::RoleIndex::new(snapshot.of(Kind::Roles), ctx);
    let users = snapshot.of(Kind::Users);
    each(Kind::Roles, &mut out, &|n, b| iam::map_role(n, b, ctx));
    each(Kind::Policies, &mut out, &|n, b| {
        iam::map_policy(n, b, &roles, users, ctx)
    });
    out.extend(iam::map_users(
        users,
        snapshot.of(Kind::Policies),
        &roles,
        ctx,
    ));
    each(Kind::Invites, &mut out, &|n, b| {
        iam::map_invite(n, b, &roles, ctx)
    });
    each(Kind::DeliveryMetrics, &mut out, &|n, b| {
        delivery_metrics::map_delivery_summary(n, b)
    });
    out
}

// ---- Config names ----------------------------------------------------------------------------

/// `workspaces/<ws>/…` → `<ws>`.
fn workspace_slug(config_name: &str) -> Option<&str> {
    config_name.strip_prefix("workspaces/")?.split('/').next()
}

/// The last `/` segment of a Config name.
fn last_segment(config_name: &str) -> &str {
    config_name.rsplit('/').next().unwrap_or(config_name)
}

/// `workspaces/<ws>/sources/<slug>`.
fn source_name(ws: &str, slug: &str) -> String {
    format!("workspaces/{ws}/sources/{slug}")
}

/// A string field of an object.
fn str_field<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    body.get(field).and_then(Value::as_str)
}
