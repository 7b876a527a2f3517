//! The demo's launch auction, modelled on the regional platform's first auction at COP29: a
//! core basket of about 2.5 million credits from projects in 17 countries — Central Asian and
//! Gulf projects among them, taken from the real market history — offered to 23 bidding members
//! for SAR, uniform price, with guaranteed minimum allocations for three approved bidders.
//!
//! The bids are the demo's own, chosen so the basket clears at SAR 37.50 a tonne as the real one
//! did; everything else — eligibility, holds, clearing, settlement — is Rasid doing its job.

use crate::output::{Failure, thousands};
use crate::registry::Ctx;
use rasid_core::exchange::auction::{AuctionId, AuctionRule, AuctionSpec, LotSpec};
use rasid_core::exchange::basket::{BasketCriteria, BasketId};
use rasid_core::exchange::{FeeSchedule, InstrumentId, InstrumentSpec, Underlying};
use rasid_core::model::Role;
use rasid_core::{AccountId, Command, Currency, Event, IssuanceId, OrgId, Selection, State};
use std::fmt::Write as _;

pub const AUCTION_NAME: &str = "Launch auction: core basket (COP29)";
const SELLER: &str = "Launch Auction Seller";
/// The 17 countries of the core basket: Central Asia, the Gulf and beyond.
const COUNTRIES: [&str; 17] = [
    "Kazakhstan",
    "Uzbekistan",
    "Tajikistan",
    "United Arab Emirates",
    "Oman",
    "Egypt",
    "Türkiye",
    "Pakistan",
    "India",
    "Kenya",
    "Brazil",
    "Indonesia",
    "Viet Nam",
    "China",
    "Peru",
    "Colombia",
    "Zambia",
];
const OFFERED_TONNES: u64 = 2_500_000;
const INCREMENT_TONNES: u64 = 1_000;
/// How long the demo leaves the bid window open before it closes the auction.
const WINDOW_MS: i64 = 2_000;

/// Bidders: (name, price in halalas, tonnes). Ten bid above 37.50, eight at it, five below.
const BIDS: [(&str, i64, u64); 23] = [
    ("Riyadh Cement Company", 4_000, 250_000),
    ("Jeddah Petrochemicals", 3_950, 200_000),
    ("Dammam Airways", 3_900, 300_000),
    ("Gulf Aluminium Smelters", 3_875, 150_000),
    ("Najd Power Generation", 3_850, 200_000),
    ("Red Sea Shipping Lines", 3_825, 150_000),
    ("Qassim Agricultural Co.", 3_800, 100_000),
    ("Tabuk Steel Works", 3_800, 200_000),
    ("Almaty Energy Holding", 3_775, 150_000),
    ("Tashkent Textiles", 3_775, 100_000),
    ("Muscat Logistics", 3_750, 150_000),
    ("Abu Dhabi Real Estate Group", 3_750, 200_000),
    ("Kuwait Refining Partners", 3_750, 250_000),
    ("Doha Hospitality Group", 3_750, 100_000),
    ("Manama Banking Corporation", 3_750, 150_000),
    ("Amman Telecom", 3_750, 100_000),
    ("Cairo Fertilisers", 3_750, 150_000),
    ("Istanbul Glassworks", 3_750, 100_000),
    ("Karachi Cement Mills", 3_600, 100_000),
    ("Dushanbe Hydro Services", 3_500, 100_000),
    ("Bishkek Mining Co.", 3_400, 100_000),
    ("Medina Dates Cooperative", 3_300, 100_000),
    ("Hail Poultry Farms", 3_000, 100_000),
];

/// What the demo prints about the auction.
pub fn run(ctx: &Ctx) -> Result<String, Failure> {
    let existing =
        ctx.read(|s: &State| s.auctions().find(|a| a.name == AUCTION_NAME).map(|a| a.id))?;
    let auction = match existing {
        Some(id) => id,
        None => hold_auction(ctx)?,
    };
    ctx.read(move |s| describe(s, auction))
}

