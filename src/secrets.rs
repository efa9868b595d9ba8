//! Secret setting values never reach the ledger, a report or a log.
//!
//! Every object read from the Config API passes through [`sanitize`] (or [`sanitize_text`],
//! the same for an object still held as its text) before anything stores it; the ledger only
//! accepts the [`Sanitized`] type this module alone can build. A secret
//! value is replaced in place by a marker object:
//!
//! - `{"segbridge_secret": "present", "hmac_sha256": "…"}` for a value read in clear. The keyed
//!   hash lets a later export tell whether the secret changed without storing anything that
//!   could be reversed: its key is derived from the Config API token, which is never stored, so
//!   the ledger alone cannot be used to test guesses of a secret.
//! - `{"segbridge_secret": "masked"}` for a value the API returned censored (`••••`): the mask is
//!   not the secret, and a masked value is never copied anywhere.
//!
//! Which values are secret: destination settings whose `type` is `password`; every value of a
//! source's `function_config` (the source does not say which function it runs, so whether a
//! setting is `sensitive` cannot be known from the object itself, and a leak costs more than a
//! value re-read at write time); and any string containing `•` wherever it appears.
//!
//! In memory, the values read in clear can be kept a little longer by the export of a
//! `migrate` that applies as it reads ([`HeldSecrets`]), for the writes of its next stages.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::model::{Kind, compact};

/// The key of the marker object that replaces a secret value.
pub const MARKER_KEY: &str = "segbridge_secret";

/// The bullet Segment uses to censor secrets.
pub const MASK_CHAR: char = '•';

/// Computes keyed hashes of secret values for change detection.
#[derive(Clone)]
pub struct SecretHasher {
    key: [u8; 32],
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHasher([redacted])")
    }
}

impl SecretHasher {
    /// A hasher keyed by the Config API token (which is never stored).
    pub fn from_token(token: &str) -> Self {
        let mut digest = Sha256::new();
        digest.update(b"segbridge/secret-hash/v1\0");
        digest.update(token.as_bytes());
        Self {
            key: digest.finalize().into(),
        }
    }

    fn hash(&self, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key size");
        mac.update(value.as_bytes());
        hex(&mac.finalize().into_bytes())
    }
}

/// Lower-case hex of `bytes`, written into one string (a string per byte would be 32
/// allocations per hash, and a hash is made of every object stored).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

/// A JSON object whose secret values have been replaced by markers, as its text. Only [`sanitize`]
/// and [`sanitize_text`] make one.
#[derive(Debug, Clone, PartialEq)]
pub struct Sanitized {
    /// The object's JSON text as `serde_json` writes its value (key order as the API sent it).
    json: String,
    secrets: usize,
}

impl Sanitized {
    /// The body parsed.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.json).unwrap_or(Value::Null)
    }

    /// How many secret values were replaced.
    pub fn secrets(&self) -> usize {
        self.secrets
    }

    /// The body as stored, byte for byte.
    pub fn to_json(&self) -> &str {
        &self.json
    }

    /// The body as stored and its SHA-256 (equal bodies, equal hashes).
    pub fn into_json_and_hash(self) -> (String, String) {
        let hash = hex(&Sha256::digest(self.json.as_bytes()));
        (self.json, hash)
    }
}

/// True for a marker object that stands where a secret was.
pub fn is_marker(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|o| o.contains_key(MARKER_KEY))
}

fn present_marker(value: &Value, hasher: &SecretHasher) -> Value {
    let text = value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_owned);
    json!({ MARKER_KEY: "present", "hmac_sha256": hasher.hash(&text) })
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Whether a value is one in clear: neither empty nor masked.
fn in_clear(value: &Value) -> bool {
    !is_empty_value(value) && !contains_mask(value)
}

/// Whether an item of a list of settings is a secret one.
type IsSecret = fn(&Map<String, Value>) -> bool;

/// Where an object of `kind` keeps its secret settings: the list of `{name, value}` items, and
/// which of its items are secret (see the module docs).
fn secret_items(kind: Kind) -> Option<(&'static str, IsSecret)> {
    match kind {
        Kind::Destinations => Some(("config", |item| {
            item.get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("password"))
        })),
        Kind::Sources => Some(("function_config", |_| true)),
        _ => None,
    }
}

