//! The commands each import phase still needs, given the ledger as it is: projects and their
//! developers, one issuance per source batch at its original serials, then the retirements and
//! cancellations of its sub-blocks. Whatever the ledger already has is skipped, which is what
//! makes a second import of the same export plan nothing.

use super::space::{self, Space};
use super::{Batch, BlockRow, Kind, Parsed, ProjectRow, RowRef, RowRejection, text};
use crate::vrod::{Phase, developer_account};
use rasid_core::model::{Basis, Effect, Program, ProjectInfo, RetirementDetails, Role};
use rasid_core::{Command, IssuanceId, OrgId, Selection, SerialRange, State};
use std::collections::{BTreeMap, BTreeSet};

/// A planned command with the rows it serves, so a refusal is reported against those rows.
#[derive(Clone, Debug)]
pub struct Planned {
    pub actor: OrgId,
    pub command: Command,
    pub rows: Vec<RowRef>,
}

/// The first description of each project (projects files are read first, so theirs wins).
fn projects(parsed: &Parsed) -> BTreeMap<(Program, &str), &ProjectRow> {
    let mut out = BTreeMap::new();
    for p in &parsed.projects {
        out.entry((p.space.program(), p.external_id.as_str())).or_insert(p);
    }
    out
}

/// The rows of each project, for reporting refusals of its registration.
fn project_rows(parsed: &Parsed) -> BTreeMap<(Program, &str), Vec<RowRef>> {
    let mut out: BTreeMap<_, Vec<RowRef>> = BTreeMap::new();
    for p in parsed.projects.iter().filter(|p| p.listed) {
        out.entry((p.space.program(), p.external_id.as_str())).or_default().push(p.at.clone());
    }
    for b in &parsed.batches {
        let rows = b.rows.iter().map(|&i| parsed.blocks[i].at.clone());
        out.entry((b.space.program(), b.project.as_str())).or_default().extend(rows);
    }
    out
}

/// The commands `phase` still needs, and the rows this phase finds it cannot import.
pub fn plan(phase: Phase, parsed: &Parsed, state: &State) -> (Vec<Planned>, Vec<RowRejection>) {
    let operator = state.operator().expect("the ledger is initialized");
    let registrar = state.registrar().expect("the ledger is initialized");
    let missing: Vec<(&ProjectRow, Vec<RowRef>)> = {
        let rows = project_rows(parsed);
        projects(parsed)
            .into_iter()
            .filter(|((program, id), _)| state.project_by_key(*program, id).is_none())
            .map(|(key, p)| (p, rows.get(&key).cloned().unwrap_or_default()))
            .collect()
    };
    match phase {
        Phase::Organizations => {
            let mut by_dev: BTreeMap<&str, Vec<RowRef>> = BTreeMap::new();
            for (p, rows) in
                missing.iter().filter(|(p, _)| state.organization_by_name(&p.developer).is_none())
            {
                by_dev.entry(&p.developer).or_default().extend(rows.iter().cloned());
            }
            let create = |(name, rows): (&str, _)| Planned {
                actor: operator,
                command: Command::CreateOrganization { name: name.to_owned(), role: Role::Member },
                rows,
            };
            (by_dev.into_iter().map(create).collect(), vec![])
        }
        Phase::Accounts => {
            let mut by_org: BTreeMap<OrgId, Vec<RowRef>> = BTreeMap::new();
            for (p, rows) in &missing {
                if let Some(org) = state
                    .organization_by_name(&p.developer)
                    .filter(|o| developer_account(state, o.id).is_none())
                {
                    by_org.entry(org.id).or_default().extend(rows.iter().cloned());
                }
            }
            let open = |(org, rows)| Planned {
                actor: operator,
                command: Command::OpenAccount { org, name: "Issuance account".into() },
                rows,
            };
            (by_org.into_iter().map(open).collect(), vec![])
        }
        Phase::Projects => {
            let planned = missing
                .into_iter()
                .filter_map(|(p, rows)| {
                    let developer = state.organization_by_name(&p.developer)?.id;
                    Some(Planned { actor: registrar, command: register(p, developer), rows })
                })
                .collect();
            (planned, vec![])
        }
        Phase::Issuances => issuances(parsed, state, registrar),
        Phase::Retirements => retirements(parsed, state, registrar),
    }
}

fn register(p: &ProjectRow, developer: OrgId) -> Command {
    let t = p.project_type.to_ascii_lowercase();
    let nature = ["forest", "afolu", "agricultur", "land", "redd", "grassland", "wetland", "soil"]
        .iter()
        .any(|w| t.contains(w));
    Command::RegisterProject {
        info: Box::new(ProjectInfo {
            program: p.space.program(),
            external_id: p.external_id.clone(),
            name: p.name.clone(),
            methodology: p.methodology.clone(),
            country: p.country.clone(),
            region: p.region.clone(),
            scope: String::new(),
            project_type: p.project_type.clone(),
            effect: if p.removal { Effect::Removal } else { Effect::Reduction },
            basis: if nature { Basis::Nature } else { Basis::Technology },
            developer,
        }),
    }
}

