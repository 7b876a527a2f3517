//! The live part of the API against the real server (in-process, real HTTP and WebSocket over
//! loopback, temporary SQLite database): trades and candles fed after commit, the WebSocket
//! channels with their sequence numbers, API keys, rate limits, `/metrics`, restart.

use rasid_core::exchange::{FeeSchedule, InstrumentSpec, Underlying};
use rasid_core::model::{Program, Role};
use rasid_core::{AccountId, Command, Currency, OrgId, ProjectId};
use rasid_server::{App, Options};
use rasid_store::{Config, DatabaseUrl, Ledger, open_journal, system_clock};
use serde_json::{Value, json};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::stream::MaybeTlsStream;
use tokio_tungstenite::tungstenite::{Message, WebSocket};

/// Seller (org 3, account 3) holds 100,000 t; buyer (org 4, account 4) holds cash.
const SELLER_ORG: u64 = 3;
const SELLER_ACC: u64 = 3;
const BUYER_ORG: u64 = 4;
const BUYER_ACC: u64 = 4;
const SYMBOL: &str = "VCS1-2021";

fn seed(database: &DatabaseUrl) {
    let ledger =
        Ledger::open(open_journal(database).unwrap(), Config::default(), system_clock()).unwrap();
    let (op, reg) = (OrgId(1), OrgId(2));
    let commands = vec![
        (OrgId(0), Command::Genesis { operator_name: "Op".into(), registrar_name: "Reg".into() }),
        (op, Command::CreateOrganization { name: "Seller".into(), role: Role::Member }),
        (op, Command::CreateOrganization { name: "Buyer".into(), role: Role::Member }),
        (op, Command::OpenAccount { org: OrgId(SELLER_ORG), name: "s".into() }),
        (op, Command::OpenAccount { org: OrgId(BUYER_ORG), name: "b".into() }),
        (
            reg,
            Command::RegisterProject {
                info: Box::new(rasid_core::testing::project(
                    Program::Vcs,
                    "VCS1",
                    "Mangroves",
                    OrgId(SELLER_ORG),
                )),
            },
        ),
        (
            reg,
            Command::Issue {
                project: ProjectId(1),
                vintage_year: 2021,
                quantity_tonnes: 100_000,
                buffer_tonnes: 0,
                to_account: AccountId(SELLER_ACC),
                first_serial: None,
                external_ref: None,
            },
        ),
        (
            op,
            Command::DepositCash {
                account: AccountId(BUYER_ACC),
                currency: Currency::Sar,
                amount_minor: 1_000_000_000,
            },
        ),
        (
            op,
            Command::ListInstrument {
                spec: InstrumentSpec {
                    symbol: SYMBOL.into(),
                    underlying: Underlying::ProjectVintage {
                        project: ProjectId(1),
                        vintage_year: 2021,
                    },
                    currency: Currency::Sar,
                    tick_minor: 5,
                    lot_tonnes: 1,
                    band_bps: 2_000,
                    reference_price_minor: 3_750,
                    fees: FeeSchedule { maker_bps: 0, taker_bps: 0, min_fee_minor: 0 },
                },
            },
        ),
    ];
    for outcome in ledger.submit_batch(commands).unwrap() {
        outcome.unwrap();
    }
    ledger.close().unwrap();
}

struct Server {
    base: String,
    app: Arc<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
    http: ureq::Agent,
}

impl Server {
    fn start(database: DatabaseUrl) -> Self {
        Self::start_with(database, None)
    }

    /// A server whose WebSocket hub keeps only `batches` published batches for slow clients.
    fn start_with_hub(database: DatabaseUrl, batches: usize) -> Self {
        Self::start_tuned(database, None, batches)
    }

    /// A server of a highly available PostgreSQL deployment with a `lease_ttl_ms` lease.
    fn start_ha(database: DatabaseUrl, lease_ttl_ms: u64) -> Self {
        Self::start_with(database, Some(lease_ttl_ms))
    }

    fn start_with(database: DatabaseUrl, lease_ttl_ms: Option<u64>) -> Self {
        Self::start_tuned(database, lease_ttl_ms, rasid_server::live::HUB_BATCHES_MAX)
    }

    fn start_tuned(database: DatabaseUrl, lease_ttl_ms: Option<u64>, hub_batches: usize) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
        let ha = match lease_ttl_ms {
            Some(lease_ttl_ms) => {
                rasid_server::HaOptions { advertise: format!("http://{base}"), lease_ttl_ms }
            }
            None => rasid_server::HaOptions::default(),
        };
        let options = Options {
            database,
            snapshot_interval: 1_000_000,
            bootstrap_operator_password: Some("operator-secret-1".into()),
            demo_users: vec![
                ("seller".into(), "seller-password".into(), OrgId(SELLER_ORG)),
                ("buyer".into(), "buyer-password".into(), OrgId(BUYER_ORG)),
            ],
            ha,
        };
        let app = Arc::new(App::open_with_hub(&options, hub_batches).unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = app.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                rasid_server::serve_shared(listener, served, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        let http: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Self { base, app, stop: Some(stop), thread: Some(thread), http }
    }

    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let url = format!("http://{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let response = match method {
            "GET" => {
                let mut r = self.http.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            "DELETE" => {
                let mut r = self.http.delete(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            "PATCH" => {
                let mut r = self.http.patch(&url).header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.send(body.unwrap_or(Value::Null).to_string())
            }
            _ => {
                let mut r = self.http.post(&url).header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.send(body.unwrap_or(Value::Null).to_string())
            }
        };
        let mut response = response.unwrap();
        let status = response.status().as_u16();
        let retry_after =
            response.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let text = response.body_mut().read_to_string().unwrap();
        let doc = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply { status, doc, retry_after }
    }

    fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call("GET", path, token, None)
    }

    fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("POST", path, Some(token), Some(body))
    }

    fn login(&self, username: &str, password: &str) -> String {
        let r = self.call(
            "POST",
            "/v1/sessions",
            None,
            Some(json!({ "username": username, "password": password })),
        );
        assert_eq!(r.status, 201, "{}", r.doc);
        r.doc["token"].as_str().unwrap().to_owned()
    }

    fn order(&self, token: &str, account: u64, side: &str, quantity: u64, price: &str) -> Value {
        let body = json!({ "instrument": SYMBOL, "account": account, "side": side, "quantity": quantity, "price": price });
        let r = self.post("/v1/orders", token, body);
        assert_eq!(r.status, 201, "{}", r.doc);
        r.doc
    }

    fn ws(&self) -> Ws {
        let (socket, _) =
            tokio_tungstenite::tungstenite::connect(format!("ws://{}/v1/ws", self.base)).unwrap();
        if let MaybeTlsStream::Plain(s) = socket.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        Ws(socket)
    }

    /// A WebSocket client whose socket has a small receive buffer, so that when it stops
    /// reading, the server's writes to it block after a few kilobytes instead of megabytes.
    fn ws_small_buffer(&self) -> Ws {
        let addr: std::net::SocketAddr = self.base.parse().unwrap();
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket.set_recv_buffer_size(4_096).unwrap();
        socket.connect(&addr.into()).unwrap();
        let stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let url = format!("ws://{}/v1/ws", self.base);
        let (socket, _) =
            tokio_tungstenite::tungstenite::client(url, MaybeTlsStream::Plain(stream)).unwrap();
        Ws(socket)
    }

    /// The value of one unlabelled metric.
    fn metric(&self, token: Option<&str>, name: &str) -> u64 {
        let r = self.get("/metrics", token);
        assert_eq!(r.status, 200, "{}", r.doc);
        let text = r.doc.as_str().unwrap();
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no {name} in {text}"));
        line.parse().unwrap()
    }

    /// The newest trade ids on the REST tape (at most 100), oldest first, and the REST book's
    /// levels as `(price, quantity, orders)`, bids best first then asks best first.
    fn tape_and_book(&self) -> Rest {
        let tape =
            trade_ids(&self.get(&format!("/v1/markets/{SYMBOL}/trades?limit=100"), None).doc);
        let book = self.get(&format!("/v1/markets/{SYMBOL}/book?levels=100"), None).doc;
        (tape, levels(&book["bids"]), levels(&book["asks"]))
    }

    fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Debug)]
