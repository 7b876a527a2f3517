//! Events: what an accepted command did, for replies, read models and market data.

use crate::exchange::auction::{AuctionId, BidId};
use crate::exchange::basket::BasketId;
use crate::exchange::{CancelReason, Fill, InstrumentId, InstrumentStatus, OrderId, Side};
use crate::ids::{AccountId, CancellationId, IssuanceId, OrgId, ProjectId, RetirementId};
use crate::money::Currency;
use crate::serial::{RangeSet, SerialRange};
use serde::{Deserialize, Serialize};
use std::mem::ManuallyDrop;

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

impl Event {
    /// Whether dropping the event frees anything. Conservative: `true` for every variant not
    /// listed. The order path's events are listed with every field named, and each field is
    /// copied out, so a field added to one, or a field that stops being `Copy`, fails to compile
    /// here rather than making [`Events`] forget memory it should free.
    pub fn owns_heap(&self) -> bool {
        match self {
            Event::OrderAccepted {
                order,
                instrument,
                account,
                side,
                price_minor,
                quantity_tonnes,
            } => plain((*order, *instrument, *account, *side, *price_minor, *quantity_tonnes)),
            Event::OrderRested { order, instrument, side, price_minor, remaining_tonnes } => {
                plain((*order, *instrument, *side, *price_minor, *remaining_tonnes))
            }
            Event::OrderAmended {
                order,
                instrument,
                side,
                old_price_minor,
                old_remaining_tonnes,
                price_minor,
                remaining_tonnes,
                priority_kept,
            } => plain((
                *order,
                *instrument,
                *side,
                (*old_price_minor, *old_remaining_tonnes, *price_minor, *remaining_tonnes),
                *priority_kept,
            )),
            Event::OrderCancelled {
                order,
                instrument,
                side,
                price_minor,
                remaining_tonnes,
                reason,
                rested,
            } => plain((
                *order,
                *instrument,
                *side,
                (*price_minor, *remaining_tonnes),
                *reason,
                *rested,
            )),
            Event::Traded(fill) => fill.owns_heap(),
            _ => true,
        }
    }
}

/// Takes fields by value, so that only `Copy` fields (which own nothing) can be passed.
#[inline(always)]
pub(crate) fn plain<T: Copy>(_fields: T) -> bool {
    false
}

/// A list of events that a caller reuses from command to command (replay, the matching
/// benchmark): `State::execute_into` appends to it, and `clear` empties it.
///
/// Why not a `Vec<Event>`: emptying one runs `Event`'s drop glue on every element — a jump on
/// the variant and a test of each owned field — although nearly every order's events own
/// nothing; that was about 60 instructions per operation of the 2M-operation matching bench.
/// Here each event is held as a `ManuallyDrop`, and the list remembers whether any event it
/// holds owns memory ([`Event::owns_heap`]). `clear` drops them one by one only then, and
/// otherwise forgets them all at once, which frees nothing because nothing was owned. The
/// worst a wrong `owns_heap` could do is leak; it cannot free twice.
#[derive(Default)]
pub struct Events {
    list: Vec<ManuallyDrop<Event>>,
    /// Whether an event in `list` may own memory; reset only when the list is emptied.
    owning: bool,
}

impl Events {
    pub fn new() -> Self {
        Self::default()
    }

    #[inline]
    pub fn push(&mut self, event: Event) {
        self.owning |= event.owns_heap();
        self.list.push(ManuallyDrop::new(event));
    }

    /// Appends another command's events (commands off the order path return their own list).
    pub fn append(&mut self, more: Vec<Event>) {
        self.owning |= more.iter().any(Event::owns_heap);
        if self.list.capacity() == 0 {
            // Takes over the list's allocation: the wrapper has the event's layout.
            self.list = more.into_iter().map(ManuallyDrop::new).collect();
        } else {
            self.list.extend(more.into_iter().map(ManuallyDrop::new));
        }
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.list.capacity()
    }

    pub fn reserve(&mut self, additional: usize) {
        self.list.reserve(additional);
    }

