//! The settlement floor for `rasid bench matching`: the least an engine can do and still settle
//! every fill in the step that matches it, run on the same stream as Rasid and the crates.
//!
//! Issue 3 asks the full engine to run at 1.5 times the fastest order-book crate. Those crates
//! match and nothing more. This engine is written to learn what settling in the step costs on
//! its own, with nothing else in the way. It is a lean book — the naive one that the issue
//! measured as faster than every crate (a `BTreeMap` of price levels, each a `VecDeque` of
//! order ids), or a faster ladder (below) — plus the settlement work the issue asks for and
//! nothing else:
//! - a buy holds cash for its limit price and the taker fee;
//! - a sell reserves its seller's lowest serials;
//! - a fill moves the lowest reserved serials to the buyer and cash from buyer to seller, with
//!   maker and taker fees.
//!
//! Everything else Rasid does is left out: checks and refusals, events, order records beyond
//! a dense vector indexed by stream id, client ids, self-trade prevention, fee accounts,
//! indexes and audits. Except in one floor, `ladder-full` ([`Kind::ladder_full`]): the logged
//! ladder plus the bookkeeping a full engine does ([`Bookkeeping`]: events, checks, look-ups by
//! id, counts, per-account order lists). It emits exactly the events Rasid emits for every
//! operation of the stream (a test compares them): Rasid's output, in a leaner shape, though
//! still without some of Rasid's work (listed at [`Bookkeeping`]). It is lean but not tuned to
//! the last instruction, so what it runs at is about what a redesigned order path in its
//! shape could expect, not a bound. `ladder-quiet` ([`Kind::ladder_quiet`]) keeps the same
//! books and builds no event at all: the difference between the two is what the events cost.
//!
//! The buyer's serials are kept in one of four ways, each run as its own floor, and the book
//! also runs alone ([`Record::Unsettled`]); on the ladder book (below) the bench runs the
//! range set, the log, the appended record and the book alone:
//! - [`Record::Sorted`]: each (buyer, issuance) holding is a sorted vector of disjoint ranges,
//!   merged on insert. That is the simplest form a registry can answer questions from
//!   (is this serial held, which are the lowest).
//! - [`Record::RangeSet`]: the same, in Rasid's own `RangeSet` (a sorted vector searched from
//!   its top end, tuned for this stream's credits), to tell the record's share of Rasid's time
//!   from the rest of the engine's.
//! - [`Record::Logged`]: each range is pushed onto a per-holding log, and every
//!   [`LOG_RANGES_MAX`] ranges the log is sorted and merged into the sorted vector in one
//!   backward pass. A reader would merge the log in too, so a registry could keep this form;
//!   it shows what batching the credits saves against the sorted record. The log is long
//!   enough that merges land in far fewer than 1% of operations, so they stay out of p99.
//! - [`Record::Appended`]: each range is pushed onto the holding's vector unsorted and never
//!   merged. Nothing could be looked up in that form, so no registry would keep it. It was
//!   meant as the least that writing down the buyer's serials can cost; in practice the log
//!   with 1,024 ranges runs as fast or faster, because its merges join neighbouring ranges
//!   and keep the holdings smaller than a list of every delivery.
//!
//! Each side of the book is kept one of two ways ([`BookKind`]): the naive `BTreeMap`, or a
//! ladder, a vector of levels indexed by price over the stream's whole price range with the
//! best level remembered. The ladder finds the best level without a tree descent. It knows
//! the stream's price range before the first order, which no exchange does (Rasid's own
//! ladder re-centres a window), so it is faster than a real book could be: [`BookKind::Ladder`]
//! asks whether any book can bring a settled floor with a readable record to issue 3's
//! targets (with the log, it does: see docs/HANDOFF.md, "Matching speed").

use crate::bench_matching::Op;
use rasid_core::exchange::{CancelReason, Fill, InstrumentId, OrderId, Serials, Side, TradeId};
use rasid_core::id_hash::IdHashMap;
use rasid_core::serial::{RangeSet, SerialRange};
use rasid_core::{AccountId, Event, Events, IssuanceId, OrgId, ProjectId};
use smallvec::SmallVec;
use std::collections::{BTreeMap, VecDeque};

/// How a buyer's serials are written down; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    Sorted,
    RangeSet,
    Logged,
    Appended,
    /// No settlement at all: no cash held, no serials reserved or delivered. The naive book
    /// alone, to tell what the settlement adds on the same machine in the same run.
    Unsettled,
}

/// How each side of the floor's book keeps its price levels; see the module documentation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookKind {
    Naive,
    Ladder,
}

/// Whether a floor keeps a full engine's bookkeeping too ([`Bookkeeping`]), and with or
/// without its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Books {
    None,
    WithEvents,
    WithoutEvents,
}

/// One floor: a book, a record of the buyers' serials, and its bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    pub book: BookKind,
    pub record: Record,
    pub books: Books,
}

impl Kind {
    pub const fn naive(record: Record) -> Kind {
        Kind { book: BookKind::Naive, record, books: Books::None }
    }

    pub const fn ladder(record: Record) -> Kind {
        Kind { book: BookKind::Ladder, record, books: Books::None }
    }

    /// `ladder-logged` plus the bookkeeping every full engine does ([`Bookkeeping`]).
    pub const fn ladder_full() -> Kind {
        Kind { book: BookKind::Ladder, record: Record::Logged, books: Books::WithEvents }
    }

    /// `ladder-full` without its events: every check, look-up, count and list, and no event
    /// value built or kept. What an engine in this shape would run at if its events cost
    /// nothing, which bounds what any change to the events could give.
    pub const fn ladder_quiet() -> Kind {
        Kind { books: Books::WithoutEvents, ..Kind::ladder_full() }
    }

    pub fn name(self) -> &'static str {
        if self.books != Books::None {
            let (full, quiet) = (Kind::ladder_full(), Kind::ladder_quiet());
            assert!(self == full || self == quiet, "only the logged ladder keeps the books");
            return if self == full { "ladder-full" } else { "ladder-quiet" };
        }
        match (self.book, self.record) {
            (BookKind::Naive, Record::Sorted) => "floor-sorted",
            (BookKind::Naive, Record::RangeSet) => "floor-rangeset",
            (BookKind::Naive, Record::Logged) => "floor-logged",
            (BookKind::Naive, Record::Appended) => "floor-appended",
            (BookKind::Naive, Record::Unsettled) => "naive-book",
            (BookKind::Ladder, Record::Sorted) => "ladder-sorted",
            (BookKind::Ladder, Record::RangeSet) => "ladder-rangeset",
            (BookKind::Ladder, Record::Logged) => "ladder-logged",
            (BookKind::Ladder, Record::Appended) => "ladder-appended",
            (BookKind::Ladder, Record::Unsettled) => "ladder-book",
        }
    }
}

