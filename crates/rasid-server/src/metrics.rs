//! `GET /metrics` in the Prometheus text format, and the request counters that feed it and log.
//!
//! Counters come from the ledger (`rasid_store::Stats`: commands, commits, batch sizes, commit
//! latency, rejections by code), the live hub (WebSocket clients, messages lost to slow
//! clients) and the router's front middleware (HTTP requests by status, request latency).
//! Each request also runs in a `tracing` span (`RUST_LOG=rasid_server=debug` logs one line per
//! request).

use crate::App;
use crate::routes::Shared;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use rasid_store::COMMIT_LATENCY_BUCKETS_US;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Upper bounds (microseconds) of the request latency buckets; the last is open.
const REQUEST_BUCKETS_US: [u64; 10] =
    [250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000, u64::MAX];

/// HTTP status codes are three digits, 100–999 (`http::StatusCode` refuses others).
const STATUS_MIN: u16 = 100;
const STATUS_COUNT: usize = 900;

#[derive(Debug)]
pub struct HttpMetrics {
    /// Requests answered, indexed by status − 100. One atomic counter per status rather than a
    /// locked map: every request adds to it, and the two runtime threads would otherwise take
    /// turns on one lock.
    by_status: Box<[AtomicU64]>,
    latency_buckets: [AtomicU64; REQUEST_BUCKETS_US.len()],
    latency_sum_us: AtomicU64,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            by_status: (0..STATUS_COUNT).map(|_| AtomicU64::new(0)).collect(),
            latency_buckets: Default::default(),
            latency_sum_us: AtomicU64::new(0),
        }
    }
}

/// Counts one answered request by status and latency, and logs it in its span. Called by the
/// router's front middleware (`routes::front`), which also buffers the body, so that a request
/// passes one middleware rather than one per concern.
pub(crate) fn record(
    m: &HttpMetrics,
    started: Instant,
    status: axum::http::StatusCode,
    span: &tracing::Span,
) {
    let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let status = status.as_u16();
    span.in_scope(|| tracing::debug!(status, elapsed_us, "answered"));
    if let Some(count) =
        status.checked_sub(STATUS_MIN).and_then(|i| m.by_status.get(usize::from(i)))
    {
        count.fetch_add(1, Ordering::Relaxed);
    }
    m.latency_sum_us.fetch_add(elapsed_us, Ordering::Relaxed);
    let bucket =
        REQUEST_BUCKETS_US.iter().position(|&b| elapsed_us <= b).expect("open last bucket");
    m.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
}

pub(crate) async fn render(State(app): State<Shared>) -> Response {
    let mut response = text(&app).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    bounds_us: &[u64],
    counts: &[u64],
    sum_us: u64,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    let mut cumulative = 0;
    for (bound, count) in bounds_us.iter().zip(counts) {
        cumulative += count;
        let le =
            if *bound == u64::MAX { "+Inf".to_owned() } else { format!("{}", *bound as f64 / 1e6) };
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_sum {}", sum_us as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {cumulative}");
}

fn text(app: &App) -> String {
    let s = app.stats();
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let mut out = String::new();
    let mut counter = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    counter("rasid_commands_total", "counter", "Commands made durable.", load(&s.records));
    counter("rasid_commits_total", "counter", "Journal commits (group commits).", load(&s.commits));
    counter(
        "rasid_batch_commands_max",
        "gauge",
        "The largest number of commands in one commit so far.",
        load(&s.batch_records_max),
    );
    counter(
        "rasid_head_seq",
        "gauge",
        "Sequence number the read models reflect.",
        app.live.head_seq(),
    );
    counter(
        "rasid_submits_blocking_running",
        "gauge",
        "Commands holding a blocking thread while they wait to be queued (full queue or a change of role).",
        load(&app.blocking_submits_running),
    );
    counter(
        "rasid_submits_blocking_waiting",
        "gauge",
        "Commands waiting for one of the blocking threads commands may hold.",
        load(&app.blocking_submits_waiting),
    );
    counter("rasid_ws_clients", "gauge", "Open WebSocket connections.", load(&app.live.ws_clients));
    counter(
        "rasid_ws_lagged_batches_total",
        "counter",
        "Published batches WebSocket clients missed because they fell behind.",
        load(&app.live.ws_lagged_messages),
    );
    counter(
        "rasid_ws_blocked_writes",
        "gauge",
        "WebSocket connections whose write waits for the client to read.",
        load(&app.live.ws_blocked_writes),
    );
    counter(
        "rasid_ws_balances_reads_total",
        "counter",
        "Ledger reads of an organization's balances for the WebSocket balances channel.",
        load(&app.balance_reads.reads),
    );
    let (queued, kept) = app.live.hub_queued();
    counter(
        "rasid_ws_hub_queued_batches",
        "gauge",
        "Published batches the slowest WebSocket client has not read yet.",
        queued as u64,
    );
    counter(
        "rasid_ws_hub_capacity_batches",
        "gauge",
        "Batches the hub keeps for slow clients; a client further behind skips ahead.",
        kept as u64,
    );
    if let Some(checkpoints) = s.checkpoints.as_ref().map(|c| c.stats()) {
        counter(
            "rasid_journal_checkpoint_failures_total",
            "counter",
            "Write-ahead-log checkpoints that failed or were refused as busy (retried later; commits are not affected).",
            checkpoints.failed,
        );
        let _ = writeln!(
            out,
            "# HELP rasid_journal_checkpoints_total Write-ahead-log checkpoints of the SQLite journal, by who ran them (the writer only when its log grew long under load).\n# TYPE rasid_journal_checkpoints_total counter"
        );
        let _ = writeln!(
            out,
            "rasid_journal_checkpoints_total{{by=\"background\"}} {}\nrasid_journal_checkpoints_total{{by=\"writer\"}} {}",
            checkpoints.background, checkpoints.by_writer,
        );
    }
    let commits: Vec<u64> = s.commit_latency_buckets.iter().map(load).collect();
    histogram(
        &mut out,
        "rasid_commit_latency_seconds",
        "Time to make one batch durable (append and fsync).",
        &COMMIT_LATENCY_BUCKETS_US,
        &commits,
        load(&s.commit_latency_sum_us),
    );
    let _ = writeln!(
        out,
        "# HELP rasid_rejections_total Commands the engine refused, by code.\n# TYPE rasid_rejections_total counter"
    );
    for (code, n) in s.rejections.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = writeln!(out, "rasid_rejections_total{{code=\"{code}\"}} {n}");
    }
    let m = &app.metrics;
    let _ = writeln!(
        out,
        "# HELP rasid_http_requests_total HTTP requests answered, by status.\n# TYPE rasid_http_requests_total counter"
    );
    for (i, count) in m.by_status.iter().enumerate() {
        let n = load(count);
        if n > 0 {
            let status = usize::from(STATUS_MIN) + i;
            let _ = writeln!(out, "rasid_http_requests_total{{status=\"{status}\"}} {n}");
        }
    }
    let requests: Vec<u64> = m.latency_buckets.iter().map(load).collect();
    histogram(
        &mut out,
        "rasid_http_request_duration_seconds",
        "Time from request to response, in the server.",
        &REQUEST_BUCKETS_US,
        &requests,
        load(&m.latency_sum_us),
    );
    out
}
