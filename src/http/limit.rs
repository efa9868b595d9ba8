//! Client-side pacing: a token bucket that keeps segbridge under an API's rate limit, so that
//! 429s stay rare accidents instead of being the pacing mechanism.
//!
//! The APIs count requests per fixed minute (the Config API: 200 per minute per token). A plain
//! bucket of `limit` tokens refilled at `limit` per minute would allow `2 × limit` in the first
//! minute (the full bucket, then the refill), so the numbers are chosen from the guarantee
//! instead: a bucket of capacity `B` refilled at `R` per minute grants at most `B + R` requests
//! in any 60-second interval, whatever the pattern of demand. [`RateLimiter::per_minute`] picks
//! a burst of a hundredth of the limit (at least 1, at most [`MAX_BURST`]) and `R = limit − B −
//! margin`, where the margin (2% of the limit) absorbs the difference between when we send and
//! when the server counts (latency varies by a few milliseconds, and the server's window is not
//! aligned with ours). For 200/min that is a burst of 2, a sustained 194 per minute, and at most
//! 196 in any minute: 3% slower than the limit, and no 429 from ourselves. The burst is kept
//! small because every token of it is taken from the sustained rate for the whole run; it only
//! saves the first requests of a run their wait.
//!
//! Waiting is by reservation (the generic cell rate algorithm): each caller takes the next slot
//! at once and sleeps until it comes, so concurrent callers are served in order without polling
//! and without a thundering herd when tokens come back. A caller that gives up while waiting
//! loses its slot, which errs on the side of sending less.
//!
//! Time comes from a [`Clock`], so that tests can run the limiter on virtual time and a client
//! talking to a time-scaled simulator (`segbridge sim --time-scale 60`) can pace itself on the
//! simulator's minutes ([`ScaledClock`]).
//!
//! APIs that report their window on every answer (the Public API's `X-RateLimit-Consumed`,
//! `-Remaining` and `-Reset`) can steer the bucket through [`RateLimiter::follow_server`]: a limit
//! below ours (`consumed + remaining`) becomes ours, and when the server says fewer requests
//! remain in its window than the bucket would grant before the window ends, the bucket grants
//! only those and then waits for the reset. The server counted the answered request and
//! everything before it, but not necessarily what was granted after it, so every grant made
//! since that request's own is assumed to be still on its way and subtracted. The reset is an
//! HTTP date with whole seconds, so the window may end up to [`RESET_PRECISION`] after the
//! date: the bucket waits that much longer rather than arrive early and be refused. Unless it
//! has seen a window turn: an answer whose `X-RateLimit-Consumed` fell to under half of the one
//! before started a new window, at most its latency earlier, and windows are a minute long, so
//! the next turns are known more closely than the date says. The wait then ends at the turn
//! that falls within the dated second, plus [`TURN_MARGIN`], and a turn seen ends what was
//! capped in the window before (a cap kept to the date's latest reading could otherwise reach
//! into the next window and stall it). (At real speed a second is a sixtieth of the window;
//! against a simulator at `--time-scale 60` it is the whole window, and waiting it out stalled
//! every writer once a window.)

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The largest burst [`RateLimiter::per_minute`] allows: enough to start a few concurrent reads
/// at once, small next to any limit worth pacing for.
pub const MAX_BURST: u32 = 10;

/// Requests per minute kept in reserve, as a fraction of the limit: see the module doc.
const MARGIN_DIVISOR: u32 = 50;

/// How late a window may reset after the date in `X-RateLimit-Reset`, which has whole seconds.
pub const RESET_PRECISION: Duration = Duration::from_secs(1);

/// The windows whose turns [`RateLimiter::follow_server`] predicts: the APIs count per minute.
const WINDOW: Duration = Duration::from_secs(60);

