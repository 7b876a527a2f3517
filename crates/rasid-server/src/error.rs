//! The one error type of the API. Every failure leaves as `{"error":{"code","message","details"}}`
//! with a status that tells the client what kind of failure it was; storage and system trouble
//! is logged on the server and answered with a generic message, so internals never leak.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rasid_core::Rejection;
use rasid_store::SubmitError;
use serde_json::{Value, json};

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Value,
    /// Sent as `Retry-After` (429).
    retry_after_s: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: json!({}), retry_after_s: None }
    }

    /// 429 `rate_limited`: the caller's token spent its request budget; retry after `retry_s`.
    pub fn rate_limited(retry_s: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests for this token; retry in {retry_s} s"),
        );
        e.retry_after_s = Some(retry_s);
        e.details = json!({ "retry_after_s": retry_s });
        e
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// Input refused before it reached the ledger: malformed JSON, wrong types, bad ids.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    /// Server trouble. The cause goes to the log, never to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal server error")
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": { "code": self.code, "message": self.message, "details": self.details }
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after_s {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, s.into());
        }
        response
    }
}

/// The status of each engine rejection. The match is exhaustive on purpose: a new rejection
/// code does not compile until someone decides how the API reports it.
pub fn rejection_status(r: Rejection) -> StatusCode {
    use Rejection as R;
    match r {
        R::Unauthorized => StatusCode::FORBIDDEN,
        R::UnknownOrganization
        | R::UnknownAccount
        | R::UnknownProject
        | R::UnknownIssuance
        | R::UnknownRetirement
        | R::UnknownInstrument
        | R::UnknownOrder
        | R::UnknownAuction
        | R::UnknownLot
        | R::UnknownBid
        | R::UnknownBasket
        | R::UnknownDeposit => StatusCode::NOT_FOUND,
        // The request is well formed but collides with the ledger's current state.
        R::AlreadyInitialized
        | R::NotInitialized
        | R::OrganizationExists
        | R::ProjectExists
        | R::IssuanceExists
        | R::InstrumentExists
        | R::DuplicateClientOrderId
        | R::SerialRangeOverlaps
        | R::InstrumentHalted
        | R::InstrumentClosed
        | R::BiddingNotOpen
        | R::BiddingClosed
        | R::AuctionClosed
        | R::AuctionNotEnded => StatusCode::CONFLICT,
        // Domain rules: the request is understood and refused on its merits.
        R::InvalidText
        | R::InvalidVintage
        | R::ZeroQuantity
        | R::SerialSpaceExhausted
        | R::InvalidRange
        | R::RangeOutsideIssuance
        | R::BufferExceedsIssuance
        | R::InsufficientCredits
        | R::CreditsReserved
        | R::AlreadyRetired
        | R::AlreadyCancelled
        | R::CreditsNotHeld
        | R::SameAccount
        | R::InsufficientCash
        | R::AmountOverflow
        | R::TooManyRanges
        | R::InvalidInstrument
        | R::InvalidPrice
        | R::PriceOffTick
        | R::PriceOutsideBand
        | R::QuantityNotLotMultiple
        | R::PostOnlyWouldCross
        | R::FokNotFilled
        | R::InvalidTimeInForce
        | R::RetireRequiresBuy
        | R::NothingToAmend
        | R::NothingDue
        | R::InvalidAuction
        | R::NotApprovedBidder
        | R::BelowReserve
        | R::BelowMinimumBid
        | R::OffIncrement
        | R::InvalidBasket
        | R::InvalidRating
        | R::BasketProgram
        | R::BasketCategory
        | R::BasketProjectType
        | R::BasketPlace
        | R::BasketVintage
        | R::BasketLabel
        | R::BasketRating => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        Self::new(rejection_status(r), r.code(), r.message())
    }
}

impl From<SubmitError> for ApiError {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Rejected(r) => r.into(),
            SubmitError::Unavailable(m) => {
                eprintln!("rasid-server: ledger unavailable: {m}");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "ledger_unavailable",
                    "the ledger is not taking commands",
                )
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return Self::new(e.status(), "body_too_large", "the request body is too large");
        }
        // axum's text names the field and position, never server internals.
        Self::bad_request("malformed_request", e.body_text())
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::internal(e)
    }
}
