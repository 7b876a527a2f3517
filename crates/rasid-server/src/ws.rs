//! `GET /v1/ws`: the WebSocket stream of the live read models (`crate::live`).
//!
//! A client sends `{"op":"subscribe","channel":C}`, `{"op":"unsubscribe","channel":C}` and, for
//! the private channels, `{"op":"auth","token":T}` first (a session token or an API key). Public
//! channels: `book:{instrument}`, `trades:{instrument}`, `candles:{instrument}:{1m|1h|1d}`,
//! `auction:{id}`; private: `orders`, `fills`, `balances`, filtered to the caller's organization.
//! The server answers each subscription with a snapshot and then sends updates, as
//! `{"channel":C,"seq":N,"type":"snapshot"|"update","data":…}` where `seq` counts per channel and
//! connection from 1 (the snapshot). A client that falls behind the hub's buffer skips what it
//! missed and its next `seq` jumps: it resubscribes and gets a fresh snapshot (seq 1 again).
//! The balances channel's snapshot and updates are the same document, every account of the
//! organization with its cash and credits, available and reserved (`{"accounts":[{"account",
//! "cash":[{"currency","available","reserved"}],"holdings":[{"issuance","available_tonnes",
//! "reserved_tonnes"}]}]}`), sent again whenever a command changes them — including orders,
//! bids, lots and deposits reserving or releasing them.
//! Errors are `{"type":"error","error":{"code","message"}}` and leave the connection open.

use crate::Gauge;
use crate::error::ApiError;
use crate::live::{ChannelKey, Published};
use crate::routes::{Shared, authenticate, blocking, resolve};
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use rasid_core::exchange::auction::AuctionId;
use rasid_core::{OrgId, Rejection};
use rasid_market::Interval;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use tokio::sync::broadcast::error::RecvError;

/// Client messages above this are refused by the WebSocket layer.
pub const CLIENT_MESSAGE_BYTES_MAX: usize = 4 * 1024;
/// The WebSocket layer's read buffer per connection: two of the largest client messages.
const WS_READ_BUFFER_BYTES: usize = 2 * CLIENT_MESSAGE_BYTES_MAX;
/// Most channels one connection may subscribe to at once.
pub const SUBSCRIPTIONS_MAX: usize = 64;

pub(crate) async fn upgrade(State(app): State<Shared>, ws: WebSocketUpgrade) -> Response {
    // The read buffer is sized for client messages, which are small: the WebSocket layer
    // zero-fills the free part of it (128 KiB by default) on every read attempt, and each
    // connection attempts one whenever a published batch wakes it — 1,000 subscribers spent more
    // of the server's time clearing memory than on anything else.
    ws.max_message_size(CLIENT_MESSAGE_BYTES_MAX)
        .max_frame_size(CLIENT_MESSAGE_BYTES_MAX)
        .read_buffer_size(WS_READ_BUFFER_BYTES)
        .on_upgrade(move |socket| connection(app, socket))
}

#[derive(Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Subscribe { channel: String },
    Unsubscribe { channel: String },
    Auth { token: String },
}

struct Subscription {
    /// The name the client used (an instrument may be named by id or symbol), as a JSON string,
    /// rendered once rather than per message.
    name_json: String,
    /// The last sequence number sent on this channel.
    seq: u64,
    /// Updates of commands up to this one are already in the snapshot.
    snapshot_seq: u64,
}

