//! Error rendering: `error:` with the top-level message, one `Caused by:` line per source, and
//! `hint:` lines where a [`Hint`] attached to the chain knows what the user should do next.

use std::fmt;
use std::io::Write;

/// A suggestion attached to an error as context, printed after the causes.
#[derive(Debug)]
pub struct Hint(pub String);

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Hint {}

/// Formats an error chain as the user sees it, without colour.
pub fn render(err: &anyhow::Error) -> String {
    render_styled(err, false)
}

/// [`render`], with the `error:` and `hint:` labels coloured when `color` is set.
fn render_styled(err: &anyhow::Error, color: bool) -> String {
    let label =
        |text: &str, style: console::Style| style.force_styling(color).apply_to(text).to_string();
    let (error, hint_label) = (
        label("error:", console::Style::new().red().bold()),
        label("hint:", console::Style::new().cyan().bold()),
    );
    let mut out = String::new();
    // A hint attached with `.context(Hint(..))` sits in the chain as a context layer, which
    // `anyhow` finds by type; its text is left out of the causes.
    let hint = err.downcast_ref::<Hint>().map(|h| h.0.clone());
    let mut messages = err
        .chain()
        .map(ToString::to_string)
        .filter(|m| Some(m) != hint.as_ref());
    out.push_str(&format!(
        "{error} {}\n",
        messages.next().unwrap_or_default()
    ));
    for cause in messages {
        out.push_str(&format!("  Caused by: {cause}\n"));
    }
    if let Some(hint) = hint {
        out.push_str(&format!("{hint_label} {hint}\n"));
    }
    out
}

/// An error and its causes on one line (`outer: inner: innermost`), for journals and reports
/// where a multi-line rendering does not fit. Repeated messages are shown once.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

/// Writes [`render`] to stderr, coloured as `--color` and `NO_COLOR` say. A failure to write there leaves nowhere else to report to.
pub fn report(err: &anyhow::Error) {
    let text = render_styled(err, console::colors_enabled_stderr());
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn renders_the_chain_then_the_hints() {
        let err = Err::<(), _>(std::io::Error::other("connection refused"))
            .context(Hint("check `--config-url`".into()))
            .context("Failed to list sources")
            .unwrap_err();
        assert_eq!(
            render(&err),
            "error: Failed to list sources\n  Caused by: connection refused\nhint: check `--config-url`\n"
        );
    }

    #[test]
    fn colour_only_marks_the_labels() {
        let err = Err::<(), _>(std::io::Error::other("refused"))
            .context(Hint("retry".into()))
            .context("Failed")
            .unwrap_err();
        let styled = render_styled(&err, true);
        assert!(styled.contains("\u{1b}["), "{styled:?}");
        assert_eq!(console::strip_ansi_codes(&styled), render(&err));
    }
}
