//! `segbridge apply`: find the target's latest plan in the ledger, then either say what would
//! be written (`--dry-run`) or execute it with [`crate::apply::apply`], and print the summary
//! (text on stderr, JSON on stdout with `--json`). Exit 1 when some payloads failed.
//!
//! The writer is constructed here and only for a live run: `--dry-run` never asks for a
//! `WriteAccess`, so no code path of it can reach a write method.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use serde_json::{Value, json};

use super::export::{config_client, config_token};
use super::plan::{
    check_report_folders, public_client, public_token, require_ledger, write_reports,
};
use crate::apply::{
    self, ApplyOptions, ApplyReport, ConfigSecrets, Deferral, DryRunReport, KnownIds, Outcome,
    Scope, SecretSources, SecretsFile,
};
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::commands::reporters::{self, CliReporter};
use crate::commands::{ExitStatus, Finished};
use crate::config_api::DEFAULT_BASE_URL;
use crate::diagnostics::Hint;
use crate::env_vars;
use crate::ledger::{Ledger, RunId, RunStatus, StoredPlan};
use crate::public_api::writer::ApplyMode;
use crate::public_api::{PublicClient, PublicWriter, WriteAccess};
use crate::secrets::HeldSecrets;

/// Schema version of the `--json` summary.
const SUMMARY_SCHEMA_VERSION: u32 = 1;

/// The Config API host the plan's export read.
fn exported_from(ledger: &Ledger, plan: &StoredPlan) -> anyhow::Result<Option<String>> {
    Ok(ledger.exported_from(plan)?.map(|(url, _)| url))
}

/// The Config API's reader of secrets, when a Config token is at hand; `None` (secrets from
/// the file only) when there is none. A token given but unusable is an error: the operator
/// meant it to be used. The host is the one the export read unless `--config-url` names it;
/// another host would hold another workspace's values.
fn config_secrets(
    args: &ApplyArgs,
    exported: Option<String>,
    reporter: Arc<dyn crate::progress::Reporter>,
) -> anyhow::Result<Option<ConfigSecrets>> {
    let given = args.config.given_token.is_some()
        || args.config.config_token_file.is_some()
        || args.config.config_token.is_some()
        || std::env::var_os(env_vars::SEGMENT_CONFIG_API_TOKEN).is_some();
    if !given {
        return Ok(None);
    }
    let mut config = args.config.clone();
    let named = config.config_url.trim_end_matches('/') != DEFAULT_BASE_URL;
    match exported {
        Some(exported) if named && exported != config.config_url.trim_end_matches('/') => {
            return Err(anyhow::anyhow!(
                "The plan was made from an export of `{exported}`, not of `{}`",
                config.config_url
            )
            .context(Hint(
                "secrets are read again from the exported workspace: drop --config-url or pass the export's"
                    .into(),
            )));
        }
        Some(exported) => config.config_url = exported,
        None => {}
    }
    let token = config_token(&config)?;
    let client = config_client(&config, args.pacing, token, reporter)?;
    Ok(Some(ConfigSecrets::new(client)))
}

/// What a live or dry run needs before it reads a plan: the operator's secrets, the Public API
/// client, the ledger and the target's key in it. `migrate`, which sends its plan in stages,
/// keeps one for all of them.
pub struct Session {
    ledger: Ledger,
    target: String,
    secrets: SecretsFile,
    client: Option<PublicClient>,
    writer: Option<PublicWriter>,
    config: Option<ConfigSecrets>,
    /// Secret values the export of this process read, taken before reading again.
    held_secrets: Option<HeldSecrets>,
    /// The ids one [`Session::send`] ends with, for the next.
    known: KnownIds,
    reporter: Arc<dyn CliReporter>,
    run: Option<RunId>,
}

