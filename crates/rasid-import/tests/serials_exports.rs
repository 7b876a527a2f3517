//! Every serial in the registries' real exports (`testdata/registry-exports/`) parses, formats
//! back to exactly itself, and agrees with the other columns of its row: the quantity, the
//! project, the vintage, and Cercarbono's verification and buffer flags.

use rasid_import::serials::cercarbono::{self, CercarbonoSerial};
use rasid_import::serials::{Family, Registry, Serial, Vintage, parse_serial};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

/// One export file, parsed: its header and rows.
struct Table {
    file: &'static str,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn read(file: &'static str) -> Self {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/registry-exports")
            .join(file);
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut bytes = Vec::new();
        if file.ends_with(".gz") {
            flate2::read::GzDecoder::new(raw.as_slice()).read_to_end(&mut bytes).unwrap();
        } else {
            bytes = raw;
        }
        let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(bytes.as_slice());
        let header = csv.headers().unwrap().iter().map(str::to_owned).collect();
        let rows = csv.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
        Self { file, header, rows }
    }

    fn column(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{}: no column {name:?}", self.file))
    }

    /// Each row's value in `name`, with its 1-based row number.
    fn values<'a>(&'a self, name: &str) -> impl Iterator<Item = (usize, &'a str)> + 'a {
        let i = self.column(name);
        self.rows.iter().enumerate().map(move |(n, r)| (n + 1, r.get(i).map_or("", String::as_str)))
    }
}

/// A column of serials, and the column with each row's quantity.
struct SerialColumn {
    file: &'static str,
    serial: &'static str,
    quantity: &'static str,
    rows: usize,
}

const SERIAL_COLUMNS: [SerialColumn; 9] = [
    col("verra/transactions.csv.gz", "Serial Number", "Quantity Issued", 200),
    col("gold-standard/issuances.csv", "Serial Number", "Quantity", 100),
    col("gold-standard/retirements.csv", "Serial Number", "Quantity", 100),
    col("american-carbon-registry/retirements.csv.gz", ACR_SERIAL, ACR_QUANTITY, 100),
    col("american-carbon-registry/cancellations.csv", ACR_SERIAL, ACR_QUANTITY, 50),
    col("art-trees/retirements.csv", ACR_SERIAL, ACR_QUANTITY, 8),
    col("art-trees/cancellations.csv", ACR_SERIAL, ACR_QUANTITY, 3),
    col("climate-action-reserve/retirements.csv", CAR_SERIAL, CAR_QUANTITY, 100),
    col("climate-action-reserve/cancellations.csv", CAR_SERIAL, CAR_QUANTITY, 50),
];
const ACR_SERIAL: &str = "Credit Serial Numbers";
const ACR_QUANTITY: &str = "Quantity of Credits";
const CAR_SERIAL: &str = "Offset Credit Serial Numbers";
const CAR_QUANTITY: &str = "Quantity of Offset Credits";

const fn col(
    file: &'static str,
    serial: &'static str,
    quantity: &'static str,
    rows: usize,
) -> SerialColumn {
    SerialColumn { file, serial, quantity, rows }
}

/// Rows whose quantity column disagrees with the serial's range. The exports have none; the
/// count is asserted so that a parser bug cannot pass itself off as bad data.
const QUANTITY_DISAGREEMENTS: usize = 0;

fn parse_exact(file: &str, row: usize, text: &str) -> Serial {
    let serial = parse_serial(text)
        .unwrap_or_else(|e| panic!("{file} row {row}: {text:?} refused: {} ({e})", e.code()));
    assert_eq!(serial.format(), text, "{file} row {row}: formats back differently");
    assert_eq!(serial.to_string(), text);
    serial
}

#[test]
fn every_ranged_serial_round_trips_and_matches_its_quantity() {
    let mut disagreements = Vec::new();
    let mut families = BTreeMap::new();
    for spec in &SERIAL_COLUMNS {
        let table = Table::read(spec.file);
        assert_eq!(table.rows.len(), spec.rows, "{}: row count", spec.file);
        let quantities: Vec<&str> = table.values(spec.quantity).map(|(_, q)| q).collect();
        for (row, text) in table.values(spec.serial) {
            let serial = parse_exact(spec.file, row, text);
            *families.entry(serial.family().as_str()).or_insert(0) += 1;
            let expected: u64 = quantities[row - 1].replace(',', "").parse().unwrap();
            let quantity = serial.quantity().unwrap_or_else(|| panic!("{text}: no range"));
            assert_eq!(serial.last().unwrap() - serial.first().unwrap() + 1, quantity);
            if quantity != expected {
                disagreements.push(format!(
                    "{} row {row}: {text} is {quantity}, file says {expected}",
                    spec.file
                ));
            }
        }
    }
    assert_eq!(disagreements.len(), QUANTITY_DISAGREEMENTS, "{disagreements:#?}");
    let expected: BTreeMap<&str, i32> =
        [("verra", 200), ("gold_standard", 197), ("cdm", 3), ("acr", 161), ("car", 150)].into();
    assert_eq!(families, expected);
}

