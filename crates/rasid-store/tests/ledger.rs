//! The durable ledger over each real backend — an SQLite file and a PostgreSQL schema —
//! recovery, snapshots, group commit, verification and tamper detection. Every test runs once per
//! backend (`name::sqlite`, `name::postgres`); only the tampering SQL differs between them.

use rasid_core::model::{Program, ProjectInfo, Role};
use rasid_core::{AccountId, Command, IssuanceId, OrgId, ProjectId, Rejection, Selection};
use rasid_store::journal::chain_hash;
use rasid_store::testing::postgres_test_url;
use rasid_store::{
    Config, GENESIS_HASH, Journal, Ledger, PostgresJournal, Record, ScratchSchema, SqliteJournal,
    StoreError, SubmitError, verify,
};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Whether this backend's variant of `test` runs here. A missing PostgreSQL server skips
    /// with a notice on a developer's machine and fails in CI.
    fn available(self, test: &str) -> bool {
        match self {
            Backend::Sqlite => true,
            Backend::Postgres => {
                postgres_test_url(test).unwrap_or_else(|e| panic!("{e}")).is_some()
            }
        }
    }
}

/// Runs each named test function once per backend, as `name::sqlite` and `name::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use super::Backend;
            #[test]
            fn sqlite() {
                super::$name(Backend::Sqlite);
            }
            #[test]
            fn postgres() {
                if Backend::Postgres.available(stringify!($name)) {
                    super::$name(Backend::Postgres);
                }
            }
        }
    )*};
}

on_both_backends!(
    commands_survive_reopen_and_rejections_are_not_journaled,
    recovery_from_snapshot_plus_tail_equals_replay_from_genesis,
    concurrent_submitters_are_group_committed_in_one_dense_sequence,
    queued_commands_are_awaited_without_a_thread_each_and_share_commits,
    one_altered_byte_in_a_record_body_is_named_by_verify,
    altered_hash_time_or_missing_record_is_named_by_verify,
    a_corrupt_snapshot_is_refused_at_recovery,
    a_snapshot_that_differs_from_the_replay_is_refused_by_the_one_pass_open,
    scan_streams_every_record_in_order_across_pages,
    a_failed_append_stores_nothing_of_its_batch,
    another_format_version_is_refused,
    regression_a_format_1_database_opens_by_dropping_its_snapshots,
    the_feed_sees_every_durable_command_once_in_order_and_replay_rebuilds_it,
);

/// A fresh place for one journal: a file in its own directory, or a schema of its own in the
/// test server's database, so tests run in parallel without seeing each other.
enum Place {
    Sqlite { _dir: tempfile::TempDir, path: PathBuf },
    Postgres(ScratchSchema),
}

impl Place {
    fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("l.db");
                Place::Sqlite { _dir: dir, path }
            }
            Backend::Postgres => {
                let base = postgres_test_url("store test").unwrap().expect("checked by available");
                Place::Postgres(ScratchSchema::create(&base, "rasid_store_test").unwrap())
            }
        }
    }

    fn journal(&self) -> Box<dyn Journal> {
        self.try_journal().unwrap()
    }

    fn try_journal(&self) -> Result<Box<dyn Journal>, StoreError> {
        Ok(match self {
            Place::Sqlite { path, .. } => Box::new(SqliteJournal::open(path)?),
            Place::Postgres(schema) => Box::new(PostgresJournal::open(schema.url())?),
        })
    }

    /// Runs tampering SQL straight against the database, behind the journal's back.
    fn tamper(&self, sqlite: &str, postgres: &str) {
        match self {
            Place::Sqlite { path, .. } => {
                rusqlite::Connection::open(path).unwrap().execute_batch(sqlite).unwrap();
            }
            Place::Postgres(schema) => {
                postgres::Client::connect(schema.url(), postgres::NoTls)
                    .unwrap()
                    .batch_execute(postgres)
                    .unwrap();
            }
        }
    }

    fn body(&self, seq: i64) -> Vec<u8> {
        let sql = "SELECT body FROM journal WHERE seq = ";
        match self {
            Place::Sqlite { path, .. } => rusqlite::Connection::open(path)
                .unwrap()
                .query_row(&format!("{sql}?1"), [seq], |r| r.get(0))
                .unwrap(),
            Place::Postgres(schema) => postgres::Client::connect(schema.url(), postgres::NoTls)
                .unwrap()
                .query_one(&format!("{sql}$1"), &[&seq])
                .unwrap()
                .get(0),
        }
    }

    fn set_body(&self, seq: i64, body: &[u8]) {
        let sql = "UPDATE journal SET body = ";
        match self {
            Place::Sqlite { path, .. } => {
                let n = rusqlite::Connection::open(path)
                    .unwrap()
                    .execute(&format!("{sql}?1 WHERE seq = ?2"), rusqlite::params![body, seq])
                    .unwrap();
                assert_eq!(n, 1);
            }
            Place::Postgres(schema) => {
                let n = postgres::Client::connect(schema.url(), postgres::NoTls)
                    .unwrap()
                    .execute(&format!("{sql}$1 WHERE seq = $2"), &[&body, &seq])
                    .unwrap();
                assert_eq!(n, 1);
            }
        }
    }
}

