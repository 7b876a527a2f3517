//! Every account's holdings, by issuance, with a log of credits not yet merged into them.
//!
//! [`Holdings`] iterates, compares and serializes exactly as the `BTreeMap<(AccountId,
//! IssuanceId), Holding>` it replaced, so snapshots and digests are byte for byte what they were.
//! Per account (a dense index) it keeps the holdings by issuance ([`AccountHoldings`]): a fill
//! finds the seller's and the buyer's holding, and a sell its holdings of the class, among one
//! account's few holdings rather than among every holding in the ledger.
//!
//! Delivered serials (a fill's, an auction allocation's) go to a buyer who already holds the
//! issuance through the account's log instead of the holding itself (see
//! [`CREDITS_LOGGED_MAX`]; an account past [`SORTED_HOLDINGS_MAX`] holdings is credited in
//! place). The log changes where serials are kept, never what a reader sees:
//! every mutable access to an account merges its log first, and every shared read lends a
//! holding with logged credits as a merged copy (`Cow::Owned`), so encoding, digests, the audit
//! and every query see the merged form.

use crate::dense::{DenseMap, flat_entries_impls};
use crate::ids::{AccountId, IssuanceId};
use crate::model::Holding;
use crate::serial::{SerialRange, SetRef};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

/// Above this many holdings an account's holdings move from sorted vectors to a `BTreeMap`.
/// Up to here a binary search over the packed issuance ids (eight bytes each, 64 in eight cache
/// lines) finds a holding in fewer instructions than the tree's node-by-node scans: on the
/// 2M-operation matching bench every fill credits a buyer holding one holding per seller (50),
/// and the tree's `entry` cost about 124 instructions there. The issuances are kept apart from
/// the holdings (about a hundred bytes each) so that the search touches only the ids; a sixth
/// session's vector of `(issuance, holding)` pairs saved instructions but spread every probe of
/// the search over a cache line of its own. Past the bound, creating or removing a holding
/// would shift ever more of them, so a large account stays O(log n) in the tree.
const SORTED_HOLDINGS_MAX: usize = 64;

/// One account's holdings by issuance (see [`SORTED_HOLDINGS_MAX`]). The representation never
/// shows: both iterate in issuance order.
#[derive(Clone, Debug)]
enum AccountHoldings {
    /// Issuances ascending, and the holding of each at the same position.
    Sorted {
        issuances: Vec<IssuanceId>,
        holdings: Vec<Holding>,
    },
    Tree(BTreeMap<IssuanceId, Holding>),
}

impl Default for AccountHoldings {
    fn default() -> Self {
        AccountHoldings::Sorted { issuances: Vec::new(), holdings: Vec::new() }
    }
}

impl AccountHoldings {
    fn get_mut(&mut self, issuance: IssuanceId) -> Option<&mut Holding> {
        match self {
            AccountHoldings::Sorted { issuances, holdings } => {
                issuances.binary_search(&issuance).ok().map(|k| &mut holdings[k])
            }
            AccountHoldings::Tree(m) => m.get_mut(&issuance),
        }
    }

    /// The holding, created empty if there is none; says whether it was created.
    fn or_default(&mut self, issuance: IssuanceId) -> (&mut Holding, bool) {
        if let AccountHoldings::Sorted { issuances, .. } = self
            && issuances.len() >= SORTED_HOLDINGS_MAX
            && issuances.binary_search(&issuance).is_err()
        {
            self.promote();
        }
        match self {
            AccountHoldings::Sorted { issuances, holdings } => {
                match issuances.binary_search(&issuance) {
                    Ok(k) => (&mut holdings[k], false),
                    Err(k) => {
                        issuances.insert(k, issuance);
                        holdings.insert(k, Holding::default());
                        (&mut holdings[k], true)
                    }
                }
            }
            AccountHoldings::Tree(m) => match m.entry(issuance) {
                Entry::Occupied(o) => (o.into_mut(), false),
                Entry::Vacant(v) => (v.insert(Holding::default()), true),
            },
        }
    }

