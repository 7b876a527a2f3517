//! Basket contracts: eligibility by criterion, deposits, delivery by priority then vintage then
//! serial, withdrawal, criteria changes, and baskets as auction lots.

use rasid_core::exchange::auction::{AuctionRule, AuctionSpec, LotSpec};
use rasid_core::exchange::basket::{BasketCriteria, BasketId};
use rasid_core::exchange::{
    FeeSchedule, InstrumentId, InstrumentSpec, OrderRequest, OrderType, SelfTradePrevention, Side,
    TimeInForce, Underlying,
};
use rasid_core::model::{Basis, CorsiaPhase, Effect, Labels, Program, ProjectInfo};
use rasid_core::testing::{Genesis, Harness};
use rasid_core::{AccountId, Command, Currency, Event, IssuanceId, OrgId, ProjectId, Rejection};

struct Setup {
    h: Harness,
    g: Genesis,
    seller: (OrgId, AccountId),
    buyer: (OrgId, AccountId),
}

const BASKET: BasketId = BasketId(1);
const INS: InstrumentId = InstrumentId(1);

fn project(
    program: Program,
    id: &str,
    country: &str,
    basis: Basis,
    effect: Effect,
    dev: OrgId,
) -> Command {
    Command::RegisterProject {
        info: Box::new(ProjectInfo {
            program,
            external_id: id.into(),
            name: id.into(),
            methodology: String::new(),
            country: country.into(),
            region: String::new(),
            scope: String::new(),
            project_type: "Afforestation".into(),
            effect,
            basis,
            developer: dev,
        }),
    }
}

/// Issuances (100 t each, to the seller): 1 = VCS1 Kazakhstan 2019, 2 = VCS1 2021,
/// 3 = GS2 Saudi Arabia technology 2022, 4 = VCS3 Brazil 2020 (CORSIA first phase).
/// Basket 1 "Nature 2020+" (VCS, nature, vintage ≥ 2020) listed as instrument 1.
fn setup() -> Setup {
    let (mut h, g) = Harness::with_genesis();
    let seller = h.member(g.operator, "Seller");
    let buyer = h.member(g.operator, "Buyer");
    h.run(
        g.registrar,
        project(Program::Vcs, "VCS1", "Kazakhstan", Basis::Nature, Effect::Removal, seller.0),
    )
    .unwrap();
    h.run(
        g.registrar,
        project(
            Program::GoldStandard,
            "GS2",
            "Saudi Arabia",
            Basis::Technology,
            Effect::Reduction,
            seller.0,
        ),
    )
    .unwrap();
    h.run(
        g.registrar,
        project(Program::Vcs, "VCS3", "Brazil", Basis::Nature, Effect::Mixed, seller.0),
    )
    .unwrap();
    for (p, v) in [(1, 2019), (1, 2021), (2, 2022), (3, 2020)] {
        h.run(
            g.registrar,
            Command::Issue {
                project: ProjectId(p),
                vintage_year: v,
                quantity_tonnes: 100,
                buffer_tonnes: 0,
                to_account: seller.1,
                first_serial: None,
                external_ref: None,
            },
        )
        .unwrap();
    }
    h.run(
        g.registrar,
        Command::SetLabels {
            issuance: IssuanceId(4),
            labels: Labels { corsia: Some(CorsiaPhase::First), ccp: false, article6: None },
        },
    )
    .unwrap();
    h.run(
        g.operator,
        Command::DepositCash {
            account: buyer.1,
            currency: Currency::Usd,
            amount_minor: 100_000_000,
        },
    )
    .unwrap();
    let criteria = BasketCriteria {
        programs: vec![Program::Vcs],
        bases: vec![Basis::Nature],
        vintage_min: Some(2020),
        ..Default::default()
    };
    h.run(
        g.operator,
        Command::CreateBasket { name: "Nature 2020+".into(), criteria: Box::new(criteria) },
    )
    .unwrap();
    h.run(
        g.operator,
        Command::ListInstrument {
            spec: InstrumentSpec {
                symbol: "N-2020".into(),
                underlying: Underlying::Basket { basket: BASKET },
                currency: Currency::Usd,
                tick_minor: 1,
                lot_tonnes: 10,
                band_bps: 5_000,
                reference_price_minor: 1_500,
                fees: FeeSchedule { maker_bps: 0, taker_bps: 0, min_fee_minor: 0 },
            },
        },
    )
    .unwrap();
    Setup { h, g, seller, buyer }
}

