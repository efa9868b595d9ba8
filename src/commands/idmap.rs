//! `segbridge idmap`: the Config name → Public id table of one target, read from the ledger
//! (read-only, so it can run while `apply` does), as CSV or JSON on stdout or into a file
//! created with mode 0600.

use anyhow::Context;

use crate::cli::{IdmapArgs, IdmapFormat};
use crate::commands::ExitStatus;
use crate::diagnostics::Hint;
use crate::ledger::Ledger;
use crate::report::{idmap, write_private};

pub fn run(args: &IdmapArgs) -> anyhow::Result<ExitStatus> {
    if !args.ledger.exists() {
        return Err(
            anyhow::anyhow!("there is no ledger at `{}`", args.ledger.display()).context(Hint(
                "run `segbridge export` then `segbridge plan` first".into(),
            )),
        );
    }
    let ledger = Ledger::inspect(&args.ledger)
        .with_context(|| format!("Cannot read the ledger `{}`", args.ledger.display()))?;
    let targets = idmap::targets(&ledger).context("Cannot read the ledger")?;
    let target = choose_target(&targets, args.target.as_deref())?;
    let rows = idmap::rows(&ledger, &target).context("Cannot read the id map")?;
    let text = match args.format {
        IdmapFormat::Csv => idmap::render_csv(&rows),
        IdmapFormat::Json => idmap::render_json(&target, &rows),
    };
    match &args.output {
        Some(path) => write_private(path, text.as_bytes())
            .with_context(|| format!("Cannot write `{}`", path.display()))?,
        None => super::print_data(text.as_bytes())?,
    }
    Ok(ExitStatus::Success)
}

/// The target `wanted` names (exactly, or by its workspace id after the `|`), or the only one.
fn choose_target(targets: &[String], wanted: Option<&str>) -> anyhow::Result<String> {
    let list = || {
        targets
            .iter()
            .map(|t| format!("  {t}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    match wanted {
        Some(wanted) => {
            let matches: Vec<&String> = targets
                .iter()
                .filter(|t| *t == wanted || t.rsplit('|').next() == Some(wanted))
                .collect();
            match matches.as_slice() {
                [one] => Ok((*one).clone()),
                [] => Err(anyhow::anyhow!(
                    "the ledger holds no plan for target `{wanted}`; it has:\n{}",
                    list()
                )),
                _ => Err(anyhow::anyhow!(
                    "`{wanted}` names several targets; give one in full:\n{}",
                    matches
                        .iter()
                        .map(|t| format!("  {t}"))
                        .collect::<Vec<_>>()
                        .join("\n")
                )),
            }
        }
        None => match targets {
            [] => Err(
                anyhow::anyhow!("the ledger holds no plan, so no id map").context(Hint(
                    "run `segbridge plan` (`--mode adopt` writes nothing)".into(),
                )),
            ),
            [one] => Ok(one.clone()),
            _ => Err(anyhow::anyhow!(
                "the ledger holds plans for several targets; choose one with `--target`:\n{}",
                list()
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_named_in_full_or_by_workspace_id() {
        let targets = vec![
            "http://127.0.0.1:1|ws_a".to_owned(),
            "https://eu1.api.segmentapis.com|ws_b".to_owned(),
        ];
        assert_eq!(choose_target(&targets, Some("ws_b")).unwrap(), targets[1]);
        assert_eq!(
            choose_target(&targets, Some(&targets[0])).unwrap(),
            targets[0]
        );
        let ambiguous = format!("{:#}", choose_target(&targets, None).unwrap_err());
        assert!(
            ambiguous.contains("--target")
                && ambiguous.contains("ws_a")
                && ambiguous.contains("ws_b"),
            "{ambiguous}"
        );
        let unknown = format!("{:#}", choose_target(&targets, Some("ws_c")).unwrap_err());
        assert!(
            unknown.contains("ws_c") && unknown.contains("ws_a"),
            "{unknown}"
        );
        assert_eq!(choose_target(&targets[..1], None).unwrap(), targets[0]);
        assert!(choose_target(&[], None).is_err());
    }
}
