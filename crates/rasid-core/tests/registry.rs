//! Registry behaviour: hand-worked cases for every rejection, and random command sequences
//! checked against a deliberately naive model (one map entry per serial).

use proptest::prelude::*;
use rasid_core::model::{
    Article6, Basis, CaStatus, CorsiaPhase, Effect, Labels, Program, ProjectInfo, Purpose,
    RetirementDetails,
};
use rasid_core::testing::{Genesis, Harness};
use rasid_core::{
    AccountId, Command, Currency, Event, IssuanceId, OrgId, ProjectId, Rejection, Selection,
    SerialLocation, SerialRange,
};
use std::collections::BTreeMap;

fn project(external_id: &str, developer: OrgId) -> Command {
    Command::RegisterProject {
        info: Box::new(ProjectInfo {
            program: Program::Vcs,
            external_id: external_id.into(),
            name: format!("Project {external_id}"),
            methodology: "VM0015".into(),
            country: "Kazakhstan".into(),
            region: "Central Asia".into(),
            scope: "Forestry & Land Use".into(),
            project_type: "REDD+".into(),
            effect: Effect::Reduction,
            basis: Basis::Nature,
            developer,
        }),
    }
}

fn issue(project: u64, to: AccountId, quantity_tonnes: u64, buffer_tonnes: u64) -> Command {
    Command::Issue {
        project: ProjectId(project),
        vintage_year: 2021,
        quantity_tonnes,
        buffer_tonnes,
        to_account: to,
        first_serial: None,
        external_ref: None,
    }
}

fn details(beneficiary: &str) -> RetirementDetails {
    RetirementDetails {
        beneficiary: beneficiary.into(),
        purpose: Purpose::Voluntary,
        using_entity: String::new(),
        note: String::new(),
    }
}

fn range(first: u64, last: u64) -> SerialRange {
    SerialRange::new(first, last).unwrap()
}

struct Setup {
    h: Harness,
    g: Genesis,
    dev: OrgId,
    dev_acc: AccountId,
    buyer: OrgId,
    buyer_acc: AccountId,
}

/// A developer with 1,000 t of issuance 1 (serials 1-1000, 50 t of them in the buffer).
fn setup() -> Setup {
    let (mut h, g) = Harness::with_genesis();
    let (dev, dev_acc) = h.member(g.operator, "Developer");
    let (buyer, buyer_acc) = h.member(g.operator, "Buyer");
    h.run(g.registrar, project("VCS1", dev)).unwrap();
    h.run(g.registrar, issue(1, dev_acc, 1_000, 50)).unwrap();
    Setup { h, g, dev, dev_acc, buyer, buyer_acc }
}

#[test]
fn issuance_allocates_consecutive_blocks_with_buffer_at_the_top() {
    let mut s = setup();
    let events = s.h.run(s.g.registrar, issue(1, s.dev_acc, 10, 0)).unwrap();
    assert_eq!(
        events,
        vec![Event::Issued {
            issuance: IssuanceId(2),
            project: ProjectId(1),
            block: range(1001, 1010),
            to_account: s.dev_acc,
            buffer: None,
        }]
    );
    let h1 = s.h.state.holding(s.dev_acc, IssuanceId(1)).unwrap();
    assert_eq!(h1.available.to_vec(), vec![range(1, 950)]);
    let buffer = s.h.state.holding(s.g.buffer, IssuanceId(1)).unwrap();
    assert_eq!(buffer.available.to_vec(), vec![range(951, 1000)]);
    let totals = s.h.state.audit().unwrap();
    assert_eq!((totals.issued_tonnes, totals.held_tonnes, totals.buffer_tonnes), (1010, 960, 50));
}

