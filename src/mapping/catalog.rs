//! Catalog resolution: which Public catalog item a Config catalog slug stands for.
//!
//! The order is fixed by `mappings/catalog.toml` (its header says why): a rename row, then the
//! same slug, then the stem of an extra instance (`google-analytics-2`) when the stem's catalog
//! name equals the instance's display name. Anything else is a blocker finding; previous names
//! are only used to name candidates, never to choose one, because two integrations can share a
//! former name and a renamed integration may have changed behaviour.

use serde_json::Value;

use super::{CatalogItem, Context, FindingCode, Mapped, last_segment};
use crate::model::Kind;

/// Which catalog to look in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogKind {
    Source,
    Destination,
}

/// How a slug was resolved.
#[derive(Debug, Clone)]
pub enum Resolution<'a> {
    Exact(&'a CatalogItem),
    Renamed(&'a CatalogItem),
    /// An extra instance of an integration: the stem's item.
    ExtraInstance(&'a CatalogItem),
    /// Candidates found only through previous names (or several): a person must choose.
    Ambiguous(Vec<&'a CatalogItem>),
    NotFound,
}

/// `slugify("Google Ads (Classic)")` = `google-ads-classic`: previous names are display names.
fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// `google-analytics-2` → `google-analytics`.
fn instance_stem(slug: &str) -> Option<&str> {
    let (stem, n) = slug.rsplit_once('-')?;
    (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && n != "0" && n != "1").then_some(stem)
}

/// Resolves a Config slug (and, for instances, the display name the Config API shows).
pub fn resolve<'a>(
    ctx: &Context<'a>,
    what: CatalogKind,
    slug: &str,
    display_name: Option<&str>,
) -> Resolution<'a> {
    let catalog = ctx.catalog;
    let (renames, items) = match what {
        CatalogKind::Source => (&ctx.tables.catalog.source_rename, &catalog.sources),
        CatalogKind::Destination => (
            &ctx.tables.catalog.destination_rename,
            &catalog.destinations,
        ),
    };
    let lookup = |s: &str| match what {
        CatalogKind::Source => catalog.source(s),
        CatalogKind::Destination => catalog.destination(s),
    };
    if let Some(row) = renames.iter().find(|r| r.config_slug == slug)
        && let Some(item) = lookup(&row.public_slug)
    {
        return Resolution::Renamed(item);
    }
    if let Some(item) = lookup(slug) {
        return Resolution::Exact(item);
    }
    if let (Some(stem), Some(display)) = (instance_stem(slug), display_name)
        && let Some(item) = lookup(stem)
        && item.name == display
    {
        return Resolution::ExtraInstance(item);
    }
    let candidates: Vec<&CatalogItem> = items
        .iter()
        .filter(|item| {
            item.previous_names
                .iter()
                .any(|p| slugify(p) == slug || Some(p.as_str()) == display_name)
        })
        .collect();
    if candidates.is_empty() {
        Resolution::NotFound
    } else {
        Resolution::Ambiguous(candidates)
    }
}

/// Records the findings of a resolution on `mapped` and returns the item when one was chosen.
/// `field` names the Config field holding the slug.
pub fn resolve_for<'a>(
    mapped: &mut Mapped,
    ctx: &Context<'a>,
    what: CatalogKind,
    slug: &str,
    display_name: Option<&str>,
    field: &str,
) -> Option<&'a CatalogItem> {
    match resolve(ctx, what, slug, display_name) {
        Resolution::Exact(item) => Some(item),
        Resolution::Renamed(item) => {
            mapped.find(
                FindingCode::CatalogRenamed,
                Some(field),
                format!(
                    "Integration `{slug}` is `{}` in the target catalog (rename row of \
                     mappings/catalog.toml).",
                    item.slug
                ),
            );
            Some(item)
        }
        Resolution::ExtraInstance(item) => {
            mapped.find(
                FindingCode::DestinationExtraInstance,
                Some(field),
                format!(
                    "`{slug}` is a further instance of `{}` on the same source.",
                    item.slug
                ),
            );
            Some(item)
        }
        Resolution::Ambiguous(candidates) => {
            let names: Vec<String> = candidates
                .iter()
                .map(|c| format!("`{}` ({})", c.slug, c.name))
                .collect();
            mapped.find(
                FindingCode::CatalogAmbiguous,
                Some(field),
                format!(
                    "Integration `{slug}` is not in the target catalog; it matches only through \
                     previous names: {}. Confirm the right one and add a rename row to \
                     mappings/catalog.toml.",
                    names.join(", ")
                ),
            );
            None
        }
        Resolution::NotFound => {
            mapped.find(
                FindingCode::CatalogNotFound,
                Some(field),
                format!("Integration `{slug}` has no counterpart in the target catalog."),
            );
            None
        }
    }
}

/// A Config catalog item (`catalog/sources/<slug>` or `catalog/destinations/<slug>`): matched,
/// not created. Items the workspace does not use are only informational when unmatched.
pub fn map_catalog_item(kind: Kind, config_name: &str, body: &Value, ctx: &Context<'_>) -> Mapped {
    let mut mapped = Mapped::new(kind, config_name);
    let what = if kind == Kind::CatalogSources {
        CatalogKind::Source
    } else {
        CatalogKind::Destination
    };
    let slug = last_segment(config_name);
    let display = body.get("display_name").and_then(Value::as_str);
    match resolve(ctx, what, slug, display) {
        Resolution::Exact(item) | Resolution::ExtraInstance(item) => {
            mapped.resolved_id = Some(item.id.clone());
        }
        Resolution::Renamed(item) => {
            mapped.resolved_id = Some(item.id.clone());
            mapped.find(
                FindingCode::CatalogRenamed,
                Some("name"),
                format!("`{slug}` is `{}` in the target catalog.", item.slug),
            );
        }
        Resolution::Ambiguous(candidates) => {
            let names: Vec<&str> = candidates.iter().map(|c| c.slug.as_str()).collect();
            mapped.find(
                FindingCode::CatalogNotInTarget,
                Some("name"),
                format!(
                    "`{slug}` is not in the target catalog; previous names suggest: {}. Objects \
                     that use it report this as a blocker.",
                    names.join(", ")
                ),
            );
        }
        Resolution::NotFound => mapped.find(
            FindingCode::CatalogNotInTarget,
            Some("name"),
            format!("`{slug}` is not in the target catalog."),
        ),
    }
    mapped
}
