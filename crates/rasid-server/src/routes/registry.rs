//! Registry routes: the caller, organizations, accounts, projects, issuances, labels,
//! cancellations, the public retirement ledger and its certificates, cash, and totals.

use super::{
    Body, Caller, Params, RangeBody, Reply, Shared, blocking, created, parse_id, selection,
    submit_async,
};
use crate::error::ApiError;
use crate::render::{
    account_json, balances_json, issuance_json, organization_json, project_json, retirement_json,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use rasid_core::model::{
    Article6, Basis, CaStatus, CorsiaPhase, Effect, Labels, Program, ProjectInfo, Role,
};
use rasid_core::money::parse_minor;
use rasid_core::{
    AccountId, Command, Currency, IssuanceId, OrgId, ProjectId, Rejection, RetirementId,
};
use serde::Deserialize;
use serde_json::{Value, json};

fn ok(doc: Value) -> (StatusCode, Json<Value>) {
    (StatusCode::OK, Json(doc))
}

/// Who is calling: user, organization, role, and the organization's accounts.
pub(super) async fn me(State(app): State<Shared>, caller: Caller) -> Reply {
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            let org = s.organization(caller.org).map(organization_json);
            let accounts: Vec<Value> = s.accounts_of(caller.org).map(account_json).collect();
            json!({
                "user": &*caller.username, "username": &*caller.username, "organization": org, "role": caller.role.as_str(),
                "accounts": accounts,
            })
        })?;
        Ok(ok(doc))
    })
    .await
}

/// A member or auditor lists only what it may see; the operator, registrar and auditor see all
/// organizations (the registrar names developers when it registers projects).
pub(super) async fn list_organizations(
    State(app): State<Shared>,
    caller: Caller,
    params: Params,
) -> Reply {
    params.allow(&["cursor", "limit"])?;
    let page = params.page()?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            let all = caller.sees_all() || caller.role == Role::Registrar;
            page.collect(
                s.organizations()
                    .filter(|o| all || o.id == caller.org)
                    .map(|o| (o.id.0, organization_json(o))),
            )
        })?;
        Ok(ok(doc))
    })
    .await
}

pub(super) async fn list_accounts(
    State(app): State<Shared>,
    caller: Caller,
    params: Params,
) -> Reply {
    params.allow(&["cursor", "limit"])?;
    let page = params.page()?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            let all = caller.sees_all();
            page.collect(
                s.accounts()
                    .filter(|a| all || a.org == caller.org)
                    .map(|a| (a.id.0, account_json(a))),
            )
        })?;
        Ok(ok(doc))
    })
    .await
}

pub(super) async fn account(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Reply {
    let account: AccountId = parse_id(&id, "account")?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            caller.may_read(s, account)?;
            let a = s.account(account).ok_or(Rejection::UnknownAccount)?;
            let mut doc = account_json(a);
            doc["cash"] = balances_json(s, account);
            doc["holdings"] = s
                .holdings_of(account)
                .map(|(i, h)| json!({ "issuance": i.0, "available_tonnes": h.available.quantity_tonnes(), "reserved_tonnes": h.reserved_tonnes }))
                .collect();
            doc["open_orders"] = s.orders_of(account).count().into();
            Ok::<_, ApiError>(doc)
        })??;
        Ok(ok(doc))
    })
    .await
}

pub(super) async fn cash(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Reply {
    let account: AccountId = parse_id(&id, "account")?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            caller.may_read(s, account)?;
            Ok::<_, ApiError>(
                json!({ "account": account.0, "balances": balances_json(s, account) }),
            )
        })??;
        Ok(ok(doc))
    })
    .await
}

/// A category filter: an effect (reduction, removal, mixed) or a basis (nature, technology).
#[derive(Clone, Copy)]
enum Category {
    Effect(Effect),
    Basis(Basis),
}

fn category(raw: &str) -> Result<Category, ApiError> {
    match raw {
        "reduction" => Ok(Category::Effect(Effect::Reduction)),
        "removal" => Ok(Category::Effect(Effect::Removal)),
        "mixed" => Ok(Category::Effect(Effect::Mixed)),
        "nature" => Ok(Category::Basis(Basis::Nature)),
        "technology" => Ok(Category::Basis(Basis::Technology)),
        other => Err(ApiError::bad_request(
            "invalid_category",
            format!("{other:?}: expected reduction, removal, mixed, nature or technology"),
        )),
    }
}

