//! Access management: roles, users, policies, invites and access tokens.

use crate::sim::rng::Rng;
use crate::sim::workspace::{
    AccessToken, Invite, Policy, PolicyResource, Role, Source, TrackingPlan, User,
};

use super::clock::{Clock, DAY, HORIZON, between, timestamp};
use super::counts::Span;
use super::ids::{ksuid, sub_rng};
use super::names::{FIRST_NAMES, FULL_NAMES, LAST_NAMES, Unique};

/// Segment's built-in roles, in the order the app lists them.
pub const BUILTIN_ROLES: [(&str, &str); 12] = [
    (
        "Workspace Owner",
        "Read and edit access to every resource, workspace settings and team members.",
    ),
    (
        "Workspace Member",
        "Access to the workspace; access to its resources is granted separately.",
    ),
    (
        "Source Admin",
        "Edit access to sources and their destinations.",
    ),
    (
        "Source Read-only",
        "Read access to sources and their destinations.",
    ),
    (
        "Warehouse Admin",
        "Edit access to warehouses and their settings.",
    ),
    ("Warehouse Read-only", "Read access to warehouses."),
    (
        "Protocols Admin",
        "Edit access to tracking plans and schema controls.",
    ),
    (
        "Protocols Read-only",
        "Read access to tracking plans and schema controls.",
    ),
    (
        "Personas Admin",
        "Edit access to Personas spaces, audiences and computed traits.",
    ),
    (
        "Personas User",
        "Edit access to audiences and computed traits.",
    ),
    ("Personas Read-only", "Read access to Personas spaces."),
    (
        "Functions Admin",
        "Create, edit and deploy source and destination functions.",
    ),
];

const OWNER: &str = "Workspace Owner";
const WORKSPACE_ROLES: &[&str] = &[
    "Workspace Member",
    "Workspace Member",
    "Workspace Member",
    "Source Read-only",
    "Warehouse Admin",
    "Warehouse Read-only",
    "Protocols Read-only",
    "Personas Admin",
    "Personas User",
    "Personas Read-only",
    "Functions Admin",
    OWNER,
];
const SOURCE_ROLES: &[&str] = &["Source Admin", "Source Read-only"];
const PLAN_ROLES: &[&str] = &["Protocols Admin", "Protocols Read-only"];

/// Roles are global in Segment, so their ids must not depend on the workspace: they are
/// KSUIDs of a fixed date whose random part is seeded by the role name alone.
pub fn role_id(name: &str) -> String {
    const ROLES_CREATED: i64 = 1_546_300_800; // 2019-01-01T00:00:00Z
    ksuid(&mut Rng::new(0).fork(name), ROLES_CREATED)
}

/// The first `count` built-in roles.
pub(super) fn roles(count: usize) -> Vec<Role> {
    BUILTIN_ROLES
        .iter()
        .take(count)
        .map(|(name, description)| Role {
            id: role_id(name),
            display_name: (*name).to_owned(),
            description: (*description).to_owned(),
        })
        .collect()
}

/// Hosts for addresses outside the company's domain: agencies and personal accounts, which
/// real teams always have a few of.
const OUTSIDE_DOMAINS: &[&str] = &["gmail.com", "outlook.com", "northpeak-agency.io"];

/// Emails already handed out, shared by users and invites (an invite to a member is moot).
#[derive(Default)]
pub(super) struct Emails(Unique);

impl Emails {
    fn claim(&mut self, local: &str, domain: &str) -> String {
        let mut n = 1;
        loop {
            let email = if n == 1 {
                format!("{local}@{domain}")
            } else {
                format!("{local}{n}@{domain}")
            };
            if !self.0.contains(&email) {
                self.0.reserve(&email);
                return email;
            }
            n += 1;
        }
    }
}

pub(super) fn users(
    rng: &Rng,
    count: usize,
    company_domain: &str,
    clock: &Clock,
    emails: &mut Emails,
) -> Vec<User> {
    (0..count)
        .map(|i| user(&mut sub_rng(rng, "user", i), company_domain, clock, emails))
        .collect()
}

fn user(rng: &mut Rng, company_domain: &str, clock: &Clock, emails: &mut Emails) -> User {
    let (display_name, local) = person_name(rng);
    let domain = if rng.chance(0.8) {
        company_domain
    } else {
        rng.pick(OUTSIDE_DOMAINS)
    };
    let joined = clock.created(rng);
    User {
        id: ksuid(rng, joined),
        email: emails.claim(&local, domain),
        display_name,
    }
}

