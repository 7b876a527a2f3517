//! The serial numbers of real carbon registries, parsed into structured values and written back
//! exactly as the registry wrote them.
//!
//! A registry names a block of credits with one string that packs the project, the vintage, a
//! batch and the range of unit numbers. Importing another registry's records, reconciling a
//! transfer or checking a retirement claim all start by reading that string, and every registry
//! writes it differently. [`parse_serial`] detects the format and returns a [`Serial`]; its
//! `Display` (and [`Serial::format`]) reproduces the input byte for byte, so a serial can be stored
//! structured and still be quoted to the registry that issued it.
//!
//! The formats, one module each, as they appear in the registries' public exports:
//! - [`verra`]: `19309-936487628-936491271-VCS-VCU-1491-VER-RW-3-4150-01102024-31122024-1`, and
//!   the older twelve-field form without `VCS`, written by the `MER` or `APX` registry operators.
//! - [`gold_standard`]: `GS1-1-UG-GS11236-16-2024-30307-1-19149`, and without the range.
//! - [`cdm`]: the UN CDM serial pairs (`RW-5-1463953-2-2-0-7014 - RW-5-1467609-2-2-0-7014`) of
//!   CDM units held in the Gold Standard registry.
//! - [`acr`]: `ACR-US-1185-2025-3078-1 to 85847`, also used by ART TREES for ART and FCPF credits.
//! - [`car`]: `CAR-1-US-1335-31-983-KS-2025-9205-1 to 5000`.
//! - [`cercarbono`]: `CDC_4_1_1_321_14_R1_XX_CO_1_2_2018`, whose range sits in separate columns.
//!
//! Parsing never panics and never allocates: fields are read in place and kept as small inline
//! values (numbers with their padding, codes of up to 15 letters), so a [`Serial`] is `Copy`.
//! Numbers are `u64` read with checked arithmetic.

pub mod acr;
pub mod bench;
pub mod car;
pub mod cdm;
pub mod cercarbono;
mod error;
mod fields;
pub mod gold_standard;
pub mod verra;

pub use error::SerialError;
pub use fields::{Block, Code, Date, Digits, Period};

use std::fmt;

/// The longest real serials are under 80 bytes; the limit leaves room for every field at its
/// widest plausible value and bounds the work any input can cause.
pub const SERIAL_LEN_MAX: usize = 256;

/// A parsed serial of any supported format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serial {
    Verra(verra::VerraSerial),
    GoldStandard(gold_standard::GoldStandardSerial),
    Cdm(cdm::CdmSerial),
    Acr(acr::AcrSerial),
    Car(car::CarSerial),
    Cercarbono(cercarbono::CercarbonoSerial),
}

/// The serial-number format, one per parser module.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Verra,
    GoldStandard,
    Cdm,
    Acr,
    Car,
    Cercarbono,
}

impl Family {
    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Verra => "verra",
            Family::GoldStandard => "gold_standard",
            Family::Cdm => "cdm",
            Family::Acr => "acr",
            Family::Car => "car",
            Family::Cercarbono => "cercarbono",
        }
    }

    /// The name people use.
    pub fn name(self) -> &'static str {
        match self {
            Family::Verra => "Verra",
            Family::GoldStandard => "Gold Standard",
            Family::Cdm => "UN CDM",
            Family::Acr => "ACR",
            Family::Car => "Climate Action Reserve",
            Family::Cercarbono => "Cercarbono",
        }
    }
}

/// The registry that assigned the serial numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Registry {
    Verra,
    GoldStandard,
    /// The UN CDM Registry. Its units also sit in other registries (Gold Standard's export
    /// lists some) under the serials the CDM Registry gave them.
    Cdm,
    /// American Carbon Registry.
    Acr,
    /// ART TREES, which also holds the FCPF's credits.
    ArtTrees,
    /// Climate Action Reserve.
    Car,
    Cercarbono,
}

