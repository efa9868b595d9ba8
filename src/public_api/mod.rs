//! The Public API client: typed reads of everything a migration needs from the target workspace,
//! returned as the raw objects the API sent, and ([`writer`]) the only path to writes.
//!
//! Invariants:
//! - **Reads cannot write.** [`PublicClient`] sends only the GET operations of [`operations`];
//!   the write operations, and the only type that can send them, [`writer::PublicWriter`], live
//!   in `writer.rs`, which is built from a [`writer::WriteAccess`] that `plan` and
//!   `apply --dry-run` cannot obtain. Tests check that no other file of this module names a write
//!   method and that every read leaves the simulator's write counter at zero.
//! - **Writes are never replayed blindly.** A create whose outcome is unknown comes back as
//!   [`PublicApiError::Ambiguous`]; [`lookup`] finds objects by their natural keys so the
//!   executor can tell whether it landed before sending it again.
//! - **Bodies are kept as sent.** Objects are `serde_json::Value`s in the API's key order, each
//!   with the id it is known by ([`PublicObject::id`]): the `id` field, or for objects without
//!   one the key the API identifies them by (labels `key:value`, rules `TYPE/key/version`,
//!   invites their email).
//! - **Paths cannot be redirected by data.** Ids are appended as percent-encoded path segments;
//!   empty and dot segments are refused before anything is sent.
//! - **Never imports the simulator.** Wire types are private (the `wire` module), held to the API by this
//!   client's own tests.
//!
//! Conventions of the API this client follows: every request pins the operation's media type
//! in `Accept` (and `Content-Type`), every success is `{"data": …}` (any 2xx: creates answer 200
//! or 201 depending on the operation), lists are paged with `pagination[count]=200` (the largest
//! page the API serves) and `pagination[cursor]`, and the rate limits are a default bucket plus
//! one bucket per operation with a documented limit of its own ([`operations::RATE_LIMITS`]),
//! both steered by the `X-RateLimit-*` headers of every answer. On a 429 the client waits what
//! `Retry-After` says, else the body's `msBeforeNext`, else until `X-RateLimit-Reset`, else a
//! backoff.

mod answer;
mod error;
pub mod lookup;
pub mod operations;
mod pages;
mod projection;
pub(crate) mod wire;
pub mod writer;

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use url::Url;

pub use self::answer::Answer;
pub use self::error::{Detail, PublicApiError, RegionHint};
pub use self::lookup::Match;
use self::operations as ops;
pub use self::operations::{MediaType, Operation};
pub use self::pages::{Page, Pages, ProjectedPages};
pub use self::projection::ProjectedObject;
pub use self::wire::{FieldError, WireError};
pub use self::writer::{PublicWriter, WriteAccess};
use crate::http::ClientSettings;
use crate::http::limit::{Clock, RateLimiter, SystemClock};
use crate::http::observe::{HttpMetrics, HttpObserver};
use crate::http::retry::RetryPolicy;
use crate::http::secret::Secret;
use crate::http::transport::{Body, BuildError, Outgoing, Replay, Transport, TransportSettings};
pub use crate::model::{Granularity, MetricsWindow};

/// The host of US workspaces.
pub const DEFAULT_BASE_URL: &str = "https://api.segmentapis.com";

/// The host of EU workspaces.
pub const EU_BASE_URL: &str = "https://eu1.api.segmentapis.com";

/// Items per list page: the API's maximum.
pub const PAGE_SIZE: u32 = 200;

/// The default bucket when none is configured. Segment does not publish the default limit; it
/// is above every per-endpoint limit (600 per minute exist), and the server's headers lower the
/// bucket at once if the real one is smaller.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 1_000;

/// The name observers and messages know this API by.
pub const API: &str = "public";

/// The region of a workspace, which decides the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Region {
    #[default]
    Us,
    Eu,
}

