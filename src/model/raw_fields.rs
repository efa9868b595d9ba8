//! An object's text read for a few of its keys: the text of each kept value as it stands
//! ([`RawValue`]), every other key and value skipped unparsed, with what a parsed object would
//! give for duplicate keys (the last one). For readers that want a few fields of a large object
//! (a list page's items, a write's answer, a tracking plan with all its rules) without a tree of
//! values for the whole of it.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

/// The text of each key of `wanted` in the object `text` (by position, the last of a key given
/// twice), the other keys skipped unparsed; `None` when `text` is JSON but not an object.
pub fn raw_fields<'a>(
    text: &'a str,
    wanted: &[&str],
) -> serde_json::Result<Option<Vec<Option<&'a RawValue>>>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let found = ObjectOf { wanted }.deserialize(&mut de)?;
    de.end()?;
    Ok(found)
}

/// The string under `key` in the object `text`; `None` when absent or not a string.
pub fn string_field(text: &str, key: &str) -> Option<String> {
    let found = raw_fields(text, &[key]).ok()??;
    serde_json::from_str(found[0]?.get()).ok()
}

/// Reads an object for the keys `wanted`, skipping the others; anything else reads as `None`.
struct ObjectOf<'w> {
    wanted: &'w [&'w str],
}

impl<'de> DeserializeSeed<'de> for ObjectOf<'_> {
    type Value = Option<Vec<Option<&'de RawValue>>>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ObjectOf<'_> {
    type Value = Option<Vec<Option<&'de RawValue>>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = vec![None; self.wanted.len()];
        while let Some(position) = map.next_key_seed(KeyIn {
            wanted: self.wanted,
        })? {
            match position {
                Some(i) => found[i] = Some(map.next_value::<&RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(found))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A key read as its position among the wanted ones, without a `String` for the others.
struct KeyIn<'w> {
    wanted: &'w [&'w str],
}

impl<'de> DeserializeSeed<'de> for KeyIn<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyIn<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.wanted.iter().position(|w| *w == key))
    }
}