fn clock() -> rasid_store::Clock {
    let t = Arc::new(AtomicI64::new(1_700_000_000_000));
    Box::new(move || t.fetch_add(1, Ordering::Relaxed))
}

fn open(place: &Place, config: Config) -> Ledger {
    Ledger::open(place.journal(), config, clock()).unwrap()
}

const OPERATOR: OrgId = OrgId(1);
const REGISTRAR: OrgId = OrgId(2);
const MEMBER: OrgId = OrgId(3);
const MEMBER_ACC: AccountId = AccountId(3);
const OTHER_ACC: AccountId = AccountId(4);

/// Genesis, one member with two accounts, a project and a 1,000,000 t issuance.
fn seed(ledger: &Ledger) {
    let cmds = vec![
        (OrgId(0), Command::Genesis { operator_name: "Op".into(), registrar_name: "Reg".into() }),
        (OPERATOR, Command::CreateOrganization { name: "Member".into(), role: Role::Member }),
        (OPERATOR, Command::OpenAccount { org: MEMBER, name: "A".into() }),
        (OPERATOR, Command::OpenAccount { org: MEMBER, name: "B".into() }),
        (
            REGISTRAR,
            Command::RegisterProject {
                info: Box::new(ProjectInfo {
                    country: "Uzbekistan".into(),
                    region: "Central Asia".into(),
                    ..rasid_core::testing::project(
                        Program::GoldStandard,
                        "GS1",
                        "Cookstoves",
                        MEMBER,
                    )
                }),
            },
        ),
        (
            REGISTRAR,
            Command::Issue {
                project: ProjectId(1),
                vintage_year: 2022,
                quantity_tonnes: 1_000_000,
                buffer_tonnes: 0,
                to_account: MEMBER_ACC,
                first_serial: None,
                external_ref: None,
            },
        ),
    ];
    for r in ledger.submit_batch(cmds).unwrap() {
        r.unwrap();
    }
}

fn transfer(from: AccountId, to: AccountId, q: u64) -> Command {
    Command::Transfer { from, to, issuance: IssuanceId(1), selection: Selection::Quantity(q) }
}

fn commands_survive_reopen_and_rejections_are_not_journaled(backend: Backend) {
    let place = Place::new(backend);
    let ledger = open(&place, Config::default());
    seed(&ledger);
    let c = ledger.submit(MEMBER, transfer(MEMBER_ACC, OTHER_ACC, 10)).unwrap();
    assert_eq!(c.seq, 7);
    let err = ledger.submit(MEMBER, transfer(MEMBER_ACC, OTHER_ACC, 2_000_000));
    assert_eq!(err, Err(SubmitError::Rejected(Rejection::InsufficientCredits)));
    let held = ledger
        .query(|s| s.holding(OTHER_ACC, IssuanceId(1)).map(|h| h.available.quantity_tonnes()))
        .unwrap();
    assert_eq!(held, Some(10));
    let (head_seq, head_hash) = ledger.head();
    assert_eq!(head_seq, 7);
    drop(ledger.close().unwrap());

    let ledger = open(&place, Config::default());
    assert_eq!(ledger.head(), (7, head_hash));
    let held = ledger
        .query(|s| s.holding(OTHER_ACC, IssuanceId(1)).map(|h| h.available.quantity_tonnes()))
        .unwrap();
    assert_eq!(held, Some(10));
    let mut journal = ledger.close().unwrap();
    let report = verify(journal.as_mut()).unwrap();
    assert_eq!(report.commands, 7);
    assert_eq!(report.totals.issued_tonnes, 1_000_000);
}

