//! Gold Standard's serials.
//!
//! `GS1-1-UG-GS11236-16-2024-30307-1-19149`, nine fields separated by `-`: the registry prefix
//! (`GS1`), a unit code (`1` in every serial seen), country, project id (`GS` and a number),
//! project type code, vintage year, batch, first unit and last unit. Older serials stop after
//! the batch (seven fields) and so name no range.

use super::fields::{parse_year, split_upto};
use super::{Block, Code, Digits, Family, SerialError};
use std::fmt;

const FAMILY: Family = Family::GoldStandard;

/// A Gold Standard serial, with or without a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoldStandardSerial {
    /// `GS1`: `GS` and a number.
    pub prefix: Code,
    /// The field after the prefix. Gold Standard does not document it; it is `1` in every serial
    /// of the export.
    pub unit_code: Digits,
    pub country: Code,
    /// The project's number, written after `GS` (`GS11236` is project 11236).
    pub project: Digits,
    /// Gold Standard's project type code (`16`: energy efficiency, domestic, in the export).
    pub project_type: Digits,
    pub vintage: u16,
    pub batch: Digits,
    /// `None` in the older seven-field serials.
    pub block: Option<Block>,
}

pub fn parse(text: &str) -> Result<GoldStandardSerial, SerialError> {
    let malformed = |detail| SerialError::Malformed { family: FAMILY, detail };
    let (f, n) = split_upto::<9>(text, b'-')
        .filter(|(_, n)| *n == 7 || *n == 9)
        .ok_or(malformed("expected 7 or 9 fields separated by '-'"))?;
    let prefix = Code::new(f[0])
        .filter(|c| c.as_str().strip_prefix("GS").is_some_and(|d| !d.is_empty()))
        .ok_or(malformed("the prefix is not GS and a number"))?;
    let project =
        f[3].strip_prefix("GS").ok_or(malformed("the project id does not start with GS"))?;
    let block = if n == 9 {
        let first = Digits::parse(f[7], FAMILY, "first serial")?;
        Some(Block::new(first, Digits::parse(f[8], FAMILY, "last serial")?)?)
    } else {
        None
    };
    Ok(GoldStandardSerial {
        prefix,
        unit_code: Digits::parse(f[1], FAMILY, "unit code")?,
        country: Code::parse_letters(f[2], FAMILY, "the country is not letters")?,
        project: Digits::parse(project, FAMILY, "project")?,
        project_type: Digits::parse(f[4], FAMILY, "project type")?,
        vintage: parse_year(f[5], FAMILY)?,
        batch: Digits::parse(f[6], FAMILY, "batch")?,
        block,
    })
}

impl fmt::Display for GoldStandardSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}-GS{}-{}-{:04}-{}",
            self.prefix,
            self.unit_code,
            self.country,
            self.project,
            self.project_type,
            self.vintage,
            self.batch
        )?;
        match self.block {
            Some(b) => write!(f, "-{}-{}", b.first(), b.last()),
            None => Ok(()),
        }
    }
}
