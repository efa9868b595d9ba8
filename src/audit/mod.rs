//! The audit: re-reads the source through the Config API and the target through the Public API
//! and compares them resource by resource, using the ledger's id map (Config name → Public id,
//! recorded by `plan` and `apply`).
//!
//! Role: [`audit`] runs the steps, each in its own module:
//! 1. [`source`] re-reads the audited kinds from the Config API (sanitized, as `export` does);
//! 2. [`target`] reads the target's objects of those kinds and its catalog;
//! 3. [`expected`] maps the re-read source with the planner's mapping, `$ref`s filled from the
//!    id map, into one normalised shape per object; [`actual`] normalises the target's objects
//!    into the same shape;
//! 4. [`compare`] pairs them and decides a [`Status`] per resource, [`diff`] lists the fields
//!    ([`plan_rules`] those of a tracking plan, rule by rule);
//! 5. with `--with-metrics`, [`metrics`] compares each migrated destination's delivery with the
//!    export's baseline;
//! 6. [`report`] sorts everything into an [`AuditReport`], the neutral structure the command
//!    prints and report renderers consume.
//!
//! Invariants:
//! - **Nothing is written to either API.** The Config side goes through [`ConfigReader`], the
//!   Public side through [`PublicClient`]; neither can send a write.
//! - **The ledger's snapshot and plans are untouched.** The audit reads the id map, the plan
//!   items and the export's delivery baseline; the command records only an `audit` run and its
//!   counts.
//! - **No secret value reaches the result** (see [`diff`] and [`report`]): source objects are
//!   sanitized before mapping, and secret fields are compared as present/absent only.

pub mod actual;
pub mod compare;
pub mod diff;
pub mod expected;
pub mod metrics;
pub mod plan_rules;
pub mod report;
pub mod source;
pub mod target;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::Value;

pub use compare::CompareOptions;
pub use expected::AUDITED;
pub use report::{
    AUDIT_SCHEMA_VERSION, AuditReport, DeliveryResult, FieldDiff, NotComparable, ResourceResult,
    Status, Summary,
};

use crate::export::ConfigReader;
use crate::ledger::{Ledger, LedgerError};
use crate::mapping::{IdMap, MAP_ORDER, Ref, RefField, Tables};
use crate::model::Kind;
use crate::progress::Reporter;
use crate::public_api::{PublicClient, PublicObject};
use crate::secrets::SecretHasher;

/// What the audit cannot go on without.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("the ledger holds no complete export")]
    NoExport,
    #[error(
        "the ledger's export is of `{exported}`, not of `{given}`; audit the workspace that was exported"
    )]
    OtherSource { exported: String, given: String },
    #[error("the ledger holds no plan for the target `{0}`")]
    NoPlan(String),
    #[error(transparent)]
    Source(#[from] source::SourceError),
    #[error(transparent)]
    Target(#[from] crate::plan::TargetError),
}

/// What to audit.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// The Config API host root, as `export` was given it: with the workspace slug it must name
    /// the ledger's export.
    pub config_url: String,
    /// Kinds to compare (a subset of [`AUDITED`]).
    pub kinds: BTreeSet<Kind>,
    /// Compare delivery with the export's baseline, and `enabled` strictly (after cut-over).
    pub with_metrics: bool,
}

/// The target as `plan` and `apply` name it: `<public url>|<workspace id>`.
pub fn target_key(client: &PublicClient, workspace: &PublicObject) -> String {
    format!(
        "{}|{}",
        client.base_url().as_str().trim_end_matches('/'),
        workspace.id
    )
}

/// The export's delivery baselines, by destination Config name.
fn baselines(
    ledger: &Ledger,
    export: crate::ledger::RunId,
) -> Result<HashMap<String, crate::mapping::DeliveryBaseline>, LedgerError> {
    Ok(ledger
        .objects_seen_in(export, Kind::DeliveryMetrics)?
        .into_iter()
        .filter_map(|o| {
            let mapped = crate::mapping::delivery_metrics::map_delivery_summary(&o.name, &o.json());
            mapped.baseline.map(|b| (o.name, b))
        })
        .collect())
}

/// What the audit takes from the ledger about a target, each row read once and kept only in
/// the shape the audit uses (the rows themselves, held and then indexed, were about 1 KB per
/// migrated object).
struct FromLedger {
    /// The id map, to fill the `$ref`s of the expected shapes.
    ids: IdMap,
    /// The plan's actions the comparison asks for (its names are filled once the comparisons
    /// are done, by `names_of`).
    view: compare::LedgerView,
    /// Public ids of the migrated sources (each has schema settings).
    sources: BTreeSet<String>,
    /// (Config name, Public id) of the migrated destinations, whose delivery `--with-metrics`
    /// checks.
    destinations: Vec<(String, String)>,
}

