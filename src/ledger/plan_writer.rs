//! Storing a plan item by item, as the planner decides them, instead of as one [`Plan`] value:
//! a plan's payloads are the largest thing a run holds, and written as they come they never
//! need to be in memory together.
//!
//! [`Ledger::store_plan`], which stores a whole plan, goes through it too. A plan is one
//! transaction (a crash leaves the previous plan current): until [`PlanWriter::finish`]
//! commits, nothing is visible, and a writer dropped before it rolls everything back.
//!
//! The transaction is taken on the ledger's shared connection, so that the snapshot can be read
//! through the same `&Ledger` while the plan is written ([`super::StoredSnapshot`]): the two
//! touch different tables.
//!
//! [`Plan`]: crate::plan::Plan

use rusqlite::{Transaction, TransactionBehavior, params};

use super::{Ledger, Result, RunId, now};
use crate::mapping::Finding;
use crate::model::Kind;
use crate::plan::{IdPair, Mode, OnConflict, PlanItem};

/// A plan being stored; see the module documentation.
pub struct PlanWriter<'a> {
    ledger: &'a Ledger,
    tx: Transaction<'a>,
    id: i64,
    target: String,
    at: String,
    /// The `seq` of the next item.
    seq: i64,
}

/// What a step or condition serializes to: the spelling the ledger stores.
fn text_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl Ledger {
    /// Starts storing a plan of `target`, which supersedes the previous one when it commits.
    pub fn begin_plan(
        &self,
        run: RunId,
        export_run: RunId,
        target: &str,
        mode: Mode,
        on_conflict: OnConflict,
    ) -> Result<PlanWriter<'_>> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.sql("storing a plan"))?;
        let at = now();
        let id = self.insert_plan(&tx, run, export_run, target, mode, on_conflict, &at, true)?;
        Ok(PlanWriter {
            ledger: self,
            tx,
            id,
            target: target.to_owned(),
            at,
            seq: 0,
        })
    }
}

impl PlanWriter<'_> {
    /// The id of the plan being stored.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// Stores the next item with its payloads and findings.
    pub fn item(&mut self, item: &PlanItem) -> Result<()> {
        let prepared = PreparedItem::new(item, Vec::new());
        insert_item(self.ledger, &self.tx, self.id, self.seq, &prepared)?;
        self.seq += 1;
        Ok(())
    }

    /// Replaces the target's matched id-map pairs with `id_map` and commits the plan; returns
    /// its id.
    pub fn finish(self, id_map: &[IdPair]) -> Result<i64> {
        let ledger = self.ledger;
        self.tx
            .execute(
                "DELETE FROM id_map WHERE target = ?1 AND plan IS NOT NULL",
                params![self.target],
            )
            .map_err(ledger.sql("replacing the id map"))?;
        upsert_pairs(ledger, &self.tx, &self.target, self.id, &self.at, id_map)?;
        self.tx.commit().map_err(ledger.sql("storing a plan"))?;
        Ok(self.id)
    }
}

