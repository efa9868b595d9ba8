//! The ledger: the one owner of the SQLite connection that records segbridge's progress.
//!
//! A ledger is a single SQLite file (bundled SQLite, WAL journal, `synchronous=NORMAL`, foreign
//! keys on, created with mode 0600 because it describes a customer's workspace). It holds the
//! runs of resumable commands, the exported snapshot of every Config API object keyed by kind and
//! Config name with a content hash, the collections each run has read completely, and an
//! append-only event journal. SQL never leaves this module.
//!
//! Durability: WAL with `synchronous=NORMAL` may lose the last transactions on power loss (not
//! on a process crash). That is safe here because every write segbridge records is idempotent to
//! redo: a page re-read is upserted, a collection re-listed is marked complete again.
//!
//! Moving a ledger: the file alone is enough to resume, even after a kill. WAL keeps recent
//! commits in `<ledger>-wal` until they are checkpointed into the file, so a copy of the file
//! without its `-wal` would lose them; every write intent is therefore checkpointed before the
//! write is sent ([`Ledger::record_progress`], then a [`Checkpointer`] on another thread). A
//! copy of the file alone thus holds the intent of every write that may have reached the target
//! (what a resume needs to reconcile instead of writing twice); what it can lack is only later
//! progress (results, pages), which a resume redoes or reconciles. Copies are made while no
//! segbridge process uses the ledger: a file copied during a checkpoint can be torn, and so is
//! the file alone of a process killed during one (its `-wal` repairs it).
//!
//! Secrets: objects are stored only as [`Sanitized`] values, which can only be made by
//! [`crate::secrets::sanitize`]; the ledger has no way to accept a raw object.

mod checkpoint;
mod migrations;
mod pages;
mod plan_writer;
mod plans;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

use crate::mapping::SnapshotSource;
use crate::model::Kind;
use crate::secrets::Sanitized;

pub use checkpoint::Checkpointer;
pub use migrations::current_version;
pub use pages::PageBatch;
pub use plan_writer::{PlanWriter, PreparedItem};
pub use plans::{
    Applied, PayloadKey, RecordedId, StoredIdPair, StoredItem, StoredPayload, StoredPlan,
};

/// Errors of the ledger, each naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot open the ledger `{path}`")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("`{path}` is not a segbridge ledger (not an SQLite database)")]
    NotALedger { path: PathBuf },
    #[error(
        "`{path}` is an SQLite database, but not a segbridge ledger; segbridge leaves it untouched"
    )]
    Foreign { path: PathBuf },
    #[error("`{path}` is empty: no segbridge command has written to it yet")]
    Empty { path: PathBuf },
    #[error("`{path}` is a directory, not a ledger file")]
    Directory { path: PathBuf },
    #[error(
        "the ledger `{path}` was written by a newer segbridge (schema version {found}, this one knows up to {known})"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("ledger `{path}`: {context}")]
    Sql {
        path: PathBuf,
        context: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "another segbridge process is using the ledger `{path}`; wait for it to finish or stop it (a killed process releases the ledger at once)"
    )]
    Busy { path: PathBuf },
    #[error("cannot set the permissions of `{path}`")]
    Permissions {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, LedgerError>;

/// A run's identifier in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RunId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunStatus {
    Running,
    Complete,
    Failed,
}

impl RunStatus {
    fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Complete => "complete",
            RunStatus::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "complete" => RunStatus::Complete,
            "failed" => RunStatus::Failed,
            _ => RunStatus::Running,
        }
    }
}

/// A run as the ledger records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub id: RunId,
    pub command: String,
    pub source: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub status: RunStatus,
}

/// One object to store: its kind, Config name, the collection it was listed in, and its
/// sanitized body.
#[derive(Debug, Clone)]
pub struct NewObject {
    pub kind: Kind,
    pub name: String,
    pub parent: String,
    pub body: Sanitized,
}

