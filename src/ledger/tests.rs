use serde_json::json;

use super::*;
use crate::secrets::{SecretHasher, sanitize};

fn object(kind: Kind, name: &str, parent: &str, body: Value) -> NewObject {
    NewObject {
        kind,
        name: name.to_owned(),
        parent: parent.to_owned(),
        body: sanitize(kind, body, &SecretHasher::from_token("t")),
    }
}

#[test]
fn a_new_ledger_is_at_the_current_schema_version() {
    let ledger = Ledger::open_in_memory().unwrap();
    assert_eq!(ledger.schema_version().unwrap(), current_version());
    assert_eq!(ledger.integrity_check().unwrap(), Ok(()));
}

#[test]
fn pages_are_upserted_and_collections_completed_atomically() {
    let mut ledger = Ledger::open_in_memory().unwrap();
    let run = ledger.begin_run("export", "ws").unwrap();
    let page = [
        object(
            Kind::Sources,
            "ws/sources/a",
            "sources:ws",
            json!({"name": "a"}),
        ),
        object(
            Kind::Sources,
            "ws/sources/b",
            "sources:ws",
            json!({"name": "b"}),
        ),
    ];
    ledger.store_page(run, &page, None).unwrap();
    assert!(!ledger.is_complete(run, "sources:ws").unwrap());
    // The same page again (a resumed run re-reading it) changes nothing.
    ledger
        .store_page(run, &page, Some(("sources:ws", 2)))
        .unwrap();
    assert!(ledger.is_complete(run, "sources:ws").unwrap());
    let names: Vec<String> = ledger
        .objects_in(run, "sources:ws")
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["ws/sources/a", "ws/sources/b"]);
    assert_eq!(ledger.counts().unwrap()["sources"], 2);
}

#[test]
fn a_batch_stores_the_pages_of_several_collections_and_completes_those_it_ends() {
    let mut ledger = Ledger::open_in_memory().unwrap();
    let run = ledger.begin_run("export", "ws").unwrap();
    let source = |name: &str| object(Kind::Sources, name, "sources:ws", json!({"name": name}));
    let mut batch = PageBatch::default();
    assert!(batch.is_empty());
    batch.add("sources:ws", vec![source("ws/sources/a")], None);
    batch.add("sources:ws", vec![source("ws/sources/b")], Some(2));
    batch.add(
        "filters:a",
        vec![object(
            Kind::DestinationFilters,
            "ws/f1",
            "filters:a",
            json!({}),
        )],
        None,
    );
    assert_eq!(batch.pages(), 3);
    assert_eq!(
        batch.text_bytes(),
        2 * r#"{"name":"ws/sources/a"}"#.len() + 2
    );
    ledger.store_batch(run, &batch).unwrap();
    assert!(ledger.is_complete(run, "sources:ws").unwrap());
    assert!(!ledger.is_complete(run, "filters:a").unwrap());
    assert_eq!(
        ledger.completed_keys(run).unwrap(),
        HashSet::from(["sources:ws".to_owned()])
    );
    let later = ledger.begin_run("export", "ws").unwrap();
    assert!(ledger.completed_keys(later).unwrap().is_empty());
    assert_eq!(ledger.counts().unwrap()["sources"], 2);
    assert_eq!(ledger.counts().unwrap()["destination_filters"], 1);
    // Stored as `store_page` stores it: the same body, the same hash.
    let mut alone = Ledger::open_in_memory().unwrap();
    let other = alone.begin_run("export", "ws").unwrap();
    alone
        .store_page(other, &[source("ws/sources/a")], None)
        .unwrap();
    let a = |l: &Ledger| l.object(Kind::Sources, "ws/sources/a").unwrap().unwrap();
    assert_eq!(a(&ledger), a(&alone));
}

