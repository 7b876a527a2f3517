//! Property tests: generated serials of every format format and parse back to the same structured
//! value, any string the parser accepts formats back to itself, and no input makes it panic.

use proptest::prelude::*;
use rasid_import::serials::acr::{AcrSerial, RangeSeparator};
use rasid_import::serials::car::CarSerial;
use rasid_import::serials::cdm::CdmSerial;
use rasid_import::serials::cercarbono::{self, BufferMark, CercarbonoSerial};
use rasid_import::serials::gold_standard::GoldStandardSerial;
use rasid_import::serials::verra::VerraSerial;
use rasid_import::serials::{
    Block, Code, Date, Digits, Period, SERIAL_LEN_MAX, Serial, bench, parse_serial,
};

/// Numbers small and large, sometimes zero-padded.
fn digits() -> impl Strategy<Value = Digits> {
    let value = prop_oneof![0u64..1_000, 0u64..10_000_000, any::<u64>()];
    (value, 0u8..3)
        .prop_filter_map("too wide", |(v, pad)| Digits::padded(v, Digits::new(v).width() + pad))
}

/// Numbers of at most three digits (Cercarbono's verification, which a year could shadow).
fn small_digits() -> impl Strategy<Value = Digits> {
    (0u64..1_000, 0u8..2).prop_filter_map("too wide", |(v, pad)| {
        Digits::padded(v, (Digits::new(v).width() + pad).min(3))
    })
}

fn block() -> impl Strategy<Value = Block> {
    (digits(), prop_oneof![Just(0u64), 0u64..1_000_000, any::<u64>()], 0u8..2).prop_filter_map(
        "past u64::MAX",
        |(first, len, pad)| {
            let last = first.value().checked_add(len)?;
            let last = Digits::padded(last, Digits::new(last).width() + pad)?;
            Block::new(first, last).ok()
        },
    )
}

fn code(pattern: &'static str) -> impl Strategy<Value = Code> {
    pattern.prop_map(|s| Code::new(&s).expect("the pattern makes codes"))
}

fn year() -> impl Strategy<Value = u16> {
    prop_oneof![1990u16..2100, 0u16..=9999]
}

fn date() -> impl Strategy<Value = Date> {
    (year(), 1u8..=12, 1u8..=31).prop_filter_map("not a date", |(y, m, d)| Date::new(y, m, d))
}

fn period() -> impl Strategy<Value = Period> {
    (date(), date()).prop_map(|(a, b)| Period::new(a.min(b), a.max(b)).expect("ordered"))
}

prop_compose! {
    fn verra()(
        batch in digits(), block in block(), program in proptest::option::of(code("VCS|[A-Z]{1,5}")),
        unit_type in code("VCU|[A-Z]{1,4}"), code_ in digits(), operator in code("VER|MER|APX"),
        country in code("[A-Z]{2}"), scope in digits(), project in digits(), vintage in period(),
        additional_certification in any::<bool>(),
    ) -> VerraSerial {
        VerraSerial {
            batch, block, program, unit_type, code: code_, operator, country, scope, project,
            vintage, additional_certification,
        }
    }
}

prop_compose! {
    fn gold_standard()(
        prefix in code("GS[0-9]{1,3}"), unit_code in digits(), country in code("[A-Z]{2}"),
        project in digits(), project_type in digits(), vintage in year(), batch in digits(),
        block in proptest::option::of(block()),
    ) -> GoldStandardSerial {
        GoldStandardSerial { prefix, unit_code, country, project, project_type, vintage, batch, block }
    }
}

prop_compose! {
    fn cdm()(
        party in code("[A-Z]{2}"), unit_type in digits(), block in block(),
        original_commitment_period in digits(), applicable_commitment_period in digits(),
        lulucf_activity in digits(), project in digits(),
    ) -> CdmSerial {
        CdmSerial {
            party, unit_type, block, original_commitment_period, applicable_commitment_period,
            lulucf_activity, project,
        }
    }
}

prop_compose! {
    fn acr()(
        program in code("ACR|ART|FCPF"), country in code("[A-Z]{2}"), project in digits(),
        vintage in year(), batch in digits(), block in block(),
        dash in any::<bool>(),
    ) -> AcrSerial {
        let separator = if dash { RangeSeparator::Dash } else { RangeSeparator::To };
        AcrSerial { program, country, project, vintage, batch, block, separator }
    }
}

prop_compose! {
    fn car()(
        unit_type in code("1|ROC|[A-Z0-9]{1,5}"), country in code("[A-Z]{2}"),
        project in digits(), project_type in digits(), code_ in digits(),
        state in code("[A-Z]{2,3}"), vintage in year(), batch in digits(), block in block(),
    ) -> CarSerial {
        CarSerial {
            unit_type, country, project, project_type, code: code_, state, vintage, batch, block,
        }
    }
}

