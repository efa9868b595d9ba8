//! The Config API's JSON as this client reads it: list pages, error bodies, and the keys that
//! name an object.
//!
//! These types are private to the client; the simulator has its own, so that a field misspelt
//! here cannot pass the tests by being misspelt the same way there. The client reads as little
//! as it can and keeps everything else verbatim (objects stay `serde_json::Value`s in the API's
//! key order). Where it does read a field it accepts the snake_case the API sends and the
//! lowerCamelCase its protobuf gateway also understood, and tolerates fields it does not know
//! and fields that are missing, except when a missing one would make it lose data without
//! noticing: a list page whose items are under an unexpected key is an error, not an empty page.
//!
//! Errors never quote a JSON body: objects hold secret settings (destination passwords,
//! sensitive function settings), and errors end up in logs and reports. Only bodies that are not
//! JSON at all (a proxy's HTML page) are quoted.

use serde::Deserialize;
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
    #[error("the body is not a JSON object")]
    NotAnObject,
    #[error("the list page does not have the expected shape")]
    Page(#[source] serde_json::Error),
    #[error("`{key}` is not a list")]
    NotAList { key: String },
    #[error("the answer has no `{expected}` list, only {found}")]
    MissingList { expected: String, found: String },
    #[error("the answer has no `{field}` object")]
    MissingWrapper { field: &'static str },
    #[error("an object has no `{field}` to name it by")]
    MissingKey { field: &'static str },
    /// A name (or id) segbridge would store, show and build paths from, which no real object
    /// has. Shown escaped (`\n`, `\u{0}`) and cut short.
    #[error("the object named `{name}` cannot be exported: {reason}")]
    BadName { name: String, reason: &'static str },
}

/// A name for messages: control characters escaped, at most 200 characters.
fn shown_name(name: &str) -> String {
    let escaped: String = name.escape_debug().collect();
    match escaped.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped,
    }
}

/// Checks a name or id from the API before it becomes a ledger key, a path segment and part of
/// messages: no control characters (they would reach the terminal and the reports), and no
/// empty, `.` or `..` segment (which a URL or a path resolves away, so that the name would
/// address another object). When `parent` is given, the name must be one segment below it
/// (`workspaces/acme/sources` → `workspaces/acme/sources/js`): a source listed as
/// `workspaces/acme/sources/a/b` would have its destinations read from another source, and one
/// named in another workspace does not belong to this export.
pub(crate) fn check_name(name: &str, parent: Option<&str>) -> Result<(), WireError> {
    let bad = |reason| {
        Err(WireError::BadName {
            name: shown_name(name),
            reason,
        })
    };
    if name.chars().any(char::is_control) {
        return bad("it contains control characters");
    }
    if name.split('/').any(|s| matches!(s, "" | "." | "..")) {
        return bad("it has an empty, `.` or `..` path segment");
    }
    if let Some(parent) = parent {
        match name.strip_prefix(parent).and_then(|r| r.strip_prefix('/')) {
            None => return bad("it is not in the collection that listed it"),
            Some(rest) if rest.contains('/') => {
                return bad("its last segment contains a `/`");
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// `next_page_token` → `nextPageToken`.
pub(crate) fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A field under either spelling.
pub(crate) fn field<'a>(object: &'a Map<String, Value>, snake: &str) -> Option<&'a Value> {
    object.get(snake).or_else(|| object.get(&camel(snake)))
}

/// Parses a body as JSON, quoting it in the error only when it is not JSON at all.
pub(crate) fn parse(body: &[u8]) -> Result<Value, WireError> {
    let limit = crate::http::json::MAX_VALUES;
    if crate::http::json::too_many_values(body, limit) {
        return Err(WireError::TooManyValues { limit });
    }
    serde_json::from_slice(body).map_err(|source| WireError::NotJson {
        excerpt: excerpt(body),
        source,
    })
}

/// The items of a page and the cursor of the next one (`None` on the last page: the token
/// absent, null or `""`, as different endpoints do).
#[derive(Debug)]
pub(crate) struct PageBody {
    pub items: Vec<Value>,
    pub next_page_token: Option<String>,
}

/// Splits a list answer. `plural` is the snake_case key of the items (`tracking_plans`).
/// A page is `{"<plural>": [...], "next_page_token": "..."}`; it is taken apart in place, not
/// deserialized into a struct with a flattened map, which would buffer the whole page once
/// more (a tracking-plans page carries every plan's rules).
pub(crate) fn page(body: Value, plural: &str) -> Result<PageBody, WireError> {
    let Value::Object(mut object) = body else {
        return Err(WireError::NotAnObject);
    };
    let snake = object.remove("next_page_token");
    let camel = object.remove("nextPageToken");
    let token: Option<String> =
        serde_json::from_value(snake.or(camel).unwrap_or(Value::Null)).map_err(WireError::Page)?;
    let items = take_list(&mut object, plural)?;
    Ok(PageBody {
        items,
        next_page_token: token.filter(|t| !t.is_empty()),
    })
}

/// Takes the list under `plural` (either spelling) out of an object. Absent means empty unless
/// another key holds a list, which would mean the items are somewhere this client does not look.
pub(crate) fn take_list(
    object: &mut Map<String, Value>,
    plural: &str,
) -> Result<Vec<Value>, WireError> {
    let key = [plural.to_owned(), camel(plural)]
        .into_iter()
        .find(|k| object.contains_key(k));
    match key.and_then(|k| object.remove(&k).map(|v| (k, v))) {
        Some((_, Value::Array(items))) => Ok(items),
        Some((_, Value::Null)) => Ok(Vec::new()),
        Some((key, _)) => Err(WireError::NotAList { key }),
        None => {
            let lists: Vec<String> = object
                .iter()
                .filter(|(_, v)| v.is_array())
                .map(|(k, _)| format!("`{k}`"))
                .collect();
            if lists.is_empty() {
                Ok(Vec::new())
            } else {
                Err(WireError::MissingList {
                    expected: plural.to_owned(),
                    found: lists.join(", "),
                })
            }
        }
    }
}

/// The object under `wrapper` (`{"summary": {...}}` → `{...}`).
pub(crate) fn unwrap(body: Value, wrapper: &'static str) -> Result<Value, WireError> {
    let Value::Object(mut object) = body else {
        return Err(WireError::NotAnObject);
    };
    let key = [wrapper.to_owned(), camel(wrapper)]
        .into_iter()
        .find(|k| object.contains_key(k));
    match key.and_then(|k| object.remove(&k)) {
        Some(inner @ Value::Object(_)) => Ok(inner),
        _ => Err(WireError::MissingWrapper { field: wrapper }),
    }
}

/// A string field of an object, under either spelling.
pub(crate) fn str_field<'a>(value: &'a Value, snake: &str) -> Option<&'a str> {
    value
        .as_object()
        .and_then(|o| field(o, snake))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The `{"error": "...", "code": n}` body of a failed request.
/// Some gateways say `message` where the API says `error`; either is read.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: Option<String>,
    message: Option<String>,
    code: Option<i64>,
}

/// What an error body says: the gRPC code and message when it is the API's JSON, else a quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorDetail {
    pub code: Option<i64>,
    pub message: String,
}

pub(crate) fn error_detail(body: &[u8]) -> ErrorDetail {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(parsed)
            if parsed.error.is_some() || parsed.message.is_some() || parsed.code.is_some() =>
        {
            ErrorDetail {
                code: parsed.code,
                // The message is the server's text on its way to a terminal: quoted like a body.
                message: excerpt(
                    parsed
                        .error
                        .or(parsed.message)
                        .unwrap_or_default()
                        .as_bytes(),
                ),
            }
        }
        _ => ErrorDetail {
            code: None,
            message: excerpt(body),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> &'static str {
        match name {
            "workspaces" => include_str!("fixtures/list-workspaces.json"),
            "tracking-plans" => include_str!("fixtures/list-tracking-plans-no-token.json"),
            "connections" => include_str!("fixtures/list-connections-camel-case.json"),
            "access-tokens" => include_str!("fixtures/list-access-tokens-camel-case.json"),
            "error" => include_str!("fixtures/error-not-found.json"),
            "gateway" => include_str!("fixtures/error-gateway.txt"),
            other => panic!("no fixture {other}"),
        }
    }

    fn parsed(name: &str) -> Value {
        parse(fixture(name).as_bytes()).unwrap()
    }

    #[test]
    fn a_documented_list_keeps_its_items_verbatim_and_ends_on_an_empty_token() {
        let page = page(parsed("workspaces"), "workspaces").unwrap();
        assert_eq!(page.next_page_token, None);
        assert_eq!(page.items.len(), 1);
        // Key order is the API's, not alphabetical.
        let keys: Vec<&str> = page.items[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["name", "display_name", "id", "create_time"]);
    }

    #[test]
    fn a_missing_token_also_ends_the_list() {
        let page = page(parsed("tracking-plans"), "tracking_plans").unwrap();
        assert_eq!(page.next_page_token, None);
        assert_eq!(page.items.len(), 1);
        assert_eq!(
            str_field(&page.items[0], "name"),
            Some("workspaces/example/tracking-plans/rs_1AAPTLy8ffAAQth0PvL8rOvU6PJ")
        );
    }

    #[test]
    fn camel_case_cursors_lists_and_fields_are_read() {
        let connections = page(parsed("connections"), "connections").unwrap();
        assert_eq!(connections.next_page_token.as_deref(), Some("djE6MTAw"));
        assert_eq!(connections.items.len(), 2);
        assert_eq!(
            str_field(&connections.items[1], "source_name"),
            Some("workspaces/ws/sources/ios")
        );
        let tokens = page(parsed("access-tokens"), "access_tokens").unwrap();
        assert_eq!(tokens.items.len(), 1);
        assert_eq!(tokens.next_page_token, None);
    }

    #[test]
    fn items_under_an_unexpected_key_are_an_error_not_an_empty_page() {
        let err = page(json!({"items": [1], "next_page_token": ""}), "sources").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the answer has no `sources` list, only `items`"
        );
        assert!(matches!(
            page(json!({"sources": {}}), "sources"),
            Err(WireError::NotAList { .. })
        ));
        assert!(matches!(
            page(json!([]), "sources"),
            Err(WireError::NotAnObject)
        ));
        assert!(matches!(
            page(json!({"sources": [], "next_page_token": 7}), "sources"),
            Err(WireError::Page(_))
        ));
        // An empty collection may leave the list out entirely.
        assert!(page(json!({}), "sources").unwrap().items.is_empty());
    }

    #[test]
    fn error_bodies_give_code_and_message_or_a_quote() {
        assert_eq!(
            error_detail(fixture("error").as_bytes()),
            ErrorDetail {
                code: Some(5),
                message: "workspace not found".into()
            }
        );
        assert_eq!(
            error_detail(fixture("gateway").as_bytes()),
            ErrorDetail {
                code: None,
                message: "upstream connect error or disconnect/reset before headers".into()
            }
        );
        assert_eq!(error_detail(b"").message, "");
    }

    #[test]
    fn only_non_json_bodies_are_quoted() {
        let err = parse(b"<html><title>502</title></html>").unwrap_err();
        assert!(err.to_string().contains("<html>"), "{err}");
        let err = unwrap(json!({"password": "hunter2"}), "summary").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn names_that_would_escape_their_path_or_the_terminal_are_refused() {
        let parent = Some("workspaces/w/sources");
        assert!(check_name("workspaces/w/sources/js", parent).is_ok());
        assert!(check_name("workspaces/w/sources/Café東京", parent).is_ok());
        for (name, reason) in [
            (
                "workspaces/w/sources/a/b",
                "its last segment contains a `/`",
            ),
            ("workspaces/other/sources/a", "it is not in the collection"),
            ("workspaces/w/sources/..", "`.` or `..` path segment"),
            ("workspaces/w/sources/", "empty, `.`"),
            ("workspaces/w/sources/a\n", "control characters"),
            ("workspaces/w/sources/a\u{0}", "control characters"),
        ] {
            let err = check_name(name, parent).unwrap_err().to_string();
            assert!(err.contains(reason), "{name:?}: {err}");
            assert!(!err.contains('\n') && !err.contains('\0'), "{err:?}");
        }
        assert!(check_name("a/../b", None).is_err());
    }

    #[test]
    fn wrappers_are_removed() {
        let inner = unwrap(json!({"summary": {"name": "n", "delivered": 1}}), "summary").unwrap();
        assert_eq!(inner, json!({"name": "n", "delivered": 1}));
    }
}