fn recovery_from_snapshot_plus_tail_equals_replay_from_genesis(backend: Backend) {
    let place = Place::new(backend);
    let config = Config { snapshot_interval: 7, snapshot_on_close_min: 1 };
    let ledger = open(&place, config);
    seed(&ledger);
    for i in 0..40 {
        let (from, to) = if i % 3 == 2 { (OTHER_ACC, MEMBER_ACC) } else { (MEMBER_ACC, OTHER_ACC) };
        ledger.submit(MEMBER, transfer(from, to, 5)).unwrap();
    }
    let mut journal = ledger.close().unwrap();
    let snaps = journal.snapshot_digests().unwrap();
    assert_eq!(
        snaps.iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![35, 42, 46],
        "3 retained, last on close"
    );
    let report = verify(journal.as_mut()).unwrap();
    assert_eq!(report.snapshots_checked, 3);
    drop(journal);

    let ledger = open(&place, config);
    assert_eq!(ledger.recovery().snapshot_seq, 46);
    assert_eq!(ledger.recovery().replayed, 0);
    let tonnes = ledger
        .query(|s| s.holding(OTHER_ACC, IssuanceId(1)).unwrap().available.quantity_tonnes())
        .unwrap();
    assert_eq!(tonnes, 27 * 5 - 13 * 5);
}

fn concurrent_submitters_are_group_committed_in_one_dense_sequence(backend: Backend) {
    let place = Place::new(backend);
    let ledger = Arc::new(open(&place, Config::default()));
    seed(&ledger);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let ledger = ledger.clone();
            std::thread::spawn(move || {
                (0..200)
                    .map(|_| ledger.submit(MEMBER, transfer(MEMBER_ACC, OTHER_ACC, 1)).unwrap().seq)
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seqs: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (7..7 + 1_600).collect::<Vec<_>>());
    let ledger = Arc::into_inner(ledger).unwrap();
    let mut journal = ledger.close().unwrap();
    let report = verify(journal.as_mut()).unwrap();
    assert_eq!(report.commands, 1_606);
    assert_eq!(report.totals.held_tonnes, 1_000_000);
}

/// Polls `future` to completion on this thread, parking between wake-ups: enough of an
/// executor to show that a ticket wakes its task, without an async runtime in this crate.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

/// The HTTP server's path: commands queued without blocking (`try_submit_async`), their
/// tickets awaited. Every command is answered once durable, in one dense sequence, and
/// commands queued together share commits instead of taking one each.
fn queued_commands_are_awaited_without_a_thread_each_and_share_commits(backend: Backend) {
    let place = Place::new(backend);
    let ledger = open(&place, Config::default());
    seed(&ledger);
    let (commits_before, records_before) = ledger.stats();
    let n = 1_000u64;
    let tickets: Vec<_> = (0..n)
        .map(|_| match ledger.try_submit_async(MEMBER, transfer(MEMBER_ACC, OTHER_ACC, 1)) {
            Ok(ticket) => ticket,
            // Below REQUEST_QUEUE_MAX queued at once, but a full queue is not an error: wait.
            Err(rasid_store::QueueFull(actor, command)) => ledger.submit_async(actor, *command),
        })
        .collect();
    let seqs: Vec<u64> = tickets.into_iter().map(|t| block_on(t).unwrap().seq).collect();
    assert_eq!(seqs, (7..7 + n).collect::<Vec<_>>());
    let (commits, records) = ledger.stats();
    assert_eq!(records - records_before, n);
    assert!(
        commits - commits_before < n,
        "{} commits for {n} queued commands: none shared a commit",
        commits - commits_before
    );
    // A refused command is answered through its ticket as well, and changes nothing.
    let refused = ledger.submit_async(MEMBER, transfer(MEMBER_ACC, OTHER_ACC, 10_000_000));
    assert!(matches!(block_on(refused), Err(SubmitError::Rejected(_))));
    let mut journal = ledger.close().unwrap();
    assert_eq!(verify(journal.as_mut()).unwrap().commands, 6 + n);
}

/// Builds a small verified journal (16 records) in a fresh place.
fn small_journal(backend: Backend) -> Place {
    let place = Place::new(backend);
    let ledger = open(&place, Config { snapshot_interval: 0, snapshot_on_close_min: u64::MAX });
    seed(&ledger);
    for _ in 0..10 {
        ledger.submit(MEMBER, transfer(MEMBER_ACC, OTHER_ACC, 3)).unwrap();
    }
    drop(ledger.close().unwrap());
    verify(place.journal().as_mut()).unwrap();
    place
}

fn corrupt_seq(place: &Place) -> u64 {
    match verify(place.journal().as_mut()) {
        Err(StoreError::Corrupt { seq, .. }) => seq,
        other => panic!("verify should fail, got {other:?}"),
    }
}

fn one_altered_byte_in_a_record_body_is_named_by_verify(backend: Backend) {
    let place = small_journal(backend);
    for seq in [1_i64, 9, 16] {
        let body = place.body(seq);
        let mut altered = body.clone();
        let last = altered.len() - 1;
        altered[last] ^= 0x01;
        place.set_body(seq, &altered);
        assert_eq!(corrupt_seq(&place), seq as u64);
        place.set_body(seq, &body);
    }
    verify(place.journal().as_mut()).unwrap();
}

fn altered_hash_time_or_missing_record_is_named_by_verify(backend: Backend) {
    let place = small_journal(backend);
    place.tamper(
        "UPDATE journal SET hash = zeroblob(32) WHERE seq = 12",
        "UPDATE journal SET hash = decode(repeat('00', 32), 'hex') WHERE seq = 12",
    );
    assert_eq!(corrupt_seq(&place), 12);

    let place = small_journal(backend);
    let sql = "UPDATE journal SET time_ms = time_ms + 1 WHERE seq = 5";
    place.tamper(sql, sql);
    assert_eq!(corrupt_seq(&place), 5);

    let place = small_journal(backend);
    let sql = "DELETE FROM journal WHERE seq = 8";
    place.tamper(sql, sql);
    assert_eq!(corrupt_seq(&place), 9);
}

fn a_corrupt_snapshot_is_refused_at_recovery(backend: Backend) {
    let place = Place::new(backend);
    let ledger = open(&place, Config { snapshot_interval: 0, snapshot_on_close_min: 1 });
    seed(&ledger);
    drop(ledger.close().unwrap());
    place.tamper(
        "UPDATE snapshots SET state = CAST(state || x'00' AS BLOB)",
        r"UPDATE snapshots SET state = state || '\x00'::bytea",
    );
    let err = Ledger::open(place.journal(), Config::default(), clock()).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { seq: 6, .. }), "{err}");
}

