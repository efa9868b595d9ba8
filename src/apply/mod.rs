//! The executor: sends the stored plan of a target to the Public API, exactly once, resumably.
//!
//! Role: [`apply`] walks the payloads of the target's latest plan in `seq`/`ordinal` order
//! (the planner's dependency order), fills `$ref`s from the ledger's id map and from the ids
//! earlier payloads recorded, fills `$secret`s from the operator's [`SecretsFile`] in memory,
//! and sends each through [`PublicWriter::send_planned`]. [`dry_run`] reads the same plan and
//! says what a live run would send; it has no writer to call.
//!
//! Invariants, each the reason for a piece of the code below:
//! - **Intent before, result after.** Before a write the payload row becomes `intent` in its
//!   own transaction; after it, `done` with the ids the answer carried, and the id-map rows
//!   (`matched_by = 'created'`), in one transaction. A crash in between leaves an `intent`.
//! - **Reconcile before any retry of a create.** The Public API has no idempotency keys. A
//!   create that answered [`crate::public_api::PublicApiError::Ambiguous`], or that an earlier run left at
//!   `intent` (or `failed`), is first looked up by its natural key: one match is recorded as
//!   done (`matched_by = 'reconciled'`), none is created again, several fail the payload with
//!   the ids named; segbridge never picks one. Non-creates (PATCH, PUT, connect, deploy) set
//!   given values and are sent again as they are.
//! - **Done is final.** A `done` payload is never sent again, so a second `apply` writes
//!   nothing.
//! - **Failures stay local.** A payload that fails marks its item failed; every later payload
//!   of that item, and every payload whose `$ref`s name it, is skipped; the rest goes on.
//! - **Secrets stay in memory.** Resolved bodies live for one request; errors and the ledger
//!   hold ids, setting names and API messages, never a value.
//!
//! Sequential on purpose for now: one write at a time keeps dependency order trivially and
//! keeps each create's reconciliation unambiguous. IAM payloads (permissions, invites) are not
//! sent: inviting people is an opt-in the command does not offer yet, so they are reported as
//! deferred and stay `pending`.

pub mod secrets;

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;
use serde_json::{Map, Value};

pub use secrets::{SecretsFile, SecretsFileError};

use crate::diagnostics::chain;
use crate::ledger::{
    Ledger, LedgerError, PayloadKey, RecordedId, StoredItem, StoredPayload, StoredPlan,
};
use crate::mapping::{Ref, Unresolved, ref_marker, resolve_value, secret_marker};
use crate::model::Kind;
use crate::progress::Reporter;
use crate::public_api::writer::planned_operation;
use crate::public_api::{FunctionType, Match, PublicClient, PublicWriter};

/// Creates of one payload within one run, ambiguous outcomes included. Each ambiguous
/// answer is reconciled before the next, so this only bounds a target that keeps failing.
const MAX_CREATES_PER_RUN: u32 = 3;

/// What stops a run: the ledger can no longer record progress, so going on could repeat writes.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot record apply progress in the ledger")]
    Ledger(#[from] LedgerError),
}

/// Choices of the operator.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Create a destination without a secret setting the secrets file lacks (or that was
    /// masked), instead of failing it as manual.
    pub allow_missing_secrets: bool,
}

/// What became of one payload in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Sent and applied (`created` for creates, else a replacement or update).
    Written,
    /// Found in the target by its natural key after an unknown outcome; not sent again.
    Reconciled,
    /// Done by an earlier run.
    AlreadyDone,
    /// Not applied; the reason names ids and settings, never a secret value.
    Failed { reason: String, manual: bool },
    /// Not attempted: an earlier payload of its item, or an item it references, failed.
    Skipped { because: String },
    /// Not attempted in this release (IAM).
    Deferred,
}

/// One payload's line in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadReport {
    pub kind: String,
    pub config_name: String,
    pub step: String,
    pub outcome: Outcome,
    /// Secret settings left out under `--allow-missing-secrets`.
    pub omitted_secrets: Vec<String>,
}

/// The result of a run.
#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    pub plan: i64,
    pub payloads: Vec<PayloadReport>,
}

