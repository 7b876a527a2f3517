//! `rasid bench matching`: the matching engine on a synthetic but realistic order stream.
//!
//! The stream: `ops` operations after a seed of about 10,000 resting orders; 20% cancel a
//! resting order, 80% are limit orders of 1–100 t, about two thirds crossing (0–3 ticks through
//! the touch) and the rest passive (1–200 ticks behind it). It is generated once, untimed, by
//! running it through Rasid's engine so cancels always name a resting order; every engine then
//! replays the same list. Buyers and sellers are disjoint members, so self-trade prevention
//! never fires and every engine sees the same trades.
//!
//! Rasid runs the full engine: funds checks, cash and serial reservations, fees, and settlement
//! of exact serial ranges against cash on every fill. Comparison engines (behind the
//! `compare-engines` feature) run bare order books on the same stream in the same process, and
//! the settlement floors (`bench_floor`) a lean book (naive or ladder) with only the settlement
//! added, and one (`ladder-full`) with an engine's bookkeeping too, which emits Rasid's events;
//! `ladder-quiet` is that one without events.

use crate::bench_floor::{Floor, Kind, Record};
use crate::output::{Failure, Output};
use rasid_core::exchange::{
    FeeSchedule, InstrumentId, InstrumentSpec, OrderId, OrderRequest, OrderType,
    SelfTradePrevention, Side, TimeInForce, Underlying,
};
use rasid_core::model::{Basis, Effect, Program, ProjectInfo, Role};
use rasid_core::{AccountId, Command, Currency, Envelope, Event, Events, OrgId, ProjectId, State};
use serde_json::{Value, json};
use std::time::Instant;

/// Resting orders placed before the timed stream.
pub const SEED_ORDERS: u64 = 10_000;
const MEMBERS_PER_SIDE: u64 = 50;
const REFERENCE_PRICE: i64 = 1_000_000;
const BENCH_TIME_MS: i64 = 1_700_000_000_000;

/// One operation of the stream, engine-neutral.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `id` is the order's position in the stream (1-based), which is also the id Rasid gives
    /// it, so cancels can name it in any engine.
    Place { id: u64, side: Side, price: i64, quantity: u64, member: u64 },
    /// Cancels resting order `id`, placed by `member` on `side`.
    Cancel { id: u64, side: Side, member: u64 },
}

/// SplitMix64: a small, well-known generator, so the stream is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A ledger ready to trade: one instrument, buyers with cash, sellers with credits.
pub struct Venue {
    pub state: State,
    seq: u64,
    buyers: Vec<(OrgId, AccountId)>,
    sellers: Vec<(OrgId, AccountId)>,
    /// The last command's events, in a list reused from command to command
    /// (`State::execute_into`), as a sequencer that hands events on and clears would.
    events: Events,
    /// The envelope of the next order and of the next cancel. `prepare` writes an operation's
    /// fields into one of them, as a gateway decoding into a reused buffer would: building a
    /// fresh envelope per operation and dropping its command afterwards cost about 30
    /// instructions per operation, 1.5% of the timed loop, none of it the engine's.
    place: Envelope,
    cancel: Envelope,
}

/// Which of the venue's two envelopes `Venue::prepare` filled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Prepared {
    Place,
    Cancel,
}

/// The set-up, as commands. Ids are assigned in sequence after genesis (organizations and
/// accounts 1–2 are the operator's and registrar's), so member `i` is org `3 + i` with
/// account `3 + i`: the first half buy, the second half sell.
pub fn setup_commands() -> Vec<(OrgId, Command)> {
    let (op, reg) = (OrgId(1), OrgId(2));
    let mut out = vec![(
        OrgId(0),
        Command::Genesis { operator_name: "Operator".into(), registrar_name: "Registry".into() },
    )];
    for i in 0..2 * MEMBERS_PER_SIDE {
        out.push((
            op,
            Command::CreateOrganization { name: format!("Member {i}"), role: Role::Member },
        ));
        out.push((op, Command::OpenAccount { org: OrgId(3 + i), name: "Main".into() }));
    }
    let info = ProjectInfo {
        program: Program::Native,
        external_id: "BENCH-1".into(),
        name: "Benchmark project".into(),
        methodology: String::new(),
        country: String::new(),
        region: String::new(),
        scope: String::new(),
        project_type: String::new(),
        effect: Effect::Reduction,
        basis: Basis::Technology,
        developer: OrgId(3 + MEMBERS_PER_SIDE),
    };
    out.push((reg, Command::RegisterProject { info: Box::new(info) }));
    for i in 0..MEMBERS_PER_SIDE {
        let buyer = AccountId(3 + i);
        let seller = AccountId(3 + MEMBERS_PER_SIDE + i);
        out.push((
            reg,
            Command::Issue {
                project: ProjectId(1),
                vintage_year: 2024,
                quantity_tonnes: 1_000_000_000_000,
                buffer_tonnes: 0,
                to_account: seller,
                first_serial: None,
                external_ref: None,
            },
        ));
        out.push((
            op,
            Command::DepositCash {
                account: buyer,
                currency: Currency::Sar,
                amount_minor: i64::MAX / 4,
            },
        ));
    }
    out.push((
        op,
        Command::ListInstrument {
            spec: InstrumentSpec {
                symbol: "BENCH-2024".into(),
                underlying: Underlying::ProjectVintage {
                    project: ProjectId(1),
                    vintage_year: 2024,
                },
                currency: Currency::Sar,
                tick_minor: 1,
                lot_tonnes: 1,
                band_bps: 10_000,
                reference_price_minor: REFERENCE_PRICE,
                fees: FeeSchedule { maker_bps: 5, taker_bps: 10, min_fee_minor: 0 },
            },
        },
    ));
    out
}

