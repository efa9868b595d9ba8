//! Planning in stages while the export still reads, for `migrate` to apply what is read before
//! the export ends.
//!
//! A [`Stage`] is what the export has read completely, as [`crate::export::Ready`] tells it:
//! every kind read before the sources together with the sources, once they all are; what hangs
//! below no source (tracking plans and their connections, IAM), once it is; the schema config,
//! destinations and filters of some sources, once their subtrees are; the rest, once the export
//! is complete. These are the units because nothing in one refers to an object of a later one:
//! a source needs its function and catalog entry (and a schema config may forward to another
//! source), a connection its plan and source, a grant its source or function, a destination its
//! source, a filter its destination and source.
//!
//! [`StagePlanner::plan`] plans the objects of a stage no earlier stage planned
//! ([`super::build_stage`]), against the one target view of the whole plan, and appends them
//! to the plan as they are decided, in parts of about a megabyte, each part one transaction
//! with the id-map pairs of its items. What it knows of the earlier stages it reads from the
//! ledger when it opens ([`prior`]), so a `migrate` that stopped half-way, even in the middle of
//! a stage, goes on from what it stored; then it keeps that up to date itself.

use std::collections::HashSet;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::{
    Action, Conflict, ObjectKey, PlanItem, PlanOptions, PlanOutline, PlanSummary, Prior,
    TargetView, build_stage,
};
use crate::ledger::{Ledger, LedgerError, PreparedItem, RunId};
use crate::mapping::{ExportedFunction, Ref, Severity, Step, Tables, exported_functions};
use crate::model::Kind;
use crate::public_api::PublicObject;

/// The kinds read before the sources, and the sources: planned together once all are read.
const WITH_SOURCES: [Kind; 6] = [
    Kind::Workspaces,
    Kind::AccessTokens,
    Kind::CatalogSources,
    Kind::CatalogDestinations,
    Kind::Functions,
    Kind::Sources,
];

/// The kinds of a source's subtree: planned per source once its subtree is read.
const SUBTREE: [Kind; 3] = [
    Kind::SchemaConfigs,
    Kind::Destinations,
    Kind::DestinationFilters,
];

/// The kinds read after the sources' subtrees: planned with the rest.
const AFTER_SUBTREES: [Kind; 1] = [Kind::DeliveryMetrics];

/// About how many bytes of a stage's items are stored at once.
const STAGE_PART_BYTES: usize = 1 << 20;

/// The page cache of each of the planner's two connections, in KiB (SQLite's default: 2 MB).
/// The export and `apply` commit all the time, and each commit empties the planner's caches:
/// kept at 2 MB they were 4 MB of its thread's memory for little reuse (`migrate` of `large`,
/// four runs each: 30.7–31.5 MB at its peak against 32.3–34.2, the same CPU within the noise).
const PLANNER_PAGE_CACHE_KIB: u32 = 512;

/// What a stage plans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// The sources and every kind read before them, once they all are.
    Sources,
    /// What hangs below no source and refers to nothing below one (tracking plans and their
    /// connections to sources, IAM), once it is read.
    Others,
    /// The subtrees of these sources (Config names), once each is read.
    Subtrees(Vec<String>),
    /// Everything not planned yet, once the export is complete.
    Rest,
}

/// A plan being made in stages: the ledger it is stored in and what its stored stages
/// decided, kept from one stage to the next so that a stage costs what it plans, not what the
/// plan holds so far.
pub struct StagePlanner {
    /// Reads the export. A connection of its own: a stage is stored in parts while the export
    /// is read, and a connection in the middle of a read cannot take the write lock once
    /// another one (the export, `apply`) has written.
    reader: Ledger,
    writer: Ledger,
    plan: i64,
    target: String,
    export_run: RunId,
    tables: Arc<Tables>,
    view: Arc<TargetView>,
    options: PlanOptions,
    prior: Prior,
    /// The export's functions, read with the first stage (they are read before the sources).
    functions: Option<Vec<ExportedFunction>>,
    /// About how many bytes of items are stored at once.
    part_bytes: usize,
}

impl StagePlanner {
    /// Opens the ledger at `path` to go on with the stages of `plan` (of `target`, made from
    /// the export `export_run`), reading what its stored stages decided.
    pub fn open(
        path: &Path,
        plan: i64,
        target: &str,
        export_run: RunId,
        tables: Arc<Tables>,
        view: Arc<TargetView>,
        options: PlanOptions,
    ) -> Result<StagePlanner, LedgerError> {
        let reader = Ledger::open(path)?;
        let writer = Ledger::open(path)?;
        reader.limit_page_cache(PLANNER_PAGE_CACHE_KIB)?;
        writer.limit_page_cache(PLANNER_PAGE_CACHE_KIB)?;
        let prior = prior(&reader, plan, target)?;
        Ok(StagePlanner {
            reader,
            writer,
            plan,
            target: target.to_owned(),
            export_run,
            tables,
            view,
            options,
            prior,
            functions: None,
            part_bytes: STAGE_PART_BYTES,
        })
    }

