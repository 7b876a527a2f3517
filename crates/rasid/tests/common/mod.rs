//! Runs the real `rasid` binary against a database of its own: an SQLite file in a temporary
//! directory, or a fresh schema in the PostgreSQL test server's database.

#![allow(dead_code)]

use rasid_store::ScratchSchema;
use rasid_store::testing::postgres_test_url;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs each named test function (taking a [`Rasid`]) once per backend, as `name::sqlite` and
/// `name::postgres`. Without a PostgreSQL test server the second skips with a notice, or fails
/// in CI.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::common::Rasid;
            #[test]
            fn sqlite() {
                super::$name(Rasid::new());
            }
            #[test]
            fn postgres() {
                if let Some(r) = Rasid::on_postgres(stringify!($name)) {
                    super::$name(r);
                }
            }
        }
    )*};
}

#[derive(Debug)]
pub struct Rasid {
    /// The working directory of every run (and the SQLite file's home).
    pub dir: tempfile::TempDir,
    postgres: Option<ScratchSchema>,
}

impl Rasid {
    /// A ledger in an SQLite file.
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temp dir"), postgres: None }
    }

    /// A ledger in a schema of its own on the PostgreSQL test server, or `None` (after a
    /// notice) when there is no server and this is not CI. Panics in CI without a server.
    pub fn on_postgres(test: &str) -> Option<Self> {
        let base = postgres_test_url(test).unwrap_or_else(|e| panic!("{e}"))?;
        let schema = ScratchSchema::create(&base, "rasid_cli_test").expect("create schema");
        Some(Self { dir: tempfile::tempdir().expect("temp dir"), postgres: Some(schema) })
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("rasid.db")
    }

    /// What `--database` gets.
    pub fn database_url(&self) -> String {
        match &self.postgres {
            Some(schema) => schema.url().to_owned(),
            None => format!("sqlite://{}", self.db_path().display()),
        }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rasid"));
        c.arg("--database").arg(self.database_url());
        c.current_dir(self.dir.path());
        c
    }

    /// The stored body of journal record `seq`, read behind the ledger's back.
    pub fn body(&self, seq: i64) -> Vec<u8> {
        match &self.postgres {
            Some(schema) => postgres::Client::connect(schema.url(), postgres::NoTls)
                .unwrap()
                .query_one("SELECT body FROM journal WHERE seq = $1", &[&seq])
                .unwrap()
                .get(0),
            None => rusqlite::Connection::open(self.db_path())
                .unwrap()
                .query_row("SELECT body FROM journal WHERE seq = ?1", [seq], |row| row.get(0))
                .unwrap(),
        }
    }

    /// Overwrites the body of journal record `seq` behind the ledger's back (tampering).
    pub fn set_body(&self, seq: i64, body: &[u8]) {
        let updated = match &self.postgres {
            Some(schema) => postgres::Client::connect(schema.url(), postgres::NoTls)
                .unwrap()
                .execute("UPDATE journal SET body = $1 WHERE seq = $2", &[&body, &seq])
                .unwrap(),
            None => rusqlite::Connection::open(self.db_path())
                .unwrap()
                .execute(
                    "UPDATE journal SET body = ?1 WHERE seq = ?2",
                    rusqlite::params![body, seq],
                )
                .unwrap() as u64,
        };
        assert_eq!(updated, 1, "record {seq} exists");
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run rasid")
    }

    /// Runs with `--json`, expects success, returns the document.
    pub fn ok(&self, args: &[&str]) -> Value {
        let out = self.command().arg("--json").args(args).output().expect("run rasid");
        assert!(
            out.status.success(),
            "rasid {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("JSON output")
    }

    /// Runs with `--json`, expects failure, returns (exit code, error code).
    pub fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.command().arg("--json").args(args).output().expect("run rasid");
        assert!(!out.status.success(), "rasid {args:?} should fail");
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code().unwrap_or(-1), doc["error"]["code"].as_str().unwrap_or("").to_owned())
    }
}

pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel)
}
