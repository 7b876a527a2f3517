//! A disk-stall probe for the benches: a thread of its own that writes 4 KiB and fsyncs it
//! every few milliseconds in the bench's directory, and keeps the moments an fsync took long.
//! Every stall at least as long as the interval overlaps one of its fsyncs; the bench's default
//! (20 ms, 50 a second) adds little beside the journal's thousands.
//!
//! Why: a journal that replies only after its fsync can be no faster than the device's slowest
//! flush. On a virtual disk a flush now and then takes 50–300 ms; every request waiting on that
//! commit waits with it, and at 20k orders/s one stall of 100 ms puts 2,000 requests — 1% of a
//! ten-second run — past 10 ms. The probe's file, thread and write pattern are unrelated to the
//! journal's, so a stall it sees at the same moment as a slow commit is the device's, not the
//! journal's (measured while building it: every writer fsync over 20 ms in a run coincided with
//! one of the probe's).

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const WRITE_BYTES: usize = 4 * 1024;
/// The probe overwrites a file of this size in a ring, so its flushes carry no file-size
/// change (as the journal's log does once it wraps).
const FILE_BYTES: u64 = 1024 * 1024;
/// An fsync at least this long is a stall worth reporting.
pub const STALL_MS: u64 = 50;
/// Stalls kept, oldest first; a run with more than this has a broken disk.
const STALLS_MAX: usize = 10_000;

/// An fsync of the probe's that took at least [`STALL_MS`].
#[derive(Debug, Clone, Copy)]
pub struct Stall {
    pub started: Instant,
    pub took: Duration,
}

impl Stall {
    /// Whether any part of the stall fell between `from` and `to`.
    pub fn overlaps(&self, from: Instant, to: Instant) -> bool {
        self.started < to && self.started + self.took > from
    }
}

#[derive(Debug, Default)]
pub struct Report {
    pub fsyncs: u64,
    pub max: Duration,
    pub stalls: Vec<Stall>,
    /// The first I/O error, if the probe stopped early.
    pub error: Option<String>,
}

impl Report {
    pub fn max_ms(&self) -> f64 {
        self.max.as_secs_f64() * 1000.0
    }

    /// Stalls that overlapped the span from `from` to `to`.
    pub fn stalls_within(&self, from: Instant, to: Instant) -> usize {
        self.stalls.iter().filter(|s| s.overlaps(from, to)).count()
    }
}

pub struct DiskProbe {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Report>,
}

impl DiskProbe {
    /// Starts the probe on a new file `disk-probe` in `dir`, one fsync every `interval`.
    pub fn start(dir: &Path, interval: Duration) -> std::io::Result<Self> {
        let mut file = File::create(dir.join("disk-probe"))?;
        file.write_all(&vec![0u8; usize::try_from(FILE_BYTES).unwrap_or(usize::MAX)])?;
        file.sync_all()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("disk-probe".into())
            .spawn(move || probe(file, interval, &flag))?;
        Ok(Self { stop, thread })
    }

    pub fn finish(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap_or_else(|_| Report {
            error: Some("the disk probe's thread panicked".into()),
            ..Report::default()
        })
    }
}

/// Samples until `stop`, and at least once: a report always holds one fsync or its error.
fn probe(mut file: File, interval: Duration, stop: &AtomicBool) -> Report {
    let mut report = Report::default();
    let block = [0x5au8; WRITE_BYTES];
    let mut offset = 0u64;
    loop {
        let started = Instant::now();
        // `sync_all` is fsync, what SQLite's bundled build calls on its log (it does not use
        // fdatasync); on this overwritten file the two cost the same.
        let flushed = file
            .seek(SeekFrom::Start(offset))
            .and_then(|_| file.write_all(&block))
            .and_then(|()| file.sync_all());
        let took = started.elapsed();
        if let Err(e) = flushed {
            report.error = Some(e.to_string());
            break;
        }
        report.fsyncs += 1;
        report.max = report.max.max(took);
        if took >= Duration::from_millis(STALL_MS) && report.stalls.len() < STALLS_MAX {
            report.stalls.push(Stall { started, took });
        }
        offset = (offset + WRITE_BYTES as u64) % FILE_BYTES;
        if stop.load(Ordering::Relaxed) {
            return report;
        }
        // Pacing, not synchronisation: the probe samples the device at a steady rate.
        std::thread::sleep(interval);
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_overlaps_a_span_only_when_they_share_time() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let stall = Stall { started: t0 + ms(100), took: ms(60) };
        assert!(stall.overlaps(t0, t0 + ms(120)));
        assert!(stall.overlaps(t0 + ms(150), t0 + ms(300)));
        assert!(stall.overlaps(t0 + ms(110), t0 + ms(120)));
        assert!(!stall.overlaps(t0, t0 + ms(100)));
        assert!(!stall.overlaps(t0 + ms(160), t0 + ms(300)));
    }

    #[test]
    fn the_probe_samples_at_least_once_and_writes_only_inside_its_file() {
        let dir = tempfile::Builder::new().prefix(".rasid-probe-test").tempdir_in(".").unwrap();
        let probe = DiskProbe::start(dir.path(), Duration::from_millis(1)).unwrap();
        let report = probe.finish();
        assert_eq!(report.error, None);
        assert!(report.fsyncs >= 1, "{report:?}");
        assert!(report.stalls.len() as u64 <= report.fsyncs, "{report:?}");
        // The probe wrote its block at the start of the ring and never grew the file.
        let contents = std::fs::read(dir.path().join("disk-probe")).unwrap();
        assert_eq!(contents.len() as u64, FILE_BYTES);
        assert!(contents[..WRITE_BYTES].iter().all(|&b| b == 0x5a));
    }
}