    /// Moves the holdings into a tree, before the vectors would grow past the bound.
    #[cold]
    #[inline(never)]
    fn promote(&mut self) {
        if let AccountHoldings::Sorted { issuances, holdings } = self {
            let m = std::mem::take(issuances).into_iter().zip(std::mem::take(holdings)).collect();
            *self = AccountHoldings::Tree(m);
        }
    }

    fn remove(&mut self, issuance: IssuanceId) -> Option<Holding> {
        match self {
            AccountHoldings::Sorted { issuances, holdings } => {
                let k = issuances.binary_search(&issuance).ok()?;
                issuances.remove(k);
                Some(holdings.remove(k))
            }
            AccountHoldings::Tree(m) => m.remove(&issuance),
        }
    }

    /// The holdings in issuance order.
    fn iter(&self) -> AccountHoldingsIter<'_> {
        match self {
            AccountHoldings::Sorted { issuances, holdings } => {
                AccountHoldingsIter::Sorted(issuances.iter().zip(holdings.iter()))
            }
            AccountHoldings::Tree(m) => AccountHoldingsIter::Tree(m.iter()),
        }
    }
}

enum AccountHoldingsIter<'a> {
    Sorted(std::iter::Zip<std::slice::Iter<'a, IssuanceId>, std::slice::Iter<'a, Holding>>),
    Tree(std::collections::btree_map::Iter<'a, IssuanceId, Holding>),
}

impl<'a> Iterator for AccountHoldingsIter<'a> {
    type Item = (IssuanceId, &'a Holding);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            AccountHoldingsIter::Sorted(it) => it.next().map(|(i, h)| (*i, h)),
            AccountHoldingsIter::Tree(it) => it.next().map(|(i, h)| (*i, h)),
        }
    }
}

/// At this many logged ranges (a credit of a fragmented delivery logs several) an account's log
/// is merged into its holdings.
///
/// On the 2M-operation matching bench a buyer holds one holding per seller's issuance, each of
/// about 600 ranges, about 24 MB of ranges in all; crediting a fill's serials into a cold holding
/// (a binary search and a short `memmove`) was about a fifth of the engine's time. Appending to
/// the account's log touches only its warm tail, and a merge then visits each holding once for
/// many credits. A merge costs tens of microseconds, so it must stay rare enough to stay out of
/// p99: the eleventh session's settlement floors merged every 64 credits and doubled p99, and
/// every 1,024 kept it (merges in about 0.06% of operations). A merge moves most of every
/// holding it adds to, so a longer log moves fewer ranges per credit but sorts longer groups:
/// over the whole 2M-operation stream 4,096 ran 25 instructions per operation fewer than 1,024
/// (a merge sorting about 80 ranges per holding instead of 20) and had 9% fewer simulated L2
/// misses. The log takes 24 bytes a range, about 98 KB when full (see `LOGGED_CAPACITY_KEPT`).
/// Unit tests use a small bound so that their short streams reach it.
#[cfg(not(test))]
const CREDITS_LOGGED_MAX: usize = 4096;
#[cfg(test)]
const CREDITS_LOGGED_MAX: usize = 8;

/// The log's capacity an account keeps after a merge. A busy account grows it again in two
/// doublings (copying about 18 bytes per logged credit); one that stopped trading keeps no more
/// than this.
const LOGGED_CAPACITY_KEPT: usize = CREDITS_LOGGED_MAX / 4;

const OVERLAP: &str = "audit: a serial is in exactly one place";

/// One account's holdings and the credits to them not merged yet.
#[derive(Clone, Debug, Default)]
struct AccountEntry {
    held: AccountHoldings,
    /// Ranges credited to holdings the account has, in the order they came, each with the
    /// holding's position in the sorted vectors; each is disjoint from every held serial and
    /// from every other logged range. Only an account in the sorted vectors logs (one in the
    /// tree is credited in place), and a position stays right while logged: holdings are
    /// created, removed and moved into the tree only through `&mut` accesses, which merge
    /// the log first.
    logged: Vec<(u32, SerialRange)>,
}

