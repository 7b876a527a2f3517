//! `rasid-server`: the HTTP API over one durable Rasid ledger.
//!
//! The server owns one [`Ledger`] — the same single-writer sequencer and journal the CLI uses —
//! and is the only writer of its database while it runs. Every command goes through
//! `Ledger::submit` and every read through `Ledger::query`, both from
//! `tokio::task::spawn_blocking` because they block until the command (and everything sequenced
//! before it) is durable; a handler answers only after that. Requests are JSON under `/v1`;
//! errors are `{"error":{"code","message","details"}}` (see [`ApiError`]).
//!
//! Who may do what: a user belongs to one organization and acts as it; the organization's role
//! (operator, registrar, member, auditor) decides which routes it may call. Routes deny by
//! default: each names the roles it allows, and the engine checks ownership again. Users and
//! sessions are kept in tables beside the journal (SQLite only for now), not in the ledger.

mod auth;
mod cache;
mod error;
mod idempotency;
mod limits;
pub mod live;
mod market;
mod metrics;
pub mod render;
mod routes;
pub mod serial_lookup;
mod ws;

pub use error::{ApiError, rejection_status};

use rasid_core::{Command, OrgId, State};
use rasid_store::{Config, DatabaseUrl, Ledger, open_journal, replay_committed, system_clock};
use std::future::Future;
use std::sync::{Arc, RwLock, RwLockReadGuard};

/// Names the genesis record gives the operator and registrar of a new ledger (as the CLI).
pub const DEFAULT_OPERATOR: &str = "Rasid Operator";
pub const DEFAULT_REGISTRAR: &str = "Rasid Registry";
/// The user the bootstrap password creates.
pub const BOOTSTRAP_USER: &str = "operator";

#[derive(Debug, Clone)]
pub struct Options {
    pub database: DatabaseUrl,
    pub snapshot_interval: u64,
    /// From `RASID_BOOTSTRAP_OPERATOR_PASSWORD`: creates user `operator` when there are no users.
    pub bootstrap_operator_password: Option<String>,
    /// `(username, password, organization)` created at open when missing: the demo's logins.
    pub demo_users: Vec<(String, String, OrgId)>,
}

/// The open ledger and user tables the handlers share.
#[derive(Debug)]
pub struct App {
    /// `None` once closed. Handlers hold the read lock while they use the ledger; closing takes
    /// the write lock, so it waits for every command in flight (the drain) and later requests
    /// are answered 503 instead of reaching a stopped ledger.
    ledger: RwLock<Option<Ledger>>,
    users: auth::Users,
    /// Read models fed by the ledger after each commit (market data, depth, WebSocket hub).
    pub(crate) live: Arc<live::Live>,
    /// Per-token request budgets (429).
    pub(crate) limits: limits::RateLimiter,
    /// The ledger's counters, kept past close for `/metrics`.
    pub(crate) stats: Arc<rasid_store::Stats>,
    pub(crate) metrics: metrics::HttpMetrics,
    pub(crate) caches: cache::Caches,
}

/// The open ledger, borrowed for one request.
pub(crate) struct LedgerRef<'a>(RwLockReadGuard<'a, Option<Ledger>>);

impl std::ops::Deref for LedgerRef<'_> {
    type Target = Ledger;
    fn deref(&self) -> &Ledger {
        self.0.as_ref().expect("LedgerRef is only made for an open ledger")
    }
}

