//! How long opening the server's ledger takes, measured on a real database (the demo's):
//! `RASID_OPEN_TIME_DATABASE=sqlite://PATH cargo test --release -p rasid-server --test open_time
//! -- --ignored --nocapture`. It times, alternately in one run, the way `App::open` opened the
//! writer before (the read models replayed from genesis, then the ledger recovered from its
//! snapshot and tail: two passes) and the way it opens now (one pass from genesis feeding both),
//! and `App::open` itself. Nothing is written: the ledgers are dropped, not closed.

use rasid_server::live::Live;
use rasid_store::{Config, DatabaseUrl, Follower, Ledger, open_journal, system_clock};
use std::time::Instant;

fn two_passes(database: &DatabaseUrl) -> u64 {
    let live = Live::new();
    let mut journal = open_journal(database).unwrap();
    rasid_store::replay_committed(journal.as_mut(), &mut |c| live.replay(&c)).unwrap();
    let ledger = Ledger::open_with_feed(journal, Config::default(), system_clock(), None).unwrap();
    ledger.head().0
}

fn one_pass(database: &DatabaseUrl) -> u64 {
    let live = Live::new();
    let journal = open_journal(database).unwrap();
    let (journal, state, head) =
        Follower::open_feeding(journal, 0, &mut |batch| live.replay_batch(batch))
            .and_then(Follower::into_parts)
            .unwrap();
    let ledger =
        Ledger::open_at_with_feed(journal, Config::default(), system_clock(), state, head, None)
            .unwrap();
    ledger.head().0
}

#[test]
#[ignore = "a measurement: needs RASID_OPEN_TIME_DATABASE and a release build"]
fn open_time() {
    let url = std::env::var("RASID_OPEN_TIME_DATABASE").expect("RASID_OPEN_TIME_DATABASE");
    let database: DatabaseUrl = url.parse().unwrap();
    let options = rasid_server::Options {
        database: database.clone(),
        snapshot_interval: 1_000_000,
        bootstrap_operator_password: None,
        demo_users: Vec::new(),
        ha: rasid_server::HaOptions::default(),
    };
    let time = |f: &dyn Fn() -> u64| {
        let started = Instant::now();
        let head = f();
        (started.elapsed().as_secs_f64() * 1e3, head)
    };
    for round in 1..=3 {
        let (before, head) = time(&|| two_passes(&database));
        let (after, head_after) = time(&|| one_pass(&database));
        assert_eq!(head, head_after);
        let (app, _) = time(&|| {
            let app = rasid_server::App::open(&options).unwrap();
            drop(app);
            0
        });
        println!(
            "round {round}: {head} records: two passes {before:.0} ms, one pass {after:.0} ms, \
             App::open {app:.0} ms"
        );
    }
}
