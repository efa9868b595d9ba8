//! One payload, start to end: read it back, fill its markers, look before writing again,
//! write, record.
//!
//! [`Run`] is what every lane of a run shares: the ledger (one writer at a time behind a
//! mutex, never held across an `.await`), the ids known so far, the items that broke, and
//! where secret values come from. [`Run::payload`] turns one stored payload into one report
//! line, keeping the invariants the module doc of [`super`] lists.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use serde_json::{Map, Value};

use super::body_text::{self, Fill, secrets_in_text};
use super::live_secrets::{ConfigSecrets, LiveValues};
use super::reconcile::{Found, already_connected, reconcile};
use super::recorder::Recorder;
use super::schedule;
use super::{
    ApplyError, ApplyOptions, Deferral, MAX_CREATES_PER_RUN, Outcome, PayloadReport, Planned,
    SecretsFile, is_create, reference,
};
use crate::diagnostics::chain;
use crate::ledger::{
    Applied, Ledger, PayloadKey, RecordedId, StoredItem, StoredPayload, StoredPlan,
};
use crate::mapping::{IdMap, Ref, SecretRef, SecretState, Unresolved, ref_marker};
use crate::model::JsonText;
use crate::progress::Reporter;
use crate::public_api::writer::{WriteOperation, planned_operation};
use crate::public_api::{PublicObject, PublicWriter};
use crate::secrets::Redactor;

/// The longest payload text a step holds whole while it runs; the bodies of longer ones stay in
/// the ledger until each is sent, a read of one row. Payloads are a kilobyte or two (a filter's
/// a few), but a request of tracking-plan rules can take a hundred: the rules of `large`'s 60
/// plans were 3.9 MB held through their step, in the first seconds of a `migrate`, where its
/// peak then was.
const HELD_WHOLE_UP_TO: usize = 16 * 1024;

/// Where a payload stands when a step of its handling cannot go on.
pub(super) enum Stop {
    /// Known not applied: `failed`.
    Failed { reason: String, manual: bool },
    /// Outcome unknown: stays `intent` for the next run to reconcile.
    Unknown { reason: String },
}

impl Stop {
    /// The same stop, with the values `redactor` knows taken out of its reason.
    fn redacted(self, redactor: &Redactor) -> Stop {
        match self {
            Stop::Failed { reason, manual } => Stop::Failed {
                reason: redactor.redact(&reason),
                manual,
            },
            Stop::Unknown { reason } => Stop::Unknown {
                reason: redactor.redact(&reason),
            },
        }
    }
}

/// Where secret values come from: the operator's file first (an explicit choice wins), then,
/// for secrets the export saw in clear, the Config API.
pub struct SecretSources<'a> {
    pub file: &'a SecretsFile,
    pub config: Option<&'a ConfigSecrets>,
}

