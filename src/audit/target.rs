//! Reading the target: everything of the audited kinds the Public API holds, through the
//! read-only [`PublicClient`], into a [`TargetState`] the pure comparison takes as input.
//!
//! Lists are read whole rather than object by object: an object the ledger knows but the list
//! lacks is missing, and an object the list has but the ledger does not know is unexpected, so
//! both questions need the list anyway. Per-object reads remain only where a list leaves fields
//! out: a function's code and settings, a plan's rules and sources, a source's schema settings
//! (the latter only for the sources whose schema settings are audited).
//!
//! Invariant: only [`PublicClient`] is used, which can send nothing but GETs.
//!
//! The per-object reads go [`READS_AT_ONCE`] at a time, in order: one at a time, the read was
//! bound by the latency of each request, not by the rate limit.

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, stream};

use crate::mapping::{TargetCatalog, TextList, TextMap};
use crate::model::{JsonText, Kind};
use crate::plan::TargetError;
use crate::plan::target::{read, read_catalog};
use crate::progress::Reporter;
use crate::public_api::{
    FunctionType, Listed, ProjectedPages, PublicApiError, PublicClient, PublicObject,
};

/// What the target holds, as the Public API returned it, keyed by id; each listed body is cut
/// down to the fields the audit compares as it is read (the `…_FIELDS` lists below) and kept as
/// text ([`JsonText`]).
#[derive(Debug, Clone, Default)]
pub struct TargetState {
    pub workspace_id: String,
    pub workspace_name: String,
    pub catalog: TargetCatalog,
    pub sources: BTreeMap<String, JsonText>,
    /// Destination id → the destination, compressed with the others (1.3 MB of text on `large`).
    pub destinations: TextMap,
    /// Destination id → its filters, in the order the API lists them (the order they apply in),
    /// compressed together (after the rules, they are the bulk of the target side: 3.8 MB of
    /// text on `large`).
    pub filters: TextMap,
    pub tracking_plans: BTreeMap<String, JsonText>,
    /// Plan id → rules, compressed (they are the bulk of the target side).
    pub rules: BTreeMap<String, TextList>,
    /// Plan id → ids of the sources connected to it.
    pub plan_sources: BTreeMap<String, Vec<String>>,
    /// Function id → the function with code and settings.
    pub functions: BTreeMap<String, JsonText>,
    /// Source id → its schema settings (`settings` of `GET /sources/{id}/settings`).
    pub schema_settings: BTreeMap<String, JsonText>,
}

/// Reads a list page by page into a map by id, each object already cut to the fields the audit
/// compares (see [`PublicClient::list_projected`]): what it does not compare is never parsed.
async fn by_id(mut pages: ProjectedPages) -> Result<BTreeMap<String, JsonText>, PublicApiError> {
    let mut out = BTreeMap::new();
    while let Some(page) = pages.next().await {
        for object in page?.objects {
            out.insert(object.id, JsonText::from_text(object.text));
        }
    }
    Ok(out)
}

/// [`by_id`] into a [`TextMap`], each object its id's one text.
async fn by_id_compressed(mut pages: ProjectedPages) -> Result<TextMap, PublicApiError> {
    let mut out = TextMap::default();
    while let Some(page) = pages.next().await {
        for object in page?.objects {
            out.insert(object.id, [object.text]);
        }
    }
    out.seal();
    Ok(out)
}

/// Every page of a list, each object cut as in [`by_id`], as text.
async fn texts(mut pages: ProjectedPages) -> Result<Vec<String>, PublicApiError> {
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        out.extend(page?.objects.into_iter().map(|object| object.text));
    }
    Ok(out)
}

/// Every page of a list, each object cut as in [`by_id`], compressed.
async fn all(mut pages: ProjectedPages) -> Result<TextList, PublicApiError> {
    let mut out = TextList::default();
    while let Some(page) = pages.next().await {
        for object in page?.objects {
            out.push(&object.text);
        }
    }
    out.seal();
    Ok(out)
}

/// Per-object reads in flight at once: with a tenth of a second of latency, eight keep more
/// than the default limit's 1,000 requests a minute on the way, so the limit sets the pace.
pub const READS_AT_ONCE: usize = 8;

/// What is kept of each object read, per list: the fields of the shapes in [`super::actual`],
/// `id` where an object is found by it in a list, and what the delivery check reads of a
/// destination (`sourceId`, `enabled`). A `metadata` (a catalog item, larger than the rest of
/// a destination) is cut to its `id`, all of it the audit compares.
const SOURCE_FIELDS: &[&str] = &["slug", "name", "metadata", "settings", "labels"];

const DESTINATION_FIELDS: &[&str] = &["name", "metadata", "sourceId", "settings", "enabled"];

/// `id` too: the comparison finds a filter by it.
const FILTER_FIELDS: &[&str] = {
    let [a, b, c, d, e, f] = super::actual::FILTER_FIELDS;
    &["id", a, b, c, d, e, f]
};

const PLAN_FIELDS: &[&str] = &["name", "type"];

const RULE_FIELDS: &[&str] = &["type", "key", "version", "jsonSchema"];

/// What to read beyond the lists.
#[derive(Debug, Clone, Default)]
pub struct TargetWants {
    pub kinds: BTreeSet<Kind>,
    /// Sources whose schema settings are audited.
    pub schema_sources: BTreeSet<String>,
}

