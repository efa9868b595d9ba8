//! What a finished migration must look like, checked from outside: the commands run as the
//! binary against the simulators, the ledger read with plain SQLite, the target through
//! `/_sim/state` and `/_sim/stats`. Shared by the crash-torture and fault-storm tests.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use segbridge::sim::Simulators;

use super::inspect::{state_at, stats_at};

/// How a command run with `--json` ended: its exit code, its JSON summary and what it said.
pub struct Summarized {
    pub code: i32,
    pub summary: Value,
    pub stderr: String,
}

impl Summarized {
    /// Reads a finished command's output; a command that printed no JSON summary fails the
    /// test, with what it said.
    pub fn of(output: std::process::Output) -> Summarized {
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let summary = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("no JSON summary ({e}); stderr:\n{stderr}"));
        Summarized {
            code: output.status.code().unwrap(),
            summary,
            stderr,
        }
    }
}

/// Steps `apply` holds back until `--include-iam` or `--enable`.
pub const DEFERRED_STEPS: [&str; 4] = [
    "invite_user",
    "add_user_permissions",
    "enable_source",
    "enable_destination",
];

/// Plan steps that create an object, with the `/_sim/state` kind it lands in.
pub const CREATES: [(&str, &str); 6] = [
    ("create_source", "sources"),
    ("create_destination", "destinations"),
    ("create_filter", "destination_filters"),
    ("create_tracking_plan", "tracking_plans"),
    ("connect_source_to_plan", "tracking_plan_connections"),
    ("create_function", "functions"),
];

/// The ledger at `path` opened read-only: never checkpoints, never takes the process lock, so
/// looking at it changes nothing a copy or a resume would see.
pub fn read_only(path: &Path) -> Connection {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .unwrap();
    conn
}

fn has_table(conn: &Connection, table: &str) -> bool {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .unwrap_or(false)
}

/// How far the ledger at `path` has come: collections read (across runs, so a refreshed
/// export does not count twice) plus payloads applied. 0 for a ledger without a schema yet.
pub fn progress(path: &Path) -> u64 {
    if !path.exists() {
        return 0;
    }
    let Ok(conn) = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return 0;
    };
    let _ = conn.busy_timeout(std::time::Duration::from_secs(30));
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap_or(0);
    let mut total = 0;
    if has_table(&conn, "collections") {
        total += count("SELECT count(DISTINCT key) FROM collections");
    }
    if has_table(&conn, "payload_progress") {
        total += count("SELECT count(*) FROM payload_progress WHERE state = 'done'");
    }
    total as u64
}

/// Payloads left in `intent` (sent, or about to be, with no recorded outcome), with the
/// attempt they are at: a kill between a write's intent and its result adds one.
pub fn intents(path: &Path) -> std::collections::BTreeSet<(i64, i64, i64, i64)> {
    if progress(path) == 0 {
        return Default::default();
    }
    let conn = read_only(path);
    if !has_table(&conn, "payload_progress") {
        return Default::default();
    }
    let mut stmt = conn
        .prepare("SELECT plan, seq, ordinal, attempts FROM payload_progress WHERE state = 'intent'")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// `PRAGMA integrity_check` of the ledger at `path`.
pub fn integrity(path: &Path) -> String {
    read_only(path)
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// One payload of the latest plan as the checks need it.
pub struct Payload {
    pub seq: i64,
    pub ordinal: i64,
    pub step: String,
    pub state: String,
    pub action: String,
    pub result: Option<Value>,
}

/// The payloads of the latest plan, with their item's action.
pub fn payloads(path: &Path) -> Vec<Payload> {
    let conn = read_only(path);
    let mut stmt = conn
        .prepare(
            "SELECT p.seq, p.ordinal, p.step, g.state, i.action, g.result
             FROM plan_payloads p JOIN plan_items i ON i.plan = p.plan AND i.seq = p.seq
             JOIN payload_progress g
                 ON g.plan = p.plan AND g.seq = p.seq AND g.ordinal = p.ordinal
             WHERE p.plan = (SELECT max(id) FROM plans) ORDER BY p.seq, p.ordinal",
        )
        .unwrap();
    stmt.query_map([], |r| {
        let result: Option<String> = r.get(5)?;
        Ok(Payload {
            seq: r.get(0)?,
            ordinal: r.get(1)?,
            step: r.get(2)?,
            state: r.get(3)?,
            action: r.get(4)?,
            result: result.map(|s| serde_json::from_str(&s).unwrap()),
        })
    })
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

/// Payloads a default `apply` must bring to `done`: the writes of created or updated items,
/// except those waiting for an opt-in flag.
pub fn due(payloads: &[Payload]) -> impl Iterator<Item = &Payload> {
    payloads.iter().filter(|p| {
        (p.action == "create" || p.action == "update") && !DEFERRED_STEPS.contains(&p.step.as_str())
    })
}

/// How many payloads of the latest plan in the ledger at `path` a default `apply` writes.
pub fn due_count(path: &Path) -> u64 {
    due(&payloads(path)).count() as u64
}

/// What the plan creates, per `/_sim/state` kind.
pub fn planned_creates(payloads: &[Payload]) -> BTreeMap<&'static str, usize> {
    CREATES
        .iter()
        .map(|(step, kind)| (*kind, payloads.iter().filter(|p| p.step == *step).count()))
        .collect()
}

/// Objects per kind in the target's `/_sim/state`.
pub fn target_counts(state: &Value) -> BTreeMap<&'static str, usize> {
    CREATES
        .iter()
        .map(|(_, kind)| (*kind, state[kind].as_object().map_or(0, |m| m.len())))
        .collect()
}

/// Every `done` payload's recorded ids that name an object kind the simulator lists, and
/// whether the target holds them: a `done` for a write that did not land is a lie.
pub fn done_but_missing(payloads: &[Payload], state: &Value) -> Vec<String> {
    let mut missing = Vec::new();
    for p in payloads.iter().filter(|p| p.state == "done") {
        let Some(result) = p.result.as_ref().and_then(Value::as_object) else {
            continue;
        };
        for (key, id) in result {
            let mut parts = key.splitn(3, '|');
            let (kind, field) = (parts.next().unwrap(), parts.nth(1).unwrap_or_default());
            if field != "id" || !state[kind].is_object() {
                continue;
            }
            if state[kind][id.as_str().unwrap()].is_null() {
                missing.push(format!("{} {} {}: {key} = {id}", p.seq, p.ordinal, p.step));
            }
        }
    }
    missing
}

/// The end state every torture and storm test demands: no duplicate natural key, every
/// planned object in the target, every due payload `done` and backed by a real object, and an
/// intact ledger. Returns the simulator's statistics for the figures.
pub async fn assert_migrated(sims: &Simulators, ledger: &Path) -> Value {
    let stats = stats_at(&sims.public.base_url()).await;
    assert_eq!(stats["duplicates_total"], 0, "duplicates: {stats}");
    let state = state_at(&sims.public.base_url()).await;
    let payloads = payloads(ledger);
    assert_eq!(
        target_counts(&state),
        planned_creates(&payloads),
        "zero missing"
    );
    let not_done: Vec<String> = due(&payloads)
        .filter(|p| p.state != "done")
        .map(|p| format!("{} {} {} {}", p.seq, p.ordinal, p.step, p.state))
        .collect();
    assert!(not_done.is_empty(), "not done: {not_done:?}");
    let missing = done_but_missing(&payloads, &state);
    assert!(
        missing.is_empty(),
        "done but not in the target: {missing:?}"
    );
    assert_eq!(integrity(ledger), "ok");
    stats
}