/// Replaces the `value` of each secret item of `kind`'s list by a `present` marker.
fn mark_items(
    kind: Kind,
    object: &mut Map<String, Value>,
    hasher: &SecretHasher,
    count: &mut usize,
) {
    let Some((list, secret)) = secret_items(kind) else {
        return;
    };
    let Some(Value::Array(items)) = object.get_mut(list) else {
        return;
    };
    for item in items.iter_mut().filter_map(Value::as_object_mut) {
        if !secret(item) {
            continue;
        }
        if let Some(value) = item.get_mut("value")
            && in_clear(value)
        {
            *value = present_marker(value, hasher);
            *count += 1;
        }
    }
}

fn contains_mask(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains(MASK_CHAR),
        Value::Array(items) => items.iter().any(contains_mask),
        Value::Object(map) => map.values().any(contains_mask),
        _ => false,
    }
}

/// Replaces every masked string, anywhere, by a `masked` marker.
fn mark_masked(value: &mut Value, count: &mut usize) {
    match value {
        Value::String(s) if s.contains(MASK_CHAR) => {
            *value = json!({ MARKER_KEY: "masked" });
            *count += 1;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mark_masked(v, count)),
        Value::Object(map) if !map.contains_key(MARKER_KEY) => {
            map.values_mut().for_each(|v| mark_masked(v, count));
        }
        _ => {}
    }
}

/// Returns `body` with every secret value replaced by a marker (see the module docs).
pub fn sanitize(kind: Kind, mut body: Value, hasher: &SecretHasher) -> Sanitized {
    let mut secrets = 0;
    if let Some(object) = body.as_object_mut() {
        mark_items(kind, object, hasher, &mut secrets);
    }
    mark_masked(&mut body, &mut secrets);
    Sanitized {
        json: body.to_string(),
        secrets,
    }
}

/// [`sanitize`] of the object `text` holds, without making that value when no secret can be in
/// the text: a kind with no secret settings and no masked string. Such a text is only written
/// again the way `serde_json` writes a value ([`compact`]), so that what is stored does not
/// depend on how the API spaced or escaped it, and equals what [`sanitize`] would store.
///
/// A masked string shows in the text as the bullet itself or as its escape `\u2022` (JSON has
/// no other way to write it, and that escape has no letters to vary in case).
pub fn sanitize_text(kind: Kind, text: &RawValue, hasher: &SecretHasher) -> Sanitized {
    let text = text.get();
    let may_hold_secrets =
        secret_items(kind).is_some() || text.contains(MASK_CHAR) || text.contains("\\u2022");
    if !may_hold_secrets && let Ok(json) = compact(text) {
        return Sanitized { json, secrets: 0 };
    }
    sanitize(
        kind,
        serde_json::from_str(text).unwrap_or(Value::Null),
        hasher,
    )
}

/// Whether objects of `kind` have settings that are secret by their place (see the module
/// docs): a reader that keeps their values in clear ([`HeldSecrets`]) needs them parsed.
pub fn has_secret_settings(kind: Kind) -> bool {
    secret_items(kind).is_some()
}

/// Secret values an export read in clear, kept in memory for the `apply` of the same process:
/// `migrate`, when it applies in stages as the export reads, so that a destination's secrets
/// need not be read again from the Config API one stage after the export read them. Of each
/// object only the secret items in clear are kept, as a body of the same shape (the list
/// holding only them); they are given out once, then dropped, and the rest goes with the last
/// clone of the holder. Nothing here writes them anywhere; `Debug` shows a count, never a name
/// or a value.
#[derive(Clone, Default)]
pub struct HeldSecrets {
    objects: Arc<Mutex<HashMap<(Kind, String), Value>>>,
}

impl std::fmt::Debug for HeldSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HeldSecrets({} objects)", self.objects().len())
    }
}

impl HeldSecrets {
    fn objects(&self) -> std::sync::MutexGuard<'_, HashMap<(Kind, String), Value>> {
        // Each change is one insert or remove: a poisoned map is still a whole one.
        self.objects.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Keeps the secret settings the raw object `body` of `kind` named `name` shows in clear
    /// (nothing when it shows none).
    pub fn hold(&self, kind: Kind, name: &str, body: &Value) {
        let Some((list, secret)) = secret_items(kind) else {
            return;
        };
        let Some(Value::Array(items)) = body.get(list) else {
            return;
        };
        let clear: Vec<Value> = items
            .iter()
            .filter(|item| {
                item.as_object()
                    .is_some_and(|item| secret(item) && item.get("value").is_some_and(in_clear))
            })
            .cloned()
            .collect();
        if !clear.is_empty() {
            self.objects()
                .insert((kind, name.to_owned()), json!({ list: clear }));
        }
    }

