//! The exchange: instruments, fully funded orders, price-time order books, and settlement of
//! exact serial ranges against cash in the same engine step as the match.
//!
//! Everything here is part of the pure engine: handlers are `impl State` blocks in `engine.rs`,
//! invariants in `audit.rs`. The book itself (`book.rs`) knows nothing of cash or serials.

pub mod auction;
pub mod audit;
pub mod basket;
pub mod book;
pub mod engine;
pub mod fees;
pub mod ladder;
mod order_index;
pub mod reserved;
pub mod serials;

use crate::ids::{AccountId, OrgId, ProjectId};
use crate::model::RetirementDetails;
use crate::money::Currency;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

pub use book::Book;
pub use fees::FeeSchedule;
pub use serials::Serials;

crate::ids::id_type!(
    /// A listed instrument.
    InstrumentId, "ins"
);
crate::ids::id_type!(
    /// An order. Ids also give time priority within a price level until an amendment.
    OrderId, "ord"
);
crate::ids::id_type!(
    /// A trade: one fill between two orders.
    TradeId, "trd"
);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }

    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

impl std::str::FromStr for Side {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "buy" => Ok(Side::Buy),
            "sell" => Ok(Side::Sell),
            _ => Err(format!("{s:?}: expected buy or sell")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstrumentStatus {
    Open,
    /// No new orders or amendments; resting orders stay and may be cancelled.
    Halted,
    /// Delisted: every order was cancelled and nothing more can happen.
    Closed,
}

impl InstrumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstrumentStatus::Open => "open",
            InstrumentStatus::Halted => "halted",
            InstrumentStatus::Closed => "closed",
        }
    }
}

/// What an instrument delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Underlying {
    /// Credits of one project and vintage year: every issuance of that project with that
    /// vintage qualifies.
    ProjectVintage { project: ProjectId, vintage_year: u16 },
    /// Any credits meeting a basket's criteria, delivered from the seller's deposits.
    Basket { basket: basket::BasketId },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstrumentSpec {
    /// Short unique name, e.g. `VCS1340-2021`.
    pub symbol: String,
    pub underlying: Underlying,
    pub currency: Currency,
    /// Prices are multiples of this many minor units.
    pub tick_minor: i64,
    /// Quantities are multiples of this many tonnes.
    pub lot_tonnes: u64,
    /// Limit prices may lie at most this far (basis points) from the reference price; market
    /// orders trade no further than that.
    pub band_bps: u32,
    pub reference_price_minor: i64,
    pub fees: FeeSchedule,
}