impl Registry {
    /// A stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Registry::Verra => "verra",
            Registry::GoldStandard => "gold_standard",
            Registry::Cdm => "cdm",
            Registry::Acr => "acr",
            Registry::ArtTrees => "art_trees",
            Registry::Car => "car",
            Registry::Cercarbono => "cercarbono",
        }
    }

    /// The name people use.
    pub fn name(self) -> &'static str {
        match self {
            Registry::Verra => "Verra",
            Registry::GoldStandard => "Gold Standard",
            Registry::Cdm => "UN CDM Registry",
            Registry::Acr => "American Carbon Registry",
            Registry::ArtTrees => "ART TREES",
            Registry::Car => "Climate Action Reserve",
            Registry::Cercarbono => "Cercarbono",
        }
    }
}

/// What a serial says about when the reductions happened: a year, or (Verra) a period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vintage {
    Year(u16),
    Period(Period),
}

/// Detects the format of `text` and parses it. The input must be the serial exactly as the
/// registry wrote it: surrounding spaces are refused rather than trimmed, so that
/// `parse_serial(s)?.format() == s` always holds.
pub fn parse_serial(text: &str) -> Result<Serial, SerialError> {
    check_characters(text)?;
    match detect(text)? {
        Family::Verra => verra::parse(text).map(Serial::Verra),
        Family::GoldStandard => gold_standard::parse(text).map(Serial::GoldStandard),
        Family::Cdm => cdm::parse(text).map(Serial::Cdm),
        Family::Acr => acr::parse(text).map(Serial::Acr),
        Family::Car => car::parse(text).map(Serial::Car),
        Family::Cercarbono => cercarbono::parse(text).map(Serial::Cercarbono),
    }
}

/// Refuses empty, overlong and non-ASCII input before any format looks at it, so that parsers
/// can index bytes freely.
fn check_characters(text: &str) -> Result<(), SerialError> {
    if text.is_empty() {
        return Err(SerialError::Empty);
    }
    if text.len() > SERIAL_LEN_MAX {
        return Err(SerialError::TooLong { len: text.len() });
    }
    match text.bytes().position(|b| !(b' '..=b'~').contains(&b)) {
        None => Ok(()),
        Some(position) => Err(SerialError::InvalidCharacter {
            position,
            // Every byte before `position` is ASCII, so `position` starts a character.
            character: text[position..].chars().next().unwrap_or('\u{fffd}'),
        }),
    }
}

/// Picks the format from the serial's first field (the text up to the first `-`, `_` or space).
fn detect(text: &str) -> Result<Family, SerialError> {
    let end = text.bytes().position(|b| matches!(b, b'-' | b'_' | b' ')).unwrap_or(text.len());
    let head = &text[..end];
    let separator = text.as_bytes().get(end).copied();
    let all = |s: &str, f: fn(&u8) -> bool| !s.is_empty() && s.bytes().all(|b| f(&b));
    if all(head, u8::is_ascii_digit) {
        return Ok(Family::Verra);
    }
    if separator == Some(b'_') && all(head, u8::is_ascii_uppercase) {
        return Ok(Family::Cercarbono);
    }
    match head {
        "ACR" | "ART" | "FCPF" => return Ok(Family::Acr),
        "CAR" => return Ok(Family::Car),
        _ => {}
    }
    if head.strip_prefix("GS").is_some_and(|n| all(n, u8::is_ascii_digit)) {
        return Ok(Family::GoldStandard);
    }
    if head.len() == 2 && all(head, u8::is_ascii_uppercase) && text.contains(" - ") {
        return Ok(Family::Cdm);
    }
    Err(SerialError::UnknownFormat)
}

impl Serial {
    /// The serial exactly as the registry wrote it.
    pub fn format(&self) -> String {
        self.to_string()
    }

    pub fn family(&self) -> Family {
        match self {
            Serial::Verra(_) => Family::Verra,
            Serial::GoldStandard(_) => Family::GoldStandard,
            Serial::Cdm(_) => Family::Cdm,
            Serial::Acr(_) => Family::Acr,
            Serial::Car(_) => Family::Car,
            Serial::Cercarbono(_) => Family::Cercarbono,
        }
    }

