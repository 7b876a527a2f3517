//! Other order-book engines on the same stream, for `rasid bench matching`. Built only with the
//! `compare-engines` feature, which brings those crates in; without it the list is empty.
//!
//! Each engine gets a fresh book, is fed the seed untimed, then the timed part of the stream.
//! The stream is converted to each engine's own types before the clock starts, as Rasid's
//! commands are, so only the engine's own work is timed. Every engine is used through the call
//! that reports the fills of an order back to the caller, because an exchange needs them and
//! Rasid's number includes producing its events.
//!
//! A number is only worth reporting if the engine did what the stream means, so each adapter
//! counts what its engine can tell: trades and traded quantity in the timed part, and the
//! quantity and number of orders resting at the end. An engine that refuses an operation or
//! cannot find an order the stream cancels, or whose counts disagree with what most of the
//! other engines agree on, is left out with a warning on stderr.

use crate::bench_matching::Op;

/// `(crate name, operations per second)` for each comparison engine.
#[cfg(not(feature = "compare-engines"))]
pub fn run_all(_ops: &[Op], _seed_ops: usize) -> Vec<(&'static str, f64)> {
    Vec::new()
}

#[cfg(feature = "compare-engines")]
pub use engines::run_all;

#[cfg(feature = "compare-engines")]
mod engines {
    use super::Op;
    use rasid_core::exchange::Side;
    use std::time::Instant;

    /// `(crate name, operations per second)` for each comparison engine that ran the stream
    /// as meant; the others are named on stderr with the reason.
    pub fn run_all(ops: &[Op], seed_ops: usize) -> Vec<(&'static str, f64)> {
        let runs = [
            (RustOb::NAME, measure::<RustOb>(ops, seed_ops)),
            (RustOrderBook::NAME, measure::<RustOrderBook>(ops, seed_ops)),
            (Lobster::NAME, measure::<Lobster>(ops, seed_ops)),
            (OrderbookRs::NAME, measure::<OrderbookRs>(ops, seed_ops)),
        ];
        let mut finished = Vec::new();
        for (name, run) in runs {
            match run {
                Ok(run) => finished.push(run),
                Err(why) => eprintln!("warning: {name} left out of the comparison: {why}"),
            }
        }
        let left_out = disagreeing(&finished);
        let mut out = Vec::new();
        for (run, why) in finished.iter().zip(left_out) {
            match why {
                None => out.push((run.name, run.ops_per_sec)),
                Some(why) => eprintln!("warning: {} left out of the comparison: {why}", run.name),
            }
        }
        out
    }

    /// For each run, why its counts cannot be trusted, or `None`.
    ///
    /// No engine is known to be right in advance, so the engines vote. A count that most of
    /// the engines still trusted report the same (more than half of them) settles it, and an
    /// engine reporting another value is no longer trusted; that repeats until nothing
    /// changes, so that one wrong engine cannot outvote a right one on a count few engines
    /// report. Engines still disagreeing on a count without a majority are all left out, as
    /// nothing tells which is right.
    fn disagreeing(runs: &[Run]) -> Vec<Option<String>> {
        let fields: Vec<_> = runs.iter().map(|run| run.tally.fields()).collect();
        let mut why: Vec<Option<String>> = vec![None; runs.len()];
        // The runs still trusted that report count `f`: index, label and value.
        let reports = |why: &[Option<String>], f: usize| -> Vec<(usize, &'static str, u64)> {
            fields
                .iter()
                .enumerate()
                .filter(|&(i, _)| why[i].is_none())
                .filter_map(|(i, row)| row[f].1.map(|v| (i, row[f].0, v)))
                .collect()
        };
        let mut changed = true;
        while changed {
            changed = false;
            for f in 0..Tally::COUNTS {
                let reported = reports(&why, f);
                let votes = |v: u64| reported.iter().filter(|&&(_, _, w)| w == v).count();
                let Some(majority) =
                    reported.iter().map(|&(_, _, v)| v).find(|&v| 2 * votes(v) > reported.len())
                else {
                    continue;
                };
                for &(i, label, v) in &reported {
                    if v != majority {
                        why[i] = Some(format!(
                            "{label} {v}, where the other engines agree on {majority}"
                        ));
                        changed = true;
                    }
                }
            }
        }
        for f in 0..Tally::COUNTS {
            let reported = reports(&why, f);
            if reported.windows(2).any(|pair| pair[0].2 != pair[1].2) {
                let values: Vec<String> =
                    reported.iter().map(|&(i, _, v)| format!("{} {v}", runs[i].name)).collect();
                for &(i, label, _) in &reported {
                    why[i] = Some(format!(
                        "the engines disagree on {label} ({}) with no majority",
                        values.join(", ")
                    ));
                }
            }
        }
        why
    }