struct Reply {
    status: u16,
    doc: Value,
    retry_after: Option<String>,
}

impl Reply {
    fn code(&self) -> &str {
        self.doc["error"]["code"].as_str().unwrap_or_else(|| panic!("no error: {}", self.doc))
    }
}

struct Ws(WebSocket<MaybeTlsStream<TcpStream>>);

impl Ws {
    fn send(&mut self, doc: Value) {
        self.0.send(Message::text(doc.to_string())).unwrap();
    }

    /// The next JSON message (a read timeout of 30 s fails the test instead of hanging).
    fn next(&mut self) -> Value {
        loop {
            match self.0.read().unwrap() {
                Message::Text(t) => return serde_json::from_str(t.as_str()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn subscribe(&mut self, channel: &str) -> Value {
        self.send(json!({ "op": "subscribe", "channel": channel }));
        let snapshot = self.next();
        assert_eq!(
            (snapshot["channel"].as_str(), snapshot["type"].as_str(), snapshot["seq"].as_u64()),
            (Some(channel), Some("snapshot"), Some(1)),
            "{snapshot}"
        );
        snapshot
    }
}

/// Every trade reaches a WebSocket subscriber exactly once and in order while 1,000 orders are
/// placed, with per-channel sequence numbers that never skip; the tape and candles over REST
/// agree with it; a resubscription starts over with a snapshot.
#[test]
fn a_subscriber_receives_every_trade_once_in_order_while_1000_orders_are_placed() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database);
    let seller = server.login("seller", "seller-password");
    let buyer = server.login("buyer", "buyer-password");

    let mut ws = server.ws();
    let snapshot = ws.subscribe(&format!("trades:{SYMBOL}"));
    assert_eq!(snapshot["data"]["trades"], json!([]));
    ws.subscribe(&format!("candles:{SYMBOL}:1m"));

    // 500 sells rest; 500 buys cross them one for one: 500 trades among 1,000 orders, placed
    // from two threads so commands interleave in the ledger.
    let prices = ["37.00", "37.50", "38.00", "38.50"];
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..500 {
                server.order(&seller, SELLER_ACC, "sell", 2, prices[i % 4]);
            }
        });
        s.spawn(|| {
            for i in 0..500 {
                server.order(&buyer, BUYER_ACC, "buy", 1, prices[i % 4]);
            }
        });
    });
    // Whatever rests crossed or not, the REST tape is the ground truth to compare with.
    let mut tape = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/markets/{SYMBOL}/trades?limit=100&cursor={c}"),
            None => format!("/v1/markets/{SYMBOL}/trades?limit=100"),
        };
        let r = server.get(&path, None);
        assert_eq!(r.status, 200, "{}", r.doc);
        tape.extend(
            r.doc["items"].as_array().unwrap().iter().map(|t| t["trade"].as_u64().unwrap()),
        );
        match r.doc["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    tape.reverse();
    assert!(tape.len() >= 100, "the orders traded: {} trades", tape.len());
    assert_eq!(tape, (1..=tape.len() as u64).collect::<Vec<_>>(), "the tape is dense and ordered");

    let (mut trades, mut trade_seq, mut candle_seq) = (Vec::new(), 1, 1);
    while trades.len() < tape.len() {
        let m = ws.next();
        assert_eq!(m["type"], "update", "{m}");
        if m["channel"] == format!("trades:{SYMBOL}") {
            trade_seq += 1;
            assert_eq!(m["seq"].as_u64(), Some(trade_seq), "no gap on the trades channel");
            trades.push(m["data"]["trade"].as_u64().unwrap());
        } else {
            candle_seq += 1;
            assert_eq!(m["seq"].as_u64(), Some(candle_seq), "no gap on the candles channel");
            assert_eq!(m["data"]["interval"], "1m");
        }
    }
    assert_eq!(trades, tape, "every trade exactly once, in order");

    // Candles over REST add up to the tape.
    let r = server.get(&format!("/v1/markets/{SYMBOL}/candles?interval=1m"), None);
    assert_eq!(r.status, 200, "{}", r.doc);
    let counted: u64 =
        r.doc["items"].as_array().unwrap().iter().map(|c| c["trades"].as_u64().unwrap()).sum();
    assert_eq!(counted, tape.len() as u64);
    for (path, code) in [
        (format!("/v1/markets/{SYMBOL}/candles?interval=2m"), "invalid_interval"),
        (format!("/v1/markets/{SYMBOL}/trades?limit=0"), "invalid_limit"),
        (format!("/v1/markets/{SYMBOL}/trades?cursor=x"), "invalid_cursor"),
        ("/v1/markets/NOPE/trades".to_owned(), "unknown_instrument"),
    ] {
        let r = server.get(&path, None);
        assert_eq!(r.code(), code, "{path}");
        assert!(matches!(r.status, 400 | 404), "{path}: {}", r.status);
    }

    // A resubscription starts over: a fresh snapshot at seq 1 holding the newest trades.
    ws.send(json!({ "op": "unsubscribe", "channel": format!("candles:{SYMBOL}:1m") }));
    while ws.next()["type"] != "unsubscribed" {}
    let again = ws.subscribe(&format!("trades:{SYMBOL}"));
    let newest = again["data"]["trades"][0]["trade"].as_u64();
    assert_eq!(newest, tape.last().copied());
    // Unknown channels and private channels without auth are errors, not disconnects.
    ws.send(json!({ "op": "subscribe", "channel": "nonsense" }));
    assert_eq!(ws.next()["error"]["code"], "unknown_channel");
    ws.send(json!({ "op": "subscribe", "channel": "fills" }));
    assert_eq!(ws.next()["error"]["code"], "unauthenticated");
    ws.send(json!({ "op": "dance" }));
    assert_eq!(ws.next()["error"]["code"], "malformed_request");

    let operator = server.login("operator", "operator-secret-1");
    let r = server.get("/metrics", Some(&operator));
    let text = r.doc.as_str().unwrap();
    assert!(text.contains("rasid_ws_clients 1"), "{text}");
    assert!(text.contains("rasid_commit_latency_seconds_bucket"), "{text}");
    drop(ws);
    server.stop();
}

