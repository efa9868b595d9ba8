//! The expected side: what the target should hold for each Config object, computed by the very
//! mapping the planner uses, on the freshly re-read source, with the ids the ledger recorded.
//!
//! Role: [`by_kind`] runs the mapping ([`map_kind`], kind by kind) with an [`IdMap`] built from
//! the ledger's id map ([`add_id`]), so every `$ref` to an object segbridge created or adopted is
//! the Public id it got; it then folds each object's payloads (create, name, labels, rules
//! batches…) into one normalised shape per resource, the same shape [`super::actual`] makes of
//! what the Public API returns, and hands the shapes on in batches as they are made.
//!
//! Invariants:
//! - Using the mapping rather than a second translation means the audit checks what `apply`
//!   was told to write; a mapping bug shows up as a difference between source and target only
//!   when the target was changed, never as noise. What the mapping itself cannot see (a wrong
//!   table row) is outside what an audit can prove, and docs/audit.md says so.
//! - `$secret` markers stay in the shapes as they are: the diff reports them as not comparable
//!   and never holds a value for them. A `$ref` the id map cannot fill becomes a readable
//!   `<no Public id …>` text, so it surfaces as a difference, not as a crash.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;

use serde_json::{Value, json};

use super::actual;
use crate::mapping::{
    Context, IdMap, MAP_ORDER, Mapped, Ref, RefField, Snapshot, SnapshotSource, Step, Tables,
    TargetCatalog, exported_functions, map_kind, ref_marker, secret_marker,
};
use crate::model::{JsonText, Kind, object};

/// The kinds the audit compares, in the order it reports them.
pub const AUDITED: [Kind; 7] = [
    Kind::Sources,
    Kind::SchemaConfigs,
    Kind::Destinations,
    Kind::DestinationFilters,
    Kind::TrackingPlans,
    Kind::TrackingPlanConnections,
    Kind::Functions,
];

/// What the target should hold for one Config object.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    pub kind: Kind,
    pub config_name: String,
    /// The Public id the ledger recorded (schema settings: their source's; connections: none).
    pub public_id: Option<String>,
    /// Filters: the Public id of their destination; connections: of their tracking plan.
    pub parent_id: Option<String>,
    /// The normalised shape, as text (a batch's shapes are held until the batch is compared);
    /// `None` when the mapping blocks the object.
    pub shape: Option<JsonText>,
    /// Why the mapping blocks it (finding messages), when it does.
    pub blockers: Vec<String>,
}

/// What the expected side is computed from.
pub struct Inputs<'a, S = Snapshot> {
    pub snapshot: &'a S,
    pub tables: &'a Tables,
    pub catalog: &'a TargetCatalog,
    pub workspace_id: &'a str,
    /// The target workspace's name: destination functions carry it in their display name.
    pub workspace_name: &'a str,
    pub ids: &'a IdMap,
}

/// Adds one row of the ledger's id map (`field` as the ledger spells it) to `ids`.
pub fn add_id(ids: &mut IdMap, kind: Kind, config_name: String, field: &str, public_id: &str) {
    let field = RefField::parse(field).unwrap_or(RefField::Id);
    ids.insert(
        Ref {
            kind,
            config_name,
            field,
        },
        public_id,
    );
}

/// Every `$ref` left in `value` replaced by a readable text naming what has no Public id.
fn fill_refs(value: &Value) -> Value {
    let mut value = value.clone();
    fill_refs_in_place(&mut value);
    value
}

/// [`fill_refs`] where the value stands: a shape can hold a tracking plan's rules, and a copy
/// of it was a fifth of what mapping the largest plan of `large` held at once.
fn fill_refs_in_place(value: &mut Value) {
    if let Some(r) = ref_marker(value) {
        *value = Value::String(format!(
            "<no Public {} for {} `{}`>",
            r.field.as_str(),
            r.kind,
            r.config_name
        ));
        return;
    }
    if secret_marker(value).is_some() {
        return;
    }
    match value {
        Value::Array(items) => items.iter_mut().for_each(fill_refs_in_place),
        Value::Object(map) => map.values_mut().for_each(fill_refs_in_place),
        _ => {}
    }
}

fn body(mapped: &Mapped, step: Step) -> Option<&Value> {
    mapped
        .payloads
        .iter()
        .find(|p| p.step == step)
        .and_then(|p| p.body.as_ref())
}

