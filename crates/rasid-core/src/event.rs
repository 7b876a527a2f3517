//! Events: what an accepted command did, for replies, read models and market data.

use crate::exchange::auction::{AuctionId, BidId};
use crate::exchange::basket::BasketId;
use crate::exchange::{CancelReason, Fill, InstrumentId, InstrumentStatus, OrderId, Side};
use crate::ids::{AccountId, CancellationId, IssuanceId, OrgId, ProjectId, RetirementId};
use crate::money::Currency;
use crate::serial::{RangeSet, SerialRange};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    OrganizationCreated {
        org: OrgId,
    },
    AccountOpened {
        account: AccountId,
        org: OrgId,
    },
    ProjectRegistered {
        project: ProjectId,
    },
    Issued {
        issuance: IssuanceId,
        project: ProjectId,
        block: SerialRange,
        to_account: AccountId,
        /// The top of the block, when a buffer contribution was made.
        buffer: Option<SerialRange>,
    },
    LabelsSet {
        issuance: IssuanceId,
    },
    Transferred {
        from: AccountId,
        to: AccountId,
        issuance: IssuanceId,
        serials: RangeSet,
    },
    Retired {
        retirement: RetirementId,
        account: AccountId,
        issuance: IssuanceId,
        serials: RangeSet,
    },
    Cancelled {
        cancellation: CancellationId,
        account: AccountId,
        issuance: IssuanceId,
        serials: RangeSet,
    },
    CashDeposited {
        account: AccountId,
        currency: Currency,
        amount_minor: i64,
    },
    CashWithdrawn {
        account: AccountId,
        currency: Currency,
        amount_minor: i64,
    },
    CashTransferred {
        from: AccountId,
        to: AccountId,
        currency: Currency,
        amount_minor: i64,
    },
    /// Carries the instrument's currency so that read models fed by events alone render its
    /// prices with the currency's minor digits.
    InstrumentListed {
        instrument: InstrumentId,
        currency: Currency,
    },
    InstrumentStatusChanged {
        instrument: InstrumentId,
        status: InstrumentStatus,
    },
    ReferencePriceSet {
        instrument: InstrumentId,
        price_minor: i64,
    },
    /// An order passed every check and holds its cash or serials. `price_minor` is the limit
    /// (for a market order, the edge of the band it may trade to).
    OrderAccepted {
        order: OrderId,
        instrument: InstrumentId,
        account: AccountId,
        side: Side,
        price_minor: i64,
        quantity_tonnes: u64,
    },
    /// What is left of an order after matching now rests in the book.
    OrderRested {
        order: OrderId,
        instrument: InstrumentId,
        side: Side,
        price_minor: i64,
        remaining_tonnes: u64,
    },
    OrderAmended {
        order: OrderId,
        instrument: InstrumentId,
        side: Side,
        old_price_minor: i64,
        old_remaining_tonnes: u64,
        price_minor: i64,
        remaining_tonnes: u64,
        priority_kept: bool,
    },
    /// An order, or what was left of it, is gone without trading. `rested` says whether it was
    /// in the book (depth changes) or never got there (e.g. the rest of an IOC order).
    OrderCancelled {
        order: OrderId,
        instrument: InstrumentId,
        side: Side,
        price_minor: i64,
        remaining_tonnes: u64,
        reason: CancelReason,
        rested: bool,
    },
    /// A fill, settled in full: serials to the buyer (or retired), cash to the seller, fees.
    Traded(Fill),
    AuctionCreated {
        auction: AuctionId,
    },
    BidPlaced {
        bid: BidId,
        auction: AuctionId,
        lot: u32,
    },
    BidChanged {
        bid: BidId,
        auction: AuctionId,
        lot: u32,
    },
    BidWithdrawn {
        bid: BidId,
        auction: AuctionId,
        lot: u32,
    },
    /// One lot cleared and settled; the full result is in the auction's state.
    LotCleared {
        auction: AuctionId,
        lot: u32,
        /// The lot's instrument, whose currency the clearing price is in.
        instrument: InstrumentId,
        clearing_price_minor: Option<i64>,
        sold_tonnes: u64,
    },
    AuctionClosed {
        auction: AuctionId,
    },
    BasketCreated {
        basket: BasketId,
    },
    BasketCriteriaSet {
        basket: BasketId,
    },
    ProjectRated {
        project: ProjectId,
        rating: Option<u8>,
    },
    BasketDeposited {
        basket: BasketId,
        account: AccountId,
        issuance: IssuanceId,
        serials: RangeSet,
        priority: u32,
    },
    BasketWithdrawn {
        basket: BasketId,
        account: AccountId,
        issuance: IssuanceId,
        serials: RangeSet,
    },
    /// A deposit that stopped qualifying after a criteria change went back to its owner.
    BasketDepositReturned {
        basket: BasketId,
        account: AccountId,
        issuance: IssuanceId,
        serials: RangeSet,
    },
}
