//! Apply's progress, recorded in as few transactions as the invariants allow: a group commit
//! for the lanes of one run, and the intents of the writes next in line recorded with it.
//!
//! Every write waits until its intent is in the ledger file: a transaction, then a checkpoint
//! that copies it from the WAL into the file. That waits for the disk three times (the WAL's
//! header after the checkpoint before, the WAL, the file) and takes a few milliseconds, longer
//! than a write to the Public API takes at the harness's time scale, so recording intents one
//! by one made the disk, not the rate limit, set the pace of `apply`; and a transaction per
//! result doubled the journal writes. So:
//! - Lanes that want to send at the same moment share one recording: each queues its intent,
//!   lets the other lanes run, and waits for its turn; the first to get the turn records every
//!   intent queued so far, and the others find theirs recorded when their turn comes.
//! - A recording also takes up to [`AHEAD`] intents of the payloads next in line
//!   ([`Recorder::expect`]: a phase's pending payloads in the order its lanes start them), so
//!   that the lanes reaching them find them recorded and send at once. Lanes sharing moments
//!   made recordings of two or three intents; this makes them of dozens, and the fsyncs, the
//!   largest part of `apply`'s CPU, fewer by as much.
//! - The checkpoint runs on a blocking thread with a connection of its own
//!   ([`Checkpointer`]), so the lanes whose intents are recorded go on sending meanwhile, and
//!   the lanes arriving meanwhile make the next recording larger.
//! - A result (`done`, with its ids) waits in memory for the next recording, which commits it
//!   with the intents, or for the end of the phase ([`Recorder::flush`]).
//! - An intent recorded ahead for a payload no lane sent (its item, or one it needs, broke
//!   meanwhile) is taken back at the end of the phase: the payload is `pending` again.
//!
//! What does not change: a write is sent only after its own intent is committed and
//! checkpointed, and a result is committed no later than the intents recorded after it. A
//! crash can therefore lose only results of writes that came back since the last recording:
//! those payloads stay `intent`, and the next run reconciles them by natural key or sends them
//! again (the writes that are not creates set given values), as it does for any write whose
//! answer was lost. It also leaves `intent` the payloads recorded ahead and not yet sent (at
//! most [`AHEAD`]): the next run looks each up, finds nothing and sends it.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::ledger::{Applied, Checkpointer, Ledger, LedgerError, PayloadKey};

/// How many intents of payloads next in line a recording takes besides the ones lanes wait
/// on. Each recording waits for the disk three times whatever it holds, so the more it takes
/// the fewer there are; but each one recorded ahead is a payload a crash leaves `intent`
/// without it having been sent, which the next run looks up before sending. 32 is four rounds
/// of [`super::DEFAULT_CONCURRENCY`] lanes: recordings about ten times fewer than lanes alone
/// made, and at most 32 lookups more after a crash.
pub(super) const AHEAD: usize = 32;

/// What the lanes queued and what a recording did for them.
#[derive(Default)]
pub(super) struct Recorder {
    /// Intents of lanes waiting for their turn.
    queued: Mutex<Vec<PayloadKey>>,
    /// Payloads next in line, in the order their lanes will reach them, for recordings to take
    /// ahead ([`Recorder::expect`]); and those of them a lane recorded out of that order.
    ahead: Mutex<Ahead>,
    /// Results not yet committed.
    applied: Mutex<Vec<Applied>>,
    /// Intents another lane's turn recorded (or a turn recorded ahead), for their lanes to
    /// find.
    recorded: Mutex<HashSet<PayloadKey>>,
    /// Fair (first come, first served), so a lane is not overtaken while it waits.
    turn: tokio::sync::Mutex<()>,
    /// `None` for a ledger without a file (nothing to checkpoint into).
    checkpointer: Option<Arc<Mutex<Checkpointer>>>,
}

/// The payloads next in line.
#[derive(Default)]
struct Ahead {
    /// In the order their lanes reach them; a key no longer in `waiting` is passed over.
    order: VecDeque<PayloadKey>,
    /// Not recorded yet.
    waiting: HashSet<PayloadKey>,
}

impl Ahead {
    fn push(&mut self, keys: impl IntoIterator<Item = PayloadKey>) {
        for key in keys {
            if self.waiting.insert(key) {
                self.order.push_back(key);
            }
        }
    }

