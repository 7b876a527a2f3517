//! The exchange's command handlers. Like the registry's, each checks everything that can fail
//! before it changes anything; matching and settlement cannot fail once an order is accepted,
//! because the order already holds every tonne and minor unit it can need.

use super::{
    CancelReason, Fill, Instrument, InstrumentId, InstrumentSpec, InstrumentStatus, Order,
    OrderExtras, OrderId, OrderRequest, OrderType, Reserved, SelfTradePrevention, Side,
    TimeInForce, TradeId, Underlying,
};
use crate::command::Envelope;
use crate::event::{Event, Events};
use crate::ids::{AccountId, IssuanceId, OrgId};
use crate::model::Role;
use crate::money::Currency;
use crate::rejection::Rejection;
use crate::serial::{RangeSet, SetRef};
use crate::state::State;
use smallvec::SmallVec;

/// Events a typical order produces: acceptance, up to a few fills, rested or cancelled.
const EVENTS_PER_ORDER_TYPICAL: usize = 6;

type Outcome = Result<Vec<Event>, Rejection>;

pub(crate) use super::Serials;

/// An account's holdings of one class (project and vintage), in ascending serial order, with
/// the tonnes available in each.
type ClassHoldings = SmallVec<[(IssuanceId, u64); 4]>;

/// What every fill of one order needs from its instrument, looked up once per order rather
/// than once per fill (nothing changes the instrument while an order matches).
#[derive(Clone, Copy)]
struct Terms {
    lot: u64,
    fees: super::FeeSchedule,
    currency: Currency,
}

/// Available tonnes across some of an account's holdings.
fn available_in(held: &ClassHoldings) -> u64 {
    held.iter().map(|(_, available)| available).sum()
}

impl State {
    pub(crate) fn list_instrument(&mut self, spec: &InstrumentSpec) -> Outcome {
        crate::engine::check_name(&spec.symbol)?;
        match spec.underlying {
            Underlying::ProjectVintage { project, vintage_year } => {
                if !self.projects.contains_key(&project) {
                    return Err(Rejection::UnknownProject);
                }
                if !(crate::engine::VINTAGE_YEAR_MIN..=crate::engine::VINTAGE_YEAR_MAX)
                    .contains(&vintage_year)
                {
                    return Err(Rejection::InvalidVintage);
                }
            }
            Underlying::Basket { basket } => {
                if self.basket(basket).is_none() {
                    return Err(Rejection::UnknownBasket);
                }
            }
        }
        if !spec.terms_valid() {
            return Err(Rejection::InvalidInstrument);
        }
        if self.exchange.symbols.contains_key(&spec.symbol) {
            return Err(Rejection::InstrumentExists);
        }
        let id = InstrumentId(self.exchange.next_instrument);
        self.exchange.next_instrument += 1;
        let instrument = Instrument { id, spec: spec.clone(), status: InstrumentStatus::Open };
        self.exchange.bands.insert(id, instrument.band());
        self.exchange.instruments.insert(id, instrument);
        self.exchange.symbols.insert(spec.symbol.clone(), id);
        self.exchange.books.insert(id, super::Book::default());
        Ok(vec![Event::InstrumentListed { instrument: id, currency: spec.currency }])
    }

    pub(crate) fn set_instrument_status(
        &mut self,
        id: InstrumentId,
        status: InstrumentStatus,
    ) -> Outcome {
        let current =
            self.exchange.instruments.get(&id).ok_or(Rejection::UnknownInstrument)?.status;
        if current == InstrumentStatus::Closed {
            return Err(Rejection::InstrumentClosed);
        }
        if current == status {
            return Err(Rejection::NothingToAmend);
        }
        let mut events = Events::new();
        if status == InstrumentStatus::Closed {
            let ids = self.exchange.orders.ids_where(|o| o.instrument == id);
            for order in ids {
                self.cancel_resting(order, CancelReason::InstrumentClosed, &mut events);
            }
        }
        self.exchange.instruments.get_mut(&id).expect("checked").status = status;
        events.push(Event::InstrumentStatusChanged { instrument: id, status });
        Ok(events.into_vec())
    }

    pub(crate) fn set_reference_price(&mut self, id: InstrumentId, price_minor: i64) -> Outcome {
        let inst = self.exchange.instruments.get(&id).ok_or(Rejection::UnknownInstrument)?;
        if inst.status == InstrumentStatus::Closed {
            return Err(Rejection::InstrumentClosed);
        }
        if price_minor <= 0 {
            return Err(Rejection::InvalidPrice);
        }
        if price_minor % inst.spec.tick_minor != 0 {
            return Err(Rejection::PriceOffTick);
        }
        let inst = self.exchange.instruments.get_mut(&id).expect("checked");
        inst.spec.reference_price_minor = price_minor;
        let band = inst.band();
        self.exchange.bands.insert(id, band);
        Ok(vec![Event::ReferencePriceSet { instrument: id, price_minor }])
    }