impl ApplyReport {
    fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.payloads.iter().filter(|p| pred(&p.outcome)).count()
    }

    pub fn written(&self) -> usize {
        self.count(|o| *o == Outcome::Written)
    }

    pub fn reconciled(&self) -> usize {
        self.count(|o| *o == Outcome::Reconciled)
    }

    pub fn already_done(&self) -> usize {
        self.count(|o| *o == Outcome::AlreadyDone)
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed { .. }))
    }

    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }

    pub fn deferred(&self) -> usize {
        self.count(|o| *o == Outcome::Deferred)
    }

    /// Writes sent per kind and step.
    pub fn writes_per_kind(&self) -> BTreeMap<String, BTreeMap<String, usize>> {
        let mut out: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for p in self
            .payloads
            .iter()
            .filter(|p| p.outcome == Outcome::Written)
        {
            *out.entry(p.kind.clone())
                .or_default()
                .entry(p.step.clone())
                .or_default() += 1;
        }
        out
    }
}

/// What a dry run would send: payloads not yet done, per kind and step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DryRunReport {
    pub plan: i64,
    pub would_write: BTreeMap<String, BTreeMap<String, usize>>,
    pub already_done: usize,
    pub deferred: usize,
    /// `(config name, setting)` of secrets the secrets file does not supply.
    pub missing_secrets: Vec<(String, String)>,
}

impl DryRunReport {
    pub fn writes(&self) -> usize {
        self.would_write.values().flat_map(|s| s.values()).sum()
    }
}

/// A stored payload read back: the owned mirror of [`crate::mapping::Payload`] (which borrows
/// `'static` strings and so cannot be deserialized).
#[derive(Debug, Clone, Deserialize)]
struct Planned {
    method: String,
    path: String,
    #[serde(default)]
    path_params: Vec<(String, Value)>,
    #[serde(default)]
    body: Option<Value>,
    #[serde(default)]
    records: Vec<PlannedRecord>,
}

#[derive(Debug, Clone, Deserialize)]
struct PlannedRecord {
    reference: PlannedRef,
    pointer: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, Hash)]
struct PlannedRef {
    kind: String,
    config_name: String,
    field: String,
}

/// Steps that make a new object: never replayed blindly, reconciled by natural key.
fn is_create(step: &str) -> bool {
    matches!(
        step,
        "create_source"
            | "create_label"
            | "create_tracking_plan"
            | "create_function"
            | "create_destination"
            | "create_filter"
            | "invite_user"
    )
}

/// IAM steps, deferred in this release.
fn is_deferred(step: &str) -> bool {
    matches!(step, "add_user_permissions" | "invite_user")
}

type IdKey = (String, String, String);

fn id_key(kind: &str, config_name: &str, field: &str) -> IdKey {
    (kind.to_owned(), config_name.to_owned(), field.to_owned())
}

/// Ids known before the run: the id map (plan matches and earlier runs' creates) and the
/// results of payloads already done.
fn known_ids(
    ledger: &Ledger,
    plan: &StoredPlan,
    payloads: &[StoredPayload],
) -> Result<HashMap<IdKey, String>, LedgerError> {
    let mut ids: HashMap<IdKey, String> = ledger
        .id_map(&plan.target)?
        .into_iter()
        .map(|p| (id_key(&p.kind, &p.config_name, &p.field), p.public_id))
        .collect();
    for payload in payloads.iter().filter(|p| p.state == "done") {
        if let Some(Value::Object(result)) = &payload.result {
            for (key, id) in result {
                let mut parts = key.splitn(3, '|');
                if let (Some(kind), Some(name), Some(field), Some(id)) =
                    (parts.next(), parts.next(), parts.next(), id.as_str())
                {
                    ids.insert(id_key(kind, name, field), id.to_owned());
                }
            }
        }
    }
    Ok(ids)
}

fn key_of(plan: &StoredPlan, payload: &StoredPayload) -> PayloadKey {
    PayloadKey {
        plan: plan.id,
        seq: payload.seq,
        ordinal: payload.ordinal,
    }
}

/// The items that send payloads, by `seq`.
fn items_by_seq(items: Vec<StoredItem>) -> HashMap<i64, StoredItem> {
    items.into_iter().map(|i| (i.seq, i)).collect()
}

fn writes(item: &StoredItem) -> bool {
    // `Action::writes`, on the stored text.
    matches!(item.action.as_str(), "create" | "update")
}

