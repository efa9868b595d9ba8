//! Table-driven tests of the mapping, one group per kind, one case per row of the reference
//! mapping table (numbers in the case names), on real shapes: the Config catalog sample and the
//! typewriter tracking plans of `tests/fixtures/config-api/`.

use serde_json::{Value, json};

use segbridge::mapping::{
    Context, ExportedFunction, IdMap, Mapped, Payload, Ref, Severity, Step, Tables, TargetCatalog,
    TargetRole, catalog, delivery_metrics, destinations, filters, functions, iam, sources,
    tracking_plans, workspace,
};
use segbridge::model::Kind;
use segbridge::secrets::{SecretHasher, sanitize};

const WS: &str = "workspaces/acme";

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/config-api/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The catalog sample rendered as Public metadata: same slugs, Config settings as options,
/// plus a renamed integration (`braze`, formerly `Appboy`) that exists only in the target.
fn target_catalog() -> TargetCatalog {
    let sample = fixture("catalog-sample.json");
    let public = |item: &Value, index: usize| {
        let slug = item["name"].as_str().unwrap().rsplit('/').next().unwrap();
        let options: Vec<Value> = item["settings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| json!({"name": s["name"], "type": "string", "required": false}))
            .chain([json!({"name": "apiHost", "type": "string", "required": false})])
            .collect();
        json!({"id": format!("meta{index}"), "slug": slug, "name": item["display_name"],
               "previousNames": [], "options": options})
    };
    let sources: Vec<Value> = sample["sources"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, s)| public(s, i))
        .collect();
    let mut destinations: Vec<Value> = sample["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, d)| public(d, 100 + i))
        .filter(|d| d["slug"] != "appboy")
        .collect();
    destinations.push(json!({"id": "metaBraze", "slug": "braze", "name": "Braze",
        "previousNames": ["Appboy", "Braze"], "options": [{"name": "apiKey"}],
        "supportedFeatures": {"cloudModeInstances": "SINGLE"}}));
    destinations.push(json!({"id": "metaKeen1", "slug": "keen", "name": "Keen", "previousNames": ["Keen IO"], "options": []}));
    destinations.push(json!({"id": "metaKeen2", "slug": "keen-classic", "name": "Keen Classic", "previousNames": ["Keen IO"], "options": []}));
    TargetCatalog::from_public(&sources, &destinations).unwrap()
}

struct World {
    tables: Tables,
    catalog: TargetCatalog,
    roles: Vec<TargetRole>,
    ids: IdMap,
    functions: Vec<ExportedFunction>,
}

impl World {
    fn new() -> World {
        World {
            tables: Tables::embedded().clone(),
            catalog: target_catalog(),
            roles: ["Workspace Owner", "Source Admin", "Protocols Admin"]
                .iter()
                .enumerate()
                .map(|(i, n)| TargetRole {
                    id: format!("role{i}"),
                    name: (*n).into(),
                })
                .collect(),
            ids: IdMap::new(),
            functions: vec![],
        }
    }

    fn ctx(&self) -> Context<'_> {
        Context {
            tables: &self.tables,
            catalog: &self.catalog,
            roles: &self.roles,
            workspace_id: Some("wsTarget"),
            ids: &self.ids,
            functions: &self.functions,
            keys_only: false,
        }
    }
}

fn codes(mapped: &Mapped) -> Vec<&'static str> {
    mapped.findings.iter().map(|f| f.code.as_str()).collect()
}

fn has(mapped: &Mapped, code: &str) -> bool {
    codes(mapped).contains(&code)
}

fn step(mapped: &Mapped, step: Step) -> &Payload {
    mapped
        .payloads
        .iter()
        .find(|p| p.step == step)
        .unwrap_or_else(|| panic!("no {step:?} in {:#?}", mapped.payloads))
}

fn reference(kind: Kind, name: &str) -> Value {
    json!({"$ref": {"kind": kind.as_str(), "config_name": name, "field": "id"}})
}

fn sanitized(kind: Kind, body: Value) -> Value {
    sanitize(kind, body, &SecretHasher::from_token("t")).value()
}

// ---- rows 1–4: names, workspace, catalogs ------------------------------------------------------

#[test]
fn rows_2_to_4_workspace_tokens_and_catalog_resolution() {
    let world = World::new();
    let ctx = world.ctx();
    let ws =
        workspace::map_workspace_object(WS, &json!({"name": WS, "display_name": "Acme"}), &ctx);
    assert_eq!(ws.resolved_id.as_deref(), Some("wsTarget"));
    assert!(has(&ws, "workspace.not_creatable"));
    let token = workspace::map_access_token(
        "access-tokens/5",
        &json!({"description": "ci", "scopes": "workspace"}),
    );
    assert!(token.payloads.is_empty());
    assert_eq!(token.findings[0].severity, Severity::Manual);
    assert!(has(&token, "access_token.create_in_app"));

    // (Config catalog name, resolved id, finding codes)
    let cases: &[(Kind, &str, Option<&str>, &[&str])] = &[
        (
            Kind::CatalogSources,
            "catalog/sources/javascript",
            Some("meta3"),
            &[],
        ),
        (
            Kind::CatalogDestinations,
            "catalog/destinations/google-analytics",
            Some("meta103"),
            &[],
        ),
        // Renamed integration, only reachable through previous names: never chosen.
        (
            Kind::CatalogDestinations,
            "catalog/destinations/appboy",
            None,
            &["catalog.not_in_target"],
        ),
        (
            Kind::CatalogDestinations,
            "catalog/destinations/nowhere",
            None,
            &["catalog.not_in_target"],
        ),
    ];
    for (kind, name, id, expected) in cases {
        let body = json!({"name": name, "display_name": if name.ends_with("appboy") { "Appboy" } else { "X" }});
        let mapped = catalog::map_catalog_item(*kind, name, &body, &ctx);
        assert_eq!(mapped.resolved_id.as_deref(), *id, "{name}");
        assert_eq!(codes(&mapped), *expected, "{name}");
    }
}

