//! Building a [`PlanReport`] from what the ledger stores for a plan.
//!
//! The report is made from the ledger alone (plan items, payloads, findings, the runs), never
//! from an in-memory [`crate::plan::Plan`], so that `plan --report` and a later
//! `apply --dry-run --report` describe exactly the same stored plan, and a report can be
//! rendered again at any time without the network.
//!
//! Invariants: read-only (works on a ledger opened with [`Ledger::inspect`]); deterministic
//! (items sorted by kind then Config name, findings in stored order, the time is the plan's own);
//! secret-free, because the ledger holds markers only.

use std::collections::{BTreeMap, HashMap};

use crate::ledger::{Ledger, LedgerError, StoredPlan};
use crate::mapping::Severity;
use crate::plan::Action;

use super::estimate::{Write, estimate};
use super::followups::follow_ups;
use super::model::{PlanInfo, PlanReport, ReportFinding, ReportItem, SCHEMA_VERSION, Summary};

/// What the ledger cannot tell the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportOptions {
    /// The Public API default bucket the apply will run with (requests per minute), for the
    /// time estimate: `--public-rate-limit`, else
    /// [`crate::public_api::DEFAULT_REQUESTS_PER_MINUTE`].
    pub default_requests_per_minute: u32,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            default_requests_per_minute: crate::public_api::DEFAULT_REQUESTS_PER_MINUTE,
        }
    }
}

/// Why a report cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("the ledger holds no plan for `{target}`")]
    NoPlan { target: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

const SEVERITIES: [Severity; 4] = [
    Severity::Blocker,
    Severity::Manual,
    Severity::Lossy,
    Severity::Info,
];

/// The report of the current plan of `target`.
pub fn plan_report(
    ledger: &Ledger,
    target: &str,
    options: &ReportOptions,
) -> Result<PlanReport, ReportError> {
    let plan = ledger
        .latest_plan(target)?
        .ok_or_else(|| ReportError::NoPlan {
            target: target.to_owned(),
        })?;
    report_of(ledger, &plan, options)
}

/// The report of a stored plan.
pub fn report_of(
    ledger: &Ledger,
    plan: &StoredPlan,
    options: &ReportOptions,
) -> Result<PlanReport, ReportError> {
    let runs = ledger.runs()?;
    let workspace = ledger
        .exported_from(plan)?
        .map(|(_, workspace)| workspace)
        .unwrap_or_default();
    let planned_at = runs
        .iter()
        .find(|r| r.id == plan.run)
        .map(|r| {
            r.finished_at
                .clone()
                .unwrap_or_else(|| r.started_at.clone())
        })
        .unwrap_or_default();

    let stored_items = ledger.plan_items(plan.id)?;
    let payloads = ledger.plan_payloads(plan.id)?;
    let mut findings: HashMap<(String, String), Vec<ReportFinding>> = HashMap::new();
    for f in ledger.plan_findings(plan.id)? {
        let text = |key: &str| f[key].as_str().unwrap_or_default().to_owned();
        findings
            .entry((text("kind"), text("config_name")))
            .or_default()
            .push(ReportFinding {
                code: text("code"),
                severity: text("severity"),
                field: f["field"].as_str().map(str::to_owned),
                message: text("message"),
            });
    }
    let mut writes_of: HashMap<i64, usize> = HashMap::new();
    for payload in &payloads {
        *writes_of.entry(payload.seq).or_default() += 1;
    }
    let mut items: Vec<ReportItem> = stored_items
        .into_iter()
        .map(|i| ReportItem {
            findings: findings
                .remove(&(i.kind.clone(), i.config_name.clone()))
                .unwrap_or_default(),
            writes: writes_of.get(&i.seq).copied().unwrap_or(0),
            kind: i.kind,
            config_name: i.config_name,
            action: i.action,
            target_id: i.target_id,
            natural_key: i.natural_key,
            matched_by: i.matched_by,
            conflict: i.conflict,
        })
        .collect();
    // The follow-ups keep the plan's dependency order (sources before their destinations);
    // the item list is sorted for readers who diff two reports.
    let follow_ups = follow_ups(&items);
    items.sort_by(|a, b| (&a.kind, &a.config_name).cmp(&(&b.kind, &b.config_name)));

    let zeroes = || -> BTreeMap<String, usize> {
        Action::ALL
            .iter()
            .map(|a| (a.as_str().to_owned(), 0))
            .collect()
    };
    let mut actions = zeroes();
    let mut kinds: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let mut severities: BTreeMap<String, usize> = SEVERITIES
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for item in &items {
        *actions.entry(item.action.clone()).or_default() += 1;
        *kinds
            .entry(item.kind.clone())
            .or_insert_with(zeroes)
            .entry(item.action.clone())
            .or_default() += 1;
        for finding in &item.findings {
            *severities.entry(finding.severity.clone()).or_default() += 1;
            *codes.entry(finding.code.clone()).or_default() += 1;
        }
    }
    let writes = estimate(
        payloads.iter().map(|p| Write {
            step: &p.step,
            method: &p.method,
            path: &p.path,
        }),
        options.default_requests_per_minute,
    );
    let summary = Summary {
        objects: items.len(),
        actions,
        kinds,
        findings: severities,
        finding_codes: codes,
        conflicts: items.iter().filter(|i| i.conflict).count(),
        follow_ups: follow_ups.iter().map(|g| g.entries.len()).sum(),
        writes,
    };
    Ok(PlanReport {
        schema_version: SCHEMA_VERSION,
        report: "plan",
        plan: PlanInfo {
            id: plan.id,
            workspace,
            target: plan.target.clone(),
            mode: plan.mode.clone(),
            on_conflict: plan.on_conflict.clone(),
            export_run: plan.export_run.0,
            planned_at,
        },
        summary,
        items,
        follow_ups,
    })
}
