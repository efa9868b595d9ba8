//! `segbridge status`: where a migration stands, read from the ledger alone (no network): the
//! latest export, the current plan of each target, the progress of `apply` per kind, and every
//! failure with its reason. It opens the ledger read-only, so it can watch a running `apply`.
//! Text on stdout (it is the command's data), or JSON with `--json`; exit 1 when some payload
//! failed or was left with an unknown outcome.
//!
//! Besides the states `apply` records, a pending payload whose step waits for an opt-in
//! (`--include-iam`, `--enable`) is counted as `held`, so that "still to do" and "waiting for
//! you" read apart; an `intent` with a recorded reason is a write whose outcome a finished run
//! could not learn (the next `apply` looks it up before anything else), unlike an `intent`
//! without one, which a running `apply` has in flight.

use std::collections::BTreeMap;

use anyhow::Context;
use serde_json::{Value, json};

use crate::apply::{ApplyOptions, Deferral};
use crate::cli::StatusArgs;
use crate::commands::ExitStatus;
use crate::ledger::{Ledger, RunStatus};

/// Schema version of the `--json` output (2: the `held` count, unknown outcomes listed).
const STATUS_SCHEMA_VERSION: u32 = 2;

/// The columns of the progress table: the payload states `apply` records, in the order a
/// payload goes through them, after `held` (pending, waiting for an opt-in flag).
const STATES: [&str; 5] = ["held", "pending", "intent", "done", "failed"];

