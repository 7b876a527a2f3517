//! `rasid export`: the ledger's records written out for other people's tools.
//!
//! - `retirements`: every retirement as CSV, in Rasid's own columns or in the columns of a
//!   source registry's retirement export (`export_columns.rs` says where each column comes from).
//!   Credits imported from that registry carry the registry's own serial string again.
//! - `holdings`: every holding by serial range, available and reserved.
//! - `open-data`: a public dump (projects, issuances, retirements; CSV and JSON) with a README
//!   naming the journal head it was taken at.
//!
//! The rows are built here from domain values, so the files' shapes belong to the CLI, not to
//! the core. Exports only read: a file is written beside its destination under a temporary
//! name and renamed into place when complete, so a failed export leaves nothing half-written.

use crate::export_columns::{self, Col, Fallback, NOTE_FIELDS};
use crate::output::{Failure, Output, ranges_json};
use crate::registry::Ctx;
use rasid_core::codec::hex;
use rasid_core::model::{Issuance, Labels, Project, Retirement};
use rasid_core::time::rfc3339;
use rasid_core::{AccountId, SerialRange, State};
use rasid_import::registry::{Format, Space, source_key_of_note, space, with_units};
use rasid_import::serials::parse_serial;
use serde_json::{Value, json};
use std::path::Path;

/// `--format` of `rasid export retirements`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetirementFormat {
    Rasid,
    Registry(Format),
}

impl std::str::FromStr for RetirementFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "rasid" {
            return Ok(Self::Rasid);
        }
        let names = "rasid, verra, gold-standard, acr, car, art, cercarbono";
        match s.parse::<Format>() {
            // Isometric publishes retirement records without serial numbers through an API; there
            // is no file of theirs to write back.
            Ok(f) if export_columns::columns(f).is_some() => Ok(Self::Registry(f)),
            _ => Err(format!("unknown export format {s:?} ({names})")),
        }
    }
}

/// A finished table: header and rows of text.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn csv(&self) -> Result<Vec<u8>, Failure> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let internal = |e: csv::Error| Failure::Internal(format!("writing CSV: {e}"));
        w.write_record(&self.header).map_err(internal)?;
        for row in &self.rows {
            w.write_record(row).map_err(internal)?;
        }
        w.into_inner().map_err(|e| Failure::Internal(format!("writing CSV: {e}")))
    }
}

/// Writes `bytes` to `path` whole or not at all: into a temporary file in the same directory,
/// then renamed over `path`, so readers never see a partial export.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let unwritable = |e: std::io::Error| {
        Failure::invalid("unwritable_output", format!("cannot write {}: {e}", path.display()))
    };
    if path.is_dir() {
        return Err(Failure::invalid(
            "unwritable_output",
            format!("{} is a directory", path.display()),
        ));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(unwritable)?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(unwritable)?;
    tmp.as_file().sync_all().map_err(unwritable)?;
    tmp.persist(path).map_err(|e| unwritable(e.error))?;
    Ok(())
}

/// Prints the table (no `--output`) or writes it to `output`.
fn emit(table: &Table, what: &str, output: Option<&Path>) -> Result<Output, Failure> {
    let bytes = table.csv()?;
    let rows = table.rows.len();
    match output {
        Some(path) => {
            write_file(path, &bytes)?;
            Ok(Output::new(
                format!("wrote {rows} {what} to {}", path.display()),
                json!({ "ok": true, "rows": rows, "file": path.display().to_string() }),
            ))
        }
        None => {
            let csv = String::from_utf8_lossy(&bytes).into_owned();
            Ok(Output::new(csv.clone(), json!({ "ok": true, "rows": rows, "csv": csv })))
        }
    }
}

pub fn retirements(
    ctx: &Ctx,
    format: RetirementFormat,
    output: Option<&Path>,
) -> Result<Output, Failure> {
    let table = ctx.read(move |s| retirement_table(s, format))?;
    emit(&table, "retirements", output)
}

pub fn holdings(
    ctx: &Ctx,
    account: Option<AccountId>,
    output: Option<&Path>,
) -> Result<Output, Failure> {
    let table = ctx.read(move |s| holding_table(s, account))??;
    emit(&table, "holding ranges", output)
}

/// The records a retirement row is filled from.
struct Context<'a> {
    r: &'a Retirement,
    iss: &'a Issuance,
    project: &'a Project,
    holder: &'a str,
    developer: &'a str,
}