/// The server's open replays from genesis without reading the latest snapshot; it still checks
/// that snapshot's digest when the replay passes it (before, only `rasid verify` and recovery
/// from the snapshot would notice a snapshot that is not the state the journal leads to).
fn a_snapshot_that_differs_from_the_replay_is_refused_by_the_one_pass_open(backend: Backend) {
    let place = Place::new(backend);
    let ledger = open(&place, Config { snapshot_interval: 0, snapshot_on_close_min: 1 });
    seed(&ledger);
    drop(ledger.close().unwrap());
    let fed = std::cell::Cell::new(0);
    let mut feed = |batch: &[rasid_store::Committed]| fed.set(fed.get() + batch.len());
    assert!(rasid_store::follower::Follower::open_feeding(place.journal(), 0, &mut feed).is_ok());
    assert_eq!(fed.get(), 6, "an intact ledger opens and feeds every command");
    place.tamper(
        "UPDATE snapshots SET digest = zeroblob(32)",
        r"UPDATE snapshots SET digest = decode(repeat('00', 32), 'hex')",
    );
    let Err(err) = rasid_store::follower::Follower::open_feeding(place.journal(), 0, &mut |_| {})
    else {
        panic!("a snapshot that differs from the replay is refused");
    };
    assert!(matches!(err, StoreError::Corrupt { seq: 6, .. }), "{err}");
}

/// `n` chained records with bodies that differ in length and content, starting at `first`.
fn chained_records(first: u64, n: u64, mut previous: [u8; 32]) -> Vec<Record> {
    (first..first + n)
        .map(|seq| {
            let body: Vec<u8> = (0..seq % 97).map(|i| (seq + i) as u8).collect();
            previous = chain_hash(&previous, &body);
            Record {
                seq,
                time_ms: 1_700_000_000_000 + seq as i64,
                actor: seq % 7,
                kind: format!("kind{}", seq % 5).into(),
                body,
                hash: previous,
            }
        })
        .collect()
}

