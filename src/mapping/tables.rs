//! The translation rules as data: the TOML files of `mappings/`, embedded in the binary and
//! overridable file by file with a directory (`--mappings DIR`).
//!
//! Each file has a tiny fixed schema (unknown keys are refused, so a typo cannot silently
//! disable a rule) and every value that becomes a Public API enum is checked against that enum
//! here, at load time, so a bad table fails before any object is mapped. Every error names the
//! file, the line and the key. A directory may hold any subset of the files; the others keep
//! their embedded version. A `.toml` file whose name is not one of ours is an error too: a
//! misnamed override would otherwise be ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// The file names, in the order the documentation lists them, with their embedded text.
pub const FILES: [(&str, &str); 7] = [
    ("catalog.toml", include_str!("../../mappings/catalog.toml")),
    (
        "destination_settings.toml",
        include_str!("../../mappings/destination_settings.toml"),
    ),
    ("filters.toml", include_str!("../../mappings/filters.toml")),
    (
        "schema_config.toml",
        include_str!("../../mappings/schema_config.toml"),
    ),
    (
        "tracking_plans.toml",
        include_str!("../../mappings/tracking_plans.toml"),
    ),
    (
        "functions.toml",
        include_str!("../../mappings/functions.toml"),
    ),
    ("iam.toml", include_str!("../../mappings/iam.toml")),
];

/// Public API enums the tables may name (from the request schemas of the Public API).
pub const FILTER_ACTION_TYPES: &[&str] = &["ALLOW_PROPERTIES", "DROP", "DROP_PROPERTIES", "SAMPLE"];
pub const RULE_TYPES: &[&str] = &["COMMON", "GROUP", "IDENTIFY", "PAGE", "SCREEN", "TRACK"];
pub const PLAN_TYPES: &[&str] = &[
    "ENGAGE",
    "LIVE",
    "PROPERTY_LIBRARY",
    "RULE_LIBRARY",
    "TEMPLATE",
];
pub const FUNCTION_RESOURCE_TYPES: &[&str] = &[
    "DESTINATION",
    "INSERT_DESTINATION",
    "INSERT_SOURCE",
    "INSERT_TRANSFORMATION",
    "SOURCE",
];
pub const FUNCTION_SETTING_TYPES: &[&str] = &["ARRAY", "BOOLEAN", "STRING", "TEXT_MAP"];
pub const PERMISSION_RESOURCE_TYPES: &[&str] =
    &["FUNCTION", "SOURCE", "SPACE", "WAREHOUSE", "WORKSPACE"];
/// The Public schema-settings fields a schema-config field may land in.
pub const SCHEMA_SETTING_PATHS: &[&str] = &[
    "track.allowUnplannedEvents",
    "track.allowUnplannedEventProperties",
    "track.allowEventOnViolations",
    "track.allowPropertiesOnViolations",
    "track.commonEventOnViolations",
    "identify.allowUnplannedTraits",
    "identify.allowTraitsOnViolations",
    "identify.commonEventOnViolations",
    "group.allowUnplannedTraits",
    "group.allowTraitsOnViolations",
    "group.commonEventOnViolations",
];
pub const SCHEMA_FORWARDING_FIELDS: &[&str] =
    &["forwardingViolationsTo", "forwardingBlockedEventsTo"];

