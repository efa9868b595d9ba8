//! The comparison proper: pairs each expected object with what the target holds under the id
//! the ledger recorded, decides its [`Status`], and lists what the target holds that nothing
//! maps to. Pure: no I/O, so every rule below has a unit test.
//!
//! Rules, each the reason for a branch:
//! - An object with a Public id that the target lacks is `missing-in-target`. An object without
//!   one is `missing-in-target` when the plan migrates it (apply has not made it) or when the
//!   plan does not know it (it appeared in the source after `plan`), and `not-comparable` when
//!   the plan left it out on purpose (`manual` or `skip`: nothing was to be written).
//! - Filters carry their `position` among the filters of their destination that both sides
//!   hold, in Config order on one side and in list order on the other: filters apply in order,
//!   and counting only the shared ones keeps one deleted filter from shifting all the others.
//! - Destinations are created disabled and enabled at cut-over. Before cut-over (no
//!   `--with-metrics`), "enabled in the source, disabled in the target" is a note, not a
//!   difference; after it (`strict_enabled`), `enabled` must be equal.
//! - A target object of an audited kind whose id no expected object carries is
//!   `unexpected-in-target`; when the ledger maps it to a Config name the note says so (the
//!   object was migrated, then removed from the source).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{Value, json};

use super::actual;
use super::diff;
use super::expected::Expected;
use super::plan_rules;
use super::report::{ResourceResult, Status};
use super::target::TargetState;
use crate::mapping::TextMap;
use crate::model::{JsonText, Kind, string_field};

/// How strictly to compare.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompareOptions {
    /// After cut-over: a destination's `enabled` must equal the source's.
    pub strict_enabled: bool,
}

/// What the ledger knows besides the expected objects.
#[derive(Debug, Clone, Default)]
pub struct LedgerView {
    /// (kind, Config name) → the latest plan's action (`create`, `adopt`, `update`, `skip`,
    /// `manual`).
    pub actions: HashMap<(Kind, String), String>,
    /// (kind, Public id) → Config name, from the id map: of the objects the target holds that
    /// no expected object claimed (see [`unclaimed`]), all the comparison asks it of.
    pub names: HashMap<(Kind, String), String>,
}

fn without_id(expected: &Expected, ledger: &LedgerView) -> ResourceResult {
    let result = ResourceResult::new(expected.kind, Some(expected.config_name.clone()), None);
    match ledger
        .actions
        .get(&(expected.kind, expected.config_name.clone()))
        .map(String::as_str)
    {
        None => result.with_status(Status::MissingInTarget).note(
            "The latest plan does not know this object (it appeared in the source after \
             `plan`); plan and apply again.",
        ),
        Some(action @ ("manual" | "skip")) => {
            let mut result = result.with_status(Status::NotComparable).note(format!(
                "Not migrated: the plan's action is `{action}`, so the target is not expected to \
                 hold it."
            ));
            result.notes.extend(expected.blockers.iter().cloned());
            result
        }
        Some(action) => result.with_status(Status::MissingInTarget).note(format!(
            "The plan's action is `{action}` but the ledger records no Public id for it: `apply` \
             has not made it."
        )),
    }
}

/// Diffs two shapes into `result`, setting its status.
fn judge(result: ResourceResult, expected: &Value, actual: &Value) -> ResourceResult {
    judged(result, diff::compare(Some(expected), Some(actual), ""))
}

/// `result` with the fields of `comparison`, and its status from them.
fn judged(mut result: ResourceResult, comparison: diff::Comparison) -> ResourceResult {
    result.differences = comparison.differences;
    result.not_comparable = comparison.not_comparable;
    result.status = if result.differences.is_empty() {
        Status::Match
    } else {
        Status::Differ
    };
    result
}

