//! Fuzzes the Cercarbono parser, alone and with the export's `from` and `to` columns (the input
//! split on newlines into serial, from and to): it must never panic, and whatever it accepts must
//! format back to exactly the input columns.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rasid_import::serials::cercarbono;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut columns = text.splitn(3, '\n');
    let serial = columns.next().unwrap_or("");
    if let Ok(s) = cercarbono::parse(serial) {
        assert_eq!(s.to_string(), serial);
    }
    if let (Some(from), Some(to)) = (columns.next(), columns.next())
        && let Ok(s) = cercarbono::parse_with_range(serial, from, to)
    {
        let block = s.block.expect("a range was given");
        assert_eq!(
            (s.to_string(), block.first().to_string(), block.last().to_string()),
            (serial.to_owned(), from.to_owned(), to.to_owned())
        );
    }
});
