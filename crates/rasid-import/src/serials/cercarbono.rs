//! Cercarbono's serials, from its EcoRegistry exports.
//!
//! A Cercarbono serial names an issuance, not a range: `CDC_4_1_1_321_14_R1_XX_CO_1_2_2018`.
//! Fields are separated by `_`:
//! - the prefix: `CDC` (Cercarbono carbon certificates) or `IC` in the export, optionally followed
//!   by a marker letter (`CDC_R_31_…`);
//! - the project id;
//! - three codes Cercarbono does not document, then the sector id (`14` is land use, matching
//!   the sector ids in the projects export);
//! - in newer serials, two further tokens (`R1_XX`, `R6_XX`, `XX_XX`), then the country (`CO`)
//!   and a number that is 1 or 2 in the export (written before the verification);
//! - the verification number (the export's `verification` column in 96 of its 100 rows; the
//!   other four list units of a verification-3 serial under verification 4);
//! - optionally a buffer mark (`BF`, `BFC`, `BFI`) and the vintage year, in either order.
//!
//! The retirements export gives the range in separate `from` and `to` columns;
//! [`parse_with_range`] reads all three, and [`CercarbonoSerial::block`] writes them back.

use super::fields::{parse_year, split_upto};
use super::{Block, Code, Digits, Family, SerialError};
use std::fmt;

const FAMILY: Family = Family::Cercarbono;
/// The most `_`-separated fields a serial can have: prefix, marker, project, 4 codes, 2 extra
/// tokens, country, number, verification, buffer mark, year, trailing buffer mark.
const FIELDS_MAX: usize = 15;

/// Where a buffer mark stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BufferMark {
    /// `…_2018_BF`, or `…_1_BF` when there is no year.
    Trailing(Code),
    /// `…_BFC_2018`; only written when the serial has a year.
    BeforeYear(Code),
}

impl BufferMark {
    pub fn code(&self) -> Code {
        match self {
            BufferMark::Trailing(c) | BufferMark::BeforeYear(c) => *c,
        }
    }
}

/// A Cercarbono issuance serial, with the range from the export's columns where known.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CercarbonoSerial {
    /// `CDC` or `IC`.
    pub prefix: Code,
    /// A letter between the prefix and the project (`R` in `CDC_R_31_…`).
    pub marker: Option<Code>,
    pub project: Digits,
    /// The three codes after the project, in order.
    pub codes: [Digits; 3],
    /// Cercarbono's sector id (`14`: land use).
    pub sector: Digits,
    /// The two tokens some newer serials carry before the country (`R1`, `XX`).
    pub extra: Option<[Code; 2]>,
    /// The country and the number written after it, in newer serials.
    pub country: Option<Code>,
    pub country_number: Option<Digits>,
    /// The verification the units were issued under (see the module documentation for the four
    /// rows of the export that say otherwise).
    pub verification: Digits,
    pub buffer: Option<BufferMark>,
    pub year: Option<u16>,
    /// From the export's `from` and `to` columns; `None` when parsed from the serial alone.
    pub block: Option<Block>,
}

impl CercarbonoSerial {
    /// Whether the units are a buffer contribution (`BF`, `BFC`, `BFI`).
    pub fn is_buffer(&self) -> bool {
        self.buffer.is_some()
    }
}

/// Parses the serial column alone.
pub fn parse(text: &str) -> Result<CercarbonoSerial, SerialError> {
    let malformed = |detail| SerialError::Malformed { family: FAMILY, detail };
    let (f, n) = split_upto::<FIELDS_MAX>(text, b'_').ok_or(malformed("too many fields"))?;
    let fields = &f[..n];
    let prefix = Code::parse_letters(fields[0], FAMILY, "the prefix is not letters")?;
    let marker = Code::letters(fields.get(1).copied().unwrap_or(""));
    let head = if marker.is_some() { 2 } else { 1 };
    let numbers = fields
        .get(head..head + 5)
        .ok_or(malformed("expected the project, three codes and the sector after the prefix"))?;
    let num = |i: usize, field| Digits::parse(numbers[i], FAMILY, field);
    let tail = parse_tail(&fields[head + 5..])?;
    Ok(CercarbonoSerial {
        prefix,
        marker,
        project: num(0, "project")?,
        codes: [num(1, "code")?, num(2, "code")?, num(3, "code")?],
        sector: num(4, "sector")?,
        extra: tail.extra,
        country: tail.country,
        country_number: tail.country_number,
        verification: tail.verification,
        buffer: tail.buffer,
        year: tail.year,
        block: None,
    })
}

