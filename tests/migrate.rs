//! `segbridge migrate` against both simulators at `--time-scale 60`: export, plan, apply and
//! audit of a `small` workspace in one command, with the secret settings read again from the Config
//! API (no secrets file); run again it resumes and writes nothing; with `--include-iam
//! --enable` it sends the invitations and the cut-over, once; its audit reads the source once,
//! as the four commands run apart do.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use segbridge::ledger::Ledger;
use segbridge::sim::Simulators;
use segbridge::sim::public::Target;

use common::inspect::{get_json_as, secrets_in, state_at, stats_at, writes_at};
use common::outcome::{CREATES, Summarized};
use common::scaled::small_simulators;

/// The Config API endpoints `apply` reads one object's secrets again with, as the simulators
/// count them.
const SECRET_READS: [&str; 2] = [
    "GET /v1beta/workspaces/{ws}/sources/{src}",
    "GET /v1beta/workspaces/{ws}/sources/{src}/destinations/{dst}",
];

async fn migrate(sims: &Simulators, ledger: &Path, extra: &[&str]) -> Summarized {
    let output = migrate_output(sims, ledger, extra).await;
    Summarized::of(output)
}

/// The process's output as it is, for a run refused before it has a summary to print.
async fn migrate_output(sims: &Simulators, ledger: &Path, extra: &[&str]) -> std::process::Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(["migrate", "--json", "--time-scale", "60", "--ledger"])
        .arg(ledger)
        .args(["--config-url", &sims.config.base_url()])
        .args(["--public-url", &sims.public.base_url()])
        .args(extra)
        .env("SEGMENT_CONFIG_API_TOKEN", &sims.config.token)
        .env("SEGMENT_PUBLIC_API_TOKEN", &sims.public.token)
        .env("SEGBRIDGE_RETRY_BASE_MS", "20")
        .kill_on_drop(true)
        .output()
        .await
        .unwrap()
}

fn secrets_of(state: &Value) -> BTreeSet<String> {
    secrets_in(state).into_iter().collect()
}

/// Payloads of the current plan per step.
fn planned(ledger: &Path, step: &str) -> usize {
    let ledger = Ledger::inspect(ledger).unwrap();
    let plan = ledger.plans().unwrap().last().unwrap().0;
    ledger
        .plan_payloads(plan)
        .unwrap()
        .iter()
        .filter(|p| p.step == step)
        .count()
}

fn count_where(state: &Value, kind: &str, pred: impl Fn(&Value) -> bool) -> usize {
    state[kind]
        .as_object()
        .map_or(0, |m| m.values().filter(|v| pred(v)).count())
}

