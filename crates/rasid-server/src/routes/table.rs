//! The route table: every route of the API in one list — method, path, who may call it, what it
//! takes and returns — from which both the router and the OpenAPI document are built, so the two
//! cannot disagree. Access is enforced here, by a guard around each handler, before the handler runs
//! (and so before its body is parsed): deny by default, a route is public only when it says so.

use super::{Caller, Known, Shared, auctions, authenticate_request_cached, exchange, registry};
use crate::error::ApiError;
use axum::extract::Request;
use axum::handler::Handler;
use axum::http::{Method, header::AUTHORIZATION};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use futures_util::future::{BoxFuture, Either, Ready, ready};
use rasid_core::model::Role;

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a token.
    Public,
    /// Anyone; a valid token adds the caller's private view (own bids, own deposits). A token
    /// that is present but invalid is still refused with 401.
    PublicOrCaller,
    /// Any authenticated user, whatever the role; the handler limits what each sees.
    Authenticated,
    /// Only these roles; others get 403 `forbidden`, anonymous callers 401.
    Roles(&'static [Role]),
    /// These roles, or the scrape token set by `--metrics-token` (`RASID_METRICS_TOKEN`), so a
    /// Prometheus server can read `/metrics` without a user's session or API key.
    RolesOrScrapeToken(&'static [Role]),
}

impl Access {
    /// The roles that pass, for the document and the role × route matrix test.
    pub fn roles(self) -> Vec<&'static str> {
        let all = [Role::Operator, Role::Registrar, Role::Member, Role::Auditor];
        match self {
            Access::Public | Access::PublicOrCaller => {
                let mut v: Vec<&str> = all.iter().map(|r| r.as_str()).collect();
                v.push("anonymous");
                v
            }
            Access::Authenticated => all.iter().map(|r| r.as_str()).collect(),
            Access::Roles(roles) | Access::RolesOrScrapeToken(roles) => {
                roles.iter().map(|r| r.as_str()).collect()
            }
        }
    }

    pub fn needs_token(self) -> bool {
        matches!(self, Access::Authenticated | Access::Roles(_) | Access::RolesOrScrapeToken(_))
    }
}

/// One route. `request` and `response` name schemas of the OpenAPI document's components.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
    /// Query parameters: `(name, description)`.
    pub query: &'static [(&'static str, &'static str)],
    pub request: Option<&'static str>,
    /// Status and schema of a successful answer.
    pub status: u16,
    pub response: &'static str,
    pub handler: MethodRouter<Shared>,
}

const OP: Access = Access::Roles(&[Role::Operator]);
const REG: Access = Access::Roles(&[Role::Registrar]);
const MEM: Access = Access::Roles(&[Role::Member]);
const OP_MEM: Access = Access::Roles(&[Role::Operator, Role::Member]);
/// Roles that hold credits and move them: the engine checks account ownership.
const HOLDERS: Access = Access::Roles(&[Role::Operator, Role::Registrar, Role::Member]);
/// `/metrics`: the server's internals are for the people who run and audit the exchange (and
/// their Prometheus), not for the public or the members.
const OPERATIONS: Access = Access::RolesOrScrapeToken(&[Role::Operator, Role::Auditor]);
const ANY: Access = Access::Authenticated;
const PUBLIC: Access = Access::Public;
const PUBLIC_OR_CALLER: Access = Access::PublicOrCaller;

const PAGE: &[(&str, &str)] = &[
    ("cursor", "Opaque cursor from the previous page's `next_cursor`"),
    ("limit", "Items per page, 1–500 (default 100)"),
];

struct Builder(Vec<Route>);

impl Builder {
    #[allow(clippy::too_many_arguments)]
    fn add<H, T>(
        &mut self,
        method: Method,
        path: &'static str,
        access: Access,
        summary: &'static str,
        query: &'static [(&'static str, &'static str)],
        request: Option<&'static str>,
        (status, response): (u16, &'static str),
        handler: H,
    ) where
        H: Handler<T, Shared>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("standard methods only");
        self.0.push(Route {
            method,
            path,
            access,
            summary,
            query,
            request,
            status,
            response,
            handler: on(filter, Guarded { handler, access }),
        });
    }
}