/// Why a table could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TablesError {
    #[error("{file}:{line}: `{key}`: {message}")]
    Invalid {
        file: String,
        line: usize,
        key: String,
        message: String,
    },
    #[error("cannot read the mappings folder `{}`", dir.display())]
    ReadFolder {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the mapping table `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{}: `{name}` is not a mapping table; expected one of: {expected}",
        dir.display(),
        expected = FILES.map(|(n, _)| n).join(", ")
    )]
    UnknownFile { dir: PathBuf, name: String },
}

// ---- file schemas ----------------------------------------------------------------------------

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogTable {
    pub source_rename: Vec<SlugRename>,
    pub destination_rename: Vec<SlugRename>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlugRename {
    pub config_slug: String,
    pub public_slug: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    Copy,
    Secret,
}

impl Transform {
    pub fn as_str(self) -> &'static str {
        match self {
            Transform::Copy => "copy",
            Transform::Secret => "secret",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingType {
    pub public_option_type: String,
    pub transform: Transform,
    pub omit_when_empty: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingRename {
    pub integration: String,
    pub config_key: String,
    pub public_key: String,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingDrop {
    pub integration: String,
    pub config_key: String,
    pub reason: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationSettingsTable {
    pub types: BTreeMap<String, SettingType>,
    pub rename: Vec<SettingRename>,
    pub drop: Vec<SettingDrop>,
}

impl DestinationSettingsTable {
    pub fn renamed_key(&self, integration: &str, key: &str) -> Option<&str> {
        self.rename
            .iter()
            .find(|r| r.integration == integration && r.config_key == key)
            .map(|r| r.public_key.as_str())
    }

    pub fn dropped(&self, integration: &str, key: &str) -> Option<&SettingDrop> {
        self.drop
            .iter()
            .find(|d| d.integration == integration && d.config_key == key)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterLimits {
    pub max_filters_per_destination: usize,
    pub max_if_bytes: usize,
    pub max_actions_per_filter: usize,
    pub max_field_objects: usize,
    pub max_fields_per_object: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FiltersTable {
    pub field_list_key: String,
    pub action_types: BTreeMap<String, Spanned<String>>,
    pub limits: FilterLimits,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchemaConfigTable {
    pub fields: BTreeMap<String, Spanned<String>>,
    pub forwarding: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingPlansTable {
    pub plan_type: Spanned<String>,
    pub max_rules_per_request: usize,
    pub max_request_bytes: usize,
    pub rule_types: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionsTable {
    pub deploy: Vec<String>,
    pub display_name_gains_workspace: Vec<String>,
    pub resource_types: BTreeMap<String, Spanned<String>>,
    pub setting_types: BTreeMap<String, Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IamTable {
    pub roles: BTreeMap<String, String>,
    pub resource_types: BTreeMap<String, Spanned<String>>,
}

/// All the tables.
#[derive(Debug, Clone)]
pub struct Tables {
    pub catalog: CatalogTable,
    pub destination_settings: DestinationSettingsTable,
    pub filters: FiltersTable,
    pub schema_config: SchemaConfigTable,
    pub tracking_plans: TrackingPlansTable,
    pub functions: FunctionsTable,
    pub iam: IamTable,
}

/// The text of one file and the name it is reported under.
struct Source<'a> {
    file: String,
    text: &'a str,
}

impl Source<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text[..offset].matches('\n').count() + 1
    }

    /// The key written on the line holding `offset` (`a = 1` → `a`, `[types.map]` → `types.map`).
    fn key_at(&self, offset: usize) -> String {
        let start = self.text[..offset.min(self.text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line = self.text[start..].lines().next().unwrap_or("").trim();
        let key = match line.split_once('=') {
            Some((key, _)) => key,
            None => line.trim_start_matches('[').trim_end_matches(']'),
        };
        key.trim().trim_matches('"').to_owned()
    }

    fn parse<T: for<'de> Deserialize<'de>>(&self) -> Result<T, TablesError> {
        toml::from_str(self.text).map_err(|err| {
            let offset = err.span().map_or(0, |s| s.start);
            TablesError::Invalid {
                file: self.file.clone(),
                line: self.line_of(offset),
                key: self.key_at(offset),
                message: err.message().trim().to_owned(),
            }
        })
    }

    fn invalid(&self, offset: usize, key: &str, message: String) -> TablesError {
        TablesError::Invalid {
            file: self.file.clone(),
            line: self.line_of(offset),
            key: key.to_owned(),
            message,
        }
    }

    /// Checks that every value of `map` is one of `allowed` (or empty, where `allow_empty`).
    fn check_enum(
        &self,
        map: &BTreeMap<String, Spanned<String>>,
        allowed: &[&str],
        allow_empty: bool,
    ) -> Result<(), TablesError> {
        for (key, value) in map {
            self.check_value(key, value, allowed, allow_empty)?;
        }
        Ok(())
    }

    fn check_value(
        &self,
        key: &str,
        value: &Spanned<String>,
        allowed: &[&str],
        allow_empty: bool,
    ) -> Result<(), TablesError> {
        let text = value.get_ref().as_str();
        if allowed.contains(&text) || (allow_empty && text.is_empty()) {
            return Ok(());
        }
        Err(self.invalid(
            value.span().start,
            key,
            format!("`{text}` is not one of: {}", allowed.join(", ")),
        ))
    }
}

/// The Config value types every destination setting may have; the table must cover each.
pub const CONFIG_SETTING_TYPES: &[&str] = &[
    "string",
    "multi_line_string",
    "color",
    "number",
    "boolean",
    "select",
    "map",
    "list",
    "mixed",
    "password",
];

impl Tables {
    /// The tables embedded in the binary. They are checked by the tests, so a failure here is a
    /// build defect, hence the panic.
    pub fn embedded() -> &'static Tables {
        static TABLES: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
        TABLES.get_or_init(|| {
            Tables::from_texts(|name| Ok((name.to_owned(), None))).expect("embedded tables")
        })
    }

    /// The embedded tables with every file present in `dir` replacing its embedded version.
    pub fn load(dir: &Path) -> Result<Tables, TablesError> {
        let entries = std::fs::read_dir(dir).map_err(|source| TablesError::ReadFolder {
            dir: dir.to_owned(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| TablesError::ReadFolder {
                dir: dir.to_owned(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".toml") && !FILES.iter().any(|(n, _)| *n == name) {
                return Err(TablesError::UnknownFile {
                    dir: dir.to_owned(),
                    name,
                });
            }
        }
        Tables::from_texts(|name| {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok((path.display().to_string(), Some(text))),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    Ok((name.to_owned(), None))
                }
                Err(source) => Err(TablesError::Read { path, source }),
            }
        })
    }

    /// Builds the tables; `read(name)` returns the name to report and an override text, or
    /// `None` for the embedded text.
    fn from_texts(
        read: impl Fn(&str) -> Result<(String, Option<String>), TablesError>,
    ) -> Result<Tables, TablesError> {
        let mut texts = Vec::with_capacity(FILES.len());
        for (name, embedded) in FILES {
            let (file, text) = read(name)?;
            texts.push((file, text.unwrap_or_else(|| embedded.to_owned())));
        }
        let source = |i: usize| Source {
            file: texts[i].0.clone(),
            text: &texts[i].1,
        };

        let catalog: CatalogTable = source(0).parse()?;

        let settings_src = source(1);
        let destination_settings: DestinationSettingsTable = settings_src.parse()?;
        for wanted in CONFIG_SETTING_TYPES {
            if !destination_settings.types.contains_key(*wanted) {
                return Err(settings_src.invalid(
                    0,
                    &format!("types.{wanted}"),
                    format!("every Config setting type needs a row; `{wanted}` has none"),
                ));
            }
        }

        let filters_src = source(2);
        let filters: FiltersTable = filters_src.parse()?;
        filters_src.check_enum(&filters.action_types, FILTER_ACTION_TYPES, false)?;

        let schema_src = source(3);
        let schema_config: SchemaConfigTable = schema_src.parse()?;
        schema_src.check_enum(&schema_config.fields, SCHEMA_SETTING_PATHS, false)?;
        schema_src.check_enum(&schema_config.forwarding, SCHEMA_FORWARDING_FIELDS, false)?;

        let plans_src = source(4);
        let tracking_plans: TrackingPlansTable = plans_src.parse()?;
        plans_src.check_value("plan_type", &tracking_plans.plan_type, PLAN_TYPES, false)?;
        plans_src.check_enum(&tracking_plans.rule_types, RULE_TYPES, false)?;
        if tracking_plans.max_rules_per_request == 0 || tracking_plans.max_request_bytes == 0 {
            return Err(plans_src.invalid(
                0,
                "max_rules_per_request",
                "batch limits must be positive".into(),
            ));
        }

        let functions_src = source(5);
        let functions: FunctionsTable = functions_src.parse()?;
        functions_src.check_enum(&functions.resource_types, FUNCTION_RESOURCE_TYPES, false)?;
        functions_src.check_enum(&functions.setting_types, FUNCTION_SETTING_TYPES, false)?;

        let iam_src = source(6);
        let iam: IamTable = iam_src.parse()?;
        iam_src.check_enum(&iam.resource_types, PERMISSION_RESOURCE_TYPES, true)?;

        Ok(Tables {
            catalog,
            destination_settings,
            filters,
            schema_config,
            tracking_plans,
            functions,
            iam,
        })
    }

    /// The Public filter action type of a Config action type.
    pub fn filter_action(&self, config_type: &str) -> Option<&str> {
        self.filters
            .action_types
            .get(config_type)
            .map(|v| v.get_ref().as_str())
    }

    /// The Public permission resource type of a Config policy resource collection; `Some("")`
    /// when the table says the Public API has none.
    pub fn permission_resource_type(&self, collection: &str) -> Option<&str> {
        self.iam
            .resource_types
            .get(collection)
            .map(|v| v.get_ref().as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        std::fs::write(dir.join(name), text).unwrap();
    }

    #[test]
    fn embedded_tables_load_and_cover_the_reference_rows() {
        let t = Tables::embedded();
        assert_eq!(t.filter_action("drop_event"), Some("DROP"));
        assert_eq!(t.filter_action("sample_event"), Some("SAMPLE"));
        assert_eq!(
            t.filter_action("whitelist_fields"),
            Some("ALLOW_PROPERTIES")
        );
        assert_eq!(t.filter_action("blacklist_fields"), Some("DROP_PROPERTIES"));
        assert_eq!(t.filter_action("blocklist_fields"), Some("DROP_PROPERTIES"));
        assert_eq!(t.filters.limits.max_filters_per_destination, 10);
        assert_eq!(t.tracking_plans.max_rules_per_request, 200);
        assert_eq!(
            t.schema_config.fields["allow_unplanned_track_events"].get_ref(),
            "track.allowUnplannedEvents"
        );
        assert_eq!(t.functions.setting_types["text-map"].get_ref(), "TEXT_MAP");
        assert_eq!(t.permission_resource_type("sources"), Some("SOURCE"));
        assert_eq!(t.permission_resource_type("destinations"), Some(""));
        assert_eq!(
            t.destination_settings.types["password"].transform,
            Transform::Secret
        );
    }

    #[test]
    fn a_directory_overrides_only_the_files_it_holds() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "catalog.toml",
            "source_rename = []\n[[destination_rename]]\nconfig_slug = \"appboy\"\npublic_slug = \"braze\"\n",
        );
        let t = Tables::load(dir.path()).unwrap();
        assert_eq!(t.catalog.destination_rename[0].public_slug, "braze");
        assert_eq!(t.filter_action("drop_event"), Some("DROP"), "embedded kept");
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let bad = include_str!("../../mappings/filters.toml")
            .replace("sample_event = \"SAMPLE\"", "sample_event = \"SAMPLED\"");
        write(dir.path(), "filters.toml", &bad);
        let err = Tables::load(dir.path()).unwrap_err().to_string();
        let line = bad
            .lines()
            .position(|l| l.contains("SAMPLED"))
            .map(|i| i + 1)
            .unwrap();
        assert!(err.contains(&format!("filters.toml:{line}:")), "{err}");
        assert!(
            err.contains("`sample_event`") && err.contains("SAMPLED"),
            "{err}"
        );

        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "tracking_plans.toml",
            "plan_type = \"LIVE\"\nmax_rules_per_request = 200\nmax_request_bytes = 10\nmax_rulez = 1\n[rule_types]\n",
        );
        let err = Tables::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("tracking_plans.toml:4:"), "{err}");
        assert!(err.contains("`max_rulez`"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "filter.toml", "");
        let err = Tables::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("`filter.toml` is not a mapping table"),
            "{err}"
        );
    }

    #[test]
    fn a_setting_type_without_a_row_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text = include_str!("../../mappings/destination_settings.toml").replace(
            "[types.color]\npublic_option_type = \"color\"\ntransform = \"copy\"\nomit_when_empty = true\n",
            "",
        );
        write(dir.path(), "destination_settings.toml", &text);
        let err = Tables::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("types.color"), "{err}");
    }
}
