//! The ledger state and its read-only queries. Mutation happens only in `engine.rs`.

use crate::dense::{CashBook, DenseMap};
use crate::exchange::{ExchangeState, Instrument, InstrumentId, Order, OrderId};
use crate::holdings::Holdings;
use crate::ids::{AccountId, CancellationId, IssuanceId, OrgId, ProjectId, RetirementId};
use crate::model::{
    Account, Balance, Cancellation, Holding, Issuance, Organization, Program, Project, Retirement,
};
use crate::money::Currency;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
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
#[serde(try_from = "StateWire")]
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

/// `State` as it is decoded: the same fields in the same order (so the same bytes), with cash
/// and holdings as the plain maps they encode as, and the exchange in its encoded form (its
/// open orders are indexed by account too). Their dense indexes are built only after every
/// account they name is known to exist: a ledger may have any number of accounts without
/// cash or holdings before one with, so the accounts map, not the entries decoded so far, is
/// what bounds the index (and a corrupt snapshot cannot make decoding allocate up to an
/// arbitrary account id).
#[derive(Deserialize)]
struct StateWire {
    last_seq: u64,
    last_time_ms: i64,
    next: NextIds,
    next_serial: u64,
    fee_account: Option<AccountId>,
    buffer_account: Option<AccountId>,
    orgs: DenseMap<OrgId, Organization>,
    org_names: BTreeMap<String, OrgId>,
    accounts: DenseMap<AccountId, Account>,
    projects: BTreeMap<ProjectId, Project>,
    project_keys: BTreeMap<(Program, String), ProjectId>,
    issuances: BTreeMap<IssuanceId, Issuance>,
    issuance_refs: BTreeMap<String, IssuanceId>,
    blocks: BTreeMap<u64, IssuanceId>,
    holdings: BTreeMap<(AccountId, IssuanceId), Holding>,
    retirements: BTreeMap<RetirementId, Retirement>,
    cancellations: BTreeMap<CancellationId, Cancellation>,
    cash: BTreeMap<(AccountId, Currency), Balance>,
    cash_in_minor: BTreeMap<Currency, i128>,
    classes: BTreeMap<(ProjectId, u16), Vec<IssuanceId>>,
    exchange: crate::exchange::ExchangeWire,
    auctions: crate::exchange::auction::AuctionState,
    baskets: crate::exchange::basket::BasketState,
}

impl TryFrom<StateWire> for State {
    type Error = String;

    fn try_from(w: StateWire) -> Result<Self, String> {
        let unknown = |a: &AccountId| !w.accounts.contains_key(a);
        if w.cash.keys().any(|(a, _)| unknown(a)) || w.holdings.keys().any(|(a, _)| unknown(a)) {
            return Err("cash or holdings of an account that does not exist".into());
        }
        let mut cash = CashBook::default();
        for (key, balance) in w.cash {
            *cash.or_default(key) = balance;
        }
        let mut holdings = Holdings::default();
        for (key, holding) in w.holdings {
            *holdings.or_default(key).0 = holding;
        }
        let exchange = ExchangeState::from_wire(w.exchange, |a| w.accounts.contains_key(&a))?;
        Ok(Self {
            last_seq: w.last_seq,
            last_time_ms: w.last_time_ms,
            next: w.next,
            next_serial: w.next_serial,
            fee_account: w.fee_account,
            buffer_account: w.buffer_account,
            orgs: w.orgs,
            org_names: w.org_names,
            accounts: w.accounts,
            projects: w.projects,
            project_keys: w.project_keys,
            issuances: w.issuances,
            issuance_refs: w.issuance_refs,
            blocks: w.blocks,
            holdings,
            // Derived: `codec::decode_state` rebuilds it.
            held_classes: Default::default(),
            retirements: w.retirements,
            cancellations: w.cancellations,
            cash,
            cash_in_minor: w.cash_in_minor,
            classes: w.classes,
            exchange,
            auctions: w.auctions,
            baskets: w.baskets,
        })
    }
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

