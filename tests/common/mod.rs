//! Shared helpers for the simulator tests: a small hand-made workspace whose every value is
//! known, and a way to send requests to a simulator in-process.
#![allow(dead_code)]

pub mod inspect;
pub mod outcome;
pub mod public;
pub mod report_files;
pub mod scaled;
pub mod sim_process;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use segbridge::sim::catalog::Catalog;
use segbridge::sim::clock::TimeScale;
use segbridge::sim::config::{self, ConfigOptions, ConfigStore, Scope, Token};
use segbridge::sim::faults::{FaultInjector, FaultSpec};
use segbridge::sim::server::SimContext;
use segbridge::sim::stats::RequestStats;
use segbridge::sim::workspace::*;

pub mod contract;

pub const RW_TOKEN: &str =
    "rwtokenrwtokenrwtokenrwtokenrwtokenrwtoken0.rwtokenrwtokenrwtokenrwtokenrwtokenrwtoken0";
pub const RO_TOKEN: &str =
    "rotokenrotokenrotokenrotokenrotokenrotoken0.rotokenrotokenrotokenrotokenrotokenrotoken0";
pub const WS: &str = "automated-testing-demo";
pub const WS_ID: &str = "jwt9cirmwq";
pub const SALESFORCE_PASSWORD: &str = "sf-secret-password-4711";
pub const FUNCTION_SECRET: &str = "fn-secret-api-key-0815";

/// A tracking plan fixture: a real Config API response captured by typewriter.
pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/config-api/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture exists"))
        .expect("fixture is JSON")
}

/// The tracking plan of a typewriter fixture, as the simulator's model.
pub fn plan_from_fixture(name: &str) -> TrackingPlan {
    let value = fixture(name);
    let plan_name = value["name"].as_str().unwrap();
    TrackingPlan {
        id: plan_name.rsplit('/').next().unwrap().to_owned(),
        display_name: value["display_name"].as_str().unwrap().to_owned(),
        rules: config::wire::parse_rules(&value["rules"]).unwrap(),
        source_slugs: vec![],
        create_time: value["create_time"].as_str().unwrap().to_owned(),
        update_time: value["update_time"].as_str().unwrap().to_owned(),
    }
}

fn ts(day: u32) -> String {
    format!("2020-03-{day:02}T10:00:00.000Z")
}

/// A workspace with one of everything, small enough to reason about in assertions.
pub fn small_workspace() -> Workspace {
    let mut plan = plan_from_fixture("tracking-plan.typewriter-example-with-identify.json");
    plan.source_slugs = vec!["js".into()];
    let filter = Filter {
        id: "df_1JjE7f3gz8OXU6lVbUGuDhHcyKl".into(),
        title: "Only allow track events".into(),
        description: "We don't need identify and page calls".into(),
        condition: "type != 'track'".into(),
        enabled: true,
        actions: vec![FilterAction::DropEvent],
    };
    let ga = Destination {
        slug: "google-analytics".into(),
        catalog_slug: "google-analytics".into(),
        instance_name: "Google Analytics".into(),
        enabled: true,
        connection_mode: ConnectionMode::Cloud,
        config: vec![("trackingId".into(), json!("UA-970334309-1"))],
        filters: vec![filter],
        delivery: DeliveryMetrics {
            delivered: 1200,
            not_delivered: 3,
            p95_latency_ms: 850,
        },
        create_time: ts(2),
        update_time: ts(3),
    };
    let ga2 = Destination {
        slug: "google-analytics-2".into(),
        instance_name: "Google Analytics (2)".into(),
        filters: vec![],
        ..ga.clone()
    };
    let salesforce = Destination {
        slug: "salesforce".into(),
        catalog_slug: "salesforce".into(),
        instance_name: "Salesforce".into(),
        enabled: false,
        connection_mode: ConnectionMode::Cloud,
        config: vec![
            ("username".into(), json!("ops@example.com")),
            ("password".into(), json!(SALESFORCE_PASSWORD)),
        ],
        filters: vec![],
        delivery: DeliveryMetrics {
            delivered: 0,
            not_delivered: 0,
            p95_latency_ms: 0,
        },
        create_time: ts(4),
        update_time: ts(4),
    };
    let js = Source {
        slug: "js".into(),
        id: "qQEHquLrjRDN9j1ByrChyn".into(),
        display_name: "Café Web".into(),
        catalog_slug: "javascript".into(),
        write_keys: vec!["LxKXARX9IuqR9v0gn7y2Fw1iHi0ephbF".into()],
        library_config: LibraryConfig {
            metrics_enabled: false,
            retry_queue: false,
            cross_domain_id_enabled: false,
            api_host: String::new(),
        },
        labels: vec![("environment".into(), "prod".into())],
        schema_config: SchemaConfig::default(),
        function_instance: None,
        destinations: vec![ga, ga2, salesforce],
        create_time: ts(1),
    };
    let function = Function {
        id: "sfnc_wXzcDGFR3KmjLDrtSawNHf".into(),
        kind: FunctionKind::Source,
        display_name: "My Source Function".into(),
        description: String::new(),
        code: "async function onRequest(request, settings) {}".into(),
        settings: vec![FunctionSetting {
            name: "apiKey".into(),
            label: "API Key".into(),
            kind: "string".into(),
            description: String::new(),
            required: false,
            sensitive: true,
        }],
        logo_url: String::new(),
        catalog_id: "5f0c3e4f8b1a2c0012345678".into(),
        created_at: ts(5),
        created_by: "u1".into(),
        deployed: true,
    };
    let webhook = Source {
        slug: "webhook".into(),
        id: "aQEHquLrjRDN9j1ByrChyn".into(),
        display_name: "東京 Webhook".into(),
        catalog_slug: "http-api".into(),
        write_keys: vec!["MxKXARX9IuqR9v0gn7y2Fw1iHi0ephbF".into()],
        labels: vec![],
        function_instance: Some(FunctionInstance {
            function_id: function.id.clone(),
            settings: vec![("apiKey".into(), json!(FUNCTION_SECRET))],
        }),
        destinations: vec![],
        ..js.clone()
    };
    let roles = vec![
        Role {
            id: "1Mc8DEHhMqqSkb5cPjtu9pAEyNf".into(),
            display_name: "Workspace Owner".into(),
            description: "Full access".into(),
        },
        Role {
            id: "2Mc8DEHhMqqSkb5cPjtu9pAEyNf".into(),
            display_name: "Source Admin".into(),
            description: "Manage sources".into(),
        },
    ];
    Workspace {
        slug: WS.into(),
        id: WS_ID.into(),
        display_name: "Automated Testing Demo".into(),
        create_time: "2018-08-08T13:24:02.651Z".into(),
        sources: vec![js, webhook],
        tracking_plans: vec![plan],
        functions: vec![function],
        users: vec![User {
            id: "u1".into(),
            email: "ana@example.com".into(),
            display_name: "Ana".into(),
        }],
        policies: vec![
            Policy {
                id: "p1".into(),
                role_id: roles[0].id.clone(),
                user_id: "u1".into(),
                resource: PolicyResource::Workspace,
            },
            Policy {
                id: "p2".into(),
                role_id: roles[1].id.clone(),
                user_id: "u1".into(),
                resource: PolicyResource::Source("js".into()),
            },
        ],
        roles,
        invites: vec![Invite {
            id: "i1".into(),
            email: "new@example.com".into(),
            grants: vec![(
                "2Mc8DEHhMqqSkb5cPjtu9pAEyNf".into(),
                PolicyResource::Source("js".into()),
            )],
            create_time: ts(6),
            expire_time: ts(13),
        }],
        access_tokens: vec![AccessToken {
            number: 5,
            description: "ci".into(),
            scopes: "workspace".into(),
            create_time: ts(7),
        }],
    }
}

