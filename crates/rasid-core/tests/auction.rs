//! Sealed-bid auctions: hand-worked clearing cases and properties on random bids. The harness
//! checks every invariant after every command and that rejections change nothing.

use proptest::prelude::*;
use rasid_core::exchange::auction::{AuctionId, AuctionRule, AuctionSpec, LotSpec};
use rasid_core::exchange::{FeeSchedule, InstrumentId, InstrumentSpec, Underlying};
use rasid_core::model::{Program, ProjectInfo};
use rasid_core::testing::{Genesis, Harness};
use rasid_core::{AccountId, Command, Currency, Event, IssuanceId, OrgId, ProjectId, Rejection};
use std::collections::BTreeMap;

struct Room {
    h: Harness,
    g: Genesis,
    seller: (OrgId, AccountId),
    bidders: Vec<(OrgId, AccountId)>,
}

const CASH: i64 = 1_000_000_000;

/// A seller with 1,000 t (serials 1-1000), `n` bidders with SAR 10,000,000.00 each, and an
/// instrument for the class with the given fees.
fn room(n: usize, fees: FeeSchedule) -> Room {
    let (mut h, g) = Harness::with_genesis();
    let seller = h.member(g.operator, "Seller");
    let bidders: Vec<_> = (0..n).map(|i| h.member(g.operator, &format!("Bidder {i}"))).collect();
    h.run(
        g.registrar,
        Command::RegisterProject {
            info: Box::new(ProjectInfo {
                country: "Uzbekistan".into(),
                region: "Central Asia".into(),
                ..rasid_core::testing::project(Program::GoldStandard, "GS1", "Cookstoves", seller.0)
            }),
        },
    )
    .unwrap();
    h.run(
        g.registrar,
        Command::Issue {
            project: ProjectId(1),
            vintage_year: 2022,
            quantity_tonnes: 1_000,
            buffer_tonnes: 0,
            to_account: seller.1,
            first_serial: None,
            external_ref: None,
        },
    )
    .unwrap();
    for b in &bidders {
        h.run(
            g.operator,
            Command::DepositCash { account: b.1, currency: Currency::Sar, amount_minor: CASH },
        )
        .unwrap();
    }
    h.run(
        g.operator,
        Command::ListInstrument {
            spec: InstrumentSpec {
                symbol: "GS1-2022".into(),
                underlying: Underlying::ProjectVintage {
                    project: ProjectId(1),
                    vintage_year: 2022,
                },
                currency: Currency::Sar,
                tick_minor: 50,
                lot_tonnes: 1,
                band_bps: 5_000,
                reference_price_minor: 3_750,
                fees,
            },
        },
    )
    .unwrap();
    Room { h, g, seller, bidders }
}

const NO_FEES: FeeSchedule = FeeSchedule { maker_bps: 0, taker_bps: 0, min_fee_minor: 0 };

fn lot(seller: AccountId, quantity: u64, guaranteed: Vec<(OrgId, u64)>) -> LotSpec {
    LotSpec {
        instrument: InstrumentId(1),
        seller,
        quantity_tonnes: quantity,
        reserve_price_minor: 3_000,
        min_bid_tonnes: 10,
        increment_tonnes: 10,
        guaranteed,
    }
}

impl Room {
    fn create(&mut self, rule: AuctionRule, lots: Vec<LotSpec>, approved: Vec<OrgId>) -> AuctionId {
        let now = self.h.time_ms;
        let spec = AuctionSpec {
            name: "Launch auction".into(),
            rule,
            opens_at_ms: now + 10_000,
            closes_at_ms: now + 100_000,
            approved_bidders: approved,
            lots,
        };
        let events = self.h.run(self.g.operator, Command::CreateAuction { spec }).unwrap();
        let [Event::AuctionCreated { auction }] = events[..] else { panic!("{events:?}") };
        self.h.time_ms = now + 10_000;
        auction
    }

    fn bid(
        &mut self,
        who: usize,
        auction: AuctionId,
        price: i64,
        q: u64,
    ) -> Result<Vec<Event>, Rejection> {
        let (org, account) = self.bidders[who];
        self.h.run(
            org,
            Command::PlaceBid { auction, lot: 0, account, price_minor: price, quantity_tonnes: q },
        )
    }

    fn close(&mut self, auction: AuctionId) -> Result<Vec<Event>, Rejection> {
        self.h.time_ms += 100_000;
        self.h.run(self.g.operator, Command::CloseAuction { auction })
    }

