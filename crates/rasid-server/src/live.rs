//! Read models fed by the ledger's after-commit feed, and the hub that fans their changes out to
//! WebSocket clients.
//!
//! The ledger's writer calls [`Live::apply`] after each durable commit with its commands in
//! journal order (`rasid_store::Feed`). `apply` updates the models — market data (tape, candles),
//! a mirror of every book's depth, open orders and which organization owns which account — and
//! publishes the rendered changes on a bounded broadcast channel, all under one lock. The writer
//! never waits for a client: the broadcast keeps the newest [`HUB_BATCHES_MAX`] batches, and a
//! client that falls further behind is told so by the channel (`Lagged`) and shows its gap as a
//! jump in its sequence numbers. At open the models are rebuilt by replaying the journal (the
//! same pass that rebuilds the ledger's state, see `open_writer`), so they never read the
//! engine's state.
//!
//! Prices are rendered as decimal strings in the instrument's currency, with that currency's
//! minor digits: the models learn each instrument's currency from its listing event, so the
//! writer renders prices without asking the ledger; a test pins this for every currency.

use rasid_core::exchange::auction::AuctionId;
use rasid_core::exchange::{InstrumentId, OrderId, Side};
use rasid_core::money::format_minor;
use rasid_core::time::rfc3339;
use rasid_core::{AccountId, Currency, Event, OrgId};
use rasid_market::{Candle, Interval, MarketData, Print};
use rasid_store::Committed;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

/// Batches of changes the hub keeps for clients that are behind. A client further behind than
/// this loses messages and sees a gap in its sequence numbers.
pub const HUB_BATCHES_MAX: usize = 4_096;
/// Most price levels per side in a book snapshot.
pub const SNAPSHOT_LEVELS_MAX: usize = 100;
/// Most trades in a trades snapshot, and in one page of `GET …/trades`.
pub const SNAPSHOT_TRADES_MAX: usize = 100;
/// Most candles in a candles snapshot, and in one page of `GET …/candles`.
pub const SNAPSHOT_CANDLES_MAX: usize = 500;

/// A channel a client can subscribe to, parsed from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChannelKey {
    Book(InstrumentId),
    Trades(InstrumentId),
    Candles(InstrumentId, Interval),
    Auction(AuctionId),
    /// Private: the subscriber's organization's orders, fills, and balances (cash and
    /// holdings, available and reserved).
    Orders,
    Fills,
    Balances,
}

impl ChannelKey {
    pub fn is_private(self) -> bool {
        matches!(self, ChannelKey::Orders | ChannelKey::Fills | ChannelKey::Balances)
    }
}

/// One change for one channel, rendered once for every subscriber.
#[derive(Debug)]
pub struct Message {
    pub channel: ChannelKey,
    /// The ledger sequence number of the command that caused it.
    pub seq: u64,
    /// For private channels, the organization allowed to see it.
    pub owner: Option<OrgId>,
    /// The `data` member, as JSON text. Empty on the balances channel: there a message only
    /// says that the owner's balances changed (`owner: None`: anybody's may have), and the
    /// connections that show them read the balances from the ledger, once per organization and
    /// change (`ws::BalanceReads`). The feed cannot
    /// render them itself: reservations follow engine rules (fee bounds, which serials a sell
    /// holds) that the events do not spell out, and the writer thread must not wait on the
    /// sequencer for the state.
    pub data: String,
}

/// What one feed call published: the messages of its commands, in journal order.
pub type Published = Arc<Vec<Message>>;

#[derive(Clone, Copy, Debug)]
struct OpenOrder {
    instrument: InstrumentId,
    account: AccountId,
    side: Side,
    price_minor: i64,
    remaining_tonnes: u64,
    /// Whether the order is in the book (counts in the depth).
    rested: bool,
}

/// Aggregated depth of one book: price → (tonnes, orders).
#[derive(Clone, Debug, Default)]
struct Depth {
    bids: BTreeMap<i64, (u64, u32)>,
    asks: BTreeMap<i64, (u64, u32)>,
}