impl Ledger {
    /// Starts a plan that `migrate` makes in stages while the export still reads: the plan row
    /// is committed at once, not complete, as the current plan of `target` (superseding the
    /// previous one, whose matched id-map pairs it drops, as a new plan does). Stages then add
    /// items with [`Ledger::store_stage`]; [`Ledger::complete_plan`] marks the last one stored.
    pub fn begin_staged_plan(
        &self,
        run: RunId,
        export_run: RunId,
        target: &str,
        mode: Mode,
        on_conflict: OnConflict,
    ) -> Result<i64> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.sql("storing a plan"))?;
        let id = self.insert_plan(
            &tx,
            run,
            export_run,
            target,
            mode,
            on_conflict,
            &now(),
            false,
        )?;
        tx.execute(
            "DELETE FROM id_map WHERE target = ?1 AND plan IS NOT NULL",
            params![target],
        )
        .map_err(self.sql("replacing the id map"))?;
        tx.commit().map_err(self.sql("storing a plan"))?;
        Ok(id)
    }

    /// Inserts the row of a plan of `target` into `tx`, superseding the current one; returns
    /// its id.
    #[allow(clippy::too_many_arguments)]
    fn insert_plan(
        &self,
        tx: &Transaction<'_>,
        run: RunId,
        export_run: RunId,
        target: &str,
        mode: Mode,
        on_conflict: OnConflict,
        at: &str,
        complete: bool,
    ) -> Result<i64> {
        tx.execute(
            "INSERT INTO plans (run, export_run, target, mode, on_conflict, created_at, complete)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                run.0,
                export_run.0,
                target,
                mode.as_str(),
                on_conflict.as_str(),
                at,
                complete as i64
            ],
        )
        .map_err(self.sql("storing a plan"))?;
        let id = tx.last_insert_rowid();
        tx.execute(
            "UPDATE plans SET superseded_by = ?1
             WHERE target = ?2 AND id != ?1 AND superseded_by IS NULL",
            params![id, target],
        )
        .map_err(self.sql("superseding the previous plan"))?;
        Ok(id)
    }

    /// Appends `items` to the staged plan `plan` of `target`, each with the id-map pairs its
    /// decision matched, in one transaction: they are stored together or not at all, and the
    /// transaction is short (they were decided beforehand), so that the export and `apply`,
    /// writing the same ledger meanwhile, hardly wait for it. Returns the `seq` range stored.
    pub fn store_stage(
        &self,
        plan: i64,
        target: &str,
        items: &[PreparedItem],
    ) -> Result<std::ops::Range<i64>> {
        // Immediate: the stage's first statement reads, and a deferred transaction could then
        // not take the write lock if the export or `apply` wrote meanwhile (`SQLITE_BUSY`
        // without waiting); taken first, the lock is waited for like any other write.
        let tx = Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(self.sql("storing a plan stage"))?;
        let first: i64 = tx
            .query_row(
                "SELECT coalesce(max(seq) + 1, 0) FROM plan_items WHERE plan = ?1",
                params![plan],
                |row| row.get(0),
            )
            .map_err(self.sql("storing a plan stage"))?;
        let at = now();
        let mut seq = first;
        for item in items {
            insert_item(self, &tx, plan, seq, item)?;
            upsert_pairs(self, &tx, target, plan, &at, &item.pairs)?;
            seq += 1;
        }
        tx.commit().map_err(self.sql("storing a plan stage"))?;
        Ok(first..seq)
    }

    /// Marks the staged plan `plan` complete (its last stage is stored) and its `plan` run
    /// finished, together: a kill in between would leave the run `running` for good, since a
    /// complete plan is not made again.
    pub fn complete_plan(&self, plan: i64) -> Result<()> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(self.sql("completing a plan"))?;
        tx.execute("UPDATE plans SET complete = 1 WHERE id = ?1", params![plan])
            .map_err(self.sql("completing a plan"))?;
        tx.execute(
            "UPDATE runs SET status = 'complete', finished_at = ?2
             WHERE id = (SELECT run FROM plans WHERE id = ?1)",
            params![plan, now()],
        )
        .map_err(self.sql("completing a plan"))?;
        tx.commit().map_err(self.sql("completing a plan"))?;
        Ok(())
    }
}

/// A plan item as the ledger stores it: its payloads and their dependencies as JSON text,
/// several times smaller than the parsed payloads. A stage of `migrate` holds its items so
/// until it stores them.
pub struct PreparedItem {
    kind: Kind,
    config_name: String,
    action: &'static str,
    target_id: Option<String>,
    natural_key: Option<String>,
    matched_by: Option<&'static str>,
    conflict: bool,
    payloads: Vec<PreparedPayload>,
    findings: Vec<Finding>,
    /// The id-map pairs the item's decision matched.
    pairs: Vec<IdPair>,
}

struct PreparedPayload {
    step: String,
    method: &'static str,
    path: &'static str,
    json: String,
    condition: String,
    dependencies: String,
}

