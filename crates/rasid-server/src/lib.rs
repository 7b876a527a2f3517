//! `rasid-server`: the HTTP API over one durable Rasid ledger.
//!
//! The server owns one [`Ledger`] — the same single-writer sequencer and journal the CLI uses —
//! and is the only writer of its database while it runs. A command is queued for the sequencer
//! without blocking (`Ledger::try_submit_async`) and its ticket is awaited on the async runtime,
//! so a request waiting for durability holds no thread; commands that arrive together reach the
//! sequencer together and share one group commit. Reads go through `Ledger::query` from
//! `tokio::task::spawn_blocking`. Either way a handler answers only once the command (and
//! everything sequenced before it) is durable. Requests are JSON under `/v1`;
//! errors are `{"error":{"code","message","details"}}` (see [`ApiError`]).
//!
//! Who may do what: a user belongs to one organization and acts as it; the organization's role
//! (operator, registrar, member, auditor) decides which routes it may call. Routes deny by
//! default: each names the roles it allows, and the engine checks ownership again. Users and
//! sessions are kept in tables beside the journal (SQLite or PostgreSQL), not in the ledger.
//!
//! High availability (PostgreSQL only): several servers may share one database. The one holding
//! the writer lease ([`rasid_store::lease`]) runs the [`Ledger`]; the others are followers that
//! tail the journal into their own state, answer reads from it, refuse commands with
//! `503 not_writer` (naming the writer's address, `--advertise`), and take over when the lease
//! expires. A writer that loses the lease steps down to follower; its appends are fenced.

mod auth;
mod cache;
mod certificate;
mod error;
mod idempotency;
mod limits;
pub mod live;
mod market;
mod metrics;
pub mod openapi;
pub mod render;
mod routes;
pub mod serial_lookup;
mod ws;

pub use error::{ApiError, rejection_status};
pub use limits::{
    DEFAULT_BURST as RATE_LIMIT_BURST_DEFAULT, DEFAULT_RATE_PER_S as RATE_LIMIT_PER_S_DEFAULT,
};

use axum::http::StatusCode;
use rasid_core::{Command, OrgId, State};
use rasid_store::{
    Committed, Config, DatabaseUrl, Feed, Fence, Follower, Hash, Journal, Lease, LeaseInfo, Ledger,
    PostgresJournal, QueueFull, Ticket, open_journal, system_clock,
};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

/// Names the genesis record gives the operator and registrar of a new ledger (as the CLI).
pub const DEFAULT_OPERATOR: &str = "Rasid Operator";
pub const DEFAULT_REGISTRAR: &str = "Rasid Registry";
/// The user the bootstrap password creates.
pub const BOOTSTRAP_USER: &str = "operator";
/// The shortest metrics scrape token accepted (`App::set_metrics_token`).
pub const METRICS_TOKEN_LEN_MIN: usize = 16;
/// The writer lease's default length: how long a dead writer holds up writes at most.
pub const LEASE_TTL_MS_DEFAULT: u64 = 3_000;

#[derive(Debug, Clone)]
pub struct Options {
    pub database: DatabaseUrl,
    pub snapshot_interval: u64,
    /// From `RASID_BOOTSTRAP_OPERATOR_PASSWORD`: creates user `operator` when there are no users.
    pub bootstrap_operator_password: Option<String>,
    /// `(username, password, organization)` created at open when missing: the demo's logins.
    pub demo_users: Vec<(String, String, OrgId)>,
    /// High availability, PostgreSQL only.
    pub ha: HaOptions,
}

/// How a server shares a PostgreSQL database with others: see [`rasid_store::lease`].
#[derive(Debug, Clone)]
pub struct HaOptions {
    /// Where clients reach this server, told to clients of the followers while it writes.
    pub advertise: String,
    /// The writer lease's length.
    pub lease_ttl_ms: u64,
}

impl Default for HaOptions {
    fn default() -> Self {
        Self { advertise: String::new(), lease_ttl_ms: LEASE_TTL_MS_DEFAULT }
    }
}

/// What this server is now. On SQLite always the writer; on PostgreSQL the holder of the
/// writer lease, or a follower that tails the journal, answers reads from its own state and
/// refuses commands with `503 not_writer` naming the writer's address.
enum Role {
    Writer { ledger: Ledger, term: Option<i64> },
    Follower { follower: Box<Follower>, writer: Mutex<Option<LeaseInfo>> },
}

/// The PostgreSQL high-availability machinery of one server: its lease handle and the thread
/// that renews it (as writer) or tails the journal and tries to take over (as follower).
struct Ha {
    url: String,
    lease: Mutex<Lease>,
    config: Config,
    /// Dropped (set to `None`) to stop the threads.
    stop: Mutex<Vec<std::sync::mpsc::Sender<()>>>,
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

/// Commands queued from the blocking pool at once (`App::submit_blocking`). During a long change
/// of role every command goes there, and each would hold one of the pool's 512 threads while it
/// waits for the role lock, starving the reads that need the pool too; beyond this many they
/// wait on the runtime instead, holding no thread, in arrival order among themselves.
const BLOCKING_SUBMITS_MAX: usize = 32;

/// How often the SQL read models are brought up to the journal's head.
const READ_MODEL_SYNC_INTERVAL: Duration = Duration::from_millis(1_000);

impl std::fmt::Debug for Ha {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ha")
    }
}