impl Region {
    pub fn base_url(self) -> Url {
        let text = match self {
            Self::Us => DEFAULT_BASE_URL,
            Self::Eu => EU_BASE_URL,
        };
        Url::parse(text).expect("the documented hosts parse")
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Us => "us",
            Self::Eu => "eu",
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown region `{0}`: use us or eu")]
pub struct UnknownRegion(String);

impl FromStr for Region {
    type Err = UnknownRegion;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim().to_ascii_lowercase().as_str() {
            "us" => Ok(Self::Us),
            "eu" => Ok(Self::Eu),
            _ => Err(UnknownRegion(text.to_owned())),
        }
    }
}

/// Everything a [`PublicClient`] is made from. [`PublicClientSettings::new`] fills in the
/// defaults.
#[derive(Clone)]
pub struct PublicClientSettings {
    /// The API's root: [`Region::base_url`], or a simulator.
    pub base_url: Url,
    pub token: Secret,
    /// The default bucket (0: no pacing); per-endpoint buckets come from
    /// [`operations::RATE_LIMITS`].
    pub default_requests_per_minute: u32,
    pub retry: RetryPolicy,
    /// Time for a whole request, body included.
    pub timeout: Duration,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    pub observer: Option<Arc<dyn HttpObserver>>,
    /// The limiters' time: real time, or [`crate::http::ScaledClock`] to pace against a
    /// simulator whose minutes are shorter.
    pub clock: Arc<dyn Clock>,
    /// The most pages one list may have before it is stopped as a runaway
    /// ([`crate::http::pages::MAX_PAGES`]; tests lower it).
    pub max_pages: usize,
}

impl PublicClientSettings {
    /// For a US workspace.
    pub fn new(token: Secret) -> Self {
        Self::for_region(token, Region::Us)
    }

    pub fn for_region(token: Secret, region: Region) -> Self {
        let client = ClientSettings::default();
        Self {
            base_url: region.base_url(),
            token,
            default_requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            retry: RetryPolicy::default(),
            timeout: client.timeout,
            connect_timeout: client.connect_timeout,
            observer: None,
            clock: Arc::new(SystemClock::new()),
            max_pages: crate::http::pages::MAX_PAGES,
        }
    }
}

impl fmt::Debug for PublicClientSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicClientSettings")
            .field("base_url", &self.base_url.as_str())
            .field("token", &self.token)
            .field(
                "default_requests_per_minute",
                &self.default_requests_per_minute,
            )
            .field("retry", &self.retry)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("observer", &self.observer.as_ref().map(|_| "set"))
            .field("clock", &self.clock)
            .field("max_pages", &self.max_pages)
            .finish()
    }
}

/// One object as the API sent it, with the id it is known by.
#[derive(Clone, PartialEq)]
pub struct PublicObject {
    /// The `id` field, or for objects without one: labels `key:value`, rules
    /// `TYPE/key/version`, invites the email, schema settings the source id, delivery metrics
    /// the destination id.
    pub id: String,
    /// The object, verbatim: key order as sent, nothing added or removed.
    pub body: Value,
}

impl PublicObject {
    /// A string field of the body (`slug`, `name`, `resourceSchemaId`).
    pub fn str_field(&self, key: &str) -> Option<&str> {
        wire::str_field(&self.body, key)
    }

    /// A tracking plan's Config-era id (`rs_…`), which the API returns without documenting it.
    pub fn resource_schema_id(&self) -> Option<&str> {
        self.str_field("resourceSchemaId")
    }
}

/// Shows the id and the body's keys, never its values: bodies hold (masked) secret settings.
impl fmt::Debug for PublicObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<&str> = self
            .body
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        f.debug_struct("PublicObject")
            .field("id", &self.id)
            .field("keys", &keys)
            .finish()
    }
}

/// A source with the tracking plan it is connected to (`GET /sources/{id}`).
#[derive(Debug, Clone, PartialEq)]
pub struct SourceDetail {
    pub source: PublicObject,
    pub tracking_plan_id: Option<String>,
}

/// The kinds of function, listed one kind per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionType {
    Source,
    Destination,
    InsertSource,
    InsertDestination,
    InsertTransformation,
}

impl FunctionType {
    pub const ALL: [Self; 5] = [
        Self::Source,
        Self::Destination,
        Self::InsertSource,
        Self::InsertDestination,
        Self::InsertTransformation,
    ];

    /// The `resourceType` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "SOURCE",
            Self::Destination => "DESTINATION",
            Self::InsertSource => "INSERT_SOURCE",
            Self::InsertDestination => "INSERT_DESTINATION",
            Self::InsertTransformation => "INSERT_TRANSFORMATION",
        }
    }
}

/// How the items of an answer are named.
#[derive(Debug, Clone)]
enum Key {
    /// The `id` field.
    Id,
    /// `key:value`.
    Label,
    /// `TYPE/key/version`.
    Rule,
    /// The item is a string (an email) and names itself.
    Itself,
    /// A string field other than `id`.
    Field(&'static str),
    /// Named by the request (the destination of its delivery metrics).
    Given(String),
}

impl Key {
    /// The fields [`Key::name`] reads of an object.
    fn fields(&self) -> &[&'static str] {
        match self {
            Self::Id => &["id"],
            Self::Label => &["key", "value"],
            Self::Rule => &["type", "key", "version"],
            Self::Field(name) => std::slice::from_ref(name),
            Self::Itself | Self::Given(_) => &[],
        }
    }