#[test]
fn row_4_catalog_ambiguity_and_rename_rows() {
    let mut world = World::new();
    let dest = |slug: &str, display: &str| {
        json!({"name": format!("{WS}/sources/js/destinations/{slug}"), "display_name": display,
               "enabled": false, "connection_mode": "UNSPECIFIED", "config": []})
    };
    let ctx = world.ctx();
    let one = destinations::map_destination(
        &format!("{WS}/sources/js/destinations/appboy"),
        &dest("appboy", "Braze"),
        &ctx,
    );
    assert!(
        has(&one, "catalog.ambiguous_match") && one.is_blocked(),
        "{:?}",
        codes(&one)
    );
    assert!(one.findings[0].message.contains("`braze`"));
    let two = destinations::map_destination(
        &format!("{WS}/sources/js/destinations/keen-io"),
        &dest("keen-io", "Keen IO"),
        &ctx,
    );
    let message = &two
        .findings
        .iter()
        .find(|f| f.code.as_str() == "catalog.ambiguous_match")
        .unwrap()
        .message;
    assert!(
        message.contains("`keen`") && message.contains("`keen-classic`"),
        "{message}"
    );
    let none = destinations::map_destination(
        &format!("{WS}/sources/js/destinations/zzz"),
        &dest("zzz", "Zzz"),
        &ctx,
    );
    assert!(has(&none, "catalog.not_found"));

    // A person confirmed the rename: the table row settles it.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("catalog.toml"),
        "source_rename = []\n[[destination_rename]]\nconfig_slug = \"appboy\"\npublic_slug = \"braze\"\n",
    )
    .unwrap();
    world.tables = Tables::load(dir.path()).unwrap();
    let renamed = destinations::map_destination(
        &format!("{WS}/sources/js/destinations/appboy"),
        &dest("appboy", "Braze"),
        &world.ctx(),
    );
    assert!(!renamed.is_blocked(), "{:?}", codes(&renamed));
    assert!(has(&renamed, "catalog.renamed"));
    assert_eq!(
        step(&renamed, Step::CreateDestination)
            .body
            .as_ref()
            .unwrap()["metadataId"],
        "metaBraze"
    );
}

// ---- rows 5–7: sources, write keys, schema config ------------------------------------------

#[test]
fn rows_5_and_6_sources() {
    let world = World::new();
    let ctx = world.ctx();
    let name = format!("{WS}/sources/js");
    let body = json!({
        "name": name, "parent": WS, "display_name": "Website", "catalog_name": "catalog/sources/javascript",
        "write_keys": ["LxKXARX9IuqR9v0gn7y2Fw1iHi0ephbF"],
        "library_config": {"metrics_enabled": true, "retry_queue": false, "cross_domain_id_enabled": false, "api_host": "api.acme.com"},
        "function_config": [], "labels": {"environment": "prod"}, "id": "x", "create_time": "2018-09-12T21:15:54.169Z"
    });
    let mapped = sources::map_source(&name, &body, &ctx);
    let create = step(&mapped, Step::CreateSource).body.clone().unwrap();
    assert_eq!(
        create,
        json!({"slug": "js", "enabled": false, "metadataId": "meta3", "settings": {"apiHost": "api.acme.com"}})
    );
    assert_eq!(
        step(&mapped, Step::NameSource).body.clone().unwrap(),
        json!({"name": "Website"})
    );
    assert_eq!(
        step(&mapped, Step::NameSource).path_params[0].1,
        reference(Kind::Sources, &name)
    );
    assert_eq!(
        step(&mapped, Step::CreateLabel).body.clone().unwrap(),
        json!({"label": {"key": "environment", "value": "prod"}})
    );
    assert_eq!(
        step(&mapped, Step::SetSourceLabels).body.clone().unwrap(),
        json!({"labels": [{"key": "environment", "value": "prod"}]})
    );
    let write_key = mapped
        .findings
        .iter()
        .find(|f| f.code.as_str() == "source.write_key_regenerated")
        .unwrap();
    assert_eq!(write_key.severity, Severity::Manual);
    assert!(
        write_key.message.contains("…phbF") && !write_key.message.contains("LxKX"),
        "{}",
        write_key.message
    );
    let dropped: Vec<_> = mapped
        .findings
        .iter()
        .filter(|f| f.code.as_str() == "source.library_config_dropped")
        .collect();
    assert_eq!(
        dropped.len(),
        1,
        "only the non-default value without an option"
    );
    assert_eq!(
        dropped[0].field.as_deref(),
        Some("library_config.metrics_enabled")
    );
    assert!(has(&mapped, "source.created_disabled"));

    let broken = sources::map_source(&name, &json!({"name": name}), &ctx);
    assert!(broken.is_blocked() && broken.payloads.is_empty());
    assert!(has(&broken, "object.malformed"));
}

