//! Readers that turn published carbon market data into Rasid commands.
//!
//! Parsing is separate from execution: a reader yields validated rows and per-line rejections,
//! and a planner turns rows into commands given the ledger's current state, so that importing the
//! same file twice plans nothing the second time. This crate does no I/O beyond reading the
//! bytes it is handed and never touches storage.

pub mod registry;
pub mod serials;
pub mod vrod;
