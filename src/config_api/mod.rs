//! The Config API (v1beta) client: typed reads of every resource a migration exports, returned
//! as the raw objects the API sent.
//!
//! Invariants:
//! - **Read-only by construction.** There is no write method, and the transport underneath can
//!   only GET ([`crate::http::transport`]); the tests run every method against the simulator and
//!   check that it received no write.
//! - **Bodies are kept as sent.** Objects are the API's own JSON text ([`RawObject::body`]),
//!   checked to be JSON but not parsed into values: the client reads only what it needs to name
//!   them and to page, and whoever reads an object parses what it reads.
//! - **Keys are the Config API's names** ([`RawObject::name`]): the `name` field; functions,
//!   which have none, by `id`; tracking-plan source connections, which have neither, as
//!   `{tracking_plan_name}/source-connections/{source_slug}`; delivery summaries by the
//!   destination's name, which is their `name`.
//! - **Paths cannot be redirected by data.** Slugs and ids are appended as percent-encoded path
//!   segments, so a `/`, `?`, `#` or space inside one stays inside it; empty and dot segments,
//!   which URL resolution would remove, are refused before anything is sent.
//! - **Never imports the simulator.** Wire types are private (the `wire` module) and held to
//!   the API by this client's own fixtures and by tests against the simulator over HTTP.
//!
//! Lists page with `page_size=100`, the largest page the API is known to serve (Segment's own
//! scripts use it): fewer requests under a 200-per-minute limit. Tracking plans, which carry
//! their rules, page two at a time ([`TRACKING_PLANS_PAGE_SIZE`]) to keep a page small.
//! Requests are paced under that limit and retried by [`crate::http::Transport`].

mod error;
mod pages;
pub(crate) mod wire;

use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

pub use self::error::{ConfigApiError, Detail};
pub use self::pages::{Page, Pages};
pub use self::wire::WireError;
use crate::http::limit::{Clock, RateLimiter, SystemClock};
use crate::http::observe::{HttpMetrics, HttpObserver};
use crate::http::retry::RetryPolicy;
use crate::http::secret::Secret;
use crate::http::transport::{BuildError, Transport, TransportSettings};
use crate::http::{ClientSettings, Endpoint};
pub use crate::model::{Granularity, MetricsWindow};

/// The only documented host of the Config API.
pub const DEFAULT_BASE_URL: &str = "https://platform.segmentapis.com";

/// The path segment of the API version, added to the base URL unless it is already there.
pub const VERSION: &str = "v1beta";

/// Items per list page: the largest the API is known to accept.
pub const PAGE_SIZE: u32 = 100;

/// Tracking plans per list page. Each carries all its rules (hundreds, each with a JSON Schema),
/// so a page of [`PAGE_SIZE`] plans is tens of megabytes, all of it held parsed at once by
/// whoever reads the page. A page of ten plans of the `large` preset is 1.9 MB of JSON and
/// was still the export's peak, 21 MB live while parsed and stored; two to a page, 11 MB. One
/// request per two plans: 30 requests for the 60 plans of `large`, in an export of 5,000.
pub const TRACKING_PLANS_PAGE_SIZE: u32 = 2;

/// The documented limit: 200 requests per minute per token.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 200;

/// The longest URL a batch request may have. Common gateways refuse request lines over 8 KB
/// (nginx's default header buffer), so batches stop well short of that.
pub const MAX_URL_BYTES: usize = 6 * 1024;

/// The name observers and messages know this API by.
pub const API: &str = "config";

/// The endpoints this client reads, as errors, metrics and observers name them.
pub mod endpoints {
    use crate::http::Endpoint;