#[tokio::test]
async fn migrate_copies_the_workspace_with_its_secrets_resumes_and_cuts_over_once() {
    let sims = small_simulators(Target::Empty).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("migrate.ledger");

    let report = dir.path().join("plan.json");
    let audit_report = dir.path().join("audit.json");
    let first = migrate(
        &sims,
        &ledger,
        &[
            "--report",
            report.to_str().unwrap(),
            "--audit-report",
            audit_report.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    let audited: Value = serde_json::from_slice(&std::fs::read(&audit_report).unwrap()).unwrap();
    assert_eq!(audited["summary"]["ok"], true);
    assert_eq!(audited["summary"], first.summary["audit"]["summary"]);
    // Exit 0 includes an audit in which everything migratable matched.
    for step in ["export", "plan", "apply", "audit"] {
        assert!(first.summary[step].is_object(), "{}", first.summary);
    }
    let apply = &first.summary["apply"];
    assert_eq!(apply["failed"], 0, "{apply}");
    assert!(apply["writes"].as_u64().unwrap() > 0);
    // Invitations and the cut-over wait for their flags.
    assert_eq!(apply["deferred"]["iam"], planned(&ledger, "invite_user"));
    assert_eq!(
        apply["deferred"]["cut_over"],
        planned(&ledger, "enable_source") + planned(&ledger, "enable_destination")
    );
    assert!(first.stderr.contains("--include-iam") && first.stderr.contains("--enable"));

    // Every secret the target now holds is the source's, none from a file, and none read
    // again: the export of the same process held what it read for the stages' writes.
    let source_secrets = secrets_of(&state_at(&sims.config.base_url()).await);
    let target = state_at(&sims.public.base_url()).await;
    let copied = secrets_of(&target);
    assert!(!copied.is_empty(), "secret settings were copied");
    assert!(copied.is_subset(&source_secrets), "{copied:?}");
    let config_requests = &stats_at(&sims.config.base_url()).await["requests"];
    for one_object in SECRET_READS {
        assert!(
            config_requests.get(one_object).is_none(),
            "{one_object}: {config_requests}"
        );
    }
    assert_eq!(count_where(&target, "sources", |s| s["enabled"] == true), 0);
    assert_eq!(
        count_where(&target, "destinations", |d| d["enabled"] == true),
        0
    );

    // Again: the plan made from the latest export is resumed, and nothing is left to write.
    let writes = writes_at(&sims.public.base_url()).await;
    let resumed_report = dir.path().join("resumed.json");
    let second = migrate(
        &sims,
        &ledger,
        &["--report", resumed_report.to_str().unwrap()],
    )
    .await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(second.stderr.contains("Resuming"), "{}", second.stderr);
    // The compatibility report of the resumed plan is the one the first run wrote.
    let plan_report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(plan_report["plan"]["id"], first.summary["plan"]["plan"]);
    assert_eq!(
        std::fs::read(&report).unwrap(),
        std::fs::read(&resumed_report).unwrap()
    );
    assert!(second.summary.get("export").is_none());
    assert_eq!(second.summary["apply"]["writes"], 0);
    assert_eq!(writes_at(&sims.public.base_url()).await, writes);

    // The opt-ins: invitations, then the cut-over of what the source had enabled.
    let third = migrate(&sims, &ledger, &["--include-iam", "--enable"]).await;
    assert_eq!(third.code, 0, "{}", third.stderr);
    let sent = planned(&ledger, "invite_user")
        + planned(&ledger, "enable_source")
        + planned(&ledger, "enable_destination");
    assert!(sent > 0);
    assert_eq!(third.summary["apply"]["writes"], sent, "{}", third.summary);
    let target = state_at(&sims.public.base_url()).await;
    assert_eq!(
        count_where(&target, "invites", |_| true),
        planned(&ledger, "invite_user")
    );
    assert_eq!(
        count_where(&target, "sources", |s| s["enabled"] == true),
        planned(&ledger, "enable_source")
    );
    assert_eq!(
        count_where(&target, "destinations", |d| d["enabled"] == true),
        planned(&ledger, "enable_destination")
    );
    let writes = writes_at(&sims.public.base_url()).await;
    let fourth = migrate(&sims, &ledger, &["--include-iam", "--enable"]).await;
    assert_eq!(fourth.code, 0, "{}", fourth.stderr);
    assert_eq!(fourth.summary["apply"]["writes"], 0);
    assert_eq!(writes_at(&sims.public.base_url()).await, writes);

    // Secrets are read again only from the workspace the plan was exported from.
    let elsewhere = tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(["apply", "--time-scale", "60", "--ledger"])
        .arg(&ledger)
        .args(["--public-url", &sims.public.base_url()])
        .args(["--config-url", "http://127.0.0.1:9"])
        .env("SEGMENT_CONFIG_API_TOKEN", &sims.config.token)
        .env("SEGMENT_PUBLIC_API_TOKEN", &sims.public.token)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&elsewhere.stderr);
    assert_eq!(elsewhere.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("made from an export of") && stderr.contains("hint:"),
        "{stderr}"
    );

    // No secret of either simulator, nor a token, is at rest in the ledger's files or in
    // anything the runs printed.
    let mut secrets = source_secrets;
    secrets.extend(secrets_of(&state_at(&sims.public.base_url()).await));
    secrets.insert(sims.config.token.clone());
    secrets.insert(sims.public.token.clone());
    for run in [&first, &second, &third, &fourth] {
        let printed = format!("{}{}", run.summary, run.stderr);
        for secret in &secrets {
            assert!(!printed.contains(secret.as_str()), "a secret was printed");
        }
    }
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret is in {}",
                path.display()
            );
        }
    }
}