async fn connection(app: Shared, socket: WebSocket) {
    // Counts the connection in `/metrics` while it lives.
    let _gauge = Gauge::count(&app.live.ws_clients);
    // Subscribed before any snapshot is taken, so no update after a snapshot can be missed.
    let mut feed = app.live.subscribe();
    let (mut sink, mut stream) = socket.split();
    let mut subs: BTreeMap<ChannelKey, Subscription> = BTreeMap::new();
    let mut org: Option<OrgId> = None;
    loop {
        let outgoing: Vec<String> = tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    handle(&app, text.as_str(), &mut subs, &mut org).await
                }
                Some(Ok(Message::Binary(_))) => vec![error_text(&ApiError::bad_request(
                    "malformed_request",
                    "send JSON text messages",
                ))],
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                // Pings are answered by the WebSocket layer itself.
                Some(Ok(_)) => Vec::new(),
            },
            batch = feed.recv() => match batch {
                Ok(batch) => {
                    let (mut out, balances) = updates(&batch, &mut subs, org);
                    if let Some(changed_at) = balances
                        && let Some(org) = org
                        && let Some(update) = balances_update(&app, &mut subs, org, changed_at).await
                    {
                        out.push(update);
                    }
                    out
                }
                Err(RecvError::Lagged(missed)) => {
                    app.live.ws_lagged_messages.fetch_add(missed, Ordering::Relaxed);
                    lagged(&mut subs);
                    Vec::new()
                }
                Err(RecvError::Closed) => break,
            },
        };
        let count = outgoing.len();
        for text in outgoing {
            if write(&app, sink.feed(Message::Text(text.into()))).await.is_err() {
                return;
            }
        }
        if count > 0 && write(&app, sink.flush()).await.is_err() {
            return;
        }
    }
}

/// Awaits one write to the client. If it cannot finish at once (the client's socket is full)
/// the connection counts in `rasid_ws_blocked_writes` until it does: while it waits, it reads
/// nothing from the hub, so this is the client the hub will drop batches for.
async fn write<E>(app: &Shared, write: impl Future<Output = Result<(), E>>) -> Result<(), E> {
    let mut write = std::pin::pin!(write);
    let first = std::future::poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(done) => done,
        Poll::Pending => {
            // Counted down even when the connection is dropped while it waits.
            let _blocked = Gauge::count(&app.live.ws_blocked_writes);
            write.await
        }
    }
}

/// The client fell behind and the hub dropped batches it had not read. They may have held
/// updates for any channel, so every channel's seq skips one: the client sees the gap on the
/// next update and resubscribes for a fresh snapshot.
fn lagged(subs: &mut BTreeMap<ChannelKey, Subscription>) {
    subs.values_mut().for_each(|s| s.seq += 1);
}

/// The updates of one published batch this connection's subscriptions want, rendered, and
/// the last command of the batch that changed balances this connection shows, if any (they
/// are sent by [`balances_update`]).
fn updates(
    batch: &Published,
    subs: &mut BTreeMap<ChannelKey, Subscription>,
    org: Option<OrgId>,
) -> (Vec<String>, Option<u64>) {
    let mut out = Vec::new();
    let mut balances = None;
    for m in batch.iter() {
        let Some(sub) = subs.get_mut(&m.channel) else { continue };
        if m.seq <= sub.snapshot_seq {
            continue;
        }
        if m.channel == ChannelKey::Balances {
            // `owner: None`: the command moved balances without saying whose.
            if org.is_some() && (m.owner.is_none() || m.owner == org) {
                balances = balances.max(Some(m.seq));
            }
            continue;
        }
        if m.channel.is_private() && (m.owner.is_none() || m.owner != org) {
            continue;
        }
        sub.seq += 1;
        out.push(format!(
            r#"{{"channel":{},"seq":{},"type":"update","data":{}}}"#,
            sub.name_json, sub.seq, m.data
        ));
    }
    (out, balances)
}

/// The organization's balances after command `changed_at` changed them, as the next update of
/// the balances channel. The read may be ahead of that command (later commands are executed,
/// if not yet durable, as REST sees them too); the sequence number read is remembered, so the
/// changes it already shows do not cause another read. `None` when the ledger cannot be read
/// (shutting down): the next change sends the balances again.
async fn balances_update(
    app: &Shared,
    subs: &mut BTreeMap<ChannelKey, Subscription>,
    org: OrgId,
    changed_at: u64,
) -> Option<String> {
    let BalancesRead { data, as_of, .. } =
        app.balance_reads.read(app, org, changed_at).await.ok()?;
    let sub = subs.get_mut(&ChannelKey::Balances)?;
    sub.snapshot_seq = sub.snapshot_seq.max(as_of);
    sub.seq += 1;
    Some(format!(
        r#"{{"channel":{},"seq":{},"type":"update","data":{}}}"#,
        sub.name_json, sub.seq, data
    ))
}