impl Depth {
    fn side(&mut self, side: Side) -> &mut BTreeMap<i64, (u64, u32)> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Adds (or with `add == false` removes) tonnes and orders at a level; empty levels go.
    fn change(&mut self, side: Side, price: i64, tonnes: u64, orders: i32, add: bool) {
        let levels = self.side(side);
        let level = levels.entry(price).or_insert((0, 0));
        if add {
            level.0 += tonnes;
        } else {
            assert!(level.0 >= tonnes, "the depth mirror removes only what it added");
            level.0 -= tonnes;
        }
        level.1 = level.1.checked_add_signed(orders).expect("order counts stay non-negative");
        if level.0 == 0 {
            levels.remove(&price);
        }
    }

    fn level_json(&self, side: Side, price: i64, currency: Currency) -> Value {
        let levels = match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        };
        let (q, n) = levels.get(&price).copied().unwrap_or((0, 0));
        json!({ "price": money(currency, price), "quantity": q, "orders": n })
    }
}

/// The models look up ids several times per order, on the writer thread's feed: with the
/// engine's id hash rather than SipHash (ids are assigned in sequence; nobody chooses them).
type IdMap<K, V> = rasid_core::id_hash::IdHashMap<K, V>;

#[derive(Debug, Default)]
struct Models {
    market: MarketData,
    depth: BTreeMap<InstrumentId, Depth>,
    orders: IdMap<OrderId, OpenOrder>,
    account_org: IdMap<AccountId, OrgId>,
    /// Each instrument's currency, from its listing, for rendering its prices.
    currencies: IdMap<InstrumentId, Currency>,
    /// Owners of the fee account and the buffer pool: the two accounts genesis opens, in that
    /// order (`State::genesis`). Fees and buffer contributions change their balances.
    fee_org: Option<OrgId>,
    buffer_org: Option<OrgId>,
    /// The last command applied.
    head_seq: u64,
}

/// The live read models and their hub. Shared by the feed (writer thread), the REST handlers
/// and the WebSocket connections.
#[derive(Debug)]
pub struct Live {
    models: Mutex<Models>,
    hub: broadcast::Sender<Published>,
    /// Open WebSocket connections, for `/metrics`.
    pub ws_clients: AtomicU64,
    /// Messages a client missed because it fell behind, for `/metrics`.
    pub ws_lagged_messages: AtomicU64,
    /// Connections whose write waits for their client to read (its socket is full), for
    /// `/metrics`: an operator sees slow consumers before the hub drops batches for them.
    pub ws_blocked_writes: AtomicU64,
    /// Moves on every new instrument listing: the instrument directory cache's version.
    pub instruments_version: AtomicU64,
    /// The batches the hub was asked to keep.
    capacity: usize,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

impl Live {
    pub fn new() -> Self {
        Self::with_capacity(HUB_BATCHES_MAX)
    }

    /// A hub keeping `batches` batches for clients that are behind (tests use a small one).
    pub fn with_capacity(batches: usize) -> Self {
        let (hub, _) = broadcast::channel(batches);
        Self {
            models: Mutex::new(Models::default()),
            hub,
            ws_clients: AtomicU64::new(0),
            ws_lagged_messages: AtomicU64::new(0),
            ws_blocked_writes: AtomicU64::new(0),
            instruments_version: AtomicU64::new(0),
            capacity: batches,
        }
    }

    fn models(&self) -> MutexGuard<'_, Models> {
        // A panic inside `apply` would leave a model half-updated; the assertions there are
        // invariants of the journal, so carrying on with the guard is no worse than stopping.
        self.models.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replays one command at open: updates the models without publishing.
    pub fn replay(&self, committed: &Committed) {
        self.replay_batch(std::slice::from_ref(committed));
    }

