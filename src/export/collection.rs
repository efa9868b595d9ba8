//! The collections the exporter reads: one per list endpoint instance (the sources of a
//! workspace, the filters of one destination, …) plus the single objects read as collections of
//! one (a source's schema config). A collection's key is its API path, so a failure names the
//! endpoint and the resource, and the ledger records completion per key.

use futures::stream::BoxStream;
use serde_json::value::RawValue;

use crate::model::Kind;

/// What a function list is filtered by (the Config API requires the type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FunctionType {
    Source,
    Destination,
}

impl FunctionType {
    pub fn as_str(self) -> &'static str {
        match self {
            FunctionType::Source => "SOURCE",
            FunctionType::Destination => "DESTINATION",
        }
    }
}

/// One collection of the Config API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collection {
    Workspaces,
    AccessTokens,
    CatalogSources,
    CatalogDestinations,
    Sources {
        ws: String,
    },
    SchemaConfig {
        ws: String,
        source: String,
    },
    Destinations {
        ws: String,
        source: String,
    },
    Filters {
        ws: String,
        source: String,
        destination: String,
    },
    TrackingPlans {
        ws: String,
    },
    Connections {
        ws: String,
        plan: String,
    },
    Roles {
        ws: String,
    },
    Policies {
        ws: String,
    },
    Invites {
        ws: String,
    },
    Users {
        ws: String,
    },
    Functions {
        ws_id: String,
        of_type: FunctionType,
    },
    /// Delivery summaries of a batch of destinations (full Config names).
    DeliverySummaries {
        ws: String,
        destinations: Vec<String>,
    },
}

impl Collection {
    /// The kind of the objects in this collection.
    pub fn kind(&self) -> Kind {
        match self {
            Collection::Workspaces => Kind::Workspaces,
            Collection::AccessTokens => Kind::AccessTokens,
            Collection::CatalogSources => Kind::CatalogSources,
            Collection::CatalogDestinations => Kind::CatalogDestinations,
            Collection::Sources { .. } => Kind::Sources,
            Collection::SchemaConfig { .. } => Kind::SchemaConfigs,
            Collection::Destinations { .. } => Kind::Destinations,
            Collection::Filters { .. } => Kind::DestinationFilters,
            Collection::TrackingPlans { .. } => Kind::TrackingPlans,
            Collection::Connections { .. } => Kind::TrackingPlanConnections,
            Collection::Roles { .. } => Kind::Roles,
            Collection::Policies { .. } => Kind::Policies,
            Collection::Invites { .. } => Kind::Invites,
            Collection::Users { .. } => Kind::Users,
            Collection::Functions { .. } => Kind::Functions,
            Collection::DeliverySummaries { .. } => Kind::DeliveryMetrics,
        }
    }

    /// The API path of the collection (relative to `/v1beta`), also its key in the ledger.
    pub fn key(&self) -> String {
        match self {
            Collection::Workspaces => "workspaces".into(),
            Collection::AccessTokens => "access-tokens".into(),
            Collection::CatalogSources => "catalog/sources".into(),
            Collection::CatalogDestinations => "catalog/destinations".into(),
            Collection::Sources { ws } => format!("workspaces/{ws}/sources"),
            Collection::SchemaConfig { ws, source } => {
                format!("workspaces/{ws}/sources/{source}/schema-config")
            }
            Collection::Destinations { ws, source } => {
                format!("workspaces/{ws}/sources/{source}/destinations")
            }
            Collection::Filters {
                ws,
                source,
                destination,
            } => format!("workspaces/{ws}/sources/{source}/destinations/{destination}/filters"),
            Collection::TrackingPlans { ws } => format!("workspaces/{ws}/tracking-plans"),
            Collection::Connections { ws, plan } => {
                format!("workspaces/{ws}/tracking-plans/{plan}/source-connections")
            }
            Collection::Roles { ws } => format!("workspaces/{ws}/roles"),
            Collection::Policies { ws } => format!("workspaces/{ws}/roles/-/policies"),
            Collection::Invites { ws } => format!("workspaces/{ws}/invites"),
            Collection::Users { ws } => format!("workspaces/{ws}/users"),
            Collection::Functions { ws_id, of_type } => {
                format!("workspaces/{ws_id}/functions?type={}", of_type.as_str())
            }
            Collection::DeliverySummaries { ws, destinations } => format!(
                "workspaces/{ws}/event-delivery-metrics:batchGetSummary?first={}&count={}",
                destinations.first().map_or("", String::as_str),
                destinations.len()
            ),
        }
    }
}

/// One page of a collection: objects keyed by their Config name, in API order, each body as the
/// text the API sent.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub objects: Vec<(String, Box<RawValue>)>,
    /// The API said no page follows.
    pub last: bool,
}

/// Why a collection could not be read, after the client's own retries.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ReadError {
    pub message: String,
    /// Whether trying again later may succeed (a network or server problem), as opposed to a
    /// request the API will always refuse.
    pub transient: bool,
    /// An authentication failure: no point reading anything else with this token.
    pub fatal: bool,
}

/// Where the exporter reads from: the Config API client in production.
pub trait ConfigReader: Send + Sync {
    /// The pages of `collection`, in order, each after the previous one was consumed.
    fn pages<'a>(&'a self, collection: &'a Collection) -> BoxStream<'a, Result<Page, ReadError>>;
}
