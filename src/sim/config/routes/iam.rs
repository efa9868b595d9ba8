//! IAM: roles, policies, invites and users. Paths come from two clients; every body is INFERRED
//! (docs/simulators.md). Roles are read-only. `roles/-/policies` lists the policies of every role
//! (the `-` collection wildcard). A policy's subject is `users/{id}` and its resource a workspace,
//! source, destination or tracking-plan name. Inviting an email that already has a pending invite
//! is 409.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery};

use super::{Reply, Sim, empty, parse_body};
use crate::sim::config::error::{ApiError, ApiResult};
use crate::sim::config::paging::{Page, Params};
use crate::sim::config::wire::{self, Fields};
use crate::sim::workspace::{Invite, Policy, PolicyResource, Workspace};

fn page(sim: &Sim, q: Option<&str>) -> ApiResult<Page> {
    Page::from_params(
        &Params::parse(q),
        sim.options.default_page_size,
        sim.options.max_page_size,
    )
}

pub async fn list_roles(sim: Sim, Path(ws): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let page = page(&sim, q.as_deref())?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    Ok(Json(page.render("roles", ws.roles.len(), |i| {
        wire::role(ws, &ws.roles[i])
    })))
}

fn check_role(ws: &Workspace, role: &str) -> ApiResult<()> {
    if ws.roles.iter().any(|r| r.id == role) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!(
            "role `{}`",
            wire::role_name(ws, role)
        )))
    }
}

pub async fn list_policies(
    sim: Sim,
    Path((ws, role)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Reply {
    let page = page(&sim, q.as_deref())?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    if role != "-" {
        check_role(ws, &role)?;
    }
    let policies: Vec<&Policy> = ws
        .policies
        .iter()
        .filter(|p| role == "-" || p.role_id == role)
        .collect();
    Ok(Json(page.render("policies", policies.len(), |i| {
        wire::policy(ws, policies[i])
    })))
}

fn resource_exists(ws: &Workspace, resource: &PolicyResource) -> bool {
    match resource {
        PolicyResource::Workspace => true,
        PolicyResource::Source(src) => ws.source(src).is_some(),
        PolicyResource::Destination(src, dst) => ws
            .source(src)
            .is_some_and(|s| s.destinations.iter().any(|d| d.slug == *dst)),
        PolicyResource::TrackingPlan(id) => ws.tracking_plans.iter().any(|p| p.id == *id),
    }
}

fn resource(ws: &Workspace, name: &str) -> ApiResult<PolicyResource> {
    let resource = wire::parse_resource(ws, name)?;
    if !resource_exists(ws, &resource) {
        return Err(ApiError::not_found(format!("resource `{name}`")));
    }
    Ok(resource)
}

pub async fn create_policy(
    sim: Sim,
    Path((ws_slug, role)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let body = parse_body(&body)?;
    let f = wire::unwrap_body(&body, "policy")?;
    let mut store = sim.store();
    let id = store.new_id("", 27);
    let ws = store.workspace_mut(&ws_slug)?;
    check_role(ws, &role)?;
    let subject = f.required_str("subject")?;
    let user_id = subject
        .strip_prefix("users/")
        .filter(|id| ws.users.iter().any(|u| u.id == *id))
        .ok_or_else(|| ApiError::invalid(format!("`subject` names no user: `{subject}`")))?
        .to_owned();
    let resource = resource(ws, f.required_str("resource")?)?;
    if ws
        .policies
        .iter()
        .any(|p| p.role_id == role && p.user_id == user_id && p.resource == resource)
    {
        return Err(ApiError::already_exists("policy"));
    }
    let policy = Policy {
        id,
        role_id: role,
        user_id,
        resource,
    };
    let out = wire::policy(ws, &policy);
    ws.policies.push(policy);
    Ok(Json(out))
}

pub async fn get_policy(sim: Sim, Path((ws, role, id)): Path<(String, String, String)>) -> Reply {
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    ws.policies
        .iter()
        .find(|p| p.role_id == role && p.id == id)
        .map(|p| Json(wire::policy(ws, p)))
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "policy `{}/policies/{id}`",
                wire::role_name(ws, &role)
            ))
        })
}