    /// The holding as it is, lent in place or, when credits to it are still in its account's
    /// log (`holdings.rs`), as a merged copy.
    pub fn holding(&self, account: AccountId, issuance: IssuanceId) -> Option<Cow<'_, Holding>> {
        self.holdings.get(&(account, issuance))
    }

    /// One account's holdings in issuance order (lent as `holding` lends them).
    pub fn holdings_of(
        &self,
        account: AccountId,
    ) -> impl Iterator<Item = (IssuanceId, Cow<'_, Holding>)> {
        self.holdings.of_account(account)
    }

    /// Every holding of one issuance, in account order (lent as `holding` lends them). Cheaper
    /// than filtering `holdings`, which lends every holding before the filter sees it.
    pub fn holdings_of_issuance(
        &self,
        issuance: IssuanceId,
    ) -> impl Iterator<Item = (AccountId, Cow<'_, Holding>)> {
        self.holdings.of_issuance(issuance)
    }

    /// Merges every account's credit log into its holdings (`holdings.rs`). Nothing any reader
    /// sees changes; a caller about to read many holdings (a read model's diff) then reads them
    /// in place rather than as merged copies.
    pub fn merge_credit_logs(&mut self) {
        self.holdings.merge_logs();
    }

    /// Every holding in `(account, issuance)` order (lent as `holding` lends them).
    pub fn holdings(&self) -> impl Iterator<Item = (AccountId, IssuanceId, Cow<'_, Holding>)> {
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

    /// Trades made on every instrument since genesis (trade ids are numbered from 1).
    pub fn trades_made(&self) -> u64 {
        self.exchange.next_trade.saturating_sub(1)
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

    /// Where a serial is now. Linear in the issuance's holders and retirements, and for a
    /// reserved serial in the open orders, auction lots and basket deposits that may keep it;
    /// meant for look-ups by people, not for hot paths.
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
        for (account, h) in self.holdings.of_issuance(id) {
            if h.available.contains(one) {
                return SerialLocation::Held { issuance: id, account, reserved: false };
            }
        }
        // Not available anywhere, so reserved: its owner (an order, lot or deposit) knows by
        // whom.
        let account = self
            .reserved_serials_of_issuance(id)
            .into_iter()
            .find(|(_, set)| set.contains(one))
            .map(|(account, _)| account)
            .expect("audit: every issued serial is held, retired or cancelled");
        SerialLocation::Held { issuance: id, account, reserved: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_state, encode_state};
    use crate::model::AccountKind;

    fn with_accounts(n: u64) -> State {
        let mut state = State::new();
        for i in 1..=n {
            let account = Account {
                id: AccountId(i),
                org: OrgId(1),
                name: String::new(),
                kind: AccountKind::Holding,
            };
            state.accounts.insert(AccountId(i), account);
        }
        state
    }

    /// A state with `accounts` accounts and one listed instrument (id 1) of tick `tick_minor`,
    /// its book empty.
    fn with_instrument(accounts: u64, tick_minor: i64) -> State {
        use crate::exchange::{
            Book, FeeSchedule, Instrument, InstrumentSpec, InstrumentStatus, Underlying,
        };
        let mut state = with_accounts(accounts);
        let spec = InstrumentSpec {
            symbol: "X".into(),
            underlying: Underlying::ProjectVintage { project: ProjectId(1), vintage_year: 2024 },
            currency: Currency::Sar,
            tick_minor,
            lot_tonnes: 1,
            band_bps: 1_000,
            reference_price_minor: 100,
            fees: FeeSchedule { maker_bps: 0, taker_bps: 0, min_fee_minor: 0 },
        };
        let id = InstrumentId(1);
        let instrument = Instrument { id, spec, status: InstrumentStatus::Open };
        state.exchange.instruments.insert(id, instrument);
        state.exchange.books.insert(id, Book::default());
        state.exchange.next_instrument = 2;
        state
    }

    /// Regression: cash and holdings were decoded with the dense maps' gap rule, so a ledger
    /// whose first 65,537 or more accounts had no cash (or no holdings) could not be decoded
    /// from its own snapshot.
    #[test]
    fn a_snapshot_with_many_accounts_before_the_first_with_cash_decodes() {
        let mut state = with_accounts(70_000);
        let last = AccountId(70_000);
        *state.cash.or_default((last, Currency::Sar)) =
            Balance { available_minor: 5, reserved_minor: 0 };
        state.holdings.or_default((last, IssuanceId(1)));
        let decoded = decode_state(&encode_state(&state)).expect("decodes");
        assert_eq!(decoded.cash, state.cash);
        assert_eq!(decoded.holdings, state.holdings);
    }

    /// Cash or holdings of an account the snapshot does not have is refused (checked before
    /// any index is sized by that account's id).
    #[test]
    fn a_snapshot_with_cash_or_holdings_of_an_unknown_account_is_refused() {
        let mut state = with_accounts(3);
        *state.cash.or_default((AccountId(10), Currency::Usd)) = Balance::default();
        assert!(decode_state(&encode_state(&state)).is_err());
        let mut state = with_accounts(3);
        state.holdings.or_default((AccountId(4), IssuanceId(1)));
        assert!(decode_state(&encode_state(&state)).is_err());
    }

    /// A ledger with `accounts` accounts and one instrument, with one resting buy of
    /// account 3 under `id` and the exchange's next order id `next_order`, encoded as a
    /// snapshot (which the engine itself would never write unless both are right).
    fn snapshot_with_order(accounts: u64, id: u64, next_order: u64) -> Vec<u8> {
        use crate::exchange::{Order, OrderId, SelfTradePrevention, Side, TimeInForce};
        let mut state = with_instrument(accounts, 1);
        let order = Order {
            id: OrderId(id),
            instrument: InstrumentId(1),
            account: AccountId(3),
            org: OrgId(1),
            side: Side::Buy,
            price_minor: 100,
            quantity_tonnes: 5,
            remaining_tonnes: 5,
            time_in_force: TimeInForce::Gtc,
            post_only: false,
            self_trade: SelfTradePrevention::CancelResting,
            extras: None,
            created_at_ms: 0,
            reserved: crate::exchange::Reserved::Cash(500),
        };
        let ex = &mut state.exchange;
        let slot = ex.orders.insert(order);
        ex.books.get_mut(&InstrumentId(1)).expect("listed").push_back(&mut ex.orders, slot);
        ex.next_order = next_order;
        encode_state(&state)
    }

    /// Regression: the arena's per-account order lists are indexed by account id, so an order
    /// of an account that does not exist, with an id as large as a corrupt snapshot may hold,
    /// would have sized that index (and aborted the process). Decoding refuses it first.
    #[test]
    fn a_snapshot_with_an_order_of_an_unknown_account_is_refused() {
        // The two encodings differ only in whether account 3 exists.
        assert!(decode_state(&snapshot_with_order(3, 1, 2)).is_ok(), "the order's account exists");
        assert!(decode_state(&snapshot_with_order(2, 1, 2)).is_err(), "account 3 does not exist");
    }

    /// Regression (found before it shipped): the order index's window ended one past the
    /// newest id, which for an order id of 2^64 − 1 overflowed, a panic in release too, while
    /// decoding. The index now keeps that id with the older orders, and decoding refuses any
    /// order id the exchange had not issued yet.
    #[test]
    fn a_snapshot_with_an_order_id_not_yet_issued_is_refused_without_panicking() {
        assert!(decode_state(&snapshot_with_order(3, 7, 8)).is_ok());
        assert!(decode_state(&snapshot_with_order(3, 8, 8)).is_err(), "id 8 is the next one");
        assert!(decode_state(&snapshot_with_order(3, u64::MAX, u64::MAX)).is_err());
    }

    /// Regression: decoding derives each instrument's price band from its terms, and terms
    /// listing refuses (a zero tick) made that a division by zero, a panic instead of a
    /// decoding error.
    #[test]
    fn a_snapshot_with_an_instrument_of_invalid_terms_is_refused_without_panicking() {
        for (tick_minor, decodes) in [(1, true), (0, false)] {
            let state = with_instrument(0, tick_minor);
            assert_eq!(decode_state(&encode_state(&state)).is_ok(), decodes, "tick {tick_minor}");
        }
    }
}