    /// Replays commands at open, in journal order: updates the models without publishing.
    pub fn replay_batch(&self, batch: &[Committed]) {
        let mut m = self.models();
        let mut sink = Vec::new();
        for committed in batch {
            m.apply(committed, false, &mut sink);
        }
        if batch.iter().flat_map(|c| &c.events).any(|e| matches!(e, Event::InstrumentListed { .. }))
        {
            self.instruments_version.fetch_add(1, std::sync::atomic::Ordering::Release);
        }
    }

    /// The feed: applies a durable batch and publishes its messages. Never blocks on clients.
    /// Commands the models already reflect are skipped: around a step-down both the old
    /// writer's ledger and the new follower may deliver the same command (see
    /// `App::become_follower`), and it must count once.
    pub fn apply(&self, batch: &[Committed]) {
        let mut m = self.models();
        let mut messages = Vec::new();
        let render = self.hub.receiver_count() > 0;
        for c in batch {
            if c.seq <= m.head_seq {
                continue;
            }
            m.apply(c, render, &mut messages);
            if c.events.iter().any(|e| matches!(e, Event::InstrumentListed { .. })) {
                self.instruments_version.fetch_add(1, std::sync::atomic::Ordering::Release);
            }
        }
        if !messages.is_empty() {
            // No receivers is not an error: nobody is listening.
            let _ = self.hub.send(Arc::new(messages));
        }
    }

    /// Published batches that some client has not read yet, and the most the hub keeps. When
    /// the first equals the second, the slowest client is as far behind as the hub allows: the
    /// next batch published pushes out one it has not read, and that client will see a gap.
    pub fn hub_queued(&self) -> (usize, usize) {
        // The broadcast channel rounds its capacity up to a power of two and keeps that many.
        (self.hub.len(), self.capacity.next_power_of_two())
    }

    /// A receiver of every batch published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Published> {
        self.hub.subscribe()
    }

    /// The last command the models reflect.
    pub fn head_seq(&self) -> u64 {
        self.models().head_seq
    }

    /// Tonnes traded since genesis in these instruments (the sum of their daily volumes), for
    /// `GET /v1/stats`.
    pub fn traded_tonnes(&self, instruments: &[InstrumentId]) -> u64 {
        let m = self.models();
        instruments
            .iter()
            .flat_map(|i| m.market.days(*i))
            .fold(0u64, |sum, (_, day)| sum.saturating_add(day.volume_tonnes))
    }

    /// Trades with ids below `before` (all when `None`), newest first.
    pub fn trades(
        &self,
        instrument: InstrumentId,
        before: Option<u64>,
        limit: usize,
    ) -> Vec<Print> {
        let m = self.models();
        let newest_first = m.market.trades(instrument, rasid_market::TAPE_TRADES_MAX);
        newest_first
            .into_iter()
            .filter(|p| before.is_none_or(|b| p.trade.0 < b))
            .take(limit)
            .collect()
    }

    /// Candles starting before `before_ms` (all when `None`), oldest first, the newest `limit`.
    pub fn candles(
        &self,
        instrument: InstrumentId,
        interval: Interval,
        before_ms: Option<i64>,
        limit: usize,
    ) -> Vec<Candle> {
        let m = self.models();
        let mut all = m.market.candles(instrument, interval, rasid_market::CANDLES_MAX);
        if let Some(before) = before_ms {
            all.retain(|c| c.start_ms < before);
        }
        let skip = all.len().saturating_sub(limit);
        all.split_off(skip)
    }