/// Reads the target. The catalogs are always read: the mapping needs them for the expected side.
/// `workspace` is the token's workspace (`GET /`), which the caller read to name the target.
pub async fn read_target(
    client: &PublicClient,
    workspace: &PublicObject,
    wants: &TargetWants,
    reporter: &dyn Reporter,
) -> Result<TargetState, TargetError> {
    let wanted = |k: Kind| wants.kinds.contains(&k);
    let mut state = TargetState {
        workspace_id: workspace.id.clone(),
        workspace_name: workspace.str_field("name").unwrap_or_default().to_owned(),
        catalog: read_catalog(client, reporter).await?,
        ..TargetState::default()
    };

    if wanted(Kind::Sources) || wanted(Kind::SchemaConfigs) {
        reporter.collection_started(Kind::Sources, "sources");
        state.sources = by_id(client.list_projected(Listed::Sources, SOURCE_FIELDS))
            .await
            .map_err(read("the sources"))?;
        reporter.stored(Kind::Sources, state.sources.len() as u64);
    }
    let sources: Vec<&String> = wants
        .schema_sources
        .iter()
        .filter(|id| state.sources.contains_key(*id))
        .collect();
    let mut settings = stream::iter(sources)
        .map(|id| async move {
            reporter.collection_started(Kind::SchemaConfigs, &format!("sources/{id}/settings"));
            (id, client.get_source_settings(id).await)
        })
        .buffered(READS_AT_ONCE);
    while let Some((id, read_one)) = settings.next().await {
        match read_one {
            Ok(settings) => {
                let settings = settings.body.get("settings").cloned().unwrap_or_default();
                state.schema_settings.insert(id.clone(), settings.into());
                reporter.stored(Kind::SchemaConfigs, 1);
            }
            // Deleted between the list and this read: it is simply missing.
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(read("the schema settings of a source")(e)),
        }
    }
    drop(settings);
    if wanted(Kind::Destinations) || wanted(Kind::DestinationFilters) {
        reporter.collection_started(Kind::Destinations, "destinations");
        state.destinations =
            by_id_compressed(client.list_projected(Listed::Destinations, DESTINATION_FIELDS))
                .await
                .map_err(read("the destinations"))?;
        reporter.stored(Kind::Destinations, state.destinations.len() as u64);
    }
    if wanted(Kind::DestinationFilters) {
        let mut lists = stream::iter(state.destinations.keys())
            .map(|id| async move {
                reporter.collection_started(
                    Kind::DestinationFilters,
                    &format!("destination/{id}/filters"),
                );
                let filters = Listed::Filters { destination_id: id };
                (
                    id,
                    texts(client.list_projected(filters, FILTER_FIELDS)).await,
                )
            })
            .buffered(READS_AT_ONCE);
        while let Some((id, list)) = lists.next().await {
            let list = match list {
                Ok(list) => list,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(read("the filters of a destination")(e)),
            };
            reporter.stored(Kind::DestinationFilters, list.len() as u64);
            state.filters.insert(id.to_owned(), list);
        }
        state.filters.seal();
    }
    if wanted(Kind::TrackingPlans) || wanted(Kind::TrackingPlanConnections) {
        reporter.collection_started(Kind::TrackingPlans, "tracking-plans");
        let plans = Listed::TrackingPlans { plan_type: None };
        state.tracking_plans = by_id(client.list_projected(plans, PLAN_FIELDS))
            .await
            .map_err(read("the tracking plans"))?;
        let mut plans = stream::iter(state.tracking_plans.keys())
            .map(|id| async move {
                let rules = if wanted(Kind::TrackingPlans) {
                    reporter.collection_started(Kind::TrackingPlans, &format!("{id}/rules"));
                    let rules = Listed::Rules { plan_id: id };
                    Some(all(client.list_projected(rules, RULE_FIELDS)).await)
                } else {
                    None
                };
                let sources = if wanted(Kind::TrackingPlanConnections) {
                    reporter.collection_started(
                        Kind::TrackingPlanConnections,
                        &format!("{id}/sources"),
                    );
                    Some(client.list_tracking_plan_sources(id).all().await)
                } else {
                    None
                };
                (id, rules, sources)
            })
            .buffered(READS_AT_ONCE);
        while let Some((id, rules, sources)) = plans.next().await {
            match rules {
                Some(Ok(rules)) => {
                    state.rules.insert(id.clone(), rules);
                }
                Some(Err(e)) if !e.is_not_found() => {
                    return Err(read("the rules of a tracking plan")(e));
                }
                _ => {}
            }
            match sources {
                Some(Ok(sources)) => {
                    state
                        .plan_sources
                        .insert(id.clone(), sources.into_iter().map(|s| s.id).collect());
                }
                Some(Err(e)) if !e.is_not_found() => {
                    return Err(read("the sources of a tracking plan")(e));
                }
                _ => {}
            }
            reporter.stored(Kind::TrackingPlans, 1);
        }
    }
    if wanted(Kind::Functions) {
        for function_type in FunctionType::ALL {
            reporter.collection_started(
                Kind::Functions,
                &format!("functions?resourceType={}", function_type.as_str()),
            );
            let items = client
                .list_functions(function_type)
                .all()
                .await
                .map_err(read("the functions"))?;
            // The list leaves out code and settings.
            let mut functions = stream::iter(items)
                .map(|item| async move { client.get_function(&item.id).await })
                .buffered(READS_AT_ONCE);
            while let Some(function) = functions.next().await {
                match function {
                    Ok(function) => {
                        state.functions.insert(function.id, function.body.into());
                    }
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(read("a function")(e)),
                }
                reporter.stored(Kind::Functions, 1);
            }
        }
    }
    Ok(state)
}
