//! The single-writer sequencer: the only place commands enter the engine.
//!
//! Two threads form a pipeline. The *sequencer* thread owns the [`State`]: it drains the bounded
//! request queue into a batch, stamps each command with its sequence number and time, executes
//! it, and hands the accepted records to the *writer* thread. The writer chains their hashes,
//! appends the whole batch in one durable transaction (group commit) and only then answers the
//! callers. While the writer waits on the disk, the sequencer is already executing the next
//! batch, so the two cores overlap engine work and I/O; it hands that batch over only when the
//! writer is free, so everything that arrived during a commit shares the next one.
//!
//! Replies are one-shot [`Ticket`]s: a thread blocks on one (`wait`), async code awaits it, so
//! the HTTP server holds no thread per request waiting for the disk.
//!
//! Architecture invariant: a caller never sees an answer — acceptance, rejection or query
//! result — before every command sequenced ahead of it is durable. Replies for a batch travel
//! with the batch and are sent by the writer after the commit.

use crate::checkpoint::CheckpointCounters;
use crate::journal::{Hash, Journal, Record, Snapshot, StoreError, chain_hash};
use crate::replay::{Recovery, recover, sha256};
use crate::reply;
use crossbeam_channel::{Receiver, Select, Sender, TryRecvError, TrySendError, bounded};
use rasid_core::codec::{encode_envelope, encode_state};
use rasid_core::{Command, Envelope, Event, OrgId, Rejection, State};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Requests waiting for the sequencer. A full queue blocks submitters: backpressure, not growth.
pub const REQUEST_QUEUE_MAX: usize = 4_096;
/// Most commands sequenced into one batch (one commit).
pub const BATCH_COMMANDS_MAX: usize = 16_384;
/// Most requests (commands, queries, snapshots) answered by one batch.
pub const BATCH_REPLIES_MAX: usize = 16_384;
/// Batches executed but not yet durable: the one the writer is committing and the one the
/// sequencer fills meanwhile. The hand-over between the two threads is a rendezvous (a channel
/// of `BATCHES_IN_FLIGHT_MAX - 2` = 0 slots), so the next batch keeps growing for exactly as
/// long as the commit takes and the group commit is as large as the disk's speed allows.
pub const BATCHES_IN_FLIGHT_MAX: usize = 2;
/// While the writer commits, how long the sequencer waits for it before it executes the
/// requests that arrived meanwhile into the next batch. The sequencer used to wake for every
/// request (a futex wake by the submitting thread and a context switch, per request); now it
/// wakes for the writer, or after this interval, and takes everything queued at once. Whatever
/// is queued when the writer frees is executed before the hand-over, so no request misses the
/// next commit for it; the interval only bounds how much execution is left for that moment.
pub const COMMIT_WAIT_SLICE: std::time::Duration = std::time::Duration::from_micros(100);
/// The longest the wait for a busy writer grows to. A slice that ends with nothing queued
/// doubles the next one up to this, so a commit stalled on the disk or the network costs a few
/// hundred wake-ups a second instead of ten thousand; a request that arrives meanwhile waits
/// at most this long to be executed, and could not be committed before the writer frees anyway.
pub const COMMIT_WAIT_SLICE_MAX: std::time::Duration = std::time::Duration::from_millis(5);
/// Most commands one `submit_batch` request may carry.
pub const REQUEST_COMMANDS_MAX: usize = 100_000;

/// Where time comes from: milliseconds since the Unix epoch. Injected so tests control it.
pub type Clock = Box<dyn FnMut() -> i64 + Send>;

pub fn system_clock() -> Clock {
    Box::new(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("the clock is after 1970");
        i64::try_from(now.as_millis()).expect("milliseconds fit in i64 until year 292 million")
    })
}

#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Take a snapshot after every this many commands (0: never automatically).
    pub snapshot_interval: u64,
    /// On close, snapshot when at least this many commands came after the last snapshot.
    pub snapshot_on_close_min: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self { snapshot_interval: 1_000_000, snapshot_on_close_min: 1_000 }
    }
}