fn from_ledger(
    ledger: &Ledger,
    target: &str,
    plan: i64,
    options: &AuditOptions,
) -> Result<FromLedger, LedgerError> {
    let mut from = FromLedger {
        ids: IdMap::new(),
        view: compare::LedgerView::default(),
        sources: BTreeSet::new(),
        destinations: Vec::new(),
    };
    ledger.visit_id_map(target, |pair| {
        let Ok(kind) = pair.kind.parse::<Kind>() else {
            return;
        };
        if pair.field == "id" {
            match kind {
                Kind::Sources => {
                    from.sources.insert(pair.public_id.clone());
                }
                Kind::Destinations if options.with_metrics => from
                    .destinations
                    .push((pair.config_name.clone(), pair.public_id.clone())),
                _ => {}
            }
        }
        expected::add_id(
            &mut from.ids,
            kind,
            pair.config_name,
            &pair.field,
            &pair.public_id,
        );
    })?;
    // The comparison asks the plan's action only of an object without a Public id of its own,
    // and of a connection: the others' actions (most of a migrated plan) are not kept.
    ledger.visit_plan_items(plan, |item| {
        if let Ok(kind) = item.kind.parse::<Kind>()
            && options.kinds.contains(&kind)
            && (kind == Kind::TrackingPlanConnections
                || from
                    .ids
                    .get(&Ref::id(kind, item.config_name.as_str()))
                    .is_none())
        {
            from.view
                .actions
                .insert((kind, item.config_name), item.action);
        }
    })?;
    // Read whole and kept for the comparison, which reads the ledger no more in bulk.
    from.ids.shrink_to_fit();
    ledger.release_memory()?;
    Ok(from)
}

/// The Config names the id map gives the `unclaimed` objects: read once the comparisons are
/// done, for the few objects that need one, rather than kept for every migrated object (2.3 MB
/// on `large`).
fn names_of(ids: &IdMap, unclaimed: &[(Kind, String)]) -> HashMap<(Kind, String), String> {
    let mut wanted: BTreeMap<Kind, HashSet<&str>> = BTreeMap::new();
    for (kind, id) in unclaimed {
        wanted.entry(*kind).or_default().insert(id);
    }
    wanted
        .into_iter()
        .flat_map(|(kind, wanted)| {
            ids.pairs(kind, RefField::Id)
                .filter(move |(_, id)| wanted.contains(*id))
                .map(move |(name, id)| ((kind, id.to_owned()), name.to_owned()))
        })
        .collect()
}

/// The two APIs, read-only.
pub struct Sides<'a, R> {
    /// The Config API (or any reader of its collections).
    pub config: &'a R,
    /// Keys the markers that replace secret values read from the Config API.
    pub hasher: &'a SecretHasher,
    pub public: &'a PublicClient,
    /// The Public API's `GET /` answer for the token: the target workspace.
    pub workspace: &'a PublicObject,
}

/// The source side of an audit, read before the audit itself (see [`read_source_ahead`]).
pub struct SourceAhead {
    ws: String,
    snapshot: crate::mapping::TextSnapshot,
}

/// The exported workspace the audit compares with, checked against `options.config_url`: the
/// export run and the workspace's slug.
fn exported_workspace(
    ledger: &Ledger,
    options: &AuditOptions,
) -> Result<(crate::ledger::RunId, String), AuditError> {
    let (export_run, exported) = ledger
        .latest_complete_export()?
        .ok_or(AuditError::NoExport)?;
    let ws = exported.rsplit('|').next().unwrap_or_default().to_owned();
    let given = crate::export::source_identity(&options.config_url, &ws);
    if given != exported {
        return Err(AuditError::OtherSource { exported, given });
    }
    Ok((export_run, ws))
}

/// Reads the source side of the audit of `options` on its own, for [`audit_with_source`].
/// `migrate` reads it while `apply` writes: the source does not change with the target, the
/// Config API's limits are apart from the Public API's, and this read is the longer half of
/// an audit.
pub async fn read_source_ahead<R: ConfigReader>(
    ledger: &Ledger,
    config: &R,
    hasher: &SecretHasher,
    options: &AuditOptions,
    reporter: &dyn Reporter,
) -> Result<SourceAhead, AuditError> {
    let (_, ws) = exported_workspace(ledger, options)?;
    let snapshot = source::read_source(config, &ws, &options.kinds, hasher, reporter).await?;
    Ok(SourceAhead { ws, snapshot })
}

/// Runs the audit.
pub async fn audit<R: ConfigReader>(
    ledger: &Ledger,
    sides: Sides<'_, R>,
    tables: &Tables,
    options: &AuditOptions,
    reporter: &dyn Reporter,
) -> Result<AuditReport, AuditError> {
    audit_with_source(
        ledger,
        sides,
        tables,
        options,
        reporter,
        std::future::ready(None),
    )
    .await
}

