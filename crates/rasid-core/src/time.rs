//! Timestamps as the engine sees them (milliseconds since the Unix epoch, UTC) rendered as
//! RFC 3339, without a calendar library.

/// Formats `ms` since the epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339(ms: i64) -> String {
    let [y, m, d, hour, minute, second, millis] = fields(ms);
    format!("{y:04}-{m:02}-{d:02}T{hour:02}:{minute:02}:{second:02}.{millis:03}Z")
}

/// The calendar fields of `ms` since the epoch, in UTC: year, month, day, hour, minute, second
/// and millisecond.
fn fields(ms: i64) -> [i64; 7] {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    [y, m, d, rem / 3600, (rem % 3600) / 60, rem % 60, millis]
}

/// The text [`rfc3339`] prints, as fixed-width bytes and without allocating, for the years it
/// prints with exactly four digits (0000–9999); `None` for any other. The HTTP server's
/// hand-written replies carry a time stamp each, and `format!` cost ≈ 3k instructions per call.
pub fn rfc3339_bytes(ms: i64) -> Option<[u8; 24]> {
    let [y, m, d, hour, minute, second, millis] = fields(ms);
    if !(0..=9999).contains(&y) {
        return None;
    }
    let mut out = *b"0000-00-00T00:00:00.000Z";
    // Writes `n` (non-negative, fewer than 10^width) as `width` decimal digits ending at `end`.
    let mut digits = |end: usize, width: usize, mut n: i64| {
        for at in (end - width..end).rev() {
            // A remainder of 10 is in 0..10, so the cast loses nothing.
            out[at] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    digits(4, 4, y);
    digits(7, 2, m);
    digits(10, 2, d);
    digits(13, 2, hour);
    digits(16, 2, minute);
    digits(19, 2, second);
    digits(23, 3, millis);
    Some(out)
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (UTC only) into ms since the epoch.
pub fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a UTC time like 2026-11-29T17:00:00Z");
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[b.len() - 1] != b'Z'
    {
        return Err(bad());
    }
    let num =
        |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<i64>().ok()).ok_or_else(bad);
    let (y, mo, d, h, mi, sec) =
        (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = match &s[19..s.len() - 1] {
        "" => 0,
        frac if frac.len() == 4 && frac.starts_with('.') => num(20..23)?,
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return Err(bad());
    }
    let days = days_from_civil(y, mo, d);
    if civil_from_days(days) != (y, mo, d) {
        return Err(bad());
    }
    Ok(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + millis)
}

/// Proleptic Gregorian date to days since 1970-01-01 (Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day), after Howard Hinnant's
/// published `civil_from_days` algorithm.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::{rfc3339, rfc3339_bytes};
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        // COP29 opened on 11 November 2024.
        assert_eq!(rfc3339(1_731_283_200_000), "2024-11-11T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn parse_round_trips_and_refuses_nonsense() {
        use super::parse_rfc3339;
        for ms in [0, 1_731_283_200_000, 951_782_400_123, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339(&rfc3339(ms)), Ok(ms));
        }
        assert_eq!(parse_rfc3339("2024-11-11T00:00:00Z"), Ok(1_731_283_200_000));
        for bad in [
            "2024-02-30T00:00:00Z",
            "2024-11-11 00:00:00Z",
            "2024-11-11T00:00:00+03:00",
            "",
            "2024-13-01T00:00:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    /// The fixed-width bytes are `rfc3339`'s text wherever the year has four digits, and absent
    /// elsewhere: at the edges of that range, around leap days and the epoch.
    #[test]
    fn bytes_are_the_text_at_the_edges() {
        let first = -62_167_219_200_000; // 0000-01-01T00:00:00.000Z
        let last = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
        for ms in [first, first + 1, last - 1, last, 0, -1, 1, 951_782_400_123, 951_868_799_999] {
            let bytes = rfc3339_bytes(ms).expect("a four-digit year");
            assert_eq!(std::str::from_utf8(&bytes).unwrap(), rfc3339(ms), "{ms}");
        }
        for ms in [first - 1, last + 1, i64::MIN, i64::MAX] {
            assert_eq!(rfc3339_bytes(ms), None, "{ms}");
        }
    }

    proptest! {
        #[test]
        fn bytes_are_the_text(ms in -62_167_219_200_000_i64..=253_402_300_799_999) {
            let bytes = rfc3339_bytes(ms).expect("a four-digit year");
            prop_assert_eq!(std::str::from_utf8(&bytes).unwrap(), rfc3339(ms));
        }

        #[test]
        fn bytes_are_absent_outside_four_digit_years(ms in any::<i64>()) {
            let text = rfc3339(ms);
            match rfc3339_bytes(ms) {
                Some(bytes) => prop_assert_eq!(std::str::from_utf8(&bytes).unwrap(), text),
                None => prop_assert!(text.len() != 24 || text.starts_with('-')),
            }
        }
    }
}
