//! `segbridge export`: resolve the settings, open the ledger, run the export, print the summary
//! (text on stderr, JSON on stdout with `--json`) and map the outcome to an exit status.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};

use crate::cli::{ConfigApiArgs, ExportArgs, GlobalArgs, PacingArgs};
use crate::commands::reporters::{self, CliReporter};
use crate::commands::{ExitStatus, Finished};
use crate::config_api::{ConfigClient, ConfigClientSettings};
use crate::diagnostics::Hint;
use crate::env_vars;
use crate::export::{self, ExportOptions, ExportOutcome};
use crate::http::{
    Endpoint, HttpError, HttpMetrics, HttpObserver, RetryPolicy, ScaledClock, Secret, WaitReason,
};
use crate::ledger::Ledger;
use crate::model::Kind;
use crate::progress::{Reporter, Wait};
use crate::secrets::{HeldSecrets, SecretHasher};
use crate::sim::clock::TimeScale;

/// Schema version of the `--json` summary.
const SUMMARY_SCHEMA_VERSION: u32 = 1;

/// Reads the Config API token from `--config-token-file` or the environment; a token given as a
/// plain argument is refused.
pub fn config_token(api: &ConfigApiArgs) -> anyhow::Result<Secret> {
    if api.config_token.is_some() {
        return Err(anyhow::anyhow!("`--config-token` is not accepted").context(Hint(format!(
            "a token on the command line ends up in shell history and process listings; set `{}` or use `--config-token-file FILE`",
            env_vars::SEGMENT_CONFIG_API_TOKEN
        ))));
    }
    if let Some(token) = &api.given_token {
        return Ok(token.clone());
    }
    match &api.config_token_file {
        Some(path) => Secret::from_file(path).context("Cannot read the Config API token"),
        None => Secret::from_env(env_vars::SEGMENT_CONFIG_API_TOKEN)
            .context("No Config API token")
            .context(Hint(format!(
                "set `{}` or pass `--config-token-file FILE`",
                env_vars::SEGMENT_CONFIG_API_TOKEN
            ))),
    }
}

/// Builds the Config API client, its waits and retries reported to `reporter`.
pub fn config_client(
    api: &ConfigApiArgs,
    pacing: PacingArgs,
    token: Secret,
    reporter: Arc<dyn Reporter>,
) -> anyhow::Result<ConfigClient> {
    let mut settings = ConfigClientSettings::new(token);
    settings.base_url = api
        .config_url
        .parse()
        .with_context(|| format!("`--config-url {}` is not a URL", api.config_url))?;
    settings.requests_per_minute = api.config_rate_limit;
    settings.retry = RetryPolicy::default()
        .with_env_overrides()
        .context("Invalid retry settings in the environment")?;
    settings.observer = Some(Arc::new(ReporterObserver(reporter)));
    if pacing.time_scale != TimeScale::default() {
        settings.clock = Arc::new(ScaledClock::new(pacing.time_scale.factor()));
    }
    ConfigClient::new(settings).context("Cannot set up the Config API client")
}

/// Forwards the HTTP layer's waits and retries to the progress reporter.
pub(crate) struct ReporterObserver(pub(crate) Arc<dyn Reporter>);

impl HttpObserver for ReporterObserver {
    fn on_wait(&self, api: &'static str, reason: WaitReason, duration: Duration) {
        let why = match reason {
            WaitReason::Budget => Wait::RateLimitBudget,
            WaitReason::RetryAfter => Wait::RateLimited,
            WaitReason::Backoff => Wait::Backoff,
        };
        self.0.waiting(api, why, duration);
    }

    fn on_retry(&self, api: &'static str, endpoint: &Endpoint, attempt: u32, error: &HttpError) {
        self.0.retrying(
            api,
            &endpoint.to_string(),
            attempt,
            &crate::diagnostics::chain(error),
        );
    }
}

fn selected_kinds(args: &ExportArgs) -> std::collections::BTreeSet<Kind> {
    let mut kinds = if args.only.is_empty() {
        ExportOptions::default_kinds()
    } else {
        args.only.iter().copied().collect()
    };
    if args.with_metrics {
        kinds.insert(Kind::DeliveryMetrics);
    }
    for kind in &args.skip {
        kinds.remove(kind);
    }
    kinds
}

/// Runs the export; the `--json` summary is returned, not printed.
pub async fn execute(args: &ExportArgs, global: &GlobalArgs) -> anyhow::Result<Finished> {
    execute_observed(args, global, &|_| {}, None, None).await
}

