//! The command line: clap definitions only. What the user typed is resolved into settings by
//! each command; nothing here has side effects.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::Kind;

use crate::sim::clock::TimeScale;
use crate::sim::faults::FaultSpec;
use crate::sim::generator::Preset;
use crate::sim::public::Target;

/// Migrate a Segment workspace from the legacy Config API (v1beta) to the Public API.
#[derive(Debug, Parser)]
#[command(name = "segbridge", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print less: errors and the final result only.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print every retry and every 429 on stderr as it happens, besides the progress.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to use colour on stderr.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Try segbridge on a generated workspace: no token, no network, no set-up.
    ///
    /// Starts simulators of the Config API and of the Public API inside this process, on
    /// 127.0.0.1, with a generated workspace and an empty target, and runs `migrate` against
    /// them: export, plan, apply (invitations and the cut-over included) and audit, with the
    /// same progress display as a real migration. Writes the ledger, the compatibility report
    /// and the audit report in every format, and the id map, into a new folder, then prints a
    /// summary and the paths. Exits 0 when the audit finds the copy complete and faithful.
    ///
    /// Example:
    ///   segbridge demo
    ///   segbridge demo --size medium --faults '5xx=0.05,ghost=0.05' --out demo-medium
    #[command(verbatim_doc_comment)]
    Demo(DemoArgs),
    /// Show where a migration stands, from the ledger alone.
    ///
    /// The latest export and its object counts, the current plan of each target, the progress
    /// of `apply` per kind (pending, intent, done, failed) and every failure with its reason.
    /// Reads the ledger read-only, so it can watch a running `apply`. Exits 1 when some payload
    /// failed.
    ///
    /// Example:
    ///   segbridge status --ledger acme.ledger --json
    #[command(verbatim_doc_comment)]
    Status(StatusArgs),
    /// Read every resource of a workspace through the Config API into the ledger.
    ///
    /// Walks the eleven Config API services (workspaces, access tokens, both catalogs, sources
    /// with their schema config, destinations, destination filters, tracking plans with their
    /// source connections, IAM, functions, and with `--with-metrics` the event delivery
    /// metrics) and stores every object, secrets replaced by markers, in the ledger. An
    /// interrupted export resumes where it stopped; re-running a finished one refreshes the
    /// snapshot and reports what changed. The Config API is only ever read.
    ///
    /// Example:
    ///   export SEGMENT_CONFIG_API_TOKEN=...   # or --config-token-file FILE
    ///   segbridge export --workspace acme --ledger acme.ledger
    #[command(verbatim_doc_comment)]
    Export(ExportArgs),
    /// Decide what `apply` will do in the target workspace; write nothing to it.
    ///
    /// Reads the target through the Public API (catalog, sources, destinations, filters,
    /// tracking plans, functions, labels, users, roles), maps every object of the ledger's
    /// latest complete export, and stores the plan in the ledger: per object the action
    /// (create, adopt, update, skip, manual), the requests with placeholders for ids and
    /// secrets, and the findings. `--mode adopt` resolves every Config name to the Public id of
    /// the same workspace instead. Exits 1 when conflicts stop the plan (`--on-conflict fail`).
    ///
    /// Example:
    ///   export SEGMENT_PUBLIC_API_TOKEN=...   # or --public-token-file FILE
    ///   segbridge plan --ledger acme.ledger --region eu --on-conflict adopt \
    ///     --report plan.html --report plan.json
    #[command(verbatim_doc_comment)]
    Plan(PlanArgs),
    /// Run the API simulators on 127.0.0.1 until interrupted.
    ///
    /// Serves a generated workspace through local simulators of the Config API (v1beta) and of
    /// the Public API, to rehearse a migration or to try segbridge, the official SDKs and other
    /// clients without a real workspace. The Public simulator starts empty (a migration target),
    /// as a mirror of the same workspace, or as a partial copy of it (`--target`). Prints the
    /// base URLs and the tokens to use on stdout.
    ///
    /// Example:
    ///   segbridge sim --size medium --seed 7 --target mirror --faults '5xx=0.05,reset=0.01'
    #[command(verbatim_doc_comment)]
    Sim(SimArgs),
    /// Execute the stored plan in the target workspace.
    ///
    /// Sends the requests of the latest `plan` of the target, in dependency order, recording
    /// each in the ledger before and after the write. Interrupted runs resume: a write whose
    /// outcome is unknown is looked up in the target by its natural key before any retry, so
    /// nothing is created twice. Exit 1 when some payloads failed.
    ///
    /// Example:
    ///   segbridge apply --ledger acme.ledger --region eu --dry-run --report plan.html
    ///   segbridge apply --ledger acme.ledger --region eu --secrets secrets.toml
    #[command(verbatim_doc_comment)]
    Apply(ApplyArgs),
    /// Export, plan, apply and audit in one command, resumably.
    ///
    /// Reads the source workspace through the Config API into the ledger, plans the copy into
    /// the target workspace (create mode), applies it and audits the result, stopping after a
    /// step that did not finish cleanly. Run it again after an interruption or a fix: a plan
    /// already made from the latest export is resumed where `apply` stopped, and what was
    /// written is not written again. Exit 1 when a step finished with failures.
    ///
    /// Example:
    ///   export SEGMENT_CONFIG_API_TOKEN=... SEGMENT_PUBLIC_API_TOKEN=...
    ///   segbridge migrate --workspace acme --region eu --ledger acme.ledger --secrets secrets.toml
    #[command(verbatim_doc_comment)]
    Migrate(MigrateArgs),
    /// Compare the target with the source, resource by resource; write nothing.
    ///
    /// Re-reads the source through the Config API and the target through the Public API, and
    /// compares each migrated object (sources, schema settings, destinations, filters, tracking
    /// plans with their rules and sources, functions) with what the mapping says it should be,
    /// using the Config name → Public id pairs the ledger recorded. Each resource is `match`,
    /// `differ` (with the fields), `missing-in-target`, `unexpected-in-target` or
    /// `not-comparable`; secret values are never compared or shown. `--with-metrics` (after
    /// cut-over) also checks that every migrated destination delivers. Exits 1 on any
    /// difference.
    ///
    /// Example:
    ///   export SEGMENT_CONFIG_API_TOKEN=... SEGMENT_PUBLIC_API_TOKEN=...
    ///   segbridge audit --ledger acme.ledger --region eu --report audit.html
    ///   segbridge audit --ledger acme.ledger --region eu --json > audit.json
    #[command(verbatim_doc_comment)]
    Audit(AuditArgs),
    /// Print the Config name → Public id table of a target, from the ledger alone.
    ///
    /// One row per pair the plan matched or `apply` created: kind, Config name, the Config
    /// API's own id where it has one, which Public id (`id` or `catalog_id`), the Public id,
    /// and what matched them. For moving scripts from Config API names to Public API ids
    /// (`plan --mode adopt` fills it without writing anything). Reads the ledger read-only.
    ///
    /// Example:
    ///   segbridge plan --ledger acme.ledger --mode adopt
    ///   segbridge idmap --ledger acme.ledger --format json --output ids.json
    #[command(verbatim_doc_comment)]
    Idmap(IdmapArgs),
}