#[test]
fn row_30_function_instances_and_their_secrets() {
    let mut world = World::new();
    let function = |id: &str, display: &str, settings: &[&str]| {
        ExportedFunction::from_config(&json!({"id": id, "type": "SOURCE", "display_name": display,
            "settings": settings.iter().map(|s| json!({"name": s})).collect::<Vec<_>>()}))
        .unwrap()
    };
    world.functions = vec![
        function("sfnc_a", "Stripe Relay", &["apiKey", "endpoint"]),
        function("sfnc_b", "Zendesk Relay", &["apiKey", "endpoint"]),
        function("sfnc_c", "Other", &["token"]),
    ];
    let name = format!("{WS}/sources/stripe");
    let body = |display: &str| {
        sanitized(
            Kind::Sources,
            json!({"name": name, "display_name": display, "catalog_name": "catalog/sources/http-api",
            "write_keys": [], "function_config": [{"name": "apiKey", "value": "k-123", "type": "string"}]}),
        )
    };
    let mapped = sources::map_source(&name, &body("Stripe Relay prod"), &world.ctx());
    let create = step(&mapped, Step::CreateSource).body.clone().unwrap();
    assert_eq!(
        create["metadataId"],
        json!({"$ref": {"kind": "functions", "config_name": "sfnc_a", "field": "catalogId"}})
    );
    assert_eq!(create["settings"]["apiKey"]["$secret"]["state"], "present");
    assert!(
        !create.to_string().contains("k-123") && !create.to_string().contains("segbridge_secret")
    );
    assert!(has(&mapped, "source.function_instance") && has(&mapped, "source.secret_required"));
    assert!(!mapped.is_blocked());

    let ambiguous = sources::map_source(&name, &body("Payments"), &world.ctx());
    assert!(has(&ambiguous, "source.function_instance_unresolved") && ambiguous.is_blocked());
}

#[test]
fn row_7_schema_config() {
    let world = World::new();
    let name = format!("{WS}/sources/js/schema-config");
    let body = json!({
        "name": name, "parent": format!("{WS}/sources/js"),
        "allow_unplanned_track_events": false, "allow_unplanned_identify_traits": true,
        "allow_unplanned_group_traits": true, "forwarding_blocked_events_to": "quarantine",
        "allow_unplanned_track_event_properties": true, "allow_track_event_on_violations": false,
        "allow_identify_traits_on_violations": true, "allow_group_traits_on_violations": true,
        "forwarding_violations_to": "", "allow_track_properties_on_violations": true,
        "common_track_event_on_violations": "OMIT_PROPERTIES",
        "common_identify_event_on_violations": "BLOCK", "common_group_event_on_violations": "ALLOW",
        "some_future_field": 1
    });
    let mapped = sources::map_schema_config(&name, &body, &world.ctx());
    let payload = step(&mapped, Step::UpdateSourceSchemaSettings);
    assert_eq!(
        payload.path_params[0].1,
        reference(Kind::Sources, &format!("{WS}/sources/js"))
    );
    assert_eq!(
        payload.body.clone().unwrap(),
        json!({
            "track": {"allowUnplannedEvents": false, "allowUnplannedEventProperties": true,
                      "allowEventOnViolations": false, "allowPropertiesOnViolations": true,
                      "commonEventOnViolations": "OMIT_PROPERTIES"},
            "identify": {"allowUnplannedTraits": true, "allowTraitsOnViolations": true, "commonEventOnViolations": "BLOCK"},
            "group": {"allowUnplannedTraits": true, "allowTraitsOnViolations": true, "commonEventOnViolations": "ALLOW"},
            "forwardingBlockedEventsTo": reference(Kind::Sources, &format!("{WS}/sources/quarantine")),
        })
    );
    assert!(
        has(&mapped, "schema_config.unknown_field")
            && has(&mapped, "schema_config.requires_protocols")
    );
}

// ---- rows 8–11: destinations, settings, connection mode, secrets ---------------------------