fn param(mapped: &Mapped, step: Step, name: &str) -> Option<Value> {
    mapped
        .payloads
        .iter()
        .find(|p| p.step == step)
        .and_then(|p| p.path_params.iter().find(|(n, _)| *n == name))
        .map(|(_, v)| fill_refs(v))
}

fn text(value: Option<&Value>, key: &str) -> Value {
    value
        .and_then(|v| v.get(key))
        .cloned()
        .unwrap_or(Value::Null)
}

fn source_shape(mapped: &Mapped) -> Option<Value> {
    let create = body(mapped, Step::CreateSource)?;
    let slug = create.get("slug").cloned().unwrap_or(Value::Null);
    // Without a rename the source keeps the name the API gives it: its slug.
    let name = body(mapped, Step::NameSource)
        .and_then(|b| b.get("name"))
        .cloned()
        .unwrap_or_else(|| slug.clone());
    let labels = body(mapped, Step::SetSourceLabels)
        .and_then(|b| b.get("labels"))
        .and_then(Value::as_array)
        .map(|l| actual::label_set(l))
        .unwrap_or_else(|| json!({}));
    Some(object([
        ("slug", slug),
        ("name", name),
        ("metadataId", text(Some(create), "metadataId")),
        ("settings", text(Some(create), "settings")),
        ("labels", labels),
    ]))
}

/// `enabled`: the Config object's state.
fn destination_shape(mapped: &Mapped, enabled: bool) -> Option<Value> {
    let create = body(mapped, Step::CreateDestination)?;
    Some(object([
        ("name", text(Some(create), "name")),
        ("metadataId", text(Some(create), "metadataId")),
        ("sourceId", text(Some(create), "sourceId")),
        ("settings", text(Some(create), "settings")),
        // The Config state, not the create's `false`: the mapping creates every destination
        // disabled for the cut-over, which the comparison knows (see `compare`).
        ("enabled", Value::Bool(enabled)),
    ]))
}

fn filter_shape(mapped: &Mapped) -> Option<Value> {
    let create = body(mapped, Step::CreateFilter)?;
    let mut shape = actual::filter_fields(create);
    shape.insert(
        "destinationId".into(),
        param(mapped, Step::CreateFilter, "destinationId").unwrap_or(Value::Null),
    );
    Some(Value::Object(shape))
}

/// The rules are taken out of `mapped`'s payloads, not cloned: they are the bulk of a plan.
fn tracking_plan_shape(mapped: &mut Mapped) -> Option<Value> {
    let create = body(mapped, Step::CreateTrackingPlan)?;
    let (name, kind) = (text(Some(create), "name"), text(Some(create), "type"));
    let rules: Vec<Value> = mapped
        .payloads
        .iter_mut()
        .filter(|p| matches!(p.step, Step::ReplaceRules | Step::UpsertRules))
        .filter_map(|p| match p.body.as_mut()?.get_mut("rules")?.take() {
            Value::Array(rules) => Some(rules),
            _ => None,
        })
        .flatten()
        .collect();
    Some(object([
        ("name", name),
        ("type", kind),
        ("rules", actual::rule_map(rules)),
    ]))
}

fn function_shape(mapped: &Mapped, tables: &Tables, workspace_name: &str) -> Option<Value> {
    let create = body(mapped, Step::CreateFunction)?;
    let resource_type = create
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let display = create
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    // The Public API appends ` (<workspace name>)` to these (mappings/functions.toml).
    let display = if tables
        .functions
        .display_name_gains_workspace
        .iter()
        .any(|t| t == resource_type)
    {
        format!("{display} ({workspace_name})")
    } else {
        display.to_owned()
    };
    let mut shape = actual::function_fields(create);
    shape.insert("displayName".into(), Value::String(display));
    Some(Value::Object(shape))
}

/// A batch of expected shapes is handed over once it holds this much text (a few tracking
/// plans with their rules, or a few thousand filters), so that a kind's shapes are never all
/// held at once: on `large` the filters' were 5.6 MB and set the audit's peak.
const BATCH_TEXT: usize = 512 * 1024;