/// An object as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredObject {
    pub kind: String,
    pub name: String,
    pub parent: String,
    pub body: String,
    pub hash: String,
}

impl StoredObject {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// The objects one export run has seen, as a [`SnapshotSource`]: each kind is read with one
/// query, row by row, so that a workspace is mapped without ever being in memory as a whole.
/// Bodies that are not JSON read as `null`, as [`StoredObject::json`] has them.
pub struct StoredSnapshot<'a> {
    ledger: &'a Ledger,
    run: RunId,
    /// Which objects it holds, when not all: asked before a body is parsed.
    keep: Option<&'a Keep<'a>>,
    /// When set, it holds only the objects named below these objects (Config names), read
    /// as ranges of the (kind, name) key rather than by scanning the kind.
    below: Option<&'a [String]>,
}

/// Whether a snapshot holds the object of a kind and name (see [`Ledger::snapshot_where`]).
pub type Keep<'a> = dyn Fn(Kind, &str) -> bool + 'a;

impl StoredSnapshot<'_> {
    fn keeps(&self, kind: Kind, name: &str) -> bool {
        self.keep.is_none_or(|keep| keep(kind, name))
    }

    /// Hands the (name, body text) rows of `kind` it holds to `f`.
    fn visit(
        &self,
        kind: Kind,
        rows: &mut rusqlite::Rows<'_>,
        f: &mut dyn FnMut(&str, &str),
    ) -> Result<()> {
        let fail = |source| self.ledger.sql("reading objects")(source);
        while let Some(row) = rows.next().map_err(fail)? {
            let name = text_column(row, 0).map_err(fail)?;
            if self.keeps(kind, name) {
                f(name, text_column(row, 1).map_err(fail)?);
            }
        }
        Ok(())
    }

    /// The objects of `kind` named below `object` (`<object>/...`), in the order they were
    /// stored.
    fn each_below(&self, kind: Kind, object: &str, f: &mut dyn FnMut(&str, &str)) -> Result<()> {
        let fail = |source| self.ledger.sql("reading objects")(source);
        let mut stmt = self
            .ledger
            .conn
            .prepare_cached(
                "SELECT name, body FROM objects WHERE kind = ?1 AND name >= ?3 AND name < ?4
                 AND last_run = ?2 ORDER BY rowid",
            )
            .map_err(fail)?;
        // Config names are paths: what hangs below `object` is named `<object>/...`, the
        // names from `<object>/` up to `<object>0` (`0` follows `/`).
        let mut rows = stmt
            .query(params![
                kind.as_str(),
                self.run.0,
                format!("{object}/"),
                format!("{object}0")
            ])
            .map_err(fail)?;
        self.visit(kind, &mut rows, f)
    }
}

/// The objects of a kind a run saw, in export order: read through `objects_by_kind_and_run`
/// in that order (schema 6), not sorted whole first.
pub(crate) const OBJECTS_OF_KIND: &str =
    "SELECT name, body FROM objects WHERE kind = ?1 AND last_run = ?2 ORDER BY rowid";

/// The names of [`OBJECTS_OF_KIND`].
pub(crate) const NAMES_OF_KIND: &str =
    "SELECT name FROM objects WHERE kind = ?1 AND last_run = ?2 ORDER BY rowid";

