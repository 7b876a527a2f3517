//! SQL read models on PostgreSQL: plain tables an analyst can query — `trades`, `retirements`,
//! `holdings` (by serial range), `orders`, `auctions`, `auction_lots`, `auction_allocations` —
//! maintained from committed journal records (see `docs/sql-read-models.md`).
//!
//! A [`ReadModels`] keeps its own engine state: it replays committed records (checking the hash
//! chain), collects what they did, and writes the difference in one transaction together with
//! the position it reached (`read_model_position`), so the tables always show the ledger as of
//! exactly one record. The position row is locked `FOR UPDATE` while writing: several servers
//! may each run a projector and only one writes a given stretch; the others replay it silently.
//!
//! Append-only facts (trades, retirements) are inserted from events; current positions
//! (holdings, open orders, auctions) are diffed against what the tables hold, so each sync
//! writes only what changed. Orders that closed (filled, cancelled, expired) stay in `orders`
//! with their final status: the engine forgets them, the history table does not.
//!
//! The tables are derived data: dropping them (or the position row going back) makes the next
//! sync rebuild them from the journal.

use crate::journal::{GENESIS_HASH, Hash, Journal, Record, StoreError};
use crate::postgres::{PostgresJournal, connect};
use crate::replay::check_record;
use postgres::Client;
use rasid_core::exchange::Order;
use rasid_core::exchange::auction::Auction;
use rasid_core::serial::RangeSet;
use rasid_core::{AccountId, Event, IssuanceId, State};
use std::collections::{BTreeMap, BTreeSet};

/// Records replayed per sync at most, so one sync's transaction and memory stay bounded; the
/// next sync goes on from there.
pub const SYNC_RECORDS_MAX: u64 = 100_000;

/// The marker a replay stops its scan with once it reached its limit.
const REPLAY_LIMIT_REACHED: &str = "read model replay limit reached";

/// Tables whose rows are rebuilt from scratch when the projector starts over.
const TABLES: &str = "trades, retirements, holdings, orders, auctions, auction_lots, \
                      auction_allocations";

/// A holding's rows: its available serials, and its reserved serials, gathered from the orders,
/// lots and deposits that keep them (the holding itself only counts them).
#[derive(Clone, Debug, PartialEq, Eq)]
struct HoldingRanges {
    available: RangeSet,
    reserved: RangeSet,
}

/// What the tables hold now, to diff the state against.
#[derive(Default)]
struct Written {
    holdings: BTreeMap<(AccountId, IssuanceId), HoldingRanges>,
    orders: BTreeMap<u64, Order>,
    auctions: BTreeMap<u64, Auction>,
    last_retirement: u64,
}

/// Columns of `holdings` rows, for one multi-row insert.
#[derive(Default)]
struct HoldingRows {
    account: Vec<i64>,
    org: Vec<i64>,
    issuance: Vec<i64>,
    project: Vec<i64>,
    vintage_year: Vec<i32>,
    status: Vec<&'static str>,
    serial_first: Vec<i64>,
    serial_last: Vec<i64>,
    quantity_tonnes: Vec<i64>,
}

/// A projector of the journal into the SQL read models.
pub struct ReadModels {
    client: Client,
    p: Projection,
}

/// The projector's own replay of the journal and what it last wrote.
struct Projection {
    journal: PostgresJournal,
    state: State,
    head: (u64, Hash),
    written: Written,
}

impl std::fmt::Debug for ReadModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadModels").field("head", &self.p.head.0).finish()
    }
}

/// What one sync saw in the records it wrote.
#[derive(Default)]
struct Seen {
    trades: Vec<(u64, i64, rasid_core::exchange::Fill)>,
    /// Orders accepted in this stretch: they may have closed before the sync saw them open.
    accepted: BTreeMap<u64, (u64, Event)>,
    /// Orders cancelled or expired, with what was left of them.
    cancelled: BTreeMap<u64, u64>,
}

fn big(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Unsupported(format!("{v} does not fit in a BIGINT")))
}

