//! `rasid bench registry`: durable registry throughput, replay and verify speed, each quoted
//! against baselines measured in the same run on the same disk (raw fsyncs, raw SQLite inserts
//! of rows the size of journal records; with PostgreSQL, raw multi-row INSERTs and binary COPY
//! of the same rows, and the SQLite ledger for comparison).
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
/// Requests in flight in the durable matching run. With 16 (16,000 commands, one batch of at
/// most `BATCH_COMMANDS_MAX`) every command in flight sat in the batch being committed, so the
/// sequencer idled while the writer wrote and fsynced, and the writer idled while the
/// sequencer executed: the two threads never overlapped (a profile showed both under a third
/// busy). Four batches' worth lets the sequencer execute the next batch while the writer
/// commits the previous one, which is how the ledger is built to run under load; every caller
/// is still answered only after its command is durable.
const MATCHING_REQUESTS_IN_FLIGHT: usize = 64;
/// Single-command requests in flight at once: stands in for that many concurrent clients.
const BENCH_SINGLE_IN_FLIGHT: usize = 4_096;
/// Rows per transaction in the raw PostgreSQL baselines, and per multi-row INSERT statement.
const BASELINE_PG_TX_ROWS: u64 = 10_000;
const BASELINE_PG_STATEMENT_ROWS: usize = 1_000;

pub fn run(cmd: BenchCmd, database: &DatabaseUrl) -> Result<Output, Failure> {
    let mut out = run_bench(cmd, database)?;
    // Every result names the machine it was measured on, so that a number quoted later (in a
    // note, an issue, a comparison between builds) carries where it came from.
    let machine = Machine::here();
    out.text = format!("machine: {}, {} CPUs\n{}", machine.cpu, machine.cpus, out.text);
    if let Some(doc) = out.json.as_object_mut() {
        doc.insert("machine".into(), json!({ "cpu": machine.cpu, "cpus": machine.cpus }));
    }
    Ok(out)
}

/// The processor a benchmark ran on, as the operating system names it, and how many CPUs the
/// process may use (a container's or VM's share, not the host's).
struct Machine {
    cpu: String,
    cpus: usize,
}

impl Machine {
    fn here() -> Self {
        let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|text| cpu_model(&text));
        Self {
            cpu: cpu.unwrap_or_else(|| "unknown".to_owned()),
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

/// The first `model name` in Linux's `/proc/cpuinfo`, if it names one.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == "model name").then(|| value.trim().to_owned())
        })
        .filter(|model| !model.is_empty())
}