/// A dry run: what [`apply`] would send, without a writer (none can be made without a
/// `WriteAccess`, which a dry run is never granted).
pub fn dry_run(
    ledger: &Ledger,
    plan: &StoredPlan,
    secrets: &SecretsFile,
) -> Result<DryRunReport, ApplyError> {
    let items = items_by_seq(ledger.plan_items(plan.id)?);
    let payloads = ledger.plan_payloads(plan.id)?;
    let mut report = DryRunReport {
        plan: plan.id,
        ..DryRunReport::default()
    };
    for payload in &payloads {
        let Some(item) = items.get(&payload.seq).filter(|i| writes(i)) else {
            continue;
        };
        if payload.state == "done" {
            report.already_done += 1;
            continue;
        }
        if is_deferred(&payload.step) {
            report.deferred += 1;
            continue;
        }
        if let Some(body) = payload.payload.get("body") {
            for secret in crate::mapping::secrets_in(body) {
                if secrets.get(&secret).is_none() {
                    report
                        .missing_secrets
                        .push((secret.config_name, secret.setting));
                }
            }
        }
        *report
            .would_write
            .entry(item.kind.clone())
            .or_default()
            .entry(payload.step.clone())
            .or_default() += 1;
    }
    Ok(report)
}

/// Where a payload stands when a step of its handling cannot go on.
enum Stop {
    /// Known not applied: `failed`.
    Failed { reason: String, manual: bool },
    /// Outcome unknown: stays `intent` for the next run to reconcile.
    Unknown { reason: String },
}

/// Executes the plan. Returns the report; a payload failure is in the report, not an error.
pub async fn apply(
    ledger: &mut Ledger,
    plan: &StoredPlan,
    writer: &PublicWriter,
    secrets: &SecretsFile,
    options: ApplyOptions,
    reporter: &dyn Reporter,
) -> Result<ApplyReport, ApplyError> {
    let items = items_by_seq(ledger.plan_items(plan.id)?);
    let payloads = ledger.plan_payloads(plan.id)?;
    let mut ids = known_ids(ledger, plan, &payloads)?;
    // Items (kind, config name) that failed or were skipped in this run.
    let mut broken: HashMap<(String, String), String> = HashMap::new();
    let mut report = ApplyReport {
        plan: plan.id,
        payloads: Vec::new(),
    };

    for payload in &payloads {
        let Some(item) = items.get(&payload.seq).filter(|i| writes(i)) else {
            continue;
        };
        let mut line = PayloadReport {
            kind: item.kind.clone(),
            config_name: item.config_name.clone(),
            step: payload.step.clone(),
            outcome: Outcome::AlreadyDone,
            omitted_secrets: Vec::new(),
        };
        let this = (item.kind.clone(), item.config_name.clone());
        if payload.state == "done" {
            report.payloads.push(line);
            continue;
        }
        if is_deferred(&payload.step) {
            line.outcome = Outcome::Deferred;
            report.payloads.push(line);
            continue;
        }
        if let Some(because) = blocked_by(&broken, &this, &payload.dependencies) {
            broken.entry(this).or_insert_with(|| because.clone());
            line.outcome = Outcome::Skipped { because };
            report.payloads.push(line);
            continue;
        }

        let key = key_of(plan, payload);
        let outcome = execute_one(
            ledger,
            plan,
            payload,
            key,
            writer,
            secrets,
            options,
            &mut ids,
            &mut line.omitted_secrets,
        )
        .await?;
        line.outcome = match outcome {
            Ok(outcome) => {
                if let Ok(kind) = item.kind.parse::<Kind>() {
                    reporter.stored(kind, 1);
                }
                outcome
            }
            Err(Stop::Failed { reason, manual }) => {
                ledger.mark_failed(key, "failed", &reason)?;
                reporter.failed(&item.config_name, &reason);
                broken.insert(this, format!("{} `{}` failed", item.kind, item.config_name));
                Outcome::Failed { reason, manual }
            }
            Err(Stop::Unknown { reason }) => {
                ledger.mark_failed(key, "intent", &reason)?;
                reporter.failed(&item.config_name, &reason);
                broken.insert(this, format!("{} `{}` failed", item.kind, item.config_name));
                Outcome::Failed {
                    reason,
                    manual: false,
                }
            }
        };
        report.payloads.push(line);
    }
    Ok(report)
}

/// Why this payload cannot be attempted: its own item, or an item it references, is broken.
fn blocked_by(
    broken: &HashMap<(String, String), String>,
    this: &(String, String),
    dependencies: &Value,
) -> Option<String> {
    if let Some(why) = broken.get(this) {
        return Some(why.clone());
    }
    dependencies
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|dep| {
            let kind = dep.get("kind")?.as_str()?.to_owned();
            let name = dep.get("config_name")?.as_str()?.to_owned();
            broken.get(&(kind, name)).cloned()
        })
}