    /// Per bidder index: (tonnes won, price paid per tonne).
    fn won(&self, auction: AuctionId) -> BTreeMap<usize, (u64, i64)> {
        let a = self.h.state.auction(auction).unwrap();
        let mut out = BTreeMap::new();
        for al in &a.lots[0].result.as_ref().unwrap().allocations {
            let who = self.bidders.iter().position(|b| b.1 == al.account).unwrap();
            out.insert(who, (al.quantity_tonnes, al.price_minor));
        }
        out
    }

    fn sar(&self, account: AccountId) -> (i64, i64) {
        let b = self.h.state.balance(account, Currency::Sar);
        (b.available_minor, b.reserved_minor)
    }
}

#[test]
fn uniform_price_oversubscribed_everyone_pays_the_lowest_accepted_bid() {
    let mut r = room(4, NO_FEES);
    let a = r.create(AuctionRule::UniformPrice, vec![lot(r.seller.1, 100, vec![])], vec![]);
    r.bid(0, a, 4_000, 50).unwrap();
    r.bid(1, a, 3_800, 40).unwrap();
    r.bid(2, a, 3_600, 30).unwrap();
    r.bid(3, a, 3_400, 20).unwrap();
    assert_eq!(r.sar(r.bidders[3].1), (CASH - 68_000, 68_000), "a bid holds its cash");
    r.close(a).unwrap();
    assert_eq!(r.won(a), BTreeMap::from([(0, (50, 3_600)), (1, (40, 3_600)), (2, (10, 3_600))]));
    let res = r.h.state.auction(a).unwrap().lots[0].result.clone().unwrap();
    assert_eq!(
        (res.clearing_price_minor, res.sold_tonnes, res.returned_tonnes, res.bids, res.bidders),
        (Some(3_600), 100, 0, 4, 4)
    );
    assert_eq!(res.demand_curve, vec![(4_000, 50), (3_800, 90), (3_600, 120), (3_400, 140)]);
    assert_eq!(r.sar(r.bidders[0].1), (CASH - 50 * 3_600, 0));
    assert_eq!(r.sar(r.bidders[3].1), (CASH, 0), "a losing bid gets its cash back");
    assert_eq!(r.sar(r.seller.1), (100 * 3_600, 0));
    // Serials: lowest first, in the order clearing settles the winners.
    let h0 = r.h.state.holding(r.bidders[0].1, IssuanceId(1)).unwrap();
    assert_eq!(h0.available.quantity_tonnes(), 50);
    assert_eq!(r.close(a), Err(Rejection::AuctionClosed), "a second close");
}

#[test]
fn pay_as_bid_and_fees() {
    let fees = FeeSchedule { maker_bps: 10, taker_bps: 20, min_fee_minor: 100 };
    let mut r = room(3, fees);
    let a = r.create(AuctionRule::PayAsBid, vec![lot(r.seller.1, 100, vec![])], vec![]);
    r.bid(0, a, 4_000, 50).unwrap();
    r.bid(1, a, 3_800, 40).unwrap();
    r.bid(2, a, 3_600, 30).unwrap();
    r.close(a).unwrap();
    assert_eq!(r.won(a), BTreeMap::from([(0, (50, 4_000)), (1, (40, 3_800)), (2, (10, 3_600))]));
    // Bidder 0: 50 × 40.00 = 2,000.00 plus 20 bps = 4.00.
    assert_eq!(r.sar(r.bidders[0].1), (CASH - 200_000 - 400, 0));
    // Bidder 2: 10 × 36.00 = 360.00, fee 0.72 below the 1.00 minimum.
    assert_eq!(r.sar(r.bidders[2].1), (CASH - 36_000 - 100, 0));
    let gross = 200_000 + 152_000 + 36_000;
    let seller_fees = 200 + 152 + 100;
    assert_eq!(r.sar(r.seller.1).0, gross - seller_fees);
}

#[test]
fn undersubscribed_and_reserve_not_met_return_the_rest_to_the_seller() {
    let mut r = room(2, NO_FEES);
    let a = r.create(
        AuctionRule::UniformPrice,
        vec![lot(r.seller.1, 100, vec![]), lot(r.seller.1, 200, vec![])],
        vec![],
    );
    r.bid(0, a, 3_500, 30).unwrap();
    r.bid(1, a, 3_200, 30).unwrap();
    assert_eq!(r.bid(1, a, 2_950, 30), Err(Rejection::BelowReserve));
    let events = r.close(a).unwrap();
    let cleared: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::LotCleared { lot, clearing_price_minor, sold_tonnes, .. } => {
                Some((*lot, *clearing_price_minor, *sold_tonnes))
            }
            _ => None,
        })
        .collect();
    assert_eq!(cleared, vec![(0, Some(3_200), 60), (1, None, 0)]);
    let lots = &r.h.state.auction(a).unwrap().lots;
    assert_eq!(lots[0].result.as_ref().unwrap().returned_tonnes, 40);
    assert_eq!(lots[1].result.as_ref().unwrap().returned_tonnes, 200);
    let seller = r.h.state.holding(r.seller.1, IssuanceId(1)).unwrap();
    assert_eq!((seller.available.quantity_tonnes(), seller.reserved_tonnes), (940, 0));
}

