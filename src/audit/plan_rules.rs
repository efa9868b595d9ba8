//! A tracking plan compared rule by rule. The rules are the bulk of a plan, and parsed whole, a
//! plan's rules on both sides were the highest point of the audit's memory (on `large`, 3 MB of
//! parsed target rules alone for one plan; a plan of thousands of rules with large schemas
//! would be tens of megabytes). So neither side is parsed whole: the expected shape's rules are
//! borrowed from its text as raw JSON and each parsed when its key comes up, and the target's
//! are read one by one from their compressed list. At any moment one rule per side is parsed.
//!
//! Invariant: the result is exactly what [`diff::compare`] gives for the whole shapes
//! (`{name, type, rules}` on both sides, rules keyed as [`actual::rule_map`] keys them): the
//! same differences and uncompared fields, in the same order (top-level keys sorted, then the
//! rules in key order), a key the target lists twice taken from its last rule as a map built
//! from the list keeps it. The tests check it against that whole-shape diff.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use serde_json::value::RawValue;

use super::actual;
use super::diff::{self, Comparison};
use crate::mapping::TextList;

/// The key of the rules in a plan's shape.
const RULES: &str = "rules";

fn parse(raw: &RawValue) -> Value {
    // Borrowed from text that parsed: it parses.
    serde_json::from_str(raw.get()).unwrap_or(Value::Null)
}

