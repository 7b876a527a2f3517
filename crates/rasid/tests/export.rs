//! `rasid export` end to end: a ledger with native credits (a retirement spanning two serial
//! ranges, a buffer) and the shared registry exports imported, then every retirement format,
//! the holdings and the open-data dump checked against what the ledger itself reports
//! (`retirement list`, `issuances`, `status`, `verify`). Bad input is refused with its exit code
//! and changes nothing. Each test runs on both backends.

mod common;
use common::{Rasid, testdata};
use rasid_import::serials::parse_serial;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

on_both_backends!(
    retirements_in_every_registry_format_round_trip,
    holdings_and_open_data_add_up,
    bad_input_is_refused_and_changes_nothing
);

/// (testdata directory, `--format` of import and export, `external_ref` prefixes of the
/// issuances that export writes in the registry's own serials).
const REGISTRIES: [(&str, &str, &[&str]); 6] = [
    ("verra", "verra", &["VERRA:"]),
    ("gold-standard", "gold-standard", &["GS:", "CDM:"]),
    ("american-carbon-registry", "acr", &["ACR:"]),
    ("climate-action-reserve", "car", &["CAR:"]),
    ("art-trees", "art", &["ART:"]),
    ("cercarbono", "cercarbono", &["CERCARBONO:"]),
];

/// Native credits first (so their serials sit in Rasid's own region): 10,000 t with a 1,000 t
/// buffer, 200 t transferred as two ranges and 150 t of them retired (so the retirement spans
/// two ranges), then every shared registry export imported.
fn ledger(r: &Rasid) {
    let org = |name: &str| r.ok(&["org", "create", name])["events"][0]["org"].to_string();
    let (dev, buyer) = (org("Export Solar LLC"), org("Export Buyer Co"));
    let account = |o: &str| {
        r.ok(&["account", "open", "--org", o, "Main"])["events"][0]["account"].to_string()
    };
    let (dev_acc, buyer_acc) = (account(&dev), account(&buyer));
    let project = r.ok(&[
        "project",
        "register",
        "--program",
        "GS",
        "--id",
        "GS99001",
        "--name",
        "Export Solar",
        "--developer",
        &dev,
        "--country",
        "Uzbekistan",
    ])["events"][0]["project"]
        .to_string();
    let iss = r.ok(&[
        "issue",
        "--project",
        &project,
        "--vintage",
        "2023",
        "--quantity",
        "10000",
        "--buffer",
        "1000",
        "--to",
        &dev_acc,
    ])["events"][0]["issuance"]
        .to_string();
    r.ok(&[
        "transfer",
        "--from",
        &dev_acc,
        "--to",
        &buyer_acc,
        "--issuance",
        &iss,
        "--ranges",
        "101-200,301-400",
    ]);
    r.ok(&[
        "retire",
        "--account",
        &buyer_acc,
        "--issuance",
        &iss,
        "--quantity",
        "150",
        "--beneficiary",
        "Export Buyer Co, Riyadh",
    ]);
    for (dir, format, _) in REGISTRIES {
        let path = testdata(&format!("registry-exports/{dir}"));
        r.ok(&["import", "registry", "--format", format, path.to_str().unwrap()]);
    }
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rdr = csv::Reader::from_path(path).expect("CSV file");
    let header = rdr.headers().unwrap().iter().map(str::to_owned).collect();
    let rows =
        rdr.records().map(|r| r.expect("CSV row").iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

/// The header of a shared registry export's retirement file, without the unnamed index
/// column the tool that saved it appended.
fn source_header(dir: &str) -> Vec<String> {
    let base = testdata(&format!("registry-exports/{dir}"));
    let name = if dir == "verra" { "transactions" } else { "retirements" };
    let mut bytes = Vec::new();
    let plain = base.join(format!("{name}.csv"));
    if plain.exists() {
        bytes = std::fs::read(plain).unwrap();
    } else {
        let gz = std::fs::File::open(base.join(format!("{name}.csv.gz"))).unwrap();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut bytes).unwrap();
    }
    let mut rdr = csv::Reader::from_reader(bytes.as_slice());
    rdr.headers()
        .unwrap()
        .iter()
        .filter(|h| !h.starts_with("Unnamed: "))
        .map(str::to_owned)
        .collect()
}

fn column(header: &[String], name: &str) -> usize {
    header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))
}