impl AccountEntry {
    /// Merges the logged credits into the holdings, if there are any, before an access. The
    /// log's capacity shrinks back to [`LOGGED_CAPACITY_KEPT`]: an account read or debited
    /// before its log filled is not receiving credits fast enough to need more, and an account
    /// that stopped trading should not keep a full log's memory. (A log that fills is merged
    /// in `credit_held` and keeps its capacity: shrinking it there and growing it again moved
    /// the log to fresh memory every time, which cost more than the larger log saved.)
    #[inline]
    fn merge_log(&mut self) {
        if !self.logged.is_empty() {
            self.merge_logged(true);
        }
    }

    /// Merges the logged credits into the holdings: grouped by holding (a counting sort by
    /// position), each group sorted and merged in one pass (`merge_disjoint_sorted`). Out of
    /// line: it runs once per many credits. A comparison sort of the whole log by issuance
    /// and serial and inserting range by range cost about a tenth of the matching bench.
    /// `shrink` gives the log's memory back down to `LOGGED_CAPACITY_KEPT` (see `merge_log`).
    #[inline(never)]
    fn merge_logged(&mut self, shrink: bool) {
        let AccountHoldings::Sorted { holdings, .. } = &mut self.held else {
            unreachable!("only an account in the sorted vectors logs credits");
        };
        // On the stack: an account that both buys and sells merges a short log on each of its
        // sells and fills, and three allocations per merge would be most of its cost.
        let mut starts = [0usize; SORTED_HOLDINGS_MAX + 1];
        for &(k, _) in &self.logged {
            starts[k as usize + 1] += 1;
        }
        for k in 1..=holdings.len() {
            starts[k] += starts[k - 1];
        }
        let mut next = starts;
        let mut grouped = vec![SerialRange::new(0, 0).expect("one serial"); self.logged.len()];
        for &(k, range) in &self.logged {
            grouped[next[k as usize]] = range;
            next[k as usize] += 1;
        }
        for (k, holding) in holdings.iter_mut().enumerate() {
            let group = &mut grouped[starts[k]..starts[k + 1]];
            if !group.is_empty() {
                group.sort_unstable_by_key(|r| r.first());
                holding.available.merge_disjoint_sorted(group);
            }
        }
        self.logged.clear();
        if shrink {
            self.logged.shrink_to(LOGGED_CAPACITY_KEPT);
        }
    }