/// Ranges a holding's log takes before it is merged ([`Record::Logged`]). With 64 (the tenth
/// session's choice) a merge landed in about 1% of operations and doubled p99; with 1,024
/// merges land in about 0.06% of operations, and p99 is no worse than the appended record's.
pub const LOG_RANGES_MAX: usize = 1024;

/// Serials each seller starts with, one issuance per seller (as in the bench's set-up).
const ISSUED_TONNES: u64 = 1_000_000_000_000;
/// Cash each buyer starts with, as in the bench's set-up.
const BUYER_CASH_MINOR: i64 = i64::MAX / 4;
/// The bench instrument's fees, in basis points (see `setup_commands`).
const MAKER_BPS: i64 = 5;
const TAKER_BPS: i64 = 10;
const BPS_PER_UNIT: i64 = 10_000;

/// The bench instrument's terms (see `setup_commands`), which `ladder-full` checks every order
/// against. It keeps them in fields, so that its checks divide at run time as an engine's do.
const TICK_MINOR: i64 = 1;
const LOT_TONNES: u64 = 1;
/// Project and vintage of every seller's issuance (see `setup_commands`).
const PROJECT: ProjectId = ProjectId(1);
const VINTAGE_YEAR: u16 = 2024;

/// An inclusive range of serials, `first..=last`.
type Range = (u64, u64);

/// A sell's reserved ranges, lowest first.
type Reserved = SmallVec<[Range; 2]>;

#[derive(Clone, Debug, Default)]
struct Order {
    /// The order's stream id (`ladder-full`'s events name it).
    id: u32,
    /// A sell's issuance id, found through the class index (`ladder-full` only).
    issuance: u64,
    price: i64,
    remaining: u64,
    member: u32,
    buy: bool,
    /// A buy's cash held for what remains.
    cash_held: i64,
    /// A sell's reserved serials, lowest first. Inline up to two ranges, as nearly every sell's
    /// are: a vector of its own cost each sell an allocation (about 70 instructions per
    /// operation of the stream, which made the floors slower than a lean engine needs to be).
    serials: Reserved,
}

/// The engine. Members are the stream's: `0..members` on each side, one issuance per seller.
pub struct Floor {
    record: Record,
    /// Price → ids, oldest first. Cancelled and filled orders are dropped lazily: a cancel
    /// zeroes the order and the level skips it when it comes to the front.
    bids: SideBook,
    asks: SideBook,
    /// Indexed by stream id, which is dense from 1.
    orders: Vec<Order>,
    /// Each seller's available serials, sorted.
    available: Vec<Vec<Range>>,
    /// `holdings[buyer][issuance]`: the buyer's serials of each seller's issuance.
    holdings: Vec<Vec<Vec<Range>>>,
    /// `logs[buyer][issuance]`: ranges delivered since the holding was last merged
    /// ([`Record::Logged`] only).
    logs: Vec<Vec<Vec<Range>>>,
    /// [`LOG_RANGES_MAX`], smaller in tests so that short streams merge too.
    log_ranges_max: usize,
    /// `sets[buyer][issuance]` ([`Record::RangeSet`] only).
    sets: Vec<Vec<RangeSet>>,
    /// Each buyer's `(available, held)` cash and each seller's cash, in minor units.
    buyer_cash: Vec<(i64, i64)>,
    seller_cash: Vec<i64>,
    fees: i64,
    pub trades: u64,
    /// The `ladder-full` floor's bookkeeping; `None` in every other floor.
    books: Option<Box<Bookkeeping>>,
}

/// What a full engine does besides matching and settling, which `ladder-full` adds to
/// `ladder-logged`, each as Rasid does it where the floors did it by position:
/// - events: `OrderAccepted`, `Traded` (with the fill's exact serials), `OrderRested` and
///   `OrderCancelled`, Rasid's own types in Rasid's own list, cleared before each operation as
///   a sequencer hands them on;
/// - checks on every order: tick, lot, price band, the account's owner, cash or credits
///   available, and self-trade prevention on every fill;
/// - look-ups by id: a sell finds its seller's issuances of the class through a hash map keyed
///   by account, project and vintage (as `held_classes.rs` does), and a credit finds the
///   buyer's holding by a binary search over the buyer's issuance ids (as `holdings.rs` does);
/// - counts: each seller's available and reserved tonnes, as a holding keeps them;
/// - each account's open orders, in a list linked through the orders (as `book.rs` does).
///
/// What it still leaves out: an order record of Rasid's size in a reusable arena with an index
/// from id to slot (orders here sit in a vector indexed by stream id, which no exchange could
/// keep), client ids, expiries, time in force, fee and minimum checks beyond this instrument's,
/// and the audit's assertions.
struct Bookkeeping {
    /// Whether events are built at all (`ladder-quiet` builds none).
    emit: bool,
    events: Events,
    next_trade: u64,
    /// The instrument's terms, read at run time, and a price band: the stream's own price
    /// range, narrower than the bench instrument's ±100% and as cheap to check.
    tick_minor: i64,
    lot_tonnes: u64,
    band: (i64, i64),
    /// Each account's organization, buyers' accounts first (as `Venue` numbers them).
    orgs: Vec<OrgId>,
    /// (account, project, vintage) → the issuances of the class the account holds.
    classes: IdHashMap<(AccountId, ProjectId, u16), Vec<IssuanceId>>,
    /// Each buyer's issuances, ascending, one per seller: position `k` is seller `k`'s.
    buyer_issuances: Vec<Vec<IssuanceId>>,
    /// Each seller's `(available, reserved)` tonnes.
    seller_tonnes: Vec<(u64, u64)>,
    /// The newest open order of each account (`NO_ORDER` if none), and each order's neighbours
    /// in its account's list.
    account_heads: Vec<u32>,
    account_links: Vec<(u32, u32)>,
    /// Orders a check refused and fills self-trade prevention stopped. The stream has none, and
    /// `check` says so; counted, not panicked on, as an engine refuses and carries on.
    refused: u64,
}

/// "No order": the end of an account's list.
const NO_ORDER: u32 = u32::MAX;

