//! `rasid demo`: the real voluntary market's history plus a small Gulf and Central Asian scene,
//! then a tour of what the ledger holds. Re-running it adds nothing: every step checks first.

use crate::output::{Failure, Output, thousands};
use crate::registry::{Ctx, status};
use rasid_core::exchange::{
    FeeSchedule, InstrumentId, InstrumentSpec, OrderRequest, OrderType, SelfTradePrevention, Side,
    TimeInForce, Underlying,
};
use rasid_core::model::{
    Article6, Basis, CaStatus, CorsiaPhase, Effect, Labels, Program, ProjectInfo, Purpose,
    RetirementDetails, Role,
};
use rasid_core::{AccountId, Command, Currency, Event, OrgId, ProjectId, Selection, State};
use rasid_store::DatabaseUrl;
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;

/// The VROD market history, compressed, built into the binary so `rasid demo` runs anywhere.
/// Provenance and licence: testdata/vrod/README.md.
static VROD_GZ: &[u8] = include_bytes!("../../../testdata/vrod/vrod-vintages.csv.gz");

const DEVELOPER: &str = "Ile-Alatau Forestry Fund";
/// The demo's own instrument, where the trading bots quote and trade.
const DEMO_SYMBOL: &str = "RSD-KZ-0001-2023";
const BUYER: &str = "Gulf Aviation Group";

/// The demo's logins: (username, password, organization name). Printed by `rasid demo`; they
/// exist only in demo databases.
const DEMO_LOGINS: [(&str, &str, &str); 4] = [
    ("operator", "demo-operator", crate::registry::DEFAULT_OPERATOR),
    ("registry", "demo-registry", crate::registry::DEFAULT_REGISTRAR),
    ("gulf-aviation", "demo-member", BUYER),
    ("ile-alatau", "demo-member", DEVELOPER),
];

/// Seeds the demo market, prints the tour, then — unless `listen` is `None` — serves the HTTP
/// API over it with the demo logins until Ctrl-C or SIGTERM, with the trading bots when `bots`.
pub fn run(
    database: &DatabaseUrl,
    snapshot_interval: u64,
    listen: Option<&str>,
    bots: bool,
    json_output: bool,
    server: crate::cli::ServerArgs,
) -> Result<Output, Failure> {
    let seeded = seed(database, snapshot_interval)?;
    let Some(listen) = listen else { return Ok(seeded) };
    let logins: Vec<(String, String, OrgId)> = {
        let ctx = Ctx::open(database, snapshot_interval, None, None)?;
        let found = ctx.read(|s: &State| {
            DEMO_LOGINS
                .iter()
                .filter_map(|(u, p, org)| {
                    s.organization_by_name(org).map(|o| ((*u).to_owned(), (*p).to_owned(), o.id))
                })
                .collect::<Vec<_>>()
        })?;
        ctx.close()?;
        found
    };
    let mut text = seeded.text.clone();
    let _ = writeln!(
        text,
        "\nServing the demo market at http://{listen}/ (web UI, Arabic and English) and http://{listen}/v1 (API; OpenAPI at /v1/openapi.json). Ctrl-C stops it. Logins:"
    );
    for (u, p, _) in &logins {
        let _ = writeln!(text, "  {u} / {p}");
    }
    Output::new(text, seeded.json.clone()).print(json_output);
    let options = rasid_server::Options {
        database: database.clone(),
        snapshot_interval,
        bootstrap_operator_password: None,
        demo_users: logins,
        ha: rasid_server::HaOptions::default(),
    };
    if bots {
        let _ = writeln!(
            std::io::stderr(),
            "Trading bots ({} and {}) keep orders flowing on {DEMO_SYMBOL}.",
            crate::demo_bots::MAKER,
            crate::demo_bots::TAKER
        );
    }
    rasid_server::run_with(listen, options, move |app| -> rasid_server::Stop {
        server.apply(&app);
        if bots { crate::demo_bots::start(app, DEMO_SYMBOL, DEVELOPER) } else { Box::new(|| {}) }
    })
    .map_err(Failure::Internal)?;
    Ok(Output::new("demo server stopped", json!({ "ok": true, "stopped": true })))
}

