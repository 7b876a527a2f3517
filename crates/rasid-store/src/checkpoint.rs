//! Write-ahead-log checkpoints for the SQLite journal, off the writer's commit path.
//!
//! SQLite normally checkpoints inside the commit that takes the write-ahead log past 1,000
//! pages: the committing thread copies those pages into the database file and fsyncs that file
//! before its commit returns. For the journal that thread is the ledger's writer, so under load
//! about once a second one group commit — and every caller waiting on it — paid for a
//! checkpoint, and a slow fsync of the database file held the whole exchange for tens of
//! milliseconds (the p99 outliers of `rasid bench http`).
//!
//! Here the writer's connection only measures: a WAL hook runs after each commit with the log's
//! length in pages, and once `CHECKPOINT_PAGES_MIN` pages wait to be copied it wakes a
//! checkpointer thread with a connection of its own. That thread's PASSIVE checkpoints copy
//! pages and fsync the database file while the writer goes on committing. A PASSIVE checkpoint
//! never waits for the writer, so under continuous load it seldom ends exactly at the log's end,
//! and SQLite starts the log again from its beginning only after one has (measured: without the
//! step below the log held every page written). So once the log is `WAL_PAGES_MAX` pages long
//! the writer finishes a checkpoint itself, as SQLite would have, when the thread is not copying
//! and at most `CHECKPOINT_PAGES_MIN` pages are left (never more than SQLite's own checkpoint
//! copied in the commit); until then it keeps waking the thread. From half that length the
//! thread is woken every `CHECKPOINT_PAGES_MIN_LATE` pages, so that little is left for the
//! writer. A reader holding an old snapshot stops every checkpoint at its position; past
//! `WAL_PAGES_HARD_MAX` the writer tries on every commit.
//!
//! Other connections to the file (the server's user tables) write with SQLite's automatic
//! checkpoint turned off (`disable_auto_checkpoint`): theirs would run inside their own
//! commits, and contend with these for the checkpoint lock.
//!
//! Architecture Invariant: a checkpoint never changes what the journal holds, only where its
//! pages lie; nothing here can make a commit fail (the hook always reports success: an error
//! from it would make SQLite report a commit that happened as failed).

use crate::journal::StoreError;
use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

/// Pages waiting to be copied before the writer wakes the checkpointer: SQLite's own default
/// for its automatic checkpoint (≈ 4 MB with 4 KiB pages).
pub const CHECKPOINT_PAGES_MIN: u64 = 1_000;

/// Pages waiting to be copied before the thread is woken once the log is half of
/// `WAL_PAGES_MAX` long: what the writer copies at the end stays about this small.
pub const CHECKPOINT_PAGES_MIN_LATE: u64 = 256;

/// Log length (pages) from which the writer itself finishes a checkpoint so that the log can
/// start again from its beginning (≈ 32 MB with 4 KiB pages).
pub const WAL_PAGES_MAX: u64 = 8_000;

/// Log length (pages) from which the writer tries to checkpoint on every commit, however much
/// is left and even while the thread is copying (it is then refused as busy): the thread may
/// have stopped, or a reader held the log back.
pub const WAL_PAGES_HARD_MAX: u64 = 4 * WAL_PAGES_MAX;

/// What the checkpoints did, for tests and operators.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// Checkpoints the background thread completed.
    pub background: u64,
    /// Checkpoints the writer ran itself at the end of a long log.
    pub by_writer: u64,
    /// Checkpoints that returned an error (for example busy: another one was running). Each is
    /// retried by a later commit; none affects a commit.
    pub failed: u64,
}

/// State shared by the writer's WAL hook and the checkpointer thread.
#[derive(Default)]
struct Shared {
    wake: Mutex<Wake>,
    woken: Condvar,
    /// Whether a wake-up is pending, so that the hook takes the lock once per request and not
    /// once per commit.
    requested: AtomicBool,
    /// Whether the thread is copying now, for the writer's hook (which takes no lock).
    copying: AtomicBool,
    /// Whether the thread runs (it starts with the first append that finds a checkpoint asked
    /// for, and may have failed to start).
    started: AtomicBool,
    /// Pages of the log already copied, as the last checkpoint reported.
    copied_pages: AtomicU64,
    /// Times the log started again from its beginning, as the writer's hook saw: a checkpoint
    /// that began before a restart reports pages of the old log, not to be taken as copied.
    restarts: AtomicU64,
    background: AtomicU64,
    by_writer: AtomicU64,
    failed: AtomicU64,
}

