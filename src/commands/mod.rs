//! One module per subcommand. Each takes its parsed arguments and returns an [`ExitStatus`];
//! errors that stop a command propagate as `anyhow::Error` and are rendered by
//! [`crate::diagnostics`].

mod apply;
mod audit;
mod export;
mod idmap;
mod migrate;
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

/// How a step of work ended, with the summary `--json` prints: `migrate` runs `export`,
/// `plan` and `apply` as steps and prints their summaries as one document.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub summary: serde_json::Value,
}

impl Finished {
    /// Prints the summary on stdout when asked, and gives the exit status.
    fn print(self, json: bool) -> anyhow::Result<ExitStatus> {
        if json {
            use std::io::Write;
            writeln!(std::io::stdout().lock(), "{}", self.summary)?;
        }
        Ok(self.status)
    }
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Export(args) => {
            let json = args.json;
            export::execute(&args, &cli.global).await?.print(json)
        }
        Command::Plan(args) => {
            let json = args.json;
            plan::execute(&args, &cli.global).await?.print(json)
        }
        Command::Apply(args) => {
            let json = args.run.json;
            apply::execute(&args, &cli.global).await?.print(json)
        }
        Command::Migrate(args) => migrate::run(args, &cli.global).await,
        Command::Sim(args) => sim::run(args, &cli.global).await,
        Command::Status(args) => status::run(&args),
        Command::Audit(args) => {
            let json = args.audit.json;
            audit::execute_with_reports(&args.audit, &args.report, &cli.global)
                .await?
                .print(json)
        }
        Command::Idmap(args) => idmap::run(&args),
    }
}
