//! The JSON wire shapes of ledger events and serial ranges, shared by the CLI (`--json`) and the
//! HTTP API so both speak the same format. Built from domain values; domain types are never
//! serialized directly.

use rasid_core::exchange::auction::{Auction, AuctionStatus, LotSpec};
use rasid_core::exchange::basket::Basket;
use rasid_core::exchange::{Instrument, InstrumentId, Order, Side, TimeInForce, Underlying};
use rasid_core::money::format_minor;
use rasid_core::time::rfc3339;
use rasid_core::{Currency, Event, SerialRange, State};
use serde_json::{Value, json};

pub fn ranges_json(ranges: impl IntoIterator<Item = SerialRange>) -> Value {
    Value::Array(
        ranges
            .into_iter()
            .map(|r| json!({ "first": r.first(), "last": r.last(), "quantity": r.quantity_tonnes() }))
            .collect(),
    )
}

/// One event as JSON; prices of exchange events are rendered in `currency(instrument)`.
pub fn event_json(e: &Event, currency: &dyn Fn(InstrumentId) -> Currency) -> Value {
    match e {
        Event::OrganizationCreated { org } => {
            json!({ "type": "organization_created", "org": org.0 })
        }
        Event::AccountOpened { account, org } => {
            json!({ "type": "account_opened", "account": account.0, "org": org.0 })
        }
        Event::ProjectRegistered { project } => {
            json!({ "type": "project_registered", "project": project.0 })
        }
        Event::Issued { issuance, project, block, to_account, buffer } => json!({
            "type": "issued", "issuance": issuance.0, "project": project.0, "to_account": to_account.0,
            "block": ranges_json([*block]), "buffer": ranges_json(*buffer),
        }),
        Event::LabelsSet { issuance } => json!({ "type": "labels_set", "issuance": issuance.0 }),
        Event::Transferred { from, to, issuance, serials } => json!({
            "type": "transferred", "from": from.0, "to": to.0, "issuance": issuance.0,
            "quantity": serials.quantity_tonnes(), "serials": ranges_json(serials.ranges()),
        }),
        Event::Retired { retirement, account, issuance, serials } => json!({
            "type": "retired", "retirement": retirement.0, "account": account.0, "issuance": issuance.0,
            "quantity": serials.quantity_tonnes(), "serials": ranges_json(serials.ranges()),
        }),
        Event::Cancelled { cancellation, account, issuance, serials } => json!({
            "type": "cancelled", "cancellation": cancellation.0, "account": account.0, "issuance": issuance.0,
            "quantity": serials.quantity_tonnes(), "serials": ranges_json(serials.ranges()),
        }),
        Event::CashDeposited { account, currency, amount_minor } => json!({
            "type": "cash_deposited", "account": account.0, "currency": currency.code(), "amount": format_minor(i128::from(*amount_minor), *currency),
        }),
        Event::CashWithdrawn { account, currency, amount_minor } => json!({
            "type": "cash_withdrawn", "account": account.0, "currency": currency.code(), "amount": format_minor(i128::from(*amount_minor), *currency),
        }),
        Event::CashTransferred { from, to, currency, amount_minor } => json!({
            "type": "cash_transferred", "from": from.0, "to": to.0, "currency": currency.code(), "amount": format_minor(i128::from(*amount_minor), *currency),
        }),
        other => exchange_event_json(other, currency),
    }
}

