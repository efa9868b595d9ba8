//! The mapping of a whole generated `large` workspace: every payload validates against the
//! Public API request schemas, no secret reaches a payload, every awkward case of the generator
//! shows up as its finding, and mapping is fast.

use std::collections::{BTreeMap, HashSet};
use std::time::Instant;

use serde_json::Value;

use segbridge::mapping::{
    Context, IdMap, Mapped, Severity, Snapshot, Tables, TargetCatalog, TargetRole, map_workspace,
};
use segbridge::model::Kind;
use segbridge::secrets::{SecretHasher, sanitize};
use segbridge::sim::catalog::Catalog;
use segbridge::sim::config::routes::metrics::summary_json;
use segbridge::sim::config::wire;
use segbridge::sim::generator::{Counts, Preset, SECRET_PREFIX, generate};
use segbridge::sim::public::schema::SchemaDoc;
use segbridge::sim::public::seed::builtin_roles;
use segbridge::sim::public::wire as public_wire;
use segbridge::sim::workspace::Workspace;

/// The workspace as the exporter would have stored it: Config wire shapes, sanitized, keyed by
/// Config name. Every third destination is rendered masked, as a token without secret access
/// would read it.
fn snapshot_of(ws: &Workspace, catalog: &Catalog) -> Snapshot {
    let hasher = SecretHasher::from_token("test-token");
    let mut snapshot = Snapshot::default();
    let mut push = |kind: Kind, name: String, body: Value| {
        snapshot.push(kind, name, sanitize(kind, body, &hasher).value());
    };
    push(
        Kind::Workspaces,
        wire::workspace_name(ws),
        wire::workspace(ws),
    );
    for token in &ws.access_tokens {
        let body = wire::access_token(token, std::slice::from_ref(&ws.slug));
        push(
            Kind::AccessTokens,
            body["name"].as_str().unwrap().to_owned(),
            body,
        );
    }
    for item in &catalog.sources {
        let name = format!("catalog/sources/{}", item.slug);
        push(Kind::CatalogSources, name, item.config_wire.clone());
    }
    for item in &catalog.destinations {
        let name = format!("catalog/destinations/{}", item.slug);
        push(Kind::CatalogDestinations, name, item.config_wire.clone());
    }
    let mut index = 0usize;
    for source in &ws.sources {
        let function = source
            .function_instance
            .as_ref()
            .and_then(|i| ws.functions.iter().find(|f| f.id == i.function_id));
        let name = wire::source_name(ws, &source.slug);
        push(
            Kind::Sources,
            name.clone(),
            wire::source(ws, source, function, false),
        );
        push(
            Kind::SchemaConfigs,
            format!("{name}/schema-config"),
            wire::schema_config(ws, &source.slug, &source.schema_config),
        );
        for dest in &source.destinations {
            index += 1;
            let item = catalog.destination(&dest.catalog_slug).unwrap();
            let dest_name = wire::destination_name(ws, &source.slug, &dest.slug);
            let body = wire::destination(ws, &source.slug, dest, item, index.is_multiple_of(3));
            push(Kind::Destinations, dest_name.clone(), body);
            for filter in &dest.filters {
                let body = wire::filter(ws, &source.slug, &dest.slug, filter);
                push(
                    Kind::DestinationFilters,
                    body["name"].as_str().unwrap().to_owned(),
                    body,
                );
            }
            push(
                Kind::DeliveryMetrics,
                dest_name.clone(),
                summary_json(&dest_name, dest),
            );
        }
    }
    for plan in &ws.tracking_plans {
        let plan_name = wire::tracking_plan_name(ws, &plan.id);
        push(
            Kind::TrackingPlans,
            plan_name.clone(),
            wire::tracking_plan(ws, plan),
        );
        for slug in &plan.source_slugs {
            push(
                Kind::TrackingPlanConnections,
                format!("{plan_name}/source-connections/{slug}"),
                wire::connection(ws, &plan.id, slug),
            );
        }
    }
    for role in &ws.roles {
        push(
            Kind::Roles,
            wire::role_name(ws, &role.id),
            wire::role(ws, role),
        );
    }
    for policy in &ws.policies {
        let body = wire::policy(ws, policy);
        push(
            Kind::Policies,
            body["name"].as_str().unwrap().to_owned(),
            body,
        );
    }
    for invite in &ws.invites {
        let body = wire::invite(ws, invite);
        push(
            Kind::Invites,
            body["name"].as_str().unwrap().to_owned(),
            body,
        );
    }
    for user in &ws.users {
        push(Kind::Users, format!("users/{}", user.id), wire::user(user));
    }
    for function in &ws.functions {
        push(
            Kind::Functions,
            function.id.clone(),
            wire::function(ws, function),
        );
    }
    snapshot
}

fn target_catalog(catalog: &Catalog) -> TargetCatalog {
    let sources: Vec<Value> = catalog
        .sources
        .iter()
        .map(public_wire::catalog_source)
        .collect();
    let destinations: Vec<Value> = catalog
        .destinations
        .iter()
        .map(public_wire::catalog_destination)
        .collect();
    TargetCatalog::from_public(&sources, &destinations).unwrap()
}

fn target_roles() -> Vec<TargetRole> {
    builtin_roles()
        .into_iter()
        .map(|r| TargetRole {
            id: r.id,
            name: r.name,
        })
        .collect()
}

