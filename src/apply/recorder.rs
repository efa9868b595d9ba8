//! Apply's progress, recorded in as few transactions as the invariants allow: a group commit
//! for the lanes of one run.
//!
//! Every write waits until its intent is in the ledger file: a transaction, then a checkpoint
//! that copies it from the WAL into the file and waits for the disk twice. That takes a few
//! milliseconds, longer than a write to the Public API takes at the harness's time scale, so
//! recording intents one by one made the disk, not the rate limit, set the pace of `apply`;
//! and a transaction per result doubled the journal writes. So:
//! - Lanes that want to send at the same moment share one recording: each queues its intent,
//!   lets the other lanes run, and waits for its turn; the first to get the turn records every
//!   intent queued so far, and the others find theirs recorded when their turn comes.
//! - The checkpoint runs on a blocking thread with a connection of its own
//!   ([`Checkpointer`]), so the lanes whose intents are recorded go on sending meanwhile, and
//!   the lanes arriving meanwhile make the next recording larger.
//! - A result (`done`, with its ids) waits in memory for the next recording, which commits it
//!   with the intents, or for the end of the step ([`Recorder::flush`]).
//!
//! What does not change: a write is sent only after its own intent is committed and
//! checkpointed; an intent is recorded only for a write that is about to be sent (its lane
//! is waiting on it); and a result is committed no later than the intents recorded after it.
//! A crash can therefore only lose results of writes that came back since the last recording
//! (at most one per lane): those payloads stay `intent`, and the next run reconciles them by
//! natural key or sends them again (the writes that are not creates set given values), as it
//! does for any write whose answer was lost.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::ledger::{Applied, Checkpointer, Ledger, LedgerError, PayloadKey};

/// What the lanes queued and what a recording did for them.
#[derive(Default)]
pub(super) struct Recorder {
    /// Intents of lanes waiting for their turn.
    queued: Mutex<Vec<PayloadKey>>,
    /// Results not yet committed.
    applied: Mutex<Vec<Applied>>,
    /// Intents another lane's turn recorded, for their lanes to find.
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

impl Recorder {
    pub(super) fn new(checkpointer: Option<Checkpointer>) -> Self {
        Self {
            checkpointer: checkpointer.map(|c| Arc::new(Mutex::new(c))),
            ..Self::default()
        }
    }

    /// Queues the result of a write that came back, for the next recording.
    pub(super) fn applied(&self, applied: Applied) {
        lock(&self.applied).push(applied);
    }

    /// Returns once the intent of `key` is recorded and checkpointed, by this call or by
    /// another lane's. `ledger` gives the ledger for the time of one recording.
    pub(super) async fn intent<'g, 'l: 'g>(
        &self,
        key: PayloadKey,
        ledger: impl FnOnce() -> MutexGuard<'g, &'l mut Ledger>,
    ) -> Result<(), LedgerError> {
        lock(&self.queued).push(key);
        // The lanes of a run are polled by one task: the lanes whose answers came in while it
        // was busy are all ready now. Letting them run up to here before taking the turn is
        // what puts their intents in the next recording.
        tokio::task::yield_now().await;
        let _turn = self.turn.lock().await;
        if lock(&self.recorded).remove(&key) {
            return Ok(());
        }
        let batch = std::mem::take(&mut *lock(&self.queued));
        let others = batch.iter().copied().filter(|k| *k != key);
        let applied = std::mem::take(&mut *lock(&self.applied));
        if let Err(e) = ledger().record_progress(&applied, &batch) {
            // The others try again in their own turn (and most likely stop the run too).
            lock(&self.queued).extend(others);
            lock(&self.applied).extend(applied);
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

    /// Commits the results still waiting: at the end of a step, and of a run.
    pub(super) async fn flush<'g, 'l: 'g>(
        &self,
        ledger: impl FnOnce() -> MutexGuard<'g, &'l mut Ledger>,
    ) -> Result<(), LedgerError> {
        let _turn = self.turn.lock().await;
        let applied = std::mem::take(&mut *lock(&self.applied));
        if applied.is_empty() {
            return Ok(());
        }
        ledger().record_progress(&applied, &[]).inspect_err(|_| {
            lock(&self.applied).extend(applied.iter().cloned());
        })
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
        let recorder = Recorder::default();
        let recordings = Cell::new(0);
        // Holding the turn makes the lanes queue behind it, as lanes do while a recording
        // waits for the disk.
        let held = recorder.turn.lock().await;
        let lanes = join_all((1..=3).map(|seq| {
            let key = PayloadKey {
                plan: 1,
                seq,
                ordinal: 0,
            };
            recorder.intent(key, || {
                recordings.set(recordings.get() + 1);
                lock(&ledger)
            })
        }));
        let release = async {
            while lock(&recorder.queued).len() < 3 {
                tokio::task::yield_now().await;
            }
            drop(held);
        };
        let (results, ()) = futures::join!(lanes, release);
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(recordings.get(), 1, "one recording for the three intents");
        assert!(lock(&recorder.queued).is_empty());
        assert!(lock(&recorder.recorded).is_empty());
    }

    #[tokio::test]
    async fn results_go_with_the_next_intents_or_with_a_flush() {
        let mut ledger = Ledger::open_in_memory().unwrap();
        let ledger = Mutex::new(&mut ledger);
        let recorder = Recorder::default();
        let key = |seq| PayloadKey {
            plan: 1,
            seq,
            ordinal: 0,
        };
        let applied = |seq| Applied {
            key: key(seq),
            target: "t".into(),
            ids: Vec::new(),
            matched_by: "created".into(),
        };
        recorder.applied(applied(1));
        recorder.intent(key(2), || lock(&ledger)).await.unwrap();
        assert!(lock(&recorder.applied).is_empty());
        recorder.applied(applied(2));
        assert_eq!(lock(&recorder.applied).len(), 1);
        recorder.flush(|| lock(&ledger)).await.unwrap();
        assert!(lock(&recorder.applied).is_empty());
    }
}
