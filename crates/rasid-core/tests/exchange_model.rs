//! Differential test: the engine's matching against a deliberately simple reference matcher
//! (a flat list of orders, O(n) per operation) on random order/cancel/amend streams. Both must
//! accept and refuse the same commands and produce identical trades in the same order; the
//! harness checks every invariant (uncrossed books, exact reservations, conserved cash and
//! serials) after each command.

use proptest::prelude::*;
use rasid_core::exchange::{
    FeeSchedule, InstrumentId, InstrumentSpec, OrderId, OrderRequest, OrderType,
    SelfTradePrevention, Side, TimeInForce, Underlying,
};
use rasid_core::model::{Basis, Effect, Program, ProjectInfo};
use rasid_core::testing::Harness;
use rasid_core::{AccountId, Command, Currency, Event, OrgId, ProjectId, Rejection};

const REF: i64 = 10_000;
const TICK: i64 = 10;
const LOT: u64 = 5;

#[derive(Clone, Debug)]
enum Op {
    Place { member: usize, side: Side, ticks: i64, lots: u64, tif: u8, post_only: bool, stp: u8 },
    Cancel { pick: usize },
    Amend { pick: usize, lots: Option<u64>, ticks: Option<i64> },
}

fn op() -> impl Strategy<Value = Op> {
    let side = prop_oneof![Just(Side::Buy), Just(Side::Sell)];
    prop_oneof![
        6 => (0usize..3, side, -12i64..12, 1u64..6, 0u8..10, prop::bool::weighted(0.1), 0u8..3)
            .prop_map(|(member, side, ticks, lots, tif, post_only, stp)| Op::Place { member, side, ticks, lots, tif, post_only, stp }),
        2 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        2 => (any::<usize>(), prop::option::of(1u64..8), prop::option::of(-12i64..12))
            .prop_map(|(pick, lots, ticks)| Op::Amend { pick, lots, ticks }),
    ]
}

fn stp_of(code: u8) -> SelfTradePrevention {
    match code {
        0 => SelfTradePrevention::CancelResting,
        1 => SelfTradePrevention::CancelIncoming,
        _ => SelfTradePrevention::CancelBoth,
    }
}

fn tif_of(code: u8) -> TimeInForce {
    match code {
        0 => TimeInForce::Ioc,
        1 => TimeInForce::Fok,
        _ => TimeInForce::Gtc,
    }
}

#[derive(Clone, Debug)]
struct RefOrder {
    id: u64,
    member: usize,
    side: Side,
    price: i64,
    remaining: u64,
    priority: u64,
    post_only: bool,
    stp: SelfTradePrevention,
}

/// (buy order, sell order, price, tonnes)
type Trade = (u64, u64, i64, u64);

#[derive(Default)]
struct Reference {
    resting: Vec<RefOrder>,
    next_id: u64,
    next_priority: u64,
}

fn crosses(side: Side, limit: i64, other: i64) -> bool {
    match side {
        Side::Buy => other <= limit,
        Side::Sell => other >= limit,
    }
}

impl Reference {
    /// The best crossing resting order on the other side: best price, then earliest priority.
    fn best_against(&self, side: Side, limit: i64) -> Option<usize> {
        let better = |a: &RefOrder, b: &RefOrder| match side {
            Side::Buy => (a.price, a.priority) < (b.price, b.priority),
            Side::Sell => (-a.price, a.priority) < (-b.price, b.priority),
        };
        let mut best: Option<usize> = None;
        for (i, o) in self.resting.iter().enumerate() {
            if o.side != side
                && crosses(side, limit, o.price)
                && best.is_none_or(|b| better(o, &self.resting[b]))
            {
                best = Some(i);
            }
        }
        best
    }

    fn fillable(&self, o: &RefOrder) -> bool {
        let mut others: Vec<&RefOrder> = self
            .resting
            .iter()
            .filter(|r| r.side != o.side && crosses(o.side, o.price, r.price))
            .collect();
        others.sort_by_key(|r| (if o.side == Side::Buy { r.price } else { -r.price }, r.priority));
        let mut found = 0;
        for r in others {
            if r.member == o.member {
                if o.stp != SelfTradePrevention::CancelResting {
                    return false;
                }
            } else {
                found += r.remaining;
                if found >= o.remaining {
                    return true;
                }
            }
        }
        false
    }

