//! The integration catalog shared by both simulators.
//!
//! `data/catalog.json` is derived from the real Config API v1beta catalog dumps by
//! `scripts/derive_catalog.py` and embedded in the binary, so the simulators need no files at run
//! time. Each item keeps the Config API wire shape and key order of the real dump (minus prose
//! descriptions, which the Config simulator serves as `""`), and carries a `public_id`: the
//! Public API metadata id, derived from the slug so that it is stable across regenerations and
//! opaque to clients. The Public simulator renders the same items in its own shape from the typed
//! fields here.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::{Map, Value};

const CATALOG_JSON: &str = include_str!("../../data/catalog.json");

/// A setting type of a destination catalog item, as the Config API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SettingType {
    String,
    Boolean,
    Number,
    Map,
    List,
    Select,
    Mixed,
    Password,
    Color,
    MultiLineString,
}

impl SettingType {
    /// The lower-case spelling used in destination `config[].type` on the Config API.
    pub fn config_value_type(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Number => "number",
            Self::Map => "map",
            Self::List => "list",
            Self::Select => "select",
            Self::Mixed => "mixed",
            Self::Password => "password",
            Self::Color => "color",
            Self::MultiLineString => "multi_line_string",
        }
    }

    /// Secret settings are the ones a migration must never copy from a masked read.
    pub fn is_secret(self) -> bool {
        self == Self::Password
    }
}

/// One setting of a destination catalog item.
#[derive(Debug, Clone, Deserialize)]
pub struct CatalogSetting {
    pub name: String,
    pub display_name: String,
    #[serde(rename = "type")]
    pub kind: SettingType,
    pub required: bool,
    pub deprecated: bool,
    #[serde(default)]
    pub select_validators: Option<SelectValidators>,
    #[serde(default)]
    pub settings: Vec<CatalogSetting>,
}

impl CatalogSetting {
    /// The options a SELECT setting accepts (empty for other types).
    pub fn select_options(&self) -> &[String] {
        self.select_validators
            .as_ref()
            .map_or(&[], |v| v.select_options.as_slice())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SelectValidators {
    #[serde(default)]
    pub select_options: Vec<String>,
}

/// A destination integration (`catalog/destinations/{slug}`).
#[derive(Debug, Clone)]
pub struct CatalogDestination {
    pub slug: String,
    pub display_name: String,
    pub public_id: String,
    pub previous_names: Vec<String>,
    pub settings: Vec<CatalogSetting>,
    /// The item in Config API wire shape (descriptions restored as `""`).
    pub config_wire: Value,
}

impl CatalogDestination {
    pub fn setting(&self, name: &str) -> Option<&CatalogSetting> {
        self.settings.iter().find(|s| s.name == name)
    }
}

/// Whether a source type collects events or syncs objects from a cloud app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceType {
    Event,
    Object,
}

/// A source integration (`catalog/sources/{slug}`).
#[derive(Debug, Clone)]
pub struct CatalogSource {
    pub slug: String,
    pub display_name: String,
    pub public_id: String,
    pub categories: Vec<String>,
    pub source_type: SourceType,
    pub config_wire: Value,
}

/// The whole catalog, sorted by slug, with lookups by slug and by Public id.
#[derive(Debug)]
pub struct Catalog {
    pub sources: Vec<CatalogSource>,
    pub destinations: Vec<CatalogDestination>,
    source_by_slug: HashMap<String, usize>,
    destination_by_slug: HashMap<String, usize>,
    source_by_public_id: HashMap<String, usize>,
    destination_by_public_id: HashMap<String, usize>,
}

#[derive(Deserialize)]
struct RawCatalog {
    schema_version: u32,
    sources: Vec<Map<String, Value>>,
    destinations: Vec<Map<String, Value>>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog data is not valid JSON")]
    Json(#[from] serde_json::Error),
    #[error("catalog schema version {0} is not supported (expected 1)")]
    Version(u32),
    #[error("catalog item `{name}` is malformed: {reason}")]
    Item { name: String, reason: String },
}

impl Catalog {
    /// The catalog embedded in the binary. Parsed once; a malformed embedded catalog is a build
    /// defect caught by the tests, hence the panic.
    pub fn embedded() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| Catalog::parse(CATALOG_JSON).expect("embedded catalog is valid"))
    }

