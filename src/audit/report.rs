//! The audit's result: a neutral, serde-serializable structure that the command prints (text or
//! `--json`) and that report renderers (Markdown, HTML, CSV) can take as it is.
//!
//! Invariants:
//! - **No secret value, ever.** A [`FieldDiff`] carries values only for fields that were
//!   compared; a secret or masked field is a [`NotComparable`] entry with a reason and no value.
//!   Only the diff module builds diffs, and it withholds both sides of any secret field.
//! - **Deterministic.** [`AuditReport::new`] sorts results by kind (export order), then Config
//!   name, then Public id, and differences by path, so two audits of the same state serialize
//!   byte for byte alike but for `audited_at` (the summary is a pure function of the results),
//!   and rendering one report twice gives the same bytes.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::mapping::DeliveryBaseline;
use crate::model::Kind;

/// Version of the serialized [`AuditReport`]: bumped on any change a reader could notice.
/// Version 2 added `report` and `audited_at`, so that a report file says what it is and when
/// the audit ran; `docs/audit.schema.json` describes it.
pub const AUDIT_SCHEMA_VERSION: u32 = 2;

/// What the audit found for one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Every comparable field is equal.
    Match,
    /// At least one comparable field differs (see the differences).
    Differ,
    /// The Config object was migrated (or should have been) but the target does not hold it.
    MissingInTarget,
    /// The target holds an object of a migrated kind that no Config object maps to.
    UnexpectedInTarget,
    /// The resource cannot be compared: not migrated by the plan, or its expected shape cannot
    /// be computed. The notes say why.
    NotComparable,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Match,
        Status::Differ,
        Status::MissingInTarget,
        Status::UnexpectedInTarget,
        Status::NotComparable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Match => "match",
            Status::Differ => "differ",
            Status::MissingInTarget => "missing-in-target",
            Status::UnexpectedInTarget => "unexpected-in-target",
            Status::NotComparable => "not-comparable",
        }
    }

    /// Whether this status makes the audit fail (exit 1).
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            Status::Differ | Status::MissingInTarget | Status::UnexpectedInTarget
        )
    }
}

/// One field whose expected and actual values differ. `None` means the field is absent on that
/// side. Values are never secrets (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDiff {
    /// Dotted path into the normalised object: `settings.trackingId`,
    /// `rules["TRACK/Order Completed/1"].jsonSchema.required[0]`.
    pub path: String,
    pub expected: Option<Value>,
    pub actual: Option<Value>,
}

/// A field that was not compared, and why. No value is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotComparable {
    pub path: String,
    pub reason: String,
}

/// The audit of one resource.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceResult {
    pub kind: Kind,
    /// The Config name; `None` for an object only the target holds.
    pub config_name: Option<String>,
    /// The Public id; `None` when the target holds no object for the Config one.
    pub public_id: Option<String>,
    pub status: Status,
    pub differences: Vec<FieldDiff>,
    pub not_comparable: Vec<NotComparable>,
    /// Plain-language remarks (why not comparable, pending cut-over, which Config object an
    /// unexpected object came from).
    pub notes: Vec<String>,
}

impl ResourceResult {
    pub fn new(kind: Kind, config_name: Option<String>, public_id: Option<String>) -> Self {
        ResourceResult {
            kind,
            config_name,
            public_id,
            status: Status::Match,
            differences: Vec::new(),
            not_comparable: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn with_status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// A name for people: the Config name, else the Public id.
    pub fn label(&self) -> &str {
        self.config_name
            .as_deref()
            .or(self.public_id.as_deref())
            .unwrap_or("?")
    }
}

/// Delivery of one migrated destination after cut-over against the export's baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryResult {
    pub config_name: String,
    pub public_id: String,
    /// `match`, `differ` (delivers nothing, or fails well above the baseline) or
    /// `not-comparable` (no metrics on either side).
    pub status: Status,
    /// The Config figures the export stored (`export --with-metrics`).
    pub baseline: Option<DeliveryBaseline>,
    /// Events the target delivered (`successes`), when the metrics could be read.
    pub delivered: Option<u64>,
    /// Events the target failed to deliver (`expired` + `discarded`).
    pub not_delivered: Option<u64>,
    /// True when the target delivered nothing in its reporting window.
    pub delivers_nothing: bool,
    pub notes: Vec<String>,
}

/// Counts for the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Summary {
    /// Resources audited.
    pub total: usize,
    /// Resources per status (every status present, zero included).
    pub by_status: BTreeMap<Status, usize>,
    /// Resources per kind and status (statuses with zero left out).
    pub by_kind: BTreeMap<Kind, BTreeMap<Status, usize>>,
    /// Fields left uncompared (secrets, fields the Public API does not return).
    pub not_comparable_fields: usize,
    /// Destinations whose delivery was compared, per status (`--with-metrics` only).
    pub delivery: Option<BTreeMap<Status, usize>>,
    /// Migrated destinations that deliver nothing (`--with-metrics` only).
    pub delivers_nothing: Option<usize>,
    /// True when nothing differs, is missing or unexpected, and no destination is flagged.
    pub ok: bool,
}

