//! Progress reporting. Core modules never print: they tell a [`Reporter`] what happens, and the
//! command line decides how to show it (bars on a terminal, periodic lines when piped, JSON lines
//! with `--json-progress`, nothing with `--quiet`).

use std::time::Duration;

use crate::model::Kind;

/// Why a command is waiting instead of sending requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Pacing under an API's rate limit before it is reached.
    RateLimitBudget,
    /// The API answered 429 and asked to wait.
    RateLimited,
    /// Backing off after a transient error before retrying.
    Backoff,
}

impl Wait {
    pub fn as_str(self) -> &'static str {
        match self {
            Wait::RateLimitBudget => "rate-limit budget",
            Wait::RateLimited => "rate limited",
            Wait::Backoff => "backoff",
        }
    }
}

/// Receives progress events. Implementations must be cheap: they are called on hot paths.
pub trait Reporter: Send + Sync {
    /// A collection (a list, or a single object read as one) is about to be read.
    fn collection_started(&self, _kind: Kind, _collection: &str) {}
    /// `count` objects of `kind` were stored.
    fn stored(&self, _kind: Kind, _count: u64) {}
    /// A collection was already read completely by an interrupted run and is not read again.
    fn resumed(&self, _kind: Kind, _count: u64) {}
    /// The command waits for `duration` (the `api` is `config` or `public`).
    fn waiting(&self, _api: &str, _why: Wait, _duration: Duration) {}
    /// A request is retried after a transient error.
    fn retrying(&self, _api: &str, _endpoint: &str, _attempt: u32, _error: &str) {}
    /// A collection could not be read, or an object written; the command goes on with the
    /// rest.
    fn failed(&self, _collection: &str, _error: &str) {}
    /// Work of a known size begins: `total` units under `label` (for `apply`, the payloads of
    /// one step).
    fn task_started(&self, _label: &str, _total: u64) {}
    /// `count` units of the task `label` are done.
    fn task_advanced(&self, _label: &str, _count: u64) {}
}

/// Shows nothing (`--quiet`, tests, library use).
#[derive(Debug, Default, Clone, Copy)]
pub struct HiddenReporter;

impl Reporter for HiddenReporter {}
