//! `segbridge demo`: the whole migration on a generated workspace, with nothing to set up.
//!
//! Starts both simulators inside this process on 127.0.0.1 (a generated workspace behind the
//! Config API, an empty workspace behind the Public API), then runs `migrate` against them with
//! the same code, progress display and reports as a real migration, including the invitations
//! and the cut-over a real one opts into. The simulators' tokens are handed to the commands in
//! memory, so none is asked for, printed or stored. Everything the run leaves (ledger, reports,
//! id map) goes into one new folder, whose paths end the output.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use serde_json::{Value, json};

use super::{ExitStatus, migrate};
use crate::cli::{
    ApplyRunArgs, ConfigApiArgs, DemoArgs, GlobalArgs, MigrateArgs, PacingArgs, PublicApiArgs,
};
use crate::diagnostics::Hint;
use crate::http::secret::{Secret, SecretSource};
use crate::ledger::Ledger;
use crate::plan::OnConflict;
use crate::report::{ReportFormat, ReportPath, idmap, write_private};
use crate::sim::generator::Counts;
use crate::sim::public::Target;
use crate::sim::{SimSettings, Simulators};

/// Schema version of the `--json` document.
const SUMMARY_SCHEMA_VERSION: u32 = 1;

/// A file the demo writes, and what a person finds in it.
struct Artefact {
    path: PathBuf,
    what: &'static str,
}

/// The folder named by `--out`, or a new one named after the time; it must be new or empty,
/// so that a demo never mixes its files with anything else.
fn output_folder(wanted: Option<&Path>) -> anyhow::Result<PathBuf> {
    let folder = match wanted {
        Some(path) => path.to_owned(),
        None => PathBuf::from(format!(
            "segbridge-demo-{}",
            chrono::Utc::now().format("%Y%m%d-%H%M%S")
        )),
    };
    if folder.exists() {
        let empty = std::fs::read_dir(&folder)
            .with_context(|| format!("Cannot read `{}`", folder.display()))?
            .next()
            .is_none();
        if !empty {
            return Err(
                anyhow::anyhow!("`{}` is not an empty folder", folder.display()).context(Hint(
                    "name a new folder with `--out DIR`; the demo writes a fresh ledger".into(),
                )),
            );
        }
    } else {
        std::fs::create_dir_all(&folder)
            .with_context(|| format!("Cannot create the folder `{}`", folder.display()))?;
    }
    Ok(folder)
}

/// The compatibility report in every format, `plan.md` … `plan.csv`.
fn report_paths(folder: &Path, stem: &str) -> Vec<ReportPath> {
    ReportFormat::ALL
        .iter()
        .map(|&format| ReportPath {
            path: folder.join(format!("{stem}.{}", format.extension())),
            format,
        })
        .collect()
}

fn token(value: &str) -> anyhow::Result<Secret> {
    Secret::new(value, SecretSource::Given("the demo's simulator token"))
        .context("The simulator made an unusable token")
}

/// `migrate` pointed at the simulators, with every opt-in a real migration ends with.
fn migrate_args(
    args: &DemoArgs,
    sims: &Simulators,
    ledger: PathBuf,
    reports: Vec<ReportPath>,
    audit_reports: Vec<ReportPath>,
) -> anyhow::Result<MigrateArgs> {
    Ok(MigrateArgs {
        config: ConfigApiArgs {
            config_url: sims.config.base_url(),
            config_token_file: None,
            config_token: None,
            given_token: Some(token(&sims.config.token)?),
            config_rate_limit: crate::config_api::DEFAULT_REQUESTS_PER_MINUTE,
        },
        api: PublicApiArgs {
            public_url: Some(sims.public.base_url()),
            region: None,
            public_token_file: None,
            public_token: None,
            given_token: Some(token(&sims.public.token)?),
            public_rate_limit: crate::public_api::DEFAULT_REQUESTS_PER_MINUTE,
        },
        pacing: PacingArgs {
            time_scale: args.time_scale,
        },
        workspace: None,
        with_metrics: false,
        mappings: None,
        on_conflict: OnConflict::Fail,
        report: reports,
        audit_report: audit_reports,
        run: ApplyRunArgs {
            ledger,
            secrets: None,
            allow_missing_secrets: false,
            concurrency: crate::apply::DEFAULT_CONCURRENCY,
            include_iam: true,
            enable: true,
            json: false,
            json_progress: args.json_progress,
        },
    })
}

/// Writes the id map of the migrated target as CSV.
fn write_idmap(ledger: &Path, target: &str, path: &Path) -> anyhow::Result<()> {
    let ledger = Ledger::inspect(ledger).context("Cannot read the demo's ledger")?;
    let rows = idmap::rows(&ledger, target).context("Cannot read the id map")?;
    write_private(path, idmap::render_csv(&rows).as_bytes())
        .with_context(|| format!("Cannot write `{}`", path.display()))
}