impl Bookkeeping {
    fn new(members: usize, max_id: u64, band: (i64, i64), emit: bool) -> Self {
        let account = |index: usize| AccountId(3 + index as u64);
        let issuance = |seller: usize| IssuanceId(seller as u64 + 1);
        let classes = (0..members)
            .map(|s| ((account(members + s), PROJECT, VINTAGE_YEAR), vec![issuance(s)]))
            .collect();
        Bookkeeping {
            emit,
            events: Events::new(),
            next_trade: 1,
            tick_minor: TICK_MINOR,
            lot_tonnes: LOT_TONNES,
            band,
            orgs: (0..2 * members).map(|i| OrgId(3 + i as u64)).collect(),
            classes,
            buyer_issuances: vec![(0..members).map(issuance).collect(); members],
            seller_tonnes: vec![(ISSUED_TONNES, 0); members],
            account_heads: vec![NO_ORDER; 2 * members],
            account_links: vec![(NO_ORDER, NO_ORDER); usize::try_from(max_id).unwrap_or(0) + 1],
            refused: 0,
        }
    }

    /// Index of a member's account: buyers first, then sellers.
    fn account_index(&self, member: u32, buy: bool) -> usize {
        let sellers_from = if buy { 0 } else { self.seller_tonnes.len() };
        sellers_from + member as usize
    }

    fn account(&self, member: u32, buy: bool) -> AccountId {
        AccountId(3 + self.account_index(member, buy) as u64)
    }

    /// The checks an order must pass, as `place_order` makes them. For a sell, the issuance to
    /// reserve from; `None` if refused.
    fn admit(&mut self, order: &Order, cash_available: i64, hold: i64) -> Option<IssuanceId> {
        let account = self.account_index(order.member, order.buy);
        // The stream's actor is the account's own organization.
        let actor = OrgId(3 + account as u64);
        let valid = order.price % self.tick_minor == 0
            && order.remaining.is_multiple_of(self.lot_tonnes)
            && (self.band.0..=self.band.1).contains(&order.price)
            && self.orgs[account] == actor;
        let issuance = match (valid, order.buy) {
            (false, _) => None,
            (true, true) => (cash_available >= hold).then_some(IssuanceId(0)),
            (true, false) => {
                let key = (AccountId(3 + account as u64), PROJECT, VINTAGE_YEAR);
                let held = self.classes.get(&key).and_then(|list| list.first().copied());
                let tonnes = &mut self.seller_tonnes[order.member as usize];
                held.filter(|_| tonnes.0 >= order.remaining).inspect(|_| {
                    tonnes.0 -= order.remaining;
                    tonnes.1 += order.remaining;
                })
            }
        };
        if issuance.is_none() {
            self.refused += 1;
        }
        issuance
    }

    fn link(&mut self, id: u32, account: usize) {
        let head = self.account_heads[account];
        self.account_links[id as usize] = (NO_ORDER, head);
        if head != NO_ORDER {
            self.account_links[head as usize].0 = id;
        }
        self.account_heads[account] = id;
    }

    fn unlink(&mut self, id: u32, account: usize) {
        let (prev, next) = self.account_links[id as usize];
        match prev {
            NO_ORDER => self.account_heads[account] = next,
            prev => self.account_links[prev as usize].1 = next,
        }
        if next != NO_ORDER {
            self.account_links[next as usize].0 = prev;
        }
    }

    /// Each account's list holds exactly its open orders, and each seller's counts add up to
    /// its available serials and its open sells.
    fn check(&self, orders: &[Order], available: &[Vec<Range>]) -> Result<(), String> {
        if self.refused > 0 {
            return Err(format!("{} orders or fills refused", self.refused));
        }
        let mut open = vec![Vec::new(); self.account_heads.len()];
        for (id, o) in orders.iter().enumerate().filter(|(_, o)| o.remaining > 0) {
            open[self.account_index(o.member, o.buy)].push(id as u32);
        }
        for (account, (&head, open)) in self.account_heads.iter().zip(&open).enumerate() {
            let mut listed = Vec::new();
            let mut at = head;
            // Bounded, so that a list broken into a cycle is reported rather than walked forever.
            while at != NO_ORDER && listed.len() <= orders.len() {
                listed.push(at);
                at = self.account_links[at as usize].1;
            }
            listed.sort_unstable();
            if &listed != open {
                return Err(format!("account {account}: listed {listed:?}, open {open:?}"));
            }
        }
        for (seller, &(free, reserved)) in self.seller_tonnes.iter().enumerate() {
            let held: u64 = available[seller].iter().map(|(f, l)| l - f + 1).sum();
            let selling: u64 = orders
                .iter()
                .filter(|o| !o.buy && o.member as usize == seller)
                .map(|o| o.remaining)
                .sum();
            if (free, reserved) != (held, selling) {
                return Err(format!("seller {seller}: counts {free}/{reserved}, {held}/{selling}"));
            }
        }
        Ok(())
    }
}

impl Floor {
    /// A floor for a stream that places order ids up to `max_id` at prices within `prices`
    /// (inclusive; the ladder spans them).
    pub fn new(kind: Kind, members: usize, max_id: u64, prices: (i64, i64)) -> Self {
        let issued = |s: usize| {
            let first = s as u64 * ISSUED_TONNES + 1;
            vec![(first, first + ISSUED_TONNES - 1)]
        };
        Floor {
            record: kind.record,
            bids: SideBook::new(kind.book, true, prices),
            asks: SideBook::new(kind.book, false, prices),
            orders: vec![Order::default(); usize::try_from(max_id).unwrap_or(0) + 1],
            available: (0..members).map(issued).collect(),
            holdings: vec![vec![Vec::new(); members]; members],
            logs: vec![vec![Vec::new(); members]; members],
            log_ranges_max: LOG_RANGES_MAX,
            sets: vec![vec![RangeSet::new(); members]; members],
            buyer_cash: vec![(BUYER_CASH_MINOR, 0); members],
            seller_cash: vec![0; members],
            fees: 0,
            trades: 0,
            books: (kind.books != Books::None).then(|| {
                let emit = kind.books == Books::WithEvents;
                Box::new(Bookkeeping::new(members, max_id, prices, emit))
            }),
        }
    }

    pub fn apply(&mut self, op: Op) {
        if let Some(books) = &mut self.books {
            books.events.clear();
        }
        match op {
            Op::Place { id, side, price, quantity, member } => {
                let member = u32::try_from(member).expect("a few members");
                self.place(order_index(id), side == Side::Buy, price, quantity, member)
            }
            Op::Cancel { id, .. } => self.cancel(order_index(id)),
        }
    }

