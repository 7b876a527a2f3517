//! Serial numbers and sets of serial ranges.
//!
//! Every real registry identifies credits by inclusive serial blocks `[first, last]`. A holding is a
//! set of such ranges; transfers, trades and retirements split them and adjacent ranges merge back.
//! [`RangeSet`] keeps its ranges sorted, disjoint and non-adjacent, so two sets holding the same
//! serials are always equal value-for-value — the state digest relies on that canonical form.

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;
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

/// Above this many ranges a set moves from a sorted vector to a B-tree. Up to about a thousand
/// ranges one binary search and one `memmove` cost less than a B-tree search (which descends to
/// both ends of a range query) and its node splits and merges. On the 2M-operation matching
/// bench each buyer holds one holding per seller of 500–630 ranges, and a third of its credits
/// land a little below the top range: in the vector that is a short `memmove`, in the B-tree
/// several descents and an insert (5.9% of the run's instructions when the bound was 256).
/// The worst case, a range added or removed at the front of 1,000 ranges, moves 16 KiB in
/// about 170 ns, no more than a B-tree of 2,000–4,000 ranges takes for the same change, so
/// latency stays flat; beyond the bound a set of tens of thousands of ranges (a buffer pool)
/// stays O(log n). (Measured before the credit log, `holdings.rs`: a buyer's credits now
/// mostly reach its holding in a merge, `merge_disjoint_sorted`, not one insert each.)
pub const SMALL_RANGES_MAX: usize = 1024;

/// The capacity a small set's vector takes when it first outgrows its two inline ranges. A set
/// that needs a third range usually keeps growing (a buyer's holding gains about one range per
/// fill), and doubling from two reallocated it at 4, 8 and 16 ranges: those three copies were
/// about 1% of the matching bench. Sixteen ranges are 256 bytes, paid only by sets that spill.
const SPILLED_RANGES_MIN: usize = 16;

/// The number of `ranges` (sorted, disjoint) that start at or below `serial`, searched from
/// the top end: probes 1, 2, 4, … ranges below the top until one starts at or below `serial`,
/// then a binary search between the last two probes.
///
/// Why not a plain binary search: a buyer's credit that does not land above the top of a
/// fragmented holding lands a little below it (its serials come from the top of a seller's
/// reservations), and a holding of 500–1,000 ranges is 8–16 KiB that no other command touched
/// recently. A binary search's first probes fall in the middle of it, each a cache miss; on the
/// 2M-operation bench they were a fifth of the engine's simulated L2 misses. From the top the
/// probes stay in the lines the top check already loaded. It costs more instructions (+1.5% on
/// that bench; a position d ranges below the top takes about 2·log2(d) probes, at most twice a
/// binary search's), and is faster where it counts: one-trade orders' p90 1.2 → 0.8 µs and
/// p99 2.0 → 1.4 µs.
fn count_starting_at_or_below_from_top(ranges: &[SerialRange], serial: u64) -> usize {
    // Every range at or above `above` starts above `serial`.
    let mut above = ranges.len();
    let mut step = 1;
    while step < above {
        let probe = above - step;
        if ranges[probe].first <= serial {
            let rest = &ranges[probe + 1..above];
            return probe + 1 + rest.partition_point(|r| r.first <= serial);
        }
        above = probe;
        step *= 2;
    }
    ranges[..above].partition_point(|r| r.first <= serial)
}

/// Makes room for one more range in a small set's vector: the first spill goes straight to
/// [`SPILLED_RANGES_MIN`], later growth doubles as before.
#[inline]
fn room_for_one(v: &mut SmallVec<[SerialRange; 2]>) {
    if v.len() == v.capacity() {
        grow(v);
    }
}

#[cold]
#[inline(never)]
fn grow(v: &mut SmallVec<[SerialRange; 2]>) {
    let target = v.len().saturating_mul(2).max(SPILLED_RANGES_MIN);
    v.reserve_exact(target - v.len());
}

/// A set of serial numbers stored as disjoint, non-adjacent inclusive ranges.
///
/// Most sets are one or two ranges (an order's reservation, a fill, a fresh issuance), so small
/// sets live in a sorted vector with room for two ranges inline — no allocation. Real holdings
/// also fragment: a buffer pool or a busy trading account can hold tens of thousands of ranges,
/// so past [`SMALL_RANGES_MAX`] a set becomes a B-tree keyed by first serial, and every
/// operation stays O(log n) in the number of ranges (plus the ranges it returns). The
/// representation never shows: equality, hashing and the encoding see only the ranges.
#[derive(Clone, Debug, Default)]
pub struct RangeSet {
    repr: Repr,
    /// Cached sum of the ranges' quantities; always equal to the recomputed sum (see `is_valid`).
    quantity_tonnes: u64,
}