    pub const WORKSPACES: Endpoint = Endpoint::get("/v1beta/workspaces");
    pub const WORKSPACE: Endpoint = Endpoint::get("/v1beta/workspaces/{ws}");
    pub const ACCESS_TOKENS: Endpoint = Endpoint::get("/v1beta/access-tokens");
    pub const CATALOG_SOURCES: Endpoint = Endpoint::get("/v1beta/catalog/sources");
    pub const CATALOG_SOURCE: Endpoint = Endpoint::get("/v1beta/catalog/sources/{slug}");
    pub const CATALOG_DESTINATIONS: Endpoint = Endpoint::get("/v1beta/catalog/destinations");
    pub const CATALOG_DESTINATION: Endpoint = Endpoint::get("/v1beta/catalog/destinations/{slug}");
    pub const SOURCES: Endpoint = Endpoint::get("/v1beta/workspaces/{ws}/sources");
    pub const SOURCE: Endpoint = Endpoint::get("/v1beta/workspaces/{ws}/sources/{src}");
    pub const SCHEMA_CONFIG: Endpoint =
        Endpoint::get("/v1beta/workspaces/{ws}/sources/{src}/schema-config");
    pub const DESTINATIONS: Endpoint =
        Endpoint::get("/v1beta/workspaces/{ws}/sources/{src}/destinations");
    pub const DESTINATION: Endpoint =
        Endpoint::get("/v1beta/workspaces/{ws}/sources/{src}/destinations/{dst}");
    pub const FILTERS: Endpoint =
        Endpoint::get("/v1beta/workspaces/{ws}/sources/{src}/destinations/{dst}/filters");
    pub const FILTER: Endpoint =
        Endpoint::get("/v1beta/workspaces/{ws}/sources/{src}/destinations/{dst}/filters/{id}");
    pub const DELIVERY_SUMMARY: Endpoint = Endpoint::get(
        "/v1beta/workspaces/{ws}/sources/{src}/destinations/{dst}/metrics:getSummary",
    );
    pub const DELIVERY_SUMMARIES: Endpoint =
        Endpoint::get("/v1beta/workspaces/{ws}/event-delivery-metrics:batchGetSummary");
    pub const DELIVERY_SERIES_LIST: Endpoint =
        Endpoint::get("/v1beta/workspaces/{ws}/sources/{src}/destinations/{dst}/metrics");
    pub const DELIVERY_SERIES: Endpoint =
        Endpoint::get("/v1beta/workspaces/{ws}/sources/{src}/destinations/{dst}/metrics/{metric}");
    pub const TRACKING_PLANS: Endpoint = Endpoint::get("/v1beta/workspaces/{ws}/tracking-plans");
    pub const TRACKING_PLAN: Endpoint =
        Endpoint::get("/v1beta/workspaces/{ws}/tracking-plans/{tp}");
    pub const SOURCE_CONNECTIONS: Endpoint =
        Endpoint::get("/v1beta/workspaces/{ws}/tracking-plans/{tp}/source-connections");
    pub const ROLES: Endpoint = Endpoint::get("/v1beta/workspaces/{ws}/roles");
    pub const POLICIES: Endpoint = Endpoint::get("/v1beta/workspaces/{ws}/roles/-/policies");
    pub const INVITES: Endpoint = Endpoint::get("/v1beta/workspaces/{ws}/invites");
    pub const USERS: Endpoint = Endpoint::get("/v1beta/workspaces/{ws}/users");
    pub const FUNCTIONS: Endpoint = Endpoint::get("/v1beta/workspaces/{ws_id}/functions");
    pub const FUNCTION: Endpoint = Endpoint::get("/v1beta/workspaces/{ws_id}/functions/{id}");
}

/// Everything a [`ConfigClient`] is made from. [`ConfigClientSettings::new`] fills in the
/// documented defaults.
#[derive(Clone)]
pub struct ConfigClientSettings {
    /// The API's root; `/v1beta` is added unless the path already ends with it.
    pub base_url: Url,
    pub token: Secret,
    /// The limit to stay under (0: no pacing).
    pub requests_per_minute: u32,
    pub retry: RetryPolicy,
    /// Time for a whole request, body included.
    pub timeout: Duration,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    pub observer: Option<Arc<dyn HttpObserver>>,
    /// The limiter's time: real time, or [`crate::http::ScaledClock`] to pace against a
    /// simulator whose minutes are shorter.
    pub clock: Arc<dyn Clock>,
    /// The most pages one list may have before it is stopped as a runaway
    /// ([`crate::http::pages::MAX_PAGES`]; tests lower it).
    pub max_pages: usize,
}

impl ConfigClientSettings {
    pub fn new(token: Secret) -> Self {
        let client = ClientSettings::default();
        Self {
            base_url: Url::parse(DEFAULT_BASE_URL).expect("the default base URL parses"),
            token,
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            retry: RetryPolicy::default(),
            timeout: client.timeout,
            connect_timeout: client.connect_timeout,
            observer: None,
            clock: Arc::new(SystemClock::new()),
            max_pages: crate::http::pages::MAX_PAGES,
        }
    }
}

impl fmt::Debug for ConfigClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigClientSettings")
            .field("base_url", &self.base_url.as_str())
            .field("token", &self.token)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("observer", &self.observer.as_ref().map(|_| "set"))
            .field("clock", &self.clock)
            .field("max_pages", &self.max_pages)
            .finish()
    }
}

/// One object as the API sent it, with the key it is stored under.
#[derive(Clone)]
pub struct RawObject {
    /// The Config API name (see the module doc for the kinds that have none).
    pub name: String,
    /// The object's text, verbatim as the API sent it: read by whoever needs it, so that a
    /// page of objects waits to be stored as text rather than as a tree of values several
    /// times its size.
    pub body: Box<RawValue>,
}

impl RawObject {
    /// The last segment of the name: a source's or destination's slug, a tracking plan's or
    /// filter's id, a function's id.
    pub fn slug(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }

    /// A string field of the body (`id`, `display_name`), read in either spelling.
    pub fn str_field(&self, snake: &str) -> Option<String> {
        wire::text_field(&self.body, snake)
    }

    /// The body parsed (`null` should it not parse, which the client has checked it does).
    pub fn value(&self) -> Value {
        serde_json::from_str(self.body.get()).unwrap_or(Value::Null)
    }
}

/// Equal names and equal texts.
impl PartialEq for RawObject {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.body.get() == other.body.get()
    }
}

/// Shows the name and the body's keys, never its values: bodies hold secret settings.
impl fmt::Debug for RawObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = serde_json::from_str::<Map<String, Value>>(self.body.get())
            .map(|o| o.into_iter().map(|(key, _)| key).collect())
            .unwrap_or_default();
        f.debug_struct("RawObject")
            .field("name", &self.name)
            .field("keys", &keys)
            .finish()
    }
}