impl ReadModels {
    /// Connects to the ledger's database (creating the tables through the journal's migrations).
    /// The projector starts at genesis; its first sync catches up with the tables' position.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let journal = PostgresJournal::open(url)?;
        let client = connect(url)?;
        Ok(Self {
            client,
            p: Projection {
                journal,
                state: State::new(),
                head: (0, GENESIS_HASH),
                written: Written::default(),
            },
        })
    }

    /// The record the tables show the ledger as of, after the last sync of this projector.
    pub fn head_seq(&self) -> u64 {
        self.p.head.0
    }

    /// Brings the tables up to the journal's head (at most [`SYNC_RECORDS_MAX`] records per
    /// call); returns the position they are at. On error nothing was written and the projector
    /// starts over on the next call.
    pub fn sync(&mut self) -> Result<u64, StoreError> {
        let synced = self.sync_once();
        if synced.is_err() {
            self.p.reset();
        }
        synced
    }

    fn sync_once(&mut self) -> Result<u64, StoreError> {
        let mut tx = self.client.transaction()?;
        let position: i64 = tx
            .query_one("SELECT seq FROM read_model_position WHERE id = 1 FOR UPDATE", &[])?
            .try_get(0)?;
        let position = u64::try_from(position).map_err(|_| StoreError::Corrupt {
            seq: 0,
            reason: "negative read model position".into(),
        })?;
        let p = &mut self.p;
        if position < p.head.0 {
            // The tables went back (dropped, restored): rebuild them from the journal.
            tx.batch_execute(&format!("TRUNCATE {TABLES}"))?;
            p.reset();
            if position > 0 {
                tx.execute("UPDATE read_model_position SET seq = 0 WHERE id = 1", &[])?;
            }
            tx.commit()?;
            return self.sync_once();
        }
        if position == 0 {
            // Position 0 means "nothing projected yet": whatever the tables hold (a reset, a
            // partial restore) goes, so writing from genesis cannot collide with it.
            tx.batch_execute(&format!("TRUNCATE {TABLES}"))?;
        }
        if position > p.head.0 {
            // Someone else wrote up to `position`: replay that far without writing, then take
            // the tables' contents as what the state says there.
            p.replay(position, &mut None)?;
            p.written = Written::from_state(&p.state);
        }
        let target = p.head.0.saturating_add(SYNC_RECORDS_MAX);
        let mut seen = Some(Seen::default());
        p.replay(target, &mut seen)?;
        let seen = seen.expect("kept");
        if p.head.0 == position {
            return Ok(position);
        }
        p.write(&mut tx, seen)?;
        tx.execute("UPDATE read_model_position SET seq = $1 WHERE id = 1", &[&big(p.head.0)?])?;
        tx.commit()?;
        Ok(p.head.0)
    }
}

impl Projection {
    fn reset(&mut self) {
        self.state = State::new();
        self.head = (0, GENESIS_HASH);
        self.written = Written::default();
    }

    /// Applies the records after the head up to `until` (inclusive), checking the chain;
    /// collects what they did into `seen` when given.
    fn replay(&mut self, until: u64, seen: &mut Option<Seen>) -> Result<(), StoreError> {
        let (state, head) = (&mut self.state, &mut self.head);
        let from = head.0 + 1;
        let scanned = self.journal.scan(from, &mut |record: Record| {
            if record.seq > until {
                // Ends the scan early; not an error (see below).
                return Err(StoreError::Stopped(REPLAY_LIMIT_REACHED.into()));
            }
            let envelope = check_record(&record, *head)?;
            let events = state.execute(&envelope).map_err(|r| StoreError::Corrupt {
                seq: record.seq,
                reason: format!("the engine rejects it on replay ({})", r.code()),
            })?;
            *head = (record.seq, record.hash);
            if let Some(seen) = seen.as_mut() {
                for event in events {
                    seen.note(record.seq, envelope.time_ms, event);
                }
            }
            Ok(())
        });
        match scanned {
            Err(StoreError::Stopped(m)) if m == REPLAY_LIMIT_REACHED => Ok(()),
            other => other,
        }
    }

