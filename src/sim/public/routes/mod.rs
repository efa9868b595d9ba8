//! The Public API endpoints, one module per resource group, and what they share: the simulator
//! handle, the validated request body, and the `{"data": …}` replies.
//!
//! Bodies reach handlers already validated against the operation's schema by the gateway
//! (`super::gateway`), so handlers read fields without re-checking their types and only enforce
//! what a schema cannot: references between objects, documented limits and uniqueness.

pub mod catalog;
pub mod destinations;
pub mod filters;
pub mod functions;
pub mod iam;
pub mod labels;
pub mod observability;
pub mod regulations;
pub mod sources;
pub mod tracking_plans;
pub mod workspace;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::PublicOptions;
use super::error::{ApiError, ApiResult};
use super::limits::RateLimits;
use super::schema::SchemaDoc;
use super::store::{Label, PublicStore};
use crate::sim::clock::TimeScale;
use crate::sim::stats::RequestStats;

/// Everything a handler can reach.
pub struct PublicSim {
    pub store: Mutex<PublicStore>,
    pub options: PublicOptions,
    /// The one token this workspace accepts (tokens are workspace-scoped).
    pub token: String,
    pub limits: RateLimits,
    pub stats: Arc<RequestStats>,
    pub schema: &'static SchemaDoc,
    /// For handlers that wait (`GET /echo?delay=`).
    pub scale: TimeScale,
}

impl PublicSim {
    /// Locks the store. A handler that panicked mid-request leaves the data as it was at the
    /// panic, which is what a crashed backend would show too, so poisoning is ignored.
    pub fn store(&self) -> MutexGuard<'_, PublicStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the gateway hands a handler: the validated body (`null` without one) and the request's
/// media type, for operations whose input differs by version.
#[derive(Debug, Clone)]
pub struct Call {
    pub body: Value,
    pub request_media: Option<String>,
}

impl Call {
    pub fn is_alpha(&self) -> bool {
        self.request_media.as_deref() == Some("application/vnd.segment.v1alpha+json")
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.body.get(name).and_then(Value::as_str)
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        self.body.get(name).and_then(Value::as_bool)
    }

    pub fn array(&self, name: &str) -> &[Value] {
        self.body
            .get(name)
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }
}

pub type Sim = axum::extract::State<Arc<PublicSim>>;
pub type Input = axum::Extension<Call>;
pub type Reply = ApiResult<Response>;

/// 200 `{"data": data}`.
pub fn ok(data: Value) -> Reply {
    Ok((StatusCode::OK, Json(json!({ "data": data }))).into_response())
}

/// 201 `{"data": data}`, for the creates that declare it.
pub fn created(data: Value) -> Reply {
    Ok((StatusCode::CREATED, Json(json!({ "data": data }))).into_response())
}

/// `{"data": {"status": "SUCCESS"}}`.
pub fn success() -> Reply {
    ok(json!({"status": "SUCCESS"}))
}

/// Labels of a request body (`LabelV1` objects, already validated).
pub fn parse_labels(values: &[Value]) -> Vec<Label> {
    values
        .iter()
        .map(|v| Label {
            key: v["key"].as_str().unwrap_or_default().to_owned(),
            value: v["value"].as_str().unwrap_or_default().to_owned(),
            description: v
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_owned),
        })
        .collect()
}

/// A required query parameter, or 422 naming it.
pub fn required_param(params: &super::paging::Params, name: &str) -> ApiResult<String> {
    params
        .get(name)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError::required(name))
}
