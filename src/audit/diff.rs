//! Field-by-field comparison of two normalised objects, with secrets withheld.
//!
//! Role: [`compare`] walks the expected and the actual value of one resource together and
//! returns the [`FieldDiff`]s and the [`NotComparable`] fields. Both values are already in the
//! same normalised shape (see `expected` and `actual`); what is left to decide here is equality.
//!
//! Rules, each the reason for a branch below:
//! - **Absent equals empty.** A key missing on one side and `null`, `""`, `[]` or `{}` on the
//!   other are equal: the mapping leaves empty settings out and the Public API may send them
//!   back as empty values, and neither changes what the object does.
//! - **Numbers compare by value**, so `1` and `1.0` are equal.
//! - **Secrets are compared only as present/absent.** Where the expected value is a `$secret`
//!   marker, or the actual value is masked (any string holding `•`), the field is reported as
//!   not comparable when both sides hold something, and as a difference with the placeholder
//!   [`SECRET_PRESENT`] when one side holds nothing. Every value that goes into a diff passes
//!   through [`redact`], so a secret nested inside a larger value cannot leak either.
//! - Arrays are compared position by position (order is meaningful where the audit keeps
//!   arrays: filter actions, field lists); sets are normalised into objects beforehand.

use serde_json::{Map, Value};

use super::report::{FieldDiff, NotComparable};
use crate::mapping::secret_marker;

/// What a diff shows in place of a secret that is present.
pub const SECRET_PRESENT: &str = "<secret: present>";

/// The character Segment censors secrets with.
const MASK_CHAR: char = '•';

/// The differences and uncompared fields of one resource.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Comparison {
    pub differences: Vec<FieldDiff>,
    pub not_comparable: Vec<NotComparable>,
}

impl Comparison {
    /// Adds `other`'s fields after this one's: the comparison of an object compared key by key
    /// is its keys' comparisons one after the other, in key order.
    pub fn append(&mut self, mut other: Comparison) {
        self.differences.append(&mut other.differences);
        self.not_comparable.append(&mut other.not_comparable);
    }
}

/// Compares `expected` with `actual` (either may be absent), `path` being where they sit.
pub fn compare(expected: Option<&Value>, actual: Option<&Value>, path: &str) -> Comparison {
    let mut out = Comparison::default();
    walk(expected, actual, path, &mut out);
    out
}

/// True for a value that holds a secret: a `$secret` marker, or a masked string, anywhere in it.
pub fn is_secret(value: &Value) -> bool {
    if secret_marker(value).is_some() {
        return true;
    }
    match value {
        Value::String(s) => s.contains(MASK_CHAR),
        Value::Array(items) => items.iter().any(is_secret),
        Value::Object(map) => map.values().any(is_secret),
        _ => false,
    }
}

/// `value` with every secret replaced by [`SECRET_PRESENT`]: what a diff may show.
pub fn redact(value: &Value) -> Value {
    if secret_marker(value).is_some() {
        return Value::String(SECRET_PRESENT.into());
    }
    match value {
        Value::String(s) if s.contains(MASK_CHAR) => Value::String(SECRET_PRESENT.into()),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact(v)))
                .collect::<Map<String, Value>>(),
        ),
        other => other.clone(),
    }
}

fn is_empty(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

/// `path` extended by an object key: `.key` when the key is a plain word, else `["key"]`.
pub fn child(path: &str, key: &str) -> String {
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{}]", Value::String(key.to_owned())),
    }
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn differ(out: &mut Comparison, path: &str, expected: Option<&Value>, actual: Option<&Value>) {
    out.differences.push(FieldDiff {
        path: path.to_owned(),
        expected: expected.map(redact),
        actual: actual.map(redact),
    });
}