/// The acceptance run: a `medium` workspace into an empty target, in create mode. Every
/// planned create is in the target exactly once, and a second run writes nothing.
/// Runs one command of the four `migrate` chains, as an operator would; panics unless it ends
/// with exit 0.
async fn step(sims: &Simulators, ledger: &Path, command: &str) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"));
    cmd.args([command, "-q", "--time-scale", "60", "--ledger"])
        .arg(ledger)
        .env("SEGMENT_CONFIG_API_TOKEN", &sims.config.token)
        .env("SEGMENT_PUBLIC_API_TOKEN", &sims.public.token)
        .env("SEGBRIDGE_RETRY_BASE_MS", "20")
        .kill_on_drop(true);
    if command != "plan" {
        cmd.args(["--config-url", &sims.config.base_url()]);
    }
    if command != "export" {
        cmd.args(["--public-url", &sims.public.base_url()]);
    }
    let output = cmd.output().await.unwrap();
    assert!(
        output.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `migrate` reads the audit's source side while `plan` and `apply` run, and its audit takes
/// that read rather than reading again; its `apply` takes the secrets its export read rather
/// than reading their objects again. One `migrate` makes exactly the Config API requests of
/// `export`, `plan`, `apply` and `audit` run one after the other on a twin workspace, but for
/// `apply`'s reads of secrets.
#[tokio::test]
async fn migrate_reads_the_source_for_its_audit_once() {
    let apart = small_simulators(Target::Empty).await;
    let together = small_simulators(Target::Empty).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("apart.ledger");
    for command in ["export", "plan", "apply", "audit"] {
        step(&apart, &ledger, command).await;
    }
    let migrated = migrate(&together, &dir.path().join("together.ledger"), &[]).await;
    assert_eq!(migrated.code, 0, "{}", migrated.stderr);
    let config_requests = |stats: &Value| stats["requests_total"].as_u64().unwrap();
    // `apply`'s reads of secrets: one object each.
    let secret_reads = |stats: &Value| -> u64 {
        SECRET_READS
            .iter()
            .filter_map(|endpoint| stats["requests"][endpoint]["200"].as_u64())
            .sum()
    };
    let apart = stats_at(&apart.config.base_url()).await;
    let together = stats_at(&together.config.base_url()).await;
    // The export and the audit each read the whole source.
    assert!(config_requests(&apart) > 2 * 100, "{apart}");
    assert!(secret_reads(&apart) > 0, "{apart}");
    assert_eq!(secret_reads(&together), 0, "{together}");
    assert_eq!(
        config_requests(&together),
        config_requests(&apart) - secret_reads(&apart)
    );
}

#[tokio::test]
async fn a_medium_workspace_is_copied_exactly_once() {
    use segbridge::sim::clock::TimeScale;
    use segbridge::sim::generator::{Counts, Preset};
    use segbridge::sim::{SimSettings, Simulators};

    let mut settings = SimSettings::for_tests(5);
    settings.counts = Counts::preset(Preset::Medium);
    settings.time_scale = TimeScale::new(common::scaled::SCALE).unwrap();
    let sims = Simulators::start(settings).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("medium.ledger");

    let first = migrate(&sims, &ledger, &[]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(first.summary["apply"]["failed"], 0);
    let target = state_at(&sims.public.base_url()).await;
    for (step, kind) in CREATES {
        let want = planned(&ledger, step);
        assert!(want > 0, "{step}");
        assert_eq!(count_where(&target, kind, |_| true), want, "{kind}");
    }
    let stats = stats_at(&sims.public.base_url()).await;
    assert_eq!(stats["duplicates_total"], 0, "{stats}");

    let writes = writes_at(&sims.public.base_url()).await;
    let second = migrate(&sims, &ledger, &[]).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_eq!(second.summary["apply"]["writes"], 0);
    assert_eq!(writes_at(&sims.public.base_url()).await, writes);
}

/// Conflicts stop the first run after the plan; run again with `--on-conflict adopt`, the
/// export is planned again (not read again) and the rest of the workspace is applied. The
/// `partial` target's copies differ from the source here and there (renamed instances,
/// settings left out), so the audit of the adopted objects rightly finds differences.
#[tokio::test]
async fn conflicts_stop_migrate_and_a_new_policy_replans_without_exporting_again() {
    let sims = small_simulators(Target::Partial).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("partial.ledger");

    let first = migrate(&sims, &ledger, &[]).await;
    assert_eq!(first.code, 1, "{}", first.stderr);
    assert!(first.summary["plan"].is_object(), "{}", first.summary);
    assert!(first.summary.get("apply").is_none(), "{}", first.summary);
    assert!(first.stderr.contains("Stopped"), "{}", first.stderr);
    assert_eq!(writes_at(&sims.public.base_url()).await, 0);

    let second = migrate(&sims, &ledger, &["--on-conflict", "adopt"]).await;
    assert!(
        second.stderr.contains("planning it again"),
        "{}",
        second.stderr
    );
    assert!(second.summary.get("export").is_none(), "{}", second.summary);
    assert_eq!(second.summary["plan"]["on_conflict"], "adopt");
    assert_eq!(second.summary["apply"]["failed"], 0, "{}", second.stderr);
    assert!(second.summary["apply"]["writes"].as_u64().unwrap() > 0);
    assert!(second.summary["audit"].is_object());
    assert_eq!(
        second.code, 1,
        "the adopted copies differ: {}",
        second.stderr
    );
    let stats = stats_at(&sims.public.base_url()).await;
    assert_eq!(stats["duplicates_total"], 0, "{stats}");
}

/// Has the Config API refuse (400) the schema config of one source, once: that source's subtree
/// fails, and a `migrate` overlapping the export and `apply` stops with it unplanned. Returns
/// the source's slug.
async fn refuse_one_schema_config(sims: &Simulators) -> String {
    use segbridge::sim::faults::{Matcher, ScriptedFault};

    let source = state_at(&sims.config.base_url()).await["sources"]
        .as_object()
        .and_then(|sources| sources.values().find_map(|s| s["name"].as_str()))
        .and_then(|name| name.rsplit('/').next())
        .expect("the workspace has sources")
        .to_owned();
    let schema_config = format!(
        "/v1beta/workspaces/{}/sources/{source}/schema-config",
        sims.config.workspace_slug
    );
    sims.config.faults.script(
        Matcher::new(reqwest::Method::GET, schema_config),
        ScriptedFault::Status(400),
        1,
    );
    source
}

/// A `migrate` (with `extra`) on an empty target, stopped by one refused schema config
/// ([`refuse_one_schema_config`]): it exited 1 with its plan left in stages, incomplete.
struct StoppedInStages {
    sims: Simulators,
    _dir: tempfile::TempDir,
    ledger: std::path::PathBuf,
    /// The slug of the source whose schema config was refused.
    source: String,
    first: Summarized,
}

async fn stopped_in_stages(extra: &[&str]) -> StoppedInStages {
    let sims = small_simulators(Target::Empty).await;
    let dir = tempfile::tempdir().unwrap();
    let ledger = dir.path().join("stopped.ledger");
    let source = refuse_one_schema_config(&sims).await;
    let first = migrate(&sims, &ledger, extra).await;
    assert_eq!(sims.config.faults.scripted_remaining(), 0);
    assert_eq!(first.code, 1, "{}", first.stderr);
    StoppedInStages {
        sims,
        _dir: dir,
        ledger,
        source,
        first,
    }
}

/// On an empty target the export and `apply` overlap: when one source's subtree cannot be read,
/// the other sources are already in the target when the export ends with the failure, and the
/// plan, made in stages, is left incomplete (`apply` refuses it). With `--enable`, the stages
/// applied enabled their destinations but no source: nothing flows in the half-built target.
/// Run again, `migrate` goes on with that plan: it reads what failed, applies the rest, enables
/// the sources last, and creates nothing twice.
#[tokio::test]
async fn a_migrate_stopped_while_applying_in_stages_goes_on_with_its_plan() {
    let StoppedInStages {
        sims,
        _dir,
        ledger,
        first,
        ..
    } = stopped_in_stages(&["--enable"]).await;
    assert!(first.stderr.contains("Steps 1-3/4"), "{}", first.stderr);
    assert!(first.summary.get("audit").is_none(), "{}", first.summary);
    let (plan, done) = {
        let ledger = Ledger::inspect(&ledger).unwrap();
        let target = ledger.plans().unwrap().last().unwrap().1.clone();
        let plan = ledger.latest_plan(&target).unwrap().unwrap();
        let payloads = ledger.plan_payloads(plan.id).unwrap();
        let done = move |step: &str| {
            payloads
                .iter()
                .filter(|p| p.step == step && p.state == "done")
                .count()
        };
        (plan, done)
    };
    assert!(!plan.complete);
    // Written while the export read: the sources, and the destinations of the subtrees read,
    // those the source workspace had enabled enabled already; no source enabled.
    assert!(done("create_destination") > 0);
    assert!(done("enable_destination") > 0);
    assert_eq!(done("enable_source"), 0);
    let target = state_at(&sims.public.base_url()).await;
    assert_eq!(
        count_where(&target, "destinations", |_| true),
        done("create_destination")
    );
    assert_eq!(
        count_where(&target, "destinations", |d| d["enabled"] == true),
        done("enable_destination")
    );
    assert_eq!(count_where(&target, "sources", |s| s["enabled"] == true), 0);

    // `apply` does not take an incomplete plan.
    let apply = tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(["apply", "--time-scale", "60", "--ledger"])
        .arg(&ledger)
        .args(["--public-url", &sims.public.base_url()])
        .env("SEGMENT_PUBLIC_API_TOKEN", &sims.public.token)
        .output()
        .await
        .unwrap();
    let apply_err = String::from_utf8_lossy(&apply.stderr);
    assert_eq!(apply.status.code(), Some(2), "{apply_err}");
    assert!(apply_err.contains("is not complete"), "{apply_err}");
    assert!(
        apply_err.contains("run the same `segbridge migrate` again"),
        "{apply_err}"
    );

    // `status` says so.
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(["status", "--ledger"])
        .arg(&ledger)
        .output()
        .await
        .unwrap();
    let status_text = String::from_utf8_lossy(&status.stderr).into_owned()
        + &String::from_utf8_lossy(&status.stdout);
    assert!(
        status_text.contains("still being made in stages"),
        "{status_text}"
    );

    let second = migrate(&sims, &ledger, &["--enable"]).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stderr.contains("being made in stages"),
        "{}",
        second.stderr
    );
    assert_eq!(second.summary["resumed_plan"], plan.id);
    assert_eq!(second.summary["audit"]["summary"]["ok"], true);
    let target = state_at(&sims.public.base_url()).await;
    for (step, kind) in CREATES {
        assert_eq!(
            count_where(&target, kind, |_| true),
            planned(&ledger, step),
            "{kind}"
        );
    }
    for (step, kind) in [
        ("enable_source", "sources"),
        ("enable_destination", "destinations"),
    ] {
        assert_eq!(
            count_where(&target, kind, |o| o["enabled"] == true),
            planned(&ledger, step),
            "{kind}"
        );
    }
    let stats = stats_at(&sims.public.base_url()).await;
    assert_eq!(stats["duplicates_total"], 0, "{stats}");
    assert!(
        Ledger::inspect(&ledger)
            .unwrap()
            .plans()
            .unwrap()
            .iter()
            .all(|(id, _, superseded)| *id == plan.id || superseded.is_some())
    );
}

/// A plan left in stages is finished under the policy it was started with: a run with another
/// `--on-conflict` is refused before it writes anything, saying which policy to run with; under
/// its own policy the plan is then finished.
#[tokio::test]
async fn a_plan_left_in_stages_is_not_finished_under_another_policy() {
    let StoppedInStages {
        sims, _dir, ledger, ..
    } = stopped_in_stages(&[]).await;
    let writes = writes_at(&sims.public.base_url()).await;

    let other = migrate_output(&sims, &ledger, &["--on-conflict", "adopt"]).await;
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert_eq!(other.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("with `--on-conflict fail` when a `migrate` stopped"),
        "{stderr}"
    );
    assert!(
        stderr.contains("again with `--on-conflict fail` to finish it"),
        "{stderr}"
    );
    assert_eq!(writes_at(&sims.public.base_url()).await, writes);
    let plan = {
        let ledger = Ledger::inspect(&ledger).unwrap();
        let target = ledger.plans().unwrap().last().unwrap().1.clone();
        ledger.latest_plan(&target).unwrap().unwrap()
    };
    assert!(!plan.complete);
    assert_eq!(plan.on_conflict, "fail");

    let second = migrate(&sims, &ledger, &[]).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stderr.contains("being made in stages"),
        "{}",
        second.stderr
    );
}

