//! JSON objects built from values the caller owns. `serde_json::json!` serializes every value
//! it is given into a new one, a deep copy, so a schema, a destination's settings or a batch of
//! rules put in an object with it would be copied once more; [`object`] moves them in.

use serde_json::Value;

/// An object of `fields`, in their order, each value moved in.
pub fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_object_is_what_json_makes_of_the_same_fields_in_the_same_order() {
        let settings = json!({"b": [1, {"c": null}], "a": "x"});
        let made = object([
            ("name", Value::from("GA")),
            ("settings", settings.clone()),
            ("enabled", Value::Bool(false)),
        ]);
        assert_eq!(
            made,
            json!({"name": "GA", "settings": settings, "enabled": false})
        );
        assert_eq!(
            made.to_string(),
            r#"{"name":"GA","settings":{"b":[1,{"c":null}],"a":"x"},"enabled":false}"#
        );
    }
}
