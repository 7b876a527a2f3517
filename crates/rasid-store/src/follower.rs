//! A follower: a read-only copy of the ledger's state kept up to date by tailing the journal
//! another process (the lease holder, see [`crate::lease`]) writes.
//!
//! It recovers like the writer (newest snapshot, then the tail) and afterwards, on each
//! [`Follower::catch_up`], replays the records appended since, checking the hash chain from its
//! own head, so a follower never serves state the journal does not prove. When it takes over,
//! [`Follower::into_parts`] hands its state to [`crate::Ledger::open_at`] without a second
//! recovery.

use crate::Committed;
use crate::journal::GENESIS_HASH;
use crate::journal::{Hash, Journal, StoreError};
use crate::replay::{recover, replay_feeding, replay_into};
use rasid_core::State;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};

/// What a follower hands over when it takes over: its journal, state and head `(seq, hash)`.
pub type FollowerParts = (Box<dyn Journal>, State, (u64, Hash));

/// Where a feeding follower hands the commands it applies (see [`crate::Feed`]).
pub type FollowerFeed<'a> = &'a mut dyn FnMut(&[Committed]);

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

    /// As [`Follower::open`], and hands every command after `feed_after` to `feed` (read
    /// models fed after commit, see [`crate::Feed`]): the state is rebuilt from genesis, not
    /// from a snapshot, because the commands' events are needed. `feed_after` is the last
    /// command the read models already reflect (0 for fresh ones), so none is fed twice.
    pub fn open_feeding(
        mut journal: Box<dyn Journal>,
        feed_after: u64,
        feed: FollowerFeed<'_>,
    ) -> Result<Self, StoreError> {
        let mut state = State::new();
        // The replay does not start from the latest snapshot, but checks it on the way, as
        // recovery from it would have (`rasid verify` checks every retained one).
        let snapshot = journal.snapshot_digests()?.last().copied();
        let start = (0, GENESIS_HASH);
        let head = replay_feeding(journal.as_mut(), &mut state, start, feed_after, feed, snapshot)?;
        if let Some((seq, _)) = snapshot.filter(|(seq, _)| *seq > head.0) {
            return Err(StoreError::Corrupt {
                seq,
                reason: "a snapshot lies beyond the end of the journal".into(),
            });
        }
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
        self.catch_up_with(None)
    }

    /// As [`Follower::catch_up`], and hands the commands applied to `feed` in journal order,
    /// each exactly once: the read models a writer feeds after commit, fed on a follower.
    pub fn catch_up_feeding(&self, feed: FollowerFeed<'_>) -> Result<u64, StoreError> {
        self.catch_up_with(Some(feed))
    }

    fn catch_up_with(&self, feed: Option<FollowerFeed<'_>>) -> Result<u64, StoreError> {
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
        let replayed = match feed {
            Some(feed) => replay_feeding(journal.as_mut(), &mut state, head, head.0, feed, None),
            None => replay_into(journal.as_mut(), &mut state, head, &mut |_, _| Ok(())),
        };
        match replayed {
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
