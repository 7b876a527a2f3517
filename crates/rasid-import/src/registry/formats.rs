//! Each export's files, column by column, into block rows and project rows.
//!
//! The reserve-style registries (ACR, ART TREES, CAR) publish the same shapes under different
//! column names, so they share one reader driven by a table of names.

use super::table::{Columns, Table};
use super::{
    BlockRow, Cancellation, FileSummary, Format, Kind, Parsed, ProjectRow, Retirement, RowRef,
    RowRejection, SourceFile, Space, position, text,
};
use crate::serials::{self, Serial, parse_serial};

pub const UNKNOWN_DEVELOPER: &str = "Unknown developer (imported)";

pub fn read(format: Format, files: &[SourceFile]) -> Result<Parsed, String> {
    let mut out = Parsed::default();
    for f in files {
        let table = Table::read(&f.name, &f.bytes)?;
        let mut summary =
            FileSummary { name: f.name.clone(), rows: table.rows(), informational: 0 };
        out.rejections.extend(table.rejections.iter().cloned());
        let rows = &mut out;
        match (format, f.role) {
            (_, "projects") => projects(format, &table, rows)?,
            (Format::Verra, "transactions") => verra_transactions(&table, rows)?,
            (Format::GoldStandard, role) => gold_standard(&table, role == "retirements", rows)?,
            (Format::Cercarbono, "issuances") => cercarbono_issuances(&table, rows)?,
            (Format::Cercarbono, _) => cercarbono_retirements(&table, rows)?,
            (Format::Isometric, "issuances") => isometric_issuances(&table, rows)?,
            (Format::Isometric, _) => isometric_retirements(&table, rows)?,
            (_, "issuances") => summary.informational = reserve_issuances(format, &table, rows)?,
            (_, role) => reserve_blocks(format, &table, role == "cancellations", rows)?,
        }
        out.files.push(summary);
    }
    Ok(out)
}

/// What a block row needs besides its serial.
struct RowFacts<'a> {
    quantity: &'a str,
    /// The project id the row states, checked against the serial's.
    project: &'a str,
    vintage: &'a str,
    kind: Kind,
}

/// Checks a serial row and builds it: the serial must parse, belong to `space` (or CDM in Gold
/// Standard), carry a range that agrees with the quantity and fit Rasid's serial space.
fn block_row(
    table: &Table,
    line: u64,
    serial: Result<Serial, serials::SerialError>,
    facts: RowFacts<'_>,
    space: Space,
) -> Result<BlockRow, RowRejection> {
    let reject = |code, message| table.reject(line, code, message);
    let serial = serial.map_err(|e| reject(e.code(), format!("serial refused: {e}")))?;
    let pos = position(&serial).map_err(|(code, m)| reject(code, m))?;
    let cdm_in_gs = space == Space::GoldStandard && pos.space == Space::Cdm;
    if pos.space != space && !cdm_in_gs {
        let m = format!("a {} serial in a {} export", pos.space.name(), space.name());
        return Err(reject("wrong_registry", m));
    }
    let (first, last) = pos
        .units
        .ok_or_else(|| reject("no_serial_range", "the serial names no range of units".into()))?;
    let quantity = text::whole(facts.quantity).ok_or_else(|| {
        reject("malformed_quantity", format!("quantity {:?} is not a whole number", facts.quantity))
    })?;
    let range_quantity = last - first + 1;
    if quantity != range_quantity {
        let m = format!(
            "quantity {quantity} but the range {first}..={last} holds {range_quantity} (last − first + 1)"
        );
        return Err(reject("quantity_mismatch", m));
    }
    let project = match (pos.project, facts.project) {
        (Some(p), stated) if !stated.is_empty() && stated != p => {
            return Err(reject(
                "project_mismatch",
                format!("the row names project {stated} but the serial {p}"),
            ));
        }
        (Some(p), _) => p,
        (None, stated) if !stated.is_empty() => stated.to_owned(),
        (None, _) => return Err(reject("malformed_field", "the row names no project".into())),
    };
    let vintage = pos.vintage.or_else(|| text::year(facts.vintage)).ok_or_else(|| {
        reject("invalid_vintage", format!("no vintage year in 1990..=2100 ({:?})", facts.vintage))
    })?;
    // CDM units carry no batch: a project's units of one vintage form one issuance.
    let batch =
        if pos.space == Space::Cdm { format!("{}-{vintage}", pos.batch) } else { pos.batch };
    Ok(BlockRow {
        at: RowRef { file: table.file.clone(), line },
        space: pos.space,
        batch,
        source_key: serial.to_string(),
        serial: Some(serial),
        units: Some((first, last)),
        quantity,
        fraction_kg: 0,
        buffer_tonnes: 0,
        project,
        vintage,
        kind: facts.kind,
    })
}

