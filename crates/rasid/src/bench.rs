//! `rasid bench registry`: durable registry throughput, replay and verify speed, each quoted
//! against baselines measured in the same run on the same disk (raw fsyncs, raw SQLite inserts
//! of rows the size of journal records).
//!
//! Also the hidden `rasid debug write-load`, the victim of the crash-recovery test.
//! `rasid bench serials` lives beside `rasid serial parse` in `serials.rs`.

use crate::cli::{BenchCmd, DebugCmd};
use crate::output::{Failure, Output};
use rasid_core::model::{Basis, Effect, Program, ProjectInfo, Purpose, RetirementDetails, Role};
use rasid_core::{AccountId, Command, IssuanceId, OrgId, ProjectId, Selection, State};
use rasid_store::{Config, DatabaseUrl, Ledger, Ticket, open_journal, system_clock};
use serde_json::json;
use std::io::Write;
use std::time::Instant;

/// Requests in flight at once in the batched run, and commands in each.
const BENCH_REQUESTS_IN_FLIGHT: usize = 16;
const BENCH_REQUEST_COMMANDS: usize = 1_000;
/// Single-command requests in flight at once: stands in for that many concurrent clients.
const BENCH_SINGLE_IN_FLIGHT: usize = 4_096;

pub fn run(cmd: BenchCmd, _database: &DatabaseUrl) -> Result<Output, Failure> {
    match cmd {
        BenchCmd::Registry { commands } => registry(commands),
        BenchCmd::Matching { ops, durable_ops } => crate::bench_matching::run(ops, durable_ops),
        BenchCmd::Auction { bids, tonnes } => crate::bench_matching::auction(bids, tonnes),
        BenchCmd::Serials { count, rounds } => crate::serials::bench(count, rounds),
    }
}

/// The members and issuance the load runs against.
#[derive(Clone, Copy)]
pub struct LoadSeed {
    member: OrgId,
    a: AccountId,
    b: AccountId,
    issuance: IssuanceId,
}

/// Sets up (once) a member with two accounts and a very large issuance to move around.
pub fn seed_load(ledger: &Ledger) -> Result<LoadSeed, Failure> {
    const NAME: &str = "Load Test Member";
    let existing = ledger.query(|s: &State| {
        let org = s.organization_by_name(NAME)?.id;
        let mut accounts = s.accounts_of(org).map(|a| a.id);
        let (a, b) = (accounts.next()?, accounts.next()?);
        let issuance = s.issuances().find(|i| i.external_ref.as_deref() == Some("LOAD:1"))?.id;
        Some(LoadSeed { member: org, a, b, issuance })
    })?;
    if let Some(seed) = existing {
        return Ok(seed);
    }
    if !ledger.query(State::is_initialized)? {
        ledger.submit(
            OrgId(0),
            Command::Genesis {
                operator_name: crate::registry::DEFAULT_OPERATOR.into(),
                registrar_name: crate::registry::DEFAULT_REGISTRAR.into(),
            },
        )?;
    }
    let (operator, registrar) =
        ledger.query(|s: &State| (s.operator().expect("init"), s.registrar().expect("init")))?;
    let member =
        org_of(&ledger.submit(
            operator,
            Command::CreateOrganization { name: NAME.into(), role: Role::Member },
        )?);
    let a = account_of(
        &ledger.submit(operator, Command::OpenAccount { org: member, name: "A".into() })?,
    );
    let b = account_of(
        &ledger.submit(operator, Command::OpenAccount { org: member, name: "B".into() })?,
    );
    let project = match ledger
        .submit(registrar, Command::RegisterProject { info: load_project(member) })?
        .events[..]
    {
        [rasid_core::Event::ProjectRegistered { project }] => project,
        _ => ProjectId(0),
    };
    let issued = ledger.submit(
        registrar,
        Command::Issue {
            project,
            vintage_year: 2024,
            quantity_tonnes: 1_000_000_000_000,
            buffer_tonnes: 0,
            to_account: a,
            first_serial: None,
            external_ref: Some("LOAD:1".into()),
        },
    )?;
    let issuance = match issued.events[..] {
        [rasid_core::Event::Issued { issuance, .. }] => issuance,
        _ => IssuanceId(0),
    };
    Ok(LoadSeed { member, a, b, issuance })
}