/// Added to a predicted window turn, in the clock's time (a hundredth of a window): the turn is
/// seen on an answer, so it is known late by up to a request's latency already; this covers
/// clocks that drift apart over a few windows. In real time it would be most of a window
/// against a simulator at `--time-scale 60`, and the bucket would stall that long every window.
pub const TURN_MARGIN: Duration = Duration::from_millis(600);

/// What a server said about its current window on a successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerWindow {
    /// Requests counted in the window (`X-RateLimit-Consumed`), when reported.
    pub consumed: Option<u32>,
    /// Requests left in the window (`X-RateLimit-Remaining`).
    pub remaining: u32,
    /// Real time until the window resets (from `X-RateLimit-Reset`).
    pub reset_in: Duration,
}

/// A slot taken from the limiter: how long (clock time) to wait before using it, and its place
/// in the order of grants, to relate the server's later answer to what was sent after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub wait: Duration,
    pub ticket: u64,
}

/// A source of time for the limiter.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Time elapsed since an origin fixed when the clock was made, in the clock's own time.
    fn now(&self) -> Duration;
    /// Waits for `duration` of the clock's own time.
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    /// The real duration that `duration` of this clock's time takes, for reporting waits.
    fn real_duration(&self, duration: Duration) -> Duration {
        duration
    }

    /// The duration of this clock's time that lasts `real`: the inverse of
    /// [`Clock::real_duration`].
    fn clock_duration(&self, real: Duration) -> Duration {
        real
    }
}

/// Real time, through Tokio's timer.
#[derive(Debug)]
pub struct SystemClock {
    origin: tokio::time::Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Time running `factor` times faster than real time, to pace against a simulator started with
/// `--time-scale factor`: its minutes are `60 / factor` real seconds long.
#[derive(Debug)]
pub struct ScaledClock {
    origin: tokio::time::Instant,
    factor: f64,
}

impl ScaledClock {
    /// # Panics
    /// If `factor` is not a finite number above zero.
    pub fn new(factor: f64) -> Self {
        assert!(
            factor.is_finite() && factor > 0.0,
            "a clock's time scale must be a finite number above zero, not {factor}"
        );
        Self {
            origin: tokio::time::Instant::now(),
            factor,
        }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Duration {
        self.origin.elapsed().mul_f64(self.factor)
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(self.real_duration(duration)))
    }

    fn real_duration(&self, duration: Duration) -> Duration {
        duration.div_f64(self.factor)
    }

    fn clock_duration(&self, real: Duration) -> Duration {
        real.mul_f64(self.factor)
    }
}

/// The bucket's shape for a per-minute limit: see the module doc for the arithmetic.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Shape {
    limit: u32,
    capacity: f64,
    /// Tokens per second.
    refill: f64,
}

impl Shape {
    fn per_minute(limit: u32) -> Self {
        let burst = (limit / 100).clamp(1, MAX_BURST);
        let margin = limit / MARGIN_DIVISOR;
        // A limit of 1 leaves nothing after the burst; refilling at one per minute still keeps
        // every minute at two at most, the nearest a bucket can get.
        let sustained = limit.saturating_sub(burst + margin).max(1);
        Self {
            limit,
            capacity: f64::from(burst),
            refill: f64::from(sustained) / 60.0,
        }
    }
}

/// The first turn of the windows that turned at `turned`, one [`WINDOW`] apart, at or after
/// `dated`, if it comes no later than `latest`.
fn next_turn(turned: Duration, dated: Duration, latest: Duration) -> Option<Duration> {
    let behind = dated.saturating_sub(turned);
    let windows = behind.as_nanos().div_ceil(WINDOW.as_nanos());
    let turn = turned + WINDOW.checked_mul(u32::try_from(windows).ok()?)?;
    (turn <= latest).then_some(turn)
}

/// The server's word on its window: at most `left` more grants before `until` (clock time).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cap {
    left: f64,
    until: Duration,
}