    /// Up to `n` payloads from the front, none recorded yet.
    fn take(&mut self, n: usize) -> Vec<PayloadKey> {
        let mut out = Vec::with_capacity(n);
        while out.len() < n {
            let Some(key) = self.order.pop_front() else {
                break;
            };
            if self.waiting.remove(&key) {
                out.push(key);
            }
        }
        out
    }

    /// A lane got to `key` before a recording took it: not to be taken from now on.
    fn reached(&mut self, key: &PayloadKey) {
        self.waiting.remove(key);
    }

    /// Forgets the payloads of a phase that ended.
    fn end(&mut self, ended: &HashSet<&PayloadKey>) {
        self.order.retain(|key| !ended.contains(key));
        self.waiting.retain(|key| !ended.contains(key));
    }
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

    /// Payloads about to be sent, in the order their lanes will reach them, that recordings
    /// may record ahead ([`AHEAD`]). Only payloads sent for the first time belong here: one an
    /// earlier run left `intent` or `failed` is looked up first, and its intent waits for that.
    pub(super) fn expect(&self, keys: impl IntoIterator<Item = PayloadKey>) {
        lock(&self.ahead).push(keys);
    }

    /// A lane has begun with `key`: no recording takes it ahead from now on, whatever becomes
    /// of it (failed before sending, skipped, or sent after its own intent).
    pub(super) fn reached(&self, key: &PayloadKey) {
        lock(&self.ahead).reached(key);
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
        // Recorded ahead: a key is in `recorded` only once its checkpoint is done.
        if lock(&self.recorded).remove(&key) {
            return Ok(());
        }
        lock(&self.queued).push(key);
        // The lanes of a run are polled by one task: the lanes whose answers came in while it
        // was busy are all ready now. Letting them run up to here before taking the turn is
        // what puts their intents in the next recording.
        tokio::task::yield_now().await;
        let _turn = self.turn.lock().await;
        if lock(&self.recorded).remove(&key) {
            // Recorded by an earlier turn, ahead, while this lane waited: it must not be
            // recorded again by the next one.
            lock(&self.queued).retain(|k| *k != key);
            return Ok(());
        }
        let waiting = std::mem::take(&mut *lock(&self.queued));
        let taken = {
            let mut ahead = lock(&self.ahead);
            waiting.iter().for_each(|key| ahead.reached(key));
            ahead.take(AHEAD)
        };
        let batch: Vec<PayloadKey> = waiting.iter().chain(&taken).copied().collect();
        let others: Vec<PayloadKey> = waiting.into_iter().filter(|k| *k != key).collect();
        let applied = std::mem::take(&mut *lock(&self.applied));
        if let Err(e) = ledger().record_progress(&applied, &batch, &[]) {
            // The others try again in their own turn (and most likely stop the run too); the
            // payloads taken ahead are recorded when their lanes reach them.
            lock(&self.queued).extend(others);
            lock(&self.applied).extend(applied);
            return Err(e);
        }
        // The other lanes of the batch wait for this turn to end, so they learn the outcome
        // of the checkpoint before they send.
        let checkpointed = self.checkpoint().await;
        match &checkpointed {
            Ok(()) => lock(&self.recorded).extend(others.into_iter().chain(taken)),
            Err(_) => lock(&self.queued).extend(others),
        }
        checkpointed
    }