impl Venue {
    pub fn new() -> Self {
        let member = |i: u64| (OrgId(3 + i), AccountId(3 + i));
        let mut v = Venue {
            state: State::new(),
            seq: 0,
            buyers: (0..MEMBERS_PER_SIDE).map(member).collect(),
            sellers: (MEMBERS_PER_SIDE..2 * MEMBERS_PER_SIDE).map(member).collect(),
            events: Events::new(),
            place: Envelope {
                seq: 0,
                time_ms: BENCH_TIME_MS,
                actor: OrgId(0),
                command: Command::PlaceOrder {
                    order: OrderRequest {
                        instrument: InstrumentId(1),
                        account: AccountId(0),
                        side: Side::Buy,
                        order_type: OrderType::Limit { price_minor: 0 },
                        quantity_tonnes: 0,
                        time_in_force: TimeInForce::Gtc,
                        post_only: false,
                        client_order_id: None,
                        self_trade: SelfTradePrevention::CancelIncoming,
                        retire: None,
                    },
                },
            },
            cancel: Envelope {
                seq: 0,
                time_ms: BENCH_TIME_MS,
                actor: OrgId(0),
                command: Command::CancelOrder { order: OrderId(0) },
            },
        };
        for (actor, command) in setup_commands() {
            v.exec(actor, command);
        }
        v
    }

    fn exec(&mut self, actor: OrgId, command: Command) -> Vec<Event> {
        self.exec_at(BENCH_TIME_MS, actor, command)
    }

    fn exec_at(&mut self, time_ms: i64, actor: OrgId, command: Command) -> Vec<Event> {
        self.seq += 1;
        let env = Envelope { seq: self.seq, time_ms, actor, command };
        self.execute(&env).iter().cloned().collect()
    }

    /// Writes one stream operation into the venue's envelope for its kind, numbered next.
    pub fn prepare(&mut self, op: Op) -> Prepared {
        self.seq += 1;
        match op {
            Op::Place { side, price, quantity, member, .. } => {
                let (actor, account) = match side {
                    Side::Buy => self.buyers[member as usize],
                    Side::Sell => self.sellers[member as usize],
                };
                (self.place.seq, self.place.actor) = (self.seq, actor);
                let Command::PlaceOrder { order } = &mut self.place.command else {
                    unreachable!("the order envelope carries an order")
                };
                order.account = account;
                order.side = side;
                order.order_type = OrderType::Limit { price_minor: price };
                order.quantity_tonnes = quantity;
                Prepared::Place
            }
            Op::Cancel { id, side, member } => {
                let actor = match side {
                    Side::Buy => self.buyers[member as usize].0,
                    Side::Sell => self.sellers[member as usize].0,
                };
                (self.cancel.seq, self.cancel.actor) = (self.seq, actor);
                let Command::CancelOrder { order } = &mut self.cancel.command else {
                    unreachable!("the cancel envelope carries a cancel")
                };
                *order = OrderId(id);
                Prepared::Cancel
            }
        }
    }

    /// The envelope `prepare` last filled in of that kind.
    pub fn prepared(&self, which: Prepared) -> &Envelope {
        match which {
            Prepared::Place => &self.place,
            Prepared::Cancel => &self.cancel,
        }
    }

    /// The next envelope, carrying the command for one stream operation, as a value of its
    /// own (for the durable pass, which journals commands).
    pub fn envelope(&mut self, op: Op) -> Envelope {
        let which = self.prepare(op);
        self.prepared(which).clone()
    }

    /// Executes the envelope `prepare` filled in and returns its events; every operation of a
    /// generated stream is accepted.
    pub fn execute_prepared(&mut self, which: Prepared) -> &Events {
        // Chosen field by field rather than through `prepared`, which would borrow the whole
        // venue while the state and the events are borrowed mutably beside it.
        let env = match which {
            Prepared::Place => &self.place,
            Prepared::Cancel => &self.cancel,
        };
        self.events.clear();
        self.state
            .execute_into(env, &mut self.events)
            .unwrap_or_else(|r| panic!("a bench command was refused: {r}"));
        &self.events
    }

    /// Executes an envelope from `envelope` and returns its events; every operation of a
    /// generated stream is accepted.
    pub fn execute(&mut self, env: &Envelope) -> &Events {
        self.events.clear();
        self.state
            .execute_into(env, &mut self.events)
            .unwrap_or_else(|r| panic!("a bench command was refused: {r}"));
        &self.events
    }

    /// Drops the last command's events, which `execute` does first: the latency pass calls it
    /// before starting its clock, so that it times the command alone.
    pub fn clear_events(&mut self) {
        self.events.clear();
    }

    /// Executes one operation.
    pub fn apply(&mut self, op: Op) -> &Events {
        let which = self.prepare(op);
        self.execute_prepared(which)
    }
}

/// The stream's seed unless `--seed` names another. Every result quoted in docs/HANDOFF.md and
/// on the issue was measured on this stream.
pub const STREAM_SEED: u64 = 42;

/// How this binary was optimised: `scripts/build-release` sets `RASID_BUILD_OPTIMISATION` to
/// `pgo` when it builds with the profile of its training run; a plain `cargo build --release`
/// leaves it unset. Reported with the results, so that a number says which build made it.
const BUILD_OPTIMISATION: &str = match option_env!("RASID_BUILD_OPTIMISATION") {
    Some(how) => how,
    None if cfg!(debug_assertions) => "debug",
    None => "release",
};

/// What the generated stream turned out to be, reported with the results.
#[derive(Clone, Copy, Debug)]
pub struct StreamStats {
    /// Of all operations, the share that were crossing orders.
    pub crossing_share: f64,
    pub resting_mean: u64,
    pub resting_end: u64,
}