impl InstrumentSpec {
    /// Whether the trading terms are ones an instrument may be listed with: a positive tick,
    /// lot and reference price on the tick grid, a band of 0.01%–100%, valid fees. Listing
    /// checks it, and so does decoding a snapshot, which derives each band from these terms.
    pub fn terms_valid(&self) -> bool {
        self.tick_minor > 0
            && self.lot_tonnes > 0
            && (1..=10_000).contains(&self.band_bps)
            && self.reference_price_minor > 0
            && self.reference_price_minor % self.tick_minor == 0
            && self.fees.is_valid()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instrument {
    pub id: InstrumentId,
    pub spec: InstrumentSpec,
    pub status: InstrumentStatus,
}

impl Instrument {
    /// The band `[low, high]` around the reference price, snapped inwards to the tick grid.
    pub fn band(&self) -> (i64, i64) {
        let s = &self.spec;
        // Every order checks its price against the band, and 128-bit division is a library
        // call; with realistic prices everything fits in 64 bits and gives the same answer.
        if let Some(scaled) = s.reference_price_minor.checked_mul(i64::from(s.band_bps))
            && s.tick_minor > 0
            && s.reference_price_minor > 0
        {
            let width = scaled / 10_000;
            let tick = s.tick_minor;
            let low = (s.reference_price_minor - width).checked_add(tick - 1);
            let high = s.reference_price_minor.checked_add(width);
            if let (Some(low), Some(high)) = (low, high) {
                let low = low.div_euclid(tick) * tick;
                let high = high.div_euclid(tick) * tick;
                return (low.max(tick), high.max(tick));
            }
        }
        self.band_wide()
    }

    /// `band` computed in 128 bits, for any spec.
    fn band_wide(&self) -> (i64, i64) {
        let s = &self.spec;
        let reference = i128::from(s.reference_price_minor);
        let width = reference * i128::from(s.band_bps) / 10_000;
        let tick = i128::from(s.tick_minor);
        let low = ((reference - width) + tick - 1).div_euclid(tick) * tick;
        let high = (reference + width).div_euclid(tick) * tick;
        let clamp = |v: i128| i64::try_from(v.max(tick)).unwrap_or(i64::MAX);
        (clamp(low), clamp(high))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderType {
    Limit {
        price_minor: i64,
    },
    /// Trades at any price within the band, then the rest is cancelled (IOC) or nothing
    /// trades (FOK).
    Market,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeInForce {
    /// Good till cancelled.
    Gtc,
    /// Ends when the operator closes the trading session.
    Day,
    /// Good till the given time (ms since the epoch).
    Gtd { expires_at_ms: i64 },
    /// Immediate or cancel: what does not trade at once is cancelled.
    Ioc,
    /// Fill or kill: trades in full at once, or the order is refused.
    Fok,
}

impl TimeInForce {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "gtc",
            TimeInForce::Day => "day",
            TimeInForce::Gtd { .. } => "gtd",
            TimeInForce::Ioc => "ioc",
            TimeInForce::Fok => "fok",
        }
    }

    /// Whether an order with this time in force may rest in the book.
    pub fn rests(self) -> bool {
        matches!(self, TimeInForce::Gtc | TimeInForce::Day | TimeInForce::Gtd { .. })
    }
}

/// What happens when an incoming order would trade with a resting order of the same
/// organization.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SelfTradePrevention {
    CancelResting,
    CancelIncoming,
    CancelBoth,
}

impl SelfTradePrevention {
    pub fn as_str(self) -> &'static str {
        match self {
            SelfTradePrevention::CancelResting => "cancel_resting",
            SelfTradePrevention::CancelIncoming => "cancel_incoming",
            SelfTradePrevention::CancelBoth => "cancel_both",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub instrument: InstrumentId,
    pub account: AccountId,
    pub side: Side,
    pub order_type: OrderType,
    pub quantity_tonnes: u64,
    pub time_in_force: TimeInForce,
    pub post_only: bool,
    /// Unique among the account's open orders when present.
    pub client_order_id: Option<String>,
    pub self_trade: SelfTradePrevention,
    /// Buy-and-retire: what the order receives is retired at once for this beneficiary.
    /// Boxed, as in `Order`: rare, and inline it made every command 72 bytes larger.
    pub retire: Option<Box<RetirementDetails>>,
}

/// An open order resting in a book.
///
/// Every rest and cancel moves it, so its size matters: above 128 bytes each move is a call to
/// `memcpy`. The fields few orders use share one optional box (`extras`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub instrument: InstrumentId,
    pub account: AccountId,
    pub org: OrgId,
    pub side: Side,
    pub price_minor: i64,
    pub quantity_tonnes: u64,
    pub remaining_tonnes: u64,
    pub time_in_force: TimeInForce,
    pub post_only: bool,
    pub self_trade: SelfTradePrevention,
    /// The client order id and buy-and-retire details: 8 bytes, where inline they took 32.
    pub extras: Option<Box<OrderExtras>>,
    pub created_at_ms: i64,
    /// What the order holds for `remaining_tonnes`.
    pub reserved: Reserved,
}

/// What an open order holds: a buy, cash for `remaining_tonnes` at its price plus the fee
/// bound; a sell, the exact serials, in delivery order (fills deliver from the front). One
/// field, not two: the cash fits beside `Serials`' own variants, so this is 32 bytes, and an
/// `Order` 128.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reserved {
    Cash(i64),
    Serials(Serials),
}

/// What a buy order's `reserved_serials` lends.
static NO_SERIALS: Serials = Serials::new();

/// What only some orders carry (see `Order::extras`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderExtras {
    pub client_order_id: Option<String>,
    /// Buy-and-retire: what the order receives is retired at once for this beneficiary.
    pub retire: Option<RetirementDetails>,
}

