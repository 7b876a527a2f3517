//! Why a serial string was refused. Every error has a stable snake_case code for programs and a
//! message for people; none carries more than a few words of the input, so an error is cheap to
//! build even for hostile input.

use super::Family;
use std::fmt;

/// A serial string that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SerialError {
    /// The string is empty.
    Empty,
    /// The string is longer than [`super::SERIAL_LEN_MAX`] bytes.
    TooLong { len: usize },
    /// A character that no registry's serials contain: anything but printable ASCII.
    InvalidCharacter { position: usize, character: char },
    /// The string is not in any format this module knows.
    UnknownFormat,
    /// The string starts like a serial of `family` but does not follow that format.
    Malformed { family: Family, detail: &'static str },
    /// A field of a `family` serial that must be digits is not (same code as `Malformed`).
    NotDigits { family: Family, field: &'static str },
    /// A number does not fit in 64 bits (or has more than twenty digits).
    NumberOutOfRange { field: &'static str },
    /// A date field is not a calendar date.
    InvalidDate { field: &'static str },
    /// The vintage period ends before it starts.
    VintageEndBeforeStart,
    /// The last serial of a range is below the first.
    LastBeforeFirst { first: u64, last: u64 },
    /// The range holds more than `u64::MAX` units (only `0 ..= u64::MAX` does).
    QuantityOverflow { first: u64, last: u64 },
    /// The two halves of a CDM serial pair differ in a field other than the serial number.
    MismatchedRange { field: &'static str },
}

impl SerialError {
    /// The stable code, for JSON and for tests.
    pub fn code(&self) -> &'static str {
        match self {
            SerialError::Empty => "empty_serial",
            SerialError::TooLong { .. } => "serial_too_long",
            SerialError::InvalidCharacter { .. } => "invalid_character",
            SerialError::UnknownFormat => "unknown_format",
            SerialError::Malformed { .. } | SerialError::NotDigits { .. } => "malformed_serial",
            SerialError::NumberOutOfRange { .. } => "number_out_of_range",
            SerialError::InvalidDate { .. } => "invalid_date",
            SerialError::VintageEndBeforeStart => "vintage_end_before_start",
            SerialError::LastBeforeFirst { .. } => "last_before_first",
            SerialError::QuantityOverflow { .. } => "quantity_overflow",
            SerialError::MismatchedRange { .. } => "mismatched_range",
        }
    }
}

impl fmt::Display for SerialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SerialError::Empty => write!(f, "the serial is empty"),
            SerialError::TooLong { len } => write!(
                f,
                "the serial is {len} bytes long; serials are at most {} bytes",
                super::SERIAL_LEN_MAX
            ),
            SerialError::InvalidCharacter { position, character } => write!(
                f,
                "character {character:?} at byte {position} cannot be part of a serial (printable ASCII only)"
            ),
            SerialError::UnknownFormat => write!(
                f,
                "not a serial of a known registry (Verra, Gold Standard, CDM, ACR, ART, CAR, Cercarbono)"
            ),
            SerialError::Malformed { family, detail } => {
                write!(f, "not a valid {} serial: {detail}", family.name())
            }
            SerialError::NotDigits { family, field } => {
                write!(f, "not a valid {} serial: the {field} is not a number", family.name())
            }
            SerialError::NumberOutOfRange { field } => {
                write!(f, "the {field} does not fit in 64 bits")
            }
            SerialError::InvalidDate { field } => {
                write!(f, "the {field} is not a calendar date in DDMMYYYY form")
            }
            SerialError::VintageEndBeforeStart => {
                write!(f, "the vintage period ends before it starts")
            }
            SerialError::LastBeforeFirst { first, last } => {
                write!(f, "the last serial {last} is before the first serial {first}")
            }
            SerialError::QuantityOverflow { first, last } => write!(
                f,
                "the range {first} to {last} holds more units than a 64-bit count can hold"
            ),
            SerialError::MismatchedRange { field } => write!(
                f,
                "the two serials of the pair differ in their {field}; only the unit number may differ"
            ),
        }
    }
}

impl std::error::Error for SerialError {}
