//! The exchange by hand: every order type, time in force and self-trade mode on worked
//! examples, with the cash and serials checked to the minor unit and the tonne. The harness
//! checks every invariant after every command and that rejections change nothing.

use rasid_core::exchange::{
    CancelReason, FeeSchedule, Fill, InstrumentId, InstrumentSpec, InstrumentStatus, OrderId,
    OrderRequest, OrderType, SelfTradePrevention, Side, TimeInForce, Underlying,
};
use rasid_core::model::{Basis, Effect, Program, ProjectInfo, Purpose, RetirementDetails};
use rasid_core::testing::{Genesis, Harness};
use rasid_core::{
    AccountId, Command, Currency, Event, IssuanceId, OrgId, ProjectId, Rejection, SerialRange,
};

const INS: InstrumentId = InstrumentId(1);
/// SAR 37.50 a tonne.
const REF: i64 = 3_750;
const FEES: FeeSchedule = FeeSchedule { maker_bps: 10, taker_bps: 20, min_fee_minor: 100 };

struct Market {
    h: Harness,
    g: Genesis,
    /// (org, account) of two sellers and two buyers.
    s1: (OrgId, AccountId),
    s2: (OrgId, AccountId),
    b1: (OrgId, AccountId),
    b2: (OrgId, AccountId),
}

fn range(a: u64, b: u64) -> SerialRange {
    SerialRange::new(a, b).unwrap()
}

/// Two sellers with 1,000 t each of project 1 vintage 2021 (serials 1-1000 and 1001-2000),
/// two buyers with SAR 1,000,000.00 each, and instrument 1 listed: tick 0.05, lot 10 t,
/// band ±20% around 37.50, fees 10/20 bps with a 1.00 minimum.
fn market() -> Market {
    let (mut h, g) = Harness::with_genesis();
    let s1 = h.member(g.operator, "Seller One");
    let s2 = h.member(g.operator, "Seller Two");
    let b1 = h.member(g.operator, "Buyer One");
    let b2 = h.member(g.operator, "Buyer Two");
    h.run(
        g.registrar,
        Command::RegisterProject {
            info: Box::new(ProjectInfo {
                country: "Saudi Arabia".into(),
                effect: Effect::Removal,
                basis: Basis::Nature,
                ..rasid_core::testing::project(Program::Vcs, "VCS1", "Mangroves", s1.0)
            }),
        },
    )
    .unwrap();
    for to in [s1.1, s2.1] {
        h.run(
            g.registrar,
            Command::Issue {
                project: ProjectId(1),
                vintage_year: 2021,
                quantity_tonnes: 1_000,
                buffer_tonnes: 0,
                to_account: to,
                first_serial: None,
                external_ref: None,
            },
        )
        .unwrap();
    }
    for to in [b1.1, b2.1] {
        h.run(
            g.operator,
            Command::DepositCash {
                account: to,
                currency: Currency::Sar,
                amount_minor: 100_000_000,
            },
        )
        .unwrap();
    }
    h.run(
        g.operator,
        Command::ListInstrument {
            spec: InstrumentSpec {
                symbol: "VCS1-2021".into(),
                underlying: Underlying::ProjectVintage {
                    project: ProjectId(1),
                    vintage_year: 2021,
                },
                currency: Currency::Sar,
                tick_minor: 5,
                lot_tonnes: 10,
                band_bps: 2_000,
                reference_price_minor: REF,
                fees: FEES,
            },
        },
    )
    .unwrap();
    Market { h, g, s1, s2, b1, b2 }
}

fn req(account: AccountId, side: Side, price: i64, q: u64) -> OrderRequest {
    OrderRequest {
        instrument: INS,
        account,
        side,
        order_type: OrderType::Limit { price_minor: price },
        quantity_tonnes: q,
        time_in_force: TimeInForce::Gtc,
        post_only: false,
        client_order_id: None,
        self_trade: SelfTradePrevention::CancelIncoming,
        retire: None,
    }
}

impl Market {
    fn place(&mut self, who: (OrgId, AccountId), r: OrderRequest) -> Result<Vec<Event>, Rejection> {
        self.h.run(who.0, Command::PlaceOrder { order: r })
    }

