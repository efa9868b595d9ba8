//! The walk against an in-memory reader: order, selection, failures and resumption. The same
//! behaviour against the simulator, through the real client, is in `tests/export.rs`.

use std::collections::HashMap;

use futures::stream::{self, BoxStream};
use serde_json::json;

use super::*;
use crate::progress::HiddenReporter;

#[derive(Default)]
struct FakeReader {
    collections: HashMap<String, Vec<(String, Value)>>,
    failing: Mutex<HashMap<String, ReadError>>,
    calls: Mutex<Vec<String>>,
    /// A collection whose pages come only after this long.
    slow: Option<(String, Duration)>,
}

impl FakeReader {
    fn with(mut self, key: &str, objects: Vec<(&str, Value)>) -> Self {
        self.collections.insert(
            key.to_owned(),
            objects
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v))
                .collect(),
        );
        self
    }

    fn fail(&self, key: &str, transient: bool, fatal: bool) {
        self.failing.lock().unwrap().insert(
            key.to_owned(),
            ReadError {
                message: format!("GET {key}: boom"),
                transient,
                fatal,
            },
        );
    }

    fn heal(&self) {
        self.failing.lock().unwrap().clear();
    }

    fn calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl ConfigReader for FakeReader {
    fn pages<'a>(&'a self, collection: &'a Collection) -> BoxStream<'a, Result<Page, ReadError>> {
        let key = collection.key();
        self.calls.lock().unwrap().push(key.clone());
        if let Some(error) = self.failing.lock().unwrap().get(&key) {
            return stream::iter(vec![Err(error.clone())]).boxed();
        }
        let objects = self.collections.get(&key).cloned().unwrap_or_default();
        // Two objects per page, to exercise multi-page collections; an empty collection is no
        // page at all, and the last page says it is.
        let count = objects.chunks(2).count();
        let pause = match &self.slow {
            Some((slow, pause)) if *slow == key => *pause,
            _ => Duration::ZERO,
        };
        let pages: Vec<Result<Page, ReadError>> = objects
            .chunks(2)
            .enumerate()
            .map(|(i, chunk)| {
                Ok(Page {
                    objects: chunk
                        .iter()
                        .map(|(name, body)| {
                            (name.clone(), serde_json::value::to_raw_value(body).unwrap())
                        })
                        .collect(),
                    last: i + 1 == count,
                })
            })
            .collect();
        stream::once(tokio::time::sleep(pause))
            .filter_map(|()| async { None })
            .chain(stream::iter(pages))
            .boxed()
    }
}

fn workspace() -> FakeReader {
    let ws = "workspaces/acme";
    FakeReader::default()
        .with(
            "workspaces",
            vec![(ws, json!({"name": ws, "id": "abc123defg"}))],
        )
        .with(
            "catalog/sources",
            vec![("catalog/sources/javascript", json!({}))],
        )
        .with(
            "catalog/destinations",
            vec![("catalog/destinations/amplitude", json!({}))],
        )
        .with("access-tokens", vec![])
        .with(
            "workspaces/acme/sources",
            vec![
                ("workspaces/acme/sources/a", json!({"name": "a"})),
                ("workspaces/acme/sources/b", json!({"name": "b"})),
                ("workspaces/acme/sources/c", json!({"name": "c"})),
            ],
        )
        .with(
            "workspaces/acme/sources/a/destinations",
            vec![(
                "workspaces/acme/sources/a/destinations/amplitude",
                json!({"config": [{"value": "s3cr3t", "type": "password"}]}),
            )],
        )
        .with(
            "workspaces/acme/sources/b/destinations",
            vec![(
                "workspaces/acme/sources/b/destinations/amplitude",
                json!({}),
            )],
        )
        .with(
            "workspaces/acme/sources/a/destinations/amplitude/filters",
            vec![("f1", json!({"if": "all"}))],
        )
        .with(
            "workspaces/acme/tracking-plans",
            vec![(
                "workspaces/acme/tracking-plans/rs_1",
                json!({"rules": {"events": [{}, {}], "identify": {}, "identify_traits": []}}),
            )],
        )
        .with(
            "workspaces/acme/tracking-plans/rs_1/source-connections",
            vec![("c1", json!({}))],
        )
        .with(
            "workspaces/acme/roles",
            vec![("r1", json!({})), ("r2", json!({}))],
        )
        .with("workspaces/acme/users", vec![("u1", json!({}))])
        .with(
            "workspaces/abc123defg/functions?type=SOURCE",
            vec![("sfnc_1", json!({}))],
        )
}

