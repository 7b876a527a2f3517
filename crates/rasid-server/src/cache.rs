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
        let by_id = InstrumentId::parse_id(reference).filter(|id| self.by_id.contains_key(id));
        let id = by_id.or_else(|| self.by_symbol.get(reference).copied())?;
        Some((id, self.by_id[&id]))
    }

    pub fn currency(&self, id: InstrumentId) -> Option<Currency> {
        self.by_id.get(&id).copied()
    }
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
    use super::Directory;
    use rasid_core::Currency;
    use rasid_core::exchange::InstrumentId;

    /// An instrument is found by its id, with or without the prefix, or by its symbol; an id
    /// that is not listed and a symbol that is not are not found, and neither is a symbol that
    /// only looks like another listing's.
    #[test]
    fn the_directory_resolves_ids_and_symbols() {
        let mut d = Directory::default();
        for (id, symbol, currency) in [(1, "VCS1-2021", Currency::Sar), (2, "CORE", Currency::Usd)]
        {
            d.by_id.insert(InstrumentId(id), currency);
            d.by_symbol.insert(symbol.into(), InstrumentId(id));
        }
        let found = |r: &str| d.resolve(r).map(|(id, c)| (id.0, c));
        assert_eq!(found("1"), Some((1, Currency::Sar)));
        assert_eq!(found("ins1"), Some((1, Currency::Sar)));
        assert_eq!(found("VCS1-2021"), Some((1, Currency::Sar)));
        assert_eq!(found("CORE"), Some((2, Currency::Usd)));
        assert_eq!(found("ins2"), Some((2, Currency::Usd)));
        for missing in ["3", "ins3", "ins0", "0", "", "core", "VCS1", "ins", "ins 1", "-1"] {
            assert_eq!(found(missing), None, "{missing:?}");
        }
    }
}
