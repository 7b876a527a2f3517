//! Verra's VCU serials.
//!
//! Current form, thirteen fields separated by `-`:
//! `19309-936487628-936491271-VCS-VCU-1491-VER-RW-3-4150-01102024-31122024-1` — batch, first
//! unit, last unit, program (`VCS`), unit type (`VCU`), an issuance-level number, registry
//! operator (`VER`), country, sectoral scope, project id, vintage start and end (`DDMMYYYY`),
//! and whether the units carry an additional certification (`0` or `1`).
//!
//! Older serials, written when the registry was run by Markit (`MER`) or APX (`APX`), have
//! twelve fields: the same without the program, e.g.
//! `2316-97044262-97046261-VCU-007-MER-IN-1-169-01012010-31122010-0` (an illustration of the
//! shape; the exports in `testdata/` hold only current serials). Zero padding in any numeric
//! field is kept, so padded numbers round-trip.

use super::fields::split_upto;
use super::{Block, Code, Date, Digits, Family, Period, SerialError};
use std::fmt;

const FAMILY: Family = Family::Verra;

/// A Verra serial block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerraSerial {
    pub batch: Digits,
    pub block: Block,
    /// `VCS` in current serials; absent in the older twelve-field ones.
    pub program: Option<Code>,
    /// `VCU`.
    pub unit_type: Code,
    /// The number after the unit type. Verra does not document it; it is set per issuance (one
    /// project's issuances carry different values) and is kept as written.
    pub code: Digits,
    /// The registry operator that wrote the serial: `VER` (Verra), `MER` (Markit) or `APX`.
    pub operator: Code,
    pub country: Code,
    /// The VCS sectoral scope (1 to 16).
    pub scope: Digits,
    pub project: Digits,
    pub vintage: Period,
    /// The last field: `1` if the units carry an additional certification (such as CCB).
    pub additional_certification: bool,
}

/// Parses either form; see the module documentation.
pub fn parse(text: &str) -> Result<VerraSerial, SerialError> {
    let malformed = |detail| SerialError::Malformed { family: FAMILY, detail };
    let (f, n) = split_upto::<13>(text, b'-')
        .filter(|(_, n)| *n >= 12)
        .ok_or(malformed("expected 12 or 13 fields separated by '-'"))?;
    // The older form lacks the program; shift its fields so both forms index alike.
    let (program, rest) = if n == 13 {
        let program = Code::parse_letters(f[3], FAMILY, "the program (VCS) is not letters")?;
        (Some(program), &f[4..13])
    } else {
        (None, &f[3..12])
    };
    let digits = |i: usize, field| Digits::parse(rest[i], FAMILY, field);
    let first = Digits::parse(f[1], FAMILY, "first serial")?;
    let last = Digits::parse(f[2], FAMILY, "last serial")?;
    let start = Date::parse_ddmmyyyy(rest[6], "vintage start")?;
    let end = Date::parse_ddmmyyyy(rest[7], "vintage end")?;
    Ok(VerraSerial {
        batch: Digits::parse(f[0], FAMILY, "batch")?,
        block: Block::new(first, last)?,
        program,
        unit_type: Code::parse_letters(rest[0], FAMILY, "the unit type (VCU) is not letters")?,
        code: digits(1, "code")?,
        operator: Code::parse_letters(rest[2], FAMILY, "the registry operator is not letters")?,
        country: Code::parse_letters(rest[3], FAMILY, "the country is not letters")?,
        scope: digits(4, "sectoral scope")?,
        project: digits(5, "project")?,
        vintage: Period::new(start, end)?,
        additional_certification: match rest[8] {
            "0" => false,
            "1" => true,
            _ => return Err(malformed("the last field (additional certification) is not 0 or 1")),
        },
    })
}

impl fmt::Display for VerraSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}-", self.batch, self.block.first(), self.block.last())?;
        if let Some(program) = self.program {
            write!(f, "{program}-")?;
        }
        write!(
            f,
            "{}-{}-{}-{}-{}-{}-{}-{}-{}",
            self.unit_type,
            self.code,
            self.operator,
            self.country,
            self.scope,
            self.project,
            self.vintage.start().ddmmyyyy(),
            self.vintage.end().ddmmyyyy(),
            u8::from(self.additional_certification)
        )
    }
}
