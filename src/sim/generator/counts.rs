//! How much of each kind the generator produces: the size presets and command-line overrides.

use std::fmt;
use std::str::FromStr;

/// A named workspace size. Each maps to a fixed [`Counts`] through [`Counts::preset`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    Tiny,
    Small,
    Medium,
    Large,
}

impl Preset {
    pub const ALL: [Preset; 4] = [Preset::Tiny, Preset::Small, Preset::Medium, Preset::Large];

    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Small => "small",
            Preset::Medium => "medium",
            Preset::Large => "large",
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = CountsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| CountsError::UnknownPreset(s.to_owned()))
    }
}

/// An inclusive range of counts, written `N` or `N-M` on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub min: usize,
    pub max: usize,
}

impl Span {
    pub const fn new(min: usize, max: usize) -> Self {
        Self { min, max }
    }

    pub const fn exactly(n: usize) -> Self {
        Self { min: n, max: n }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}-{}", self.min, self.max)
        }
    }
}

impl FromStr for Span {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        let number = |t: &str| t.trim().parse::<usize>().map_err(|_| ());
        match s.split_once('-') {
            Some((min, max)) => Ok(Span::new(number(min)?, number(max)?)),
            None => number(s).map(Span::exactly),
        }
    }
}

/// The most filters a destination may carry: the Config API refuses an eleventh.
pub const MAX_FILTERS_PER_DESTINATION: usize = 10;

/// A plan counts as large past this many event rules: the Config API pages rules at 200, so
/// larger plans exercise the paths a migration is most likely to get wrong.
pub const LARGE_PLAN_THRESHOLD: usize = 200;

/// Explicit counts for [`generate`](super::generate). Spans are drawn per parent resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    pub sources: usize,
    /// Destination instances per source, extra instances of one integration included.
    pub destinations_per_source: Span,
    /// At most [`MAX_FILTERS_PER_DESTINATION`]; skewed towards the minimum, as in real
    /// workspaces where most destinations have no filter at all.
    pub filters_per_destination: Span,
    pub tracking_plans: usize,
    /// Event rules (every version counted) of the ordinary plans.
    pub events_per_plan: Span,
    /// How many of the plans have more than [`LARGE_PLAN_THRESHOLD`] event rules.
    pub large_plans: usize,
    /// Event rules of the large plans; the minimum must exceed [`LARGE_PLAN_THRESHOLD`].
    pub large_plan_events: Span,
    pub source_functions: usize,
    pub destination_functions: usize,
    /// Sources (out of `sources`) that are instances of a source function.
    pub function_sources: usize,
    pub users: usize,
    /// IAM policies per user; the workspace owner (the first user) holds just the owner policy.
    pub policies_per_user: Span,
    pub invites: usize,
    /// How many of the built-in roles the workspace lists and grants, in canonical order.
    pub roles: usize,
    pub access_tokens: usize,
}

impl Counts {
    /// Sizes chosen for their users: `tiny` for unit tests that need one of everything and must
    /// stay instant; `small` for the demo (a few hundred resources, every variety present);
    /// `medium` for end-to-end runs that should finish in seconds (a couple of thousand);
    /// `large` for benchmarks and the pagination, rate-limit and progress paths (over 10,000
    /// resources besides the tracking plan rules).
    pub fn preset(preset: Preset) -> Counts {
        match preset {
            Preset::Tiny => Counts {
                sources: 5,
                destinations_per_source: Span::new(1, 3),
                filters_per_destination: Span::new(0, 3),
                tracking_plans: 2,
                events_per_plan: Span::new(3, 6),
                large_plans: 0,
                large_plan_events: Span::new(201, 220),
                source_functions: 1,
                destination_functions: 1,
                function_sources: 1,
                users: 4,
                policies_per_user: Span::new(1, 2),
                invites: 2,
                roles: super::iam::BUILTIN_ROLES.len(),
                access_tokens: 2,
            },
            Preset::Small => Counts {
                sources: 24,
                destinations_per_source: Span::new(2, 6),
                filters_per_destination: Span::new(0, MAX_FILTERS_PER_DESTINATION),
                tracking_plans: 5,
                events_per_plan: Span::new(8, 40),
                large_plans: 1,
                large_plan_events: Span::new(210, 260),
                source_functions: 3,
                destination_functions: 3,
                function_sources: 2,
                users: 15,
                policies_per_user: Span::new(1, 4),
                invites: 5,
                roles: super::iam::BUILTIN_ROLES.len(),
                access_tokens: 3,
            },
            Preset::Medium => Counts {
                sources: 100,
                destinations_per_source: Span::new(2, 7),
                filters_per_destination: Span::new(0, MAX_FILTERS_PER_DESTINATION),
                tracking_plans: 15,
                events_per_plan: Span::new(10, 120),
                large_plans: 3,
                large_plan_events: Span::new(201, 400),
                source_functions: 10,
                destination_functions: 8,
                function_sources: 8,
                users: 60,
                policies_per_user: Span::new(1, 4),
                invites: 15,
                roles: super::iam::BUILTIN_ROLES.len(),
                access_tokens: 8,
            },
            Preset::Large => Counts {
                sources: 600,
                destinations_per_source: Span::new(3, 9),
                filters_per_destination: Span::new(0, MAX_FILTERS_PER_DESTINATION),
                tracking_plans: 60,
                events_per_plan: Span::new(20, 150),
                large_plans: 6,
                large_plan_events: Span::new(201, 600),
                source_functions: 40,
                destination_functions: 30,
                function_sources: 30,
                users: 300,
                policies_per_user: Span::new(1, 4),
                invites: 60,
                roles: super::iam::BUILTIN_ROLES.len(),
                access_tokens: 20,
            },
        }
    }