fn seed(database: &DatabaseUrl, snapshot_interval: u64) -> Result<Output, Failure> {
    let ctx = Ctx::open(database, snapshot_interval, None, None)?;
    let mut text = String::new();
    let reader = flate2::read::GzDecoder::new(VROD_GZ);
    let summary = crate::import::import_vrod(
        &ctx,
        reader,
        std::io::IsTerminal::is_terminal(&std::io::stderr()),
    )?;
    let _ = writeln!(
        text,
        "Market history (Berkeley VROD): {} project-vintages imported now, {} already present, {} refused by the registry rules",
        summary.imported,
        summary.already_present,
        summary.rejections.len()
    );
    let scene = scene(&ctx)?;
    let retirement = scene.retirement;
    let tour = ctx.read(move |s| tour(s, retirement))?;
    text.push_str(&tour);
    text.push_str(&crate::launch::run(&ctx)?);
    let st = ctx.read(status)?;
    let _ = writeln!(text, "\nLedger totals\n{}", st.text);
    ctx.close()?;
    let mut journal = rasid_store::open_journal(database)?;
    let report = rasid_store::verify(journal.as_mut())?;
    let _ = writeln!(
        text,
        "\nrasid verify: {} journal records replayed from genesis, hash chain intact, head {}",
        report.commands,
        &rasid_core::codec::hex(&report.head_hash)[..16]
    );
    let _ = write!(
        text,
        "\nTry:\n  rasid retirement show {retirement}\n  rasid holdings --account {}\n  rasid market book RSD-KZ-0001-2023\n  rasid market trades RSD-KZ-0001-2023\n  rasid serial locate 1\n  rasid auction show auc1\n  rasid market list\n  rasid project list --country Kazakhstan\n  rasid verify --json\n",
        scene.buyer_account
    );
    Ok(Output::new(
        text,
        json!({
            "ok": true, "imported": summary.imported, "already_present": summary.already_present,
            "rejected": summary.rejections.len(), "retirement": retirement.0, "buyer_account": scene.buyer_account.0,
            "commands": report.commands, "issued_tonnes": report.totals.issued_tonnes,
            "retired_tonnes": report.totals.retired_tonnes,
        }),
    ))
}

struct Scene {
    retirement: rasid_core::RetirementId,
    buyer_account: AccountId,
}

/// A Kazakh reforestation project issues 500,000 t (CORSIA first phase, CCP, Article 6
/// authorised) and is listed on the exchange; a Gulf airline buys 120,000 t at SAR 37.50 and
/// retires 25,000 t for CORSIA. Orders are left resting so the book has depth.
fn scene(ctx: &Ctx) -> Result<Scene, Failure> {
    let existing = ctx.read(|s: &State| {
        let buyer = s.organization_by_name(BUYER)?.id;
        let account = s.accounts_of(buyer).next()?.id;
        let retirement = s.retirements().find(|r| r.account == account)?.id;
        Some(Scene { retirement, buyer_account: account })
    })?;
    if let Some(scene) = existing {
        return Ok(scene);
    }
    let (operator, registrar) =
        ctx.read(|s: &State| (s.operator().expect("init"), s.registrar().expect("init")))?;
    let dev = org(ctx
        .submit(
            operator,
            Command::CreateOrganization { name: DEVELOPER.into(), role: Role::Member },
        )?
        .events);
    let buyer = org(ctx
        .submit(operator, Command::CreateOrganization { name: BUYER.into(), role: Role::Member })?
        .events);
    let dev_acc = account(
        ctx.submit(operator, Command::OpenAccount { org: dev, name: "Issuance account".into() })?
            .events,
    );
    let buyer_acc = account(
        ctx.submit(
            operator,
            Command::OpenAccount { org: buyer, name: "Offsetting account".into() },
        )?
        .events,
    );
    let info = ProjectInfo {
        program: Program::Native,
        external_id: "RSD-KZ-0001".into(),
        name: "Ile-Alatau Mountain Reforestation".into(),
        methodology: "ARR: afforestation, reforestation and revegetation".into(),
        country: "Kazakhstan".into(),
        region: "Central Asia".into(),
        scope: "Forestry & Land Use".into(),
        project_type: "Afforestation/Reforestation".into(),
        effect: Effect::Removal,
        basis: Basis::Nature,
        developer: dev,
    };
    let project = match ctx
        .submit(registrar, Command::RegisterProject { info: Box::new(info) })?
        .events[..]
    {
        [Event::ProjectRegistered { project }] => project,
        _ => unreachable!("RegisterProject emits ProjectRegistered"),
    };
    let issued = ctx.submit(
        registrar,
        Command::Issue {
            project,
            vintage_year: 2023,
            quantity_tonnes: 500_000,
            buffer_tonnes: 50_000,
            to_account: dev_acc,
            first_serial: None,
            external_ref: Some("RSD-KZ-0001-2023".into()),
        },
    )?;
    let issuance = match issued.events[..] {
        [Event::Issued { issuance, .. }] => issuance,
        _ => unreachable!("Issue emits Issued"),
    };
    let labels = Labels {
        corsia: Some(CorsiaPhase::First),
        ccp: true,
        article6: Some(Article6 {
            authorization_ref: "KZ-LoA-2024-017".into(),
            ca_status: CaStatus::Pending,
        }),
    };
    ctx.submit(registrar, Command::SetLabels { issuance, labels })?;
    ctx.submit(
        operator,
        Command::DepositCash {
            account: buyer_acc,
            currency: Currency::Sar,
            amount_minor: 1_000_000_000,
        },
    )?;
    // The developer offers on the exchange; the airline buys 120,000 t, settled delivery
    // versus payment in the step that matches: serials to the airline, SAR to the developer.
    let instrument = list_instrument(ctx, operator, project)?;
    let order = |account, side, price_minor, quantity_tonnes| Command::PlaceOrder {
        order: OrderRequest {
            instrument,
            account,
            side,
            order_type: OrderType::Limit { price_minor },
            quantity_tonnes,
            time_in_force: TimeInForce::Gtc,
            post_only: false,
            client_order_id: None,
            self_trade: SelfTradePrevention::CancelIncoming,
            retire: None,
        },
    };
    ctx.submit(dev, order(dev_acc, Side::Sell, 3_750, 200_000))?;
    ctx.submit(dev, order(dev_acc, Side::Sell, 3_800, 50_000))?;
    ctx.submit(buyer, order(buyer_acc, Side::Buy, 3_750, 120_000))?;
    ctx.submit(buyer, order(buyer_acc, Side::Buy, 3_700, 10_000))?;
    let retired = ctx.submit(
        buyer,
        Command::Retire {
            account: buyer_acc,
            issuance,
            selection: Selection::Quantity(25_000),
            details: Box::new(RetirementDetails {
                beneficiary: BUYER.into(),
                purpose: Purpose::Corsia,
                using_entity: "Gulf Aviation Group, CORSIA first phase 2024 offsetting".into(),
                note: "Retired on Rasid".into(),
            }),
        },
    )?;
    let retirement = match retired.events[..] {
        [Event::Retired { retirement, .. }] => retirement,
        _ => unreachable!("Retire emits Retired"),
    };
    Ok(Scene { retirement, buyer_account: buyer_acc })
}