/// A durable, accepted command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    pub seq: u64,
    pub time_ms: i64,
    pub events: Vec<Event>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SubmitError {
    #[error("{0}")]
    Rejected(Rejection),
    #[error("the ledger is unavailable: {0}")]
    Unavailable(String),
}

/// The after-commit feed: called on the writer thread after each durable commit with that
/// commit's accepted commands, in journal order, exactly once each. Read models (market data,
/// WebSocket streams) are fed from here, so they never touch the engine and never see a command
/// that could still be lost. It runs between the commit and the next one, so it must be quick
/// and must not block (hand the work on through a bounded, non-blocking queue).
pub type Feed = Box<dyn FnMut(&[Committed]) + Send>;

/// Upper bounds (microseconds) of the commit latency histogram buckets; the last is open.
pub const COMMIT_LATENCY_BUCKETS_US: [u64; 12] =
    [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, u64::MAX];

/// A reply on its way: resolved after the batch holding its request is durable. A thread waits
/// for it with [`Ticket::wait`]; async code awaits it, which parks no thread.
pub struct Ticket<T>(reply::Receiver<Result<T, SubmitError>>);

impl<T> std::fmt::Debug for Ticket<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ticket")
    }
}

fn stopped_reply<T>(answer: Option<Result<T, SubmitError>>) -> Result<T, SubmitError> {
    answer.unwrap_or_else(|| Err(SubmitError::Unavailable("the ledger stopped".into())))
}

impl<T> Ticket<T> {
    pub fn wait(self) -> Result<T, SubmitError> {
        stopped_reply(self.0.wait())
    }

    /// A ticket already answered with `error`.
    fn failed(error: SubmitError) -> Self {
        let (tx, rx) = reply::channel();
        tx.complete(Err(error));
        Ticket(rx)
    }
}

impl<T> std::future::Future for Ticket<T> {
    type Output = Result<T, SubmitError>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx).map(stopped_reply)
    }
}

/// Why [`Ledger::try_submit_async`] did not queue a command: the request queue is full. The
/// command comes back (boxed: this is the rare path, and it keeps the `Result` small) so the
/// caller can wait for room elsewhere (off the async threads).
#[derive(Debug)]
pub struct QueueFull(pub OrgId, pub Box<Command>);

type Deliver = Box<dyn FnOnce(bool) + Send>;
type Query = Box<dyn FnOnce(&State) -> Deliver + Send>;

enum Request {
    One {
        actor: OrgId,
        command: Command,
        reply: reply::Completer<Result<Committed, SubmitError>>,
    },
    Many {
        commands: Vec<(OrgId, Command)>,
        reply: reply::Completer<Result<Vec<Result<Committed, Rejection>>, SubmitError>>,
    },
    Query(Query),
    Snapshot,
}

struct Batch {
    /// Accepted commands on their way to the journal. They are encoded by the writer, not the
    /// sequencer: the sequencer's thread is the one that executes every command, so work that
    /// can move off it raises what the ledger as a whole can accept, and the writer (an SQLite
    /// insert and a hash per record) has time to spare while a commit's fsync is in flight.
    records: Vec<Envelope>,
    /// Run after the commit with `true`, or with `false` if it failed.
    replies: Vec<Deliver>,
    snapshot: Option<(u64, Vec<u8>, Hash)>,
    /// The accepted commands with their events, for the feed (empty when there is none).
    committed: Vec<Committed>,
}

impl Batch {
    /// Whether the sequencer must stop adding to this batch and wait for the writer. Records
    /// alone are not enough of a bound: queries and rejected commands add replies (each holding
    /// its answer) but no record, and while a slow commit runs they would otherwise pile up in
    /// the open batch without limit.
    fn is_full(&self) -> bool {
        self.records.len() >= BATCH_COMMANDS_MAX || self.replies.len() >= BATCH_REPLIES_MAX
    }
}

