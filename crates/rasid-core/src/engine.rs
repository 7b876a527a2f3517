//! `execute`: the one function that changes the ledger.
//!
//! Each handler first checks everything that can fail, then applies changes that cannot fail.
//! That ordering is what makes "a rejected command changes nothing" hold without copying state;
//! the property tests check it by comparing state digests around every rejection.

use crate::command::{Command, Envelope, Selection};
use crate::event::{Event, Events};
use crate::ids::{AccountId, CancellationId, IssuanceId, OrgId, ProjectId, RetirementId};
use crate::model::{
    Account, AccountKind, Cancellation, Holding, Issuance, Labels, Organization, ProjectInfo,
    Retirement, RetirementDetails, Role,
};
use crate::money::Currency;
use crate::rejection::Rejection;
use crate::serial::{RangeSet, SERIAL_MAX, SerialRange};
use crate::state::State;

/// Longest accepted name (organizations, accounts, projects, beneficiaries). Real project names
/// run past 200 characters, so the limit leaves room.
pub const NAME_LEN_MAX: usize = 400;
/// Longest accepted free text (notes, reasons, methodologies).
pub const TEXT_LEN_MAX: usize = 2_000;
/// Most ranges one selection may name: bounds the work a single command can ask for.
pub const SELECTION_RANGES_MAX: usize = 1_024;
pub const VINTAGE_YEAR_MIN: u16 = 1990;
pub const VINTAGE_YEAR_MAX: u16 = 2100;

type Outcome = Result<Vec<Event>, Rejection>;

impl State {
    /// Executes one sequenced command. On `Ok` the state has advanced to `envelope.seq`; on `Err`
    /// it is exactly as before.
    ///
    /// # Panics
    /// When the envelope is out of sequence or goes back in time: the sequencer guarantees both,
    /// so either means the caller is broken, and going on would corrupt the ledger.
    pub fn execute(&mut self, envelope: &Envelope) -> Outcome {
        let mut events = Events::new();
        self.execute_into(envelope, &mut events)?;
        Ok(events.into_vec())
    }

    /// `execute`, appending the command's events to `events`, which a caller that drops them
    /// after each command (replay, the matching benchmark) reuses: a fresh list cost an
    /// allocation and a free on every command. On `Err` nothing is appended.
    ///
    /// # Panics
    /// As `execute`.
    pub fn execute_into(
        &mut self,
        envelope: &Envelope,
        events: &mut Events,
    ) -> Result<(), Rejection> {
        assert_eq!(envelope.seq, self.last_seq + 1, "commands must arrive in sequence");
        assert!(envelope.time_ms >= self.last_time_ms, "time must not go backwards");
        let events_before = events.len();
        let result = self.dispatch_into(envelope, events);
        // Handlers check everything before they change anything, events included.
        assert!(result.is_ok() || events.len() == events_before, "a rejection emits no events");
        result?;
        self.last_seq = envelope.seq;
        self.last_time_ms = envelope.time_ms;
        Ok(())
    }

    /// The order path writes straight into the caller's list; every other command returns its
    /// own, which is rare enough that appending it costs nothing that matters.
    fn dispatch_into(&mut self, env: &Envelope, events: &mut Events) -> Result<(), Rejection> {
        match &env.command {
            Command::PlaceOrder { order } => {
                let (actor, _) = self.actor(env)?;
                self.place_order(actor, order, env, events)
            }
            Command::CancelOrder { order } => {
                let (actor, _) = self.actor(env)?;
                self.cancel_order(actor, *order, events)
            }
            _ => {
                events.append(self.dispatch(env)?);
                Ok(())
            }
        }
    }

    /// The acting organization and its role, once the ledger has its genesis.
    fn actor(&self, env: &Envelope) -> Result<(OrgId, Role), Rejection> {
        if !self.is_initialized() {
            return Err(Rejection::NotInitialized);
        }
        self.orgs.get(&env.actor).map(|o| (o.id, o.role)).ok_or(Rejection::Unauthorized)
    }

