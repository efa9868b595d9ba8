//! IAM: roles (matched), policies (grouped by subject into permissions), users (invited or
//! granted) and invites.
//!
//! Config policies are (role, resource, subject) triples; Public permissions are
//! `{roleId, resources: [{id, type}]}` lists on a user. A user's policies are therefore grouped
//! into one request per user, and since the Public API cannot create users, each user gets two
//! alternative payloads: `POST /users/{userId}/permissions` when a user with that email exists
//! in the target ([`Condition::TargetUserExists`]) and `POST /invites` carrying the same
//! permissions otherwise ([`Condition::TargetUserMissing`]); the planner picks one after reading
//! the target's users. Findings about a grant (custom role, resource type the Public API cannot
//! express) are reported once, on the policy or invite that holds it, and the grant is left out.
//!
//! Role names go through `mappings/iam.toml` and are matched against the target's `GET /roles`;
//! resource types through its `resource_types` table (the collection segment of the Config
//! resource name).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::payload::id_or_ref;
use super::{Condition, Context, FindingCode, Mapped, Payload, Ref, Step, str_field};
use crate::model::Kind;

/// Why a grant cannot be expressed.
struct GrantProblem {
    code: FindingCode,
    message: String,
}

/// Config role names → Public role ids, built from the exported roles.
pub struct RoleIndex {
    roles: HashMap<String, Result<String, (FindingCode, String)>>,
}

impl RoleIndex {
    pub fn new(roles: &[(String, Value)], ctx: &Context<'_>) -> RoleIndex {
        let roles = roles
            .iter()
            .map(|(name, body)| {
                let display = str_field(body, "display_name").unwrap_or_default();
                (name.clone(), resolve_role(display, ctx))
            })
            .collect();
        RoleIndex { roles }
    }

    fn get(&self, config_role: &str) -> Result<&str, GrantProblem> {
        match self.roles.get(config_role) {
            Some(Ok(id)) => Ok(id),
            Some(Err((code, message))) => Err(GrantProblem {
                code: *code,
                message: message.clone(),
            }),
            None => Err(GrantProblem {
                code: FindingCode::IamRoleNotInTarget,
                message: format!("Role `{config_role}` is not among the exported roles."),
            }),
        }
    }
}

fn resolve_role(display: &str, ctx: &Context<'_>) -> Result<String, (FindingCode, String)> {
    let Some(public) = ctx.tables.iam.roles.get(display) else {
        return Err((
            FindingCode::IamCustomRole,
            format!(
                "Role `{display}` is not a built-in role (no row in mappings/iam.toml); the \
                 Public API cannot create roles. Grant an equivalent role in the app."
            ),
        ));
    };
    ctx.roles
        .iter()
        .find(|r| r.name == *public)
        .map(|r| r.id.clone())
        .ok_or_else(|| {
            (
                FindingCode::IamRoleNotInTarget,
                format!("Role `{public}` (Config `{display}`) is not among the target's roles."),
            )
        })
}

/// The Public `{id, type}` of a Config policy resource name.
fn resource(resource_name: &str, ctx: &Context<'_>) -> Result<Value, GrantProblem> {
    let segments: Vec<&str> = resource_name.split('/').collect();
    let collection = match segments.as_slice() {
        ["workspaces", _] => "workspace",
        [.., collection, _] => collection,
        _ => "",
    };
    let public_type = ctx
        .tables
        .permission_resource_type(collection)
        .filter(|t| !t.is_empty());
    let kind = match public_type {
        Some("WORKSPACE") => Some(Kind::Workspaces),
        Some("SOURCE") => Some(Kind::Sources),
        Some("FUNCTION") => Some(Kind::Functions),
        _ => None,
    };
    let (Some(public_type), Some(kind)) = (public_type, kind) else {
        return Err(GrantProblem {
            code: FindingCode::IamResourceUnsupported,
            message: format!(
                "A grant on `{resource_name}` ({collection}) is left out: segbridge carries \
                 grants on the workspace, sources and functions, the resources it migrates \
                 (warehouses and spaces are not exported, so their Public ids are unknown). \
                 Grant access in the app, e.g. on the parent source."
            ),
        });
    };
    let id = match (kind, ctx.workspace_id) {
        (Kind::Workspaces, Some(id)) => Value::String(id.to_owned()),
        (Kind::Functions, _) => id_or_ref(ctx.ids, Ref::id(kind, *segments.last().unwrap_or(&""))),
        _ => id_or_ref(ctx.ids, Ref::id(kind, resource_name)),
    };
    Ok(json!({"id": id, "type": public_type}))
}

/// Grants as Public permissions, merged by role; problems are returned beside them.
fn permissions<'a>(
    grants: impl Iterator<Item = (&'a str, &'a str, String)>,
    roles: &RoleIndex,
    ctx: &Context<'_>,
) -> (Vec<Value>, Vec<(String, GrantProblem)>) {
    let mut by_role: Vec<(String, Vec<Value>)> = Vec::new();
    let mut problems = Vec::new();
    for (role, resource_name, field) in grants {
        let role_id = match roles.get(role) {
            Ok(id) => id.to_owned(),
            Err(problem) => {
                problems.push((field, problem));
                continue;
            }
        };
        let res = match resource(resource_name, ctx) {
            Ok(res) => res,
            Err(problem) => {
                problems.push((field, problem));
                continue;
            }
        };
        match by_role.iter_mut().find(|(id, _)| *id == role_id) {
            Some((_, list)) => {
                if !list.contains(&res) {
                    list.push(res);
                }
            }
            None => by_role.push((role_id, vec![res])),
        }
    }
    let list = by_role
        .into_iter()
        .map(|(role_id, resources)| json!({"roleId": role_id, "resources": resources}))
        .collect();
    (list, problems)
}