/// A display name and the local part of an email address for it.
fn person_name(rng: &mut Rng) -> (String, String) {
    if rng.chance(0.12) {
        let (display, local) = rng.pick(FULL_NAMES);
        return ((*display).to_owned(), (*local).to_owned());
    }
    let (first, first_ascii) = rng.pick(FIRST_NAMES);
    let (last, last_ascii) = rng.pick(LAST_NAMES);
    (
        format!("{first} {last}"),
        format!("{first_ascii}.{last_ascii}"),
    )
}

/// What policies and invites can be scoped to.
pub(super) struct Grantable<'a> {
    pub roles: &'a [Role],
    pub sources: &'a [Source],
    pub plans: &'a [TrackingPlan],
}

impl Grantable<'_> {
    /// The id of a role among `preferred` that the workspace lists, or of any listed role.
    fn role(&self, rng: &mut Rng, preferred: &[&str]) -> Option<String> {
        let listed: Vec<&Role> = self
            .roles
            .iter()
            .filter(|r| preferred.contains(&r.display_name.as_str()))
            .collect();
        if listed.is_empty() {
            return (!self.roles.is_empty()).then(|| rng.pick(self.roles).id.clone());
        }
        Some(rng.pick(&listed).id.clone())
    }

    fn grant(&self, rng: &mut Rng, scope: Scope) -> Option<(String, PolicyResource)> {
        let with_role = |rng: &mut Rng, roles: &[&str], resource| {
            self.role(rng, roles).map(|role| (role, resource))
        };
        match scope {
            Scope::Owner => with_role(rng, &[OWNER], PolicyResource::Workspace),
            Scope::Workspace => with_role(rng, WORKSPACE_ROLES, PolicyResource::Workspace),
            Scope::Source if !self.sources.is_empty() => {
                let source = rng.pick(self.sources).slug.clone();
                with_role(rng, SOURCE_ROLES, PolicyResource::Source(source))
            }
            Scope::Destination => {
                let with_destinations: Vec<&Source> = self
                    .sources
                    .iter()
                    .filter(|s| !s.destinations.is_empty())
                    .collect();
                if with_destinations.is_empty() {
                    return self.grant(rng, Scope::Source);
                }
                let source = rng.pick(&with_destinations);
                let destination = rng.pick(&source.destinations).slug.clone();
                let resource = PolicyResource::Destination(source.slug.clone(), destination);
                with_role(rng, SOURCE_ROLES, resource)
            }
            Scope::TrackingPlan if !self.plans.is_empty() => {
                let plan = rng.pick(self.plans).id.clone();
                with_role(rng, PLAN_ROLES, PolicyResource::TrackingPlan(plan))
            }
            Scope::Source | Scope::TrackingPlan => self.grant(rng, Scope::Workspace),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Owner,
    Workspace,
    Source,
    /// Not expressible on the Public API; a migration must report it.
    Destination,
    /// Not expressible on the Public API either.
    TrackingPlan,
}

fn further_scope(rng: &mut Rng) -> Scope {
    match rng.below(100) {
        0..70 => Scope::Source,
        70..82 => Scope::TrackingPlan,
        82..92 => Scope::Destination,
        _ => Scope::Workspace,
    }
}

pub(super) fn policies(
    rng: &Rng,
    users: &[User],
    per_user: Span,
    grantable: &Grantable,
    clock: &Clock,
) -> Vec<Policy> {
    let mut policies = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let mut rng = sub_rng(rng, "policies", i);
        for scope in scopes_of_user(&mut rng, i, per_user) {
            push_policy(&mut policies, &mut rng, user, scope, grantable, clock);
        }
    }
    policies
}