    /// What an engine reports about the run. Counts an engine cannot tell are `None` and are
    /// not checked for it.
    #[derive(Debug, Clone, Copy)]
    struct Tally {
        /// Fills in the timed part, one per resting order an incoming order traded with.
        trades: Option<u64>,
        /// Quantity traded in the timed part.
        volume: u64,
        /// Quantity resting on each side at the end.
        resting_bid_quantity: u64,
        resting_ask_quantity: u64,
        /// Orders resting at the end.
        resting_orders: Option<u64>,
    }

    impl Tally {
        const COUNTS: usize = 5;

        fn fields(&self) -> [(&'static str, Option<u64>); Self::COUNTS] {
            [
                ("trades", self.trades),
                ("traded quantity", Some(self.volume)),
                ("resting bid quantity", Some(self.resting_bid_quantity)),
                ("resting ask quantity", Some(self.resting_ask_quantity)),
                ("resting orders", self.resting_orders),
            ]
        }
    }

    struct Run {
        name: &'static str,
        ops_per_sec: f64,
        tally: Tally,
    }

    /// One comparison engine behind the same small interface, so that `measure` treats them
    /// all alike and is compiled once for each, with no dynamic dispatch in the timed loop.
    trait Adapter: Sized {
        /// The crate's name, which is how the result is reported.
        const NAME: &'static str;
        /// One operation in the engine's own types, prepared before the clock starts.
        type Input;
        /// Converts an operation; fails where the engine cannot represent it.
        fn convert(op: &Op) -> Result<Self::Input, String>;
        /// A fresh book. `max_id` is the largest order id in the stream, for adapters that
        /// map stream ids to the engine's own.
        fn new(max_id: u64) -> Self;
        /// Runs one operation; fails if the engine refuses it or finds no order to cancel.
        fn apply(&mut self, input: &Self::Input) -> Result<(), String>;
        /// Forgets what the seed added to the counts, so that they cover the timed part.
        fn reset_counters(&mut self);
        /// The counts after the run, with what rests at the end.
        fn tally(&self) -> Result<Tally, String>;
    }

    fn measure<A: Adapter>(ops: &[Op], seed_ops: usize) -> Result<Run, String> {
        let inputs = ops.iter().map(A::convert).collect::<Result<Vec<_>, _>>()?;
        let mut book = A::new(crate::bench_matching::max_order_id(ops));
        let (seed, timed) = inputs.split_at(seed_ops.min(inputs.len()));
        for input in seed {
            book.apply(input)?;
        }
        book.reset_counters();
        let started = Instant::now();
        for input in timed {
            book.apply(input)?;
        }
        let secs = started.elapsed().as_secs_f64();
        Ok(Run { name: A::NAME, ops_per_sec: timed.len() as f64 / secs, tally: book.tally()? })
    }

    /// Prices in the stream are positive, but the engines below take unsigned prices, so a
    /// stream that ever went to zero or below could not be replayed on them.
    fn unsigned_price(price: i64) -> Result<u64, String> {
        u64::try_from(price)
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("price {price} is not positive, which the engine cannot take"))
    }

    /// Stream ids index the id maps directly; they start at 1 and are dense.
    fn slot(id: u64) -> Result<usize, String> {
        usize::try_from(id).map_err(|_| format!("order id {id} does not fit an index"))
    }

    // ---------------------------------------------------------------------------------------
    // rust_ob: takes the caller's ids, so the stream ids are used as they are. Prices and
    // quantities are decimals.

    struct RustOb {
        book: rust_ob::OrderBook<u64>,
        trades: u64,
        volume: rust_ob::Decimal,
    }

    enum RustObInput {
        Place { id: u64, side: rust_ob::Side, price: rust_ob::Decimal, quantity: rust_ob::Decimal },
        Cancel { id: u64 },
    }

    impl Adapter for RustOb {
        const NAME: &'static str = "rust_ob";
        type Input = RustObInput;