/// Generates the seed orders and the stream (seed orders first), running them through a venue
/// to know what rests. Returns the operations and the number of seed operations at the front.
pub fn generate(ops: u64, seed: u64) -> (Vec<Op>, usize, StreamStats) {
    let mut rng = Rng(seed);
    let mut venue = Venue::new();
    let mut resting: Vec<u64> = Vec::new();
    let mut position: std::collections::HashMap<u64, usize> = Default::default();
    let mut placed: std::collections::HashMap<u64, (Side, u64)> = Default::default();
    let (mut crossing_count, mut resting_sum) = (0u64, 0u64);
    let mut out = Vec::with_capacity(usize::try_from(ops + SEED_ORDERS).unwrap_or(0));
    let mut next_id = 1;
    let total = ops + SEED_ORDERS;
    for n in 0..total {
        let seeding = n < SEED_ORDERS;
        let op = if !seeding && !resting.is_empty() && rng.below(5) == 0 {
            let id = resting[rng.below(resting.len() as u64) as usize];
            let (side, member) = placed[&id];
            Op::Cancel { id, side, member }
        } else {
            let book = venue.state.book(InstrumentId(1)).expect("listed");
            let side = if rng.below(2) == 0 { Side::Buy } else { Side::Sell };
            let bid = book.best_price(Side::Buy).unwrap_or(REFERENCE_PRICE - 1);
            let ask = book.best_price(Side::Sell).unwrap_or(REFERENCE_PRICE + 1);
            // Two thirds of new orders cross while the book holds its ~10,000 orders; below that,
            // one third, so cancels and fills do not drain it (with a fixed two thirds the book
            // empties within the first hundred thousand operations).
            let crossing = !seeding
                && rng.below(3) < if resting.len() >= SEED_ORDERS as usize { 2 } else { 1 };
            crossing_count += u64::from(crossing);
            let ticks = if crossing { rng.below(4) as i64 } else { 1 + rng.below(200) as i64 };
            let price = match (side, crossing) {
                (Side::Buy, true) => ask + ticks,
                (Side::Sell, true) => bid - ticks,
                (Side::Buy, false) => ask - ticks,
                (Side::Sell, false) => bid + ticks,
            };
            let member = rng.below(MEMBERS_PER_SIDE);
            let op = Op::Place { id: next_id, side, price, quantity: 1 + rng.below(100), member };
            placed.insert(next_id, (side, member));
            next_id += 1;
            op
        };
        venue.apply(op);
        for e in &venue.events {
            match e {
                Event::OrderRested { order, .. } => {
                    position.insert(order.0, resting.len());
                    resting.push(order.0);
                }
                Event::OrderCancelled { order, .. } => remove(&mut resting, &mut position, order.0),
                Event::Traded(f) => {
                    for id in [f.buy_order.0, f.sell_order.0] {
                        if venue.state.order(OrderId(id)).is_none() {
                            remove(&mut resting, &mut position, id);
                        }
                    }
                }
                _ => {}
            }
        }
        out.push(op);
        if !seeding {
            resting_sum += resting.len() as u64;
        }
    }
    let stats = StreamStats {
        crossing_share: crossing_count as f64 / ops.max(1) as f64,
        resting_mean: resting_sum / ops.max(1),
        resting_end: resting.len() as u64,
    };
    (out, usize::try_from(SEED_ORDERS).unwrap_or(0), stats)
}

fn remove(resting: &mut Vec<u64>, position: &mut std::collections::HashMap<u64, usize>, id: u64) {
    if let Some(i) = position.remove(&id) {
        resting.swap_remove(i);
        if let Some(&moved) = resting.get(i) {
            position.insert(moved, i);
        }
    }
}

pub struct RasidRun {
    pub ops_per_sec: f64,
    /// The median over the latency passes (see `latency_runs`).
    pub p50_ns: u64,
    pub p99_ns: u64,
    /// `(p50, p99)` of each latency pass, the first pass first.
    pub latency_runs: Vec<(u64, u64)>,
    pub trades: u64,
    /// Latency by kind of operation, in `KINDS` order, from the first latency pass: where the
    /// tail comes from.
    pub by_kind: Vec<KindLatency>,
}

/// The kinds of operation the latency is broken down by: a cancel, or a limit order by the
/// number of trades it made (a crossing order that sweeps several resting orders settles each
/// fill, so its latency grows with them).
const KINDS: [&str; 5] =
    ["cancel", "place_resting", "place_1_trade", "place_2_to_3_trades", "place_4_or_more_trades"];

pub struct KindLatency {
    pub kind: &'static str,
    pub count: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
}

fn kind_of(cancel: bool, trades: usize) -> usize {
    match (cancel, trades) {
        (true, _) => 0,
        (false, 0) => 1,
        (false, 1) => 2,
        (false, 2..=3) => 3,
        (false, _) => 4,
    }
}

