//! What an import run read, imported and refused, and what the export's numbers add up to.

use super::{Kind, Parsed, RowRef, RowRejection, Space};
use std::collections::{BTreeMap, BTreeSet};

/// Tonnes per serial space, over the rows that are in the ledger after the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// The blocks of the batches (min first .. max last of their rows).
    pub issued: u64,
    pub retired: u64,
    pub cancelled: u64,
    /// Isometric: kilograms below whole tonnes that Rasid does not represent.
    pub issued_fraction_kg: u64,
    pub retired_fraction_kg: u64,
}

/// A batch the files show only part of: the rest of its block stays with the developer's
/// account as held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialBatch {
    pub external_ref: String,
    pub units: (u64, u64),
    /// Tonnes of the block some row covers.
    pub present: u64,
    /// Tonnes of the block no row covers (held by the developer in Rasid).
    pub missing: u64,
    /// The registry numbers units from 1 in each batch, and the first rows start later, so
    /// the batch began before anything the files show.
    pub starts_after_unit_one: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Reconciliation {
    pub rows: u64,
    pub imported: u64,
    pub already_present: u64,
    pub informational: u64,
    pub rejections: Vec<RowRejection>,
    /// Rows whose range disagrees with their quantity (also among `rejections`).
    pub range_mismatches: Vec<RowRejection>,
    pub partial_batches: Vec<PartialBatch>,
    pub totals: BTreeMap<Space, Totals>,
}

/// `before`: rows already in the ledger before the run; `refused`: rows the planner or the
/// engine refused during it.
pub fn reconcile(
    parsed: &Parsed,
    before: &BTreeSet<RowRef>,
    refused: Vec<RowRejection>,
) -> Reconciliation {
    let refused_at: BTreeSet<RowRef> =
        refused.iter().map(|r| RowRef { file: r.file.clone(), line: r.line }).collect();
    let mut rejections: Vec<RowRejection> =
        parsed.rejections.iter().cloned().chain(refused).collect();
    rejections.sort();
    let valid: BTreeSet<&RowRef> = parsed
        .blocks
        .iter()
        .map(|b| &b.at)
        .chain(parsed.projects.iter().filter(|p| p.listed).map(|p| &p.at))
        .filter(|at| !refused_at.contains(at))
        .collect();
    let already = valid.iter().filter(|at| before.contains(at)).count() as u64;
    let mut out = Reconciliation {
        rows: parsed.rows(),
        imported: valid.len() as u64 - already,
        already_present: already,
        informational: parsed.files.iter().map(|f| f.informational).sum(),
        range_mismatches: rejections
            .iter()
            .filter(|r| r.code == "quantity_mismatch")
            .cloned()
            .collect(),
        rejections,
        ..Reconciliation::default()
    };
    for b in parsed
        .batches
        .iter()
        .filter(|b| !b.rows.iter().any(|&i| refused_at.contains(&parsed.blocks[i].at)))
    {
        let t = out.totals.entry(b.space).or_default();
        t.issued += b.quantity();
        let restarts = !matches!(b.space, Space::Verra | Space::Cdm | Space::Isometric);
        let starts_after_unit_one = restarts && b.units.0 > 1;
        if b.covered < b.quantity() || starts_after_unit_one {
            out.partial_batches.push(PartialBatch {
                external_ref: b.external_ref.clone(),
                units: b.units,
                present: b.covered,
                missing: b.quantity() - b.covered,
                starts_after_unit_one,
            });
        }
    }
    for row in parsed.blocks.iter().filter(|r| !refused_at.contains(&r.at)) {
        let t = out.totals.entry(row.space).or_default();
        match row.kind {
            Kind::Issued => t.issued_fraction_kg += row.fraction_kg,
            Kind::Retired(_) => {
                t.retired += row.quantity;
                t.retired_fraction_kg += row.fraction_kg;
            }
            Kind::Cancelled(_) => t.cancelled += row.quantity,
            Kind::Held => {}
        }
    }
    out
}