    fn dispatch(&mut self, env: &Envelope) -> Outcome {
        if let Command::Genesis { operator_name, registrar_name } = &env.command {
            return self.genesis(operator_name, registrar_name);
        }
        let actor = self.actor(env)?;
        match &env.command {
            Command::Genesis { .. } => unreachable!("handled above"),
            Command::CreateOrganization { name, role } => {
                self.require_role(actor, Role::Operator)?;
                self.create_organization(name, *role)
            }
            Command::OpenAccount { org, name } => {
                self.require_role(actor, Role::Operator)?;
                self.open_account(*org, name)
            }
            Command::RegisterProject { info } => {
                self.require_role(actor, Role::Registrar)?;
                self.register_project(info)
            }
            Command::Issue {
                project,
                vintage_year,
                quantity_tonnes,
                buffer_tonnes,
                to_account,
                first_serial,
                external_ref,
            } => {
                self.require_role(actor, Role::Registrar)?;
                let spec = IssueSpec {
                    project: *project,
                    vintage_year: *vintage_year,
                    quantity_tonnes: *quantity_tonnes,
                    buffer_tonnes: *buffer_tonnes,
                    to_account: *to_account,
                    first_serial: *first_serial,
                    external_ref: external_ref.as_deref(),
                };
                self.issue(&spec, env.time_ms)
            }
            Command::SetLabels { issuance, labels } => {
                self.require_role(actor, Role::Registrar)?;
                self.set_labels(*issuance, labels)
            }
            Command::Transfer { from, to, issuance, selection } => {
                self.require_owner(actor, *from)?;
                self.transfer(*from, *to, *issuance, selection)
            }
            Command::Retire { account, issuance, selection, details } => {
                self.require_owner(actor, *account)?;
                self.retire(*account, *issuance, selection, details, env)
            }
            Command::Cancel { account, issuance, selection, reason } => {
                if actor.1 != Role::Registrar {
                    self.require_owner(actor, *account)?;
                }
                self.cancel(*account, *issuance, selection, reason, env)
            }
            Command::DepositCash { account, currency, amount_minor } => {
                self.require_role(actor, Role::Operator)?;
                self.deposit_cash(*account, *currency, *amount_minor)
            }
            Command::WithdrawCash { account, currency, amount_minor } => {
                self.require_role(actor, Role::Operator)?;
                self.withdraw_cash(*account, *currency, *amount_minor)
            }
            Command::TransferCash { from, to, currency, amount_minor } => {
                self.require_owner(actor, *from)?;
                self.transfer_cash(*from, *to, *currency, *amount_minor)
            }
            Command::ListInstrument { spec } => {
                self.require_role(actor, Role::Operator)?;
                self.list_instrument(spec)
            }
            Command::SetInstrumentStatus { instrument, status } => {
                self.require_role(actor, Role::Operator)?;
                self.set_instrument_status(*instrument, *status)
            }
            Command::SetReferencePrice { instrument, price_minor } => {
                self.require_role(actor, Role::Operator)?;
                self.set_reference_price(*instrument, *price_minor)
            }
            Command::PlaceOrder { .. } | Command::CancelOrder { .. } => {
                unreachable!("dispatch_into handles the order path")
            }
            Command::AmendOrder { order, remaining_tonnes, price_minor } => {
                self.amend_order(actor.0, *order, *remaining_tonnes, *price_minor, env)
            }
            Command::CancelAllOrders { account, instrument } => {
                self.cancel_all_orders(actor, *account, *instrument)
            }
            Command::CloseSession { instrument } => {
                self.require_role(actor, Role::Operator)?;
                self.close_session(*instrument)
            }
            Command::ExpireOrders => self.expire_orders(env.time_ms),
            Command::CreateAuction { spec } => {
                self.require_role(actor, Role::Operator)?;
                self.create_auction(spec, env)
            }
            Command::PlaceBid { auction, lot, account, price_minor, quantity_tonnes } => {
                let terms = crate::exchange::auction::BidTerms {
                    auction: *auction,
                    lot: *lot,
                    account: *account,
                    price_minor: *price_minor,
                    quantity_tonnes: *quantity_tonnes,
                };
                self.place_bid(actor.0, &terms, env)
            }
            Command::ChangeBid { auction, bid, price_minor, quantity_tonnes } => {
                self.change_bid(actor.0, *auction, *bid, *price_minor, *quantity_tonnes, env)
            }
            Command::WithdrawBid { auction, bid } => {
                self.withdraw_bid(actor.0, *auction, *bid, env)
            }
            Command::CloseAuction { auction } => {
                self.require_role(actor, Role::Operator)?;
                self.close_auction(*auction, env)
            }
            Command::CreateBasket { name, criteria } => {
                self.require_role(actor, Role::Operator)?;
                self.create_basket(name, criteria)
            }
            Command::SetBasketCriteria { basket, criteria } => {
                self.require_role(actor, Role::Operator)?;
                self.set_basket_criteria(*basket, criteria)
            }
            Command::SetProjectRating { project, rating } => {
                self.require_role(actor, Role::Registrar)?;
                self.set_project_rating(*project, *rating)
            }
            Command::DepositToBasket { basket, account, issuance, quantity_tonnes, priority } => {
                self.deposit_to_basket(
                    actor.0,
                    *basket,
                    *account,
                    *issuance,
                    *quantity_tonnes,
                    *priority,
                )
            }
            Command::WithdrawFromBasket { basket, account, issuance, quantity_tonnes } => {
                self.withdraw_from_basket(actor.0, *basket, *account, *issuance, *quantity_tonnes)
            }
        }
    }

