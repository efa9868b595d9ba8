//! IAM: users, invites, user groups, roles and permissions.
//!
//! Users cannot be created (they are invited); roles are the built-in ones and cannot be
//! created either. Group members are added by email (`POST /groups/{id}/users`) and replaced or
//! removed under the singular `/group/{id}/users`, as documented. Permission grants are checked
//! against the workspace (INFERRED statuses, 422 on the field): the role must exist; a resource
//! must be this workspace (`WORKSPACE`), one of its sources (`SOURCE`) or functions
//! (`FUNCTION`) — the simulated workspaces have no warehouses or spaces — and labels, which
//! must exist, may only refine workspace-level grants (documented). Group members must be users
//! or invitees of the workspace. Every IAM write is limited to 60 requests per minute
//! (`limits.rs`). A second invite to the same email is accepted, as a careless importer would
//! see it, and shows up in the duplicate counter of `/_sim/stats`.

use axum::extract::{Path, RawQuery};
use serde_json::{Value, json};

use super::{Input, Reply, Sim, created, ok, parse_labels, success};
use crate::sim::public::error::{ApiError, ApiResult, ErrorItem, field_error};
use crate::sim::public::paging::{Page, Params};
use crate::sim::public::store::{Group, Invite, Permission, PermissionResource, PublicStore};
use crate::sim::public::wire;

pub async fn list_users(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    ok(page.render("users", store.users.len(), |i| {
        wire::user(&store, &store.users[i])
    }))
}

pub async fn get_user(sim: Sim, Path(id): Path<String>) -> Reply {
    let store = sim.store();
    let user = &store.users[store.user_index(&id)?];
    ok(json!({"user": wire::user(&store, user)}))
}

pub async fn delete_users(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let ids = Params::parse(q.as_deref()).list("userIds");
    if ids.is_empty() {
        return Err(ApiError::required("userIds"));
    }
    let mut store = sim.store();
    for id in &ids {
        store.user_index(id)?;
    }
    let emails: Vec<String> = store
        .users
        .iter()
        .filter(|u| ids.contains(&u.id))
        .map(|u| u.email.clone())
        .collect();
    store.users.retain(|u| !ids.contains(&u.id));
    for group in &mut store.groups {
        group.members.retain(|m| !emails.contains(m));
    }
    success()
}

pub async fn list_user_groups(sim: Sim, Path(id): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    let email = store.users[store.user_index(&id)?].email.clone();
    let groups: Vec<&Group> = store
        .groups
        .iter()
        .filter(|g| g.members.contains(&email))
        .collect();
    ok(page.render(
        "groups",
        groups.len(),
        |i| json!({"id": groups[i].id, "name": groups[i].name}),
    ))
}

/// Parses and checks `permissions[]` of a users, groups or invites body at `field`; returns
/// the grants and every problem found, so that a body with several invites reports them all.
fn check_permissions(
    store: &PublicStore,
    items: &[Value],
    field: &str,
) -> (Vec<Permission>, Vec<ErrorItem>) {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("{field}.{i}");
        let role_id = item["roleId"].as_str().unwrap_or_default().to_owned();
        if !store.roles.iter().any(|r| r.id == role_id) {
            errors.push(field_error(
                &format!("{at}.roleId"),
                "must be the id of a role",
            ));
        }
        let mut resources = Vec::new();
        // Invite grants may leave `resources` out; user and group grants may not (schema).
        for (j, resource) in item["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let at = format!("{at}.resources.{j}");
            match check_resource(store, resource, &at) {
                Ok(r) => resources.push(r),
                Err(mut e) => errors.append(&mut e),
            }
        }
        let labels = parse_labels(item["labels"].as_array().map_or(&[][..], Vec::as_slice));
        errors.extend(missing_labels(store, &labels, &format!("{at}.labels")));
        out.push(Permission {
            role_id,
            resources,
            labels,
        });
    }
    (out, errors)
}

fn parse_permissions(
    store: &PublicStore,
    items: &[Value],
    field: &str,
) -> ApiResult<Vec<Permission>> {
    let (permissions, errors) = check_permissions(store, items, field);
    if errors.is_empty() {
        Ok(permissions)
    } else {
        Err(ApiError::validation(errors))
    }
}

fn missing_labels(
    store: &PublicStore,
    labels: &[crate::sim::public::store::Label],
    field: &str,
) -> Vec<ErrorItem> {
    labels
        .iter()
        .enumerate()
        .filter(|(_, l)| !store.labels.iter().any(|k| k.same_key(l)))
        .map(|(i, _)| field_error(&format!("{field}.{i}"), "must be an existing label"))
        .collect()
}

