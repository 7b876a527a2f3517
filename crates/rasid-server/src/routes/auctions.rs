//! Sealed-bid auctions. Bids are sealed: the public sees lots, reserve prices and, after close,
//! clearing prices, volumes and the anonymous demand curve; a bidder sees its own bids and
//! allocations only (`State::bids_of` returns everyone's, so every view filters by owner).

use super::{
    Body, Caller, MaybeCaller, Params, Reply, Shared, blocking, created, parse_id, submit,
    submit_async,
};
use crate::error::ApiError;
use crate::render::{auction_private_json, auction_public_json};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rasid_core::exchange::auction::{
    AuctionId, AuctionRule, AuctionSpec, BidId, GUARANTEES_MAX, LOTS_MAX, LotSpec,
};
use rasid_core::money::parse_minor;
use rasid_core::time::parse_rfc3339;
use rasid_core::{AccountId, Command, Currency, OrgId, Rejection};
use serde::Deserialize;
use serde_json::{Value, json};

fn ok(doc: Value) -> (StatusCode, Json<Value>) {
    (StatusCode::OK, Json(doc))
}

pub(super) async fn list(State(app): State<Shared>, params: Params) -> Reply {
    params.allow(&["cursor", "limit"])?;
    let page = params.page()?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            page.collect(s.auctions().map(|a| (a.id.0, auction_public_json(s, a))))
        })?;
        Ok(ok(doc))
    })
    .await
}

pub(super) async fn show(
    State(app): State<Shared>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
) -> Reply {
    let id: AuctionId = parse_id(&id, "auction")?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            let a = s.auction(id)?;
            let mut doc = auction_public_json(s, a);
            if let Some(c) = caller {
                doc["mine"] = auction_private_json(s, a, c.org);
            }
            Some(doc)
        })?;
        Ok(ok(doc.ok_or(Rejection::UnknownAuction)?))
    })
    .await
}

