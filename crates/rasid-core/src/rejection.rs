//! Rejection codes: every reason the engine refuses a command. A rejected command changes nothing.

use std::fmt;

/// Each variant is one stable, documented code (see [`Rejection::code`]). New reasons get new
/// variants; codes are never reused for something else, because clients match on them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// `Genesis` on a ledger that already has one.
    AlreadyInitialized,
    /// Any command but `Genesis` on an empty ledger.
    NotInitialized,
    /// The acting organization's role does not allow this command on this object.
    Unauthorized,
    UnknownOrganization,
    UnknownAccount,
    UnknownProject,
    UnknownIssuance,
    UnknownRetirement,
    /// A required text field is empty, too long or has control characters.
    InvalidText,
    OrganizationExists,
    /// A project with this program and external id is already registered.
    ProjectExists,
    /// An issuance with this external reference already exists.
    IssuanceExists,
    InvalidVintage,
    /// A quantity or amount of zero (or negative cash).
    ZeroQuantity,
    /// The serial block would run past the end of the serial space.
    SerialSpaceExhausted,
    /// The requested block overlaps serials already issued.
    SerialRangeOverlaps,
    /// A range with `last < first`, or ranges in a selection that overlap each other.
    InvalidRange,
    /// A named range is not inside the issuance's block.
    RangeOutsideIssuance,
    /// The buffer contribution is not smaller than the issuance.
    BufferExceedsIssuance,
    /// Fewer available credits than requested.
    InsufficientCredits,
    /// Named serials are held by the account but reserved (by an order, lot or deposit).
    CreditsReserved,
    /// Named serials were already retired.
    AlreadyRetired,
    /// Named serials were already cancelled.
    AlreadyCancelled,
    /// Named serials are not in the account's holding.
    CreditsNotHeld,
    /// Source and destination are the same account.
    SameAccount,
    InsufficientCash,
    /// A balance or total would overflow its integer type.
    AmountOverflow,
    /// The ledger refuses selections with more ranges than this limit in one command.
    TooManyRanges,
    UnknownInstrument,
    /// An instrument with this symbol is already listed.
    InstrumentExists,
    /// Listing parameters out of range: tick, lot, band, reference price or fees.
    InvalidInstrument,
    InstrumentHalted,
    InstrumentClosed,
    /// No open order with this id (it may have filled, expired or been cancelled).
    UnknownOrder,
    InvalidPrice,
    PriceOffTick,
    PriceOutsideBand,
    QuantityNotLotMultiple,
    DuplicateClientOrderId,
    PostOnlyWouldCross,
    FokNotFilled,
    /// Market orders other than IOC/FOK, or a GTD order whose expiry has passed.
    InvalidTimeInForce,
    RetireRequiresBuy,
    NothingToAmend,
    /// `ExpireOrders` when no order is due.
    NothingDue,
    InvalidAuction,
    UnknownAuction,
    UnknownLot,
    UnknownBid,
    BiddingNotOpen,
    BiddingClosed,
    NotApprovedBidder,
    BelowReserve,
    BelowMinimumBid,
    OffIncrement,
    AuctionClosed,
    AuctionNotEnded,
    InvalidBasket,
    UnknownBasket,
    UnknownDeposit,
    InvalidRating,
    BasketProgram,
    BasketCategory,
    BasketProjectType,
    BasketPlace,
    BasketVintage,
    BasketLabel,
    BasketRating,
}