/// `segbridge demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Size of the generated workspace: tiny, small, medium or large (at least 10,000
    /// resources).
    #[arg(long, value_name = "PRESET", default_value = "small")]
    pub size: Preset,
    /// Seed of the generated workspace; the same seed gives the same workspace.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// The folder to write the ledger and the reports into, created; by default a new
    /// `segbridge-demo-<date>-<time>` folder in the current directory.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Faults the simulators inject, as for `segbridge sim` (e.g.
    /// `5xx=0.05,ghost=0.05,storm=30s/120s`), to watch retries and reconciliation at work.
    #[arg(long, value_name = "SPEC", default_value = "none")]
    pub faults: FaultSpec,
    /// How many times faster than real time the simulated rate limits and latency run; `1`
    /// takes as long as the same migration would under the real APIs' limits.
    #[arg(long, value_name = "X", default_value = "10")]
    pub time_scale: TimeScale,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Report progress as JSON lines on stderr.
    #[arg(long)]
    pub json_progress: bool,
}

/// `segbridge audit`: what to compare, and where to write the report.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub api: PublicApiArgs,
    #[command(flatten)]
    pub config: ConfigApiArgs,
    #[command(flatten)]
    pub pacing: PacingArgs,
    /// The ledger holding the export, the plan and the id map.
    #[arg(long, value_name = "FILE", default_value = "segbridge.ledger")]
    pub ledger: PathBuf,
    /// Replace the embedded mapping tables with the `.toml` files of DIR (as given to `plan`).
    #[arg(long, value_name = "DIR")]
    pub mappings: Option<PathBuf>,
    /// Audit only these kinds (comma-separated), e.g. `destinations,destination_filters`.
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub only: Vec<Kind>,
    /// After cut-over: compare each migrated destination's delivery with the export's baseline
    /// (`export --with-metrics`) and require `enabled` to equal the source's.
    #[arg(long)]
    pub with_metrics: bool,
    /// Print the audit as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Report progress as JSON lines on stderr.
    #[arg(long)]
    pub json_progress: bool,
    /// Also write the audit report to FILE, in the format its extension names (`.md`, `.html`,
    /// `.json`, `.csv`), even when the audit finds differences; repeat for several. Created
    /// with mode 0600. Example: `--report audit.html --report audit.csv`.
    #[arg(long, value_name = "FILE")]
    pub report: Vec<crate::report::ReportPath>,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Seed of the generated workspace and of the fault schedule; the same seed gives the same
    /// workspace on every machine.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Size of the generated workspace: tiny, small, medium or large (at least 10,000
    /// resources).
    #[arg(long, value_name = "PRESET", default_value = "small")]
    pub size: Preset,
    /// Explicit counts on top of the preset, e.g. `sources=40,tracking_plans=5`.
    #[arg(long, value_name = "KEY=N,...")]
    pub counts: Option<String>,
    /// Faults to inject, e.g. `5xx=0.05,reset=0.02,truncate=0.01,storm=30s/120s,ghost=0.05`.
    /// See docs/simulators.md for every key.
    #[arg(long, value_name = "SPEC", default_value = "none")]
    pub faults: FaultSpec,
    /// Make simulated time run X times faster: rate-limit windows, latency, storms and outages
    /// all shrink by this factor (`60` turns a one-minute window into one second).
    #[arg(long, value_name = "X", default_value = "1")]
    pub time_scale: TimeScale,
    /// Port of the Config API simulator on 127.0.0.1 (0 picks a free one).
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub config_port: u16,
    /// Requests per minute per token on the Config API simulator (documented: 200).
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub config_rate_limit: u32,
    /// Return secret settings masked (`••••••••••abcd`) instead of in clear from the Config
    /// simulator. Whether the real Config API masked them is unconfirmed.
    #[arg(long)]
    pub mask_secrets: bool,
    /// Port of the Public API simulator on 127.0.0.1 (0 picks a free one).
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub public_port: u16,
    /// Starting state of the Public simulator: `empty` (a new workspace: catalog and built-in
    /// roles only), `mirror` (the generated workspace with Public ids) or `partial` (a
    /// deterministic subset of mirror, for conflict tests).
    #[arg(long, value_name = "STATE", default_value = "empty")]
    pub target: Target,
    /// Requests per minute per token on Public API routes without a documented limit (the real
    /// default is unpublished). Documented per-endpoint limits apply on top.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub public_rate_limit: u32,
}

