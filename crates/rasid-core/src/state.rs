//! The ledger state and its read-only queries. Mutation happens only in `engine.rs`.

use crate::dense::{CashBook, DenseMap, Holdings};
use crate::exchange::{ExchangeState, Instrument, InstrumentId, Order, OrderId};
use crate::ids::{AccountId, CancellationId, IssuanceId, OrgId, ProjectId, RetirementId};
use crate::model::{
    Account, Balance, Cancellation, Holding, Issuance, Organization, Program, Project, Retirement,
};
use crate::money::Currency;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Counters for the ids the engine assigns next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NextIds {
    pub org: u64,
    pub account: u64,
    pub project: u64,
    pub issuance: u64,
    pub retirement: u64,
    pub cancellation: u64,
}

impl Default for NextIds {
    fn default() -> Self {
        Self { org: 1, account: 1, project: 1, issuance: 1, retirement: 1, cancellation: 1 }
    }
}

/// The whole ledger. Every map is a `BTreeMap`, or a `DenseMap`/`CashBook` that iterates and
/// encodes like one (see `dense.rs`), so iteration order — and with it the snapshot bytes and
/// the state digest — is defined by the keys alone.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub(crate) last_seq: u64,
    pub(crate) last_time_ms: i64,
    pub(crate) next: NextIds,
    /// Lowest serial not yet allocated by automatic allocation.
    pub(crate) next_serial: u64,
    pub(crate) fee_account: Option<AccountId>,
    pub(crate) buffer_account: Option<AccountId>,
    pub(crate) orgs: DenseMap<OrgId, Organization>,
    pub(crate) org_names: BTreeMap<String, OrgId>,
    pub(crate) accounts: DenseMap<AccountId, Account>,
    pub(crate) projects: BTreeMap<ProjectId, Project>,
    pub(crate) project_keys: BTreeMap<(Program, String), ProjectId>,
    pub(crate) issuances: BTreeMap<IssuanceId, Issuance>,
    pub(crate) issuance_refs: BTreeMap<String, IssuanceId>,
    /// Issued blocks by first serial: overlap checks and "where is this serial".
    pub(crate) blocks: BTreeMap<u64, IssuanceId>,
    /// Non-empty holdings only, so equal ledgers have equal maps.
    pub(crate) holdings: Holdings,
    /// Each account's holdings by class, derived from `holdings` and `issuances`: never
    /// encoded, rebuilt by `codec::decode_state`, and changed only through `holding_entry` and
    /// `remove_holding` (see `held_classes.rs`).
    #[serde(skip)]
    pub(crate) held_classes: crate::held_classes::HeldClasses,
    pub(crate) retirements: BTreeMap<RetirementId, Retirement>,
    pub(crate) cancellations: BTreeMap<CancellationId, Cancellation>,
    pub(crate) cash: CashBook,
    /// Deposits minus withdrawals per currency: what all balances must add up to.
    pub(crate) cash_in_minor: BTreeMap<Currency, i128>,
    /// Issuances of each project and vintage year, in ascending serial order: what a
    /// project-vintage instrument delivers.
    pub(crate) classes: BTreeMap<(ProjectId, u16), Vec<IssuanceId>>,
    pub(crate) exchange: ExchangeState,
    pub(crate) auctions: crate::exchange::auction::AuctionState,
    pub(crate) baskets: crate::exchange::basket::BasketState,
}

/// Where one serial number is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SerialLocation {
    Held {
        issuance: IssuanceId,
        account: AccountId,
        reserved: bool,
    },
    Retired {
        issuance: IssuanceId,
        retirement: RetirementId,
    },
    Cancelled {
        issuance: IssuanceId,
        cancellation: CancellationId,
    },
    /// Inside no issued block.
    NotIssued,
}

impl State {
    pub fn new() -> Self {
        Self { next_serial: 1, ..Self::default() }
    }