    /// The instrument, if orders may be placed or amended in it now.
    fn tradable(&self, id: InstrumentId) -> Result<&Instrument, Rejection> {
        let inst = self.exchange.instruments.get(&id).ok_or(Rejection::UnknownInstrument)?;
        match inst.status {
            InstrumentStatus::Open => Ok(inst),
            InstrumentStatus::Halted => Err(Rejection::InstrumentHalted),
            InstrumentStatus::Closed => Err(Rejection::InstrumentClosed),
        }
    }

    pub(crate) fn place_order(
        &mut self,
        actor: OrgId,
        req: &OrderRequest,
        env: &Envelope,
        events: &mut Events,
    ) -> Result<(), Rejection> {
        let inst = self.tradable(req.instrument)?;
        let (lot, fees, currency) = (inst.spec.lot_tonnes, inst.spec.fees, inst.spec.currency);
        let underlying = inst.spec.underlying;
        let limit = order_limit(inst, self.exchange.bands[&req.instrument], req)?;
        check_quantity(req.quantity_tonnes, lot)?;
        if let TimeInForce::Gtd { expires_at_ms } = req.time_in_force
            && expires_at_ms <= env.time_ms
        {
            return Err(Rejection::InvalidTimeInForce);
        }
        if let Some(details) = &req.retire {
            if req.side != Side::Buy {
                return Err(Rejection::RetireRequiresBuy);
            }
            crate::engine::check_retirement_details(details)?;
        }
        let owner = self.accounts.get(&req.account).ok_or(Rejection::UnknownAccount)?.org;
        if owner != actor {
            return Err(Rejection::Unauthorized);
        }
        if let Some(cid) = &req.client_order_id {
            crate::engine::check_name(cid)?;
            if self.exchange.client_ids.contains_key(&(req.account, cid.clone())) {
                return Err(Rejection::DuplicateClientOrderId);
            }
        }
        let book = &self.exchange.books[&req.instrument];
        if req.post_only
            && book.best_price(req.side.opposite()).is_some_and(|p| crosses(req.side, limit, p))
        {
            return Err(Rejection::PostOnlyWouldCross);
        }
        let mut class_held = None;
        let hold = match req.side {
            Side::Buy => {
                let hold = fees.buy_hold(req.quantity_tonnes, lot, limit)?;
                if self.balance(req.account, currency).available_minor < hold {
                    return Err(Rejection::InsufficientCash);
                }
                hold
            }
            Side::Sell => {
                // A project-vintage sell finds the seller's issuances of the class once, for
                // the check here and the reservation below.
                let available = match underlying {
                    Underlying::ProjectVintage { project, vintage_year } => {
                        let held = self.class_holdings(req.account, project, vintage_year);
                        let available = available_in(&held);
                        class_held = Some(held);
                        available
                    }
                    Underlying::Basket { .. } => {
                        self.underlying_available(req.account, &underlying)
                    }
                };
                if available < req.quantity_tonnes {
                    return Err(Rejection::InsufficientCredits);
                }
                0
            }
        };
        if req.time_in_force == TimeInForce::Fok
            && !self.fillable(
                req.instrument,
                req.side,
                limit,
                owner,
                req.self_trade,
                req.quantity_tonnes,
            )
        {
            return Err(Rejection::FokNotFilled);
        }

        // Accepted: from here on nothing can fail.
        let id = OrderId(self.exchange.next_order);
        self.exchange.next_order += 1;
        let reserved = match req.side {
            Side::Buy => {
                self.hold_cash(req.account, currency, hold);
                Reserved::Cash(hold)
            }
            Side::Sell => Reserved::Serials(match &class_held {
                Some(held) => self.take_held(req.account, held, req.quantity_tonnes),
                None => self.reserve_underlying(req.account, &underlying, req.quantity_tonnes),
            }),
        };
        let mut order = Order {
            id,
            instrument: req.instrument,
            account: req.account,
            org: owner,
            side: req.side,
            price_minor: limit,
            quantity_tonnes: req.quantity_tonnes,
            remaining_tonnes: req.quantity_tonnes,
            time_in_force: req.time_in_force,
            post_only: req.post_only,
            self_trade: req.self_trade,
            extras: OrderExtras::boxed(req.client_order_id.clone(), req.retire.as_deref().cloned()),
            created_at_ms: env.time_ms,
            reserved,
        };
        // Room for the acceptance, a few fills and the rest/cancel event without regrowing: a
        // fresh list gets it in one allocation, a reused one has it already.
        events.reserve(EVENTS_PER_ORDER_TYPICAL);
        events.push(Event::OrderAccepted {
            order: id,
            instrument: req.instrument,
            account: req.account,
            side: req.side,
            price_minor: limit,
            quantity_tonnes: req.quantity_tonnes,
        });
        let stopped = self.match_incoming(&mut order, env, events);
        self.finish_incoming(order, stopped, events);
        Ok(())
    }

