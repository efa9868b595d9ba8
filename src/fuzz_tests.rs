//! Property tests of everything that decodes network input, and of the mapper over arbitrary
//! exported objects: whatever the bytes or the JSON, nothing panics, a value of the wrong type
//! where a decoder reads one is an error rather than silently accepted, text that reaches a
//! message carries no control characters, and no secret value ever reaches a payload.
//!
//! Case counts are modest (a few hundred per property) so that the whole module runs in
//! seconds; failures found once are kept in `proptest-regressions/` and replayed first.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Arbitrary JSON, biased towards the keys the decoders look for.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("name".to_owned()),
        Just("id".to_owned()),
        Just("sources".to_owned()),
        Just("workspaces".to_owned()),
        Just("next_page_token".to_owned()),
        Just("nextPageToken".to_owned()),
        Just("data".to_owned()),
        Just("pagination".to_owned()),
        Just("next".to_owned()),
        Just("errors".to_owned()),
        Just("error".to_owned()),
        Just("message".to_owned()),
        Just("code".to_owned()),
        Just("msBeforeNext".to_owned()),
        Just("config".to_owned()),
        Just("settings".to_owned()),
        Just("type".to_owned()),
        Just("value".to_owned()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        Just(json!("workspaces/w/sources/a/b")),
        Just(json!("..")),
        Just(json!("a\u{0}\n\u{1b}[2J")),
        Just(json!(1e300)),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    }
}

fn printable(text: &str) -> bool {
    !text.chars().any(char::is_control)
}

mod config_wire {
    use super::*;
    use crate::config_api::wire;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_bytes_parse_or_fail_with_a_printable_message(body in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Err(err) = wire::json_text(&body) {
                prop_assert!(printable(&err.to_string()), "{err}");
            }
            let detail = wire::error_detail(&body);
            prop_assert!(printable(&detail.message), "{:?}", detail.message);
        }

        #[test]
        fn any_json_pages_or_fails_and_wrong_cursor_types_fail(body in json_value()) {
            let token = body.get("next_page_token").or_else(|| body.get("nextPageToken")).cloned();
            let text = serde_json::value::to_raw_value(&body).unwrap();
            match wire::page_text(&text, "sources") {
                Ok(page) => {
                    // A cursor that is not a string (or null) is never taken for the last page.
                    prop_assert!(matches!(token, None | Some(Value::Null) | Some(Value::String(_))), "{token:?}");
                    prop_assert!(page.next_page_token.as_deref() != Some(""));
                }
                Err(err) => prop_assert!(printable(&err.to_string()), "{err}"),
            }
        }

        #[test]
        fn accepted_names_are_printable_and_stay_below_their_parent(name in "\\PC{0,6}(/\\PC{0,4}){0,3}|[a-z./\\n\\x00]{0,12}") {
            let parent = "workspaces/w/sources";
            let full = format!("{parent}/{name}");
            match wire::check_name(&full, Some(parent)) {
                Ok(()) => {
                    prop_assert!(printable(&full));
                    prop_assert!(!name.contains('/') && !name.is_empty() && name != "." && name != "..");
                }
                Err(err) => prop_assert!(printable(&err.to_string()), "{err}"),
            }
        }
    }
}

mod public_wire {
    use super::*;
    use crate::public_api::wire;

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_bytes_give_errors_waits_or_nothing_without_panicking(body in prop::collection::vec(any::<u8>(), 0..256)) {
            if let Err(err) = wire::parse(&body) {
                prop_assert!(printable(&err.to_string()), "{err}");
            }
            let _ = wire::ms_before_next(&body);
            for entry in wire::errors(&body).unwrap_or_default() {
                prop_assert!(printable(&entry.kind) && entry.message.as_deref().is_none_or(printable));
            }
        }

        #[test]
        fn any_json_error_body_or_wait_is_handled(body in json_value()) {
            let bytes = serde_json::to_vec(&json!({"errors": [body.clone(), {"data": body}]})).unwrap();
            let _ = wire::ms_before_next(&bytes);
            for entry in wire::errors(&bytes).unwrap_or_default() {
                prop_assert!(printable(&entry.kind) && entry.message.as_deref().is_none_or(printable));
            }
        }

        #[test]
        fn any_json_pages_or_fails_and_wrong_cursor_types_fail(body in json_value()) {
            let Ok(data) = wire::data(body) else { return Ok(()); };
            let next = data.get("pagination").and_then(|p| p.get("next")).cloned();
            let paginated = data.get("pagination").is_some_and(Value::is_object);
            match wire::page(data, "sources") {
                Ok(page) => {
                    if paginated {
                        prop_assert!(matches!(next, None | Some(Value::Null) | Some(Value::String(_))), "{next:?}");
                    }
                    prop_assert!(page.next.as_deref() != Some(""));
                }
                Err(err) => prop_assert!(printable(&err.to_string()), "{err}"),
            }
        }

        #[test]
        fn accepted_ids_are_single_printable_segments(id in "\\PC{0,8}|[a-z./\\n\\x00]{0,6}") {
            if wire::check_id(&id).is_ok() {
                prop_assert!(printable(&id) && !id.contains('/') && !matches!(id.as_str(), "" | "." | ".."));
            }
        }
    }
}

mod mapper {
    use super::*;
    use crate::mapping::{Context, IdMap, Snapshot, Tables, TargetCatalog, map_workspace};
    use crate::model::Kind;
    use crate::secrets::{SecretHasher, sanitize};

    /// A value no mapper would invent: if it shows up in a payload, a secret leaked.
    const SECRET: &str = "s3cr3t-value-never-in-a-payload";

    /// An exported object of `kind`: arbitrary JSON with a secret placed where exports hold
    /// them (a password setting, a function setting, a masked value).
    fn exported() -> impl Strategy<Value = (Kind, Value)> {
        let kind = prop::sample::select(Kind::ALL.to_vec());
        (kind, json_value(), json_value()).prop_map(|(kind, extra, settings)| {
            let mut object = match extra {
                Value::Object(object) => object,
                other => Map::from_iter([("extra".to_owned(), other)]),
            };
            object.insert("name".into(), json!("workspaces/w/sources/js/destinations/d"));
            object.insert(
                "config".into(),
                json!([
                    {"name": "workspaces/w/sources/js/destinations/d/config/apiKey", "type": "password", "value": SECRET},
                    {"name": "x", "type": "string", "value": settings},
                ]),
            );
            object.insert("function_config".into(), json!({"apiKey": SECRET}));
            object.insert("masked".into(), json!(format!("••••{SECRET}")));
            (kind, Value::Object(object))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn arbitrary_exports_map_without_panicking_or_leaking(objects in prop::collection::vec(exported(), 1..6)) {
            let hasher = SecretHasher::from_token("fuzz-token");
            let mut snapshot = Snapshot::default();
            for (i, (kind, body)) in objects.into_iter().enumerate() {
                let sanitized = sanitize(kind, body, &hasher);
                snapshot.push(kind, format!("workspaces/w/sources/js{i}"), sanitized.value());
            }
            let catalog = TargetCatalog::from_public(&[], &[]).unwrap();
            let ids = IdMap::new();
            let ctx = Context {
                tables: Tables::embedded(),
                catalog: &catalog,
                roles: &[],
                workspace_id: Some("wsTarget"),
                ids: &ids,
                functions: &[],
                keys_only: false,
            };
            let mapped = map_workspace(&snapshot, &ctx);
            let text = serde_json::to_string(&mapped).unwrap();
            prop_assert!(!text.contains(SECRET), "a secret value reached a mapped payload");
        }
    }
}