impl SnapshotSource for StoredSnapshot<'_> {
    type Error = LedgerError;

    fn each(&self, kind: Kind, f: &mut dyn FnMut(&str, &Value)) -> Result<()> {
        self.each_text(kind, &mut |name, json| {
            f(name, &serde_json::from_str(json).unwrap_or(Value::Null));
        })
    }

    fn each_text(&self, kind: Kind, f: &mut dyn FnMut(&str, &str)) -> Result<()> {
        if let Some(below) = self.below {
            for parent in below {
                self.each_below(kind, parent, f)?;
            }
            return Ok(());
        }
        let fail = |source| self.ledger.sql("reading objects")(source);
        let mut stmt = self
            .ledger
            .conn
            .prepare_cached(OBJECTS_OF_KIND)
            .map_err(fail)?;
        let mut rows = stmt
            .query(params![kind.as_str(), self.run.0])
            .map_err(fail)?;
        self.visit(kind, &mut rows, f)
    }

    fn names(&self, kind: Kind, f: &mut dyn FnMut(&str)) -> Result<()> {
        if self.below.is_some() {
            return self.each_text(kind, &mut |name, _| f(name));
        }
        let fail = |source| self.ledger.sql("reading object names")(source);
        let mut stmt = self
            .ledger
            .conn
            .prepare_cached(NAMES_OF_KIND)
            .map_err(fail)?;
        let mut rows = stmt
            .query(params![kind.as_str(), self.run.0])
            .map_err(fail)?;
        while let Some(row) = rows.next().map_err(fail)? {
            let name = text_column(row, 0).map_err(fail)?;
            if self.keeps(kind, name) {
                f(name);
            }
        }
        Ok(())
    }
}

/// A text column borrowed from its row, not copied.
fn text_column<'r>(row: &'r rusqlite::Row<'_>, index: usize) -> rusqlite::Result<&'r str> {
    row.get_ref(index)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// What changed in the snapshot during one run, per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub added: BTreeMap<String, u64>,
    pub changed: BTreeMap<String, u64>,
    pub removed: BTreeMap<String, u64>,
}

pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    /// Held open for the ledger's lifetime: its exclusive lock keeps other processes out.
    _lock: Option<Arc<std::fs::File>>,
}

/// The process lock of a ledger, held without the ledger being open: see [`Ledger::lock`].
#[must_use = "the lock is released when the guard is dropped"]
pub struct LedgerLock {
    _file: Arc<std::fs::File>,
}

/// The locks [`Ledger::lock`] handed out, by lock-file path, so that [`Ledger::open`] in the
/// same process shares a held one instead of conflicting with it (two `flock`s on two file
/// descriptions conflict even within one process). Weak: the guard alone keeps a lock alive.
static HELD: Mutex<Vec<(PathBuf, Weak<std::fs::File>)>> = Mutex::new(Vec::new());

fn now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

impl Ledger {
    /// Opens (creating if needed, mode 0600) and migrates the ledger at `path`.
    ///
    /// Only one segbridge process may use a ledger at a time: the first holds an exclusive lock
    /// on `<ledger>.lock` for as long as the ledger is open, and a second one is refused with
    /// [`LedgerError::Busy`] instead of interleaving its writes. The kernel releases the lock
    /// when a process dies, so a killed run never leaves a stale lock behind.
    ///
    /// A file that is not a ledger is refused before anything is written to it: not SQLite
    /// ([`LedgerError::NotALedger`]), another program's SQLite database
    /// ([`LedgerError::Foreign`]: migrating would add tables to it and switch its journal), a
    /// newer segbridge's ledger ([`LedgerError::TooNew`]) or a directory. An empty file is a new
    /// ledger.
    pub fn open(path: &Path) -> Result<Ledger> {
        if path.is_dir() {
            return Err(LedgerError::Directory {
                path: path.to_owned(),
            });
        }
        refuse_before_locking(path)?;
        let lock = lock_file(path)?;
        if !path.exists() {
            create_private_file(path)?;
        }
        let conn = Connection::open(path).map_err(|source| LedgerError::Open {
            path: path.to_owned(),
            source,
        })?;
        let mut ledger = Ledger {
            conn,
            path: path.to_owned(),
            _lock: Some(lock),
        };
        // Read-only checks first: `configure` already writes (the journal mode goes into the
        // file's header), so a file that is refused must be refused before it.
        let found = ledger.schema_version()?;
        if found == 0 && ledger.has_tables()? {
            return Err(LedgerError::Foreign {
                path: path.to_owned(),
            });
        }
        if found > current_version() {
            return Err(LedgerError::TooNew {
                path: path.to_owned(),
                found,
                known: current_version(),
            });
        }
        ledger.configure()?;
        ledger.migrate()?;
        Ok(ledger)
    }

