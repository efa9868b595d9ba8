//! `segbridge plan` against both simulators at `--time-scale 60`: a `small` workspace is
//! exported in-process, then the binary plans it against an empty, a mirrored and a partially
//! mirrored target. Every test checks that the Public simulator saw no write.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use segbridge::ledger::Ledger;
use segbridge::model::Kind;
use segbridge::sim::Simulators;
use segbridge::sim::public::Target;

use common::inspect::{secrets_in, state_at, stats_at};
use common::outcome::Summarized;
use common::scaled::{export_into, small_simulators};

async fn plan(sims: &Simulators, ledger: &Path, extra: &[&str]) -> Summarized {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_segbridge"))
        .args(["plan", "--json", "--time-scale", "60", "--ledger"])
        .arg(ledger)
        .args(["--public-url", &sims.public.base_url()])
        .args(extra)
        .env("SEGMENT_PUBLIC_API_TOKEN", &sims.public.token)
        .env("SEGBRIDGE_RETRY_BASE_MS", "20")
        .output()
        .await
        .unwrap();
    Summarized::of(output)
}

async fn assert_no_writes(sims: &Simulators) {
    let stats = stats_at(&sims.public.base_url()).await;
    let writes = stats["writes"].as_object().unwrap();
    assert!(!writes.is_empty());
    for (method, n) in writes {
        assert_eq!(n.as_u64(), Some(0), "{method} writes reached the target");
    }
}

fn target_of(ledger: &Ledger) -> String {
    let plans = ledger.plans().unwrap();
    plans.last().unwrap().1.clone()
}

#[tokio::test]
async fn adopt_against_a_mirror_resolves_every_object_to_the_mirror_ids() {
    let sims = small_simulators(Target::Mirror).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.ledger");
    export_into(&sims, &path).await;
    let out = plan(&sims, &path, &["--mode", "adopt"]).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_no_writes(&sims).await;
    assert_eq!(out.summary["write_requests"], 0);

    let state = state_at(&sims.public.base_url()).await;
    let ledger = Ledger::inspect(&path).unwrap();
    let target = target_of(&ledger);
    let pairs = ledger.id_map(&target).unwrap();
    let id_of = |kind: &str, name: &str| {
        pairs
            .iter()
            .find(|p| p.kind == kind && p.config_name == name && p.field == "id")
            .map(|p| p.public_id.clone())
    };
    // Sources: slug ↔ id, as the mirror holds them.
    let mut checked = 0;
    for source in ledger.objects_of_kind(Kind::Sources).unwrap() {
        let slug = source.name.rsplit('/').next().unwrap();
        let (id, _) = state["sources"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(_, s)| s["slug"] == slug)
            .unwrap_or_else(|| panic!("the mirror lacks {slug}"));
        assert_eq!(id_of("sources", &source.name).as_deref(), Some(id.as_str()));
        checked += 1;
    }
    assert!(checked > 0);
    // Destinations, plans, filters, functions and users resolve to objects of the mirror of the
    // same source / name / email.
    let plan_id = ledger.latest_plan(&target).unwrap().unwrap().id;
    let findings = ledger.plan_findings(plan_id).unwrap();
    let ambiguous: BTreeSet<String> = findings
        .iter()
        .filter(|f| f["code"] == "target.ambiguous_match")
        .map(|f| f["config_name"].as_str().unwrap().to_owned())
        .collect();
    // Several instances of one integration on a source cannot be told apart by the Config
    // names (the Config API shows the catalog name): those are findings, not guesses.
    assert!(ambiguous.iter().all(|n| n.contains("/destinations/")));
    let mut resolved = 0;
    for dest in ledger.objects_of_kind(Kind::Destinations).unwrap() {
        if ambiguous.contains(&dest.name) {
            assert!(id_of("destinations", &dest.name).is_none());
            continue;
        }
        let id = id_of("destinations", &dest.name)
            .unwrap_or_else(|| panic!("{} unresolved:\n{}", dest.name, out.stderr));
        let mirrored = &state["destinations"][&id];
        let source = dest.name.split("/destinations/").next().unwrap();
        assert_eq!(
            mirrored["sourceId"].as_str(),
            id_of("sources", source).as_deref()
        );
        resolved += 1;
    }
    assert!(resolved > ambiguous.len(), "{resolved} resolved");
    for plan in ledger.objects_of_kind(Kind::TrackingPlans).unwrap() {
        let id = id_of("tracking_plans", &plan.name).expect("plan resolved");
        let rs = plan.name.rsplit('/').next().unwrap();
        assert_eq!(state["tracking_plans"][&id]["resourceSchemaId"], rs);
    }
    for filter in ledger.objects_of_kind(Kind::DestinationFilters).unwrap() {
        let destination = filter.name.split("/filters/").next().unwrap();
        if ambiguous.contains(destination) {
            continue;
        }
        let id = id_of("destination_filters", &filter.name).unwrap_or_else(|| {
            let mine: Vec<_> = findings
                .iter()
                .filter(|f| f["config_name"] == filter.name.as_str())
                .collect();
            panic!("{} unresolved: {mine:?}\n{}", filter.name, filter.body)
        });
        assert_eq!(
            state["destination_filters"][&id]["title"],
            filter.json()["title"]
        );
    }
    for function in ledger.objects_of_kind(Kind::Functions).unwrap() {
        let config_id = function.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(
            id_of("functions", &function.name).as_deref(),
            Some(config_id.as_str())
        );
    }
    for user in ledger.objects_of_kind(Kind::Users).unwrap() {
        let id = id_of("users", &user.name).expect("user resolved");
        assert_eq!(state["users"][&id]["email"], user.json()["email"]);
    }
    // Nothing else is left unresolved in a full mirror.
    let items = ledger.plan_items(plan_id).unwrap();
    let manual: Vec<_> = items
        .iter()
        .filter(|i| i.action == "manual" && i.kind != "access_tokens")
        .filter(|i| {
            let destination = i.config_name.split("/filters/").next().unwrap();
            !ambiguous.contains(destination)
        })
        .map(|i| (&i.kind, &i.config_name))
        .collect();
    assert!(manual.is_empty(), "{manual:?}");
}