/// One payload: resolve, reconcile if an earlier attempt may have applied it, write, record.
#[allow(clippy::too_many_arguments)]
async fn execute_one(
    ledger: &mut Ledger,
    plan: &StoredPlan,
    payload: &StoredPayload,
    key: PayloadKey,
    writer: &PublicWriter,
    secrets: &SecretsFile,
    options: ApplyOptions,
    ids: &mut HashMap<IdKey, String>,
    omitted: &mut Vec<String>,
) -> Result<Result<Outcome, Stop>, ApplyError> {
    let planned: Planned = match serde_json::from_value(payload.payload.clone()) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Err(Stop::Failed {
                reason: format!("the stored payload cannot be read: {e}"),
                manual: false,
            }));
        }
    };
    let Some(write) = planned_operation(&planned.method, &planned.path) else {
        return Ok(Err(Stop::Failed {
            reason: format!(
                "`{} {}` is not a write segbridge makes",
                planned.method, planned.path
            ),
            manual: false,
        }));
    };
    let request = match resolve(&planned, ids, secrets, options, omitted) {
        Ok(r) => r,
        Err(stop) => return Ok(Err(stop)),
    };
    let step = payload.step.as_str();
    let create = is_create(step);

    // An earlier attempt may have applied this payload: look before writing again.
    let earlier_attempt = payload.state == "intent" || payload.state == "failed";
    if (create && earlier_attempt) || step == "create_label" {
        match reconcile(writer.client(), step, &request, ids).await {
            Found::One(object) => {
                return record_found(ledger, plan, key, &planned, &object, ids).await;
            }
            Found::Several(reason) => {
                return Ok(Err(Stop::Failed {
                    reason,
                    manual: true,
                }));
            }
            Found::Unknown(reason) => return Ok(Err(Stop::Unknown { reason })),
            Found::None => {}
        }
    }
    if step == "connect_source_to_plan" && earlier_attempt {
        // Connecting twice is refused by the API; check whether the first one took.
        match already_connected(writer.client(), &request).await {
            Ok(true) => return record(ledger, plan, key, &[], "reconciled", Outcome::Reconciled),
            Ok(false) => {}
            Err(reason) => return Ok(Err(Stop::Unknown { reason })),
        }
    }

    let mut creates = 0;
    loop {
        ledger.mark_intent(key)?;
        creates += 1;
        let answer = writer
            .send_planned(write, &request.params, request.body.as_ref())
            .await;
        match answer {
            Ok(data) => {
                let data =
                    Value::Object(Map::from_iter([("data".to_owned(), Value::Object(data))]));
                let recorded = match recorded_ids(&planned, |pointer| {
                    data.pointer(pointer)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                }) {
                    Ok(r) => r,
                    Err(missing) => {
                        return Ok(Err(Stop::Unknown {
                            reason: format!(
                                "the answer to `{}` lacks `{missing}`: the object may exist without its id recorded",
                                request.path
                            ),
                        }));
                    }
                };
                remember(ids, &recorded);
                return record(ledger, plan, key, &recorded, "created", Outcome::Written);
            }
            Err(e) if e.is_ambiguous() && create => {
                match reconcile(writer.client(), step, &request, ids).await {
                    Found::One(object) => {
                        return record_found(ledger, plan, key, &planned, &object, ids).await;
                    }
                    Found::Several(reason) => {
                        return Ok(Err(Stop::Failed {
                            reason,
                            manual: true,
                        }));
                    }
                    Found::Unknown(reason) => return Ok(Err(Stop::Unknown { reason })),
                    Found::None if creates < MAX_CREATES_PER_RUN => continue,
                    Found::None => {
                        return Ok(Err(Stop::Failed {
                            reason: format!("{} (and not found in the target)", chain(&e)),
                            manual: false,
                        }));
                    }
                }
            }
            Err(e) if e.is_ambiguous() => {
                return Ok(Err(Stop::Unknown { reason: chain(&e) }));
            }
            Err(e) => {
                return Ok(Err(Stop::Failed {
                    reason: chain(&e),
                    manual: false,
                }));
            }
        }
    }
}

/// A request ready to send. Holds secret values: lives for one payload, never stored.
struct Resolved {
    path: String,
    params: Vec<(String, String)>,
    body: Option<Value>,
}

