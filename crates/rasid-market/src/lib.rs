//! Market data: a read model built from the engine's events, never from the engine's state.
//!
//! [`MarketData::apply`] takes each accepted command's time and events, in journal order, and
//! maintains per instrument a bounded trades tape, OHLCV candles at 1 minute, 1 hour and 1 day,
//! and per UTC day the volume-weighted average price and the settlement price. Feeding it the
//! same journal always gives the same result; it does no I/O.
//!
//! The daily settlement price is that day's VWAP; a day without trades has none, and the
//! previous day's price carries forward (`settlement_price_at`). Depth and the best bid and offer
//! are read from the book itself (`rasid_core::exchange::Book::depth`).

use rasid_core::Event;
use rasid_core::exchange::{InstrumentId, Side, TradeId};
use std::collections::{BTreeMap, VecDeque};

/// Trades kept per instrument in the tape; older ones remain in the journal.
pub const TAPE_TRADES_MAX: usize = 10_000;
/// Candles kept per instrument and interval.
pub const CANDLES_MAX: usize = 10_000;
const DAY_MS: i64 = 86_400_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Interval {
    Minute,
    Hour,
    Day,
}

impl Interval {
    pub const ALL: [Interval; 3] = [Interval::Minute, Interval::Hour, Interval::Day];

    pub fn millis(self) -> i64 {
        match self {
            Interval::Minute => 60_000,
            Interval::Hour => 3_600_000,
            Interval::Day => DAY_MS,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Minute => "1m",
            Interval::Hour => "1h",
            Interval::Day => "1d",
        }
    }
}

impl std::str::FromStr for Interval {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Interval::ALL
            .into_iter()
            .find(|i| i.as_str() == s)
            .ok_or_else(|| format!("{s:?}: expected 1m, 1h or 1d"))
    }
}

/// One trade as the public sees it: no accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Print {
    pub trade: TradeId,
    pub time_ms: i64,
    pub price_minor: i64,
    pub quantity_tonnes: u64,
    pub aggressor: Side,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candle {
    pub start_ms: i64,
    pub open_minor: i64,
    pub high_minor: i64,
    pub low_minor: i64,
    pub close_minor: i64,
    pub volume_tonnes: u64,
    pub trades: u32,
}

/// One UTC day's trading in an instrument.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Day {
    pub volume_tonnes: u64,
    /// Σ price × quantity, for the VWAP.
    pub notional_minor: i128,
    pub trades: u32,
}

impl Day {
    /// Volume-weighted average price, rounded to the nearest minor unit (half up).
    pub fn vwap_minor(&self) -> Option<i64> {
        if self.volume_tonnes == 0 {
            return None;
        }
        let v = i128::from(self.volume_tonnes);
        i64::try_from((2 * self.notional_minor + v) / (2 * v)).ok()
    }
}

#[derive(Clone, Debug, Default)]
struct InstrumentData {
    tape: VecDeque<Print>,
    candles: BTreeMap<Interval, VecDeque<Candle>>,
    days: BTreeMap<i64, Day>,
}

#[derive(Clone, Debug, Default)]
pub struct MarketData {
    instruments: BTreeMap<InstrumentId, InstrumentData>,
}

impl MarketData {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies one accepted command's events, stamped with its time.
    pub fn apply(&mut self, time_ms: i64, events: &[Event]) {
        for e in events {
            if let Event::Traded(f) = e {
                let print = Print {
                    trade: f.trade,
                    time_ms,
                    price_minor: f.price_minor,
                    quantity_tonnes: f.quantity_tonnes,
                    aggressor: f.aggressor,
                };
                self.instruments.entry(f.instrument).or_default().record(print);
            }
        }
    }

    /// The newest trades first.
    pub fn trades(&self, instrument: InstrumentId, limit: usize) -> Vec<Print> {
        self.instruments
            .get(&instrument)
            .map_or_else(Vec::new, |d| d.tape.iter().rev().take(limit).copied().collect())
    }

    /// The newest candles last.
    pub fn candles(
        &self,
        instrument: InstrumentId,
        interval: Interval,
        limit: usize,
    ) -> Vec<Candle> {
        self.instruments
            .get(&instrument)
            .and_then(|d| d.candles.get(&interval))
            .map_or_else(Vec::new, |c| {
                c.iter().skip(c.len().saturating_sub(limit)).copied().collect()
            })
    }

    /// Every day with trades: `(day start ms, day)`, oldest first.
    pub fn days(&self, instrument: InstrumentId) -> Vec<(i64, Day)> {
        self.instruments
            .get(&instrument)
            .map_or_else(Vec::new, |d| d.days.iter().map(|(k, v)| (*k, *v)).collect())
    }