    fn name(&self, body: &Value) -> Result<String, WireError> {
        let field = |name: &'static str| {
            wire::str_field(body, name)
                .map(str::to_owned)
                .ok_or(WireError::MissingKey { field: name })
        };
        match self {
            Self::Id => {
                let id = field("id")?;
                wire::check_id(&id)?;
                Ok(id)
            }
            Self::Field(name) => field(name),
            Self::Label => Ok(format!("{}:{}", field("key")?, field("value")?)),
            Self::Rule => {
                let version = body
                    .get("version")
                    .filter(|v| v.is_number())
                    .ok_or(WireError::MissingKey { field: "version" })?;
                let key = wire::str_field(body, "key").unwrap_or("");
                Ok(format!("{}/{key}/{version}", field("type")?))
            }
            Self::Itself => body
                .as_str()
                .map(str::to_owned)
                .ok_or(WireError::MissingKey { field: "email" }),
            Self::Given(id) => Ok(id.clone()),
        }
    }
}

/// The path of what a request addresses, as error messages name it; the root (`GET /`, the
/// token's workspace) has no segments and is named for what it is.
fn resource_name<S: AsRef<str>>(segments: &[S]) -> String {
    if segments.is_empty() {
        return "the token's workspace".to_owned();
    }
    segments
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join("/")
}

/// One read, described well enough to send it again (the next page) and to explain it.
#[derive(Debug, Clone)]
pub(crate) struct Read {
    operation: Operation,
    segments: Vec<String>,
    query: Vec<(&'static str, String)>,
    key: Key,
    /// The key of the object, or of the list's items, inside `data`.
    item: &'static str,
}

impl Read {
    fn new(operation: Operation, segments: &[&str], item: &'static str) -> Self {
        Self {
            operation,
            segments: segments.iter().map(|s| (*s).to_owned()).collect(),
            query: Vec::new(),
            key: Key::Id,
            item,
        }
    }

    fn key(mut self, key: Key) -> Self {
        self.key = key;
        self
    }

    fn query(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub(crate) fn resource(&self) -> String {
        resource_name(&self.segments)
    }

    fn decode_error(&self, source: WireError) -> PublicApiError {
        PublicApiError::Decode {
            operation: self.operation,
            resource: self.resource(),
            source,
        }
    }

    fn object(&self, body: Value) -> Result<PublicObject, WireError> {
        Ok(PublicObject {
            id: self.key.name(&body)?,
            body,
        })
    }
}

/// The lists [`PublicClient::list_projected`] reads; each is also read whole by its own
/// `list_…` method.
#[derive(Debug, Clone, Copy)]
pub enum Listed<'a> {
    /// `GET /catalog/sources`.
    CatalogSources,
    /// `GET /catalog/destinations`.
    CatalogDestinations,
    /// `GET /sources`.
    Sources,
    /// `GET /destinations`.
    Destinations,
    /// `GET /destination/{destinationId}/filters`.
    Filters { destination_id: &'a str },
    /// `GET /tracking-plans`, of one type when given.
    TrackingPlans { plan_type: Option<&'a str> },
    /// `GET /tracking-plans/{trackingPlanId}/rules`: rules are named `TYPE/key/version`.
    Rules { plan_id: &'a str },
}

impl Listed<'_> {
    fn read(self) -> Read {
        match self {
            Self::CatalogSources => Read::new(
                ops::GET_SOURCES_CATALOG,
                &["catalog", "sources"],
                "sourcesCatalog",
            ),
            Self::CatalogDestinations => Read::new(
                ops::GET_DESTINATIONS_CATALOG,
                &["catalog", "destinations"],
                "destinationsCatalog",
            ),
            Self::Sources => Read::new(ops::LIST_SOURCES, &["sources"], "sources"),
            Self::Destinations => {
                Read::new(ops::LIST_DESTINATIONS, &["destinations"], "destinations")
            }
            Self::Filters { destination_id } => Read::new(
                ops::LIST_FILTERS_FROM_DESTINATION,
                &["destination", destination_id, "filters"],
                "filters",
            ),
            Self::TrackingPlans { plan_type } => {
                let read = Read::new(
                    ops::LIST_TRACKING_PLANS,
                    &["tracking-plans"],
                    "trackingPlans",
                );
                match plan_type {
                    Some(plan_type) => read.query("type", plan_type),
                    None => read,
                }
            }
            Self::Rules { plan_id } => Read::new(
                ops::LIST_RULES_FROM_TRACKING_PLAN,
                &["tracking-plans", plan_id, "rules"],
                "rules",
            )
            .key(Key::Rule),
        }
    }
}

/// One request of any operation, as [`PublicClient::execute`] sends it.
pub(crate) struct Call<'a> {
    pub operation: Operation,
    pub segments: &'a [&'a str],
    pub query: &'a [(&'static str, String)],
    /// The body as JSON text.
    pub body: Option<&'a [u8]>,
    pub replay: Replay,
}

