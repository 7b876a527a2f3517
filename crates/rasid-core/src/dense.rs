//! Maps keyed by ids the engine allocates in sequence, stored as vectors indexed by the id.
//!
//! Organizations, accounts and instruments (and an instrument's book) get ids `1, 2, 3, …` and
//! are never removed, so a `BTreeMap` keyed by them spent a tree search on what is an array
//! index; the matching path looks several of them up per order and per fill. [`DenseMap`] keeps
//! the `BTreeMap` API the engine uses, iterates in key order, compares by its entries and
//! serializes exactly as the `BTreeMap` did (a map of its entries in key order), so snapshots
//! and digests are byte for byte what they were. [`CashBook`] does the same for balances, keyed
//! by account and currency (and `crate::holdings::Holdings` for holdings, by account and
//! issuance).
//!
//! A `DenseMap` refuses to decode a key far beyond the entries before it: the engine never
//! leaves such gaps in those ids, and allocating a vector up to an id read from a corrupt
//! snapshot could exhaust memory. Cash and holdings can skip any number of accounts (most
//! accounts may have neither), so they are decoded as plain maps and indexed by `State`'s
//! decoding once every account they name is known to exist (`StateWire` in `state.rs`).

use crate::ids::AccountId;
use crate::model::Balance;
use crate::money::Currency;
use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::marker::PhantomData;

/// How far a decoded key may run ahead of the number of entries decoded before it.
const DECODE_GAP_MAX: usize = 1 << 16;

/// An id that indexes a [`DenseMap`]: its number as a vector index.
pub(crate) trait DenseKey: Copy + Ord {
    fn index(self) -> usize;
}

macro_rules! dense_key {
    ($($t:ty),*) => {$(
        impl DenseKey for $t {
            fn index(self) -> usize {
                usize::try_from(self.0).expect("ids fit in usize")
            }
        }
    )*};
}
dense_key!(crate::ids::OrgId, AccountId, crate::exchange::InstrumentId);

/// A map from sequentially allocated ids to values; see the module comment.
#[derive(Clone)]
pub(crate) struct DenseMap<K, V> {
    /// `slots[id]` holds the entry of `id`, with its key so iteration can lend `(&K, &V)` like
    /// a `BTreeMap`'s.
    slots: Vec<Option<(K, V)>>,
    len: usize,
}

impl<K, V> Default for DenseMap<K, V> {
    fn default() -> Self {
        Self { slots: Vec::new(), len: 0 }
    }
}

impl<K: DenseKey, V> DenseMap<K, V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        match self.slots.get(key.index()) {
            Some(Some((_, v))) => Some(v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        match self.slots.get_mut(key.index()) {
            Some(Some((_, v))) => Some(v),
            _ => None,
        }
    }

    pub fn contains_key(&self, key: &K) -> bool {
        self.get(key).is_some()
    }

    /// The value of `key`, inserted from `make` if there is none (`entry(key).or_insert_with`).
    ///
    /// Finding an existing value is inline and inserting is not. When both shared one body, the
    /// common case (every balance a hold or fill touches, through `CashBook::or_default`)
    /// carried the growth and insertion paths along: about 25 instructions per operation of
    /// the matching bench.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = key.index();
        if self.slots.get(i).is_some_and(Option::is_some) {
            return &mut self.slots[i].as_mut().expect("found just above").1;
        }
        self.insert_with(key, make)
    }

    #[inline(never)]
    fn insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = key.index();
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        let slot = &mut self.slots[i];
        if slot.is_none() {
            self.len += 1;
        }
        &mut slot.get_or_insert_with(|| (key, make())).1
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let i = key.index();
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        let old = self.slots[i].replace((key, value)).map(|(_, v)| v);
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Entries in ascending key order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&K, &V)> {
        self.slots.iter().filter_map(|s| s.as_ref().map(|(k, v)| (k, v)))
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &K> {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &V> {
        self.iter().map(|(_, v)| v)
    }

    /// Values in ascending key order, to change in place.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.slots.iter_mut().filter_map(|s| s.as_mut().map(|(_, v)| v))
    }
}

