//! `rasid bench http`: orders through the whole HTTP server — keep-alive HTTP/1.1, JSON, each
//! reply sent only once its order is durable — against the same orders submitted straight to
//! the ledger in the same run (the baseline: what HTTP, JSON, authentication and the read
//! models cost on top of the engine and the journal).
//!
//! The server runs in this process on a temporary SQLite database with rate limits off; the
//! load generator runs beside it on its own runtime and speaks HTTP over loopback through a
//! minimal client of its own (one request in flight per connection, `Content-Length` bodies,
//! which is all the server sends). Three measurements:
//! 1. throughput: `--connections` closed-loop clients place `--orders` orders;
//! 2. latency at a fixed offered rate (`--rate` orders/s for `--seconds`), open loop: each
//!    request has a scheduled send time and its latency is counted from then, so a stalled
//!    server is not hidden by clients that stop sending (no coordinated omission);
//! 3. `--subscribers` WebSocket clients on the trades channel count the trades they get and the
//!    gaps in their sequence numbers while `--ws-rate` orders/s are offered (a separate run:
//!    fanning every trade out to a thousand clients costs far more CPU than the orders).
//!
//! Orders alternate a 1-tonne sell and a 1-tonne buy at one price, so about half trade.

use crate::disk_probe::{DiskProbe, Report, STALL_MS};
use crate::output::{Failure, Output};
use futures_util::{SinkExt, StreamExt};
use rasid_core::exchange::{
    FeeSchedule, InstrumentSpec, OrderRequest, OrderType, SelfTradePrevention, Side, TimeInForce,
    Underlying,
};
use rasid_core::model::{Program, Role};
use rasid_core::{AccountId, Command, Currency, OrgId, ProjectId};
use rasid_server::{App, Options};
use rasid_store::{Config, DatabaseUrl, Ledger, Ticket, open_journal, system_clock};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SYMBOL: &str = "BENCH-1";
const PRICE: &str = "100.00";
const PRICE_MINOR: i64 = 10_000;
const SELLER: (OrgId, AccountId) = (OrgId(3), AccountId(3));
const BUYER: (OrgId, AccountId) = (OrgId(4), AccountId(4));
/// Response headers above this are refused (the server's are a few hundred bytes).
const HEADER_BYTES_MAX: usize = 16 * 1024;
const BODY_BYTES_MAX: usize = 1024 * 1024;
/// Baseline: orders per ledger request, and requests in flight.
const BASELINE_REQUEST_ORDERS: usize = 1;
const BASELINE_IN_FLIGHT: usize = 256;
/// Each subscriber's WebSocket read buffer. The layer zero-fills the free part of it (128 KiB
/// by default) on every read attempt, and every subscriber attempts one per published batch: a
/// thousand of them spent ≈ 3% of the run's cycles clearing memory. Trade updates are a few
/// hundred bytes, and a larger frame is still read whole, over several reads.
const WS_READ_BUFFER_BYTES: usize = 8 * 1024;
/// How long subscribers may take to drain after the load before their counts are final.
const DRAIN_TIMEOUT_S: u64 = 30;

/// The bench's flags (`rasid bench http`).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct HttpBench {
    /// Orders in the throughput run.
    #[arg(long, default_value_t = 200_000)]
    pub orders: u64,
    /// Keep-alive connections of the load generator.
    #[arg(long, default_value_t = 256)]
    pub connections: usize,
    /// Offered orders per second in the latency run.
    #[arg(long, default_value_t = 20_000)]
    pub rate: u64,
    /// Length of the latency run.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// WebSocket subscribers on the trades channel in the subscriber run.
    #[arg(long, default_value_t = 1_000)]
    pub subscribers: usize,
    /// Offered orders per second while the subscribers listen.
    #[arg(long, default_value_t = 2_000)]
    pub ws_rate: u64,
    /// Milliseconds between the disk probe's fsyncs beside the journal (0: no probe). The
    /// probe tells a stall of the device from one of the server.
    #[arg(long, default_value_t = 20)]
    pub disk_probe_ms: u64,
}

