//! Exchange routes beyond placing and listing orders: instruments and their status, amending
//! and cancelling orders in bulk, the trading session, and basket contracts.

use super::{
    Body, Caller, MaybeCaller, Params, Reply, Shared, blocking, created, parse_id, resolve, submit,
    submit_async,
};
use crate::error::ApiError;
use crate::render::{basket_json, instrument_json};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use rasid_core::exchange::basket::{BasketCriteria, BasketId};
use rasid_core::exchange::{
    FeeSchedule, InstrumentId, InstrumentSpec, InstrumentStatus, OrderId, Underlying,
};
use rasid_core::model::{Basis, CorsiaPhase, Effect, Program};
use rasid_core::money::parse_minor;
use rasid_core::{AccountId, Command, Currency, IssuanceId, ProjectId, Rejection};
use serde::Deserialize;
use serde_json::{Value, json};

fn ok(doc: Value) -> (StatusCode, Json<Value>) {
    (StatusCode::OK, Json(doc))
}

fn price(raw: &str, c: Currency, code: &'static str) -> Result<i64, ApiError> {
    parse_minor(raw, c).map_err(|m| ApiError::bad_request(code, m))
}

/// An instrument's id and currency by id or symbol, or 404.
fn find_instrument(app: &Shared, reference: String) -> Result<(InstrumentId, Currency), ApiError> {
    Ok(app
        .ledger()?
        .query(move |s| resolve(s, &reference).map(|i| (i.id, i.spec.currency)))?
        .ok_or(Rejection::UnknownInstrument)?)
}

pub(super) async fn list_instruments(State(app): State<Shared>, params: Params) -> Reply {
    params.allow(&["cursor", "limit"])?;
    let page = params.page()?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            page.collect(s.instruments().map(|i| (i.id.0, instrument_json(s, i))))
        })?;
        Ok(ok(doc))
    })
    .await
}