fn list_instrument(
    ctx: &Ctx,
    operator: OrgId,
    project: ProjectId,
) -> Result<InstrumentId, Failure> {
    let spec = InstrumentSpec {
        symbol: "RSD-KZ-0001-2023".into(),
        underlying: Underlying::ProjectVintage { project, vintage_year: 2023 },
        currency: Currency::Sar,
        tick_minor: 5,
        lot_tonnes: 100,
        band_bps: 2_000,
        reference_price_minor: 3_750,
        fees: FeeSchedule { maker_bps: 10, taker_bps: 20, min_fee_minor: 100 },
    };
    match ctx.submit(operator, Command::ListInstrument { spec })?.events[..] {
        [Event::InstrumentListed { instrument, .. }] => Ok(instrument),
        _ => unreachable!("ListInstrument emits InstrumentListed"),
    }
}

fn org(events: Vec<Event>) -> OrgId {
    match events[..] {
        [Event::OrganizationCreated { org }] => org,
        _ => unreachable!("CreateOrganization emits OrganizationCreated"),
    }
}

fn account(events: Vec<Event>) -> AccountId {
    match events[..] {
        [Event::AccountOpened { account, .. }] => account,
        _ => unreachable!("OpenAccount emits AccountOpened"),
    }
}

/// What the ledger holds, by program and by country, and the demo retirement.
fn tour(s: &State, retirement: rasid_core::RetirementId) -> String {
    let mut by_program: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    let mut by_country: BTreeMap<&str, u64> = BTreeMap::new();
    for iss in s.issuances() {
        let p = s.project(iss.project).expect("audit: issuances name projects");
        let e = by_program.entry(p.info.program.as_str()).or_default();
        e.0 += iss.block.quantity_tonnes();
        e.1 += iss.retired.quantity_tonnes();
        *by_country.entry(p.info.country.as_str()).or_default() += iss.block.quantity_tonnes();
    }
    let mut text = String::from("\nIssued and retired by program\n");
    for (program, (issued, retired)) in &by_program {
        let _ = writeln!(
            text,
            "  {program:<8} issued {:>15} t  retired {:>15} t",
            thousands(*issued),
            thousands(*retired)
        );
    }
    let mut countries: Vec<_> = by_country.into_iter().collect();
    countries.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    text.push_str("\nLargest issuing countries\n");
    for (country, issued) in countries.iter().take(8) {
        let _ = writeln!(text, "  {country:<28} {:>15} t", thousands(*issued));
    }
    if let Some(r) = s.retirement(retirement) {
        let ranges: Vec<String> = r.serials.ranges().map(|r| r.to_string()).collect();
        let _ = write!(
            text,
            "\nDemo retirement {}: {} t for {} ({}), serials {}, journal record {}\n",
            r.id,
            thousands(r.serials.quantity_tonnes()),
            r.details.beneficiary,
            r.details.purpose.as_str(),
            ranges.join(", "),
            r.seq
        );
    }
    text
}
