//! The journal's promises through the real binary: a process killed with SIGKILL mid-write
//! loses nothing it acknowledged, and one altered byte is caught and named by `rasid verify`.

mod common;
use common::Rasid;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn sigkill_while_writing_loses_no_acknowledged_command() {
    let r = Rasid::new();
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

#[test]
fn one_altered_byte_makes_verify_fail_naming_the_record() {
    let r = Rasid::new();
    r.ok(&["debug", "write-load", "--count", "300", "--quiet"]);
    let good = r.ok(&["verify"]);
    let total = good["commands"].as_u64().unwrap();
    let target = total / 2;
    {
        let conn = rusqlite::Connection::open(r.db_path()).unwrap();
        let body: Vec<u8> = conn
            .query_row("SELECT body FROM journal WHERE seq = ?1", [target as i64], |row| row.get(0))
            .unwrap();
        let mut altered = body;
        let mid = altered.len() / 2;
        altered[mid] ^= 0x20;
        conn.execute(
            "UPDATE journal SET body = ?1 WHERE seq = ?2",
            rusqlite::params![altered, target as i64],
        )
        .unwrap();
    }
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