    /// Matches an incoming order; returns trades and whether self-trade prevention stopped it.
    fn run(&mut self, o: &mut RefOrder, trades: &mut Vec<Trade>) -> bool {
        while o.remaining > 0 {
            let Some(i) = self.best_against(o.side, o.price) else { return false };
            if self.resting[i].member == o.member {
                match o.stp {
                    SelfTradePrevention::CancelResting => {
                        self.resting.remove(i);
                        continue;
                    }
                    SelfTradePrevention::CancelIncoming => return true,
                    SelfTradePrevention::CancelBoth => {
                        self.resting.remove(i);
                        return true;
                    }
                }
            }
            let r = &mut self.resting[i];
            let q = o.remaining.min(r.remaining);
            let (buy, sell) = if o.side == Side::Buy { (o.id, r.id) } else { (r.id, o.id) };
            trades.push((buy, sell, r.price, q));
            r.remaining -= q;
            o.remaining -= q;
            if r.remaining == 0 {
                self.resting.remove(i);
            }
        }
        false
    }

    /// Places `o` (its id and priority are assigned here).
    fn place(&mut self, mut o: RefOrder, tif: TimeInForce) -> Result<Vec<Trade>, Rejection> {
        o.id = self.next_id + 1;
        o.priority = self.next_priority;
        if o.post_only && self.best_against(o.side, o.price).is_some() {
            return Err(Rejection::PostOnlyWouldCross);
        }
        if tif == TimeInForce::Fok && !self.fillable(&o) {
            return Err(Rejection::FokNotFilled);
        }
        self.next_id += 1;
        self.next_priority += 1;
        let mut trades = Vec::new();
        let stopped = self.run(&mut o, &mut trades);
        if o.remaining > 0 && !stopped && tif == TimeInForce::Gtc {
            self.resting.push(o);
        }
        Ok(trades)
    }

    fn amend(&mut self, id: u64, remaining: u64, price: i64) -> Result<Vec<Trade>, Rejection> {
        let i = self.resting.iter().position(|o| o.id == id).expect("picked from resting");
        let old = self.resting[i].clone();
        if old.price == price && old.remaining == remaining {
            return Err(Rejection::NothingToAmend);
        }
        if old.post_only && price != old.price {
            let others = Reference {
                resting: self.resting.iter().filter(|o| o.id != id).cloned().collect(),
                ..Default::default()
            };
            if others.best_against(old.side, price).is_some() {
                return Err(Rejection::PostOnlyWouldCross);
            }
        }
        if price == old.price && remaining < old.remaining {
            self.resting[i].remaining = remaining;
            return Ok(Vec::new());
        }
        let mut o = self.resting.remove(i);
        o.price = price;
        o.remaining = remaining;
        o.priority = self.next_priority;
        self.next_priority += 1;
        let mut trades = Vec::new();
        let stopped = self.run(&mut o, &mut trades);
        if o.remaining > 0 && !stopped {
            self.resting.push(o);
        }
        Ok(trades)
    }

    fn depth(&self, side: Side) -> Vec<(i64, u64, u32)> {
        let mut levels: std::collections::BTreeMap<i64, (u64, u32)> = Default::default();
        for o in self.resting.iter().filter(|o| o.side == side) {
            let e = levels.entry(o.price).or_default();
            e.0 += o.remaining;
            e.1 += 1;
        }
        let rows = levels.into_iter().map(|(p, (q, n))| (p, q, n));
        match side {
            Side::Buy => rows.rev().collect(),
            Side::Sell => rows.collect(),
        }
    }
}

fn engine_trades(events: &[Event]) -> Vec<Trade> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Traded(f) => {
                Some((f.buy_order.0, f.sell_order.0, f.price_minor, f.quantity_tonnes))
            }
            _ => None,
        })
        .collect()
}

fn count_fills(filled: &mut std::collections::BTreeMap<u64, u64>, trades: &[Trade]) {
    for (buy, sell, _, q) in trades {
        *filled.entry(*buy).or_default() += q;
        *filled.entry(*sell).or_default() += q;
    }
}

