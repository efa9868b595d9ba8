//! A list page read for a few fields of each object, the rest skipped unparsed: what a reader
//! that keeps only those fields (the audit) needs, without a tree of values for the whole page.
//!
//! Parsed whole, a page of tracking-plan rules is a tree of maps and strings many times its
//! text, made only to be cut down to four fields, written back as text and parsed again when
//! compared; a destination's `metadata` (the catalog item, most of the object) is parsed to be
//! cut to its `id`. Here each kept field is taken as the text the API sent ([`RawValue`]) and the
//! object is written as `{"field":<that text>,…}`, in the order the fields are asked for.
//!
//! What comes out is what [`super::wire`]'s whole-value path gives once the object is cut to the
//! same fields: the same errors for the same bodies, the same name for each object (from its
//! key fields, read whether kept or not), duplicate keys read last-wins, an item that is not an
//! object kept whole, a nested `metadata` object cut to its `id`. Tests compare both paths.

use std::borrow::Cow;

use serde::de;
use serde_json::Value;
use serde_json::value::RawValue;

use super::wire::{self, PageParts, WireError};
use crate::model::raw_fields;

/// One object of a page: its name (as [`super::PublicObject::id`]) and the kept fields as text.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectedObject {
    pub id: String,
    /// `{"field":…}` with the kept fields the object has; an item that is not an object, whole.
    pub text: String,
}

/// A kept field holding a catalog item, which is cut down to its `id`.
const METADATA: &str = "metadata";

/// The items of a page under `data.<list>`, each cut to `fields` (plus `key_fields`, read to
/// name it and not kept unless asked for), with the page's cursor and total.
pub(crate) fn page(
    body: &[u8],
    list: &str,
    fields: &[&str],
    key_fields: &[&str],
) -> Result<PageParts<Projected>, WireError> {
    use crate::http::json::{Excess, MAX_DEPTH, MAX_VALUES, excess};
    match excess(body, MAX_VALUES, MAX_DEPTH) {
        Some(Excess::Values) => return Err(WireError::TooManyValues { limit: MAX_VALUES }),
        // The kept fields are parsed later, one by one: a body nested deeper than values can
        // be is refused now, as the whole-value parse refuses it, rather than a field read as
        // `null`.
        Some(Excess::Depth) => {
            serde_json::from_slice::<Value>(body).map_err(not_json(body))?;
        }
        None => {}
    }
    let envelope = parse_object(body, &["data"])?.ok_or(WireError::NoData)?;
    let data = envelope.get(0).ok_or(WireError::NoData)?;
    let data = parse_object_str(data.get(), &[list, "pagination"])?.ok_or(WireError::NoData)?;
    let items = match data.get(0) {
        Some(items) => serde_json::from_str::<Vec<&RawValue>>(items.get()).map_err(|_| {
            WireError::NotAList {
                key: list.to_owned(),
            }
        })?,
        None => {
            // Named as the whole-value path names it, by the keys `data` does have: parsed
            // whole, as that path does, only to say what is wrong.
            let data: Value = serde_json::from_slice(body).map_err(not_json(body))?;
            let missing = wire::data(data).and_then(|mut data| wire::list(&mut data, list));
            return Err(missing.err().unwrap_or(WireError::NoData));
        }
    };
    let pagination = match data.get(1) {
        Some(raw) => serde_json::from_str::<Value>(raw.get()).map_err(not_json(body))?,
        None => Value::Null,
    };
    let (next, total_entries) = wire::pagination(pagination.as_object())?;
    let mut wanted: Vec<&str> = fields.to_vec();
    wanted.extend(key_fields.iter().filter(|k| !fields.contains(k)));
    let objects = items
        .into_iter()
        .map(|item| project(item, fields, key_fields, &wanted))
        .collect::<Result<_, _>>()?;
    Ok((objects, next, total_entries))
}

/// An item cut to its kept fields, with the value its name is read from.
pub(crate) struct Projected {
    /// The item's key fields, or the whole item when it is not an object: what
    /// [`super::Read`]'s key reads the name from.
    pub keys: Value,
    pub text: String,
}

