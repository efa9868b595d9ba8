//! Finding out whether a write whose outcome is unknown was applied, before sending it again.
//!
//! The Public API has no idempotency keys, so the natural key is the only way to tell: a
//! source by its slug, a label by key and value, a tracking plan by name, a function by type
//! and display name, a destination by source, metadata and name, a filter by destination,
//! title and condition, an invitation by email. One match not yet claimed by another Config
//! object is the object; several are never chosen between; none means the write did not
//! happen. Connecting a source to a plan is checked by listing the plan's sources.

use std::sync::Mutex;

use serde_json::Value;

use super::execute::Resolved;
use crate::diagnostics::chain;
use crate::mapping::IdMap;
use crate::public_api::{FunctionType, Match, PublicClient, PublicObject};

/// What a natural-key lookup found.
pub(super) enum Found {
    None,
    One(PublicObject),
    Several(String),
    /// The lookup itself failed.
    Unknown(String),
}

/// Looks the object a create makes up by its natural key, from the resolved request.
///
/// Objects whose id the ledger already gives to another Config name are not candidates: a
/// workspace may hold two destinations with the same key (same type on one source, no name),
/// and the second must not be recorded as the first.
pub(super) async fn reconcile(
    client: &PublicClient,
    step: &str,
    request: &Resolved,
    ids: &Mutex<IdMap>,
) -> Found {
    let body = request.body_value().unwrap_or(Value::Null);
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
    let param = |name: &str| {
        request
            .params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let missing = |what: &str| Found::Unknown(format!("the request lacks `{what}` to look it up"));
    let (answer, key) = match step {
        "create_source" => {
            let Some(slug) = text("/slug") else {
                return missing("slug");
            };
            (
                client.find_source_by_slug(slug).await,
                format!("slug `{slug}`"),
            )
        }
        "create_label" => {
            let (Some(k), Some(v)) = (text("/label/key"), text("/label/value")) else {
                return missing("label");
            };
            (client.find_label(k, v).await, format!("label `{k}:{v}`"))
        }
        "create_tracking_plan" => {
            let Some(name) = text("/name") else {
                return missing("name");
            };
            (
                client.find_tracking_plan(name, None).await,
                format!("name `{name}`"),
            )
        }
        "invite_user" => {
            let Some(email) = text("/invites/0/email") else {
                return missing("invites[0].email");
            };
            (
                client.find_invite(email).await,
                format!("invitation of `{email}`"),
            )
        }
        "create_function" => {
            let (Some(kind), Some(name)) = (text("/resourceType"), text("/displayName")) else {
                return missing("resourceType, displayName");
            };
            let Some(kind) = FunctionType::ALL.into_iter().find(|t| t.as_str() == kind) else {
                return missing("a known resourceType");
            };
            (
                client.find_function(kind, name).await,
                format!("display name `{name}`"),
            )
        }
        "create_destination" => {
            let (Some(source), Some(metadata)) = (text("/sourceId"), text("/metadataId")) else {
                return missing("sourceId, metadataId");
            };
            let name = text("/name");
            (
                client.find_destination(source, metadata, name).await,
                format!(
                    "source {source}, metadata {metadata}, name `{}`",
                    name.unwrap_or_default()
                ),
            )
        }
        "create_filter" => {
            let (Some(destination), Some(title), Some(condition)) =
                (param("destinationId"), text("/title"), text("/if"))
            else {
                return missing("destinationId, title, if");
            };
            (
                client.find_filter(destination, title, condition).await,
                format!("destination {destination}, title `{title}`"),
            )
        }
        other => return Found::Unknown(format!("`{other}` has no natural key to look up")),
    };
    let unclaimed = |objects: Vec<PublicObject>| {
        // Read after the lookup, so that what another lane recorded meanwhile counts.
        let ids = ids.lock().unwrap_or_else(|e| e.into_inner());
        let mut objects: Vec<_> = objects
            .into_iter()
            .filter(|o| !ids.holds_id(&o.id))
            .collect();
        match objects.len() {
            0 => Match::None,
            1 => Match::One(objects.remove(0)),
            _ => Match::Several(objects),
        }
    };
    let answer = answer.map(|found| match found {
        Match::None => Match::None,
        Match::One(object) => unclaimed(vec![object]),
        Match::Several(objects) => unclaimed(objects),
    });
    match answer {
        Ok(Match::None) => Found::None,
        Ok(Match::One(object)) => Found::One(object),
        Ok(Match::Several(objects)) => Found::Several(format!(
            "{} objects in the target have {key} ({}); segbridge does not pick one: remove the extra ones and run apply again",
            objects.len(),
            objects
                .iter()
                .map(|o| o.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(e) => Found::Unknown(format!("looking it up by {key}: {}", chain(&e))),
    }
}

/// Whether the source of a connect request is already connected to its plan.
pub(super) async fn already_connected(
    client: &PublicClient,
    request: &Resolved,
) -> Result<bool, String> {
    let plan = request
        .params
        .iter()
        .find(|(n, _)| n == "trackingPlanId")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let body = request.body_value().unwrap_or(Value::Null);
    let source = body
        .get("sourceId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sources = client
        .list_tracking_plan_sources(&plan)
        .all()
        .await
        .map_err(|e| chain(&e))?;
    Ok(sources.iter().any(|s| s.id == source))
}