#[test]
fn rows_8_to_11_destinations() {
    let mut world = World::new();
    let source = format!("{WS}/sources/js");
    world
        .ids
        .insert(Ref::id(Kind::Sources, &source), "srcPublic1");
    let ctx = world.ctx();
    let name = format!("{source}/destinations/salesforce");
    let item = |key: &str, value: Value, kind: &str| json!({"name": format!("{name}/config/{key}"), "display_name": key, "value": value, "type": kind});
    let body = sanitized(
        Kind::Destinations,
        json!({
            "name": name, "parent": source, "display_name": "Salesforce", "enabled": true, "connection_mode": "CLOUD",
            "config": [
                item("password", json!("hunter2"), "password"),
                item("securityToken", json!("••••••••••7b3b"), "string"),
                item("sandbox", json!(false), "boolean"),
                item("leadLookupFields", json!({}), "map"),
                item("actions", json!([{"name": "a"}]), "mixed"),
                item("billing", json!(true), "boolean"),
                item("legacyFlag", json!(true), "boolean"),
            ],
        }),
    );
    let mapped = destinations::map_destination(&name, &body, &ctx);
    let create = step(&mapped, Step::CreateDestination).body.clone().unwrap();
    assert_eq!(
        create["sourceId"], "srcPublic1",
        "a known id is written, not a $ref"
    );
    assert_eq!(create["metadataId"], "meta105");
    assert_eq!(create["enabled"], false);
    assert_eq!(create["name"], "Salesforce");
    let settings = create["settings"].as_object().unwrap();
    // (key, expected Public value or None when left out)
    let cases: &[(&str, Option<Value>)] = &[
        (
            "password",
            Some(
                json!({"$secret": {"kind": "destinations", "config_name": name, "setting": "password", "config_setting": "password", "state": "present"}}),
            ),
        ),
        (
            "securityToken",
            Some(
                json!({"$secret": {"kind": "destinations", "config_name": name, "setting": "securityToken", "config_setting": "securityToken", "state": "masked"}}),
            ),
        ),
        ("sandbox", Some(json!(false))),
        ("leadLookupFields", None),
        ("actions", Some(json!([{"name": "a"}]))),
        ("billing", Some(json!(true))),
        ("legacyFlag", None),
    ];
    for (key, expected) in cases {
        assert_eq!(settings.get(*key), expected.as_ref(), "{key}");
    }
    assert!(!create.to_string().contains("hunter2") && !create.to_string().contains('•'));
    // Enabled in the source workspace: enabled again at cut-over, and only then.
    let enable = step(&mapped, Step::EnableDestination);
    assert_eq!(
        (enable.method, enable.path),
        ("PATCH", "/destinations/{destinationId}")
    );
    assert_eq!(enable.body, Some(json!({"enabled": true})));
    for code in [
        "destination.secret_required",
        "destination.masked_secret",
        "destination.connection_mode_not_settable",
        "destination.created_disabled",
        "destination.setting_not_in_target",
    ] {
        assert!(has(&mapped, code), "{code}: {:?}", codes(&mapped));
    }
    let unknown = mapped
        .findings
        .iter()
        .find(|f| f.code.as_str() == "destination.setting_not_in_target")
        .unwrap();
    assert_eq!(unknown.field.as_deref(), Some("config.legacyFlag"));
    assert_eq!(mapped.payloads[0].secrets().len(), 2);
    assert!(mapped.payloads[0].refs().is_empty());
}

#[test]
fn rows_8_and_9_extra_instances_and_table_rows() {
    let mut world = World::new();
    let dir = tempfile::tempdir().unwrap();
    let text = include_str!("../mappings/destination_settings.toml")
        .replace(
            "rename = []",
            "[[rename]]\nintegration = \"google-analytics\"\nconfig_key = \"classic\"\npublic_key = \"trackingId\"",
        )
        .replace(
            "drop = []",
            "[[drop]]\nintegration = \"google-analytics\"\nconfig_key = \"anonymizeIp\"\nreason = \"always on\"",
        );
    std::fs::write(dir.path().join("destination_settings.toml"), text).unwrap();
    world.tables = Tables::load(dir.path()).unwrap();
    let name = format!("{WS}/sources/js/destinations/google-analytics-2");
    let body = json!({"name": name, "display_name": "Google Analytics", "enabled": false, "connection_mode": "UNSPECIFIED",
        "config": [{"name": format!("{name}/config/classic"), "value": "UA-1", "type": "string"},
                   {"name": format!("{name}/config/anonymizeIp"), "value": true, "type": "boolean"}]});
    let mapped = destinations::map_destination(&name, &body, &world.ctx());
    assert!(
        has(&mapped, "destination.extra_instance")
            && has(&mapped, "destination.setting_renamed")
            && has(&mapped, "destination.setting_dropped")
    );
    let create = step(&mapped, Step::CreateDestination).body.clone().unwrap();
    assert_eq!(create["metadataId"], "meta103");
    assert_eq!(create["settings"], json!({"trackingId": "UA-1"}));
    // Instances are told apart by name in the target: the second gets its number.
    assert_eq!(create["name"], "Google Analytics (2)");
    assert!(!has(&mapped, "destination.connection_mode_not_settable"));

    // A second instance of an integration that allows one per source blocks.
    let world = World::new();
    let name = format!("{WS}/sources/js/destinations/braze-2");
    let body = json!({"name": name, "display_name": "Braze", "config": []});
    let mapped = destinations::map_destination(&name, &body, &world.ctx());
    assert!(has(&mapped, "destination.multiple_instances_unsupported") && mapped.is_blocked());
}

// ---- rows 12–15: filters ---------------------------------------------------------------------