#[test]
fn blocks_placed_at_registry_positions_do_not_move_automatic_allocation() {
    let mut s = setup();
    let at = |first| Command::Issue {
        project: ProjectId(1),
        vintage_year: 2020,
        quantity_tonnes: 10,
        buffer_tonnes: 0,
        to_account: s.dev_acc,
        first_serial: Some(first),
        external_ref: None,
    };
    // A block far up (an import) and one just above the next automatic block.
    s.h.run(s.g.registrar, at(1 << 60)).unwrap();
    s.h.run(s.g.registrar, at(1_005)).unwrap();
    let events = s.h.run(s.g.registrar, issue(1, s.dev_acc, 10, 0)).unwrap();
    let Event::Issued { block, .. } = &events[0] else { panic!() };
    assert_eq!(*block, range(1_015, 1_024), "stepped over 1005-1014, not after 2^60");
    let events = s.h.run(s.g.registrar, issue(1, s.dev_acc, 3, 0)).unwrap();
    let Event::Issued { block, .. } = &events[0] else { panic!() };
    assert_eq!(*block, range(1_025, 1_027));
}

#[test]
fn transfer_by_quantity_takes_lowest_serials_and_by_range_exactly_those() {
    let mut s = setup();
    let t =
        |from, to, selection| Command::Transfer { from, to, issuance: IssuanceId(1), selection };
    s.h.run(s.dev, t(s.dev_acc, s.buyer_acc, Selection::Ranges(vec![range(100, 199)]))).unwrap();
    s.h.run(s.dev, t(s.dev_acc, s.buyer_acc, Selection::Quantity(150))).unwrap();
    let buyer = s.h.state.holding(s.buyer_acc, IssuanceId(1)).unwrap();
    assert_eq!(buyer.available.to_vec(), vec![range(1, 250)]);
    let dev = s.h.state.holding(s.dev_acc, IssuanceId(1)).unwrap();
    assert_eq!(dev.available.to_vec(), vec![range(251, 950)]);
    s.h.assert_replay_matches();
}

#[test]
fn retirement_is_recorded_irreversible_and_locatable() {
    let mut s = setup();
    let events =
        s.h.run(
            s.dev,
            Command::Retire {
                account: s.dev_acc,
                issuance: IssuanceId(1),
                selection: Selection::Ranges(vec![range(10, 19), range(30, 39)]),
                details: Box::new(details("Saudi Aramco")),
            },
        )
        .unwrap();
    let Event::Retired { retirement, serials, .. } = &events[0] else { panic!("{events:?}") };
    assert_eq!(serials.to_vec(), vec![range(10, 19), range(30, 39)]);
    let record = s.h.state.retirement(*retirement).unwrap();
    assert_eq!(record.details.beneficiary, "Saudi Aramco");
    assert_eq!(record.seq, s.h.state.last_seq());
    assert_eq!(
        s.h.state.locate_serial(15),
        SerialLocation::Retired { issuance: IssuanceId(1), retirement: *retirement }
    );
    assert_eq!(
        s.h.state.locate_serial(20),
        SerialLocation::Held { issuance: IssuanceId(1), account: s.dev_acc, reserved: false }
    );
    assert_eq!(s.h.state.locate_serial(5_000), SerialLocation::NotIssued);
    // A second retirement of the same serial, by anyone, is refused with its own code.
    let again = Command::Retire {
        account: s.dev_acc,
        issuance: IssuanceId(1),
        selection: Selection::Ranges(vec![range(19, 20)]),
        details: Box::new(details("Someone else")),
    };
    assert_eq!(s.h.run(s.dev, again), Err(Rejection::AlreadyRetired));
}