impl PreparedItem {
    /// `item`, with the id-map pairs its decision matched.
    pub fn new(item: &PlanItem, pairs: Vec<IdPair>) -> PreparedItem {
        let payloads = item
            .payloads
            .iter()
            .map(|payload| {
                let mut refs: Vec<_> = payload
                    .refs()
                    .into_iter()
                    .filter(|r| r.kind != item.kind || r.config_name != item.config_name)
                    .collect();
                refs.sort();
                refs.dedup();
                PreparedPayload {
                    step: text_of(&payload.step),
                    method: payload.method,
                    path: payload.path,
                    json: serde_json::to_string(payload).expect("a payload serializes"),
                    condition: text_of(&payload.when),
                    dependencies: serde_json::to_string(&refs).expect("refs serialize"),
                }
            })
            .collect();
        PreparedItem {
            kind: item.kind,
            config_name: item.config_name.clone(),
            action: item.action.as_str(),
            target_id: item.target_id.clone(),
            natural_key: item.natural_key.clone(),
            matched_by: item.matched_by,
            conflict: item.conflict,
            payloads,
            findings: item.findings.clone(),
            pairs,
        }
    }

    /// About the bytes it holds: its payloads' text.
    pub fn size(&self) -> usize {
        self.payloads
            .iter()
            .map(|p| p.json.len() + p.dependencies.len())
            .sum::<usize>()
            + self.config_name.len()
    }
}

/// Inserts `item` as item `seq` of plan `plan`, with its payloads and findings.
fn insert_item(
    ledger: &Ledger,
    tx: &Transaction<'_>,
    plan: i64,
    seq: i64,
    item: &PreparedItem,
) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO plan_items (plan, seq, kind, config_name, action, target_id,
         natural_key, matched_by, conflict) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            plan,
            seq,
            item.kind.as_str(),
            item.config_name,
            item.action,
            item.target_id,
            item.natural_key,
            item.matched_by,
            item.conflict as i64,
        ])
    })
    .map_err(|e| ledger.sql(format!("storing plan item `{}`", item.config_name))(e))?;
    for (ordinal, payload) in item.payloads.iter().enumerate() {
        tx.prepare_cached(
            "INSERT INTO plan_payloads (plan, seq, ordinal, step, method, path, payload,
             condition, dependencies) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                plan,
                seq,
                ordinal as i64,
                payload.step,
                payload.method,
                payload.path,
                payload.json,
                payload.condition,
                payload.dependencies,
            ])
        })
        .map_err(|e| ledger.sql("storing a plan payload")(e))?;
        tx.prepare_cached("INSERT INTO payload_progress (plan, seq, ordinal) VALUES (?1, ?2, ?3)")
            .and_then(|mut stmt| stmt.execute(params![plan, seq, ordinal as i64]))
            .map_err(|e| ledger.sql("storing a plan payload")(e))?;
    }
    for (ordinal, finding) in item.findings.iter().enumerate() {
        tx.prepare_cached(
            "INSERT INTO plan_findings (plan, seq, ordinal, code, severity, kind,
             config_name, field, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                plan,
                seq,
                ordinal as i64,
                finding.code.as_str(),
                finding.severity.as_str(),
                finding.kind.as_str(),
                finding.config_name,
                finding.field,
                finding.message,
            ])
        })
        .map_err(|e| ledger.sql("storing a finding")(e))?;
    }
    Ok(())
}