/// Private channels show an organization its own orders, fills and cash, and nobody else's; the
/// book channel's deltas keep a client's copy of the depth equal to the book.
#[test]
fn private_channels_are_isolated_and_book_deltas_track_the_book() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database);
    let seller = server.login("seller", "seller-password");
    let buyer = server.login("buyer", "buyer-password");

    let mut s_ws = server.ws();
    s_ws.send(json!({ "op": "auth", "token": seller }));
    assert_eq!(s_ws.next()["organization"].as_u64(), Some(SELLER_ORG));
    let mut b_ws = server.ws();
    b_ws.send(json!({ "op": "auth", "token": "rk_not-a-key" }));
    assert_eq!(b_ws.next()["error"]["code"], "unauthenticated");
    b_ws.send(json!({ "op": "auth", "token": buyer }));
    assert_eq!(b_ws.next()["organization"].as_u64(), Some(BUYER_ORG));
    for ws in [&mut s_ws, &mut b_ws] {
        ws.subscribe("orders");
        ws.subscribe("fills");
        let balances = ws.subscribe("balances");
        assert_eq!(balances["data"]["accounts"].as_array().unwrap().len(), 1);
    }
    let book = s_ws.subscribe(&format!("book:{SYMBOL}"));
    assert_eq!(book["data"]["asks"], json!([]));

    let sell = server.order(&seller, SELLER_ACC, "sell", 10, "37.50");
    let sell_id = sell["events"][0]["order"].as_u64().unwrap();
    server.order(&buyer, BUYER_ACC, "buy", 4, "37.50");

    // The seller sees its order accepted and rested, then the book, then its fill.
    let mut seller_seen = Vec::new();
    let mut asks = std::collections::BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    // The seller's balances after the trade end its messages: 150.00 received, 6 t still
    // reserved by the rest of its order. (An earlier balances message may or may not come
    // first: each is read from the ledger, which may already show the trade.)
    let settled = |seen: &[(String, Value)]| {
        seen.iter()
            .any(|(c, d)| c == "balances" && d["accounts"][0]["cash"][0]["available"] == "150.00")
    };
    while !(seller_seen.iter().any(|(c, _): &(String, Value)| c == "fills")
        && asks.get("37.50") == Some(&6)
        && settled(&seller_seen))
    {
        assert!(Instant::now() < deadline);
        let m = s_ws.next();
        let channel = m["channel"].as_str().unwrap().to_owned();
        if channel.starts_with("book:") {
            for level in m["data"]["asks"].as_array().unwrap() {
                let price = level["price"].as_str().unwrap().to_owned();
                let q = level["quantity"].as_u64().unwrap();
                if q == 0 {
                    asks.remove(&price);
                } else {
                    asks.insert(price, q);
                }
            }
        }
        seller_seen.push((channel, m["data"].clone()));
    }
    let fill = &seller_seen.iter().find(|(c, _)| c == "fills").unwrap().1;
    assert_eq!((fill["side"].as_str(), fill["quantity"].as_u64()), (Some("sell"), Some(4)));
    assert_eq!(fill["liquidity"], "maker");
    assert!(
        seller_seen
            .iter()
            .filter(|(c, _)| c == "orders")
            .all(|(_, d)| d["account"].as_u64().is_none_or(|a| a == SELLER_ACC)),
        "the seller sees only its own orders: {seller_seen:?}"
    );
    let r = server.get(&format!("/v1/markets/{SYMBOL}/book"), None);
    assert_eq!(r.doc["asks"][0]["quantity"].as_u64(), Some(6), "deltas match the book");

    // The buyer's private messages: its own order and fill and cash; never the seller's order.
    let mut buyer_seen = Vec::new();
    while buyer_seen.len() < 3 {
        let m = b_ws.next();
        buyer_seen.push((m["channel"].as_str().unwrap().to_owned(), m["data"].clone()));
    }
    assert!(
        buyer_seen.iter().all(|(_, d)| d["order"].as_u64() != Some(sell_id) || d["side"] == "buy"),
        "{buyer_seen:?}"
    );
    let fill = &buyer_seen.iter().find(|(c, _)| c == "fills").unwrap().1;
    assert_eq!((fill["side"].as_str(), fill["liquidity"].as_str()), (Some("buy"), Some("taker")));
    let balances = &buyer_seen.iter().find(|(c, _)| c == "balances").unwrap().1;
    assert_eq!(balances["accounts"][0]["account"].as_u64(), Some(BUYER_ACC));
    assert_eq!(
        balances["accounts"][0]["cash"],
        json!([{ "currency": "SAR", "available": "9999850.00", "reserved": "0.00" }]),
        "10,000,000.00 deposited, 150.00 paid"
    );

    // The orders snapshot lists the organization's open orders only.
    let snap = s_ws.subscribe("orders");
    assert_eq!(snap["data"]["orders"][0]["remaining"].as_u64(), Some(6));
    let snap = b_ws.subscribe("orders");
    assert_eq!(snap["data"]["orders"], json!([]));
    drop((s_ws, b_ws));
    server.stop();
}

