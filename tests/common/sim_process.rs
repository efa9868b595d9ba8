//! `segbridge sim` run as a user runs it: a process started with arguments and environment,
//! whose `KEY=value` lines on stdout are read up to the last one, killed when dropped so that a
//! failing test leaves nothing behind.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running process, killed when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary, without the tokens of the environment the tests run in: a test passes the ones
/// it means.
pub fn segbridge() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_segbridge"));
    command
        .env_remove("SEGMENT_CONFIG_API_TOKEN")
        .env_remove("SEGMENT_PUBLIC_API_TOKEN");
    command
}

/// Starts `segbridge sim` with `args` and `env` and reads its `KEY=value` lines up to the
/// Public workspace's, the last one.
pub fn start(args: &[&str], env: &[(&str, &str)]) -> (Running, HashMap<String, String>) {
    let mut command = segbridge();
    command
        .arg("sim")
        .args(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().expect("segbridge runs");
    let stdout = child.stdout.take().unwrap();
    let running = Running(child);
    let mut lines = HashMap::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        if let Some((key, value)) = line.split_once('=') {
            lines.insert(key.to_owned(), value.to_owned());
            if key == "SEGMENT_PUBLIC_WORKSPACE" {
                break;
            }
        }
    }
    (running, lines)
}