impl<K: DenseKey, V> std::ops::Index<&K> for DenseMap<K, V> {
    type Output = V;

    fn index(&self, key: &K) -> &V {
        self.get(key).expect("no entry for the key")
    }
}

impl<'a, K: DenseKey, V> IntoIterator for &'a DenseMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Box<dyn DoubleEndedIterator<Item = (&'a K, &'a V)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl<K: DenseKey, V> IntoIterator for DenseMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::iter::Flatten<std::vec::IntoIter<Option<(K, V)>>>;

    /// Entries in ascending key order.
    fn into_iter(self) -> Self::IntoIter {
        self.slots.into_iter().flatten()
    }
}

impl<K: DenseKey, V> FromIterator<(K, V)> for DenseMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = Self::default();
        for (k, v) in iter {
            map.insert(k, v);
        }
        map
    }
}

/// Equal when the entries are, whatever trailing room either vector has.
impl<K: DenseKey, V: PartialEq> PartialEq for DenseMap<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<K: DenseKey, V: Eq> Eq for DenseMap<K, V> {}

impl<K: DenseKey + std::fmt::Debug, V: std::fmt::Debug> std::fmt::Debug for DenseMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// Written as the `BTreeMap` of the same entries is: its length, then the entries in key order.
impl<K: DenseKey + Serialize, V: Serialize> Serialize for DenseMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, K: DenseKey + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for DenseMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V_<K, V>(PhantomData<(K, V)>);
        impl<'de, K: DenseKey + Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for V_<K, V> {
            type Value = DenseMap<K, V>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map keyed by sequential ids")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut map = DenseMap::default();
                while let Some((k, v)) = access.next_entry::<K, V>()? {
                    if k.index() > map.len.saturating_add(DECODE_GAP_MAX) {
                        return Err(serde::de::Error::custom(
                            "id far beyond the entries before it",
                        ));
                    }
                    map.insert(k, v);
                }
                Ok(map)
            }
        }
        deserializer.deserialize_map(V_(PhantomData))
    }
}

/// `PartialEq` (equal when the entries are), `Eq`, `Debug` and `Serialize` (as the `BTreeMap`
/// of the same entries: its length, then the entries in key order) for a map by account and a
/// second key that keeps each account's entries in a representation of its own ([`CashBook`],
/// `crate::holdings::Holdings`) but must look like the flat `BTreeMap<(AccountId, _), _>` it
/// replaced. The type needs a `len` field and an `iter` of `(key, value)` in key order, the value
/// a reference or a `Cow` (a holding with logged credits is lent merged). Decoding is `State`'s
/// (`StateWire`): as the plain map, indexed once the accounts it names are known to exist.
macro_rules! flat_entries_impls {
    ($t:ty) => {
        impl PartialEq for $t {
            fn eq(&self, other: &Self) -> bool {
                self.len == other.len && self.iter().eq(other.iter())
            }
        }

        impl Eq for $t {}

        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_map().entries(self.iter()).finish()
            }
        }

        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut map = serializer.serialize_map(Some(self.len))?;
                for (k, v) in self.iter() {
                    map.serialize_entry(&k, &v)?;
                }
                map.end()
            }
        }
    };
}
pub(crate) use flat_entries_impls;

/// Cash balances by account and currency, stored per account in an array indexed by currency.
/// Like the `BTreeMap<(AccountId, Currency), Balance>` it replaces, it holds an entry only where
/// one was made (a zero balance can exist until it is removed), iterates in `(account,
/// currency)` order and serializes as that map did.
#[derive(Clone, Default)]
pub(crate) struct CashBook {
    accounts: DenseMap<AccountId, [Option<Balance>; Currency::ALL.len()]>,
    len: usize,
}