/// API keys: shown once, hashed at rest, usable as bearer tokens, listed without secrets,
/// revocable, rate limited with 429 and Retry-After, and kept across a restart.
#[test]
fn api_keys_work_like_sessions_are_rate_limited_revocable_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database.clone());
    let seller = server.login("seller", "seller-password");
    let r = server.post("/v1/api-keys", &seller, json!({ "name": "bot" }));
    assert_eq!(r.status, 201, "{}", r.doc);
    let secret = r.doc["secret"].as_str().unwrap().to_owned();
    let key_id = r.doc["id"].as_u64().unwrap();
    assert!(secret.starts_with("rk_") && secret.len() > 40, "{secret}");
    let r = server.post("/v1/api-keys", &seller, json!({ "name": "" }));
    assert_eq!((r.status, r.code()), (400, "invalid_name"));
    let r = server.post("/v1/api-keys", &secret, json!({ "name": "second" }));
    assert_eq!(r.status, 201, "a key acts as its user: {}", r.doc);
    let second = r.doc["id"].as_u64().unwrap();

    let r = server.get("/v1/api-keys", Some(&secret));
    assert_eq!(r.status, 200);
    let items = r.doc["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|k| k.get("secret").is_none()), "secrets are shown once");
    assert!(secret.starts_with(items[0]["prefix"].as_str().unwrap()));
    let buyer = server.login("buyer", "buyer-password");
    let r = server.get("/v1/api-keys", Some(&buyer));
    assert_eq!(r.doc["items"], json!([]), "keys are their user's own");
    let r = server.call("DELETE", &format!("/v1/api-keys/{key_id}"), Some(&buyer), None);
    assert_eq!((r.status, r.code()), (404, "unknown_api_key"));

    // The key places an order as its user.
    server.order(&secret, SELLER_ACC, "sell", 1, "40.00");
    // Only the secret's SHA-256 is stored.
    let conn = rusqlite::Connection::open(dir.path().join("rasid.db")).unwrap();
    let stored: Vec<u8> = conn
        .query_row(
            "SELECT secret_sha256 FROM server_api_keys WHERE id = ?1",
            [key_id as i64],
            |r| r.get(0),
        )
        .unwrap();
    use sha2::Digest as _;
    assert_eq!(stored, sha2::Sha256::digest(secret.as_bytes()).to_vec());
    let in_clear: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM server_api_keys WHERE name = ?1 OR prefix = ?1",
            [&secret],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(in_clear, 0);

    // Rate limit: a burst of 3, then 429 with Retry-After; other tokens are unaffected.
    server.app.set_rate_limit(1, 3);
    for _ in 0..3 {
        assert_eq!(server.get("/v1/api-keys", Some(&secret)).status, 200);
    }
    let r = server.get("/v1/api-keys", Some(&secret));
    assert_eq!((r.status, r.code()), (429, "rate_limited"));
    assert_eq!(r.retry_after.as_deref(), Some("1"));
    assert_eq!(server.get("/v1/api-keys", Some(&buyer)).status, 200);
    server.app.set_rate_limit(0, 0);

    let r = server.call("DELETE", &format!("/v1/api-keys/{second}"), Some(&secret), None);
    assert_eq!(r.status, 200, "{}", r.doc);
    server.stop();

    // After a restart: the key works, the revoked one is listed as revoked, trades persist.
    let server = Server::start(database);
    let r = server.get("/v1/api-keys", Some(&secret));
    assert_eq!(r.status, 200, "{}", r.doc);
    let items = r.doc["items"].as_array().unwrap();
    assert!(items[0]["revoked"].is_null() && items[1]["revoked"].is_string(), "{items:?}");
    let r = server.call("DELETE", &format!("/v1/api-keys/{key_id}"), Some(&secret), None);
    assert_eq!(r.status, 200);
    let r = server.get("/v1/api-keys", Some(&secret));
    assert_eq!((r.status, r.code()), (401, "unauthenticated"), "a revoked key is refused");
    server.stop();
}

/// The market data read models are rebuilt from the journal at open: a restart serves the
/// same tape and candles.
#[test]
fn trades_and_candles_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database.clone());
    let seller = server.login("seller", "seller-password");
    let buyer = server.login("buyer", "buyer-password");
    server.order(&seller, SELLER_ACC, "sell", 5, "37.50");
    server.order(&buyer, BUYER_ACC, "buy", 2, "37.50");
    server.order(&buyer, BUYER_ACC, "buy", 3, "37.50");
    let trades = server.get(&format!("/v1/markets/{SYMBOL}/trades"), None).doc;
    let candles = server.get(&format!("/v1/markets/{SYMBOL}/candles?interval=1d"), None).doc;
    assert_eq!(trades["items"].as_array().unwrap().len(), 2);
    assert_eq!(candles["items"][0]["volume"].as_u64(), Some(5));
    server.stop();
    let server = Server::start(database);
    assert_eq!(server.get(&format!("/v1/markets/{SYMBOL}/trades"), None).doc, trades);
    assert_eq!(server.get(&format!("/v1/markets/{SYMBOL}/candles?interval=1d"), None).doc, candles);
    let mut ws = server.ws();
    let book = ws.subscribe(&format!("book:{SYMBOL}"));
    assert_eq!(book["data"]["asks"], json!([]), "the depth mirror was rebuilt too");
    drop(ws);
    server.stop();
}

/// Polls `f` until it returns `Some`, failing after `deadline`.
fn wait_for<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The trade ids of a trades page, oldest first.
fn trade_ids(doc: &Value) -> Vec<u64> {
    let mut ids: Vec<u64> =
        doc["items"].as_array().unwrap().iter().map(|t| t["trade"].as_u64().unwrap()).collect();
    ids.reverse();
    ids
}

/// PostgreSQL high availability with the live read models: a follower serves the trades,
/// candles and WebSocket updates it tails from the writer's journal; API keys made on one
/// server work on the other; after the writer stops, the follower takes over and its feed
/// continues exactly where its tailing stopped — every trade once, none missed.
#[test]
fn a_follower_streams_what_it_tails_and_continues_after_taking_over() {
    let Some(base) = rasid_store::testing::postgres_test_url(
        "a_follower_streams_what_it_tails_and_continues_after_taking_over",
    )
    .unwrap() else {
        return;
    };
    let schema = rasid_store::ScratchSchema::create(&base, "rasid_live_ha").unwrap();
    let database = DatabaseUrl::Postgres(schema.url().to_owned());
    seed(&database);
    let writer = Server::start_ha(database.clone(), 1_000);
    let follower = Server::start_ha(database, 1_000);
    assert_eq!(writer.get("/v1/health", None).doc["role"], "writer");
    assert_eq!(follower.get("/v1/health", None).doc["role"], "follower");
    let seller = writer.login("seller", "seller-password");
    let buyer = writer.login("buyer", "buyer-password");
    let r = writer.post("/v1/api-keys", &buyer, json!({ "name": "bot" }));
    assert_eq!(r.status, 201, "{}", r.doc);
    let key = r.doc["secret"].as_str().unwrap().to_owned();
    let key_id = r.doc["id"].as_u64().unwrap();

    let mut ws = follower.ws();
    assert_eq!(ws.subscribe(&format!("trades:{SYMBOL}"))["data"]["trades"], json!([]));
    writer.order(&seller, SELLER_ACC, "sell", 10, "37.50");
    for _ in 0..3 {
        writer.order(&key, BUYER_ACC, "buy", 1, "37.50");
    }
    let trades_path = format!("/v1/markets/{SYMBOL}/trades");
    wait_for("the follower's tape", Duration::from_secs(20), || {
        let doc = follower.get(&trades_path, None).doc;
        (trade_ids(&doc) == [1, 2, 3]).then_some(())
    });
    let streamed: Vec<u64> = (0..3).map(|_| ws.next()["data"]["trade"].as_u64().unwrap()).collect();
    assert_eq!(streamed, [1, 2, 3], "the follower streams what it tails");
    // The key (PostgreSQL table shared by both servers) authenticates on the follower, which
    // refuses commands.
    let r = follower.get("/v1/api-keys", Some(&key));
    assert_eq!(r.status, 200, "{}", r.doc);
    assert_eq!(r.doc["items"][0]["id"].as_u64(), Some(key_id));
    let body = json!({ "instrument": SYMBOL, "account": BUYER_ACC, "side": "buy", "quantity": 1, "price": "37.50" });
    let r = follower.post("/v1/orders", &key, body);
    assert_eq!((r.status, r.code()), (503, "not_writer"));

    // The writer stops (releasing its lease): the follower takes over.
    writer.stop();
    wait_for("the takeover", Duration::from_secs(20), || {
        (follower.get("/v1/health", None).doc["role"] == "writer").then_some(())
    });
    for _ in 0..2 {
        follower.order(&key, BUYER_ACC, "buy", 1, "37.50");
    }
    let streamed: Vec<u64> = (0..2).map(|_| ws.next()["data"]["trade"].as_u64().unwrap()).collect();
    assert_eq!(streamed, [4, 5], "the new writer's feed continues the stream");
    assert_eq!(trade_ids(&follower.get(&trades_path, None).doc), [1, 2, 3, 4, 5]);
    let candles = follower.get(&format!("/v1/markets/{SYMBOL}/candles?interval=1d"), None).doc;
    let counted: u64 =
        candles["items"].as_array().unwrap().iter().map(|c| c["trades"].as_u64().unwrap()).sum();
    assert_eq!(counted, 5, "{candles}");
    let r = follower.call("DELETE", &format!("/v1/api-keys/{key_id}"), Some(&key), None);
    assert_eq!(r.status, 200, "{}", r.doc);
    let r = follower.get("/v1/api-keys", Some(&key));
    assert_eq!((r.status, r.code()), (401, "unauthenticated"), "a revoked key is refused");
    drop(ws);
    follower.stop();
}