struct Inner {
    transport: Transport,
    clock: Arc<dyn Clock>,
    region: RegionHint,
    max_pages: usize,
    /// One bucket per operation with a documented limit, made on first use.
    buckets: Mutex<HashMap<&'static str, Arc<RateLimiter>>>,
}

/// A Public API client that can only read. Cheap to clone; clones share the connection pool,
/// the rate-limit buckets and the metrics.
#[derive(Clone)]
pub struct PublicClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for PublicClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicClient")
            .field("transport", &self.inner.transport)
            .finish_non_exhaustive()
    }
}

impl PublicClient {
    pub fn new(settings: PublicClientSettings) -> Result<Self, BuildError> {
        let region = match settings.base_url.host_str() {
            Some("api.segmentapis.com") => RegionHint::Us,
            Some("eu1.api.segmentapis.com") => RegionHint::Eu,
            _ => RegionHint::Other,
        };
        let transport = Transport::new(TransportSettings {
            api: API,
            base_url: settings.base_url,
            token: settings.token,
            client: ClientSettings {
                connect_timeout: settings.connect_timeout,
                timeout: settings.timeout,
            },
            retry: settings.retry,
            limiter: Arc::new(RateLimiter::with_clock(
                settings.default_requests_per_minute,
                settings.clock.clone(),
            )),
            metrics: Arc::new(HttpMetrics::new()),
            observer: settings.observer,
            wait_from_body: Some(wire::ms_before_next),
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                clock: settings.clock,
                region,
                max_pages: settings.max_pages,
                buckets: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The counters of every request made by this client, its clones and its writer.
    pub fn metrics(&self) -> Arc<HttpMetrics> {
        self.inner.transport.metrics()
    }

    pub fn base_url(&self) -> &Url {
        self.inner.transport.base_url()
    }

    /// The default bucket's current limit per minute (lowered when the server reports less).
    pub fn default_rate(&self) -> u32 {
        self.inner.transport.limiter().rate()
    }

    /// The bucket of an operation with a documented limit of its own.
    fn bucket(&self, operation: &Operation) -> Option<Arc<RateLimiter>> {
        let limit = operation.documented_limit()?;
        let mut buckets = self
            .inner
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(
            buckets
                .entry(operation.id)
                .or_insert_with(|| {
                    Arc::new(RateLimiter::with_clock(limit, self.inner.clock.clone()))
                })
                .clone(),
        )
    }

    /// Sends one request and returns its `data` object. The method is the operation's, so a
    /// read can only send what [`operations`] defines (GET); writes come from `writer.rs`.
    async fn execute(&self, call: Call<'_>) -> Result<Map<String, Value>, PublicApiError> {
        self.execute_reading(call, |body| wire::parse(&body).and_then(wire::data))
            .await
    }

    /// [`Self::execute`], the answer kept as text to read a few values of (see [`Answer`]).
    async fn execute_answer(&self, call: Call<'_>) -> Result<Answer, PublicApiError> {
        self.execute_reading(call, Answer::new).await
    }

    /// Sends one request and reads its 2xx answer with `read`.
    async fn execute_reading<T>(
        &self,
        call: Call<'_>,
        read: impl FnOnce(Vec<u8>) -> Result<T, WireError>,
    ) -> Result<T, PublicApiError> {
        let (operation, resource) = (call.operation, resource_name(call.segments));
        let body = self.execute_raw(call).await?;
        // A write whose 2xx carries an unreadable body was still applied; the caller gets a
        // decode error and reconciles by natural key, as for an ambiguous write.
        read(body).map_err(|source| PublicApiError::Decode {
            operation,
            resource,
            source,
        })
    }

    /// Sends one request and returns the body of its 2xx answer.
    async fn execute_raw(&self, call: Call<'_>) -> Result<Vec<u8>, PublicApiError> {
        let operation = call.operation;
        let resource = resource_name(call.segments);
        // Percent-encoding keeps `/`, `?` and `#` inside a segment, but an empty segment or a
        // dot segment is resolved away by URL parsers and servers alike.
        if let Some(bad) = call
            .segments
            .iter()
            .find(|s| matches!(**s, "" | "." | ".."))
        {
            return Err(PublicApiError::InvalidSegment {
                operation,
                segment: (*bad).to_owned(),
            });
        }
        let mut url = self.inner.transport.url(call.segments);
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(call.query);
        }
        let method = reqwest::Method::from_bytes(operation.endpoint.method.as_bytes())
            .expect("operation methods are valid HTTP methods");
        let body = call.body.map(|bytes| Body {
            content_type: operation.media.as_str(),
            bytes: bytes.to_vec(),
        });
        let request = Outgoing {
            endpoint: operation.endpoint,
            method,
            url,
            accept: operation.media.as_str(),
            body,
            replay: call.replay,
            bucket: self.bucket(&operation),
            follow_rate_headers: true,
        };
        let response = self
            .inner
            .transport
            .send(&request)
            .await
            .map_err(|source| {
                PublicApiError::from_http(
                    operation,
                    resource,
                    call.replay,
                    self.inner.region,
                    source,
                )
            })?;
        Ok(response.body)
    }

    async fn fetch(
        &self,
        read: &Read,
        cursor: Option<&str>,
        paged: bool,
    ) -> Result<Map<String, Value>, PublicApiError> {
        let body = self.fetch_raw(read, cursor, paged).await?;
        wire::parse(&body)
            .and_then(wire::data)
            .map_err(|e| read.decode_error(e))
    }

    /// The body of `read`'s answer (of its page at `cursor` when `paged`).
    async fn fetch_raw(
        &self,
        read: &Read,
        cursor: Option<&str>,
        paged: bool,
    ) -> Result<Vec<u8>, PublicApiError> {
        let segments: Vec<&str> = read.segments.iter().map(String::as_str).collect();
        let mut query = read.query.clone();
        if paged {
            query.push(("pagination[count]", PAGE_SIZE.to_string()));
            if let Some(cursor) = cursor {
                query.push(("pagination[cursor]", cursor.to_owned()));
            }
        }
        self.execute_raw(Call {
            operation: read.operation,
            segments: &segments,
            query: &query,
            body: None,
            replay: Replay::Safe,
        })
        .await
    }

    /// One page of a list: its objects, the next cursor and the total, if given.
    pub(crate) async fn fetch_page(
        &self,
        read: &Read,
        cursor: Option<&str>,
    ) -> Result<wire::PageParts<PublicObject>, PublicApiError> {
        let data = self.fetch(read, cursor, true).await?;
        let page = wire::page(data, read.item).map_err(|e| read.decode_error(e))?;
        let objects = page
            .items
            .into_iter()
            .map(|item| read.object(item))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| read.decode_error(e))?;
        Ok((objects, page.next, page.total_entries))
    }

    /// One page of a list, each object cut to `fields` (see [`projection`]).
    pub(crate) async fn fetch_projected_page(
        &self,
        read: &Read,
        cursor: Option<&str>,
        fields: &[&str],
    ) -> Result<wire::PageParts<ProjectedObject>, PublicApiError> {
        let body = self.fetch_raw(read, cursor, true).await?;
        let (items, next, total_entries) =
            projection::page(&body, read.item, fields, read.key.fields())
                .map_err(|e| read.decode_error(e))?;
        let objects = items
            .into_iter()
            .map(|item| {
                Ok(ProjectedObject {
                    id: read.key.name(&item.keys)?,
                    text: item.text,
                })
            })
            .collect::<Result<Vec<_>, WireError>>()
            .map_err(|e| read.decode_error(e))?;
        Ok((objects, next, total_entries))
    }

    async fn get_object(&self, read: Read) -> Result<PublicObject, PublicApiError> {
        let mut data = self.fetch(&read, None, false).await?;
        wire::object(&mut data, read.item)
            .and_then(|body| read.object(body))
            .map_err(|e| read.decode_error(e))
    }

    /// The `data` object itself, named by `read`'s key (schema settings).
    async fn get_data(&self, read: Read) -> Result<PublicObject, PublicApiError> {
        let data = self.fetch(&read, None, false).await?;
        read.object(Value::Object(data))
            .map_err(|e| read.decode_error(e))
    }

    fn pages(&self, read: Read) -> Pages {
        pages::walk(self.clone(), read)
    }

    /// The pages of `list`, each object cut to `fields` as it is read and the rest of it never
    /// parsed ([`ProjectedObject`]): for a reader that keeps only those fields.
    pub fn list_projected(
        &self,
        list: Listed<'_>,
        fields: &'static [&'static str],
    ) -> ProjectedPages {
        pages::walk_projected(self.clone(), list.read(), fields)
    }