fn hold_auction(ctx: &Ctx) -> Result<AuctionId, Failure> {
    let operator = ctx.operator()?;
    let seller_org = created_org(
        ctx.submit(
            operator,
            Command::CreateOrganization { name: SELLER.into(), role: Role::Member },
        )?
        .events,
    );
    let seller = opened(
        ctx.submit(
            operator,
            Command::OpenAccount { org: seller_org, name: "Auction lot account".into() },
        )?
        .events,
    );
    // Take the offer from the real history: per country, the issuance with most credits still
    // held, moved from its developer to the seller.
    let picks = ctx.read(pick_sources)?;
    for (owner, account, issuance, tonnes) in &picks {
        let transfer = Command::Transfer {
            from: *account,
            to: seller,
            issuance: *issuance,
            selection: Selection::Quantity(*tonnes),
        };
        ctx.submit(*owner, transfer)?;
    }
    let criteria = BasketCriteria {
        places: COUNTRIES.iter().map(|c| (*c).to_owned()).collect(),
        ..Default::default()
    };
    let basket = match ctx
        .submit(
            operator,
            Command::CreateBasket { name: "Core basket".into(), criteria: Box::new(criteria) },
        )?
        .events[..]
    {
        [Event::BasketCreated { basket }] => basket,
        _ => unreachable!("CreateBasket emits BasketCreated"),
    };
    let instrument = list_core(ctx, operator, basket)?;
    for (_, _, issuance, tonnes) in &picks {
        let deposit = Command::DepositToBasket {
            basket,
            account: seller,
            issuance: *issuance,
            quantity_tonnes: *tonnes,
            priority: 0,
        };
        ctx.submit(seller_org, deposit)?;
    }
    let mut bidders = Vec::new();
    for (name, _, _) in BIDS {
        let org = created_org(
            ctx.submit(
                operator,
                Command::CreateOrganization { name: name.into(), role: Role::Member },
            )?
            .events,
        );
        let acc =
            opened(ctx.submit(operator, Command::OpenAccount { org, name: "Main".into() })?.events);
        ctx.submit(
            operator,
            Command::DepositCash {
                account: acc,
                currency: Currency::Sar,
                amount_minor: 1_500_000_000,
            },
        )?;
        bidders.push((org, acc));
    }
    let now = ctx.read(|s| s.last_time_ms())?;
    // Like the 2023 auction, some approved bidders are guaranteed a minimum allocation.
    let guaranteed = bidders.iter().skip(10).take(3).map(|(org, _)| (*org, 50_000)).collect();
    let lot = LotSpec {
        instrument,
        seller,
        quantity_tonnes: OFFERED_TONNES,
        reserve_price_minor: 3_000,
        min_bid_tonnes: 10_000,
        increment_tonnes: INCREMENT_TONNES,
        guaranteed,
    };
    let spec = AuctionSpec {
        name: AUCTION_NAME.into(),
        rule: AuctionRule::UniformPrice,
        opens_at_ms: now,
        closes_at_ms: now + WINDOW_MS,
        approved_bidders: bidders.iter().map(|(o, _)| *o).collect(),
        lots: vec![lot],
    };
    let auction = match ctx.submit(operator, Command::CreateAuction { spec })?.events[..] {
        [Event::AuctionCreated { auction }] => auction,
        _ => unreachable!("CreateAuction emits AuctionCreated"),
    };
    for ((org, acc), (_, price, tonnes)) in bidders.iter().zip(BIDS) {
        ctx.submit(
            *org,
            Command::PlaceBid {
                auction,
                lot: 0,
                account: *acc,
                price_minor: price,
                quantity_tonnes: tonnes,
            },
        )?;
    }
    // The window is real time: wait for it to end, then close. Bounded: the sequencer's clock
    // passes the window within WINDOW_MS.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match ctx.submit(operator, Command::CloseAuction { auction }) {
            Ok(_) => break,
            Err(Failure::Rejected(rasid_core::Rejection::AuctionNotEnded))
                if std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(auction)
}

