//! Source and destination functions, and the setting values of source function instances.

use serde_json::{Value, json};

use crate::sim::rng::{BASE62, Rng};
use crate::sim::workspace::{Function, FunctionInstance, FunctionKind, FunctionSetting, User};

use super::clock::{Clock, timestamp};
use super::ids::{hex, secret, sub_rng};
use super::names::Unique;

const SOURCE_FUNCTION_NAMES: &[&str] = &[
    "Typeform Webhook",
    "Zendesk Ticket Sync",
    "Stripe Webhook Relay",
    "Shopify Orders",
    "Formulaire de contact",
    "LINE メッセージ",
    "🔔 PagerDuty Incidents",
    "Calendly Invitees",
    "SurveyMonkey Responses",
    "GitHub Stars",
];

const DESTINATION_FUNCTION_NAMES: &[&str] = &[
    "Internal CRM Writer",
    "Slack Churn Alert",
    "Airtable Sync",
    "BigQuery Streaming Insert",
    "Datadog Events",
    "Jira Ticket on Error",
    "Envoi SMS – Müller",
    "飛書 Notifier",
    "✉️ Welcome Email",
    "Discord Webhook",
];

/// (name, label, kind, description, sensitive). Kinds use the Config API spelling.
type SettingTemplate = (&'static str, &'static str, &'static str, &'static str, bool);

const SETTINGS: &[SettingTemplate] = &[
    (
        "apiKey",
        "API Key",
        "string",
        "Authenticates calls to the upstream API.",
        true,
    ),
    (
        "webhookSecret",
        "Webhook Secret",
        "string",
        "Signs outgoing requests.",
        true,
    ),
    (
        "endpoint",
        "Endpoint URL",
        "string",
        "Where requests are sent.",
        false,
    ),
    ("channel", "Channel", "string", "", false),
    (
        "dryRun",
        "Dry Run",
        "boolean",
        "Log instead of sending.",
        false,
    ),
    ("includeTraits", "Include Traits", "boolean", "", false),
    (
        "fieldMapping",
        "Field Mapping",
        "text-map",
        "Segment field → upstream field.",
        false,
    ),
    ("headers", "Extra Headers", "text-map", "", false),
    (
        "allowedEvents",
        "Allowed Events",
        "array",
        "Events forwarded; empty for all.",
        false,
    ),
    ("regions", "Regions", "array", "", false),
];

/// Every function type gets its first function with a sensitive API key and one setting of
/// each kind, so a small workspace always has secrets to protect in function instances.
pub(super) fn functions(
    rng: &Rng,
    source_count: usize,
    destination_count: usize,
    users: &[User],
    clock: &Clock,
) -> Vec<Function> {
    let mut names = Unique::default();
    let mut all = Vec::with_capacity(source_count + destination_count);
    for (kind, count) in [
        (FunctionKind::Source, source_count),
        (FunctionKind::Destination, destination_count),
    ] {
        let label = match kind {
            FunctionKind::Source => "source-function",
            FunctionKind::Destination => "destination-function",
        };
        for i in 0..count {
            let mut rng = sub_rng(rng, label, i);
            all.push(function(&mut rng, kind, i, &mut names, users, clock));
        }
    }
    all
}

fn function(
    rng: &mut Rng,
    kind: FunctionKind,
    index: usize,
    names: &mut Unique,
    users: &[User],
    clock: &Clock,
) -> Function {
    let (prefix, pool, catalog_id) = match kind {
        FunctionKind::Source => ("sfnc_", SOURCE_FUNCTION_NAMES, rng.string(BASE62, 10)),
        FunctionKind::Destination => ("dfn_", DESTINATION_FUNCTION_NAMES, hex(rng, 24)),
    };
    let display_name = names.claim(pool[index % pool.len()], " ");
    let settings = settings(rng, index == 0);
    Function {
        // 22 characters after the prefix, as in published Public API examples
        // (`sfnc_wXzcDGFR3KmjLDrtSawNHf`); older functions had shorter ids.
        id: format!("{prefix}{}", rng.string(BASE62, 22)),
        kind,
        code: code(kind, &display_name, &settings),
        description: format!("{display_name}, maintained by the data team."),
        display_name,
        settings,
        logo_url: if rng.chance(0.4) {
            format!(
                "https://cdn.filepicker.io/api/file/{}",
                rng.string(BASE62, 20)
            )
        } else {
            String::new()
        },
        catalog_id,
        created_at: timestamp(clock.created(rng)),
        created_by: if users.is_empty() {
            String::new()
        } else {
            rng.pick(users).id.clone()
        },
        deployed: rng.chance(0.85),
    }
}

fn settings(rng: &mut Rng, showcase: bool) -> Vec<FunctionSetting> {
    let chosen: Vec<&SettingTemplate> = if showcase {
        // apiKey, then one of each other kind.
        [0, 4, 6, 8].iter().map(|&i| &SETTINGS[i]).collect()
    } else {
        SETTINGS.iter().filter(|_| rng.chance(0.3)).collect()
    };
    chosen
        .into_iter()
        .map(
            |&(name, label, kind, description, sensitive)| FunctionSetting {
                name: name.to_owned(),
                label: label.to_owned(),
                kind: kind.to_owned(),
                description: description.to_owned(),
                required: sensitive || rng.chance(0.3),
                sensitive,
            },
        )
        .collect()
}

fn code(kind: FunctionKind, name: &str, settings: &[FunctionSetting]) -> String {
    let reads: String = settings
        .iter()
        .map(|s| format!("  const {0} = settings.{0};\n", s.name))
        .collect();
    match kind {
        FunctionKind::Source => format!(
            "// {name}\nasync function onRequest(request, settings) {{\n{reads}  \
             const body = request.json();\n  Segment.track({{\n    event: body.type,\n    \
             userId: body.user_id,\n    properties: body.data\n  }});\n}}\n"
        ),
        FunctionKind::Destination => format!(
            "// {name}\nasync function onTrack(event, settings) {{\n{reads}  \
             const response = await fetch('https://api.example.com/events', {{\n    \
             method: 'POST',\n    body: JSON.stringify(event)\n  }});\n  \
             if (!response.ok) throw new RetryError(`HTTP ${{response.status}}`);\n}}\n"
        ),
    }
}

/// Values for a source function instance: required settings always, others often; sensitive
/// values are fresh secrets.
pub(super) fn instance(rng: &mut Rng, function: &Function) -> FunctionInstance {
    let mut settings = Vec::with_capacity(function.settings.len());
    for setting in &function.settings {
        if setting.required || rng.chance(0.6) {
            settings.push((setting.name.clone(), setting_value(rng, setting)));
        }
    }
    FunctionInstance {
        function_id: function.id.clone(),
        settings,
    }
}

fn setting_value(rng: &mut Rng, setting: &FunctionSetting) -> Value {
    if setting.sensitive {
        return Value::String(secret(rng));
    }
    match setting.kind.as_str() {
        "boolean" => Value::Bool(rng.chance(0.5)),
        "text-map" => json!({
            "email": "traits.email",
            "plan": "properties.plan",
            "company": "context.groupId",
        }),
        "array" => json!(["Order Completed", "Signed Up", "Trial Started"]),
        _ if setting.name == "endpoint" => {
            Value::String(format!("https://hooks.example.com/{}", hex(rng, 12)))
        }
        _ => Value::String(format!("#data-alerts-{}", rng.range(1, 99))),
    }
}