    fn limit(
        &mut self,
        who: (OrgId, AccountId),
        side: Side,
        price: i64,
        q: u64,
    ) -> (OrderId, Vec<Fill>) {
        let events = self.place(who, req(who.1, side, price, q)).unwrap();
        (accepted(&events), fills(&events))
    }

    fn sar(&self, account: AccountId) -> (i64, i64) {
        let b = self.h.state.balance(account, Currency::Sar);
        (b.available_minor, b.reserved_minor)
    }

    /// An account's available serials of an issuance, and its reserved ones (gathered from the
    /// orders that keep them; the audit after every command checks they add up to the tonnes
    /// the holding counts).
    fn held(&self, account: AccountId, issuance: u64) -> (Vec<SerialRange>, Vec<SerialRange>) {
        let s = &self.h.state;
        let available = s.holding(account, IssuanceId(issuance)).map(|h| h.available.to_vec());
        let reserved = s.reserved_serials_of(account, IssuanceId(issuance)).to_vec();
        (available.unwrap_or_default(), reserved)
    }
}

fn accepted(events: &[Event]) -> OrderId {
    match events.first() {
        Some(Event::OrderAccepted { order, .. }) => *order,
        other => panic!("expected OrderAccepted first, got {other:?}"),
    }
}

fn fills(events: &[Event]) -> Vec<Fill> {
    events
        .iter()
        .filter_map(|e| if let Event::Traded(f) = e { Some(f.clone()) } else { None })
        .collect()
}

