//! Fault injection: the ways a real API over a real network fails, on demand and reproducibly.
//!
//! A [`FaultSpec`] is the user-facing description (`--faults 5xx=0.05,reset=0.02,...`); a
//! [`FaultInjector`] turns it into one decision per API request. The server layer
//! ([`super::server`]) carries the decisions out; this module only decides, which keeps every
//! rule testable without sockets.
//!
//! Invariants:
//! - Decisions are reproducible: the generator is seeded, and every API request draws exactly
//!   [`DRAWS_PER_REQUEST`] numbers whatever the outcome, so the fate of the n-th request depends
//!   only on the seed and n, not on which faults happened to be enabled or scripted before it.
//!   With concurrent clients "the n-th request" is whichever reaches the lock n-th, so runs are
//!   reproducible for a given request order.
//! - The probabilities of the exclusive faults (`5xx`, `reset`, `truncate`, `html`, `ghost`) are
//!   bands of one draw, so each is exactly the chance of that fault and they may not add up to
//!   more than 1. `ghost` applies to write methods only; for reads its band means no fault.
//! - Every duration in a spec or script is simulated time, divided by the [`TimeScale`] here.
//! - Precedence per request: latency (always) → outage → 429 storm → scripted fault → random
//!   fault. A scripted fault is consumed only by a request that reaches that step, so an outage
//!   cannot silently eat a test's script.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};

use super::clock::TimeScale;
use super::rng::Rng;

/// Numbers drawn per API request: jitter, spike, fault band, fault detail.
pub const DRAWS_PER_REQUEST: usize = 4;

/// The `Retry-After` of a scripted [`ScriptedFault::RateLimited`], in simulated time: one
/// second is the smallest wait a `Retry-After` header can express.
pub const SCRIPTED_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The statuses a random `5xx` fault picks from, uniformly: the three a gateway in front of a
/// real API produces when the backend crashes, is unreachable, or is overloaded.
const RANDOM_SERVER_ERRORS: [StatusCode; 3] = [
    StatusCode::INTERNAL_SERVER_ERROR,
    StatusCode::BAD_GATEWAY,
    StatusCode::SERVICE_UNAVAILABLE,
];

/// Slack for probabilities that add up to 1 only up to floating-point rounding (0.7 + 0.3).
const PROBABILITY_SUM_TOLERANCE: f64 = 1e-9;