    /// Rests what is left of an incoming order, or cancels it and releases what it holds.
    fn finish_incoming(&mut self, order: Order, stopped_by_self_trade: bool, events: &mut Events) {
        if order.remaining_tonnes == 0 {
            debug_assert!(order.reserved_cash_minor() == 0 && order.reserved_serials().is_empty());
            return;
        }
        if !stopped_by_self_trade && order.time_in_force.rests() {
            events.push(Event::OrderRested {
                order: order.id,
                instrument: order.instrument,
                side: order.side,
                price_minor: order.price_minor,
                remaining_tonnes: order.remaining_tonnes,
            });
            self.rest(order);
        } else {
            let reason = if stopped_by_self_trade {
                CancelReason::SelfTrade
            } else {
                CancelReason::Unfilled
            };
            events.push(cancelled_event(&order, reason, false));
            self.release_order(order);
        }
    }

    /// Puts an order into the book and the indexes.
    #[inline]
    fn rest(&mut self, order: Order) {
        let (id, account, instrument) = (order.id, order.account, order.instrument);
        if let Some(cid) = order.client_order_id() {
            self.exchange.client_ids.insert((account, cid.to_owned()), id);
        }
        if let TimeInForce::Gtd { expires_at_ms } = order.time_in_force {
            self.exchange.expiries.insert((expires_at_ms, id));
        }
        let ex = &mut self.exchange;
        let slot = ex.orders.insert(order);
        ex.books.get_mut(&instrument).expect("listed").push_back(&mut ex.orders, slot);
    }

    /// Takes a resting order out of the book and the indexes and returns it.
    fn unrest(&mut self, id: OrderId) -> Order {
        let slot = self.exchange.orders.slot_of(id).expect("resting");
        self.unrest_slot(slot, 0)
    }

    /// Takes the order in `slot` out of the book and the indexes; `traded` tonnes of it have
    /// just filled and still count in its level's total (see `Book::unlink`).
    fn unrest_slot(&mut self, slot: u32, traded: u64) -> Order {
        self.unlink_slot(slot, traded);
        self.exchange.orders.remove(slot)
    }

    /// Unlinks the order in `slot` from its book level, the client-id index and the expiry
    /// index; it stays in its slot for the caller to take out or discard.
    fn unlink_slot(&mut self, slot: u32, traded: u64) {
        let ex = &mut self.exchange;
        let order = ex.orders.at(slot);
        let (id, instrument, account) = (order.id, order.instrument, order.account);
        if let Some(cid) = order.client_order_id() {
            ex.client_ids.remove(&(account, cid.to_owned()));
        }
        if let TimeInForce::Gtd { expires_at_ms } = order.time_in_force {
            ex.expiries.remove(&(expires_at_ms, id));
        }
        ex.books.get_mut(&instrument).expect("listed").unlink(&mut ex.orders, slot, traded);
    }

    /// Cancels a resting order and releases everything it holds.
    pub(crate) fn cancel_resting(
        &mut self,
        id: OrderId,
        reason: CancelReason,
        events: &mut Events,
    ) {
        let order = self.unrest(id);
        events.push(cancelled_event(&order, reason, true));
        self.release_order(order);
    }

    fn cancel_resting_slot(&mut self, slot: u32, reason: CancelReason, events: &mut Events) {
        let order = self.unrest_slot(slot, 0);
        events.push(cancelled_event(&order, reason, true));
        self.release_order(order);
    }

    fn release_order(&mut self, order: Order) {
        let spec = &self.exchange.instruments[&order.instrument].spec;
        let (currency, underlying) = (spec.currency, spec.underlying);
        match order.reserved {
            Reserved::Cash(cash) if cash > 0 => self.release_cash(order.account, currency, cash),
            Reserved::Cash(_) => {}
            Reserved::Serials(serials) => {
                self.release_underlying(order.account, &underlying, serials)
            }
        }
    }

