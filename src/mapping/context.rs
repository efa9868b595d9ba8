//! What the mapping knows besides the object itself: the tables, the target catalog, the
//! target's roles and workspace, the ids already known, and the exported functions (to tell
//! which function a function-instance source runs).
//!
//! Everything here is read from Public API answers (or the snapshot) by the planner and handed
//! in; nothing is fetched. Catalog items are parsed from `SourceMetadataV1` /
//! `DestinationMetadataV1` JSON exactly as `GET /catalog/...` returns them, so the planner can
//! pass the pages it read without a conversion of its own.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::IdMap;
use super::tables::Tables;

/// One Public catalog item (source or destination metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogItem {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub previous_names: Vec<String>,
    /// `options[].name`: the setting keys the integration accepts.
    pub options: HashSet<String>,
    /// `supportedFeatures.cloudModeInstances` says at most one instance per source.
    pub single_instance: bool,
}

/// A catalog item that could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("catalog item {index} of the {what} catalog lacks `{field}`")]
pub struct CatalogItemError {
    pub what: &'static str,
    pub index: usize,
    pub field: &'static str,
}

impl CatalogItem {
    /// The fields of a catalog item [`CatalogItem::parse`] reads: a reader may leave out the
    /// rest (most of an item: descriptions, logos, each option's details).
    pub const FIELDS: &'static [&'static str] = &[
        "id",
        "slug",
        "name",
        "previousNames",
        "options",
        "supportedFeatures",
    ];

    /// The item at `index` of the `what` (`source`, `destination`) catalog.
    pub fn parse(item: &Value, what: &'static str, index: usize) -> Result<Self, CatalogItemError> {
        let text = |field: &'static str| {
            item.get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(CatalogItemError { what, index, field })
        };
        let strings = |field: &str, inner: Option<&str>| -> Vec<String> {
            item.get(field)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|v| match inner {
                    Some(key) => v.get(key).and_then(Value::as_str),
                    None => v.as_str(),
                })
                .map(str::to_owned)
                .collect()
        };
        let instances = item
            .pointer("/supportedFeatures/cloudModeInstances")
            .and_then(Value::as_str)
            .unwrap_or("");
        Ok(CatalogItem {
            id: text("id")?,
            slug: text("slug")?,
            name: text("name")?,
            previous_names: strings("previousNames", None),
            options: strings("options", Some("name")).into_iter().collect(),
            single_instance: matches!(instances, "0" | "1" | "NONE" | "SINGLE"),
        })
    }
}

/// The target's catalog, indexed by slug.
#[derive(Debug, Clone, Default)]
pub struct TargetCatalog {
    pub sources: Vec<CatalogItem>,
    pub destinations: Vec<CatalogItem>,
    source_by_slug: HashMap<String, usize>,
    destination_by_slug: HashMap<String, usize>,
}

impl TargetCatalog {
    /// From the items of `GET /catalog/sources` and `GET /catalog/destinations`.
    pub fn from_public<'a>(
        sources: impl IntoIterator<Item = &'a Value>,
        destinations: impl IntoIterator<Item = &'a Value>,
    ) -> Result<TargetCatalog, CatalogItemError> {
        let sources = sources
            .into_iter()
            .enumerate()
            .map(|(i, v)| CatalogItem::parse(v, "source", i))
            .collect::<Result<Vec<_>, _>>()?;
        let destinations = destinations
            .into_iter()
            .enumerate()
            .map(|(i, v)| CatalogItem::parse(v, "destination", i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TargetCatalog::from_items(sources, destinations))
    }

    /// From the items of both catalogs, already read.
    pub fn from_items(sources: Vec<CatalogItem>, destinations: Vec<CatalogItem>) -> TargetCatalog {
        let index = |items: &[CatalogItem]| {
            items
                .iter()
                .enumerate()
                .map(|(i, item)| (item.slug.clone(), i))
                .collect()
        };
        TargetCatalog {
            source_by_slug: index(&sources),
            destination_by_slug: index(&destinations),
            sources,
            destinations,
        }
    }

    pub fn source(&self, slug: &str) -> Option<&CatalogItem> {
        self.source_by_slug.get(slug).map(|&i| &self.sources[i])
    }

    pub fn destination(&self, slug: &str) -> Option<&CatalogItem> {
        self.destination_by_slug
            .get(slug)
            .map(|&i| &self.destinations[i])
    }
}

/// A role of the target (`GET /roles`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRole {
    pub id: String,
    pub name: String,
}

/// What the export says about one function: enough to recognise its instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFunction {
    /// The Config function id (also its key in the snapshot).
    pub id: String,
    /// `SOURCE` or `DESTINATION`.
    pub kind: String,
    pub display_name: String,
    /// Setting names, sorted.
    pub setting_names: Vec<String>,
}

impl ExportedFunction {
    /// From a Config function object; `None` when it has no id.
    pub fn from_config(function: &Value) -> Option<ExportedFunction> {
        let mut setting_names: Vec<String> = function
            .get("settings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("name").and_then(Value::as_str).map(str::to_owned))
            .collect();
        setting_names.sort();
        Some(ExportedFunction {
            id: function.get("id")?.as_str()?.to_owned(),
            kind: function
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            setting_names,
            display_name: function
                .get("display_name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

/// Everything a mapping function reads besides the object.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub tables: &'a Tables,
    pub catalog: &'a TargetCatalog,
    pub roles: &'a [TargetRole],
    /// The target workspace id (`GET /`), when known.
    pub workspace_id: Option<&'a str>,
    pub ids: &'a IdMap,
    pub functions: &'a [ExportedFunction],
    /// The caller reads only the natural keys of what is mapped (the planner's first pass,
    /// whose objects are dropped once their keys are read): a mapping may leave out payloads
    /// no key is made of, a tracking plan's rules, the bulk of a plan's mapping.
    pub keys_only: bool,
}