fn exchange_event_json(e: &Event, currency: &dyn Fn(InstrumentId) -> Currency) -> Value {
    let px = |i: &InstrumentId, p: &i64| format_minor(i128::from(*p), currency(*i));
    match e {
        Event::InstrumentListed { instrument, currency } => {
            json!({ "type": "instrument_listed", "instrument": instrument.0, "currency": currency.code() })
        }
        Event::InstrumentStatusChanged { instrument, status } => {
            json!({ "type": "instrument_status_changed", "instrument": instrument.0, "status": status.as_str() })
        }
        Event::ReferencePriceSet { instrument, price_minor } => {
            json!({ "type": "reference_price_set", "instrument": instrument.0, "price": px(instrument, price_minor) })
        }
        Event::OrderAccepted { order, instrument, account, side, price_minor, quantity_tonnes } => {
            json!({
                "type": "order_accepted", "order": order.0, "instrument": instrument.0, "account": account.0,
                "side": side.as_str(), "price": px(instrument, price_minor), "quantity": quantity_tonnes,
            })
        }
        Event::OrderRested { order, instrument, side, price_minor, remaining_tonnes } => json!({
            "type": "order_rested", "order": order.0, "instrument": instrument.0, "side": side.as_str(),
            "price": px(instrument, price_minor), "remaining": remaining_tonnes,
        }),
        Event::OrderAmended {
            order,
            instrument,
            side,
            old_price_minor,
            old_remaining_tonnes,
            price_minor,
            remaining_tonnes,
            priority_kept,
        } => json!({
            "type": "order_amended", "order": order.0, "instrument": instrument.0, "side": side.as_str(),
            "old_price": px(instrument, old_price_minor), "old_remaining": old_remaining_tonnes,
            "price": px(instrument, price_minor), "remaining": remaining_tonnes, "priority_kept": priority_kept,
        }),
        Event::OrderCancelled {
            order,
            instrument,
            side,
            price_minor,
            remaining_tonnes,
            reason,
            rested,
        } => json!({
            "type": "order_cancelled", "order": order.0, "instrument": instrument.0, "side": side.as_str(),
            "price": px(instrument, price_minor), "remaining": remaining_tonnes, "reason": reason.as_str(), "rested": rested,
        }),
        Event::Traded(f) => {
            let c = currency(f.instrument);
            json!({
                "type": "trade", "trade": f.trade.0, "instrument": f.instrument.0, "price": px(&f.instrument, &f.price_minor),
                "currency": c.code(), "quantity": f.quantity_tonnes, "buy_order": f.buy_order.0, "sell_order": f.sell_order.0,
                "buyer": f.buyer.0, "seller": f.seller.0, "aggressor": f.aggressor.as_str(),
                "buyer_fee": format_minor(i128::from(f.buyer_fee_minor), c), "seller_fee": format_minor(i128::from(f.seller_fee_minor), c),
                "serials": f.serials.iter().map(|(i, s)| json!({ "issuance": i.0, "serials": ranges_json(s.ranges()) })).collect::<Vec<_>>(),
                "retirements": f.retirements.iter().map(|r| r.0).collect::<Vec<_>>(),
            })
        }
        Event::AuctionCreated { auction } => {
            json!({ "type": "auction_created", "auction": auction.0 })
        }
        Event::BidPlaced { bid, auction, lot } => {
            json!({ "type": "bid_placed", "bid": bid.0, "auction": auction.0, "lot": lot })
        }
        Event::BidChanged { bid, auction, lot } => {
            json!({ "type": "bid_changed", "bid": bid.0, "auction": auction.0, "lot": lot })
        }
        Event::BidWithdrawn { bid, auction, lot } => {
            json!({ "type": "bid_withdrawn", "bid": bid.0, "auction": auction.0, "lot": lot })
        }
        Event::LotCleared { auction, lot, instrument, clearing_price_minor, sold_tonnes } => {
            json!({
                "type": "lot_cleared", "auction": auction.0, "lot": lot, "instrument": instrument.0,
                "clearing_price": clearing_price_minor.map(|p| px(instrument, &p)),
                "clearing_price_minor": clearing_price_minor, "sold_tonnes": sold_tonnes,
            })
        }
        Event::AuctionClosed { auction } => {
            json!({ "type": "auction_closed", "auction": auction.0 })
        }
        Event::BasketCreated { basket } => json!({ "type": "basket_created", "basket": basket.0 }),
        Event::BasketCriteriaSet { basket } => {
            json!({ "type": "basket_criteria_set", "basket": basket.0 })
        }
        Event::ProjectRated { project, rating } => {
            json!({ "type": "project_rated", "project": project.0, "rating": rating })
        }
        Event::BasketDeposited { basket, account, issuance, serials, priority } => json!({
            "type": "basket_deposited", "basket": basket.0, "account": account.0, "issuance": issuance.0,
            "quantity": serials.quantity_tonnes(), "serials": ranges_json(serials.ranges()), "priority": priority,
        }),
        Event::BasketWithdrawn { basket, account, issuance, serials } => json!({
            "type": "basket_withdrawn", "basket": basket.0, "account": account.0, "issuance": issuance.0,
            "quantity": serials.quantity_tonnes(), "serials": ranges_json(serials.ranges()),
        }),
        Event::BasketDepositReturned { basket, account, issuance, serials } => json!({
            "type": "basket_deposit_returned", "basket": basket.0, "account": account.0, "issuance": issuance.0,
            "quantity": serials.quantity_tonnes(), "serials": ranges_json(serials.ranges()),
        }),
        _ => unreachable!("registry events are rendered by event_json"),
    }
}

/// A retirement as the public sees it: what was retired, from which project and vintage, for
/// whom, and the journal record that holds it.
pub fn retirement_json(s: &State, r: &rasid_core::model::Retirement) -> Value {
    let iss = s.issuance(r.issuance).expect("audit: retirements name issuances");
    let project = s.project(iss.project).expect("audit: issuances name projects");
    json!({
        "id": r.id.0, "account": r.account.0, "issuance": r.issuance.0,
        "project": { "id": project.id.0, "external_id": project.info.external_id, "name": project.info.name, "country": project.info.country },
        "vintage": iss.vintage_year, "quantity": r.serials.quantity_tonnes(), "serials": ranges_json(r.serials.ranges()),
        "beneficiary": r.details.beneficiary, "purpose": r.details.purpose.as_str(),
        "using_entity": r.details.using_entity, "note": r.details.note,
        "time": rfc3339(r.retired_at_ms), "seq": r.seq,
    })
}