/// Amending an order keeps the depth mirror equal to the book: a price change takes the order
/// out and enters it again (it may trade, then rests once more), a reduction keeps its place.
#[test]
fn amended_orders_keep_the_depth_mirror_equal_to_the_book() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database.clone());
    let seller = server.login("seller", "seller-password");
    let buyer = server.login("buyer", "buyer-password");
    let sell = server.order(&seller, SELLER_ACC, "sell", 5, "40.00");
    let sell_id = sell["events"][0]["order"].as_u64().unwrap();
    server.order(&buyer, BUYER_ACC, "buy", 2, "37.50");
    let amend = |body: Value| {
        let r = server.call("PATCH", &format!("/v1/orders/{sell_id}"), Some(&seller), Some(body));
        assert_eq!(r.status, 200, "{}", r.doc);
    };
    // A new price that crosses: 2 t trade against the bid, 3 t rest at 37.50.
    amend(json!({ "price": "37.50" }));
    // A smaller quantity at the same price keeps its place.
    amend(json!({ "quantity": 1 }));
    let expected = json!({
        "instrument": 1,
        "bids": [],
        "asks": [{ "price": "37.50", "quantity": 1, "orders": 1 }],
    });
    let mut ws = server.ws();
    assert_eq!(ws.subscribe(&format!("book:{SYMBOL}"))["data"], expected);
    let trades = server.get(&format!("/v1/markets/{SYMBOL}/trades"), None).doc;
    assert_eq!(trade_ids(&trades), [1]);
    drop(ws);
    server.stop();
    // Rebuilt from the journal at open, the mirror is the same.
    let server = Server::start(database);
    let mut ws = server.ws();
    assert_eq!(ws.subscribe(&format!("book:{SYMBOL}"))["data"], expected);
    drop(ws);
    server.stop();
}

/// Book levels as `(price, quantity, orders)`, best first.
type Levels = Vec<(String, u64, u64)>;
/// What REST shows: the newest trade ids (oldest first), bids and asks.
type Rest = (Vec<u64>, Levels, Levels);

/// Book levels of a REST book or a WebSocket book snapshot as `(price, quantity, orders)`.
fn levels(side: &Value) -> Levels {
    side.as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let price = l["price"].as_str().unwrap().to_owned();
            (price, l["quantity"].as_u64().unwrap(), l["orders"].as_u64().unwrap())
        })
        .collect()
}

/// What a WebSocket client rebuilds from the `trades` and `book` channels: the tape and the
/// depth, with each channel's last seq and whether it is waiting for a fresh snapshot.
#[derive(Default)]
struct Mirror {
    tape: Vec<u64>,
    bids: std::collections::BTreeMap<i64, (u64, u64)>,
    asks: std::collections::BTreeMap<i64, (u64, u64)>,
    seq: std::collections::BTreeMap<String, u64>,
    resubscribing: std::collections::BTreeSet<String>,
    gaps: std::collections::BTreeSet<String>,
}

/// "37.50" → 3750, so the mirror's levels sort by price.
fn cents(price: &str) -> i64 {
    let (whole, frac) = price.split_once('.').unwrap();
    whole.parse::<i64>().unwrap() * 100 + frac.parse::<i64>().unwrap()
}

impl Mirror {
    fn set_levels(map: &mut std::collections::BTreeMap<i64, (u64, u64)>, side: &Value) {
        for (price, quantity, orders) in levels(side) {
            if quantity == 0 {
                map.remove(&cents(&price));
            } else {
                map.insert(cents(&price), (quantity, orders));
            }
        }
    }

