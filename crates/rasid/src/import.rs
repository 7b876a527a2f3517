//! `rasid import vrod`: the market history into the ledger, phase by phase, idempotently.

use crate::output::{Failure, Output, thousands};
use crate::registry::Ctx;
use indicatif::{ProgressBar, ProgressStyle};
use rasid_import::vrod::{self, Phase, Planned, RowRejection};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, IsTerminal, Read};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Commands per request to the sequencer: large enough to amortise the hand-off, small enough
/// that several requests are in flight and group commit overlaps them with execution.
const IMPORT_REQUEST_COMMANDS: usize = 4_096;

pub fn vrod(ctx: &Ctx, file: &Path) -> Result<Output, Failure> {
    let f = std::fs::File::open(file)
        .map_err(|e| Failure::invalid("unreadable_file", format!("{}: {e}", file.display())))?;
    let reader: Box<dyn Read> = if file.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::GzDecoder::new(BufReader::new(f)))
    } else {
        Box::new(BufReader::new(f))
    };
    vrod_from(ctx, reader, std::io::stderr().is_terminal())
}

#[derive(Debug, Default)]
pub struct ImportSummary {
    pub rows: u64,
    pub imported: u64,
    pub already_present: u64,
    pub issued_tonnes: u64,
    pub retired_tonnes: u64,
    pub remaining_tonnes: u64,
    pub commands: u64,
    pub rejections: Vec<RowRejection>,
}

pub fn vrod_from(ctx: &Ctx, reader: impl Read, progress: bool) -> Result<Output, Failure> {
    let started = Instant::now();
    let summary = import_vrod(ctx, reader, progress)?;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let rejections: Vec<_> = summary
        .rejections
        .iter()
        .map(|r| json!({ "line": r.line, "code": r.code, "message": r.message }))
        .collect();
    let mut text = format!(
        "read {} rows: {} imported, {} already present, {} rejected ({} commands, {} ms)\n\
         issued {} t  retired {} t  remaining {} t\n",
        summary.rows,
        summary.imported,
        summary.already_present,
        summary.rejections.len(),
        summary.commands,
        elapsed_ms,
        thousands(summary.issued_tonnes),
        thousands(summary.retired_tonnes),
        thousands(summary.remaining_tonnes),
    );
    for r in summary.rejections.iter().take(10) {
        text.push_str(&format!("  line {}: {}: {}\n", r.line, r.code, r.message));
    }
    if summary.rejections.len() > 10 {
        text.push_str(&format!(
            "  … and {} more (--json lists all)\n",
            summary.rejections.len() - 10
        ));
    }
    Ok(Output::new(
        text,
        json!({
            "ok": true, "rows": summary.rows, "imported": summary.imported,
            "already_present": summary.already_present, "rejected": summary.rejections.len(),
            "issued_tonnes": summary.issued_tonnes, "retired_tonnes": summary.retired_tonnes,
            "remaining_tonnes": summary.remaining_tonnes, "commands": summary.commands,
            "rejections": rejections, "elapsed_ms": elapsed_ms, "peak_rss_mb": peak_rss_mb(),
        }),
    ))
}

pub fn import_vrod(ctx: &Ctx, reader: impl Read, progress: bool) -> Result<ImportSummary, Failure> {
    let parsed = vrod::parse(reader).map_err(|m| Failure::invalid("malformed_file", m))?;
    let rows = Arc::new(parsed.valid);
    let before: BTreeSet<String> = {
        let rows = rows.clone();
        ctx.read(move |s| {
            rows.iter()
                .map(|r| r.external_ref())
                .filter(|r| s.issuance_by_ref(r).is_some())
                .collect()
        })?
    };
    let bar = if progress { ProgressBar::new(0) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{msg:>14} [{bar:40}] {pos}/{len} commands")
            .expect("static template")
            .progress_chars("=> "),
    );
    let mut rejected: BTreeMap<u64, RowRejection> = BTreeMap::new();
    let mut commands = 0;
    for phase in Phase::ALL {
        bar.set_message(format!("{phase:?}").to_lowercase());
        let rows = rows.clone();
        let planned = ctx.read(move |s| vrod::plan(phase, &rows, s))?;
        bar.inc_length(planned.len() as u64);
        commands += planned.len() as u64;
        submit_phase(ctx, planned, &mut rejected, &bar)?;
    }
    bar.finish_and_clear();

    let mut summary = ImportSummary { rows: parsed.rows, commands, ..ImportSummary::default() };
    for row in rows.iter().filter(|r| !rejected.contains_key(&r.line)) {
        if before.contains(&row.external_ref()) {
            summary.already_present += 1;
        } else {
            summary.imported += 1;
        }
        summary.issued_tonnes += row.issued_tonnes;
        summary.retired_tonnes += row.retired_tonnes();
        summary.remaining_tonnes += row.remaining_tonnes;
    }
    summary.rejections = parsed.rejections;
    summary.rejections.extend(rejected.into_values());
    summary.rejections.sort_by_key(|r| r.line);
    Ok(summary)
}

/// Submits a phase's commands in pipelined requests and records the rows of refused ones.
fn submit_phase(
    ctx: &Ctx,
    planned: Vec<Planned>,
    rejected: &mut BTreeMap<u64, RowRejection>,
    bar: &ProgressBar,
) -> Result<(), Failure> {
    let mut tickets = Vec::new();
    let mut planned = planned.into_iter().peekable();
    while planned.peek().is_some() {
        let chunk: Vec<Planned> = planned.by_ref().take(IMPORT_REQUEST_COMMANDS).collect();
        let (commands, lines): (Vec<_>, Vec<_>) =
            chunk.into_iter().map(|p| ((p.actor, p.command), p.lines)).unzip();
        tickets.push((ctx.ledger.submit_batch_async(commands), lines));
    }
    for (ticket, lines) in tickets {
        let results = ticket.wait()?;
        bar.inc(results.len() as u64);
        for (result, lines) in results.into_iter().zip(lines) {
            if let Err(code) = result {
                for line in lines {
                    let message = format!("the registry refused it: {}", code.message());
                    rejected.entry(line).or_insert(RowRejection {
                        line,
                        code: code.code(),
                        message,
                    });
                }
            }
        }
    }
    Ok(())
}

/// Peak resident memory of this process (VmHWM), on Linux.
pub fn peak_rss_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}
