//! In what order, and with what overlap, the payloads of a plan are sent.
//!
//! Role: [`phases`] cuts a plan's payloads into phases, one per step, in [`STEP_ORDER`]; a
//! phase starts when the one before it has finished, except the steps of [`BESIDE`] (labels),
//! which run beside the phases before the first one that needs them. Inside a phase the
//! payloads are cut into [`Lane`]s that may run at the same time; a lane sends its payloads one
//! after the other.
//!
//! Why phases by step rather than a graph of items: every dependency a plan has runs from a
//! later step to an earlier one (a destination needs its source, a filter its destination,
//! labels on a source need the label, which another source's item may create), and some of them
//! are not written as `$ref`s at all (labels are named by key and value). Ordering whole steps
//! keeps all of them without having to name each. The cost is a drain at each of the few step
//! boundaries, while the rate limits, not the overlap, bound the speed.
//!
//! Why lanes: two payloads must not overlap when one could be taken for the other. A create
//! whose outcome is unknown is reconciled by looking its natural key up in the target; if a
//! twin with the same key were being created at that moment, the lookup could claim the twin's
//! object. So payloads of items with the same natural key share a lane, and so do the filters
//! of one destination, which the Public API keeps in the order they were created.
//!
//! Batches: the Public API takes many invitations in one `POST /invites`, an endpoint limited
//! to 60 requests a minute, so invitations not sent before go together, up to
//! [`MAX_INVITES_PER_REQUEST`] in one [`Lane`] marked `batch`. Each keeps its own payload row
//! (and its own line in reports); only the request is shared. An invitation an earlier run may
//! have sent, or two payloads for one email, keep lanes of their own, which reconcile first.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use crate::ledger::{StoredItem, StoredPayload};
use crate::mapping::ref_marker;
use crate::public_api::writer::MAX_INVITES_PER_REQUEST;

/// The step whose payloads go in batches.
pub const BATCHED_STEP: &str = "invite_user";

/// The steps in the order they are applied: functions first (a function-instance source is
/// created from its function's catalog id and a destination function must be deployed before
/// it is instantiated), then sources with their names and labels, Protocols settings,
/// tracking plans with their rules and connected sources, destinations, their filters, IAM,
/// and last the cut-over, which enables what the source workspace had enabled.
pub const STEP_ORDER: &[&str] = &[
    "create_function",
    "deploy_function",
    "create_source",
    "name_source",
    "create_label",
    "set_source_labels",
    "update_source_schema_settings",
    "create_tracking_plan",
    "replace_rules",
    "upsert_rules",
    "connect_source_to_plan",
    "create_destination",
    "create_filter",
    "invite_user",
    "add_user_permissions",
    "enable_source",
    "enable_destination",
];

/// Steps sent beside the steps before them rather than in line, each with the first step that
/// needs it done: `(step, needed by)`. Labels have an endpoint limit of their own (60 requests a
/// minute, against a default of 1,000), so in line they held every other write back for as
/// long as they took (13 labels: 0.2 s of a 2.9 s `apply` at `--time-scale 60`, 13 s at real
/// speed), and nothing before `set_source_labels` needs them: a label is named by its key and
/// value, not by an id. A label that fails breaks its item (the source that first uses it)
/// only once the steps beside it are done, so the source is still created and named, as it was
/// when its labels came after it.
pub const BESIDE: &[(&str, &str)] = &[("create_label", "set_source_labels")];

/// Whether `step` is sent beside the steps before it (see [`BESIDE`]).
pub fn runs_beside(step: &str) -> bool {
    BESIDE.iter().any(|(beside, _)| *beside == step)
}

/// Splits `steps` (in [`STEP_ORDER`]) into the steps sent beside the others, the steps they
/// run beside, and the steps after the first one that needs them done.
pub fn split_beside(steps: Vec<String>) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (beside, mut in_line): (Vec<String>, Vec<String>) =
        steps.into_iter().partition(|s| runs_beside(s));
    let needed_at = in_line
        .iter()
        .position(|step| {
            BESIDE
                .iter()
                .any(|(b, needed_by)| needed_by == step && beside.iter().any(|s| s == b))
        })
        .unwrap_or(in_line.len());
    let after = in_line.split_off(needed_at);
    (beside, in_line, after)
}

