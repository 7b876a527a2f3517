//! The `/v1` routes. Request bodies are wire types of their own (serde, unknown fields refused)
//! mapped to `rasid_core::Command`; replies are built from domain values by `render`.

use crate::auth::{self, AuthError};
use crate::error::ApiError;
use crate::render::{event_json, order_json, ranges_json, retirement_json};
use crate::{App, now_ms};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::{Json, Router};
use rasid_core::exchange::{
    InstrumentId, OrderId, OrderRequest, OrderType, SelfTradePrevention, Side, TimeInForce,
};
use rasid_core::model::{Purpose, RetirementDetails, Role};
use rasid_core::money::{format_minor, parse_minor};
use rasid_core::time::rfc3339;
use rasid_core::{
    AccountId, Command, Currency, IssuanceId, OrgId, Rejection, RetirementId, Selection,
    SerialRange,
};
use rasid_store::Committed;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::convert::Infallible;
use std::sync::Arc;

pub(crate) type Shared = Arc<App>;
pub(crate) type Reply = Result<(StatusCode, Json<Value>), ApiError>;

/// Bodies above this are refused (413) before they are parsed.
pub const BODY_BYTES_MAX: usize = 64 * 1024;
/// Most book levels a depth request returns.
const BOOK_LEVELS_MAX: usize = 100;

mod auctions;
mod exchange;
mod order_body;
mod page;
mod registry;
pub(crate) mod table;

pub(crate) use page::Params;

/// The router, built from the route table (`table::routes`), so every route is in the OpenAPI
/// document and carries its access rule.
pub fn router(app: Shared) -> Router {
    let mut router = Router::new();
    for route in table::routes() {
        router = router.route(route.path, route.handler);
    }
    router
        .fallback(|| async { ApiError::not_found("unknown_route", "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(FrontLayer(app.clone()))
        .with_state(app)
        .merge(rasid_web::router())
}

/// The one middleware every `/v1` request passes before routing. It used to be three layers
/// (metrics, `DefaultBodyLimit`, body buffering), each of which cloned the inner service and
/// boxed a future on every request; folded together they cost one of each. It is a tower
/// service of its own rather than axum's `from_fn`, which on every request also wrapped the
/// inner service in a second boxed service (`Next`) whose call boxed another future. In order:
/// - the request is timed and counted by status (`metrics::record`) inside a `tracing` span;
/// - the whole body (at most `BODY_BYTES_MAX`) is read before routing, and a larger one is
///   refused with 413. A request refused before its handler reads the body (401, 403, a bad id
///   in the path) would otherwise leave bytes unread, and the HTTP server then closes the
///   connection after answering — a client that reuses it fails on its next request. Bodies are
///   small, so buffering costs little, and because every body is already buffered within the
///   limit no extractor needs a body limit of its own;
/// - the `Idempotency-Key` handling runs on the buffered request.
#[derive(Clone)]
struct FrontLayer(Shared);

impl<S> tower::Layer<S> for FrontLayer {
    type Service = Front<S>;
    fn layer(&self, inner: S) -> Front<S> {
        Front { inner, app: self.0.clone() }
    }
}

#[derive(Clone)]
struct Front<S> {
    inner: S,
    app: Shared,
}

impl<S> tower::Service<Request> for Front<S>
where
    S: tower::Service<Request, Response = axum::response::Response, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = futures_util::future::BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        // The inner service is made ready (and called) inside the future, by `oneshot`.
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> <Self as tower::Service<Request>>::Future {
        Box::pin(front(self.app.clone(), req, self.inner.clone()))
    }
}

async fn front<S>(
    app: Shared,
    req: Request,
    inner: S,
) -> Result<axum::response::Response, Infallible>
where
    S: tower::Service<Request, Response = axum::response::Response, Error = Infallible>,
{
    use axum::response::IntoResponse;
    use tracing::Instrument;
    let started = std::time::Instant::now();
    let span = tracing::debug_span!("request", method = %req.method(), path = %req.uri().path());
    let response = async {
        let (parts, body) = req.into_parts();
        match read_body(body).await {
            Some(bytes) => {
                let mut req = Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
                req.extensions_mut().insert(Buffered(bytes));
                crate::idempotency::layer(&app, req, inner).await
            }
            None => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "the request body is too large",
            )
            .into_response(),
        }
    }
    .instrument(span.clone())
    .await;
    crate::metrics::record(&app.metrics, started, response.status(), &span);
    Ok(response)
}

/// The whole body, or `None` when it is larger than `BODY_BYTES_MAX` or fails to arrive —
/// exactly when `axum::body::to_bytes(body, BODY_BYTES_MAX)` fails, and the same bytes when it
/// does not. That function collects the frames through `Limited` and `Collect` into a queue of
/// buffers and then copies them out; a body almost always comes as one frame, and this loop
/// keeps that frame as it is, which saves a queue's allocation and ≈ 0.3k instructions a request.
async fn read_body(mut body: axum::body::Body) -> Option<axum::body::Bytes> {
    use axum::body::HttpBody;
    let mut whole: Option<axum::body::Bytes> = None;
    let mut joined: Vec<u8> = Vec::new();
    let mut len = 0usize;
    while let Some(frame) =
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_frame(cx)).await
    {
        // Trailers are dropped, as `to_bytes` drops them.
        let Ok(data) = frame.ok()?.into_data() else { continue };
        // `Limited` refuses the frame that takes the total over the limit.
        len += data.len();
        if len > BODY_BYTES_MAX {
            return None;
        }
        match whole.take() {
            None if joined.is_empty() => whole = Some(data),
            None => joined.extend_from_slice(&data),
            Some(first) => {
                joined.extend_from_slice(&first);
                joined.extend_from_slice(&data);
            }
        }
    }
    Some(whole.unwrap_or_else(|| joined.into()))
}

