//! The PostgreSQL journal: the same tables as the SQLite backend (`rasid_meta`, `journal`,
//! `snapshots`, with BIGINT, BYTEA and TEXT columns), created and upgraded by versioned
//! migrations, for deployments that want a database server rather than an embedded file.
//!
//! Durability is PostgreSQL's: `append` is one transaction whose COMMIT returns only after the
//! write-ahead log is flushed (`synchronous_commit` on). The batch goes to the server as one
//! binary `COPY`, which measured faster than multi-row `INSERT`s here (see `rasid bench
//! registry --database postgres://…`), so a group commit of thousands of records costs four
//! round trips. `scan` pages through a server-side cursor (a portal) so replaying millions of
//! records holds one page in memory at a time.
//!
//! The client is the synchronous `postgres` crate: the `Journal` trait is synchronous and runs
//! on the ledger's writer thread, so an async runtime would add nothing but a hand-off.

use crate::journal::{Hash, Journal, Record, Snapshot, StoreError};
use crate::sqlite::SNAPSHOTS_RETAINED;
use postgres::fallible_iterator::FallibleIterator as _;
use postgres::{Client, IsolationLevel, NoTls, Row, Statement};
use std::io::Write as _;

/// How long a fenced writer's session may sit inside a transaction doing nothing before the
/// server ends it. Appends send their statements back to back, so only a stalled process ever
/// reaches this.
const FENCED_IDLE_IN_TRANSACTION_MS: u64 = 2_000;

/// Rows fetched per round trip while scanning: large enough that the round trip is noise,
/// small enough that a page (about 100 bytes a record) stays around a megabyte.
const SCAN_PAGE_ROWS: i32 = 10_000;

/// Key of the transaction-scoped advisory lock taken while migrating, so that two processes
/// opening the same fresh database at once do not both try to create the tables. The value is
/// arbitrary ("rasid" in ASCII); it only has to be the same for every Rasid.
pub const MIGRATION_LOCK_KEY: i64 = 0x0072_6173_6964;