    /// Sequence number of the last accepted command (0 for an empty ledger).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn last_time_ms(&self) -> i64 {
        self.last_time_ms
    }

    pub fn is_initialized(&self) -> bool {
        !self.orgs.is_empty()
    }

    /// The platform operator: the organization genesis created first (owner of the fee account).
    pub fn operator(&self) -> Option<OrgId> {
        self.fee_account.and_then(|a| self.accounts.get(&a)).map(|a| a.org)
    }

    /// The registry: the organization genesis created second (owner of the buffer pool).
    pub fn registrar(&self) -> Option<OrgId> {
        self.buffer_account.and_then(|a| self.accounts.get(&a)).map(|a| a.org)
    }

    pub fn fee_account(&self) -> Option<AccountId> {
        self.fee_account
    }

    pub fn buffer_account(&self) -> Option<AccountId> {
        self.buffer_account
    }

    pub fn organization(&self, id: OrgId) -> Option<&Organization> {
        self.orgs.get(&id)
    }

    pub fn organizations(&self) -> impl Iterator<Item = &Organization> {
        self.orgs.values()
    }

    pub fn organization_by_name(&self, name: &str) -> Option<&Organization> {
        self.org_names.get(name).and_then(|id| self.orgs.get(id))
    }

    pub fn account(&self, id: AccountId) -> Option<&Account> {
        self.accounts.get(&id)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    pub fn accounts_of(&self, org: OrgId) -> impl Iterator<Item = &Account> {
        self.accounts.values().filter(move |a| a.org == org)
    }

    pub fn project(&self, id: ProjectId) -> Option<&Project> {
        self.projects.get(&id)
    }

    pub fn projects(&self) -> impl Iterator<Item = &Project> {
        self.projects.values()
    }

    pub fn project_by_key(&self, program: Program, external_id: &str) -> Option<&Project> {
        // The key owns its String; a lookup by borrowed parts needs a temporary key.
        self.project_keys
            .get(&(program, external_id.to_owned()))
            .and_then(|id| self.projects.get(id))
    }

    pub fn issuance(&self, id: IssuanceId) -> Option<&Issuance> {
        self.issuances.get(&id)
    }

    pub fn issuances(&self) -> impl Iterator<Item = &Issuance> {
        self.issuances.values()
    }

    pub fn issuance_by_ref(&self, external_ref: &str) -> Option<&Issuance> {
        self.issuance_refs.get(external_ref).and_then(|id| self.issuances.get(id))
    }

    /// The holding of `account` in `issuance`, created empty if there is none. Every holding is
    /// created here, so the class index learns of it; the caller makes it non-empty before the
    /// command ends (the map keeps non-empty holdings only).
    pub(crate) fn holding_entry(
        &mut self,
        account: AccountId,
        issuance: IssuanceId,
    ) -> &mut Holding {
        let (holding, created) = self.holdings.or_default((account, issuance));
        if created {
            let iss = &self.issuances[&issuance];
            self.held_classes.add((account, iss.project, iss.vintage_year), issuance);
        }
        holding
    }

    /// Removes an emptied holding; every holding is removed here, so the class index forgets it.
    pub(crate) fn remove_holding(&mut self, account: AccountId, issuance: IssuanceId) {
        let removed = self.holdings.remove(&(account, issuance));
        assert!(removed.is_some_and(|h| h.is_empty()), "only an empty holding is removed");
        let iss = &self.issuances[&issuance];
        self.held_classes.remove((account, iss.project, iss.vintage_year), issuance);
    }

    /// Rebuilds the derived class index from the holdings, after decoding a snapshot.
    pub(crate) fn rebuild_derived(&mut self) {
        self.held_classes =
            crate::held_classes::HeldClasses::rebuild(&self.holdings, &self.issuances);
    }

    pub fn holding(&self, account: AccountId, issuance: IssuanceId) -> Option<&Holding> {
        self.holdings.get(&(account, issuance))
    }

    /// One account's holdings in issuance order.
    pub fn holdings_of(&self, account: AccountId) -> impl Iterator<Item = (IssuanceId, &Holding)> {
        self.holdings.of_account(account)
    }

    pub fn holdings(&self) -> impl Iterator<Item = (AccountId, IssuanceId, &Holding)> {
        self.holdings.iter().map(|((a, i), h)| (a, i, h))
    }

    pub fn retirement(&self, id: RetirementId) -> Option<&Retirement> {
        self.retirements.get(&id)
    }

    pub fn retirements(&self) -> impl DoubleEndedIterator<Item = &Retirement> {
        self.retirements.values()
    }

    pub fn cancellation(&self, id: CancellationId) -> Option<&Cancellation> {
        self.cancellations.get(&id)
    }

    pub fn cancellations(&self) -> impl Iterator<Item = &Cancellation> {
        self.cancellations.values()
    }

    pub fn balance(&self, account: AccountId, currency: Currency) -> Balance {
        self.cash.get(&(account, currency)).copied().unwrap_or_default()
    }

    /// One account's non-zero balances in currency order.
    pub fn balances_of(&self, account: AccountId) -> impl Iterator<Item = (Currency, Balance)> {
        Currency::ALL.into_iter().filter_map(move |c| self.cash.get(&(account, c)).map(|b| (c, *b)))
    }

    /// Issuances of one project and vintage year, in ascending serial order.
    pub fn class_issuances(&self, project: ProjectId, vintage_year: u16) -> &[IssuanceId] {
        self.classes.get(&(project, vintage_year)).map_or(&[], Vec::as_slice)
    }

    pub fn instrument(&self, id: InstrumentId) -> Option<&Instrument> {
        self.exchange.instruments.get(&id)
    }

    pub fn instruments(&self) -> impl Iterator<Item = &Instrument> {
        self.exchange.instruments.values()
    }

    pub fn instrument_by_symbol(&self, symbol: &str) -> Option<&Instrument> {
        self.exchange.symbols.get(symbol).and_then(|id| self.exchange.instruments.get(id))
    }

    pub fn book(&self, id: InstrumentId) -> Option<&crate::exchange::Book> {
        self.exchange.books.get(&id)
    }

    pub fn order(&self, id: OrderId) -> Option<&Order> {
        self.exchange.orders.get(id)
    }

    /// One account's open orders, oldest first.
    pub fn orders_of(&self, account: AccountId) -> impl Iterator<Item = &Order> {
        self.exchange.orders.of_account(account).into_iter()
    }

    /// Trades executed since genesis (trade ids are assigned in sequence from 1).
    pub fn trades_count(&self) -> u64 {
        self.exchange.next_trade.saturating_sub(1)
    }

    /// The earliest GTD expiry among open orders: the sequencer submits `ExpireOrders` once
    /// time reaches it.
    pub fn next_expiry_ms(&self) -> Option<i64> {
        self.exchange.expiries.first().map(|(t, _)| *t)
    }

    /// The issuance whose block contains `serial`, if any.
    pub fn issuance_of_serial(&self, serial: u64) -> Option<&Issuance> {
        let (_, id) = self.blocks.range(..=serial).next_back()?;
        let issuance = &self.issuances[id];
        (issuance.block.first() <= serial && serial <= issuance.block.last()).then_some(issuance)
    }

    /// Where a serial is now. Linear in the issuance's holders and retirements; meant for
    /// look-ups by people, not for hot paths.
    pub fn locate_serial(&self, serial: u64) -> SerialLocation {
        let Some(issuance) = self.issuance_of_serial(serial) else {
            return SerialLocation::NotIssued;
        };
        let one = crate::serial::SerialRange::new(serial, serial).expect("one serial");
        let id = issuance.id;
        if issuance.retired.contains(one) {
            let retirement = self
                .retirements
                .values()
                .find(|r| r.issuance == id && r.serials.contains(one))
                .map(|r| r.id)
                .expect("audit: every retired serial belongs to one retirement record");
            return SerialLocation::Retired { issuance: id, retirement };
        }
        if issuance.cancelled.contains(one) {
            let cancellation = self
                .cancellations
                .values()
                .find(|c| c.issuance == id && c.serials.contains(one))
                .map(|c| c.id)
                .expect("audit: every cancelled serial belongs to one cancellation record");
            return SerialLocation::Cancelled { issuance: id, cancellation };
        }
        for ((account, _), h) in self.holdings.iter().filter(|((_, i), _)| *i == id) {
            if h.available.contains(one) || h.reserved.contains(one) {
                return SerialLocation::Held {
                    issuance: id,
                    account,
                    reserved: h.reserved.contains(one),
                };
            }
        }
        unreachable!("audit: every issued serial is held, retired or cancelled")
    }
}
