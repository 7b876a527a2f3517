//! Trading bots for `rasid demo`: a market maker and a taker on the demo instrument, so the
//! served market has order flow — a moving book, trades, candles — for the web UI and the
//! WebSocket stream.
//!
//! They run in the server's process and submit through the same ledger as every HTTP request
//! (`App::submit`), as two organizations of their own that the first start funds with credits
//! (from the demo developer) and cash. The maker quotes one bid and one ask around a slowly
//! wandering mid and replaces them each round, so its own orders never cross; the taker
//! sometimes crosses the spread with an immediate-or-cancel order, buying when it holds few
//! credits and selling when it holds little cash. Their rate is bounded (one round per
//! [`ROUND_MS`], at most [`COMMANDS_PER_ROUND_MAX`] commands), and they stop at shutdown
//! before the ledger closes. Bot pricing uses a fixed-seed generator: a run's order flow is
//! reproducible given the same book.

use rasid_core::exchange::{
    InstrumentId, OrderId, OrderRequest, OrderType, SelfTradePrevention, Side, TimeInForce,
};
use rasid_core::model::Role;
use rasid_core::{AccountId, Command, Currency, Event, IssuanceId, OrgId, Selection, State};
use rasid_server::App;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub const MAKER: &str = "Demo Market Maker";
pub const TAKER: &str = "Demo Liquidity Taker";
/// Time between rounds: the bots' whole load is a few commands per round.
pub const ROUND_MS: u64 = 400;
pub const COMMANDS_PER_ROUND_MAX: usize = 5;
const MAKER_TONNES: u64 = 60_000;
const TAKER_TONNES: u64 = 20_000;
const MAKER_CASH_MINOR: i64 = 500_000_000;
const TAKER_CASH_MINOR: i64 = 200_000_000;

/// What the bots trade with, found or set up at start.
#[derive(Debug, Clone, Copy)]
struct Setup {
    instrument: InstrumentId,
    tick_minor: i64,
    lot_tonnes: u64,
    band: (i64, i64),
    reference_minor: i64,
    maker: (OrgId, AccountId),
    taker: (OrgId, AccountId),
}

/// Starts the bots on `symbol`; the returned closure stops them and waits for them.
pub fn start(app: Arc<App>, symbol: &'static str, developer: &'static str) -> rasid_server::Stop {
    let stop = Arc::new(AtomicBool::new(false));
    let thread = {
        let stop = stop.clone();
        std::thread::Builder::new().name("rasid-demo-bots".into()).spawn(move || {
            match setup(&app, symbol, developer) {
                Ok(s) => trade(&app, s, &stop),
                Err(e) => eprintln!("rasid demo: trading bots not started: {e}"),
            }
        })
    };
    Box::new(move || {
        stop.store(true, Ordering::Release);
        if let Ok(t) = thread {
            let _ = t.join();
        }
    })
}

fn setup(app: &App, symbol: &str, developer: &str) -> Result<Setup, String> {
    let symbol_owned = symbol.to_owned();
    let developer_owned = developer.to_owned();
    let found = app.query(move |s: &State| {
        let i = s.instrument_by_symbol(&symbol_owned)?;
        let band = i.band();
        let dev = s.organization_by_name(&developer_owned)?.id;
        let dev_acc = s.accounts_of(dev).next()?.id;
        let find = |name: &str| {
            let org = s.organization_by_name(name)?.id;
            Some((org, s.accounts_of(org).next()?.id))
        };
        Some((
            i.id,
            i.spec.tick_minor,
            i.spec.lot_tonnes,
            band,
            i.spec.reference_price_minor,
            (dev, dev_acc),
            find(MAKER),
            find(TAKER),
        ))
    })?;
    let (instrument, tick, lot, band, reference, (dev, dev_acc), maker, taker) =
        found.ok_or_else(|| format!("the demo has no instrument {symbol} or developer"))?;
    let operator = app.query(|s: &State| s.operator())?.ok_or("no operator")?;
    let issuance = app
        .query(move |s: &State| s.holdings_of(dev_acc).map(|(i, _)| i).next())?
        .ok_or("the developer holds no credits")?;
    let maker = match maker {
        Some(m) => m,
        None => {
            fund(app, operator, MAKER, (dev, dev_acc, issuance), MAKER_TONNES, MAKER_CASH_MINOR)?
        }
    };
    let taker = match taker {
        Some(t) => t,
        None => {
            fund(app, operator, TAKER, (dev, dev_acc, issuance), TAKER_TONNES, TAKER_CASH_MINOR)?
        }
    };
    Ok(Setup {
        instrument,
        tick_minor: tick,
        lot_tonnes: lot,
        band,
        reference_minor: reference,
        maker,
        taker,
    })
}