/// A Config role: matched to a target role id, never created.
pub fn map_role(config_name: &str, body: &Value, ctx: &Context<'_>) -> Mapped {
    let mut mapped = Mapped::new(Kind::Roles, config_name);
    let display = str_field(body, "display_name").unwrap_or_default();
    match resolve_role(display, ctx) {
        Ok(id) => mapped.resolved_id = Some(id),
        Err((code, message)) => mapped.find(code, Some("display_name"), message),
    }
    mapped
}

/// The Config role name of a policy (`<role name>/policies/<id>`).
fn role_of_policy(policy_name: &str) -> &str {
    policy_name
        .rsplit_once("/policies/")
        .map_or(policy_name, |(role, _)| role)
}

/// A Config policy: its permission is carried by its subject's user payloads
/// ([`map_users`]); this reports what cannot be carried.
pub fn map_policy(
    config_name: &str,
    body: &Value,
    roles: &RoleIndex,
    users: &[(String, Value)],
    ctx: &Context<'_>,
) -> Mapped {
    let mut mapped = Mapped::new(Kind::Policies, config_name);
    let (Some(subject), Some(resource_name)) =
        (str_field(body, "subject"), str_field(body, "resource"))
    else {
        mapped.malformed("subject", "string");
        return mapped;
    };
    if !users.iter().any(|(name, _)| name == subject) {
        mapped.find(
            FindingCode::IamSubjectUnknown,
            Some("subject"),
            format!("Subject `{subject}` is not a user of the export; the grant is not migrated."),
        );
    }
    let grant = (
        role_of_policy(config_name),
        resource_name,
        "resource".to_owned(),
    );
    let (_, problems) = permissions(std::iter::once(grant), roles, ctx);
    for (field, problem) in problems {
        mapped.find(problem.code, Some(&field), problem.message);
    }
    mapped
}

/// Every exported user with their policies: the two alternative payloads of the module docs.
pub fn map_users(
    users: &[(String, Value)],
    policies: &[(String, Value)],
    roles: &RoleIndex,
    ctx: &Context<'_>,
) -> Vec<Mapped> {
    // Policies by subject, so each user reads only their own (workspaces hold thousands).
    let mut by_subject: HashMap<&str, Vec<&(String, Value)>> = HashMap::new();
    for policy in policies {
        if let Some(subject) = str_field(&policy.1, "subject") {
            by_subject.entry(subject).or_default().push(policy);
        }
    }
    users
        .iter()
        .map(|(user_name, body)| {
            let mut mapped = Mapped::new(Kind::Users, user_name);
            let Some(email) = str_field(body, "email") else {
                mapped.malformed("email", "string");
                return mapped;
            };
            let grants = by_subject
                .get(user_name.as_str())
                .into_iter()
                .flatten()
                .map(|(name, policy)| {
                    (
                        role_of_policy(name),
                        str_field(policy, "resource").unwrap_or_default(),
                        name.clone(),
                    )
                });
            let (permissions, _problems_reported_on_policies) = permissions(grants, roles, ctx);
            mapped.find(
                FindingCode::IamUserNotCreatable,
                None,
                format!(
                    "Users cannot be created through the Public API: if {email} has no account in \
                     the target, they are invited (an email is sent) and get their permissions \
                     when they accept."
                ),
            );
            if !permissions.is_empty() {
                mapped.payloads.push(
                    Payload::new(
                        Step::AddUserPermissions,
                        "POST",
                        "/users/{userId}/permissions",
                    )
                    .param(
                        "userId",
                        id_or_ref(ctx.ids, Ref::id(Kind::Users, user_name)),
                    )
                    .body(json!({"permissions": permissions.clone()}))
                    .when(Condition::TargetUserExists),
                );
            }
            mapped.payloads.push(
                Payload::new(Step::InviteUser, "POST", "/invites")
                    .body(json!({"invites": [{"email": email, "permissions": permissions}]}))
                    .when(Condition::TargetUserMissing),
            );
            mapped
        })
        .collect()
}

/// A Config invite (`workspaces/<ws>/invites/<id>`).
pub fn map_invite(config_name: &str, body: &Value, roles: &RoleIndex, ctx: &Context<'_>) -> Mapped {
    let mut mapped = Mapped::new(Kind::Invites, config_name);
    let Some(email) = str_field(body, "email") else {
        mapped.malformed("email", "string");
        return mapped;
    };
    let grants = body
        .get("policies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, p)| {
            (
                str_field(p, "role").unwrap_or_default(),
                str_field(p, "resource").unwrap_or_default(),
                format!("policies.{index}"),
            )
        });
    let (permissions, problems) = permissions(grants, roles, ctx);
    for (field, problem) in problems {
        mapped.find(problem.code, Some(&field), problem.message);
    }
    mapped.find(
        FindingCode::IamInviteResent,
        None,
        format!(
            "The invite to {email} is sent again from the target workspace (a new email); its \
             expiry cannot be carried over."
        ),
    );
    mapped.payloads.push(
        Payload::new(Step::InviteUser, "POST", "/invites")
            .body(json!({"invites": [{"email": email, "permissions": permissions}]})),
    );
    mapped
}