/// One step of a schema's history. Steps are applied in order, each at most once, and never
/// edited after release: a change to the schema is a new step. Public so the server's own
/// tables (users, sessions) migrate the same way, under a history table of their own.
#[derive(Debug)]
pub struct Migration {
    pub version: i32,
    pub description: &'static str,
    pub sql: &'static str,
    /// The oldest schema version whose builds still work on the schema this step leaves:
    /// `version` itself unless the step only adds what older builds can ignore (a nullable
    /// column they never name). Recorded with the step, so that a build older than the
    /// database — one node of a rolling upgrade, or a rollback — can tell whether it may run.
    pub oldest_compatible: i32,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        oldest_compatible: 1,
        description: "journal, snapshots and meta tables",
        sql: "
CREATE TABLE rasid_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE journal (
    seq     BIGINT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    actor   BIGINT NOT NULL,
    kind    TEXT   NOT NULL,
    body    BYTEA  NOT NULL,
    hash    BYTEA  NOT NULL
);
CREATE TABLE snapshots (
    seq         BIGINT PRIMARY KEY,
    state       BYTEA NOT NULL,
    digest      BYTEA NOT NULL,
    record_hash BYTEA NOT NULL
);
",
    },
    Migration {
        version: 2,
        oldest_compatible: 2,
        description: "writer lease (high availability)",
        // One row: who may append, under which term, until when (the database's clock, so the
        // processes' clocks never have to agree). See `crate::lease`.
        sql: "
CREATE TABLE rasid_lease (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    term       BIGINT  NOT NULL,
    holder     TEXT    NOT NULL,
    address    TEXT    NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
-- The row always exists, so an append's `FOR SHARE` on it always has something to lock: a
-- writer taking the lease then waits for appends in flight instead of racing them.
INSERT INTO rasid_lease (id, term, holder, address, expires_at)
VALUES (1, 0, '', '', '-infinity');
",
    },
    Migration {
        version: 3,
        oldest_compatible: 3,
        description: "SQL read models (see docs/sql-read-models.md)",
        // Derived from the journal by `crate::read_model`; amounts in minor units of the
        // instrument's currency, quantities in whole tonnes, times in UTC.
        sql: "
CREATE TABLE read_model_position (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL
);
INSERT INTO read_model_position (id, seq) VALUES (1, 0);
CREATE TABLE trades (
    id               BIGINT PRIMARY KEY,
    seq              BIGINT NOT NULL,
    traded_at        TIMESTAMPTZ NOT NULL,
    instrument       BIGINT NOT NULL,
    symbol           TEXT   NOT NULL,
    currency         TEXT   NOT NULL,
    price_minor      BIGINT NOT NULL,
    quantity_tonnes  BIGINT NOT NULL,
    buy_order        BIGINT NOT NULL,
    sell_order       BIGINT NOT NULL,
    buyer_account    BIGINT NOT NULL,
    seller_account   BIGINT NOT NULL,
    aggressor        TEXT   NOT NULL,
    buyer_fee_minor  BIGINT NOT NULL,
    seller_fee_minor BIGINT NOT NULL
);
CREATE INDEX trades_symbol_time ON trades (symbol, traded_at);
CREATE TABLE retirements (
    id              BIGINT PRIMARY KEY,
    seq             BIGINT NOT NULL,
    retired_at      TIMESTAMPTZ NOT NULL,
    account         BIGINT NOT NULL,
    org             BIGINT NOT NULL,
    issuance        BIGINT NOT NULL,
    project         BIGINT NOT NULL,
    vintage_year    INTEGER NOT NULL,
    quantity_tonnes BIGINT NOT NULL,
    serials         TEXT   NOT NULL,
    beneficiary     TEXT   NOT NULL,
    purpose         TEXT   NOT NULL
);
CREATE TABLE holdings (
    account         BIGINT NOT NULL,
    org             BIGINT NOT NULL,
    issuance        BIGINT NOT NULL,
    project         BIGINT NOT NULL,
    vintage_year    INTEGER NOT NULL,
    status          TEXT   NOT NULL CHECK (status IN ('available', 'reserved')),
    serial_first    BIGINT NOT NULL,
    serial_last     BIGINT NOT NULL,
    quantity_tonnes BIGINT NOT NULL,
    PRIMARY KEY (account, issuance, status, serial_first)
);
CREATE INDEX holdings_serials ON holdings (serial_first, serial_last);
CREATE TABLE orders (
    id               BIGINT PRIMARY KEY,
    instrument       BIGINT NOT NULL,
    symbol           TEXT   NOT NULL,
    account          BIGINT NOT NULL,
    org              BIGINT NOT NULL,
    side             TEXT   NOT NULL,
    price_minor      BIGINT NOT NULL,
    quantity_tonnes  BIGINT NOT NULL,
    remaining_tonnes BIGINT NOT NULL,
    status           TEXT   NOT NULL CHECK (status IN ('open', 'filled', 'cancelled')),
    updated_seq      BIGINT NOT NULL
);
CREATE TABLE auctions (
    id        BIGINT PRIMARY KEY,
    name      TEXT NOT NULL,
    rule      TEXT NOT NULL,
    opens_at  TIMESTAMPTZ NOT NULL,
    closes_at TIMESTAMPTZ NOT NULL,
    status    TEXT NOT NULL
);
CREATE TABLE auction_lots (
    auction              BIGINT  NOT NULL,
    lot                  INTEGER NOT NULL,
    instrument           BIGINT  NOT NULL,
    symbol               TEXT    NOT NULL,
    seller_account       BIGINT  NOT NULL,
    offered_tonnes       BIGINT  NOT NULL,
    reserve_price_minor  BIGINT  NOT NULL,
    clearing_price_minor BIGINT,
    sold_tonnes          BIGINT,
    bids                 BIGINT,
    bidders              BIGINT,
    PRIMARY KEY (auction, lot)
);
CREATE TABLE auction_allocations (
    auction           BIGINT  NOT NULL,
    lot               INTEGER NOT NULL,
    bid               BIGINT  NOT NULL,
    account           BIGINT  NOT NULL,
    org               BIGINT  NOT NULL,
    quantity_tonnes   BIGINT  NOT NULL,
    price_minor       BIGINT  NOT NULL,
    guaranteed_tonnes BIGINT  NOT NULL,
    PRIMARY KEY (auction, lot, bid)
);
",
    },
];

