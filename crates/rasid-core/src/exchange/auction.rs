//! Sealed-bid auctions: lots of credits offered by a seller, bids that hold their cash until
//! close, and a deterministic clearing that settles every allocation delivery versus payment.
//!
//! Clearing a lot (`clear_lot`, a pure function of the lot and its bids):
//! 1. **Guaranteed allocations first.** Each approved bidder with a guaranteed minimum gets up to
//!    that much of what it bid for, taken from its highest-priced bids. If the guarantees exceed
//!    the supply they are scaled down pro rata in whole increments.
//! 2. **Then bids by price, highest first,** until the lot is sold. Where the bids at the
//!    marginal price ask for more than is left, each gets its share pro rata, rounded down to
//!    whole increments; the increments left over go one at a time to the bids with the largest
//!    rounding remainder, ties broken by account id and then by the bid's own terms — never by
//!    when a bid arrived, so the result depends only on the bids themselves.
//! 3. **Price.** Uniform price: every winner pays the lowest price among the bids that received
//!    anything (never below the reserve, since no bid can be). Pay-as-bid: each pays its own.
//! 4. Unsold tonnes return to the seller. Fees follow the instrument's schedule: the buyer pays
//!    the taker rate, the seller the maker rate.

use super::engine::Serials;
use super::fees::FeeSchedule;
use super::{InstrumentId, InstrumentStatus, Underlying};
use crate::command::Envelope;
use crate::event::Event;
use crate::ids::{AccountId, OrgId};
use crate::model::Role;
use crate::rejection::Rejection;
use crate::state::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Lots one auction may offer, and guaranteed allocations one lot may carry.
pub const LOTS_MAX: usize = 100;
pub const GUARANTEES_MAX: usize = 1_000;

crate::ids::id_type!(
    /// A sealed-bid auction.
    AuctionId, "auc"
);
crate::ids::id_type!(
    /// A sealed bid in an auction.
    BidId, "bid"
);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuctionRule {
    UniformPrice,
    PayAsBid,
}