/// The whole audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    pub schema_version: u32,
    /// Always `"audit"`; tells this report from the plan's compatibility report (`"plan"`).
    pub report: &'static str,
    /// When the audit started reading (UTC, RFC 3339); `None` for a report built by hand. The
    /// only field two audits of the same state disagree on.
    pub audited_at: Option<String>,
    /// The Config workspace slug.
    pub workspace: String,
    /// The target, `<public url>|<workspace id>`, as `plan` and `apply` name it.
    pub target: String,
    /// The plan whose id map the audit used.
    pub plan: i64,
    /// The kinds audited.
    pub kinds: Vec<Kind>,
    pub summary: Summary,
    pub results: Vec<ResourceResult>,
    /// `--with-metrics` only.
    pub delivery: Option<Vec<DeliveryResult>>,
}

fn kind_rank(kind: Kind) -> usize {
    Kind::ALL
        .iter()
        .position(|k| *k == kind)
        .unwrap_or(usize::MAX)
}

impl AuditReport {
    /// Sorts everything and computes the summary.
    pub fn new(
        workspace: String,
        target: String,
        plan: i64,
        mut kinds: Vec<Kind>,
        mut results: Vec<ResourceResult>,
        mut delivery: Option<Vec<DeliveryResult>>,
    ) -> AuditReport {
        kinds.sort_by_key(|k| kind_rank(*k));
        kinds.dedup();
        for result in &mut results {
            result.differences.sort_by(|a, b| a.path.cmp(&b.path));
            result.not_comparable.sort_by(|a, b| a.path.cmp(&b.path));
        }
        results.sort_by(|a, b| {
            (kind_rank(a.kind), &a.config_name, &a.public_id).cmp(&(
                kind_rank(b.kind),
                &b.config_name,
                &b.public_id,
            ))
        });
        if let Some(delivery) = &mut delivery {
            delivery.sort_by(|a, b| a.config_name.cmp(&b.config_name));
        }
        let summary = summarize(&results, delivery.as_deref());
        AuditReport {
            schema_version: AUDIT_SCHEMA_VERSION,
            report: "audit",
            audited_at: None,
            workspace,
            target,
            plan,
            kinds,
            summary,
            results,
            delivery,
        }
    }

    /// The same report, saying when the audit ran.
    pub fn audited_at(mut self, when: impl Into<String>) -> AuditReport {
        self.audited_at = Some(when.into());
        self
    }

    /// Whether the audit passes (exit 0).
    pub fn ok(&self) -> bool {
        self.summary.ok
    }

    /// The results that make the audit fail, in report order.
    pub fn problems(&self) -> impl Iterator<Item = &ResourceResult> {
        self.results.iter().filter(|r| r.status.is_problem())
    }
}

fn summarize(results: &[ResourceResult], delivery: Option<&[DeliveryResult]>) -> Summary {
    let mut summary = Summary {
        total: results.len(),
        by_status: Status::ALL.iter().map(|s| (*s, 0)).collect(),
        ..Summary::default()
    };
    for result in results {
        *summary.by_status.entry(result.status).or_default() += 1;
        *summary
            .by_kind
            .entry(result.kind)
            .or_default()
            .entry(result.status)
            .or_default() += 1;
        summary.not_comparable_fields += result.not_comparable.len();
    }
    let mut delivery_ok = true;
    if let Some(delivery) = delivery {
        let mut counts: BTreeMap<Status, usize> = BTreeMap::new();
        for d in delivery {
            *counts.entry(d.status).or_default() += 1;
            delivery_ok &= !d.status.is_problem();
        }
        summary.delivery = Some(counts);
        summary.delivers_nothing = Some(delivery.iter().filter(|d| d.delivers_nothing).count());
    }
    summary.ok = delivery_ok && !results.iter().any(|r| r.status.is_problem());
    summary
}

/// Reports built by hand for the tests of the code that prints and renders them.
#[cfg(test)]
pub(crate) mod fixtures {
    use serde_json::json;

    use super::*;