/// The newest schema version this build knows.
pub fn schema_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

const SELECT_RECORDS_FROM: &str =
    "SELECT seq, time_ms, actor, kind, body, hash FROM journal WHERE seq >= $1 ORDER BY seq";

/// Which appends a journal may make: checked inside every append transaction against the
/// lease row, which the check locks `FOR SHARE` so that a takeover (an `UPDATE` of that row)
/// waits for an append in flight and an append after the takeover sees the new term.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fence {
    /// A process without a lease (a CLI command): it appends only while no live lease exists,
    /// so it never writes beside a running `rasid serve`.
    NoLiveLease,
    /// The holder of the writer lease under this term: it appends only while the lease row
    /// still has this term. A writer that lost its lease can never append.
    Term(i64),
}

const SELECT_LEASE_FOR_SHARE: &str = "SELECT term, expires_at > now(), address FROM rasid_lease \
                                      WHERE id = 1 FOR SHARE";

/// A journal in a PostgreSQL database, in the schema the connection's `search_path` selects.
pub struct PostgresJournal {
    client: Client,
    fence: Fence,
    select_lease: Statement,
    copy_records: Statement,
    /// The encoded batch, kept between appends so its allocation is reused.
    copy_buf: Vec<u8>,
}

impl std::fmt::Debug for PostgresJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresJournal")
    }
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Database(describe(&e))
    }
}

/// The error with its causes: `postgres::Error` alone prints only its kind ("db error"), and the
/// server's message, which is what an operator needs, is its source.
fn describe(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut s = format!("PostgreSQL: {} ({})", db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            s.push_str(": ");
            s.push_str(detail);
        }
        return s;
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// Where a configuration points, for error messages. Never includes the password.
fn location(config: &postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        Some(postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().or(config.get_user()).unwrap_or("?");
    format!("{host}:{port}/{db}")
}

/// Parses and connects, naming the server (not the password) when that fails.
pub fn connect(url: &str) -> Result<Client, StoreError> {
    let config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
        StoreError::Database(format!("invalid PostgreSQL URL: {}", describe(&e)))
    })?;
    config.connect(NoTls).map_err(|e| {
        StoreError::Database(format!(
            "cannot connect to PostgreSQL at {}: {}",
            location(&config),
            describe(&e)
        ))
    })
}

fn to_i64(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v)
        .map_err(|_| StoreError::Unsupported(format!("{what} {v} does not fit in a BIGINT")))
}

fn hash_from(bytes: &[u8], seq: u64, column: &str) -> Result<Hash, StoreError> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt { seq, reason: format!("{column} is not 32 bytes") })
}

fn seq_from(seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq)
        .map_err(|_| StoreError::Corrupt { seq: 0, reason: format!("negative seq {seq}") })
}

fn record_from(row: &Row) -> Result<Record, StoreError> {
    let seq = seq_from(row.try_get(0)?)?;
    let actor: i64 = row.try_get(2)?;
    let actor = u64::try_from(actor)
        .map_err(|_| StoreError::Corrupt { seq, reason: "negative actor".into() })?;
    Ok(Record {
        seq,
        time_ms: row.try_get(1)?,
        actor,
        kind: row.try_get::<_, String>(3)?.into(),
        body: row.try_get(4)?,
        hash: hash_from(row.try_get(5)?, seq, "hash")?,
    })
}

