//! Planning in stages while the export still reads, for `migrate` to apply what is read before
//! the export ends.
//!
//! [`Eligible`] is what the export has read completely so far, as
//! [`crate::export::Ready`] tells it: every kind read before the sources together with the
//! sources, once they all are; the schema config, destinations and filters of one source, once
//! its subtree is; everything, once the export is complete. These are the units of a stage
//! because nothing in one refers to an object of a later one: a source needs its function and
//! catalog entry (and a schema config may forward to another source), a destination its source,
//! a filter its destination and source, and what refers across sources (tracking plans and
//! their connections, IAM) waits for the end.
//!
//! [`plan_stage`] plans the eligible objects no earlier stage planned ([`super::build_stage`]),
//! against the one target view of the whole plan, and appends them to the plan in one
//! transaction. What it knows of the earlier stages comes from the ledger ([`prior`]), so a
//! `migrate` that stopped half-way goes on from what it stored.

use std::collections::HashSet;
use std::ops::Range;

use super::{
    Action, Conflict, IdPair, PlanItem, PlanOptions, PlanOutline, PlanSummary, Prior, TargetView,
    build_stage,
};
use crate::ledger::{Ledger, LedgerError, RunId};
use crate::mapping::{Severity, Tables, exported_functions};
use crate::model::Kind;
use crate::public_api::PublicObject;
use crate::public_api::writer::MAX_INVITES_PER_REQUEST;

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

/// What the export has read completely so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Eligible {
    /// The sources and every kind read before them.
    pub sources: bool,
    /// The sources (Config names) whose subtrees are read.
    pub subtrees: HashSet<String>,
    /// The whole export.
    pub everything: bool,
}

impl Eligible {
    /// Whether the object `name` of `kind` is read, and so may be planned.
    pub fn holds(&self, kind: Kind, name: &str) -> bool {
        if self.everything {
            return true;
        }
        if WITH_SOURCES.contains(&kind) {
            return self.sources;
        }
        SUBTREE.contains(&kind) && source_of(name).is_some_and(|s| self.subtrees.contains(s))
    }
}

/// The source an object of a subtree hangs below: `workspaces/w/sources/s` of
/// `workspaces/w/sources/s/destinations/d/filters/f`.
fn source_of(name: &str) -> Option<&str> {
    let at = name.find("/sources/")? + "/sources/".len();
    let end = name[at..].find('/').map_or(name.len(), |i| at + i);
    Some(&name[..end])
}

/// What the stored stages of `plan` decided, as the next stage needs it.
pub fn prior(ledger: &Ledger, plan: i64) -> Result<Prior, LedgerError> {
    let mut prior = Prior::default();
    ledger.visit_plan_items(plan, |item| {
        let Ok(kind) = item.kind.parse::<Kind>() else {
            return;
        };
        let key = (kind, item.config_name);
        if matches!(item.action.as_str(), "skip" | "manual") {
            prior.held.insert(key.clone());
        }
        prior.planned.insert(key);
    })?;
    for payload in ledger.plan_payloads_of_step(plan, "create_label", 0..i64::MAX)? {
        let payload = payload.payload.value();
        let label = &payload["body"]["label"];
        let field = |k: &str| label[k].as_str().unwrap_or_default().to_owned();
        prior.labels.insert((field("key"), field("value")));
    }
    Ok(prior)
}

/// Plans the objects of the export `export_run` that `eligible` holds and no stage of `plan`
/// planned yet, appends them to `plan` (of `target`) and returns the `seq`s they were given
/// and their counts. The stage is decided whole before it is stored, so that the transaction
/// storing it is short: the export and `apply` write to the same ledger meanwhile.
#[allow(clippy::too_many_arguments)]
pub fn plan_stage(
    ledger: &Ledger,
    plan: i64,
    target: &str,
    export_run: RunId,
    eligible: &Eligible,
    tables: &Tables,
    view: &TargetView,
    options: PlanOptions,
) -> Result<(Range<i64>, PlanSummary), LedgerError> {
    let prior = prior(ledger, plan)?;
    let functions = exported_functions(&ledger.snapshot(export_run))?;
    let keep = |kind: Kind, name: &str| {
        eligible.holds(kind, name) && !prior.planned.contains(&(kind, name.to_owned()))
    };
    let snapshot = ledger.snapshot_where(export_run, &keep);
    let mut items: Vec<(PlanItem, Vec<IdPair>)> = Vec::new();
    let summary = build_stage(
        &snapshot,
        &functions,
        prior.clone(),
        tables,
        view,
        options,
        &mut |item, pairs| {
            items.push((item, pairs.to_vec()));
            Ok(())
        },
    )?;
    let seqs = ledger.store_stage(plan, target, &items)?;
    Ok((seqs, summary))
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
        summary.items += 1;
        *summary
            .per_kind
            .entry(kind.as_str())
            .or_default()
            .entry(action.as_str())
            .or_default() += 1;
        *summary.per_action.entry(action.as_str()).or_default() += 1;
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
        if step == "invite_user" {
            summary.invitations += n;
            summary.write_requests += n.div_ceil(MAX_INVITES_PER_REQUEST);
        } else {
            summary.write_requests += n;
        }
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
/// could match but what segbridge created in it for this plan's workspace (`ours`, the Public
/// ids the id map records as created). A match found in a late stage would be a conflict found
/// after the early stages were applied, while `--on-conflict fail` promises that nothing is
/// applied when there is one; with nothing to match, there is none.
pub fn target_holds_nothing_to_match(view: &TargetView, ours: &HashSet<String>) -> bool {
    let foreign = |o: &PublicObject| !ours.contains(&o.id);
    !(view.sources.iter().any(foreign)
        || view.destinations.iter().any(foreign)
        || view.filters.iter().any(|(_, f)| foreign(f))
        || view.tracking_plans.iter().any(foreign)
        || view.functions.iter().any(foreign))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subtree_object_belongs_to_the_source_above_it() {
        assert_eq!(
            source_of("workspaces/w/sources/s/destinations/d/filters/f"),
            Some("workspaces/w/sources/s")
        );
        assert_eq!(
            source_of("workspaces/w/sources/s/schema-config"),
            Some("workspaces/w/sources/s")
        );
        assert_eq!(
            source_of("workspaces/w/sources/s"),
            Some("workspaces/w/sources/s")
        );
        assert_eq!(source_of("workspaces/w/tracking-plans/p"), None);
    }

    #[test]
    fn eligibility_grows_from_the_sources_to_their_subtrees_to_everything() {
        let mut eligible = Eligible::default();
        let destination = "workspaces/w/sources/s/destinations/d";
        assert!(!eligible.holds(Kind::Sources, "workspaces/w/sources/s"));
        eligible.sources = true;
        assert!(eligible.holds(Kind::Sources, "workspaces/w/sources/s"));
        assert!(eligible.holds(Kind::Functions, "workspaces/w/functions/f"));
        assert!(!eligible.holds(Kind::Destinations, destination));
        eligible.subtrees.insert("workspaces/w/sources/s".into());
        assert!(eligible.holds(Kind::Destinations, destination));
        assert!(!eligible.holds(Kind::Destinations, "workspaces/w/sources/t/destinations/d"));
        assert!(!eligible.holds(Kind::TrackingPlans, "workspaces/w/tracking-plans/p"));
        assert!(!eligible.holds(Kind::Users, "workspaces/w/users/u"));
        eligible.everything = true;
        assert!(eligible.holds(Kind::TrackingPlans, "workspaces/w/tracking-plans/p"));
    }
}