/// What the lanes of one run share.
pub(super) struct Run<'a> {
    ledger: Mutex<&'a mut Ledger>,
    /// Intents of lanes about to send and results of writes that came back, recorded together.
    recorder: Recorder,
    plan: &'a StoredPlan,
    writer: &'a PublicWriter,
    secrets: SecretSources<'a>,
    options: ApplyOptions,
    ids: Mutex<IdMap>,
    /// Items (kind, Config name) that failed or were skipped in this run, and why.
    broken: Mutex<HashMap<(String, String), String>>,
    /// Items broken by a step sent beside the others ([`schedule::BESIDE`]): they join
    /// `broken` when those steps are done ([`Run::release_held_breakage`]), so that a label
    /// failing does not stop its source from being created by a step it did not use to wait
    /// for.
    held_broken: Mutex<HashMap<(String, String), String>>,
    reporter: &'a dyn Reporter,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A lane that panicked has left nothing half-written in these maps.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl<'a> Run<'a> {
    pub(super) fn new(
        ledger: &'a mut Ledger,
        plan: &'a StoredPlan,
        writer: &'a PublicWriter,
        secrets: SecretSources<'a>,
        options: ApplyOptions,
        ids: IdMap,
        reporter: &'a dyn Reporter,
    ) -> Result<Self, ApplyError> {
        let checkpointer = ledger.checkpointer()?;
        Ok(Self {
            ledger: Mutex::new(ledger),
            recorder: Recorder::new(checkpointer),
            plan,
            writer,
            secrets,
            options,
            ids: Mutex::new(ids),
            broken: Mutex::new(HashMap::new()),
            held_broken: Mutex::new(HashMap::new()),
            reporter,
        })
    }

    /// The ids known at the end of the run, for the next one ([`super::KnownIds`]).
    pub(super) fn into_ids(self) -> IdMap {
        self.ids.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// Where a failure of a `step` payload is kept: the items a step sent beside the others
    /// breaks are held until those steps are done.
    fn breakage_of(&self, step: &str) -> &Mutex<HashMap<(String, String), String>> {
        if schedule::runs_beside(step) {
            &self.held_broken
        } else {
            &self.broken
        }
    }

    /// Why `this` (kind, Config name) may not send a `payload`: its item or an item it needs
    /// is broken. A step sent beside the others also sees what it broke itself.
    fn blocked(&self, this: &(String, String), payload: &StoredPayload) -> Option<String> {
        let held = schedule::runs_beside(&payload.step);
        blocked_by(&lock(&self.broken), this, &payload.dependencies).or_else(|| {
            held.then(|| blocked_by(&lock(&self.held_broken), this, &payload.dependencies))
                .flatten()
        })
    }

    /// The items broken beside the other steps count as broken from now on.
    pub(super) fn release_held_breakage(&self) {
        let held = std::mem::take(&mut *lock(&self.held_broken));
        let mut broken = lock(&self.broken);
        for (item, why) in held {
            broken.entry(item).or_insert(why);
        }
    }

    fn ledger(&self) -> MutexGuard<'_, &'a mut Ledger> {
        lock(&self.ledger)
    }

    /// The payloads of a phase this run is about to send for the first time, in the order
    /// its lanes reach them, so that recordings can take their intents ahead (see
    /// [`Recorder`]). Returns their keys, for [`Run::flush`] at the end of the phase.
    pub(super) fn expect<'p>(
        &self,
        payloads: impl IntoIterator<Item = &'p StoredPayload>,
    ) -> Vec<PayloadKey> {
        let keys: Vec<PayloadKey> = payloads
            .into_iter()
            .filter(|p| p.state == "pending" && Deferral::of(&p.step, self.options).is_none())
            .map(|p| self.key_of(p))
            .collect();
        self.recorder.expect(keys.iter().copied());
        keys
    }

    /// Commits the results still waiting for a recording, and takes back the intents
    /// recorded ahead for the `expected` payloads of a phase that no lane sent (see
    /// [`Recorder`]).
    pub(super) async fn flush(&self, expected: &[PayloadKey]) -> Result<(), ApplyError> {
        Ok(self.recorder.flush(expected, || self.ledger()).await?)
    }

    /// The items of the run's plan that have payloads of `step`.
    pub(super) fn items_of_step(&self, step: &str) -> Result<Vec<StoredItem>, ApplyError> {
        Ok(self
            .ledger()
            .plan_items_of_step(self.plan.id, step, self.options.scope.seqs())?)
    }

    /// The payloads of `step` in the run's plan, as they stand in the ledger now; the bodies
    /// of payloads longer than [`HELD_WHOLE_UP_TO`] stay there until they are sent.
    pub(super) fn payloads_of_step(&self, step: &str) -> Result<Vec<StoredPayload>, ApplyError> {
        let whole_up_to = if schedule::keyed_by_body(step) {
            usize::MAX
        } else {
            HELD_WHOLE_UP_TO
        };
        Ok(self.ledger().plan_payloads_of_step(
            self.plan.id,
            step,
            self.options.scope.seqs(),
            whole_up_to,
        )?)
    }

    /// What `payload` asks for: its text as read, or the whole of it from the ledger when its
    /// body was left there.
    fn planned(&self, payload: &StoredPayload) -> Result<serde_json::Result<Planned>, ApplyError> {
        if payload.body_left {
            let whole = self.ledger().payload_text(self.key_of(payload))?;
            return Ok(whole.parse::<Planned>());
        }
        Ok(payload.payload.parse())
    }

    fn key_of(&self, payload: &StoredPayload) -> PayloadKey {
        PayloadKey {
            plan: self.plan.id,
            seq: payload.seq,
            ordinal: payload.ordinal,
        }
    }

    /// Handles one payload of `item` and says what became of it.
    pub(super) async fn payload(
        &self,
        payload: &StoredPayload,
        item: &StoredItem,
    ) -> Result<PayloadReport, ApplyError> {
        let key = self.key_of(payload);
        // From here on this lane decides what becomes of the payload: a recording taking its
        // intent ahead now could overwrite what the lane records (a failure before sending).
        self.recorder.reached(&key);
        let mut line = line(payload, item, Outcome::AlreadyDone);
        let this = (item.kind.clone(), item.config_name.clone());
        if payload.state == "done" {
            return Ok(line);
        }
        if let Some(deferral) = Deferral::of(&payload.step, self.options) {
            line.outcome = Outcome::Deferred(deferral);
            return Ok(line);
        }
        if let Some(because) = self.blocked(&this, payload) {
            lock(self.breakage_of(&payload.step))
                .entry(this)
                .or_insert_with(|| because.clone());
            line.outcome = Outcome::Skipped { because };
            return Ok(line);
        }

        let outcome = self
            .execute(payload, key, &mut line.omitted_secrets)
            .await?;
        let broken = || format!("{} `{}` failed", item.kind, item.config_name);
        line.outcome = match outcome {
            Ok(outcome) => outcome,
            Err(Stop::Failed { reason, manual }) => {
                self.ledger().mark_failed(key, "failed", &reason)?;
                self.reporter.failed(&item.config_name, &reason);
                lock(self.breakage_of(&payload.step)).insert(this, broken());
                Outcome::Failed { reason, manual }
            }
            Err(Stop::Unknown { reason }) => {
                self.ledger().mark_failed(key, "intent", &reason)?;
                self.reporter.failed(&item.config_name, &reason);
                lock(self.breakage_of(&payload.step)).insert(this, broken());
                Outcome::Failed {
                    reason,
                    manual: false,
                }
            }
        };
        Ok(line)
    }

    /// Handles first-time invitations of distinct emails with one `POST /invites`
    /// ([`super::schedule`] makes the batch). Each payload keeps its own intent, result and
    /// report line. A payload that cannot join (deferred, blocked, unresolvable) is handled
    /// alone; when the batch request fails, or its answer leaves an email out, those payloads
    /// are handled alone too, as the earlier attempts they are: looked up by email before
    /// they are sent again, so that none is invited twice.
    pub(super) async fn invite_batch(
        &self,
        batch: &[(&StoredPayload, &StoredItem)],
    ) -> Result<Vec<PayloadReport>, ApplyError> {
        let mut lines = Vec::with_capacity(batch.len());
        let mut joined: Vec<(&StoredPayload, &StoredItem, Value)> = Vec::new();
        let mut write = None;
        for &(payload, item) in batch {
            match self.batchable(payload, item) {
                Some((operation, invite)) => {
                    write = Some(operation);
                    joined.push((payload, item, invite));
                }
                None => lines.push(self.payload(payload, item).await?),
            }
        }
        if let Some(write) = write {
            let keys: Vec<PayloadKey> = joined.iter().map(|(p, _, _)| self.key_of(p)).collect();
            // The intents go through the recorder like every other write's: one recording
            // for the batch (and whatever else is queued), checkpointed off this task.
            futures::future::try_join_all(
                keys.iter()
                    .map(|&key| self.recorder.intent(key, || self.ledger())),
            )
            .await?;
            let invites: Vec<Value> = joined.iter().map(|(_, _, i)| i.clone()).collect();
            let body = Value::Object(Map::from_iter([(
                "invites".to_owned(),
                Value::Array(invites),
            )]));
            let body = serde_json::to_vec(&body).expect("a JSON value serializes");
            let answer = self.writer.send_planned(write, &[], Some(&body)).await;
            let invited: Vec<String> = match answer.map(|answer| answer.data()) {
                Ok(Ok(data)) => data
                    .get("emails")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_ascii_lowercase)
                    .collect(),
                // Applied, not applied or unknown (an answer that cannot be read too): each is
                // looked up alone below.
                Ok(Err(_)) | Err(_) => Vec::new(),
            };
            for (payload, item, invite) in joined {
                let email = invite_email(&invite).map(str::to_ascii_lowercase);
                if email.is_some_and(|e| invited.contains(&e)) {
                    self.recorder
                        .applied(self.applied(self.key_of(payload), &[], "created"));
                    lines.push(line(payload, item, Outcome::Written));
                } else {
                    let attempted = StoredPayload {
                        state: "intent".into(),
                        ..payload.clone()
                    };
                    lines.push(self.payload(&attempted, item).await?);
                }
            }
        }
        Ok(lines)
    }

    /// The invitation `payload` adds to a batch, if it can join one: a first attempt that is
    /// due, not blocked, records no id and holds no marker left to fill (invitations name roles
    /// and resources by `$ref`, filled here).
    fn batchable(
        &self,
        payload: &StoredPayload,
        item: &StoredItem,
    ) -> Option<(WriteOperation, Value)> {
        if payload.state != "pending" || Deferral::of(&payload.step, self.options).is_some() {
            return None;
        }
        let this = (item.kind.clone(), item.config_name.clone());
        if self.blocked(&this, payload).is_some() {
            return None;
        }
        let mut planned: Planned = self.planned(payload).ok()?.ok()?;
        let write = planned_operation(&planned.method, &planned.path)?;
        if (planned.method.as_str(), planned.path.as_str()) != ("POST", "/invites")
            || !planned.records.is_empty()
            || !planned.path_params.is_empty()
        {
            return None;
        }
        let resolved = resolve(
            &mut planned,
            &lock(&self.ids),
            &|_| None,
            self.options,
            &mut Vec::new(),
        )
        .ok()?;
        match resolved
            .body_value()?
            .get_mut("invites")?
            .as_array_mut()?
            .as_mut_slice()
        {
            [invite] if invite_email(invite).is_some() => Some((write, invite.take())),
            _ => None,
        }
    }

    /// Resolve, reconcile if an earlier attempt may have applied it, write, record.
    async fn execute(
        &self,
        payload: &StoredPayload,
        key: PayloadKey,
        omitted: &mut Vec<String>,
    ) -> Result<Result<Outcome, Stop>, ApplyError> {
        let mut planned: Planned = match self.planned(payload)? {
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
        let live = match self.live_secrets(&planned).await {
            Ok(live) => live,
            Err(reason) => {
                return Ok(Err(Stop::Failed {
                    reason,
                    manual: false,
                }));
            }
        };
        let request = {
            let ids = lock(&self.ids);
            let supplied = |s: &SecretRef| {
                self.secrets.file.get(s).or_else(|| {
                    live.get(&(s.config_name.clone(), s.setting.clone()))
                        .cloned()
                })
            };
            match resolve(&mut planned, &ids, &supplied, self.options, omitted) {
                Ok(r) => r,
                Err(stop) => return Ok(Err(stop)),
            }
        };
        // The values are in `request` now; the map of them goes.
        drop(live);
        let outcome = self.send(payload, key, &planned, write, &request).await?;
        // An API may quote the request in its error; what it quotes must not be stored.
        Ok(outcome.map_err(|stop| stop.redacted(&request.redactor)))
    }

    /// Reconciles an earlier attempt if there was one, then writes and records the answer.
    async fn send(
        &self,
        payload: &StoredPayload,
        key: PayloadKey,
        planned: &Planned,
        write: WriteOperation,
        request: &Resolved,
    ) -> Result<Result<Outcome, Stop>, ApplyError> {
        let step = payload.step.as_str();
        let create = is_create(step);
        let client = self.writer.client();

        // An earlier attempt may have applied this payload: look before writing again.
        let earlier_attempt = payload.state == "intent" || payload.state == "failed";
        if (create && earlier_attempt) || step == "create_label" {
            match reconcile(client, step, request, &self.ids).await {
                Found::One(object) => return self.record_found(key, planned, &object),
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
            match already_connected(client, request).await {
                Ok(true) => return self.record(key, &[], "reconciled", Outcome::Reconciled),
                Ok(false) => {}
                Err(reason) => return Ok(Err(Stop::Unknown { reason })),
            }
        }

        let mut creates = 0;
        loop {
            self.recorder.intent(key, || self.ledger()).await?;
            creates += 1;
            let answer = self
                .writer
                .send_planned(write, &request.params, request.body.as_deref())
                .await;
            match answer {
                Ok(answer) => {
                    let recorded = match recorded_ids(planned, |pointer| answer.string_at(pointer))
                    {
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
                    self.remember(&recorded);
                    return self.record(key, &recorded, "created", Outcome::Written);
                }
                Err(e) if e.is_ambiguous() && create => {
                    match reconcile(client, step, request, &self.ids).await {
                        Found::One(object) => return self.record_found(key, planned, &object),
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

    /// The values of this payload's `present` secrets that the file does not supply, read
    /// again from the Config API. Nothing without a Config client.
    async fn live_secrets(&self, planned: &Planned) -> Result<LiveValues, String> {
        let Some(config) = self.secrets.config else {
            return Ok(LiveValues::new());
        };
        let wanted: Vec<SecretRef> = planned
            .body
            .as_deref()
            .map(secrets_in_text)
            .unwrap_or_default()
            .into_iter()
            .filter(|s| s.state == SecretState::Present && self.secrets.file.get(s).is_none())
            .collect();
        if wanted.is_empty() {
            return Ok(LiveValues::new());
        }
        config.read(&wanted).await
    }

    fn remember(&self, recorded: &[RecordedId]) {
        let mut ids = lock(&self.ids);
        for r in recorded {
            if let Some(reference) = reference(&r.kind, &r.config_name, &r.field) {
                ids.insert(reference, &r.public_id);
            }
        }
    }

    fn applied(&self, key: PayloadKey, recorded: &[RecordedId], matched_by: &str) -> Applied {
        Applied {
            key,
            target: self.plan.target.clone(),
            ids: recorded.to_vec(),
            matched_by: matched_by.to_owned(),
        }
    }

    /// Queues the payload's result for the next recording (see [`Recorder`]).
    fn record(
        &self,
        key: PayloadKey,
        recorded: &[RecordedId],
        matched_by: &str,
        outcome: Outcome,
    ) -> Result<Result<Outcome, Stop>, ApplyError> {
        self.recorder
            .applied(self.applied(key, recorded, matched_by));
        Ok(Ok(outcome))
    }

    /// Records an object found by its natural key as this payload's result. The record
    /// pointers name the answer of a create (`/data/source/id`); the found object is what sits
    /// under `/data/<item>`, so the first two segments are dropped.
    fn record_found(
        &self,
        key: PayloadKey,
        planned: &Planned,
        object: &PublicObject,
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
        self.remember(&recorded);
        self.record(key, &recorded, "reconciled", Outcome::Reconciled)
    }
}

/// The email an invitation is for.
fn invite_email(invite: &Value) -> Option<&str> {
    invite.get("email").and_then(Value::as_str)
}

/// The report line of `payload` with `outcome`.
pub(super) fn line(payload: &StoredPayload, item: &StoredItem, outcome: Outcome) -> PayloadReport {
    PayloadReport {
        seq: payload.seq,
        ordinal: payload.ordinal,
        kind: item.kind.clone(),
        config_name: item.config_name.clone(),
        step: payload.step.clone(),
        outcome,
        omitted_secrets: Vec::new(),
    }
}

/// Why a payload cannot be attempted: its own item, or an item it references, broke.
fn blocked_by(
    broken: &HashMap<(String, String), String>,
    this: &(String, String),
    dependencies: &JsonText,
) -> Option<String> {
    if let Some(why) = broken.get(this) {
        return Some(why.clone());
    }
    if broken.is_empty() {
        return None;
    }
    // Text the planner wrote; a list it cannot read blocks nothing, as an empty one.
    let dependencies: Vec<Dependency> = dependencies.parse().unwrap_or_default();
    dependencies
        .into_iter()
        .find_map(|dep| broken.get(&(dep.kind, dep.config_name)).cloned())
}

/// One entry of a stored payload's `dependencies`.
#[derive(serde::Deserialize)]
struct Dependency {
    kind: String,
    config_name: String,
}

/// A request ready to send. Holds secret values: lives for one payload, never stored.
pub(super) struct Resolved {
    pub(super) path: String,
    pub(super) params: Vec<(String, String)>,
    /// The body as the JSON text to send, serialized as soon as it is resolved: a write waits
    /// for its turn under the rate limit, and a parsed value is several times its text (eight
    /// lanes of a tracking plan's rules, up to 127 KB of text each, were most of what `apply`
    /// held while sending them).
    pub(super) body: Option<Vec<u8>>,
    /// The secret values filled into `body`, to take out of any failure of this request.
    pub(super) redactor: Redactor,
}

impl Resolved {
    /// The body parsed again, for what reads it rather than sends it (reconciling by natural
    /// key, batching invitations).
    pub(super) fn body_value(&self) -> Option<Value> {
        serde_json::from_slice(self.body.as_deref()?).ok()
    }
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may hold secrets.
        f.debug_struct("Resolved")
            .field("path", &self.path)
            .finish()
    }
}

/// Fills the payload's `$ref`s from `ids` and its `$secret`s from `supplied`. The body is taken
/// out of `planned` and resolved where it stands, so a payload in flight holds its body once.
pub(super) fn resolve(
    planned: &mut Planned,
    ids: &IdMap,
    supplied: &dyn Fn(&SecretRef) -> Option<Value>,
    options: ApplyOptions,
    omitted: &mut Vec<String>,
) -> Result<Resolved, Stop> {
    let lookup = |r: &Ref| ids.get(r).map(str::to_owned);
    let unresolved = |e: Unresolved| match e {
        Unresolved::Ref(_) => Stop::Failed {
            reason: format!("{e}: the object it names was not applied"),
            manual: false,
        },
        Unresolved::Secret(ref s) => Stop::Failed {
            reason: format!(
                "{e}{}: add `[\"{}\"] {} = …` to the --secrets file, or pass --allow-missing-secrets to create it without",
                match s.state {
                    SecretState::Masked => " (the export saw it masked)",
                    SecretState::Present => {
                        " (it is read again from the Config API only when apply has a Config API token)"
                    }
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
    // Every value filled in is remembered, so a failure that quotes the body can be cleaned.
    let redactor = std::cell::RefCell::new(Redactor::default());
    let recording = |s: &SecretRef| {
        let value = supplied(s);
        if let Some(value) = &value {
            redactor.borrow_mut().add(value);
        }
        value
    };
    let body = match planned.body.take() {
        None => None,
        Some(text) => {
            let mut fill = Fill {
                ids: &lookup,
                secrets: &recording,
                supplied,
                omitted: options.allow_missing_secrets.then_some(omitted),
            };
            Some(body_text::fill(&text, &mut fill).map_err(unresolved)?)
        }
    };
    Ok(Resolved {
        path,
        params,
        body,
        redactor: redactor.into_inner(),
    })
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

#[cfg(test)]
mod tests;