#[test]
fn rows_12_to_14_filter_actions_and_fields() {
    let world = World::new();
    let dest = format!("{WS}/sources/js/destinations/google-analytics");
    let fields = json!({"properties": {"fields": ["a", "b"]}, "context": {"fields": ["ip"]}});
    // (Config action, Public action)
    let cases = [
        (json!({"type": "drop_event"}), json!({"type": "DROP"})),
        (
            json!({"type": "sample_event", "percent": 0.6, "path": "userId"}),
            json!({"type": "SAMPLE", "percent": 0.6, "path": "userId"}),
        ),
        (
            json!({"type": "sample_event", "percent": 0.1, "path": ""}),
            json!({"type": "SAMPLE", "percent": 0.1}),
        ),
        (
            json!({"type": "whitelist_fields", "fields": fields}),
            json!({"type": "ALLOW_PROPERTIES", "fields": {"properties": ["a", "b"], "context": ["ip"]}}),
        ),
        (
            json!({"type": "blacklist_fields", "fields": fields}),
            json!({"type": "DROP_PROPERTIES", "fields": {"properties": ["a", "b"], "context": ["ip"]}}),
        ),
        (
            json!({"type": "blocklist_fields", "fields": {"": {"fields": ["userId"]}}}),
            json!({"type": "DROP_PROPERTIES", "fields": {"": ["userId"]}}),
        ),
    ];
    for (config, public) in cases {
        let name = format!("{dest}/filters/df_1");
        let body = json!({"name": name, "if": "type != 'track'", "actions": [config], "title": "T", "description": "", "enabled": true});
        let mapped = filters::map_filter(&name, &body, &world.ctx());
        let payload = step(&mapped, Step::CreateFilter);
        assert_eq!(payload.path, "/destination/{destinationId}/filters");
        assert_eq!(
            payload.path_params[0].1,
            reference(Kind::Destinations, &dest)
        );
        let body = payload.body.clone().unwrap();
        assert_eq!(body["actions"], json!([public]));
        assert_eq!(
            body["sourceId"],
            reference(Kind::Sources, &format!("{WS}/sources/js"))
        );
        assert_eq!(body["if"], "type != 'track'");
        assert!(
            body.get("description").is_none(),
            "empty description left out"
        );
        assert!(mapped.findings.is_empty(), "{:?}", codes(&mapped));
    }
    let name = format!("{dest}/filters/df_2");
    let mapped = filters::map_filter(
        &name,
        &json!({"if": "all", "actions": [{"type": "explode"}], "title": "x"}),
        &world.ctx(),
    );
    assert!(has(&mapped, "filter.unknown_action") && has(&mapped, "filter.enabled_defaulted"));
}

#[test]
fn row_15_filter_limits_and_order() {
    let world = World::new();
    let dest = format!("{WS}/sources/js/destinations/google-analytics");
    let fields: serde_json::Map<String, Value> = (0..9)
        .map(|i| (format!("o{i}"), json!({"fields": ["a"]})))
        .collect();
    let many_fields: Vec<String> = (0..65).map(|i| format!("f{i}")).collect();
    // (filter body, expected blocker code)
    let cases = [
        (
            json!({"if": "a".repeat(3073), "actions": [], "title": "t", "enabled": true}),
            "filter.condition_too_long",
        ),
        (
            json!({"if": "all", "actions": vec![json!({"type": "drop_event"}); 5], "title": "t", "enabled": true}),
            "filter.too_many_actions",
        ),
        (
            json!({"if": "all", "actions": [{"type": "whitelist_fields", "fields": fields}], "title": "t", "enabled": true}),
            "filter.too_many_field_objects",
        ),
        (
            json!({"if": "all", "actions": [{"type": "blacklist_fields", "fields": {"properties": {"fields": many_fields}}}], "title": "t", "enabled": true}),
            "filter.too_many_fields",
        ),
    ];
    for (body, code) in cases {
        let mapped = filters::map_filter(&format!("{dest}/filters/df_x"), &body, &world.ctx());
        assert_eq!(codes(&mapped), [code]);
        assert!(mapped.is_blocked());
    }
    let within = json!({"if": "a".repeat(3072), "actions": vec![json!({"type": "drop_event"}); 4], "title": "t", "enabled": true});
    assert!(
        filters::map_filter(&format!("{dest}/filters/df_y"), &within, &world.ctx())
            .findings
            .is_empty()
    );

    let list: Vec<(String, Value)> = (0..11)
        .map(|i| {
            (
                format!("{dest}/filters/df_{i}"),
                json!({"if": "all", "actions": [], "title": format!("t{i}"), "enabled": true}),
            )
        })
        .collect();
    let list: Vec<(&str, &Value)> = list.iter().map(|(n, b)| (n.as_str(), b)).collect();
    let mapped = filters::map_filters(&dest, &list, &world.ctx());
    let titles: Vec<&Value> = mapped
        .iter()
        .map(|m| &m.payloads[0].body.as_ref().unwrap()["title"])
        .collect();
    assert_eq!(titles[0], "t0");
    assert_eq!(titles[10], "t10", "order kept");
    assert!(mapped[..10].iter().all(|m| !m.is_blocked()));
    assert!(has(&mapped[10], "filter.too_many_filters"));
}

// ---- rows 16–20: tracking plans --------------------------------------------------------------

#[test]
fn rows_16_to_19_typewriter_plans() {
    let world = World::new();
    // (fixture, TRACK rules, IDENTIFY rules)
    let cases = [
        ("tracking-plan.typewriter-cli.json", 2, 0),
        ("tracking-plan.typewriter-e2e.json", 23, 0),
        ("tracking-plan.typewriter-example-with-identify.json", 4, 1),
    ];
    for (file, track, identify) in cases {
        let plan = fixture(file);
        let name = plan["name"].as_str().unwrap();
        let mapped = tracking_plans::map_tracking_plan(name, &plan, &world.ctx());
        let create = step(&mapped, Step::CreateTrackingPlan)
            .body
            .clone()
            .unwrap();
        assert_eq!(
            create,
            json!({"name": plan["display_name"], "type": "LIVE"})
        );
        let rules = step(&mapped, Step::ReplaceRules);
        assert_eq!(rules.method, "PUT");
        assert_eq!(rules.path_params[0].1, reference(Kind::TrackingPlans, name));
        let list = rules.body.as_ref().unwrap()["rules"].as_array().unwrap();
        let count = |t: &str| list.iter().filter(|r| r["type"] == t).count();
        assert_eq!(
            (count("TRACK"), count("IDENTIFY")),
            (track, identify),
            "{file}"
        );
        let first = &plan["rules"]["events"][0];
        assert_eq!(list[0]["key"], first["name"]);
        assert_eq!(list[0]["version"], first["version"]);
        assert_eq!(
            list[0]["jsonSchema"]["properties"],
            first["rules"]["properties"]
        );
        assert_eq!(
            list[0]["jsonSchema"]["description"], first["description"],
            "description kept in the schema"
        );
        assert!(has(&mapped, "tracking_plan.new_id"));
        assert_eq!(
            has(&mapped, "tracking_plan.inferred_rule_type"),
            identify > 0
        );
    }
}

