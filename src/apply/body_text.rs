//! A payload's body filled in from its stored text, parsing only what holds a marker.
//!
//! A stored body is JSON text that `serde_json` wrote: compact, each string escaped one way.
//! Parsed into a [`Value`], filled and written again, it comes out as the same text wherever it
//! held no marker; so the parts with no marker are copied as they stand, and only the objects
//! and lists on the way to a marker are taken apart (each as the texts of its members). A
//! tracking plan's rules, the largest bodies `apply` sends and the ones that hold no marker at
//! all, are thus sent without ever becoming a tree of values: parsing them whole made most of
//! the allocations of `apply`.
//!
//! Which text can hold a marker: a marker is an object with a `"$ref"` or `"$secret"` key, and
//! `serde_json` writes those keys as they are, so text without either quoted key holds none
//! (a string value cannot contain them: its quotes are escaped). An object that has such a key
//! is filled the way a parsed body is ([`resolve_in_place`]), whether it turns out to be a
//! marker or an object that merely uses the key (a JSON Schema's `$ref`).

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::mapping::{
    Ref, SECRET_MARKER_KEY, SecretRef, Unresolved, resolve_in_place, secret_marker, secrets_in,
};

/// The key of a reference marker, quoted as it stands in a body's text.
const REF_MARKER_KEY: &str = "\"$ref\"";

/// Where the values of a body's markers come from.
pub(super) struct Fill<'f> {
    /// The id a reference stands for.
    pub ids: &'f dyn Fn(&Ref) -> Option<String>,
    /// The value of a secret, for the body (the caller notes each value it gives out, to take
    /// it out of errors).
    pub secrets: &'f dyn Fn(&SecretRef) -> Option<Value>,
    /// Whether a secret is supplied, asked before a setting is left out.
    pub supplied: &'f dyn Fn(&SecretRef) -> Option<Value>,
    /// With `--allow-missing-secrets`: where the settings left out because nothing supplies
    /// their secret are named. Without it, such a setting fails the payload.
    pub omitted: Option<&'f mut Vec<String>>,
}

/// The body `text` as the JSON text to send, its markers filled in. `text` is a body as the
/// ledger stores it (written by `serde_json`).
pub(super) fn fill(text: &RawValue, fill: &mut Fill<'_>) -> Result<Vec<u8>, Unresolved> {
    let mut out = Vec::with_capacity(text.get().len());
    fill_into(text, fill, true, &mut out)?;
    Ok(out)
}

/// Every secret marker of the body `text`, in order of appearance.
pub(super) fn secrets_in_text(text: &RawValue) -> Vec<SecretRef> {
    if !text.get().contains(SECRET_MARKER_KEY) {
        return Vec::new();
    }
    serde_json::from_str(text.get())
        .map(|value: Value| secrets_in(&value))
        .unwrap_or_default()
}

/// Removes the settings whose secret nothing supplies (`--allow-missing-secrets`), naming
/// each in `omitted`.
pub(super) fn strip_missing_secrets(
    value: &mut Value,
    supplied: &dyn Fn(&SecretRef) -> Option<Value>,
    omitted: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| match secret_marker(v) {
                Some(s) if supplied(&s).is_none() => {
                    omitted.push(omission(&s));
                    false
                }
                _ => true,
            });
            map.values_mut()
                .filter(|v| !is_marker(v))
                .for_each(|v| strip_missing_secrets(v, supplied, omitted));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| strip_missing_secrets(v, supplied, omitted)),
        _ => {}
    }
}

fn is_marker(value: &Value) -> bool {
    crate::mapping::ref_marker(value).is_some() || secret_marker(value).is_some()
}

/// How a setting left out is named in the report.
fn omission(secret: &SecretRef) -> String {
    format!("{} of `{}`", secret.setting, secret.config_name)
}

fn holds_marker(text: &str) -> bool {
    text.contains(REF_MARKER_KEY) || text.contains(SECRET_MARKER_KEY)
}