/// Where the Config API is and how to authenticate to it.
#[derive(Debug, Clone, Args)]
pub struct ConfigApiArgs {
    /// The Config API host root; segbridge adds `/v1beta`. `http://` is accepted only for
    /// loopback addresses (the simulators).
    #[arg(
        long,
        value_name = "URL",
        default_value = crate::config_api::DEFAULT_BASE_URL
    )]
    pub config_url: String,
    /// Read the Config API token from FILE instead of `SEGMENT_CONFIG_API_TOKEN`.
    #[arg(long, value_name = "FILE")]
    pub config_token_file: Option<PathBuf>,
    /// Refused: a token on the command line ends up in shell history and process listings.
    #[arg(long, value_name = "TOKEN", hide = true)]
    pub config_token: Option<String>,
    /// A token handed over in memory by the code that runs the command (the demo, which
    /// starts its own simulators); never set from the command line.
    #[arg(skip)]
    pub given_token: Option<crate::http::secret::Secret>,
    /// Requests per minute to the Config API (documented limit: 200).
    #[arg(long, value_name = "N", default_value_t = 200, hide = true)]
    pub config_rate_limit: u32,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub api: ConfigApiArgs,
    #[command(flatten)]
    pub pacing: PacingArgs,
    /// The workspace slug to export; by default the token's only workspace.
    #[arg(long, value_name = "SLUG")]
    pub workspace: Option<String>,
    /// The ledger file (SQLite), created if missing.
    #[arg(long, value_name = "FILE", default_value = "segbridge.ledger")]
    pub ledger: PathBuf,
    /// Export only these kinds (comma-separated), e.g. `sources,destinations`.
    #[arg(
        long,
        value_name = "KINDS",
        value_delimiter = ',',
        conflicts_with = "skip"
    )]
    pub only: Vec<Kind>,
    /// Export everything but these kinds (comma-separated).
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub skip: Vec<Kind>,
    /// Also read the event delivery metrics of every destination (a baseline for `audit`).
    #[arg(long)]
    pub with_metrics: bool,
    /// Source subtrees read at once; the rate limit bounds the request rate in any case.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = concurrency)]
    pub concurrency: usize,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Report progress as JSON lines on stderr.
    #[arg(long)]
    pub json_progress: bool,
}