/// One organization's balances as read from the ledger, rendered, with the sequence number
/// they are as of.
#[derive(Clone)]
struct BalancesRead {
    data: Arc<str>,
    as_of: u64,
    /// The role generation it was read in (see [`BalanceReads::forget_all`]).
    generation: u64,
}

/// The last balances read of each organization, shared by every connection that shows them.
/// Each connection subscribed to `balances` used to read the ledger itself after every batch
/// that touched its organization — a query on the sequencer thread per connection. The first
/// connection to need a read after a change now makes it, and the others, waiting on the same
/// organization's slot, take that read, since it is as of that change or later: one query per
/// organization per batch, however many connections show it.
#[derive(Debug, Default)]
pub(crate) struct BalanceReads {
    slots: Mutex<HashMap<OrgId, Arc<tokio::sync::Mutex<Option<BalancesRead>>>>>,
    /// Bumped at every change of role: a read is reused only within the generation it was made
    /// in. A writer reads state that is executed but not yet durable; if that batch then fails
    /// (the writer is fenced and steps down), the read describes history that never happened,
    /// and a connection that took it would skip the real changes up to its `as_of`.
    generation: AtomicU64,
    /// Ledger reads made for the balances channel (snapshots and updates), for `/metrics`.
    pub(crate) reads: AtomicU64,
}

impl std::fmt::Debug for BalancesRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BalancesRead(as of {})", self.as_of)
    }
}

impl BalanceReads {
    /// The organization's balances as of command `changed_at` or later: the last read when it
    /// is recent enough, a new one otherwise.
    async fn read(
        &self,
        app: &Shared,
        org: OrgId,
        changed_at: u64,
    ) -> Result<BalancesRead, ApiError> {
        let slot = self.slot(org);
        let mut last = slot.lock().await;
        // Taken before the read: a read that a change of role overtakes is not reused.
        let generation = self.generation.load(Ordering::Acquire);
        if let Some(read) =
            last.as_ref().filter(|r| r.as_of >= changed_at && r.generation == generation)
        {
            return Ok(read.clone());
        }
        let (data, as_of) = self.read_ledger(app, org).await?;
        let read = BalancesRead { data: data.to_string().into(), as_of, generation };
        *last = Some(read.clone());
        Ok(read)
    }

    /// Forgets every read: called at each change of role (take-over, step-down), whose reads
    /// may not be reused by the next role (see `generation`).
    pub(crate) fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    fn slot(&self, org: OrgId) -> Arc<tokio::sync::Mutex<Option<BalancesRead>>> {
        // Nothing panics while the map is locked; a poisoned map is still a consistent map.
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(org).or_default().clone()
    }

    /// Reads the ledger (see [`balances_snapshot`]) and counts the read.
    async fn read_ledger(&self, app: &Shared, org: OrgId) -> Result<(Value, u64), ApiError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        balances_snapshot(app, org).await
    }
}

fn error_text(e: &ApiError) -> String {
    json!({ "type": "error", "error": { "code": e.code(), "message": e.message() } }).to_string()
}

async fn handle(
    app: &Shared,
    text: &str,
    subs: &mut BTreeMap<ChannelKey, Subscription>,
    org: &mut Option<OrgId>,
) -> Vec<String> {
    match serde_json::from_str::<ClientMessage>(text) {
        Err(e) => vec![error_text(&ApiError::bad_request("malformed_request", e.to_string()))],
        Ok(ClientMessage::Auth { token }) => match authenticate(app, &token).await {
            Ok(caller) => {
                *org = Some(caller.org);
                vec![json!({ "type": "authenticated", "organization": caller.org.0 }).to_string()]
            }
            Err(e) => vec![error_text(&e)],
        },
        Ok(ClientMessage::Unsubscribe { channel }) => match parse_channel(app, &channel).await {
            Ok(key) => {
                subs.remove(&key);
                vec![json!({ "type": "unsubscribed", "channel": channel }).to_string()]
            }
            Err(e) => vec![error_text(&e)],
        },
        Ok(ClientMessage::Subscribe { channel }) => {
            match subscribe(app, channel, subs, *org).await {
                Ok(snapshot) => vec![snapshot],
                Err(e) => vec![error_text(&e)],
            }
        }
    }
}

