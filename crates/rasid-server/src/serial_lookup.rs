//! Look-up of another registry's serial string: the Rasid issuance it was imported into, and
//! where each part of its range is now (held by an account, retired, cancelled). Shared by
//! `rasid serial find` and `GET /v1/serials/{serial}`.

use rasid_core::{IssuanceId, RangeSet, SerialRange, State};
use rasid_import::registry::{self, Space, space};
use rasid_import::serials::{self, Serial, parse_serial};
use serde_json::{Value, json};

/// Why a look-up found nothing.
#[derive(Debug)]
pub enum LookupError {
    /// The string is not a serial Rasid can place: `(code, message)`.
    Invalid(&'static str, String),
    /// A well-formed serial this ledger does not hold.
    NotFound(String),
}

/// What to look for: an issuance by its key, and optionally a range of its units.
#[derive(Debug)]
pub enum Target {
    /// A numbered space: the ledger range follows from the serial alone.
    Range(SerialRange),
    /// An issuance named by key, with units of it if the serial gives them.
    Issuance { external_ref: String, space: Space, units: Option<(u64, u64)> },
    /// An Isometric retirement, by the key its note carries.
    Retirement(String),
}

pub fn target(text: &str, range: Option<(String, String)>) -> Result<Target, LookupError> {
    let text = text.trim();
    if text.starts_with("iss_") {
        return Ok(Target::Issuance {
            external_ref: format!("ISOMETRIC:{text}"),
            space: Space::Isometric,
            units: None,
        });
    }
    if text.starts_with("ret_") {
        return Ok(Target::Retirement(format!("ISOMETRIC:{text}")));
    }
    let invalid = |e: serials::SerialError| LookupError::Invalid(e.code(), e.to_string());
    let serial = match range {
        Some((from, to)) => serials::cercarbono::parse_with_range(text, &from, &to)
            .map(Serial::Cercarbono)
            .map_err(invalid)?,
        None => parse_serial(text).map_err(invalid)?,
    };
    let pos = registry::position(&serial).map_err(|(code, m)| LookupError::Invalid(code, m))?;
    if pos.space.slotted() {
        return Ok(Target::Issuance {
            external_ref: format!("{}:{}", pos.space.prefix(), pos.batch),
            space: pos.space,
            units: pos.units,
        });
    }
    let number = match &serial {
        Serial::Cdm(c) => space::cdm_party(c.party.as_str()).unwrap_or(0),
        other => other.batch().map_or(0, |b| b.value()),
    };
    let base = space::batch_base(pos.space, number)
        .map_err(|m| LookupError::Invalid(space::OUT_OF_RANGE, m))?;
    let Some((first, last)) = pos.units else {
        return Err(LookupError::Invalid(
            "no_serial_range",
            "this serial names no range of units; Rasid finds blocks by their range".into(),
        ));
    };
    SerialRange::new(base + first, base + last)
        .map(Target::Range)
        .ok_or_else(|| LookupError::Invalid(space::OUT_OF_RANGE, "the range does not fit".into()))
}

/// Where the serials a target names are now: `(text for people, JSON document)`.
pub fn find(s: &State, text: &str, target: &Target) -> Result<(String, Value), LookupError> {
    let (issuance, range) = match target {
        Target::Retirement(key) => {
            let r = s
                .retirements()
                .find(|r| registry::source_key_of_note(&r.details.note) == Some(key.as_str()));
            let r = r.ok_or_else(|| not_found(text))?;
            let range = r.serials.ranges().next().ok_or_else(|| not_found(text))?;
            let last = r.serials.ranges().next_back().unwrap_or(range);
            (r.issuance, SerialRange::new(range.first(), last.last()).unwrap_or(range))
        }
        Target::Range(range) => {
            (s.issuance_of_serial(range.first()).ok_or_else(|| not_found(text))?.id, *range)
        }
        Target::Issuance { external_ref, space, units } => {
            let iss = s.issuance_by_ref(external_ref).ok_or_else(|| not_found(text))?;
            let range = match units {
                None => iss.block,
                Some((a, b)) => {
                    rasid_import::registry::ledger_range(*space, iss.block.first(), (*a, *b))
                        .ok_or_else(|| not_found(text))?
                }
            };
            (iss.id, range)
        }
    };
    let iss = s.issuance(issuance).ok_or_else(|| not_found(text))?;
    if !iss.block.contains_range(range) {
        return Err(LookupError::Invalid(
            "not_imported",
            format!(
                "{text}: only part of this range was imported (issuance {} covers {})",
                iss.id, iss.block
            ),
        ));
    }
    let parts = parts(s, issuance, range);
    let mut lines = vec![format!(
        "{text}\n  = serials {range} of {} ({})",
        iss.id,
        iss.external_ref.as_deref().unwrap_or("")
    )];
    lines.extend(parts.iter().map(|p| {
        format!(
            "  {} {}-{} ({} t)",
            p["status"].as_str().unwrap_or(""),
            p["first"],
            p["last"],
            p["quantity"]
        )
    }));
    Ok((
        lines.join("\n"),
        json!({
            "serial": text, "issuance": iss.id.0, "external_ref": iss.external_ref, "first": range.first(),
            "last": range.last(), "quantity": range.quantity_tonnes(), "parts": parts,
        }),
    ))
}

fn not_found(text: &str) -> LookupError {
    LookupError::NotFound(format!("{text} is not in this ledger"))
}

/// The pieces of `range` held, retired and cancelled, in serial order.
fn parts(s: &State, issuance: IssuanceId, range: SerialRange) -> Vec<Value> {
    let clip = |set: &RangeSet| -> Vec<SerialRange> {
        set.ranges()
            .filter_map(|r| {
                SerialRange::new(r.first().max(range.first()), r.last().min(range.last()))
            })
            .collect()
    };
    let mut out: Vec<(u64, Value)> = Vec::new();
    let mut push = |r: SerialRange, mut v: Value| {
        v["first"] = json!(r.first());
        v["last"] = json!(r.last());
        v["quantity"] = json!(r.quantity_tonnes());
        out.push((r.first(), v));
    };
    for (account, h) in s.holdings_of_issuance(issuance) {
        for r in clip(&h.available) {
            push(r, json!({ "status": "held", "account": account.0 }));
        }
    }
    // Reserved serials are kept by the orders, lots and deposits that reserved them.
    for (account, set) in &s.reserved_serials_of_issuance(issuance) {
        for r in clip(set) {
            push(r, json!({ "status": "held", "account": account.0, "reserved": true }));
        }
    }
    for x in s.retirements().filter(|x| x.issuance == issuance) {
        for r in clip(&x.serials) {
            push(
                r,
                json!({ "status": "retired", "retirement": x.id.0, "beneficiary": x.details.beneficiary, "note": x.details.note }),
            );
        }
    }
    for x in s.cancellations().filter(|x| x.issuance == issuance) {
        for r in clip(&x.serials) {
            push(r, json!({ "status": "cancelled", "cancellation": x.id.0, "reason": x.reason }));
        }
    }
    out.sort_by_key(|(first, _)| *first);
    out.into_iter().map(|(_, v)| v).collect()
}
