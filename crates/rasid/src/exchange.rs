//! The exchange from the command line: instruments, orders and market data.

use crate::cli::{InstrumentArgs, InstrumentCmd, MarketCmd, OrderCmd, PlaceArgs};
use crate::output::{Failure, Output, thousands};
use crate::registry::{Ctx, accepted};
use rasid_core::exchange::{
    FeeSchedule, Instrument, InstrumentId, InstrumentSpec, InstrumentStatus, Order, OrderRequest,
    OrderType, SelfTradePrevention, Side, TimeInForce, Underlying,
};
use rasid_core::model::RetirementDetails;
use rasid_core::money::{format_minor, parse_minor};
use rasid_core::time::{parse_rfc3339, rfc3339};
use rasid_core::{Command, Currency, Rejection, State};
use rasid_market::{Interval, MarketData};
use rasid_server::render::{instrument_json, order_json};
use serde_json::{Value, json};
use std::fmt::Write as _;

/// Finds an instrument by id (`ins3`, `3`) or symbol.
fn resolve(ctx: &Ctx, reference: &str) -> Result<Instrument, Failure> {
    let reference = reference.to_owned();
    ctx.read(move |s| {
        let by_id = reference.parse::<InstrumentId>().ok().and_then(|id| s.instrument(id));
        by_id.or_else(|| s.instrument_by_symbol(&reference)).cloned()
    })?
    .ok_or(Failure::Rejected(Rejection::UnknownInstrument))
}

fn price(s: &str, currency: Currency) -> Result<i64, Failure> {
    parse_minor(s, currency).map_err(|m| Failure::invalid("invalid_price", m))
}

fn money(minor: i64, currency: Currency) -> String {
    format_minor(i128::from(minor), currency)
}

