//! Where other registries' serial numbers live in Rasid's one global serial space.
//!
//! Every source serial space gets a region of 2^60 serials at `index × 2^60`; Rasid's own
//! issuances stay below 2^60. Inside a region:
//! - **Verra** numbers its units once across the whole registry: serial `n` is `base + n`.
//! - **Gold Standard, ACR, ART TREES, CAR** restart their unit numbers at 1 in every batch, and
//!   batch numbers are registry-wide: unit `n` of batch `b` is `base + b × 2^32 + n`
//!   (batches below 2^28, units below 2^32).
//! - **UN CDM** units (held in Gold Standard) are numbered per host party:
//!   `base + party × 2^50 + n`, where `party` is the two-letter code read as a base-26 number.
//! - **Cercarbono** and **Isometric** name issuances, not batches with numbers, so each issuance
//!   gets the next free 2^32 slot of its region when it is imported, and unit `n` of it is
//!   `slot base + n` (Isometric has no unit numbers: its credits are `1..=quantity`).
//!
//! So a source serial keeps its number modulo the region and batch base, the regions never
//! overlap, and the mapping is recorded in the ledger itself: each imported issuance's
//! `external_ref` names its source batch, and the batch base is the issuance's first serial with
//! the low 32 bits cleared.

use rasid_core::model::Program;

/// Bits of one region: 2^60 serials each, 15 regions fit below `u64::MAX`.
pub const REGION_BITS: u32 = 60;
/// Bits of a batch or slot inside a region: up to 2^32 − 1 units per batch.
pub const BATCH_BITS: u32 = 32;
const CDM_PARTY_BITS: u32 = 50;

/// A source serial space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Space {
    Verra,
    GoldStandard,
    Cdm,
    Acr,
    Art,
    Car,
    Cercarbono,
    Isometric,
}

impl Space {
    pub const ALL: [Space; 8] = [
        Space::Verra,
        Space::GoldStandard,
        Space::Cdm,
        Space::Acr,
        Space::Art,
        Space::Car,
        Space::Cercarbono,
        Space::Isometric,
    ];

    /// The prefix of its issuances' `external_ref`.
    pub fn prefix(self) -> &'static str {
        match self {
            Space::Verra => "VERRA",
            Space::GoldStandard => "GS",
            Space::Cdm => "CDM",
            Space::Acr => "ACR",
            Space::Art => "ART",
            Space::Car => "CAR",
            Space::Cercarbono => "CERCARBONO",
            Space::Isometric => "ISOMETRIC",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Space::Verra => "Verra",
            Space::GoldStandard => "Gold Standard",
            Space::Cdm => "UN CDM",
            Space::Acr => "American Carbon Registry",
            Space::Art => "ART TREES",
            Space::Car => "Climate Action Reserve",
            Space::Cercarbono => "Cercarbono",
            Space::Isometric => "Isometric",
        }
    }

    /// The region's index: 1..=8 (0 is Rasid's own issuances).
    pub fn index(self) -> u64 {
        match self {
            Space::Verra => 1,
            Space::GoldStandard => 2,
            Space::Cdm => 3,
            Space::Acr => 4,
            Space::Art => 5,
            Space::Car => 6,
            Space::Cercarbono => 7,
            Space::Isometric => 8,
        }
    }

    pub fn base(self) -> u64 {
        self.index() << REGION_BITS
    }

    /// Whether issuances take the next free slot instead of a base computed from the serial.
    pub fn slotted(self) -> bool {
        matches!(self, Space::Cercarbono | Space::Isometric)
    }

    /// The region a global serial falls in.
    pub fn of_serial(serial: u64) -> Option<Space> {
        let index = serial >> REGION_BITS;
        Space::ALL.into_iter().find(|s| s.index() == index)
    }

    /// The space whose `external_ref` prefix begins `external_ref`.
    pub fn of_ref(external_ref: &str) -> Option<(Space, &str)> {
        let (prefix, rest) = external_ref.split_once(':')?;
        Space::ALL.into_iter().find(|s| s.prefix() == prefix).map(|s| (s, rest))
    }

    /// The crediting program projects of this space are registered under.
    pub fn program(self) -> Program {
        match self {
            Space::Verra => Program::Vcs,
            Space::GoldStandard | Space::Cdm => Program::GoldStandard,
            Space::Acr => Program::Acr,
            Space::Art => Program::Art,
            Space::Car => Program::Car,
            Space::Cercarbono => Program::Cercarbono,
            Space::Isometric => Program::Isometric,
        }
    }
}

