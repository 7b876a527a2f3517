//! Fuzzes the acr serial parser directly (without format detection): it must never panic,
//! and whatever it accepts must format back to exactly the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rasid_import::serials::acr;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(serial) = acr::parse(text)
    {
        assert_eq!(serial.to_string(), text);
    }
});
