//! The planner: decides, for every object of an exported snapshot, what `apply` will do in the
//! target workspace, and with which requests.
//!
//! Role: [`build`] takes the snapshot, the mapping tables and a [`TargetView`] (read beforehand
//! by [`read_target`], which can only send GETs) and returns a [`Plan`]: per object, in
//! dependency order, an [`Action`] (`create | adopt | update | skip | manual`), the Public id
//! when the object already exists in the target, the natural key it was matched on, the
//! payloads `apply` will send (with `$ref` / `$secret` markers), and the findings. The pairs
//! Config name → Public id established by matching form the plan's id map. [`build_into`] does
//! the same for a snapshot read from any [`SnapshotSource`], handing each item to a sink as
//! soon as it is decided: the `plan` command stores them as they come, so that neither the
//! snapshot nor the plan is ever whole in memory (what is kept per object is its natural key
//! and how it resolved). [`build_stage`] plans part of a snapshot given what earlier parts
//! decided ([`Prior`]): `migrate` plans in stages while the export reads ([`staged`]).
//!
//! How an object is matched to the target (natural keys, as the design and the executor's
//! reconciliation use them): source by slug; destination by source id, `metadata.id` and name;
//! tracking plan by the Config `rs_` id in `resourceSchemaId`, else by name; filter by
//! destination id, title and `if`; function by id; user by email (ignoring ASCII case); role by
//! name and catalog items by slug (both settled by the mapping layer). Two target objects with
//! the same key are a `target.ambiguous_match` blocker, never a choice.
//!
//! Modes:
//! - `adopt` (same workspace, nothing written): a matched object is `adopt` with no payloads;
//!   an unmatched one is `manual` with `target.not_found`; kinds without an identity of their
//!   own (schema settings, plan connections, invites) are `skip`.
//! - `create` (another workspace): an unmatched object is `create`. A matched one is a
//!   conflict, settled by [`OnConflict`]: `fail` makes it `manual` with a `target.conflict`
//!   blocker (the command exits 1 and names it), `skip` leaves it and everything that depends on
//!   it alone, `adopt` uses it (`adopt`, or `update` when requests other than its create
//!   remain, such as a tracking plan's rules). A user whose email exists gets the permissions
//!   request (`update`), otherwise the invite (`create`).
//!
//! Invariants:
//! - Pure: no I/O, no clock; equal inputs give an equal plan, so a re-plan can be compared.
//! - Items keep the mapping layer's order (sources, schema settings, tracking plans,
//!   connections, functions, destinations, filters, IAM) except that functions come first (a
//!   function-instance source is created from its function's catalog id), which makes it a
//!   dependency order: every `$ref` left in an item's payloads names an item before it. (A plan
//!   made in stages keeps that order within each stage, and a stage only refers to itself and
//!   to earlier ones.) An item whose reference names an object that is skipped, blocked or
//!   absent from the snapshot is skipped with `target.dependency_skipped`, so `apply` never
//!   meets a reference it cannot resolve.
//! - Payloads hold markers, never secret values (the mapping layer's guarantee, kept here: the
//!   planner only removes payloads or substitutes ids into them).

pub mod object_key;
pub mod staged;
pub(crate) mod target;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

pub use object_key::ObjectKey;
pub use target::{TargetError, TargetView, read_target};

use crate::mapping::{
    Condition, Context, Finding, FindingCode, IdMap, MAP_ORDER, Mapped, Payload, Ref, RefField,
    Severity, Snapshot, SnapshotSource, Step, Tables, exported_functions, map_kind,
};
use crate::model::Kind;
use crate::public_api::PublicObject;
use crate::public_api::writer::MAX_INVITES_PER_REQUEST;

/// What the plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Recreate the workspace in the target.
    #[default]
    Create,
    /// Resolve Config names to the Public ids of the same workspace; write nothing.
    Adopt,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Create => "create",
            Mode::Adopt => "adopt",
        }
    }
}

/// What create mode does with an object the target already holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnConflict {
    /// Use the existing object.
    Adopt,
    /// Leave it, and what depends on it, alone.
    Skip,
    /// Report it and stop before anything is applied.
    #[default]
    Fail,
}

impl OnConflict {
    pub fn as_str(self) -> &'static str {
        match self {
            OnConflict::Adopt => "adopt",
            OnConflict::Skip => "skip",
            OnConflict::Fail => "fail",
        }
    }
}

/// A `--mode` or `--on-conflict` value that is not one of the choices.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown value `{value}`; expected one of: {expected}")]
pub struct UnknownChoice {
    value: String,
    expected: &'static str,
}

impl std::str::FromStr for Mode {
    type Err = UnknownChoice;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "create" => Ok(Mode::Create),
            "adopt" => Ok(Mode::Adopt),
            _ => Err(UnknownChoice {
                value: text.to_owned(),
                expected: "create, adopt",
            }),
        }
    }
}

impl std::str::FromStr for OnConflict {
    type Err = UnknownChoice;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "adopt" => Ok(OnConflict::Adopt),
            "skip" => Ok(OnConflict::Skip),
            "fail" => Ok(OnConflict::Fail),
            _ => Err(UnknownChoice {
                value: text.to_owned(),
                expected: "adopt, skip, fail",
            }),
        }
    }
}

/// What `apply` does with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Adopt,
    Update,
    Skip,
    Manual,
}

impl Action {
    pub const ALL: [Action; 5] = [
        Action::Create,
        Action::Adopt,
        Action::Update,
        Action::Skip,
        Action::Manual,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Adopt => "adopt",
            Action::Update => "update",
            Action::Skip => "skip",
            Action::Manual => "manual",
        }
    }

    /// Whether `apply` sends this item's payloads.
    pub fn writes(self) -> bool {
        matches!(self, Action::Create | Action::Update)
    }
}