impl Rejection {
    /// The stable snake_case code used in the API, the CLI and the tests.
    pub fn code(self) -> &'static str {
        match self {
            Rejection::AlreadyInitialized => "already_initialized",
            Rejection::NotInitialized => "not_initialized",
            Rejection::Unauthorized => "unauthorized",
            Rejection::UnknownOrganization => "unknown_organization",
            Rejection::UnknownAccount => "unknown_account",
            Rejection::UnknownProject => "unknown_project",
            Rejection::UnknownIssuance => "unknown_issuance",
            Rejection::UnknownRetirement => "unknown_retirement",
            Rejection::InvalidText => "invalid_text",
            Rejection::OrganizationExists => "organization_exists",
            Rejection::ProjectExists => "project_exists",
            Rejection::IssuanceExists => "issuance_exists",
            Rejection::InvalidVintage => "invalid_vintage",
            Rejection::ZeroQuantity => "zero_quantity",
            Rejection::SerialSpaceExhausted => "serial_space_exhausted",
            Rejection::SerialRangeOverlaps => "serial_range_overlaps",
            Rejection::InvalidRange => "invalid_range",
            Rejection::RangeOutsideIssuance => "range_outside_issuance",
            Rejection::BufferExceedsIssuance => "buffer_exceeds_issuance",
            Rejection::InsufficientCredits => "insufficient_credits",
            Rejection::CreditsReserved => "credits_reserved",
            Rejection::AlreadyRetired => "already_retired",
            Rejection::AlreadyCancelled => "already_cancelled",
            Rejection::CreditsNotHeld => "credits_not_held",
            Rejection::SameAccount => "same_account",
            Rejection::InsufficientCash => "insufficient_cash",
            Rejection::AmountOverflow => "amount_overflow",
            Rejection::TooManyRanges => "too_many_ranges",
            Rejection::UnknownInstrument => "unknown_instrument",
            Rejection::InstrumentExists => "instrument_exists",
            Rejection::InvalidInstrument => "invalid_instrument",
            Rejection::InstrumentHalted => "instrument_halted",
            Rejection::InstrumentClosed => "instrument_closed",
            Rejection::UnknownOrder => "unknown_order",
            Rejection::InvalidPrice => "invalid_price",
            Rejection::PriceOffTick => "price_off_tick",
            Rejection::PriceOutsideBand => "price_outside_band",
            Rejection::QuantityNotLotMultiple => "quantity_not_lot_multiple",
            Rejection::DuplicateClientOrderId => "duplicate_client_order_id",
            Rejection::PostOnlyWouldCross => "post_only_would_cross",
            Rejection::FokNotFilled => "fok_not_filled",
            Rejection::InvalidTimeInForce => "invalid_time_in_force",
            Rejection::RetireRequiresBuy => "retire_requires_buy",
            Rejection::NothingToAmend => "nothing_to_amend",
            Rejection::NothingDue => "nothing_due",
            Rejection::InvalidAuction => "invalid_auction",
            Rejection::UnknownAuction => "unknown_auction",
            Rejection::UnknownLot => "unknown_lot",
            Rejection::UnknownBid => "unknown_bid",
            Rejection::BiddingNotOpen => "bidding_not_open",
            Rejection::BiddingClosed => "bidding_closed",
            Rejection::NotApprovedBidder => "not_approved_bidder",
            Rejection::BelowReserve => "below_reserve",
            Rejection::BelowMinimumBid => "below_minimum_bid",
            Rejection::OffIncrement => "off_increment",
            Rejection::AuctionClosed => "auction_closed",
            Rejection::AuctionNotEnded => "auction_not_ended",
            Rejection::InvalidBasket => "invalid_basket",
            Rejection::UnknownBasket => "unknown_basket",
            Rejection::UnknownDeposit => "unknown_deposit",
            Rejection::InvalidRating => "invalid_rating",
            Rejection::BasketProgram => "basket_program",
            Rejection::BasketCategory => "basket_category",
            Rejection::BasketProjectType => "basket_project_type",
            Rejection::BasketPlace => "basket_place",
            Rejection::BasketVintage => "basket_vintage",
            Rejection::BasketLabel => "basket_label",
            Rejection::BasketRating => "basket_rating",
        }
    }

    /// A sentence for people; the code is what programs match on.
    pub fn message(self) -> &'static str {
        match self {
            Rejection::AlreadyInitialized => "the ledger is already initialized",
            Rejection::NotInitialized => "the ledger has no genesis record yet",
            Rejection::Unauthorized => "the acting organization may not do this",
            Rejection::UnknownOrganization => "no such organization",
            Rejection::UnknownAccount => "no such account",
            Rejection::UnknownProject => "no such project",
            Rejection::UnknownIssuance => "no such issuance",
            Rejection::UnknownRetirement => "no such retirement",
            Rejection::InvalidText => {
                "a text field is empty, longer than allowed or has control characters"
            }
            Rejection::OrganizationExists => "an organization with this name exists",
            Rejection::ProjectExists => "a project with this program and external id exists",
            Rejection::IssuanceExists => "an issuance with this external reference exists",
            Rejection::InvalidVintage => "the vintage year is outside 1990..=2100",
            Rejection::ZeroQuantity => "the quantity or amount must be positive",
            Rejection::SerialSpaceExhausted => "the serial block would run past the serial space",
            Rejection::SerialRangeOverlaps => "the serial block overlaps serials already issued",
            Rejection::InvalidRange => "a serial range is empty or ranges overlap each other",
            Rejection::RangeOutsideIssuance => "a serial range lies outside the issuance's block",
            Rejection::BufferExceedsIssuance => {
                "the buffer contribution must be smaller than the issuance"
            }
            Rejection::InsufficientCredits => {
                "the account has fewer available credits than requested"
            }
            Rejection::CreditsReserved => "the serials are reserved and cannot move",
            Rejection::AlreadyRetired => "the serials were already retired",
            Rejection::AlreadyCancelled => "the serials were already cancelled",
            Rejection::CreditsNotHeld => "the account does not hold these serials",
            Rejection::SameAccount => "source and destination are the same account",
            Rejection::InsufficientCash => "the account has less available cash than requested",
            Rejection::AmountOverflow => "the amount would overflow",
            Rejection::TooManyRanges => "too many serial ranges in one command",
            Rejection::UnknownInstrument => "no such instrument",
            Rejection::InstrumentExists => "an instrument with this symbol exists",
            Rejection::InvalidInstrument => {
                "tick, lot, band, reference price and fees must be positive and consistent"
            }
            Rejection::InstrumentHalted => "trading in this instrument is halted",
            Rejection::InstrumentClosed => "this instrument is closed",
            Rejection::UnknownOrder => "no such open order",
            Rejection::InvalidPrice => "the price must be positive",
            Rejection::PriceOffTick => "the price is not a multiple of the tick size",
            Rejection::PriceOutsideBand => "the price is outside the instrument's price band",
            Rejection::QuantityNotLotMultiple => "the quantity is not a multiple of the lot size",
            Rejection::DuplicateClientOrderId => {
                "the account has an open order with this client order id"
            }
            Rejection::PostOnlyWouldCross => "a post-only order would trade on entry",
            Rejection::FokNotFilled => "a fill-or-kill order cannot be filled in full at once",
            Rejection::InvalidTimeInForce => {
                "market orders are IOC or FOK, and a GTD order must expire in the future"
            }
            Rejection::RetireRequiresBuy => "only buy orders can retire what they receive",
            Rejection::NothingToAmend => "the amendment changes neither price nor quantity",
            Rejection::NothingDue => "no order is due to expire",
            Rejection::InvalidAuction => {
                "the auction's window, lots, quantities, increments or guarantees are inconsistent"
            }
            Rejection::UnknownAuction => "no such auction",
            Rejection::UnknownLot => "no such lot in this auction",
            Rejection::UnknownBid => "no such open bid",
            Rejection::BiddingNotOpen => "the bid window has not opened yet",
            Rejection::BiddingClosed => "the bid window has closed",
            Rejection::NotApprovedBidder => {
                "the organization is not an approved bidder in this auction"
            }
            Rejection::BelowReserve => "the bid price is below the lot's reserve price",
            Rejection::BelowMinimumBid => "the bid quantity is below the lot's minimum bid",
            Rejection::OffIncrement => {
                "the bid quantity is not a multiple of the lot's bid increment"
            }
            Rejection::AuctionClosed => "the auction is already closed",
            Rejection::AuctionNotEnded => "the bid window has not ended yet",
            Rejection::InvalidBasket => {
                "the basket's criteria are inconsistent (vintage window, rating, list sizes)"
            }
            Rejection::UnknownBasket => "no such basket",
            Rejection::UnknownDeposit => "no such basket deposit",
            Rejection::InvalidRating => "a rating is between 0 and 100",
            Rejection::BasketProgram => "the credits' program is not one the basket accepts",
            Rejection::BasketCategory => {
                "the credits are not of a category (reduction/removal, nature/technology) the basket accepts"
            }
            Rejection::BasketProjectType => "the project type is not one the basket accepts",
            Rejection::BasketPlace => {
                "the project's country or region is not one the basket accepts"
            }
            Rejection::BasketVintage => "the vintage is outside the basket's window",
            Rejection::BasketLabel => {
                "the issuance lacks a label the basket requires (CORSIA, CCP or Article 6)"
            }
            Rejection::BasketRating => "the project's rating is below the basket's minimum",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

impl std::error::Error for Rejection {}
