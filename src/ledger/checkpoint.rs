//! Checkpoints from a connection of their own, so that they can run on another thread.
//!
//! An intent must be in the ledger file itself before its write is sent (see
//! [`Ledger::record_progress`]), and copying WAL frames into the file waits for the disk twice.
//! Done on the ledger's own connection, that wait stops everything `apply` does in the
//! meantime, answers and results of the other lanes included. A [`Checkpointer`] holds a second
//! connection to the same file, which a blocking thread can use while the ledger's connection
//! goes on recording.
//!
//! It checkpoints `PASSIVE`: never making the ledger's connection wait to write (a `FULL`
//! checkpoint would, and that wait would stop the run again). A passive checkpoint copies every
//! frame the WAL held when it began unless a reader still needs an older state of the file;
//! then it is repeated until it has copied everything, for up to [`PATIENCE`], after which the
//! frames wait for the next checkpoint (the intents are committed either way).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{Ledger, LedgerError, Result};

/// How long a checkpoint waits for readers holding older states (a `status` in another
/// process): the ledger's busy timeout.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A second connection to a ledger file, for checkpoints only.
pub struct Checkpointer {
    conn: Connection,
    path: PathBuf,
}

impl Ledger {
    /// A [`Checkpointer`] of this ledger's file; `None` for an in-memory ledger, which has no
    /// file to copy frames into.
    pub fn checkpointer(&self) -> Result<Option<Checkpointer>> {
        if self.path.as_os_str() == ":memory:" {
            return Ok(None);
        }
        let conn = Connection::open(&self.path).map_err(|source| LedgerError::Open {
            path: self.path.clone(),
            source,
        })?;
        Ok(Some(Checkpointer {
            conn,
            path: self.path.clone(),
        }))
    }
}

impl Checkpointer {
    /// Copies every frame committed to the WAL before this call into the ledger file.
    pub fn checkpoint(&mut self) -> Result<()> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            // (busy, frames in the WAL, frames copied); -1s when the file is not in WAL mode.
            let (_, frames, copied): (i64, i64, i64) = self
                .conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .map_err(|source| LedgerError::Sql {
                    path: self.path.clone(),
                    context: "checkpointing the journal".into(),
                    source,
                })?;
            if copied >= frames || Instant::now() >= deadline {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