/// A destination made in the target, between a `migrate` stopped while it applied in stages
/// and the run that goes on with its plan, as a stage not planned yet would have created it.
struct MadeMeanwhile {
    sims: Simulators,
    _dir: tempfile::TempDir,
    ledger: std::path::PathBuf,
    /// The Config name of the destination it stands for.
    destination: String,
    /// Its source in the target (which segbridge created) and its name there.
    target_source: String,
    name: String,
    id: String,
}

/// Stops a `migrate` (run with `extra`) on one source's subtree, then makes one of that
/// source's destinations in the target as segbridge would have: on the source segbridge
/// created, of the same catalog item, under the same name.
async fn stop_and_make_a_destination_meanwhile(extra: &[&str]) -> MadeMeanwhile {
    let StoppedInStages {
        sims,
        _dir: dir,
        ledger,
        source,
        ..
    } = stopped_in_stages(extra).await;

    let listed = get_json_as(
        format!(
            "{}/v1beta/workspaces/{}/sources/{source}/destinations",
            sims.config.base_url(),
            sims.config.workspace_slug
        ),
        &sims.config.token,
    )
    .await;
    let catalog = segbridge::sim::catalog::Catalog::embedded();
    let (destination, item) = listed["destinations"]
        .as_array()
        .into_iter()
        .flatten()
        .find_map(|d| {
            let name = d["name"].as_str()?;
            let item = catalog.destination(name.rsplit('/').next()?)?;
            Some((name.to_owned(), item))
        })
        .expect("the source has a destination named by its catalog slug");
    let target_source = {
        let ledger = Ledger::inspect(&ledger).unwrap();
        let target = ledger.plans().unwrap().last().unwrap().1.clone();
        ledger
            .id_map(&target)
            .unwrap()
            .into_iter()
            .find(|p| {
                p.kind == "sources"
                    && p.field == "id"
                    && p.config_name.ends_with(&format!("/sources/{source}"))
            })
            .expect("the source was created")
            .public_id
    };
    let made = reqwest::Client::new()
        .post(format!("{}/destinations", sims.public.base_url()))
        .bearer_auth(&sims.public.token)
        .json(&serde_json::json!({
            "sourceId": target_source,
            "metadataId": item.public_id,
            "name": item.display_name,
            "enabled": false,
            "settings": {},
        }))
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{}", made.status());
    let made: Value = made.json().await.unwrap();
    MadeMeanwhile {
        sims,
        _dir: dir,
        ledger,
        destination,
        target_source,
        name: item.display_name.clone(),
        id: made["data"]["destination"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    }
}

/// How many destinations of the target are on `source` under `name`.
fn destinations_named(target: &Value, source: &str, name: &str) -> usize {
    count_where(target, "destinations", |d| {
        d["sourceId"] == source && d["name"] == name
    })
}

/// The object made meanwhile is what a stage not planned yet would have created: the resumed
/// run plans it as `plan` would, a conflict (`--on-conflict fail`): it is not written, nor are
/// its filters; the rest is, and the run exits 1 naming it. Nothing is created twice.
#[tokio::test]
async fn a_resumed_migrate_in_stages_takes_what_was_made_meanwhile_for_a_conflict() {
    let made = stop_and_make_a_destination_meanwhile(&[]).await;
    let (sims, ledger) = (&made.sims, &made.ledger);

    let second = migrate(sims, ledger, &[]).await;
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second.stderr.contains("being made in stages"),
        "{}",
        second.stderr
    );
    let conflicts = second.summary["plan"]["conflicts"].as_array().unwrap();
    assert_eq!(conflicts.len(), 1, "{conflicts:?} {}", second.stderr);
    assert_eq!(conflicts[0]["config_name"], made.destination.as_str());
    assert_eq!(conflicts[0]["target_id"], made.id.as_str());
    assert!(
        second.stderr.contains(&made.destination),
        "{}",
        second.stderr
    );
    assert!(second.summary.get("audit").is_none(), "{}", second.summary);

    // The destination made meanwhile is the only one of its key; every other planned create
    // is in the target once.
    let target = state_at(&sims.public.base_url()).await;
    let stats = stats_at(&sims.public.base_url()).await;
    assert_eq!(stats["duplicates_total"], 0, "{stats}");
    let inspected = Ledger::inspect(ledger).unwrap();
    let plan = inspected.plans().unwrap().last().unwrap().0;
    let created = inspected
        .plan_payloads(plan)
        .unwrap()
        .iter()
        .filter(|p| p.step == "create_destination" && p.state == "done")
        .count();
    assert_eq!(count_where(&target, "destinations", |_| true), created + 1);
    assert_eq!(
        destinations_named(&target, &made.target_source, &made.name),
        1
    );
}

