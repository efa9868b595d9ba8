//! The Config simulator's state: the workspaces it serves, the tokens it accepts, and the
//! lookups every handler needs. Handlers lock the store for the duration of one request and never
//! hold the lock across an `.await`, so the simulator behaves as a linearizable single backend.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::error::{ApiError, ApiResult};
use super::wire;
use crate::sim::catalog::{Catalog, CatalogDestination};
use crate::sim::rng::{BASE62, BASE64URL, Rng};
use crate::sim::workspace::{Destination, Function, Source, TrackingPlan, Workspace};

/// What a token may do. The Config API had `workspace` (read/write) and `workspace:read` scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    ReadWrite,
    ReadOnly,
}

/// Behaviours the references leave open, as switches (see docs/simulators.md).
#[derive(Debug, Clone)]
pub struct ConfigOptions {
    /// Return PASSWORD settings and sensitive function settings masked (`••••••••••abcd`)
    /// instead of in clear. The real Config API's behaviour is unconfirmed; clear is the default
    /// because every captured example shows clear values.
    pub mask_secrets: bool,
    /// Page size when a list request gives none (INFERRED; the docs say 10 or 100 by endpoint).
    pub default_page_size: usize,
    /// Largest page size served; larger requests are clamped (INFERRED; 100 is known to work).
    pub max_page_size: usize,
    /// Answer unroutable paths with the gateway's plain-text 503 instead of a JSON 404.
    pub plain_text_unroutable: bool,
    /// Requests per minute per token (documented: 200).
    pub rate_limit_per_minute: u32,
}

impl Default for ConfigOptions {
    fn default() -> Self {
        Self {
            mask_secrets: false,
            default_page_size: 10,
            max_page_size: 100,
            plain_text_unroutable: false,
            rate_limit_per_minute: 200,
        }
    }
}

/// A bearer token the simulator accepts.
#[derive(Debug, Clone)]
pub struct Token {
    pub secret: String,
    pub scope: Scope,
    /// The `access-tokens/{n}` record this token belongs to, when it has one.
    pub access_token: Option<u32>,
}

/// Generates a token in the Config API's format: two 43-character base64url halves.
pub fn generate_token(rng: &mut Rng) -> String {
    format!(
        "{}.{}",
        rng.string(BASE64URL, 43),
        rng.string(BASE64URL, 43)
    )
}

pub struct ConfigStore {
    pub catalog: &'static Catalog,
    pub workspaces: Vec<Workspace>,
    pub tokens: Vec<Token>,
    /// Draws ids for objects created through the API.
    ids: Rng,
}

impl ConfigStore {
    pub fn new(catalog: &'static Catalog, workspaces: Vec<Workspace>, tokens: Vec<Token>) -> Self {
        Self {
            catalog,
            workspaces,
            tokens,
            ids: Rng::new(0x5e9b_71d9_e000_0001),
        }
    }

    pub fn scope_of(&self, secret: &str) -> Option<Scope> {
        self.tokens
            .iter()
            .find(|t| t.secret == secret)
            .map(|t| t.scope)
    }

    /// A new id: `prefix` followed by `len` base62 characters (KSUID-like for `df_`/`rs_`).
    pub fn new_id(&mut self, prefix: &str, len: usize) -> String {
        format!("{prefix}{}", self.ids.string(BASE62, len))
    }

    pub fn new_token(&mut self) -> String {
        generate_token(&mut self.ids)
    }

    fn ws_index(&self, slug: &str) -> ApiResult<usize> {
        self.workspaces
            .iter()
            .position(|w| w.slug == slug)
            .ok_or_else(|| ApiError::not_found(format!("workspace `{slug}`")))
    }

    pub fn workspace(&self, slug: &str) -> ApiResult<&Workspace> {
        Ok(&self.workspaces[self.ws_index(slug)?])
    }

    pub fn workspace_mut(&mut self, slug: &str) -> ApiResult<&mut Workspace> {
        let i = self.ws_index(slug)?;
        Ok(&mut self.workspaces[i])
    }

    /// Functions are addressed by workspace *id* (INFERRED from the clients that used them; the
    /// slug is not accepted there).
    pub fn workspace_by_id_mut(&mut self, id: &str) -> ApiResult<&mut Workspace> {
        self.workspaces
            .iter_mut()
            .find(|w| w.id == id)
            .ok_or_else(|| ApiError::not_found(format!("workspace id `{id}`")))
    }

    pub fn catalog_destination(&self, slug: &str) -> ApiResult<&'static CatalogDestination> {
        self.catalog
            .destination(slug)
            .ok_or_else(|| ApiError::invalid(format!("unknown catalog destination `{slug}`")))
    }
}