    /// Trades an incoming order against the opposite side while prices cross. Returns whether
    /// self-trade prevention stopped it.
    fn match_incoming(
        &mut self,
        incoming: &mut Order,
        env: &Envelope,
        events: &mut Events,
    ) -> bool {
        // Both fees of every fill go to the one fee account: they are added up here and
        // credited once per order, which saves a balance look-up per fill. Nothing reads the
        // fee account's balance while an order matches, and sums commute, so the state after
        // the command is the same as crediting fill by fill.
        let spec = &self.exchange.instruments[&incoming.instrument].spec;
        let terms = Terms { lot: spec.lot_tonnes, fees: spec.fees, currency: spec.currency };
        let mut fees_due: i128 = 0;
        let stopped = self.match_fills(incoming, terms, env, events, &mut fees_due);
        if fees_due > 0 {
            let fee_account = self.fee_account.expect("initialized");
            self.credit_cash(fee_account, terms.currency, to_i64(fees_due));
        }
        stopped
    }

    /// The matching loop of `match_incoming`; adds the fills' fees to `fees_due`.
    fn match_fills(
        &mut self,
        incoming: &mut Order,
        terms: Terms,
        env: &Envelope,
        events: &mut Events,
        fees_due: &mut i128,
    ) -> bool {
        let opposite = incoming.side.opposite();
        while incoming.remaining_tonnes > 0 {
            let best =
                self.exchange.books[&incoming.instrument].best(opposite).map(|(p, l)| (p, l.head));
            let Some((price, resting)) =
                best.filter(|(p, _)| crosses(incoming.side, incoming.price_minor, *p))
            else {
                return false;
            };
            if self.exchange.orders.at(resting).org == incoming.org {
                match incoming.self_trade {
                    SelfTradePrevention::CancelResting => {
                        self.cancel_resting_slot(resting, CancelReason::SelfTrade, events);
                        continue;
                    }
                    SelfTradePrevention::CancelIncoming => return true,
                    SelfTradePrevention::CancelBoth => {
                        self.cancel_resting_slot(resting, CancelReason::SelfTrade, events);
                        return true;
                    }
                }
            }
            let fees = self.fill(incoming, terms, resting, price, env, events);
            *fees_due = fees_due.checked_add(fees).expect("fees are bounded by accepted holds");
        }
        false
    }

    /// One fill between the incoming order and the order at the head of the best level,
    /// settled in full: serials, and cash between buyer and seller. Returns the two fees, which
    /// the caller credits to the fee account once for the whole order.
    fn fill(
        &mut self,
        incoming: &mut Order,
        terms: Terms,
        resting_slot: u32,
        price: i64,
        env: &Envelope,
        events: &mut Events,
    ) -> i128 {
        let Terms { lot, fees, currency } = terms;
        let resting = self.exchange.orders.at_mut(resting_slot);
        let resting_id = resting.id;
        let q = incoming.remaining_tonnes.min(resting.remaining_tonnes);
        let (buy, sell): (&mut Order, &mut Order) = match incoming.side {
            Side::Buy => (&mut *incoming, resting),
            Side::Sell => (resting, &mut *incoming),
        };
        let delivered = sell.serials_mut().take_front(q);
        let notional = i128::from(q) * i128::from(price);
        let (buy_bps, sell_bps) = match buy.id == resting_id {
            true => (fees.maker_bps, fees.taker_bps),
            false => (fees.taker_bps, fees.maker_bps),
        };
        let buyer_fee = fees.fee(notional, buy_bps);
        let seller_fee = fees.fee(notional, sell_bps).min(notional);
        let hold = i128::from(
            fees.buy_hold(q, lot, buy.price_minor).expect("smaller than the accepted hold"),
        );
        let change = hold - notional - buyer_fee;
        assert!(change >= 0, "a buy order's hold covers every fill (see fees.rs)");
        *buy.cash_mut() -= to_i64(hold);
        buy.remaining_tonnes -= q;
        sell.remaining_tonnes -= q;
        let (buyer, seller, buy_id, sell_id) = (buy.account, sell.account, buy.id, sell.id);
        let retire = buy.retire().cloned();
        let resting_side = incoming_side_opposite(buy_id == resting_id);
        let resting_done = self.exchange.orders.at(resting_slot).remaining_tonnes == 0;

        if resting_done {
            let done = self.exchange.orders.at(resting_slot);
            debug_assert!(done.reserved_cash_minor() == 0 && done.reserved_serials().is_empty());
            self.unlink_slot(resting_slot, q);
            self.exchange.orders.discard(resting_slot);
        } else {
            self.exchange.books.get_mut(&incoming.instrument).expect("listed").reduce(
                resting_side,
                price,
                q,
            );
        }
        let mut retirements = Vec::new();
        for (issuance, serials) in &delivered {
            self.unreserve(seller, issuance, serials.quantity_tonnes());
            match &retire {
                None => self.credit_serials(buyer, issuance, serials),
                Some(details) => retirements.push(self.record_retirement(
                    buyer,
                    issuance,
                    &serials.to_set(),
                    details,
                    env,
                    events,
                )),
            }
        }
        // Cash: the buyer's hold for these tonnes is spent on price and fee, the change freed.
        self.spend_held_cash(buyer, currency, to_i64(hold), to_i64(change));
        self.credit_cash(seller, currency, to_i64(notional - seller_fee));

        let trade = TradeId(self.exchange.next_trade);
        self.exchange.next_trade += 1;
        events.push(Event::Traded(Fill {
            trade,
            instrument: incoming.instrument,
            price_minor: price,
            quantity_tonnes: q,
            buy_order: buy_id,
            sell_order: sell_id,
            buyer,
            seller,
            aggressor: incoming.side,
            serials: delivered,
            buyer_fee_minor: to_i64(buyer_fee),
            seller_fee_minor: to_i64(seller_fee),
            retirements: retirements.into(),
        }));
        buyer_fee + seller_fee
    }

