//! Contract tests of the Config API simulator against the real captured responses (catalog dump,
//! typewriter tracking plans) and the documented conventions (errors, pagination, update masks,
//! scopes, path quirks of real clients).

mod common;

use common::*;
use serde_json::{Value, json};

const SRC: &str = "/v1beta/workspaces/automated-testing-demo/sources";

/// The real dump's item as the simulator must serve it: descriptions are not in the derived
/// catalog and come back empty; everything else, key order included, is verbatim.
fn blank_descriptions(value: &mut Value) {
    if let Some(obj) = value.as_object_mut() {
        if obj.contains_key("description") {
            obj.insert("description".into(), json!(""));
        }
        if let Some(Value::Array(settings)) = obj.get_mut("settings") {
            settings.iter_mut().for_each(blank_descriptions);
        }
    }
}

fn without(mut value: Value, keys: &[&str]) -> Value {
    for key in keys {
        value.as_object_mut().unwrap().shift_remove(*key);
    }
    value
}

#[tokio::test]
async fn catalog_items_match_the_real_dump_byte_for_byte() {
    let app = config_app();
    let sample = fixture("catalog-sample.json");
    for (plural, extra) in [("destinations", "previous_names"), ("sources", "type")] {
        let items = sample[plural].as_array().unwrap();
        assert!(items.len() >= 4);
        for item in items {
            let name = item["name"].as_str().unwrap();
            let reply = get(&app, &format!("/v1beta/{name}")).await;
            assert_eq!(reply.status, 200, "{name}");
            let mut expected = item.clone();
            blank_descriptions(&mut expected);
            // Compare serialisations, so key order counts too. The 2021 catalog adds one field.
            let served = without(reply.json(), &[extra]);
            assert_eq!(served.to_string(), expected.to_string(), "{name}");
        }
    }
}

#[tokio::test]
async fn catalog_pages_walk_every_item_once_in_order() {
    let app = config_app();
    let mut names = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let reply = get(
            &app,
            &format!("/v1beta/catalog/destinations?page_size=100&page_token={token}"),
        )
        .await;
        let body = reply.json();
        names.extend(
            body["destinations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].as_str().unwrap().to_owned()),
        );
        token = body["next_page_token"].as_str().unwrap().to_owned();
        pages += 1;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(pages, 4, "348 items at 100 per page");
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted);
    assert_eq!(names.len(), 348);
}

#[tokio::test]
async fn tracking_plans_match_the_real_typewriter_responses() {
    for file in [
        "tracking-plan.typewriter-cli.json",
        "tracking-plan.typewriter-e2e.json",
        "tracking-plan.typewriter-example-with-identify.json",
    ] {
        let real = fixture(file);
        let ws_slug = real["name"]
            .as_str()
            .unwrap()
            .split('/')
            .nth(1)
            .unwrap()
            .to_owned();
        let mut ws = small_workspace();
        ws.slug = ws_slug.clone();
        let mut plan = plan_from_fixture(file);
        plan.source_slugs.clear();
        ws.tracking_plans = vec![plan];
        let app = config_app_with(vec![ws], Default::default());
        let reply = get(&app, &format!("/v1beta/{}", real["name"].as_str().unwrap())).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json(), real, "{file}");
        let list = get(
            &app,
            &format!("/v1beta/workspaces/{ws_slug}/tracking-plans"),
        )
        .await
        .json();
        assert_eq!(list["tracking_plans"][0], real, "lists carry whole plans");
    }
}

