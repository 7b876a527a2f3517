//! The journal's promises through the real binary: a process killed with SIGKILL mid-write
//! loses nothing it acknowledged, and one altered byte is caught and named by `rasid verify`.
//! Each test runs on both backends: an SQLite file and a PostgreSQL schema.

mod common;
use common::Rasid;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

on_both_backends!(
    sigkill_while_writing_loses_no_acknowledged_command,
    one_altered_byte_makes_verify_fail_naming_the_record,
);

fn sigkill_while_writing_loses_no_acknowledged_command(r: Rasid) {
    // Small snapshot interval so the kill can also land around snapshot writes.
    let mut child = r
        .command()
        .args(["--snapshot-interval", "500", "debug", "write-load"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut acked = 0u64;
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        acked = line.strip_prefix("acked ").unwrap().parse().unwrap();
        if acked >= 5_000 {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL on Unix: no chance to flush or clean up.
    child.wait().unwrap();
    assert!(acked >= 5_000);

    let v = r.ok(&["verify"]);
    assert_eq!(v["ok"], true);
    let commands = v["commands"].as_u64().unwrap();
    assert!(commands >= acked, "journal has {commands} records, {acked} were acknowledged");
    // The ledger opens (recovery) and keeps going from where the journal ends.
    let more = r.ok(&["debug", "write-load", "--count", "10", "--quiet"]);
    assert_eq!(more["commands"], 10);
    let v2 = r.ok(&["verify"]);
    assert_eq!(v2["commands"].as_u64().unwrap(), commands + 10);
}

fn one_altered_byte_makes_verify_fail_naming_the_record(r: Rasid) {
    r.ok(&["debug", "write-load", "--count", "300", "--quiet"]);
    let good = r.ok(&["verify"]);
    let total = good["commands"].as_u64().unwrap();
    let target = total / 2;
    let mut altered = r.body(target as i64);
    let mid = altered.len() / 2;
    altered[mid] ^= 0x20;
    r.set_body(target as i64, &altered);
    let out = r.command().arg("--json").arg("verify").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["error"]["code"], "journal_corrupt");
    assert_eq!(doc["error"]["details"]["seq"], target);
    let text = r.run(&["verify"]);
    assert!(
        String::from_utf8_lossy(&text.stderr).contains(&format!("journal record {target} is bad"))
    );
}