#[test]
fn verra_serials_agree_with_their_row() {
    let t = Table::read("verra/transactions.csv.gz");
    let ids: Vec<&str> = t.values("ID").map(|(_, v)| v).collect();
    let starts: Vec<&str> = t.values("Vintage Start").map(|(_, v)| v).collect();
    let ends: Vec<&str> = t.values("Vintage End").map(|(_, v)| v).collect();
    for (row, text) in t.values("Serial Number") {
        let Serial::Verra(s) = parse_exact(t.file, row, text) else { panic!("{text}: not Verra") };
        assert_eq!(s.project.to_string(), ids[row - 1]);
        assert_eq!(s.vintage.start().to_string(), starts[row - 1], "{text}");
        assert_eq!(s.vintage.end().to_string(), ends[row - 1], "{text}");
        assert_eq!(s.program.map(|p| p.to_string()).as_deref(), Some("VCS"));
        assert_eq!((s.unit_type.as_str(), s.operator.as_str()), ("VCU", "VER"));
    }
}

#[test]
fn gold_standard_and_cdm_serials_agree_with_their_row() {
    for file in ["gold-standard/issuances.csv", "gold-standard/retirements.csv"] {
        let t = Table::read(file);
        let gsid: Vec<&str> = t.values("GSID").map(|(_, v)| v).collect();
        let vintage: Vec<&str> = t.values("Vintage").map(|(_, v)| v).collect();
        let product: Vec<&str> = t.values("Product Type").map(|(_, v)| v).collect();
        for (row, text) in t.values("Serial Number") {
            let serial = parse_exact(file, row, text);
            match serial {
                Serial::GoldStandard(s) => {
                    assert_eq!(s.project.to_string(), gsid[row - 1], "{text}");
                    assert_eq!(s.vintage.to_string(), vintage[row - 1], "{text}");
                    assert_eq!(serial.project(), format!("GS{}", gsid[row - 1]));
                }
                Serial::Cdm(s) => {
                    assert_eq!(s.unit_type_name(), product[row - 1], "{text}");
                    assert_eq!(serial.registry(), Registry::Cdm);
                    assert_eq!(serial.vintage(), None);
                }
                other => panic!("{file} row {row}: {other:?}"),
            }
        }
    }
}

#[test]
fn acr_art_and_car_serials_agree_with_their_row() {
    let files = [
        ("american-carbon-registry/retirements.csv.gz", ACR_SERIAL, "ACR", Registry::Acr),
        ("american-carbon-registry/cancellations.csv", ACR_SERIAL, "ACR", Registry::Acr),
        ("art-trees/retirements.csv", ACR_SERIAL, "ART", Registry::ArtTrees),
        ("art-trees/cancellations.csv", ACR_SERIAL, "ART", Registry::ArtTrees),
        ("climate-action-reserve/retirements.csv", CAR_SERIAL, "CAR", Registry::Car),
        ("climate-action-reserve/cancellations.csv", CAR_SERIAL, "CAR", Registry::Car),
    ];
    for (file, column, id_prefix, registry) in files {
        let t = Table::read(file);
        let id_column = if registry == Registry::ArtTrees { "Program ID" } else { "Project ID" };
        let ids: Vec<&str> = t.values(id_column).map(|(_, v)| v).collect();
        let vintage: Vec<&str> = t.values("Vintage").map(|(_, v)| v).collect();
        for (row, text) in t.values(column) {
            let serial = parse_exact(file, row, text);
            assert_eq!(serial.registry(), registry, "{text}");
            assert_eq!(format!("{id_prefix}{}", serial.project()), ids[row - 1], "{text}");
            assert_eq!(serial.vintage(), Some(Vintage::Year(vintage[row - 1].parse().unwrap())));
        }
    }
}

#[test]
fn cercarbono_issuance_serials_agree_with_their_row() {
    let t = Table::read("cercarbono/issuances.csv");
    let verification: Vec<&str> = t.values("verification").map(|(_, v)| v).collect();
    let year: Vec<&str> = t.values("year").map(|(_, v)| v).collect();
    let buffer: Vec<&str> = t.values("is_buffer").map(|(_, v)| v).collect();
    let mut with_year = 0;
    let mut other_verification = Vec::new();
    for (row, text) in t.values("serial") {
        let Serial::Cercarbono(s) = parse_exact(t.file, row, text) else { panic!("{text}") };
        if s.verification.to_string() != verification[row - 1] {
            other_verification.push(text);
        }
        assert_eq!(s.is_buffer(), buffer[row - 1] == "True", "{text}");
        if let Some(y) = s.year {
            assert_eq!(y.to_string(), year[row - 1], "{text}");
            with_year += 1;
        }
        assert_eq!(s.block, None);
    }
    assert_eq!((t.rows.len(), with_year), (100, 84));
    // The serial's verification number is the row's in all but these four: units of serial
    // `…_CO_1_3` with 2018 and 2019 vintages that the export lists under verification 4.
    assert_eq!(
        other_verification,
        [
            "CDC_10_1_1_321_14_CO_1_3_2018",
            "CDC_10_1_1_321_14_CO_1_3_2019",
            "CDC_10_1_1_321_14_CO_1_3_2018_BF",
            "CDC_10_1_1_321_14_CO_1_3_2019_BF"
        ]
    );
}