    /// Takes the process lock of the ledger at `path` and keeps it until the guard is dropped,
    /// for a command made of several steps that each open the ledger (`migrate`): while the
    /// guard lives, [`Ledger::open`] in this process shares the lock, and another process is
    /// refused with [`LedgerError::Busy`] between the steps as during them. Without it, a second
    /// process could take the ledger in the instant between two steps and make the first fail.
    pub fn lock(path: &Path) -> Result<LedgerLock> {
        let file = lock_file(path)?;
        let mut held = HELD
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.retain(|(_, weak)| weak.strong_count() > 0);
        held.push((lock_path(path), Arc::downgrade(&file)));
        Ok(LedgerLock { _file: file })
    }

    /// Whether the database holds any table, index or view.
    fn has_tables(&self) -> Result<bool> {
        self.conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|n| n > 0)
            .map_err(self.sql("reading the schema"))
    }

    /// Opens an existing ledger read-only, without the process lock, to look at it while
    /// another process works on it (progress, tests). Nothing can be written through it.
    pub fn inspect(path: &Path) -> Result<Ledger> {
        if path.is_dir() {
            return Err(LedgerError::Directory {
                path: path.to_owned(),
            });
        }
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(path, flags).map_err(|source| LedgerError::Open {
                path: path.to_owned(),
                source,
            })?;
        let ledger = Ledger {
            conn,
            path: path.to_owned(),
            _lock: None,
        };
        ledger
            .conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(ledger.sql("setting the busy timeout"))?;
        let found = ledger.schema_version()?;
        // Every ledger segbridge writes is migrated to version 1 at least on creation.
        if found == 0 {
            let path = path.to_owned();
            return Err(if ledger.has_tables()? {
                LedgerError::Foreign { path }
            } else {
                LedgerError::Empty { path }
            });
        }
        if found > current_version() {
            return Err(LedgerError::TooNew {
                path: path.to_owned(),
                found,
                known: current_version(),
            });
        }
        Ok(ledger)
    }

    /// A ledger in memory, for tests and dry runs.
    pub fn open_in_memory() -> Result<Ledger> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory().map_err(|source| LedgerError::Open {
            path: path.clone(),
            source,
        })?;
        let mut ledger = Ledger {
            conn,
            path,
            _lock: None,
        };
        ledger.configure()?;
        ledger.migrate()?;
        Ok(ledger)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self, context: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> LedgerError {
        let path = self.path.clone();
        let context = context.into();
        move |source| match source {
            rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::NotADatabase => {
                LedgerError::NotALedger { path }
            }
            source => LedgerError::Sql {
                path,
                context,
                source,
            },
        }
    }

    fn configure(&mut self) -> Result<()> {
        // A file that is not SQLite fails on the first read, which this is.
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(self.sql("setting the journal mode"))?;
        self.conn
            .pragma_update(None, "synchronous", "NORMAL")
            .map_err(self.sql("setting synchronous"))?;
        self.conn
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(self.sql("enabling foreign keys"))?;
        // Another segbridge process holding the write lock is waited for a little, not forever.
        self.conn
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(self.sql("setting the busy timeout"))?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<()> {
        self.migrate_with(migrations::MIGRATIONS)
    }

    /// Brings the ledger up to `migrations.len()`; separate from [`Self::migrate`] so that tests
    /// can stop a migration half-way.
    fn migrate_with(&mut self, migrations: &[&str]) -> Result<()> {
        let known = migrations.len() as i64;
        let found: i64 = self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(self.sql("reading the schema version"))?;
        if found > known {
            return Err(LedgerError::TooNew {
                path: self.path.clone(),
                found,
                known,
            });
        }
        for (index, sql) in migrations.iter().enumerate().skip(found as usize) {
            let version = index as i64 + 1;
            // Each migration and its version bump commit together, so a crash mid-migration
            // leaves the previous version intact.
            let path = self.path.clone();
            let context = format!("migrating to schema version {version}");
            let tx = self
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
                .map_err(|source| sql_error(&path, &context, source))?;
            tx.execute_batch(sql)
                .and_then(|()| tx.pragma_update(None, "user_version", version))
                .and_then(|()| tx.commit())
                .map_err(|source| sql_error(&path, &context, source))?;
        }
        Ok(())
    }

    /// The schema version of the open ledger.
    pub fn schema_version(&self) -> Result<i64> {
        self.conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .map_err(self.sql("reading the schema version"))
    }

    // ---- runs -------------------------------------------------------------------------------

    pub fn begin_run(&mut self, command: &str, source: &str) -> Result<RunId> {
        self.conn
            .execute(
                "INSERT INTO runs (command, source, started_at, status) VALUES (?1, ?2, ?3, 'running')",
                params![command, source, now()],
            )
            .map_err(self.sql("starting a run"))?;
        Ok(RunId(self.conn.last_insert_rowid()))
    }

    /// The run to continue for `command` on `source`: the latest one, when it was interrupted
    /// (`running`) or ended with failures (`failed`); a complete latest run means a fresh start.
    pub fn unfinished_run(&self, command: &str, source: &str) -> Result<Option<RunId>> {
        self.conn
            .query_row(
                "SELECT id FROM runs WHERE command = ?1 AND source = ?2
                 AND id = (SELECT max(id) FROM runs WHERE command = ?1 AND source = ?2)
                 AND status != 'complete'",
                params![command, source],
                |row| row.get(0).map(RunId),
            )
            .optional()
            .map_err(self.sql("looking for an unfinished run"))
    }

    /// The latest finished (complete or failed) run of `command` on `source` before `before`.
    pub fn previous_run(
        &self,
        command: &str,
        source: &str,
        before: RunId,
    ) -> Result<Option<RunId>> {
        self.conn
            .query_row(
                "SELECT id FROM runs WHERE command = ?1 AND source = ?2 AND status != 'running'
                 AND id < ?3 ORDER BY id DESC LIMIT 1",
                params![command, source, before.0],
                |row| row.get(0).map(RunId),
            )
            .optional()
            .map_err(self.sql("looking for the previous run"))
    }

    /// Marks a continued run as running again.
    pub fn reopen_run(&mut self, run: RunId) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET status = 'running', finished_at = NULL WHERE id = ?1",
                params![run.0],
            )
            .map_err(self.sql("reopening a run"))?;
        Ok(())
    }

    pub fn finish_run(&mut self, run: RunId, status: RunStatus) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET status = ?2, finished_at = ?3 WHERE id = ?1",
                params![run.0, status.as_str(), now()],
            )
            .map_err(self.sql("finishing a run"))?;
        Ok(())
    }

    pub fn runs(&self) -> Result<Vec<Run>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, command, source, started_at, finished_at, status FROM runs ORDER BY id",
            )
            .map_err(self.sql("listing runs"))?;
        let rows = stmt
            .query_map([], |row| {
                Ok(Run {
                    id: RunId(row.get(0)?),
                    command: row.get(1)?,
                    source: row.get(2)?,
                    started_at: row.get(3)?,
                    finished_at: row.get(4)?,
                    status: RunStatus::parse(&row.get::<_, String>(5)?),
                })
            })
            .map_err(self.sql("listing runs"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("listing runs"))
    }

    // ---- snapshot ---------------------------------------------------------------------------

    /// Whether `run` has read the collection `key` completely.
    pub fn is_complete(&self, run: RunId, key: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT 1 FROM collections WHERE run = ?1 AND key = ?2",
                params![run.0, key],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(self.sql("reading collection state"))
    }

    /// The keys of the collections `run` has read completely: what a resumed export need not
    /// read again, asked once rather than a query per collection (about 5,000 on `large`).
    pub fn completed_keys(&self, run: RunId) -> Result<HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key FROM collections WHERE run = ?1")
            .map_err(self.sql("reading collection state"))?;
        let keys = stmt
            .query_map(params![run.0], |row| row.get::<_, String>(0))
            .map_err(self.sql("reading collection state"))?;
        keys.collect::<rusqlite::Result<_>>()
            .map_err(self.sql("reading collection state"))
    }

    /// How many collections `run` has completed.
    pub fn completed_collections(&self, run: RunId) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT count(*) FROM collections WHERE run = ?1",
                params![run.0],
                |row| row.get::<_, i64>(0),
            )
            .map(|n| n as u64)
            .map_err(self.sql("counting collections"))
    }

    /// The objects listed in collection `parent` that `run` has seen, in name order.
    pub fn objects_in(&self, run: RunId, parent: &str) -> Result<Vec<StoredObject>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT kind, name, parent, body, hash FROM objects
                 WHERE parent = ?1 AND last_run = ?2 ORDER BY rowid",
            )
            .map_err(self.sql("reading a collection"))?;
        let rows = stmt
            .query_map(params![parent, run.0], stored_object)
            .map_err(self.sql("reading a collection"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading a collection"))
    }

    /// The names of the objects listed in collection `parent` that `run` has seen, in the order
    /// of [`Ledger::objects_in`], without their bodies.
    pub fn names_in(&self, run: RunId, parent: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT name FROM objects WHERE parent = ?1 AND last_run = ?2 ORDER BY rowid",
            )
            .map_err(self.sql("reading a collection"))?;
        let rows = stmt
            .query_map(params![parent, run.0], |row| row.get(0))
            .map_err(self.sql("reading a collection"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading a collection"))
    }

    /// Every stored object of `kind`, in insertion order.
    pub fn objects_of_kind(&self, kind: Kind) -> Result<Vec<StoredObject>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT kind, name, parent, body, hash FROM objects WHERE kind = ?1 ORDER BY rowid",
            )
            .map_err(self.sql("reading objects"))?;
        let rows = stmt
            .query_map(params![kind.as_str()], stored_object)
            .map_err(self.sql("reading objects"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading objects"))
    }

    pub fn object(&self, kind: Kind, name: &str) -> Result<Option<StoredObject>> {
        self.conn
            .query_row(
                "SELECT kind, name, parent, body, hash FROM objects WHERE kind = ?1 AND name = ?2",
                params![kind.as_str(), name],
                stored_object,
            )
            .optional()
            .map_err(self.sql("reading an object"))
    }

    /// Objects per kind that `run` has seen.
    pub fn counts_seen_in(&self, run: RunId) -> Result<BTreeMap<String, u64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, count(*) FROM objects WHERE last_run = ?1 GROUP BY kind")
            .map_err(self.sql("counting objects"))?;
        let rows = stmt
            .query_map(params![run.0], |row| {
                Ok((row.get(0)?, row.get::<_, i64>(1)? as u64))
            })
            .map_err(self.sql("counting objects"))?;
        rows.collect::<rusqlite::Result<BTreeMap<_, _>>>()
            .map_err(self.sql("counting objects"))
    }

    /// Objects of `kind` that `run` has seen, in insertion order.
    pub fn objects_seen_in(&self, run: RunId, kind: Kind) -> Result<Vec<StoredObject>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT kind, name, parent, body, hash FROM objects
                 WHERE kind = ?1 AND last_run = ?2 ORDER BY rowid",
            )
            .map_err(self.sql("reading objects"))?;
        let rows = stmt
            .query_map(params![kind.as_str(), run.0], stored_object)
            .map_err(self.sql("reading objects"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading objects"))
    }

    /// The snapshot `run` has seen, read one object at a time (see [`StoredSnapshot`]).
    pub fn snapshot(&self, run: RunId) -> StoredSnapshot<'_> {
        StoredSnapshot {
            ledger: self,
            run,
            keep: None,
            below: None,
        }
    }

    /// The objects `run` has seen that `keep` keeps, as a [`SnapshotSource`].
    pub fn snapshot_where<'a>(&'a self, run: RunId, keep: &'a Keep<'a>) -> StoredSnapshot<'a> {
        StoredSnapshot {
            ledger: self,
            run,
            keep: Some(keep),
            below: None,
        }
    }

    /// The objects `run` has seen named below the objects `below` (Config names: a source's
    /// schema config, destinations and their filters) that `keep` keeps, as a
    /// [`SnapshotSource`]: read as ranges of the key, so that a few sources cost as much to
    /// read as they hold.
    pub fn snapshot_below<'a>(
        &'a self,
        run: RunId,
        below: &'a [String],
        keep: &'a Keep<'a>,
    ) -> StoredSnapshot<'a> {
        StoredSnapshot {
            ledger: self,
            run,
            keep: Some(keep),
            below: Some(below),
        }
    }

    /// Stored objects per kind.
    pub fn counts(&self) -> Result<BTreeMap<String, u64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, count(*) FROM objects GROUP BY kind")
            .map_err(self.sql("counting objects"))?;
        let rows = stmt
            .query_map([], |row| Ok((row.get(0)?, row.get::<_, i64>(1)? as u64)))
            .map_err(self.sql("counting objects"))?;
        rows.collect::<rusqlite::Result<BTreeMap<_, _>>>()
            .map_err(self.sql("counting objects"))
    }

    /// What `run` added and changed; and, for the kinds in `prune` (those the run read
    /// completely), removes and counts the objects it did not see, so that a finished run's
    /// snapshot is exactly what the API held. Kinds a run did not read, or could not read to the
    /// end, keep their objects.
    pub fn settle_run(&mut self, run: RunId, prune: &[Kind]) -> Result<Changes> {
        let mut changes = Changes::default();
        let mut unseen: BTreeMap<String, u64> = BTreeMap::new();
        {
            // One pass over the objects for the three counts: the run columns follow the body
            // in each row, so every pass reads every body.
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT kind, SUM(first_run = ?1), SUM(changed_run = ?1 AND first_run != ?1),
                            SUM(last_run < ?1)
                     FROM objects GROUP BY kind",
                )
                .map_err(self.sql("summarising a run"))?;
            let mut rows = stmt
                .query(params![run.0])
                .map_err(self.sql("summarising a run"))?;
            while let Some(row) = rows.next().map_err(self.sql("summarising a run"))? {
                let kind: String = row.get(0).map_err(self.sql("summarising a run"))?;
                let counts = [&mut changes.added, &mut changes.changed, &mut unseen];
                for (column, counted) in (1..).zip(counts) {
                    let n: i64 = row.get(column).map_err(self.sql("summarising a run"))?;
                    if n > 0 {
                        counted.insert(kind.clone(), n as u64);
                    }
                }
            }
        }
        for kind in prune {
            let Some(&n) = unseen.get(kind.as_str()) else {
                continue;
            };
            changes.removed.insert(kind.as_str().to_owned(), n);
            self.conn
                .execute(
                    "DELETE FROM objects WHERE last_run < ?1 AND kind = ?2",
                    params![run.0, kind.as_str()],
                )
                .map_err(self.sql("removing objects the API no longer has"))?;
        }
        Ok(changes)
    }

    // ---- journal ----------------------------------------------------------------------------

    /// Appends an event to the journal.
    pub fn record_event(&mut self, run: Option<RunId>, kind: &str, data: &Value) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO events (run, at, kind, data) VALUES (?1, ?2, ?3, ?4)",
                params![run.map(|r| r.0), now(), kind, data.to_string()],
            )
            .map_err(self.sql("recording an event"))?;
        Ok(())
    }

    /// The journal of a run: (kind, data) in order.
    pub fn events(&self, run: RunId) -> Result<Vec<(String, Value)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT kind, data FROM events WHERE run = ?1 ORDER BY id")
            .map_err(self.sql("reading events"))?;
        let rows = stmt
            .query_map(params![run.0], |row| {
                let data: String = row.get(1)?;
                Ok((
                    row.get(0)?,
                    serde_json::from_str(&data).unwrap_or(Value::Null),
                ))
            })
            .map_err(self.sql("reading events"))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.sql("reading events"))
    }

    /// Keeps at most `kib` KiB of database pages in this connection's cache (SQLite's default
    /// is 2 MB). For a connection that reads while others write: in WAL mode a connection drops
    /// its cache whenever another one has committed, so a large cache is mostly refilled, not
    /// reused, and only adds to the peak.
    pub fn limit_page_cache(&self, kib: u32) -> Result<()> {
        self.conn
            .pragma_update(None, "cache_size", -i64::from(kib))
            .map_err(self.sql("limiting the page cache"))
    }

    /// Lets go of the pages this connection keeps cached (up to SQLite's 2 MB), for a reader
    /// done with the bulk of what it reads that keeps the ledger open meanwhile (the audit
    /// while it compares). The cache fills again as needed.
    pub fn release_memory(&self) -> Result<()> {
        self.conn
            .execute_batch("PRAGMA shrink_memory")
            .map_err(self.sql("releasing the page cache"))
    }

    /// Runs `PRAGMA integrity_check`; `Ok(())` when SQLite answers `ok`.
    pub fn integrity_check(&self) -> Result<std::result::Result<(), String>> {
        let answer: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .map_err(self.sql("checking integrity"))?;
        Ok(if answer == "ok" { Ok(()) } else { Err(answer) })
    }
}