    /// The ranges logged to the holding at `position` of the sorted vectors, in arrival order.
    fn logged_at(&self, position: usize) -> impl Iterator<Item = SerialRange> + '_ {
        self.logged.iter().filter(move |(k, _)| *k as usize == position).map(|(_, r)| *r)
    }

    /// The holding at `position` of the sorted vectors as a reader must see it: with the
    /// logged credits to it merged into a copy, or itself when there are none.
    fn view<'a>(&'a self, position: usize, holding: &'a Holding) -> Cow<'a, Holding> {
        let mut group: Vec<SerialRange> = self.logged_at(position).collect();
        if group.is_empty() {
            return Cow::Borrowed(holding);
        }
        group.sort_unstable_by_key(|r| r.first());
        let mut merged = holding.clone();
        merged.available.merge_disjoint_sorted(&group);
        Cow::Owned(merged)
    }

    /// Available tonnes of the holding of `issuance`, logged credits included, without merging
    /// them into a copy.
    fn available_tonnes(&self, issuance: IssuanceId) -> Option<u64> {
        match &self.held {
            AccountHoldings::Sorted { issuances, holdings } => {
                let k = issuances.binary_search(&issuance).ok()?;
                let tonnes =
                    self.logged_at(k).fold(holdings[k].available.quantity_tonnes(), |t, r| {
                        t.checked_add(r.quantity_tonnes()).expect("within one issuance")
                    });
                Some(tonnes)
            }
            AccountHoldings::Tree(m) => m.get(&issuance).map(|h| h.available.quantity_tonnes()),
        }
    }

    fn get(&self, issuance: IssuanceId) -> Option<Cow<'_, Holding>> {
        match &self.held {
            AccountHoldings::Sorted { issuances, holdings } => {
                let k = issuances.binary_search(&issuance).ok()?;
                Some(self.view(k, &holdings[k]))
            }
            AccountHoldings::Tree(m) => m.get(&issuance).map(Cow::Borrowed),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (IssuanceId, Cow<'_, Holding>)> {
        // Positions count in the sorted vectors; a tree's holdings have no log to look in.
        let logs = matches!(self.held, AccountHoldings::Sorted { .. });
        self.held.iter().enumerate().map(move |(k, (i, h))| match logs {
            true => (i, self.view(k, h)),
            false => (i, Cow::Borrowed(h)),
        })
    }

    /// Credits `serials` to the existing holding of `issuance`: through the log in the sorted
    /// vectors, in place in the tree. False, crediting nothing, when there is no such holding.
    fn credit_held(&mut self, issuance: IssuanceId, serials: SetRef<'_>) -> bool {
        let k = match &mut self.held {
            AccountHoldings::Sorted { issuances, .. } => match issuances.binary_search(&issuance) {
                Ok(k) => u32::try_from(k).expect("bounded by SORTED_HOLDINGS_MAX"),
                Err(_) => return false,
            },
            AccountHoldings::Tree(m) => {
                let Some(holding) = m.get_mut(&issuance) else {
                    return false;
                };
                holding.available.union_disjoint_ref(serials).expect(OVERLAP);
                return true;
            }
        };
        // A serial in two places would surface only at the next merge, far from its cause;
        // tests check at the credit, where the old in-place insert refused it.
        debug_assert!(
            serials.ranges().all(|r| {
                let AccountHoldings::Sorted { holdings, .. } = &self.held else { return true };
                let clear = |(p, l): &(u32, SerialRange)| *p != k || !l.overlaps(r);
                !holdings[k as usize].available.intersects(r) && self.logged.iter().all(clear)
            }),
            "{OVERLAP}"
        );
        self.logged.extend(serials.ranges().map(|r| (k, r)));
        if self.logged.len() >= CREDITS_LOGGED_MAX {
            self.merge_logged(false);
        }
        true
    }

    /// The log's own invariants, checked without merging (a merge of a broken log panics):
    /// only an account in the sorted vectors logs, every position names a holding, and the
    /// logged ranges of each holding are disjoint from it and from each other.
    fn log_consistent(&self) -> Result<(), String> {
        if self.logged.is_empty() {
            return Ok(());
        }
        let AccountHoldings::Sorted { holdings, .. } = &self.held else {
            return Err("an account in the tree has logged credits".into());
        };
        let mut logged = self.logged.clone();
        logged.sort_unstable_by_key(|(k, r)| (*k, r.first()));
        for (n, &(k, range)) in logged.iter().enumerate() {
            let Some(holding) = holdings.get(k as usize) else {
                return Err(format!("a logged credit names holding {k} of {}", holdings.len()));
            };
            let overlaps_next =
                logged.get(n + 1).is_some_and(|&(k2, r2)| k2 == k && r2.overlaps(range));
            if holding.available.intersects(range) || overlaps_next {
                return Err(format!("logged serials {range} are held twice"));
            }
        }
        Ok(())
    }
}

/// Holdings by account and issuance; see the module comment.
#[derive(Clone, Default)]
pub(crate) struct Holdings {
    accounts: DenseMap<AccountId, AccountEntry>,
    len: usize,
}