    pub fn registry(&self) -> Registry {
        match self {
            Serial::Verra(_) => Registry::Verra,
            Serial::GoldStandard(_) => Registry::GoldStandard,
            Serial::Cdm(_) => Registry::Cdm,
            Serial::Acr(s) => s.registry(),
            Serial::Car(_) => Registry::Car,
            Serial::Cercarbono(_) => Registry::Cercarbono,
        }
    }

    /// The project's id in the issuing registry, as the serial writes it (`4150`, `GS11236`).
    pub fn project(&self) -> String {
        match self {
            Serial::Verra(s) => s.project.to_string(),
            Serial::GoldStandard(s) => format!("GS{}", s.project),
            Serial::Cdm(s) => s.project.to_string(),
            Serial::Acr(s) => s.project.to_string(),
            Serial::Car(s) => s.project.to_string(),
            Serial::Cercarbono(s) => s.project.to_string(),
        }
    }

    /// `None` for CDM serials, which carry commitment periods instead, and for Cercarbono
    /// serials written without a year.
    pub fn vintage(&self) -> Option<Vintage> {
        match self {
            Serial::Verra(s) => Some(Vintage::Period(s.vintage)),
            Serial::GoldStandard(s) => Some(Vintage::Year(s.vintage)),
            Serial::Cdm(_) => None,
            Serial::Acr(s) => Some(Vintage::Year(s.vintage)),
            Serial::Car(s) => Some(Vintage::Year(s.vintage)),
            Serial::Cercarbono(s) => s.year.map(Vintage::Year),
        }
    }

    /// The issuance batch the block belongs to, where the format names one.
    pub fn batch(&self) -> Option<Digits> {
        match self {
            Serial::Verra(s) => Some(s.batch),
            Serial::GoldStandard(s) => Some(s.batch),
            Serial::Acr(s) => Some(s.batch),
            Serial::Car(s) => Some(s.batch),
            Serial::Cdm(_) | Serial::Cercarbono(_) => None,
        }
    }

    /// The host country's code (ISO 3166 alpha-2 in every format that has one).
    pub fn country(&self) -> Option<Code> {
        match self {
            Serial::Verra(s) => Some(s.country),
            Serial::GoldStandard(s) => Some(s.country),
            Serial::Cdm(s) => Some(s.party),
            Serial::Acr(s) => Some(s.country),
            Serial::Car(s) => Some(s.country),
            Serial::Cercarbono(s) => s.country,
        }
    }

    /// The kind of unit, as the format names it (`VCU`, `CER`, `ROC`…), where it does.
    pub fn unit_type(&self) -> Option<String> {
        match self {
            Serial::Verra(s) => Some(s.unit_type.to_string()),
            Serial::GoldStandard(_) | Serial::Acr(_) | Serial::Cercarbono(_) => None,
            Serial::Cdm(s) => Some(s.unit_type_name().to_owned()),
            Serial::Car(s) => Some(s.unit_type.to_string()),
        }
    }

    /// The range of unit numbers, where the serial carries one.
    pub fn block(&self) -> Option<Block> {
        match self {
            Serial::Verra(s) => Some(s.block),
            Serial::GoldStandard(s) => s.block,
            Serial::Cdm(s) => Some(s.block),
            Serial::Acr(s) => Some(s.block),
            Serial::Car(s) => Some(s.block),
            Serial::Cercarbono(s) => s.block,
        }
    }

    pub fn first(&self) -> Option<u64> {
        self.block().map(|b| b.first().value())
    }

    pub fn last(&self) -> Option<u64> {
        self.block().map(|b| b.last().value())
    }

    /// `last − first + 1`, or `None` where the serial names no range.
    pub fn quantity(&self) -> Option<u64> {
        self.block().map(|b| b.quantity())
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Serial::Verra(s) => s.fmt(f),
            Serial::GoldStandard(s) => s.fmt(f),
            Serial::Cdm(s) => s.fmt(f),
            Serial::Acr(s) => s.fmt(f),
            Serial::Car(s) => s.fmt(f),
            Serial::Cercarbono(s) => s.fmt(f),
        }
    }
}

impl std::str::FromStr for Serial {
    type Err = SerialError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_serial(s)
    }
}

#[cfg(test)]
mod tests;