impl PostgresJournal {
    /// Connects to `url` (`postgres://…` or `postgresql://…`), brings the schema up to date in
    /// one transaction and checks the format version.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_fenced(url, Fence::NoLiveLease)
    }

    /// Opens the journal for the holder of the writer lease under `term` (see [`crate::lease`]).
    /// The session also gets `idle_in_transaction_session_timeout`: a writer paused in the
    /// middle of an append (SIGSTOP, a long GC-like stall) would otherwise hold its lock on
    /// the lease row and stop anyone from taking over until it woke.
    pub fn open_fenced(url: &str, fence: Fence) -> Result<Self, StoreError> {
        let mut client = connect(url)?;
        if let Fence::Term(_) = fence {
            client.batch_execute(&format!(
                "SET idle_in_transaction_session_timeout = {FENCED_IDLE_IN_TRANSACTION_MS}"
            ))?;
        }
        // Acknowledging a command promises it survives a crash, so a server or role configured
        // with synchronous_commit off must not weaken that for this session. Stronger settings
        // (remote_write, remote_apply for synchronous replicas) are left as they are.
        let row = client.query_one("SELECT current_setting('synchronous_commit')", &[])?;
        let synchronous_commit: String = row.try_get(0)?;
        if synchronous_commit == "off" {
            client.batch_execute("SET synchronous_commit = on")?;
        }
        migrate(&mut client)?;
        let copy_records = client.prepare(
            "COPY journal (seq, time_ms, actor, kind, body, hash) FROM STDIN (FORMAT binary)",
        )?;
        let select_lease = client.prepare(SELECT_LEASE_FOR_SHARE)?;
        Ok(Self { client, fence, select_lease, copy_records, copy_buf: Vec::new() })
    }

    /// Whether the schema `url` selects holds a Rasid ledger, without creating one: for
    /// read-only commands such as `verify`, which should not set up an empty ledger in a
    /// mistyped database.
    pub fn exists(url: &str) -> Result<bool, StoreError> {
        let row =
            connect(url)?.query_one("SELECT to_regclass('rasid_migrations') IS NOT NULL", &[])?;
        Ok(row.try_get(0)?)
    }
}

/// Applies the migrations this database lacks and checks the format version, all in one
/// transaction: a failure leaves the database as it was.
fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK_KEY])?;
    let schema: Option<String> = tx.query_one("SELECT current_schema()", &[])?.try_get(0)?;
    if schema.is_none() {
        return Err(StoreError::Unsupported(
            "the PostgreSQL search_path names no existing schema to keep the journal in".into(),
        ));
    }
    apply_migrations(&mut tx, "rasid_migrations", MIGRATIONS)?;
    let ours = rasid_core::codec::FORMAT_VERSION.to_string();
    let stored: Option<String> = tx
        .query_opt("SELECT value FROM rasid_meta WHERE key = 'format_version'", &[])?
        .map(|r| r.try_get(0))
        .transpose()?;
    match stored {
        None => {
            tx.execute(
                "INSERT INTO rasid_meta (key, value) VALUES ('format_version', $1)",
                &[&ours],
            )?;
        }
        Some(v) if v == ours => {}
        // Snapshots are a cache of the journal; dropping them is the whole upgrade.
        Some(v) if rasid_core::codec::format_upgradable_by_dropping_snapshots(&v) => {
            tx.execute("DELETE FROM snapshots", &[])?;
            tx.execute("UPDATE rasid_meta SET value = $1 WHERE key = 'format_version'", &[&ours])?;
        }
        Some(v) => {
            return Err(StoreError::Unsupported(format!(
                "database format version {v}, this build reads {ours}"
            )));
        }
    }
    tx.commit()?;
    Ok(())
}