pub fn run(b: HttpBench) -> Result<Output, Failure> {
    if b.connections == 0
        || b.connections > 4_096
        || b.rate == 0
        || b.ws_rate == 0
        || b.seconds == 0
    {
        return Err(Failure::invalid(
            "invalid_bench",
            "--connections must be 1–4096; --rate and --seconds > 0",
        ));
    }
    if b.subscribers > 10_000 {
        return Err(Failure::invalid("invalid_bench", "--subscribers is at most 10000"));
    }
    // The bench writes next to the working directory, not /tmp, which may be a RAM disk where
    // fsync costs nothing and the numbers would flatter.
    let dir = tempfile::Builder::new()
        .prefix(".rasid-bench")
        .tempdir_in(".")
        .map_err(|e| Failure::Internal(e.to_string()))?;
    // Baseline: the same orders straight into a ledger, same disk, same run.
    let base_db = DatabaseUrl::Sqlite(dir.path().join("baseline.db"));
    seed(&base_db)?;
    let (baseline_per_s, baseline_per_commit) = baseline(&base_db, b.orders)?;

    let db = DatabaseUrl::Sqlite(dir.path().join("http.db"));
    seed(&db)?;
    let options = Options {
        database: db,
        snapshot_interval: 1_000_000,
        bootstrap_operator_password: None,
        demo_users: vec![
            ("seller".into(), "seller-password".into(), SELLER.0),
            ("buyer".into(), "buyer-password".into(), BUYER.0),
        ],
        ha: rasid_server::HaOptions::default(),
    };
    let app = Arc::new(App::open(&options).map_err(Failure::Internal)?);
    app.set_rate_limit(0, 0);
    app.set_metrics_token(Some(BENCH_METRICS_TOKEN)).map_err(Failure::Internal)?;
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bench-server")
        .build()
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let addr = listener.local_addr().map_err(|e| Failure::Internal(e.to_string()))?.to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = server_rt.spawn(rasid_server::serve_shared(listener, app.clone(), async {
        let _ = stop_rx.await;
    }));
    let client_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let probe = match b.disk_probe_ms {
        0 => None,
        ms => Some(
            DiskProbe::start(dir.path(), Duration::from_millis(ms))
                .map_err(|e| Failure::Internal(e.to_string()))?,
        ),
    };
    let result = client_rt.block_on(load(&addr, b));
    let disk = probe.map(DiskProbe::finish);
    let _ = stop_tx.send(());
    server_rt
        .block_on(served)
        .map_err(|e| Failure::Internal(e.to_string()))?
        .map_err(Failure::Internal)?;
    let r = result?;
    let j = &r.journal;
    let (disk_line, disk_json) = disk_summary(disk.as_ref(), &r.spans, b.disk_probe_ms);
    let (commits, records) = (j.commits, j.records);
    let text = format!(
        "HTTP order entry (SQLite, durable before reply, {} keep-alive connections, loopback):\n\
         \x20 throughput: {} orders in {:.2} s = {} orders/s\n\
         \x20 baseline, same orders straight into the ledger (no HTTP), same run: {} orders/s, {:.1} per commit (HTTP = {:.2}× of it)\n\
         \x20 fixed offered rate {} orders/s for {} s: achieved {} orders/s, latency p50 {:.2} ms, p99 {:.2} ms ({:.2} ms from the actual send), max {:.2} ms\n\
         \x20 WebSocket: {} subscribers on trades:{SYMBOL} while {} orders/s are offered (achieved {}, p99 {:.2} ms): {} trades each expected, {} received in total, {} gaps, {} subscribers complete\n\
         \x20 journal: {} commits for {} records ({:.1} per commit), {:.2} ms per commit on average, {} over 50 ms; WAL checkpoints {} in the background, {} by the writer\n\
         \x20 {disk_line}\n",
        b.connections,
        b.orders,
        r.throughput_secs,
        r.throughput_per_s,
        baseline_per_s,
        baseline_per_commit,
        r.throughput_per_s as f64 / baseline_per_s.max(1) as f64,
        b.rate,
        b.seconds,
        r.fixed_achieved_per_s,
        r.p50_ms,
        r.p99_ms,
        r.p99_from_send_ms,
        r.max_ms,
        b.subscribers,
        b.ws_rate,
        r.ws_achieved_per_s,
        r.ws_p99_ms,
        r.trades_expected,
        r.ws_received,
        r.ws_gaps,
        r.ws_complete,
        commits,
        records,
        records as f64 / commits.max(1) as f64,
        j.commit_ms,
        j.commits_over_50ms,
        j.checkpoints_background,
        j.checkpoints_by_writer,
    );
    let mut json = json!({
            "ok": true, "connections": b.connections, "orders": b.orders,
            "orders_per_s": r.throughput_per_s, "baseline_orders_per_s": baseline_per_s,
            "offered_rate": b.rate, "achieved_rate": r.fixed_achieved_per_s,
            "p50_ms": r.p50_ms, "p99_ms": r.p99_ms, "max_ms": r.max_ms,
            "p99_from_send_ms": r.p99_from_send_ms,
            "subscribers": b.subscribers, "ws_offered_rate": b.ws_rate, "ws_achieved_rate": r.ws_achieved_per_s,
            "ws_p99_ms": r.ws_p99_ms, "trades_expected": r.trades_expected,
            "ws_received": r.ws_received, "ws_gaps": r.ws_gaps, "ws_complete": r.ws_complete,
            "commits": commits, "records": records, "commit_ms": j.commit_ms,
            "commits_over_50ms": j.commits_over_50ms,
            "checkpoints_background": j.checkpoints_background,
            "checkpoints_by_writer": j.checkpoints_by_writer,
    });
    if let (Some(all), Value::Object(disk)) = (json.as_object_mut(), disk_json) {
        all.extend(disk);
    }
    Ok(Output::new(text, json))
}

