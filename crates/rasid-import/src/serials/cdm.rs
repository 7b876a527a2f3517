//! UN CDM serial pairs, as Gold Standard lists the CDM units (CERs) it holds.
//!
//! `RW-5-1463953-2-2-0-7014 - RW-5-1467609-2-2-0-7014`: the first and the last unit's serials
//! joined by ` - `. Each serial has the seven fields of the Kyoto Protocol registries' serials:
//! originating party (the host country), unit type (5 is a CER), unit serial number, original
//! and applicable commitment period, LULUCF activity (0 for none) and project id. The two halves
//! must agree in every field but the unit number; the structured value keeps them once.

use super::fields::split_exact;
use super::{Block, Code, Digits, Family, SerialError};
use std::fmt;

const FAMILY: Family = Family::Cdm;
const PAIR_SEPARATOR: &str = " - ";

/// A block of CDM units named by its first and last serial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CdmSerial {
    /// The originating party: the host country's ISO 3166 alpha-2 code.
    pub party: Code,
    /// The Kyoto unit type code; see [`CdmSerial::unit_type_name`].
    pub unit_type: Digits,
    pub block: Block,
    pub original_commitment_period: Digits,
    pub applicable_commitment_period: Digits,
    /// The LULUCF activity code; 0 for units not from land use.
    pub lulucf_activity: Digits,
    /// The CDM project's reference number.
    pub project: Digits,
}

impl CdmSerial {
    /// The unit type's name under the registries' data exchange standards.
    pub fn unit_type_name(&self) -> &'static str {
        match self.unit_type.value() {
            1 => "AAU",
            2 => "RMU",
            3 | 4 => "ERU",
            5 => "CER",
            6 => "tCER",
            7 => "lCER",
            _ => "unknown",
        }
    }
}

/// One half of a pair, before the halves are checked against each other.
struct Half {
    party: Code,
    unit_type: Digits,
    unit: Digits,
    original: Digits,
    applicable: Digits,
    lulucf: Digits,
    project: Digits,
}

pub fn parse(text: &str) -> Result<CdmSerial, SerialError> {
    let (a, b) = text.split_once(PAIR_SEPARATOR).ok_or(SerialError::Malformed {
        family: FAMILY,
        detail: "expected two serials joined by ' - '",
    })?;
    let (first, last) = (half(a, "first serial")?, half(b, "last serial")?);
    let same =
        |x: bool, field| if x { Ok(()) } else { Err(SerialError::MismatchedRange { field }) };
    // Fields compare with their padding, so a pair that formats back differently is refused.
    same(first.party == last.party, "originating party")?;
    same(first.unit_type == last.unit_type, "unit type")?;
    same(first.original == last.original, "original commitment period")?;
    same(first.applicable == last.applicable, "applicable commitment period")?;
    same(first.lulucf == last.lulucf, "LULUCF activity")?;
    same(first.project == last.project, "project")?;
    Ok(CdmSerial {
        party: first.party,
        unit_type: first.unit_type,
        block: Block::new(first.unit, last.unit)?,
        original_commitment_period: first.original,
        applicable_commitment_period: first.applicable,
        lulucf_activity: first.lulucf,
        project: first.project,
    })
}

fn half(text: &str, unit_field: &'static str) -> Result<Half, SerialError> {
    let f = split_exact::<7>(text, b'-').ok_or(SerialError::Malformed {
        family: FAMILY,
        detail: "each serial of the pair needs 7 fields separated by '-'",
    })?;
    let digits = |i: usize, field| Digits::parse(f[i], FAMILY, field);
    Ok(Half {
        party: Code::letters(f[0]).filter(|c| c.as_str().len() == 2).ok_or(
            SerialError::Malformed { family: FAMILY, detail: "the party is not a two-letter code" },
        )?,
        unit_type: digits(1, "unit type")?,
        unit: digits(2, unit_field)?,
        original: digits(3, "original commitment period")?,
        applicable: digits(4, "applicable commitment period")?,
        lulucf: digits(5, "LULUCF activity")?,
        project: digits(6, "project")?,
    })
}

impl CdmSerial {
    fn write_half(&self, f: &mut fmt::Formatter<'_>, unit: Digits) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}-{}-{}-{}-{}",
            self.party,
            self.unit_type,
            unit,
            self.original_commitment_period,
            self.applicable_commitment_period,
            self.lulucf_activity,
            self.project
        )
    }
}

impl fmt::Display for CdmSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_half(f, self.block.first())?;
        f.write_str(PAIR_SEPARATOR)?;
        self.write_half(f, self.block.last())
    }
}
