//! The mapping layer: pure translation of exported Config API objects into Public API payloads
//! and compatibility findings, driven by the tables in `mappings/` ([`Tables`]).
//!
//! Role: the planner hands in a snapshot object (the JSON the Config API returned, secrets
//! already replaced by markers, see [`crate::secrets`]) and a [`Context`] (tables, the target
//! catalog, roles and workspace id, the ids already known); it gets back a [`Mapped`]: the
//! requests that would recreate the object ([`Payload`]s, in the order they must be sent) and
//! the [`Finding`]s a person must read. [`map_workspace`] does a whole in-memory snapshot;
//! [`map_kind`] does one kind of any [`SnapshotSource`], handing each object on as soon as it is
//! mapped, so that a planner reading the snapshot from the ledger never holds a whole workspace;
//! the modules below do one kind each.
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
mod id_map;
mod payload;
pub mod sources;
pub mod tables;
mod text_map;
mod text_snapshot;
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
pub use id_map::IdMap;
pub use payload::{
    Condition, Payload, Records, Ref, RefField, Request, SECRET_MARKER_KEY, SecretRef, SecretState,
    Step, Unresolved, ref_marker, resolve_in_place, secret_marker, secrets_in,
};
pub use tables::{Tables, TablesError};
pub use text_map::TextMap;
pub use text_snapshot::{TextList, TextSnapshot};

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

/// Where a snapshot's objects come from: an in-memory [`Snapshot`], or a store read one object
/// at a time so that a whole workspace never has to be in memory at once.
///
/// A source hands out the objects of one kind in export order, each body only for the length of
/// the call; whoever needs one afterwards keeps what it needs of it.
pub trait SnapshotSource {
    type Error;

    /// Calls `f` with every object of `kind`, in export order.
    fn each(&self, kind: Kind, f: &mut dyn FnMut(&str, &Value)) -> Result<(), Self::Error>;

    /// Calls `f` with the JSON text of every object of `kind`, in export order: for the kind
    /// mapped part by part (tracking plans, event by event), so that a large object is never
    /// held parsed whole. A store that keeps text hands it over as it is.
    fn each_text(&self, kind: Kind, f: &mut dyn FnMut(&str, &str)) -> Result<(), Self::Error> {
        self.each(kind, &mut |name, body| f(name, &body.to_string()))
    }

    /// Calls `f` with the Config name of every object of `kind`, in export order. A store can
    /// answer this without reading the bodies.
    fn names(&self, kind: Kind, f: &mut dyn FnMut(&str)) -> Result<(), Self::Error> {
        self.each(kind, &mut |name, _| f(name))
    }

    /// The objects of `kind`, all at once: for the kinds that are mapped as a whole list.
    fn load(&self, kind: Kind) -> Result<Vec<(String, Value)>, Self::Error> {
        let mut out = Vec::new();
        self.each(kind, &mut |name, body| {
            out.push((name.to_owned(), body.clone()))
        })?;
        Ok(out)
    }
}

impl SnapshotSource for Snapshot {
    type Error = std::convert::Infallible;

    fn each(&self, kind: Kind, f: &mut dyn FnMut(&str, &Value)) -> Result<(), Self::Error> {
        for (name, body) in self.of(kind) {
            f(name, body);
        }
        Ok(())
    }
}

/// The exported functions of `source`, as the context needs them.
pub fn exported_functions<S: SnapshotSource>(
    source: &S,
) -> Result<Vec<ExportedFunction>, S::Error> {
    let mut out = Vec::new();
    source.each(Kind::Functions, &mut |_, body| {
        out.extend(ExportedFunction::from_config(body));
    })?;
    Ok(out)
}

/// The order the kinds are mapped in, which is the order their objects must be created in a new
/// workspace (sources, schema settings, tracking plans, connections, functions, destinations,
/// filters, IAM), with the kinds that create nothing first (they only resolve ids) and last.
pub const MAP_ORDER: [Kind; 17] = [
    Kind::Workspaces,
    Kind::AccessTokens,
    Kind::CatalogSources,
    Kind::CatalogDestinations,
    Kind::Sources,
    Kind::SchemaConfigs,
    Kind::TrackingPlans,
    Kind::TrackingPlanConnections,
    Kind::Functions,
    Kind::Destinations,
    Kind::DestinationFilters,
    Kind::Roles,
    Kind::Policies,
    Kind::Users,
    Kind::Invites,
    Kind::DeliveryMetrics,
    Kind::TrackingPlanRules,
];

/// Maps a whole snapshot, in [`MAP_ORDER`].
pub fn map_workspace(snapshot: &Snapshot, ctx: &Context<'_>) -> Vec<Mapped> {
    let mut out = Vec::new();
    for kind in MAP_ORDER {
        let Ok(()) = map_kind(snapshot, kind, ctx, &mut |mapped| out.push(mapped));
    }
    out
}

