//! The SQL read models on PostgreSQL equal the engine's state: after the demo's market (imports,
//! trades, buy-and-retire, the launch auction) and after a further change, the `holdings`,
//! `retirements`, `orders`, `trades`, `auctions` and `auction_*` tables say what the replayed
//! state and the journal's events say. PostgreSQL only.

mod common;

use common::Rasid;
use rasid_core::codec::decode_envelope;
use rasid_core::{Event, State};
use rasid_store::{Journal, PostgresJournal, ReadModels};
use std::collections::BTreeSet;

/// Replays the whole journal; returns the state and every trade `(id, price, tonnes)`.
fn replay(url: &str) -> (State, BTreeSet<(i64, i64, i64)>) {
    let mut journal = PostgresJournal::open(url).unwrap();
    let mut state = State::new();
    let mut trades = BTreeSet::new();
    journal
        .scan(1, &mut |record| {
            let envelope = decode_envelope(&record.body).unwrap();
            for event in state.execute(&envelope).unwrap() {
                if let Event::Traded(f) = event {
                    trades.insert((f.trade.0 as i64, f.price_minor, f.quantity_tonnes as i64));
                }
            }
            Ok(())
        })
        .unwrap();
    (state, trades)
}

fn sync_all(models: &mut ReadModels, url: &str) {
    let head = PostgresJournal::open(url).unwrap().head().unwrap().unwrap().0;
    // Bounded: each sync advances by up to SYNC_RECORDS_MAX records.
    for _ in 0..1_000 {
        if models.sync().unwrap() == head {
            return;
        }
    }
    panic!("the read models did not reach record {head}");
}

/// Asserts every table equals what the state (and the journal's trades) say.
fn assert_tables_match(url: &str) {
    let (s, trades) = replay(url);
    let mut db = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let position: i64 = db.query_one("SELECT seq FROM read_model_position", &[]).unwrap().get(0);
    assert_eq!(position as u64, s.last_seq());

    let reserved = s.reserved_serials();
    let none = rasid_core::RangeSet::new();
    let want: BTreeSet<(i64, i64, String, i64, i64)> = s
        .holdings()
        .flat_map(|(a, i, h)| {
            let held = reserved.get(&(a, i)).unwrap_or(&none);
            let both = [("available", &h.available), ("reserved", held)];
            let rows = both.into_iter().flat_map(move |(status, set)| {
                set.ranges().map(move |r| {
                    (a.0 as i64, i.0 as i64, status.to_owned(), r.first() as i64, r.last() as i64)
                })
            });
            // Collected here: a holding may be lent as a merged copy that lives in this closure.
            rows.collect::<Vec<_>>()
        })
        .collect();
    let got: BTreeSet<(i64, i64, String, i64, i64)> = db
        .query("SELECT account, issuance, status, serial_first, serial_last FROM holdings", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want, "holdings by serial range");

    let want: BTreeSet<(i64, i64, i64)> = s
        .retirements()
        .map(|r| (r.id.0 as i64, r.account.0 as i64, r.serials.quantity_tonnes() as i64))
        .collect();
    let got: BTreeSet<(i64, i64, i64)> = db
        .query("SELECT id, account, quantity_tonnes FROM retirements", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want, "retirements");

    let want: BTreeSet<(i64, i64, i64)> = s
        .accounts()
        .flat_map(|a| s.orders_of(a.id))
        .map(|o| (o.id.0 as i64, o.price_minor, o.remaining_tonnes as i64))
        .collect();
    let got: BTreeSet<(i64, i64, i64)> = db
        .query("SELECT id, price_minor, remaining_tonnes FROM orders WHERE status = 'open'", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(got, want, "open orders");
    // Every traded order is in the history; filled ones have nothing left.
    let unfilled: i64 = db
        .query_one(
            "SELECT COUNT(*) FROM orders WHERE status = 'filled' AND remaining_tonnes <> 0",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(unfilled, 0);
    let missing: i64 = db
        .query_one(
            "SELECT COUNT(*) FROM trades t WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = t.buy_order)
                OR NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = t.sell_order)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(missing, 0, "every trade's orders are in the orders table");

    let got: BTreeSet<(i64, i64, i64)> = db
        .query("SELECT id, price_minor, quantity_tonnes FROM trades", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert!(!trades.is_empty());
    assert_eq!(got, trades, "trades");

    let want: BTreeSet<(i64, String, Option<i64>, i64)> = s
        .auctions()
        .flat_map(|a| {
            a.lots.iter().map(move |l| {
                let r = l.result.as_ref();
                (
                    a.id.0 as i64,
                    format!("{:?}", a.status).to_lowercase(),
                    r.and_then(|r| r.clearing_price_minor),
                    r.map_or(0, |r| r.allocations.iter().map(|al| al.quantity_tonnes).sum::<u64>())
                        as i64,
                )
            })
        })
        .collect();
    let got: BTreeSet<(i64, String, Option<i64>, i64)> = db
        .query(
            "SELECT a.id, a.status, l.clearing_price_minor,
                    COALESCE((SELECT SUM(quantity_tonnes) FROM auction_allocations x
                              WHERE x.auction = l.auction AND x.lot = l.lot), 0)::BIGINT
             FROM auctions a JOIN auction_lots l ON l.auction = a.id",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got, want, "auctions and results");
}

#[test]
fn sql_read_models_equal_the_engine_state() {
    let Some(r) = Rasid::on_postgres("sql_read_models") else { return };
    r.ok(&["demo", "--no-serve"]);
    let url = r.database_url();
    let mut models = ReadModels::open(&url).unwrap();
    let started = std::time::Instant::now();
    sync_all(&mut models, &url);
    eprintln!("first sync of the demo ledger: {} ms", started.elapsed().as_millis());
    let started = std::time::Instant::now();
    assert_tables_match(&url);
    eprintln!("comparison: {} ms", started.elapsed().as_millis());

    // A change after the first sync: cancel an open order (the diff path).
    let mut db = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let order: i64 = db
        .query_one("SELECT id FROM orders WHERE status = 'open' ORDER BY id LIMIT 1", &[])
        .unwrap()
        .get(0);
    r.ok(&["order", "cancel", &order.to_string()]);
    sync_all(&mut models, &url);
    assert_tables_match(&url);
    let status: String =
        db.query_one("SELECT status FROM orders WHERE id = $1", &[&order]).unwrap().get(0);
    assert_eq!(status, "cancelled");

    // A second projector (another server) catches up silently and writes nothing twice; with
    // the position reset (tables restored from an older copy), it rebuilds them.
    let mut other = ReadModels::open(&url).unwrap();
    sync_all(&mut other, &url);
    assert_tables_match(&url);
    db.batch_execute("DELETE FROM trades; UPDATE read_model_position SET seq = 0").unwrap();
    sync_all(&mut models, &url);
    assert_tables_match(&url);

    // The CLI does the same without a server.
    db.batch_execute("DELETE FROM holdings; UPDATE read_model_position SET seq = 0").unwrap();
    let synced = r.ok(&["sync-read-models"]);
    let head = PostgresJournal::open(&url).unwrap().head().unwrap().unwrap().0;
    assert_eq!(synced["position"].as_u64(), Some(head));
    assert_tables_match(&url);
}

#[test]
fn sql_read_models_are_refused_on_sqlite() {
    let r = Rasid::new();
    r.ok(&["init"]);
    assert_eq!(r.fails(&["sync-read-models"]), (2, "postgres_only".to_owned()));
}
