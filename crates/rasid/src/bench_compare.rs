//! Other order-book engines on the same stream, for `rasid bench matching`. Built only with the
//! `compare-engines` feature, which brings those crates in; without it the list is empty.

use crate::bench_matching::Op;

/// `(crate name, operations per second)` for each comparison engine.
#[cfg(not(feature = "compare-engines"))]
pub fn run_all(_ops: &[Op], _seed_ops: usize) -> Vec<(&'static str, f64)> {
    Vec::new()
}