    /// Applies one message as a careful client does: a snapshot replaces the channel's state; an
    /// update whose seq does not follow the last one is a gap, so the client resubscribes (and
    /// ignores that channel's updates until the fresh snapshot arrives).
    fn apply(&mut self, ws: &mut Ws, m: &Value) {
        let channel = m["channel"].as_str().unwrap().to_owned();
        if channel == "orders" {
            // Only there to fill the socket (see the test).
            return;
        }
        let seq = m["seq"].as_u64().unwrap();
        let data = &m["data"];
        match m["type"].as_str().unwrap() {
            "snapshot" => {
                assert_eq!(seq, 1);
                self.resubscribing.remove(&channel);
                if channel.starts_with("trades:") {
                    self.tape = data["trades"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .rev()
                        .map(|t| t["trade"].as_u64().unwrap())
                        .collect();
                } else {
                    self.bids.clear();
                    self.asks.clear();
                    Self::set_levels(&mut self.bids, &data["bids"]);
                    Self::set_levels(&mut self.asks, &data["asks"]);
                }
            }
            "update" if self.resubscribing.contains(&channel) => return,
            "update" => {
                let last = self.seq[&channel];
                if seq != last + 1 {
                    assert!(seq > last + 1, "{channel}: seq went back from {last} to {seq}");
                    self.gaps.insert(channel.clone());
                    self.resubscribing.insert(channel.clone());
                    ws.send(json!({ "op": "subscribe", "channel": channel }));
                    return;
                }
                if channel.starts_with("trades:") {
                    self.tape.push(data["trade"].as_u64().unwrap());
                } else {
                    Self::set_levels(&mut self.bids, &data["bids"]);
                    Self::set_levels(&mut self.asks, &data["asks"]);
                }
            }
            other => panic!("unexpected message type {other}: {m}"),
        }
        self.seq.insert(channel, seq);
    }

    /// Whether the mirror shows what REST shows: the newest trades of the tape, and the book.
    fn equals(&self, rest: &Rest) -> bool {
        let (tape, bids, asks) = rest;
        let side = |m: &std::collections::BTreeMap<i64, (u64, u64)>, rev: bool| {
            let mut v: Levels = m
                .iter()
                .map(|(p, (q, n))| (format!("{}.{:02}", p / 100, p % 100), *q, *n))
                .collect();
            if rev {
                v.reverse();
            }
            v
        };
        self.resubscribing.is_empty()
            && self.tape.len() >= tape.len()
            && self.tape[self.tape.len() - tape.len()..] == tape[..]
            && side(&self.bids, true) == *bids
            && side(&self.asks, false) == *asks
    }

    /// Reads messages until the mirror equals REST (a read timeout fails the test).
    fn catch_up(&mut self, ws: &mut Ws, server: &Server) {
        let rest = server.tape_and_book();
        while !self.equals(&rest) {
            let m = ws.next();
            self.apply(ws, &m);
        }
        assert!(
            self.tape.windows(2).all(|w| w[1] == w[0] + 1),
            "the mirrored tape has every trade once, in order: {:?}",
            self.tape
        );
    }
}

/// A slow client over a real connection: it stops reading, the server's writes to it block, the
/// hub (8 batches here) moves on without it, and `/metrics` shows the hub full of batches it has
/// not read. More trading then pushes out batches it never saw. When it reads again, each
/// channel's seq jumps; it resubscribes, gets a snapshot, and ends with exactly the tape and book
/// the REST API shows — and keeps them equal from the deltas that follow.
#[test]
fn a_lagging_client_sees_a_seq_gap_resubscribes_and_ends_equal_to_rest() {
    const HUB: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start_with_hub(database, HUB);
    let seller = server.login("seller", "seller-password");
    let buyer = server.login("buyer", "buyer-password");
    let operator = server.login("operator", "operator-secret-1");
    let prices = ["37.00", "37.50", "38.00"];
    // One trading step: a sell that rests (a book delta) and a buy that takes half of it (a
    // trade and a book delta), each its own command and so its own published batch.
    let step = |i: usize| {
        server.order(&seller, SELLER_ACC, "sell", 2, prices[i % 3]);
        server.order(&buyer, BUYER_ACC, "buy", 1, prices[i % 3]);
    };

    let mut ws = server.ws_small_buffer();
    ws.send(json!({ "op": "auth", "token": seller }));
    assert_eq!(ws.next()["type"], "authenticated");
    let mut mirror = Mirror::default();
    for channel in [format!("trades:{SYMBOL}"), format!("book:{SYMBOL}")] {
        let snapshot = ws.subscribe(&channel);
        mirror.apply(&mut ws, &snapshot);
    }
    // The seller gets 60 open orders (each sell rests two tonnes, the buy takes one), read as
    // they come: a client that keeps up sees no gap.
    let mut i = 0;
    while i < 60 {
        step(i);
        i += 1;
        if i % 3 == 0 {
            mirror.catch_up(&mut ws, &server);
        }
    }
    assert!(mirror.gaps.is_empty(), "a client that keeps up sees no gap");

    // The client stops reading, after asking for 3,000 snapshots of its open orders (≈ 3 KB
    // each, more than the socket buffers hold: the server's send buffer grows to ≈ 4 MB on
    // Linux): the server's writes fill the socket and then block, and while a write waits the
    // connection takes no batches from the hub. Until it blocks it is only busy and may still
    // read the hub between snapshots (a run that traded on before this point passed or failed
    // by timing), so wait for `/metrics` to show the blocked write first.
    for _ in 0..3_000 {
        ws.send(json!({ "op": "subscribe", "channel": "orders" }));
    }
    let blocked = "rasid_ws_blocked_writes";
    // The wait polls `/metrics` as fast as it can: past the operator token's request budget
    // (2,000/s) on a slow machine, which would answer 429 instead of the count.
    server.app.set_rate_limit(0, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while server.metric(Some(&operator), blocked) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never blocked on the slow client"
        );
        std::thread::yield_now();
    }
    // Trade until the hub holds as many batches as it keeps that this client has not read; every
    // batch published after that pushes out one it never saw.
    assert_eq!(server.metric(Some(&operator), "rasid_ws_hub_capacity_batches"), HUB as u64);
    while server.metric(Some(&operator), "rasid_ws_hub_queued_batches") < HUB as u64 {
        assert!(i < 1_000, "the hub never filled behind the blocked client");
        step(i);
        i += 1;
    }
    for _ in 0..HUB {
        step(i);
        i += 1;
    }
    assert_eq!(server.metric(Some(&operator), blocked), 1, "the client's write is still blocked");

    // The client reads again: what the socket held, then the jump, then snapshots.
    mirror.catch_up(&mut ws, &server);
    let both: std::collections::BTreeSet<String> =
        [format!("trades:{SYMBOL}"), format!("book:{SYMBOL}")].into();
    assert_eq!(mirror.gaps, both, "both channels showed the gap");
    assert!(server.metric(Some(&operator), "rasid_ws_lagged_batches_total") >= 1);
    // After the resubscription the deltas keep the mirror equal to REST.
    for _ in 0..5 {
        step(i);
        i += 1;
    }
    mirror.catch_up(&mut ws, &server);
    drop(ws);
    server.stop();
}

/// `/metrics` shows the server's internals, so it is not public: anonymous callers get 401,
/// members 403, the operator 200, and so does a Prometheus scraper presenting the scrape token
/// (`--metrics-token`); a wrong token is refused and a short one is not accepted as a setting.
#[test]
fn metrics_are_for_operators_auditors_and_the_scrape_token_only() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database);
    let member = server.login("buyer", "buyer-password");
    let operator = server.login("operator", "operator-secret-1");
    let r = server.get("/metrics", None);
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));
    let r = server.get("/metrics", Some(&member));
    assert_eq!((r.status, r.code()), (403, "forbidden"));
    let r = server.get("/metrics", Some(&operator));
    assert_eq!(r.status, 200);
    assert!(r.doc.as_str().unwrap().contains("rasid_commands_total"), "{}", r.doc);

    // Without a configured scrape token, no bearer string passes as one.
    let token = "prometheus-scrape-token-0123456789";
    let r = server.get("/metrics", Some(token));
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));
    assert!(server.app.set_metrics_token(Some("short")).is_err(), "guessable tokens are refused");
    server.app.set_metrics_token(Some(token)).unwrap();
    let r = server.get("/metrics", Some(token));
    assert_eq!(r.status, 200, "{}", r.doc);
    assert!(r.doc.as_str().unwrap().contains("rasid_http_requests_total"));
    let r = server.get("/metrics", Some("prometheus-scrape-token-wrong-one"));
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));
    // The scrape token reads metrics and nothing else.
    let r = server.get("/v1/me", Some(token));
    assert_eq!((r.status, r.code()), (401, "unauthenticated"));
    let r = server.get("/v1/accounts", Some(token));
    assert_eq!(r.status, 401);
    server.app.set_metrics_token(None).unwrap();
    assert_eq!(server.get("/metrics", Some(token)).status, 401);
    server.stop();
}