impl Session {
    /// Checks the command line, loads the secrets file and reads which workspace the token
    /// belongs to. Progress goes to `shown` when given (a reporter `migrate` shares with the
    /// export), else to a reporter of its own.
    pub async fn open(
        args: &ApplyArgs,
        global: &GlobalArgs,
        shown: Option<Arc<dyn CliReporter>>,
    ) -> anyhow::Result<Session> {
        let run_args = &args.run;
        // A token given the wrong way is said first: it is a mistake on the command line itself.
        let token = public_token(&args.api)?;
        require_ledger(&run_args.ledger)?;
        check_report_folders("--report", &args.report)?;
        let secrets = match &run_args.secrets {
            Some(path) => SecretsFile::load(path)?,
            None => SecretsFile::empty(),
        };
        let reporter = reporters::shared_or_own(shown, run_args.json_progress, global);
        let client = public_client(&args.api, args.pacing, token, reporter.clone())?;
        let ledger = Ledger::open(&run_args.ledger)
            .with_context(|| format!("Cannot open the ledger `{}`", run_args.ledger.display()))?;
        // The plan is stored under `<public url>|<workspace id>`, as `plan` named the target.
        let workspace = client
            .get_workspace()
            .await
            .context("Cannot read the target workspace")?;
        let target = format!(
            "{}|{}",
            client.base_url().as_str().trim_end_matches('/'),
            workspace.id
        );
        Ok(Session {
            ledger,
            target,
            secrets,
            client: Some(client),
            writer: None,
            config: None,
            held_secrets: None,
            known: KnownIds::default(),
            reporter,
            run: None,
        })
    }

    /// Takes the secret values `held` holds (read by the export of this process, `migrate`)
    /// instead of reading those objects again from the Config API.
    pub fn with_held_secrets(self, held: HeldSecrets) -> Self {
        Self {
            held_secrets: Some(held),
            ..self
        }
    }

    /// Checks the secrets file against the secrets `plan` asks for: an entry none asks for is
    /// a misspelt name or setting.
    pub fn check_secrets(&self, plan: &StoredPlan) -> anyhow::Result<()> {
        self.secrets
            .check_against(&apply::plan_secrets(&self.ledger, plan)?)?;
        Ok(())
    }

    /// Sets up the reading of secrets again from the Config API, when a token is at hand.
    fn read_secrets_from_config(
        &mut self,
        args: &ApplyArgs,
        plan: &StoredPlan,
    ) -> anyhow::Result<()> {
        if self.config.is_none() {
            self.config = config_secrets(
                args,
                exported_from(&self.ledger, plan)?,
                self.reporter.clone(),
            )?
            .map(|config| match &self.held_secrets {
                Some(held) => config.with_held(held.clone()),
                None => config,
            });
        }
        Ok(())
    }

    /// Sends the payloads of `scope` of `plan`, in a ledger run of `apply` begun at the first
    /// call and ended by [`Session::finish`].
    pub async fn send(
        &mut self,
        args: &ApplyArgs,
        plan: &StoredPlan,
        scope: Scope,
    ) -> anyhow::Result<ApplyReport> {
        self.read_secrets_from_config(args, plan)?;
        if self.writer.is_none() {
            let access = WriteAccess::grant(ApplyMode::Live).expect("a live run is granted writes");
            let client = self.client.take().expect("the client is still unused");
            self.writer = Some(PublicWriter::new(client, access));
        }
        let run = match self.run {
            Some(run) => run,
            None => *self
                .run
                .insert(self.ledger.begin_run("apply", &self.target)?),
        };
        let sources = SecretSources {
            file: &self.secrets,
            config: self.config.as_ref(),
        };
        let options = ApplyOptions {
            scope,
            ..options_of(args)
        };
        let writer = self.writer.as_ref().expect("set above");
        let outcome = apply::apply(
            &mut self.ledger,
            plan,
            writer,
            sources,
            options,
            &mut self.known,
            &*self.reporter,
        )
        .await;
        match outcome {
            Ok(report) => Ok(report),
            Err(e) => {
                self.reporter.finish();
                // Best effort: the ledger is what failed.
                let _ = self.ledger.finish_run(run, RunStatus::Failed);
                Err(e.into())
            }
        }
    }