pub fn source<'a>(ws: &'a Workspace, slug: &str) -> ApiResult<&'a Source> {
    ws.sources
        .iter()
        .find(|s| s.slug == slug)
        .ok_or_else(|| ApiError::not_found(format!("source `{}`", wire::source_name(ws, slug))))
}

pub fn source_mut<'a>(ws: &'a mut Workspace, slug: &str) -> ApiResult<&'a mut Source> {
    let name = wire::source_name(ws, slug);
    ws.sources
        .iter_mut()
        .find(|s| s.slug == slug)
        .ok_or_else(|| ApiError::not_found(format!("source `{name}`")))
}

pub fn destination<'a>(
    ws: &'a Workspace,
    source_slug: &str,
    dest_slug: &str,
) -> ApiResult<(&'a Source, &'a Destination)> {
    let src = source(ws, source_slug)?;
    let dest = src
        .destinations
        .iter()
        .find(|d| d.slug == dest_slug)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "destination `{}`",
                wire::destination_name(ws, source_slug, dest_slug)
            ))
        })?;
    Ok((src, dest))
}

pub fn destination_mut<'a>(
    ws: &'a mut Workspace,
    source_slug: &str,
    dest_slug: &str,
) -> ApiResult<&'a mut Destination> {
    let name = wire::destination_name(ws, source_slug, dest_slug);
    source_mut(ws, source_slug)?
        .destinations
        .iter_mut()
        .find(|d| d.slug == dest_slug)
        .ok_or_else(|| ApiError::not_found(format!("destination `{name}`")))
}

pub fn tracking_plan<'a>(ws: &'a Workspace, id: &str) -> ApiResult<&'a TrackingPlan> {
    ws.tracking_plans
        .iter()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::not_found(format!("tracking plan `{id}`")))
}

pub fn tracking_plan_mut<'a>(ws: &'a mut Workspace, id: &str) -> ApiResult<&'a mut TrackingPlan> {
    ws.tracking_plans
        .iter_mut()
        .find(|p| p.id == id)
        .ok_or_else(|| ApiError::not_found(format!("tracking plan `{id}`")))
}

pub fn function<'a>(ws: &'a Workspace, id: &str) -> ApiResult<&'a Function> {
    ws.functions
        .iter()
        .find(|f| f.id == id)
        .ok_or_else(|| ApiError::not_found(format!("function `{id}`")))
}