fn has_label(l: &Labels, label: &str) -> bool {
    match label {
        "ccp" => l.ccp,
        "corsia" => l.corsia.is_some(),
        "article6" => l.article6.is_some(),
        _ => false,
    }
}

pub(super) async fn list_projects(State(app): State<Shared>, params: Params) -> Reply {
    params.allow(&["program", "country", "category", "label", "cursor", "limit"])?;
    let page = params.page()?;
    let program: Option<Program> = params
        .get("program")
        .map(|p| p.parse().map_err(|m: String| ApiError::bad_request("invalid_program", m)))
        .transpose()?;
    let country = params.get("country").map(str::to_owned);
    let category = params.get("category").map(category).transpose()?;
    let label = params.get("label").map(str::to_owned);
    if let Some(l) = &label
        && !["ccp", "corsia", "article6"].contains(&l.as_str())
    {
        return Err(ApiError::bad_request(
            "invalid_label",
            format!("{l:?}: expected ccp, corsia or article6"),
        ));
    }
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            // Labels belong to issuances: a project matches when one of its issuances has the
            // label. One pass over the issuances, not one per project.
            let labelled: Option<std::collections::BTreeSet<ProjectId>> =
                label.as_deref().map(|l| {
                    s.issuances().filter(|i| has_label(&i.labels, l)).map(|i| i.project).collect()
                });
            let rows = s.projects().filter(|p| {
                let i = &p.info;
                let category_ok = match category {
                    None => true,
                    Some(Category::Effect(e)) => i.effect == e,
                    Some(Category::Basis(b)) => i.basis == b,
                };
                program.is_none_or(|pr| i.program == pr)
                    && country.as_deref().is_none_or(|c| i.country.eq_ignore_ascii_case(c))
                    && category_ok
                    && labelled.as_ref().is_none_or(|set| set.contains(&p.id))
            });
            page.collect(rows.map(|p| (p.id.0, project_json(p))))
        })?;
        Ok(ok(doc))
    })
    .await
}

pub(super) async fn project(State(app): State<Shared>, Path(id): Path<String>) -> Reply {
    let id: ProjectId = parse_id(&id, "project")?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            s.project(id).map(|p| {
                let mut doc = project_json(p);
                doc["rating"] = s.project_rating(id).into();
                doc["issuances"] =
                    s.issuances().filter(|i| i.project == id).map(|i| i.id.0).collect();
                doc
            })
        })?;
        Ok(ok(doc.ok_or(Rejection::UnknownProject)?))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewProject {
    program: String,
    external_id: String,
    name: String,
    #[serde(default)]
    methodology: String,
    country: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    project_type: String,
    /// Defaults as the CLI's: reduction, technology.
    #[serde(default = "default_effect")]
    effect: String,
    #[serde(default = "default_basis")]
    basis: String,
    developer: u64,
}

fn default_effect() -> String {
    "reduction".into()
}

fn default_basis() -> String {
    "technology".into()
}

pub(super) async fn register_project(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<NewProject>,
) -> Reply {
    let program: Program =
        req.program.parse().map_err(|m: String| ApiError::bad_request("invalid_program", m))?;
    let effect = match category(&req.effect) {
        Ok(Category::Effect(e)) => e,
        _ => {
            return Err(ApiError::bad_request(
                "invalid_effect",
                "effect is reduction, removal or mixed",
            ));
        }
    };
    let basis = match category(&req.basis) {
        Ok(Category::Basis(b)) => b,
        _ => return Err(ApiError::bad_request("invalid_basis", "basis is nature or technology")),
    };
    let info = ProjectInfo {
        program,
        external_id: req.external_id,
        name: req.name,
        methodology: req.methodology,
        country: req.country,
        region: req.region,
        scope: req.scope,
        project_type: req.project_type,
        effect,
        basis,
        developer: OrgId(req.developer),
    };
    let command = Command::RegisterProject { info: Box::new(info) };
    submit_async(&app, caller.org, command).await.map(created)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RatingRequest {
    /// 0–100, or null to clear.
    rating: Option<u8>,
}

pub(super) async fn rate_project(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<RatingRequest>,
) -> Reply {
    let project: ProjectId = parse_id(&id, "project")?;
    let command = Command::SetProjectRating { project, rating: req.rating };
    submit_async(&app, caller.org, command).await.map(ok)
}

pub(super) async fn list_issuances(State(app): State<Shared>, params: Params) -> Reply {
    params.allow(&["project", "cursor", "limit"])?;
    let page = params.page()?;
    let project: Option<ProjectId> = params.id("project")?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            page.collect(
                s.issuances()
                    .filter(|i| project.is_none_or(|p| i.project == p))
                    .map(|i| (i.id.0, issuance_json(i))),
            )
        })?;
        Ok(ok(doc))
    })
    .await
}

