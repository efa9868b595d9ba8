//! The "manual follow-ups" checklist: what a person must do in the app, in the apps that send
//! data, or in the plan, derived from the finding codes alone.
//!
//! Each [`Group`] gathers the codes that call for the same human action, says what to do once,
//! and lists one checklist line per object with the findings' own sentences (which carry the
//! specifics: the old write key's last characters, the function's new name, the invitee's
//! email). The groups come in the order the work is best done: blockers first (nothing applies
//! until they are settled), then what must be ready before `apply` (secrets), then cut-over work,
//! then reviews.
//!
//! Invariant (tested): every code of severity `manual` or `blocker` belongs to a group, so a new
//! code that needs a person cannot be left off the checklist by accident. Codes of lower
//! severity join a group only when their sentence asks a person to do or check something.

use std::collections::BTreeMap;

use crate::mapping::{FindingCode, Severity};

use super::model::{FollowUp, FollowUpEntry, ReportItem};

/// One checklist group.
pub struct Group {
    pub id: &'static str,
    pub title: &'static str,
    pub instructions: &'static str,
    pub codes: &'static [FindingCode],
}

use FindingCode as C;

/// The checklist groups, in the order they are worked through.
pub const GROUPS: &[Group] = &[
    Group {
        id: "resolve_blockers",
        title: "Resolve blockers, then plan again",
        instructions: "These objects cannot be applied as planned. Fix each cause (a mapping row, a \
            rename so that names differ, an `--on-conflict` choice, a shorter filter), then run \
            `segbridge plan` again; the objects stay out of `apply` until then.",
        codes: &[
            C::ObjectMalformed,
            C::CatalogAmbiguous,
            C::CatalogNotFound,
            C::SourceFunctionUnresolved,
            C::DestinationSingleInstance,
            C::FilterTooMany,
            C::FilterConditionTooLong,
            C::FilterTooManyActions,
            C::FilterTooManyFieldObjects,
            C::FilterTooManyFields,
            C::FilterUnknownAction,
            C::PlanDuplicateRule,
            C::PlanRuleTooLarge,
            C::IamRoleNotInTarget,
            C::IamSubjectUnknown,
            C::FunctionUnknownSettingType,
            C::FunctionUnknownType,
            C::TargetConflict,
            C::TargetAmbiguous,
        ],
    },
    Group {
        id: "supply_secrets",
        title: "Supply secret settings before apply",
        instructions: "Secret values are never stored by segbridge. Put each setting below in the \
            `--secrets` file under the object's Config name (`[\"<config name>\"]` then \
            `setting = \"value\"`), or make sure the Config API still returns it in clear at \
            apply time. Masked values must come from the secrets file.",
        codes: &[
            C::DestinationSecretRequired,
            C::DestinationMaskedSecret,
            C::SourceSecretRequired,
        ],
    },
    Group {
        id: "confirm_source_functions",
        title: "Confirm which function each function source runs",
        instructions: "The Config API does not say which source function a source runs; \
            segbridge inferred it from the setting names. Check each pairing in the old \
            workspace before applying.",
        codes: &[C::SourceFunctionInstance],
    },
    Group {
        id: "create_tokens",
        title: "Create Public API tokens in the app",
        instructions: "The Public API cannot create tokens. A Workspace Owner creates a Public API \
            token in the target workspace (Settings › Access Management › Tokens) for each use \
            below and replaces the old token wherever it is configured.",
        codes: &[C::AccessTokenCreateInApp],
    },
    Group {
        id: "recreate_roles",
        title: "Re-create custom roles and grants by hand",
        instructions: "Roles cannot be created through the Public API, and some grants have no \
            Public permission type. Re-create these in the target's Access Management, e.g. by \
            granting on the parent source.",
        codes: &[C::IamCustomRole, C::IamResourceUnsupported],
    },
    Group {
        id: "rotate_write_keys",
        title: "Switch every app to the new write keys",
        instructions: "Write keys cannot be carried over: each new source gets new keys. At \
            cut-over, change the write key in every app, website and server that sends to \
            these sources (the old key's last characters are shown), then enable the source.",
        codes: &[C::SourceWriteKeyRegenerated],
    },
    Group {
        id: "set_connection_modes",
        title: "Set connection modes in the app",
        instructions: "The Public API cannot set a destination's connection mode. After apply, \
            open each destination in the app (Connections › destination › Settings) and set the \
            mode shown.",
        codes: &[C::DestinationConnectionMode],
    },
    Group {
        id: "enable_at_cut_over",
        title: "Enable sources and destinations at cut-over",
        instructions: "Sources and destinations are created disabled so that nothing is delivered \
            twice while both workspaces run. Enable them when the apps send to the new write \
            keys and the old ones are turned off.",
        codes: &[C::SourceCreatedDisabled, C::DestinationCreatedDisabled],
    },
    Group {
        id: "rename_functions",
        title: "Update code that names destination functions",
        instructions: "The Public API appends the workspace name to these functions' display \
            names. Tracking code that enables or disables them by name in the `integrations` \
            object must use the new name.",
        codes: &[C::FunctionDisplayNameSuffix],
    },
    Group {
        id: "update_tracking_plan_ids",
        title: "Update tools that address tracking plans by id",
        instructions: "Tracking plans get new `tp_` ids. Update typewriter configurations (and \
            any script) that use the old `rs_` id.",
        codes: &[C::PlanNewId],
    },
    Group {
        id: "invite_people",
        title: "Tell people about their invites",
        instructions: "Users cannot be created, only invited, and pending invites are sent again \
            from the target workspace with a new expiry. Let each person below know an email \
            from Segment is coming and must be accepted.",
        codes: &[C::IamUserNotCreatable, C::IamInviteResent],
    },
    Group {
        id: "enable_protocols",
        title: "Enable Protocols in the target workspace",
        instructions: "Schema settings (blocking unplanned events, forwarding violations) only \
            take effect when Protocols is enabled in the target workspace.",
        codes: &[C::SchemaConfigNeedsProtocols],
    },
    Group {
        id: "carry_settings_by_hand",
        title: "Carry over settings the Public API does not take",
        instructions: "These values are left behind. Set each in the app or in the SDK \
            configuration if it still matters.",
        codes: &[
            C::SourceLibraryConfigDropped,
            C::SchemaConfigUnknownField,
            C::DestinationSettingNotInTarget,
            C::DestinationSettingDropped,
            C::PlanLegacyTraits,
        ],
    },
    Group {
        id: "review_tracking_plans",
        title: "Review inferred tracking-plan rules",
        instructions: "These rules were mapped by an inferred rule or lost a conflicting \
            description; check them in the target's tracking plan after apply.",
        codes: &[C::PlanInferredRuleType, C::PlanDescriptionConflict],
    },
    Group {
        id: "resolve_missing_ids",
        title: "Find the Public ids segbridge could not match",
        instructions: "Adopt mode found no target object with these natural keys. Create the \
            object, or correct the name that differs, then plan again.",
        codes: &[C::TargetNotFound],
    },
];