    /// Stores items in parts of about `bytes` (a test stores every item on its own, in the
    /// middle of reading the export).
    pub fn with_part_bytes(mut self, bytes: usize) -> StagePlanner {
        self.part_bytes = bytes;
        self
    }

    /// Plans the objects of `stage` that no stage planned yet, appends them to the plan and
    /// returns the `seq`s they were given. They are stored in parts as they are decided, each
    /// in a short transaction of the writer's connection: the export and `apply` write to the
    /// same ledger meanwhile, and the reader's connection, in the middle of reading the
    /// export, could not take the write lock once they have.
    pub fn plan(&mut self, stage: &Stage) -> Result<Range<i64>, LedgerError> {
        let ledger = &self.reader;
        let functions = match &self.functions {
            Some(functions) => functions,
            None => self
                .functions
                .insert(exported_functions(&ledger.snapshot(self.export_run))?),
        };
        let planned = &self.prior.planned;
        let unplanned = |kind: Kind, name: &str| !planned.contains(&ObjectKey::of(kind, name));
        let with_sources =
            |kind: Kind, name: &str| WITH_SOURCES.contains(&kind) && unplanned(kind, name);
        let in_subtree = |kind: Kind, name: &str| SUBTREE.contains(&kind) && unplanned(kind, name);
        let others = |kind: Kind, name: &str| {
            !SUBTREE.contains(&kind) && !AFTER_SUBTREES.contains(&kind) && unplanned(kind, name)
        };
        let snapshot = match stage {
            Stage::Sources => ledger.snapshot_where(self.export_run, &with_sources),
            Stage::Others => ledger.snapshot_where(self.export_run, &others),
            Stage::Subtrees(sources) => {
                ledger.snapshot_below(self.export_run, sources, &in_subtree)
            }
            Stage::Rest => ledger.snapshot_where(self.export_run, &unplanned),
        };
        // Stored in parts of about `part_bytes`, each with the id-map pairs of its items: a stage
        // can be large (the first holds every source, the next every tracking plan with its
        // rules), and what a part's items decided is then whole in the ledger.
        let mut part: Vec<PreparedItem> = Vec::new();
        let mut part_bytes = 0;
        let mut seqs: Option<Range<i64>> = None;
        let mut store = |part: &mut Vec<PreparedItem>| -> Result<(), LedgerError> {
            let stored = self.writer.store_stage(self.plan, &self.target, part)?;
            part.clear();
            seqs = Some(match seqs.take() {
                Some(seqs) => seqs.start..stored.end,
                None => stored,
            });
            Ok(())
        };
        let mut decided = Prior::default();
        build_stage(
            &snapshot,
            functions,
            &self.prior,
            &self.tables,
            &self.view,
            self.options,
            // A subtree stage is a few sources' destinations and filters; the first stages
            // hold every source, and every tracking plan with its rules.
            matches!(stage, Stage::Subtrees(_)),
            &mut |item, pairs| {
                decided.add(&item);
                let item = PreparedItem::new(&item, pairs.to_vec());
                part_bytes += item.size();
                part.push(item);
                if part_bytes >= self.part_bytes {
                    part_bytes = 0;
                    store(&mut part)?;
                }
                Ok(())
            },
        )?;
        store(&mut part)?;
        let seqs = seqs.unwrap_or(0..0);
        self.prior.planned.extend(decided.planned);
        self.prior.held.extend(decided.held);
        self.prior.labels.extend(decided.labels);
        Ok(seqs)
    }
}

impl Prior {
    /// Adds what `item`, just stored, decided.
    fn add(&mut self, item: &PlanItem) {
        let key = ObjectKey::of(item.kind, &item.config_name);
        if matches!(item.action, Action::Skip | Action::Manual) {
            self.held.insert(key);
        }
        self.planned.insert(key);
        for payload in &item.payloads {
            if payload.step == Step::CreateLabel {
                let label = payload.body.as_ref().map(|b| &b["label"]);
                self.labels.insert(label_key(label));
            }
        }
    }
}