/// The disk probe's line of the report and its JSON fields. Without a probe the fields are
/// null, not zero: no stall was looked for, so none can be claimed absent.
fn disk_summary(disk: Option<&Report>, spans: &Spans, interval_ms: u64) -> (String, Value) {
    let Some(disk) = disk else {
        let fields = ["disk_probe_fsyncs", "disk_probe_max_ms", "disk_stalls"]
            .into_iter()
            .chain(["disk_stalls_throughput", "disk_stalls_fixed_rate", "disk_stalls_ws"])
            .chain(["disk_probe_error"])
            .map(|k| (k.to_owned(), Value::Null));
        return ("disk: no probe (--disk-probe-ms 0)".into(), Value::Object(fields.collect()));
    };
    let stalls = |(from, to): (Instant, Instant)| disk.stalls_within(from, to);
    let (throughput, fixed, ws) = (stalls(spans.throughput), stalls(spans.fixed), stalls(spans.ws));
    let line = format!(
        "disk: a probe beside the journal fsynced 4 KiB every {interval_ms} ms: {} fsyncs, max \
         {:.1} ms, {} stalls over {STALL_MS} ms (during throughput / fixed rate / WebSocket: \
         {throughput} / {fixed} / {ws}){}",
        disk.fsyncs,
        disk.max_ms(),
        disk.stalls.len(),
        disk.error.as_ref().map(|e| format!("; the probe stopped: {e}")).unwrap_or_default(),
    );
    let json = json!({
        "disk_probe_fsyncs": disk.fsyncs, "disk_probe_max_ms": disk.max_ms(),
        "disk_stalls": disk.stalls.len(),
        "disk_stalls_throughput": throughput, "disk_stalls_fixed_rate": fixed,
        "disk_stalls_ws": ws, "disk_probe_error": disk.error,
    });
    (line, json)
}

fn seed(db: &DatabaseUrl) -> Result<(), Failure> {
    let ledger = Ledger::open(open_journal(db)?, Config::default(), system_clock())?;
    let (op, reg) = (OrgId(1), OrgId(2));
    let commands = vec![
        (OrgId(0), Command::Genesis { operator_name: "Op".into(), registrar_name: "Reg".into() }),
        (op, Command::CreateOrganization { name: "Seller".into(), role: Role::Member }),
        (op, Command::CreateOrganization { name: "Buyer".into(), role: Role::Member }),
        (op, Command::OpenAccount { org: SELLER.0, name: "s".into() }),
        (op, Command::OpenAccount { org: BUYER.0, name: "b".into() }),
        (
            reg,
            Command::RegisterProject {
                info: Box::new(rasid_core::testing::project(Program::Vcs, "B1", "Bench", SELLER.0)),
            },
        ),
        (
            reg,
            Command::Issue {
                project: ProjectId(1),
                vintage_year: 2024,
                quantity_tonnes: 1_000_000_000,
                buffer_tonnes: 0,
                to_account: SELLER.1,
                first_serial: None,
                external_ref: None,
            },
        ),
        (
            op,
            Command::DepositCash {
                account: BUYER.1,
                currency: Currency::Sar,
                amount_minor: i64::MAX / 4,
            },
        ),
        (
            op,
            Command::ListInstrument {
                spec: InstrumentSpec {
                    symbol: SYMBOL.into(),
                    underlying: Underlying::ProjectVintage {
                        project: ProjectId(1),
                        vintage_year: 2024,
                    },
                    currency: Currency::Sar,
                    tick_minor: 1,
                    lot_tonnes: 1,
                    band_bps: 5_000,
                    reference_price_minor: PRICE_MINOR,
                    fees: FeeSchedule { maker_bps: 0, taker_bps: 0, min_fee_minor: 0 },
                },
            },
        ),
    ];
    for outcome in ledger.submit_batch(commands)? {
        outcome.map_err(|r| Failure::Internal(format!("bench seed refused: {}", r.code())))?;
    }
    ledger.close()?;
    Ok(())
}