    /// Commits the results still waiting, at the end of a phase, and takes back the intents
    /// recorded ahead for the phase's payloads (`expected`, as given to [`Recorder::expect`])
    /// that no lane sent: those payloads are `pending` again.
    pub(super) async fn flush<'g, 'l: 'g>(
        &self,
        expected: &[PayloadKey],
        ledger: impl FnOnce() -> MutexGuard<'g, &'l mut Ledger>,
    ) -> Result<(), LedgerError> {
        let _turn = self.turn.lock().await;
        let unsent: Vec<PayloadKey> = {
            let ended: HashSet<&PayloadKey> = expected.iter().collect();
            lock(&self.ahead).end(&ended);
            let mut recorded = lock(&self.recorded);
            let unsent = recorded.iter().filter(|key| ended.contains(key)).copied();
            let unsent: Vec<PayloadKey> = unsent.collect();
            for key in &unsent {
                recorded.remove(key);
            }
            unsent
        };
        let applied = std::mem::take(&mut *lock(&self.applied));
        if applied.is_empty() && unsent.is_empty() {
            return Ok(());
        }
        ledger()
            .record_progress(&applied, &[], &unsent)
            .inspect_err(|_| {
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
            recorder.intent(key(seq), || {
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
        recorder.flush(&[], || lock(&ledger)).await.unwrap();
        assert!(lock(&recorder.applied).is_empty());
    }

    /// The payload `seq` of plan 1.
    fn key(seq: i64) -> PayloadKey {
        PayloadKey {
            plan: 1,
            seq,
            ordinal: 0,
        }
    }

    /// A recording counter around the ledger, as `Run::ledger` gives it.
    fn counted<'g, 'l>(
        ledger: &'g Mutex<&'l mut Ledger>,
        recordings: &'g Cell<usize>,
    ) -> impl FnOnce() -> MutexGuard<'g, &'l mut Ledger> {
        move || {
            recordings.set(recordings.get() + 1);
            lock(ledger)
        }
    }

    #[tokio::test]
    async fn payloads_next_in_line_are_recorded_ahead_and_sent_without_a_recording() {
        let mut ledger = Ledger::open_in_memory().unwrap();
        let ledger = Mutex::new(&mut ledger);
        let recorder = Recorder::default();
        let recordings = Cell::new(0);
        let expected: Vec<PayloadKey> = (1..=AHEAD as i64 + 2).map(key).collect();
        recorder.expect(expected.iter().copied());
        for k in &expected {
            recorder
                .intent(*k, counted(&ledger, &recordings))
                .await
                .unwrap();
        }
        // The first recording takes the next AHEAD along; the one after them needs another.
        assert_eq!(recordings.get(), 2);
        assert!(lock(&recorder.recorded).is_empty());
        recorder.flush(&expected, || lock(&ledger)).await.unwrap();
        assert!(lock(&recorder.ahead).order.is_empty());
    }

    #[tokio::test]
    async fn a_lane_whose_payload_was_taken_ahead_while_it_waited_leaves_nothing_queued() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(&dir.path().join("ahead.ledger")).unwrap();
        // A file ledger: the checkpoint waits on another thread, as in a real run.
        let recorder = Recorder::new(ledger.checkpointer().unwrap());
        let ledger = Mutex::new(&mut ledger);
        recorder.expect([key(1), key(2)]);
        let first = recorder.intent(key(1), || lock(&ledger));
        let second = async {
            // Arrives once the first lane's recording has taken the second payload ahead, and
            // before that recording is checkpointed.
            while !lock(&recorder.ahead).order.is_empty() || !lock(&recorder.queued).is_empty() {
                tokio::task::yield_now().await;
            }
            recorder.intent(key(2), || lock(&ledger)).await
        };
        let (first, second) = futures::join!(first, second);
        first.unwrap();
        second.unwrap();
        assert!(
            lock(&recorder.queued).is_empty(),
            "nothing left to record again"
        );
        assert!(lock(&recorder.recorded).is_empty());
    }

    #[tokio::test]
    async fn a_payload_reached_out_of_line_is_recorded_once_and_unsent_ones_are_taken_back() {
        let mut ledger = Ledger::open_in_memory().unwrap();
        let ledger = Mutex::new(&mut ledger);
        let recorder = Recorder::default();
        let recordings = Cell::new(0);
        let phase: Vec<PayloadKey> = (1..=5).map(key).collect();
        let other_phase = [key(9)];
        recorder.expect(phase.iter().copied());
        recorder.expect(other_phase);
        // The third is reached first (the first payloads of a lane that started later).
        recorder
            .intent(key(3), counted(&ledger, &recordings))
            .await
            .unwrap();
        for seq in [1, 2, 4] {
            recorder
                .intent(key(seq), counted(&ledger, &recordings))
                .await
                .unwrap();
        }
        assert_eq!(
            recordings.get(),
            1,
            "all five (and the other phase's) in one"
        );
        // The fifth was never sent (its item broke): the end of its phase takes it back, and
        // leaves the other phase's alone.
        let recorded = |k| lock(&recorder.recorded).contains(&k);
        assert!(recorded(key(5)) && recorded(key(9)) && !recorded(key(3)));
        recorder.flush(&phase, || lock(&ledger)).await.unwrap();
        assert!(!recorded(key(5)) && recorded(key(9)));
        recorder
            .intent(key(9), counted(&ledger, &recordings))
            .await
            .unwrap();
        assert_eq!(recordings.get(), 1);
    }
}
