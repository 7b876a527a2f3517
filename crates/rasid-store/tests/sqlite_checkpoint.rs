//! The SQLite journal's write-ahead log is checkpointed by a thread of its own, not inside the
//! writer's commits, and stays bounded whether the writer pauses or writes without a break.

use rasid_store::checkpoint::{CHECKPOINT_PAGES_MIN, WAL_PAGES_HARD_MAX, WAL_PAGES_MAX};
use rasid_store::{GENESIS_HASH, Journal, Record, SqliteJournal};
use std::path::Path;
use std::time::Duration;

/// A record body close to one 4 KiB page, so that pages written ≈ records written.
const BODY_BYTES: usize = 3_000;

const PAGE_BYTES: u64 = 4_096;

/// Long enough for a checkpoint of a few thousand pages on a loaded machine; a test waits this
/// long only when it is about to fail.
const CHECKPOINT_WAIT: Duration = Duration::from_secs(60);

fn records(first_seq: u64, count: u64) -> Vec<Record> {
    (first_seq..first_seq + count)
        .map(|seq| Record {
            seq,
            time_ms: 0,
            actor: 0,
            kind: "test".into(),
            body: vec![u8::try_from(seq % 251).unwrap(); BODY_BYTES],
            hash: GENESIS_HASH,
        })
        .collect()
}

fn wal_bytes(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).map_or(0, |m| m.len())
}

fn autocheckpoint_pages(journal: &SqliteJournal) -> i64 {
    journal.connection().query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0)).unwrap()
}

fn count_records(journal: &mut SqliteJournal) -> u64 {
    let mut count = 0;
    journal
        .scan(1, &mut |_| {
            count += 1;
            Ok(())
        })
        .unwrap();
    count
}

#[test]
fn a_writer_that_pauses_leaves_every_checkpoint_to_the_background_thread() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("journal.db");
    let mut journal = SqliteJournal::open(&db).unwrap();
    assert_eq!(autocheckpoint_pages(&journal), 0, "SQLite's own checkpoint in the commit is off");

    // Each batch is about a third of the checkpoint threshold; after each the test waits for
    // any checkpoint the batch asked for, as a writer with pauses between bursts would give it
    // time to. A checkpoint that copied the whole log lets the next commit start the log again.
    let batch = CHECKPOINT_PAGES_MIN / 3;
    let batches = 3 * WAL_PAGES_MAX / batch;
    let mut seq = 1;
    for _ in 0..batches {
        journal.append(&records(seq, batch), None).unwrap();
        seq += batch;
        assert!(journal.checkpoints().wait_idle(CHECKPOINT_WAIT));
    }
    let written = seq - 1;
    let stats = journal.checkpoints().stats();
    // One checkpoint each time a batch takes the uncopied pages to the threshold.
    assert!(stats.background >= written / (CHECKPOINT_PAGES_MIN + batch), "{stats:?}");
    assert_eq!(stats.by_writer, 0, "the writer never had to checkpoint: {stats:?}");
    assert_eq!(stats.failed, 0, "{stats:?}");
    let wal_pages = wal_bytes(&db) / PAGE_BYTES;
    assert!(
        wal_pages < WAL_PAGES_MAX,
        "the log started again instead of growing to {wal_pages} pages ({written} written)"
    );
    assert_eq!(count_records(&mut journal), written);

    drop(journal);
    assert_eq!(wal_bytes(&db), 0, "closing the last connection checkpointed and removed the log");
    let mut reopened = SqliteJournal::open(&db).unwrap();
    assert_eq!(count_records(&mut reopened), written);
}

#[test]
fn a_writer_that_never_pauses_keeps_its_log_bounded() {
    // ≈ 200 MB of database and ≈ 35 MB of log: under the build's directory, not a /tmp that may
    // be memory.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let db = dir.path().join("journal.db");
    let mut journal = SqliteJournal::open(&db).unwrap();

    // Batches back to back, as under continuous load: the background thread's checkpoints
    // seldom end at the log's end, so the log starts again only because the writer finishes a
    // checkpoint itself once the log is `WAL_PAGES_MAX` long. Without that step the log held
    // every page written (49,541 pages for these 48,000 records).
    let batch = 200;
    let written = WAL_PAGES_HARD_MAX + 2 * WAL_PAGES_MAX;
    let mut seq = 1;
    while seq <= written {
        journal.append(&records(seq, batch), None).unwrap();
        seq += batch;
    }
    let written = seq - 1;
    let stats = journal.checkpoints().stats();
    assert!(stats.by_writer >= 1, "the writer finished a checkpoint: {stats:?}");
    // The log's end past `WAL_PAGES_MAX` is what the writer commits while the thread finishes
    // the checkpoint it was copying: a few batches here, on a slow machine more. The bound is
    // far from both that and the log that never starts again.
    let wal_pages = wal_bytes(&db) / PAGE_BYTES;
    assert!(
        wal_pages < WAL_PAGES_HARD_MAX + WAL_PAGES_MAX,
        "the log grew to {wal_pages} pages ({written} records written, {stats:?})"
    );
    assert!(journal.checkpoints().wait_idle(CHECKPOINT_WAIT));
    assert_eq!(count_records(&mut journal), written);
}