/// What faults to inject, as given on the command line. The default injects nothing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultSpec {
    /// `5xx`: chance of an injected 500, 502 or 503 in the API's JSON error envelope.
    pub server_error: f64,
    /// `reset`: chance of dropping the connection without any response.
    pub reset: f64,
    /// `truncate`: chance of announcing the full Content-Length and closing after half the body.
    pub truncate: f64,
    /// `html`: chance of a 502 with a load balancer's HTML page instead of JSON.
    pub html: f64,
    /// `ghost`: chance, for writes only, that the handler runs and the client still gets an error.
    pub ghost: f64,
    /// `latency`: delay added to every request.
    pub latency: Duration,
    /// `jitter`: the latency varies uniformly by up to this much either way (never below zero).
    pub jitter: Duration,
    /// `spike=P:D`: chance P of an extra delay D.
    pub spike: Option<Spike>,
    /// `storm=LEN/EVERY`: 429 to everything for LEN at the start of every EVERY, from one EVERY on.
    pub storm: Option<Storm>,
    /// `outage=START+LEN`: 503 to everything from START to START+LEN after the server starts.
    pub outage: Option<Outage>,
    /// `seed`: seeds the fault generator, overriding the simulator's seed.
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spike {
    pub probability: f64,
    pub delay: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Storm {
    pub length: Duration,
    pub every: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outage {
    pub start: Duration,
    pub length: Duration,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FaultSpecError {
    #[error("fault spec item {item:?} is not of the form key=value")]
    NotKeyValue { item: String },
    #[error("unknown fault key {key:?}; known keys: {}", KEYS.join(", "))]
    UnknownKey { key: String },
    #[error("fault key {key:?} is given more than once")]
    DuplicateKey { key: String },
    #[error("invalid value {value:?} for fault key {key:?}: {reason}")]
    InvalidValue {
        key: String,
        value: String,
        reason: String,
    },
    #[error(
        "the chances of 5xx, reset, truncate, html and ghost add up to {sum}; they exclude each \
         other, so the sum must be at most 1"
    )]
    ProbabilitiesExceedOne { sum: f64 },
}

/// Spec keys in their canonical order, the order [`FaultSpec`]'s `Display` writes them in.
const KEYS: [&str; 11] = [
    "5xx", "reset", "truncate", "html", "ghost", "latency", "jitter", "spike", "storm", "outage",
    "seed",
];

impl FaultSpec {
    /// True when the spec injects nothing (a seed alone injects nothing).
    pub fn is_none(&self) -> bool {
        Self {
            seed: None,
            ..self.clone()
        } == Self::default()
    }

    fn exclusive_probability_sum(&self) -> f64 {
        self.server_error + self.reset + self.truncate + self.html + self.ghost
    }
}

impl FromStr for FaultSpec {
    type Err = FaultSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let mut spec = Self::default();
        if text.is_empty() || text == "none" {
            return Ok(spec);
        }
        let mut seen: Vec<&str> = Vec::new();
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let Some((key, value)) = item.split_once('=') else {
                return Err(FaultSpecError::NotKeyValue { item: item.into() });
            };
            let (key, value) = (key.trim(), value.trim());
            if !KEYS.contains(&key) {
                return Err(FaultSpecError::UnknownKey { key: key.into() });
            }
            if seen.contains(&key) {
                return Err(FaultSpecError::DuplicateKey { key: key.into() });
            }
            seen.push(key);
            let invalid = |reason: String| FaultSpecError::InvalidValue {
                key: key.into(),
                value: value.into(),
                reason,
            };
            match key {
                "5xx" => spec.server_error = parse_probability(value).map_err(invalid)?,
                "reset" => spec.reset = parse_probability(value).map_err(invalid)?,
                "truncate" => spec.truncate = parse_probability(value).map_err(invalid)?,
                "html" => spec.html = parse_probability(value).map_err(invalid)?,
                "ghost" => spec.ghost = parse_probability(value).map_err(invalid)?,
                "latency" => spec.latency = parse_duration(value).map_err(invalid)?,
                "jitter" => spec.jitter = parse_duration(value).map_err(invalid)?,
                "spike" => spec.spike = Some(parse_spike(value).map_err(invalid)?),
                "storm" => spec.storm = Some(parse_storm(value).map_err(invalid)?),
                "outage" => spec.outage = Some(parse_outage(value).map_err(invalid)?),
                "seed" => {
                    let seed = value
                        .parse()
                        .map_err(|_| invalid("expected a whole number from 0 to 2^64-1".into()))?;
                    spec.seed = Some(seed);
                }
                _ => unreachable!("every key in KEYS has a parser"),
            }
        }
        let sum = spec.exclusive_probability_sum();
        if sum > 1.0 + PROBABILITY_SUM_TOLERANCE {
            return Err(FaultSpecError::ProbabilitiesExceedOne { sum });
        }
        Ok(spec)
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items: Vec<String> = Vec::new();
        let probabilities = [
            ("5xx", self.server_error),
            ("reset", self.reset),
            ("truncate", self.truncate),
            ("html", self.html),
            ("ghost", self.ghost),
        ];
        for (key, probability) in probabilities {
            if probability > 0.0 {
                items.push(format!("{key}={probability}"));
            }
        }
        for (key, duration) in [("latency", self.latency), ("jitter", self.jitter)] {
            if !duration.is_zero() {
                items.push(format!("{key}={}", DisplayDuration(duration)));
            }
        }
        if let Some(Spike { probability, delay }) = self.spike {
            items.push(format!("spike={probability}:{}", DisplayDuration(delay)));
        }
        if let Some(Storm { length, every }) = self.storm {
            let (length, every) = (DisplayDuration(length), DisplayDuration(every));
            items.push(format!("storm={length}/{every}"));
        }
        if let Some(Outage { start, length }) = self.outage {
            let (start, length) = (DisplayDuration(start), DisplayDuration(length));
            items.push(format!("outage={start}+{length}"));
        }
        if let Some(seed) = self.seed {
            items.push(format!("seed={seed}"));
        }
        if items.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&items.join(","))
        }
    }
}

fn parse_probability(value: &str) -> Result<f64, String> {
    let probability: f64 = value
        .parse()
        .map_err(|_| "expected a probability such as 0.05".to_owned())?;
    if (0.0..=1.0).contains(&probability) {
        Ok(probability)
    } else {
        Err("a probability must be between 0 and 1".into())
    }
}

