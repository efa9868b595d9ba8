//! `page_size` / `page_token` / `next_page_token` pagination.
//!
//! Page tokens are opaque to clients (base64url of a versioned offset) and `next_page_token` is
//! always present, `""` on the last page, as in the catalog dumps Segment's own scripts read.
//! Pages are rendered lazily: only the items of the requested page are turned into JSON, so
//! listing a 10,000-object collection costs one page of work per request.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::error::{ApiError, ApiResult};

/// Query parameters in order, with repeats (`names=a&names=b`) kept.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Self {
        Self(
            raw.map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default(),
        )
    }

    /// The first value of a parameter, accepting its snake_case and lowerCamelCase spellings.
    pub fn get(&self, snake: &str, camel: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == snake || k == camel)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The slice of a collection one list request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub size: usize,
}

impl Page {
    pub fn from_params(params: &Params, default_size: usize, max_size: usize) -> ApiResult<Self> {
        let size = match params.get("page_size", "pageSize") {
            None | Some("") => default_size,
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if n < 0 => {
                    return Err(ApiError::invalid("`page_size` must not be negative"));
                }
                Ok(0) => default_size,
                // Larger requests are clamped rather than refused, as AIP-158 services do.
                Ok(n) => usize::try_from(n).unwrap_or(usize::MAX).min(max_size),
                Err(_) => {
                    return Err(ApiError::invalid(format!(
                        "`page_size` must be an integer, not `{raw}`"
                    )));
                }
            },
        };
        let offset = match params.get("page_token", "pageToken") {
            None | Some("") => 0,
            Some(token) => decode_token(token)?,
        };
        Ok(Self { offset, size })
    }

    /// Renders `{"<plural>": [...], "next_page_token": "..."}` for a collection of `total`
    /// items, calling `render` only for the items on this page.
    pub fn render(self, plural: &str, total: usize, render: impl Fn(usize) -> Value) -> Value {
        let end = self.offset.saturating_add(self.size).min(total);
        let items: Vec<Value> = (self.offset.min(end)..end).map(render).collect();
        let next = if end < total {
            encode_token(end)
        } else {
            String::new()
        };
        let mut out = Map::new();
        out.insert(plural.to_owned(), Value::Array(items));
        out.insert("next_page_token".into(), Value::String(next));
        Value::Object(out)
    }
}

const TOKEN_PREFIX: &str = "v1:";

fn encode_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{offset}"))
}

fn decode_token(token: &str) -> ApiResult<usize> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|s| s.strip_prefix(TOKEN_PREFIX)?.parse().ok())
        .ok_or_else(|| ApiError::invalid(format!("invalid `page_token` `{token}`")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(query: &str) -> ApiResult<Page> {
        Page::from_params(&Params::parse(Some(query)), 10, 100)
    }

    #[test]
    fn walks_a_collection_page_by_page() {
        let mut token = String::new();
        let mut seen = Vec::new();
        loop {
            let p = page(&format!("page_size=3&page_token={token}")).unwrap();
            let body = p.render("items", 8, |i| json!(i));
            seen.extend(
                body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap()),
            );
            token = body["next_page_token"].as_str().unwrap().to_owned();
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(seen, (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn sizes_default_clamp_and_reject() {
        assert_eq!(page("").unwrap().size, 10);
        assert_eq!(page("pageSize=0").unwrap().size, 10);
        assert_eq!(page("page_size=1000").unwrap().size, 100);
        assert!(page("page_size=-1").is_err());
        assert!(page("page_size=ten").is_err());
        assert!(page("page_token=bogus").is_err());
    }

    #[test]
    fn last_page_has_an_empty_token_and_empty_collections_too() {
        let body = page("").unwrap().render("sources", 0, |_| unreachable!());
        assert_eq!(body, json!({"sources": [], "next_page_token": ""}));
    }

    #[test]
    fn repeated_parameters_are_kept() {
        let params = Params::parse(Some("names=a&names=b%2Fc"));
        assert_eq!(params.all("names"), ["a", "b/c"]);
    }
}
