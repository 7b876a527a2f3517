//! Exchange fees and the cash a buy order must hold.
//!
//! A fee is `max(ceil(notional × bps / 10 000), minimum)` per trade, charged by role: the maker
//! (resting order) pays `maker_bps`, the taker `taker_bps`. The buyer pays on top of the price;
//! the seller's fee comes out of the proceeds and never exceeds them.
//!
//! A buy order holds `quantity × price + lots × fee_per_lot_bound`, where
//! `fee_per_lot_bound = ceil(lot × price × max_bps / 10 000) + minimum`. The bound is additive
//! in lots, so when `q` tonnes fill, releasing `hold(q)` minus what was charged leaves exactly
//! `hold(remaining)` held — the reservation returns to the minor unit — and it is never less
//! than the charge: `Σ ceil(...)` over lots ≥ `ceil(Σ ...)`, and each trade has at least one lot.

use crate::rejection::Rejection;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeSchedule {
    pub maker_bps: u32,
    pub taker_bps: u32,
    /// Minimum fee per trade and side, in minor units.
    pub min_fee_minor: i64,
}

/// Fees above 10% are a listing mistake, not a business model.
pub const FEE_BPS_MAX: u32 = 1_000;

impl FeeSchedule {
    pub fn is_valid(&self) -> bool {
        self.maker_bps <= FEE_BPS_MAX && self.taker_bps <= FEE_BPS_MAX && self.min_fee_minor >= 0
    }

    fn max_bps(&self) -> u32 {
        self.maker_bps.max(self.taker_bps)
    }

    /// The fee on a trade of `notional` minor units at `bps`.
    pub fn fee(&self, notional: i128, bps: u32) -> i128 {
        // Every fill computes two fees. An overflow-checked 128-bit multiplication is a
        // library call; a non-negative notional whose product with the rate fits in 64 bits
        // (all but absurd ones) gives the same result in 64 bits.
        if let Ok(n) = u64::try_from(notional)
            && let Some(biased) = n.checked_mul(u64::from(bps)).and_then(|x| x.checked_add(9_999))
        {
            return i128::from(biased / 10_000).max(i128::from(self.min_fee_minor));
        }
        self.fee_wide(notional, bps)
    }

    /// `fee` computed in 128 bits, for any notional.
    fn fee_wide(&self, notional: i128, bps: u32) -> i128 {
        let proportional = div_ceil_bps(notional * i128::from(bps));
        proportional.max(i128::from(self.min_fee_minor))
    }

    /// The most fee one lot at `price` can cost either side.
    pub fn fee_per_lot_bound(&self, lot_tonnes: u64, price_minor: i64) -> i128 {
        let lot_notional = i128::from(lot_tonnes) * i128::from(price_minor);
        div_ceil_bps(lot_notional * i128::from(self.max_bps())) + i128::from(self.min_fee_minor)
    }

    /// Cash a buy order of `quantity` tonnes at `price` holds.
    #[inline]
    pub fn buy_hold(
        &self,
        quantity_tonnes: u64,
        lot_tonnes: u64,
        price_minor: i64,
    ) -> Result<i64, Rejection> {
        // Every order and every fill computes a hold; see `buy_hold_narrow`.
        if let Some(hold) = self.buy_hold_narrow(quantity_tonnes, lot_tonnes, price_minor) {
            return Ok(hold);
        }
        self.buy_hold_wide(quantity_tonnes, lot_tonnes, price_minor)
    }

    /// `buy_hold` in 64-bit arithmetic, or `None` where a step would overflow it (or the price
    /// or minimum is negative), in which case the 128-bit computation decides. Where every step
    /// fits, the two compute the same integers: `(x + 9 999) / 10 000` of a non-negative `x` is
    /// the same division in either width.
    fn buy_hold_narrow(
        &self,
        quantity_tonnes: u64,
        lot_tonnes: u64,
        price_minor: i64,
    ) -> Option<i64> {
        let price = u64::try_from(price_minor).ok()?;
        let min = u64::try_from(self.min_fee_minor).ok()?;
        let lots = quantity_tonnes / lot_tonnes;
        let lot_fee = lot_tonnes
            .checked_mul(price)?
            .checked_mul(u64::from(self.max_bps()))?
            .checked_add(9_999)?
            / 10_000;
        let per_lot = lot_fee.checked_add(min)?;
        let hold = quantity_tonnes.checked_mul(price)?.checked_add(lots.checked_mul(per_lot)?)?;
        i64::try_from(hold).ok()
    }