/// Units accepted in durations, largest first, so that formatting can pick the largest exact one.
const DURATION_UNITS: [(&str, u128); 6] = [
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// Parses `80ms`, `2s`, `1.5m` and so on. A unit is required: a bare number is ambiguous.
fn parse_duration(value: &str) -> Result<Duration, String> {
    const HINT: &str = "expected a duration such as 80ms, 2s or 5m (units: h, m, s, ms, us, ns)";
    let digits_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(digits_end);
    let Some(&(_, unit_nanos)) = DURATION_UNITS.iter().find(|(name, _)| *name == unit) else {
        return Err(HINT.into());
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) || fraction.len() > 18 {
        return Err(HINT.into());
    }
    let too_long = || "duration is too long".to_owned();
    let whole: u128 = whole.parse().map_err(|_| too_long())?;
    let fraction_nanos = if fraction.is_empty() {
        0
    } else {
        let digits = u32::try_from(fraction.len()).map_err(|_| too_long())?;
        fraction.parse::<u128>().map_err(|_| too_long())? * unit_nanos / 10u128.pow(digits)
    };
    let nanos = whole
        .checked_mul(unit_nanos)
        .and_then(|n| n.checked_add(fraction_nanos))
        .ok_or_else(too_long)?;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// Formats a duration in the largest unit up to seconds that represents it exactly, so parsing
/// gives it back.
struct DisplayDuration(Duration);

impl fmt::Display for DisplayDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nanos = self.0.as_nanos();
        if nanos == 0 {
            return f.write_str("0s");
        }
        // Minutes and hours are accepted but not written: "120s" reads better than "2m" next
        // to the seconds that specs are mostly written in.
        let (unit, unit_nanos) = DURATION_UNITS
            .iter()
            .skip_while(|(name, _)| *name != "s")
            .find(|(_, unit_nanos)| nanos.is_multiple_of(*unit_nanos))
            .copied()
            .unwrap_or(("ns", 1));
        write!(f, "{}{unit}", nanos / unit_nanos)
    }
}

fn parse_spike(value: &str) -> Result<Spike, String> {
    let (probability, delay) = value
        .split_once(':')
        .ok_or_else(|| "expected PROBABILITY:DURATION such as 0.01:2s".to_owned())?;
    Ok(Spike {
        probability: parse_probability(probability)?,
        delay: parse_duration(delay)?,
    })
}

fn parse_storm(value: &str) -> Result<Storm, String> {
    let (length, every) = value
        .split_once('/')
        .ok_or_else(|| "expected LENGTH/PERIOD such as 30s/120s".to_owned())?;
    let storm = Storm {
        length: parse_duration(length)?,
        every: parse_duration(every)?,
    };
    if storm.length.is_zero() || storm.length > storm.every {
        return Err("the storm length must be above zero and at most the period".into());
    }
    Ok(storm)
}

fn parse_outage(value: &str) -> Result<Outage, String> {
    let (start, length) = value
        .split_once('+')
        .ok_or_else(|| "expected START+LENGTH such as 20s+30s".to_owned())?;
    let outage = Outage {
        start: parse_duration(start)?,
        length: parse_duration(length)?,
    };
    if outage.length.is_zero() {
        return Err("the outage length must be above zero".into());
    }
    Ok(outage)
}

/// Kinds of injected fault, as counted in `/_sim/stats` under `faults`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultKind {
    /// An injected error status: a random `5xx`, or a scripted [`ScriptedFault::Status`].
    ServerError,
    Reset,
    Truncate,
    Html,
    Ghost,
    /// A latency spike (plain latency and jitter are not counted as faults).
    Spike,
    /// A 429 answered because a storm was raging.
    Storm,
    /// A 503 answered because of the outage window.
    Outage,
    /// A scripted [`ScriptedFault::RateLimited`].
    RateLimited,
    /// A scripted [`ScriptedFault::Delay`].
    Delay,
}

impl FaultKind {
    pub const ALL: [Self; 10] = [
        Self::ServerError,
        Self::Reset,
        Self::Truncate,
        Self::Html,
        Self::Ghost,
        Self::Spike,
        Self::Storm,
        Self::Outage,
        Self::RateLimited,
        Self::Delay,
    ];

    /// The name in stats, matching the spec key where there is one.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServerError => "5xx",
            Self::Reset => "reset",
            Self::Truncate => "truncate",
            Self::Html => "html",
            Self::Ghost => "ghost",
            Self::Spike => "spike",
            Self::Storm => "storm",
            Self::Outage => "outage",
            Self::RateLimited => "rate_limited",
            Self::Delay => "delay",
        }
    }
}

/// A fault a test forces on matching requests, ahead of any random fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptedFault {
    /// Answer with this status in the API's error envelope, without running the handler.
    Status(u16),
    Reset,
    Truncate,
    Html,
    /// Run the handler, then drop the connection or answer 500 (a coin flip); any method.
    Ghost,
    /// Answer the API's 429 with a `Retry-After` of [`SCRIPTED_RETRY_AFTER`].
    RateLimited,
    /// Add this much simulated time to the request's latency, then serve it normally.
    Delay(Duration),
}