#[test]
fn ties_at_the_margin_share_pro_rata_and_the_rest_by_largest_remainder() {
    let mut r = room(4, NO_FEES);
    let a = r.create(AuctionRule::UniformPrice, vec![lot(r.seller.1, 100, vec![])], vec![]);
    r.bid(0, a, 4_000, 60).unwrap();
    r.bid(1, a, 3_500, 40).unwrap();
    r.bid(2, a, 3_500, 30).unwrap();
    r.bid(3, a, 3_500, 10).unwrap();
    r.close(a).unwrap();
    // 40 t left for 80 t bid at 35.00: shares 20, 15 → 10, 5 → 0; the last 10 t go to the
    // largest remainder, a tie between bidders 2 and 3 broken by account id.
    assert_eq!(r.won(a), BTreeMap::from([(0, (60, 3_500)), (1, (20, 3_500)), (2, (20, 3_500))]));
}

#[test]
fn guaranteed_allocations_come_first_and_scale_down_when_larger_than_supply() {
    let mut r = room(3, NO_FEES);
    let (b1, b2) = (r.bidders[1].0, r.bidders[2].0);
    let a = r.create(
        AuctionRule::UniformPrice,
        vec![lot(r.seller.1, 100, vec![(b1, 80), (b2, 80)])],
        vec![],
    );
    r.bid(0, a, 5_000, 100).unwrap();
    r.bid(1, a, 3_000, 100).unwrap();
    r.bid(2, a, 3_050, 100).unwrap();
    r.close(a).unwrap();
    assert_eq!(r.won(a), BTreeMap::from([(1, (50, 3_000)), (2, (50, 3_000))]));
    let allocs = &r.h.state.auction(a).unwrap().lots[0].result.as_ref().unwrap().allocations;
    assert!(allocs.iter().all(|al| al.guaranteed_tonnes == 50));

    // Guarantees below supply: the guaranteed part first, the rest by price.
    let mut r = room(3, NO_FEES);
    let b2 = r.bidders[2].0;
    let a = r.create(AuctionRule::UniformPrice, vec![lot(r.seller.1, 100, vec![(b2, 30)])], vec![]);
    r.bid(0, a, 5_000, 100).unwrap();
    r.bid(2, a, 3_000, 50).unwrap();
    r.close(a).unwrap();
    assert_eq!(r.won(a), BTreeMap::from([(0, (70, 3_000)), (2, (30, 3_000))]));
}