/// Counters of the sequencer and writer, for benchmarks and operators (`/metrics`): how well
/// group commit is batching, how long commits take, what gets rejected.
#[derive(Debug, Default)]
pub struct Stats {
    pub commits: AtomicU64,
    pub records: AtomicU64,
    /// Commits whose latency (append call, including fsync) fell in each bucket of
    /// [`COMMIT_LATENCY_BUCKETS_US`] (not cumulative).
    pub commit_latency_buckets: [AtomicU64; COMMIT_LATENCY_BUCKETS_US.len()],
    pub commit_latency_sum_us: AtomicU64,
    /// The largest batch committed so far.
    pub batch_records_max: AtomicU64,
    /// Rejections by code. A mutex: rejections are rare next to acceptances, and the map stays
    /// as small as the set of codes.
    pub rejections: Mutex<std::collections::BTreeMap<&'static str, u64>>,
    /// The journal's own write-ahead-log checkpoints (SQLite), read when reported; `None` for
    /// a backend whose server checkpoints by itself.
    pub checkpoints: Option<CheckpointCounters>,
}

impl Stats {
    fn record_commit(&self, records: u64, elapsed_us: u64) {
        self.commits.fetch_add(1, Ordering::Relaxed);
        self.records.fetch_add(records, Ordering::Relaxed);
        self.commit_latency_sum_us.fetch_add(elapsed_us, Ordering::Relaxed);
        self.batch_records_max.fetch_max(records, Ordering::Relaxed);
        let bucket = COMMIT_LATENCY_BUCKETS_US
            .iter()
            .position(|&bound| elapsed_us <= bound)
            .expect("the last bucket is unbounded");
        self.commit_latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
    }

    fn record_rejection(&self, rejection: Rejection) {
        let mut map = self.rejections.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(rejection.code()).or_insert(0) += 1;
    }
}

/// The durable ledger: a running sequencer over a journal.
#[derive(Debug)]
pub struct Ledger {
    requests: Option<Sender<Request>>,
    sequencer: Option<JoinHandle<()>>,
    writer: Option<JoinHandle<Box<dyn Journal>>>,
    stopped: Arc<AtomicBool>,
    head: Arc<Mutex<(u64, Hash)>>,
    stats: Arc<Stats>,
    recovery: Recovery,
}

impl std::fmt::Debug for dyn Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Journal")
    }
}

impl Ledger {
    /// Recovers the state (newest snapshot + replay of the tail) and starts the sequencer.
    pub fn open(
        journal: Box<dyn Journal>,
        config: Config,
        clock: Clock,
    ) -> Result<Self, StoreError> {
        Self::open_with_feed(journal, config, clock, None)
    }

    /// As [`Ledger::open`], with an after-commit [`Feed`] that receives every command made
    /// durable from now on (commands already in the journal are the caller's to replay, e.g.
    /// with [`crate::replay_committed`] before opening).
    pub fn open_with_feed(
        mut journal: Box<dyn Journal>,
        config: Config,
        clock: Clock,
        feed: Option<Feed>,
    ) -> Result<Self, StoreError> {
        let (state, head, recovery) = recover(journal.as_mut())?;
        Self::start(journal, config, clock, state, head, recovery, feed)
    }

    /// Starts the sequencer on a state the caller already rebuilt from this journal: a
    /// follower taking over (`Follower::into_parts`) skips a second recovery. Fails if the
    /// journal has moved past `head` since.
    pub fn open_at(
        journal: Box<dyn Journal>,
        config: Config,
        clock: Clock,
        state: State,
        head: (u64, Hash),
    ) -> Result<Self, StoreError> {
        Self::open_at_with_feed(journal, config, clock, state, head, None)
    }

