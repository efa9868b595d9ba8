//! `segbridge migrate`: `export`, `plan` (create mode), `apply` and `audit` as one command, each
//! step the same code as the command of its name, stopping after a step that did not finish
//! cleanly.
//!
//! Resuming is the point of running it twice. When the ledger already holds a plan of this
//! target made from its latest complete export under the same `--on-conflict`, the export and
//! the plan are not made again (a new plan would see the objects the first run created as
//! conflicts): the run goes straight to `apply`, which continues where the last one stopped.
//! When that plan was made under another policy (conflicts stopped the first run, and the
//! operator now chose `adopt` or `skip`), the export is planned again, not re-read. Otherwise
//! the export runs (resuming an interrupted one, or refreshing a finished one), then the plan,
//! then `apply`.
//! To plan again from a fresh export on purpose, run `export` and `plan` on their own.
//!
//! On a target that holds nothing a plan could match (a new workspace), a first run does not
//! wait for the export to end: the plan is made and applied in stages as the export reads
//! ([`staged`]), and a run that finds such a plan incomplete goes on with it.
//!
//! The audit runs after an `apply` without failures and compares the whole target with the
//! source, so the exit code says whether the migration is complete and faithful. Its read of
//! the source (the Config API) begins when the export is complete and runs during `plan` and
//! `apply` (the Public API): the two APIs' limits are apart, so that half of the audit costs
//! no time. Its read of the target begins when `apply` ends, while the source read finishes.
//!
//! `--json` prints one document with the summary of each step that ran.
//!
//! The ledger's process lock is held from the start to the end of the run, across the steps, so
//! a second `migrate` or `apply` on the same ledger is refused at once rather than between two
//! steps of this one.

mod staged;

use std::io::Write;
use std::pin::{Pin, pin};

use anyhow::Context;
use futures::future::{self, Either, MaybeDone};
use serde::Serialize;

use super::audit;
use super::plan::{check_report_folders, public_client, public_token, write_reports};
use super::{ExitStatus, Finished, apply, export, plan};
use crate::cli::{ApplyArgs, AuditArgs, ExportArgs, GlobalArgs, MigrateArgs, PlanArgs};
use crate::ledger::{Ledger, StoredPlan};
use crate::plan::{Mode, TargetView};
use crate::progress::HiddenReporter;
use crate::public_api::PublicClient;

/// Schema version of the `--json` document.
const SUMMARY_SCHEMA_VERSION: u32 = 1;

/// The `--json` document: the target, then the summary of each step that ran, as the step's
/// own `--json` would print it.
#[derive(Serialize)]
struct Summary {
    schema_version: u32,
    target: String,
    /// The plan a resumed run went on applying.
    #[serde(skip_serializing_if = "Option::is_none")]
    resumed_plan: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export: Option<super::Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    plan: Option<super::Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    apply: Option<super::Summary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    audit: Option<super::Summary>,
}

fn export_args(args: &MigrateArgs) -> ExportArgs {
    ExportArgs {
        api: args.config.clone(),
        pacing: args.pacing,
        workspace: args.workspace.clone(),
        ledger: args.run.ledger.clone(),
        only: Vec::new(),
        skip: Vec::new(),
        with_metrics: args.with_metrics,
        concurrency: args.run.concurrency,
        json: false,
        json_progress: args.run.json_progress,
    }
}

fn plan_args(args: &MigrateArgs) -> PlanArgs {
    PlanArgs {
        api: args.api.clone(),
        pacing: args.pacing,
        ledger: args.run.ledger.clone(),
        mappings: args.mappings.clone(),
        report: args.report.clone(),
        mode: Mode::Create,
        on_conflict: args.on_conflict,
        json: false,
        json_progress: args.run.json_progress,
    }
}

fn apply_args(args: &MigrateArgs) -> ApplyArgs {
    ApplyArgs {
        api: args.api.clone(),
        config: args.config.clone(),
        pacing: args.pacing,
        run: args.run.clone(),
        dry_run: false,
        report: Vec::new(),
    }
}

fn audit_args(args: &MigrateArgs) -> AuditArgs {
    AuditArgs {
        api: args.api.clone(),
        config: args.config.clone(),
        pacing: args.pacing,
        ledger: args.run.ledger.clone(),
        mappings: args.mappings.clone(),
        only: Vec::new(),
        with_metrics: false,
        json: false,
        json_progress: args.run.json_progress,
        report: args.audit_report.clone(),
    }
}

/// Where a run starts, from what the ledger holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Start {
    /// Nothing to build on, or an export to resume or refresh.
    Export,
    /// The latest export is complete and was planned for this target, but under another
    /// `--on-conflict` policy: plan again from it (typically after conflicts stopped the
    /// first run), without reading the source again.
    Plan,
    /// A plan of this target, made from the latest complete export with the same policy:
    /// what a first `migrate` leaves once it reaches `apply`.
    Apply(i64),
    /// A plan in stages a stopped `migrate` left incomplete: go on with it ([`staged`]).
    Staged(StoredPlan),
}