#[test]
fn every_bad_bid_and_close_has_its_own_code() {
    let mut r = room(3, NO_FEES);
    let approved = vec![r.bidders[0].0, r.bidders[1].0];
    let now = r.h.time_ms;
    let a = {
        let spec = AuctionSpec {
            name: "A".into(),
            rule: AuctionRule::UniformPrice,
            opens_at_ms: now + 10_000,
            closes_at_ms: now + 100_000,
            approved_bidders: approved,
            lots: vec![lot(r.seller.1, 100, vec![])],
        };
        let [Event::AuctionCreated { auction }] =
            r.h.run(r.g.operator, Command::CreateAuction { spec }).unwrap()[..]
        else {
            panic!()
        };
        auction
    };
    assert_eq!(r.bid(0, a, 3_500, 10), Err(Rejection::BiddingNotOpen));
    r.h.time_ms = now + 10_000;
    assert_eq!(r.bid(2, a, 3_500, 10), Err(Rejection::NotApprovedBidder));
    assert_eq!(r.bid(0, a, 3_510, 10), Err(Rejection::PriceOffTick));
    assert_eq!(r.bid(0, a, 3_500, 5), Err(Rejection::BelowMinimumBid));
    assert_eq!(r.bid(0, a, 3_500, 15), Err(Rejection::OffIncrement));
    assert_eq!(r.bid(0, a, 3_500, 1_000_000), Err(Rejection::InsufficientCash));
    assert_eq!(
        r.h.run(
            r.bidders[0].0,
            Command::PlaceBid {
                auction: a,
                lot: 7,
                account: r.bidders[0].1,
                price_minor: 3_500,
                quantity_tonnes: 10
            }
        ),
        Err(Rejection::UnknownLot)
    );
    assert_eq!(
        r.h.run(
            r.bidders[0].0,
            Command::PlaceBid {
                auction: a,
                lot: 0,
                account: r.bidders[1].1,
                price_minor: 3_500,
                quantity_tonnes: 10
            }
        ),
        Err(Rejection::Unauthorized)
    );
    let [Event::BidPlaced { bid, .. }] = r.bid(0, a, 3_500, 50).unwrap()[..] else { panic!() };
    r.h.run(
        r.bidders[0].0,
        Command::ChangeBid { auction: a, bid, price_minor: Some(4_000), quantity_tonnes: Some(20) },
    )
    .unwrap();
    assert_eq!(r.sar(r.bidders[0].1), (CASH - 80_000, 80_000));
    assert_eq!(
        r.h.run(r.bidders[1].0, Command::WithdrawBid { auction: a, bid }),
        Err(Rejection::Unauthorized)
    );
    r.h.run(r.bidders[0].0, Command::WithdrawBid { auction: a, bid }).unwrap();
    assert_eq!(r.sar(r.bidders[0].1), (CASH, 0));
    assert_eq!(
        r.h.run(r.g.operator, Command::CloseAuction { auction: a }),
        Err(Rejection::AuctionNotEnded)
    );
    r.h.time_ms = now + 100_000;
    assert_eq!(r.bid(1, a, 3_500, 10), Err(Rejection::BiddingClosed));
    r.h.run(r.g.operator, Command::CloseAuction { auction: a }).unwrap();
    let bad = AuctionSpec {
        name: "B".into(),
        rule: AuctionRule::UniformPrice,
        opens_at_ms: r.h.time_ms + 10_000,
        closes_at_ms: r.h.time_ms + 20_000,
        approved_bidders: vec![],
        lots: vec![lot(r.seller.1, 5_000, vec![])],
    };
    assert_eq!(
        r.h.run(r.g.operator, Command::CreateAuction { spec: bad.clone() }),
        Err(Rejection::InsufficientCredits)
    );
    let bad = AuctionSpec { lots: vec![lot(r.seller.1, 105, vec![])], ..bad };
    assert_eq!(
        r.h.run(r.g.operator, Command::CreateAuction { spec: bad }),
        Err(Rejection::InvalidAuction)
    );
    r.h.assert_replay_matches();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]
    /// Allocations never exceed the offer, allocated + returned = offered, nobody pays above its
    /// bid, invariants hold (harness), and shuffling the order bids arrive in changes nothing.
    #[test]
    fn clearing_is_a_pure_function_of_the_bids(
        bids in proptest::collection::vec((0usize..6, 0i64..6, 1u64..8), 1..25),
        guarantees in proptest::collection::vec((0usize..6, 1u64..6), 0..3),
        offered in 1u64..30,
        pay_as_bid in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let rule = if pay_as_bid { AuctionRule::PayAsBid } else { AuctionRule::UniformPrice };
        let run = |order: &[(usize, i64, u64)]| {
            let mut r = room(6, FeeSchedule { maker_bps: 10, taker_bps: 25, min_fee_minor: 7 });
            let g: Vec<(OrgId, u64)> = guarantees.iter().map(|(w, t)| (r.bidders[*w].0, t * 10)).collect();
            let mut dedup = g.clone();
            dedup.sort();
            dedup.dedup_by_key(|x| x.0);
            let a = r.create(rule, vec![lot(r.seller.1, offered * 10, dedup)], vec![]);
            for (who, px, q) in order {
                r.bid(*who, a, 3_000 + px * 50, q * 10).unwrap();
            }
            r.close(a).unwrap();
            let res = r.h.state.auction(a).unwrap().lots[0].result.clone().unwrap();
            let mut per_bidder: BTreeMap<usize, u64> = BTreeMap::new();
            let mut max_bid: BTreeMap<usize, i64> = BTreeMap::new();
            for (who, px, _) in order {
                let e = max_bid.entry(*who).or_default();
                *e = (*e).max(3_000 + px * 50);
            }
            for al in &res.allocations {
                let who = r.bidders.iter().position(|b| b.1 == al.account).unwrap();
                *per_bidder.entry(who).or_default() += al.quantity_tonnes;
                assert!(al.price_minor <= max_bid[&who], "pays above its bid");
            }
            (res.sold_tonnes, res.returned_tonnes, res.clearing_price_minor, per_bidder)
        };
        let (sold, returned, price, per) = run(&bids);
        prop_assert_eq!(sold + returned, offered * 10);
        prop_assert_eq!(per.values().sum::<u64>(), sold);
        let mut shuffled = bids.clone();
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(run(&shuffled), (sold, returned, price, per));
    }
}
