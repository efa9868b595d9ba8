//! Plans in the ledger (schema version 2): storing a [`Plan`] with its items, payloads,
//! findings and id-map pairs in one transaction, and reading back what `apply` needs.
//!
//! A new plan of a target supersedes the previous one (`superseded_by`), which is kept as
//! history; [`Ledger::latest_plan`] is the one to execute. Id-map pairs a plan matched are
//! replaced by the newer plan's; pairs `apply` recorded (`matched_by = 'created'`, no plan) are
//! kept, since they name objects segbridge made.

use rusqlite::{OptionalExtension, params};
use serde_json::{Value, json};

use super::{Ledger, Result, RunId, now, sql_error};
use crate::model::JsonText;
use crate::plan::Plan;

/// A stored plan's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPlan {
    pub id: i64,
    pub run: RunId,
    pub export_run: RunId,
    pub target: String,
    pub mode: String,
    pub on_conflict: String,
    /// False while `migrate` is still adding stages to it (see [`Ledger::begin_staged_plan`]).
    pub complete: bool,
}

/// One stored plan item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub seq: i64,
    pub kind: String,
    pub config_name: String,
    pub action: String,
    pub target_id: Option<String>,
    pub natural_key: Option<String>,
    pub matched_by: Option<String>,
    pub conflict: bool,
}

/// One stored payload with the executor's state.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPayload {
    pub seq: i64,
    pub ordinal: i64,
    pub step: String,
    pub method: String,
    pub path: String,
    /// The whole payload as JSON: `step`, `method`, `path`, `path_params` (`[[name, value]]`),
    /// `body`, `when`, `records` (`[{reference, pointer}]`), markers included. Kept as the
    /// ledger's text: `apply` holds a whole step's payloads (thousands of filters) and parses
    /// each only to send it. Without its `body` when `body_left`.
    pub payload: JsonText,
    /// Whether the reader left the payload's `body` in the ledger, as
    /// [`Ledger::plan_payloads_of_step`] does for long ones: [`Ledger::payload_text`] reads
    /// the whole payload.
    pub body_left: bool,
    pub condition: String,
    /// The `$ref`s to other items as `[{kind, config_name, field}]` (a reference to the item
    /// itself is filled by the `records` of its own earlier payload), as the ledger's text: a
    /// parsed object per reference took tens of megabytes in a large step of filters.
    pub dependencies: JsonText,
    pub state: String,
    pub result: Option<Value>,
    /// Writes tried for this payload, over every run.
    pub attempts: i64,
    /// Why the last try failed, when it did.
    pub error: Option<String>,
}

/// One id-map pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredIdPair {
    pub kind: String,
    pub config_name: String,
    pub field: String,
    pub public_id: String,
    pub matched_by: String,
}

/// The items of a plan (`?1`) with payloads of a step (`?2`) whose `seq` is in `?3..?4`; and
/// those payloads. Both read a range of the index `plan_payloads_by_step_and_seq`, not every
/// payload of the step or of the range (`migrate` reads them once per stage and step). The
/// payloads name the index: without statistics SQLite takes the primary key's range, every
/// step's payloads of the stage.
pub(super) const ITEMS_OF_STEP: &str = "plan = ?1 AND seq >= ?3 AND seq < ?4
     AND seq IN (SELECT seq FROM plan_payloads
                 WHERE plan = ?1 AND step = ?2 AND seq >= ?3 AND seq < ?4)";
pub(super) const PAYLOADS_BY_STEP: &str =
    "plan_payloads AS p INDEXED BY plan_payloads_by_step_and_seq";
pub(super) const PAYLOADS_OF_STEP: &str =
    "p.plan = ?1 AND p.step = ?2 AND p.seq >= ?3 AND p.seq < ?4";

/// A plan's payloads, unfiltered (`AS p`, as [`payloads_query`] wants them).
const PAYLOADS: &str = "plan_payloads AS p";

/// The text of a payload and whether its body was left out: here the whole text.
const WHOLE_TEXT: &str = "p.payload, 0";