fn money(minor: i64, c: Currency) -> String {
    format_minor(i128::from(minor), c)
}

/// Lower-case name of a domain enum without an `as_str` of its own (effect, basis, phase).
fn lower(v: impl std::fmt::Debug) -> String {
    format!("{v:?}").to_lowercase()
}

pub fn project_json(p: &rasid_core::model::Project) -> Value {
    let i = &p.info;
    json!({
        "id": p.id.0, "program": i.program.as_str(), "external_id": i.external_id, "name": i.name,
        "methodology": i.methodology, "country": i.country, "region": i.region, "scope": i.scope,
        "type": i.project_type, "effect": lower(i.effect), "basis": lower(i.basis), "developer": i.developer.0,
    })
}

pub fn labels_json(l: &rasid_core::model::Labels) -> Value {
    json!({
        "corsia": l.corsia.map(lower),
        "ccp": l.ccp,
        "article6": l.article6.as_ref().map(|a| json!({ "authorization_ref": a.authorization_ref, "ca_status": a.ca_status.as_str() })),
    })
}

pub fn issuance_json(i: &rasid_core::model::Issuance) -> Value {
    json!({
        "id": i.id.0, "project": i.project.0, "vintage": i.vintage_year,
        "block": ranges_json([i.block]), "quantity": i.block.quantity_tonnes(),
        "retired_tonnes": i.retired.quantity_tonnes(), "cancelled_tonnes": i.cancelled.quantity_tonnes(),
        "buffer_tonnes": i.buffer_tonnes, "external_ref": i.external_ref,
        "labels": labels_json(&i.labels), "issued": rfc3339(i.issued_at_ms),
    })
}

pub fn account_json(a: &rasid_core::model::Account) -> Value {
    json!({ "id": a.id.0, "org": a.org.0, "name": a.name, "kind": lower(a.kind) })
}

pub fn organization_json(o: &rasid_core::model::Organization) -> Value {
    json!({ "id": o.id.0, "name": o.name, "role": o.role.as_str() })
}

pub fn balances_json(s: &State, account: rasid_core::AccountId) -> Value {
    s.balances_of(account)
        .map(|(c, b)| {
            json!({ "currency": c.code(), "available": money(b.available_minor, c), "reserved": money(b.reserved_minor, c) })
        })
        .collect()
}

pub fn order_json(s: &State, o: &Order) -> Value {
    let c = s.instrument(o.instrument).map_or(Currency::Sar, |i| i.spec.currency);
    json!({
        "id": o.id.0, "instrument": o.instrument.0, "account": o.account.0, "side": o.side.as_str(),
        "price": money(o.price_minor, c), "currency": c.code(), "quantity": o.quantity_tonnes,
        "remaining": o.remaining_tonnes, "time_in_force": o.time_in_force.as_str(),
        "expires": match o.time_in_force { TimeInForce::Gtd { expires_at_ms } => Some(rfc3339(expires_at_ms)), _ => None },
        "post_only": o.post_only, "client_order_id": o.client_order_id(), "self_trade": o.self_trade.as_str(),
        "retire_for": o.retire().map(|r| r.beneficiary.clone()), "created": rfc3339(o.created_at_ms),
        "reserved_cash": money(o.reserved_cash_minor(), c),
        "reserved_serials": o.reserved_serials().iter().map(|(i, set)| json!({ "issuance": i.0, "serials": ranges_json(set.ranges()) })).collect::<Vec<_>>(),
    })
}

pub fn instrument_json(s: &State, i: &Instrument) -> Value {
    let c = i.spec.currency;
    let (project, vintage_year, basket) = match i.spec.underlying {
        Underlying::ProjectVintage { project, vintage_year } => {
            (Some(project), Some(vintage_year), None)
        }
        Underlying::Basket { basket } => (None, None, Some(basket)),
    };
    let book = s.book(i.id);
    let best = |side| book.and_then(|b| b.best_price(side)).map(|p| money(p, c));
    let (low, high) = i.band();
    json!({
        "id": i.id.0, "symbol": i.spec.symbol, "status": i.status.as_str(),
        "project": project.map(|p| p.0), "project_external_id": project.and_then(|p| s.project(p)).map(|p| p.info.external_id.clone()),
        "vintage": vintage_year, "basket": basket.map(|b| b.0),
        "basket_name": basket.and_then(|b| s.basket(b)).map(|b| b.name.clone()), "currency": c.code(), "tick": money(i.spec.tick_minor, c), "lot_tonnes": i.spec.lot_tonnes,
        "band_bps": i.spec.band_bps, "band": { "low": money(low, c), "high": money(high, c) },
        "reference_price": money(i.spec.reference_price_minor, c),
        "fees": { "maker_bps": i.spec.fees.maker_bps, "taker_bps": i.spec.fees.taker_bps, "min_fee": money(i.spec.fees.min_fee_minor, c) },
        "best_bid": best(Side::Buy), "best_ask": best(Side::Sell),
    })
}