/// The value at fraction `p` of sorted `values` (0 when empty).
fn percentile(values: &[u64], p: f64) -> u64 {
    values.get(((values.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(0)
}

/// Runs the stream through two fresh venues: one untimed per operation for the throughput,
/// one with each operation's `execute` timed for the latency.
///
/// Reading the clock twice per operation costs about a tenth of an operation here, and the
/// crates Rasid is compared with run without it, so the throughput comes from a run that does
/// not. Both runs build each command from the stream's compact operation just before executing
/// it, as a gateway decodes a request: a vector of two million prebuilt commands (192 bytes
/// each) made every operation read three cold cache lines, about a tenth of the loop again.
pub fn run_rasid(ops: &[Op], seed_ops: usize) -> RasidRun {
    let (ops_per_sec, trades) = rasid_throughput(ops, seed_ops);
    let timed = rasid_latencies(ops, seed_ops);
    // Both runs execute the same commands on the same state, so they must make the same trades.
    assert_eq!(trades, timed.trades, "the engine is deterministic");
    RasidRun { ops_per_sec, ..timed }
}

/// A venue that has executed the seed operations at the front of `ops`.
fn seeded_venue(ops: &[Op], seed_ops: usize) -> Venue {
    let mut venue = Venue::new();
    for op in &ops[..seed_ops] {
        venue.apply(*op);
    }
    venue
}

fn trades_in(events: &Events) -> usize {
    events.iter().filter(|e| matches!(e, Event::Traded(_))).count()
}

/// Operations per second over the stream after the seed, and the trades they made.
fn rasid_throughput(ops: &[Op], seed_ops: usize) -> (f64, u64) {
    let mut venue = seeded_venue(ops, seed_ops);
    let timed = &ops[seed_ops..];
    let started = Instant::now();
    let trades = timed_loop(&mut venue, timed);
    let secs = started.elapsed().as_secs_f64();
    venue.state.audit().expect("invariants hold after the benchmark");
    (timed.len() as f64 / secs, trades)
}

/// The throughput pass's loop. Out of line so that callgrind can count it alone
/// (`--toggle-collect='*timed_loop*'`); one call per pass, so it costs the pass nothing.
#[inline(never)]
fn timed_loop(venue: &mut Venue, ops: &[Op]) -> u64 {
    // The trades are counted by the engine's own trade numbers, not by scanning each
    // operation's events for fills: the scan was 1.5% of the loop's instructions.
    let before = venue.state.trades_made();
    for op in ops {
        venue.apply(*op);
    }
    venue.state.trades_made() - before
}

/// `bench matching --count-loop`: the throughput loop once over the first `loop_ops`
/// operations after the seed of the `ops` stream, and nothing else. Under callgrind its count
/// divided by the operations is the number to compare between builds (docs/HANDOFF.md).
/// With `floor`, the loop of that settlement floor (`--floor`, counted with
/// `--toggle-collect='*timed_floor_loop*'`) instead of Rasid's.
pub fn count_loop(
    ops: u64,
    seed: u64,
    loop_ops: u64,
    floor: Option<&str>,
) -> Result<Output, Failure> {
    let kind = match floor {
        None => None,
        Some(name) => Some(FLOORS.into_iter().find(|k| k.name() == name).ok_or_else(|| {
            let names: Vec<&str> = FLOORS.iter().map(|k| k.name()).collect();
            Failure::invalid("unknown_floor", format!("no floor {name}; one of {names:?}"))
        })?),
    };
    let (stream, seed_ops, _) = generate(ops, seed);
    let timed = &stream[seed_ops..];
    let n = usize::try_from(loop_ops).unwrap_or(usize::MAX).min(timed.len());
    let (engine, trades) = match kind {
        None => {
            let mut venue = seeded_venue(&stream, seed_ops);
            let trades = timed_loop(&mut venue, &timed[..n]);
            venue.state.audit().map_err(|e| Failure::Internal(e.to_string()))?;
            ("rasid", trades)
        }
        Some(kind) => {
            let mut floor = seeded_floor(&stream, seed_ops, kind);
            let trades = timed_floor_loop(&mut floor, &timed[..n]);
            floor.check().map_err(Failure::Internal)?;
            (kind.name(), trades)
        }
    };
    let text = format!("{engine}: {n} operations after {seed_ops} seed orders: {trades} trades");
    let json = json!({ "engine": engine, "ops": n, "seed_ops": seed_ops, "trades": trades });
    Ok(Output::new(text, json))
}

/// Most throughput passes `bench matching --rounds` takes of each engine: each pass of the
/// slowest comparison crate on the default stream takes several seconds.
const MATCHING_ROUNDS_MAX: u32 = 25;

/// Passes of each engine, `(name, operations per second of each pass)`.
type Passes = Vec<(&'static str, Vec<f64>)>;

/// Rasid's run, then the throughput passes of Rasid and the crates (`engines` in the output),
/// Rasid's first, then those of the settlement floors (`floors`).
///
/// The passes are taken in turn — Rasid, then each crate and each floor, then Rasid again — so
/// that a slow stretch of a shared machine (this VM moves ±15–20% between runs of the same
/// binary) falls on every engine alike, and each engine's median is compared with medians
/// taken over the same stretch. Each round after the first also takes a latency pass of
/// Rasid, whose p50 and p99 are the medians of those passes: one pass's p99 moved by a fifth
/// between runs of the same binary.
fn run_rounds(ops: &[Op], seed_ops: usize, rounds: u32) -> (RasidRun, Passes, Passes) {
    let mut rasid = run_rasid(ops, seed_ops);
    let mut passes: Passes = vec![("rasid", vec![rasid.ops_per_sec])];
    let mut floors: Passes = FLOORS.iter().map(|f| (f.name(), Vec::new())).collect();
    for round in 0..rounds {
        if round > 0 {
            let (ops_per_sec, trades) = rasid_throughput(ops, seed_ops);
            assert_eq!(trades, rasid.trades, "the engine is deterministic");
            passes[0].1.push(ops_per_sec);
            let timed = rasid_latencies(ops, seed_ops);
            assert_eq!(timed.trades, rasid.trades, "the engine is deterministic");
            rasid.latency_runs.push((timed.p50_ns, timed.p99_ns));
        }
        for (name, ops_per_sec) in crate::bench_compare::run_all(ops, seed_ops) {
            match passes.iter_mut().find(|(n, _)| *n == name) {
                Some((_, runs)) => runs.push(ops_per_sec),
                None => passes.push((name, vec![ops_per_sec])),
            }
        }
        for (kind, (_, runs)) in FLOORS.iter().zip(floors.iter_mut()) {
            let (ops_per_sec, trades) = floor_throughput(ops, seed_ops, *kind);
            assert_eq!(trades, rasid.trades, "the floor makes Rasid's trades");
            runs.push(ops_per_sec);
        }
    }
    let p50s: Vec<f64> = rasid.latency_runs.iter().map(|&(p50, _)| p50 as f64).collect();
    let p99s: Vec<f64> = rasid.latency_runs.iter().map(|&(_, p99)| p99 as f64).collect();
    (rasid.p50_ns, rasid.p99_ns) = (median(&p50s) as u64, median(&p99s) as u64);
    (rasid, passes, floors)
}

/// The settlement floors, from the sorted record to the appended one, and the naive book they
/// are built on; then the range set, the log, the appended record and the book alone again on
/// the ladder book; then the logged ladder with a full engine's bookkeeping, which emits
/// Rasid's own events, and last the same without events (see `bench_floor`).
const FLOORS: [Kind; 11] = [
    Kind::naive(Record::Sorted),
    Kind::naive(Record::RangeSet),
    Kind::naive(Record::Logged),
    Kind::naive(Record::Appended),
    Kind::naive(Record::Unsettled),
    Kind::ladder(Record::RangeSet),
    Kind::ladder(Record::Logged),
    Kind::ladder(Record::Appended),
    Kind::ladder(Record::Unsettled),
    Kind::ladder_full(),
    Kind::ladder_quiet(),
];

/// The `(id, price)` of each order a stream places, in stream order.
fn placements(ops: &[Op]) -> impl Iterator<Item = (u64, i64)> + '_ {
    ops.iter().filter_map(|op| match op {
        Op::Place { id, price, .. } => Some((*id, *price)),
        Op::Cancel { .. } => None,
    })
}

/// The largest order id a stream places, for engines that index orders by id.
pub fn max_order_id(ops: &[Op]) -> u64 {
    placements(ops).map(|(id, _)| id).max().unwrap_or(0)
}

/// The lowest and highest price a stream places an order at; `(0, 0)` for a stream that
/// places none, so a ladder over it is one level wide rather than an overflowed span.
pub fn price_range(ops: &[Op]) -> (i64, i64) {
    let mut prices = placements(ops).map(|(_, price)| price);
    let Some(first) = prices.next() else { return (0, 0) };
    prices.fold((first, first), |(low, high), p| (low.min(p), high.max(p)))
}

/// A settlement floor that has run the seed operations at the front of `ops`.
fn seeded_floor(ops: &[Op], seed_ops: usize, kind: Kind) -> Floor {
    let members = MEMBERS_PER_SIDE as usize;
    let mut floor = Floor::new(kind, members, max_order_id(ops), price_range(ops));
    for op in &ops[..seed_ops] {
        floor.apply(*op);
    }
    floor
}

/// Operations per second of the settlement floor over the stream after the seed, and the
/// trades it made. Checks afterwards that every serial is in exactly one place.
fn floor_throughput(ops: &[Op], seed_ops: usize, kind: Kind) -> (f64, u64) {
    let mut floor = seeded_floor(ops, seed_ops, kind);
    let timed = &ops[seed_ops..];
    let started = Instant::now();
    let trades = timed_floor_loop(&mut floor, timed);
    let secs = started.elapsed().as_secs_f64();
    floor.check().expect("the floor settles every serial exactly once");
    (timed.len() as f64 / secs, trades)
}

/// A floor's throughput loop, out of line for callgrind as `timed_loop` is; returns the
/// trades it made.
#[inline(never)]
fn timed_floor_loop(floor: &mut Floor, ops: &[Op]) -> u64 {
    let before = floor.trades;
    for op in ops {
        floor.apply(*op);
    }
    // Every credit's merge is paid for inside the pass (see `Floor::merge_logs`).
    floor.merge_logs();
    floor.trades - before
}

/// The settlement floor's p50 and p99 over the stream after the seed, each operation timed
/// as Rasid's are in `rasid_latencies`.
fn floor_latencies(ops: &[Op], seed_ops: usize, kind: Kind) -> (u64, u64) {
    let mut floor = seeded_floor(ops, seed_ops, kind);
    let timed = &ops[seed_ops..];
    let mut latencies = Vec::with_capacity(timed.len());
    for op in timed {
        let t = Instant::now();
        floor.apply(*op);
        latencies.push(t.elapsed().as_nanos() as u64);
    }
    latencies.sort_unstable();
    (percentile(&latencies, 0.50), percentile(&latencies, 0.99))
}

/// The median of some passes (the mean of the middle two for an even count).
fn median(runs: &[f64]) -> f64 {
    assert!(!runs.is_empty(), "every engine listed ran at least once");
    let mut sorted = runs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 }
}

/// Latency of each operation's `execute` over the stream after the seed, overall and by kind.
/// `ops_per_sec` is left at 0 for `run_rasid` to fill in.
fn rasid_latencies(ops: &[Op], seed_ops: usize) -> RasidRun {
    let mut venue = seeded_venue(ops, seed_ops);
    let timed = &ops[seed_ops..];
    let mut latencies = Vec::with_capacity(timed.len());
    // Each operation's kind, kept beside its latency: one byte pushed into a vector sized in
    // advance, so the breakdown adds next to nothing to the timed loop.
    let mut kinds: Vec<u8> = Vec::with_capacity(timed.len());
    let mut trades = 0u64;
    for op in timed {
        let which = venue.prepare(*op);
        let cancel = which == Prepared::Cancel;
        venue.clear_events();
        let t = Instant::now();
        let events = venue.execute_prepared(which);
        let took_ns = t.elapsed().as_nanos() as u64;
        latencies.push(took_ns);
        let traded = trades_in(events);
        kinds.push(kind_of(cancel, traded) as u8);
        trades += traded as u64;
    }
    let mut by_kind: [Vec<u64>; KINDS.len()] = Default::default();
    for (&kind, &took_ns) in kinds.iter().zip(&latencies) {
        by_kind[usize::from(kind)].push(took_ns);
    }
    latencies.sort_unstable();
    venue.state.audit().expect("invariants hold after the benchmark");
    let by_kind = KINDS
        .iter()
        .zip(by_kind.iter_mut())
        .map(|(kind, l)| {
            l.sort_unstable();
            let (p50_ns, p99_ns) = (percentile(l, 0.50), percentile(l, 0.99));
            KindLatency { kind, count: l.len() as u64, p50_ns, p99_ns }
        })
        .collect();
    let (p50_ns, p99_ns) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99));
    RasidRun {
        ops_per_sec: 0.0,
        p50_ns,
        p99_ns,
        latency_runs: vec![(p50_ns, p99_ns)],
        trades,
        by_kind,
    }
}