pub fn tokens() -> Vec<Token> {
    vec![
        Token {
            secret: RW_TOKEN.into(),
            scope: Scope::ReadWrite,
            access_token: None,
        },
        Token {
            secret: RO_TOKEN.into(),
            scope: Scope::ReadOnly,
            access_token: None,
        },
    ]
}

/// The Config simulator as an in-process service over `workspaces`.
pub fn config_app_with(workspaces: Vec<Workspace>, options: ConfigOptions) -> Router {
    let store = ConfigStore::new(Catalog::embedded(), workspaces, tokens());
    let stats = std::sync::Arc::new(RequestStats::new());
    let faults = std::sync::Arc::new(FaultInjector::new(
        FaultSpec::default(),
        TimeScale::default(),
        1,
    ));
    let sim = config::new_sim(
        store,
        options,
        std::time::Duration::from_secs(60),
        stats.clone(),
    );
    let ctx = SimContext {
        api: "config",
        faults,
        stats,
        scale: TimeScale::default(),
        error_response: config::error_response,
        rate_limited_response: config::rate_limited_response,
        outage_response: config::outage_response,
    };
    config::app(sim, ctx)
}

pub fn config_app() -> Router {
    config_app_with(vec![small_workspace()], ConfigOptions::default())
}

/// A response as a test sees it.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Asserts an error answer with the documented status and gRPC code.
    pub fn assert_error(&self, status: u16, code: u64) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(self.json()["code"], json!(code), "{}", self.text);
        assert!(self.json()["error"].is_string(), "{}", self.text);
    }
}

pub async fn send(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    send_raw(app, method, uri, token, body.map(|b| b.to_string())).await
}

pub async fn send_raw(
    app: &Router,
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let request = request
        .header("content-type", "application/json")
        .body(body.map_or_else(Body::empty, Body::from))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

pub async fn get(app: &Router, uri: &str) -> Reply {
    send(app, "GET", uri, Some(RW_TOKEN), None).await
}

// ---- the Public simulator -----------------------------------------------------------------

pub const PUBLIC_TOKEN: &str = "sgp_testtokentesttokentesttokentesttokentesttokentesttokentestto";

/// The Public simulator as an in-process service over `store`.
pub fn public_app_with(
    store: segbridge::sim::public::PublicStore,
    options: segbridge::sim::public::PublicOptions,
) -> Router {
    use segbridge::sim::public;
    let stats = std::sync::Arc::new(RequestStats::new());
    let faults = std::sync::Arc::new(FaultInjector::new(
        FaultSpec::default(),
        TimeScale::default(),
        1,
    ));
    let sim = public::new_sim(
        store,
        PUBLIC_TOKEN.into(),
        options,
        TimeScale::default(),
        stats.clone(),
    );
    let ctx = SimContext {
        api: "public",
        faults,
        stats,
        scale: TimeScale::default(),
        error_response: public::error_response,
        rate_limited_response: public::rate_limited_response,
        outage_response: public::outage_response,
    };
    public::app(sim, ctx)
}

/// The Public simulator started as `target` from [`small_workspace`].
pub fn public_app(target: segbridge::sim::public::Target) -> Router {
    let store = segbridge::sim::public::seed::seed(target, &small_workspace(), Catalog::embedded());
    public_app_with(store, Default::default())
}

/// A Public API request with explicit headers (`None` leaves a header out).
pub async fn public_send(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<String>,
    headers: &[(&str, &str)],
) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(body.map_or_else(Body::empty, Body::from))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}
