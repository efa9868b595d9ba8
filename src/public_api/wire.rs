//! The Public API's JSON as this client reads it: the `{"data": …}` envelope, list pages with
//! their `pagination` object, `{"errors": […]}` bodies, and the `msBeforeNext` of a 429.
//!
//! Private to the client; the simulator has its own wire types, so that a field misspelt here
//! cannot pass the tests by being misspelt the same way there. Objects stay `serde_json::Value`s
//! in the API's key order; only the keys needed to unwrap, page and name objects are read, and
//! unknown fields are kept, not refused. A list whose items are missing, or are not under the
//! expected key, is an error rather than an empty page: losing a page silently would make the
//! planner create what already exists.
//!
//! Errors never quote a JSON body (objects hold masked and unmasked secret settings); only a body
//! that is not JSON at all (a proxy's HTML page) is quoted.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::http::error::excerpt;

/// Why a 2xx answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error(
        "the body holds more than {limit} JSON values, far more than any answer of the API; \
         refusing to parse it"
    )]
    TooManyValues { limit: usize },
    #[error("the body is not JSON: `{excerpt}`")]
    NotJson {
        excerpt: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the body has no `data` object")]
    NoData,
    #[error("the answer has no `{key}` object")]
    MissingObject { key: String },
    #[error("the answer has no `{expected}` list, only {found}")]
    MissingList { expected: String, found: String },
    #[error("`{key}` is not a list")]
    NotAList { key: String },
    #[error("`pagination.{field}` is not a string")]
    BadCursor { field: &'static str },
    #[error("an item has no `{field}` to name it by")]
    MissingKey { field: &'static str },
    /// An id no real object has, which segbridge would store, show and put in paths. Shown
    /// escaped (`\n`, `\u{0}`) and cut short.
    #[error("the object with the id `{id}` cannot be used: {reason}")]
    BadId { id: String, reason: &'static str },
}

/// Checks an id from the API before it becomes an id-map entry, a path segment and part of
/// messages: no control characters (they would reach the terminal and the reports), no `/`
/// (ids are opaque tokens; one with a slash was made to look like a path), and not `.` or `..`
/// (which URL resolution would remove from a path).
pub(crate) fn check_id(id: &str) -> Result<(), WireError> {
    let reason = if id.chars().any(char::is_control) {
        "it contains control characters"
    } else if id.contains('/') {
        "it contains a `/`"
    } else if matches!(id, "" | "." | "..") {
        "it is empty, `.` or `..`"
    } else {
        return Ok(());
    };
    let escaped: String = id.escape_debug().collect();
    let id = match escaped.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    };
    Err(WireError::BadId { id, reason })
}

/// Parses a body as JSON, quoting it in the error only when it is not JSON at all.
pub(crate) fn parse(body: &[u8]) -> Result<Value, WireError> {
    within_value_limit(body)?;
    serde_json::from_slice(body).map_err(|source| WireError::NotJson {
        excerpt: excerpt(body),
        source,
    })
}

/// Refuses a body with more JSON values than any answer of the API holds, before a parse.
pub(crate) fn within_value_limit(body: &[u8]) -> Result<(), WireError> {
    let limit = crate::http::json::MAX_VALUES;
    if crate::http::json::too_many_values(body, limit) {
        return Err(WireError::TooManyValues { limit });
    }
    Ok(())
}

/// The object under `data`.
pub(crate) fn data(body: Value) -> Result<Map<String, Value>, WireError> {
    match body {
        Value::Object(mut envelope) => match envelope.remove("data") {
            Some(Value::Object(data)) => Ok(data),
            _ => Err(WireError::NoData),
        },
        _ => Err(WireError::NoData),
    }
}

/// The object under `key` of `data` (`source` in `{"data": {"source": {…}}}`).
pub(crate) fn object(data: &mut Map<String, Value>, key: &str) -> Result<Value, WireError> {
    match data.remove(key) {
        Some(value @ Value::Object(_)) => Ok(value),
        _ => Err(WireError::MissingObject {
            key: key.to_owned(),
        }),
    }
}

/// The list under `key` of `data`.
pub(crate) fn list(data: &mut Map<String, Value>, key: &str) -> Result<Vec<Value>, WireError> {
    match data.remove(key) {
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(WireError::NotAList {
            key: key.to_owned(),
        }),
        None => {
            let found: Vec<String> = data
                .keys()
                .filter(|k| *k != "pagination")
                .map(|k| format!("`{k}`"))
                .collect();
            Err(WireError::MissingList {
                expected: key.to_owned(),
                found: if found.is_empty() {
                    "nothing".to_owned()
                } else {
                    found.join(", ")
                },
            })
        }
    }
}

/// A page's objects, its next cursor and its total, as a client hands them to the walker.
pub(crate) type PageParts<T> = (Vec<T>, Option<String>, Option<u64>);

/// One page of a list.
#[derive(Debug)]
pub(crate) struct ListPage {
    pub items: Vec<Value>,
    /// The cursor of the next page; `None` on the last (`next` absent, null or empty).
    pub next: Option<String>,
    pub total_entries: Option<u64>,
}

pub(crate) fn page(mut data: Map<String, Value>, key: &str) -> Result<ListPage, WireError> {
    let items = list(&mut data, key)?;
    let (next, total_entries) = pagination(data.get("pagination").and_then(Value::as_object))?;
    Ok(ListPage {
        items,
        next,
        total_entries,
    })
}

/// The next cursor and the total of a page's `pagination` object.
pub(crate) fn pagination(
    object: Option<&Map<String, Value>>,
) -> Result<(Option<String>, Option<u64>), WireError> {
    let next = match object.and_then(|p| p.get("next")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(WireError::BadCursor { field: "next" }),
    };
    let total_entries = object
        .and_then(|p| p.get("totalEntries"))
        .and_then(Value::as_u64);
    Ok((next, total_entries))
}

/// One entry of an `{"errors": […]}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// `type`: `input-validation`, `NotFound`, `RequestError`… (an open set).
    pub kind: String,
    pub message: Option<String>,
    /// The input field that caused it (`warehouse.metadataId`, `actions.0.type`).
    pub field: Option<String>,
}

/// The entries of an error body, or `None` when the body is not the API's error envelope.
pub(crate) fn errors(body: &[u8]) -> Option<Vec<FieldError>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let entries = value.get("errors")?.as_array()?;
    // The server's text on its way to a terminal: quoted like a body (one line, no control
    // characters, bounded).
    let text = |entry: &Value, key: &str| {
        entry
            .get(key)
            .and_then(Value::as_str)
            .map(|text| excerpt(text.as_bytes()))
    };
    Some(
        entries
            .iter()
            .map(|entry| FieldError {
                kind: text(entry, "type").unwrap_or_default(),
                message: text(entry, "message"),
                field: text(entry, "field"),
            })
            .collect(),
    )
}

