//! Opening the ledger and the registry commands: organizations, accounts, projects, issuance,
//! labels, transfers, retirements, cancellations, cash, and the read-only views.

use crate::cli::{
    AccountCmd, CashCmd, Cli, Cmd, ExportCmd, OrgCmd, ProjectCmd, RegisterArgs, RetirementCmd,
    SelectionArgs, SerialCmd,
};
use crate::output::{Failure, Output, ranges_json, ranges_text, thousands};
use rasid_core::codec::hex;
use rasid_core::exchange::InstrumentId;
use rasid_core::model::{Article6, Labels, ProjectInfo, RetirementDetails};
use rasid_core::money::{format_minor, parse_minor};
use rasid_core::time::rfc3339;
use rasid_core::{AccountId, Command, Currency, Event, OrgId, Selection, SerialLocation, State};
use rasid_store::{Config, DatabaseUrl, Ledger, open_journal, system_clock};
use serde_json::{Value, json};
use std::fmt::Write as _;

pub fn run(args: Cli) -> Result<Output, Failure> {
    match args.command {
        Cmd::Verify => verify(&args.database),
        Cmd::SyncReadModels => sync_read_models(&args.database),
        Cmd::Bench(cmd) => crate::bench::run(cmd, &args.database),
        Cmd::Demo { listen, no_serve, no_bots, server } => crate::demo::run(
            &args.database,
            args.snapshot_interval,
            (!no_serve).then_some(listen.as_str()),
            !no_bots,
            args.json,
            server,
        ),
        Cmd::Serve { listen, advertise, lease_ttl_ms, server } => {
            let ha =
                rasid_server::HaOptions { advertise: advertise.unwrap_or_default(), lease_ttl_ms };
            serve(&listen, &args.database, args.snapshot_interval, ha, server)
        }
        Cmd::Debug(cmd) => crate::bench::debug(cmd, &args.database, args.snapshot_interval),
        Cmd::Serial(SerialCmd::Parse { serial }) => crate::serials::parse(&serial),
        command => {
            // Exports only read: they must not create a ledger where there is none.
            if matches!(command, Cmd::Export(_)) {
                require_ledger(&args.database)?;
            }
            let init_names = match &command {
                Cmd::Init { operator_name, registrar_name } => {
                    Some((operator_name.clone(), registrar_name.clone()))
                }
                _ => None,
            };
            let ctx = Ctx::open(&args.database, args.snapshot_interval, args.actor, init_names)?;
            let out = handle(&ctx, command);
            ctx.close()?;
            out
        }
    }
}

/// An open ledger and who the CLI acts as.
pub struct Ctx {
    pub ledger: Ledger,
    pub database: DatabaseUrl,
    actor: Option<OrgId>,
    pub genesis_created: bool,
}

pub const DEFAULT_OPERATOR: &str = "Rasid Operator";
pub const DEFAULT_REGISTRAR: &str = "Rasid Registry";

impl Ctx {
    /// Opens (recovering) the ledger; an empty one gets its genesis record first.
    pub fn open(
        database: &DatabaseUrl,
        snapshot_interval: u64,
        actor: Option<OrgId>,
        genesis_names: Option<(String, String)>,
    ) -> Result<Self, Failure> {
        let journal = open_journal(database)?;
        let config = Config { snapshot_interval, ..Config::default() };
        let ledger = Ledger::open(journal, config, system_clock())?;
        let initialized = ledger.query(State::is_initialized)?;
        if !initialized {
            let (operator_name, registrar_name) = genesis_names
                .unwrap_or_else(|| (DEFAULT_OPERATOR.to_owned(), DEFAULT_REGISTRAR.to_owned()));
            ledger.submit(OrgId(0), Command::Genesis { operator_name, registrar_name })?;
        }
        Ok(Self { ledger, database: database.clone(), actor, genesis_created: !initialized })
    }

    pub fn close(self) -> Result<(), Failure> {
        self.ledger.close()?;
        Ok(())
    }

