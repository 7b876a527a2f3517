//! One instrument's order book, and the arena that holds every open order.
//!
//! Open orders live in [`Orders`], a slab of slots reused through a free list; an order keeps
//! its slot for as long as it rests. A price level is a first-in-first-out queue linked through
//! the slots (`prev`/`next` slot numbers, kept in [`Links`] beside the orders), so adding at the
//! tail and removing anywhere are O(1), and matching walks the queue without any map look-up.
//! The `OrderId → slot` index is needed only for commands that name an order from outside
//! (cancel, amend, queries).
//!
//! Slot numbers depend on the order of past insertions and removals, so they never leave the
//! process: the snapshot encodes orders in id order and each level's queue as order ids (see
//! `ExchangeState`'s `Serialize`), and two states are equal when those encodings are.

use super::ladder::Ladder;
use super::order_index::OrderIndex;
use super::{Order, OrderId, Side};
use crate::dense::DenseMap;
use crate::ids::AccountId;

/// "No slot": the end of a queue.
pub(crate) const NIL: u32 = u32::MAX;

/// Most open orders the arena holds at once. Slots are `u32` with `NIL` reserved; the limit is
/// far beyond what fits in memory, so reaching it means a bug, not a busy day.
pub const OPEN_ORDERS_MAX: usize = (u32::MAX - 1) as usize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Level {
    /// Slots of the first and last order in time priority.
    pub(crate) head: u32,
    pub(crate) tail: u32,
    pub quantity_tonnes: u64,
    pub orders: u32,
}

/// Bids and asks by price, each side a ladder (see `ladder.rs`). The best bid is the highest
/// price, the best ask the lowest.
#[derive(Clone, Debug, Default)]
pub struct Book {
    pub(crate) bids: Ladder,
    pub(crate) asks: Ladder,
}

/// Where the order in a slot is linked: its neighbours in its price level's queue and among its
/// account's open orders.
///
/// Kept in an array of their own, 16 bytes a slot, not beside each 128-byte order: taking an
/// order out writes its neighbours' links, and those neighbours are other orders, rarely in
/// cache. Inside the orders' slots those writes went to cold lines spread over the whole arena
/// (1.3 MB for the matching bench's 10,000 resting orders); here they go to an array an eighth
/// of that size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Links {
    /// Neighbours in the price level's queue.
    prev: u32,
    next: u32,
    /// Neighbours among the same account's open orders, in no particular order.
    account_prev: u32,
    account_next: u32,
}

const UNLINKED: Links = Links { prev: NIL, next: NIL, account_prev: NIL, account_next: NIL };

/// Every open order, in slots, with two indexes: by id, and per account as a list linked
/// through the slots (O(1) to maintain on every rest and removal, where an ordered set of
/// `(account, order)` pairs cost two B-tree searches per order).
#[derive(Clone, Debug, Default)]
pub struct Orders {
    slots: Vec<Option<Order>>,
    /// The links of each slot's order, as long as `slots`; a free slot's are `UNLINKED`.
    links: Vec<Links>,
    free: Vec<u32>,
    /// Where each open order is (`order_index.rs`).
    index: OrderIndex,
    /// First slot of each account's list, `NIL` (or absent) for an account without open orders.
    /// Indexed by account id: every rest and every removal of a list's head finds its account
    /// here, and a hash map's probe cost several times the instructions of an array index.
    /// Decoding checks that every order's account exists before it indexes the order here
    /// (`ExchangeState::from_wire`).
    accounts: DenseMap<AccountId, u32>,
}

impl Orders {
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub fn get(&self, id: OrderId) -> Option<&Order> {
        self.index.get(id).map(|s| self.at(s))
    }

    pub(crate) fn get_mut(&mut self, id: OrderId) -> Option<&mut Order> {
        let slot = self.index.get(id)?;
        Some(self.at_mut(slot))
    }

    pub(crate) fn slot_of(&self, id: OrderId) -> Option<u32> {
        self.index.get(id)
    }

    pub(crate) fn at(&self, slot: u32) -> &Order {
        self.slots[slot as usize].as_ref().expect("a linked slot holds an order")
    }

    pub(crate) fn at_mut(&mut self, slot: u32) -> &mut Order {
        self.slots[slot as usize].as_mut().expect("a linked slot holds an order")
    }

    fn links(&self, slot: u32) -> &Links {
        &self.links[slot as usize]
    }

    fn links_mut(&mut self, slot: u32) -> &mut Links {
        &mut self.links[slot as usize]
    }