/// Applies the steps of `migrations` that the history table `history` does not list yet,
/// inside the caller's transaction (which should hold [`MIGRATION_LOCK_KEY`]'s lock). Refuses a
/// database newer than this build.
pub fn apply_migrations(
    tx: &mut postgres::Transaction<'_>,
    history: &str,
    migrations: &[Migration],
) -> Result<(), StoreError> {
    assert!(history.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "a plain table name");
    let newest = migrations.last().map_or(0, |m| m.version);
    assert!(
        migrations.windows(2).all(|w| w[0].version < w[1].version)
            && migrations.iter().all(|m| m.oldest_compatible <= m.version),
        "steps in order, each compatible with itself"
    );
    tx.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {history} (
            version           INTEGER PRIMARY KEY,
            description       TEXT NOT NULL,
            applied_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
            oldest_compatible INTEGER
        )"
    ))?;
    // A history table from before `oldest_compatible` gains it. Only then: ALTER TABLE needs
    // the table's owner (even with IF NOT EXISTS) and locks it, and a role that may use a
    // migrated database need not own it.
    let has_column: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns
                            WHERE table_schema = current_schema() AND table_name = $1
                              AND column_name = 'oldest_compatible')",
            &[&history],
        )?
        .try_get(0)?;
    if !has_column {
        tx.batch_execute(&format!("ALTER TABLE {history} ADD COLUMN oldest_compatible INTEGER"))?;
    }
    let applied: i32 = tx
        .query_one(&format!("SELECT COALESCE(MAX(version), 0) FROM {history}"), &[])?
        .try_get(0)?;
    if applied > newest {
        let needing = tx.query_opt(&first_incompatible_step_sql(history), &[&newest])?;
        if let Some(row) = needing {
            let (version, oldest): (i32, i32) = (row.try_get(0)?, row.try_get(1)?);
            return Err(StoreError::Unsupported(incompatible_step(
                history, version, oldest, newest,
            )));
        }
        // Every newer step left a schema this build still works on; apply nothing.
        return Ok(());
    }
    for m in migrations.iter().filter(|m| m.version > applied) {
        tx.batch_execute(m.sql)?;
        tx.execute(
            &format!(
                "INSERT INTO {history} (version, description, oldest_compatible) \
                 VALUES ($1, $2, $3)"
            ),
            &[&m.version, &m.description, &m.oldest_compatible],
        )?;
    }
    Ok(())
}

/// The query, for PostgreSQL and SQLite alike, of the first step recorded in `history` that a
/// build knowing up to schema version `$1` cannot work with. A step recorded before
/// `oldest_compatible` existed (NULL) counts as needing its own version.
pub fn first_incompatible_step_sql(history: &str) -> String {
    format!(
        "SELECT version, COALESCE(oldest_compatible, version) FROM {history} \
         WHERE version > $1 AND COALESCE(oldest_compatible, version) > $1 \
         ORDER BY version LIMIT 1"
    )
}

/// Why a build knowing up to schema version `newest` refuses a database whose `history` records
/// step `version`, which needs builds of schema version `oldest` or newer.
pub fn incompatible_step(history: &str, version: i32, oldest: i32, newest: i32) -> String {
    format!(
        "{history} records step {version}, which needs a build of schema version {oldest} or \
         newer; this build knows up to {newest}; upgrade Rasid"
    )
}

