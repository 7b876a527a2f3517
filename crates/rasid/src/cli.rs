//! The command line, parsed by clap. Values are parsed into domain types here ("parse, don't
//! validate"), so handlers never see a malformed id, range, currency or amount.

use clap::{Args, Parser, Subcommand};
use rasid_core::exchange::auction::{AuctionId, BidId};
use rasid_core::exchange::basket::BasketId;
use rasid_core::exchange::{OrderId, Side};
use rasid_core::model::{CaStatus, CorsiaPhase, Program, Purpose, Role};
use rasid_core::{AccountId, Currency, IssuanceId, OrgId, ProjectId, RetirementId, SerialRange};
use rasid_store::DatabaseUrl;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "rasid", version, about = "Rasid: an open carbon credit registry and exchange")]
pub struct Cli {
    /// Where the ledger lives: sqlite://PATH (embedded, the default) or postgres://…
    #[arg(long, global = true, env = "RASID_DATABASE", default_value = "sqlite://rasid.db")]
    pub database: DatabaseUrl,
    /// Print one machine-readable JSON document instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Act as this organization instead of the default for the command.
    #[arg(long = "as", global = true, value_name = "ORG")]
    pub actor: Option<OrgId>,
    /// Snapshot the ledger after every this many commands.
    #[arg(long, global = true, env = "RASID_SNAPSHOT_INTERVAL", default_value_t = 1_000_000)]
    pub snapshot_interval: u64,
    #[command(subcommand)]
    pub command: Cmd,
}

/// Settings of the HTTP server that `serve` and `demo` share.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// A token that reads `/metrics` as `Authorization: Bearer TOKEN` without a user, for a
    /// Prometheus scraper (at least 16 bytes). Without it only operator and auditor users may.
    #[arg(long, env = "RASID_METRICS_TOKEN", hide_env_values = true, value_parser = metrics_token)]
    pub metrics_token: Option<String>,
    /// Requests a second each session token or API key may make on average; over budget a
    /// request is answered 429 with Retry-After. 0 turns rate limiting off.
    #[arg(long, env = "RASID_RATE_LIMIT_PER_SECOND", default_value_t = rasid_server::RATE_LIMIT_PER_S_DEFAULT)]
    pub rate_limit_per_second: u32,
    /// Requests each token may make at once, before the per-second rate applies.
    #[arg(long, env = "RASID_RATE_LIMIT_BURST", default_value_t = rasid_server::RATE_LIMIT_BURST_DEFAULT)]
    pub rate_limit_burst: u32,
}

fn metrics_token(s: &str) -> Result<String, String> {
    if s.len() < rasid_server::METRICS_TOKEN_LEN_MIN {
        return Err(format!(
            "the metrics token must have at least {} bytes",
            rasid_server::METRICS_TOKEN_LEN_MIN
        ));
    }
    Ok(s.to_owned())
}