    // Workspace.

    /// `GET /`: the token's workspace.
    pub async fn get_workspace(&self) -> Result<PublicObject, PublicApiError> {
        self.get_object(Read::new(ops::GET_WORKSPACE, &[], "workspace"))
            .await
    }

    // Catalogs.

    /// `GET /catalog/sources`.
    pub fn list_catalog_sources(&self) -> Pages {
        self.pages(Listed::CatalogSources.read())
    }

    /// `GET /catalog/sources/{sourceMetadataId}`.
    pub async fn get_catalog_source(&self, id: &str) -> Result<PublicObject, PublicApiError> {
        self.get_object(Read::new(
            ops::GET_SOURCE_METADATA,
            &["catalog", "sources", id],
            "sourceMetadata",
        ))
        .await
    }

    /// `GET /catalog/destinations`.
    pub fn list_catalog_destinations(&self) -> Pages {
        self.pages(Listed::CatalogDestinations.read())
    }

    /// `GET /catalog/destinations/{destinationMetadataId}`.
    pub async fn get_catalog_destination(&self, id: &str) -> Result<PublicObject, PublicApiError> {
        self.get_object(Read::new(
            ops::GET_DESTINATION_METADATA,
            &["catalog", "destinations", id],
            "destinationMetadata",
        ))
        .await
    }