/// Where a step sits in [`STEP_ORDER`]; a step this release does not know comes last (and
/// fails when sent, with a message naming it).
pub fn phase_of(step: &str) -> usize {
    STEP_ORDER
        .iter()
        .position(|s| *s == step)
        .unwrap_or(STEP_ORDER.len())
}

/// Payloads sent one after the other, in plan order.
#[derive(Debug, Clone)]
pub struct Lane<'a> {
    pub payloads: Vec<&'a StoredPayload>,
    /// The order is part of the result (the filters of one destination): once one payload is
    /// not applied, the rest of the lane waits for a later run, so that nothing overtakes it.
    pub ordered: bool,
    /// The payloads go in one request ([`BATCHED_STEP`]); they have distinct natural keys.
    pub batch: bool,
}

/// One step's payloads, cut into lanes.
#[derive(Debug, Clone)]
pub struct Phase<'a> {
    pub step: &'a str,
    pub lanes: Vec<Lane<'a>>,
}

impl Phase<'_> {
    pub fn len(&self) -> usize {
        self.lanes.iter().map(|l| l.payloads.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What makes two payloads of one phase share a lane.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum LaneKey {
    /// Filters of one destination (the Config name of the destination, or its id).
    Destination(String),
    /// Items with the same natural key.
    NaturalKey(String, String),
    /// Invitations of one email, whichever item (a user, an invite) asks for them: they are
    /// reconciled by email.
    Email(String),
    /// Nothing in common with anything: a lane of its own.
    Alone(i64, i64),
}

/// The one field of a stored payload a filter's lane is found from; the rest of the text is
/// skipped, not parsed.
#[derive(Deserialize)]
struct PathParams {
    #[serde(default)]
    path_params: Vec<(String, Value)>,
}

/// Whether the lanes of `step` are found from its payloads' bodies (an invitation's email), which
/// a step's payloads must then be read with.
pub fn keyed_by_body(step: &str) -> bool {
    step == BATCHED_STEP
}

fn lane_key(payload: &StoredPayload, item: &StoredItem) -> LaneKey {
    if payload.step == "create_filter" {
        let params = payload.payload.parse::<PathParams>();
        let destination = params
            .iter()
            .flat_map(|p| &p.path_params)
            .find(|(name, _)| name == "destinationId")
            .map(|(_, value)| value);
        if let Some(destination) = destination {
            let key = ref_marker(destination)
                .map(|r| r.config_name)
                .or_else(|| destination.as_str().map(str::to_owned));
            if let Some(key) = key {
                return LaneKey::Destination(key);
            }
        }
    }
    if payload.step == BATCHED_STEP {
        let payload = payload.payload.value();
        let email = payload
            .pointer("/body/invites/0/email")
            .and_then(Value::as_str);
        if let Some(email) = email {
            return LaneKey::Email(email.to_ascii_lowercase());
        }
    }
    match &item.natural_key {
        Some(key) => LaneKey::NaturalKey(item.kind.clone(), key.clone()),
        None => LaneKey::Alone(payload.seq, payload.ordinal),
    }
}

/// The phases of `payloads` (given in plan order), each payload with its item. Payloads
/// whose item is not in `items` are left out.
pub fn phases<'a>(
    payloads: &'a [StoredPayload],
    items: &HashMap<i64, StoredItem>,
) -> Vec<Phase<'a>> {
    let mut by_phase: Vec<(usize, &'a str, Vec<&'a StoredPayload>)> = Vec::new();
    for payload in payloads {
        if !items.contains_key(&payload.seq) {
            continue;
        }
        let phase = phase_of(&payload.step);
        match by_phase
            .iter_mut()
            .find(|(p, step, _)| *p == phase && *step == payload.step)
        {
            Some((_, _, list)) => list.push(payload),
            None => by_phase.push((phase, payload.step.as_str(), vec![payload])),
        }
    }
    // Stable: unknown steps keep the order they first appear in.
    by_phase.sort_by_key(|(phase, _, _)| *phase);
    by_phase
        .into_iter()
        .map(|(_, step, list)| {
            let mut lanes: Vec<Lane<'a>> = Vec::new();
            let mut index: HashMap<LaneKey, usize> = HashMap::new();
            for payload in list {
                let key = lane_key(payload, &items[&payload.seq]);
                match index.get(&key) {
                    Some(&at) => lanes[at].payloads.push(payload),
                    None => {
                        let ordered = matches!(key, LaneKey::Destination(_));
                        index.insert(key, lanes.len());
                        lanes.push(Lane {
                            payloads: vec![payload],
                            ordered,
                            batch: false,
                        });
                    }
                }
            }
            if step == BATCHED_STEP {
                lanes = batched(lanes);
            }
            Phase { step, lanes }
        })
        .collect()
}