impl Holdings {
    /// The holding as readers see it (with logged credits merged; see the module comment).
    pub fn get(&self, key: &(AccountId, IssuanceId)) -> Option<Cow<'_, Holding>> {
        self.accounts.get(&key.0).and_then(|e| e.get(key.1))
    }

    /// The holding, with the account's logged credits merged first.
    pub fn get_mut(&mut self, key: &(AccountId, IssuanceId)) -> Option<&mut Holding> {
        let entry = self.accounts.get_mut(&key.0)?;
        entry.merge_log();
        entry.held.get_mut(key.1)
    }

    /// The holding, created empty if there is none, with the account's logged credits merged
    /// first; says whether it was created.
    pub fn or_default(&mut self, key: (AccountId, IssuanceId)) -> (&mut Holding, bool) {
        let entry = self.accounts.get_or_insert_with(key.0, AccountEntry::default);
        entry.merge_log();
        let (holding, created) = entry.held.or_default(key.1);
        if created {
            self.len += 1;
        }
        (holding, created)
    }

    /// Removes the holding, with the account's logged credits merged first.
    pub fn remove(&mut self, key: &(AccountId, IssuanceId)) -> Option<Holding> {
        let entry = self.accounts.get_mut(&key.0)?;
        entry.merge_log();
        let removed = entry.held.remove(key.1);
        if removed.is_some() {
            self.len -= 1;
        }
        removed
    }

    /// Credits `serials` (disjoint from everything the account holds) to the account's
    /// existing holding of the issuance, through the account's log where it keeps one.
    /// Returns false, crediting nothing, when there is no such holding: the caller creates it
    /// (`State::holding_entry`, which keeps the class index) and credits it directly.
    pub fn credit_held(&mut self, key: (AccountId, IssuanceId), serials: SetRef<'_>) -> bool {
        self.accounts.get_mut(&key.0).is_some_and(|entry| entry.credit_held(key.1, serials))
    }

    /// Merges an account's logged credits into its holdings. Nothing a reader sees changes;
    /// a command about to read an account's holdings through `get` calls it first, so that it
    /// reads them in place rather than as merged copies (a debit of chosen serials does).
    pub fn merge_log(&mut self, account: AccountId) {
        if let Some(entry) = self.accounts.get_mut(&account) {
            entry.merge_log();
        }
    }

    /// Available tonnes of a holding, logged credits included, without a merged copy.
    pub fn available_tonnes(&self, key: &(AccountId, IssuanceId)) -> Option<u64> {
        self.accounts.get(&key.0).and_then(|e| e.available_tonnes(key.1))
    }

    /// Merges every account's logged credits into its holdings; nothing a reader sees changes.
    /// For a holder of a `&mut State` about to read many holdings (a read model's diff), which
    /// then reads them in place instead of as merged copies.
    pub fn merge_logs(&mut self) {
        for entry in self.accounts.values_mut() {
            entry.merge_log();
        }
    }

    /// The log's invariants for every account (see `AccountEntry::log_consistent`).
    pub fn logs_consistent(&self) -> Result<(), String> {
        for (account, entry) in self.accounts.iter() {
            entry.log_consistent().map_err(|e| format!("account {account}: {e}"))?;
        }
        Ok(())
    }

    /// The keys of every holding in `(account, issuance)` order, with no merged copies.
    pub fn keys(&self) -> impl Iterator<Item = (AccountId, IssuanceId)> {
        self.accounts.iter().flat_map(|(a, e)| e.held.iter().map(move |(i, _)| (*a, i)))
    }

    /// Every holding of one issuance in account order, as readers see them: only those
    /// holdings are merged into copies, where filtering `iter` merged every holding first.
    pub fn of_issuance(
        &self,
        issuance: IssuanceId,
    ) -> impl Iterator<Item = (AccountId, Cow<'_, Holding>)> {
        self.accounts.iter().filter_map(move |(a, e)| e.get(issuance).map(|h| (*a, h)))
    }

    /// Holdings in `(account, issuance)` order, as readers see them.
    pub fn iter(&self) -> impl Iterator<Item = ((AccountId, IssuanceId), Cow<'_, Holding>)> {
        self.accounts.iter().flat_map(|(a, e)| e.iter().map(move |(i, h)| ((*a, i), h)))
    }

    /// One account's holdings in issuance order, as readers see them.
    pub fn of_account(
        &self,
        account: AccountId,
    ) -> impl Iterator<Item = (IssuanceId, Cow<'_, Holding>)> {
        self.accounts.get(&account).into_iter().flat_map(AccountEntry::iter)
    }
}

