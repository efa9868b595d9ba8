use std::path::Path;

use serde_json::json;

use super::*;
use crate::apply::{Planned, SecretsFile};
use crate::model::Kind;

fn secrets() -> SecretsFile {
    SecretsFile::parse(
        "[\"workspaces/w/destinations/a\"]\napiKey = \"hunter2\"\n",
        Path::new("s.toml"),
    )
    .unwrap()
}

/// Secrets from [`secrets`] only, as without a Config API token.
fn from_file(secret: &SecretRef) -> Option<Value> {
    secrets().get(secret)
}

fn marker(setting: &str, state: &str) -> Value {
    json!({"$secret": {"kind": "destinations", "config_name": "workspaces/w/destinations/a",
        "setting": setting, "state": state}})
}

fn planned(body: Value) -> Planned {
    serde_json::from_value(json!({
        "step": "create_destination", "method": "POST", "path": "/destinations",
        "path_params": [], "when": "always", "body": body,
        "records": [{"reference": {"kind": "destinations", "config_name": "workspaces/w/destinations/a",
            "field": "id"}, "pointer": "/data/destination/id"}],
    }))
    .unwrap()
}

#[test]
fn secrets_are_filled_and_a_missing_one_fails_as_manual_unless_allowed() {
    let source = json!({"$ref": {"kind": "sources", "config_name": "workspaces/w/sources/s", "field": "id"}});
    let body = json!({"sourceId": source, "metadataId": "m",
        "settings": {"apiKey": marker("apiKey", "present"), "token": marker("token", "masked")}});
    let mut ids = IdMap::new();
    ids.insert(Ref::id(Kind::Sources, "workspaces/w/sources/s"), "src-1");

    let mut omitted = vec![];
    let Err(Stop::Failed { reason, manual }) = resolve(
        &mut planned(body.clone()),
        &ids,
        &from_file,
        ApplyOptions::default(),
        &mut omitted,
    ) else {
        panic!("a missing secret must fail the payload");
    };
    assert!(manual, "{reason}");
    assert!(
        reason.contains("token") && reason.contains("masked"),
        "{reason}"
    );
    assert!(!reason.contains("hunter2"), "{reason}");

    let allow = ApplyOptions {
        allow_missing_secrets: true,
        ..ApplyOptions::default()
    };
    let resolved = resolve(&mut planned(body), &ids, &from_file, allow, &mut omitted)
        .unwrap_or_else(|_| panic!("resolves"));
    // A failure quoting the request loses the value filled in, and keeps the rest.
    let echoed = Stop::Failed {
        reason: format!(
            "HTTP 400: invalid settings {}",
            resolved.body_value().unwrap()
        ),
        manual: false,
    }
    .redacted(&resolved.redactor);
    let Stop::Failed { reason, .. } = echoed else {
        unreachable!()
    };
    assert!(
        !reason.contains("hunter2") && reason.contains("[redacted]") && reason.contains("src-1"),
        "{reason}"
    );
    assert_eq!(
        resolved.body_value().unwrap(),
        json!({"sourceId": "src-1", "metadataId": "m", "settings": {"apiKey": "hunter2"}})
    );
    assert_eq!(omitted, ["token of `workspaces/w/destinations/a`"]);
    assert!(
        !format!(
            "{:?}",
            Resolved {
                path: "/p".into(),
                params: vec![],
                body: Some(b"\"hunter2\"".to_vec()),
                redactor: Redactor::default(),
            }
        )
        .contains("hunter2")
    );
}

#[test]
fn an_unknown_reference_fails_the_payload() {
    let body =
        json!({"sourceId": {"$ref": {"kind": "sources", "config_name": "gone", "field": "id"}}});
    let mut omitted = vec![];
    let result = resolve(
        &mut planned(body),
        &IdMap::new(),
        &from_file,
        ApplyOptions::default(),
        &mut omitted,
    );
    assert!(matches!(result, Err(Stop::Failed { manual: false, .. })));
}

#[test]
fn ids_are_read_from_an_answer_and_from_a_found_object() {
    let p = planned(json!({}));
    let answer = json!({"data": {"destination": {"id": "d-1"}}});
    let ids = recorded_ids(&p, |ptr| {
        answer
            .pointer(ptr)
            .and_then(Value::as_str)
            .map(str::to_owned)
    })
    .unwrap();
    assert_eq!(ids[0].public_id, "d-1");
    assert_eq!(
        ids[0].result_key(),
        "destinations|workspaces/w/destinations/a|id"
    );
    assert_eq!(
        recorded_ids(&p, |_| None).unwrap_err(),
        "/data/destination/id"
    );
}

#[test]
fn a_broken_item_blocks_itself_and_its_dependents_only() {
    let mut broken = HashMap::new();
    broken.insert(
        ("sources".to_owned(), "s1".to_owned()),
        "sources `s1` failed".to_owned(),
    );
    let deps = json!([{"kind": "sources", "config_name": "s1", "field": "id"}]).into();
    let other = json!([{"kind": "sources", "config_name": "s2", "field": "id"}]).into();
    let me = ("destinations".to_owned(), "d".to_owned());
    assert!(blocked_by(&broken, &me, &deps).is_some());
    assert!(blocked_by(&broken, &me, &other).is_none());
    assert!(
        blocked_by(
            &broken,
            &("sources".to_owned(), "s1".to_owned()),
            &json!([]).into()
        )
        .is_some()
    );
    assert!(
        blocked_by(&broken, &me, &JsonText::from_text("not json".into())).is_none(),
        "a list that cannot be read blocks nothing"
    );
}