    /// Whether an order could trade `quantity` in full right now (fill-or-kill).
    fn fillable(
        &self,
        instrument: InstrumentId,
        side: Side,
        limit: i64,
        org: OrgId,
        stp: SelfTradePrevention,
        quantity: u64,
    ) -> bool {
        let book = &self.exchange.books[&instrument];
        let levels = book.levels_of(side.opposite());
        let prices: Box<dyn Iterator<Item = (i64, &super::book::Level)>> = match side {
            Side::Buy => Box::new(levels.iter()),
            Side::Sell => Box::new(levels.iter().rev()),
        };
        let mut found = 0u64;
        for (price, level) in prices {
            if !crosses(side, limit, price) {
                return false;
            }
            for slot in super::Book::queue(&self.exchange.orders, level) {
                let o = self.exchange.orders.at(slot);
                if o.org == org {
                    if stp != SelfTradePrevention::CancelResting {
                        return false;
                    }
                } else {
                    found = found.saturating_add(o.remaining_tonnes);
                    if found >= quantity {
                        return true;
                    }
                }
            }
        }
        false
    }

    pub(crate) fn amend_order(
        &mut self,
        actor: OrgId,
        id: OrderId,
        remaining: Option<u64>,
        price: Option<i64>,
        env: &Envelope,
    ) -> Outcome {
        let o = self.exchange.orders.get(id).ok_or(Rejection::UnknownOrder)?;
        if o.org != actor {
            return Err(Rejection::Unauthorized);
        }
        let inst = self.tradable(o.instrument)?;
        let (lot, fees, currency) = (inst.spec.lot_tonnes, inst.spec.fees, inst.spec.currency);
        let underlying = inst.spec.underlying;
        let new_price = price.unwrap_or(o.price_minor);
        let new_remaining = remaining.unwrap_or(o.remaining_tonnes);
        if new_price == o.price_minor && new_remaining == o.remaining_tonnes {
            return Err(Rejection::NothingToAmend);
        }
        check_quantity(new_remaining, lot)?;
        if new_price != o.price_minor {
            check_limit_price(inst, self.exchange.bands[&o.instrument], new_price)?;
        }
        let new_hold = match o.side {
            Side::Buy => {
                let hold = fees.buy_hold(new_remaining, lot, new_price)?;
                if hold - o.reserved_cash_minor()
                    > self.balance(o.account, currency).available_minor
                {
                    return Err(Rejection::InsufficientCash);
                }
                hold
            }
            Side::Sell => {
                let more = new_remaining.saturating_sub(o.remaining_tonnes);
                if more > self.underlying_available(o.account, &underlying) {
                    return Err(Rejection::InsufficientCredits);
                }
                0
            }
        };
        let book = &self.exchange.books[&o.instrument];
        let crossing =
            book.best_price(o.side.opposite()).is_some_and(|p| crosses(o.side, new_price, p));
        if o.post_only && new_price != o.price_minor && crossing {
            return Err(Rejection::PostOnlyWouldCross);
        }

        let (old_price, old_remaining, side, instrument, account) =
            (o.price_minor, o.remaining_tonnes, o.side, o.instrument, o.account);
        let keeps_priority = new_price == old_price && new_remaining < old_remaining;
        let amended = Event::OrderAmended {
            order: id,
            instrument,
            side,
            old_price_minor: old_price,
            old_remaining_tonnes: old_remaining,
            price_minor: new_price,
            remaining_tonnes: new_remaining,
            priority_kept: keeps_priority,
        };
        if keeps_priority {
            let cut = old_remaining - new_remaining;
            self.exchange.books.get_mut(&instrument).expect("listed").reduce(side, old_price, cut);
            let (freed_cash, freed_serials) = {
                let order = self.exchange.orders.get_mut(id).expect("checked");
                order.remaining_tonnes = new_remaining;
                order.quantity_tonnes -= cut;
                match side {
                    Side::Buy => {
                        let freed = order.reserved_cash_minor() - new_hold;
                        *order.cash_mut() = new_hold;
                        (freed, Serials::new())
                    }
                    Side::Sell => (0, order.serials_mut().split_off_above(new_remaining)),
                }
            };
            if freed_cash > 0 {
                self.release_cash(account, currency, freed_cash);
            }
            self.release_underlying(account, &underlying, freed_serials);
            return Ok(vec![amended]);
        }
        // A new price or more tonnes: the order goes to the back of the queue at its new price,
        // and trades first if the new price crosses.
        let mut order = self.unrest(id);
        match side {
            Side::Buy => {
                let delta = new_hold - order.reserved_cash_minor();
                if delta > 0 {
                    self.hold_cash(account, currency, delta);
                } else if delta < 0 {
                    self.release_cash(account, currency, -delta);
                }
                *order.cash_mut() = new_hold;
            }
            Side::Sell if new_remaining > old_remaining => {
                let more =
                    self.reserve_underlying(account, &underlying, new_remaining - old_remaining);
                let mut merged = std::mem::take(order.serials_mut()).into_vec();
                merge_serials(&mut merged, more);
                merged.sort_by_key(|(i, _)| self.delivery_key(&underlying, account, *i));
                *order.serials_mut() = Serials::from_vec(merged);
            }
            Side::Sell => {
                let freed = order.serials_mut().split_off_above(new_remaining);
                self.release_underlying(account, &underlying, freed);
            }
        }
        order.quantity_tonnes = order.quantity_tonnes - old_remaining + new_remaining;
        order.remaining_tonnes = new_remaining;
        order.price_minor = new_price;
        let mut events = Events::new();
        events.push(amended);
        let stopped = self.match_incoming(&mut order, env, &mut events);
        self.finish_incoming(order, stopped, &mut events);
        Ok(events.into_vec())
    }