/// More records than one scan page (10,000 on PostgreSQL) come back complete and in order,
/// from the start and from the middle, and single look-ups agree with the scan.
fn scan_streams_every_record_in_order_across_pages(backend: Backend) {
    let place = Place::new(backend);
    let mut journal = place.journal();
    assert_eq!(journal.head().unwrap(), None);
    let records = chained_records(1, 25_001, GENESIS_HASH);
    for batch in records.chunks(4_096) {
        journal.append(batch, None).unwrap();
    }
    let last = records.last().unwrap();
    assert_eq!(journal.head().unwrap(), Some((last.seq, last.hash)));
    for from in [1_u64, 12_345, 25_001, 25_002] {
        let mut seen = Vec::new();
        journal
            .scan(from, &mut |r| {
                seen.push(r);
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, records[(from - 1) as usize..], "scan from {from}");
    }
    assert_eq!(journal.record(10_001).unwrap().as_ref(), Some(&records[10_000]));
    assert_eq!(journal.record(30_000).unwrap(), None);

    // A visitor's error stops the scan at once and comes back unchanged.
    let mut visited = 0;
    let err = journal
        .scan(1, &mut |r| {
            visited += 1;
            if r.seq == 15_000 {
                Err(StoreError::Corrupt { seq: r.seq, reason: "stop".into() })
            } else {
                Ok(())
            }
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { seq: 15_000, .. }), "{err}");
    assert_eq!(visited, 15_000);
    // The connection is usable after a scan abandoned in the middle of a page.
    assert_eq!(journal.head().unwrap(), Some((last.seq, last.hash)));
    journal.append(&chained_records(25_002, 1, last.hash), None).unwrap();
    assert_eq!(journal.record(25_002).unwrap().map(|r| r.seq), Some(25_002));
}

/// A batch that cannot be stored whole is not stored at all: the transaction is the batch.
fn a_failed_append_stores_nothing_of_its_batch(backend: Backend) {
    let place = Place::new(backend);
    let mut journal = place.journal();
    let records = chained_records(1, 300, GENESIS_HASH);
    journal.append(&records[..5], None).unwrap();
    // Records 6..=10 followed by a second copy of record 3, which the primary key refuses.
    let mut bad = records[5..10].to_vec();
    bad.push(records[2].clone());
    let err = journal.append(&bad, None).unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err}");
    assert_eq!(journal.head().unwrap(), Some((5, records[4].hash)));
    // The same with the duplicate inside a full multi-row statement (SQLite writes 64 rows
    // per statement) that follows statements which succeeded: none of them is kept either.
    let mut bad = records[5..].to_vec();
    bad.insert(150, records[2].clone());
    let err = journal.append(&bad, None).unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err}");
    assert_eq!(journal.head().unwrap(), Some((5, records[4].hash)));
    // The connection is usable again after the failed transactions.
    journal.append(&records[5..], None).unwrap();
    assert_eq!(journal.head().unwrap(), Some((300, records[299].hash)));
    let mut seen = Vec::new();
    journal
        .scan(1, &mut |r| {
            seen.push(r);
            Ok(())
        })
        .unwrap();
    assert_eq!(seen, records);
}

fn another_format_version_is_refused(backend: Backend) {
    let place = Place::new(backend);
    drop(place.journal());
    let sql = "UPDATE rasid_meta SET value = '999' WHERE key = 'format_version'";
    place.tamper(sql, sql);
    let err = place.try_journal().unwrap_err();
    assert!(
        matches!(err, StoreError::Unsupported(ref m) if m.contains("format version 999")),
        "{err}"
    );
}