fn org_of(c: &rasid_store::Committed) -> OrgId {
    match c.events[..] {
        [rasid_core::Event::OrganizationCreated { org }] => org,
        _ => unreachable!("CreateOrganization emits OrganizationCreated"),
    }
}

fn account_of(c: &rasid_store::Committed) -> AccountId {
    match c.events[..] {
        [rasid_core::Event::AccountOpened { account, .. }] => account,
        _ => unreachable!("OpenAccount emits AccountOpened"),
    }
}

fn load_project(developer: OrgId) -> ProjectInfo {
    ProjectInfo {
        program: Program::Native,
        external_id: "LOAD-1".into(),
        name: "Load test project".into(),
        methodology: String::new(),
        country: "Saudi Arabia".into(),
        region: "Western Asia".into(),
        scope: String::new(),
        project_type: String::new(),
        effect: Effect::Removal,
        basis: Basis::Technology,
        developer,
    }
}

/// The i-th command of the load: nine 1-tonne transfers back and forth, then a retirement.
fn load_command(seed: LoadSeed, i: u64) -> Command {
    let one = Selection::Quantity(1);
    match i % 10 {
        9 => Command::Retire {
            account: seed.a,
            issuance: seed.issuance,
            selection: one,
            details: RetirementDetails {
                beneficiary: "Benchmark".into(),
                purpose: Purpose::Voluntary,
                using_entity: String::new(),
                note: String::new(),
            },
        },
        k if k % 2 == 0 => {
            Command::Transfer { from: seed.a, to: seed.b, issuance: seed.issuance, selection: one }
        }
        _ => {
            Command::Transfer { from: seed.b, to: seed.a, issuance: seed.issuance, selection: one }
        }
    }
}

fn per_sec(n: u64, secs: f64) -> u64 {
    (n as f64 / secs.max(1e-9)) as u64
}

