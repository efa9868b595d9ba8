//! `segbridge plan`: find the latest complete export in the ledger, read the target through
//! the read-only Public client, build the plan from the export read kind by kind and store each
//! item as it is decided (neither the snapshot nor the plan is ever whole in memory), print the
//! summary (text on stderr, JSON on stdout with `--json`) and exit 1 when conflicts stop it.
//!
//! No `PublicWriter` is constructed here: the target is only ever read.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use serde_json::{Value, json};

use crate::cli::{GlobalArgs, PacingArgs, PlanArgs, PublicApiArgs};
use crate::commands::export::ReporterObserver;
use crate::commands::reporters::{self, CliReporter};
use crate::commands::{ExitStatus, Finished};
use crate::diagnostics::Hint;
use crate::env_vars;
use crate::http::{RetryPolicy, ScaledClock, Secret};
use crate::ledger::{Ledger, LedgerError};
use crate::mapping::{Severity, Tables};
use crate::plan::{self, Action, Mode, PlanOptions, PlanOutline};
use crate::progress::Reporter;
use crate::public_api::{PublicClient, PublicClientSettings, Region};
use crate::report::{ReportOptions, ReportPath};
use crate::sim::clock::TimeScale;

/// Schema version of the `--json` summary.
const SUMMARY_SCHEMA_VERSION: u32 = 1;

/// Reads the Public API token from `--public-token-file` or the environment; a token given as a
/// plain argument is refused.
pub fn public_token(api: &PublicApiArgs) -> anyhow::Result<Secret> {
    if api.public_token.is_some() {
        return Err(anyhow::anyhow!("`--public-token` is not accepted").context(Hint(format!(
            "a token on the command line ends up in shell history and process listings; set `{}` or use `--public-token-file FILE`",
            env_vars::SEGMENT_PUBLIC_API_TOKEN
        ))));
    }
    if let Some(token) = &api.given_token {
        return Ok(token.clone());
    }
    match &api.public_token_file {
        Some(path) => Secret::from_file(path).context("Cannot read the Public API token"),
        None => Secret::from_env(env_vars::SEGMENT_PUBLIC_API_TOKEN)
            .context("No Public API token")
            .context(Hint(format!(
                "set `{}` or pass `--public-token-file FILE`",
                env_vars::SEGMENT_PUBLIC_API_TOKEN
            ))),
    }
}