impl OrderExtras {
    /// The box for an order, or none when it carries neither.
    pub fn boxed(
        client_order_id: Option<String>,
        retire: Option<RetirementDetails>,
    ) -> Option<Box<OrderExtras>> {
        (client_order_id.is_some() || retire.is_some())
            .then(|| Box::new(OrderExtras { client_order_id, retire }))
    }
}

impl Order {
    /// Cash held: a buy order's; zero for a sell.
    pub fn reserved_cash_minor(&self) -> i64 {
        match &self.reserved {
            Reserved::Cash(cash) => *cash,
            Reserved::Serials(_) => 0,
        }
    }

    /// Serials held: a sell order's; none for a buy.
    pub fn reserved_serials(&self) -> &Serials {
        match &self.reserved {
            Reserved::Cash(_) => &NO_SERIALS,
            Reserved::Serials(serials) => serials,
        }
    }

    /// A buy order's held cash.
    pub(crate) fn cash_mut(&mut self) -> &mut i64 {
        match &mut self.reserved {
            Reserved::Cash(cash) => cash,
            Reserved::Serials(_) => panic!("only a buy order holds cash"),
        }
    }

    /// A sell order's held serials.
    pub(crate) fn serials_mut(&mut self) -> &mut Serials {
        match &mut self.reserved {
            Reserved::Serials(serials) => serials,
            Reserved::Cash(_) => panic!("only a sell order holds serials"),
        }
    }

    pub fn client_order_id(&self) -> Option<&str> {
        self.extras.as_deref().and_then(|e| e.client_order_id.as_deref())
    }

    pub fn retire(&self) -> Option<&RetirementDetails> {
        self.extras.as_deref().and_then(|e| e.retire.as_ref())
    }
}

/// An order as snapshots encode it: the fields in their order before `extras` and `reserved`
/// joined some of them, so the encoding did not change. Generic over the owned fields, so that
/// encoding borrows them (`Id = &str`, …) and decoding owns them (`OrderWire`).
#[derive(Serialize, Deserialize)]
struct OrderWireOf<Id, Retire, Held> {
    id: OrderId,
    instrument: InstrumentId,
    account: AccountId,
    org: OrgId,
    side: Side,
    price_minor: i64,
    quantity_tonnes: u64,
    remaining_tonnes: u64,
    time_in_force: TimeInForce,
    post_only: bool,
    client_order_id: Option<Id>,
    self_trade: SelfTradePrevention,
    retire: Option<Retire>,
    created_at_ms: i64,
    reserved_cash_minor: i64,
    reserved_serials: Held,
}

type OrderWire = OrderWireOf<String, RetirementDetails, Serials>;

