//! A fixed-window request counter, the rate-limiting model both Segment APIs document.
//!
//! Each key (a token, or a token and an endpoint bucket; the caller decides) gets `limit`
//! requests per `window`. Windows are aligned to the instant the key was first seen and then tile
//! time back to back: a key first seen at `t0` has windows `[t0, t0+w)`, `[t0+w, t0+2w)`, and so
//! on, whether or not it made requests in between. Aligning to first use rather than to the wall
//! clock keeps tests independent of when they happen to start, and keeping the grid fixed
//! afterwards (rather than re-anchoring on the first request after a pause) makes reset times
//! predictable the way a real fixed window is: a client that honours `reset_in` or `retry_after`
//! is always admitted on its next attempt.
//!
//! Rejected requests count against the window too (they show up in `consumed`) but never extend
//! it, so a client hammering through a 429 is not punished beyond the window's end.
//!
//! The key space is bounded by tokens times buckets, a handful in any simulation, so entries are
//! never evicted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed {
        /// Requests counted in the current window, this one included.
        consumed: u32,
        /// Requests still allowed in the current window after this one.
        remaining: u32,
        /// Real time until the current window ends and the count starts over.
        reset_in: Duration,
    },
    Limited {
        /// Real time until the current window ends; the value for `Retry-After`.
        retry_after: Duration,
        /// Requests counted in the current window, this rejected one included (so above the limit).
        consumed: u32,
    },
}

impl Admission {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }
}

#[derive(Debug)]
struct KeyWindow {
    started: Instant,
    consumed: u32,
}

/// A thread-safe fixed-window limiter. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct FixedWindow {
    limit: u32,
    window: Duration,
    keys: Mutex<HashMap<String, KeyWindow>>,
}

impl FixedWindow {
    /// `limit` requests per `window` of real time; the caller scales the window with its
    /// [`TimeScale`](super::clock::TimeScale). A zero window is raised to one nanosecond, which
    /// amounts to no limit, instead of dividing by zero.
    pub fn new(limit: u32, window: Duration) -> Self {
        Self {
            limit,
            window: window.max(Duration::from_nanos(1)),
            keys: Mutex::new(HashMap::new()),
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    /// Counts one request for `key` now.
    pub fn check(&self, key: &str) -> Admission {
        self.check_at(key, Instant::now())
    }

    /// Counts one request for `key` at `now`. Instants earlier than a key's current window (which
    /// only a test can produce) are treated as falling at the window's start.
    pub fn check_at(&self, key: &str, now: Instant) -> Admission {
        let mut keys = self
            .keys
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = keys.entry(key.to_owned()).or_insert(KeyWindow {
            started: now,
            consumed: 0,
        });
        let elapsed = now.saturating_duration_since(entry.started);
        if elapsed >= self.window {
            let window_nanos = self.window.as_nanos();
            let whole_windows = elapsed.as_nanos() / window_nanos;
            let advance = whole_windows * window_nanos;
            entry.started += nanos_to_duration(advance);
            entry.consumed = 0;
        }
        let window_end = entry.started + self.window;
        let until_reset = window_end.saturating_duration_since(now);
        entry.consumed = entry.consumed.saturating_add(1);
        if entry.consumed <= self.limit {
            Admission::Allowed {
                consumed: entry.consumed,
                remaining: self.limit - entry.consumed,
                reset_in: until_reset,
            }
        } else {
            Admission::Limited {
                retry_after: until_reset,
                consumed: entry.consumed,
            }
        }
    }
}

fn nanos_to_duration(nanos: u128) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % NANOS_PER_SEC) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn admits_up_to_the_limit_then_limits_until_the_window_ends() {
        let limiter = FixedWindow::new(2, 10 * SECOND);
        let t0 = Instant::now();
        assert_eq!(
            limiter.check_at("tok", t0),
            Admission::Allowed {
                consumed: 1,
                remaining: 1,
                reset_in: 10 * SECOND
            }
        );
        assert_eq!(
            limiter.check_at("tok", t0 + 4 * SECOND),
            Admission::Allowed {
                consumed: 2,
                remaining: 0,
                reset_in: 6 * SECOND
            }
        );
        assert_eq!(
            limiter.check_at("tok", t0 + 7 * SECOND),
            Admission::Limited {
                retry_after: 3 * SECOND,
                consumed: 3
            }
        );
        assert!(limiter.check_at("tok", t0 + 10 * SECOND).is_allowed());
    }

    #[test]
    fn keys_are_counted_separately() {
        let limiter = FixedWindow::new(1, SECOND);
        let t0 = Instant::now();
        assert!(limiter.check_at("a", t0).is_allowed());
        assert!(!limiter.check_at("a", t0).is_allowed());
        assert!(limiter.check_at("b", t0).is_allowed());
    }

    #[test]
    fn windows_stay_on_the_grid_of_first_use_after_a_pause() {
        let limiter = FixedWindow::new(1, 10 * SECOND);
        let t0 = Instant::now();
        limiter.check_at("tok", t0);
        // 35 s later is 5 s into the fourth window, not the start of a new one.
        assert_eq!(
            limiter.check_at("tok", t0 + 35 * SECOND),
            Admission::Allowed {
                consumed: 1,
                remaining: 0,
                reset_in: 5 * SECOND
            }
        );
        assert_eq!(
            limiter.check_at("tok", t0 + 39 * SECOND),
            Admission::Limited {
                retry_after: SECOND,
                consumed: 2
            }
        );
    }

    #[test]
    fn honouring_retry_after_is_always_admitted() {
        let limiter = FixedWindow::new(3, Duration::from_millis(700));
        let mut now = Instant::now();
        for _ in 0..50 {
            match limiter.check_at("tok", now) {
                Admission::Allowed { .. } => now += Duration::from_millis(90),
                Admission::Limited { retry_after, .. } => {
                    now += retry_after;
                    assert!(limiter.check_at("tok", now).is_allowed());
                }
            }
        }
    }

    #[test]
    fn a_zero_limit_rejects_everything_and_a_zero_window_nothing() {
        let t0 = Instant::now();
        assert!(!FixedWindow::new(0, SECOND).check_at("tok", t0).is_allowed());
        let unlimited = FixedWindow::new(1, Duration::ZERO);
        assert!(unlimited.check_at("tok", t0).is_allowed());
        assert!(
            unlimited
                .check_at("tok", t0 + Duration::from_nanos(1))
                .is_allowed()
        );
    }

    #[test]
    fn is_shared_across_threads() {
        let limiter = std::sync::Arc::new(FixedWindow::new(100, 60 * SECOND));
        let t0 = Instant::now();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .filter(|_| limiter.check_at("tok", t0).is_allowed())
                        .count()
                })
            })
            .collect();
        let admitted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(admitted, 100);
    }
}