fn check_resource(
    store: &PublicStore,
    resource: &Value,
    at: &str,
) -> Result<PermissionResource, Vec<ErrorItem>> {
    let id = resource["id"].as_str().unwrap_or_default().to_owned();
    let kind = resource["type"].as_str().unwrap_or_default().to_owned();
    let labels = parse_labels(resource["labels"].as_array().map_or(&[][..], Vec::as_slice));
    let mut errors = Vec::new();
    let exists = match kind.as_str() {
        "WORKSPACE" => id == store.workspace.id,
        "SOURCE" => store.source(&id).is_ok(),
        "FUNCTION" => store.function_index(&id).is_ok(),
        _ => false,
    };
    if !exists {
        errors.push(field_error(
            &format!("{at}.id"),
            &format!("must be the id of a {kind} of this workspace"),
        ));
    }
    if !labels.is_empty() && kind != "WORKSPACE" {
        errors.push(field_error(
            &format!("{at}.labels"),
            "are only allowed on WORKSPACE resources",
        ));
    }
    errors.extend(missing_labels(store, &labels, &format!("{at}.labels")));
    if errors.is_empty() {
        Ok(PermissionResource { id, kind, labels })
    } else {
        Err(errors)
    }
}

/// Adds grants to a list: resources of a role already granted are merged into it.
fn add_permissions(current: &mut Vec<Permission>, added: Vec<Permission>) {
    for permission in added {
        match current.iter_mut().find(|p| p.role_id == permission.role_id) {
            Some(existing) => {
                for resource in permission.resources {
                    if !existing.resources.contains(&resource) {
                        existing.resources.push(resource);
                    }
                }
            }
            None => current.push(permission),
        }
    }
}

fn permissions_reply(store: &PublicStore, permissions: &[Permission]) -> Reply {
    ok(json!({
        "permissions": permissions.iter().map(|p| wire::permission(store, p)).collect::<Vec<_>>()
    }))
}

pub async fn add_user_permissions(
    sim: Sim,
    Path(id): Path<String>,
    axum::Extension(call): Input,
) -> Reply {
    let mut store = sim.store();
    let index = store.user_index(&id)?;
    let added = parse_permissions(&store, call.array("permissions"), "permissions")?;
    add_permissions(&mut store.users[index].permissions, added);
    permissions_reply(&store, &store.users[index].permissions)
}

pub async fn replace_user_permissions(
    sim: Sim,
    Path(id): Path<String>,
    axum::Extension(call): Input,
) -> Reply {
    let mut store = sim.store();
    let index = store.user_index(&id)?;
    let mut permissions = Vec::new();
    add_permissions(
        &mut permissions,
        parse_permissions(&store, call.array("permissions"), "permissions")?,
    );
    store.users[index].permissions = permissions;
    permissions_reply(&store, &store.users[index].permissions)
}

pub async fn list_invites(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    ok(page.render("invites", store.invites.len(), |i| {
        json!(store.invites[i].email)
    }))
}

fn check_email(email: &str, field: &str) -> Option<ErrorItem> {
    let valid = email
        .split_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    (!valid).then(|| field_error(field, "must be a valid email"))
}