    pub(crate) fn cancel_order(
        &mut self,
        actor: OrgId,
        id: OrderId,
        events: &mut Events,
    ) -> Result<(), Rejection> {
        let slot = self.exchange.orders.slot_of(id).ok_or(Rejection::UnknownOrder)?;
        if self.exchange.orders.at(slot).org != actor {
            return Err(Rejection::Unauthorized);
        }
        // A cancel produces exactly one event: a fresh list gets room for exactly one, where a
        // push would allocate room for four.
        if events.capacity() == 0 {
            events.reserve_exact(1);
        }
        self.cancel_resting_slot(slot, CancelReason::Requested, events);
        Ok(())
    }

    pub(crate) fn cancel_all_orders(
        &mut self,
        actor: (OrgId, Role),
        account: AccountId,
        instrument: Option<InstrumentId>,
    ) -> Outcome {
        let owner = self.accounts.get(&account).ok_or(Rejection::UnknownAccount)?.org;
        if owner != actor.0 && actor.1 != Role::Operator {
            return Err(Rejection::Unauthorized);
        }
        if instrument.is_some_and(|i| !self.exchange.instruments.contains_key(&i)) {
            return Err(Rejection::UnknownInstrument);
        }
        let ids: Vec<OrderId> = self
            .orders_of(account)
            .filter(|o| instrument.is_none_or(|i| o.instrument == i))
            .map(|o| o.id)
            .collect();
        let mut events = Events::new();
        for id in ids {
            self.cancel_resting(id, CancelReason::Requested, &mut events);
        }
        Ok(events.into_vec())
    }

    pub(crate) fn close_session(&mut self, instrument: Option<InstrumentId>) -> Outcome {
        if instrument.is_some_and(|i| !self.exchange.instruments.contains_key(&i)) {
            return Err(Rejection::UnknownInstrument);
        }
        let ids = self.exchange.orders.ids_where(|o| {
            o.time_in_force == TimeInForce::Day && instrument.is_none_or(|i| o.instrument == i)
        });
        let mut events = Events::new();
        for id in ids {
            self.cancel_resting(id, CancelReason::SessionClosed, &mut events);
        }
        Ok(events.into_vec())
    }

