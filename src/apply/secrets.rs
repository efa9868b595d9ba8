//! The operator's secrets file (`apply --secrets FILE`): the values of secret settings the
//! export could not carry, keyed by Config API name and then setting name.
//!
//! ```toml
//! ["workspaces/acme/sources/web/destinations/amplitude"]
//! apiKey = "…"
//! ```
//!
//! Values live in memory only, for as long as the run: nothing here writes them anywhere, and
//! `Debug` shows the names, never a value. A masked marker in a payload can only be filled from
//! this file (a mask is never copied); a `present` one is otherwise read again from the Config
//! API at write time (see [`super::live_secrets`]), and the file's value wins over it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::mapping::SecretRef;

/// Why the secrets file cannot be used. The messages name the file and the offending key,
/// never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretsFileError {
    #[error("cannot read the secrets file `{path}`")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    // `toml`'s own message quotes the offending line, which may hold a secret, so only the
    // position is kept.
    #[error("the secrets file `{path}` is not valid TOML (near byte {at})")]
    Syntax { path: PathBuf, at: usize },
    #[error(
        "in the secrets file `{path}`, `{name}` must be a table of settings (`[\"{name}\"]` then `setting = \"value\"` lines)"
    )]
    NotATable { path: PathBuf, name: String },
    /// Every value segbridge asks the file for replaces a password, an API key or a masked
    /// (`••••`) string: a number, a table or a date there is a mistake in the file, which the
    /// Public API would otherwise get as a setting of the wrong type.
    #[error("in the secrets file `{path}`, `{setting}` of `{name}` must be a string (in quotes)")]
    NotAString {
        path: PathBuf,
        name: String,
        setting: String,
    },
    /// Entries no secret of the plan asks for: a misspelt Config name or setting, whose value
    /// would otherwise be silently ignored while the setting it was meant for goes missing.
    #[error(
        "the secrets file `{path}` has values that no secret setting of the plan asks for: {}",
        entries.join(", ")
    )]
    Unknown { path: PathBuf, entries: Vec<String> },
}

/// Secret setting values by Config name, then setting name.
#[derive(Default, Clone)]
pub struct SecretsFile {
    /// The file, for messages (empty for [`SecretsFile::empty`]).
    path: PathBuf,
    values: BTreeMap<String, BTreeMap<String, Value>>,
}

impl fmt::Debug for SecretsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.values
                    .iter()
                    .map(|(name, settings)| (name, settings.keys().collect::<Vec<_>>())),
            )
            .finish()
    }
}

impl SecretsFile {
    /// No secrets: every secret marker is missing.
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn load(path: &Path) -> Result<Self, SecretsFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| SecretsFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, SecretsFileError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| SecretsFileError::Syntax {
                    path: path.to_owned(),
                    at: e.span().map_or(0, |s| s.start),
                })?;
        let mut values = BTreeMap::new();
        for (name, settings) in table {
            let toml::Value::Table(settings) = settings else {
                return Err(SecretsFileError::NotATable {
                    path: path.to_owned(),
                    name,
                });
            };
            let mut strings = BTreeMap::new();
            for (setting, value) in settings {
                let toml::Value::String(value) = value else {
                    return Err(SecretsFileError::NotAString {
                        path: path.to_owned(),
                        name,
                        setting,
                    });
                };
                strings.insert(setting, Value::String(value));
            }
            values.insert(name, strings);
        }
        Ok(Self {
            path: path.to_owned(),
            values,
        })
    }

    /// Refuses entries that none of `wanted` (the secret settings of a plan) asks for.
    pub fn check_against(&self, wanted: &[SecretRef]) -> Result<(), SecretsFileError> {
        let entries: Vec<String> = self
            .values
            .iter()
            .flat_map(|(name, settings)| settings.keys().map(move |setting| (name, setting)))
            .filter(|(name, setting)| {
                !wanted
                    .iter()
                    .any(|w| &w.config_name == *name && &w.setting == *setting)
            })
            .map(|(name, setting)| format!("`{setting}` of `{name}`"))
            .collect();
        if entries.is_empty() {
            Ok(())
        } else {
            Err(SecretsFileError::Unknown {
                path: self.path.clone(),
                entries,
            })
        }
    }

    /// The value for a `$secret` marker, if the file has it.
    pub fn get(&self, secret: &SecretRef) -> Option<Value> {
        self.values
            .get(&secret.config_name)?
            .get(&secret.setting)
            .cloned()
    }

    /// How many values the file holds.
    pub fn len(&self) -> usize {
        self.values.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::SecretState;
    use crate::model::Kind;

    fn secret(name: &str, setting: &str) -> SecretRef {
        SecretRef {
            kind: Kind::Destinations,
            config_name: name.into(),
            setting: setting.into(),
            config_setting: setting.into(),
            state: SecretState::Masked,
        }
    }

    #[test]
    fn values_are_found_by_config_name_and_setting_and_never_shown() {
        let file = SecretsFile::parse(
            "[\"workspaces/w/destinations/a\"]\napiKey = \"hunter2\"\nport = \"3\"\n",
            Path::new("s.toml"),
        )
        .unwrap();
        assert_eq!(
            file.get(&secret("workspaces/w/destinations/a", "apiKey")),
            Some(Value::String("hunter2".into()))
        );
        assert_eq!(
            file.get(&secret("workspaces/w/destinations/a", "port")),
            Some(Value::from("3"))
        );
        assert_eq!(
            file.get(&secret("workspaces/w/destinations/b", "apiKey")),
            None
        );
        assert_eq!(file.len(), 2);
        let shown = format!("{file:?}");
        assert!(
            shown.contains("apiKey") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn a_malformed_file_is_refused_without_quoting_it() {
        let err = SecretsFile::parse("apiKey = \"hunter2\" x", Path::new("s.toml")).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = SecretsFile::parse("apiKey = \"hunter2\"", Path::new("s.toml")).unwrap_err();
        assert!(matches!(err, SecretsFileError::NotATable { .. }), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = SecretsFile::parse("[\"a\"]\nport = 4711\n", Path::new("s.toml")).unwrap_err();
        assert!(matches!(err, SecretsFileError::NotAString { .. }), "{err}");
        assert!(!err.to_string().contains("4711"), "{err}");
    }

    #[test]
    fn entries_no_secret_asks_for_are_refused_by_name_never_by_value() {
        let file = SecretsFile::parse(
            "[\"workspaces/w/destinations/a\"]\napiKey = \"hunter2\"\napiKye = \"hunter3\"\n",
            Path::new("s.toml"),
        )
        .unwrap();
        let wanted = [secret("workspaces/w/destinations/a", "apiKey")];
        let err = file.check_against(&wanted).unwrap_err().to_string();
        assert!(
            err.contains("`apiKye` of `workspaces/w/destinations/a`") && !err.contains("`apiKey`"),
            "{err}"
        );
        assert!(!err.contains("hunter"), "{err}");
        let file = SecretsFile::parse("", Path::new("s.toml")).unwrap();
        assert!(file.check_against(&wanted).is_ok());
    }
}
