//! `segbridge sim`: serve a generated workspace through both simulators until Ctrl-C.
//!
//! stdout carries the data a user needs to point a client at the simulator (base URL, tokens,
//! as `KEY=value` lines that a shell can `export`); stderr carries status. Tokens taken from the
//! environment are the user's own and are not echoed back.

use std::io::Write;

use anyhow::Context;

use crate::cli::{GlobalArgs, SimArgs};
use crate::commands::ExitStatus;
use crate::env_vars;
use crate::sim::generator::Counts;
use crate::sim::{SimSettings, Simulators};

/// A token from the environment, when set to something other than blanks.
fn token_from_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|t| !t.trim().is_empty())
}

pub async fn run(args: SimArgs, global: &GlobalArgs) -> anyhow::Result<ExitStatus> {
    let mut counts = Counts::preset(args.size);
    if let Some(overrides) = &args.counts {
        let overrides = Counts::parse_overrides(overrides).context("Invalid `--counts`")?;
        counts = counts
            .with_overrides(&overrides)
            .context("Invalid `--counts`")?;
    }
    let settings = SimSettings {
        seed: args.seed,
        counts,
        faults: args.faults,
        time_scale: args.time_scale,
        config_port: args.config_port,
        config_rate_limit: args.config_rate_limit,
        mask_secrets: args.mask_secrets,
        config_token: token_from_env(env_vars::SEGMENT_CONFIG_API_TOKEN),
        public_port: args.public_port,
        public_rate_limit: args.public_rate_limit,
        target: args.target,
        public_token: token_from_env(env_vars::SEGMENT_PUBLIC_API_TOKEN),
    };
    let sims = Simulators::start(settings)
        .await
        .context("Failed to start the simulators")?;

    let config = &sims.config;
    let public = &sims.public;
    let mut lines = vec![format!("SEGMENT_CONFIG_API_URL={}", config.base_url())];
    lines.push(token_line(
        env_vars::SEGMENT_CONFIG_API_TOKEN,
        config.generated_token.as_deref(),
    ));
    lines.push(format!(
        "SEGMENT_CONFIG_API_READ_ONLY_TOKEN={}",
        config.read_only_token
    ));
    lines.push(format!("SEGMENT_WORKSPACE={}", config.workspace_slug));
    lines.push(format!("SEGMENT_PUBLIC_API_URL={}", public.base_url()));
    lines.push(token_line(
        env_vars::SEGMENT_PUBLIC_API_TOKEN,
        public.generated_token.as_deref(),
    ));
    lines.push(format!(
        "SEGMENT_PUBLIC_WORKSPACE={}",
        public.workspace_slug
    ));
    // These lines are for whoever started the simulators. If they stop reading (a closed pipe),
    // the simulators keep serving all the same, so a failed write is not an error.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", lines.join("\n")).and_then(|()| out.flush());
    drop(out);

    if !global.quiet {
        let total = config.resources_total();
        let mut err = std::io::stderr().lock();
        writeln!(
            err,
            "Serving the Config API (workspace `{}`, {total} resources, seed {}) on {}; inspect {}/_sim/stats.",
            config.workspace_slug,
            args.seed,
            config.base_url(),
            config.base_url(),
        )?;
        let public_total: usize = sims
            .public
            .resource_counts()
            .iter()
            .filter(|(kind, _)| !kind.starts_with("catalog_"))
            .map(|(_, n)| n)
            .sum();
        writeln!(
            err,
            "Serving the Public API ({} target `{}`, {public_total} objects) on {}; inspect {}/_sim/stats. Press Ctrl-C to stop.",
            sims.public.target,
            sims.public.workspace_slug,
            sims.public.base_url(),
            sims.public.base_url(),
        )?;
    }
    tokio::signal::ctrl_c()
        .await
        .context("Failed to wait for Ctrl-C")?;
    sims.shutdown().await;
    Ok(ExitStatus::Success)
}

/// `NAME=token` for a generated token; a comment for one taken from the environment, which is
/// the user's own and never echoed.
fn token_line(name: &str, generated: Option<&str>) -> String {
    match generated {
        Some(token) => format!("{name}={token}"),
        None => format!("# {name} accepted from the environment"),
    }
}