/// Which requests a scripted fault applies to: a method (or any) and a path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    method: Option<Method>,
    path_prefix: String,
}

impl Matcher {
    /// Every API request.
    pub fn any() -> Self {
        Self {
            method: None,
            path_prefix: String::new(),
        }
    }

    /// Requests with `method` whose path starts with `path_prefix`.
    pub fn new(method: Method, path_prefix: impl Into<String>) -> Self {
        Self {
            method: Some(method),
            path_prefix: path_prefix.into(),
        }
    }

    /// Requests with any method whose path starts with `path_prefix`.
    pub fn path(path_prefix: impl Into<String>) -> Self {
        Self {
            method: None,
            path_prefix: path_prefix.into(),
        }
    }

    pub fn matches(&self, method: &Method, path: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m == method) && path.starts_with(&self.path_prefix)
    }
}

#[derive(Debug)]
struct ScriptEntry {
    matcher: Matcher,
    fault: ScriptedFault,
    remaining: u32,
}

/// How a ghost write ends for the client after the handler has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GhostEnding {
    Reset,
    ServerError,
}

/// What the server layer does with one request after the delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Pass,
    Outage,
    Storm { retry_after: Duration },
    RateLimited { retry_after: Duration },
    Status(StatusCode),
    Reset,
    Truncate,
    Html,
    Ghost(GhostEnding),
}

/// The decision for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Real time to wait before acting.
    pub delay: Duration,
    pub spiked: bool,
    pub scripted_delay: bool,
    pub action: Action,
}

impl Plan {
    /// The faults this plan injects, for stats.
    pub fn fault_kinds(&self) -> Vec<FaultKind> {
        let mut kinds = Vec::new();
        if self.spiked {
            kinds.push(FaultKind::Spike);
        }
        if self.scripted_delay {
            kinds.push(FaultKind::Delay);
        }
        let action_kind = match self.action {
            Action::Pass => None,
            Action::Outage => Some(FaultKind::Outage),
            Action::Storm { .. } => Some(FaultKind::Storm),
            Action::RateLimited { .. } => Some(FaultKind::RateLimited),
            Action::Status(_) => Some(FaultKind::ServerError),
            Action::Reset => Some(FaultKind::Reset),
            Action::Truncate => Some(FaultKind::Truncate),
            Action::Html => Some(FaultKind::Html),
            Action::Ghost(_) => Some(FaultKind::Ghost),
        };
        kinds.extend(action_kind);
        kinds
    }
}

#[derive(Debug)]
struct InjectorState {
    spec: FaultSpec,
    rng: Rng,
    script: VecDeque<ScriptEntry>,
    started: Instant,
}

/// The shared fault decision-maker of one simulator (`Arc<FaultInjector>`).
#[derive(Debug)]
pub struct FaultInjector {
    scale: TimeScale,
    state: Mutex<InjectorState>,
}

fn fault_rng(seed: u64) -> Rng {
    // A fork, so that the same --seed drives workspace generation and faults independently.
    Rng::new(seed).fork("faults")
}