/// [`execute`], telling `ready` what the export has read completely as it goes (see
/// [`export::export_observed`]). With `shown`, progress goes to that reporter, which the
/// caller shares with other work and finishes itself (one display on stderr, not two drawing
/// over each other). With `held_secrets`, the secret values read in clear are kept there for
/// the caller's `apply`.
pub async fn execute_observed(
    args: &ExportArgs,
    global: &GlobalArgs,
    ready: &(dyn Fn(export::Ready<'_>) + Sync),
    shown: Option<Arc<dyn CliReporter>>,
    held_secrets: Option<HeldSecrets>,
) -> anyhow::Result<Finished> {
    let token = config_token(&args.api)?;
    let hasher = SecretHasher::from_token(token.dangerously_expose());
    let shared = shown.is_some();
    let reporter = reporters::shared_or_own(shown, args.json_progress, global);
    // Trait upcasting: the CLI reporter is also the core's reporter.
    let client = config_client(&args.api, args.pacing, token, reporter.clone())?;
    let ledger = Ledger::open(&args.ledger)
        .with_context(|| format!("Cannot open the ledger `{}`", args.ledger.display()))?;
    let ledger = Mutex::new(ledger);
    let options = ExportOptions {
        config_url: args.api.config_url.clone(),
        workspace: args.workspace.clone(),
        kinds: selected_kinds(args),
        concurrency: args.concurrency,
        held_secrets,
    };
    let outcome =
        export::export_observed(&client, &ledger, &hasher, &options, &*reporter, ready).await;
    if !shared {
        reporter.finish();
    }
    let outcome = outcome.context("Export failed")?;
    let metrics = client.metrics();
    if !global.quiet {
        reporter.print(&summary_text(&outcome, &metrics, &args.ledger));
    }
    let status = if outcome.failures.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    Ok(Finished::new(status, summary_json(&outcome, &metrics)))
}

fn kind_map(counts: &BTreeMap<String, u64>) -> Value {
    json!(counts)
}

/// The `--json` summary: the same kind names as the simulators' `/_sim/stats`.
pub fn summary_json(outcome: &ExportOutcome, metrics: &HttpMetrics) -> Value {
    let snapshot = metrics.snapshot();
    json!({
        "schema_version": SUMMARY_SCHEMA_VERSION,
        "workspace": outcome.workspace,
        "run": outcome.run.0,
        "resumed": outcome.resumed,
        "objects": outcome.objects.iter().map(|(k, n)| (k.as_str(), n)).collect::<BTreeMap<_, _>>(),
        "objects_total": stored_total(outcome),
        "changes": {
            "added": kind_map(&outcome.changes.added),
            "changed": kind_map(&outcome.changes.changed),
            "removed": kind_map(&outcome.changes.removed),
        },
        "collections_resumed": outcome.collections_resumed,
        "requests": snapshot.requests_sent,
        "rate_limited": snapshot.rate_limited,
        "retries": snapshot.retries,
        "waited_on_rate_limits_seconds": (snapshot.budget_wait + snapshot.retry_after_wait).as_secs_f64(),
        "elapsed_seconds": outcome.elapsed.as_secs_f64(),
        "failures": outcome.failures.iter().map(|f| json!({
            "kind": f.kind.as_str(),
            "collection": f.collection,
            "error": f.message,
            "transient": f.transient,
        })).collect::<Vec<_>>(),
    })
}

/// Objects stored in the ledger; counts of kinds that are parts of another object (the rules
/// of a tracking plan) are left out.
fn stored_total(outcome: &ExportOutcome) -> u64 {
    outcome
        .objects
        .iter()
        .filter(|(k, _)| k.is_stored())
        .map(|(_, n)| n)
        .sum()
}

fn summary_text(
    outcome: &ExportOutcome,
    metrics: &HttpMetrics,
    ledger: &std::path::Path,
) -> String {
    let snapshot = metrics.snapshot();
    let mut out = String::new();
    let verb = if outcome.resumed {
        "Resumed and exported"
    } else {
        "Exported"
    };
    let total = stored_total(outcome);
    out.push_str(&format!(
        "{verb} workspace `{}`: {total} objects into `{}` in {:.1}s\n",
        outcome.workspace,
        ledger.display(),
        outcome.elapsed.as_secs_f64()
    ));
    for (kind, n) in &outcome.objects {
        out.push_str(&format!("  {:<28}{n:>8}\n", kind.as_str()));
    }
    let changes = &outcome.changes;
    if !outcome.resumed && (!changes.changed.is_empty() || !changes.removed.is_empty()) {
        let sum = |m: &BTreeMap<String, u64>| m.values().sum::<u64>();
        out.push_str(&format!(
            "Since the previous export: {} added, {} changed, {} removed\n",
            sum(&changes.added),
            sum(&changes.changed),
            sum(&changes.removed)
        ));
    }
    out.push_str(&format!(
        "{} requests, {} answered 429, {:.1}s of request time spent waiting on rate limits",
        snapshot.requests_sent,
        snapshot.rate_limited,
        (snapshot.budget_wait + snapshot.retry_after_wait).as_secs_f64()
    ));
    if outcome.collections_resumed > 0 {
        out.push_str(&format!(
            ", {} collections taken from the ledger",
            outcome.collections_resumed
        ));
    }
    out.push('\n');
    if !outcome.failures.is_empty() {
        out.push_str(&format!(
            "{} collections could not be read (run the export again to retry them):\n",
            outcome.failures.len()
        ));
        for failure in &outcome.failures {
            out.push_str(&format!("  {}: {}\n", failure.collection, failure.message));
        }
    }
    out
}
