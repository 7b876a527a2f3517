//! One side of a book's price levels: a dense ladder indexed by price, with an ordered map for
//! the prices it does not cover.
//!
//! Orders rest within a band around the reference price and most of them near the touch, so
//! the levels of one side occupy a narrow run of prices. The ladder keeps that run in a vector
//! indexed by `price - base`, so finding, opening and emptying a level is an index, not a
//! B-tree search, and it tracks its lowest and highest occupied level so the touch is known
//! without a search either. When an empty level at the touch leaves, the next one is found by
//! stepping over empty slots, which near the touch are few.
//!
//! The vector grows (by doubling, re-centred) to cover a new price as long as the span of the
//! prices it covers stays within `DENSE_MAX` levels; a price beyond that, or one whose window
//! arithmetic would not fit in `i64`, goes to `overflow`, an ordered map that never holds a
//! price inside the window. So memory stays bounded whatever prices are used, and every
//! operation is correct whichever part holds a level. Iteration visits both parts in price
//! order, so nothing outside this file sees the layout (the snapshot encodes levels by price).

use super::book::Level;
use std::collections::BTreeMap;

/// Most levels the dense part spans: 2^16 levels of 24 bytes, 1.5 MiB per side at most.
const DENSE_MAX: usize = 1 << 16;

/// Levels the dense part starts with, centred on the first price.
const DENSE_INITIAL: usize = 64;

/// A slot of the dense part that holds no level.
const EMPTY: Level =
    Level { head: super::book::NIL, tail: super::book::NIL, quantity_tonnes: 0, orders: 0 };

#[derive(Clone, Debug, Default)]
pub struct Ladder {
    /// The price of `dense[0]`.
    base: i64,
    /// Levels by `price - base`; a slot with no orders holds no level.
    dense: Vec<Level>,
    /// Occupied slots of `dense`, and the lowest and highest of them (meaningful when
    /// `occupied > 0`).
    occupied: usize,
    lo: usize,
    hi: usize,
    /// Levels at prices outside `base .. base + dense.len()`.
    overflow: BTreeMap<i64, Level>,
}

impl Ladder {
    /// Levels on this side.
    pub fn len(&self) -> usize {
        self.occupied + self.overflow.len()
    }

    pub fn is_empty(&self) -> bool {
        self.occupied == 0 && self.overflow.is_empty()
    }

    /// The dense slot of `price`, if the window covers it.
    fn index(&self, price: i64) -> Option<usize> {
        let offset = price.checked_sub(self.base)?;
        let i = usize::try_from(offset).ok()?;
        (i < self.dense.len()).then_some(i)
    }

    fn price_at(&self, i: usize) -> i64 {
        self.base + i64::try_from(i).expect("the window is at most DENSE_MAX wide")
    }

    pub fn get(&self, price: i64) -> Option<&Level> {
        match self.index(price) {
            Some(i) => Some(&self.dense[i]).filter(|l| l.orders > 0),
            None => self.overflow.get(&price),
        }
    }

    pub fn get_mut(&mut self, price: i64) -> Option<&mut Level> {
        match self.index(price) {
            Some(i) => Some(&mut self.dense[i]).filter(|l| l.orders > 0),
            None => self.overflow.get_mut(&price),
        }
    }

    /// Opens a level at a price that has none; `level` holds at least one order.
    pub fn insert(&mut self, price: i64, level: Level) {
        assert!(level.orders > 0, "a level holds orders");
        if self.index(price).is_none() {
            self.cover(price);
        }
        match self.index(price) {
            Some(i) => {
                assert_eq!(self.dense[i].orders, 0, "the price has no level yet");
                self.occupy(i, level);
            }
            None => {
                let previous = self.overflow.insert(price, level);
                assert!(previous.is_none(), "the price has no level yet");
            }
        }
    }