fn push(out: &mut Parsed, row: Result<BlockRow, RowRejection>) {
    match row {
        Ok(r) => out.blocks.push(r),
        Err(r) => out.rejections.push(r),
    }
}

fn fits<const N: usize>(
    table: &Table,
    c: &Columns<N>,
    line: u64,
    rec: &csv::StringRecord,
) -> Result<(), RowRejection> {
    if c.fits(rec) {
        Ok(())
    } else {
        Err(table.reject(
            line,
            "malformed_row",
            format!("{} fields: the row is shorter than the header", rec.len()),
        ))
    }
}

fn retired(
    date: &str,
    beneficiary: &str,
    reason: &str,
    using: &str,
    fields: Vec<(&'static str, String)>,
) -> Kind {
    Kind::Retired(Retirement {
        date: text::date(date),
        beneficiary: text::name(beneficiary),
        purpose: text::purpose(reason),
        using_entity: text::name(using),
        fields: fields.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
    })
}

fn cancelled(date: &str, fields: Vec<(&'static str, String)>) -> Kind {
    Kind::Cancelled(Cancellation {
        date: text::date(date),
        fields: fields.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
    })
}

fn verra_transactions(t: &Table, out: &mut Parsed) -> Result<(), String> {
    let c = t.columns([
        "Serial Number",
        "Quantity Issued",
        "ID",
        "Vintage Start",
        "Retirement/Cancellation Date",
        "Retirement Beneficiary",
        "Retirement Reason",
        "Retirement Details",
        "Name",
        "Country/Area",
        "Methodology",
        "Project Type",
        "Additional Certifications",
    ])?;
    for (line, rec) in &t.records {
        let (line, g) = (*line, |i| c.get(rec, i));
        let row = fits(t, &c, line, rec).and_then(|()| {
            let date = g(4);
            // Verra's export has one date for retirements and cancellations. A retirement always
            // names a reason or a beneficiary; a dated block with neither is recorded as cancelled.
            let kind = if date.is_empty() {
                Kind::Held
            } else if g(5).is_empty() && g(6).is_empty() {
                cancelled(
                    date,
                    vec![("details", g(7).to_owned()), ("certifications", g(12).to_owned())],
                )
            } else {
                let fields = vec![
                    ("reason", g(6).to_owned()),
                    ("details", g(7).to_owned()),
                    ("certifications", g(12).to_owned()),
                ];
                retired(date, or_unspecified(g(5)), g(6), "", fields)
            };
            let facts =
                RowFacts { quantity: g(1), project: &format!("VCS{}", g(2)), vintage: g(3), kind };
            block_row(t, line, parse_serial(g(0)), facts, Space::Verra)
        });
        if let Ok(r) = &row {
            out.projects.push(project(
                t,
                line,
                Space::Verra,
                &r.project,
                g(8),
                "",
                g(9),
                g(10),
                g(11),
                "",
            ));
        }
        push(out, row);
    }
    Ok(())
}

fn or_unspecified(beneficiary: &str) -> &str {
    if beneficiary.trim().is_empty() { "Unspecified (imported)" } else { beneficiary }
}

fn gold_standard(t: &Table, retirements: bool, out: &mut Parsed) -> Result<(), String> {
    let c = t.columns([
        "Serial Number",
        "Quantity",
        "GSID",
        "Vintage",
        "Credit Status",
        if retirements { "Retirement Date" } else { "" },
        if retirements { "Using Entity" } else { "" },
        if retirements { "Note" } else { "" },
        if retirements { "Use Case" } else { "" },
        "Project Name",
        "Project Developer",
        "Country",
        "Methodology",
        "Project Type",
        if retirements { "Aeroplane Operator Name" } else { "" },
    ])?;
    for (line, rec) in &t.records {
        let (line, g) = (*line, |i| c.get(rec, i));
        let row = fits(t, &c, line, rec).and_then(|()| {
            let kind = match g(4) {
                "Issued" => Kind::Issued,
                "Retired" => retired(
                    g(5),
                    or_unspecified(g(6)),
                    g(8),
                    g(6),
                    vec![
                        ("note", g(7).to_owned()),
                        ("use case", g(8).to_owned()),
                        ("aeroplane operator", g(14).to_owned()),
                    ],
                ),
                "Canceled" | "Cancelled" => {
                    cancelled(g(5), vec![("note", g(7).to_owned()), ("use case", g(8).to_owned())])
                }
                other => {
                    return Err(t.reject(
                        line,
                        "unknown_status",
                        format!("credit status {other:?} is not Issued, Retired or Canceled"),
                    ));
                }
            };
            let facts =
                RowFacts { quantity: g(1), project: &format!("GS{}", g(2)), vintage: g(3), kind };
            block_row(t, line, parse_serial(g(0)), facts, Space::GoldStandard)
        });
        if let Ok(r) = &row {
            out.projects.push(project(
                t,
                line,
                Space::GoldStandard,
                &r.project,
                g(9),
                g(10),
                g(11),
                g(12),
                g(13),
                "",
            ));
        }
        push(out, row);
    }
    Ok(())
}

fn cercarbono_issuances(t: &Table, out: &mut Parsed) -> Result<(), String> {
    let c = t.columns(["serial", "issued_quantity", "year"])?;
    for (line, rec) in &t.records {
        let (line, g) = (*line, |i| c.get(rec, i));
        // The issuance's units are 1..=issued_quantity: the retirements' from/to count from 1.
        let range = serials::cercarbono::parse_with_range(g(0), "1", g(1)).map(Serial::Cercarbono);
        let facts = RowFacts { quantity: g(1), project: "", vintage: g(2), kind: Kind::Issued };
        push(
            out,
            fits(t, &c, line, rec)
                .and_then(|()| block_row(t, line, range, facts, Space::Cercarbono)),
        );
    }
    Ok(())
}

fn cercarbono_retirements(t: &Table, out: &mut Parsed) -> Result<(), String> {
    let c = t.columns([
        "serial",
        "from",
        "to",
        "quantity",
        "project_id",
        "vintage",
        "date",
        "end_user",
        "certificate_destination",
        "passive_subject",
        "industry",
    ])?;
    for (line, rec) in &t.records {
        let (line, g) = (*line, |i| c.get(rec, i));
        let kind = retired(
            g(6),
            or_unspecified(g(7)),
            g(8),
            g(9),
            vec![
                ("destination", g(8).to_owned()),
                ("passive subject", g(9).to_owned()),
                ("industry", g(10).to_owned()),
            ],
        );
        let project = if g(4).is_empty() { String::new() } else { format!("CDC-{}", g(4)) };
        let facts = RowFacts { quantity: g(3), project: &project, vintage: g(5), kind };
        let range = serials::cercarbono::parse_with_range(g(0), g(1), g(2)).map(Serial::Cercarbono);
        push(
            out,
            fits(t, &c, line, rec)
                .and_then(|()| block_row(t, line, range, facts, Space::Cercarbono)),
        );
    }
    Ok(())
}

/// Kilograms as whole tonnes and the remainder.
fn tonnes(t: &Table, line: u64, kg: &str) -> Result<(u64, u64), RowRejection> {
    let kg = text::whole(kg).ok_or_else(|| {
        t.reject(
            line,
            "malformed_quantity",
            format!("credit_kgs {kg:?} is not a whole number of kilograms"),
        )
    })?;
    Ok((kg / 1000, kg % 1000))
}

fn isometric_issuances(t: &Table, out: &mut Parsed) -> Result<(), String> {
    let c = t.columns([
        "id",
        "issued_at",
        "project_id",
        "supplier_credit_batch_size_total.credit_kgs",
        "buffer_pool_credit_batch_size_total.credit_kgs",
        "credit_batch_size_total.credit_kgs",
        "supplier.organisation.name",
        "supplier.location.country_name",
    ])?;
    for (line, rec) in &t.records {
        let (line, g) = (*line, |i| c.get(rec, i));
        let row = fits(t, &c, line, rec).and_then(|()| isometric_issuance(t, line, &|i| g(i)));
        if let Ok(r) = &row {
            out.projects.push(project(
                t,
                line,
                Space::Isometric,
                &r.project,
                "",
                g(6),
                g(7),
                "",
                "",
                "removal",
            ));
        }
        push(out, row);
    }
    Ok(())
}

fn isometric_issuance<'r>(
    t: &Table,
    line: u64,
    g: &dyn Fn(usize) -> &'r str,
) -> Result<BlockRow, RowRejection> {
    let (supplier, supplier_kg) = tonnes(t, line, g(3))?;
    let (buffer, buffer_kg) = tonnes(t, line, g(4))?;
    let (_, _) = tonnes(t, line, g(5))?;
    let total_kg = text::whole(g(5)).unwrap_or(0);
    let sum_kg = (supplier * 1000 + supplier_kg).checked_add(buffer * 1000 + buffer_kg);
    if sum_kg != Some(total_kg) {
        return Err(t.reject(
            line,
            "quantity_mismatch",
            format!("supplier {} kg + buffer {} kg ≠ total {total_kg} kg", g(3), g(4)),
        ));
    }
    if supplier == 0 {
        return Err(t.reject(
            line,
            "below_one_tonne",
            "less than one whole tonne goes to the supplier".into(),
        ));
    }
    let quantity = supplier + buffer;
    let id = g(0);
    if id.is_empty() || g(2).is_empty() {
        return Err(t.reject(line, "malformed_field", "id or project_id is empty".into()));
    }
    let vintage = text::year(g(1)).ok_or_else(|| {
        t.reject(
            line,
            "invalid_vintage",
            format!("issued_at {:?} has no year in 1990..=2100", g(1)),
        )
    })?;
    Ok(BlockRow {
        at: RowRef { file: t.file.clone(), line },
        space: Space::Isometric,
        batch: id.to_owned(),
        serial: None,
        source_key: id.to_owned(),
        units: Some((1, quantity)),
        quantity,
        fraction_kg: supplier_kg + buffer_kg,
        buffer_tonnes: buffer,
        project: g(2).to_owned(),
        vintage,
        kind: Kind::Issued,
    })
}

fn isometric_retirements(t: &Table, out: &mut Parsed) -> Result<(), String> {
    let c = t.columns([
        "retirement_id",
        "retired_at",
        "project_id",
        "credit_batch_size_total.credit_kgs",
        "beneficiary.name",
        "owner.name",
        "purposes",
        "notes",
        "sequestered_on",
    ])?;
    for (line, rec) in &t.records {
        let (line, g) = (*line, |i| c.get(rec, i));
        let row = fits(t, &c, line, rec).and_then(|()| {
            let (quantity, fraction_kg) = tonnes(t, line, g(3))?;
            if quantity == 0 {
                return Err(t.reject(
                    line,
                    "below_one_tonne",
                    format!("{} kg is less than one whole tonne", g(3)),
                ));
            }
            if g(0).is_empty() || g(2).is_empty() {
                return Err(t.reject(
                    line,
                    "malformed_field",
                    "retirement_id or project_id is empty".into(),
                ));
            }
            let fields = vec![
                ("owner", g(5).to_owned()),
                ("purposes", g(6).to_owned()),
                ("notes", g(7).to_owned()),
                ("sequestered on", g(8).to_owned()),
                ("kilograms", g(3).to_owned()),
            ];
            Ok(BlockRow {
                at: RowRef { file: t.file.clone(), line },
                space: Space::Isometric,
                batch: String::new(),
                serial: None,
                source_key: format!("ISOMETRIC:{}", g(0)),
                units: None,
                quantity,
                fraction_kg,
                buffer_tonnes: 0,
                project: g(2).to_owned(),
                vintage: text::year(g(1)).unwrap_or(rasid_core::engine::VINTAGE_YEAR_MIN),
                kind: retired(g(1), or_unspecified(g(4)), g(6), g(5), fields),
            })
        });
        push(out, row);
    }
    Ok(())
}

/// Column names of the reserve-style registries' block files.
struct ReserveNames {
    serial: &'static str,
    quantity: &'static str,
    project: &'static str,
    date: &'static str,
    name: &'static str,
    project_type: &'static str,
    country: &'static str,
    methodology: &'static str,
    holder: &'static str,
    on_behalf: &'static str,
    reason: &'static str,
    details: &'static str,
}

fn reserve_names(format: Format, cancellations: bool) -> ReserveNames {
    let (serial, quantity) = match format {
        Format::Car => ("Offset Credit Serial Numbers", "Quantity of Offset Credits"),
        _ => ("Credit Serial Numbers", "Quantity of Credits"),
    };
    let (project, name, project_type, country, methodology) = match format {
        Format::Art => (
            "Program ID",
            "Program Name",
            "Program Type",
            "Program Country",
            "Crediting Program and Standard",
        ),
        Format::Car => (
            "Project ID",
            "Project Name",
            "Project Type",
            "Project Site Country",
            "Protocol and Version",
        ),
        _ => (
            "Project ID",
            "Project Name",
            "Project Type",
            "Project Site Country",
            "Project Methodology/Protocol",
        ),
    };
    let date = if format == Format::Acr { "Status Effective (GMT)" } else { "Status Effective" };
    let (on_behalf, reason, details) = match (format, cancellations) {
        (Format::Acr, false) | (Format::Art, false) => {
            ("Retired on Behalf of", "Retirement Reason", "Purpose of Retirement")
        }
        (Format::Car, false) => ("", "Retirement Reason", "Retirement Reason Details"),
        (Format::Acr, true) => ("", "Cancellation Type", ""),
        (Format::Art, true) => ("", "Cancellation Reason", "Cancellation Details"),
        _ => ("", "Cancellation Reason", "Export Notes"),
    };
    let holder = if format == Format::Car && cancellations { "" } else { "Account Holder" };
    ReserveNames {
        serial,
        quantity,
        project,
        date,
        name,
        project_type,
        country,
        methodology,
        holder,
        on_behalf,
        reason,
        details,
    }
}

fn reserve_blocks(
    format: Format,
    t: &Table,
    cancellations: bool,
    out: &mut Parsed,
) -> Result<(), String> {
    let n = reserve_names(format, cancellations);
    let c = t.columns([
        n.serial,
        n.quantity,
        n.project,
        n.date,
        n.holder,
        n.on_behalf,
        n.reason,
        n.details,
        n.name,
        n.project_type,
        n.country,
        n.methodology,
        "Vintage",
    ])?;
    let space = format.space();
    for (line, rec) in &t.records {
        let (line, g) = (*line, |i| c.get(rec, i));
        let kind = if cancellations {
            cancelled(
                g(3),
                vec![
                    ("reason", g(6).to_owned()),
                    ("details", g(7).to_owned()),
                    ("account holder", g(4).to_owned()),
                ],
            )
        } else {
            // The beneficiary is whom the credits were retired for, else the account holder.
            let beneficiary = if g(5).is_empty() { or_unspecified(g(4)) } else { g(5) };
            retired(
                g(3),
                beneficiary,
                &format!("{} {}", g(6), g(7)),
                "",
                vec![
                    ("reason", g(6).to_owned()),
                    ("details", g(7).to_owned()),
                    ("account holder", g(4).to_owned()),
                ],
            )
        };
        let facts = RowFacts { quantity: g(1), project: g(2), vintage: g(12), kind };
        let row = fits(t, &c, line, rec)
            .and_then(|()| block_row(t, line, parse_serial(g(0)), facts, space));
        if let Ok(r) = &row {
            out.projects.push(project(
                t,
                line,
                space,
                &r.project,
                g(8),
                "",
                g(10),
                g(11),
                g(9),
                "",
            ));
        }
        push(out, row);
    }
    Ok(())
}

/// ACR, ART and CAR issuance files are summaries per project and vintage without serials:
/// they give project details (the developer above all) and nothing to place.
fn reserve_issuances(format: Format, t: &Table, out: &mut Parsed) -> Result<u64, String> {
    let developer = match format {
        Format::Art => "Sovereign Program Developer",
        _ => "Project Developer",
    };
    let n = reserve_names(format, false);
    let c = t.columns([n.project, n.name, developer, n.country, n.methodology, n.project_type])?;
    for (line, rec) in &t.records {
        let g = |i| c.get(rec, i);
        if !g(0).is_empty() {
            out.projects.push(project(
                t,
                *line,
                format.space(),
                g(0),
                g(1),
                g(2),
                g(3),
                g(4),
                g(5),
                "",
            ));
        }
    }
    Ok(t.records.len() as u64)
}

fn projects(format: Format, t: &Table, out: &mut Parsed) -> Result<(), String> {
    let names: [&str; 7] = match format {
        Format::Verra => {
            ["ID", "Name", "Proponent", "Country/Area", "Methodology", "Project Type", "Region"]
        }
        Format::GoldStandard => [
            "GSID",
            "Project Name",
            "Project Developer Name",
            "Country",
            "Methodology",
            "Project Type",
            "",
        ],
        Format::Acr => [
            "Project ID",
            "Project Name",
            "Project Developer",
            "Project Site Country",
            "Project Methodology/Protocol",
            "Project Type",
            "Project Site State",
        ],
        Format::Car => [
            "Project ID",
            "Project Name",
            "Project Developer",
            "Project Site Country",
            "",
            "Project Type",
            "Project Site State",
        ],
        Format::Art => [
            "Program ID",
            "Program Name",
            "Sovereign Program Developer",
            "Program Country",
            "Crediting Program and Standard",
            "Program Type",
            "Program Jurisdiction(s)",
        ],
        Format::Cercarbono => {
            ["id", "name", "developer", "", "quantification_method", "credits_type", ""]
        }
        Format::Isometric => [
            "id",
            "name",
            "supplier.organisation.name",
            "country_code",
            "protocol_slug",
            "pathway",
            "",
        ],
    };
    let c = t.columns(names)?;
    for (line, rec) in &t.records {
        let g = |i| c.get(rec, i);
        let id = match format {
            Format::Verra => format!("VCS{}", g(0)),
            Format::GoldStandard => format!("GS{}", g(0)),
            Format::Cercarbono => format!("CDC-{}", g(0)),
            _ => g(0).to_owned(),
        };
        if g(0).is_empty() {
            out.rejections.push(t.reject(
                *line,
                "malformed_field",
                "the project id is empty".into(),
            ));
            continue;
        }
        let removal = if format == Format::Isometric { "removal" } else { "" };
        out.projects.push(project(
            t,
            *line,
            format.space(),
            &id,
            g(1),
            g(2),
            g(3),
            g(4),
            g(5),
            removal,
        ));
        if let Some(p) = out.projects.last_mut() {
            p.region = text::name(g(6));
            p.listed = true;
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn project(
    t: &Table,
    line: u64,
    space: Space,
    id: &str,
    name: &str,
    developer: &str,
    country: &str,
    methodology: &str,
    project_type: &str,
    effect: &str,
) -> ProjectRow {
    let name = text::name(name);
    let developer = text::name(developer);
    ProjectRow {
        at: RowRef { file: t.file.clone(), line },
        space,
        external_id: text::name(id),
        name: if name.is_empty() { text::name(id) } else { name },
        developer: if developer.is_empty() { UNKNOWN_DEVELOPER.to_owned() } else { developer },
        country: text::name(country),
        methodology: text::name(methodology),
        project_type: text::name(project_type),
        region: String::new(),
        removal: effect == "removal",
        listed: false,
    }
}
