//! The Berkeley Carbon Trading Project's Voluntary Registry Offsets Database, in the long
//! "project × vintage" form shipped in `testdata/vrod/`: one row per project and vintage with the
//! credits issued and still remaining.
//!
//! Each valid row becomes one issuance of `issued` tonnes to the developer's account, keyed by
//! `VROD:{project_id}:{vintage}`, followed by one retirement of `issued − remaining` tonnes on
//! behalf of [`HISTORICAL_BENEFICIARY`]. VROD does not split retired from cancelled credits, so
//! everything no longer remaining is recorded as retired, and the note says so.

use rasid_core::model::{Basis, Effect, Program, ProjectInfo, Purpose, RetirementDetails, Role};
use rasid_core::{AccountId, Command, OrgId, Selection, State};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

pub const HISTORICAL_BENEFICIARY: &str = "Historical retirements (imported)";
const HISTORICAL_NOTE: &str = "Imported from the Berkeley VROD: issued minus remaining credits at the time of the export (retired or cancelled at the source registry).";
const HEADER: [&str; 13] = [
    "project_id",
    "registry",
    "project_name",
    "scope",
    "type",
    "reduction_removal",
    "methodology",
    "region",
    "country",
    "developer",
    "vintage",
    "issued",
    "remaining",
];

/// One valid row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub line: u64,
    pub project_id: String,
    pub program: Program,
    pub project_name: String,
    pub scope: String,
    pub project_type: String,
    pub effect: Effect,
    pub methodology: String,
    pub region: String,
    pub country: String,
    pub developer: String,
    pub vintage: u16,
    pub issued_tonnes: u64,
    pub remaining_tonnes: u64,
}

impl Row {
    pub fn retired_tonnes(&self) -> u64 {
        self.issued_tonnes - self.remaining_tonnes
    }

    pub fn external_ref(&self) -> String {
        format!("VROD:{}:{}", self.project_id, self.vintage)
    }

    fn basis(&self) -> Basis {
        // VROD has no nature/technology field; its scope is the best signal. Manure digesters sit
        // under Agriculture but are engineering, so they count as technology.
        let nature_scope = matches!(self.scope.as_str(), "Forestry & Land Use" | "Agriculture");
        let engineered =
            self.project_type.contains("Digester") || self.project_type.contains("Methane");
        if nature_scope && !engineered { Basis::Nature } else { Basis::Technology }
    }
}

/// A row a registry must refuse, with its 1-based line number in the file (the header is line 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowRejection {
    pub line: u64,
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Parsed {
    /// Data rows read (valid or not), not counting the header.
    pub rows: u64,
    pub valid: Vec<Row>,
    pub rejections: Vec<RowRejection>,
}

/// Reads the whole file. Fails only when the header is not VROD's; every bad data row becomes
/// a [`RowRejection`] and the rest are still read.
pub fn parse(mut reader: impl Read) -> Result<Parsed, String> {
    // The whole file is read first so rejections can name physical line numbers from byte
    // offsets: the csv reader's own line counter runs one behind on CRLF files such as VROD's.
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(|e| format!("cannot read the file: {e}"))?;
    let newlines: Vec<u64> =
        bytes.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i as u64).collect();
    // A record's position can point at the line terminator before it (the '\n' of a CRLF),
    // so skip terminators to reach the record's first byte.
    let line_at = |pos: Option<&csv::Position>| {
        pos.map_or(0, |p| {
            let mut start = usize::try_from(p.byte()).unwrap_or(usize::MAX);
            while bytes.get(start).is_some_and(|b| *b == b'\r' || *b == b'\n') {
                start += 1;
            }
            newlines.partition_point(|&nl| nl < start as u64) as u64 + 1
        })
    };
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(bytes.as_slice());
    let header = csv.headers().map_err(|e| format!("cannot read the header: {e}"))?;
    if header.iter().map(str::trim).ne(HEADER) {
        return Err(format!("not a VROD vintages file: expected columns {}", HEADER.join(",")));
    }
    let mut out = Parsed::default();
    let mut seen = BTreeSet::new();
    let mut record = csv::StringRecord::new();
    loop {
        match csv.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                out.rows += 1;
                let line = line_at(record.position());
                match parse_row(&record, line).and_then(|row| {
                    if seen.insert((row.program, row.project_id.clone(), row.vintage)) {
                        Ok(row)
                    } else {
                        Err(reject(
                            line,
                            "duplicate_row",
                            "this project and vintage appeared earlier".into(),
                        ))
                    }
                }) {
                    Ok(row) => out.valid.push(row),
                    Err(r) => out.rejections.push(r),
                }
            }
            Err(e) => {
                out.rows += 1;
                let line = line_at(e.position());
                out.rejections.push(reject(line, "malformed_row", format!("unreadable CSV: {e}")));
                if !matches!(
                    e.kind(),
                    csv::ErrorKind::Utf8 { .. } | csv::ErrorKind::UnequalLengths { .. }
                ) {
                    break;
                }
            }
        }
    }
    Ok(out)
}

