//! Reports: what a person reads (Markdown, HTML) and a program reads (JSON, CSV) about a plan
//! or an audit, and the id map as a table.
//!
//! Role: [`plan_report`] builds a neutral [`PlanReport`] from what the ledger stores for a
//! target's current plan; one renderer per format draws it ([`markdown`], [`html`], [`json`],
//! [`csv`]), all through the shared helpers of [`table`] (tables, HTML and Markdown escaping,
//! RFC 4180 quoting) and, for HTML, the page of [`page`]. [`write_plan_reports`] renders the
//! stored plan of a target into files whose format their extension names, which is what
//! `plan --report` calls and what `apply --dry-run --report` can call. The audit's report is
//! [`audit`]: the same formats, the same helpers, [`write_audit_reports`] for `audit --report`.
//!
//! Invariants:
//! - A plan report is built from the ledger only, so every command that has the ledger produces the same report
//!   of the same plan, byte for byte (deterministic order, the plan's own timestamp).
//! - No secret: the ledger holds markers only, and nothing here reads anything else.
//! - Files are created with mode 0600, like the ledger, because they describe a customer's
//!   workspace.
//! - No renderer writes to a terminal; commands do.

pub mod audit;
mod build;
pub mod csv;
pub mod estimate;
pub mod followups;
pub mod html;
pub mod idmap;
pub mod json;
pub mod markdown;
pub mod model;
mod output;
pub mod page;
pub mod table;
mod view;

use std::path::PathBuf;

pub use audit::{render_audit, write_audit_reports};
pub use build::{ReportError, ReportOptions, plan_report, report_of};
pub use model::{PlanReport, SCHEMA_VERSION};
pub use output::{ReportFormat, ReportPath, write_private};

use crate::ledger::Ledger;

/// Why `--report` files could not all be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteReportError {
    #[error(transparent)]
    Build(#[from] ReportError),
    #[error("cannot write the report `{}`", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Renders the current plan of `target` in `format`.
pub fn render_stored_plan(
    ledger: &Ledger,
    target: &str,
    options: &ReportOptions,
    format: ReportFormat,
) -> Result<String, ReportError> {
    Ok(format.render(&plan_report(ledger, target, options)?))
}

/// Writes the report of the current plan of `target` to every file of `paths` (format from
/// each extension, mode 0600), building it once. Returns the paths written.
pub fn write_plan_reports(
    ledger: &Ledger,
    target: &str,
    options: &ReportOptions,
    paths: &[ReportPath],
) -> Result<Vec<PathBuf>, WriteReportError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let report = plan_report(ledger, target, options)?;
    write_each(paths, |format| format.render(&report))
}

/// Writes `render(format)` to each path of `paths` with mode 0600, in order; stops at the first
/// failure, naming its file. Shared by the plan's and the audit's reports.
fn write_each(
    paths: &[ReportPath],
    render: impl Fn(ReportFormat) -> String,
) -> Result<Vec<PathBuf>, WriteReportError> {
    let mut written = Vec::with_capacity(paths.len());
    for target in paths {
        write_private(&target.path, render(target.format).as_bytes()).map_err(|source| {
            WriteReportError::Write {
                path: target.path.clone(),
                source,
            }
        })?;
        written.push(target.path.clone());
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