impl AuctionRule {
    pub fn as_str(self) -> &'static str {
        match self {
            AuctionRule::UniformPrice => "uniform_price",
            AuctionRule::PayAsBid => "pay_as_bid",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotSpec {
    pub instrument: InstrumentId,
    pub seller: AccountId,
    pub quantity_tonnes: u64,
    pub reserve_price_minor: i64,
    pub min_bid_tonnes: u64,
    /// Bid quantities and allocations are multiples of this.
    pub increment_tonnes: u64,
    /// Approved bidders guaranteed at least this many tonnes of what they bid for.
    pub guaranteed: Vec<(OrgId, u64)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionSpec {
    pub name: String,
    pub rule: AuctionRule,
    pub opens_at_ms: i64,
    pub closes_at_ms: i64,
    /// Who may bid; empty means every member organization.
    pub approved_bidders: Vec<OrgId>,
    pub lots: Vec<LotSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub bid: BidId,
    pub account: AccountId,
    pub org: OrgId,
    pub quantity_tonnes: u64,
    /// Per tonne.
    pub price_minor: i64,
    /// Of `quantity_tonnes`, how much came from a guaranteed allocation.
    pub guaranteed_tonnes: u64,
    pub serials: Serials,
    pub buyer_fee_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotResult {
    /// Uniform price, or the lowest accepted price under pay-as-bid; `None` when nothing sold.
    pub clearing_price_minor: Option<i64>,
    pub sold_tonnes: u64,
    pub returned_tonnes: u64,
    pub bids: u32,
    pub bidders: u32,
    /// Private: who got what.
    pub allocations: Vec<Allocation>,
    /// Public and anonymous: for each bid price, highest first, the tonnes bid at or above it.
    pub demand_curve: Vec<(i64, u64)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    pub spec: LotSpec,
    /// The seller's serials held for the lot until close.
    pub reserved_serials: Serials,
    /// Open bids, in id order. Kept with their lot so closing takes them in one move.
    pub(crate) bids: Vec<Bid>,
    pub result: Option<LotResult>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuctionStatus {
    Open,
    Closed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auction {
    pub id: AuctionId,
    pub name: String,
    pub rule: AuctionRule,
    pub opens_at_ms: i64,
    pub closes_at_ms: i64,
    pub approved_bidders: Vec<OrgId>,
    pub lots: Vec<Lot>,
    pub status: AuctionStatus,
}

/// What a bidder asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BidTerms {
    pub auction: AuctionId,
    pub lot: u32,
    pub account: AccountId,
    pub price_minor: i64,
    pub quantity_tonnes: u64,
}

/// A sealed bid. Only its owner and, after close, the results see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bid {
    pub id: BidId,
    pub auction: AuctionId,
    pub lot: u32,
    pub account: AccountId,
    pub org: OrgId,
    pub price_minor: i64,
    pub quantity_tonnes: u64,
    pub reserved_cash_minor: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuctionState {
    pub(crate) auctions: BTreeMap<AuctionId, Auction>,
    pub(crate) next_auction: u64,
    pub(crate) next_bid: u64,
}

/// A bid as clearing sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BidView {
    pub id: BidId,
    pub account: AccountId,
    pub org: OrgId,
    pub price_minor: i64,
    pub quantity_tonnes: u64,
}

/// What clearing decided for one bid: `(tonnes, of which guaranteed)`.
pub type Awards = BTreeMap<BidId, (u64, u64)>;

/// Clears one lot. Pure: the same lot and the same bids, in any order, give the same awards.
pub fn clear_lot(spec: &LotSpec, bids: &[BidView]) -> Awards {
    let inc = spec.increment_tonnes;
    let mut order: Vec<BidView> = bids.to_vec();
    // Highest price first; equal prices by the bid's own terms, never by arrival. The key is
    // unique (it ends with the bid id), so an unstable sort gives one order for any input order.
    order.sort_unstable_by_key(|b| {
        (std::cmp::Reverse(b.price_minor), std::cmp::Reverse(b.quantity_tonnes), b.account, b.id)
    });
    // (tonnes, of which guaranteed) per position in `order`.
    let mut won: Vec<(u64, u64)> = vec![(0, 0); order.len()];
    let mut supply = spec.quantity_tonnes;

    // 1. Guarantees, capped by what each bidder asked for, scaled down if they exceed supply.
    // Each guaranteed bidder's bids are found once, highest price first.
    let guaranteed_orgs: std::collections::BTreeSet<OrgId> =
        spec.guaranteed.iter().map(|(o, _)| *o).collect();
    let mut by_org: BTreeMap<OrgId, Vec<usize>> = BTreeMap::new();
    for (i, b) in order.iter().enumerate().filter(|(_, b)| guaranteed_orgs.contains(&b.org)) {
        by_org.entry(b.org).or_default().push(i);
    }
    let bid_total = |org: &OrgId| {
        by_org.get(org).map_or(0, |ix| ix.iter().map(|i| order[*i].quantity_tonnes).sum::<u64>())
    };
    let asked: Vec<(OrgId, u64)> = spec
        .guaranteed
        .iter()
        .map(|(org, g)| (*org, (*g).min(bid_total(org))))
        .filter(|(_, q)| *q > 0)
        .collect();
    let granted = share_out(&asked, supply, inc, |(org, _)| (org.0, 0));
    for ((org, _), mut give) in asked.iter().zip(granted) {
        supply -= give;
        for &i in by_org.get(org).map_or(&[][..], Vec::as_slice) {
            if give == 0 {
                break;
            }
            let q = (order[i].quantity_tonnes - won[i].0).min(give);
            won[i].0 += q;
            won[i].1 += q;
            give -= q;
        }
    }

    // 2. Competitive bids, level by level from the highest price.
    let mut k = 0;
    while k < order.len() && supply > 0 {
        let price = order[k].price_minor;
        let end = k + order[k..].iter().take_while(|b| b.price_minor == price).count();
        let wants: Vec<(usize, u64)> = (k..end)
            .map(|i| (i, order[i].quantity_tonnes - won[i].0))
            .filter(|(_, w)| *w > 0)
            .collect();
        let gets = share_out(&wants, supply, inc, |(i, _)| (order[*i].account.0, order[*i].id.0));
        for ((i, _), q) in wants.iter().zip(gets) {
            won[*i].0 += q;
            supply -= q;
        }
        k = end;
    }
    order.iter().zip(won).filter(|(_, w)| w.0 > 0).map(|(b, w)| (b.id, w)).collect()
}

/// Shares `supply` among requests in whole increments: everyone in full if it suffices, else
/// pro rata rounded down, the leftover increments to the largest remainders (ties by `key`).
fn share_out<T>(
    requests: &[(T, u64)],
    supply: u64,
    inc: u64,
    key: impl Fn(&(T, u64)) -> (u64, u64),
) -> Vec<u64> {
    let demand: u64 = requests.iter().map(|(_, q)| *q).sum();
    if demand <= supply {
        return requests.iter().map(|(_, q)| *q).collect();
    }
    let (supply_w, demand_w) = (u128::from(supply), u128::from(demand));
    let mut gets: Vec<u64> = Vec::with_capacity(requests.len());
    let mut remainders: Vec<(u128, (u64, u64), usize)> = Vec::with_capacity(requests.len());
    for (i, r) in requests.iter().enumerate() {
        let exact = u128::from(r.1) * supply_w; // share × demand
        let units = exact / (demand_w * u128::from(inc));
        let get = u64::try_from(units).expect("a share never exceeds the request") * inc;
        gets.push(get);
        remainders.push((exact - u128::from(get) * demand_w, key(r), i));
    }
    let mut left = supply - gets.iter().sum::<u64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    // Each pass gives at most one increment to each request with room; a request can run out of
    // room only by being served in full, so the passes end.
    while left >= inc {
        let before = left;
        for &(_, _, i) in &remainders {
            if left < inc {
                break;
            }
            if gets[i] + inc <= requests[i].1 {
                gets[i] += inc;
                left -= inc;
            }
        }
        if left == before {
            break;
        }
    }
    gets
}

impl State {
    pub fn auction(&self, id: AuctionId) -> Option<&Auction> {
        self.auctions.auctions.get(&id)
    }

    pub fn auctions(&self) -> impl Iterator<Item = &Auction> {
        self.auctions.auctions.values()
    }

    /// An auction's open bids. Callers outside the engine must show a bid only to its owner.
    pub fn bids_of(&self, auction: AuctionId) -> impl Iterator<Item = &Bid> {
        self.auctions
            .auctions
            .get(&auction)
            .into_iter()
            .flat_map(|a| a.lots.iter())
            .flat_map(|l| l.bids.iter())
    }

    /// An open bid, wherever it is. A scan over open auctions: for people, not hot paths.
    pub fn bid(&self, id: BidId) -> Option<&Bid> {
        self.auctions.auctions.values().find_map(|a| {
            a.lots
                .iter()
                .find_map(|l| l.bids.binary_search_by_key(&id, |b| b.id).ok().map(|k| &l.bids[k]))
        })
    }

    /// Where an open bid of one auction is: `(lot, position)`.
    fn find_bid(&self, auction: AuctionId, id: BidId) -> Option<(usize, usize)> {
        let a = self.auctions.auctions.get(&auction)?;
        a.lots
            .iter()
            .enumerate()
            .find_map(|(i, l)| l.bids.binary_search_by_key(&id, |b| b.id).ok().map(|k| (i, k)))
    }

    fn bid_mut(&mut self, auction: AuctionId, at: (usize, usize)) -> &mut Bid {
        &mut self.auctions.auctions.get_mut(&auction).expect("found").lots[at.0].bids[at.1]
    }

    fn lot_terms(
        &self,
        spec: &LotSpec,
    ) -> Result<(FeeSchedule, crate::money::Currency, i64, Underlying), Rejection> {
        let inst =
            self.exchange.instruments.get(&spec.instrument).ok_or(Rejection::UnknownInstrument)?;
        if inst.status == InstrumentStatus::Closed {
            return Err(Rejection::InstrumentClosed);
        }
        Ok((inst.spec.fees, inst.spec.currency, inst.spec.tick_minor, inst.spec.underlying))
    }

    pub(crate) fn create_auction(
        &mut self,
        spec: &AuctionSpec,
        env: &Envelope,
    ) -> Result<Vec<Event>, Rejection> {
        crate::engine::check_name(&spec.name)?;
        if spec.lots.is_empty()
            || spec.lots.len() > LOTS_MAX
            || spec.opens_at_ms >= spec.closes_at_ms
            || spec.closes_at_ms <= env.time_ms
        {
            return Err(Rejection::InvalidAuction);
        }
        if spec.approved_bidders.iter().any(|o| !self.orgs.contains_key(o)) {
            return Err(Rejection::UnknownOrganization);
        }
        // What each seller must hold per class, across all lots, before anything is reserved.
        let mut need: BTreeMap<(AccountId, Underlying), u64> = BTreeMap::new();
        for lot in &spec.lots {
            let (_, _, tick, underlying) = self.lot_terms(lot)?;
            if !self.accounts.contains_key(&lot.seller) {
                return Err(Rejection::UnknownAccount);
            }
            let inc = lot.increment_tonnes;
            let valid = lot.quantity_tonnes > 0
                && inc > 0
                && lot.quantity_tonnes.is_multiple_of(inc)
                && lot.min_bid_tonnes >= inc
                && lot.min_bid_tonnes.is_multiple_of(inc)
                && lot.reserve_price_minor > 0
                && lot.reserve_price_minor % tick == 0
                && lot.guaranteed.len() <= GUARANTEES_MAX
                && lot.guaranteed.iter().all(|(_, g)| *g > 0 && g.is_multiple_of(inc))
                && lot
                    .guaranteed
                    .iter()
                    .map(|(o, _)| o)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len()
                    == lot.guaranteed.len();
            if !valid {
                return Err(Rejection::InvalidAuction);
            }
            if lot.guaranteed.iter().any(|(o, _)| !self.orgs.contains_key(o)) {
                return Err(Rejection::UnknownOrganization);
            }
            let n = need.entry((lot.seller, underlying)).or_default();
            *n = n.checked_add(lot.quantity_tonnes).ok_or(Rejection::AmountOverflow)?;
        }
        for ((account, underlying), tonnes) in &need {
            if self.underlying_available(*account, underlying) < *tonnes {
                return Err(Rejection::InsufficientCredits);
            }
        }
        let id = AuctionId(self.auctions.next_auction + 1);
        self.auctions.next_auction += 1;
        let mut lots = Vec::with_capacity(spec.lots.len());
        for lot in &spec.lots {
            let (_, _, _, underlying) = self.lot_terms(lot).expect("checked above");
            let reserved_serials =
                self.reserve_underlying(lot.seller, &underlying, lot.quantity_tonnes);
            lots.push(Lot { spec: lot.clone(), reserved_serials, bids: Vec::new(), result: None });
        }
        self.auctions.auctions.insert(
            id,
            Auction {
                id,
                name: spec.name.clone(),
                rule: spec.rule,
                opens_at_ms: spec.opens_at_ms,
                closes_at_ms: spec.closes_at_ms,
                approved_bidders: spec.approved_bidders.clone(),
                lots,
                status: AuctionStatus::Open,
            },
        );
        Ok(vec![Event::AuctionCreated { auction: id }])
    }

    /// Checks a bid's terms against its auction and lot; returns the cash it must hold.
    fn check_bid(
        &self,
        actor: OrgId,
        t: &BidTerms,
        now_ms: i64,
    ) -> Result<(i64, crate::money::Currency), Rejection> {
        let BidTerms { auction, lot, account, price_minor: price, quantity_tonnes: quantity } = *t;
        let a = self.auctions.auctions.get(&auction).ok_or(Rejection::UnknownAuction)?;
        if a.status == AuctionStatus::Closed || now_ms >= a.closes_at_ms {
            return Err(Rejection::BiddingClosed);
        }
        if now_ms < a.opens_at_ms {
            return Err(Rejection::BiddingNotOpen);
        }
        let owner = self.accounts.get(&account).ok_or(Rejection::UnknownAccount)?.org;
        if owner != actor {
            return Err(Rejection::Unauthorized);
        }
        let approved = if a.approved_bidders.is_empty() {
            self.orgs.get(&actor).is_some_and(|o| o.role == Role::Member)
        } else {
            a.approved_bidders.contains(&actor)
        };
        if !approved {
            return Err(Rejection::NotApprovedBidder);
        }
        let l =
            a.lots.get(usize::try_from(lot).unwrap_or(usize::MAX)).ok_or(Rejection::UnknownLot)?;
        let (fees, currency, tick, _) = self.lot_terms(&l.spec)?;
        if price % tick != 0 {
            return Err(Rejection::PriceOffTick);
        }
        if price < l.spec.reserve_price_minor {
            return Err(Rejection::BelowReserve);
        }
        if quantity < l.spec.min_bid_tonnes {
            return Err(Rejection::BelowMinimumBid);
        }
        if !quantity.is_multiple_of(l.spec.increment_tonnes) {
            return Err(Rejection::OffIncrement);
        }
        Ok((fees.buy_hold(quantity, l.spec.increment_tonnes, price)?, currency))
    }

    pub(crate) fn place_bid(
        &mut self,
        actor: OrgId,
        t: &BidTerms,
        env: &Envelope,
    ) -> Result<Vec<Event>, Rejection> {
        let (hold, currency) = self.check_bid(actor, t, env.time_ms)?;
        let BidTerms { auction, lot, account, price_minor: price, quantity_tonnes: quantity } = *t;
        if self.balance(account, currency).available_minor < hold {
            return Err(Rejection::InsufficientCash);
        }
        self.hold_cash(account, currency, hold);
        let id = BidId(self.auctions.next_bid + 1);
        self.auctions.next_bid += 1;
        let bid = Bid {
            id,
            auction,
            lot,
            account,
            org: actor,
            price_minor: price,
            quantity_tonnes: quantity,
            reserved_cash_minor: hold,
        };
        let lot_bids =
            &mut self.auctions.auctions.get_mut(&auction).expect("checked").lots[lot as usize].bids;
        // Ids only grow, so pushing keeps the lot's bids in id order.
        lot_bids.push(bid);
        Ok(vec![Event::BidPlaced { bid: id, auction, lot }])
    }

    pub(crate) fn change_bid(
        &mut self,
        actor: OrgId,
        auction: AuctionId,
        id: BidId,
        price: Option<i64>,
        quantity: Option<u64>,
        env: &Envelope,
    ) -> Result<Vec<Event>, Rejection> {
        let at = self.find_bid(auction, id).ok_or(Rejection::UnknownBid)?;
        let b = self.bid_mut(auction, at).clone();
        if b.org != actor {
            return Err(Rejection::Unauthorized);
        }
        let (price, quantity) =
            (price.unwrap_or(b.price_minor), quantity.unwrap_or(b.quantity_tonnes));
        if price == b.price_minor && quantity == b.quantity_tonnes {
            return Err(Rejection::NothingToAmend);
        }
        let terms = BidTerms {
            auction: b.auction,
            lot: b.lot,
            account: b.account,
            price_minor: price,
            quantity_tonnes: quantity,
        };
        let (hold, currency) = self.check_bid(actor, &terms, env.time_ms)?;
        let extra = hold - b.reserved_cash_minor;
        if extra > self.balance(b.account, currency).available_minor {
            return Err(Rejection::InsufficientCash);
        }
        if extra > 0 {
            self.hold_cash(b.account, currency, extra);
        } else if extra < 0 {
            self.release_cash(b.account, currency, -extra);
        }
        let stored = self.bid_mut(auction, at);
        stored.price_minor = price;
        stored.quantity_tonnes = quantity;
        stored.reserved_cash_minor = hold;
        Ok(vec![Event::BidChanged { bid: id, auction: b.auction, lot: b.lot }])
    }

    pub(crate) fn withdraw_bid(
        &mut self,
        actor: OrgId,
        auction: AuctionId,
        id: BidId,
        env: &Envelope,
    ) -> Result<Vec<Event>, Rejection> {
        let at = self.find_bid(auction, id).ok_or(Rejection::UnknownBid)?;
        let b = self.bid_mut(auction, at).clone();
        if b.org != actor {
            return Err(Rejection::Unauthorized);
        }
        let a = &self.auctions.auctions[&b.auction];
        if env.time_ms >= a.closes_at_ms {
            return Err(Rejection::BiddingClosed);
        }
        let currency = self.lot_terms(&a.lots[b.lot as usize].spec)?.1;
        self.release_cash(b.account, currency, b.reserved_cash_minor);
        self.auctions.auctions.get_mut(&auction).expect("found").lots[at.0].bids.remove(at.1);
        Ok(vec![Event::BidWithdrawn { bid: id, auction: b.auction, lot: b.lot }])
    }

    pub(crate) fn close_auction(
        &mut self,
        id: AuctionId,
        env: &Envelope,
    ) -> Result<Vec<Event>, Rejection> {
        let a = self.auctions.auctions.get(&id).ok_or(Rejection::UnknownAuction)?;
        if a.status == AuctionStatus::Closed {
            return Err(Rejection::AuctionClosed);
        }
        if env.time_ms < a.closes_at_ms {
            return Err(Rejection::AuctionNotEnded);
        }
        let lots_count = a.lots.len();
        let rule = a.rule;
        let by_lot: Vec<Vec<Bid>> = (0..lots_count)
            .map(|lot| {
                std::mem::take(
                    &mut self.auctions.auctions.get_mut(&id).expect("exists").lots[lot].bids,
                )
            })
            .collect();
        let mut events = Vec::new();
        for (lot, lot_bids) in by_lot.iter().enumerate() {
            let lot_bids: Vec<&Bid> = lot_bids.iter().collect();
            let result = self.settle_lot(id, lot, rule, &lot_bids);
            let instrument =
                self.auctions.auctions.get(&id).expect("exists").lots[lot].spec.instrument;
            events.push(Event::LotCleared {
                auction: id,
                lot: u32::try_from(lot).expect("at most LOTS_MAX lots"),
                instrument,
                clearing_price_minor: result.clearing_price_minor,
                sold_tonnes: result.sold_tonnes,
            });
            self.auctions.auctions.get_mut(&id).expect("exists").lots[lot].result = Some(result);
        }
        self.auctions.auctions.get_mut(&id).expect("exists").status = AuctionStatus::Closed;
        events.push(Event::AuctionClosed { auction: id });
        Ok(events)
    }

    /// Clears one lot and settles it: serials to the winners, cash to the seller and the fee
    /// account, every bid's hold spent or released, unsold serials back to the seller.
    fn settle_lot(
        &mut self,
        id: AuctionId,
        lot: usize,
        rule: AuctionRule,
        bids: &[&Bid],
    ) -> LotResult {
        let spec = self.auctions.auctions[&id].lots[lot].spec.clone();
        let (fees, currency, _, underlying) =
            self.lot_terms(&spec).expect("checked at creation; instruments never disappear");
        let views: Vec<BidView> = bids
            .iter()
            .map(|b| BidView {
                id: b.id,
                account: b.account,
                org: b.org,
                price_minor: b.price_minor,
                quantity_tonnes: b.quantity_tonnes,
            })
            .collect();
        let awards = clear_lot(&spec, &views);
        // Bids arrive in id order, as do awards: prices are found by binary search and awards
        // matched by walking both lists, not by a map look-up per bid.
        debug_assert!(bids.windows(2).all(|w| w[0].id < w[1].id));
        let price_of =
            |id: &BidId| bids.binary_search_by_key(id, |b| b.id).map(|k| bids[k].price_minor);
        let clearing = awards.keys().filter_map(|id| price_of(id).ok()).min();
        let mut awarded = awards.iter().peekable();
        let mut reserved = std::mem::take(
            &mut self.auctions.auctions.get_mut(&id).expect("exists").lots[lot].reserved_serials,
        );
        let mut allocations = Vec::new();
        let fee_account = self.fee_account.expect("initialized");
        // Losing bids far outnumber winners; their refunds are summed per account first.
        let mut refunds: BTreeMap<AccountId, i64> = BTreeMap::new();
        for b in bids {
            let award = awarded.next_if(|(id, _)| **id == b.id).map(|(_, a)| *a);
            let Some((q, guaranteed)) = award else {
                *refunds.entry(b.account).or_default() += b.reserved_cash_minor;
                continue;
            };
            let price = match rule {
                AuctionRule::UniformPrice => clearing.expect("someone won"),
                AuctionRule::PayAsBid => b.price_minor,
            };
            let serials = reserved.take_front(q);
            for (issuance, set) in &serials {
                self.unreserve(spec.seller, issuance, set.quantity_tonnes());
                self.credit_serials(b.account, issuance, set);
            }
            let notional = i128::from(q) * i128::from(price);
            let buyer_fee = fees.fee(notional, fees.taker_bps);
            let seller_fee = fees.fee(notional, fees.maker_bps).min(notional);
            let hold_q = fees
                .buy_hold(q, spec.increment_tonnes, b.price_minor)
                .expect("within the bid's hold");
            let change = i128::from(hold_q) - notional - buyer_fee;
            assert!(change >= 0, "a bid's hold covers its allocation at or below its price");
            // The part of the hold for tonnes not allocated goes back too.
            let unallocated = b.reserved_cash_minor - hold_q;
            self.spend_held_cash(
                b.account,
                currency,
                hold_q,
                i64::try_from(change).expect("below the hold"),
            );
            if unallocated > 0 {
                self.release_cash(b.account, currency, unallocated);
            }
            self.credit_cash(
                spec.seller,
                currency,
                i64::try_from(notional - seller_fee).expect("below the hold"),
            );
            self.credit_cash(
                fee_account,
                currency,
                i64::try_from(buyer_fee + seller_fee).expect("below the hold"),
            );
            allocations.push(Allocation {
                bid: b.id,
                account: b.account,
                org: b.org,
                quantity_tonnes: q,
                price_minor: price,
                guaranteed_tonnes: guaranteed,
                serials,
                buyer_fee_minor: i64::try_from(buyer_fee).expect("below the hold"),
            });
        }
        for (account, amount) in refunds {
            self.release_cash(account, currency, amount);
        }
        let returned: u64 = reserved.iter().map(|(_, s)| s.quantity_tonnes()).sum();
        self.release_underlying(spec.seller, &underlying, reserved);
        let mut curve: BTreeMap<std::cmp::Reverse<i64>, u64> = BTreeMap::new();
        for b in bids {
            *curve.entry(std::cmp::Reverse(b.price_minor)).or_default() += b.quantity_tonnes;
        }
        let mut cumulative = 0;
        let demand_curve = curve
            .into_iter()
            .map(|(std::cmp::Reverse(p), q)| {
                cumulative += q;
                (p, cumulative)
            })
            .collect();
        let bidders: std::collections::BTreeSet<OrgId> = bids.iter().map(|b| b.org).collect();
        LotResult {
            clearing_price_minor: clearing,
            sold_tonnes: spec.quantity_tonnes - returned,
            returned_tonnes: returned,
            bids: u32::try_from(bids.len()).unwrap_or(u32::MAX),
            bidders: u32::try_from(bidders.len()).unwrap_or(u32::MAX),
            allocations,
            demand_curve,
        }
    }
}