/// The wait a 429 asks for in `errors[].data.msBeforeNext`.
pub(crate) fn ms_before_next(body: &[u8]) -> Option<Duration> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value
        .get("errors")?
        .as_array()?
        .iter()
        .find_map(|entry| entry.get("data")?.get("msBeforeNext")?.as_f64())
        // `try_`: a wait too long for a `Duration` (1e300 ms) is no answer, not a panic.
        .and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok())
}

/// A string field of an object.
pub(crate) fn str_field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_end_when_next_is_absent_null_or_empty() {
        for pagination in [
            json!({"current": "MA"}),
            json!({"current": "MA", "next": null}),
            json!({"current": "MA", "next": ""}),
        ] {
            let data = json!({"sources": [], "pagination": pagination});
            let page = page(data.as_object().unwrap().clone(), "sources").unwrap();
            assert_eq!(page.next, None);
        }
        let data = json!({"sources": [{"id": "a"}], "pagination": {"current": "MA", "next": "MQ", "totalEntries": 2}});
        let page = page(data.as_object().unwrap().clone(), "sources").unwrap();
        assert_eq!(page.next.as_deref(), Some("MQ"));
        assert_eq!(page.total_entries, Some(2));
    }

    #[test]
    fn a_list_under_another_key_is_an_error_not_an_empty_page() {
        let data = json!({"source": [], "pagination": {}});
        let err = page(data.as_object().unwrap().clone(), "sources").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the answer has no `sources` list, only `source`"
        );
    }

    #[test]
    fn error_bodies_and_waits() {
        let body = br#"{"errors": [{"type": "input-validation", "message": "\"slug\" is required", "field": "slug"},
                                   {"type": "RequestError", "message": "Too many requests",
                                    "data": {"remainingPoints": 0, "msBeforeNext": 1500, "consumedPoints": 21}}]}"#;
        let entries = errors(body).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].field.as_deref(), Some("slug"));
        assert_eq!(entries[1].field, None);
        assert_eq!(ms_before_next(body), Some(Duration::from_millis(1500)));
        assert_eq!(errors(b"<html>502</html>"), None);
        assert_eq!(ms_before_next(br#"{"errors": []}"#), None);
        // Too long for a `Duration`, negative: no wait, and no panic.
        for ms in ["1e300", "-5"] {
            let body = format!(r#"{{"errors": [{{"data": {{"msBeforeNext": {ms}}}}}]}}"#);
            assert_eq!(ms_before_next(body.as_bytes()), None, "{ms}");
        }
    }

    #[test]
    fn the_envelope_is_required() {
        assert!(matches!(
            data(json!({"errors": []})),
            Err(WireError::NoData)
        ));
        let mut inner = data(json!({"data": {"source": {"id": "x"}}})).unwrap();
        assert_eq!(object(&mut inner, "source").unwrap()["id"], "x");
    }
}