    fn place(&mut self, id: u32, buy: bool, price: i64, quantity: u64, member: u32) {
        let mut order = Order { id, price, remaining: quantity, member, buy, ..Order::default() };
        // Only a settling floor holds cash (and `ladder-full` settles).
        let hold =
            if buy && self.record != Record::Unsettled { buy_hold(price, quantity) } else { 0 };
        if let Some(books) = &mut self.books {
            let cash = if buy { self.buyer_cash[member as usize].0 } else { 0 };
            let Some(issuance) = books.admit(&order, cash, hold) else { return };
            order.issuance = issuance.0;
            if books.emit {
                books.events.push(Event::OrderAccepted {
                    order: OrderId(u64::from(id)),
                    instrument: InstrumentId(1),
                    account: books.account(member, buy),
                    side: side_of(buy),
                    price_minor: price,
                    quantity_tonnes: quantity,
                });
            }
        }
        match (self.record, buy) {
            (Record::Unsettled, _) => {}
            (_, true) => {
                let cash = &mut self.buyer_cash[member as usize];
                cash.0 -= hold;
                cash.1 += hold;
                order.cash_held = hold;
            }
            (_, false) => {
                order.serials = take_lowest(&mut self.available[member as usize], quantity);
            }
        }
        while order.remaining > 0 {
            let book = if buy { &mut self.asks } else { &mut self.bids };
            let Some((level_price, front)) = book.best() else { break };
            if (buy && level_price > price) || (!buy && level_price < price) {
                break;
            }
            let resting = &mut self.orders[front as usize];
            if resting.remaining == 0 {
                book.pop_front(level_price);
                continue;
            }
            let mut resting = std::mem::take(resting);
            self.fill(&mut order, &mut resting, level_price);
            let done = resting.remaining == 0;
            if done && let Some(books) = &mut self.books {
                books.unlink(front, books.account_index(resting.member, resting.buy));
            }
            self.orders[front as usize] = resting;
            if done {
                let book = if buy { &mut self.asks } else { &mut self.bids };
                book.pop_front(level_price);
            }
        }
        if order.remaining == 0 {
            // Holds are linear in tonnes, so a filled buy's fills spent all it held.
            debug_assert_eq!(order.cash_held, 0);
            return;
        }
        if let Some(books) = &mut self.books {
            if books.emit {
                books.events.push(Event::OrderRested {
                    order: OrderId(u64::from(id)),
                    instrument: InstrumentId(1),
                    side: side_of(buy),
                    price_minor: price,
                    remaining_tonnes: order.remaining,
                });
            }
            books.link(id, books.account_index(member, buy));
        }
        let book = if buy { &mut self.bids } else { &mut self.asks };
        book.push_back(price, id);
        self.orders[id as usize] = order;
    }

    fn fill(&mut self, incoming: &mut Order, resting: &mut Order, price: i64) {
        let q = incoming.remaining.min(resting.remaining);
        incoming.remaining -= q;
        resting.remaining -= q;
        self.trades += 1;
        if self.record == Record::Unsettled {
            return;
        }
        // The incoming order takes; the resting one made the market.
        let (buyer_bps, seller_bps) =
            if incoming.buy { (TAKER_BPS, MAKER_BPS) } else { (MAKER_BPS, TAKER_BPS) };
        let aggressor = side_of(incoming.buy);
        let (buy, sell) = if incoming.buy { (incoming, resting) } else { (resting, incoming) };
        let (buyer, seller) = (buy.member as usize, sell.member as usize);
        let notional = price * q as i64;
        // The full floor charges as Rasid does, rounding each fee up; the others round down.
        let round_up = if self.books.is_some() { BPS_PER_UNIT - 1 } else { 0 };
        let buyer_fee = (notional * buyer_bps + round_up) / BPS_PER_UNIT;
        let seller_fee = (notional * seller_bps + round_up) / BPS_PER_UNIT;
        if let Some(books) = &mut self.books {
            let (b, s) =
                (books.account_index(buy.member, true), books.account_index(seller as u32, false));
            if books.orgs[b] == books.orgs[s] {
                books.refused += 1;
            }
            let reserved = &mut books.seller_tonnes[seller].1;
            *reserved = reserved.checked_sub(q).expect("a sell reserves what it sells");
        }
        let mut delivered_set: (Option<SerialRange>, Option<RangeSet>) = (None, None);
        let hold = buy_hold(buy.price, q);
        buy.cash_held -= hold;
        let cash = &mut self.buyer_cash[buyer];
        cash.1 -= hold;
        cash.0 += hold - notional - buyer_fee;
        self.seller_cash[seller] += notional - seller_fee;
        self.fees += buyer_fee + seller_fee;
        let mut need = q;
        while need > 0 {
            let (first, last) = *sell.serials.first().expect("a sell reserves its tonnes");
            let take = (last - first + 1).min(need);
            if take <= last - first {
                sell.serials[0].0 = first + take;
            } else {
                sell.serials.remove(0);
            }
            need -= take;
            let delivered = (first, first + take - 1);
            let mut issuance = ((first - 1) / ISSUED_TONNES) as usize;
            if let Some(books) = &mut self.books {
                match books.buyer_issuances[buyer].binary_search(&IssuanceId(sell.issuance)) {
                    Ok(k) => issuance = k,
                    Err(_) => books.refused += 1,
                }
                if books.emit {
                    let range = SerialRange::new(delivered.0, delivered.1).expect("first ≤ last");
                    collect_delivered(&mut delivered_set, range);
                }
            }
            let holding = &mut self.holdings[buyer][issuance];
            match self.record {
                Record::Sorted => insert(holding, delivered),
                Record::Appended => holding.push(delivered),
                Record::RangeSet => {
                    let range = SerialRange::new(delivered.0, delivered.1).expect("first ≤ last");
                    let set = &mut self.sets[buyer][issuance];
                    set.insert(range).expect("a serial is in one place only");
                }
                Record::Logged => {
                    let log = &mut self.logs[buyer][issuance];
                    // Its whole length at once: grown by doubling, the logs' copies cost about
                    // 70 instructions and nearly an L2 miss per operation of the stream.
                    if log.capacity() == 0 {
                        log.reserve_exact(self.log_ranges_max);
                    }
                    log.push(delivered);
                    if log.len() == self.log_ranges_max {
                        merge_log(holding, log);
                    }
                }
                Record::Unsettled => unreachable!("returned above"),
            }
        }
        if let Some(books) = self.books.as_mut().filter(|b| b.emit) {
            let serials = match delivered_set {
                (_, Some(set)) => Serials::from_vec(vec![(IssuanceId(sell.issuance), set)]),
                (Some(range), None) => Serials::one(IssuanceId(sell.issuance), range),
                (None, None) => unreachable!("a fill delivers at least a tonne"),
            };
            let trade = TradeId(books.next_trade);
            books.next_trade += 1;
            books.events.push(Event::Traded(Fill {
                trade,
                instrument: InstrumentId(1),
                price_minor: price,
                quantity_tonnes: q,
                buy_order: OrderId(u64::from(buy.id)),
                sell_order: OrderId(u64::from(sell.id)),
                buyer: books.account(buyer as u32, true),
                seller: books.account(seller as u32, false),
                aggressor,
                serials,
                buyer_fee_minor: buyer_fee,
                seller_fee_minor: seller_fee,
                retirements: Vec::new().into(),
            }));
        }
    }

