//! Workspaces: `GET /workspaces` and `GET /workspaces/{ws}`. Read-only; every token sees every
//! workspace the simulator serves (the real API listed the workspaces the token was granted).

use axum::Json;
use axum::extract::{Path, RawQuery};

use super::{Reply, Sim};
use crate::sim::config::paging::{Page, Params};
use crate::sim::config::wire;

pub async fn list(sim: Sim, RawQuery(query): RawQuery) -> Reply {
    let page = Page::from_params(
        &Params::parse(query.as_deref()),
        sim.options.default_page_size,
        sim.options.max_page_size,
    )?;
    let store = sim.store();
    Ok(Json(page.render(
        "workspaces",
        store.workspaces.len(),
        |i| wire::workspace(&store.workspaces[i]),
    )))
}

pub async fn get(sim: Sim, Path(ws): Path<String>) -> Reply {
    Ok(Json(wire::workspace(sim.store().workspace(&ws)?)))
}
