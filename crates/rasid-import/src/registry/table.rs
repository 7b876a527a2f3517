//! CSV tables of registry exports, read by column name, with each record's physical line number.
//!
//! Registries reorder and rename columns between exports and pad names with stray spaces
//! (`Status Effective  (GMT)`), so columns are found by their name with runs of whitespace
//! collapsed, and a file missing a column the importer needs is refused as a whole.

use super::RowRejection;
use std::collections::HashMap;

/// One export file, decoded and split into records.
#[derive(Debug)]
pub struct Table {
    pub file: String,
    columns: HashMap<String, usize>,
    /// Records with the line each starts on (the header is line 1).
    pub records: Vec<(u64, csv::StringRecord)>,
    /// Records the CSV reader could not read.
    pub rejections: Vec<RowRejection>,
}

/// Collapses whitespace runs so that `Program  Country` and `Program Country` are one name.
fn normalize(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Table {
    /// Reads the whole file. Fails only when there is no header; unreadable records become
    /// rejections.
    pub fn read(file: &str, bytes: &[u8]) -> Result<Self, String> {
        // Line numbers come from byte offsets: quoted fields may span lines, and the csv
        // reader's own line counter is off by one on CRLF files.
        let newlines: Vec<u64> =
            bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i as u64).collect();
        let line_at = |pos: Option<&csv::Position>| {
            pos.map_or(0, |p| {
                let mut start = p.byte();
                while bytes.get(start as usize).is_some_and(|b| *b == b'\r' || *b == b'\n') {
                    start += 1;
                }
                newlines.partition_point(|&nl| nl < start) as u64 + 1
            })
        };
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
        let header =
            reader.headers().map_err(|e| format!("{file}: cannot read the header: {e}"))?;
        let columns = header.iter().enumerate().map(|(i, h)| (normalize(h), i)).collect();
        let mut table =
            Table { file: file.to_owned(), columns, records: Vec::new(), rejections: Vec::new() };
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => table.records.push((line_at(record.position()), record.clone())),
                Err(e) => {
                    let line = line_at(e.position());
                    let message = format!("unreadable CSV: {e}");
                    table.rejections.push(table.reject(line, "malformed_row", message));
                    if !matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) {
                        break;
                    }
                }
            }
        }
        Ok(table)
    }

    /// Data records read, readable or not.
    pub fn rows(&self) -> u64 {
        (self.records.len() + self.rejections.len()) as u64
    }

    /// The positions of the named columns, or why the file cannot be this export.
    pub fn columns<const N: usize>(&self, names: [&str; N]) -> Result<Columns<N>, String> {
        let mut at = [0; N];
        for (slot, name) in at.iter_mut().zip(names) {
            // An empty name stands for a column this file does not have: it reads as "".
            if name.is_empty() {
                *slot = usize::MAX;
                continue;
            }
            *slot = *self.columns.get(name).ok_or_else(|| {
                format!("{}: no column {name:?}; is this the right export?", self.file)
            })?;
        }
        Ok(Columns { at })
    }

    pub fn reject(&self, line: u64, code: &'static str, message: String) -> RowRejection {
        RowRejection { file: self.file.clone(), line, code, message }
    }
}

/// Column positions, looked up once per file.
#[derive(Clone, Copy, Debug)]
pub struct Columns<const N: usize> {
    at: [usize; N],
}

impl<const N: usize> Columns<N> {
    /// Field `i` (in the order the names were given) of `record`, trimmed; empty when the row
    /// is shorter than the header.
    pub fn get<'r>(&self, record: &'r csv::StringRecord, i: usize) -> &'r str {
        self.at.get(i).and_then(|&c| record.get(c)).unwrap_or("").trim()
    }

    /// Whether the record reaches every named column.
    pub fn fits(&self, record: &csv::StringRecord) -> bool {
        self.at.iter().all(|&c| c == usize::MAX || c < record.len())
    }
}