    /// Runs a read-only view in sequence with commands.
    pub fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&State) -> R + Send + 'static,
    ) -> Result<R, Failure> {
        Ok(self.ledger.query(f)?)
    }

    /// The organization `--as` names, whose private data views may show.
    pub fn viewer(&self) -> Option<OrgId> {
        self.actor
    }

    /// The organization `--as` names, or else `natural`.
    pub fn actor_or(&self, natural: OrgId) -> OrgId {
        self.actor.unwrap_or(natural)
    }

    pub fn operator(&self) -> Result<OrgId, Failure> {
        Ok(self.actor.unwrap_or(self.read(|s| s.operator().expect("initialized"))?))
    }

    pub fn registrar(&self) -> Result<OrgId, Failure> {
        Ok(self.actor.unwrap_or(self.read(|s| s.registrar().expect("initialized"))?))
    }

    /// The owner of `account`, acting for its own account; unknown accounts fall through to
    /// the engine, which names them.
    pub fn owner(&self, account: AccountId) -> Result<OrgId, Failure> {
        match self.actor {
            Some(a) => Ok(a),
            None => Ok(self.read(move |s| s.account(account).map_or(OrgId(0), |a| a.org))?),
        }
    }

    pub fn submit(
        &self,
        actor: OrgId,
        command: Command,
    ) -> Result<rasid_store::Committed, Failure> {
        Ok(self.ledger.submit(actor, command)?)
    }
}

fn handle(ctx: &Ctx, command: Cmd) -> Result<Output, Failure> {
    match command {
        Cmd::Init { .. } => {
            let created = ctx.genesis_created;
            let text =
                if created { "ledger initialized" } else { "ledger was already initialized" };
            Ok(Output::new(text, json!({ "ok": true, "created": created })))
        }
        Cmd::Import(crate::cli::ImportCmd::Vrod { file }) => crate::import::vrod(ctx, &file),
        Cmd::Import(crate::cli::ImportCmd::Registry { format, path }) => {
            crate::import_registry::run(ctx, format, &path)
        }
        Cmd::Status => ctx.read(status),
        Cmd::Organization(c) => organization(ctx, c),
        Cmd::Account(c) => account(ctx, c),
        Cmd::Project(c) => project(ctx, c),
        Cmd::Issue(a) => {
            let command = Command::Issue {
                project: a.project,
                vintage_year: a.vintage,
                quantity_tonnes: a.quantity,
                buffer_tonnes: a.buffer,
                to_account: a.to,
                first_serial: a.first_serial,
                external_ref: a.external_ref,
            };
            accepted(ctx, ctx.submit(ctx.registrar()?, command)?)
        }
        Cmd::Issuances { project, limit } => ctx.read(move |s| issuances(s, project, limit)),
        Cmd::Labels(a) => {
            let labels = Labels {
                corsia: a.corsia,
                ccp: a.ccp,
                article6: a.article6_ref.map(|authorization_ref| Article6 {
                    authorization_ref,
                    ca_status: a.ca_status,
                }),
            };
            accepted(
                ctx,
                ctx.submit(ctx.registrar()?, Command::SetLabels { issuance: a.issuance, labels })?,
            )
        }
        Cmd::Transfer(a) => {
            let command = Command::Transfer {
                from: a.from,
                to: a.to,
                issuance: a.issuance,
                selection: selection(a.selection),
            };
            accepted(ctx, ctx.submit(ctx.owner(a.from)?, command)?)
        }
        Cmd::Retire(a) => {
            let details = RetirementDetails {
                beneficiary: a.beneficiary,
                purpose: a.purpose,
                using_entity: a.using_entity,
                note: a.note,
            };
            let command = Command::Retire {
                account: a.account,
                issuance: a.issuance,
                selection: selection(a.selection),
                details: Box::new(details),
            };
            accepted(ctx, ctx.submit(ctx.owner(a.account)?, command)?)
        }
        Cmd::Cancel(a) => {
            let command = Command::Cancel {
                account: a.account,
                issuance: a.issuance,
                selection: selection(a.selection),
                reason: a.reason,
            };
            accepted(ctx, ctx.submit(ctx.registrar()?, command)?)
        }
        Cmd::Holdings { account } => ctx.read(move |s| holdings(s, account))?,
        Cmd::Retirement(RetirementCmd::Show { retirement }) => {
            let found =
                ctx.read(move |s| s.retirement(retirement).map(|r| retirement_json(s, r)))?;
            let mut doc =
                found.ok_or(Failure::Rejected(rasid_core::Rejection::UnknownRetirement))?;
            let seq = doc["seq"].as_u64().unwrap_or(0);
            let record = open_journal(&ctx.database)?.record(seq)?;
            doc["record_hash"] = json!(record.map(|r| hex(&r.hash)));
            Ok(Output::new(retirement_text(&doc), doc))
        }
        Cmd::Retirement(RetirementCmd::List { limit }) => ctx.read(move |s| retirements(s, limit)),
        Cmd::Serial(SerialCmd::Locate { serial }) => ctx.read(move |s| locate(s, serial)),
        Cmd::Serial(SerialCmd::Find { serial, from, to }) => {
            crate::serial_find::run(ctx, serial, from.zip(to))
        }
        Cmd::Cash(c) => cash(ctx, c),
        Cmd::Instrument(c) => crate::exchange::instrument(ctx, c),
        Cmd::Order(c) => crate::exchange::order(ctx, c),
        Cmd::Market(c) => crate::exchange::market(ctx, c),
        Cmd::Auction(c) => crate::auction::run(ctx, c),
        Cmd::Basket(c) => crate::basket::run(ctx, c),
        Cmd::CloseSession { instrument } => crate::exchange::close_session(ctx, instrument),
        Cmd::Export(c) => match c {
            ExportCmd::Retirements { format, output } => {
                crate::export::retirements(ctx, format, output.as_deref())
            }
            ExportCmd::Holdings { account, output } => {
                crate::export::holdings(ctx, account, output.as_deref())
            }
            ExportCmd::OpenData { dir } => crate::export::open_data(ctx, &dir),
        },
        Cmd::Verify
        | Cmd::SyncReadModels
        | Cmd::Bench(_)
        | Cmd::Demo { .. }
        | Cmd::Serve { .. }
        | Cmd::Debug(_)
        | Cmd::Serial(SerialCmd::Parse { .. }) => {
            unreachable!("dispatched in run")
        }
    }
}