fn starting_point(args: &MigrateArgs, target: &str) -> anyhow::Result<Start> {
    if !args.run.ledger.exists() {
        return Ok(Start::Export);
    }
    // Opened, not inspected: a ledger left by a run killed before its schema was written, or
    // by an older segbridge, is brought to the current schema before it is read.
    let ledger = Ledger::open(&args.run.ledger)
        .with_context(|| format!("Cannot open the ledger `{}`", args.run.ledger.display()))?;
    let Some(plan) = ledger.latest_plan(target)? else {
        return Ok(Start::Export);
    };
    if !plan.complete && plan.mode == "create" {
        // Its stages so far were planned, and perhaps applied, under the policy it was started
        // with: going on under another would make one plan of two policies.
        if plan.on_conflict != args.on_conflict.as_str() {
            anyhow::bail!(
                "Plan {id} of this target was being made in stages with `--on-conflict {stored}` \
                 when a `migrate` stopped, and its stages so far follow that policy. Run \
                 `segbridge migrate` again with `--on-conflict {stored}` to finish it; a run with \
                 `--on-conflict {given}` after that plans again from the same export.",
                id = plan.id,
                stored = plan.on_conflict,
                given = args.on_conflict.as_str(),
            );
        }
        return Ok(Start::Staged(plan));
    }
    let latest_export = ledger.latest_complete_export()?.map(|(run, _)| run);
    if plan.mode != "create" || latest_export != Some(plan.export_run) {
        return Ok(Start::Export);
    }
    Ok(if plan.on_conflict == args.on_conflict.as_str() {
        Start::Apply(plan.id)
    } else {
        Start::Plan
    })
}

fn target_client(args: &MigrateArgs) -> anyhow::Result<PublicClient> {
    let token = public_token(&args.api)?;
    public_client(
        &args.api,
        args.pacing,
        token,
        std::sync::Arc::new(HiddenReporter),
    )
}

/// The target's key in the ledger, `<public url>|<workspace id>`, as `plan` names it.
async fn target_of(args: &MigrateArgs) -> anyhow::Result<String> {
    let client = target_client(args)?;
    let workspace = client
        .get_workspace()
        .await
        .context("Cannot read the target workspace")?;
    Ok(format!(
        "{}|{}",
        client.base_url().as_str().trim_end_matches('/'),
        workspace.id
    ))
}

/// The target as the planner would see it, with the requests that read it.
async fn target_view(args: &MigrateArgs) -> anyhow::Result<(TargetView, u64)> {
    let client = target_client(args)?;
    let view = crate::plan::read_target(&client, &HiddenReporter)
        .await
        .context("Cannot read the target workspace")?;
    Ok((view, client.metrics().snapshot().requests_sent))
}

fn say(global: &GlobalArgs, line: &str) -> anyhow::Result<()> {
    if !global.quiet {
        writeln!(std::io::stderr().lock(), "{line}")?;
    }
    Ok(())
}

/// Runs `step` while the audit's read of the source goes on, or after it ended (its result is
/// kept in `reading`). Each API has limits of its own, so the Config API reads cost no time
/// while `plan` thinks and `apply` writes to the Public API.
async fn alongside<T, F: Future>(
    step: impl Future<Output = T>,
    reading: Pin<&mut MaybeDone<F>>,
) -> T {
    let step = pin!(step);
    match future::select(step, reading).await {
        Either::Left((done, _)) => done,
        Either::Right(((), step)) => step.await,
    }
}

/// The audit, with the source as `reading` read it ahead (read again when that failed). Its
/// target side is read while the source read ends.
async fn audit_after<F>(
    args: &AuditArgs,
    global: &GlobalArgs,
    mut reading: Pin<&mut MaybeDone<F>>,
) -> anyhow::Result<Finished>
where
    F: Future<Output = anyhow::Result<crate::audit::SourceAhead>>,
{
    let ahead = async {
        reading.as_mut().await;
        reading.as_mut().take_output().and_then(Result::ok)
    };
    audit::execute_with_source(args, global, ahead).await
}