pub fn basket_json(s: &State, b: &Basket) -> Value {
    let c = &b.criteria;
    let deposited: u64 =
        s.deposits().filter(|(id, ..)| *id == b.id).map(|(.., d)| d.free.quantity_tonnes()).sum();
    json!({
        "id": b.id.0, "name": b.name,
        "criteria": {
            "programs": c.programs.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            "effects": c.effects.iter().map(lower).collect::<Vec<_>>(),
            "bases": c.bases.iter().map(lower).collect::<Vec<_>>(),
            "project_types": c.project_types, "places": c.places,
            "vintage_min": c.vintage_min, "vintage_max": c.vintage_max,
            "corsia": c.corsia.map(lower), "ccp": c.ccp, "article6_authorised": c.article6_authorised,
            "rating_min": c.rating_min,
        },
        "free_deposited_tonnes": deposited,
    })
}

fn lot_currency(s: &State, lot: &LotSpec) -> Currency {
    s.instrument(lot.instrument).map_or(Currency::Sar, |i| i.spec.currency)
}

fn auction_status(a: &Auction) -> &'static str {
    match a.status {
        AuctionStatus::Open => "open",
        AuctionStatus::Closed => "closed",
    }
}

/// What anyone may see of an auction: never a bid or a bidder before close; after close only
/// aggregates and the anonymous demand curve.
pub fn auction_public_json(s: &State, a: &Auction) -> Value {
    let lots: Vec<Value> = a
        .lots
        .iter()
        .enumerate()
        .map(|(i, lot)| {
            let c = lot_currency(s, &lot.spec);
            let result = lot.result.as_ref().map(|r| {
                json!({
                    "clearing_price": r.clearing_price_minor.map(|p| money(p, c)),
                    "sold_tonnes": r.sold_tonnes, "returned_tonnes": r.returned_tonnes,
                    "bids": r.bids, "bidders": r.bidders,
                    "demand_curve": r.demand_curve.iter().map(|(p, q)| json!({ "price": money(*p, c), "cumulative_tonnes": q })).collect::<Vec<_>>(),
                })
            });
            json!({
                "lot": i, "instrument": lot.spec.instrument.0,
                "symbol": s.instrument(lot.spec.instrument).map(|x| x.spec.symbol.clone()),
                "quantity_tonnes": lot.spec.quantity_tonnes, "reserve_price": money(lot.spec.reserve_price_minor, c),
                "currency": c.code(), "min_bid_tonnes": lot.spec.min_bid_tonnes, "increment_tonnes": lot.spec.increment_tonnes,
                "guaranteed_bidders": lot.spec.guaranteed.len(), "result": result,
            })
        })
        .collect();
    json!({
        "id": a.id.0, "name": a.name, "rule": a.rule.as_str(), "status": auction_status(a),
        "opens": rfc3339(a.opens_at_ms), "closes": rfc3339(a.closes_at_ms),
        "approved_bidders": a.approved_bidders.len(), "lots": lots,
    })
}

/// One organization's own bids (while open) and allocations (after close). `State::bids_of`
/// returns everyone's bids: this filter is what keeps them sealed.
pub fn auction_private_json(s: &State, a: &Auction, org: rasid_core::OrgId) -> Value {
    let bids: Vec<Value> = s
        .bids_of(a.id)
        .filter(|b| b.org == org)
        .map(|b| {
            let c = lot_currency(s, &a.lots[b.lot as usize].spec);
            json!({ "id": b.id.0, "bid": b.id.0, "lot": b.lot, "account": b.account.0, "price": money(b.price_minor, c), "quantity": b.quantity_tonnes, "reserved_cash": money(b.reserved_cash_minor, c) })
        })
        .collect();
    let allocations: Vec<Value> = a
        .lots
        .iter()
        .enumerate()
        .flat_map(|(i, lot)| {
            let c = lot_currency(s, &lot.spec);
            lot.result.iter().flat_map(|r| r.allocations.iter()).filter(|al| al.org == org).map(move |al| {
                json!({
                    "lot": i, "bid": al.bid.0, "account": al.account.0, "quantity": al.quantity_tonnes,
                    "price": money(al.price_minor, c), "guaranteed_tonnes": al.guaranteed_tonnes,
                    "fee": money(al.buyer_fee_minor, c),
                    "serials": al.serials.iter().map(|(iss, set)| json!({ "issuance": iss.0, "serials": ranges_json(set.ranges()) })).collect::<Vec<_>>(),
                })
            }).collect::<Vec<_>>()
        })
        .collect();
    json!({ "org": org.0, "bids": bids, "allocations": allocations })
}