fn context<'a>(s: &'a State, r: &'a Retirement) -> Context<'a> {
    // `State::audit` guarantees these links; an inconsistent state would have failed recovery.
    let iss = s.issuance(r.issuance).expect("audit: retirements name issuances");
    let project = s.project(iss.project).expect("audit: issuances name projects");
    let holder =
        s.account(r.account).and_then(|a| s.organization(a.org)).map_or("", |o| o.name.as_str());
    let developer = s.organization(project.info.developer).map_or("", |o| o.name.as_str());
    Context { r, iss, project, holder, developer }
}

fn retirement_table(s: &State, format: RetirementFormat) -> Table {
    match format {
        RetirementFormat::Rasid => rasid_retirements(s),
        RetirementFormat::Registry(f) => {
            let cols = export_columns::columns(f).unwrap_or(&[]);
            Table {
                header: cols.iter().map(|(h, _)| (*h).to_owned()).collect(),
                rows: s
                    .retirements()
                    .map(|r| {
                        let c = context(s, r);
                        let source = SourceUnits::of(&c, f);
                        cols.iter().map(|(_, col)| cell(&c, &source, *col)).collect()
                    })
                    .collect(),
            }
        }
    }
}

/// Rasid's ranges as `first-last;first-last`.
fn rasid_ranges(ranges: impl Iterator<Item = SerialRange>) -> String {
    ranges.map(|r| format!("{}-{}", r.first(), r.last())).collect::<Vec<_>>().join(";")
}

const RASID_RETIREMENT_HEADER: [&str; 17] = [
    "retirement",
    "journal_seq",
    "time",
    "account",
    "organization",
    "project_program",
    "project_external_id",
    "project_name",
    "project_country",
    "issuance",
    "vintage",
    "quantity",
    "serials",
    "beneficiary",
    "purpose",
    "using_entity",
    "note",
];

fn rasid_retirements(s: &State) -> Table {
    let rows = s
        .retirements()
        .map(|r| {
            let c = context(s, r);
            let i = &c.project.info;
            vec![
                r.id.to_string(),
                r.seq.to_string(),
                rfc3339(r.retired_at_ms),
                r.account.to_string(),
                c.holder.to_owned(),
                i.program.as_str().to_owned(),
                i.external_id.clone(),
                i.name.clone(),
                i.country.clone(),
                r.issuance.to_string(),
                c.iss.vintage_year.to_string(),
                r.serials.quantity_tonnes().to_string(),
                rasid_ranges(r.serials.ranges()),
                r.details.beneficiary.clone(),
                r.details.purpose.as_str().to_owned(),
                r.details.using_entity.clone(),
                r.details.note.clone(),
            ]
        })
        .collect();
    Table { header: RASID_RETIREMENT_HEADER.map(str::to_owned).to_vec(), rows }
}

/// A retirement's units in the source registry's numbering, when its issuance was imported from
/// the registry being written; one entry per Rasid range.
struct SourceUnits {
    /// The registry's serial of each range (Cercarbono: the issuance's serial, the same for
    /// every range).
    serials: Vec<String>,
    /// The unit numbers of each range in the source batch.
    units: Vec<(u64, u64)>,
}

impl SourceUnits {
    fn of(c: &Context<'_>, format: Format) -> Option<Self> {
        let (space, rest) = Space::of_ref(c.iss.external_ref.as_deref()?)?;
        // Gold Standard's export also lists the UN CDM units it holds, under CDM serials.
        let ours =
            space == format.space() || (format == Format::GoldStandard && space == Space::Cdm);
        if !ours || space == Space::Isometric {
            return None;
        }
        // The batch base is the issuance's first serial with the unit bits cleared: the same
        // rule the importer placed the block by, so units come back exactly.
        let base = space::base_of_block(space, c.iss.block.first());
        let batch = parse_serial(rest).ok()?;
        let mut out = Self { serials: Vec::new(), units: Vec::new() };
        for r in c.r.serials.ranges() {
            let units = (r.first().checked_sub(base)?, r.last().checked_sub(base)?);
            let serial = if space == Space::Cercarbono {
                // Cercarbono's serial names the issuance; the units go in `from` and `to`.
                rest.to_owned()
            } else {
                with_units(&batch, units.0, units.1)?.to_string()
            };
            out.serials.push(serial);
            out.units.push(units);
        }
        Some(out)
    }
}