pub async fn delete_policy(
    sim: Sim,
    Path((ws_slug, role, id)): Path<(String, String, String)>,
) -> Reply {
    let mut store = sim.store();
    let ws = store.workspace_mut(&ws_slug)?;
    let before = ws.policies.len();
    ws.policies.retain(|p| !(p.role_id == role && p.id == id));
    if ws.policies.len() == before {
        return Err(ApiError::not_found(format!(
            "policy `{}/policies/{id}`",
            wire::role_name(ws, &role)
        )));
    }
    empty()
}

pub async fn list_invites(sim: Sim, Path(ws): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let page = page(&sim, q.as_deref())?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    Ok(Json(page.render("invites", ws.invites.len(), |i| {
        wire::invite(ws, &ws.invites[i])
    })))
}

fn valid_email(email: &str) -> bool {
    let mut parts = email.split('@');
    matches!(
        (parts.next(), parts.next(), parts.next()),
        (Some(local), Some(domain), None) if !local.is_empty() && domain.contains('.') && !email.contains(char::is_whitespace)
    )
}

pub async fn create_invite(sim: Sim, Path(ws_slug): Path<String>, body: Bytes) -> Reply {
    let body = parse_body(&body)?;
    let f = wire::unwrap_body(&body, "invite")?;
    let email = f.required_str("email")?.to_owned();
    if !valid_email(&email) {
        return Err(ApiError::invalid(format!("invalid email `{email}`")));
    }
    let mut store = sim.store();
    let id = store.new_id("", 27);
    let ws = store.workspace_mut(&ws_slug)?;
    if ws
        .invites
        .iter()
        .any(|i| i.email.eq_ignore_ascii_case(&email))
    {
        return Err(ApiError::already_exists(format!("an invite for `{email}`")));
    }
    let mut grants = Vec::new();
    for item in f.array("policies")?.map(Vec::as_slice).unwrap_or_default() {
        let p = Fields::of(item, "policy")?;
        let role_name = p.required_str("role")?;
        let prefix = format!("{}/roles/", wire::workspace_name(ws));
        let role = role_name
            .strip_prefix(&prefix)
            .ok_or_else(|| ApiError::invalid(format!("`role` must start with `{prefix}`")))?;
        check_role(ws, role)?;
        grants.push((role.to_owned(), resource(ws, p.required_str("resource")?)?));
    }
    let now = chrono::Utc::now();
    let invite = Invite {
        id,
        email,
        grants,
        create_time: now.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        // Invites expire after a week in the app.
        expire_time: (now + chrono::Duration::days(7))
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string(),
    };
    let out = wire::invite(ws, &invite);
    ws.invites.push(invite);
    Ok(Json(out))
}

pub async fn get_invite(sim: Sim, Path((ws, id)): Path<(String, String)>) -> Reply {
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    ws.invites
        .iter()
        .find(|i| i.id == id)
        .map(|i| Json(wire::invite(ws, i)))
        .ok_or_else(|| ApiError::not_found(format!("invite `{id}`")))
}

pub async fn delete_invite(sim: Sim, Path((ws_slug, id)): Path<(String, String)>) -> Reply {
    let mut store = sim.store();
    let ws = store.workspace_mut(&ws_slug)?;
    let before = ws.invites.len();
    ws.invites.retain(|i| i.id != id);
    if ws.invites.len() == before {
        return Err(ApiError::not_found(format!("invite `{id}`")));
    }
    empty()
}

pub async fn list_users(sim: Sim, Path(ws): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let page = page(&sim, q.as_deref())?;
    let store = sim.store();
    let ws = store.workspace(&ws)?;
    Ok(Json(page.render("users", ws.users.len(), |i| {
        wire::user(&ws.users[i])
    })))
}

#[cfg(test)]
mod tests {
    use super::valid_email;

    #[test]
    fn emails_need_one_at_and_a_dotted_domain() {
        assert!(valid_email("ana@example.com"));
        assert!(valid_email("zoë@exämple.org"));
        assert!(!valid_email("ana@example"));
        assert!(!valid_email("ana@@example.com"));
        assert!(!valid_email("a na@example.com"));
    }
}