fn registry(commands: u64) -> Result<Output, Failure> {
    // The bench writes next to the working directory, not /tmp, which may be a RAM disk where
    // fsync costs nothing and the numbers would flatter.
    let dir = tempfile::Builder::new()
        .prefix(".rasid-bench")
        .tempdir_in(".")
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let fsyncs = baseline_fsyncs(&dir.path().join("fsync"))?;
    let sqlite_rows = baseline_sqlite(&dir.path().join("raw.db"), commands)?;

    let db = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    let config = Config::default();
    let ledger = Ledger::open(open_journal(&db)?, config, system_clock())?;
    let seed = seed_load(&ledger)?;
    let started = Instant::now();
    let mut tickets: std::collections::VecDeque<Ticket<_>> = Default::default();
    let mut i = 0;
    while i < commands {
        let n = BENCH_REQUEST_COMMANDS.min((commands - i) as usize) as u64;
        let batch: Vec<_> = (i..i + n).map(|k| (seed.member, load_command(seed, k))).collect();
        tickets.push_back(ledger.submit_batch_async(batch));
        i += n;
        if tickets.len() >= BENCH_REQUESTS_IN_FLIGHT {
            check_all(tickets.pop_front().expect("non-empty").wait()?)?;
        }
    }
    for t in tickets {
        check_all(t.wait()?)?;
    }
    let batched_secs = started.elapsed().as_secs_f64();
    let (commits, records) = ledger.stats();

    let single = (commands / 5).max(1);
    let started = Instant::now();
    let mut pending = std::collections::VecDeque::new();
    for k in 0..single {
        pending.push_back(ledger.submit_async(seed.member, load_command(seed, k)));
        if pending.len() >= BENCH_SINGLE_IN_FLIGHT {
            pending.pop_front().expect("non-empty").wait()?;
        }
    }
    for t in pending {
        t.wait()?;
    }
    let single_secs = started.elapsed().as_secs_f64();
    let mut journal = ledger.close()?;

    let started = Instant::now();
    let (_, replayed) = rasid_store::replay_from_genesis(journal.as_mut())?;
    let replay_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let report = rasid_store::verify(journal.as_mut())?;
    let verify_secs = started.elapsed().as_secs_f64();

    let batched = per_sec(commands, batched_secs);
    let doc = json!({
        "bench": "registry",
        "commands": commands,
        "durable_commands_per_sec": batched,
        "durable_single_commands_per_sec": per_sec(single, single_secs),
        "commits": commits,
        "mean_commands_per_commit": records / commits.max(1),
        "replay_commands_per_sec": per_sec(replayed, replay_secs),
        "verify_commands_per_sec": per_sec(report.commands, verify_secs),
        "baseline": { "fsyncs_per_sec": fsyncs, "sqlite_rows_per_sec": sqlite_rows },
        "ratio_durable_vs_sqlite_rows": batched as f64 / sqlite_rows.max(1) as f64,
    });
    let text = format!(
        "durable commands/s: {} batched ({} commits, {} commands each), {} single-command requests\n\
         replay {} commands/s, verify {} commands/s\n\
         baseline on this disk: {} fsyncs/s, raw SQLite {} rows/s in 1,000-row transactions → ratio {:.2}",
        batched,
        commits,
        records / commits.max(1),
        per_sec(single, single_secs),
        per_sec(replayed, replay_secs),
        per_sec(report.commands, verify_secs),
        fsyncs,
        sqlite_rows,
        batched as f64 / sqlite_rows.max(1) as f64,
    );
    Ok(Output::new(text, doc))
}

fn check_all(
    results: Vec<Result<rasid_store::Committed, rasid_core::Rejection>>,
) -> Result<(), Failure> {
    results.into_iter().try_for_each(|r| r.map(|_| ()).map_err(Failure::Rejected))
}

fn baseline_fsyncs(path: &std::path::Path) -> Result<u64, Failure> {
    let io = |e: std::io::Error| Failure::Internal(format!("fsync baseline: {e}"));
    let mut f = std::fs::File::create(path).map_err(io)?;
    let rounds = 300;
    let started = Instant::now();
    for _ in 0..rounds {
        f.write_all(&[7u8; 512]).map_err(io)?;
        f.sync_data().map_err(io)?;
    }
    Ok(per_sec(rounds, started.elapsed().as_secs_f64()))
}

/// Inserts `rows` journal-sized rows (60-byte body, 32-byte hash) in 1,000-row durable
/// transactions: the floor for any SQLite journal on this disk.
fn baseline_sqlite(path: &std::path::Path, rows: u64) -> Result<u64, Failure> {
    let sql = |e: rusqlite::Error| Failure::Internal(format!("sqlite baseline: {e}"));
    let mut conn = rusqlite::Connection::open(path).map_err(sql)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
    conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
    conn.execute_batch("CREATE TABLE t (seq INTEGER PRIMARY KEY, time_ms INTEGER, actor INTEGER, kind TEXT, body BLOB, hash BLOB)").map_err(sql)?;
    let body = [42u8; 60];
    let hash = [7u8; 32];
    let started = Instant::now();
    let mut seq: i64 = 1;
    let total = i64::try_from(rows).unwrap_or(i64::MAX);
    while seq <= total {
        let tx = conn.transaction().map_err(sql)?;
        {
            let mut st =
                tx.prepare_cached("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)").map_err(sql)?;
            for _ in 0..1_000 {
                if seq > total {
                    break;
                }
                st.execute(rusqlite::params![
                    seq,
                    1_700_000_000_000_i64,
                    3_i64,
                    "transfer",
                    &body[..],
                    &hash[..]
                ])
                .map_err(sql)?;
                seq += 1;
            }
        }
        tx.commit().map_err(sql)?;
    }
    Ok(per_sec(rows, started.elapsed().as_secs_f64()))
}