/// The two kinds of function, listed separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    Source,
    Destination,
}

impl FunctionKind {
    pub const ALL: [Self; 2] = [Self::Source, Self::Destination];

    /// The `type` query value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "SOURCE",
            Self::Destination => "DESTINATION",
        }
    }
}

/// The Config API's spelling of a metrics window (`start_time`, `end_time`, `granularity`).
fn window_query(window: Option<&MetricsWindow>) -> Vec<(&'static str, String)> {
    let Some(w) = window else {
        return Vec::new();
    };
    vec![
        ("start_time", MetricsWindow::format_time(w.start)),
        ("end_time", MetricsWindow::format_time(w.end)),
        ("granularity", w.granularity.as_str().to_owned()),
    ]
}

/// How the objects of an answer are keyed.
#[derive(Debug, Clone)]
enum Key {
    Name,
    Id,
    /// `{plan_name}/source-connections/{source_slug}`.
    Connection {
        plan_name: String,
    },
}

/// One request, described well enough to send it again (the next page) and to explain it.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    endpoint: Endpoint,
    segments: Vec<String>,
    query: Vec<(&'static str, String)>,
    /// The workspace as messages name it, when a 404 here can only mean it does not exist.
    workspace: Option<String>,
    key: Key,
    /// The snake_case key of a list's items.
    plural: &'static str,
    /// Items per page of a list.
    page_size: u32,
    /// The key of a single object that does not carry one, by the request's own path.
    fallback: Option<String>,
    /// The listed objects are named one segment below the request's path (see
    /// [`wire::check_name`]).
    children: bool,
}

impl Request {
    fn new(endpoint: Endpoint, segments: &[&str]) -> Self {
        Self {
            endpoint,
            segments: segments.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            workspace: None,
            key: Key::Name,
            plural: "",
            page_size: PAGE_SIZE,
            fallback: None,
            children: false,
        }
    }

    fn page_size(mut self, page_size: u32) -> Self {
        self.page_size = page_size;
        self
    }

    /// The items of this list are named `{path}/{slug}`.
    fn children(mut self) -> Self {
        self.children = true;
        self
    }

    fn list(mut self, plural: &'static str) -> Self {
        self.plural = plural;
        self
    }

    fn key(mut self, key: Key) -> Self {
        self.key = key;
        self
    }

    fn query(mut self, pairs: Vec<(&'static str, String)>) -> Self {
        self.query.extend(pairs);
        self
    }

    /// A 404 from this request means the workspace `slug` does not exist.
    fn in_workspace(mut self, slug: &str) -> Self {
        self.workspace = Some(format!("`{slug}`"));
        self
    }

    /// A 404 from this request means the workspace with this id does not exist.
    fn in_workspace_id(mut self, id: &str) -> Self {
        self.workspace = Some(format!("with id `{id}`"));
        self
    }

    /// A single object is keyed by its path when it does not name itself.
    fn named_by_path(mut self) -> Self {
        self.fallback = Some(self.resource());
        self
    }

    fn keyed_by(mut self, fallback: &str) -> Self {
        self.fallback = Some(fallback.to_owned());
        self
    }

    /// The concrete path below `/v1beta`, for messages: `workspaces/acme/sources/js`.
    pub(crate) fn resource(&self) -> String {
        self.segments.join("/")
    }

    fn decode_error(&self, source: WireError) -> ConfigApiError {
        ConfigApiError::Decode {
            endpoint: self.endpoint,
            resource: self.resource(),
            source,
        }
    }

    /// Names one object of the answer.
    fn object(&self, body: &RawValue, fallback: Option<&str>) -> Result<RawObject, WireError> {
        if !body.get().starts_with('{') {
            return Err(WireError::NotAnObject);
        }
        let named = |field: &'static str| {
            wire::text_field(body, field)
                .or_else(|| fallback.map(str::to_owned))
                .ok_or(WireError::MissingKey { field })
        };
        let name = match &self.key {
            Key::Name => named("name")?,
            Key::Id => named("id")?,
            Key::Connection { plan_name } => {
                let source =
                    wire::text_field(body, "source_name").ok_or(WireError::MissingKey {
                        field: "source_name",
                    })?;
                let slug = source.rsplit('/').next().unwrap_or(&source);
                format!("{plan_name}/source-connections/{slug}")
            }
        };
        // A single object named by its own path was already checked as segments by `fetch`.
        let parent = self.children.then(|| self.resource());
        wire::check_name(&name, parent.as_deref())?;
        Ok(RawObject {
            name,
            body: body.to_owned(),
        })
    }
}

