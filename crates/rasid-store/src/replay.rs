//! Replaying the journal: recovery (newest snapshot + tail) and replay from genesis.
//!
//! Replay is pipelined over two threads: the calling thread reads records, checks the hash
//! chain and decodes envelopes; a second thread executes them. Both halves cost about the same,
//! so on two cores this nearly doubles replay speed. Errors name the record they were found at;
//! when both halves fail, the earlier record wins.

use crate::journal::{GENESIS_HASH, Hash, Journal, Record, StoreError, chain_hash};
use crossbeam_channel::bounded;
use rasid_core::codec::{decode_envelope, decode_state, digest_state};
use rasid_core::{Envelope, State};

/// Envelopes handed to the executing thread at a time, and chunks in flight: bounds the memory
/// replay uses whatever the journal's length.
const REPLAY_CHUNK_RECORDS: usize = 4_096;
const REPLAY_CHUNKS_IN_FLIGHT: usize = 8;

/// Called after each replayed record with the state as of that record.
pub type AfterEach<'a> = &'a mut (dyn FnMut(&State, u64) -> Result<(), StoreError> + Send);

/// What a recovery found, for reporting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    pub snapshot_seq: u64,
    pub replayed: u64,
    pub head_seq: u64,
}

pub fn sha256(bytes: &[u8]) -> Hash {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).into()
}

/// Rebuilds the state from the newest snapshot and the journal's tail, checking the hash chain
/// of the tail. Returns the state and the head `(seq, hash)`.
pub fn recover(journal: &mut dyn Journal) -> Result<(State, (u64, Hash), Recovery), StoreError> {
    let (mut state, start) = match journal.latest_snapshot()? {
        None => (State::new(), (0, GENESIS_HASH)),
        Some(s) => {
            let bad = |reason: String| StoreError::Corrupt { seq: s.seq, reason };
            if sha256(&s.state) != s.digest {
                return Err(bad("snapshot bytes do not match their digest".into()));
            }
            let state = decode_state(&s.state).map_err(|e| bad(format!("snapshot: {e}")))?;
            if state.last_seq() != s.seq {
                return Err(bad("snapshot is labelled with the wrong sequence number".into()));
            }
            (state, (s.seq, s.record_hash))
        }
    };
    let head = replay_into(journal, &mut state, start, &mut |_, _| Ok(()))?;
    let recovery = Recovery { snapshot_seq: start.0, replayed: head.0 - start.0, head_seq: head.0 };
    Ok((state, head, recovery))
}

/// Replays the whole journal into a fresh state, ignoring snapshots, checking the hash chain.
/// Returns the state and the number of records replayed.
pub fn replay_from_genesis(journal: &mut dyn Journal) -> Result<(State, u64), StoreError> {
    let mut state = State::new();
    let head = replay_into(journal, &mut state, (0, GENESIS_HASH), &mut |_, _| Ok(()))?;
    Ok((state, head.0))
}

/// Replays the whole journal from genesis, handing each command's `(seq, time, events)` to
/// `visit` in order: how read models fed by [`crate::Feed`] are rebuilt at open. Single-threaded
/// and checks the hash chain. Returns the number of records replayed.
pub fn replay_committed(
    journal: &mut dyn Journal,
    visit: &mut dyn FnMut(crate::Committed),
) -> Result<u64, StoreError> {
    let mut state = State::new();
    let mut head = (0, GENESIS_HASH);
    journal.scan(1, &mut |record: Record| {
        let envelope = check_record(&record, head)?;
        head = (record.seq, record.hash);
        let events = state.execute(&envelope).map_err(|r| StoreError::Corrupt {
            seq: envelope.seq,
            reason: format!("the engine rejects it on replay ({})", r.code()),
        })?;
        visit(crate::Committed { seq: envelope.seq, time_ms: envelope.time_ms, events });
        Ok(())
    })?;
    Ok(head.0)
}