pub(super) async fn issuance(State(app): State<Shared>, Path(id): Path<String>) -> Reply {
    let id: IssuanceId = parse_id(&id, "issuance")?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| s.issuance(id).map(issuance_json))?;
        Ok(ok(doc.ok_or(Rejection::UnknownIssuance)?))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewIssuance {
    project: u64,
    vintage: u16,
    quantity: u64,
    /// Tonnes to the buffer pool; absent or null: none.
    buffer: Option<u64>,
    to_account: u64,
    first_serial: Option<u64>,
    external_ref: Option<String>,
}

pub(super) async fn issue(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<NewIssuance>,
) -> Reply {
    let command = Command::Issue {
        project: ProjectId(req.project),
        vintage_year: req.vintage,
        quantity_tonnes: req.quantity,
        buffer_tonnes: req.buffer.unwrap_or(0),
        to_account: AccountId(req.to_account),
        first_serial: req.first_serial,
        external_ref: req.external_ref,
    };
    submit_async(&app, caller.org, command).await.map(created)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Article6Body {
    authorization_ref: String,
    ca_status: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LabelsRequest {
    corsia: Option<String>,
    #[serde(default)]
    ccp: bool,
    article6: Option<Article6Body>,
}

pub(super) async fn set_labels(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    Body(req): Body<LabelsRequest>,
) -> Reply {
    let issuance: IssuanceId = parse_id(&id, "issuance")?;
    let corsia = match req.corsia.as_deref() {
        None => None,
        Some("pilot") => Some(CorsiaPhase::Pilot),
        Some("first") => Some(CorsiaPhase::First),
        Some("second") => Some(CorsiaPhase::Second),
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_corsia",
                format!("{other:?}: expected pilot, first or second"),
            ));
        }
    };
    let article6 = match req.article6 {
        None => None,
        Some(a) => {
            let ca_status = [
                CaStatus::NotRequired,
                CaStatus::Committed,
                CaStatus::Pending,
                CaStatus::Completed,
            ]
            .into_iter()
            .find(|c| c.as_str() == a.ca_status)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_ca_status",
                    "ca_status is not_required, committed, pending or completed",
                )
            })?;
            Some(Article6 { authorization_ref: a.authorization_ref, ca_status })
        }
    };
    let labels = Labels { corsia, ccp: req.ccp, article6 };
    let command = Command::SetLabels { issuance, labels };
    submit_async(&app, caller.org, command).await.map(ok)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CancelRequest {
    account: u64,
    issuance: u64,
    quantity: Option<u64>,
    ranges: Option<Vec<RangeBody>>,
    reason: String,
}

pub(super) async fn cancel(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<CancelRequest>,
) -> Reply {
    let command = Command::Cancel {
        account: AccountId(req.account),
        issuance: IssuanceId(req.issuance),
        selection: selection(req.quantity, req.ranges)?,
        reason: req.reason,
    };
    submit_async(&app, caller.org, command).await.map(created)
}

/// Public: the retirement ledger. Retirements are public claims, beneficiaries included.
pub(super) async fn list_retirements(State(app): State<Shared>, params: Params) -> Reply {
    params.allow(&["issuance", "project", "cursor", "limit"])?;
    let page = params.page()?;
    let issuance: Option<IssuanceId> = params.id("issuance")?;
    let project: Option<ProjectId> = params.id("project")?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            page.collect(
                s.retirements()
                    .filter(|r| issuance.is_none_or(|i| r.issuance == i))
                    .filter(|r| {
                        project
                            .is_none_or(|p| s.issuance(r.issuance).is_some_and(|i| i.project == p))
                    })
                    .map(|r| (r.id.0, retirement_json(s, r))),
            )
        })?;
        Ok(ok(doc))
    })
    .await
}

