//! The Config API's JSON as this client reads it: list pages, error bodies, and the keys that
//! name an object.
//!
//! These types are private to the client; the simulator has its own, so that a field misspelt
//! here cannot pass the tests by being misspelt the same way there. The client reads as little
//! as it can and keeps everything else verbatim (objects stay the API's text, each item of a
//! page a slice of the page's). Where it does read a field it accepts the snake_case the API
//! sends and the lowerCamelCase its protobuf gateway also understood, and tolerates fields it
//! does not know and fields that are missing, except when a missing one would make it lose data
//! without noticing: a list page whose items are under an unexpected key is an error, not an
//! empty page.
//!
//! Errors never quote a JSON body: objects hold secret settings (destination passwords,
//! sensitive function settings), and errors end up in logs and reports. Only bodies that are not
//! JSON at all (a proxy's HTML page) are quoted.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::http::error::excerpt;
use crate::model::raw_fields;

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

/// A body's JSON text, checked whole, quoted in the error only when it is not JSON at all.
/// Text nested deeper than values can be is refused as the parse of its values would be, so
/// that no object of it fails to parse later.
pub(crate) fn json_text(body: &[u8]) -> Result<&RawValue, WireError> {
    use crate::http::json::{Excess, MAX_DEPTH, MAX_VALUES, excess};
    let not_json = |source| WireError::NotJson {
        excerpt: excerpt(body),
        source,
    };
    match excess(body, MAX_VALUES, MAX_DEPTH) {
        Some(Excess::Values) => return Err(WireError::TooManyValues { limit: MAX_VALUES }),
        Some(Excess::Depth) => {
            serde_json::from_slice::<Value>(body).map_err(not_json)?;
        }
        None => {}
    }
    serde_json::from_slice(body).map_err(not_json)
}

/// The items of a page, each as its text, and the cursor of the next page (`None` on the last
/// page: the token absent, null or `""`, as different endpoints do).
#[derive(Debug)]
pub(crate) struct PageText<'a> {
    pub items: Vec<&'a RawValue>,
    pub next_page_token: Option<String>,
}

/// Splits a list answer. `plural` is the snake_case key of the items (`tracking_plans`).
/// A page is `{"<plural>": [...], "next_page_token": "..."}`; its items are kept as their text
/// (a tracking-plans page carries every plan's rules, which a tree of values holds at several
/// times their size), each to be parsed by whoever reads it.
pub(crate) fn page_text<'a>(body: &'a RawValue, plural: &str) -> Result<PageText<'a>, WireError> {
    let cursor = raw_fields(body.get(), &["next_page_token", "nextPageToken"])
        .map_err(WireError::Page)?
        .ok_or(WireError::NotAnObject)?;
    let token: Option<String> = match cursor[0].or(cursor[1]) {
        Some(raw) => serde_json::from_str(raw.get()).map_err(WireError::Page)?,
        None => None,
    };
    Ok(PageText {
        items: list_text(body, plural)?,
        next_page_token: token.filter(|t| !t.is_empty()),
    })
}

/// The list under `plural` (either spelling) in the object `body`, each item as its text.
/// Absent means empty unless another key holds a list, which would mean the items are somewhere
/// this client does not look.
pub(crate) fn list_text<'a>(
    body: &'a RawValue,
    plural: &str,
) -> Result<Vec<&'a RawValue>, WireError> {
    let camel = camel(plural);
    let found = raw_fields(body.get(), &[plural, &camel])
        .map_err(WireError::Page)?
        .ok_or(WireError::NotAnObject)?;
    let (key, list) = match (found[0], found[1]) {
        (Some(list), _) => (plural, list),
        (None, Some(list)) => (camel.as_str(), list),
        (None, None) => return no_list(body, plural),
    };
    match list.get().as_bytes().first() {
        Some(b'[') => serde_json::from_str(list.get()).map_err(WireError::Page),
        Some(b'n') => Ok(Vec::new()),
        _ => Err(WireError::NotAList {
            key: key.to_owned(),
        }),
    }
}

/// An object without the list `plural`: empty, unless it holds lists under other keys.
fn no_list<'a>(body: &RawValue, plural: &str) -> Result<Vec<&'a RawValue>, WireError> {
    let object: Map<String, Value> =
        serde_json::from_str(body.get()).map_err(|_| WireError::NotAnObject)?;
    let lists: Vec<String> = object
        .iter()
        .filter(|(key, value)| {
            value.is_array() && !matches!(key.as_str(), "next_page_token" | "nextPageToken")
        })
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

/// The object under `wrapper` (`{"summary": {...}}` → `{...}`), as its text.
pub(crate) fn unwrap_text<'a>(
    body: &'a RawValue,
    wrapper: &'static str,
) -> Result<&'a RawValue, WireError> {
    let found = raw_fields(body.get(), &[wrapper, &camel(wrapper)])
        .map_err(|_| WireError::NotAnObject)?
        .ok_or(WireError::NotAnObject)?;
    match found[0].or(found[1]) {
        Some(inner) if inner.get().starts_with('{') => Ok(inner),
        _ => Err(WireError::MissingWrapper { field: wrapper }),
    }
}