    /// As [`Ledger::open_at`], with an after-commit [`Feed`]. The feed receives the commands
    /// committed from now on, so a follower that fed its read models up to `head` while
    /// tailing continues them with no command twice and none missed.
    pub fn open_at_with_feed(
        mut journal: Box<dyn Journal>,
        config: Config,
        clock: Clock,
        state: State,
        head: (u64, Hash),
        feed: Option<Feed>,
    ) -> Result<Self, StoreError> {
        let stored = journal.head()?.unwrap_or((0, crate::journal::GENESIS_HASH));
        if stored != head {
            return Err(StoreError::Unsupported(format!(
                "the journal's head is record {}, the state given is at {}: catch up first",
                stored.0, head.0
            )));
        }
        assert_eq!(state.last_seq(), head.0, "the state is at its head");
        let snapshot_seq = journal.snapshot_digests()?.last().map_or(0, |(seq, _)| *seq);
        let recovery = Recovery { snapshot_seq, replayed: 0, head_seq: head.0 };
        Self::start(journal, config, clock, state, head, recovery, feed)
    }

    fn start(
        journal: Box<dyn Journal>,
        config: Config,
        clock: Clock,
        state: State,
        head: (u64, Hash),
        recovery: Recovery,
        feed: Option<Feed>,
    ) -> Result<Self, StoreError> {
        let stopped = Arc::new(AtomicBool::new(false));
        let head = Arc::new(Mutex::new(head));
        let (req_tx, req_rx) = bounded::<Request>(REQUEST_QUEUE_MAX);
        let (batch_tx, batch_rx) = bounded::<Batch>(BATCHES_IN_FLIGHT_MAX - 2);
        let last_snapshot = recovery.snapshot_seq;
        let stats =
            Arc::new(Stats { checkpoints: journal.checkpoint_counters(), ..Stats::default() });
        let feeding = feed.is_some();
        let writer = {
            let stopped = stopped.clone();
            let head = head.clone();
            let stats = stats.clone();
            std::thread::Builder::new()
                .name("rasid-writer".into())
                .spawn(move || write_loop(journal, batch_rx, &stopped, &head, &stats, feed))
                .map_err(|e| StoreError::Database(format!("cannot start writer: {e}")))?
        };
        let sequencer = {
            let stopped = stopped.clone();
            let stats = stats.clone();
            let mut seq = Sequencer {
                state,
                clock,
                config,
                last_snapshot,
                batch_tx,
                stopped,
                feeding,
                stats,
            };
            std::thread::Builder::new()
                .name("rasid-sequencer".into())
                .spawn(move || seq.run(&req_rx))
                .map_err(|e| StoreError::Database(format!("cannot start sequencer: {e}")))?
        };
        Ok(Self {
            requests: Some(req_tx),
            sequencer: Some(sequencer),
            writer: Some(writer),
            stopped,
            head,
            stats,
            recovery,
        })
    }

    /// (commits, records) made durable since open.
    pub fn stats(&self) -> (u64, u64) {
        (self.stats.commits.load(Ordering::Relaxed), self.stats.records.load(Ordering::Relaxed))
    }