    pub(crate) fn expire_orders(&mut self, now_ms: i64) -> Outcome {
        let due: Vec<OrderId> = self
            .exchange
            .expiries
            .iter()
            .take_while(|(t, _)| *t <= now_ms)
            .map(|(_, id)| *id)
            .collect();
        if due.is_empty() {
            return Err(Rejection::NothingDue);
        }
        let mut events = Events::new();
        for id in due {
            self.cancel_resting(id, CancelReason::Expired, &mut events);
        }
        Ok(events.into_vec())
    }

    /// The issuances of one project and vintage that an account holds, in ascending serial
    /// order, each with the tonnes available in it (found in the same look-up, so checking and
    /// reserving a sell look each holding up only once more). The class index names the
    /// account's issuances of the class directly, where scanning the account's holdings cost a
    /// range search and an issuance look-up per holding on every sell.
    fn class_holdings(
        &self,
        account: AccountId,
        project: crate::ids::ProjectId,
        vintage_year: u16,
    ) -> ClassHoldings {
        // A plain loop of pushes: collecting the same items through `SmallVec`'s `Extend`
        // cost about 120 instructions per sell more (it reserves from the size hint first).
        let mut held = ClassHoldings::new();
        for i in self.held_classes.get((account, project, vintage_year)) {
            // The tonnes, logged credits included, without a merged copy of the holding.
            let available = self.holdings.available_tonnes(&(account, *i));
            held.push((*i, available.expect("the class index names holdings")));
        }
        if held.len() > 1 {
            held.sort_by_key(|(i, _)| self.issuances[i].block.first());
        }
        held
    }

    /// Available tonnes an account holds across the issuances of one project and vintage.
    pub(crate) fn class_available(
        &self,
        account: AccountId,
        project: crate::ids::ProjectId,
        vintage_year: u16,
    ) -> u64 {
        let held = self.class_holdings(account, project, vintage_year);
        available_in(&held)
    }

    /// Reserves the lowest `quantity` available serials across a class's issuances. The caller
    /// has checked that the account holds enough.
    pub(crate) fn reserve_class(
        &mut self,
        account: AccountId,
        project: crate::ids::ProjectId,
        vintage_year: u16,
        quantity: u64,
    ) -> Serials {
        let held = self.class_holdings(account, project, vintage_year);
        self.take_held(account, &held, quantity)
    }

    /// Reserves the lowest `quantity` available serials across `held` (the account's holdings
    /// of a class in ascending serial order with their available tonnes, from
    /// `class_holdings`, unchanged since): they leave the available sets, the holdings count
    /// them as reserved, and the caller keeps them.
    fn take_held(&mut self, account: AccountId, held: &ClassHoldings, quantity: u64) -> Serials {
        let mut need = quantity;
        let mut out = Serials::new();
        // By reference: the list is a `SmallVec` of four entries inline, and taking it by value
        // copied it once more on every sell.
        for &(issuance, available) in held {
            if need == 0 {
                break;
            }
            let take = available.min(need);
            if take > 0 {
                let holding =
                    self.holdings.get_mut(&(account, issuance)).expect("class_holdings found it");
                match holding.available.take_lowest_range(take) {
                    Some(range) => out.push_range(issuance, range),
                    None => out.push(
                        issuance,
                        holding.available.take_lowest(take).expect("bounded by what is available"),
                    ),
                }
                holding.reserved_tonnes += take;
                need -= take;
            }
        }
        assert_eq!(need, 0, "class_available was checked before reserving");
        out
    }

    /// Returns reserved serials, which their owner (an order, lot or deposit) has given up, to
    /// available.
    pub(crate) fn release_serials(&mut self, account: AccountId, serials: Serials) {
        // By reference: taking a lone range by value would build a list for it.
        for (issuance, set) in &serials {
            let h = self.holdings.get_mut(&(account, issuance)).expect("reserved serials are held");
            h.unreserve_tonnes(set.quantity_tonnes());
            h.available.union_disjoint_ref(set).expect("audit: a serial is in exactly one place");
        }
    }

    /// Counts `tonnes` of reserved serials, delivered out of the account, out of its holding,
    /// and drops the holding if that emptied it.
    pub(crate) fn unreserve(&mut self, account: AccountId, issuance: IssuanceId, tonnes: u64) {
        let h = self.holdings.get_mut(&(account, issuance)).expect("reserved serials are held");
        h.unreserve_tonnes(tonnes);
        if h.is_empty() {
            self.remove_holding(account, issuance);
        }
    }