#[test]
fn every_bad_input_has_its_own_code_and_changes_nothing() {
    // Harness::run asserts the state digest is unchanged on every rejection below.
    let mut s = setup();
    let (dev, acc, buyer_acc) = (s.dev, s.dev_acc, s.buyer_acc);
    let t =
        |issuance, selection| Command::Transfer { from: acc, to: buyer_acc, issuance, selection };
    let cases: Vec<(OrgId, Command, Rejection)> = vec![
        (
            OrgId(1),
            Command::Genesis { operator_name: "X".into(), registrar_name: "Y".into() },
            Rejection::AlreadyInitialized,
        ),
        (OrgId(99), t(IssuanceId(1), Selection::Quantity(1)), Rejection::Unauthorized),
        (s.buyer, t(IssuanceId(1), Selection::Quantity(1)), Rejection::Unauthorized),
        (dev, project("VCS2", dev), Rejection::Unauthorized),
        (s.g.registrar, project("VCS1", dev), Rejection::ProjectExists),
        (s.g.registrar, project("VCS3", OrgId(77)), Rejection::UnknownOrganization),
        (s.g.registrar, project("", dev), Rejection::InvalidText),
        (
            s.g.operator,
            Command::CreateOrganization {
                name: "Developer".into(),
                role: rasid_core::model::Role::Member,
            },
            Rejection::OrganizationExists,
        ),
        (
            s.g.operator,
            Command::OpenAccount { org: OrgId(42), name: "A".into() },
            Rejection::UnknownOrganization,
        ),
        (s.g.registrar, issue(9, acc, 10, 0), Rejection::UnknownProject),
        (s.g.registrar, issue(1, AccountId(999), 10, 0), Rejection::UnknownAccount),
        (s.g.registrar, issue(1, acc, 0, 0), Rejection::ZeroQuantity),
        (s.g.registrar, issue(1, acc, 10, 10), Rejection::BufferExceedsIssuance),
        (s.g.registrar, issue(1, acc, u64::MAX, 0), Rejection::SerialSpaceExhausted),
        (
            s.g.registrar,
            Command::Issue {
                project: ProjectId(1),
                vintage_year: 1850,
                quantity_tonnes: 1,
                buffer_tonnes: 0,
                to_account: acc,
                first_serial: None,
                external_ref: None,
            },
            Rejection::InvalidVintage,
        ),
        (
            s.g.registrar,
            Command::Issue {
                project: ProjectId(1),
                vintage_year: 2020,
                quantity_tonnes: 10,
                buffer_tonnes: 0,
                to_account: acc,
                first_serial: Some(995),
                external_ref: None,
            },
            Rejection::SerialRangeOverlaps,
        ),
        (dev, t(IssuanceId(7), Selection::Quantity(1)), Rejection::UnknownIssuance),
        (dev, t(IssuanceId(1), Selection::Quantity(0)), Rejection::ZeroQuantity),
        (dev, t(IssuanceId(1), Selection::Quantity(951)), Rejection::InsufficientCredits),
        (
            dev,
            t(IssuanceId(1), Selection::Ranges(vec![range(990, 1001)])),
            Rejection::RangeOutsideIssuance,
        ),
        (
            dev,
            t(IssuanceId(1), Selection::Ranges(vec![range(1, 5), range(5, 6)])),
            Rejection::InvalidRange,
        ),
        (
            dev,
            t(IssuanceId(1), Selection::Ranges(vec![range(940, 960)])),
            Rejection::CreditsNotHeld,
        ),
        (
            dev,
            t(IssuanceId(1), Selection::Ranges((1..=1025).map(|i| range(i, i)).collect())),
            Rejection::TooManyRanges,
        ),
        (
            dev,
            Command::Transfer {
                from: acc,
                to: acc,
                issuance: IssuanceId(1),
                selection: Selection::Quantity(1),
            },
            Rejection::SameAccount,
        ),
        (
            dev,
            Command::Retire {
                account: acc,
                issuance: IssuanceId(1),
                selection: Selection::Quantity(1),
                details: Box::new(details("  ")),
            },
            Rejection::InvalidText,
        ),
        (
            dev,
            Command::Cancel {
                account: acc,
                issuance: IssuanceId(1),
                selection: Selection::Quantity(1),
                reason: "bad\u{0}".into(),
            },
            Rejection::InvalidText,
        ),
        (
            dev,
            Command::DepositCash { account: acc, currency: Currency::Sar, amount_minor: 100 },
            Rejection::Unauthorized,
        ),
        (
            s.g.operator,
            Command::DepositCash { account: acc, currency: Currency::Sar, amount_minor: 0 },
            Rejection::ZeroQuantity,
        ),
        (
            s.g.operator,
            Command::WithdrawCash { account: acc, currency: Currency::Sar, amount_minor: 1 },
            Rejection::InsufficientCash,
        ),
        (
            dev,
            Command::TransferCash {
                from: acc,
                to: buyer_acc,
                currency: Currency::Usd,
                amount_minor: 1,
            },
            Rejection::InsufficientCash,
        ),
        (
            s.g.registrar,
            Command::SetLabels { issuance: IssuanceId(5), labels: Labels::default() },
            Rejection::UnknownIssuance,
        ),
    ];
    for (actor, command, want) in cases {
        let label = format!("{command:?}");
        assert_eq!(s.h.run(actor, command), Err(want), "{label}");
    }
    s.h.run(
        s.g.operator,
        Command::DepositCash { account: acc, currency: Currency::Sar, amount_minor: i64::MAX },
    )
    .unwrap();
    let overflow = Command::DepositCash { account: acc, currency: Currency::Sar, amount_minor: 1 };
    assert_eq!(s.h.run(s.g.operator, overflow), Err(Rejection::AmountOverflow));
}