#[derive(Clone, Debug)]
enum Repr {
    Small(SmallVec<[SerialRange; 2]>),
    /// first serial → last serial.
    Large(BTreeMap<u64, u64>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Small(SmallVec::new())
    }
}

impl PartialEq for RangeSet {
    fn eq(&self, other: &Self) -> bool {
        self.quantity_tonnes == other.quantity_tonnes && self.ranges().eq(other.ranges())
    }
}

impl Eq for RangeSet {}

impl std::hash::Hash for RangeSet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.quantity_tonnes.hash(state);
        for r in self.ranges() {
            r.hash(state);
        }
    }
}

/// How a set is encoded: its ranges in order, whatever the in-memory representation.
#[derive(Serialize, Deserialize)]
struct RangeSetWire {
    ranges: Vec<SerialRange>,
    quantity_tonnes: u64,
}

impl Serialize for RangeSet {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RangeSetWire { ranges: self.to_vec(), quantity_tonnes: self.quantity_tonnes }
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for RangeSet {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = RangeSetWire::deserialize(deserializer)?;
        let mut set = RangeSet::new();
        for r in wire.ranges {
            set.insert(r)
                .map_err(|_| serde::de::Error::custom("overlapping ranges in a range set"))?;
        }
        if set.quantity_tonnes != wire.quantity_tonnes {
            return Err(serde::de::Error::custom("range set quantity disagrees with its ranges"));
        }
        Ok(set)
    }
}

/// The ranges of a set (or of a [`SetRef`]) in ascending order.
#[derive(Debug)]
pub enum Ranges<'a> {
    Small(std::slice::Iter<'a, SerialRange>),
    Large(std::collections::btree_map::Iter<'a, u64, u64>),
    One(std::option::IntoIter<SerialRange>),
}

impl Iterator for Ranges<'_> {
    type Item = SerialRange;
    fn next(&mut self) -> Option<SerialRange> {
        match self {
            Ranges::Small(it) => it.next().copied(),
            Ranges::Large(it) => it.next().map(|(&first, &last)| SerialRange { first, last }),
            Ranges::One(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Ranges::Small(it) => it.size_hint(),
            Ranges::Large(it) => it.size_hint(),
            Ranges::One(it) => it.size_hint(),
        }
    }
}

impl DoubleEndedIterator for Ranges<'_> {
    fn next_back(&mut self) -> Option<SerialRange> {
        match self {
            Ranges::Small(it) => it.next_back().copied(),
            Ranges::Large(it) => it.next_back().map(|(&first, &last)| SerialRange { first, last }),
            Ranges::One(it) => it.next_back(),
        }
    }
}

impl ExactSizeIterator for Ranges<'_> {}

/// A range set by reference, or a single range standing for a set of one: what an order's or
/// a fill's serials lend out (`exchange::Serials` keeps a lone range without a `RangeSet`).
#[derive(Clone, Copy, Debug)]
pub enum SetRef<'a> {
    One(SerialRange),
    Set(&'a RangeSet),
}

impl<'a> SetRef<'a> {
    /// The ranges in ascending order.
    pub fn ranges(self) -> Ranges<'a> {
        match self {
            SetRef::One(r) => Ranges::One(Some(r).into_iter()),
            SetRef::Set(set) => set.ranges(),
        }
    }

    pub fn quantity_tonnes(self) -> u64 {
        match self {
            SetRef::One(r) => r.quantity_tonnes(),
            SetRef::Set(set) => set.quantity_tonnes(),
        }
    }

    pub fn is_empty(self) -> bool {
        self.quantity_tonnes() == 0
    }

    pub fn to_vec(self) -> Vec<SerialRange> {
        self.ranges().collect()
    }

    pub fn to_set(self) -> RangeSet {
        match self {
            SetRef::One(r) => RangeSet::from_range(r),
            SetRef::Set(set) => set.clone(),
        }
    }
}

