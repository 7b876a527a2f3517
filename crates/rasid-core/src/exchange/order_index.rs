//! The `OrderId → slot` index of the open orders: a window over the most recent ids, and a hash
//! map for open orders older than the window.
//!
//! Order ids are assigned in sequence, and most orders that rest are cancelled or filled soon
//! after, so the open ids crowd near the newest one. The window is a ring of slot numbers at
//! `id mod ring size`: resting an order writes at the window's end, and cancelling or filling
//! one writes `NIL` at its place; both are an array index where a hash map hashed, probed and
//! moved entries, and the places of orders placed close in time share cache lines where hashed
//! ids scattered. The window never spans more than [`WINDOW_IDS_MAX`] ids: when a new id would
//! stretch it further, its oldest ids leave it, and those still open move into the map
//! (`older`), where an order resting for weeks costs what it did before. So the index takes at
//! most a quarter of a megabyte beyond what the map holds, whatever ids a snapshot brings.
//!
//! Nothing iterates the index (the arena's slots are iterated, in an order that depends on
//! history anyway, see `book.rs`), so how it keeps the ids never shows.

use super::OrderId;
use super::book::NIL;
use crate::id_hash::IdHashMap;

/// Most ids the window spans: 2^16 slot numbers, 256 KB. On the matching bench (about 10k open
/// orders among 1.6M placed) nearly every cancel and fill finds its order in the window.
pub(crate) const WINDOW_IDS_MAX: u64 = 1 << 16;

/// Ids the window moves by beyond what a new id needs (see `slide_below`).
const SLIDE_IDS: u64 = WINDOW_IDS_MAX / 8;

/// The ring's first size, in ids; it doubles as the window's span needs, up to
/// `WINDOW_IDS_MAX`.
const RING_IDS_MIN: usize = 64;

#[derive(Clone, Debug, Default)]
pub(crate) struct OrderIndex {
    /// The window spans the ids `base..end`. Every open order with an id below `base` is in
    /// `older`, and so is one with the largest id, whose window would end past `u64::MAX` (the
    /// engine never issues it, but a snapshot may name it); no other order at or past `end` is
    /// open.
    base: u64,
    end: u64,
    /// The slot of each id of the window at `ring[id % ring.len()]`, `NIL` for an id with no
    /// open order. Its length is zero or a power of two at least the window's span, and every
    /// position outside the window holds `NIL`, so the window extends without clearing.
    ring: Vec<u32>,
    older: IdHashMap<OrderId, u32>,
    /// Open orders in the window (those in `older` are counted by the map).
    in_window: usize,
}