    pub fn reserve_exact(&mut self, additional: usize) {
        self.list.reserve_exact(additional);
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Event> + ExactSizeIterator {
        self.list.iter().map(|event| &**event)
    }

    /// Drops every event.
    #[inline]
    pub fn clear(&mut self) {
        if self.owning {
            self.drop_all();
        } else {
            // `ManuallyDrop` has no drop glue: this only sets the length.
            self.list.clear();
        }
    }

    #[inline(never)]
    fn drop_all(&mut self) {
        for event in self.list.drain(..) {
            drop(ManuallyDrop::into_inner(event));
        }
        self.owning = false;
    }

    /// Removes and returns the events from `at` on.
    pub fn split_off(&mut self, at: usize) -> Vec<Event> {
        self.list.split_off(at).into_iter().map(ManuallyDrop::into_inner).collect()
    }

    /// The events as a plain list, which frees what they own when dropped.
    pub fn into_vec(mut self) -> Vec<Event> {
        std::mem::take(&mut self.list).into_iter().map(ManuallyDrop::into_inner).collect()
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.clear();
    }
}

impl std::ops::Index<usize> for Events {
    type Output = Event;
    fn index(&self, index: usize) -> &Event {
        &self.list[index]
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = &'a Event;
    type IntoIter = std::iter::Map<
        std::slice::Iter<'a, ManuallyDrop<Event>>,
        fn(&'a ManuallyDrop<Event>) -> &'a Event,
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter().map(|event| &**event)
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::{Retirements, Serials, TradeId};

    fn fill(serials: Serials, retirements: Retirements) -> Fill {
        Fill {
            trade: TradeId(1),
            instrument: InstrumentId(1),
            price_minor: 100,
            quantity_tonnes: 5,
            buy_order: OrderId(1),
            sell_order: OrderId(2),
            buyer: AccountId(1),
            seller: AccountId(2),
            aggressor: Side::Buy,
            serials,
            buyer_fee_minor: 0,
            seller_fee_minor: 0,
            retirements,
        }
    }

    fn range(first: u64, last: u64) -> SerialRange {
        SerialRange::new(first, last).unwrap()
    }

    #[test]
    fn only_events_that_hold_memory_are_owning() {
        let one = Serials::one(IssuanceId(1), range(1, 5));
        let two = Serials::from_vec(vec![
            (IssuanceId(1), RangeSet::from_range(range(1, 2))),
            (IssuanceId(2), RangeSet::from_range(range(7, 9))),
        ]);
        let rested = Event::OrderRested {
            order: OrderId(1),
            instrument: InstrumentId(1),
            side: Side::Sell,
            price_minor: 1,
            remaining_tonnes: 1,
        };
        assert!(!rested.owns_heap());
        assert!(!Event::Traded(fill(one.clone(), Retirements::default())).owns_heap());
        assert!(!Event::Traded(fill(Serials::new(), Retirements::default())).owns_heap());
        assert!(Event::Traded(fill(two, Retirements::default())).owns_heap());
        assert!(Event::Traded(fill(one, vec![RetirementId(3)].into())).owns_heap());
        assert!(Event::OrganizationCreated { org: OrgId(1) }.owns_heap(), "unlisted: owning");
    }

    /// The list keeps what was pushed, in order, whether it clears by dropping or forgetting,
    /// and hands it on whole.
    #[test]
    fn events_keep_order_and_hand_on_what_they_hold() {
        let two = || {
            Serials::from_vec(vec![
                (IssuanceId(1), RangeSet::from_range(range(1, 2))),
                (IssuanceId(2), RangeSet::from_range(range(7, 9))),
            ])
        };
        let plain =
            Event::Traded(fill(Serials::one(IssuanceId(1), range(1, 5)), Default::default()));
        let owning = Event::Traded(fill(two(), Default::default()));
        let mut events = Events::new();
        for round in 0..3 {
            events.push(plain.clone());
            if round != 1 {
                events.push(owning.clone());
            }
            assert_eq!(events.owning, round != 1);
            let want: Vec<Event> = events.iter().cloned().collect();
            assert_eq!(events.len(), want.len());
            assert_eq!(events[0], plain);
            events.clear();
            assert!(events.is_empty() && !events.owning);
        }
        events.push(plain.clone());
        events.append(vec![owning.clone(), plain.clone()]);
        assert!(events.owning);
        assert_eq!(events.split_off(2), vec![plain.clone()]);
        assert_eq!(events.into_vec(), vec![plain, owning]);
    }
}
