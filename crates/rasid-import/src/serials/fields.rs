//! The field types every serial format is built from, and the allocation-free helpers that read
//! them. Each type keeps exactly what is needed to write its field back as the registry wrote it:
//! a number keeps its digit count (so "003" stays "003"), a code keeps its letters as they were.

use super::{Family, SerialError};
use std::fmt;

/// A number as a registry wrote it: its value and the number of digits it was written with, so
/// a zero-padded field formats back exactly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digits {
    value: u64,
    width: u8,
}

impl Digits {
    /// No field of any format is wider; `u64::MAX` has twenty digits.
    pub const WIDTH_MAX: u8 = 20;

    /// `value` written without padding.
    pub fn new(value: u64) -> Self {
        Self { value, width: digit_count(value) }
    }

    /// `value` zero-padded to `width` digits; `None` if it does not fit in that many digits or
    /// `width` exceeds [`Self::WIDTH_MAX`].
    pub fn padded(value: u64, width: u8) -> Option<Self> {
        (digit_count(value) <= width && width <= Self::WIDTH_MAX).then_some(Self { value, width })
    }

    pub fn value(self) -> u64 {
        self.value
    }

    /// How many digits the field was written with, leading zeros included.
    pub fn width(self) -> u8 {
        self.width
    }

    /// Reads a field of ASCII digits. `field` names it in the error.
    pub(crate) fn parse(
        text: &str,
        family: Family,
        field: &'static str,
    ) -> Result<Self, SerialError> {
        let bytes = text.as_bytes();
        if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(SerialError::NotDigits { family, field });
        }
        let width = u8::try_from(bytes.len())
            .ok()
            .filter(|w| *w <= Self::WIDTH_MAX)
            .ok_or(SerialError::NumberOutOfRange { field })?;
        let mut value: u64 = 0;
        for b in bytes {
            value = value
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .ok_or(SerialError::NumberOutOfRange { field })?;
        }
        Ok(Self { value, width })
    }
}

fn digit_count(mut value: u64) -> u8 {
    let mut n = 1;
    while value >= 10 {
        value /= 10;
        n += 1;
    }
    n
}

impl fmt::Display for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:0width$}", self.value, width = usize::from(self.width))
    }
}

impl fmt::Debug for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digits({self})")
    }
}

/// A short code (country, unit type, program, operator…) kept inline, in the letter case the
/// registry used: 1 to 15 ASCII letters or digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    len: u8,
    bytes: [u8; Code::LEN_MAX],
}

impl Code {
    pub const LEN_MAX: usize = 15;

    /// `None` unless `text` is 1 to 15 ASCII letters or digits.
    pub fn new(text: &str) -> Option<Self> {
        let src = text.as_bytes();
        if src.is_empty() || src.len() > Self::LEN_MAX || !src.iter().all(u8::is_ascii_alphanumeric)
        {
            return None;
        }
        let mut bytes = [0; Self::LEN_MAX];
        bytes[..src.len()].copy_from_slice(src);
        Some(Self { len: src.len() as u8, bytes })
    }

    /// Like [`Code::new`] but letters only, as for country and state codes.
    pub fn letters(text: &str) -> Option<Self> {
        if text.bytes().all(|b| b.is_ascii_alphabetic()) { Self::new(text) } else { None }
    }

    pub fn as_str(&self) -> &str {
        // Construction admits ASCII only, so this never falls back.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or("")
    }

    /// Reads a letters-only field, naming it in the error.
    pub(crate) fn parse_letters(
        text: &str,
        family: Family,
        detail: &'static str,
    ) -> Result<Self, SerialError> {
        Self::letters(text).ok_or(SerialError::Malformed { family, detail })
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({:?})", self.as_str())
    }
}

/// An inclusive range of serial numbers, `first ..= last`. Construction checks that `last` is
/// not below `first` and that the count fits in a `u64`, so [`Block::quantity`] cannot fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Block {
    first: Digits,
    last: Digits,
}

impl Block {
    pub fn new(first: Digits, last: Digits) -> Result<Self, SerialError> {
        let (a, b) = (first.value(), last.value());
        if b < a {
            return Err(SerialError::LastBeforeFirst { first: a, last: b });
        }
        if (b - a).checked_add(1).is_none() {
            return Err(SerialError::QuantityOverflow { first: a, last: b });
        }
        Ok(Self { first, last })
    }

