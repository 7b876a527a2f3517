//! High availability on PostgreSQL, with real processes: several `rasid serve` on one database,
//! one writer holding the lease, followers that take over. Failover after `kill -9` under load
//! loses no acknowledged command; a paused old writer cannot append after a takeover; a
//! database restored from `pg_dump` verifies. PostgreSQL only (SQLite is single-process), so
//! these tests skip without a test server (and fail in CI without one).

mod common;

use common::Rasid;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PASSWORD: &str = "bootstrap-secret";
/// Short, so a takeover takes about a second; the default is 3 s.
const LEASE_TTL_MS: &str = "1000";
/// "Within a few seconds" of the writer's death, with room for a loaded test machine.
const FAILOVER_DEADLINE: Duration = Duration::from_secs(20);

/// One HTTP/1.1 request with `Connection: close`; returns the status and body.
fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth =
        if token.is_empty() { String::new() } else { format!("Authorization: Bearer {token}\r\n") };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let status = reply.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    Ok((status, body))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(r: &Rasid, addr: &str) -> Self {
        let child = r
            .command()
            .args(["serve", "--listen", addr, "--lease-ttl-ms", LEASE_TTL_MS])
            .env("RASID_BOOTSTRAP_OPERATOR_PASSWORD", PASSWORD)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        Self { child, addr: addr.to_owned() }
    }

    /// `"writer"` or `"follower"` from `/v1/health`, or `None` while it does not answer.
    fn role(&self) -> Option<String> {
        let (status, body) = http(&self.addr, "GET", "/v1/health", "", "").ok()?;
        if status != 200 {
            return None;
        }
        let doc: serde_json::Value = serde_json::from_str(&body).ok()?;
        doc["role"].as_str().map(str::to_owned)
    }

    /// Waits until the server answers with `role`, failing after `deadline`.
    fn wait_role(&mut self, role: &str, deadline: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self.role().as_deref() == Some(role) {
                return started.elapsed();
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("rasid serve at {} exited: {status}", self.addr);
            }
            assert!(
                started.elapsed() < deadline,
                "{} did not become {role} in {deadline:?}",
                self.addr
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, signal: &str) {
        let sent =
            Command::new("kill").args([signal, &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success());
    }

    /// SIGTERM, then waits for a clean exit.
    fn stop(mut self) {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "rasid serve did not stop within 30 s");
            std::thread::sleep(Duration::from_millis(25));
        };
        assert!(status.success(), "{status}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A test that failed half-way must not leave servers behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn login(addr: &str) -> String {
    let (status, body) = http(
        addr,
        "POST",
        "/v1/sessions",
        "",
        &format!(r#"{{"username":"operator","password":"{PASSWORD}"}}"#),
    )
    .unwrap();
    assert_eq!(status, 201, "{body}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    doc["token"].as_str().unwrap().to_owned()
}

/// Creates organization `name`; the committed record's sequence number on success.
fn create_org(addr: &str, token: &str, name: &str) -> Result<u64, (u16, String)> {
    let body = format!(r#"{{"name":"{name}","role":"member"}}"#);
    match http(addr, "POST", "/v1/organizations", token, &body) {
        Ok((201, reply)) => {
            let doc: serde_json::Value = serde_json::from_str(&reply).unwrap();
            Ok(doc["seq"].as_u64().expect("a committed command has a seq"))
        }
        Ok((status, reply)) => Err((status, reply)),
        Err(e) => Err((0, e.to_string())),
    }
}

fn sql(r: &Rasid) -> postgres::Client {
    postgres::Client::connect(&r.database_url(), postgres::NoTls).unwrap()
}

/// How many journal records contain `text` in their body (an organization's name is stored
/// as its bytes in the command).
fn records_containing(r: &Rasid, text: &str) -> i64 {
    sql(r)
        .query_one(
            "SELECT COUNT(*) FROM journal WHERE position($1::bytea IN body) > 0",
            &[&text.as_bytes()],
        )
        .unwrap()
        .get(0)
}

fn verify(r: &Rasid) -> serde_json::Value {
    r.ok(&["verify"])
}

#[test]
fn failover_after_kill_9_under_load_loses_no_acknowledged_command() {
    let Some(r) = Rasid::on_postgres("ha_failover") else { return };
    let (a_addr, b_addr) =
        (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let mut a = Server::start(&r, &a_addr);
    a.wait_role("writer", Duration::from_secs(60));
    let mut b = Server::start(&r, &b_addr);
    b.wait_role("follower", Duration::from_secs(60));
    // Sessions live in the shared database: a token from the writer works on the follower.
    let token = login(&a_addr);

    // Load: clients create organizations on the writer as fast as it answers, each name
    // unique, and remember which ones were acknowledged.
    let acked = Arc::new(Mutex::new(Vec::<(u64, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (acked, stop, token, addr) =
                (acked.clone(), stop.clone(), token.clone(), a_addr.clone());
            std::thread::spawn(move || {
                for i in 0..100_000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let name = format!("load-{c}-{i}");
                    match create_org(&addr, &token, &name) {
                        Ok(seq) => acked.lock().unwrap().push((seq, name)),
                        // No connection: the writer is gone, and so is this client's target.
                        Err((0, _)) => break,
                        Err(_) => {}
                    }
                }
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 50 {
        assert!(Instant::now() < deadline, "the writer acknowledged too little under load");
        std::thread::sleep(Duration::from_millis(10));
    }
    a.child.kill().unwrap(); // SIGKILL: no shutdown, no lease release
    a.child.wait().unwrap();
    let killed = Instant::now();
    b.wait_role("writer", FAILOVER_DEADLINE);
    let failover = killed.elapsed();
    stop.store(true, Ordering::Relaxed);
    clients.into_iter().for_each(|c| c.join().unwrap());
    eprintln!(
        "failover: follower became writer {} ms after kill -9 (lease {LEASE_TTL_MS} ms)",
        failover.as_millis()
    );

    // Every acknowledged command is in the journal, at the sequence number it was given.
    let acked = acked.lock().unwrap().clone();
    let mut db = sql(&r);
    for (seq, name) in &acked {
        let seq = i64::try_from(*seq).unwrap();
        let body: Vec<u8> =
            db.query_one("SELECT body FROM journal WHERE seq = $1", &[&seq]).unwrap().get(0);
        assert!(
            body.windows(name.len()).any(|w| w == name.as_bytes()),
            "record {seq} is not {name}"
        );
    }
    // The new writer takes commands, and the follower's state had every acknowledged one.
    let after = create_org(&b_addr, &token, "after-failover").unwrap();
    let last_acked = acked.iter().map(|(seq, _)| *seq).max().unwrap();
    assert!(after > last_acked, "{after} after {last_acked}");

    // The killed process, restarted, finds the lease held and follows.
    let mut a = Server::start(&r, &a_addr);
    a.wait_role("follower", Duration::from_secs(60));
    let (status, reply) =
        http(&a_addr, "POST", "/v1/organizations", &token, r#"{"name":"x","role":"member"}"#)
            .unwrap();
    assert_eq!(status, 503, "{reply}");
    assert!(reply.contains("not_writer") && reply.contains(&b_addr), "{reply}");
    // The servers keep the SQL read models up to the journal's head.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let row = sql(&r)
            .query_one(
                "SELECT (SELECT seq FROM read_model_position), (SELECT MAX(seq) FROM journal)",
                &[],
            )
            .unwrap();
        if row.get::<_, i64>(0) == row.get::<_, i64>(1) {
            break;
        }
        assert!(Instant::now() < deadline, "the read models did not catch up in 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    a.stop();
    b.stop();
    let report = verify(&r);
    assert!(report["commands"].as_u64().unwrap() >= after, "{report}");
}

#[test]
fn a_paused_old_writer_cannot_append_after_a_takeover() {
    let Some(r) = Rasid::on_postgres("ha_paused_writer") else { return };
    let (a_addr, b_addr) =
        (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let mut a = Server::start(&r, &a_addr);
    a.wait_role("writer", Duration::from_secs(60));
    let mut b = Server::start(&r, &b_addr);
    b.wait_role("follower", Duration::from_secs(60));
    let token = login(&a_addr);
    create_org(&a_addr, &token, "before-pause").unwrap();

    a.signal("-STOP");
    b.wait_role("writer", FAILOVER_DEADLINE);
    let taken_over = create_org(&b_addr, &token, "under-new-writer").unwrap();
    a.signal("-CONT");
    // The old writer still believes it writes until it checks: its first command must fail,
    // whether the fence in the append or the failed renewal stops it first.
    let stale = create_org(&a_addr, &token, "stale-writer-command");
    assert!(matches!(stale, Err((503, _))), "{stale:?}");
    a.wait_role("follower", Duration::from_secs(30));
    assert_eq!(records_containing(&r, "stale-writer-command"), 0);
    assert_eq!(records_containing(&r, "under-new-writer"), 1);
    // The new writer goes on from where it was.
    let next = create_org(&b_addr, &token, "after-resume").unwrap();
    assert_eq!(next, taken_over + 1);
    a.stop();
    b.stop();
    verify(&r);
}

#[test]
fn a_database_restored_from_pg_dump_verifies() {
    let Some(r) = Rasid::on_postgres("ha_restore") else { return };
    let addr = format!("127.0.0.1:{}", free_port());
    let mut a = Server::start(&r, &addr);
    a.wait_role("writer", Duration::from_secs(60));
    let token = login(&addr);
    for i in 0..20 {
        create_org(&addr, &token, &format!("org-{i}")).unwrap();
    }
    a.stop();
    let before = verify(&r);

    // Dump the ledger's schema, lose it, restore it from the dump.
    let schema: String = sql(&r).query_one("SELECT current_schema()", &[]).unwrap().get(0);
    let base = std::env::var("RASID_TEST_POSTGRES_URL").unwrap();
    let dump = r.dir.path().join("ledger.dump");
    let out = Command::new("pg_dump")
        .args(["--format=custom", "--schema", &schema, "--file"])
        .arg(&dump)
        .arg(&base)
        .output()
        .expect("pg_dump is installed with PostgreSQL");
    assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
    sql(&r).batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).unwrap();
    assert!(!r.run(&["verify"]).status.success(), "nothing to verify once the schema is gone");
    let out = Command::new("pg_restore").arg("--dbname").arg(&base).arg(&dump).output().unwrap();
    assert!(out.status.success(), "pg_restore: {}", String::from_utf8_lossy(&out.stderr));

    let after = verify(&r);
    assert_eq!(after["commands"], before["commands"]);
    assert_eq!(after["head_hash"], before["head_hash"]);
    assert_eq!(after["state_digest"], before["state_digest"]);
    // And a server runs on it again, as writer.
    let mut a = Server::start(&r, &addr);
    a.wait_role("writer", Duration::from_secs(60));
    let token = login(&addr);
    create_org(&addr, &token, "after-restore").unwrap();
    a.stop();
    verify(&r);
}