/// One object of the snapshot and what becomes of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanItem {
    pub kind: Kind,
    pub config_name: String,
    pub action: Action,
    /// The Public id, when the object exists in the target.
    pub target_id: Option<String>,
    /// The natural key the object was looked up by.
    pub natural_key: Option<String>,
    /// Which part of the key matched (`slug`, `resourceSchemaId`, `name`, …).
    pub matched_by: Option<&'static str>,
    /// Create mode: the target already holds this object.
    pub conflict: bool,
    /// The requests `apply` sends, in order; empty unless [`Action::writes`].
    pub payloads: Vec<Payload>,
    pub findings: Vec<Finding>,
}

impl PlanItem {
    /// The `$ref`s of the payloads to other items: the items this one needs done first. A
    /// reference to the item itself is filled by its own earlier payload's `records`.
    pub fn dependencies(&self) -> Vec<Ref> {
        let mut refs: Vec<Ref> = self
            .payloads
            .iter()
            .flat_map(Payload::refs)
            .filter(|r| r.kind != self.kind || r.config_name != self.config_name)
            .collect();
        refs.sort();
        refs.dedup();
        refs
    }

    fn find(&mut self, code: FindingCode, message: String) {
        self.findings.push(Finding {
            code,
            severity: code.severity(),
            kind: self.kind,
            config_name: self.config_name.clone(),
            field: None,
            message,
        });
    }
}

/// A Config name → Public id pair established by matching.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdPair {
    pub kind: Kind,
    pub config_name: String,
    pub field: RefField,
    pub public_id: String,
    pub matched_by: &'static str,
    pub natural_key: Option<String>,
}

/// The plan of one snapshot against one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub mode: Mode,
    pub on_conflict: OnConflict,
    pub items: Vec<PlanItem>,
    pub id_map: Vec<IdPair>,
}

impl Plan {
    /// Create-mode conflicts (whatever `--on-conflict` made of them).
    pub fn conflicts(&self) -> impl Iterator<Item = &PlanItem> {
        self.items.iter().filter(|i| i.conflict)
    }

    /// Conflicts that stop the plan (`--on-conflict fail`).
    pub fn blocking_conflicts(&self) -> usize {
        if self.on_conflict == OnConflict::Fail {
            self.conflicts().count()
        } else {
            0
        }
    }

    pub fn findings(&self) -> impl Iterator<Item = &Finding> {
        self.items.iter().flat_map(|i| i.findings.iter())
    }

    /// Findings per severity.
    pub fn findings_by_severity(&self) -> HashMap<Severity, usize> {
        let mut out = HashMap::new();
        for f in self.findings() {
            *out.entry(f.severity).or_default() += 1;
        }
        out
    }
}

/// How the planner runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlanOptions {
    pub mode: Mode,
    pub on_conflict: OnConflict,
}

/// What the target holds for one object's natural key.
#[derive(Debug, Clone, PartialEq)]
enum Found {
    /// The kind has no natural key of its own.
    NotMatched,
    None,
    One {
        id: String,
        catalog_id: Option<String>,
    },
    Several(Vec<String>),
}

impl Found {
    /// A single candidate reported as ambiguous too: the snapshot side is what cannot be told
    /// apart.
    fn max_several(self) -> Found {
        match self {
            Found::One { id, .. } => Found::Several(vec![id]),
            other => other,
        }
    }
}

struct Resolution {
    found: Found,
    natural_key: Option<String>,
    matched_by: Option<&'static str>,
}

impl Resolution {
    fn none() -> Resolution {
        Resolution {
            found: Found::NotMatched,
            natural_key: None,
            matched_by: None,
        }
    }
}

type Ids<'a> = Vec<&'a PublicObject>;

/// The target's objects indexed by natural key.
struct TargetIndex<'a> {
    sources: HashMap<&'a str, Ids<'a>>,
    destinations: HashMap<(&'a str, &'a str), Ids<'a>>,
    filters: HashMap<(&'a str, &'a str, &'a str), Ids<'a>>,
    plans_by_rs: HashMap<&'a str, Ids<'a>>,
    plans_by_name: HashMap<&'a str, Ids<'a>>,
    functions: HashMap<&'a str, Ids<'a>>,
    users: HashMap<String, Ids<'a>>,
    labels: HashSet<(&'a str, &'a str)>,
}

fn text<'a>(object: &'a PublicObject, pointer: &str) -> Option<&'a str> {
    object.body.pointer(pointer).and_then(Value::as_str)
}

impl<'a> TargetIndex<'a> {
    fn new(view: &'a TargetView) -> TargetIndex<'a> {
        fn group<'a, K: std::hash::Hash + Eq>(
            items: impl Iterator<Item = (Option<K>, &'a PublicObject)>,
        ) -> HashMap<K, Ids<'a>> {
            let mut out: HashMap<K, Ids<'a>> = HashMap::new();
            for (key, object) in items {
                if let Some(key) = key {
                    out.entry(key).or_default().push(object);
                }
            }
            out
        }
        TargetIndex {
            sources: group(view.sources.iter().map(|s| (s.str_field("slug"), s))),
            destinations: group(
                view.destinations
                    .iter()
                    .map(|d| (text(d, "/sourceId").zip(text(d, "/metadata/id")), d)),
            ),
            filters: group(view.filters.iter().map(|(dest, f)| {
                let key = f
                    .str_field("title")
                    .zip(f.str_field("if"))
                    .map(|(t, c)| (dest.as_str(), t, c));
                (key, f)
            })),
            plans_by_rs: group(
                view.tracking_plans
                    .iter()
                    .map(|p| (p.resource_schema_id(), p)),
            ),
            plans_by_name: group(view.tracking_plans.iter().map(|p| (p.str_field("name"), p))),
            functions: group(view.functions.iter().map(|f| (Some(f.id.as_str()), f))),
            users: group(
                view.users
                    .iter()
                    .map(|u| (u.str_field("email").map(str::to_ascii_lowercase), u)),
            ),
            labels: view
                .labels
                .iter()
                .filter_map(|l| l.str_field("key").zip(l.str_field("value")))
                .collect(),
        }
    }
}

