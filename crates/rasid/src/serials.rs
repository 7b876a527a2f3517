//! `rasid serial parse`: another registry's serial number, parsed into its fields, and
//! `rasid bench serials`, the parser's speed. Neither opens the ledger.
//!
//! The JSON is built here from the domain value (`rasid_import::serials::Serial`), like every
//! other wire shape of the CLI: common fields first, with `null` where a format lacks one, then
//! the format's own fields under `fields`.

use crate::output::{Failure, Output, thousands};
use rasid_import::serials::{Code, Digits, Serial, Vintage, bench as serial_bench, parse_serial};
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

pub fn parse(text: &str) -> Result<Output, Failure> {
    let serial = parse_serial(text).map_err(|e| Failure::invalid(e.code(), e.to_string()))?;
    let doc = serial_json(&serial);
    Ok(Output::new(serial_text(&serial, &doc), doc))
}

fn serial_json(s: &Serial) -> Value {
    json!({
        "serial": s.format(),
        "format": s.family().as_str(),
        "registry": s.registry().as_str(),
        "registry_name": s.registry().name(),
        "project": s.project(),
        "vintage": s.vintage().map(vintage_json),
        "batch": s.batch().map(Digits::value),
        "country": s.country().map(|c| c.to_string()),
        "unit_type": s.unit_type(),
        "first": s.first(),
        "last": s.last(),
        "quantity": s.quantity(),
        "fields": fields_json(s),
    })
}

fn vintage_json(v: Vintage) -> Value {
    match v {
        Vintage::Year(y) => json!({ "year": y, "start": null, "end": null }),
        Vintage::Period(p) => {
            json!({ "year": null, "start": p.start().to_string(), "end": p.end().to_string() })
        }
    }
}

/// The fields only one format has, by their names in `rasid_import::serials`.
fn fields_json(s: &Serial) -> Value {
    let code = |c: Code| json!(c.as_str());
    match s {
        Serial::Verra(v) => json!({
            "program": v.program.map(code), "unit_type": code(v.unit_type),
            "code": v.code.value(), "operator": code(v.operator), "scope": v.scope.value(),
            "additional_certification": v.additional_certification,
        }),
        Serial::GoldStandard(g) => json!({
            "prefix": code(g.prefix), "unit_code": g.unit_code.value(),
            "project_type": g.project_type.value(),
        }),
        Serial::Cdm(c) => json!({
            "unit_type_code": c.unit_type.value(),
            "original_commitment_period": c.original_commitment_period.value(),
            "applicable_commitment_period": c.applicable_commitment_period.value(),
            "lulucf_activity": c.lulucf_activity.value(),
        }),
        Serial::Acr(a) => json!({ "program": code(a.program) }),
        Serial::Car(c) => json!({
            "unit_type": code(c.unit_type), "project_type": c.project_type.value(),
            "code": c.code.value(), "state": code(c.state),
        }),
        Serial::Cercarbono(c) => json!({
            "prefix": code(c.prefix), "marker": c.marker.map(code),
            "codes": c.codes.map(Digits::value), "sector": c.sector.value(),
            "extra": c.extra.map(|[a, b]| [code(a), code(b)]),
            "country_number": c.country_number.map(Digits::value),
            "verification": c.verification.value(),
            "buffer": c.buffer.map(|b| code(b.code())),
        }),
    }
}

fn serial_text(s: &Serial, doc: &Value) -> String {
    let mut t = format!("{} serial {}\n", s.family().name(), s.format());
    let mut line = |name: &str, value: String| {
        let _ = writeln!(t, "  {name:<12} {value}");
    };
    line("registry", s.registry().name().to_owned());
    line("project", s.project());
    line(
        "vintage",
        match s.vintage() {
            Some(Vintage::Year(y)) => y.to_string(),
            Some(Vintage::Period(p)) => format!("{} to {}", p.start(), p.end()),
            None => "-".into(),
        },
    );
    line("batch", s.batch().map_or("-".into(), |b| b.to_string()));
    line("country", s.country().map_or("-".into(), |c| c.to_string()));
    line("unit type", s.unit_type().unwrap_or_else(|| "-".into()));
    line(
        "serials",
        match s.block() {
            Some(b) => format!("{} to {} ({} units)", b.first(), b.last(), thousands(b.quantity())),
            None => "- (the serial names no range)".into(),
        },
    );
    if let Some(fields) = doc["fields"].as_object() {
        line("fields", fields_text(fields));
    }
    t
}

fn fields_text(fields: &Map<String, Value>) -> String {
    let parts: Vec<String> = fields
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k} {s}"),
            other => format!("{k} {other}"),
        })
        .collect();
    parts.join(", ")
}

/// `rasid bench serials`: parses a corpus of every format `rounds` times, and splits the same
/// strings on `-` as the baseline, in the same run.
pub fn bench(count: usize, rounds: u32) -> Result<Output, Failure> {
    if count == 0 || rounds == 0 {
        return Err(Failure::invalid("invalid_argument", "--count and --rounds must be positive"));
    }
    let corpus = serial_bench::corpus(count);
    let m = serial_bench::measure(&corpus, rounds);
    if m.failures > 0 {
        return Err(Failure::Internal(format!("{} corpus serials failed to parse", m.failures)));
    }
    let (parse, split) = (m.parse_per_sec(), m.split_per_sec());
    let text = format!(
        "serials: {} parsed ({} distinct × {rounds})\n  parse  {:>12}/s  ({:.0} ns each)\n  split  {:>12}/s  (baseline: str::split on '-')\n  parse takes {:.1}× the baseline's time",
        thousands(m.serials),
        thousands(count as u64),
        thousands(parse as u64),
        1e9 / parse,
        thousands(split as u64),
        split / parse,
    );
    let doc = json!({
        "serials": m.serials, "parse_per_sec": parse as u64, "split_per_sec": split as u64,
        "parse_ns": 1e9 / parse, "split_ns": 1e9 / split,
    });
    Ok(Output::new(text, doc))
}