/// The rate limiter of the clients of this process that use `token` on the API at `base_url`
/// with the limit `per_minute`: one for all of them while any lives. The API counts requests per
/// token, so clients pacing apart would together go over the limit and be answered 429; that is
/// what happened when `migrate` read the source for its audit while `apply` read secrets again.
fn shared_limiter(
    base_url: &Url,
    token: &Secret,
    per_minute: u32,
    clock: Arc<dyn Clock>,
) -> Arc<RateLimiter> {
    type Limiters = Vec<(String, u32, Weak<RateLimiter>)>;
    static LIMITERS: Mutex<Limiters> = Mutex::new(Vec::new());
    // The token only as a digest: the table outlives the clients.
    let digest = Sha256::digest(token.dangerously_expose().as_bytes());
    let key = format!("{base_url} {}", crate::secrets::hex(&digest));
    let mut limiters = LIMITERS.lock().unwrap_or_else(|e| e.into_inner());
    limiters.retain(|(_, _, limiter)| limiter.strong_count() > 0);
    let alive = limiters
        .iter()
        .filter(|(k, rate, _)| *k == key && *rate == per_minute)
        .find_map(|(_, _, limiter)| limiter.upgrade());
    alive.unwrap_or_else(|| {
        let limiter = Arc::new(RateLimiter::with_clock(per_minute, clock));
        limiters.push((key, per_minute, Arc::downgrade(&limiter)));
        limiter
    })
}

/// A Config API client. Cheap to clone; clones share the connection pool, the rate limiter and
/// the metrics, so a whole export stays under one limit however many tasks use it. Clients
/// made apart for one URL and token share the rate limiter too (`shared_limiter`).
#[derive(Clone, Debug)]
pub struct ConfigClient {
    transport: Transport,
    max_pages: usize,
}

impl ConfigClient {
    pub fn new(settings: ConfigClientSettings) -> Result<Self, BuildError> {
        crate::http::client::validate_base_url(&settings.base_url)?;
        let mut base_url = settings.base_url;
        let has_version = base_url
            .path_segments()
            .and_then(|mut segments| segments.rfind(|s| !s.is_empty()))
            == Some(VERSION);
        if !has_version && let Ok(mut path) = base_url.path_segments_mut() {
            path.pop_if_empty().push(VERSION);
        }
        let limiter = shared_limiter(
            &base_url,
            &settings.token,
            settings.requests_per_minute,
            settings.clock,
        );
        let transport = Transport::new(TransportSettings {
            api: API,
            base_url,
            token: settings.token,
            client: ClientSettings {
                connect_timeout: settings.connect_timeout,
                timeout: settings.timeout,
            },
            retry: settings.retry,
            limiter,
            metrics: Arc::new(HttpMetrics::new()),
            observer: settings.observer,
            // The Config API says how long to wait in `Retry-After` only.
            wait_from_body: None,
        })?;
        Ok(Self {
            transport,
            max_pages: settings.max_pages,
        })
    }

    /// The counters of every request made by this client and its clones.
    pub fn metrics(&self) -> Arc<HttpMetrics> {
        self.transport.metrics()
    }

    /// The `…/v1beta` URL requests go to.
    pub fn base_url(&self) -> &Url {
        self.transport.base_url()
    }