impl Serialize for Order {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        OrderWireOf {
            id: self.id,
            instrument: self.instrument,
            account: self.account,
            org: self.org,
            side: self.side,
            price_minor: self.price_minor,
            quantity_tonnes: self.quantity_tonnes,
            remaining_tonnes: self.remaining_tonnes,
            time_in_force: self.time_in_force,
            post_only: self.post_only,
            client_order_id: self.client_order_id(),
            self_trade: self.self_trade,
            retire: self.retire(),
            created_at_ms: self.created_at_ms,
            reserved_cash_minor: self.reserved_cash_minor(),
            reserved_serials: self.reserved_serials(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Order {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let w = OrderWire::deserialize(deserializer)?;
        let reserved = match w.side {
            Side::Buy if w.reserved_serials.is_empty() => Reserved::Cash(w.reserved_cash_minor),
            Side::Sell if w.reserved_cash_minor == 0 => Reserved::Serials(w.reserved_serials),
            _ => return Err(serde::de::Error::custom("an order holds both cash and serials")),
        };
        Ok(Order {
            id: w.id,
            instrument: w.instrument,
            account: w.account,
            org: w.org,
            side: w.side,
            price_minor: w.price_minor,
            quantity_tonnes: w.quantity_tonnes,
            remaining_tonnes: w.remaining_tonnes,
            time_in_force: w.time_in_force,
            post_only: w.post_only,
            self_trade: w.self_trade,
            extras: OrderExtras::boxed(w.client_order_id, w.retire),
            created_at_ms: w.created_at_ms,
            reserved,
        })
    }
}

/// Why an order left the book (or never entered it) without trading in full.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelReason {
    Requested,
    /// The part of an IOC or market order that could not trade at once.
    Unfilled,
    SelfTrade,
    Expired,
    SessionClosed,
    InstrumentClosed,
}

impl CancelReason {
    pub fn as_str(self) -> &'static str {
        match self {
            CancelReason::Requested => "requested",
            CancelReason::Unfilled => "unfilled",
            CancelReason::SelfTrade => "self_trade",
            CancelReason::Expired => "expired",
            CancelReason::SessionClosed => "session_closed",
            CancelReason::InstrumentClosed => "instrument_closed",
        }
    }
}

/// One fill, settled: exactly which serials moved and what each side paid.
///
/// `Event::Traded` carries it inline (128 bytes, so an `Event` is 128 too and moves without a
/// call to `memcpy`): boxed, it cost an allocation and a free per fill. Keep it at 128 bytes
/// or under; `fill_fits_an_event_without_growing_it` checks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    pub trade: TradeId,
    pub instrument: InstrumentId,
    pub price_minor: i64,
    pub quantity_tonnes: u64,
    pub buy_order: OrderId,
    pub sell_order: OrderId,
    pub buyer: AccountId,
    pub seller: AccountId,
    /// The side of the incoming (taker) order.
    pub aggressor: Side,
    pub serials: Serials,
    pub buyer_fee_minor: i64,
    pub seller_fee_minor: i64,
    /// Set when the buy order retired what it received.
    pub retirements: Retirements,
}

impl Fill {
    /// Whether dropping the fill frees anything (see `Event::owns_heap`). Every field is named
    /// and the plain ones are copied out, so a new field, or one that stops being `Copy`, fails
    /// to compile here until it is accounted for.
    pub fn owns_heap(&self) -> bool {
        let Fill {
            trade,
            instrument,
            price_minor,
            quantity_tonnes,
            buy_order,
            sell_order,
            buyer,
            seller,
            aggressor,
            serials,
            buyer_fee_minor,
            seller_fee_minor,
            retirements,
        } = self;
        let ids = (*trade, *instrument, *buy_order, *sell_order, *buyer, *seller, *aggressor);
        let amounts = (*price_minor, *quantity_tonnes, *buyer_fee_minor, *seller_fee_minor);
        crate::event::plain((ids, amounts)) || serials.owns_heap() || retirements.0.is_some()
    }
}

/// The retirements a buy-and-retire fill made, one per issuance delivered; none for any other
/// fill. A thin pointer that allocates nothing when empty: 8 bytes, where a boxed slice took 16
/// and a `Vec` 24, which keeps the fill at 128 beside its 32-byte `Serials`. It encodes as the
/// boxed slice did, and reads as a slice.
#[derive(Clone, Default, PartialEq, Eq)]
#[expect(clippy::box_collection, reason = "the box is what makes the pointer thin")]
pub struct Retirements(Option<Box<Vec<crate::ids::RetirementId>>>);