#[tokio::test]
async fn create_against_an_empty_target_plans_every_object_and_is_deterministic() {
    let sims = small_simulators(Target::Empty).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.ledger");
    export_into(&sims, &path).await;
    let first = plan(&sims, &path, &[]).await;
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(first.summary["conflicts"].as_array().unwrap().is_empty());
    assert!(first.summary["write_requests"].as_u64().unwrap() > 0);
    let second = plan(&sims, &path, &[]).await;
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert_no_writes(&sims).await;

    let ledger = Ledger::inspect(&path).unwrap();
    let target = target_of(&ledger);
    let plans = ledger.plans().unwrap();
    assert_eq!(plans.len(), 2);
    // The first plan is kept and superseded by the second.
    assert_eq!(plans[0].2, Some(plans[1].0));
    let current = ledger.latest_plan(&target).unwrap().unwrap();
    assert_eq!(current.id, plans[1].0);
    let items = ledger.plan_items(current.id).unwrap();
    let payloads = ledger.plan_payloads(current.id).unwrap();
    assert_eq!(items, ledger.plan_items(plans[0].0).unwrap());
    assert_eq!(payloads, ledger.plan_payloads(plans[0].0).unwrap());
    assert!(payloads.iter().all(|p| p.state == "pending"));

    // Every migratable object gets a create with its creating request.
    for (kind, step) in [
        (Kind::Sources, "create_source"),
        (Kind::Destinations, "create_destination"),
        (Kind::TrackingPlans, "create_tracking_plan"),
        (Kind::DestinationFilters, "create_filter"),
        (Kind::Functions, "create_function"),
    ] {
        for object in ledger.objects_of_kind(kind).unwrap() {
            let item = items
                .iter()
                .find(|i| i.kind == kind.as_str() && i.config_name == object.name)
                .unwrap_or_else(|| panic!("{} not planned", object.name));
            if item.action == "manual" {
                continue; // blocked by a finding, checked below
            }
            assert_eq!(
                item.action,
                "create",
                "{}: {:?}",
                object.name,
                ledger
                    .plan_findings(current.id)
                    .unwrap()
                    .iter()
                    .filter(|f| f["config_name"] == object.name.as_str())
                    .collect::<Vec<_>>()
            );
            assert!(
                payloads.iter().any(|p| p.seq == item.seq && p.step == step),
                "{} has no {step}",
                object.name
            );
        }
    }
    // Dependencies point backwards: apply can run in seq order.
    for payload in &payloads {
        for dep in payload.dependencies.value().as_array().unwrap() {
            let target = items
                .iter()
                .find(|i| i.kind == dep["kind"] && i.config_name == dep["config_name"])
                .expect("dependency planned");
            assert!(target.seq < payload.seq, "{dep} after {}", payload.seq);
        }
    }
    let codes: BTreeSet<String> = ledger
        .plan_findings(current.id)
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect();
    for code in [
        "destination.connection_mode_not_settable",
        "source.write_key_regenerated",
        "destination.secret_required",
    ] {
        assert!(codes.contains(code), "no {code} in {codes:?}");
    }

    // No secret value of either simulator is in the ledger's files.
    let mut secrets = Vec::new();
    for base in [sims.config.base_url(), sims.public.base_url()] {
        secrets.extend(secrets_in(&state_at(&base).await));
    }
    assert!(!secrets.is_empty());
    drop(ledger);
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "a secret is in the ledger"
            );
        }
    }
}