/// Replays every record after `start` into `state`, handing the commands after `feed_after`
/// (their sequence number is greater) to `feed` in journal order, in chunks of at most
/// `REPLAY_CHUNK_RECORDS`: how a follower feeds its read models from the records it tails.
/// Single-threaded (the events are needed) and checks the hash chain. Returns the new head.
/// On an error, `state` and `feed` may have seen the records before the bad one.
///
/// When `snapshot` (the sequence number and digest of a stored snapshot) is given, the state
/// is checked against it as the replay passes it: a replay from genesis that does not read the
/// snapshot still finds out when the snapshot a later recovery would start from is not the
/// state the journal leads to.
pub fn replay_feeding(
    journal: &mut dyn Journal,
    state: &mut State,
    start: (u64, Hash),
    feed_after: u64,
    feed: &mut dyn FnMut(&[crate::Committed]),
    snapshot: Option<(u64, Hash)>,
) -> Result<(u64, Hash), StoreError> {
    let mut head = start;
    let mut chunk: Vec<crate::Committed> = Vec::with_capacity(REPLAY_CHUNK_RECORDS);
    journal.scan(start.0 + 1, &mut |record: Record| {
        let envelope = check_record(&record, head)?;
        let events = state.execute(&envelope).map_err(|r| StoreError::Corrupt {
            seq: envelope.seq,
            reason: format!("the engine rejects it on replay ({})", r.code()),
        })?;
        head = (record.seq, record.hash);
        if let Some((seq, digest)) = snapshot
            && seq == envelope.seq
            && digest != digest_state(state)
        {
            return Err(StoreError::Corrupt {
                seq,
                reason: "the snapshot taken here differs from the replayed state".into(),
            });
        }
        if envelope.seq > feed_after {
            chunk.push(crate::Committed { seq: envelope.seq, time_ms: envelope.time_ms, events });
            if chunk.len() == REPLAY_CHUNK_RECORDS {
                feed(&chunk);
                chunk.clear();
            }
        }
        Ok(())
    })?;
    if !chunk.is_empty() {
        feed(&chunk);
    }
    Ok(head)
}

/// Replays every record after `start` into `state` and returns the new head.
pub fn replay_into(
    journal: &mut dyn Journal,
    state: &mut State,
    start: (u64, Hash),
    after_each: AfterEach<'_>,
) -> Result<(u64, Hash), StoreError> {
    let (tx, rx) = bounded::<Vec<Envelope>>(REPLAY_CHUNKS_IN_FLIGHT);
    std::thread::scope(|scope| {
        let executor = scope.spawn(move || -> Result<(), StoreError> {
            // The events are not needed here: one list is reused for every command's.
            let mut events = rasid_core::Events::new();
            for chunk in rx {
                for envelope in &chunk {
                    events.clear();
                    state.execute_into(envelope, &mut events).map_err(|r| StoreError::Corrupt {
                        seq: envelope.seq,
                        reason: format!("the engine rejects it on replay ({})", r.code()),
                    })?;
                    after_each(state, envelope.seq)?;
                }
            }
            Ok(())
        });
        let mut head = start;
        let mut chunk = Vec::with_capacity(REPLAY_CHUNK_RECORDS);
        // A send fails only when the executor stopped on an error; its error is reported below.
        let executor_gone = || StoreError::Stopped("replay stopped".into());
        let scanned = journal.scan(start.0 + 1, &mut |record: Record| {
            chunk.push(check_record(&record, head)?);
            head = (record.seq, record.hash);
            if chunk.len() == REPLAY_CHUNK_RECORDS {
                let full = std::mem::replace(&mut chunk, Vec::with_capacity(REPLAY_CHUNK_RECORDS));
                tx.send(full).map_err(|_| executor_gone())?;
            }
            Ok(())
        });
        let flushed = scanned.and_then(|()| {
            if chunk.is_empty() { Ok(()) } else { tx.send(chunk).map_err(|_| executor_gone()) }
        });
        drop(tx);
        let executed =
            executor.join().unwrap_or_else(|_| Err(StoreError::Stopped("replay panicked".into())));
        match (flushed, executed) {
            (Ok(()), Ok(())) => Ok(head),
            (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
            // The executor runs behind the reader, so its error is at the earlier record unless
            // the reader's is a real finding and the executor merely stopped.
            (Err(read), Err(exec)) => Err(earliest(read, exec)),
        }
    })
}

fn earliest(a: StoreError, b: StoreError) -> StoreError {
    match (&a, &b) {
        (StoreError::Corrupt { seq: x, .. }, StoreError::Corrupt { seq: y, .. }) => {
            if x <= y {
                a
            } else {
                b
            }
        }
        (StoreError::Stopped(_), _) => b,
        _ => a,
    }
}

/// Checks one record against the chain position before it and decodes its envelope.
pub fn check_record(record: &Record, previous: (u64, Hash)) -> Result<Envelope, StoreError> {
    let bad = |reason: String| StoreError::Corrupt { seq: record.seq, reason };
    if record.seq != previous.0 + 1 {
        return Err(bad(format!("expected sequence number {}", previous.0 + 1)));
    }
    if chain_hash(&previous.1, &record.body) != record.hash {
        return Err(bad(
            "hash does not match the chain (record altered, or an earlier one removed)".into(),
        ));
    }
    let envelope = decode_envelope(&record.body).map_err(|e| bad(e.to_string()))?;
    let columns_agree = envelope.seq == record.seq
        && envelope.time_ms == record.time_ms
        && envelope.actor.0 == record.actor
        && envelope.command.kind() == record.kind;
    if !columns_agree {
        return Err(bad(
            "the seq, time, actor or kind column disagrees with the record body".into()
        ));
    }
    Ok(envelope)
}