impl From<Vec<crate::ids::RetirementId>> for Retirements {
    fn from(list: Vec<crate::ids::RetirementId>) -> Self {
        // Empty is `None` only, so that the derived equality sees the list alone.
        Retirements((!list.is_empty()).then(|| Box::new(list)))
    }
}

impl std::ops::Deref for Retirements {
    type Target = [crate::ids::RetirementId];
    fn deref(&self) -> &Self::Target {
        self.0.as_deref().map_or(&[], |list| list.as_slice())
    }
}

impl std::fmt::Debug for Retirements {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl Serialize for Retirements {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        (**self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Retirements {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::deserialize(deserializer).map(Retirements::from)
    }
}

/// The exchange's part of the ledger state. Every collection but the order arena is ordered;
/// the arena's layout never shows (see `book.rs`).
#[derive(Clone, Debug)]
pub struct ExchangeState {
    pub(crate) instruments: crate::dense::DenseMap<InstrumentId, Instrument>,
    pub(crate) symbols: BTreeMap<String, InstrumentId>,
    pub(crate) books: crate::dense::DenseMap<InstrumentId, Book>,
    /// Each instrument's price band (`Instrument::band`), derived from its spec: every order
    /// checks its price against it, and computing it costs two divisions. Never encoded (the
    /// wire form leaves it out, decoding recomputes it), updated wherever a spec is stored, and
    /// compared with a recomputation by the audit.
    pub(crate) bands: crate::dense::DenseMap<InstrumentId, (i64, i64)>,
    /// Open orders only: filled, cancelled and expired orders leave the state (their history is
    /// in the journal and the read models).
    pub(crate) orders: book::Orders,
    pub(crate) client_ids: BTreeMap<(AccountId, String), OrderId>,
    /// GTD orders by expiry.
    pub(crate) expiries: BTreeSet<(i64, OrderId)>,
    pub(crate) next_instrument: u64,
    pub(crate) next_order: u64,
    pub(crate) next_trade: u64,
}

impl Default for ExchangeState {
    fn default() -> Self {
        Self {
            instruments: Default::default(),
            symbols: Default::default(),
            books: Default::default(),
            bands: Default::default(),
            orders: Default::default(),
            client_ids: Default::default(),
            expiries: Default::default(),
            next_instrument: 1,
            next_order: 1,
            next_trade: 1,
        }
    }
}

/// One side of a book as encoded: levels in ascending price, each queue as order ids, first in
/// time first. Level totals are not encoded; decoding recomputes them from the orders.
type SideWire = Vec<(i64, Vec<OrderId>)>;

/// How the exchange state is encoded and compared: open orders in id order and queues as ids,
/// so equal ledgers encode to equal bytes whatever slots their orders happen to occupy.
///
/// It is decoded as part of `State` (`StateWire` in `state.rs`), which turns it into an
/// `ExchangeState` once the accounts are known: the arena's per-account lists are indexed by
/// account id, so an order naming an account that does not exist is refused before it can size
/// anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExchangeWire {
    // Dense maps encode exactly as the `BTreeMap`s they replaced; decoding them bounds the ids.
    instruments: crate::dense::DenseMap<InstrumentId, Instrument>,
    symbols: BTreeMap<String, InstrumentId>,
    books: crate::dense::DenseMap<InstrumentId, (SideWire, SideWire)>,
    orders: Vec<Order>,
    client_ids: BTreeMap<(AccountId, String), OrderId>,
    expiries: BTreeSet<(i64, OrderId)>,
    next_instrument: u64,
    next_order: u64,
    next_trade: u64,
}

impl ExchangeState {
    fn to_wire(&self) -> ExchangeWire {
        let side = |levels: &ladder::Ladder| -> SideWire {
            levels
                .iter()
                .map(|(price, level)| {
                    let ids = Book::queue(&self.orders, level).map(|s| self.orders.at(s).id);
                    (price, ids.collect())
                })
                .collect()
        };
        let mut orders: Vec<Order> = self.orders.iter_unordered().cloned().collect();
        orders.sort_unstable_by_key(|o| o.id);
        ExchangeWire {
            instruments: self.instruments.clone(),
            symbols: self.symbols.clone(),
            books: self.books.iter().map(|(id, b)| (*id, (side(&b.bids), side(&b.asks)))).collect(),
            orders,
            client_ids: self.client_ids.clone(),
            expiries: self.expiries.clone(),
            next_instrument: self.next_instrument,
            next_order: self.next_order,
            next_trade: self.next_trade,
        }
    }

