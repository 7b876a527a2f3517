//! A follower: a read-only copy of the ledger's state kept up to date by tailing the journal
//! another process (the lease holder, see [`crate::lease`]) writes.
//!
//! It recovers like the writer (newest snapshot, then the tail) and afterwards, on each
//! [`Follower::catch_up`], replays the records appended since, checking the hash chain from its
//! own head, so a follower never serves state the journal does not prove. When it takes over,
//! [`Follower::into_parts`] hands its state to [`crate::Ledger::open_at`] without a second
//! recovery.

use crate::journal::{Hash, Journal, StoreError};
use crate::replay::{recover, replay_into};
use rasid_core::State;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

/// What a follower hands over when it takes over: its journal, state and head `(seq, hash)`.
pub type FollowerParts = (Box<dyn Journal>, State, (u64, Hash));

pub struct Follower {
    journal: Mutex<Box<dyn Journal>>,
    /// Readers share it; `catch_up` takes it exclusively while it applies new records.
    state: RwLock<State>,
    head: Mutex<(u64, Hash)>,
    /// Set when a catch-up failed part-way: the state may then be ahead of `head`, so the
    /// follower refuses to go on (and to take over) rather than serve a state it cannot name.
    broken: AtomicBool,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower").field("head", &self.head().0).finish()
    }
}

impl Follower {
    /// Recovers the state from `journal` (snapshot + tail, hash chain checked).
    pub fn open(mut journal: Box<dyn Journal>) -> Result<Self, StoreError> {
        let (state, head, _) = recover(journal.as_mut())?;
        Ok(Self {
            journal: Mutex::new(journal),
            state: RwLock::new(state),
            head: Mutex::new(head),
            broken: AtomicBool::new(false),
        })
    }

    /// Sequence number and hash of the last record applied.
    pub fn head(&self) -> (u64, Hash) {
        *self.head.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies every record appended since the last call; returns how many. Readers wait only
    /// while records are being applied, not while the journal is asked whether there are any.
    pub fn catch_up(&self) -> Result<u64, StoreError> {
        if self.broken.load(Ordering::Acquire) {
            return Err(StoreError::Stopped("an earlier catch-up failed part-way".into()));
        }
        let mut journal = self.journal.lock().unwrap_or_else(|p| p.into_inner());
        let head = self.head();
        let stored = journal.head()?.map_or(0, |(seq, _)| seq);
        if stored == head.0 {
            return Ok(0);
        }
        if stored < head.0 {
            return Err(StoreError::Corrupt {
                seq: stored,
                reason: format!(
                    "the journal ends before record {}, which this follower applied",
                    head.0
                ),
            });
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        match replay_into(journal.as_mut(), &mut state, head, &mut |_, _| Ok(())) {
            Ok(new) => {
                *self.head.lock().unwrap_or_else(|p| p.into_inner()) = new;
                Ok(new.0 - head.0)
            }
            Err(e) => {
                self.broken.store(true, Ordering::Release);
                Err(e)
            }
        }
    }

    /// Runs `f` on the state as of the last catch-up.
    pub fn query<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// The journal, the state and its head, for [`crate::Ledger::open_at`].
    pub fn into_parts(self) -> Result<FollowerParts, StoreError> {
        if self.broken.load(Ordering::Acquire) {
            return Err(StoreError::Stopped("an earlier catch-up failed part-way".into()));
        }
        let head = self.head();
        Ok((
            self.journal.into_inner().unwrap_or_else(|p| p.into_inner()),
            self.state.into_inner().unwrap_or_else(|p| p.into_inner()),
            head,
        ))
    }
}