#[test]
fn a_plan_mapped_from_its_text_is_the_plan_mapped_from_its_value() {
    let world = World::new();
    let name = format!("{WS}/tracking-plans/rs_1");
    let mut texts: Vec<String> = [
        "tracking-plan.typewriter-cli.json",
        "tracking-plan.typewriter-e2e.json",
        "tracking-plan.typewriter-example-with-identify.json",
    ]
    .iter()
    .map(|file| fixture(file).to_string())
    .collect();
    let events: Vec<Value> = (0..30)
        .map(|i| json!({"name": format!("Event {}", i / 2), "description": if i % 3 == 0 { "d" } else { "" }, "version": i % 2 + 1, "rules": {"type": "object", "description": if i % 4 == 0 { "other" } else { "d" }}}))
        .collect();
    texts.push(
        json!({"display_name": "Big", "rules": {
            "events": events,
            "global": {"type": "object"}, "group": {"type": "object"},
            "identify_traits": [{"key": "email"}], "group_traits": [],
        }})
        .to_string(),
    );
    // Shapes that are not the usual one, and texts a value reads its own way.
    texts.extend(
        [
            r#"{"rules": {"events": []}}"#,
            r#"{"display_name": 7, "rules": {}}"#,
            r#"{"display_name": "No rules"}"#,
            r#"{"display_name": "Null rules", "rules": null}"#,
            r#"{"display_name": "Text rules", "rules": "x"}"#,
            r#"{"display_name": "Events not a list", "rules": {"events": {"name": "A"}}}"#,
            r#"{"display_name": "Unnamed", "rules": {"events": [{"version": 2}, {"name": "B", "rules": null}]}}"#,
            r#"{"display_name": "Twice", "display_name": "Second", "rules": {}}"#,
            r#"{"display_name": "Escaped", "rules": {"ev\u0065nts": [{"name": "C"}]}}"#,
            r#"{"display_name": "Events twice", "rules": {"events": [{"name": "D"}], "events": [{"name": "E"}]}}"#,
            r#"[1, 2]"#,
            r#"["A list", {"events": [{"name": "F"}]}]"#,
            r#"not json"#,
        ]
        .map(str::to_owned),
    );
    for text in &texts {
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        for keys_only in [false, true] {
            let ctx = Context {
                keys_only,
                ..world.ctx()
            };
            assert_eq!(
                tracking_plans::map_tracking_plan_text(&name, text, &ctx),
                tracking_plans::map_tracking_plan(&name, &value, &ctx),
                "{text}"
            );
        }
    }
}

#[test]
fn a_plan_mapped_for_its_keys_only_is_its_create_without_rules() {
    let world = World::new();
    let plan = fixture("tracking-plan.typewriter-e2e.json");
    let name = plan["name"].as_str().unwrap();
    let whole = tracking_plans::map_tracking_plan(name, &plan, &world.ctx());
    let keys = tracking_plans::map_tracking_plan(
        name,
        &plan,
        &Context {
            keys_only: true,
            ..world.ctx()
        },
    );
    assert_eq!(
        keys.payloads.iter().map(|p| p.step).collect::<Vec<_>>(),
        [Step::CreateTrackingPlan]
    );
    assert_eq!(keys.payloads[0], *step(&whole, Step::CreateTrackingPlan));
    assert!(step(&whole, Step::ReplaceRules).body.is_some());
}