#[derive(Debug)]
struct State {
    shape: Option<Shape>,
    /// Tokens in the bucket; negative when callers have reserved slots not yet due.
    tokens: f64,
    updated: Duration,
    /// Slots reserved so far; the last one's number is its ticket.
    grants: u64,
    cap: Option<Cap>,
    /// The last `X-RateLimit-Consumed` seen, and when a window was last seen to turn.
    consumed: Option<u32>,
    turned_at: Option<Duration>,
}

impl State {
    fn refill(&mut self, now: Duration) {
        if let Some(shape) = self.shape {
            let elapsed = now.saturating_sub(self.updated).as_secs_f64();
            self.tokens = (self.tokens + elapsed * shape.refill).min(shape.capacity);
        }
        self.updated = self.updated.max(now);
    }
}

/// A token bucket shared by every request to one API (`Arc<RateLimiter>`).
pub struct RateLimiter {
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("clock", &self.clock)
            .field("state", &*self.state())
            .finish()
    }
}

impl RateLimiter {
    /// Paces to stay under `limit` requests in every minute, on real time. A limit of 0 means
    /// no limit.
    pub fn per_minute(limit: u32) -> Self {
        Self::with_clock(limit, Arc::new(SystemClock::new()))
    }

    /// As [`Self::per_minute`], on the given clock.
    pub fn with_clock(limit: u32, clock: Arc<dyn Clock>) -> Self {
        let shape = (limit > 0).then(|| Shape::per_minute(limit));
        let now = clock.now();
        Self {
            clock,
            state: Mutex::new(State {
                shape,
                // Starts full: the burst is there for the first requests of a run.
                tokens: shape.map_or(0.0, |s| s.capacity),
                updated: now,
                grants: 0,
                cap: None,
                consumed: None,
                turned_at: None,
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every critical section leaves the numbers consistent, so a panic elsewhere while the
        // lock was held does not make them unusable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The limit per minute the limiter keeps under, 0 for none.
    pub fn rate(&self) -> u32 {
        self.state().shape.map_or(0, |s| s.limit)
    }

    /// Changes the limit, for APIs that announce theirs as they go. Slots already reserved keep
    /// their time; later ones follow the new rate. 0 removes the limit.
    pub fn set_rate(&self, limit: u32) {
        let now = self.clock.now();
        let mut state = self.state();
        state.refill(now);
        let shape = (limit > 0).then(|| Shape::per_minute(limit));
        match shape {
            Some(shape) => state.tokens = state.tokens.min(shape.capacity),
            None => state.tokens = 0.0,
        }
        state.shape = shape;
    }

    /// Takes the next slot and says how long (in the clock's time) to wait before using it.
    /// The slot is committed: call [`Self::sleep`] with the result, or lose it.
    pub fn reserve(&self) -> Duration {
        self.reserve_ticket().wait
    }

    /// [`Self::reserve`], also numbering the slot for [`Self::follow_server`].
    pub fn reserve_ticket(&self) -> Reservation {
        let now = self.clock.now();
        let mut state = self.state();
        state.grants += 1;
        let ticket = state.grants;
        let Some(shape) = state.shape else {
            return Reservation {
                wait: Duration::ZERO,
                ticket,
            };
        };
        state.refill(now);
        if let Some(cap) = state.cap {
            if now >= cap.until {
                state.cap = None;
            } else if cap.left >= 1.0 {
                state.cap = Some(Cap {
                    left: cap.left - 1.0,
                    ..cap
                });
            } else {
                // The server's window is spent: this caller and every later one wait for it to
                // turn, then go at the bucket's pace.
                state.cap = None;
                let held = -(cap.until - now).as_secs_f64() * shape.refill;
                state.tokens = state.tokens.min(0.0).min(held);
            }
        }
        state.tokens -= 1.0;
        let wait = if state.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-state.tokens / shape.refill)
        };
        Reservation { wait, ticket }
    }

    /// Takes in what the server said about its window in the answer to the request that held
    /// `ticket` (see the module doc). Without a limit (rate 0) there is nothing to steer.
    pub fn follow_server(&self, ticket: u64, window: ServerWindow) {
        let now = self.clock.now();
        let mut state = self.state();
        let Some(mut shape) = state.shape else {
            return;
        };
        state.refill(now);
        if let Some(consumed) = window.consumed {
            let limit = consumed.saturating_add(window.remaining);
            if limit > 0 && limit < shape.limit {
                shape = Shape::per_minute(limit);
                state.tokens = state.tokens.min(shape.capacity);
                state.shape = Some(shape);
            }
        }
        if let Some(consumed) = window.consumed {
            // Answers in flight together arrive in any order, but none halves the count
            // within one window.
            if state
                .consumed
                .is_some_and(|before| consumed.saturating_mul(2) < before)
            {
                state.turned_at = Some(now);
                // Whatever was capped belonged to the window that ended.
                state.cap = None;
            }
            state.consumed = Some(consumed);
        }
        let sent_since = state.grants.saturating_sub(ticket);
        let left = f64::from(window.remaining) - sent_since as f64;
        let dated = now + self.clock.clock_duration(window.reset_in);
        let latest = dated + self.clock.clock_duration(RESET_PRECISION);
        let until = state
            .turned_at
            .and_then(|turned| next_turn(turned, dated, latest))
            .map_or(latest, |turn| (turn + TURN_MARGIN).min(latest));
        // Answers to requests in flight together report the same window with reset dates a
        // moment apart; only a reset clearly later is a new window.
        let tolerance = self.clock.clock_duration(RESET_PRECISION / 2);
        state.cap = match state.cap {
            Some(cap) if until <= cap.until + tolerance && until + tolerance >= cap.until => {
                Some(Cap {
                    left: cap.left.min(left),
                    until: cap.until.max(until),
                })
            }
            // A late answer about a window already over.
            Some(cap) if until < cap.until => Some(cap),
            _ => Some(Cap { left, until }),
        };
    }

    /// Waits for `duration` of the limiter's clock time.
    pub async fn sleep(&self, duration: Duration) {
        if !duration.is_zero() {
            self.clock.sleep(duration).await;
        }
    }

    /// The real time `duration` of the limiter's clock takes, for reporting waits.
    pub fn real_duration(&self, duration: Duration) -> Duration {
        self.clock.real_duration(duration)
    }

    /// Waits for the next slot; returns how long it waited (clock time).
    pub async fn acquire(&self) -> Duration {
        let wait = self.reserve();
        self.sleep(wait).await;
        wait
    }

    /// Empties the bucket and lets nothing through for `real` (real time): the server has said
    /// it is over its limit (a 429), and every concurrent caller should hold back, not only the
    /// one that was told.
    pub fn hold(&self, real: Duration) {
        let duration = self.clock.clock_duration(real);
        let now = self.clock.now();
        let mut state = self.state();
        let Some(shape) = state.shape else {
            return;
        };
        state.refill(now);
        let held = -duration.as_secs_f64() * shape.refill;
        state.tokens = state.tokens.min(0.0).min(held);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Virtual time: sleeping moves the clock forward at once, so a test can run minutes of
    /// pacing in microseconds. Only meaningful for one caller at a time.
    /// `scale` clock seconds pass in a real one, as for [`ScaledClock`].
    #[derive(Debug)]
    pub(crate) struct ManualClock {
        now: Mutex<Duration>,
        scale: f64,
    }

    impl Default for ManualClock {
        fn default() -> Self {
            Self::scaled(1.0)
        }
    }

    impl ManualClock {
        pub(crate) fn scaled(scale: f64) -> Self {
            Self {
                now: Mutex::new(Duration::ZERO),
                scale,
            }
        }

        pub(crate) fn advance(&self, by: Duration) {
            *self.now.lock().unwrap() += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Duration {
            *self.now.lock().unwrap()
        }

        fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
            self.advance(duration);
            Box::pin(std::future::ready(()))
        }

        fn real_duration(&self, duration: Duration) -> Duration {
            duration.div_f64(self.scale)
        }

        fn clock_duration(&self, real: Duration) -> Duration {
            real.mul_f64(self.scale)
        }
    }

    /// The times at which `n` back-to-back callers are let through.
    fn grants(limiter: &RateLimiter, clock: &ManualClock, n: usize) -> Vec<Duration> {
        (0..n)
            .map(|_| {
                let wait = limiter.reserve();
                clock.advance(wait);
                clock.now()
            })
            .collect()
    }

    /// A request let through now, whose answer reported `window`.
    fn answered(limiter: &RateLimiter, window: ServerWindow) {
        let ticket = limiter.reserve_ticket().ticket;
        limiter.follow_server(ticket, window);
    }

    /// The most grants in any window of `width` (half-open, starting at a grant).
    fn most_in_any_window(times: &[Duration], width: Duration) -> usize {
        let mut end = 0;
        let mut most = 0;
        for (start, t) in times.iter().enumerate() {
            while end < times.len() && times[end] < *t + width {
                end += 1;
            }
            most = most.max(end - start);
        }
        most
    }

    fn limiter(limit: u32) -> (Arc<ManualClock>, RateLimiter) {
        let clock = Arc::new(ManualClock::default());
        (clock.clone(), RateLimiter::with_clock(limit, clock))
    }

    #[test]
    fn the_shape_for_the_config_api_is_a_burst_of_2_and_194_per_minute() {
        let shape = Shape::per_minute(200);
        assert_eq!(shape.capacity, 2.0);
        assert_eq!(shape.refill * 60.0, 194.0);
    }

    #[test]
    fn bursts_then_paces_and_never_exceeds_the_limit_in_any_minute() {
        let (clock, limiter) = limiter(200);
        let times = grants(&limiter, &clock, 2_000);
        // The burst goes at once, the next caller waits.
        assert!(times[..2].iter().all(|t| t.is_zero()), "{:?}", &times[..3]);
        assert!(!times[2].is_zero());
        // The first minute is the dangerous one: a full bucket plus a minute of refill.
        let minute = Duration::from_secs(60);
        assert!(times.iter().filter(|t| **t < minute).count() <= 200);
        let most = most_in_any_window(&times, minute);
        assert!(most <= 196, "{most} requests in one minute");
        // ...and stays close to the limit over the long run: 2,000 requests in 10.3 minutes.
        let total = times.last().unwrap().as_secs_f64() / 60.0;
        assert!(total < 10.35, "{total} minutes");
    }

    #[test]
    fn idle_time_refills_only_up_to_the_burst() {
        let (clock, limiter) = limiter(200);
        grants(&limiter, &clock, 50);
        clock.advance(Duration::from_secs(3_600));
        let times = grants(&limiter, &clock, 400);
        let most = most_in_any_window(&times, Duration::from_secs(60));
        assert!(most <= 196, "{most}");
    }

    #[test]
    fn every_limit_keeps_under_itself() {
        for limit in [2, 5, 20, 60, 199, 200, 600, 10_000] {
            let (clock, limiter) = limiter(limit);
            let times = grants(&limiter, &clock, (limit as usize) * 4);
            let most = most_in_any_window(&times, Duration::from_secs(60));
            assert!(most <= limit as usize, "limit {limit}: {most} in a minute");
        }
    }

    #[test]
    fn set_rate_takes_effect_for_later_callers() {
        let (clock, limiter) = limiter(200);
        grants(&limiter, &clock, 10);
        limiter.set_rate(60);
        assert_eq!(limiter.rate(), 60);
        let start = clock.now();
        let times = grants(&limiter, &clock, 59);
        // 60/min with a burst of 1 and a margin of 1 refills 58 per minute: 59 take a minute.
        let spent = *times.last().unwrap() - start;
        assert!(spent >= Duration::from_secs(59), "{spent:?}");
        limiter.set_rate(0);
        assert_eq!(limiter.reserve(), Duration::ZERO);
    }

    #[test]
    fn a_lower_limit_from_the_server_becomes_ours() {
        let (_clock, limiter) = limiter(1_000);
        let ticket = limiter.reserve_ticket().ticket;
        limiter.follow_server(
            ticket,
            ServerWindow {
                consumed: Some(1),
                remaining: 59,
                reset_in: Duration::from_secs(60),
            },
        );
        assert_eq!(limiter.rate(), 60);
        // A higher one does not: ours was chosen by the user.
        limiter.follow_server(
            ticket,
            ServerWindow {
                consumed: Some(1),
                remaining: 5_000,
                reset_in: Duration::from_secs(60),
            },
        );
        assert_eq!(limiter.rate(), 60);
    }

    #[test]
    fn fewer_remaining_than_the_bucket_holds_waits_for_the_reset() {
        let (clock, limiter) = limiter(600);
        let ticket = limiter.reserve_ticket().ticket;
        // Two more were granted after the answered one: the server may not have counted them.
        limiter.reserve();
        limiter.reserve();
        limiter.follow_server(
            ticket,
            ServerWindow {
                consumed: None,
                remaining: 4,
                reset_in: Duration::from_secs(10),
            },
        );
        let start = clock.now();
        let times = grants(&limiter, &clock, 4);
        // 4 remaining minus 2 in flight: two go now, the third waits out the window.
        assert!(times[0] == start && times[1] == start, "{times:?}");
        let reset = start + Duration::from_secs(10) + RESET_PRECISION;
        assert!(times[2] >= reset, "{times:?}");
        assert!(times[3] > times[2], "{times:?}");
    }

    #[test]
    fn a_window_seen_turning_predicts_the_next_reset_closer_than_the_date() {
        let (clock, limiter) = limiter(600);
        let window = |consumed, remaining, reset_in| ServerWindow {
            consumed: Some(consumed),
            remaining,
            reset_in,
        };
        // The window turns between these two answers (the count falls from 590 to 3)...
        answered(&limiter, window(590, 10, Duration::from_millis(100)));
        clock.advance(Duration::from_millis(200));
        let turned = clock.now();
        answered(&limiter, window(3, 597, Duration::from_millis(59_900)));
        // ...and 59 s later the new one is spent, its reset dated 0.9 s ahead (whole seconds,
        // so up to a second later in fact).
        clock.advance(Duration::from_millis(59_000));
        answered(&limiter, window(600, 0, Duration::from_millis(900)));
        let wait = limiter.reserve();
        let at = clock.now() + wait;
        // The first grant after the turn comes one slot of the bucket (60 s / 558) after it.
        let slot = Duration::from_millis(108);
        assert!(at >= turned + WINDOW, "{wait:?}");
        assert!(at <= turned + WINDOW + TURN_MARGIN + slot, "{wait:?}");
        assert!(at + slot < clock.now() + Duration::from_millis(900) + RESET_PRECISION);
    }

    /// A limiter of 1,000 a minute on a clock 60 times faster than real time, as against
    /// `segbridge sim --time-scale 60`: a whole-second reset date is then a whole window.
    fn scaled_limiter() -> (Arc<ManualClock>, RateLimiter) {
        let clock = Arc::new(ManualClock::scaled(60.0));
        (clock.clone(), RateLimiter::with_clock(1_000, clock))
    }

    fn seen(consumed: u32, reset_in: Duration) -> ServerWindow {
        ServerWindow {
            consumed: Some(consumed),
            remaining: 1_000 - consumed,
            reset_in,
        }
    }

    #[test]
    fn on_a_scaled_clock_the_wait_ends_just_after_the_predicted_turn() {
        let (clock, limiter) = scaled_limiter();
        answered(&limiter, seen(990, Duration::ZERO));
        clock.advance(Duration::from_secs(30));
        let turned = clock.now();
        answered(&limiter, seen(3, Duration::ZERO));
        // 55 s later the window is spent; its reset is dated this very second (the date is
        // cut to whole seconds), so it may come up to a real second, a whole window, later.
        clock.advance(Duration::from_secs(55));
        answered(&limiter, seen(1_000, Duration::ZERO));
        let at = clock.now() + limiter.reserve();
        let slot = Duration::from_millis(62);
        assert!(at >= turned + WINDOW, "{at:?}");
        assert!(at <= turned + WINDOW + TURN_MARGIN + slot, "{at:?}");
    }

    #[test]
    fn a_window_seen_turning_ends_the_cap_of_the_one_before() {
        let (clock, limiter) = scaled_limiter();
        // Five left in a window whose reset is dated now: on this clock the cap may last a
        // whole window...
        answered(&limiter, seen(995, Duration::ZERO));
        // ...but the window turns half-way through it.
        clock.advance(Duration::from_secs(30));
        answered(&limiter, seen(2, Duration::ZERO));
        let start = clock.now();
        let times = grants(&limiter, &clock, 100);
        // 100 at the bucket's pace (970 a minute) take about 6 s, not the rest of a window.
        let spent = *times.last().unwrap() - start;
        assert!(spent < Duration::from_secs(10), "{spent:?}");
    }

    #[test]
    fn answers_out_of_order_are_no_turn() {
        let (clock, limiter) = limiter(600);
        let window = |consumed| ServerWindow {
            consumed: Some(consumed),
            remaining: 600 - consumed,
            reset_in: Duration::from_secs(30),
        };
        let ticket = limiter.reserve_ticket().ticket;
        limiter.follow_server(ticket, window(300));
        limiter.follow_server(ticket, window(297));
        clock.advance(Duration::from_secs(29));
        let ticket = limiter.reserve_ticket().ticket;
        limiter.follow_server(
            ticket,
            ServerWindow {
                consumed: Some(600),
                remaining: 0,
                reset_in: Duration::from_secs(1),
            },
        );
        // No turn was seen: the wait covers the whole second the date leaves open.
        assert!(limiter.reserve() >= Duration::from_secs(1) + RESET_PRECISION);
    }

    #[test]
    fn a_stale_answer_does_not_undo_a_newer_window() {
        let (clock, limiter) = limiter(600);
        let ticket = limiter.reserve_ticket().ticket;
        let window = |remaining, secs| ServerWindow {
            consumed: None,
            remaining,
            reset_in: Duration::from_secs(secs),
        };
        limiter.follow_server(ticket, window(100, 30));
        limiter.follow_server(ticket, window(0, 5));
        assert_eq!(limiter.reserve(), Duration::ZERO);
        clock.advance(Duration::from_secs(1));
        limiter.follow_server(ticket, window(0, 29));
        assert!(limiter.reserve() >= Duration::from_secs(29));
    }

    #[test]
    fn no_limit_never_waits() {
        let (clock, limiter) = limiter(0);
        assert!(grants(&limiter, &clock, 10_000).iter().all(|t| t.is_zero()));
    }

    #[test]
    fn hold_makes_every_caller_wait_it_out() {
        let (clock, limiter) = limiter(200);
        limiter.hold(Duration::from_secs(5));
        let first = limiter.reserve();
        assert!(first >= Duration::from_secs(5), "{first:?}");
        clock.advance(first);
        // The burst does not come back the moment the hold ends.
        assert!(!limiter.reserve().is_zero());
    }

    #[tokio::test]
    async fn concurrent_callers_are_served_in_order_on_real_time() {
        // 6,000/min with a burst of 10: 10 at once, then one every ~10.3 ms.
        let limiter = Arc::new(RateLimiter::per_minute(6_000));
        let started = tokio::time::Instant::now();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move { limiter.acquire().await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(90), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }

    #[test]
    fn a_scaled_clock_runs_faster() {
        let clock = ScaledClock::new(60.0);
        assert_eq!(
            clock.real_duration(Duration::from_secs(60)),
            Duration::from_secs(1)
        );
    }
}