    /// These counts with `overrides` applied, checked for consistency.
    pub fn with_overrides(mut self, overrides: &CountOverrides) -> Result<Counts, CountsError> {
        for (key, value) in &overrides.entries {
            key.apply(&mut self, *value);
        }
        self.validate()?;
        Ok(self)
    }

    /// Parses `key=value[,key=value…]` (see [`CountOverrides`]).
    pub fn parse_overrides(spec: &str) -> Result<CountOverrides, CountsError> {
        spec.parse()
    }

    /// Rejects counts the generator could only honour by silently changing them.
    pub fn validate(&self) -> Result<(), CountsError> {
        let invalid = |key: &'static str, reason: String| Err(CountsError::Invalid { key, reason });
        for key in CountKey::ALL {
            let Some(span) = key.span_of(self) else {
                continue;
            };
            if span.min > span.max {
                return invalid(
                    key.name(),
                    format!("minimum {} exceeds maximum {}", span.min, span.max),
                );
            }
        }
        if self.filters_per_destination.max > MAX_FILTERS_PER_DESTINATION {
            return invalid(
                "filters_per_destination",
                format!("at most {MAX_FILTERS_PER_DESTINATION} filters fit on a destination"),
            );
        }
        if self.large_plans > self.tracking_plans {
            return invalid(
                "large_plans",
                format!(
                    "{} exceeds tracking_plans ({})",
                    self.large_plans, self.tracking_plans
                ),
            );
        }
        if self.large_plans > 0 && self.large_plan_events.min <= LARGE_PLAN_THRESHOLD {
            return invalid(
                "large_plan_events",
                format!("a large plan has more than {LARGE_PLAN_THRESHOLD} event rules"),
            );
        }
        if self.function_sources > self.sources {
            return invalid(
                "function_sources",
                format!(
                    "{} exceeds sources ({})",
                    self.function_sources, self.sources
                ),
            );
        }
        if self.function_sources > 0 && self.source_functions == 0 {
            return invalid(
                "function_sources",
                "function instances need at least one source function".to_owned(),
            );
        }
        let builtin = super::iam::BUILTIN_ROLES.len();
        if self.roles > builtin || (self.roles == 0 && (self.users > 0 || self.invites > 0)) {
            return invalid(
                "roles",
                format!("between 1 and {builtin} when there are users or invites"),
            );
        }
        Ok(())
    }
}

/// Count overrides parsed from `key=value[,key=value…]`, e.g. `sources=40,tracking_plans=5`
/// or `destinations_per_source=1-3`. Keys are the field names of [`Counts`]; a key given twice
/// is an error rather than a silent last-wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountOverrides {
    entries: Vec<(CountKey, CountValue)>,
}

impl CountOverrides {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl FromStr for CountOverrides {
    type Err = CountsError;

