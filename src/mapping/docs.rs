//! The generated part of `docs/mapping.md`: every table of `mappings/` and every finding code,
//! rendered as Markdown, so the reference cannot drift from the data.
//!
//! The document keeps its hand-written prose outside two marker lines; a test renders the
//! embedded tables and compares them with what sits between the markers. Running that test
//! with `SEGBRIDGE_BLESS_DOCS=1` rewrites the section instead.

use std::fmt::Write as _;

use super::findings::FindingCode;
use super::tables::Tables;

pub const BEGIN_MARKER: &str =
    "<!-- BEGIN GENERATED: cargo test --lib mapping::docs (SEGBRIDGE_BLESS_DOCS=1 rewrites) -->";
pub const END_MARKER: &str = "<!-- END GENERATED -->";

/// Escapes a value for a Markdown table cell.
fn cell(text: &str) -> String {
    if text.is_empty() {
        "—".to_owned()
    } else {
        format!("`{}`", text.replace('|', "\\|"))
    }
}

/// The generated section (without the markers).
pub fn render(tables: &Tables) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };

    line("### Catalog renames (`mappings/catalog.toml`)".into());
    line(String::new());
    let renames: Vec<(&str, &super::tables::SlugRename)> = tables
        .catalog
        .source_rename
        .iter()
        .map(|r| ("source", r))
        .chain(
            tables
                .catalog
                .destination_rename
                .iter()
                .map(|r| ("destination", r)),
        )
        .collect();
    if renames.is_empty() {
        line("No rename rows: every integration resolves by its own slug (or not at all).".into());
    } else {
        line("| catalog | Config slug | Public slug | note |".into());
        line("| --- | --- | --- | --- |".into());
        for (what, r) in renames {
            line(format!(
                "| {what} | {} | {} | {} |",
                cell(&r.config_slug),
                cell(&r.public_slug),
                r.note
            ));
        }
    }
    line(String::new());

    line("### Destination setting types (`mappings/destination_settings.toml`)".into());
    line(String::new());
    line(
        "| Config `config[].type` | Public option type | transform | empty value left out |".into(),
    );
    line("| --- | --- | --- | --- |".into());
    for (config_type, row) in &tables.destination_settings.types {
        line(format!(
            "| {} | {} | {} | {} |",
            cell(config_type),
            cell(&row.public_option_type),
            row.transform.as_str(),
            if row.omit_when_empty { "yes" } else { "no" }
        ));
    }
    line(String::new());
    let settings = &tables.destination_settings;
    if settings.rename.is_empty() && settings.drop.is_empty() {
        line("No per-integration setting renames or drops.".into());
    } else {
        line("| integration | Config key | Public key / dropped because |".into());
        line("| --- | --- | --- |".into());
        for r in &settings.rename {
            line(format!(
                "| {} | {} | {} |",
                cell(&r.integration),
                cell(&r.config_key),
                cell(&r.public_key)
            ));
        }
        for d in &settings.drop {
            line(format!(
                "| {} | {} | dropped: {} |",
                cell(&d.integration),
                cell(&d.config_key),
                d.reason
            ));
        }
    }
    line(String::new());

    line("### Filter actions and limits (`mappings/filters.toml`)".into());
    line(String::new());
    line("| Config action `type` | Public action `type` |".into());
    line("| --- | --- |".into());
    for (config, public) in &tables.filters.action_types {
        line(format!("| {} | {} |", cell(config), cell(public.get_ref())));
    }
    line(String::new());
    let limits = &tables.filters.limits;
    line(format!(
        "Limits: at most {} filters per destination, `if` at most {} bytes, at most {} actions \
         per filter, allow/drop-properties at most {} objects × {} fields. Fields map: \
         `{{\"<object>\": {{\"{}\": [..]}}}}` → `{{\"<object>\": [..]}}`.",
        limits.max_filters_per_destination,
        limits.max_if_bytes,
        limits.max_actions_per_filter,
        limits.max_field_objects,
        limits.max_fields_per_object,
        tables.filters.field_list_key
    ));
    line(String::new());

    line("### Schema config → source settings (`mappings/schema_config.toml`)".into());
    line(String::new());
    line("| Config `schema-config` field | Public `/sources/{id}/settings` field |".into());
    line("| --- | --- |".into());
    for (config, public) in &tables.schema_config.fields {
        line(format!("| {} | {} |", cell(config), cell(public.get_ref())));
    }
    for (config, public) in &tables.schema_config.forwarding {
        line(format!(
            "| {} | {} (source slug → source id; omitted when empty) |",
            cell(config),
            cell(public.get_ref())
        ));
    }
    line(String::new());

    let plans = &tables.tracking_plans;
    line("### Tracking plans (`mappings/tracking_plans.toml`)".into());
    line(String::new());
    line("| Config `rules.<key>` | Public rule `type` |".into());
    line("| --- | --- |".into());
    for (config, public) in &plans.rule_types {
        line(format!("| {} | {} |", cell(config), cell(public.get_ref())));
    }
    line(String::new());
    line(format!(
        "Plans are created with type {}; rules are sent in batches of at most {} rules and {} \
         bytes (first batch `PUT`, later ones `PATCH`).",
        cell(plans.plan_type.get_ref()),
        plans.max_rules_per_request,
        plans.max_request_bytes
    ));
    line(String::new());

    let functions = &tables.functions;
    line("### Functions (`mappings/functions.toml`)".into());
    line(String::new());
    line("| Config | Public |".into());
    line("| --- | --- |".into());
    for (config, public) in &functions.resource_types {
        line(format!(
            "| type {} | resourceType {} |",
            cell(config),
            cell(public.get_ref())
        ));
    }
    for (config, public) in &functions.setting_types {
        line(format!(
            "| setting type {} | setting type {} |",
            cell(config),
            cell(public.get_ref())
        ));
    }
    line(String::new());
    line(format!(
        "Deployed after create: {}. Display name gains the workspace name: {}.",
        functions.deploy.join(", "),
        functions.display_name_gains_workspace.join(", ")
    ));
    line(String::new());

    line("### IAM (`mappings/iam.toml`)".into());
    line(String::new());
    line("| Config role | Public role |".into());
    line("| --- | --- |".into());
    for (config, public) in &tables.iam.roles {
        line(format!("| {} | {} |", cell(config), cell(public)));
    }
    line(String::new());
    line("| Config policy resource | Public permission resource type |".into());
    line("| --- | --- |".into());
    for (config, public) in &tables.iam.resource_types {
        let public = public.get_ref();
        let shown = if public.is_empty() {
            "none: the grant is left out (lossy)".to_owned()
        } else {
            cell(public)
        };
        line(format!("| {} | {} |", cell(config), shown));
    }
    line(String::new());

    line("### Finding codes".into());
    line(String::new());
    line("| code | severity | meaning |".into());
    line("| --- | --- | --- |".into());
    for code in FindingCode::ALL {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            code.as_str(),
            code.severity().as_str(),
            code.summary()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/mapping.md");

    #[test]
    fn docs_mapping_md_matches_the_tables() {
        let text = std::fs::read_to_string(DOC).expect("docs/mapping.md exists");
        let begin = text.find(BEGIN_MARKER).expect("begin marker") + BEGIN_MARKER.len();
        let end = text.find(END_MARKER).expect("end marker");
        let generated = format!("\n\n{}\n", render(Tables::embedded()));
        if std::env::var_os("SEGBRIDGE_BLESS_DOCS").is_some() {
            let updated = format!("{}{generated}{}", &text[..begin], &text[end..]);
            std::fs::write(DOC, updated).expect("docs/mapping.md is writable");
            return;
        }
        assert!(
            text[begin..end] == generated,
            "docs/mapping.md is out of date with mappings/: run \
             `SEGBRIDGE_BLESS_DOCS=1 cargo test --lib mapping::docs`"
        );
    }

    #[test]
    fn every_table_row_appears() {
        let text = render(Tables::embedded());
        for needle in [
            "`whitelist_fields` | `ALLOW_PROPERTIES`",
            "`allow_unplanned_track_events` | `track.allowUnplannedEvents`",
            "`text-map` | setting type `TEXT_MAP`",
            "`destination.connection_mode_not_settable` | manual",
            "`tracking-plans` | none",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
    }
}