    /// Closes the level at `price`, which exists.
    pub fn remove(&mut self, price: i64) {
        let Some(i) = self.index(price) else {
            self.overflow.remove(&price).expect("the level exists");
            return;
        };
        // The caller has taken the level's last order out, so its count may already be zero;
        // what marks the slot as a level is its place within `lo ..= hi`.
        assert!(self.occupied > 0 && self.lo <= i && i <= self.hi, "the level exists");
        self.dense[i] = EMPTY;
        self.occupied -= 1;
        if self.occupied == 0 {
            return;
        }
        // Step over empty slots to the next occupied one; there is one, since `occupied > 0`
        // and every occupied slot lies within `lo ..= hi`.
        if i == self.lo {
            self.lo = (i + 1..=self.hi).find(|&j| self.dense[j].orders > 0).expect("occupied");
        }
        if i == self.hi {
            self.hi = (self.lo..i).rev().find(|&j| self.dense[j].orders > 0).expect("occupied");
        }
    }

    /// Makes the window cover `price` if it can without spanning more than `DENSE_MAX` levels;
    /// otherwise leaves it, and the price goes to the overflow map.
    fn cover(&mut self, price: i64) {
        // The prices the window must keep: the occupied run, if any, and the new one.
        let (need_lo, need_hi) = if self.occupied == 0 {
            (price, price)
        } else {
            (self.price_at(self.lo).min(price), self.price_at(self.hi).max(price))
        };
        let Some(span) = need_hi.checked_sub(need_lo).and_then(|s| usize::try_from(s).ok()) else {
            return;
        };
        if span >= DENSE_MAX {
            return;
        }
        let len = ((span + 1) * 2).clamp(DENSE_INITIAL, DENSE_MAX);
        let slack = i64::try_from((len - span - 1) / 2).expect("below DENSE_MAX");
        let Some(base) = need_lo.checked_sub(slack) else {
            return;
        };
        let top = i64::try_from(len - 1).expect("below DENSE_MAX");
        if base.checked_add(top).is_none() {
            return;
        }
        let mut dense = vec![EMPTY; len];
        if self.occupied > 0 {
            let from = self.price_at(self.lo);
            let at = usize::try_from(from - base).expect("the window covers the occupied run");
            dense[at..at + (self.hi - self.lo + 1)].copy_from_slice(&self.dense[self.lo..=self.hi]);
            (self.lo, self.hi) = (at, at + (self.hi - self.lo));
        }
        self.dense = dense;
        self.base = base;
        // Levels of the overflow map that the wider window now covers move into it, so the map
        // never holds a price inside the window.
        let moved: Vec<(i64, Level)> =
            self.overflow.range(base..=base + top).map(|(p, l)| (*p, *l)).collect();
        for (p, level) in moved {
            self.overflow.remove(&p);
            let i = self.index(p).expect("inside the new window");
            self.occupy(i, level);
        }
    }

    /// Puts `level` in the empty dense slot `i`, widening `lo ..= hi` to include it.
    fn occupy(&mut self, i: usize, level: Level) {
        self.dense[i] = level;
        if self.occupied == 0 {
            (self.lo, self.hi) = (i, i);
        } else {
            self.lo = self.lo.min(i);
            self.hi = self.hi.max(i);
        }
        self.occupied += 1;
    }

    /// The lowest-priced level.
    pub fn lowest(&self) -> Option<(i64, &Level)> {
        let below = self.overflow.first_key_value().filter(|(p, _)| **p < self.base);
        match (below, self.occupied > 0) {
            (Some((p, l)), _) => Some((*p, l)),
            (None, true) => Some((self.price_at(self.lo), &self.dense[self.lo])),
            (None, false) => self.overflow.first_key_value().map(|(p, l)| (*p, l)),
        }
    }

    /// The highest-priced level.
    pub fn highest(&self) -> Option<(i64, &Level)> {
        let above = self.overflow.last_key_value().filter(|(p, _)| **p >= self.base);
        match (above, self.occupied > 0) {
            (Some((p, l)), _) => Some((*p, l)),
            (None, true) => Some((self.price_at(self.hi), &self.dense[self.hi])),
            (None, false) => self.overflow.last_key_value().map(|(p, l)| (*p, l)),
        }
    }

