//! What a command prints: text for people, or one JSON document for programs. The JSON shapes
//! are the CLI's wire format, built here from domain values; domain types are never serialized
//! directly, so the ledger's internals can change without breaking scripts.

use rasid_core::{Rejection, SerialRange};
use rasid_store::{StoreError, SubmitError};
use serde_json::{Value, json};

#[derive(Debug)]
pub struct Output {
    pub text: String,
    pub json: Value,
}

impl Output {
    pub fn new(text: impl Into<String>, json: Value) -> Self {
        Self { text: text.into(), json }
    }

    /// Prints to stdout. A reader that closes early (`rasid … | head`) is not an error: the
    /// output is simply no longer wanted, so a broken pipe ends printing quietly.
    pub fn print(&self, json: bool) {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let written = if json {
            writeln!(out, "{}", self.json)
        } else {
            writeln!(out, "{}", self.text.trim_end())
        };
        if let Err(e) = written.and_then(|()| out.flush())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            eprintln!("error: cannot write the output: {e}");
        }
    }
}

/// Why a command failed. Each maps to an exit code and a JSON error with a stable code.
#[derive(Debug)]
pub enum Failure {
    /// The engine refused the command; nothing changed.
    Rejected(Rejection),
    /// Input refused before it reached the engine.
    Invalid { code: &'static str, message: String },
    /// The journal failed verification or recovery.
    Corrupt { seq: u64, reason: String },
    /// Storage or system trouble.
    Internal(String),
}

impl Failure {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Failure::Invalid { code, message: message.into() }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Rejected(_) => 1,
            Failure::Invalid { .. } => 2,
            Failure::Corrupt { .. } => 3,
            Failure::Internal(_) => 4,
        }
    }

    fn parts(&self) -> (&str, String, Value) {
        match self {
            Failure::Rejected(r) => (r.code(), r.message().to_owned(), json!({})),
            Failure::Invalid { code, message } => (code, message.clone(), json!({})),
            Failure::Corrupt { seq, reason } => (
                "journal_corrupt",
                format!("journal record {seq} is bad: {reason}"),
                json!({ "seq": seq }),
            ),
            Failure::Internal(m) => ("internal", m.clone(), json!({})),
        }
    }

    pub fn print(&self, json: bool) {
        let (code, message, details) = self.parts();
        if json {
            let doc = json!({ "ok": false, "error": { "code": code, "message": message, "details": details } });
            println!("{doc}");
        } else {
            eprintln!("error: {code}: {message}");
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Corrupt { seq, reason } => Failure::Corrupt { seq, reason },
            other => Failure::Internal(other.to_string()),
        }
    }
}

impl From<SubmitError> for Failure {
    fn from(e: SubmitError) -> Self {
        match e {
            SubmitError::Rejected(r) => Failure::Rejected(r),
            SubmitError::Unavailable(m) => Failure::Internal(m),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Internal(format!("{e:#}"))
    }
}

/// Shared with the HTTP API, which speaks the same wire format.
pub use rasid_server::render::ranges_json;

pub fn ranges_text(ranges: impl IntoIterator<Item = SerialRange>) -> String {
    let parts: Vec<String> = ranges.into_iter().map(|r| r.to_string()).collect();
    if parts.is_empty() { "-".into() } else { parts.join(", ") }
}

/// Groups digits for people: 2554813143 → 2,554,813,143.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