fn found(objects: Option<&Ids<'_>>) -> Found {
    match objects.map(Vec::as_slice).unwrap_or_default() {
        [] => Found::None,
        [one] => Found::One {
            id: one.id.clone(),
            catalog_id: one.str_field("catalogId").map(str::to_owned),
        },
        several => Found::Several(several.iter().map(|o| o.id.clone()).collect()),
    }
}

/// The body of the first payload of a step.
fn body_of(mapped: &Mapped, step: Step) -> Option<&Value> {
    mapped
        .payloads
        .iter()
        .find(|p| p.step == step)
        .and_then(|p| p.body.as_ref())
}

fn last_segment(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

/// What matching reads of one mapped object: its identity and the fields of its payloads its
/// natural key is made of. Kept for every object between the two mapping passes instead of the
/// mapped objects themselves, whose payloads are the bulk of a plan.
#[derive(Debug, Clone)]
struct KeyFields {
    kind: Kind,
    config_name: String,
    /// Destinations: `metadataId` of the create.
    metadata_id: Option<String>,
    /// Destinations and tracking plans: `name` of the create.
    name: Option<String>,
    /// Filters: `title` and `if` of the create.
    title: Option<String>,
    condition: Option<String>,
    /// Users: the email of the invite.
    email: Option<String>,
}

impl KeyFields {
    fn of(mapped: &Mapped) -> KeyFields {
        let str_in = |step: Step, key: &str| {
            body_of(mapped, step)
                .and_then(|b| b.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let mut fields = KeyFields {
            kind: mapped.kind,
            config_name: mapped.config_name.clone(),
            metadata_id: None,
            name: None,
            title: None,
            condition: None,
            email: None,
        };
        match mapped.kind {
            Kind::Destinations => {
                fields.metadata_id = str_in(Step::CreateDestination, "metadataId");
                fields.name = str_in(Step::CreateDestination, "name");
            }
            Kind::DestinationFilters => {
                fields.title = str_in(Step::CreateFilter, "title");
                fields.condition = str_in(Step::CreateFilter, "if");
            }
            Kind::TrackingPlans => fields.name = str_in(Step::CreateTrackingPlan, "name"),
            Kind::Users => {
                fields.email = body_of(mapped, Step::InviteUser)
                    .and_then(|b| b.pointer("/invites/0/email"))
                    .and_then(Value::as_str)
                    .map(str::to_owned);
            }
            _ => {}
        }
        fields
    }
}

/// Looks one mapped object up in the target. `known` holds the ids of the objects found so far,
/// for keys that include a parent's id (destinations, filters).
/// `siblings` counts the exported destinations per (source Config name, metadata id) and per
/// (source Config name, `<metadata id>\n<name>`).
fn resolve(
    mapped: &KeyFields,
    index: &TargetIndex<'_>,
    known: &IdMap,
    siblings: &HashMap<(String, String), usize>,
) -> Resolution {
    let name = mapped.config_name.as_str();
    match mapped.kind {
        Kind::Sources => {
            let slug = last_segment(name);
            Resolution {
                found: found(index.sources.get(slug)),
                natural_key: Some(format!("slug={slug}")),
                matched_by: Some("slug"),
            }
        }
        Kind::Destinations => {
            let source = crate::mapping::destinations::source_of(name);
            let metadata = mapped.metadata_id.clone().filter(|m| !m.is_empty());
            let display = mapped.name.clone();
            let source_id = known.get(&Ref::id(Kind::Sources, source));
            let key = format!(
                "source={} metadata={} name={}",
                source_id.unwrap_or(source),
                metadata.as_deref().unwrap_or("?"),
                display.as_deref().unwrap_or("")
            );
            let mut matched_by = "source+metadata";
            let found = match (source_id, &metadata) {
                (Some(source_id), Some(metadata)) => {
                    let candidates = index
                        .destinations
                        .get(&(source_id, metadata.as_str()))
                        .cloned()
                        .unwrap_or_default();
                    // The Config API shows the catalog name, not the instance name, so the name
                    // only decides between several instances of one integration on a source,
                    // on either side; one instance on each side is the same destination.
                    let config_instances = siblings
                        .get(&(source.to_owned(), metadata.clone()))
                        .copied()
                        .unwrap_or(0);
                    let config_named = siblings
                        .get(&(
                            source.to_owned(),
                            format!("{metadata}\n{}", display.as_deref().unwrap_or_default()),
                        ))
                        .copied()
                        .unwrap_or(0);
                    if config_named > 1 && !candidates.is_empty() {
                        // Several exported instances carry the same name: the name cannot tell
                        // which target instance is which.
                        matched_by = "source+metadata+name";
                        found(Some(&candidates)).max_several()
                    } else if candidates.len() > 1 || config_instances > 1 {
                        matched_by = "source+metadata+name";
                        let named: Ids<'_> = candidates
                            .iter()
                            .copied()
                            .filter(|d| d.str_field("name") == display.as_deref())
                            .collect();
                        match named.len() {
                            0 if candidates.len() > 1 => found(Some(&candidates)),
                            0 => Found::None,
                            _ => found(Some(&named)),
                        }
                    } else {
                        found(Some(&candidates))
                    }
                }
                // Under a source the target lacks, the destination cannot exist either.
                _ => Found::None,
            };
            Resolution {
                found,
                natural_key: Some(key),
                matched_by: Some(matched_by),
            }
        }
        Kind::DestinationFilters => {
            let destination = crate::mapping::filters::destination_of(name);
            let title = mapped.title.clone().unwrap_or_default();
            let condition = mapped.condition.clone().unwrap_or_default();
            let destination_id = known.get(&Ref::id(Kind::Destinations, destination));
            let key = format!(
                "destination={} title={title} if={condition}",
                destination_id.unwrap_or(destination)
            );
            let found = match destination_id {
                Some(id) => found(index.filters.get(&(id, title.as_str(), condition.as_str()))),
                None => Found::None,
            };
            Resolution {
                found,
                natural_key: Some(key),
                matched_by: Some("title+if"),
            }
        }
        Kind::TrackingPlans => {
            let rs_id = last_segment(name);
            if let Some(plans) = index.plans_by_rs.get(rs_id) {
                return Resolution {
                    found: found(Some(plans)),
                    natural_key: Some(format!("resourceSchemaId={rs_id}")),
                    matched_by: Some("resourceSchemaId"),
                };
            }
            let plan_name = mapped.name.clone();
            Resolution {
                found: plan_name
                    .as_deref()
                    .map_or(Found::None, |n| found(index.plans_by_name.get(n))),
                natural_key: Some(format!("name={}", plan_name.unwrap_or_default())),
                matched_by: Some("name"),
            }
        }
        Kind::Functions => {
            let id = last_segment(name);
            Resolution {
                found: found(index.functions.get(id)),
                natural_key: Some(format!("id={id}")),
                matched_by: Some("id"),
            }
        }
        Kind::Users => match mapped.email.as_deref() {
            Some(email) => Resolution {
                found: found(index.users.get(&email.to_ascii_lowercase())),
                natural_key: Some(format!("email={email}")),
                matched_by: Some("email"),
            },
            None => Resolution::none(),
        },
        _ => Resolution::none(),
    }
}

/// How objects the mapping layer resolves itself were matched.
fn resolved_by(kind: Kind) -> &'static str {
    match kind {
        Kind::Workspaces => "token",
        Kind::CatalogSources | Kind::CatalogDestinations => "slug",
        Kind::Roles => "name",
        _ => "id",
    }
}

/// Kinds looked up by a natural key of their own, which can conflict in create mode.
fn is_matched_kind(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Sources
            | Kind::Destinations
            | Kind::DestinationFilters
            | Kind::TrackingPlans
            | Kind::Functions
    )
}

/// Builds the plan of `snapshot` against `target`, all of it in memory.
pub fn build(
    snapshot: &Snapshot,
    tables: &Tables,
    target: &TargetView,
    options: PlanOptions,
) -> Plan {
    let mut items = Vec::new();
    let Ok(outline) = build_into(snapshot, tables, target, options, &mut |item| {
        items.push(item);
        Ok(())
    });
    Plan {
        mode: options.mode,
        on_conflict: options.on_conflict,
        items,
        id_map: outline.id_map,
    }
}

/// What is left of a plan once its items have gone to the sink of [`build_into`]: the id map
/// and the figures a summary needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanOutline {
    pub mode: Mode,
    pub on_conflict: OnConflict,
    pub id_map: Vec<IdPair>,
    pub summary: PlanSummary,
}

