//! The source and destination catalogs (`/catalog/sources`, `/catalog/destinations`), served
//! from the embedded catalog in the real dump's wire shape. The catalog is global: it is the same
//! for every workspace and token.

use axum::Json;
use axum::extract::{Path, RawQuery};

use super::{Reply, Sim};
use crate::sim::config::error::ApiError;
use crate::sim::config::paging::{Page, Params};

fn page(sim: &Sim, query: Option<&str>) -> Result<Page, ApiError> {
    Page::from_params(
        &Params::parse(query),
        sim.options.default_page_size,
        sim.options.max_page_size,
    )
}

pub async fn list_sources(sim: Sim, RawQuery(query): RawQuery) -> Reply {
    let page = page(&sim, query.as_deref())?;
    let catalog = sim.store().catalog;
    Ok(Json(page.render("sources", catalog.sources.len(), |i| {
        catalog.sources[i].config_wire.clone()
    })))
}

pub async fn get_source(sim: Sim, Path(slug): Path<String>) -> Reply {
    let catalog = sim.store().catalog;
    let item = catalog
        .source(&slug)
        .ok_or_else(|| ApiError::not_found(format!("catalog source `catalog/sources/{slug}`")))?;
    Ok(Json(item.config_wire.clone()))
}

pub async fn list_destinations(sim: Sim, RawQuery(query): RawQuery) -> Reply {
    let page = page(&sim, query.as_deref())?;
    let catalog = sim.store().catalog;
    Ok(Json(page.render(
        "destinations",
        catalog.destinations.len(),
        |i| catalog.destinations[i].config_wire.clone(),
    )))
}

pub async fn get_destination(sim: Sim, Path(slug): Path<String>) -> Reply {
    let catalog = sim.store().catalog;
    let item = catalog.destination(&slug).ok_or_else(|| {
        ApiError::not_found(format!("catalog destination `catalog/destinations/{slug}`"))
    })?;
    Ok(Json(item.config_wire.clone()))
}