fn currency_index(c: Currency) -> usize {
    // `Currency`'s order is its declaration order, which is the order of `ALL`.
    c as usize
}

impl CashBook {
    pub fn get(&self, key: &(AccountId, Currency)) -> Option<&Balance> {
        self.accounts.get(&key.0).and_then(|a| a[currency_index(key.1)].as_ref())
    }

    pub fn get_mut(&mut self, key: &(AccountId, Currency)) -> Option<&mut Balance> {
        self.accounts.get_mut(&key.0).and_then(|a| a[currency_index(key.1)].as_mut())
    }

    /// The balance, created at zero if there is none (`entry(key).or_default()`).
    pub fn or_default(&mut self, key: (AccountId, Currency)) -> &mut Balance {
        let slot =
            &mut self.accounts.get_or_insert_with(key.0, Default::default)[currency_index(key.1)];
        if slot.is_none() {
            self.len += 1;
        }
        slot.get_or_insert_with(Balance::default)
    }

    pub fn remove(&mut self, key: &(AccountId, Currency)) -> Option<Balance> {
        let removed = self.accounts.get_mut(&key.0).and_then(|a| a[currency_index(key.1)].take());
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Balances in `(account, currency)` order.
    pub fn iter(&self) -> impl Iterator<Item = ((AccountId, Currency), &Balance)> {
        self.accounts.iter().flat_map(|(a, balances)| {
            Currency::ALL
                .iter()
                .zip(balances)
                .filter_map(move |(c, b)| b.as_ref().map(|b| ((*a, *c), b)))
        })
    }
}

flat_entries_impls!(CashBook);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::OrgId;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[derive(Clone, Debug)]
    enum MapOp {
        Insert(u64, u32),
        GetOrInsert(u64, u32),
        Get(u64),
    }

    #[derive(Clone, Debug)]
    enum CashOp {
        Add(u64, usize, i64),
        Remove(u64, usize),
    }

    fn map_op() -> impl Strategy<Value = MapOp> {
        // Mostly the sequential ids the engine allocates, with some gaps and repeats.
        prop_oneof![
            (0u64..64, any::<u32>()).prop_map(|(k, v)| MapOp::Insert(k, v)),
            (0u64..64, any::<u32>()).prop_map(|(k, v)| MapOp::GetOrInsert(k, v)),
            (0u64..80).prop_map(MapOp::Get),
        ]
    }

    fn cash_op() -> impl Strategy<Value = CashOp> {
        prop_oneof![
            3 => (0u64..40, 0usize..4, -5i64..5).prop_map(|(a, c, v)| CashOp::Add(a, c, v)),
            1 => (0u64..40, 0usize..4).prop_map(|(a, c)| CashOp::Remove(a, c)),
        ]
    }

