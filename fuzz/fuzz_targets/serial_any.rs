//! Fuzzes `parse_serial`, the detecting entry point: it must never panic, and whatever it
//! accepts must format back to exactly the input, with a range whose quantity adds up.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rasid_import::serials::parse_serial;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_serial(&text) {
        Ok(serial) => {
            assert_eq!(serial.format(), text);
            if let (Some(first), Some(last), Some(q)) =
                (serial.first(), serial.last(), serial.quantity())
            {
                assert_eq!(last - first, q - 1);
            }
        }
        Err(e) => assert!(!e.code().is_empty() && !e.to_string().is_empty()),
    }
});