    /// The body of the answer to `request`, as it came (its callers check that it is JSON).
    async fn fetch(
        &self,
        request: &Request,
        page_token: Option<&str>,
    ) -> Result<Vec<u8>, ConfigApiError> {
        let segments: Vec<&str> = request.segments.iter().map(String::as_str).collect();
        // Percent-encoding keeps `/`, `?` and `#` inside a segment, but an empty segment or a dot
        // segment is resolved by URL parsers and servers alike, so they are refused instead.
        if let Some(bad) = segments.iter().find(|s| matches!(**s, "" | "." | "..")) {
            return Err(ConfigApiError::InvalidSegment {
                endpoint: request.endpoint,
                segment: (*bad).to_owned(),
            });
        }
        let mut url = self.transport.url(&segments);
        let paged = !request.plural.is_empty();
        if paged || !request.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in &request.query {
                pairs.append_pair(key, value);
            }
            if paged {
                pairs.append_pair("page_size", &request.page_size.to_string());
                if let Some(token) = page_token {
                    pairs.append_pair("page_token", token);
                }
            }
        }
        let response = self
            .transport
            .get(&request.endpoint, url)
            .await
            .map_err(|source| {
                ConfigApiError::from_http(
                    request.endpoint,
                    request.resource(),
                    request.workspace.as_deref(),
                    source,
                )
            })?;
        Ok(response.body)
    }

    /// One page of a list: its objects and the next cursor.
    pub(crate) async fn fetch_page(
        &self,
        request: &Request,
        page_token: Option<&str>,
    ) -> Result<(Vec<RawObject>, Option<String>), ConfigApiError> {
        let body = self.fetch(request, page_token).await?;
        let page = wire::json_text(&body)
            .and_then(|body| wire::page_text(body, request.plural))
            .map_err(|e| request.decode_error(e))?;
        let objects = page
            .items
            .into_iter()
            .map(|item| request.object(item, None))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| request.decode_error(e))?;
        Ok((objects, page.next_page_token))
    }

    async fn get_object(&self, request: Request) -> Result<RawObject, ConfigApiError> {
        let body = self.fetch(&request, None).await?;
        wire::json_text(&body)
            .and_then(|body| request.object(body, request.fallback.as_deref()))
            .map_err(|e| request.decode_error(e))
    }

    /// A single object inside a wrapper (`{"summary": {...}}`).
    async fn get_wrapped(
        &self,
        request: Request,
        wrapper: &'static str,
    ) -> Result<RawObject, ConfigApiError> {
        let body = self.fetch(&request, None).await?;
        wire::json_text(&body)
            .and_then(|body| wire::unwrap_text(body, wrapper))
            .and_then(|inner| request.object(inner, request.fallback.as_deref()))
            .map_err(|e| request.decode_error(e))
    }

    /// A list that is not paged (`{"metrics": [...]}`).
    async fn get_list(
        &self,
        request: Request,
        plural: &'static str,
    ) -> Result<Vec<RawObject>, ConfigApiError> {
        let body = self.fetch(&request, None).await?;
        wire::json_text(&body)
            .and_then(|body| wire::list_text(body, plural))
            .and_then(|items| {
                items
                    .into_iter()
                    .map(|item| request.object(item, None))
                    .collect()
            })
            .map_err(|e| request.decode_error(e))
    }

    fn pages(&self, request: Request) -> Pages {
        pages::walk(self.clone(), request)
    }

    // Workspaces.

    /// `GET /workspaces`: every workspace the token can see.
    pub fn list_workspaces(&self) -> Pages {
        self.pages(
            Request::new(endpoints::WORKSPACES, &["workspaces"])
                .list("workspaces")
                .children(),
        )
    }

    /// `GET /workspaces/{ws}`.
    pub async fn get_workspace(&self, workspace: &str) -> Result<RawObject, ConfigApiError> {
        let request = Request::new(endpoints::WORKSPACE, &["workspaces", workspace])
            .in_workspace(workspace)
            .named_by_path();
        self.get_object(request).await
    }

    // Access tokens.

    /// `GET /access-tokens`: the token records (never the token values).
    pub fn list_access_tokens(&self) -> Pages {
        self.pages(
            Request::new(endpoints::ACCESS_TOKENS, &["access-tokens"])
                .list("access_tokens")
                .children(),
        )
    }

    // Catalogs.

    /// `GET /catalog/sources`.
    pub fn list_catalog_sources(&self) -> Pages {
        self.pages(
            Request::new(endpoints::CATALOG_SOURCES, &["catalog", "sources"])
                .list("sources")
                .children(),
        )
    }

    /// `GET /catalog/sources/{slug}`.
    pub async fn get_catalog_source(&self, slug: &str) -> Result<RawObject, ConfigApiError> {
        let request =
            Request::new(endpoints::CATALOG_SOURCE, &["catalog", "sources", slug]).named_by_path();
        self.get_object(request).await
    }

    /// `GET /catalog/destinations`.
    pub fn list_catalog_destinations(&self) -> Pages {
        self.pages(
            Request::new(
                endpoints::CATALOG_DESTINATIONS,
                &["catalog", "destinations"],
            )
            .list("destinations")
            .children(),
        )
    }

    /// `GET /catalog/destinations/{slug}`.
    pub async fn get_catalog_destination(&self, slug: &str) -> Result<RawObject, ConfigApiError> {
        let request = Request::new(
            endpoints::CATALOG_DESTINATION,
            &["catalog", "destinations", slug],
        )
        .named_by_path();
        self.get_object(request).await
    }

    // Sources.

    /// `GET /workspaces/{ws}/sources`.
    pub fn list_sources(&self, workspace: &str) -> Pages {
        self.pages(
            Request::new(endpoints::SOURCES, &["workspaces", workspace, "sources"])
                .in_workspace(workspace)
                .list("sources")
                .children(),
        )
    }

    /// `GET /workspaces/{ws}/sources/{src}`.
    pub async fn get_source(
        &self,
        workspace: &str,
        source: &str,
    ) -> Result<RawObject, ConfigApiError> {
        let request = Request::new(
            endpoints::SOURCE,
            &["workspaces", workspace, "sources", source],
        )
        .named_by_path();
        self.get_object(request).await
    }

    /// `GET /workspaces/{ws}/sources/{src}/schema-config`: the source's Protocols settings. A
    /// workspace without Protocols may answer 404 ([`ConfigApiError::is_not_found`]).
    pub async fn get_schema_config(
        &self,
        workspace: &str,
        source: &str,
    ) -> Result<RawObject, ConfigApiError> {
        let request = Request::new(
            endpoints::SCHEMA_CONFIG,
            &["workspaces", workspace, "sources", source, "schema-config"],
        )
        .named_by_path();
        self.get_object(request).await
    }

    // Destinations and their filters.

    /// `GET /workspaces/{ws}/sources/{src}/destinations`.
    pub fn list_destinations(&self, workspace: &str, source: &str) -> Pages {
        self.pages(
            Request::new(
                endpoints::DESTINATIONS,
                &["workspaces", workspace, "sources", source, "destinations"],
            )
            .list("destinations")
            .children(),
        )
    }

    /// `GET /workspaces/{ws}/sources/{src}/destinations/{dst}`.
    pub async fn get_destination(
        &self,
        workspace: &str,
        source: &str,
        destination: &str,
    ) -> Result<RawObject, ConfigApiError> {
        let request = Request::new(
            endpoints::DESTINATION,
            &destination_path(workspace, source, destination),
        )
        .named_by_path();
        self.get_object(request).await
    }

    /// `GET {destination}/filters`.
    pub fn list_filters(&self, workspace: &str, source: &str, destination: &str) -> Pages {
        let mut path = destination_path(workspace, source, destination).to_vec();
        path.push("filters");
        self.pages(
            Request::new(endpoints::FILTERS, &path)
                .list("filters")
                .children(),
        )
    }

    /// `GET {destination}/filters/{id}`.
    pub async fn get_filter(
        &self,
        workspace: &str,
        source: &str,
        destination: &str,
        filter_id: &str,
    ) -> Result<RawObject, ConfigApiError> {
        let mut path = destination_path(workspace, source, destination).to_vec();
        path.extend(["filters", filter_id]);
        self.get_object(Request::new(endpoints::FILTER, &path).named_by_path())
            .await
    }

    // Event delivery metrics.

    /// `GET {destination}/metrics:getSummary`: delivered, not delivered and p95 latency of one
    /// destination, keyed by the destination's name.
    pub async fn get_delivery_summary(
        &self,
        workspace: &str,
        source: &str,
        destination: &str,
        window: Option<&MetricsWindow>,
    ) -> Result<RawObject, ConfigApiError> {
        let mut path = destination_path(workspace, source, destination).to_vec();
        let name = path.join("/");
        path.push("metrics:getSummary");
        let request = Request::new(endpoints::DELIVERY_SUMMARY, &path)
            .query(window_query(window))
            .keyed_by(&name);
        self.get_wrapped(request, "summary").await
    }

    /// `GET /workspaces/{ws}/event-delivery-metrics:batchGetSummary?names=…`: the summaries of
    /// many destinations (given by name, `workspaces/{ws}/sources/{src}/destinations/{dst}`),
    /// in as few requests as URLs of at most [`MAX_URL_BYTES`] allow. A destination without
    /// metrics (device-mode ones have none) may be missing from the answer.
    pub async fn batch_delivery_summaries(
        &self,
        workspace: &str,
        destination_names: &[String],
        window: Option<&MetricsWindow>,
    ) -> Result<Vec<RawObject>, ConfigApiError> {
        let segments = [
            "workspaces",
            workspace,
            "event-delivery-metrics:batchGetSummary",
        ];
        let base = Request::new(endpoints::DELIVERY_SUMMARIES, &segments)
            .in_workspace(workspace)
            .query(window_query(window));
        let mut url = self.transport.url(&segments);
        if !base.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&base.query);
        }
        let fixed = url.as_str().len();
        let mut summaries = Vec::new();
        for batch in batches(destination_names, fixed, MAX_URL_BYTES) {
            let pairs = batch.iter().map(|n| ("names", (*n).clone())).collect();
            let request = base.clone().query(pairs);
            summaries.extend(self.get_list(request, "summaries").await?);
        }
        Ok(summaries)
    }

    /// `GET {destination}/metrics`: every delivery time series of a destination, keyed by
    /// series name (`{destination}/metrics/{metric}`).
    pub async fn list_delivery_series(
        &self,
        workspace: &str,
        source: &str,
        destination: &str,
        window: Option<&MetricsWindow>,
    ) -> Result<Vec<RawObject>, ConfigApiError> {
        let mut path = destination_path(workspace, source, destination).to_vec();
        path.push("metrics");
        let request =
            Request::new(endpoints::DELIVERY_SERIES_LIST, &path).query(window_query(window));
        self.get_list(request, "metrics").await
    }

    /// `GET {destination}/metrics/{metric}`: one time series (`successes`, `retried_502`,
    /// `time_to_success_p95`).
    pub async fn get_delivery_series(
        &self,
        workspace: &str,
        source: &str,
        destination: &str,
        metric: &str,
        window: Option<&MetricsWindow>,
    ) -> Result<RawObject, ConfigApiError> {
        let mut path = destination_path(workspace, source, destination).to_vec();
        path.extend(["metrics", metric]);
        let request = Request::new(endpoints::DELIVERY_SERIES, &path)
            .query(window_query(window))
            .named_by_path();
        self.get_object(request).await
    }

    // Tracking plans.

    /// `GET /workspaces/{ws}/tracking-plans`. The items include the rules.
    pub fn list_tracking_plans(&self, workspace: &str) -> Pages {
        self.pages(
            Request::new(
                endpoints::TRACKING_PLANS,
                &["workspaces", workspace, "tracking-plans"],
            )
            .in_workspace(workspace)
            .list("tracking_plans")
            .page_size(TRACKING_PLANS_PAGE_SIZE)
            .children(),
        )
    }

    /// `GET /workspaces/{ws}/tracking-plans/{rs_id}`.
    pub async fn get_tracking_plan(
        &self,
        workspace: &str,
        plan_id: &str,
    ) -> Result<RawObject, ConfigApiError> {
        let request = Request::new(
            endpoints::TRACKING_PLAN,
            &["workspaces", workspace, "tracking-plans", plan_id],
        )
        .named_by_path();
        self.get_object(request).await
    }

    /// `GET /workspaces/{ws}/tracking-plans/{rs_id}/source-connections`, keyed
    /// `{plan_name}/source-connections/{source_slug}`.
    pub fn list_source_connections(&self, workspace: &str, plan_id: &str) -> Pages {
        let plan = ["workspaces", workspace, "tracking-plans", plan_id];
        let plan_name = plan.join("/");
        let mut path = plan.to_vec();
        path.push("source-connections");
        self.pages(
            Request::new(endpoints::SOURCE_CONNECTIONS, &path)
                .key(Key::Connection { plan_name })
                .list("connections"),
        )
    }

    // IAM.

    /// `GET /workspaces/{ws}/roles`.
    pub fn list_roles(&self, workspace: &str) -> Pages {
        self.workspace_list(endpoints::ROLES, workspace, &["roles"], "roles")
    }

    /// `GET /workspaces/{ws}/roles/-/policies`: the policies of every role.
    pub fn list_policies(&self, workspace: &str) -> Pages {
        self.workspace_list(
            endpoints::POLICIES,
            workspace,
            &["roles", "-", "policies"],
            "policies",
        )
    }

    /// `GET /workspaces/{ws}/invites`.
    pub fn list_invites(&self, workspace: &str) -> Pages {
        self.workspace_list(endpoints::INVITES, workspace, &["invites"], "invites")
    }

    /// `GET /workspaces/{ws}/users`.
    pub fn list_users(&self, workspace: &str) -> Pages {
        self.workspace_list(endpoints::USERS, workspace, &["users"], "users")
    }

    fn workspace_list(
        &self,
        endpoint: Endpoint,
        workspace: &str,
        rest: &[&str],
        plural: &'static str,
    ) -> Pages {
        let mut path = vec!["workspaces", workspace];
        path.extend_from_slice(rest);
        self.pages(
            Request::new(endpoint, &path)
                .in_workspace(workspace)
                .list(plural),
        )
    }

    // Functions, addressed by workspace id rather than slug.

    /// `GET /workspaces/{ws_id}/functions?type=…`, keyed by function id.
    pub fn list_functions(&self, workspace_id: &str, kind: FunctionKind) -> Pages {
        self.pages(
            Request::new(
                endpoints::FUNCTIONS,
                &["workspaces", workspace_id, "functions"],
            )
            .in_workspace_id(workspace_id)
            .query(vec![("type", kind.as_str().to_owned())])
            .key(Key::Id)
            .list("functions"),
        )
    }

    /// `GET /workspaces/{ws_id}/functions/{id}`, keyed by function id.
    pub async fn get_function(
        &self,
        workspace_id: &str,
        function_id: &str,
    ) -> Result<RawObject, ConfigApiError> {
        let request = Request::new(
            endpoints::FUNCTION,
            &["workspaces", workspace_id, "functions", function_id],
        )
        .key(Key::Id)
        .keyed_by(function_id);
        self.get_object(request).await
    }
}