fn cell(c: &Context<'_>, source: &Option<SourceUnits>, col: Col) -> String {
    let i = &c.project.info;
    let date = || retired_date(c.r);
    let units = |pick: fn(&(u64, u64)) -> u64| -> String {
        match source {
            Some(s) => s.units.iter().map(|u| pick(u).to_string()).collect::<Vec<_>>().join(";"),
            None => {
                c.r.serials
                    .ranges()
                    .map(|r| pick(&(r.first(), r.last())).to_string())
                    .collect::<Vec<_>>()
                    .join(";")
            }
        }
    };
    match col {
        Col::Serial => match source {
            // One serial per range; a registry serial never contains `; `.
            Some(s) => s.serials.join("; "),
            None => rasid_ranges(c.r.serials.ranges()),
        },
        Col::From => units(|u| u.0),
        Col::To => units(|u| u.1),
        Col::Quantity => c.r.serials.quantity_tonnes().to_string(),
        Col::Vintage => c.iss.vintage_year.to_string(),
        Col::VintageStart | Col::VintageEnd => verra_period(c.iss, col == Col::VintageStart),
        Col::RetiredDate => date(),
        Col::RetiredDateUs => us_date(&date()),
        Col::IssuedDate => rfc3339(c.iss.issued_at_ms)[..10].to_owned(),
        Col::IssuedDateUs => us_date(&rfc3339(c.iss.issued_at_ms)[..10]),
        Col::ProjectId => i.external_id.clone(),
        Col::ProjectNumber => project_number(&i.external_id),
        Col::ProjectName => i.name.clone(),
        Col::Country => i.country.clone(),
        Col::Region => i.region.clone(),
        Col::ProjectType => i.project_type.clone(),
        Col::Methodology => i.methodology.clone(),
        Col::Developer => c.developer.to_owned(),
        Col::Effect => format!("{:?}", i.effect),
        Col::Beneficiary => c.r.details.beneficiary.clone(),
        Col::UsingEntity => c.r.details.using_entity.clone(),
        Col::Source(key, fallback) => note_field(&c.r.details.note, key).unwrap_or_else(|| {
            if source_key_of_note(&c.r.details.note).is_some() {
                // An imported retirement whose source left this field empty stays empty.
                return String::new();
            }
            match fallback {
                Fallback::Purpose => c.r.details.purpose.as_str().to_owned(),
                Fallback::Note => c.r.details.note.clone(),
                Fallback::AccountHolder => c.holder.to_owned(),
                Fallback::Nothing => String::new(),
            }
        }),
        Col::Constant(v) => v.to_owned(),
        Col::Ccp => if c.iss.labels.ccp { "Yes" } else { "No" }.to_owned(),
        Col::Empty => String::new(),
    }
}

/// The source registry's retirement date for imported retirements (their note begins
/// `retired DATE at REGISTRY (source …)`), else the UTC date Rasid recorded.
fn retired_date(r: &Retirement) -> String {
    let note = &r.details.note;
    let from_source = source_key_of_note(note)
        .and_then(|_| note.strip_prefix("retired "))
        .and_then(|rest| rest.split_once(" at "))
        .map(|(date, _)| date.to_owned());
    from_source.unwrap_or_else(|| rfc3339(r.retired_at_ms)[..10].to_owned())
}

/// `YYYY-MM-DD` as `MM/DD/YYYY`; anything else unchanged.
fn us_date(d: &str) -> String {
    let b = d.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        format!("{}/{}/{}", &d[5..7], &d[8..10], &d[..4])
    } else {
        d.to_owned()
    }
}

/// The number of an imported project's id without the prefix the importer adds (`VCS`, `GS`,
/// `CDC-`); other ids as registered.
fn project_number(id: &str) -> String {
    for prefix in ["VCS", "GS", "CDC-"] {
        if let Some(n) = id.strip_prefix(prefix)
            && !n.is_empty()
            && n.bytes().all(|b| b.is_ascii_digit())
        {
            return n.to_owned();
        }
    }
    id.to_owned()
}

/// Verra's vintage period from an imported Verra issuance's serial; empty for other credits.
fn verra_period(iss: &Issuance, start: bool) -> String {
    let serial = iss
        .external_ref
        .as_deref()
        .and_then(Space::of_ref)
        .filter(|(space, _)| *space == Space::Verra)
        .and_then(|(_, rest)| parse_serial(rest).ok());
    match serial {
        Some(rasid_import::serials::Serial::Verra(v)) => {
            let d = if start { v.vintage.start() } else { v.vintage.end() };
            d.to_string()
        }
        _ => String::new(),
    }
}