/// Orders per second straight into the ledger: single-order requests, many in flight, like
/// the HTTP clients (each request one order, answered when durable).
fn baseline(db: &DatabaseUrl, orders: u64) -> Result<(u64, f64), Failure> {
    let ledger = Ledger::open(open_journal(db)?, Config::default(), system_clock())?;
    let instrument = ledger
        .query(|s| s.instrument_by_symbol(SYMBOL).map(|i| i.id))?
        .ok_or_else(|| Failure::Internal("no bench instrument".into()))?;
    let started = Instant::now();
    let mut tickets: std::collections::VecDeque<Ticket<_>> = Default::default();
    for i in 0..orders {
        let (org, account, side) = if i.is_multiple_of(2) {
            (SELLER.0, SELLER.1, Side::Sell)
        } else {
            (BUYER.0, BUYER.1, Side::Buy)
        };
        let order = OrderRequest {
            instrument,
            account,
            side,
            order_type: OrderType::Limit { price_minor: PRICE_MINOR },
            quantity_tonnes: 1,
            time_in_force: TimeInForce::Gtc,
            post_only: false,
            client_order_id: None,
            self_trade: SelfTradePrevention::CancelIncoming,
            retire: None,
        };
        debug_assert_eq!(BASELINE_REQUEST_ORDERS, 1);
        tickets.push_back(ledger.submit_async(org, Command::PlaceOrder { order }));
        if tickets.len() >= BASELINE_IN_FLIGHT {
            tickets
                .pop_front()
                .expect("non-empty")
                .wait()
                .map_err(|e| Failure::Internal(e.to_string()))?;
        }
    }
    for t in tickets {
        t.wait().map_err(|e| Failure::Internal(e.to_string()))?;
    }
    let per_s = (orders as f64 / started.elapsed().as_secs_f64().max(1e-9)) as u64;
    let (commits, records) = ledger.stats();
    ledger.close()?;
    Ok((per_s, records as f64 / commits.max(1) as f64))
}

struct LoadResult {
    throughput_secs: f64,
    throughput_per_s: u64,
    fixed_achieved_per_s: u64,
    p50_ms: f64,
    p99_ms: f64,
    /// p99 measured from each request's actual send instead of its scheduled time.
    p99_from_send_ms: f64,
    max_ms: f64,
    ws_achieved_per_s: u64,
    ws_p99_ms: f64,
    trades_expected: u64,
    ws_received: u64,
    ws_gaps: u64,
    ws_complete: usize,
    journal: JournalStats,
    spans: Spans,
}

/// When each of the three measurements ran, to tell which one a disk stall fell in.
struct Spans {
    throughput: (Instant, Instant),
    fixed: (Instant, Instant),
    ws: (Instant, Instant),
}

