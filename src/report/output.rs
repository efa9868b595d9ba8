//! Report files: the format chosen by the extension, and writing with owner-only permissions.
//!
//! A report describes a customer's workspace (names, emails, settings), so, like the ledger, it
//! is created with mode 0600: written to a temporary file made 0600 from the start in the same
//! directory, then renamed over the destination, so that neither a reader nor a crash ever sees
//! a half-written or world-readable report.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::model::PlanReport;

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Markdown,
    Html,
    Json,
    Csv,
}

impl ReportFormat {
    pub const ALL: [ReportFormat; 4] = [
        ReportFormat::Markdown,
        ReportFormat::Html,
        ReportFormat::Json,
        ReportFormat::Csv,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            ReportFormat::Markdown => "md",
            ReportFormat::Html => "html",
            ReportFormat::Json => "json",
            ReportFormat::Csv => "csv",
        }
    }

    /// The format of a file name's extension (case-insensitive; `.htm` and `.markdown` too).
    pub fn from_path(path: &Path) -> Option<ReportFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "md" | "markdown" => Some(ReportFormat::Markdown),
            "html" | "htm" => Some(ReportFormat::Html),
            "json" => Some(ReportFormat::Json),
            "csv" => Some(ReportFormat::Csv),
            _ => None,
        }
    }

    /// Renders `report` in this format.
    pub fn render(self, report: &PlanReport) -> String {
        match self {
            ReportFormat::Markdown => super::markdown::render(report),
            ReportFormat::Html => super::html::render(report),
            ReportFormat::Json => super::json::render(report),
            ReportFormat::Csv => super::csv::render(report),
        }
    }
}

/// A `--report FILE` argument: the path and the format its extension names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportPath {
    pub path: PathBuf,
    pub format: ReportFormat,
}

impl std::str::FromStr for ReportPath {
    type Err = String;

    /// Parses a path whose extension names a format; used by clap, so the error is the usage
    /// message.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let path = PathBuf::from(text);
        match ReportFormat::from_path(&path) {
            Some(format) => Ok(ReportPath { path, format }),
            None => Err(format!(
                "cannot tell the report format of `{text}`: use a file name ending in {}",
                ReportFormat::ALL
                    .map(|f| format!(".{}", f.extension()))
                    .join(", ")
            )),
        }
    }
}

/// Writes `contents` to `path` with mode 0600, atomically (temporary file, then rename).
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = dir.join(temp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&temp)?;
        // A temporary file left by a killed run may predate this run with other permissions.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extension_names_the_format() {
        let parse = |s: &str| s.parse::<ReportPath>().map(|r| r.format);
        assert_eq!(parse("out/report.md"), Ok(ReportFormat::Markdown));
        assert_eq!(parse("REPORT.HTML"), Ok(ReportFormat::Html));
        assert_eq!(parse("r.json"), Ok(ReportFormat::Json));
        assert_eq!(parse("r.csv"), Ok(ReportFormat::Csv));
        let err = parse("r.pdf").unwrap_err();
        assert!(
            err.contains("r.pdf") && err.contains(".md, .html, .json, .csv"),
            "{err}"
        );
        assert!(parse("report").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private_even_when_they_existed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.md");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
