//! Deletion and suppression (`/regulations`, `/suppressions`).
//!
//! Regulations are per-end-user requests, not configuration, so a migration rarely copies them;
//! they are served so that a client can be exercised against them. A regulation finishes at once
//! (there is no data to delete). Suppressions are the subjects of `SUPPRESS_*` regulations not
//! lifted by a later `UNSUPPRESS`, grouped by subject type. `subjectIds` must not be empty
//! (INFERRED), a source-scoped regulation needs an existing source (404 otherwise). Creates are
//! limited to 600 requests per minute, documented.

use axum::extract::{Path, RawQuery};
use serde_json::json;

use super::{Input, Reply, Sim, ok};
use crate::sim::public::error::ApiError;
use crate::sim::public::paging::{Page, Params};
use crate::sim::public::store::{Regulation, RegulationScope};
use crate::sim::public::wire;

const STATUSES: &[&str] = &[
    "FAILED",
    "FINISHED",
    "INITIALIZED",
    "INVALID",
    "NOT_SUPPORTED",
    "PARTIAL_SUCCESS",
    "RUNNING",
];

/// Which regulations a list query keeps (`status`, `regulationTypes`).
fn filter(params: &Params) -> Result<impl Fn(&Regulation) -> bool, ApiError> {
    let status = params.get("status").map(str::to_owned);
    if let Some(status) = &status
        && !STATUSES.contains(&status.as_str())
    {
        return Err(ApiError::field(
            "status",
            &format!("must be one of [{}]", STATUSES.join(", ")),
        ));
    }
    let types = params.list("regulationTypes");
    Ok(move |r: &Regulation| {
        // Every simulated regulation is FINISHED.
        status.as_deref().is_none_or(|s| s == "FINISHED")
            && (types.is_empty() || types.contains(&r.regulation_type))
    })
}

pub async fn list(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let params = Params::parse(q.as_deref());
    let page = Page::from_params(&params)?;
    let keep = filter(&params)?;
    let store = sim.store();
    let matching: Vec<&Regulation> = store.regulations.iter().filter(|r| keep(r)).collect();
    ok(page.render("regulations", matching.len(), |i| {
        wire::regulation_entry(matching[i])
    }))
}

pub async fn get(sim: Sim, Path(id): Path<String>) -> Reply {
    let store = sim.store();
    let regulation = store
        .regulations
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(ApiError::not_found)?;
    ok(json!({"regulation": wire::regulation(&store, regulation)}))
}

pub async fn list_for_source(
    sim: Sim,
    Path(source_id): Path<String>,
    RawQuery(q): RawQuery,
) -> Reply {
    let params = Params::parse(q.as_deref());
    let page = Page::from_params(&params)?;
    let keep = filter(&params)?;
    let store = sim.store();
    store.source(&source_id)?;
    let matching: Vec<&Regulation> = store
        .regulations
        .iter()
        .filter(|r| r.scope == RegulationScope::Source(source_id.clone()) && keep(r))
        .collect();
    // This list takes pagination but its output has no pagination object (documented).
    let end = page.offset.saturating_add(page.count).min(matching.len());
    let items: Vec<_> = matching[page.offset.min(end)..end]
        .iter()
        .map(|r| wire::regulation_entry(r))
        .collect();
    ok(json!({ "regulations": items }))
}

fn create(sim: &Sim, scope: RegulationScope, call: &super::Call) -> Reply {
    let subject_ids: Vec<String> = call
        .array("subjectIds")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    if subject_ids.is_empty() {
        return Err(ApiError::field(
            "subjectIds",
            "must contain at least 1 items",
        ));
    }
    let mut store = sim.store();
    if let RegulationScope::Source(id) | RegulationScope::CloudSource(id) = &scope {
        store.source(id)?;
    }
    let id = store.new_id("", 27);
    store.regulations.push(Regulation {
        id: id.clone(),
        scope,
        regulation_type: call.str("regulationType").unwrap_or_default().to_owned(),
        subject_type: call.str("subjectType").unwrap_or_default().to_owned(),
        subject_ids,
        collection: call.str("collection").map(str::to_owned),
        created_at: wire::now_timestamp(),
    });
    ok(json!({ "regulateId": id }))
}

pub async fn create_for_workspace(sim: Sim, axum::Extension(call): Input) -> Reply {
    create(&sim, RegulationScope::Workspace, &call)
}

pub async fn create_for_source(
    sim: Sim,
    Path(source_id): Path<String>,
    axum::Extension(call): Input,
) -> Reply {
    create(&sim, RegulationScope::Source(source_id), &call)
}

pub async fn create_for_cloud_source(
    sim: Sim,
    Path(source_id): Path<String>,
    axum::Extension(call): Input,
) -> Reply {
    create(&sim, RegulationScope::CloudSource(source_id), &call)
}

pub async fn list_suppressions(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    // Subject type → suppressed ids, in the order types first appear.
    let mut suppressed: Vec<(String, Vec<String>)> = Vec::new();
    for regulation in &store.regulations {
        let index = match suppressed
            .iter()
            .position(|(t, _)| *t == regulation.subject_type)
        {
            Some(index) => index,
            None => {
                suppressed.push((regulation.subject_type.clone(), Vec::new()));
                suppressed.len() - 1
            }
        };
        let ids = &mut suppressed[index].1;
        if regulation.regulation_type.starts_with("SUPPRESS") {
            for id in &regulation.subject_ids {
                if !ids.contains(id) {
                    ids.push(id.clone());
                }
            }
        } else if regulation.regulation_type == "UNSUPPRESS" {
            ids.retain(|id| !regulation.subject_ids.contains(id));
        }
    }
    suppressed.retain(|(_, ids)| !ids.is_empty());
    ok(page.render(
        "suppressed",
        suppressed.len(),
        |i| json!({"subjectType": suppressed[i].0, "subjectIds": suppressed[i].1}),
    ))
}
