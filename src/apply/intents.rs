//! Write intents recorded together: a group commit for the lanes of one run.
//!
//! Every write waits until its intent is in the ledger file: a transaction, then a checkpoint
//! that copies it from the WAL into the file and waits for the disk twice. That takes a few
//! milliseconds, longer than a write to the Public API takes at the harness's time scale, so
//! recording intents one by one made the disk, not the rate limit, set the pace of `apply`.
//! Two things keep it off the path:
//! - Lanes that want to send at the same moment share one recording: each queues its intent,
//!   lets the other lanes run, and waits for its turn; the first to get the turn records every
//!   intent queued so far, and the others find theirs recorded when their turn comes.
//! - The checkpoint runs on a blocking thread with a connection of its own
//!   ([`Checkpointer`]), so the lanes whose intents are recorded go on sending and recording
//!   results meanwhile, and the lanes arriving meanwhile make the next recording larger.
//!
//! What does not change: a write is sent only after its own intent is committed and
//! checkpointed, and an intent is recorded only for a write that is about to be sent (its lane
//! is waiting on it), so a crash leaves no more intents to reconcile than there were lanes.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::ledger::{Checkpointer, Ledger, LedgerError, PayloadKey};

/// The intents queued by lanes and those recorded for them by another lane's turn.
#[derive(Default)]
pub(super) struct Intents {
    queued: Mutex<Vec<PayloadKey>>,
    recorded: Mutex<HashSet<PayloadKey>>,
    /// Fair (first come, first served), so a lane is not overtaken while it waits.
    turn: tokio::sync::Mutex<()>,
    /// `None` for a ledger without a file (nothing to checkpoint into).
    checkpointer: Option<Arc<Mutex<Checkpointer>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Only plain pushes and drains happen under these locks: nothing is half-done after a panic.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Intents {
    pub(super) fn new(checkpointer: Option<Checkpointer>) -> Self {
        Self {
            checkpointer: checkpointer.map(|c| Arc::new(Mutex::new(c))),
            ..Self::default()
        }
    }

    /// Returns once the intent of `key` is recorded, by this call or by another lane's.
    /// `ledger` gives the ledger for the time of one recording.
    pub(super) async fn record<'g, 'l: 'g>(
        &self,
        key: PayloadKey,
        ledger: impl FnOnce() -> MutexGuard<'g, &'l mut Ledger>,
    ) -> Result<(), LedgerError> {
        lock(&self.queued).push(key);
        // The lanes of a run are polled by one task, and a recording blocks it: the lanes whose
        // answers came in meanwhile are all ready when it ends. Letting them run up to here
        // before taking the turn is what puts their intents in the next recording.
        tokio::task::yield_now().await;
        let _turn = self.turn.lock().await;
        if lock(&self.recorded).remove(&key) {
            return Ok(());
        }
        let batch = std::mem::take(&mut *lock(&self.queued));
        let others = batch.iter().copied().filter(|k| *k != key);
        if let Err(e) = ledger().record_intents(&batch) {
            // The others try again in their own turn (and most likely stop the run too).
            lock(&self.queued).extend(others);
            return Err(e);
        }
        // The other lanes of the batch wait for this turn to end, so they learn the outcome
        // of the checkpoint before they send.
        let checkpointed = self.checkpoint().await;
        match &checkpointed {
            Ok(()) => lock(&self.recorded).extend(others),
            Err(_) => lock(&self.queued).extend(others),
        }
        checkpointed
    }

    /// Copies the committed intents into the ledger file, on a blocking thread.
    async fn checkpoint(&self) -> Result<(), LedgerError> {
        let Some(checkpointer) = self.checkpointer.clone() else {
            return Ok(());
        };
        let run = move || lock(&checkpointer).checkpoint();
        match tokio::task::spawn_blocking(run.clone()).await {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime is shutting down: checkpoint here rather than not at all.
            Err(_) => run(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use futures::future::join_all;

    use super::*;

    #[tokio::test]
    async fn lanes_waiting_together_share_one_recording() {
        let mut ledger = Ledger::open_in_memory().unwrap();
        let ledger = Mutex::new(&mut ledger);
        let intents = Intents::default();
        let recordings = Cell::new(0);
        // Holding the turn makes the lanes queue behind it, as lanes do while a recording
        // waits for the disk.
        let held = intents.turn.lock().await;
        let lanes = join_all((1..=3).map(|seq| {
            let key = PayloadKey {
                plan: 1,
                seq,
                ordinal: 0,
            };
            intents.record(key, || {
                recordings.set(recordings.get() + 1);
                lock(&ledger)
            })
        }));
        let release = async {
            while lock(&intents.queued).len() < 3 {
                tokio::task::yield_now().await;
            }
            drop(held);
        };
        let (results, ()) = futures::join!(lanes, release);
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(recordings.get(), 1, "one recording for the three intents");
        assert!(lock(&intents.queued).is_empty());
        assert!(lock(&intents.recorded).is_empty());
    }
}
