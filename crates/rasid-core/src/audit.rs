//! The ledger's invariants, checked from scratch. Tests run `audit` after every command and
//! `rasid verify` runs it on the replayed ledger; the engine never relies on it for correctness.

use crate::ids::IssuanceId;
use crate::model::AccountKind;
use crate::money::Currency;
use crate::serial::{RangeSet, SerialRange};
use crate::state::State;
use std::collections::BTreeMap;
use std::fmt;

/// What the ledger holds, in tonnes, split by where serials are. `held` excludes the buffer pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub organizations: u64,
    pub accounts: u64,
    pub projects: u64,
    pub issuances: u64,
    pub retirements: u64,
    pub cancellations: u64,
    pub issued_tonnes: u64,
    pub held_tonnes: u64,
    /// Of `held_tonnes`, reserved by orders, lots or deposits.
    pub reserved_tonnes: u64,
    pub buffer_tonnes: u64,
    pub retired_tonnes: u64,
    pub cancelled_tonnes: u64,
}

/// A broken invariant, described for people. Seeing one means a bug in Rasid, not bad input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditError(pub String);

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invariant broken: {}", self.0)
    }
}

impl std::error::Error for AuditError {}

fn fail<T>(msg: String) -> Result<T, AuditError> {
    Err(AuditError(msg))
}

impl State {
    /// Checks every invariant and returns the totals.
    ///
    /// - For every issuance, the serials held (available or reserved, including the buffer pool),
    ///   retired and cancelled partition its block exactly: no gap, no overlap.
    /// - Retirement and cancellation records add up to the issuance's retired and cancelled sets.
    /// - Every range set is in canonical form; no empty holding or zero balance is stored.
    /// - Cash is conserved: per currency, balances add up to deposits minus withdrawals, and no
    ///   balance is negative.
    /// - The look-up indexes agree with the maps they index.
    pub fn audit(&self) -> Result<Totals, AuditError> {
        let mut totals = Totals {
            organizations: self.orgs.len() as u64,
            accounts: self.accounts.len() as u64,
            projects: self.projects.len() as u64,
            issuances: self.issuances.len() as u64,
            retirements: self.retirements.len() as u64,
            cancellations: self.cancellations.len() as u64,
            ..Totals::default()
        };
        let pieces = self.audit_holdings(&mut totals)?;
        self.audit_records(&mut totals)?;
        self.audit_partition(pieces, &mut totals)?;
        self.audit_cash()?;
        self.audit_indexes()?;
        self.audit_exchange()?;
        Ok(totals)
    }

    fn audit_holdings(
        &self,
        totals: &mut Totals,
    ) -> Result<BTreeMap<IssuanceId, Vec<SerialRange>>, AuditError> {
        let mut pieces: BTreeMap<IssuanceId, Vec<SerialRange>> = BTreeMap::new();
        // Reserved serials are kept by their owners (`exchange/reserved.rs`); each holding's
        // must add up to the tonnes it counts as reserved, and they join the partition below.
        let mut reserved = match self.gather_reserved(None, None) {
            Ok(reserved) => reserved,
            Err((account, issuance)) => {
                return fail(format!("{account}/{issuance}: two owners reserve the same serial"));
            }
        };
        // The credit log first: reading a holding merges its logged credits, and a broken log
        // would panic there instead of failing the audit.
        if let Err(e) = self.holdings.logs_consistent() {
            return fail(format!("credit log: {e}"));
        }
        for ((account, issuance), h) in self.holdings.iter() {
            let Some(acc) = self.accounts.get(&account) else {
                return fail(format!("holding of unknown account {account}"));
            };
            if !self.issuances.contains_key(&issuance) {
                return fail(format!("holding of unknown issuance {issuance}"));
            }
            if h.is_empty() || !h.available.is_valid() {
                return fail(format!("holding {account}/{issuance} is empty or not canonical"));
            }
            let owned = reserved.remove(&(account, issuance)).unwrap_or_default();
            if owned.quantity_tonnes() != h.reserved_tonnes {
                return fail(format!(
                    "holding {account}/{issuance} counts {} t reserved, its owners hold {} t",
                    h.reserved_tonnes,
                    owned.quantity_tonnes()
                ));
            }
            let q = h.held_tonnes();
            if acc.kind == AccountKind::BufferPool {
                totals.buffer_tonnes += q;
            } else {
                totals.held_tonnes += q;
                totals.reserved_tonnes += h.reserved_tonnes;
            }
            let list = pieces.entry(issuance).or_default();
            list.extend(h.available.ranges());
            list.extend(owned.ranges());
        }
        if let Some((account, issuance)) = reserved.keys().next() {
            return fail(format!("{account}/{issuance}: serials are reserved with no holding"));
        }
        Ok(pieces)
    }