/// A WebSocket upgrade's answer.
const SWITCHING_PROTOCOLS: u16 = 101;
const OK: u16 = 200;
const CREATED: u16 = 201;

/// Every route, in the order the document lists them. One line per route, like a table.
#[rustfmt::skip]
pub fn routes() -> Vec<Route> {
    use Method as M;
    use super as r;
    let mut b = Builder(Vec::new());
    // Sessions and users.
    b.add(M::GET, "/v1/health", PUBLIC, "Liveness", &[], None, (OK, "Health"), r::health);
    b.add(M::GET, "/v1/openapi.json", PUBLIC, "This document", &[], None, (OK, "OpenApi"), r::openapi);
    b.add(M::POST, "/v1/sessions", PUBLIC, "Log in: a bearer token", &[], Some("LoginRequest"), (CREATED, "Session"), r::login);
    b.add(M::DELETE, "/v1/sessions/current", ANY, "Log out (ends this token's session)", &[], None, (OK, "Ended"), r::logout);
    b.add(M::POST, "/v1/users", OP, "Create a user of an organization", &[], Some("NewUser"), (CREATED, "User"), r::create_user);
    b.add(M::GET, "/v1/me", ANY, "The caller: user, organization, role, accounts", &[], None, (OK, "Me"), registry::me);
    // Organizations and accounts.
    b.add(M::GET, "/v1/organizations", ANY, "Organizations (a member sees its own)", PAGE, None, (OK, "OrganizationPage"), registry::list_organizations);
    b.add(M::POST, "/v1/organizations", OP, "Create an organization", &[], Some("NewOrganization"), (CREATED, "Committed"), r::create_organization);
    b.add(M::GET, "/v1/accounts", ANY, "Accounts (own; operator and auditor: all)", PAGE, None, (OK, "AccountPage"), registry::list_accounts);
    b.add(M::POST, "/v1/accounts", OP, "Open an account for an organization", &[], Some("NewAccount"), (CREATED, "Committed"), r::open_account);
    b.add(M::GET, "/v1/accounts/{id}", ANY, "One account (own; operator and auditor: any)", &[], None, (OK, "Account"), registry::account);
    b.add(M::GET, "/v1/accounts/{id}/holdings", ANY, "Credits held, with serial ranges", &[], None, (OK, "Holdings"), r::holdings);
    b.add(M::GET, "/v1/accounts/{id}/cash", ANY, "Cash balances", &[], None, (OK, "Cash"), registry::cash);
    // Registry.
    b.add(M::GET, "/v1/projects", PUBLIC, "Projects", &[("program", "e.g. VCS, GS"), ("country", "Country as registered"), ("category", "reduction, removal, mixed, nature or technology"), ("label", "ccp, corsia or article6: projects with an issuance so labelled"), ("cursor", "Opaque cursor"), ("limit", "1–500, default 100")], None, (OK, "ProjectPage"), registry::list_projects);
    b.add(M::POST, "/v1/projects", REG, "Register a project", &[], Some("NewProject"), (CREATED, "Committed"), registry::register_project);
    b.add(M::GET, "/v1/projects/{id}", PUBLIC, "One project", &[], None, (OK, "Project"), registry::project);
    b.add(M::POST, "/v1/projects/{id}/rating", REG, "Set or clear a project's rating (0–100)", &[], Some("Rating"), (OK, "Committed"), registry::rate_project);
    b.add(M::GET, "/v1/issuances", PUBLIC, "Issuances (vintage batches)", &[("project", "Project id"), ("cursor", "Opaque cursor"), ("limit", "1–500, default 100")], None, (OK, "IssuancePage"), registry::list_issuances);
    b.add(M::POST, "/v1/issuances", REG, "Issue a vintage batch", &[], Some("NewIssuance"), (CREATED, "Committed"), registry::issue);
    b.add(M::GET, "/v1/issuances/{id}", PUBLIC, "One issuance", &[], None, (OK, "Issuance"), registry::issuance);
    b.add(M::POST, "/v1/issuances/{id}/labels", REG, "Set an issuance's labels (CORSIA, CCP, Article 6)", &[], Some("Labels"), (OK, "Committed"), registry::set_labels);
    b.add(M::POST, "/v1/transfers", HOLDERS, "Transfer credits between accounts", &[], Some("Transfer"), (CREATED, "Committed"), r::transfer);
    b.add(M::GET, "/v1/retirements", PUBLIC, "The public retirement ledger, with beneficiaries", &[("issuance", "Issuance id"), ("project", "Project id"), ("cursor", "Opaque cursor"), ("limit", "1–500, default 100")], None, (OK, "RetirementPage"), registry::list_retirements);
    b.add(M::POST, "/v1/retirements", HOLDERS, "Retire credits for a beneficiary", &[], Some("Retire"), (CREATED, "Committed"), r::retire);
    b.add(M::GET, "/v1/retirements/{id}", PUBLIC, "One retirement", &[], None, (OK, "Retirement"), r::retirement);
    b.add(M::GET, "/v1/retirements/{id}/certificate", PUBLIC, "Printable retirement certificate (HTML, Arabic and English)", &[("lang", "ar or en: the language shown first")], None, (OK, "CertificateHtml"), registry::certificate);
    b.add(M::POST, "/v1/cancellations", HOLDERS, "Cancel credits (the holder, or the registrar for any account)", &[], Some("Cancel"), (CREATED, "Committed"), registry::cancel);
    b.add(M::GET, "/v1/serials/{serial}", PUBLIC, "Where a serial is: a Rasid number or another registry's serial", &[("from", "First unit (Cercarbono)"), ("to", "Last unit (Cercarbono)")], None, (OK, "SerialLocation"), r::serial);
    b.add(M::GET, "/v1/stats", PUBLIC, "Market-wide totals", &[], None, (OK, "Stats"), registry::stats);
    // Cash.
    b.add(M::POST, "/v1/cash/deposits", OP, "Credit cash to an account", &[], Some("CashMovement"), (CREATED, "Committed"), registry::deposit_cash);
    b.add(M::POST, "/v1/cash/withdrawals", OP, "Debit cash from an account", &[], Some("CashMovement"), (CREATED, "Committed"), registry::withdraw_cash);
    b.add(M::POST, "/v1/cash/transfers", HOLDERS, "Move cash between accounts (from the caller's own)", &[], Some("CashTransfer"), (CREATED, "Committed"), registry::transfer_cash);
    // Exchange.
    b.add(M::GET, "/v1/markets", PUBLIC, "Listed instruments, brief", PAGE, None, (OK, "MarketPage"), r::markets);
    b.add(M::GET, "/v1/markets/{instrument}/book", PUBLIC, "Aggregated order book depth", &[("levels", "Price levels per side, at most 100 (default 20)")], None, (OK, "Book"), r::book);
    b.add(M::GET, "/v1/markets/{instrument}/trades", PUBLIC, "Recent trades, newest first (from the live read model)", &[("cursor", "Opaque cursor from the previous page's `next_cursor`"), ("limit", "Trades per page, 1–100 (default 100)")], None, (OK, "TradePage"), crate::market::trades);
    b.add(M::GET, "/v1/markets/{instrument}/candles", PUBLIC, "OHLCV candles, oldest first (from the live read model)", &[("interval", "1m, 1h or 1d (default 1m)"), ("cursor", "Opaque cursor from the previous page's `next_cursor`"), ("limit", "Candles per page, 1–500 (default 500)")], None, (OK, "CandlePage"), crate::market::candles);
    b.add(M::GET, "/v1/instruments", PUBLIC, "Instruments, in full", PAGE, None, (OK, "InstrumentPage"), exchange::list_instruments);
    b.add(M::POST, "/v1/instruments", OP, "List an instrument", &[], Some("NewInstrument"), (CREATED, "Committed"), exchange::list_instrument);
    b.add(M::GET, "/v1/instruments/{id}", PUBLIC, "One instrument (id or symbol)", &[], None, (OK, "Instrument"), exchange::instrument);
    b.add(M::POST, "/v1/instruments/{id}/halt", OP, "Halt trading", &[], None, (OK, "Committed"), exchange::halt);
    b.add(M::POST, "/v1/instruments/{id}/resume", OP, "Resume trading", &[], None, (OK, "Committed"), exchange::resume);
    b.add(M::POST, "/v1/instruments/{id}/close", OP, "Close the instrument for good (cancels its orders)", &[], None, (OK, "Committed"), exchange::close);
    b.add(M::POST, "/v1/instruments/{id}/reference-price", OP, "Move the price band's centre", &[], Some("Price"), (OK, "Committed"), exchange::reference_price);
    b.add(M::POST, "/v1/trading-session/close", OP, "End the trading session: DAY orders expire", &[], Some("SessionClose"), (OK, "Committed"), exchange::close_session);
    b.add(M::POST, "/v1/orders", MEM, "Place an order", &[], Some("NewOrder"), (CREATED, "Committed"), r::place_order);
    b.add(M::GET, "/v1/orders", ANY, "Open orders of an account", &[("account", "Account id (required)"), ("cursor", "Opaque cursor"), ("limit", "1–500, default 100")], None, (OK, "OrderPage"), r::list_orders);
    b.add(M::DELETE, "/v1/orders", OP_MEM, "Cancel every open order of an account", &[("account", "Account id (required)"), ("instrument", "Only this instrument (id or symbol)")], None, (OK, "Committed"), exchange::cancel_all);
    b.add(M::PATCH, "/v1/orders/{id}", MEM, "Amend an open order's price or remaining quantity", &[], Some("Amend"), (OK, "Committed"), exchange::amend);
    b.add(M::DELETE, "/v1/orders/{id}", OP_MEM, "Cancel an order", &[], None, (OK, "Committed"), r::cancel_order);
    // Baskets.
    b.add(M::GET, "/v1/baskets", PUBLIC, "Basket contracts", PAGE, None, (OK, "BasketPage"), exchange::list_baskets);
    b.add(M::POST, "/v1/baskets", OP, "Define a basket", &[], Some("NewBasket"), (CREATED, "Committed"), exchange::create_basket);
    b.add(M::GET, "/v1/baskets/{id}", PUBLIC_OR_CALLER, "One basket (with the caller's own deposits when authenticated)", &[], None, (OK, "Basket"), exchange::basket);
    b.add(M::PUT, "/v1/baskets/{id}/criteria", OP, "Change a basket's criteria (deposits no longer eligible return)", &[], Some("BasketCriteria"), (OK, "Committed"), exchange::set_criteria);
    b.add(M::POST, "/v1/baskets/{id}/deposits", MEM, "Deposit credits into a basket", &[], Some("BasketDeposit"), (CREATED, "Committed"), exchange::deposit);
    b.add(M::POST, "/v1/baskets/{id}/withdrawals", MEM, "Withdraw free deposited credits", &[], Some("BasketWithdrawal"), (CREATED, "Committed"), exchange::withdraw);
    // Auctions.
    b.add(M::GET, "/v1/auctions", PUBLIC, "Auctions (public state)", PAGE, None, (OK, "AuctionPage"), auctions::list);
    b.add(M::POST, "/v1/auctions", OP, "Create a sealed-bid auction", &[], Some("NewAuction"), (CREATED, "Committed"), auctions::create);
    b.add(M::GET, "/v1/auctions/{id}", PUBLIC_OR_CALLER, "One auction (with the caller's own bids when authenticated)", &[], None, (OK, "Auction"), auctions::show);
    b.add(M::POST, "/v1/auctions/{id}/bids", MEM, "Place a sealed bid", &[], Some("NewBid"), (CREATED, "Committed"), auctions::bid);
    b.add(M::PATCH, "/v1/auctions/{id}/bids/{bid}", MEM, "Change one's own bid", &[], Some("ChangeBid"), (OK, "Committed"), auctions::change_bid);
    b.add(M::DELETE, "/v1/auctions/{id}/bids/{bid}", MEM, "Withdraw one's own bid", &[], None, (OK, "Committed"), auctions::withdraw_bid);
    b.add(M::POST, "/v1/auctions/{id}/close", OP, "Clear and settle every lot", &[], None, (OK, "Committed"), auctions::close);
    b.add(M::GET, "/v1/auctions/{id}/results", PUBLIC_OR_CALLER, "Clearing price, volume, anonymous demand curve; the caller's own allocations", &[], None, (OK, "AuctionResults"), auctions::results);
    // API keys: the caller's own, acting as the caller.
    b.add(M::GET, "/v1/api-keys", ANY, "The caller's API keys, revoked ones included (never their secrets)", &[], None, (OK, "ApiKeyPage"), r::list_api_keys);
    b.add(M::POST, "/v1/api-keys", ANY, "Create an API key: its secret is shown only in this answer", &[], Some("NewApiKey"), (CREATED, "NewApiKeySecret"), r::create_api_key);
    b.add(M::DELETE, "/v1/api-keys/{id}", ANY, "Revoke one of the caller's API keys", &[], None, (OK, "Revoked"), r::revoke_api_key);
    // Streams and operations.
    b.add(M::GET, "/v1/ws", PUBLIC, "WebSocket stream of books, trades, candles, auctions and (after an auth message) the caller's orders, fills and balances", &[], None, (SWITCHING_PROTOCOLS, "WebSocket"), crate::ws::upgrade);
    b.add(M::GET, "/metrics", OPERATIONS, "Counters and histograms in the Prometheus text format (operator or auditor, or the scrape token)", &[], None, (OK, "Metrics"), crate::metrics::render);
    b.0
}