/// One keep-alive HTTP/1.1 connection with one request in flight. Responses are read into one
/// reused buffer and parsed in place: the load generator shares the two cores with the server,
/// so every microsecond it spends is taken from the thing being measured.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    async fn open(addr: &str) -> Result<Self, String> {
        let stream = TcpStream::connect(addr).await.map_err(|e| format!("connect: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(Self { stream, buf: Vec::with_capacity(4096) })
    }

    /// Sends one request and reads its response: `(status, body)`.
    async fn call(&mut self, request: &[u8]) -> Result<(u16, Vec<u8>), String> {
        let (status, range) = self.exchange(request).await?;
        Ok((status, self.buf[range].to_vec()))
    }

    /// Sends one request and reads its response into the buffer: the status and where the
    /// body lies in the buffer.
    async fn exchange(&mut self, request: &[u8]) -> Result<(u16, std::ops::Range<usize>), String> {
        let io = |e: std::io::Error| format!("http: {e}");
        self.stream.write_all(request).await.map_err(io)?;
        self.buf.clear();
        // Read until the blank line that ends the headers.
        let head_end = loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            if self.buf.len() > HEADER_BYTES_MAX {
                return Err("oversized headers".into());
            }
            if self.stream.read_buf(&mut self.buf).await.map_err(io)? == 0 {
                return Err("the server closed the connection".into());
            }
        };
        // Parsed as bytes, split at single bytes: splitting the head as a `str` at "\r\n" set up
        // a substring searcher for every line, and the head was validated as UTF-8 whole first.
        let head = &self.buf[..head_end];
        let status: u16 = head.get(9..12).and_then(number).ok_or("bad status line")?;
        let mut length = 0usize;
        for line in head.split(|&b| b == b'\n').skip(1) {
            if let Some(colon) = line.iter().position(|&b| b == b':')
                && line[..colon].eq_ignore_ascii_case(b"content-length")
            {
                length = number(&line[colon + 1..]).ok_or("bad content-length")?;
            }
        }
        if length > BODY_BYTES_MAX {
            return Err("oversized body".into());
        }
        let end = head_end + length;
        while self.buf.len() < end {
            if self.stream.read_buf(&mut self.buf).await.map_err(io)? == 0 {
                return Err("truncated body".into());
            }
        }
        if self.buf.len() > end {
            return Err("bytes after the response with one request in flight".into());
        }
        Ok((status, head_end..end))
    }
}

/// An ASCII number in a response head, surrounding spaces allowed.
fn number<T: std::str::FromStr>(bytes: &[u8]) -> Option<T> {
    std::str::from_utf8(bytes).ok()?.trim().parse().ok()
}

fn post(addr: &str, path: &str, token: Option<&str>, body: &str) -> Vec<u8> {
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The two order requests the bench sends, built once: even orders are the seller's, odd ones
/// the buyer's. Each is still a complete POST /v1/orders with its JSON body and bearer token;
/// only the formatting is not repeated per request.
struct Orders {
    sell: Vec<u8>,
    buy: Vec<u8>,
}

impl Orders {
    fn new(addr: &str, tokens: &(String, String)) -> Self {
        Self { sell: order_request(addr, &tokens.0, 0), buy: order_request(addr, &tokens.1, 1) }
    }

    fn get(&self, i: u64) -> &[u8] {
        if i.is_multiple_of(2) { &self.sell } else { &self.buy }
    }
}

fn order_request(addr: &str, token: &str, i: u64) -> Vec<u8> {
    let (account, side) = if i.is_multiple_of(2) { (SELLER.1, "sell") } else { (BUYER.1, "buy") };
    let body = format!(
        r#"{{"instrument":"{SYMBOL}","account":{},"side":"{side}","quantity":1,"price":"{PRICE}"}}"#,
        account.0
    );
    post(addr, "/v1/orders", Some(token), &body)
}

async fn login(addr: &str, user: &str, password: &str) -> Result<String, String> {
    let mut c = Conn::open(addr).await?;
    let body = json!({ "username": user, "password": password }).to_string();
    let (status, body) = c.call(&post(addr, "/v1/sessions", None, &body)).await?;
    let doc: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    if status != 201 {
        return Err(format!("login: {status} {doc}"));
    }
    Ok(doc["token"].as_str().unwrap_or_default().to_owned())
}

async fn newest_trade(addr: &str) -> Result<u64, String> {
    let mut c = Conn::open(addr).await?;
    let request =
        format!("GET /v1/markets/{SYMBOL}/trades?limit=1 HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let (_, body) = c.call(request.as_bytes()).await?;
    let doc: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok(doc["items"][0]["trade"].as_u64().unwrap_or(0))
}

/// The bench's own server reads its counters with this scrape token; the server lives only for
/// the bench, on a loopback port.
const BENCH_METRICS_TOKEN: &str = "rasid-bench-http-metrics";

/// The journal counters of [`JournalStats`], read from `/metrics` at the end of a run.
async fn stats(addr: &str) -> Result<JournalStats, String> {
    let mut c = Conn::open(addr).await?;
    let request = format!(
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {BENCH_METRICS_TOKEN}\r\n\r\n"
    );
    let (_, body) = c.call(request.as_bytes()).await?;
    let text = String::from_utf8_lossy(&body);
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0)
    };
    let commit_secs: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("rasid_commit_latency_seconds_sum ")?.trim().parse().ok())
        .unwrap_or(0.0);
    let commits = value("rasid_commits_total ");
    let within_50ms = value("rasid_commit_latency_seconds_bucket{le=\"0.05\"} ");
    Ok(JournalStats {
        commits,
        records: value("rasid_commands_total "),
        commit_ms: commit_secs * 1e3 / commits.max(1) as f64,
        commits_over_50ms: commits.saturating_sub(within_50ms),
        checkpoints_background: value("rasid_journal_checkpoints_total{by=\"background\"} "),
        checkpoints_by_writer: value("rasid_journal_checkpoints_total{by=\"writer\"} "),
    })
}

