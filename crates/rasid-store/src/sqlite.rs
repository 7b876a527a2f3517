//! The SQLite journal: one file, WAL mode, `synchronous=FULL` so a commit survives power loss.
//! The write-ahead log is checkpointed by a thread of its own (`checkpoint.rs`), not inside
//! the writer's commits.
//!
//! The schema uses only types PostgreSQL has too (integers, text, blobs ↔ bytea) so the
//! PostgreSQL backend can keep the same tables.

use crate::checkpoint::{CheckpointCounters, Checkpoints};
use crate::journal::{Hash, Journal, Record, Snapshot, StoreError};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// Snapshots kept; older ones are deleted when a new one is stored.
pub const SNAPSHOTS_RETAINED: u32 = 3;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS rasid_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journal (
    seq     INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    actor   INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    body    BLOB    NOT NULL,
    hash    BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    seq         INTEGER PRIMARY KEY,
    state       BLOB NOT NULL,
    digest      BLOB NOT NULL,
    record_hash BLOB NOT NULL
);
";

#[derive(Debug)]
pub struct SqliteJournal {
    // Declared before `conn` so that it is dropped first: its thread stops and closes its
    // connection, and closing `conn`, the last one, checkpoints the whole log.
    checkpoints: Checkpoints,
    conn: Connection,
    path: PathBuf,
}

impl SqliteJournal {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = Connection::open(path)?;
        // WAL lets readers (a verifier, a second CLI) run beside the writer; FULL makes every
        // commit durable, which is the whole point of acknowledging only after commit.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let checkpoints = Checkpoints::install(&mut conn)?;
        conn.execute_batch(SCHEMA)?;
        let version: Option<String> = conn
            .query_row("SELECT value FROM rasid_meta WHERE key = 'format_version'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let ours = rasid_core::codec::FORMAT_VERSION.to_string();
        match version {
            None => {
                conn.execute(
                    "INSERT INTO rasid_meta (key, value) VALUES ('format_version', ?1)",
                    [&ours],
                )?;
            }
            Some(v) if v == ours => {}
            Some(v) if rasid_core::codec::format_upgradable_by_dropping_snapshots(&v) => {
                let tx = conn.unchecked_transaction()?;
                tx.execute("DELETE FROM snapshots", [])?;
                tx.execute(
                    "UPDATE rasid_meta SET value = ?1 WHERE key = 'format_version'",
                    [&ours],
                )?;
                tx.commit()?;
            }
            Some(v) => {
                return Err(StoreError::Unsupported(format!(
                    "database format version {v}, this build reads {ours}"
                )));
            }
        }
        Ok(Self { checkpoints, conn, path: path.to_owned() })
    }

    /// Direct access for tests that tamper with the file on purpose.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The write-ahead log's checkpoints, for tests that wait for one.
    pub fn checkpoints(&self) -> &Checkpoints {
        &self.checkpoints
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).expect("sequence numbers and ids stay below 2^63")
}

fn hash_from(bytes: Vec<u8>, seq: u64) -> Result<Hash, StoreError> {
    bytes.try_into().map_err(|_| StoreError::Corrupt { seq, reason: "hash is not 32 bytes".into() })
}

/// A journal row as SQLite returns it, before its integers and hash are checked.
type RawRecord = (i64, i64, i64, String, Vec<u8>, Vec<u8>);
type RawSnapshot = (i64, Vec<u8>, Vec<u8>, Vec<u8>);

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRecord> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
}

fn record_from(raw: RawRecord) -> Result<Record, StoreError> {
    let (seq, time_ms, actor, kind, body, hash) = raw;
    let seq_u = u64::try_from(seq)
        .map_err(|_| StoreError::Corrupt { seq: 0, reason: format!("negative seq {seq}") })?;
    let actor = u64::try_from(actor)
        .map_err(|_| StoreError::Corrupt { seq: seq_u, reason: "negative actor".into() })?;
    Ok(Record {
        seq: seq_u,
        time_ms,
        actor,
        kind: kind.into(),
        body,
        hash: hash_from(hash, seq_u)?,
    })
}

/// Journal rows per multi-row `INSERT`. SQLite's cost per statement execution (step, reset,
/// opening the table cursor) is about as large as its cost per row, so a batch of records is
/// written `APPEND_ROWS_PER_STATEMENT` rows per execution. 64 rows bind 384 parameters, far
/// below SQLite's limit of 32,766; the statement is prepared once per connection and cached.
const APPEND_ROWS_PER_STATEMENT: usize = 64;

/// Columns of a journal row, in the order `insert_records` binds them.
const RECORD_COLUMNS: usize = 6;

/// The journal `INSERT` of `rows` rows.
fn insert_records_sql(rows: usize) -> String {
    let rows = vec!["(?, ?, ?, ?, ?, ?)"; rows].join(", ");
    format!("INSERT INTO journal (seq, time_ms, actor, kind, body, hash) VALUES {rows}")
}

