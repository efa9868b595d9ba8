//! The Config API client as the exporter's [`ConfigReader`]: one match from collections to the
//! client's typed read methods, and the translation of client errors into what the walk needs to
//! know (transient or not, fatal or not).

use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};

use super::collection::{Collection, ConfigReader, FunctionType, Page, ReadError};
use crate::config_api::{ConfigApiError, ConfigClient, FunctionKind, Pages, RawObject};

fn read_error(error: &ConfigApiError) -> ReadError {
    ReadError {
        message: crate::diagnostics::chain(error),
        transient: error.is_transient(),
        // Without a valid token nothing else can be read: stop rather than fail every collection.
        fatal: matches!(error, ConfigApiError::Unauthenticated { .. }),
    }
}

fn page(objects: Vec<RawObject>, last: bool) -> Page {
    Page {
        objects: objects.into_iter().map(|o| (o.name, o.body)).collect(),
        last,
    }
}

fn list(pages: Pages) -> BoxStream<'static, Result<Page, ReadError>> {
    pages
        .map_ok(|p| page(p.objects, p.last))
        .map_err(|e| read_error(&e))
        .boxed()
}

fn single<'a>(
    read: impl Future<Output = Result<Vec<RawObject>, ConfigApiError>> + Send + 'a,
) -> BoxStream<'a, Result<Page, ReadError>> {
    stream::once(async move {
        read.await
            .map(|objects| page(objects, true))
            .map_err(|e| read_error(&e))
    })
    .boxed()
}

impl ConfigReader for ConfigClient {
    fn pages<'a>(&'a self, collection: &'a Collection) -> BoxStream<'a, Result<Page, ReadError>> {
        match collection {
            Collection::Workspaces => list(self.list_workspaces()),
            Collection::AccessTokens => list(self.list_access_tokens()),
            Collection::CatalogSources => list(self.list_catalog_sources()),
            Collection::CatalogDestinations => list(self.list_catalog_destinations()),
            Collection::Sources { ws } => list(self.list_sources(ws)),
            Collection::SchemaConfig { ws, source } => {
                single(async move { self.get_schema_config(ws, source).await.map(|o| vec![o]) })
            }
            Collection::Destinations { ws, source } => list(self.list_destinations(ws, source)),
            Collection::Filters {
                ws,
                source,
                destination,
            } => list(self.list_filters(ws, source, destination)),
            Collection::TrackingPlans { ws } => list(self.list_tracking_plans(ws)),
            Collection::Connections { ws, plan } => list(self.list_source_connections(ws, plan)),
            Collection::Roles { ws } => list(self.list_roles(ws)),
            Collection::Policies { ws } => list(self.list_policies(ws)),
            Collection::Invites { ws } => list(self.list_invites(ws)),
            Collection::Users { ws } => list(self.list_users(ws)),
            Collection::Functions { ws_id, of_type } => list(self.list_functions(
                ws_id,
                match of_type {
                    FunctionType::Source => FunctionKind::Source,
                    FunctionType::Destination => FunctionKind::Destination,
                },
            )),
            Collection::DeliverySummaries { ws, destinations } => {
                single(async move { self.batch_delivery_summaries(ws, destinations, None).await })
            }
        }
    }
}
