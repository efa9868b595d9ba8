//! Contract tests of the Public API simulator: every implemented operation, on its success paths
//! and representative failures (422 with field paths, 404, 401, 413, 429), answers as the
//! official schema (derived 73.2.0, trimmed into `data/public-api.schema.json`) says, checked by
//! an independent JSON Schema validator; invalid request bodies are refused the way the request
//! schemas say; and the documented conventions hold (envelopes, 201 vs 200, media types,
//! pagination spellings, masked secrets, referential rules, rate limits).

mod common;

use serde_json::{Value, json};

use common::contract::{Api, Contract};
use common::*;
use segbridge::sim::catalog::Catalog;
use segbridge::sim::public::Target;

fn catalog_source_id(slug: &str) -> String {
    Catalog::embedded().source(slug).unwrap().public_id.clone()
}

fn catalog_destination_id(slug: &str) -> String {
    Catalog::embedded()
        .destination(slug)
        .unwrap()
        .public_id
        .clone()
}

/// The ids of the mirrored small workspace a scenario needs.
struct Ids {
    js: String,
    webhook: String,
    plan: String,
    ga: String,
    salesforce: String,
}

async fn ids(api: &Api) -> Ids {
    let sources = api.expect(200, "GET /sources", "/sources", None).await;
    let id_of = |slug: &str| {
        sources["data"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["slug"] == slug)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let js = id_of("js");
    let dests = api
        .expect(
            200,
            "GET /sources/{sourceId}/connected-destinations",
            &format!("/sources/{js}/connected-destinations"),
            None,
        )
        .await;
    let dest_of = |name: &str| {
        dests["data"]["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["name"] == name)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let plans = api
        .expect(200, "GET /tracking-plans", "/tracking-plans", None)
        .await;
    Ids {
        webhook: id_of("webhook"),
        plan: plans["data"]["trackingPlans"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
        ga: dest_of("Google Analytics"),
        salesforce: dest_of("Salesforce"),
        js,
    }
}

fn field_of(body: &Value, index: usize) -> &str {
    body["errors"][index]["field"].as_str().unwrap_or_default()
}

/// Walks every implemented operation with a successful call and the failures that matter, then
/// proves that every operation of the schema file answered at least one 2xx.
#[tokio::test]
async fn every_operation_answers_as_the_official_schema_says() {
    let api = Api::new(public_app(Target::Mirror));
    let ids = ids(&api).await;
    let Ids {
        js,
        webhook,
        plan,
        ga,
        salesforce,
    } = &ids;

    // Workspace and catalogs, both pagination spellings.
    let ws = api.expect(200, "GET /", "/", None).await;
    assert_eq!(ws["data"]["workspace"]["slug"], WS);
    let echo = api
        .expect(
            200,
            "GET /echo",
            "/echo?message=hello%20there&delay=5",
            None,
        )
        .await;
    assert_eq!(echo["data"]["message"], "hello there");
    assert_eq!(
        echo["data"]["headers"]["authorization"],
        "Bearer ••••••••••"
    );
    let reply = api
        .call_as(
            "GET /echo",
            "/echo?message=hi&statusCode=200",
            None,
            Some("application/vnd.segment.v1alpha+json"),
            None,
        )
        .await;
    assert_eq!(
        reply.headers["content-type"],
        "application/vnd.segment.v1alpha+json"
    );
    let failed = api
        .expect(
            404,
            "GET /echo",
            "/echo?message=boom&triggerMultipleErrors=true&statusCode=404",
            None,
        )
        .await;
    assert_eq!(failed["errors"][0]["message"], "boom");
    assert_eq!(failed["errors"].as_array().unwrap().len(), 2);
    api.expect(
        422,
        "GET /echo",
        "/echo?message=x&triggerError=true&statusCode=422",
        None,
    )
    .await;
    api.expect(422, "GET /echo", "/echo", None).await;
    let auth = format!("Bearer {PUBLIC_TOKEN}");
    let reply = public_send(
        &api.app,
        "GET",
        "/echo?message=x&triggerUnexpectedError=true",
        None,
        &[("authorization", auth.as_str())],
    )
    .await;
    assert_eq!(reply.status, 500);
    assert_eq!(reply.json()["errors"][0]["type"], "ServerError");
    // A status the schema does not declare for echo can still be asked for.
    let reply = public_send(
        &api.app,
        "GET",
        "/echo?message=made&statusCode=201",
        None,
        &[("authorization", auth.as_str())],
    )
    .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.json()["data"]["message"], "made");
    let page = api
        .expect(
            200,
            "GET /catalog/sources",
            "/catalog/sources?pagination[count]=5",
            None,
        )
        .await;
    let next = page["data"]["pagination"]["next"].as_str().unwrap();
    api.expect(
        200,
        "GET /catalog/sources",
        &format!("/catalog/sources?pagination.count=5&pagination.cursor={next}"),
        None,
    )
    .await;
    let js_meta = catalog_source_id("javascript");
    api.expect(
        200,
        "GET /catalog/sources/{sourceMetadataId}",
        &format!("/catalog/sources/{js_meta}"),
        None,
    )
    .await;
    api.expect(
        404,
        "GET /catalog/sources/{sourceMetadataId}",
        "/catalog/sources/nope",
        None,
    )
    .await;
    api.expect(
        200,
        "GET /catalog/destinations",
        "/catalog/destinations?pagination[count]=200",
        None,
    )
    .await;
    api.expect(
        422,
        "GET /catalog/destinations",
        "/catalog/destinations?pagination[count]=201",
        None,
    )
    .await;
    let ga_meta = catalog_destination_id("google-analytics");
    api.expect(
        200,
        "GET /catalog/destinations/{destinationMetadataId}",
        &format!("/catalog/destinations/{ga_meta}"),
        None,
    )
    .await;
    api.expect(
        404,
        "GET /catalog/destinations/{destinationMetadataId}",
        "/catalog/destinations/nope",
        None,
    )
    .await;

    // Sources.
    let got = api
        .expect(
            200,
            "GET /sources/{sourceId}",
            &format!("/sources/{js}"),
            None,
        )
        .await;
    assert_eq!(got["data"]["trackingPlanId"], json!(plan));
    let got = api
        .expect(
            200,
            "GET /sources/{sourceId}",
            &format!("/sources/{webhook}"),
            None,
        )
        .await;
    assert_eq!(got["data"]["trackingPlanId"], Value::Null);
    api.expect(404, "GET /sources/{sourceId}", "/sources/nope", None)
        .await;
    let body = json!({"slug": "new-src", "enabled": true, "metadataId": js_meta, "settings": {}});
    let created = api
        .expect(201, "POST /sources", "/sources", Some(body.clone()))
        .await;
    let new_src = created["data"]["source"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["data"]["source"]["name"], "new-src");
    let dup = api
        .expect(422, "POST /sources", "/sources", Some(body))
        .await;
    assert_eq!(field_of(&dup, 0), "slug");
    let invalid = api
        .expect(
            422,
            "POST /sources",
            "/sources",
            Some(json!({"enabled": "yes", "metadataId": "x"})),
        )
        .await;
    let fields: Vec<&str> = (0..2).map(|i| field_of(&invalid, i)).collect();
    assert_eq!(fields, ["slug", "enabled"]);
    assert_eq!(invalid["errors"][0]["message"], "\"slug\" is required");
    api.expect(
        200,
        "PATCH /sources/{sourceId}",
        &format!("/sources/{new_src}"),
        Some(json!({"name": "New source", "enabled": false})),
    )
    .await;
    api.expect(
        422,
        "PATCH /sources/{sourceId}",
        &format!("/sources/{new_src}"),
        Some(json!({"enabled": 1})),
    )
    .await;
    api.expect(
        200,
        "GET /sources/{sourceId}/connected-warehouses",
        &format!("/sources/{js}/connected-warehouses"),
        None,
    )
    .await;
    api.expect(
        404,
        "GET /sources/{sourceId}/connected-destinations",
        "/sources/nope/connected-destinations",
        None,
    )
    .await;

    // Labels, then on a source.
    let label = json!({"label": {"key": "team", "value": "growth", "description": "Growth team"}});
    api.expect(201, "POST /labels", "/labels", Some(label.clone()))
        .await;
    api.expect(422, "POST /labels", "/labels", Some(label))
        .await;
    api.expect(
        422,
        "POST /labels",
        "/labels",
        Some(json!({"label": {"key": "k"}})),
    )
    .await;
    let labels = api.expect(200, "GET /labels", "/labels", None).await;
    assert!(labels["data"]["labels"].as_array().unwrap().len() >= 2);
    let attach = json!({"labels": [{"key": "team", "value": "growth"}]});
    let attached = api
        .expect(
            200,
            "POST /sources/{sourceId}/labels",
            &format!("/sources/{new_src}/labels"),
            Some(attach.clone()),
        )
        .await;
    assert_eq!(attached["data"]["labels"][0]["description"], "Growth team");
    let unknown = api
        .expect(
            422,
            "POST /sources/{sourceId}/labels",
            &format!("/sources/{new_src}/labels"),
            Some(json!({"labels": [{"key": "team", "value": "nope"}]})),
        )
        .await;
    assert_eq!(field_of(&unknown, 0), "labels.0");
    api.expect(
        200,
        "PUT /sources/{sourceId}/labels",
        &format!("/sources/{new_src}/labels"),
        Some(attach),
    )
    .await;

    // Schema settings.
    api.expect(
        200,
        "GET /sources/{sourceId}/settings",
        &format!("/sources/{js}/settings"),
        None,
    )
    .await;
    let patched = api
        .expect(
            200,
            "PATCH /sources/{sourceId}/settings",
            &format!("/sources/{new_src}/settings"),
            Some(
                json!({"track": {"allowUnplannedEvents": false, "commonEventOnViolations": "BLOCK"},
                        "forwardingViolationsTo": js}),
            ),
        )
        .await;
    assert_eq!(
        patched["data"]["settings"]["track"]["commonEventOnViolations"],
        "BLOCK"
    );
    assert_eq!(
        patched["data"]["settings"]["forwardingViolationsTo"],
        json!(js)
    );
    let bad = api
        .expect(
            422,
            "PATCH /sources/{sourceId}/settings",
            &format!("/sources/{new_src}/settings"),
            Some(json!({"forwardingBlockedEventsTo": "", "identify": {"commonEventOnViolations": "OMIT_PROPERTIES"}})),
        )
        .await;
    assert_eq!(field_of(&bad, 0), "identify.commonEventOnViolations");

    // Write keys (alpha only).
    let with_key = api
        .expect(
            200,
            "POST /sources/{sourceId}/writekey",
            &format!("/sources/{new_src}/writekey"),
            None,
        )
        .await;
    let keys = with_key["data"]["source"]["writeKeys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let key = keys[1].as_str().unwrap().to_owned();
    api.expect(
        200,
        "DELETE /sources/{sourceId}/writekey/{writeKey}",
        &format!("/sources/{new_src}/writekey/{key}"),
        None,
    )
    .await;
    api.expect(
        404,
        "DELETE /sources/{sourceId}/writekey/{writeKey}",
        &format!("/sources/{new_src}/writekey/{key}"),
        None,
    )
    .await;

    // Destinations.
    let all = api
        .expect(200, "GET /destinations", "/destinations", None)
        .await;
    assert_eq!(all["data"]["pagination"]["totalEntries"], 3);
    let sf = api
        .expect(
            200,
            "GET /destinations/{destinationId}",
            &format!("/destinations/{salesforce}"),
            None,
        )
        .await;
    assert_eq!(
        sf["data"]["destination"]["settings"]["password"],
        "••••••••••4711"
    );
    let body = json!({"sourceId": new_src, "metadataId": ga_meta, "name": "GA copy",
                      "settings": {"trackingId": "UA-1234-5"}});
    let created = api
        .expect(200, "POST /destinations", "/destinations", Some(body))
        .await;
    let new_dest = created["data"]["destination"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(created["data"]["destination"]["enabled"], true);
    let refused = api
        .expect(
            422,
            "POST /destinations",
            "/destinations",
            Some(json!({"sourceId": "nope", "metadataId": "nope", "settings": {}})),
        )
        .await;
    assert_eq!(
        [field_of(&refused, 0), field_of(&refused, 1)],
        ["sourceId", "metadataId"]
    );
    let refused = api
        .expect(
            422,
            "POST /destinations",
            "/destinations",
            Some(json!({"sourceId": new_src, "metadataId": ga_meta, "settings": {"colour": "red", "anonymizeIp": "yes"}})),
        )
        .await;
    assert_eq!(refused["errors"].as_array().unwrap().len(), 2);
    api.expect(
        422,
        "POST /destinations",
        "/destinations",
        Some(json!({"sourceId": new_src, "metadataId": ga_meta})),
    )
    .await;
    api.expect(
        200,
        "PATCH /destinations/{destinationId}",
        &format!("/destinations/{new_dest}"),
        Some(json!({"enabled": false, "name": null})),
    )
    .await;
    api.expect(
        404,
        "PATCH /destinations/{destinationId}",
        "/destinations/nope",
        Some(json!({"enabled": false})),
    )
    .await;
    let metrics = api
        .expect(
            200,
            "GET /destinations/{destinationId}/delivery-metrics",
            &format!("/destinations/{ga}/delivery-metrics?sourceId={js}&granularity=DAY"),
            None,
        )
        .await;
    assert_eq!(
        metrics["data"]["deliveryMetricsSummary"]["metrics"][0]["total"],
        1200
    );
    let missing = api
        .expect(
            422,
            "GET /destinations/{destinationId}/delivery-metrics",
            &format!("/destinations/{ga}/delivery-metrics"),
            None,
        )
        .await;
    assert_eq!(field_of(&missing, 0), "sourceId");

    // Delivery Overview and event volume over the last hours.
    let at = |hours: i64| {
        (chrono::Utc::now() - chrono::Duration::hours(hours))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let window = format!("startTime={}&endTime={}&granularity=HOUR", at(3), at(1));
    for (step, per_destination) in [
        ("successfully-received", false),
        ("failed-on-ingest", false),
        ("filtered-at-source", false),
        ("filtered-at-destination", true),
        ("failed-delivery", true),
        ("successful-delivery", true),
    ] {
        let op = format!("GET /delivery-overview/{step}");
        let mut uri = format!("/delivery-overview/{step}?sourceId={js}&{window}");
        if per_destination {
            let missing = api.expect(422, &op, &uri, None).await;
            assert_eq!(field_of(&missing, 0), "destinationConfigId");
            uri.push_str(&format!("&destinationConfigId={ga}"));
        }
        let body = api.expect(200, &op, &uri, None).await;
        let series = body["data"]["dataset"][0]["series"].as_array().unwrap();
        let sum: u64 = series.iter().map(|p| p["count"].as_u64().unwrap()).sum();
        assert_eq!(body["data"]["total"].as_u64().unwrap(), sum, "{step}");
        if step == "successful-delivery" {
            assert_eq!(sum, 100, "1,200 a day over two hours");
        }
    }
    let refused = api
        .expect(
            422,
            "GET /delivery-overview/successfully-received",
            &format!("/delivery-overview/successfully-received?sourceId={js}&startTime={}&endTime={}&granularity=MINUTE", at(10), at(1)),
            None,
        )
        .await;
    assert_eq!(field_of(&refused, 0), "endTime");
    let volume = api
        .expect(
            200,
            "GET /events/volume",
            &format!("/events/volume?{window}&groupBy=source"),
            None,
        )
        .await;
    assert_eq!(
        volume["data"]["result"].as_array().unwrap().len(),
        3,
        "js, webhook, new-src"
    );
    api.expect(
        422,
        "GET /events/volume",
        "/events/volume?granularity=HOUR",
        None,
    )
    .await;

    // Filters under the singular `/destination/`.
    let listed = api
        .expect(
            200,
            "GET /destination/{destinationId}/filters",
            &format!("/destination/{ga}/filters"),
            None,
        )
        .await;
    assert_eq!(listed["data"]["filters"][0]["actions"][0]["type"], "DROP");
    let filter = json!({"sourceId": new_src, "if": "type = \"identify\"", "title": "No identify",
                        "actions": [{"type": "DROP"}], "enabled": true});
    let created = api
        .expect(
            200,
            "POST /destination/{destinationId}/filters",
            &format!("/destination/{new_dest}/filters"),
            Some(filter.clone()),
        )
        .await;
    let filter_id = created["data"]["filter"]["id"].as_str().unwrap().to_owned();
    let mut wrong = filter.clone();
    wrong["actions"] = json!([{"type": "drop"}]);
    let refused = api
        .expect(
            422,
            "POST /destination/{destinationId}/filters",
            &format!("/destination/{new_dest}/filters"),
            Some(wrong),
        )
        .await;
    assert_eq!(field_of(&refused, 0), "actions.0.type");
    assert_eq!(
        refused["errors"][0]["message"],
        "\"type\" must be one of [ALLOW_PROPERTIES, DROP, DROP_PROPERTIES, SAMPLE]"
    );
    api.expect(
        404,
        "POST /destination/{destinationId}/filters",
        "/destination/nope/filters",
        Some(filter.clone()),
    )
    .await;
    api.expect(
        200,
        "GET /destination/{destinationId}/filters/{filterId}",
        &format!("/destination/{new_dest}/filters/{filter_id}"),
        None,
    )
    .await;
    api.expect(
        404,
        "GET /destination/{destinationId}/filters/{filterId}",
        &format!("/destination/{ga}/filters/{filter_id}"),
        None,
    )
    .await;
    api.expect(
        200,
        "PATCH /destination/{destinationId}/filters/{filterId}",
        &format!("/destination/{new_dest}/filters/{filter_id}"),
        Some(json!({"description": null, "actions": [{"type": "SAMPLE", "percent": 0.5}]})),
    )
    .await;
    api.expect(
        422,
        "PATCH /destination/{destinationId}/filters/{filterId}",
        &format!("/destination/{new_dest}/filters/{filter_id}"),
        Some(json!({"actions": [{"type": "SAMPLE", "percent": 2}]})),
    )
    .await;
    api.expect(
        200,
        "DELETE /destination/{destinationId}/filters/{filterId}",
        &format!("/destination/{new_dest}/filters/{filter_id}"),
        None,
    )
    .await;

    // Tracking plans, rules and sources.
    let created = api
        .expect(
            200,
            "POST /tracking-plans",
            "/tracking-plans",
            Some(json!({"name": "Copied plan", "type": "LIVE", "description": "copy"})),
        )
        .await;
    let new_plan = created["data"]["trackingPlan"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(new_plan.starts_with("tp_"));
    api.expect(
        422,
        "POST /tracking-plans",
        "/tracking-plans",
        Some(json!({"name": "x", "type": "live"})),
    )
    .await;
    let mirrored = api
        .expect(
            200,
            "GET /tracking-plans/{trackingPlanId}",
            &format!("/tracking-plans/{plan}"),
            None,
        )
        .await;
    assert!(
        mirrored["data"]["trackingPlan"]["resourceSchemaId"]
            .as_str()
            .unwrap()
            .starts_with("rs_")
    );
    api.expect(
        200,
        "PATCH /tracking-plans/{trackingPlanId}",
        &format!("/tracking-plans/{new_plan}"),
        Some(json!({"name": "Copied plan (renamed)"})),
    )
    .await;
    let rules = json!({"rules": [
        {"type": "TRACK", "key": "Order Completed", "version": 1, "jsonSchema": {"type": "object"}},
        {"type": "TRACK", "key": "Order Completed", "version": 2, "jsonSchema": {"type": "object"}},
        {"type": "IDENTIFY", "version": 1, "jsonSchema": null},
    ]});
    api.expect(
        200,
        "PUT /tracking-plans/{trackingPlanId}/rules",
        &format!("/tracking-plans/{new_plan}/rules"),
        Some(rules),
    )
    .await;
    let too_many: Vec<Value> = (0..201)
        .map(|i| json!({"type": "TRACK", "key": format!("E{i}"), "version": 1, "jsonSchema": {}}))
        .collect();
    let refused = api
        .expect(
            422,
            "PUT /tracking-plans/{trackingPlanId}/rules",
            &format!("/tracking-plans/{new_plan}/rules"),
            Some(json!({"rules": too_many})),
        )
        .await;
    assert_eq!(field_of(&refused, 0), "rules");
    api.expect(
        200,
        "PATCH /tracking-plans/{trackingPlanId}/rules",
        &format!("/tracking-plans/{new_plan}/rules"),
        Some(
            json!({"rules": [{"type": "TRACK", "key": "Order Completed", "version": 1,
                                "newKey": "Order Done", "jsonSchema": {}}]}),
        ),
    )
    .await;
    api.expect(
        422,
        "PATCH /tracking-plans/{trackingPlanId}/rules",
        &format!("/tracking-plans/{new_plan}/rules"),
        Some(json!({"rules": [{"type": "TRACK", "version": 1.5, "jsonSchema": {}}]})),
    )
    .await;
    api.expect(
        200,
        "DELETE /tracking-plans/{trackingPlanId}/rules",
        &format!(
            "/tracking-plans/{new_plan}/rules?rules[0][type]=TRACK&rules[0][key]=Order%20Completed&rules[0][version]=2"
        ),
        None,
    )
    .await;
    api.expect(
        422,
        "DELETE /tracking-plans/{trackingPlanId}/rules",
        &format!("/tracking-plans/{new_plan}/rules"),
        None,
    )
    .await;
    let listed = api
        .expect(
            200,
            "GET /tracking-plans/{trackingPlanId}/rules",
            &format!("/tracking-plans/{new_plan}/rules?pagination.count=10"),
            None,
        )
        .await;
    let keys: Vec<&Value> = listed["data"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["key"])
        .collect();
    assert_eq!(keys, [&json!("Order Done"), &Value::Null]);
    api.expect(
        200,
        "POST /tracking-plans/{trackingPlanId}/sources",
        &format!("/tracking-plans/{new_plan}/sources"),
        Some(json!({"sourceId": new_src})),
    )
    .await;
    let taken = api
        .expect(
            422,
            "POST /tracking-plans/{trackingPlanId}/sources",
            &format!("/tracking-plans/{new_plan}/sources"),
            Some(json!({"sourceId": js})),
        )
        .await;
    assert_eq!(field_of(&taken, 0), "sourceId");
    let connected = api
        .expect(
            200,
            "GET /tracking-plans/{trackingPlanId}/sources",
            &format!("/tracking-plans/{new_plan}/sources"),
            None,
        )
        .await;
    assert_eq!(connected["data"]["sources"][0]["id"], json!(new_src));
    api.expect(
        200,
        "DELETE /tracking-plans/{trackingPlanId}/sources",
        &format!("/tracking-plans/{new_plan}/sources?sourceId={new_src}"),
        None,
    )
    .await;
    api.expect(
        422,
        "DELETE /tracking-plans/{trackingPlanId}/sources",
        &format!("/tracking-plans/{new_plan}/sources"),
        None,
    )
    .await;
    api.expect(
        200,
        "DELETE /tracking-plans/{trackingPlanId}",
        &format!("/tracking-plans/{new_plan}"),
        None,
    )
    .await;
    api.expect(
        404,
        "GET /tracking-plans/{trackingPlanId}/rules",
        &format!("/tracking-plans/{new_plan}/rules"),
        None,
    )
    .await;

    // IAM.
    let roles = api.expect(200, "GET /roles", "/roles", None).await;
    let owner = roles["data"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "Workspace Owner")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let users = api.expect(200, "GET /users", "/users", None).await;
    assert_eq!(users["data"]["users"][0]["email"], "ana@example.com");
    api.expect(200, "GET /users/{userId}", "/users/u1", None)
        .await;
    api.expect(404, "GET /users/{userId}", "/users/nobody", None)
        .await;
    let grant = json!({"permissions": [{"roleId": owner, "resources": [{"id": WS_ID, "type": "WORKSPACE"}]}]});
    api.expect(
        200,
        "POST /users/{userId}/permissions",
        "/users/u1/permissions",
        Some(grant.clone()),
    )
    .await;
    api.expect(
        200,
        "PUT /users/{userId}/permissions",
        "/users/u1/permissions",
        Some(grant.clone()),
    )
    .await;
    let refused = api
        .expect(
            422,
            "PUT /users/{userId}/permissions",
            "/users/u1/permissions",
            Some(json!({"permissions": [{"roleId": "nope", "resources": [{"id": "x", "type": "SOURCE",
                "labels": [{"key": "team", "value": "growth"}]}]}]})),
        )
        .await;
    let fields: Vec<&str> = (0..3).map(|i| field_of(&refused, i)).collect();
    assert_eq!(
        fields,
        [
            "permissions.0.roleId",
            "permissions.0.resources.0.id",
            "permissions.0.resources.0.labels"
        ]
    );
    let group = api
        .expect(
            200,
            "POST /groups",
            "/groups",
            Some(json!({"name": "Analysts"})),
        )
        .await;
    let group_id = group["data"]["userGroup"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    api.expect(422, "POST /groups", "/groups", Some(json!({})))
        .await;
    api.expect(200, "GET /groups", "/groups", None).await;
    api.expect(
        200,
        "GET /groups/{userGroupId}",
        &format!("/groups/{group_id}"),
        None,
    )
    .await;
    api.expect(
        200,
        "PATCH /groups/{userGroupId}",
        &format!("/groups/{group_id}"),
        Some(json!({"name": "Data analysts"})),
    )
    .await;
    let members = json!({"emails": ["ana@example.com", "new@example.com"]});
    let added = api
        .expect(
            200,
            "POST /groups/{userGroupId}/users",
            &format!("/groups/{group_id}/users"),
            Some(members.clone()),
        )
        .await;
    assert_eq!(added["data"]["userGroup"]["memberCount"], 2);
    api.expect(
        422,
        "POST /groups/{userGroupId}/users",
        &format!("/groups/{group_id}/users"),
        Some(json!({"emails": ["stranger@example.com"]})),
    )
    .await;
    let in_group = api
        .expect(
            200,
            "GET /groups/{userGroupId}/users",
            &format!("/groups/{group_id}/users"),
            None,
        )
        .await;
    assert_eq!(in_group["data"]["users"][0]["id"], "u1");
    let pending = api
        .expect(
            200,
            "GET /groups/{userGroupId}/invites",
            &format!("/groups/{group_id}/invites"),
            None,
        )
        .await;
    assert_eq!(pending["data"]["emails"], json!(["new@example.com"]));
    let of_user = api
        .expect(200, "GET /users/{userId}/groups", "/users/u1/groups", None)
        .await;
    assert_eq!(of_user["data"]["groups"][0]["id"], json!(group_id));
    api.expect(
        200,
        "PUT /group/{userGroupId}/users",
        &format!("/group/{group_id}/users"),
        Some(members),
    )
    .await;
    api.expect(
        200,
        "DELETE /group/{userGroupId}/users",
        &format!("/group/{group_id}/users?emails=new@example.com"),
        None,
    )
    .await;
    api.expect(
        422,
        "DELETE /group/{userGroupId}/users",
        &format!("/group/{group_id}/users"),
        None,
    )
    .await;
    api.expect(
        200,
        "POST /groups/{userGroupId}/permissions",
        &format!("/groups/{group_id}/permissions"),
        Some(grant.clone()),
    )
    .await;
    let replaced = api
        .expect(
            200,
            "PUT /groups/{userGroupId}/permissions",
            &format!("/groups/{group_id}/permissions"),
            Some(json!({"permissions": [{"roleId": owner, "resources": [{"id": js, "type": "SOURCE"}]}]})),
        )
        .await;
    assert_eq!(
        replaced["data"]["permissions"][0]["roleName"],
        "Workspace Owner"
    );
    let invited = api
        .expect(
            201,
            "POST /invites",
            "/invites",
            Some(
                json!({"invites": [{"email": "eve@example.com", "permissions": [{"roleId": owner,
                "resources": [{"id": WS_ID, "type": "WORKSPACE"}]}]}]}),
            ),
        )
        .await;
    assert_eq!(invited["data"]["emails"], json!(["eve@example.com"]));
    let refused = api
        .expect(
            422,
            "POST /invites",
            "/invites",
            Some(json!({"invites": [{"email": "not-an-email"},
                {"email": "ok@example.com", "permissions": [{"roleId": "nope"}]}]})),
        )
        .await;
    assert_eq!(
        [field_of(&refused, 0), field_of(&refused, 1)],
        ["invites.0.email", "invites.1.permissions.0.roleId"]
    );
    let listed = api.expect(200, "GET /invites", "/invites", None).await;
    assert_eq!(
        listed["data"]["invites"],
        json!(["new@example.com", "eve@example.com"])
    );
    api.expect(
        200,
        "DELETE /invites",
        "/invites?emails=eve@example.com",
        None,
    )
    .await;
    api.expect(
        404,
        "DELETE /invites",
        "/invites?emails=eve@example.com",
        None,
    )
    .await;
    api.expect(
        200,
        "DELETE /groups/{userGroupId}",
        &format!("/groups/{group_id}"),
        None,
    )
    .await;
    api.expect(
        404,
        "DELETE /groups/{userGroupId}",
        &format!("/groups/{group_id}"),
        None,
    )
    .await;

    // Functions.
    let listed = api
        .expect(
            200,
            "GET /functions",
            "/functions?resourceType=SOURCE",
            None,
        )
        .await;
    assert_eq!(
        listed["data"]["functions"][0]["id"],
        "sfnc_wXzcDGFR3KmjLDrtSawNHf"
    );
    assert!(listed["data"]["functions"][0].get("code").is_none());
    let missing = api.expect(422, "GET /functions", "/functions", None).await;
    assert_eq!(field_of(&missing, 0), "resourceType");
    let created = api
        .expect(
            200,
            "POST /functions",
            "/functions",
            Some(json!({"code": "async function onTrack() {}", "displayName": "Forwarder",
                        "resourceType": "DESTINATION", "settings": [{"name": "apiKey", "label": "API key",
                        "description": "", "type": "STRING", "required": true, "sensitive": true}]})),
        )
        .await;
    let function = &created["data"]["function"];
    assert_eq!(
        function["displayName"],
        "Forwarder (Automated Testing Demo)"
    );
    let function_id = function["id"].as_str().unwrap().to_owned();
    api.expect(
        422,
        "POST /functions",
        "/functions",
        Some(
            json!({"code": "", "displayName": "x", "resourceType": "SOURCE",
                    "settings": [{"name": "a", "type": "STRING"}]}),
        ),
    )
    .await;
    api.expect(
        200,
        "GET /functions/{functionId}",
        &format!("/functions/{function_id}"),
        None,
    )
    .await;
    let updated = api
        .expect(
            200,
            "PATCH /functions/{functionId}",
            &format!("/functions/{function_id}"),
            Some(json!({"code": "async function onTrack(e) {}"})),
        )
        .await;
    assert_eq!(updated["data"]["function"]["isLatestVersion"], false);
    api.expect(
        200,
        "POST /functions/{functionId}/deploy",
        &format!("/functions/{function_id}/deploy"),
        None,
    )
    .await;
    api.expect(
        200,
        "DELETE /functions/{functionId}",
        &format!("/functions/{function_id}"),
        None,
    )
    .await;
    api.expect(
        404,
        "POST /functions/{functionId}/deploy",
        &format!("/functions/{function_id}/deploy"),
        None,
    )
    .await;

    // Regulations.
    let created = api
        .expect(
            200,
            "POST /regulations",
            "/regulations",
            Some(json!({"regulationType": "SUPPRESS_ONLY", "subjectType": "USER_ID", "subjectIds": ["u-1", "u-2"]})),
        )
        .await;
    let regulation = created["data"]["regulateId"].as_str().unwrap().to_owned();
    api.expect(
        422,
        "POST /regulations",
        "/regulations",
        Some(json!({"regulationType": "DELETE_ARCHIVE_ONLY", "subjectType": "USER_ID", "subjectIds": ["u"]})),
    )
    .await;
    api.expect(
        200,
        "GET /regulations/{regulateId}",
        &format!("/regulations/{regulation}"),
        None,
    )
    .await;
    api.expect(
        200,
        "POST /regulations/sources/{sourceId}",
        &format!("/regulations/sources/{js}"),
        Some(json!({"regulationType": "DELETE_ARCHIVE_ONLY", "subjectType": "ANONYMOUS_ID", "subjectIds": ["a-1"]})),
    )
    .await;
    api.expect(
        404,
        "POST /regulations/sources/{sourceId}",
        "/regulations/sources/nope",
        Some(json!({"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": ["a-1"]})),
    )
    .await;
    let for_source = api
        .expect(
            200,
            "GET /regulations/sources/{sourceId}",
            &format!("/regulations/sources/{js}"),
            None,
        )
        .await;
    assert_eq!(
        for_source["data"]["regulations"].as_array().unwrap().len(),
        1
    );
    api.expect(
        200,
        "POST /regulations/cloudsources/{sourceId}",
        &format!("/regulations/cloudsources/{webhook}"),
        Some(json!({"regulationType": "DELETE_ONLY", "subjectType": "OBJECT_ID", "subjectIds": ["o-1"], "collection": "users"})),
    )
    .await;
    api.expect(
        422,
        "POST /regulations/cloudsources/{sourceId}",
        &format!("/regulations/cloudsources/{webhook}"),
        Some(json!({"regulationType": "DELETE_ONLY", "subjectType": "USER_ID", "subjectIds": ["o-1"]})),
    )
    .await;
    let listed = api
        .expect(
            200,
            "GET /regulations",
            "/regulations?regulationTypes=SUPPRESS_ONLY",
            None,
        )
        .await;
    assert_eq!(listed["data"]["regulations"].as_array().unwrap().len(), 1);
    let suppressed = api
        .expect(200, "GET /suppressions", "/suppressions", None)
        .await;
    assert_eq!(
        suppressed["data"]["suppressed"],
        json!([{"subjectType": "USER_ID", "subjectIds": ["u-1", "u-2"]}])
    );

    // Deletes last.
    api.expect(
        200,
        "DELETE /labels/{key}/{value}",
        "/labels/team/growth",
        None,
    )
    .await;
    api.expect(
        404,
        "DELETE /labels/{key}/{value}",
        "/labels/team/growth",
        None,
    )
    .await;
    api.expect(
        200,
        "DELETE /destinations/{destinationId}",
        &format!("/destinations/{new_dest}"),
        None,
    )
    .await;
    api.expect(
        200,
        "DELETE /sources/{sourceId}",
        &format!("/sources/{new_src}"),
        None,
    )
    .await;
    api.expect(
        404,
        "DELETE /sources/{sourceId}",
        &format!("/sources/{new_src}"),
        None,
    )
    .await;
    api.expect(200, "DELETE /users", "/users?userIds=u1", None)
        .await;
    api.expect(422, "DELETE /users", "/users", None).await;

    // Secrets never left the simulator in clear.
    let seen = api.seen.lock().unwrap().clone();
    assert!(!seen.contains(SALESFORCE_PASSWORD) && !seen.contains(FUNCTION_SECRET));

    // Every operation of the schema file answered a 2xx, and most a failure too.
    let covered = api.contract.covered.lock().unwrap().clone();
    let missing: Vec<String> = api
        .contract
        .operations()
        .into_iter()
        .filter(|op| {
            !covered
                .get(op)
                .is_some_and(|s| s.iter().any(|c| (200..300).contains(c)))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "operations never answered 2xx: {missing:#?}"
    );
    let failures: usize = covered
        .values()
        .filter(|s| s.iter().any(|c| *c >= 400))
        .count();
    assert!(
        failures >= 40,
        "only {failures} operations were tried with a bad request"
    );
}

#[tokio::test]
async fn the_contract_catches_broken_answers() {
    // The checks above must be able to fail: a body missing required fields, a wrong enum and a
    // `null` where the schema does not allow one are all reported.
    let contract = Contract::load();
    let schema = &contract.doc["operations"]["GET /sources/{sourceId}"]["responses"]["200"]["application/vnd.segment.v1+json"];
    assert!(
        !contract
            .errors(schema, &json!({"data": {"source": {}}}))
            .is_empty()
    );
    let plan = &contract.doc["operations"]["GET /tracking-plans/{trackingPlanId}"]["responses"]["200"]
        ["application/json"];
    let wrong = json!({"data": {"trackingPlan": {"id": "tp_1", "type": "live"}}});
    assert!(!contract.errors(plan, &wrong).is_empty());
    let page = json!({"data": {"sources": [], "pagination": {"current": "MA", "next": null, "totalEntries": 0}}});
    let list = &contract.doc["operations"]["GET /sources"]["responses"]["200"]["application/json"];
    assert!(
        contract.errors(list, &page).is_empty(),
        "the schema allows a null next"
    );
    let page = json!({"data": {"sources": [], "pagination": {"next": "MQ"}}});
    assert!(
        !contract.errors(list, &page).is_empty(),
        "current is required"
    );
}

#[tokio::test]
async fn media_types_follow_the_accept_header() {
    let api = Api::new(public_app(Target::Mirror));
    for (accept, expected) in [
        (None, "application/vnd.segment.v1+json"),
        (Some("*/*"), "application/vnd.segment.v1+json"),
        (Some("application/json"), "application/json"),
        (
            Some("application/vnd.segment.v1+json"),
            "application/vnd.segment.v1+json",
        ),
        (
            Some("application/vnd.segment.v1beta+json"),
            "application/vnd.segment.v1beta+json",
        ),
        (
            Some("application/vnd.segment.v1alpha+json"),
            "application/vnd.segment.v1alpha+json",
        ),
    ] {
        let reply = api
            .call_as("GET /sources", "/sources", None, accept, None)
            .await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.headers["content-type"], expected, "{accept:?}");
    }
    // An endpoint without a stable version answers plain JSON with its most stable one, and
    // refuses a version it does not have.
    let ids = ids(&api).await;
    let uri = format!(
        "/destinations/{}/delivery-metrics?sourceId={}",
        ids.ga, ids.js
    );
    let op = "GET /destinations/{destinationId}/delivery-metrics";
    let reply = api
        .call_as(op, &uri, None, Some("application/json"), None)
        .await;
    assert_eq!(
        reply.headers["content-type"],
        "application/vnd.segment.v1beta+json"
    );
    let reply = api
        .call_as(
            op,
            &uri,
            None,
            Some("application/vnd.segment.v1+json"),
            None,
        )
        .await;
    assert_eq!(reply.status, 406, "{}", reply.text);
    // The alpha create input may name the source; the v1 input cannot.
    let meta = catalog_source_id("ios");
    let body =
        json!({"slug": "alpha-src", "enabled": true, "metadataId": meta, "name": "Alpha source"});
    let reply = api
        .call_as(
            "POST /sources",
            "/sources",
            Some(body),
            Some("application/vnd.segment.v1alpha+json"),
            Some("application/vnd.segment.v1alpha+json"),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.json()["data"]["source"]["name"], "Alpha source");
    let body = json!({"slug": "v1-src", "enabled": true, "metadataId": meta, "name": "Ignored"});
    let reply = api
        .call_as(
            "POST /sources",
            "/sources",
            Some(body),
            None,
            Some("application/vnd.segment.v1+json; charset=utf-8"),
        )
        .await;
    assert_eq!(reply.json()["data"]["source"]["name"], "v1-src");
    let reply = api
        .call_as(
            "POST /sources",
            "/sources",
            Some(json!({})),
            None,
            Some("text/plain"),
        )
        .await;
    assert_eq!(reply.status, 415);
    let reply = public_send(
        &api.app,
        "POST",
        "/sources",
        Some("{not json".into()),
        &[
            ("authorization", &format!("Bearer {PUBLIC_TOKEN}")),
            ("content-type", "application/json"),
        ],
    )
    .await;
    api.contract.check("POST /sources", &reply);
    assert_eq!(reply.status, 422);
}

#[tokio::test]
async fn pages_omit_next_at_the_end_and_use_url_safe_cursors() {
    let api = Api::new(public_app(Target::Empty));
    for style in [
        "pagination[count]={n}&pagination[cursor]={c}",
        "pagination.count={n}&pagination.cursor={c}",
    ] {
        let mut cursor = String::new();
        let mut slugs = Vec::new();
        loop {
            let query = style.replace("{n}", "45").replace("{c}", &cursor);
            let body = api
                .expect(
                    200,
                    "GET /catalog/destinations",
                    &format!("/catalog/destinations?{query}"),
                    None,
                )
                .await;
            let pagination = &body["data"]["pagination"];
            assert_eq!(pagination["totalEntries"], 348);
            slugs.extend(
                body["data"]["destinationsCatalog"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["slug"].as_str().unwrap().to_owned()),
            );
            match pagination.get("next") {
                Some(next) => {
                    let next = next.as_str().expect("next is a string, never null");
                    assert!(
                        next.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
                        "{next}"
                    );
                    cursor = next.to_owned();
                }
                None => break,
            }
        }
        assert_eq!(slugs.len(), 348);
        slugs.dedup();
        assert_eq!(slugs.len(), 348);
    }
    // Without pagination a list returns up to 200 items.
    let body = api
        .expect(
            200,
            "GET /catalog/destinations",
            "/catalog/destinations",
            None,
        )
        .await;
    assert_eq!(
        body["data"]["destinationsCatalog"]
            .as_array()
            .unwrap()
            .len(),
        200
    );
    let bad = api
        .expect(
            422,
            "GET /catalog/sources",
            "/catalog/sources?pagination[count]=5&pagination[cursor]=@@@",
            None,
        )
        .await;
    assert_eq!(field_of(&bad, 0), "pagination.cursor");
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401() {
    let app = public_app(Target::Empty);
    let contract = Contract::load();
    for headers in [vec![], vec![("authorization", "Bearer wrong")]] {
        let reply = public_send(&app, "GET", "/sources", None, &headers).await;
        assert_eq!(reply.status, 401);
        contract.check("GET /sources", &reply);
    }
    // Unknown routes are a JSON 404 (for a valid token), and the inspection routes need none.
    let reply = public_send(
        &app,
        "GET",
        "/no/such/route",
        None,
        &[("authorization", &format!("Bearer {PUBLIC_TOKEN}"))],
    )
    .await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.json()["errors"][0]["type"], "NotFound");
    let reply = public_send(&app, "GET", "/_sim/stats", None, &[]).await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn rate_limits_send_the_documented_headers_and_429() {
    let store =
        segbridge::sim::public::seed::seed(Target::Empty, &small_workspace(), Catalog::embedded());
    let options = segbridge::sim::public::PublicOptions {
        rate_limit_per_minute: 3,
        ..Default::default()
    };
    let api = Api::new(public_app_with(store, options));
    for expected in 1..=3u32 {
        let reply = api.call("GET /roles", "/roles", None).await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.headers["x-ratelimit-consumed"],
            expected.to_string().as_str()
        );
        assert_eq!(
            reply.headers["x-ratelimit-remaining"],
            (3 - expected).to_string().as_str()
        );
        let reset = reply.headers["x-ratelimit-reset"].to_str().unwrap();
        assert!(httpdate::parse_http_date(reset).is_ok(), "{reset}");
    }
    let reply = api.call("GET /roles", "/roles", None).await;
    assert_eq!(reply.status, 429);
    let retry_after: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after));
    let error = &reply.json()["errors"][0];
    assert_eq!(error["type"], "RequestError");
    assert_eq!(error["data"]["remainingPoints"], 0);
    assert_eq!(error["data"]["consumedPoints"], 4);
    assert!(error["data"]["msBeforeNext"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn documented_endpoint_limits_bind_per_route() {
    let api = Api::new(public_app(Target::Mirror));
    for i in 0..60 {
        let body = json!({"label": {"key": "k", "value": format!("v{i}")}});
        api.expect(201, "POST /labels", "/labels", Some(body)).await;
    }
    let body = json!({"label": {"key": "k", "value": "one-too-many"}});
    let reply = api.call("POST /labels", "/labels", Some(body)).await;
    assert_eq!(reply.status, 429);
    // Reading labels is not limited by the write limit.
    api.expect(200, "GET /labels", "/labels", None).await;
    let plan = ids(&api).await.plan;
    let uri = format!("/tracking-plans/{plan}/rules");
    for _ in 0..200 {
        let reply = api
            .call("GET /tracking-plans/{trackingPlanId}/rules", &uri, None)
            .await;
        assert_eq!(reply.status, 200);
    }
    let reply = api
        .call("GET /tracking-plans/{trackingPlanId}/rules", &uri, None)
        .await;
    assert_eq!(reply.status, 429);
}

#[tokio::test]
async fn tracking_plan_bodies_over_two_megabytes_are_413() {
    let api = Api::new(public_app(Target::Mirror));
    let plan = ids(&api).await.plan;
    let big = "x".repeat(2 * 1024 * 1024);
    let body = json!({"rules": [{"type": "TRACK", "key": "Big", "version": 1, "jsonSchema": {"description": big}}]});
    let reply = api
        .call(
            "PUT /tracking-plans/{trackingPlanId}/rules",
            &format!("/tracking-plans/{plan}/rules"),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["errors"][0]["type"], "PayloadLimitError");
    // The same size is fine elsewhere (the general cap is 25 MB).
    let body = json!({"slug": "big", "enabled": true, "metadataId": catalog_source_id("ios"),
                      "settings": {"note": "x".repeat(3 * 1024 * 1024)}});
    api.expect(201, "POST /sources", "/sources", Some(body))
        .await;
}

#[tokio::test]
async fn starting_states_hold_what_they_promise() {
    let empty = Api::new(public_app(Target::Empty));
    let ws = empty.expect(200, "GET /", "/", None).await;
    assert_eq!(ws["data"]["workspace"]["slug"], format!("{WS}-target"));
    let sources = empty.expect(200, "GET /sources", "/sources", None).await;
    assert_eq!(sources["data"]["sources"], json!([]));
    assert_eq!(
        sources["data"]["pagination"],
        json!({"current": "MA", "totalEntries": 0})
    );
    let roles = empty.expect(200, "GET /roles", "/roles", None).await;
    assert_eq!(roles["data"]["roles"].as_array().unwrap().len(), 12);

    let mirror = Api::new(public_app(Target::Mirror));
    let ws = mirror.expect(200, "GET /", "/", None).await;
    assert_eq!(
        ws["data"]["workspace"],
        json!({"id": WS_ID, "slug": WS, "name": "Automated Testing Demo"})
    );
    let ids = ids(&mirror).await;
    let js = mirror
        .expect(
            200,
            "GET /sources/{sourceId}",
            &format!("/sources/{}", ids.js),
            None,
        )
        .await;
    assert_eq!(
        js["data"]["source"]["labels"],
        json!([{"key": "environment", "value": "prod"}])
    );
    assert_eq!(
        js["data"]["source"]["writeKeys"],
        json!(["LxKXARX9IuqR9v0gn7y2Fw1iHi0ephbF"])
    );
    let webhook = mirror
        .expect(
            200,
            "GET /sources/{sourceId}",
            &format!("/sources/{}", ids.webhook),
            None,
        )
        .await;
    assert_eq!(
        webhook["data"]["source"]["settings"]["apiKey"],
        "••••••••••0815"
    );
    assert_eq!(
        webhook["data"]["source"]["metadata"]["id"],
        "5f0c3e4f8b1a2c0012345678"
    );
    let rules = mirror
        .expect(
            200,
            "GET /tracking-plans/{trackingPlanId}/rules",
            &format!("/tracking-plans/{}/rules", ids.plan),
            None,
        )
        .await;
    let types: Vec<&str> = rules["data"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"TRACK") && types.contains(&"IDENTIFY"),
        "{types:?}"
    );
    let user = mirror
        .expect(200, "GET /users/{userId}", "/users/u1", None)
        .await;
    let permissions = &user["data"]["user"]["permissions"];
    assert_eq!(
        permissions[0]["resources"],
        json!([{"id": WS_ID, "type": "WORKSPACE"}])
    );
    assert_eq!(permissions[1]["resources"][0]["id"], json!(ids.js));

    let partial = Api::new(public_app(Target::Partial));
    let sources = partial.expect(200, "GET /sources", "/sources", None).await;
    assert_eq!(
        sources["data"]["pagination"]["totalEntries"], 1,
        "every third of two sources"
    );
    let dests = partial
        .expect(200, "GET /destinations", "/destinations", None)
        .await;
    assert_eq!(
        dests["data"]["pagination"]["totalEntries"], 2,
        "every other destination of js"
    );
}

async fn stats(app: &axum::Router) -> Value {
    public_send(app, "GET", "/_sim/stats", None, &[])
        .await
        .json()
}

#[tokio::test]
async fn stats_count_duplicate_natural_keys_of_every_kind_an_importer_creates() {
    let api = Api::new(public_app(Target::Empty));
    let meta = catalog_source_id("javascript");
    let source = api
        .expect(
            201,
            "POST /sources",
            "/sources",
            Some(json!({"slug": "web", "enabled": true, "metadataId": meta})),
        )
        .await;
    let source = source["data"]["source"]["id"].as_str().unwrap().to_owned();
    let ga = catalog_destination_id("google-analytics");
    let mut dest = String::new();
    for _ in 0..2 {
        let created = api
            .expect(
                200,
                "POST /destinations",
                "/destinations",
                Some(json!({"sourceId": source, "metadataId": ga, "name": "GA", "settings": {}})),
            )
            .await;
        dest = created["data"]["destination"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        api.expect(
            200,
            "POST /tracking-plans",
            "/tracking-plans",
            Some(json!({"name": "Plan", "type": "LIVE"})),
        )
        .await;
        api.expect(
            200,
            "POST /functions",
            "/functions",
            Some(json!({"code": "", "displayName": "Fn", "resourceType": "SOURCE"})),
        )
        .await;
        api.expect(
            201,
            "POST /invites",
            "/invites",
            Some(json!({"invites": [{"email": "a@example.com"}]})),
        )
        .await;
    }
    for _ in 0..2 {
        api.expect(200, "POST /destination/{destinationId}/filters", &format!("/destination/{dest}/filters"),
            Some(json!({"sourceId": source, "if": "all", "title": "T", "actions": [{"type": "DROP"}], "enabled": true})))
            .await;
    }
    let plans = api
        .expect(200, "GET /tracking-plans", "/tracking-plans", None)
        .await;
    let plan = plans["data"]["trackingPlans"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rule = json!({"type": "TRACK", "key": "E", "version": 1, "jsonSchema": {}});
    api.expect(
        200,
        "PUT /tracking-plans/{trackingPlanId}/rules",
        &format!("/tracking-plans/{plan}/rules"),
        Some(json!({"rules": [rule.clone(), rule]})),
    )
    .await;
    // Sources and labels enforce their natural keys, so they cannot be duplicated.
    api.expect(
        422,
        "POST /sources",
        "/sources",
        Some(json!({"slug": "web", "enabled": true, "metadataId": meta})),
    )
    .await;
    api.expect(
        201,
        "POST /labels",
        "/labels",
        Some(json!({"label": {"key": "a", "value": "b"}})),
    )
    .await;
    api.expect(
        422,
        "POST /labels",
        "/labels",
        Some(json!({"label": {"key": "a", "value": "b"}})),
    )
    .await;

    let counted = stats(&api.app).await;
    assert_eq!(counted["api"], "public");
    assert_eq!(
        counted["duplicate_natural_keys"],
        json!({"destination_filters": 1, "destinations": 1, "functions": 1, "invites": 1, "labels": 0,
               "sources": 0, "tracking_plan_rules": 1, "tracking_plans": 1})
    );
    assert_eq!(counted["duplicates_total"], 6);
    assert_eq!(counted["resources"]["destinations"], 2);
    assert_eq!(counted["requests"]["POST /sources"]["201"], 1);
    assert_eq!(counted["writes"]["POST"], 14);
}

#[tokio::test]
async fn sim_state_holds_every_object_in_wire_form_and_every_secret() {
    let app = public_app(Target::Mirror);
    let state = public_send(&app, "GET", "/_sim/state", None, &[])
        .await
        .json();
    for kind in [
        "workspaces",
        "sources",
        "schema_configs",
        "destinations",
        "destination_filters",
        "tracking_plans",
        "tracking_plan_rules",
        "tracking_plan_connections",
        "labels",
        "roles",
        "users",
        "invites",
        "functions",
        "delivery_metrics",
    ] {
        assert!(
            state[kind].as_object().is_some_and(|o| !o.is_empty()),
            "{kind}"
        );
    }
    let secrets: Vec<&str> = state["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert_eq!(secrets, [FUNCTION_SECRET, SALESFORCE_PASSWORD]);
    let wire = state["destinations"].to_string();
    assert!(!wire.contains(SALESFORCE_PASSWORD) && wire.contains("••••••••••4711"));
}

#[tokio::test]
async fn deleting_a_source_deletes_what_hangs_off_it() {
    let api = Api::new(public_app(Target::Mirror));
    let ids = ids(&api).await;
    api.expect(
        200,
        "DELETE /sources/{sourceId}",
        &format!("/sources/{}", ids.js),
        None,
    )
    .await;
    api.expect(
        404,
        "GET /destinations/{destinationId}",
        &format!("/destinations/{}", ids.ga),
        None,
    )
    .await;
    api.expect(
        404,
        "GET /destination/{destinationId}/filters",
        &format!("/destination/{}/filters", ids.ga),
        None,
    )
    .await;
    let connected = api
        .expect(
            200,
            "GET /tracking-plans/{trackingPlanId}/sources",
            &format!("/tracking-plans/{}/sources", ids.plan),
            None,
        )
        .await;
    assert_eq!(connected["data"]["sources"], json!([]));
    let counted = stats(&api.app).await;
    assert_eq!(counted["resources"]["destinations"], 0);
    assert_eq!(counted["resources"]["destination_filters"], 0);
}

#[tokio::test]
async fn a_destination_takes_at_most_ten_filters() {
    let api = Api::new(public_app(Target::Mirror));
    let ids = ids(&api).await;
    let uri = format!("/destination/{}/filters", ids.ga);
    // The mirrored destination has one filter already.
    for i in 0..9 {
        let body = json!({"sourceId": ids.js, "if": format!("event = \"e{i}\""), "title": format!("F{i}"),
                          "actions": [{"type": "DROP"}], "enabled": true});
        api.expect(
            200,
            "POST /destination/{destinationId}/filters",
            &uri,
            Some(body),
        )
        .await;
    }
    let body = json!({"sourceId": ids.js, "if": "all", "title": "Eleventh", "actions": [{"type": "DROP"}], "enabled": true});
    let refused = api
        .expect(
            422,
            "POST /destination/{destinationId}/filters",
            &uri,
            Some(body),
        )
        .await;
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 10")
    );
    let body = json!({"sourceId": ids.js, "if": "x".repeat(3 * 1024 + 1), "title": "Long", "enabled": true,
                      "actions": [{"type": "DROP"}, {"type": "DROP"}, {"type": "DROP"}, {"type": "DROP"}, {"type": "DROP"}]});
    let refused = api
        .expect(
            422,
            "POST /destination/{destinationId}/filters",
            &format!("/destination/{}/filters", ids.salesforce),
            Some(body),
        )
        .await;
    assert_eq!(
        [field_of(&refused, 0), field_of(&refused, 1)],
        ["if", "actions"]
    );
}

/// For every operation with a body and every media type it accepts, a body of the wrong type and
/// an empty object are refused exactly as the request schema says: the independent validator
/// and the simulator agree on whether `{}` is acceptable, and the simulator names every missing
/// required field.
#[tokio::test]
async fn invalid_bodies_are_refused_as_the_request_schemas_say() {
    let contract = Contract::load();
    let app = public_app(Target::Empty);
    let auth = format!("Bearer {PUBLIC_TOKEN}");
    let mut checked = 0;
    for op in contract.operations() {
        let content = contract.doc["operations"][&op]["requestBody"]["content"].clone();
        let Some(content) = content.as_object() else {
            continue;
        };
        let (method, template) = op.split_once(' ').unwrap();
        let uri: String = template
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for (media, schema) in content {
            let headers = [
                ("authorization", auth.as_str()),
                ("content-type", media.as_str()),
            ];
            let reply = public_send(&app, method, &uri, Some("[]".into()), &headers).await;
            assert_eq!(
                reply.status, 422,
                "{op} ({media}) took an array: {}",
                reply.text
            );
            contract.check(&op, &reply);

            let expected_missing = contract.errors(schema, &json!({}));
            let reply = public_send(&app, method, &uri, Some("{}".into()), &headers).await;
            let body = reply.json();
            let reported: Vec<&str> = body["errors"]
                .as_array()
                .map(|errors| {
                    errors
                        .iter()
                        .filter(|e| e["type"] == "input-validation")
                        .filter_map(|e| e["field"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            if expected_missing.is_empty() {
                assert!(
                    reported.is_empty(),
                    "{op} ({media}) refused {{}}: {}",
                    reply.text
                );
            } else {
                let required: Vec<&str> = contract_required(contract, schema);
                assert_eq!(
                    reply.status, 422,
                    "{op} ({media}) took {{}}: {}",
                    reply.text
                );
                assert_eq!(reported, required, "{op} ({media})");
                contract.check(&op, &reply);
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 100,
        "only {checked} operation/media pairs checked"
    );
}

/// The required fields of a request schema (resolving its `$ref`).
fn contract_required<'a>(contract: &'a Contract, schema: &'a Value) -> Vec<&'a str> {
    let mut node = schema;
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap();
        node = &contract.doc["components"]["schemas"][name];
    }
    node["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}