/// Compares the expected shape of a plan (`expected`, the text `expected::by_kind` made) with
/// the target's plan and its rules, as listed.
pub fn compare(expected: &str, plan: &Value, rules: Option<&TextList>) -> Comparison {
    // The top-level fields and the rules borrowed as raw text, each parsed when it is compared.
    // The text is the serialization of a shape built with its rules as an object, so both
    // parse; a key given twice keeps its last value, as parsing into a `Value` does.
    let top: BTreeMap<String, &RawValue> = serde_json::from_str(expected).unwrap_or_default();
    let mut fields: BTreeMap<&str, Value> = BTreeMap::new();
    let mut expected_rules: BTreeMap<String, &RawValue> = BTreeMap::new();
    for (key, raw) in &top {
        if key == RULES {
            expected_rules = serde_json::from_str(raw.get()).unwrap_or_default();
        } else {
            fields.insert(key, parse(raw));
        }
    }
    let actual = actual::tracking_plan_fields(plan);

    // Each rule key's comparison, kept in key order until all are known: a key met again in
    // the list replaces what its earlier rule gave.
    let mut by_key: BTreeMap<String, Comparison> = BTreeMap::new();
    if let Some(rules) = rules {
        rules.each(|text| {
            let (key, shape) = actual::rule_entry(serde_json::from_str(text).unwrap_or_default());
            let wanted = expected_rules.get(&key).map(|raw| parse(raw));
            let path = diff::child(RULES, &key);
            let comparison = diff::compare(wanted.as_ref(), Some(&shape), &path);
            by_key.insert(key, comparison);
        });
    }
    for (key, raw) in &expected_rules {
        if !by_key.contains_key(key) {
            let path = diff::child(RULES, key);
            let comparison = diff::compare(Some(&parse(raw)), None, &path);
            by_key.insert(key.clone(), comparison);
        }
    }

    // Both shapes are objects holding `rules`, so the whole-shape diff walks their keys in
    // order, and the rules object key by key (both holding none compares nothing either way).
    let keys: BTreeSet<&str> = fields
        .keys()
        .copied()
        .chain(actual.keys().map(String::as_str))
        .chain([RULES])
        .collect();
    let mut out = Comparison::default();
    for key in keys {
        if key == RULES {
            std::mem::take(&mut by_key)
                .into_values()
                .for_each(|c| out.append(c));
        } else {
            let path = diff::child("", key);
            out.append(diff::compare(fields.get(key), actual.get(key), &path));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::object;

    /// The comparison of the whole shapes, which [`compare`] must equal.
    fn whole(expected: &Value, plan: &Value, rules: &[Value]) -> Comparison {
        let mut actual = actual::tracking_plan_fields(plan);
        actual.insert(RULES.into(), actual::rule_map(rules.to_vec()));
        diff::compare(Some(expected), Some(&Value::Object(actual)), "")
    }

    fn by_rule(expected: &Value, plan: &Value, rules: &[Value]) -> Comparison {
        let mut list = TextList::default();
        rules.iter().for_each(|r| list.push(&r.to_string()));
        list.seal();
        compare(&expected.to_string(), plan, Some(&list))
    }

    fn rule(kind: &str, key: &str, version: i64, schema: Value) -> Value {
        json!({"type": kind, "key": key, "version": version, "jsonSchema": schema,
               "createdAt": "2026-01-01T00:00:00Z"})
    }

    fn shape(name: &str, rules: &[Value]) -> Value {
        object([
            ("name", json!(name)),
            ("type", json!("LIVE")),
            (RULES, actual::rule_map(rules.to_vec())),
        ])
    }

    #[test]
    fn rule_by_rule_is_the_whole_shapes_diff() {
        let schema = |t: &str| json!({"properties": {"properties": {"type": t}}});
        let expected_rules = [
            rule("TRACK", "Order Completed", 1, schema("object")),
            rule("TRACK", "Order Completed", 2, schema("object")),
            rule("IDENTIFY", "", 1, schema("object")),
            rule("TRACK", "Only expected", 1, json!({"required": ["a"]})),
            rule("TRACK", "odd key with spaces", 1, json!({"enum": [1, 2.0]})),
        ];
        let target_rules = [
            // Listed out of order, one schema changed, one missing, one only in the target, a
            // key twice (the last one, equal, is the one a map keeps) and numbers as floats.
            rule("IDENTIFY", "", 1, schema("object")),
            rule("TRACK", "Order Completed", 2, schema("string")),
            rule("TRACK", "Only in target", 1, json!({})),
            rule("TRACK", "Order Completed", 1, schema("array")),
            rule("TRACK", "Order Completed", 1, schema("object")),
            rule("TRACK", "odd key with spaces", 1, json!({"enum": [1.0, 2]})),
            json!("not a rule"),
        ];
        let cases = [
            (
                shape("Plan", &expected_rules),
                json!({"name": "Plan", "type": "LIVE"}),
            ),
            (shape("Plan", &expected_rules), json!({"name": "Renamed"})),
            (
                shape("Plan", &[]),
                json!({"name": "Plan", "type": "LIVE", "id": "tp1"}),
            ),
            (
                json!({"name": "Plan", "rules": {}, "extra": [1]}),
                json!({"name": "Plan"}),
            ),
        ];
        for (expected, plan) in &cases {
            for rules in [&target_rules[..], &expected_rules[..], &[]] {
                let want = whole(expected, plan, rules);
                assert_eq!(
                    by_rule(expected, plan, rules),
                    want,
                    "{expected} {plan} {rules:?}"
                );
            }
        }
        // The first case names what differs, in key order.
        let got = by_rule(&cases[0].0, &cases[0].1, &target_rules);
        let paths: Vec<&str> = got.differences.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "rules[\"//1\"]",
                "rules[\"TRACK/Only expected/1\"]",
                "rules[\"TRACK/Only in target/1\"]",
                "rules[\"TRACK/Order Completed/2\"].jsonSchema.properties.properties.type",
            ]
        );
    }

    #[test]
    fn secrets_in_a_schema_are_withheld_as_in_the_whole_diff() {
        let marker = json!({"$secret": {"kind": "destinations", "config_name": "d",
                                        "setting": "password", "state": "present"}});
        let expected = shape("P", &[rule("TRACK", "E", 1, json!({"default": marker}))]);
        let target = [rule("TRACK", "E", 1, json!({"default": "••••"}))];
        let plan = json!({"name": "P", "type": "LIVE"});
        let got = by_rule(&expected, &plan, &target);
        assert_eq!(got, whole(&expected, &plan, &target));
        assert_eq!(got.not_comparable.len(), 1);
        assert!(got.differences.is_empty());
    }

    #[test]
    fn a_plan_without_a_rules_list_compares_as_one_with_none() {
        let expected = shape("P", &[rule("TRACK", "E", 1, json!({}))]);
        let plan = json!({"name": "P", "type": "LIVE"});
        let got = compare(&expected.to_string(), &plan, None);
        assert_eq!(got, whole(&expected, &plan, &[]));
        assert_eq!(got.differences.len(), 1);
    }
}