    pub fn parse(json: &str) -> Result<Catalog, CatalogError> {
        let raw: RawCatalog = serde_json::from_str(json)?;
        if raw.schema_version != 1 {
            return Err(CatalogError::Version(raw.schema_version));
        }
        let sources = raw
            .sources
            .into_iter()
            .map(parse_source)
            .collect::<Result<Vec<_>, _>>()?;
        let destinations = raw
            .destinations
            .into_iter()
            .map(parse_destination)
            .collect::<Result<Vec<_>, _>>()?;
        let index = |keys: Vec<&String>| -> HashMap<String, usize> {
            keys.into_iter()
                .enumerate()
                .map(|(i, k)| (k.clone(), i))
                .collect()
        };
        Ok(Catalog {
            source_by_slug: index(sources.iter().map(|s| &s.slug).collect()),
            source_by_public_id: index(sources.iter().map(|s| &s.public_id).collect()),
            destination_by_slug: index(destinations.iter().map(|d| &d.slug).collect()),
            destination_by_public_id: index(destinations.iter().map(|d| &d.public_id).collect()),
            sources,
            destinations,
        })
    }

    pub fn source(&self, slug: &str) -> Option<&CatalogSource> {
        self.source_by_slug.get(slug).map(|&i| &self.sources[i])
    }

    pub fn destination(&self, slug: &str) -> Option<&CatalogDestination> {
        self.destination_by_slug
            .get(slug)
            .map(|&i| &self.destinations[i])
    }

    pub fn source_by_public_id(&self, id: &str) -> Option<&CatalogSource> {
        self.source_by_public_id.get(id).map(|&i| &self.sources[i])
    }

    pub fn destination_by_public_id(&self, id: &str) -> Option<&CatalogDestination> {
        self.destination_by_public_id
            .get(id)
            .map(|&i| &self.destinations[i])
    }
}

fn item_error(name: &str, reason: impl Into<String>) -> CatalogError {
    CatalogError::Item {
        name: name.to_owned(),
        reason: reason.into(),
    }
}

fn take_str(item: &Map<String, Value>, key: &str, name: &str) -> Result<String, CatalogError> {
    item.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| item_error(name, format!("missing string `{key}`")))
}

/// Splits `catalog/<kind>/<slug>` into the slug. Slugs may contain dots (`.net`) but no slash.
fn slug_of(name: &str, kind: &str) -> Result<String, CatalogError> {
    name.strip_prefix(&format!("catalog/{kind}/"))
        .filter(|s| !s.is_empty() && !s.contains('/'))
        .map(str::to_owned)
        .ok_or_else(|| item_error(name, format!("name is not `catalog/{kind}/<slug>`")))
}