#[test]
fn settling_reports_added_changed_and_removed_by_content_hash() {
    let mut ledger = Ledger::open_in_memory().unwrap();
    let first = ledger.begin_run("export", "ws").unwrap();
    ledger
        .store_page(
            first,
            &[
                object(Kind::Sources, "a", "p", json!({"v": 1})),
                object(Kind::Sources, "b", "p", json!({"v": 1})),
                object(Kind::Sources, "c", "p", json!({"v": 1})),
                object(Kind::Sources, "e", "p", json!({"v": 1})),
                object(Kind::Destinations, "x", "p", json!({"v": 1})),
            ],
            Some(("p", 5)),
        )
        .unwrap();
    let changes = ledger.settle_run(first, &[Kind::Sources]).unwrap();
    assert_eq!(changes.added["sources"], 4);
    assert_eq!(changes.added["destinations"], 1);
    ledger.finish_run(first, RunStatus::Complete).unwrap();

    let second = ledger.begin_run("export", "ws").unwrap();
    ledger
        .store_page(
            second,
            &[
                object(Kind::Sources, "a", "p", json!({"v": 1})),
                object(Kind::Sources, "b", "p", json!({"v": 2})),
                object(Kind::Sources, "d", "p", json!({"v": 1})),
                object(Kind::Sources, "f", "p", json!({"v": 1})),
                object(Kind::Sources, "g", "p", json!({"v": 1})),
            ],
            Some(("p", 5)),
        )
        .unwrap();
    // Destinations went unseen but are not pruned; a kind with nothing to count is left out.
    let changes = ledger.settle_run(second, &[Kind::Sources]).unwrap();
    assert_eq!(changes.added, BTreeMap::from([("sources".to_owned(), 3)]));
    assert_eq!(changes.changed, BTreeMap::from([("sources".to_owned(), 1)]));
    assert_eq!(changes.removed, BTreeMap::from([("sources".to_owned(), 2)]));
    assert!(ledger.object(Kind::Sources, "c").unwrap().is_none());
    assert!(ledger.object(Kind::Destinations, "x").unwrap().is_some());
    assert_eq!(
        ledger.previous_run("export", "ws", second).unwrap(),
        Some(first)
    );
}

#[test]
fn an_incomplete_run_keeps_what_it_did_not_see() {
    let mut ledger = Ledger::open_in_memory().unwrap();
    let first = ledger.begin_run("export", "ws").unwrap();
    ledger
        .store_page(first, &[object(Kind::Sources, "a", "p", json!({}))], None)
        .unwrap();
    let second = ledger.begin_run("export", "ws").unwrap();
    let changes = ledger.settle_run(second, &[]).unwrap();
    assert!(changes.removed.is_empty());
    assert!(ledger.object(Kind::Sources, "a").unwrap().is_some());
}

#[test]
fn unfinished_runs_are_found_for_the_same_command_and_source() {
    let mut ledger = Ledger::open_in_memory().unwrap();
    let run = ledger.begin_run("export", "ws-a").unwrap();
    assert_eq!(ledger.unfinished_run("export", "ws-a").unwrap(), Some(run));
    assert_eq!(ledger.unfinished_run("export", "ws-b").unwrap(), None);
    // A run that ended with failures is continued too; a complete one is not.
    ledger.finish_run(run, RunStatus::Failed).unwrap();
    assert_eq!(ledger.unfinished_run("export", "ws-a").unwrap(), Some(run));
    assert_eq!(ledger.runs().unwrap()[0].status, RunStatus::Failed);
    ledger.reopen_run(run).unwrap();
    ledger.finish_run(run, RunStatus::Complete).unwrap();
    assert_eq!(ledger.unfinished_run("export", "ws-a").unwrap(), None);
}

#[test]
fn the_journal_keeps_events_in_order() {
    let mut ledger = Ledger::open_in_memory().unwrap();
    let run = ledger.begin_run("export", "ws").unwrap();
    ledger
        .record_event(Some(run), "started", &json!({"n": 1}))
        .unwrap();
    ledger
        .record_event(Some(run), "finished", &json!({"n": 2}))
        .unwrap();
    let events = ledger.events(run).unwrap();
    assert_eq!(events[0].0, "started");
    assert_eq!(events[1].1["n"], 2);
}

