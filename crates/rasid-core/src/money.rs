//! Currencies and cash amounts in minor units.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A settlement currency. Every one Rasid supports has two decimal places.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Currency {
    Sar,
    Usd,
    Eur,
    Aed,
}

impl Currency {
    pub const ALL: [Currency; 4] = [Currency::Sar, Currency::Usd, Currency::Eur, Currency::Aed];

    /// The ISO 4217 code.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Sar => "SAR",
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Aed => "AED",
        }
    }

    /// Decimal places of the minor unit (halalas, cents, fils).
    pub fn minor_digits(self) -> u32 {
        2
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::str::FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::ALL
            .into_iter()
            .find(|c| c.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| format!("unsupported currency {s:?} (supported: SAR, USD, EUR, AED)"))
    }
}

/// Parses a decimal string such as `"37.50"` into minor units of `currency`. Used only at the
/// edges (CLI, API); the ledger itself never sees a decimal.
pub fn parse_minor(s: &str, currency: Currency) -> Result<i64, String> {
    let digits = currency.minor_digits() as usize;
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let ok_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !ok_digits(whole) || !ok_digits(frac) || frac.len() > digits {
        return Err(format!("{s:?} is not an amount with at most {digits} decimals"));
    }
    let mut padded = String::from(frac);
    while padded.len() < digits {
        padded.push('0');
    }
    let too_large = || format!("{s:?} is too large");
    let whole: i64 = whole.parse().map_err(|_| too_large())?;
    let frac: i64 = if padded.is_empty() { 0 } else { padded.parse().map_err(|_| too_large())? };
    whole
        .checked_mul(10_i64.pow(currency.minor_digits()))
        .and_then(|w| w.checked_add(frac))
        .ok_or_else(too_large)
}

/// Formats minor units as a decimal string, `3750` SAR → `"37.50"`.
pub fn format_minor(amount_minor: i128, currency: Currency) -> String {
    let scale = 10_i128.pow(currency.minor_digits());
    let sign = if amount_minor < 0 { "-" } else { "" };
    let abs = amount_minor.unsigned_abs();
    let scale_u = scale.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale_u,
        abs % scale_u,
        width = currency.minor_digits() as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_formats_sar() {
        assert_eq!(parse_minor("37.50", Currency::Sar), Ok(3750));
        assert_eq!(parse_minor("23.5", Currency::Sar), Ok(2350));
        assert_eq!(parse_minor("7", Currency::Sar), Ok(700));
        assert!(parse_minor("1.234", Currency::Sar).is_err());
        assert!(parse_minor("-1", Currency::Sar).is_err());
        assert!(parse_minor("99999999999999999999", Currency::Sar).is_err());
        assert_eq!(format_minor(3750, Currency::Sar), "37.50");
        assert_eq!(format_minor(-5, Currency::Usd), "-0.05");
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(minor in 0i64..=i64::MAX) {
            let s = format_minor(i128::from(minor), Currency::Usd);
            prop_assert_eq!(parse_minor(&s, Currency::Usd), Ok(minor));
        }
    }
}