/// Encodes records in PostgreSQL's binary COPY format: a signature and two zero words, then per
/// row a field count and length-prefixed big-endian fields, then -1. Building the whole batch
/// here and sending it in one piece avoids a call into the client per row.
pub fn encode_copy(records: &[Record], out: &mut Vec<u8>) -> Result<(), StoreError> {
    fn field(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), StoreError> {
        let len = i32::try_from(bytes.len())
            .map_err(|_| StoreError::Unsupported("a journal field exceeds 2 GiB".into()))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(bytes);
        Ok(())
    }
    out.clear();
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0_i32.to_be_bytes());
    out.extend_from_slice(&0_i32.to_be_bytes());
    for r in records {
        out.extend_from_slice(&6_i16.to_be_bytes());
        field(out, &to_i64(r.seq, "sequence number")?.to_be_bytes())?;
        field(out, &r.time_ms.to_be_bytes())?;
        field(out, &to_i64(r.actor, "actor")?.to_be_bytes())?;
        field(out, r.kind.as_bytes())?;
        field(out, &r.body)?;
        field(out, &r.hash)?;
    }
    out.extend_from_slice(&(-1_i16).to_be_bytes());
    Ok(())
}

/// Checks, inside `tx`, that `fence` still allows appending, and locks the lease row against a
/// takeover until `tx` ends.
fn check_fence(
    tx: &mut postgres::Transaction<'_>,
    select_lease: &Statement,
    fence: Fence,
) -> Result<(), StoreError> {
    let row = tx.query_one(select_lease, &[])?;
    let term: i64 = row.try_get(0)?;
    let live: bool = row.try_get(1)?;
    match fence {
        Fence::Term(ours) if ours == term => Ok(()),
        Fence::Term(ours) => Err(StoreError::Fenced(format!(
            "this process's writer lease (term {ours}) was taken over (term {term} now)"
        ))),
        Fence::NoLiveLease if !live => Ok(()),
        Fence::NoLiveLease => {
            let address: String = row.try_get(2)?;
            Err(StoreError::Fenced(format!(
                "a rasid serve holds the writer lease of this database (term {term}, {address}); \
                 send commands through its API"
            )))
        }
    }
}

fn insert_snapshot(tx: &mut postgres::Transaction<'_>, s: &Snapshot) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO snapshots (seq, state, digest, record_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (seq) DO UPDATE
         SET state = EXCLUDED.state, digest = EXCLUDED.digest, record_hash = EXCLUDED.record_hash",
        &[&to_i64(s.seq, "sequence number")?, &s.state, &&s.digest[..], &&s.record_hash[..]],
    )?;
    tx.execute(
        "DELETE FROM snapshots WHERE seq NOT IN
         (SELECT seq FROM snapshots ORDER BY seq DESC LIMIT $1)",
        &[&i64::from(SNAPSHOTS_RETAINED)],
    )?;
    Ok(())
}

impl Journal for PostgresJournal {
    fn head(&mut self) -> Result<Option<(u64, Hash)>, StoreError> {
        let row = self
            .client
            .query_opt("SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1", &[])?;
        row.map(|r| {
            let seq = seq_from(r.try_get(0)?)?;
            Ok((seq, hash_from(r.try_get(1)?, seq, "hash")?))
        })
        .transpose()
    }

    fn append(
        &mut self,
        records: &[Record],
        snapshot: Option<&Snapshot>,
    ) -> Result<(), StoreError> {
        encode_copy(records, &mut self.copy_buf)?;
        let mut tx = self.client.transaction()?;
        check_fence(&mut tx, &self.select_lease, self.fence)?;
        if !records.is_empty() {
            let mut writer = tx.copy_in(&self.copy_records)?;
            writer.write_all(&self.copy_buf).map_err(|e| StoreError::Database(e.to_string()))?;
            let copied = writer.finish()?;
            if copied != records.len() as u64 {
                return Err(StoreError::Database(format!(
                    "COPY stored {copied} of {} journal records",
                    records.len()
                )));
            }
        }
        if let Some(s) = snapshot {
            insert_snapshot(&mut tx, s)?;
        }
        tx.commit()?;
        Ok(())
    }