#[test]
fn cancellation_by_registrar_and_labels() {
    let mut s = setup();
    let buffer = s.g.buffer;
    // A buffer reversal: the registrar cancels buffer credits it holds for the registry.
    s.h.run(
        s.g.registrar,
        Command::Cancel {
            account: buffer,
            issuance: IssuanceId(1),
            selection: Selection::Quantity(20),
            reason: "reversal: wildfire".into(),
        },
    )
    .unwrap();
    // The registrar may cancel from a member's account (e.g. a corresponding adjustment); a
    // member may not cancel from another member's account.
    let cancel = Command::Cancel {
        account: s.dev_acc,
        issuance: IssuanceId(1),
        selection: Selection::Ranges(vec![range(1, 10)]),
        reason: "Article 6 first transfer".into(),
    };
    assert_eq!(s.h.run(s.buyer, cancel.clone()), Err(Rejection::Unauthorized));
    s.h.run(s.g.registrar, cancel.clone()).unwrap();
    assert_eq!(s.h.run(s.g.registrar, cancel), Err(Rejection::AlreadyCancelled));
    let labels = Labels {
        corsia: Some(CorsiaPhase::First),
        ccp: true,
        article6: Some(Article6 {
            authorization_ref: "LoA-SA-2024-001".into(),
            ca_status: CaStatus::Pending,
        }),
    };
    s.h.run(s.g.registrar, Command::SetLabels { issuance: IssuanceId(1), labels: labels.clone() })
        .unwrap();
    assert_eq!(s.h.state.issuance(IssuanceId(1)).unwrap().labels, labels);
    let t = s.h.state.audit().unwrap();
    assert_eq!((t.cancelled_tonnes, t.buffer_tonnes, t.held_tonnes), (30, 30, 940));
}

#[test]
fn cash_moves_between_accounts_and_is_conserved() {
    let mut s = setup();
    let op = s.g.operator;
    s.h.run(
        op,
        Command::DepositCash {
            account: s.buyer_acc,
            currency: Currency::Sar,
            amount_minor: 10_000,
        },
    )
    .unwrap();
    s.h.run(
        s.buyer,
        Command::TransferCash {
            from: s.buyer_acc,
            to: s.dev_acc,
            currency: Currency::Sar,
            amount_minor: 3_750,
        },
    )
    .unwrap();
    s.h.run(
        op,
        Command::WithdrawCash { account: s.dev_acc, currency: Currency::Sar, amount_minor: 3_750 },
    )
    .unwrap();
    assert_eq!(s.h.state.balance(s.buyer_acc, Currency::Sar).available_minor, 6_250);
    assert_eq!(s.h.state.balances_of(s.dev_acc).count(), 0, "a zero balance is not stored");
}

// ---- random sequences against a naive model ----

#[derive(Clone, Debug)]
enum Op {
    Issue { to: usize, quantity: u64, buffer: u64 },
    Transfer { actor: usize, from: usize, to: usize, issuance: u64, sel: Sel },
    Retire { actor: usize, account: usize, issuance: u64, sel: Sel },
    Cancel { registrar: bool, account: usize, issuance: u64, sel: Sel },
    Deposit { account: usize, amount: i64 },
    Withdraw { account: usize, amount: i64 },
    Pay { from: usize, to: usize, amount: i64 },
}

#[derive(Clone, Debug)]
enum Sel {
    Quantity(u64),
    /// A range given as offsets into the issuance's block.
    Range(u64, u64),
}