/// Formats 2 and 3 changed only the snapshot encoding (the exchange's order arena, then
/// holdings without reserved serials): a database written by format 1 or 2 must still open,
/// replaying its journal instead of decoding a snapshot it cannot read, and must end in the
/// same state.
fn regression_a_format_1_database_opens_by_dropping_its_snapshots(backend: Backend) {
    let place = Place::new(backend);
    let ledger = open(&place, Config { snapshot_interval: 0, snapshot_on_close_min: 1 });
    seed(&ledger);
    let digest = ledger.query(rasid_core::codec::digest_state).unwrap();
    drop(ledger.close().unwrap());
    for old in ["1", "2"] {
        // Stamp it as an older format: its snapshot is then one this build must not try to
        // decode. Closing writes a snapshot of the current format for the next round.
        let sql = format!("UPDATE rasid_meta SET value = '{old}' WHERE key = 'format_version'");
        place.tamper(&sql, &sql);
        let config = Config { snapshot_interval: 0, snapshot_on_close_min: 1 };
        let ledger = Ledger::open(place.journal(), config, clock()).unwrap();
        let recovery = ledger.recovery().snapshot_seq;
        assert_eq!(recovery, 0, "format {old}: the old snapshot was dropped, not decoded");
        assert_eq!(ledger.query(rasid_core::codec::digest_state).unwrap(), digest);
        drop(ledger.close().unwrap());
    }
    // A format older than the journal's own is still refused.
    let sql = "UPDATE rasid_meta SET value = '0' WHERE key = 'format_version'";
    place.tamper(sql, sql);
    assert!(place.try_journal().is_err());
}

/// What only the PostgreSQL backend has: versioned migrations and a network connection.
mod postgres_only {
    use super::*;

    fn schema(test: &str) -> Option<ScratchSchema> {
        let base = postgres_test_url(test).unwrap_or_else(|e| panic!("{e}"))?;
        Some(ScratchSchema::create(&base, "rasid_store_test").unwrap())
    }

    fn migrations(schema: &ScratchSchema) -> Vec<(i32, String)> {
        postgres::Client::connect(schema.url(), postgres::NoTls)
            .unwrap()
            .query("SELECT version, description FROM rasid_migrations ORDER BY version", &[])
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    }

    #[test]
    fn migrations_are_recorded_once_and_a_newer_schema_is_refused() {
        let Some(schema) = schema("migrations_are_recorded_once_and_a_newer_schema_is_refused")
        else {
            return;
        };
        drop(PostgresJournal::open(schema.url()).unwrap());
        let applied = migrations(&schema);
        let versions: Vec<i32> = applied.iter().map(|(v, _)| *v).collect();
        assert_eq!(versions, (1..=rasid_store::postgres::schema_version()).collect::<Vec<_>>());
        drop(PostgresJournal::open(schema.url()).unwrap());
        assert_eq!(migrations(&schema), applied, "reopening applies nothing again");

        postgres::Client::connect(schema.url(), postgres::NoTls)
            .unwrap()
            .execute(
                "INSERT INTO rasid_migrations (version, description) VALUES (99, 'future')",
                &[],
            )
            .unwrap();
        let err = PostgresJournal::open(schema.url()).unwrap_err();
        assert!(
            matches!(err, StoreError::Unsupported(ref m) if m.contains("schema version 99")),
            "{err}"
        );
        // A newer step that says builds of this version still work on its schema (a rolling
        // upgrade's other nodes, or a rollback) is accepted, and nothing is applied.
        let client = || postgres::Client::connect(schema.url(), postgres::NoTls).unwrap();
        let ours = rasid_store::postgres::schema_version();
        client()
            .execute(
                "UPDATE rasid_migrations SET oldest_compatible = $1 WHERE version = 99",
                &[&ours],
            )
            .unwrap();
        drop(PostgresJournal::open(schema.url()).expect("a compatible newer step"));
        assert_eq!(migrations(&schema).len(), applied.len() + 1);
        client()
            .execute(
                "UPDATE rasid_migrations SET oldest_compatible = $1 WHERE version = 99",
                &[&(ours + 1)],
            )
            .unwrap();
        let err = PostgresJournal::open(schema.url()).unwrap_err();
        assert!(matches!(err, StoreError::Unsupported(ref m) if m.contains("step 99")), "{err}");
    }