    /// The snapshot a new subscriber gets, and the sequence number it reflects: updates of
    /// commands up to and including it are already in the snapshot. `None` for the balances
    /// channel, whose snapshot comes from the ledger.
    pub fn snapshot(&self, channel: ChannelKey, org: Option<OrgId>) -> (Value, u64) {
        let m = self.models();
        let data = match channel {
            ChannelKey::Book(i) => {
                let c = m.currency(i);
                let depth = m.depth.get(&i).cloned().unwrap_or_default();
                let side = |levels: &mut dyn Iterator<Item = (&i64, &(u64, u32))>| -> Vec<Value> {
                    levels
                        .take(SNAPSHOT_LEVELS_MAX)
                        .map(|(p, (q, n))| {
                            json!({ "price": money(c, *p), "quantity": q, "orders": n })
                        })
                        .collect()
                };
                json!({
                    "instrument": i.0,
                    "bids": side(&mut depth.bids.iter().rev()),
                    "asks": side(&mut depth.asks.iter()),
                })
            }
            ChannelKey::Trades(i) => {
                let trades: Vec<Value> = m
                    .market
                    .trades(i, SNAPSHOT_TRADES_MAX)
                    .iter()
                    .map(|p| trade_json(i, m.currency(i), p))
                    .collect();
                json!({ "instrument": i.0, "trades": trades })
            }
            ChannelKey::Candles(i, interval) => {
                let candles: Vec<Value> = m
                    .market
                    .candles(i, interval, SNAPSHOT_CANDLES_MAX)
                    .iter()
                    .map(|c| candle_json(i, m.currency(i), interval, c))
                    .collect();
                json!({ "instrument": i.0, "interval": interval.as_str(), "candles": candles })
            }
            ChannelKey::Orders => {
                let mut mine: Vec<(&OrderId, &OpenOrder)> = m
                    .orders
                    .iter()
                    .filter(|(_, o)| org.is_some() && m.account_org.get(&o.account) == org.as_ref())
                    .collect();
                mine.sort_by_key(|(id, _)| **id);
                let orders: Vec<Value> = mine
                    .into_iter()
                    .map(|(id, o)| {
                        json!({
                            "order": id.0, "instrument": o.instrument.0, "account": o.account.0,
                            "side": o.side.as_str(), "price": money(m.currency(o.instrument), o.price_minor),
                            "remaining": o.remaining_tonnes,
                        })
                    })
                    .collect();
                json!({ "orders": orders })
            }
            ChannelKey::Auction(a) => json!({ "auction": a.0 }),
            ChannelKey::Fills | ChannelKey::Balances => json!({}),
        };
        (data, m.head_seq)
    }
}

impl Models {
    fn org_of(&self, account: AccountId) -> Option<OrgId> {
        self.account_org.get(&account).copied()
    }

    /// The instrument's currency. Every instrument is listed before anything trades in it, so
    /// the fallback only serves a request for an instrument the models have not seen yet.
    fn currency(&self, instrument: InstrumentId) -> Currency {
        self.currencies.get(&instrument).copied().unwrap_or(Currency::Sar)
    }

