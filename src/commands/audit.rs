//! `segbridge audit`: build both read-only clients, run [`crate::audit::audit`] against the
//! ledger's export, plan and id map, print the result (text on stderr, the [`AuditReport`] as
//! JSON on stdout with `--json`), write the `--report` files, and exit 1 when anything differs,
//! is missing or unexpected. The report files are written whatever the verdict (a failed audit
//! is the one worth sharing); a file that cannot be written stops the command with exit 2.
//!
//! Nothing here can write to either API: the Config client has no write method and no
//! `PublicWriter` is constructed. The ledger gains an `audit` run and one event with the counts
//! (no values), so `status` and later audits can see when the last one ran.

use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use serde_json::{Value, json};

use super::export::{config_client, config_token};
use super::plan::{check_report_folders, public_client, public_token};
use crate::audit::{self, AUDITED, AuditOptions, AuditReport, Sides, Status};
use crate::cli::{AuditArgs, GlobalArgs};
use crate::commands::reporters::{self, CliReporter};
use crate::commands::{ExitStatus, Finished};
use crate::diagnostics::Hint;
use crate::ledger::{Ledger, RunStatus};
use crate::mapping::Tables;
use crate::model::Kind;
use crate::report::write_audit_reports;
use crate::secrets::SecretHasher;

/// The kinds `--only` selects, checked against what the audit can compare.
fn kinds(only: &[Kind]) -> anyhow::Result<BTreeSet<Kind>> {
    if only.is_empty() {
        return Ok(AUDITED.into_iter().collect());
    }
    match only.iter().find(|k| !AUDITED.contains(k)) {
        Some(kind) => Err(
            anyhow::anyhow!("`--only {kind}`: the audit does not compare {kind}").context(Hint(
                format!(
                    "the audited kinds are: {}",
                    AUDITED.map(Kind::as_str).join(", ")
                ),
            )),
        ),
        None => Ok(only.iter().copied().collect()),
    }
}

/// Reads the source side of the audit `args` asks for, ahead of it: `migrate` does while
/// `apply` writes, and hands it to [`execute_with_source`]. Quiet: its progress would mix
/// with `apply`'s; an error here is met again, and reported, by the audit's own read.
pub async fn read_source_ahead(args: &AuditArgs) -> anyhow::Result<audit::SourceAhead> {
    let config_secret = config_token(&args.config)?;
    let hasher = SecretHasher::from_token(config_secret.dangerously_expose());
    let hidden: Arc<dyn CliReporter> = Arc::new(crate::progress::HiddenReporter);
    let config = config_client(&args.config, args.pacing, config_secret, hidden.clone())?;
    let ledger = Ledger::inspect(&args.ledger)
        .with_context(|| format!("Cannot read the ledger `{}`", args.ledger.display()))?;
    let options = AuditOptions {
        config_url: args.config.config_url.clone(),
        kinds: kinds(&args.only)?,
        with_metrics: args.with_metrics,
    };
    Ok(audit::read_source_ahead(&ledger, &config, &hasher, &options, &*hidden).await?)
}

/// Runs the audit and writes its report to every `--report` file (format from each
/// extension); the report is also returned as the `--json` summary, not printed.
pub async fn execute(args: &AuditArgs, global: &GlobalArgs) -> anyhow::Result<Finished> {
    execute_with_source(args, global, std::future::ready(None)).await
}