    /// Whether a commit failed (for example a fenced append: the lease moved on) and the
    /// ledger takes no more commands.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// The live counters, shared: `/metrics` reads them while the ledger runs.
    pub fn stats_shared(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    pub fn recovery(&self) -> Recovery {
        self.recovery
    }

    /// Sequence number and hash of the last durable record.
    pub fn head(&self) -> (u64, Hash) {
        *self.head.lock().expect("head lock")
    }

    fn send(&self, request: Request) -> Result<(), SubmitError> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(SubmitError::Unavailable(
                "the ledger stopped after a storage failure".into(),
            ));
        }
        let requests = self.requests.as_ref().expect("open until close");
        requests.send(request).map_err(|_| SubmitError::Unavailable("the ledger stopped".into()))
    }

    pub fn submit_async(&self, actor: OrgId, command: Command) -> Ticket<Committed> {
        let (tx, rx) = reply::channel();
        match self.send(Request::One { actor, command, reply: tx }) {
            Ok(()) => Ticket(rx),
            Err(e) => Ticket::failed(e),
        }
    }

    /// As [`Ledger::submit_async`], but never blocks: when the request queue is full the
    /// command comes back (`QueueFull`) instead of waiting for room. Async callers use this so
    /// that backpressure never stalls a runtime thread.
    pub fn try_submit_async(
        &self,
        actor: OrgId,
        command: Command,
    ) -> Result<Ticket<Committed>, QueueFull> {
        if self.stopped.load(Ordering::Acquire) {
            return Ok(Ticket::failed(SubmitError::Unavailable(
                "the ledger stopped after a storage failure".into(),
            )));
        }
        let requests = self.requests.as_ref().expect("open until close");
        let (tx, rx) = reply::channel();
        match requests.try_send(Request::One { actor, command, reply: tx }) {
            Ok(()) => Ok(Ticket(rx)),
            Err(TrySendError::Full(Request::One { actor, command, .. })) => {
                Err(QueueFull(actor, Box::new(command)))
            }
            Err(TrySendError::Full(_)) => unreachable!("the request sent was a Request::One"),
            Err(TrySendError::Disconnected(_)) => {
                Ok(Ticket::failed(SubmitError::Unavailable("the ledger stopped".into())))
            }
        }
    }

    /// Executes one command; returns once it is durable (or rejected).
    pub fn submit(&self, actor: OrgId, command: Command) -> Result<Committed, SubmitError> {
        self.submit_async(actor, command).wait()
    }

    /// Many commands in one request, executed in order (interleaved with nobody else's), each
    /// accepted or rejected on its own. One reply once all are durable.
    pub fn submit_batch_async(
        &self,
        commands: Vec<(OrgId, Command)>,
    ) -> Ticket<Vec<Result<Committed, Rejection>>> {
        assert!(
            commands.len() <= REQUEST_COMMANDS_MAX,
            "split requests above {REQUEST_COMMANDS_MAX}"
        );
        let (tx, rx) = reply::channel();
        match self.send(Request::Many { commands, reply: tx }) {
            Ok(()) => Ticket(rx),
            Err(e) => Ticket::failed(e),
        }
    }

    pub fn submit_batch(
        &self,
        commands: Vec<(OrgId, Command)>,
    ) -> Result<Vec<Result<Committed, Rejection>>, SubmitError> {
        self.submit_batch_async(commands).wait()
    }

    /// Runs `f` on the state in sequence with commands: it sees every command submitted before
    /// it, and its answer arrives once those are durable.
    pub fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&State) -> R + Send + 'static,
    ) -> Result<R, SubmitError> {
        let (reply, rx) = reply::channel();
        let query: Query = Box::new(move |state| {
            let answer = f(state);
            Box::new(move |ok| reply.complete(if ok { Ok(answer) } else { Err(unavailable()) }))
        });
        match self.send(Request::Query(query)) {
            Ok(()) => Ticket(rx).wait(),
            Err(e) => Err(e),
        }
    }

    /// Drains the queue, snapshots if enough happened since the last one, and stops. Returns the
    /// journal so the caller can keep reading it.
    pub fn close(mut self) -> Result<Box<dyn Journal>, StoreError> {
        if !self.stopped.load(Ordering::Acquire) {
            let _ = self.send(Request::Snapshot);
        }
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<Box<dyn Journal>, StoreError> {
        drop(self.requests.take());
        if let Some(s) = self.sequencer.take() {
            s.join().map_err(|_| StoreError::Stopped("the sequencer panicked".into()))?;
        }
        let writer = self.writer.take().expect("joined once");
        let journal =
            writer.join().map_err(|_| StoreError::Stopped("the writer panicked".into()))?;
        if self.stopped.load(Ordering::Acquire) {
            return Err(StoreError::Stopped(
                "a commit failed; the journal is intact up to the last acknowledged command".into(),
            ));
        }
        Ok(journal)
    }
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.shutdown();
        }
    }
}

fn unavailable() -> SubmitError {
    SubmitError::Unavailable("the commit failed; the ledger stopped".into())
}

struct Sequencer {
    state: State,
    clock: Clock,
    config: Config,
    last_snapshot: u64,
    batch_tx: Sender<Batch>,
    stopped: Arc<AtomicBool>,
    /// Whether batches carry their events to a feed.
    feeding: bool,
    stats: Arc<Stats>,
}

