//! Block rows into batches: duplicates and overlapping blocks refused, sub-blocks of one source
//! batch gathered into one block from the lowest first unit to the highest last.

use super::{BlockRow, Kind, Parsed, ProjectRow, RowRejection, Space, formats, with_units};
use rasid_core::{RangeSet, SerialRange};
use std::collections::{BTreeMap, BTreeSet};

/// One source batch: the issuance it becomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub space: Space,
    pub id: String,
    /// The issuance's key: the source prefix and the batch's serial written with the whole
    /// block (`VERRA:19259-933637722-933644768-VCS-…`), or the issuance's own name where the
    /// source has no range in its serials (`CERCARBONO:CDC_1_…`, `ISOMETRIC:iss_…`).
    pub external_ref: String,
    pub project: String,
    pub vintage: u16,
    /// Lowest first and highest last unit of its rows.
    pub units: (u64, u64),
    pub buffer_tonnes: u64,
    /// Indexes into [`Parsed::blocks`].
    pub rows: Vec<usize>,
    /// Tonnes of the block that some row of the files covers.
    pub covered: u64,
}

impl Batch {
    pub fn quantity(&self) -> u64 {
        self.units.1 - self.units.0 + 1
    }
}

pub fn group(out: &mut Parsed) {
    let mut blocks = std::mem::take(&mut out.blocks);
    zero_based_cercarbono(&mut blocks);
    let mut kept: Vec<BlockRow> = Vec::with_capacity(blocks.len());
    let mut seen = BTreeSet::new();
    let mut by_batch: BTreeMap<(Space, String), Vec<usize>> = BTreeMap::new();
    // Per batch: the ranges issuance rows claim, and those retirement/cancellation/held rows do.
    let mut claimed: BTreeMap<(Space, String, bool), RangeSet> = BTreeMap::new();
    for row in blocks {
        match check(&row, &mut seen, &mut claimed, &kept, &by_batch) {
            Err(r) => out.rejections.push(r),
            Ok(()) => {
                if row.units.is_some() {
                    by_batch.entry((row.space, row.batch.clone())).or_default().push(kept.len());
                }
                kept.push(row);
            }
        }
    }
    out.batches =
        by_batch.into_iter().map(|((space, id), rows)| batch(space, id, rows, &kept)).collect();
    ensure_projects(out, &kept);
    out.blocks = kept;
}

/// Cercarbono's issuance rows give a quantity, read as units `1..=quantity`; but some of its
/// serials number units from 0 (their retirements start at `from` 0). For those, the issuance
/// is `0..=quantity − 1`.
fn zero_based_cercarbono(blocks: &mut [BlockRow]) {
    let zero: BTreeSet<String> = blocks
        .iter()
        .filter(|b| b.space == Space::Cercarbono && b.units.is_some_and(|u| u.0 == 0))
        .map(|b| b.batch.clone())
        .collect();
    for b in blocks.iter_mut().filter(|b| matches!(b.kind, Kind::Issued) && zero.contains(&b.batch))
    {
        if let Some((1, last)) = b.units {
            b.units = Some((0, last - 1));
        }
    }
}

fn reject(row: &BlockRow, code: &'static str, message: String) -> RowRejection {
    RowRejection { file: row.at.file.clone(), line: row.at.line, code, message }
}

fn kind_tag(k: &Kind) -> u8 {
    match k {
        Kind::Issued => 0,
        Kind::Held => 1,
        Kind::Retired(_) => 2,
        Kind::Cancelled(_) => 3,
    }
}

/// What makes two rows duplicates: the same serial (or record id), units and kind.
type RowIdentity = (String, Option<(u64, u64)>, u8);