#[tokio::test]
async fn conflicts_with_a_partial_target_fail_or_are_adopted() {
    let sims = small_simulators(Target::Partial).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.ledger");
    export_into(&sims, &path).await;
    let failed = plan(&sims, &path, &["--on-conflict", "fail"]).await;
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let conflicts = failed.summary["conflicts"].as_array().unwrap().clone();
    assert!(!conflicts.is_empty());
    let state = state_at(&sims.public.base_url()).await;
    let slug = |s: &Value| s["slug"].as_str().unwrap().to_owned();
    for source in state["sources"].as_object().unwrap().values() {
        let name = format!("/sources/{}", slug(source));
        assert!(
            conflicts
                .iter()
                .any(|c| c["kind"] == "sources"
                    && c["config_name"].as_str().unwrap().ends_with(&name)),
            "{name} not a conflict"
        );
        assert!(failed.stderr.contains(&name), "{}", failed.stderr);
    }
    assert!(conflicts.iter().all(|c| c["action"] == "manual"));

    let adopted = plan(&sims, &path, &["--on-conflict", "adopt"]).await;
    assert_eq!(adopted.code, 0, "{}", adopted.stderr);
    let again = adopted.summary["conflicts"].as_array().unwrap();
    assert_eq!(again.len(), conflicts.len());
    assert!(
        again
            .iter()
            .all(|c| c["action"] == "adopt" || c["action"] == "update"),
        "{again:?}"
    );
    let skipped = plan(&sims, &path, &["--on-conflict", "skip"]).await;
    assert_eq!(skipped.code, 0, "{}", skipped.stderr);
    let skips = skipped.summary["conflicts"].as_array().unwrap();
    assert_eq!(skips.len(), conflicts.len());
    assert!(skips.iter().all(|c| c["action"] == "skip"), "{skips:?}");
    // Skipping leaves subtrees alone, so it writes less than adopting.
    assert!(
        skipped.summary["write_requests"].as_u64().unwrap()
            < adopted.summary["write_requests"].as_u64().unwrap()
    );
    let ledger = Ledger::inspect(&path).unwrap();
    let target = target_of(&ledger);
    // The id map follows the latest plan: skip adopts nothing, so no matched source remains.
    let pairs = ledger.id_map(&target).unwrap();
    assert!(!pairs.iter().any(|p| p.kind == "sources"), "{pairs:?}");
    assert_no_writes(&sims).await;
}