impl Sequencer {
    /// Fills a batch from the request queue and hands it to the writer as soon as the writer
    /// is free. While the writer is still committing the previous batch, requests that arrive
    /// are executed into the open batch, so concurrent callers share one commit instead of
    /// queueing one small commit each behind the disk.
    fn run(&mut self, requests: &Receiver<Request>) {
        let mut open: Option<Batch> = None;
        let mut slice = COMMIT_WAIT_SLICE;
        loop {
            let Some(batch) = open.take() else {
                let Ok(first) = requests.recv() else { return };
                let mut batch = Batch {
                    records: Vec::new(),
                    replies: Vec::new(),
                    snapshot: None,
                    committed: Vec::new(),
                };
                self.round(first, requests, &mut batch);
                open = Some(batch);
                continue;
            };
            // A full batch waits for the writer however long it takes: the bound on a batch.
            let handed = if batch.is_full() {
                self.batch_tx.send(batch).map_err(|_| ())
            } else {
                match self.batch_tx.try_send(batch) {
                    Ok(()) => Ok(()),
                    Err(TrySendError::Disconnected(_)) => Err(()),
                    Err(TrySendError::Full(mut batch)) => {
                        // The writer is busy: wait for it to be free (or a slice of its
                        // commit), then take in what arrived meanwhile and try again.
                        let mut select = Select::new();
                        select.send(&self.batch_tx);
                        let _ = select.ready_timeout(slice);
                        match requests.try_recv() {
                            Ok(request) => {
                                slice = COMMIT_WAIT_SLICE;
                                self.round(request, requests, &mut batch);
                            }
                            Err(TryRecvError::Empty) => {
                                slice = (slice * 2).min(COMMIT_WAIT_SLICE_MAX);
                            }
                            // Closing: the last batch goes to the writer, then stop.
                            Err(TryRecvError::Disconnected) => {
                                let _ = self.batch_tx.send(batch);
                                return;
                            }
                        }
                        open = Some(batch);
                        continue;
                    }
                }
            };
            if handed.is_err() || self.stopped.load(Ordering::Acquire) {
                // The writer failed: its journal is behind this state, so stop taking commands.
                return;
            }
            // The next commit's wait starts short again.
            slice = COMMIT_WAIT_SLICE;
        }
    }

    /// Executes `first` and whatever else is queued now into `batch`, at one time stamp.
    fn round(&mut self, first: Request, requests: &Receiver<Request>, batch: &mut Batch) {
        let time_ms = (self.clock)().max(self.state.last_time_ms());
        self.expire_due_orders(time_ms, batch);
        let mut next = Some(first);
        while let Some(request) = next.take() {
            self.handle(request, time_ms, batch);
            if batch.is_full() {
                break;
            }
            next = requests.try_recv().ok();
        }
    }

    /// GTD orders expire by a journaled command the sequencer submits itself once the clock
    /// reaches the earliest expiry, ahead of every command in the batch, so nobody trades with
    /// an order that has run out.
    fn expire_due_orders(&mut self, time_ms: i64, batch: &mut Batch) {
        if self.state.next_expiry_ms().is_some_and(|t| t <= time_ms) {
            let operator = self.state.operator().expect("orders exist only after genesis");
            let expired = self.execute(operator, Command::ExpireOrders, time_ms, batch);
            assert!(expired.is_ok(), "an order was due, so ExpireOrders is accepted");
        }
    }

    fn handle(&mut self, request: Request, time_ms: i64, batch: &mut Batch) {
        match request {
            Request::One { actor, command, reply } => {
                let outcome = self.execute(actor, command, time_ms, batch);
                batch.replies.push(Box::new(move |ok| {
                    reply.complete(if ok {
                        outcome.map_err(SubmitError::Rejected)
                    } else {
                        Err(unavailable())
                    });
                }));
            }
            Request::Many { commands, reply } => {
                let outcomes: Vec<_> =
                    commands.into_iter().map(|(a, c)| self.execute(a, c, time_ms, batch)).collect();
                batch.replies.push(Box::new(move |ok| {
                    reply.complete(if ok { Ok(outcomes) } else { Err(unavailable()) });
                }));
            }
            Request::Query(query) => batch.replies.push(query(&self.state)),
            Request::Snapshot => {
                let since = self.state.last_seq() - self.last_snapshot;
                if since > 0 && since >= self.config.snapshot_on_close_min {
                    self.snapshot(batch);
                }
            }
        }
    }