    /// The slot after `slot` in its level's queue.
    pub(crate) fn next_of(&self, slot: u32) -> u32 {
        self.links(slot).next
    }

    pub(crate) fn prev_of(&self, slot: u32) -> u32 {
        self.links(slot).prev
    }

    /// Stores an order (not yet linked into a level) and returns its slot. Inlined into
    /// `State::rest`, so the order moves from the caller's frame straight into its slot.
    #[inline]
    pub(crate) fn insert(&mut self, order: Order) -> u32 {
        assert!(self.index.len() < OPEN_ORDERS_MAX, "open orders fit in u32 slots");
        let (id, account) = (order.id, order.account);
        // The slot is found first and the order moved straight into it: moved in before the
        // choice of slot, it was copied once more on every rest.
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(None);
                self.links.push(UNLINKED);
                u32::try_from(self.slots.len() - 1).expect("bounded by OPEN_ORDERS_MAX")
            }
        };
        let place = &mut self.slots[slot as usize];
        debug_assert!(place.is_none() && self.links[slot as usize] == UNLINKED);
        *place = Some(order);
        let previous = self.index.insert(id, slot);
        assert!(previous.is_none(), "order ids are unique");
        // The new order becomes the head of its account's list.
        let head = std::mem::replace(self.accounts.get_or_insert_with(account, || NIL), slot);
        self.links_mut(slot).account_next = head;
        if head != NIL {
            self.links_mut(head).account_prev = slot;
        }
        slot
    }

    /// Takes an order (already unlinked from its level) out of its slot.
    pub(crate) fn remove(&mut self, slot: u32) -> Order {
        self.forget(slot);
        self.slots[slot as usize].take().expect("removing a stored order")
    }

    /// Drops an order (already unlinked from its level) in its slot: for an order that filled
    /// in full and holds nothing more, where moving it out only to drop it copied it (128
    /// bytes).
    pub(crate) fn discard(&mut self, slot: u32) {
        self.forget(slot);
        self.slots[slot as usize] = None;
    }

    /// Takes the order in `slot` out of the id index and its account's list and frees the
    /// slot number; the caller then empties the slot.
    fn forget(&mut self, slot: u32) {
        let order = self.at(slot);
        let (id, account) = (order.id, order.account);
        let links = std::mem::replace(self.links_mut(slot), UNLINKED);
        debug_assert!(links.prev == NIL && links.next == NIL, "unlinked before removal");
        let (before, after) = (links.account_prev, links.account_next);
        let removed = self.index.remove(id);
        assert_eq!(removed, Some(slot), "the index agrees with the slots");
        if after != NIL {
            self.links_mut(after).account_prev = before;
        }
        if before != NIL {
            self.links_mut(before).account_next = after;
        } else {
            *self.accounts.get_mut(&account).expect("a listed account has a head") = after;
        }
        self.free.push(slot);
    }

    /// Open orders in slot order, which depends on history: use only where the order of the
    /// visit does not matter (sums, checks), or sort the result by id.
    pub fn iter_unordered(&self) -> impl Iterator<Item = &Order> {
        self.slots.iter().flatten()
    }

    /// One account's open orders, oldest (lowest id) first.
    pub fn of_account(&self, account: AccountId) -> Vec<&Order> {
        let mut out = Vec::new();
        let mut slot = self.accounts.get(&account).copied().unwrap_or(NIL);
        while slot != NIL {
            assert!(out.len() < self.index.len(), "an account's list has no cycle");
            out.push(self.at(slot));
            slot = self.links(slot).account_next;
        }
        out.sort_unstable_by_key(|o| o.id);
        out
    }

    /// Checks the per-account lists against the orders: each list links exactly its account's
    /// orders, both ways. For the audit.
    pub(crate) fn accounts_consistent(&self) -> bool {
        let mut linked = 0usize;
        for (account, head) in &self.accounts {
            let (mut prev, mut slot) = (NIL, *head);
            while slot != NIL {
                let (Some(Some(order)), Some(links)) =
                    (self.slots.get(slot as usize), self.links.get(slot as usize))
                else {
                    return false;
                };
                if order.account != *account || links.account_prev != prev || linked >= self.len() {
                    return false;
                }
                linked += 1;
                prev = slot;
                slot = links.account_next;
            }
        }
        linked == self.len()
    }

    /// Checks the id index against the slots: every stored order is found at its slot, and
    /// nothing else is indexed. For the audit.
    pub(crate) fn index_consistent(&self) -> bool {
        let mut stored = 0usize;
        for (slot, order) in self.slots.iter().enumerate() {
            if let Some(order) = order {
                stored += 1;
                if self.index.get(order.id).is_none_or(|s| s as usize != slot) {
                    return false;
                }
            }
        }
        self.index.is_consistent() && stored == self.index.len()
    }

    /// Ids of the open orders that satisfy `keep`, ascending: for commands that act on many
    /// orders, whose events must come out in a defined order.
    pub(crate) fn ids_where(&self, keep: impl Fn(&Order) -> bool) -> Vec<OrderId> {
        let mut ids: Vec<OrderId> =
            self.iter_unordered().filter(|o| keep(o)).map(|o| o.id).collect();
        ids.sort_unstable();
        ids
    }
}

