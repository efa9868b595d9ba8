//! Simulated time: how `--time-scale` compresses every duration the simulators wait for.
//!
//! The simulators reproduce behaviour that unfolds over minutes in the real APIs (rate-limit
//! windows, 429 storms, outages, slow responses). Tests and rehearsals cannot wait that long, so
//! every simulated duration is divided by one factor before it is slept or compared against the
//! wall clock. The invariant: simulated durations are written in the units of the real API
//! everywhere (specs, constants, docs) and pass through [`TimeScale::scale`] exactly once, at the
//! point where they meet real time. Durations reported to clients (such as `Retry-After`) are
//! real, already scaled, because a client does not know it is talking to a simulator.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How many times faster than real time the simulators run. `1` is real time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeScale(f64);

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TimeScaleError {
    #[error("time scale {0:?} is not a number")]
    NotANumber(String),
    #[error("time scale must be a finite number greater than 0, got {0}")]
    OutOfRange(f64),
}

impl TimeScale {
    /// A scale of `factor`: every simulated duration becomes `factor` times shorter.
    /// Factors below 1 slow the simulation down, which is allowed but rarely useful.
    pub fn new(factor: f64) -> Result<Self, TimeScaleError> {
        if factor.is_finite() && factor > 0.0 {
            Ok(Self(factor))
        } else {
            Err(TimeScaleError::OutOfRange(factor))
        }
    }

    /// Real time: durations are used as given.
    pub const fn real() -> Self {
        Self(1.0)
    }

    pub fn factor(self) -> f64 {
        self.0
    }

    /// The real duration that stands for the simulated `duration`. Saturates at
    /// [`Duration::MAX`] rather than panicking when a tiny factor stretches a long duration.
    pub fn scale(self, duration: Duration) -> Duration {
        if self.0 == 1.0 {
            // Skips the float round trip, which could move a long duration by a nanosecond.
            return duration;
        }
        let nanos = duration.as_nanos() as f64 / self.0;
        if nanos < u64::MAX as f64 {
            // Rounded to whole nanoseconds so that, say, 2 s at 100x is exactly 20 ms.
            Duration::from_nanos(nanos.round() as u64)
        } else {
            Duration::try_from_secs_f64(nanos / 1e9).unwrap_or(Duration::MAX)
        }
    }
}

impl Default for TimeScale {
    fn default() -> Self {
        Self::real()
    }
}

impl fmt::Display for TimeScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for TimeScale {
    type Err = TimeScaleError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let factor: f64 = text
            .trim()
            .parse()
            .map_err(|_| TimeScaleError::NotANumber(text.to_owned()))?;
        Self::new(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divides_durations_by_the_factor() {
        let fast = TimeScale::new(100.0).unwrap();
        assert_eq!(
            fast.scale(Duration::from_secs(30)),
            Duration::from_millis(300)
        );
        assert_eq!(fast.factor(), 100.0);
        let slow = TimeScale::new(0.5).unwrap();
        assert_eq!(slow.scale(Duration::from_secs(3)), Duration::from_secs(6));
    }

    #[test]
    fn real_time_leaves_durations_untouched() {
        let odd = Duration::new(123_456_789, 987_654_321);
        assert_eq!(TimeScale::real().scale(odd), odd);
        assert_eq!(TimeScale::default(), TimeScale::real());
    }

    #[test]
    fn stretching_saturates_instead_of_panicking() {
        let glacial = TimeScale::new(1e-300).unwrap();
        assert_eq!(glacial.scale(Duration::from_secs(1)), Duration::MAX);
    }

    #[test]
    fn rejects_factors_that_are_not_positive_and_finite() {
        for bad in [0.0, -1.0, f64::INFINITY, f64::NAN] {
            assert!(TimeScale::new(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn parses_and_displays() {
        let scale: TimeScale = " 60 ".parse().unwrap();
        assert_eq!(scale.factor(), 60.0);
        assert_eq!(scale.to_string().parse::<TimeScale>().unwrap(), scale);
        assert_eq!(
            "fast".parse::<TimeScale>(),
            Err(TimeScaleError::NotANumber("fast".into()))
        );
        assert_eq!(
            "0".parse::<TimeScale>(),
            Err(TimeScaleError::OutOfRange(0.0))
        );
    }
}