    fn require_role(&self, actor: (OrgId, Role), role: Role) -> Result<(), Rejection> {
        if actor.1 == role { Ok(()) } else { Err(Rejection::Unauthorized) }
    }

    /// Only the organization that owns an account moves what it holds. An unknown account is
    /// reported as such, not as unauthorized, so the caller learns what is wrong.
    fn require_owner(&self, actor: (OrgId, Role), account: AccountId) -> Result<(), Rejection> {
        let owner = self.accounts.get(&account).ok_or(Rejection::UnknownAccount)?.org;
        if owner == actor.0 { Ok(()) } else { Err(Rejection::Unauthorized) }
    }

    fn genesis(&mut self, operator_name: &str, registrar_name: &str) -> Outcome {
        if self.is_initialized() {
            return Err(Rejection::AlreadyInitialized);
        }
        check_name(operator_name)?;
        check_name(registrar_name)?;
        if operator_name == registrar_name {
            return Err(Rejection::OrganizationExists);
        }
        let mut events = self.create_organization(operator_name, Role::Operator)?;
        let operator = self.org_names[operator_name];
        events.extend(self.create_organization(registrar_name, Role::Registrar)?);
        let registrar = self.org_names[registrar_name];
        let fees = self.new_account(operator, "Exchange fees", AccountKind::Fees);
        let buffer = self.new_account(registrar, "Buffer pool", AccountKind::BufferPool);
        self.fee_account = Some(fees);
        self.buffer_account = Some(buffer);
        events.push(Event::AccountOpened { account: fees, org: operator });
        events.push(Event::AccountOpened { account: buffer, org: registrar });
        Ok(events)
    }

    fn create_organization(&mut self, name: &str, role: Role) -> Outcome {
        check_name(name)?;
        if self.org_names.contains_key(name) {
            return Err(Rejection::OrganizationExists);
        }
        let id = OrgId(self.next.org);
        self.next.org += 1;
        self.orgs.insert(id, Organization { id, name: name.to_owned(), role });
        self.org_names.insert(name.to_owned(), id);
        Ok(vec![Event::OrganizationCreated { org: id }])
    }

    fn open_account(&mut self, org: OrgId, name: &str) -> Outcome {
        check_name(name)?;
        if !self.orgs.contains_key(&org) {
            return Err(Rejection::UnknownOrganization);
        }
        let account = self.new_account(org, name, AccountKind::Holding);
        Ok(vec![Event::AccountOpened { account, org }])
    }

    fn new_account(&mut self, org: OrgId, name: &str, kind: AccountKind) -> AccountId {
        let id = AccountId(self.next.account);
        self.next.account += 1;
        self.accounts.insert(id, Account { id, org, name: name.to_owned(), kind });
        id
    }

