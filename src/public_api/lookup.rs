//! Finding objects of the target workspace by their natural keys.
//!
//! The Public API has no idempotency keys, so after a create whose outcome is unknown
//! ([`super::PublicApiError::Ambiguous`]), or on resuming a run whose ledger holds an intent
//! without a result, the executor asks here whether the object exists before creating it again.
//! The keys are those the design names, read from the objects as the API returns them:
//!
//! | kind | key | read from |
//! | --- | --- | --- |
//! | source | `slug` | `GET /sources` |
//! | destination | source id, `metadata.id`, `name` | `GET /sources/{id}/connected-destinations` |
//! | tracking plan | `name`, or the Config-era `resourceSchemaId` when the API returns it | `GET /tracking-plans` |
//! | filter | destination id, `title`, `if` | `GET /destination/{id}/filters` |
//! | function | `displayName` (destination functions gain ` (<workspace name>)`) | `GET /functions?resourceType=` |
//! | label | `key`, `value` | `GET /labels` |
//! | invite | email, ignoring ASCII case (addresses are compared as the API may normalise them) | `GET /invites` |
//!
//! These are reads: they live on [`PublicClient`], so `plan` (which must find what already
//! exists in the target) uses them too. Nothing is guessed: two objects with the same key are
//! [`Match::Several`], for the caller to report rather than pick from.

use serde_json::Value;

use super::{FunctionType, PublicApiError, PublicClient, PublicObject};

/// The objects of the target that carry a natural key.
#[derive(Debug, Clone, PartialEq)]
pub enum Match {
    None,
    One(PublicObject),
    /// More than one object has the key: a conflict to report, not to resolve by picking.
    Several(Vec<PublicObject>),
}

impl Match {
    fn of(mut found: Vec<PublicObject>) -> Self {
        match found.len() {
            0 => Self::None,
            1 => Self::One(found.remove(0)),
            _ => Self::Several(found),
        }
    }

    /// The object, when exactly one has the key.
    pub fn one(&self) -> Option<&PublicObject> {
        match self {
            Self::One(object) => Some(object),
            _ => None,
        }
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }
}

fn text<'a>(object: &'a PublicObject, pointer: &str) -> Option<&'a str> {
    object.body.pointer(pointer).and_then(Value::as_str)
}

impl PublicClient {
    /// The source with this slug (slugs are unique in a workspace).
    pub async fn find_source_by_slug(&self, slug: &str) -> Result<Match, PublicApiError> {
        let sources = self.list_sources().all().await?;
        Ok(Match::of(
            sources
                .into_iter()
                .filter(|s| s.str_field("slug") == Some(slug))
                .collect(),
        ))
    }

    /// The destinations of `source_id` made from the catalog item `metadata_id` with this
    /// name (`None`: without a name).
    pub async fn find_destination(
        &self,
        source_id: &str,
        metadata_id: &str,
        name: Option<&str>,
    ) -> Result<Match, PublicApiError> {
        let destinations = self.list_connected_destinations(source_id).all().await?;
        Ok(Match::of(
            destinations
                .into_iter()
                .filter(|d| {
                    text(d, "/sourceId").is_none_or(|s| s == source_id)
                        && text(d, "/metadata/id") == Some(metadata_id)
                        && d.str_field("name") == name
                })
                .collect(),
        ))
    }

    /// The tracking plans with this Config-era id when one carries it, else with this name.
    pub async fn find_tracking_plan(
        &self,
        name: &str,
        resource_schema_id: Option<&str>,
    ) -> Result<Match, PublicApiError> {
        let plans = self.list_tracking_plans(None).all().await?;
        if let Some(rs_id) = resource_schema_id {
            let by_id: Vec<PublicObject> = plans
                .iter()
                .filter(|p| p.resource_schema_id() == Some(rs_id))
                .cloned()
                .collect();
            if !by_id.is_empty() {
                return Ok(Match::of(by_id));
            }
        }
        Ok(Match::of(
            plans
                .into_iter()
                .filter(|p| p.str_field("name") == Some(name))
                .collect(),
        ))
    }

    /// The filters of a destination with this title and condition (`if`).
    pub async fn find_filter(
        &self,
        destination_id: &str,
        title: &str,
        condition: &str,
    ) -> Result<Match, PublicApiError> {
        let filters = self.list_filters(destination_id).all().await?;
        Ok(Match::of(
            filters
                .into_iter()
                .filter(|f| {
                    f.str_field("title") == Some(title) && f.str_field("if") == Some(condition)
                })
                .collect(),
        ))
    }

    /// The functions of a type with this display name. Destination-side functions are stored
    /// with ` (<workspace name>)` appended, so that form matches too.
    pub async fn find_function(
        &self,
        function_type: FunctionType,
        display_name: &str,
    ) -> Result<Match, PublicApiError> {
        let suffixed = match function_type {
            FunctionType::Destination | FunctionType::InsertDestination => {
                let workspace = self.get_workspace().await?;
                workspace
                    .str_field("name")
                    .map(|ws| format!("{display_name} ({ws})"))
            }
            _ => None,
        };
        let functions = self.list_functions(function_type).all().await?;
        Ok(Match::of(
            functions
                .into_iter()
                .filter(|f| {
                    let shown = f.str_field("displayName");
                    shown == Some(display_name) || (shown.is_some() && shown == suffixed.as_deref())
                })
                .collect(),
        ))
    }

    /// The label with this key and value.
    pub async fn find_label(&self, key: &str, value: &str) -> Result<Match, PublicApiError> {
        let labels = self.list_labels().await?;
        Ok(Match::of(
            labels
                .into_iter()
                .filter(|l| l.str_field("key") == Some(key) && l.str_field("value") == Some(value))
                .collect(),
        ))
    }

    /// The pending invitation of this email.
    pub async fn find_invite(&self, email: &str) -> Result<Match, PublicApiError> {
        let invites = self.list_invites().all().await?;
        Ok(Match::of(
            invites
                .into_iter()
                .filter(|i| i.id.eq_ignore_ascii_case(email))
                .collect(),
        ))
    }
}