fn options() -> ExportOptions {
    ExportOptions {
        config_url: "http://127.0.0.1:1".into(),
        workspace: None,
        kinds: ExportOptions::default_kinds(),
        concurrency: 2,
        held_secrets: None,
    }
}

async fn run(
    reader: &FakeReader,
    ledger: &Mutex<Ledger>,
    options: &ExportOptions,
) -> Result<ExportOutcome, ExportError> {
    export(
        reader,
        ledger,
        &SecretHasher::from_token("t"),
        options,
        &HiddenReporter,
    )
    .await
}

#[tokio::test]
async fn a_full_walk_stores_every_kind_and_counts_rules() {
    let reader = workspace();
    let ledger = Mutex::new(Ledger::open_in_memory().unwrap());
    let outcome = run(&reader, &ledger, &options()).await.unwrap();
    assert!(outcome.failures.is_empty());
    assert_eq!(outcome.workspace, "acme");
    let count = |k: Kind| outcome.objects.get(&k).copied().unwrap_or(0);
    assert_eq!(count(Kind::Sources), 3);
    assert_eq!(count(Kind::SchemaConfigs), 0, "the fake serves none");
    assert_eq!(count(Kind::Destinations), 2);
    assert_eq!(count(Kind::DestinationFilters), 1);
    assert_eq!(count(Kind::TrackingPlanRules), 3);
    assert_eq!(count(Kind::Functions), 1);
    assert_eq!(count(Kind::Workspaces), 1);
    assert!(!outcome.objects.contains_key(&Kind::DeliveryMetrics));
    let stored = lock(&ledger)
        .object(
            Kind::Destinations,
            "workspaces/acme/sources/a/destinations/amplitude",
        )
        .unwrap()
        .unwrap();
    assert!(
        !stored.body.contains("s3cr3t"),
        "secrets never reach the ledger"
    );
    let runs = lock(&ledger).runs().unwrap();
    assert_eq!(runs[0].status, RunStatus::Complete);
}

#[tokio::test]
async fn what_is_said_ready_is_stored_by_then_though_pages_are_stored_together() {
    let reader = workspace();
    let ledger = Mutex::new(Ledger::open_in_memory().unwrap());
    let run_id: Mutex<Option<RunId>> = Mutex::new(None);
    let seen: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let ready = |ready: Ready<'_>| {
        let ledger = lock(&ledger);
        let stored = |kind, name: &str| ledger.object(kind, name).unwrap().is_some();
        let complete = |key: &str| ledger.is_complete(lock(&run_id).unwrap(), key).unwrap();
        match ready {
            Ready::Run(run) => *lock(&run_id) = Some(run),
            Ready::Sources(count) => {
                assert_eq!(count, 3);
                assert!(stored(Kind::Sources, "workspaces/acme/sources/c"));
                assert!(complete("workspaces/acme/sources"));
                assert!(stored(Kind::Functions, "sfnc_1"));
            }
            Ready::Others => {
                assert!(stored(
                    Kind::TrackingPlans,
                    "workspaces/acme/tracking-plans/rs_1"
                ));
                assert!(complete(
                    "workspaces/acme/tracking-plans/rs_1/source-connections"
                ));
                assert!(stored(Kind::Users, "u1"));
            }
            Ready::Subtree(name) => {
                if name == "workspaces/acme/sources/a" {
                    assert!(stored(
                        Kind::Destinations,
                        "workspaces/acme/sources/a/destinations/amplitude"
                    ));
                    assert!(stored(Kind::DestinationFilters, "f1"));
                    assert!(complete(
                        "workspaces/acme/sources/a/destinations/amplitude/filters"
                    ));
                }
                assert!(complete(&format!("{name}/destinations")), "{name}");
            }
        }
        lock(&seen).push(format!("{ready:?}"));
    };
    let outcome = export_observed(
        &reader,
        &ledger,
        &SecretHasher::from_token("t"),
        &options(),
        &HiddenReporter,
        &ready,
    )
    .await
    .unwrap();
    assert!(outcome.failures.is_empty());
    assert_eq!(lock(&seen).len(), 1 + 1 + 1 + 3, "{:?}", lock(&seen));
}