/// The value of source field `key` in an imported retirement's note
/// (`retired … (source …); key: value; key: value`). A value may itself contain `; `, so a
/// field runs until the next piece that starts with a known field name.
fn note_field(note: &str, key: &str) -> Option<String> {
    let source = source_key_of_note(note)?;
    let marker = format!("(source {source})");
    let rest = &note[note.find(&marker)? + marker.len()..];
    let mut found: Option<String> = None;
    let mut in_key = false;
    for piece in rest.split("; ").skip(1) {
        let starts = NOTE_FIELDS.iter().find_map(|k| {
            piece.strip_prefix(k).and_then(|p| p.strip_prefix(": ")).map(|v| (*k, v))
        });
        match starts {
            Some((k, v)) => {
                in_key = k == key;
                if in_key {
                    found = Some(v.to_owned());
                }
            }
            None if in_key => {
                if let Some(f) = found.as_mut() {
                    f.push_str("; ");
                    f.push_str(piece);
                }
            }
            None => {}
        }
    }
    found
}

const HOLDING_HEADER: [&str; 11] = [
    "account",
    "organization",
    "organization_name",
    "issuance",
    "project",
    "vintage",
    "first",
    "last",
    "quantity",
    "state",
    "account_kind",
];

fn holding_table(s: &State, account: Option<AccountId>) -> Result<Table, Failure> {
    if let Some(a) = account
        && s.account(a).is_none()
    {
        return Err(Failure::Rejected(rasid_core::Rejection::UnknownAccount));
    }
    let mut rows = Vec::new();
    // Reserved serials are kept by the orders, lots and deposits that reserved them.
    let reserved = match account {
        Some(a) => {
            s.reserved_serials_of_account(a).into_iter().map(|(i, set)| ((a, i), set)).collect()
        }
        None => s.reserved_serials(),
    };
    let none = rasid_core::RangeSet::new();
    // One account's holdings are read directly: filtering every holding would lend each one
    // (merged with its credit log) before the filter sees it.
    let holdings: Box<dyn Iterator<Item = _>> = match account {
        Some(a) => Box::new(s.holdings_of(a).map(move |(i, h)| (a, i, h))),
        None => Box::new(s.holdings()),
    };
    for (acc, issuance, h) in holdings {
        let a = s.account(acc).expect("audit: holdings name accounts");
        let org = s.organization(a.org).map_or("", |o| o.name.as_str());
        let iss = s.issuance(issuance).expect("audit: holdings name issuances");
        let project = s.project(iss.project).expect("audit: issuances name projects");
        let held = reserved.get(&(acc, issuance)).unwrap_or(&none);
        for (state, set) in [("available", &h.available), ("reserved", held)] {
            for r in set.ranges() {
                rows.push(vec![
                    acc.to_string(),
                    a.org.to_string(),
                    org.to_owned(),
                    issuance.to_string(),
                    project.info.external_id.clone(),
                    iss.vintage_year.to_string(),
                    r.first().to_string(),
                    r.last().to_string(),
                    r.quantity_tonnes().to_string(),
                    state.to_owned(),
                    format!("{:?}", a.kind).to_lowercase(),
                ]);
            }
        }
    }
    Ok(Table { header: HOLDING_HEADER.map(str::to_owned).to_vec(), rows })
}