/// The position of each filter among those both sides hold, per side.
fn filter_positions(
    expected: &[Expected],
    target: &TargetState,
) -> HashMap<String, (usize, usize)> {
    let mut by_destination: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for e in expected
        .iter()
        .filter(|e| e.kind == Kind::DestinationFilters)
    {
        if let (Some(id), Some(dest)) = (&e.public_id, &e.parent_id) {
            by_destination.entry(dest).or_default().push(id);
        }
    }
    let mut out = HashMap::new();
    for (dest, wanted) in by_destination {
        let listed = filter_ids(&target.filters, dest);
        let listed: Vec<&str> = listed.iter().map(String::as_str).collect();
        let listed_set: HashSet<&str> = listed.iter().copied().collect();
        let wanted_set: HashSet<&str> = wanted.iter().copied().collect();
        let shared_wanted: Vec<&str> = wanted
            .into_iter()
            .filter(|id| listed_set.contains(id))
            .collect();
        let shared_listed: Vec<&str> = listed
            .into_iter()
            .filter(|id| wanted_set.contains(id))
            .collect();
        for (expected_pos, id) in shared_wanted.iter().enumerate() {
            if let Some(actual_pos) = shared_listed.iter().position(|l| l == id) {
                out.insert((*id).to_owned(), (expected_pos, actual_pos));
            }
        }
    }
    out
}

/// The ids of the filters the target lists for a destination, in order.
fn filter_ids(filters: &TextMap, destination: &str) -> Vec<String> {
    let mut ids = Vec::with_capacity(filters.count(destination).unwrap_or_default());
    filters.each(destination, |filter| ids.extend(string_field(filter, "id")));
    ids
}

fn find_filter(target: &TargetState, destination: &str, id: &str) -> Option<Value> {
    let mut found = None;
    target.filters.each(destination, |filter| {
        if found.is_none() && string_field(filter, "id").as_deref() == Some(id) {
            found = serde_json::from_str(filter).ok();
        }
    });
    found
}

/// The actual shape of an expected object, `None` when the target lacks it.
fn actual_shape(e: &Expected, id: &str, target: &TargetState) -> Option<Value> {
    match e.kind {
        Kind::Sources => target.sources.get(id).map(|s| actual::source(&s.value())),
        Kind::SchemaConfigs => {
            let settings = &target.schema_settings.get(id)?.value();
            let shape = e.shape.as_ref().map(JsonText::value);
            let wanted = shape
                .as_ref()
                .and_then(|s| s.get("settings"))
                .unwrap_or(&Value::Null);
            Some(json!({ "settings": actual::schema_settings(settings, wanted) }))
        }
        Kind::Destinations => target
            .destinations
            .value(id)
            .map(|d| actual::destination(&d)),
        Kind::DestinationFilters => {
            let destination = e.parent_id.as_deref()?;
            find_filter(target, destination, id).map(|f| actual::filter(&f, destination))
        }
        Kind::Functions => target
            .functions
            .get(id)
            .map(|f| actual::function(&f.value())),
        _ => None,
    }
}