pub fn instrument(ctx: &Ctx, cmd: InstrumentCmd) -> Result<Output, Failure> {
    let operator = ctx.operator()?;
    let status = |ctx: &Ctx, r: &str, status| -> Result<Output, Failure> {
        let inst = resolve(ctx, r)?;
        accepted(
            ctx,
            ctx.submit(operator, Command::SetInstrumentStatus { instrument: inst.id, status })?,
        )
    };
    match cmd {
        InstrumentCmd::List => ctx.read(|s| {
            let rows: Vec<Value> = s.instruments().map(|i| instrument_json(s, i)).collect();
            let text = s
                .instruments()
                .map(|i| {
                    let c = i.spec.currency;
                    format!(
                        "{:<6} {:<16} {:<7} {} {} lot {} t  ref {}",
                        i.id.to_string(),
                        i.spec.symbol,
                        i.status.as_str(),
                        c,
                        money(i.spec.tick_minor, c),
                        i.spec.lot_tonnes,
                        money(i.spec.reference_price_minor, c)
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::new(text, json!({ "instruments": rows }))
        }),
        InstrumentCmd::Add(a) => {
            accepted(ctx, ctx.submit(operator, Command::ListInstrument { spec: spec(a)? })?)
        }
        InstrumentCmd::Halt { instrument } => status(ctx, &instrument, InstrumentStatus::Halted),
        InstrumentCmd::Resume { instrument } => status(ctx, &instrument, InstrumentStatus::Open),
        InstrumentCmd::Close { instrument } => status(ctx, &instrument, InstrumentStatus::Closed),
        InstrumentCmd::Reference { instrument, price: p } => {
            let inst = resolve(ctx, &instrument)?;
            let price_minor = price(&p, inst.spec.currency)?;
            accepted(
                ctx,
                ctx.submit(
                    operator,
                    Command::SetReferencePrice { instrument: inst.id, price_minor },
                )?,
            )
        }
    }
}

fn spec(a: InstrumentArgs) -> Result<InstrumentSpec, Failure> {
    let c = a.currency;
    let underlying = match (a.basket, a.project, a.vintage) {
        (Some(basket), _, _) => Underlying::Basket { basket },
        (None, Some(project), Some(vintage_year)) => {
            Underlying::ProjectVintage { project, vintage_year }
        }
        _ => {
            return Err(Failure::invalid(
                "invalid_instrument",
                "give --project with --vintage, or --basket",
            ));
        }
    };
    Ok(InstrumentSpec {
        symbol: a.symbol,
        underlying,
        currency: c,
        tick_minor: price(&a.tick, c)?,
        lot_tonnes: a.lot,
        band_bps: a.band_bps,
        reference_price_minor: price(&a.reference, c)?,
        fees: FeeSchedule {
            maker_bps: a.maker_bps,
            taker_bps: a.taker_bps,
            min_fee_minor: price(&a.min_fee, c)?,
        },
    })
}

fn time_in_force(a: &PlaceArgs) -> Result<TimeInForce, Failure> {
    let default = if a.market { "ioc" } else { "gtc" };
    match a.tif.as_deref().unwrap_or(default) {
        "gtc" => Ok(TimeInForce::Gtc),
        "day" => Ok(TimeInForce::Day),
        "ioc" => Ok(TimeInForce::Ioc),
        "fok" => Ok(TimeInForce::Fok),
        "gtd" => {
            let when = a.expires.as_deref().ok_or_else(|| {
                Failure::invalid("invalid_time_in_force", "--tif gtd needs --expires")
            })?;
            let expires_at_ms =
                parse_rfc3339(when).map_err(|m| Failure::invalid("invalid_time", m))?;
            Ok(TimeInForce::Gtd { expires_at_ms })
        }
        other => Err(Failure::invalid(
            "invalid_time_in_force",
            format!("{other:?}: expected gtc, day, gtd, ioc or fok"),
        )),
    }
}

fn self_trade(s: &str) -> Result<SelfTradePrevention, Failure> {
    [
        SelfTradePrevention::CancelResting,
        SelfTradePrevention::CancelIncoming,
        SelfTradePrevention::CancelBoth,
    ]
    .into_iter()
    .find(|m| m.as_str() == s)
    .ok_or_else(|| {
        Failure::invalid(
            "invalid_self_trade",
            format!("{s:?}: expected cancel_resting, cancel_incoming or cancel_both"),
        )
    })
}

pub fn order(ctx: &Ctx, cmd: OrderCmd) -> Result<Output, Failure> {
    match cmd {
        OrderCmd::Place(a) => {
            let inst = resolve(ctx, &a.instrument)?;
            let order_type = match &a.price {
                Some(p) if !a.market => {
                    OrderType::Limit { price_minor: price(p, inst.spec.currency)? }
                }
                _ => OrderType::Market,
            };
            let request = OrderRequest {
                instrument: inst.id,
                account: a.account,
                side: a.side,
                order_type,
                quantity_tonnes: a.quantity,
                time_in_force: time_in_force(&a)?,
                post_only: a.post_only,
                client_order_id: a.client_id.clone(),
                self_trade: self_trade(&a.stp)?,
                retire: a.retire_for.clone().map(|beneficiary| {
                    Box::new(RetirementDetails {
                        beneficiary,
                        purpose: a.purpose,
                        using_entity: String::new(),
                        note: String::new(),
                    })
                }),
            };
            accepted(
                ctx,
                ctx.submit(ctx.owner(a.account)?, Command::PlaceOrder { order: request })?,
            )
        }
        OrderCmd::Amend { order, quantity, price: p } => {
            let found = ctx.read(move |s| {
                s.order(order).map(|o| (o.org, s.instrument(o.instrument).map(|i| i.spec.currency)))
            })?;
            let (owner, currency) = found.ok_or(Failure::Rejected(Rejection::UnknownOrder))?;
            let price_minor =
                p.map(|p| price(&p, currency.unwrap_or(Currency::Sar))).transpose()?;
            let actor = ctx.actor_or(owner);
            accepted(
                ctx,
                ctx.submit(
                    actor,
                    Command::AmendOrder { order, remaining_tonnes: quantity, price_minor },
                )?,
            )
        }
        OrderCmd::Cancel { order } => {
            let owner = ctx
                .read(move |s| s.order(order).map(|o| o.org))?
                .ok_or(Failure::Rejected(Rejection::UnknownOrder))?;
            accepted(ctx, ctx.submit(ctx.actor_or(owner), Command::CancelOrder { order })?)
        }
        OrderCmd::CancelAll { account, instrument } => {
            let instrument = instrument.map(|i| resolve(ctx, &i).map(|i| i.id)).transpose()?;
            accepted(
                ctx,
                ctx.submit(ctx.owner(account)?, Command::CancelAllOrders { account, instrument })?,
            )
        }
        OrderCmd::List { account } => ctx.read(move |s| {
            let orders: Vec<&Order> = s.orders_of(account).collect();
            let rows: Vec<Value> = orders.iter().map(|o| order_json(s, o)).collect();
            let text = orders.iter().map(|o| order_text(s, o)).collect::<Vec<_>>().join("\n");
            Output::new(
                if text.is_empty() { "no open orders".into() } else { text },
                json!({ "orders": rows }),
            )
        }),
    }
}

fn currency_of(s: &State, o: &Order) -> Currency {
    s.instrument(o.instrument).map_or(Currency::Sar, |i| i.spec.currency)
}

fn order_text(s: &State, o: &Order) -> String {
    let c = currency_of(s, o);
    format!(
        "{:<8} {} {:>4} {} t of {} @ {} {} ({} left, {})",
        o.id.to_string(),
        o.instrument,
        o.side.as_str(),
        o.quantity_tonnes,
        o.instrument,
        c,
        money(o.price_minor, c),
        o.remaining_tonnes,
        o.time_in_force.as_str()
    )
}

pub fn close_session(ctx: &Ctx, instrument: Option<String>) -> Result<Output, Failure> {
    let instrument = instrument.map(|i| resolve(ctx, &i).map(|i| i.id)).transpose()?;
    accepted(ctx, ctx.submit(ctx.operator()?, Command::CloseSession { instrument })?)
}

/// Market data comes from the read model, which the CLI rebuilds from the journal (the server
/// keeps it live). Depth comes from the book itself.
pub fn market(ctx: &Ctx, cmd: MarketCmd) -> Result<Output, Failure> {
    match cmd {
        MarketCmd::List => {
            let md = market_data(ctx)?;
            ctx.read(move |s| {
                let mut text = String::new();
                let rows: Vec<Value> = s
                    .instruments()
                    .map(|i| {
                        let mut doc = instrument_json(s, i);
                        let last = md.trades(i.id, 1).first().map(|p| p.price_minor);
                        let days = md.days(i.id);
                        let today = days.last().map(|(_, d)| *d).unwrap_or_default();
                        let previous =
                            days.len().checked_sub(2).and_then(|k| days[k].1.vwap_minor());
                        let c = i.spec.currency;
                        doc["last_price"] = json!(last.map(|p| money(p, c)));
                        doc["change"] = json!(last.zip(previous).map(|(l, p)| money(l - p, c)));
                        doc["volume_tonnes"] = json!(today.volume_tonnes);
                        let _ = writeln!(
                            text,
                            "{:<16} last {:>10}  vol {:>10} t  bid {:>10}  ask {:>10}",
                            i.spec.symbol,
                            last.map_or("-".into(), |p| money(p, c)),
                            thousands(today.volume_tonnes),
                            doc["best_bid"].as_str().unwrap_or("-"),
                            doc["best_ask"].as_str().unwrap_or("-"),
                        );
                        doc
                    })
                    .collect();
                Output::new(text, json!({ "markets": rows }))
            })
        }
        MarketCmd::Book { instrument, levels } => {
            let inst = resolve(ctx, &instrument)?;
            ctx.read(move |s| {
                let book = s.book(inst.id).expect("listed instruments have books");
                let c = inst.spec.currency;
                let side = |side| -> Vec<Value> {
                    book.depth(side, levels).into_iter().map(|(p, q, n)| json!({ "price": money(p, c), "quantity": q, "orders": n })).collect()
                };
                let (bids, asks) = (side(Side::Buy), side(Side::Sell));
                let mut text = format!("{} ({})\n{:>12} {:>10} | {:<10} {:<12}\n", inst.spec.symbol, c, "bid t", "price", "price", "ask t");
                for k in 0..bids.len().max(asks.len()) {
                    let cell = |v: Option<&Value>, key: &str| v.map_or(String::new(), |x| x[key].to_string().trim_matches('"').to_owned());
                    let _ = writeln!(text, "{:>12} {:>10} | {:<10} {:<12}", cell(bids.get(k), "quantity"), cell(bids.get(k), "price"), cell(asks.get(k), "price"), cell(asks.get(k), "quantity"));
                }
                Output::new(text, json!({ "instrument": inst.id.0, "symbol": inst.spec.symbol, "currency": c.code(), "bids": bids, "asks": asks }))
            })
        }
        MarketCmd::Trades { instrument, limit } => {
            let inst = resolve(ctx, &instrument)?;
            let md = market_data(ctx)?;
            let c = inst.spec.currency;
            let prints = md.trades(inst.id, limit);
            let rows: Vec<Value> = prints.iter().map(|p| json!({ "trade": p.trade.0, "time": rfc3339(p.time_ms), "price": money(p.price_minor, c), "quantity": p.quantity_tonnes, "aggressor": p.aggressor.as_str() })).collect();
            let text = prints
                .iter()
                .map(|p| {
                    format!(
                        "{} {} {:>10} {:>8} t {}",
                        p.trade,
                        rfc3339(p.time_ms),
                        money(p.price_minor, c),
                        p.quantity_tonnes,
                        p.aggressor.as_str()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Output::new(
                text,
                json!({ "instrument": inst.id.0, "currency": c.code(), "trades": rows }),
            ))
        }
        MarketCmd::Candles { instrument, interval, limit } => {
            let interval: Interval =
                interval.parse().map_err(|m: String| Failure::invalid("invalid_interval", m))?;
            let inst = resolve(ctx, &instrument)?;
            let md = market_data(ctx)?;
            let c = inst.spec.currency;
            let candles = md.candles(inst.id, interval, limit);
            let rows: Vec<Value> = candles.iter().map(|k| json!({
                "start": rfc3339(k.start_ms), "open": money(k.open_minor, c), "high": money(k.high_minor, c),
                "low": money(k.low_minor, c), "close": money(k.close_minor, c), "volume": k.volume_tonnes, "trades": k.trades,
            })).collect();
            let text = candles
                .iter()
                .map(|k| {
                    format!(
                        "{} O {} H {} L {} C {} V {} t",
                        rfc3339(k.start_ms),
                        money(k.open_minor, c),
                        money(k.high_minor, c),
                        money(k.low_minor, c),
                        money(k.close_minor, c),
                        k.volume_tonnes
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Output::new(
                text,
                json!({ "instrument": inst.id.0, "interval": interval.as_str(), "candles": rows }),
            ))
        }
        MarketCmd::Daily { instrument } => {
            let inst = resolve(ctx, &instrument)?;
            let md = market_data(ctx)?;
            let c = inst.spec.currency;
            let days = md.days(inst.id);
            let rows: Vec<Value> = days.iter().map(|(start, d)| json!({
                "day": &rfc3339(*start)[..10], "volume": d.volume_tonnes, "trades": d.trades,
                "vwap": d.vwap_minor().map(|p| money(p, c)), "settlement_price": d.vwap_minor().map(|p| money(p, c)),
            })).collect();
            let text = days
                .iter()
                .map(|(start, d)| {
                    format!(
                        "{} volume {} t  VWAP {}",
                        &rfc3339(*start)[..10],
                        d.volume_tonnes,
                        d.vwap_minor().map_or("-".into(), |p| money(p, c))
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok(Output::new(text, json!({ "instrument": inst.id.0, "days": rows })))
        }
    }
}

/// Rebuilds the market data read model by replaying the journal.
fn market_data(ctx: &Ctx) -> Result<MarketData, Failure> {
    let mut journal = rasid_store::open_journal(&ctx.database)?;
    let mut state = State::new();
    let mut md = MarketData::new();
    journal.scan(1, &mut |record| {
        let envelope = rasid_core::codec::decode_envelope(&record.body).map_err(|e| {
            rasid_store::StoreError::Corrupt { seq: record.seq, reason: e.to_string() }
        })?;
        let events = state.execute(&envelope).map_err(|r| rasid_store::StoreError::Corrupt {
            seq: record.seq,
            reason: format!("rejected on replay ({})", r.code()),
        })?;
        md.apply(envelope.time_ms, &events);
        Ok(())
    })?;
    Ok(md)
}