/// Results: per lot the clearing price, volume and anonymous demand curve, and for an
/// authenticated caller its own allocations. An open auction's lots have `result: null`.
pub(super) async fn results(
    State(app): State<Shared>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
) -> Reply {
    let id: AuctionId = parse_id(&id, "auction")?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            let a = s.auction(id)?;
            let public = auction_public_json(s, a);
            let lots: Vec<Value> = public["lots"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|l| json!({ "lot": l["lot"], "symbol": l["symbol"], "currency": l["currency"], "result": l["result"] }))
                .collect();
            let mut doc = json!({ "auction": id.0, "status": public["status"], "lots": lots });
            if let Some(c) = caller {
                doc["mine"] = json!({ "allocations": auction_private_json(s, a, c.org)["allocations"] });
            }
            Some(doc)
        })?;
        Ok(ok(doc.ok_or(Rejection::UnknownAuction)?))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GuaranteeBody {
    org: u64,
    tonnes: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LotBody {
    /// Id or symbol.
    instrument: String,
    seller: u64,
    quantity: u64,
    /// Decimal string in the instrument's currency.
    reserve_price: String,
    /// Default: the increment.
    min_bid: Option<u64>,
    /// Default: the instrument's lot size.
    increment: Option<u64>,
    #[serde(default)]
    guaranteed: Vec<GuaranteeBody>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewAuction {
    name: String,
    /// `uniform_price` or `pay_as_bid`.
    rule: String,
    /// RFC 3339 UTC; now when absent.
    opens_at: Option<String>,
    closes_at: String,
    #[serde(default)]
    approved_bidders: Vec<u64>,
    lots: Vec<LotBody>,
}

fn time(raw: &str) -> Result<i64, ApiError> {
    parse_rfc3339(raw).map_err(|m| ApiError::bad_request("invalid_time", m))
}

pub(super) async fn create(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<NewAuction>,
) -> Reply {
    let rule = match req.rule.as_str() {
        "uniform_price" => AuctionRule::UniformPrice,
        "pay_as_bid" => AuctionRule::PayAsBid,
        other => {
            return Err(ApiError::bad_request(
                "invalid_rule",
                format!("{other:?}: expected uniform_price or pay_as_bid"),
            ));
        }
    };
    // Bounded before any work: the engine enforces the same limits.
    if req.lots.len() > LOTS_MAX || req.lots.iter().any(|l| l.guaranteed.len() > GUARANTEES_MAX) {
        return Err(Rejection::InvalidAuction.into());
    }
    let closes_at_ms = time(&req.closes_at)?;
    let opens_at_ms = req.opens_at.as_deref().map(time).transpose()?;
    blocking(move || {
        // One query resolves every lot's instrument and reads the ledger's time.
        let references: Vec<String> = req.lots.iter().map(|l| l.instrument.clone()).collect();
        let (found, last_time_ms) = app.ledger()?.query(move |s| {
            let found: Vec<_> = references
                .iter()
                .map(|r| super::resolve(s, r).map(|i| (i.id, i.spec.currency, i.spec.lot_tonnes)))
                .collect();
            (found, s.last_time_ms())
        })?;
        let mut lots = Vec::with_capacity(req.lots.len());
        for (l, found) in req.lots.into_iter().zip(found) {
            let (instrument, c, lot_tonnes) = found.ok_or(Rejection::UnknownInstrument)?;
            let increment = l.increment.unwrap_or(lot_tonnes);
            lots.push(LotSpec {
                instrument,
                seller: AccountId(l.seller),
                quantity_tonnes: l.quantity,
                reserve_price_minor: parse_minor(&l.reserve_price, c)
                    .map_err(|m| ApiError::bad_request("invalid_price", m))?,
                min_bid_tonnes: l.min_bid.unwrap_or(increment),
                increment_tonnes: increment,
                guaranteed: l.guaranteed.iter().map(|g| (OrgId(g.org), g.tonnes)).collect(),
            });
        }
        let now = crate::now_ms().max(last_time_ms);
        let spec = AuctionSpec {
            name: req.name,
            rule,
            opens_at_ms: opens_at_ms.unwrap_or(now),
            closes_at_ms,
            approved_bidders: req.approved_bidders.into_iter().map(OrgId).collect(),
            lots,
        };
        submit(&app, caller.org, Command::CreateAuction { spec }).map(created)
    })
    .await
}

/// The currency of an auction's lot, or 404 for an unknown auction or lot.
fn lot_currency(app: &Shared, auction: AuctionId, lot: u32) -> Result<Currency, ApiError> {
    let found = app.ledger()?.query(move |s| {
        let a = s.auction(auction).ok_or(Rejection::UnknownAuction)?;
        let l = a.lots.get(lot as usize).ok_or(Rejection::UnknownLot)?;
        Ok::<_, Rejection>(
            s.instrument(l.spec.instrument).map_or(Currency::Sar, |i| i.spec.currency),
        )
    })?;
    Ok(found?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewBid {
    lot: u32,
    account: u64,
    price: String,
    quantity: u64,
}

pub(super) async fn bid(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<NewBid>,
) -> Reply {
    let auction: AuctionId = parse_id(&id, "auction")?;
    blocking(move || {
        let c = lot_currency(&app, auction, req.lot)?;
        let price_minor =
            parse_minor(&req.price, c).map_err(|m| ApiError::bad_request("invalid_price", m))?;
        let command = Command::PlaceBid {
            auction,
            lot: req.lot,
            account: AccountId(req.account),
            price_minor,
            quantity_tonnes: req.quantity,
        };
        submit(&app, caller.org, command).map(created)
    })
    .await
}

/// The lot of an open bid owned by `caller`; another organization's bid is reported unknown,
/// so bid ids reveal nothing about other bidders.
fn own_bid(app: &Shared, caller: &Caller, auction: AuctionId, bid: BidId) -> Result<u32, ApiError> {
    let org = caller.org;
    let found = app
        .ledger()?
        .query(move |s| s.bids_of(auction).find(|b| b.id == bid && b.org == org).map(|b| b.lot))?;
    Ok(found.ok_or(Rejection::UnknownBid)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangeBidRequest {
    price: Option<String>,
    quantity: Option<u64>,
}

pub(super) async fn change_bid(
    State(app): State<Shared>,
    caller: Caller,
    Path((id, bid)): Path<(String, String)>,
    Body(req): Body<ChangeBidRequest>,
) -> Reply {
    let auction: AuctionId = parse_id(&id, "auction")?;
    let bid: BidId = parse_id(&bid, "bid")?;
    blocking(move || {
        let lot = own_bid(&app, &caller, auction, bid)?;
        let c = lot_currency(&app, auction, lot)?;
        let price_minor = req
            .price
            .as_deref()
            .map(|p| parse_minor(p, c).map_err(|m| ApiError::bad_request("invalid_price", m)))
            .transpose()?;
        let command =
            Command::ChangeBid { auction, bid, price_minor, quantity_tonnes: req.quantity };
        submit(&app, caller.org, command).map(ok)
    })
    .await
}

pub(super) async fn withdraw_bid(
    State(app): State<Shared>,
    caller: Caller,
    Path((id, bid)): Path<(String, String)>,
) -> Reply {
    let auction: AuctionId = parse_id(&id, "auction")?;
    let bid: BidId = parse_id(&bid, "bid")?;
    blocking(move || {
        own_bid(&app, &caller, auction, bid)?;
        submit(&app, caller.org, Command::WithdrawBid { auction, bid }).map(ok)
    })
    .await
}

pub(super) async fn close(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Reply {
    let auction: AuctionId = parse_id(&id, "auction")?;
    submit_async(&app, caller.org, Command::CloseAuction { auction }).await.map(ok)
}