fn connection(e: &Expected, target: &TargetState, ledger: &LedgerView) -> ResourceResult {
    // A connection the plan left out (its source was left to a person, say) is not expected in
    // the target, whatever ids its tracking plan has.
    let action = ledger.actions.get(&(e.kind, e.config_name.clone()));
    if matches!(action.map(String::as_str), Some("manual" | "skip")) {
        return without_id(e, ledger);
    }
    let Some(plan_id) = &e.parent_id else {
        return without_id(e, ledger);
    };
    let Some(shape) = e.shape.as_ref().map(JsonText::value) else {
        let mut result = ResourceResult::new(e.kind, Some(e.config_name.clone()), None)
            .with_status(Status::NotComparable);
        result.notes.extend(e.blockers.iter().cloned());
        return result;
    };
    let source_id = shape
        .get("sourceId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let public_id = format!("{plan_id}/sources/{source_id}");
    let result = ResourceResult::new(e.kind, Some(e.config_name.clone()), Some(public_id));
    if !target.tracking_plans.contains_key(plan_id) {
        return result.with_status(Status::MissingInTarget).note(format!(
            "Its tracking plan `{plan_id}` is not in the target."
        ));
    }
    let connected = target
        .plan_sources
        .get(plan_id)
        .is_some_and(|s| s.iter().any(|id| id == source_id));
    if connected {
        result
    } else {
        result.with_status(Status::MissingInTarget).note(format!(
            "Source `{source_id}` is not connected to tracking plan `{plan_id}`."
        ))
    }
}

/// Compares every expected object of `kinds` with the target, then lists the unexpected ones.
pub fn compare(
    expected: &[Expected],
    target: &TargetState,
    ledger: &LedgerView,
    kinds: &BTreeSet<Kind>,
    options: CompareOptions,
) -> Vec<ResourceResult> {
    let mut claimed = Claimed::default();
    claimed.add(expected);
    let mut results = compare_expected(expected, target, ledger, kinds, options);
    let unclaimed = unclaimed(&claimed, target, kinds);
    results.extend(unexpected(&claimed, unclaimed, target, ledger, kinds));
    results
}

/// An object the ledger maps to an id the target does not hold.
fn missing(result: ResourceResult, id: &str) -> ResourceResult {
    result.with_status(Status::MissingInTarget).note(format!(
        "The ledger maps it to `{id}`, which the target does not hold."
    ))
}

/// An object whose mapping is blocked: there is nothing to compare it with.
fn blocked(result: ResourceResult, e: &Expected) -> ResourceResult {
    let mut result = result.with_status(Status::NotComparable);
    result
        .notes
        .push("The mapping blocks this object, so there is no expected shape to compare:".into());
    result.notes.extend(e.blockers.iter().cloned());
    result
}

/// A tracking plan: compared rule by rule ([`plan_rules`]), its rules never parsed whole.
fn tracking_plan(
    e: &Expected,
    id: &str,
    target: &TargetState,
    result: ResourceResult,
) -> ResourceResult {
    let Some(plan) = target.tracking_plans.get(id) else {
        return missing(result, id);
    };
    let Some(shape) = &e.shape else {
        return blocked(result, e);
    };
    let comparison = plan_rules::compare(shape.as_str(), &plan.value(), target.rules.get(id));
    judged(result, comparison)
}

/// What the expected objects compared so far claim of the target: what [`unexpected`] needs
/// of them, so that they can be compared in batches and let go.
#[derive(Debug, Default)]
pub struct Claimed {
    /// Public ids of every expected object that has one, by kind.
    ids: HashMap<Kind, HashSet<String>>,
    /// Tracking plan id → ids of the sources the expected connections connect to it.
    connections: BTreeMap<String, HashSet<String>>,
}

impl Claimed {
    /// Adds what a batch of expected objects claims.
    pub fn add(&mut self, expected: &[Expected]) {
        for e in expected {
            if let Some(id) = &e.public_id {
                self.ids.entry(e.kind).or_default().insert(id.clone());
            }
            if e.kind == Kind::TrackingPlanConnections
                && let Some(plan) = &e.parent_id
            {
                let source = e
                    .shape
                    .as_ref()
                    .map(JsonText::value)
                    .and_then(|s| s.get("sourceId")?.as_str().map(str::to_owned));
                self.connections
                    .entry(plan.clone())
                    .or_default()
                    .extend(source);
            }
        }
    }
}

/// Compares every expected object of `kinds` with the target; the unexpected ones are left to
/// [`unexpected`], once every batch is compared. A batch holds all the filters of each of its
/// destinations, or their positions are counted among too few.
pub fn compare_expected(
    expected: &[Expected],
    target: &TargetState,
    ledger: &LedgerView,
    kinds: &BTreeSet<Kind>,
    options: CompareOptions,
) -> Vec<ResourceResult> {
    let positions = filter_positions(expected, target);
    let mut results = Vec::new();
    for e in expected.iter().filter(|e| kinds.contains(&e.kind)) {
        if e.kind == Kind::TrackingPlanConnections {
            results.push(connection(e, target, ledger));
            continue;
        }
        let Some(id) = &e.public_id else {
            results.push(without_id(e, ledger));
            continue;
        };
        let result = ResourceResult::new(e.kind, Some(e.config_name.clone()), Some(id.clone()));
        if e.kind == Kind::TrackingPlans {
            results.push(tracking_plan(e, id, target, result));
            continue;
        }
        let Some(mut actual) = actual_shape(e, id, target) else {
            results.push(missing(result, id));
            continue;
        };
        let Some(mut shape) = e.shape.as_ref().map(JsonText::value) else {
            results.push(blocked(result, e));
            continue;
        };
        let mut notes = Vec::new();
        if e.kind == Kind::DestinationFilters
            && let Some((want, got)) = positions.get(id)
        {
            shape["position"] = json!(want);
            actual["position"] = json!(got);
        }
        if e.kind == Kind::Destinations
            && !options.strict_enabled
            && shape["enabled"] == json!(true)
            && actual["enabled"] == json!(false)
        {
            actual["enabled"] = json!(true);
            notes.push(
                "Pending cut-over: enabled in the source, still disabled in the target \
                 (destinations are created disabled; `--with-metrics` compares `enabled` \
                 strictly)."
                    .to_owned(),
            );
        }
        let mut result = judge(result, &shape, &actual);
        result.notes.extend(notes);
        results.push(result);
    }
    results
}

/// (kind, Public id) of what the target holds of `kinds` (connections aside) that no
/// expected object claimed, in the target's order.
pub fn unclaimed(
    claimed: &Claimed,
    target: &TargetState,
    kinds: &BTreeSet<Kind>,
) -> Vec<(Kind, String)> {
    let mut out = Vec::new();
    let mut flag = |kind: Kind, id: &str| {
        if !claimed.ids.get(&kind).is_some_and(|ids| ids.contains(id)) {
            out.push((kind, id.to_owned()));
        }
    };
    let lists: [(Kind, &BTreeMap<String, JsonText>); 3] = [
        (Kind::Sources, &target.sources),
        (Kind::TrackingPlans, &target.tracking_plans),
        (Kind::Functions, &target.functions),
    ];
    for (kind, objects) in lists {
        if kinds.contains(&kind) {
            objects.keys().for_each(|id| flag(kind, id));
        }
    }
    if kinds.contains(&Kind::Destinations) {
        target
            .destinations
            .keys()
            .for_each(|id| flag(Kind::Destinations, id));
    }
    if kinds.contains(&Kind::DestinationFilters) {
        for destination in target.filters.keys() {
            for id in filter_ids(&target.filters, destination) {
                flag(Kind::DestinationFilters, &id);
            }
        }
    }
    out
}

/// What the target holds of `kinds` that no expected object claimed: `unclaimed` as
/// [`unclaimed`] gives it, and the connections. `ledger.names` needs to name only the
/// `unclaimed` objects.
pub fn unexpected(
    claimed: &Claimed,
    unclaimed: Vec<(Kind, String)>,
    target: &TargetState,
    ledger: &LedgerView,
    kinds: &BTreeSet<Kind>,
) -> Vec<ResourceResult> {
    let mut out: Vec<ResourceResult> = unclaimed
        .into_iter()
        .map(|(kind, id)| {
            let name = ledger.names.get(&(kind, id.clone()));
            let result =
                ResourceResult::new(kind, None, Some(id)).with_status(Status::UnexpectedInTarget);
            match name {
                Some(name) => result.note(format!(
                    "Migrated from `{name}`, which the source no longer holds."
                )),
                None => result.note("No Config object maps to it: it was made in the target."),
            }
        })
        .collect();
    if kinds.contains(&Kind::TrackingPlanConnections) {
        // Connections of the plans the audit expects connections on; another plan is itself
        // unexpected (or not audited).
        for (plan, sources) in &claimed.connections {
            for source in target.plan_sources.get(plan).into_iter().flatten() {
                if !sources.contains(source.as_str()) {
                    out.push(
                        ResourceResult::new(
                            Kind::TrackingPlanConnections,
                            None,
                            Some(format!("{plan}/sources/{source}")),
                        )
                        .with_status(Status::UnexpectedInTarget)
                        .note("No Config source connection maps to it: it was made in the target."),
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(kind: Kind, name: &str, id: Option<&str>, shape: Value) -> Expected {
        Expected {
            kind,
            config_name: name.into(),
            public_id: id.map(str::to_owned),
            parent_id: None,
            shape: Some(shape.into()),
            blockers: vec![],
        }
    }

    fn all() -> BTreeSet<Kind> {
        super::super::expected::AUDITED.into_iter().collect()
    }

    /// A destination's filters as the target lists them.
    fn listed(filters: &[Value]) -> Vec<String> {
        filters.iter().map(Value::to_string).collect()
    }

    fn destination(enabled: bool, tracking: &str) -> Value {
        json!({"id": "d1", "name": "GA", "enabled": enabled, "sourceId": "s1",
               "metadata": {"id": "m1"}, "settings": {"trackingId": tracking}})
    }

    fn expected_destination(enabled: bool) -> Expected {
        expected(
            Kind::Destinations,
            "ws/sources/js/destinations/ga",
            Some("d1"),
            json!({"name": "GA", "metadataId": "m1", "sourceId": "s1",
                   "settings": {"trackingId": "UA-1"}, "enabled": enabled}),
        )
    }

    #[test]
    fn statuses_follow_the_target() {
        let mut target = TargetState::default();
        target
            .destinations
            .insert("d1".into(), [destination(true, "UA-2").to_string()]);
        target
            .destinations
            .insert("d9".into(), [destination(true, "UA-9").to_string()]);
        let gone = expected(
            Kind::Destinations,
            "ws/sources/js/destinations/gone",
            Some("d5"),
            json!({}),
        );
        let mut ledger = LedgerView::default();
        ledger
            .actions
            .insert((Kind::Destinations, "new".into()), "manual".into());
        let unplanned = Expected {
            public_id: None,
            ..expected(Kind::Destinations, "new", None, json!({}))
        };
        let results = compare(
            &[expected_destination(true), gone, unplanned],
            &target,
            &ledger,
            &all(),
            CompareOptions::default(),
        );
        let statuses: Vec<Status> = results.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                Status::Differ,
                Status::MissingInTarget,
                Status::NotComparable,
                Status::UnexpectedInTarget
            ]
        );
        assert_eq!(results[0].differences[0].path, "settings.trackingId");
        assert_eq!(results[3].public_id.as_deref(), Some("d9"));
    }

    #[test]
    fn a_disabled_destination_is_pending_cut_over_until_strict() {
        let mut target = TargetState::default();
        target
            .destinations
            .insert("d1".into(), [destination(false, "UA-1").to_string()]);
        let e = [expected_destination(true)];
        let lenient = compare(
            &e,
            &target,
            &LedgerView::default(),
            &all(),
            CompareOptions::default(),
        );
        assert_eq!(lenient[0].status, Status::Match);
        assert!(lenient[0].notes[0].contains("cut-over"));
        let strict = compare(
            &e,
            &target,
            &LedgerView::default(),
            &all(),
            CompareOptions {
                strict_enabled: true,
            },
        );
        assert_eq!(strict[0].status, Status::Differ);
        assert_eq!(strict[0].differences[0].path, "enabled");
        // Enabled in the target but not in the source is a difference either way.
        target
            .destinations
            .insert("d1".into(), [destination(true, "UA-1").to_string()]);
        let e = [expected_destination(false)];
        let results = compare(
            &e,
            &target,
            &LedgerView::default(),
            &all(),
            CompareOptions::default(),
        );
        assert_eq!(results[0].status, Status::Differ);
    }

    #[test]
    fn filter_order_is_compared_among_the_filters_both_sides_hold() {
        let filter = |id: &str, title: &str| {
            json!({"id": id, "sourceId": "s1", "destinationId": "d1", "if": "all",
                   "actions": [], "title": title, "enabled": true})
        };
        let shape = |title: &str| {
            json!({"sourceId": "s1", "destinationId": "d1", "if": "all", "actions": [],
                   "title": title, "enabled": true, "description": null})
        };
        let e: Vec<Expected> = ["a", "b", "c"]
            .iter()
            .map(|t| Expected {
                parent_id: Some("d1".into()),
                ..expected(
                    Kind::DestinationFilters,
                    &format!("f/{t}"),
                    Some(&format!("id-{t}")),
                    shape(t),
                )
            })
            .collect();
        let mut target = TargetState::default();
        // `a` deleted, `c` moved before `b`.
        target.filters.insert(
            "d1".into(),
            listed(&[filter("id-c", "c"), filter("id-b", "b")]),
        );
        let results = compare(
            &e,
            &target,
            &LedgerView::default(),
            &all(),
            CompareOptions::default(),
        );
        assert_eq!(results[0].status, Status::MissingInTarget);
        assert_eq!(results[1].status, Status::Differ);
        assert_eq!(results[1].differences[0].path, "position");
        assert_eq!(results[2].differences[0].path, "position");

        target.filters.insert(
            "d1".into(),
            listed(&[filter("id-b", "b"), filter("id-c", "c")]),
        );
        let results = compare(
            &e,
            &target,
            &LedgerView::default(),
            &all(),
            CompareOptions::default(),
        );
        assert_eq!(results[1].status, Status::Match, "{:?}", results[1]);
        assert_eq!(results[2].status, Status::Match);
    }

    #[test]
    fn unexpected_objects_name_the_config_object_they_came_from() {
        let mut target = TargetState::default();
        target
            .sources
            .insert("s7".into(), json!({"id": "s7"}).into());
        let mut ledger = LedgerView::default();
        ledger
            .names
            .insert((Kind::Sources, "s7".into()), "ws/sources/old".into());
        let results = compare(&[], &target, &ledger, &all(), CompareOptions::default());
        assert_eq!(results[0].status, Status::UnexpectedInTarget);
        assert!(results[0].notes[0].contains("ws/sources/old"));
        let only_destinations = [Kind::Destinations].into_iter().collect();
        assert!(
            compare(
                &[],
                &target,
                &ledger,
                &only_destinations,
                CompareOptions::default()
            )
            .is_empty()
        );
    }

    /// The expected connection of source `source` to tracking plan `tp1`.
    fn connection(source: &str) -> Expected {
        Expected {
            parent_id: Some("tp1".into()),
            ..expected(
                Kind::TrackingPlanConnections,
                &format!("ws/tracking-plans/rs_1/source-connections/{source}"),
                None,
                json!({"sourceId": source}),
            )
        }
    }

    #[test]
    fn connections_are_matched_by_plan_and_source() {
        let mut target = TargetState::default();
        target.tracking_plans.insert("tp1".into(), json!({}).into());
        target
            .plan_sources
            .insert("tp1".into(), vec!["s1".into(), "s3".into()]);
        let results = compare(
            &[connection("s1"), connection("s2")],
            &target,
            &LedgerView::default(),
            &[Kind::TrackingPlanConnections].into_iter().collect(),
            CompareOptions::default(),
        );
        let statuses: Vec<Status> = results.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                Status::Match,
                Status::MissingInTarget,
                Status::UnexpectedInTarget
            ]
        );
        assert_eq!(results[2].public_id.as_deref(), Some("tp1/sources/s3"));

        // One the plan skipped (its source was left to a person) is not expected.
        let mut ledger = LedgerView::default();
        let skipped = connection("s2");
        ledger.actions.insert(
            (Kind::TrackingPlanConnections, skipped.config_name.clone()),
            "skip".into(),
        );
        let results = compare(
            &[skipped],
            &target,
            &ledger,
            &[Kind::TrackingPlanConnections].into_iter().collect(),
            CompareOptions::default(),
        );
        assert_eq!(results[0].status, Status::NotComparable, "{:?}", results[0]);
        assert!(
            results[0].notes[0].contains("`skip`"),
            "{:?}",
            results[0].notes
        );
    }

    #[test]
    fn what_earlier_batches_claimed_is_not_unexpected() {
        let batches = [
            vec![expected(
                Kind::Sources,
                "ws/sources/a",
                Some("s1"),
                json!({}),
            )],
            vec![
                expected(
                    Kind::TrackingPlans,
                    "ws/tracking-plans/rs_1",
                    Some("tp1"),
                    json!({}),
                ),
                connection("s1"),
            ],
            vec![expected(
                Kind::Sources,
                "ws/sources/b",
                Some("s2"),
                json!({}),
            )],
        ];
        let mut target = TargetState::default();
        for id in ["s1", "s2", "s3"] {
            target.sources.insert(id.into(), json!({"id": id}).into());
        }
        target.tracking_plans.insert("tp1".into(), json!({}).into());
        target
            .plan_sources
            .insert("tp1".into(), vec!["s1".into(), "s2".into()]);
        let mut claimed = Claimed::default();
        batches.iter().for_each(|batch| claimed.add(batch));
        let unexpected: Vec<Option<String>> = unexpected(
            &claimed,
            unclaimed(&claimed, &target, &all()),
            &target,
            &LedgerView::default(),
            &all(),
        )
        .into_iter()
        .map(|r| r.public_id)
        .collect();
        assert_eq!(
            unexpected,
            [Some("s3".to_owned()), Some("tp1/sources/s2".to_owned())],
            "only what no batch claimed"
        );
    }
}