impl OrderIndex {
    pub fn len(&self) -> usize {
        self.in_window + self.older.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn position(&self, id: u64) -> usize {
        // The ring's length is a power of two, so the remainder is a mask; ids past the
        // window are never looked up here.
        (id as usize) & (self.ring.len() - 1)
    }

    /// Whether the id is kept in `older` rather than the window.
    fn is_older(&self, id: u64) -> bool {
        id < self.base || id == u64::MAX
    }

    pub fn get(&self, id: OrderId) -> Option<u32> {
        if self.is_older(id.0) {
            return self.older.get(&id).copied();
        }
        if id.0 >= self.end {
            return None;
        }
        Some(self.ring[self.position(id.0)]).filter(|s| *s != NIL)
    }

    /// Indexes an open order's slot; returns the slot the id had, if it had one.
    pub fn insert(&mut self, id: OrderId, slot: u32) -> Option<u32> {
        assert!(slot != NIL, "NIL is not a slot");
        if self.is_older(id.0) {
            return self.older.insert(id, slot);
        }
        if self.in_window == 0 {
            // An empty window (all `NIL`) starts again at the new id.
            (self.base, self.end) = (id.0, id.0);
        }
        if id.0 - self.base >= WINDOW_IDS_MAX {
            self.slide_below(id.0);
        }
        let span = id.0 - self.base + 1;
        if span > self.ring.len() as u64 {
            self.grow(span);
        }
        self.end = self.end.max(id.0 + 1);
        let k = self.position(id.0);
        let previous = std::mem::replace(&mut self.ring[k], slot);
        if previous == NIL {
            self.in_window += 1;
            return None;
        }
        Some(previous)
    }

    /// Removes an id; returns the slot it had, if it had one.
    pub fn remove(&mut self, id: OrderId) -> Option<u32> {
        if self.is_older(id.0) {
            return self.older.remove(&id);
        }
        if id.0 >= self.end {
            return None;
        }
        let k = self.position(id.0);
        let slot = std::mem::replace(&mut self.ring[k], NIL);
        if slot == NIL {
            return None;
        }
        self.in_window -= 1;
        if id.0 == self.base {
            self.trim_front();
        }
        Some(slot)
    }

    /// Moves `base` past the ids with no open order at the front of the window; each id
    /// leaves the window once, so this costs O(1) per id over time.
    fn trim_front(&mut self) {
        while self.base < self.end && self.ring[self.position(self.base)] == NIL {
            self.base += 1;
        }
    }

    /// Moves the window's oldest ids out until `id` is less than `WINDOW_IDS_MAX` past its base,
    /// and [`SLIDE_IDS`] more, so that the window slides once per so many new ids rather than
    /// on every one; open orders among them go into `older`.
    #[cold]
    #[inline(never)]
    fn slide_below(&mut self, id: u64) {
        let base_min = id - (WINDOW_IDS_MAX - 1) + SLIDE_IDS;
        let leaving = base_min.min(self.end);
        // The ids leaving are consecutive places of the ring, wrapping at most once: swept as
        // one or two slices, where indexing place by place cost twenty instructions an id.
        let first = self.position(self.base);
        let count = usize::try_from(leaving - self.base).expect("bounded by WINDOW_IDS_MAX");
        let wrapped = (first + count).saturating_sub(self.ring.len());
        let (low, high) = self.ring.split_at_mut(first);
        let mut id_at = self.base;
        for run in [&mut high[..count - wrapped], &mut low[..wrapped]] {
            for place in run.iter_mut() {
                let slot = std::mem::replace(place, NIL);
                if slot != NIL {
                    self.older.insert(OrderId(id_at), slot);
                    self.in_window -= 1;
                }
                id_at += 1;
            }
        }
        self.base = leaving;
        self.trim_front();
        if self.base == self.end {
            // Nothing left in the window: it starts again at the new id.
            (self.base, self.end) = (id, id);
        }
    }

    /// Doubles the ring until it holds `span` ids, moving the window's slots to their new
    /// positions.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, span: u64) {
        let len = usize::try_from(span.next_power_of_two()).expect("bounded by WINDOW_IDS_MAX");
        let mut ring = vec![NIL; len.max(RING_IDS_MIN)];
        let mask = ring.len() - 1;
        for id in self.base..self.end {
            ring[(id as usize) & mask] = self.ring[self.position(id)];
        }
        self.ring = ring;
    }