    /// `buy_hold` computed in 128 bits, for any input.
    #[cold]
    #[inline(never)]
    fn buy_hold_wide(
        &self,
        quantity_tonnes: u64,
        lot_tonnes: u64,
        price_minor: i64,
    ) -> Result<i64, Rejection> {
        let lots = i128::from(quantity_tonnes / lot_tonnes);
        let hold = i128::from(quantity_tonnes) * i128::from(price_minor)
            + lots * self.fee_per_lot_bound(lot_tonnes, price_minor);
        i64::try_from(hold).map_err(|_| Rejection::AmountOverflow)
    }
}

/// `ceil(x / 10 000)` for the non-negative amounts fees are made of (and `x / 10 000` rounded
/// towards zero after adding 9 999, as before, for any other). Dividing an `i128` is a library
/// call several times slower than a 64-bit division, and every fill computes three of these, so
/// values that fit in 64 bits — all but absurd notionals — take the 64-bit path.
fn div_ceil_bps(x: i128) -> i128 {
    let biased = x + 9_999;
    match u64::try_from(biased) {
        Ok(v) => i128::from(v / 10_000),
        Err(_) => biased / 10_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn fast_division_agrees_with_i128_division() {
        let edges = [0i128, 1, 9_999, 10_000, 10_001, -1, -10_001, i128::from(u64::MAX) - 9_999];
        for x in edges.into_iter().chain([i128::from(u64::MAX), i128::from(u64::MAX) * 7 + 3]) {
            assert_eq!(div_ceil_bps(x), (x + 9_999) / 10_000, "x = {x}");
        }
    }

    proptest! {
        /// The 64-bit hold and fee agree with the 128-bit ones, overflow of `i64` included,
        /// from small values up to where the 128-bit computation itself would overflow (which
        /// the 64-bit one leaves to it).
        #[test]
        fn fast_hold_and_fee_agree_with_wide(
            quantity in prop_oneof![1u64..1_000, 1u64..(1 << 62)],
            lot in prop_oneof![1u64..100, 1u64..(1 << 40)],
            price in prop_oneof![1i64..10_000_000, any::<i64>()],
            maker in 0u32..=FEE_BPS_MAX, taker in 0u32..=FEE_BPS_MAX,
            min in prop_oneof![0i64..1_000, any::<i64>()],
            notional in prop_oneof![0i128..1_000_000_000, any::<i64>().prop_map(i128::from), any::<i128>().prop_map(|x| x >> 20)],
        ) {
            let f = FeeSchedule { maker_bps: maker, taker_bps: taker, min_fee_minor: min };
            prop_assert_eq!(f.buy_hold(quantity, lot, price), f.buy_hold_wide(quantity, lot, price));
            prop_assert_eq!(f.fee(notional, maker), f.fee_wide(notional, maker));
            prop_assert_eq!(f.fee(notional, taker), f.fee_wide(notional, taker));
        }

        /// Filling any split of an order never charges more than the hold releases, and what
        /// is left held is exactly the hold for the remainder.
        #[test]
        fn hold_covers_every_split_exactly(
            lot in 1u64..50, lots in 1u64..40, limit in 1i64..100_000,
            maker in 0u32..200, taker in 0u32..200, min in 0i64..500,
            cuts in proptest::collection::vec((1u64..10, 0i64..100_000), 1..10),
        ) {
            let f = FeeSchedule { maker_bps: maker, taker_bps: taker, min_fee_minor: min };
            let mut remaining = lot * lots;
            let mut held = i128::from(f.buy_hold(remaining, lot, limit).unwrap());
            for (cut_lots, px) in cuts {
                if remaining == 0 { break; }
                let q = (cut_lots * lot).min(remaining);
                let price = px.min(limit).max(1);
                let charge = i128::from(q) * i128::from(price) + f.fee(i128::from(q) * i128::from(price), maker.max(taker));
                let after = i128::from(f.buy_hold(remaining - q, lot, limit).unwrap());
                let release = held - charge - after;
                prop_assert!(release >= 0, "hold short by {}", -release);
                remaining -= q;
                held = after;
            }
        }
    }
}