/// Runs the steps; the `--json` document is returned, not printed.
pub async fn execute(args: &MigrateArgs, global: &GlobalArgs) -> anyhow::Result<Finished> {
    check_report_folders("--report", &args.report)?;
    check_report_folders("--audit-report", &args.audit_report)?;
    // One lock for all four steps: each step opens the ledger on its own, and another process
    // must not take it in between (it would make this run fail half-way, or interleave).
    let _lock = Ledger::lock(&args.run.ledger)
        .with_context(|| format!("Cannot open the ledger `{}`", args.run.ledger.display()))?;
    let target = target_of(args).await?;
    let mut summary = Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        target: target.clone(),
        resumed_plan: None,
        export: None,
        plan: None,
        apply: None,
        audit: None,
    };

    let start = starting_point(args, &target)?;
    // The audit's read of the source begins once the export is complete and goes on through
    // `plan` and `apply`. It is dropped, unfinished or not, when no audit follows; a read that
    // failed is left to the audit, which reads again and reports what it meets.
    let audit_args = audit_args(args);
    let mut reading = pin!(future::maybe_done(audit::read_source_ahead(&audit_args)));

    // Export and apply overlapped: on a first run when the target allows it
    // (`staged::target_holds_nothing_to_match`), and always for a plan a stopped run left in
    // stages, against the target without what that run created.
    let staged = match &start {
        Start::Export => {
            let (view, requests) = target_view(args).await?;
            crate::plan::staged::target_holds_nothing_to_match(&view)
                .then_some(((view, requests), None))
        }
        Start::Staged(plan) => {
            let (mut view, requests) = target_view(args).await?;
            let ledger = Ledger::open(&args.run.ledger).with_context(|| {
                format!("Cannot open the ledger `{}`", args.run.ledger.display())
            })?;
            staged::leave_out_ours(&ledger, &target, &mut view)?;
            Some(((view, requests), Some(plan.clone())))
        }
        Start::Plan | Start::Apply(_) => None,
    };
    if let Some(((view, read_requests), resumed)) = staged {
        if let Some(plan) = &resumed {
            say(
                global,
                &format!(
                    "Resuming: plan {} of this target was being made in stages as the export read; going on with it",
                    plan.id
                ),
            )?;
            summary.resumed_plan = Some(plan.id);
        }
        let outcome = staged::run(
            args,
            global,
            &target,
            view,
            read_requests,
            resumed,
            reading.as_mut(),
        )
        .await?;
        summary.export = outcome.export;
        summary.plan = outcome.plan;
        summary.apply = outcome.apply;
        let mut status = outcome.status;
        if status != ExitStatus::Success {
            say(
                global,
                "Stopped: fix what the steps above report and run migrate again",
            )?;
        } else {
            say(global, "Step 4/4: audit")?;
            let finished = audit_after(&audit_args, global, reading.as_mut()).await?;
            summary.audit = Some(finished.summary);
            status = finished.status;
        }
        return Ok(Finished::new(status, summary));
    }
    let mut status = ExitStatus::Success;
    match start {
        Start::Apply(plan) => {
            say(
                global,
                &format!(
                    "Resuming: plan {plan} of this target was made from the latest export; applying it"
                ),
            )?;
            summary.resumed_plan = Some(plan);
            // The report of the plan being resumed, as the first run wrote it.
            if !args.report.is_empty() {
                let ledger = Ledger::inspect(&args.run.ledger).with_context(|| {
                    format!("Cannot open the ledger `{}`", args.run.ledger.display())
                })?;
                std::io::stderr().write_all(
                    write_reports(&ledger, &target, &args.api, &args.report, global)?.as_bytes(),
                )?;
            }
        }
        Start::Plan => say(
            global,
            "The latest export is complete; planning it again with the new --on-conflict",
        )?,
        Start::Staged(_) => unreachable!("a plan in stages goes on above"),
        Start::Export => {
            say(global, "Step 1/4: export")?;
            let finished = export::execute(&export_args(args), global).await?;
            summary.export = Some(finished.summary);
            status = finished.status;
        }
    }
    if status == ExitStatus::Success && !matches!(start, Start::Apply(_)) {
        say(global, "Step 2/4: plan")?;
        let finished = alongside(plan::execute(&plan_args(args), global), reading.as_mut()).await?;
        summary.plan = Some(finished.summary);
        status = finished.status;
    }
    if status != ExitStatus::Success {
        say(
            global,
            "Stopped: fix what the step above reports and run migrate again",
        )?;
    } else {
        say(
            global,
            "Step 3/4: apply (the audit reads the source workspace meanwhile)",
        )?;
        let apply_args = apply_args(args);
        let finished = alongside(apply::execute(&apply_args, global), reading.as_mut()).await?;
        summary.apply = Some(finished.summary);
        status = finished.status;
        // The audit compares the whole target: only worth it once everything was applied. Its
        // target side is read while the source read ends.
        if status == ExitStatus::Success {
            say(global, "Step 4/4: audit")?;
            let finished = audit_after(&audit_args, global, reading.as_mut()).await?;
            summary.audit = Some(finished.summary);
            status = finished.status;
        }
    }
    Ok(Finished::new(status, summary))
}
