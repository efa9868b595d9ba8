//! Simulated time: every timestamp is drawn between the workspace's creation and a fixed
//! horizon, never read from the machine's clock, so a seed yields the same workspace forever.

use chrono::{DateTime, Utc};

use crate::sim::rng::Rng;
use crate::sim::workspace::Timestamp;

/// 2016-01-01T00:00:00Z: the earliest a generated workspace is created.
const FIRST_WORKSPACE: i64 = 1_451_606_400;
/// 2019-12-31T00:00:00Z: the latest, leaving years of history before the horizon.
const LAST_WORKSPACE: i64 = 1_577_750_400;
/// 2023-06-30T00:00:00Z: the simulated "now", when the migration is rehearsed.
pub(super) const HORIZON: i64 = 1_688_083_200;

pub(super) const DAY: i64 = 86_400;

/// The time span a workspace's history fits in, as epoch seconds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Clock {
    pub workspace_created: i64,
}

impl Clock {
    pub fn new(rng: &mut Rng) -> Self {
        Self {
            workspace_created: between(rng, FIRST_WORKSPACE, LAST_WORKSPACE),
        }
    }

    /// A creation time for a resource of the workspace.
    pub fn created(&self, rng: &mut Rng) -> i64 {
        between(rng, self.workspace_created, HORIZON - DAY)
    }

    /// A creation time no earlier than its parent's.
    pub fn created_after(&self, rng: &mut Rng, parent: i64) -> i64 {
        between(rng, parent, HORIZON - DAY)
    }

    /// A last-update time no earlier than `created`; about a third of resources were never
    /// edited after creation.
    pub fn updated(&self, rng: &mut Rng, created: i64) -> i64 {
        if rng.chance(0.3) {
            created
        } else {
            between(rng, created, HORIZON)
        }
    }
}

pub(super) fn between(rng: &mut Rng, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        return lo;
    }
    lo + rng.below((hi - lo) as usize + 1) as i64
}

/// RFC 3339 UTC with milliseconds, as the Config API prints them (`2019-05-17T15:19:44.000Z`).
pub(super) fn timestamp(epoch_seconds: i64) -> Timestamp {
    DateTime::<Utc>::from_timestamp(epoch_seconds, 0)
        .expect("generated times lie between 2016 and 2023")
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_the_config_api_shape() {
        assert_eq!(timestamp(1_558_106_384), "2019-05-17T15:19:44.000Z");
        assert_eq!(timestamp(HORIZON), "2023-06-30T00:00:00.000Z");
    }

    #[test]
    fn creation_and_update_times_are_ordered() {
        let mut rng = Rng::new(3);
        let clock = Clock::new(&mut rng);
        for _ in 0..200 {
            let created = clock.created(&mut rng);
            let child = clock.created_after(&mut rng, created);
            let updated = clock.updated(&mut rng, child);
            assert!(clock.workspace_created <= created && created <= child);
            assert!(child <= updated && updated <= HORIZON);
        }
    }
}