/// A balances message as REST shows the same accounts: per account, the cash of
/// `GET /v1/accounts/{id}/cash` and the available and reserved tonnes of `…/holdings`.
fn rest_balances(server: &Server, token: &str, accounts: &[u64]) -> Value {
    let accounts: Vec<Value> = accounts
        .iter()
        .map(|a| {
            let cash = server.get(&format!("/v1/accounts/{a}/cash"), Some(token));
            assert_eq!(cash.status, 200, "{}", cash.doc);
            let holdings = server.get(&format!("/v1/accounts/{a}/holdings"), Some(token));
            assert_eq!(holdings.status, 200, "{}", holdings.doc);
            let holdings: Vec<Value> = holdings.doc["holdings"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    json!({
                        "issuance": h["issuance"], "available_tonnes": h["available_tonnes"],
                        "reserved_tonnes": h["reserved_tonnes"],
                    })
                })
                .collect();
            json!({ "account": a, "cash": cash.doc["balances"], "holdings": holdings })
        })
        .collect();
    json!({ "accounts": accounts })
}

/// The balances channel carries what the REST balances show, reservations included: an order
/// that rests reserves cash (buy) or credits (sell), a cancellation releases them, a trade
/// settles them, and after each step the next balances message equals REST.
#[test]
fn the_balances_channel_shows_available_and_reserved_cash_and_credits_as_rest_does() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database);
    let seller = server.login("seller", "seller-password");
    let buyer = server.login("buyer", "buyer-password");
    let mut channels = Vec::new();
    for (token, account) in [(&seller, SELLER_ACC), (&buyer, BUYER_ACC)] {
        let mut ws = server.ws();
        ws.send(json!({ "op": "auth", "token": token }));
        assert_eq!(ws.next()["type"], "authenticated");
        let snapshot = ws.subscribe("balances");
        assert_eq!(snapshot["data"], rest_balances(&server, token, &[account]));
        channels.push((ws, token.clone(), account, 1));
    }
    // The next balances update of each organization equals REST (updates come in seq order,
    // one step apart; a read timeout fails the test).
    let mut check = |who: usize, what: &str| {
        let (ws, token, account, seq) = &mut channels[who];
        let m = ws.next();
        assert_eq!((m["channel"].as_str(), m["type"].as_str()), (Some("balances"), Some("update")));
        *seq += 1;
        assert_eq!(m["seq"].as_u64(), Some(*seq), "{what}: no gap");
        assert_eq!(m["data"], rest_balances(&server, token, &[*account]), "{what}");
        m["data"]["accounts"][0].clone()
    };
    const SELLER: usize = 0;
    const BUYER: usize = 1;

    let buy = server.order(&buyer, BUYER_ACC, "buy", 10, "37.00");
    let b = check(BUYER, "a resting buy reserves its cash");
    assert_eq!(b["cash"][0]["reserved"], "370.00");
    let sell = server.order(&seller, SELLER_ACC, "sell", 30, "38.00");
    let s = check(SELLER, "a resting sell reserves its credits");
    assert_eq!(s["holdings"][0]["reserved_tonnes"], 30);
    let id = buy["events"][0]["order"].as_u64().unwrap();
    let r = server.call("DELETE", &format!("/v1/orders/{id}"), Some(&buyer), None);
    assert_eq!(r.status, 200, "{}", r.doc);
    let b = check(BUYER, "a cancellation releases the cash");
    assert_eq!(b["cash"][0]["reserved"], "0.00");
    server.order(&buyer, BUYER_ACC, "buy", 5, "38.00");
    let b = check(BUYER, "a trade pays from the buyer's cash");
    assert_eq!(b["holdings"][0]["available_tonnes"], 5);
    let s = check(SELLER, "and takes the seller's reserved credits");
    assert_eq!(s["holdings"][0]["reserved_tonnes"], 25);
    let id = sell["events"][0]["order"].as_u64().unwrap();
    let body = json!({ "quantity": 20 });
    let r = server.call("PATCH", &format!("/v1/orders/{id}"), Some(&seller), Some(body));
    assert_eq!(r.status, 200, "{}", r.doc);
    let s = check(SELLER, "a reduced sell releases credits");
    assert_eq!(s["holdings"][0]["reserved_tonnes"], 20);
    drop(channels);
    server.stop();
}

/// The server's WebSocket read buffer is small (two of the largest client messages): a message
/// near the size limit is still read whole and answered, several in a row too, and one over the
/// limit ends the connection rather than being half read.
#[test]
fn websocket_messages_up_to_the_size_limit_are_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database);
    let mut ws = server.ws();
    // `ws::CLIENT_MESSAGE_BYTES_MAX`, which the crate does not export.
    let limit = 4 * 1024;
    // `{"op":"subscribe","channel":"…"}` is 31 bytes around the name.
    let name = "x".repeat(limit - 31);
    for _ in 0..3 {
        ws.send(json!({ "op": "subscribe", "channel": name }));
        let m = ws.next();
        assert_eq!(m["error"]["code"], "unknown_channel", "{}", m["error"]["message"]);
    }
    ws.send(json!({ "op": "subscribe", "channel": "x".repeat(limit) }));
    match ws.0.read() {
        Ok(Message::Close(_)) | Err(_) => {}
        Ok(other) => panic!("an oversized message was answered: {other:?}"),
    }
    let mut ws = server.ws();
    ws.subscribe(&format!("trades:{SYMBOL}"));
    server.stop();
}

/// The server's count of balances reads (`rasid_ws_balances_reads_total`).
fn balances_reads(server: &Server, operator: &str) -> u64 {
    let r = server.get("/metrics", Some(operator));
    assert_eq!(r.status, 200, "{}", r.doc);
    let text = r.doc.as_str().unwrap().to_owned();
    let line = text.lines().find(|l| l.starts_with("rasid_ws_balances_reads_total "));
    line.and_then(|l| l.split(' ').nth(1)).and_then(|v| v.parse().ok()).expect("the counter")
}

