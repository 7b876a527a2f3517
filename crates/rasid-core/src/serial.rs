//! Serial numbers and sets of serial ranges.
//!
//! Every real registry identifies credits by inclusive serial blocks `[first, last]`. A holding is a
//! set of such ranges; transfers, trades and retirements split them and adjacent ranges merge back.
//! [`RangeSet`] keeps its ranges sorted, disjoint and non-adjacent, so two sets holding the same
//! serials are always equal value-for-value — the state digest relies on that canonical form.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// An inclusive block of serial numbers, `first..=last`. Never empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SerialRange {
    first: u64,
    last: u64,
}

impl SerialRange {
    /// Parses a range from its bounds; `None` when `last < first`.
    pub fn new(first: u64, last: u64) -> Option<Self> {
        (first <= last).then_some(Self { first, last })
    }

    /// The range of `quantity_tonnes` serials starting at `first`; `None` when empty or when the
    /// last serial would overflow the serial space.
    pub fn with_quantity(first: u64, quantity_tonnes: u64) -> Option<Self> {
        let last = first.checked_add(quantity_tonnes.checked_sub(1)?)?;
        Some(Self { first, last })
    }

    pub fn first(self) -> u64 {
        self.first
    }

    pub fn last(self) -> u64 {
        self.last
    }

    /// Number of serials (tonnes) in the range. A range of the whole `u64` space would not fit,
    /// so the serial space stops one short of `u64::MAX` (see [`SERIAL_MAX`]).
    pub fn quantity_tonnes(self) -> u64 {
        debug_assert!(self.last < u64::MAX);
        self.last - self.first + 1
    }

    pub fn contains_range(self, other: SerialRange) -> bool {
        self.first <= other.first && other.last <= self.last
    }

    pub fn overlaps(self, other: SerialRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

impl fmt::Display for SerialRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.first, self.last)
    }
}

/// The largest serial number Rasid assigns. One below `u64::MAX` so that every range's quantity
/// (`last - first + 1`) fits in a `u64`.
pub const SERIAL_MAX: u64 = u64::MAX - 1;

/// Why a range-set operation was refused. The set is unchanged when one is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeSetError {
    /// Inserting serials that are already in the set.
    Overlap,
    /// Removing serials that are not all in the set.
    NotContained,
    /// Asking for more serials than the set holds.
    Insufficient,
}

/// A set of serial numbers stored as disjoint, non-adjacent inclusive ranges, keyed by first
/// serial. A B-tree rather than a vector because real holdings fragment: a buffer pool or a busy
/// trading account can hold tens of thousands of ranges, and every operation here stays
/// O(log n) in the number of ranges (plus the ranges it returns).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RangeSet {
    /// first serial → last serial.
    ranges: BTreeMap<u64, u64>,
    /// Cached sum of the ranges' quantities; always equal to the recomputed sum (see `is_valid`).
    quantity_tonnes: u64,
}