    fn write(&mut self, tx: &mut postgres::Transaction<'_>, seen: Seen) -> Result<(), StoreError> {
        let s = &self.state;
        // Trades.
        for (seq, time_ms, f) in &seen.trades {
            let instrument = s.instrument(f.instrument);
            let (symbol, currency) = instrument.map_or((String::new(), String::new()), |i| {
                (i.spec.symbol.clone(), i.spec.currency.code().to_owned())
            });
            tx.execute(
                "INSERT INTO trades (id, seq, traded_at, instrument, symbol, currency, price_minor,
                     quantity_tonnes, buy_order, sell_order, buyer_account, seller_account,
                     aggressor, buyer_fee_minor, seller_fee_minor)
                 VALUES ($1, $2, to_timestamp($3::BIGINT / 1000.0), $4, $5, $6, $7, $8, $9, $10,
                     $11, $12, $13, $14, $15)",
                &[
                    &big(f.trade.0)?,
                    &big(*seq)?,
                    time_ms,
                    &big(f.instrument.0)?,
                    &symbol,
                    &currency,
                    &f.price_minor,
                    &big(f.quantity_tonnes)?,
                    &big(f.buy_order.0)?,
                    &big(f.sell_order.0)?,
                    &big(f.buyer.0)?,
                    &big(f.seller.0)?,
                    &f.aggressor.as_str(),
                    &f.buyer_fee_minor,
                    &f.seller_fee_minor,
                ],
            )?;
        }
        // Retirements: permanent, with increasing ids.
        let last = self.written.last_retirement;
        let mut new: Vec<_> = s.retirements().rev().take_while(|r| r.id.0 > last).collect();
        new.reverse();
        for r in &new {
            let org = s.account(r.account).map_or(0, |a| a.org.0);
            let (project, vintage) =
                s.issuance(r.issuance).map_or((0, 0), |i| (i.project.0, i.vintage_year));
            tx.execute(
                "INSERT INTO retirements (id, seq, retired_at, account, org, issuance, project,
                     vintage_year, quantity_tonnes, serials, beneficiary, purpose)
                 VALUES ($1, $2, to_timestamp($3::BIGINT / 1000.0), $4, $5, $6, $7, $8, $9, $10,
                     $11, $12)",
                &[
                    &big(r.id.0)?,
                    &big(r.seq)?,
                    &r.retired_at_ms,
                    &big(r.account.0)?,
                    &big(org)?,
                    &big(r.issuance.0)?,
                    &big(project)?,
                    &i32::from(vintage),
                    &big(r.serials.quantity_tonnes())?,
                    &ranges_text(&r.serials),
                    &r.details.beneficiary,
                    &r.details.purpose.as_str(),
                ],
            )?;
        }
        if let Some(r) = new.last() {
            self.written.last_retirement = r.id.0;
        }
        self.write_holdings(tx)?;
        self.write_orders(tx, &seen)?;
        self.write_auctions(tx)?;
        Ok(())
    }

    fn write_holdings(&mut self, tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
        // The diff reads every holding: merged once here, not copied merged on every sync.
        self.state.merge_credit_logs();
        let s = &self.state;
        let mut current: BTreeSet<(AccountId, IssuanceId)> = BTreeSet::new();
        let mut changed = Vec::new();
        let mut reserved = s.reserved_serials();
        for (account, issuance, holding) in s.holdings() {
            current.insert((account, issuance));
            let reserved = reserved.remove(&(account, issuance)).unwrap_or_default();
            let written = self.written.holdings.get(&(account, issuance));
            if written.is_none_or(|w| w.available != holding.available || w.reserved != reserved) {
                let ranges = HoldingRanges { available: holding.available.clone(), reserved };
                changed.push((account, issuance, ranges));
            }
        }
        let gone: Vec<_> =
            self.written.holdings.keys().filter(|k| !current.contains(k)).copied().collect();
        // Whole batches in one statement each (arrays unnested server-side): the first sync of
        // an imported registry writes hundreds of thousands of ranges.
        let mut keys: (Vec<i64>, Vec<i64>) = (Vec::new(), Vec::new());
        for (account, issuance) in
            gone.iter().copied().chain(changed.iter().map(|(a, i, _)| (*a, *i)))
        {
            keys.0.push(big(account.0)?);
            keys.1.push(big(issuance.0)?);
        }
        if !keys.0.is_empty() {
            tx.execute(
                "DELETE FROM holdings h USING unnest($1::BIGINT[], $2::BIGINT[]) AS k (account, issuance)
                 WHERE h.account = k.account AND h.issuance = k.issuance",
                &[&keys.0, &keys.1],
            )?;
        }
        let mut rows = HoldingRows::default();
        for (account, issuance, holding) in &changed {
            let org = s.account(*account).map_or(0, |a| a.org.0);
            let (project, vintage) =
                s.issuance(*issuance).map_or((0, 0), |i| (i.project.0, i.vintage_year));
            for (status, set) in
                [("available", &holding.available), ("reserved", &holding.reserved)]
            {
                for range in set.ranges() {
                    rows.account.push(big(account.0)?);
                    rows.org.push(big(org)?);
                    rows.issuance.push(big(issuance.0)?);
                    rows.project.push(big(project)?);
                    rows.vintage_year.push(i32::from(vintage));
                    rows.status.push(status);
                    rows.serial_first.push(big(range.first())?);
                    rows.serial_last.push(big(range.last())?);
                    rows.quantity_tonnes.push(big(range.quantity_tonnes())?);
                }
            }
        }
        if !rows.account.is_empty() {
            tx.execute(
                "INSERT INTO holdings (account, org, issuance, project, vintage_year, status,
                     serial_first, serial_last, quantity_tonnes)
                 SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[],
                     $5::INTEGER[], $6::TEXT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[])",
                &[
                    &rows.account,
                    &rows.org,
                    &rows.issuance,
                    &rows.project,
                    &rows.vintage_year,
                    &rows.status,
                    &rows.serial_first,
                    &rows.serial_last,
                    &rows.quantity_tonnes,
                ],
            )?;
        }
        for key in gone {
            self.written.holdings.remove(&key);
        }
        for (account, issuance, holding) in changed {
            self.written.holdings.insert((account, issuance), holding);
        }
        Ok(())
    }

    fn write_orders(
        &mut self,
        tx: &mut postgres::Transaction<'_>,
        seen: &Seen,
    ) -> Result<(), StoreError> {
        let s = &self.state;
        let seq = big(self.head.0)?;
        let open: BTreeMap<u64, &Order> =
            s.accounts().flat_map(|a| s.orders_of(a.id)).map(|o| (o.id.0, o)).collect();
        let upsert = "INSERT INTO orders (id, instrument, symbol, account, org, side, price_minor,
                          quantity_tonnes, remaining_tonnes, status, updated_seq)
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                      ON CONFLICT (id) DO UPDATE SET price_minor = EXCLUDED.price_minor,
                          remaining_tonnes = EXCLUDED.remaining_tonnes,
                          status = EXCLUDED.status, updated_seq = EXCLUDED.updated_seq";
        let symbol =
            |instrument| s.instrument(instrument).map_or(String::new(), |i| i.spec.symbol.clone());
        for (id, order) in &open {
            if self.written.orders.get(id) == Some(*order) {
                continue;
            }
            tx.execute(
                upsert,
                &[
                    &big(*id)?,
                    &big(order.instrument.0)?,
                    &symbol(order.instrument),
                    &big(order.account.0)?,
                    &big(order.org.0)?,
                    &order.side.as_str(),
                    &order.price_minor,
                    &big(order.quantity_tonnes)?,
                    &big(order.remaining_tonnes)?,
                    &"open",
                    &seq,
                ],
            )?;
        }
        let closed_status = |id: &u64| match seen.cancelled.get(id) {
            Some(remaining) => ("cancelled", *remaining),
            None => ("filled", 0),
        };
        // Orders that were open and are gone.
        for id in self.written.orders.keys().filter(|id| !open.contains_key(id)) {
            let (status, remaining) = closed_status(id);
            tx.execute(
                "UPDATE orders SET status = $2, remaining_tonnes = $3, updated_seq = $4 WHERE id = $1",
                &[&big(*id)?, &status, &big(remaining)?, &seq],
            )?;
        }
        // Orders that opened and closed between two syncs.
        for (id, (_, event)) in &seen.accepted {
            if open.contains_key(id) || self.written.orders.contains_key(id) {
                continue;
            }
            let Event::OrderAccepted {
                instrument,
                account,
                side,
                price_minor,
                quantity_tonnes,
                ..
            } = event
            else {
                continue;
            };
            let (status, remaining) = closed_status(id);
            let org = s.account(*account).map_or(0, |a| a.org.0);
            tx.execute(
                upsert,
                &[
                    &big(*id)?,
                    &big(instrument.0)?,
                    &symbol(*instrument),
                    &big(account.0)?,
                    &big(org)?,
                    &side.as_str(),
                    price_minor,
                    &big(*quantity_tonnes)?,
                    &big(remaining)?,
                    &status,
                    &seq,
                ],
            )?;
        }
        self.written.orders = open.into_iter().map(|(id, o)| (id, o.clone())).collect();
        Ok(())
    }

    fn write_auctions(&mut self, tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
        let s = &self.state;
        for a in s.auctions() {
            if self.written.auctions.get(&a.id.0) == Some(a) {
                continue;
            }
            let id = big(a.id.0)?;
            tx.execute("DELETE FROM auction_allocations WHERE auction = $1", &[&id])?;
            tx.execute("DELETE FROM auction_lots WHERE auction = $1", &[&id])?;
            let rule = match a.rule {
                rasid_core::exchange::auction::AuctionRule::UniformPrice => "uniform_price",
                rasid_core::exchange::auction::AuctionRule::PayAsBid => "pay_as_bid",
            };
            let status = match a.status {
                rasid_core::exchange::auction::AuctionStatus::Open => "open",
                rasid_core::exchange::auction::AuctionStatus::Closed => "closed",
            };
            tx.execute(
                "INSERT INTO auctions (id, name, rule, opens_at, closes_at, status)
                 VALUES ($1, $2, $3, to_timestamp($4::BIGINT / 1000.0),
                     to_timestamp($5::BIGINT / 1000.0), $6)
                 ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status",
                &[&id, &a.name, &rule, &a.opens_at_ms, &a.closes_at_ms, &status],
            )?;
            for (lot_index, lot) in a.lots.iter().enumerate() {
                let lot_no = i32::try_from(lot_index).expect("lots are few");
                let result = lot.result.as_ref();
                let symbol = s
                    .instrument(lot.spec.instrument)
                    .map_or(String::new(), |i| i.spec.symbol.clone());
                tx.execute(
                    "INSERT INTO auction_lots (auction, lot, instrument, symbol, seller_account,
                         offered_tonnes, reserve_price_minor, clearing_price_minor, sold_tonnes,
                         bids, bidders)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    &[
                        &id,
                        &lot_no,
                        &big(lot.spec.instrument.0)?,
                        &symbol,
                        &big(lot.spec.seller.0)?,
                        &big(lot.spec.quantity_tonnes)?,
                        &lot.spec.reserve_price_minor,
                        &result.and_then(|r| r.clearing_price_minor),
                        &result.map(|r| big(r.sold_tonnes)).transpose()?,
                        &result.map(|r| i64::from(r.bids)),
                        &result.map(|r| i64::from(r.bidders)),
                    ],
                )?;
                for al in result.map(|r| r.allocations.as_slice()).unwrap_or_default() {
                    tx.execute(
                        "INSERT INTO auction_allocations (auction, lot, bid, account, org,
                             quantity_tonnes, price_minor, guaranteed_tonnes)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        &[
                            &id,
                            &lot_no,
                            &big(al.bid.0)?,
                            &big(al.account.0)?,
                            &big(al.org.0)?,
                            &big(al.quantity_tonnes)?,
                            &al.price_minor,
                            &big(al.guaranteed_tonnes)?,
                        ],
                    )?;
                }
            }
            self.written.auctions.insert(a.id.0, a.clone());
        }
        Ok(())
    }
}