fn deposit(s: &mut Setup, issuance: u64, q: u64, priority: u32) -> Result<Vec<Event>, Rejection> {
    let (org, account) = s.seller;
    s.h.run(
        org,
        Command::DepositToBasket {
            basket: BASKET,
            account,
            issuance: IssuanceId(issuance),
            quantity_tonnes: q,
            priority,
        },
    )
}

fn order(account: AccountId, side: Side, q: u64) -> Command {
    Command::PlaceOrder {
        order: OrderRequest {
            instrument: INS,
            account,
            side,
            order_type: OrderType::Limit { price_minor: 1_500 },
            quantity_tonnes: q,
            time_in_force: TimeInForce::Gtc,
            post_only: false,
            client_order_id: None,
            self_trade: SelfTradePrevention::CancelIncoming,
            retire: None,
        },
    }
}

#[test]
fn deposits_are_refused_naming_the_criterion_they_fail() {
    let mut s = setup();
    assert_eq!(
        deposit(&mut s, 1, 10, 1),
        Err(Rejection::BasketVintage),
        "2019 is before the window"
    );
    assert_eq!(deposit(&mut s, 3, 10, 1), Err(Rejection::BasketProgram), "Gold Standard");
    deposit(&mut s, 2, 50, 1).unwrap();
    deposit(&mut s, 4, 50, 1).unwrap();
    let strict = BasketCriteria {
        places: vec!["Kazakhstan".into()],
        corsia: Some(CorsiaPhase::First),
        ..Default::default()
    };
    s.h.run(
        s.g.operator,
        Command::CreateBasket { name: "Strict".into(), criteria: Box::new(strict) },
    )
    .unwrap();
    let (org, account) = s.seller;
    let to_strict = |issuance| Command::DepositToBasket {
        basket: BasketId(2),
        account,
        issuance: IssuanceId(issuance),
        quantity_tonnes: 10,
        priority: 0,
    };
    assert_eq!(s.h.run(org, to_strict(4)), Err(Rejection::BasketPlace));
    assert_eq!(s.h.run(org, to_strict(2)), Err(Rejection::BasketLabel));
    let rated = BasketCriteria {
        rating_min: Some(60),
        effects: vec![Effect::Removal],
        ..Default::default()
    };
    s.h.run(
        s.g.operator,
        Command::CreateBasket { name: "Rated".into(), criteria: Box::new(rated) },
    )
    .unwrap();
    let to_rated = |issuance| Command::DepositToBasket {
        basket: BasketId(3),
        account,
        issuance: IssuanceId(issuance),
        quantity_tonnes: 10,
        priority: 0,
    };
    assert_eq!(s.h.run(org, to_rated(4)), Err(Rejection::BasketCategory), "mixed, not removal");
    assert_eq!(s.h.run(org, to_rated(2)), Err(Rejection::BasketRating), "no rating yet");
    s.h.run(s.g.registrar, Command::SetProjectRating { project: ProjectId(1), rating: Some(75) })
        .unwrap();
    s.h.run(org, to_rated(2)).unwrap();
    assert_eq!(
        s.h.run(
            s.buyer.0,
            Command::DepositToBasket {
                basket: BASKET,
                account,
                issuance: IssuanceId(2),
                quantity_tonnes: 1,
                priority: 0
            }
        ),
        Err(Rejection::Unauthorized)
    );
    assert_eq!(
        deposit(&mut s, 2, 51, 1),
        Err(Rejection::InsufficientCredits),
        "10 went to basket 3"
    );
}

#[test]
fn a_basket_fill_delivers_by_priority_then_vintage_then_serial_and_names_them() {
    let mut s = setup();
    deposit(&mut s, 2, 40, 2).unwrap(); // 2021, serials 101-140, priority 2
    deposit(&mut s, 4, 30, 2).unwrap(); // 2020, serials 301-330, priority 2
    deposit(&mut s, 2, 20, 1).unwrap(); // more 2021 (141-160): the deposit's priority becomes 1
    s.h.run(s.seller.0, order(s.seller.1, Side::Sell, 80)).unwrap();
    let events = s.h.run(s.buyer.0, order(s.buyer.1, Side::Buy, 80)).unwrap();
    let fill = events
        .iter()
        .find_map(|e| if let Event::Traded(f) = e { Some(f.clone()) } else { None })
        .unwrap();
    let delivered: Vec<(u64, Vec<_>)> =
        fill.serials.iter().map(|(i, set)| (i.0, set.to_vec())).collect();
    let r = |a, b| rasid_core::SerialRange::new(a, b).unwrap();
    assert_eq!(
        delivered,
        vec![(2, vec![r(101, 160)]), (4, vec![r(301, 320)])],
        "priority 1 first, then 2"
    );
    // Withdraw: only free serials; 10 t of issuance 4 remain free.
    let (org, account) = s.seller;
    let withdraw = |q| Command::WithdrawFromBasket {
        basket: BASKET,
        account,
        issuance: IssuanceId(4),
        quantity_tonnes: q,
    };
    assert_eq!(s.h.run(org, withdraw(11)), Err(Rejection::InsufficientCredits));
    s.h.run(org, withdraw(10)).unwrap();
    let h = s.h.state.holding(account, IssuanceId(4)).unwrap();
    assert_eq!((h.available.quantity_tonnes(), h.reserved_tonnes), (80, 0));
}