/// Subscribes (or resubscribes: a fresh snapshot restarts the channel at seq 1).
async fn subscribe(
    app: &Shared,
    name: String,
    subs: &mut BTreeMap<ChannelKey, Subscription>,
    org: Option<OrgId>,
) -> Result<String, ApiError> {
    let key = parse_channel(app, &name).await?;
    if key.is_private() && org.is_none() {
        return Err(ApiError::unauthenticated(
            "private channels need {\"op\":\"auth\",\"token\":…} first",
        ));
    }
    if !subs.contains_key(&key) && subs.len() >= SUBSCRIPTIONS_MAX {
        return Err(ApiError::bad_request(
            "too_many_subscriptions",
            format!("a connection may hold at most {SUBSCRIPTIONS_MAX} subscriptions"),
        ));
    }
    let (data, snapshot_seq) = if key == ChannelKey::Balances {
        let org = org.expect("checked above");
        app.balance_reads.read_ledger(app, org).await?
    } else {
        app.live.snapshot(key, org)
    };
    let text = json!({ "channel": name, "seq": 1, "type": "snapshot", "data": data }).to_string();
    subs.insert(
        key,
        Subscription { name_json: Value::String(name).to_string(), seq: 1, snapshot_seq },
    );
    Ok(text)
}

/// Every account of the organization with its cash and credits, available and reserved (as
/// `GET /v1/accounts/{id}/cash` and `…/holdings` show them; serial ranges only there), from the
/// ledger, with the sequence number it is as of.
async fn balances_snapshot(app: &Shared, org: OrgId) -> Result<(Value, u64), ApiError> {
    let app = app.clone();
    blocking(move || {
        app.ledger()?.query(move |s| {
            let accounts: Vec<Value> = s
                .accounts_of(org)
                .map(|a| {
                    let holdings: Vec<Value> = s
                        .holdings_of(a.id)
                        .map(|(issuance, h)| {
                            json!({
                                "issuance": issuance.0,
                                "available_tonnes": h.available.quantity_tonnes(),
                                "reserved_tonnes": h.reserved_tonnes,
                            })
                        })
                        .collect();
                    json!({
                        "account": a.id.0,
                        "cash": crate::render::balances_json(s, a.id),
                        "holdings": holdings,
                    })
                })
                .collect();
            (json!({ "accounts": accounts }), s.last_seq())
        })
    })
    .await
}