    /// Ends the progress display and the ledger run with what `report` says, prints the
    /// summary and returns it.
    pub fn finish(mut self, report: &ApplyReport, global: &GlobalArgs) -> anyhow::Result<Finished> {
        self.reporter.finish();
        let failed = report.failed() > 0 || report.skipped() > 0;
        if let Some(run) = self.run.take() {
            self.ledger.finish_run(
                run,
                if failed {
                    RunStatus::Failed
                } else {
                    RunStatus::Complete
                },
            )?;
        }
        let requests = self
            .writer
            .as_ref()
            .map_or(0, |w| w.client().metrics().snapshot().requests_sent);
        if !global.quiet {
            std::io::stderr()
                .lock()
                .write_all(summary_text(report, &self.target).as_bytes())?;
        }
        let status = if failed {
            ExitStatus::Failure
        } else {
            ExitStatus::Success
        };
        Ok(Finished::new(
            status,
            summary_json(report, &self.target, requests),
        ))
    }
}

fn options_of(args: &ApplyArgs) -> ApplyOptions {
    ApplyOptions {
        allow_missing_secrets: args.run.allow_missing_secrets,
        concurrency: args.run.concurrency,
        include_iam: args.run.include_iam,
        cut_over: args.run.enable,
        scope: Scope::WHOLE,
    }
}

/// Runs `apply` (or its dry run); the `--json` summary is returned, not printed.
pub async fn execute(args: &ApplyArgs, global: &GlobalArgs) -> anyhow::Result<Finished> {
    let mut session = Session::open(args, global, None).await?;
    let target = session.target.clone();
    let Some(plan) = session.ledger.latest_plan(&target)? else {
        return Err(
            anyhow::anyhow!("The ledger holds no plan for the target `{target}`").context(Hint(
                "run `segbridge plan` with the same --public-url/--region and token first".into(),
            )),
        );
    };
    if plan.mode != "create" {
        return Err(anyhow::anyhow!(
            "The latest plan of `{target}` is an `{}` plan, which writes nothing",
            plan.mode
        )
        .context(Hint(
            "`plan --mode adopt` resolves ids only; re-plan with `--mode create` to copy".into(),
        )));
    }
    if !plan.complete {
        return Err(anyhow::anyhow!(
            "Plan {} of `{target}` is not complete: a `migrate` that was making it in stages stopped",
            plan.id
        )
        .context(Hint(
            "run the same `segbridge migrate` again: it goes on where it stopped".into(),
        )));
    }

    // `--on-conflict fail` promises that nothing is applied while the target holds objects
    // the plan would otherwise create.
    let conflicts = session
        .ledger
        .plan_items(plan.id)?
        .iter()
        .filter(|i| i.conflict && i.action == "manual")
        .count();
    if conflicts > 0 && plan.on_conflict == "fail" {
        return Err(anyhow::anyhow!(
            "The plan of `{target}` has {conflicts} conflicts with objects the target already holds"
        )
        .context(Hint(
            "re-plan with `--on-conflict adopt` or `--on-conflict skip`; nothing was written"
                .into(),
        )));
    }

    session.check_secrets(&plan)?;
    session.read_secrets_from_config(args, &plan)?;
    if args.dry_run {
        let options = options_of(args);
        let report = apply::dry_run(
            &session.ledger,
            &plan,
            &session.secrets,
            session.config.is_some(),
            options,
        )?;
        session.reporter.finish();
        if !global.quiet {
            std::io::stderr()
                .lock()
                .write_all(dry_run_text(&report, &target).as_bytes())?;
        }
        std::io::stderr().write_all(
            write_reports(&session.ledger, &target, &args.api, &args.report, global)?.as_bytes(),
        )?;
        return Ok(Finished::new(
            ExitStatus::Success,
            dry_run_json(&report, &target),
        ));
    }

    let report = session.send(args, &plan, Scope::WHOLE).await?;
    session.finish(&report, global)
}

fn problems(report: &ApplyReport) -> Vec<Value> {
    report
        .notable
        .iter()
        .filter_map(|p| {
            let (state, reason, manual) = match &p.outcome {
                Outcome::Failed { reason, manual } => ("failed", reason, *manual),
                Outcome::Skipped { because } => ("skipped", because, false),
                _ => return None,
            };
            Some(json!({
                "kind": p.kind, "config_name": p.config_name, "step": p.step,
                "state": state, "manual": manual, "reason": reason,
            }))
        })
        .collect()
}