    /// Several processes starting against one empty database at once must not race each other
    /// into duplicate-table errors: the migration takes an advisory lock.
    #[test]
    fn concurrent_first_opens_all_succeed() {
        let Some(schema) = schema("concurrent_first_opens_all_succeed") else {
            return;
        };
        let url = schema.url().to_owned();
        let opens: Vec<_> = (0..6)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || PostgresJournal::open(&url).map(drop))
            })
            .collect();
        for open in opens {
            open.join().unwrap().unwrap();
        }
        let expected = usize::try_from(rasid_store::postgres::schema_version()).unwrap();
        assert_eq!(migrations(&schema).len(), expected, "each migration applied once");
    }

    /// No server is needed to check that a refused connection is an error naming the server,
    /// not a panic and not the password.
    #[test]
    fn an_unreachable_server_is_a_clear_error() {
        let err = PostgresJournal::open("postgres://rasid:s3cret@127.0.0.1:1/ledger").unwrap_err();
        let message = err.to_string();
        assert!(matches!(err, StoreError::Database(_)), "{message}");
        assert!(
            message.contains("cannot connect to PostgreSQL at 127.0.0.1:1/ledger"),
            "{message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
        let err = PostgresJournal::open("postgres://127.0.0.1:notaport/x").unwrap_err();
        assert!(err.to_string().contains("invalid PostgreSQL URL"), "{err}");
    }
}

/// The after-commit feed gets each accepted command exactly once, in journal order, with the
/// events its caller got; rejected commands never reach it; and replaying the journal gives a
/// read model the same commands (how the server rebuilds market data at open).
fn the_feed_sees_every_durable_command_once_in_order_and_replay_rebuilds_it(backend: Backend) {
    let place = Place::new(backend);
    let seen = Arc::new(std::sync::Mutex::new(Vec::<rasid_store::Committed>::new()));
    let feed: rasid_store::Feed = {
        let seen = seen.clone();
        Box::new(move |batch| seen.lock().unwrap().extend_from_slice(batch))
    };
    let ledger =
        Ledger::open_with_feed(place.journal(), Config::default(), clock(), Some(feed)).unwrap();
    seed(&ledger);
    let mut replies = Vec::new();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    (0..50)
                        .map(|_| {
                            let transfer = Command::Transfer {
                                from: MEMBER_ACC,
                                to: OTHER_ACC,
                                issuance: IssuanceId(1),
                                selection: Selection::Quantity(1),
                            };
                            ledger.submit(MEMBER, transfer).unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            replies.extend(h.join().unwrap());
        }
    });
    let refused = Command::Transfer {
        from: MEMBER_ACC,
        to: OTHER_ACC,
        issuance: IssuanceId(1),
        selection: Selection::Quantity(u64::MAX / 2),
    };
    assert!(ledger.submit(MEMBER, refused).is_err());
    let (head, _) = ledger.head();
    let stats = ledger.stats_shared();
    assert!(stats.rejections.lock().unwrap().values().sum::<u64>() >= 1);
    drop(ledger.close().unwrap());
    let seen = seen.lock().unwrap().clone();
    let seqs: Vec<u64> = seen.iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=head).collect::<Vec<_>>(), "each durable command once, in order");
    for reply in &replies {
        assert_eq!(
            &seen[usize::try_from(reply.seq - 1).unwrap()],
            reply,
            "same events as the caller's"
        );
    }
    let mut replayed = Vec::new();
    let n =
        rasid_store::replay_committed(place.journal().as_mut(), &mut |c| replayed.push(c)).unwrap();
    assert_eq!(n, head);
    assert_eq!(replayed, seen);
}

/// The SQLite journal checkpoints its write-ahead log on a thread of its own; the ledger's
/// counters (what `/metrics` shows) follow what that thread did. SQLite only: PostgreSQL's server
/// checkpoints by itself.
#[test]
fn the_ledger_counts_the_sqlite_journals_background_checkpoints() {
    let place = Place::new(Backend::Sqlite);
    let ledger = open(&place, Config::default());
    seed(&ledger);
    let counters = ledger.stats_shared().checkpoints.clone().expect("SQLite counts checkpoints");
    // A transfer's record is ≈ 100 bytes, so ≈ 40,000 of them fill the 1,000 pages after
    // which the checkpointer is woken; the bound is ten times that.
    let requests_max = 400;
    let mut requests = 0;
    while counters.stats().background == 0 {
        assert!(requests < requests_max, "no background checkpoint after {requests} requests");
        let batch = (0..1_000).map(|_| (MEMBER, transfer(MEMBER_ACC, OTHER_ACC, 1))).collect();
        assert!(ledger.submit_batch(batch).unwrap().iter().all(Result::is_ok));
        requests += 1;
    }
    let stats = counters.stats();
    assert_eq!(
        stats.by_writer, 0,
        "the log stayed far below the length at which the writer steps in"
    );
    assert_eq!(stats.failed, 0);
    drop(ledger.close().unwrap());
}