/// Every item of `plan` with what `apply` would do with it, keyed by (kind, Config name), and
/// its id-map pairs: what two plans of one export must agree on, whatever their `seq`s.
fn contents(
    ledger: &Ledger,
    plan: i64,
    target: &str,
) -> (BTreeMap<(String, String), Value>, Vec<String>) {
    let mut by_seq = BTreeMap::new();
    for item in ledger.plan_items(plan).unwrap() {
        by_seq.insert(item.seq, item);
    }
    let mut payloads: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for payload in ledger.plan_payloads(plan).unwrap() {
        // Every reference names an item stored before this one: the plan's dependency order.
        for dependency in payload.dependencies.value().as_array().unwrap() {
            let named = by_seq.values().find(|i| {
                i.kind == dependency["kind"] && i.config_name == dependency["config_name"]
            });
            let named = named.unwrap_or_else(|| panic!("{dependency} is not in plan {plan}"));
            assert!(
                named.seq < payload.seq,
                "{dependency} comes after item {}",
                payload.seq
            );
        }
        payloads
            .entry(payload.seq)
            .or_default()
            .push(serde_json::json!([
                payload.step,
                payload.payload.value(),
                payload.dependencies.value(),
            ]));
    }
    let mut findings: BTreeMap<(String, String), Vec<Value>> = BTreeMap::new();
    for finding in ledger.plan_findings(plan).unwrap() {
        let key = (
            finding["kind"].as_str().unwrap().to_owned(),
            finding["config_name"].as_str().unwrap().to_owned(),
        );
        findings
            .entry(key)
            .or_default()
            .push(serde_json::json!([finding["code"], finding["message"]]));
    }
    let items = by_seq
        .values()
        .map(|i| {
            let key = (i.kind.clone(), i.config_name.clone());
            let value = serde_json::json!({
                "action": i.action, "target_id": i.target_id, "natural_key": i.natural_key,
                "matched_by": i.matched_by, "conflict": i.conflict,
                "payloads": payloads.remove(&i.seq).unwrap_or_default(),
                "findings": findings.remove(&key).unwrap_or_default(),
            });
            (key, value)
        })
        .collect();
    let mut pairs: Vec<String> = ledger
        .id_map(target)
        .unwrap()
        .into_iter()
        .map(|p| {
            format!(
                "{}|{}|{}|{}|{}",
                p.kind, p.config_name, p.field, p.public_id, p.matched_by
            )
        })
        .collect();
    pairs.sort();
    (items, pairs)
}