/// The text of a payload and whether its body was left out: left out of texts longer than
/// `?5` bytes.
pub(super) const TEXT_UP_TO_5: &str = "CASE WHEN octet_length(p.payload) > ?5
         THEN json_remove(p.payload, '$.body') ELSE p.payload END,
     octet_length(p.payload) > ?5";

/// The query of the payloads of `payloads` (the table as `p`, or an index of it) that pass
/// `filter`, each with its progress, in plan order; `text` says how much of their text (see
/// [`WHOLE_TEXT`]).
pub(super) fn payloads_query(payloads: &str, filter: &str, text: &str) -> String {
    format!(
        "SELECT p.seq, p.ordinal, p.step, p.method, p.path, {text}, p.condition,
         p.dependencies, g.state, g.result, g.attempts, g.error
         FROM {payloads} JOIN payload_progress AS g
             ON g.plan = p.plan AND g.seq = p.seq AND g.ordinal = p.ordinal
         WHERE {filter} ORDER BY p.seq, p.ordinal"
    )
}

impl Ledger {
    /// The latest export run that completed, if any.
    pub fn latest_complete_export(&self) -> Result<Option<(RunId, String)>> {
        self.conn
            .query_row(
                "SELECT id, source FROM runs WHERE command = 'export' AND status = 'complete'
                 ORDER BY id DESC LIMIT 1",
                [],
                |row| Ok((RunId(row.get(0)?), row.get(1)?)),
            )
            .optional()
            .map_err(self.sql("looking for the latest export"))
    }

    /// Stores `plan` as the current plan of `target`, superseding the previous one.
    pub fn store_plan(
        &mut self,
        run: RunId,
        export_run: RunId,
        target: &str,
        plan: &Plan,
    ) -> Result<i64> {
        let mut writer = self.begin_plan(run, export_run, target, plan.mode, plan.on_conflict)?;
        for item in &plan.items {
            writer.item(item)?;
        }
        writer.finish(&plan.id_map)
    }

    /// The current plan of `target` (the latest, not superseded).
    pub fn latest_plan(&self, target: &str) -> Result<Option<StoredPlan>> {
        self.conn
            .query_row(
                "SELECT id, run, export_run, target, mode, on_conflict, complete FROM plans
                 WHERE target = ?1 AND superseded_by IS NULL ORDER BY id DESC LIMIT 1",
                params![target],
                |row| {
                    Ok(StoredPlan {
                        id: row.get(0)?,
                        run: RunId(row.get(1)?),
                        export_run: RunId(row.get(2)?),
                        target: row.get(3)?,
                        mode: row.get(4)?,
                        on_conflict: row.get(5)?,
                        complete: row.get::<_, i64>(6)? != 0,
                    })
                },
            )
            .optional()
            .map_err(self.sql("reading the latest plan"))
    }

    /// The Config API host and the workspace slug of the export `plan` was made from (the
    /// export run's source, `<config url>|<workspace slug>`), when that run is known.
    pub fn exported_from(&self, plan: &StoredPlan) -> Result<Option<(String, String)>> {
        Ok(self
            .runs()?
            .into_iter()
            .find(|r| r.id == plan.export_run)
            .and_then(|r| {
                r.source
                    .rsplit_once('|')
                    .map(|(url, ws)| (url.to_owned(), ws.to_owned()))
            }))
    }

    /// Every plan ever stored, oldest first: (id, target, superseded_by).
    pub fn plans(&self) -> Result<Vec<(i64, String, Option<i64>)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, target, superseded_by FROM plans ORDER BY id")
            .map_err(self.sql("listing plans"))?;
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .map_err(self.sql("listing plans"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("listing plans"))
    }

    /// The items of a plan, in `seq` (dependency) order.
    pub fn plan_items(&self, plan: i64) -> Result<Vec<StoredItem>> {
        self.items_where("plan = ?1", params![plan])
    }

    /// Hands the items of a plan to `visit` one by one, in `seq` order, without holding them
    /// all.
    pub fn visit_plan_items(&self, plan: i64, visit: impl FnMut(StoredItem)) -> Result<()> {
        self.visit_items_where("plan = ?1", params![plan], visit)
    }