    /// The index's own invariants, for the audit: the window within its bound and the ring,
    /// starting with an open order, `NIL` outside it, its count right, and every older order
    /// below it.
    pub fn is_consistent(&self) -> bool {
        let span = self.end.saturating_sub(self.base);
        let shape = self.base <= self.end
            && span <= WINDOW_IDS_MAX
            && span <= self.ring.len() as u64
            && (self.ring.is_empty() || self.ring.len().is_power_of_two());
        if !shape {
            return false;
        }
        let in_window = (self.base..self.end).filter(|id| self.ring[self.position(*id)] != NIL);
        let open = self.ring.iter().filter(|s| **s != NIL).count();
        let front_open = span == 0 || self.ring[self.position(self.base)] != NIL;
        in_window.count() == self.in_window
            && open == self.in_window
            && front_open
            && self.older.keys().all(|id| self.is_older(id.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Clone, Debug)]
    enum Op {
        /// Rest the next id (ids are assigned in sequence), skipping `gap` ids first.
        Next { gap: u64 },
        /// Rest an id far ahead, as a snapshot may bring.
        Jump { ahead: u64 },
        /// Remove the open order at this position among the open ones, by id.
        Remove { pick: usize },
        /// Re-index an open order under a new slot (amend takes an order out and rests it
        /// again under its id).
        Again { pick: usize },
        /// Look up an id that may or may not be open.
        Probe { back: u64 },
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..4u64).prop_map(|gap| Op::Next { gap }),
            1 => (WINDOW_IDS_MAX / 2..WINDOW_IDS_MAX * 3).prop_map(|ahead| Op::Jump { ahead }),
            5 => any::<usize>().prop_map(|pick| Op::Remove { pick }),
            1 => any::<usize>().prop_map(|pick| Op::Again { pick }),
            2 => (0..WINDOW_IDS_MAX * 2).prop_map(|back| Op::Probe { back }),
        ]
    }

    proptest! {
        /// The index answers every insert, removal and look-up as a `HashMap` does, and keeps
        /// its invariants, across ids that move the window and orders older than it.
        #[test]
        fn the_index_is_a_hash_map(ops in proptest::collection::vec(op(), 1..400)) {
            let mut index = OrderIndex::default();
            let mut model: HashMap<OrderId, u32> = HashMap::new();
            let mut next = 1u64;
            let mut slot = 0u32;
            for (n, op) in ops.into_iter().enumerate() {
                let mut open: Vec<OrderId> = model.keys().copied().collect();
                open.sort_unstable();
                match op {
                    Op::Next { gap } | Op::Jump { ahead: gap } => {
                        next += gap;
                        slot += 1;
                        prop_assert_eq!(index.insert(OrderId(next), slot), None);
                        model.insert(OrderId(next), slot);
                        next += 1;
                    }
                    Op::Remove { pick } if !open.is_empty() => {
                        let id = open[pick % open.len()];
                        prop_assert_eq!(index.remove(id), model.remove(&id));
                        prop_assert_eq!(index.remove(id), None);
                    }
                    Op::Again { pick } if !open.is_empty() => {
                        let id = open[pick % open.len()];
                        slot += 1;
                        prop_assert_eq!(index.remove(id), model.remove(&id));
                        prop_assert_eq!(index.insert(id, slot), None);
                        model.insert(id, slot);
                    }
                    Op::Probe { back } => {
                        let id = OrderId(next.saturating_sub(back));
                        prop_assert_eq!(index.get(id), model.get(&id).copied());
                    }
                    Op::Remove { .. } | Op::Again { .. } => {}
                }
                prop_assert_eq!(index.len(), model.len());
                // The check visits the whole ring (up to 2^16 places): every few steps.
                prop_assert!(n % 16 != 0 || index.is_consistent());
            }
            prop_assert!(index.is_consistent());
            for (id, slot) in &model {
                prop_assert_eq!(index.get(*id), Some(*slot));
            }
        }
    }

    /// Regression: a slide that left only ids with no open order in the window kept its
    /// base there instead of starting again at the new id, so the window began with `NIL`.
    #[test]
    fn a_slide_that_empties_the_window_starts_it_at_the_new_id() {
        let mut index = OrderIndex::default();
        index.insert(OrderId(1), 1);
        index.insert(OrderId(20_000), 2);
        assert_eq!(index.remove(OrderId(20_000)), Some(2));
        let far = 1 + WINDOW_IDS_MAX + 100;
        index.insert(OrderId(far), 3);
        assert!(index.is_consistent());
        assert_eq!((index.base, index.end), (far, far + 1));
        assert_eq!([1, 20_000, far].map(|id| index.get(OrderId(id))), [Some(1), None, Some(3)]);
    }

    /// A snapshot's orders come in id order with any gaps: an id far past the window moves the
    /// open orders before it into the map and the window stays within its bound.
    #[test]
    fn an_id_far_ahead_moves_the_window_and_keeps_the_old_orders() {
        let mut index = OrderIndex::default();
        assert_eq!(index.insert(OrderId(1), 10), None);
        assert_eq!(index.insert(OrderId(3), 30), None);
        assert_eq!(index.insert(OrderId(1 << 60), 40), None);
        assert!(index.end - index.base <= WINDOW_IDS_MAX && index.is_consistent());
        assert_eq!(index.older.len(), 2);
        assert_eq!(
            [1, 2, 3, 1 << 60].map(|id| index.get(OrderId(id))),
            [Some(10), None, Some(30), Some(40)]
        );
        assert_eq!(index.remove(OrderId(1)), Some(10));
        assert_eq!(index.remove(OrderId(1 << 60)), Some(40));
        assert_eq!(index.len(), 1);
        // The largest id, whose window would end past `u64::MAX`, is kept with the older ones.
        assert_eq!(index.insert(OrderId(u64::MAX), 50), None);
        assert!(index.is_consistent());
        assert_eq!(index.get(OrderId(u64::MAX)), Some(50));
        assert_eq!(index.remove(OrderId(u64::MAX)), Some(50));
    }
}
