//! Sealed-bid auctions from the command line.
//!
//! Bids are sealed: `auction show` prints the public record (lots, and after close the clearing
//! price, volume, bid and bidder counts and the anonymous demand curve) and, only for the
//! organization named by `--as`, that organization's own bids and allocations.

use crate::cli::AuctionCmd;
use crate::output::{Failure, Output};
use crate::registry::{Ctx, accepted};
use rasid_core::exchange::auction::{Auction, AuctionRule, AuctionSpec, AuctionStatus, LotSpec};
use rasid_core::money::parse_minor;
use rasid_core::time::{parse_rfc3339, rfc3339};
use rasid_core::{AccountId, Command, Currency, OrgId, Rejection, State};
use rasid_server::render::{auction_private_json, auction_public_json};
use serde_json::{Value, json};

fn currency_of(s: &State, lot: &LotSpec) -> Currency {
    s.instrument(lot.instrument).map_or(Currency::Sar, |i| i.spec.currency)
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
            let rows: Vec<Value> = s.auctions().map(|a| auction_public_json(s, a)).collect();
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
                let mut doc = auction_public_json(s, a);
                if let Some(org) = viewer {
                    doc["mine"] = auction_private_json(s, a, org);
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