impl PlanOutline {
    /// Conflicts that stop the plan (`--on-conflict fail`).
    pub fn blocking_conflicts(&self) -> usize {
        if self.on_conflict == OnConflict::Fail {
            self.summary.conflicts.len()
        } else {
            0
        }
    }
}

/// A create-mode conflict, as a summary names it.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub kind: Kind,
    pub config_name: String,
    pub target_id: Option<String>,
    pub natural_key: Option<String>,
    pub action: Action,
}

/// The counts of a plan, gathered item by item so that the items need not be kept.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanSummary {
    pub items: usize,
    /// Items per kind (by name, so in name order) and action.
    pub per_kind: BTreeMap<&'static str, BTreeMap<&'static str, usize>>,
    pub per_action: BTreeMap<&'static str, usize>,
    pub findings: HashMap<Severity, usize>,
    /// Create-mode conflicts (whatever `--on-conflict` made of them), in plan order.
    pub conflicts: Vec<Conflict>,
    /// The write requests `apply` will send: one per payload, but invitations go
    /// [`MAX_INVITES_PER_REQUEST`] to a request.
    pub write_requests: usize,
    /// Of the payloads, the invitations.
    pub invitations: usize,
}

impl PlanSummary {
    fn add(&mut self, item: &PlanItem) {
        self.count_item(item.kind, item.action);
        for finding in &item.findings {
            *self.findings.entry(finding.severity).or_default() += 1;
        }
        if item.conflict {
            self.conflicts.push(Conflict {
                kind: item.kind,
                config_name: item.config_name.clone(),
                target_id: item.target_id.clone(),
                natural_key: item.natural_key.clone(),
                action: item.action,
            });
        }
        if item.action.writes() {
            for payload in &item.payloads {
                self.count_payloads(payload.step == Step::InviteUser, 1);
            }
        }
    }

