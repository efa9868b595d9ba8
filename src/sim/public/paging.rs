//! Query parameters and cursor pagination of the Public API.
//!
//! `pagination` is a deepObject (`pagination[count]=50&pagination[cursor]=…`), but the guide's
//! own example and typewriter send dotted keys (`pagination.count=50`), so both spellings are
//! read. `count` must be 1–200 (documented; anything else is 422); without `pagination` a list
//! returns up to 200 items (the default is undocumented; 200 is the reference's suggestion).
//! Cursors are opaque, URL-safe base64 of the offset (`MA` for 0), so they survive being put in a
//! query string unescaped. Output: `{"current", "next"?, "previous"?, "totalEntries"}` where
//! `next` is omitted (never `null`) on the last page and `previous` on the first, as documented.
//! Pages are rendered lazily: only the requested page's items become JSON.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::error::{ApiError, ApiResult};

/// The largest documented page.
pub const MAX_COUNT: usize = 200;
/// Page size when a list request has no `pagination` (INFERRED).
pub const DEFAULT_COUNT: usize = 200;

/// Query parameters in order, with repeats kept.
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

    /// Every parameter name, in order (repeats included).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(k, _)| k.as_str())
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A nested value in either spelling: `outer[inner]` or `outer.inner`.
    pub fn nested(&self, outer: &str, inner: &str) -> Option<&str> {
        let bracket = format!("{outer}[{inner}]");
        let dotted = format!("{outer}.{inner}");
        self.0
            .iter()
            .find(|(k, _)| *k == bracket || *k == dotted)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of an array parameter, in the spellings clients use: repeated `name=a`,
    /// `name[]=a`, `name[0]=a`, and one comma-separated `name=a,b`.
    pub fn list(&self, name: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (key, value) in &self.0 {
            let matches = key == name
                || key
                    .strip_prefix(name)
                    .and_then(|rest| rest.strip_prefix('['))
                    .and_then(|rest| rest.strip_suffix(']'))
                    .is_some_and(|index| index.bytes().all(|b| b.is_ascii_digit()));
            if matches {
                out.extend(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned),
                );
            }
        }
        out
    }

    /// Array-of-object parameters such as `rules[0][type]=TRACK` (qs) or `rules.0[type]=TRACK`
    /// (the Go SDK): index → field → value, in index order.
    pub fn objects(&self, name: &str) -> Vec<Map<String, Value>> {
        let mut by_index: std::collections::BTreeMap<usize, Map<String, Value>> =
            std::collections::BTreeMap::new();
        for (key, value) in &self.0 {
            let Some(rest) = key.strip_prefix(name) else {
                continue;
            };
            // `[0][type]` or `.0[type]`
            let rest = rest
                .strip_prefix('.')
                .map(|r| r.replacen('[', "][", 1))
                .map(|r| format!("[{r}"))
                .unwrap_or_else(|| rest.to_owned());
            let parts: Vec<&str> = rest.split(['[', ']']).filter(|p| !p.is_empty()).collect();
            if let [index, field] = parts.as_slice()
                && let Ok(index) = index.parse::<usize>()
            {
                by_index
                    .entry(index)
                    .or_default()
                    .insert((*field).to_owned(), Value::String(value.clone()));
            }
        }
        by_index.into_values().collect()
    }
}

/// The slice of a collection one list request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: usize,
    pub count: usize,
}

impl Page {
    pub fn from_params(params: &Params) -> ApiResult<Self> {
        let count = params.nested("pagination", "count");
        let cursor = params.nested("pagination", "cursor");
        let count = match count {
            None if cursor.is_some() => return Err(ApiError::required("pagination.count")),
            None => DEFAULT_COUNT,
            Some(raw) => match raw.trim().parse::<f64>() {
                Err(_) => return Err(ApiError::field("pagination.count", "must be a number")),
                Ok(n) if n.fract() != 0.0 => {
                    return Err(ApiError::field("pagination.count", "must be an integer"));
                }
                Ok(n) if n < 1.0 => {
                    return Err(ApiError::field(
                        "pagination.count",
                        "must be greater than or equal to 1",
                    ));
                }
                Ok(n) if n > MAX_COUNT as f64 => {
                    return Err(ApiError::field(
                        "pagination.count",
                        &format!("must be less than or equal to {MAX_COUNT}"),
                    ));
                }
                Ok(n) => n as usize,
            },
        };
        let offset = match cursor {
            None | Some("") => 0,
            Some(cursor) => decode_cursor(cursor)
                .ok_or_else(|| ApiError::field("pagination.cursor", "is not a valid cursor"))?,
        };
        Ok(Self { offset, count })
    }