static INSERT_RECORDS_ONE: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| insert_records_sql(1));

static INSERT_RECORDS_MANY: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| insert_records_sql(APPEND_ROWS_PER_STATEMENT));

/// Binds `records` to `insert` (a statement with exactly that many rows of parameters) and
/// runs it once.
fn insert_records(
    insert: &mut rusqlite::CachedStatement<'_>,
    records: &[Record],
) -> Result<(), StoreError> {
    assert_eq!(insert.parameter_count(), records.len() * RECORD_COLUMNS, "one row per record");
    for (i, r) in records.iter().enumerate() {
        let at = i * RECORD_COLUMNS;
        insert.raw_bind_parameter(at + 1, to_i64(r.seq))?;
        insert.raw_bind_parameter(at + 2, r.time_ms)?;
        insert.raw_bind_parameter(at + 3, to_i64(r.actor))?;
        insert.raw_bind_parameter(at + 4, r.kind.as_ref())?;
        insert.raw_bind_parameter(at + 5, r.body.as_slice())?;
        insert.raw_bind_parameter(at + 6, &r.hash[..])?;
    }
    let inserted = insert.raw_execute()?;
    assert_eq!(inserted, records.len(), "every record is one new row");
    Ok(())
}

impl Journal for SqliteJournal {
    fn head(&mut self) -> Result<Option<(u64, Hash)>, StoreError> {
        let row: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        match row {
            None => Ok(None),
            Some((seq, hash)) => {
                let seq = u64::try_from(seq).unwrap_or(0);
                Ok(Some((seq, hash_from(hash, seq)?)))
            }
        }
    }

    fn append(
        &mut self,
        records: &[Record],
        snapshot: Option<&Snapshot>,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        let mut chunks = records.chunks_exact(APPEND_ROWS_PER_STATEMENT);
        {
            let mut insert = tx.prepare_cached(&INSERT_RECORDS_MANY)?;
            for chunk in &mut chunks {
                insert_records(&mut insert, chunk)?;
            }
        }
        for record in chunks.remainder() {
            let mut insert = tx.prepare_cached(&INSERT_RECORDS_ONE)?;
            insert_records(&mut insert, std::slice::from_ref(record))?;
        }
        if let Some(s) = snapshot {
            insert_snapshot(&tx, s)?;
        }
        tx.commit()?;
        // The checkpointer starts once a commit asks for it, so a journal that is only read, or
        // written a little, never has one. It cannot fail the append.
        self.checkpoints.start(&self.path);
        Ok(())
    }

    fn scan(
        &mut self,
        from: u64,
        visit: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT seq, time_ms, actor, kind, body, hash FROM journal WHERE seq >= ?1 ORDER BY seq",
        )?;
        let mut rows = stmt.query([to_i64(from)])?;
        while let Some(row) = rows.next()? {
            visit(record_from(row_to_record(row)?)?)?;
        }
        Ok(())
    }

    fn record(&mut self, seq: u64) -> Result<Option<Record>, StoreError> {
        let raw = self
            .conn
            .query_row(
                "SELECT seq, time_ms, actor, kind, body, hash FROM journal WHERE seq = ?1",
                [to_i64(seq)],
                row_to_record,
            )
            .optional()?;
        raw.map(record_from).transpose()
    }

    fn latest_snapshot(&mut self) -> Result<Option<Snapshot>, StoreError> {
        let row: Option<RawSnapshot> = self
            .conn
            .query_row(
                "SELECT seq, state, digest, record_hash FROM snapshots ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        row.map(|(seq, state, digest, record_hash)| {
            let seq = u64::try_from(seq).unwrap_or(0);
            Ok(Snapshot {
                seq,
                state,
                digest: hash_from(digest, seq)?,
                record_hash: hash_from(record_hash, seq)?,
            })
        })
        .transpose()
    }

    fn snapshot_digests(&mut self) -> Result<Vec<(u64, Hash)>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT seq, digest FROM snapshots ORDER BY seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (seq, digest) = row?;
            let seq = u64::try_from(seq).unwrap_or(0);
            out.push((seq, hash_from(digest, seq)?));
        }
        Ok(out)
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        insert_snapshot(&tx, snapshot)?;
        tx.commit()?;
        Ok(())
    }

    fn checkpoint_counters(&self) -> Option<CheckpointCounters> {
        Some(self.checkpoints.handle())
    }
}

fn insert_snapshot(tx: &rusqlite::Transaction<'_>, s: &Snapshot) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR REPLACE INTO snapshots (seq, state, digest, record_hash) VALUES (?1, ?2, ?3, ?4)",
        params![to_i64(s.seq), s.state, &s.digest[..], &s.record_hash[..]],
    )?;
    tx.execute(
        "DELETE FROM snapshots WHERE seq NOT IN (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT ?1)",
        [SNAPSHOTS_RETAINED],
    )?;
    Ok(())
}