    /// Counts one item of `kind` decided `action`.
    pub(crate) fn count_item(&mut self, kind: Kind, action: Action) {
        self.items += 1;
        *self
            .per_kind
            .entry(kind.as_str())
            .or_default()
            .entry(action.as_str())
            .or_default() += 1;
        *self.per_action.entry(action.as_str()).or_default() += 1;
    }

    /// Counts `n` payloads `apply` will send, `invitations` or not: invitations go
    /// [`MAX_INVITES_PER_REQUEST`] to a request, so they open a request every fifty.
    pub(crate) fn count_payloads(&mut self, invitations: bool, n: usize) {
        if invitations {
            let requests = |invitations: usize| invitations.div_ceil(MAX_INVITES_PER_REQUEST);
            self.write_requests += requests(self.invitations + n) - requests(self.invitations);
            self.invitations += n;
        } else {
            self.write_requests += n;
        }
    }
}

/// Builds the plan of the snapshot `source` against `target`, handing each item to `sink` as
/// soon as it is decided, in plan order; returns the rest of the plan.
///
/// The snapshot is mapped twice, one kind at a time: a first time with every reference as a
/// marker, to read the natural keys from (only those are kept, see `KeyFields`), and a second
/// time with the ids matching found substituted, each item decided and handed on at once. What
/// stays in memory is per object a key and a resolution, never its body or payloads.
pub fn build_into<S: SnapshotSource>(
    source: &S,
    tables: &Tables,
    target: &TargetView,
    options: PlanOptions,
    sink: &mut dyn FnMut(PlanItem) -> Result<(), S::Error>,
) -> Result<PlanOutline, S::Error> {
    let functions = exported_functions(source)?;
    let mut id_map = Vec::new();
    let summary = build_stage(
        source,
        &functions,
        &Prior::default(),
        tables,
        target,
        options,
        // The whole workspace: too much to hold twice.
        false,
        &mut |item, pairs| {
            id_map.extend_from_slice(pairs);
            sink(item)
        },
    )?;
    Ok(PlanOutline {
        mode: options.mode,
        on_conflict: options.on_conflict,
        id_map,
        summary,
    })
}

/// What the stages stored before the next one decided, as it needs to know it: the next stage
/// plans only objects not planned yet, and its items may refer to the earlier ones.
#[derive(Debug, Default)]
pub struct Prior {
    /// Objects planned by earlier stages: references to them resolve.
    pub planned: HashSet<ObjectKey>,
    /// Of those, the ones that will not be applied (skip, manual): what refers to them cannot
    /// be either.
    pub held: HashSet<ObjectKey>,
    /// Labels (key, value) an earlier stage creates: not created twice.
    pub labels: HashSet<(String, String)>,
    /// The ids of the sources and destinations segbridge created in the target before this run
    /// read it (a stopped run of the plan): the target view leaves them out, being segbridge's
    /// own, but what someone made under them meanwhile is looked up under them, and matches.
    pub created: IdMap,
}

/// Where [`build_stage`] hands each item, with the id-map pairs its decision matched.
pub type StageSink<'a, E> = dyn FnMut(PlanItem, &[IdPair]) -> Result<(), E> + 'a;