/// Creates a bot organization and account, with credits from the developer and cash.
fn fund(
    app: &App,
    operator: OrgId,
    name: &str,
    (dev, dev_acc, issuance): (OrgId, AccountId, IssuanceId),
    tonnes: u64,
    cash_minor: i64,
) -> Result<(OrgId, AccountId), String> {
    let created = app
        .submit(operator, Command::CreateOrganization { name: name.into(), role: Role::Member })?;
    let Some(Event::OrganizationCreated { org }) = created.events.first().cloned() else {
        return Err("CreateOrganization emits OrganizationCreated".into());
    };
    let opened = app.submit(operator, Command::OpenAccount { org, name: "Trading".into() })?;
    let Some(Event::AccountOpened { account, .. }) = opened.events.first().cloned() else {
        return Err("OpenAccount emits AccountOpened".into());
    };
    app.submit(
        dev,
        Command::Transfer {
            from: dev_acc,
            to: account,
            issuance,
            selection: Selection::Quantity(tonnes),
        },
    )?;
    app.submit(
        operator,
        Command::DepositCash { account, currency: Currency::Sar, amount_minor: cash_minor },
    )?;
    Ok((org, account))
}

/// xorshift64*: a small fixed-seed generator, enough for prices and sizes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn limit(
    s: &Setup,
    account: AccountId,
    side: Side,
    price_minor: i64,
    tonnes: u64,
    tif: TimeInForce,
) -> Command {
    Command::PlaceOrder {
        order: OrderRequest {
            instrument: s.instrument,
            account,
            side,
            order_type: OrderType::Limit { price_minor },
            quantity_tonnes: tonnes,
            time_in_force: tif,
            post_only: false,
            client_order_id: None,
            self_trade: SelfTradePrevention::CancelIncoming,
            retire: None,
        },
    }
}

/// The bots' loop: one round per [`ROUND_MS`] until `stop`.
fn trade(app: &App, s: Setup, stop: &AtomicBool) {
    let mut rng = Rng(0x005E_ED0F_DE30_u64);
    // Quotes from an earlier run are the maker's to replace.
    let earlier: Vec<OrderId> = app
        .query(move |st: &State| st.orders_of(s.maker.1).map(|o| o.id).collect())
        .unwrap_or_default();
    for order in earlier {
        if stop.load(Ordering::Acquire)
            || app.submit(s.maker.0, Command::CancelOrder { order }).is_err()
        {
            break;
        }
    }
    let mut quotes: Vec<OrderId> = Vec::new();
    let ticks_in_band = (s.band.1 - s.band.0) / s.tick_minor;
    // The mid wanders within the middle half of the band, in whole ticks.
    let (low, high) =
        (s.band.0 + ticks_in_band / 4 * s.tick_minor, s.band.1 - ticks_in_band / 4 * s.tick_minor);
    let mut mid = s.reference_minor.clamp(low, high);
    while !stop.load(Ordering::Acquire) {
        let mut commands = Vec::with_capacity(COMMANDS_PER_ROUND_MAX);
        for order in quotes.drain(..) {
            commands.push((s.maker.0, Command::CancelOrder { order }));
        }
        let step = i64::try_from(rng.below(5)).unwrap_or(0) - 2;
        mid = (mid + step * s.tick_minor).clamp(low, high);
        let half_spread = s.tick_minor * (2 + i64::try_from(rng.below(4)).unwrap_or(0));
        let size = |rng: &mut Rng| s.lot_tonnes * (1 + rng.below(5));
        let bid =
            limit(&s, s.maker.1, Side::Buy, mid - half_spread, size(&mut rng), TimeInForce::Gtc);
        let ask =
            limit(&s, s.maker.1, Side::Sell, mid + half_spread, size(&mut rng), TimeInForce::Gtc);
        commands.push((s.maker.0, bid));
        commands.push((s.maker.0, ask));
        if rng.below(2) == 0 {
            let holdings = app
                .query(move |st: &State| {
                    let credits: u64 =
                        st.holdings_of(s.taker.1).map(|(_, h)| h.available.quantity_tonnes()).sum();
                    let cash = st
                        .balances_of(s.taker.1)
                        .find(|(c, _)| *c == Currency::Sar)
                        .map_or(0, |(_, b)| b.available_minor);
                    (credits, cash)
                })
                .unwrap_or((0, 0));
            let buy = holdings.0 < TAKER_TONNES / 2
                || (holdings.1 > TAKER_CASH_MINOR / 2 && rng.below(2) == 0);
            let (side, price) = if buy {
                (Side::Buy, (mid + 4 * half_spread).min(s.band.1))
            } else {
                (Side::Sell, (mid - 4 * half_spread).max(s.band.0))
            };
            commands.push((
                s.taker.0,
                limit(&s, s.taker.1, side, price, size(&mut rng), TimeInForce::Ioc),
            ));
        }
        assert!(commands.len() <= COMMANDS_PER_ROUND_MAX);
        match app.submit_batch(commands) {
            Ok(outcomes) => {
                for committed in outcomes.into_iter().flatten() {
                    // Only the maker's GTC quotes rest; the taker's IOC orders never do.
                    for e in &committed.events {
                        if let Event::OrderRested { order, .. } = e {
                            quotes.push(*order);
                        }
                    }
                }
            }
            // Shutting down or a storage failure: the bots stop with the server.
            Err(_) => return,
        }
        // Pacing, not synchronisation: the bots are meant to trade at a human-visible pace.
        let mut waited_ms = 0;
        while waited_ms < ROUND_MS && !stop.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(50));
            waited_ms += 50;
        }
    }
}