    fn from_str(spec: &str) -> Result<Self, CountsError> {
        let mut entries: Vec<(CountKey, CountValue)> = Vec::new();
        for item in spec.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some((key, value)) = item.split_once('=') else {
                return Err(CountsError::MissingValue(item.to_owned()));
            };
            let key = CountKey::from_name(key.trim())?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(CountsError::Duplicate(key.name()));
            }
            entries.push((key, key.parse_value(value.trim())?));
        }
        Ok(CountOverrides { entries })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CountValue {
    Number(usize),
    Span(Span),
}

/// One overridable field of [`Counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CountKey {
    Sources,
    DestinationsPerSource,
    FiltersPerDestination,
    TrackingPlans,
    EventsPerPlan,
    LargePlans,
    LargePlanEvents,
    SourceFunctions,
    DestinationFunctions,
    FunctionSources,
    Users,
    PoliciesPerUser,
    Invites,
    Roles,
    AccessTokens,
}

impl CountKey {
    const ALL: [CountKey; 15] = [
        CountKey::Sources,
        CountKey::DestinationsPerSource,
        CountKey::FiltersPerDestination,
        CountKey::TrackingPlans,
        CountKey::EventsPerPlan,
        CountKey::LargePlans,
        CountKey::LargePlanEvents,
        CountKey::SourceFunctions,
        CountKey::DestinationFunctions,
        CountKey::FunctionSources,
        CountKey::Users,
        CountKey::PoliciesPerUser,
        CountKey::Invites,
        CountKey::Roles,
        CountKey::AccessTokens,
    ];

    fn name(self) -> &'static str {
        match self {
            CountKey::Sources => "sources",
            CountKey::DestinationsPerSource => "destinations_per_source",
            CountKey::FiltersPerDestination => "filters_per_destination",
            CountKey::TrackingPlans => "tracking_plans",
            CountKey::EventsPerPlan => "events_per_plan",
            CountKey::LargePlans => "large_plans",
            CountKey::LargePlanEvents => "large_plan_events",
            CountKey::SourceFunctions => "source_functions",
            CountKey::DestinationFunctions => "destination_functions",
            CountKey::FunctionSources => "function_sources",
            CountKey::Users => "users",
            CountKey::PoliciesPerUser => "policies_per_user",
            CountKey::Invites => "invites",
            CountKey::Roles => "roles",
            CountKey::AccessTokens => "access_tokens",
        }
    }

    fn from_name(name: &str) -> Result<CountKey, CountsError> {
        CountKey::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| CountsError::UnknownKey(name.to_owned()))
    }

    fn is_span(self) -> bool {
        matches!(
            self,
            CountKey::DestinationsPerSource
                | CountKey::FiltersPerDestination
                | CountKey::EventsPerPlan
                | CountKey::LargePlanEvents
                | CountKey::PoliciesPerUser
        )
    }

    fn parse_value(self, text: &str) -> Result<CountValue, CountsError> {
        let bad = || CountsError::BadValue {
            key: self.name(),
            value: text.to_owned(),
            expected: if self.is_span() {
                "a whole number or a range like 2-6"
            } else {
                "a whole number"
            },
        };
        if self.is_span() {
            text.parse().map(CountValue::Span).map_err(|()| bad())
        } else {
            text.parse().map(CountValue::Number).map_err(|_| bad())
        }
    }

    fn span_of(self, counts: &Counts) -> Option<Span> {
        match self {
            CountKey::DestinationsPerSource => Some(counts.destinations_per_source),
            CountKey::FiltersPerDestination => Some(counts.filters_per_destination),
            CountKey::EventsPerPlan => Some(counts.events_per_plan),
            CountKey::LargePlanEvents => Some(counts.large_plan_events),
            CountKey::PoliciesPerUser => Some(counts.policies_per_user),
            _ => None,
        }
    }

    fn apply(self, counts: &mut Counts, value: CountValue) {
        match (self, value) {
            (CountKey::DestinationsPerSource, CountValue::Span(s)) => {
                counts.destinations_per_source = s;
            }
            (CountKey::FiltersPerDestination, CountValue::Span(s)) => {
                counts.filters_per_destination = s;
            }
            (CountKey::EventsPerPlan, CountValue::Span(s)) => counts.events_per_plan = s,
            (CountKey::LargePlanEvents, CountValue::Span(s)) => counts.large_plan_events = s,
            (CountKey::PoliciesPerUser, CountValue::Span(s)) => counts.policies_per_user = s,
            (key, CountValue::Number(n)) => *key.number_mut(counts) = n,
            (key, CountValue::Span(_)) => unreachable!("`{}` takes a number", key.name()),
        }
    }

    fn number_mut(self, counts: &mut Counts) -> &mut usize {
        match self {
            CountKey::Sources => &mut counts.sources,
            CountKey::TrackingPlans => &mut counts.tracking_plans,
            CountKey::LargePlans => &mut counts.large_plans,
            CountKey::SourceFunctions => &mut counts.source_functions,
            CountKey::DestinationFunctions => &mut counts.destination_functions,
            CountKey::FunctionSources => &mut counts.function_sources,
            CountKey::Users => &mut counts.users,
            CountKey::Invites => &mut counts.invites,
            CountKey::Roles => &mut counts.roles,
            CountKey::AccessTokens => &mut counts.access_tokens,
            span => unreachable!("`{}` takes a range", span.name()),
        }
    }
}