    // Sources.

    /// `GET /sources`.
    pub fn list_sources(&self) -> Pages {
        self.pages(Listed::Sources.read())
    }

    /// `GET /sources/{sourceId}`, with the id of the tracking plan the source is connected to.
    pub async fn get_source(&self, id: &str) -> Result<SourceDetail, PublicApiError> {
        let read = Read::new(ops::GET_SOURCE, &["sources", id], "source");
        let mut data = self.fetch(&read, None, false).await?;
        // Required but nullable: null when the source is in no plan.
        let tracking_plan_id = data
            .get("trackingPlanId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let source = wire::object(&mut data, read.item)
            .and_then(|body| read.object(body))
            .map_err(|e| read.decode_error(e))?;
        Ok(SourceDetail {
            source,
            tracking_plan_id,
        })
    }

    /// `GET /sources/{sourceId}/settings`: the source's schema (Protocols) settings, as
    /// `{"sourceId", "settings"}`, named by the source id.
    pub async fn get_source_settings(&self, id: &str) -> Result<PublicObject, PublicApiError> {
        self.get_data(
            Read::new(
                ops::LIST_SCHEMA_SETTINGS_IN_SOURCE,
                &["sources", id, "settings"],
                "",
            )
            .key(Key::Field("sourceId")),
        )
        .await
    }

    /// `GET /sources/{sourceId}/connected-destinations`.
    pub fn list_connected_destinations(&self, source_id: &str) -> Pages {
        self.pages(Read::new(
            ops::LIST_CONNECTED_DESTINATIONS_FROM_SOURCE,
            &["sources", source_id, "connected-destinations"],
            "destinations",
        ))
    }

    // Destinations and their filters.

    /// `GET /destinations`.
    pub fn list_destinations(&self) -> Pages {
        self.pages(Listed::Destinations.read())
    }

    /// `GET /destinations/{destinationId}`.
    pub async fn get_destination(&self, id: &str) -> Result<PublicObject, PublicApiError> {
        self.get_object(Read::new(
            ops::GET_DESTINATION,
            &["destinations", id],
            "destination",
        ))
        .await
    }

    /// `GET /destination/{destinationId}/filters` (singular `destination`, as the API spells it).
    pub fn list_filters(&self, destination_id: &str) -> Pages {
        self.pages(Listed::Filters { destination_id }.read())
    }

    /// `GET /destination/{destinationId}/filters/{filterId}`.
    pub async fn get_filter(
        &self,
        destination_id: &str,
        filter_id: &str,
    ) -> Result<PublicObject, PublicApiError> {
        self.get_object(Read::new(
            ops::GET_FILTER_IN_DESTINATION,
            &["destination", destination_id, "filters", filter_id],
            "filter",
        ))
        .await
    }

    /// `GET /destinations/{destinationId}/delivery-metrics?sourceId=…` (beta only), named by the
    /// destination id.
    pub async fn get_delivery_metrics(
        &self,
        destination_id: &str,
        source_id: &str,
        window: Option<&MetricsWindow>,
    ) -> Result<PublicObject, PublicApiError> {
        let mut read = Read::new(
            ops::LIST_DELIVERY_METRICS_SUMMARY_FROM_DESTINATION,
            &["destinations", destination_id, "delivery-metrics"],
            "deliveryMetricsSummary",
        )
        .query("sourceId", source_id)
        .key(Key::Given(destination_id.to_owned()));
        if let Some(w) = window {
            read = read
                .query("startTime", MetricsWindow::format_time(w.start))
                .query("endTime", MetricsWindow::format_time(w.end))
                .query("granularity", w.granularity.as_str());
        }
        self.get_object(read).await
    }

    // Tracking plans.

    /// `GET /tracking-plans`, optionally only those of one `type` (`LIVE`). Items carry the
    /// Config-era `resourceSchemaId` when the API sends it.
    pub fn list_tracking_plans(&self, plan_type: Option<&str>) -> Pages {
        self.pages(Listed::TrackingPlans { plan_type }.read())
    }

    /// `GET /tracking-plans/{trackingPlanId}`.
    pub async fn get_tracking_plan(&self, id: &str) -> Result<PublicObject, PublicApiError> {
        self.get_object(Read::new(
            ops::GET_TRACKING_PLAN,
            &["tracking-plans", id],
            "trackingPlan",
        ))
        .await
    }

    /// `GET /tracking-plans/{trackingPlanId}/rules`, named `TYPE/key/version`, under the
    /// endpoint's own limit of 200 requests per minute.
    pub fn list_rules(&self, plan_id: &str) -> Pages {
        self.pages(Listed::Rules { plan_id }.read())
    }

    /// `GET /tracking-plans/{trackingPlanId}/sources`.
    pub fn list_tracking_plan_sources(&self, plan_id: &str) -> Pages {
        self.pages(Read::new(
            ops::LIST_SOURCES_FROM_TRACKING_PLAN,
            &["tracking-plans", plan_id, "sources"],
            "sources",
        ))
    }

    // Functions.

    /// `GET /functions?resourceType=…` (one type per request; the items lack code and settings,
    /// which [`Self::get_function`] has).
    pub fn list_functions(&self, function_type: FunctionType) -> Pages {
        self.pages(
            Read::new(ops::LIST_FUNCTIONS, &["functions"], "functions")
                .query("resourceType", function_type.as_str()),
        )
    }

    /// `GET /functions/{functionId}`.
    pub async fn get_function(&self, id: &str) -> Result<PublicObject, PublicApiError> {
        self.get_object(Read::new(ops::GET_FUNCTION, &["functions", id], "function"))
            .await
    }

    // Labels.

    /// `GET /labels`, which is not paginated; named `key:value`.
    pub async fn list_labels(&self) -> Result<Vec<PublicObject>, PublicApiError> {
        let read = Read::new(ops::LIST_LABELS, &["labels"], "labels").key(Key::Label);
        let mut data = self.fetch(&read, None, false).await?;
        wire::list(&mut data, read.item)
            .and_then(|items| items.into_iter().map(|i| read.object(i)).collect())
            .map_err(|e| read.decode_error(e))
    }

    // IAM.

    /// `GET /users`.
    pub fn list_users(&self) -> Pages {
        self.pages(Read::new(ops::LIST_USERS, &["users"], "users"))
    }

    /// `GET /users/{userId}`, with the user's permissions.
    pub async fn get_user(&self, id: &str) -> Result<PublicObject, PublicApiError> {
        self.get_object(Read::new(ops::GET_USER, &["users", id], "user"))
            .await
    }

    /// The permissions of a user (`permissions` of `GET /users/{userId}`, empty when absent):
    /// `[{roleId, roleName, resources: [{id, type, labels?}]}]`.
    pub async fn user_permissions(&self, id: &str) -> Result<Vec<Value>, PublicApiError> {
        let user = self.get_user(id).await?;
        Ok(user
            .body
            .get("permissions")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// `GET /users/{userId}/groups`.
    pub fn list_user_groups_of(&self, user_id: &str) -> Pages {
        self.pages(Read::new(
            ops::LIST_USER_GROUPS_FROM_USER,
            &["users", user_id, "groups"],
            "groups",
        ))
    }

    /// `GET /invites`: pending invitations, as emails (each object is the email string).
    pub fn list_invites(&self) -> Pages {
        self.pages(Read::new(ops::LIST_INVITES, &["invites"], "invites").key(Key::Itself))
    }

    /// `GET /groups`.
    pub fn list_groups(&self) -> Pages {
        self.pages(Read::new(ops::LIST_USER_GROUPS, &["groups"], "userGroups"))
    }

    /// `GET /groups/{userGroupId}`.
    pub async fn get_group(&self, id: &str) -> Result<PublicObject, PublicApiError> {
        self.get_object(Read::new(ops::GET_USER_GROUP, &["groups", id], "userGroup"))
            .await
    }

    /// `GET /groups/{userGroupId}/users`.
    pub fn list_group_users(&self, group_id: &str) -> Pages {
        self.pages(Read::new(
            ops::LIST_USERS_FROM_USER_GROUP,
            &["groups", group_id, "users"],
            "users",
        ))
    }

    /// `GET /groups/{userGroupId}/invites`: emails of the group's invitees.
    pub fn list_group_invites(&self, group_id: &str) -> Pages {
        self.pages(
            Read::new(
                ops::LIST_INVITES_FROM_USER_GROUP,
                &["groups", group_id, "invites"],
                "emails",
            )
            .key(Key::Itself),
        )
    }

    /// `GET /roles`.
    pub fn list_roles(&self) -> Pages {
        self.pages(Read::new(ops::LIST_ROLES, &["roles"], "roles"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::SecretSource;
    use serde_json::json;

    fn token(value: &str) -> Secret {
        Secret::new(value, SecretSource::EnvVar("T".into())).unwrap()
    }

    #[test]
    fn regions_pick_the_documented_hosts() {
        assert_eq!(
            PublicClientSettings::new(token("t")).base_url.as_str(),
            "https://api.segmentapis.com/"
        );
        let eu = PublicClientSettings::for_region(token("t"), Region::Eu);
        assert_eq!(eu.base_url.as_str(), "https://eu1.api.segmentapis.com/");
        assert_eq!("EU".parse::<Region>().unwrap(), Region::Eu);
        assert!("mars".parse::<Region>().is_err());
        let client = PublicClient::new(eu).unwrap();
        assert_eq!(client.inner.region, RegionHint::Eu);
        assert_eq!(client.default_rate(), DEFAULT_REQUESTS_PER_MINUTE);
    }

    #[test]
    fn objects_are_named_by_id_or_natural_key() {
        assert_eq!(Key::Id.name(&json!({"id": "src_1"})).unwrap(), "src_1");
        assert_eq!(
            Key::Label
                .name(&json!({"key": "env", "value": "prod"}))
                .unwrap(),
            "env:prod"
        );
        assert_eq!(
            Key::Rule
                .name(&json!({"type": "TRACK", "key": "Order Completed", "version": 2}))
                .unwrap(),
            "TRACK/Order Completed/2"
        );
        assert_eq!(
            Key::Rule
                .name(&json!({"type": "COMMON", "version": 1}))
                .unwrap(),
            "COMMON//1"
        );
        assert_eq!(Key::Itself.name(&json!("a@b.c")).unwrap(), "a@b.c");
        assert!(matches!(
            Key::Id.name(&json!({"slug": "x"})),
            Err(WireError::MissingKey { field: "id" })
        ));
    }

    #[test]
    fn debug_shows_keys_not_values_and_settings_hide_the_token() {
        let object = PublicObject {
            id: "d1".into(),
            body: json!({"id": "d1", "settings": {"apiKey": "hunter2"}}),
        };
        let shown = format!("{object:?}");
        assert!(
            shown.contains("settings") && !shown.contains("hunter2"),
            "{shown}"
        );
        let settings = PublicClientSettings::new(token("sgp_s3cr3t"));
        let shown = format!("{settings:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        let client = PublicClient::new(settings).unwrap();
        assert!(!format!("{client:?}").contains("s3cr3t"));
    }

    #[test]
    fn clients_and_pages_can_move_across_tasks() {
        fn send_and_sync<T: Send + Sync>(_: &T) {}
        fn send<T: Send>(_: &T) {}
        let client = PublicClient::new(PublicClientSettings::new(token("t"))).unwrap();
        send_and_sync(&client);
        send(&client.list_sources());
        send(&client.get_source("x"));
        send(&client.list_labels());
    }
}