    fn execute(
        &mut self,
        actor: OrgId,
        command: Command,
        time_ms: i64,
        batch: &mut Batch,
    ) -> Result<Committed, Rejection> {
        let envelope = Envelope { seq: self.state.last_seq() + 1, time_ms, actor, command };
        let events =
            self.state.execute(&envelope).inspect_err(|r| self.stats.record_rejection(*r))?;
        let seq = envelope.seq;
        batch.records.push(envelope);
        let interval = self.config.snapshot_interval;
        if interval > 0 && seq.is_multiple_of(interval) {
            self.snapshot(batch);
        }
        let committed = Committed { seq, time_ms, events };
        if self.feeding {
            batch.committed.push(committed.clone());
        }
        Ok(committed)
    }

    /// Snapshots the state as of the last command in `batch` (or the last durable one). A batch
    /// carries at most one snapshot; a later one in the same batch replaces the earlier.
    fn snapshot(&mut self, batch: &mut Batch) {
        let bytes = encode_state(&self.state);
        let digest = sha256(&bytes);
        batch.snapshot = Some((self.state.last_seq(), bytes, digest));
        self.last_snapshot = self.state.last_seq();
    }
}

fn write_loop(
    mut journal: Box<dyn Journal>,
    batches: Receiver<Batch>,
    stopped: &AtomicBool,
    head: &Mutex<(u64, Hash)>,
    stats: &Stats,
    mut feed: Option<Feed>,
) -> Box<dyn Journal> {
    let (mut last_seq, mut last_hash) = *head.lock().expect("head lock");
    let mut records = Vec::new();
    for batch in batches {
        if stopped.load(Ordering::Acquire) {
            batch.replies.into_iter().for_each(|deliver| deliver(false));
            continue;
        }
        records.clear();
        let mut snapshot_hash = None;
        for envelope in &batch.records {
            assert_eq!(envelope.seq, last_seq + 1, "the sequencer hands over records in order");
            let body = encode_envelope(envelope);
            last_hash = chain_hash(&last_hash, &body);
            last_seq = envelope.seq;
            records.push(Record {
                seq: envelope.seq,
                time_ms: envelope.time_ms,
                actor: envelope.actor.0,
                kind: std::borrow::Cow::Borrowed(envelope.command.kind()),
                body,
                hash: last_hash,
            });
            if batch.snapshot.as_ref().is_some_and(|(seq, _, _)| *seq == last_seq) {
                snapshot_hash = Some(last_hash);
            }
        }
        let snapshot = batch.snapshot.map(|(seq, state, digest)| Snapshot {
            seq,
            state,
            digest,
            // A snapshot taken on close (no records in its batch) is at the durable head.
            record_hash: snapshot_hash.unwrap_or(last_hash),
        });
        let started = std::time::Instant::now();
        let ok = journal.append(&records, snapshot.as_ref()).is_ok();
        if ok {
            let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            *head.lock().expect("head lock") = (last_seq, last_hash);
            stats.record_commit(records.len() as u64, elapsed_us);
            if let Some(feed) = feed.as_mut()
                && !batch.committed.is_empty()
            {
                // Before the replies: a client that hears its command succeeded and then
                // subscribes finds it in the read models.
                debug_assert!(batch.committed.windows(2).all(|w| w[0].seq < w[1].seq));
                feed(&batch.committed);
            }
        } else {
            stopped.store(true, Ordering::Release);
        }
        batch.replies.into_iter().for_each(|deliver| deliver(ok));
    }
    journal
}