/// The open ledger and user tables the handlers share.
#[derive(Debug)]
pub struct App {
    /// `None` once closed. Handlers hold the read lock while they use the ledger (a command
    /// only while it is queued; its reply is awaited after); closing (and a change of role)
    /// takes the write lock, so it waits for those, `Ledger::close` then answers every command
    /// already queued (the drain), and later requests are answered 503 instead of reaching a
    /// stopped ledger.
    role: RwLock<Option<Role>>,
    users: auth::Users,
    ha: Option<Ha>,
    closing: AtomicBool,
    /// A second, read-only use of the journal for reading single records (a certificate names
    /// its record's hash). The writer thread owns the ledger's own connection; SQLite's WAL and
    /// PostgreSQL both let this one read beside it. Opened on first use.
    database: DatabaseUrl,
    reader: Mutex<Option<Box<dyn Journal>>>,
    /// On SQLite, an exclusive lock on `FILE.serve.lock` for as long as the process lives.
    _sqlite_lock: Option<std::fs::File>,
    /// Read models fed by the ledger after each commit (market data, depth, WebSocket hub).
    pub(crate) live: Arc<live::Live>,
    /// Per-token request budgets (429).
    pub(crate) limits: limits::RateLimiter,
    /// The writer's ledger counters, kept past close (and past a step-down) for `/metrics`;
    /// replaced when this server takes over as writer.
    stats: RwLock<Arc<rasid_store::Stats>>,
    pub(crate) metrics: metrics::HttpMetrics,
    /// SHA-256 of the token that may read `/metrics` without a user (`set_metrics_token`).
    metrics_token: RwLock<Option<[u8; 32]>>,
    pub(crate) caches: cache::Caches,
    /// The last balances read of each organization, shared by WebSocket connections.
    pub(crate) balance_reads: ws::BalanceReads,
    /// A random number drawn each time this process becomes the writer, stored with every
    /// idempotency key it claims. A key claimed under another epoch and never answered was
    /// claimed by a writer that has stopped: its outcome is in doubt (see `idempotency.rs`).
    /// Comparing clocks instead (claimed before this process became the writer) misjudged a
    /// claim whenever two machines' clocks disagreed.
    writer_epoch: std::sync::atomic::AtomicI64,
    /// Permits to queue a command from the blocking pool (`BLOCKING_SUBMITS_MAX`).
    blocking_submits: Arc<tokio::sync::Semaphore>,
    /// Commands holding a blocking thread to be queued, and commands waiting for a permit to,
    /// for `/metrics`.
    pub(crate) blocking_submits_running: AtomicU64,
    pub(crate) blocking_submits_waiting: AtomicU64,
}

impl std::fmt::Debug for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Role::Writer { term, .. } => write!(f, "Writer(term {term:?})"),
            Role::Follower { .. } => f.write_str("Follower"),
        }
    }
}

/// The ledger as this server has it, borrowed for one request: the writer's [`Ledger`], or a
/// follower's state. Handlers use only these methods, so they work the same on both.
pub(crate) struct LedgerRef<'a>(RwLockReadGuard<'a, Option<Role>>);

impl LedgerRef<'_> {
    fn role(&self) -> &Role {
        self.0.as_ref().expect("LedgerRef is only made for an open ledger")
    }

    /// Runs `f` on the state. On the writer it sees every command submitted before it; on a
    /// follower it sees the journal as of the follower's last catch-up (a fraction of a second
    /// behind the writer).
    pub fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&State) -> R + Send + 'static,
    ) -> Result<R, ApiError> {
        match self.role() {
            Role::Writer { ledger, .. } => Ok(ledger.query(f)?),
            Role::Follower { follower, .. } => Ok(follower.query(f)),
        }
    }

    /// Executes a command on the writer; a follower refuses it with `503 not_writer`.
    pub fn submit(&self, actor: OrgId, command: Command) -> Result<Committed, ApiError> {
        match self.role() {
            Role::Writer { ledger, .. } => Ok(ledger.submit(actor, command)?),
            Role::Follower { writer, .. } => Err(not_writer(writer)),
        }
    }

    /// Queues a command on the writer without blocking; a follower refuses it with
    /// `503 not_writer`. `Ok(Err(QueueFull))` hands the command back when the sequencer's
    /// queue is full, so the caller can wait for room off the async threads.
    fn try_submit_async(
        &self,
        actor: OrgId,
        command: Command,
    ) -> Result<Result<Ticket<Committed>, QueueFull>, ApiError> {
        match self.role() {
            Role::Writer { ledger, .. } => Ok(ledger.try_submit_async(actor, command)),
            Role::Follower { writer, .. } => Err(not_writer(writer)),
        }
    }

    /// Queues a command on the writer, blocking while the sequencer's queue is full.
    fn submit_queued(&self, actor: OrgId, command: Command) -> Result<Ticket<Committed>, ApiError> {
        match self.role() {
            Role::Writer { ledger, .. } => Ok(ledger.submit_async(actor, command)),
            Role::Follower { writer, .. } => Err(not_writer(writer)),
        }
    }

    /// Executes commands in one request on the writer, each accepted or rejected on its own;
    /// a follower refuses them with `503 not_writer`.
    pub fn submit_batch(
        &self,
        commands: Vec<(OrgId, Command)>,
    ) -> Result<Vec<Result<Committed, rasid_core::Rejection>>, ApiError> {
        match self.role() {
            Role::Writer { ledger, .. } => Ok(ledger.submit_batch(commands)?),
            Role::Follower { writer, .. } => Err(not_writer(writer)),
        }
    }

    /// Sequence number and hash of the last durable (writer) or applied (follower) record.
    pub fn head(&self) -> (u64, Hash) {
        match self.role() {
            Role::Writer { ledger, .. } => ledger.head(),
            Role::Follower { follower, .. } => follower.head(),
        }
    }

    /// `"writer"` or `"follower"`, and the lease term (`None` on SQLite, which has no lease).
    pub fn role_name(&self) -> (&'static str, Option<i64>) {
        match self.role() {
            Role::Writer { term, .. } => ("writer", *term),
            Role::Follower { writer, .. } => {
                ("follower", lock(writer).as_ref().map(|w: &LeaseInfo| w.term))
            }
        }
    }
}