        fn convert(op: &Op) -> Result<RustObInput, String> {
            Ok(match *op {
                Op::Place { id, side, price, quantity, .. } => RustObInput::Place {
                    id,
                    side: match side {
                        Side::Buy => rust_ob::Side::Buy,
                        Side::Sell => rust_ob::Side::Sell,
                    },
                    price: rust_ob::Decimal::from(price),
                    quantity: rust_ob::Decimal::from(quantity),
                },
                Op::Cancel { id, .. } => RustObInput::Cancel { id },
            })
        }

        fn new(_max_id: u64) -> Self {
            RustOb { book: rust_ob::OrderBook::new(), trades: 0, volume: rust_ob::Decimal::ZERO }
        }

        fn apply(&mut self, input: &RustObInput) -> Result<(), String> {
            match *input {
                RustObInput::Place { id, side, price, quantity } => {
                    let matches = self
                        .book
                        .process_limit_order(id, side, price, quantity)
                        .map_err(|e| format!("order {id} refused: {e:?}"))?;
                    // One match per resting order traded with, then one for the incoming
                    // order with its total, last, whenever anything traded.
                    if let Some(incoming) = matches.last() {
                        self.trades += matches.len() as u64 - 1;
                        self.volume += incoming.quantity;
                    }
                }
                RustObInput::Cancel { id } => self
                    .book
                    .cancel_order(id)
                    .map_err(|e| format!("cancel of order {id} failed: {e:?}"))?,
            }
            Ok(())
        }

        fn reset_counters(&mut self) {
            self.trades = 0;
            self.volume = rust_ob::Decimal::ZERO;
        }

        fn tally(&self) -> Result<Tally, String> {
            // The crate exposes no count of resting orders, but the cost of a market order for
            // more than the whole book walks every resting order of the other side without
            // changing anything, and its filled quantity is that side's resting quantity.
            let whole_side = |side| {
                let everything = rust_ob::Decimal::from(u64::MAX);
                let (quantity, _cost) = self
                    .book
                    .calculate_market_cost(side, everything)
                    .map_err(|e| format!("resting quantity unavailable: {e:?}"))?;
                to_u64(quantity)
            };
            Ok(Tally {
                trades: Some(self.trades),
                volume: to_u64(self.volume)?,
                resting_bid_quantity: whole_side(rust_ob::Side::Sell)?,
                resting_ask_quantity: whole_side(rust_ob::Side::Buy)?,
                resting_orders: None,
            })
        }
    }

    fn to_u64(d: rust_ob::Decimal) -> Result<u64, String> {
        u64::try_from(d).map_err(|_| format!("quantity {d} is not a whole number of tonnes"))
    }

    // ---------------------------------------------------------------------------------------
    // rust-order-book: assigns its own ids, which are mapped from stream ids through a Vec.
    // Its execution report leaves `fills` empty for limit orders, so trades cannot be counted;
    // the traded quantity and the resting orders and quantities can.

    struct RustOrderBook {
        book: rust_order_book::OrderBook,
        /// The engine's id for each stream id; `None` until the order is placed.
        ids: Vec<Option<rust_order_book::OrderId>>,
        volume: u64,
    }

    enum RustOrderBookInput {
        Place { slot: usize, options: rust_order_book::LimitOrderOptions },
        Cancel { slot: usize },
    }

    impl Adapter for RustOrderBook {
        const NAME: &'static str = "rust-order-book";
        type Input = RustOrderBookInput;

        fn convert(op: &Op) -> Result<RustOrderBookInput, String> {
            Ok(match *op {
                Op::Place { id, side, price, quantity, .. } => RustOrderBookInput::Place {
                    slot: slot(id)?,
                    options: rust_order_book::LimitOrderOptions::new(
                        match side {
                            Side::Buy => rust_order_book::Side::Buy,
                            Side::Sell => rust_order_book::Side::Sell,
                        },
                        quantity,
                        unsigned_price(price)?,
                        Some(rust_order_book::TimeInForce::GTC),
                        Some(false),
                    ),
                },
                Op::Cancel { id, .. } => RustOrderBookInput::Cancel { slot: slot(id)? },
            })
        }

        fn new(max_id: u64) -> Self {
            let len = usize::try_from(max_id).map_or(0, |n| n + 1);
            RustOrderBook {
                book: rust_order_book::OrderBookBuilder::new("BENCH-2024").build(),
                ids: vec![None; len],
                volume: 0,
            }
        }

