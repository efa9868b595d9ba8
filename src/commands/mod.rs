//! One module per subcommand. Each takes its parsed arguments and returns an [`ExitStatus`];
//! errors that stop a command propagate as `anyhow::Error` and are rendered by
//! [`crate::diagnostics`].

mod apply;
mod audit;
mod demo;
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

/// The `--json` document of a command: any value that serializes, serialized only when it is
/// printed (`migrate` puts its steps' documents into its own).
pub type Summary = Box<dyn erased_serde::Serialize + Send + Sync>;

/// How a step of work ended, with the summary `--json` prints: `migrate` runs `export`,
/// `plan` and `apply` as steps and prints their summaries as one document.
pub struct Finished {
    pub status: ExitStatus,
    /// Kept as the value it describes, not as JSON: an audit's lists every resource, and its
    /// JSON held beside the report (as a parsed value, then as the string printed) was tens of
    /// megabytes on a large workspace.
    pub summary: Summary,
}

impl Finished {
    /// A step that ended with `status`; `summary` is its `--json` document.
    pub fn new(
        status: ExitStatus,
        summary: impl serde::Serialize + Send + Sync + 'static,
    ) -> Finished {
        Finished {
            status,
            summary: Box::new(summary),
        }
    }

    /// Prints the summary on stdout when asked, and gives the exit status.
    fn print(self, json: bool) -> anyhow::Result<ExitStatus> {
        if json {
            print_json(&self.summary)?;
        }
        Ok(self.status)
    }
}

/// Writes a command's data to stdout. A reader that stops early (`| head`) closes the pipe:
/// that is its choice, not an error, so the rest is dropped quietly.
fn print_data(data: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    quiet_on_closed_pipe(out.write_all(data).and_then(|()| out.flush()))
}

/// Writes `value` as one line of JSON on stdout, serialized as it is written.
fn print_json(value: &impl serde::Serialize) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = serde_json::to_writer(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    quiet_on_closed_pipe(written)
}

fn quiet_on_closed_pipe(written: std::io::Result<()>) -> std::io::Result<()> {
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
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
        Command::Migrate(args) => {
            let json = args.run.json;
            migrate::execute(&args, &cli.global).await?.print(json)
        }
        Command::Demo(args) => demo::run(&args, &cli.global).await,
        Command::Sim(args) => sim::run(args, &cli.global).await,
        Command::Status(args) => status::run(&args),
        Command::Audit(args) => {
            let json = args.json;
            audit::execute(&args, &cli.global).await?.print(json)
        }
        Command::Idmap(args) => idmap::run(&args),
    }
}
