//! Public market data routes served from the live read models (`crate::live`), never from the
//! engine: `GET /v1/markets/{instrument}/trades` and `…/candles?interval=1m|1h|1d`.
//!
//! Both are lists in the API's shape `{"items":[…],"next_cursor":…}`. Trades come newest first
//! and their cursor is the oldest trade id of the page; candles come oldest first (the order a
//! chart draws them) and their cursor is the start of the oldest candle of the page, so the next
//! page holds the candles before it. Only the read model's window is served (the newest
//! `rasid_market::TAPE_TRADES_MAX` trades and `CANDLES_MAX` candles per instrument).

use crate::error::ApiError;
use crate::live::{SNAPSHOT_CANDLES_MAX, SNAPSHOT_TRADES_MAX, candle_json, trade_json};
use crate::routes::{Reply, Shared, blocking, resolve};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use rasid_core::Currency;
use rasid_core::Rejection;
use rasid_core::exchange::InstrumentId;
use rasid_market::Interval;
use serde::Deserialize;
use serde_json::{Value, json};

type QueryResult<T> = Result<Query<T>, axum::extract::rejection::QueryRejection>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TradesQuery {
    cursor: Option<String>,
    limit: Option<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CandlesQuery {
    interval: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

/// The instrument a path names (id or symbol) and its currency, looked up once.
pub(crate) async fn instrument_id(
    app: &Shared,
    reference: String,
) -> Result<(InstrumentId, Currency), ApiError> {
    let app = app.clone();
    blocking(move || {
        let found = app
            .ledger()?
            .query(move |s| resolve(s, &reference).map(|i| (i.id, i.spec.currency)))?;
        Ok(found.ok_or(Rejection::UnknownInstrument)?)
    })
    .await
}

fn limit(raw: Option<usize>, max: usize) -> Result<usize, ApiError> {
    match raw {
        None => Ok(max),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(n) => {
            Err(ApiError::bad_request("invalid_limit", format!("limit {n} is outside 1–{max}")))
        }
    }
}

fn cursor<T: std::str::FromStr>(raw: Option<&str>) -> Result<Option<T>, ApiError> {
    raw.map(|c| {
        c.parse().map_err(|_| {
            ApiError::bad_request("invalid_cursor", format!("{c:?} is not a cursor of this list"))
        })
    })
    .transpose()
}

fn malformed(e: &axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::bad_request("malformed_request", e.body_text())
}

pub(crate) async fn trades(
    State(app): State<Shared>,
    Path(instrument): Path<String>,
    query: QueryResult<TradesQuery>,
) -> Reply {
    let Query(q) = query.map_err(|e| malformed(&e))?;
    let limit = limit(q.limit, SNAPSHOT_TRADES_MAX)?;
    let before: Option<u64> = cursor(q.cursor.as_deref())?;
    let (id, currency) = instrument_id(&app, instrument).await?;
    let page = app.live.trades(id, before, limit);
    let next = (page.len() == limit).then(|| page.last().map(|p| p.trade.0.to_string())).flatten();
    let items: Vec<Value> = page.iter().map(|p| trade_json(id, currency, p)).collect();
    Ok((StatusCode::OK, Json(json!({ "items": items, "next_cursor": next }))))
}

pub(crate) async fn candles(
    State(app): State<Shared>,
    Path(instrument): Path<String>,
    query: QueryResult<CandlesQuery>,
) -> Reply {
    let Query(q) = query.map_err(|e| malformed(&e))?;
    let interval: Interval = q
        .interval
        .as_deref()
        .unwrap_or("1m")
        .parse()
        .map_err(|m: String| ApiError::bad_request("invalid_interval", m))?;
    let limit = limit(q.limit, SNAPSHOT_CANDLES_MAX)?;
    let before: Option<i64> = cursor(q.cursor.as_deref())?;
    let (id, currency) = instrument_id(&app, instrument).await?;
    let page = app.live.candles(id, interval, before, limit);
    let next =
        (page.len() == limit).then(|| page.first().map(|c| c.start_ms.to_string())).flatten();
    let items: Vec<Value> = page.iter().map(|c| candle_json(id, currency, interval, c)).collect();
    Ok((StatusCode::OK, Json(json!({ "items": items, "next_cursor": next }))))
}