    fn cancel(&mut self, id: u32) {
        let order = std::mem::take(&mut self.orders[id as usize]);
        assert!(order.remaining > 0, "the stream cancels resting orders only");
        if let Some(books) = &mut self.books {
            books.unlink(id, books.account_index(order.member, order.buy));
            if !order.buy {
                let tonnes = &mut books.seller_tonnes[order.member as usize];
                tonnes.1 -= order.remaining;
                tonnes.0 += order.remaining;
            }
            if books.emit {
                books.events.push(Event::OrderCancelled {
                    order: OrderId(u64::from(id)),
                    instrument: InstrumentId(1),
                    side: side_of(order.buy),
                    price_minor: order.price,
                    remaining_tonnes: order.remaining,
                    reason: CancelReason::Requested,
                    rested: true,
                });
            }
        }
        if order.buy {
            let cash = &mut self.buyer_cash[order.member as usize];
            cash.1 -= order.cash_held;
            cash.0 += order.cash_held;
        } else {
            for range in order.serials {
                insert(&mut self.available[order.member as usize], range);
            }
        }
    }

    /// Merges every holding's log ([`Record::Logged`]), as a reader of the holdings would
    /// force. The bench calls it at the end of each timed pass: a holding's log takes
    /// [`LOG_RANGES_MAX`] ranges and a holding gets about 500 credits over the 2M-operation
    /// stream, so without it most credits' merges would never be paid for inside the pass
    /// (counted over the whole stream, `ladder-full`'s 893 instructions per operation become
    /// 1,056 with it). Rasid's pass does not merge its own logs at the end; what it leaves
    /// unmerged is at most 4,095 ranges per account, about 4% of its count on that stream.
    pub fn merge_logs(&mut self) {
        for (logs, holdings) in self.logs.iter_mut().zip(&mut self.holdings) {
            for (log, holding) in logs.iter_mut().zip(holdings) {
                if !log.is_empty() {
                    merge_log(holding, log);
                }
            }
        }
    }

    /// Every serial each seller was issued, found in exactly one place: the seller's available
    /// serials, a resting sell's reservation, or a buyer's holding. And no cash held for orders
    /// that no longer rest.
    pub fn check(&self) -> Result<(), String> {
        if let Some(books) = &self.books {
            books.check(&self.orders, &self.available)?;
        }
        let mut by_seller: Vec<Vec<Range>> = self.available.clone();
        for order in self.orders.iter().filter(|o| !o.buy) {
            by_seller[order.member as usize].extend(order.serials.iter().copied());
        }
        for holdings in self.holdings.iter().chain(&self.logs) {
            for (seller, held) in holdings.iter().enumerate() {
                by_seller[seller].extend(held.iter().copied());
            }
        }
        for sets in &self.sets {
            for (seller, set) in sets.iter().enumerate() {
                by_seller[seller].extend(set.ranges().map(|r| (r.first(), r.last())));
            }
        }
        for (seller, mut all) in by_seller.into_iter().enumerate() {
            all.sort_unstable();
            let first = seller as u64 * ISSUED_TONNES + 1;
            let mut next = first;
            for (f, l) in all {
                if f != next {
                    return Err(format!("seller {seller}: serial {next} missing or twice"));
                }
                next = l + 1;
            }
            if next != first + ISSUED_TONNES {
                return Err(format!("seller {seller}: serials end at {next}"));
            }
        }
        let held: i64 = self.orders.iter().filter(|o| o.buy).map(|o| o.cash_held).sum();
        let held_by_buyers: i64 = self.buyer_cash.iter().map(|c| c.1).sum();
        if held != held_by_buyers {
            return Err(format!("cash held {held_by_buyers}, resting buys hold {held}"));
        }
        // Cash is conserved: what the buyers were given is with them, the sellers or the fees.
        let wide = |v: i64| i128::from(v);
        let deposited = wide(BUYER_CASH_MINOR) * self.buyer_cash.len() as i128;
        let buyers: i128 = self.buyer_cash.iter().map(|c| wide(c.0) + wide(c.1)).sum();
        let sellers: i128 = self.seller_cash.iter().copied().map(wide).sum();
        if buyers + sellers + wide(self.fees) != deposited {
            return Err(format!("cash {} where {deposited} was deposited", buyers + sellers));
        }
        Ok(())
    }
}

/// One side of the floor's book. Neither form keeps an empty level: the naive one removes it,
/// the ladder counts only the levels that hold ids.
enum SideBook {
    Naive { levels: BTreeMap<i64, VecDeque<u32>>, bids: bool },
    Ladder(Ladder),
}

impl SideBook {
    fn new(book: BookKind, bids: bool, prices: (i64, i64)) -> SideBook {
        match book {
            BookKind::Naive => SideBook::Naive { levels: BTreeMap::new(), bids },
            BookKind::Ladder => SideBook::Ladder(Ladder::new(bids, prices)),
        }
    }

    /// The best price and the id at the front of its level (possibly a cancelled order's).
    fn best(&mut self) -> Option<(i64, u32)> {
        match self {
            SideBook::Naive { levels, bids } => {
                let (&price, queue) =
                    if *bids { levels.last_key_value() } else { levels.first_key_value() }?;
                Some((price, *queue.front().expect("no level is empty")))
            }
            SideBook::Ladder(ladder) => ladder.best(),
        }
    }

    fn pop_front(&mut self, price: i64) {
        match self {
            SideBook::Naive { levels, .. } => {
                let queue = levels.get_mut(&price).expect("a level of the book");
                queue.pop_front();
                if queue.is_empty() {
                    levels.remove(&price);
                }
            }
            SideBook::Ladder(ladder) => ladder.pop_front(price),
        }
    }