fn selection(a: SelectionArgs) -> Selection {
    match (a.quantity, a.ranges) {
        (Some(q), _) => Selection::Quantity(q),
        (None, Some(r)) => Selection::Ranges(r.0),
        (None, None) => unreachable!("clap requires one of --quantity and --ranges"),
    }
}

/// The reply to an accepted command: its sequence number, time and what it did.
pub fn accepted(ctx: &Ctx, c: rasid_store::Committed) -> Result<Output, Failure> {
    // Prices in exchange events are shown in their instrument's currency.
    let currencies: std::collections::BTreeMap<InstrumentId, Currency> =
        ctx.read(|s| s.instruments().map(|i| (i.id, i.spec.currency)).collect())?;
    let currency = |i: InstrumentId| currencies.get(&i).copied().unwrap_or(Currency::Sar);
    let mut events: Vec<Value> = c.events.iter().map(|e| event_json(e, &currency)).collect();
    name_delivered_credits(ctx, &mut events)?;
    let mut text = format!("accepted as record {} at {}\n", c.seq, rfc3339(c.time_ms));
    for e in &c.events {
        let _ = writeln!(text, "  {}", event_text(e, &currency));
    }
    Ok(Output::new(
        text,
        json!({ "ok": true, "seq": c.seq, "time": rfc3339(c.time_ms), "events": events }),
    ))
}

/// A trade names which project and vintage each delivered serial range belongs to, so a basket
/// buyer sees exactly what it received.
fn name_delivered_credits(ctx: &Ctx, events: &mut [Value]) -> Result<(), Failure> {
    let ids: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "trade")
        .flat_map(|e| {
            e["serials"].as_array().into_iter().flatten().filter_map(|x| x["issuance"].as_u64())
        })
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let names: std::collections::BTreeMap<u64, (String, u16, String)> = ctx.read(move |s| {
        ids.iter()
            .filter_map(|i| {
                let iss = s.issuance(rasid_core::IssuanceId(*i))?;
                let p = s.project(iss.project)?;
                Some((*i, (p.info.external_id.clone(), iss.vintage_year, p.info.country.clone())))
            })
            .collect()
    })?;
    for e in events.iter_mut().filter(|e| e["type"] == "trade") {
        for part in e["serials"].as_array_mut().into_iter().flatten() {
            if let Some((project, vintage, country)) =
                part["issuance"].as_u64().and_then(|i| names.get(&i))
            {
                part["project"] = json!(project);
                part["vintage"] = json!(vintage);
                part["country"] = json!(country);
            }
        }
    }
    Ok(())
}

/// Shared with the HTTP API, which speaks the same wire format.
pub use rasid_server::render::event_json;
use rasid_server::render::{labels_json, project_json};

