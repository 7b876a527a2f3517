//! Sealed-bid auctions from the command line.
//!
//! Bids are sealed: `auction show` prints the public record (lots, and after close the clearing
//! price, volume, bid and bidder counts and the anonymous demand curve) and, only for the
//! organization named by `--as`, that organization's own bids and allocations.

use crate::cli::AuctionCmd;
use crate::output::{Failure, Output, ranges_json};
use crate::registry::{Ctx, accepted};
use rasid_core::exchange::auction::{Auction, AuctionRule, AuctionSpec, AuctionStatus, LotSpec};
use rasid_core::money::{format_minor, parse_minor};
use rasid_core::time::{parse_rfc3339, rfc3339};
use rasid_core::{AccountId, Command, Currency, OrgId, Rejection, State};
use serde_json::{Value, json};

fn currency_of(s: &State, lot: &LotSpec) -> Currency {
    s.instrument(lot.instrument).map_or(Currency::Sar, |i| i.spec.currency)
}

fn money(minor: i64, c: Currency) -> String {
    format_minor(i128::from(minor), c)
}

fn time(s: &str) -> Result<i64, Failure> {
    parse_rfc3339(s).map_err(|m| Failure::invalid("invalid_time", m))
}

/// Parses `instrument=…,seller=…,quantity=…,reserve=…,min=…,increment=…,guarantee=ORG:T`.
fn parse_lot(ctx: &Ctx, text: &str) -> Result<LotSpec, Failure> {
    let bad = |m: String| Failure::invalid("invalid_lot", m);
    let mut fields = std::collections::BTreeMap::new();
    let mut guaranteed = Vec::new();
    for part in text.split(',') {
        let (k, v) =
            part.split_once('=').ok_or_else(|| bad(format!("{part:?} is not key=value")))?;
        if k == "guarantee" {
            let (org, t) = v
                .split_once(':')
                .ok_or_else(|| bad(format!("guarantee {v:?} is not ORG:TONNES")))?;
            let org: OrgId = org.parse().map_err(bad)?;
            guaranteed
                .push((org, t.parse::<u64>().map_err(|_| bad(format!("{t:?} is not tonnes")))?));
        } else {
            fields.insert(k.to_owned(), v.to_owned());
        }
    }
    let get = |k: &str| fields.get(k).cloned().ok_or_else(|| bad(format!("the lot needs {k}=")));
    let tonnes =
        |k: &str| get(k)?.parse::<u64>().map_err(|_| bad(format!("{k} is not whole tonnes")));
    let reference = get("instrument")?;
    let inst = ctx
        .read(move |s| {
            let by_id = reference.parse().ok().and_then(|id| s.instrument(id));
            by_id.or_else(|| s.instrument_by_symbol(&reference)).map(|i| (i.id, i.spec.currency))
        })?
        .ok_or(Failure::Rejected(Rejection::UnknownInstrument))?;
    let seller: AccountId = get("seller")?.parse().map_err(bad)?;
    let reserve = parse_minor(&get("reserve")?, inst.1).map_err(bad)?;
    Ok(LotSpec {
        instrument: inst.0,
        seller,
        quantity_tonnes: tonnes("quantity")?,
        reserve_price_minor: reserve,
        min_bid_tonnes: tonnes("min")?,
        increment_tonnes: tonnes("increment")?,
        guaranteed,
    })
}