/// Public: a printable certificate of one retirement, in Arabic and English.
pub(super) async fn certificate(
    State(app): State<Shared>,
    Path(id): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    params.allow(&["lang"])?;
    let arabic_first = match params.get("lang") {
        None | Some("ar") => true,
        Some("en") => false,
        Some(other) => {
            return Err(ApiError::bad_request(
                "invalid_lang",
                format!("{other:?}: expected ar or en"),
            ));
        }
    };
    let id: RetirementId = parse_id(&id, "retirement")?;
    let html = blocking(move || {
        let data = app
            .ledger()?
            .query(move |s| crate::certificate::Data::of(s, id))?
            .ok_or(Rejection::UnknownRetirement)?;
        let hash = app
            .record_hash(data.seq)?
            .ok_or_else(|| ApiError::internal(format!("journal record {} is missing", data.seq)))?;
        Ok(crate::certificate::html(&data, &hash, arabic_first))
    })
    .await?;
    Ok(([(CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response())
}

/// Public: market-wide totals, computed from the ledger state.
pub(super) async fn stats(State(app): State<Shared>) -> Reply {
    blocking(move || {
        let instruments: Vec<rasid_core::exchange::InstrumentId> =
            app.ledger()?.query(|s| s.instruments().map(|i| i.id).collect())?;
        let traded_tonnes = app.live.traded_tonnes(&instruments);
        let mut doc = app.ledger()?.query(|s| {
            let mut issued: u64 = 0;
            let mut retired: u64 = 0;
            let mut cancelled: u64 = 0;
            for i in s.issuances() {
                // Serials are u64 and blocks never overlap, so these sums cannot overflow.
                issued = issued.saturating_add(i.block.quantity_tonnes());
                retired = retired.saturating_add(i.retired.quantity_tonnes());
                cancelled = cancelled.saturating_add(i.cancelled.quantity_tonnes());
            }
            let buffer: u64 = s
                .buffer_account()
                .map_or(0, |b| s.holdings_of(b).map(|(_, h)| h.held_tonnes()).sum());
            let open_orders: usize = s.accounts().map(|a| s.orders_of(a.id).count()).sum();
            json!({
                "seq": s.last_seq(),
                "organizations": s.organizations().count(), "accounts": s.accounts().count(),
                "projects": s.projects().count(), "issuances": s.issuances().count(),
                "retirements": s.retirements().count(), "cancellations": s.cancellations().count(),
                "issued_tonnes": issued, "retired_tonnes": retired, "cancelled_tonnes": cancelled,
                "held_tonnes": issued.saturating_sub(retired).saturating_sub(cancelled),
                "buffer_tonnes": buffer,
                "instruments": s.instruments().count(), "open_orders": open_orders,
                "baskets": s.baskets().count(), "auctions": s.auctions().count(),
                "trades": s.trades_count(),
            })
        })?;
        // From the live read model, fed after each commit: it may trail the state by the
        // commands committed between the two reads.
        doc["traded_tonnes"] = traded_tonnes.into();
        Ok(ok(doc))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CashRequest {
    account: u64,
    currency: String,
    /// A decimal string, e.g. "1000.00".
    amount: String,
}

fn amount(currency: &str, amount: &str) -> Result<(Currency, i64), ApiError> {
    let c: Currency =
        currency.parse().map_err(|m: String| ApiError::bad_request("invalid_currency", m))?;
    let minor = parse_minor(amount, c).map_err(|m| ApiError::bad_request("invalid_amount", m))?;
    Ok((c, minor))
}

pub(super) async fn deposit_cash(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<CashRequest>,
) -> Reply {
    let (currency, amount_minor) = amount(&req.currency, &req.amount)?;
    let command = Command::DepositCash { account: AccountId(req.account), currency, amount_minor };
    submit_async(&app, caller.org, command).await.map(created)
}

pub(super) async fn withdraw_cash(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<CashRequest>,
) -> Reply {
    let (currency, amount_minor) = amount(&req.currency, &req.amount)?;
    let command = Command::WithdrawCash { account: AccountId(req.account), currency, amount_minor };
    submit_async(&app, caller.org, command).await.map(created)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CashTransferRequest {
    from: u64,
    to: u64,
    currency: String,
    amount: String,
}

pub(super) async fn transfer_cash(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<CashTransferRequest>,
) -> Reply {
    let (currency, amount_minor) = amount(&req.currency, &req.amount)?;
    let command = Command::TransferCash {
        from: AccountId(req.from),
        to: AccountId(req.to),
        currency,
        amount_minor,
    };
    submit_async(&app, caller.org, command).await.map(created)
}
