//! Small caches on the order-entry path, so that placing an order costs one trip through the
//! ledger instead of four.
//!
//! - Tokens: a bearer token's caller (user, organization, role) is kept for [`TOKEN_TTL_MS`].
//!   Logging out and revoking an API key drop entries at once; an expired session may keep
//!   working for at most that long after its expiry.
//! - Instruments: id, symbol and currency of every instrument. These never change once listed,
//!   so the directory is rebuilt only when the feed reports a new listing (a version counter in
//!   `live::Live`). The counter moves before the listing's reply is sent, so a client that saw
//!   its instrument listed finds it here.

use rasid_core::exchange::InstrumentId;
use rasid_core::model::Role;
use rasid_core::{Currency, OrgId, State};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const TOKEN_TTL_MS: u64 = 2_000;
/// Most tokens cached; a full cache is emptied (cheaply refilled by the next requests).
pub const TOKENS_MAX: usize = 10_000;

#[derive(Debug, Clone)]
pub struct CachedCaller {
    /// Shared rather than owned: a cache hit hands the caller on without copying the name.
    pub username: Arc<str>,
    pub org: OrgId,
    pub role: Role,
    until: Instant,
}

#[derive(Debug, Default)]
pub struct Directory {
    by_id: BTreeMap<InstrumentId, Currency>,
    by_symbol: HashMap<String, InstrumentId>,
}

impl Directory {
    pub fn from_state(s: &State) -> Self {
        let mut d = Directory::default();
        for i in s.instruments() {
            d.by_id.insert(i.id, i.spec.currency);
            d.by_symbol.insert(i.spec.symbol.clone(), i.id);
        }
        d
    }

    /// An instrument by id (`3`, `ins3`) or symbol, as `routes::resolve` finds it.
    pub fn resolve(&self, reference: &str) -> Option<(InstrumentId, Currency)> {
        let by_id = may_be_id(reference)
            .then(|| reference.parse::<InstrumentId>().ok())
            .flatten()
            .filter(|id| self.by_id.contains_key(id));
        let id = by_id.or_else(|| self.by_symbol.get(reference).copied())?;
        Some((id, self.by_id[&id]))
    }

    pub fn currency(&self, id: InstrumentId) -> Option<Currency> {
        self.by_id.get(&id).copied()
    }
}

/// Whether `reference` could parse as an instrument id (`3`, `ins3`). A reference that cannot is
/// a symbol, and parsing it anyway builds an error message with `format!` that is thrown away —
/// on every order, since clients name instruments by symbol. An id parses as `u64`, which takes
/// an optional `+` and then digits, after the optional `ins` prefix; so anything else in first
/// place rules it out, and whatever passes is still parsed in full.
fn may_be_id(reference: &str) -> bool {
    let digits = reference.strip_prefix("ins").unwrap_or(reference);
    digits.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'+')
}

#[derive(Debug, Default)]
pub struct Caches {
    tokens: Mutex<HashMap<[u8; 32], CachedCaller>>,
    /// `(listing version it was built at, directory)`.
    instruments: Mutex<Option<(u64, Arc<Directory>)>>,
}

impl Caches {
    pub fn caller(&self, token_sha256: &[u8; 32], now: Instant) -> Option<CachedCaller> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.get(token_sha256).filter(|c| c.until > now).cloned()
    }

    pub fn remember(&self, token_sha256: [u8; 32], username: Arc<str>, org: OrgId, role: Role) {
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        if tokens.len() >= TOKENS_MAX {
            tokens.clear();
        }
        let until = Instant::now() + Duration::from_millis(TOKEN_TTL_MS);
        tokens.insert(token_sha256, CachedCaller { username, org, role, until });
    }

    pub fn forget(&self, token_sha256: &[u8; 32]) {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).remove(token_sha256);
    }

    /// After an API key is revoked: its hash is not known here, so every entry goes.
    pub fn forget_all(&self) {
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// The directory as of listing version `version`, if cached.
    pub fn directory(&self, version: u64) -> Option<Arc<Directory>> {
        let cached = self.instruments.lock().unwrap_or_else(|p| p.into_inner());
        cached.as_ref().filter(|(v, _)| *v == version).map(|(_, d)| d.clone())
    }

    /// The directory built last, whatever listing version it was built at.
    pub fn last_directory(&self) -> Option<Arc<Directory>> {
        let cached = self.instruments.lock().unwrap_or_else(|p| p.into_inner());
        cached.as_ref().map(|(_, d)| d.clone())
    }

    pub fn set_directory(&self, version: u64, directory: Arc<Directory>) {
        *self.instruments.lock().unwrap_or_else(|p| p.into_inner()) = Some((version, directory));
    }
}

#[cfg(test)]
mod tests {
    use super::may_be_id;
    use rasid_core::exchange::InstrumentId;

    /// The pre-check never rules out a reference that parses as an id, and the references of
    /// the order path (symbols) are ruled out without parsing.
    #[test]
    fn references_that_parse_as_ids_are_never_ruled_out() {
        let references = [
            "1",
            "42",
            "ins1",
            "ins42",
            "+1",
            "ins+1",
            "0",
            "ins0",
            "01",
            "",
            "ins",
            "insx",
            "x1",
            "BENCH-1",
            "VCS1-2021",
            "INS1",
            "ins 1",
            " 1",
            "1 ",
            "-1",
            "ins-1",
            "١",
            "18446744073709551616",
        ];
        for r in references {
            if r.parse::<InstrumentId>().is_ok() {
                assert!(may_be_id(r), "{r:?} parses as an id");
            }
        }
        assert!(!may_be_id("BENCH-1") && !may_be_id("VCS1-2021") && !may_be_id(""));
    }
}