/// Pages read while nothing is said ready are stored once the first of them has waited
/// `UNSTORED_AGE`, not only at the next moment something is ready: a crash loses at most about
/// that much reading.
#[tokio::test]
async fn pages_are_stored_once_the_first_has_waited_long_enough() {
    struct Watch<'a> {
        ledger: &'a Mutex<Ledger>,
        roles_stored_when_invites_began: Mutex<Option<bool>>,
    }
    impl Reporter for Watch<'_> {
        fn collection_started(&self, kind: Kind, _collection: &str) {
            if kind == Kind::Invites {
                let stored = lock(self.ledger)
                    .object(Kind::Roles, "r1")
                    .unwrap()
                    .is_some();
                *lock(&self.roles_stored_when_invites_began) = Some(stored);
            }
        }
    }
    let reader = FakeReader {
        // Read after the roles and before the invitations, with nothing said ready between.
        slow: Some((
            "workspaces/acme/roles/-/policies".into(),
            UNSTORED_AGE + Duration::from_millis(100),
        )),
        ..workspace()
    };
    let ledger = Mutex::new(Ledger::open_in_memory().unwrap());
    let watch = Watch {
        ledger: &ledger,
        roles_stored_when_invites_began: Mutex::new(None),
    };
    let outcome = export(
        &reader,
        &ledger,
        &SecretHasher::from_token("t"),
        &options(),
        &watch,
    )
    .await
    .unwrap();
    assert!(outcome.failures.is_empty());
    assert_eq!(*lock(&watch.roles_stored_when_invites_began), Some(true));
}

#[tokio::test]
async fn a_failed_collection_is_named_and_a_rerun_reads_only_the_rest() {
    let reader = workspace();
    let ledger = Mutex::new(Ledger::open_in_memory().unwrap());
    reader.fail("workspaces/acme/sources/b/destinations", true, false);
    let first = run(&reader, &ledger, &options()).await.unwrap();
    assert_eq!(first.failures.len(), 1);
    assert_eq!(
        first.failures[0].collection,
        "workspaces/acme/sources/b/destinations"
    );
    assert!(first.failures[0].message.contains("boom"));
    assert_eq!(lock(&ledger).runs().unwrap()[0].status, RunStatus::Failed);
    let full = reader.calls().len();

    reader.heal();
    let second = run(&reader, &ledger, &options()).await.unwrap();
    assert!(second.resumed);
    assert_eq!(second.run, first.run);
    assert!(second.failures.is_empty());
    assert_eq!(second.objects[&Kind::Destinations], 2);
    let again = reader.calls();
    assert!(again.contains(&"workspaces/acme/sources/b/destinations".to_owned()));
    assert!(
        !again.contains(&"catalog/destinations".to_owned()),
        "{again:?}"
    );
    assert!(
        again.len() < full / 2,
        "{} of {full} collections read again",
        again.len()
    );
    assert_eq!(lock(&ledger).runs().unwrap()[0].status, RunStatus::Complete);
}

#[tokio::test]
async fn a_finished_export_rerun_starts_a_new_run_and_reports_changes() {
    let mut reader = workspace();
    let ledger = Mutex::new(Ledger::open_in_memory().unwrap());
    let first = run(&reader, &ledger, &options()).await.unwrap();
    reader.collections.insert(
        "workspaces/acme/roles".into(),
        vec![
            ("r1".into(), json!({"changed": true})),
            ("r3".into(), json!({})),
        ],
    );
    let second = run(&reader, &ledger, &options()).await.unwrap();
    assert!(!second.resumed);
    assert_ne!(second.run, first.run);
    assert_eq!(second.changes.added.get("roles"), Some(&1));
    assert_eq!(second.changes.changed.get("roles"), Some(&1));
    assert_eq!(second.changes.removed.get("roles"), Some(&1));
    assert!(!second.changes.added.contains_key("sources"));
}