    /// The secret settings held for the object, which are no longer held.
    pub fn take(&self, kind: Kind, name: &str) -> Option<Value> {
        self.objects().remove(&(kind, name.to_owned()))
    }
}

/// Takes secret values out of a text before it is stored or shown: an API may quote what it
/// was sent in an error message (`"apiKey 'abc…' is invalid"`), and that message ends up in the
/// ledger, on stderr and in reports. `apply` knows the values it put into a request and passes
/// every failure of that request through the redactor of those values.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Longest first, so that a value containing another is replaced whole.
    needles: Vec<String>,
}

/// What a removed value is replaced with.
pub const REDACTED: &str = "[redacted]";

/// Values shorter than this are left in place: replacing every `on` or `1` in a message would
/// make it unreadable, and values that short are flags or small numbers rather than
/// credentials.
const MIN_REDACTED_LEN: usize = 4;

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.needles.len())
    }
}

impl Redactor {
    /// Adds a value sent in a request: a string as it is and as JSON escapes it (an echo of a
    /// JSON body carries the escaped form); any other JSON as its text.
    pub fn add(&mut self, value: &Value) {
        let mut forms = Vec::new();
        match value {
            Value::String(text) => {
                let escaped = Value::String(text.clone()).to_string();
                forms.push(escaped[1..escaped.len() - 1].to_owned());
                forms.push(text.clone());
            }
            Value::Null => {}
            other => forms.push(other.to_string()),
        }
        for form in forms {
            if form.chars().count() >= MIN_REDACTED_LEN && !self.needles.contains(&form) {
                self.needles.push(form);
            }
        }
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    /// `text` with every added value replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), REDACTED);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redactor_removes_values_raw_and_json_escaped_and_keeps_short_ones() {
        let mut redactor = Redactor::default();
        redactor.add(&json!("sk_live_\"quoted\""));
        redactor.add(&json!("sk_live"));
        redactor.add(&json!("on"));
        redactor.add(&json!(123456));
        let text =
            r#"apiKey "sk_live_\"quoted\"" invalid; raw sk_live_"quoted"; sk_live; on; 123456"#;
        assert_eq!(
            redactor.redact(text),
            "apiKey \"[redacted]\" invalid; raw [redacted]; [redacted]; on; [redacted]"
        );
        assert_eq!(format!("{redactor:?}"), "Redactor(4 values)");
    }