fn reject(line: u64, code: &'static str, message: String) -> RowRejection {
    RowRejection { line, code, message }
}

fn parse_row(r: &csv::StringRecord, line: u64) -> Result<Row, RowRejection> {
    if r.len() != HEADER.len() {
        return Err(reject(
            line,
            "malformed_row",
            format!("{} fields, expected {}", r.len(), HEADER.len()),
        ));
    }
    let field = |i: usize| r.get(i).unwrap_or("").trim();
    let project_id = field(0);
    if project_id.is_empty() {
        return Err(reject(line, "malformed_field", "project_id is empty".into()));
    }
    let program = field(1).parse::<Program>().map_err(|e| reject(line, "unknown_program", e))?;
    let effect = match field(5) {
        "Reduction" => Effect::Reduction,
        "Mixed" => Effect::Mixed,
        "Impermanent Removal" | "Long-Duration Removal" | "Removal" => Effect::Removal,
        other => {
            return Err(reject(
                line,
                "malformed_field",
                format!("reduction_removal {other:?} is not known"),
            ));
        }
    };
    let vintage: u16 = field(10)
        .parse()
        .ok()
        .filter(|v| {
            (rasid_core::engine::VINTAGE_YEAR_MIN..=rasid_core::engine::VINTAGE_YEAR_MAX)
                .contains(v)
        })
        .ok_or_else(|| {
            reject(
                line,
                "invalid_vintage",
                format!("vintage {:?} is not a year in 1990..=2100", field(10)),
            )
        })?;
    let int = |i: usize, name: &str| {
        field(i).parse::<i64>().map_err(|_| {
            reject(line, "malformed_field", format!("{name} {:?} is not a whole number", field(i)))
        })
    };
    let issued = int(11, "issued")?;
    let remaining = int(12, "remaining")?;
    if issued < 0 {
        return Err(reject(line, "negative_issued", format!("issued {issued} is negative")));
    }
    if remaining < 0 {
        return Err(reject(
            line,
            "negative_remaining",
            format!("remaining {remaining} is negative: more retired than issued"),
        ));
    }
    if issued == 0 {
        return Err(reject(line, "nothing_issued", "no credits were issued".into()));
    }
    if remaining > issued {
        return Err(reject(
            line,
            "remaining_exceeds_issued",
            format!("remaining {remaining} exceeds issued {issued}"),
        ));
    }
    let name = field(2);
    Ok(Row {
        line,
        project_id: project_id.to_owned(),
        program,
        project_name: if name.is_empty() { project_id.to_owned() } else { name.to_owned() },
        scope: field(3).to_owned(),
        project_type: field(4).to_owned(),
        effect,
        methodology: field(6).to_owned(),
        region: field(7).to_owned(),
        country: field(8).to_owned(),
        developer: if field(9).is_empty() {
            "Unknown developer (imported)".to_owned()
        } else {
            field(9).to_owned()
        },
        vintage,
        issued_tonnes: issued.unsigned_abs(),
        remaining_tonnes: remaining.unsigned_abs(),
    })
}

/// The import runs in phases because each one needs ids the engine assigns in the one before
/// (organizations → accounts → projects → issuances → retirements). Each phase plans only what
/// the ledger does not have yet, which is what makes a second import of the same file a no-op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    Organizations,
    Accounts,
    Projects,
    Issuances,
    Retirements,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Organizations,
        Phase::Accounts,
        Phase::Projects,
        Phase::Issuances,
        Phase::Retirements,
    ];
}

/// A planned command with the file lines it serves, so an engine rejection can be reported
/// against those lines.
#[derive(Clone, Debug)]
pub struct Planned {
    pub actor: OrgId,
    pub command: Command,
    pub lines: Vec<u64>,
}

