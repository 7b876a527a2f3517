//! ACR's serials, which ART TREES also uses for ART and FCPF credits (both registries run on the
//! same platform).
//!
//! `ACR-US-1185-2025-3078-1 to 85847`: program (`ACR`, `ART` or `FCPF`), country, project id,
//! vintage year, batch, first unit, ` to `, last unit. Some older ACR serials join the last unit
//! with `-` instead (`ACR-US-192-2010-203-1-5000`); the separator is kept.

use super::fields::{parse_year, split_exact, split_to};
use super::{Block, Code, Digits, Family, Registry, SerialError};
use std::fmt;

const FAMILY: Family = Family::Acr;

/// How the last unit is joined to the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeSeparator {
    /// `… -1 to 85847`, in every serial of the exports.
    To,
    /// `…-1-5000`.
    Dash,
}

/// An ACR, ART or FCPF serial block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcrSerial {
    /// `ACR`, `ART` or `FCPF`: the program that issued the credits.
    pub program: Code,
    pub country: Code,
    pub project: Digits,
    pub vintage: u16,
    pub batch: Digits,
    pub block: Block,
    pub separator: RangeSeparator,
}

impl AcrSerial {
    /// ACR issues ACR credits; ART TREES issues ART and FCPF credits.
    pub fn registry(&self) -> Registry {
        if self.program.as_str() == "ACR" { Registry::Acr } else { Registry::ArtTrees }
    }
}

pub fn parse(text: &str) -> Result<AcrSerial, SerialError> {
    let malformed = |detail| SerialError::Malformed { family: FAMILY, detail };
    let (f, last, separator) = match split_to(text) {
        Some((head, last)) => {
            let f = split_exact::<6>(head, b'-')
                .ok_or(malformed("expected 6 fields separated by '-' before ' to '"))?;
            (f, last, RangeSeparator::To)
        }
        None => {
            let f = split_exact::<7>(text, b'-')
                .ok_or(malformed("expected 'PROGRAM-CC-PROJECT-YEAR-BATCH-FIRST to LAST'"))?;
            ([f[0], f[1], f[2], f[3], f[4], f[5]], f[6], RangeSeparator::Dash)
        }
    };
    let program = match f[0] {
        "ACR" | "ART" | "FCPF" => Code::new(f[0]).ok_or(malformed("unknown program"))?,
        _ => return Err(malformed("the program is not ACR, ART or FCPF")),
    };
    let first = Digits::parse(f[5], FAMILY, "first serial")?;
    Ok(AcrSerial {
        program,
        country: Code::parse_letters(f[1], FAMILY, "the country is not letters")?,
        project: Digits::parse(f[2], FAMILY, "project")?,
        vintage: parse_year(f[3], FAMILY)?,
        batch: Digits::parse(f[4], FAMILY, "batch")?,
        block: Block::new(first, Digits::parse(last, FAMILY, "last serial")?)?,
        separator,
    })
}

impl fmt::Display for AcrSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let separator = match self.separator {
            RangeSeparator::To => " to ",
            RangeSeparator::Dash => "-",
        };
        write!(
            f,
            "{}-{}-{}-{:04}-{}-{}{separator}{}",
            self.program,
            self.country,
            self.project,
            self.vintage,
            self.batch,
            self.block.first(),
            self.block.last()
        )
    }
}