impl RangeSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_range(range: SerialRange) -> Self {
        Self {
            ranges: BTreeMap::from([(range.first, range.last)]),
            quantity_tonnes: range.quantity_tonnes(),
        }
    }

    /// The ranges in ascending order.
    pub fn ranges(&self) -> impl DoubleEndedIterator<Item = SerialRange> + ExactSizeIterator + '_ {
        self.ranges.iter().map(|(&first, &last)| SerialRange { first, last })
    }

    pub fn to_vec(&self) -> Vec<SerialRange> {
        self.ranges().collect()
    }

    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    pub fn quantity_tonnes(&self) -> u64 {
        self.quantity_tonnes
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The range that starts at or below `serial` and is nearest to it.
    fn at_or_below(&self, serial: u64) -> Option<SerialRange> {
        self.ranges.range(..=serial).next_back().map(|(&first, &last)| SerialRange { first, last })
    }

    /// True when every serial of `range` is in the set.
    pub fn contains(&self, range: SerialRange) -> bool {
        self.at_or_below(range.first).is_some_and(|r| r.contains_range(range))
    }

    /// True when any serial of `range` is in the set. Ranges are disjoint, so only the one
    /// starting nearest at or below `range.last` can overlap.
    pub fn intersects(&self, range: SerialRange) -> bool {
        self.at_or_below(range.last).is_some_and(|r| r.overlaps(range))
    }

    /// Adds `range`, merging with adjacent neighbours. Refuses serials already present.
    pub fn insert(&mut self, range: SerialRange) -> Result<(), RangeSetError> {
        if self.intersects(range) {
            return Err(RangeSetError::Overlap);
        }
        let mut merged = range;
        let left = range.first.checked_sub(1).and_then(|below| self.at_or_below(below));
        if let Some(left) = left.filter(|l| l.last.checked_add(1) == Some(range.first)) {
            self.ranges.remove(&left.first);
            merged.first = left.first;
        }
        let right = range.last.checked_add(1).and_then(|next| self.ranges.remove(&next));
        if let Some(right_last) = right {
            merged.last = right_last;
        }
        self.ranges.insert(merged.first, merged.last);
        self.quantity_tonnes += range.quantity_tonnes();
        Ok(())
    }

    /// Removes `range`, which must lie wholly inside one of the set's ranges (ranges never touch,
    /// so a range that is entirely present always does).
    pub fn remove(&mut self, range: SerialRange) -> Result<(), RangeSetError> {
        let held = self.at_or_below(range.first).filter(|h| h.contains_range(range));
        let Some(held) = held else {
            return Err(RangeSetError::NotContained);
        };
        self.ranges.remove(&held.first);
        if held.first < range.first {
            self.ranges.insert(held.first, range.first - 1);
        }
        if range.last < held.last {
            self.ranges.insert(range.last + 1, held.last);
        }
        self.quantity_tonnes -= range.quantity_tonnes();
        Ok(())
    }

    /// Removes and returns the lowest `quantity_tonnes` serials.
    pub fn take_lowest(&mut self, quantity_tonnes: u64) -> Result<RangeSet, RangeSetError> {
        if quantity_tonnes > self.quantity_tonnes {
            return Err(RangeSetError::Insufficient);
        }
        let mut taken = RangeSet::new();
        let mut remaining = quantity_tonnes;
        while remaining > 0 {
            let (first, last) = self.ranges.pop_first().expect("quantity checked above");
            let range = SerialRange { first, last };
            if range.quantity_tonnes() <= remaining {
                remaining -= range.quantity_tonnes();
                taken.ranges.insert(first, last);
            } else {
                let split = first + remaining;
                taken.ranges.insert(first, split - 1);
                self.ranges.insert(split, last);
                remaining = 0;
            }
        }
        taken.quantity_tonnes = quantity_tonnes;
        self.quantity_tonnes -= quantity_tonnes;
        Ok(taken)
    }

    /// Removes every serial of `other`, which must be a subset. On error nothing is removed.
    pub fn subtract(&mut self, other: &RangeSet) -> Result<(), RangeSetError> {
        if !other.ranges().all(|r| self.contains(r)) {
            return Err(RangeSetError::NotContained);
        }
        for r in other.ranges() {
            self.remove(r).expect("checked: every range of `other` is contained");
        }
        Ok(())
    }

    /// Adds every serial of `other`, which must be disjoint from the set. On error nothing is added.
    pub fn union_disjoint(&mut self, other: &RangeSet) -> Result<(), RangeSetError> {
        if other.ranges().any(|r| self.intersects(r)) {
            return Err(RangeSetError::Overlap);
        }
        for r in other.ranges() {
            self.insert(r).expect("checked: disjoint");
        }
        Ok(())
    }

    /// The canonical-form invariant: ordered, disjoint, non-adjacent, and the cached total right.
    pub fn is_valid(&self) -> bool {
        let list = self.to_vec();
        let ordered =
            list.windows(2).all(|w| w[0].last.checked_add(1).is_some_and(|n| n < w[1].first));
        let total: Option<u64> =
            list.iter().try_fold(0u64, |acc, r| acc.checked_add(r.quantity_tonnes()));
        ordered && list.iter().all(|r| r.first <= r.last) && total == Some(self.quantity_tonnes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn r(first: u64, last: u64) -> SerialRange {
        SerialRange::new(first, last).unwrap()
    }

    #[test]
    fn insert_merges_neighbours_on_both_sides() {
        let mut s = RangeSet::new();
        s.insert(r(1, 3)).unwrap();
        s.insert(r(7, 9)).unwrap();
        s.insert(r(4, 6)).unwrap();
        assert_eq!(s.to_vec(), vec![r(1, 9)]);
        assert_eq!(s.quantity_tonnes(), 9);
        assert_eq!(s.insert(r(9, 10)), Err(RangeSetError::Overlap));
        assert_eq!(s.to_vec(), vec![r(1, 9)]);
    }

    #[test]
    fn remove_splits_and_refuses_partial_overlap() {
        let mut s = RangeSet::from_range(r(10, 20));
        s.remove(r(13, 15)).unwrap();
        assert_eq!(s.to_vec(), vec![r(10, 12), r(16, 20)]);
        assert_eq!(s.remove(r(12, 16)), Err(RangeSetError::NotContained));
        assert_eq!(s.quantity_tonnes(), 8);
    }

    #[test]
    fn take_lowest_splits_the_last_range_it_touches() {
        let mut s = RangeSet::new();
        s.insert(r(1, 2)).unwrap();
        s.insert(r(5, 9)).unwrap();
        let t = s.take_lowest(4).unwrap();
        assert_eq!(t.to_vec(), vec![r(1, 2), r(5, 6)]);
        assert_eq!(s.to_vec(), vec![r(7, 9)]);
        assert_eq!(s.take_lowest(4), Err(RangeSetError::Insufficient));
        assert!(s.is_valid() && t.is_valid());
    }

    #[test]
    fn range_at_top_of_serial_space_does_not_overflow() {
        let top = SerialRange::with_quantity(SERIAL_MAX, 1).unwrap();
        assert_eq!(top.quantity_tonnes(), 1);
        assert!(SerialRange::with_quantity(u64::MAX, 2).is_none());
        let mut s = RangeSet::from_range(top);
        assert!(s.insert(r(SERIAL_MAX - 2, SERIAL_MAX - 1)).is_ok());
        assert_eq!(s.to_vec(), vec![r(SERIAL_MAX - 2, SERIAL_MAX)]);
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u64, u64),
        Remove(u64, u64),
        Take(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        let range = (0u64..64, 0u64..8).prop_map(|(a, len)| (a, a + len));
        prop_oneof![
            range.clone().prop_map(|(a, b)| Op::Insert(a, b)),
            range.prop_map(|(a, b)| Op::Remove(a, b)),
            (0u64..20).prop_map(Op::Take),
        ]
    }

    fn model_ranges(m: &BTreeSet<u64>) -> Vec<SerialRange> {
        let mut out: Vec<SerialRange> = Vec::new();
        for &x in m {
            match out.last_mut() {
                Some(last) if last.last + 1 == x => last.last = x,
                _ => out.push(r(x, x)),
            }
        }
        out
    }

    proptest! {
        /// The range algebra against a naive set of individual serials.
        #[test]
        fn range_set_matches_naive_model(ops in proptest::collection::vec(op(), 0..60)) {
            let mut s = RangeSet::new();
            let mut m = BTreeSet::new();
            for op in ops {
                match op {
                    Op::Insert(a, b) => {
                        let fresh = (a..=b).all(|x| !m.contains(&x));
                        let got = s.insert(r(a, b));
                        prop_assert_eq!(got.is_ok(), fresh);
                        if fresh { m.extend(a..=b); }
                    }
                    Op::Remove(a, b) => {
                        let present = (a..=b).all(|x| m.contains(&x));
                        let got = s.remove(r(a, b));
                        prop_assert_eq!(got.is_ok(), present);
                        if present { for x in a..=b { m.remove(&x); } }
                    }
                    Op::Take(q) => {
                        let got = s.take_lowest(q);
                        if q as usize <= m.len() {
                            let want: BTreeSet<u64> = m.iter().copied().take(q as usize).collect();
                            for x in &want { m.remove(x); }
                            let taken = got.unwrap();
                            prop_assert_eq!(taken.to_vec(), model_ranges(&want));
                            prop_assert!(taken.is_valid());
                        } else {
                            prop_assert!(got.is_err());
                        }
                    }
                }
                prop_assert!(s.is_valid());
                prop_assert_eq!(s.to_vec(), model_ranges(&m));
                prop_assert_eq!(s.quantity_tonnes(), m.len() as u64);
            }
        }

        /// subtract and union_disjoint are inverse on subsets and leave the set alone on refusal.
        #[test]
        fn subtract_then_union_restores(
            base in proptest::collection::btree_set(0u64..200, 0..80),
            pick in proptest::collection::btree_set(0u64..200, 0..40),
        ) {
            let mut s = RangeSet::new();
            for x in model_ranges(&base) { s.insert(x).unwrap(); }
            let mut other = RangeSet::new();
            for x in model_ranges(&pick) { other.insert(x).unwrap(); }
            let before = s.clone();
            let subset = pick.is_subset(&base);
            prop_assert_eq!(s.subtract(&other).is_ok(), subset);
            if subset {
                let diff: BTreeSet<u64> = base.difference(&pick).copied().collect();
                prop_assert_eq!(s.to_vec(), model_ranges(&diff));
                s.union_disjoint(&other).unwrap();
            }
            prop_assert_eq!(&s, &before);
        }
    }
}
