//! Parsing speed, against splitting the same strings on their separators in the same run.
//! Ignored by default; measure in release:
//!
//!     cargo test -p rasid-import --release --test serials_speed -- --ignored --nocapture

use rasid_import::serials::bench::{Measurement, corpus, measure};
use std::io::Read;
use std::path::Path;

/// The serial columns of the exports, read whole (about 900 real serials).
fn real_serials() -> Vec<String> {
    let columns = [
        ("verra/transactions.csv.gz", "Serial Number"),
        ("gold-standard/issuances.csv", "Serial Number"),
        ("gold-standard/retirements.csv", "Serial Number"),
        ("american-carbon-registry/retirements.csv.gz", "Credit Serial Numbers"),
        ("american-carbon-registry/cancellations.csv", "Credit Serial Numbers"),
        ("art-trees/retirements.csv", "Credit Serial Numbers"),
        ("art-trees/cancellations.csv", "Credit Serial Numbers"),
        ("climate-action-reserve/retirements.csv", "Offset Credit Serial Numbers"),
        ("climate-action-reserve/cancellations.csv", "Offset Credit Serial Numbers"),
        ("cercarbono/issuances.csv", "serial"),
        ("cercarbono/retirements.csv", "serial"),
    ];
    let mut out = Vec::new();
    for (file, column) in columns {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/registry-exports")
            .join(file);
        let raw = std::fs::read(path).unwrap();
        let mut bytes = Vec::new();
        if file.ends_with(".gz") {
            flate2::read::GzDecoder::new(raw.as_slice()).read_to_end(&mut bytes).unwrap();
        } else {
            bytes = raw;
        }
        let mut csv = csv::Reader::from_reader(bytes.as_slice());
        let i = csv.headers().unwrap().iter().position(|h| h == column).unwrap();
        out.extend(csv.records().map(|r| r.unwrap()[i].to_owned()));
    }
    out
}

fn report(name: &str, m: &Measurement) {
    println!(
        "{name}: {} serials; parse {:.2} M/s ({:.0} ns each); split baseline {:.2} M/s ({:.0} ns each); parse/split time {:.1}x",
        m.serials,
        m.parse_per_sec() / 1e6,
        m.parse.as_nanos() as f64 / m.serials as f64,
        m.split_per_sec() / 1e6,
        m.split.as_nanos() as f64 / m.serials as f64,
        m.parse.as_secs_f64() / m.split.as_secs_f64(),
    );
}

#[test]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
fn parsing_reaches_a_million_serials_a_second() {
    let real = real_serials();
    assert!(real.len() > 900);
    let real_run = measure(&real, 2_000);
    report("real export serials", &real_run);
    let synthetic = corpus(100_000);
    let synthetic_run = measure(&synthetic, 20);
    report("synthetic corpus", &synthetic_run);
    assert_eq!(real_run.failures + synthetic_run.failures, 0);
    if !cfg!(debug_assertions) {
        assert!(real_run.parse_per_sec() >= 1e6, "below 1M serials/s");
        assert!(synthetic_run.parse_per_sec() >= 1e6, "below 1M serials/s");
    }
}