pub fn debug(
    cmd: DebugCmd,
    database: &DatabaseUrl,
    snapshot_interval: u64,
) -> Result<Output, Failure> {
    match cmd {
        DebugCmd::WriteLoad { count, quiet } => {
            write_load(database, snapshot_interval, count, quiet)
        }
    }
}

/// Submits transfers with a window in flight and prints each acknowledgement as it arrives,
/// flushing every line, so a parent process knows exactly what was acknowledged before it
/// kills this one.
fn write_load(
    database: &DatabaseUrl,
    snapshot_interval: u64,
    count: Option<u64>,
    quiet: bool,
) -> Result<Output, Failure> {
    let config = Config { snapshot_interval, ..Config::default() };
    let ledger = Ledger::open(open_journal(database)?, config, system_clock())?;
    let seed = seed_load(&ledger)?;
    let mut out = std::io::stdout().lock();
    let mut pending = std::collections::VecDeque::new();
    let mut k = 0u64;
    loop {
        let done = count.is_some_and(|c| k >= c);
        if !done {
            pending.push_back(ledger.submit_async(seed.member, load_command(seed, k)));
            k += 1;
        }
        if pending.len() >= 64 || (done && !pending.is_empty()) {
            let c = pending.pop_front().expect("non-empty").wait()?;
            if quiet {
                continue;
            }
            writeln!(out, "acked {}", c.seq)
                .and_then(|()| out.flush())
                .map_err(|e| Failure::Internal(e.to_string()))?;
        }
        if done && pending.is_empty() {
            break;
        }
    }
    drop(out);
    ledger.close()?;
    Ok(Output::new(format!("{k} commands"), json!({ "ok": true, "commands": k })))
}

/// The matching stream through the durable ledger: SQLite journal, group commit, callers
/// answered after commit. Returns orders per second over the first `limit` stream operations.
pub fn durable_orders(
    stream: &[crate::bench_matching::Op],
    seed_ops: usize,
    limit: u64,
) -> Result<f64, Failure> {
    let dir = tempfile::Builder::new()
        .prefix(".rasid-bench")
        .tempdir_in(".")
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let db = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    let ledger = Ledger::open(open_journal(&db)?, Config::default(), system_clock())?;
    // The same set-up as the in-process venue, journaled command by command.
    let venue = crate::bench_matching::Venue::new();
    check_all(ledger.submit_batch(crate::bench_matching::setup_commands())?)?;
    let (seed, timed) = stream.split_at(seed_ops);
    let seed_commands: Vec<_> = seed.iter().map(|op| venue.command(*op)).collect();
    for chunk in seed_commands.chunks(BENCH_REQUEST_COMMANDS) {
        check_all(ledger.submit_batch(chunk.to_vec())?)?;
    }
    let n = usize::try_from(limit).unwrap_or(usize::MAX).min(timed.len());
    let commands: Vec<_> = timed[..n].iter().map(|op| venue.command(*op)).collect();
    let started = Instant::now();
    let mut tickets = std::collections::VecDeque::new();
    for chunk in commands.chunks(BENCH_REQUEST_COMMANDS) {
        tickets.push_back(ledger.submit_batch_async(chunk.to_vec()));
        if tickets.len() >= BENCH_REQUESTS_IN_FLIGHT {
            check_all(tickets.pop_front().expect("non-empty").wait()?)?;
        }
    }
    for t in tickets {
        check_all(t.wait()?)?;
    }
    let secs = started.elapsed().as_secs_f64();
    ledger.close()?;
    Ok(n as f64 / secs.max(1e-9))
}