fn run_bench(cmd: BenchCmd, database: &DatabaseUrl) -> Result<Output, Failure> {
    match cmd {
        BenchCmd::Registry { commands } => registry(commands, database),
        BenchCmd::Matching { ops, seed, count_loop: Some(loop_ops), floor, .. } => {
            crate::bench_matching::count_loop(ops, seed, loop_ops, floor.as_deref())
        }
        BenchCmd::Matching { ops, durable_ops, rounds, seed, count_loop: None, .. } => {
            crate::bench_matching::run(ops, durable_ops, rounds, seed)
        }
        BenchCmd::Auction { bids, tonnes } => crate::bench_matching::auction(bids, tonnes),
        BenchCmd::Serials { count, rounds } => crate::serials::bench(count, rounds),
        BenchCmd::Http(bench) => crate::bench_http::run(bench),
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
        .submit(registrar, Command::RegisterProject { info: Box::new(load_project(member)) })?
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
            details: Box::new(RetirementDetails {
                beneficiary: "Benchmark".into(),
                purpose: Purpose::Voluntary,
                using_entity: String::new(),
                note: String::new(),
            }),
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

/// What one ledger run measured.
struct LedgerRun {
    batched_per_sec: u64,
    single_per_sec: u64,
    commits: u64,
    records: u64,
    replay_per_sec: u64,
    verify_per_sec: u64,
}

/// Runs the load through a ledger on `db`: `commands` in 1,000-command requests, then a fifth
/// as many single-command requests, then replay and verify from genesis. With `full` false,
/// only the batched part runs (a comparison point).
fn ledger_run(db: &DatabaseUrl, commands: u64, full: bool) -> Result<LedgerRun, Failure> {
    let ledger = Ledger::open(open_journal(db)?, Config::default(), system_clock())?;
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
    let mut run = LedgerRun {
        batched_per_sec: per_sec(commands, batched_secs),
        single_per_sec: 0,
        commits,
        records,
        replay_per_sec: 0,
        verify_per_sec: 0,
    };
    if !full {
        ledger.close()?;
        return Ok(run);
    }

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
    run.single_per_sec = per_sec(single, started.elapsed().as_secs_f64());
    let mut journal = ledger.close()?;

    let started = Instant::now();
    let (_, replayed) = rasid_store::replay_from_genesis(journal.as_mut())?;
    run.replay_per_sec = per_sec(replayed, started.elapsed().as_secs_f64());
    let started = Instant::now();
    let report = rasid_store::verify(journal.as_mut())?;
    run.verify_per_sec = per_sec(report.commands, started.elapsed().as_secs_f64());
    Ok(run)
}

fn registry(commands: u64, database: &DatabaseUrl) -> Result<Output, Failure> {
    // The bench writes next to the working directory, not /tmp, which may be a RAM disk where
    // fsync costs nothing and the numbers would flatter.
    let dir = tempfile::Builder::new()
        .prefix(".rasid-bench")
        .tempdir_in(".")
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let fsyncs = baseline_fsyncs(&dir.path().join("fsync"))?;
    let sqlite_rows = baseline_sqlite(&dir.path().join("raw.db"), commands)?;
    let sqlite_db = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    match database {
        DatabaseUrl::Sqlite(_) => {
            let run = ledger_run(&sqlite_db, commands, true)?;
            let ratio = run.batched_per_sec as f64 / sqlite_rows.max(1) as f64;
            let doc = json!({
                "bench": "registry",
                "backend": "sqlite",
                "commands": commands,
                "baseline": { "fsyncs_per_sec": fsyncs, "sqlite_rows_per_sec": sqlite_rows },
                "ratio_durable_vs_sqlite_rows": ratio,
            });
            let text = format!(
                "{}baseline on this disk: {fsyncs} fsyncs/s, raw SQLite {sqlite_rows} rows/s in \
                 1,000-row transactions → ratio {ratio:.2}",
                run_text(&run)
            );
            Ok(Output::new(text, merge(doc, run_json(&run))))
        }
        DatabaseUrl::Postgres(url) => {
            // A schema of its own: the bench neither sees nor disturbs anything else in the
            // database, and dropping the schema afterwards removes all it wrote.
            let schema = rasid_store::ScratchSchema::create(url, "rasid_bench")?;
            let pg_db = DatabaseUrl::Postgres(schema.url().to_owned());
            let pg_raw = baseline_postgres(schema.url(), commands)?;
            let run = ledger_run(&pg_db, commands, true)?;
            let sqlite_run = ledger_run(&sqlite_db, commands, false)?;
            let ratio = run.batched_per_sec as f64 / pg_raw.insert.max(1) as f64;
            let ratio_copy = run.batched_per_sec as f64 / pg_raw.copy.max(1) as f64;
            let doc = json!({
                "bench": "registry",
                "backend": "postgres",
                "commands": commands,
                "sqlite_durable_commands_per_sec": sqlite_run.batched_per_sec,
                "baseline": {
                    "fsyncs_per_sec": fsyncs,
                    "sqlite_rows_per_sec": sqlite_rows,
                    "postgres_insert_rows_per_sec": pg_raw.insert,
                    "postgres_copy_rows_per_sec": pg_raw.copy,
                },
                "ratio_durable_vs_postgres_insert_rows": ratio,
                "ratio_durable_vs_postgres_copy_rows": ratio_copy,
            });
            let text = format!(
                "PostgreSQL, in schema {} (dropped afterwards):\n{}\
                 the SQLite ledger in the same run: {} durable commands/s batched\n\
                 baseline: {fsyncs} fsyncs/s on this disk; raw PostgreSQL in \
                 {BASELINE_PG_TX_ROWS}-row transactions: {} rows/s as 1,000-row INSERTs, {} rows/s \
                 as binary COPY → ratio {ratio:.2} against INSERTs, {ratio_copy:.2} against COPY",
                schema.name(),
                run_text(&run),
                sqlite_run.batched_per_sec,
                pg_raw.insert,
                pg_raw.copy,
            );
            Ok(Output::new(text, merge(doc, run_json(&run))))
        }
    }
}

fn run_text(run: &LedgerRun) -> String {
    format!(
        "durable commands/s: {} batched ({} commits, {} commands each), {} single-command requests\n\
         replay {} commands/s, verify {} commands/s\n",
        run.batched_per_sec,
        run.commits,
        run.records / run.commits.max(1),
        run.single_per_sec,
        run.replay_per_sec,
        run.verify_per_sec,
    )
}

fn run_json(run: &LedgerRun) -> serde_json::Value {
    json!({
        "durable_commands_per_sec": run.batched_per_sec,
        "durable_single_commands_per_sec": run.single_per_sec,
        "commits": run.commits,
        "mean_commands_per_commit": run.records / run.commits.max(1),
        "replay_commands_per_sec": run.replay_per_sec,
        "verify_commands_per_sec": run.verify_per_sec,
    })
}

fn merge(mut a: serde_json::Value, b: serde_json::Value) -> serde_json::Value {
    if let (Some(a), serde_json::Value::Object(b)) = (a.as_object_mut(), b) {
        a.extend(b);
    }
    a
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
    let mut venue = crate::bench_matching::Venue::new();
    check_all(ledger.submit_batch(crate::bench_matching::setup_commands())?)?;
    let (seed, timed) = stream.split_at(seed_ops);
    // The ledger numbers and stamps what it journals: only the actor and command are kept.
    let mut command = |op: &crate::bench_matching::Op| {
        let env = venue.envelope(*op);
        (env.actor, env.command)
    };
    let seed_commands: Vec<_> = seed.iter().map(&mut command).collect();
    for chunk in seed_commands.chunks(BENCH_REQUEST_COMMANDS) {
        check_all(ledger.submit_batch(chunk.to_vec())?)?;
    }
    let n = usize::try_from(limit).unwrap_or(usize::MAX).min(timed.len());
    let commands: Vec<_> = timed[..n].iter().map(command).collect();
    let started = Instant::now();
    let mut tickets = std::collections::VecDeque::new();
    for chunk in commands.chunks(BENCH_REQUEST_COMMANDS) {
        tickets.push_back(ledger.submit_batch_async(chunk.to_vec()));
        if tickets.len() >= MATCHING_REQUESTS_IN_FLIGHT {
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

/// Raw PostgreSQL speed on rows the size of journal records, without Rasid.
struct PostgresBaseline {
    insert: u64,
    copy: u64,
}

/// Writes `rows` journal-sized rows (60-byte body, 32-byte hash) into a bare table twice, in
/// durable transactions of 10,000 rows (about what group commit reaches under load): once as
/// 1,000-row multi-row INSERTs, once as one binary COPY per transaction (the journal's own
/// encoding). This is raw PostgreSQL with the best batching and no ledger: the ceiling for any
/// PostgreSQL journal on this server. The journal appends with COPY because it measured faster.
fn baseline_postgres(url: &str, rows: u64) -> Result<PostgresBaseline, Failure> {
    let pg = |e: postgres::Error| {
        Failure::Internal(format!("postgres baseline: {}", rasid_store::StoreError::from(e)))
    };
    let mut client = postgres::Client::connect(url, postgres::NoTls).map_err(pg)?;
    client
        .batch_execute(
            "SET synchronous_commit = on;
             CREATE TABLE baseline (seq BIGINT PRIMARY KEY, time_ms BIGINT NOT NULL,
                 actor BIGINT NOT NULL, kind TEXT NOT NULL, body BYTEA NOT NULL,
                 hash BYTEA NOT NULL)",
        )
        .map_err(pg)?;
    let (time_ms, actor, kind, body, hash) =
        (1_700_000_000_000_i64, 3_i64, "transfer", vec![42u8; 60], vec![7u8; 32]);
    // Whole transactions only, so both methods write exactly the same rows.
    let transactions = rows / BASELINE_PG_TX_ROWS;
    let written = transactions * BASELINE_PG_TX_ROWS;

    let values: Vec<String> = (0..BASELINE_PG_STATEMENT_ROWS)
        .map(|r| {
            let p = r * 6;
            format!("(${},${},${},${},${},${})", p + 1, p + 2, p + 3, p + 4, p + 5, p + 6)
        })
        .collect();
    let insert =
        client.prepare(&format!("INSERT INTO baseline VALUES {}", values.join(","))).map_err(pg)?;
    let started = Instant::now();
    let mut seq: i64 = 1;
    for _ in 0..transactions {
        let mut tx = client.transaction().map_err(pg)?;
        for _ in 0..BASELINE_PG_TX_ROWS / BASELINE_PG_STATEMENT_ROWS as u64 {
            let seqs: Vec<i64> = (seq..seq + BASELINE_PG_STATEMENT_ROWS as i64).collect();
            let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> =
                Vec::with_capacity(BASELINE_PG_STATEMENT_ROWS * 6);
            for s in &seqs {
                params.extend_from_slice(&[s, &time_ms, &actor, &kind, &body, &hash]);
            }
            tx.execute(&insert, &params).map_err(pg)?;
            seq += BASELINE_PG_STATEMENT_ROWS as i64;
        }
        tx.commit().map_err(pg)?;
    }
    let insert_rate = per_sec(written, started.elapsed().as_secs_f64());

    client.batch_execute("TRUNCATE baseline").map_err(pg)?;
    let copy = client
        .prepare("COPY baseline (seq, time_ms, actor, kind, body, hash) FROM STDIN (FORMAT binary)")
        .map_err(pg)?;
    let mut buf = Vec::new();
    let started = Instant::now();
    for t in 0..transactions {
        let first = t * BASELINE_PG_TX_ROWS + 1;
        let batch: Vec<rasid_store::Record> = (first..first + BASELINE_PG_TX_ROWS)
            .map(|s| rasid_store::Record {
                seq: s,
                time_ms,
                actor: 3,
                kind: kind.into(),
                body: body.clone(),
                hash: [7u8; 32],
            })
            .collect();
        rasid_store::postgres::encode_copy(&batch, &mut buf)?;
        let mut tx = client.transaction().map_err(pg)?;
        let mut writer = tx.copy_in(&copy).map_err(pg)?;
        writer.write_all(&buf).map_err(|e| Failure::Internal(format!("postgres baseline: {e}")))?;
        writer.finish().map_err(pg)?;
        tx.commit().map_err(pg)?;
    }
    let copy_rate = per_sec(written, started.elapsed().as_secs_f64());
    client.batch_execute("DROP TABLE baseline").map_err(pg)?;
    Ok(PostgresBaseline { insert: insert_rate, copy: copy_rate })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_model_is_the_first_model_name_in_cpuinfo() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13 \
                       64-Core Processor\n\nprocessor\t: 1\nmodel name\t: Another\n";
        assert_eq!(cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13 64-Core Processor"));
        // An architecture whose cpuinfo names no model (some ARM kernels), or names it empty.
        assert_eq!(cpu_model("processor\t: 0\nBogoMIPS\t: 50.00\n"), None);
        assert_eq!(cpu_model("model name\t:   \n"), None);
        // A key that only contains the words is not the model's.
        assert_eq!(cpu_model("cpu model name hint\t: x\n"), None);
    }
}
