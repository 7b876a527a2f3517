//! Registry exports end to end: each shared export imported into one ledger, its reconciliation
//! totals checked against sums this test computes from the files itself, `verify` after every
//! import, a second import that journals nothing, and bad rows refused by file, line and code.
//! Each test runs on both backends.

mod common;
use common::{Rasid, testdata};
use rasid_import::serials::{Serial, parse_serial};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;

on_both_backends!(
    every_shared_export_reconciles_and_reimports_nothing,
    bad_rows_are_refused_by_line_and_code
);

fn rows(dir: &str, name: &str) -> Vec<BTreeMap<String, String>> {
    let base = testdata(&format!("registry-exports/{dir}"));
    let mut bytes = Vec::new();
    let plain = base.join(format!("{name}.csv"));
    if plain.exists() {
        bytes = std::fs::read(plain).unwrap();
    } else {
        let gz = std::fs::File::open(base.join(format!("{name}.csv.gz"))).unwrap();
        flate2::read::GzDecoder::new(gz).read_to_end(&mut bytes).unwrap();
    }
    let mut rdr = csv::ReaderBuilder::new().flexible(true).from_reader(bytes.as_slice());
    let header: Vec<String> = rdr
        .headers()
        .unwrap()
        .iter()
        .map(|h| h.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    rdr.records()
        .map(|r| header.iter().cloned().zip(r.unwrap().iter().map(str::to_owned)).collect())
        .collect()
}

fn qty(s: &str) -> u64 {
    s.replace(',', "").trim_end_matches(".0").parse().unwrap()
}

/// Sums straight from the files: tonnes per state and the batch blocks (min..max per batch).
#[derive(Default, Debug)]
struct Expected {
    retired: u64,
    cancelled: u64,
    batches: BTreeMap<String, (u64, u64)>,
}

impl Expected {
    fn block(&mut self, serial: &str, vintage: &str) {
        let s = parse_serial(serial).unwrap();
        let key = match &s {
            Serial::Cdm(c) => format!("cdm {} {} {vintage}", c.party, c.project),
            other => format!("{:?} {}", other.registry(), other.batch().unwrap()),
        };
        let (first, last) = (s.first().unwrap(), s.last().unwrap());
        let e = self.batches.entry(key).or_insert((first, last));
        *e = (e.0.min(first), e.1.max(last));
    }
    fn issued(&self) -> u64 {
        self.batches.values().map(|(a, b)| b - a + 1).sum()
    }
}

fn reserve(dir: &str, serial: &str, quantity: &str) -> Expected {
    let mut e = Expected::default();
    for r in rows(dir, "retirements") {
        e.retired += qty(&r[quantity]);
        e.block(&r[serial], "");
    }
    for r in rows(dir, "cancellations") {
        e.cancelled += qty(&r[quantity]);
        e.block(&r[serial], "");
    }
    e
}

fn check(doc: &Value, key: &str, e: &Expected) {
    let t = &doc["totals"][key];
    assert_eq!(t["retired_tonnes"], e.retired, "{key} retired");
    assert_eq!(t["cancelled_tonnes"], e.cancelled, "{key} cancelled");
    assert_eq!(t["issued_tonnes"], e.issued(), "{key} issued");
}

fn import(r: &Rasid, format: &str, dir: &str) -> Value {
    let path = testdata(&format!("registry-exports/{dir}"));
    let doc = r.ok(&["import", "registry", "--format", format, path.to_str().unwrap()]);
    r.ok(&["verify"]);
    doc
}

fn data_rows(dir: &str, names: &[&str]) -> u64 {
    names.iter().map(|n| rows(dir, n).len() as u64).sum()
}

fn every_shared_export_reconciles_and_reimports_nothing(r: Rasid) {
    let mut issued_total = 0;

    let verra = import(&r, "verra", "verra");
    let mut e = Expected::default();
    for row in rows("verra", "transactions") {
        e.block(&row["Serial Number"], "");
        let q = qty(&row["Quantity Issued"]);
        match (
            row["Retirement/Cancellation Date"].is_empty(),
            row["Retirement Reason"].is_empty() && row["Retirement Beneficiary"].is_empty(),
        ) {
            (true, _) => {}
            (false, true) => e.cancelled += q,
            (false, false) => e.retired += q,
        }
    }
    check(&verra, "verra", &e);
    assert_eq!(verra["rows"], data_rows("verra", &["projects", "transactions"]));
    assert_eq!(verra["rejected"], 0);
    issued_total += e.issued();

    let gs = import(&r, "gold-standard", "gold-standard");
    let (mut e, mut cdm) = (Expected::default(), Expected::default());
    for row in
        rows("gold-standard", "issuances").into_iter().chain(rows("gold-standard", "retirements"))
    {
        let target = if row["Serial Number"].contains(" - ") { &mut cdm } else { &mut e };
        target.block(&row["Serial Number"], &row["Vintage"]);
        match row["Credit Status"].as_str() {
            "Retired" => target.retired += qty(&row["Quantity"]),
            "Canceled" => target.cancelled += qty(&row["Quantity"]),
            _ => {}
        }
    }
    check(&gs, "gs", &e);
    // Every retirement row of the export is found, whole and retired, by its own serial.
    for row in rows("gold-standard", "retirements")
        .iter()
        .filter(|x| x["Credit Status"] == "Retired" && !x["Serial Number"].contains(" - "))
    {
        let found = r.ok(&["serial", "find", &row["Serial Number"]]);
        assert_eq!(found["quantity"], qty(&row["Quantity"]));
        let parts = found["parts"].as_array().unwrap();
        assert!(parts.iter().all(|p| p["status"] == "retired"), "{}", row["Serial Number"]);
        assert_eq!(
            parts.iter().map(|p| p["quantity"].as_u64().unwrap()).sum::<u64>(),
            qty(&row["Quantity"])
        );
    }
    check(&gs, "cdm", &cdm);
    assert_eq!(gs["rejected"], 0);
    issued_total += e.issued() + cdm.issued();

    for (format, dir, key, serial, quantity) in [
        ("acr", "american-carbon-registry", "acr", "Credit Serial Numbers", "Quantity of Credits"),
        (
            "car",
            "climate-action-reserve",
            "car",
            "Offset Credit Serial Numbers",
            "Quantity of Offset Credits",
        ),
        ("art", "art-trees", "art", "Credit Serial Numbers", "Quantity of Credits"),
    ] {
        let doc = import(&r, format, dir);
        let e = reserve(dir, serial, quantity);
        check(&doc, key, &e);
        assert_eq!(doc["rejected"], 0, "{format}");
        assert_eq!(doc["informational"], rows(dir, "issuances").len() as u64);
        assert_eq!(
            doc["rows"],
            data_rows(dir, &["projects", "issuances", "retirements", "cancellations"])
        );
        issued_total += e.issued();
    }

    let cerc = import(&r, "cercarbono", "cercarbono");
    let retired: u64 = rows("cercarbono", "retirements").iter().map(|x| qty(&x["quantity"])).sum();
    let issued: u64 =
        rows("cercarbono", "issuances").iter().map(|x| qty(&x["issued_quantity"])).sum();
    assert_eq!(cerc["totals"]["cercarbono"]["retired_tonnes"], retired);
    assert_eq!(cerc["totals"]["cercarbono"]["issued_tonnes"], issued);
    assert_eq!(cerc["rejected"], 0);
    issued_total += issued;

    let iso = import(&r, "isometric", "isometric");
    let kg = |x: &BTreeMap<String, String>, c: &str| qty(&x[c]);
    let issuances = rows("isometric", "issuances");
    let whole: u64 = issuances
        .iter()
        .map(|x| {
            kg(x, "supplier_credit_batch_size_total.credit_kgs") / 1000
                + kg(x, "buffer_pool_credit_batch_size_total.credit_kgs") / 1000
        })
        .sum();
    let fractions: u64 = issuances
        .iter()
        .map(|x| {
            kg(x, "supplier_credit_batch_size_total.credit_kgs") % 1000
                + kg(x, "buffer_pool_credit_batch_size_total.credit_kgs") % 1000
        })
        .sum();
    assert_eq!(iso["totals"]["isometric"]["issued_tonnes"], whole);
    assert_eq!(iso["totals"]["isometric"]["issued_fraction_kg"], fractions);
    issued_total += whole;
    let retirements = rows("isometric", "retirements");
    let rejected: BTreeMap<u64, String> = iso["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["line"].as_u64().unwrap(), x["code"].as_str().unwrap().to_owned()))
        .collect();
    for (i, x) in retirements.iter().enumerate() {
        let line = i as u64 + 2;
        if kg(x, "credit_batch_size_total.credit_kgs") < 1000 {
            assert_eq!(
                rejected.get(&line).map(String::as_str),
                Some("below_one_tonne"),
                "line {line}"
            );
        } else if let Some(code) = rejected.get(&line) {
            assert_eq!(code, "insufficient_credits", "line {line}");
        }
    }
    let retired: u64 = retirements
        .iter()
        .enumerate()
        .filter(|(i, _)| !rejected.contains_key(&(*i as u64 + 2)))
        .map(|(_, x)| kg(x, "credit_batch_size_total.credit_kgs") / 1000)
        .sum();
    assert_eq!(iso["totals"]["isometric"]["retired_tonnes"], retired);

    let v1 = r.ok(&["verify"]);
    assert_eq!(v1["issued_tonnes"], issued_total, "the ledger holds exactly the batch blocks");
    for (format, dir) in [
        ("verra", "verra"),
        ("gold-standard", "gold-standard"),
        ("acr", "american-carbon-registry"),
        ("car", "climate-action-reserve"),
        ("art", "art-trees"),
        ("cercarbono", "cercarbono"),
        ("isometric", "isometric"),
    ] {
        let again = import(&r, format, dir);
        assert_eq!(again["commands"], 0, "{format}");
        assert_eq!(again["imported"], 0, "{format}");
    }
    assert_eq!(
        r.ok(&["verify"])["head_hash"],
        v1["head_hash"],
        "the second imports journaled nothing"
    );
}

fn bad_rows_are_refused_by_line_and_code(r: Rasid) {
    let dir = r.dir.path().join("acr");
    std::fs::create_dir(&dir).unwrap();
    let header = "Credit Serial Numbers,Vintage,Quantity of Credits,Account Holder,Status Effective (GMT),Retired on Behalf of,Retirement Reason,Purpose of Retirement,Project ID,Project Name,Project Type,Project Methodology/Protocol,Project Site Country";
    let row = |serial: &str, q: u64| {
        format!(
            "{serial},2025,{q},Holder,1/2/2026 1:00:00 PM,Buyer,Environmental Benefit,Offsetting,ACR1,One,Forest Carbon,IFM,US"
        )
    };
    let body = [
        row("ACR-US-1-2025-7-1 to 100", 100),
        row("ACR-US-1-2025-7-x to 100", 100),
        row("ACR-US-1-2025-7-300 to 200", 101),
        row("ACR-US-1-2025-7-401 to 500", 99),
        row("XYZ-123", 1),
        row("ACR-US-1-2025-7-1 to 100", 100),
        row("ACR-US-1-2025-7-50 to 150", 101),
        row("ACR-US-1-2025-7-601 to 700", 100),
    ];
    std::fs::write(dir.join("retirements.csv"), format!("{header}\n{}\n", body.join("\n")))
        .unwrap();
    let out = r.ok(&["import", "registry", "--format", "acr", dir.to_str().unwrap()]);
    let got: Vec<(String, u64, String)> = out["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["file"].as_str().unwrap().to_owned(),
                x["line"].as_u64().unwrap(),
                x["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, u64, String)> = [
        (3, "malformed_serial"),
        (4, "last_before_first"),
        (5, "quantity_mismatch"),
        (6, "unknown_format"),
        (7, "duplicate_row"),
        (8, "overlapping_block"),
    ]
    .into_iter()
    .map(|(l, c)| ("retirements.csv".to_owned(), l, c.to_owned()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(out["range_mismatches"].as_array().unwrap().len(), 1);
    assert_eq!(out["totals"]["acr"]["retired_tonnes"], 200, "only the two good rows");
    assert_eq!(out["totals"]["acr"]["issued_tonnes"], 700, "units 1..=700 of batch 7");
    assert_eq!(out["partial_batches"][0]["held_not_in_files_tonnes"], 500);
    let v = r.ok(&["verify"]);
    assert_eq!((v["retired_tonnes"].as_u64(), v["held_tonnes"].as_u64()), (Some(200), Some(500)));
    let (code, err) =
        r.fails(&["import", "registry", "--format", "acr", r.dir.path().to_str().unwrap()]);
    assert_eq!((code, err.as_str()), (2, "no_export_files"));
    std::fs::write(dir.join("cancellations.csv"), "a,b\n1,2\n").unwrap();
    let (code, err) = r.fails(&["import", "registry", "--format", "acr", dir.to_str().unwrap()]);
    assert_eq!((code, err.as_str()), (2, "malformed_file"));
    assert_eq!(r.ok(&["verify"])["head_hash"], v["head_hash"], "a refused file changes nothing");
}