fn rows_of(parsed: &Parsed, b: &Batch) -> Vec<RowRef> {
    b.rows.iter().map(|&i| parsed.blocks[i].at.clone()).collect()
}

fn issuances(
    parsed: &Parsed,
    state: &State,
    registrar: OrgId,
) -> (Vec<Planned>, Vec<RowRejection>) {
    let mut planned = Vec::new();
    let mut refused = Vec::new();
    // Slots handed out in this plan, per slotted space.
    let mut slot_lasts: Vec<u64> = state.issuances().map(|i| i.block.last()).collect();
    for b in parsed.batches.iter().filter(|b| state.issuance_by_ref(&b.external_ref).is_none()) {
        let Some(project) = state.project_by_key(b.space.program(), &b.project) else { continue };
        let Some(to_account) = developer_account(state, project.info.developer) else { continue };
        let base = if b.space.slotted() {
            space::next_slot(b.space, slot_lasts.iter().copied())
        } else {
            parsed.blocks[b.rows[0]]
                .serial
                .as_ref()
                .and_then(batch_number)
                .and_then(|n| space::batch_base(b.space, n).ok())
        };
        let Some(first) = base.and_then(|base| base.checked_add(b.units.0)) else {
            for at in rows_of(parsed, b) {
                refused.push(RowRejection {
                    file: at.file,
                    line: at.line,
                    code: space::OUT_OF_RANGE,
                    message: "no room for this batch in Rasid's serial space".into(),
                });
            }
            continue;
        };
        slot_lasts.push(first + (b.quantity() - 1));
        planned.push(Planned {
            actor: registrar,
            command: Command::Issue {
                project: project.id,
                vintage_year: b.vintage,
                quantity_tonnes: b.quantity(),
                buffer_tonnes: b.buffer_tonnes,
                to_account,
                first_serial: Some(first),
                external_ref: Some(b.external_ref.clone()),
            },
            rows: rows_of(parsed, b),
        });
    }
    (planned, refused)
}

/// The number a numbered space's batch base is computed from.
fn batch_number(s: &crate::serials::Serial) -> Option<u64> {
    match s {
        crate::serials::Serial::Cdm(c) => space::cdm_party(c.party.as_str()),
        other => other.batch().map(|b| b.value()),
    }
}

/// The ledger range of a row's units in `issuance`.
pub fn ledger_range(
    space: Space,
    issuance_first: u64,
    (first, last): (u64, u64),
) -> Option<SerialRange> {
    let base = space::base_of_block(space, issuance_first);
    SerialRange::new(base.checked_add(first)?, base.checked_add(last)?)
}

/// The source key an imported retirement's note or cancellation's reason carries.
pub fn source_key_of_note(note: &str) -> Option<&str> {
    let start = note.find("(source ")? + "(source ".len();
    let len = note[start..].find(')')?;
    Some(&note[start..start + len])
}

fn imported_keys(state: &State) -> BTreeSet<&str> {
    state
        .retirements()
        .filter_map(|r| source_key_of_note(&r.details.note))
        .chain(state.cancellations().filter_map(|c| source_key_of_note(&c.reason)))
        .collect()
}

fn retirements(
    parsed: &Parsed,
    state: &State,
    registrar: OrgId,
) -> (Vec<Planned>, Vec<RowRejection>) {
    let batch_of: BTreeMap<usize, &Batch> =
        parsed.batches.iter().flat_map(|b| b.rows.iter().map(move |&i| (i, b))).collect();
    let keys = imported_keys(state);
    let mut taken: BTreeMap<IssuanceId, u64> = BTreeMap::new();
    let mut planned = Vec::new();
    let mut refused = Vec::new();
    for (i, row) in parsed.blocks.iter().enumerate() {
        if !matches!(row.kind, Kind::Retired(_) | Kind::Cancelled(_)) {
            continue;
        }
        let result = match batch_of.get(&i) {
            Some(b) => by_range(row, b, state),
            None if keys.contains(row.source_key.as_str()) => Ok(None),
            None => by_quantity(row, state, &mut taken),
        };
        match result {
            Ok(Some((issuance, account, selection, actor_is_owner))) => {
                let command = command(row, issuance, account, selection);
                let actor = if actor_is_owner {
                    state.account(account).map_or(registrar, |a| a.org)
                } else {
                    registrar
                };
                let actor = if matches!(row.kind, Kind::Cancelled(_)) { registrar } else { actor };
                planned.push(Planned { actor, command, rows: vec![row.at.clone()] });
            }
            Ok(None) => {}
            Err((code, message)) => refused.push(RowRejection {
                file: row.at.file.clone(),
                line: row.at.line,
                code,
                message,
            }),
        }
    }
    (planned, refused)
}