/// Writes `raw` filled to `out`. `strip_marker`: whether a marker's own members are stripped
/// of missing secrets, as [`strip_missing_secrets`] does for the root and the items of a list
/// but not for the values of an object.
fn fill_into(
    raw: &RawValue,
    fill: &mut Fill<'_>,
    strip_marker: bool,
    out: &mut Vec<u8>,
) -> Result<(), Unresolved> {
    let text = raw.get();
    if !holds_marker(text) {
        out.extend_from_slice(text.as_bytes());
        return Ok(());
    }
    match text.as_bytes().first() {
        Some(b'[') => {
            // Text taken from a valid document is valid: it parses.
            let items: Vec<&RawValue> = serde_json::from_str(text).unwrap_or_default();
            out.push(b'[');
            for (index, item) in items.into_iter().enumerate() {
                if index > 0 {
                    out.push(b',');
                }
                fill_into(item, fill, true, out)?;
            }
            out.push(b']');
        }
        Some(b'{') => {
            let Entries(entries) = serde_json::from_str(text).unwrap_or_default();
            if entries
                .iter()
                .any(|(key, _)| key == "$ref" || key == "$secret")
            {
                return fill_parsed(text, fill, strip_marker, out);
            }
            out.push(b'{');
            let mut first = true;
            for (key, value) in entries {
                if let Some(omitted) = fill.omitted.as_deref_mut()
                    && let Some(secret) = secret_marker_text(value)
                    && (fill.supplied)(&secret).is_none()
                {
                    omitted.push(omission(&secret));
                    continue;
                }
                if !first {
                    out.push(b',');
                }
                first = false;
                // Writing to a vector cannot fail.
                let _ = serde_json::to_writer(&mut *out, key.as_ref());
                out.push(b':');
                fill_into(value, fill, false, out)?;
            }
            out.push(b'}');
        }
        // A string whose value is a marker's key: nothing to fill.
        _ => out.extend_from_slice(text.as_bytes()),
    }
    Ok(())
}

/// An object with a marker's key, filled as a parsed body is: a marker becomes its value, any
/// other object is filled below.
fn fill_parsed(
    text: &str,
    fill: &mut Fill<'_>,
    strip_marker: bool,
    out: &mut Vec<u8>,
) -> Result<(), Unresolved> {
    let mut value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    if let Some(omitted) = fill.omitted.as_deref_mut()
        && (strip_marker || !is_marker(&value))
    {
        strip_missing_secrets(&mut value, fill.supplied, omitted);
    }
    resolve_in_place(&mut value, fill.ids, fill.secrets)?;
    let _ = serde_json::to_writer(out, &value);
    Ok(())
}

/// The secret `text` stands for, when it is a secret marker.
fn secret_marker_text(text: &RawValue) -> Option<SecretRef> {
    let text = text.get();
    if !text.starts_with('{') || !text.contains(SECRET_MARKER_KEY) {
        return None;
    }
    secret_marker(&serde_json::from_str(text).ok()?)
}

