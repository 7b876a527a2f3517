//! Which issuances of each class (project and vintage year) each account holds: the index a
//! sell order uses to find the seller's serials without scanning the account's holdings.
//!
//! The index is derived from `State::holdings` and `State::issuances` and is never encoded: a
//! snapshot holds only the maps it is derived from, and `codec::decode_state` rebuilds it, so
//! the snapshot format does not change. It changes only where a holding is created or removed
//! (`State::holding_entry` and `State::remove_holding`, the only two places that do), and the
//! audit and the snapshot round trip of the tests compare it with a rebuild.

use crate::id_hash::IdHashMap;
use crate::ids::{AccountId, IssuanceId, ProjectId};
use crate::model::Issuance;
use smallvec::SmallVec;
use std::collections::BTreeMap;

/// An account and a class: project and vintage year.
pub(crate) type ClassKey = (AccountId, ProjectId, u16);

/// The account's issuances of one class, ascending by id. Nearly every account holds one or two
/// issuances of any class, so they fit inline.
type Issuances = SmallVec<[IssuanceId; 2]>;

/// A hash map, because it is only ever looked up by key: nothing iterates it where order could
/// matter, and equality of hash maps does not depend on order either. The hash is the fixed
/// multiplicative one of the order index (ids are small sequential integers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct HeldClasses {
    map: IdHashMap<ClassKey, Issuances>,
}

impl HeldClasses {
    /// Builds the index from the holdings and the issuances they are of.
    pub(crate) fn rebuild(
        holdings: &crate::holdings::Holdings,
        issuances: &BTreeMap<IssuanceId, Issuance>,
    ) -> Self {
        let mut out = Self::default();
        // Holdings come in (account, issuance) order, so each list is built ascending. A holding
        // of an unknown issuance (a corrupt snapshot) is left out here and reported by the audit.
        for (account, issuance) in holdings.keys() {
            if let Some(iss) = issuances.get(&issuance) {
                out.add((account, iss.project, iss.vintage_year), issuance);
            }
        }
        out
    }

    /// The issuances of the class that the account holds, ascending by id.
    pub(crate) fn get(&self, key: ClassKey) -> &[IssuanceId] {
        self.map.get(&key).map_or(&[], SmallVec::as_slice)
    }

    /// Records a new holding of `issuance` (of the key's class).
    pub(crate) fn add(&mut self, key: ClassKey, issuance: IssuanceId) {
        let list = self.map.entry(key).or_default();
        let Err(at) = list.binary_search(&issuance) else {
            panic!("a new holding is not in the class index yet");
        };
        list.insert(at, issuance);
    }

    /// Records that the holding of `issuance` (of the key's class) is gone.
    pub(crate) fn remove(&mut self, key: ClassKey, issuance: IssuanceId) {
        let list = self.map.get_mut(&key).expect("a held class is in the index");
        let at = list.binary_search(&issuance).expect("a held issuance is in the class index");
        list.remove(at);
        if list.is_empty() {
            self.map.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_keeps_ids_ascending_and_remove_drops_empty_classes() {
        let key = (AccountId(3), ProjectId(1), 2024);
        let mut index = HeldClasses::default();
        for i in [5, 2, 9] {
            index.add(key, IssuanceId(i));
        }
        assert_eq!(index.get(key), &[IssuanceId(2), IssuanceId(5), IssuanceId(9)]);
        assert!(index.get((AccountId(3), ProjectId(1), 2025)).is_empty());
        for i in [5, 2, 9] {
            index.remove(key, IssuanceId(i));
        }
        assert_eq!(index, HeldClasses::default(), "an emptied class leaves no entry");
    }

    #[test]
    #[should_panic(expected = "not in the class index yet")]
    fn adding_a_holding_twice_is_a_bug() {
        let key = (AccountId(3), ProjectId(1), 2024);
        let mut index = HeldClasses::default();
        index.add(key, IssuanceId(1));
        index.add(key, IssuanceId(1));
    }
}