/// A channel name to its key; instruments by id or symbol.
async fn parse_channel(app: &Shared, name: &str) -> Result<ChannelKey, ApiError> {
    let unknown = || {
        ApiError::bad_request(
            "unknown_channel",
            format!(
                "{name:?}: expected book:I, trades:I, candles:I:1m|1h|1d, auction:N, orders, \
                 fills or balances"
            ),
        )
    };
    let mut parts = name.split(':');
    let kind = parts.next().unwrap_or_default();
    let arg = parts.next();
    let interval = parts.next();
    if parts.next().is_some() {
        return Err(unknown());
    }
    match (kind, arg, interval) {
        ("orders", None, None) => Ok(ChannelKey::Orders),
        ("fills", None, None) => Ok(ChannelKey::Fills),
        ("balances", None, None) => Ok(ChannelKey::Balances),
        ("auction", Some(id), None) => {
            let id: AuctionId = id.parse().map_err(|_| unknown())?;
            Ok(ChannelKey::Auction(id))
        }
        ("book" | "trades", Some(i), None) | ("candles", Some(i), Some(_)) => {
            let reference = i.to_owned();
            let app = app.clone();
            let instrument = blocking(move || {
                let id = app.ledger()?.query(move |s| resolve(s, &reference).map(|i| i.id))?;
                Ok(id.ok_or(Rejection::UnknownInstrument)?)
            })
            .await?;
            Ok(match (kind, interval) {
                ("book", _) => ChannelKey::Book(instrument),
                ("trades", _) => ChannelKey::Trades(instrument),
                (_, Some(iv)) => ChannelKey::Candles(
                    instrument,
                    iv.parse::<Interval>()
                        .map_err(|m| ApiError::bad_request("invalid_interval", m))?,
                ),
                _ => return Err(unknown()),
            })
        }
        _ => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Live;
    use rasid_core::exchange::{Fill, InstrumentId, OrderId, Serials, Side, TradeId};
    use rasid_core::{AccountId, Event, IssuanceId, SerialRange};
    use rasid_store::Committed;

    fn trade(seq: u64, n: u64) -> Committed {
        let fill = Fill {
            trade: TradeId(n),
            instrument: InstrumentId(1),
            price_minor: 3_750,
            quantity_tonnes: 1,
            buy_order: OrderId(1),
            sell_order: OrderId(2),
            buyer: AccountId(3),
            seller: AccountId(4),
            aggressor: Side::Buy,
            serials: Serials::one(IssuanceId(1), SerialRange::new(n, n).unwrap()),
            buyer_fee_minor: 0,
            seller_fee_minor: 0,
            retirements: Default::default(),
        };
        Committed { seq, time_ms: 1_700_000_000_000, events: vec![Event::Traded(fill)] }
    }

    /// A client that falls further behind than the hub keeps is not waited for: the hub drops
    /// its oldest batches, and the client's next update on the channel skips a seq.
    #[test]
    fn a_lagging_client_sees_a_gap_in_seq_and_the_feed_never_waits() {
        let live = Live::with_capacity(2);
        let mut rx = live.subscribe();
        let key = ChannelKey::Trades(InstrumentId(1));
        let mut subs = BTreeMap::new();
        subs.insert(
            key,
            Subscription { name_json: "\"trades:1\"".into(), seq: 1, snapshot_seq: 0 },
        );
        for n in 1..=5 {
            live.apply(&[trade(n, n)]);
        }
        let mut seqs = Vec::new();
        loop {
            match rx.try_recv() {
                Ok(batch) => {
                    for text in updates(&batch, &mut subs, None).0 {
                        let doc: Value = serde_json::from_str(&text).unwrap();
                        seqs.push((
                            doc["seq"].as_u64().unwrap(),
                            doc["data"]["trade"].as_u64().unwrap(),
                        ));
                    }
                }
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(n)) => {
                    assert_eq!(n, 3, "three of five batches were dropped");
                    lagged(&mut subs);
                }
                Err(_) => break,
            }
        }
        assert_eq!(seqs, vec![(3, 4), (4, 5)], "after the snapshot (1) the next seq is 3: a gap");
    }

    /// A read made under one role is not reused after a change of role (review of the fourth
    /// session): a writer's read can describe a batch that never became durable.
    #[test]
    fn a_balances_read_is_reused_within_a_role_and_not_after_a_change_of_role() {
        let dir = tempfile::tempdir().unwrap();
        let app: Shared = crate::tests::open_app(&dir);
        let org = app.query(|s| s.operator()).unwrap().expect("genesis was written");
        let reads = || app.balance_reads.reads.load(Ordering::Relaxed);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let changed_at = 1;
            app.balance_reads.read(&app, org, changed_at).await.unwrap();
            app.balance_reads.read(&app, org, changed_at).await.unwrap();
            assert_eq!(reads(), 1, "the second connection reuses the first one's read");
            app.balance_reads.forget_all();
            app.balance_reads.read(&app, org, changed_at).await.unwrap();
            assert_eq!(reads(), 2, "after a change of role the ledger is read again");
        });
        app.close().unwrap();
    }
}