fn setup() -> (Harness, rasid_core::testing::Genesis, Vec<(OrgId, AccountId)>) {
    let (mut h, g) = Harness::with_genesis();
    let members: Vec<_> = (0..3).map(|i| h.member(g.operator, &format!("M{i}"))).collect();
    h.run(
        g.registrar,
        Command::RegisterProject {
            info: Box::new(ProjectInfo {
                program: Program::Native,
                external_id: "P".into(),
                name: "P".into(),
                methodology: String::new(),
                country: String::new(),
                region: String::new(),
                scope: String::new(),
                project_type: String::new(),
                effect: Effect::Reduction,
                basis: Basis::Technology,
                developer: members[0].0,
            }),
        },
    )
    .unwrap();
    for &(_, acc) in &members {
        h.run(
            g.registrar,
            Command::Issue {
                project: ProjectId(1),
                vintage_year: 2024,
                quantity_tonnes: 1_000_000,
                buffer_tonnes: 0,
                to_account: acc,
                first_serial: None,
                external_ref: None,
            },
        )
        .unwrap();
        h.run(
            g.operator,
            Command::DepositCash {
                account: acc,
                currency: Currency::Usd,
                amount_minor: 1_000_000_000_000,
            },
        )
        .unwrap();
    }
    h.run(
        g.operator,
        Command::ListInstrument {
            spec: InstrumentSpec {
                symbol: "P-2024".into(),
                underlying: Underlying::ProjectVintage {
                    project: ProjectId(1),
                    vintage_year: 2024,
                },
                currency: Currency::Usd,
                tick_minor: TICK,
                lot_tonnes: LOT,
                band_bps: 5_000,
                reference_price_minor: REF,
                fees: FeeSchedule { maker_bps: 5, taker_bps: 15, min_fee_minor: 3 },
            },
        },
    )
    .unwrap();
    (h, g, members)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn engine_matches_the_reference_matcher(ops in proptest::collection::vec(op(), 1..120)) {
        let (mut h, g, members) = setup();
        let mut reference = Reference::default();
        let ins = InstrumentId(1);
        // Per order: tonnes filled so far and the most it may ever fill.
        let mut filled: std::collections::BTreeMap<u64, u64> = Default::default();
        let mut cap: std::collections::BTreeMap<u64, u64> = Default::default();
        for op in ops {
            match op {
                Op::Place { member, side, ticks, lots, tif, post_only, stp } => {
                    let price = REF + ticks * TICK;
                    let (tif, stp) = (tif_of(tif), stp_of(stp));
                    let o = RefOrder { id: 0, member, side, price, remaining: lots * LOT, priority: 0, post_only, stp };
                    let want = reference.place(o, tif);
                    let order = OrderRequest {
                        instrument: ins, account: members[member].1, side,
                        order_type: OrderType::Limit { price_minor: price }, quantity_tonnes: lots * LOT,
                        time_in_force: tif, post_only, client_order_id: None, self_trade: stp, retire: None,
                    };
                    let got = h.run(members[member].0, Command::PlaceOrder { order }).map(|e| engine_trades(&e));
                    if let Ok(trades) = &got {
                        cap.insert(reference.next_id, lots * LOT);
                        count_fills(&mut filled, trades);
                    }
                    prop_assert_eq!(got, want);
                }
                Op::Cancel { pick } => {
                    if reference.resting.is_empty() { continue; }
                    let o = reference.resting.remove(pick % reference.resting.len());
                    let r = h.run(members[o.member].0, Command::CancelOrder { order: OrderId(o.id) });
                    prop_assert!(r.is_ok(), "{:?}", r);
                }
                Op::Amend { pick, lots, ticks } => {
                    if reference.resting.is_empty() { continue; }
                    let o = reference.resting[pick % reference.resting.len()].clone();
                    let remaining = lots.map_or(o.remaining, |l| l * LOT);
                    let price = ticks.map_or(o.price, |t| REF + t * TICK);
                    let want = reference.amend(o.id, remaining, price);
                    let cmd = Command::AmendOrder { order: OrderId(o.id), remaining_tonnes: lots.map(|l| l * LOT), price_minor: ticks.map(|t| REF + t * TICK) };
                    let got = h.run(members[o.member].0, cmd).map(|e| engine_trades(&e));
                    if let Ok(trades) = &got {
                        cap.insert(o.id, filled.get(&o.id).copied().unwrap_or(0) + remaining);
                        count_fills(&mut filled, trades);
                    }
                    prop_assert_eq!(got, want);
                }
            }
            for (id, f) in &filled {
                prop_assert!(*f <= cap[id], "order {} filled {} of at most {}", id, f, cap[id]);
            }
            let book = h.state.book(ins).unwrap();
            prop_assert_eq!(book.depth(Side::Buy, 1_000), reference.depth(Side::Buy));
            prop_assert_eq!(book.depth(Side::Sell, 1_000), reference.depth(Side::Sell));
        }
        // Every hold returns to the tonne and the minor unit once the orders are gone.
        for &(org, acc) in &members {
            h.run(org, Command::CancelAllOrders { account: acc, instrument: None }).unwrap();
            prop_assert_eq!(h.state.balance(acc, Currency::Usd).reserved_minor, 0);
            let reserved: u64 = h.state.holdings_of(acc).map(|(_, x)| x.reserved_tonnes).sum();
            prop_assert_eq!(reserved, 0);
        }
        let _ = g;
        h.assert_replay_matches();
    }
}