    fn apply(&mut self, c: &Committed, render: bool, out: &mut Vec<Message>) {
        assert_eq!(c.seq, self.head_seq + 1, "the feed delivers every command once, in order");
        self.head_seq = c.seq;
        self.market.apply(c.time_ms, &c.events);
        let seq = c.seq;
        // Rendering is skipped when nobody listens: it would only cost the writer thread time.
        macro_rules! push {
            ($channel:expr, $owner:expr, $data:expr $(,)?) => {
                if render {
                    out.push(Message {
                        channel: $channel,
                        seq,
                        owner: $owner,
                        data: $data.to_string(),
                    });
                }
            };
        }
        // Levels whose depth changed in this command, for one book delta per instrument.
        let mut touched: BTreeMap<InstrumentId, BTreeSet<(Side, i64)>> = BTreeMap::new();
        let mut traded: BTreeSet<InstrumentId> = BTreeSet::new();
        // Organizations whose balances (cash or holdings, available or reserved) this command
        // changed; `None` stands for every organization, when the events do not say whose.
        let mut balances: BTreeSet<Option<OrgId>> = BTreeSet::new();
        for event in &c.events {
            if let Some(accounts) = accounts_moved(event) {
                for org in accounts.into_iter().flatten().filter_map(|a| self.org_of(a)) {
                    balances.insert(Some(org));
                }
            } else {
                balances.insert(None);
            }
            match event {
                Event::AccountOpened { account, org } => {
                    self.account_org.insert(*account, *org);
                    balances.insert(Some(*org));
                    if c.seq == 1 {
                        if self.fee_org.is_none() {
                            self.fee_org = Some(*org);
                        } else if self.buffer_org.is_none() {
                            self.buffer_org = Some(*org);
                        }
                    }
                }
                Event::InstrumentListed { instrument, currency } => {
                    self.currencies.insert(*instrument, *currency);
                }
                Event::Issued { buffer: Some(_), .. } if self.buffer_org.is_some() => {
                    balances.insert(self.buffer_org);
                }
                Event::OrderAccepted {
                    order,
                    instrument,
                    account,
                    side,
                    price_minor,
                    quantity_tonnes,
                } => {
                    self.orders.insert(
                        *order,
                        OpenOrder {
                            instrument: *instrument,
                            account: *account,
                            side: *side,
                            price_minor: *price_minor,
                            remaining_tonnes: *quantity_tonnes,
                            rested: false,
                        },
                    );
                    push!(
                        ChannelKey::Orders,
                        self.org_of(*account),
                        json!({
                            "event": "accepted", "order": order.0, "instrument": instrument.0,
                            "account": account.0, "side": side.as_str(), "price": money(self.currency(*instrument), *price_minor),
                            "quantity": quantity_tonnes, "time": rfc3339(c.time_ms),
                        }),
                    );
                }
                Event::OrderRested { order, instrument, side, price_minor, remaining_tonnes } => {
                    if let Some(o) = self.orders.get_mut(order) {
                        if let Some(org) = self.account_org.get(&o.account) {
                            balances.insert(Some(*org));
                        }
                        assert!(!o.rested, "an order rests once");
                        o.rested = true;
                        o.remaining_tonnes = *remaining_tonnes;
                        o.price_minor = *price_minor;
                        let account = o.account;
                        self.depth.entry(*instrument).or_default().change(
                            *side,
                            *price_minor,
                            *remaining_tonnes,
                            1,
                            true,
                        );
                        touched.entry(*instrument).or_default().insert((*side, *price_minor));
                        push!(
                            ChannelKey::Orders,
                            self.org_of(account),
                            json!({
                                "event": "rested", "order": order.0, "instrument": instrument.0,
                                "side": side.as_str(), "price": money(self.currency(*instrument), *price_minor),
                                "remaining": remaining_tonnes, "time": rfc3339(c.time_ms),
                            }),
                        );
                    }
                }
                Event::OrderAmended {
                    order,
                    instrument,
                    side,
                    old_price_minor,
                    old_remaining_tonnes,
                    price_minor,
                    remaining_tonnes,
                    priority_kept,
                } => {
                    if let Some(o) = self.orders.get_mut(order) {
                        let account = o.account;
                        if let Some(org) = self.account_org.get(&account) {
                            balances.insert(Some(*org));
                        }
                        if o.rested {
                            let depth = self.depth.entry(*instrument).or_default();
                            depth.change(*side, *old_price_minor, *old_remaining_tonnes, -1, false);
                            let levels = touched.entry(*instrument).or_default();
                            levels.insert((*side, *old_price_minor));
                            if *priority_kept {
                                // Reduced in place: it keeps its place in the book.
                                depth.change(*side, *price_minor, *remaining_tonnes, 1, true);
                                levels.insert((*side, *price_minor));
                            } else {
                                // Taken out of the book and entered again like a new order: it
                                // may trade as the taker, then rests (`OrderRested`) or goes.
                                o.rested = false;
                            }
                        }
                        o.price_minor = *price_minor;
                        o.remaining_tonnes = *remaining_tonnes;
                        push!(
                            ChannelKey::Orders,
                            self.org_of(account),
                            json!({
                                "event": "amended", "order": order.0, "instrument": instrument.0,
                                "side": side.as_str(), "price": money(self.currency(*instrument), *price_minor),
                                "remaining": remaining_tonnes, "time": rfc3339(c.time_ms),
                            }),
                        );
                    }
                }
                Event::OrderCancelled {
                    order,
                    instrument,
                    side,
                    price_minor,
                    remaining_tonnes,
                    reason,
                    rested,
                } => {
                    if let Some(o) = self.orders.remove(order) {
                        if let Some(org) = self.org_of(o.account) {
                            balances.insert(Some(org));
                        }
                        if *rested && o.rested {
                            self.depth.entry(*instrument).or_default().change(
                                *side,
                                o.price_minor,
                                o.remaining_tonnes,
                                -1,
                                false,
                            );
                            touched.entry(*instrument).or_default().insert((*side, o.price_minor));
                        }
                        push!(
                            ChannelKey::Orders,
                            self.org_of(o.account),
                            json!({
                                "event": "cancelled", "order": order.0, "instrument": instrument.0,
                                "side": side.as_str(), "price": money(self.currency(*instrument), *price_minor),
                                "remaining": remaining_tonnes, "reason": reason.as_str(),
                                "time": rfc3339(c.time_ms),
                            }),
                        );
                    }
                }
                Event::Traded(f) => {
                    traded.insert(f.instrument);
                    for order in [f.buy_order, f.sell_order] {
                        self.fill_order(order, f.quantity_tonnes, &mut touched);
                    }
                    let print = Print {
                        trade: f.trade,
                        time_ms: c.time_ms,
                        price_minor: f.price_minor,
                        quantity_tonnes: f.quantity_tonnes,
                        aggressor: f.aggressor,
                    };
                    let cur = self.currency(f.instrument);
                    push!(
                        ChannelKey::Trades(f.instrument),
                        None,
                        trade_json(f.instrument, cur, &print)
                    );
                    for (side, account, order, fee) in [
                        (Side::Buy, f.buyer, f.buy_order, f.buyer_fee_minor),
                        (Side::Sell, f.seller, f.sell_order, f.seller_fee_minor),
                    ] {
                        let owner = self.org_of(account);
                        push!(
                            ChannelKey::Fills,
                            owner,
                            json!({
                                "trade": f.trade.0, "order": order.0, "instrument": f.instrument.0,
                                "account": account.0, "side": side.as_str(),
                                "price": money(cur, f.price_minor), "quantity": f.quantity_tonnes,
                                "fee": money(cur, fee), "liquidity": if side == f.aggressor { "taker" } else { "maker" },
                                "time": rfc3339(c.time_ms),
                            }),
                        );
                    }
                    if (f.buyer_fee_minor > 0 || f.seller_fee_minor > 0) && self.fee_org.is_some() {
                        balances.insert(self.fee_org);
                    }
                }
                Event::AuctionCreated { auction } => {
                    push!(ChannelKey::Auction(*auction), None, json!({ "event": "created" }));
                }
                // Bids are anonymous on the public channel: only that one moved, not whose.
                Event::BidPlaced { auction, lot, .. } => push!(
                    ChannelKey::Auction(*auction),
                    None,
                    json!({ "event": "bid_placed", "lot": lot }),
                ),
                Event::BidChanged { auction, lot, .. } => push!(
                    ChannelKey::Auction(*auction),
                    None,
                    json!({ "event": "bid_changed", "lot": lot }),
                ),
                Event::BidWithdrawn { auction, lot, .. } => push!(
                    ChannelKey::Auction(*auction),
                    None,
                    json!({ "event": "bid_withdrawn", "lot": lot }),
                ),
                Event::LotCleared {
                    auction,
                    lot,
                    instrument,
                    clearing_price_minor,
                    sold_tonnes,
                } => push!(
                    ChannelKey::Auction(*auction),
                    None,
                    json!({
                        "event": "lot_cleared", "lot": lot,
                        "clearing_price": clearing_price_minor.map(|p| money(self.currency(*instrument), p)),
                        "sold": sold_tonnes,
                    }),
                ),
                Event::AuctionClosed { auction } => {
                    push!(ChannelKey::Auction(*auction), None, json!({ "event": "closed" }));
                }
                _ => {}
            }
        }
        for org in balances {
            push!(ChannelKey::Balances, org, "");
        }
        for instrument in traded {
            for interval in Interval::ALL {
                if let Some(candle) = self.market.candles(instrument, interval, 1).first() {
                    push!(
                        ChannelKey::Candles(instrument, interval),
                        None,
                        candle_json(instrument, self.currency(instrument), interval, candle),
                    );
                }
            }
        }
        for (instrument, levels) in touched {
            let cur = self.currency(instrument);
            let depth = self.depth.entry(instrument).or_default();
            let side = |s: Side| -> Vec<Value> {
                levels
                    .iter()
                    .filter(|(ls, _)| *ls == s)
                    .map(|(_, p)| depth.level_json(s, *p, cur))
                    .collect()
            };
            push!(
                ChannelKey::Book(instrument),
                None,
                json!({ "instrument": instrument.0, "bids": side(Side::Buy), "asks": side(Side::Sell) }),
            );
        }
    }

