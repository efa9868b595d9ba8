//! Compatibility findings: what a person must know about one object's migration.
//!
//! Every finding has a stable code (reports, tests and operators key on it, so a code is never
//! renamed, only added), a severity fixed by its code, the Config name of the object, the field
//! when one is concerned, and a sentence a person understands. The codes and their severities
//! are listed once, in [`FindingCode::ALL`], from which `docs/mapping.md` is generated.

use serde::Serialize;

use crate::model::Kind;

/// How much a finding matters to the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Nothing is lost; worth knowing.
    Info,
    /// The object migrates, but some value or behaviour does not come along.
    Lossy,
    /// A person must act (supply a secret, confirm, do something in the app).
    Manual,
    /// The object cannot be applied as mapped until the cause is fixed.
    Blocker,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Info,
        Severity::Lossy,
        Severity::Manual,
        Severity::Blocker,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Lossy => "lossy",
            Severity::Manual => "manual",
            Severity::Blocker => "blocker",
        }
    }
}

macro_rules! codes {
    ($( $variant:ident = $code:literal, $severity:ident, $summary:literal; )*) => {
        /// A stable finding code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum FindingCode { $( $variant, )* }

        impl FindingCode {
            /// Every code, in documentation order.
            pub const ALL: &'static [FindingCode] = &[ $( FindingCode::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self { $( FindingCode::$variant => $code, )* }
            }

            pub fn severity(self) -> Severity {
                match self { $( FindingCode::$variant => Severity::$severity, )* }
            }

            /// One line for the documentation's list of codes.
            pub fn summary(self) -> &'static str {
                match self { $( FindingCode::$variant => $summary, )* }
            }
        }
    };
}

