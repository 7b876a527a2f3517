//! Where reserved serials are: with whatever reserved them.
//!
//! A holding counts its reserved tonnes (`Holding::reserved_tonnes`) but keeps no copy of the
//! serials. They are in the resting sell orders, open auction lots and basket deposits that
//! reserved them, and only there, so a fill against a resting sell, a rest or a cancel touches
//! one list of serials instead of two. This module gathers them back by holding for the readers
//! that show which serials are reserved (the API, the read models, the export, serial look-up)
//! and for the audit, which checks that no serial has two owners and that each holding's owners
//! hold exactly its reserved tonnes.
//!
//! Gathering visits every open order (or one account's), every auction lot and every basket
//! deposit, so it is for reads and refusals, never for the path that executes an accepted
//! command.

use super::Order;
use crate::ids::{AccountId, IssuanceId};
use crate::serial::{RangeSet, SetRef};
use crate::state::State;
use std::collections::BTreeMap;

/// Reserved serials by holding (account, issuance); holdings with none reserved are absent.
pub type ReservedSerials = BTreeMap<(AccountId, IssuanceId), RangeSet>;

impl State {
    /// Every reserved serial by holding, of one account or of all, of one issuance or of all.
    /// Fails with the holding where two owners claim the same serial, which only a broken state
    /// can do.
    pub(crate) fn gather_reserved(
        &self,
        account: Option<AccountId>,
        issuance: Option<IssuanceId>,
    ) -> Result<ReservedSerials, (AccountId, IssuanceId)> {
        let mut out = ReservedSerials::new();
        let mut add = |owner: AccountId, of: IssuanceId, set: SetRef<'_>| {
            if issuance.is_some_and(|i| i != of) {
                return Ok(());
            }
            out.entry((owner, of)).or_default().union_disjoint_ref(set).map_err(|_| (owner, of))
        };
        let orders: Box<dyn Iterator<Item = &Order>> = match account {
            Some(a) => Box::new(self.orders_of(a)),
            None => Box::new(self.exchange.orders.iter_unordered()),
        };
        for o in orders {
            for (of, set) in o.reserved_serials() {
                add(o.account, of, set)?;
            }
        }
        let lots = self.auctions.auctions.values().flat_map(|a| a.lots.iter());
        for lot in lots.filter(|l| account.is_none_or(|a| a == l.spec.seller)) {
            for (of, set) in &lot.reserved_serials {
                add(lot.spec.seller, of, set)?;
            }
        }
        for ((_, owner, of), d) in &self.baskets.deposits {
            if account.is_none_or(|a| a == *owner) {
                add(*owner, *of, SetRef::Set(&d.free))?;
            }
        }
        // An emptied deposit stays (see `withdraw_from_basket`); it reserves nothing.
        out.retain(|_, set| !set.is_empty());
        Ok(out)
    }

    /// Every reserved serial by holding.
    pub fn reserved_serials(&self) -> ReservedSerials {
        self.gather_reserved(None, None).expect("audit: a reserved serial has one owner")
    }

    /// One account's reserved serials by issuance.
    pub fn reserved_serials_of_account(
        &self,
        account: AccountId,
    ) -> BTreeMap<IssuanceId, RangeSet> {
        let gathered = self.gather_reserved(Some(account), None);
        let gathered = gathered.expect("audit: a reserved serial has one owner");
        gathered.into_iter().map(|((_, issuance), set)| (issuance, set)).collect()
    }

    /// One issuance's reserved serials by account.
    pub fn reserved_serials_of_issuance(
        &self,
        issuance: IssuanceId,
    ) -> BTreeMap<AccountId, RangeSet> {
        let gathered = self.gather_reserved(None, Some(issuance));
        let gathered = gathered.expect("audit: a reserved serial has one owner");
        gathered.into_iter().map(|((account, _), set)| (account, set)).collect()
    }

    /// One holding's reserved serials (empty if it has none).
    pub fn reserved_serials_of(&self, account: AccountId, issuance: IssuanceId) -> RangeSet {
        let gathered = self.gather_reserved(Some(account), Some(issuance));
        let mut gathered = gathered.expect("audit: a reserved serial has one owner");
        gathered.remove(&(account, issuance)).unwrap_or_default()
    }
}