    fn register_project(&mut self, info: &ProjectInfo) -> Outcome {
        check_name(&info.external_id)?;
        check_name(&info.name)?;
        for text in
            [&info.methodology, &info.country, &info.region, &info.scope, &info.project_type]
        {
            check_optional_text(text)?;
        }
        if !self.orgs.contains_key(&info.developer) {
            return Err(Rejection::UnknownOrganization);
        }
        let key = (info.program, info.external_id.clone());
        if self.project_keys.contains_key(&key) {
            return Err(Rejection::ProjectExists);
        }
        let id = ProjectId(self.next.project);
        self.next.project += 1;
        self.projects.insert(id, crate::model::Project { id, info: info.clone() });
        self.project_keys.insert(key, id);
        Ok(vec![Event::ProjectRegistered { project: id }])
    }

    fn issue(&mut self, spec: &IssueSpec<'_>, time_ms: i64) -> Outcome {
        if !self.projects.contains_key(&spec.project) {
            return Err(Rejection::UnknownProject);
        }
        if !self.accounts.contains_key(&spec.to_account) {
            return Err(Rejection::UnknownAccount);
        }
        if !(VINTAGE_YEAR_MIN..=VINTAGE_YEAR_MAX).contains(&spec.vintage_year) {
            return Err(Rejection::InvalidVintage);
        }
        if spec.quantity_tonnes == 0 {
            return Err(Rejection::ZeroQuantity);
        }
        if spec.buffer_tonnes >= spec.quantity_tonnes {
            return Err(Rejection::BufferExceedsIssuance);
        }
        if let Some(r) = spec.external_ref {
            check_name(r)?;
            if self.issuance_refs.contains_key(r) {
                return Err(Rejection::IssuanceExists);
            }
        }
        let block = match spec.first_serial {
            Some(0) => return Err(Rejection::InvalidRange),
            Some(first) => {
                let block = SerialRange::with_quantity(first, spec.quantity_tonnes)
                    .filter(|b| b.last() <= SERIAL_MAX)
                    .ok_or(Rejection::SerialSpaceExhausted)?;
                if self.block_overlaps(block) {
                    return Err(Rejection::SerialRangeOverlaps);
                }
                block
            }
            None => self.allocate_block(spec.quantity_tonnes)?,
        };
        let buffer_account = self.buffer_account.expect("initialized ledgers have a buffer pool");

        let id = IssuanceId(self.next.issuance);
        self.next.issuance += 1;
        if spec.first_serial.is_none() {
            self.next_serial = block.last() + 1;
        }
        self.blocks.insert(block.first(), id);
        let class = self.classes.entry((spec.project, spec.vintage_year)).or_default();
        class.push(id);
        let issuances = &self.issuances;
        // `id` is not in `issuances` yet; its block is `block`.
        class.sort_by_key(|i| if *i == id { block.first() } else { issuances[i].block.first() });
        if let Some(r) = spec.external_ref {
            self.issuance_refs.insert(r.to_owned(), id);
        }
        let to_member =
            SerialRange::with_quantity(block.first(), spec.quantity_tonnes - spec.buffer_tonnes)
                .expect("buffer is smaller than the block");
        let buffer = SerialRange::new(to_member.last() + 1, block.last());
        // The issuance is recorded before its first holdings are credited: creating a holding
        // enters it in the class index, which looks the issuance's project and vintage up.
        self.issuances.insert(
            id,
            Issuance {
                id,
                project: spec.project,
                vintage_year: spec.vintage_year,
                block,
                buffer_tonnes: spec.buffer_tonnes,
                labels: Labels::default(),
                external_ref: spec.external_ref.map(str::to_owned),
                issued_at_ms: time_ms,
                retired: RangeSet::new(),
                cancelled: RangeSet::new(),
            },
        );
        self.credit(spec.to_account, id, &RangeSet::from_range(to_member));
        if let Some(b) = buffer {
            self.credit(buffer_account, id, &RangeSet::from_range(b));
        }
        Ok(vec![Event::Issued {
            issuance: id,
            project: spec.project,
            block,
            to_account: spec.to_account,
            buffer,
        }])
    }

