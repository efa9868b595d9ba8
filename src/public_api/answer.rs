//! A planned write's answer, read where it is needed. A create answers with the object it made,
//! settings and all, and `apply` keeps an id of it: the answer is kept as its text and walked
//! to the values asked for ([`Answer::string_at`]), every other value skipped unparsed, rather
//! than parsed whole into a tree of values and dropped (that was 2% of `migrate`'s CPU).
//!
//! An answer is checked as [`super::wire`] checks every other one before it is handed over: it
//! is JSON, and it has a `data` object. Duplicate keys read as they do in a parsed value: the
//! last one counts.

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::wire::{self, WireError};
use crate::http::error::excerpt;

/// A 2xx answer to a write: JSON with a `data` object, kept as text.
#[derive(Debug)]
pub struct Answer {
    body: Vec<u8>,
}

impl Answer {
    pub(crate) fn new(body: Vec<u8>) -> Result<Answer, WireError> {
        let root: &RawValue =
            serde_json::from_slice(&body).map_err(|source| WireError::NotJson {
                excerpt: excerpt(&body),
                source,
            })?;
        match member(root, "data") {
            Some(data) if data.get().starts_with('{') => Ok(Answer { body }),
            _ => Err(WireError::NoData),
        }
    }

    /// The string at `pointer` (a JSON pointer into the whole answer: `/data/source/id`), as
    /// `Value::pointer` finds it; `None` when there is none, or it is not a string.
    pub fn string_at(&self, pointer: &str) -> Option<String> {
        // Checked JSON when the answer was made.
        let mut value: &RawValue = serde_json::from_slice(&self.body).ok()?;
        if pointer.is_empty() {
            return serde_json::from_str(value.get()).ok();
        }
        for segment in pointer.strip_prefix('/')?.split('/') {
            let segment = segment.replace("~1", "/").replace("~0", "~");
            value = match value.get().as_bytes().first() {
                Some(b'{') => member(value, &segment)?,
                Some(b'[') => {
                    let items: Vec<&RawValue> = serde_json::from_str(value.get()).ok()?;
                    *items.get(index(&segment)?)?
                }
                _ => return None,
            };
        }
        serde_json::from_str(value.get()).ok()
    }

    /// The `data` object, parsed whole (for an answer a caller reads much of).
    pub fn data(&self) -> Result<Map<String, Value>, WireError> {
        wire::parse(&self.body).and_then(wire::data)
    }
}

/// An array index as JSON pointers write it: digits, without a leading zero.
fn index(segment: &str) -> Option<usize> {
    if segment.starts_with('+') || (segment.len() > 1 && segment.starts_with('0')) {
        return None;
    }
    segment.parse().ok()
}

/// The value of `key` in `object` (the last one, if the key is there twice); `None` when
/// `object` is not an object or has no such key.
fn member<'a>(object: &'a RawValue, key: &str) -> Option<&'a RawValue> {
    let found = crate::model::raw_fields(object.get(), &[key]).ok()??;
    found.into_iter().next().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(text: &str) -> Answer {
        Answer::new(text.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn a_string_is_found_where_a_parsed_value_finds_it() {
        let texts = [
            r#"{"data": {"source": {"id": "src_1", "settings": {"a": [1, {"id": "no"}]}, "name": "x"}}}"#,
            r#"{"data": {"source": {"id": 7}}}"#,
            r#"{"data": {"source": {"id": "first", "id": "last"}}}"#,
            r#"{"data": {"a/b": {"m~n": "escaped"}, "list": [{"id": "i0"}, {"id": "i1"}]}}"#,
            r#"{"data": {"s\u006furce": {"id": "unescaped key"}}}"#,
            r#"{"data": {}, "errors": [{"message": "x"}]}"#,
        ];
        let pointers = [
            "/data/source/id",
            "/data/source/name",
            "/data/source/settings/a/1/id",
            "/data/a~1b/m~0n",
            "/data/list/1/id",
            "/data/list/01/id",
            "/data/list/+1/id",
            "/data/list/2/id",
            "/data/source",
            "/data/missing/id",
            "",
            "data",
        ];
        for text in texts {
            let parsed: Value = serde_json::from_str(text).unwrap();
            let answer = answer(text);
            for pointer in pointers {
                assert_eq!(
                    answer.string_at(pointer),
                    parsed
                        .pointer(pointer)
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    "{pointer} in {text}"
                );
            }
        }
        assert_eq!(
            answer(texts[0]).string_at("/data/source/id").as_deref(),
            Some("src_1")
        );
    }

    #[test]
    fn an_answer_is_json_with_a_data_object_like_any_other() {
        for (text, error) in [
            ("<html>502</html>", "not JSON"),
            (r#"{"data": [1]}"#, "no `data` object"),
            (r#"{"errors": []}"#, "no `data` object"),
            (r#"[{"data": {}}]"#, "no `data` object"),
            (r#"{"data": {}} trailing"#, "not JSON"),
        ] {
            let refused = Answer::new(text.as_bytes().to_vec()).unwrap_err();
            assert!(refused.to_string().contains(error), "{text}: {refused}");
        }
        let data = answer(r#"{"data": {"emails": ["a@b.c"]}}"#).data().unwrap();
        assert_eq!(data["emails"][0], "a@b.c");
    }
}
