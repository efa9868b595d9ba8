//! The command line's [`Reporter`]s: indicatif bars on a terminal, periodic plain lines when
//! stderr is piped, JSON lines with `--json-progress`. All of them write to stderr only; stdout
//! is reserved for data.

use std::collections::{BTreeMap, HashMap};
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;

use crate::cli::GlobalArgs;
use crate::model::Kind;
use crate::progress::{HiddenReporter, Reporter, Wait};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    Bars,
    Lines,
    Json,
    Hidden,
}

impl ProgressMode {
    /// `--json-progress` wins, then `--quiet`; otherwise bars on a terminal and lines elsewhere.
    pub fn choose(json: bool, quiet: bool) -> Self {
        if json {
            ProgressMode::Json
        } else if quiet {
            ProgressMode::Hidden
        } else if std::io::stderr().is_terminal() {
            ProgressMode::Bars
        } else {
            ProgressMode::Lines
        }
    }
}

/// A reporter the command can also close (bars are cleared before the summary is printed).
pub trait CliReporter: Reporter {
    fn finish(&self) {}

    /// Prints `text` (whole lines) on stderr while progress may be shown: above the bars, which
    /// would otherwise draw over it.
    fn print(&self, text: &str) {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

impl CliReporter for HiddenReporter {}

/// The reporter a command shows its progress with: `--json-progress`, `-q` and `-v` as given,
/// bars or lines as stderr is a terminal or not.
pub fn for_command(json_progress: bool, global: &GlobalArgs) -> Box<dyn CliReporter> {
    reporter(
        ProgressMode::choose(json_progress, global.quiet),
        global.verbose > 0,
    )
}

/// `shown`, a reporter the caller shares with other work, or else one of the command's own
/// ([`for_command`]).
pub fn shared_or_own(
    shown: Option<std::sync::Arc<dyn CliReporter>>,
    json_progress: bool,
    global: &GlobalArgs,
) -> std::sync::Arc<dyn CliReporter> {
    shown.unwrap_or_else(|| std::sync::Arc::from(for_command(json_progress, global)))
}

/// With `verbose`, every retry and every 429 is also printed as a line of its own (bars and
/// lines otherwise show the latest one, or a total).
fn reporter(mode: ProgressMode, verbose: bool) -> Box<dyn CliReporter> {
    match mode {
        ProgressMode::Bars => Box::new(BarReporter::new(verbose)),
        ProgressMode::Lines => Box::new(LineReporter::new(Duration::from_secs(5), verbose)),
        ProgressMode::Json => Box::new(JsonReporter),
        ProgressMode::Hidden => Box::new(HiddenReporter),
    }
}

/// The line `-v` prints for a retry.
fn retry_line(api: &str, endpoint: &str, attempt: u32, error: &str) -> String {
    format!("retry {attempt} of {api} {endpoint}: {error}")
}

/// The line `-v` prints when an API answered 429.
fn rate_limited_line(api: &str, duration: Duration) -> String {
    format!(
        "the {api} API answered 429: waiting {:.1}s as it asked",
        duration.as_secs_f64()
    )
}

/// Waits shorter than this are not shown by the bars.
const NOTICEABLE_WAIT: Duration = Duration::from_millis(250);

fn stderr_line(line: &str) {
    // Nothing sensible can be done when stderr itself is gone.
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// One spinner per Config API service with its object count, and a status line that shows
/// rate-limit waits and retries as they happen.
pub struct BarReporter {
    multi: MultiProgress,
    bars: Mutex<HashMap<&'static str, ProgressBar>>,
    /// Tasks of a known size (apply's steps): a bar with count, rate and ETA each.
    tasks: Mutex<HashMap<String, ProgressBar>>,
    status: ProgressBar,
    verbose: bool,
}

impl BarReporter {
    fn new(verbose: bool) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let status = multi.add(ProgressBar::new_spinner());
        status.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
        status.enable_steady_tick(Duration::from_millis(120));
        Self {
            multi,
            bars: Mutex::new(HashMap::new()),
            tasks: Mutex::new(HashMap::new()),
            status,
            verbose,
        }
    }

    fn bar(&self, kind: Kind) -> ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        bars.entry(kind.service())
            .or_insert_with(|| {
                let bar = self
                    .multi
                    .insert_before(&self.status, ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>24.bold} {pos:>7} objects")
                        .expect("valid template"),
                );
                bar.set_prefix(kind.service());
                bar
            })
            .clone()
    }
}