/// The expected side in batches: `f` gets each kind of `kinds` (audited kinds only, in mapping
/// order) with the shapes of some of its objects, at least once per kind (with none when the
/// source holds none of it). The caller compares a batch and lets its shapes go before the next
/// is mapped, so the shapes of a kind, let alone of the workspace, are never held together. A
/// batch holds all the filters of a destination: their positions are counted among them.
pub fn by_kind<S: SnapshotSource<Error = Infallible>>(
    inputs: &Inputs<'_, S>,
    kinds: &BTreeSet<Kind>,
    f: impl FnMut(Kind, Vec<Expected>),
) {
    in_batches(inputs, kinds, BATCH_TEXT, f);
}

/// [`by_kind`], a batch handed over once it holds `batch_text` bytes of shapes.
fn in_batches<S: SnapshotSource<Error = Infallible>>(
    inputs: &Inputs<'_, S>,
    kinds: &BTreeSet<Kind>,
    batch_text: usize,
    mut f: impl FnMut(Kind, Vec<Expected>),
) {
    let Ok(functions) = exported_functions(inputs.snapshot);
    let ctx = Context {
        tables: inputs.tables,
        catalog: inputs.catalog,
        roles: &[],
        workspace_id: Some(inputs.workspace_id),
        ids: inputs.ids,
        functions: &functions,
        keys_only: false,
    };
    // The one Config field a shape takes from the object rather than from its payloads (a
    // destination's).
    let mut enabled: HashMap<String, bool> = HashMap::new();
    if kinds.contains(&Kind::Destinations) {
        let Ok(()) = inputs.snapshot.each(Kind::Destinations, &mut |name, body| {
            let on = body.get("enabled").and_then(Value::as_bool) == Some(true);
            enabled.insert(name.to_owned(), on);
        });
    }
    let audited = MAP_ORDER
        .into_iter()
        .filter(|k| AUDITED.contains(k) && kinds.contains(k));
    for kind in audited {
        let mut batch: Vec<Expected> = Vec::new();
        let mut text = 0;
        let mut handed_over = false;
        // Each object folded into its shape as soon as it is mapped: the mapped objects
        // (payloads and all) are never held together.
        let Ok(()) = map_kind(inputs.snapshot, kind, &ctx, &mut |mapped| {
            let Some(shape) = shape_of(mapped, inputs, &enabled) else {
                return;
            };
            // The mapping gives a destination's filters one after the other.
            let same_destination = |last: &Expected| {
                kind == Kind::DestinationFilters
                    && crate::mapping::filters::destination_of(&last.config_name)
                        == crate::mapping::filters::destination_of(&shape.config_name)
            };
            if text >= batch_text && batch.last().is_some_and(|last| !same_destination(last)) {
                f(kind, std::mem::take(&mut batch));
                text = 0;
                handed_over = true;
            }
            text += shape.shape.as_ref().map_or(0, JsonText::len);
            batch.push(shape);
        });
        if !batch.is_empty() || !handed_over {
            f(kind, batch);
        }
    }
}