fn project(
    item: &RawValue,
    fields: &[&str],
    key_fields: &[&str],
    wanted: &[&str],
) -> Result<Projected, WireError> {
    let Some(found) = parse_object_str(item.get(), wanted)? else {
        return Ok(Projected {
            keys: serde_json::from_str(item.get()).map_err(not_json(item.get().as_bytes()))?,
            text: item.get().to_owned(),
        });
    };
    let mut keys = serde_json::Map::new();
    for (i, name) in wanted.iter().enumerate() {
        if let Some(raw) = found.get(i)
            && key_fields.contains(name)
        {
            let value = serde_json::from_str(raw.get()).map_err(not_json(raw.get().as_bytes()))?;
            keys.insert((*name).to_owned(), value);
        }
    }
    // Each kept field's text: as sent, or for a catalog item its `id` alone.
    let mut kept: Vec<(&str, Cow<'_, str>)> = Vec::with_capacity(fields.len());
    for (i, name) in fields.iter().enumerate() {
        let Some(raw) = found.get(i) else { continue };
        let value = if *name == METADATA
            && let Some(metadata) = parse_object_str(raw.get(), &["id"])?
        {
            Cow::Owned(match metadata.get(0) {
                Some(id) => format!(r#"{{"id":{}}}"#, id.get()),
                None => "{}".to_owned(),
            })
        } else {
            Cow::Borrowed(raw.get())
        };
        kept.push((name, value));
    }
    // Made at its exact length: the text is kept, and a larger buffer shrunk to it would leave
    // a hole in the heap per object.
    let length: usize = kept
        .iter()
        .map(|(name, value)| name.len() + value.len() + 4)
        .sum();
    let mut text = String::with_capacity(length + 1);
    text.push('{');
    for (name, value) in &kept {
        if text.len() > 1 {
            text.push(',');
        }
        text.push_str(&serde_json::to_string(name).expect("a field name is a string"));
        text.push(':');
        text.push_str(value);
    }
    text.push('}');
    Ok(Projected {
        keys: Value::Object(keys),
        text,
    })
}

fn not_json(body: &[u8]) -> impl FnOnce(serde_json::Error) -> WireError + '_ {
    move |source| WireError::NotJson {
        excerpt: crate::http::error::excerpt(body),
        source,
    }
}

/// The values of the wanted keys of an object, by position in the list asked for; the last of
/// a key given twice, as a parsed object keeps it.
struct Fields<'a>(Vec<Option<&'a RawValue>>);

impl<'a> Fields<'a> {
    fn get(&self, i: usize) -> Option<&'a RawValue> {
        self.0.get(i).copied().flatten()
    }
}

/// `body` read for the keys `wanted`: `None` when it is JSON but not an object.
fn parse_object<'a>(body: &'a [u8], wanted: &[&str]) -> Result<Option<Fields<'a>>, WireError> {
    let text = std::str::from_utf8(body).map_err(|_| {
        // Not UTF-8, so not JSON: the error the whole-value parse gives for it.
        let source = serde_json::from_slice::<Value>(body)
            .err()
            .unwrap_or_else(|| de::Error::custom("the body is not UTF-8"));
        not_json(body)(source)
    })?;
    parse_object_str(text, wanted)
}

