//! The registry by hand, through the real binary: every command's JSON and its rejections, on
//! both backends (an SQLite file and a PostgreSQL schema).

mod common;
use common::Rasid;

on_both_backends!(
    a_project_is_issued_traded_retired_and_located_by_serial,
    rejections_have_codes_exit_non_zero_and_change_nothing,
    cash_and_labels_round_trip,
    verify_refuses_a_database_without_a_ledger,
);

/// `verify` reads; it must not create an empty ledger where none was, and says so.
fn verify_refuses_a_database_without_a_ledger(r: Rasid) {
    assert_eq!(r.fails(&["verify"]), (2, "no_database".to_owned()));
    r.ok(&["init"]);
    assert_eq!(r.ok(&["verify"])["commands"], 1);
}

fn a_project_is_issued_traded_retired_and_located_by_serial(r: Rasid) {
    let dev = r.ok(&["org", "create", "Tashkent Solar LLC"]);
    let dev_org = dev["events"][0]["org"].as_u64().unwrap();
    let buyer = r.ok(&["org", "create", "Riyadh Buyer Co"]);
    let buyer_org = buyer["events"][0]["org"].as_u64().unwrap();
    let dev_acc =
        r.ok(&["account", "open", "--org", &dev_org.to_string(), "Main"])["events"][0]["account"]
            .as_u64()
            .unwrap();
    let buyer_acc = r.ok(&["account", "open", "--org", &buyer_org.to_string(), "Main"])["events"]
        [0]["account"]
        .as_u64()
        .unwrap();
    let p = r.ok(&[
        "project",
        "register",
        "--program",
        "GS",
        "--id",
        "GS12345",
        "--name",
        "Solar Uzbekistan",
        "--developer",
        &dev_org.to_string(),
        "--country",
        "Uzbekistan",
    ]);
    let project = p["events"][0]["project"].as_u64().unwrap();
    let issued = r.ok(&[
        "issue",
        "--project",
        &project.to_string(),
        "--vintage",
        "2023",
        "--quantity",
        "10000",
        "--buffer",
        "1000",
        "--to",
        &dev_acc.to_string(),
    ]);
    let block = &issued["events"][0]["block"][0];
    assert_eq!((block["first"].as_u64(), block["last"].as_u64()), (Some(1), Some(10_000)));
    let iss = issued["events"][0]["issuance"].as_u64().unwrap().to_string();

    let t = r.ok(&[
        "transfer",
        "--from",
        &dev_acc.to_string(),
        "--to",
        &buyer_acc.to_string(),
        "--issuance",
        &iss,
        "--ranges",
        "101-200,301-400",
    ]);
    assert_eq!(t["events"][0]["quantity"], 200);
    let ret = r.ok(&[
        "retire",
        "--account",
        &buyer_acc.to_string(),
        "--issuance",
        &iss,
        "--quantity",
        "150",
        "--beneficiary",
        "Riyadh Buyer Co",
        "--purpose",
        "voluntary",
    ]);
    let serials = &ret["events"][0]["serials"];
    assert_eq!(serials[0]["first"], 101);
    assert_eq!(serials[0]["last"], 200);
    assert_eq!(serials[1]["first"], 301);
    assert_eq!(serials[1]["last"], 350);
    let rid = ret["events"][0]["retirement"].as_u64().unwrap().to_string();

    let h = r.ok(&["holdings", "--account", &buyer_acc.to_string()]);
    assert_eq!(h["holdings"][0]["available_tonnes"], 50);
    assert_eq!(h["holdings"][0]["available"][0]["first"], 351);

    let show = r.ok(&["retirement", "show", &rid]);
    assert_eq!(show["beneficiary"], "Riyadh Buyer Co");
    assert_eq!(show["quantity"], 150);
    assert_eq!(show["seq"], ret["seq"]);
    assert_eq!(show["record_hash"].as_str().map(str::len), Some(64));

    assert_eq!(r.ok(&["serial", "locate", "120"])["status"], "retired");
    assert_eq!(r.ok(&["serial", "locate", "360"])["account"], buyer_acc);
    assert_eq!(
        r.ok(&["serial", "locate", "9999"])["account"].as_u64(),
        Some(2),
        "buffer pool account"
    );
    assert_eq!(r.ok(&["serial", "locate", "10001"])["status"], "not_issued");

    let v = r.ok(&["verify"]);
    assert_eq!(v["ok"], true);
    assert_eq!(v["issued_tonnes"], 10_000);
    assert_eq!(v["retired_tonnes"], 150);
    assert_eq!(v["buffer_tonnes"], 1_000);
    assert_eq!(v["held_tonnes"], 10_000 - 150 - 1_000);
}