/// Per country, the issuance with the most available credits in its developer's account:
/// `(developer org, account, issuance, tonnes to take)`, adding up to the offer.
fn pick_sources(s: &State) -> Vec<(OrgId, AccountId, IssuanceId, u64)> {
    let mut best: Vec<(OrgId, AccountId, IssuanceId, u64)> = Vec::new();
    for country in COUNTRIES {
        let found = s
            .issuances()
            .filter(|i| s.project(i.project).is_some_and(|p| p.info.country == country))
            .filter_map(|i| {
                let dev = s.project(i.project)?.info.developer;
                let acc = s.accounts_of(dev).next()?.id;
                let held = s.holding(acc, i.id)?.available.quantity_tonnes();
                Some((dev, acc, i.id, held - held % INCREMENT_TONNES))
            })
            .max_by_key(|(_, _, i, held)| (*held, std::cmp::Reverse(i.0)));
        best.extend(found.filter(|f| f.3 > 0));
    }
    // Take evenly, up to each source's size, until the offer is made up.
    let mut take = vec![0u64; best.len()];
    let mut left = OFFERED_TONNES;
    while left > 0 {
        let open: Vec<usize> = (0..best.len()).filter(|k| take[*k] < best[*k].3).collect();
        if open.is_empty() {
            break;
        }
        let share = (left / open.len() as u64 / INCREMENT_TONNES).max(1) * INCREMENT_TONNES;
        for k in open {
            let add = share.min(best[k].3 - take[k]).min(left);
            take[k] += add;
            left -= add;
        }
    }
    best.into_iter()
        .zip(take)
        .filter(|(_, t)| *t > 0)
        .map(|((o, a, i, _), t)| (o, a, i, t))
        .collect()
}

fn list_core(ctx: &Ctx, operator: OrgId, basket: BasketId) -> Result<InstrumentId, Failure> {
    let spec = InstrumentSpec {
        symbol: "CORE".into(),
        underlying: Underlying::Basket { basket },
        currency: Currency::Sar,
        tick_minor: 5,
        lot_tonnes: INCREMENT_TONNES,
        band_bps: 3_000,
        reference_price_minor: 3_750,
        fees: FeeSchedule { maker_bps: 0, taker_bps: 0, min_fee_minor: 0 },
    };
    match ctx.submit(operator, Command::ListInstrument { spec })?.events[..] {
        [Event::InstrumentListed { instrument, .. }] => Ok(instrument),
        _ => unreachable!("ListInstrument emits InstrumentListed"),
    }
}

fn created_org(events: Vec<Event>) -> OrgId {
    match events[..] {
        [Event::OrganizationCreated { org }] => org,
        _ => unreachable!("CreateOrganization emits OrganizationCreated"),
    }
}

fn opened(events: Vec<Event>) -> AccountId {
    match events[..] {
        [Event::AccountOpened { account, .. }] => account,
        _ => unreachable!("OpenAccount emits AccountOpened"),
    }
}

fn describe(s: &State, id: AuctionId) -> String {
    let Some(a) = s.auction(id) else { return String::new() };
    let mut text = format!("\n{} ({id})\n", a.name);
    if let Some(r) = a.lots[0].result.as_ref() {
        let countries: std::collections::BTreeSet<&str> = r
            .allocations
            .iter()
            .flat_map(|al| al.serials.iter())
            .filter_map(|(i, _)| {
                s.issuance(i)
                    .and_then(|iss| s.project(iss.project))
                    .map(|p| p.info.country.as_str())
            })
            .collect();
        let price = r
            .clearing_price_minor
            .map_or("-".into(), |p| rasid_core::money::format_minor(i128::from(p), Currency::Sar));
        let _ = writeln!(
            text,
            "  cleared at SAR {price} a tonne: {} t sold to {} of {} bidders ({} bids), from projects in {} countries",
            thousands(r.sold_tonnes),
            r.allocations.iter().map(|al| al.org).collect::<std::collections::BTreeSet<_>>().len(),
            r.bidders,
            r.bids,
            countries.len()
        );
        let _ =
            writeln!(text, "  rasid auction show {id} --as ORG   shows a bidder's own allocation");
    }
    text
}