    fn push_back(&mut self, price: i64, id: u32) {
        match self {
            SideBook::Naive { levels, .. } => levels.entry(price).or_default().push_back(id),
            SideBook::Ladder(ladder) => ladder.push_back(price, id),
        }
    }
}

/// One side's levels in a vector indexed by `price - base`, over every price the stream uses,
/// with the index of the best level that may hold ids. Walking from it to the next level that
/// does is short: resting orders sit within 200 ticks of the touch.
struct Ladder {
    bids: bool,
    base: i64,
    levels: Vec<VecDeque<u32>>,
    /// No level better than this one holds ids.
    best: usize,
    /// Levels that hold at least one id.
    occupied: usize,
}

impl Ladder {
    fn new(bids: bool, (low, high): (i64, i64)) -> Ladder {
        let span = high.checked_sub(low).and_then(|d| d.checked_add(1));
        let span = span.and_then(|n| usize::try_from(n).ok()).expect("prices low..=high");
        let best = if bids { 0 } else { span - 1 };
        Ladder { bids, base: low, levels: vec![VecDeque::new(); span], best, occupied: 0 }
    }

    fn index(&self, price: i64) -> usize {
        usize::try_from(price - self.base).expect("a price within the stream's range")
    }

    fn best(&mut self) -> Option<(i64, u32)> {
        if self.occupied == 0 {
            return None;
        }
        // Some level holds ids and none better than `best` does, so the walk ends in range.
        while self.levels[self.best].is_empty() {
            self.best = if self.bids { self.best - 1 } else { self.best + 1 };
        }
        let front = *self.levels[self.best].front().expect("not empty");
        Some((self.base + self.best as i64, front))
    }

    fn pop_front(&mut self, price: i64) {
        let i = self.index(price);
        self.levels[i].pop_front().expect("a level with ids");
        if self.levels[i].is_empty() {
            self.occupied -= 1;
        }
    }

    fn push_back(&mut self, price: i64, id: u32) {
        let i = self.index(price);
        if self.levels[i].is_empty() {
            self.occupied += 1;
        }
        self.levels[i].push_back(id);
        // A better level becomes the best. The only occupied level may be worse than a best
        // left over from before the side emptied; pointing at it is not needed for
        // correctness (`best` walks to it) but saves that walk.
        let better = if self.bids { i > self.best } else { i < self.best };
        if better || self.occupied == 1 {
            self.best = i;
        }
    }
}

fn side_of(buy: bool) -> Side {
    if buy { Side::Buy } else { Side::Sell }
}

/// Adds one delivered range to a fill's serials: the first alone, the rest in a set with it.
fn collect_delivered(delivered: &mut (Option<SerialRange>, Option<RangeSet>), range: SerialRange) {
    match delivered {
        (None, _) => delivered.0 = Some(range),
        (Some(first), None) => {
            let mut set = RangeSet::from_range(*first);
            set.insert(range).expect("a fill's ranges are disjoint");
            delivered.1 = Some(set);
        }
        (Some(_), Some(set)) => set.insert(range).expect("a fill's ranges are disjoint"),
    }
}

/// A stream id as an index into the order vector (ids are dense from 1).
fn order_index(id: u64) -> u32 {
    u32::try_from(id).expect("streams have fewer than 2^32 orders")
}

/// Cash a buy holds for `quantity` at its limit: per tonne, the price and the taker fee
/// rounded up. Linear in the quantity, so the holds of an order's fills add up to its hold.
fn buy_hold(price: i64, quantity: u64) -> i64 {
    let per_tonne = price + (price * TAKER_BPS + BPS_PER_UNIT - 1) / BPS_PER_UNIT;
    per_tonne * quantity as i64
}

/// The lowest `quantity` serials of a sorted list of ranges.
fn take_lowest(ranges: &mut Vec<Range>, quantity: u64) -> Reserved {
    let mut out = Reserved::new();
    let mut need = quantity;
    let mut whole = 0;
    for &(first, last) in ranges.iter() {
        let n = last - first + 1;
        if n > need {
            break;
        }
        out.push((first, last));
        need -= n;
        whole += 1;
    }
    ranges.drain(..whole);
    if need > 0 {
        let (first, _) = ranges.first_mut().expect("sellers never run out in the bench");
        out.push((*first, *first + need - 1));
        *first += need;
    }
    out
}

/// Merges a holding's log into it and empties the log, which keeps its capacity.
fn merge_log(holding: &mut Vec<Range>, log: &mut Vec<Range>) {
    log.sort_unstable();
    merge(holding, log);
    log.clear();
}

/// Merges sorted disjoint ranges into a sorted list in one backward pass, then joins neighbours.
fn merge(ranges: &mut Vec<Range>, add: &[Range]) {
    let (n, k) = (ranges.len(), add.len());
    ranges.resize(n + k, (0, 0));
    let (mut i, mut j, mut w) = (n, k, n + k);
    while j > 0 {
        w -= 1;
        if i > 0 && ranges[i - 1].0 > add[j - 1].0 {
            ranges[w] = ranges[i - 1];
            i -= 1;
        } else {
            ranges[w] = add[j - 1];
            j -= 1;
        }
    }
    let start = i.saturating_sub(1);
    let mut out = start;
    for r in start + 1..n + k {
        let cur = ranges[r];
        assert!(ranges[out].1 < cur.0, "a serial is in one place only");
        if ranges[out].1 + 1 == cur.0 {
            ranges[out].1 = cur.1;
        } else {
            out += 1;
            ranges[out] = cur;
        }
    }
    ranges.truncate(out + 1);
}