        fn apply(&mut self, input: &RustOrderBookInput) -> Result<(), String> {
            match *input {
                RustOrderBookInput::Place { slot, options } => {
                    let report = self
                        .book
                        .limit(options)
                        .map_err(|e| format!("order {slot} refused: {e}"))?;
                    self.ids[slot] = Some(report.order_id);
                    self.volume += report.executed_qty.value();
                }
                RustOrderBookInput::Cancel { slot } => {
                    let id = self.ids[slot].ok_or_else(|| format!("order {slot} never placed"))?;
                    self.book
                        .cancel(id)
                        .map_err(|e| format!("cancel of order {slot} failed: {e}"))?;
                }
            }
            Ok(())
        }

        fn reset_counters(&mut self) {
            self.volume = 0;
        }

        fn tally(&self) -> Result<Tally, String> {
            let resting =
                self.ids.iter().flatten().filter(|&&id| self.book.get_order(id).is_ok()).count();
            // There are never more price levels than resting orders, so asking for that many
            // levels returns the whole book.
            let depth = self.book.depth(Some(resting));
            let total = |levels: &[(rust_order_book::Price, rust_order_book::Quantity)]| {
                levels.iter().map(|(_, q)| q.value()).sum()
            };
            Ok(Tally {
                trades: None,
                volume: self.volume,
                resting_bid_quantity: total(&depth.bids),
                resting_ask_quantity: total(&depth.asks),
                resting_orders: Some(resting as u64),
            })
        }
    }

    // ---------------------------------------------------------------------------------------
    // lobster: takes the caller's ids (u128). Its cancel reports `Canceled` whether or not it
    // found the order, so a cancel that missed cannot be seen as it happens; it would leave
    // quantity in the book, which the check of the resting quantity at the end catches.

    struct Lobster {
        book: lobster::OrderBook,
        trades: u64,
        volume: u64,
        /// An upper bound on the number of price levels, for asking the depth of the whole book.
        max_levels: usize,
    }

    impl Adapter for Lobster {
        const NAME: &'static str = "lobster";
        type Input = lobster::OrderType;

        fn convert(op: &Op) -> Result<lobster::OrderType, String> {
            Ok(match *op {
                Op::Place { id, side, price, quantity, .. } => lobster::OrderType::Limit {
                    id: u128::from(id),
                    side: match side {
                        Side::Buy => lobster::Side::Bid,
                        Side::Sell => lobster::Side::Ask,
                    },
                    qty: quantity,
                    price: unsigned_price(price)?,
                },
                Op::Cancel { id, .. } => lobster::OrderType::Cancel { id: u128::from(id) },
            })
        }

        fn new(max_id: u64) -> Self {
            Lobster {
                book: lobster::OrderBook::default(),
                trades: 0,
                volume: 0,
                max_levels: usize::try_from(max_id).unwrap_or(0),
            }
        }

        fn apply(&mut self, input: &lobster::OrderType) -> Result<(), String> {
            match self.book.execute(*input) {
                lobster::OrderEvent::Filled { fills, filled_qty, .. }
                | lobster::OrderEvent::PartiallyFilled { fills, filled_qty, .. } => {
                    self.trades += fills.len() as u64;
                    self.volume += filled_qty;
                }
                lobster::OrderEvent::Placed { .. } | lobster::OrderEvent::Canceled { .. } => {}
                // Only market orders go unfilled, and the stream has none.
                lobster::OrderEvent::Unfilled { id } => {
                    return Err(format!("order {id} unexpectedly unfilled"));
                }
            }
            Ok(())
        }

        fn reset_counters(&mut self) {
            self.trades = 0;
            self.volume = 0;
        }

        fn tally(&self) -> Result<Tally, String> {
            // Every placed order could have made a level of its own, so that many levels is
            // the whole book.
            let depth = self.book.depth(self.max_levels);
            Ok(Tally {
                trades: Some(self.trades),
                volume: self.volume,
                resting_bid_quantity: depth.bids.iter().map(|l| l.qty).sum(),
                resting_ask_quantity: depth.asks.iter().map(|l| l.qty).sum(),
                resting_orders: None,
            })
        }
    }

    // ---------------------------------------------------------------------------------------
    // orderbook-rs: takes the caller's ids, as sequential `Id`s. Used with its defaults: no
    // self-trade prevention, tick or lot size, risk limits or listeners.