    /// Rebuilds the arena and the books from the encoded form, refusing an encoding with an
    /// order of an account that does not exist, or whose queues do not link exactly the open
    /// orders at their instrument, side and price.
    pub(crate) fn from_wire(
        w: ExchangeWire,
        account_exists: impl Fn(AccountId) -> bool,
    ) -> Result<Self, String> {
        let mut orders = book::Orders::default();
        for o in w.orders {
            if orders.get(o.id).is_some() {
                return Err(format!("{} is encoded twice", o.id));
            }
            if !account_exists(o.account) {
                return Err(format!("{} belongs to an account that does not exist", o.id));
            }
            // The engine issues each order id below the next one; a snapshot naming another
            // was not written by it.
            if o.id.0 >= w.next_order {
                return Err(format!(
                    "{} was never issued (the next order id is {})",
                    o.id, w.next_order
                ));
            }
            orders.insert(o);
        }
        let mut books = crate::dense::DenseMap::default();
        let mut seen = BTreeSet::new();
        let mut linked = 0usize;
        for (instrument, (bids, asks)) in w.books {
            let mut book = Book::default();
            for (side, levels) in [(Side::Buy, bids), (Side::Sell, asks)] {
                for (price, ids) in levels {
                    for id in ids {
                        let slot = orders.slot_of(id).ok_or_else(|| format!("{id} is not open"))?;
                        let o = orders.at(slot);
                        let placed = o.instrument == instrument
                            && o.side == side
                            && o.price_minor == price
                            && o.remaining_tonnes > 0
                            && seen.insert(id);
                        if !placed {
                            return Err(format!("{id} is misplaced in a queue"));
                        }
                        book.push_back(&mut orders, slot);
                        linked += 1;
                    }
                }
            }
            books.insert(instrument, book);
        }
        if linked != orders.len() {
            return Err(format!("{} open orders, {linked} in queues", orders.len()));
        }
        // A band is derived from the terms, which listing validated: terms that listing would
        // refuse (a zero tick, say) mean a corrupt snapshot, refused here rather than met by a
        // division by zero.
        if let Some((id, _)) = w.instruments.iter().find(|(_, i)| !i.spec.terms_valid()) {
            return Err(format!("{id} has terms no instrument is listed with"));
        }
        let bands = w.instruments.iter().map(|(id, i)| (*id, i.band())).collect();
        Ok(Self {
            instruments: w.instruments,
            symbols: w.symbols,
            books,
            bands,
            orders,
            client_ids: w.client_ids,
            expiries: w.expiries,
            next_instrument: w.next_instrument,
            next_order: w.next_order,
            next_trade: w.next_trade,
        })
    }
}

impl PartialEq for ExchangeState {
    fn eq(&self, other: &Self) -> bool {
        self.to_wire() == other.to_wire()
    }
}

impl Eq for ExchangeState {}

impl Serialize for ExchangeState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A size check, not a speed test: past 128 bytes every event pushed goes through a call
    /// to `memcpy` (with the fill inline at 136 bytes, 63 more instructions per operation of
    /// the matching bench went to `memcpy`).
    #[test]
    fn fill_fits_an_event_without_growing_it() {
        assert!(std::mem::size_of::<Fill>() <= 128, "Fill grew past 128 bytes");
        let event = std::mem::size_of::<crate::event::Event>();
        assert!(event <= 128, "Event grew to {event} bytes");
    }

