//! The real market-history file, end to end: totals checked against the file itself, refused
//! rows reported by line, and a second import that adds nothing. Each test runs on both
//! backends: an SQLite file and a PostgreSQL schema.

mod common;
use common::{Rasid, testdata};
use std::io::Read;

on_both_backends!(
    vrod_import_matches_the_file_and_is_idempotent,
    malformed_rows_are_reported_by_line_and_the_rest_imported,
);

/// Totals computed straight from the CSV, independently of the importer.
struct Expected {
    rows: u64,
    valid: u64,
    issued: u64,
    remaining: u64,
    bad_lines: Vec<u64>,
}

fn expected(csv_bytes: &[u8]) -> Expected {
    let mut rdr = csv::Reader::from_reader(csv_bytes);
    let mut e = Expected { rows: 0, valid: 0, issued: 0, remaining: 0, bad_lines: vec![] };
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.unwrap();
        e.rows += 1;
        let issued: i64 = rec[11].parse().unwrap();
        let remaining: i64 = rec[12].parse().unwrap();
        if issued > 0 && remaining >= 0 && remaining <= issued {
            e.valid += 1;
            e.issued += issued as u64;
            e.remaining += remaining as u64;
        } else {
            e.bad_lines.push(i as u64 + 2);
        }
    }
    e
}

fn vrod_import_matches_the_file_and_is_idempotent(r: Rasid) {
    let gz = testdata("vrod/vrod-vintages.csv.gz");
    let mut csv_bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&gz).unwrap())
        .read_to_end(&mut csv_bytes)
        .unwrap();
    let want = expected(&csv_bytes);
    assert!(want.rows > 26_000 && !want.bad_lines.is_empty(), "the real file, with its bad rows");

    let first = r.ok(&["import", "vrod", gz.to_str().unwrap()]);
    assert_eq!(first["rows"], want.rows);
    assert_eq!(first["imported"], want.valid);
    assert_eq!(first["rejected"], want.bad_lines.len());
    assert_eq!(first["issued_tonnes"], want.issued);
    assert_eq!(first["remaining_tonnes"], want.remaining);
    assert_eq!(first["retired_tonnes"], want.issued - want.remaining);
    let lines: Vec<u64> = first["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["line"].as_u64().unwrap())
        .collect();
    assert_eq!(lines, want.bad_lines);
    assert!(
        first["rejections"].as_array().unwrap().iter().all(|x| x["code"] == "negative_remaining")
    );

    let v1 = r.ok(&["verify"]);
    assert_eq!(v1["issued_tonnes"], want.issued);
    assert_eq!(v1["retired_tonnes"], want.issued - want.remaining);
    assert_eq!(v1["held_tonnes"], want.remaining);

    let second = r.ok(&["import", "vrod", gz.to_str().unwrap()]);
    assert_eq!(second["imported"], 0);
    assert_eq!(second["already_present"], want.valid);
    assert_eq!(second["commands"], 0);
    let v2 = r.ok(&["verify"]);
    assert_eq!(v2["head_hash"], v1["head_hash"], "the second import journaled nothing");
}

fn malformed_rows_are_reported_by_line_and_the_rest_imported(r: Rasid) {
    let header = "project_id,registry,project_name,scope,type,reduction_removal,methodology,region,country,developer,vintage,issued,remaining";
    let body = [
        "VCS1,VCS,Good,Renewable Energy,Wind,Reduction,ACM0002,Western Asia,Saudi Arabia,Dev A,2020,1000,400",
        "VCS1,VCS,Good,Renewable Energy,Wind,Reduction,ACM0002,Western Asia,Saudi Arabia,Dev A,2020,5,5",
        "VCS2,VCS,Bad,Renewable Energy,Wind,Reduction,ACM0002,Western Asia,Oman,Dev B,2021,abc,1",
        "VCS3,VCS,Bad,Renewable Energy,Wind,Reduction,ACM0002,Western Asia,Oman,Dev B,2021,0,0",
        "VCS4,VCS,Bad,Renewable Energy,Wind,Reduction,ACM0002,Western Asia,Oman,Dev B,2021,10,11",
        "VCS5,XYZ,Bad,Renewable Energy,Wind,Reduction,ACM0002,Western Asia,Oman,Dev B,2021,10,1",
        "VCS6,VCS,Bad,Renewable Energy,Wind,Reduction,ACM0002,Western Asia,Oman,Dev B,1850,10,1",
        "VCS7,VCS,Short row",
        "GS8,GOLD,Cookstoves,Household & Community,Cookstoves,Reduction,GS TPDDTEC,Central Asia,Kyrgyzstan,Dev C,2022,300,0",
    ];
    let path = r.dir.path().join("small.csv");
    std::fs::write(&path, format!("{header}\n{}\n", body.join("\n"))).unwrap();
    let out = r.ok(&["import", "vrod", path.to_str().unwrap()]);
    let got: Vec<(u64, String)> = out["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["line"].as_u64().unwrap(), x["code"].as_str().unwrap().to_owned()))
        .collect();
    let want: Vec<(u64, String)> = [
        (3, "duplicate_row"),
        (4, "malformed_field"),
        (5, "nothing_issued"),
        (6, "remaining_exceeds_issued"),
        (7, "unknown_program"),
        (8, "invalid_vintage"),
        (9, "malformed_row"),
    ]
    .into_iter()
    .map(|(l, c)| (l, c.to_owned()))
    .collect();
    assert_eq!(got, want);
    assert_eq!(out["imported"], 2);
    assert_eq!(out["issued_tonnes"], 1_300);
    assert_eq!(out["retired_tonnes"], 900);
    let (code, err) = {
        let bad = r.dir.path().join("notvrod.csv");
        std::fs::write(&bad, "a,b,c\n1,2,3\n").unwrap();
        r.fails(&["import", "vrod", bad.to_str().unwrap()])
    };
    assert_eq!((code, err.as_str()), (2, "malformed_file"));
}
