//! The source and destination catalogs (`/catalog/sources`, `/catalog/destinations`), global and
//! read-only, paginated, items addressed by their metadata id (the `metadataId` creates take).
//! There is no lookup by slug, as on the real API: clients page through and build their map.

use axum::extract::{Path, RawQuery};
use serde_json::json;

use super::{Reply, Sim, ok};
use crate::sim::public::error::ApiError;
use crate::sim::public::paging::{Page, Params};
use crate::sim::public::wire;

pub async fn list_sources(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    let items = &store.catalog.sources;
    ok(page.render("sourcesCatalog", items.len(), |i| {
        wire::catalog_source(&items[i])
    }))
}

pub async fn get_source(sim: Sim, Path(id): Path<String>) -> Reply {
    let store = sim.store();
    let item = store
        .catalog
        .source_by_public_id(&id)
        .ok_or_else(ApiError::not_found)?;
    ok(json!({"sourceMetadata": wire::catalog_source(item)}))
}

pub async fn list_destinations(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    let items = &store.catalog.destinations;
    ok(page.render("destinationsCatalog", items.len(), |i| {
        wire::catalog_destination(&items[i])
    }))
}

pub async fn get_destination(sim: Sim, Path(id): Path<String>) -> Reply {
    let store = sim.store();
    let item = store
        .catalog
        .destination_by_public_id(&id)
        .ok_or_else(ApiError::not_found)?;
    ok(json!({"destinationMetadata": wire::catalog_destination(item)}))
}
