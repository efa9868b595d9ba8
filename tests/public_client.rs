//! The Public API client against the simulator over real sockets: every read returns what the
//! simulator holds; lists are walked to their last page; the client follows the server's rate
//! headers, its per-endpoint buckets and its 429s (`Retry-After` and `msBeforeNext`); reads are
//! retried through 5xx and resets; a create whose answer is lost is reported as ambiguous and
//! found again by its natural key, without a duplicate; 422 field errors and a refused token are
//! explained; the writer creates what the simulator then holds; and nothing but the writer can
//! write.
//!
//! The simulator runs with `--time-scale 60` (a rate-limit minute lasts one second) and the
//! client paces on a clock scaled the same way, so that minutes of traffic take seconds.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::Method;
use futures::StreamExt;
use serde_json::{Map, Value, json};
use url::Url;

use common::contract::Contract;
use segbridge::http::{ScaledClock, Secret, SecretSource};
use segbridge::mapping::CatalogItem;
use segbridge::public_api::operations::{RATE_LIMITS, READS};
use segbridge::public_api::writer::{
    ApplyMode, Label, NewDestination, NewFilter, NewFunction, NewSource, NewTrackingPlan, Settings,
    SourceUpdate, WRITES,
};
use segbridge::public_api::{
    FunctionType, Listed, Match, PublicApiError, PublicClient, PublicClientSettings, PublicObject,
    PublicWriter, WriteAccess,
};
use segbridge::sim::clock::TimeScale;
use segbridge::sim::faults::{Matcher, ScriptedFault};
use segbridge::sim::public::Target;
use segbridge::sim::public::limits::ENDPOINT_LIMITS;
use segbridge::sim::{SimSettings, Simulators};

const SCALE: f64 = 60.0;
const TOKEN: &str = "sgp_publicclienttestpublicclienttestpublicclienttestpublicclient0";

async fn start(target: Target, configure: impl FnOnce(&mut SimSettings)) -> Simulators {
    let mut settings = SimSettings::for_tests(7);
    settings.public_token = Some(TOKEN.to_owned());
    settings.time_scale = TimeScale::new(SCALE).unwrap();
    settings.target = target;
    configure(&mut settings);
    Simulators::start(settings).await.unwrap()
}

fn secret(token: &str) -> Secret {
    Secret::new(token, SecretSource::EnvVar("TEST_TOKEN".into())).unwrap()
}

fn settings_for(base: &str, token: &str) -> PublicClientSettings {
    let mut settings = PublicClientSettings::new(secret(token));
    settings.base_url = Url::parse(base).unwrap();
    settings.clock = Arc::new(ScaledClock::new(SCALE));
    settings.retry.base_delay = Duration::from_millis(1);
    settings.retry.max_delay = Duration::from_millis(20);
    settings
}

fn client_of(sims: &Simulators) -> PublicClient {
    PublicClient::new(settings_for(&sims.public.base_url(), TOKEN)).unwrap()
}

fn writer_of(client: &PublicClient) -> PublicWriter {
    let access = WriteAccess::grant(ApplyMode::Live).expect("a live run may write");
    PublicWriter::new(client.clone(), access)
}

