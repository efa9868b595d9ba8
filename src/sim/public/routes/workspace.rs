//! The workspace (`GET /`) and the connectivity test (`GET /echo`).
//!
//! A token belongs to exactly one workspace, so there is no list and no way to name another.
//! `GET /echo` is the documented way to test versioning and error handling: it answers the
//! `message` it was given with the request's method and headers, after `delay` milliseconds
//! (simulated time, capped at [`MAX_ECHO_DELAY`] so a client cannot park a connection), or fails
//! on request: `triggerError` and `triggerMultipleErrors` answer a 4xx (`statusCode` when it is
//! one, else 400) carrying the message once or twice, `triggerUnexpectedError` a 500, and a
//! `statusCode` alone sets the status of the answer. The `Authorization` header is echoed masked:
//! the token is a secret.

use std::time::Duration;

use axum::extract::RawQuery;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};

use super::{Reply, Sim, ok};
use crate::sim::public::error::{ApiError, ErrorItem};
use crate::sim::public::paging::Params;
use crate::sim::public::wire;

/// The longest delay `GET /echo` honours, in simulated time.
pub const MAX_ECHO_DELAY: Duration = Duration::from_secs(10);

pub async fn get(sim: Sim) -> Reply {
    let store = sim.store();
    ok(json!({"workspace": wire::workspace(&store.workspace)}))
}

fn flag(params: &Params, name: &str) -> bool {
    params.get(name) == Some("true")
}

pub async fn echo(sim: Sim, headers: HeaderMap, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let message = params.get("message").unwrap_or_default().to_owned();
    let number = |name: &str| -> Result<Option<f64>, ApiError> {
        params
            .get(name)
            .map(|raw| {
                raw.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .ok_or_else(|| ApiError::field(name, "must be a number"))
            })
            .transpose()
    };
    let delay = number("delay")?.map(|ms| Duration::from_secs_f64(ms / 1000.0));
    let status = match number("statusCode")? {
        None => None,
        Some(code) => Some(
            u16::try_from(code as u64)
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .filter(|c| c.as_u16() >= 200)
                .ok_or_else(|| ApiError::field("statusCode", "must be an HTTP status code"))?,
        ),
    };
    if let Some(delay) = delay {
        tokio::time::sleep(sim.scale.scale(delay.min(MAX_ECHO_DELAY))).await;
    }
    let client_error = status
        .filter(StatusCode::is_client_error)
        .unwrap_or(StatusCode::BAD_REQUEST);
    let item = |message: &str| ErrorItem {
        kind: "RequestError".into(),
        message: message.to_owned(),
        field: None,
        data: None,
    };
    if flag(&params, "triggerError") {
        return Err(ApiError {
            status: client_error,
            errors: vec![item(&message)],
        });
    }
    if flag(&params, "triggerMultipleErrors") {
        return Err(ApiError {
            status: client_error,
            errors: vec![item(&message), item(&format!("{message} (again)"))],
        });
    }
    if flag(&params, "triggerUnexpectedError") {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServerError",
            "An unexpected error was triggered",
        ));
    }
    let echoed: Map<String, Value> = headers
        .iter()
        .map(|(name, value)| {
            let value = if name == axum::http::header::AUTHORIZATION {
                "Bearer ••••••••••".to_owned()
            } else {
                value.to_str().unwrap_or_default().to_owned()
            };
            (name.as_str().to_owned(), Value::String(value))
        })
        .collect();
    let data = json!({"method": "get", "message": message, "headers": echoed});
    match status {
        Some(status) if !status.is_success() => Err(ApiError::new(status, "RequestError", message)),
        Some(status) => Ok((status, axum::Json(json!({ "data": data }))).into_response()),
        None => ok(data),
    }
}
