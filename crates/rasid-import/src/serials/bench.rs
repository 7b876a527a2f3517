//! Measures parsing speed against a baseline taken in the same run, for `rasid bench serials`
//! and the ignored speed test. The baseline only splits each string on `-` with the standard
//! library and touches the fields, about the least any parser of these formats must do; the
//! ratio says what the checks and the structured result cost on top.

use super::{Block, Digits, Serial, parse_serial};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// One serial of every shape the registries' exports hold, plus the older shapes.
pub const TEMPLATES: [&str; 14] = [
    "19309-936487628-936491271-VCS-VCU-1491-VER-RW-3-4150-01102024-31122024-1",
    "19380-941382555-941382741-VCS-VCU-1310-VER-CN-13-3005-01012022-31102022-0",
    "2316-97044262-97046261-VCU-007-MER-IN-1-169-01012010-31122010-0",
    "GS1-1-UG-GS11236-16-2024-30307-1-19149",
    "GS1-1-KE-GS11603-16-2025-30256",
    "RW-5-1463953-2-2-0-7014 - RW-5-1467609-2-2-0-7014",
    "ACR-US-1185-2025-3078-1 to 85847",
    "ART-GY-102-2021-11-2759599 to 2760598",
    "FCPF-CI-130-2023-20-1 to 46404",
    "CAR-1-US-1335-31-983-KS-2025-9205-1 to 5000",
    "CAR-ROC-US-2056-129-2283-WV-2025-8969-1 to 260294",
    "CDC_4_1_1_321_14_R1_XX_CO_1_2_BFC_2018",
    "CDC_1_1_1_321_14_1_2008_BF",
    "IC_49_1_1_321_14_CO_1_1_2007",
];

/// `count` distinct serials, cycling through [`TEMPLATES`] with the block (or, for serials
/// without one, the batch or project) shifted so that no two strings are equal.
pub fn corpus(count: usize) -> Vec<String> {
    let parsed: Vec<Serial> = TEMPLATES.iter().filter_map(|t| parse_serial(t).ok()).collect();
    (0..count)
        .map(|i| {
            let mut s = parsed[i % parsed.len()];
            shift(&mut s, (i / parsed.len()) as u64);
            s.to_string()
        })
        .collect()
}

fn shift(serial: &mut Serial, by: u64) {
    let moved = |b: Block| {
        let f = b.first().value().saturating_add(by);
        let l = b.last().value().saturating_add(by);
        Block::new(Digits::new(f), Digits::new(l)).unwrap_or(b)
    };
    match serial {
        Serial::Verra(s) => s.block = moved(s.block),
        Serial::GoldStandard(s) => s.batch = Digits::new(s.batch.value().saturating_add(by)),
        Serial::Cdm(s) => s.block = moved(s.block),
        Serial::Acr(s) => s.block = moved(s.block),
        Serial::Car(s) => s.block = moved(s.block),
        Serial::Cercarbono(s) => s.project = Digits::new(s.project.value().saturating_add(by)),
    }
}

/// The result of [`measure`].
#[derive(Clone, Copy, Debug)]
pub struct Measurement {
    /// Serials processed by each loop (the corpus times the rounds).
    pub serials: u64,
    pub parse: Duration,
    pub split: Duration,
    /// Serials that failed to parse; 0 for a corpus of real serials.
    pub failures: u64,
}

impl Measurement {
    pub fn parse_per_sec(&self) -> f64 {
        self.serials as f64 / self.parse.as_secs_f64().max(1e-9)
    }

    pub fn split_per_sec(&self) -> f64 {
        self.serials as f64 / self.split.as_secs_f64().max(1e-9)
    }
}

/// Parses every string of `corpus` `rounds` times, then splits each on `-` as many times.
pub fn measure(corpus: &[String], rounds: u32) -> Measurement {
    let start = Instant::now();
    let mut failures = 0u64;
    for _ in 0..rounds {
        for s in corpus {
            match parse_serial(black_box(s)) {
                Ok(serial) => {
                    black_box(serial);
                }
                Err(_) => failures += 1,
            }
        }
    }
    let parse = start.elapsed();
    let start = Instant::now();
    for _ in 0..rounds {
        for s in corpus {
            black_box(split_baseline(black_box(s)));
        }
    }
    let split = start.elapsed();
    Measurement { serials: corpus.len() as u64 * u64::from(rounds), parse, split, failures }
}

/// The baseline: splits on `-` with the standard library and sums the field lengths, the least
/// a parser of these formats has to do.
fn split_baseline(s: &str) -> usize {
    s.split('-').map(str::len).sum()
}