fn sql_error(path: &Path, context: impl Into<String>, source: rusqlite::Error) -> LedgerError {
    LedgerError::Sql {
        path: path.to_owned(),
        context: context.into(),
        source,
    }
}

fn stored_object(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredObject> {
    Ok(StoredObject {
        kind: row.get(0)?,
        name: row.get(1)?,
        parent: row.get(2)?,
        body: row.get(3)?,
        hash: row.get(4)?,
    })
}

/// Refuses a file that is certainly not a ledger this release can open (not SQLite, another
/// program's database, a newer segbridge's ledger) before the process lock is taken, so that
/// not even `<ledger>.lock` is left beside it. Anything else (a missing or empty file, or one
/// that cannot be opened read-only) is left to [`Ledger::open`], which checks again under the
/// lock.
fn refuse_before_locking(path: &Path) -> Result<()> {
    if !path.metadata().is_ok_and(|m| m.len() > 0) {
        return Ok(());
    }
    match Ledger::inspect(path) {
        Err(
            refused @ (LedgerError::NotALedger { .. }
            | LedgerError::Foreign { .. }
            | LedgerError::TooNew { .. }),
        ) => Err(refused),
        _ => Ok(()),
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the exclusive process lock of the ledger at `path` (on `<path>.lock`), or shares the
/// one a live [`LedgerLock`] of this process holds.
fn lock_file(path: &Path) -> Result<Arc<std::fs::File>> {
    let lock_path = lock_path(path);
    {
        let held = HELD
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(file) = held
            .iter()
            .filter(|(held, _)| *held == lock_path)
            .find_map(|(_, weak)| weak.upgrade())
        {
            return Ok(file);
        }
    }
    create_private_file(&lock_path)?;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&lock_path)
        .map_err(|source| LedgerError::Permissions {
            path: lock_path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(Arc::new(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(LedgerError::Busy {
            path: path.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(LedgerError::Permissions {
            path: lock_path,
            source,
        }),
    }
}

/// Creates an empty file only its owner can read and write, before SQLite opens it, so that the
/// workspace description is never readable by others, not even for an instant.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(LedgerError::Permissions {
            path: path.to_owned(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests;
