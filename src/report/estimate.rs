//! How long the rate limits make an apply take, computed with the client's own buckets.
//!
//! Rather than divide calls by limits (which ignores the burst, the safety margin and the fact
//! that an IAM write takes a slot from both its own 60-per-minute bucket and the default one),
//! the estimate replays the writes, in plan order and one at a time as `apply` sends them,
//! through real [`RateLimiter`]s shaped exactly as [`crate::public_api::PublicClient`] shapes
//! them, on a virtual clock that jumps over every wait. The result is the least time pacing
//! imposes; latency and retries come on top, which the report says. Invitations count as
//! `apply` sends them: [`MAX_INVITES_PER_REQUEST`] to a request.
//!
//! Invariant: pure and deterministic (no real clock, no I/O), so a report rendered twice from
//! the same ledger carries the same figure.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::apply::schedule::BATCHED_STEP;
use crate::apply::{ApplyOptions, Deferral};
use crate::http::{Clock, RateLimiter};
use crate::public_api::writer::{MAX_INVITES_PER_REQUEST, planned_operation};

use super::model::{OperationCalls, WriteEstimate};

/// Time that only moves when told to.
#[derive(Debug, Default)]
struct VirtualClock {
    now: Mutex<Duration>,
}

impl VirtualClock {
    fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Duration {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

/// One write request, as the ledger stores it.
#[derive(Debug, Clone, Copy)]
pub struct Write<'a> {
    /// The plan step (`create_source`, `invite_user`), which says whether `apply` sends the
    /// write by default or only with an opt-in flag.
    pub step: &'a str,
    pub method: &'a str,
    /// The path template (`/sources/{sourceId}`).
    pub path: &'a str,
}

/// Estimates the pacing of `writes`, sent in this order one at a time, with a default bucket of
/// `default_per_minute` (0: unpaced) and the documented per-operation buckets.
pub fn estimate<'a>(
    writes: impl IntoIterator<Item = Write<'a>>,
    default_per_minute: u32,
) -> WriteEstimate {
    let clock = Arc::new(VirtualClock::default());
    let default = RateLimiter::with_clock(default_per_minute, clock.clone());
    let mut own: HashMap<&'static str, RateLimiter> = HashMap::new();
    let mut per_operation: BTreeMap<String, OperationCalls> = BTreeMap::new();
    let mut calls = 0;
    let mut batched = 0;
    let mut opt_in: BTreeMap<String, usize> = Deferral::ALL
        .iter()
        .map(|d| (d.flag().to_owned(), 0))
        .collect();
    for write in writes {
        if write.step == BATCHED_STEP {
            batched += 1;
            if (batched - 1) % MAX_INVITES_PER_REQUEST != 0 {
                // Rides in the request of an invitation before it.
                continue;
            }
        }
        calls += 1;
        // Counted in the estimate all the same: the time is that of the complete migration.
        if let Some(deferral) = Deferral::of(write.step, ApplyOptions::default()) {
            *opt_in.entry(deferral.flag().to_owned()).or_default() += 1;
        }
        let operation = planned_operation(write.method, write.path);
        let limit = operation.and_then(|w| w.operation.documented_limit());
        // Both buckets are reserved at the same moment and the request waits for the later
        // slot, as the transport does.
        let mut wait = default.reserve();
        if let (Some(op), Some(limit)) = (operation, limit) {
            let bucket = own
                .entry(op.operation.id)
                .or_insert_with(|| RateLimiter::with_clock(limit, clock.clone()));
            wait = wait.max(bucket.reserve());
        }
        clock.advance(wait);
        let name = operation.map_or_else(
            || format!("{} {}", write.method, write.path),
            |w| w.operation.id.to_owned(),
        );
        per_operation
            .entry(name.clone())
            .or_insert_with(|| OperationCalls {
                operation: name,
                method: write.method.to_owned(),
                path: write.path.to_owned(),
                calls: 0,
                requests_per_minute: limit.unwrap_or(default_per_minute),
                own_limit: limit.is_some(),
            })
            .calls += 1;
    }
    WriteEstimate {
        calls,
        opt_in,
        // Rounded to milliseconds: finer digits are noise and would churn snapshots.
        estimated_seconds: (clock.now().as_secs_f64() * 1000.0).round() / 1000.0,
        default_requests_per_minute: default_per_minute,
        operations: per_operation.into_values().collect(),
    }
}