/// Stores `pairs` as plan `plan`'s matches in the id map of `target`, replacing any pair of
/// the same key.
fn upsert_pairs(
    ledger: &Ledger,
    tx: &Transaction<'_>,
    target: &str,
    plan: i64,
    at: &str,
    pairs: &[IdPair],
) -> Result<()> {
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO id_map (target, kind, config_name, field, public_id, matched_by,
             natural_key, plan, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (target, kind, config_name, field) DO UPDATE SET
                public_id = excluded.public_id, matched_by = excluded.matched_by,
                natural_key = excluded.natural_key, plan = excluded.plan,
                recorded_at = excluded.recorded_at",
        )
        .map_err(ledger.sql("storing the id map"))?;
    for pair in pairs {
        stmt.execute(params![
            target,
            pair.kind.as_str(),
            pair.config_name,
            pair.field.as_str(),
            pair.public_id,
            pair.matched_by,
            pair.natural_key,
            plan,
            at,
        ])
        .map_err(|e| ledger.sql("storing the id map")(e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ledger::{Applied, PayloadKey, StoredPayload};
    use crate::mapping::{Finding, FindingCode, Payload, Ref, RefField, Step};
    use crate::model::Kind;
    use crate::plan::{Action, Plan};

    /// A `$ref` marker to the source's id, as the mapping writes one.
    fn source_ref(source: &str) -> serde_json::Value {
        json!({"$ref": {"kind": "sources", "config_name": source, "field": "id"}})
    }

    fn sample_plan() -> Plan {
        let source = "workspaces/acme/sources/web";
        let destination = "workspaces/acme/sources/web/destinations/ga";
        let item = |kind, name: &str, action| PlanItem {
            kind,
            config_name: name.to_owned(),
            action,
            target_id: None,
            natural_key: Some(format!("key of {name}")),
            matched_by: Some("slug"),
            conflict: false,
            payloads: Vec::new(),
            findings: Vec::new(),
        };
        let mut web = item(Kind::Sources, source, Action::Create);
        web.payloads = vec![
            Payload::new(Step::CreateSource, "POST", "/sources")
                .body(json!({"slug": "web"}))
                .records(Ref::id(Kind::Sources, source), "/data/source/id"),
            Payload::new(Step::SetSourceLabels, "PUT", "/sources/{sourceId}/labels")
                .param("sourceId", source_ref(source)),
        ];
        let mut ga = item(Kind::Destinations, destination, Action::Create);
        ga.payloads = vec![
            Payload::new(Step::CreateDestination, "POST", "/destinations")
                .body(json!({"sourceId": source_ref(source)})),
        ];
        ga.findings = vec![Finding {
            code: FindingCode::DestinationSecretRequired,
            severity: FindingCode::DestinationSecretRequired.severity(),
            kind: Kind::Destinations,
            config_name: destination.to_owned(),
            field: Some("config.password".into()),
            message: "Setting `password` is secret.".into(),
        }];
        let mut catalog = item(Kind::CatalogSources, "catalog/sources/js", Action::Adopt);
        catalog.target_id = Some("IqDT".into());
        catalog.conflict = true;
        Plan {
            mode: Mode::Create,
            on_conflict: OnConflict::Adopt,
            items: vec![web, ga, catalog],
            id_map: vec![IdPair {
                kind: Kind::CatalogSources,
                config_name: "catalog/sources/js".into(),
                field: RefField::Id,
                public_id: "IqDT".into(),
                matched_by: "slug",
                natural_key: Some("slug=js".into()),
            }],
        }
    }

    /// Every plan row of the ledger, timestamps left out.
    fn rows(ledger: &Ledger) -> Vec<String> {
        let queries = [
            "SELECT id, run, export_run, target, mode, on_conflict, superseded_by FROM plans",
            "SELECT * FROM plan_items ORDER BY rowid",
            "SELECT * FROM plan_payloads ORDER BY rowid",
            "SELECT * FROM payload_progress",
            "SELECT * FROM plan_findings ORDER BY rowid",
            "SELECT target, kind, config_name, field, public_id, matched_by, natural_key, plan
             FROM id_map ORDER BY rowid",
        ];
        let mut out = Vec::new();
        for query in queries {
            let mut stmt = ledger.conn.prepare(query).unwrap();
            let columns = stmt.column_count();
            let mut found = stmt.query([]).unwrap();
            while let Some(row) = found.next().unwrap() {
                let values: Vec<String> = (0..columns)
                    .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                    .collect();
                out.push(values.join("|"));
            }
        }
        out
    }

    #[test]
    fn a_stored_plan_reads_back_and_supersedes_the_one_before() {
        let plan = sample_plan();
        let mut ledger = Ledger::open_in_memory().unwrap();
        let export = ledger.begin_run("export", "src").unwrap();
        let run = ledger.begin_run("plan", "tgt").unwrap();
        let first = ledger.store_plan(run, export, "tgt", &plan).unwrap();
        // Item by item, as `plan` stores it.
        let mut writer = ledger
            .begin_plan(run, export, "tgt", plan.mode, plan.on_conflict)
            .unwrap();
        for item in &plan.items {
            writer.item(item).unwrap();
        }
        let second = writer.finish(&plan.id_map).unwrap();

        assert_eq!(
            ledger.plans().unwrap(),
            [
                (first, "tgt".to_owned(), Some(second)),
                (second, "tgt".to_owned(), None)
            ]
        );
        let names: Vec<String> = ledger
            .plan_items(second)
            .unwrap()
            .into_iter()
            .map(|i| i.config_name)
            .collect();
        let planned: Vec<String> = plan.items.iter().map(|i| i.config_name.clone()).collect();
        assert_eq!(names, planned);
        let steps: Vec<String> = ledger
            .plan_payloads(second)
            .unwrap()
            .into_iter()
            .map(|p| p.step)
            .collect();
        assert_eq!(
            steps,
            ["create_source", "set_source_labels", "create_destination"]
        );
        assert_eq!(ledger.plan_findings(second).unwrap().len(), 1);
        // The matched pairs are those of the latest plan only.
        let pairs = ledger.id_map("tgt").unwrap();
        assert_eq!(pairs.len(), 1);
        assert_eq!(pairs[0].public_id, "IqDT");
    }

    #[test]
    fn intents_taken_back_are_pending_again_but_not_a_write_that_went() {
        let plan = sample_plan();
        let mut ledger = Ledger::open_in_memory().unwrap();
        let export = ledger.begin_run("export", "src").unwrap();
        let run = ledger.begin_run("plan", "tgt").unwrap();
        let id = ledger.store_plan(run, export, "tgt", &plan).unwrap();
        let payloads = ledger.plan_payloads(id).unwrap();
        let key = |i: usize| PayloadKey {
            plan: id,
            seq: payloads[i].seq,
            ordinal: payloads[i].ordinal,
        };
        let (sent, not_sent) = (key(0), key(1));
        // Both recorded ahead; the first sent and answered, the second never sent.
        ledger.record_progress(&[], &[sent, not_sent], &[]).unwrap();
        let applied = Applied {
            key: sent,
            target: "tgt".into(),
            ids: Vec::new(),
            matched_by: "created".into(),
        };
        ledger
            .record_progress(&[applied], &[], &[sent, not_sent])
            .unwrap();
        let progress = |key: PayloadKey| {
            let state = ledger
                .plan_payloads(id)
                .unwrap()
                .into_iter()
                .find(|p| (p.seq, p.ordinal) == (key.seq, key.ordinal))
                .unwrap()
                .state;
            (state, ledger.payload_progress(key).unwrap().0)
        };
        assert_eq!(progress(sent), ("done".to_owned(), 1));
        assert_eq!(progress(not_sent), ("pending".to_owned(), 0));
    }

    #[test]
    fn a_step_read_leaves_long_bodies_in_the_ledger_to_be_read_when_needed() {
        let plan = sample_plan();
        let mut ledger = Ledger::open_in_memory().unwrap();
        let export = ledger.begin_run("export", "src").unwrap();
        let run = ledger.begin_run("plan", "tgt").unwrap();
        let id = ledger.store_plan(run, export, "tgt", &plan).unwrap();
        let whole = ledger.plan_payloads_of_step(id, "create_source", 0..10, usize::MAX);
        let [whole] = whole.unwrap().try_into().unwrap();
        assert!(!whole.body_left);
        let limit = whole.payload.len() - 1;
        let [short] = ledger
            .plan_payloads_of_step(id, "create_source", 0..10, limit)
            .unwrap()
            .try_into()
            .unwrap();
        // Everything but the body is there to schedule the payload by.
        assert!(short.body_left);
        let mut expected = whole.payload.value();
        expected.as_object_mut().unwrap().remove("body");
        assert_eq!(short.payload.value(), expected);
        assert_eq!(
            StoredPayload {
                payload: whole.payload.clone(),
                body_left: false,
                ..short.clone()
            },
            whole
        );
        let key = PayloadKey {
            plan: id,
            seq: short.seq,
            ordinal: short.ordinal,
        };
        assert_eq!(ledger.payload_text(key).unwrap(), whole.payload);
    }

    #[test]
    fn a_writer_dropped_before_finishing_stores_nothing() {
        let plan = sample_plan();
        let mut ledger = Ledger::open_in_memory().unwrap();
        let export = ledger.begin_run("export", "src").unwrap();
        let run = ledger.begin_run("plan", "tgt").unwrap();
        {
            let mut writer = ledger
                .begin_plan(run, export, "tgt", plan.mode, plan.on_conflict)
                .unwrap();
            writer.item(&plan.items[0]).unwrap();
        }
        assert!(rows(&ledger).is_empty());
        assert_eq!(ledger.latest_plan("tgt").unwrap(), None);
    }
}
