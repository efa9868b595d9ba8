//! Reading the target: one read-only pass over everything the planner compares the snapshot
//! with, into a [`TargetView`] the pure planner ([`super::build`]) takes as input.
//!
//! Every list is read once, in full, and indexed in memory by the planner, rather than through
//! the per-object `find_*` lookups of [`crate::public_api::lookup`]: those re-list the collection
//! on each call, which is right for the executor's occasional reconciliation but would cost one
//! full listing per snapshot object here. The natural keys are the same.
//!
//! Only [`PublicClient`] is used: it cannot send anything but GETs, so this module cannot write
//! to the target whatever it does.

use futures::StreamExt;
use serde_json::Value;

use crate::mapping::{CatalogItem, TargetCatalog, TargetRole};
use crate::model::{JsonText, Kind};
use crate::progress::Reporter;
use crate::public_api::{FunctionType, Listed, PublicApiError, PublicClient, PublicObject};

/// What the target workspace holds, as the Public API returned it.
#[derive(Debug, Clone, Default)]
pub struct TargetView {
    /// `GET /`: id, slug and name of the token's workspace.
    pub workspace_id: String,
    pub workspace_slug: String,
    pub catalog: TargetCatalog,
    pub roles: Vec<TargetRole>,
    pub sources: Vec<PublicObject>,
    /// Every destination (each carries its `sourceId` and `metadata.id`).
    pub destinations: Vec<PublicObject>,
    /// The filters of every destination, with the destination's id.
    pub filters: Vec<(String, PublicObject)>,
    pub tracking_plans: Vec<PublicObject>,
    /// Functions of every type.
    pub functions: Vec<PublicObject>,
    /// Labels, named `key:value`.
    pub labels: Vec<PublicObject>,
    pub users: Vec<PublicObject>,
}

/// Why the target could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("cannot read {what} of the target workspace")]
    Read {
        what: &'static str,
        // Boxed: the API error is large and this enum travels up every `?`.
        #[source]
        source: Box<PublicApiError>,
    },
    #[error("the target catalog cannot be used")]
    Catalog(#[from] crate::mapping::CatalogItemError),
}

/// Names what could not be read (shared with the audit, which reads the target too).
pub(crate) fn read(what: &'static str) -> impl FnOnce(PublicApiError) -> TargetError {
    move |source| TargetError::Read {
        what,
        source: Box::new(source),
    }
}

/// Reads both catalogs of the target (the mapping resolves catalog names against them).
pub(crate) async fn read_catalog(
    client: &PublicClient,
    reporter: &dyn Reporter,
) -> Result<TargetCatalog, TargetError> {
    reporter.collection_started(Kind::CatalogSources, "catalog/sources");
    let sources = catalog_items(
        client,
        Listed::CatalogSources,
        "source",
        "the source catalog",
    );
    let sources = sources.await?;
    reporter.collection_started(Kind::CatalogDestinations, "catalog/destinations");
    let destinations = catalog_items(
        client,
        Listed::CatalogDestinations,
        "destination",
        "the destination catalog",
    );
    let destinations = destinations.await?;
    Ok(TargetCatalog::from_items(sources, destinations))
}

/// The items of the `what` catalog, read page by page for the fields [`CatalogItem`] keeps:
/// the catalogs are the largest lists the target has (a destination's item describes each of
/// its settings), and were held whole, parsed, only to keep a few names of each item.
/// `reading` names the read in an error.
async fn catalog_items(
    client: &PublicClient,
    list: Listed<'_>,
    what: &'static str,
    reading: &'static str,
) -> Result<Vec<CatalogItem>, TargetError> {
    let mut pages = client.list_projected(list, CatalogItem::FIELDS);
    let mut items = Vec::new();
    while let Some(page) = pages.next().await {
        for object in page.map_err(read(reading))?.objects {
            let item = JsonText::from_text(object.text).value();
            items.push(CatalogItem::parse(&item, what, items.len())?);
        }
    }
    Ok(items)
}

/// Reads the target through `client`, telling `reporter` which collection is being read.
pub async fn read_target(
    client: &PublicClient,
    reporter: &dyn Reporter,
) -> Result<TargetView, TargetError> {
    reporter.collection_started(Kind::Workspaces, "/");
    let workspace = client
        .get_workspace()
        .await
        .map_err(read("the workspace record"))?;
    let catalog = read_catalog(client, reporter).await?;
    reporter.collection_started(Kind::Roles, "roles");
    let roles = client
        .list_roles()
        .all()
        .await
        .map_err(read("the roles"))?
        .into_iter()
        .map(|r| TargetRole {
            name: r.str_field("name").unwrap_or_default().to_owned(),
            id: r.id,
        })
        .collect();
    reporter.collection_started(Kind::Sources, "sources");
    let sources = client
        .list_sources()
        .all()
        .await
        .map_err(read("the sources"))?;
    reporter.collection_started(Kind::Destinations, "destinations");
    let destinations = client
        .list_destinations()
        .all()
        .await
        .map_err(read("the destinations"))?;
    let mut filters = Vec::new();
    for destination in &destinations {
        reporter.collection_started(
            Kind::DestinationFilters,
            &format!("destination/{}/filters", destination.id),
        );
        let list = client
            .list_filters(&destination.id)
            .all()
            .await
            .map_err(read("the filters of a destination"))?;
        filters.extend(list.into_iter().map(|f| (destination.id.clone(), f)));
    }
    reporter.collection_started(Kind::TrackingPlans, "tracking-plans");
    let tracking_plans = client
        .list_tracking_plans(None)
        .all()
        .await
        .map_err(read("the tracking plans"))?;
    let mut functions = Vec::new();
    for function_type in FunctionType::ALL {
        reporter.collection_started(
            Kind::Functions,
            &format!("functions?resourceType={}", function_type.as_str()),
        );
        functions.extend(
            client
                .list_functions(function_type)
                .all()
                .await
                .map_err(read("the functions"))?,
        );
    }
    reporter.collection_started(Kind::Sources, "labels");
    let labels = client.list_labels().await.map_err(read("the labels"))?;
    reporter.collection_started(Kind::Users, "users");
    let users = client.list_users().all().await.map_err(read("the users"))?;
    let text = |key: &str| {
        workspace
            .body
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Ok(TargetView {
        workspace_id: workspace.id.clone(),
        workspace_slug: text("slug"),
        catalog,
        roles,
        sources,
        destinations,
        filters,
        tracking_plans,
        functions,
        labels,
        users,
    })
}