/// Builds the read-only Public API client, its waits and retries reported to `reporter`.
pub fn public_client(
    api: &PublicApiArgs,
    pacing: PacingArgs,
    token: Secret,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<PublicClient> {
    let mut settings = PublicClientSettings::for_region(token, api.region.unwrap_or(Region::Us));
    if let Some(url) = &api.public_url {
        settings.base_url = url
            .parse()
            .with_context(|| format!("`--public-url {url}` is not a URL"))?;
    }
    settings.default_requests_per_minute = api.public_rate_limit;
    settings.retry = RetryPolicy::default()
        .with_env_overrides()
        .context("Invalid retry settings in the environment")?;
    settings.observer = Some(Arc::new(ReporterObserver(reporter)));
    if pacing.time_scale != TimeScale::default() {
        settings.clock = Arc::new(ScaledClock::new(pacing.time_scale.factor()));
    }
    PublicClient::new(settings).context("Cannot set up the Public API client")
}

/// The latest export, which must have completed, and its workspace slug. Its snapshot is read
/// from the ledger as the planner goes ([`Ledger::snapshot`]), never loaded whole.
fn latest_export(ledger: &Ledger) -> anyhow::Result<(crate::ledger::RunId, String)> {
    let runs = ledger.runs()?;
    let latest = runs.iter().rev().find(|r| r.command == "export");
    let Some(latest) = latest else {
        return Err(anyhow::anyhow!("The ledger holds no export")
            .context(Hint("run `segbridge export` first".into())));
    };
    if latest.status != crate::ledger::RunStatus::Complete {
        return Err(
            anyhow::anyhow!("The latest export (run {}) did not complete", latest.id.0).context(
                Hint("run `segbridge export` again: it resumes where it stopped".into()),
            ),
        );
    }
    // The export's identity is `<config url>|<workspace slug>`.
    let workspace = latest
        .source
        .rsplit('|')
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok((latest.id, workspace))
}

/// Builds the plan of the export's snapshot against `view` and stores it item by item as it is
/// decided: neither the snapshot nor the plan is ever whole in memory.
fn build_and_store(
    ledger: &Ledger,
    run: crate::ledger::RunId,
    export_run: crate::ledger::RunId,
    target: &str,
    tables: &Tables,
    view: &plan::TargetView,
    options: PlanOptions,
) -> Result<(i64, PlanOutline), LedgerError> {
    let snapshot = ledger.snapshot(export_run);
    let mut writer =
        ledger.begin_plan(run, export_run, target, options.mode, options.on_conflict)?;
    let outline = plan::build_into(&snapshot, tables, view, options, &mut |item| {
        writer.item(&item)
    })?;
    let id = writer.finish(&outline.id_map)?;
    Ok((id, outline))
}

/// Builds and stores the plan; the `--json` summary is returned, not printed.
pub async fn execute(args: &PlanArgs, global: &GlobalArgs) -> anyhow::Result<Finished> {
    // A token given the wrong way is said first: it is a mistake on the command line itself.
    let token = public_token(&args.api)?;
    require_ledger(&args.ledger)?;
    check_report_folders("--report", &args.report)?;
    let tables = match &args.mappings {
        Some(dir) => Tables::load(dir)
            .with_context(|| format!("Cannot load the mapping tables of `{}`", dir.display()))?,
        None => Tables::embedded().clone(),
    };
    let reporter: Arc<dyn CliReporter> =
        Arc::from(reporters::for_command(args.json_progress, global));
    let client = public_client(&args.api, args.pacing, token, reporter.clone())?;
    let mut ledger = Ledger::open(&args.ledger)
        .with_context(|| format!("Cannot open the ledger `{}`", args.ledger.display()))?;
    let (export_run, workspace) = latest_export(&ledger)?;

    let view = plan::read_target(&client, &*reporter).await;
    reporter.finish();
    let view = view.context("Cannot read the target workspace")?;
    if args.mode == Mode::Adopt && view.workspace_slug != workspace {
        return Err(anyhow::anyhow!(
            "adopt mode: the export is of workspace `{workspace}` but the Public API token belongs to `{}`",
            view.workspace_slug
        )
        .context(Hint(
            "adopt mode resolves ids within one workspace; use a token of the exported workspace, or `--mode create` to copy into another".into(),
        )));
    }
    let target = format!(
        "{}|{}",
        client.base_url().as_str().trim_end_matches('/'),
        view.workspace_id
    );
    let options = PlanOptions {
        mode: args.mode,
        on_conflict: args.on_conflict,
    };
    let run = ledger.begin_run("plan", &target)?;
    let stored = build_and_store(&ledger, run, export_run, &target, &tables, &view, options);
    let (plan_id, plan) = match stored {
        Ok(stored) => stored,
        Err(error) => {
            // Best effort: the error that stopped the plan is the one to report.
            let _ = ledger.finish_run(run, crate::ledger::RunStatus::Failed);
            return Err(anyhow::Error::new(error).context("Cannot store the plan"));
        }
    };
    ledger.finish_run(run, crate::ledger::RunStatus::Complete)?;

    let requests = client.metrics().snapshot().requests_sent;
    if !global.quiet {
        std::io::stderr()
            .lock()
            .write_all(summary_text(&plan, &workspace, &target, &args.ledger).as_bytes())?;
    }
    // The report is built from what was just stored, as `apply --dry-run` would build it.
    std::io::stderr()
        .write_all(write_reports(&ledger, &target, &args.api, &args.report, global)?.as_bytes())?;
    let status = if plan.blocking_conflicts() > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    };
    Ok(Finished::new(
        status,
        summary_json(&plan, plan_id, &target, &workspace, requests),
    ))
}

/// Refuses a missing ledger before anything else: opening it would create an empty one, and
/// there is nothing to plan or apply without an export.
pub fn require_ledger(ledger: &std::path::Path) -> anyhow::Result<()> {
    if ledger.exists() {
        return Ok(());
    }
    Err(
        anyhow::anyhow!("there is no ledger at `{}`", ledger.display()).context(Hint(
            "run `segbridge export` first, or pass the `--ledger` it wrote".into(),
        )),
    )
}

/// Refuses `--report` paths whose folder does not exist, before any work: the reports are
/// written last, and a run should not store a plan only to fail on a typo in a path.
pub fn check_report_folders(flag: &str, paths: &[ReportPath]) -> anyhow::Result<()> {
    for report in paths {
        let folder = match report.path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder,
            _ => continue,
        };
        if !folder.is_dir() {
            return Err(anyhow::anyhow!(
                "the folder `{}` of `{flag} {}` does not exist",
                folder.display(),
                report.path.display()
            )
            .context(Hint(
                "create it first, or write the report elsewhere".into(),
            )));
        }
    }
    Ok(())
}