/// The expected side of one mapped object of an audited kind.
fn shape_of<S>(
    mut mapped: Mapped,
    inputs: &Inputs<'_, S>,
    enabled: &HashMap<String, bool>,
) -> Option<Expected> {
    let id_of = |kind: Kind, name: &str| inputs.ids.get(&Ref::id(kind, name)).map(str::to_owned);
    {
        let name = mapped.config_name.as_str();
        let (public_id, parent_id, shape) = match mapped.kind {
            Kind::Sources => (id_of(Kind::Sources, name), None, source_shape(&mapped)),
            Kind::SchemaConfigs => {
                let source = name.strip_suffix("/schema-config").unwrap_or(name);
                let shape = body(&mapped, Step::UpdateSourceSchemaSettings)
                    .map(|b| object([("settings", b.clone())]));
                (id_of(Kind::Sources, source), None, shape)
            }
            Kind::Destinations => (
                id_of(Kind::Destinations, name),
                None,
                destination_shape(&mapped, enabled.get(name).copied().unwrap_or(false)),
            ),
            Kind::DestinationFilters => {
                let destination = crate::mapping::filters::destination_of(name);
                (
                    id_of(Kind::DestinationFilters, name),
                    id_of(Kind::Destinations, destination),
                    filter_shape(&mapped),
                )
            }
            Kind::TrackingPlans => (
                id_of(Kind::TrackingPlans, name),
                None,
                tracking_plan_shape(&mut mapped),
            ),
            Kind::TrackingPlanConnections => {
                let plan = name
                    .rsplit_once("/source-connections/")
                    .map_or(name, |(plan, _)| plan);
                let shape = body(&mapped, Step::ConnectSourceToPlan)
                    .and_then(|b| b.get("sourceId"))
                    .map(|s| object([("sourceId", fill_refs(s))]));
                (None, id_of(Kind::TrackingPlans, plan), shape)
            }
            Kind::Functions => (
                id_of(Kind::Functions, name),
                None,
                function_shape(&mapped, inputs.tables, inputs.workspace_name),
            ),
            _ => return None,
        };
        let blockers: Vec<String> = mapped
            .findings
            .iter()
            .filter(|f| f.severity == crate::mapping::Severity::Blocker)
            .map(|f| f.message.clone())
            .collect();
        let shape = if blockers.is_empty() {
            shape.map(|mut s| {
                fill_refs_in_place(&mut s);
                s.into()
            })
        } else {
            None
        };
        Some(Expected {
            kind: mapped.kind,
            config_name: mapped.config_name,
            public_id,
            parent_id,
            shape,
            blockers,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The expected side of every object of the audited kinds in `inputs.snapshot`.
    fn expected<S: SnapshotSource<Error = Infallible>>(inputs: &Inputs<'_, S>) -> Vec<Expected> {
        let mut out = Vec::new();
        by_kind(inputs, &AUDITED.into_iter().collect(), |_, shapes| {
            out.extend(shapes)
        });
        out
    }

    /// Builds an [`IdMap`] from `(kind, config name, field, public id)` rows (the ledger's id map).
    fn id_map<'a>(rows: impl IntoIterator<Item = (&'a str, &'a str, &'a str, &'a str)>) -> IdMap {
        let mut ids = IdMap::new();
        for (kind, config_name, field, public_id) in rows {
            if let Ok(kind) = kind.parse::<Kind>() {
                add_id(&mut ids, kind, config_name.to_owned(), field, public_id);
            }
        }
        ids
    }

    /// The inputs of the tests: `snapshot` mapped into workspace `w1`, "Target WS".
    fn inputs<'a>(
        snapshot: &'a Snapshot,
        catalog: &'a TargetCatalog,
        ids: &'a IdMap,
    ) -> Inputs<'a> {
        Inputs {
            snapshot,
            tables: Tables::embedded(),
            catalog,
            workspace_id: "w1",
            workspace_name: "Target WS",
            ids,
        }
    }

    fn catalog() -> TargetCatalog {
        let sources =
            [json!({"id": "m-js", "slug": "javascript", "name": "Javascript", "options": []})];
        let destinations = [json!({
            "id": "m-ga", "slug": "google-analytics", "name": "Google Analytics",
            "options": [{"name": "trackingId"}, {"name": "password"}],
        })];
        TargetCatalog::from_public(sources.iter(), destinations.iter()).unwrap()
    }

    fn snapshot() -> Snapshot {
        let mut snapshot = Snapshot::default();
        snapshot.push(
            Kind::Sources,
            "workspaces/ws/sources/js",
            json!({"name": "workspaces/ws/sources/js", "catalog_name": "catalog/sources/javascript",
                   "display_name": "js", "labels": {"env": "prod"}}),
        );
        snapshot.push(
            Kind::Destinations,
            "workspaces/ws/sources/js/destinations/google-analytics",
            json!({"display_name": "Google Analytics", "enabled": true, "config": [
                {"name": "workspaces/ws/sources/js/destinations/google-analytics/config/trackingId",
                 "type": "string", "value": "UA-1"},
                {"name": "workspaces/ws/sources/js/destinations/google-analytics/config/password",
                 "type": "password", "value": {"segbridge_secret": "present", "hmac_sha256": "ab"}},
            ]}),
        );
        snapshot.push(
            Kind::Functions,
            "fn1",
            json!({"id": "fn1", "display_name": "Enrich", "code": "c", "type": "DESTINATION", "settings": []}),
        );
        snapshot
    }

    #[test]
    fn shapes_come_from_the_mapping_with_ids_from_the_ledger() {
        let ids = id_map([("sources", "workspaces/ws/sources/js", "id", "src-1")]);
        let (snapshot, catalog) = (snapshot(), catalog());
        let out = expected(&inputs(&snapshot, &catalog, &ids));
        let find = |kind: Kind| out.iter().find(|e| e.kind == kind).unwrap();

        let source = find(Kind::Sources);
        assert_eq!(source.public_id.as_deref(), Some("src-1"));
        let shape = source.shape.as_ref().unwrap().value();
        assert_eq!(
            shape["name"], "js",
            "a source named after its slug keeps it"
        );
        assert_eq!(shape["metadataId"], "m-js");
        assert_eq!(shape["labels"], json!({"env:prod": true}));

        let destination = find(Kind::Destinations);
        assert_eq!(destination.public_id, None, "not created yet");
        let shape = destination.shape.as_ref().unwrap().value();
        assert_eq!(shape["sourceId"], "src-1");
        assert_eq!(
            shape["enabled"], true,
            "the source's state, not the create's"
        );
        assert_eq!(shape["settings"]["trackingId"], "UA-1");
        assert!(secret_marker(&shape["settings"]["password"]).is_some());
        assert!(!shape.to_string().contains("\"ab\""), "no hash either");

        let function = find(Kind::Functions);
        let shape = function.shape.as_ref().unwrap().value();
        assert_eq!(shape["displayName"], "Enrich (Target WS)");
    }

    #[test]
    fn batches_keep_the_filters_of_a_destination_together_and_lose_nothing() {
        let mut snapshot = snapshot();
        let mut rows = vec![("sources", "workspaces/ws/sources/js", "id", "src-1")];
        let destinations = ["webhooks", "amplitude", "google-analytics"];
        let names: Vec<String> = destinations
            .iter()
            .flat_map(|d| {
                (1..=3)
                    .map(move |n| format!("workspaces/ws/sources/js/destinations/{d}/filters/f{n}"))
            })
            .collect();
        for name in &names {
            snapshot.push(
                Kind::DestinationFilters,
                name,
                json!({"name": name, "title": "t", "if": "event = \"a\"", "enabled": true,
                       "actions": [{"type": "drop_event"}]}),
            );
            rows.push(("destination_filters", name, "id", name));
        }
        let (ids, catalog) = (id_map(rows), catalog());
        let inputs = inputs(&snapshot, &catalog, &ids);
        let kinds = AUDITED.into_iter().collect();
        let whole = expected(&inputs);
        // A batch of one byte is handed over at the first object that may start a new one.
        let mut batches: Vec<(Kind, Vec<Expected>)> = Vec::new();
        in_batches(&inputs, &kinds, 1, |kind, batch| {
            batches.push((kind, batch))
        });

        let names_of = |shapes: &[Expected]| -> Vec<String> {
            shapes.iter().map(|e| e.config_name.clone()).collect()
        };
        let batched: Vec<Expected> = batches.iter().flat_map(|(_, b)| b.clone()).collect();
        assert_eq!(
            names_of(&batched),
            names_of(&whole),
            "the same shapes, in the same order"
        );
        let filter_batches: Vec<Vec<String>> = batches
            .iter()
            .filter(|(kind, _)| *kind == Kind::DestinationFilters)
            .map(|(_, b)| names_of(b))
            .collect();
        assert_eq!(
            filter_batches.len(),
            3,
            "one batch per destination: {filter_batches:?}"
        );
        for batch in filter_batches {
            let destination = crate::mapping::filters::destination_of(&batch[0]).to_owned();
            assert_eq!(batch.len(), 3, "{batch:?}");
            assert!(
                batch
                    .iter()
                    .all(|n| crate::mapping::filters::destination_of(n) == destination)
            );
        }
        for kind in &kinds {
            assert!(
                batches.iter().any(|(k, _)| k == kind),
                "every audited kind is handed over, empty or not: {kind}"
            );
        }
    }

    #[test]
    fn a_reference_without_an_id_is_readable_text() {
        let (snapshot, catalog) = (snapshot(), catalog());
        let out = expected(&inputs(&snapshot, &catalog, &IdMap::new()));
        let destination = out.iter().find(|e| e.kind == Kind::Destinations).unwrap();
        assert_eq!(
            destination.shape.as_ref().unwrap().value()["sourceId"],
            "<no Public id for sources `workspaces/ws/sources/js`>"
        );
    }
}