impl ServerArgs {
    /// Applies the settings to a server that has just opened. The token's length was checked
    /// when the command line was parsed, so setting it cannot fail here.
    pub fn apply(&self, app: &rasid_server::App) {
        if let Err(e) = app.set_metrics_token(self.metrics_token.as_deref()) {
            eprintln!("rasid: {e}");
        }
        app.set_rate_limit(self.rate_limit_per_second, self.rate_limit_burst);
    }
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Serve the HTTP API (`/v1`) over the ledger until Ctrl-C or SIGTERM.
    ///
    /// On PostgreSQL several servers may share one database: one holds the writer lease and
    /// executes commands, the others follow the journal, serve reads, answer commands with
    /// `503 not_writer` (naming the writer) and take over when the writer's lease expires.
    /// SQLite is single-process: one server per file.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Where clients reach this server (PostgreSQL high availability): followers name it
        /// while this server is the writer. Default: http://LISTEN.
        #[arg(long)]
        advertise: Option<String>,
        /// How long the writer lease lasts without renewal (PostgreSQL): the longest a dead
        /// writer holds up writes before a follower takes over.
        #[arg(long, env = "RASID_LEASE_TTL_MS", default_value_t = rasid_server::LEASE_TTL_MS_DEFAULT)]
        lease_ttl_ms: u64,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Import the real market history and a small demo scene, then print what the ledger holds.
    Demo {
        /// Where the demo serves the HTTP API after seeding.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seed and print the tour, then exit instead of serving.
        #[arg(long)]
        no_serve: bool,
        /// Serve without the trading bots, so only people move the market (the browser tests
        /// count holdings exactly).
        #[arg(long)]
        no_bots: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Create the ledger's genesis record (done automatically by the first command otherwise).
    Init {
        #[arg(long, default_value = "Rasid Operator")]
        operator_name: String,
        #[arg(long, default_value = "Rasid Registry")]
        registrar_name: String,
    },
    /// Import data files.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Replay the journal from genesis and check the hash chain, the state and every invariant.
    Verify,
    /// Bring the SQL read models (PostgreSQL; see docs/sql-read-models.md) up to the journal's
    /// head, as a running `rasid serve` does every second.
    SyncReadModels,
    /// Totals: organizations, projects, issued, held, retired, cancelled.
    Status,
    #[command(subcommand, name = "org")]
    Organization(OrgCmd),
    #[command(subcommand)]
    Account(AccountCmd),
    #[command(subcommand)]
    Project(ProjectCmd),
    /// Issue a vintage batch of a project (registrar).
    Issue(IssueArgs),
    /// List issuances, optionally of one project.
    Issuances {
        #[arg(long)]
        project: Option<ProjectId>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Set an issuance's labels: CORSIA, ICVCM CCP, Article 6 (registrar).
    Labels(LabelsArgs),
    /// Move credits between accounts.
    Transfer(TransferArgs),
    /// Retire credits on behalf of a beneficiary (irreversible).
    Retire(RetireArgs),
    /// Cancel credits (registrar, or the holder).
    Cancel(CancelArgs),
    /// An account's credits by serial block, available and reserved, and its cash.
    Holdings {
        #[arg(long)]
        account: AccountId,
    },
    #[command(subcommand)]
    Retirement(RetirementCmd),
    /// Serial numbers: locate a Rasid serial, or parse another registry's.
    #[command(subcommand)]
    Serial(SerialCmd),
    #[command(subcommand)]
    Cash(CashCmd),
    /// Instruments: list, halt, resume, close, move the reference price (operator).
    #[command(subcommand)]
    Instrument(InstrumentCmd),
    /// Orders: place, amend, cancel, list.
    #[command(subcommand)]
    Order(OrderCmd),
    /// Market data: book depth, trades, candles, daily VWAP and settlement prices.
    #[command(subcommand)]
    Market(MarketCmd),
    /// Basket contracts: define (operator), deposit and withdraw (members), rate projects.
    #[command(subcommand)]
    Basket(BasketCmd),
    /// Sealed-bid auctions: create (operator), bid, change, withdraw, close, results.
    #[command(subcommand)]
    Auction(AuctionCmd),
    /// End the trading session: DAY orders expire (operator).
    CloseSession {
        #[arg(long)]
        instrument: Option<String>,
    },
    /// Export retirements, holdings or a public open-data dump as CSV (and JSON).
    #[command(subcommand)]
    Export(ExportCmd),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCmd),
    /// Tools for tests and operators.
    #[command(subcommand, hide = true)]
    Debug(DebugCmd),
}

#[derive(Debug, Subcommand)]
pub enum ImportCmd {
    /// The Berkeley VROD project × vintage file (CSV, or CSV.gz).
    Vrod { file: PathBuf },
    /// A registry's public export directory (projects, issuances, retirements, cancellations,
    /// as CSV or CSV.gz): projects and credit blocks at their original serials, with a
    /// reconciliation report.
    Registry {
        /// verra, gold-standard, acr, car, art, isometric or cercarbono.
        #[arg(long)]
        format: rasid_import::registry::Format,
        path: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCmd {
    /// Every retirement as CSV, in Rasid's columns or a source registry's.
    Retirements {
        /// rasid, verra, gold-standard, acr, car, art or cercarbono.
        #[arg(long, default_value = "rasid")]
        format: crate::export::RetirementFormat,
        /// Write the CSV to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Every holding by serial range (available and reserved) as CSV.
    Holdings {
        /// Only this account's holdings.
        #[arg(long)]
        account: Option<AccountId>,
        /// Write the CSV to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// A public dump into DIR: projects, issuances and retirements as CSV and JSON, and a
    /// README naming the journal head it was taken at.
    OpenData { dir: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum OrgCmd {
    /// Create an organization (operator).
    Create {
        name: String,
        #[arg(long, default_value = "member")]
        role: Role,
    },
    List,
}

#[derive(Debug, Subcommand)]
pub enum AccountCmd {
    /// Open a holding account for an organization (operator).
    Open {
        #[arg(long)]
        org: OrgId,
        name: String,
    },
    List {
        #[arg(long)]
        org: Option<OrgId>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCmd {
    /// Register a project (registrar).
    Register(RegisterArgs),
    List {
        #[arg(long)]
        program: Option<Program>,
        #[arg(long)]
        country: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    Show {
        project: ProjectId,
    },
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    #[arg(long)]
    pub program: Program,
    /// The program's id for the project, e.g. VCS1340.
    #[arg(long = "id")]
    pub external_id: String,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub developer: OrgId,
    #[arg(long, default_value = "")]
    pub methodology: String,
    #[arg(long, default_value = "")]
    pub country: String,
    #[arg(long, default_value = "")]
    pub region: String,
    #[arg(long, default_value = "")]
    pub scope: String,
    #[arg(long = "type", default_value = "")]
    pub project_type: String,
    /// reduction, removal or mixed.
    #[arg(long, default_value = "reduction", value_parser = parse_effect)]
    pub effect: rasid_core::model::Effect,
    /// nature or technology.
    #[arg(long, default_value = "technology", value_parser = parse_basis)]
    pub basis: rasid_core::model::Basis,
}

#[derive(Debug, Args)]
pub struct IssueArgs {
    #[arg(long)]
    pub project: ProjectId,
    #[arg(long)]
    pub vintage: u16,
    #[arg(long)]
    pub quantity: u64,
    /// Tonnes of the block that go to the buffer pool.
    #[arg(long, default_value_t = 0)]
    pub buffer: u64,
    #[arg(long)]
    pub to: AccountId,
    #[arg(long)]
    pub first_serial: Option<u64>,
    #[arg(long)]
    pub external_ref: Option<String>,
}

#[derive(Debug, Args)]
pub struct LabelsArgs {
    #[arg(long)]
    pub issuance: IssuanceId,
    /// pilot, first or second.
    #[arg(long, value_parser = parse_corsia)]
    pub corsia: Option<CorsiaPhase>,
    #[arg(long)]
    pub ccp: bool,
    /// The letter-of-authorisation reference for Article 6 authorised credits.
    #[arg(long)]
    pub article6_ref: Option<String>,
    /// not_required, committed, pending or completed.
    #[arg(long, value_parser = parse_ca, default_value = "not_required")]
    pub ca_status: CaStatus,
}

/// Which serials: a quantity (lowest first) or explicit ranges.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SelectionArgs {
    #[arg(long)]
    pub quantity: Option<u64>,
    /// Comma-separated inclusive ranges, e.g. 1001-1500,2001-2100.
    #[arg(long, value_parser = parse_ranges)]
    pub ranges: Option<Ranges>,
}

#[derive(Clone, Debug)]
pub struct Ranges(pub Vec<SerialRange>);

#[derive(Debug, Args)]
pub struct TransferArgs {
    #[arg(long)]
    pub from: AccountId,
    #[arg(long)]
    pub to: AccountId,
    #[arg(long)]
    pub issuance: IssuanceId,
    #[command(flatten)]
    pub selection: SelectionArgs,
}

#[derive(Debug, Args)]
pub struct RetireArgs {
    #[arg(long)]
    pub account: AccountId,
    #[arg(long)]
    pub issuance: IssuanceId,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[arg(long)]
    pub beneficiary: String,
    /// voluntary, corsia, ndc or other.
    #[arg(long, default_value = "voluntary")]
    pub purpose: Purpose,
    #[arg(long, default_value = "")]
    pub using_entity: String,
    #[arg(long, default_value = "")]
    pub note: String,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    #[arg(long)]
    pub account: AccountId,
    #[arg(long)]
    pub issuance: IssuanceId,
    #[command(flatten)]
    pub selection: SelectionArgs,
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Subcommand)]
pub enum RetirementCmd {
    /// One retirement with every serial range, the journal record and its hash.
    Show { retirement: RetirementId },
    /// The newest retirements.
    List {
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum SerialCmd {
    /// Where a Rasid serial number is and what happened to it.
    Locate { serial: u64 },
    /// Where another registry's serial (or an Isometric issuance or retirement id) is in this
    /// ledger: the issuance, and which parts are held, retired or cancelled.
    Find {
        serial: String,
        /// Cercarbono: the first unit (its serials carry the range in other columns).
        #[arg(long, requires = "to")]
        from: Option<String>,
        #[arg(long, requires = "from")]
        to: Option<String>,
    },
    /// Parse a serial of Verra, Gold Standard, CDM, ACR, ART TREES, CAR or Cercarbono into its
    /// fields (reads no ledger).
    Parse { serial: String },
}

#[derive(Debug, Subcommand)]
pub enum CashCmd {
    /// Credit cash to an account (operator), e.g. after a bank transfer arrives.
    Deposit(CashArgs),
    /// Pay cash out of an account (operator).
    Withdraw(CashArgs),
    /// Move cash between accounts (the owner of --from).
    Transfer {
        #[arg(long)]
        from: AccountId,
        #[arg(long)]
        to: AccountId,
        #[arg(long)]
        currency: Currency,
        /// A decimal amount, e.g. 37.50.
        #[arg(long)]
        amount: String,
    },
}

#[derive(Debug, Args)]
pub struct CashArgs {
    #[arg(long)]
    pub account: AccountId,
    #[arg(long)]
    pub currency: Currency,
    /// A decimal amount, e.g. 37.50.
    #[arg(long)]
    pub amount: String,
}

#[derive(Debug, Subcommand)]
pub enum InstrumentCmd {
    List,
    /// List a project-vintage instrument (operator).
    Add(InstrumentArgs),
    Halt {
        instrument: String,
    },
    Resume {
        instrument: String,
    },
    /// Delist: cancels every order; final.
    Close {
        instrument: String,
    },
    /// Move the centre of the price band.
    Reference {
        instrument: String,
        price: String,
    },
}

#[derive(Debug, Args)]
pub struct InstrumentArgs {
    #[arg(long)]
    pub symbol: String,
    /// A project-vintage instrument: the project (with --vintage) …
    #[arg(
        long,
        required_unless_present = "basket",
        conflicts_with = "basket",
        requires = "vintage"
    )]
    pub project: Option<ProjectId>,
    #[arg(long)]
    pub vintage: Option<u16>,
    /// … or a basket instrument.
    #[arg(long)]
    pub basket: Option<BasketId>,
    #[arg(long, default_value = "SAR")]
    pub currency: Currency,
    /// Price increment, e.g. 0.05.
    #[arg(long, default_value = "0.05")]
    pub tick: String,
    /// Tonnes per lot.
    #[arg(long, default_value_t = 1)]
    pub lot: u64,
    /// Price band around the reference price, in basis points (2000 = ±20%).
    #[arg(long, default_value_t = 2_000)]
    pub band_bps: u32,
    /// Reference price, e.g. 37.50.
    #[arg(long)]
    pub reference: String,
    #[arg(long, default_value_t = 10)]
    pub maker_bps: u32,
    #[arg(long, default_value_t = 20)]
    pub taker_bps: u32,
    /// Minimum fee per trade and side, e.g. 1.00.
    #[arg(long, default_value = "0")]
    pub min_fee: String,
}

#[derive(Debug, Subcommand)]
pub enum OrderCmd {
    Place(PlaceArgs),
    /// Change price and/or remaining quantity; lowering the quantity keeps time priority.
    Amend {
        order: OrderId,
        #[arg(long)]
        quantity: Option<u64>,
        #[arg(long)]
        price: Option<String>,
    },
    Cancel {
        order: OrderId,
    },
    CancelAll {
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        instrument: Option<String>,
    },
    /// An account's open orders.
    List {
        #[arg(long)]
        account: AccountId,
    },
}

#[derive(Debug, Args)]
pub struct PlaceArgs {
    #[arg(long)]
    pub account: AccountId,
    #[arg(long)]
    pub instrument: String,
    /// buy or sell.
    #[arg(long)]
    pub side: Side,
    /// Limit price, e.g. 37.50; omit with --market.
    #[arg(long, required_unless_present = "market", conflicts_with = "market")]
    pub price: Option<String>,
    /// A market order: trades within the price band, the rest is cancelled (IOC) or nothing
    /// trades (FOK).
    #[arg(long)]
    pub market: bool,
    #[arg(long)]
    pub quantity: u64,
    /// gtc, day, gtd, ioc or fok (market orders default to ioc).
    #[arg(long)]
    pub tif: Option<String>,
    /// With --tif gtd: when the order expires, e.g. 2026-12-31T14:00:00Z.
    #[arg(long)]
    pub expires: Option<String>,
    #[arg(long)]
    pub post_only: bool,
    #[arg(long)]
    pub client_id: Option<String>,
    /// Self-trade prevention: cancel_resting, cancel_incoming or cancel_both.
    #[arg(long, default_value = "cancel_incoming")]
    pub stp: String,
    /// Buy-and-retire: retire what the order receives for this beneficiary.
    #[arg(long)]
    pub retire_for: Option<String>,
    #[arg(long, default_value = "voluntary")]
    pub purpose: Purpose,
}

#[derive(Debug, Subcommand)]
pub enum MarketCmd {
    /// Listed instruments with last price, daily volume and best bid and offer.
    List,
    Book {
        instrument: String,
        #[arg(long, default_value_t = 10)]
        levels: usize,
    },
    Trades {
        instrument: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    Candles {
        instrument: String,
        /// 1m, 1h or 1d.
        #[arg(long, default_value = "1h")]
        interval: String,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Daily volume, VWAP and settlement price.
    Daily { instrument: String },
}

#[derive(Debug, Subcommand)]
pub enum BasketCmd {
    /// Define a basket (operator). Criteria lists are comma-separated; empty accepts anything.
    Create {
        name: String,
        #[command(flatten)]
        criteria: CriteriaArgs,
    },
    /// Replace a basket's criteria (operator); deposits that no longer qualify go back.
    Criteria {
        basket: BasketId,
        #[command(flatten)]
        criteria: CriteriaArgs,
    },
    List,
    /// Deposit credits into a basket (the holder), with a delivery priority (lower first).
    Deposit {
        basket: BasketId,
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        issuance: IssuanceId,
        #[arg(long)]
        quantity: u64,
        #[arg(long, default_value_t = 0)]
        priority: u32,
    },
    /// Withdraw free deposited credits.
    Withdraw {
        basket: BasketId,
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        issuance: IssuanceId,
        #[arg(long)]
        quantity: u64,
    },
    /// Set a project's rating, 0–100, or clear it with no --rating (registrar).
    Rate {
        project: ProjectId,
        #[arg(long)]
        rating: Option<u8>,
    },
}

#[derive(Debug, Args)]
pub struct CriteriaArgs {
    /// Programs, e.g. VCS,GS.
    #[arg(long, value_delimiter = ',')]
    pub programs: Vec<Program>,
    /// reduction, removal, mixed.
    #[arg(long, value_delimiter = ',', value_parser = parse_effect)]
    pub effects: Vec<rasid_core::model::Effect>,
    /// nature, technology.
    #[arg(long, value_delimiter = ',', value_parser = parse_basis)]
    pub bases: Vec<rasid_core::model::Basis>,
    #[arg(long, value_delimiter = ',')]
    pub project_types: Vec<String>,
    /// Countries or regions, as projects name them.
    #[arg(long, value_delimiter = ',')]
    pub places: Vec<String>,
    #[arg(long)]
    pub vintage_min: Option<u16>,
    #[arg(long)]
    pub vintage_max: Option<u16>,
    /// Required CORSIA phase: pilot, first or second.
    #[arg(long, value_parser = parse_corsia)]
    pub corsia: Option<CorsiaPhase>,
    #[arg(long)]
    pub ccp: bool,
    #[arg(long)]
    pub article6: bool,
    #[arg(long)]
    pub rating_min: Option<u8>,
}

#[derive(Debug, Subcommand)]
pub enum AuctionCmd {
    /// Create an auction and hold each lot's serials (operator).
    Create {
        #[arg(long)]
        name: String,
        /// uniform or pay-as-bid.
        #[arg(long, default_value = "uniform")]
        rule: String,
        /// When bidding opens, e.g. 2026-11-29T09:00:00Z (default: now).
        #[arg(long)]
        opens: Option<String>,
        /// When bidding closes, e.g. 2026-11-29T17:00:00Z.
        #[arg(long)]
        closes: String,
        /// Approved bidders (organizations, comma-separated); all members when absent.
        #[arg(long, value_delimiter = ',')]
        approved: Vec<OrgId>,
        /// A lot: instrument=SYMBOL,seller=ACC,quantity=T,reserve=PRICE,min=T,increment=T
        /// and any number of guarantee=ORG:T. Repeat for more lots.
        #[arg(long = "lot", required = true)]
        lots: Vec<String>,
    },
    List,
    /// Public results; with --as ORG also that organization's own bids and allocations.
    Show {
        auction: AuctionId,
    },
    Bid {
        #[arg(long)]
        auction: AuctionId,
        /// Lot number, from 0.
        #[arg(long, default_value_t = 0)]
        lot: u32,
        #[arg(long)]
        account: AccountId,
        #[arg(long)]
        price: String,
        #[arg(long)]
        quantity: u64,
    },
    ChangeBid {
        bid: BidId,
        #[arg(long)]
        price: Option<String>,
        #[arg(long)]
        quantity: Option<u64>,
    },
    WithdrawBid {
        bid: BidId,
    },
    /// Clear and settle every lot (operator), at or after the close of bidding.
    Close {
        auction: AuctionId,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Durable transfer/retire throughput through the sequencer and journal, replay and verify
    /// speed, against raw SQLite and fsync baselines measured in the same run. With
    /// `--database postgres://…` the ledger runs in a fresh schema of that database (dropped
    /// afterwards), against raw PostgreSQL baselines and the SQLite ledger in the same run.
    Registry {
        #[arg(long, default_value_t = 1_000_000)]
        commands: u64,
    },
    /// Clearing and settling one auction lot of `--bids` sealed bids.
    Auction {
        #[arg(long, default_value_t = 100_000)]
        bids: u64,
        #[arg(long, default_value_t = 2_500_000)]
        tonnes: u64,
    },
    /// The matching engine in process (no journal) on a synthetic order stream, with
    /// reservations and serial settlement, against the comparison crates when built with
    /// `--features compare-engines`; and the same stream durably through the journal.
    Matching {
        #[arg(long, default_value_t = 2_000_000)]
        ops: u64,
        /// Orders sent through the durable ledger (SQLite, group commit).
        #[arg(long, default_value_t = 500_000)]
        durable_ops: u64,
        /// Rounds of throughput passes of Rasid, each comparison crate and each settlement
        /// floor, taken in turn, with a latency pass of Rasid in each; every `ops_per_sec`,
        /// and Rasid's p50 and p99, is the median of its passes. Three by default: on a shared
        /// 2-core VM one pass put a binary at 0.68× the fastest crate, where the medians of
        /// the next two runs of three rounds each put it at 1.15× and 1.07×.
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Seed of the synthetic stream. Every quoted result uses the default; another seed
        /// draws a different stream of the same shape (`scripts/build-release` trains on one).
        #[arg(long, default_value_t = crate::bench_matching::STREAM_SEED)]
        seed: u64,
        /// Instead of the benchmark, run Rasid's throughput loop once over the first N
        /// operations after the seed and print its trades: for counting its instructions
        /// under callgrind (`--toggle-collect='*timed_loop*'`), which gives the same count on
        /// every run where wall clock here moves ±20%.
        #[arg(long, value_name = "N")]
        count_loop: Option<u64>,
        /// With `--count-loop`, run that settlement floor's loop instead of Rasid's (a name
        /// from `floors` in the benchmark's output; callgrind it with
        /// `--toggle-collect='*timed_floor_loop*'`).
        #[arg(long, value_name = "NAME", requires = "count_loop")]
        floor: Option<String>,
    },
    /// Orders through the HTTP server (keep-alive HTTP/1.1, JSON, durable before reply) on a
    /// temporary database: throughput, latency at a fixed offered rate, and WebSocket trade
    /// subscribers counting gaps; against the same orders straight into the ledger.
    Http(crate::bench_http::HttpBench),
    /// Registry serial parsing speed (Verra, Gold Standard, CDM, ACR, CAR, Cercarbono) against
    /// splitting the same strings on '-'.
    Serials {
        /// Distinct serials in the corpus; each is parsed `--rounds` times.
        #[arg(long, default_value_t = 100_000)]
        count: usize,
        #[arg(long, default_value_t = 20)]
        rounds: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum DebugCmd {
    /// Submit transfers forever (or --count), printing `acked SEQ` as each becomes durable. The
    /// crash-recovery test kills this process with SIGKILL mid-write.
    WriteLoad {
        #[arg(long)]
        count: Option<u64>,
        /// Do not print each acknowledgement.
        #[arg(long)]
        quiet: bool,
    },
}

fn parse_ranges(s: &str) -> Result<Ranges, String> {
    s.split(',')
        .map(|part| {
            let (a, b) = part.trim().split_once('-').unwrap_or((part.trim(), part.trim()));
            let first: u64 =
                a.trim().parse().map_err(|_| format!("{part:?} is not a serial range"))?;
            let last: u64 =
                b.trim().parse().map_err(|_| format!("{part:?} is not a serial range"))?;
            SerialRange::new(first, last)
                .ok_or_else(|| format!("{part:?}: last serial is before first"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Ranges)
}

fn parse_effect(s: &str) -> Result<rasid_core::model::Effect, String> {
    use rasid_core::model::Effect;
    match s {
        "reduction" => Ok(Effect::Reduction),
        "removal" => Ok(Effect::Removal),
        "mixed" => Ok(Effect::Mixed),
        _ => Err(format!("{s:?}: expected reduction, removal or mixed")),
    }
}

fn parse_basis(s: &str) -> Result<rasid_core::model::Basis, String> {
    use rasid_core::model::Basis;
    match s {
        "nature" => Ok(Basis::Nature),
        "technology" => Ok(Basis::Technology),
        _ => Err(format!("{s:?}: expected nature or technology")),
    }
}

fn parse_corsia(s: &str) -> Result<CorsiaPhase, String> {
    match s {
        "pilot" => Ok(CorsiaPhase::Pilot),
        "first" => Ok(CorsiaPhase::First),
        "second" => Ok(CorsiaPhase::Second),
        _ => Err(format!("{s:?}: expected pilot, first or second")),
    }
}

fn parse_ca(s: &str) -> Result<CaStatus, String> {
    [CaStatus::NotRequired, CaStatus::Committed, CaStatus::Pending, CaStatus::Completed]
        .into_iter()
        .find(|c| c.as_str() == s)
        .ok_or_else(|| format!("{s:?}: expected not_required, committed, pending or completed"))
}
