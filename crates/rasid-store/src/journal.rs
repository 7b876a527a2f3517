//! The journal interface: an append-only, hash-chained log of accepted commands, plus snapshots.
//!
//! Each record's hash is `SHA-256(previous hash ‖ body)`, where the body is the canonical encoding
//! of the whole envelope (sequence number, time, actor, command). Changing any byte of any
//! record, or removing or reordering records, breaks the chain from that record on.

use sha2::{Digest, Sha256};

/// The hash "before" the first record.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

pub type Hash = [u8; 32];

/// One journaled command. `time_ms`, `actor` and `kind` repeat what the body encodes so that
/// people can query the table with SQL; `verify` checks they agree with the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub seq: u64,
    pub time_ms: i64,
    pub actor: u64,
    /// The command's kind: borrowed from the command as it is journaled (no allocation per
    /// record on the writer's path), owned when read back.
    pub kind: std::borrow::Cow<'static, str>,
    pub body: Vec<u8>,
    pub hash: Hash,
}

/// A stored snapshot: the canonical state bytes after `seq`, their digest, and the hash of the
/// record at `seq` so recovery can continue checking the chain from there.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub seq: u64,
    pub state: Vec<u8>,
    pub digest: Hash,
    pub record_hash: Hash,
}

pub fn chain_hash(previous: &Hash, body: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(body);
    h.finalize().into()
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("journal record {seq} is bad: {reason}")]
    Corrupt { seq: u64, reason: String },
    #[error("{0}")]
    Unsupported(String),
    /// The append was refused because this process does not (or no longer) hold the writer
    /// lease. Nothing was written.
    #[error("not the writer: {0}")]
    Fenced(String),
    #[error("the ledger stopped after a storage failure; restart to recover: {0}")]
    Stopped(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e.to_string())
    }
}

/// Storage for the journal and snapshots. Implementations: SQLite (embedded default) and
/// PostgreSQL. Every method is one transaction; `append` is durable when it returns.
pub trait Journal: Send {
    /// The last record's sequence number and hash, or `None` for an empty journal.
    fn head(&mut self) -> Result<Option<(u64, Hash)>, StoreError>;

    /// Appends records that continue the chain, durably, in one transaction (group commit),
    /// together with an optional snapshot.
    fn append(&mut self, records: &[Record], snapshot: Option<&Snapshot>)
    -> Result<(), StoreError>;

    /// Calls `visit` for every record with `seq >= from`, in order. Stops at the first error.
    fn scan(
        &mut self,
        from: u64,
        visit: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;

    /// One record, for certificates and look-ups.
    fn record(&mut self, seq: u64) -> Result<Option<Record>, StoreError>;

    /// The newest snapshot, if any.
    fn latest_snapshot(&mut self) -> Result<Option<Snapshot>, StoreError>;

    /// `(seq, digest)` of every retained snapshot, oldest first, for `verify`.
    fn snapshot_digests(&mut self) -> Result<Vec<(u64, Hash)>, StoreError>;

    /// Stores a snapshot outside an append (graceful shutdown).
    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StoreError>;

    /// The counters of the backend's write-ahead-log checkpoints since it was opened, for a
    /// backend that runs its own (SQLite; PostgreSQL's server checkpoints by itself).
    fn checkpoint_counters(&self) -> Option<crate::checkpoint::CheckpointCounters> {
        None
    }
}