fn not_writer(writer: &Mutex<Option<LeaseInfo>>) -> ApiError {
    let known = lock(writer).clone().filter(|w| w.live && !w.address.is_empty());
    let message = match &known {
        Some(w) => {
            format!("this server is a follower; send commands to the writer at {}", w.address)
        }
        None => "this server is a follower and no writer holds the lease right now; retry shortly"
            .to_owned(),
    };
    let details = match known {
        Some(w) => serde_json::json!({ "writer": w.address, "term": w.term }),
        None => serde_json::json!({ "writer": null }),
    };
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not_writer", message).with_details(details)
}

/// An error as text for in-process callers (the demo's bots, the bench): its code and message.
fn api_text(e: ApiError) -> String {
    format!("{}: {}", e.code(), e.message())
}

/// Opens the writer's ledger with the after-commit feed into `live`, after rebuilding `live`
/// from the whole journal: the feed continues exactly where the replay stopped, because this
/// server is the journal's only writer (the SQLite lock file, or the PostgreSQL lease whose
/// fence refuses every other writer's appends).
///
/// The journal is replayed once, from genesis: the read models need every command's events,
/// and the state the same pass builds is the ledger's (`Ledger::open_at_with_feed`), so the
/// ledger does not recover it a second time from its snapshot and tail. A follower opens the
/// same way, and a takeover hands its state over alike.
fn open_writer(
    journal: Box<dyn Journal>,
    config: Config,
    live: &Arc<live::Live>,
) -> Result<Ledger, String> {
    let replayed = Follower::open_feeding(journal, 0, &mut |batch| live.replay_batch(batch))
        .and_then(Follower::into_parts);
    let (journal, state, head) = replayed.map_err(|e| e.to_string())?;
    Ledger::open_at_with_feed(journal, config, system_clock(), state, head, Some(live_feed(live)))
        .map_err(|e| e.to_string())
}

