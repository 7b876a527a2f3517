//! The Rasid ledger: a pure, deterministic state machine for carbon credit serials and cash.
//!
//! [`State::execute`] takes one sequenced [`Envelope`] and returns the [`Event`]s it caused or a
//! [`Rejection`]. It does no I/O, reads no clock (time arrives in the envelope) and iterates only
//! ordered maps, so replaying a journal of envelopes reproduces the state byte for byte.
//! [`State::audit`] checks every invariant from scratch.

pub mod audit;
pub mod codec;
pub mod command;
mod dense;
pub mod engine;
pub mod event;
pub mod exchange;
mod held_classes;
mod holdings;
pub mod id_hash;
pub mod ids;
pub mod model;
pub mod money;
pub mod rejection;
pub mod serial;
pub mod state;
pub mod testing;
pub mod time;

pub use audit::{AuditError, Totals};
pub use command::{Command, Envelope, Selection};
pub use event::{Event, Events};
pub use ids::{AccountId, CancellationId, IssuanceId, OrgId, ProjectId, RetirementId};
pub use money::Currency;
pub use rejection::Rejection;
pub use serial::{RangeSet, SerialRange, SetRef};
pub use state::{SerialLocation, State};