fn sel() -> impl Strategy<Value = Sel> {
    prop_oneof![
        (0u64..40).prop_map(Sel::Quantity),
        (0u64..40, 0u64..15).prop_map(|(a, l)| Sel::Range(a, a + l))
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let acc = 0usize..4;
    prop_oneof![
        1 => (acc.clone(), 1u64..40, 0u64..5).prop_map(|(to, quantity, buffer)| Op::Issue { to, quantity, buffer }),
        4 => (0usize..4, acc.clone(), acc.clone(), 1u64..5, sel()).prop_map(|(actor, from, to, issuance, sel)| Op::Transfer { actor, from, to, issuance, sel }),
        2 => (0usize..4, acc.clone(), 1u64..5, sel()).prop_map(|(actor, account, issuance, sel)| Op::Retire { actor, account, issuance, sel }),
        1 => (any::<bool>(), acc.clone(), 1u64..5, sel()).prop_map(|(registrar, account, issuance, sel)| Op::Cancel { registrar, account, issuance, sel }),
        1 => (acc.clone(), -5i64..1000).prop_map(|(account, amount)| Op::Deposit { account, amount }),
        1 => (acc.clone(), 0i64..1000).prop_map(|(account, amount)| Op::Withdraw { account, amount }),
        1 => (acc.clone(), acc, 0i64..1000).prop_map(|(from, to, amount)| Op::Pay { from, to, amount }),
    ]
}

/// Where each serial is, one entry per serial: too slow for real use, obviously right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Held(AccountId),
    Retired,
    Cancelled,
}

#[derive(Default)]
struct Model {
    serials: BTreeMap<u64, (IssuanceId, Place)>,
    blocks: BTreeMap<IssuanceId, SerialRange>,
    cash: BTreeMap<AccountId, i64>,
}

impl Model {
    fn held(&self, account: AccountId, issuance: IssuanceId) -> Vec<u64> {
        self.serials
            .iter()
            .filter(|(_, (i, p))| *i == issuance && *p == Place::Held(account))
            .map(|(s, _)| *s)
            .collect()
    }

    /// The serials a selection picks, or None when the model says the command must fail.
    fn pick(&self, account: AccountId, issuance: IssuanceId, sel: &Selection) -> Option<Vec<u64>> {
        let held = self.held(account, issuance);
        match sel {
            Selection::Quantity(q) => {
                (*q > 0 && *q as usize <= held.len()).then(|| held[..*q as usize].to_vec())
            }
            Selection::Ranges(rs) => {
                let r = rs[0];
                let want: Vec<u64> = (r.first()..=r.last()).collect();
                want.iter().all(|s| held.contains(s)).then_some(want)
            }
        }
    }
}

