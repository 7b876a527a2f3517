//! `Serials`: the exact serials a sell order, an auction lot or a fill holds, issuance by
//! issuance in delivery order.

use crate::ids::IssuanceId;
use crate::serial::{RangeSet, SerialRange, SetRef};
use serde::{Deserialize, Serialize};

/// Serials held for delivery: for each issuance, a set of ranges, in the order deliveries take
/// them (the first entry's lowest serials first).
///
/// Most hold one range of one issuance: on the 2M-operation bench, 77% of sell reservations and
/// 87% of fills. That case is kept inline, so a sell reserves, a fill delivers and the fill's
/// event is dropped without an allocation or a free; a list was one allocation per sell and
/// one per partial fill. The representation never shows: equality, iteration and the encoding
/// (a sequence of `(IssuanceId, RangeSet)`, as the `Vec` before it) see only the entries.
#[derive(Clone, Default)]
pub struct Serials(Repr);

#[derive(Clone, Default)]
enum Repr {
    /// A variant of its own, not an empty `Many`: every buy order holds no serials, and
    /// dropping or overwriting an empty `Vec` still called the drop of its (empty) slice.
    #[default]
    Empty,
    One(IssuanceId, SerialRange),
    /// Any other shape. Entries hold no empty sets.
    Many(Vec<(IssuanceId, RangeSet)>),
}

impl Serials {
    pub const fn new() -> Self {
        Serials(Repr::Empty)
    }

    /// One range of one issuance.
    pub fn one(issuance: IssuanceId, range: SerialRange) -> Self {
        Serials(Repr::One(issuance, range))
    }

    /// Takes a list in delivery order; an entry with an empty set is kept as it is, for the
    /// audit to report.
    pub fn from_vec(entries: Vec<(IssuanceId, RangeSet)>) -> Self {
        if entries.is_empty() {
            return Self::new();
        }
        if let [(issuance, set)] = entries.as_slice()
            && set.range_count() == 1
        {
            let range = set.ranges().next().expect("one range");
            return Self::one(*issuance, range);
        }
        Serials(Repr::Many(entries))
    }

    pub fn into_vec(self) -> Vec<(IssuanceId, RangeSet)> {
        match self.0 {
            Repr::Empty => Vec::new(),
            Repr::One(issuance, range) => vec![(issuance, RangeSet::from_range(range))],
            Repr::Many(entries) => entries,
        }
    }

    /// The number of issuances.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Empty => 0,
            Repr::One(..) => 1,
            Repr::Many(entries) => entries.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn quantity_tonnes(&self) -> u64 {
        self.iter().map(|(_, set)| set.quantity_tonnes()).sum()
    }

    /// Whether dropping the list frees anything.
    pub fn owns_heap(&self) -> bool {
        matches!(&self.0, Repr::Many(entries) if entries.capacity() > 0)
    }

    /// The entries in delivery order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Empty => Iter::One(None),
            Repr::One(issuance, range) => Iter::One(Some((*issuance, *range))),
            Repr::Many(entries) => Iter::Many(entries.iter()),
        }
    }

    /// Appends one range of an issuance after the entries held: the common reservation, with
    /// no `RangeSet` built and dropped on the way.
    pub(crate) fn push_range(&mut self, issuance: IssuanceId, range: SerialRange) {
        match &self.0 {
            Repr::Empty => self.0 = Repr::One(issuance, range),
            _ => self.push(issuance, RangeSet::from_range(range)),
        }
    }

    /// Appends an issuance's non-empty set after the entries held.
    pub(crate) fn push(&mut self, issuance: IssuanceId, set: RangeSet) {
        assert!(!set.is_empty(), "serials hold no empty sets");
        match &mut self.0 {
            Repr::Empty if set.range_count() == 1 => {
                let range = set.ranges().next().expect("one range");
                self.0 = Repr::One(issuance, range);
            }
            Repr::Empty => self.0 = Repr::Many(vec![(issuance, set)]),
            Repr::Many(entries) => entries.push((issuance, set)),
            Repr::One(first, range) => {
                let first = (*first, RangeSet::from_range(*range));
                self.0 = Repr::Many(vec![first, (issuance, set)]);
            }
        }
    }

    /// Takes the first `quantity` tonnes in delivery order; they must be held.
    pub(crate) fn take_front(&mut self, quantity: u64) -> Serials {
        match &mut self.0 {
            Repr::Empty => {
                assert_eq!(quantity, 0, "serials held for the tonnes taken");
                Serials::new()
            }
            Repr::One(issuance, range) => {
                let held = range.quantity_tonnes();
                assert!(quantity <= held, "serials held for the tonnes taken");
                if quantity == held {
                    return std::mem::take(self);
                }
                if quantity == 0 {
                    return Serials::new();
                }
                let front = SerialRange::with_quantity(range.first(), quantity).expect("inside");
                *range = SerialRange::new(front.last() + 1, range.last()).expect("rest not empty");
                Serials::one(*issuance, front)
            }
            Repr::Many(entries) => {
                let taken = take_front_of(entries, quantity);
                // What is left goes back to the inline shapes when it fits them.
                let left = std::mem::take(entries);
                *self = Serials::from_vec(left);
                taken
            }
        }
    }

    /// Keeps the first `keep` tonnes and returns the rest.
    pub(crate) fn split_off_above(&mut self, keep: u64) -> Serials {
        let mut kept = self.take_front(keep);
        std::mem::swap(self, &mut kept);
        kept
    }
}