    /// A fill takes `tonnes` off an order (and off its level, if it rests); a filled order goes.
    fn fill_order(
        &mut self,
        order: OrderId,
        tonnes: u64,
        touched: &mut BTreeMap<InstrumentId, BTreeSet<(Side, i64)>>,
    ) {
        let Some(o) = self.orders.get_mut(&order) else { return };
        assert!(o.remaining_tonnes >= tonnes, "a fill never exceeds the order");
        o.remaining_tonnes -= tonnes;
        let o = *o;
        if o.rested {
            let gone = if o.remaining_tonnes == 0 { -1 } else { 0 };
            self.depth.entry(o.instrument).or_default().change(
                o.side,
                o.price_minor,
                tonnes,
                gone,
                false,
            );
            touched.entry(o.instrument).or_default().insert((o.side, o.price_minor));
        }
        if o.remaining_tonnes == 0 {
            self.orders.remove(&order);
        }
    }
}

/// An amount in minor units as a decimal string with the currency's minor digits.
pub fn money(currency: Currency, minor: i64) -> String {
    format_minor(i128::from(minor), currency)
}

pub fn trade_json(instrument: InstrumentId, currency: Currency, p: &Print) -> Value {
    json!({
        "trade": p.trade.0, "instrument": instrument.0, "time": rfc3339(p.time_ms),
        "currency": currency.code(), "price": money(currency, p.price_minor),
        "quantity": p.quantity_tonnes, "aggressor": p.aggressor.as_str(),
    })
}