    /// The first free block of `quantity` serials at or after `next_serial`. Blocks placed at
    /// their original registry positions (imports) live elsewhere in the serial space and do not
    /// move `next_serial`; if automatic allocation ever runs into one, it steps over it.
    fn allocate_block(&self, quantity: u64) -> Result<SerialRange, Rejection> {
        let mut first = self.next_serial;
        // Each step passes one issued block, so the loop ends within the number of blocks.
        for _ in 0..=self.blocks.len() {
            let block = SerialRange::with_quantity(first, quantity)
                .filter(|b| b.last() <= SERIAL_MAX)
                .ok_or(Rejection::SerialSpaceExhausted)?;
            match self.blocks.range(..=block.last()).next_back() {
                Some((_, id)) if self.issuances[id].block.overlaps(block) => {
                    first = self.issuances[id]
                        .block
                        .last()
                        .checked_add(1)
                        .ok_or(Rejection::SerialSpaceExhausted)?;
                }
                _ => return Ok(block),
            }
        }
        Err(Rejection::SerialSpaceExhausted)
    }

    /// Blocks are disjoint, so only the block starting nearest below `block.last()` can overlap.
    fn block_overlaps(&self, block: SerialRange) -> bool {
        self.blocks
            .range(..=block.last())
            .next_back()
            .is_some_and(|(_, id)| self.issuances[id].block.overlaps(block))
    }

    fn set_labels(&mut self, issuance: IssuanceId, labels: &Labels) -> Outcome {
        if let Some(a6) = &labels.article6 {
            check_name(&a6.authorization_ref)?;
        }
        let iss = self.issuances.get_mut(&issuance).ok_or(Rejection::UnknownIssuance)?;
        iss.labels = labels.clone();
        Ok(vec![Event::LabelsSet { issuance }])
    }

    fn transfer(
        &mut self,
        from: AccountId,
        to: AccountId,
        issuance: IssuanceId,
        selection: &Selection,
    ) -> Outcome {
        if !self.accounts.contains_key(&to) {
            return Err(Rejection::UnknownAccount);
        }
        if from == to {
            return Err(Rejection::SameAccount);
        }
        let serials = self.debit(from, issuance, selection)?;
        self.credit(to, issuance, &serials);
        Ok(vec![Event::Transferred { from, to, issuance, serials }])
    }

    fn retire(
        &mut self,
        account: AccountId,
        issuance: IssuanceId,
        selection: &Selection,
        details: &RetirementDetails,
        env: &Envelope,
    ) -> Outcome {
        check_retirement_details(details)?;
        let serials = self.debit(account, issuance, selection)?;
        let mut events = Events::new();
        self.record_retirement(account, issuance, &serials, details, env, &mut events);
        Ok(events.into_vec())
    }

    /// Moves serials that have left their holding into the issuance's retired set, with a
    /// retirement record for the certificate. Cannot fail: the caller took the serials out of a
    /// holding, so they are not retired already.
    pub(crate) fn record_retirement(
        &mut self,
        account: AccountId,
        issuance: IssuanceId,
        serials: &RangeSet,
        details: &RetirementDetails,
        env: &Envelope,
        events: &mut Events,
    ) -> RetirementId {
        let iss = self.issuances.get_mut(&issuance).expect("retired serials have an issuance");
        iss.retired.union_disjoint(serials).expect("audit: held serials are never retired");
        let id = RetirementId(self.next.retirement);
        self.next.retirement += 1;
        let retirement = Retirement {
            id,
            account,
            issuance,
            serials: serials.clone(),
            details: details.clone(),
            retired_at_ms: env.time_ms,
            seq: env.seq,
        };
        self.retirements.insert(id, retirement);
        events.push(Event::Retired { retirement: id, account, issuance, serials: serials.clone() });
        id
    }

    fn cancel(
        &mut self,
        account: AccountId,
        issuance: IssuanceId,
        selection: &Selection,
        reason: &str,
        env: &Envelope,
    ) -> Outcome {
        check_name(reason)?;
        let serials = self.debit(account, issuance, selection)?;
        let iss = self.issuances.get_mut(&issuance).expect("debit checked the issuance");
        iss.cancelled.union_disjoint(&serials).expect("audit: held serials are never cancelled");
        let id = CancellationId(self.next.cancellation);
        self.next.cancellation += 1;
        self.cancellations.insert(
            id,
            Cancellation {
                id,
                account,
                issuance,
                serials: serials.clone(),
                reason: reason.to_owned(),
                cancelled_at_ms: env.time_ms,
                seq: env.seq,
            },
        );
        Ok(vec![Event::Cancelled { cancellation: id, account, issuance, serials }])
    }

