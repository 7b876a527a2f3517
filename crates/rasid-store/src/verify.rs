//! `verify`: replays the journal from genesis into a fresh engine and checks everything a
//! skeptical auditor would: the hash chain, that every record decodes and is accepted again,
//! that each stored snapshot equals the replayed state at its point, that the live state
//! (snapshot + tail, what the server runs on) equals the replay, and every invariant.

use crate::journal::{GENESIS_HASH, Hash, Journal, StoreError};
use crate::replay::{recover, replay_into};
use rasid_core::codec::digest_state;
use rasid_core::{State, Totals};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct VerifyReport {
    pub commands: u64,
    pub head_hash: Hash,
    pub state_digest: Hash,
    pub snapshots_checked: usize,
    pub totals: Totals,
}

/// Fails with the first bad record, snapshot or invariant, named.
pub fn verify(journal: &mut dyn Journal) -> Result<VerifyReport, StoreError> {
    let snapshots: BTreeMap<u64, Hash> = journal.snapshot_digests()?.into_iter().collect();
    let mut state = State::new();
    let mut snapshots_checked = 0;
    let head = replay_into(journal, &mut state, (0, GENESIS_HASH), &mut |state, seq| {
        if let Some(stored) = snapshots.get(&seq) {
            if *stored != digest_state(state) {
                return Err(StoreError::Corrupt {
                    seq,
                    reason: "the snapshot taken here differs from the replayed state".into(),
                });
            }
            snapshots_checked += 1;
        }
        Ok(())
    })?;
    if let Some((&seq, _)) = snapshots.range(head.0 + 1..).next() {
        return Err(StoreError::Corrupt {
            seq,
            reason: "a snapshot lies beyond the end of the journal".into(),
        });
    }
    let replayed = digest_state(&state);
    let (live, live_head, _) = recover(journal)?;
    if digest_state(&live) != replayed || live_head != head {
        return Err(StoreError::Corrupt {
            seq: head.0,
            reason: "the live state (snapshot + tail) differs from the replay from genesis".into(),
        });
    }
    let totals =
        state.audit().map_err(|e| StoreError::Corrupt { seq: head.0, reason: e.to_string() })?;
    Ok(VerifyReport {
        commands: head.0,
        head_hash: head.1,
        state_digest: replayed,
        snapshots_checked,
        totals,
    })
}
