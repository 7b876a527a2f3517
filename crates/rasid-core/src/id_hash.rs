//! A hash for maps keyed by ledger ids.
//!
//! The engine assigns ids in sequence (nobody chooses them), so a multiplicative (Fibonacci)
//! hash spreads them over a table's buckets as well as a general-purpose hash would, at a
//! fraction of the cost. The hash is fixed, never seeded: nothing may depend on such a map's
//! iteration order anyway. Keys a client can choose must not use it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` keyed by ledger ids, hashed with [`IdHasher`].
pub type IdHashMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

#[derive(Clone, Copy, Debug, Default)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    /// Ids hash through `write_u64`; other input is mixed in a byte at a time.
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exchange::OrderId;
    use std::hash::BuildHasher;

    /// Sequential ids, as the engine assigns them, land in distinct buckets of a table of their
    /// size (the low bits are a bijection of the id's) and use every value of the top seven
    /// bits hashbrown keeps as tags; the map finds each of them.
    #[test]
    fn sequential_ids_spread_over_an_id_map() {
        let hasher = BuildHasherDefault::<IdHasher>::default();
        let n = 1u64 << 16;
        let mut low = std::collections::HashSet::new();
        let mut tags = std::collections::HashSet::new();
        for id in 1..=n {
            let h = hasher.hash_one(OrderId(id));
            low.insert(h & (n - 1));
            tags.insert(h >> 57);
        }
        assert_eq!(low.len() as u64, n);
        assert_eq!(tags.len(), 128);
        let map: IdHashMap<OrderId, u64> = (1..=n).map(|id| (OrderId(id), id * 2)).collect();
        assert!((1..=n).all(|id| map.get(&OrderId(id)) == Some(&(id * 2))));
    }
}