impl Book {
    pub fn best(&self, side: Side) -> Option<(i64, &Level)> {
        match side {
            Side::Buy => self.bids.highest(),
            Side::Sell => self.asks.lowest(),
        }
    }

    pub fn best_price(&self, side: Side) -> Option<i64> {
        self.best(side).map(|(p, _)| p)
    }

    /// Levels from the best outwards: `(price, tonnes, orders)`.
    pub fn depth(&self, side: Side, levels_max: usize) -> Vec<(i64, u64, u32)> {
        let row = |(p, l): (i64, &Level)| (p, l.quantity_tonnes, l.orders);
        match side {
            Side::Buy => self.bids.iter().rev().take(levels_max).map(row).collect(),
            Side::Sell => self.asks.iter().take(levels_max).map(row).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    fn levels(&mut self, side: Side) -> &mut Ladder {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    pub(crate) fn levels_of(&self, side: Side) -> &Ladder {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    /// The slots of one level's queue, first in time first.
    pub(crate) fn queue<'a>(orders: &'a Orders, level: &Level) -> impl Iterator<Item = u32> + 'a {
        let mut next = level.head;
        std::iter::from_fn(move || {
            (next != NIL).then(|| {
                let slot = next;
                next = orders.next_of(slot);
                slot
            })
        })
    }

    /// Appends a stored order at the tail of its price level: last in time.
    pub(crate) fn push_back(&mut self, orders: &mut Orders, slot: u32) {
        let (side, price, remaining) = {
            let o = orders.at(slot);
            (o.side, o.price_minor, o.remaining_tonnes)
        };
        // The ladder finds, opens and extends a level by index (see `ladder.rs`).
        let levels = self.levels(side);
        match levels.get_mut(price) {
            None => {
                levels.insert(
                    price,
                    Level { head: slot, tail: slot, quantity_tonnes: remaining, orders: 1 },
                );
                let l = orders.links_mut(slot);
                l.prev = NIL;
                l.next = NIL;
            }
            Some(level) => {
                let tail = level.tail;
                level.tail = slot;
                level.quantity_tonnes += remaining;
                level.orders += 1;
                orders.links_mut(tail).next = slot;
                let l = orders.links_mut(slot);
                l.prev = tail;
                l.next = NIL;
            }
        }
    }

    /// Takes an order out of its level, wherever it is in the queue; it stays in its slot.
    /// `traded` tonnes that just filled (and are no longer in the order's remaining quantity)
    /// leave the level's total too, so a fill that completes a resting order finds its level
    /// once rather than twice.
    pub(crate) fn unlink(&mut self, orders: &mut Orders, slot: u32, traded: u64) {
        let (side, price, remaining) = {
            let o = orders.at(slot);
            (o.side, o.price_minor, o.remaining_tonnes)
        };
        let Links { prev, next, .. } = *orders.links(slot);
        if prev != NIL {
            orders.links_mut(prev).next = next;
        }
        if next != NIL {
            orders.links_mut(next).prev = prev;
        }
        let levels = self.levels(side);
        let level = levels.get_mut(price).expect("a resting order's level exists");
        level.orders -= 1;
        level.quantity_tonnes -= remaining + traded;
        if level.orders == 0 {
            assert!(prev == NIL && next == NIL, "the last order of a level has no neighbours");
            levels.remove(price);
        } else {
            if level.head == slot {
                assert!(next != NIL, "a level with orders left has a next");
                level.head = next;
            }
            if level.tail == slot {
                assert!(prev != NIL, "a level with orders left has a prev");
                level.tail = prev;
            }
        }
        let l = orders.links_mut(slot);
        l.prev = NIL;
        l.next = NIL;
    }

    /// Records that `tonnes` of a resting order at `price` traded or were amended away.
    pub(crate) fn reduce(&mut self, side: Side, price: i64, tonnes: u64) {
        let level = self.levels(side).get_mut(price).expect("a resting order's level exists");
        level.quantity_tonnes -= tonnes;
    }
}