fn resolve(
    planned: &Planned,
    ids: &HashMap<IdKey, String>,
    secrets: &SecretsFile,
    options: ApplyOptions,
    omitted: &mut Vec<String>,
) -> Result<Resolved, Stop> {
    let lookup = |r: &Ref| {
        ids.get(&id_key(r.kind.as_str(), &r.config_name, r.field.as_str()))
            .cloned()
    };
    let unresolved = |e: Unresolved| match e {
        Unresolved::Ref(_) => Stop::Failed {
            reason: format!("{e}: the object it names was not applied"),
            manual: false,
        },
        Unresolved::Secret(ref s) => Stop::Failed {
            reason: format!(
                "{e}{}: add `[\"{}\"] {} = …` to the --secrets file, or pass --allow-missing-secrets to create it without",
                if s.state == crate::mapping::SecretState::Masked {
                    " (the export saw it masked)"
                } else {
                    ""
                },
                s.config_name,
                s.setting
            ),
            manual: true,
        },
    };
    let mut params = Vec::new();
    let mut path = planned.path.clone();
    for (name, value) in &planned.path_params {
        let id = match ref_marker(value) {
            Some(r) => lookup(&r).ok_or_else(|| unresolved(Unresolved::Ref(r)))?,
            None => value.as_str().unwrap_or_default().to_owned(),
        };
        path = path.replace(&format!("{{{name}}}"), &id);
        params.push((name.clone(), id));
    }
    let body = match &planned.body {
        None => None,
        Some(body) => {
            let mut body = body.clone();
            if options.allow_missing_secrets {
                strip_missing_secrets(&mut body, secrets, omitted);
            }
            Some(resolve_value(&body, &lookup, &|s| secrets.get(s)).map_err(unresolved)?)
        }
    };
    Ok(Resolved { path, params, body })
}

/// Removes the settings whose secret the file does not supply (`--allow-missing-secrets`),
/// naming each in `omitted`.
fn strip_missing_secrets(value: &mut Value, secrets: &SecretsFile, omitted: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| match secret_marker(v) {
                Some(s) if secrets.get(&s).is_none() => {
                    omitted.push(format!("{} of `{}`", s.setting, s.config_name));
                    false
                }
                _ => true,
            });
            map.values_mut()
                .filter(|v| ref_marker(v).is_none() && secret_marker(v).is_none())
                .for_each(|v| strip_missing_secrets(v, secrets, omitted));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| strip_missing_secrets(v, secrets, omitted)),
        _ => {}
    }
}

/// The ids a payload records, read with `get` at each record's pointer; the first pointer that
/// has no id otherwise.
fn recorded_ids(
    planned: &Planned,
    get: impl Fn(&str) -> Option<String>,
) -> Result<Vec<RecordedId>, String> {
    planned
        .records
        .iter()
        .map(|r| {
            get(&r.pointer)
                .map(|public_id| RecordedId {
                    kind: r.reference.kind.clone(),
                    config_name: r.reference.config_name.clone(),
                    field: r.reference.field.clone(),
                    public_id,
                })
                .ok_or_else(|| r.pointer.clone())
        })
        .collect()
}

fn remember(ids: &mut HashMap<IdKey, String>, recorded: &[RecordedId]) {
    for r in recorded {
        ids.insert(
            id_key(&r.kind, &r.config_name, &r.field),
            r.public_id.clone(),
        );
    }
}

fn record(
    ledger: &mut Ledger,
    plan: &StoredPlan,
    key: PayloadKey,
    recorded: &[RecordedId],
    matched_by: &str,
    outcome: Outcome,
) -> Result<Result<Outcome, Stop>, ApplyError> {
    ledger.mark_done(key, &plan.target, recorded, matched_by)?;
    Ok(Ok(outcome))
}