fn known_keys() -> String {
    CountKey::ALL.map(CountKey::name).join(", ")
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountsError {
    #[error("unknown size preset `{0}` (expected tiny, small, medium or large)")]
    UnknownPreset(String),
    #[error("unknown count `{0}` (known counts: {keys})", keys = known_keys())]
    UnknownKey(String),
    #[error("`{0}` has no value: write it as `key=value`")]
    MissingValue(String),
    #[error("count `{0}` is given twice")]
    Duplicate(&'static str),
    #[error("count `{key}`: `{value}` is not {expected}")]
    BadValue {
        key: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("count `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_round_trip_through_their_names() {
        for preset in Preset::ALL {
            assert_eq!(preset.to_string().parse::<Preset>(), Ok(preset));
            assert_eq!(Counts::preset(preset).validate(), Ok(()));
        }
        let err = "huge".parse::<Preset>().unwrap_err();
        assert!(err.to_string().contains("`huge`"), "{err}");
    }

    #[test]
    fn overrides_apply_on_top_of_a_preset() {
        let overrides =
            Counts::parse_overrides("sources=40, tracking_plans=5,destinations_per_source=1-3")
                .unwrap();
        let counts = Counts::preset(Preset::Small)
            .with_overrides(&overrides)
            .unwrap();
        assert_eq!(counts.sources, 40);
        assert_eq!(counts.tracking_plans, 5);
        assert_eq!(counts.destinations_per_source, Span::new(1, 3));
        assert_eq!(counts.users, Counts::preset(Preset::Small).users);
        let single = Counts::parse_overrides("filters_per_destination=4").unwrap();
        let counts = Counts::preset(Preset::Tiny)
            .with_overrides(&single)
            .unwrap();
        assert_eq!(counts.filters_per_destination, Span::exactly(4));
        assert!(Counts::parse_overrides("").unwrap().is_empty());
    }

    #[test]
    fn override_errors_name_the_bad_key() {
        let err = Counts::parse_overrides("sources=4,sorces=5").unwrap_err();
        assert_eq!(err, CountsError::UnknownKey("sorces".into()));
        assert!(err.to_string().contains("`sorces`"), "{err}");
        assert!(err.to_string().contains("tracking_plans"), "{err}");

        let err = Counts::parse_overrides("users=many").unwrap_err();
        assert!(err.to_string().contains("`users`"), "{err}");
        assert!(err.to_string().contains("`many`"), "{err}");

        let err = Counts::parse_overrides("roles=1-3").unwrap_err();
        assert!(err.to_string().contains("`roles`"), "{err}");

        let err = Counts::parse_overrides("events_per_plan=3-x").unwrap_err();
        assert!(err.to_string().contains("range like 2-6"), "{err}");

        let err = Counts::parse_overrides("invites").unwrap_err();
        assert_eq!(err, CountsError::MissingValue("invites".into()));

        let err = Counts::parse_overrides("sources=1,sources=2").unwrap_err();
        assert_eq!(err, CountsError::Duplicate("sources"));
    }

    #[test]
    fn inconsistent_overrides_are_rejected_by_key() {
        let reject = |spec: &str| {
            let overrides = Counts::parse_overrides(spec).unwrap();
            match Counts::preset(Preset::Small).with_overrides(&overrides) {
                Err(CountsError::Invalid { key, .. }) => key,
                other => panic!("{spec}: {other:?}"),
            }
        };
        assert_eq!(
            reject("filters_per_destination=0-11"),
            "filters_per_destination"
        );
        assert_eq!(reject("events_per_plan=9-3"), "events_per_plan");
        assert_eq!(reject("tracking_plans=2,large_plans=3"), "large_plans");
        assert_eq!(reject("large_plan_events=150-300"), "large_plan_events");
        assert_eq!(reject("sources=1,function_sources=2"), "function_sources");
        assert_eq!(reject("source_functions=0"), "function_sources");
        assert_eq!(reject("roles=13"), "roles");
        assert_eq!(reject("roles=0"), "roles");
    }
}