/// The commands `phase` still needs, given the ledger as it is now.
pub fn plan(phase: Phase, rows: &[Row], state: &State) -> Vec<Planned> {
    let operator = state.operator().expect("the ledger is initialized");
    let registrar = state.registrar().expect("the ledger is initialized");
    match phase {
        Phase::Organizations => {
            let mut by_dev: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
            for r in rows.iter().filter(|r| state.organization_by_name(&r.developer).is_none()) {
                by_dev.entry(&r.developer).or_default().push(r.line);
            }
            by_dev
                .into_iter()
                .map(|(name, lines)| Planned {
                    actor: operator,
                    command: Command::CreateOrganization {
                        name: name.to_owned(),
                        role: Role::Member,
                    },
                    lines,
                })
                .collect()
        }
        Phase::Accounts => {
            let mut by_org: BTreeMap<OrgId, Vec<u64>> = BTreeMap::new();
            for r in rows {
                let org = state.organization_by_name(&r.developer);
                if let Some(org) = org.filter(|o| developer_account(state, o.id).is_none()) {
                    by_org.entry(org.id).or_default().push(r.line);
                }
            }
            by_org
                .into_iter()
                .map(|(org, lines)| Planned {
                    actor: operator,
                    command: Command::OpenAccount { org, name: "Issuance account".into() },
                    lines,
                })
                .collect()
        }
        Phase::Projects => {
            let mut by_project: BTreeMap<(Program, &str), (&Row, Vec<u64>)> = BTreeMap::new();
            for r in rows {
                if state.project_by_key(r.program, &r.project_id).is_some() {
                    continue;
                }
                if state.organization_by_name(&r.developer).is_none() {
                    continue;
                }
                by_project
                    .entry((r.program, &r.project_id))
                    .or_insert((r, Vec::new()))
                    .1
                    .push(r.line);
            }
            by_project
                .into_values()
                .filter_map(|(r, lines)| {
                    let developer = state.organization_by_name(&r.developer)?.id;
                    Some(Planned { actor: registrar, command: register(r, developer), lines })
                })
                .collect()
        }
        Phase::Issuances => rows
            .iter()
            .filter(|r| state.issuance_by_ref(&r.external_ref()).is_none())
            .filter_map(|r| {
                let project = state.project_by_key(r.program, &r.project_id)?;
                let to_account = developer_account(state, project.info.developer)?;
                Some(Planned {
                    actor: registrar,
                    command: Command::Issue {
                        project: project.id,
                        vintage_year: r.vintage,
                        quantity_tonnes: r.issued_tonnes,
                        buffer_tonnes: 0,
                        to_account,
                        first_serial: None,
                        external_ref: Some(r.external_ref()),
                    },
                    lines: vec![r.line],
                })
            })
            .collect(),
        Phase::Retirements => {
            let done: BTreeSet<_> = state
                .retirements()
                .filter(|x| x.details.beneficiary == HISTORICAL_BENEFICIARY)
                .map(|x| x.issuance)
                .collect();
            rows.iter()
                .filter(|r| r.retired_tonnes() > 0)
                .filter_map(|r| {
                    let issuance = state.issuance_by_ref(&r.external_ref())?;
                    let project = state.project(issuance.project)?;
                    let account = developer_account(state, project.info.developer)?;
                    (!done.contains(&issuance.id)).then(|| Planned {
                        actor: project.info.developer,
                        command: Command::Retire {
                            account,
                            issuance: issuance.id,
                            selection: Selection::Quantity(r.retired_tonnes()),
                            details: Box::new(RetirementDetails {
                                beneficiary: HISTORICAL_BENEFICIARY.into(),
                                purpose: Purpose::Other,
                                using_entity: String::new(),
                                note: HISTORICAL_NOTE.into(),
                            }),
                        },
                        lines: vec![r.line],
                    })
                })
                .collect()
        }
    }
}

fn register(r: &Row, developer: OrgId) -> Command {
    Command::RegisterProject {
        info: Box::new(ProjectInfo {
            program: r.program,
            external_id: r.project_id.clone(),
            name: r.project_name.clone(),
            methodology: r.methodology.clone(),
            country: r.country.clone(),
            region: r.region.clone(),
            scope: r.scope.clone(),
            project_type: r.project_type.clone(),
            effect: r.effect,
            basis: r.basis(),
            developer,
        }),
    }
}

/// The account a developer's imported issuances go to: its first holding account.
pub fn developer_account(state: &State, org: OrgId) -> Option<AccountId> {
    state.accounts_of(org).find(|a| a.kind == rasid_core::model::AccountKind::Holding).map(|a| a.id)
}
