//! The id map as a table: Config name → Public id, for people moving their own scripts from the
//! Config API to the Public API (`segbridge idmap`).
//!
//! Rows come from the ledger's id map of one target (pairs the plan matched and pairs `apply`
//! recorded), joined with the exported objects for the Config API's own id where the Config API
//! has one: the body's `id` (workspaces, functions), else the opaque id that ends the Config
//! name of kinds named by id (tracking plans `rs_…`, filters `df_…`, roles, policies, users,
//! invites). Sources, destinations and catalog items are named by slug and have none.
//!
//! Invariant: read-only; rows in the ledger's order (kind, Config name, field).

use serde::Serialize;
use serde_json::Value;

use crate::ledger::{Ledger, LedgerError};
use crate::model::Kind;

use super::table::csv_record;

/// Version of the JSON form of the id map.
pub const IDMAP_SCHEMA_VERSION: u32 = 1;

/// One Config name → Public id pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdMapRow {
    pub kind: String,
    pub config_name: String,
    pub config_id: Option<String>,
    /// Which Public id this is: `id`, or `catalog_id` for a function's catalog entry.
    pub field: String,
    pub public_id: String,
    /// How the pair was established: a natural key (`slug`, `name`, `email`, …) or `created` /
    /// `reconciled` by `apply`.
    pub matched_by: String,
}

/// The CSV header.
pub const COLUMNS: [&str; 6] = [
    "kind",
    "config_name",
    "config_id",
    "field",
    "public_id",
    "matched_by",
];

/// Kinds whose Config name ends in an opaque Config id.
fn named_by_id(kind: &str) -> bool {
    matches!(
        kind,
        "tracking_plans" | "destination_filters" | "roles" | "policies" | "users" | "invites"
    )
}

/// The Config API's id of an object, when it has one.
pub fn config_id(kind: &str, config_name: &str, body: Option<&Value>) -> Option<String> {
    if let Some(id) = body.and_then(|b| b.get("id")).and_then(Value::as_str)
        && !id.is_empty()
    {
        return Some(id.to_owned());
    }
    named_by_id(kind)
        .then(|| config_name.rsplit('/').next())
        .flatten()
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The targets the ledger holds plans for, in the order they were first planned.
pub fn targets(ledger: &Ledger) -> Result<Vec<String>, LedgerError> {
    let mut out: Vec<String> = Vec::new();
    for (_, target, _) in ledger.plans()? {
        if !out.contains(&target) {
            out.push(target);
        }
    }
    Ok(out)
}

/// The id map of `target` with Config ids.
pub fn rows(ledger: &Ledger, target: &str) -> Result<Vec<IdMapRow>, LedgerError> {
    let mut out = Vec::new();
    for pair in ledger.id_map(target)? {
        let body = match pair.kind.parse::<Kind>() {
            Ok(kind) => ledger.object(kind, &pair.config_name)?.map(|o| o.json()),
            Err(_) => None,
        };
        out.push(IdMapRow {
            config_id: config_id(&pair.kind, &pair.config_name, body.as_ref()),
            kind: pair.kind,
            config_name: pair.config_name,
            field: pair.field,
            public_id: pair.public_id,
            matched_by: pair.matched_by,
        });
    }
    Ok(out)
}

/// The id map as CSV (RFC 4180, CRLF).
pub fn render_csv(rows: &[IdMapRow]) -> String {
    let mut out = csv_record(&COLUMNS);
    for row in rows {
        out.push_str(&csv_record(&[
            row.kind.as_str(),
            row.config_name.as_str(),
            row.config_id.as_deref().unwrap_or(""),
            row.field.as_str(),
            row.public_id.as_str(),
            row.matched_by.as_str(),
        ]));
    }
    out
}

/// The id map as JSON: `{schema_version, target, pairs: [...]}`.
pub fn render_json(target: &str, rows: &[IdMapRow]) -> String {
    let mut out = serde_json::to_string_pretty(&serde_json::json!({
        "schema_version": IDMAP_SCHEMA_VERSION,
        "target": target,
        "pairs": rows,
    }))
    .expect("the id map serializes");
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_ids_come_from_the_body_or_an_id_named_object() {
        let function = json!({"id": "dfn_1", "display_name": "x"});
        assert_eq!(
            config_id("functions", "dfn_1", Some(&function)).as_deref(),
            Some("dfn_1")
        );
        assert_eq!(
            config_id("tracking_plans", "workspaces/a/tracking-plans/rs_9", None).as_deref(),
            Some("rs_9")
        );
        assert_eq!(config_id("sources", "workspaces/a/sources/js", None), None);
        assert_eq!(
            config_id(
                "sources",
                "workspaces/a/sources/js",
                Some(&json!({"id": ""}))
            ),
            None
        );
    }

    #[test]
    fn csv_has_a_header_and_one_record_per_pair() {
        let rows = [IdMapRow {
            kind: "sources".into(),
            config_name: "workspaces/a/sources/js,web".into(),
            config_id: None,
            field: "id".into(),
            public_id: "abc".into(),
            matched_by: "slug".into(),
        }];
        assert_eq!(
            render_csv(&rows),
            "kind,config_name,config_id,field,public_id,matched_by\r\nsources,\"workspaces/a/sources/js,web\",,id,abc,slug\r\n"
        );
        let json: Value = serde_json::from_str(&render_json("t", &rows)).unwrap();
        assert_eq!(json["pairs"][0]["config_id"], Value::Null);
        assert_eq!(json["schema_version"], 1);
    }
}
