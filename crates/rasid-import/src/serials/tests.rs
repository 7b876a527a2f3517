//! Tests of the field primitives. The formats themselves are tested through the public API in
//! `tests/serials_*.rs`.

use super::fields::{split_exact, split_to, split_upto};
use super::*;

#[test]
fn digits_keep_their_padding() {
    let d = Digits::parse("003", Family::Verra, "code").unwrap();
    assert_eq!((d.value(), d.width(), d.to_string()), (3, 3, "003".to_owned()));
    assert_eq!(Digits::new(0).to_string(), "0");
    assert_eq!(Digits::padded(42, 5).unwrap().to_string(), "00042");
    assert_eq!(Digits::padded(12345, 4), None, "too narrow for the value");
    assert_eq!(Digits::padded(1, 21), None, "wider than any field");
}

#[test]
fn digits_refuse_overflow_and_overlong_fields() {
    let max = Digits::parse("18446744073709551615", Family::Verra, "batch").unwrap();
    assert_eq!(max.value(), u64::MAX);
    let over = Digits::parse("18446744073709551616", Family::Verra, "batch");
    assert_eq!(over.unwrap_err().code(), "number_out_of_range");
    let long = Digits::parse("000000000000000000001", Family::Verra, "batch");
    assert_eq!(long.unwrap_err().code(), "number_out_of_range");
    for bad in ["", "12a", "-1", "+1", " 1"] {
        assert_eq!(
            Digits::parse(bad, Family::Verra, "batch").unwrap_err().code(),
            "malformed_serial",
            "{bad:?}"
        );
    }
}

#[test]
fn codes_are_short_ascii_alphanumerics() {
    assert_eq!(Code::new("VCU").unwrap().as_str(), "VCU");
    assert_eq!(Code::new("rOc1").unwrap().as_str(), "rOc1", "case is kept");
    assert!(Code::new("").is_none());
    assert!(Code::new("ABCDEFGHIJKLMNOP").is_none(), "16 letters");
    assert!(Code::new("A-B").is_none());
    assert!(Code::letters("R1").is_none());
}

#[test]
fn dates_are_calendar_dates() {
    assert_eq!(Date::parse_ddmmyyyy("29022024", "d").unwrap().to_string(), "2024-02-29");
    assert_eq!(Date::parse_ddmmyyyy("01102024", "d").unwrap().ddmmyyyy().to_string(), "01102024");
    for bad in ["29022023", "31042024", "00012024", "01132024", "0101202", "01-12024", "29021900"] {
        assert_eq!(Date::parse_ddmmyyyy(bad, "d").unwrap_err().code(), "invalid_date", "{bad}");
    }
    assert!(Date::new(2000, 2, 29).is_some(), "2000 is a leap year");
}

#[test]
fn blocks_check_order_and_count() {
    let d = Digits::new;
    assert_eq!(Block::new(d(5), d(5)).unwrap().quantity(), 1);
    assert_eq!(Block::new(d(6), d(5)).unwrap_err().code(), "last_before_first");
    assert_eq!(Block::new(d(0), d(u64::MAX)).unwrap_err().code(), "quantity_overflow");
    assert_eq!(Block::new(d(1), d(u64::MAX)).unwrap().quantity(), u64::MAX);
}

#[test]
fn splitting_counts_fields_exactly() {
    assert_eq!(split_exact::<3>("a-b-c", b'-'), Some(["a", "b", "c"]));
    assert_eq!(split_exact::<3>("a-b", b'-'), None);
    assert_eq!(split_exact::<3>("a-b-c-d", b'-'), None);
    assert_eq!(split_upto::<3>("a-b", b'-'), Some((["a", "b", ""], 2)));
    assert_eq!(split_upto::<3>("a-b-c-d", b'-'), None);
    assert_eq!(split_to("A-1 to 5"), Some(("A-1", "5")));
    assert_eq!(split_to("A-1 to 5 to 6"), Some(("A-1 to 5", "6")));
    assert_eq!(split_to("A-1 to"), None);
    assert_eq!(split_to("A-1 5"), None);
}

#[test]
fn every_template_parses_and_round_trips() {
    for t in bench::TEMPLATES {
        let s = parse_serial(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(s.format(), t);
    }
    assert_eq!(bench::corpus(100).len(), 100);
}