/// The ledger's after-commit feed into the live read models.
fn live_feed(live: &Arc<live::Live>) -> Feed {
    let live = live.clone();
    Box::new(move |batch| live.apply(batch))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A name for this process in the lease row: its address, process id and a random part, so a
/// restarted process never mistakes its predecessor's lease for its own.
fn holder_id(advertise: &str) -> String {
    let mut random = [0u8; 4];
    let _ = getrandom::fill(&mut random);
    format!("{advertise} pid {} {}", std::process::id(), rasid_core::codec::hex(&random))
}

impl App {
    /// Opens (recovering) the ledger, writes genesis on an empty one, opens the user tables and
    /// creates the bootstrap operator on the first start. On PostgreSQL the server becomes the
    /// writer if it can take the lease, and a follower otherwise.
    pub fn open(options: &Options) -> Result<Self, String> {
        Self::open_with_hub(options, live::HUB_BATCHES_MAX)
    }

    /// As [`App::open`], with a WebSocket hub that keeps `hub_batches` published batches for
    /// clients that are behind (rounded up to a power of two). Tests use a small hub so that a
    /// slow client falls behind after a few dozen orders rather than thousands.
    pub fn open_with_hub(options: &Options, hub_batches: usize) -> Result<Self, String> {
        let sqlite_lock = match &options.database {
            DatabaseUrl::Sqlite(path) => Some(lock_sqlite(path)?),
            DatabaseUrl::Postgres(_) => None,
        };
        let users = auth::Users::open(&options.database)?;
        let config = Config { snapshot_interval: options.snapshot_interval, ..Config::default() };
        // The live read models (market data, depth, WebSocket hub) are rebuilt from the whole
        // journal at open, on both roles; afterwards the writer's ledger feeds them after each
        // commit, and a follower feeds them from the records it tails.
        let live = Arc::new(live::Live::with_capacity(hub_batches));
        let (role, ha) = match &options.database {
            DatabaseUrl::Sqlite(_) => {
                let journal = open_journal(&options.database).map_err(|e| e.to_string())?;
                let ledger = open_writer(journal, config, &live)?;
                (Role::Writer { ledger, term: None }, None)
            }
            DatabaseUrl::Postgres(url) => {
                // Opening the journal first creates (migrates) the lease table.
                let journal = PostgresJournal::open(url).map_err(|e| e.to_string())?;
                let holder = holder_id(&options.ha.advertise);
                let mut lease =
                    Lease::connect(url, &holder, &options.ha.advertise, options.ha.lease_ttl_ms)
                        .map_err(|e| e.to_string())?;
                let role = match lease.try_acquire().map_err(|e| e.to_string())? {
                    Some(term) => {
                        drop(journal);
                        let journal = PostgresJournal::open_fenced(url, Fence::Term(term))
                            .map_err(|e| e.to_string())?;
                        let ledger = open_writer(Box::new(journal), config, &live)?;
                        eprintln!("rasid: writer (lease term {term})");
                        Role::Writer { ledger, term: Some(term) }
                    }
                    None => {
                        let follower =
                            Follower::open_feeding(Box::new(journal), 0, &mut |b| live.apply(b))
                                .map_err(|e| e.to_string())?;
                        let writer = lease.current().map_err(|e| e.to_string())?;
                        eprintln!(
                            "rasid: follower (the writer is {} under lease term {})",
                            writer.address, writer.term
                        );
                        Role::Follower {
                            follower: Box::new(follower),
                            writer: Mutex::new(Some(writer)),
                        }
                    }
                };
                let ha = Ha {
                    url: url.clone(),
                    lease: Mutex::new(lease),
                    config,
                    stop: Mutex::new(Vec::new()),
                    threads: Mutex::new(Vec::new()),
                };
                (role, Some(ha))
            }
        };
        let operator = match &role {
            Role::Writer { ledger, .. } => {
                write_genesis(ledger)?;
                ledger.query(|s| s.operator()).map_err(|e| e.to_string())?
            }
            Role::Follower { follower, .. } => follower.query(|s| s.operator()),
        };
        let stats = match &role {
            Role::Writer { ledger, .. } => ledger.stats_shared(),
            Role::Follower { .. } => Arc::default(),
        };
        if let Some(password) = &options.bootstrap_operator_password
            && users.is_empty().map_err(|e| format!("{e:?}"))?
        {
            if password.len() < auth::PASSWORD_LEN_MIN || password.len() > auth::PASSWORD_LEN_MAX {
                return Err(format!(
                    "RASID_BOOTSTRAP_OPERATOR_PASSWORD must have {}–{} bytes",
                    auth::PASSWORD_LEN_MIN,
                    auth::PASSWORD_LEN_MAX
                ));
            }
            let operator = operator.ok_or("the ledger has no operator")?;
            match users.create(BOOTSTRAP_USER, password, operator, now_ms()) {
                // Another server of the same database created it first.
                Ok(()) | Err(auth::AuthError::Exists) => {}
                Err(e) => return Err(format!("cannot create the bootstrap operator: {e:?}")),
            }
        }
        for (username, password, org) in &options.demo_users {
            match users.create(username, password, *org, now_ms()) {
                Ok(()) | Err(auth::AuthError::Exists) => {}
                Err(e) => return Err(format!("cannot create the demo user {username}: {e:?}")),
            }
        }
        Ok(Self {
            role: RwLock::new(Some(role)),
            ha,
            closing: AtomicBool::new(false),
            users,
            database: options.database.clone(),
            reader: Mutex::new(None),
            _sqlite_lock: sqlite_lock,
            live,
            limits: limits::RateLimiter::default(),
            stats: RwLock::new(stats),
            metrics: metrics::HttpMetrics::default(),
            metrics_token: RwLock::new(None),
            caches: cache::Caches::default(),
            balance_reads: ws::BalanceReads::default(),
            writer_epoch: std::sync::atomic::AtomicI64::new(auth::new_writer_epoch()?),
            blocking_submits: Arc::new(tokio::sync::Semaphore::new(BLOCKING_SUBMITS_MAX)),
            blocking_submits_running: AtomicU64::new(0),
            blocking_submits_waiting: AtomicU64::new(0),
        })
    }

    /// This process's current writer epoch (see the field). Public for tests that leave a
    /// claim as this process would.
    pub fn writer_epoch(&self) -> i64 {
        self.writer_epoch.load(Ordering::Acquire)
    }

    /// The digest of the ledger state (`rasid_core::codec::digest_state`), in sequence with
    /// commands: tests check that a refused request changed nothing. Blocking; O(state).
    pub fn state_digest(&self) -> Result<[u8; 32], String> {
        self.ledger()
            .map_err(|e| e.code().to_owned())?
            .query(rasid_core::codec::digest_state)
            .map_err(|e| e.code().to_owned())
    }

    /// The chain hash of the durable journal record `seq`. Blocking.
    pub(crate) fn record_hash(&self, seq: u64) -> Result<Option<rasid_store::Hash>, ApiError> {
        // A panic while reading leaves nothing half-done: the reader only reads.
        let mut reader = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        if reader.is_none() {
            *reader = Some(open_journal(&self.database).map_err(ApiError::internal)?);
        }
        let journal = reader.as_mut().expect("opened above");
        match journal.record(seq) {
            Ok(record) => Ok(record.map(|r| r.hash)),
            Err(e) => {
                // Drop the connection so the next request opens a fresh one.
                *reader = None;
                Err(ApiError::internal(e))
            }
        }
    }

    /// Sets each token's request budget: `rate_per_s` on average, `burst` at once; 0 turns
    /// rate limiting off (benchmarks).
    pub fn set_rate_limit(&self, rate_per_s: u32, burst: u32) {
        self.limits.configure(rate_per_s, burst);
    }

    /// Sets the token a metrics scraper (Prometheus) presents as `Authorization: Bearer TOKEN`
    /// to read `/metrics` without a user; `None` leaves `/metrics` to the operator and auditor
    /// roles only. Only its SHA-256 is kept. Refuses a token shorter than
    /// [`METRICS_TOKEN_LEN_MIN`] bytes, which could be guessed.
    pub fn set_metrics_token(&self, token: Option<&str>) -> Result<(), String> {
        let hash = match token {
            Some(t) if t.len() < METRICS_TOKEN_LEN_MIN => {
                return Err(format!(
                    "the metrics token must have at least {METRICS_TOKEN_LEN_MIN} bytes"
                ));
            }
            Some(t) => Some(auth::token_hash(t)),
            None => None,
        };
        *self.metrics_token.write().unwrap_or_else(|p| p.into_inner()) = hash;
        Ok(())
    }

    /// Whether the request carries the metrics scrape token. Both sides are SHA-256 digests,
    /// so the comparison's timing says nothing about the token.
    pub(crate) fn is_scrape_token(&self, headers: &axum::http::HeaderMap) -> bool {
        let stored = *self.metrics_token.read().unwrap_or_else(|p| p.into_inner());
        match (stored, routes::bearer_token(headers)) {
            (Some(stored), Some(given)) => auth::token_hash(&given) == stored,
            _ => false,
        }
    }

    /// The writer ledger's counters (zero on a server that has not been the writer).
    pub(crate) fn stats(&self) -> Arc<rasid_store::Stats> {
        self.stats.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Submits a command as `actor` through the server's ledger, as a route would (for the
    /// demo's trading bots, which run in the server's process). A follower refuses it
    /// (`not_writer`).
    pub fn submit(&self, actor: OrgId, command: Command) -> Result<Committed, String> {
        let ledger = self.ledger().map_err(api_text)?;
        ledger.submit(actor, command).map_err(api_text)
    }

    /// Submits a command and awaits its durability on the async runtime, holding no thread
    /// while it waits. The ledger's lock is held only while the command is queued: a close
    /// that comes after still drains the queue (`Ledger::close`), so the command is answered
    /// either way, and a step-down answers it `ledger_unavailable`.
    ///
    /// A runtime thread never waits for the role lock. A change of role (step-down, take-over,
    /// close) waits for the write lock while senders blocked on a full queue hold read guards,
    /// and a waiting writer makes every new reader wait too; were a runtime thread to read-lock
    /// then, it would stall every connection it serves until the queue drained. So the lock is
    /// only tried here, and a command that finds it taken or awaited is queued from the
    /// blocking pool, as one that finds the queue full is.
    pub(crate) async fn submit_async(
        self: &Arc<Self>,
        actor: OrgId,
        command: Command,
    ) -> Result<Committed, ApiError> {
        // One statement, so the read guard is released before anything is awaited.
        let queued = match self.try_ledger() {
            Some(ledger) => ledger?.try_submit_async(actor, command)?,
            None => Err(QueueFull(actor, Box::new(command))),
        };
        let ticket = match queued {
            Ok(ticket) => ticket,
            Err(QueueFull(actor, command)) => self.submit_blocking(actor, *command).await?,
        };
        Ok(ticket.await?)
    }

    /// Queues a command from the blocking pool, where waiting for the role lock or for room in
    /// the sequencer's queue stalls no runtime thread; the bound on the queue holds either way.
    /// At most `BLOCKING_SUBMITS_MAX` commands hold a thread for it; the rest wait for a permit
    /// on the runtime, in arrival order (tokio's semaphore is fair). A command whose client
    /// goes away while it waits for a permit is not queued at all.
    async fn submit_blocking(
        self: &Arc<Self>,
        actor: OrgId,
        command: Command,
    ) -> Result<Ticket<Committed>, ApiError> {
        let permit = {
            let _waiting = Gauge::count(&self.blocking_submits_waiting);
            self.blocking_submits.clone().acquire_owned().await
        };
        // The semaphore is never closed; were it, queueing without a permit is still bounded
        // by the pool.
        let permit = permit.ok();
        let app = self.clone();
        tokio::task::spawn_blocking(move || {
            let _running = Gauge::count(&app.blocking_submits_running);
            let queued = app.ledger().and_then(|l| l.submit_queued(actor, command));
            drop(permit);
            queued
        })
        .await?
    }

    /// Submits commands in one request, each accepted or rejected on its own. A follower
    /// refuses the request (`not_writer`).
    pub fn submit_batch(
        &self,
        commands: Vec<(OrgId, Command)>,
    ) -> Result<Vec<Result<Committed, rasid_core::Rejection>>, String> {
        let ledger = self.ledger().map_err(api_text)?;
        ledger.submit_batch(commands).map_err(api_text)
    }

    /// Runs `f` on the ledger's state (see [`LedgerRef::query`]).
    pub fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&State) -> R + Send + 'static,
    ) -> Result<R, String> {
        let ledger = self.ledger().map_err(api_text)?;
        ledger.query(f).map_err(api_text)
    }

    /// The instrument directory (ids, symbols, currencies), rebuilt only after a new listing.
    pub(crate) fn instruments(&self) -> Result<Arc<cache::Directory>, ApiError> {
        let version = self.live.instruments_version.load(std::sync::atomic::Ordering::Acquire);
        if let Some(d) = self.caches.directory(version) {
            return Ok(d);
        }
        let directory = Arc::new(self.ledger()?.query(cache::Directory::from_state)?);
        self.caches.set_directory(version, directory.clone());
        Ok(directory)
    }

    /// As [`App::instruments`], for async code: a cache miss (after a new listing) reads the
    /// ledger on the blocking pool.
    pub(crate) async fn instruments_async(
        self: &Arc<Self>,
    ) -> Result<Arc<cache::Directory>, ApiError> {
        let version = self.live.instruments_version.load(std::sync::atomic::Ordering::Acquire);
        if let Some(d) = self.caches.directory(version) {
            return Ok(d);
        }
        let app = self.clone();
        tokio::task::spawn_blocking(move || app.instruments()).await?
    }

    pub(crate) fn ledger(&self) -> Result<LedgerRef<'_>, ApiError> {
        // A poisoned lock only means a handler panicked while reading; the ledger is intact.
        Self::ledger_of(self.role.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// As [`App::ledger`] without waiting: `None` while the role lock is held or awaited for a
    /// change of role (see [`App::submit_async`]).
    fn try_ledger(&self) -> Option<Result<LedgerRef<'_>, ApiError>> {
        let guard = match self.role.try_read() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        Some(Self::ledger_of(guard))
    }

    fn ledger_of(guard: RwLockReadGuard<'_, Option<Role>>) -> Result<LedgerRef<'_>, ApiError> {
        if guard.is_none() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is shutting down",
            ));
        }
        Ok(LedgerRef(guard))
    }

    /// Starts the PostgreSQL threads: the lease thread (renews the lease while writer, catches
    /// up and tries to take over while follower) and the SQL read models' projector.
    fn start_ha(self: &Arc<Self>) -> Result<(), String> {
        let Some(ha) = &self.ha else { return Ok(()) };
        let (tx, rx) = std::sync::mpsc::channel();
        lock(&ha.stop).push(tx);
        let app = self.clone();
        let thread = std::thread::Builder::new()
            .name("rasid-lease".into())
            .spawn(move || app.ha_loop(&rx))
            .map_err(|e| format!("cannot start the lease thread: {e}"))?;
        lock(&ha.threads).push(thread);
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        lock(&ha.stop).push(tx);
        let url = ha.url.clone();
        let thread = std::thread::Builder::new()
            .name("rasid-read-models".into())
            .spawn(move || project_read_models(&url, &rx))
            .map_err(|e| format!("cannot start the read model thread: {e}"))?;
        lock(&ha.threads).push(thread);
        Ok(())
    }

    fn ha_loop(&self, stop: &std::sync::mpsc::Receiver<()>) {
        let ha = self.ha.as_ref().expect("started only with HA");
        let ttl_ms = lock(&ha.lease).ttl_ms();
        // Followers look this often; a writer renews every third of its lease, so two renewals
        // may fail (a slow database) before the lease runs out.
        let tick = Duration::from_millis((ttl_ms / 10).clamp(20, 250));
        let renew_every = Duration::from_millis(ttl_ms / 3);
        let mut last_renew = Instant::now();
        while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(tick) {
            if self.closing.load(Ordering::Acquire) {
                break;
            }
            let action = {
                let role = self.role.read().unwrap_or_else(|p| p.into_inner());
                match &*role {
                    None => Action::Rebuild,
                    Some(Role::Writer { ledger, term }) => {
                        let term = term.expect("a PostgreSQL writer has a term");
                        if ledger.is_stopped() {
                            eprintln!("rasid: the ledger stopped (term {term}); stepping down");
                            Action::StepDown(term)
                        } else if last_renew.elapsed() >= renew_every {
                            match lock(&ha.lease).renew(term) {
                                Ok(true) => {
                                    last_renew = Instant::now();
                                    Action::None
                                }
                                Ok(false) => {
                                    eprintln!("rasid: lost the writer lease (term {term})");
                                    Action::StepDown(term)
                                }
                                Err(e) => {
                                    eprintln!("rasid: cannot renew the lease: {e}");
                                    Action::None
                                }
                            }
                        } else {
                            Action::None
                        }
                    }
                    Some(Role::Follower { follower, writer }) => {
                        let feed = &mut |batch: &[Committed]| self.live.apply(batch);
                        if let Err(e) = follower.catch_up_feeding(feed) {
                            eprintln!("rasid: follower cannot catch up: {e}");
                        }
                        let mut lease = lock(&ha.lease);
                        match lease.try_acquire() {
                            Ok(Some(term)) => Action::TakeOver(term),
                            Ok(None) => {
                                if let Ok(info) = lease.current() {
                                    *lock(writer) = Some(info);
                                }
                                Action::None
                            }
                            Err(e) => {
                                eprintln!("rasid: cannot try the lease: {e}");
                                Action::None
                            }
                        }
                    }
                }
            };
            match action {
                Action::None => {}
                Action::TakeOver(term) => {
                    if let Err(e) = self.take_over(ha, term) {
                        eprintln!("rasid: taking over as writer (term {term}) failed: {e}");
                        let _ = lock(&ha.lease).release(term);
                    }
                    last_renew = Instant::now();
                }
                Action::StepDown(term) => self.become_follower(ha, Some(term)),
                Action::Rebuild => self.become_follower(ha, None),
            }
        }
    }

    /// Follower → writer under `term`, which this process has just acquired: catches up with
    /// the journal (every append of the old term has committed or will fail its fence), then
    /// starts the sequencer on the follower's state without a second recovery.
    fn take_over(&self, ha: &Ha, term: i64) -> Result<(), String> {
        let started = Instant::now();
        // Drawn before anything changes, so a failure here leaves this process a follower.
        let epoch = auth::new_writer_epoch()?;
        let fenced =
            PostgresJournal::open_fenced(&ha.url, Fence::Term(term)).map_err(|e| e.to_string())?;
        let mut guard = self.role.write().unwrap_or_else(|p| p.into_inner());
        match &*guard {
            Some(Role::Follower { follower, .. }) => {
                let feed = &mut |batch: &[Committed]| self.live.apply(batch);
                follower.catch_up_feeding(feed).map_err(|e| e.to_string())?;
            }
            _ => return Err("not a follower".into()),
        }
        let Some(Role::Follower { follower, .. }) = guard.take() else { unreachable!() };
        // The live read models are fed up to the follower's head, where the ledger starts: its
        // feed continues them with no command twice and none missed.
        debug_assert_eq!(self.live.head_seq(), follower.head().0);
        let feed = Some(live_feed(&self.live));
        let opened = follower.into_parts().and_then(|(_, state, head)| {
            Ledger::open_at_with_feed(
                Box::new(fenced),
                ha.config,
                system_clock(),
                state,
                head,
                feed,
            )
        });
        match opened {
            Ok(ledger) => {
                write_genesis(&ledger)?;
                eprintln!(
                    "rasid: took over as the writer (lease term {term}) at record {} in {} ms",
                    ledger.head().0,
                    started.elapsed().as_millis()
                );
                *self.stats.write().unwrap_or_else(|p| p.into_inner()) = ledger.stats_shared();
                // Before any request reaches the new writer (they wait for `guard`): keys that the
                // old writer claimed and never answered are in doubt from now on.
                self.writer_epoch.store(epoch, Ordering::Release);
                *guard = Some(Role::Writer { ledger, term: Some(term) });
                self.balance_reads.forget_all();
                Ok(())
            }
            // `guard` stays `None`; the loop rebuilds a follower on its next turn.
            Err(e) => Err(e.to_string()),
        }
    }

    /// Writer → follower (the lease moved on, or the ledger stopped), or rebuilding a follower
    /// after a failed take-over. The follower recovers before the switch so reads pause only
    /// for the switch itself.
    fn become_follower(&self, ha: &Ha, term: Option<i64>) {
        // The live read models already reflect what the old ledger fed them; the follower feeds
        // them the rest. A command the old ledger commits and feeds while the follower recovers
        // reaches them from both sides, and `Live::apply` takes it once.
        let fed = self.live.head_seq();
        let feed = &mut |batch: &[Committed]| self.live.apply(batch);
        let follower = PostgresJournal::open(&ha.url)
            .and_then(|j| Follower::open_feeding(Box::new(j), fed, feed));
        let follower = match follower {
            Ok(f) => f,
            Err(e) => {
                eprintln!("rasid: cannot start following: {e}");
                return;
            }
        };
        let writer = lock(&ha.lease).current().ok();
        let old = {
            let mut guard = self.role.write().unwrap_or_else(|p| p.into_inner());
            let old = guard.replace(Role::Follower {
                follower: Box::new(follower),
                writer: Mutex::new(writer),
            });
            // Under the role lock, so no read of the new role finds one of the old.
            self.balance_reads.forget_all();
            old
        };
        // Dropping the old ledger fails whatever it still had queued (its appends are fenced).
        drop(old);
        if let Some(term) = term {
            let _ = lock(&ha.lease).release(term);
            eprintln!("rasid: now a follower (gave up lease term {term})");
        }
    }

    /// Stops the ledger once the commands in flight are done: drains its queue and snapshots
    /// (`Ledger::close`), then gives up the writer lease so a follower takes over at once.
    /// Blocking.
    pub fn close(&self) -> Result<(), String> {
        self.closing.store(true, Ordering::Release);
        if let Some(ha) = &self.ha {
            lock(&ha.stop).clear();
            let threads = std::mem::take(&mut *lock(&ha.threads));
            for thread in threads {
                let _ = thread.join();
            }
        }
        let role = self.role.write().unwrap_or_else(|p| p.into_inner()).take();
        match role {
            Some(Role::Writer { ledger, term }) => {
                let closed = ledger.close().map(|_| ()).map_err(|e| e.to_string());
                if let (Some(ha), Some(term)) = (&self.ha, term) {
                    let _ = lock(&ha.lease).release(term);
                }
                closed
            }
            Some(Role::Follower { .. }) | None => Ok(()),
        }
    }
}