#[derive(Default)]
struct Wake {
    requested: bool,
    stopping: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Wake> {
        self.wake.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn request(&self) {
        if !self.requested.swap(true, Ordering::AcqRel) {
            self.lock().requested = true;
            self.woken.notify_all();
        }
    }

    /// Pages of a log `log_pages` long not yet copied.
    fn pending_pages(&self, log_pages: u64) -> u64 {
        log_pages.saturating_sub(self.copied_pages.load(Ordering::Acquire))
    }

    /// Called by the writer's hook when the log is shorter than at the commit before: it started
    /// again from its beginning, and nothing of it is copied yet.
    fn restarted(&self) {
        self.restarts.fetch_add(1, Ordering::AcqRel);
        self.copied_pages.store(0, Ordering::Release);
    }

    /// Whether the thread will copy soon or copies now, so that a checkpoint of the writer's
    /// would only be refused as busy.
    fn thread_busy(&self) -> bool {
        self.copying.load(Ordering::Acquire)
            || (self.started.load(Ordering::Acquire) && self.requested.load(Ordering::Acquire))
    }

    /// Counts a checkpoint that began when the log had restarted `restarts_at_start` times.
    fn record(&self, done: rusqlite::Result<(i32, i32)>, by_writer: bool, restarts_at_start: u64) {
        match done {
            // SQLite reports -1 pages when the connection is not in WAL mode: not a checkpoint.
            Ok((log, copied)) if log >= 0 && copied >= 0 => {
                let copied = u64::try_from(copied).unwrap_or(0);
                if self.restarts.load(Ordering::Acquire) == restarts_at_start {
                    self.copied_pages.store(copied, Ordering::Release);
                }
                let count = if by_writer { &self.by_writer } else { &self.background };
                count.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) | Err(_) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The checkpoints of one journal connection: its WAL hook and, once the journal is written,
/// the checkpointer thread. Dropping it stops the thread.
pub struct Checkpoints {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checkpoints").field("stats", &self.stats()).finish()
    }
}

impl Checkpoints {
    /// Replaces SQLite's automatic checkpoint on `writer` with this module's hook. The thread
    /// starts with the first [`Checkpoints::start`], so a journal only read never has one.
    pub fn install(writer: &mut Connection) -> rusqlite::Result<Self> {
        let shared = Arc::new(Shared::default());
        let hook_shared = Arc::clone(&shared);
        let mut last_log_pages = 0;
        writer.wal_hook(Some(move |wal: &mut Wal, log_pages: i32| {
            let log_pages = u64::try_from(log_pages).unwrap_or(0);
            if log_pages < last_log_pages {
                hook_shared.restarted();
            }
            last_log_pages = log_pages;
            after_commit(&hook_shared, wal, log_pages);
            Ok(())
        }))?;
        Ok(Self { shared, thread: None })
    }

    /// Starts the checkpointer thread on its own connection to `path` once a checkpoint has
    /// been asked for, if not yet started. Never fails the caller (an append): a thread that
    /// cannot start is counted as a failed checkpoint and tried again at the next request,
    /// and meanwhile the writer's own checkpoints keep the log bounded.
    pub fn start(&mut self, path: &Path) {
        if self.thread.is_some() || !self.shared.requested.load(Ordering::Acquire) {
            return;
        }
        match spawn_checkpointer(path, Arc::clone(&self.shared)) {
            Ok(thread) => {
                self.thread = Some(thread);
                self.shared.started.store(true, Ordering::Release);
            }
            Err(_) => {
                self.shared.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn stats(&self) -> CheckpointStats {
        self.handle().stats()
    }

    /// A handle that reads these checkpoints' counters from anywhere (for `/metrics`).
    pub fn handle(&self) -> CheckpointCounters {
        CheckpointCounters(Arc::clone(&self.shared))
    }

    /// Waits until the background thread has run every checkpoint asked of it so far, or
    /// `timeout` passed; returns whether it had. A commit asks before it returns, so after an
    /// append this waits for any checkpoint that append asked for.
    pub fn wait_idle(&self, timeout: std::time::Duration) -> bool {
        let wake = self.shared.lock();
        let (wake, _) = self
            .shared
            .woken
            .wait_timeout_while(wake, timeout, |w| w.requested || self.copying())
            .unwrap_or_else(PoisonError::into_inner);
        !wake.requested && !self.copying()
    }

    fn copying(&self) -> bool {
        self.shared.copying.load(Ordering::Acquire)
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.woken.notify_all();
        if let Some(thread) = self.thread.take() {
            // The thread only checkpoints; if it panicked there is nothing left to undo.
            let _ = thread.join();
        }
    }
}

/// Makes SQLite's automatic checkpoint on `conn`, another connection that writes to a journal's
/// file, do nothing: the journal's checkpoints copy what it writes too (see the module's
/// comment).
pub fn disable_auto_checkpoint(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "wal_autocheckpoint", 0)
}

/// The counters of one journal's checkpoints, shared with whoever reports them.
#[derive(Clone)]
pub struct CheckpointCounters(Arc<Shared>);

impl std::fmt::Debug for CheckpointCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("CheckpointCounters").field(&self.stats()).finish()
    }
}

impl CheckpointCounters {
    pub fn stats(&self) -> CheckpointStats {
        CheckpointStats {
            background: self.0.background.load(Ordering::Relaxed),
            by_writer: self.0.by_writer.load(Ordering::Relaxed),
            failed: self.0.failed.load(Ordering::Relaxed),
        }
    }
}

fn spawn_checkpointer(path: &Path, shared: Arc<Shared>) -> Result<JoinHandle<()>, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // A connection finds the database in WAL mode only once it has read it; asking for the
    // mode does (before that SQLite reports a checkpoint of -1 pages, and does none).
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // A checkpoint syncs the database file before it marks pages copied (after which the
    // writer may overwrite them in the log) only under FULL; said here, not left to a default.
    conn.pragma_update(None, "synchronous", "FULL")?;
    std::thread::Builder::new()
        .name("rasid-checkpoint".into())
        .spawn(move || checkpoint_loop(&conn, &shared))
        .map_err(|e| StoreError::Database(format!("cannot start the checkpoint thread: {e}")))
}

/// The writer's WAL hook: runs after each commit, on the writer's thread.
fn after_commit(shared: &Shared, wal: &mut Wal, log_pages: u64) {
    let pending = shared.pending_pages(log_pages);
    let finish_here = log_pages >= WAL_PAGES_HARD_MAX
        || (log_pages >= WAL_PAGES_MAX && pending <= CHECKPOINT_PAGES_MIN && !shared.thread_busy());
    if finish_here {
        // This copies what no reader still needs; once everything is copied and no reader
        // uses the log, the next commit starts it again from its beginning.
        let restarts = shared.restarts.load(Ordering::Acquire);
        shared.record(wal.checkpoint_v2(CheckpointMode::PASSIVE), true, restarts);
        return;
    }
    let wake_at_pages = if log_pages >= WAL_PAGES_MAX / 2 {
        CHECKPOINT_PAGES_MIN_LATE
    } else {
        CHECKPOINT_PAGES_MIN
    };
    if pending >= wake_at_pages {
        shared.request();
    }
}

fn checkpoint_loop(conn: &Connection, shared: &Shared) {
    loop {
        {
            let mut wake = shared.lock();
            while !wake.requested && !wake.stopping {
                wake = shared.woken.wait(wake).unwrap_or_else(PoisonError::into_inner);
            }
            if wake.stopping {
                return;
            }
            wake.requested = false;
            // Set under the lock, so that `wait_idle` never sees neither a request nor a copy
            // between the two.
            shared.copying.store(true, Ordering::Release);
        }
        shared.requested.store(false, Ordering::Release);
        let restarts = shared.restarts.load(Ordering::Acquire);
        shared.record(
            conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE),
            false,
            restarts,
        );
        // Cleared and announced under the lock, so that a `wait_idle` that has just found it
        // set is waiting before the notification comes.
        {
            let _wake = shared.lock();
            shared.copying.store(false, Ordering::Release);
        }
        shared.woken.notify_all();
    }
}