/// The group a code belongs to, if any.
pub fn group_of(code: &str) -> Option<&'static Group> {
    GROUPS
        .iter()
        .find(|g| g.codes.iter().any(|c| c.as_str() == code))
}

/// The checklist of `items`: groups with at least one entry, in [`GROUPS`] order; within a
/// group one entry per object, in item order, its fields and sentences deduplicated.
pub fn follow_ups(items: &[ReportItem]) -> Vec<FollowUp> {
    let mut entries: BTreeMap<&'static str, Vec<FollowUpEntry>> = BTreeMap::new();
    for item in items {
        let mut per_group: BTreeMap<&'static str, FollowUpEntry> = BTreeMap::new();
        for finding in &item.findings {
            let Some(group) = group_of(&finding.code) else {
                continue;
            };
            let entry = per_group.entry(group.id).or_insert_with(|| FollowUpEntry {
                kind: item.kind.clone(),
                config_name: item.config_name.clone(),
                fields: Vec::new(),
                details: Vec::new(),
            });
            if let Some(field) = &finding.field
                && !entry.fields.contains(field)
            {
                entry.fields.push(field.clone());
            }
            if !entry.details.contains(&finding.message) {
                entry.details.push(finding.message.clone());
            }
        }
        for (group, entry) in per_group {
            entries.entry(group).or_default().push(entry);
        }
    }
    GROUPS
        .iter()
        .filter_map(|group| {
            let entries = entries.remove(group.id)?;
            Some(FollowUp {
                id: group.id,
                title: group.title,
                instructions: group.instructions,
                codes: group.codes.iter().map(|c| c.as_str()).collect(),
                entries,
            })
        })
        .collect()
}

/// Whether a code needs a person by its severity alone.
pub fn needs_a_person(code: FindingCode) -> bool {
    matches!(code.severity(), Severity::Manual | Severity::Blocker)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::ReportFinding;

    #[test]
    fn every_code_that_needs_a_person_is_on_the_checklist_once() {
        for code in FindingCode::ALL {
            let groups = GROUPS.iter().filter(|g| g.codes.contains(code)).count();
            assert!(groups <= 1, "{code} is in {groups} groups");
            if needs_a_person(*code) {
                assert_eq!(groups, 1, "{code} needs a person but is on no checklist");
            }
        }
        let mut ids: Vec<_> = GROUPS.iter().map(|g| g.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), GROUPS.len());
    }

    fn item(name: &str, findings: &[(&str, Option<&str>, &str)]) -> ReportItem {
        ReportItem {
            kind: "destinations".into(),
            config_name: name.into(),
            action: "create".into(),
            target_id: None,
            natural_key: None,
            matched_by: None,
            conflict: false,
            writes: 1,
            findings: findings
                .iter()
                .map(|(code, field, message)| ReportFinding {
                    code: (*code).into(),
                    severity: "manual".into(),
                    field: field.map(str::to_owned),
                    message: (*message).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn entries_gather_one_object_s_fields_and_keep_group_order() {
        let items = [
            item(
                "ws/sources/a/destinations/x",
                &[
                    (
                        "destination.connection_mode_not_settable",
                        None,
                        "mode CLOUD",
                    ),
                    (
                        "destination.secret_required",
                        Some("config.apiKey"),
                        "apiKey",
                    ),
                    ("destination.masked_secret", Some("config.token"), "token"),
                    (
                        "destination.extra_instance",
                        Some("name"),
                        "not a follow-up",
                    ),
                ],
            ),
            item("ws/sources/a/destinations/y", &[]),
        ];
        let groups = follow_ups(&items);
        let ids: Vec<_> = groups.iter().map(|g| g.id).collect();
        assert_eq!(ids, ["supply_secrets", "set_connection_modes"]);
        assert_eq!(groups[0].entries.len(), 1);
        assert_eq!(
            groups[0].entries[0].fields,
            ["config.apiKey", "config.token"]
        );
        assert_eq!(groups[0].entries[0].details, ["apiKey", "token"]);
    }
}