#[tokio::test]
async fn errors_follow_the_documented_table() {
    let app = config_app();
    send(&app, "GET", SRC, None, None)
        .await
        .assert_error(401, 16);
    send(&app, "GET", SRC, Some("nope"), None)
        .await
        .assert_error(401, 16);
    let create = json!({"source": {"name": "workspaces/automated-testing-demo/sources/new", "catalog_name": "catalog/sources/javascript"}});
    send(&app, "POST", SRC, Some(RO_TOKEN), Some(create.clone()))
        .await
        .assert_error(403, 7);
    assert_eq!(
        send(&app, "POST", SRC, Some(RO_TOKEN), Some(create.clone()))
            .await
            .json()["error"],
        "insufficient scope"
    );
    get(&app, &format!("{SRC}/missing"))
        .await
        .assert_error(404, 5);
    get(&app, "/v1beta/no/such/route")
        .await
        .assert_error(404, 5);
    send_raw(
        &app,
        "POST",
        SRC,
        Some(RW_TOKEN),
        Some("{'source': {}}".into()),
    )
    .await
    .assert_error(400, 3);
    send(&app, "PUT", SRC, Some(RW_TOKEN), Some(json!({})))
        .await
        .assert_error(501, 12);
    let created = send(&app, "POST", SRC, Some(RW_TOKEN), Some(create.clone())).await;
    assert_eq!(created.status, 200, "{}", created.text);
    send(&app, "POST", SRC, Some(RW_TOKEN), Some(create))
        .await
        .assert_error(409, 6);
    let dup = json!({"destination": {"name": "workspaces/automated-testing-demo/sources/js/destinations/google-analytics"}});
    let reply = send(
        &app,
        "POST",
        &format!("{SRC}/js/destinations"),
        Some(RW_TOKEN),
        Some(dup),
    )
    .await;
    reply.assert_error(409, 6);
    assert_eq!(reply.json()["error"], "destination already exists");
}