pub async fn create_invites(sim: Sim, axum::Extension(call): Input) -> Reply {
    let mut store = sim.store();
    let mut errors = Vec::new();
    let mut invites = Vec::new();
    let now = wire::now_timestamp();
    for (i, item) in call.array("invites").iter().enumerate() {
        let at = format!("invites.{i}");
        let email = item["email"].as_str().unwrap_or_default().to_owned();
        errors.extend(check_email(&email, &format!("{at}.email")));
        let (permissions, mut problems) = check_permissions(
            &store,
            item["permissions"]
                .as_array()
                .map_or(&[][..], Vec::as_slice),
            &format!("{at}.permissions"),
        );
        errors.append(&mut problems);
        invites.push(Invite {
            email,
            permissions,
            created_at: now.clone(),
        });
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let emails: Vec<String> = invites.iter().map(|i| i.email.clone()).collect();
    store.invites.extend(invites);
    created(json!({ "emails": emails }))
}

pub async fn delete_invites(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let emails = Params::parse(q.as_deref()).list("emails");
    if emails.is_empty() {
        return Err(ApiError::required("emails"));
    }
    let mut store = sim.store();
    if !emails
        .iter()
        .all(|e| store.invites.iter().any(|i| i.email == *e))
    {
        return Err(ApiError::not_found());
    }
    store.invites.retain(|i| !emails.contains(&i.email));
    for group in &mut store.groups {
        group.members.retain(|m| !emails.contains(m));
    }
    success()
}

pub async fn list_roles(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    ok(page.render("roles", store.roles.len(), |i| wire::role(&store.roles[i])))
}

pub async fn list_groups(sim: Sim, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    ok(page.render("userGroups", store.groups.len(), |i| {
        wire::group(&store, &store.groups[i])
    }))
}

fn group_reply(store: &PublicStore, index: usize) -> Reply {
    ok(json!({"userGroup": wire::group(store, &store.groups[index])}))
}

pub async fn create_group(sim: Sim, axum::Extension(call): Input) -> Reply {
    let name = call.str("name").unwrap_or_default().trim().to_owned();
    if name.is_empty() {
        return Err(ApiError::field("name", "is not allowed to be empty"));
    }
    let mut store = sim.store();
    let group = Group {
        id: store.new_id("", 27),
        name,
        members: Vec::new(),
        permissions: Vec::new(),
    };
    store.groups.push(group);
    let index = store.groups.len() - 1;
    group_reply(&store, index)
}

pub async fn get_group(sim: Sim, Path(id): Path<String>) -> Reply {
    let store = sim.store();
    let index = store.group_index(&id)?;
    group_reply(&store, index)
}

pub async fn update_group(sim: Sim, Path(id): Path<String>, axum::Extension(call): Input) -> Reply {
    let name = call.str("name").unwrap_or_default().trim().to_owned();
    if name.is_empty() {
        return Err(ApiError::field("name", "is not allowed to be empty"));
    }
    let mut store = sim.store();
    let index = store.group_index(&id)?;
    store.groups[index].name = name;
    group_reply(&store, index)
}

pub async fn delete_group(sim: Sim, Path(id): Path<String>) -> Reply {
    let mut store = sim.store();
    let index = store.group_index(&id)?;
    store.groups.remove(index);
    success()
}

pub async fn list_group_invites(sim: Sim, Path(id): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    let group = &store.groups[store.group_index(&id)?];
    let pending: Vec<&String> = group
        .members
        .iter()
        .filter(|m| !store.users.iter().any(|u| u.email == **m))
        .collect();
    ok(page.render("emails", pending.len(), |i| json!(pending[i])))
}

pub async fn list_group_users(sim: Sim, Path(id): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let page = Page::from_params(&Params::parse(q.as_deref()))?;
    let store = sim.store();
    let group = &store.groups[store.group_index(&id)?];
    let users: Vec<usize> = group
        .members
        .iter()
        .filter_map(|m| store.users.iter().position(|u| u.email == *m))
        .collect();
    ok(page.render("users", users.len(), |i| {
        wire::minimal_user(&store.users[users[i]])
    }))
}

/// Emails of a members body, each a user or an invitee of the workspace.
fn member_emails(store: &PublicStore, call: &super::Call) -> ApiResult<Vec<String>> {
    let mut errors = Vec::new();
    let mut emails = Vec::new();
    for (i, email) in call.array("emails").iter().enumerate() {
        let email = email.as_str().unwrap_or_default().to_owned();
        let known = store.users.iter().any(|u| u.email == email)
            || store.invites.iter().any(|inv| inv.email == email);
        if !known {
            errors.push(field_error(
                &format!("emails.{i}"),
                "must be the email of a user or an invitee of this workspace",
            ));
        }
        if !emails.contains(&email) {
            emails.push(email);
        }
    }
    if errors.is_empty() {
        Ok(emails)
    } else {
        Err(ApiError::validation(errors))
    }
}

pub async fn add_group_users(
    sim: Sim,
    Path(id): Path<String>,
    axum::Extension(call): Input,
) -> Reply {
    let mut store = sim.store();
    let index = store.group_index(&id)?;
    let emails = member_emails(&store, &call)?;
    let group = &mut store.groups[index];
    for email in emails {
        if !group.members.contains(&email) {
            group.members.push(email);
        }
    }
    group_reply(&store, index)
}

pub async fn replace_group_users(
    sim: Sim,
    Path(id): Path<String>,
    axum::Extension(call): Input,
) -> Reply {
    let mut store = sim.store();
    let index = store.group_index(&id)?;
    let emails = member_emails(&store, &call)?;
    store.groups[index].members = emails;
    group_reply(&store, index)
}

pub async fn remove_group_users(sim: Sim, Path(id): Path<String>, RawQuery(q): RawQuery) -> Reply {
    let emails = Params::parse(q.as_deref()).list("emails");
    if emails.is_empty() {
        return Err(ApiError::required("emails"));
    }
    let mut store = sim.store();
    let index = store.group_index(&id)?;
    store.groups[index].members.retain(|m| !emails.contains(m));
    success()
}

pub async fn add_group_permissions(
    sim: Sim,
    Path(id): Path<String>,
    axum::Extension(call): Input,
) -> Reply {
    let mut store = sim.store();
    let index = store.group_index(&id)?;
    let added = parse_permissions(&store, call.array("permissions"), "permissions")?;
    add_permissions(&mut store.groups[index].permissions, added);
    permissions_reply(&store, &store.groups[index].permissions)
}

pub async fn replace_group_permissions(
    sim: Sim,
    Path(id): Path<String>,
    axum::Extension(call): Input,
) -> Reply {
    let mut store = sim.store();
    let index = store.group_index(&id)?;
    let mut permissions = Vec::new();
    add_permissions(
        &mut permissions,
        parse_permissions(&store, call.array("permissions"), "permissions")?,
    );
    store.groups[index].permissions = permissions;
    permissions_reply(&store, &store.groups[index].permissions)
}
