//! Text fields of the exports as the ledger accepts them: names without control characters and
//! within the engine's length limits, dates in one form, quantities with thousands separators.

use rasid_core::engine::{NAME_LEN_MAX, TEXT_LEN_MAX};
use rasid_core::model::Purpose;

/// A name the engine accepts: control characters become spaces, runs of spaces collapse, and
/// overlong text is cut at a character boundary with a visible `…`.
pub fn name(s: &str) -> String {
    clip(
        &s.split(|c: char| c.is_whitespace() || c.is_control())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        NAME_LEN_MAX,
    )
}

/// A note: newlines kept, other control characters dropped, cut to the engine's limit.
pub fn note(s: &str) -> String {
    let cleaned: String = s.chars().filter(|c| *c == '\n' || !c.is_control()).collect();
    clip(cleaned.trim(), TEXT_LEN_MAX)
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `2026-04-10`, `2026-04-10T12:35:58Z`, `2022-02-24 20:20:59` and `10/27/2025 7:10:41 PM` as
/// `YYYY-MM-DD`; anything else as written.
pub fn date(s: &str) -> String {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' {
        return s[..10].to_owned();
    }
    let day = s.split_whitespace().next().unwrap_or("");
    let parts: Vec<&str> = day.split('/').collect();
    if let [m, d, y] = parts[..]
        && let (Ok(m), Ok(d), Ok(y)) = (m.parse::<u8>(), d.parse::<u8>(), y.parse::<u16>())
        && (1..=12).contains(&m)
        && (1..=31).contains(&d)
    {
        return format!("{y:04}-{m:02}-{d:02}");
    }
    s.to_owned()
}

/// A whole number, optionally grouped with commas (`28,571`) or written as `2024.0`.
pub fn whole(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s.strip_suffix(".0").unwrap_or(s);
    let groups: Vec<&str> = s.split(',').collect();
    let grouped_ok = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3));
    if !grouped_ok || !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    groups.concat().parse().ok()
}

/// A vintage year the engine accepts.
pub fn year(s: &str) -> Option<u16> {
    whole(s.get(..4).unwrap_or(s)).and_then(|y| u16::try_from(y).ok()).filter(|y| {
        (rasid_core::engine::VINTAGE_YEAR_MIN..=rasid_core::engine::VINTAGE_YEAR_MAX).contains(y)
    })
}

/// The purpose a registry's reason maps to: CORSIA and NDC uses by name, compliance and carbon
/// tax uses as other, everything else voluntary.
pub fn purpose(reason: &str) -> Purpose {
    let r = reason.to_ascii_lowercase();
    if r.contains("corsia") {
        Purpose::Corsia
    } else if r.contains("ndc") {
        Purpose::Ndc
    } else if r.contains("compliance") || r.contains("tax") {
        Purpose::Other
    } else {
        Purpose::Voluntary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_dates() {
        assert_eq!(whole("28,571"), Some(28_571));
        assert_eq!(whole("1,454,054"), Some(1_454_054));
        assert_eq!(whole("2024.0"), Some(2024));
        assert_eq!(whole("28,57"), None);
        assert_eq!(whole("-3"), None);
        assert_eq!(whole(""), None);
        assert_eq!(date("10/27/2025 7:10:41 PM"), "2025-10-27");
        assert_eq!(date("2026-04-09T18:21:22.047712Z"), "2026-04-09");
        assert_eq!(name("a\nb\r\n  c"), "a b c");
        assert_eq!(name(&"x".repeat(500)).len(), NAME_LEN_MAX);
    }
}
