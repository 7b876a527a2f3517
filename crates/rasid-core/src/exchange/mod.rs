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

use crate::ids::{AccountId, IssuanceId, OrgId, ProjectId};
use crate::model::RetirementDetails;
use crate::money::Currency;
use crate::serial::RangeSet;
use serde::{Deserialize, Serialize};

pub use book::Book;
pub use fees::FeeSchedule;

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
    pub retire: Option<RetirementDetails>,
}

/// An open order resting in a book.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    pub client_order_id: Option<String>,
    pub self_trade: SelfTradePrevention,
    pub retire: Option<RetirementDetails>,
    pub created_at_ms: i64,
    /// Buy orders: cash held for `remaining_tonnes` at `price_minor` plus the fee bound.
    pub reserved_cash_minor: i64,
    /// Sell orders: the exact serials held for `remaining_tonnes`, by issuance in ascending
    /// serial order; fills deliver from the front.
    pub reserved_serials: Vec<(IssuanceId, RangeSet)>,
    /// Neighbours in the price level's time-priority queue.
    pub(crate) prev: Option<OrderId>,
    pub(crate) next: Option<OrderId>,
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
    pub serials: Vec<(IssuanceId, RangeSet)>,
    pub buyer_fee_minor: i64,
    pub seller_fee_minor: i64,
    /// Set when the buy order retired what it received.
    pub retirements: Vec<crate::ids::RetirementId>,
}

/// The exchange's part of the ledger state. Every collection is ordered, like the rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeState {
    pub(crate) instruments: std::collections::BTreeMap<InstrumentId, Instrument>,
    pub(crate) symbols: std::collections::BTreeMap<String, InstrumentId>,
    pub(crate) books: std::collections::BTreeMap<InstrumentId, Book>,
    /// Open orders only: filled, cancelled and expired orders leave the state (their history is
    /// in the journal and the read models).
    pub(crate) orders: book::Orders,
    pub(crate) by_account: std::collections::BTreeSet<(AccountId, OrderId)>,
    pub(crate) client_ids: std::collections::BTreeMap<(AccountId, String), OrderId>,
    /// GTD orders by expiry.
    pub(crate) expiries: std::collections::BTreeSet<(i64, OrderId)>,
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
            orders: Default::default(),
            by_account: Default::default(),
            client_ids: Default::default(),
            expiries: Default::default(),
            next_instrument: 1,
            next_order: 1,
            next_trade: 1,
        }
    }
}