    /// The first serial as written (with its padding).
    pub fn first(&self) -> Digits {
        self.first
    }

    pub fn last(&self) -> Digits {
        self.last
    }

    /// `last − first + 1`.
    pub fn quantity(&self) -> u64 {
        // `new` checked that this neither underflows nor saturates.
        (self.last.value() - self.first.value()).saturating_add(1)
    }
}

/// A calendar date (proleptic Gregorian), year 0 to 9999.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let valid = year <= 9999 && (1..=12).contains(&month) && day >= 1 && {
            let leap =
                year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
            day <= match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            }
        };
        valid.then_some(Self { year, month, day })
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    pub fn day(self) -> u8 {
        self.day
    }

    /// Reads Verra's `DDMMYYYY`.
    pub(crate) fn parse_ddmmyyyy(text: &str, field: &'static str) -> Result<Self, SerialError> {
        let b = text.as_bytes();
        if b.len() != 8 || !b.iter().all(u8::is_ascii_digit) {
            return Err(SerialError::InvalidDate { field });
        }
        let n = |i: usize| u16::from(b[i] - b'0');
        let day = n(0) * 10 + n(1);
        let month = n(2) * 10 + n(3);
        let year = n(4) * 1000 + n(5) * 100 + n(6) * 10 + n(7);
        Date::new(year, month as u8, day as u8).ok_or(SerialError::InvalidDate { field })
    }

    /// Writes Verra's `DDMMYYYY`.
    pub fn ddmmyyyy(self) -> impl fmt::Display {
        DdMmYyyy(self)
    }
}

struct DdMmYyyy(Date);

impl fmt::Display for DdMmYyyy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}{:02}{:04}", self.0.day, self.0.month, self.0.year)
    }
}

/// ISO 8601: `YYYY-MM-DD`.
impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Date({self})")
    }
}

/// A vintage period, `start ..= end`, with `start <= end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Period {
    start: Date,
    end: Date,
}

impl Period {
    pub fn new(start: Date, end: Date) -> Result<Self, SerialError> {
        if end < start {
            return Err(SerialError::VintageEndBeforeStart);
        }
        Ok(Self { start, end })
    }

    pub fn start(&self) -> Date {
        self.start
    }

    pub fn end(&self) -> Date {
        self.end
    }
}

/// Reads a vintage year written as exactly four digits (every format writes it so).
pub(crate) fn parse_year(text: &str, family: Family) -> Result<u16, SerialError> {
    let b = text.as_bytes();
    if b.len() != 4 || !b.iter().all(u8::is_ascii_digit) {
        return Err(SerialError::Malformed {
            family,
            detail: "the vintage is not a four-digit year",
        });
    }
    Ok(b.iter().fold(0, |y, d| y * 10 + u16::from(d - b'0')))
}

/// Splits `text` on `sep` into exactly `N` fields, without allocating; `None` for any other
/// count.
pub(crate) fn split_exact<const N: usize>(text: &str, sep: u8) -> Option<[&str; N]> {
    split_upto::<N>(text, sep).filter(|(_, n)| *n == N).map(|(fields, _)| fields)
}

/// Splits `text` on the ASCII byte `sep` into at most `N` fields; returns them and their count,
/// or `None` if there are more than `N`. A plain byte loop: on strings this short it is several
/// times cheaper than `str::split`, whose searcher dominated the parse time. Cutting next to an
/// ASCII byte always lands on a character boundary, so the slicing cannot panic.
pub(crate) fn split_upto<const N: usize>(text: &str, sep: u8) -> Option<([&str; N], usize)> {
    let mut out = [""; N];
    let mut count = 0;
    let mut start = 0;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if b == sep {
            *out.get_mut(count)? = &text[start..i];
            count += 1;
            start = i + 1;
        }
    }
    *out.get_mut(count)? = &text[start..];
    Some((out, count + 1))
}

/// Splits `… FIRST to LAST` into the text before ` to ` and `LAST`. The last field never holds a
/// space, so this looks only at the last space: cheaper than a substring search.
pub(crate) fn split_to(text: &str) -> Option<(&str, &str)> {
    let space = text.rfind(' ')?;
    Some((text[..space].strip_suffix(" to")?, &text[space + 1..]))
}