/// Why a serial cannot be placed.
pub const OUT_OF_RANGE: &str = "serial_out_of_range";

/// The global serial of unit 0 of a batch of a numbered space (not Cercarbono or Isometric).
pub fn batch_base(space: Space, batch: u64) -> Result<u64, String> {
    match space {
        Space::Verra => Ok(space.base()),
        Space::GoldStandard | Space::Acr | Space::Art | Space::Car => {
            if batch >> (REGION_BITS - BATCH_BITS) != 0 {
                return Err(format!("batch {batch} is beyond the 2^28 batches Rasid reserves"));
            }
            Ok(space.base() | batch << BATCH_BITS)
        }
        Space::Cdm => Ok(space.base() | batch << CDM_PARTY_BITS),
        Space::Cercarbono | Space::Isometric => Err("this registry's batches take slots".into()),
    }
}

/// How many units a batch of `space` may number (exclusive bound).
pub fn units_limit(space: Space) -> u64 {
    match space {
        Space::Verra => 1 << REGION_BITS,
        Space::Cdm => 1 << CDM_PARTY_BITS,
        _ => 1 << BATCH_BITS,
    }
}

/// A CDM host party's two letters as a number below 676.
pub fn cdm_party(code: &str) -> Option<u64> {
    match code.as_bytes() {
        [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
            Some(u64::from(a - b'A') * 26 + u64::from(b - b'A'))
        }
        _ => None,
    }
}

/// The batch base of an imported issuance, from its first serial.
pub fn base_of_block(space: Space, first: u64) -> u64 {
    match space {
        Space::Verra => space.base(),
        Space::Cdm => first & !((1 << CDM_PARTY_BITS) - 1),
        _ => first & !((1 << BATCH_BITS) - 1),
    }
}

/// The base of the next free slot of a slotted space, above every serial in `used_lasts`
/// that lies in its region.
pub fn next_slot(space: Space, used_lasts: impl Iterator<Item = u64>) -> Option<u64> {
    let highest = used_lasts.filter(|l| Space::of_serial(*l) == Some(space)).max();
    let slot = match highest {
        None => 1,
        Some(l) => ((l - space.base()) >> BATCH_BITS).checked_add(1)?,
    };
    (slot < 1 << (REGION_BITS - BATCH_BITS)).then(|| space.base() | slot << BATCH_BITS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_never_overlap_and_fit() {
        for s in Space::ALL {
            let last = s.base() + ((1u64 << REGION_BITS) - 1);
            assert!(last < u64::MAX - 1);
            assert_eq!(Space::of_serial(s.base()), Some(s));
            assert_eq!(Space::of_serial(last), Some(s));
        }
        assert_eq!(Space::of_serial(5), None);
    }

    #[test]
    fn batches_and_slots() {
        let b = batch_base(Space::GoldStandard, 30307).unwrap();
        assert_eq!(base_of_block(Space::GoldStandard, b + 19149), b);
        assert!(batch_base(Space::Acr, 1 << 28).is_err());
        let first = next_slot(Space::Isometric, [5, Space::Verra.base() + 9].into_iter()).unwrap();
        assert_eq!(first, Space::Isometric.base() + (1 << 32));
        let second = next_slot(Space::Isometric, [first + 10].into_iter()).unwrap();
        assert_eq!(second, first + (1 << 32));
        assert_eq!(cdm_party("RW"), Some(17 * 26 + 22));
    }
}