/// How fast the API clients' clocks run (hidden: for the simulators only).
#[derive(Debug, Clone, Copy, Args)]
pub struct PacingArgs {
    /// Pace requests as if minutes were X times shorter, to match a simulator started with
    /// `segbridge sim --time-scale X`. Never useful against the real API.
    #[arg(long, value_name = "X", default_value = "1", hide = true)]
    pub time_scale: TimeScale,
}

/// Where the Public API is and how to authenticate to it.
#[derive(Debug, Clone, Args)]
pub struct PublicApiArgs {
    /// The Public API host root (default: the US host). `http://` is accepted only for loopback
    /// addresses (the simulators).
    #[arg(long, value_name = "URL", conflicts_with = "region")]
    pub public_url: Option<String>,
    /// The target workspace's region: `eu` selects the EU host.
    #[arg(long, value_name = "REGION")]
    pub region: Option<crate::public_api::Region>,
    /// Read the Public API token from FILE instead of `SEGMENT_PUBLIC_API_TOKEN`.
    #[arg(long, value_name = "FILE")]
    pub public_token_file: Option<PathBuf>,
    /// Refused: a token on the command line ends up in shell history and process listings.
    #[arg(long, value_name = "TOKEN", hide = true)]
    pub public_token: Option<String>,
    /// A token handed over in memory by the code that runs the command (the demo, which
    /// starts its own simulators); never set from the command line.
    #[arg(skip)]
    pub given_token: Option<crate::http::secret::Secret>,
    /// Requests per minute to Public API routes without a documented limit of their own.
    #[arg(long, value_name = "N", default_value_t = crate::public_api::DEFAULT_REQUESTS_PER_MINUTE, hide = true)]
    pub public_rate_limit: u32,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub api: PublicApiArgs,
    #[command(flatten)]
    pub pacing: PacingArgs,
    /// The ledger file (SQLite) holding a complete export.
    #[arg(long, value_name = "FILE", default_value = "segbridge.ledger")]
    pub ledger: PathBuf,
    /// Replace the embedded mapping tables with the `.toml` files of DIR.
    #[arg(long, value_name = "DIR")]
    pub mappings: Option<PathBuf>,
    /// `create` recreates the workspace in the target; `adopt` matches the objects of the same
    /// workspace by natural key and writes nothing.
    #[arg(long, value_name = "MODE", default_value = "create")]
    pub mode: crate::plan::Mode,
    /// Create mode: what to do with an object the target already holds (`adopt` uses it,
    /// `skip` leaves it and its dependents alone, `fail` reports it and exits 1).
    #[arg(long, value_name = "POLICY", default_value = "fail")]
    pub on_conflict: crate::plan::OnConflict,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Report progress as JSON lines on stderr.
    #[arg(long)]
    pub json_progress: bool,
    /// Also write the compatibility report to FILE, in the format its extension names (`.md`,
    /// `.html`, `.json`, `.csv`); repeat for several. Created with mode 0600.
    #[arg(long, value_name = "FILE")]
    pub report: Vec<crate::report::ReportPath>,
}

/// `segbridge apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub api: PublicApiArgs,
    // The source workspace's Config API, to read secret settings again at write time. Used
    // when `SEGMENT_CONFIG_API_TOKEN` or `--config-token-file` gives a token; without one,
    // secrets come from `--secrets` only.
    #[command(flatten)]
    pub config: ConfigApiArgs,
    #[command(flatten)]
    pub pacing: PacingArgs,
    #[command(flatten)]
    pub run: ApplyRunArgs,
    /// Show what would be written; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With `--dry-run`: also write the compatibility report of the plan to FILE, in the
    /// format its extension names (`.md`, `.html`, `.json`, `.csv`); repeat for several.
    #[arg(long, value_name = "FILE", requires = "dry_run")]
    pub report: Vec<crate::report::ReportPath>,
}

