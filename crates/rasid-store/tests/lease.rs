//! The writer lease and fencing on PostgreSQL, in one process with several connections: only
//! the holder of the current term appends; a lease is taken over only once expired; a
//! follower tails what the writer appends and takes over without a second recovery.

use rasid_core::{Command, OrgId, model::Role};
use rasid_store::testing::postgres_test_url;
use rasid_store::{
    Committed, Config, Fence, Follower, Journal, Lease, Ledger, PostgresJournal, ScratchSchema,
    StoreError, SubmitError, system_clock,
};

fn schema(test: &str) -> Option<ScratchSchema> {
    let base = postgres_test_url(test).unwrap_or_else(|e| panic!("{e}"))?;
    Some(ScratchSchema::create(&base, "rasid_lease_test").unwrap())
}

fn org(name: &str) -> Command {
    Command::CreateOrganization { name: name.into(), role: Role::Member }
}

fn genesis() -> Command {
    Command::Genesis { operator_name: "Op".into(), registrar_name: "Reg".into() }
}

#[test]
fn only_the_current_term_appends_and_a_live_lease_is_not_taken() {
    let Some(s) = schema("only_the_current_term_appends") else { return };
    PostgresJournal::open(s.url()).unwrap();
    let mut a = Lease::connect(s.url(), "a", "http://a", 60_000).unwrap();
    let mut b = Lease::connect(s.url(), "b", "http://b", 60_000).unwrap();
    assert_eq!(a.try_acquire().unwrap(), Some(1));
    assert_eq!(b.try_acquire().unwrap(), None, "a live lease is not taken over");
    assert!(a.renew(1).unwrap());
    let info = b.current().unwrap();
    assert_eq!((info.term, info.address.as_str(), info.live), (1, "http://a", true));

    // The writer of term 1 appends; a CLI process (no lease) is refused while the lease lives.
    let ledger = Ledger::open(
        Box::new(PostgresJournal::open_fenced(s.url(), Fence::Term(1)).unwrap()),
        Config::default(),
        system_clock(),
    )
    .unwrap();
    ledger.submit(OrgId(0), genesis()).unwrap();
    let cli = Ledger::open(
        Box::new(PostgresJournal::open(s.url()).unwrap()),
        Config::default(),
        system_clock(),
    )
    .unwrap();
    assert!(matches!(cli.submit(OrgId(1), org("cli")), Err(SubmitError::Unavailable(_))));
    assert!(cli.is_stopped());
    drop(cli);

    // Released, the lease goes to b under term 2, and term 1 can no longer append.
    a.release(1).unwrap();
    assert_eq!(b.try_acquire().unwrap(), Some(2));
    assert!(!a.renew(1).unwrap(), "a renewal of an old term fails");
    assert!(matches!(ledger.submit(OrgId(1), org("stale")), Err(SubmitError::Unavailable(_))));
    assert!(ledger.is_stopped());
    drop(ledger);
    let mut j = PostgresJournal::open_fenced(s.url(), Fence::Term(1)).unwrap();
    let (seq, hash) = j.head().unwrap().unwrap();
    assert_eq!(seq, 1, "nothing of the stale term was written");
    let err = j.save_snapshot(&rasid_store::Snapshot {
        seq,
        state: Vec::new(),
        digest: [0; 32],
        record_hash: hash,
    });
    assert!(matches!(err, Err(StoreError::Fenced(_))), "{err:?}");
}

