//! `rasid serve` as a process: it starts, answers on its port, stops cleanly on SIGTERM (after
//! its ledger snapshot), on SQLite and on PostgreSQL.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One HTTP/1.1 request with `Connection: close`; returns the status and body. Kept to the std
/// library so the CLI's tests need no HTTP client.
fn http(addr: &str, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
    let (status, _, body) = http_with_token(addr, method, path, body, None)?;
    Ok((status, body))
}

/// As [`http`], with an optional bearer token; also returns the response's head (status line
/// and headers) as text.
fn http_with_token(
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let status = reply.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    Ok((status, head.to_ascii_lowercase(), body.to_owned()))
}

/// The scrape token `rasid serve` is given through `RASID_METRICS_TOKEN`.
const METRICS_TOKEN: &str = "prometheus-scrape-token-for-tests";

fn free_port() -> u16 {
    // Bound and released at once; the server binds it a moment later.
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_healthy(child: &mut Child, addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok((200, body)) = http(addr, "GET", "/v1/health", "") {
            assert!(body.contains("\"ok\""), "{body}");
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("rasid serve exited early: {status}");
        }
        assert!(Instant::now() < deadline, "rasid serve did not become healthy in 60 s");
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn terminate(child: &mut Child) {
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success());
}

#[test]
fn serve_bootstraps_the_operator_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    bootstraps_and_stops(&format!("sqlite://{}", dir.path().join("rasid.db").display()));
}

/// SQLite is single-process: a second server on the same file is refused with a clear error
/// (several servers on one database is what PostgreSQL is for).
#[test]
fn a_second_server_on_one_sqlite_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("rasid.db").display());
    let addr = format!("127.0.0.1:{}", free_port());
    let mut first = Command::new(env!("CARGO_BIN_EXE_rasid"))
        .args(["serve", "--listen", &addr, "--database", &database])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(&mut first, &addr);
    let second = Command::new(env!("CARGO_BIN_EXE_rasid"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &database])
        .output()
        .unwrap();
    let _ = first.kill();
    let _ = first.wait();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("SQLite is single-process") && stderr.contains("postgres"), "{stderr}");
}

/// The same on PostgreSQL: the user and session tables live in the database too.
#[test]
fn serve_runs_on_postgres() {
    let Some(base) = rasid_store::testing::postgres_test_url("serve_runs_on_postgres").unwrap()
    else {
        return;
    };
    let schema = rasid_store::ScratchSchema::create(&base, "rasid_serve_test").unwrap();
    bootstraps_and_stops(schema.url());
}

fn bootstraps_and_stops(database: &str) {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_rasid"))
        .args(["serve", "--listen", &addr, "--database", database])
        .env("RASID_BOOTSTRAP_OPERATOR_PASSWORD", "bootstrap-secret")
        .env("RASID_METRICS_TOKEN", METRICS_TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_healthy(&mut child, &addr);
    let login = r#"{"username":"operator","password":"bootstrap-secret"}"#;
    let (status, body) = http(&addr, "POST", "/v1/sessions", login).unwrap();
    assert_eq!(status, 201, "{body}");
    assert!(body.contains("\"token\""), "{body}");
    // `/metrics` is closed to the public and open to the scrape token from the environment.
    let (status, _, body) = http_with_token(&addr, "GET", "/metrics", "", None).unwrap();
    assert_eq!(status, 401, "{body}");
    let (status, _, body) =
        http_with_token(&addr, "GET", "/metrics", "", Some(METRICS_TOKEN)).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("rasid_commands_total"), "{body}");
    let wrong = r#"{"username":"operator","password":"not-the-secret"}"#;
    assert_eq!(http(&addr, "POST", "/v1/sessions", wrong).unwrap().0, 401);

    terminate(&mut child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "rasid serve did not stop within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(25));
    };
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    assert!(stderr.contains("shutting down"), "{stderr}");

    // The ledger the server wrote verifies.
    let verify = Command::new(env!("CARGO_BIN_EXE_rasid"))
        .args(["verify", "--database", database])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
}

#[test]
fn demo_seeds_the_market_then_serves_it_with_the_demo_logins() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("rasid.db").display());
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_rasid"))
        .args(["demo", "--listen", &addr, "--database", &database])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Seeding imports the market history and holds the launch auction first: a longer deadline
    // than a bare server needs, still bounded.
    let deadline = Instant::now() + Duration::from_secs(300);
    while !matches!(http(&addr, "GET", "/v1/health", ""), Ok((200, _))) {
        assert!(child.try_wait().unwrap().is_none(), "rasid demo exited early");
        assert!(Instant::now() < deadline, "rasid demo did not start serving in 300 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    let login = r#"{"username":"gulf-aviation","password":"demo-member"}"#;
    let (status, body) = http(&addr, "POST", "/v1/sessions", login).unwrap();
    assert_eq!(status, 201, "{body}");
    let (status, body) = http(&addr, "GET", "/v1/markets", "").unwrap();
    assert_eq!(status, 200);
    assert!(body.contains("\"CORE\"") && body.contains("RSD-KZ-0001-2023"), "{body}");
    // The trading bots keep the market moving: new trades reach the tape and the book changes.
    let tape = || http(&addr, "GET", "/v1/markets/RSD-KZ-0001-2023/trades?limit=1", "").unwrap();
    let book = || http(&addr, "GET", "/v1/markets/RSD-KZ-0001-2023/book", "").unwrap().1;
    let (status, first_tape) = tape();
    assert_eq!(status, 200, "{first_tape}");
    let first_book = book();
    let deadline = Instant::now() + Duration::from_secs(120);
    while tape().1 == first_tape || book() == first_book {
        assert!(Instant::now() < deadline, "the demo's tape and book did not move in 120 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    terminate(&mut child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "rasid demo did not stop within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(25));
    };
    assert!(status.success(), "{status}");
    let mut printed = String::new();
    child.stdout.take().unwrap().read_to_string(&mut printed).unwrap();
    assert!(printed.contains("gulf-aviation / demo-member"), "{printed}");
}

/// The rate limit comes from the command line and the environment: with a burst of 2
/// (`RASID_RATE_LIMIT_BURST`) and 1 request a second (`--rate-limit-per-second`), a token's third
/// request in quick succession is answered 429 `rate_limited` with `Retry-After`.
#[test]
fn serve_takes_the_rate_limit_from_flags_and_environment() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("rasid.db").display());
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_rasid"))
        .args(["serve", "--listen", &addr, "--database", &database])
        .args(["--rate-limit-per-second", "1"])
        .env("RASID_RATE_LIMIT_BURST", "2")
        .env("RASID_BOOTSTRAP_OPERATOR_PASSWORD", "bootstrap-secret")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(&mut child, &addr);
    let login = r#"{"username":"operator","password":"bootstrap-secret"}"#;
    let (status, body) = http(&addr, "POST", "/v1/sessions", login).unwrap();
    assert_eq!(status, 201, "{body}");
    let token = body.split("\"token\":\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(http_with_token(&addr, "GET", "/v1/me", "", Some(&token)).unwrap());
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answers[0].0, 200, "{}", answers[0].2);
    assert_eq!(answers[1].0, 200, "{}", answers[1].2);
    let (status, head, body) = &answers[2];
    assert_eq!(*status, 429, "{body}");
    assert!(body.contains("\"rate_limited\""), "{body}");
    assert!(head.contains("\r\nretry-after: 1"), "{head}");
}