impl FaultInjector {
    /// An injector for `spec`, seeded with `spec.seed` if given, else with `seed`. The storm and
    /// outage clock starts now and again when the server starts (see [`Self::restart_clock`]).
    pub fn new(spec: FaultSpec, scale: TimeScale, seed: u64) -> Self {
        let rng = fault_rng(spec.seed.unwrap_or(seed));
        Self {
            scale,
            state: Mutex::new(InjectorState {
                spec,
                rng,
                script: VecDeque::new(),
                started: Instant::now(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, InjectorState> {
        // Every critical section leaves the state consistent, so a panic elsewhere while the
        // lock was held does not make it unusable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn scale(&self) -> TimeScale {
        self.scale
    }

    pub fn spec(&self) -> FaultSpec {
        self.state().spec.clone()
    }

    /// Replaces the spec at runtime. A spec with a seed restarts the generator from it; one
    /// without keeps the current stream. The script and the clock are kept.
    pub fn set_spec(&self, spec: FaultSpec) {
        let mut state = self.state();
        if let Some(seed) = spec.seed {
            state.rng = fault_rng(seed);
        }
        state.spec = spec;
    }

    /// The instant storm and outage windows are measured from.
    pub fn started_at(&self) -> Instant {
        self.state().started
    }

    /// Measures storm and outage windows from now; [`super::server::spawn`] calls it once the
    /// socket is bound, so that `outage=20s+30s` means 20 s after the server is up.
    pub fn restart_clock(&self) {
        self.state().started = Instant::now();
    }

    /// Forces `fault` on the next `times` requests that `matcher` matches. Entries are tried in
    /// the order they were added; the first that matches a request applies and is used up.
    ///
    /// # Panics
    /// If `fault` is a [`ScriptedFault::Status`] whose code is not an HTTP status (100 to 999),
    /// which is a mistake in the calling test.
    pub fn script(&self, matcher: Matcher, fault: ScriptedFault, times: u32) {
        if let ScriptedFault::Status(code) = fault {
            assert!(
                StatusCode::from_u16(code).is_ok(),
                "ScriptedFault::Status({code}) is not an HTTP status code"
            );
        }
        if times == 0 {
            return;
        }
        self.state().script.push_back(ScriptEntry {
            matcher,
            fault,
            remaining: times,
        });
    }

    /// How many scripted faults are still waiting for a matching request.
    pub fn scripted_remaining(&self) -> u32 {
        self.state()
            .script
            .iter()
            .map(|entry| entry.remaining)
            .sum()
    }

    pub fn clear_script(&self) {
        self.state().script.clear();
    }

    /// Decides the fate of one API request arriving at `now`. Callers exclude `/_sim/` paths.
    pub(crate) fn plan(&self, method: &Method, path: &str, now: Instant) -> Plan {
        let mut guard = self.state();
        let state = &mut *guard;
        let [jitter_draw, spike_draw, band_draw, detail_draw] =
            std::array::from_fn::<f64, DRAWS_PER_REQUEST, _>(|_| state.rng.unit());
        let spec = &state.spec;

        let jitter_offset = spec.jitter.mul_f64((2.0 * jitter_draw - 1.0).abs());
        let mut simulated_delay = if jitter_draw < 0.5 {
            spec.latency.saturating_sub(jitter_offset)
        } else {
            spec.latency.saturating_add(jitter_offset)
        };
        let spiked = spec
            .spike
            .is_some_and(|spike| spike_draw < spike.probability);
        if let Some(spike) = spec.spike.filter(|_| spiked) {
            simulated_delay = simulated_delay.saturating_add(spike.delay);
        }

        let elapsed = now.saturating_duration_since(state.started);
        let mut plan = Plan {
            delay: Duration::ZERO,
            spiked,
            scripted_delay: false,
            action: Action::Pass,
        };
        if let Some(outage) = spec.outage
            && self.in_outage(outage, elapsed)
        {
            plan.action = Action::Outage;
        } else if let Some(retry_after) = spec.storm.and_then(|s| self.storm_remaining(s, elapsed))
        {
            plan.action = Action::Storm { retry_after };
        } else if let Some(fault) = take_scripted(&mut state.script, method, path) {
            plan.action = match fault {
                ScriptedFault::Status(code) => {
                    Action::Status(StatusCode::from_u16(code).expect("checked by script()"))
                }
                ScriptedFault::Reset => Action::Reset,
                ScriptedFault::Truncate => Action::Truncate,
                ScriptedFault::Html => Action::Html,
                ScriptedFault::Ghost => Action::Ghost(ghost_ending(detail_draw)),
                ScriptedFault::RateLimited => Action::RateLimited {
                    retry_after: self.scale.scale(SCRIPTED_RETRY_AFTER),
                },
                ScriptedFault::Delay(extra) => {
                    simulated_delay = simulated_delay.saturating_add(extra);
                    plan.scripted_delay = true;
                    Action::Pass
                }
            };
        } else {
            plan.action = random_action(spec, is_write(method), band_draw, detail_draw);
        }
        plan.delay = self.scale.scale(simulated_delay);
        plan
    }

    fn in_outage(&self, outage: Outage, elapsed: Duration) -> bool {
        let start = self.scale.scale(outage.start);
        let end = start.saturating_add(self.scale.scale(outage.length));
        (start..end).contains(&elapsed)
    }

    /// If a storm rages `elapsed` after the start, the real time until it ends.
    fn storm_remaining(&self, storm: Storm, elapsed: Duration) -> Option<Duration> {
        let every = self.scale.scale(storm.every).as_nanos().max(1);
        let length = self.scale.scale(storm.length).as_nanos();
        let elapsed = elapsed.as_nanos();
        let phase = elapsed % every;
        (elapsed >= every && phase < length)
            .then(|| Duration::from_nanos(u64::try_from(length - phase).unwrap_or(u64::MAX)))
    }
}

/// Writes are the methods that change state, the only ones a ghost can haunt.
pub fn is_write(method: &Method) -> bool {
    [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method)
}

fn take_scripted(
    script: &mut VecDeque<ScriptEntry>,
    method: &Method,
    path: &str,
) -> Option<ScriptedFault> {
    let index = script
        .iter()
        .position(|entry| entry.matcher.matches(method, path))?;
    let entry = &mut script[index];
    let fault = entry.fault;
    entry.remaining -= 1;
    if entry.remaining == 0 {
        script.remove(index);
    }
    Some(fault)
}

fn ghost_ending(detail_draw: f64) -> GhostEnding {
    if detail_draw < 0.5 {
        GhostEnding::Reset
    } else {
        GhostEnding::ServerError
    }
}

fn random_action(spec: &FaultSpec, write: bool, band_draw: f64, detail_draw: f64) -> Action {
    let mut band_end = 0.0;
    let mut lands_in = |probability: f64| {
        let band_start = band_end;
        band_end += probability;
        (band_start..band_end).contains(&band_draw)
    };
    if lands_in(spec.server_error) {
        let index = ((detail_draw * RANDOM_SERVER_ERRORS.len() as f64) as usize)
            .min(RANDOM_SERVER_ERRORS.len() - 1);
        Action::Status(RANDOM_SERVER_ERRORS[index])
    } else if lands_in(spec.reset) {
        Action::Reset
    } else if lands_in(spec.truncate) {
        Action::Truncate
    } else if lands_in(spec.html) {
        Action::Html
    } else if lands_in(spec.ghost) && write {
        Action::Ghost(ghost_ending(detail_draw))
    } else {
        Action::Pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = "5xx=0.05,reset=0.02,truncate=0.01,html=0.01,ghost=0.05,latency=80ms,\
                        jitter=20ms,spike=0.01:2s,storm=30s/120s,outage=20s+30s,seed=7";

    fn spec(text: &str) -> FaultSpec {
        text.parse().unwrap()
    }

    fn spec_error(text: &str) -> String {
        text.parse::<FaultSpec>().unwrap_err().to_string()
    }

    #[test]
    fn parses_every_key() {
        let parsed = spec(FULL);
        assert_eq!(
            parsed,
            FaultSpec {
                server_error: 0.05,
                reset: 0.02,
                truncate: 0.01,
                html: 0.01,
                ghost: 0.05,
                latency: Duration::from_millis(80),
                jitter: Duration::from_millis(20),
                spike: Some(Spike {
                    probability: 0.01,
                    delay: Duration::from_secs(2)
                }),
                storm: Some(Storm {
                    length: Duration::from_secs(30),
                    every: Duration::from_secs(120)
                }),
                outage: Some(Outage {
                    start: Duration::from_secs(20),
                    length: Duration::from_secs(30)
                }),
                seed: Some(7),
            }
        );
    }

    #[test]
    fn display_round_trips() {
        assert_eq!(spec(FULL).to_string(), FULL);
        for text in [
            "none",
            "reset=1",
            "latency=1500ms",
            "jitter=3us,seed=0",
            "storm=60s/3600s",
            "outage=0s+250ns",
            "5xx=0.1,ghost=0.9",
        ] {
            assert_eq!(spec(text).to_string(), text);
            assert_eq!(spec(&spec(text).to_string()), spec(text));
        }
    }

    #[test]
    fn display_normalises_order_and_units() {
        assert_eq!(
            spec(" seed=3 , latency=1.5s,5xx=0.5 ,").to_string(),
            "5xx=0.5,latency=1500ms,seed=3"
        );
        assert_eq!(spec("latency=2m").to_string(), "latency=120s");
    }

    #[test]
    fn empty_and_none_inject_nothing() {
        for text in ["", "  ", "none", "5xx=0,latency=0ms"] {
            assert!(spec(text).is_none(), "{text:?}");
        }
        assert!(spec("seed=4").is_none());
        assert!(!spec("latency=1ms").is_none());
    }

    #[test]
    fn errors_name_the_bad_key_and_value() {
        assert_eq!(
            spec_error("5xx=0.1,boom=1"),
            "unknown fault key \"boom\"; known keys: 5xx, reset, truncate, html, ghost, latency, \
             jitter, spike, storm, outage, seed"
        );
        assert_eq!(
            spec_error("reset"),
            "fault spec item \"reset\" is not of the form key=value"
        );
        assert_eq!(
            spec_error("reset=0.1,reset=0.2"),
            "fault key \"reset\" is given more than once"
        );
        assert_eq!(
            spec_error("reset=1.5"),
            "invalid value \"1.5\" for fault key \"reset\": a probability must be between 0 and 1"
        );
        assert!(spec_error("html=lots").contains("\"lots\" for fault key \"html\""));
        assert!(spec_error("latency=80").contains("expected a duration such as 80ms"));
        assert!(spec_error("latency=-5ms").contains("for fault key \"latency\""));
        assert!(spec_error("latency=5 days").contains("for fault key \"latency\""));
        assert!(spec_error("spike=0.1").contains("expected PROBABILITY:DURATION"));
        assert!(spec_error("spike=2:1s").contains("between 0 and 1"));
        assert!(spec_error("storm=30s").contains("expected LENGTH/PERIOD"));
        assert!(spec_error("storm=3m/2m").contains("at most the period"));
        assert!(spec_error("storm=0s/2m").contains("above zero"));
        assert!(spec_error("outage=20s").contains("expected START+LENGTH"));
        assert!(spec_error("outage=1s+0s").contains("above zero"));
        assert!(spec_error("seed=-1").contains("\"-1\" for fault key \"seed\""));
        assert!(spec_error("5xx=0.6,reset=0.5").contains("add up to 1.1"));
    }

    #[test]
    fn probabilities_may_add_up_to_exactly_one() {
        assert!("5xx=0.7,reset=0.3".parse::<FaultSpec>().is_ok());
    }

    #[test]
    fn fractional_durations_are_exact() {
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0.25m"), Ok(Duration::from_secs(15)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration(".5s").is_err());
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration("99999999999999999999999h").is_err());
    }

    fn injector(text: &str) -> FaultInjector {
        FaultInjector::new(spec(text), TimeScale::real(), 1)
    }

    fn plan_at(injector: &FaultInjector, method: Method, path: &str, after: Duration) -> Plan {
        injector.plan(&method, path, injector.started_at() + after)
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn outage_answers_everything_inside_its_window() {
        let faults = injector("outage=20s+30s");
        let at = |secs| plan_at(&faults, Method::GET, "/v1/x", secs * SECOND).action;
        assert_eq!(at(19), Action::Pass);
        assert_eq!(at(20), Action::Outage);
        assert_eq!(at(49), Action::Outage);
        assert_eq!(at(50), Action::Pass);
    }

    #[test]
    fn storms_start_after_one_period_and_report_their_remaining_length() {
        let faults = injector("storm=30s/120s");
        let at = |secs| plan_at(&faults, Method::GET, "/v1/x", secs * SECOND).action;
        assert_eq!(at(0), Action::Pass);
        assert_eq!(at(10), Action::Pass);
        assert_eq!(
            at(120),
            Action::Storm {
                retry_after: 30 * SECOND
            }
        );
        assert_eq!(
            at(245),
            Action::Storm {
                retry_after: 25 * SECOND
            }
        );
        assert_eq!(at(150), Action::Pass);
    }

    #[test]
    fn time_scale_shrinks_every_window_and_delay() {
        let faults = FaultInjector::new(
            spec("latency=2s,storm=30s/120s,outage=10s+5s"),
            TimeScale::new(100.0).unwrap(),
            1,
        );
        let at = |millis| plan_at(&faults, Method::GET, "/v1/x", Duration::from_millis(millis));
        assert_eq!(at(0).delay, Duration::from_millis(20));
        assert_eq!(at(100).action, Action::Outage);
        assert_eq!(at(150).action, Action::Pass);
        assert_eq!(
            at(1200).action,
            Action::Storm {
                retry_after: Duration::from_millis(300)
            }
        );
    }

    #[test]
    fn latency_jitter_and_spikes_stay_in_range() {
        let faults = injector("latency=80ms,jitter=20ms,spike=0.5:2s");
        let mut spikes = 0;
        for _ in 0..400 {
            let plan = plan_at(&faults, Method::GET, "/", Duration::ZERO);
            let base = if plan.spiked {
                spikes += 1;
                plan.delay - 2 * SECOND
            } else {
                plan.delay
            };
            assert!(
                (Duration::from_millis(60)..=Duration::from_millis(100)).contains(&base),
                "{base:?}"
            );
        }
        assert!((150..250).contains(&spikes), "{spikes} spikes out of 400");
    }

    #[test]
    fn scripted_faults_precede_random_ones_in_order_and_are_used_up() {
        let faults = injector("reset=1");
        faults.script(
            Matcher::new(Method::POST, "/v1/sources"),
            ScriptedFault::Status(503),
            2,
        );
        faults.script(Matcher::any(), ScriptedFault::Truncate, 1);
        let next = |method, path| plan_at(&faults, method, path, Duration::ZERO).action;
        assert_eq!(faults.scripted_remaining(), 3);
        // The POST entry does not match a GET, so the later catch-all applies.
        assert_eq!(next(Method::GET, "/v1/sources"), Action::Truncate);
        assert_eq!(
            next(Method::POST, "/v1/sources/a"),
            Action::Status(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert_eq!(next(Method::GET, "/v1/sources"), Action::Reset);
        assert_eq!(
            next(Method::POST, "/v1/sources"),
            Action::Status(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert_eq!(next(Method::POST, "/v1/sources"), Action::Reset);
        assert_eq!(faults.scripted_remaining(), 0);
    }

    #[test]
    fn outages_and_storms_do_not_consume_the_script() {
        let faults = injector("outage=0s+10s");
        faults.script(Matcher::any(), ScriptedFault::Html, 1);
        assert_eq!(
            plan_at(&faults, Method::GET, "/", SECOND).action,
            Action::Outage
        );
        assert_eq!(
            plan_at(&faults, Method::GET, "/", 11 * SECOND).action,
            Action::Html
        );
    }

    #[test]
    fn scripted_delays_add_to_latency_and_serve_normally() {
        let faults = FaultInjector::new(spec("latency=1s"), TimeScale::new(10.0).unwrap(), 1);
        faults.script(Matcher::path("/slow"), ScriptedFault::Delay(4 * SECOND), 1);
        let plan = plan_at(&faults, Method::GET, "/slow/x", Duration::ZERO);
        assert_eq!(plan.delay, Duration::from_millis(500));
        assert_eq!(plan.action, Action::Pass);
        assert_eq!(plan.fault_kinds(), vec![FaultKind::Delay]);
        faults.script(Matcher::any(), ScriptedFault::RateLimited, 1);
        assert_eq!(
            plan_at(&faults, Method::GET, "/", Duration::ZERO).action,
            Action::RateLimited {
                retry_after: Duration::from_millis(100)
            }
        );
    }

    #[test]
    #[should_panic(expected = "is not an HTTP status code")]
    fn scripting_an_impossible_status_is_a_test_bug() {
        injector("none").script(Matcher::any(), ScriptedFault::Status(42), 1);
    }

    #[test]
    fn ghosts_haunt_writes_only() {
        let faults = injector("ghost=1");
        for _ in 0..20 {
            assert_eq!(
                plan_at(&faults, Method::GET, "/", Duration::ZERO).action,
                Action::Pass
            );
            assert!(matches!(
                plan_at(&faults, Method::DELETE, "/", Duration::ZERO).action,
                Action::Ghost(_)
            ));
        }
    }

    fn actions(faults: &FaultInjector, n: usize) -> Vec<Action> {
        (0..n)
            .map(|i| {
                let method = if i % 2 == 0 {
                    Method::GET
                } else {
                    Method::POST
                };
                plan_at(faults, method, "/v1/x", Duration::ZERO).action
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let text = "5xx=0.2,reset=0.2,truncate=0.1,html=0.1,ghost=0.2";
        let a = actions(&FaultInjector::new(spec(text), TimeScale::real(), 9), 200);
        let b = actions(&FaultInjector::new(spec(text), TimeScale::real(), 9), 200);
        let c = actions(&FaultInjector::new(spec(text), TimeScale::real(), 10), 200);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let kinds: std::collections::HashSet<_> = a.iter().map(std::mem::discriminant).collect();
        assert_eq!(kinds.len(), 6, "every kind and no fault all occur: {a:?}");
    }

    #[test]
    fn a_seed_in_the_spec_overrides_the_simulator_seed_and_restarts_on_set_spec() {
        let text = "5xx=0.5,seed=77";
        let a = actions(&FaultInjector::new(spec(text), TimeScale::real(), 1), 50);
        let faults = FaultInjector::new(spec(text), TimeScale::real(), 2);
        assert_eq!(actions(&faults, 50), a);
        faults.set_spec(spec(text));
        assert_eq!(actions(&faults, 50), a);
    }

    #[test]
    fn scripted_faults_do_not_shift_the_random_stream() {
        let text = "5xx=0.3,reset=0.3";
        let plain = actions(&FaultInjector::new(spec(text), TimeScale::real(), 5), 30);
        let scripted = FaultInjector::new(spec(text), TimeScale::real(), 5);
        scripted.script(Matcher::any(), ScriptedFault::Html, 3);
        let with_script = actions(&scripted, 30);
        assert_eq!(with_script[..3], [Action::Html; 3]);
        assert_eq!(with_script[3..], plain[3..]);
    }

    #[test]
    fn random_server_errors_cover_500_502_and_503() {
        let faults = injector("5xx=1");
        let statuses: std::collections::BTreeSet<_> = actions(&faults, 100)
            .into_iter()
            .map(|action| match action {
                Action::Status(status) => status.as_u16(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(statuses.into_iter().collect::<Vec<_>>(), [500, 502, 503]);
    }
}