    /// The settlement price in force at `time_ms`: the VWAP of the last day up to and including
    /// that day that had trades.
    pub fn settlement_price_at(&self, instrument: InstrumentId, time_ms: i64) -> Option<i64> {
        let day = time_ms.div_euclid(DAY_MS) * DAY_MS;
        self.instruments
            .get(&instrument)?
            .days
            .range(..=day)
            .next_back()
            .and_then(|(_, d)| d.vwap_minor())
    }
}

impl InstrumentData {
    fn record(&mut self, p: Print) {
        if self.tape.len() == TAPE_TRADES_MAX {
            self.tape.pop_front();
        }
        self.tape.push_back(p);
        for interval in Interval::ALL {
            let start = p.time_ms.div_euclid(interval.millis()) * interval.millis();
            let candles = self.candles.entry(interval).or_default();
            match candles.back_mut() {
                Some(c) if c.start_ms == start => {
                    c.high_minor = c.high_minor.max(p.price_minor);
                    c.low_minor = c.low_minor.min(p.price_minor);
                    c.close_minor = p.price_minor;
                    c.volume_tonnes += p.quantity_tonnes;
                    c.trades += 1;
                }
                _ => {
                    if candles.len() == CANDLES_MAX {
                        candles.pop_front();
                    }
                    candles.push_back(Candle {
                        start_ms: start,
                        open_minor: p.price_minor,
                        high_minor: p.price_minor,
                        low_minor: p.price_minor,
                        close_minor: p.price_minor,
                        volume_tonnes: p.quantity_tonnes,
                        trades: 1,
                    });
                }
            }
        }
        let day = self.days.entry(p.time_ms.div_euclid(DAY_MS) * DAY_MS).or_default();
        day.volume_tonnes += p.quantity_tonnes;
        day.notional_minor += i128::from(p.price_minor) * i128::from(p.quantity_tonnes);
        day.trades += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rasid_core::exchange::{Fill, OrderId, Serials};
    use rasid_core::{AccountId, IssuanceId, SerialRange};

    fn trade(n: u64, price: i64, q: u64) -> Event {
        Event::Traded(Fill {
            trade: TradeId(n),
            instrument: InstrumentId(1),
            price_minor: price,
            quantity_tonnes: q,
            buy_order: OrderId(1),
            sell_order: OrderId(2),
            buyer: AccountId(3),
            seller: AccountId(4),
            aggressor: Side::Buy,
            serials: Serials::one(IssuanceId(1), SerialRange::new(1, q).unwrap()),
            buyer_fee_minor: 0,
            seller_fee_minor: 0,
            retirements: Default::default(),
        })
    }

    #[test]
    fn candles_vwap_and_settlement_from_hand_worked_trades() {
        let mut md = MarketData::new();
        let t0 = 1_731_283_200_000; // 2024-11-11 00:00 UTC
        md.apply(t0 + 5_000, &[trade(1, 3_750, 100)]);
        md.apply(t0 + 30_000, &[trade(2, 3_800, 300), trade(3, 3_700, 100)]);
        md.apply(t0 + 61_000, &[trade(4, 3_760, 50)]);
        md.apply(t0 + DAY_MS + 1, &[trade(5, 3_900, 10)]);
        let m = md.candles(InstrumentId(1), Interval::Minute, 10);
        assert_eq!(m.len(), 3);
        assert_eq!(
            (
                m[0].open_minor,
                m[0].high_minor,
                m[0].low_minor,
                m[0].close_minor,
                m[0].volume_tonnes
            ),
            (3_750, 3_800, 3_700, 3_700, 500)
        );
        let d = md.candles(InstrumentId(1), Interval::Day, 10);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].volume_tonnes, 550);
        // VWAP day one: (375,000 + 1,140,000 + 370,000 + 188,000) / 550 = 3,769.09… → 3,769.
        let days = md.days(InstrumentId(1));
        assert_eq!(days[0].1.vwap_minor(), Some(3_769));
        assert_eq!(md.settlement_price_at(InstrumentId(1), t0 + DAY_MS / 2), Some(3_769));
        assert_eq!(
            md.settlement_price_at(InstrumentId(1), t0 + 3 * DAY_MS),
            Some(3_900),
            "carried forward"
        );
        assert_eq!(md.settlement_price_at(InstrumentId(1), t0 - 1), None);
        let tape: Vec<u64> = md.trades(InstrumentId(1), 2).iter().map(|p| p.trade.0).collect();
        assert_eq!(tape, vec![5, 4]);
    }
}