pub(super) async fn instrument(State(app): State<Shared>, Path(id): Path<String>) -> Reply {
    blocking(move || {
        let doc = app.ledger()?.query(move |s| resolve(s, &id).map(|i| instrument_json(s, i)))?;
        Ok(ok(doc.ok_or(Rejection::UnknownInstrument)?))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewInstrument {
    symbol: String,
    /// A project-vintage instrument names `project` and `vintage`; a basket one `basket`.
    project: Option<u64>,
    vintage: Option<u16>,
    basket: Option<u64>,
    /// Absent or null takes the CLI's default (`rasid instrument list`): SAR, tick 0.05, lot
    /// 1 t, band ±20%, maker 10 bp, taker 20 bp, no minimum fee.
    currency: Option<String>,
    /// Decimal strings in `currency`.
    tick: Option<String>,
    #[serde(alias = "lot")]
    lot_tonnes: Option<u64>,
    band_bps: Option<u32>,
    reference_price: String,
    maker_bps: Option<u32>,
    taker_bps: Option<u32>,
    min_fee: Option<String>,
}

pub(super) async fn list_instrument(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<NewInstrument>,
) -> Reply {
    let c: Currency = req
        .currency
        .as_deref()
        .unwrap_or("SAR")
        .parse()
        .map_err(|m: String| ApiError::bad_request("invalid_currency", m))?;
    let underlying = match (req.basket, req.project, req.vintage) {
        (Some(basket), None, None) => Underlying::Basket { basket: BasketId(basket) },
        (None, Some(project), Some(vintage_year)) => {
            Underlying::ProjectVintage { project: ProjectId(project), vintage_year }
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_instrument",
                "give \"project\" with \"vintage\", or \"basket\"",
            ));
        }
    };
    let spec = InstrumentSpec {
        symbol: req.symbol,
        underlying,
        currency: c,
        tick_minor: price(req.tick.as_deref().unwrap_or("0.05"), c, "invalid_price")?,
        lot_tonnes: req.lot_tonnes.unwrap_or(1),
        band_bps: req.band_bps.unwrap_or(2_000),
        reference_price_minor: price(&req.reference_price, c, "invalid_price")?,
        fees: FeeSchedule {
            maker_bps: req.maker_bps.unwrap_or(10),
            taker_bps: req.taker_bps.unwrap_or(20),
            min_fee_minor: price(req.min_fee.as_deref().unwrap_or("0"), c, "invalid_price")?,
        },
    };
    submit_async(&app, caller.org, Command::ListInstrument { spec }).await.map(created)
}

async fn set_status(app: Shared, caller: Caller, id: String, status: InstrumentStatus) -> Reply {
    blocking(move || {
        let (instrument, _) = find_instrument(&app, id)?;
        submit(&app, caller.org, Command::SetInstrumentStatus { instrument, status }).map(ok)
    })
    .await
}

pub(super) async fn halt(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Reply {
    set_status(app, caller, id, InstrumentStatus::Halted).await
}

pub(super) async fn resume(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Reply {
    set_status(app, caller, id, InstrumentStatus::Open).await
}

pub(super) async fn close(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Reply {
    set_status(app, caller, id, InstrumentStatus::Closed).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PriceRequest {
    price: String,
}

pub(super) async fn reference_price(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<PriceRequest>,
) -> Reply {
    blocking(move || {
        let (instrument, c) = find_instrument(&app, id)?;
        let price_minor = price(&req.price, c, "invalid_price")?;
        submit(&app, caller.org, Command::SetReferencePrice { instrument, price_minor }).map(ok)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SessionCloseRequest {
    /// Only this instrument (id or symbol); all when absent.
    instrument: Option<String>,
}

pub(super) async fn close_session(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<SessionCloseRequest>,
) -> Reply {
    blocking(move || {
        let instrument = match req.instrument {
            Some(r) => Some(find_instrument(&app, r)?.0),
            None => None,
        };
        submit(&app, caller.org, Command::CloseSession { instrument }).map(ok)
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AmendRequest {
    /// New remaining quantity in tonnes.
    quantity: Option<u64>,
    /// New limit price, a decimal string in the instrument's currency.
    price: Option<String>,
}

pub(super) async fn amend(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<AmendRequest>,
) -> Reply {
    let order: OrderId = parse_id(&id, "order")?;
    blocking(move || {
        // Another organization's order is reported as unknown, so ids reveal nothing.
        let found = app.ledger()?.query(move |s| {
            s.order(order).map(|o| {
                let c = s.instrument(o.instrument).map_or(Currency::Sar, |i| i.spec.currency);
                (o.org, c)
            })
        })?;
        let c = match found {
            Some((org, c)) if org == caller.org => c,
            _ => return Err(Rejection::UnknownOrder.into()),
        };
        let price_minor = req.price.as_deref().map(|p| price(p, c, "invalid_price")).transpose()?;
        let command = Command::AmendOrder { order, remaining_tonnes: req.quantity, price_minor };
        submit(&app, caller.org, command).map(ok)
    })
    .await
}

/// `DELETE /v1/orders?account=&instrument=`: cancels every open order of an account.
pub(super) async fn cancel_all(State(app): State<Shared>, caller: Caller, params: Params) -> Reply {
    params.allow(&["account", "instrument"])?;
    let account: AccountId = parse_id(params.need("account")?, "account")?;
    let instrument = params.get("instrument").map(str::to_owned);
    blocking(move || {
        let instrument = match instrument {
            Some(r) => Some(find_instrument(&app, r)?.0),
            None => None,
        };
        submit(&app, caller.org, Command::CancelAllOrders { account, instrument }).map(ok)
    })
    .await
}

pub(super) async fn list_baskets(State(app): State<Shared>, params: Params) -> Reply {
    params.allow(&["cursor", "limit"])?;
    let page = params.page()?;
    blocking(move || {
        let doc = app
            .ledger()?
            .query(move |s| page.collect(s.baskets().map(|b| (b.id.0, basket_json(s, b)))))?;
        Ok(ok(doc))
    })
    .await
}

/// Public; an authenticated caller also sees its own organization's deposits.
pub(super) async fn basket(
    State(app): State<Shared>,
    MaybeCaller(caller): MaybeCaller,
    Path(id): Path<String>,
) -> Reply {
    let id: BasketId = parse_id(&id, "basket")?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            let b = s.basket(id)?;
            let mut doc = basket_json(s, b);
            if let Some(caller) = caller {
                let mine: Vec<Value> = s
                    .deposits()
                    .filter(|(bid, acc, ..)| {
                        *bid == id && s.account(*acc).is_some_and(|a| a.org == caller.org)
                    })
                    .map(|(_, acc, iss, d)| {
                        json!({ "account": acc.0, "issuance": iss.0, "priority": d.priority,
                                "free_tonnes": d.free.quantity_tonnes(),
                                "free": crate::render::ranges_json(d.free.ranges()) })
                    })
                    .collect();
                doc["mine"] = json!({ "deposits": mine });
            }
            Some(doc)
        })?;
        Ok(ok(doc.ok_or(Rejection::UnknownBasket)?))
    })
    .await
}

/// Basket criteria on the wire: every list empty means "anything".
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub(super) struct CriteriaBody {
    programs: Vec<String>,
    effects: Vec<String>,
    bases: Vec<String>,
    project_types: Vec<String>,
    places: Vec<String>,
    vintage_min: Option<u16>,
    vintage_max: Option<u16>,
    corsia: Option<String>,
    ccp: bool,
    article6_authorised: bool,
    rating_min: Option<u8>,
}

fn criteria(c: CriteriaBody) -> Result<BasketCriteria, ApiError> {
    let bad = |code: &'static str| move |m: String| ApiError::bad_request(code, m);
    let programs = c
        .programs
        .iter()
        .map(|p| p.parse::<Program>().map_err(bad("invalid_program")))
        .collect::<Result<_, _>>()?;
    let effects = c
        .effects
        .iter()
        .map(|e| match e.as_str() {
            "reduction" => Ok(Effect::Reduction),
            "removal" => Ok(Effect::Removal),
            "mixed" => Ok(Effect::Mixed),
            other => Err(bad("invalid_effect")(format!("{other:?}: reduction, removal or mixed"))),
        })
        .collect::<Result<_, _>>()?;
    let bases = c
        .bases
        .iter()
        .map(|b| match b.as_str() {
            "nature" => Ok(Basis::Nature),
            "technology" => Ok(Basis::Technology),
            other => Err(bad("invalid_basis")(format!("{other:?}: nature or technology"))),
        })
        .collect::<Result<_, _>>()?;
    let corsia = match c.corsia.as_deref() {
        None => None,
        Some("pilot") => Some(CorsiaPhase::Pilot),
        Some("first") => Some(CorsiaPhase::First),
        Some("second") => Some(CorsiaPhase::Second),
        Some(other) => {
            return Err(bad("invalid_corsia")(format!("{other:?}: pilot, first or second")));
        }
    };
    Ok(BasketCriteria {
        programs,
        effects,
        bases,
        project_types: c.project_types,
        places: c.places,
        vintage_min: c.vintage_min,
        vintage_max: c.vintage_max,
        corsia,
        ccp: c.ccp,
        article6_authorised: c.article6_authorised,
        rating_min: c.rating_min,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewBasket {
    name: String,
    #[serde(default)]
    criteria: CriteriaBody,
}

pub(super) async fn create_basket(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<NewBasket>,
) -> Reply {
    let command =
        Command::CreateBasket { name: req.name, criteria: Box::new(criteria(req.criteria)?) };
    submit_async(&app, caller.org, command).await.map(created)
}

pub(super) async fn set_criteria(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<CriteriaBody>,
) -> Reply {
    let basket: BasketId = parse_id(&id, "basket")?;
    let command = Command::SetBasketCriteria { basket, criteria: Box::new(criteria(req)?) };
    submit_async(&app, caller.org, command).await.map(ok)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DepositRequest {
    account: u64,
    issuance: u64,
    quantity: u64,
    /// Lower is delivered first; default 0.
    priority: Option<u32>,
}

pub(super) async fn deposit(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<DepositRequest>,
) -> Reply {
    let basket: BasketId = parse_id(&id, "basket")?;
    let command = Command::DepositToBasket {
        basket,
        account: AccountId(req.account),
        issuance: IssuanceId(req.issuance),
        quantity_tonnes: req.quantity,
        priority: req.priority.unwrap_or(0),
    };
    submit_async(&app, caller.org, command).await.map(created)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WithdrawalRequest {
    account: u64,
    issuance: u64,
    quantity: u64,
}

pub(super) async fn withdraw(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<WithdrawalRequest>,
) -> Reply {
    let basket: BasketId = parse_id(&id, "basket")?;
    let command = Command::WithdrawFromBasket {
        basket,
        account: AccountId(req.account),
        issuance: IssuanceId(req.issuance),
        quantity_tonnes: req.quantity,
    };
    submit_async(&app, caller.org, command).await.map(created)
}
