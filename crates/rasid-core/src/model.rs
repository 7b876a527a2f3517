//! The registry's entities as the engine stores them.

use crate::ids::{AccountId, CancellationId, IssuanceId, OrgId, ProjectId, RetirementId};
use crate::serial::{RangeSet, SerialRange};
use serde::{Deserialize, Serialize};

/// What an organization may do. Deny by default: each command names the roles it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Runs the platform: members, accounts, cash, (later) instruments and auctions.
    Operator,
    /// Runs the registry: projects, issuances, labels, cancellations, the buffer pool.
    Registrar,
    /// Issuers and trading members: act on their own accounts only.
    Member,
    /// Reads everything, changes nothing.
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::Registrar => "registrar",
            Role::Member => "member",
            Role::Auditor => "auditor",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Role::Operator, Role::Registrar, Role::Member, Role::Auditor]
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role {s:?} (operator, registrar, member, auditor)"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub role: Role,
}

/// System accounts have a purpose beyond holding a member's assets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountKind {
    Holding,
    /// Receives exchange fees.
    Fees,
    /// The registry's buffer pool: non-permanence reserve contributed at issuance.
    BufferPool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub org: OrgId,
    pub name: String,
    pub kind: AccountKind,
}

/// The crediting program a project is registered under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Program {
    Vcs,
    GoldStandard,
    Acr,
    Car,
    Art,
    Puro,
    Isometric,
    Cercarbono,
    /// Registered directly on this Rasid registry.
    Native,
}

impl Program {
    pub const ALL: [Program; 9] = [
        Program::Vcs,
        Program::GoldStandard,
        Program::Acr,
        Program::Car,
        Program::Art,
        Program::Puro,
        Program::Isometric,
        Program::Cercarbono,
        Program::Native,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Program::Vcs => "VCS",
            Program::GoldStandard => "GS",
            Program::Acr => "ACR",
            Program::Car => "CAR",
            Program::Art => "ART",
            Program::Puro => "PURO",
            Program::Isometric => "ISOMETRIC",
            Program::Cercarbono => "CERCARBONO",
            Program::Native => "NATIVE",
        }
    }
}

impl std::str::FromStr for Program {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // "GOLD" is how the Berkeley VROD names Gold Standard.
        if s.eq_ignore_ascii_case("GOLD") {
            return Ok(Program::GoldStandard);
        }
        Program::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unknown program {s:?}"))
    }
}

/// Reduction or removal, as the ICVCM and buyers classify credits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Effect {
    Reduction,
    Removal,
    /// Projects that both avoid and remove emissions (e.g. improved forest management).
    Mixed,
}

/// Nature-based or technology-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Basis {
    Nature,
    Technology,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectInfo {
    pub program: Program,
    /// The program's own id, e.g. `VCS1340`, `GS11236`, `ACR102`. Unique per program.
    pub external_id: String,
    pub name: String,
    pub methodology: String,
    /// Country as the source registry names it (VROD uses English names).
    pub country: String,
    pub region: String,
    pub scope: String,
    pub project_type: String,
    pub effect: Effect,
    pub basis: Basis,
    /// The organization that develops the project and receives its issuances by default.
    pub developer: OrgId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: ProjectId,
    pub info: ProjectInfo,
}

/// CORSIA eligibility, by ICAO compliance phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CorsiaPhase {
    Pilot,
    First,
    Second,
}

/// Status of the corresponding adjustment for an Article 6 authorised issuance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CaStatus {
    NotRequired,
    Committed,
    Pending,
    Completed,
}

impl CaStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaStatus::NotRequired => "not_required",
            CaStatus::Committed => "committed",
            CaStatus::Pending => "pending",
            CaStatus::Completed => "completed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Article6 {
    /// The host country's letter-of-authorisation reference.
    pub authorization_ref: String,
    pub ca_status: CaStatus,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    pub corsia: Option<CorsiaPhase>,
    /// ICVCM Core Carbon Principles label.
    pub ccp: bool,
    pub article6: Option<Article6>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issuance {
    pub id: IssuanceId,
    pub project: ProjectId,
    pub vintage_year: u16,
    pub block: SerialRange,
    /// Serials that went to the buffer pool at issuance.
    pub buffer_tonnes: u64,
    pub labels: Labels,
    /// The source registry's batch key or serial when imported; unique when present.
    pub external_ref: Option<String>,
    pub issued_at_ms: i64,
    /// Every serial of this issuance ever retired. Serials never leave this set.
    pub retired: RangeSet,
    /// Every serial of this issuance ever cancelled. Serials never leave this set.
    pub cancelled: RangeSet,
}