fn buffer_mark(has_year: bool) -> impl Strategy<Value = Option<BufferMark>> {
    let mark = code("BF[A-Z]{0,2}");
    proptest::option::of((mark, any::<bool>())).prop_map(move |m| {
        m.map(
            |(c, before)| {
                if before && has_year { BufferMark::BeforeYear(c) } else { BufferMark::Trailing(c) }
            },
        )
    })
}

prop_compose! {
    fn cercarbono_parts()(
        prefix in code("CDC|IC|[A-Z]{1,4}"), marker in proptest::option::of(code("R|[A-Z]{1,2}")),
        project in digits(), codes in [digits(), digits(), digits()], sector in digits(),
        extra in proptest::option::of([code("[A-Z][A-Z0-9]{0,2}"), code("[A-Z][A-Z0-9]{0,2}")]),
        country in proptest::option::of((code("[A-Z]{2}"), digits())),
        verification in small_digits(), year in proptest::option::of(1990u16..2100),
        block in proptest::option::of(block()),
    ) -> CercarbonoSerial {
        CercarbonoSerial {
            prefix, marker, project, codes, sector, extra,
            country: country.map(|c| c.0), country_number: country.map(|c| c.1),
            verification, buffer: None, year, block,
        }
    }
}

fn cercarbono() -> impl Strategy<Value = CercarbonoSerial> {
    cercarbono_parts().prop_flat_map(|s| {
        buffer_mark(s.year.is_some()).prop_map(move |buffer| CercarbonoSerial { buffer, ..s })
    })
}

fn any_serial() -> impl Strategy<Value = Serial> {
    prop_oneof![
        verra().prop_map(Serial::Verra),
        gold_standard().prop_map(Serial::GoldStandard),
        cdm().prop_map(Serial::Cdm),
        acr().prop_map(Serial::Acr),
        car().prop_map(Serial::Car),
        cercarbono().prop_map(Serial::Cercarbono),
    ]
}