/// Adds a range to a sorted list of disjoint, non-adjacent ranges, merging with neighbours.
fn insert(ranges: &mut Vec<Range>, (first, last): Range) {
    if let Some(top) = ranges.last_mut()
        && top.1 < first
    {
        if top.1 + 1 == first {
            top.1 = last;
        } else {
            ranges.push((first, last));
        }
        return;
    }
    let i = ranges.partition_point(|r| r.0 <= first);
    let below = i.checked_sub(1).map(|k| ranges[k]);
    let above = ranges.get(i).copied();
    assert!(
        below.is_none_or(|b| b.1 < first) && above.is_none_or(|a| last < a.0),
        "a serial is in one place only"
    );
    let joins_below = below.is_some_and(|b| b.1 + 1 == first);
    let joins_above = above.is_some_and(|a| last + 1 == a.0);
    match (joins_below, joins_above) {
        (true, true) => {
            ranges[i - 1].1 = ranges[i].1;
            ranges.remove(i);
        }
        (true, false) => ranges[i - 1].1 = last,
        (false, true) => ranges[i].0 = first,
        (false, false) => ranges.insert(i, (first, last)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench_matching::{Venue, generate, max_order_id, price_range};
    use rasid_core::Event;

    const MEMBERS: usize = 50;

    fn run(record: Record, ops: &[Op]) -> Floor {
        run_on(Kind::naive(record), ops)
    }

    fn run_on(kind: Kind, ops: &[Op]) -> Floor {
        let mut floor = Floor::new(kind, MEMBERS, max_order_id(ops), price_range(ops));
        // A holding gets a handful of credits on a short stream: merge its log every 4.
        floor.log_ranges_max = 4;
        for op in ops {
            floor.apply(*op);
        }
        floor
    }

    /// Merges a holding kept as appended into the sorted form.
    fn merged(appended: &[Range]) -> Vec<Range> {
        let mut out = Vec::new();
        let mut sorted = appended.to_vec();
        sorted.sort_unstable();
        for r in sorted {
            insert(&mut out, r);
        }
        out
    }

    #[test]
    fn the_floor_makes_rasids_trades_and_settles_every_serial_once() {
        let (stream, _, _) = generate(20_000, 42);
        let mut venue = Venue::new();
        let rasid_trades: usize = stream
            .iter()
            .map(|op| venue.apply(*op).iter().filter(|e| matches!(e, Event::Traded(_))).count())
            .sum();
        assert!(rasid_trades > 5_000, "the stream trades: {rasid_trades}");
        let sorted = run(Record::Sorted, &stream);
        let logged = run(Record::Logged, &stream);
        let range_set = run(Record::RangeSet, &stream);
        let appended = run(Record::Appended, &stream);
        let unsettled = run(Record::Unsettled, &stream);
        let ladder_set = run_on(Kind::ladder(Record::RangeSet), &stream);
        let ladder_logged = run_on(Kind::ladder(Record::Logged), &stream);
        let ladder_appended = run_on(Kind::ladder(Record::Appended), &stream);
        let ladder_book = run_on(Kind::ladder(Record::Unsettled), &stream);
        assert!(unsettled.holdings.iter().flatten().all(Vec::is_empty));
        assert!(logged.holdings.iter().flatten().any(|h| !h.is_empty()), "some logs were merged");
        assert!(logged.logs.iter().flatten().any(|l| !l.is_empty()), "some logs are not");
        let mut all_merged = run(Record::Logged, &stream);
        all_merged.merge_logs();
        assert!(all_merged.logs.iter().flatten().all(Vec::is_empty), "every log merged");
        all_merged.check().expect("merging moves no serial");
        let floors = [
            &sorted,
            &range_set,
            &logged,
            &appended,
            &unsettled,
            &ladder_set,
            &ladder_logged,
            &ladder_appended,
            &ladder_book,
        ];
        for floor in floors {
            assert_eq!(floor.trades, rasid_trades as u64);
            floor.check().expect("every serial in one place");
        }
        // The ladder book matches exactly as the naive one does: the same serials go to the
        // same buyers.
        assert_eq!(ladder_set.sets, range_set.sets);
        // Every record holds the same serials, as many tonnes as Rasid's holding of them.
        for buyer in 0..MEMBERS {
            for seller in 0..MEMBERS {
                let held = &sorted.holdings[buyer][seller];
                for floor in [&appended, &ladder_appended] {
                    assert_eq!(&merged(&floor.holdings[buyer][seller]), held);
                }
                for floor in [&logged, &ladder_logged] {
                    let mut logged_all = floor.holdings[buyer][seller].clone();
                    logged_all.extend(&floor.logs[buyer][seller]);
                    assert_eq!(&merged(&logged_all), held);
                }
                assert_eq!(&all_merged.holdings[buyer][seller], held);
                let set = &range_set.sets[buyer][seller];
                let set: Vec<Range> = set.ranges().map(|r| (r.first(), r.last())).collect();
                assert_eq!(&set, held);
                let tonnes: u64 = held.iter().map(|(f, l)| l - f + 1).sum();
                let rasid = venue
                    .state
                    .holdings_of(rasid_core::AccountId(3 + buyer as u64))
                    .filter(|(i, _)| i.0 == seller as u64 + 1)
                    .map(|(_, h)| h.available.quantity_tonnes())
                    .sum::<u64>();
                assert_eq!(tonnes, rasid, "buyer {buyer}, seller {seller}");
            }
        }
    }

    #[test]
    fn the_full_floor_emits_rasids_events_for_every_operation() {
        let (stream, _, _) = generate(20_000, 42);
        let mut venue = Venue::new();
        let (max_id, prices) = (max_order_id(&stream), price_range(&stream));
        let mut floor = Floor::new(Kind::ladder_full(), MEMBERS, max_id, prices);
        // A holding gets a handful of credits on a short stream: merge its log every 4.
        floor.log_ranges_max = 4;
        let (mut trades, mut multi_range) = (0, 0);
        for (n, op) in stream.iter().enumerate() {
            let rasid: Vec<Event> = venue.apply(*op).iter().cloned().collect();
            floor.apply(*op);
            let books = floor.books.as_ref().expect("the full floor keeps the books");
            let ours: Vec<Event> = books.events.iter().cloned().collect();
            assert_eq!(ours, rasid, "operation {n}: {op:?}");
            for event in &ours {
                if let Event::Traded(fill) = event {
                    trades += 1;
                    let ranges: usize =
                        fill.serials.iter().map(|(_, set)| set.ranges().count()).sum();
                    multi_range += usize::from(ranges > 1);
                }
            }
        }
        assert!(trades > 5_000 && multi_range > 0, "{trades} trades, {multi_range} multi-range");
        floor.check().expect("the books agree with the orders and serials");
    }

    #[test]
    fn the_quiet_floor_keeps_the_full_floors_books_without_a_single_event() {
        let (stream, _, _) = generate(20_000, 42);
        let (max_id, prices) = (max_order_id(&stream), price_range(&stream));
        let mut full = Floor::new(Kind::ladder_full(), MEMBERS, max_id, prices);
        let mut quiet = Floor::new(Kind::ladder_quiet(), MEMBERS, max_id, prices);
        let mut events = 0;
        for op in &stream {
            full.apply(*op);
            quiet.apply(*op);
            events += full.books.as_ref().expect("kept").events.len();
            assert!(quiet.books.as_ref().expect("kept").events.is_empty(), "{op:?}");
        }
        assert!(events > 20_000, "the full floor emitted {events} events");
        for floor in [&mut full, &mut quiet] {
            floor.merge_logs();
            floor.check().expect("the books agree with the orders and serials");
        }
        assert_eq!(quiet.trades, full.trades);
        assert_eq!(quiet.holdings, full.holdings, "the buyers' serials");
        assert_eq!(quiet.available, full.available, "the sellers' serials");
        assert_eq!((&quiet.buyer_cash, &quiet.seller_cash), (&full.buyer_cash, &full.seller_cash));
        let counts = |f: &Floor| f.books.as_ref().map(|b| b.seller_tonnes.clone());
        assert_eq!(counts(&quiet), counts(&full), "available and reserved tonnes");
        assert_eq!(Kind::ladder_quiet().name(), "ladder-quiet");
    }

    #[test]
    fn the_full_floor_check_finds_a_broken_list_a_wrong_count_and_a_refusal() {
        let (stream, _, _) = generate(2_000, 7);
        let full = Kind::ladder_full();
        let mut floor = Floor::new(full, MEMBERS, max_order_id(&stream), price_range(&stream));
        for op in &stream {
            floor.apply(*op);
        }
        floor.check().expect("consistent");
        let books = floor.books.as_mut().expect("the full floor keeps the books");
        let head = books.account_heads.iter().position(|&h| h != NO_ORDER).expect("an open order");
        let first = books.account_heads[head];
        books.account_heads[head] = books.account_links[first as usize].1;
        assert!(floor.check().is_err(), "an open order missing from its account's list");
        let books = floor.books.as_mut().expect("the full floor keeps the books");
        books.account_heads[head] = first;
        floor.check().expect("consistent again");
        let books = floor.books.as_mut().expect("the full floor keeps the books");
        books.seller_tonnes[0].1 += 1;
        assert!(floor.check().is_err(), "a reserved tonne no open sell holds");
        let books = floor.books.as_mut().expect("the full floor keeps the books");
        books.seller_tonnes[0].1 -= 1;
        // A sell of more than its seller holds is refused, changes nothing, and is reported.
        let id = max_order_id(&stream) + 1;
        let price = price_range(&stream).0;
        let huge =
            Op::Place { id, side: Side::Sell, price, quantity: 2 * ISSUED_TONNES, member: 0 };
        let mut fresh = Floor::new(full, MEMBERS, id, price_range(&stream));
        let before = fresh.books.as_ref().map(|b| b.seller_tonnes.clone());
        fresh.apply(huge);
        let books = fresh.books.as_ref().expect("the full floor keeps the books");
        assert_eq!((books.refused, Some(books.seller_tonnes.clone())), (1, before));
        assert!(books.events.is_empty() && fresh.asks.best().is_none(), "nothing accepted");
        assert!(fresh.check().is_err(), "a refusal is reported");
    }

    #[test]
    fn the_check_finds_a_serial_held_twice_or_lost_and_cash_from_nothing() {
        let (stream, _, _) = generate(2_000, 7);
        let mut floor = run(Record::Sorted, &stream);
        floor.check().expect("consistent");
        let (first, _) = floor.available[3][0];
        floor.holdings[0][3].push((first, first));
        assert!(floor.check().is_err(), "a serial both available and held");
        floor.holdings[0][3].pop();
        floor.available[3][0].0 += 1;
        assert!(floor.check().is_err(), "a serial lost");
        floor.available[3][0].0 -= 1;
        floor.check().expect("consistent again");
        floor.fees += 1;
        assert!(floor.check().is_err(), "cash made from nothing");
    }

    #[test]
    fn the_ladder_agrees_with_the_naive_book_on_every_step() {
        // A seeded walk in rounds: each round fills a side near a touch that has moved since
        // the last round, then drains it to empty, so the ladder's remembered best is stale
        // at every refill and walks across emptied levels on the way down.
        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n
        };
        for bids in [true, false] {
            let mut naive = SideBook::new(BookKind::Naive, bids, (100, 400));
            let mut ladder = SideBook::new(BookKind::Ladder, bids, (100, 400));
            let (mut id, mut emptied) = (0, 0);
            for round in 0..200 {
                let touch = 130 + next(241) as i64;
                for step in 0..150 {
                    // Mostly pushes within 30 ticks of the touch; a pop now and then.
                    if next(4) == 0 {
                        if let Some((price, _)) = naive.best() {
                            naive.pop_front(price);
                            ladder.pop_front(price);
                        }
                    } else {
                        let price = touch - 30 + next(61) as i64;
                        id += 1;
                        naive.push_back(price, id);
                        ladder.push_back(price, id);
                    }
                    assert_eq!(naive.best(), ladder.best(), "round {round}, step {step}");
                }
                while let Some((price, _)) = naive.best() {
                    naive.pop_front(price);
                    ladder.pop_front(price);
                    assert_eq!(naive.best(), ladder.best(), "round {round}, draining");
                }
                emptied += 1;
            }
            assert_eq!(emptied, 200, "every round empties the side");
        }
    }

    #[test]
    fn insert_merges_neighbours_and_take_lowest_splits() {
        let mut v = vec![(1, 5), (10, 12)];
        insert(&mut v, (6, 9));
        assert_eq!(v, vec![(1, 12)]);
        insert(&mut v, (20, 20));
        insert(&mut v, (14, 15));
        assert_eq!(v, vec![(1, 12), (14, 15), (20, 20)]);
        let taken = take_lowest(&mut v, 13);
        assert_eq!(taken.as_slice(), [(1, 12), (14, 14)]);
        assert_eq!(v, vec![(15, 15), (20, 20)]);
    }

    #[test]
    fn merge_joins_neighbours_across_both_lists() {
        let mut v = vec![(1, 5), (10, 12), (30, 31)];
        merge(&mut v, &[(0, 0), (6, 9), (14, 14), (40, 41)]);
        assert_eq!(v, vec![(0, 12), (14, 14), (30, 31), (40, 41)]);
        let mut empty = Vec::new();
        merge(&mut empty, &[(3, 4)]);
        assert_eq!(empty, vec![(3, 4)]);
    }

    #[test]
    #[should_panic(expected = "a serial is in one place only")]
    fn merge_refuses_a_serial_already_there() {
        let mut v = vec![(1, 5), (10, 12)];
        merge(&mut v, &[(12, 13)]);
    }

    #[test]
    #[should_panic(expected = "a serial is in one place only")]
    fn insert_refuses_a_serial_already_there() {
        let mut v = vec![(1, 5), (10, 12)];
        insert(&mut v, (4, 6));
    }
}