#[test]
fn criteria_changes_return_ineligible_deposits_and_open_orders_stay_valid() {
    let mut s = setup();
    deposit(&mut s, 2, 50, 1).unwrap(); // 2021
    deposit(&mut s, 4, 50, 2).unwrap(); // 2020
    let events = s.h.run(s.seller.0, order(s.seller.1, Side::Sell, 60)).unwrap();
    let sell = match events[0] {
        Event::OrderAccepted { order, .. } => order,
        _ => panic!(),
    };
    // Roll the window to 2021+: issuance 4 (2020) drops out. Its 40 free tonnes go home; the
    // 10 t the order holds stay with the order.
    let rolled = BasketCriteria {
        programs: vec![Program::Vcs],
        bases: vec![Basis::Nature],
        vintage_min: Some(2021),
        ..Default::default()
    };
    let events =
        s.h.run(
            s.g.operator,
            Command::SetBasketCriteria { basket: BASKET, criteria: Box::new(rolled) },
        )
        .unwrap();
    assert!(events.iter().any(|e| matches!(e, Event::BasketDepositReturned { issuance: IssuanceId(4), serials, .. } if serials.quantity_tonnes() == 40)));
    let h4 = s.h.state.holding(s.seller.1, IssuanceId(4)).unwrap();
    assert_eq!((h4.available.quantity_tonnes(), h4.reserved_tonnes), (90, 10));
    assert_eq!(deposit(&mut s, 4, 10, 1), Err(Rejection::BasketVintage));
    // Cancelling the order: 2021 serials back to the deposit, 2020 ones back to available.
    s.h.run(s.seller.0, Command::CancelOrder { order: sell }).unwrap();
    let h4 = s.h.state.holding(s.seller.1, IssuanceId(4)).unwrap();
    assert_eq!((h4.available.quantity_tonnes(), h4.reserved_tonnes), (100, 0));
    let h2 = s.h.state.holding(s.seller.1, IssuanceId(2)).unwrap();
    assert_eq!(h2.reserved_tonnes, 50, "all 50 back in the deposit");
    s.h.assert_replay_matches();
}

#[test]
fn a_basket_can_be_an_auction_lot_and_unsold_tonnes_return_to_the_deposits() {
    let mut s = setup();
    deposit(&mut s, 2, 60, 1).unwrap();
    deposit(&mut s, 4, 40, 1).unwrap();
    let now = s.h.time_ms;
    let lot = LotSpec {
        instrument: INS,
        seller: s.seller.1,
        quantity_tonnes: 100,
        reserve_price_minor: 1_000,
        min_bid_tonnes: 10,
        increment_tonnes: 10,
        guaranteed: vec![],
    };
    let spec = AuctionSpec {
        name: "Core basket".into(),
        rule: AuctionRule::UniformPrice,
        opens_at_ms: now,
        closes_at_ms: now + 10_000,
        approved_bidders: vec![],
        lots: vec![lot],
    };
    s.h.run(s.g.operator, Command::CreateAuction { spec }).unwrap();
    let auction = rasid_core::exchange::auction::AuctionId(1);
    s.h.run(
        s.buyer.0,
        Command::PlaceBid {
            auction,
            lot: 0,
            account: s.buyer.1,
            price_minor: 1_200,
            quantity_tonnes: 70,
        },
    )
    .unwrap();
    s.h.time_ms = now + 10_000;
    s.h.run(s.g.operator, Command::CloseAuction { auction }).unwrap();
    let result = s.h.state.auction(auction).unwrap().lots[0].result.clone().unwrap();
    assert_eq!((result.sold_tonnes, result.returned_tonnes), (70, 30));
    // 2020 (issuance 4) delivers before 2021 at equal priority: oldest vintage first.
    assert_eq!(result.allocations[0].serials.iter().next().unwrap().0, IssuanceId(4));
    let free: u64 = s.h.state.deposits().map(|(_, _, _, d)| d.free.quantity_tonnes()).sum();
    assert_eq!(free, 30);
}
