//! The durable ledger over a real SQLite file: recovery, snapshots, group commit, verification
//! and tamper detection.

use rasid_core::model::{Basis, Effect, Program, ProjectInfo, Role};
use rasid_core::{AccountId, Command, IssuanceId, OrgId, ProjectId, Rejection, Selection};
use rasid_store::{Config, Ledger, SqliteJournal, StoreError, SubmitError, verify};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

fn clock() -> rasid_store::Clock {
    let t = Arc::new(AtomicI64::new(1_700_000_000_000));
    Box::new(move || t.fetch_add(1, Ordering::Relaxed))
}

fn open(path: &Path, config: Config) -> Ledger {
    Ledger::open(Box::new(SqliteJournal::open(path).unwrap()), config, clock()).unwrap()
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
                info: ProjectInfo {
                    program: Program::GoldStandard,
                    external_id: "GS1".into(),
                    name: "Cookstoves".into(),
                    methodology: String::new(),
                    country: "Uzbekistan".into(),
                    region: "Central Asia".into(),
                    scope: String::new(),
                    project_type: String::new(),
                    effect: Effect::Reduction,
                    basis: Basis::Technology,
                    developer: MEMBER,
                },
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

#[test]
fn commands_survive_reopen_and_rejections_are_not_journaled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let ledger = open(&path, Config::default());
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

    let ledger = open(&path, Config::default());
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

#[test]
fn recovery_from_snapshot_plus_tail_equals_replay_from_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let config = Config { snapshot_interval: 7, snapshot_on_close_min: 1 };
    let ledger = open(&path, config);
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

    let ledger = open(&path, config);
    assert_eq!(ledger.recovery().snapshot_seq, 46);
    assert_eq!(ledger.recovery().replayed, 0);
    let tonnes = ledger
        .query(|s| s.holding(OTHER_ACC, IssuanceId(1)).unwrap().available.quantity_tonnes())
        .unwrap();
    assert_eq!(tonnes, 27 * 5 - 13 * 5);
}

#[test]
fn concurrent_submitters_are_group_committed_in_one_dense_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(open(&dir.path().join("l.db"), Config::default()));
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

/// Builds a small verified journal and returns its path.
fn small_journal(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("l.db");
    let ledger = open(&path, Config { snapshot_interval: 0, snapshot_on_close_min: u64::MAX });
    seed(&ledger);
    for _ in 0..10 {
        ledger.submit(MEMBER, transfer(MEMBER_ACC, OTHER_ACC, 3)).unwrap();
    }
    drop(ledger.close().unwrap());
    path
}

fn corrupt_seq(path: &Path) -> u64 {
    let mut j = SqliteJournal::open(path).unwrap();
    match verify(&mut j) {
        Err(StoreError::Corrupt { seq, .. }) => seq,
        other => panic!("verify should fail, got {other:?}"),
    }
}

#[test]
fn one_altered_byte_in_a_record_body_is_named_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_journal(dir.path());
    for seq in [1_i64, 9, 16] {
        let j = SqliteJournal::open(&path).unwrap();
        let body: Vec<u8> = j
            .connection()
            .query_row("SELECT body FROM journal WHERE seq = ?1", [seq], |r| r.get(0))
            .unwrap();
        let mut altered = body.clone();
        let last = altered.len() - 1;
        altered[last] ^= 0x01;
        j.connection()
            .execute("UPDATE journal SET body = ?1 WHERE seq = ?2", rusqlite::params![altered, seq])
            .unwrap();
        drop(j);
        assert_eq!(corrupt_seq(&path), seq as u64);
        let j = SqliteJournal::open(&path).unwrap();
        j.connection()
            .execute("UPDATE journal SET body = ?1 WHERE seq = ?2", rusqlite::params![body, seq])
            .unwrap();
    }
    verify(&mut SqliteJournal::open(&path).unwrap()).unwrap();
}

#[test]
fn altered_hash_time_or_missing_record_is_named_by_verify() {
    let dir = tempfile::tempdir().unwrap();
    let path = small_journal(dir.path());
    let j = SqliteJournal::open(&path).unwrap();
    j.connection().execute("UPDATE journal SET hash = zeroblob(32) WHERE seq = 12", []).unwrap();
    drop(j);
    assert_eq!(corrupt_seq(&path), 12);

    let path = small_journal(&dir.path().join("b").tap_mkdir());
    let j = SqliteJournal::open(&path).unwrap();
    j.connection().execute("UPDATE journal SET time_ms = time_ms + 1 WHERE seq = 5", []).unwrap();
    drop(j);
    assert_eq!(corrupt_seq(&path), 5);

    let path = small_journal(&dir.path().join("c").tap_mkdir());
    let j = SqliteJournal::open(&path).unwrap();
    j.connection().execute("DELETE FROM journal WHERE seq = 8", []).unwrap();
    drop(j);
    assert_eq!(corrupt_seq(&path), 9);
}

#[test]
fn a_corrupt_snapshot_is_refused_at_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("l.db");
    let ledger = open(&path, Config { snapshot_interval: 0, snapshot_on_close_min: 1 });
    seed(&ledger);
    drop(ledger.close().unwrap());
    let j = SqliteJournal::open(&path).unwrap();
    j.connection()
        .execute("UPDATE snapshots SET state = CAST(state || x'00' AS BLOB)", [])
        .unwrap();
    drop(j);
    let err =
        Ledger::open(Box::new(SqliteJournal::open(&path).unwrap()), Config::default(), clock())
            .unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { seq: 6, .. }), "{err}");
}

trait TapMkdir {
    fn tap_mkdir(self) -> Self;
}

impl TapMkdir for std::path::PathBuf {
    fn tap_mkdir(self) -> Self {
        std::fs::create_dir_all(&self).unwrap();
        self
    }
}
