//! The ledger's schema, as an append-only list of migrations applied under `PRAGMA
//! user_version`. A migration is never edited or reordered once released: a new need is a new
//! entry at the end. A ledger whose version is newer than this list was written by a newer
//! segbridge and is refused rather than guessed at.

/// Migration `i` (0-based) brings a ledger from `user_version` `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: runs, the exported snapshot, completed collections and the event journal.
    r"
    -- One row per invocation of a resumable command. A run left `running` was interrupted and
    -- is continued by the next invocation of the same command on the same source.
    CREATE TABLE runs (
        id          INTEGER PRIMARY KEY,
        command     TEXT NOT NULL,
        source      TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        finished_at TEXT,
        status      TEXT NOT NULL CHECK (status IN ('running', 'complete', 'failed'))
    ) STRICT;

    -- The raw Config API objects, secrets replaced by markers, keyed by kind and Config name.
    -- `parent` is the collection the object was listed in; `last_run` the latest run that saw
    -- it; `changed_run` the run that stored its current content.
    CREATE TABLE objects (
        kind        TEXT NOT NULL,
        name        TEXT NOT NULL,
        parent      TEXT NOT NULL,
        body        TEXT NOT NULL,
        hash        TEXT NOT NULL,
        first_run   INTEGER NOT NULL REFERENCES runs(id),
        last_run    INTEGER NOT NULL REFERENCES runs(id),
        changed_run INTEGER NOT NULL REFERENCES runs(id),
        PRIMARY KEY (kind, name)
    ) STRICT;
    CREATE INDEX objects_by_collection ON objects (parent, last_run);

    -- Collections a run has read completely; a resumed run does not read them again.
    CREATE TABLE collections (
        run          INTEGER NOT NULL REFERENCES runs(id),
        key          TEXT NOT NULL,
        items        INTEGER NOT NULL,
        completed_at TEXT NOT NULL,
        PRIMARY KEY (run, key)
    ) STRICT;

    -- Append-only journal of what happened, for `status` and for post-mortems.
    CREATE TABLE events (
        id   INTEGER PRIMARY KEY AUTOINCREMENT,
        run  INTEGER REFERENCES runs(id),
        at   TEXT NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL
    ) STRICT;
    ",
    // 2: plans, their items, payloads and findings, and the id map.
    r"
    -- One row per `plan` invocation. `target` identifies the target workspace (`<public url>|<id>`);
    -- the latest plan of a target is the one `apply` executes, earlier ones are kept as history
    -- with `superseded_by` set.
    CREATE TABLE plans (
        id            INTEGER PRIMARY KEY,
        run           INTEGER NOT NULL REFERENCES runs(id),
        export_run    INTEGER NOT NULL REFERENCES runs(id),
        target        TEXT NOT NULL,
        mode          TEXT NOT NULL CHECK (mode IN ('create', 'adopt')),
        on_conflict   TEXT NOT NULL CHECK (on_conflict IN ('adopt', 'skip', 'fail')),
        created_at    TEXT NOT NULL,
        superseded_by INTEGER REFERENCES plans(id)
    ) STRICT;
    CREATE INDEX plans_by_target ON plans (target, id);

    -- One row per snapshot object, `seq` in dependency order (every `$ref` of an item points to
    -- an item with a smaller `seq`).
    CREATE TABLE plan_items (
        plan        INTEGER NOT NULL REFERENCES plans(id),
        seq         INTEGER NOT NULL,
        kind        TEXT NOT NULL,
        config_name TEXT NOT NULL,
        action      TEXT NOT NULL CHECK (action IN ('create', 'adopt', 'update', 'skip', 'manual')),
        target_id   TEXT,
        natural_key TEXT,
        matched_by  TEXT,
        conflict    INTEGER NOT NULL CHECK (conflict IN (0, 1)),
        PRIMARY KEY (plan, seq),
        UNIQUE (plan, kind, config_name)
    ) STRICT;

    -- The requests of an item, in the order they are sent. `payload` is the request with `$ref`
    -- and `$secret` markers (never a secret value). The executor keeps its progress on the same
    -- row: `state` goes pending -> intent (before the write) -> done | failed, `result` holds the
    -- ids the answer carried, as a JSON object keyed `<kind>|<config name>|<field>`.
    CREATE TABLE plan_payloads (
        plan         INTEGER NOT NULL,
        seq          INTEGER NOT NULL,
        ordinal      INTEGER NOT NULL,
        step         TEXT NOT NULL,
        method       TEXT NOT NULL,
        path         TEXT NOT NULL,
        payload      TEXT NOT NULL,
        condition    TEXT NOT NULL,
        dependencies TEXT NOT NULL,
        state        TEXT NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'intent', 'done', 'failed')),
        attempts     INTEGER NOT NULL DEFAULT 0,
        result       TEXT,
        error        TEXT,
        updated_at   TEXT,
        PRIMARY KEY (plan, seq, ordinal),
        FOREIGN KEY (plan, seq) REFERENCES plan_items(plan, seq)
    ) STRICT;

    CREATE TABLE plan_findings (
        plan        INTEGER NOT NULL,
        seq         INTEGER NOT NULL,
        ordinal     INTEGER NOT NULL,
        code        TEXT NOT NULL,
        severity    TEXT NOT NULL,
        kind        TEXT NOT NULL,
        config_name TEXT NOT NULL,
        field       TEXT,
        message     TEXT NOT NULL,
        PRIMARY KEY (plan, seq, ordinal),
        FOREIGN KEY (plan, seq) REFERENCES plan_items(plan, seq)
    ) STRICT;

    -- Config name -> Public id per target workspace, with how the pair was established
    -- (`slug`, `resourceSchemaId`, `name`, ... by a plan; `created` by apply). `plan` is the plan
    -- that matched it, NULL for pairs apply recorded.
    CREATE TABLE id_map (
        target      TEXT NOT NULL,
        kind        TEXT NOT NULL,
        config_name TEXT NOT NULL,
        field       TEXT NOT NULL,
        public_id   TEXT NOT NULL,
        matched_by  TEXT NOT NULL,
        natural_key TEXT,
        plan        INTEGER REFERENCES plans(id),
        recorded_at TEXT NOT NULL,
        PRIMARY KEY (target, kind, config_name, field)
    ) STRICT;
    ",
    // 3: `apply` reads a plan's payloads one step at a time, so that it never holds them all.
    r"
    CREATE INDEX plan_payloads_by_step ON plan_payloads (plan, step);
    ",
    // 4: `migrate` plans in stages while the export still reads; a plan being made that way is
    // stored item by item and is not complete until its last stage is.
    r"
    ALTER TABLE plans ADD COLUMN complete INTEGER NOT NULL DEFAULT 1 CHECK (complete IN (0, 1));
    ",
    // 5: `migrate`'s stages read a step's payloads and items within a range of `seq`s: with
    // `seq` in the index, that is a range of it rather than every payload of the step in the
    // plan, or every payload of the range (each stage read them again, rows and all, for every
    // step). `ordinal` last, so that the index also gives the order payloads are read in, which
    // is what makes SQLite choose it without statistics.
    r"
    CREATE INDEX plan_payloads_by_step_and_seq ON plan_payloads (plan, step, seq, ordinal);
    DROP INDEX plan_payloads_by_step;
    ",
    // 6: a snapshot is read a kind at a time in export order (`WHERE kind = ? AND last_run = ?
    // ORDER BY rowid`). The primary key's index orders a kind by name, so SQLite sorted every
    // row of the kind, bodies included, before it gave the first: all the tracking plans with
    // their rules, for the planner, the export's count of rules and the audit. This index gives
    // a kind's rows of a run in rowid order, and counts per kind without reading a body.
    r"
    CREATE INDEX objects_by_kind_and_run ON objects (kind, last_run);
    ",
    // 7: `apply`'s progress moves out of `plan_payloads` into rows of its own. A change of state
    // changes a row's size, and SQLite then rewrites the whole row: on the payload's row, that
    // was a page of the table (and every overflow page of a tracking plan's rules) written to
    // the journal and again into the file for each intent and each result, 270 MB for the 18,700
    // writes of `large`. A progress row is a few dozen bytes, and the payloads next in line
    // share a page.
    r"
    CREATE TABLE payload_progress (
        plan       INTEGER NOT NULL,
        seq        INTEGER NOT NULL,
        ordinal    INTEGER NOT NULL,
        state      TEXT NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'intent', 'done', 'failed')),
        attempts   INTEGER NOT NULL DEFAULT 0,
        result     TEXT,
        error      TEXT,
        updated_at TEXT,
        PRIMARY KEY (plan, seq, ordinal),
        FOREIGN KEY (plan, seq, ordinal) REFERENCES plan_payloads (plan, seq, ordinal)
    ) STRICT, WITHOUT ROWID;
    INSERT INTO payload_progress (plan, seq, ordinal, state, attempts, result, error, updated_at)
        SELECT plan, seq, ordinal, state, attempts, result, error, updated_at FROM plan_payloads;
    ALTER TABLE plan_payloads DROP COLUMN state;
    ALTER TABLE plan_payloads DROP COLUMN attempts;
    ALTER TABLE plan_payloads DROP COLUMN result;
    ALTER TABLE plan_payloads DROP COLUMN error;
    ALTER TABLE plan_payloads DROP COLUMN updated_at;
    ",
];

/// The schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}