pub fn run(ops: u64, durable_ops: u64, rounds: u32, seed: u64) -> Result<Output, Failure> {
    if rounds == 0 || rounds > MATCHING_ROUNDS_MAX {
        let why = format!("--rounds must be from 1 to {MATCHING_ROUNDS_MAX}");
        return Err(Failure::invalid("invalid_argument", why));
    }
    let (stream, seed_ops, stats) = generate(ops, seed);
    let (rasid, passes, floor_passes) = run_rounds(&stream, seed_ops, rounds);
    let listed = |passes: &Passes| -> Vec<Value> {
        passes
            .iter()
            .map(|(name, runs)| {
                let runs_u64: Vec<u64> = runs.iter().map(|r| *r as u64).collect();
                json!({ "name": name, "ops_per_sec": median(runs) as u64, "ops_per_sec_runs": runs_u64 })
            })
            .collect()
    };
    let (engines, mut floors) = (listed(&passes), listed(&floor_passes));
    // One latency pass of each floor, after the rounds: their tails are there to compare
    // with Rasid's, not to be tracked run by run.
    for (floor, kind) in floors.iter_mut().zip(FLOORS) {
        let (p50_ns, p99_ns) = floor_latencies(&stream, seed_ops, kind);
        floor["p50_ns"] = json!(p50_ns);
        floor["p99_ns"] = json!(p99_ns);
    }
    let fastest = fastest_crate(&engines).map(|(_, rate)| rate);
    for floor in &mut floors {
        let ratio = fastest.zip(floor["ops_per_sec"].as_f64()).map(|(f, rate)| rate / f);
        floor["ratio_to_fastest_crate"] = json!(ratio);
    }
    let durable = crate::bench::durable_orders(&stream, seed_ops, durable_ops)?;
    let durable_measured = (durable_ops > 0).then_some(durable);
    // Rasid's throughput as reported: the median of its passes, first in `engines`.
    let rasid_ops = engines[0]["ops_per_sec"].as_f64().expect("rasid's median");
    let target = targets(rasid_ops, rasid.p99_ns, durable_measured, &engines);
    let mut text = format!(
        "{} operations after {} seed orders ({} trades, stream seed {seed}, {BUILD_OPTIMISATION} \
         build); throughput: median of {rounds} pass{}\n",
        stream.len() - seed_ops,
        seed_ops,
        rasid.trades,
        if rounds == 1 { "" } else { "es" },
    );
    for e in &engines {
        text.push_str(&format!(
            "  {:<18} {:>12} ops/s\n",
            e["name"].as_str().unwrap_or(""),
            e["ops_per_sec"]
        ));
    }
    text.push_str(
        "settlement floors (a lean book plus settlement; ladder-full adds an engine's \
         bookkeeping and emits Rasid's events; ladder-quiet keeps the books, no events):\n",
    );
    for e in &floors {
        let ratio =
            e["ratio_to_fastest_crate"].as_f64().map_or(String::new(), |r| format!(", {r:.2}×"));
        text.push_str(&format!(
            "  {:<18} {:>12} ops/s{ratio}, p50 {} ns, p99 {} ns\n",
            e["name"].as_str().unwrap_or(""),
            e["ops_per_sec"],
            e["p50_ns"],
            e["p99_ns"]
        ));
    }
    text.push_str(&format!(
        "stream: {:.0}% crossing orders, {} orders resting on average, {} at the end\n",
        stats.crossing_share * 100.0,
        stats.resting_mean,
        stats.resting_end
    ));
    text.push_str(&format!(
        "rasid latency p50 {} ns, p99 {} ns (median of {} pass{}; by kind from the first)\n",
        rasid.p50_ns,
        rasid.p99_ns,
        rasid.latency_runs.len(),
        if rasid.latency_runs.len() == 1 { "" } else { "es" },
    ));
    for k in &rasid.by_kind {
        text.push_str(&format!(
            "  {:<24} {:>9} ops, p50 {:>6} ns, p99 {:>6} ns\n",
            k.kind, k.count, k.p50_ns, k.p99_ns
        ));
    }
    text.push_str(&format!("durable (SQLite, group commit): {} orders/s\n", durable as u64));
    text.push_str(&targets_line(&target, rasid_ops, rasid.p99_ns, durable_measured));
    let by_kind: Vec<_> = rasid
        .by_kind
        .iter()
        .map(
            |k| json!({ "kind": k.kind, "count": k.count, "p50_ns": k.p50_ns, "p99_ns": k.p99_ns }),
        )
        .collect();
    Ok(Output::new(
        text,
        json!({
            "bench": "matching", "ops": stream.len() - seed_ops, "seed_orders": seed_ops, "trades": rasid.trades, "rounds": rounds,
            "stream_seed": seed, "build": BUILD_OPTIMISATION,
            "engines": engines, "floors": floors, "p50_ns": rasid.p50_ns, "p99_ns": rasid.p99_ns,
            "p50_ns_runs": rasid.latency_runs.iter().map(|r| r.0).collect::<Vec<_>>(),
            "p99_ns_runs": rasid.latency_runs.iter().map(|r| r.1).collect::<Vec<_>>(),
            "latency_by_kind": by_kind,
            "durable_orders_per_sec": durable as u64,
            "targets": target,
        "stream": { "crossing_share": stats.crossing_share, "resting_mean": stats.resting_mean, "resting_end": stats.resting_end },
        }),
    ))
}