/// `take_front` of a list: a take of everything moves the list; otherwise range by range.
fn take_front_of(entries: &mut Vec<(IssuanceId, RangeSet)>, quantity: u64) -> Serials {
    if entries.iter().map(|(_, set)| set.quantity_tonnes()).sum::<u64>() == quantity {
        debug_assert!(entries.iter().all(|(_, set)| !set.is_empty()));
        return Serials::from_vec(std::mem::take(entries));
    }
    let mut need = quantity;
    let mut out = Serials::new();
    while need > 0 {
        let (issuance, set) = entries.first_mut().expect("serials held for the tonnes taken");
        let take = set.quantity_tonnes().min(need);
        match set.take_lowest_range(take) {
            Some(range) => out.push_range(*issuance, range),
            None => out.push(*issuance, set.take_lowest(take).expect("bounded by the set's size")),
        }
        need -= take;
        if set.is_empty() {
            entries.remove(0);
        }
    }
    out
}

/// The entries of a [`Serials`] in delivery order.
#[derive(Debug)]
pub enum Iter<'a> {
    One(Option<(IssuanceId, SerialRange)>),
    Many(std::slice::Iter<'a, (IssuanceId, RangeSet)>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (IssuanceId, SetRef<'a>);
    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::One(one) => one.take().map(|(issuance, range)| (issuance, SetRef::One(range))),
            Iter::Many(it) => it.next().map(|(issuance, set)| (*issuance, SetRef::Set(set))),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Iter::One(one) => (usize::from(one.is_some()), Some(usize::from(one.is_some()))),
            Iter::Many(it) => it.size_hint(),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Serials {
    type Item = (IssuanceId, SetRef<'a>);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Serials {
    type Item = (IssuanceId, RangeSet);
    type IntoIter = std::vec::IntoIter<(IssuanceId, RangeSet)>;
    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl PartialEq for Serials {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.iter().zip(other.iter()).all(|((i, a), (j, b))| {
                i == j && a.quantity_tonnes() == b.quantity_tonnes() && a.ranges().eq(b.ranges())
            })
    }
}

impl Eq for Serials {}

impl std::fmt::Debug for Serials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let entries =
            self.iter().map(|(issuance, set)| (issuance, set.ranges().collect::<Vec<_>>()));
        f.debug_list().entries(entries).finish()
    }
}