pub fn candle_json(
    instrument: InstrumentId,
    currency: Currency,
    interval: Interval,
    c: &Candle,
) -> Value {
    let m = |minor| money(currency, minor);
    json!({
        "instrument": instrument.0, "interval": interval.as_str(), "start": rfc3339(c.start_ms),
        "currency": currency.code(), "open": m(c.open_minor), "high": m(c.high_minor),
        "low": m(c.low_minor), "close": m(c.close_minor), "volume": c.volume_tonnes,
        "trades": c.trades,
    })
}

/// The accounts whose cash or credits (available or reserved) an event moves, as far as the
/// event names them; `None` when it does not say (auction bids and lots hold and settle cash
/// and credits of accounts their events leave out). Orders are looked up by the caller, and
/// genesis's accounts too.
fn accounts_moved(event: &Event) -> Option<[Option<AccountId>; 2]> {
    let one = |a: &AccountId| Some([Some(*a), None]);
    match event {
        Event::Issued { to_account, .. } => one(to_account),
        Event::Transferred { from, to, .. } | Event::CashTransferred { from, to, .. } => {
            Some([Some(*from), Some(*to)])
        }
        Event::Retired { account, .. }
        | Event::Cancelled { account, .. }
        | Event::CashDeposited { account, .. }
        | Event::CashWithdrawn { account, .. }
        | Event::OrderAccepted { account, .. }
        | Event::BasketDeposited { account, .. }
        | Event::BasketWithdrawn { account, .. }
        | Event::BasketDepositReturned { account, .. } => one(account),
        Event::Traded(f) => Some([Some(f.buyer), Some(f.seller)]),
        Event::AuctionCreated { .. }
        | Event::BidPlaced { .. }
        | Event::BidChanged { .. }
        | Event::BidWithdrawn { .. }
        | Event::LotCleared { .. }
        | Event::AuctionClosed { .. } => None,
        _ => Some([None, None]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use rasid_core::exchange::{Fill, Serials, TradeId};
    use rasid_core::{IssuanceId, SerialRange};

    /// The feed renders an instrument's prices with its own currency's minor digits, as
    /// `render.rs` does from the state: every price and fee in every message of a listing, two
    /// orders and a trade equals `format_minor` in the instrument's currency, for every currency
    /// (all have two minor digits today; one with other digits is checked here the day it is
    /// added), and trades and candles name the currency.
    #[test]
    fn the_feed_renders_prices_in_the_instruments_currency() {
        for currency in Currency::ALL {
            let live = Live::new();
            let mut rx = live.subscribe();
            let (i, t) = (InstrumentId(1), 1_700_000_000_000);
            let order = |order: u64, account: u64, side, quantity_tonnes| Event::OrderAccepted {
                order: OrderId(order),
                instrument: i,
                account: AccountId(account),
                side,
                price_minor: 123_456,
                quantity_tonnes,
            };
            let fill = Fill {
                trade: TradeId(1),
                instrument: i,
                price_minor: 123_456,
                quantity_tonnes: 1,
                buy_order: OrderId(2),
                sell_order: OrderId(1),
                buyer: AccountId(4),
                seller: AccountId(3),
                aggressor: Side::Buy,
                serials: Serials::one(IssuanceId(1), SerialRange::new(1, 1).unwrap()),
                buyer_fee_minor: 7,
                seller_fee_minor: 9,
                retirements: Default::default(),
            };
            let events = [
                vec![Event::InstrumentListed { instrument: i, currency }],
                vec![
                    order(1, 3, Side::Sell, 2),
                    Event::OrderRested {
                        order: OrderId(1),
                        instrument: i,
                        side: Side::Sell,
                        price_minor: 123_456,
                        remaining_tonnes: 2,
                    },
                ],
                vec![order(2, 4, Side::Buy, 1), Event::Traded(fill)],
            ];
            let batch: Vec<Committed> = events
                .into_iter()
                .enumerate()
                .map(|(n, events)| Committed { seq: n as u64 + 1, time_ms: t, events })
                .collect();
            live.apply(&batch);
            let messages = rx.try_recv().unwrap();
            let expected = |minor: i64| format_minor(i128::from(minor), currency);
            let mut prices = 0;
            for m in messages.iter() {
                let doc: Value = serde_json::from_str(&m.data).unwrap();
                let mut found = vec![doc["price"].clone(), doc["open"].clone()];
                found.extend(
                    doc["asks"].as_array().into_iter().flatten().map(|l| l["price"].clone()),
                );
                for price in found.into_iter().filter(|p| !p.is_null()) {
                    assert_eq!(price, expected(123_456), "{currency:?}: {doc}");
                    prices += 1;
                }
                if let Some(fee) = doc.get("fee") {
                    assert!(*fee == expected(7) || *fee == expected(9), "{currency:?}: {doc}");
                }
                if matches!(m.channel, ChannelKey::Trades(_) | ChannelKey::Candles(..)) {
                    assert_eq!(doc["currency"], currency.code(), "{doc}");
                }
            }
            assert!(prices >= 8, "{currency:?}: only {prices} prices rendered");
        }
    }
}
