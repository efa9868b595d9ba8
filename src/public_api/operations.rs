//! The read operations of the Public API this client calls, each with the media type it is
//! pinned to, and the documented per-endpoint rate limits.
//!
//! The Public API versions each operation through its media type, not its URL. Without a
//! versioned `Accept` the server answers with "the most stable version available", which may
//! change under us when an operation graduates; so every operation is pinned to its stable
//! version (`application/vnd.segment.v1+json`) where one exists and to the most stable vendor
//! type otherwise (delivery metrics exist only as beta and alpha). The same type goes into
//! `Content-Type` of the writer's bodies, because the body schema can differ per version (the
//! alpha `POST /sources` takes `name`, the v1 one does not).
//!
//! Only GET operations are defined here. The write operations live in `writer.rs`, the one file
//! of this client allowed to name a write method, so that a read path cannot send a write by
//! picking the wrong constant (a test checks the sources).
//!
//! [`RATE_LIMITS`] is the reference's table of "lower than the default" limits for the operation
//! groups a migration touches (IAM and label writes 60 per minute, rule listing 200, destination
//! subscription writes 5, event volume 60), keyed by operationId. Every other operation shares
//! the default bucket, whose size Segment does not publish (it is above every per-endpoint
//! limit, so 1,000 per minute unless configured; the server's headers then correct it).

use std::fmt;

use crate::http::Endpoint;

/// The media type an operation is pinned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    V1,
    V1Beta,
    V1Alpha,
}

impl MediaType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "application/vnd.segment.v1+json",
            Self::V1Beta => "application/vnd.segment.v1beta+json",
            Self::V1Alpha => "application/vnd.segment.v1alpha+json",
        }
    }
}

/// One operation of the API: its schema name, method and path template, and pinned version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operation {
    /// The operationId in Segment's OpenAPI document (`createSource`).
    pub id: &'static str,
    pub endpoint: Endpoint,
    pub media: MediaType,
}

impl Operation {
    pub(crate) const fn read(id: &'static str, template: &'static str, media: MediaType) -> Self {
        Self {
            id,
            endpoint: Endpoint::get(template),
            media,
        }
    }

    /// The documented per-endpoint limit, requests per minute.
    pub fn documented_limit(&self) -> Option<u32> {
        documented_limit(self.id)
    }
}

/// `createSource (POST /sources)`.
impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.id, self.endpoint)
    }
}

/// Requests per minute of every operation with a documented limit of its own, by operationId.
pub const RATE_LIMITS: &[(&str, u32)] = &[
    // IAM writes.
    ("addPermissionsToUser", 60),
    ("replacePermissionsForUser", 60),
    ("deleteUsers", 60),
    ("createInvites", 60),
    ("deleteInvites", 60),
    ("createUserGroup", 60),
    ("updateUserGroup", 60),
    ("deleteUserGroup", 60),
    ("addPermissionsToUserGroup", 60),
    ("replacePermissionsForUserGroup", 60),
    ("addUsersToUserGroup", 60),
    ("replaceUsersInUserGroup", 60),
    ("removeUsersFromUserGroup", 60),
    // Label writes.
    ("createLabel", 60),
    ("deleteLabel", 60),
    // Tracking-plan rules, read 200 at a time.
    ("listRulesFromTrackingPlan", 200),
    // Actions destination subscriptions (alpha).
    ("createDestinationSubscription", 5),
    ("updateSubscriptionForDestination", 5),
    ("removeSubscriptionFromDestination", 5),
    // Event volume, read by an audit.
    ("getEventsVolumeFromWorkspace", 60),
];

/// The documented limit of `operation_id`, requests per minute.
pub fn documented_limit(operation_id: &str) -> Option<u32> {
    RATE_LIMITS
        .iter()
        .find(|(id, _)| *id == operation_id)
        .map(|(_, limit)| *limit)
}

use MediaType::{V1, V1Beta};

pub const GET_WORKSPACE: Operation = Operation::read("getWorkspace", "/", V1);
pub const GET_SOURCES_CATALOG: Operation =
    Operation::read("getSourcesCatalog", "/catalog/sources", V1);
pub const GET_SOURCE_METADATA: Operation = Operation::read(
    "getSourceMetadata",
    "/catalog/sources/{sourceMetadataId}",
    V1,
);
pub const GET_DESTINATIONS_CATALOG: Operation =
    Operation::read("getDestinationsCatalog", "/catalog/destinations", V1);
