//! Rate limits of the Public API: a per-token default and the documented per-endpoint limits.
//!
//! Every per-endpoint limit documented for API 73.2.0 is in [`ENDPOINT_LIMITS`], keyed by method
//! and route template as the schema file spells them, whether or not the simulator serves the
//! route (an unserved route is never matched, so its row costs nothing and the table stays a
//! faithful copy of the reference). Each request counts against the token's default window and,
//! when its route has a row, against that row's window for the token too; the tighter of the two
//! decides the `X-RateLimit-*` headers. The default itself is not published ("lower than the
//! default" is all the per-endpoint texts say, and 600/min endpoints exist), so it is a setting:
//! 1,000 requests per minute unless told otherwise.
//!
//! Windows are [`FixedWindow`]s of one simulated minute (one day for the one per-day limit),
//! divided by the time scale, as on the Config side.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::Method;

use crate::sim::clock::TimeScale;
use crate::sim::ratelimit::{Admission, FixedWindow};

/// The default limit when none is configured (INFERRED: above every documented per-endpoint
/// limit).
pub const DEFAULT_PER_MINUTE: u32 = 1_000;

const MINUTE: Duration = Duration::from_secs(60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// (method, route template, limit, window).
pub const ENDPOINT_LIMITS: &[(&str, &str, u32, Duration)] = &[
    ("POST", "/customer-insights/download", 120, DAY),
    ("POST", "/dbt-model-syncs/trigger", 10, MINUTE),
    (
        "POST",
        "/destinations/{destinationId}/subscriptions",
        5,
        MINUTE,
    ),
    (
        "DELETE",
        "/destinations/{destinationId}/subscriptions/{id}",
        5,
        MINUTE,
    ),
    (
        "PATCH",
        "/destinations/{destinationId}/subscriptions/{id}",
        5,
        MINUTE,
    ),
    ("GET", "/events/volume", 60, MINUTE),
    ("DELETE", "/group/{userGroupId}/users", 60, MINUTE),
    ("PUT", "/group/{userGroupId}/users", 60, MINUTE),
    ("POST", "/groups", 60, MINUTE),
    ("DELETE", "/groups/{userGroupId}", 60, MINUTE),
    ("PATCH", "/groups/{userGroupId}", 60, MINUTE),
    ("POST", "/groups/{userGroupId}/permissions", 60, MINUTE),
    ("PUT", "/groups/{userGroupId}/permissions", 60, MINUTE),
    ("POST", "/groups/{userGroupId}/users", 60, MINUTE),
    ("DELETE", "/invites", 60, MINUTE),
    ("POST", "/invites", 60, MINUTE),
    ("POST", "/labels", 60, MINUTE),
    ("DELETE", "/labels/{key}/{value}", 60, MINUTE),
    ("POST", "/regulations", 600, MINUTE),
    ("POST", "/regulations/cloudsources/{sourceId}", 600, MINUTE),
    ("POST", "/regulations/sources/{sourceId}", 600, MINUTE),
    (
        "GET",
        "/reverse-etl-models/{modelId}/syncs/{syncId}",
        250,
        MINUTE,
    ),
    ("POST", "/reverse-etl-syncs", 20, MINUTE),
    (
        "GET",
        "/spaces/{spaceId}/audienceType/{audienceType}/supported-destinations",
        60,
        MINUTE,
    ),
    ("GET", "/spaces/{spaceId}/audiences", 60, MINUTE),
    ("POST", "/spaces/{spaceId}/audiences", 50, MINUTE),
    ("POST", "/spaces/{spaceId}/audiences/previews", 5, MINUTE),
    (
        "GET",
        "/spaces/{spaceId}/audiences/previews/{id}",
        300,
        MINUTE,
    ),
    (
        "GET",
        "/spaces/{spaceId}/audiences/{audienceId}/activations",
        60,
        MINUTE,
    ),
    (
        "DELETE",
        "/spaces/{spaceId}/audiences/{audienceId}/activations/{id}",
        50,
        MINUTE,
    ),
    (
        "GET",
        "/spaces/{spaceId}/audiences/{audienceId}/activations/{id}",
        60,
        MINUTE,
    ),
    (
        "PATCH",
        "/spaces/{spaceId}/audiences/{audienceId}/activations/{id}",
        50,
        MINUTE,
    ),
    (
        "GET",
        "/spaces/{spaceId}/audiences/{audienceId}/destination-connections",
        50,
        MINUTE,
    ),
    (
        "POST",
        "/spaces/{spaceId}/audiences/{audienceId}/destination-connections",
        50,
        MINUTE,
    ),
    (
        "POST",
        "/spaces/{spaceId}/audiences/{audienceId}/destination-connections/{connectionId}/activations",
        50,
        MINUTE,
    ),
    ("DELETE", "/spaces/{spaceId}/audiences/{id}", 50, MINUTE),
    ("GET", "/spaces/{spaceId}/audiences/{id}", 100, MINUTE),
    ("PATCH", "/spaces/{spaceId}/audiences/{id}", 50, MINUTE),
    (
        "GET",
        "/spaces/{spaceId}/audiences/{id}/audience-references",
        25,
        MINUTE,
    ),
    (
        "POST",
        "/spaces/{spaceId}/audiences/{id}/schedules",
        50,
        MINUTE,
    ),
    (
        "DELETE",
        "/spaces/{spaceId}/audiences/{id}/schedules/{scheduleId}",
        50,
        MINUTE,
    ),
    (
        "PATCH",
        "/spaces/{spaceId}/audiences/{id}/schedules/{scheduleId}",
        50,
        MINUTE,
    ),
    ("GET", "/spaces/{spaceId}/computed-traits", 25, MINUTE),
    ("POST", "/spaces/{spaceId}/computed-traits", 10, MINUTE),
    (
        "DELETE",
        "/spaces/{spaceId}/computed-traits/{id}",
        20,
        MINUTE,
    ),
    ("GET", "/spaces/{spaceId}/computed-traits/{id}", 100, MINUTE),
    (
        "PATCH",
        "/spaces/{spaceId}/computed-traits/{id}",
        10,
        MINUTE,
    ),
    (
        "GET",
        "/spaces/{spaceId}/entities/{entitySlug}/properties",
        25,
        MINUTE,
    ),
    (
        "GET",
        "/spaces/{spaceId}/entities/{entitySlug}/properties/{propertyName}/sample-values",
        25,
        MINUTE,
    ),
    ("GET", "/spaces/{spaceId}/entity-paths", 25, MINUTE),
    ("GET", "/spaces/{spaceId}/events", 25, MINUTE),
    (
        "GET",
        "/spaces/{spaceId}/events/{eventName}/properties",
        25,
        MINUTE,
    ),
    (
        "GET",
        "/spaces/{spaceId}/events/{eventName}/properties/{propertyName}/sample-values",
        25,
        MINUTE,
    ),
    (
        "PUT",
        "/spaces/{spaceId}/messaging-subscriptions",
        60,
        MINUTE,
    ),
    ("GET", "/spaces/{spaceId}/traits", 25, MINUTE),
    (
        "GET",
        "/spaces/{spaceId}/traits/{traitKey}/sample-values",
        25,
        MINUTE,
    ),
    ("GET", "/tracking-plans/{trackingPlanId}/rules", 200, MINUTE),
    ("DELETE", "/users", 60, MINUTE),
    ("POST", "/users/{userId}/permissions", 60, MINUTE),
    ("PUT", "/users/{userId}/permissions", 60, MINUTE),
    (
        "GET",
        "/warehouses/{warehouseId}/advanced-sync-schedule",
        2,
        MINUTE,
    ),
    (
        "PUT",
        "/warehouses/{warehouseId}/advanced-sync-schedule",
        2,
        MINUTE,
    ),
    (
        "GET",
        "/warehouses/{warehouseId}/connected-sources/{sourceId}/selective-syncs",
        2,
        MINUTE,
    ),
    (
        "GET",
        "/warehouses/{warehouseId}/connected-sources/{sourceId}/syncs",
        2,
        MINUTE,
    ),
    (
        "GET",
        "/warehouses/{warehouseId}/connection-state",
        200,
        MINUTE,
    ),
    (
        "PATCH",
        "/warehouses/{warehouseId}/selective-sync",
        2,
        MINUTE,
    ),
    ("GET", "/warehouses/{warehouseId}/syncs", 2, MINUTE),
];

/// The default window plus one window per documented endpoint limit.
#[derive(Debug)]
pub struct RateLimits {
    default: FixedWindow,
    endpoints: HashMap<String, FixedWindow>,
}

impl RateLimits {
    pub fn new(default_per_minute: u32, scale: TimeScale) -> Self {
        let endpoints = ENDPOINT_LIMITS
            .iter()
            .map(|(method, template, limit, window)| {
                (
                    format!("{method} {template}"),
                    FixedWindow::new(*limit, scale.scale(*window)),
                )
            })
            .collect();
        Self {
            default: FixedWindow::new(default_per_minute, scale.scale(MINUTE)),
            endpoints,
        }
    }

    /// The windows as `/_sim/stats` reports them, in simulated time, so that a benchmark can
    /// tell the least time the calls it counted need: `{"default": {"limit", "window_seconds"},
    /// "endpoints": {"POST /labels": {"limit", "window_seconds"}, …}}`.
    pub fn describe(&self) -> serde_json::Value {
        let endpoints: serde_json::Map<String, serde_json::Value> = ENDPOINT_LIMITS
            .iter()
            .map(|(method, template, limit, window)| {
                (
                    format!("{method} {template}"),
                    serde_json::json!({"limit": limit, "window_seconds": window.as_secs()}),
                )
            })
            .collect();
        serde_json::json!({
            "default": {"limit": self.default.limit(), "window_seconds": MINUTE.as_secs()},
            "endpoints": endpoints,
        })
    }

    /// The documented limit of an endpoint, if it has one.
    pub fn endpoint_limit(&self, method: &Method, template: &str) -> Option<u32> {
        self.endpoints
            .get(&format!("{method} {template}"))
            .map(FixedWindow::limit)
    }

    /// Counts one request of `token` to the route `template`; the verdict of the tighter window.
    pub fn check(&self, token: &str, method: &Method, template: Option<&str>) -> Admission {
        let default = self.default.check(token);
        let endpoint = template
            .and_then(|t| self.endpoints.get(&format!("{method} {t}")))
            .map(|window| window.check(token));
        match (default, endpoint) {
            (limited @ Admission::Limited { .. }, _) => limited,
            (_, Some(limited @ Admission::Limited { .. })) => limited,
            (
                Admission::Allowed {
                    remaining: default_remaining,
                    ..
                },
                Some(
                    endpoint @ Admission::Allowed {
                        remaining: endpoint_remaining,
                        ..
                    },
                ),
            ) if endpoint_remaining < default_remaining => endpoint,
            (allowed, _) => allowed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_matches_the_schema_where_both_know_the_endpoint() {
        let doc = super::super::schema::SchemaDoc::embedded();
        let served: Vec<&str> = ENDPOINT_LIMITS
            .iter()
            .filter_map(|(m, t, _, _)| doc.operation(m, t).map(|op| op.operation_id.as_str()))
            .collect();
        for expected in [
            "createUserGroup",
            "replaceUsersInUserGroup",
            "createInvites",
            "createLabel",
            "deleteLabel",
            "listRulesFromTrackingPlan",
            "addPermissionsToUser",
            "createWorkspaceRegulation",
        ] {
            assert!(served.contains(&expected), "{expected}");
        }
    }

    #[test]
    fn an_endpoint_limit_binds_before_the_default() {
        let limits = RateLimits::new(1_000, TimeScale::real());
        let post = Method::POST;
        for _ in 0..60 {
            assert!(limits.check("t", &post, Some("/labels")).is_allowed());
        }
        assert!(!limits.check("t", &post, Some("/labels")).is_allowed());
        // Other routes of the same token still pass, and other tokens have their own windows.
        assert!(
            limits
                .check("t", &Method::GET, Some("/labels"))
                .is_allowed()
        );
        assert!(limits.check("u", &post, Some("/labels")).is_allowed());
        match limits.check(
            "t",
            &Method::GET,
            Some("/tracking-plans/{trackingPlanId}/rules"),
        ) {
            Admission::Allowed { remaining, .. } => assert_eq!(remaining, 199),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_default_limit_applies_to_every_route() {
        let limits = RateLimits::new(3, TimeScale::real());
        for _ in 0..3 {
            assert!(
                limits
                    .check("t", &Method::GET, Some("/sources"))
                    .is_allowed()
            );
        }
        assert!(!limits.check("t", &Method::GET, None).is_allowed());
    }
}