/// The (key, value) of a label object, empty strings for what it lacks.
fn label_key(label: Option<&serde_json::Value>) -> (String, String) {
    let field = |k: &str| {
        label
            .and_then(|l| l.get(k))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    (field("key"), field("value"))
}

/// What the stored stages of `plan` (of `target`) decided, and the sources and destinations
/// their applying created, as the next stage needs it.
pub fn prior(ledger: &Ledger, plan: i64, target: &str) -> Result<Prior, LedgerError> {
    let mut prior = Prior::default();
    ledger.visit_id_map(target, |pair| {
        let ours = matches!(pair.matched_by.as_str(), "created" | "reconciled");
        if let Ok(kind @ (Kind::Sources | Kind::Destinations)) = pair.kind.parse()
            && ours
            && pair.field == "id"
        {
            prior
                .created
                .insert(Ref::id(kind, pair.config_name), pair.public_id);
        }
    })?;
    ledger.visit_plan_items(plan, |item| {
        let Ok(kind) = item.kind.parse::<Kind>() else {
            return;
        };
        let key = ObjectKey::of(kind, &item.config_name);
        if matches!(item.action.as_str(), "skip" | "manual") {
            prior.held.insert(key);
        }
        prior.planned.insert(key);
    })?;
    for payload in ledger.plan_payloads_of_step(plan, "create_label", 0..i64::MAX, usize::MAX)? {
        let payload = payload.payload.value();
        prior.labels.insert(label_key(payload["body"].get("label")));
    }
    Ok(prior)
}

/// Leaves out of `view` the objects whose Public ids are in `ours` (what segbridge created in
/// the target): a `migrate` that goes on with a plan in stages reads the target again, and
/// must match the objects it has not planned yet against the target as the first run found it.
pub fn leave_out(view: &mut TargetView, ours: &HashSet<String>) {
    let theirs = |o: &PublicObject| !ours.contains(&o.id);
    view.sources.retain(theirs);
    view.destinations.retain(theirs);
    view.filters.retain(|(_, f)| theirs(f));
    view.tracking_plans.retain(theirs);
    view.functions.retain(theirs);
}

/// The outline of the stored plan `plan` (its counts and conflicts, as [`super::build_into`]
/// returns them), read from the ledger: a plan made in stages, perhaps over several runs of
/// `migrate`, is summed up once it is whole.
pub fn stored_outline(
    ledger: &Ledger,
    plan: i64,
    options: PlanOptions,
) -> Result<PlanOutline, LedgerError> {
    let mut summary = PlanSummary::default();
    ledger.visit_plan_items(plan, |item| {
        let (Ok(kind), Some(action)) = (
            item.kind.parse::<Kind>(),
            Action::ALL.into_iter().find(|a| a.as_str() == item.action),
        ) else {
            return;
        };
        summary.count_item(kind, action);
        if item.conflict {
            summary.conflicts.push(Conflict {
                kind,
                config_name: item.config_name,
                target_id: item.target_id,
                natural_key: item.natural_key,
                action,
            });
        }
    })?;
    for (severity, n) in ledger.plan_finding_counts(plan)? {
        if let Some(severity) = Severity::ALL.into_iter().find(|s| s.as_str() == severity) {
            summary.findings.insert(severity, n);
        }
    }
    for (step, n) in ledger.plan_write_counts(plan)? {
        summary.count_payloads(step == "invite_user", n);
    }
    Ok(PlanOutline {
        mode: options.mode,
        on_conflict: options.on_conflict,
        // Only the count is reported; the pairs are in the ledger.
        id_map: Vec::new(),
        summary,
    })
}

/// Whether a plan in stages can be made against `view`: the target holds nothing the plan
/// could match. A match found in a late stage would be a conflict found after the early stages
/// were applied, while `--on-conflict fail` promises that nothing is applied when there is one;
/// with nothing to match, there is none. (Labels are created only when missing, and a user the
/// target knows gets permissions instead of an invitation: neither is a conflict.)
pub fn target_holds_nothing_to_match(view: &TargetView) -> bool {
    view.sources.is_empty()
        && view.destinations.is_empty()
        && view.filters.is_empty()
        && view.tracking_plans.is_empty()
        && view.functions.is_empty()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(id: &str) -> PublicObject {
        PublicObject {
            id: id.into(),
            body: json!({"id": id}),
        }
    }

    #[test]
    fn only_objects_a_plan_could_match_keep_a_target_from_being_planned_in_stages() {
        let mut view = TargetView::default();
        assert!(target_holds_nothing_to_match(&view));
        // Labels are created only when missing, users get permissions: neither conflicts.
        view.labels.push(object("env:prod"));
        view.users.push(object("u1"));
        assert!(target_holds_nothing_to_match(&view));
        for add in [
            |v: &mut TargetView| v.sources.push(object("s1")),
            |v: &mut TargetView| v.destinations.push(object("d1")),
            |v: &mut TargetView| v.filters.push(("d1".into(), object("f1"))),
            |v: &mut TargetView| v.tracking_plans.push(object("tp1")),
            |v: &mut TargetView| v.functions.push(object("fn1")),
        ] {
            let mut holding = view.clone();
            add(&mut holding);
            assert!(!target_holds_nothing_to_match(&holding));
        }
    }

    #[test]
    fn a_resumed_plan_sees_the_target_without_what_segbridge_created() {
        let mut view = TargetView {
            sources: vec![object("ours"), object("theirs")],
            destinations: vec![object("ours-d")],
            labels: vec![object("env:prod")],
            ..TargetView::default()
        };
        let ours: HashSet<String> = ["ours", "ours-d"].map(String::from).into();
        leave_out(&mut view, &ours);
        let ids =
            |objects: &[PublicObject]| objects.iter().map(|o| o.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&view.sources), ["theirs"]);
        assert!(view.destinations.is_empty());
        assert_eq!(ids(&view.labels), ["env:prod"]);
    }
}
