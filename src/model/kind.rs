//! Resource kinds, with one name each. The names are the ones the simulators use in
//! `/_sim/stats` and the exporter in its summary, so that counts on both sides can be compared
//! mechanically.

use std::fmt;
use std::str::FromStr;

/// A kind of Config API resource segbridge reads (and, for most, migrates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Workspaces,
    AccessTokens,
    CatalogSources,
    CatalogDestinations,
    Sources,
    SchemaConfigs,
    Destinations,
    DestinationFilters,
    TrackingPlans,
    /// Rules live inside tracking plans on the Config API; they are counted, not stored apart.
    TrackingPlanRules,
    TrackingPlanConnections,
    Roles,
    Policies,
    Invites,
    Users,
    Functions,
    DeliveryMetrics,
}

impl Kind {
    /// Every kind, in the order the exporter reads them.
    pub const ALL: [Kind; 17] = [
        Kind::Workspaces,
        Kind::CatalogSources,
        Kind::CatalogDestinations,
        Kind::AccessTokens,
        Kind::Sources,
        Kind::SchemaConfigs,
        Kind::Destinations,
        Kind::DestinationFilters,
        Kind::TrackingPlans,
        Kind::TrackingPlanRules,
        Kind::TrackingPlanConnections,
        Kind::Roles,
        Kind::Policies,
        Kind::Invites,
        Kind::Users,
        Kind::Functions,
        Kind::DeliveryMetrics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Workspaces => "workspaces",
            Kind::AccessTokens => "access_tokens",
            Kind::CatalogSources => "catalog_sources",
            Kind::CatalogDestinations => "catalog_destinations",
            Kind::Sources => "sources",
            Kind::SchemaConfigs => "schema_configs",
            Kind::Destinations => "destinations",
            Kind::DestinationFilters => "destination_filters",
            Kind::TrackingPlans => "tracking_plans",
            Kind::TrackingPlanRules => "tracking_plan_rules",
            Kind::TrackingPlanConnections => "tracking_plan_connections",
            Kind::Roles => "roles",
            Kind::Policies => "policies",
            Kind::Invites => "invites",
            Kind::Users => "users",
            Kind::Functions => "functions",
            Kind::DeliveryMetrics => "delivery_metrics",
        }
    }

    /// The Config API service a kind belongs to (the eleven services of the API overview).
    pub fn service(self) -> &'static str {
        match self {
            Kind::Workspaces => "workspaces",
            Kind::AccessTokens => "access tokens",
            Kind::CatalogSources => "source catalog",
            Kind::CatalogDestinations => "destination catalog",
            Kind::Sources | Kind::SchemaConfigs => "sources",
            Kind::Destinations => "destinations",
            Kind::DestinationFilters => "destination filters",
            Kind::TrackingPlans | Kind::TrackingPlanRules | Kind::TrackingPlanConnections => {
                "tracking plans"
            }
            Kind::Roles | Kind::Policies | Kind::Invites | Kind::Users => "IAM",
            Kind::Functions => "functions",
            Kind::DeliveryMetrics => "event delivery metrics",
        }
    }

    /// Kinds stored as objects in the ledger (rules are counted inside their plans).
    pub fn is_stored(self) -> bool {
        self != Kind::TrackingPlanRules
    }
}

/// Kinds serialize as their names, the spelling reports and the ledger use.
impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kind `{0}`; expected one of: {list}", list = Kind::ALL.map(Kind::as_str).join(", "))]
pub struct UnknownKind(pub String);

impl FromStr for Kind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().replace('-', "_");
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == wanted)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_the_simulators() {
        for kind in Kind::ALL {
            assert_eq!(kind.as_str().parse::<Kind>().unwrap(), kind);
        }
        assert_eq!(
            "destination-filters".parse::<Kind>().unwrap(),
            Kind::DestinationFilters
        );
        let err = "sourcez".parse::<Kind>().unwrap_err().to_string();
        assert!(
            err.contains("sourcez") && err.contains("destination_filters"),
            "{err}"
        );
        // The simulators count the same kinds under the same names.
        let sim: Vec<&str> = crate::sim::workspace::KINDS.to_vec();
        let mut ours: Vec<&str> = Kind::ALL.map(Kind::as_str).to_vec();
        ours.sort_unstable();
        let mut sim_sorted = sim.clone();
        sim_sorted.sort_unstable();
        assert_eq!(ours, sim_sorted);
    }
}
