//! Plausible values for destination catalog settings, by setting type and, for free-form
//! strings and numbers, by what the setting's name says it holds.

use serde_json::{Map, Number, Value};

use crate::sim::catalog::{CatalogDestination, CatalogSetting, SettingType};
use crate::sim::rng::{BASE62, LOWER_ALNUM, Rng};

use super::ids::{hex, secret};

/// The settings a destination has set, in catalog order: every required setting, every
/// PASSWORD (a destination without its credentials delivers nothing), every setting of a type
/// in `force`, and a random part of the rest, as users rarely touch most settings.
pub(super) fn config(
    rng: &mut Rng,
    item: &CatalogDestination,
    force: &[SettingType],
) -> Vec<(String, Value)> {
    let mut config = Vec::new();
    for setting in &item.settings {
        if setting.required
            || setting.kind == SettingType::Password
            || force.contains(&setting.kind)
            || rng.chance(if setting.deprecated { 0.05 } else { 0.45 })
        {
            config.push((setting.name.clone(), value(rng, setting)));
        }
    }
    config
}

fn value(rng: &mut Rng, setting: &CatalogSetting) -> Value {
    match setting.kind {
        SettingType::String => Value::String(string_value(rng, &setting.name)),
        SettingType::MultiLineString => Value::String(format!(
            "# kept in sync with the data team\n{}\n{}",
            rng.pick(EVENTS),
            rng.pick(EVENTS)
        )),
        SettingType::Password => Value::String(secret(rng)),
        SettingType::Boolean => Value::Bool(rng.chance(0.5)),
        SettingType::Number => Value::Number(Number::from(number_value(rng, &setting.name))),
        SettingType::Color => Value::String(format!("#{}", hex(rng, 6))),
        SettingType::Select => match setting.select_options() {
            [] => Value::String(String::new()),
            options => Value::String(rng.pick(options).clone()),
        },
        SettingType::List => {
            let len = rng.range(1, 4);
            Value::Array((0..len).map(|_| Value::from(*rng.pick(EVENTS))).collect())
        }
        SettingType::Map => map_value(rng),
        SettingType::Mixed => mixed_value(rng, setting),
    }
}

const EVENTS: &[&str] = &[
    "Order Completed",
    "Product Viewed",
    "Signed Up",
    "Trial Started",
    "Checkout Started",
    "Subscription Cancelled",
    "Commande validée",
    "注文完了",
];

const MAP_TARGETS: &[&str] = &[
    "purchase",
    "add_to_cart",
    "sign_up",
    "event12",
    "dimension3",
    "metric1",
    "prop7",
    "lead",
];

/// Segment event → destination-side name, the shape almost every MAP setting holds.
fn map_value(rng: &mut Rng) -> Value {
    let mut map = Map::new();
    for _ in 0..rng.range(1, 4) {
        map.insert(
            (*rng.pick(EVENTS)).to_owned(),
            Value::from(*rng.pick(MAP_TARGETS)),
        );
    }
    Value::Object(map)
}

/// An array of rows, each an object of the nested settings: required ones always, others
/// often, and never an empty row (the app does not save one).
fn mixed_value(rng: &mut Rng, setting: &CatalogSetting) -> Value {
    if setting.settings.is_empty() {
        return Value::Array(Vec::new());
    }
    let rows = (0..rng.range(1, 3))
        .map(|_| {
            let mut row = Map::new();
            for nested in &setting.settings {
                if nested.required || rng.chance(0.5) {
                    row.insert(nested.name.clone(), value(rng, nested));
                }
            }
            if row.is_empty() {
                let first = &setting.settings[0];
                row.insert(first.name.clone(), value(rng, first));
            }
            Value::Object(row)
        })
        .collect();
    Value::Array(rows)
}

fn string_value(rng: &mut Rng, name: &str) -> String {
    let name = name.to_ascii_lowercase();
    let has = |part: &str| name.contains(part);
    if has("key") || has("token") || has("secret") {
        hex(rng, 32)
    } else if has("url") || has("endpoint") || has("host") {
        format!("https://{}.example.com/collect", rng.string(LOWER_ALNUM, 8))
    } else if has("domain") {
        format!("{}.example.com", rng.string(LOWER_ALNUM, 6))
    } else if has("region") {
        (*rng.pick(&["us-east-1", "eu-west-1", "ap-southeast-2"])).to_owned()
    } else if has("email") {
        format!("ops+{}@example.com", rng.string(LOWER_ALNUM, 4))
    } else if has("id") {
        if rng.chance(0.5) {
            rng.range(100_000, 99_999_999).to_string()
        } else {
            rng.string(BASE62, 12)
        }
    } else {
        (*rng.pick(&["default", "segment", "production", "web", "données", "main"])).to_owned()
    }
}

/// Numbers within the range the setting's unit suggests.
fn number_value(rng: &mut Rng, name: &str) -> u64 {
    let name = name.to_ascii_lowercase();
    let (lo, hi) = if name.contains("rate") || name.contains("percent") {
        (1, 100)
    } else if name.contains("millis") || name.contains("delay") || name.contains("pause") {
        (100, 60_000)
    } else if name.contains("second") || name.contains("timeout") || name.contains("interval") {
        (5, 3_600)
    } else if name.contains("minute") {
        (1, 120)
    } else {
        (1, 1_000)
    };
    rng.range(lo, hi) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::catalog::Catalog;

    #[test]
    fn required_and_forced_settings_are_always_set() {
        let catalog = Catalog::embedded();
        let salesforce = catalog.destination("salesforce").unwrap();
        for seed in 0..20 {
            let config = config(&mut Rng::new(seed), salesforce, &[SettingType::Mixed]);
            for setting in &salesforce.settings {
                let set = config.iter().any(|(name, _)| *name == setting.name);
                let must = setting.required
                    || matches!(setting.kind, SettingType::Password | SettingType::Mixed);
                assert!(set || !must, "{} not set", setting.name);
            }
        }
    }

    #[test]
    fn mixed_rows_follow_the_nested_settings() {
        let adwords = Catalog::embedded().destination("adwords").unwrap();
        let mappings = adwords.setting("eventMappings").unwrap();
        let value = mixed_value(&mut Rng::new(5), mappings);
        for row in value.as_array().unwrap() {
            let row = row.as_object().unwrap();
            assert!(row.contains_key("eventName"), "required nested setting");
            assert!(
                row.keys()
                    .all(|k| mappings.settings.iter().any(|s| s.name == *k))
            );
        }
    }
}