/// Runs ledger or database work off the async threads: it blocks until durable.
pub(crate) async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(f).await?
}

/// The whole body of a request, as `front` buffered it, kept in the request's extensions so
/// that [`Body`] takes it as it is: reading it again out of the request's `Body` (one frame,
/// through axum's limit and collector) cost ≈ 1.5k instructions per order. The request's body
/// holds the same bytes; nothing between `front` and the handlers replaces it with others (the
/// idempotency layer rebuilds it from the very bytes it read).
#[derive(Clone)]
struct Buffered(axum::body::Bytes);

/// A JSON body whose refusal is reported in the API's error format.
///
/// It means exactly what axum's `Json` extractor means, but is cheaper on the common path.
/// `Json` parses through `serde_path_to_error`, which tracks the path to every value (and copies
/// every key) so that a refusal can name the field: on the order-entry path that cost ≈ 5.9k
/// instructions per order, more than the rest of the handler. A body sent as plain
/// `application/json` is parsed here with `serde_json` alone; when that fails, or for any other
/// content type, the same bytes go through `Json` after all, so every refusal (status and text)
/// is axum's own. Whatever `serde_json` accepts `Json` accepts too, as the same value: it runs
/// the same deserializer under a wrapper that only records the path, and then also requires
/// nothing but white space after the value, as `serde_json::from_slice` does.
struct Body<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        json_body(req, state, |_| None).await.map(Body)
    }
}

/// [`Body`] for `POST /v1/orders`: a plain `application/json` body is first offered to the
/// hand-written parser (`order_body::parse`: ≈ 1.75k instructions for the bench's order against
/// ≈ 3.7k in `serde_json`), which takes only the common shape and returns `None` for anything
/// else; on `None`, `Body`'s own path runs on the same bytes. So any value it gives is
/// `serde_json`'s and every refusal is axum's, exactly as before.
struct OrderBody(PlaceOrderRequest);

impl<S: Send + Sync> FromRequest<S> for OrderBody {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        json_body(req, state, order_body::parse).await.map(OrderBody)
    }
}

/// What [`Body`] means, with `fast` tried first on the bytes of a plain `application/json`
/// body: it must return either `None` or the value `serde_json` would give.
async fn json_body<S: Send + Sync, T: DeserializeOwned>(
    req: Request,
    state: &S,
    fast: impl FnOnce(&[u8]) -> Option<T>,
) -> Result<T, ApiError> {
    let plain_json = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == b"application/json");
    if !plain_json {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        return Ok(value);
    }
    let bytes = match req.extensions().get::<Buffered>() {
        Some(Buffered(bytes)) => bytes.clone(),
        None => axum::body::Bytes::from_request(req, state)
            .await
            .map_err(axum::extract::rejection::JsonRejection::from)?,
    };
    if let Some(value) = fast(&bytes) {
        return Ok(value);
    }
    match serde_json::from_slice(&bytes) {
        Ok(value) => Ok(value),
        Err(_) => {
            let Json(value) = Json::<T>::from_bytes(&bytes)?;
            Ok(value)
        }
    }
}

/// The authenticated user: who they are and which organization (and so role) they act as.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// Shared with the token cache: every authenticated request clones its caller once or twice
    /// (cache, extractor), and a reference count is cheaper than copying the name each time.
    pub(crate) username: Arc<str>,
    pub(crate) org: OrgId,
    pub(crate) role: Role,
}

/// Checks the bearer token of a request — a session token or an API key: 401 when it is
/// missing, malformed, unknown, expired or revoked; 429 when the token is over its rate limit.
pub(crate) async fn authenticate_request(
    app: &Shared,
    headers: &axum::http::HeaderMap,
) -> Result<Caller, ApiError> {
    match authenticate_request_cached(app, headers)? {
        Known::Caller(caller) => Ok(caller),
        Known::Unknown(lookup) => lookup.run(app.clone()).await,
    }
}

/// The synchronous part of `authenticate_request` (see `authenticate_cached`).
pub(crate) fn authenticate_request_cached(
    app: &Shared,
    headers: &axum::http::HeaderMap,
) -> Result<Known, ApiError> {
    if !headers.contains_key(AUTHORIZATION) {
        return Err(ApiError::unauthenticated(
            "this route needs a bearer token (POST /v1/sessions) or an API key",
        ));
    }
    let token = bearer_token_str(headers)
        .ok_or_else(|| ApiError::unauthenticated("expected `Authorization: Bearer TOKEN`"))?;
    authenticate_cached(app, token)
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, app: &Shared) -> Result<Self, ApiError> {
        // The route's access layer has authenticated the caller already.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        authenticate_request(app, &parts.headers).await
    }
}

/// The caller on a public route that shows more to an authenticated one; `None` for anonymous.
pub(crate) struct MaybeCaller(Option<Caller>);

impl FromRequestParts<Shared> for MaybeCaller {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &Shared) -> Result<Self, ApiError> {
        Ok(MaybeCaller(parts.extensions.get::<Caller>().cloned()))
    }
}

/// Resolves a session token or API key to its caller, after taking one request from the token's
/// rate-limit bucket (429 when it is empty).
pub(crate) async fn authenticate(app: &Shared, token: &str) -> Result<Caller, ApiError> {
    match authenticate_cached(app, token)? {
        Known::Caller(caller) => Ok(caller),
        Known::Unknown(lookup) => lookup.run(app.clone()).await,
    }
}