#[test]
fn a_follower_tails_the_writer_and_takes_over_where_it_stopped() {
    let Some(s) = schema("a_follower_tails_the_writer") else { return };
    PostgresJournal::open(s.url()).unwrap();
    let mut a = Lease::connect(s.url(), "a", "http://a", 60_000).unwrap();
    let term = a.try_acquire().unwrap().unwrap();
    let writer = Ledger::open(
        Box::new(PostgresJournal::open_fenced(s.url(), Fence::Term(term)).unwrap()),
        Config::default(),
        system_clock(),
    )
    .unwrap();
    writer.submit(OrgId(0), genesis()).unwrap();
    let follower = Follower::open(Box::new(PostgresJournal::open(s.url()).unwrap())).unwrap();
    assert_eq!(follower.head(), writer.head());
    for i in 0..10 {
        writer.submit(OrgId(1), org(&format!("o{i}"))).unwrap();
    }
    assert_eq!(follower.catch_up().unwrap(), 10);
    assert_eq!(follower.catch_up().unwrap(), 0);
    assert_eq!(follower.head(), writer.head());
    let names =
        |s: &rasid_core::State| s.organizations().map(|o| o.name.clone()).collect::<Vec<_>>();
    assert_eq!(follower.query(names), writer.query(names).unwrap());

    // The writer dies without closing; b takes over at term 2 from the follower's state.
    drop(writer);
    a.release(term).unwrap();
    let mut b = Lease::connect(s.url(), "b", "http://b", 60_000).unwrap();
    let term = b.try_acquire().unwrap().unwrap();
    follower.catch_up().unwrap();
    let (_, state, head) = follower.into_parts().unwrap();
    let fenced = PostgresJournal::open_fenced(s.url(), Fence::Term(term)).unwrap();
    let ledger =
        Ledger::open_at(Box::new(fenced), Config::default(), system_clock(), state, head).unwrap();
    let next = ledger.submit(OrgId(1), org("after")).unwrap();
    assert_eq!(next.seq, head.0 + 1);
    let journal = ledger.close().unwrap();
    let mut journal = journal;
    assert!(rasid_store::verify(journal.as_mut()).is_ok());
}

/// A feeding follower hands every command to its feed exactly once and in order — the ones
/// before it opened, the ones it tails — and the ledger it turns into feeds on from its head:
/// together the same commands, with the same events, as a replay of the whole journal.
#[test]
fn a_feeding_follower_and_the_ledger_it_becomes_feed_every_command_once() {
    let Some(s) = schema("a_feeding_follower") else { return };
    PostgresJournal::open(s.url()).unwrap();
    let mut a = Lease::connect(s.url(), "a", "http://a", 60_000).unwrap();
    let term = a.try_acquire().unwrap().unwrap();
    let writer = Ledger::open(
        Box::new(PostgresJournal::open_fenced(s.url(), Fence::Term(term)).unwrap()),
        Config::default(),
        system_clock(),
    )
    .unwrap();
    writer.submit(OrgId(0), genesis()).unwrap();
    writer.submit(OrgId(1), org("before")).unwrap();
    let fed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut sink = |batch: &[Committed]| fed.lock().unwrap().extend_from_slice(batch);
    let follower =
        Follower::open_feeding(Box::new(PostgresJournal::open(s.url()).unwrap()), 0, &mut sink)
            .unwrap();
    assert_eq!(fed.lock().unwrap().iter().map(|c| c.seq).collect::<Vec<_>>(), [1, 2]);
    for i in 0..5 {
        writer.submit(OrgId(1), org(&format!("o{i}"))).unwrap();
    }
    assert_eq!(follower.catch_up_feeding(&mut sink).unwrap(), 5);
    assert_eq!(follower.catch_up_feeding(&mut sink).unwrap(), 0);
    // A follower opened after some commands were fed elsewhere feeds only the rest.
    let mut later = Vec::new();
    let other = Follower::open_feeding(
        Box::new(PostgresJournal::open(s.url()).unwrap()),
        4,
        &mut |batch: &[Committed]| later.extend_from_slice(batch),
    )
    .unwrap();
    assert_eq!(later.iter().map(|c| c.seq).collect::<Vec<_>>(), [5, 6, 7]);
    assert_eq!(other.head(), follower.head());

    drop(writer);
    a.release(term).unwrap();
    let mut b = Lease::connect(s.url(), "b", "http://b", 60_000).unwrap();
    let term = b.try_acquire().unwrap().unwrap();
    follower.catch_up_feeding(&mut sink).unwrap();
    let (_, state, head) = follower.into_parts().unwrap();
    let fenced = PostgresJournal::open_fenced(s.url(), Fence::Term(term)).unwrap();
    let feed: rasid_store::Feed = {
        let fed = fed.clone();
        Box::new(move |batch| fed.lock().unwrap().extend_from_slice(batch))
    };
    let ledger = Ledger::open_at_with_feed(
        Box::new(fenced),
        Config::default(),
        system_clock(),
        state,
        head,
        Some(feed),
    )
    .unwrap();
    ledger.submit(OrgId(1), org("after")).unwrap();
    let mut journal = ledger.close().unwrap();
    let mut replayed = Vec::new();
    rasid_store::replay_committed(journal.as_mut(), &mut |c| replayed.push(c)).unwrap();
    assert_eq!(replayed.len(), 8);
    assert_eq!(*fed.lock().unwrap(), replayed, "every command once, in order, same events");
}