/// A committed command's reply (`{"events":[…],"seq":…,"time":…}`), written straight to bytes
/// by hand. The order-entry path answers every order with one of these. Building a
/// `serde_json::Value` tree first (a map and a string per key, then freeing all of it) cost more
/// CPU than the rest of the request; serializing through serde without the tree still cost
/// ≈ 8k instructions per order, most of it `serialize_str` scanning every key and value for
/// characters to escape and the map machinery writing each key's quotes and separators one by
/// one. Here each key is a constant written together with its punctuation, numbers are printed
/// digit by digit, and only the few strings that vary are checked for escapes. The bytes are
/// the same as `event_json`'s would be: keys in the sorted order a `Value` map prints them, the
/// same values (tests hold the two together over many replies).
pub(crate) struct CommittedView<'a> {
    pub seq: u64,
    pub time_ms: i64,
    pub events: &'a [Event],
    pub currency: &'a dyn Fn(InstrumentId) -> Currency,
}

impl CommittedView<'_> {
    /// The reply as JSON, byte for byte what `serde_json` prints for the same reply built as a
    /// `Value` from [`event_json`].
    pub(crate) fn to_json(&self) -> Vec<u8> {
        // Room for a typical order's events (accepted, a trade or two, rested) without growing.
        let capacity = 288usize.saturating_mul(self.events.len()).saturating_add(96);
        let mut out = Json(Vec::with_capacity(capacity));
        out.raw(b"{\"events\":[");
        for (n, e) in self.events.iter().enumerate() {
            if n > 0 {
                out.raw(b",");
            }
            out.event(e, self.currency);
        }
        out.raw(b"],\"seq\":");
        out.u64(self.seq);
        out.raw(b",\"time\":");
        out.time(self.time_ms);
        out.raw(b"}");
        out.0
    }
}

/// The last few amounts the order path formatted, per thread. `format_minor` builds a `String`
/// through `format!` each time, yet the events of one order repeat a few amounts (its price;
/// the fees, often zero). What is printed is always what `format_minor` prints: an amount is
/// formatted by it the first time and reused only for the same inputs.
mod recent {
    use super::{Currency, format_minor};
    use std::cell::RefCell;

    /// Amounts remembered per thread, replaced oldest first.
    const AMOUNTS: usize = 4;

    #[derive(Default)]
    struct Recent {
        amounts: [Option<(i64, Currency, String)>; AMOUNTS],
        /// The slot the next new amount replaces.
        next: usize,
    }

    thread_local! {
        static RECENT: RefCell<Recent> = RefCell::new(Recent::default());
    }

    /// Calls `f` with `format_minor(minor, currency)`.
    pub(super) fn amount<R>(minor: i64, currency: Currency, f: impl FnOnce(&str) -> R) -> R {
        RECENT.with_borrow_mut(|r| {
            let at = r
                .amounts
                .iter()
                .position(|a| a.as_ref().is_some_and(|(m, c, _)| *m == minor && *c == currency));
            let at = at.unwrap_or_else(|| {
                let at = r.next;
                r.next = (at + 1) % AMOUNTS;
                r.amounts[at] = Some((minor, currency, format_minor(i128::from(minor), currency)));
                at
            });
            let (_, _, text) = r.amounts[at].as_ref().expect("filled above");
            f(text)
        })
    }
}

/// A JSON text being written by hand, in `serde_json`'s compact format.
struct Json(Vec<u8>);