/// Records an object found by its natural key as this payload's result. The record pointers
/// name the answer of a create (`/data/source/id`); the found object is what sits under
/// `/data/<item>`, so the first two segments are dropped.
async fn record_found(
    ledger: &mut Ledger,
    plan: &StoredPlan,
    key: PayloadKey,
    planned: &Planned,
    object: &crate::public_api::PublicObject,
    ids: &mut HashMap<IdKey, String>,
) -> Result<Result<Outcome, Stop>, ApplyError> {
    let recorded = recorded_ids(planned, |pointer| {
        let inner: String = pointer
            .split('/')
            .skip(3)
            .fold(String::new(), |acc, s| acc + "/" + s);
        if inner == "/id" {
            return Some(object.id.clone());
        }
        object
            .body
            .pointer(&inner)
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let recorded = match recorded {
        Ok(r) => r,
        Err(missing) => {
            return Ok(Err(Stop::Unknown {
                reason: format!(
                    "found {} in the target by its natural key, but not its `{missing}`",
                    object.id
                ),
            }));
        }
    };
    remember(ids, &recorded);
    record(
        ledger,
        plan,
        key,
        &recorded,
        "reconciled",
        Outcome::Reconciled,
    )
}

/// What a natural-key lookup found.
enum Found {
    None,
    One(crate::public_api::PublicObject),
    Several(String),
    /// The lookup itself failed.
    Unknown(String),
}

/// Looks the object a create makes up by its natural key, from the resolved request.
///
/// Objects whose id the ledger already gives to another Config name are not candidates: a
/// workspace may hold two destinations with the same key (same type on one source, no name),
/// and the second must not be recorded as the first.
async fn reconcile(
    client: &PublicClient,
    step: &str,
    request: &Resolved,
    ids: &HashMap<IdKey, String>,
) -> Found {
    let body = request.body.clone().unwrap_or(Value::Null);
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
    let param = |name: &str| {
        request
            .params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let missing = |what: &str| Found::Unknown(format!("the request lacks `{what}` to look it up"));
    let (answer, key) = match step {
        "create_source" => {
            let Some(slug) = text("/slug") else {
                return missing("slug");
            };
            (
                client.find_source_by_slug(slug).await,
                format!("slug `{slug}`"),
            )
        }
        "create_label" => {
            let (Some(k), Some(v)) = (text("/label/key"), text("/label/value")) else {
                return missing("label");
            };
            (client.find_label(k, v).await, format!("label `{k}:{v}`"))
        }
        "create_tracking_plan" => {
            let Some(name) = text("/name") else {
                return missing("name");
            };
            (
                client.find_tracking_plan(name, None).await,
                format!("name `{name}`"),
            )
        }
        "create_function" => {
            let (Some(kind), Some(name)) = (text("/resourceType"), text("/displayName")) else {
                return missing("resourceType, displayName");
            };
            let Some(kind) = FunctionType::ALL.into_iter().find(|t| t.as_str() == kind) else {
                return missing("a known resourceType");
            };
            (
                client.find_function(kind, name).await,
                format!("display name `{name}`"),
            )
        }
        "create_destination" => {
            let (Some(source), Some(metadata)) = (text("/sourceId"), text("/metadataId")) else {
                return missing("sourceId, metadataId");
            };
            let name = text("/name");
            (
                client.find_destination(source, metadata, name).await,
                format!(
                    "source {source}, metadata {metadata}, name `{}`",
                    name.unwrap_or_default()
                ),
            )
        }
        "create_filter" => {
            let (Some(destination), Some(title), Some(condition)) =
                (param("destinationId"), text("/title"), text("/if"))
            else {
                return missing("destinationId, title, if");
            };
            (
                client.find_filter(destination, title, condition).await,
                format!("destination {destination}, title `{title}`"),
            )
        }
        other => return Found::Unknown(format!("`{other}` has no natural key to look up")),
    };
    let unclaimed = |objects: Vec<crate::public_api::PublicObject>| {
        let mut objects: Vec<_> = objects
            .into_iter()
            .filter(|o| !ids.values().any(|id| *id == o.id))
            .collect();
        match objects.len() {
            0 => Match::None,
            1 => Match::One(objects.remove(0)),
            _ => Match::Several(objects),
        }
    };
    let answer = answer.map(|found| match found {
        Match::None => Match::None,
        Match::One(object) => unclaimed(vec![object]),
        Match::Several(objects) => unclaimed(objects),
    });
    match answer {
        Ok(Match::None) => Found::None,
        Ok(Match::One(object)) => Found::One(object),
        Ok(Match::Several(objects)) => Found::Several(format!(
            "{} objects in the target have {key} ({}); segbridge does not pick one: remove the extra ones and run apply again",
            objects.len(),
            objects
                .iter()
                .map(|o| o.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
        Err(e) => Found::Unknown(format!("looking it up by {key}: {}", chain(&e))),
    }
}

/// Whether the source of a connect request is already connected to its plan.
async fn already_connected(client: &PublicClient, request: &Resolved) -> Result<bool, String> {
    let plan = request
        .params
        .iter()
        .find(|(n, _)| n == "trackingPlanId")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let source = request
        .body
        .as_ref()
        .and_then(|b| b.get("sourceId"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let sources = client
        .list_tracking_plan_sources(&plan)
        .all()
        .await
        .map_err(|e| chain(&e))?;
    Ok(sources.iter().any(|s| s.id == source))
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may hold secrets.
        f.debug_struct("Resolved")
            .field("path", &self.path)
            .finish()
    }
}

#[cfg(test)]
mod tests;