/// Rebuilds the Config API wire object: every key but `public_id`, with `description: ""` put
/// back where the real API had it (after `display_name` on items, before `settings` on settings).
fn config_wire(item: &Map<String, Value>, is_setting: bool) -> Value {
    let mut out = Map::new();
    for (key, value) in item {
        match key.as_str() {
            "public_id" => continue,
            "settings" => {
                if is_setting {
                    out.insert("description".into(), Value::String(String::new()));
                }
                let nested = value
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_object)
                            .map(|s| config_wire(s, true))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(key.clone(), Value::Array(nested));
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
        if key == "display_name" && !is_setting {
            out.insert("description".into(), Value::String(String::new()));
        }
    }
    Value::Object(out)
}

fn parse_source(item: Map<String, Value>) -> Result<CatalogSource, CatalogError> {
    let name = take_str(&item, "name", "?")?;
    let categories = item
        .get("categories")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let source_type = match item.get("type").and_then(Value::as_str) {
        Some("object") => SourceType::Object,
        _ => SourceType::Event,
    };
    Ok(CatalogSource {
        slug: slug_of(&name, "sources")?,
        display_name: take_str(&item, "display_name", &name)?,
        public_id: take_str(&item, "public_id", &name)?,
        categories,
        source_type,
        config_wire: config_wire(&item, false),
    })
}

fn parse_destination(item: Map<String, Value>) -> Result<CatalogDestination, CatalogError> {
    let name = take_str(&item, "name", "?")?;
    let settings: Vec<CatalogSetting> = serde_json::from_value(
        item.get("settings")
            .cloned()
            .unwrap_or(Value::Array(vec![])),
    )
    .map_err(|e| item_error(&name, format!("bad settings: {e}")))?;
    let previous_names = item
        .get("previous_names")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(CatalogDestination {
        slug: slug_of(&name, "destinations")?,
        display_name: take_str(&item, "display_name", &name)?,
        public_id: take_str(&item, "public_id", &name)?,
        previous_names,
        settings,
        config_wire: config_wire(&item, false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_loads_with_unique_slugs_and_ids() {
        let catalog = Catalog::embedded();
        assert!(catalog.sources.len() >= 60, "{}", catalog.sources.len());
        assert!(catalog.destinations.len() >= 300);
        assert_eq!(catalog.source_by_slug.len(), catalog.sources.len());
        assert_eq!(
            catalog.destination_by_public_id.len(),
            catalog.destinations.len()
        );
    }

    #[test]
    fn lookups_by_slug_and_public_id_agree() {
        let catalog = Catalog::embedded();
        let ga = catalog.destination("google-analytics").unwrap();
        assert_eq!(ga.display_name, "Google Analytics");
        assert_eq!(ga.public_id.len(), 24);
        assert!(ga.public_id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(
            catalog
                .destination_by_public_id(&ga.public_id)
                .unwrap()
                .slug,
            "google-analytics"
        );
        let net = catalog.source(".net").unwrap();
        assert_eq!(net.public_id.len(), 10);
        assert_eq!(
            catalog.source_by_public_id(&net.public_id).unwrap().slug,
            ".net"
        );
    }

    #[test]
    fn setting_types_cover_the_catalog() {
        let catalog = Catalog::embedded();
        let salesforce = catalog.destination("salesforce").unwrap();
        assert!(salesforce.setting("password").unwrap().kind.is_secret());
        let adwords = catalog.destination("adwords").unwrap();
        let mixed = adwords
            .settings
            .iter()
            .find(|s| s.kind == SettingType::Mixed)
            .unwrap();
        assert!(
            !mixed.settings.is_empty(),
            "MIXED settings carry nested settings"
        );
    }

    #[test]
    fn renamed_integrations_keep_previous_names() {
        let braze = Catalog::embedded().destination("appboy").unwrap();
        assert!(braze.previous_names.iter().any(|n| n == "Appboy"));
    }

    #[test]
    fn config_wire_restores_empty_descriptions_in_place() {
        let ga = Catalog::embedded().destination("google-analytics").unwrap();
        let keys: Vec<&String> = ga.config_wire.as_object().unwrap().keys().collect();
        assert_eq!(keys[..3], ["name", "display_name", "description"]);
        assert!(!keys.iter().any(|k| *k == "public_id"));
        let setting = ga.config_wire["settings"][0].as_object().unwrap();
        let skeys: Vec<&String> = setting.keys().collect();
        assert_eq!(skeys[skeys.len() - 2..], ["description", "settings"]);
    }

    #[test]
    fn malformed_catalogs_are_rejected_with_the_item_name() {
        let err = Catalog::parse(
            r#"{"schema_version":1,"sources":[{"name":"sources/x"}],"destinations":[]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("sources/x"), "{err}");
        assert!(matches!(
            Catalog::parse(r#"{"schema_version":2,"sources":[],"destinations":[]}"#),
            Err(CatalogError::Version(2))
        ));
    }
}
