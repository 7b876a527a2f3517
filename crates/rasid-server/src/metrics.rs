//! `GET /metrics` in the Prometheus text format, and the request layer that feeds it and logs.
//!
//! Counters come from the ledger (`rasid_store::Stats`: commands, commits, batch sizes, commit
//! latency, rejections by code), the live hub (WebSocket clients, messages lost to slow
//! clients) and this layer (HTTP requests by status, request latency). Each request also runs
//! in a `tracing` span (`RUST_LOG=rasid_server=debug` logs one line per request).

use crate::App;
use crate::routes::Shared;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rasid_store::COMMIT_LATENCY_BUCKETS_US;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tracing::Instrument;

/// Upper bounds (microseconds) of the request latency buckets; the last is open.
const REQUEST_BUCKETS_US: [u64; 10] =
    [250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 100_000, 1_000_000, u64::MAX];

#[derive(Debug, Default)]
pub struct HttpMetrics {
    by_status: Mutex<BTreeMap<u16, u64>>,
    latency_buckets: [AtomicU64; REQUEST_BUCKETS_US.len()],
    latency_sum_us: AtomicU64,
}

/// Times and counts every request, inside a span naming its method and path.
pub(crate) async fn layer(State(app): State<Shared>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let span = tracing::debug_span!("request", method = %req.method(), path = %req.uri().path());
    let response = next.run(req).instrument(span.clone()).await;
    let elapsed_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let status = response.status().as_u16();
    span.in_scope(|| tracing::debug!(status, elapsed_us, "answered"));
    let m = &app.metrics;
    *m.by_status.lock().unwrap_or_else(|p| p.into_inner()).entry(status).or_insert(0) += 1;
    m.latency_sum_us.fetch_add(elapsed_us, Ordering::Relaxed);
    let bucket =
        REQUEST_BUCKETS_US.iter().position(|&b| elapsed_us <= b).expect("open last bucket");
    m.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
    response
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
    counter("rasid_ws_clients", "gauge", "Open WebSocket connections.", load(&app.live.ws_clients));
    counter(
        "rasid_ws_lagged_batches_total",
        "counter",
        "Published batches WebSocket clients missed because they fell behind.",
        load(&app.live.ws_lagged_messages),
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
    for (status, n) in m.by_status.lock().unwrap_or_else(|p| p.into_inner()).iter() {
        let _ = writeln!(out, "rasid_http_requests_total{{status=\"{status}\"}} {n}");
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