    #[test]
    fn hex_is_two_lower_case_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(
            hex(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    fn hasher() -> SecretHasher {
        SecretHasher::from_token("token-a")
    }

    #[test]
    fn password_settings_become_keyed_hashes() {
        let body = json!({"name": "d", "config": [
            {"name": "d/config/password", "value": "hunter2", "type": "password"},
            {"name": "d/config/user", "value": "ops", "type": "string"},
            {"name": "d/config/empty", "value": "", "type": "password"},
        ]});
        let clean = sanitize(Kind::Destinations, body, &hasher());
        assert_eq!(clean.secrets(), 1);
        let text = clean.to_json();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("\"ops\""));
        let marker = &clean.value()["config"][0]["value"];
        assert!(is_marker(marker));
        assert_eq!(marker["segbridge_secret"], "present");
        assert_eq!(
            clean.value()["config"][2]["value"],
            "",
            "nothing to hide in an empty value"
        );
    }

    #[test]
    fn hashes_detect_changes_and_depend_on_the_token() {
        let one = |value: &str, token: &str| {
            let body = json!({"config": [{"value": value, "type": "password"}]});
            sanitize(Kind::Destinations, body, &SecretHasher::from_token(token))
                .into_json_and_hash()
                .1
        };
        assert_eq!(one("a", "t"), one("a", "t"));
        assert_ne!(one("a", "t"), one("b", "t"));
        assert_ne!(one("a", "t"), one("a", "u"));
    }

    #[test]
    fn function_config_values_are_all_secret() {
        let body = json!({"function_config": [{"name": "apiKey", "value": "k-123", "type": "string"}, {"name": "flag", "value": true, "type": "boolean"}]});
        let clean = sanitize(Kind::Sources, body, &hasher());
        assert_eq!(clean.secrets(), 2);
        assert!(!clean.to_json().contains("k-123"));
    }

    #[test]
    fn masked_strings_anywhere_become_masked_markers() {
        let body = json!({"config": [{"value": "••••••••••dada", "type": "password"}], "other": {"deep": ["x", "••••"]}});
        let clean = sanitize(Kind::Destinations, body, &hasher());
        assert_eq!(clean.secrets(), 2);
        assert_eq!(
            clean.value()["config"][0]["value"],
            json!({"segbridge_secret": "masked"})
        );
        assert!(!clean.to_json().contains('•'));
    }

    #[test]
    fn other_kinds_keep_their_values_and_key_order() {
        let body: Value =
            serde_json::from_str(r#"{"z": 1, "a": "password", "type": "password"}"#).unwrap();
        let clean = sanitize(Kind::Sources, body, &hasher());
        assert_eq!(
            clean.to_json(),
            r#"{"z":1,"a":"password","type":"password"}"#
        );
        assert_eq!(clean.secrets(), 0);
    }

    #[test]
    fn held_secrets_keep_only_secret_values_in_clear_and_give_them_out_once() {
        let held = HeldSecrets::default();
        let destination = json!({"config": [
            {"name": "d/config/api_key", "value": "k1", "type": "password"},
            {"name": "d/config/old", "value": "••••", "type": "password"},
            {"name": "d/config/empty", "value": "", "type": "password"},
            {"name": "d/config/region", "value": "eu", "type": "string"},
        ]});
        held.hold(Kind::Destinations, "d", &destination);
        held.hold(
            Kind::Sources,
            "s",
            &json!({"function_config": [{"name": "t", "value": "v"}]}),
        );
        held.hold(Kind::Sources, "none", &json!({"function_config": []}));
        held.hold(
            Kind::Workspaces,
            "w",
            &json!({"config": [{"value": "x", "type": "password"}]}),
        );
        assert_eq!(format!("{held:?}"), "HeldSecrets(2 objects)");
        assert_eq!(
            held.take(Kind::Destinations, "d"),
            Some(
                json!({"config": [{"name": "d/config/api_key", "value": "k1", "type": "password"}]})
            )
        );
        assert_eq!(held.take(Kind::Destinations, "d"), None);
        assert_eq!(held.take(Kind::Sources, "none"), None);
    }

    /// JSON objects with settings lists like a destination's and a source's, and strings that
    /// are masked, empty or in clear.
    fn object_body() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let string = prop_oneof![
            Just(String::new()),
            Just("••••".to_owned()),
            Just("ab•cd".to_owned()),
            "[a-zé\"\\\\]{1,6}",
        ];
        let leaf = prop_oneof![
            string.clone().prop_map(Value::from),
            any::<i32>().prop_map(Value::from),
            Just(Value::Null),
            Just(json!(1.25)),
        ];
        let value = leaf.prop_recursive(2, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map("[a-z•]{1,3}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        });
        let item = (
            prop_oneof![Just("password"), Just("string"), Just("PASSWORD")],
            value.clone(),
        )
            .prop_map(|(kind, value)| json!({"name": "n", "type": kind, "value": value}));
        (
            prop::collection::vec(item, 0..3),
            prop::collection::btree_map("[a-z_]{1,8}", value, 0..4),
        )
            .prop_map(|(items, rest)| {
                let mut object: Map<String, Value> = rest.into_iter().collect();
                object.insert("config".into(), Value::Array(items.clone()));
                object.insert("function_config".into(), Value::Array(items));
                Value::Object(object)
            })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// The text path stores what parsing and sanitizing stores, however the text is spaced
        /// and whether the mask is written as itself or as its escape.
        #[test]
        fn sanitizing_the_text_stores_what_sanitizing_the_value_does(
            body in object_body(),
            kind in proptest::sample::select(vec![
                Kind::Destinations,
                Kind::Sources,
                Kind::DestinationFilters,
                Kind::TrackingPlans,
            ]),
            pretty in proptest::prelude::any::<bool>(),
            escaped in proptest::prelude::any::<bool>(),
        ) {
            let hasher = SecretHasher::from_token("t");
            let mut text = if pretty {
                serde_json::to_string_pretty(&body).unwrap()
            } else {
                body.to_string()
            };
            if escaped {
                // The bullet stands only in strings, where its escape means the same.
                text = text.replace(MASK_CHAR, "\\u2022");
            }
            let raw = RawValue::from_string(text).unwrap();
            let from_text = sanitize_text(kind, &raw, &hasher);
            let from_value = sanitize(kind, body, &hasher);
            proptest::prop_assert_eq!(from_text.to_json(), from_value.to_json());
            proptest::prop_assert_eq!(from_text.secrets(), from_value.secrets());
        }
    }
}