/// Maps the objects of one kind of `source`, handing each [`Mapped`] to `f` as soon as it is
/// made, in the order [`map_workspace`] lists them. Only the objects of `kind` are held at once
/// when the kind is mapped as a whole (filters of one destination, the IAM kinds, which also read
/// the IAM kinds they refer to); the others are mapped one object at a time.
pub fn map_kind<S: SnapshotSource>(
    source: &S,
    kind: Kind,
    ctx: &Context<'_>,
    f: &mut dyn FnMut(Mapped),
) -> Result<(), S::Error> {
    match kind {
        // Rules are exported inside their tracking plans: nothing of their own to map.
        Kind::TrackingPlanRules => Ok(()),
        Kind::DestinationFilters => map_filter_groups(source, ctx, f),
        Kind::TrackingPlans => source.each_text(kind, &mut |name, text| {
            f(tracking_plans::map_tracking_plan_text(name, text, ctx))
        }),
        Kind::Policies => {
            let roles = source.load(Kind::Roles)?;
            let roles = iam::RoleIndex::new(&roles, ctx);
            let users = source.load(Kind::Users)?;
            source.each(Kind::Policies, &mut |name, body| {
                f(iam::map_policy(name, body, &roles, &users, ctx))
            })
        }
        Kind::Users => {
            let roles = source.load(Kind::Roles)?;
            let roles = iam::RoleIndex::new(&roles, ctx);
            let users = source.load(Kind::Users)?;
            let policies = source.load(Kind::Policies)?;
            iam::map_users(&users, &policies, &roles, ctx)
                .into_iter()
                .for_each(f);
            Ok(())
        }
        Kind::Invites => {
            let roles = source.load(Kind::Roles)?;
            let roles = iam::RoleIndex::new(&roles, ctx);
            source.each(Kind::Invites, &mut |name, body| {
                f(iam::map_invite(name, body, &roles, ctx))
            })
        }
        _ => source.each(kind, &mut |name, body| f(map_object(kind, name, body, ctx))),
    }
}

/// One object of a kind mapped object by object.
fn map_object(kind: Kind, name: &str, body: &Value, ctx: &Context<'_>) -> Mapped {
    match kind {
        Kind::Workspaces => workspace::map_workspace_object(name, body, ctx),
        Kind::AccessTokens => workspace::map_access_token(name, body),
        Kind::CatalogSources | Kind::CatalogDestinations => {
            catalog::map_catalog_item(kind, name, body, ctx)
        }
        Kind::Sources => sources::map_source(name, body, ctx),
        Kind::SchemaConfigs => sources::map_schema_config(name, body, ctx),
        Kind::TrackingPlans => tracking_plans::map_tracking_plan(name, body, ctx),
        Kind::TrackingPlanConnections => tracking_plans::map_connection(name, body, ctx),
        Kind::Functions => functions::map_function(name, body, ctx),
        Kind::Destinations => destinations::map_destination(name, body, ctx),
        Kind::Roles => iam::map_role(name, body, ctx),
        Kind::DeliveryMetrics => delivery_metrics::map_delivery_summary(name, body),
        Kind::DestinationFilters
        | Kind::Policies
        | Kind::Users
        | Kind::Invites
        | Kind::TrackingPlanRules => {
            unreachable!("{kind} is mapped as a list by map_kind")
        }
    }
}
/// Filters are mapped per destination, keeping their order (the order they apply in), the
/// destinations in the order their first filter was exported. A first pass over the names counts
/// each destination's filters, so that a destination's filters are mapped, and their bodies
/// dropped, as soon as the last of them has been read and every destination before it is done;
/// only the filters of destinations still waiting are held.
fn map_filter_groups<S: SnapshotSource>(
    source: &S,
    ctx: &Context<'_>,
    f: &mut dyn FnMut(Mapped),
) -> Result<(), S::Error> {
    let mut expected: Vec<usize> = Vec::new();
    let mut group_of: HashMap<String, usize> = HashMap::new();
    source.names(Kind::DestinationFilters, &mut |name| {
        let destination = filters::destination_of(name);
        let index = match group_of.get(destination) {
            Some(&index) => index,
            None => {
                expected.push(0);
                group_of.insert(destination.to_owned(), expected.len() - 1);
                expected.len() - 1
            }
        };
        expected[index] += 1;
    })?;
    let mut groups: Vec<Vec<(String, Value)>> = vec![Vec::new(); expected.len()];
    let mut next = 0;
    source.each(Kind::DestinationFilters, &mut |name, body| {
        let destination = filters::destination_of(name);
        let Some(&index) = group_of.get(destination) else {
            return;
        };
        groups[index].push((name.to_owned(), body.clone()));
        while next < groups.len() && groups[next].len() == expected[next] {
            let list = std::mem::take(&mut groups[next]);
            emit_filters(&list, ctx, f);
            next += 1;
        }
    })?;
    // Whatever the two passes disagree on (a store changed in between) is mapped as it stands.
    for list in &mut groups[next..] {
        emit_filters(&std::mem::take(list), ctx, f);
    }
    Ok(())
}

fn emit_filters(list: &[(String, Value)], ctx: &Context<'_>, f: &mut dyn FnMut(Mapped)) {
    let Some((first, _)) = list.first() else {
        return;
    };
    let destination = filters::destination_of(first);
    let list: Vec<(&str, &Value)> = list.iter().map(|(n, b)| (n.as_str(), b)).collect();
    filters::map_filters(destination, &list, ctx)
        .into_iter()
        .for_each(f);
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