/// A string field of an object's text, under either spelling; `None` when absent, empty or not
/// a string.
pub(crate) fn text_field(object: &RawValue, snake: &str) -> Option<String> {
    let found = raw_fields(object.get(), &[snake, &camel(snake)]).ok()??;
    let value: String = serde_json::from_str(found[0].or(found[1])?.get()).ok()?;
    Some(value).filter(|s| !s.is_empty())
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

    fn parsed(name: &str) -> &'static RawValue {
        json_text(fixture(name).as_bytes()).unwrap()
    }

    /// `value` as a body's text (leaked: a test's few bodies).
    fn text(value: Value) -> &'static RawValue {
        Box::leak(serde_json::value::to_raw_value(&value).unwrap())
    }

    fn page(body: &'static RawValue, plural: &str) -> Result<PageText<'static>, WireError> {
        page_text(body, plural)
    }

    #[test]
    fn a_documented_list_keeps_its_items_verbatim_and_ends_on_an_empty_token() {
        let page = page(parsed("workspaces"), "workspaces").unwrap();
        assert_eq!(page.next_page_token, None);
        assert_eq!(page.items.len(), 1);
        // The item is the API's text: key order is the API's, not alphabetical.
        let item: Map<String, Value> = serde_json::from_str(page.items[0].get()).unwrap();
        let keys: Vec<&str> = item.keys().map(String::as_str).collect();
        assert_eq!(keys, ["name", "display_name", "id", "create_time"]);
    }

    #[test]
    fn a_missing_token_also_ends_the_list() {
        let page = page(parsed("tracking-plans"), "tracking_plans").unwrap();
        assert_eq!(page.next_page_token, None);
        assert_eq!(page.items.len(), 1);
        assert_eq!(
            text_field(page.items[0], "name").as_deref(),
            Some("workspaces/example/tracking-plans/rs_1AAPTLy8ffAAQth0PvL8rOvU6PJ")
        );
    }

    #[test]
    fn camel_case_cursors_lists_and_fields_are_read() {
        let connections = page(parsed("connections"), "connections").unwrap();
        assert_eq!(connections.next_page_token.as_deref(), Some("djE6MTAw"));
        assert_eq!(connections.items.len(), 2);
        assert_eq!(
            text_field(connections.items[1], "source_name").as_deref(),
            Some("workspaces/ws/sources/ios")
        );
        let tokens = page(parsed("access-tokens"), "access_tokens").unwrap();
        assert_eq!(tokens.items.len(), 1);
        assert_eq!(tokens.next_page_token, None);
    }

    #[test]
    fn items_under_an_unexpected_key_are_an_error_not_an_empty_page() {
        let err = page(
            text(json!({"items": [1], "next_page_token": ""})),
            "sources",
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the answer has no `sources` list, only `items`"
        );
        assert!(matches!(
            page(text(json!({"sources": {}})), "sources"),
            Err(WireError::NotAList { .. })
        ));
        assert!(matches!(
            page(text(json!([])), "sources"),
            Err(WireError::NotAnObject)
        ));
        assert!(matches!(
            page(
                text(json!({"sources": [], "next_page_token": 7})),
                "sources"
            ),
            Err(WireError::Page(_))
        ));
        // An empty collection may leave the list out entirely.
        assert!(page(text(json!({})), "sources").unwrap().items.is_empty());
        assert!(
            page(text(json!({"sources": null})), "sources")
                .unwrap()
                .items
                .is_empty()
        );
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
        let err = json_text(b"<html><title>502</title></html>").unwrap_err();
        assert!(err.to_string().contains("<html>"), "{err}");
        let err = unwrap_text(text(json!({"password": "hunter2"})), "summary").unwrap_err();
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
    fn an_item_nested_deeper_than_values_can_be_fails_the_page_not_its_later_parse() {
        let depth = crate::http::json::MAX_DEPTH;
        let page = |levels: usize| {
            format!(
                r#"{{"sources": [{{"name": "n", "deep": {}{}}}]}}"#,
                "[".repeat(levels),
                "]".repeat(levels)
            )
        };
        // Three levels are the page's, its list's and the item's.
        let deepest = page(depth - 3);
        let items = list_text(json_text(deepest.as_bytes()).unwrap(), "sources").unwrap();
        assert!(serde_json::from_str::<Value>(items[0].get()).is_ok());
        let too_deep = page(depth - 2);
        assert!(matches!(
            json_text(too_deep.as_bytes()),
            Err(WireError::NotJson { .. })
        ));
    }

    #[test]
    fn wrappers_are_removed() {
        let inner = unwrap_text(
            text(json!({"summary": {"name": "n", "delivered": 1}})),
            "summary",
        )
        .unwrap();
        assert_eq!(inner.get(), r#"{"name":"n","delivered":1}"#);
    }
}
