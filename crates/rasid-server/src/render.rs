//! The JSON wire shapes of ledger events and serial ranges, shared by the CLI (`--json`) and the
//! HTTP API so both speak the same format. Built from domain values; domain types are never
//! serialized directly.

use rasid_core::exchange::InstrumentId;
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
        Event::InstrumentListed { instrument } => {
            json!({ "type": "instrument_listed", "instrument": instrument.0 })
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
        // Lot results carry no instrument here; prices in minor units, the currency is the lot's.
        Event::LotCleared { auction, lot, clearing_price_minor, sold_tonnes } => json!({
            "type": "lot_cleared", "auction": auction.0, "lot": lot,
            "clearing_price_minor": clearing_price_minor, "sold_tonnes": sold_tonnes,
        }),
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