/// The first user owns the workspace, which needs no other grant. Everyone else starts with
/// one workspace-wide role and gets source, tracking-plan or destination grants on top. Users
/// 1 and 2 always end on a destination and a tracking-plan grant, the two scopes the Public
/// API cannot express.
fn scopes_of_user(rng: &mut Rng, user_index: usize, per_user: Span) -> Vec<Scope> {
    if user_index == 0 {
        return vec![Scope::Owner; per_user.max.min(1)];
    }
    let forced = match user_index {
        1 => Some(Scope::Destination),
        2 => Some(Scope::TrackingPlan),
        _ => None,
    };
    let mut count = rng.range(per_user.min, per_user.max.max(per_user.min));
    if forced.is_some() && per_user.max >= 2 {
        count = count.max(2);
    }
    let mut scopes: Vec<Scope> = (0..count)
        .map(|k| match k {
            0 => Scope::Workspace,
            _ => further_scope(rng),
        })
        .collect();
    if let (Some(scope), true) = (forced, count >= 2) {
        scopes[count - 1] = scope;
    }
    scopes
}

/// Adds a policy unless the same grant already exists for the user (the API would merge it).
fn push_policy(
    policies: &mut Vec<Policy>,
    rng: &mut Rng,
    user: &User,
    scope: Scope,
    grantable: &Grantable,
    clock: &Clock,
) {
    let Some((role_id, resource)) = grantable.grant(rng, scope) else {
        return;
    };
    let duplicate = policies
        .iter()
        .any(|p| p.user_id == user.id && p.role_id == role_id && p.resource == resource);
    if !duplicate {
        let granted = clock.created(rng);
        policies.push(Policy {
            id: ksuid(rng, granted),
            role_id,
            user_id: user.id.clone(),
            resource,
        });
    }
}

/// Pending invites: sent in the last two weeks before the horizon, valid for a week.
pub(super) fn invites(
    rng: &Rng,
    count: usize,
    company_domain: &str,
    grantable: &Grantable,
    emails: &mut Emails,
) -> Vec<Invite> {
    (0..count)
        .map(|i| {
            let mut rng = sub_rng(rng, "invite", i);
            let (_, local) = person_name(&mut rng);
            let domain = if rng.chance(0.7) {
                company_domain
            } else {
                rng.pick(OUTSIDE_DOMAINS)
            };
            let mut grants: Vec<(String, PolicyResource)> = grantable
                .grant(&mut rng, Scope::Workspace)
                .into_iter()
                .collect();
            let extra = rng
                .chance(0.5)
                .then(|| grantable.grant(&mut rng, Scope::Source))
                .flatten();
            if let Some(extra) = extra.filter(|e| !grants.contains(e)) {
                grants.push(extra);
            }
            let created = between(&mut rng, HORIZON - 14 * DAY, HORIZON - DAY);
            Invite {
                id: ksuid(&mut rng, created),
                email: emails.claim(&local, domain),
                grants,
                create_time: timestamp(created),
                expire_time: timestamp(created + 7 * DAY),
            }
        })
        .collect()
}

const TOKEN_PURPOSES: &[&str] = &[
    "Terraform",
    "segbridge migration",
    "CI pipeline",
    "Data catalog sync",
    "Looker audit export",
    "Équipe data – lecture",
    "Backstage plugin",
];

/// The first token has full access and the second is read-only, so both scopes always appear;
/// numbers grow with creation time, as the Config API allocates them.
pub(super) fn access_tokens(rng: &Rng, count: usize, clock: &Clock) -> Vec<AccessToken> {
    let mut rng = rng.fork("access-tokens");
    let mut created: Vec<i64> = (0..count).map(|_| clock.created(&mut rng)).collect();
    created.sort_unstable();
    let mut number = rng.range(1_000, 9_000) as u32;
    created
        .into_iter()
        .enumerate()
        .map(|(i, created)| {
            number += rng.range(1, 40) as u32;
            let scopes = match i {
                0 => "workspace",
                1 => "workspace:read",
                _ if rng.chance(0.5) => "workspace",
                _ => "workspace:read",
            };
            AccessToken {
                number,
                description: (*rng.pick(TOKEN_PURPOSES)).to_owned(),
                scopes: scopes.to_owned(),
                create_time: timestamp(created),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_ids_depend_on_the_name_only() {
        let ids: Vec<String> = roles(12).into_iter().map(|r| r.id).collect();
        assert_eq!(ids, roles(12).into_iter().map(|r| r.id).collect::<Vec<_>>());
        assert!(ids.iter().all(|id| id.len() == 27));
        assert_ne!(ids[0], ids[1]);
        assert_eq!(role_id("Workspace Owner"), ids[0]);
    }
}