    /// Every level in ascending price; reverse it for descending.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (i64, &Level)> {
        let dense: &[Level] = if self.occupied == 0 { &[] } else { &self.dense[self.lo..=self.hi] };
        let first = self.lo;
        let below = self.overflow.range(..self.base);
        let above = self.overflow.range(self.base..);
        below
            .map(|(p, l)| (*p, l))
            .chain(
                dense
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.orders > 0)
                    .map(move |(k, l)| (self.price_at(first + k), l)),
            )
            .chain(above.map(|(p, l)| (*p, l)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn level(orders: u32, tonnes: u64) -> Level {
        Level { head: 0, tail: 0, quantity_tonnes: tonnes, orders }
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// Opens a level, or (if there is one) changes its total, as resting and filling do.
        Put(i64, u64),
        /// Closes the level nearest at or above the price, if any.
        Remove(i64),
    }

    fn price() -> impl Strategy<Value = i64> {
        prop_oneof![
            4 => 999_900i64..1_000_100,
            2 => 990_000i64..1_010_000,
            1 => 1i64..i64::MAX,
            1 => prop_oneof![Just(1i64), Just(i64::MAX), Just(i64::MAX - 1), Just(2)],
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (price(), 1u64..1_000).prop_map(|(p, t)| Op::Put(p, t)),
            2 => price().prop_map(Op::Remove),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The ladder agrees with an ordered map after every operation: the same levels in the
        /// same order, the same lowest and highest, the same look-ups.
        #[test]
        fn ladder_agrees_with_btreemap(ops in prop::collection::vec(op(), 1..400)) {
            let mut ladder = Ladder::default();
            let mut model: BTreeMap<i64, Level> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Put(p, t) => match ladder.get_mut(p) {
                        Some(l) => {
                            l.quantity_tonnes = t;
                            l.orders += 1;
                            let m = model.get_mut(&p).expect("the model has it too");
                            m.quantity_tonnes = t;
                            m.orders += 1;
                        }
                        None => {
                            prop_assert!(!model.contains_key(&p));
                            ladder.insert(p, level(1, t));
                            model.insert(p, level(1, t));
                        }
                    },
                    Op::Remove(p) => {
                        if let Some((&q, _)) = model.range(p..).next() {
                            model.remove(&q);
                            ladder.remove(q);
                        }
                    }
                }
                prop_assert_eq!(ladder.len(), model.len());
                prop_assert_eq!(ladder.is_empty(), model.is_empty());
                prop_assert_eq!(ladder.lowest(), model.first_key_value().map(|(p, l)| (*p, l)));
                prop_assert_eq!(ladder.highest(), model.last_key_value().map(|(p, l)| (*p, l)));
                let got: Vec<(i64, Level)> = ladder.iter().map(|(p, l)| (p, *l)).collect();
                let want: Vec<(i64, Level)> = model.iter().map(|(p, l)| (*p, *l)).collect();
                prop_assert_eq!(&got, &want);
                let got_rev: Vec<i64> = ladder.iter().rev().map(|(p, _)| p).collect();
                let want_rev: Vec<i64> = model.keys().rev().copied().collect();
                prop_assert_eq!(got_rev, want_rev);
                for (p, l) in &model {
                    prop_assert_eq!(ladder.get(*p), Some(l));
                }
                prop_assert!(ladder.overflow.keys().all(|p| ladder.index(*p).is_none()));
            }
        }
    }

    #[test]
    fn far_prices_go_to_the_overflow_and_move_back_when_the_window_reaches_them() {
        let mut ladder = Ladder::default();
        ladder.insert(1_000_000, level(1, 5));
        ladder.insert(1_000_000 + DENSE_MAX as i64, level(1, 6));
        assert_eq!(ladder.overflow.len(), 1, "beyond the widest window");
        ladder.remove(1_000_000);
        // The dense part is empty: the next price re-centres it, taking the far level in.
        ladder.insert(1_000_000 + DENSE_MAX as i64 - 3, level(1, 7));
        assert!(ladder.overflow.is_empty());
        assert_eq!(ladder.lowest().map(|(p, _)| p), Some(1_000_000 + DENSE_MAX as i64 - 3));
        assert_eq!(ladder.highest().map(|(p, _)| p), Some(1_000_000 + DENSE_MAX as i64));
    }
}
