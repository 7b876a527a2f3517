//! Runs the real `rasid` binary against a database in a temporary directory.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[derive(Debug)]
pub struct Rasid {
    pub dir: tempfile::TempDir,
}

impl Rasid {
    pub fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temp dir") }
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("rasid.db")
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rasid"));
        c.arg("--database").arg(format!("sqlite://{}", self.db_path().display()));
        c.current_dir(self.dir.path());
        c
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