/// The server's journal counters at the end of a run, from `/metrics`.
struct JournalStats {
    commits: u64,
    records: u64,
    /// Mean time of one durable commit (append and fsync), which bounds every reply's latency.
    commit_ms: f64,
    /// Commits that took over 50 ms: a p99 in the tens of ms with none of these was not a
    /// stalled commit (fsync) but something in the server or the machine.
    commits_over_50ms: u64,
    /// Write-ahead-log checkpoints run off the writer's path, and by the writer itself.
    checkpoints_background: u64,
    checkpoints_by_writer: u64,
}

/// The first unsigned number after `key` in `text`.
fn number_after(text: &str, key: &str) -> Option<u64> {
    let rest = &text[text.find(key)? + key.len()..];
    let end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// What an open-loop run measured: the achieved rate and every request's latency (µs), sorted,
/// both from its scheduled send time (what a client on that schedule sees) and from the moment
/// it was actually sent. The second leaves out the time a request waited for its connection's
/// previous reply or for the generator itself, so a p99 far above it points at the queue before
/// the server, not the server.
struct FixedRate {
    achieved_per_s: u64,
    from_due_us: Vec<u64>,
    from_send_us: Vec<u64>,
}

/// Offers `rate` orders a second for `seconds` over `connections` connections, open loop.
async fn fixed_rate(
    addr: &str,
    orders: &Arc<Orders>,
    rate: u64,
    seconds: u64,
    connections: usize,
) -> Result<FixedRate, String> {
    let total = rate * seconds;
    let interval_ns = 1e9 / rate as f64;
    let t0 = tokio::time::Instant::now() + Duration::from_millis(50);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (addr, next, orders) = (addr.to_owned(), next.clone(), orders.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&addr).await?;
            let (mut from_due_us, mut from_send_us) = (Vec::new(), Vec::new());
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return Ok::<_, String>((from_due_us, from_send_us));
                }
                let due = t0 + Duration::from_nanos((i as f64 * interval_ns) as u64);
                tokio::time::sleep_until(due).await;
                let sent = tokio::time::Instant::now();
                let (status, _) = c.exchange(orders.get(i)).await?;
                if status != 201 {
                    return Err(format!("order refused: {status}"));
                }
                from_due_us.push(due.elapsed().as_micros() as u64);
                from_send_us.push(sent.elapsed().as_micros() as u64);
            }
        }));
    }
    let mut from_due_us = Vec::with_capacity(total as usize);
    let mut from_send_us = Vec::with_capacity(total as usize);
    for t in tasks {
        let (due, send) = t.await.map_err(|e| e.to_string())??;
        from_due_us.extend(due);
        from_send_us.extend(send);
    }
    let secs = t0.elapsed().as_secs_f64();
    from_due_us.sort_unstable();
    from_send_us.sort_unstable();
    Ok(FixedRate {
        achieved_per_s: (total as f64 / secs.max(1e-9)) as u64,
        from_due_us,
        from_send_us,
    })
}