fn destination_path<'a>(workspace: &'a str, source: &'a str, destination: &'a str) -> [&'a str; 6] {
    [
        "workspaces",
        workspace,
        "sources",
        source,
        "destinations",
        destination,
    ]
}

/// Splits `names` into batches whose `names=` query fits with `fixed` bytes of URL in `limit`
/// bytes. A name too long to share a URL goes alone.
fn batches(names: &[String], fixed: usize, limit: usize) -> Vec<Vec<&String>> {
    let mut out: Vec<Vec<&String>> = Vec::new();
    let mut length = fixed;
    for name in names {
        let encoded: usize = url::form_urlencoded::byte_serialize(name.as_bytes())
            .map(str::len)
            .sum();
        // `&names=` (or `?names=`) and the value.
        let cost = "&names=".len() + encoded;
        match out.last_mut() {
            Some(batch) if length + cost <= limit => batch.push(name),
            _ => {
                out.push(vec![name]);
                length = fixed;
            }
        }
        length += cost;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(value: Value) -> Box<RawValue> {
        serde_json::value::to_raw_value(&value).unwrap()
    }

    fn secret(token: &str) -> Secret {
        Secret::new(token, crate::http::SecretSource::Given("a test token")).unwrap()
    }

    #[test]
    fn clients_of_one_url_and_token_share_one_rate_limiter_while_one_lives() {
        let client = |url: &str, token: &str| {
            let mut settings = ConfigClientSettings::new(secret(token));
            settings.base_url = url.parse().unwrap();
            ConfigClient::new(settings).unwrap()
        };
        let (url, other_url) = ("http://127.0.0.1:9/", "http://127.0.0.1:10/");
        let first = client(url, "token-a");
        let limiter = first.transport.limiter();
        assert!(Arc::ptr_eq(
            &limiter,
            &client(url, "token-a").transport.limiter()
        ));
        assert!(!Arc::ptr_eq(
            &limiter,
            &client(url, "token-b").transport.limiter()
        ));
        assert!(!Arc::ptr_eq(
            &limiter,
            &client(other_url, "token-a").transport.limiter()
        ));
        let mut slower = ConfigClientSettings::new(secret("token-a"));
        slower.base_url = url.parse().unwrap();
        slower.requests_per_minute = 10;
        let slower = ConfigClient::new(slower).unwrap();
        assert!(!Arc::ptr_eq(&limiter, &slower.transport.limiter()));
        // Once no client holds it, a new client starts with a limiter of its own (and a full
        // burst), as a new process would.
        drop((first, limiter));
        let weak = Arc::downgrade(&client(url, "token-a").transport.limiter());
        assert_eq!(weak.strong_count(), 0);
    }

    #[test]
    fn batches_keep_urls_under_the_limit_and_lose_no_name() {
        let names: Vec<String> = (0..300)
            .map(|i| format!("workspaces/acme/sources/source-{i}/destinations/google-analytics"))
            .collect();
        let fixed = 120;
        let out = batches(&names, fixed, MAX_URL_BYTES);
        assert!(out.len() > 1, "300 long names need several requests");
        let flat: Vec<&String> = out.iter().flatten().copied().collect();
        assert_eq!(flat, names.iter().collect::<Vec<_>>());
        for batch in &out {
            let query: String = batch
                .iter()
                .map(|n| {
                    format!(
                        "&names={}",
                        url::form_urlencoded::byte_serialize(n.as_bytes()).collect::<String>()
                    )
                })
                .collect();
            assert!(fixed + query.len() <= MAX_URL_BYTES);
        }
        let huge = vec!["x".repeat(10_000), "y".into()];
        assert_eq!(batches(&huge, fixed, MAX_URL_BYTES).len(), 2);
        assert!(batches(&[], fixed, MAX_URL_BYTES).is_empty());
    }

    #[test]
    fn objects_are_keyed_by_name_id_or_connection() {
        let by_name = Request::new(endpoints::SOURCES, &["workspaces", "ws", "sources"]);
        let object = by_name
            .object(
                &text(json!({"name": "workspaces/ws/sources/js", "id": "x"})),
                None,
            )
            .unwrap();
        assert_eq!(object.name, "workspaces/ws/sources/js");
        assert_eq!(object.slug(), "js");
        assert!(matches!(
            by_name.object(&text(json!({"id": "x"})), None),
            Err(WireError::MissingKey { field: "name" })
        ));
        assert_eq!(
            by_name
                .object(&text(json!({})), Some("fallback"))
                .unwrap()
                .name,
            "fallback"
        );

        let by_id = Request::new(endpoints::FUNCTIONS, &[]).key(Key::Id);
        assert_eq!(
            by_id
                .object(&text(json!({"id": "sfnc_1", "display_name": "F"})), None)
                .unwrap()
                .name,
            "sfnc_1"
        );

        let connection = Request::new(endpoints::SOURCE_CONNECTIONS, &[]).key(Key::Connection {
            plan_name: "workspaces/ws/tracking-plans/rs_1".into(),
        });
        let object = connection
            .object(
                &text(json!({"sourceName": "workspaces/ws/sources/ios", "trackingPlanId": "rs_1"})),
                None,
            )
            .unwrap();
        assert_eq!(
            object.name,
            "workspaces/ws/tracking-plans/rs_1/source-connections/ios"
        );
        assert_eq!(object.slug(), "ios");
    }

    #[test]
    fn debug_shows_keys_not_values() {
        let object = RawObject {
            name: "workspaces/ws/sources/js/destinations/salesforce".into(),
            body: text(json!({"name": "n", "config": [{"value": "hunter2"}]})),
        };
        let shown = format!("{object:?}");
        assert!(
            shown.contains("config") && !shown.contains("hunter2"),
            "{shown}"
        );
    }

    #[test]
    fn the_version_is_added_once() {
        let token = Secret::new("t", crate::http::SecretSource::EnvVar("T".into())).unwrap();
        for (given, expected) in [
            (
                "https://platform.segmentapis.com",
                "https://platform.segmentapis.com/v1beta",
            ),
            (
                "https://platform.segmentapis.com/",
                "https://platform.segmentapis.com/v1beta",
            ),
            (
                "https://platform.segmentapis.com/v1beta",
                "https://platform.segmentapis.com/v1beta",
            ),
            (
                "http://127.0.0.1:9/proxy/",
                "http://127.0.0.1:9/proxy/v1beta",
            ),
        ] {
            let mut settings = ConfigClientSettings::new(token.clone());
            settings.base_url = Url::parse(given).unwrap();
            let client = ConfigClient::new(settings).unwrap();
            assert_eq!(client.base_url().as_str(), expected, "{given}");
        }
        let mut settings = ConfigClientSettings::new(token);
        settings.base_url = Url::parse("http://example.com").unwrap();
        assert!(matches!(
            ConfigClient::new(settings),
            Err(BuildError::BaseUrl(_))
        ));
    }

    #[test]
    fn clients_pages_and_requests_can_move_across_tasks() {
        fn send_and_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let token = Secret::new("t", crate::http::SecretSource::EnvVar("T".into())).unwrap();
        let client = ConfigClient::new(ConfigClientSettings::new(token)).unwrap();
        send_and_sync(&client);
        send(&client.list_sources("ws"));
        send(&client.get_source("ws", "js"));
        send(&client.batch_delivery_summaries("ws", &[], None));
    }

    #[test]
    fn settings_never_show_the_token() {
        let token = Secret::new(
            "s3cr3t-token",
            crate::http::SecretSource::EnvVar("T".into()),
        )
        .unwrap();
        let shown = format!("{:?}", ConfigClientSettings::new(token));
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
