//! One module per subcommand. Each takes its parsed arguments and returns an [`ExitStatus`];
//! errors that stop a command propagate as `anyhow::Error` and are rendered by
//! [`crate::diagnostics`].

mod apply;
mod export;
mod idmap;
mod plan;
pub mod reporters;
mod sim;
mod status;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

/// How a command ended, mapped to the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: everything done.
    Success,
    /// 1: the command finished, but some items failed or an audit found differences.
    Failure,
    /// 2: a usage, configuration or unexpected error stopped the command.
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => ExitCode::SUCCESS,
            ExitStatus::Failure => ExitCode::from(1),
            ExitStatus::Error => ExitCode::from(2),
        }
    }
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Export(args) => export::run(args, &cli.global).await,
        Command::Plan(args) => plan::run(args, &cli.global).await,
        Command::Apply(args) => apply::run(args, &cli.global).await,
        Command::Sim(args) => sim::run(args, &cli.global).await,
        Command::Status(args) => status::run(&args),
        Command::Idmap(args) => idmap::run(&args),
    }
}
