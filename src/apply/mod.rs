//! The executor: sends the stored plan of a target to the Public API, exactly once, resumably.
//!
//! Role: [`apply`] sends the payloads of the target's latest plan in the order
//! [`schedule`] gives (phases by step, lanes that may overlap inside a phase), fills `$ref`s
//! from the ledger's id map and from the ids earlier payloads recorded, fills `$secret`s from
//! the operator's [`SecretsFile`] or by reading the object again from the Config API
//! ([`live_secrets`]), and sends each through [`PublicWriter::send_planned`]. [`dry_run`]
//! reads the same plan and says what a live run would send; it has no writer to call.
//!
//! Invariants, each the reason for a piece of the code (`execute.rs` holds most of them):
//! - **Intent before, result after.** Before a write the payload row becomes `intent`,
//!   committed and checkpointed (lanes about to send at once share that, `recorder.rs`); after
//!   it, `done` with the ids the answer carried, and the id-map rows
//!   (`matched_by = 'created'`), committed with the next intents or at the end of the step. A
//!   crash in between leaves an `intent`.
//! - **Reconcile before any retry of a create.** The Public API has no idempotency keys. A
//!   create that answered [`crate::public_api::PublicApiError::Ambiguous`], or that an earlier
//!   run left at `intent` (or `failed`), is first looked up by its natural key
//!   (`reconcile.rs`): one match is recorded as done (`matched_by = 'reconciled'`), none is
//!   created again, several fail the payload with the ids named; segbridge never picks one.
//!   Non-creates (PATCH, PUT, connect, deploy) set given values and are sent again as they are.
//!   Payloads that could be taken for each other never overlap (see [`schedule`]).
//! - **Done is final.** A `done` payload is never sent again, so a second `apply` writes
//!   nothing.
//! - **Failures stay local.** A payload that fails marks its item failed; every later payload
//!   of that item, and every payload whose `$ref`s name it, is skipped; the rest goes on.
//! - **Secrets stay in memory.** Resolved bodies live for one request; errors and the ledger
//!   hold ids, setting names and API messages, never a value.
//! - **Opt-ins stay pending.** Inviting people and granting permissions send email and change
//!   who may do what, so IAM payloads are sent only with [`ApplyOptions::include_iam`]; the
//!   cut-over (enabling sources and destinations) only with [`ApplyOptions::cut_over`].
//!   Without them those payloads stay `pending` and are reported as deferred, so a later
//!   `apply --enable` finds them.

mod body_text;
mod execute;
pub mod live_secrets;
mod reconcile;
mod recorder;
pub mod schedule;
pub mod secrets;

use std::collections::{BTreeMap, HashMap};

use futures::{StreamExt, TryStreamExt, stream};
use serde::Deserialize;
use serde_json::Value;

pub use execute::SecretSources;
pub use live_secrets::ConfigSecrets;
pub use secrets::{SecretsFile, SecretsFileError};

use crate::ledger::{Ledger, LedgerError, StoredItem, StoredPlan};
use crate::mapping::{IdMap, Ref, RefField, SecretState};
use crate::progress::Reporter;
use crate::public_api::PublicWriter;
use execute::Run;

/// Lanes in flight at once. A write takes about a tenth of a second, so eight keep 80 writes
/// a second on the way, more than the Public API's default bucket admits (1,000 a minute): the
/// rate limit, not the overlap, sets the pace, also for a target far away. Eight rather than
/// fewer because lanes about to send share the recording of their intents (`recorder.rs`), so
/// more lanes make fewer waits for the disk; few enough that a crash leaves at most eight
/// writes sent without their result (and the intents recorded ahead, `recorder::AHEAD`, of
/// payloads not sent yet) to reconcile.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Creates of one payload within one run, ambiguous outcomes included. Each ambiguous
/// answer is reconciled before the next, so this only bounds a target that keeps failing.
pub(crate) const MAX_CREATES_PER_RUN: u32 = 3;

/// What stops a run: the ledger can no longer record progress, so going on could repeat writes.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot record apply progress in the ledger")]
    Ledger(#[from] LedgerError),
}

