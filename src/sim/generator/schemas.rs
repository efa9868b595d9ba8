//! JSON Schemas for tracking plan rules, in the shape the Config API returns (the Typewriter
//! plans in `tests/fixtures` are the reference): draft-07, keys in alphabetical order, the
//! event's own properties under `properties.properties`.

use serde_json::{Map, Value, json};

use crate::sim::rng::Rng;

const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// An object with its keys sorted, as the Config API serialises schemas.
fn sorted(pairs: Vec<(String, Value)>) -> Value {
    let mut pairs = pairs;
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(pairs.into_iter().collect::<Map<String, Value>>())
}

fn entry(key: &str, value: Value) -> (String, Value) {
    (key.to_owned(), value)
}

/// What a property declares; together the specs use every JSON Schema type.
#[derive(Debug, Clone, Copy)]
enum Spec {
    String,
    Email,
    Enum(&'static [&'static str]),
    Pattern(&'static str),
    DateTime,
    Integer,
    Number,
    Boolean,
    Object(&'static [Prop]),
    StringArray,
    ObjectArray(&'static [Prop]),
    Null,
    /// `[type, "null"]`, the optional-property idiom of Typewriter plans.
    Nullable(&'static str),
    /// No `type`: any value passes.
    Any,
}

/// A property: name, description (often left empty in real plans), and spec.
type Prop = (&'static str, &'static str, Spec);

const ADDRESS: &[Prop] = &[
    ("street", "", Spec::String),
    ("city", "City name, as typed.", Spec::String),
    ("zip_code", "", Spec::Pattern("^[0-9]{5}$")),
    (
        "country",
        "ISO 3166-1 alpha-2.",
        Spec::Pattern("^[A-Z]{2}$"),
    ),
];
const CLIENT: &[Prop] = &[("language", "", Spec::String), ("sdk", "", Spec::String)];
const PLAN_REFERENCE: &[Prop] = &[
    ("id", "", Spec::String),
    ("name", "Name of the Tracking Plan", Spec::String),
    ("workspace_slug", "", Spec::String),
];
const PRODUCT: &[Prop] = &[
    ("product_id", "Database id of the product.", Spec::String),
    ("name", "", Spec::String),
    ("price", "Unit price in the order's currency.", Spec::Number),
    ("quantity", "", Spec::Integer),
];
const COMPANY: &[Prop] = &[
    ("name", "", Spec::String),
    ("industry", "", Spec::String),
    ("employees", "Head count.", Spec::Integer),
];
const APP: &[Prop] = &[
    ("name", "", Spec::String),
    (
        "version",
        "Semantic version.",
        Spec::Pattern("^[0-9]+\\.[0-9]+\\.[0-9]+$"),
    ),
    ("build", "", Spec::String),
];
const DEVICE: &[Prop] = &[
    ("id", "", Spec::String),
    ("manufacturer", "", Spec::String),
    ("model", "", Spec::String),
];
const PLANS: &[&str] = &["free", "pro", "enterprise", "équipe"];

const EVENT_PROPERTIES: &[Prop] = &[
    ("order_id", "Unique identifier of the order.", Spec::String),
    ("currency", "ISO 4217 code.", Spec::Pattern("^[A-Z]{3}$")),
    ("category", "", Spec::String),
    ("référence", "Référence interne.", Spec::String),
    ("商品名", "", Spec::String),
    (
        "payment_method",
        "",
        Spec::Enum(&["card", "paypal", "virement bancaire", "コンビニ"]),
    ),
    (
        "token_method",
        "Where the API token was fetched from.",
        Spec::Enum(&["file", "script"]),
    ),
    (
        "regex property",
        "",
        Spec::Pattern("Lawyer Morty|Evil Morty"),
    ),
    ("sku", "", Spec::Pattern("^[A-Z]{3}-[0-9]{4}$")),
    ("purchased_at", "", Spec::DateTime),
    (
        "trial_ends_at",
        "When the trial converts or lapses.",
        Spec::DateTime,
    ),
    ("quantity", "", Spec::Integer),
    (
        "numAttempts",
        "How many attempts were made to sign-in.",
        Spec::Integer,
    ),
    ("数量", "", Spec::Integer),
    ("revenue", "Revenue in the order's currency.", Spec::Number),
    ("discount", "", Spec::Number),
    ("prix_€", "Prix TTC.", Spec::Number),
    (
        "rememberMe",
        "Whether the user checked \"Remember Me\"",
        Spec::Boolean,
    ),
    ("is_trial", "", Spec::Boolean),
    ("nouveau_client", "", Spec::Boolean),
    ("address", "Shipping address.", Spec::Object(ADDRESS)),
    ("client", "Metadata about the client.", Spec::Object(CLIENT)),
    ("tracking_plan", "", Spec::Object(PLAN_REFERENCE)),
    ("tags", "", Spec::StringArray),
    (
        "products",
        "Products in the order.",
        Spec::ObjectArray(PRODUCT),
    ),
    (
        "legacy_flag",
        "Always null since the 2020 migration.",
        Spec::Null,
    ),
    ("coupon", "", Spec::Nullable("string")),
    (
        "optional int",
        "Optional integer property",
        Spec::Nullable("integer"),
    ),
    ("optional object", "", Spec::Nullable("object")),
    ("optional array", "", Spec::Nullable("array")),
    ("metadata", "Free-form.", Spec::Any),
];

const IDENTIFY_TRAITS: &[Prop] = &[
    ("email", "", Spec::Email),
    ("prénom", "", Spec::String),
    ("plan", "", Spec::Enum(PLANS)),
    ("created_at", "Sign-up time.", Spec::DateTime),
    ("age", "", Spec::Integer),
    ("company", "", Spec::Object(COMPANY)),
];

const GROUP_TRAITS: &[Prop] = &[
    ("name", "", Spec::String),
    (
        "industry",
        "",
        Spec::Enum(&["SaaS", "Retail", "Santé", "小売"]),
    ),
    ("employees", "Head count.", Spec::Integer),
    ("plan", "", Spec::Enum(PLANS)),
    ("website", "", Spec::Nullable("string")),
];

const GLOBAL_CONTEXT: &[Prop] = &[
    ("app", "", Spec::Object(APP)),
    ("locale", "", Spec::Pattern("^[a-z]{2}-[A-Z]{2}$")),
    ("timezone", "IANA time zone.", Spec::String),
    ("device", "", Spec::Object(DEVICE)),
];

fn property(rng: &mut Rng, (_, description, spec): &Prop) -> Value {
    let mut pairs = vec![entry("description", Value::from(*description))];
    let typed = |t: &str| entry("type", Value::from(t));
    match *spec {
        Spec::String => pairs.push(typed("string")),
        Spec::Email => pairs.extend([entry("format", Value::from("email")), typed("string")]),
        Spec::Enum(values) => pairs.extend([entry("enum", json!(values)), typed("string")]),
        Spec::Pattern(pattern) => {
            pairs.extend([entry("pattern", Value::from(pattern)), typed("string")])
        }
        Spec::DateTime => {
            pairs.extend([entry("format", Value::from("date-time")), typed("string")])
        }
        Spec::Integer => pairs.push(typed("integer")),
        Spec::Number => pairs.extend([entry("minimum", json!(0)), typed("number")]),
        Spec::Boolean => pairs.push(typed("boolean")),
        Spec::Object(members) => pairs.extend(object_body(rng, members, 1)),
        Spec::StringArray => {
            pairs.extend([entry("items", json!({"type": "string"})), typed("array")])
        }
        Spec::ObjectArray(members) => {
            let items = sorted(object_body(rng, members, 1));
            pairs.extend([entry("items", items), typed("array")]);
        }
        Spec::Null => pairs.push(typed("null")),
        Spec::Nullable(base) => pairs.push(entry("type", json!([base, "null"]))),
        Spec::Any => {}
    }
    sorted(pairs)
}

/// `properties`, `required` and `type: object` with a random part (at least `min`) of
/// `members`, each required with even odds.
fn object_body(rng: &mut Rng, members: &[Prop], min: usize) -> Vec<(String, Value)> {
    let mut chosen: Vec<&Prop> = members.iter().filter(|_| rng.chance(0.6)).collect();
    for prop in members {
        if chosen.len() >= min.min(members.len()) {
            break;
        }
        if !chosen.iter().any(|c| c.0 == prop.0) {
            chosen.push(prop);
        }
    }
    properties_body(rng, &chosen)
}

fn properties_body(rng: &mut Rng, members: &[&Prop]) -> Vec<(String, Value)> {
    let mut properties: Vec<(String, Value)> = Vec::with_capacity(members.len());
    let mut required = Vec::new();
    for prop in members {
        let name = prop.0;
        if properties.iter().any(|(n, _)| n == name) {
            continue;
        }
        properties.push((name.to_owned(), property(rng, prop)));
        if rng.chance(0.5) {
            required.push(name.to_owned());
        }
    }
    required.sort();
    vec![
        entry("properties", sorted(properties)),
        entry("required", json!(required)),
        entry("type", Value::from("object")),
    ]
}

fn labels(rng: &mut Rng) -> Value {
    match rng.below(10) {
        0..7 => json!({}),
        7 | 8 => json!({"flow": *rng.pick(&["signin", "checkout", "onboarding"])}),
        _ => json!({"priority": "high", "team": *rng.pick(&["growth", "données"])}),
    }
}

/// A rule schema whose `section` (`context`, `properties` or `traits`) holds `body`.
fn rule(rng: &mut Rng, section: &str, body: Option<Value>) -> Value {
    let mut sections = vec![
        entry("context", json!({})),
        entry("properties", json!({})),
        entry("traits", json!({})),
    ];
    let mut pairs = vec![
        entry("$schema", Value::from(DRAFT_07)),
        entry("labels", labels(rng)),
        entry("type", Value::from("object")),
    ];
    match body {
        Some(body) => {
            pairs.push(entry("required", json!([section])));
            sections.retain(|(name, _)| name != section);
            sections.push(entry(section, body));
        }
        None => {
            sections.retain(|(name, _)| name != section);
            sections.push(entry(section, json!({"type": "object"})));
        }
    }
    pairs.push(entry("properties", sorted(sections)));
    sorted(pairs)
}

/// A track event's schema. Later versions of an event declare more properties, as plans grow.
pub(super) fn event(rng: &mut Rng, version: u32) -> Value {
    let count = match rng.below(10) {
        0 => 0,
        _ => rng.range(1, 6) + version as usize - 1,
    };
    let members: Vec<&Prop> = (0..count).map(|_| rng.pick(EVENT_PROPERTIES)).collect();
    let body = (!members.is_empty()).then(|| sorted(properties_body(rng, &members)));
    rule(rng, "properties", body)
}

pub(super) fn identify(rng: &mut Rng) -> Value {
    let body = sorted(object_body(rng, IDENTIFY_TRAITS, 1));
    rule(rng, "traits", Some(body))
}

pub(super) fn group(rng: &mut Rng) -> Value {
    let body = sorted(object_body(rng, GROUP_TRAITS, 1));
    rule(rng, "traits", Some(body))
}

/// Rules every call must satisfy, which constrain the shared `context`.
pub(super) fn global(rng: &mut Rng) -> Value {
    let body = sorted(object_body(rng, GLOBAL_CONTEXT, 1));
    rule(rng, "context", Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_rules_have_the_config_api_shape() {
        let mut rng = Rng::new(4);
        let schema = (0..50)
            .map(|_| event(&mut rng, 1))
            .find(|s| s.get("required").is_some())
            .unwrap();
        let keys: Vec<&String> = schema.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["$schema", "labels", "properties", "required", "type"]
        );
        assert_eq!(schema["$schema"], DRAFT_07);
        assert_eq!(schema["required"], json!(["properties"]));
        assert_eq!(schema["properties"]["context"], json!({}));
        assert_eq!(schema["properties"]["traits"], json!({}));
        assert_eq!(schema["properties"]["properties"]["type"], "object");
    }
}