/// What the token cache knows of a token whose rate-limit request has been taken.
pub(crate) enum Known {
    Caller(Caller),
    /// Not cached: the token must be looked up in the user store.
    Unknown(Lookup),
}

/// A token to look up in the user store (a blocking read), with its hash for the cache.
pub(crate) struct Lookup {
    token: String,
    hash: [u8; 32],
}

/// The synchronous part of `authenticate`: takes one request from the token's rate-limit
/// bucket and answers from the token cache when it can. Almost every request ends here, so the
/// route guard (`table::Guarded`) needs no future of its own for them.
pub(crate) fn authenticate_cached(app: &Shared, token: &str) -> Result<Known, ApiError> {
    let hash = auth::token_hash(token);
    let now = std::time::Instant::now();
    app.limits.take(&hash, now).map_err(ApiError::rate_limited)?;
    Ok(match app.caches.caller(&hash, now) {
        Some(c) => Known::Caller(Caller { username: c.username, org: c.org, role: c.role }),
        None => Known::Unknown(Lookup { token: token.to_owned(), hash }),
    })
}

impl Lookup {
    /// Reads the token's user and organization off the async threads and caches the caller.
    pub(crate) async fn run(self, app: Shared) -> Result<Caller, ApiError> {
        let Lookup { token, hash } = self;
        blocking(move || {
            let user =
                app.users.user_for_token(&token, now_ms()).map_err(storage)?.ok_or_else(|| {
                    ApiError::unauthenticated("the token is invalid, expired or revoked")
                })?;
            let org = user.org;
            let role =
                app.ledger()?.query(move |s| s.organization(org).map(|o| o.role))?.ok_or_else(
                    || ApiError::internal(format!("user {} has no organization", user.username)),
                )?;
            let username: Arc<str> = user.username.into();
            app.caches.remember(hash, username.clone(), org, role);
            Ok(Caller { username, org, role })
        })
        .await
    }
}

impl Caller {
    /// Operators and auditors read every organization's data; the others their own.
    fn sees_all(&self) -> bool {
        matches!(self.role, Role::Operator | Role::Auditor)
    }

    /// An account's data may be read by its owner, the operator and the auditor. Refused with
    /// the engine's `unauthorized` (403): the route allows the role, the object is not its own.
    fn may_read(&self, s: &rasid_core::State, account: AccountId) -> Result<(), ApiError> {
        let acc = s.account(account).ok_or(Rejection::UnknownAccount)?;
        if self.sees_all() || acc.org == self.org {
            Ok(())
        } else {
            Err(Rejection::Unauthorized.into())
        }
    }
}

/// The token of an `Authorization: Bearer TOKEN` header.
pub(crate) fn bearer_token(headers: &axum::http::HeaderMap) -> Option<String> {
    bearer_token_str(headers).map(str::to_owned)
}