/// `lanes` with the first-time payloads alone in their lane gathered into batch lanes (first,
/// in plan order); the others as they were.
fn batched(lanes: Vec<Lane<'_>>) -> Vec<Lane<'_>> {
    let (fresh, kept): (Vec<_>, Vec<_>) = lanes
        .into_iter()
        .partition(|lane| matches!(lane.payloads[..], [p] if p.state == "pending"));
    let fresh: Vec<&StoredPayload> = fresh.into_iter().flat_map(|l| l.payloads).collect();
    fresh
        .chunks(MAX_INVITES_PER_REQUEST)
        .map(|chunk| Lane {
            payloads: chunk.to_vec(),
            ordered: false,
            batch: true,
        })
        .chain(kept)
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn item(seq: i64, kind: &str, natural_key: Option<&str>) -> StoredItem {
        StoredItem {
            seq,
            kind: kind.into(),
            config_name: format!("{kind}/{seq}"),
            action: "create".into(),
            target_id: None,
            natural_key: natural_key.map(str::to_owned),
            matched_by: None,
            conflict: false,
        }
    }

    fn payload(seq: i64, ordinal: i64, step: &str, payload: Value) -> StoredPayload {
        StoredPayload {
            seq,
            ordinal,
            step: step.into(),
            method: "POST".into(),
            path: "/x".into(),
            payload: payload.into(),
            body_left: false,
            condition: "always".into(),
            dependencies: json!([]).into(),
            state: "pending".into(),
            result: None,
            attempts: 0,
            error: None,
        }
    }

    fn filter(seq: i64, destination: &str) -> StoredPayload {
        let marker =
            json!({"$ref": {"kind": "destinations", "config_name": destination, "field": "id"}});
        payload(
            seq,
            0,
            "create_filter",
            json!({"path_params": [["destinationId", marker]]}),
        )
    }

    /// Each phase's step and its lanes' `(seq, ordinal)`s.
    type Shape = Vec<(String, Vec<Vec<(i64, i64)>>)>;

    fn shape(phases: &[Phase<'_>]) -> Shape {
        phases
            .iter()
            .map(|p| {
                (
                    p.step.to_owned(),
                    p.lanes
                        .iter()
                        .map(|l| l.payloads.iter().map(|p| (p.seq, p.ordinal)).collect())
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn steps_run_in_the_documented_order_whatever_the_plan_order() {
        // An adopted source whose only payload sets labels comes before the source that
        // creates the label: the labels must still wait for the label.
        let items = HashMap::from([
            (1, item(1, "sources", Some("a"))),
            (2, item(2, "sources", Some("b"))),
            (3, item(3, "functions", None)),
        ]);
        let payloads = vec![
            payload(1, 0, "set_source_labels", json!({})),
            payload(2, 0, "create_source", json!({})),
            payload(2, 1, "create_label", json!({})),
            payload(2, 2, "set_source_labels", json!({})),
            payload(3, 0, "create_function", json!({})),
        ];
        let steps: Vec<_> = phases(&payloads, &items).iter().map(|p| p.step).collect();
        assert_eq!(
            steps,
            [
                "create_function",
                "create_source",
                "create_label",
                "set_source_labels"
            ]
        );
    }

    #[test]
    fn filters_of_one_destination_share_a_lane_in_plan_order() {
        let items: HashMap<_, _> = (1..=4)
            .map(|s| (s, item(s, "destination_filters", Some(&format!("f{s}")))))
            .collect();
        let payloads = vec![
            filter(1, "d1"),
            filter(2, "d2"),
            filter(3, "d1"),
            filter(4, "d1"),
        ];
        let phases = phases(&payloads, &items);
        assert_eq!(
            shape(&phases),
            [(
                "create_filter".to_owned(),
                vec![vec![(1, 0), (3, 0), (4, 0)], vec![(2, 0)]]
            )]
        );
        assert!(phases[0].lanes.iter().all(|l| l.ordered));
    }

    #[test]
    fn items_with_one_natural_key_share_a_lane_and_the_rest_run_apart() {
        let items = HashMap::from([
            (1, item(1, "destinations", Some("src|meta|"))),
            (2, item(2, "destinations", Some("src|meta|"))),
            (3, item(3, "destinations", Some("src|other|"))),
            (4, item(4, "destinations", None)),
            (5, item(5, "destinations", None)),
        ]);
        let payloads: Vec<_> = (1..=5)
            .map(|s| payload(s, 0, "create_destination", json!({})))
            .collect();
        assert_eq!(
            shape(&phases(&payloads, &items)),
            [(
                "create_destination".to_owned(),
                vec![
                    vec![(1, 0), (2, 0)],
                    vec![(3, 0)],
                    vec![(4, 0)],
                    vec![(5, 0)]
                ]
            )]
        );
    }

    #[test]
    fn first_invitations_go_in_batches_and_the_rest_alone() {
        let invite = |seq: i64, email: &str| {
            let body = json!({"body": {"invites": [{"email": email}]}});
            payload(seq, 0, BATCHED_STEP, body)
        };
        let count = MAX_INVITES_PER_REQUEST as i64 + 3;
        let mut items: HashMap<_, _> = (1..=count)
            .map(|s| (s, item(s, "users", Some(&format!("email=u{s}@x")))))
            .collect();
        items.insert(100, item(100, "invites", None));
        items.insert(101, item(101, "invites", None));
        let mut payloads: Vec<_> = (1..=count).map(|s| invite(s, &format!("u{s}@x"))).collect();
        // The same email as seq 1 (an invite where the other is a user), and one an earlier
        // run may have sent.
        payloads.push(invite(100, "U1@x"));
        let mut sent = invite(101, "again@x");
        sent.state = "intent".into();
        payloads.push(sent);

        let phases = phases(&payloads, &items);
        let lanes = &phases[0].lanes;
        let batches: Vec<Vec<i64>> = lanes
            .iter()
            .filter(|l| l.batch)
            .map(|l| l.payloads.iter().map(|p| p.seq).collect())
            .collect();
        assert_eq!(
            batches,
            [
                (2..=MAX_INVITES_PER_REQUEST as i64 + 1).collect::<Vec<_>>(),
                vec![count - 1, count]
            ]
        );
        let alone: Vec<Vec<i64>> = lanes
            .iter()
            .filter(|l| !l.batch)
            .map(|l| l.payloads.iter().map(|p| p.seq).collect())
            .collect();
        assert_eq!(alone, [vec![1, 100], vec![101]]);
    }

    #[test]
    fn an_unknown_step_comes_last_and_payloads_without_an_item_are_left_out() {
        let items = HashMap::from([(1, item(1, "sources", None))]);
        let payloads = vec![
            payload(1, 0, "future_step", json!({})),
            payload(1, 1, "create_source", json!({})),
            payload(9, 0, "create_source", json!({})),
        ];
        let found = shape(&phases(&payloads, &items));
        assert_eq!(
            found,
            [
                ("create_source".to_owned(), vec![vec![(1, 1)]]),
                ("future_step".to_owned(), vec![vec![(1, 0)]]),
            ]
        );
    }

    #[test]
    fn labels_run_beside_the_steps_before_the_one_that_needs_them() {
        let steps = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let (beside, before, after) = split_beside(steps(&[
            "create_function",
            "create_source",
            "name_source",
            "create_label",
            "set_source_labels",
            "create_destination",
        ]));
        assert_eq!(beside, steps(&["create_label"]));
        assert_eq!(
            before,
            steps(&["create_function", "create_source", "name_source"])
        );
        assert_eq!(after, steps(&["set_source_labels", "create_destination"]));

        // Nothing needs them: they run beside every step.
        let (beside, before, after) = split_beside(steps(&["create_label", "create_source"]));
        assert_eq!(beside, steps(&["create_label"]));
        assert_eq!(before, steps(&["create_source"]));
        assert!(after.is_empty());

        // No labels: everything in line.
        let (beside, before, after) = split_beside(steps(&["create_source", "set_source_labels"]));
        assert!(beside.is_empty());
        assert_eq!(before, steps(&["create_source", "set_source_labels"]));
        assert!(after.is_empty());
    }
}
