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
];

/// The schema version this build writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}
