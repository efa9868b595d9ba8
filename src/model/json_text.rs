//! JSON held as its text, parsed when it is read: text takes a fraction of the memory of a
//! parsed [`Value`] (a tree of maps and strings). `apply` holds a whole step's payloads this way
//! (thousands of filters) and the audit both sides of the comparison; each is parsed again only
//! for the one use that reads it.

use serde_json::Value;

/// A JSON document as its text.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonText(Box<str>);

impl JsonText {
    /// Takes `text` as it is; [`Self::value`] reads text that does not parse as `null`.
    pub fn from_text(text: String) -> JsonText {
        JsonText(text.into_boxed_str())
    }

    /// The text as a value; `null` if it does not parse (text made from a value, or stored by
    /// segbridge, does).
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The text itself.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The length of the text, in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty (it never is when made from a value).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The text read straight into `T`, without a [`Value`] in between.
    pub fn parse<'a, T: serde::Deserialize<'a>>(&'a self) -> serde_json::Result<T> {
        serde_json::from_str(&self.0)
    }
}

/// The JSON `text` as `serde_json` writes the value it holds (compact, strings escaped its
/// way, numbers as it formats them), without building that value: read and written in one pass
/// ([`serde_transcode`]), strings borrowed where they have no escape. The one difference from
/// `Value::to_string` of the parsed text: a key given twice in an object is kept twice, where a
/// parsed object keeps the last value.
pub fn compact(text: &str) -> serde_json::Result<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut reader = serde_json::Deserializer::from_str(text);
    serde_transcode::transcode(&mut reader, &mut serde_json::Serializer::new(&mut out))?;
    reader.end()?;
    // serde_json writes UTF-8.
    Ok(String::from_utf8(out).unwrap_or_default())
}

impl From<Value> for JsonText {
    fn from(value: Value) -> JsonText {
        JsonText(value.to_string().into_boxed_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_value_comes_back_as_it_went_in_and_other_text_as_null() {
        let value = json!({"b": [1, "two", null], "a": {"c": true}});
        let text = JsonText::from(value.clone());
        assert_eq!(text.value(), value);
        let list: Vec<Value> = text.parse::<Value>().unwrap()["b"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(list.len(), 3);
        assert_eq!(JsonText::from_text("{not json".into()).value(), Value::Null);
    }

    #[test]
    fn compact_writes_text_the_way_a_parsed_value_is_written() {
        for text in [
            r#"{ "b" : [1, 2.50, -0, 1e3, 18446744073709551615, 1.5E-7],
                 "a": {"c": "\u00e9\/\t\u0001\"", "d": null, "e": true} }"#,
            "[]",
            "  \"x\"  ",
            r#"{"big": 123456789012345678901234567890, "neg": -9223372036854775808}"#,
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(compact(text).unwrap(), value.to_string(), "{text}");
        }
        let pretty = serde_json::to_string_pretty(&json!({"k": [{"x": "é•"}, 0.1]})).unwrap();
        assert_eq!(compact(&pretty).unwrap(), r#"{"k":[{"x":"é•"},0.1]}"#);
        assert!(compact("{\"a\": 1} trailing").is_err());
    }
}
