//! The Config API v1beta endpoints, one module per service, and what they share: the simulator
//! handle, request-body decoding and update-mask resolution.

pub mod catalog;
pub mod destinations;
pub mod filters;
pub mod functions;
pub mod iam;
pub mod metrics;
pub mod sources;
pub mod tokens;
pub mod tracking_plans;
pub mod workspaces;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::body::Bytes;
use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::store::{ConfigOptions, ConfigStore};
use super::wire::Fields;
use crate::sim::ratelimit::FixedWindow;
use crate::sim::stats::RequestStats;

/// Everything a handler can reach.
pub struct ConfigSim {
    pub store: Mutex<ConfigStore>,
    pub options: ConfigOptions,
    /// Requests per token per (scaled) minute.
    pub limiter: FixedWindow,
    /// Requests served, for `/_sim/stats`.
    pub stats: Arc<RequestStats>,
}

impl ConfigSim {
    /// Locks the store. A handler that panicked mid-request leaves the data as it was at the
    /// panic, which is what a crashed backend would show too, so poisoning is ignored.
    pub fn store(&self) -> MutexGuard<'_, ConfigStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub type Sim = axum::extract::State<Arc<ConfigSim>>;
pub type Reply = ApiResult<Json<Value>>;

/// The `{}` that deletes and other empty answers return.
pub fn empty() -> Reply {
    Ok(Json(json!({})))
}

/// Decodes a request body. An empty body is `{}`; anything else must be JSON (the documented
/// single-quoted pseudo-JSON of some doc examples is rejected, as a strict server would).
pub fn parse_body(body: &Bytes) -> ApiResult<Value> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid(format!("invalid JSON body: {e}")))
}

/// One field an update mask selects: its name and the new value, `None` meaning "reset to the
/// empty value" (a path with no value clears the field, as the API design guide documents).
pub struct MaskedField<'a> {
    pub field: &'static str,
    pub value: Option<&'a Value>,
}

/// Resolves `update_mask.paths` against the fields a resource allows. `prefix` is the wrapper
/// name (`destination.`), or `""` for filters, whose paths are bare; a prefixed path is also
/// tolerated there. Without a mask nothing changes ("data but no paths will not change the
/// field value").
pub fn masked_fields<'a>(
    body: &'a Value,
    wrapper: &str,
    allowed: &[&'static str],
) -> ApiResult<Vec<MaskedField<'a>>> {
    let Some(paths) = super::wire::mask_paths(body)? else {
        return Ok(Vec::new());
    };
    let patch = super::wire::unwrap_body(body, wrapper).unwrap_or(Fields(&EMPTY_OBJECT));
    let prefix = format!("{wrapper}.");
    paths
        .iter()
        .map(|path| {
            let bare = path.strip_prefix(&prefix).unwrap_or(path);
            let field = allowed
                .iter()
                .find(|a| **a == bare || super::wire::camel(a) == bare)
                .ok_or_else(|| ApiError::invalid(format!("invalid update mask path `{path}`")))?;
            Ok(MaskedField {
                field,
                value: nested(patch, field),
            })
        })
        .collect()
}

static EMPTY_OBJECT: std::sync::LazyLock<serde_json::Map<String, Value>> =
    std::sync::LazyLock::new(serde_json::Map::new);

/// `rules.events` reads `patch.rules.events`.
fn nested<'a>(patch: Fields<'a>, dotted: &str) -> Option<&'a Value> {
    let mut parts = dotted.split('.');
    let mut current = patch.get(parts.next()?)?;
    for part in parts {
        current = Fields(current.as_object()?).get(part)?;
    }
    Some(current)
}

/// A string field of a mask: the new value or `""`.
pub fn masked_str(field: &MaskedField<'_>) -> ApiResult<String> {
    match field.value {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::invalid(format!(
            "`{}` must be a string",
            field.field
        ))),
    }
}

/// A boolean field of a mask: the new value or `false`.
pub fn masked_bool(field: &MaskedField<'_>) -> ApiResult<bool> {
    match field.value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::invalid(format!(
            "`{}` must be a boolean",
            field.field
        ))),
    }
}

/// The last segment of a slug-based name must be a slug: lower-case letters, digits, `-`, `_`.
pub fn check_slug(slug: &str, what: &str) -> ApiResult<()> {
    let valid = !slug.is_empty()
        && slug.len() <= 100
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "invalid {what} slug `{slug}`: use lower-case letters, digits, `-` and `_`"
        )))
    }
}