/// As [`bearer_token`], borrowed from the headers: authenticating a request whose caller is
/// cached then copies nothing.
fn bearer_token_str(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

pub(crate) fn storage(e: AuthError) -> ApiError {
    match e {
        AuthError::Exists => {
            ApiError::new(StatusCode::CONFLICT, "user_exists", "this username is taken")
        }
        AuthError::Storage(m) => ApiError::internal(m),
    }
}

/// Submits one command as `actor`; answers once it is durable, with its events.
fn submit(app: &App, actor: OrgId, command: Command) -> Result<Value, ApiError> {
    let committed = app.ledger()?.submit(actor, command)?;
    // Durable now: as in `reply_directory`, the reply must not fail for want of the directory.
    let directory =
        app.instruments().unwrap_or_else(|_| app.caches.last_directory().unwrap_or_default());
    Ok(committed_json(&committed, &directory))
}

/// As [`submit`], awaited on the async runtime: no thread waits while the command becomes
/// durable.
pub(crate) async fn submit_async(
    app: &Shared,
    actor: OrgId,
    command: Command,
) -> Result<Value, ApiError> {
    let committed = app.submit_async(actor, command).await?;
    let directory = reply_directory(app).await;
    Ok(committed_json(&committed, &directory))
}

/// The instrument directory a committed command's reply is rendered with. The command is
/// durable by now, so an error here would answer a command that took effect with a failure —
/// and a 5xx releases its idempotency key, so a retry would run it again. When the ledger
/// cannot be asked (closing, stepping down), the last directory built serves: an instrument's
/// currency never changes once listed.
async fn reply_directory(app: &Shared) -> Arc<crate::cache::Directory> {
    match app.instruments_async().await {
        Ok(directory) => directory,
        Err(_) => app.caches.last_directory().unwrap_or_default(),
    }
}

/// As [`submit_async`], answered `201 Created` with the reply written straight to bytes
/// (`render::CommittedView`): the order-entry path, where building a `Value` first was the
/// largest cost of a request.
pub(crate) async fn submit_created(
    app: &Shared,
    actor: OrgId,
    command: Command,
) -> Result<axum::response::Response, ApiError> {
    let committed = app.submit_async(actor, command).await?;
    let directory = reply_directory(app).await;
    let currency = |i: InstrumentId| directory.currency(i).unwrap_or(Currency::Sar);
    let view = crate::render::CommittedView {
        seq: committed.seq,
        time_ms: committed.time_ms,
        events: &committed.events,
        currency: &currency,
    };
    Ok(created_json(view.to_json()))
}

/// A `201 Created` answer with a JSON body already serialized: the response
/// `(StatusCode::CREATED, [(CONTENT_TYPE, "application/json")], body).into_response()` builds,
/// built directly. That one first labels the bytes `application/octet-stream` and then replaces
/// the label, two header insertions where one does.
fn created_json(body: Vec<u8>) -> axum::response::Response {
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    *response.status_mut() = StatusCode::CREATED;
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    response
}

/// A committed command's reply: its sequence number, time and events. Prices in exchange
/// events are shown in their instrument's currency.
fn committed_json(committed: &Committed, directory: &crate::cache::Directory) -> Value {
    let currency = |i: InstrumentId| directory.currency(i).unwrap_or(Currency::Sar);
    let events: Vec<Value> = committed.events.iter().map(|e| event_json(e, &currency)).collect();
    json!({ "seq": committed.seq, "time": rfc3339(committed.time_ms), "events": events })
}

fn created(doc: Value) -> (StatusCode, Json<Value>) {
    (StatusCode::CREATED, Json(doc))
}

fn parse_id<T: std::str::FromStr>(raw: &str, what: &'static str) -> Result<T, ApiError> {
    raw.parse()
        .map_err(|_| ApiError::bad_request("invalid_id", format!("{raw:?} is not a {what} id")))
}

async fn health(State(app): State<Shared>) -> Reply {
    let ledger = app.ledger()?;
    let (seq, _) = ledger.head();
    let (role, term) = ledger.role_name();
    Ok((StatusCode::OK, Json(json!({ "status": "ok", "seq": seq, "role": role, "term": term }))))
}

/// The OpenAPI 3.1 document, built from the route table.
async fn openapi() -> Json<Value> {
    Json(crate::openapi::document())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginRequest {
    username: String,
    password: String,
}

async fn login(State(app): State<Shared>, Body(req): Body<LoginRequest>) -> Reply {
    if req.password.len() > auth::PASSWORD_LEN_MAX || req.username.len() > auth::USERNAME_LEN_MAX {
        return Err(ApiError::unauthenticated("wrong username or password"));
    }
    let token =
        blocking(move || app.users.login(&req.username, &req.password, now_ms()).map_err(storage))
            .await?
            .ok_or_else(|| ApiError::unauthenticated("wrong username or password"))?;
    Ok(created(
        json!({ "token": token, "token_type": "Bearer", "expires_in_s": auth::SESSION_TTL_MS / 1000 }),
    ))
}

/// Ends the session whose token authenticates this request.
async fn logout(
    State(app): State<Shared>,
    _caller: Caller,
    headers: axum::http::HeaderMap,
) -> Reply {
    let token = bearer_token(&headers).ok_or_else(|| ApiError::unauthenticated("no token"))?;
    blocking(move || {
        app.users.end_session(&token).map_err(storage)?;
        app.caches.forget(&auth::token_hash(&token));
        Ok((StatusCode::OK, Json(json!({ "ended": true }))))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    username: String,
    password: String,
    organization: u64,
}

async fn create_user(State(app): State<Shared>, _: Caller, Body(req): Body<NewUser>) -> Reply {
    if !auth::valid_username(&req.username) {
        return Err(ApiError::bad_request(
            "invalid_username",
            "a username has 1–64 characters: a–z, 0–9, '.', '_' or '-'",
        ));
    }
    if !(auth::PASSWORD_LEN_MIN..=auth::PASSWORD_LEN_MAX).contains(&req.password.len()) {
        return Err(ApiError::bad_request(
            "invalid_password",
            format!("a password has {}–{} bytes", auth::PASSWORD_LEN_MIN, auth::PASSWORD_LEN_MAX),
        ));
    }
    blocking(move || {
        let org = OrgId(req.organization);
        let role = app.ledger()?.query(move |s| s.organization(org).map(|o| o.role))?;
        let role = role.ok_or(Rejection::UnknownOrganization)?;
        app.users.create(&req.username, &req.password, org, now_ms()).map_err(storage)?;
        Ok(created(
            json!({ "username": req.username, "organization": org.0, "role": role.as_str() }),
        ))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOrganization {
    name: String,
    role: String,
}

async fn create_organization(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<NewOrganization>,
) -> Reply {
    let role: Role =
        req.role.parse().map_err(|m: String| ApiError::bad_request("invalid_role", m))?;
    let command = Command::CreateOrganization { name: req.name, role };
    submit_async(&app, caller.org, command).await.map(created)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    organization: u64,
    name: String,
}

async fn open_account(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<NewAccount>,
) -> Reply {
    let command = Command::OpenAccount { org: OrgId(req.organization), name: req.name };
    submit_async(&app, caller.org, command).await.map(created)
}

async fn holdings(State(app): State<Shared>, caller: Caller, Path(id): Path<String>) -> Reply {
    let account: AccountId = parse_id(&id, "account")?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            caller.may_read(s, account)?;
            let acc = s.account(account).ok_or(Rejection::UnknownAccount)?;
            let mut reserved = s.reserved_serials_of_account(account);
            let rows: Vec<Value> = s
                .holdings_of(account)
                .filter_map(|(issuance, h)| {
                    let iss = s.issuance(issuance)?;
                    let project = s.project(iss.project)?;
                    let reserved = reserved.remove(&issuance).unwrap_or_default();
                    Some(json!({
                        "issuance": issuance.0, "project": project.info.external_id, "vintage": iss.vintage_year,
                        "available_tonnes": h.available.quantity_tonnes(), "reserved_tonnes": h.reserved_tonnes,
                        "available": ranges_json(h.available.ranges()), "reserved": ranges_json(reserved.ranges()),
                    }))
                })
                .collect();
            let cash: Vec<Value> = s
                .balances_of(account)
                .map(|(c, b)| json!({
                    "currency": c.code(),
                    "available": format_minor(i128::from(b.available_minor), c),
                    "reserved": format_minor(i128::from(b.reserved_minor), c),
                }))
                .collect();
            Ok::<_, ApiError>(json!({ "account": account.0, "org": acc.org.0, "holdings": rows, "cash": cash }))
        })??;
        Ok((StatusCode::OK, Json(doc)))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeBody {
    first: u64,
    last: u64,
}

/// Exactly one of a quantity (lowest serials first) or explicit serial ranges.
fn selection(quantity: Option<u64>, ranges: Option<Vec<RangeBody>>) -> Result<Selection, ApiError> {
    match (quantity, ranges) {
        (Some(q), None) => Ok(Selection::Quantity(q)),
        (None, Some(rs)) => rs
            .into_iter()
            .map(|r| {
                SerialRange::new(r.first, r.last).ok_or(ApiError::from(Rejection::InvalidRange))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Selection::Ranges),
        _ => Err(ApiError::bad_request(
            "invalid_selection",
            "give exactly one of \"quantity\" and \"ranges\"",
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferRequest {
    from: u64,
    to: u64,
    issuance: u64,
    quantity: Option<u64>,
    ranges: Option<Vec<RangeBody>>,
}

async fn transfer(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<TransferRequest>,
) -> Reply {
    let command = Command::Transfer {
        from: AccountId(req.from),
        to: AccountId(req.to),
        issuance: IssuanceId(req.issuance),
        selection: selection(req.quantity, req.ranges)?,
    };
    submit_async(&app, caller.org, command).await.map(created)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetireRequest {
    account: u64,
    issuance: u64,
    quantity: Option<u64>,
    ranges: Option<Vec<RangeBody>>,
    beneficiary: String,
    purpose: String,
    #[serde(default)]
    using_entity: String,
    #[serde(default)]
    note: String,
}

async fn retire(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<RetireRequest>,
) -> Reply {
    let purpose: Purpose =
        req.purpose.parse().map_err(|m: String| ApiError::bad_request("invalid_purpose", m))?;
    let command = Command::Retire {
        account: AccountId(req.account),
        issuance: IssuanceId(req.issuance),
        selection: selection(req.quantity, req.ranges)?,
        details: Box::new(RetirementDetails {
            beneficiary: req.beneficiary,
            purpose,
            using_entity: req.using_entity,
            note: req.note,
        }),
    };
    submit_async(&app, caller.org, command).await.map(created)
}

/// Public: a retirement is a public claim anyone may check.
async fn retirement(State(app): State<Shared>, Path(id): Path<String>) -> Reply {
    let id: RetirementId = parse_id(&id, "retirement")?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| s.retirement(id).map(|r| retirement_json(s, r)))?;
        Ok((StatusCode::OK, Json(doc.ok_or(Rejection::UnknownRetirement)?)))
    })
    .await
}

/// Where a serial is: a Rasid serial number, or another registry's serial string (Cercarbono's
/// with `?from=&to=`). Public, like the registry it reads.
async fn serial(
    State(app): State<Shared>,
    Path(text): Path<String>,
    Query(range): Query<UnitBounds>,
) -> Reply {
    use crate::serial_lookup::{LookupError, find, target};
    let lookup_error = |e: LookupError| match e {
        LookupError::Invalid(code, message) => ApiError::bad_request(code, message),
        LookupError::NotFound(message) => ApiError::not_found("not_found", message),
    };
    if let Ok(number) = text.parse::<u64>() {
        return blocking(move || {
            let doc = app.ledger()?.query(move |s| locate_json(s, number))?;
            Ok((StatusCode::OK, Json(doc)))
        })
        .await;
    }
    let bounds = range.from.zip(range.to);
    let target = target(&text, bounds).map_err(lookup_error)?;
    blocking(move || {
        let found = app.ledger()?.query(move |s| find(s, &text, &target).map(|(_, doc)| doc))?;
        Ok((StatusCode::OK, Json(found.map_err(lookup_error)?)))
    })
    .await
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UnitBounds {
    from: Option<String>,
    to: Option<String>,
}

/// A Rasid serial number's place: not issued, held, retired or cancelled.
fn locate_json(s: &rasid_core::State, serial: u64) -> Value {
    use rasid_core::SerialLocation;
    match s.locate_serial(serial) {
        SerialLocation::NotIssued => json!({ "serial": serial, "status": "not_issued" }),
        SerialLocation::Held { issuance, account, reserved } => json!({
            "serial": serial, "status": "held", "issuance": issuance.0, "account": account.0, "reserved": reserved,
        }),
        SerialLocation::Retired { issuance, retirement } => json!({
            "serial": serial, "status": "retired", "issuance": issuance.0, "retirement": retirement.0,
            "beneficiary": s.retirement(retirement).map(|r| r.details.beneficiary.clone()),
        }),
        SerialLocation::Cancelled { issuance, cancellation } => json!({
            "serial": serial, "status": "cancelled", "issuance": issuance.0, "cancellation": cancellation.0,
        }),
    }
}

/// Public: the listed instruments and their state.
async fn markets(State(app): State<Shared>, params: Params) -> Reply {
    params.allow(&["cursor", "limit"])?;
    let page = params.page()?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            page.collect(s.instruments().map(|i| {
                let c = i.spec.currency;
                let row = json!({
                    "id": i.id.0, "symbol": i.spec.symbol, "currency": c.code(),
                    "status": i.status.as_str(),
                    "reference_price": format_minor(i128::from(i.spec.reference_price_minor), c),
                });
                (i.id.0, row)
            }))
        })?;
        Ok((StatusCode::OK, Json(doc)))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BookQuery {
    levels: Option<usize>,
}

/// Public: aggregated depth per price level (no order ids, no owners).
async fn book(
    State(app): State<Shared>,
    Path(instrument): Path<String>,
    query: Result<Query<BookQuery>, axum::extract::rejection::QueryRejection>,
) -> Reply {
    let Query(q) = query.map_err(|e| ApiError::bad_request("malformed_request", e.body_text()))?;
    let levels = q.levels.unwrap_or(20).min(BOOK_LEVELS_MAX);
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            let inst = resolve(s, &instrument)?;
            let book = s.book(inst.id)?;
            let c = inst.spec.currency;
            let side = |side| -> Vec<Value> {
                book.depth(side, levels)
                    .into_iter()
                    .map(|(p, q, n)| json!({ "price": format_minor(i128::from(p), c), "quantity": q, "orders": n }))
                    .collect()
            };
            Some(json!({
                "instrument": inst.id.0, "symbol": inst.spec.symbol, "currency": c.code(),
                "bids": side(Side::Buy), "asks": side(Side::Sell),
            }))
        })?;
        Ok((StatusCode::OK, Json(doc.ok_or(Rejection::UnknownInstrument)?)))
    })
    .await
}

/// An instrument by id (`3`, `ins3`) or symbol.
pub(crate) fn resolve<'s>(
    s: &'s rasid_core::State,
    reference: &str,
) -> Option<&'s rasid_core::exchange::Instrument> {
    let by_id = reference.parse::<InstrumentId>().ok().and_then(|id| s.instrument(id));
    by_id.or_else(|| s.instrument_by_symbol(reference))
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
#[serde(deny_unknown_fields)]
struct PlaceOrderRequest {
    /// Id or symbol.
    instrument: String,
    account: u64,
    side: String,
    quantity: u64,
    /// A decimal string in the instrument's currency; absent for a market order.
    price: Option<String>,
    time_in_force: Option<String>,
    #[serde(default)]
    post_only: bool,
    client_order_id: Option<String>,
    self_trade: Option<String>,
    /// For `time_in_force: "gtd"`: RFC 3339 UTC.
    expires_at: Option<String>,
    /// Buy and retire: what the order receives is retired for this beneficiary at once.
    retire: Option<RetireFor>,
}

#[derive(Deserialize)]
#[cfg_attr(test, derive(Debug, PartialEq))]
#[serde(deny_unknown_fields)]
struct RetireFor {
    beneficiary: String,
    purpose: String,
    #[serde(default)]
    using_entity: String,
    #[serde(default)]
    note: String,
}

async fn place_order(
    State(app): State<Shared>,
    caller: Caller,
    OrderBody(mut req): OrderBody,
) -> Result<axum::response::Response, ApiError> {
    let side: Side =
        req.side.parse().map_err(|m: String| ApiError::bad_request("invalid_side", m))?;
    let time_in_force = match req.time_in_force.as_deref().unwrap_or(if req.price.is_some() {
        "gtc"
    } else {
        "ioc"
    }) {
        "gtc" => TimeInForce::Gtc,
        "day" => TimeInForce::Day,
        "ioc" => TimeInForce::Ioc,
        "fok" => TimeInForce::Fok,
        "gtd" => {
            let at = req.expires_at.as_deref().ok_or_else(|| {
                ApiError::bad_request("invalid_time_in_force", "gtd needs \"expires_at\"")
            })?;
            let expires_at_ms = rasid_core::time::parse_rfc3339(at)
                .map_err(|m| ApiError::bad_request("invalid_time", m))?;
            TimeInForce::Gtd { expires_at_ms }
        }
        other => {
            return Err(ApiError::bad_request(
                "invalid_time_in_force",
                format!("{other:?}: expected gtc, day, gtd, ioc or fok"),
            ));
        }
    };
    if req.expires_at.is_some() && !matches!(time_in_force, TimeInForce::Gtd { .. }) {
        return Err(ApiError::bad_request(
            "invalid_time_in_force",
            "\"expires_at\" goes with time_in_force \"gtd\" only",
        ));
    }
    let retire = match req.retire.take() {
        None => None,
        Some(r) => Some(RetirementDetails {
            beneficiary: r.beneficiary,
            purpose: r
                .purpose
                .parse()
                .map_err(|m: String| ApiError::bad_request("invalid_purpose", m))?,
            using_entity: r.using_entity,
            note: r.note,
        }),
    };
    let self_trade = match req.self_trade.as_deref().unwrap_or("cancel_incoming") {
        "cancel_resting" => SelfTradePrevention::CancelResting,
        "cancel_incoming" => SelfTradePrevention::CancelIncoming,
        "cancel_both" => SelfTradePrevention::CancelBoth,
        other => {
            return Err(ApiError::bad_request(
                "invalid_self_trade",
                format!("{other:?}: expected cancel_resting, cancel_incoming or cancel_both"),
            ));
        }
    };
    let inst = app.instruments_async().await?.resolve(&req.instrument);
    let inst = inst.ok_or(Rejection::UnknownInstrument)?;
    let order_type = match &req.price {
        Some(p) => OrderType::Limit {
            price_minor: parse_minor(p, inst.1)
                .map_err(|m| ApiError::bad_request("invalid_price", m))?,
        },
        None => OrderType::Market,
    };
    let order = OrderRequest {
        instrument: inst.0,
        account: AccountId(req.account),
        side,
        order_type,
        quantity_tonnes: req.quantity,
        time_in_force,
        post_only: req.post_only,
        client_order_id: req.client_order_id,
        self_trade,
        retire: retire.map(Box::new),
    };
    submit_created(&app, caller.org, Command::PlaceOrder { order }).await
}

async fn cancel_order(State(app): State<Shared>, caller: Caller, Path(id): Path<String>) -> Reply {
    let order: OrderId = parse_id(&id, "order")?;
    blocking(move || {
        // Another organization's order is reported as unknown, so ids reveal nothing.
        let owner = app.ledger()?.query(move |s| s.order(order).map(|o| o.org))?;
        match owner {
            Some(org) if org == caller.org || caller.role == Role::Operator => {}
            _ => return Err(Rejection::UnknownOrder.into()),
        }
        submit(&app, caller.org, Command::CancelOrder { order }).map(|d| (StatusCode::OK, Json(d)))
    })
    .await
}

async fn list_orders(State(app): State<Shared>, caller: Caller, params: Params) -> Reply {
    params.allow(&["account", "cursor", "limit"])?;
    let account: AccountId = parse_id(params.need("account")?, "account")?;
    let page = params.page()?;
    blocking(move || {
        let doc = app.ledger()?.query(move |s| {
            caller.may_read(s, account)?;
            Ok::<_, ApiError>(
                page.collect(s.orders_of(account).map(|o| (o.id.0, order_json(s, o)))),
            )
        })??;
        Ok((StatusCode::OK, Json(doc)))
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewApiKey {
    name: String,
}

fn api_key_json(k: &auth::ApiKey) -> Value {
    json!({
        "id": k.id, "name": k.name, "prefix": k.prefix, "created": rfc3339(k.created_ms),
        "revoked": k.revoked_ms.map(rfc3339),
    })
}

/// Creates an API key for the caller; its secret is in this reply and nowhere else, ever.
async fn create_api_key(
    State(app): State<Shared>,
    caller: Caller,
    Body(req): Body<NewApiKey>,
) -> Reply {
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.len() > auth::API_KEY_NAME_LEN_MAX {
        return Err(ApiError::bad_request(
            "invalid_name",
            format!("a key name has 1–{} bytes", auth::API_KEY_NAME_LEN_MAX),
        ));
    }
    blocking(move || {
        let (key, secret) = app
            .users
            .create_api_key(&caller.username, &name, now_ms())
            .map_err(storage)?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::CONFLICT,
                    "too_many_api_keys",
                    format!(
                        "a user holds at most {} live keys; revoke one",
                        auth::API_KEYS_PER_USER_MAX
                    ),
                )
            })?;
        let mut doc = api_key_json(&key);
        doc["secret"] = Value::String(secret);
        Ok(created(doc))
    })
    .await
}

/// The caller's own keys (never their secrets), revoked ones included.
async fn list_api_keys(State(app): State<Shared>, caller: Caller) -> Reply {
    blocking(move || {
        let keys = app.users.api_keys(&caller.username).map_err(storage)?;
        let items: Vec<Value> = keys.iter().map(api_key_json).collect();
        Ok((StatusCode::OK, Json(json!({ "items": items, "next_cursor": null }))))
    })
    .await
}

async fn revoke_api_key(
    State(app): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Reply {
    let id: u64 = parse_id(&id, "API key")?;
    blocking(move || {
        if !app.users.revoke_api_key(&caller.username, id, now_ms()).map_err(storage)? {
            return Err(ApiError::not_found(
                "unknown_api_key",
                "you hold no live API key with this id",
            ));
        }
        // Its hash is not known here, so every cached caller goes.
        app.caches.forget_all();
        Ok((StatusCode::OK, Json(json!({ "id": id, "revoked": true }))))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    /// What an extractor made of a body: the value, or the refusal's status and bytes.
    async fn outcome<T: std::fmt::Debug>(
        result: Result<T, ApiError>,
    ) -> Result<String, (StatusCode, axum::body::Bytes)> {
        match result {
            Ok(value) => Ok(format!("{value:?}")),
            Err(e) => {
                let response = e.into_response();
                let status = response.status();
                Err((status, axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap()))
            }
        }
    }

    /// What `Body` and axum's `Json` make of two copies of one request.
    async fn both<T: DeserializeOwned + std::fmt::Debug>(
        ours: Request,
        axums: Request,
    ) -> [Result<String, (StatusCode, axum::body::Bytes)>; 2] {
        let ours = Body::<T>::from_request(ours, &()).await.map(|Body(v)| v);
        let axums = Json::<T>::from_request(axums, &()).await.map(|Json(v)| v);
        [outcome(ours).await, outcome(axums.map_err(ApiError::from)).await]
    }

    /// `Body` (and `OrderBody`, with its fast path) answers every body and content type exactly
    /// as axum's `Json` does — the same value, or the same refusal byte for byte — whether its
    /// own parse takes it (plain `application/json` that `serde_json` accepts) or hands it to
    /// `Json`: valid orders, white space, trailing bytes, unknown, duplicate, missing and
    /// mistyped fields, escapes, bad UTF-8, other JSON content types and none.
    #[test]
    fn body_answers_as_axums_json_does() {
        let bodies: &[&[u8]] = &[
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"price":"10.00"}"#,
            br#"{"instrument":"ins1","account":3,"side":"sell","quantity":18446744073709551615,"price":null,"time_in_force":"gtd","expires_at":"2030-01-01T00:00:00Z","post_only":true,"client_order_id":"c-1","self_trade":"cancel_newest","retire":{"beneficiary":"B","purpose":"voluntary","note":"n"}}"#,
            b" \n{\"instrument\":\"BENCH\\u002d1\",\"account\":3,\"side\":\"b\\\"uy\",\"quantity\":1}\t ",
            br#"{"instrument":"\u0631\u0627\u0634\u062f","account":3,"side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1} x"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1}{}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"colour":"red"}"#,
            br#"{"instrument":"BENCH-1","account":3,"account":4,"side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":"3","side":"buy","quantity":1}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":-1}"#,
            br#"{"instrument":"BENCH-1","account":3,"side":"buy","quantity":1,"retire":{"purpose":"x"}}"#,
            b"{\"instrument\":\"BENCH\xff\",\"account\":3,\"side\":\"buy\",\"quantity\":1}",
            br#"{"instrument":"BENCH-1","account":3,"#,
            b"",
            b"null",
            b"[]",
        ];
        let content_types = [
            Some("application/json"),
            Some("application/json; charset=utf-8"),
            Some("application/cloudevents+json"),
            Some("text/json"),
            Some("text/plain"),
            None,
        ];
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for body in bodies {
            for content_type in content_types {
                // With the body buffered in the extensions, as `front` hands requests on, and
                // without.
                let request = |buffered: bool| {
                    let mut r = Request::new(axum::body::Body::from(body.to_vec()));
                    if buffered {
                        r.extensions_mut().insert(Buffered(axum::body::Bytes::from(body.to_vec())));
                    }
                    if let Some(t) = content_type {
                        r.headers_mut().insert(
                            axum::http::header::CONTENT_TYPE,
                            axum::http::HeaderValue::from_static(t),
                        );
                    }
                    r
                };
                runtime.block_on(async {
                    for buffered in [false, true] {
                        let [ours, axums] =
                            both::<PlaceOrderRequest>(request(buffered), request(false)).await;
                        assert_eq!(
                            ours,
                            axums,
                            "{content_type:?} {buffered} {}",
                            String::from_utf8_lossy(body)
                        );
                        let orders = OrderBody::from_request(request(buffered), &()).await;
                        let orders = outcome(orders.map(|OrderBody(v)| v)).await;
                        assert_eq!(orders, axums, "{content_type:?} {buffered}");
                        let [ours, axums] = both::<Value>(request(buffered), request(false)).await;
                        assert_eq!(ours, axums);
                    }
                });
            }
        }
    }

    /// `read_body` gives what `axum::body::to_bytes(body, BODY_BYTES_MAX)` gives — the same
    /// bytes, or a refusal — for bodies of one or many frames (empty ones too), at, under and
    /// over the limit, and for a body that fails part way.
    #[test]
    fn read_body_is_axums_to_bytes() {
        use axum::body::Bytes;
        let max = BODY_BYTES_MAX;
        let bodies: Vec<Vec<Result<Bytes, &str>>> = vec![
            vec![],
            vec![Ok(Bytes::new())],
            vec![Ok(Bytes::from_static(b"{}"))],
            vec![Ok(Bytes::new()), Ok(Bytes::from_static(b"ab")), Ok(Bytes::new())],
            vec![Ok(Bytes::from_static(b"ab")), Ok(Bytes::from_static(b"cd"))],
            vec![Ok(Bytes::from_static(b"a")), Ok(Bytes::new()), Ok(Bytes::from_static(b"b"))],
            vec![Ok(Bytes::from(vec![1; max]))],
            vec![Ok(Bytes::from(vec![1; max + 1]))],
            vec![Ok(Bytes::from(vec![1; max - 1])), Ok(Bytes::from_static(b"x"))],
            vec![Ok(Bytes::from(vec![1; max - 1])), Ok(Bytes::from_static(b"xy"))],
            vec![Ok(Bytes::from(vec![1; max])), Ok(Bytes::new())],
            vec![Ok(Bytes::from_static(b"ab")), Err("reset")],
            vec![Err("reset")],
        ];
        let body = |frames: &Vec<Result<Bytes, &'static str>>| {
            axum::body::Body::from_stream(futures_util::stream::iter(frames.clone()))
        };
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        for frames in &bodies {
            let (ours, axums) = runtime.block_on(async {
                (read_body(body(frames)).await, axum::body::to_bytes(body(frames), max).await.ok())
            });
            assert_eq!(ours, axums, "{:?}", frames.iter().map(|f| f.as_ref().map(Bytes::len)));
        }
    }

    /// `created_json` is the response the tuple of status, header and bytes makes.
    #[test]
    fn created_json_is_the_tuples_response() {
        let body = br#"{"events":[],"seq":1,"time":"2026-11-29T17:00:00.000Z"}"#.to_vec();
        let content_type = [(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("application/json"),
        )];
        let ours = created_json(body.clone());
        let tuples = (StatusCode::CREATED, content_type, body).into_response();
        assert_eq!(ours.status(), tuples.status());
        assert_eq!(ours.version(), tuples.version());
        assert_eq!(ours.headers(), tuples.headers());
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (ours, tuples) = runtime.block_on(async {
            let read = |r: axum::response::Response| async {
                axum::body::to_bytes(r.into_body(), usize::MAX).await.unwrap()
            };
            (read(ours).await, read(tuples).await)
        });
        assert_eq!(ours, tuples);
    }
}