fn event_text(e: &Event, currency: &dyn Fn(InstrumentId) -> Currency) -> String {
    match e {
        Event::OrganizationCreated { org } => format!("organization {org} created"),
        Event::AccountOpened { account, org } => format!("account {account} opened for {org}"),
        Event::ProjectRegistered { project } => format!("project {project} registered"),
        Event::Issued { issuance, block, to_account, buffer, .. } => format!(
            "issuance {issuance}: serials {block} ({} t) to {to_account}{}",
            thousands(block.quantity_tonnes()),
            buffer.map(|b| format!(", buffer {b}")).unwrap_or_default()
        ),
        Event::LabelsSet { issuance } => format!("labels of {issuance} set"),
        Event::Transferred { from, to, issuance, serials } => format!(
            "{} t of {issuance} from {from} to {to}: {}",
            thousands(serials.quantity_tonnes()),
            ranges_text(serials.ranges())
        ),
        Event::Retired { retirement, issuance, serials, .. } => format!(
            "retirement {retirement}: {} t of {issuance}: {}",
            thousands(serials.quantity_tonnes()),
            ranges_text(serials.ranges())
        ),
        Event::Cancelled { cancellation, issuance, serials, .. } => format!(
            "cancellation {cancellation}: {} t of {issuance}: {}",
            thousands(serials.quantity_tonnes()),
            ranges_text(serials.ranges())
        ),
        Event::CashDeposited { account, currency, amount_minor } => {
            format!(
                "{currency} {} deposited to {account}",
                format_minor(i128::from(*amount_minor), *currency)
            )
        }
        Event::CashWithdrawn { account, currency, amount_minor } => {
            format!(
                "{currency} {} withdrawn from {account}",
                format_minor(i128::from(*amount_minor), *currency)
            )
        }
        Event::CashTransferred { from, to, currency, amount_minor } => {
            format!(
                "{currency} {} from {from} to {to}",
                format_minor(i128::from(*amount_minor), *currency)
            )
        }
        other => exchange_event_text(other, currency),
    }
}