/// Runs the audit with the source side `ahead` (a read by [`read_source_ahead`] with the same
/// options, begun earlier and perhaps still going): its target side is read meanwhile. When
/// `ahead` ends with `None`, or with a read of another export, the source is read here.
pub async fn audit_with_source<R: ConfigReader>(
    ledger: &Ledger,
    sides: Sides<'_, R>,
    tables: &Tables,
    options: &AuditOptions,
    reporter: &dyn Reporter,
    ahead: impl Future<Output = Option<SourceAhead>>,
) -> Result<AuditReport, AuditError> {
    let Sides {
        config,
        hasher,
        public,
        workspace,
    } = sides;
    let (export_run, ws) = exported_workspace(ledger, options)?;
    let target_name = target_key(public, workspace);
    let plan = ledger
        .latest_plan(&target_name)?
        .ok_or_else(|| AuditError::NoPlan(target_name.clone()))?;
    let FromLedger {
        ids,
        view: mut ledger_view,
        sources,
        destinations,
    } = from_ledger(ledger, &target_name, plan.id, options)?;

    // Said in the report: what the audit saw is the state of both sides from this moment on.
    let started = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let mut wants = target::TargetWants {
        kinds: options.kinds.clone(),
        schema_sources: BTreeSet::new(),
    };
    if options.with_metrics {
        wants.kinds.insert(Kind::Destinations);
    }
    if options.kinds.contains(&Kind::SchemaConfigs) {
        // Every source has one schema config, and only a migrated source has a Public id, so the
        // id map says which settings to read without waiting for the source to be read again.
        wants.schema_sources = sources;
    }
    // The two sides are read at once: each API has its own limits, and the source read alone,
    // paced by the Config API's 200 requests a minute, is the longer one. A source read ahead
    // for the same export is taken as it is (or as it ends), any other read again here.
    let source = async {
        match ahead.await.filter(|a| a.ws == ws) {
            Some(ahead) => Ok(ahead.snapshot),
            None => source::read_source(config, &ws, &options.kinds, hasher, reporter).await,
        }
    };
    let (snapshot, state) = futures::join!(
        source,
        target::read_target(public, workspace, &wants, reporter)
    );
    let (mut snapshot, state) = (snapshot?, state?);

    // Batch by batch: the expected shapes of a batch are compared and let go before the next
    // is mapped (a comparison needs no other batch's shapes, only what they claim of the target,
    // which tells what the target holds that nothing expected). Kind by kind, in mapping order,
    // each kind's source objects let go once compared: no other kind's mapping reads them but
    // the functions, which stay (on `large` the destinations' and tracking plans' compressed
    // text were held through the filters', when the most is held).
    //
    // The results grow by exactly each batch's, a copy of the list per batch (about thirty on
    // `large`): doubling, the list had room for 16,384 results for its 13,627 (128 bytes each)
    // and held 1 and 2 MB at once near the end; sized at once for every source object, it held
    // its 1.7 MB through the tracking plans' mapping, where the peak then was (`heaptrack`).
    let mut results: Vec<ResourceResult> = Vec::new();
    let mut claimed = compare::Claimed::default();
    for kind in MAP_ORDER.into_iter().filter(|k| options.kinds.contains(k)) {
        let inputs = expected::Inputs {
            snapshot: &snapshot,
            tables,
            catalog: &state.catalog,
            workspace_id: &state.workspace_id,
            workspace_name: &state.workspace_name,
            ids: &ids,
        };
        expected::by_kind(&inputs, &BTreeSet::from([kind]), |kind, expected| {
            claimed.add(&expected);
            let compared = compare::compare_expected(
                &expected,
                &state,
                &ledger_view,
                &BTreeSet::from([kind]),
                CompareOptions {
                    strict_enabled: options.with_metrics,
                },
            );
            results.reserve_exact(compared.len());
            results.extend(compared);
            // What the batch's comparison freed goes back now rather than at the next trim:
            // the next batch's allocations land among the results otherwise, and the last
            // second of the audit is where `migrate` peaks (`large` 28.2–28.6 MB against
            // 28.4–29.3, four runs each, interleaved).
            crate::memory::give_back();
        });
        if kind != Kind::Functions {
            snapshot.release(kind);
        }
    }
    drop(snapshot);
    let unclaimed = compare::unclaimed(&claimed, &state, &options.kinds);
    ledger_view.names = names_of(&ids, &unclaimed);
    let unexpected = compare::unexpected(&claimed, unclaimed, &state, &ledger_view, &options.kinds);
    results.reserve_exact(unexpected.len());
    results.extend(unexpected);

    let delivery = if options.with_metrics {
        let baselines = baselines(ledger, export_run)?;
        let migrated: Vec<metrics::Migrated> = destinations
            .into_iter()
            .filter_map(|(config_name, public_id)| {
                let body = state.destinations.value(&public_id)?;
                Some(metrics::Migrated {
                    baseline: baselines.get(&config_name).copied(),
                    config_name,
                    public_id,
                    source_id: body
                        .get("sourceId")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    enabled: body.get("enabled").and_then(Value::as_bool) == Some(true),
                })
            })
            .collect();
        Some(metrics::check(public, &migrated, reporter).await)
    } else {
        None
    };

    Ok(AuditReport::new(
        ws,
        target_name,
        plan.id,
        options.kinds.iter().copied().collect(),
        results,
        delivery,
    )
    .audited_at(started))
}