    /// Credits delivered serials to the account: through its log when it holds the issuance
    /// already (`holdings.rs`), into a new holding when not.
    pub(crate) fn credit_serials(
        &mut self,
        account: AccountId,
        issuance: IssuanceId,
        serials: SetRef<'_>,
    ) {
        if self.holdings.credit_held((account, issuance), serials) {
            return;
        }
        self.holding_entry(account, issuance)
            .available
            .union_disjoint_ref(serials)
            .expect("audit: a serial is in exactly one place");
    }

    pub(crate) fn hold_cash(&mut self, account: AccountId, currency: Currency, amount: i64) {
        let b = self.cash.or_default((account, currency));
        b.available_minor -= amount;
        b.reserved_minor += amount;
        assert!(b.available_minor >= 0, "holds are checked against available cash");
    }

    pub(crate) fn release_cash(&mut self, account: AccountId, currency: Currency, amount: i64) {
        let b = self.cash.get_mut(&(account, currency)).expect("held cash has a balance");
        b.reserved_minor -= amount;
        b.available_minor += amount;
        assert!(b.reserved_minor >= 0, "releases never exceed holds");
    }

    /// Spends `held` of an account's reserved cash, of which `change` returns to available.
    pub(crate) fn spend_held_cash(
        &mut self,
        account: AccountId,
        currency: Currency,
        held: i64,
        change: i64,
    ) {
        let b = self.cash.get_mut(&(account, currency)).expect("held cash has a balance");
        b.reserved_minor -= held;
        b.available_minor += change;
        assert!(b.reserved_minor >= 0, "spends never exceed holds");
        if *b == Default::default() {
            self.cash.remove(&(account, currency));
        }
    }

    pub(crate) fn credit_cash(&mut self, account: AccountId, currency: Currency, amount: i64) {
        if amount == 0 {
            return;
        }
        let b = self.cash.or_default((account, currency));
        b.available_minor =
            b.available_minor.checked_add(amount).expect("balances stay below 2^63 minor units");
    }
}

fn incoming_side_opposite(buy_is_resting: bool) -> Side {
    if buy_is_resting { Side::Buy } else { Side::Sell }
}

fn to_i64(v: i128) -> i64 {
    i64::try_from(v).expect("bounded by an accepted hold")
}

fn crosses(side: Side, limit: i64, opposite_price: i64) -> bool {
    match side {
        Side::Buy => opposite_price <= limit,
        Side::Sell => opposite_price >= limit,
    }
}

fn check_quantity(quantity: u64, lot: u64) -> Result<(), Rejection> {
    if quantity == 0 {
        return Err(Rejection::ZeroQuantity);
    }
    if !quantity.is_multiple_of(lot) {
        return Err(Rejection::QuantityNotLotMultiple);
    }
    Ok(())
}

/// Checks a limit price against the tick and the instrument's `band` (from `bands`).
fn check_limit_price(inst: &Instrument, band: (i64, i64), price: i64) -> Result<(), Rejection> {
    if price <= 0 {
        return Err(Rejection::InvalidPrice);
    }
    if price % inst.spec.tick_minor != 0 {
        return Err(Rejection::PriceOffTick);
    }
    debug_assert_eq!(band, inst.band());
    let (low, high) = band;
    if price < low || price > high {
        return Err(Rejection::PriceOutsideBand);
    }
    Ok(())
}

/// The price an order may trade to: its limit, or for a market order the edge of the band.
fn order_limit(inst: &Instrument, band: (i64, i64), req: &OrderRequest) -> Result<i64, Rejection> {
    match req.order_type {
        OrderType::Limit { price_minor } => {
            check_limit_price(inst, band, price_minor)?;
            Ok(price_minor)
        }
        OrderType::Market => {
            if !matches!(req.time_in_force, TimeInForce::Ioc | TimeInForce::Fok) || req.post_only {
                return Err(Rejection::InvalidTimeInForce);
            }
            let (low, high) = band;
            Ok(match req.side {
                Side::Buy => high,
                Side::Sell => low,
            })
        }
    }
}

fn cancelled_event(order: &Order, reason: CancelReason, rested: bool) -> Event {
    Event::OrderCancelled {
        order: order.id,
        instrument: order.instrument,
        side: order.side,
        price_minor: order.price_minor,
        remaining_tonnes: order.remaining_tonnes,
        reason,
        rested,
    }
}

/// Adds newly reserved serials to an order's; the caller puts them back in delivery order.
fn merge_serials(serials: &mut Vec<(IssuanceId, RangeSet)>, more: Serials) {
    for (issuance, set) in more {
        match serials.iter_mut().find(|(i, _)| *i == issuance) {
            Some((_, existing)) => existing.union_disjoint(&set).expect("disjoint reservations"),
            None => serials.push((issuance, set)),
        }
    }
}