#[test]
fn files_are_private_reopenable_and_refused_when_foreign_or_newer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    {
        let mut ledger = Ledger::open(&path).unwrap();
        ledger.begin_run("export", "ws").unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert_eq!(Ledger::open(&path).unwrap().runs().unwrap().len(), 1);

    let foreign = dir.path().join("notes.txt");
    std::fs::write(
        &foreign,
        "this is not a database, just some text that is long enough",
    )
    .unwrap();
    let err = Ledger::open(&foreign).err().expect("refused");
    assert!(matches!(err, LedgerError::NotALedger { .. }), "{err}");

    let newer = dir.path().join("newer.db");
    {
        let conn = Connection::open(&newer).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Ledger::open(&newer).err().expect("refused");
    assert!(err.to_string().contains("newer segbridge"), "{err}");
}

#[test]
fn a_second_process_is_refused_while_the_first_holds_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let first = Ledger::open(&path).unwrap();
    // A second open in this process takes a second lock on a new file description, which
    // conflicts exactly as another process would.
    let err = Ledger::open(&path).err().expect("refused");
    assert!(matches!(err, LedgerError::Busy { .. }), "{err}");
    assert!(err.to_string().contains("another segbridge process"));
    // Looking is allowed, and sees what the holder committed.
    assert_eq!(Ledger::inspect(&path).unwrap().runs().unwrap().len(), 0);
    drop(first);
    assert!(Ledger::open(&path).is_ok(), "the lock goes with the holder");
}

#[test]
fn a_migration_that_fails_half_way_leaves_the_previous_schema_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.ledger");
    let mut ledger = Ledger::open(&path).unwrap();
    drop(ledger);
    // A version-1 ledger, as the first release wrote it.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("DROP TABLE payload_progress; DROP TABLE plan_findings; DROP TABLE plan_payloads; DROP TABLE id_map; DROP TABLE plan_items; DROP TABLE plans; DROP INDEX objects_by_kind_and_run; PRAGMA user_version = 1;").unwrap();
    drop(conn);
    ledger = Ledger::open_unmigrated(&path);
    // The second step creates its first tables, then fails: as if the process died there.
    let broken = [
        migrations::MIGRATIONS[0],
        "CREATE TABLE plans (id INTEGER PRIMARY KEY); CREATE TABLE half (x); SELECT no_such_function();",
    ];
    assert!(ledger.migrate_with(&broken).is_err());
    assert_eq!(ledger.schema_version().unwrap(), 1);
    let tables = |ledger: &Ledger| -> Vec<String> {
        let mut stmt = ledger
            .conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    assert_eq!(
        tables(&ledger),
        [
            "collections",
            "events",
            "objects",
            "runs",
            "sqlite_sequence"
        ]
    );
    drop(ledger);
    // The next open finds version 1 and migrates it whole.
    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.schema_version().unwrap(), current_version());
    assert!(tables(&ledger).contains(&"plan_payloads".to_owned()));
    assert_eq!(ledger.integrity_check().unwrap(), Ok(()));
}

#[test]
fn a_held_lock_is_shared_by_opens_in_this_process_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("held.ledger");
    let guard = Ledger::lock(&path).unwrap();
    // The steps of one command open the ledger one after the other under the guard.
    let first = Ledger::open(&path).unwrap();
    drop(first);
    let second = Ledger::open(&path).unwrap();
    drop(second);
    // Another process (a lock on a new file description) is refused meanwhile, even with no
    // ledger open.
    let other = std::fs::File::open(dir.path().join("held.ledger.lock")).unwrap();
    assert!(matches!(
        other.try_lock(),
        Err(std::fs::TryLockError::WouldBlock)
    ));
    drop(guard);
    other.try_lock().expect("the lock goes with the guard");
    drop(other);
    let open = Ledger::open(&path).unwrap();
    assert!(matches!(Ledger::lock(&path), Err(LedgerError::Busy { .. })));
    drop(open);
}