pub const GET_DESTINATION_METADATA: Operation = Operation::read(
    "getDestinationMetadata",
    "/catalog/destinations/{destinationMetadataId}",
    V1,
);
pub const LIST_SOURCES: Operation = Operation::read("listSources", "/sources", V1);
pub const GET_SOURCE: Operation = Operation::read("getSource", "/sources/{sourceId}", V1);
pub const LIST_SCHEMA_SETTINGS_IN_SOURCE: Operation = Operation::read(
    "listSchemaSettingsInSource",
    "/sources/{sourceId}/settings",
    V1,
);
pub const LIST_CONNECTED_DESTINATIONS_FROM_SOURCE: Operation = Operation::read(
    "listConnectedDestinationsFromSource",
    "/sources/{sourceId}/connected-destinations",
    V1,
);
pub const LIST_DESTINATIONS: Operation = Operation::read("listDestinations", "/destinations", V1);
pub const GET_DESTINATION: Operation =
    Operation::read("getDestination", "/destinations/{destinationId}", V1);
pub const LIST_DELIVERY_METRICS_SUMMARY_FROM_DESTINATION: Operation = Operation::read(
    "listDeliveryMetricsSummaryFromDestination",
    "/destinations/{destinationId}/delivery-metrics",
    V1Beta,
);
pub const LIST_FILTERS_FROM_DESTINATION: Operation = Operation::read(
    "listFiltersFromDestination",
    "/destination/{destinationId}/filters",
    V1,
);
pub const GET_FILTER_IN_DESTINATION: Operation = Operation::read(
    "getFilterInDestination",
    "/destination/{destinationId}/filters/{filterId}",
    V1,
);
pub const LIST_TRACKING_PLANS: Operation =
    Operation::read("listTrackingPlans", "/tracking-plans", V1);
pub const GET_TRACKING_PLAN: Operation =
    Operation::read("getTrackingPlan", "/tracking-plans/{trackingPlanId}", V1);
pub const LIST_RULES_FROM_TRACKING_PLAN: Operation = Operation::read(
    "listRulesFromTrackingPlan",
    "/tracking-plans/{trackingPlanId}/rules",
    V1,
);
pub const LIST_SOURCES_FROM_TRACKING_PLAN: Operation = Operation::read(
    "listSourcesFromTrackingPlan",
    "/tracking-plans/{trackingPlanId}/sources",
    V1,
);
pub const LIST_FUNCTIONS: Operation = Operation::read("listFunctions", "/functions", V1);
pub const GET_FUNCTION: Operation = Operation::read("getFunction", "/functions/{functionId}", V1);
pub const LIST_LABELS: Operation = Operation::read("listLabels", "/labels", V1);
pub const LIST_USERS: Operation = Operation::read("listUsers", "/users", V1);
pub const GET_USER: Operation = Operation::read("getUser", "/users/{userId}", V1);
pub const LIST_USER_GROUPS_FROM_USER: Operation =
    Operation::read("listUserGroupsFromUser", "/users/{userId}/groups", V1);
pub const LIST_INVITES: Operation = Operation::read("listInvites", "/invites", V1);
pub const LIST_USER_GROUPS: Operation = Operation::read("listUserGroups", "/groups", V1);
pub const GET_USER_GROUP: Operation = Operation::read("getUserGroup", "/groups/{userGroupId}", V1);
pub const LIST_USERS_FROM_USER_GROUP: Operation =
    Operation::read("listUsersFromUserGroup", "/groups/{userGroupId}/users", V1);
pub const LIST_INVITES_FROM_USER_GROUP: Operation = Operation::read(
    "listInvitesFromUserGroup",
    "/groups/{userGroupId}/invites",
    V1,
);
pub const LIST_ROLES: Operation = Operation::read("listRoles", "/roles", V1);

/// Every read operation, for tests that hold the table to the API's schema.
pub const READS: &[Operation] = &[
    GET_WORKSPACE,
    GET_SOURCES_CATALOG,
    GET_SOURCE_METADATA,
    GET_DESTINATIONS_CATALOG,
    GET_DESTINATION_METADATA,
    LIST_SOURCES,
    GET_SOURCE,
    LIST_SCHEMA_SETTINGS_IN_SOURCE,
    LIST_CONNECTED_DESTINATIONS_FROM_SOURCE,
    LIST_DESTINATIONS,
    GET_DESTINATION,
    LIST_DELIVERY_METRICS_SUMMARY_FROM_DESTINATION,
    LIST_FILTERS_FROM_DESTINATION,
    GET_FILTER_IN_DESTINATION,
    LIST_TRACKING_PLANS,
    GET_TRACKING_PLAN,
    LIST_RULES_FROM_TRACKING_PLAN,
    LIST_SOURCES_FROM_TRACKING_PLAN,
    LIST_FUNCTIONS,
    GET_FUNCTION,
    LIST_LABELS,
    LIST_USERS,
    GET_USER,
    LIST_USER_GROUPS_FROM_USER,
    LIST_INVITES,
    LIST_USER_GROUPS,
    GET_USER_GROUP,
    LIST_USERS_FROM_USER_GROUP,
    LIST_INVITES_FROM_USER_GROUP,
    LIST_ROLES,
];