/// The open-data tables, each as CSV rows and as JSON documents.
struct OpenData {
    tables: Vec<(&'static str, Table, Vec<Value>)>,
    last_seq: u64,
}

fn labels_cells(l: &Labels) -> [String; 4] {
    [
        l.corsia.map(|c| format!("{c:?}").to_lowercase()).unwrap_or_default(),
        if l.ccp { "true" } else { "false" }.to_owned(),
        l.article6.as_ref().map(|a| a.authorization_ref.clone()).unwrap_or_default(),
        l.article6.as_ref().map(|a| a.ca_status.as_str().to_owned()).unwrap_or_default(),
    ]
}

fn open_data_tables(s: &State) -> OpenData {
    let developer =
        |p: &Project| s.organization(p.info.developer).map_or(String::new(), |o| o.name.clone());
    let mut projects = Table {
        header: [
            "id",
            "program",
            "external_id",
            "name",
            "methodology",
            "country",
            "region",
            "scope",
            "type",
            "effect",
            "basis",
            "developer",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: Vec::new(),
    };
    let mut project_docs = Vec::new();
    for p in s.projects() {
        let i = &p.info;
        let row = vec![
            p.id.to_string(),
            i.program.as_str().to_owned(),
            i.external_id.clone(),
            i.name.clone(),
            i.methodology.clone(),
            i.country.clone(),
            i.region.clone(),
            i.scope.clone(),
            i.project_type.clone(),
            format!("{:?}", i.effect).to_lowercase(),
            format!("{:?}", i.basis).to_lowercase(),
            developer(p),
        ];
        project_docs.push(json!({
            "id": p.id.to_string(), "program": row[1], "external_id": row[2], "name": row[3],
            "methodology": row[4], "country": row[5], "region": row[6], "scope": row[7],
            "type": row[8], "effect": row[9], "basis": row[10], "developer": row[11],
        }));
        projects.rows.push(row);
    }
    let mut issuances = Table {
        header: [
            "id",
            "project",
            "project_external_id",
            "vintage",
            "first",
            "last",
            "quantity",
            "buffer_tonnes",
            "retired_tonnes",
            "cancelled_tonnes",
            "external_ref",
            "issued_at",
            "corsia",
            "ccp",
            "article6_ref",
            "ca_status",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: Vec::new(),
    };
    let mut issuance_docs = Vec::new();
    for iss in s.issuances() {
        let project = s.project(iss.project).expect("audit: issuances name projects");
        let [corsia, ccp, a6, ca] = labels_cells(&iss.labels);
        issuance_docs.push(json!({
            "id": iss.id.to_string(), "project": iss.project.to_string(),
            "project_external_id": project.info.external_id, "vintage": iss.vintage_year,
            "serial_blocks": ranges_json([iss.block]), "quantity": iss.block.quantity_tonnes(),
            "buffer_tonnes": iss.buffer_tonnes, "retired_tonnes": iss.retired.quantity_tonnes(),
            "cancelled_tonnes": iss.cancelled.quantity_tonnes(), "external_ref": iss.external_ref,
            "issued_at": rfc3339(iss.issued_at_ms),
            "labels": {
                "corsia": iss.labels.corsia.map(|c| format!("{c:?}").to_lowercase()),
                "ccp": iss.labels.ccp,
                "article6": iss.labels.article6.as_ref().map(|a| json!({
                    "authorization_ref": a.authorization_ref, "ca_status": a.ca_status.as_str(),
                })),
            },
        }));
        issuances.rows.push(vec![
            iss.id.to_string(),
            iss.project.to_string(),
            project.info.external_id.clone(),
            iss.vintage_year.to_string(),
            iss.block.first().to_string(),
            iss.block.last().to_string(),
            iss.block.quantity_tonnes().to_string(),
            iss.buffer_tonnes.to_string(),
            iss.retired.quantity_tonnes().to_string(),
            iss.cancelled.quantity_tonnes().to_string(),
            iss.external_ref.clone().unwrap_or_default(),
            rfc3339(iss.issued_at_ms),
            corsia,
            ccp,
            a6,
            ca,
        ]);
    }
    // Retirements are public in every registry: who benefits, from which project, which serials.
    // The retiring account is a member's private business, so it is left out.
    let mut retirements = Table {
        header: [
            "id",
            "journal_seq",
            "time",
            "issuance",
            "project_external_id",
            "project_name",
            "country",
            "vintage",
            "quantity",
            "serials",
            "beneficiary",
            "purpose",
            "using_entity",
            "note",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows: Vec::new(),
    };
    let mut retirement_docs = Vec::new();
    for r in s.retirements() {
        let c = context(s, r);
        let i = &c.project.info;
        retirement_docs.push(json!({
            "id": r.id.to_string(), "journal_seq": r.seq, "time": rfc3339(r.retired_at_ms),
            "issuance": r.issuance.to_string(), "project_external_id": i.external_id,
            "project_name": i.name, "country": i.country, "vintage": c.iss.vintage_year,
            "quantity": r.serials.quantity_tonnes(), "serials": ranges_json(r.serials.ranges()),
            "beneficiary": r.details.beneficiary, "purpose": r.details.purpose.as_str(),
            "using_entity": r.details.using_entity, "note": r.details.note,
        }));
        retirements.rows.push(vec![
            r.id.to_string(),
            r.seq.to_string(),
            rfc3339(r.retired_at_ms),
            r.issuance.to_string(),
            i.external_id.clone(),
            i.name.clone(),
            i.country.clone(),
            c.iss.vintage_year.to_string(),
            r.serials.quantity_tonnes().to_string(),
            rasid_ranges(r.serials.ranges()),
            r.details.beneficiary.clone(),
            r.details.purpose.as_str().to_owned(),
            r.details.using_entity.clone(),
            r.details.note.clone(),
        ]);
    }
    OpenData {
        tables: vec![
            ("projects", projects, project_docs),
            ("issuances", issuances, issuance_docs),
            ("retirements", retirements, retirement_docs),
        ],
        last_seq: s.last_seq(),
    }
}

pub fn open_data(ctx: &Ctx, dir: &Path) -> Result<Output, Failure> {
    let unwritable = |e: std::io::Error| {
        Failure::invalid("unwritable_output", format!("cannot write {}: {e}", dir.display()))
    };
    if dir.exists() && !dir.is_dir() {
        return Err(Failure::invalid(
            "unwritable_output",
            format!("{} exists and is not a directory", dir.display()),
        ));
    }
    let data = ctx.read(open_data_tables)?;
    // The CLI is the ledger's only writer while it runs, so the head after the read is the
    // state the tables were taken from; the check makes that assumption visible.
    let (seq, hash) = ctx.ledger.head();
    if seq != data.last_seq {
        return Err(Failure::Internal(format!(
            "the journal head moved during the export ({} → {seq})",
            data.last_seq
        )));
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut counts = serde_json::Map::new();
    for (name, table, docs) in &data.tables {
        files.push((format!("{name}.csv"), table.csv()?));
        let doc = serde_json::to_vec_pretty(&Value::Array(docs.clone()))
            .map_err(|e| Failure::Internal(format!("writing JSON: {e}")))?;
        files.push((format!("{name}.json"), doc));
        counts.insert((*name).to_owned(), json!(table.rows.len()));
    }
    files.push(("README.txt".into(), readme(&data, seq, &hex(&hash)).into_bytes()));
    // Everything is written into a temporary directory inside DIR first and moved into place
    // only when every file is complete, so a failure leaves no partial dump.
    std::fs::create_dir_all(dir).map_err(unwritable)?;
    let staging =
        tempfile::Builder::new().prefix(".rasid-export-").tempdir_in(dir).map_err(unwritable)?;
    for (name, bytes) in &files {
        std::fs::write(staging.path().join(name), bytes).map_err(unwritable)?;
    }
    for (name, _) in &files {
        std::fs::rename(staging.path().join(name), dir.join(name)).map_err(unwritable)?;
    }
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    Ok(Output::new(
        format!(
            "wrote {} to {} at journal record {seq} (hash {})",
            names.join(", "),
            dir.display(),
            hex(&hash)
        ),
        json!({
            "ok": true, "dir": dir.display().to_string(), "files": names, "rows": counts,
            "journal_seq": seq, "journal_hash": hex(&hash),
        }),
    ))
}

fn readme(data: &OpenData, seq: u64, hash: &str) -> String {
    let count = |n: &str| {
        data.tables.iter().find(|(name, _, _)| *name == n).map_or(0, |(_, t, _)| t.rows.len())
    };
    format!(
        "Rasid open data\n\
         ===============\n\n\
         Taken at journal record {seq}, whose chained SHA-256 hash is\n  {hash}\n\
         `rasid verify` on the ledger prints the same head hash while nothing has been added.\n\n\
         Public records only: no cash balances, no orders, no bids, no account holdings.\n\
         Every table is written twice, as CSV (a header row, then one row per record) and as\n\
         JSON (an array of objects with the same fields; serial blocks as arrays).\n\n\
         projects.csv / projects.json       {} rows: registered projects (program, external id,\n\
         \x20                                  name, methodology, country, type, developer).\n\
         issuances.csv / issuances.json     {} rows: issued blocks with their Rasid serial\n\
         \x20                                  range, buffer, retired and cancelled tonnes, the\n\
         \x20                                  source registry's batch (external_ref) and labels\n\
         \x20                                  (CORSIA, ICVCM CCP, Article 6).\n\
         retirements.csv / .json            {} rows: retirements with beneficiary, purpose,\n\
         \x20                                  using entity, note and serial ranges (CSV:\n\
         \x20                                  first-last;first-last).\n\n\
         Ids carry their prefix (prj, iss, ret). Times are RFC 3339 in UTC. Quantities are\n\
         tonnes of CO2e; one serial number is one tonne.\n",
        count("projects"),
        count("issuances"),
        count("retirements"),
    )
}
