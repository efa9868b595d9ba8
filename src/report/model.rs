//! The neutral report: what a compatibility report says, independent of how it is drawn.
//!
//! Every renderer (Markdown, HTML, JSON, CSV) reads a [`PlanReport`] and nothing else, so the four
//! formats cannot disagree about a number. The structure is plain data with `Serialize`, and its
//! serde form *is* the JSON report (documented by `docs/report.schema.json`): a field renamed here
//! is a schema change and bumps [`SCHEMA_VERSION`].
//!
//! Invariants: nothing in here holds a secret value, because everything is read from the ledger,
//! which only ever stored markers; items and findings are kept in the deterministic order the
//! builder gives them, so equal ledgers give byte-identical reports.

use std::collections::BTreeMap;

use serde::Serialize;

/// Version of the JSON report's shape. Bumped on any incompatible change of the structures below.
pub const SCHEMA_VERSION: u32 = 1;

/// The compatibility report of one stored plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    pub schema_version: u32,
    /// Always `"plan"`; lets a reader tell this report from the audit report.
    pub report: &'static str,
    pub plan: PlanInfo,
    pub summary: Summary,
    /// Every planned object, sorted by kind name then Config name.
    pub items: Vec<ReportItem>,
    /// The checklist of what a person must do, in the order it is best done.
    pub follow_ups: Vec<FollowUp>,
}

/// Which plan the report describes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanInfo {
    /// The plan's id in the ledger.
    pub id: i64,
    /// The exported workspace's slug.
    pub workspace: String,
    /// `<Public API base URL>|<target workspace id>`, as the ledger keys it.
    pub target: String,
    pub mode: String,
    pub on_conflict: String,
    /// The ledger run of the export the plan was made from.
    pub export_run: i64,
    /// When the plan was stored (UTC, RFC 3339), so a report says how fresh it is without
    /// depending on when it was rendered.
    pub planned_at: String,
}

/// The numbers at the top of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub objects: usize,
    /// Objects per action (`create`, `adopt`, `update`, `skip`, `manual`), every action present.
    pub actions: BTreeMap<String, usize>,
    /// Objects per kind, then per action (every action present).
    pub kinds: BTreeMap<String, BTreeMap<String, usize>>,
    /// Findings per severity (`blocker`, `manual`, `lossy`, `info`), every severity present.
    pub findings: BTreeMap<String, usize>,
    /// Findings per code, only codes that occur.
    pub finding_codes: BTreeMap<String, usize>,
    /// Create-mode conflicts with the target.
    pub conflicts: usize,
    /// Follow-up entries (checklist lines) in total.
    pub follow_ups: usize,
    pub writes: WriteEstimate,
}

/// The write requests `apply` will send and how long the rate limits make them take.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriteEstimate {
    /// Write requests in total, including those sent only with an opt-in flag.
    pub calls: usize,
    /// Of `calls`, those `apply` sends only when asked, per flag (`--include-iam`: invitations
    /// and permissions; `--enable`: the cut-over), every flag present.
    pub opt_in: BTreeMap<String, usize>,
    /// The least time the client's rate limiting needs to send them one after another, in
    /// seconds; network latency and retries come on top.
    pub estimated_seconds: f64,
    /// The default bucket the estimate assumed (requests per minute).
    pub default_requests_per_minute: u32,
    /// Per Public API operation, sorted by operation id.
    pub operations: Vec<OperationCalls>,
}

/// The calls of one write operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationCalls {
    /// The operationId (`createSource`), or `METHOD path` for a request the client does not know.
    pub operation: String,
    pub method: String,
    pub path: String,
    pub calls: usize,
    /// The operation's documented limit when it has one of its own, else the default bucket.
    pub requests_per_minute: u32,
    /// Whether `requests_per_minute` is a documented per-endpoint limit.
    pub own_limit: bool,
}

/// One planned object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportItem {
    pub kind: String,
    pub config_name: String,
    pub action: String,
    pub target_id: Option<String>,
    pub natural_key: Option<String>,
    pub matched_by: Option<String>,
    pub conflict: bool,
    /// Write requests `apply` sends for this object.
    pub writes: usize,
    pub findings: Vec<ReportFinding>,
}

/// One finding of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportFinding {
    pub code: String,
    pub severity: String,
    pub field: Option<String>,
    pub message: String,
}

/// One group of the manual follow-ups checklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUp {
    /// Stable identifier of the group (`rotate_write_keys`).
    pub id: &'static str,
    pub title: &'static str,
    /// What to do and why, one paragraph.
    pub instructions: &'static str,
    /// The finding codes the group gathers.
    pub codes: Vec<&'static str>,
    /// One checklist line per object concerned.
    pub entries: Vec<FollowUpEntry>,
}

/// One checklist line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FollowUpEntry {
    pub kind: String,
    pub config_name: String,
    /// The fields concerned (setting names, `write_keys`), when the findings name them.
    pub fields: Vec<String>,
    /// The findings' sentences, which carry the specifics (key suffix, new name, email).
    pub details: Vec<String>,
}

impl PlanReport {
    /// Every finding with its object, in item order: the rows of the CSV report.
    pub fn findings(&self) -> impl Iterator<Item = (&ReportItem, &ReportFinding)> {
        self.items
            .iter()
            .flat_map(|item| item.findings.iter().map(move |f| (item, f)))
    }
}