pub fn run(ctx: &Ctx, cmd: AuctionCmd) -> Result<Output, Failure> {
    match cmd {
        AuctionCmd::Create { name, rule, opens, closes, approved, lots } => {
            let rule = match rule.as_str() {
                "uniform" => AuctionRule::UniformPrice,
                "pay-as-bid" => AuctionRule::PayAsBid,
                other => {
                    return Err(Failure::invalid(
                        "invalid_rule",
                        format!("{other:?}: expected uniform or pay-as-bid"),
                    ));
                }
            };
            let now = ctx.read(|s| s.last_time_ms())?.max(now_ms());
            let spec = AuctionSpec {
                name,
                rule,
                opens_at_ms: opens.as_deref().map(time).transpose()?.unwrap_or(now),
                closes_at_ms: time(&closes)?,
                approved_bidders: approved,
                lots: lots.iter().map(|l| parse_lot(ctx, l)).collect::<Result<_, _>>()?,
            };
            accepted(ctx, ctx.submit(ctx.operator()?, Command::CreateAuction { spec })?)
        }
        AuctionCmd::List => ctx.read(|s| {
            let rows: Vec<Value> = s.auctions().map(|a| public_json(s, a)).collect();
            let text = s
                .auctions()
                .map(|a| {
                    format!(
                        "{:<6} {:<8} closes {}  {} lot(s)  {}",
                        a.id.to_string(),
                        status(a),
                        rfc3339(a.closes_at_ms),
                        a.lots.len(),
                        a.name
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::new(text, json!({ "auctions": rows }))
        }),
        AuctionCmd::Show { auction } => {
            let viewer = ctx.viewer();
            ctx.read(move |s| {
                let a = s.auction(auction).ok_or(Failure::Rejected(Rejection::UnknownAuction))?;
                let mut doc = public_json(s, a);
                if let Some(org) = viewer {
                    doc["mine"] = private_json(s, a, org);
                }
                Ok(Output::new(serde_json::to_string_pretty(&doc).unwrap_or_default(), doc))
            })?
        }
        AuctionCmd::Bid { auction, lot, account, price, quantity } => {
            let c = ctx
                .read(move |s| {
                    s.auction(auction)
                        .and_then(|a| a.lots.get(lot as usize))
                        .map(|l| currency_of(s, &l.spec))
                })?
                .unwrap_or(Currency::Sar);
            let price_minor =
                parse_minor(&price, c).map_err(|m| Failure::invalid("invalid_price", m))?;
            let command =
                Command::PlaceBid { auction, lot, account, price_minor, quantity_tonnes: quantity };
            accepted(ctx, ctx.submit(ctx.owner(account)?, command)?)
        }
        AuctionCmd::ChangeBid { bid, price, quantity } => {
            let found = ctx.read(move |s| {
                let b = s.bid(bid)?;
                let lot = &s.auction(b.auction)?.lots[b.lot as usize];
                Some((b.org, b.auction, currency_of(s, &lot.spec)))
            })?;
            let (owner, auction, c) = found.ok_or(Failure::Rejected(Rejection::UnknownBid))?;
            let price_minor = price
                .map(|p| parse_minor(&p, c).map_err(|m| Failure::invalid("invalid_price", m)))
                .transpose()?;
            accepted(
                ctx,
                ctx.submit(
                    ctx.actor_or(owner),
                    Command::ChangeBid { auction, bid, price_minor, quantity_tonnes: quantity },
                )?,
            )
        }
        AuctionCmd::WithdrawBid { bid } => {
            let owner = ctx
                .read(move |s| s.bid(bid).map(|b| (b.org, b.auction)))?
                .ok_or(Failure::Rejected(Rejection::UnknownBid))?;
            let (owner, auction) = owner;
            accepted(ctx, ctx.submit(ctx.actor_or(owner), Command::WithdrawBid { auction, bid })?)
        }
        AuctionCmd::Close { auction } => {
            accepted(ctx, ctx.submit(ctx.operator()?, Command::CloseAuction { auction })?)
        }
    }
}

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn status(a: &Auction) -> &'static str {
    match a.status {
        AuctionStatus::Open => "open",
        AuctionStatus::Closed => "closed",
    }
}

/// What anyone may see: never a bid or a bidder before close; after close only aggregates and
/// the anonymous demand curve.
fn public_json(s: &State, a: &Auction) -> Value {
    let lots: Vec<Value> = a
        .lots
        .iter()
        .enumerate()
        .map(|(i, lot)| {
            let c = currency_of(s, &lot.spec);
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
        "id": a.id.0, "name": a.name, "rule": a.rule.as_str(), "status": status(a),
        "opens": rfc3339(a.opens_at_ms), "closes": rfc3339(a.closes_at_ms),
        "approved_bidders": a.approved_bidders.len(), "lots": lots,
    })
}

/// One organization's own bids (while open) and allocations (after close).
fn private_json(s: &State, a: &Auction, org: OrgId) -> Value {
    let bids: Vec<Value> = s
        .bids_of(a.id)
        .filter(|b| b.org == org)
        .map(|b| {
            let c = currency_of(s, &a.lots[b.lot as usize].spec);
            json!({ "bid": b.id.0, "lot": b.lot, "account": b.account.0, "price": money(b.price_minor, c), "quantity": b.quantity_tonnes, "reserved_cash": money(b.reserved_cash_minor, c) })
        })
        .collect();
    let allocations: Vec<Value> = a
        .lots
        .iter()
        .enumerate()
        .flat_map(|(i, lot)| {
            let c = currency_of(s, &lot.spec);
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