    fn audit_records(&self, totals: &mut Totals) -> Result<(), AuditError> {
        let mut retired: BTreeMap<IssuanceId, RangeSet> = BTreeMap::new();
        for r in self.retirements.values() {
            if r.serials.is_empty() || !r.serials.is_valid() {
                return fail(format!("retirement {} has no serials or is not canonical", r.id));
            }
            if retired.entry(r.issuance).or_default().union_disjoint(&r.serials).is_err() {
                return fail(format!("retirement {} overlaps another retirement", r.id));
            }
        }
        let mut cancelled: BTreeMap<IssuanceId, RangeSet> = BTreeMap::new();
        for c in self.cancellations.values() {
            if c.serials.is_empty() || !c.serials.is_valid() {
                return fail(format!("cancellation {} has no serials or is not canonical", c.id));
            }
            if cancelled.entry(c.issuance).or_default().union_disjoint(&c.serials).is_err() {
                return fail(format!("cancellation {} overlaps another cancellation", c.id));
            }
        }
        for iss in self.issuances.values() {
            let empty = RangeSet::new();
            if retired.get(&iss.id).unwrap_or(&empty) != &iss.retired {
                return fail(format!("{}: retirement records do not add up", iss.id));
            }
            if cancelled.get(&iss.id).unwrap_or(&empty) != &iss.cancelled {
                return fail(format!("{}: cancellation records do not add up", iss.id));
            }
            totals.retired_tonnes += iss.retired.quantity_tonnes();
            totals.cancelled_tonnes += iss.cancelled.quantity_tonnes();
            totals.issued_tonnes += iss.block.quantity_tonnes();
        }
        Ok(())
    }

    fn audit_partition(
        &self,
        mut pieces: BTreeMap<IssuanceId, Vec<SerialRange>>,
        totals: &mut Totals,
    ) -> Result<(), AuditError> {
        for iss in self.issuances.values() {
            let mut list = pieces.remove(&iss.id).unwrap_or_default();
            list.extend(iss.retired.ranges());
            list.extend(iss.cancelled.ranges());
            list.sort_unstable();
            let mut expected = iss.block.first();
            for r in &list {
                if r.first() > expected {
                    return fail(format!(
                        "{}: serials {}-{} are nowhere",
                        iss.id,
                        expected,
                        r.first() - 1
                    ));
                }
                if r.first() < expected {
                    return fail(format!("{}: serial {} is in two places", iss.id, r.first()));
                }
                expected = r.last() + 1;
            }
            if expected != iss.block.last() + 1 {
                return fail(format!(
                    "{}: serials {}-{} are nowhere",
                    iss.id,
                    expected,
                    iss.block.last()
                ));
            }
        }
        let parts = totals.held_tonnes
            + totals.buffer_tonnes
            + totals.retired_tonnes
            + totals.cancelled_tonnes;
        if parts != totals.issued_tonnes {
            return fail(format!("{parts} tonnes accounted for, {} issued", totals.issued_tonnes));
        }
        Ok(())
    }

    fn audit_cash(&self) -> Result<(), AuditError> {
        let mut sums: BTreeMap<Currency, i128> = BTreeMap::new();
        for ((account, currency), b) in self.cash.iter() {
            if !self.accounts.contains_key(&account) {
                return fail(format!("cash of unknown account {account}"));
            }
            if b.available_minor < 0 || b.reserved_minor < 0 || *b == Default::default() {
                return fail(format!(
                    "{account} {currency}: balance negative or zero entry stored"
                ));
            }
            *sums.entry(currency).or_default() +=
                i128::from(b.available_minor) + i128::from(b.reserved_minor);
        }
        for currency in Currency::ALL {
            let held = sums.get(&currency).copied().unwrap_or(0);
            let deposited = self.cash_in_minor.get(&currency).copied().unwrap_or(0);
            if held != deposited {
                return fail(format!(
                    "{currency}: balances {held} != deposits - withdrawals {deposited}"
                ));
            }
        }
        Ok(())
    }

    fn audit_indexes(&self) -> Result<(), AuditError> {
        let names_ok = self.org_names.len() == self.orgs.len()
            && self.org_names.iter().all(|(n, id)| self.orgs.get(id).is_some_and(|o| &o.name == n));
        let keys_ok = self.project_keys.len() == self.projects.len()
            && self.project_keys.iter().all(|((p, e), id)| {
                self.projects
                    .get(id)
                    .is_some_and(|x| x.info.program == *p && &x.info.external_id == e)
            });
        let refs_ok = self.issuance_refs.iter().all(|(r, id)| {
            self.issuances.get(id).is_some_and(|i| i.external_ref.as_deref() == Some(r.as_str()))
        }) && self.issuance_refs.len()
            == self.issuances.values().filter(|i| i.external_ref.is_some()).count();
        let blocks_ok = self.blocks.len() == self.issuances.len()
            && self
                .blocks
                .iter()
                .all(|(f, id)| self.issuances.get(id).is_some_and(|i| i.block.first() == *f));
        let disjoint = self
            .blocks
            .values()
            .map(|id| self.issuances[id].block)
            .collect::<Vec<_>>()
            .windows(2)
            .all(|w| w[0].last() < w[1].first());
        // The class index is maintained where holdings are created and removed; it must name
        // exactly the holdings a rebuild from the map finds.
        let classes_ok = self.held_classes
            == crate::held_classes::HeldClasses::rebuild(&self.holdings, &self.issuances);
        match (names_ok, keys_ok, refs_ok, blocks_ok && disjoint && classes_ok) {
            (true, true, true, true) => Ok(()),
            _ => fail("a look-up index disagrees with its map, or issued blocks overlap".into()),
        }
    }
}