impl Reporter for BarReporter {
    fn collection_started(&self, kind: Kind, collection: &str) {
        self.bar(kind);
        self.status.set_message(format!("reading {collection}"));
    }

    fn stored(&self, kind: Kind, count: u64) {
        self.bar(kind).inc(count);
    }

    fn resumed(&self, kind: Kind, count: u64) {
        self.bar(kind).inc(count);
    }

    fn waiting(&self, api: &str, why: Wait, duration: Duration) {
        // Pacing waits of a few milliseconds happen before most requests; only a wait a person
        // would notice is worth a line.
        if self.verbose && why == Wait::RateLimited {
            let _ = self.multi.println(rate_limited_line(api, duration));
        }
        if duration < NOTICEABLE_WAIT {
            return;
        }
        self.status.set_message(format!(
            "waiting {:.1}s on the {api} API ({})",
            duration.as_secs_f64(),
            why.as_str()
        ));
    }

    fn retrying(&self, api: &str, endpoint: &str, attempt: u32, error: &str) {
        let line = retry_line(api, endpoint, attempt, error);
        if self.verbose {
            let _ = self.multi.println(&line);
        }
        self.status.set_message(line);
    }

    fn failed(&self, collection: &str, error: &str) {
        let _ = self.multi.println(format!("failed: {collection}: {error}"));
    }

    fn task_started(&self, label: &str, total: u64) {
        // A step met again (the next stage of a plan `migrate` applies in stages) goes on in
        // the bar it has.
        if let Some(bar) = self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(label)
            .filter(|bar| !bar.is_finished())
        {
            bar.inc_length(total);
            return;
        }
        let bar = self
            .multi
            .insert_before(&self.status, ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>30.bold} [{bar:30}] {pos:>6}/{len:<6} {per_sec:>10} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(label.replace('_', " "));
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(label.to_owned(), bar);
    }

    fn task_advanced(&self, label: &str, count: u64) {
        if let Some(bar) = self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(label)
        {
            bar.inc(count);
        }
    }
}

impl CliReporter for BarReporter {
    fn print(&self, text: &str) {
        self.multi
            .suspend(|| std::io::stderr().lock().write_all(text.as_bytes()))
            .unwrap_or_default();
    }

    fn finish(&self) {
        for bar in self.bars.lock().unwrap_or_else(|e| e.into_inner()).values() {
            bar.finish();
        }
        for bar in self
            .tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            bar.finish();
        }
        self.status.finish_and_clear();
    }
}

/// A line every `interval` with the counts so far, and failures as they happen: readable in CI
/// logs, where bars would be noise.
pub struct LineReporter {
    interval: Duration,
    verbose: bool,
    state: Mutex<LineState>,
}

struct LineState {
    last: Instant,
    counts: BTreeMap<&'static str, u64>,
    /// Tasks of a known size: done and total.
    tasks: BTreeMap<String, (u64, u64)>,
    waited: Duration,
    retries: u64,
    /// The latest retry, shown while nothing else moves (an API that does not answer).
    last_retry: Option<String>,
}

impl LineReporter {
    fn new(interval: Duration, verbose: bool) -> Self {
        Self {
            interval,
            verbose,
            state: Mutex::new(LineState {
                last: Instant::now(),
                counts: BTreeMap::new(),
                tasks: BTreeMap::new(),
                waited: Duration::ZERO,
                retries: 0,
                last_retry: None,
            }),
        }
    }

    fn maybe_print(&self, state: &mut LineState) {
        if state.last.elapsed() < self.interval {
            return;
        }
        state.last = Instant::now();
        if !state.tasks.is_empty() {
            let parts: Vec<String> = state
                .tasks
                .iter()
                .map(|(task, (done, total))| format!("{task} {done}/{total}"))
                .collect();
            stderr_line(&format!(
                "progress: {}; waited {:.0}s on rate limits",
                parts.join(", "),
                state.waited.as_secs_f64()
            ));
            return;
        }
        let total: u64 = state.counts.values().sum();
        if total == 0 {
            if let Some(retry) = &state.last_retry {
                stderr_line(&format!(
                    "progress: nothing read yet; {} retries, the latest: {retry}",
                    state.retries
                ));
            }
            return;
        }
        let parts: Vec<String> = state
            .counts
            .iter()
            .map(|(kind, n)| format!("{kind} {n}"))
            .collect();
        stderr_line(&format!(
            "progress: {total} objects ({}); waited {:.0}s on rate limits",
            parts.join(", "),
            state.waited.as_secs_f64()
        ));
    }
}

