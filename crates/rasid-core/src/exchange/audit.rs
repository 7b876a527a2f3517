//! The exchange's invariants, checked from scratch by `State::audit`.
//!
//! - Books are never crossed: in every instrument the best bid is below the best ask.
//! - Every price level's queue links exactly the open orders at that price and side, and its
//!   quantity is the sum of their remaining tonnes.
//! - Every open order holds exactly what it can still need: a buy holds
//!   `FeeSchedule::buy_hold(remaining)` at its price, a sell holds serials of its instrument's
//!   class adding up to its remaining tonnes.
//! - Per account and currency, reserved cash is the sum of its buy orders' holds. (That each
//!   holding's reserved tonnes are what its sell orders, lots and deposits hold, and that no
//!   serial has two owners, is checked with the partition, in `audit.rs`.)
//! - The indexes (by account, client order id, expiry) agree with the orders.

use super::book::{Book, NIL};
use super::{Side, TimeInForce};
use crate::audit::AuditError;
use crate::ids::AccountId;
use crate::money::Currency;
use crate::state::State;
use std::collections::{BTreeMap, BTreeSet};

fn fail<T>(msg: String) -> Result<T, AuditError> {
    Err(AuditError(msg))
}

impl State {
    pub(crate) fn audit_exchange(&self) -> Result<(), AuditError> {
        self.audit_books()?;
        self.audit_order_holds()?;
        self.audit_order_indexes()
    }

    fn audit_books(&self) -> Result<(), AuditError> {
        let ex = &self.exchange;
        let mut linked = 0usize;
        for (id, book) in &ex.books {
            let touch = (book.best_price(Side::Buy), book.best_price(Side::Sell));
            if let (Some(bid), Some(ask)) = touch
                && bid >= ask
            {
                return fail(format!("{id}: book crossed, bid {bid} ≥ ask {ask}"));
            }
            for side in [Side::Buy, Side::Sell] {
                for (price, level) in book.levels_of(side).iter() {
                    let mut prev = NIL;
                    let (mut count, mut tonnes) = (0u32, 0u64);
                    for slot in Book::queue(&ex.orders, level) {
                        let o = ex.orders.at(slot);
                        let oid = o.id;
                        if o.instrument != *id
                            || o.side != side
                            || o.price_minor != price
                            || ex.orders.prev_of(slot) != prev
                            || ex.orders.slot_of(oid) != Some(slot)
                        {
                            return fail(format!("{id}: {oid} is misplaced in level {price}"));
                        }
                        if o.remaining_tonnes == 0 {
                            return fail(format!("{oid} rests with nothing remaining"));
                        }
                        if count > level.orders {
                            return fail(format!(
                                "{id}: level {price} queue is longer than counted"
                            ));
                        }
                        count += 1;
                        tonnes += o.remaining_tonnes;
                        prev = slot;
                    }
                    if prev != level.tail
                        || count != level.orders
                        || tonnes != level.quantity_tonnes
                    {
                        return fail(format!("{id}: level {price} totals disagree with its queue"));
                    }
                    linked += count as usize;
                }
            }
        }
        if linked != ex.orders.len() {
            return fail(format!("{} open orders, {linked} in books", ex.orders.len()));
        }
        Ok(())
    }