impl Json {
    /// Bytes known to be valid JSON in place: a constant key with its quotes and separators.
    fn raw(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// An unsigned integer, as `serde_json` prints it (plain decimal digits).
    fn u64(&mut self, mut n: u64) {
        let mut digits = [0_u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            // The remainder is below 10, so the cast loses nothing.
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.0.extend_from_slice(&digits[at..]);
    }

    /// A string, quoted. The strings written here (amounts, time stamps, enum names) never
    /// need escaping, so they are copied as they are once a scan has shown that; should one
    /// ever contain a quote, a backslash or a control character, `serde_json` escapes it, so the
    /// output stays what `serde_json` prints either way.
    fn str(&mut self, s: &str) {
        if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
            self.0.push(b'"');
            self.0.extend_from_slice(s.as_bytes());
            self.0.push(b'"');
        } else {
            serde_json::to_writer(&mut self.0, s).expect("a string always serializes");
        }
    }

    /// A time stamp, as `rfc3339` prints it, written without formatting a `String` (once per
    /// commit and thread `rfc3339` cost ≈ 1k instructions per order).
    fn time(&mut self, ms: i64) {
        match rasid_core::time::rfc3339_bytes(ms) {
            Some(text) => {
                self.0.push(b'"');
                self.0.extend_from_slice(&text);
                self.0.push(b'"');
            }
            None => self.str(&rfc3339(ms)),
        }
    }

    /// An amount in `currency`, as `format_minor` prints it (remembered per thread).
    fn amount(&mut self, minor: i64, currency: Currency) {
        recent::amount(minor, currency, |text| self.str(text));
    }

    /// Serial ranges, as [`ranges_json`] renders them.
    fn ranges(&mut self, set: rasid_core::SetRef<'_>) {
        self.raw(b"[");
        for (n, r) in set.ranges().enumerate() {
            if n > 0 {
                self.raw(b",");
            }
            self.raw(b"{\"first\":");
            self.u64(r.first());
            self.raw(b",\"last\":");
            self.u64(r.last());
            self.raw(b",\"quantity\":");
            self.u64(r.quantity_tonnes());
            self.raw(b"}");
        }
        self.raw(b"]");
    }

    /// One event. The events an order produces are written by hand, keys in sorted order as a
    /// `Value` map prints them; every other event goes through [`event_json`].
    fn event(&mut self, e: &Event, currency: &dyn Fn(InstrumentId) -> Currency) {
        match e {
            Event::OrderAccepted {
                order,
                instrument,
                account,
                side,
                price_minor,
                quantity_tonnes,
            } => {
                self.raw(b"{\"account\":");
                self.u64(account.0);
                self.raw(b",\"instrument\":");
                self.u64(instrument.0);
                self.raw(b",\"order\":");
                self.u64(order.0);
                self.raw(b",\"price\":");
                self.amount(*price_minor, currency(*instrument));
                self.raw(b",\"quantity\":");
                self.u64(*quantity_tonnes);
                self.raw(b",\"side\":");
                self.str(side.as_str());
                self.raw(b",\"type\":\"order_accepted\"}");
            }
            Event::OrderRested { order, instrument, side, price_minor, remaining_tonnes } => {
                self.raw(b"{\"instrument\":");
                self.u64(instrument.0);
                self.raw(b",\"order\":");
                self.u64(order.0);
                self.raw(b",\"price\":");
                self.amount(*price_minor, currency(*instrument));
                self.raw(b",\"remaining\":");
                self.u64(*remaining_tonnes);
                self.raw(b",\"side\":");
                self.str(side.as_str());
                self.raw(b",\"type\":\"order_rested\"}");
            }
            Event::Traded(f) => {
                let c = currency(f.instrument);
                self.raw(b"{\"aggressor\":");
                self.str(f.aggressor.as_str());
                self.raw(b",\"buy_order\":");
                self.u64(f.buy_order.0);
                self.raw(b",\"buyer\":");
                self.u64(f.buyer.0);
                self.raw(b",\"buyer_fee\":");
                self.amount(f.buyer_fee_minor, c);
                self.raw(b",\"currency\":");
                self.str(c.code());
                self.raw(b",\"instrument\":");
                self.u64(f.instrument.0);
                self.raw(b",\"price\":");
                self.amount(f.price_minor, c);
                self.raw(b",\"quantity\":");
                self.u64(f.quantity_tonnes);
                self.raw(b",\"retirements\":[");
                for (n, r) in f.retirements.iter().enumerate() {
                    if n > 0 {
                        self.raw(b",");
                    }
                    self.u64(r.0);
                }
                self.raw(b"],\"sell_order\":");
                self.u64(f.sell_order.0);
                self.raw(b",\"seller\":");
                self.u64(f.seller.0);
                self.raw(b",\"seller_fee\":");
                self.amount(f.seller_fee_minor, c);
                self.raw(b",\"serials\":[");
                for (n, (issuance, serials)) in f.serials.iter().enumerate() {
                    if n > 0 {
                        self.raw(b",");
                    }
                    self.raw(b"{\"issuance\":");
                    self.u64(issuance.0);
                    self.raw(b",\"serials\":");
                    self.ranges(serials);
                    self.raw(b"}");
                }
                self.raw(b"],\"trade\":");
                self.u64(f.trade.0);
                self.raw(b",\"type\":\"trade\"}");
            }
            other => serde_json::to_writer(&mut self.0, &event_json(other, currency))
                .expect("a Value always serializes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rasid_core::exchange::{Fill, OrderId, Serials, TradeId};
    use rasid_core::{AccountId, IssuanceId, OrgId, RangeSet, RetirementId};

    /// What `CommittedView` writes, as text.
    fn written(view: &CommittedView<'_>) -> String {
        String::from_utf8(view.to_json()).expect("JSON is UTF-8")
    }

    /// The order path's hand-written JSON prints exactly what `event_json` prints.
    #[test]
    fn committed_view_matches_event_json() {
        let mut serials = RangeSet::from_range(SerialRange::new(10, 19).unwrap());
        serials.insert(SerialRange::new(30, 30).unwrap()).unwrap();
        let i = InstrumentId(3);
        let events = vec![
            Event::OrderAccepted {
                order: OrderId(7),
                instrument: i,
                account: AccountId(4),
                side: Side::Buy,
                price_minor: 12_345,
                quantity_tonnes: 11,
            },
            Event::Traded(Fill {
                trade: TradeId(9),
                instrument: i,
                price_minor: -5,
                quantity_tonnes: 11,
                buy_order: OrderId(7),
                sell_order: OrderId(2),
                buyer: AccountId(4),
                seller: AccountId(3),
                aggressor: Side::Buy,
                serials: Serials::from_vec(vec![
                    (IssuanceId(1), serials),
                    (IssuanceId(2), RangeSet::new()),
                ]),
                buyer_fee_minor: 100,
                seller_fee_minor: 0,
                retirements: vec![RetirementId(5), RetirementId(6)].into(),
            }),
            Event::OrderRested {
                order: OrderId(8),
                instrument: i,
                side: Side::Sell,
                price_minor: 1,
                remaining_tonnes: 3,
            },
            Event::OrganizationCreated { org: OrgId(5) },
        ];
        let currency = |_: InstrumentId| Currency::Sar;
        let view = CommittedView {
            seq: 42,
            time_ms: 1_700_000_000_123,
            events: &events,
            currency: &currency,
        };
        let values: Vec<Value> = events.iter().map(|e| event_json(e, &currency)).collect();
        let expected = json!({ "seq": 42, "time": rfc3339(1_700_000_000_123), "events": values });
        assert_eq!(written(&view), expected.to_string());
    }

    /// The remembered amounts and time stamps never change what is printed: many replies in a
    /// row, with times that repeat and change, more distinct amounts than are remembered, the
    /// same amount in several currencies and negative amounts, each equal to `event_json`.
    #[test]
    fn remembered_amounts_and_times_print_what_formatting_prints() {
        let instruments = [InstrumentId(1), InstrumentId(2), InstrumentId(3), InstrumentId(4)];
        let currency = |i: InstrumentId| Currency::ALL[(i.0 as usize - 1) % Currency::ALL.len()];
        for n in 0..200_i64 {
            let i = instruments[(n % 4) as usize];
            let price_minor = [12_345, -5, 0, 1, 100, 12_345, 7 * n][(n % 7) as usize];
            let events = vec![
                Event::OrderAccepted {
                    order: OrderId(n as u64),
                    instrument: i,
                    account: AccountId(4),
                    side: Side::Buy,
                    price_minor,
                    quantity_tonnes: 1,
                },
                Event::Traded(Fill {
                    trade: TradeId(n as u64),
                    instrument: i,
                    price_minor: price_minor + n % 3,
                    quantity_tonnes: 1,
                    buy_order: OrderId(n as u64),
                    sell_order: OrderId(2),
                    buyer: AccountId(4),
                    seller: AccountId(3),
                    aggressor: Side::Buy,
                    serials: Serials::new(),
                    buyer_fee_minor: n % 5,
                    seller_fee_minor: -(n % 2),
                    retirements: Default::default(),
                }),
            ];
            let time_ms = 1_700_000_000_000 + (n / 10) * 1_001;
            let view =
                CommittedView { seq: n as u64, time_ms, events: &events, currency: &currency };
            let values: Vec<Value> = events.iter().map(|e| event_json(e, &currency)).collect();
            let expected = json!({ "seq": n, "time": rfc3339(time_ms), "events": values });
            assert_eq!(written(&view), expected.to_string(), "reply {n}");
        }
    }

    /// Numbers and strings as the hand-written JSON prints them are `serde_json`'s: every
    /// number of digits, both ends of `u64`, and strings that need escaping (quotes,
    /// backslashes, control characters) next to ones that do not (non-ASCII, DEL).
    #[test]
    fn hand_written_numbers_and_strings_are_serde_jsons() {
        let mut numbers = vec![0, 1, 9, 10, 99, 100, u64::MAX, u64::MAX - 1];
        numbers.extend((0..20).map(|p| 10_u64.pow(p)));
        numbers.extend((1..20).map(|p| 10_u64.pow(p) - 1));
        for n in numbers {
            let mut out = Json(Vec::new());
            out.u64(n);
            assert_eq!(out.0, serde_json::to_vec(&n).unwrap(), "{n}");
        }
        let strings = [
            "",
            "SAR",
            "12.34",
            "-0.05",
            "2023-11-14T22:13:20.123Z",
            "a \"quoted\" word",
            "back\\slash",
            "tab\there\nnew line \u{1} \u{1f}",
            "\u{7f} del, \u{e9}t\u{e9}, \u{0631}\u{0627}\u{0634}\u{062f}, \u{1f331}",
        ];
        for s in strings {
            let mut out = Json(Vec::new());
            out.str(s);
            assert_eq!(out.0, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }

    /// Many generated replies — every event the order path writes by hand, in any number and
    /// order, with ids and quantities up to `u64::MAX`, amounts of every sign in every currency,
    /// serial sets of no, one and many ranges (the many in a set's B-tree form), retirements,
    /// and events that fall back to `event_json` — each byte for byte what `event_json` prints.
    #[test]
    fn generated_replies_print_what_event_json_prints() {
        // A fixed xorshift sequence: the same replies on every run.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let currency = |i: InstrumentId| Currency::ALL[(i.0 % Currency::ALL.len() as u64) as usize];
        for n in 0..2_000 {
            let mut pick = |bound: u64| next() % bound;
            // Small numbers mostly, now and then the largest.
            let mut id = || match pick(8) {
                0 => u64::MAX,
                1 => pick(u64::MAX),
                _ => pick(1_000),
            };
            let (a, b, c, d, e, f, g) = (id(), id(), id(), id(), id(), id(), id());
            let amount = |x: u64| match x % 6 {
                0 => 0,
                1 => i64::MIN,
                2 => i64::MAX,
                3 => -(x as i64 % 100_000),
                _ => (x % 10_000_000) as i64,
            };
            let side = if a % 2 == 0 { Side::Buy } else { Side::Sell };
            let mut serials = Vec::new();
            for issuance in 0..(b % 4) {
                let mut set = RangeSet::new();
                for r in 0..[0, 1, 3, 300][(c.wrapping_add(issuance) % 4) as usize] {
                    let first = (r * 10 + d % 5) % (u64::MAX - 10);
                    set.insert(SerialRange::new(first, first + e % 5).unwrap()).unwrap();
                }
                serials.push((IssuanceId(issuance + f % 3), set));
            }
            let mut events = Vec::new();
            for k in 0..(g % 5 + 1) {
                let instrument = InstrumentId(a.wrapping_add(k) % 7);
                events.push(match a.wrapping_add(b).wrapping_add(k) % 5 {
                    0 => Event::OrderAccepted {
                        order: OrderId(a),
                        instrument,
                        account: AccountId(b),
                        side,
                        price_minor: amount(c.wrapping_add(k)),
                        quantity_tonnes: d,
                    },
                    1 => Event::OrderRested {
                        order: OrderId(e),
                        instrument,
                        side,
                        price_minor: amount(f),
                        remaining_tonnes: g,
                    },
                    2 => Event::OrderCancelled {
                        order: OrderId(c),
                        instrument,
                        side,
                        price_minor: amount(d),
                        remaining_tonnes: e,
                        reason: rasid_core::exchange::CancelReason::Requested,
                        rested: a % 3 == 0,
                    },
                    3 => Event::AccountOpened { account: AccountId(f), org: OrgId(g) },
                    _ => Event::Traded(Fill {
                        trade: TradeId(a),
                        instrument,
                        price_minor: amount(b),
                        quantity_tonnes: c,
                        buy_order: OrderId(d),
                        sell_order: OrderId(e),
                        buyer: AccountId(f),
                        seller: AccountId(g),
                        aggressor: side,
                        serials: Serials::from_vec(serials.clone()),
                        buyer_fee_minor: amount(c),
                        seller_fee_minor: amount(d.wrapping_add(k)),
                        retirements: (0..(e % 3))
                            .map(|r| RetirementId(r.wrapping_add(f)))
                            .collect::<Vec<_>>()
                            .into(),
                    }),
                });
            }
            // Times of four-digit years are written by hand; the last two are not.
            let time_ms = [
                0,
                -1,
                1_700_000_000_123,
                253_402_300_799_999,
                253_402_300_800_000,
                -62_167_219_200_001,
            ][(n % 6) as usize];
            let view = CommittedView { seq: id(), time_ms, events: &events, currency: &currency };
            let values: Vec<Value> = events.iter().map(|e| event_json(e, &currency)).collect();
            let expected = json!({ "seq": view.seq, "time": rfc3339(time_ms), "events": values });
            assert_eq!(written(&view), expected.to_string(), "reply {n}");
        }
    }
}