    /// Removes the selected available serials from a holding and returns them. This is the last
    /// fallible step of every credit movement: on `Err` the holding is untouched.
    fn debit(
        &mut self,
        account: AccountId,
        issuance: IssuanceId,
        selection: &Selection,
    ) -> Result<RangeSet, Rejection> {
        if !self.accounts.contains_key(&account) {
            return Err(Rejection::UnknownAccount);
        }
        let iss = self.issuances.get(&issuance).ok_or(Rejection::UnknownIssuance)?;
        let serials = match selection {
            Selection::Quantity(0) => return Err(Rejection::ZeroQuantity),
            Selection::Quantity(q) => {
                let holding = self
                    .holdings
                    .get_mut(&(account, issuance))
                    .ok_or(Rejection::InsufficientCredits)?;
                holding.available.take_lowest(*q).map_err(|_| Rejection::InsufficientCredits)?
            }
            Selection::Ranges(ranges) => {
                let wanted = selection_set(ranges, iss.block)?;
                let empty = Holding::default();
                self.holdings.merge_log(account);
                let holding = self.holdings.get(&(account, issuance));
                let holding = holding.as_deref().unwrap_or(&empty);
                if let Some(r) = wanted.ranges().find(|r| !holding.available.contains(*r)) {
                    // Only a refusal, and only of a holding that has serials reserved, gathers
                    // them from their owners.
                    let reserved = match holding.reserved_tonnes {
                        0 => RangeSet::new(),
                        _ => self.reserved_serials_of(account, issuance),
                    };
                    return Err(diagnose_missing(r, &reserved, iss));
                }
                let holding = self.holdings.get_mut(&(account, issuance)).expect("non-empty");
                holding.available.subtract(&wanted).expect("checked: all contained");
                wanted
            }
        };
        if self.holdings.get(&(account, issuance)).is_some_and(|h| h.is_empty()) {
            self.remove_holding(account, issuance);
        }
        Ok(serials)
    }

    /// Adds serials to a holding. Cannot fail: serials come from a debit or a fresh block, and
    /// the partition invariant says they are nowhere else.
    fn credit(&mut self, account: AccountId, issuance: IssuanceId, serials: &RangeSet) {
        self.holding_entry(account, issuance)
            .available
            .union_disjoint(serials)
            .expect("audit: a serial is in exactly one place");
    }

    fn deposit_cash(&mut self, account: AccountId, currency: Currency, amount: i64) -> Outcome {
        if !self.accounts.contains_key(&account) {
            return Err(Rejection::UnknownAccount);
        }
        if amount <= 0 {
            return Err(Rejection::ZeroQuantity);
        }
        let balance = self.balance(account, currency);
        let available =
            balance.available_minor.checked_add(amount).ok_or(Rejection::AmountOverflow)?;
        available.checked_add(balance.reserved_minor).ok_or(Rejection::AmountOverflow)?;
        let total = self.cash_in_minor.get(&currency).copied().unwrap_or(0);
        let total = total.checked_add(i128::from(amount)).ok_or(Rejection::AmountOverflow)?;
        self.cash.or_default((account, currency)).available_minor = available;
        self.cash_in_minor.insert(currency, total);
        Ok(vec![Event::CashDeposited { account, currency, amount_minor: amount }])
    }

    fn withdraw_cash(&mut self, account: AccountId, currency: Currency, amount: i64) -> Outcome {
        self.check_cash_debit(account, currency, amount)?;
        self.debit_cash(account, currency, amount);
        *self.cash_in_minor.get_mut(&currency).expect("a balance implies a deposit") -=
            i128::from(amount);
        Ok(vec![Event::CashWithdrawn { account, currency, amount_minor: amount }])
    }