#[tokio::test]
async fn read_only_tokens_read() {
    let app = config_app();
    let reply = send(&app, "GET", SRC, Some(RO_TOKEN), None).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn real_client_path_quirks_are_tolerated() {
    let app = config_app();
    for uri in [
        "/v1beta/workspaces/automated-testing-demo/sources/",
        "//v1beta//workspaces/automated-testing-demo/sources",
        "/v1beta/workspaces/automated-testing-demo/sources/?page_size=1",
    ] {
        assert_eq!(get(&app, uri).await.status, 200, "{uri}");
    }
    assert_eq!(get(&app, "/v1beta//catalog/sources").await.status, 200);
    // A JSON body on GET is ignored.
    let reply = send(
        &app,
        "GET",
        SRC,
        Some(RW_TOKEN),
        Some(json!({"page_size": 1})),
    )
    .await;
    assert_eq!(reply.json()["sources"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn lists_are_snake_case_with_defaults_and_an_empty_last_token() {
    let app = config_app();
    let body = get(&app, SRC).await.json();
    assert_eq!(body["next_page_token"], "");
    let js = &body["sources"][0];
    assert_eq!(js["name"], "workspaces/automated-testing-demo/sources/js");
    assert_eq!(js["parent"], "workspaces/automated-testing-demo");
    assert_eq!(js["catalog_name"], "catalog/sources/javascript");
    assert_eq!(js["library_config"]["api_host"], "");
    assert_eq!(js["labels"], json!({"environment": "prod"}));
    let first = get(&app, &format!("{SRC}?page_size=1")).await.json();
    assert_eq!(first["sources"].as_array().unwrap().len(), 1);
    let next = first["next_page_token"].as_str().unwrap();
    assert!(!next.is_empty());
    let second = get(&app, &format!("{SRC}?page_size=1&page_token={next}"))
        .await
        .json();
    assert_eq!(
        second["sources"][0]["name"],
        "workspaces/automated-testing-demo/sources/webhook"
    );
    assert_eq!(second["next_page_token"], "");
}

#[tokio::test]
async fn destinations_show_every_catalog_setting_and_secrets_in_clear_by_default() {
    let app = config_app();
    let body = get(&app, &format!("{SRC}/js/destinations")).await.json();
    let dests = body["destinations"].as_array().unwrap();
    assert_eq!(dests.len(), 3);
    assert_eq!(
        dests[1]["name"],
        "workspaces/automated-testing-demo/sources/js/destinations/google-analytics-2"
    );
    assert_eq!(dests[1]["display_name"], "Google Analytics");
    let catalog = segbridge::sim::catalog::Catalog::embedded()
        .destination("salesforce")
        .unwrap();
    let config = dests[2]["config"].as_array().unwrap();
    assert_eq!(config.len(), catalog.settings.len());
    let password = config
        .iter()
        .find(|c| c["name"].as_str().unwrap().ends_with("/config/password"))
        .unwrap();
    assert_eq!(password["value"], SALESFORCE_PASSWORD);
    assert_eq!(password["type"], "password");
    let unset = config
        .iter()
        .find(|c| c["name"].as_str().unwrap().ends_with("/config/sandbox"));
    if let Some(unset) = unset {
        assert_eq!(unset["value"], false);
    }
}

#[tokio::test]
async fn the_mask_switch_hides_every_secret() {
    let options = segbridge::sim::config::ConfigOptions {
        mask_secrets: true,
        ..Default::default()
    };
    let app = config_app_with(vec![small_workspace()], options);
    let dests = get(&app, &format!("{SRC}/js/destinations/salesforce"))
        .await
        .text;
    assert!(!dests.contains(SALESFORCE_PASSWORD));
    assert!(dests.contains("••••••••••4711"));
    let source = get(&app, &format!("{SRC}/webhook")).await.text;
    assert!(!source.contains(FUNCTION_SECRET), "{source}");
}

#[tokio::test]
async fn destination_updates_follow_mask_semantics_and_merge_config() {
    let app = config_app();
    let dst = format!("{SRC}/js/destinations/google-analytics");
    // Data without paths changes nothing.
    let reply = send(
        &app,
        "PATCH",
        &dst,
        Some(RW_TOKEN),
        Some(json!({"destination": {"enabled": false}})),
    )
    .await;
    assert_eq!(reply.json()["enabled"], true);
    // A path with no value resets the field.
    let reply = send(
        &app,
        "PATCH",
        &dst,
        Some(RW_TOKEN),
        Some(json!({"destination": {}, "update_mask": {"paths": ["destination.enabled"]}})),
    )
    .await;
    assert_eq!(reply.json()["enabled"], false);
    // Config merges by setting name; camelCase field names are accepted.
    let patch = json!({
        "destination": {"config": [{"name": format!("{}/config/anonymizeIp", &dst[8..]), "type": "boolean", "value": true}]},
        "updateMask": {"paths": ["destination.config"]}
    });
    let body = send(&app, "PATCH", &dst, Some(RW_TOKEN), Some(patch))
        .await
        .json();
    let value_of = |key: &str| {
        body["config"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| {
                c["name"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/config/{key}"))
            })
            .unwrap()["value"]
            .clone()
    };
    assert_eq!(value_of("anonymizeIp"), true);
    assert_eq!(value_of("trackingId"), "UA-970334309-1");
    // Unknown settings and wrong types are 400.
    let bad = json!({"destination": {"config": [{"name": "nope", "value": 1}]}, "update_mask": {"paths": ["destination.config"]}});
    send(&app, "PATCH", &dst, Some(RW_TOKEN), Some(bad))
        .await
        .assert_error(400, 3);
    let bad = json!({"destination": {"config": [{"name": "anonymizeIp", "value": "yes"}]}, "update_mask": {"paths": ["destination.config"]}});
    send(&app, "PATCH", &dst, Some(RW_TOKEN), Some(bad))
        .await
        .assert_error(400, 3);
    let bad = json!({"destination": {}, "update_mask": {"paths": ["destination.name"]}});
    send(&app, "PATCH", &dst, Some(RW_TOKEN), Some(bad))
        .await
        .assert_error(400, 3);
}

#[tokio::test]
async fn destinations_are_created_disabled_and_further_instances_are_numbered() {
    let app = config_app();
    let base = "workspaces/automated-testing-demo/sources/webhook/destinations";
    let create = |slug: &str| json!({"destination": {"name": format!("{base}/{slug}"), "connection_mode": "CLOUD", "config": [{"name": format!("{base}/{slug}/config/apiKey"), "type": "string", "value": "k"}]}});
    let url = format!("{SRC}/webhook/destinations");
    send(
        &app,
        "POST",
        &url,
        Some(RW_TOKEN),
        Some(create("amplitude-2")),
    )
    .await
    .assert_error(400, 3);
    let first = send(
        &app,
        "POST",
        &url,
        Some(RW_TOKEN),
        Some(create("amplitude")),
    )
    .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.json()["enabled"], false);
    let second = send(
        &app,
        "POST",
        &url,
        Some(RW_TOKEN),
        Some(create("amplitude-2")),
    )
    .await;
    assert_eq!(second.status, 200, "{}", second.text);
    assert_eq!(second.json()["display_name"], "Amplitude");
}

#[tokio::test]
async fn filters_use_bare_mask_paths_and_keep_their_order() {
    let app = config_app();
    let url = format!("{SRC}/js/destinations/google-analytics/filters");
    let create = json!({"filter": {"if": "event = 'Order Completed'", "actions": [{"type": "sample_event", "percent": 0.5, "path": "userId"}], "title": "Sample orders", "enabled": true}, "update_mask": {"paths": ["if"]}});
    let created = send(&app, "POST", &url, Some(RW_TOKEN), Some(create))
        .await
        .json();
    let name = created["name"].as_str().unwrap();
    let id = name.rsplit('/').next().unwrap();
    assert!(id.starts_with("df_") && id.len() == 30, "{id}");
    let patch =
        json!({"filter": {"title": "Renamed"}, "update_mask": {"paths": ["title", "description"]}});
    let updated = send(
        &app,
        "PATCH",
        &format!("/v1beta/{name}"),
        Some(RW_TOKEN),
        Some(patch),
    )
    .await
    .json();
    assert_eq!(updated["title"], "Renamed");
    assert_eq!(updated["description"], "");
    assert_eq!(updated["if"], "event = 'Order Completed'");
    let list = get(&app, &url).await.json();
    let titles: Vec<&str> = list["filters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Only allow track events", "Renamed"]);
    let bad = json!({"filter": {"if": "(type = 'track'", "actions": [{"type": "drop_event"}]}});
    send(&app, "POST", &url, Some(RW_TOKEN), Some(bad))
        .await
        .assert_error(400, 3);
    assert_eq!(
        send(
            &app,
            "DELETE",
            &format!("/v1beta/{name}"),
            Some(RW_TOKEN),
            None
        )
        .await
        .json(),
        json!({})
    );
}

#[tokio::test]
async fn tracking_plan_connections_allow_one_plan_per_source() {
    let app = config_app();
    let plan = small_workspace().tracking_plans[0].id.clone();
    let base = format!("/v1beta/workspaces/{WS}/tracking-plans/{plan}/source-connections");
    let list = get(&app, &base).await.json();
    assert_eq!(
        list["connections"][0],
        json!({"source_name": format!("workspaces/{WS}/sources/js"), "tracking_plan_id": plan})
    );
    send(
        &app,
        "POST",
        &base,
        Some(RW_TOKEN),
        Some(json!({"source_name": format!("workspaces/{WS}/sources/js")})),
    )
    .await
    .assert_error(409, 6);
    let batch = json!({"source_names": [format!("workspaces/{WS}/sources/webhook")]});
    let reply = send(
        &app,
        "POST",
        &format!("{base}:batchCreateConnections"),
        Some(RW_TOKEN),
        Some(batch),
    )
    .await;
    assert_eq!(
        reply.json()["connections"].as_array().unwrap().len(),
        1,
        "{}",
        reply.text
    );
    assert_eq!(
        send(
            &app,
            "DELETE",
            &format!("{base}/webhook"),
            Some(RW_TOKEN),
            None
        )
        .await
        .json(),
        json!({})
    );
}

#[tokio::test]
async fn tracking_plan_updates_are_put_with_a_mask() {
    let app = config_app();
    let plan = small_workspace().tracking_plans[0].id.clone();
    let url = format!("/v1beta/workspaces/{WS}/tracking-plans/{plan}");
    let body = json!({"update_mask": {"paths": ["tracking_plan.display_name"]}, "tracking_plan": {"display_name": "Renamed", "rules": {"events": []}}});
    assert_eq!(
        send(&app, "PATCH", &url, Some(RW_TOKEN), Some(body.clone()))
            .await
            .status,
        501
    );
    let updated = send(&app, "PUT", &url, Some(RW_TOKEN), Some(body))
        .await
        .json();
    assert_eq!(updated["display_name"], "Renamed");
    assert!(
        !updated["rules"]["events"].as_array().unwrap().is_empty(),
        "rules not in the mask stay"
    );
    let huge = "x".repeat(2 * 1024 * 1024 + 1);
    let body = json!({"update_mask": {"paths": ["tracking_plan.display_name"]}, "tracking_plan": {"display_name": huge}});
    send(&app, "PUT", &url, Some(RW_TOKEN), Some(body))
        .await
        .assert_error(400, 3);
}

#[tokio::test]
async fn iam_lists_and_writes() {
    let app = config_app();
    let roles = get(&app, &format!("/v1beta/workspaces/{WS}/roles"))
        .await
        .json();
    assert_eq!(roles["roles"].as_array().unwrap().len(), 2);
    let all = get(&app, &format!("/v1beta/workspaces/{WS}/roles/-/policies"))
        .await
        .json();
    assert_eq!(all["policies"].as_array().unwrap().len(), 2);
    assert_eq!(
        all["policies"][1]["resource"],
        format!("workspaces/{WS}/sources/js")
    );
    assert_eq!(all["policies"][1]["subject"], "users/u1");
    let users = get(&app, &format!("/v1beta/workspaces/{WS}/users"))
        .await
        .json();
    assert_eq!(
        users["users"][0],
        json!({"name": "users/u1", "email": "ana@example.com", "display_name": "Ana"})
    );
    let invite = json!({"invite": {"email": "bo@example.com", "policies": [{"role": format!("workspaces/{WS}/roles/1Mc8DEHhMqqSkb5cPjtu9pAEyNf"), "resource": format!("workspaces/{WS}")}]}});
    let url = format!("/v1beta/workspaces/{WS}/invites");
    assert_eq!(
        send(&app, "POST", &url, Some(RW_TOKEN), Some(invite.clone()))
            .await
            .status,
        200
    );
    send(&app, "POST", &url, Some(RW_TOKEN), Some(invite))
        .await
        .assert_error(409, 6);
    let policy = json!({"policy": {"subject": "users/u1", "resource": format!("workspaces/{WS}/sources/webhook")}});
    let created = send(
        &app,
        "POST",
        &format!("/v1beta/workspaces/{WS}/roles/2Mc8DEHhMqqSkb5cPjtu9pAEyNf/policies"),
        Some(RW_TOKEN),
        Some(policy),
    )
    .await
    .json();
    let name = created["name"].as_str().unwrap();
    assert_eq!(
        send(
            &app,
            "DELETE",
            &format!("/v1beta/{name}"),
            Some(RW_TOKEN),
            None
        )
        .await
        .json(),
        json!({})
    );
}

#[tokio::test]
async fn functions_are_addressed_by_workspace_id() {
    let app = config_app();
    let by_id = format!("/v1beta/workspaces/{WS_ID}/functions");
    get(&app, &by_id).await.assert_error(400, 3);
    let list = get(&app, &format!("{by_id}?type=SOURCE")).await.json();
    assert_eq!(list["functions"][0]["id"], "sfnc_wXzcDGFR3KmjLDrtSawNHf");
    assert_eq!(list["functions"][0]["buildpack"], "boreal");
    get(
        &app,
        &format!("/v1beta/workspaces/{WS}/functions?type=SOURCE"),
    )
    .await
    .assert_error(404, 5);
    let create = json!({"type": "DESTINATION", "function": {"display_name": "Ship", "code": "async function onTrack() {}", "settings": [{"name": "token", "type": "string", "sensitive": true}]}});
    let created = send(&app, "POST", &by_id, Some(RW_TOKEN), Some(create))
        .await
        .json();
    assert!(created["id"].as_str().unwrap().starts_with("dfn_"));
    let fn_url = format!("{by_id}/sfnc_wXzcDGFR3KmjLDrtSawNHf");
    let patch = json!({"function": {"code": "// v2"}, "update_mask": {"paths": ["function.code"]}});
    send(&app, "PATCH", &fn_url, Some(RW_TOKEN), Some(patch)).await;
    assert_eq!(
        get(&app, &format!("{fn_url}/is-latest-version"))
            .await
            .json(),
        json!({"is_latest": false})
    );
    assert_eq!(
        send(
            &app,
            "POST",
            &format!("{fn_url}/deploy"),
            Some(RW_TOKEN),
            Some(json!({}))
        )
        .await
        .json(),
        json!({})
    );
    assert_eq!(
        get(&app, &format!("{fn_url}/is-latest-version"))
            .await
            .json(),
        json!({"is_latest": true})
    );
}

#[tokio::test]
async fn delivery_metrics_series_sum_to_the_summary() {
    let app = config_app();
    let dst = format!("{SRC}/js/destinations/google-analytics");
    let summary = get(&app, &format!("{dst}/metrics:getSummary")).await.json();
    assert_eq!(summary["summary"]["delivered"], 1200);
    let series = get(&app, &format!("{dst}/metrics/successes?start_time=2020-01-01T00:00:00Z&end_time=2020-01-02T00:00:00Z&granularity=HOUR")).await.json();
    let points = series["datapoints"].as_array().unwrap();
    assert_eq!(points.len(), 24);
    assert_eq!(
        points
            .iter()
            .map(|p| p["value"].as_u64().unwrap())
            .sum::<u64>(),
        1200
    );
    let name = format!("workspaces/{WS}/sources/js/destinations/google-analytics");
    let batch = get(
        &app,
        &format!("/v1beta/workspaces/{WS}/event-delivery-metrics:batchGetSummary?names={name}"),
    )
    .await
    .json();
    assert_eq!(batch["summaries"][0]["not_delivered"], 3);
    // Parameters as a JSON body on GET, as one client sends them.
    let reply = send(
        &app,
        "GET",
        &format!("{dst}/metrics:batchGet"),
        Some(RW_TOKEN),
        Some(json!({"names": [format!("{name}/metrics/successes")]})),
    )
    .await;
    assert_eq!(
        reply.json()["metrics"].as_array().unwrap().len(),
        1,
        "{}",
        reply.text
    );
    get(&app, &format!("{dst}/metrics/nope"))
        .await
        .assert_error(404, 5);
}

#[tokio::test]
async fn access_tokens_are_shown_once() {
    let app = config_app();
    let list = get(&app, "/v1beta/access-tokens").await.json();
    assert_eq!(list["access_tokens"][0]["name"], "access-tokens/5");
    assert!(list["access_tokens"][0].get("token").is_none());
    let request = axum::http::Request::builder()
        .method("POST")
        .uri("/v1beta/access-tokens")
        .header("authorization", "Basic YW5hQGV4YW1wbGUuY29tOnB3")
        .body(axum::body::Body::from(json!({"access_token": {"description": "new", "scopes": "workspace:read", "workspace_names": [format!("workspaces/{WS}")]}}).to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(app.clone(), request)
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = serde_json::from_slice(
        &http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes(),
    )
    .unwrap();
    let token = body["token"].as_str().unwrap();
    assert_eq!(token.len(), 87);
    assert_eq!(send(&app, "GET", SRC, Some(token), None).await.status, 200);
    send(&app, "DELETE", SRC, Some(token), None)
        .await
        .assert_error(403, 7);
    assert!(
        !get(&app, "/v1beta/access-tokens")
            .await
            .text
            .contains(token)
    );
}

#[tokio::test]
async fn sim_state_holds_every_object_and_every_secret() {
    let app = config_app();
    let state = send(&app, "GET", "/_sim/state", None, None).await.json();
    assert_eq!(state["destinations"].as_object().unwrap().len(), 3);
    assert_eq!(state["destination_filters"].as_object().unwrap().len(), 1);
    let secrets: Vec<&str> = state["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(
        secrets.contains(&SALESFORCE_PASSWORD) && secrets.contains(&FUNCTION_SECRET),
        "{secrets:?}"
    );
}
