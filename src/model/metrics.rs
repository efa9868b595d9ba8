//! The time window of delivery-metrics reads, the same notion on both APIs (each client spells
//! its query parameters its own way).

use chrono::{DateTime, Utc};

/// Step of a delivery-metrics time series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    Minute,
    Hour,
    Day,
}

impl Granularity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "MINUTE",
            Self::Hour => "HOUR",
            Self::Day => "DAY",
        }
    }
}

/// The time window of delivery metrics. Without one, each API answers for its default window
/// (the last 24 hours on the Config API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub granularity: Granularity,
}

impl MetricsWindow {
    /// RFC 3339 in whole seconds, as both APIs take their time parameters.
    pub fn format_time(time: DateTime<Utc>) -> String {
        time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }
}