    fn transfer_cash(
        &mut self,
        from: AccountId,
        to: AccountId,
        currency: Currency,
        amount: i64,
    ) -> Outcome {
        if !self.accounts.contains_key(&to) {
            return Err(Rejection::UnknownAccount);
        }
        if from == to {
            return Err(Rejection::SameAccount);
        }
        self.check_cash_debit(from, currency, amount)?;
        let dest = self.balance(to, currency);
        let credited = dest.available_minor.checked_add(amount).ok_or(Rejection::AmountOverflow)?;
        credited.checked_add(dest.reserved_minor).ok_or(Rejection::AmountOverflow)?;
        self.debit_cash(from, currency, amount);
        self.cash.or_default((to, currency)).available_minor = credited;
        Ok(vec![Event::CashTransferred { from, to, currency, amount_minor: amount }])
    }

    fn check_cash_debit(
        &self,
        account: AccountId,
        currency: Currency,
        amount: i64,
    ) -> Result<(), Rejection> {
        if !self.accounts.contains_key(&account) {
            return Err(Rejection::UnknownAccount);
        }
        if amount <= 0 {
            return Err(Rejection::ZeroQuantity);
        }
        if self.balance(account, currency).available_minor < amount {
            return Err(Rejection::InsufficientCash);
        }
        Ok(())
    }

    /// Takes checked cash out of an account, dropping the entry when it reaches zero so equal
    /// ledgers have equal maps.
    fn debit_cash(&mut self, account: AccountId, currency: Currency, amount: i64) {
        let balance = self.cash.get_mut(&(account, currency)).expect("checked");
        balance.available_minor -= amount;
        assert!(balance.available_minor >= 0, "cash debit was checked");
        if *balance == Default::default() {
            self.cash.remove(&(account, currency));
        }
    }
}

struct IssueSpec<'a> {
    project: ProjectId,
    vintage_year: u16,
    quantity_tonnes: u64,
    buffer_tonnes: u64,
    to_account: AccountId,
    first_serial: Option<u64>,
    external_ref: Option<&'a str>,
}

/// Turns a list of named ranges into a set, refusing empty lists, overlaps among them and
/// ranges outside the issuance's block.
fn selection_set(ranges: &[SerialRange], block: SerialRange) -> Result<RangeSet, Rejection> {
    if ranges.is_empty() {
        return Err(Rejection::ZeroQuantity);
    }
    if ranges.len() > SELECTION_RANGES_MAX {
        return Err(Rejection::TooManyRanges);
    }
    let mut set = RangeSet::new();
    for r in ranges {
        if !block.contains_range(*r) {
            return Err(Rejection::RangeOutsideIssuance);
        }
        set.insert(*r).map_err(|_| Rejection::InvalidRange)?;
    }
    Ok(set)
}

/// Says why a named range is not available: the most specific reason wins.
fn diagnose_missing(range: SerialRange, reserved: &RangeSet, issuance: &Issuance) -> Rejection {
    if reserved.intersects(range) {
        Rejection::CreditsReserved
    } else if issuance.retired.intersects(range) {
        Rejection::AlreadyRetired
    } else if issuance.cancelled.intersects(range) {
        Rejection::AlreadyCancelled
    } else {
        Rejection::CreditsNotHeld
    }
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

pub(crate) fn check_retirement_details(d: &RetirementDetails) -> Result<(), Rejection> {
    check_name(&d.beneficiary)?;
    check_optional_name(&d.using_entity)?;
    check_optional_text(&d.note)
}

pub(crate) fn check_name(s: &str) -> Result<(), Rejection> {
    let ok = !s.trim().is_empty() && s.len() <= NAME_LEN_MAX && !has_control(s);
    if ok { Ok(()) } else { Err(Rejection::InvalidText) }
}

fn check_optional_name(s: &str) -> Result<(), Rejection> {
    if s.len() <= NAME_LEN_MAX && !has_control(s) { Ok(()) } else { Err(Rejection::InvalidText) }
}

fn check_optional_text(s: &str) -> Result<(), Rejection> {
    if s.len() <= TEXT_LEN_MAX && !s.chars().any(|c| c.is_control() && c != '\n') {
        Ok(())
    } else {
        Err(Rejection::InvalidText)
    }
}