#[test]
fn a_write_intent_is_in_the_ledger_file_even_without_its_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.ledger");
    let mut ledger = Ledger::open(&path).unwrap();
    let mut checkpointer = ledger.checkpointer().unwrap().unwrap();
    let run = ledger.begin_run("export", "ws").unwrap();
    checkpointer.checkpoint().unwrap();
    ledger.finish_run(run, RunStatus::Complete).unwrap();
    // Still open, as in a process killed now: the file alone lacks the last commit...
    let copy = dir.path().join("copy.ledger");
    std::fs::copy(&path, &copy).unwrap();
    let copied = Ledger::inspect(&copy).unwrap();
    assert_eq!(copied.runs().unwrap()[0].status, RunStatus::Running);
    drop(copied);
    // ...until a checkpoint, which every write intent makes.
    checkpointer.checkpoint().unwrap();
    std::fs::copy(&path, &copy).unwrap();
    let copied = Ledger::inspect(&copy).unwrap();
    assert_eq!(copied.runs().unwrap()[0].status, RunStatus::Complete);
    drop(ledger);
}

#[test]
fn a_checkpointer_copies_commits_into_the_file_while_the_ledger_goes_on_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.ledger");
    let mut ledger = Ledger::open(&path).unwrap();
    let mut checkpointer = ledger.checkpointer().unwrap().expect("a file ledger");
    let run = ledger.begin_run("export", "ws").unwrap();
    ledger.finish_run(run, RunStatus::Complete).unwrap();
    // From a thread of its own, as `apply` runs it, with the ledger still open and writing.
    let checkpointed = std::thread::spawn(move || checkpointer.checkpoint());
    let later = ledger.begin_run("export", "ws").unwrap();
    checkpointed.join().unwrap().unwrap();
    let copy = dir.path().join("copy.ledger");
    std::fs::copy(&path, &copy).unwrap();
    let copied = Ledger::inspect(&copy).unwrap();
    assert_eq!(copied.runs().unwrap()[0].status, RunStatus::Complete);
    drop(copied);
    assert_eq!(ledger.runs().unwrap().last().unwrap().id, later);
    assert!(
        Ledger::open_in_memory()
            .unwrap()
            .checkpointer()
            .unwrap()
            .is_none()
    );
}

impl Ledger {
    /// Opens the ledger at `path` without migrating it, to drive [`Ledger::migrate_with`].
    fn open_unmigrated(path: &Path) -> Ledger {
        let mut ledger = Ledger {
            conn: Connection::open(path).unwrap(),
            path: path.to_owned(),
            _lock: None,
        };
        ledger.configure().unwrap();
        ledger
    }
}

#[test]
fn a_stage_reads_a_step_through_the_index_of_steps_and_seqs() {
    let ledger = Ledger::open_in_memory().unwrap();
    let items = format!(
        "SELECT seq FROM plan_items WHERE {} ORDER BY seq",
        plans::ITEMS_OF_STEP
    );
    let payloads = plans::payloads_query(
        plans::PAYLOADS_BY_STEP,
        plans::PAYLOADS_OF_STEP,
        plans::TEXT_UP_TO_5,
    );
    let explain = |query: &str, params: &[&dyn rusqlite::ToSql]| -> Vec<String> {
        let mut stmt = ledger
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
            .unwrap();
        stmt.query_map(params, |row| row.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    for steps in [
        explain(&items, params![1, "create_filter", 0, 100]),
        explain(&payloads, params![1, "create_filter", 0, 100, 16_384]),
    ] {
        assert!(
            steps.iter().any(|s| s
                .contains("plan_payloads_by_step_and_seq (plan=? AND step=? AND seq>? AND seq<?)")),
            "{steps:?}"
        );
    }
}

#[test]
fn a_kind_is_read_in_export_order_without_sorting_its_rows() {
    // Sorting would hold every row of the kind, bodies included, before the first is read.
    let ledger = Ledger::open_in_memory().unwrap();
    for sql in [super::OBJECTS_OF_KIND, super::NAMES_OF_KIND] {
        let mut stmt = ledger
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        let plan: Vec<String> = stmt
            .query_map(params!["sources", 1], |row| row.get(3))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|step| step.contains("objects_by_kind_and_run")),
            "{sql}: {plan:?}"
        );
        assert!(
            !plan.iter().any(|step| step.contains("TEMP B-TREE")),
            "{sql}: {plan:?}"
        );
    }
}