impl RangeSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_range(range: SerialRange) -> Self {
        let mut v = SmallVec::new();
        v.push(range);
        Self { repr: Repr::Small(v), quantity_tonnes: range.quantity_tonnes() }
    }

    /// The ranges in ascending order.
    pub fn ranges(&self) -> Ranges<'_> {
        match &self.repr {
            Repr::Small(v) => Ranges::Small(v.iter()),
            Repr::Large(m) => Ranges::Large(m.iter()),
        }
    }

    pub fn to_vec(&self) -> Vec<SerialRange> {
        self.ranges().collect()
    }

    pub fn range_count(&self) -> usize {
        match &self.repr {
            Repr::Small(v) => v.len(),
            Repr::Large(m) => m.len(),
        }
    }

    pub fn quantity_tonnes(&self) -> u64 {
        self.quantity_tonnes
    }

    pub fn is_empty(&self) -> bool {
        self.quantity_tonnes == 0
    }

    /// The range that starts at or below `serial` and is nearest to it.
    fn at_or_below(&self, serial: u64) -> Option<SerialRange> {
        match &self.repr {
            Repr::Small(v) => {
                let i = v.partition_point(|r| r.first <= serial);
                i.checked_sub(1).map(|k| v[k])
            }
            Repr::Large(m) => {
                m.range(..=serial).next_back().map(|(&first, &last)| SerialRange { first, last })
            }
        }
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

    /// Removes the range starting at `first` (which must exist).
    fn take_out(&mut self, first: u64) {
        match &mut self.repr {
            Repr::Small(v) => {
                let i = v.partition_point(|r| r.first < first);
                debug_assert_eq!(v[i].first, first);
                v.remove(i);
            }
            Repr::Large(m) => {
                m.remove(&first);
            }
        }
    }

    /// Puts in a range known not to touch any other.
    fn put(&mut self, range: SerialRange) {
        match &mut self.repr {
            Repr::Small(v) => {
                let i = v.partition_point(|r| r.first < range.first);
                room_for_one(v);
                v.insert(i, range);
                self.promote_if_large();
            }
            Repr::Large(m) => {
                m.insert(range.first, range.last);
            }
        }
    }

    /// Moves a small set that has outgrown the sorted vector into a B-tree. Called after every
    /// range added to a small set, so the check is inlined and only the rare move is a call
    /// (out of line, the whole function's entry and exit cost about 1% of the matching bench).
    #[inline]
    fn promote_if_large(&mut self) {
        if let Repr::Small(v) = &self.repr
            && v.len() > SMALL_RANGES_MAX
        {
            self.promote();
        }
    }

    #[cold]
    #[inline(never)]
    fn promote(&mut self) {
        if let Repr::Small(v) = &self.repr {
            let m = v.iter().map(|r| (r.first, r.last)).collect();
            self.repr = Repr::Large(m);
        }
    }

    /// Adds `range`, merging with adjacent neighbours. Refuses serials already present.
    pub fn insert(&mut self, range: SerialRange) -> Result<(), RangeSetError> {
        if let Repr::Large(m) = &mut self.repr {
            // Serials above every range: on the 2M-operation bench two buyer credits in three
            // land there (a holding of one issuance grows from the top of the seller's
            // reservations). The rightmost entry is found without comparing keys, and either
            // grows in place or gets a new entry after it, instead of the searches below.
            if let Some(mut top) = m.last_entry()
                && *top.get() < range.first
            {
                // `top.last < range.first`, so `top.last + 1` cannot overflow.
                if *top.get() + 1 == range.first {
                    *top.get_mut() = range.last;
                } else {
                    m.insert(range.first, range.last);
                }
                self.quantity_tonnes += range.quantity_tonnes();
                return Ok(());
            }
            // A large set is typically a buyer's fragmented holding, credited on every fill:
            // one search finds both neighbours (the last range starting at or below
            // `last + 1`, and the one before it), and a range that extends its lower neighbour
            // grows it in place, where the general path below would search the tree four or
            // five times.
            let mut it = m.range(..=range.last.saturating_add(1));
            let mut below = it.next_back().map(|(&f, &l)| (f, l));
            let mut above = None;
            if below.is_some_and(|(f, _)| f >= range.first) {
                above = below;
                below = it.next_back().map(|(&f, &l)| (f, l));
            }
            let overlaps = below.is_some_and(|(_, l)| l >= range.first)
                || above.is_some_and(|(f, _)| f <= range.last);
            if overlaps {
                return Err(RangeSetError::Overlap);
            }
            let joins_above = above.filter(|(f, _)| range.last.checked_add(1) == Some(*f));
            let joins_below = below.filter(|(_, l)| l.checked_add(1) == Some(range.first));
            let last = joins_above.map_or(range.last, |(_, l)| l);
            if let Some((f, _)) = joins_above {
                m.remove(&f);
            }
            match joins_below {
                Some((f, _)) => *m.get_mut(&f).expect("found just above") = last,
                None => {
                    m.insert(range.first, last);
                }
            }
            self.quantity_tonnes += range.quantity_tonnes();
            return Ok(());
        }
        let Repr::Small(v) = &mut self.repr else { unreachable!("the large case returned") };
        // Serials above every range (a buyer credited from the top of a seller's reservations,
        // a sell reserving from the untouched block) need no search: they extend the top range
        // or go after it. `top.last < range.first`, so `top.last + 1` cannot overflow.
        match v.last_mut() {
            Some(top) if top.last < range.first => {
                if top.last + 1 == range.first {
                    top.last = range.last;
                } else {
                    room_for_one(v);
                    v.push(range);
                    self.promote_if_large();
                }
                self.quantity_tonnes += range.quantity_tonnes();
                return Ok(());
            }
            None => {
                v.push(range);
                self.quantity_tonnes += range.quantity_tonnes();
                return Ok(());
            }
            Some(_) => {}
        }
        // One binary search finds both neighbours: the last range starting at or below
        // `range.first`, and the one after it. A range that touches a neighbour grows it in
        // place, so the vector shifts only when a range is added or two ranges merge.
        // The search and the in-place cases work on the slice: indexing the `SmallVec` itself
        // checks on every access whether it has spilled.
        let ranges = v.as_mut_slice();
        let i = count_starting_at_or_below_from_top(ranges, range.first);
        let below = i.checked_sub(1).map(|k| ranges[k]);
        let above = ranges.get(i).copied();
        if below.is_some_and(|b| b.last >= range.first)
            || above.is_some_and(|a| a.first <= range.last)
        {
            return Err(RangeSetError::Overlap);
        }
        let joins_below = below.is_some_and(|b| b.last.checked_add(1) == Some(range.first));
        let joins_above = above.is_some_and(|a| range.last.checked_add(1) == Some(a.first));
        match (joins_below, joins_above) {
            (true, true) => {
                ranges[i - 1].last = ranges[i].last;
                v.remove(i);
            }
            (true, false) => ranges[i - 1].last = range.last,
            (false, true) => ranges[i].first = range.first,
            (false, false) => {
                room_for_one(v);
                v.insert(i, range);
                self.promote_if_large();
            }
        }
        self.quantity_tonnes += range.quantity_tonnes();
        Ok(())
    }

    /// Removes `range`, which must lie wholly inside one of the set's ranges (ranges never touch,
    /// so a range that is entirely present always does).
    pub fn remove(&mut self, range: SerialRange) -> Result<(), RangeSetError> {
        if let Repr::Large(m) = &mut self.repr {
            // The range is cut in place after one look-up instead of taken out and put back.
            let Some((&first, last)) = m.range_mut(..=range.first).next_back() else {
                return Err(RangeSetError::NotContained);
            };
            let held_last = *last;
            if held_last < range.last {
                return Err(RangeSetError::NotContained);
            }
            if first < range.first {
                *last = range.first - 1;
            } else {
                m.remove(&first);
            }
            if range.last < held_last {
                m.insert(range.last + 1, held_last);
            }
            self.quantity_tonnes -= range.quantity_tonnes();
            return Ok(());
        }
        let Repr::Small(v) = &mut self.repr else { unreachable!("the large case returned") };
        // As in `insert`: one search, and the held range is cut in place.
        let ranges = v.as_mut_slice();
        let k = match ranges.partition_point(|r| r.first <= range.first).checked_sub(1) {
            Some(k) if ranges[k].contains_range(range) => k,
            _ => return Err(RangeSetError::NotContained),
        };
        let held = ranges[k];
        match (held.first < range.first, range.last < held.last) {
            (false, false) => {
                v.remove(k);
            }
            (false, true) => ranges[k].first = range.last + 1,
            (true, false) => ranges[k].last = range.first - 1,
            (true, true) => {
                ranges[k].last = range.first - 1;
                room_for_one(v);
                v.insert(k + 1, SerialRange { first: range.last + 1, last: held.last });
                self.promote_if_large();
            }
        }
        self.quantity_tonnes -= range.quantity_tonnes();
        Ok(())
    }

    /// Removes and returns the lowest `quantity_tonnes` serials when the lowest range holds them
    /// all; otherwise changes nothing and returns `None`. Nearly every take (a fill taking from
    /// an order's reservation, a sell reserving from a holding) is served so: the range is cut
    /// in place, with one tree search on a large set instead of the three of `take_lowest`'s
    /// general loop.
    pub fn take_lowest_range(&mut self, quantity_tonnes: u64) -> Option<SerialRange> {
        if quantity_tonnes == 0 {
            return None;
        }
        let (first, last) = match &mut self.repr {
            Repr::Small(v) => {
                let lowest = *v.first()?;
                if lowest.quantity_tonnes() < quantity_tonnes {
                    return None;
                }
                let split = lowest.first + quantity_tonnes;
                if split > lowest.last {
                    v.remove(0);
                } else {
                    v[0].first = split;
                }
                (lowest.first, split - 1)
            }
            Repr::Large(m) => {
                let entry = m.first_entry()?;
                let (first, last) = (*entry.key(), *entry.get());
                if last - first + 1 < quantity_tonnes {
                    return None;
                }
                let split = first + quantity_tonnes;
                entry.remove();
                if split <= last {
                    m.insert(split, last);
                }
                (first, split - 1)
            }
        };
        self.quantity_tonnes -= quantity_tonnes;
        Some(SerialRange { first, last })
    }

    /// Removes and returns the lowest `quantity_tonnes` serials.
    pub fn take_lowest(&mut self, quantity_tonnes: u64) -> Result<RangeSet, RangeSetError> {
        if quantity_tonnes > self.quantity_tonnes {
            return Err(RangeSetError::Insufficient);
        }
        if quantity_tonnes == 0 {
            return Ok(RangeSet::new());
        }
        if let Some(lowest) = self.take_lowest_range(quantity_tonnes) {
            return Ok(RangeSet::from_range(lowest));
        }
        match &mut self.repr {
            Repr::Large(_) => {}
            Repr::Small(v) => {
                // Several whole ranges and part of the next (a sell reserving from the holes
                // that cancelled orders left): they leave the front of the vector in one move,
                // where taking them out one by one shifted the vector once per range.
                let mut whole = 0;
                let mut remaining = quantity_tonnes;
                while remaining > 0 && v[whole].quantity_tonnes() <= remaining {
                    remaining -= v[whole].quantity_tonnes();
                    whole += 1;
                }
                // The set holds at least `quantity_tonnes`, so a remainder lies in `v[whole]`.
                let mut taken = SmallVec::with_capacity(whole + usize::from(remaining > 0));
                taken.extend(v.drain(..whole));
                if remaining > 0 {
                    let split = v[0].first + remaining;
                    taken.push(SerialRange { first: v[0].first, last: split - 1 });
                    v[0].first = split;
                }
                self.quantity_tonnes -= quantity_tonnes;
                let mut taken = RangeSet { repr: Repr::Small(taken), quantity_tonnes };
                taken.promote_if_large();
                return Ok(taken);
            }
        }
        let mut taken = RangeSet::new();
        let mut remaining = quantity_tonnes;
        while remaining > 0 {
            let lowest = self.ranges().next().expect("quantity checked above");
            self.take_out(lowest.first);
            if lowest.quantity_tonnes() <= remaining {
                remaining -= lowest.quantity_tonnes();
                taken.put(lowest);
            } else {
                let split = lowest.first + remaining;
                taken.put(SerialRange { first: lowest.first, last: split - 1 });
                self.put(SerialRange { first: split, last: lowest.last });
                remaining = 0;
            }
        }
        taken.quantity_tonnes = quantity_tonnes;
        self.quantity_tonnes -= quantity_tonnes;
        Ok(taken)
    }

    /// Removes every serial of `other`, which must be a subset. On error nothing is removed.
    ///
    /// Inlined, so the one-range case (every fill, nearly every reservation and release) goes
    /// straight to `remove` from the caller: as a call of its own, this wrapper and
    /// `union_disjoint` cost 1.4% of the instructions of the 2M-operation matching bench.
    #[inline]
    pub fn subtract(&mut self, other: &RangeSet) -> Result<(), RangeSetError> {
        // One range needs no separate check, since `remove` refuses without changing anything.
        if let Repr::Small(v) = &other.repr
            && let [only] = v.as_slice()
        {
            return self.remove(*only);
        }
        self.subtract_each(other)
    }

    /// `subtract` of several ranges. Removing range by range and putting back what was removed
    /// on a refusal costs one search per range; checking every range first and then removing
    /// cost two.
    #[inline(never)]
    fn subtract_each(&mut self, other: &RangeSet) -> Result<(), RangeSetError> {
        for (done, r) in other.ranges().enumerate() {
            if let Err(e) = self.remove(r) {
                for back in other.ranges().take(done) {
                    self.insert(back).expect("removed just above");
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Adds every serial of `other`, which must be disjoint from the set. On error nothing is
    /// added. Inlined for the one-range case, as `subtract` is.
    #[inline]
    pub fn union_disjoint(&mut self, other: &RangeSet) -> Result<(), RangeSetError> {
        // As in `subtract`: `insert` refuses an overlap without changing anything.
        if let Repr::Small(v) = &other.repr
            && let [only] = v.as_slice()
        {
            return self.insert(*only);
        }
        self.union_each(other)
    }

    /// `union_disjoint` of a borrowed set or a single range.
    #[inline]
    pub fn union_disjoint_ref(&mut self, other: SetRef<'_>) -> Result<(), RangeSetError> {
        match other {
            SetRef::One(r) => self.insert(r),
            SetRef::Set(set) => self.union_disjoint(set),
        }
    }

    /// `union_disjoint` of several ranges: as in `subtract_each`, insert range by range, and
    /// take back what went in on a refusal.
    #[inline(never)]
    fn union_each(&mut self, other: &RangeSet) -> Result<(), RangeSetError> {
        for (done, r) in other.ranges().enumerate() {
            if let Err(e) = self.insert(r) {
                for back in other.ranges().take(done) {
                    self.remove(back).expect("inserted just above");
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Adds `ranges` (ascending, disjoint from each other and from the set) in one pass: the
    /// merge of a holding's logged credits (`holdings.rs`). A small set grows once and is merged
    /// backwards in place, so only the ranges above the lowest new one move, once; inserting
    /// range by range moved them once per range. An overlap means a serial was in two places:
    /// it panics (the audit's invariant), possibly half-merged, as any broken invariant does.
    pub(crate) fn merge_disjoint_sorted(&mut self, ranges: &[SerialRange]) {
        const OVERLAP: &str = "audit: a serial is in exactly one place";
        let added = ranges.iter().try_fold(0u64, |sum, r| sum.checked_add(r.quantity_tonnes()));
        let Repr::Small(v) = &mut self.repr else {
            for r in ranges {
                self.insert(*r).expect(OVERLAP);
            }
            return;
        };
        let (old, new) = (v.len(), ranges.len());
        let end = old + new;
        // Grown by copying the new ranges in (each slot is overwritten below): `resize` pushed
        // its filler one element at a time.
        v.extend_from_slice(ranges);
        let s = v.as_mut_slice();
        // Old ranges still to place are `s[..i]`, new ones `ranges[..j]`; the merged ranges
        // placed so far are `s[w..end]`, and `w - i >= j` throughout, so writing at `w - 1`
        // never overwrites an old range not yet placed.
        let (mut i, mut j, mut w) = (old, new, end);
        while j > 0 || (i > 0 && w < end && s[i - 1].last.checked_add(1) == Some(s[w].first)) {
            let take_new = j > 0 && (i == 0 || ranges[j - 1].first > s[i - 1].first);
            let r = if take_new {
                j -= 1;
                ranges[j]
            } else {
                i -= 1;
                s[i]
            };
            if w < end {
                assert!(r.last < s[w].first, "{OVERLAP}");
                if r.last + 1 == s[w].first {
                    s[w].first = r.first;
                    continue;
                }
            }
            w -= 1;
            s[w] = r;
        }
        if i > 0 && w < end {
            assert!(s[i - 1].last < s[w].first, "{OVERLAP}");
        }
        // Close the gap the joined ranges left between the old ranges below and the merged.
        if w > i {
            s.copy_within(w..end, i);
            v.truncate(i + (end - w));
        }
        self.quantity_tonnes = added
            .and_then(|a| self.quantity_tonnes.checked_add(a))
            .expect("a set's serials are fewer than 2^64");
        self.promote_if_large();
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
    fn a_set_past_the_small_limit_moves_into_the_tree_and_keeps_working() {
        let mut s = RangeSet::new();
        let n = SMALL_RANGES_MAX as u64 + 8;
        for k in (0..n).rev() {
            s.insert(r(10 * k, 10 * k + 4)).unwrap();
        }
        assert!(matches!(s.repr, Repr::Large(_)));
        assert_eq!(s.range_count() as u64, n);
        // Joins on both sides, cuts in the middle and at the ends, then the fast take.
        s.insert(r(5, 9)).unwrap();
        s.remove(r(2, 3)).unwrap();
        s.remove(r(20, 21)).unwrap();
        assert_eq!(s.ranges().take(3).collect::<Vec<_>>(), vec![r(0, 1), r(4, 14), r(22, 24)]);
        let t = s.take_lowest(3).unwrap();
        assert_eq!(t.to_vec(), vec![r(0, 1), r(4, 4)]);
        let t = s.take_lowest(2).unwrap();
        assert_eq!(t.to_vec(), vec![r(5, 6)]);
        assert!(s.is_valid());
        assert_eq!(s.quantity_tonnes(), 5 * n + 5 - 4 - 5);
    }

    #[test]
    fn serials_above_the_top_extend_or_follow_it_in_both_representations() {
        for n in [3u64, SMALL_RANGES_MAX as u64 + 8] {
            let mut s = RangeSet::new();
            for k in 0..n {
                s.insert(r(10 * k, 10 * k + 4)).unwrap();
            }
            assert_eq!(matches!(s.repr, Repr::Large(_)), n > SMALL_RANGES_MAX as u64);
            let top = 10 * (n - 1) + 4;
            // Overlapping the top range is refused and changes nothing.
            assert_eq!(s.insert(r(top, top + 3)), Err(RangeSetError::Overlap));
            assert_eq!(s.range_count() as u64, n);
            // Adjacent to the top: it grows; past a gap: a new range after it.
            s.insert(r(top + 1, top + 2)).unwrap();
            assert_eq!(s.range_count() as u64, n);
            s.insert(r(top + 4, top + 4)).unwrap();
            assert_eq!(s.range_count() as u64, n + 1);
            assert_eq!(
                s.ranges().rev().take(2).collect::<Vec<_>>(),
                vec![r(top + 4, top + 4), r(top - 4, top + 2)]
            );
            assert!(s.is_valid());
            assert_eq!(s.quantity_tonnes(), 5 * n + 3);
        }
    }

    /// A merged range that overlaps the set is a serial in two places: the merge stops.
    #[test]
    #[should_panic(expected = "audit: a serial is in exactly one place")]
    fn merging_an_overlapping_range_panics() {
        let mut s = RangeSet::from_range(r(10, 20));
        s.merge_disjoint_sorted(&[r(1, 2), r(20, 22)]);
    }

    /// The same when the overlap is found only after every new range is placed: between the
    /// lowest of them and the old ranges below it.
    #[test]
    #[should_panic(expected = "audit: a serial is in exactly one place")]
    fn merging_a_range_that_overlaps_the_set_from_above_panics() {
        let mut s = RangeSet::from_range(r(10, 20));
        s.merge_disjoint_sorted(&[r(15, 30)]);
    }

    /// And in a set large enough for the B-tree.
    #[test]
    #[should_panic(expected = "audit: a serial is in exactly one place")]
    fn merging_an_overlapping_range_into_a_large_set_panics() {
        let mut s = RangeSet::new();
        for k in 0..SMALL_RANGES_MAX as u64 + 10 {
            s.insert(r(3 * k, 3 * k)).expect("disjoint");
        }
        s.merge_disjoint_sorted(&[r(1, 1), r(30, 31)]);
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
        /// The search from the top finds what a binary search over the whole slice finds, for
        /// every serial below, inside, between and above the ranges.
        #[test]
        fn the_search_from_the_top_agrees_with_a_binary_search(
            gaps in proptest::collection::vec((1u64..5, 0u64..4), 0..70),
            serial in 0u64..400,
        ) {
            let mut ranges = Vec::new();
            let mut next = 0u64;
            for (gap, extra) in gaps {
                let first = next + gap;
                ranges.push(r(first, first + extra));
                next = first + extra + 1;
            }
            let expected = ranges.partition_point(|x| x.first <= serial);
            prop_assert_eq!(count_starting_at_or_below_from_top(&ranges, serial), expected);
        }

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

        /// The same model check on sets large enough to live in the B-tree representation
        /// (more than `SMALL_RANGES_MAX` ranges for most inputs), and to move into it midway.
        #[test]
        fn large_range_sets_match_naive_model(ops in proptest::collection::vec(
            (0u64..30_000, 0u64..3, any::<bool>()), 0..6_000)) {
            let mut s = RangeSet::new();
            let mut m = BTreeSet::new();
            for (a, len, add) in ops {
                let (lo, hi) = (a * 2, a * 2 + len);
                if add {
                    let fresh = (lo..=hi).all(|x| !m.contains(&x));
                    prop_assert_eq!(s.insert(r(lo, hi)).is_ok(), fresh);
                    if fresh { m.extend(lo..=hi); }
                } else {
                    let present = (lo..=hi).all(|x| m.contains(&x));
                    prop_assert_eq!(s.remove(r(lo, hi)).is_ok(), present);
                    if present { for x in lo..=hi { m.remove(&x); } }
                }
            }
            prop_assert!(s.is_valid());
            prop_assert_eq!(s.to_vec(), model_ranges(&m));
            let half = s.quantity_tonnes() / 2;
            let taken = s.take_lowest(half).unwrap();
            let want: BTreeSet<u64> = m.iter().copied().take(half as usize).collect();
            prop_assert_eq!(taken.to_vec(), model_ranges(&want));
            // Equality and the encoding ignore the representation.
            let rebuilt: RangeSet = postcard::from_bytes(&postcard::to_stdvec(&s).unwrap()).unwrap();
            prop_assert_eq!(&rebuilt, &s);
        }

        /// union_disjoint and subtract of any set against a naive model, on sets small and
        /// large enough for the B-tree: each succeeds exactly when the model says so, and a
        /// refusal (which may come after some ranges went in or out) leaves the set as it was.
        #[test]
        fn union_and_subtract_match_naive_model_and_roll_back(
            base in proptest::collection::btree_set(0u64..6_000, 0..3_000),
            pick in proptest::collection::btree_set(0u64..6_000, 0..60),
        ) {
            let build = |m: &BTreeSet<u64>| {
                let mut s = RangeSet::new();
                for x in model_ranges(m) { s.insert(x).unwrap(); }
                s
            };
            let other = build(&pick);
            let mut s = build(&base);
            let before = s.clone();
            let disjoint = base.is_disjoint(&pick);
            prop_assert_eq!(s.union_disjoint(&other).is_ok(), disjoint);
            if disjoint {
                let union: BTreeSet<u64> = base.union(&pick).copied().collect();
                prop_assert_eq!(s.to_vec(), model_ranges(&union));
                s = before.clone();
            }
            prop_assert!(s.is_valid());
            prop_assert_eq!(&s, &before);
            let subset = pick.is_subset(&base);
            prop_assert_eq!(s.subtract(&other).is_ok(), subset);
            if !subset {
                prop_assert!(s.is_valid());
                prop_assert_eq!(&s, &before);
            }
        }

        /// The one-pass merge of sorted, disjoint ranges adds exactly what inserting them one
        /// by one adds, on sets small and large enough for the B-tree, whether the new ranges
        /// join each other, the set's ranges above and below them, or nothing.
        #[test]
        fn merging_sorted_disjoint_ranges_matches_naive_model(
            base in proptest::collection::btree_set(0u64..6_000, 0..3_000),
            pick in proptest::collection::btree_set(0u64..6_000, 0..60),
            serial_by_serial in any::<bool>(),
        ) {
            let mut s = RangeSet::new();
            for x in model_ranges(&base) { s.insert(x).unwrap(); }
            let pick: BTreeSet<u64> = pick.difference(&base).copied().collect();
            let ranges = match serial_by_serial {
                true => pick.iter().map(|&x| r(x, x)).collect(),
                false => model_ranges(&pick),
            };
            s.merge_disjoint_sorted(&ranges);
            let union: BTreeSet<u64> = base.union(&pick).copied().collect();
            prop_assert!(s.is_valid());
            prop_assert_eq!(s.to_vec(), model_ranges(&union));
            prop_assert_eq!(s.quantity_tonnes(), union.len() as u64);
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
