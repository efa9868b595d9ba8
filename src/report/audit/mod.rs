//! The audit report: the [`AuditReport`] of `segbridge audit` drawn for a person (Markdown,
//! HTML) or a program (JSON, CSV), and written to the files `--report` names.
//!
//! Role: one renderer per format ([`markdown`], [`html`], [`csv`]; JSON is the report's own
//! serde form through [`crate::report::json`]), the first two on the tables and sentences of
//! [`view`], all on the escaping helpers of [`crate::report::table`] and, for HTML, on the page
//! the plan report uses ([`crate::report::page`]). [`write_audit_reports`] is the entry point
//! for every command that audits (`audit`, and `migrate` or `demo` after their own audit).
//!
//! Invariants:
//! - Rendering is a pure function of the report: the same report gives the same bytes, and
//!   nothing here reads a clock, the ledger or the network.
//! - No secret: the audit withholds secret values before they reach the [`AuditReport`]
//!   (see [`crate::audit::report`]), and the renderers print nothing else.
//! - Files are written like the plan's reports: mode 0600, through a temporary file renamed
//!   into place.

pub mod csv;
pub mod html;
pub mod markdown;
pub mod view;

use std::path::PathBuf;

use super::{ReportFormat, ReportPath, WriteReportError, write_each};
use crate::audit::AuditReport;

/// Renders `report` in `format`.
pub fn render_audit(report: &AuditReport, format: ReportFormat) -> String {
    match format {
        ReportFormat::Markdown => markdown::render(report),
        ReportFormat::Html => html::render(report),
        ReportFormat::Json => super::json::render(report),
        ReportFormat::Csv => csv::render(report),
    }
}

/// Writes `report` to every file of `paths`, each in the format its extension names, with mode
/// 0600. Returns the paths written, in order; stops at the first file that cannot be written.
pub fn write_audit_reports(
    report: &AuditReport,
    paths: &[ReportPath],
) -> Result<Vec<PathBuf>, WriteReportError> {
    write_each(paths, |format| render_audit(report, format))
}

#[cfg(test)]
mod tests;