/// [`execute`], with the source side read by [`read_source_ahead`], begun earlier and perhaps
/// still going: `ahead` ends with it, or with `None` when there is none (the audit reads it).
pub async fn execute_with_source(
    args: &AuditArgs,
    global: &GlobalArgs,
    ahead: impl Future<Output = Option<audit::SourceAhead>>,
) -> anyhow::Result<Finished> {
    let kinds = kinds(&args.only)?;
    check_report_folders("--report", &args.report)?;
    let config_secret = config_token(&args.config)?;
    let public_secret = public_token(&args.api)?;
    if !args.ledger.exists() {
        return Err(anyhow::anyhow!(
            "there is no ledger at `{}`",
            args.ledger.display()
        )
        .context(Hint(
            "run `segbridge export`, `plan` and `apply` first; the audit compares what they did"
                .into(),
        )));
    }
    let tables = match &args.mappings {
        Some(dir) => Tables::load(dir)
            .with_context(|| format!("Cannot load the mapping tables of `{}`", dir.display()))?,
        None => Tables::embedded().clone(),
    };
    let hasher = SecretHasher::from_token(config_secret.dangerously_expose());
    let reporter: Arc<dyn CliReporter> =
        Arc::from(reporters::for_command(args.json_progress, global));
    let config = config_client(&args.config, args.pacing, config_secret, reporter.clone())?;
    let public = public_client(&args.api, args.pacing, public_secret, reporter.clone())?;
    let mut ledger = Ledger::open(&args.ledger)
        .with_context(|| format!("Cannot open the ledger `{}`", args.ledger.display()))?;

    let workspace = public
        .get_workspace()
        .await
        .context("Cannot read the target workspace")?;
    let target = audit::target_key(&public, &workspace);
    let run = ledger.begin_run("audit", &target)?;
    let options = AuditOptions {
        config_url: args.config.config_url.clone(),
        kinds,
        with_metrics: args.with_metrics,
    };
    let sides = Sides {
        config: &config,
        hasher: &hasher,
        public: &public,
        workspace: &workspace,
    };
    let outcome =
        audit::audit_with_source(&ledger, sides, &tables, &options, &*reporter, ahead).await;
    reporter.finish();
    let report = match outcome {
        Ok(report) => report,
        Err(error) => {
            // Best effort: the audit's own error is the one to report.
            let _ = ledger.finish_run(run, RunStatus::Failed);
            let hint = match &error {
                audit::AuditError::NoExport => Some("run `segbridge export` first"),
                audit::AuditError::NoPlan(_) => Some(
                    "run `segbridge plan` and `apply` with the same --public-url/--region and token first",
                ),
                audit::AuditError::OtherSource { .. } => {
                    Some("pass the `--config-url` the export used")
                }
                _ => None,
            };
            let error = anyhow::Error::new(error).context("The audit could not run");
            return Err(match hint {
                Some(hint) => error.context(Hint(hint.into())),
                None => error,
            });
        }
    };
    ledger.record_event(Some(run), "audit_finished", &event(&report))?;
    ledger.finish_run(
        run,
        if report.ok() {
            RunStatus::Complete
        } else {
            RunStatus::Failed
        },
    )?;

    if !global.quiet {
        std::io::stderr()
            .lock()
            .write_all(render_text(&report).as_bytes())?;
    }
    let written =
        write_audit_reports(&report, &args.report).context("Cannot write the audit report")?;
    if !global.quiet {
        let mut err = std::io::stderr().lock();
        for path in &written {
            writeln!(err, "Report written to `{}`", path.display())?;
        }
    }
    let status = if report.ok() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    // Serialized only if printed, as it is written: the report lists every resource.
    Ok(Finished::new(status, report))
}

/// What the ledger keeps of an audit: counts, never values.
fn event(report: &AuditReport) -> Value {
    json!({
        "plan": report.plan,
        "kinds": report.kinds,
        "by_status": report.summary.by_status,
        "delivers_nothing": report.summary.delivers_nothing,
        "ok": report.summary.ok,
    })
}

/// A value as one short line: long values (a JSON Schema) are cut, the JSON report has them.
fn short(value: Option<&Value>) -> String {
    const MAX: usize = 72;
    let text = match value {
        None => "(absent)".to_owned(),
        Some(v) => v.to_string(),
    };
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        text
    }
}

