//! Secret values read again from the Config API at write time.
//!
//! The export kept only a marker where a secret was (see [`crate::secrets`]); a marker whose
//! state is `present` means the Config API showed the value in clear, so it can show it again.
//! [`ConfigSecrets::read`] re-reads the one object that holds it (a destination, or a source
//! whose function settings are treated as secret) and picks the named settings out, unless
//! the export of the same process holds what it read of that object ([`HeldSecrets`], in
//! `migrate`), which it takes instead of a request. The values go back to the executor for one
//! request and are dropped with it: nothing here stores, caches or prints a value, and error
//! messages name objects and settings only.
//!
//! A value that now comes back masked is not a value: it is left out, so the payload fails as
//! manual (or is sent without it under `--allow-missing-secrets`) exactly as when the export
//! saw it masked.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::config_api::ConfigClient;
use crate::diagnostics::chain;
use crate::mapping::{SecretRef, SecretState};
use crate::model::Kind;
use crate::secrets::{HeldSecrets, MASK_CHAR};

/// Values by `(config name, Public setting name)`. Lives for one payload.
pub type LiveValues = HashMap<(String, String), Value>;

/// Reads secret values from the source workspace's Config API (read-only, like every use of
/// the Config client).
#[derive(Debug, Clone)]
pub struct ConfigSecrets {
    client: ConfigClient,
    held: Option<HeldSecrets>,
}

/// The parts of a Config object name a re-read needs.
#[derive(Debug, PartialEq, Eq)]
enum ObjectPath<'a> {
    Source {
        workspace: &'a str,
        source: &'a str,
    },
    Destination {
        workspace: &'a str,
        source: &'a str,
        destination: &'a str,
    },
}

fn object_path(kind: Kind, name: &str) -> Option<ObjectPath<'_>> {
    let parts: Vec<&str> = name.split('/').collect();
    match (kind, parts.as_slice()) {
        (Kind::Sources, ["workspaces", workspace, "sources", source]) => {
            Some(ObjectPath::Source { workspace, source })
        }
        (
            Kind::Destinations,
            [
                "workspaces",
                workspace,
                "sources",
                source,
                "destinations",
                destination,
            ],
        ) => Some(ObjectPath::Destination {
            workspace,
            source,
            destination,
        }),
        _ => None,
    }
}

/// The value of the setting `config_setting` in a raw Config object of `kind`, unless absent,
/// empty or masked.
fn setting_value(kind: Kind, body: &Value, config_setting: &str) -> Option<Value> {
    let (list, matches): (&str, &dyn Fn(&str) -> bool) = match kind {
        // `config[].name` is `<destination name>/config/<setting>`.
        Kind::Destinations => ("config", &|name: &str| {
            name.rsplit_once("/config/")
                .map_or(name == config_setting, |(_, key)| key == config_setting)
        }),
        Kind::Sources => ("function_config", &|name: &str| name == config_setting),
        _ => return None,
    };
    let value = body
        .get(list)?
        .as_array()?
        .iter()
        .find(|item| {
            item.get("name")
                .and_then(Value::as_str)
                .is_some_and(matches)
        })?
        .get("value")?;
    let usable = match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty() && !s.contains(MASK_CHAR),
        other => !other.to_string().contains(MASK_CHAR),
    };
    usable.then(|| value.clone())
}

impl ConfigSecrets {
    pub fn new(client: ConfigClient) -> Self {
        Self { client, held: None }
    }

    /// Takes the values the export of this process read, where it holds them, before reading
    /// an object again.
    pub fn with_held(self, held: HeldSecrets) -> Self {
        Self {
            held: Some(held),
            ..self
        }
    }

    /// The values of the `present` secrets among `wanted`, one GET per object that holds
    /// some and whose values are not held. A secret the object no longer has, or now shows
    /// masked, is simply not in the answer. An object that cannot be read is an error naming
    /// it.
    pub async fn read(&self, wanted: &[SecretRef]) -> Result<LiveValues, String> {
        let mut by_object: BTreeMap<(&str, Kind), Vec<&SecretRef>> = BTreeMap::new();
        for secret in wanted.iter().filter(|s| s.state == SecretState::Present) {
            by_object
                .entry((secret.config_name.as_str(), secret.kind))
                .or_default()
                .push(secret);
        }
        let mut values = LiveValues::new();
        for ((name, kind), secrets) in by_object {
            let held = self.held.as_ref().and_then(|held| held.take(kind, name));
            let body = match held {
                Some(body) => body,
                None => self.read_object(kind, name).await?,
            };
            for secret in secrets {
                if let Some(value) = setting_value(kind, &body, &secret.config_setting) {
                    values.insert((secret.config_name.clone(), secret.setting.clone()), value);
                }
            }
        }
        Ok(values)
    }

    /// The raw Config object `name` of `kind`, read again.
    async fn read_object(&self, kind: Kind, name: &str) -> Result<Value, String> {
        let Some(path) = object_path(kind, name) else {
            return Err(format!(
                "cannot tell which Config API object `{name}` is, to read its secrets again"
            ));
        };
        let answer = match path {
            ObjectPath::Source { workspace, source } => {
                self.client.get_source(workspace, source).await
            }
            ObjectPath::Destination {
                workspace,
                source,
                destination,
            } => {
                self.client
                    .get_destination(workspace, source, destination)
                    .await
            }
        };
        answer.map(|object| object.value()).map_err(|e| {
            format!(
                "cannot read the secrets of `{name}` again from the Config API: {}",
                chain(&e)
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn object_names_are_read_by_kind() {
        assert_eq!(
            object_path(Kind::Destinations, "workspaces/w/sources/s/destinations/d"),
            Some(ObjectPath::Destination {
                workspace: "w",
                source: "s",
                destination: "d"
            })
        );
        assert_eq!(
            object_path(Kind::Sources, "workspaces/w/sources/s"),
            Some(ObjectPath::Source {
                workspace: "w",
                source: "s"
            })
        );
        assert_eq!(object_path(Kind::Sources, "workspaces/w/sources/s/x"), None);
        assert_eq!(object_path(Kind::Functions, "workspaces/w/sources/s"), None);
    }

    #[test]
    fn settings_are_found_by_their_config_name_and_masks_are_not_values() {
        let destination = json!({"config": [
            {"name": "workspaces/w/sources/s/destinations/d/config/api_key", "value": "k1", "type": "password"},
            {"name": "workspaces/w/sources/s/destinations/d/config/secret", "value": "••••1234", "type": "password"},
            {"name": "workspaces/w/sources/s/destinations/d/config/empty", "value": "", "type": "password"},
        ]});
        assert_eq!(
            setting_value(Kind::Destinations, &destination, "api_key"),
            Some(json!("k1"))
        );
        assert_eq!(
            setting_value(Kind::Destinations, &destination, "secret"),
            None
        );
        assert_eq!(
            setting_value(Kind::Destinations, &destination, "empty"),
            None
        );
        assert_eq!(
            setting_value(Kind::Destinations, &destination, "other"),
            None
        );
        let source = json!({"function_config": [{"name": "token", "value": {"a": 1}}]});
        assert_eq!(
            setting_value(Kind::Sources, &source, "token"),
            Some(json!({"a": 1}))
        );
    }
}