    /// The items of a plan that have payloads of `step`, in `seq` order: what `apply` needs of
    /// the items while it sends that step, rather than every item of the plan.
    pub fn plan_items_of_step(
        &self,
        plan: i64,
        step: &str,
        seqs: std::ops::Range<i64>,
    ) -> Result<Vec<StoredItem>> {
        self.items_where(ITEMS_OF_STEP, params![plan, step, seqs.start, seqs.end])
    }

    fn items_where(
        &self,
        condition: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<StoredItem>> {
        let mut all = Vec::new();
        self.visit_items_where(condition, params, |item| all.push(item))?;
        Ok(all)
    }

    fn visit_items_where(
        &self,
        condition: &str,
        params: impl rusqlite::Params,
        mut visit: impl FnMut(StoredItem),
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT seq, kind, config_name, action, target_id, natural_key, matched_by, conflict
                 FROM plan_items WHERE {condition} ORDER BY seq"
            ))
            .map_err(self.sql("reading plan items"))?;
        let rows = stmt
            .query_map(params, |row| {
                Ok(StoredItem {
                    seq: row.get(0)?,
                    kind: row.get(1)?,
                    config_name: row.get(2)?,
                    action: row.get(3)?,
                    target_id: row.get(4)?,
                    natural_key: row.get(5)?,
                    matched_by: row.get(6)?,
                    conflict: row.get::<_, i64>(7)? != 0,
                })
            })
            .map_err(self.sql("reading plan items"))?;
        for row in rows {
            visit(row.map_err(self.sql("reading plan items"))?);
        }
        Ok(())
    }

    /// The payloads of a plan, in the order `apply` sends them.
    pub fn plan_payloads(&self, plan: i64) -> Result<Vec<StoredPayload>> {
        let mut all = Vec::new();
        self.visit_plan_payloads(plan, |p| all.push(p))?;
        Ok(all)
    }

    /// Hands the payloads of a plan to `visit` one by one, in the order `apply` sends them,
    /// without holding them all.
    pub fn visit_plan_payloads(&self, plan: i64, visit: impl FnMut(StoredPayload)) -> Result<()> {
        self.payloads_where(PAYLOADS, "p.plan = ?1", WHOLE_TEXT, params![plan], visit)
    }

    /// Hands the payloads of a plan whose JSON text contains `text` to `visit`, in the order
    /// `apply` sends them: a filter on the text, read by SQLite, so that payloads without it are
    /// never parsed.
    pub fn visit_plan_payloads_containing(
        &self,
        plan: i64,
        text: &str,
        visit: impl FnMut(StoredPayload),
    ) -> Result<()> {
        self.payloads_where(
            PAYLOADS,
            "p.plan = ?1 AND instr(p.payload, ?2) > 0",
            WHOLE_TEXT,
            params![plan, text],
            visit,
        )
    }

    /// The payloads of one step of a plan, of the items whose `seq` is in `seqs`, in plan
    /// order. The `body` of a payload whose text is longer than `whole_up_to` bytes is left
    /// in the ledger (`body_left`): `apply` holds a step's payloads while it runs, and a
    /// tracking plan's rules are a hundred kilobytes a request.
    pub fn plan_payloads_of_step(
        &self,
        plan: i64,
        step: &str,
        seqs: std::ops::Range<i64>,
        whole_up_to: usize,
    ) -> Result<Vec<StoredPayload>> {
        let mut all = Vec::new();
        self.payloads_where(
            PAYLOADS_BY_STEP,
            PAYLOADS_OF_STEP,
            TEXT_UP_TO_5,
            params![
                plan,
                step,
                seqs.start,
                seqs.end,
                i64::try_from(whole_up_to).unwrap_or(i64::MAX)
            ],
            |p| all.push(p),
        )?;
        Ok(all)
    }

    /// The whole text of a payload.
    pub fn payload_text(&self, key: PayloadKey) -> Result<JsonText> {
        self.conn
            .prepare_cached(
                "SELECT payload FROM plan_payloads WHERE plan = ?1 AND seq = ?2 AND ordinal = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![key.plan, key.seq, key.ordinal], |row| row.get(0))
            })
            .map(JsonText::from_text)
            .map_err(self.sql("reading a payload"))
    }

    /// The steps a plan's payloads belong to, each once, sorted by name.
    pub fn plan_steps(&self, plan: i64) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT DISTINCT step FROM plan_payloads WHERE plan = ?1 ORDER BY step")
            .map_err(self.sql("reading plan steps"))?;
        let rows = stmt
            .query_map(params![plan], |row| row.get(0))
            .map_err(self.sql("reading plan steps"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading plan steps"))
    }

    /// The `result`s of the payloads of a plan that are done: the ids they established.
    pub fn plan_results(&self, plan: i64) -> Result<Vec<Value>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT result FROM payload_progress
                 WHERE plan = ?1 AND state = 'done' AND result IS NOT NULL",
            )
            .map_err(self.sql("reading plan results"))?;
        let rows = stmt
            .query_map(params![plan], |row| row.get::<_, String>(0))
            .map_err(self.sql("reading plan results"))?;
        rows.map(|text| Ok(serde_json::from_str(&text?).unwrap_or(Value::Null)))
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading plan results"))
    }

    /// Visits the payloads of `payloads` (the table or an index of it, as `p`) that pass
    /// `filter`, with their progress and as much of their text as `text` says.
    fn payloads_where(
        &self,
        payloads: &str,
        filter: &str,
        text: &str,
        params: impl rusqlite::Params,
        mut visit: impl FnMut(StoredPayload),
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(&payloads_query(payloads, filter, text))
            .map_err(self.sql("reading plan payloads"))?;
        let json = |text: String| serde_json::from_str(&text).unwrap_or(Value::Null);
        let rows = stmt
            .query_map(params, |row| {
                Ok(StoredPayload {
                    seq: row.get(0)?,
                    ordinal: row.get(1)?,
                    step: row.get(2)?,
                    method: row.get(3)?,
                    path: row.get(4)?,
                    payload: JsonText::from_text(row.get(5)?),
                    body_left: row.get(6)?,
                    condition: row.get(7)?,
                    dependencies: JsonText::from_text(row.get(8)?),
                    state: row.get(9)?,
                    result: row.get::<_, Option<String>>(10)?.map(json),
                    attempts: row.get(11)?,
                    error: row.get(12)?,
                })
            })
            .map_err(self.sql("reading plan payloads"))?;
        for row in rows {
            visit(row.map_err(self.sql("reading plan payloads"))?);
        }
        Ok(())
    }

    /// The findings of a plan as JSON objects, in item order.
    pub fn plan_findings(&self, plan: i64) -> Result<Vec<Value>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT code, severity, kind, config_name, field, message FROM plan_findings
                 WHERE plan = ?1 ORDER BY seq, ordinal",
            )
            .map_err(self.sql("reading plan findings"))?;
        let rows = stmt
            .query_map(params![plan], |row| {
                Ok(json!({
                    "code": row.get::<_, String>(0)?,
                    "severity": row.get::<_, String>(1)?,
                    "kind": row.get::<_, String>(2)?,
                    "config_name": row.get::<_, String>(3)?,
                    "field": row.get::<_, Option<String>>(4)?,
                    "message": row.get::<_, String>(5)?,
                }))
            })
            .map_err(self.sql("reading plan findings"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading plan findings"))
    }

    /// Findings of a plan per severity.
    pub fn plan_finding_counts(&self, plan: i64) -> Result<Vec<(String, usize)>> {
        self.plan_counts(
            "SELECT severity, count(*) FROM plan_findings WHERE plan = ?1 GROUP BY severity",
            plan,
        )
    }

    /// Payloads per step of the items of a plan that `apply` sends (created or updated).
    pub fn plan_write_counts(&self, plan: i64) -> Result<Vec<(String, usize)>> {
        self.plan_counts(
            "SELECT p.step, count(*) FROM plan_payloads p
             JOIN plan_items i ON i.plan = p.plan AND i.seq = p.seq
             WHERE p.plan = ?1 AND i.action IN ('create', 'update') GROUP BY p.step",
            plan,
        )
    }

    /// Id-map pairs a plan matched.
    pub fn plan_pair_count(&self, plan: i64) -> Result<usize> {
        self.conn
            .query_row(
                "SELECT count(*) FROM id_map WHERE plan = ?1",
                params![plan],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(self.sql("counting id-map pairs"))
    }

    fn plan_counts(&self, query: &str, plan: i64) -> Result<Vec<(String, usize)>> {
        let mut stmt = self
            .conn
            .prepare(query)
            .map_err(self.sql("counting plan rows"))?;
        let rows = stmt
            .query_map(params![plan], |row| {
                Ok((row.get(0)?, row.get::<_, i64>(1)? as usize))
            })
            .map_err(self.sql("counting plan rows"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("counting plan rows"))
    }

    /// The id map of a target.
    pub fn id_map(&self, target: &str) -> Result<Vec<StoredIdPair>> {
        let mut all = Vec::new();
        self.visit_id_map(target, |pair| all.push(pair))?;
        Ok(all)
    }

    /// Hands the id map of `target` to `visit` pair by pair, in the order of
    /// [`Ledger::id_map`], without holding it all.
    pub fn visit_id_map(&self, target: &str, visit: impl FnMut(StoredIdPair)) -> Result<()> {
        self.id_pairs_where("target = ?1", params![target], visit)
    }

    /// The id-map pairs of `target` that the matching of `plan` stored (`plan`, `--on-conflict
    /// adopt`, catalog items, users), not those `apply` recorded.
    pub fn plan_matches(&self, target: &str, plan: i64) -> Result<Vec<StoredIdPair>> {
        let mut all = Vec::new();
        self.id_pairs_where("target = ?1 AND plan = ?2", params![target, plan], |pair| {
            all.push(pair)
        })?;
        Ok(all)
    }

    fn id_pairs_where(
        &self,
        filter: &str,
        params: impl rusqlite::Params,
        mut visit: impl FnMut(StoredIdPair),
    ) -> Result<()> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT kind, config_name, field, public_id, matched_by FROM id_map
                 WHERE {filter} ORDER BY kind, config_name, field"
            ))
            .map_err(self.sql("reading the id map"))?;
        let rows = stmt
            .query_map(params, |row| {
                Ok(StoredIdPair {
                    kind: row.get(0)?,
                    config_name: row.get(1)?,
                    field: row.get(2)?,
                    public_id: row.get(3)?,
                    matched_by: row.get(4)?,
                })
            })
            .map_err(self.sql("reading the id map"))?;
        for row in rows {
            visit(row.map_err(self.sql("reading the id map"))?);
        }
        Ok(())
    }
}