    /// An order moves on every rest and cancel; at 160 bytes each move was a `memcpy` call and
    /// the arena a fifth larger (2M-operation bench: 3.46 → 3.19 simulated L2 misses per
    /// operation when it shrank to 128).
    #[test]
    fn an_order_moves_inline() {
        let order = std::mem::size_of::<Order>();
        assert!(order <= 128, "Order grew to {order} bytes");
    }

    /// The boxed extras and the one `reserved` field encode as the separate fields before them,
    /// and a decoded order that would hold both cash and serials is refused.
    #[test]
    fn orders_encode_as_before_and_refuse_both_holds() {
        let range = crate::serial::SerialRange::new(5, 9).unwrap();
        let mut order = Order {
            id: OrderId(7),
            instrument: InstrumentId(2),
            account: AccountId(3),
            org: OrgId(4),
            side: Side::Sell,
            price_minor: 1_250,
            quantity_tonnes: 5,
            remaining_tonnes: 5,
            time_in_force: TimeInForce::Gtd { expires_at_ms: 99 },
            post_only: true,
            self_trade: SelfTradePrevention::CancelBoth,
            extras: OrderExtras::boxed(Some("c-1".into()), None),
            created_at_ms: 42,
            reserved: Reserved::Serials(Serials::one(crate::ids::IssuanceId(1), range)),
        };
        let wire = OrderWire {
            id: order.id,
            instrument: order.instrument,
            account: order.account,
            org: order.org,
            side: order.side,
            price_minor: order.price_minor,
            quantity_tonnes: order.quantity_tonnes,
            remaining_tonnes: order.remaining_tonnes,
            time_in_force: order.time_in_force,
            post_only: order.post_only,
            client_order_id: Some("c-1".into()),
            self_trade: order.self_trade,
            retire: None,
            created_at_ms: order.created_at_ms,
            reserved_cash_minor: 0,
            reserved_serials: order.reserved_serials().clone(),
        };
        let bytes = postcard::to_stdvec(&order).unwrap();
        assert_eq!(bytes, postcard::to_stdvec(&wire).unwrap());
        assert_eq!(postcard::from_bytes::<Order>(&bytes).unwrap(), order);
        let both = OrderWire { reserved_cash_minor: 1, ..wire };
        assert!(postcard::from_bytes::<Order>(&postcard::to_stdvec(&both).unwrap()).is_err());
        order.side = Side::Buy;
        order.reserved = Reserved::Cash(6_250);
        let bytes = postcard::to_stdvec(&order).unwrap();
        assert_eq!(postcard::from_bytes::<Order>(&bytes).unwrap(), order);
    }

    proptest! {
        /// The 64-bit band agrees with the 128-bit one wherever it applies, up to the edges of
        /// the price range.
        #[test]
        fn band_fast_path_agrees_with_wide(
            reference in prop_oneof![1i64..10_000_000, (i64::MAX / 20_000)..i64::MAX],
            tick in prop_oneof![1i64..1_000, 1i64..i64::MAX],
            band_bps in 1u32..=10_000,
        ) {
            let spec = InstrumentSpec {
                symbol: "T".into(),
                underlying: Underlying::ProjectVintage { project: ProjectId(1), vintage_year: 2020 },
                currency: Currency::Usd,
                tick_minor: tick,
                lot_tonnes: 1,
                band_bps,
                reference_price_minor: reference,
                fees: FeeSchedule { maker_bps: 0, taker_bps: 0, min_fee_minor: 0 },
            };
            let inst = Instrument { id: InstrumentId(1), spec, status: InstrumentStatus::Open };
            prop_assert_eq!(inst.band(), inst.band_wide());
        }
    }
}
