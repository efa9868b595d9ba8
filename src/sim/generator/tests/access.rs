//! Functions and access management.

use super::*;

#[test]
fn functions_have_typed_settings_and_instances_hold_secrets() {
    for ws in smalls() {
        for function in &ws.functions {
            let (prefix, suffix) = function.id.split_once('_').unwrap();
            let expected = match function.kind {
                FunctionKind::Source => "sfnc",
                FunctionKind::Destination => "dfn",
            };
            assert_eq!(prefix, expected);
            assert!(suffix.len() >= 20 && is_base62(suffix));
            assert!(ws.users.iter().any(|u| u.id == function.created_by));
            assert!(function.code.contains("async function"));
        }
        let kinds: HashSet<&str> = ws
            .functions
            .iter()
            .flat_map(|f| &f.settings)
            .map(|s| s.kind.as_str())
            .collect();
        assert_eq!(
            kinds,
            HashSet::from(["string", "boolean", "text-map", "array"])
        );
        assert!(
            ws.functions
                .iter()
                .flat_map(|f| &f.settings)
                .any(|s| s.sensitive)
        );
        assert!(
            ws.functions
                .iter()
                .any(|f| f.kind == FunctionKind::Destination)
        );

        let instances: Vec<_> = ws
            .sources
            .iter()
            .filter_map(|s| s.function_instance.as_ref())
            .collect();
        assert_eq!(
            instances.len(),
            Counts::preset(Preset::Small).function_sources
        );
        let mut secret_seen = false;
        for instance in instances {
            let function = ws
                .functions
                .iter()
                .find(|f| f.id == instance.function_id)
                .unwrap();
            assert_eq!(function.kind, FunctionKind::Source);
            for (name, value) in &instance.settings {
                let setting = function.settings.iter().find(|s| s.name == *name).unwrap();
                if setting.sensitive {
                    assert!(value.as_str().unwrap().starts_with(SECRET_PREFIX));
                    secret_seen = true;
                }
            }
        }
        assert!(secret_seen, "no sensitive function instance setting");
    }
}

#[test]
fn roles_are_builtin_and_the_same_for_every_seed() {
    let names: Vec<&str> = BUILTIN_ROLES.iter().map(|(n, _)| *n).collect();
    for ws in smalls() {
        let listed: Vec<&str> = ws.roles.iter().map(|r| r.display_name.as_str()).collect();
        assert_eq!(listed, names);
        assert!(
            ws.roles
                .iter()
                .all(|r| r.id.len() == 27 && is_base62(&r.id))
        );
        let ids: Vec<&String> = ws.roles.iter().map(|r| &r.id).collect();
        let first: Vec<&String> = smalls()[0].roles.iter().map(|r| &r.id).collect();
        assert_eq!(ids, first);
    }
}

#[test]
fn users_policies_and_invites_reference_real_things() {
    for ws in smalls() {
        assert!(ws.users.iter().any(|u| !u.display_name.is_ascii()));
        assert!(
            ws.users
                .iter()
                .all(|u| u.email.is_ascii() && u.email.contains('@'))
        );
        let exists = |resource: &PolicyResource| match resource {
            PolicyResource::Workspace => true,
            PolicyResource::Source(slug) => ws.source(slug).is_some(),
            PolicyResource::Destination(source, dest) => ws
                .source(source)
                .is_some_and(|s| s.destinations.iter().any(|d| d.slug == *dest)),
            PolicyResource::TrackingPlan(id) => ws.tracking_plans.iter().any(|p| p.id == *id),
        };
        for policy in &ws.policies {
            assert!(ws.users.iter().any(|u| u.id == policy.user_id));
            assert!(ws.roles.iter().any(|r| r.id == policy.role_id));
            assert!(exists(&policy.resource), "{:?}", policy.resource);
        }
        let scoped = |p: fn(&PolicyResource) -> bool| ws.policies.iter().any(|x| p(&x.resource));
        assert!(scoped(|r| matches!(r, PolicyResource::Workspace)));
        assert!(scoped(|r| matches!(r, PolicyResource::Source(_))));
        assert!(scoped(|r| matches!(r, PolicyResource::Destination(..))));
        assert!(scoped(|r| matches!(r, PolicyResource::TrackingPlan(_))));
        let owner = role_id("Workspace Owner");
        assert!(
            ws.policies
                .iter()
                .any(|p| p.role_id == owner && p.user_id == ws.users[0].id)
        );

        assert_eq!(ws.invites.len(), Counts::preset(Preset::Small).invites);
        for invite in &ws.invites {
            assert!(!invite.grants.is_empty());
            assert!(invite.grants.iter().all(|(role, resource)| {
                ws.roles.iter().any(|r| r.id == *role) && exists(resource)
            }));
            assert!(invite.create_time < invite.expire_time);
        }
        let scopes: HashSet<&str> = ws.access_tokens.iter().map(|t| t.scopes.as_str()).collect();
        assert_eq!(scopes, HashSet::from(["workspace", "workspace:read"]));
    }
}