/// Choices of the operator.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// Create a destination without a secret setting nothing supplies, instead of failing it
    /// as manual.
    pub allow_missing_secrets: bool,
    /// Lanes in flight at once (at least one).
    pub concurrency: usize,
    /// Send invitations and permissions (`--include-iam`).
    pub include_iam: bool,
    /// Enable the sources and destinations the source workspace had enabled (`--enable`).
    pub cut_over: bool,
    /// The part of the plan to send.
    pub scope: Scope,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        Self {
            allow_missing_secrets: false,
            concurrency: DEFAULT_CONCURRENCY,
            include_iam: false,
            cut_over: false,
            scope: Scope::WHOLE,
        }
    }
}

/// The part of a plan a run sends. `apply` sends the whole plan; `migrate`, which plans and
/// applies in stages while the export still reads, sends each stage's items with everything but
/// the enabling of their sources (a stage's destinations are enabled after their filters, and
/// receive nothing while their source is disabled), then enables the sources of the whole plan
/// last, once everything else is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// The items whose `seq` is at least this,
    pub from: i64,
    /// and less than this.
    pub to: i64,
    pub steps: ScopeSteps,
}

/// The steps of the cut-over: enabling what the source workspace had enabled.
pub const CUT_OVER_STEPS: [&str; 2] = [ENABLE_SOURCE, "enable_destination"];

/// The cut-over step that lets data in: nothing flows in the target before a source is enabled.
const ENABLE_SOURCE: &str = "enable_source";

/// Which steps a [`Scope`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeSteps {
    /// Every step, the whole cut-over included.
    All,
    /// Every step but enabling sources.
    AllButEnablingSources,
    /// Enabling sources only.
    EnablingSources,
}

impl Scope {
    /// Every payload of the plan.
    pub const WHOLE: Scope = Scope {
        from: 0,
        to: i64::MAX,
        steps: ScopeSteps::All,
    };

    /// The items `seqs` of a stage, without enabling their sources.
    pub fn stage(seqs: std::ops::Range<i64>) -> Scope {
        Scope {
            from: seqs.start,
            to: seqs.end,
            steps: ScopeSteps::AllButEnablingSources,
        }
    }

    /// Enabling the sources of the whole plan.
    pub const ENABLING_SOURCES: Scope = Scope {
        from: 0,
        to: i64::MAX,
        steps: ScopeSteps::EnablingSources,
    };

    fn seqs(self) -> std::ops::Range<i64> {
        self.from..self.to
    }

    fn holds_step(self, step: &str) -> bool {
        match self.steps {
            ScopeSteps::All => true,
            ScopeSteps::AllButEnablingSources => step != ENABLE_SOURCE,
            ScopeSteps::EnablingSources => step == ENABLE_SOURCE,
        }
    }
}

/// Why a payload was left for later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Deferral {
    /// IAM without `--include-iam`.
    Iam,
    /// Cut-over without `--enable`.
    CutOver,
}

impl Deferral {
    pub const ALL: [Deferral; 2] = [Deferral::Iam, Deferral::CutOver];

    /// Whether `step` waits for an opt-in these options do not give.
    pub fn of(step: &str, options: ApplyOptions) -> Option<Deferral> {
        match step {
            "add_user_permissions" | "invite_user" if !options.include_iam => Some(Deferral::Iam),
            _ if CUT_OVER_STEPS.contains(&step) && !options.cut_over => Some(Deferral::CutOver),
            _ => None,
        }
    }

    /// The flag that sends what waits.
    pub fn flag(self) -> &'static str {
        match self {
            Deferral::Iam => "--include-iam",
            Deferral::CutOver => "--enable",
        }
    }
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
    /// Not attempted: it waits for an opt-in.
    Deferred(Deferral),
}

/// One payload's line in the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadReport {
    /// The payload's place in the plan.
    pub seq: i64,
    pub ordinal: i64,
    pub kind: String,
    pub config_name: String,
    pub step: String,
    pub outcome: Outcome,
    /// Secret settings left out under `--allow-missing-secrets`.
    pub omitted_secrets: Vec<String>,
}

