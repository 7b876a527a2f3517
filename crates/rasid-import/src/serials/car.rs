//! Climate Action Reserve's serials.
//!
//! `CAR-1-US-1335-31-983-KS-2025-9205-1 to 5000`: `CAR`, unit type (`1` for Climate Reserve
//! Tonnes, `ROC` for Registry Offset Credits bound for the California and Washington compliance
//! programs), country, project id, project type (the protocol's number: 42 is Forestry – MX in the
//! export), a further code, state or province, vintage year, batch, first unit, ` to `, last
//! unit.

use super::fields::{parse_year, split_exact, split_to};
use super::{Block, Code, Digits, Family, SerialError};
use std::fmt;

const FAMILY: Family = Family::Car;

/// A Climate Action Reserve serial block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarSerial {
    /// `1` or `ROC`.
    pub unit_type: Code,
    pub country: Code,
    pub project: Digits,
    /// The protocol's number; every project under one protocol shares it.
    pub project_type: Digits,
    /// The field after the project type. The Reserve does not document it: it differs between
    /// projects under one protocol and recurs across protocols, so it is kept as an opaque number.
    pub code: Digits,
    /// The state or province code (`KS`, `CA`…).
    pub state: Code,
    pub vintage: u16,
    pub batch: Digits,
    pub block: Block,
}

pub fn parse(text: &str) -> Result<CarSerial, SerialError> {
    let malformed = |detail| SerialError::Malformed { family: FAMILY, detail };
    let (head, last) = split_to(text).ok_or(malformed("expected '… FIRST to LAST' at the end"))?;
    let f = split_exact::<10>(head, b'-')
        .ok_or(malformed("expected 10 fields separated by '-' before ' to '"))?;
    if f[0] != "CAR" {
        return Err(malformed("the serial does not start with CAR"));
    }
    let digits = |i: usize, field| Digits::parse(f[i], FAMILY, field);
    let first = digits(9, "first serial")?;
    Ok(CarSerial {
        unit_type: Code::new(f[1]).ok_or(malformed("the unit type is not letters or digits"))?,
        country: Code::parse_letters(f[2], FAMILY, "the country is not letters")?,
        project: digits(3, "project")?,
        project_type: digits(4, "project type")?,
        code: digits(5, "code")?,
        state: Code::parse_letters(f[6], FAMILY, "the state is not letters")?,
        vintage: parse_year(f[7], FAMILY)?,
        batch: digits(8, "batch")?,
        block: Block::new(first, Digits::parse(last, FAMILY, "last serial")?)?,
    })
}

impl fmt::Display for CarSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CAR-{}-{}-{}-{}-{}-{}-{:04}-{}-{} to {}",
            self.unit_type,
            self.country,
            self.project,
            self.project_type,
            self.code,
            self.state,
            self.vintage,
            self.batch,
            self.block.first(),
            self.block.last()
        )
    }
}