#[test]
fn cercarbono_retirements_round_trip_with_their_from_and_to_columns() {
    let t = Table::read("cercarbono/retirements.csv");
    let (from, to, quantity, vintage) =
        (t.column("from"), t.column("to"), t.column("quantity"), t.column("vintage"));
    let mut disagreements = 0;
    for (n, row) in t.rows.iter().enumerate() {
        let text = &row[t.column("serial")];
        let s: CercarbonoSerial = cercarbono::parse_with_range(text, &row[from], &row[to])
            .unwrap_or_else(|e| panic!("row {}: {text}: {e}", n + 1));
        assert_eq!(Serial::Cercarbono(s).format(), *text);
        let block = s.block.unwrap();
        assert_eq!(
            (block.first().to_string(), block.last().to_string()),
            (row[from].clone(), row[to].clone())
        );
        disagreements += usize::from(block.quantity().to_string() != row[quantity]);
        if let Some(y) = s.year {
            assert_eq!(y.to_string(), row[vintage], "{text}");
        }
    }
    assert_eq!((t.rows.len(), disagreements), (100, QUANTITY_DISAGREEMENTS));
}

/// The projects export lists each project's serials inside a Python-literal list of dicts; this
/// pulls out the `'serial': '…'` values.
fn listed_serials(cell: &str) -> Vec<&str> {
    cell.split("'serial': '").skip(1).filter_map(|s| s.split('\'').next()).collect()
}

#[test]
fn cercarbono_project_serials_name_their_project_and_sector() {
    let t = Table::read("cercarbono/projects.csv.gz");
    let (id, sector, serials) = (t.column("id"), t.column("sector"), t.column("serials"));
    let mut count = 0;
    for row in &t.rows {
        let sectors: BTreeSet<&str> =
            row[sector].split("'id': ").skip(1).filter_map(|s| s.split(',').next()).collect();
        for text in listed_serials(&row[serials]) {
            let Serial::Cercarbono(s) = parse_exact(t.file, count, text) else { panic!("{text}") };
            assert_eq!(s.project.to_string(), row[id], "{text}");
            assert!(sectors.contains(s.sector.to_string().as_str()), "{text}: {sectors:?}");
            count += 1;
        }
    }
    assert_eq!(count, 890);
}

/// Guards against a serial column nobody noticed: across every column of every export file,
/// the cells that parse as serials are exactly those of the known serial columns.
#[test]
fn no_other_column_holds_serials() {
    let files = [
        "verra/transactions.csv.gz",
        "verra/projects.csv",
        "gold-standard/issuances.csv",
        "gold-standard/retirements.csv",
        "gold-standard/projects.csv.gz",
        "american-carbon-registry/issuances.csv",
        "american-carbon-registry/retirements.csv.gz",
        "american-carbon-registry/cancellations.csv",
        "american-carbon-registry/projects.csv",
        "art-trees/issuances.csv",
        "art-trees/retirements.csv",
        "art-trees/cancellations.csv",
        "art-trees/projects.csv",
        "climate-action-reserve/issuances.csv",
        "climate-action-reserve/retirements.csv",
        "climate-action-reserve/cancellations.csv",
        "climate-action-reserve/projects.csv",
        "cercarbono/issuances.csv",
        "cercarbono/retirements.csv",
        "cercarbono/projects.csv.gz",
        "isometric/issuances.csv.gz",
        "isometric/retirements.csv",
        "isometric/projects.csv.gz",
        "arb/nc-arboc_issuance_sheet3.csv",
    ];
    let mut found = BTreeSet::new();
    for file in files {
        let t = Table::read(file);
        for (i, name) in t.header.iter().enumerate() {
            if t.rows.iter().any(|r| r.get(i).is_some_and(|c| parse_serial(c).is_ok())) {
                found.insert(format!("{file}: {name}"));
            }
        }
    }
    let mut expected: BTreeSet<String> =
        SERIAL_COLUMNS.iter().map(|c| format!("{}: {}", c.file, c.serial)).collect();
    expected.insert("cercarbono/issuances.csv: serial".into());
    expected.insert("cercarbono/retirements.csv: serial".into());
    assert_eq!(found, expected);
    assert_eq!(Family::Cercarbono.as_str(), "cercarbono");
}