fn check(
    row: &BlockRow,
    seen: &mut BTreeSet<RowIdentity>,
    claimed: &mut BTreeMap<(Space, String, bool), RangeSet>,
    kept: &[BlockRow],
    by_batch: &BTreeMap<(Space, String), Vec<usize>>,
) -> Result<(), RowRejection> {
    if !seen.insert((row.source_key.clone(), row.units, kind_tag(&row.kind))) {
        return Err(reject(
            row,
            "duplicate_row",
            format!("{} appeared earlier in the export", row.source_key),
        ));
    }
    let Some((first, last)) = row.units else { return Ok(()) };
    if let Some(other) =
        by_batch.get(&(row.space, row.batch.clone())).and_then(|r| r.first()).map(|&i| &kept[i])
    {
        let template = |r: &BlockRow| r.serial.and_then(|s| with_units(&s, 1, 1));
        if template(other) != template(row)
            || other.project != row.project
            || other.vintage != row.vintage
        {
            let m = format!(
                "batch {} is described differently on line {} of {}",
                row.batch, other.at.line, other.at.file
            );
            return Err(reject(row, "batch_conflict", m));
        }
    }
    let range = SerialRange::new(first, last).ok_or_else(|| {
        reject(row, "last_before_first", "the range ends before it starts".into())
    })?;
    let issued = matches!(row.kind, Kind::Issued);
    let set = claimed.entry((row.space, row.batch.clone(), issued)).or_default();
    if set.intersects(range) {
        let what =
            if issued { "an issuance row" } else { "a retirement, cancellation or holding row" };
        return Err(reject(
            row,
            "overlapping_block",
            format!("units {first}..={last} overlap {what} earlier in the export"),
        ));
    }
    set.insert(range).map_err(|_| reject(row, "overlapping_block", "the range overlaps".into()))
}

fn batch(space: Space, id: String, rows: Vec<usize>, kept: &[BlockRow]) -> Batch {
    let first_row = &kept[rows[0]];
    let min = rows.iter().filter_map(|&i| kept[i].units).map(|u| u.0).min().unwrap_or(1);
    let max = rows.iter().filter_map(|&i| kept[i].units).map(|u| u.1).max().unwrap_or(1);
    let mut covered = RangeSet::new();
    for u in rows.iter().filter_map(|&i| kept[i].units) {
        for piece in uncovered(&covered, u) {
            let _ = covered.insert(piece);
        }
    }
    let external_ref = match (space, first_row.serial) {
        (Space::Cercarbono | Space::Isometric, _) | (_, None) => {
            format!("{}:{}", space.prefix(), id)
        }
        (_, Some(s)) => format!(
            "{}:{}",
            space.prefix(),
            with_units(&s, min, max).map(|s| s.to_string()).unwrap_or_default()
        ),
    };
    Batch {
        space,
        external_ref,
        project: first_row.project.clone(),
        vintage: first_row.vintage,
        units: (min, max),
        buffer_tonnes: rows.iter().map(|&i| kept[i].buffer_tonnes).sum(),
        covered: covered.quantity_tonnes(),
        rows,
        id,
    }
}

/// The parts of `units` not yet in `set`.
fn uncovered(set: &RangeSet, (first, last): (u64, u64)) -> Vec<SerialRange> {
    let mut out = Vec::new();
    let mut next = first;
    for r in set.ranges().filter(|r| r.last() >= first && r.first() <= last) {
        if r.first() > next {
            out.extend(SerialRange::new(next, r.first() - 1));
        }
        next = next.max(r.last().saturating_add(1));
    }
    if next <= last {
        out.extend(SerialRange::new(next, last));
    }
    out
}

/// Every batch's project gets a project row, even when no file describes it.
fn ensure_projects(out: &mut Parsed, kept: &[BlockRow]) {
    let known: BTreeSet<(Space, String)> =
        out.projects.iter().map(|p| (program_space(p.space), p.external_id.clone())).collect();
    for b in &out.batches {
        if known.contains(&(program_space(b.space), b.project.clone())) {
            continue;
        }
        let row = &kept[b.rows[0]];
        out.projects.push(ProjectRow {
            at: row.at.clone(),
            space: b.space,
            external_id: b.project.clone(),
            name: b.project.clone(),
            developer: formats::UNKNOWN_DEVELOPER.to_owned(),
            country: String::new(),
            methodology: String::new(),
            project_type: String::new(),
            region: String::new(),
            removal: b.space == Space::Isometric,
            listed: false,
        });
    }
}

/// CDM units sit under Gold Standard projects.
fn program_space(s: Space) -> Space {
    if s == Space::Cdm { Space::GoldStandard } else { s }
}