/// An object's members in order, each value as its text; keys borrowed unless escaped.
#[derive(Default)]
struct Entries<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        #[derive(Deserialize)]
        struct Key<'a>(#[serde(borrow)] Cow<'a, str>);
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(Key(key)) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Entries(entries))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::model::Kind;

    fn reference(name: &str) -> Value {
        json!({"$ref": {"kind": "sources", "config_name": name, "field": "id"}})
    }

    fn secret(setting: &str) -> Value {
        json!({"$secret": {"kind": "destinations", "config_name": "workspaces/w/destinations/d",
            "setting": setting, "config_setting": setting, "state": "present"}})
    }

    fn ids(r: &Ref) -> Option<String> {
        (r.kind == Kind::Sources && r.config_name.starts_with("known"))
            .then(|| format!("id-{}", r.config_name))
    }

    fn secrets(s: &SecretRef) -> Option<Value> {
        s.setting
            .starts_with("given")
            .then(|| Value::String(format!("value of {}", s.setting)))
    }

    /// What filling `body` sends, which settings it leaves out and which secrets it gives out:
    /// through this module with `from_text`, otherwise the way it was before it (parsed whole,
    /// stripped, resolved, written).
    fn filled(
        body: &Value,
        allow_missing: bool,
        from_text: bool,
    ) -> (Result<Vec<u8>, String>, Vec<String>, Vec<String>) {
        let given = std::cell::RefCell::new(Vec::new());
        let recording = |s: &SecretRef| {
            given.borrow_mut().push(s.setting.clone());
            secrets(s)
        };
        let mut omitted = Vec::new();
        let result = if from_text {
            let text = RawValue::from_string(body.to_string()).unwrap();
            let mut fill_with = Fill {
                ids: &ids,
                secrets: &recording,
                supplied: &secrets,
                omitted: allow_missing.then_some(&mut omitted),
            };
            fill(&text, &mut fill_with)
        } else {
            let mut value = body.clone();
            if allow_missing {
                strip_missing_secrets(&mut value, &secrets, &mut omitted);
            }
            resolve_in_place(&mut value, &ids, &recording)
                .map(|()| serde_json::to_vec(&value).unwrap())
        };
        (
            result.map_err(|e| e.to_string()),
            omitted,
            given.into_inner(),
        )
    }

    fn filled_from_text(
        body: &Value,
        allow_missing: bool,
    ) -> (Result<Vec<u8>, String>, Vec<String>, Vec<String>) {
        filled(body, allow_missing, true)
    }

    #[test]
    fn markers_are_filled_and_the_rest_is_sent_as_stored() {
        let body = json!({"sourceId": reference("known-a"), "name": "x \"$ref\" y",
            "settings": {"apiKey": secret("given-key"), "token": secret("missing")},
            "list": [1, 2.5, reference("known-b"), {"$ref": "#/definitions/a"}],
            "$schema": "s", "nested": {"deep": [{"k": "v"}]}});
        let (sent, omitted, given) = filled_from_text(&body, true);
        let sent: Value = serde_json::from_slice(&sent.unwrap()).unwrap();
        assert_eq!(
            sent,
            json!({"sourceId": "id-known-a", "name": "x \"$ref\" y",
                "settings": {"apiKey": "value of given-key"},
                "list": [1, 2.5, "id-known-b", {"$ref": "#/definitions/a"}],
                "$schema": "s", "nested": {"deep": [{"k": "v"}]}})
        );
        assert_eq!(omitted, ["missing of `workspaces/w/destinations/d`"]);
        assert_eq!(given, ["given-key"]);

        let (failed, _, _) = filled_from_text(&body, false);
        assert!(failed.unwrap_err().contains("missing"));
        let unknown = json!({"a": [reference("unknown")]});
        assert!(filled_from_text(&unknown, false).0.is_err());
    }

    #[test]
    fn a_body_without_markers_is_its_stored_text() {
        let body = json!({"rules": [{"type": "TRACK", "key": "é \u{1}", "version": 1e300,
            "jsonSchema": {"$schema": "x", "properties": {"a": {"type": ["string", "null"]}}}}]});
        let text = body.to_string();
        let (sent, _, _) = filled_from_text(&body, false);
        assert_eq!(sent.unwrap(), text.as_bytes());
    }

    #[test]
    fn secrets_are_listed_from_the_text() {
        let body = json!({"a": [secret("one")], "b": {"c": secret("two")}, "d": reference("r")});
        let text = RawValue::from_string(body.to_string()).unwrap();
        let settings: Vec<String> = secrets_in_text(&text)
            .into_iter()
            .map(|s| s.setting)
            .collect();
        assert_eq!(settings, ["one", "two"]);
        let none = RawValue::from_string(json!({"a": "$secret"}).to_string()).unwrap();
        assert!(secrets_in_text(&none).is_empty());
    }

    fn with(mut object: Value, key: &str, value: Value) -> Value {
        object[key] = value;
        object
    }

    /// JSON with markers anywhere a value goes: known and unknown references, given and
    /// missing secrets, objects using a marker key for something else.
    fn body() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            "[a-z$\"\\\\é\u{1}]{0,6}".prop_map(Value::from),
            prop_oneof![Just("known-1"), Just("known-2"), Just("unknown")].prop_map(reference),
            prop_oneof![Just("given-1"), Just("given-2"), Just("missing")].prop_map(secret),
            Just(json!({"$ref": "#/definitions/x"})),
            Just(json!({"$secret": 1, "other": reference("known-3")})),
            Just(with(reference("known-4"), "x", secret("missing"))),
            Just(with(secret("given-3"), "y", secret("missing"))),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("a".to_owned()),
                            Just("settings".to_owned()),
                            Just("$ref".to_owned()),
                            Just("$secret".to_owned()),
                            "[a-z\"é]{1,4}",
                        ],
                        inner
                    ),
                    0..6
                )
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn filling_the_text_sends_what_filling_the_parsed_body_did(
            body in body(),
            allow_missing in any::<bool>(),
        ) {
            let whole = filled(&body, allow_missing, false);
            let text = filled_from_text(&body, allow_missing);
            prop_assert_eq!(&text.0, &whole.0);
            if whole.0.is_ok() {
                // On a failure the text stops at the first marker it cannot fill, where the
                // whole body had named every setting left out beforehand.
                prop_assert_eq!(&text.1, &whole.1);
                prop_assert_eq!(&text.2, &whole.2);
            }
        }
    }

    #[test]
    fn secrets_in_text_agrees_with_the_parsed_body() {
        let mut runner = proptest::test_runner::TestRunner::default();
        runner
            .run(&body(), |body| {
                let text = RawValue::from_string(body.to_string()).unwrap();
                prop_assert_eq!(secrets_in_text(&text), secrets_in(&body));
                Ok(())
            })
            .unwrap();
    }
}