#[test]
fn rows_17_to_19_versions_batches_and_legacy_arrays() {
    let world = World::new();
    let name = format!("{WS}/tracking-plans/rs_big");
    let mut events: Vec<Value> = (0..450)
        .map(|i| json!({"name": format!("Event {}", i / 2), "description": "", "version": i % 2 + 1, "rules": {"type": "object"}}))
        .collect();
    events.push(json!({"name": "Event 0", "version": 1, "rules": {}}));
    let plan = json!({"name": name, "display_name": "Big", "rules": {
        "events": events,
        "global": {"type": "object", "properties": {"context": {}}},
        "group": {"type": "object"},
        "identify_traits": [{"key": "email"}], "group_traits": [],
    }});
    let mapped = tracking_plans::map_tracking_plan(&name, &plan, &world.ctx());
    let batches: Vec<&Payload> = mapped
        .payloads
        .iter()
        .filter(|p| p.path.ends_with("/rules"))
        .collect();
    assert_eq!(
        batches.iter().map(|p| p.method).collect::<Vec<_>>(),
        ["PUT", "PATCH", "PATCH"]
    );
    let sizes: Vec<usize> = batches
        .iter()
        .map(|p| p.body.as_ref().unwrap()["rules"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [200, 200, 52], "450 event versions + COMMON + GROUP");
    let all: Vec<&Value> = batches
        .iter()
        .flat_map(|p| p.body.as_ref().unwrap()["rules"].as_array().unwrap())
        .collect();
    assert_eq!(
        all.iter().filter(|r| r["key"] == "Event 7").count(),
        2,
        "every version kept"
    );
    assert!(
        all.iter()
            .any(|r| r["type"] == "COMMON" && r.get("key").is_none())
    );
    assert!(all.iter().any(|r| r["type"] == "GROUP"));
    assert!(has(&mapped, "tracking_plan.duplicate_rule"));
    let legacy: Vec<_> = mapped
        .findings
        .iter()
        .filter(|f| f.code.as_str() == "tracking_plan.legacy_traits_not_migrated")
        .collect();
    assert_eq!(legacy.len(), 1);
    assert_eq!(legacy[0].field.as_deref(), Some("rules.identify_traits"));
}

#[test]
fn row_20_source_connections() {
    let world = World::new();
    let plan = format!("{WS}/tracking-plans/rs_1");
    let name = format!("{plan}/source-connections/js");
    let body = json!({"source_name": format!("{WS}/sources/js"), "tracking_plan_id": "rs_1"});
    let mapped = tracking_plans::map_connection(&name, &body, &world.ctx());
    let payload = step(&mapped, Step::ConnectSourceToPlan);
    assert_eq!(
        payload.operation(),
        "POST /tracking-plans/{trackingPlanId}/sources"
    );
    assert_eq!(
        payload.path_params[0].1,
        reference(Kind::TrackingPlans, &plan)
    );
    assert_eq!(
        payload.body.clone().unwrap(),
        json!({"sourceId": reference(Kind::Sources, &format!("{WS}/sources/js"))})
    );
}

// ---- rows 22–25: IAM -------------------------------------------------------------------------

#[test]
fn rows_22_to_25_iam() {
    let world = World::new();
    let ctx = world.ctx();
    let roles = vec![
        (
            format!("{WS}/roles/r1"),
            json!({"display_name": "Workspace Owner"}),
        ),
        (
            format!("{WS}/roles/r2"),
            json!({"display_name": "Source Admin"}),
        ),
        (
            format!("{WS}/roles/r3"),
            json!({"display_name": "Data Wrangler"}),
        ),
        (
            format!("{WS}/roles/r4"),
            json!({"display_name": "Personas Admin"}),
        ),
    ];
    // (role, resolved id, codes)
    let expected: [(Option<&str>, &[&str]); 4] = [
        (Some("role0"), &[]),
        (Some("role1"), &[]),
        (None, &["iam.custom_role"]),
        (None, &["iam.role_not_in_target"]),
    ];
    for ((name, body), (id, found)) in roles.iter().zip(expected) {
        let mapped = iam::map_role(name, body, &ctx);
        assert_eq!(mapped.resolved_id.as_deref(), id, "{name}");
        assert_eq!(codes(&mapped), found, "{name}");
    }
    let index = iam::RoleIndex::new(&roles, &ctx);
    let users = vec![(
        "users/u1".to_owned(),
        json!({"name": "users/u1", "email": "ann@acme.com"}),
    )];
    let policy = |role: &str, id: &str, resource: String, subject: &str| {
        (
            format!("{WS}/roles/{role}/policies/{id}"),
            json!({"subject": subject, "resource": resource}),
        )
    };
    let policies = vec![
        policy("r1", "p1", WS.to_owned(), "users/u1"),
        policy("r2", "p2", format!("{WS}/sources/js"), "users/u1"),
        policy("r2", "p3", format!("{WS}/sources/ios"), "users/u1"),
        policy(
            "r2",
            "p4",
            format!("{WS}/sources/js/destinations/google-analytics"),
            "users/u1",
        ),
        policy("r3", "p5", WS.to_owned(), "users/u1"),
        policy("r1", "p6", WS.to_owned(), "users/ghost"),
    ];
    let policy_codes: Vec<Vec<&str>> = policies
        .iter()
        .map(|(n, b)| codes(&iam::map_policy(n, b, &index, &users, &ctx)))
        .collect();
    assert_eq!(
        policy_codes,
        [
            vec![],
            vec![],
            vec![],
            vec!["iam.resource_type_unsupported"],
            vec!["iam.custom_role"],
            vec!["iam.subject_unknown"]
        ]
    );
    let mapped = iam::map_users(&users, &policies, &index, &ctx);
    let user = &mapped[0];
    assert!(has(user, "iam.user_not_creatable"));
    let permissions = json!([
        {"roleId": "role0", "resources": [{"id": "wsTarget", "type": "WORKSPACE"}]},
        {"roleId": "role1", "resources": [
            {"id": reference(Kind::Sources, &format!("{WS}/sources/js")), "type": "SOURCE"},
            {"id": reference(Kind::Sources, &format!("{WS}/sources/ios")), "type": "SOURCE"}]},
    ]);
    let grant = step(user, Step::AddUserPermissions);
    assert_eq!(grant.when, segbridge::mapping::Condition::TargetUserExists);
    assert_eq!(grant.path_params[0].1, reference(Kind::Users, "users/u1"));
    assert_eq!(
        grant.body.clone().unwrap(),
        json!({"permissions": permissions})
    );
    let invite = step(user, Step::InviteUser);
    assert_eq!(
        invite.when,
        segbridge::mapping::Condition::TargetUserMissing
    );
    assert_eq!(
        invite.body.clone().unwrap(),
        json!({"invites": [{"email": "ann@acme.com", "permissions": permissions}]})
    );

    let body = json!({"email": "new@acme.com", "expire_time": "2019-11-08T00:00:00Z", "policies": [
        {"role": format!("{WS}/roles/r2"), "resource": format!("{WS}/sources/js")},
        {"role": format!("{WS}/roles/r2"), "resource": format!("{WS}/tracking-plans/rs_1")},
    ]});
    let mapped = iam::map_invite(&format!("{WS}/invites/i1"), &body, &index, &ctx);
    assert_eq!(
        codes(&mapped),
        ["iam.resource_type_unsupported", "iam.invite_resent"]
    );
    assert_eq!(
        step(&mapped, Step::InviteUser).body.clone().unwrap(),
        json!({"invites": [{"email": "new@acme.com", "permissions": [
            {"roleId": "role1", "resources": [{"id": reference(Kind::Sources, &format!("{WS}/sources/js")), "type": "SOURCE"}]}]}]})
    );
}

// ---- rows 27–29, 31: functions and delivery metrics -------------------------------------------

#[test]
fn rows_27_to_29_functions() {
    let world = World::new();
    let function = |kind: &str, setting_type: &str| {
        json!({"id": "fn_1", "workspace_id": "w", "display_name": "My Fn", "description": "", "type": kind,
               "code": "async function onRequest() {}", "buildpack": "boreal", "logo_url": "https://x/logo.png",
               "settings": [{"name": "apiKey", "label": "API Key", "type": setting_type, "description": "", "required": false, "sensitive": true}],
               "catalog_id": "c1", "created_at": "2020-06-01T12:00:00.000Z", "created_by": "u"})
    };
    // (type, setting type, Public setting type, steps, codes)
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, &'a [Step], &'a [&'a str]);
    let cases: &[Case] = &[
        (
            "SOURCE",
            "string",
            Some("STRING"),
            &[Step::CreateFunction, Step::DeployFunction],
            &["function.version_history_not_migrated"],
        ),
        (
            "SOURCE",
            "text-map",
            Some("TEXT_MAP"),
            &[Step::CreateFunction, Step::DeployFunction],
            &["function.version_history_not_migrated"],
        ),
        (
            "DESTINATION",
            "boolean",
            Some("BOOLEAN"),
            &[Step::CreateFunction],
            &[
                "function.display_name_gains_workspace",
                "function.version_history_not_migrated",
            ],
        ),
        (
            "DESTINATION",
            "array",
            Some("ARRAY"),
            &[Step::CreateFunction],
            &[
                "function.display_name_gains_workspace",
                "function.version_history_not_migrated",
            ],
        ),
        (
            "SOURCE",
            "number",
            None,
            &[Step::CreateFunction, Step::DeployFunction],
            &[
                "function.unknown_setting_type",
                "function.version_history_not_migrated",
            ],
        ),
    ];
    for (kind, setting_type, public_type, steps, expected) in cases {
        let mapped = functions::map_function("fn_1", &function(kind, setting_type), &world.ctx());
        assert_eq!(
            mapped.payloads.iter().map(|p| p.step).collect::<Vec<_>>(),
            *steps,
            "{kind} {setting_type}"
        );
        assert_eq!(codes(&mapped), *expected);
        let create = mapped.payloads[0].body.clone().unwrap();
        assert_eq!(create["resourceType"], *kind);
        assert_eq!(create["displayName"], "My Fn");
        assert_eq!(create["logoUrl"], "https://x/logo.png");
        assert!(create.get("description").is_none());
        let settings = create["settings"].as_array().unwrap();
        match public_type {
            Some(t) => assert_eq!(
                settings[0],
                json!({"name": "apiKey", "label": "API Key", "description": "", "type": t, "required": false, "sensitive": true})
            ),
            None => assert!(settings.is_empty()),
        }
        let records: Vec<&str> = mapped.payloads[0]
            .records
            .iter()
            .map(|r| r.pointer)
            .collect();
        assert_eq!(records, ["/data/function/id", "/data/function/catalogId"]);
    }
    let unknown = functions::map_function("fn_1", &function("INSERT", "string"), &world.ctx());
    assert!(has(&unknown, "function.unknown_type") && unknown.payloads.is_empty());
}

#[test]
fn row_31_delivery_metrics_are_a_baseline() {
    let name = format!("{WS}/sources/js/destinations/google-analytics");
    let mapped = delivery_metrics::map_delivery_summary(
        &name,
        &json!({"name": name, "delivered": 1200, "not_delivered": 3, "p95_latency_ms": 850}),
    );
    assert!(mapped.payloads.is_empty());
    let baseline = mapped.baseline.unwrap();
    assert_eq!(
        (
            baseline.delivered,
            baseline.not_delivered,
            baseline.p95_latency_ms
        ),
        (1200, 3, Some(850))
    );
    assert!(has(&mapped, "delivery_metrics.baseline_only"));
    let broken = delivery_metrics::map_delivery_summary(&name, &json!({"name": name}));
    assert!(broken.is_blocked() && broken.baseline.is_none());
}