fn walk(expected: Option<&Value>, actual: Option<&Value>, path: &str, out: &mut Comparison) {
    // Only a secret standing where a value goes decides here; a container holding one is walked
    // into, and a type mismatch around one goes through `redact`.
    let secret_here = |v: Option<&Value>| {
        v.is_some_and(|v| {
            secret_marker(v).is_some() || v.as_str().is_some_and(|s| s.contains(MASK_CHAR))
        })
    };
    if secret_here(expected) || secret_here(actual) {
        match (is_empty(expected), is_empty(actual)) {
            (false, false) => out.not_comparable.push(NotComparable {
                path: path.to_owned(),
                reason: if secret_here(actual) {
                    "secret: masked by the Public API; only its presence is compared".into()
                } else {
                    "secret: present on both sides; its value is never compared".into()
                },
            }),
            (true, true) => {}
            _ => differ(out, path, expected, actual),
        }
        return;
    }
    if is_empty(expected) && is_empty(actual) {
        return;
    }
    match (expected, actual) {
        (Some(Value::Object(e)), Some(Value::Object(a))) => {
            let mut keys: Vec<&String> = e.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                walk(e.get(key), a.get(key), &child(path, key), out);
            }
        }
        (Some(Value::Array(e)), Some(Value::Array(a))) => {
            for i in 0..e.len().max(a.len()) {
                walk(e.get(i), a.get(i), &index(path, i), out);
            }
        }
        (Some(Value::Number(e)), Some(Value::Number(a))) => {
            let equal = match (e.as_i64(), a.as_i64()) {
                (Some(x), Some(y)) => x == y,
                _ => e.as_f64() == a.as_f64(),
            };
            if !equal {
                differ(out, path, expected, actual);
            }
        }
        (e, a) if e == a => {}
        (e, a) => differ(out, path, e, a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn marker() -> Value {
        json!({"$secret": {"kind": "destinations", "config_name": "d", "setting": "password", "state": "present"}})
    }

    #[test]
    fn equal_objects_differ_in_nothing_whatever_their_key_order() {
        let e = json!({"a": 1, "b": {"c": [1, 2], "d": "x"}});
        let a: Value = serde_json::from_str(r#"{"b": {"d": "x", "c": [1, 2.0]}, "a": 1}"#).unwrap();
        assert_eq!(compare(Some(&e), Some(&a), ""), Comparison::default());
    }

    #[test]
    fn differences_name_the_field_path() {
        let e = json!({"settings": {"trackingId": "UA-1", "odd key": true}, "actions": [{"type": "DROP"}]});
        let a = json!({"settings": {"trackingId": "UA-2", "extra": 3}, "actions": []});
        let diff = compare(Some(&e), Some(&a), "");
        let paths: Vec<&str> = diff.differences.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "actions[0]",
                "settings.extra",
                "settings[\"odd key\"]",
                "settings.trackingId"
            ]
        );
        let tracking = &diff.differences[3];
        assert_eq!(tracking.expected, Some(json!("UA-1")));
        assert_eq!(tracking.actual, Some(json!("UA-2")));
        assert_eq!(diff.differences[1].expected, None);
    }

    #[test]
    fn absent_equals_empty() {
        let e = json!({"description": "", "labels": {}, "x": null});
        let a = json!({"tags": []});
        assert_eq!(compare(Some(&e), Some(&a), ""), Comparison::default());
    }

    #[test]
    fn secrets_are_compared_only_as_present_or_absent_and_never_shown() {
        let e = json!({"settings": {"password": marker(), "apiKey": "clear-but-masked-in-target"}});
        let a = json!({"settings": {"password": "••••••••••4711", "apiKey": "••••••••••rget"}});
        let diff = compare(Some(&e), Some(&a), "");
        assert!(diff.differences.is_empty(), "{diff:?}");
        assert_eq!(diff.not_comparable.len(), 2);

        let gone = json!({"settings": {}});
        let diff = compare(Some(&e), Some(&gone), "");
        assert_eq!(diff.differences.len(), 2);
        let shown = serde_json::to_string(&diff.differences).unwrap();
        assert!(shown.contains(SECRET_PRESENT), "{shown}");
        assert!(!shown.contains("$secret"), "{shown}");

        let extra = json!({"settings": {"password": marker(), "apiKey": "clear-but-masked-in-target", "token": "••••abcd"}});
        let diff = compare(Some(&e), Some(&extra), "");
        let shown = serde_json::to_string(&diff.differences).unwrap();
        assert!(!shown.contains("abcd"), "{shown}");
        assert!(!format!("{diff:?}").contains("abcd"));
    }

    #[test]
    fn a_secret_nested_in_a_replaced_value_is_redacted() {
        let e = json!({"settings": {"map": {"k": "v"}}});
        let a = json!({"settings": {"map": ["••••wxyz"]}});
        let diff = compare(Some(&e), Some(&a), "");
        assert!(!format!("{diff:?}").contains("wxyz"), "{diff:?}");
    }
}