/// Why credits were retired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Purpose {
    Voluntary,
    Corsia,
    /// Towards a nationally determined contribution under Article 6.
    Ndc,
    Other,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Voluntary => "voluntary",
            Purpose::Corsia => "corsia",
            Purpose::Ndc => "ndc",
            Purpose::Other => "other",
        }
    }
}

impl std::str::FromStr for Purpose {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Purpose::Voluntary, Purpose::Corsia, Purpose::Ndc, Purpose::Other]
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown purpose {s:?} (voluntary, corsia, ndc, other)"))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetirementDetails {
    pub beneficiary: String,
    pub purpose: Purpose,
    /// The entity that uses the claim, when not the beneficiary itself.
    pub using_entity: String,
    pub note: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retirement {
    pub id: RetirementId,
    pub account: AccountId,
    pub issuance: IssuanceId,
    pub serials: RangeSet,
    pub details: RetirementDetails,
    pub retired_at_ms: i64,
    /// Journal sequence number of the command that retired them, for the certificate.
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cancellation {
    pub id: CancellationId,
    pub account: AccountId,
    pub issuance: IssuanceId,
    pub serials: RangeSet,
    pub reason: String,
    pub cancelled_at_ms: i64,
    pub seq: u64,
}

/// One account's serials of one issuance: the available serials, and how many tonnes of its
/// serials are reserved.
///
/// Reserved serials are kept only by what reserves them — a resting sell order, an auction lot,
/// a basket deposit — and counted here in tonnes. Until format 3 the holding kept its own copy
/// of them as a second range set, so every fill against a resting sell searched and cut that
/// set (a hundred ranges or more for an active seller) and every sell that rested or was
/// cancelled inserted into it or cut it again, all to keep a duplicate that nothing in the
/// engine needed. Readers that show which serials are reserved gather them from their owners
/// (`State::reserved_serials_of` and friends); the audit checks that the owners' serials add up
/// to `reserved_tonnes` and, with `available`, partition the issuance.
///
/// Aligned to 64 bytes, the size of the holding: a holding is one whole cache line that no
/// other holding shares. An account's holdings sit packed in a vector, and a buyer's holding was
/// cold on most fills; a holding that straddled two lines cost two misses instead of one. (Since
/// the twelfth session most credits to a buyer's holding wait in its account's log,
/// `holdings.rs`, and reach the holding in a merge; a seller's holding is still touched on
/// every fill.)
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[repr(align(64))]
pub struct Holding {
    pub available: RangeSet,
    /// Tonnes held for orders, auction lots and basket deposits; those serials cannot move
    /// until released.
    pub reserved_tonnes: u64,
}

impl Holding {
    pub fn is_empty(&self) -> bool {
        self.available.is_empty() && self.reserved_tonnes == 0
    }

    /// Stops counting `tonnes` as reserved: their owner released or delivered them.
    pub(crate) fn unreserve_tonnes(&mut self, tonnes: u64) {
        self.reserved_tonnes = self
            .reserved_tonnes
            .checked_sub(tonnes)
            .expect("audit: an owner's serials are counted as reserved");
    }

    /// Every tonne of the holding, available or reserved.
    pub fn held_tonnes(&self) -> u64 {
        let reserved = self.reserved_tonnes;
        self.available.quantity_tonnes().checked_add(reserved).expect("within one issuance")
    }
}

/// One account's balance in one currency, in minor units. Never negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub available_minor: i64,
    pub reserved_minor: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layout `Holding`'s alignment is for: one whole cache line per holding, so a vector
    /// of holdings keeps every holding on a line of its own.
    #[test]
    fn a_holding_is_one_whole_cache_line() {
        assert_eq!(std::mem::align_of::<Holding>(), 64);
        assert_eq!(std::mem::size_of::<Holding>(), 64);
    }
}