impl Reporter for LineReporter {
    fn stored(&self, kind: Kind, count: u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state.counts.entry(kind.as_str()).or_default() += count;
        self.maybe_print(&mut state);
    }

    fn resumed(&self, kind: Kind, count: u64) {
        self.stored(kind, count);
    }

    fn waiting(&self, api: &str, why: Wait, duration: Duration) {
        if self.verbose && why == Wait::RateLimited {
            stderr_line(&rate_limited_line(api, duration));
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if why != Wait::Backoff {
            state.waited += duration;
        }
        self.maybe_print(&mut state);
    }

    fn retrying(&self, api: &str, endpoint: &str, attempt: u32, error: &str) {
        let line = retry_line(api, endpoint, attempt, error);
        if self.verbose {
            stderr_line(&line);
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.retries += 1;
        state.last_retry = Some(line);
        self.maybe_print(&mut state);
    }

    fn failed(&self, collection: &str, error: &str) {
        stderr_line(&format!("failed: {collection}: {error}"));
    }

    fn task_started(&self, label: &str, total: u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.tasks.insert(label.to_owned(), (0, total));
    }

    fn task_advanced(&self, label: &str, count: u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((done, _)) = state.tasks.get_mut(label) {
            *done += count;
        }
        self.maybe_print(&mut state);
    }
}

impl CliReporter for LineReporter {}

/// Every event as one JSON line `{"type": …, "data": {…}}` on stderr, for programs.
pub struct JsonReporter;

fn json_line(kind: &str, data: serde_json::Value) {
    stderr_line(&json!({"type": kind, "data": data}).to_string());
}

impl Reporter for JsonReporter {
    fn collection_started(&self, kind: Kind, collection: &str) {
        json_line(
            "collection_started",
            json!({"kind": kind.as_str(), "collection": collection}),
        );
    }

    fn stored(&self, kind: Kind, count: u64) {
        json_line("stored", json!({"kind": kind.as_str(), "count": count}));
    }

    fn resumed(&self, kind: Kind, count: u64) {
        json_line("resumed", json!({"kind": kind.as_str(), "count": count}));
    }

    fn waiting(&self, api: &str, why: Wait, duration: Duration) {
        json_line(
            "waiting",
            json!({"api": api, "reason": why.as_str(), "seconds": duration.as_secs_f64()}),
        );
    }

    fn retrying(&self, api: &str, endpoint: &str, attempt: u32, error: &str) {
        json_line(
            "retrying",
            json!({"api": api, "endpoint": endpoint, "attempt": attempt, "error": error}),
        );
    }

    fn failed(&self, collection: &str, error: &str) {
        json_line("failed", json!({"collection": collection, "error": error}));
    }

    fn task_started(&self, label: &str, total: u64) {
        json_line("task_started", json!({"task": label, "total": total}));
    }

    fn task_advanced(&self, label: &str, count: u64) {
        json_line("task_advanced", json!({"task": label, "count": count}));
    }
}

impl CliReporter for JsonReporter {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_met_again_goes_on_in_its_bar() {
        let bars = BarReporter::new(false);
        bars.multi.set_draw_target(ProgressDrawTarget::hidden());
        bars.task_started("create_destination", 3);
        bars.task_advanced("create_destination", 3);
        // The next stage of a plan applied in stages.
        bars.task_started("create_destination", 4);
        bars.task_advanced("create_destination", 1);
        let tasks = bars.tasks.lock().unwrap();
        let bar = &tasks["create_destination"];
        assert_eq!((bar.position(), bar.length()), (4, Some(7)));
        drop(tasks);
        // Once the display is finished, a step starts a bar of its own.
        bars.finish();
        bars.task_started("create_destination", 2);
        assert_eq!(
            bars.tasks.lock().unwrap()["create_destination"].length(),
            Some(2)
        );
    }
}