/// The `--json` summary of a live run.
fn summary_json(report: &ApplyReport, target: &str, requests: u64) -> Value {
    json!({
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "plan": report.plan,
        "target": target,
        "dry_run": false,
        "writes": report.written(),
        "writes_per_kind": report.writes_per_kind(),
        "reconciled": report.reconciled(),
        "already_done": report.already_done(),
        "failed": report.failed(),
        "skipped": report.skipped(),
        "deferred": {
            "iam": report.deferred(Deferral::Iam),
            "cut_over": report.deferred(Deferral::CutOver),
        },
        "omitted_secrets": report.notable.iter().flat_map(|p| p.omitted_secrets.iter()).collect::<Vec<_>>(),
        "problems": problems(report),
        "requests": requests,
    })
}

fn table(out: &mut String, per_kind: &BTreeMap<String, BTreeMap<String, usize>>) {
    for (kind, steps) in per_kind {
        for (step, n) in steps {
            out.push_str(&format!("  {kind:<28}{step:<32}{n:>6}\n"));
        }
    }
}

/// One line per opt-in that holds payloads back.
fn deferred_lines(out: &mut String, waiting: impl Fn(Deferral) -> usize) {
    for why in Deferral::ALL {
        let what = match why {
            Deferral::Iam => "IAM requests (invitations email people)",
            Deferral::CutOver => "cut-over requests (enabling sources and destinations)",
        };
        let n = waiting(why);
        if n > 0 {
            out.push_str(&format!("{n} {what} wait for `apply {}`\n", why.flag()));
        }
    }
}

fn summary_text(report: &ApplyReport, target: &str) -> String {
    let mut out = format!(
        "Applied plan {} to `{target}`: {} writes, {} reconciled, {} already done, {} failed, {} skipped\n",
        report.plan,
        report.written(),
        report.reconciled(),
        report.already_done(),
        report.failed(),
        report.skipped(),
    );
    table(&mut out, report.writes_per_kind());
    deferred_lines(&mut out, |why| report.deferred(why));
    for p in &report.notable {
        for omitted in &p.omitted_secrets {
            out.push_str(&format!("  created without secret {omitted}\n"));
        }
    }
    for p in problems(report) {
        out.push_str(&format!(
            "  {} {} `{}` ({}): {}\n",
            p["state"].as_str().unwrap_or_default(),
            p["kind"].as_str().unwrap_or_default(),
            p["config_name"].as_str().unwrap_or_default(),
            p["step"].as_str().unwrap_or_default(),
            p["reason"].as_str().unwrap_or_default(),
        ));
    }
    if report.failed() > 0 {
        out.push_str("Fix the failures above and run apply again: what is done is not repeated\n");
    }
    out
}

fn dry_run_json(report: &DryRunReport, target: &str) -> Value {
    json!({
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "plan": report.plan,
        "target": target,
        "dry_run": true,
        "would_write": report.writes(),
        "writes_per_kind": report.would_write,
        "already_done": report.already_done,
        "deferred": {
            "iam": report.deferred.get(&Deferral::Iam).copied().unwrap_or(0),
            "cut_over": report.deferred.get(&Deferral::CutOver).copied().unwrap_or(0),
        },
        "missing_secrets": report.missing_secrets.iter().map(|(n, s)| json!({"config_name": n, "setting": s})).collect::<Vec<_>>(),
    })
}

fn dry_run_text(report: &DryRunReport, target: &str) -> String {
    let mut out = format!(
        "Dry run of plan {} against `{target}`: would send {} writes ({} already done); nothing was written\n",
        report.plan,
        report.writes(),
        report.already_done
    );
    table(&mut out, &report.would_write);
    deferred_lines(&mut out, |why| {
        report.deferred.get(&why).copied().unwrap_or(0)
    });
    if !report.missing_secrets.is_empty() {
        out.push_str(&format!(
            "{} secret settings are not in the secrets file (their destinations fail as manual unless --allow-missing-secrets):\n",
            report.missing_secrets.len()
        ));
        for (name, setting) in &report.missing_secrets {
            out.push_str(&format!("  {setting} of `{name}`\n"));
        }
    }
    out
}