/// The result of a run: how many payloads came to each outcome, and the lines a person must
/// read (payloads not applied, and writes sent without a secret), in plan order. Counts rather
/// than a line per payload: the report prints counts, and 50,000 lines held to the end of a
/// run were about 15 MB.
#[derive(Debug, Clone, Default)]
pub struct ApplyReport {
    pub plan: i64,
    /// Writes sent, per kind and step.
    written: BTreeMap<String, BTreeMap<String, usize>>,
    reconciled: usize,
    already_done: usize,
    deferred: BTreeMap<Deferral, usize>,
    /// Failed and skipped payloads, and writes sent without a secret, in plan order.
    pub notable: Vec<PayloadReport>,
}

impl ApplyReport {
    fn new(plan: i64) -> ApplyReport {
        ApplyReport {
            plan,
            ..ApplyReport::default()
        }
    }

    /// Counts `line`'s outcome, and keeps the line when a person must read it.
    fn add(&mut self, line: PayloadReport) {
        match &line.outcome {
            Outcome::Written => self.count_written(&line.kind, &line.step, 1),
            Outcome::Reconciled => self.reconciled += 1,
            Outcome::AlreadyDone => self.already_done += 1,
            Outcome::Deferred(why) => *self.deferred.entry(*why).or_default() += 1,
            Outcome::Failed { .. } | Outcome::Skipped { .. } => {}
        }
        let unapplied = matches!(
            line.outcome,
            Outcome::Failed { .. } | Outcome::Skipped { .. }
        );
        if unapplied || !line.omitted_secrets.is_empty() {
            self.notable.push(line);
        }
    }

    /// Adds the counts and lines of `other`, a report of other payloads of the same plan
    /// (other steps of the same run, or the next stage of `migrate`).
    pub fn merge(&mut self, other: ApplyReport) {
        for (kind, steps) in &other.written {
            for (step, n) in steps {
                self.count_written(kind, step, *n);
            }
        }
        self.reconciled += other.reconciled;
        self.already_done += other.already_done;
        for (why, n) in other.deferred {
            *self.deferred.entry(why).or_default() += n;
        }
        self.notable.extend(other.notable);
    }

    /// Adds `n` writes of `step` on `kind`; the names are copied only the first time.
    fn count_written(&mut self, kind: &str, step: &str, n: usize) {
        let steps = match self.written.get_mut(kind) {
            Some(steps) => steps,
            None => self.written.entry(kind.to_owned()).or_default(),
        };
        match steps.get_mut(step) {
            Some(count) => *count += n,
            None => {
                steps.insert(step.to_owned(), n);
            }
        }
    }

    fn count(&self, pred: impl Fn(&Outcome) -> bool) -> usize {
        self.notable.iter().filter(|p| pred(&p.outcome)).count()
    }

    pub fn written(&self) -> usize {
        self.written.values().flat_map(BTreeMap::values).sum()
    }

    pub fn reconciled(&self) -> usize {
        self.reconciled
    }

    pub fn already_done(&self) -> usize {
        self.already_done
    }

    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Failed { .. }))
    }

    pub fn skipped(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Skipped { .. }))
    }

    /// Payloads waiting for `why`'s opt-in.
    pub fn deferred(&self, why: Deferral) -> usize {
        self.deferred.get(&why).copied().unwrap_or(0)
    }

    /// Writes sent per kind and step.
    pub fn writes_per_kind(&self) -> &BTreeMap<String, BTreeMap<String, usize>> {
        &self.written
    }
}

/// What a dry run would send: payloads not yet done, per kind and step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DryRunReport {
    pub plan: i64,
    pub would_write: BTreeMap<String, BTreeMap<String, usize>>,
    pub already_done: usize,
    /// Payloads waiting for an opt-in the dry run was not given.
    pub deferred: BTreeMap<Deferral, usize>,
    /// `(config name, setting)` of secrets nothing will supply: not in the secrets file, and
    /// either masked at export or with no Config API token to read them again.
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
    /// The body's text as stored: filled in without being parsed ([`body_text`]).
    #[serde(default)]
    body: Option<Box<serde_json::value::RawValue>>,
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