pub fn run(args: &StatusArgs) -> anyhow::Result<ExitStatus> {
    if !args.ledger.exists() {
        return Err(anyhow::anyhow!(
            "there is no ledger at `{}`; run `segbridge export` first",
            args.ledger.display()
        ));
    }
    let ledger = Ledger::inspect(&args.ledger)
        .with_context(|| format!("Cannot read the ledger `{}`", args.ledger.display()))?;
    let status = collect(&ledger).context("Cannot read the ledger")?;
    let failed = status["plans"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|p| p["failures"].as_array().is_some_and(|f| !f.is_empty()));
    if args.json {
        super::print_data(format!("{status}\n").as_bytes())?;
    } else {
        super::print_data(render(&status).as_bytes())?;
    }
    Ok(if failed {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

fn status_name(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Running => "running or interrupted",
        RunStatus::Complete => "complete",
        RunStatus::Failed => "finished with failures",
    }
}

/// Everything `status` shows, as the JSON it prints with `--json`.
pub fn collect(ledger: &Ledger) -> crate::ledger::Result<Value> {
    let export = match ledger.runs()?.into_iter().rfind(|r| r.command == "export") {
        Some(run) => json!({
            "run": run.id.0,
            "source": run.source,
            "status": status_name(run.status),
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "objects": ledger.counts_seen_in(run.id)?,
        }),
        None => Value::Null,
    };
    let mut plans = Vec::new();
    for (id, target, superseded) in ledger.plans()? {
        if superseded.is_some() {
            continue;
        }
        let Some(plan) = ledger.latest_plan(&target)? else {
            continue;
        };
        debug_assert_eq!(plan.id, id);
        let items = ledger.plan_items(plan.id)?;
        let kind_of: BTreeMap<i64, (&str, &str)> = items
            .iter()
            .map(|i| (i.seq, (i.kind.as_str(), i.config_name.as_str())))
            .collect();
        let mut actions: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        for item in &items {
            *actions
                .entry(item.kind.as_str())
                .or_default()
                .entry(item.action.as_str())
                .or_default() += 1;
        }
        let payloads = ledger.plan_payloads(plan.id)?;
        let mut progress: BTreeMap<&str, BTreeMap<&str, u64>> = BTreeMap::new();
        let mut failures = Vec::new();
        for payload in &payloads {
            let (kind, name) = kind_of.get(&payload.seq).copied().unwrap_or(("?", "?"));
            let per_kind = progress.entry(kind).or_default();
            for state in STATES {
                per_kind.entry(state).or_default();
            }
            let held = payload.state == "pending"
                && Deferral::of(&payload.step, ApplyOptions::default()).is_some();
            let column = if held { "held" } else { payload.state.as_str() };
            *per_kind.entry(column).or_default() += 1;
            let unknown = payload.state == "intent" && payload.error.is_some();
            if payload.state == "failed" || unknown {
                failures.push(json!({
                    "kind": kind,
                    "config_name": name,
                    "step": payload.step,
                    "state": payload.state,
                    "attempts": payload.attempts,
                    "error": payload.error,
                }));
            }
        }
        plans.push(json!({
            "plan": plan.id,
            "target": plan.target,
            "mode": plan.mode,
            "on_conflict": plan.on_conflict,
            "complete": plan.complete,
            "actions": actions,
            "progress": progress,
            "failures": failures,
        }));
    }
    Ok(json!({
        "schema_version": STATUS_SCHEMA_VERSION,
        "export": export,
        "plans": plans,
    }))
}

/// The text form of [`collect`]'s JSON.
pub fn render(status: &Value) -> String {
    let mut out = String::new();
    match status["export"].as_object() {
        Some(export) => {
            out.push_str(&format!(
                "Export run {} of `{}`: {}\n",
                export["run"],
                export["source"].as_str().unwrap_or_default(),
                export["status"].as_str().unwrap_or_default()
            ));
            for (kind, n) in export["objects"].as_object().into_iter().flatten() {
                let n = n.as_u64().unwrap_or(0);
                out.push_str(&format!("  {kind:<28}{n:>8}\n"));
            }
        }
        None => out.push_str("No export yet: run `segbridge export`.\n"),
    }
    let plans = status["plans"].as_array().cloned().unwrap_or_default();
    if plans.is_empty() {
        out.push_str("No plan yet: run `segbridge plan`.\n");
    }
    for plan in &plans {
        out.push_str(&format!(
            "\nPlan {} for `{}` ({} mode)\n",
            plan["plan"],
            plan["target"].as_str().unwrap_or_default(),
            plan["mode"].as_str().unwrap_or_default()
        ));
        if plan["complete"] == false {
            out.push_str(
                "  still being made in stages by a `migrate` that stopped or still runs: run that \
                 `migrate` again to go on\n",
            );
        }
        out.push_str(&format!("  {:<28}", "apply progress"));
        for state in STATES {
            out.push_str(&format!("{state:>8}"));
        }
        out.push('\n');
        let mut held = 0;
        for (kind, states) in plan["progress"].as_object().into_iter().flatten() {
            out.push_str(&format!("  {kind:<28}"));
            for state in STATES {
                out.push_str(&format!("{:>8}", states[state].as_u64().unwrap_or(0)));
            }
            out.push('\n');
            held += states["held"].as_u64().unwrap_or(0);
        }
        if held > 0 {
            out.push_str(&format!(
                "  {held} held: invitations and permissions wait for `apply --include-iam`, enabling sources and destinations for `apply --enable`\n"
            ));
        }
        let failures = plan["failures"].as_array().cloned().unwrap_or_default();
        if !failures.is_empty() {
            out.push_str(&format!(
                "  {} failed or with an unknown outcome:\n",
                failures.len()
            ));
            for failure in failures {
                let unknown = failure["state"] == "intent";
                out.push_str(&format!(
                    "    {} `{}` ({}){}: {}\n",
                    failure["kind"].as_str().unwrap_or_default(),
                    failure["config_name"].as_str().unwrap_or_default(),
                    failure["step"].as_str().unwrap_or_default(),
                    if unknown {
                        ", outcome unknown: the next apply looks it up first"
                    } else {
                        ""
                    },
                    failure["error"].as_str().unwrap_or("no reason recorded")
                ));
            }
        }
    }
    out
}