codes! {
    ObjectMalformed = "object.malformed", Blocker,
        "The exported object lacks a field the mapping needs; it cannot be mapped.";
    WorkspaceNotCreatable = "workspace.not_creatable", Info,
        "Workspaces cannot be created through the Public API; only the target's id is used.";
    AccessTokenCreateInApp = "access_token.create_in_app", Manual,
        "The Public API has no token endpoints; Public API tokens are created in the app by a Workspace Owner.";
    CatalogNotInTarget = "catalog.not_in_target", Info,
        "A catalog item of the Config API has no counterpart in the target catalog.";
    CatalogRenamed = "catalog.renamed", Info,
        "The integration is resolved through a rename row of mappings/catalog.toml.";
    CatalogAmbiguous = "catalog.ambiguous_match", Blocker,
        "The integration matches only through previous names, or matches several items; a person must choose (add a rename row).";
    CatalogNotFound = "catalog.not_found", Blocker,
        "The integration an object uses has no counterpart in the target catalog.";
    SourceWriteKeyRegenerated = "source.write_key_regenerated", Manual,
        "Write keys cannot be set: the new source gets new keys, and every app sending data must be reconfigured.";
    SourceCreatedDisabled = "source.created_disabled", Info,
        "The source is created disabled and enabled at cut-over.";
    SourceLibraryConfigDropped = "source.library_config_dropped", Lossy,
        "A library setting has no option in the target source metadata and is not carried over.";
    SourceFunctionInstance = "source.function_instance", Manual,
        "The source runs a source function; the function is inferred from the setting names and must be confirmed.";
    SourceFunctionUnresolved = "source.function_instance_unresolved", Blocker,
        "The source runs a source function that cannot be identified from the export.";
    SourceSecretRequired = "source.secret_required", Manual,
        "A function setting value is secret; it must be supplied at apply time.";
    SchemaConfigNeedsProtocols = "schema_config.requires_protocols", Info,
        "Schema settings only take effect when Protocols is enabled in the target workspace.";
    SchemaConfigUnknownField = "schema_config.unknown_field", Lossy,
        "A schema-config field has no row in mappings/schema_config.toml and is not carried over.";
    DestinationConnectionMode = "destination.connection_mode_not_settable", Manual,
        "Connection mode cannot be set through the Public API; set it in the app.";
    DestinationCreatedDisabled = "destination.created_disabled", Info,
        "The destination is created disabled and enabled at cut-over.";
    DestinationSecretRequired = "destination.secret_required", Manual,
        "A secret setting must be supplied at apply time (from the Config API at write time or a secrets file).";
    DestinationMaskedSecret = "destination.masked_secret", Manual,
        "A setting was read masked; the mask is never copied, the value must come from a secrets file.";
    DestinationSettingNotInTarget = "destination.setting_not_in_target", Lossy,
        "A setting has no option in the target destination metadata and is not carried over.";
    DestinationSettingDropped = "destination.setting_dropped", Lossy,
        "A setting is dropped by a row of mappings/destination_settings.toml.";
    DestinationSettingRenamed = "destination.setting_renamed", Info,
        "A setting key is renamed by a row of mappings/destination_settings.toml.";
    DestinationExtraInstance = "destination.extra_instance", Info,
        "A further instance of an integration on the same source; it is named `<display name> (<n>)` in the target.";
    DestinationSingleInstance = "destination.multiple_instances_unsupported", Blocker,
        "The target integration does not support several cloud-mode instances on one source.";
    FilterTooMany = "filter.too_many_filters", Blocker,
        "The destination has more filters than the Public API allows.";
    FilterConditionTooLong = "filter.condition_too_long", Blocker,
        "The filter's FQL condition is longer than the Public API allows.";
    FilterTooManyActions = "filter.too_many_actions", Blocker,
        "The filter has more actions than the Public API allows.";
    FilterTooManyFieldObjects = "filter.too_many_field_objects", Blocker,
        "An allow/drop-properties action names more objects than the Public API allows.";
    FilterTooManyFields = "filter.too_many_fields", Blocker,
        "An allow/drop-properties action lists more fields in one object than the Public API allows.";
    FilterUnknownAction = "filter.unknown_action", Blocker,
        "A filter action type has no row in mappings/filters.toml.";
    FilterEnabledDefaulted = "filter.enabled_defaulted", Info,
        "The filter had no `enabled`; it is created enabled, as the Config API applied it.";
    PlanNewId = "tracking_plan.new_id", Info,
        "The plan gets a new `tp_` id; tools that address it by its `rs_` id (typewriter) must be updated.";
    PlanInferredRuleType = "tracking_plan.inferred_rule_type", Info,
        "A common/identify/group schema is mapped to a rule type by an INFERRED rule.";
    PlanLegacyTraits = "tracking_plan.legacy_traits_not_migrated", Manual,
        "A legacy identify_traits/group_traits entry has no documented shape and is not migrated.";
    PlanDescriptionConflict = "tracking_plan.description_conflict", Lossy,
        "An event's description differs from the description inside its JSON Schema; the schema's is kept.";
    PlanDuplicateRule = "tracking_plan.duplicate_rule", Blocker,
        "Two rules share a type, key and version; the Public API keeps one rule per triple.";
    PlanRuleTooLarge = "tracking_plan.rule_too_large", Blocker,
        "One rule alone exceeds the tracking-plan request size limit.";
    IamCustomRole = "iam.custom_role", Manual,
        "A role without a row in mappings/iam.toml: the Public API cannot create roles.";
    IamRoleNotInTarget = "iam.role_not_in_target", Blocker,
        "The mapped role name is not among the target's roles.";
    IamResourceUnsupported = "iam.resource_type_unsupported", Lossy,
        "A grant on a resource type the Public API permissions cannot express is left out.";
    IamUserNotCreatable = "iam.user_not_creatable", Manual,
        "Users cannot be created, only invited; a user missing from the target gets an invite.";
    IamInviteResent = "iam.invite_resent", Manual,
        "The invite is sent again from the target workspace (a new email); its expiry cannot be set.";
    IamSubjectUnknown = "iam.subject_unknown", Blocker,
        "A policy's subject is not a user of the export.";
    FunctionDisplayNameSuffix = "function.display_name_gains_workspace", Lossy,
        "The Public API appends the workspace name to this function's display name; integrations-object keys that name it change.";
    FunctionHistoryNotMigrated = "function.version_history_not_migrated", Info,
        "Only the current code is copied; version history stays behind.";
    FunctionUnknownSettingType = "function.unknown_setting_type", Blocker,
        "A function setting type has no row in mappings/functions.toml.";
    FunctionUnknownType = "function.unknown_type", Blocker,
        "A function type has no row in mappings/functions.toml.";
    DeliveryBaselineOnly = "delivery_metrics.baseline_only", Info,
        "Delivery history stays behind; the figures are kept as the audit's baseline.";
    TargetConflict = "target.conflict", Blocker,
        "Create mode: the target already holds an object with the same natural key (`--on-conflict fail`).";
    TargetAmbiguous = "target.ambiguous_match", Blocker,
        "Several target objects share the object's natural key; a person must choose, none is picked.";
    TargetAdopted = "target.adopted", Info,
        "The object already exists in the target and is used as it is (adopt mode or `--on-conflict adopt`).";
    TargetSkipped = "target.skipped", Info,
        "The object exists in the target and is left alone with everything that depends on it (`--on-conflict skip`).";
    TargetNotFound = "target.not_found", Manual,
        "Adopt mode: no object of the target has the object's natural key, so it has no Public id.";
    TargetDependencySkipped = "target.dependency_skipped", Info,
        "The object depends on an object that is skipped, unresolved or blocked, so it is not applied.";
}

impl std::fmt::Display for FindingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FindingCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One finding about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: FindingCode,
    pub severity: Severity,
    pub kind: Kind,
    pub config_name: String,
    /// The field concerned, as a path in the Config object (`config.apiKey`, `actions.1`).
    pub field: Option<String>,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_namespaced() {
        let mut seen = std::collections::HashSet::new();
        for code in FindingCode::ALL {
            assert!(seen.insert(code.as_str()), "duplicate {code}");
            let (ns, rest) = code.as_str().split_once('.').unwrap();
            assert!(!ns.is_empty() && !rest.is_empty());
            assert!(code.summary().ends_with('.'), "{code}");
        }
    }
}
