//! segbridge: migrates a Segment workspace from the legacy Config API (v1beta) to the Public API.
//!
//! The library holds everything; `main.rs` only parses arguments and maps the result to an exit
//! code. The Config API client ([`config_api`]) and the Public API client ([`public_api`], whose
//! writer is the only code that can change the target) sit on the shared HTTP layer ([`http`]). The
//! simulators of both APIs live in [`sim`]; they share no wire types with the clients, so that a
//! field misspelt on one side cannot hide by being misspelt the same way on the other.
//! Commands ([`commands`]) are the only code that writes to the terminal: stdout carries data,
//! stderr carries status.

pub mod apply;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod config_api;
pub mod diagnostics;
pub mod env_vars;
pub mod export;
pub mod http;
pub mod ledger;
pub mod mapping;
pub mod memory;
pub mod model;
pub mod plan;
pub mod progress;
pub mod public_api;
pub mod report;
pub mod secrets;
pub mod sim;

#[cfg(test)]
mod fuzz_tests;

pub use commands::ExitStatus;

/// Runs a parsed command line on a fresh Tokio runtime and reports any error on stderr.
///
/// The simulators (`sim`, and `demo`, which runs them beside the migration) answer many
/// clients at once and get a thread per core. The other commands get one thread for all their
/// tasks: they wait on rate limits, not on the CPU, and the task that drives their requests
/// (the command's own future) runs on the thread that started the runtime; with worker
/// threads beside it, every answer was read on one thread and handed to another, a switch
/// between threads per request (`migrate` of `large`: 15% of its CPU, the same wall time).
///
/// While the command runs, a [`memory::Trimmer`] gives what it freed back to the system.
pub fn run(cli: cli::Cli) -> ExitStatus {
    console::set_colors_enabled_stderr(use_color(cli.global.color));
    let mut builder = match cli.command {
        cli::Command::Sim(_) | cli::Command::Demo(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            diagnostics::report(
                &anyhow::Error::new(err).context("Failed to start the async runtime"),
            );
            return ExitStatus::Error;
        }
    };
    let _trimmer = memory::Trimmer::start(memory::INTERVAL);
    match runtime.block_on(commands::dispatch(cli)) {
        Ok(status) => status,
        Err(err) => {
            diagnostics::report(&err);
            ExitStatus::Error
        }
    }
}

/// Whether stderr gets colour: `--color always|never` decides; `auto` colours a terminal unless
/// `NO_COLOR` is set to anything non-empty (<https://no-color.org>).
fn use_color(choice: cli::ColorChoice) -> bool {
    use std::io::IsTerminal;
    match choice {
        cli::ColorChoice::Always => true,
        cli::ColorChoice::Never => false,
        cli::ColorChoice::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os(env_vars::NO_COLOR).is_none_or(|v| v.is_empty())
        }
    }
}