/// Issue 3's targets for the in-process engine on the default stream, and for the durable path.
const TARGET_OPS_PER_SEC_MIN: f64 = 5_000_000.0;
const TARGET_RATIO_TO_FASTEST_CRATE_MIN: f64 = 1.5;
const TARGET_P99_NS_MAX: u64 = 1_000;
const TARGET_DURABLE_ORDERS_PER_SEC_MIN: f64 = 500_000.0;

/// The fastest comparison crate of a run, `(name, ops/s)`; none without `compare-engines`.
fn fastest_crate(engines: &[Value]) -> Option<(&str, f64)> {
    let crates = engines.iter().filter(|e| e["name"] != "rasid");
    let rates = crates.filter_map(|e| Some((e["name"].as_str()?, e["ops_per_sec"].as_f64()?)));
    rates.max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Which of issue 3's targets a run meets. A target that the run could not measure (the ratio
/// without comparison crates, the durable rate with `--durable-ops 0`) is `null`, not `false`.
fn targets(ops_per_sec: f64, p99_ns: u64, durable: Option<f64>, engines: &[Value]) -> Value {
    let fastest = fastest_crate(engines);
    let ratio = fastest.map(|(_, rate)| ops_per_sec / rate);
    json!({
        "ops_per_sec_min": TARGET_OPS_PER_SEC_MIN as u64,
        "ratio_to_fastest_crate_min": TARGET_RATIO_TO_FASTEST_CRATE_MIN,
        "p99_ns_max": TARGET_P99_NS_MAX,
        "durable_orders_per_sec_min": TARGET_DURABLE_ORDERS_PER_SEC_MIN as u64,
        "fastest_crate": fastest.map(|(name, _)| name),
        "ratio_to_fastest_crate": ratio,
        "met": {
            "ops_per_sec": ops_per_sec >= TARGET_OPS_PER_SEC_MIN,
            "ratio_to_fastest_crate": ratio.map(|r| r >= TARGET_RATIO_TO_FASTEST_CRATE_MIN),
            "p99_ns": p99_ns <= TARGET_P99_NS_MAX,
            "durable_orders_per_sec": durable.map(|d| d >= TARGET_DURABLE_ORDERS_PER_SEC_MIN),
        },
    })
}

/// One line saying which targets a run meets, for the text output.
fn targets_line(t: &Value, ops_per_sec: f64, p99_ns: u64, durable: Option<f64>) -> String {
    let verdict = |met: &Value| match met.as_bool() {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "not measured",
    };
    let ratio = match (t["ratio_to_fastest_crate"].as_f64(), t["fastest_crate"].as_str()) {
        (Some(r), Some(name)) => format!("{r:.2}× {name}"),
        _ => "no comparison crates".to_string(),
    };
    let durable = durable.map_or("-".to_string(), |d| format!("{}", d as u64));
    format!(
        "targets (issue 3): ≥ {} ops/s {} ({}); ≥ {}× the fastest crate {} ({ratio}); p99 ≤ {} ns \
         {} ({p99_ns}); durable ≥ {} orders/s {} ({durable})",
        t["ops_per_sec_min"],
        verdict(&t["met"]["ops_per_sec"]),
        ops_per_sec as u64,
        t["ratio_to_fastest_crate_min"],
        verdict(&t["met"]["ratio_to_fastest_crate"]),
        t["p99_ns_max"],
        verdict(&t["met"]["p99_ns"]),
        t["durable_orders_per_sec_min"],
        verdict(&t["met"]["durable_orders_per_sec"]),
    )
}

/// `rasid bench auction`: one lot of `tonnes` and `bids` sealed bids from the venue's buyers,
/// five of them with guaranteed allocations; times the close (clearing and settling every
/// allocation and refund) in process.
pub fn auction(bids: u64, tonnes: u64) -> Result<Output, Failure> {
    use rasid_core::exchange::auction::{AuctionRule, AuctionSpec, LotSpec};
    let mut venue = Venue::new();
    let mut rng = Rng(7);
    let (operator, seller) = (OrgId(1), venue.sellers[0]);
    let increment = 10;
    let tonnes = tonnes.div_ceil(increment) * increment;
    let guaranteed = venue.buyers.iter().take(5).map(|(org, _)| (*org, 10_000)).collect();
    let lot = LotSpec {
        instrument: InstrumentId(1),
        seller: seller.1,
        quantity_tonnes: tonnes,
        reserve_price_minor: REFERENCE_PRICE,
        min_bid_tonnes: increment,
        increment_tonnes: increment,
        guaranteed,
    };
    let spec = AuctionSpec {
        name: "Benchmark auction".into(),
        rule: AuctionRule::UniformPrice,
        opens_at_ms: BENCH_TIME_MS,
        closes_at_ms: BENCH_TIME_MS + 1,
        approved_bidders: Vec::new(),
        lots: vec![lot],
    };
    venue.exec(operator, Command::CreateAuction { spec });
    let auction = rasid_core::exchange::auction::AuctionId(1);
    for _ in 0..bids {
        let (org, account) = venue.buyers[rng.below(MEMBERS_PER_SIDE) as usize];
        let price_minor = REFERENCE_PRICE + rng.below(200) as i64;
        let quantity_tonnes = increment * (1 + rng.below(100));
        venue.exec(
            org,
            Command::PlaceBid { auction, lot: 0, account, price_minor, quantity_tonnes },
        );
    }
    let started = Instant::now();
    let events = venue.exec_at(BENCH_TIME_MS + 1, operator, Command::CloseAuction { auction });
    let clear_ms = started.elapsed().as_secs_f64() * 1_000.0;
    venue.state.audit().map_err(|e| Failure::Internal(e.to_string()))?;
    let result = venue
        .state
        .auction(auction)
        .and_then(|a| a.lots[0].result.clone())
        .ok_or_else(|| Failure::Internal("no result".into()))?;
    let _ = events;
    Ok(Output::new(
        format!(
            "{bids} bids for {tonnes} t: cleared and settled in {clear_ms:.1} ms; {} allocations, {} t sold at {} minor units",
            result.allocations.len(),
            result.sold_tonnes,
            result.clearing_price_minor.unwrap_or(0)
        ),
        json!({
            "bench": "auction", "bids": bids, "tonnes": tonnes, "clear_ms": clear_ms,
            "allocations": result.allocations.len(), "sold_tonnes": result.sold_tonnes,
            "clearing_price_minor": result.clearing_price_minor,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engines(rates: &[(&str, u64)]) -> Vec<Value> {
        rates.iter().map(|(name, rate)| json!({ "name": name, "ops_per_sec": rate })).collect()
    }

    #[test]
    fn targets_are_judged_against_the_fastest_crate_and_unmeasured_ones_are_null() {
        let run = engines(&[("rasid", 6_000_000), ("slow", 1_000_000), ("fast", 3_000_000)]);
        let t = targets(6_000_000.0, 900, Some(600_000.0), &run);
        assert_eq!(t["fastest_crate"], "fast", "Rasid's own rate is not a crate's: {t}");
        assert_eq!(t["ratio_to_fastest_crate"], 2.0);
        let met = &t["met"];
        for target in ["ops_per_sec", "ratio_to_fastest_crate", "p99_ns", "durable_orders_per_sec"]
        {
            assert_eq!(met[target], true, "{target}: {t}");
        }
        // Just short of each target.
        let t = targets(4_499_999.0, 1_001, Some(499_999.0), &run);
        let met = &t["met"];
        for target in ["ops_per_sec", "ratio_to_fastest_crate", "p99_ns", "durable_orders_per_sec"]
        {
            assert_eq!(met[target], false, "{target}: {t}");
        }
        // Exactly on each bound meets it.
        let t = targets(5_000_000.0, 1_000, Some(500_000.0), &engines(&[("c", 3_333_333)]));
        assert_eq!(t["met"]["p99_ns"], true);
        assert_eq!(t["met"]["ops_per_sec"], true);
        assert_eq!(t["met"]["durable_orders_per_sec"], true);
        // Without comparison crates or a durable run, those targets were not measured.
        let t = targets(1_000.0, 5_000, None, &engines(&[("rasid", 1_000)]));
        assert!(t["fastest_crate"].is_null() && t["ratio_to_fastest_crate"].is_null(), "{t}");
        assert!(t["met"]["ratio_to_fastest_crate"].is_null(), "{t}");
        assert!(t["met"]["durable_orders_per_sec"].is_null(), "{t}");
        let line = targets_line(&t, 1_000.0, 5_000, None);
        assert!(line.contains("NOT met (1000)") && line.contains("not measured"), "{line}");
    }

    /// `--count-loop` runs the throughput pass's loop over a prefix of the same stream: over
    /// all of it, the trades the run reports; over a prefix, that many operations; past the
    /// end, the whole stream.
    #[test]
    fn count_loop_runs_a_prefix_of_the_benchmarks_stream() {
        let ops = 20_000;
        let (stream, seed_ops, _) = generate(ops, STREAM_SEED);
        let all = (stream.len() - seed_ops) as u64;
        let whole = run(ops, 0, 1, STREAM_SEED).expect("the bench runs");
        let counted = count_loop(ops, STREAM_SEED, all, None).expect("the loop runs");
        assert_eq!(counted.json["trades"], whole.json["trades"], "{}", counted.json);
        assert_eq!(counted.json["engine"], "rasid");
        let prefix = count_loop(ops, STREAM_SEED, 1_000, None).expect("the loop runs");
        assert_eq!(prefix.json["ops"], 1_000);
        let fewer = prefix.json["trades"].as_u64().expect("trades");
        assert!(fewer < counted.json["trades"].as_u64().expect("trades"), "{}", prefix.json);
        let past = count_loop(ops, STREAM_SEED, all + 5, None).expect("the loop runs");
        assert_eq!(past.json["ops"], all);
    }

    /// `--count-loop` with `--floor` runs that floor's loop instead, which makes Rasid's
    /// trades; a name that is no floor is refused with the names that are.
    #[test]
    fn count_loop_counts_a_named_floor_and_refuses_an_unknown_one() {
        let ops = 20_000;
        let rasid = count_loop(ops, STREAM_SEED, u64::MAX, None).expect("the loop runs");
        for name in ["ladder-full", "ladder-quiet"] {
            let floor = count_loop(ops, STREAM_SEED, u64::MAX, Some(name)).expect("it runs");
            assert_eq!(floor.json["engine"], name);
            assert_eq!(floor.json["trades"], rasid.json["trades"], "{name}");
        }
        let Err(Failure::Invalid { code, message }) =
            count_loop(ops, STREAM_SEED, 1_000, Some("ladder-fast"))
        else {
            panic!("an unknown floor is refused");
        };
        assert_eq!(code, "unknown_floor");
        assert!(message.contains("ladder-quiet"), "{message}");
    }

    /// `--seed` draws another stream of the same shape (other operations, about the same share
    /// of crossing orders and the same depth), and the run says which seed and build made it.
    #[test]
    fn another_seed_draws_another_stream_of_the_same_shape() {
        let ops = 20_000;
        let (ours, ours_seed_ops, ours_stats) = generate(ops, STREAM_SEED);
        let (other, other_seed_ops, other_stats) = generate(ops, STREAM_SEED + 1);
        assert_ne!(ours[ours_seed_ops..], other[other_seed_ops..]);
        let shares = (ours_stats.crossing_share, other_stats.crossing_share);
        assert!((shares.0 - shares.1).abs() < 0.05, "{shares:?}");
        let depths = (ours_stats.resting_mean, other_stats.resting_mean);
        assert!(depths.0.abs_diff(depths.1) * 10 < depths.0, "{depths:?}");
        let out = run(ops, 0, 1, STREAM_SEED + 1).expect("the bench runs");
        assert_eq!(out.json["stream_seed"], STREAM_SEED + 1, "{}", out.json);
        assert_eq!(out.json["build"], BUILD_OPTIMISATION, "{}", out.json);
        assert!(out.text.contains(&format!("stream seed {}", STREAM_SEED + 1)), "{}", out.text);
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
    }

    /// A small whole run: each kind's count is what a second, untimed replay of the same stream
    /// finds by looking at each operation and the trades it made.
    #[test]
    fn a_small_run_breaks_every_operation_down_by_kind() {
        let (ops, seed) = (20_000, STREAM_SEED);
        let out = run(ops, 1_000, 1, seed).expect("the bench runs");
        let j = &out.json;
        let (stream, seed_ops, _) = generate(ops, seed);
        let mut venue = Venue::new();
        for op in &stream[..seed_ops] {
            venue.apply(*op);
        }
        let mut expected = std::collections::BTreeMap::<&str, u64>::new();
        for op in &stream[seed_ops..] {
            let trades = venue.apply(*op).iter().filter(|e| matches!(e, Event::Traded(_))).count();
            let kind = match (op, trades) {
                (Op::Cancel { .. }, _) => "cancel",
                (_, 0) => "place_resting",
                (_, 1) => "place_1_trade",
                (_, 2 | 3) => "place_2_to_3_trades",
                _ => "place_4_or_more_trades",
            };
            *expected.entry(kind).or_default() += 1;
        }
        let kinds = j["latency_by_kind"].as_array().unwrap();
        let reported: std::collections::BTreeMap<&str, u64> = kinds
            .iter()
            .map(|k| (k["kind"].as_str().unwrap(), k["count"].as_u64().unwrap()))
            .filter(|(_, count)| *count > 0)
            .collect();
        assert_eq!(reported, expected, "{j}");
        assert!(expected.len() >= 4, "the stream exercises most kinds: {expected:?}");
        for k in kinds.iter().filter(|k| k["count"].as_u64() > Some(0)) {
            let (p50, p99) = (k["p50_ns"].as_u64().unwrap(), k["p99_ns"].as_u64().unwrap());
            assert!(p50 > 0 && p50 <= p99, "{k}");
        }
    }
}
