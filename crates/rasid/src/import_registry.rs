//! `rasid import registry`: a registry's public export into the ledger, phase by phase and
//! idempotently, with a reconciliation report (text, or one JSON object).

use crate::output::{Failure, Output, thousands};
use crate::registry::Ctx;
use rasid_import::registry::{
    self, Format, Parsed, Planned, Reconciliation, RowRef, RowRejection, SourceFile,
};
use rasid_import::vrod::Phase;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Commands per request to the sequencer, as for the VROD import.
const REQUEST_COMMANDS: usize = 4_096;

/// Reads the export's files that exist (`NAME.csv` or `NAME.csv.gz`), decompressed.
pub fn read_dir(format: Format, dir: &Path) -> Result<Vec<SourceFile>, Failure> {
    if !dir.is_dir() {
        return Err(Failure::invalid(
            "unreadable_file",
            format!("{} is not a directory", dir.display()),
        ));
    }
    let mut files = Vec::new();
    for role in format.files() {
        for name in [format!("{role}.csv"), format!("{role}.csv.gz")] {
            let path = dir.join(&name);
            if !path.exists() {
                continue;
            }
            let unreadable = |e: std::io::Error| {
                Failure::invalid("unreadable_file", format!("{}: {e}", path.display()))
            };
            let raw = std::fs::read(&path).map_err(unreadable)?;
            let bytes = if name.ends_with(".gz") {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(raw.as_slice())
                    .read_to_end(&mut out)
                    .map_err(unreadable)?;
                out
            } else {
                raw
            };
            files.push(SourceFile { role, name, bytes });
        }
    }
    if files.is_empty() {
        let names: Vec<String> = format.files().iter().map(|r| format!("{r}.csv")).collect();
        return Err(Failure::invalid(
            "no_export_files",
            format!("{} holds none of {}", dir.display(), names.join(", ")),
        ));
    }
    Ok(files)
}

pub fn run(ctx: &Ctx, format: Format, dir: &Path) -> Result<Output, Failure> {
    let started = Instant::now();
    let files = read_dir(format, dir)?;
    let parsed =
        registry::read(format, &files).map_err(|m| Failure::invalid("malformed_file", m))?;
    let (recon, commands) = import(ctx, parsed)?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report(format, &recon, commands, elapsed_ms))
}

/// Runs every phase; returns the reconciliation and the number of commands submitted.
pub fn import(ctx: &Ctx, parsed: Parsed) -> Result<(Reconciliation, u64), Failure> {
    let parsed = Arc::new(parsed);
    let before: BTreeSet<RowRef> = {
        let p = parsed.clone();
        ctx.read(move |s| registry::already_present(&p, s))?
    };
    let mut refused: Vec<RowRejection> = Vec::new();
    let mut commands = 0;
    for phase in Phase::ALL {
        let p = parsed.clone();
        let (planned, refusals) = ctx.read(move |s| registry::plan(phase, &p, s))?;
        refused.extend(refusals);
        commands += planned.len() as u64;
        submit(ctx, planned, &mut refused)?;
    }
    let mut seen = BTreeSet::new();
    refused.retain(|r| seen.insert((r.file.clone(), r.line)));
    Ok((registry::reconcile(&parsed, &before, refused), commands))
}

/// Submits a phase's commands in pipelined requests and records the rows of refused ones.
fn submit(
    ctx: &Ctx,
    planned: Vec<Planned>,
    refused: &mut Vec<RowRejection>,
) -> Result<(), Failure> {
    let mut tickets = Vec::new();
    let mut planned = planned.into_iter().peekable();
    while planned.peek().is_some() {
        let chunk: Vec<Planned> = planned.by_ref().take(REQUEST_COMMANDS).collect();
        let (commands, rows): (Vec<_>, Vec<_>) =
            chunk.into_iter().map(|p| ((p.actor, p.command), p.rows)).unzip();
        tickets.push((ctx.ledger.submit_batch_async(commands), rows));
    }
    for (ticket, rows) in tickets {
        for (result, rows) in ticket.wait()?.into_iter().zip(rows) {
            if let Err(code) = result {
                for at in rows {
                    let message = format!("the registry refused it: {}", code.message());
                    refused.push(RowRejection {
                        file: at.file,
                        line: at.line,
                        code: code.code(),
                        message,
                    });
                }
            }
        }
    }
    Ok(())
}

fn rejection_json(r: &RowRejection) -> Value {
    json!({ "file": r.file, "line": r.line, "code": r.code, "message": r.message })
}

fn report(format: Format, r: &Reconciliation, commands: u64, elapsed_ms: u64) -> Output {
    let mut text = format!(
        "{}: read {} rows: {} imported, {} already present, {} informational, {} rejected ({} commands, {} ms)\n",
        format.as_str(),
        r.rows,
        r.imported,
        r.already_present,
        r.informational,
        r.rejections.len(),
        commands,
        elapsed_ms
    );
    let mut totals = serde_json::Map::new();
    for (space, t) in &r.totals {
        text.push_str(&format!(
            "  {}: issued {} t  retired {} t  cancelled {} t",
            space.name(),
            thousands(t.issued),
            thousands(t.retired),
            thousands(t.cancelled)
        ));
        if t.issued_fraction_kg + t.retired_fraction_kg > 0 {
            text.push_str(&format!(
                "  (not represented: {} kg issued, {} kg retired below whole tonnes)",
                thousands(t.issued_fraction_kg),
                thousands(t.retired_fraction_kg)
            ));
        }
        text.push('\n');
        totals.insert(
            space.prefix().to_ascii_lowercase(),
            json!({
                "registry": space.name(), "issued_tonnes": t.issued, "retired_tonnes": t.retired,
                "cancelled_tonnes": t.cancelled, "issued_fraction_kg": t.issued_fraction_kg,
                "retired_fraction_kg": t.retired_fraction_kg,
            }),
        );
    }
    text.push_str(&format!(
        "  batches only partly present in the files: {}\n",
        r.partial_batches.len()
    ));
    text.push_str(&format!(
        "  blocks whose range disagrees with the quantity: {}\n",
        r.range_mismatches.len()
    ));
    for x in r.rejections.iter().take(10) {
        text.push_str(&format!("  {}:{}: {}: {}\n", x.file, x.line, x.code, x.message));
    }
    if r.rejections.len() > 10 {
        text.push_str(&format!("  … and {} more (--json lists all)\n", r.rejections.len() - 10));
    }
    let partial: Vec<Value> = r
        .partial_batches
        .iter()
        .map(|p| {
            json!({
                "external_ref": p.external_ref, "first_unit": p.units.0, "last_unit": p.units.1,
                "present_tonnes": p.present, "held_not_in_files_tonnes": p.missing,
                "starts_after_unit_one": p.starts_after_unit_one,
            })
        })
        .collect();
    Output::new(
        text,
        json!({
            "ok": true, "format": format.as_str(), "rows": r.rows, "imported": r.imported,
            "already_present": r.already_present, "informational": r.informational,
            "rejected": r.rejections.len(), "rejections": r.rejections.iter().map(rejection_json).collect::<Vec<_>>(),
            "range_mismatches": r.range_mismatches.iter().map(rejection_json).collect::<Vec<_>>(),
            "partial_batches": partial, "totals": totals, "commands": commands, "elapsed_ms": elapsed_ms,
        }),
    )
}