#[test]
fn a_limited_page_cache_is_set_in_kib() {
    let ledger = Ledger::open_in_memory().unwrap();
    ledger.limit_page_cache(512).unwrap();
    let size: i64 = ledger
        .conn
        .query_row("PRAGMA cache_size", [], |row| row.get(0))
        .unwrap();
    // Negative: a size in KiB rather than in pages.
    assert_eq!(size, -512);
}

#[test]
fn progress_recorded_on_the_payloads_moves_to_rows_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.ledger");
    // A version-6 ledger, `apply` part-way: one payload done, one sent, one failed, one not
    // yet sent.
    let mut ledger = Ledger::open_unmigrated(&path);
    ledger.migrate_with(&migrations::MIGRATIONS[..6]).unwrap();
    ledger
        .conn
        .execute_batch(
            "INSERT INTO runs (id, command, source, started_at, status)
                 VALUES (1, 'plan', 'ws', 't', 'complete');
             INSERT INTO plans (id, run, export_run, target, mode, on_conflict, created_at)
                 VALUES (1, 1, 1, 'target', 'create', 'fail', 't');
             INSERT INTO plan_items (plan, seq, kind, config_name, action, conflict)
                 VALUES (1, 0, 'sources', 'ws/sources/a', 'create', 0);
             INSERT INTO plan_payloads (plan, seq, ordinal, step, method, path, payload,
                 condition, dependencies, state, attempts, result, error, updated_at) VALUES
                 (1, 0, 0, 'create_source', 'POST', '/sources', '{}', 'always', '[]',
                  'done', 1, '{\"sources|ws/sources/a|id\":\"s1\"}', NULL, 't1'),
                 (1, 0, 1, 'name_source', 'PATCH', '/sources/{id}', '{}', 'always', '[]',
                  'intent', 2, NULL, NULL, 't2'),
                 (1, 0, 2, 'set_source_labels', 'PATCH', '/sources/{id}', '{}', 'always', '[]',
                  'failed', 1, NULL, 'HTTP 400', 't3'),
                 (1, 0, 3, 'enable_source', 'PATCH', '/sources/{id}', '{}', 'always', '[]',
                  'pending', 0, NULL, NULL, NULL);",
        )
        .unwrap();
    drop(ledger);

    let ledger = Ledger::open(&path).unwrap();
    assert_eq!(ledger.schema_version().unwrap(), current_version());
    let progress: Vec<_> = ledger
        .plan_payloads(1)
        .unwrap()
        .into_iter()
        .map(|p| (p.step, p.state, p.attempts, p.result, p.error))
        .collect();
    assert_eq!(
        progress,
        [
            (
                "create_source".to_owned(),
                "done".to_owned(),
                1,
                Some(json!({"sources|ws/sources/a|id": "s1"})),
                None
            ),
            ("name_source".into(), "intent".into(), 2, None, None),
            (
                "set_source_labels".into(),
                "failed".into(),
                1,
                None,
                Some("HTTP 400".into())
            ),
            ("enable_source".into(), "pending".into(), 0, None, None),
        ]
    );
    // The payloads' rows no longer carry it.
    let columns: Vec<String> = ledger
        .conn
        .prepare("SELECT name FROM pragma_table_info('plan_payloads')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for moved in ["state", "attempts", "result", "error", "updated_at"] {
        assert!(!columns.contains(&moved.to_owned()), "{columns:?}");
    }
    assert_eq!(ledger.integrity_check().unwrap(), Ok(()));
}