    fn audit_order_holds(&self) -> Result<(), AuditError> {
        let mut cash: BTreeMap<(AccountId, Currency), i64> = BTreeMap::new();
        for o in self.exchange.orders.iter_unordered() {
            let Some(inst) = self.exchange.instruments.get(&o.instrument) else {
                return fail(format!("{} names an unknown instrument", o.id));
            };
            let spec = &inst.spec;
            match o.side {
                Side::Buy => {
                    let want =
                        spec.fees.buy_hold(o.remaining_tonnes, spec.lot_tonnes, o.price_minor);
                    if want != Ok(o.reserved_cash_minor()) || !o.reserved_serials().is_empty() {
                        return fail(format!(
                            "{} holds {} minor units, needs {want:?}",
                            o.id,
                            o.reserved_cash_minor()
                        ));
                    }
                    *cash.entry((o.account, spec.currency)).or_default() += o.reserved_cash_minor();
                }
                Side::Sell => {
                    let mut total = 0u64;
                    for (issuance, set) in o.reserved_serials() {
                        if !self.underlying_admits(&spec.underlying, issuance) || set.is_empty() {
                            return fail(format!("{} holds serials outside its instrument", o.id));
                        }
                        total += set.quantity_tonnes();
                    }
                    if total != o.remaining_tonnes || o.reserved_cash_minor() != 0 {
                        return fail(format!(
                            "{} holds {total} t for {} t remaining",
                            o.id, o.remaining_tonnes
                        ));
                    }
                }
            }
        }
        for (basket, _, _) in self.baskets.deposits.keys() {
            if !self.baskets.baskets.contains_key(basket) {
                return fail(format!("a deposit names unknown basket {basket}"));
            }
        }
        let bids =
            self.auctions.auctions.values().flat_map(|a| a.lots.iter()).flat_map(|l| l.bids.iter());
        for b in bids {
            let lot = &self.auctions.auctions[&b.auction].lots[b.lot as usize].spec;
            let inst = &self.exchange.instruments[&lot.instrument].spec;
            let want = inst.fees.buy_hold(b.quantity_tonnes, lot.increment_tonnes, b.price_minor);
            if want != Ok(b.reserved_cash_minor) {
                return fail(format!(
                    "{} holds {} minor units, needs {want:?}",
                    b.id, b.reserved_cash_minor
                ));
            }
            *cash.entry((b.account, inst.currency)).or_default() += b.reserved_cash_minor;
        }
        for a in self.auctions.auctions.values() {
            for lot in &a.lots {
                let held: u64 = lot.reserved_serials.iter().map(|(_, s)| s.quantity_tonnes()).sum();
                let open = a.status == super::auction::AuctionStatus::Open;
                if held != if open { lot.spec.quantity_tonnes } else { 0 } {
                    return fail(format!("{}: a lot holds {held} t", a.id));
                }
            }
        }
        for ((account, currency), b) in self.cash.iter() {
            if cash.remove(&(account, currency)).unwrap_or(0) != b.reserved_minor {
                return fail(format!(
                    "{account} {currency}: reserved cash is not its orders' holds"
                ));
            }
        }
        if let Some(((account, currency), _)) = cash.iter().find(|(_, v)| **v != 0) {
            return fail(format!("{account} {currency}: orders hold cash the balance lacks"));
        }
        Ok(())
    }

    fn audit_order_indexes(&self) -> Result<(), AuditError> {
        let ex = &self.exchange;
        let client_ids: BTreeMap<_, _> = ex
            .orders
            .iter_unordered()
            .filter_map(|o| o.client_order_id().map(|c| ((o.account, c.to_owned()), o.id)))
            .collect();
        let expiries: BTreeSet<_> = ex
            .orders
            .iter_unordered()
            .filter_map(|o| match o.time_in_force {
                TimeInForce::Gtd { expires_at_ms } => Some((expires_at_ms, o.id)),
                _ => None,
            })
            .collect();
        let symbols_ok = ex.symbols.len() == ex.instruments.len()
            && ex
                .symbols
                .iter()
                .all(|(s, id)| ex.instruments.get(id).is_some_and(|i| &i.spec.symbol == s));
        let books_ok = ex.books.keys().eq(ex.instruments.keys());
        let bands_ok = ex.bands.len() == ex.instruments.len()
            && ex.instruments.iter().all(|(id, i)| ex.bands.get(id) == Some(&i.band()));
        if !ex.orders.accounts_consistent()
            || !ex.orders.index_consistent()
            || client_ids != ex.client_ids
            || expiries != ex.expiries
            || !symbols_ok
            || !books_ok
            || !bands_ok
        {
            return fail("an exchange index disagrees with the open orders or instruments".into());
        }
        Ok(())
    }
}
