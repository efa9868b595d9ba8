//! Workspaces and access tokens: nothing to create, something to know.
//!
//! A Public API token covers exactly one workspace and workspaces cannot be created through the
//! API, so a Config workspace maps to the target's id (`GET /`) when the planner knows it. Access
//! tokens have no Public endpoints at all: each one is a manual step.

use serde_json::Value;

use super::{Context, FindingCode, Mapped, str_field};
use crate::model::Kind;

/// A Config workspace (`workspaces/<slug>`).
pub fn map_workspace_object(config_name: &str, body: &Value, ctx: &Context<'_>) -> Mapped {
    let mut mapped = Mapped::new(Kind::Workspaces, config_name);
    let display = str_field(body, "display_name").unwrap_or_default();
    mapped.resolved_id = ctx.workspace_id.map(str::to_owned);
    mapped.find(
        FindingCode::WorkspaceNotCreatable,
        None,
        format!(
            "Workspace `{display}` is not created: the Public API token's own workspace is the \
             target, and only its id is used."
        ),
    );
    mapped
}

/// A Config access token (`access-tokens/<n>`).
pub fn map_access_token(config_name: &str, body: &Value) -> Mapped {
    let mut mapped = Mapped::new(Kind::AccessTokens, config_name);
    let description = str_field(body, "description").unwrap_or_default();
    let scopes = str_field(body, "scopes").unwrap_or_default();
    mapped.find(
        FindingCode::AccessTokenCreateInApp,
        None,
        format!(
            "Access token `{description}` (scope `{scopes}`) cannot be migrated: the Public API \
             has no token endpoints. A Workspace Owner creates a Public API token in the app and \
             replaces this one wherever it is used."
        ),
    );
    mapped
}