fn selection(sel: &Sel, block: Option<SerialRange>) -> Selection {
    match sel {
        Sel::Quantity(q) => Selection::Quantity(*q),
        Sel::Range(a, b) => {
            let base = block.map_or(1, |b| b.first());
            Selection::Ranges(vec![range(base + a, base + b)])
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn random_registry_commands_match_the_naive_model(ops in proptest::collection::vec(op(), 1..80)) {
        let (mut h, g) = Harness::with_genesis();
        let mut members = Vec::new();
        for i in 0..4 {
            members.push(h.member(g.operator, &format!("Member {i}")));
        }
        h.run(g.registrar, project("VCS9", members[0].0)).unwrap();
        let mut m = Model::default();
        for op in ops {
            match op {
                Op::Issue { to, quantity, buffer } => {
                    let r = h.run(g.registrar, issue(1, members[to].1, quantity, buffer));
                    prop_assert_eq!(r.is_ok(), buffer < quantity);
                    if let Ok(events) = r {
                        let Event::Issued { issuance, block, .. } = events[0] else { unreachable!() };
                        m.blocks.insert(issuance, block);
                        for s in block.first()..=block.last() {
                            let owner = if s > block.last() - buffer { g.buffer } else { members[to].1 };
                            m.serials.insert(s, (issuance, Place::Held(owner)));
                        }
                    }
                }
                Op::Transfer { actor, from, to, issuance, sel } => {
                    let iss = IssuanceId(issuance);
                    let selection = selection(&sel, m.blocks.get(&iss).copied());
                    let (from, to) = (members[from].1, members[to].1);
                    let expect = if actor_owns(actor, from, &members) && from != to && m.blocks.contains_key(&iss) {
                        m.pick(from, iss, &selection)
                    } else {
                        None
                    };
                    let r = h.run(members[actor].0, Command::Transfer { from, to, issuance: iss, selection });
                    prop_assert_eq!(r.is_ok(), expect.is_some(), "{:?}", r);
                    for s in expect.unwrap_or_default() {
                        m.serials.insert(s, (iss, Place::Held(to)));
                    }
                }
                Op::Retire { actor, account, issuance, sel } => {
                    let iss = IssuanceId(issuance);
                    let selection = selection(&sel, m.blocks.get(&iss).copied());
                    let account = members[account].1;
                    let expect = if actor_owns(actor, account, &members) && m.blocks.contains_key(&iss) {
                        m.pick(account, iss, &selection)
                    } else {
                        None
                    };
                    let r = h.run(members[actor].0, Command::Retire { account, issuance: iss, selection, details: Box::new(details("B")) });
                    prop_assert_eq!(r.is_ok(), expect.is_some(), "{:?}", r);
                    for s in expect.unwrap_or_default() {
                        m.serials.insert(s, (iss, Place::Retired));
                    }
                }
                Op::Cancel { registrar, account, issuance, sel } => {
                    let iss = IssuanceId(issuance);
                    let selection = selection(&sel, m.blocks.get(&iss).copied());
                    let account = members[account].1;
                    let (actor, allowed) = if registrar { (g.registrar, true) } else { (members[0].0, account == members[0].1) };
                    let expect = if allowed && m.blocks.contains_key(&iss) { m.pick(account, iss, &selection) } else { None };
                    let r = h.run(actor, Command::Cancel { account, issuance: iss, selection, reason: "test".into() });
                    prop_assert_eq!(r.is_ok(), expect.is_some(), "{:?}", r);
                    for s in expect.unwrap_or_default() {
                        m.serials.insert(s, (iss, Place::Cancelled));
                    }
                }
                Op::Deposit { account, amount } => {
                    let account = members[account].1;
                    let r = h.run(g.operator, Command::DepositCash { account, currency: Currency::Sar, amount_minor: amount });
                    prop_assert_eq!(r.is_ok(), amount > 0);
                    if amount > 0 { *m.cash.entry(account).or_default() += amount; }
                }
                Op::Withdraw { account, amount } => {
                    let account = members[account].1;
                    let bal = m.cash.get(&account).copied().unwrap_or(0);
                    let r = h.run(g.operator, Command::WithdrawCash { account, currency: Currency::Sar, amount_minor: amount });
                    prop_assert_eq!(r.is_ok(), amount > 0 && amount <= bal);
                    if r.is_ok() { *m.cash.entry(account).or_default() -= amount; }
                }
                Op::Pay { from, to, amount } => {
                    let (fo, fa, ta) = (members[from].0, members[from].1, members[to].1);
                    let bal = m.cash.get(&fa).copied().unwrap_or(0);
                    let r = h.run(fo, Command::TransferCash { from: fa, to: ta, currency: Currency::Sar, amount_minor: amount });
                    prop_assert_eq!(r.is_ok(), amount > 0 && amount <= bal && fa != ta);
                    if r.is_ok() {
                        *m.cash.entry(fa).or_default() -= amount;
                        *m.cash.entry(ta).or_default() += amount;
                    }
                }
            }
            // The engine's holdings and balances equal the model's, serial for serial.
            for &(_, acc) in &members {
                for &iss in m.blocks.keys() {
                    let got: Vec<u64> = h.state.holding(acc, iss)
                        .map(|x| x.available.ranges().flat_map(|r| r.first()..=r.last()).collect())
                        .unwrap_or_default();
                    prop_assert_eq!(got, m.held(acc, iss));
                }
                prop_assert_eq!(h.state.balance(acc, Currency::Sar).available_minor, m.cash.get(&acc).copied().unwrap_or(0));
            }
        }
        h.assert_replay_matches();
    }
}

fn actor_owns(actor: usize, account: AccountId, members: &[(OrgId, AccountId)]) -> bool {
    members[actor].1 == account
}