/// Keeps the SQL read models (`rasid_store::read_model`) up to date until `stop` is dropped.
/// Every server runs one; the position row's lock lets only one write each stretch.
fn project_read_models(url: &str, stop: &std::sync::mpsc::Receiver<()>) {
    let mut models = None;
    let mut failing = false;
    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
        stop.recv_timeout(READ_MODEL_SYNC_INTERVAL)
    {
        let synced = match &mut models {
            Some(m) => rasid_store::ReadModels::sync(m),
            None => rasid_store::ReadModels::open(url).map(|m| {
                models = Some(m);
                0
            }),
        };
        // Reported once per stretch of failures, not every second.
        match synced {
            Ok(_) => failing = false,
            Err(e) if !failing => {
                eprintln!("rasid: the SQL read models cannot sync: {e}");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

enum Action {
    None,
    TakeOver(i64),
    StepDown(i64),
    Rebuild,
}

/// Takes the one-server lock of an SQLite ledger: SQLite is an embedded, single-process
/// database, so a second `rasid serve` on the same file is refused rather than left to race
/// the first for sequence numbers. The operating system drops the lock when the process ends,
/// however it ends.
fn lock_sqlite(path: &std::path::Path) -> Result<std::fs::File, String> {
    let lock_path = std::path::PathBuf::from(format!("{}.serve.lock", path.display()));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(format!(
            "another rasid serve is using {}: SQLite is single-process, so one server per file; \
             for several servers (high availability) use a postgres:// database",
            path.display()
        )),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(format!("cannot lock {}: {e}", lock_path.display()))
        }
    }
}

/// Writes the genesis record on an empty ledger.
fn write_genesis(ledger: &Ledger) -> Result<(), String> {
    let initialized = ledger.query(State::is_initialized).map_err(|e| e.to_string())?;
    if !initialized {
        let genesis = Command::Genesis {
            operator_name: DEFAULT_OPERATOR.to_owned(),
            registrar_name: DEFAULT_REGISTRAR.to_owned(),
        };
        ledger.submit(OrgId(0), genesis).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Serves `app` on `listener` until `shutdown` resolves, waits for the requests in flight, then
/// closes the ledger (drain, snapshot).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    serve_shared(listener, Arc::new(app), shutdown).await
}

/// As [`serve`], for an app the caller keeps a handle to (tests read the state digest through
/// it; the demo's bots and the HTTP bench submit through it).
pub async fn serve_shared(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    app.start_ha()?;
    // Every route is made a `Route` here, once (`with_state`), and each connection gets a clone
    // of that router, which is one reference count (`into_make_service`). Handing `axum::serve`
    // the router itself makes it call `with_state(())` again for every connection, rebuilding
    // the whole route table (≈ 90k instructions a connection, ≈ 1.8k per order in the HTTP
    // bench's 20,000 orders over 128 connections) and freeing it when the connection closes.
    let router = routes::router(app.clone()).with_state(());
    axum::serve(listener, router.into_make_service())
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| format!("server failed: {e}"))?;
    // New connections stopped and open ones were told to finish. Connection tasks may still
    // hold the router (and so `app`) for a moment, so the ledger is not taken by ownership:
    // `close` write-locks it, which waits for any command in flight, then snapshots.
    tokio::task::spawn_blocking(move || app.close())
        .await
        .map_err(|e| format!("closing the ledger failed: {e}"))?
}

/// `rasid serve`: binds `listen`, serves until Ctrl-C or SIGTERM, then shuts down gracefully.
pub fn run(listen: &str, options: Options) -> Result<(), String> {
    run_with(listen, options, |_| Box::new(|| {}))
}

/// Stops what [`run_with`]'s `start` began; called on shutdown, before the ledger closes.
pub type Stop = Box<dyn FnOnce() + Send>;

/// As [`run`], and once the ledger is open and the port bound, calls `start` with the app (the
/// demo starts its trading bots there). Its [`Stop`] runs at shutdown, before the ledger is
/// closed, so in-process writers finish cleanly.
pub fn run_with(
    listen: &str,
    options: Options,
    start: impl FnOnce(Arc<App>) -> Stop + Send + 'static,
) -> Result<(), String> {
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(async move {
        let mut options = options;
        if options.ha.advertise.is_empty() {
            options.ha.advertise = format!("http://{listen}");
        }
        let app = tokio::task::spawn_blocking(move || App::open(&options))
            .await
            .map_err(|e| e.to_string())??;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let app = Arc::new(app);
        let stop = start(app.clone());
        eprintln!("rasid: serving http://{addr}/v1");
        tracing::info!(%addr, "serving");
        let shutdown = async move {
            shutdown_signal().await;
            let _ = tokio::task::spawn_blocking(stop).await;
        };
        serve_shared(listener, app, shutdown).await
    })
}

/// Structured logs to stderr, filtered by `RUST_LOG` (default: warnings, and this crate's info).
/// Only the first call in a process installs the subscriber.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rasid_server=info"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    eprintln!("rasid: shutting down (finishing requests, then snapshot)");
}

pub(crate) fn now_ms() -> i64 {
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

/// Counts one in a gauge of `/metrics` for as long as it lives, so the count falls back even
/// when the future holding it is dropped (a client that goes away). Used here and by `ws.rs`.
struct Gauge<'a>(&'a AtomicU64);

impl<'a> Gauge<'a> {
    fn count(gauge: &'a AtomicU64) -> Self {
        gauge.fetch_add(1, Ordering::Relaxed);
        Self(gauge)
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::task::{Context, Waker};

    /// A writer on a fresh SQLite database in `dir` (also used by `ws.rs`'s tests).
    pub(crate) fn open_app(dir: &tempfile::TempDir) -> Arc<App> {
        let options = Options {
            database: DatabaseUrl::Sqlite(dir.path().join("rasid.db")),
            snapshot_interval: 1_000_000,
            bootstrap_operator_password: None,
            demo_users: Vec::new(),
            ha: HaOptions::default(),
        };
        Arc::new(App::open(&options).expect("opens"))
    }

    /// Holds a read guard of the role lock, as a sender blocked on a full queue does, and starts
    /// a change of role that waits for the write lock behind it; returns once the waiting change
    /// keeps new readers out (the guard's drop lets the change through).
    fn change_role_behind_a_blocked_sender(
        app: &Arc<App>,
    ) -> (RwLockReadGuard<'_, Option<Role>>, std::thread::JoinHandle<()>) {
        let blocked_sender = app.role.read().unwrap();
        let changing = {
            let app = app.clone();
            std::thread::spawn(move || drop(app.role.write().unwrap()))
        };
        while app.role.try_read().is_ok() {
            std::thread::yield_now();
        }
        (blocked_sender, changing)
    }

    /// A change of role waits for the write lock while a sender blocked on a full queue holds a
    /// read guard; from then on every new reader waits too. A command submitted meanwhile must
    /// leave its runtime thread free (its first poll returns at once) and still be answered once
    /// the change is through. Before, the first poll read-locked on the runtime thread and hung
    /// until the blocked sender let go.
    #[test]
    fn a_command_submitted_while_the_role_is_changing_does_not_block_the_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let app = open_app(&dir);
        let operator = app.query(|s| s.operator()).unwrap().expect("genesis was written");
        let (blocked_sender, changing) = change_role_behind_a_blocked_sender(&app);
        let (first_poll_tx, first_poll_rx) = mpsc::channel();
        let submitter = {
            let app = app.clone();
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
                let command = Command::CreateOrganization {
                    name: "Late".into(),
                    role: rasid_core::model::Role::Member,
                };
                let mut submitted = Box::pin(app.submit_async(operator, command));
                let polled = {
                    let _runtime = runtime.enter();
                    submitted.as_mut().poll(&mut Context::from_waker(Waker::noop()))
                };
                first_poll_tx.send(polled.is_pending()).unwrap();
                runtime.block_on(submitted)
            })
        };
        // A failure detector, not a synchronisation: the poll either returns at once or hangs.
        let first_poll = first_poll_rx.recv_timeout(Duration::from_secs(10));
        assert_eq!(first_poll, Ok(true), "the first poll returned pending without waiting");
        drop(blocked_sender);
        changing.join().unwrap();
        let committed = submitter.join().unwrap().expect("the command is answered");
        assert!(committed.seq > 1);
        app.close().unwrap();
    }

    /// During a change of role every command is queued from the blocking pool; each used to
    /// hold a thread of its own while it waited for the role lock (up to the pool's 512),
    /// starving reads. Now `BLOCKING_SUBMITS_MAX` hold one and the rest wait on the runtime,
    /// and all of them are answered once the change is through.
    #[test]
    fn commands_during_a_change_of_role_hold_at_most_the_capped_blocking_threads() {
        const EXTRA: usize = 5;
        let dir = tempfile::tempdir().unwrap();
        let app = open_app(&dir);
        let operator = app.query(|s| s.operator()).unwrap().expect("genesis was written");
        // Made before the guard, so a failing assertion drops the guard first and the runtime's
        // drop, which waits for its blocking threads, does not hang on it.
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
        let (blocked_sender, changing) = change_role_behind_a_blocked_sender(&app);
        let submitted: Vec<_> = (0..BLOCKING_SUBMITS_MAX + EXTRA)
            .map(|i| {
                let app = app.clone();
                runtime.spawn(async move {
                    let command = Command::CreateOrganization {
                        name: format!("Late {i}"),
                        role: rasid_core::model::Role::Member,
                    };
                    app.submit_async(operator, command).await
                })
            })
            .collect();
        // Without the cap every command takes a thread and `waiting` never reaches EXTRA; the
        // deadline turns that into a failure instead of a hang.
        let deadline = Instant::now() + Duration::from_secs(30);
        let counts = || {
            (
                app.blocking_submits_running.load(Ordering::Relaxed),
                app.blocking_submits_waiting.load(Ordering::Relaxed),
            )
        };
        while counts() != (BLOCKING_SUBMITS_MAX as u64, EXTRA as u64) {
            assert!(Instant::now() < deadline, "running and waiting: {:?}", counts());
            std::thread::yield_now();
        }
        drop(blocked_sender);
        changing.join().unwrap();
        let mut seqs: Vec<u64> = runtime.block_on(async {
            let mut seqs = Vec::new();
            for task in submitted {
                seqs.push(task.await.unwrap().expect("every command is answered").seq);
            }
            seqs
        });
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), BLOCKING_SUBMITS_MAX + EXTRA, "each command was its own record");
        assert_eq!(counts(), (0, 0));
        drop(runtime);
        app.close().unwrap();
    }
}