    proptest! {
        /// A `DenseMap` answers, iterates and encodes exactly as the `BTreeMap` model does, and
        /// decodes back to an equal map.
        #[test]
        fn dense_map_is_a_btree_map(ops in proptest::collection::vec(map_op(), 0..200)) {
            let mut dense: DenseMap<OrgId, u32> = DenseMap::default();
            let mut model: BTreeMap<OrgId, u32> = BTreeMap::new();
            for op in ops {
                match op {
                    MapOp::Insert(k, v) => {
                        prop_assert_eq!(dense.insert(OrgId(k), v), model.insert(OrgId(k), v));
                    }
                    MapOp::GetOrInsert(k, v) => {
                        let got = *dense.get_or_insert_with(OrgId(k), || v);
                        prop_assert_eq!(got, *model.entry(OrgId(k)).or_insert(v));
                    }
                    MapOp::Get(k) => {
                        prop_assert_eq!(dense.get(&OrgId(k)), model.get(&OrgId(k)));
                        prop_assert_eq!(dense.contains_key(&OrgId(k)), model.contains_key(&OrgId(k)));
                        if let Some(v) = dense.get_mut(&OrgId(k)) {
                            *v = v.wrapping_add(1);
                            let m = model.get_mut(&OrgId(k)).expect("same keys");
                            *m = m.wrapping_add(1);
                        }
                    }
                }
                prop_assert_eq!(dense.len(), model.len());
                prop_assert!(dense.iter().eq(model.iter()));
                prop_assert!(dense.iter().rev().eq(model.iter().rev()));
            }
            let bytes = postcard::to_stdvec(&dense).expect("encodes");
            prop_assert_eq!(&bytes, &postcard::to_stdvec(&model).expect("encodes"));
            let decoded: DenseMap<OrgId, u32> = postcard::from_bytes(&bytes).expect("decodes");
            prop_assert_eq!(&decoded, &dense);
            let rebuilt: DenseMap<OrgId, u32> = model.clone().into_iter().collect();
            prop_assert_eq!(&rebuilt, &dense);
            prop_assert!(dense.clone().into_iter().eq(model.into_iter()));
        }

        /// A `CashBook` keeps the entries a `BTreeMap<(AccountId, Currency), Balance>` would,
        /// zero balances included until removed, and encodes to the same bytes.
        #[test]
        fn cash_book_is_a_btree_map(ops in proptest::collection::vec(cash_op(), 0..200)) {
            let mut book = CashBook::default();
            let mut model: BTreeMap<(AccountId, Currency), Balance> = BTreeMap::new();
            for op in ops {
                match op {
                    CashOp::Add(a, c, v) => {
                        let key = (AccountId(a), Currency::ALL[c]);
                        book.or_default(key).available_minor += v;
                        model.entry(key).or_default().available_minor += v;
                    }
                    CashOp::Remove(a, c) => {
                        let key = (AccountId(a), Currency::ALL[c]);
                        prop_assert_eq!(book.remove(&key), model.remove(&key));
                    }
                }
                prop_assert!(book.iter().eq(model.iter().map(|(k, v)| (*k, v))));
                for (k, v) in &model {
                    prop_assert_eq!(book.get(k), Some(v));
                }
            }
            let bytes = postcard::to_stdvec(&book).expect("encodes");
            prop_assert_eq!(&bytes, &postcard::to_stdvec(&model).expect("encodes"));
        }
    }

    /// A snapshot naming an id far past the entries before it is refused rather than making
    /// the decoder allocate a vector up to that id.
    #[test]
    fn decoding_refuses_a_far_id() {
        let model: BTreeMap<OrgId, u32> = [(OrgId(1), 1), (OrgId(1 << 40), 2)].into();
        let bytes = postcard::to_stdvec(&model).expect("encodes");
        assert!(postcard::from_bytes::<DenseMap<OrgId, u32>>(&bytes).is_err());
    }

    /// The gap is measured from the entries decoded, not from the vector's length: otherwise a
    /// snapshot whose every key steps just under the gap past the previous one would stretch
    /// the vector by the gap per entry.
    #[test]
    fn decoding_refuses_ids_that_step_ahead_of_the_entries() {
        let step = DECODE_GAP_MAX as u64 - 1;
        let ids = [1, 1 + step, 1 + 2 * step];
        let orgs: BTreeMap<OrgId, u32> = ids.iter().map(|&i| (OrgId(i), 0)).collect();
        let bytes = postcard::to_stdvec(&orgs).expect("encodes");
        assert!(postcard::from_bytes::<DenseMap<OrgId, u32>>(&bytes).is_err());
        // Two steps are within reach of the entries before them.
        let near: BTreeMap<OrgId, u32> = ids[..2].iter().map(|&i| (OrgId(i), 0)).collect();
        let bytes = postcard::to_stdvec(&near).expect("encodes");
        assert!(postcard::from_bytes::<DenseMap<OrgId, u32>>(&bytes).is_ok());
    }
}