/// Parses a generated serial back, through the columns for a ranged Cercarbono serial.
fn reparse(serial: &Serial, text: &str) -> Result<Serial, String> {
    let parsed = match serial {
        Serial::Cercarbono(CercarbonoSerial { block: Some(b), .. }) => {
            let (from, to) = (b.first().to_string(), b.last().to_string());
            cercarbono::parse_with_range(text, &from, &to).map(Serial::Cercarbono)
        }
        _ => parse_serial(text),
    };
    parsed.map_err(|e| format!("{text:?}: {}: {e}", e.code()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Formatting then parsing gives back every structured field (the values compare whole).
    #[test]
    fn formatted_serials_parse_back_to_the_same_fields(serial in any_serial()) {
        let text = serial.format();
        if text.len() > SERIAL_LEN_MAX {
            // Only numbers near u64::MAX in every field get here; the limit refuses them whole.
            let err = parse_serial(&text).unwrap_err();
            prop_assert_eq!(err.code(), "serial_too_long");
            return Ok(());
        }
        let parsed = reparse(&serial, &text).map_err(TestCaseError::fail)?;
        prop_assert_eq!(&parsed, &serial);
        prop_assert_eq!(parsed.format(), text);
        prop_assert_eq!(parsed.family(), serial.family());
        prop_assert_eq!(parsed.quantity(), serial.block().map(|b| b.quantity()));
    }

    /// Whatever the parser accepts, it writes back byte for byte; and nothing makes it panic.
    #[test]
    fn accepted_strings_format_back_to_themselves(text in "[A-Z0-9a-z_ -]{0,80}|.{0,80}") {
        if let Ok(serial) = parse_serial(&text) {
            prop_assert_eq!(serial.format(), text);
        }
    }

    /// Real serials with one character changed, inserted or removed: the near misses a parser
    /// is most likely to get wrong.
    #[test]
    fn mutated_real_serials_never_panic_and_round_trip_if_accepted(
        template in 0..bench::TEMPLATES.len(),
        at in any::<prop::sample::Index>(),
        edit in 0u8..3,
        c in prop_oneof![Just('-'), Just('_'), Just(' '), Just('0'), Just('9'), Just('A'), any::<char>()],
    ) {
        let mut chars: Vec<char> = bench::TEMPLATES[template].chars().collect();
        let i = at.index(chars.len());
        match edit {
            0 => chars[i] = c,
            1 => chars.insert(i, c),
            _ => { chars.remove(i); }
        }
        let text: String = chars.into_iter().collect();
        if let Ok(serial) = parse_serial(&text) {
            prop_assert_eq!(serial.format(), text);
        }
    }
}

/// Each bad input gets its own error code.
#[test]
fn bad_input_gets_the_right_error_code() {
    let long = "1".repeat(SERIAL_LEN_MAX + 1);
    let cases: &[(&str, &str)] = &[
        ("", "empty_serial"),
        (&long, "serial_too_long"),
        // Unicode junk and control characters.
        ("ACR-US-1185-2025-3078-1 to 85847é", "invalid_character"),
        ("１９３０９-1-2", "invalid_character"),
        ("رصيد", "invalid_character"),
        ("GS1-1-UG-GS11236-16-2024-30307-1-19149\n", "invalid_character"),
        ("ACR-US-1185-2025-3078-1\tto 85847", "invalid_character"),
        ("\u{0}", "invalid_character"),
        ("🌳-1-2", "invalid_character"),
        // Nothing any registry writes.
        ("hello", "unknown_format"),
        ("   ", "unknown_format"),
        (" ACR-US-1185-2025-3078-1 to 85847", "unknown_format"),
        ("VCS-VCU-262-VER-BR-14-1686-01012017", "unknown_format"),
        ("CAOD1007-A", "unknown_format"),
        ("iss_1KP6EDZ8K1S036PY", "unknown_format"),
        ("ACR1185", "unknown_format"),
        ("XY-5-1-2-2-0-7014", "unknown_format"),
        // Malformed serials of a known format.
        ("19309-936487628", "malformed_serial"),
        (
            "19309-936487628-936491271-VCS-VCU-1491-VER-RW-3-4150-01102024-31122024-2",
            "malformed_serial",
        ),
        (
            "19309-936487628-936491271-VCS-VCU-1491-VER-RW-3-4150-01102024-31122024-1 ",
            "malformed_serial",
        ),
        (
            "19309-936487628-936491271-VCS-VCU-1491-VER-R1-3-4150-01102024-31122024-1",
            "malformed_serial",
        ),
        (
            "19309-936487628-936491271-VCS-VCU-1491-VER-RW-3-4150-01102024-31122024-1-1",
            "malformed_serial",
        ),
        (
            "19309-9364876x8-936491271-VCS-VCU-1491-VER-RW-3-4150-01102024-31122024-1",
            "malformed_serial",
        ),
        ("GS1-1-UG-GS11236-16-2024", "malformed_serial"),
        ("GS1-1-UG-11236-16-2024-30307-1-19149", "malformed_serial"),
        ("GS1-1-UG-GS11236-16-24-30307-1-19149", "malformed_serial"),
        ("GS1-1-UG-GS11236-16-2024-30307-1", "malformed_serial"),
        ("ACR-US-1185-2025-3078-1 to", "malformed_serial"),
        ("ACR-US-1185-2025-3078-1 to 5 to 6", "malformed_serial"),
        ("ACR-US-1185-25-3078-1 to 85847", "malformed_serial"),
        ("ACR-US-1185-2025-1 to 85847", "malformed_serial"),
        ("CAR-1-US-1335-31-983-KS-2025-9205-1-5000", "malformed_serial"),
        ("CAR-1-US-1335-31-983-2025-9205-1 to 5000", "malformed_serial"),
        ("RW-5-1463953-2-2-0 - RW-5-1467609-2-2-0-7014", "malformed_serial"),
        ("RW-5-1463953-2-2-0-7014 - ", "malformed_serial"),
        ("CDC_1", "malformed_serial"),
        ("CDC_1_1_1_321_14", "malformed_serial"),
        ("CDC_1_1_1_321_14_CO_1", "malformed_serial"),
        ("CDC_1_1_1_321_14_A_B_C_1", "malformed_serial"),
        ("CDC_1_1_1_321_14_1_BF_BF", "malformed_serial"),
        // Numbers out of range.
        (
            "99999999999999999999-1-2-VCS-VCU-1-VER-RW-3-4150-01102024-31122024-1",
            "number_out_of_range",
        ),
        ("ACR-US-1-2025-1-1 to 18446744073709551616", "number_out_of_range"),
        ("ACR-US-1-2025-1-1 to 000000000000000000001", "number_out_of_range"),
        // Ranges backwards, or too big to count.
        (
            "19309-936491271-936487628-VCS-VCU-1491-VER-RW-3-4150-01102024-31122024-1",
            "last_before_first",
        ),
        ("GS1-1-UG-GS11236-16-2024-30307-19149-1", "last_before_first"),
        ("ACR-US-1185-2025-3078-100 to 1", "last_before_first"),
        ("CAR-1-US-1335-31-983-KS-2025-9205-5000 to 1", "last_before_first"),
        ("RW-5-1467609-2-2-0-7014 - RW-5-1463953-2-2-0-7014", "last_before_first"),
        ("ACR-US-1-2025-1-0 to 18446744073709551615", "quantity_overflow"),
        ("CAR-1-US-1-1-1-KS-2025-1-0 to 18446744073709551615", "quantity_overflow"),
        // Dates.
        ("19309-1-2-VCS-VCU-1491-VER-RW-3-4150-31022024-31122024-1", "invalid_date"),
        ("19309-1-2-VCS-VCU-1491-VER-RW-3-4150-0110202-31122024-1", "invalid_date"),
        ("19309-1-2-VCS-VCU-1491-VER-RW-3-4150-01012025-31122024-1", "vintage_end_before_start"),
        // CDM pairs whose halves disagree.
        ("RW-5-1463953-2-2-0-7014 - RW-5-1467609-2-2-0-7015", "mismatched_range"),
        ("RW-5-1463953-2-2-0-7014 - KE-5-1467609-2-2-0-7014", "mismatched_range"),
        ("RW-5-1463953-2-2-0-7014 - RW-5-1467609-02-2-0-7014", "mismatched_range"),
    ];
    for (text, code) in cases {
        let err = parse_serial(text).expect_err(text);
        assert_eq!(err.code(), *code, "{text:?}: {err}");
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn a_cercarbono_range_must_be_ordered_and_numeric() {
    let serial = "CDC_1_1_1_321_14_1_2009";
    let code = |from, to| cercarbono::parse_with_range(serial, from, to).unwrap_err().code();
    assert_eq!(code("10", "9"), "last_before_first");
    assert_eq!(code("", "9"), "malformed_serial");
    assert_eq!(code("1", "9 "), "malformed_serial");
    assert_eq!(code("0", "18446744073709551615"), "quantity_overflow");
    let ok = cercarbono::parse_with_range(serial, "0", "999").unwrap();
    assert_eq!(ok.block.unwrap().quantity(), 1000);
}

#[test]
fn the_documented_examples_parse_into_their_fields() {
    let s =
        parse_serial("19309-936487628-936491271-VCS-VCU-1491-VER-RW-3-4150-01102024-31122024-1")
            .unwrap();
    assert_eq!(s.registry().as_str(), "verra");
    assert_eq!(s.project(), "4150");
    assert_eq!((s.first(), s.last(), s.quantity()), (Some(936487628), Some(936491271), Some(3644)));
    assert_eq!(s.country().unwrap().as_str(), "RW");
    assert_eq!(s.unit_type().as_deref(), Some("VCU"));
    assert_eq!(s.batch().unwrap().value(), 19309);

    let old =
        parse_serial("2316-97044262-97046261-VCU-007-MER-IN-1-169-01012010-31122010-0").unwrap();
    let Serial::Verra(v) = old else { panic!() };
    assert_eq!((v.program, v.operator.as_str(), v.code.width()), (None, "MER", 3));

    let unranged = parse_serial("GS1-1-KE-GS11603-16-2025-30256").unwrap();
    assert_eq!((unranged.project(), unranged.quantity()), ("GS11603".to_owned(), None));

    let cdm = parse_serial("RW-5-1463953-2-2-0-7014 - RW-5-1467609-2-2-0-7014").unwrap();
    assert_eq!((cdm.unit_type().as_deref(), cdm.quantity()), (Some("CER"), Some(3657)));

    let fcpf = parse_serial("FCPF-CI-130-2023-20-1 to 46404").unwrap();
    assert_eq!((fcpf.registry().as_str(), fcpf.quantity()), ("art_trees", Some(46404)));

    let dash = parse_serial("ACR-US-192-2010-203-1-5000").unwrap();
    assert_eq!(
        (dash.quantity(), dash.format().as_str()),
        (Some(5000), "ACR-US-192-2010-203-1-5000")
    );

    let car = parse_serial("CAR-ROC-US-2056-129-2283-WV-2025-8969-1 to 260294").unwrap();
    assert_eq!((car.unit_type().as_deref(), car.project()), (Some("ROC"), "2056".to_owned()));

    let Serial::Cercarbono(c) = parse_serial("CDC_R_31_1_1_321_14_CO_1_2_2017_BF").unwrap() else {
        panic!()
    };
    assert_eq!(c.marker.map(|m| m.to_string()).as_deref(), Some("R"));
    assert_eq!((c.project.value(), c.sector.value(), c.year), (31, 14, Some(2017)));
    assert!(c.is_buffer());
}