/// Parses the serial and the export's `from` and `to` columns (inclusive, as in every other
/// format; the quantity column equals `to − from + 1`).
pub fn parse_with_range(text: &str, from: &str, to: &str) -> Result<CercarbonoSerial, SerialError> {
    let mut serial = parse(text)?;
    let first = Digits::parse(from, FAMILY, "first serial")?;
    serial.block = Some(Block::new(first, Digits::parse(to, FAMILY, "last serial")?)?);
    Ok(serial)
}

/// The fields after the sector.
struct Tail {
    extra: Option<[Code; 2]>,
    country: Option<Code>,
    country_number: Option<Digits>,
    verification: Digits,
    buffer: Option<BufferMark>,
    year: Option<u16>,
}

/// Reads the tail from its end, where its optional parts are told apart by shape: a trailing
/// buffer mark, then a four-digit year (only when something precedes it), then a buffer mark
/// before the year, the verification, a country with its number, and the two extra tokens.
/// A four-digit last field is always the year, so a verification number of four digits can only
/// be written with a year after it; no serial in the export comes near that.
fn parse_tail(mut rest: &[&str]) -> Result<Tail, SerialError> {
    let malformed = |detail| SerialError::Malformed { family: FAMILY, detail };
    let mut buffer = pop_if(&mut rest, buffer_code).map(BufferMark::Trailing);
    let year_text = match rest {
        [.., _, last] if last.len() == 4 && last.bytes().all(|b| b.is_ascii_digit()) => Some(*last),
        _ => None,
    };
    let year = match year_text {
        Some(y) => {
            rest = &rest[..rest.len() - 1];
            if buffer.is_none() {
                buffer = pop_if(&mut rest, buffer_code).map(BufferMark::BeforeYear);
            }
            Some(parse_year(y, FAMILY)?)
        }
        None => None,
    };
    let (&verification, before) =
        rest.split_last().ok_or(malformed("the verification number is missing"))?;
    rest = before;
    let (country, country_number) = match rest {
        [.., c, d] if is_country(c) && is_number(d) => {
            let pair = (Code::letters(c), Some(Digits::parse(d, FAMILY, "country number")?));
            rest = &rest[..rest.len() - 2];
            pair
        }
        _ => (None, None),
    };
    let extra = match rest {
        [] => None,
        [a, b] => Some([extra_token(a)?, extra_token(b)?]),
        _ => return Err(malformed("unexpected fields between the sector and the verification")),
    };
    Ok(Tail {
        extra,
        country,
        country_number,
        verification: Digits::parse(verification, FAMILY, "verification")?,
        buffer,
        year,
    })
}

/// Removes and returns the last field if `accept` makes a code of it.
fn pop_if(rest: &mut &[&str], accept: fn(&str) -> Option<Code>) -> Option<Code> {
    let (last, before) = rest.split_last()?;
    let code = accept(last)?;
    *rest = before;
    Some(code)
}

fn buffer_code(text: &str) -> Option<Code> {
    Code::letters(text).filter(|_| text.starts_with("BF"))
}

fn is_country(text: &str) -> bool {
    text.len() == 2 && text.bytes().all(|b| b.is_ascii_uppercase())
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// An extra token holds a letter, which keeps it apart from the country's number.
fn extra_token(text: &str) -> Result<Code, SerialError> {
    Code::new(text).filter(|_| text.bytes().any(|b| b.is_ascii_alphabetic())).ok_or(
        SerialError::Malformed { family: FAMILY, detail: "an extra field is not a letter code" },
    )
}

impl fmt::Display for CercarbonoSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.prefix)?;
        if let Some(m) = self.marker {
            write!(f, "_{m}")?;
        }
        let [a, b, c] = self.codes;
        write!(f, "_{}_{a}_{b}_{c}_{}", self.project, self.sector)?;
        if let Some([x, y]) = self.extra {
            write!(f, "_{x}_{y}")?;
        }
        if let (Some(c), Some(n)) = (self.country, self.country_number) {
            write!(f, "_{c}_{n}")?;
        }
        write!(f, "_{}", self.verification)?;
        if let Some(BufferMark::BeforeYear(mark)) = self.buffer {
            write!(f, "_{mark}")?;
        }
        if let Some(year) = self.year {
            write!(f, "_{year:04}")?;
        }
        if let Some(BufferMark::Trailing(mark)) = self.buffer {
            write!(f, "_{mark}")?;
        }
        Ok(())
    }
}