pub async fn run(args: &DemoArgs, global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let folder = output_folder(args.out.as_deref())?;
    let settings = SimSettings {
        seed: args.seed,
        counts: Counts::preset(args.size),
        faults: args.faults.clone(),
        time_scale: args.time_scale,
        config_port: 0,
        config_rate_limit: crate::config_api::DEFAULT_REQUESTS_PER_MINUTE,
        mask_secrets: false,
        config_token: None,
        public_port: 0,
        public_rate_limit: crate::public_api::DEFAULT_REQUESTS_PER_MINUTE,
        target: Target::Empty,
        public_token: None,
    };
    let sims = Simulators::start(settings)
        .await
        .context("Failed to start the simulators")?;
    if !global.quiet {
        writeln!(
            std::io::stderr().lock(),
            "Simulators on 127.0.0.1: the Config API serves a generated `{}` workspace (seed {}, {} resources) at {}; \
             the Public API an empty target at {}. Time runs {}x faster.",
            args.size,
            args.seed,
            sims.config.resources_total(),
            sims.config.base_url(),
            sims.public.base_url(),
            args.time_scale,
        )?;
    }

    let ledger = folder.join("demo.ledger");
    let plan_reports = report_paths(&folder, "plan");
    let audit_reports = report_paths(&folder, "audit");
    let migrate = migrate_args(
        args,
        &sims,
        ledger.clone(),
        plan_reports.clone(),
        audit_reports.clone(),
    )?;
    let outcome = migrate::execute(&migrate, global).await;
    sims.shutdown().await;
    let finished = outcome?;
    // The demo's workspace is small: its summary is read back whole.
    let summary: Value =
        serde_json::to_value(&finished.summary).context("Cannot read migrate's summary")?;

    let mut artefacts: Vec<Artefact> = plan_reports
        .iter()
        .map(|r| Artefact {
            path: r.path.clone(),
            what: "compatibility report",
        })
        .chain(audit_reports.iter().map(|r| Artefact {
            path: r.path.clone(),
            what: "audit report",
        }))
        .collect();
    let target = summary["target"].as_str().unwrap_or_default();
    if summary.get("apply").is_some() {
        let path = folder.join("idmap.csv");
        write_idmap(&ledger, target, &path)?;
        artefacts.push(Artefact {
            path,
            what: "Config name -> Public id table",
        });
    }
    artefacts.push(Artefact {
        path: ledger,
        what: "ledger (try `segbridge status --ledger` on it)",
    });
    // A report is listed only if the run got far enough to write it.
    artefacts.retain(|a| a.path.exists());

    let elapsed = started.elapsed().as_secs_f64();
    let text = if args.json {
        let document = json!({
            "schema_version": SUMMARY_SCHEMA_VERSION,
            "size": args.size.to_string(),
            "seed": args.seed,
            "folder": folder,
            "elapsed_seconds": elapsed,
            "migrate": summary,
            "files": artefacts.iter().map(|a| json!({"path": a.path, "what": a.what})).collect::<Vec<_>>(),
        });
        format!("{document}\n")
    } else {
        summary_text(args, &summary, elapsed, &artefacts)
    };
    super::print_data(text.as_bytes())?;
    Ok(finished.status)
}

fn number(value: &Value) -> u64 {
    value.as_u64().unwrap_or(0)
}

/// What happened, one line per step that ran, then the files.
fn summary_text(args: &DemoArgs, summary: &Value, elapsed: f64, files: &[Artefact]) -> String {
    let mut out = String::new();
    let audit = &summary["audit"];
    let verdict = match audit["summary"]["ok"].as_bool() {
        Some(true) => "the audit finds the copy complete and faithful",
        Some(false) => "the audit found differences (see the audit report)",
        None => "it stopped before the audit (see the messages above)",
    };
    out.push_str(&format!(
        "\nDemo of a `{}` workspace (seed {}) finished in {elapsed:.1} s: {verdict}.\n",
        args.size, args.seed
    ));
    let export = &summary["export"];
    if export.is_object() {
        out.push_str(&format!(
            "  export  {} objects read with {} Config API requests\n",
            number(&export["objects_total"]),
            number(&export["requests"])
        ));
    }
    let plan = &summary["plan"];
    if plan.is_object() {
        let actions = &plan["actions"];
        out.push_str(&format!(
            "  plan    {} to create, {} adopted, {} skipped, {} left to a person; {} write requests\n",
            number(&actions["create"]),
            number(&actions["adopt"]),
            number(&actions["skip"]),
            number(&actions["manual"]),
            number(&plan["write_requests"]),
        ));
    }
    let apply = &summary["apply"];
    if apply.is_object() {
        out.push_str(&format!(
            "  apply   {} writes, {} failed, {} reconciled after an unclear outcome\n",
            number(&apply["writes"]),
            number(&apply["failed"]),
            number(&apply["reconciled"]),
        ));
    }
    if audit.is_object() {
        let by_status = &audit["summary"]["by_status"];
        out.push_str(&format!(
            "  audit   {} resources: {} match, {} differ, {} missing, {} unexpected, {} not comparable\n",
            number(&audit["summary"]["total"]),
            number(&by_status["match"]),
            number(&by_status["differ"]),
            number(&by_status["missing-in-target"]),
            number(&by_status["unexpected-in-target"]),
            number(&by_status["not-comparable"]),
        ));
    }
    out.push_str("Files:\n");
    for file in files {
        out.push_str(&format!("  {}  {}\n", file.path.display(), file.what));
    }
    out
}