/// Writes the compatibility report of the current plan of `target` to each of `paths` (format
/// from the extension) and returns the lines that say where (none under `-q`), for the caller
/// to print: above its progress bars when it shows some. Failing here leaves the stored plan
/// as it is, and the error says how to get the report again.
pub fn write_reports(
    ledger: &Ledger,
    target: &str,
    api: &PublicApiArgs,
    paths: &[ReportPath],
    global: &GlobalArgs,
) -> anyhow::Result<String> {
    let options = ReportOptions {
        default_requests_per_minute: api.public_rate_limit,
    };
    let written = crate::report::write_plan_reports(ledger, target, &options, paths)
        .context(Hint(
            "the plan is stored in the ledger: `segbridge apply --dry-run --report FILE` writes \
             its report again"
                .into(),
        ))
        .context("Cannot write the compatibility report")?;
    if global.quiet {
        return Ok(String::new());
    }
    Ok(written
        .iter()
        .map(|path| format!("Report written to `{}`\n", path.display()))
        .collect())
}

fn severity_counts(plan: &PlanOutline) -> BTreeMap<&'static str, usize> {
    [
        Severity::Blocker,
        Severity::Manual,
        Severity::Lossy,
        Severity::Info,
    ]
    .into_iter()
    .map(|s| {
        (
            s.as_str(),
            plan.summary.findings.get(&s).copied().unwrap_or(0),
        )
    })
    .collect()
}

/// The `--json` summary.
pub fn summary_json(
    plan: &PlanOutline,
    plan_id: i64,
    target: &str,
    workspace: &str,
    read_requests: u64,
) -> Value {
    json!({
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "plan": plan_id,
        "workspace": workspace,
        "target": target,
        "mode": plan.mode.as_str(),
        "on_conflict": plan.on_conflict.as_str(),
        "items": plan.summary.per_kind,
        "actions": Action::ALL.iter().map(|a| (a.as_str(), plan.summary.per_action.get(a.as_str()).copied().unwrap_or(0))).collect::<BTreeMap<_, _>>(),
        "findings": severity_counts(plan),
        "conflicts": plan.summary.conflicts.iter().map(|i| json!({
            "kind": i.kind.as_str(),
            "config_name": i.config_name,
            "target_id": i.target_id,
            "natural_key": i.natural_key,
            "action": i.action.as_str(),
        })).collect::<Vec<_>>(),
        "id_map_pairs": plan.id_map.len(),
        "write_requests": plan.summary.write_requests,
        "read_requests": read_requests,
    })
}

pub(crate) fn summary_text(
    plan: &PlanOutline,
    workspace: &str,
    target: &str,
    ledger: &std::path::Path,
) -> String {
    let mut out = format!(
        "Planned workspace `{workspace}` against `{target}` ({} mode): {} objects, stored in `{}`\n",
        plan.mode.as_str(),
        plan.summary.items,
        ledger.display()
    );
    out.push_str(&format!(
        "  {:<28}{:>8}{:>8}{:>8}{:>8}{:>8}\n",
        "kind", "create", "adopt", "update", "skip", "manual"
    ));
    for (kind, actions) in &plan.summary.per_kind {
        out.push_str(&format!("  {kind:<28}"));
        for action in Action::ALL {
            out.push_str(&format!(
                "{:>8}",
                actions.get(action.as_str()).copied().unwrap_or(0)
            ));
        }
        out.push('\n');
    }
    let severities = severity_counts(plan);
    out.push_str(&format!(
        "Findings: {}\n",
        severities
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if plan.mode == Mode::Adopt {
        out.push_str(&format!(
            "{} Config names resolved to Public ids\n",
            plan.id_map.len()
        ));
    }
    let conflicts = &plan.summary.conflicts;
    if !conflicts.is_empty() {
        out.push_str(&format!(
            "{} conflicts (the target already holds these; --on-conflict {}):\n",
            conflicts.len(),
            plan.on_conflict.as_str()
        ));
        for item in conflicts {
            out.push_str(&format!(
                "  {} `{}` = {} ({})\n",
                item.kind,
                item.config_name,
                item.target_id.as_deref().unwrap_or("?"),
                item.natural_key.as_deref().unwrap_or_default()
            ));
        }
    }
    out.push_str(&format!(
        "apply will send {} write requests\n",
        plan.summary.write_requests
    ));
    if plan.blocking_conflicts() > 0 {
        out.push_str(
            "The plan cannot be applied: re-run with `--on-conflict adopt` or `--on-conflict skip`\n",
        );
    }
    out
}