/// Connections of one organization that show its balances share one ledger read per change:
/// four subscribers, one resting order, four equal updates from a single read. Before, every
/// connection ran its own query on the sequencer thread.
#[test]
fn connections_showing_one_organizations_balances_share_one_read_per_change() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database);
    let buyer = server.login("buyer", "buyer-password");
    let operator = server.login("operator", "operator-secret-1");
    let mut connections: Vec<Ws> = (0..4)
        .map(|_| {
            let mut ws = server.ws();
            ws.send(json!({ "op": "auth", "token": buyer }));
            assert_eq!(ws.next()["type"], "authenticated");
            ws.subscribe("balances");
            ws
        })
        .collect();
    let before = balances_reads(&server, &operator);
    server.order(&buyer, BUYER_ACC, "buy", 10, "37.00");
    let expected = rest_balances(&server, &buyer, &[BUYER_ACC]);
    for ws in &mut connections {
        let m = ws.next();
        assert_eq!((m["channel"].as_str(), m["seq"].as_u64()), (Some("balances"), Some(2)));
        assert_eq!(m["data"], expected);
    }
    assert_eq!(balances_reads(&server, &operator) - before, 1, "one read for four connections");
    drop(connections);
    server.stop();
}

/// The live read models a fresh `Live` builds from the whole journal, and the WebSocket
/// snapshots and REST pages the server shows from its own, for one comparison.
fn read_models_of(
    live: &rasid_server::live::Live,
    org: OrgId,
) -> Vec<(rasid_server::live::ChannelKey, Value)> {
    use rasid_core::exchange::InstrumentId;
    use rasid_market::Interval;
    use rasid_server::live::ChannelKey;
    let i = InstrumentId(1);
    let mut keys = vec![ChannelKey::Book(i), ChannelKey::Trades(i), ChannelKey::Orders];
    keys.extend(Interval::ALL.iter().map(|iv| ChannelKey::Candles(i, *iv)));
    keys.into_iter().map(|k| (k, live.snapshot(k, Some(org)).0)).collect()
}

/// `App::open` replays the journal once, feeding the read models from the same pass that
/// rebuilds the ledger's state, and ignoring the snapshot the last close wrote: the models it
/// serves equal a fresh build from the whole journal, and the ledger's feed continues them.
#[test]
fn one_replay_at_open_builds_read_models_equal_to_a_fresh_build() {
    use rasid_market::Interval;
    use rasid_server::live::{ChannelKey, Live};
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database.clone());
    let seller = server.login("seller", "seller-password");
    let buyer = server.login("buyer", "buyer-password");
    for (i, price) in ["37.00", "37.50", "38.00", "38.50"].iter().enumerate() {
        server.order(&seller, SELLER_ACC, "sell", 3 + i as u64, price);
        server.order(&buyer, BUYER_ACC, "buy", 2, price);
    }
    // Closing writes a snapshot at the head: the next open must not take its state from it
    // and its read models from elsewhere.
    server.stop();
    let server = Server::start(database.clone());
    let buyer = server.login("buyer", "buyer-password");
    server.order(&buyer, BUYER_ACC, "buy", 1, "38.50");
    let seller = server.login("seller", "seller-password");
    // What the server shows: the WebSocket snapshots of every read model, and the REST tape.
    let mut ws = server.ws();
    ws.send(json!({ "op": "auth", "token": seller }));
    assert_eq!(ws.next()["type"], "authenticated");
    let mut shown = Vec::new();
    let mut names = vec![
        (ChannelKey::Book(rasid_core::exchange::InstrumentId(1)), format!("book:{SYMBOL}")),
        (ChannelKey::Trades(rasid_core::exchange::InstrumentId(1)), format!("trades:{SYMBOL}")),
        (ChannelKey::Orders, "orders".to_owned()),
    ];
    names.extend(Interval::ALL.iter().map(|iv| {
        let key = ChannelKey::Candles(rasid_core::exchange::InstrumentId(1), *iv);
        (key, format!("candles:{SYMBOL}:{}", iv.as_str()))
    }));
    for (key, name) in names {
        shown.push((key, ws.subscribe(&name)["data"].clone()));
    }
    let tape = trade_ids(&server.get(&format!("/v1/markets/{SYMBOL}/trades"), None).doc);
    drop(ws);
    server.stop();

    // A fresh build: every command of the journal into new models.
    let fresh = Live::new();
    let mut journal = open_journal(&database).unwrap();
    rasid_store::replay_committed(journal.as_mut(), &mut |c| fresh.replay(&c)).unwrap();
    assert_eq!(shown, read_models_of(&fresh, OrgId(SELLER_ORG)));
    let fresh_tape: Vec<u64> = fresh
        .trades(rasid_core::exchange::InstrumentId(1), None, 100)
        .iter()
        .rev()
        .map(|p| p.trade.0)
        .collect();
    assert_eq!(tape, fresh_tape);
    assert!(tape.len() > 4, "trades before and after the restart: {tape:?}");
}

/// An instrument quoted in another currency streams its prices in that currency: the trade on
/// the WebSocket names USD and shows the same price as the REST tape, and the book snapshot's
/// levels are those of the REST book.
#[test]
fn websocket_prices_are_in_the_instruments_currency() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database);
    let operator = server.login("operator", "operator-secret-1");
    let seller = server.login("seller", "seller-password");
    let buyer = server.login("buyer", "buyer-password");
    let listing = json!({ "symbol": "VCS1-2021-USD", "project": 1, "vintage": 2021, "currency": "USD", "reference_price": "10.00", "tick": "0.01" });
    let r = server.post("/v1/instruments", &operator, listing);
    assert_eq!(r.status, 201, "{}", r.doc);
    let deposit = json!({ "account": BUYER_ACC, "currency": "USD", "amount": "1000.00" });
    let r = server.post("/v1/cash/deposits", &operator, deposit);
    assert_eq!(r.status, 201, "{}", r.doc);
    let mut ws = server.ws();
    ws.subscribe("trades:VCS1-2021-USD");
    let order = |token: &str, account: u64, side: &str, quantity: u64, price: &str| {
        let body = json!({ "instrument": "VCS1-2021-USD", "account": account, "side": side, "quantity": quantity, "price": price });
        let r = server.post("/v1/orders", token, body);
        assert_eq!(r.status, 201, "{}", r.doc);
    };
    order(&seller, SELLER_ACC, "sell", 3, "10.25");
    order(&buyer, BUYER_ACC, "buy", 1, "10.25");
    let trade = ws.next();
    assert_eq!(
        (trade["data"]["currency"].as_str(), trade["data"]["price"].as_str()),
        (Some("USD"), Some("10.25")),
        "{trade}"
    );
    let tape = server.get("/v1/markets/VCS1-2021-USD/trades", None).doc;
    assert_eq!(tape["items"][0], trade["data"], "the stream and the tape agree");
    let book = ws.subscribe("book:VCS1-2021-USD");
    let rest = server.get("/v1/markets/VCS1-2021-USD/book", None).doc;
    assert_eq!(book["data"]["asks"], rest["asks"]);
    assert_eq!(rest["currency"], "USD");
    drop(ws);
    server.stop();
}