#[tokio::test]
async fn a_plan_made_in_stages_as_the_export_reads_is_the_plan_made_whole() {
    use segbridge::http::{Secret, SecretSource};
    use segbridge::mapping::Tables;
    use segbridge::plan::staged::{Stage, StagePlanner, stored_outline};
    use segbridge::plan::{PlanOptions, build_into, read_target};
    use segbridge::progress::HiddenReporter;
    use segbridge::public_api::{PublicClient, PublicClientSettings, Region};
    use std::sync::Arc;

    let sims = small_simulators(Target::Empty).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.ledger");
    export_into(&sims, &path).await;
    let token = Secret::new(
        sims.public.token.clone(),
        SecretSource::EnvVar("SEGMENT_PUBLIC_API_TOKEN".into()),
    )
    .unwrap();
    let mut settings = PublicClientSettings::for_region(token, Region::Us);
    settings.base_url = sims.public.base_url().parse().unwrap();
    let client = PublicClient::new(settings).unwrap();
    let view = read_target(&client, &HiddenReporter).await.unwrap();
    let tables = Tables::embedded();
    let options = PlanOptions::default();

    // Held as `migrate` holds it: the stages' planner opens the ledger beside this connection.
    let _lock = Ledger::lock(&path).unwrap();
    let mut ledger = Ledger::open(&path).unwrap();
    let (export_run, _) = ledger.latest_complete_export().unwrap().unwrap();
    let run = ledger.begin_run("plan", "whole").unwrap();
    let ledger = ledger;
    let mut writer = ledger
        .begin_plan(run, export_run, "whole", options.mode, options.on_conflict)
        .unwrap();
    let outline = build_into(
        &ledger.snapshot(export_run),
        tables,
        &view,
        options,
        &mut |item| writer.item(&item),
    )
    .unwrap();
    let whole = writer.finish(&outline.id_map).unwrap();

    // In stages: the sources, then their subtrees in three groups, then the rest.
    let staged = ledger
        .begin_staged_plan(run, export_run, "staged", options.mode, options.on_conflict)
        .unwrap();
    let sources: Vec<String> = ledger
        .objects_of_kind(Kind::Sources)
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert!(sources.len() >= 6, "{} sources", sources.len());
    let mut planner = StagePlanner::open(
        &path,
        staged,
        "staged",
        export_run,
        Arc::new(tables.clone()),
        Arc::new(view.clone()),
        options,
    )
    .unwrap();
    let kinds_of = |seqs: std::ops::Range<i64>| -> BTreeSet<String> {
        ledger
            .plan_items(staged)
            .unwrap()
            .into_iter()
            .filter(|i| seqs.contains(&i.seq))
            .map(|i| i.kind)
            .collect()
    };
    let first = planner.plan(&Stage::Sources).unwrap();
    assert!(kinds_of(first.clone()).contains("sources"));
    assert!(!kinds_of(first).contains("destinations"));
    let others = kinds_of(planner.plan(&Stage::Others).unwrap());
    assert!(
        others.contains("tracking_plans") && others.contains("users"),
        "{others:?}"
    );
    assert!(
        !others.contains("sources") && !others.contains("destinations"),
        "{others:?}"
    );
    // The subtrees of two thirds of the sources, in two stages; the last third is left to the
    // rest.
    let groups: Vec<&[String]> = sources.chunks(sources.len().div_ceil(3)).collect();
    for group in &groups[..2] {
        let kinds = kinds_of(planner.plan(&Stage::Subtrees(group.to_vec())).unwrap());
        assert!(kinds.contains("destinations"), "{kinds:?}");
        assert!(
            !kinds.contains("sources") && !kinds.contains("tracking_plans"),
            "{kinds:?}"
        );
    }
    // A stage of what is planned already stores nothing.
    assert!(
        planner
            .plan(&Stage::Subtrees(groups[0].to_vec()))
            .unwrap()
            .is_empty()
    );
    assert!(planner.plan(&Stage::Sources).unwrap().is_empty());
    assert!(planner.plan(&Stage::Others).unwrap().is_empty());
    // A planner opened again (a resumed `migrate`) knows what the stored stages decided. This
    // one stores every item on its own, while it reads the export.
    drop(planner);
    let mut planner = StagePlanner::open(
        &path,
        staged,
        "staged",
        export_run,
        Arc::new(tables.clone()),
        Arc::new(read_target(&client, &HiddenReporter).await.unwrap()),
        options,
    )
    .unwrap()
    .with_part_bytes(1);
    // Another connection writes all along, as the export and `apply` do.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, path) = (stop.clone(), path.clone());
        std::thread::spawn(move || {
            let mut other = Ledger::open(&path).unwrap();
            let mut writes = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                other.record_event(None, "meanwhile", &Value::Null).unwrap();
                writes += 1;
            }
            writes
        })
    };
    let rest = planner.plan(&Stage::Rest).unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
    let rest = kinds_of(rest);
    assert!(rest.contains("destinations"), "{rest:?}");
    assert!(
        !rest.contains("tracking_plans") && !rest.contains("sources"),
        "{rest:?}"
    );
    ledger.complete_plan(staged).unwrap();

    let (whole_items, whole_pairs) = contents(&ledger, whole, "whole");
    let (staged_items, staged_pairs) = contents(&ledger, staged, "staged");
    assert_eq!(whole_items.len(), staged_items.len());
    for (key, item) in &whole_items {
        assert_eq!(Some(item), staged_items.get(key), "{key:?}");
    }
    assert_eq!(whole_pairs, staged_pairs);
    assert!(ledger.latest_plan("staged").unwrap().unwrap().complete);
    // The plan's run ends with it.
    let plan_run = ledger
        .runs()
        .unwrap()
        .into_iter()
        .find(|r| r.id == run)
        .unwrap();
    assert_eq!(plan_run.status, segbridge::ledger::RunStatus::Complete);
    // Summed up from the ledger, either plan has the counts the planner gave the whole one.
    for plan in [whole, staged] {
        let stored = stored_outline(&ledger, plan, options).unwrap();
        assert_eq!(stored.summary, outline.summary, "plan {plan}");
    }
}