fn cancels(events: &[Event]) -> Vec<(OrderId, CancelReason, u64)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::OrderCancelled { order, reason, remaining_tonnes, .. } => {
                Some((*order, *reason, *remaining_tonnes))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_crossing_buy_trades_at_the_resting_price_and_settles_serials_cash_and_fees() {
    let mut m = market();
    let (sell, _) = m.limit(m.s1, Side::Sell, 3_700, 100);
    assert_eq!(
        m.held(m.s1.1, 1),
        (vec![range(101, 1_000)], vec![range(1, 100)]),
        "lowest serials reserved"
    );
    let (buy, fills) = m.limit(m.b1, Side::Buy, 3_800, 60);
    assert_eq!(fills.len(), 1);
    let f = &fills[0];
    assert_eq!(
        (f.price_minor, f.quantity_tonnes, f.buy_order, f.sell_order),
        (3_700, 60, buy, sell)
    );
    assert_eq!(
        f.serials.clone().into_vec(),
        vec![(IssuanceId(1), rasid_core::RangeSet::from_range(range(1, 60)))]
    );
    // Notional 60 × 37.00 = 2,220.00. Buyer is taker (20 bps = 4.44); seller maker (10 bps =
    // 2.22). Fees above the 1.00 minimum.
    assert_eq!((f.buyer_fee_minor, f.seller_fee_minor), (444, 222));
    assert_eq!(
        m.sar(m.b1.1),
        (100_000_000 - 222_000 - 444, 0),
        "the buy filled in full: nothing stays held"
    );
    assert_eq!(m.sar(m.s1.1), (222_000 - 222, 0));
    assert_eq!(m.sar(m.g.fees), (666, 0));
    assert_eq!(m.held(m.b1.1, 1), (vec![range(1, 60)], vec![]));
    assert_eq!(m.held(m.s1.1, 1), (vec![range(101, 1_000)], vec![range(61, 100)]));
    let book = m.h.state.book(INS).unwrap();
    assert_eq!(book.depth(Side::Sell, 5), vec![(3_700, 40, 1)]);
    assert!(book.depth(Side::Buy, 5).is_empty());
}

#[test]
fn price_then_time_priority_and_partial_fills() {
    let mut m = market();
    let (a, _) = m.limit(m.s1, Side::Sell, 3_750, 30);
    let (b, _) = m.limit(m.s2, Side::Sell, 3_750, 30);
    let (c, _) = m.limit(m.s2, Side::Sell, 3_740, 20);
    let (_, fills) = m.limit(m.b1, Side::Buy, 3_750, 60);
    let got: Vec<(OrderId, i64, u64)> =
        fills.iter().map(|f| (f.sell_order, f.price_minor, f.quantity_tonnes)).collect();
    assert_eq!(got, vec![(c, 3_740, 20), (a, 3_750, 30), (b, 3_750, 10)]);
    assert_eq!(m.h.state.order(b).unwrap().remaining_tonnes, 20);
    // Serials: b reserved seller two's lowest (1001-1030) before c (1031-1050); a holds 1-30.
    let delivered: Vec<SerialRange> =
        fills.iter().flat_map(|f| f.serials.iter().flat_map(|(_, s)| s.to_vec())).collect();
    assert_eq!(delivered, vec![range(1_031, 1_050), range(1, 30), range(1_001, 1_010)]);
}

#[test]
fn ioc_cancels_the_rest_fok_is_all_or_nothing_post_only_never_takes() {
    let mut m = market();
    m.limit(m.s1, Side::Sell, 3_750, 50);
    let ioc = OrderRequest { time_in_force: TimeInForce::Ioc, ..req(m.b1.1, Side::Buy, 3_750, 80) };
    let events = m.place(m.b1, ioc).unwrap();
    assert_eq!(fills(&events)[0].quantity_tonnes, 50);
    assert_eq!(cancels(&events), vec![(accepted(&events), CancelReason::Unfilled, 30)]);
    assert_eq!(m.sar(m.b1.1).1, 0, "the IOC's unused hold is released");

    m.limit(m.s1, Side::Sell, 3_760, 50);
    let fok = OrderRequest { time_in_force: TimeInForce::Fok, ..req(m.b1.1, Side::Buy, 3_760, 60) };
    assert_eq!(m.place(m.b1, fok.clone()), Err(Rejection::FokNotFilled));
    let fok = OrderRequest { quantity_tonnes: 50, ..fok };
    assert_eq!(fills(&m.place(m.b1, fok).unwrap()).len(), 1);

    m.limit(m.s2, Side::Sell, 3_800, 10);
    let post = OrderRequest { post_only: true, ..req(m.b2.1, Side::Buy, 3_800, 10) };
    assert_eq!(m.place(m.b2, post.clone()), Err(Rejection::PostOnlyWouldCross));
    let post = OrderRequest { order_type: OrderType::Limit { price_minor: 3_795 }, ..post };
    assert!(matches!(m.place(m.b2, post).unwrap().last(), Some(Event::OrderRested { .. })));
}

#[test]
fn market_orders_trade_within_the_band_only() {
    let mut m = market();
    m.limit(m.s1, Side::Sell, 3_900, 20);
    m.limit(m.s1, Side::Sell, 4_400, 20);
    // Move the band down: 4,400 is now outside [3,000, 4,500 → 3,040..4,560]? Reference 3,800,
    // band ±20% = [3,040, 4,560]; then 3,500 → [2,800, 4,200].
    m.h.run(m.g.operator, Command::SetReferencePrice { instrument: INS, price_minor: 3_500 })
        .unwrap();
    let mkt = OrderRequest {
        order_type: OrderType::Market,
        time_in_force: TimeInForce::Ioc,
        ..req(m.b1.1, Side::Buy, 0, 40)
    };
    let events = m.place(m.b1, mkt.clone()).unwrap();
    let got: Vec<(i64, u64)> =
        fills(&events).iter().map(|f| (f.price_minor, f.quantity_tonnes)).collect();
    assert_eq!(got, vec![(3_900, 20)], "4,400 is beyond the band edge 4,200");
    assert_eq!(cancels(&events)[0].2, 20);
    let gtc_market = OrderRequest { time_in_force: TimeInForce::Gtc, ..mkt };
    assert_eq!(m.place(m.b1, gtc_market), Err(Rejection::InvalidTimeInForce));
    assert_eq!(m.place(m.b1, req(m.b1.1, Side::Buy, 4_205, 10)), Err(Rejection::PriceOutsideBand));
}

#[test]
fn self_trade_prevention_in_each_mode() {
    let mut m = market();
    // Seller one also buys through a second account of its own.
    let own_buy_acc = m.h.open_account(m.g.operator, m.s1.0);
    m.h.run(
        m.g.operator,
        Command::DepositCash {
            account: own_buy_acc,
            currency: Currency::Sar,
            amount_minor: 10_000_000,
        },
    )
    .unwrap();
    let me = (m.s1.0, own_buy_acc);
    let (resting, _) = m.limit(m.s1, Side::Sell, 3_750, 20);
    let (other, _) = m.limit(m.s2, Side::Sell, 3_750, 20);

    let stp = |mode| OrderRequest { self_trade: mode, ..req(own_buy_acc, Side::Buy, 3_750, 30) };
    // Cancel incoming: nothing trades, the incoming order is cancelled, the resting stays.
    let events = m.place(me, stp(SelfTradePrevention::CancelIncoming)).unwrap();
    assert!(fills(&events).is_empty());
    assert_eq!(cancels(&events), vec![(accepted(&events), CancelReason::SelfTrade, 30)]);
    assert!(m.h.state.order(resting).is_some());
    // Cancel resting: the own resting order goes, and the incoming trades with the next one.
    let events = m.place(me, stp(SelfTradePrevention::CancelResting)).unwrap();
    assert_eq!(cancels(&events)[0], (resting, CancelReason::SelfTrade, 20));
    assert_eq!(fills(&events)[0].sell_order, other);
    assert!(matches!(events.last(), Some(Event::OrderRested { remaining_tonnes: 10, .. })));
    m.h.run(me.0, Command::CancelOrder { order: accepted(&events) }).unwrap();
    // Cancel both.
    let (resting2, _) = m.limit(m.s1, Side::Sell, 3_745, 10);
    let events = m.place(me, stp(SelfTradePrevention::CancelBoth)).unwrap();
    let c = cancels(&events);
    assert_eq!(c[0], (resting2, CancelReason::SelfTrade, 10));
    assert_eq!(c[1].1, CancelReason::SelfTrade);
    assert!(fills(&events).is_empty());
}

#[test]
fn amendments_keep_or_lose_priority_as_documented() {
    let mut m = market();
    let (a, _) = m.limit(m.s1, Side::Sell, 3_750, 50);
    let (b, _) = m.limit(m.s2, Side::Sell, 3_750, 50);
    // a shrinks: keeps its place and releases the top of its serials.
    m.h.run(
        m.s1.0,
        Command::AmendOrder { order: a, remaining_tonnes: Some(30), price_minor: None },
    )
    .unwrap();
    assert_eq!(m.held(m.s1.1, 1).1, vec![range(1, 30)]);
    let (_, f) = m.limit(m.b1, Side::Buy, 3_750, 10);
    assert_eq!(f[0].sell_order, a, "a kept time priority");
    // a grows: goes behind b.
    m.h.run(
        m.s1.0,
        Command::AmendOrder { order: a, remaining_tonnes: Some(40), price_minor: None },
    )
    .unwrap();
    let (_, f) = m.limit(m.b1, Side::Buy, 3_750, 10);
    assert_eq!(f[0].sell_order, b, "a lost priority by growing");
    // b reprices up, losing priority; then a buy at 3,750 meets a.
    m.h.run(
        m.s2.0,
        Command::AmendOrder { order: b, remaining_tonnes: None, price_minor: Some(3_760) },
    )
    .unwrap();
    let (_, f) = m.limit(m.b1, Side::Buy, 3_750, 10);
    assert_eq!(f[0].sell_order, a);
    // An amendment that crosses trades at once.
    let (bid, _) = m.limit(m.b2, Side::Buy, 3_700, 10);
    let events =
        m.h.run(
            m.b2.0,
            Command::AmendOrder { order: bid, remaining_tonnes: None, price_minor: Some(3_760) },
        )
        .unwrap();
    assert_eq!(fills(&events)[0].price_minor, 3_750, "trades at the resting price");
    // Another member may neither amend nor cancel it; nothing changed may not be amended.
    assert_eq!(
        m.h.run(
            m.s1.0,
            Command::AmendOrder { order: b, remaining_tonnes: Some(10), price_minor: None }
        ),
        Err(Rejection::Unauthorized)
    );
    assert_eq!(m.h.run(m.s1.0, Command::CancelOrder { order: b }), Err(Rejection::Unauthorized));
    assert_eq!(
        m.h.run(
            m.s2.0,
            Command::AmendOrder { order: b, remaining_tonnes: None, price_minor: Some(3_760) }
        ),
        Err(Rejection::NothingToAmend)
    );
    // A buy amended beyond its cash is refused.
    let (big, _) = m.limit(m.b2, Side::Buy, 3_000, 10);
    let too_much =
        Command::AmendOrder { order: big, remaining_tonnes: Some(40_000), price_minor: None };
    assert_eq!(m.h.run(m.b2.0, too_much), Err(Rejection::InsufficientCash));
}

#[test]
fn day_orders_end_with_the_session_and_gtd_orders_at_their_time() {
    let mut m = market();
    let day = OrderRequest { time_in_force: TimeInForce::Day, ..req(m.b1.1, Side::Buy, 3_700, 10) };
    let day_id = accepted(&m.place(m.b1, day).unwrap());
    let expires = m.h.time_ms + 5_000;
    let gtd = OrderRequest {
        time_in_force: TimeInForce::Gtd { expires_at_ms: expires },
        ..req(m.b1.1, Side::Buy, 3_705, 10)
    };
    let gtd_id = accepted(&m.place(m.b1, gtd.clone()).unwrap());
    let past =
        OrderRequest { time_in_force: TimeInForce::Gtd { expires_at_ms: m.h.time_ms }, ..gtd };
    assert_eq!(m.place(m.b1, past), Err(Rejection::InvalidTimeInForce));
    assert_eq!(m.h.state.next_expiry_ms(), Some(expires));
    assert_eq!(m.h.run(m.g.operator, Command::ExpireOrders), Err(Rejection::NothingDue));
    m.h.time_ms = expires;
    let events = m.h.run(m.g.operator, Command::ExpireOrders).unwrap();
    assert_eq!(cancels(&events), vec![(gtd_id, CancelReason::Expired, 10)]);
    let events = m.h.run(m.g.operator, Command::CloseSession { instrument: None }).unwrap();
    assert_eq!(cancels(&events), vec![(day_id, CancelReason::SessionClosed, 10)]);
    assert_eq!(m.sar(m.b1.1), (100_000_000, 0), "every hold released to the minor unit");
}

#[test]
fn buy_and_retire_retires_what_it_receives_in_the_same_step() {
    let mut m = market();
    m.limit(m.s1, Side::Sell, 3_750, 40);
    let details = RetirementDetails {
        beneficiary: "Gulf Aviation Group".into(),
        purpose: Purpose::Corsia,
        using_entity: String::new(),
        note: String::new(),
    };
    let r = OrderRequest {
        retire: Some(Box::new(details.clone())),
        ..req(m.b1.1, Side::Buy, 3_750, 40)
    };
    let events = m.place(m.b1, r).unwrap();
    let fill = &fills(&events)[0];
    assert_eq!(fill.retirements.len(), 1);
    let ret = m.h.state.retirement(fill.retirements[0]).unwrap();
    assert_eq!(
        (ret.details.beneficiary.as_str(), ret.serials.to_vec()),
        ("Gulf Aviation Group", vec![range(1, 40)])
    );
    assert_eq!(m.held(m.b1.1, 1), (vec![], vec![]), "nothing stays with the buyer");
    let sell_retire =
        OrderRequest { retire: Some(Box::new(details)), ..req(m.s1.1, Side::Sell, 3_750, 10) };
    assert_eq!(m.place(m.s1, sell_retire), Err(Rejection::RetireRequiresBuy));
}

#[test]
fn halts_closures_and_every_bad_order_have_their_own_code() {
    let mut m = market();
    let (b1, s1) = (m.b1, m.s1);
    let cases: Vec<(OrderRequest, Rejection)> = vec![
        (
            OrderRequest { instrument: InstrumentId(9), ..req(b1.1, Side::Buy, 3_750, 10) },
            Rejection::UnknownInstrument,
        ),
        (req(b1.1, Side::Buy, 3_751, 10), Rejection::PriceOffTick),
        (req(b1.1, Side::Buy, 3_750, 15), Rejection::QuantityNotLotMultiple),
        (req(b1.1, Side::Buy, 3_750, 0), Rejection::ZeroQuantity),
        (req(b1.1, Side::Buy, 2_995, 10), Rejection::PriceOutsideBand),
        (req(b1.1, Side::Buy, 3_750, 1_000_000), Rejection::InsufficientCash),
        (req(b1.1, Side::Sell, 3_750, 10), Rejection::InsufficientCredits),
        (req(s1.1, Side::Sell, 3_750, 1_010), Rejection::InsufficientCredits),
        (req(s1.1, Side::Buy, 0, 10), Rejection::InvalidPrice),
    ];
    for (r, want) in cases {
        let who = if r.account == b1.1 { b1 } else { s1 };
        assert_eq!(m.place(who, r.clone()), Err(want), "{r:?}");
    }
    assert_eq!(
        m.place(b1, req(s1.1, Side::Sell, 3_750, 10)),
        Err(Rejection::Unauthorized),
        "not b1's account"
    );
    let cid =
        OrderRequest { client_order_id: Some("A-1".into()), ..req(b1.1, Side::Buy, 3_700, 10) };
    m.place(b1, cid.clone()).unwrap();
    assert_eq!(m.place(b1, cid), Err(Rejection::DuplicateClientOrderId));

    let (resting, _) = m.limit(s1, Side::Sell, 3_800, 10);
    m.h.run(
        m.g.operator,
        Command::SetInstrumentStatus { instrument: INS, status: InstrumentStatus::Halted },
    )
    .unwrap();
    assert_eq!(m.place(b1, req(b1.1, Side::Buy, 3_750, 10)), Err(Rejection::InstrumentHalted));
    assert_eq!(
        m.h.run(
            s1.0,
            Command::AmendOrder {
                order: resting,
                remaining_tonnes: Some(10),
                price_minor: Some(3_790)
            }
        ),
        Err(Rejection::InstrumentHalted)
    );
    m.h.run(s1.0, Command::CancelOrder { order: resting }).unwrap();
    m.h.run(
        m.g.operator,
        Command::SetInstrumentStatus { instrument: INS, status: InstrumentStatus::Closed },
    )
    .unwrap();
    assert_eq!(m.place(b1, req(b1.1, Side::Buy, 3_750, 10)), Err(Rejection::InstrumentClosed));
    assert!(m.h.state.orders_of(b1.1).next().is_none(), "closing cancelled the last open order");
    assert_eq!(m.sar(b1.1), (100_000_000, 0));
    m.h.assert_replay_matches();
}

#[test]
fn serials_held_by_a_sell_order_cannot_be_retired_transferred_or_cancelled() {
    let mut m = market();
    let (order, _) = m.limit(m.s1, Side::Sell, 3_800, 40);
    assert_eq!(m.held(m.s1.1, 1).1, vec![range(1, 40)]);
    // The holding counts the 40 t; which serials they are, and whose, the order keeps.
    assert_eq!(m.h.state.holding(m.s1.1, IssuanceId(1)).unwrap().reserved_tonnes, 40);
    let located = |serial| m.h.state.locate_serial(serial);
    let held = |reserved| rasid_core::SerialLocation::Held {
        issuance: IssuanceId(1),
        account: m.s1.1,
        reserved,
    };
    assert_eq!((located(40), located(41)), (held(true), held(false)));
    let named = rasid_core::Selection::Ranges(vec![range(30, 50)]);
    let details = RetirementDetails {
        beneficiary: "B".into(),
        purpose: Purpose::Voluntary,
        using_entity: String::new(),
        note: String::new(),
    };
    let retire = |selection| Command::Retire {
        account: m.s1.1,
        issuance: IssuanceId(1),
        selection,
        details: Box::new(details.clone()),
    };
    assert_eq!(m.h.run(m.s1.0, retire(named.clone())), Err(Rejection::CreditsReserved));
    assert_eq!(
        m.h.run(m.s1.0, retire(rasid_core::Selection::Quantity(961))),
        Err(Rejection::InsufficientCredits)
    );
    let transfer = Command::Transfer {
        from: m.s1.1,
        to: m.s2.1,
        issuance: IssuanceId(1),
        selection: named.clone(),
    };
    assert_eq!(m.h.run(m.s1.0, transfer), Err(Rejection::CreditsReserved));
    let cancel = Command::Cancel {
        account: m.s1.1,
        issuance: IssuanceId(1),
        selection: named.clone(),
        reason: "x".into(),
    };
    assert_eq!(m.h.run(m.g.registrar, cancel), Err(Rejection::CreditsReserved));
    m.h.run(m.s1.0, retire(rasid_core::Selection::Quantity(960))).unwrap();
    m.h.run(m.s1.0, Command::CancelOrder { order }).unwrap();
    assert_eq!(
        m.h.run(m.s1.0, retire(named)),
        Err(Rejection::AlreadyRetired),
        "41-50 went with the 960 t"
    );
    m.h.run(m.s1.0, retire(rasid_core::Selection::Ranges(vec![range(30, 40)]))).unwrap();
}

/// A new sell's serials leave the available sets when it is accepted and are counted as
/// reserved until its fills deliver them: a sell across two issuances that sells one out drops
/// that holding, rests the rest as reserved, and an IOC or self-trade remainder goes straight
/// back to available.
#[test]
fn a_new_sell_across_two_issuances_settles_rests_and_cancels_like_a_reserved_one() {
    let mut m = market();
    // Seller one's second issuance of the class: serials 2001-2100 (issuance 3).
    m.h.run(
        m.g.registrar,
        Command::Issue {
            project: ProjectId(1),
            vintage_year: 2021,
            quantity_tonnes: 100,
            buffer_tonnes: 0,
            to_account: m.s1.1,
            first_serial: None,
            external_ref: None,
        },
    )
    .unwrap();
    m.limit(m.b1, Side::Buy, 3_750, 990);
    m.limit(m.b2, Side::Buy, 3_750, 20);
    // Sells 1,050 t: all of issuance 1 and 50 of issuance 3; 1,010 fill, 40 rest.
    let (sell, traded) = m.limit(m.s1, Side::Sell, 3_750, 1_050);
    let delivered: Vec<(IssuanceId, Vec<SerialRange>)> =
        traded.iter().flat_map(|f| f.serials.iter().map(|(i, s)| (i, s.to_vec()))).collect();
    assert_eq!(
        delivered,
        vec![
            (IssuanceId(1), vec![range(1, 990)]),
            (IssuanceId(1), vec![range(991, 1_000)]),
            (IssuanceId(3), vec![range(2_001, 2_010)]),
        ]
    );
    assert!(m.h.state.holding(m.s1.1, IssuanceId(1)).is_none(), "sold out: the holding goes");
    assert_eq!(m.held(m.s1.1, 3), (vec![range(2_051, 2_100)], vec![range(2_011, 2_050)]));
    assert_eq!(m.h.state.order(sell).unwrap().remaining_tonnes, 40);
    // An IOC sell with nothing to trade: its serials return to available at once.
    let ioc =
        OrderRequest { time_in_force: TimeInForce::Ioc, ..req(m.s1.1, Side::Sell, 3_750, 30) };
    let events = m.place(m.s1, ioc).unwrap();
    assert_eq!(cancels(&events), vec![(accepted(&events), CancelReason::Unfilled, 30)]);
    assert_eq!(m.held(m.s1.1, 3), (vec![range(2_051, 2_100)], vec![range(2_011, 2_050)]));
    // A sell stopped by self-trade prevention after one fill (its seller's own bid is next):
    // the rest returns to available.
    m.h.run(m.s1.0, Command::CancelOrder { order: sell }).unwrap();
    m.limit(m.b2, Side::Buy, 3_800, 10);
    m.limit(m.s1, Side::Buy, 3_760, 10);
    let events = m.place(m.s1, req(m.s1.1, Side::Sell, 3_700, 30)).unwrap();
    let sold: Vec<u64> = fills(&events).iter().map(|f| f.quantity_tonnes).collect();
    assert_eq!(sold, vec![10]);
    assert_eq!(cancels(&events), vec![(accepted(&events), CancelReason::SelfTrade, 20)]);
    assert_eq!(m.held(m.s1.1, 3), (vec![range(2_021, 2_100)], vec![]));
}

/// A buyer that already holds an issuance is credited through its account's log, not the
/// holding (`holdings.rs`); nothing may tell the two apart. The logged serials show at once,
/// a sell reserves the lowest serials across the holding and the log, and the ledger replays
/// and round-trips through a snapshot while credits sit in the log.
#[test]
fn credits_in_a_buyers_log_are_seen_sold_and_snapshotted_like_held_ones() {
    let mut m = market();
    m.limit(m.s1, Side::Sell, 3_700, 100);
    m.limit(m.s2, Side::Sell, 3_750, 100);
    m.limit(m.b1, Side::Buy, 3_700, 30); // 1-30: a new holding
    m.limit(m.b2, Side::Buy, 3_700, 20); // 31-50 to the other buyer
    m.limit(m.b1, Side::Buy, 3_700, 30); // 51-80: logged
    assert_eq!(m.held(m.b1.1, 1), (vec![range(1, 30), range(51, 80)], vec![]));
    // 81-100 of issuance 1 (logged, and joining 51-80), then 1001-1020 of issuance 2 (new).
    let (_, traded) = m.limit(m.b1, Side::Buy, 3_750, 40);
    assert_eq!(traded.len(), 2);
    assert_eq!(m.held(m.b1.1, 1), (vec![range(1, 30), range(51, 100)], vec![]));
    assert_eq!(m.held(m.b1.1, 2), (vec![range(1_001, 1_020)], vec![]));
    let tonnes: Vec<(u64, u64)> =
        m.h.state.holdings_of(m.b1.1).map(|(i, h)| (i.0, h.available.quantity_tonnes())).collect();
    assert_eq!(tonnes, vec![(1, 80), (2, 20)]);
    m.h.assert_replay_matches();
    // The buyer sells 50: the lowest are 1-30 from the holding and 51-70 from the log.
    let (sell, _) = m.limit(m.b1, Side::Sell, 3_800, 50);
    assert_eq!(m.held(m.b1.1, 1), (vec![range(71, 100)], vec![range(1, 30), range(51, 70)]));
    assert_eq!(m.h.state.order(sell).unwrap().remaining_tonnes, 50);
    m.h.assert_replay_matches();
}

/// One buy that takes over 1,024 resting sells logs over 1,024 ranges to its buyer, so the log
/// reaches its bound and is merged in the middle of the command (between two fills). The
/// buyer ends with exactly the serials sold, and the ledger replays and round-trips.
#[test]
fn a_buy_of_more_fills_than_the_log_holds_merges_it_mid_command() {
    let mut m = market();
    const SELLS: u64 = 1_030;
    m.h.run(
        m.g.registrar,
        Command::Issue {
            project: ProjectId(1),
            vintage_year: 2021,
            quantity_tonnes: SELLS * 10,
            buffer_tonnes: 0,
            to_account: m.s2.1,
            first_serial: None,
            external_ref: None,
        },
    )
    .unwrap();
    // Seller two holds 1001-2000 (issuance 2) and 2001-13000 (issuance 3); its sells take the
    // lowest first. Buyer one first takes 10 of issuance 3, so it holds that issuance and the
    // rest of its credits go through the log.
    for _ in 0..100 + SELLS {
        m.limit(m.s2, Side::Sell, 3_700, 10);
    }
    m.limit(m.b1, Side::Buy, 3_700, 1_010);
    assert_eq!(m.held(m.b1.1, 3), (vec![range(2_001, 2_010)], vec![]));
    let (_, traded) = m.limit(m.b1, Side::Buy, 3_700, (SELLS - 1) * 10);
    assert_eq!(traded.len() as u64, SELLS - 1);
    assert_eq!(m.held(m.b1.1, 3), (vec![range(2_001, 2_000 + SELLS * 10)], vec![]));
    m.h.assert_replay_matches();
}