    struct OrderbookRs {
        book: orderbook_rs::OrderBook<()>,
        trades: u64,
        volume: u64,
    }

    enum OrderbookRsInput {
        Place { id: orderbook_rs::Id, side: orderbook_rs::Side, price: u128, quantity: u64 },
        Cancel { id: orderbook_rs::Id },
    }

    impl Adapter for OrderbookRs {
        const NAME: &'static str = "orderbook-rs";
        type Input = OrderbookRsInput;

        fn convert(op: &Op) -> Result<OrderbookRsInput, String> {
            Ok(match *op {
                Op::Place { id, side, price, quantity, .. } => OrderbookRsInput::Place {
                    id: orderbook_rs::Id::sequential(id),
                    side: match side {
                        Side::Buy => orderbook_rs::Side::Buy,
                        Side::Sell => orderbook_rs::Side::Sell,
                    },
                    price: u128::from(unsigned_price(price)?),
                    quantity,
                },
                Op::Cancel { id, .. } => {
                    OrderbookRsInput::Cancel { id: orderbook_rs::Id::sequential(id) }
                }
            })
        }

        fn new(_max_id: u64) -> Self {
            OrderbookRs { book: orderbook_rs::OrderBook::new("BENCH-2024"), trades: 0, volume: 0 }
        }

        fn apply(&mut self, input: &OrderbookRsInput) -> Result<(), String> {
            match *input {
                OrderbookRsInput::Place { id, side, price, quantity } => {
                    let (_, result) = self
                        .book
                        .add_limit_order_with_result(
                            id,
                            price,
                            quantity,
                            side,
                            orderbook_rs::TimeInForce::Gtc,
                            None,
                        )
                        .map_err(|e| format!("order {id} refused: {e}"))?;
                    if let Some(result) = result {
                        let matched = &result.match_result;
                        self.trades += matched.trades().len() as u64;
                        self.volume += matched
                            .executed_quantity()
                            .map_err(|e| format!("order {id}: {e}"))?
                            .as_u64();
                    }
                }
                OrderbookRsInput::Cancel { id } => match self.book.cancel_order(id) {
                    Ok(Some(_)) => {}
                    Ok(None) => return Err(format!("cancel of order {id} found nothing")),
                    Err(e) => return Err(format!("cancel of order {id} failed: {e}")),
                },
            }
            Ok(())
        }

        fn reset_counters(&mut self) {
            self.trades = 0;
            self.volume = 0;
        }

        fn tally(&self) -> Result<Tally, String> {
            let side = |side| {
                self.book
                    .total_depth_at_levels(usize::MAX, side)
                    .map_err(|e| format!("resting quantity unavailable: {e}"))
            };
            Ok(Tally {
                trades: Some(self.trades),
                volume: self.volume,
                resting_bid_quantity: side(orderbook_rs::Side::Buy)?,
                resting_ask_quantity: side(orderbook_rs::Side::Sell)?,
                resting_orders: Some(self.book.get_all_orders().len() as u64),
            })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::{Run, Tally, disagreeing};

        fn run(name: &'static str, trades: Option<u64>, volume: u64, orders: Option<u64>) -> Run {
            let tally = Tally {
                trades,
                volume,
                resting_bid_quantity: 10,
                resting_ask_quantity: 20,
                resting_orders: orders,
            };
            Run { name, ops_per_sec: 1.0, tally }
        }

        #[test]
        fn a_wrong_engine_cannot_outvote_a_right_one_on_a_count_few_report() {
            // The first engine is wrong on everything; on trades only it and the last report,
            // but the traded quantity already shows which of the two to trust.
            let runs = [
                run("wrong", Some(7), 99, None),
                run("a", None, 50, Some(3)),
                run("b", None, 50, None),
                run("c", Some(5), 50, Some(3)),
            ];
            let why = disagreeing(&runs);
            assert!(why[0].as_deref().is_some_and(|w| w.contains("traded quantity 99")));
            assert_eq!(why[1..], [None, None, None]);
        }

        #[test]
        fn a_tie_leaves_out_both_sides() {
            let runs = [run("a", Some(1), 50, None), run("b", Some(2), 50, None)];
            let why = disagreeing(&runs);
            assert!(why.iter().all(|w| w.as_deref().is_some_and(|w| w.contains("no majority"))));
            assert!(disagreeing(&[run("a", Some(1), 50, None)])[0].is_none());
        }
    }
}