/// The reference a recorded id stands for (kind, Config name and field as the ledger holds
/// them); `None` for a kind or field this version does not know, which no payload refers to.
fn reference(kind: &str, config_name: &str, field: &str) -> Option<Ref> {
    Some(Ref {
        kind: kind.parse().ok()?,
        config_name: config_name.to_owned(),
        field: RefField::parse(field)?,
    })
}

/// The Public ids a run puts in place of its payloads' references, kept from one run to the
/// next by a caller that sends a plan in parts: `migrate`, stage by stage. The first run reads
/// them all from the ledger (the id map and the results of the payloads done); a later one
/// starts from what the run before it ended with (what it knew and what its writes created)
/// and reads again only the pairs the plan's own matching stored (the stages planned since),
/// instead of the whole id map and every result of the plan, once per stage.
#[derive(Debug, Default)]
pub struct KnownIds {
    /// What the last run ended with; `None` before the first, or after a run that failed.
    ids: Option<IdMap>,
}

impl KnownIds {
    fn take(&mut self, ledger: &Ledger, plan: &StoredPlan) -> Result<IdMap, LedgerError> {
        let Some(mut ids) = self.ids.take() else {
            return known_ids(ledger, plan);
        };
        // Every other pair of the id map was there when the first run read it, or was
        // recorded by a run since, which remembered it (`Run::remember`).
        for pair in ledger.plan_matches(&plan.target, plan.id)? {
            if let Some(r) = reference(&pair.kind, &pair.config_name, &pair.field) {
                ids.insert(r, pair.public_id);
            }
        }
        Ok(ids)
    }
}

/// Ids known before the run: the id map (plan matches and earlier runs' creates) and the
/// results of payloads already done.
fn known_ids(ledger: &Ledger, plan: &StoredPlan) -> Result<IdMap, LedgerError> {
    let mut ids = IdMap::new();
    ledger.visit_id_map(&plan.target, |pair| {
        if let Some(r) = reference(&pair.kind, &pair.config_name, &pair.field) {
            ids.insert(r, pair.public_id);
        }
    })?;
    for result in ledger.plan_results(plan.id)? {
        if let Value::Object(result) = result {
            for (key, id) in &result {
                let mut parts = key.splitn(3, '|');
                if let (Some(kind), Some(name), Some(field), Some(id)) =
                    (parts.next(), parts.next(), parts.next(), id.as_str())
                    && let Some(r) = reference(kind, name, field)
                {
                    ids.insert(r, id);
                }
            }
        }
    }
    Ok(ids)
}

/// The items that send payloads, by `seq`.
fn items_by_seq(items: Vec<StoredItem>) -> HashMap<i64, StoredItem> {
    items.into_iter().map(|i| (i.seq, i)).collect()
}

fn writes(item: &StoredItem) -> bool {
    // `Action::writes`, on the stored text.
    matches!(item.action.as_str(), "create" | "update")
}

/// Every secret setting the payloads of `plan` carry a marker for, done or not.
pub fn plan_secrets(
    ledger: &Ledger,
    plan: &StoredPlan,
) -> Result<Vec<crate::mapping::SecretRef>, ApplyError> {
    let mut secrets = Vec::new();
    // Most payloads carry no secret: only those whose text names the marker are parsed.
    ledger.visit_plan_payloads_containing(
        plan.id,
        crate::mapping::SECRET_MARKER_KEY,
        |payload| {
            secrets.extend(crate::mapping::secrets_in(&payload.payload.value()));
        },
    )?;
    Ok(secrets)
}