/// `1 field`, `2 fields`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The text summary: counts per kind and status, then every problem with its fields.
pub fn render_text(report: &AuditReport) -> String {
    let summary = &report.summary;
    let n = |s: Status| summary.by_status.get(&s).copied().unwrap_or(0);
    let mut out = format!(
        "Audited workspace `{}` against `{}` (plan {}): {}: {} match, {} differ, {} \
         missing in target, {} unexpected in target, {} not comparable\n",
        report.workspace,
        report.target,
        report.plan,
        count(summary.total, "resource"),
        n(Status::Match),
        n(Status::Differ),
        n(Status::MissingInTarget),
        n(Status::UnexpectedInTarget),
        n(Status::NotComparable),
    );
    out.push_str(&format!(
        "  {:<28}{:>8}{:>8}{:>9}{:>12}{:>16}\n",
        "kind", "match", "differ", "missing", "unexpected", "not comparable"
    ));
    for (kind, counts) in &summary.by_kind {
        let c = |s: Status| counts.get(&s).copied().unwrap_or(0);
        out.push_str(&format!(
            "  {:<28}{:>8}{:>8}{:>9}{:>12}{:>16}\n",
            kind.as_str(),
            c(Status::Match),
            c(Status::Differ),
            c(Status::MissingInTarget),
            c(Status::UnexpectedInTarget),
            c(Status::NotComparable),
        ));
    }
    for result in report.problems() {
        // An object only the target holds is labelled by its id already.
        let id = match (&result.config_name, &result.public_id) {
            (Some(_), Some(id)) => format!(" ({id})"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{} {} `{}`{id}\n",
            result.status.as_str(),
            result.kind,
            result.label()
        ));
        for diff in &result.differences {
            out.push_str(&format!(
                "    {}: expected {}, actual {}\n",
                diff.path,
                short(diff.expected.as_ref()),
                short(diff.actual.as_ref())
            ));
        }
        for note in &result.notes {
            out.push_str(&format!("    {note}\n"));
        }
    }
    if summary.not_comparable_fields > 0 {
        out.push_str(&format!(
            "{} not compared (secret settings: present/absent only); --json lists them\n",
            count(summary.not_comparable_fields, "field")
        ));
    }
    if let Some(delivery) = &report.delivery {
        out.push_str(&format!(
            "Delivery after cut-over: {}, {} nothing\n",
            count(delivery.len(), "destination"),
            match summary.delivers_nothing.unwrap_or(0) {
                1 => "1 delivers".to_owned(),
                n => format!("{n} deliver"),
            }
        ));
        for d in delivery.iter().filter(|d| d.status.is_problem()) {
            out.push_str(&format!(
                "{} delivery of `{}` ({}): {}\n",
                d.status.as_str(),
                d.config_name,
                d.public_id,
                d.notes.join(" ")
            ));
        }
    }
    out.push_str(if report.ok() {
        "The target matches the source\n"
    } else {
        "The target does not match the source\n"
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{FieldDiff, ResourceResult};

    #[test]
    fn only_audited_kinds_are_accepted() {
        assert_eq!(kinds(&[]).unwrap().len(), AUDITED.len());
        assert!(kinds(&[Kind::Users]).is_err());
        assert_eq!(kinds(&[Kind::Functions]).unwrap().len(), 1);
    }

    #[test]
    fn the_text_lists_counts_then_each_problem() {
        let mut differ = ResourceResult::new(
            Kind::Destinations,
            Some("workspaces/ws/sources/js/destinations/ga".into()),
            Some("d1".into()),
        )
        .with_status(Status::Differ);
        differ.differences.push(FieldDiff {
            path: "settings.trackingId".into(),
            expected: Some(json!("UA-1")),
            actual: Some(json!("x".repeat(100))),
        });
        let report = AuditReport::new(
            "ws".into(),
            "http://127.0.0.1|w".into(),
            2,
            vec![Kind::Destinations],
            vec![differ],
            None,
        );
        let text = render_text(&report);
        assert!(text.contains("1 differ"), "{text}");
        assert!(
            text.contains("differ destinations `workspaces/ws/sources/js/destinations/ga` (d1)"),
            "{text}"
        );
        assert!(
            text.contains("settings.trackingId: expected \"UA-1\", actual \"xxx"),
            "{text}"
        );
        assert!(text.contains('…'));
        assert!(text.ends_with("does not match the source\n"));
    }

    /// The text a person reads, fixed: one result of each status and a flagged destination.
    #[test]
    fn the_text_output_is_stable() {
        let report = crate::audit::report::fixtures::one_of_each();
        insta::assert_snapshot!(render_text(&report));
    }
}