impl App {
    /// Opens (recovering) the ledger, writes genesis on an empty one, opens the user tables and
    /// creates the bootstrap operator on the first start.
    pub fn open(options: &Options) -> Result<Self, String> {
        // Refuse unsupported databases before touching the journal.
        let users = auth::Users::open(&options.database)?;
        let mut journal = open_journal(&options.database).map_err(|e| e.to_string())?;
        // The read models are rebuilt from the whole journal before the ledger starts, so the
        // feed continues exactly where the replay stopped (the server is the only writer).
        let live = Arc::new(live::Live::new());
        replay_committed(journal.as_mut(), &mut |c| live.replay(&c)).map_err(|e| e.to_string())?;
        let config = Config { snapshot_interval: options.snapshot_interval, ..Config::default() };
        let feed: rasid_store::Feed = {
            let live = live.clone();
            Box::new(move |batch| live.apply(batch))
        };
        let ledger = Ledger::open_with_feed(journal, config, system_clock(), Some(feed))
            .map_err(|e| e.to_string())?;
        let initialized = ledger.query(State::is_initialized).map_err(|e| e.to_string())?;
        if !initialized {
            let genesis = Command::Genesis {
                operator_name: DEFAULT_OPERATOR.to_owned(),
                registrar_name: DEFAULT_REGISTRAR.to_owned(),
            };
            ledger.submit(OrgId(0), genesis).map_err(|e| e.to_string())?;
        }
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
            let operator = ledger
                .query(|s| s.operator())
                .map_err(|e| e.to_string())?
                .ok_or("the ledger has no operator")?;
            users
                .create(BOOTSTRAP_USER, password, operator, now_ms())
                .map_err(|e| format!("cannot create the bootstrap operator: {e:?}"))?;
        }
        for (username, password, org) in &options.demo_users {
            match users.create(username, password, *org, now_ms()) {
                Ok(()) | Err(auth::AuthError::Exists) => {}
                Err(e) => return Err(format!("cannot create the demo user {username}: {e:?}")),
            }
        }
        let stats = ledger.stats_shared();
        Ok(Self {
            ledger: RwLock::new(Some(ledger)),
            users,
            live,
            limits: limits::RateLimiter::default(),
            stats,
            metrics: metrics::HttpMetrics::default(),
            caches: cache::Caches::default(),
        })
    }

    /// Sets each token's request budget: `rate_per_s` on average, `burst` at once; 0 turns
    /// rate limiting off (benchmarks).
    pub fn set_rate_limit(&self, rate_per_s: u32, burst: u32) {
        self.limits.configure(rate_per_s, burst);
    }

    /// Submits a command as `actor` through the server's ledger, as a route would (for the
    /// demo's trading bots, which run in the server's process).
    pub fn submit(&self, actor: OrgId, command: Command) -> Result<rasid_store::Committed, String> {
        let ledger = self.ledger().map_err(|e| e.message().to_owned())?;
        ledger.submit(actor, command).map_err(|e| e.to_string())
    }

    /// Submits commands in one request, each accepted or rejected on its own.
    pub fn submit_batch(
        &self,
        commands: Vec<(OrgId, Command)>,
    ) -> Result<Vec<Result<rasid_store::Committed, rasid_core::Rejection>>, String> {
        let ledger = self.ledger().map_err(|e| e.message().to_owned())?;
        ledger.submit_batch(commands).map_err(|e| e.to_string())
    }

    /// Runs `f` on the ledger's state in sequence with commands (see `Ledger::query`).
    pub fn query<R: Send + 'static>(
        &self,
        f: impl FnOnce(&State) -> R + Send + 'static,
    ) -> Result<R, String> {
        let ledger = self.ledger().map_err(|e| e.message().to_owned())?;
        ledger.query(f).map_err(|e| e.to_string())
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

    pub(crate) fn ledger(&self) -> Result<LedgerRef<'_>, ApiError> {
        // A poisoned lock only means a handler panicked while reading; the ledger is intact.
        let guard = self.ledger.read().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            return Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                "the server is shutting down",
            ));
        }
        Ok(LedgerRef(guard))
    }

    /// Stops the ledger once the commands in flight are done: drains its queue and snapshots
    /// (`Ledger::close`). Blocking.
    pub fn close(&self) -> Result<(), String> {
        let ledger = self.ledger.write().unwrap_or_else(|p| p.into_inner()).take();
        match ledger {
            Some(ledger) => ledger.close().map(|_| ()).map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
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

/// As [`serve`], for an app the caller keeps a handle to (the demo's bots, the HTTP bench).
pub async fn serve_shared(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let router = routes::router(app.clone());
    axum::serve(listener, router)
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