/// The choices of a live apply, shared by `apply` and `migrate`.
#[derive(Debug, Clone, Args)]
pub struct ApplyRunArgs {
    /// The ledger file (SQLite): `apply` runs the plan it holds; `migrate` creates it when
    /// missing and keeps every step's progress in it.
    #[arg(long, value_name = "FILE", default_value = "segbridge.ledger")]
    pub ledger: PathBuf,
    /// TOML file of secret setting values, `["<config name>"]` then `setting = "value"`; read
    /// into memory only. Its values win over those read again from the Config API.
    #[arg(long, value_name = "FILE")]
    pub secrets: Option<PathBuf>,
    /// Create destinations and source functions without the secret settings nothing supplies,
    /// instead of failing them as manual.
    #[arg(long)]
    pub allow_missing_secrets: bool,
    /// Writes in flight at once; the rate limits set the pace in any case.
    #[arg(long, value_name = "N", default_value_t = crate::apply::DEFAULT_CONCURRENCY, value_parser = concurrency)]
    pub concurrency: usize,
    /// Also send invitations (they email people) and grant permissions to existing users.
    #[arg(long)]
    pub include_iam: bool,
    /// Cut-over: enable the migrated sources, and the destinations that were enabled in the
    /// source workspace. Run it once apps send with the new write keys.
    #[arg(long)]
    pub enable: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Progress as JSON lines on stderr.
    #[arg(long)]
    pub json_progress: bool,
}

/// At least one lane, and no more than a limit's worth: past 64 writes in flight only the
/// number of intents to reconcile after a crash grows.
fn concurrency(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n @ 1..=64) => Ok(n),
        _ => Err("expected a whole number from 1 to 64".into()),
    }
}

/// `segbridge migrate`: the flags of `export`, `plan`, `apply` and `audit` in one command.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub config: ConfigApiArgs,
    #[command(flatten)]
    pub api: PublicApiArgs,
    #[command(flatten)]
    pub pacing: PacingArgs,
    /// The workspace slug to export; by default the Config token's only workspace.
    #[arg(long, value_name = "SLUG")]
    pub workspace: Option<String>,
    /// Also read the event delivery metrics of every destination (a baseline for `audit`).
    #[arg(long)]
    pub with_metrics: bool,
    /// Replace the embedded mapping tables with the `.toml` files of DIR.
    #[arg(long, value_name = "DIR")]
    pub mappings: Option<PathBuf>,
    /// What to do with an object the target already holds (`adopt` uses it, `skip` leaves it
    /// and its dependents alone, `fail` stops before anything is written).
    #[arg(long, value_name = "POLICY", default_value = "fail")]
    pub on_conflict: crate::plan::OnConflict,
    /// Also write the compatibility report of the plan to FILE, in the format its extension
    /// names (`.md`, `.html`, `.json`, `.csv`); repeat for several. Created with mode 0600.
    #[arg(long, value_name = "FILE")]
    pub report: Vec<crate::report::ReportPath>,
    /// Also write the report of the closing audit to FILE, likewise (`.md`, `.html`, `.json`,
    /// `.csv`); repeat for several.
    #[arg(long, value_name = "FILE")]
    pub audit_report: Vec<crate::report::ReportPath>,
    #[command(flatten)]
    pub run: ApplyRunArgs,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The ledger file.
    #[arg(long, value_name = "FILE", default_value = "segbridge.ledger")]
    pub ledger: std::path::PathBuf,
    /// Print the status as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `segbridge idmap`.
#[derive(Debug, Args)]
pub struct IdmapArgs {
    /// The ledger file.
    #[arg(long, value_name = "FILE", default_value = "segbridge.ledger")]
    pub ledger: PathBuf,
    /// The target whose ids to print, as `status` shows it (`<url>|<workspace id>`) or just its
    /// workspace id; needed when the ledger holds plans for several targets.
    #[arg(long, value_name = "TARGET")]
    pub target: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = IdmapFormat::Csv)]
    pub format: IdmapFormat,
    /// Write to FILE (mode 0600) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IdmapFormat {
    Csv,
    Json,
}