async fn load(addr: &str, b: HttpBench) -> Result<LoadResult, Failure> {
    let fail = Failure::Internal;
    let seller = login(addr, "seller", "seller-password").await.map_err(fail)?;
    let buyer = login(addr, "buyer", "buyer-password").await.map_err(fail)?;
    let orders = Arc::new(Orders::new(addr, &(seller, buyer)));

    // 1. Throughput, closed loop.
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..b.connections {
        let (addr, next, orders) = (addr.to_owned(), next.clone(), orders.clone());
        tasks.push(tokio::spawn(async move {
            let mut c = Conn::open(&addr).await?;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= b.orders {
                    return Ok::<(), String>(());
                }
                let (status, body) = c.exchange(orders.get(i)).await?;
                if status != 201 {
                    return Err(format!(
                        "order refused: {status} {}",
                        String::from_utf8_lossy(&c.buf[body])
                    ));
                }
            }
        }));
    }
    for t in tasks {
        t.await.map_err(|e| fail(e.to_string()))?.map_err(fail)?;
    }
    let throughput_span = (started, Instant::now());
    let throughput_secs = started.elapsed().as_secs_f64();
    let throughput_per_s = (b.orders as f64 / throughput_secs.max(1e-9)) as u64;

    // 2. Fixed offered rate, open loop, no subscribers: the latency figure.
    let fixed_started = Instant::now();
    let fixed = fixed_rate(addr, &orders, b.rate, b.seconds, b.connections).await.map_err(fail)?;
    let fixed_span = (fixed_started, Instant::now());
    let (fixed_achieved_per_s, latencies) = (fixed.achieved_per_s, &fixed.from_due_us);
    let pct = |l: &[u64], p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1))).copied().unwrap_or(0)
            as f64
            / 1000.0
    };
    let (p50_ms, p99_ms) = (pct(latencies, 0.50), pct(latencies, 0.99));
    let p99_from_send_ms = pct(&fixed.from_send_us, 0.99);
    let max_ms = latencies.last().copied().unwrap_or(0) as f64 / 1000.0;

    // 3. Subscribers connect, then a fixed rate of `--ws-rate` runs while they count trades.
    let first_trade = newest_trade(addr).await.map_err(fail)?;
    let received = Arc::new(AtomicU64::new(0));
    let gaps = Arc::new(AtomicU64::new(0));
    let (done_tx, _) = tokio::sync::watch::channel(0u64);
    let mut subscribers = Vec::new();
    for _ in 0..b.subscribers {
        let url = format!("ws://{addr}/v1/ws");
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(WS_READ_BUFFER_BYTES);
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(config), true)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let sub = json!({ "op": "subscribe", "channel": format!("trades:{SYMBOL}") }).to_string();
        ws.send(tokio_tungstenite::tungstenite::Message::text(sub))
            .await
            .map_err(|e| fail(e.to_string()))?;
        // The snapshot is awaited before the next subscriber connects, so every subscriber is
        // subscribed before the first trade it must count: a trade the server executed before
        // the subscription would arrive inside the snapshot, not as an update.
        let first_seq = loop {
            match ws.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))
                    if t.as_str().contains("\"type\":\"snapshot\"") =>
                {
                    break number_after(t.as_str(), "\"seq\":").unwrap_or(0);
                }
                Some(Ok(_)) => {}
                _ => {
                    return Err(fail(
                        "a subscriber's connection closed before its snapshot".into(),
                    ));
                }
            }
        };
        let (received, gaps, mut done) = (received.clone(), gaps.clone(), done_tx.subscribe());
        subscribers.push(tokio::spawn(async move {
            let (mut seq, mut last_trade) = (first_seq, 0u64);
            loop {
                let target = *done.borrow();
                if target > 0 && last_trade >= target {
                    return true;
                }
                tokio::select! {
                    m = ws.next() => {
                        let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) = m else {
                            return false;
                        };
                        // A cheap scan rather than a JSON parse: the load generator shares its
                        // core with a thousand of these.
                        let t = t.as_str();
                        let s = number_after(t, "\"seq\":").unwrap_or(0);
                        if t.contains("\"type\":\"update\"") {
                            if s != seq + 1 {
                                gaps.fetch_add(1, Ordering::Relaxed);
                            }
                            received.fetch_add(1, Ordering::Relaxed);
                            last_trade = number_after(t, "\"trade\":").unwrap_or(last_trade);
                        }
                        seq = s;
                    }
                    changed = done.changed() => if changed.is_err() { return false },
                }
            }
        }));
    }
    let ws_started = Instant::now();
    let ws_fixed =
        fixed_rate(addr, &orders, b.ws_rate, b.seconds, b.connections).await.map_err(fail)?;
    let ws_span = (ws_started, Instant::now());
    let (ws_achieved_per_s, ws_p99_ms) =
        (ws_fixed.achieved_per_s, pct(&ws_fixed.from_due_us, 0.99));
    let last_trade = newest_trade(addr).await.map_err(fail)?;
    let _ = done_tx.send(last_trade.max(1));
    let mut complete = 0;
    for s in subscribers {
        if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(DRAIN_TIMEOUT_S), s).await {
            complete += 1;
        }
    }
    let journal = stats(addr).await.map_err(fail)?;
    Ok(LoadResult {
        throughput_secs,
        throughput_per_s,
        fixed_achieved_per_s,
        p50_ms,
        p99_ms,
        p99_from_send_ms,
        max_ms,
        ws_achieved_per_s,
        ws_p99_ms,
        trades_expected: last_trade - first_trade,
        ws_received: received.load(Ordering::Relaxed),
        ws_gaps: gaps.load(Ordering::Relaxed),
        ws_complete: complete,
        journal,
        spans: Spans { throughput: throughput_span, fixed: fixed_span, ws: ws_span },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a probe every disk field is null (none was looked for), and a probed run reports
    /// the same fields with numbers, its stalls counted in the phase they overlap.
    #[test]
    fn without_a_probe_the_disk_fields_are_null_not_zero() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let spans = Spans {
            throughput: (t0, t0 + ms(100)),
            fixed: (t0 + ms(200), t0 + ms(300)),
            ws: (t0 + ms(400), t0 + ms(500)),
        };
        let (line, none) = disk_summary(None, &spans, 0);
        assert!(line.contains("no probe"), "{line}");
        assert!(none.as_object().unwrap().values().all(Value::is_null), "{none}");
        let stall = crate::disk_probe::Stall { started: t0 + ms(250), took: ms(60) };
        let probed = Report { fsyncs: 3, max: ms(60), stalls: vec![stall], error: None };
        let (_, some) = disk_summary(Some(&probed), &spans, 20);
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&none), keys(&some));
        assert_eq!(some["disk_probe_fsyncs"], 3, "{some}");
        let phases = [
            &some["disk_stalls_throughput"],
            &some["disk_stalls_fixed_rate"],
            &some["disk_stalls_ws"],
        ];
        assert_eq!(phases, [&json!(0), &json!(1), &json!(0)], "{some}");
    }

    /// A small whole run: every order is answered 201 through the generator's own HTTP client
    /// (its response parsing included), and every subscriber, reading with the small WebSocket
    /// buffer, receives every trade once and in order.
    #[test]
    fn a_small_run_answers_every_order_and_every_subscriber_sees_every_trade() {
        let b = HttpBench {
            orders: 400,
            connections: 8,
            rate: 200,
            seconds: 1,
            subscribers: 5,
            ws_rate: 100,
            disk_probe_ms: 5,
        };
        let out = run(b).expect("the bench runs");
        let j = &out.json;
        assert!(j["orders_per_s"].as_u64().unwrap() > 0, "{j}");
        assert_eq!(j["ws_gaps"], 0, "{j}");
        assert_eq!(j["ws_complete"], 5, "{j}");
        let expected = j["trades_expected"].as_u64().unwrap();
        assert!(expected > 0, "{j}");
        assert_eq!(j["ws_received"].as_u64().unwrap(), 5 * expected, "{j}");
        // Every order is one journal record, beside the bench's own seed.
        assert!(j["records"].as_u64().unwrap() >= 400 + 200 + 100, "{j}");
        // Read from the commit-latency histogram: were its bucket not found, every commit
        // would count as slow.
        assert!(j["commits_over_50ms"].as_u64().unwrap() < j["commits"].as_u64().unwrap(), "{j}");
        // Each request is sent at or after its scheduled time, so every percentile measured
        // from the send is at most the one measured from the schedule.
        let (from_send, from_due) = (&j["p99_from_send_ms"], &j["p99_ms"]);
        assert!(from_send.as_f64().unwrap() <= from_due.as_f64().unwrap(), "{j}");
        // The disk probe ran through the load (more than a second of it) without an error.
        assert!(j["disk_probe_fsyncs"].as_u64().unwrap() > 0, "{j}");
        assert_eq!(j["disk_probe_error"], Value::Null, "{j}");
    }
}