fn exchange_event_text(e: &Event, currency: &dyn Fn(InstrumentId) -> Currency) -> String {
    let px = |i: &InstrumentId, p: &i64| {
        format!("{} {}", currency(*i), format_minor(i128::from(*p), currency(*i)))
    };
    match e {
        Event::InstrumentListed { instrument, .. } => format!("instrument {instrument} listed"),
        Event::InstrumentStatusChanged { instrument, status } => {
            format!("instrument {instrument} is {}", status.as_str())
        }
        Event::ReferencePriceSet { instrument, price_minor } => {
            format!("{instrument} reference price {}", px(instrument, price_minor))
        }
        Event::OrderAccepted { order, instrument, side, price_minor, quantity_tonnes, .. } => {
            format!(
                "order {order} accepted: {} {quantity_tonnes} t of {instrument} at {}",
                side.as_str(),
                px(instrument, price_minor)
            )
        }
        Event::OrderRested { order, instrument, price_minor, remaining_tonnes, .. } => {
            format!("order {order} rests: {remaining_tonnes} t at {}", px(instrument, price_minor))
        }
        Event::OrderAmended {
            order,
            instrument,
            price_minor,
            remaining_tonnes,
            priority_kept,
            ..
        } => format!(
            "order {order} amended to {remaining_tonnes} t at {}{}",
            px(instrument, price_minor),
            if *priority_kept { " (keeps its place)" } else { "" }
        ),
        Event::OrderCancelled { order, remaining_tonnes, reason, .. } => {
            format!("order {order} cancelled ({}): {remaining_tonnes} t", reason.as_str())
        }
        Event::Traded(f) => format!(
            "trade {}: {} t at {}, {} → {}: {}",
            f.trade,
            f.quantity_tonnes,
            px(&f.instrument, &f.price_minor),
            f.seller,
            f.buyer,
            f.serials
                .iter()
                .map(|(i, s)| format!("{i} {}", ranges_text(s.ranges())))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        Event::AuctionCreated { auction } => format!("auction {auction} created"),
        Event::BidPlaced { bid, auction, lot } => {
            format!("bid {bid} placed in {auction} lot {lot}")
        }
        Event::BidChanged { bid, .. } => format!("bid {bid} changed"),
        Event::BidWithdrawn { bid, .. } => format!("bid {bid} withdrawn"),
        Event::LotCleared { auction, lot, clearing_price_minor, sold_tonnes, .. } => format!(
            "{auction} lot {lot} cleared: {sold_tonnes} t sold{}",
            clearing_price_minor.map(|p| format!(" at {} minor units", p)).unwrap_or_default()
        ),
        Event::AuctionClosed { auction } => format!("auction {auction} closed"),
        Event::BasketCreated { basket } => format!("basket {basket} created"),
        Event::BasketCriteriaSet { basket } => format!("criteria of {basket} set"),
        Event::ProjectRated { project, rating } => format!("{project} rating {rating:?}"),
        Event::BasketDeposited { basket, issuance, serials, .. } => {
            format!(
                "{} t of {issuance} deposited in {basket}: {}",
                serials.quantity_tonnes(),
                ranges_text(serials.ranges())
            )
        }
        Event::BasketWithdrawn { basket, issuance, serials, .. } => {
            format!("{} t of {issuance} withdrawn from {basket}", serials.quantity_tonnes())
        }
        Event::BasketDepositReturned { basket, issuance, serials, .. } => {
            format!(
                "{} t of {issuance} returned from {basket}: no longer eligible",
                serials.quantity_tonnes()
            )
        }
        _ => unreachable!("registry events are rendered by event_text"),
    }
}

pub fn status(s: &State) -> Output {
    let t = match s.audit() {
        Ok(t) => t,
        Err(e) => {
            return Output::new(
                format!("AUDIT FAILED: {e}"),
                json!({ "ok": false, "error": e.to_string() }),
            );
        }
    };
    let text = format!(
        "records {}\norganizations {}  accounts {}  projects {}  issuances {}  retirements {}\n\
         issued {} t  held {} t (reserved {})  buffer {} t  retired {} t  cancelled {} t",
        s.last_seq(),
        t.organizations,
        t.accounts,
        t.projects,
        t.issuances,
        t.retirements,
        thousands(t.issued_tonnes),
        thousands(t.held_tonnes),
        thousands(t.reserved_tonnes),
        thousands(t.buffer_tonnes),
        thousands(t.retired_tonnes),
        thousands(t.cancelled_tonnes),
    );
    Output::new(
        text,
        json!({
            "ok": true, "records": s.last_seq(), "organizations": t.organizations, "accounts": t.accounts,
            "projects": t.projects, "issuances": t.issuances, "retirements": t.retirements,
            "cancellations": t.cancellations, "issued_tonnes": t.issued_tonnes, "held_tonnes": t.held_tonnes,
            "reserved_tonnes": t.reserved_tonnes, "buffer_tonnes": t.buffer_tonnes,
            "retired_tonnes": t.retired_tonnes, "cancelled_tonnes": t.cancelled_tonnes,
        }),
    )
}

fn organization(ctx: &Ctx, c: OrgCmd) -> Result<Output, Failure> {
    match c {
        OrgCmd::Create { name, role } => {
            accepted(ctx, ctx.submit(ctx.operator()?, Command::CreateOrganization { name, role })?)
        }
        OrgCmd::List => ctx.read(|s| {
            let rows: Vec<Value> = s
                .organizations()
                .map(|o| json!({ "id": o.id.0, "name": o.name, "role": o.role.as_str() }))
                .collect();
            let text = s
                .organizations()
                .map(|o| format!("{:<8} {:<10} {}", o.id.to_string(), o.role.as_str(), o.name))
                .collect::<Vec<_>>()
                .join("\n");
            Output::new(text, json!({ "organizations": rows }))
        }),
    }
}

fn account(ctx: &Ctx, c: AccountCmd) -> Result<Output, Failure> {
    match c {
        AccountCmd::Open { org, name } => accepted(ctx, ctx.submit(ctx.operator()?, Command::OpenAccount { org, name })?),
        AccountCmd::List { org } => ctx.read(move |s| {
            let list: Vec<_> = s.accounts().filter(|a| org.is_none_or(|o| a.org == o)).collect();
            let rows: Vec<Value> = list.iter().map(|a| json!({ "id": a.id.0, "org": a.org.0, "name": a.name, "kind": format!("{:?}", a.kind).to_lowercase() })).collect();
            let text = list.iter().map(|a| format!("{:<8} {:<8} {}", a.id.to_string(), a.org.to_string(), a.name)).collect::<Vec<_>>().join("\n");
            Output::new(text, json!({ "accounts": rows }))
        }),
    }
}

fn project(ctx: &Ctx, c: ProjectCmd) -> Result<Output, Failure> {
    match c {
        ProjectCmd::Register(a) => accepted(ctx, ctx.submit(ctx.registrar()?, register(a))?),
        ProjectCmd::List { program, country, limit } => ctx.read(move |s| {
            let list: Vec<_> = s
                .projects()
                .filter(|p| program.is_none_or(|g| p.info.program == g))
                .filter(|p| {
                    country.as_deref().is_none_or(|c| p.info.country.eq_ignore_ascii_case(c))
                })
                .take(limit)
                .collect();
            let rows: Vec<Value> = list.iter().map(|p| project_json(p)).collect();
            let text = list
                .iter()
                .map(|p| {
                    format!(
                        "{:<9} {:<12} {:<20} {}",
                        p.id.to_string(),
                        p.info.external_id,
                        p.info.country,
                        p.info.name
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Output::new(text, json!({ "projects": rows }))
        }),
        ProjectCmd::Show { project } => ctx
            .read(move |s| {
                s.project(project).map(|p| {
                    let doc = project_json(p);
                    Output::new(serde_json::to_string_pretty(&doc).unwrap_or_default(), doc)
                })
            })?
            .ok_or(Failure::Rejected(rasid_core::Rejection::UnknownProject)),
    }
}

fn register(a: RegisterArgs) -> Command {
    Command::RegisterProject {
        info: Box::new(ProjectInfo {
            program: a.program,
            external_id: a.external_id,
            name: a.name,
            methodology: a.methodology,
            country: a.country,
            region: a.region,
            scope: a.scope,
            project_type: a.project_type,
            effect: a.effect,
            basis: a.basis,
            developer: a.developer,
        }),
    }
}

fn issuances(s: &State, project: Option<rasid_core::ProjectId>, limit: usize) -> Output {
    let list: Vec<_> =
        s.issuances().filter(|i| project.is_none_or(|p| i.project == p)).take(limit).collect();
    let rows: Vec<Value> = list
        .iter()
        .map(|i| json!({
            "id": i.id.0, "project": i.project.0, "vintage": i.vintage_year,
            "block": ranges_json([i.block]), "quantity": i.block.quantity_tonnes(),
            "retired_tonnes": i.retired.quantity_tonnes(), "cancelled_tonnes": i.cancelled.quantity_tonnes(),
            "buffer_tonnes": i.buffer_tonnes, "external_ref": i.external_ref,
            "labels": labels_json(&i.labels),
        }))
        .collect();
    let text = list
        .iter()
        .map(|i| {
            format!(
                "{:<9} {:<9} {} {:>28} {:>14} t",
                i.id.to_string(),
                i.project.to_string(),
                i.vintage_year,
                i.block.to_string(),
                thousands(i.block.quantity_tonnes())
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Output::new(text, json!({ "issuances": rows }))
}

fn holdings(s: &State, account: AccountId) -> Result<Output, Failure> {
    let acc = s.account(account).ok_or(Failure::Rejected(rasid_core::Rejection::UnknownAccount))?;
    let mut rows = Vec::new();
    let mut text = format!("{} ({}) of {}\n", acc.id, acc.name, acc.org);
    let mut reserved = s.reserved_serials_of_account(account);
    for (issuance, h) in s.holdings_of(account) {
        let reserved = reserved.remove(&issuance).unwrap_or_default();
        let iss = s.issuance(issuance).expect("audit: holdings name issuances");
        let project = s.project(iss.project).expect("audit: issuances name projects");
        rows.push(json!({
            "issuance": issuance.0, "project": project.info.external_id, "vintage": iss.vintage_year,
            "available_tonnes": h.available.quantity_tonnes(), "reserved_tonnes": h.reserved_tonnes,
            "available": ranges_json(h.available.ranges()), "reserved": ranges_json(reserved.ranges()),
        }));
        let _ = writeln!(
            text,
            "  {issuance} {} {}: available {} t [{}] reserved {} t [{}]",
            project.info.external_id,
            iss.vintage_year,
            thousands(h.available.quantity_tonnes()),
            ranges_text(h.available.ranges()),
            thousands(h.reserved_tonnes),
            ranges_text(reserved.ranges()),
        );
    }
    let cash: Vec<Value> = s
        .balances_of(account)
        .map(|(c, b)| {
            let _ = writeln!(text, "  {c} available {} reserved {}", format_minor(i128::from(b.available_minor), c), format_minor(i128::from(b.reserved_minor), c));
            json!({ "currency": c.code(), "available": format_minor(i128::from(b.available_minor), c), "reserved": format_minor(i128::from(b.reserved_minor), c) })
        })
        .collect();
    Ok(Output::new(
        text,
        json!({ "account": account.0, "org": acc.org.0, "holdings": rows, "cash": cash }),
    ))
}

use rasid_server::render::retirement_json;

fn retirement_text(doc: &Value) -> String {
    let serials: Vec<String> = doc["serials"]
        .as_array()
        .map(|a| a.iter().map(|r| format!("{}-{}", r["first"], r["last"])).collect())
        .unwrap_or_default();
    format!(
        "retirement ret{}\n  {} t of {} {} ({}), vintage {}\n  serials {}\n  beneficiary {}  purpose {}\n  retired {} in journal record {} (hash {})",
        doc["id"],
        doc["quantity"],
        doc["project"]["external_id"].as_str().unwrap_or(""),
        doc["project"]["name"].as_str().unwrap_or(""),
        doc["project"]["country"].as_str().unwrap_or(""),
        doc["vintage"],
        serials.join(", "),
        doc["beneficiary"].as_str().unwrap_or(""),
        doc["purpose"].as_str().unwrap_or(""),
        doc["time"].as_str().unwrap_or(""),
        doc["seq"],
        doc["record_hash"].as_str().unwrap_or("?"),
    )
}

fn retirements(s: &State, limit: usize) -> Output {
    let list: Vec<_> = s.retirements().rev().take(limit).collect();
    let rows: Vec<Value> = list.iter().map(|r| retirement_json(s, r)).collect();
    let text = list
        .iter()
        .map(|r| {
            format!(
                "{:<9} {:>12} t  {}  {}",
                r.id.to_string(),
                thousands(r.serials.quantity_tonnes()),
                rfc3339(r.retired_at_ms),
                r.details.beneficiary
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    Output::new(text, json!({ "retirements": rows }))
}

fn locate(s: &State, serial: u64) -> Output {
    let (json, text) = match s.locate_serial(serial) {
        SerialLocation::NotIssued => (
            json!({ "serial": serial, "status": "not_issued" }),
            format!("serial {serial} is not issued"),
        ),
        SerialLocation::Held { issuance, account, reserved } => (
            json!({ "serial": serial, "status": "held", "issuance": issuance.0, "account": account.0, "reserved": reserved }),
            format!(
                "serial {serial} of {issuance} is held by {account}{}",
                if reserved { " (reserved)" } else { "" }
            ),
        ),
        SerialLocation::Retired { issuance, retirement } => {
            let r = s.retirement(retirement).expect("located");
            (
                json!({ "serial": serial, "status": "retired", "issuance": issuance.0, "retirement": retirement.0, "beneficiary": r.details.beneficiary }),
                format!(
                    "serial {serial} of {issuance} was retired in {retirement} for {}",
                    r.details.beneficiary
                ),
            )
        }
        SerialLocation::Cancelled { issuance, cancellation } => (
            json!({ "serial": serial, "status": "cancelled", "issuance": issuance.0, "cancellation": cancellation.0 }),
            format!("serial {serial} of {issuance} was cancelled in {cancellation}"),
        ),
    };
    Output::new(text, json)
}

fn amount(s: &str, currency: Currency) -> Result<i64, Failure> {
    parse_minor(s, currency).map_err(|m| Failure::invalid("invalid_amount", m))
}

fn cash(ctx: &Ctx, c: CashCmd) -> Result<Output, Failure> {
    let (actor, command) = match c {
        CashCmd::Deposit(a) => (
            ctx.operator()?,
            Command::DepositCash {
                account: a.account,
                currency: a.currency,
                amount_minor: amount(&a.amount, a.currency)?,
            },
        ),
        CashCmd::Withdraw(a) => (
            ctx.operator()?,
            Command::WithdrawCash {
                account: a.account,
                currency: a.currency,
                amount_minor: amount(&a.amount, a.currency)?,
            },
        ),
        CashCmd::Transfer { from, to, currency, amount: a } => (
            ctx.owner(from)?,
            Command::TransferCash { from, to, currency, amount_minor: amount(&a, currency)? },
        ),
    };
    accepted(ctx, ctx.submit(actor, command)?)
}

/// `rasid serve`: the HTTP API owns the ledger until it shuts down.
fn serve(
    listen: &str,
    database: &DatabaseUrl,
    snapshot_interval: u64,
    ha: rasid_server::HaOptions,
    server: crate::cli::ServerArgs,
) -> Result<Output, Failure> {
    let options = rasid_server::Options {
        database: database.clone(),
        snapshot_interval,
        bootstrap_operator_password: std::env::var("RASID_BOOTSTRAP_OPERATOR_PASSWORD").ok(),
        demo_users: Vec::new(),
        ha,
    };
    rasid_server::run_with(listen, options, move |app| -> rasid_server::Stop {
        server.apply(&app);
        Box::new(|| {})
    })
    .map_err(Failure::Internal)?;
    Ok(Output::new("server stopped", json!({ "ok": true, "stopped": true })))
}

/// `rasid sync-read-models`: the SQL read models up to the journal's head, in steps of at most
/// `SYNC_RECORDS_MAX` records (each its own transaction).
fn sync_read_models(database: &DatabaseUrl) -> Result<Output, Failure> {
    let DatabaseUrl::Postgres(url) = database else {
        return Err(Failure::invalid(
            "postgres_only",
            "the SQL read models exist on PostgreSQL ledgers only (--database postgres://…)",
        ));
    };
    require_ledger(database)?;
    let head = open_journal(database)?.head()?.map_or(0, |(seq, _)| seq);
    let mut models = rasid_store::ReadModels::open(url)?;
    let started = std::time::Instant::now();
    // Each step advances by SYNC_RECORDS_MAX records or reaches the head; the bound only
    // guards against a journal that keeps growing under a running writer.
    let steps_max = head / rasid_store::read_model::SYNC_RECORDS_MAX + 2;
    let mut position = 0;
    for _ in 0..steps_max {
        position = models.sync()?;
        if position >= head {
            break;
        }
    }
    Ok(Output::new(
        format!(
            "the SQL read models show the ledger as of record {position} ({:.2} s)",
            started.elapsed().as_secs_f64()
        ),
        json!({ "ok": true, "position": position, "elapsed_ms": started.elapsed().as_millis() as u64 }),
    ))
}

fn verify(database: &DatabaseUrl) -> Result<Output, Failure> {
    require_ledger(database)?;
    let mut journal = open_journal(database)?;
    let started = std::time::Instant::now();
    let r = rasid_store::verify(journal.as_mut())?;
    let elapsed = started.elapsed();
    let t = r.totals;
    let text = format!(
        "verified {} records in {:.2} s: hash chain intact, {} snapshot(s) match, live state equals replay, invariants hold\n\
         head hash {}\nissued {} t  held {} t  buffer {} t  retired {} t  cancelled {} t",
        r.commands,
        elapsed.as_secs_f64(),
        r.snapshots_checked,
        hex(&r.head_hash),
        thousands(t.issued_tonnes),
        thousands(t.held_tonnes),
        thousands(t.buffer_tonnes),
        thousands(t.retired_tonnes),
        thousands(t.cancelled_tonnes),
    );
    Ok(Output::new(
        text,
        json!({
            "ok": true, "commands": r.commands, "head_hash": hex(&r.head_hash), "state_digest": hex(&r.state_digest),
            "snapshots_checked": r.snapshots_checked, "issued_tonnes": t.issued_tonnes, "held_tonnes": t.held_tonnes,
            "reserved_tonnes": t.reserved_tonnes, "buffer_tonnes": t.buffer_tonnes, "retired_tonnes": t.retired_tonnes,
            "cancelled_tonnes": t.cancelled_tonnes, "projects": t.projects, "issuances": t.issuances,
            "retirements": t.retirements, "elapsed_ms": elapsed.as_millis() as u64,
        }),
    ))
}

/// Refuses a database that holds no ledger, for commands that only read (opening one would
/// otherwise create it and write its genesis record).
fn require_ledger(database: &DatabaseUrl) -> Result<(), Failure> {
    if let DatabaseUrl::Sqlite(path) = database
        && !path.exists()
    {
        return Err(Failure::invalid("no_database", format!("no database at {}", path.display())));
    }
    if let DatabaseUrl::Postgres(url) = database
        && !rasid_store::PostgresJournal::exists(url)?
    {
        return Err(Failure::invalid(
            "no_database",
            "no Rasid ledger in this PostgreSQL database (no rasid_migrations table in the \
             search_path)",
        ));
    }
    Ok(())
}
