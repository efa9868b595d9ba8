//! The `segbridge` binary: parse the command line, run, and map the outcome to an exit code
//! (0 success, 1 finished with failures or differences, 2 usage or unexpected error).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = segbridge::cli::Cli::parse();
    segbridge::run(cli).into()
}