impl Seen {
    fn note(&mut self, seq: u64, time_ms: i64, event: Event) {
        match event {
            Event::Traded(fill) => self.trades.push((seq, time_ms, fill)),
            Event::OrderAccepted { order, .. } => {
                self.accepted.insert(order.0, (seq, event));
            }
            Event::OrderCancelled { order, remaining_tonnes, .. } => {
                self.cancelled.insert(order.0, remaining_tonnes);
            }
            _ => {}
        }
    }
}

impl Written {
    fn from_state(s: &State) -> Self {
        Self {
            holdings: {
                let mut reserved = s.reserved_serials();
                s.holdings()
                    .map(|(a, i, h)| {
                        let reserved = reserved.remove(&(a, i)).unwrap_or_default();
                        ((a, i), HoldingRanges { available: h.available.clone(), reserved })
                    })
                    .collect()
            },
            orders: s
                .accounts()
                .flat_map(|a| s.orders_of(a.id))
                .map(|o| (o.id.0, o.clone()))
                .collect(),
            auctions: s.auctions().map(|a| (a.id.0, a.clone())).collect(),
            last_retirement: s.retirements().next_back().map_or(0, |r| r.id.0),
        }
    }
}

/// Serial ranges as text: `first-last` joined by commas (a single serial as `first`).
fn ranges_text(set: &rasid_core::RangeSet) -> String {
    let mut text = String::new();
    for r in set.ranges() {
        if !text.is_empty() {
            text.push(',');
        }
        if r.first() == r.last() {
            text.push_str(&r.first().to_string());
        } else {
            text.push_str(&format!("{}-{}", r.first(), r.last()));
        }
    }
    text
}