flat_entries_impls!(Holdings);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serial::RangeSet;
    use proptest::prelude::*;

    type Model = BTreeMap<(AccountId, IssuanceId), Holding>;

    #[derive(Clone, Debug)]
    enum HoldingOp {
        /// Credits one serial through `or_default` (creating the holding if need be).
        Credit(u64, u64, u64),
        /// Credits through the log a delivery of one to three ranges: a run of serials from the
        /// first, then single serials two apart (a fragmented delivery logs each range).
        Logged(u64, u64, u64, u64, u64),
        /// Takes the lowest serial of a holding through `get_mut`.
        Take(u64, u64),
        Remove(u64, u64),
    }

    /// Operations on `accounts` accounts and `issuances` issuances, each kind with its weight.
    fn ops_over(
        accounts: u64,
        issuances: u64,
        (credit, logged): (u32, u32),
    ) -> impl Strategy<Value = HoldingOp> {
        let key = (0..accounts, 0..issuances);
        prop_oneof![
            credit => (key.clone(), 1u64..1_000).prop_map(|((a, i), s)| HoldingOp::Credit(a, i, s)),
            logged => (key.clone(), 1u64..1_000, 0u64..3, 1u64..4)
                .prop_map(|((a, i), s, n, r)| HoldingOp::Logged(a, i, s, n, r)),
            1 => key.clone().prop_map(|(a, i)| HoldingOp::Take(a, i)),
            1 => key.prop_map(|(a, i)| HoldingOp::Remove(a, i)),
        ]
    }

    fn holding_op() -> impl Strategy<Value = HoldingOp> {
        ops_over(30, 20, (2, 3))
    }

    /// Few accounts and many issuances, so that accounts outgrow the sorted vectors and move
    /// into the tree (`SORTED_HOLDINGS_MAX`) midway, and their logs fill up often.
    fn crowded_holding_op() -> impl Strategy<Value = HoldingOp> {
        ops_over(3, 150, (4, 4))
    }

    /// Applies one operation to both; the model is the plain map of merged holdings.
    fn apply(
        holdings: &mut Holdings,
        model: &mut Model,
        op: HoldingOp,
    ) -> Result<(), TestCaseError> {
        match op {
            HoldingOp::Credit(a, i, serial) => {
                let key = (AccountId(a), IssuanceId(i));
                let one = SerialRange::new(serial, serial).expect("one");
                let created = !model.contains_key(&key);
                let (h, new) = holdings.or_default(key);
                prop_assert_eq!(new, created);
                let _ = h.available.insert(one);
                let _ = model.entry(key).or_default().available.insert(one);
            }
            HoldingOp::Logged(a, i, first, extra, count) => {
                let key = (AccountId(a), IssuanceId(i));
                let run = SerialRange::new(first, first + extra).expect("ordered");
                let mut delivery = RangeSet::from_range(run);
                for n in 1..count {
                    let one = first + extra + 2 * n;
                    delivery.insert(SerialRange::new(one, one).expect("one")).expect("apart");
                }
                // The engine delivers only serials nobody holds: skip what overlaps the holding.
                if model
                    .get(&key)
                    .is_some_and(|h| delivery.ranges().any(|r| h.available.intersects(r)))
                {
                    return Ok(());
                }
                let logged = holdings.credit_held(key, SetRef::Set(&delivery));
                prop_assert_eq!(logged, model.contains_key(&key), "credited only where held");
                if let Some(h) = model.get_mut(&key) {
                    h.available.union_disjoint(&delivery).expect("checked disjoint");
                }
            }
            HoldingOp::Take(a, i) => {
                let key = (AccountId(a), IssuanceId(i));
                let mine = holdings.get_mut(&key).map(|h| h.available.take_lowest(1).ok());
                let theirs = model.get_mut(&key).map(|h| h.available.take_lowest(1).ok());
                prop_assert_eq!(mine, theirs);
            }
            HoldingOp::Remove(a, i) => {
                let key = (AccountId(a), IssuanceId(i));
                prop_assert_eq!(holdings.remove(&key), model.remove(&key));
            }
        }
        Ok(())
    }

    /// Every way of reading `holdings` shows exactly the model.
    fn check_reads(holdings: &Holdings, model: &Model) -> Result<(), TestCaseError> {
        prop_assert_eq!(holdings.len, model.len());
        prop_assert!(holdings.iter().eq(model.iter().map(|(k, v)| (*k, Cow::Borrowed(v)))));
        for a in 0..30 {
            let mine = holdings.of_account(AccountId(a));
            let theirs = model
                .iter()
                .filter(|((x, _), _)| x.0 == a)
                .map(|((_, i), h)| (*i, Cow::Borrowed(h)));
            prop_assert!(mine.eq(theirs));
        }
        for (k, v) in model {
            let mine = holdings.get(k);
            prop_assert_eq!(mine.as_deref(), Some(v));
            prop_assert_eq!(holdings.available_tonnes(k), Some(v.available.quantity_tonnes()));
        }
        prop_assert!(holdings.keys().eq(model.keys().copied()));
        // Every issuance held, and one nobody holds.
        let held: std::collections::BTreeSet<u64> = model.keys().map(|(_, i)| i.0).collect();
        for i in held.into_iter().chain([u64::MAX]) {
            let mine = holdings.of_issuance(IssuanceId(i));
            let theirs = model
                .iter()
                .filter(|((_, x), _)| x.0 == i)
                .map(|((a, _), h)| (*a, Cow::Borrowed(h)));
            prop_assert!(mine.eq(theirs));
        }
        prop_assert_eq!(holdings.logs_consistent(), Ok(()));
        Ok(())
    }

    proptest! {
        /// `Holdings` keeps, finds, iterates (per account too) and encodes exactly what the
        /// `BTreeMap<(AccountId, IssuanceId), Holding>` model does, in both representations of
        /// an account's holdings and whatever its log holds: credits through the log show at
        /// once, survive the account's own changes and merges, and encode merged.
        #[test]
        fn holdings_are_a_btree_map(ops in prop_oneof![
            proptest::collection::vec(holding_op(), 0..200),
            proptest::collection::vec(crowded_holding_op(), 0..600),
        ]) {
            let mut holdings = Holdings::default();
            let mut model = Model::new();
            for op in ops {
                apply(&mut holdings, &mut model, op)?;
                check_reads(&holdings, &model)?;
            }
            let bytes = postcard::to_stdvec(&holdings).expect("encodes");
            prop_assert_eq!(&bytes, &postcard::to_stdvec(&model).expect("encodes"));
            // A copy with every log merged equals the original, whose logs are not.
            let mut merged = holdings.clone();
            merged.merge_logs();
            prop_assert!(merged.accounts.iter().all(|(_, e)| e.logged.is_empty()));
            prop_assert_eq!(&merged, &holdings);
            prop_assert_eq!(postcard::to_stdvec(&merged).expect("encodes"), bytes);
        }
    }

    /// Credits through the log leave the holding untouched until the log reaches its bound,
    /// and then land in it; a reader sees them all along.
    #[test]
    fn logged_credits_merge_at_the_bound() {
        let mut holdings = Holdings::default();
        let key = (AccountId(1), IssuanceId(2));
        let one = |s: u64| RangeSet::from_range(SerialRange::new(s, s).expect("one"));
        assert!(!holdings.credit_held(key, SetRef::Set(&one(1))), "no holding yet: nothing logged");
        holdings.or_default(key).0.available = one(1);
        // Every other serial, so that no two credits join into one range.
        let serials: Vec<u64> = (1..=CREDITS_LOGGED_MAX as u64).map(|k| 1 + 2 * k).collect();
        for (n, s) in serials.iter().enumerate() {
            assert!(holdings.credit_held(key, SetRef::Set(&one(*s))));
            let entry = holdings.accounts.get(&key.0).expect("account");
            let (_, held) = entry.held.iter().find(|(i, _)| *i == key.1).expect("held");
            let in_place = held.available.range_count();
            let seen = holdings.get(&key).expect("held").available.range_count();
            assert_eq!(seen, n + 2, "a reader sees every credit");
            if n + 1 < CREDITS_LOGGED_MAX {
                assert_eq!((in_place, entry.logged.len()), (1, n + 1), "held back in the log");
            } else {
                assert_eq!((in_place, entry.logged.len()), (n + 2, 0), "merged at the bound");
            }
        }
    }

    /// A log merged because it filled keeps its capacity for the next credits; one merged
    /// because the account was accessed gives the memory back down to `LOGGED_CAPACITY_KEPT`.
    #[test]
    fn a_log_merged_on_access_gives_its_memory_back() {
        let mut holdings = Holdings::default();
        let key = (AccountId(1), IssuanceId(2));
        let one = |s: u64| RangeSet::from_range(SerialRange::new(s, s).expect("one"));
        holdings.or_default(key).0.available = one(1);
        let capacity = |h: &Holdings| h.accounts.get(&key.0).expect("account").logged.capacity();
        for k in 1..=CREDITS_LOGGED_MAX as u64 {
            assert!(holdings.credit_held(key, SetRef::Set(&one(1 + 2 * k))));
        }
        assert!(capacity(&holdings) >= CREDITS_LOGGED_MAX, "kept after merging a full log");
        for k in 1..CREDITS_LOGGED_MAX as u64 {
            assert!(
                holdings
                    .credit_held(key, SetRef::Set(&one(1 + 2 * (CREDITS_LOGGED_MAX as u64 + k))))
            );
        }
        assert!(holdings.get_mut(&key).is_some());
        assert_eq!(holdings.accounts.get(&key.0).expect("account").logged.len(), 0, "merged");
        assert!(capacity(&holdings) <= LOGGED_CAPACITY_KEPT, "{}", capacity(&holdings));
        assert_eq!(
            holdings.get(&key).expect("held").available.range_count(),
            2 * CREDITS_LOGGED_MAX
        );
    }

    /// A log that names a holding the account does not have, or serials it holds already, is
    /// reported by the check the audit runs, not met first by a merge that panics.
    #[test]
    fn a_broken_log_is_reported_without_merging() {
        let mut holdings = Holdings::default();
        let key = (AccountId(1), IssuanceId(2));
        holdings.or_default(key).0.available =
            RangeSet::from_range(SerialRange::new(1, 5).expect("ok"));
        let held_twice = (0, SerialRange::new(5, 6).expect("ok"));
        let no_holding = (1, SerialRange::new(9, 9).expect("ok"));
        for broken in [held_twice, no_holding] {
            let mut h = holdings.clone();
            h.accounts.get_mut(&key.0).expect("account").logged.push(broken);
            assert!(h.logs_consistent().is_err(), "{broken:?}");
        }
        assert_eq!(holdings.logs_consistent(), Ok(()));
    }

    /// An account that outgrows the sorted vectors moves into the tree and keeps every holding
    /// where it was: found, iterated in issuance order and removed as before.
    #[test]
    fn an_account_past_the_sorted_bound_moves_into_the_tree() {
        let mut holdings = Holdings::default();
        let account = AccountId(7);
        let n = SORTED_HOLDINGS_MAX as u64 + 3;
        for i in (0..n).rev() {
            let (h, created) = holdings.or_default((account, IssuanceId(10 * i)));
            assert!(created);
            h.available.insert(SerialRange::new(i, i).expect("one")).expect("new");
        }
        let entry = holdings.accounts.get(&account).expect("account");
        assert!(matches!(entry.held, AccountHoldings::Tree(_)));
        assert_eq!(holdings.len, n as usize);
        let order: Vec<u64> = holdings.of_account(account).map(|(i, _)| i.0).collect();
        assert_eq!(order, (0..n).map(|i| 10 * i).collect::<Vec<_>>());
        assert!(!holdings.or_default((account, IssuanceId(30))).1, "found, not created");
        assert_eq!(
            holdings.get(&(account, IssuanceId(30))).map(|h| h.available.quantity_tonnes()),
            Some(1)
        );
        assert!(holdings.remove(&(account, IssuanceId(30))).is_some());
        assert!(holdings.get(&(account, IssuanceId(30))).is_none());
        assert_eq!(holdings.len, n as usize - 1);
    }
}