/// Run with `--on-conflict adopt`, the resumed run takes the destination made meanwhile as its
/// own: its filters are created under it (the stage's match reaches `apply`, which started
/// from the ids the stages before it knew), nothing is created twice, and the audit compares
/// it with the source.
#[tokio::test]
async fn a_resumed_migrate_in_stages_adopts_what_was_made_meanwhile() {
    let adopt = ["--on-conflict", "adopt"];
    let made = stop_and_make_a_destination_meanwhile(&adopt).await;
    let (sims, ledger) = (&made.sims, &made.ledger);

    let second = migrate(sims, ledger, &adopt).await;
    assert_eq!(second.summary["apply"]["failed"], 0, "{}", second.stderr);
    // The states of the adopted destination's filters' creates.
    let filters: Vec<String> = {
        let inspected = Ledger::inspect(ledger).unwrap();
        let plan = inspected.plans().unwrap().last().unwrap().0;
        let under = format!("{}/", made.destination);
        let seqs: BTreeSet<i64> = inspected
            .plan_items(plan)
            .unwrap()
            .into_iter()
            .filter(|i| i.kind == "destination_filters" && i.config_name.starts_with(&under))
            .map(|i| i.seq)
            .collect();
        inspected
            .plan_payloads(plan)
            .unwrap()
            .into_iter()
            .filter(|p| p.step == "create_filter" && seqs.contains(&p.seq))
            .map(|p| p.state)
            .collect()
    };
    assert!(!filters.is_empty(), "the adopted destination has filters");
    assert!(
        filters.iter().all(|state| state == "done"),
        "{filters:?}: {}",
        second.stderr
    );
    let target = state_at(&sims.public.base_url()).await;
    assert_eq!(
        destinations_named(&target, &made.target_source, &made.name),
        1
    );
    let on_it = count_where(&target, "destination_filters", |f| {
        f["destinationId"] == made.id.as_str()
    });
    assert_eq!(on_it, filters.len(), "{}", second.stderr);
}