impl Serialize for Serials {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Repr::Empty => <[(IssuanceId, RangeSet)]>::serialize(&[], serializer),
            Repr::One(issuance, range) => {
                [(*issuance, RangeSet::from_range(*range))].as_slice().serialize(serializer)
            }
            Repr::Many(entries) => entries.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for Serials {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<(IssuanceId, RangeSet)>::deserialize(deserializer).map(Serials::from_vec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn range(first: u64, last: u64) -> SerialRange {
        SerialRange::new(first, last).unwrap()
    }

    /// A list of issuances (ascending ids) each with a few disjoint ranges, built as the
    /// engine builds a reservation: entry by entry through `push`.
    fn serials_of(shape: &[Vec<(u64, u64)>]) -> (Serials, Vec<(IssuanceId, RangeSet)>) {
        let mut serials = Serials::new();
        let mut model = Vec::new();
        for (k, ranges) in shape.iter().enumerate() {
            let mut set = RangeSet::new();
            let mut at = 1;
            for &(gap, len) in ranges {
                set.insert(SerialRange::with_quantity(at + gap, len).unwrap()).unwrap();
                at += gap + len + 1;
            }
            let issuance = IssuanceId(k as u64 + 1);
            serials.push(issuance, set.clone());
            model.push((issuance, set));
        }
        (serials, model)
    }

    /// The reference: the lowest `quantity` tonnes of a plain list, range by range.
    fn take_from_model(
        model: &mut Vec<(IssuanceId, RangeSet)>,
        quantity: u64,
    ) -> Vec<(IssuanceId, RangeSet)> {
        let mut out = Vec::new();
        let mut need = quantity;
        while need > 0 {
            let (issuance, set) = &mut model[0];
            let take = set.quantity_tonnes().min(need);
            out.push((*issuance, set.take_lowest(take).unwrap()));
            need -= take;
            if set.is_empty() {
                model.remove(0);
            }
        }
        out
    }

    fn shape() -> impl Strategy<Value = Vec<Vec<(u64, u64)>>> {
        prop::collection::vec(prop::collection::vec((0u64..3, 1u64..6), 1..4), 0..4)
    }

    proptest! {
        /// Taking from the front, whatever the representation, delivers exactly what a plain
        /// list would, leaves what it would, and encodes as the list does.
        #[test]
        fn serials_behave_as_a_plain_list(shape in shape(), cuts in prop::collection::vec(0u64..12, 0..6)) {
            let (mut serials, mut model) = serials_of(&shape);
            prop_assert_eq!(&serials, &Serials::from_vec(model.clone()));
            for cut in cuts {
                let held = serials.quantity_tonnes();
                prop_assert_eq!(held, model.iter().map(|(_, s)| s.quantity_tonnes()).sum::<u64>());
                let q = cut.min(held);
                let taken = serials.take_front(q);
                let want = take_from_model(&mut model, q);
                prop_assert_eq!(taken.quantity_tonnes(), q);
                prop_assert_eq!(&taken, &Serials::from_vec(want.clone()));
                prop_assert_eq!(taken.clone().into_vec(), want.clone());
                prop_assert_eq!(serials.clone().into_vec(), model.clone());
                let wire = postcard::to_stdvec(&taken).unwrap();
                prop_assert_eq!(&wire, &postcard::to_stdvec(&want).unwrap());
                prop_assert_eq!(postcard::from_bytes::<Serials>(&wire).unwrap(), taken);
            }
        }
    }

    #[test]
    fn one_range_is_inline_and_splits_in_place() {
        let mut serials = Serials::new();
        serials.push(IssuanceId(7), RangeSet::from_range(range(10, 19)));
        assert!(matches!(serials.0, Repr::One(..)));
        let front = serials.take_front(4);
        assert_eq!(front, Serials::one(IssuanceId(7), range(10, 13)));
        assert_eq!(serials, Serials::one(IssuanceId(7), range(14, 19)));
        assert!(serials.take_front(0).is_empty());
        let all = serials.take_front(6);
        assert_eq!(all, Serials::one(IssuanceId(7), range(14, 19)));
        assert!(matches!(serials.0, Repr::Empty), "nothing to drop once taken");
    }

    #[test]
    fn a_list_left_with_one_range_goes_back_inline() {
        let mut serials = Serials::new();
        serials.push(IssuanceId(1), RangeSet::from_range(range(1, 2)));
        serials.push(IssuanceId(2), RangeSet::from_range(range(5, 9)));
        assert!(matches!(serials.0, Repr::Many(_)));
        serials.take_front(2);
        assert!(matches!(serials.0, Repr::One(..)));
        assert_eq!(serials, Serials::one(IssuanceId(2), range(5, 9)));
    }
}
