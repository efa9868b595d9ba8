//! What the report tests check in a written report file, whichever command wrote it: that it
//! holds no secret, is private, parses as strict CSV, loads nothing as HTML, and validates
//! against its JSON Schema in `docs/`.

use std::path::Path;

use serde_json::Value;

use segbridge::sim::Simulators;

use super::inspect::{secrets_in, state_at};

/// Every secret value either simulator holds, and both API tokens.
pub async fn secrets_and_tokens(sims: &Simulators) -> Vec<String> {
    let mut secrets = Vec::new();
    for base in [sims.config.base_url(), sims.public.base_url()] {
        secrets.extend(secrets_in(&state_at(&base).await));
    }
    secrets.push(sims.config.token.clone());
    secrets.push(sims.public.token.clone());
    secrets
}

pub fn assert_no_secret(path: &Path, secrets: &[String]) {
    let text = std::fs::read(path).unwrap();
    for secret in secrets {
        assert!(
            !text.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a secret is in {}",
            path.display()
        );
    }
}

#[cfg(unix)]
pub fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
}

/// Strict RFC 4180: CRLF records, quoted fields with doubled quotes.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'));
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => {
                assert!(c != '"' && c != '\n', "bare {c:?}");
                field.push(c);
            }
        }
    }
    assert!(field.is_empty() && record.is_empty(), "unterminated record");
    records
}

/// The HTML loads nothing: no `src`, no `href` but in-page anchors, no `url(`, no `@import`, no
/// `<link>`, and a CSP that forbids any request.
pub fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    assert!(lower.contains("default-src 'none'"));
    for needle in [
        " src=", "<link", "@import", "url(", "<iframe", "<img", "<object", "<embed",
    ] {
        assert!(!lower.contains(needle), "`{needle}` in the HTML report");
    }
    for (index, _) in lower.match_indices("href=") {
        let value = &lower[index + 5..];
        assert!(
            value.starts_with("\"#"),
            "external link: {}",
            &html[index..index + 60]
        );
    }
}

/// Validates `json` against the JSON Schema (draft 2020-12) `docs/<schema>`.
pub fn assert_valid(json: &Value, schema: &str) {
    let path = format!("{}/docs/{schema}", env!("CARGO_MANIFEST_DIR"));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&schema)
        .unwrap();
    let errors: Vec<String> = validator
        .iter_errors(json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{path}: {errors:#?}");
}