    fn scan(
        &mut self,
        from: u64,
        visit: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // One read-only snapshot of the database for the whole scan, like SQLite's read
        // transaction, so a scan never mixes pages from before and after a concurrent append.
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let portal = tx.bind(SELECT_RECORDS_FROM, &[&to_i64(from, "sequence number")?])?;
        loop {
            // Rows are visited as they arrive rather than after the whole page, so decoding
            // overlaps with the server producing the rest of the page.
            let mut rows = tx.query_portal_raw(&portal, SCAN_PAGE_ROWS)?;
            let mut count = 0;
            while let Some(row) = rows.next()? {
                count += 1;
                visit(record_from(&row)?)?;
            }
            if count < SCAN_PAGE_ROWS {
                break;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn record(&mut self, seq: u64) -> Result<Option<Record>, StoreError> {
        let row = self.client.query_opt(
            "SELECT seq, time_ms, actor, kind, body, hash FROM journal WHERE seq = $1",
            &[&to_i64(seq, "sequence number")?],
        )?;
        row.as_ref().map(record_from).transpose()
    }

    fn latest_snapshot(&mut self) -> Result<Option<Snapshot>, StoreError> {
        let row = self.client.query_opt(
            "SELECT seq, state, digest, record_hash FROM snapshots ORDER BY seq DESC LIMIT 1",
            &[],
        )?;
        row.map(|r| {
            let seq = seq_from(r.try_get(0)?)?;
            Ok(Snapshot {
                seq,
                state: r.try_get(1)?,
                digest: hash_from(r.try_get(2)?, seq, "snapshot digest")?,
                record_hash: hash_from(r.try_get(3)?, seq, "snapshot record hash")?,
            })
        })
        .transpose()
    }

    fn snapshot_digests(&mut self) -> Result<Vec<(u64, Hash)>, StoreError> {
        let rows = self.client.query("SELECT seq, digest FROM snapshots ORDER BY seq", &[])?;
        rows.iter()
            .map(|r| {
                let seq = seq_from(r.try_get(0)?)?;
                Ok((seq, hash_from(r.try_get(1)?, seq, "snapshot digest")?))
            })
            .collect()
    }

    fn save_snapshot(&mut self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let mut tx = self.client.transaction()?;
        check_fence(&mut tx, &self.select_lease, self.fence)?;
        insert_snapshot(&mut tx, snapshot)?;
        tx.commit()?;
        Ok(())
    }
}

/// A schema of its own in an existing database, for a test or a benchmark that must see nobody
/// else's tables and may run beside others. Its URL selects it through `search_path`. Dropping
/// the value drops the schema and everything in it.
#[derive(Debug)]
pub struct ScratchSchema {
    base_url: String,
    name: String,
    url: String,
}

impl ScratchSchema {
    /// Creates a uniquely named schema `PREFIX_…` in the database `base_url` names.
    pub fn create(base_url: &str, prefix: &str) -> Result<Self, StoreError> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let simple = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
        if prefix.is_empty() || !prefix.chars().all(simple) {
            return Err(StoreError::Unsupported(format!(
                "schema prefix {prefix:?} must be lowercase letters, digits and underscores"
            )));
        }
        let config: postgres::Config = base_url.parse().map_err(|e: postgres::Error| {
            StoreError::Database(format!("invalid PostgreSQL URL: {}", describe(&e)))
        })?;
        if config.get_options().is_some() {
            return Err(StoreError::Unsupported(
                "the PostgreSQL URL already sets options; a scratch schema needs its own".into(),
            ));
        }
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "{prefix}_{}_{}_{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        connect(base_url)?.batch_execute(&format!("CREATE SCHEMA {name}"))?;
        // `options` is a query parameter, so its value is percent-encoded: `%3D` is `=`.
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}options=-csearch_path%3D{name}");
        Ok(Self { base_url: base_url.to_owned(), name, url })
    }

    /// The URL of a connection that keeps its tables in this schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ScratchSchema {
    fn drop(&mut self) {
        // Best effort: a schema left behind by a failed drop is litter, not a wrong result.
        if let Ok(mut client) = connect(&self.base_url) {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}