/// The ledger's retirements in id order, and each issuance's `external_ref`.
fn ledger_retirements(r: &Rasid) -> (Vec<Value>, BTreeMap<u64, String>) {
    let mut list = r.ok(&["retirement", "list", "--limit", "1000000"])["retirements"]
        .as_array()
        .unwrap()
        .clone();
    list.sort_by_key(|x| x["id"].as_u64().unwrap());
    let refs = r.ok(&["issuances", "--limit", "1000000"])["issuances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["id"].as_u64().unwrap(), i["external_ref"].as_str().unwrap_or("").to_owned()))
        .collect();
    (list, refs)
}

fn rasid_ranges(serials: &Value) -> String {
    serials
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{}-{}", s["first"], s["last"]))
        .collect::<Vec<_>>()
        .join(";")
}

fn retirements_in_every_registry_format_round_trip(r: Rasid) {
    ledger(&r);
    let verify = r.ok(&["verify"]);
    let (retirements, refs) = ledger_retirements(&r);
    assert_eq!(retirements.len() as u64, r.ok(&["status"])["retirements"].as_u64().unwrap());
    assert!(
        retirements.iter().any(|x| x["serials"].as_array().unwrap().len() > 1),
        "the ledger holds a retirement of more than one range"
    );

    // Rasid's own format: one row per retirement, ranges and quantities as the ledger has them.
    let out = r.dir.path().join("rasid.csv");
    let doc = r.ok(&["export", "retirements", "--output", out.to_str().unwrap()]);
    let (header, rows) = read_csv(&out);
    assert_eq!(doc["rows"].as_u64(), Some(rows.len() as u64));
    assert_eq!(rows.len(), retirements.len());
    let (q, s, b) =
        (column(&header, "quantity"), column(&header, "serials"), column(&header, "beneficiary"));
    for (row, x) in rows.iter().zip(&retirements) {
        assert_eq!(row[column(&header, "retirement")], format!("ret{}", x["id"]));
        assert_eq!(row[q], x["quantity"].to_string());
        assert_eq!(row[s], rasid_ranges(&x["serials"]));
        assert_eq!(row[b], x["beneficiary"].as_str().unwrap());
    }

    for (dir, format, prefixes) in REGISTRIES {
        let out = r.dir.path().join(format!("{format}.csv"));
        r.ok(&["export", "retirements", "--format", format, "--output", out.to_str().unwrap()]);
        let (header, rows) = read_csv(&out);
        assert_eq!(header, source_header(dir), "{format}: the registry's own columns");
        assert_eq!(rows.len(), retirements.len(), "{format}: every retirement, one row each");
        let serial_col = header
            .iter()
            .position(|h| {
                ["Serial Number", "serial"].contains(&h.as_str()) || h.contains("Serial Numbers")
            })
            .expect("a serial column");
        let quantity_col = header
            .iter()
            .position(|h| h == "quantity" || h.starts_with("Quantity"))
            .expect("a quantity column");
        let (mut ours, mut ours_tonnes, mut total) = (0u64, 0u64, 0u64);
        let mut expected_ours = (0u64, 0u64);
        for (row, x) in rows.iter().zip(&retirements) {
            let quantity: u64 = row[quantity_col].parse().unwrap();
            assert_eq!(quantity, x["quantity"].as_u64().unwrap(), "{format}: quantity");
            total += quantity;
            let external_ref = &refs[&x["issuance"].as_u64().unwrap()];
            let from_here = prefixes.iter().any(|p| external_ref.starts_with(p));
            if from_here {
                expected_ours.0 += 1;
                expected_ours.1 += quantity;
            }
            let serials: Vec<&str> = row[serial_col].split("; ").collect();
            let parsed: Vec<_> = serials.iter().map(|s| parse_serial(s)).collect();
            if parsed.iter().all(Result::is_ok) {
                ours += 1;
                ours_tonnes += quantity;
                for (text, p) in serials.iter().zip(&parsed) {
                    assert_eq!(&p.as_ref().unwrap().format(), text, "{format}: formats back");
                }
                // The registry's units add up to the quantity: from the serials' own ranges,
                // or Cercarbono's `from`/`to` columns.
                let units: u64 = if format == "cercarbono" {
                    let (a, b) = (&row[column(&header, "from")], &row[column(&header, "to")]);
                    a.split(';')
                        .zip(b.split(';'))
                        .map(|(a, b)| b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1)
                        .sum()
                } else {
                    parsed.iter().map(|p| p.as_ref().unwrap().quantity().unwrap()).sum()
                };
                assert_eq!(units, quantity, "{format}: {}", row[serial_col]);
                // A retirement imported from this registry carries its source serial in the
                // note; the rebuilt serial names the same units.
                let note = x["note"].as_str().unwrap();
                if let Some(source) =
                    note.split("(source ").nth(1).and_then(|s| s.split(')').next())
                    && format != "cercarbono"
                {
                    let a = parse_serial(source).unwrap();
                    let b = parsed[0].as_ref().unwrap();
                    assert_eq!((a.first(), a.last(), a.batch()), (b.first(), b.last(), b.batch()));
                }
            } else {
                assert!(
                    !from_here,
                    "{format}: {external_ref} should be written as a source serial"
                );
                assert_eq!(row[serial_col], rasid_ranges(&x["serials"]), "{format}: Rasid ranges");
            }
        }
        assert!(ours > 0, "{format}: some retirements came from this registry");
        assert_eq!((ours, ours_tonnes), expected_ours, "{format}: the registry's retirements");
        assert_eq!(total, verify["retired_tonnes"].as_u64().unwrap(), "{format}: retired tonnes");
    }
}

fn holdings_and_open_data_add_up(r: Rasid) {
    ledger(&r);
    let verify = r.ok(&["verify"]);
    let status = r.ok(&["status"]);

    let out = r.dir.path().join("holdings.csv");
    r.ok(&["export", "holdings", "--output", out.to_str().unwrap()]);
    let (header, rows) = read_csv(&out);
    let (q, first, last, state) = (
        column(&header, "quantity"),
        column(&header, "first"),
        column(&header, "last"),
        column(&header, "state"),
    );
    let mut total = 0u64;
    for row in &rows {
        let quantity: u64 = row[q].parse().unwrap();
        let (a, b): (u64, u64) = (row[first].parse().unwrap(), row[last].parse().unwrap());
        assert_eq!(b - a + 1, quantity);
        assert!(["available", "reserved"].contains(&row[state].as_str()));
        total += quantity;
    }
    let expected =
        verify["held_tonnes"].as_u64().unwrap() + verify["buffer_tonnes"].as_u64().unwrap();
    assert!(verify["buffer_tonnes"].as_u64().unwrap() > 0, "the buffer pool is counted too");
    assert_eq!(total, expected);

    // One account: the same tonnes `rasid holdings` shows for it.
    let account = rows[0][column(&header, "account")].clone();
    let doc = r.ok(&["export", "holdings", "--account", &account]);
    let (_, one) = {
        let mut rdr = csv::Reader::from_reader(doc["csv"].as_str().unwrap().as_bytes());
        let h: Vec<String> = rdr.headers().unwrap().iter().map(str::to_owned).collect();
        let rows: Vec<Vec<String>> =
            rdr.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
        (h, rows)
    };
    let held: u64 = r.ok(&["holdings", "--account", &account])["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["available_tonnes"].as_u64().unwrap() + h["reserved_tonnes"].as_u64().unwrap())
        .sum();
    assert!(one.iter().all(|row| row[0] == account));
    assert_eq!(one.iter().map(|row| row[q].parse::<u64>().unwrap()).sum::<u64>(), held);

    let dir = r.dir.path().join("open-data");
    let doc = r.ok(&["export", "open-data", dir.to_str().unwrap()]);
    for table in ["projects", "issuances", "retirements"] {
        let expected = status[table].as_u64().unwrap() as usize;
        let (_, rows) = read_csv(&dir.join(format!("{table}.csv")));
        assert_eq!(rows.len(), expected, "{table}.csv");
        let json: Value =
            serde_json::from_slice(&std::fs::read(dir.join(format!("{table}.json"))).unwrap())
                .expect("JSON file");
        assert_eq!(json.as_array().map(Vec::len), Some(expected), "{table}.json");
        assert_eq!(doc["rows"][table].as_u64(), Some(expected as u64));
    }
    let readme = std::fs::read_to_string(dir.join("README.txt")).unwrap();
    let head = r.ok(&["verify"]);
    assert!(readme.contains(head["head_hash"].as_str().unwrap()), "README names the head hash");
    assert!(readme.contains(&format!("journal record {}", head["commands"])));
    assert_eq!(doc["journal_hash"], head["head_hash"]);
    // Public data only: nothing about cash, orders or bids.
    for file in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap().to_lowercase();
        let header = text.lines().next().unwrap_or("");
        for private in ["cash", "order", "bid", "balance"] {
            assert!(!header.contains(private), "{header}");
        }
    }
}

fn bad_input_is_refused_and_changes_nothing(r: Rasid) {
    ledger(&r);
    let before = r.ok(&["verify"]);
    assert_eq!(
        r.fails(&["export", "holdings", "--account", "acc999999"]),
        (1, "unknown_account".into())
    );
    let missing = r.dir.path().join("no-such-dir/out.csv");
    assert_eq!(
        r.fails(&["export", "retirements", "--output", missing.to_str().unwrap()]),
        (2, "unwritable_output".into())
    );
    assert!(!missing.exists());
    let file = r.dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    assert_eq!(
        r.fails(&["export", "open-data", file.to_str().unwrap()]),
        (2, "unwritable_output".into())
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    let out = r.run(&["export", "retirements", "--format", "isometric"]);
    assert_eq!(out.status.code(), Some(2), "clap refuses a format with no export");
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown export format"));
    // Exports only read: where there is no ledger they refuse instead of creating one.
    let elsewhere = r.dir.path().join("none.db");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rasid"))
        .args(["--json", "--database", &format!("sqlite://{}", elsewhere.display())])
        .args(["export", "retirements"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!elsewhere.exists());
    let after = r.ok(&["verify"]);
    assert_eq!(before["head_hash"], after["head_hash"]);
    assert_eq!(before["commands"], after["commands"]);
}