async fn sim_json(sims: &Simulators, path: &str) -> Value {
    reqwest::get(format!("{}{path}", sims.public.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The simulator's objects of one kind, serialized: comparing text compares key order too.
fn expected(state: &Value, kind: &str) -> BTreeMap<String, String> {
    state[kind]
        .as_object()
        .map(|objects| {
            objects
                .iter()
                .map(|(id, body)| (id.clone(), serde_json::to_string(body).unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

fn got(objects: &[PublicObject]) -> BTreeMap<String, String> {
    let map: BTreeMap<String, String> = objects
        .iter()
        .map(|o| (o.id.clone(), serde_json::to_string(&o.body).unwrap()))
        .collect();
    assert_eq!(map.len(), objects.len(), "duplicate ids");
    map
}

fn writes(stats: &Value) -> u64 {
    stats["writes"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum()
}

#[tokio::test]
async fn every_read_matches_the_state_and_sends_no_write() {
    let sims = start(Target::Mirror, |_| {}).await;
    let client = client_of(&sims);
    let state = sim_json(&sims, "/_sim/state").await;

    let workspace = client.get_workspace().await.unwrap();
    assert_eq!(got(&[workspace]), expected(&state, "workspaces"));

    let sources = client.list_sources().all().await.unwrap();
    assert!(sources.len() >= 5, "{}", sources.len());
    assert_eq!(got(&sources), expected(&state, "sources"));
    let (mut one_by_one, mut settings, mut connected) = (vec![], vec![], vec![]);
    let mut plan_of_source = BTreeMap::new();
    for source in &sources {
        let detail = client.get_source(&source.id).await.unwrap();
        plan_of_source.insert(source.id.clone(), detail.tracking_plan_id);
        one_by_one.push(detail.source);
        settings.push(client.get_source_settings(&source.id).await.unwrap());
        connected.extend(
            client
                .list_connected_destinations(&source.id)
                .all()
                .await
                .unwrap(),
        );
    }
    assert_eq!(got(&one_by_one), expected(&state, "sources"));
    assert_eq!(got(&settings), expected(&state, "schema_configs"));
    assert_eq!(got(&connected), expected(&state, "destinations"));

    let destinations = client.list_destinations().all().await.unwrap();
    assert_eq!(got(&destinations), expected(&state, "destinations"));
    let (mut filters, mut metrics) = (vec![], vec![]);
    for destination in &destinations {
        let again = client.get_destination(&destination.id).await.unwrap();
        assert_eq!(&again, destination);
        let source_id = destination.str_field("sourceId").unwrap();
        metrics.push(
            client
                .get_delivery_metrics(&destination.id, source_id, None)
                .await
                .unwrap(),
        );
        for filter in client.list_filters(&destination.id).all().await.unwrap() {
            let again = client
                .get_filter(&destination.id, &filter.id)
                .await
                .unwrap();
            assert_eq!(again, filter);
            filters.push(filter);
        }
    }
    assert_eq!(got(&metrics), expected(&state, "delivery_metrics"));
    assert!(!filters.is_empty());
    assert_eq!(got(&filters), expected(&state, "destination_filters"));

    let plans = client.list_tracking_plans(None).all().await.unwrap();
    assert_eq!(got(&plans), expected(&state, "tracking_plans"));
    assert!(plans.iter().all(|p| p.resource_schema_id().is_some()));
    let (mut rules, mut connections) = (BTreeMap::new(), BTreeSet::new());
    for plan in &plans {
        assert_eq!(&client.get_tracking_plan(&plan.id).await.unwrap(), plan);
        for rule in client.list_rules(&plan.id).all().await.unwrap() {
            rules.insert(
                format!("{}/{}", plan.id, rule.id),
                serde_json::to_string(&rule.body).unwrap(),
            );
        }
        for source in client
            .list_tracking_plan_sources(&plan.id)
            .all()
            .await
            .unwrap()
        {
            assert_eq!(
                plan_of_source[&source.id].as_deref(),
                Some(plan.id.as_str())
            );
            connections.insert(format!("{}/{}", plan.id, source.id));
        }
    }
    assert_eq!(rules, expected(&state, "tracking_plan_rules"));
    let expected_connections: BTreeSet<String> = expected(&state, "tracking_plan_connections")
        .into_keys()
        .collect();
    assert_eq!(connections, expected_connections);

    let mut functions = vec![];
    for kind in FunctionType::ALL {
        for listed in client.list_functions(kind).all().await.unwrap() {
            assert_eq!(listed.str_field("resourceType"), Some(kind.as_str()));
            functions.push(client.get_function(&listed.id).await.unwrap());
        }
    }
    assert!(!functions.is_empty());
    assert_eq!(got(&functions), expected(&state, "functions"));

    let labels = client.list_labels().await.unwrap();
    assert_eq!(got(&labels), expected(&state, "labels"));

    let users = client.list_users().all().await.unwrap();
    assert_eq!(got(&users), expected(&state, "users"));
    for user in &users {
        assert_eq!(&client.get_user(&user.id).await.unwrap(), user);
        let permissions = client.user_permissions(&user.id).await.unwrap();
        assert_eq!(Value::Array(permissions), user.body["permissions"]);
        client.list_user_groups_of(&user.id).all().await.unwrap();
    }
    let invites: BTreeSet<String> = client
        .list_invites()
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    let expected_invites: BTreeSet<String> = state["invites"]
        .as_object()
        .unwrap()
        .values()
        .map(|i| i["email"].as_str().unwrap().to_owned())
        .collect();
    assert!(!invites.is_empty());
    assert_eq!(invites, expected_invites);
    let groups = client.list_groups().all().await.unwrap();
    assert_eq!(got(&groups), expected(&state, "groups"));
    for group in &groups {
        assert_eq!(&client.get_group(&group.id).await.unwrap(), group);
        client.list_group_users(&group.id).all().await.unwrap();
        client.list_group_invites(&group.id).all().await.unwrap();
    }
    let roles = client.list_roles().all().await.unwrap();
    assert_eq!(got(&roles), expected(&state, "roles"));

    let stats = sim_json(&sims, "/_sim/stats").await;
    let catalog_sources = client.list_catalog_sources().all().await.unwrap();
    assert_eq!(
        catalog_sources.len() as u64,
        stats["resources"]["catalog_sources"].as_u64().unwrap()
    );
    let first = &catalog_sources[0];
    assert_eq!(&client.get_catalog_source(&first.id).await.unwrap(), first);
    let catalog_destinations = client.list_catalog_destinations().all().await.unwrap();
    assert_eq!(
        catalog_destinations.len() as u64,
        stats["resources"]["catalog_destinations"].as_u64().unwrap()
    );
    let first = &catalog_destinations[0];
    assert_eq!(
        &client.get_catalog_destination(&first.id).await.unwrap(),
        first
    );

    // Every natural-key lookup is a read too.
    let source = &sources[0];
    let found = client
        .find_source_by_slug(source.str_field("slug").unwrap())
        .await
        .unwrap();
    assert_eq!(found.one(), Some(source));
    let label = &labels[0];
    let found = client
        .find_label(
            label.str_field("key").unwrap(),
            label.str_field("value").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(found.one(), Some(label));
    let plan = &plans[0];
    let by_rs_id = client
        .find_tracking_plan("another name", plan.resource_schema_id())
        .await
        .unwrap();
    assert_eq!(by_rs_id.one(), Some(plan));
    let filter = &filters[0];
    let found = client
        .find_filter(
            filter.str_field("destinationId").unwrap(),
            filter.str_field("title").unwrap(),
            filter.str_field("if").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(found.one(), Some(filter));
    let invite = invites.first().unwrap().to_ascii_uppercase();
    assert!(client.find_invite(&invite).await.unwrap().one().is_some());

    let stats = sim_json(&sims, "/_sim/stats").await;
    assert_eq!(writes(&stats), 0, "{}", stats["writes"]);
    assert_eq!(stats["rate_limited"], 0);
    assert_eq!(client.metrics().snapshot().responses_4xx, 0);
    sims.shutdown().await;
}

/// `body` cut to `fields` as a reader of a projected list expects it: a `metadata` object cut
/// to its `id`.
fn cut(body: &Value, fields: &[&str]) -> Value {
    let mut out = Map::new();
    for field in fields {
        if let Some(value) = body.get(*field) {
            let value = match (*field, value) {
                ("metadata", Value::Object(m)) => {
                    m.get("id").map_or(json!({}), |id| json!({"id": id}))
                }
                _ => value.clone(),
            };
            out.insert((*field).to_owned(), value);
        }
    }
    Value::Object(out)
}

#[tokio::test]
async fn lists_read_for_a_few_fields_are_the_lists_read_whole_then_cut() {
    let sims = start(Target::Mirror, |_| {}).await;
    let client = client_of(&sims);
    let check =
        async |list: Listed<'_>, whole: Vec<PublicObject>, fields: &'static [&'static str]| {
            let projected = client.list_projected(list, fields).all().await.unwrap();
            assert!(!whole.is_empty(), "{list:?}");
            assert_eq!(projected.len(), whole.len(), "{list:?}");
            for (projected, whole) in projected.iter().zip(&whole) {
                assert_eq!(projected.id, whole.id, "{list:?}");
                let text: Value = serde_json::from_str(&projected.text).unwrap();
                assert_eq!(text, cut(&whole.body, fields), "{list:?}");
            }
        };
    let fields: &[&str] = &["slug", "name", "metadata", "settings", "labels", "absent"];
    check(
        Listed::Sources,
        client.list_sources().all().await.unwrap(),
        fields,
    )
    .await;
    let fields: &[&str] = &["name", "metadata", "sourceId", "settings", "enabled"];
    let destinations = client.list_destinations().all().await.unwrap();
    check(Listed::Destinations, destinations.clone(), fields).await;
    let fields: &[&str] = &["id", "title", "if", "actions", "enabled"];
    let mut filters = 0;
    for destination in &destinations {
        let whole = client.list_filters(&destination.id).all().await.unwrap();
        if !whole.is_empty() {
            filters += whole.len();
            let list = Listed::Filters {
                destination_id: &destination.id,
            };
            check(list, whole, fields).await;
        }
    }
    assert!(filters > 0);
    let plans = client.list_tracking_plans(None).all().await.unwrap();
    let list = Listed::TrackingPlans { plan_type: None };
    check(list, plans.clone(), &["name", "type"]).await;
    for plan in &plans {
        let whole = client.list_rules(&plan.id).all().await.unwrap();
        if !whole.is_empty() {
            check(Listed::Rules { plan_id: &plan.id }, whole, &["jsonSchema"]).await;
        }
    }
    // The catalogs, read for the fields a catalog item keeps, give the same items.
    for (list, whole, what) in [
        (
            Listed::CatalogSources,
            client.list_catalog_sources(),
            "source",
        ),
        (
            Listed::CatalogDestinations,
            client.list_catalog_destinations(),
            "destination",
        ),
    ] {
        let whole = whole.all().await.unwrap();
        let projected = client
            .list_projected(list, CatalogItem::FIELDS)
            .all()
            .await
            .unwrap();
        assert_eq!(projected.len(), whole.len());
        for (i, (projected, whole)) in projected.iter().zip(&whole).enumerate() {
            let cut: Value = serde_json::from_str(&projected.text).unwrap();
            assert_eq!(
                CatalogItem::parse(&cut, what, i).unwrap(),
                CatalogItem::parse(&whole.body, what, i).unwrap()
            );
        }
    }
    sims.shutdown().await;
}

#[tokio::test]
async fn lists_are_walked_to_the_last_page_in_pages_of_200() {
    let sims = start(Target::Empty, |_| {}).await;
    let client = client_of(&sims);
    let mut pages = client.list_catalog_destinations();
    let mut seen = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.unwrap();
        seen.push((
            page.number,
            page.objects.len(),
            page.last,
            page.total_entries,
        ));
    }
    let total = sim_json(&sims, "/_sim/stats").await["resources"]["catalog_destinations"]
        .as_u64()
        .unwrap();
    assert!(total > 200, "{total}");
    assert_eq!(
        seen,
        [
            (1, 200, false, Some(total)),
            (2, total as usize - 200, true, Some(total))
        ]
    );
    // A list shorter than a page is one page, marked last.
    let mut pages = client.list_catalog_sources();
    let only = pages.next().await.unwrap().unwrap();
    assert!(only.last && only.objects.len() < 200);
    assert!(pages.next().await.is_none());
    let stats = sim_json(&sims, "/_sim/stats").await;
    assert_eq!(stats["requests"]["GET /catalog/destinations"]["200"], 2);
    assert_eq!(stats["requests"]["GET /catalog/sources"]["200"], 1);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_lower_server_limit_is_learnt_from_the_headers_and_never_hit() {
    let sims = start(Target::Empty, |s| s.public_rate_limit = 60).await;
    let client = client_of(&sims);
    assert_eq!(client.default_rate(), 1_000);
    for _ in 0..100 {
        client.list_labels().await.unwrap();
    }
    assert_eq!(client.default_rate(), 60);
    let stats = sim_json(&sims, "/_sim/stats").await;
    assert_eq!(stats["rate_limited"], 0, "{}", stats["requests"]);
    assert!(client.metrics().snapshot().budget_wait > Duration::ZERO);
    sims.shutdown().await;
}

#[tokio::test]
async fn iam_writes_keep_to_their_own_bucket_of_60_a_minute() {
    let sims = start(Target::Mirror, |_| {}).await;
    let client = client_of(&sims);
    let user = client.list_users().all().await.unwrap().remove(0);
    let permissions = client.user_permissions(&user.id).await.unwrap();
    let writer = writer_of(&client);
    for _ in 0..70 {
        let now = writer
            .replace_user_permissions(&user.id, &permissions)
            .await
            .unwrap();
        assert_eq!(now.len(), permissions.len());
    }
    let stats = sim_json(&sims, "/_sim/stats").await;
    assert_eq!(stats["rate_limited"], 0, "{}", stats["requests"]);
    assert_eq!(
        stats["requests"]["PUT /users/{userId}/permissions"]["200"],
        70
    );
    // The default bucket (1,000 a minute) alone would have sent all 70 at once.
    assert!(client.metrics().snapshot().budget_wait > Duration::ZERO);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_429_is_waited_out_as_retry_after_says() {
    let sims = start(Target::Empty, |_| {}).await;
    sims.public.faults.script(
        Matcher::new(Method::GET, "/labels"),
        ScriptedFault::RateLimited,
        1,
    );
    let client = client_of(&sims);
    let started = Instant::now();
    client.list_labels().await.unwrap();
    // `Retry-After: 1` (whole seconds, at least one).
    assert!(started.elapsed() >= Duration::from_millis(950));
    let metrics = client.metrics().snapshot();
    assert_eq!((metrics.rate_limited, metrics.retries), (1, 1));
    assert!(metrics.retry_after_wait >= Duration::from_millis(950));
    sims.shutdown().await;
}

/// A server that answers 429 with only `msBeforeNext` (no `Retry-After`, no reset), then 200.
async fn ms_before_next_server() -> (String, tokio::task::JoinHandle<()>) {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use std::sync::atomic::{AtomicU32, Ordering};
    let calls = Arc::new(AtomicU32::new(0));
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let calls = calls.clone();
            async move {
                if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    let body = json!({"errors": [{"type": "RequestError", "message": "Too many requests",
                        "data": {"remainingPoints": 0, "msBeforeNext": 400, "consumedPoints": 3}}]});
                    (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response()
                } else {
                    let body = json!({"data": {"workspace": {"id": "w1", "slug": "w", "name": "W"}}});
                    axum::Json(body).into_response()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, task)
}

#[tokio::test]
async fn a_429_without_retry_after_is_waited_out_as_ms_before_next_says() {
    let (base, server) = ms_before_next_server().await;
    let mut settings = settings_for(&base, TOKEN);
    // A backoff this long would show if msBeforeNext were ignored.
    settings.retry.base_delay = Duration::from_secs(30);
    settings.retry.max_delay = Duration::from_secs(30);
    let client = PublicClient::new(settings).unwrap();
    let started = Instant::now();
    let workspace = client.get_workspace().await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(workspace.id, "w1");
    assert!(
        elapsed >= Duration::from_millis(390) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert!(client.metrics().snapshot().retry_after_wait >= Duration::from_millis(390));
    server.abort();
}

#[tokio::test]
async fn reads_are_retried_through_server_errors_and_resets() {
    let sims = start(Target::Mirror, |_| {}).await;
    let faults = &sims.public.faults;
    faults.script(
        Matcher::new(Method::GET, "/sources"),
        ScriptedFault::Status(503),
        2,
    );
    faults.script(
        Matcher::new(Method::GET, "/sources"),
        ScriptedFault::Reset,
        1,
    );
    faults.script(
        Matcher::new(Method::GET, "/sources"),
        ScriptedFault::Truncate,
        1,
    );
    let client = client_of(&sims);
    let sources = client.list_sources().all().await.unwrap();
    assert!(!sources.is_empty());
    let metrics = client.metrics().snapshot();
    assert_eq!(metrics.retries, 4);
    assert_eq!(metrics.responses_5xx, 2);
    sims.shutdown().await;
}

/// Ids of objects created by the writer, for the state checks.
fn ids(objects: &[&PublicObject]) -> BTreeSet<String> {
    objects.iter().map(|o| o.id.clone()).collect()
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_ambiguous_and_found_by_its_natural_key() {
    let sims = start(Target::Empty, |_| {}).await;
    let client = client_of(&sims);
    let writer = writer_of(&client);
    let faults = sims.public.faults.clone();
    let ghost =
        |path: &str| faults.script(Matcher::new(Method::POST, path), ScriptedFault::Ghost, 1);
    let assert_ambiguous = |result: Result<PublicObject, PublicApiError>| {
        let err = result.unwrap_err();
        assert!(err.is_ambiguous(), "{err:?}");
        assert!(
            err.to_string()
                .contains("may or may not have been applied; look the object up"),
            "{err}"
        );
    };
    let found = |m: Match| m.one().cloned().expect("exactly one object has the key");

    let js = client
        .list_catalog_sources()
        .all()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.str_field("slug") == Some("javascript"))
        .unwrap();
    ghost("/sources");
    assert_ambiguous(
        writer
            .create_source(&NewSource {
                slug: "web".into(),
                metadata_id: js.id.clone(),
                enabled: true,
                settings: None,
            })
            .await,
    );
    let source = found(client.find_source_by_slug("web").await.unwrap());

    let metadata = client
        .list_catalog_destinations()
        .all()
        .await
        .unwrap()
        .remove(0);
    ghost("/destinations");
    assert_ambiguous(
        writer
            .create_destination(&NewDestination {
                source_id: source.id.clone(),
                metadata_id: metadata.id.clone(),
                name: Some("Warehouse feed".into()),
                enabled: false,
                settings: Settings::default(),
            })
            .await,
    );
    let destination = found(
        client
            .find_destination(&source.id, &metadata.id, Some("Warehouse feed"))
            .await
            .unwrap(),
    );
    assert!(
        client
            .find_destination(&source.id, &metadata.id, Some("other"))
            .await
            .unwrap()
            .is_none()
    );

    ghost("/destination/");
    assert_ambiguous(
        writer
            .create_filter(
                &destination.id,
                &NewFilter {
                    source_id: source.id.clone(),
                    condition: "type = \"identify\"".into(),
                    title: "No identify".into(),
                    description: None,
                    enabled: true,
                    actions: vec![json!({"type": "DROP"})],
                },
            )
            .await,
    );
    let filter = found(
        client
            .find_filter(&destination.id, "No identify", "type = \"identify\"")
            .await
            .unwrap(),
    );

    ghost("/tracking-plans");
    assert_ambiguous(
        writer
            .create_tracking_plan(&NewTrackingPlan {
                name: "Web plan".into(),
                description: None,
                plan_type: "LIVE".into(),
            })
            .await,
    );
    let plan = found(client.find_tracking_plan("Web plan", None).await.unwrap());

    ghost("/functions");
    assert_ambiguous(
        writer
            .create_function(&NewFunction {
                code: "async function onTrack(event) {}".into(),
                settings: vec![],
                display_name: "Enricher".into(),
                logo_url: None,
                resource_type: FunctionType::Destination,
                description: None,
            })
            .await,
    );
    let function = found(
        client
            .find_function(FunctionType::Destination, "Enricher")
            .await
            .unwrap(),
    );
    assert_ne!(function.str_field("displayName"), Some("Enricher"));

    ghost("/labels");
    let label = Label {
        key: "team".into(),
        value: "growth".into(),
        description: None,
    };
    assert_ambiguous(writer.create_label(&label).await);
    let label_object = found(client.find_label("team", "growth").await.unwrap());

    ghost("/invites");
    let err = writer
        .create_invites(&[json!({"email": "new.hire@example.com"})])
        .await
        .unwrap_err();
    assert!(err.is_ambiguous(), "{err:?}");
    found(client.find_invite("new.hire@example.com").await.unwrap());

    let stats = sim_json(&sims, "/_sim/stats").await;
    assert_eq!(stats["faults"]["ghost"], 7);
    // Each create was sent once: nothing was replayed blindly, nothing was duplicated.
    assert_eq!(stats["writes"]["POST"], 7);
    assert_eq!(
        stats["duplicates_total"], 0,
        "{}",
        stats["duplicate_natural_keys"]
    );
    let state = sim_json(&sims, "/_sim/state").await;
    for (kind, object) in [
        ("sources", &source),
        ("destinations", &destination),
        ("destination_filters", &filter),
        ("tracking_plans", &plan),
        ("functions", &function),
        ("labels", &label_object),
    ] {
        let held: BTreeSet<String> = expected(&state, kind).into_keys().collect();
        assert_eq!(held, ids(&[object]), "{kind}");
    }
    sims.shutdown().await;
}

#[tokio::test]
async fn a_create_refused_before_it_was_applied_is_retried() {
    let sims = start(Target::Empty, |_| {}).await;
    sims.public.faults.script(
        Matcher::new(Method::POST, "/labels"),
        ScriptedFault::RateLimited,
        1,
    );
    let client = client_of(&sims);
    let writer = writer_of(&client);
    let label = writer
        .create_label(&Label {
            key: "env".into(),
            value: "staging".into(),
            description: Some("Staging sources".into()),
        })
        .await
        .unwrap();
    assert_eq!(label.id, "env:staging");
    let stats = sim_json(&sims, "/_sim/stats").await;
    assert_eq!(stats["requests"]["POST /labels"]["429"], 1);
    assert_eq!(stats["requests"]["POST /labels"]["201"], 1);
    sims.shutdown().await;
}

#[tokio::test]
async fn field_errors_of_a_422_are_each_named() {
    let sims = start(Target::Empty, |_| {}).await;
    let client = client_of(&sims);
    let writer = writer_of(&client);
    let err = writer
        .create_source(&NewSource {
            slug: "web".into(),
            metadata_id: "no-such-metadata".into(),
            enabled: true,
            settings: None,
        })
        .await
        .unwrap_err();
    assert!(!err.is_ambiguous() && !err.is_transient(), "{err:?}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(422));
    assert_eq!(err.detail().unwrap().fields(), ["metadataId"]);
    let text = err.to_string();
    assert!(
        text.starts_with("createSource (POST /sources) for `sources` failed (HTTP 422: ")
            && text.contains("on `metadataId`: "),
        "{text}"
    );
    // Several problems in one body are all reported.
    let err = writer
        .create_invites(&[
            json!({"email": "not-an-email"}),
            json!({"email": "ok@example.com", "permissions": [{"roleId": "no-such-role", "resources": []}]}),
        ])
        .await
        .unwrap_err();
    let fields = err.detail().unwrap().fields();
    assert!(fields.len() >= 2, "{err}");
    assert!(fields.contains(&"invites.0.email"), "{fields:?}");
    assert_eq!(writes(&sim_json(&sims, "/_sim/stats").await), 2);
    sims.shutdown().await;
}

#[tokio::test]
async fn a_refused_token_says_what_to_do_and_never_shows_the_token() {
    let sims = start(Target::Empty, |_| {}).await;
    let wrong = "sgp_wrongwrongwrongwrongwrongwrongwrongwrongwrongwrongwrongwrong00";
    let client = PublicClient::new(settings_for(&sims.public.base_url(), wrong)).unwrap();
    let err = client.get_workspace().await.unwrap_err();
    let text = err.to_string();
    for needle in [
        "getWorkspace (GET /)",
        "refused the token (HTTP 401",
        "SEGMENT_PUBLIC_API_TOKEN",
        "--public-token-file",
        "--region eu",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    let everything = format!("{err} {err:?} {client:?}");
    assert!(!everything.contains(wrong) && !everything.contains(TOKEN));
    assert_eq!(client.metrics().snapshot().retries, 0);
    sims.shutdown().await;
}

#[tokio::test]
async fn the_writer_creates_what_the_state_then_shows() {
    let sims = start(Target::Empty, |_| {}).await;
    let client = client_of(&sims);
    let writer = writer_of(&client);
    let workspace = client.get_workspace().await.unwrap();

    let label = Label {
        key: "env".into(),
        value: "prod".into(),
        description: Some("Production".into()),
    };
    writer.create_label(&label).await.unwrap();
    let js = client
        .list_catalog_sources()
        .all()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.str_field("slug") == Some("javascript"))
        .unwrap();
    let source = writer
        .create_source(&NewSource {
            slug: "web".into(),
            metadata_id: js.id.clone(),
            enabled: true,
            settings: None,
        })
        .await
        .unwrap();
    let renamed = writer
        .update_source(
            &source.id,
            &SourceUpdate {
                name: Some("Web site".into()),
                ..SourceUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.str_field("name"), Some("Web site"));
    let settings = writer
        .update_schema_settings(
            &source.id,
            &json!({"track": {"allowUnplannedEvents": false, "commonEventOnViolations": "BLOCK"}}),
        )
        .await
        .unwrap();
    assert_eq!(settings.id, source.id);
    let labels = writer
        .replace_source_labels(&source.id, std::slice::from_ref(&label))
        .await
        .unwrap();
    assert_eq!(labels.len(), 1);

    let metadata = client
        .list_catalog_destinations()
        .all()
        .await
        .unwrap()
        .remove(0);
    let destination = writer
        .create_destination(&NewDestination {
            source_id: source.id.clone(),
            metadata_id: metadata.id.clone(),
            name: Some("Analytics".into()),
            enabled: false,
            settings: Settings::default(),
        })
        .await
        .unwrap();
    assert_eq!(destination.body["enabled"], false);
    let enabled = writer
        .set_destination_enabled(&destination.id, true)
        .await
        .unwrap();
    assert_eq!(enabled.body["enabled"], true);
    let filter = writer
        .create_filter(
            &destination.id,
            &NewFilter {
                source_id: source.id.clone(),
                condition: "type = \"page\"".into(),
                title: "No pages".into(),
                description: Some("Pages are not needed".into()),
                enabled: true,
                actions: vec![json!({"type": "SAMPLE", "percent": 0.5})],
            },
        )
        .await
        .unwrap();

    let plan = writer
        .create_tracking_plan(&NewTrackingPlan {
            name: "Web plan".into(),
            description: Some("Events of the web site".into()),
            plan_type: "LIVE".into(),
        })
        .await
        .unwrap();
    let rules: Vec<Value> = (0..450)
        .map(|i| {
            json!({"type": "TRACK", "key": format!("Event {i}"), "version": 1,
                   "jsonSchema": {"type": "object", "properties": {"properties": {"type": "object"}}}})
        })
        .collect();
    let written = writer.replace_rules(&plan.id, &rules).await.unwrap();
    assert_eq!((written.requests, written.rules), (3, 450));
    // Replacing again starts over rather than adding: still 450.
    writer.replace_rules(&plan.id, &rules).await.unwrap();
    let upserted = writer.upsert_rules(&plan.id, &rules[..10]).await.unwrap();
    assert_eq!(upserted.requests, 1);
    let mut pages = client.list_rules(&plan.id);
    let mut sizes = vec![];
    while let Some(page) = pages.next().await {
        sizes.push(page.unwrap().objects.len());
    }
    assert_eq!(sizes, [200, 200, 50]);
    writer
        .add_source_to_tracking_plan(&plan.id, &source.id)
        .await
        .unwrap();
    assert_eq!(
        client
            .get_source(&source.id)
            .await
            .unwrap()
            .tracking_plan_id,
        Some(plan.id.clone())
    );

    let function = writer
        .create_function(&NewFunction {
            code: "exports.onRequest = async () => {}".into(),
            settings: vec![
                json!({"name": "apiKey", "label": "API key", "description": "Key",
                                  "type": "STRING", "required": true, "sensitive": true}),
            ],
            display_name: "Importer".into(),
            logo_url: None,
            resource_type: FunctionType::Source,
            description: Some("Imports".into()),
        })
        .await
        .unwrap();
    let deployment = writer.deploy_function(&function.id).await.unwrap();
    assert_eq!(deployment["status"], "SUCCESS");

    let role = client.list_roles().all().await.unwrap().remove(0);
    let invites: Vec<Value> = (0..60)
        .map(|i| {
            json!({"email": format!("user{i}@example.com"),
                   "permissions": [{"roleId": role.id, "resources": [{"id": workspace.id, "type": "WORKSPACE"}]}]})
        })
        .collect();
    let emails = writer.create_invites(&invites).await.unwrap();
    assert_eq!(emails.len(), 60);

    let state = sim_json(&sims, "/_sim/state").await;
    let sources = client.list_sources().all().await.unwrap();
    assert_eq!(got(&sources), expected(&state, "sources"));
    assert_eq!(sources[0].str_field("name"), Some("Web site"));
    assert_eq!(sources[0].body["labels"][0]["key"], "env");
    assert_eq!(
        expected(&state, "schema_configs")[&source.id],
        serde_json::to_string(&client.get_source_settings(&source.id).await.unwrap().body).unwrap()
    );
    assert_eq!(
        got(&client.list_destinations().all().await.unwrap()),
        expected(&state, "destinations")
    );
    assert_eq!(got(&[filter]), expected(&state, "destination_filters"));
    assert_eq!(state["tracking_plan_rules"].as_object().unwrap().len(), 450);
    assert_eq!(state["tracking_plans"][&plan.id]["name"], "Web plan");
    let held = &state["functions"][&function.id];
    assert_eq!(held["displayName"], "Importer");
    assert!(held["deployedAt"].is_string(), "{held}");
    assert_eq!(
        got(&client.list_labels().await.unwrap()),
        expected(&state, "labels")
    );
    assert_eq!(state["invites"].as_object().unwrap().len(), 60);

    let stats = sim_json(&sims, "/_sim/stats").await;
    assert_eq!(stats["duplicates_total"], 0);
    assert_eq!(stats["requests"]["POST /invites"]["201"], 2);
    assert_eq!(stats["rate_limited"], 0);
    sims.shutdown().await;
}

/// The lines of a Rust file that are code, not comments.
fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter(|l| !l.trim_start().starts_with("//"))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_writer_names_write_methods_and_only_apply_may_grant_writes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![];
    rust_files(&root.join("src/public_api"), &mut files);
    assert!(files.len() >= 6, "{files:?}");
    let methods = ["POST", "PUT", "PATCH", "DELETE"];
    let mut writer_hits = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        let is_writer = file.ends_with("writer.rs");
        for line in code_lines(&text) {
            for method in methods {
                let named = line.contains(&format!("\"{method}\""))
                    || line.contains(&format!("Method::{method}"));
                if named {
                    assert!(is_writer, "{} names {method}: {line}", file.display());
                    writer_hits += 1;
                }
            }
        }
    }
    assert!(writer_hits >= 16, "the writer defines the write operations");

    // Granting writes is for the live apply alone: the writer itself, the apply executor and
    // the apply command. `plan` and everything else never name it.
    let allowed = |path: &Path| {
        path.ends_with("src/public_api/writer.rs")
            || path.starts_with(root.join("src/apply"))
            || path.ends_with("src/commands/apply.rs")
    };
    let mut everything = vec![];
    rust_files(&root.join("src"), &mut everything);
    for file in everything {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in code_lines(&text) {
            if line.contains("WriteAccess::grant") || line.contains("PublicWriter::new") {
                assert!(allowed(&file), "{} grants writes: {line}", file.display());
            }
        }
    }
}

#[test]
fn the_operation_tables_agree_with_the_schema_and_the_documented_limits() {
    let doc = &Contract::load().doc;
    let by_id: BTreeMap<&str, (&str, &str, &Value)> = doc["operations"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(key, op)| {
            let (method, template) = key.split_once(' ').unwrap();
            (op["operationId"].as_str().unwrap(), (method, template, op))
        })
        .collect();
    let writes: Vec<_> = WRITES.iter().map(|w| w.operation).collect();
    for operation in READS.iter().chain(&writes) {
        let (method, template, op) = by_id
            .get(operation.id)
            .unwrap_or_else(|| panic!("{} is not in the schema", operation.id));
        assert_eq!(
            (operation.endpoint.method, operation.endpoint.template),
            (*method, *template),
            "{}",
            operation.id
        );
        let media = operation.media.as_str();
        assert!(
            op["accept"].as_array().unwrap().iter().any(|m| m == media),
            "{operation} is not served as {media}"
        );
        if let Some(content) = op["requestBody"]["content"].as_object() {
            assert!(
                content.contains_key(media),
                "{operation} does not take {media}"
            );
        }
        // Pinned to the stable version wherever the operation has one.
        let has_v1 = op["accept"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == "application/vnd.segment.v1+json");
        assert_eq!(
            media == "application/vnd.segment.v1+json",
            has_v1,
            "{operation}"
        );
    }
    assert!(READS.iter().all(|r| r.endpoint.method == "GET"));
    assert!(writes.iter().all(|w| w.endpoint.method != "GET"));
    // The client's limits are the documented ones, as the simulator also has them.
    for (id, limit) in RATE_LIMITS {
        match by_id.get(id) {
            Some((method, template, _)) => {
                let row = ENDPOINT_LIMITS
                    .iter()
                    .find(|(m, t, _, _)| m == method && t == template)
                    .unwrap_or_else(|| panic!("{id} has no documented limit"));
                assert_eq!(row.2, *limit, "{id}");
            }
            // Subscriptions (alpha) are not in the migration's schema: 5 a minute.
            None => assert_eq!(*limit, 5, "{id}"),
        }
    }
    for (method, template, limit, window) in ENDPOINT_LIMITS {
        if let Some((id, _)) = by_id
            .iter()
            .find(|(_, (m, t, _))| m == method && t == template)
            && *window == Duration::from_secs(60)
            && !template.starts_with("/regulations")
        {
            let ours = RATE_LIMITS.iter().find(|(i, _)| i == id);
            assert_eq!(ours.map(|(_, l)| *l), Some(*limit), "{id}");
        }
    }
}

#[test]
fn write_bodies_match_the_request_schemas() {
    let contract = Contract::load();
    let v1 = "application/vnd.segment.v1+json";
    let mut settings = Map::new();
    settings.insert("apiKey".into(), json!("k"));
    let bodies = [
        (
            "POST /sources",
            serde_json::to_value(NewSource {
                slug: "web".into(),
                metadata_id: "IqDTy1TpoU".into(),
                enabled: true,
                settings: Some(Settings(settings.clone())),
            })
            .unwrap(),
        ),
        (
            "PATCH /sources/{sourceId}",
            serde_json::to_value(SourceUpdate {
                name: Some("Web".into()),
                enabled: Some(false),
                settings: None,
            })
            .unwrap(),
        ),
        (
            "POST /labels",
            json!({"label": Label { key: "env".into(), value: "prod".into(), description: None }}),
        ),
        (
            "PUT /sources/{sourceId}/labels",
            json!({"labels": [Label { key: "env".into(), value: "prod".into(), description: Some("d".into()) }]}),
        ),
        (
            "POST /destinations",
            serde_json::to_value(NewDestination {
                source_id: "s".into(),
                metadata_id: "m".into(),
                name: Some("n".into()),
                enabled: false,
                settings: Settings(settings),
            })
            .unwrap(),
        ),
        (
            "POST /destination/{destinationId}/filters",
            serde_json::to_value(NewFilter {
                source_id: "s".into(),
                condition: "all".into(),
                title: "t".into(),
                description: None,
                enabled: true,
                actions: vec![json!({"type": "DROP"})],
            })
            .unwrap(),
        ),
        (
            "POST /tracking-plans",
            serde_json::to_value(NewTrackingPlan {
                name: "p".into(),
                description: None,
                plan_type: "LIVE".into(),
            })
            .unwrap(),
        ),
        (
            "POST /functions",
            serde_json::to_value(NewFunction {
                code: "c".into(),
                settings: vec![],
                display_name: "f".into(),
                logo_url: None,
                resource_type: FunctionType::Source,
                description: None,
            })
            .unwrap(),
        ),
    ];
    for (op, body) in bodies {
        let schema = contract.request_schema(op, v1);
        assert!(schema.is_object(), "{op} has no v1 body");
        let errors = contract.errors(&schema, &body);
        assert!(errors.is_empty(), "{op}: {errors:?}");
    }
}

/// A server whose `POST /sources` answers `302 Found` to a same-origin path that answers a GET
/// with a source, as a moved API might. Counts the requests on that path by method.
async fn redirecting_server() -> (
    String,
    Arc<std::sync::Mutex<Vec<String>>>,
    tokio::task::JoinHandle<()>,
) {
    use axum::http::{Method, StatusCode, header};
    use axum::response::IntoResponse;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let app = axum::Router::new()
        .route(
            "/sources",
            axum::routing::post(|| async {
                (
                    StatusCode::FOUND,
                    [(header::LOCATION, "/moved/sources?k=v")],
                )
                    .into_response()
            }),
        )
        .route(
            "/moved/sources",
            axum::routing::any(move |method: Method| {
                let log = log.clone();
                async move {
                    log.lock().unwrap().push(method.to_string());
                    axum::Json(json!({"data": {"source": {"id": "not-created", "slug": "web"}}}))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, seen, task)
}

#[tokio::test]
async fn a_write_never_follows_a_redirect_which_would_turn_it_into_a_read() {
    let (base, seen, server) = redirecting_server().await;
    let client = PublicClient::new(settings_for(&base, TOKEN)).unwrap();
    let source = NewSource {
        slug: "web".into(),
        metadata_id: "m1".into(),
        enabled: false,
        settings: None,
    };
    let error = writer_of(&client).create_source(&source).await.unwrap_err();
    let chain = segbridge::diagnostics::chain(&error);
    assert!(chain.contains("302"), "{chain}");
    assert!(chain.contains("a redirect to `/moved/sources`"), "{chain}");
    assert!(!chain.contains("k=v"), "{chain}");
    // Following it would have sent a GET there and read its answer as the created source.
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
    server.abort();
}