impl ConfigStore {
    /// Resource counts per kind over every workspace, plus the catalogs.
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::from([
            ("catalog_sources", self.catalog.sources.len()),
            ("catalog_destinations", self.catalog.destinations.len()),
        ]);
        for ws in &self.workspaces {
            for (kind, n) in ws.counts() {
                *counts.entry(kind).or_default() += n;
            }
        }
        counts
    }

    /// The workspace's own objects: every kind but the global catalogs and the tracking-plan
    /// rules (which live inside their plans). This is the size `--size` presets promise.
    pub fn resources_total(&self) -> usize {
        self.counts()
            .iter()
            .filter(|(kind, _)| !kind.starts_with("catalog_") && **kind != "tracking_plan_rules")
            .map(|(_, n)| n)
            .sum()
    }

    /// How many objects share a natural key with an earlier one, per kind. The Config API
    /// refuses duplicate names with 409, but filters, tracking plans, functions and invites have
    /// natural keys that it does not enforce, so a careless client can still duplicate them.
    pub fn duplicate_natural_keys(&self) -> BTreeMap<&'static str, usize> {
        fn dupes(keys: impl Iterator<Item = String>) -> usize {
            let mut seen = std::collections::HashSet::new();
            keys.filter(|k| !seen.insert(k.clone())).count()
        }
        let mut out = BTreeMap::new();
        for ws in &self.workspaces {
            let w = &ws.slug;
            let entries = [
                (
                    "sources",
                    dupes(ws.sources.iter().map(|s| format!("{w}|{}", s.slug))),
                ),
                (
                    "destinations",
                    dupes(
                        ws.destinations()
                            .map(|(s, d)| format!("{w}|{}|{}", s.slug, d.slug)),
                    ),
                ),
                (
                    "destination_filters",
                    dupes(ws.destinations().flat_map(|(s, d)| {
                        d.filters.iter().map(move |f| {
                            format!("{w}|{}|{}|{}|{}", s.slug, d.slug, f.title, f.condition)
                        })
                    })),
                ),
                (
                    "tracking_plans",
                    dupes(
                        ws.tracking_plans
                            .iter()
                            .map(|p| format!("{w}|{}", p.display_name)),
                    ),
                ),
                (
                    "functions",
                    dupes(
                        ws.functions
                            .iter()
                            .map(|f| format!("{w}|{}", f.display_name)),
                    ),
                ),
                (
                    "invites",
                    dupes(ws.invites.iter().map(|i| format!("{w}|{}", i.email))),
                ),
            ];
            for (kind, n) in entries {
                *out.entry(kind).or_default() += n;
            }
        }
        out
    }

    /// Every object in Config API wire form, keyed by kind then resource name, with secrets in
    /// clear, plus the list of every secret value held (for leak tests).
    pub fn state_json(&self) -> Value {
        let mut kinds = KindMap::default();
        let mut secrets = Vec::new();
        for item in &self.catalog.sources {
            kinds.put("catalog_sources", item.config_wire.clone());
        }
        for item in &self.catalog.destinations {
            kinds.put("catalog_destinations", item.config_wire.clone());
        }
        for ws in &self.workspaces {
            kinds.put("workspaces", wire::workspace(ws));
            for token in &ws.access_tokens {
                kinds.put(
                    "access_tokens",
                    wire::access_token(token, std::slice::from_ref(&ws.slug)),
                );
            }
            for src in &ws.sources {
                let function = src
                    .function_instance
                    .as_ref()
                    .and_then(|i| ws.functions.iter().find(|f| f.id == i.function_id));
                kinds.put("sources", wire::source(ws, src, function, false));
                kinds.put(
                    "schema_configs",
                    wire::schema_config(ws, &src.slug, &src.schema_config),
                );
                if let (Some(instance), Some(function)) = (&src.function_instance, function) {
                    for (name, value) in &instance.settings {
                        let sensitive = function
                            .settings
                            .iter()
                            .any(|s| &s.name == name && s.sensitive);
                        if let (true, Some(s)) = (sensitive, value.as_str()) {
                            secrets.push(s.to_owned());
                        }
                    }
                }
                for dest in &src.destinations {
                    let Some(catalog) = self.catalog.destination(&dest.catalog_slug) else {
                        continue;
                    };
                    kinds.put(
                        "destinations",
                        wire::destination(ws, &src.slug, dest, catalog, false),
                    );
                    for (name, value) in &dest.config {
                        let secret = catalog.setting(name).is_some_and(|s| s.kind.is_secret());
                        if let (true, Some(s)) = (secret, value.as_str()) {
                            secrets.push(s.to_owned());
                        }
                    }
                    for filter in &dest.filters {
                        kinds.put(
                            "destination_filters",
                            wire::filter(ws, &src.slug, &dest.slug, filter),
                        );
                    }
                    let name = wire::destination_name(ws, &src.slug, &dest.slug);
                    kinds.put(
                        "delivery_metrics",
                        super::routes::metrics::summary_json(&name, dest),
                    );
                }
            }
            for plan in &ws.tracking_plans {
                kinds.put("tracking_plans", wire::tracking_plan(ws, plan));
                for slug in &plan.source_slugs {
                    let key = format!(
                        "{}/source-connections/{slug}",
                        wire::tracking_plan_name(ws, &plan.id)
                    );
                    kinds.put_keyed(
                        "tracking_plan_connections",
                        key,
                        wire::connection(ws, &plan.id, slug),
                    );
                }
            }
            for role in &ws.roles {
                kinds.put("roles", wire::role(ws, role));
            }
            for policy in &ws.policies {
                kinds.put("policies", wire::policy(ws, policy));
            }
            for invite in &ws.invites {
                kinds.put("invites", wire::invite(ws, invite));
            }
            for user in &ws.users {
                kinds.put("users", wire::user(user));
            }
            for function in &ws.functions {
                kinds.put("functions", wire::function(ws, function));
            }
        }
        let mut out: Map<String, Value> = kinds
            .0
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::Object(v)))
            .collect();
        secrets.sort();
        secrets.dedup();
        out.insert("secrets".into(), json!(secrets));
        Value::Object(out)
    }
}

/// Objects per kind, keyed by resource name (functions, which have none, by id).
#[derive(Default)]
struct KindMap(BTreeMap<&'static str, Map<String, Value>>);

impl KindMap {
    fn put(&mut self, kind: &'static str, value: Value) {
        let key = value
            .get("name")
            .or_else(|| value.get("id"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        self.put_keyed(kind, key, value);
    }

    fn put_keyed(&mut self, kind: &'static str, key: String, value: Value) {
        self.0.entry(kind).or_default().insert(key, value);
    }
}