/// Maps the workspace and returns the result with the time mapping took.
fn map_large() -> (Snapshot, Vec<Mapped>, std::time::Duration) {
    let catalog = Catalog::embedded();
    let counts = Counts::preset(Preset::Large);
    let ws = generate(7, &counts, catalog);
    let snapshot = snapshot_of(&ws, catalog);
    let target = target_catalog(catalog);
    let roles = target_roles();
    let ids = IdMap::new();
    let functions = snapshot.functions();
    let ctx = Context {
        tables: Tables::embedded(),
        catalog: &target,
        roles: &roles,
        workspace_id: Some("targetWorkspaceId"),
        ids: &ids,
        functions: &functions,
        keys_only: false,
    };
    let start = Instant::now();
    let mapped = map_workspace(&snapshot, &ctx);
    (snapshot, mapped, start.elapsed())
}

#[test]
fn every_payload_of_the_large_workspace_validates_against_the_public_schema() {
    let (snapshot, mapped, elapsed) = map_large();
    let doc = SchemaDoc::embedded();
    let mut validated = 0usize;
    let mut problems = Vec::new();
    for object in &mapped {
        for payload in &object.payloads {
            let text = serde_json::to_string(payload).unwrap();
            assert!(
                !text.contains("segbridge_secret") && !text.contains(SECRET_PREFIX),
                "a secret reached a payload of {}: {text}",
                object.config_name
            );
            let request = payload
                .resolve(
                    &|r| Some(format!("{}_{}", r.kind, r.config_name.len())),
                    &|s| Some(Value::String(format!("secret-for-{}", s.setting))),
                )
                .expect("every placeholder is substitutable");
            assert!(!request.path.contains('{'), "{}", request.path);
            let op = doc
                .operation(payload.method, payload.path)
                .unwrap_or_else(|| panic!("no operation {}", payload.operation()));
            match (
                &request.body,
                op.request.iter().find(|(m, _)| m == "application/json"),
            ) {
                (Some(body), Some((_, schema))) => {
                    for error in doc.validate(schema, body, "") {
                        problems.push(format!(
                            "{} {}: {} {}",
                            payload.operation(),
                            object.config_name,
                            error.field.unwrap_or_default(),
                            error.message
                        ));
                    }
                }
                (None, _) => assert!(!op.request_required, "{}", payload.operation()),
                (Some(_), None) => panic!("{} takes no body", payload.operation()),
            }
            validated += 1;
        }
    }
    assert!(
        problems.is_empty(),
        "{} invalid payloads: {:#?}",
        problems.len(),
        &problems[..problems.len().min(20)]
    );

    // Every stored kind of the snapshot produced mapped objects.
    let kinds: HashSet<Kind> = mapped.iter().map(|m| m.kind).collect();
    for kind in Kind::ALL.into_iter().filter(|k| k.is_stored()) {
        assert!(kinds.contains(&kind), "no mapping for {kind}");
    }
    let objects: usize = snapshot.objects.values().map(Vec::len).sum();
    assert_eq!(mapped.len(), objects, "one Mapped per exported object");
    assert!(validated > 10_000, "only {validated} payloads");
    // Debug builds are an order of magnitude slower; the release figure is what the brief
    // measures (`cargo test --release --test mapping_large`).
    let bound = if cfg!(debug_assertions) {
        20_000
    } else {
        1_000
    };
    assert!(
        elapsed.as_millis() < bound,
        "mapping took {elapsed:?} for {objects} objects and {validated} payloads"
    );
}

#[test]
fn the_generators_awkward_cases_surface_as_findings() {
    let (_, mapped, _) = map_large();
    let mut by_code: BTreeMap<&str, usize> = BTreeMap::new();
    for finding in mapped.iter().flat_map(|m| &m.findings) {
        *by_code.entry(finding.code.as_str()).or_default() += 1;
    }
    for code in [
        "destination.connection_mode_not_settable",
        "destination.secret_required",
        "destination.masked_secret",
        "destination.created_disabled",
        "destination.extra_instance",
        "source.write_key_regenerated",
        "source.function_instance",
        "source.secret_required",
        "iam.resource_type_unsupported",
        "iam.user_not_creatable",
        "iam.invite_resent",
        "function.display_name_gains_workspace",
        "tracking_plan.new_id",
        "access_token.create_in_app",
        "delivery_metrics.baseline_only",
    ] {
        assert!(
            by_code.contains_key(code),
            "{code} never reported: {by_code:#?}"
        );
    }
    // The generated workspace uses only integrations of the shared catalog, within the limits
    // the generator respects. The one thing it cannot settle is which function a handful of
    // function-instance sources run (several functions share their setting names and the
    // source was renamed): those must block rather than be guessed, and nothing else may.
    let blockers: Vec<_> = mapped
        .iter()
        .flat_map(|m| &m.findings)
        .filter(|f| f.severity == Severity::Blocker)
        .filter(|f| f.code.as_str() != "source.function_instance_unresolved")
        .collect();
    assert!(blockers.is_empty(), "{blockers:#?}");
    let inferred = by_code
        .get("source.function_instance")
        .copied()
        .unwrap_or(0);
    let unresolved = by_code
        .get("source.function_instance_unresolved")
        .copied()
        .unwrap_or(0);
    assert!(
        inferred > unresolved,
        "{inferred} inferred, {unresolved} unresolved"
    );
    // Large plans are split into batches of at most 200 rules.
    let largest = mapped
        .iter()
        .filter(|m| m.kind == Kind::TrackingPlans)
        .map(|m| m.payloads.len())
        .max()
        .unwrap();
    assert!(largest >= 3, "no plan needed more than one rules batch");
    for payload in mapped.iter().flat_map(|m| &m.payloads) {
        if let Some(rules) = payload.body.as_ref().and_then(|b| b["rules"].as_array()) {
            assert!(rules.len() <= 200);
        }
    }
}