    /// `{"<key>": [...], "pagination": {...}}` for a collection of `total` items, calling
    /// `render` only for the items on this page.
    pub fn render(self, key: &str, total: usize, render: impl Fn(usize) -> Value) -> Value {
        let end = self.offset.saturating_add(self.count).min(total);
        let items: Vec<Value> = (self.offset.min(end)..end).map(render).collect();
        let mut out = Map::new();
        out.insert(key.to_owned(), Value::Array(items));
        out.insert("pagination".into(), self.output(total));
        Value::Object(out)
    }

    /// The `PaginationOutput` of this page over `total` items.
    pub fn output(self, total: usize) -> Value {
        let end = self.offset.saturating_add(self.count).min(total);
        let mut pagination = Map::new();
        pagination.insert("current".into(), json!(encode_cursor(self.offset)));
        if end < total {
            pagination.insert("next".into(), json!(encode_cursor(end)));
        }
        if self.offset > 0 {
            let previous = self.offset.saturating_sub(self.count);
            pagination.insert("previous".into(), json!(encode_cursor(previous)));
        }
        pagination.insert("totalEntries".into(), json!(total));
        Value::Object(pagination)
    }
}

pub fn encode_cursor(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(offset.to_string())
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    // Padded standard base64 (`MA==`), as in Segment's examples, is accepted too.
    let trimmed = cursor.trim_end_matches('=');
    let bytes = URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .ok()?;
    String::from_utf8(bytes).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(query: &str) -> ApiResult<Page> {
        Page::from_params(&Params::parse(Some(query)))
    }

    #[test]
    fn both_spellings_walk_every_item_once() {
        for style in [
            "pagination[count]=3&pagination[cursor]=",
            "pagination.count=3&pagination.cursor=",
        ] {
            let mut cursor = String::new();
            let mut seen = Vec::new();
            loop {
                let body = page(&format!("{style}{cursor}"))
                    .unwrap()
                    .render("items", 8, |i| json!(i));
                seen.extend(
                    body["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_u64().unwrap()),
                );
                match body["pagination"].get("next") {
                    Some(next) => cursor = next.as_str().unwrap().to_owned(),
                    None => break,
                }
            }
            assert_eq!(seen, (0..8).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_last_page_omits_next_and_the_first_omits_previous() {
        let body = page("pagination[count]=200")
            .unwrap()
            .render("x", 2, |i| json!(i));
        assert_eq!(
            body["pagination"],
            json!({"current": "MA", "totalEntries": 2})
        );
        let second = page("pagination.count=1&pagination.cursor=MQ")
            .unwrap()
            .render("x", 2, |i| json!(i));
        assert_eq!(second["pagination"]["previous"], "MA");
        assert!(second["pagination"].get("next").is_none());
    }

    #[test]
    fn counts_outside_one_to_two_hundred_are_422() {
        for bad in ["0", "201", "-1", "ten", "1.5"] {
            let err = page(&format!("pagination[count]={bad}")).unwrap_err();
            assert_eq!(err.status.as_u16(), 422, "{bad}");
            assert_eq!(err.errors[0].field.as_deref(), Some("pagination.count"));
        }
        assert_eq!(page("").unwrap().count, DEFAULT_COUNT);
        assert!(page("pagination[count]=5&pagination[cursor]=%%%").is_err());
        assert_eq!(
            page("pagination[count]=5&pagination[cursor]=MA==")
                .unwrap()
                .offset,
            0
        );
    }

    #[test]
    fn array_parameters_in_every_spelling() {
        let p = Params::parse(Some("emails=a@x&emails[]=b@x&emails[2]=c@x,d@x"));
        assert_eq!(p.list("emails"), ["a@x", "b@x", "c@x", "d@x"]);
        let rules = Params::parse(Some(
            "rules[0][type]=TRACK&rules[0][key]=A&rules.1[type]=COMMON&rules.1[version]=2",
        ))
        .objects("rules");
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0]["key"], "A");
        assert_eq!(rules[1]["type"], "COMMON");
        assert_eq!(rules[1]["version"], "2");
    }
}