    /// One result of each status (a secret difference among them) and a flagged destination.
    pub fn one_of_each() -> AuditReport {
        let ga = "workspaces/acme/sources/web/destinations/google-analytics";
        let mut differ =
            ResourceResult::new(Kind::Destinations, Some(ga.into()), Some("d1".into()))
                .with_status(Status::Differ);
        differ.differences.push(FieldDiff {
            path: "settings.trackingId".into(),
            expected: Some(json!("UA-1")),
            actual: Some(json!("UA-2")),
        });
        differ.differences.push(FieldDiff {
            path: "settings.apiKey".into(),
            expected: Some(json!(crate::audit::diff::SECRET_PRESENT)),
            actual: None,
        });
        let mut matching = ResourceResult::new(
            Kind::Sources,
            Some("workspaces/acme/sources/web".into()),
            Some("s1".into()),
        );
        matching.not_comparable.push(NotComparable {
            path: "settings.apiKey".into(),
            reason: "secret".into(),
        });
        let results = vec![
            matching,
            differ,
            ResourceResult::new(
                Kind::DestinationFilters,
                Some(format!("{ga}/filters/df_1")),
                Some("f1".into()),
            )
            .with_status(Status::MissingInTarget)
            .note("The ledger maps it to `f1`, which the target does not hold."),
            ResourceResult::new(Kind::Sources, None, Some("s9".into()))
                .with_status(Status::UnexpectedInTarget)
                .note("No Config object maps to it: it was made in the target."),
            ResourceResult::new(Kind::Functions, Some("sfnc_1".into()), None)
                .with_status(Status::NotComparable)
                .note("Not migrated: the plan's action is `manual`."),
        ];
        let delivery = vec![DeliveryResult {
            config_name: ga.into(),
            public_id: "d1".into(),
            status: Status::Differ,
            baseline: Some(DeliveryBaseline {
                delivered: 1200,
                not_delivered: 3,
                p95_latency_ms: Some(850),
            }),
            delivered: Some(0),
            not_delivered: Some(0),
            delivers_nothing: true,
            notes: vec![
                "Delivers nothing; the source delivered 1200 events in its baseline.".into(),
            ],
        }];
        AuditReport::new(
            "acme".into(),
            "https://eu1.api.segmentapis.com|ws1".into(),
            3,
            vec![
                Kind::Sources,
                Kind::Destinations,
                Kind::DestinationFilters,
                Kind::Functions,
            ],
            results,
            Some(delivery),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_sorted_and_counted() {
        let a = ResourceResult::new(Kind::Destinations, Some("b".into()), Some("d2".into()));
        let b = ResourceResult::new(Kind::Sources, Some("z".into()), Some("s1".into()))
            .with_status(Status::Differ);
        let c = ResourceResult::new(Kind::Sources, None, Some("s9".into()))
            .with_status(Status::UnexpectedInTarget);
        let report = AuditReport::new(
            "ws".into(),
            "t".into(),
            1,
            vec![Kind::Destinations, Kind::Sources],
            vec![a, b, c],
            None,
        );
        let order: Vec<&str> = report.results.iter().map(ResourceResult::label).collect();
        assert_eq!(order, ["s9", "z", "b"]);
        assert_eq!(report.kinds, [Kind::Sources, Kind::Destinations]);
        assert_eq!(report.summary.by_status[&Status::Differ], 1);
        assert_eq!(report.summary.by_status[&Status::MissingInTarget], 0);
        assert_eq!(report.summary.by_kind[&Kind::Sources].len(), 2);
        assert!(!report.ok());
        assert_eq!(report.problems().count(), 2);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["summary"]["by_status"]["unexpected-in-target"], 1);
        assert_eq!(json["results"][0]["status"], "unexpected-in-target");
        assert_eq!(json["schema_version"], AUDIT_SCHEMA_VERSION);
    }

    #[test]
    fn a_flagged_destination_fails_the_audit() {
        let matching = ResourceResult::new(Kind::Destinations, Some("d".into()), Some("1".into()));
        let flagged = DeliveryResult {
            config_name: "d".into(),
            public_id: "1".into(),
            status: Status::Differ,
            baseline: None,
            delivered: Some(0),
            not_delivered: Some(0),
            delivers_nothing: true,
            notes: vec![],
        };
        let report = AuditReport::new(
            "ws".into(),
            "t".into(),
            1,
            vec![Kind::Destinations],
            vec![matching],
            Some(vec![flagged]),
        );
        assert!(!report.ok());
        assert_eq!(report.summary.delivers_nothing, Some(1));
    }
}