fn parse_object_str<'a>(text: &'a str, wanted: &[&str]) -> Result<Option<Fields<'a>>, WireError> {
    let found = raw_fields(text, wanted).map_err(not_json(text.as_bytes()))?;
    Ok(found.map(Fields))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::public_api::Key;

    type Read = Result<(Vec<(String, Value)>, Option<String>, Option<u64>), String>;

    /// The whole-value path: the page parsed whole, each item named, then cut to `fields`.
    fn whole(body: &str, list: &str, fields: &[&str], key: &Key) -> Read {
        let page = wire::parse(body.as_bytes())
            .and_then(wire::data)
            .and_then(|data| wire::page(data, list))
            .map_err(|e| e.to_string())?;
        let mut objects = Vec::new();
        for item in page.items {
            let id = key.name(&item).map_err(|e| e.to_string())?;
            let cut = match item {
                Value::Object(mut map) => {
                    let mut out = serde_json::Map::new();
                    for field in fields {
                        if let Some((name, mut value)) = map.remove_entry(*field) {
                            if name == METADATA
                                && let Value::Object(metadata) = &mut value
                            {
                                let id = metadata.remove("id");
                                metadata.clear();
                                metadata.extend(id.map(|id| ("id".to_owned(), id)));
                            }
                            out.insert(name, value);
                        }
                    }
                    Value::Object(out)
                }
                other => other,
            };
            objects.push((id, cut));
        }
        Ok((objects, page.next, page.total_entries))
    }

    fn projected(body: &str, list: &str, fields: &[&str], key: &Key) -> Read {
        let (items, next, total) =
            page(body.as_bytes(), list, fields, key.fields()).map_err(|e| e.to_string())?;
        let mut objects = Vec::new();
        for item in items {
            let id = key.name(&item.keys).map_err(|e| e.to_string())?;
            let text: Value = serde_json::from_str(&item.text).expect("the text is JSON");
            objects.push((id, text));
        }
        Ok((objects, next, total))
    }

    const SOURCE_FIELDS: &[&str] = &["slug", "name", "metadata", "settings", "labels"];

    #[test]
    fn a_page_cut_while_read_is_the_page_parsed_whole_then_cut() {
        let source = json!({
            "id": "src1", "slug": "web", "name": "Web", "enabled": true,
            "metadata": {"id": "meta1", "name": "JS", "options": [{"name": "a"}], "logos": {}},
            "settings": {"token": "…", "nested": {"list": [1, 2.5, -3e2, null, "x\"y"]}},
            "labels": [{"key": "env", "value": "prod"}], "createdAt": "2024-01-01"
        });
        let cases: Vec<(String, &str, &[&str], Key)> =
            vec![
            // The usual page, with a total and a next cursor.
            (
                json!({"data": {"sources": [source, {"id": "src2", "name": "B"}],
                       "pagination": {"current": "MA", "next": "MB", "totalEntries": 2}}})
                .to_string(),
                "sources", SOURCE_FIELDS, Key::Id,
            ),
            // Whitespace, escaped keys, a key given twice, metadata without an id or not an
            // object, an empty cursor.
            (
                r#" { "data" : { "sources" : [ { "id" : "s1" , "na\u006de" : "first" ,
                    "name" : "second" , "metadata" : { "name" : "no id" } } ,
                    { "id" : "s2" , "metadata" : "a string" , "settings" : [ ] } ] ,
                    "pagination" : { "next" : "" } } } "#
                    .to_owned(),
                "sources", SOURCE_FIELDS, Key::Id,
            ),
            // `data` given twice, the list twice: the last of each.
            (
                r#"{"data": {"sources": []}, "data": {"sources": [{"id": "a"}],
                    "sources": [{"id": "b", "slug": "b"}], "pagination": null}}"#
                    .to_owned(),
                "sources", SOURCE_FIELDS, Key::Id,
            ),
            // Rules, named by type, key and version, none of which need be kept.
            (
                json!({"data": {"rules": [
                    {"type": "TRACK", "key": "Order", "version": 2, "jsonSchema": {"a": [1]},
                     "createdAt": "x"},
                    {"type": "IDENTIFY", "version": 1, "jsonSchema": null}]}})
                .to_string(),
                "rules", &["jsonSchema"], Key::Rule,
            ),
            (
                json!({"data": {"labels": [{"key": "env", "value": "prod", "description": "d"}]}})
                    .to_string(),
                "labels", &["description"], Key::Label,
            ),
            // Items that are not objects are kept whole.
            (
                json!({"data": {"invites": ["a@example.com", "b@example.com"]}}).to_string(),
                "invites", &["email"], Key::Itself,
            ),
        ];
        for (body, list, fields, key) in &cases {
            let expected = whole(body, list, fields, key);
            assert!(expected.is_ok(), "{body}: {expected:?}");
            assert_eq!(projected(body, list, fields, key), expected, "{body}");
        }
    }

    #[test]
    fn a_page_cut_while_read_is_refused_as_the_page_parsed_whole_is() {
        let cases: Vec<(&str, Key)> = vec![
            ("<html>busy</html>", Key::Id),
            ("[1, 2]", Key::Id),
            (r#"{"nodata": {}}"#, Key::Id),
            (r#"{"data": []}"#, Key::Id),
            (r#"{"data": {"other": [], "pagination": {}}}"#, Key::Id),
            (r#"{"data": {}}"#, Key::Id),
            (r#"{"data": {"sources": {"id": "a"}}}"#, Key::Id),
            (r#"{"data": {"sources": null}}"#, Key::Id),
            (
                r#"{"data": {"sources": [], "pagination": {"next": 7}}}"#,
                Key::Id,
            ),
            (r#"{"data": {"sources": [{"name": "no id"}]}}"#, Key::Id),
            (r#"{"data": {"sources": [{"id": "a/b"}]}}"#, Key::Id),
            (r#"{"data": {"sources": [{"id": 7}]}}"#, Key::Id),
            (r#"{"data": {"sources": ["a string"]}}"#, Key::Id),
            (
                r#"{"data": {"rules": [{"type": "TRACK", "version": "2"}]}}"#,
                Key::Rule,
            ),
            (r#"{"data": {"sources": [{"id": "a",}]}}"#, Key::Id),
            (r#"{"data": {"sources": []}} trailing"#, Key::Id),
        ];
        // A kept field nested deeper than a parse allows.
        let deep = format!(
            r#"{{"data": {{"sources": [{{"id": "a", "settings": {}1{}}}]}}}}"#,
            "[".repeat(crate::http::json::MAX_DEPTH),
            "]".repeat(crate::http::json::MAX_DEPTH)
        );
        let cases = cases.into_iter().chain([(deep.as_str(), Key::Id)]);
        for (body, key) in cases {
            let key = &key;
            let list = if matches!(key, Key::Rule) {
                "rules"
            } else {
                "sources"
            };
            let expected = whole(body, list, SOURCE_FIELDS, key);
            let Err(expected) = expected else {
                panic!("{body} is read by the whole-value path: {expected:?}");
            };
            assert_eq!(
                projected(body, list, SOURCE_FIELDS, key),
                Err(expected),
                "{body}"
            );
        }
        // Bytes that are not UTF-8, inside a string: refused, not read (nor a panic).
        let body = b"{\"data\": {\"sources\": [{\"id\": \"a\xff\"}]}}";
        let whole = wire::parse(body).map(|_| ()).map_err(|e| e.to_string());
        let cut = page(body, "sources", SOURCE_FIELDS, &["id"]).map(|_| ());
        assert!(whole.is_err());
        assert_eq!(cut.map_err(|e| e.to_string()), whole);
    }
}