/// A route's handler behind its access rule: the rule is enforced before the handler runs (and
/// so before its extractors parse anything), and the authenticated caller is handed to the
/// handler through the request's extensions (one session look-up per request).
///
/// It wraps the handler itself rather than being a layer on the route: axum's `from_fn` layer
/// cloned the boxed inner service, boxed it once more as `Next` and boxed a future on every
/// request. Here a request whose caller is answered by the token cache (almost all) or that
/// needs none goes straight to the handler's own future; only a token the cache does not know
/// boxes a future, for its blocking look-up in the user store.
#[derive(Clone)]
pub(crate) struct Guarded<H> {
    handler: H,
    access: Access,
}

/// The guard's future: the handler's own, a refusal, or a token look-up followed by the
/// handler.
type GuardedFuture<F> = Either<F, Either<Ready<Response>, BoxFuture<'static, Response>>>;

impl<H, T> Handler<T, Shared> for Guarded<H>
where
    H: Handler<T, Shared>,
    T: 'static,
{
    type Future = GuardedFuture<H::Future>;

    fn call(self, mut req: Request, app: Shared) -> Self::Future {
        let refuse = |e: ApiError| Either::Right(Either::Left(ready(e.into_response())));
        let access = self.access;
        if let Access::RolesOrScrapeToken(_) = access
            && app.is_scrape_token(req.headers())
        {
            return Either::Left(self.handler.call(req, app));
        }
        let known = match access {
            Access::Public => None,
            Access::PublicOrCaller if !req.headers().contains_key(AUTHORIZATION) => None,
            Access::PublicOrCaller
            | Access::Authenticated
            | Access::Roles(_)
            | Access::RolesOrScrapeToken(_) => {
                match authenticate_request_cached(&app, req.headers()) {
                    Ok(known) => Some(known),
                    Err(e) => return refuse(e),
                }
            }
        };
        match known {
            None => Either::Left(self.handler.call(req, app)),
            Some(Known::Caller(caller)) => match admit(access, caller) {
                Ok(caller) => {
                    req.extensions_mut().insert::<Caller>(caller);
                    Either::Left(self.handler.call(req, app))
                }
                Err(e) => refuse(e),
            },
            Some(Known::Unknown(lookup)) => Either::Right(Either::Right(Box::pin(async move {
                let caller = match lookup.run(app.clone()).await.and_then(|c| admit(access, c)) {
                    Ok(caller) => caller,
                    Err(e) => return e.into_response(),
                };
                req.extensions_mut().insert::<Caller>(caller);
                self.handler.call(req, app).await
            }))),
        }
    }
}

/// Refuses an authenticated caller whose role the route does not allow (403).
fn admit(access: Access, caller: Caller) -> Result<Caller, ApiError> {
    match access {
        Access::Roles(roles) | Access::RolesOrScrapeToken(roles)
            if !roles.contains(&caller.role) =>
        {
            Err(ApiError::forbidden(format!("the {} role may not do this", caller.role.as_str())))
        }
        _ => Ok(caller),
    }
}