/// Where one payload of a plan is: `(plan, seq, ordinal)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayloadKey {
    pub plan: i64,
    pub seq: i64,
    pub ordinal: i64,
}

/// An id an applied payload established, for the id map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedId {
    pub kind: String,
    pub config_name: String,
    pub field: String,
    pub public_id: String,
}

impl RecordedId {
    /// The key of this id in a payload's `result` object.
    pub fn result_key(&self) -> String {
        format!("{}|{}|{}", self.kind, self.config_name, self.field)
    }
}

/// A payload applied, as [`Ledger::record_progress`] records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub key: PayloadKey,
    /// The target workspace, as the plan names it.
    pub target: String,
    pub ids: Vec<RecordedId>,
    /// `created` or `reconciled`.
    pub matched_by: String,
}

impl Ledger {
    /// Records, in one transaction, the payloads `applied` (`state = 'done'`, the ids their
    /// answer or the reconciling lookup carried as `result`, and those ids in the id map with
    /// `matched_by`, `created` or `reconciled`), then the `intents` of writes about to be sent
    /// (`state = 'intent'`, one more attempt each; never for a payload already `done`, which is
    /// never sent again), so that a crash after a write leaves a trace to reconcile. One
    /// transaction for both because each commit costs writes to the journal: `apply` records
    /// the results of the writes that came back together with the next intents.
    ///
    /// Before the writes are sent, the intents must also be checkpointed from the WAL into the
    /// ledger file itself, with a [`super::Checkpointer`]: a ledger file copied without its
    /// `-wal` after a kill (moved to another machine) must still hold the intent of every write
    /// that may have reached the target, or its resume would send that write again.
    ///
    /// `withdrawn` are intents recorded ahead for writes that were then not sent: those still
    /// `intent` go back to `pending`, their attempt not counted.
    pub fn record_progress(
        &mut self,
        applied: &[Applied],
        intents: &[PayloadKey],
        withdrawn: &[PayloadKey],
    ) -> Result<()> {
        let path = self.path.clone();
        let err = move |source| sql_error(&path, "recording apply progress", source);
        let at = now();
        let tx = self.conn.transaction().map_err(err.clone())?;
        {
            let mut done = tx
                .prepare_cached(
                    "UPDATE payload_progress SET state = 'done', result = ?4, error = NULL,
                     updated_at = ?5 WHERE plan = ?1 AND seq = ?2 AND ordinal = ?3",
                )
                .map_err(err.clone())?;
            let mut pair = tx
                .prepare_cached(
                    "INSERT INTO id_map (target, kind, config_name, field, public_id, matched_by,
                     natural_key, plan, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, NULL, NULL, ?7)
                     ON CONFLICT (target, kind, config_name, field) DO UPDATE SET
                        public_id = excluded.public_id, matched_by = excluded.matched_by,
                        natural_key = NULL, plan = NULL, recorded_at = excluded.recorded_at",
                )
                .map_err(err.clone())?;
            let mut intent = tx
                .prepare_cached(
                    "UPDATE payload_progress SET state = 'intent', attempts = attempts + 1,
                     updated_at = ?4
                     WHERE plan = ?1 AND seq = ?2 AND ordinal = ?3 AND state <> 'done'",
                )
                .map_err(err.clone())?;
            for applied in applied {
                let key = applied.key;
                let result: serde_json::Map<String, Value> = applied
                    .ids
                    .iter()
                    .map(|id| (id.result_key(), Value::String(id.public_id.clone())))
                    .collect();
                done.execute(params![
                    key.plan,
                    key.seq,
                    key.ordinal,
                    Value::Object(result).to_string(),
                    at
                ])
                .map_err(err.clone())?;
                for id in &applied.ids {
                    pair.execute(params![
                        applied.target,
                        id.kind,
                        id.config_name,
                        id.field,
                        id.public_id,
                        applied.matched_by,
                        at
                    ])
                    .map_err(err.clone())?;
                }
            }
            for key in intents {
                intent
                    .execute(params![key.plan, key.seq, key.ordinal, at])
                    .map_err(err.clone())?;
            }
            if !withdrawn.is_empty() {
                let mut withdraw = tx
                    .prepare_cached(
                        "UPDATE payload_progress SET state = 'pending', attempts = attempts - 1,
                         updated_at = ?4
                         WHERE plan = ?1 AND seq = ?2 AND ordinal = ?3 AND state = 'intent'",
                    )
                    .map_err(err.clone())?;
                for key in withdrawn {
                    withdraw
                        .execute(params![key.plan, key.seq, key.ordinal, at])
                        .map_err(err.clone())?;
                }
            }
        }
        tx.commit().map_err(err)
    }

    /// Records why the payload did not apply. `state` is `failed` when the target is known not
    /// to hold its effect, `intent` when the outcome is unknown (the next run reconciles it).
    /// `error` must not hold a secret: callers pass messages built from ids and API answers.
    pub fn mark_failed(&mut self, key: PayloadKey, state: &str, error: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE payload_progress SET state = ?4, error = ?5, updated_at = ?6
                 WHERE plan = ?1 AND seq = ?2 AND ordinal = ?3",
            )
            .and_then(|mut update| {
                update.execute(params![key.plan, key.seq, key.ordinal, state, error, now()])
            })
            .map_err(self.sql("recording a failed write"))?;
        Ok(())
    }

    /// The attempts and last error of a payload.
    pub fn payload_progress(&self, key: PayloadKey) -> Result<(i64, Option<String>)> {
        self.conn
            .query_row(
                "SELECT attempts, error FROM payload_progress
                 WHERE plan = ?1 AND seq = ?2 AND ordinal = ?3",
                params![key.plan, key.seq, key.ordinal],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(self.sql("reading a payload's progress"))
    }
}