/// A dry run: what [`apply`] would send with `options`, without a writer (none can be made
/// without a `WriteAccess`, which a dry run is never granted). `config_api` says whether
/// secrets seen in clear at export could be read again.
pub fn dry_run(
    ledger: &Ledger,
    plan: &StoredPlan,
    secrets: &SecretsFile,
    config_api: bool,
    options: ApplyOptions,
) -> Result<DryRunReport, ApplyError> {
    let items = items_by_seq(ledger.plan_items(plan.id)?);
    let mut report = DryRunReport {
        plan: plan.id,
        ..DryRunReport::default()
    };
    ledger.visit_plan_payloads(plan.id, |payload| {
        let Some(item) = items.get(&payload.seq).filter(|i| writes(i)) else {
            return;
        };
        if payload.state == "done" {
            report.already_done += 1;
            return;
        }
        if let Some(why) = Deferral::of(&payload.step, options) {
            *report.deferred.entry(why).or_default() += 1;
            return;
        }
        if let Some(body) = payload.payload.value().get("body") {
            for secret in crate::mapping::secrets_in(body) {
                let rereadable = config_api && secret.state == SecretState::Present;
                if secrets.get(&secret).is_none() && !rereadable {
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
    })?;
    Ok(report)
}

/// Executes the plan: phase by phase in [`schedule::STEP_ORDER`] (the steps of
/// [`schedule::BESIDE`] beside the phases before the first that needs them), the lanes of a
/// phase `options.concurrency` at a time. Returns the report, its lines in plan order; a payload
/// failure is in the report, not an error. Only a ledger that cannot record progress stops
/// the run (writes in flight then stay `intent`, for the next run to reconcile).
///
/// The payloads and their items are read from the ledger one step at a time, so that a run
/// holds one step's payloads (and the labels' beside them), not the plan's. The ids references
/// resolve to come from `known`, which the run leaves holding what it ended with (see
/// [`KnownIds`]).
pub async fn apply(
    ledger: &mut Ledger,
    plan: &StoredPlan,
    writer: &PublicWriter,
    secrets: SecretSources<'_>,
    options: ApplyOptions,
    known: &mut KnownIds,
    reporter: &dyn Reporter,
) -> Result<ApplyReport, ApplyError> {
    let ids = known.take(ledger, plan)?;
    let mut steps = ledger.plan_steps(plan.id)?;
    steps.retain(|step| options.scope.holds_step(step));
    // Stable: steps this release does not know keep their (alphabetical) order, last.
    steps.sort_by_key(|step| schedule::phase_of(step));
    let run = Run::new(ledger, plan, writer, secrets, options, ids, reporter)?;
    // Labels go beside the steps before the first one that needs them (`schedule::BESIDE`).
    let (beside, before, after) = schedule::split_beside(steps);
    let (mut report, alongside) = futures::try_join!(
        run_steps(&run, plan.id, &before, options, reporter),
        run_steps(&run, plan.id, &beside, options, reporter),
    )?;
    report.merge(alongside);
    // What failed beside breaks its items now, before anything that needs it is sent.
    run.release_held_breakage();
    report.merge(run_steps(&run, plan.id, &after, options, reporter).await?);
    report.notable.sort_by_key(|l| (l.seq, l.ordinal));
    known.ids = Some(run.into_ids());
    Ok(report)
}

/// Sends `steps` one after the other, the lanes of each `options.concurrency` at a time.
async fn run_steps(
    run: &Run<'_>,
    plan: i64,
    steps: &[String],
    options: ApplyOptions,
    reporter: &dyn Reporter,
) -> Result<ApplyReport, ApplyError> {
    let mut report = ApplyReport::new(plan);
    for step in steps {
        let payloads = run.payloads_of_step(step)?;
        let items: HashMap<i64, StoredItem> = items_by_seq(run.items_of_step(step)?)
            .into_iter()
            .filter(|(_, item)| writes(item))
            .collect();
        for phase in schedule::phases(&payloads, &items) {
            reporter.task_started(phase.step, phase.len() as u64);
            // Lanes start in order and send their payloads in order; a batch lane has its
            // intents recorded together anyway.
            let expected = run.expect(
                phase
                    .lanes
                    .iter()
                    .filter(|lane| !lane.batch)
                    .flat_map(|lane| lane.payloads.iter().copied()),
            );
            let done: Vec<Vec<PayloadReport>> = stream::iter(phase.lanes)
                .map(|lane| run_lane(run, &items, lane, reporter))
                .buffer_unordered(options.concurrency.max(1))
                .try_collect()
                .await?;
            done.into_iter().flatten().for_each(|line| report.add(line));
            // What the next step reads from the ledger is then as this one left it.
            run.flush(&expected).await?;
        }
    }
    Ok(report)
}

/// Sends the payloads of one lane: one after the other, or as one batch request.
async fn run_lane(
    run: &Run<'_>,
    items: &HashMap<i64, StoredItem>,
    lane: schedule::Lane<'_>,
    reporter: &dyn Reporter,
) -> Result<Vec<PayloadReport>, ApplyError> {
    if lane.batch {
        let batch: Vec<_> = lane.payloads.iter().map(|p| (*p, &items[&p.seq])).collect();
        let out = run.invite_batch(&batch).await?;
        for payload in &lane.payloads {
            reporter.task_advanced(&payload.step, 1);
        }
        return Ok(out);
    }
    let mut out: Vec<PayloadReport> = Vec::with_capacity(lane.payloads.len());
    // Set once an ordered lane has a payload that was not applied.
    let mut held: Option<String> = None;
    for payload in lane.payloads {
        let item = &items[&payload.seq];
        let line = match &held {
            Some(because) if payload.state != "done" => execute::line(
                payload,
                item,
                Outcome::Skipped {
                    because: because.clone(),
                },
            ),
            _ => run.payload(payload, item).await?,
        };
        if lane.ordered
            && held.is_none()
            && matches!(
                line.outcome,
                Outcome::Failed { .. } | Outcome::Skipped { .. }
            )
        {
            held = Some(format!(
                "{} `{}` before it was not applied, and their order must be kept",
                line.kind, line.config_name
            ));
        }
        out.push(line);
        reporter.task_advanced(&payload.step, 1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::PreparedItem;
    use crate::mapping::RefField;
    use crate::model::Kind;
    use crate::plan::{Action, IdPair, Mode, OnConflict, PlanItem};

    /// An item the plan adopts, with the id-map pair its match stores.
    fn adopted(config_name: &str, public_id: &str) -> PreparedItem {
        let item = PlanItem {
            kind: Kind::Destinations,
            config_name: config_name.into(),
            action: Action::Adopt,
            target_id: Some(public_id.into()),
            natural_key: None,
            matched_by: Some("name"),
            conflict: true,
            payloads: Vec::new(),
            findings: Vec::new(),
        };
        let pair = IdPair {
            kind: Kind::Destinations,
            config_name: config_name.into(),
            field: RefField::Id,
            public_id: public_id.into(),
            matched_by: "name",
            natural_key: None,
        };
        PreparedItem::new(&item, vec![pair])
    }

    #[test]
    fn known_ids_kept_from_a_run_gain_the_matches_of_the_stages_stored_since() {
        let mut ledger = Ledger::open_in_memory().unwrap();
        let export = ledger.begin_run("export", "config").unwrap();
        let run = ledger.begin_run("plan", "t").unwrap();
        let plan = ledger
            .begin_staged_plan(run, export, "t", Mode::Create, OnConflict::Adopt)
            .unwrap();
        ledger
            .store_stage(plan, "t", &[adopted("d1", "D1")])
            .unwrap();
        let stored = ledger.latest_plan("t").unwrap().unwrap();
        let key = |name: &str| Ref::id(Kind::Destinations, name);

        let mut known = KnownIds::default();
        let mut first = known.take(&ledger, &stored).unwrap();
        assert_eq!(first.get(&key("d1")), Some("D1"));
        // What a run created, remembered; then a later stage adopts another object.
        first.insert(key("made"), "M1");
        known.ids = Some(first);
        ledger
            .store_stage(plan, "t", &[adopted("d2", "D2")])
            .unwrap();

        let second = known.take(&ledger, &stored).unwrap();
        for (name, id) in [("d1", "D1"), ("made", "M1"), ("d2", "D2")] {
            assert_eq!(second.get(&key(name)), Some(id), "{name}");
        }
    }
}