/// One stage of a plan: [`build_into`]'s work for the objects of `source`, which are those the
/// stages before (`prior`) did not plan, with `functions` the export's functions (a
/// function-instance source is mapped from its function, planned or not). Hands each item to
/// `sink` with the id-map pairs its decision matched; returns the stage's counts.
///
/// Planned in stages, a snapshot gives the items planned whole, as long as every object of a
/// stage comes with the objects it refers to or after them: decisions look back (at the
/// target, at references, at the labels planned), never forward. The one global input is the
/// target: a stage matches its objects against the same [`TargetView`] as the others.
///
/// Each object is mapped twice: first with every reference a marker, for its natural key, then
/// with the ids of the target objects it will use. With `keep_first_pass`, for a stage small
/// enough to hold (a few sources' destinations and filters), the first pass's objects are kept,
/// and when the target gave no id to use they are decided as they are: the second pass would
/// make the same ones (in a `migrate` onto an empty target, one of the two mappings of most
/// stages).
#[allow(clippy::too_many_arguments)]
pub fn build_stage<S: SnapshotSource>(
    source: &S,
    functions: &[crate::mapping::ExportedFunction],
    prior: &Prior,
    tables: &Tables,
    target: &TargetView,
    options: PlanOptions,
    keep_first_pass: bool,
    sink: &mut StageSink<'_, S::Error>,
) -> Result<PlanSummary, S::Error> {
    let empty = IdMap::new();
    let context = |ids, keys_only| Context {
        tables,
        catalog: &target.catalog,
        roles: &target.roles,
        workspace_id: Some(target.workspace_id.as_str()),
        ids,
        functions,
        keys_only,
    };
    // First pass: payloads with every reference as a marker, to read the natural keys from;
    // kept per kind mapped, in order, with `keep_first_pass`.
    let mut keys: Vec<KeyFields> = Vec::new();
    let mut first_pass: HashMap<Kind, Vec<Mapped>> = HashMap::new();
    {
        // Objects not kept are read for their keys only.
        let first = context(&empty, !keep_first_pass);
        for kind in MAP_ORDER {
            map_kind(source, kind, &first, &mut |mapped| {
                keys.push(KeyFields::of(&mapped));
                if keep_first_pass {
                    first_pass.entry(kind).or_default().push(mapped);
                }
            })?;
        }
    }
    let index = TargetIndex::new(target);
    let mut siblings: HashMap<(String, String), usize> = HashMap::new();
    for key in keys.iter().filter(|k| k.kind == Kind::Destinations) {
        let metadata = key.metadata_id.as_deref().unwrap_or_default();
        let name = key.name.as_deref().unwrap_or_default();
        let source = crate::mapping::destinations::source_of(&key.config_name);
        *siblings
            .entry((source.to_owned(), metadata.to_owned()))
            .or_default() += 1;
        // Keyed `<metadata>\n<name>`: no metadata id holds a newline.
        *siblings
            .entry((source.to_owned(), format!("{metadata}\n{name}")))
            .or_default() += 1;
    }
    // The parents found in the target so far, for the keys that hold a parent's id.
    let mut existing = prior.created.clone();
    let resolutions: Vec<Resolution> = keys
        .iter()
        .map(|key| {
            let resolution = resolve(key, &index, &existing, &siblings);
            if let Found::One { id, .. } = &resolution.found {
                existing.insert(Ref::id(key.kind, &key.config_name), id.clone());
            }
            resolution
        })
        .collect();
    drop(existing);
    drop(siblings);

    // The ids the payloads may use: objects that will be used as they are.
    let adopting = |kind: Kind| {
        options.mode == Mode::Adopt
            || kind == Kind::Users
            || options.on_conflict == OnConflict::Adopt
    };
    let mut ids = IdMap::new();
    for (key, resolution) in keys.iter().zip(&resolutions) {
        if let Found::One { id, catalog_id } = &resolution.found
            && adopting(key.kind)
        {
            let this = Ref::id(key.kind, &key.config_name);
            ids.insert(this.clone(), id.clone());
            if let Some(catalog_id) = catalog_id {
                ids.insert(
                    Ref {
                        field: RefField::CatalogId,
                        ..this
                    },
                    catalog_id.clone(),
                );
            }
        }
    }
    // The second pass meets the objects of each kind in the order of the first.
    let mut pending: HashMap<Kind, std::vec::IntoIter<Resolution>> = HashMap::new();
    {
        let mut per_kind: HashMap<Kind, Vec<Resolution>> = HashMap::new();
        for (key, resolution) in keys.into_iter().zip(resolutions) {
            per_kind.entry(key.kind).or_default().push(resolution);
        }
        for (kind, list) in per_kind {
            pending.insert(kind, list.into_iter());
        }
    }

    // Second pass: the same mapping with the known ids substituted, decided object by object.
    // Without ids it is the first pass again: kept, that is what is decided.
    let reuse = keep_first_pass && ids.is_empty();
    if !reuse {
        first_pass.clear();
    }
    let second = context(&ids, false);
    let mut planner = Planner {
        options,
        index: &index,
        pairs: Vec::new(),
        planned: Layered::over(&prior.planned),
        held: Layered::over(&prior.held),
        labels_planned: Layered::over(&prior.labels),
    };
    let mut summary = PlanSummary::default();
    let mut decide = |mapped: Mapped| -> Result<(), S::Error> {
        let resolution = pending
            .get_mut(&mapped.kind)
            .and_then(Iterator::next)
            .unwrap_or_else(Resolution::none);
        let item = planner.decide(mapped, resolution);
        summary.add(&item);
        let pairs = std::mem::take(&mut planner.pairs);
        sink(item, &pairs)
    };
    // Functions first: a function-instance source is created from its function's catalog id.
    let order = std::iter::once(Kind::Functions)
        .chain(MAP_ORDER.into_iter().filter(|k| *k != Kind::Functions));
    for kind in order {
        if reuse {
            for mapped in first_pass.remove(&kind).unwrap_or_default() {
                decide(mapped)?;
            }
            continue;
        }
        let mut failed = None;
        map_kind(source, kind, &second, &mut |mapped| {
            if failed.is_none() {
                failed = decide(mapped).err();
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(summary)
}

struct Planner<'a> {
    options: PlanOptions,
    index: &'a TargetIndex<'a>,
    /// The id-map pairs matched by the item being decided.
    pairs: Vec<IdPair>,
    /// The items decided so far, in this stage or earlier ones.
    planned: Layered<'a, ObjectKey>,
    /// Items that will not be applied: what refers to them cannot be either.
    held: Layered<'a, ObjectKey>,
    /// Labels an earlier item creates.
    labels_planned: Layered<'a, (String, String)>,
}

/// A set made of what earlier stages decided, read only, and what this stage adds: a stage
/// reads the earlier stages' sets without a copy of its own (a copy per stage of every object
/// planned so far, on `large` 18,000 keys by the last stage).
struct Layered<'a, T> {
    earlier: &'a HashSet<T>,
    added: HashSet<T>,
}

impl<'a, T: Eq + std::hash::Hash> Layered<'a, T> {
    fn over(earlier: &'a HashSet<T>) -> Self {
        Layered {
            earlier,
            added: HashSet::new(),
        }
    }

    fn contains(&self, value: &T) -> bool {
        self.earlier.contains(value) || self.added.contains(value)
    }

    /// Adds `value`; whether it was in neither layer, as [`HashSet::insert`] says.
    fn insert(&mut self, value: T) -> bool {
        !self.earlier.contains(&value) && self.added.insert(value)
    }
}

impl Planner<'_> {
    fn decide(&mut self, mapped: Mapped, resolution: Resolution) -> PlanItem {
        let blocked = mapped.is_blocked();
        let mut item = PlanItem {
            kind: mapped.kind,
            config_name: mapped.config_name,
            action: Action::Skip,
            target_id: None,
            natural_key: resolution.natural_key,
            matched_by: resolution.matched_by,
            conflict: false,
            payloads: mapped.payloads,
            findings: mapped.findings,
        };
        let adopt_mode = self.options.mode == Mode::Adopt;

        // Which of the alternative payloads applies (IAM): decided by what the target holds.
        let user_exists = matches!(resolution.found, Found::One { .. });
        item.payloads.retain(|p| match p.when {
            Condition::Always => true,
            Condition::TargetUserExists => user_exists,
            Condition::TargetUserMissing => !user_exists,
        });

        item.action = match &resolution.found {
            Found::Several(ids) => {
                item.find(
                    FindingCode::TargetAmbiguous,
                    format!(
                        "{} target object(s) match the key {} and it does not tell them apart \
                         (or several exported objects share it): {}. None is picked; rename the \
                         instances so their names differ, then plan again.",
                        ids.len(),
                        item.natural_key.as_deref().unwrap_or_default(),
                        ids.join(", ")
                    ),
                );
                Action::Manual
            }
            _ if blocked => Action::Manual,
            Found::NotMatched => match mapped.resolved_id {
                Some(id) => {
                    self.pair(&item, RefField::Id, &id, resolved_by(item.kind));
                    item.matched_by = Some(resolved_by(item.kind));
                    item.target_id = Some(id);
                    Action::Adopt
                }
                None if item.kind == Kind::AccessTokens => Action::Manual,
                None if adopt_mode || item.payloads.is_empty() => Action::Skip,
                None if item.kind == Kind::SchemaConfigs && self.source_exists(&item) => {
                    Action::Update
                }
                None => Action::Create,
            },
            Found::None if adopt_mode => {
                item.find(
                    FindingCode::TargetNotFound,
                    format!(
                        "No {} of the target has the key {}; it has no Public id.",
                        item.kind,
                        item.natural_key.as_deref().unwrap_or_default()
                    ),
                );
                Action::Manual
            }
            Found::None => Action::Create,
            Found::One { id, catalog_id } => {
                let (id, catalog_id) = (id.clone(), catalog_id.clone());
                let matched_by = item.matched_by.unwrap_or("id");
                item.target_id = Some(id.clone());
                if adopt_mode || item.kind == Kind::Users {
                    self.pair(&item, RefField::Id, &id, matched_by);
                    if let Some(catalog_id) = &catalog_id {
                        self.pair(&item, RefField::CatalogId, catalog_id, matched_by);
                    }
                    if adopt_mode {
                        Action::Adopt
                    } else {
                        // The permissions request of a user the target knows.
                        Action::Update
                    }
                } else {
                    item.conflict = is_matched_kind(item.kind);
                    self.settle_conflict(&mut item, &id, catalog_id.as_deref(), matched_by)
                }
            }
        };

        if !item.action.writes() {
            item.payloads.clear();
        } else {
            self.drop_existing_labels(&mut item);
            if let Some(dependency) = self.held_dependency(&item) {
                item.find(
                    FindingCode::TargetDependencySkipped,
                    format!(
                        "It refers to {} `{}`, which is not applied; it is skipped with it.",
                        dependency.kind, dependency.config_name
                    ),
                );
                item.action = Action::Skip;
                item.payloads.clear();
            }
        }
        let key = ObjectKey::of(item.kind, &item.config_name);
        if matches!(item.action, Action::Skip | Action::Manual) {
            self.held.insert(key);
        }
        self.planned.insert(key);
        item
    }

    /// Create mode, the target holds the object: what `--on-conflict` says.
    fn settle_conflict(
        &mut self,
        item: &mut PlanItem,
        id: &str,
        catalog_id: Option<&str>,
        matched_by: &'static str,
    ) -> Action {
        let key = item.natural_key.clone().unwrap_or_default();
        match self.options.on_conflict {
            OnConflict::Fail => {
                item.find(
                    FindingCode::TargetConflict,
                    format!(
                        "The target already holds {} `{id}` with the key {key}; plan again with \
                         `--on-conflict adopt` to use it or `--on-conflict skip` to leave it.",
                        item.kind
                    ),
                );
                Action::Manual
            }
            OnConflict::Skip => {
                item.find(
                    FindingCode::TargetSkipped,
                    format!(
                        "The target already holds {} `{id}` with the key {key}; it is left alone.",
                        item.kind
                    ),
                );
                Action::Skip
            }
            OnConflict::Adopt => {
                self.pair(item, RefField::Id, id, matched_by);
                if let Some(catalog_id) = catalog_id {
                    self.pair(item, RefField::CatalogId, catalog_id, matched_by);
                }
                item.find(
                    FindingCode::TargetAdopted,
                    format!(
                        "The target already holds {} `{id}` with the key {key}; it is used.",
                        item.kind
                    ),
                );
                // The create is not sent; what follows it (name, labels, rules, deploy) is,
                // but not the cut-over: whether an object segbridge did not create is enabled
                // is for its owner to say.
                let this = Ref::id(item.kind, &item.config_name);
                item.payloads.retain(|p| {
                    !p.records.iter().any(|r| r.reference == this)
                        && !matches!(p.step, Step::EnableSource | Step::EnableDestination)
                });
                if item.payloads.is_empty() {
                    Action::Adopt
                } else {
                    Action::Update
                }
            }
        }
    }

    fn pair(&mut self, item: &PlanItem, field: RefField, id: &str, matched_by: &'static str) {
        self.pairs.push(IdPair {
            kind: item.kind,
            config_name: item.config_name.clone(),
            field,
            public_id: id.to_owned(),
            matched_by,
            natural_key: item.natural_key.clone(),
        });
    }

    /// Whether the source a schema-settings item belongs to exists in the target.
    fn source_exists(&self, item: &PlanItem) -> bool {
        item.payloads.iter().all(|p| {
            p.path_params
                .iter()
                .all(|(_, v)| v.is_string() && !v.as_str().unwrap_or_default().is_empty())
        })
    }

    /// The first reference that names an item not applied, or no item at all.
    fn held_dependency(&self, item: &PlanItem) -> Option<Ref> {
        item.dependencies().into_iter().find(|r| {
            let key = ObjectKey::of(r.kind, &r.config_name);
            self.held.contains(&key) || !self.planned.contains(&key)
        })
    }

    /// Labels are workspace-wide: one that exists, or that an earlier item creates, is not
    /// created again (the Public API refuses a duplicate).
    fn drop_existing_labels(&mut self, item: &mut PlanItem) {
        let index = self.index;
        let planned = &mut self.labels_planned;
        item.payloads.retain(|p| {
            if p.step != Step::CreateLabel {
                return true;
            }
            let label = p.body.as_ref().and_then(|b| b.get("label"));
            let field = |k: &str| {
                label
                    .and_then(|l| l.get(k))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            let (key, value) = (field("key"), field("value"));
            if index.labels.contains(&(key.as_str(), value.as_str())) {
                return false;
            }
            planned.insert((key, value))
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::mapping::TargetCatalog;

    /// A source's subtree: a destination and a filter on it.
    fn subtree() -> Snapshot {
        let destination = "workspaces/ws/sources/js/destinations/google-analytics";
        let mut snapshot = Snapshot::default();
        snapshot.push(
            Kind::Destinations,
            destination,
            json!({"display_name": "Google Analytics", "enabled": true, "config": []}),
        );
        snapshot.push(
            Kind::DestinationFilters,
            format!("{destination}/filters/drop"),
            json!({"title": "drop", "if": "type = \"track\"", "enabled": true,
                   "actions": [{"type": "drop_event"}]}),
        );
        snapshot
    }

    /// The subtree's stage planned with its first pass kept or not: (kind, name, action,
    /// payloads) per item.
    fn staged(
        snapshot: &Snapshot,
        view: &TargetView,
        keep_first_pass: bool,
    ) -> Vec<(Kind, String, Action, String)> {
        let source = "workspaces/ws/sources/js";
        let mut prior = Prior::default();
        // The source, planned by an earlier stage and created in the target.
        prior.planned.insert(ObjectKey::of(Kind::Sources, source));
        prior
            .created
            .insert(Ref::id(Kind::Sources, source), "src-1");
        let options = PlanOptions {
            mode: Mode::Create,
            on_conflict: OnConflict::Adopt,
        };
        let mut items = Vec::new();
        build_stage(
            snapshot,
            &[],
            &prior,
            Tables::embedded(),
            view,
            options,
            keep_first_pass,
            &mut |item: PlanItem, _: &[IdPair]| -> Result<(), std::convert::Infallible> {
                let payloads = serde_json::to_string(&item.payloads).unwrap();
                items.push((item.kind, item.config_name, item.action, payloads));
                Ok(())
            },
        )
        .unwrap();
        items
    }

    #[test]
    fn a_stage_keeping_its_first_pass_plans_what_two_passes_plan() {
        let catalog = TargetCatalog::from_public(
            [json!({"id": "m-js", "slug": "javascript", "name": "Javascript", "options": []})]
                .iter(),
            [
                json!({"id": "m-ga", "slug": "google-analytics", "name": "Google Analytics",
                    "options": []}),
            ]
            .iter(),
        )
        .unwrap();
        let mut view = TargetView {
            workspace_id: "w1".into(),
            catalog,
            ..TargetView::default()
        };
        let snapshot = subtree();
        // Nothing in the target: the first pass is what is planned.
        let empty = staged(&snapshot, &view, true);
        assert_eq!(empty, staged(&snapshot, &view, false));
        assert!(
            empty
                .iter()
                .all(|(_, _, action, _)| *action == Action::Create),
            "{empty:?}"
        );
        // The destination is in the target and adopted: its filter is planned with its id,
        // which only the second pass gives.
        view.destinations.push(PublicObject {
            id: "dst-1".into(),
            body: json!({"id": "dst-1", "sourceId": "src-1", "metadata": {"id": "m-ga"},
                         "name": "Google Analytics"}),
        });
        let adopting = staged(&snapshot, &view, true);
        assert_eq!(adopting, staged(&snapshot, &view, false));
        let (_, _, _, filter) = adopting
            .iter()
            .find(|(kind, ..)| *kind == Kind::DestinationFilters)
            .unwrap();
        assert!(filter.contains("dst-1"), "{adopting:?}");
    }

    #[test]
    fn invitations_count_fifty_to_a_write_request() {
        let item = |kind, steps: Vec<Step>| PlanItem {
            kind,
            config_name: format!("{kind}"),
            action: Action::Create,
            target_id: None,
            natural_key: None,
            matched_by: None,
            conflict: false,
            payloads: steps
                .into_iter()
                .map(|step| Payload::new(step, "POST", "/x"))
                .collect(),
            findings: Vec::new(),
        };
        let invites = vec![Step::InviteUser; MAX_INVITES_PER_REQUEST + 1];
        let plan = Plan {
            mode: Mode::Create,
            on_conflict: OnConflict::Fail,
            items: vec![
                item(Kind::Users, invites),
                item(Kind::Sources, vec![Step::CreateSource, Step::NameSource]),
            ],
            id_map: Vec::new(),
        };
        let mut summary = PlanSummary::default();
        plan.items.iter().for_each(|i| summary.add(i));
        // Two sources' writes, and 51 invitations in two requests.
        assert_eq!(summary.write_requests, 4);
        assert_eq!(summary.invitations, MAX_INVITES_PER_REQUEST + 1);
    }
}