#[tokio::test]
async fn only_selected_kinds_are_stored_but_parents_are_still_walked() {
    let reader = workspace();
    let ledger = Mutex::new(Ledger::open_in_memory().unwrap());
    let mut only = options();
    only.kinds = [Kind::DestinationFilters].into();
    let outcome = run(&reader, &ledger, &only).await.unwrap();
    assert_eq!(
        outcome.objects.keys().collect::<Vec<_>>(),
        [&Kind::DestinationFilters]
    );
    let calls = reader.calls();
    assert!(calls.contains(&"workspaces/acme/sources".to_owned()));
    assert!(!calls.contains(&"workspaces/acme/roles".to_owned()));
}

#[tokio::test]
async fn an_authentication_failure_stops_the_export() {
    let reader = workspace();
    let ledger = Mutex::new(Ledger::open_in_memory().unwrap());
    reader.fail("catalog/sources", false, true);
    let err = run(&reader, &ledger, &options()).await.unwrap_err();
    assert!(err.to_string().contains("catalog/sources"), "{err}");
    assert_eq!(lock(&ledger).runs().unwrap()[0].status, RunStatus::Failed);
}

#[tokio::test]
async fn workspaces_are_chosen_explicitly_when_there_are_several() {
    let mut reader = workspace();
    reader.collections.insert(
        "workspaces".into(),
        vec![
            ("workspaces/acme".into(), json!({"id": "abc123defg"})),
            ("workspaces/other".into(), json!({"id": "x"})),
        ],
    );
    let ledger = Mutex::new(Ledger::open_in_memory().unwrap());
    let err = run(&reader, &ledger, &options()).await.unwrap_err();
    assert!(err.to_string().contains("acme, other"), "{err}");
    let mut chosen = options();
    chosen.workspace = Some("nope".into());
    let err = run(&reader, &ledger, &chosen).await.unwrap_err();
    assert!(err.to_string().contains("`nope`"), "{err}");
    chosen.workspace = Some("acme".into());
    assert!(run(&reader, &ledger, &chosen).await.is_ok());
}

#[test]
fn rules_count_every_event_version_and_the_schemas_that_are_set() {
    let plan = json!({"rules": {"events": [{"name": "a", "version": 1}, {"name": "a", "version": 2}], "global": {}, "identify_traits": []}});
    assert_eq!(count_rules(&plan.to_string()), 3);
    let plan = json!({"name": "p", "rules": {"identify": {"properties": {}}, "group": {}, "global": null}});
    assert_eq!(count_rules(&plan.to_string()), 2);
    // A key given twice counts as a parsed object keeps it: the last one.
    let twice = r#"{"rules": {"events": [{}]}, "rules": {"events": [{}, {}], "group": {}}}"#;
    assert_eq!(count_rules(twice), 3);
    // Whatever is not the expected shape counts nothing, as it did read as a value.
    for text in [
        "{}",
        r#"{"rules": null}"#,
        r#"{"rules": {"events": {}}}"#,
        "[]",
        "not json",
    ] {
        assert_eq!(count_rules(text), 0, "{text}");
    }
}

#[tokio::test]
async fn a_ledger_holds_one_workspace() {
    let mut reader = workspace();
    let ledger = Mutex::new(Ledger::open_in_memory().unwrap());
    run(&reader, &ledger, &options()).await.unwrap();
    reader.collections.insert(
        "workspaces".into(),
        vec![("workspaces/other".into(), json!({"id": "x"}))],
    );
    let err = run(&reader, &ledger, &options()).await.unwrap_err();
    assert!(matches!(err, ExportError::OtherWorkspace { .. }), "{err}");
    assert!(err.to_string().contains("another `--ledger`"), "{err}");
    assert_eq!(
        lock(&ledger).counts().unwrap()["sources"],
        3,
        "nothing was removed"
    );
}

#[test]
fn errors_with_a_cause_leave_it_to_the_cause_line() {
    // Error reports print each cause on a line of its own: a message that also quoted its
    // cause showed it twice.
    let cause = ReadError {
        message: "connection refused".into(),
        transient: true,
        fatal: false,
    };
    for err in [
        ExportError::Workspaces(cause.clone()),
        ExportError::Fatal {
            collection: "workspaces/acme/sources".into(),
            error: cause.clone(),
        },
    ] {
        assert!(!err.to_string().contains("connection refused"), "{err}");
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("connection refused"));
    }
}