/// `1 h 02 min`, `4 min 05 s`, `12 s`, `under a second`: a duration a person reads at a glance.
pub fn human_duration(seconds: f64) -> String {
    if seconds < 1.0 {
        return "under a second".to_owned();
    }
    let total = seconds.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    if h > 0 {
        format!("{h} h {m:02} min")
    } else if m > 0 {
        format!("{m} min {s:02} s")
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes(method: &'static str, path: &'static str, n: usize) -> Vec<Write<'static>> {
        vec![
            Write {
                step: "create_source",
                method,
                path
            };
            n
        ]
    }

    #[test]
    fn the_default_bucket_paces_plain_writes_after_the_burst() {
        // 1,000/min: a burst of 10, then 1000 - 10 - 20 = 970 per minute.
        let estimate = estimate(writes("POST", "/sources", 980), 1_000);
        assert_eq!(estimate.calls, 980);
        let expected = 970.0 / 970.0 * 60.0;
        assert!(
            (estimate.estimated_seconds - expected).abs() < 0.1,
            "{}",
            estimate.estimated_seconds
        );
        assert_eq!(estimate.operations.len(), 1);
        assert_eq!(estimate.operations[0].operation, "createSource");
        assert!(!estimate.operations[0].own_limit);
    }

    #[test]
    fn an_operation_with_its_own_limit_is_paced_by_it() {
        // createLabel: 60/min, a burst of 3, then 60 - 3 - 1 = 56 per minute.
        let estimate = estimate(writes("POST", "/labels", 59), 1_000);
        let expected = 56.0 / 56.0 * 60.0;
        assert!(
            (estimate.estimated_seconds - expected).abs() < 0.1,
            "{}",
            estimate.estimated_seconds
        );
        assert!(estimate.operations[0].own_limit);
        assert_eq!(estimate.operations[0].requests_per_minute, 60);
    }

    #[test]
    fn no_limit_and_no_writes_take_no_time() {
        assert_eq!(
            estimate(writes("POST", "/sources", 50), 0).estimated_seconds,
            0.0
        );
        let none = estimate(Vec::new(), 1_000);
        assert_eq!((none.calls, none.estimated_seconds), (0, 0.0));
    }

    #[test]
    fn writes_sent_only_with_a_flag_are_counted_per_flag() {
        let step = |step, method, path| Write { step, method, path };
        let estimate = estimate(
            [
                step("create_source", "POST", "/sources"),
                step("invite_user", "POST", "/invites"),
                step(
                    "add_user_permissions",
                    "POST",
                    "/users/{userId}/permissions",
                ),
                step("enable_source", "PATCH", "/sources/{sourceId}"),
            ],
            1_000,
        );
        assert_eq!(estimate.calls, 4);
        assert_eq!(estimate.opt_in["--include-iam"], 2);
        assert_eq!(estimate.opt_in["--enable"], 1);
        let none = super::estimate(writes("POST", "/sources", 2), 1_000);
        assert_eq!(none.opt_in.values().sum::<usize>(), 0);
        assert_eq!(
            none.opt_in.len(),
            Deferral::ALL.len(),
            "every flag is present"
        );
    }

    #[test]
    fn invitations_count_fifty_to_a_request() {
        let invite = Write {
            step: "invite_user",
            method: "POST",
            path: "/invites",
        };
        let invites = vec![invite; 2 * MAX_INVITES_PER_REQUEST + 1];
        let estimate = estimate(invites, 1_000);
        assert_eq!(estimate.calls, 3);
        assert_eq!(estimate.opt_in["--include-iam"], 3);
        assert_eq!(estimate.operations[0].calls, 3);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(0.2), "under a second");
        assert_eq!(human_duration(12.4), "12 s");
        assert_eq!(human_duration(245.0), "4 min 05 s");
        assert_eq!(human_duration(3720.0), "1 h 02 min");
    }
}