type Target = (IssuanceId, rasid_core::AccountId, Selection, bool);
type Refusal = (&'static str, String);

/// A row with units: exactly those serials, from the developer's account.
fn by_range(row: &BlockRow, b: &Batch, state: &State) -> Result<Option<Target>, Refusal> {
    // A batch whose issuance was refused has had all its rows reported already.
    let Some(iss) = state.issuance_by_ref(&b.external_ref) else { return Ok(None) };
    let units = row.units.unwrap_or((1, 1));
    let range = ledger_range(row.space, iss.block.first(), units)
        .ok_or(("serial_out_of_range", "the units do not fit".to_owned()))?;
    if !iss.block.contains_range(range) {
        return Err((
            "outside_issuance",
            format!(
                "units {}..={} lie outside the imported batch {}",
                units.0, units.1, b.external_ref
            ),
        ));
    }
    let done = match row.kind {
        Kind::Retired(_) => &iss.retired,
        _ => &iss.cancelled,
    };
    if done.contains(range) {
        return Ok(None);
    }
    if iss.retired.intersects(range) || iss.cancelled.intersects(range) {
        return Err((
            "already_retired_or_cancelled",
            "some of these units are already retired or cancelled in Rasid".into(),
        ));
    }
    let project = state.project(iss.project).ok_or(("unknown_project", String::new()))?;
    let account = developer_account(state, project.info.developer)
        .ok_or(("unknown_account", String::new()))?;
    let held = state.holding(account, iss.id).is_some_and(|h| h.available.contains(range));
    if !held {
        return Err((
            "not_available",
            "these units are no longer with the developer's account in Rasid".into(),
        ));
    }
    Ok(Some((iss.id, account, Selection::Ranges(vec![range]), true)))
}

/// An Isometric retirement: a quantity of a project, from the first of its imported issuances
/// that still holds enough (one issuance, so the row imports whole or not at all).
fn by_quantity(
    row: &BlockRow,
    state: &State,
    taken: &mut BTreeMap<IssuanceId, u64>,
) -> Result<Option<Target>, Refusal> {
    let project = state
        .project_by_key(row.space.program(), &row.project)
        .ok_or(("unknown_project", format!("project {} has no imported issuances", row.project)))?;
    let account = developer_account(state, project.info.developer)
        .ok_or(("unknown_account", String::new()))?;
    let prefix = format!("{}:", row.space.prefix());
    for iss in state.issuances().filter(|i| {
        i.project == project.id && i.external_ref.as_deref().is_some_and(|r| r.starts_with(&prefix))
    }) {
        let available = state.holding(account, iss.id).map_or(0, |h| h.available.quantity_tonnes());
        let used = taken.entry(iss.id).or_default();
        if available.saturating_sub(*used) >= row.quantity {
            *used += row.quantity;
            return Ok(Some((iss.id, account, Selection::Quantity(row.quantity), true)));
        }
    }
    Err((
        "insufficient_credits",
        format!(
            "no imported issuance of {} holds {} t for this retirement",
            row.project, row.quantity
        ),
    ))
}

fn command(
    row: &BlockRow,
    issuance: IssuanceId,
    account: rasid_core::AccountId,
    selection: Selection,
) -> Command {
    let place = row.space.name();
    let fields = |fields: &[(&str, String)]| {
        fields.iter().map(|(k, v)| format!("; {k}: {v}")).collect::<String>()
    };
    match &row.kind {
        Kind::Retired(r) => Command::Retire {
            account,
            issuance,
            selection,
            details: Box::new(RetirementDetails {
                beneficiary: r.beneficiary.clone(),
                purpose: r.purpose,
                using_entity: r.using_entity.clone(),
                note: text::note(&format!(
                    "retired {} at {place} (source {}){}",
                    r.date,
                    row.source_key,
                    fields(&r.fields)
                )),
            }),
        },
        Kind::Cancelled(c) => Command::Cancel {
            account,
            issuance,
            selection,
            reason: text::name(&format!(
                "cancelled {} at {place} (source {}){}",
                c.date,
                row.source_key,
                fields(&c.fields)
            )),
        },
        Kind::Issued | Kind::Held => {
            unreachable!("only retirements and cancellations are planned here")
        }
    }
}

/// The rows whose effect the ledger already has: a second import reports them as already
/// present instead of imported.
pub fn already_present(parsed: &Parsed, state: &State) -> BTreeSet<RowRef> {
    let mut out = BTreeSet::new();
    for p in parsed.projects.iter().filter(|p| p.listed) {
        if state.project_by_key(p.space.program(), &p.external_id).is_some() {
            out.insert(p.at.clone());
        }
    }
    let keys = imported_keys(state);
    let batch_of: BTreeMap<usize, &Batch> =
        parsed.batches.iter().flat_map(|b| b.rows.iter().map(move |&i| (i, b))).collect();
    for (i, row) in parsed.blocks.iter().enumerate() {
        let present = match batch_of.get(&i).and_then(|b| state.issuance_by_ref(&b.external_ref)) {
            None => keys.contains(row.source_key.as_str()),
            Some(iss) => {
                let range = row.units.and_then(|u| ledger_range(row.space, iss.block.first(), u));
                match (&row.kind, range) {
                    (Kind::Retired(_), Some(r)) => iss.retired.contains(r),
                    (Kind::Cancelled(_), Some(r)) => iss.cancelled.contains(r),
                    _ => true,
                }
            }
        };
        if present {
            out.insert(row.at.clone());
        }
    }
    out
}