fn rejections_have_codes_exit_non_zero_and_change_nothing(r: Rasid) {
    let org = r.ok(&["org", "create", "Member"])["events"][0]["org"].as_u64().unwrap().to_string();
    let acc = r.ok(&["account", "open", "--org", &org, "Main"])["events"][0]["account"]
        .as_u64()
        .unwrap()
        .to_string();
    let before = r.ok(&["verify"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["transfer", "--from", &acc, "--to", "acc999", "--issuance", "1", "--quantity", "5"],
            "unknown_account",
        ),
        (
            &[
                "retire",
                "--account",
                &acc,
                "--issuance",
                "7",
                "--quantity",
                "5",
                "--beneficiary",
                "X",
            ],
            "unknown_issuance",
        ),
        (
            &["cash", "withdraw", "--account", &acc, "--currency", "SAR", "--amount", "10.00"],
            "insufficient_cash",
        ),
        (&["org", "create", "Member"], "organization_exists"),
        (&["org", "create", "Someone", "--as", &org], "unauthorized"),
        (
            &["issue", "--project", "1", "--vintage", "2020", "--quantity", "5", "--to", &acc],
            "unknown_project",
        ),
        (
            &["cash", "deposit", "--account", &acc, "--currency", "SAR", "--amount", "1.234"],
            "invalid_amount",
        ),
    ];
    for (args, code) in cases {
        let (exit, got) = r.fails(args);
        assert_eq!(&got, code, "{args:?}");
        assert_ne!(exit, 0);
    }
    let after = r.ok(&["verify"]);
    assert_eq!(before["head_hash"], after["head_hash"], "rejections wrote nothing");
    // clap refuses malformed values before anything runs.
    let out = r.run(&[
        "transfer",
        "--from",
        "acc1",
        "--to",
        "acc2",
        "--issuance",
        "1",
        "--ranges",
        "9-3",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("last serial is before first"));
}

fn cash_and_labels_round_trip(r: Rasid) {
    let org = r.ok(&["org", "create", "Member"])["events"][0]["org"].as_u64().unwrap().to_string();
    let acc = r.ok(&["account", "open", "--org", &org, "Main"])["events"][0]["account"]
        .as_u64()
        .unwrap()
        .to_string();
    let d = r.ok(&["cash", "deposit", "--account", &acc, "--currency", "SAR", "--amount", "37.50"]);
    assert_eq!(d["events"][0]["amount"], "37.50");
    let h = r.ok(&["holdings", "--account", &acc]);
    assert_eq!(h["cash"][0]["currency"], "SAR");
    assert_eq!(h["cash"][0]["available"], "37.50");
    r.ok(&[
        "project",
        "register",
        "--program",
        "VCS",
        "--id",
        "VCS1",
        "--name",
        "P",
        "--developer",
        &org,
    ]);
    r.ok(&["issue", "--project", "1", "--vintage", "2022", "--quantity", "5", "--to", &acc]);
    r.ok(&[
        "labels",
        "--issuance",
        "1",
        "--corsia",
        "first",
        "--ccp",
        "--article6-ref",
        "SA-LoA-1",
        "--ca-status",
        "committed",
    ]);
    let list = r.ok(&["issuances"]);
    let labels = &list["issuances"][0]["labels"];
    assert_eq!(labels["corsia"], "first");
    assert_eq!(labels["ccp"], true);
    assert_eq!(labels["article6"]["ca_status"], "committed");
}

#[test]
fn serial_parse_reads_other_registries_serials_without_a_ledger() {
    let r = Rasid::new();
    let acr = r.ok(&["serial", "parse", "ACR-US-1185-2025-3078-1 to 85847"]);
    assert_eq!(acr["registry"], "acr");
    assert_eq!(acr["project"], "1185");
    assert_eq!(acr["vintage"]["year"], 2025);
    assert_eq!((acr["first"].as_u64(), acr["last"].as_u64()), (Some(1), Some(85847)));
    assert_eq!(acr["quantity"], 85847);
    assert_eq!(acr["serial"], "ACR-US-1185-2025-3078-1 to 85847");

    let verra = r.ok(&[
        "serial",
        "parse",
        "19309-936487628-936491271-VCS-VCU-1491-VER-RW-3-4150-01102024-31122024-1",
    ]);
    assert_eq!(verra["registry"], "verra");
    assert_eq!(verra["vintage"]["start"], "2024-10-01");
    assert_eq!(verra["vintage"]["end"], "2024-12-31");
    assert!(verra["vintage"]["year"].is_null());
    assert_eq!(verra["quantity"], 3644);
    assert_eq!(verra["fields"]["operator"], "VER");

    let unranged = r.ok(&["serial", "parse", "GS1-1-KE-GS11603-16-2025-30256"]);
    assert_eq!(unranged["project"], "GS11603");
    for key in ["first", "last", "quantity"] {
        assert!(unranged[key].is_null(), "{key}");
    }
    let cdm = r.ok(&["serial", "parse", "RW-5-1463953-2-2-0-7014 - RW-5-1467609-2-2-0-7014"]);
    assert_eq!((cdm["registry"].as_str(), cdm["unit_type"].as_str()), (Some("cdm"), Some("CER")));
    assert!(cdm["vintage"].is_null());

    assert_eq!(
        r.fails(&["serial", "parse", "ACR-US-1185-2025-3078-100 to 1"]),
        (2, "last_before_first".into())
    );
    assert_eq!(r.fails(&["serial", "parse", "not a serial"]), (2, "unknown_format".into()));
    let text = r.run(&["serial", "parse", "CAR-1-US-1335-31-983-KS-2025-9205-1 to 5000"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("1 to 5000 (5,000 units)"));
    assert!(!r.db_path().exists(), "parsing a serial opens no ledger");
}

#[test]
fn bench_matching_reports_the_median_of_its_rounds() {
    let r = Rasid::new();
    let args = ["bench", "matching", "--ops", "2000", "--durable-ops", "0", "--rounds", "3"];
    let doc = r.ok(&args);
    let rasid = &doc["engines"][0];
    assert_eq!(rasid["name"], "rasid");
    let runs = rasid["ops_per_sec_runs"].as_array().unwrap();
    let mut runs: Vec<u64> = runs.iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(runs.len(), 3, "{doc}");
    runs.sort_unstable();
    assert_eq!(rasid["ops_per_sec"].as_u64(), Some(runs[1]), "the median pass");
    assert!(doc["trades"].as_u64().unwrap() > 0);
    // Every round takes a latency pass too; p99 is their median.
    let p99s = doc["p99_ns_runs"].as_array().unwrap();
    let mut p99s: Vec<u64> = p99s.iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(p99s.len(), 3, "{doc}");
    p99s.sort_unstable();
    assert_eq!(doc["p99_ns"].as_u64(), Some(p99s[1]), "the median pass");
    // The settlement floors and the naive book run in every round too, beside the engines.
    let floors: Vec<&str> =
        doc["floors"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    let expected = [
        "floor-sorted",
        "floor-rangeset",
        "floor-logged",
        "floor-appended",
        "naive-book",
        "ladder-rangeset",
        "ladder-logged",
        "ladder-appended",
        "ladder-book",
        "ladder-full",
        "ladder-quiet",
    ];
    assert_eq!(floors, expected, "{doc}");
    for f in doc["floors"].as_array().unwrap() {
        assert_eq!(f["ops_per_sec_runs"].as_array().map(Vec::len), Some(3), "{f}");
        assert!(f["ops_per_sec"].as_u64().unwrap() > 0, "{f}");
        let (p50, p99) = (f["p50_ns"].as_u64().unwrap(), f["p99_ns"].as_u64().unwrap());
        assert!(p50 > 0 && p50 <= p99, "{f}");
    }
    // Issue 3's targets, judged on the reported numbers; with `--durable-ops 0` the durable
    // one was not measured, and without comparison crates neither was the ratio.
    let met = &doc["targets"]["met"];
    let rasid_ops = doc["engines"][0]["ops_per_sec"].as_u64().unwrap();
    assert_eq!(met["ops_per_sec"], rasid_ops >= 5_000_000, "{doc}");
    assert_eq!(met["p99_ns"], doc["p99_ns"].as_u64().unwrap() <= 1_000, "{doc}");
    assert!(met["durable_orders_per_sec"].is_null(), "{doc}");
    if doc["engines"].as_array().unwrap().len() == 1 {
        assert!(met["ratio_to_fastest_crate"].is_null(), "{doc}");
        assert!(doc["floors"][0]["ratio_to_fastest_crate"].is_null(), "{doc}");
    }
    let zero = ["bench", "matching", "--ops", "2000", "--durable-ops", "0", "--rounds", "0"];
    assert_eq!(r.fails(&zero), (2, "invalid_argument".into()));
    // Without `--rounds` the bench takes three: one pass on a shared machine is too noisy to
    // quote.
    let default = r.ok(&["bench", "matching", "--ops", "2000", "--durable-ops", "0"]);
    assert_eq!(default["rounds"], 3, "{default}");
    assert_eq!(default["engines"][0]["ops_per_sec_runs"].as_array().map(Vec::len), Some(3));
}

#[test]
fn bench_serials_reports_parse_and_baseline_rates() {
    let r = Rasid::new();
    let doc = r.ok(&["bench", "serials", "--count", "200", "--rounds", "2"]);
    assert_eq!(doc["serials"], 400);
    // Every bench names the machine it ran on.
    assert!(doc["machine"]["cpus"].as_u64().is_some_and(|n| n >= 1), "{doc}");
    assert!(doc["machine"]["cpu"].as_str().is_some_and(|c| !c.is_empty()), "{doc}");
    assert!(doc["parse_per_sec"].as_u64().unwrap() > 0);
    assert!(doc["split_per_sec"].as_u64().unwrap() > 0);
    assert_eq!(r.fails(&["bench", "serials", "--count", "0"]), (2, "invalid_argument".into()));
}
