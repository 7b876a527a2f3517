//! Every route of the API against the real server (in-process, real HTTP, temporary SQLite):
//! the OpenAPI document against the router, the role × route matrix driven by the document's
//! `x-roles`, bad input that must change nothing (checked with the state digest), and the flows
//! of the registry, cash, exchange, baskets, auctions and certificates.

use rasid_core::exchange::{FeeSchedule, InstrumentSpec, Underlying};
use rasid_core::model::{Basis, Effect, Program, ProjectInfo, Role};
use rasid_core::{AccountId, Command, Currency, OrgId, ProjectId};
use rasid_server::{App, Options};
use rasid_store::{Config, DatabaseUrl, Ledger, open_journal, system_clock};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const OPERATOR_PASSWORD: &str = "operator-secret-1";
const PASSWORD: &str = "a-long-password";
const DEV_ORG: u64 = 3;
const DEV_ACC: u64 = 3;
/// An id no route knows.
const UNKNOWN: &str = "999999";

/// Genesis, a developer member holding 1,000 t of issuance 1, and instrument 1 (VCS1-2021).
fn seed(database: &DatabaseUrl) {
    let ledger =
        Ledger::open(open_journal(database).unwrap(), Config::default(), system_clock()).unwrap();
    let (op, reg) = (OrgId(1), OrgId(2));
    let genesis =
        Command::Genesis { operator_name: "Operator".into(), registrar_name: "Registry".into() };
    let info = ProjectInfo {
        country: "Saudi Arabia".into(),
        effect: Effect::Removal,
        basis: Basis::Nature,
        ..rasid_core::testing::project(Program::Vcs, "VCS1", "Mangroves", OrgId(DEV_ORG))
    };
    let spec = InstrumentSpec {
        symbol: "VCS1-2021".into(),
        underlying: Underlying::ProjectVintage { project: ProjectId(1), vintage_year: 2021 },
        currency: Currency::Sar,
        tick_minor: 5,
        lot_tonnes: 10,
        band_bps: 2_000,
        reference_price_minor: 3_750,
        fees: FeeSchedule { maker_bps: 10, taker_bps: 20, min_fee_minor: 100 },
    };
    let issue = Command::Issue {
        project: ProjectId(1),
        vintage_year: 2021,
        quantity_tonnes: 1_000,
        buffer_tonnes: 0,
        to_account: AccountId(DEV_ACC),
        first_serial: None,
        external_ref: None,
    };
    let commands = vec![
        (OrgId(0), genesis),
        (op, Command::CreateOrganization { name: "Dev Co".into(), role: Role::Member }),
        (op, Command::OpenAccount { org: OrgId(DEV_ORG), name: "main".into() }),
        (reg, Command::RegisterProject { info: Box::new(info) }),
        (reg, issue),
        (op, Command::ListInstrument { spec }),
    ];
    for outcome in ledger.submit_batch(commands).unwrap() {
        outcome.unwrap();
    }
    ledger.close().unwrap();
}

struct Reply {
    status: u16,
    text: String,
    content_type: String,
    replayed: bool,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error document: {}", self.text))
            .to_owned()
    }
}

struct Server {
    base: String,
    app: Arc<App>,
    database: DatabaseUrl,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
    http: ureq::Agent,
    /// The temporary directory or PostgreSQL schema the database lives in, dropped last.
    _keep: Box<dyn std::any::Any>,
}

impl Server {
    /// On a temporary SQLite file.
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
        Self::start_on(database, Box::new(dir))
    }

    fn start_on(database: DatabaseUrl, keep: Box<dyn std::any::Any>) -> Self {
        seed(&database);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let options = Options {
            database: database.clone(),
            snapshot_interval: 1_000_000,
            bootstrap_operator_password: Some(OPERATOR_PASSWORD.into()),
            demo_users: Vec::new(),
            ha: rasid_server::HaOptions::default(),
        };
        let app = Arc::new(App::open(&options).unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = app.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                rasid_server::serve_shared(listener, shared, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        let http: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let server =
            Self { base, app, database, stop: Some(stop), thread: Some(thread), http, _keep: keep };
        let deadline = Instant::now() + Duration::from_secs(30);
        while server.request("GET", "/v1/health", None, None, None).map(|r| r.status).ok()
            != Some(200)
        {
            assert!(Instant::now() < deadline, "the server did not become healthy in 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Result<Reply, ureq::Error> {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        macro_rules! headers {
            ($r:expr) => {{
                let mut r = $r;
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                if let Some(k) = idempotency_key {
                    r = r.header("Idempotency-Key", k);
                }
                r
            }};
        }
        let body = body.unwrap_or("");
        let mut response = match method {
            "GET" => headers!(self.http.get(&url)).call(),
            "DELETE" => headers!(self.http.delete(&url)).call(),
            "POST" => {
                headers!(self.http.post(&url).header("Content-Type", "application/json")).send(body)
            }
            "PUT" => {
                headers!(self.http.put(&url).header("Content-Type", "application/json")).send(body)
            }
            "PATCH" => headers!(self.http.patch(&url).header("Content-Type", "application/json"))
                .send(body),
            other => panic!("unsupported method {other}"),
        }?;
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let replayed = response.headers().get("idempotent-replayed").is_some();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string()?;
        Ok(Reply { status, text, content_type, replayed })
    }

    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Reply {
        let body = body.map(Value::to_string);
        self.request(method, path, token, body.as_deref(), None)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    fn get(&self, path: &str, token: Option<&str>) -> Value {
        let r = self.call("GET", path, token, None);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text);
        r.json()
    }

    /// A command that must succeed; its reply document.
    fn ok(&self, method: &str, path: &str, token: &str, body: Value) -> Value {
        let r = self.call(method, path, Some(token), Some(&body));
        assert!(matches!(r.status, 200 | 201), "{method} {path} {body}: {} {}", r.status, r.text);
        r.json()
    }

    fn login(&self, username: &str, password: &str) -> String {
        let body = json!({ "username": username, "password": password });
        let r = self.call("POST", "/v1/sessions", None, Some(&body));
        assert_eq!(r.status, 201, "{}", r.text);
        r.json()["token"].as_str().unwrap().to_owned()
    }

    fn digest(&self) -> [u8; 32] {
        self.app.state_digest().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Tokens of one user per role, the buyer member's org and account.
struct World {
    op: String,
    registrar: String,
    dev: String,
    buyer: String,
    auditor: String,
    buyer_org: u64,
    buyer_acc: u64,
}

fn first_event(doc: &Value, key: &str) -> u64 {
    doc["events"][0][key].as_u64().unwrap_or_else(|| panic!("no events[0].{key}: {doc}"))
}

fn setup(s: &Server) -> World {
    let op = s.login("operator", OPERATOR_PASSWORD);
    let org = |name: &str, role: &str| {
        first_event(
            &s.ok("POST", "/v1/organizations", &op, json!({ "name": name, "role": role })),
            "org",
        )
    };
    let buyer_org = org("Buyer Co", "member");
    let audit_org = org("Audit Co", "auditor");
    let buyer_acc = first_event(
        &s.ok("POST", "/v1/accounts", &op, json!({ "organization": buyer_org, "name": "main" })),
        "account",
    );
    for (username, org) in
        [("registrar", 2), ("dev", DEV_ORG), ("buyer", buyer_org), ("auditor", audit_org)]
    {
        s.ok(
            "POST",
            "/v1/users",
            &op,
            json!({ "username": username, "password": PASSWORD, "organization": org }),
        );
    }
    World {
        registrar: s.login("registrar", PASSWORD),
        dev: s.login("dev", PASSWORD),
        buyer: s.login("buyer", PASSWORD),
        auditor: s.login("auditor", PASSWORD),
        op,
        buyer_org,
        buyer_acc,
    }
}

/// Every `.route("…")` literal in the server's sources: routes added outside the table (say by
/// a merge) must still be in the document.
fn literal_routes() -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let mut rest = text.as_str();
                while let Some(i) = rest.find(".route(\"") {
                    rest = &rest[i + 8..];
                    let end = rest.find('"').unwrap();
                    found.push(rest[..end].to_owned());
                }
            }
        }
    }
    found
}

#[test]
fn the_openapi_document_lists_every_route_and_is_structurally_valid() {
    let s = Server::start();
    let r = s.call("GET", "/v1/openapi.json", None, None);
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().unwrap();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    let mut operations = 0;
    for (path, item) in paths {
        assert!(path.starts_with('/'), "{path}");
        for (method, op) in item.as_object().unwrap() {
            assert!(
                ["get", "post", "put", "patch", "delete"].contains(&method.as_str()),
                "{method}"
            );
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            let success = if path == "/v1/ws" { "101" } else { "2" };
            assert!(
                responses.keys().any(|k| k.starts_with(success)),
                "{method} {path}: no success"
            );
            assert!(op["x-roles"].as_array().is_some_and(|r| !r.is_empty()), "{method} {path}");
            assert!(op["description"].as_str().unwrap().contains('.'));
            // Every path parameter is declared, and every $ref resolves.
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(['{', '}']);
                assert!(
                    op["parameters"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|p| p["name"] == name && p["in"] == "path"),
                    "{method} {path}: parameter {name}"
                );
            }
            let text = op.to_string();
            for piece in text.split("#/components/schemas/").skip(1) {
                let name = &piece[..piece.find('"').unwrap()];
                assert!(schemas.contains_key(name), "{method} {path}: schema {name} missing");
            }
        }
    }
    assert!(operations >= 60, "only {operations} operations");
    // Every list without required parameters pages: `{"items":[…],"next_cursor"}`, at most
    // `limit` items, and a cursor that leads on.
    let op = s.login("operator", OPERATOR_PASSWORD);
    let mut lists = 0;
    for (path, item) in paths {
        let Some(get) = item.get("get") else { continue };
        let params = get["parameters"].as_array().unwrap();
        let pages = params.iter().any(|p| p["name"] == "cursor");
        if !pages || path.contains('{') || path == "/v1/orders" {
            continue;
        }
        let page = s.get(&format!("{path}?limit=1"), Some(&op));
        let items = page["items"].as_array().unwrap_or_else(|| panic!("{path}: {page}"));
        assert!(items.len() <= 1, "{path}: {page}");
        assert!(page.get("next_cursor").is_some(), "{path}: {page}");
        if let Some(cursor) = page["next_cursor"].as_str() {
            let next = s.get(&format!("{path}?limit=1&cursor={cursor}"), Some(&op));
            assert_ne!(next["items"][0], items[0], "{path}: the cursor did not move on");
        }
        lists += 1;
    }
    assert!(lists >= 9, "{lists} lists");
    // The web UI's pages are documented, and routes registered outside the table are too.
    for page in rasid_web::PAGES {
        assert!(paths.contains_key(*page), "web page {page} is served but not documented");
    }
    // Routes registered outside the table are in the document too.
    for path in literal_routes() {
        assert!(paths.contains_key(&path), "{path} is served but not documented");
    }
    // Every documented operation is served: the router answers neither 404 unknown_route nor
    // 405 (the matrix test checks access on each).
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path
                .split('/')
                .map(|seg| if seg.starts_with('{') { UNKNOWN } else { seg })
                .collect::<Vec<_>>()
                .join("/");
            let r = s.call(&method.to_uppercase(), &concrete, None, Some(&json!({})));
            assert_ne!(r.status, 405, "{method} {path} is documented but not served");
            // The web UI answers an unknown asset with plain text: that is its own route.
            if r.status == 404 && r.content_type.starts_with("application/json") {
                assert_ne!(
                    r.code(),
                    "unknown_route",
                    "{method} {path} is documented but not served"
                );
            }
        }
    }
}

/// Every schema a response or request body can reach, by following `$ref`s from `schema`.
fn reachable(doc: &Value, schema: &Value, seen: &mut std::collections::BTreeSet<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let name = r.strip_prefix("#/components/schemas/").expect("local refs only");
                let target = &doc["components"]["schemas"][name];
                assert!(target.is_object(), "$ref {r} does not resolve");
                if seen.insert(name.to_owned()) {
                    reachable(doc, target, seen);
                }
            }
            map.values().for_each(|v| reachable(doc, v, seen));
        }
        Value::Array(items) => items.iter().for_each(|v| reachable(doc, v, seen)),
        _ => {}
    }
}

/// Every object schema inside `schema` (not following `$ref`s), with where it is.
fn objects<'a>(schema: &'a Value, at: String, out: &mut Vec<(String, &'a Value)>) {
    match schema {
        Value::Object(map) => {
            let is_object = match map.get("type") {
                Some(Value::String(t)) => t == "object",
                Some(Value::Array(ts)) => ts.iter().any(|t| t == "object"),
                _ => false,
            };
            if is_object {
                out.push((at.clone(), schema));
            }
            for (k, v) in map {
                objects(v, format!("{at}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                objects(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The document's structure beyond what the listing test checks: every `$ref` resolves, and
/// every object a request or response can contain says what is in it — its `properties`, or,
/// for the few deliberately free-form maps (an error's `details`), `additionalProperties` with
/// a description. The WebSocket upgrade is documented as 101 Switching Protocols, with no body.
/// When `openapi-spec-validator` is installed, it validates the document too.
#[test]
fn the_openapi_document_describes_every_nested_object_and_every_ref_resolves() {
    let s = Server::start();
    let doc = s.get("/v1/openapi.json", None);
    let mut names = std::collections::BTreeSet::new();
    reachable(&doc, &doc["paths"], &mut names);
    assert!(names.len() >= 60, "{} schemas reachable", names.len());
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        let mut found = Vec::new();
        objects(&doc["components"]["schemas"][name], name.clone(), &mut found);
        for (at, o) in found {
            let described = o["properties"].as_object().is_some_and(|p| !p.is_empty());
            let free_form = o["additionalProperties"] == true && o["description"].is_string();
            assert!(described || free_form, "{at}: an object without its properties: {o}");
            for (member, schema) in o["properties"].as_object().into_iter().flatten() {
                assert!(
                    schema.get("type").is_some()
                        || schema.get("$ref").is_some()
                        || schema.get("oneOf").is_some(),
                    "{at}.{member}: no type"
                );
            }
        }
    }
    let ws = &doc["paths"]["/v1/ws"]["get"]["responses"];
    assert!(ws["101"]["description"].as_str().unwrap().contains("Switching Protocols"), "{ws}");
    assert!(ws.get("200").is_none() && ws["101"].get("content").is_none(), "{ws}");
    let book = &doc["components"]["schemas"]["Book"]["properties"]["bids"]["items"]["$ref"];
    assert_eq!(book, "#/components/schemas/Level");

    let validator = std::process::Command::new("openapi-spec-validator").arg("--version").output();
    if validator.is_ok_and(|o| o.status.success()) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("openapi.json");
        std::fs::write(&file, doc.to_string()).unwrap();
        let out = std::process::Command::new("openapi-spec-validator").arg(&file).output().unwrap();
        assert!(
            out.status.success(),
            "openapi-spec-validator: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "openapi-spec-validator is not installed: the document was checked structurally only"
        );
    }
}

#[test]
fn role_by_route_matrix() {
    let s = Server::start();
    let w = setup(&s);
    let doc = s.get("/v1/openapi.json", None);
    let roles: [(&str, Option<(&str, &str)>); 5] = [
        ("anonymous", None),
        ("operator", Some(("operator", OPERATOR_PASSWORD))),
        ("registrar", Some(("registrar", PASSWORD))),
        ("member", Some(("buyer", PASSWORD))),
        ("auditor", Some(("auditor", PASSWORD))),
    ];
    let tokens: Vec<Option<String>> = vec![
        None,
        Some(w.op.clone()),
        Some(w.registrar.clone()),
        Some(w.buyer.clone()),
        Some(w.auditor.clone()),
    ];
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { UNKNOWN } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().unwrap() {
            let allowed: Vec<&str> =
                op["x-roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
            for ((role, login), token) in roles.iter().zip(&tokens) {
                // Logging out ends the session: use a fresh one for that route.
                let fresh;
                let token = if path == "/v1/sessions/current" {
                    fresh = login.map(|(u, p)| s.login(u, p));
                    fresh.as_deref()
                } else {
                    token.as_deref()
                };
                let method = method.to_uppercase();
                let body = (method != "GET" && method != "DELETE").then(|| json!({}));
                let r = s.call(&method, &concrete, token, body.as_ref());
                let what = format!("{method} {path} as {role}: {} {}", r.status, r.text);
                assert!(r.status < 500, "{what}");
                if allowed.contains(role) {
                    assert_ne!(r.status, 401, "{what}");
                    if r.status == 403 {
                        assert_ne!(r.code(), "forbidden", "{what}");
                    }
                } else if *role == "anonymous" {
                    assert_eq!((r.status, r.code().as_str()), (401, "unauthenticated"), "{what}");
                } else {
                    assert_eq!((r.status, r.code().as_str()), (403, "forbidden"), "{what}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 300, "{checked} calls");
    // Deny by default: every route that changes state names its roles and is closed to anonymous.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let public = op["x-roles"].as_array().unwrap().iter().any(|r| r == "anonymous");
            if method != "get" && public {
                assert_eq!(path, "/v1/sessions", "{method} {path} is public");
            }
        }
    }
    let _ = w.buyer_org;
}

/// The route guard answers a token from its cache without a look-up, and looks up a token it
/// has not seen (a fresh session) in the user store: both must give the same answers. Each
/// fresh token's first request below takes the look-up, the second the cache.
#[test]
fn route_access_is_the_same_for_a_looked_up_token_and_a_cached_one() {
    let s = Server::start();
    let _ = setup(&s);
    let halt = format!("/v1/instruments/{UNKNOWN}/halt");
    let auction = format!("/v1/auctions/{UNKNOWN}");
    for _ in 0..2 {
        // A member on an operator's route: 403 after the look-up and from the cache.
        let member = s.login("buyer", PASSWORD);
        for _ in 0..2 {
            let r = s.call("POST", &halt, Some(&member), None);
            assert_eq!((r.status, r.code().as_str()), (403, "forbidden"), "{}", r.text);
        }
        // Any role on an authenticated route: the handler runs and sees the caller.
        let member = s.login("buyer", PASSWORD);
        for _ in 0..2 {
            let r = s.call("GET", "/v1/api-keys", Some(&member), None);
            assert_eq!(r.status, 200, "{}", r.text);
        }
        // A public route that shows more to a caller: a valid token reaches the handler.
        let member = s.login("buyer", PASSWORD);
        for _ in 0..2 {
            let r = s.call("GET", &auction, Some(&member), None);
            assert_eq!(r.status, 404, "{}", r.text);
        }
    }
    // A token that no look-up finds is refused on every route that reads a token, each time.
    for path in [halt.as_str(), "/v1/api-keys", auction.as_str()] {
        let method = if path == halt { "POST" } else { "GET" };
        for _ in 0..2 {
            let r = s.call(method, path, Some("not-a-token"), None);
            assert_eq!(
                (r.status, r.code().as_str()),
                (401, "unauthenticated"),
                "{path}: {}",
                r.text
            );
        }
    }
    // The operator may halt: the look-up admits the role and the handler answers (no such
    // instrument).
    let op = s.login("operator", OPERATOR_PASSWORD);
    for _ in 0..2 {
        let r = s.call("POST", &halt, Some(&op), None);
        assert_eq!(r.status, 404, "{}", r.text);
    }
}

/// Asserts a request is refused with a 4xx in the error format and changes nothing.
fn refused(
    s: &Server,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
    status: u16,
    code: &str,
) {
    let before = s.digest();
    let r = s.request(method, path, token, Some(body), None).unwrap();
    assert_eq!((r.status, r.code().as_str()), (status, code), "{method} {path} {body}: {}", r.text);
    assert!(r.content_type.starts_with("application/json"), "{}", r.content_type);
    assert_eq!(s.digest(), before, "{method} {path} {body} changed the state");
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let s = Server::start();
    let w = setup(&s);
    let (dev, buyer, op, reg) = (
        Some(w.dev.as_str()),
        Some(w.buyer.as_str()),
        Some(w.op.as_str()),
        Some(w.registrar.as_str()),
    );
    let b = w.buyer_acc;
    // Malformed JSON, wrong types, missing and unknown fields.
    refused(&s, "POST", "/v1/transfers", dev, "{not json", 400, "malformed_request");
    refused(
        &s,
        "POST",
        "/v1/transfers",
        dev,
        r#"{"from":"three","to":4,"issuance":1,"quantity":1}"#,
        400,
        "malformed_request",
    );
    refused(&s, "POST", "/v1/issuances", reg, r#"{"project":1}"#, 400, "malformed_request");
    refused(
        &s,
        "POST",
        "/v1/projects",
        reg,
        r#"{"program":"VCS","external_id":"X","name":"X","country":"SA","effect":"removal","basis":"nature","developer":3,"colour":"red"}"#,
        400,
        "malformed_request",
    );
    refused(&s, "POST", "/v1/cash/deposits", op, "[]", 400, "malformed_request");
    refused(&s, "POST", "/v1/cash/deposits", op, "", 400, "malformed_request");
    // Zero, negative and overflowing numbers.
    refused(
        &s,
        "POST",
        "/v1/issuances",
        reg,
        r#"{"project":1,"vintage":2022,"quantity":0,"to_account":3}"#,
        422,
        "zero_quantity",
    );
    refused(
        &s,
        "POST",
        "/v1/issuances",
        reg,
        r#"{"project":1,"vintage":70000,"quantity":5,"to_account":3}"#,
        400,
        "malformed_request",
    );
    refused(
        &s,
        "POST",
        "/v1/transfers",
        dev,
        &format!(r#"{{"from":3,"to":{b},"issuance":1,"quantity":-1}}"#),
        400,
        "malformed_request",
    );
    refused(
        &s,
        "POST",
        "/v1/transfers",
        dev,
        &format!(r#"{{"from":3,"to":{b},"issuance":1,"quantity":18446744073709551616}}"#),
        400,
        "malformed_request",
    );
    refused(
        &s,
        "POST",
        "/v1/transfers",
        dev,
        &format!(r#"{{"from":3,"to":{b},"issuance":1,"quantity":0}}"#),
        422,
        "zero_quantity",
    );
    refused(
        &s,
        "POST",
        "/v1/transfers",
        dev,
        &format!(r#"{{"from":3,"to":{b},"issuance":1,"ranges":[{{"first":9,"last":2}}]}}"#),
        422,
        "invalid_range",
    );
    refused(
        &s,
        "POST",
        "/v1/cash/deposits",
        op,
        &format!(r#"{{"account":{b},"currency":"SAR","amount":"-5"}}"#),
        400,
        "invalid_amount",
    );
    refused(
        &s,
        "POST",
        "/v1/cash/deposits",
        op,
        &format!(r#"{{"account":{b},"currency":"SAR","amount":"99999999999999999999"}}"#),
        400,
        "invalid_amount",
    );
    refused(
        &s,
        "POST",
        "/v1/cash/deposits",
        op,
        &format!(r#"{{"account":{b},"currency":"XYZ","amount":"5"}}"#),
        400,
        "invalid_currency",
    );
    s.ok(
        "POST",
        "/v1/cash/deposits",
        &w.op,
        json!({ "account": b, "currency": "SAR", "amount": "92233720368547758.07" }),
    );
    refused(
        &s,
        "POST",
        "/v1/cash/deposits",
        op,
        &format!(r#"{{"account":{b},"currency":"SAR","amount":"0.01"}}"#),
        422,
        "amount_overflow",
    );
    refused(
        &s,
        "POST",
        "/v1/orders",
        buyer,
        &format!(
            r#"{{"instrument":"VCS1-2021","account":{b},"side":"buy","quantity":10,"price":"0"}}"#
        ),
        422,
        "invalid_price",
    );
    refused(
        &s,
        "POST",
        "/v1/orders",
        buyer,
        &format!(
            r#"{{"instrument":"VCS1-2021","account":{b},"side":"sideways","quantity":10,"price":"37.50"}}"#
        ),
        400,
        "invalid_side",
    );
    // Unknown ids.
    refused(
        &s,
        "POST",
        "/v1/transfers",
        dev,
        r#"{"from":999,"to":3,"issuance":1,"quantity":1}"#,
        404,
        "unknown_account",
    );
    refused(
        &s,
        "POST",
        "/v1/issuances/999/labels",
        reg,
        r#"{"ccp":true}"#,
        404,
        "unknown_issuance",
    );
    refused(&s, "POST", "/v1/instruments/NOPE/halt", op, "", 404, "unknown_instrument");
    refused(
        &s,
        "POST",
        "/v1/auctions/999/bids",
        buyer,
        &format!(r#"{{"lot":0,"account":{b},"price":"1","quantity":10}}"#),
        404,
        "unknown_auction",
    );
    refused(
        &s,
        "POST",
        "/v1/baskets/999/deposits",
        dev,
        r#"{"account":3,"issuance":1,"quantity":10}"#,
        404,
        "unknown_basket",
    );
    refused(&s, "PATCH", "/v1/orders/999", buyer, r#"{"quantity":5}"#, 404, "unknown_order");
    refused(&s, "GET", "/v1/retirements/999/certificate", None, "", 404, "unknown_retirement");
    refused(&s, "GET", "/v1/projects/prj0", None, "", 400, "invalid_id");
    // Another member's ids.
    refused(
        &s,
        "POST",
        "/v1/transfers",
        buyer,
        &format!(r#"{{"from":3,"to":{b},"issuance":1,"quantity":1}}"#),
        403,
        "unauthorized",
    );
    refused(
        &s,
        "POST",
        "/v1/cash/transfers",
        dev,
        &format!(r#"{{"from":{b},"to":3,"currency":"SAR","amount":"1"}}"#),
        403,
        "unauthorized",
    );
    refused(&s, "GET", "/v1/accounts/3/cash", buyer, "", 403, "unauthorized");
    refused(&s, "GET", "/v1/orders?account=3", buyer, "", 403, "unauthorized");
    let sell = s.ok("POST", "/v1/orders", &w.dev, json!({ "instrument": "VCS1-2021", "account": DEV_ACC, "side": "sell", "quantity": 10, "price": "40.00" }));
    let order = first_event(&sell, "order");
    refused(&s, "DELETE", &format!("/v1/orders/{order}"), buyer, "", 404, "unknown_order");
    refused(
        &s,
        "PATCH",
        &format!("/v1/orders/{order}"),
        buyer,
        r#"{"price":"41.00"}"#,
        404,
        "unknown_order",
    );
    refused(&s, "DELETE", "/v1/orders?account=3", buyer, "", 403, "unauthorized");
    refused(&s, "PATCH", &format!("/v1/orders/{order}"), dev, "{}", 422, "nothing_to_amend");
    // Tokens: garbage, malformed header, expired.
    refused(&s, "GET", "/v1/me", Some("not-a-token"), "", 401, "unauthenticated");
    let expired = "expired-token-for-the-test";
    {
        use sha2::Digest;
        let DatabaseUrl::Sqlite(path) = &s.database else { unreachable!() };
        let conn = rusqlite::Connection::open(path).unwrap();
        let hash: [u8; 32] = sha2::Sha256::digest(expired.as_bytes()).into();
        conn.execute(
            "INSERT INTO server_sessions (token_sha256, username, expires_ms) VALUES (?1, 'buyer', 1)",
            [hash.to_vec()],
        )
        .unwrap();
    }
    refused(&s, "GET", "/v1/me", Some(expired), "", 401, "unauthenticated");
    refused(&s, "POST", "/v1/orders", Some(expired), "{}", 401, "unauthenticated");
    // Replayed idempotency keys: the first runs once, a replay changes nothing, another body
    // with the same key is refused.
    let deposit = json!({ "account": DEV_ACC, "currency": "USD", "amount": "10.00" }).to_string();
    let first = s.request("POST", "/v1/cash/deposits", op, Some(&deposit), Some("dep-1")).unwrap();
    assert_eq!((first.status, first.replayed), (201, false), "{}", first.text);
    let before = s.digest();
    let again = s.request("POST", "/v1/cash/deposits", op, Some(&deposit), Some("dep-1")).unwrap();
    assert_eq!((again.status, again.replayed, &again.text), (201, true, &first.text));
    let other = json!({ "account": DEV_ACC, "currency": "USD", "amount": "11.00" }).to_string();
    let r = s.request("POST", "/v1/cash/deposits", op, Some(&other), Some("dep-1")).unwrap();
    assert_eq!((r.status, r.code().as_str()), (422, "idempotency_key_reused"));
    assert_eq!(s.digest(), before, "a replay changed the state");
    // Oversized bodies, with and without an idempotency key.
    let huge = format!(r#"{{"name":"{}","role":"member"}}"#, "x".repeat(100_000));
    refused(&s, "POST", "/v1/organizations", op, &huge, 413, "body_too_large");
    let before = s.digest();
    let r = s.request("POST", "/v1/organizations", op, Some(&huge), Some("huge-1")).unwrap();
    assert_eq!((r.status, r.code().as_str()), (413, "body_too_large"));
    assert_eq!(s.digest(), before);
    // Query parameters and routes.
    refused(&s, "GET", "/v1/projects?limit=0", None, "", 400, "invalid_limit");
    refused(&s, "GET", "/v1/projects?limit=501", None, "", 400, "invalid_limit");
    refused(&s, "GET", "/v1/projects?cursor=zzz", None, "", 400, "invalid_cursor");
    refused(&s, "GET", "/v1/projects?colour=red", None, "", 400, "unknown_parameter");
    refused(&s, "GET", "/v1/projects?program=NOPE", None, "", 400, "invalid_program");
    refused(&s, "GET", "/v1/retirements/1/certificate?lang=fr", None, "", 400, "invalid_lang");
    refused(&s, "GET", "/v1/orders", buyer, "", 400, "missing_parameter");
    refused(&s, "GET", "/v1/nowhere", None, "", 404, "unknown_route");
    refused(&s, "PUT", "/v1/projects", reg, "{}", 405, "method_not_allowed");
    refused(
        &s,
        "POST",
        "/v1/auctions",
        op,
        r#"{"name":"A","rule":"dutch","closes_at":"2030-01-01T00:00:00Z","lots":[]}"#,
        400,
        "invalid_rule",
    );
    refused(
        &s,
        "POST",
        "/v1/auctions",
        op,
        r#"{"name":"A","rule":"pay_as_bid","closes_at":"tomorrow","lots":[]}"#,
        400,
        "invalid_time",
    );
}

/// Every route that takes a body, called by every role it allows with bodies no route accepts:
/// always a 4xx in the error format, and the state unchanged.
#[test]
fn every_body_route_refuses_garbage_and_changes_nothing() {
    let s = Server::start();
    let w = setup(&s);
    let doc = s.get("/v1/openapi.json", None);
    let tokens = [
        ("operator", &w.op),
        ("registrar", &w.registrar),
        ("member", &w.buyer),
        ("auditor", &w.auditor),
    ];
    let bodies = [
        "{not json",
        "null",
        "[]",
        "17",
        "\"text\"",
        r#"{"no_such_field":1}"#,
        r#"{"quantity":-1,"no_such_field":1}"#,
    ];
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { UNKNOWN } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().unwrap() {
            if op.get("requestBody").is_none() {
                continue;
            }
            let allowed: Vec<&str> =
                op["x-roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
            for (role, token) in tokens.iter().filter(|(role, _)| allowed.contains(role)) {
                for body in bodies {
                    let before = s.digest();
                    let method = method.to_uppercase();
                    let r = s
                        .request(&method, &concrete, Some(token.as_str()), Some(body), None)
                        .unwrap();
                    let what =
                        format!("{method} {path} as {role} with {body}: {} {}", r.status, r.text);
                    assert!((400..500).contains(&r.status), "{what}");
                    assert!(!r.code().is_empty(), "{what}");
                    assert_eq!(s.digest(), before, "{what} changed the state");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 200, "{checked} calls");
}

#[test]
fn registry_flow_with_pagination_and_a_certificate() {
    let s = Server::start();
    let w = setup(&s);
    // The registrar registers two more projects and issues; labels one issuance.
    for (ext, country, effect) in [("GS7", "Kenya", "reduction"), ("VCS9", "Brazil", "removal")] {
        let body = json!({ "program": &ext[..ext.len() - 1], "external_id": ext, "name": format!("Project {ext}"), "country": country, "effect": effect, "basis": "technology", "developer": DEV_ORG });
        s.ok("POST", "/v1/projects", &w.registrar, body);
    }
    let doc = s.ok("POST", "/v1/issuances", &w.registrar, json!({ "project": 2, "vintage": 2022, "quantity": 500, "buffer": 50, "to_account": DEV_ACC }));
    let iss = first_event(&doc, "issuance");
    s.ok("POST", &format!("/v1/issuances/{iss}/labels"), &w.registrar, json!({ "corsia": "first", "ccp": true, "article6": { "authorization_ref": "LoA-1", "ca_status": "pending" } }));
    s.ok("POST", "/v1/projects/2/rating", &w.registrar, json!({ "rating": 80 }));
    let labelled = s.get(&format!("/v1/issuances/{iss}"), None);
    assert_eq!(
        (labelled["labels"]["corsia"].as_str(), labelled["labels"]["ccp"].as_bool()),
        (Some("first"), Some(true))
    );
    assert_eq!(s.get("/v1/projects/2", None)["rating"], 80);
    // Filters.
    let ids = |path: &str| -> Vec<u64> {
        s.get(path, None)["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids("/v1/projects"), [1, 2, 3]);
    assert_eq!(ids("/v1/projects?program=GS"), [2]);
    assert_eq!(ids("/v1/projects?country=brazil"), [3]);
    assert_eq!(ids("/v1/projects?category=removal"), [1, 3]);
    assert_eq!(ids("/v1/projects?category=nature"), [1]);
    assert_eq!(ids("/v1/projects?label=ccp"), [2]);
    assert_eq!(ids("/v1/issuances?project=2"), [iss]);
    // Pagination: pages of one, in order, end with a null cursor.
    let mut seen = Vec::new();
    let mut path = "/v1/projects?limit=1".to_owned();
    loop {
        let page = s.get(&path, None);
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{page}");
        seen.push(items[0]["id"].as_u64().unwrap());
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/v1/projects?limit=1&cursor={c}"),
            None => break,
        }
        assert!(seen.len() <= 3, "the pages do not end");
    }
    assert_eq!(seen, [1, 2, 3]);
    let page = s.get("/v1/projects?limit=3", None);
    assert!(page["next_cursor"].is_null(), "an exact last page has no next cursor: {page}");
    // A member sees its own organization and accounts; the operator and auditor see all.
    let me = s.get("/v1/me", Some(&w.dev));
    assert_eq!(
        (me["role"].as_str(), me["organization"]["id"].as_u64(), me["accounts"][0]["id"].as_u64()),
        (Some("member"), Some(DEV_ORG), Some(DEV_ACC))
    );
    assert_eq!(s.get("/v1/organizations", Some(&w.dev))["items"].as_array().unwrap().len(), 1);
    assert_eq!(s.get("/v1/accounts", Some(&w.dev))["items"].as_array().unwrap().len(), 1);
    let all = s.get("/v1/accounts", Some(&w.auditor))["items"].as_array().unwrap().len();
    assert!(all >= 4, "{all}");
    assert_eq!(s.get(&format!("/v1/accounts/{}", w.buyer_acc), Some(&w.op))["org"], w.buyer_org);

    // Retire with a beneficiary that tries markup; the certificate escapes it.
    let ben = "<script>alert('x')</script> Riyadh Metro & Co";
    let doc = s.ok("POST", "/v1/retirements", &w.dev, json!({ "account": DEV_ACC, "issuance": 1, "ranges": [{ "first": 1, "last": 10 }, { "first": 21, "last": 25 }], "beneficiary": ben, "purpose": "voluntary" }));
    let seq = doc["seq"].as_u64().unwrap();
    let ret = first_event(&doc, "retirement");
    let list = s.get("/v1/retirements", None);
    assert_eq!(
        (list["items"][0]["id"].as_u64(), list["items"][0]["beneficiary"].as_str()),
        (Some(ret), Some(ben))
    );
    let cert = s.call("GET", &format!("/v1/retirements/{ret}/certificate"), None, None);
    assert_eq!(cert.status, 200);
    assert!(cert.content_type.starts_with("text/html"), "{}", cert.content_type);
    let html = &cert.text;
    assert!(!html.contains("<script>"), "unescaped beneficiary");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Riyadh Metro &amp; Co"));
    let record = open_journal(&s.database).unwrap().record(seq).unwrap().unwrap();
    let hash = rasid_core::codec::hex(&record.hash);
    for needle in [
        hash.as_str(),
        &format!("#{seq}"),
        "<code>1</code></td><td><code>10</code>",
        "<code>21</code></td><td><code>25</code>",
        "dir=\"rtl\"",
        "lang=\"en\"",
        "rasid verify",
        "/v1/serials/1",
        "VCS1",
        "2021",
        "15",
    ] {
        assert!(html.contains(needle), "the certificate lacks {needle:?}");
    }
    let ar_at = |h: &str| h.find("<section lang=\"ar\"").unwrap();
    let en_at = |h: &str| h.find("<section lang=\"en\"").unwrap();
    assert!(ar_at(html) < en_at(html), "Arabic first by default");
    let en = s.call("GET", &format!("/v1/retirements/{ret}/certificate?lang=en"), None, None).text;
    assert!(en_at(&en) < ar_at(&en), "?lang=en puts English first");

    // The registrar cancels from any account; the holder from its own. Stats add up.
    s.ok(
        "POST",
        "/v1/cancellations",
        &w.registrar,
        json!({ "account": DEV_ACC, "issuance": 1, "quantity": 5, "reason": "double counting" }),
    );
    s.ok(
        "POST",
        "/v1/cancellations",
        &w.dev,
        json!({ "account": DEV_ACC, "issuance": iss, "quantity": 1, "reason": "own" }),
    );
    let stats = s.get("/v1/stats", None);
    assert_eq!(
        (
            stats["issued_tonnes"].as_u64(),
            stats["retired_tonnes"].as_u64(),
            stats["cancelled_tonnes"].as_u64()
        ),
        (Some(1_500), Some(15), Some(6))
    );
    assert_eq!(
        (stats["held_tonnes"].as_u64(), stats["buffer_tonnes"].as_u64()),
        (Some(1_479), Some(50))
    );
}

/// The certificate on PostgreSQL: its record hash is read through a second journal connection
/// beside the writer's.
#[test]
fn certificates_on_postgresql() {
    let Some(base) = rasid_store::testing::postgres_test_url("certificates_on_postgresql").unwrap()
    else {
        return;
    };
    let schema = rasid_store::ScratchSchema::create(&base, "rasid_api_cert").unwrap();
    let database = DatabaseUrl::Postgres(schema.url().to_owned());
    let s = Server::start_on(database.clone(), Box::new(schema));
    let w = setup(&s);
    let doc = s.ok("POST", "/v1/retirements", &w.dev, json!({ "account": DEV_ACC, "issuance": 1, "quantity": 7, "beneficiary": "PG Co", "purpose": "other" }));
    let (seq, ret) = (doc["seq"].as_u64().unwrap(), first_event(&doc, "retirement"));
    let cert = s.call("GET", &format!("/v1/retirements/{ret}/certificate?lang=en"), None, None);
    assert_eq!(cert.status, 200, "{}", cert.text);
    let record = open_journal(&database).unwrap().record(seq).unwrap().unwrap();
    assert!(cert.text.contains(&rasid_core::codec::hex(&record.hash)), "{}", cert.text);
    assert!(cert.text.contains("<code>1</code></td><td><code>7</code>"));
}

#[test]
fn cash_instruments_orders_and_baskets() {
    let s = Server::start();
    let w = setup(&s);
    let b = w.buyer_acc;
    s.ok(
        "POST",
        "/v1/cash/deposits",
        &w.op,
        json!({ "account": b, "currency": "SAR", "amount": "10000.00" }),
    );
    s.ok(
        "POST",
        "/v1/cash/withdrawals",
        &w.op,
        json!({ "account": b, "currency": "SAR", "amount": "1000.00" }),
    );
    let cash = s.get(&format!("/v1/accounts/{b}/cash"), Some(&w.buyer));
    assert_eq!(cash["balances"][0]["available"], "9000.00");
    s.ok(
        "POST",
        "/v1/cash/transfers",
        &w.buyer,
        json!({ "from": b, "to": DEV_ACC, "currency": "SAR", "amount": "100.00" }),
    );
    assert_eq!(
        s.get(&format!("/v1/accounts/{DEV_ACC}/cash"), Some(&w.dev))["balances"][0]["available"],
        "100.00"
    );

    // Halted instruments refuse orders; resumed ones take them.
    s.ok("POST", "/v1/instruments/VCS1-2021/halt", &w.op, json!({}));
    let buy = json!({ "instrument": "VCS1-2021", "account": b, "side": "buy", "quantity": 20, "price": "37.50" });
    let r = s.call("POST", "/v1/orders", Some(&w.buyer), Some(&buy));
    assert_eq!((r.status, r.code().as_str()), (409, "instrument_halted"));
    s.ok("POST", "/v1/instruments/1/resume", &w.op, json!({}));
    assert_eq!(s.get("/v1/instruments/1", None)["status"], "open");
    let order = first_event(&s.ok("POST", "/v1/orders", &w.buyer, buy.clone()), "order");
    s.ok("POST", "/v1/orders", &w.buyer, json!({ "instrument": "VCS1-2021", "account": b, "side": "buy", "quantity": 10, "price": "37.00" }));
    // Amend: a smaller quantity, then a new price.
    let doc = s.ok("PATCH", &format!("/v1/orders/{order}"), &w.buyer, json!({ "quantity": 10 }));
    assert_eq!(
        (doc["events"][0]["type"].as_str(), doc["events"][0]["priority_kept"].as_bool()),
        (Some("order_amended"), Some(true))
    );
    s.ok("PATCH", &format!("/v1/orders/{order}"), &w.buyer, json!({ "price": "38.00" }));
    let orders = s.get(&format!("/v1/orders?account={b}&limit=1"), Some(&w.buyer));
    assert_eq!(
        (orders["items"][0]["price"].as_str(), orders["next_cursor"].is_string()),
        (Some("38.00"), true)
    );
    assert_eq!(s.get("/v1/instruments", None)["items"][0]["best_bid"], "38.00");
    // A seller crosses; then cancel-all empties the buyer's book.
    s.ok("POST", "/v1/orders", &w.dev, json!({ "instrument": "VCS1-2021", "account": DEV_ACC, "side": "sell", "quantity": 10, "price": "38.00" }));
    assert_eq!(s.get("/v1/stats", None)["trades"], 1);
    // Buy and retire: a GTD buy that takes a resting sell retires what it receives.
    s.ok("POST", "/v1/orders", &w.dev, json!({ "instrument": "VCS1-2021", "account": DEV_ACC, "side": "sell", "quantity": 10, "price": "39.00" }));
    let doc = s.ok("POST", "/v1/orders", &w.buyer, json!({
        "instrument": "VCS1-2021", "account": b, "side": "buy", "quantity": 10, "price": "39.00",
        "time_in_force": "gtd", "expires_at": "2099-01-01T00:00:00Z",
        "retire": { "beneficiary": "Buyer Co 2026 travel", "purpose": "voluntary" },
    }));
    let trade = doc["events"].as_array().unwrap().iter().find(|e| e["type"] == "trade").unwrap();
    let ret = trade["retirements"][0].as_u64().unwrap();
    assert_eq!(
        s.get(&format!("/v1/retirements/{ret}"), None)["beneficiary"],
        "Buyer Co 2026 travel"
    );
    let stats = s.get("/v1/stats", None);
    assert_eq!((stats["trades"].as_u64(), stats["traded_tonnes"].as_u64()), (Some(2), Some(20)));
    let doc = s.ok(
        "DELETE",
        &format!("/v1/orders?account={b}&instrument=VCS1-2021"),
        &w.buyer,
        json!({}),
    );
    assert_eq!(doc["events"].as_array().unwrap().len(), 1, "{doc}");
    assert!(
        s.get(&format!("/v1/orders?account={b}"), Some(&w.buyer))["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    s.ok("POST", "/v1/instruments/1/reference-price", &w.op, json!({ "price": "38.00" }));
    s.ok("POST", "/v1/trading-session/close", &w.op, json!({}));

    // Baskets: define, list an instrument on it, deposit, see one's own deposit, withdraw.
    let doc = s.ok("POST", "/v1/baskets", &w.op, json!({ "name": "Nature removals", "criteria": { "effects": ["removal"], "bases": ["nature"], "vintage_min": 2020 } }));
    let basket = first_event(&doc, "basket");
    // Null optional fields take the defaults, as absent ones do (a form's empty inputs).
    s.ok("POST", "/v1/instruments", &w.op, json!({ "symbol": "NBR", "basket": basket, "project": null, "currency": null, "tick": null, "lot": 10, "band_bps": null, "reference_price": "20.00" }));
    let nbr = s.get("/v1/instruments/NBR", None);
    assert_eq!(
        (
            nbr["tick"].as_str(),
            nbr["lot_tonnes"].as_u64(),
            nbr["band_bps"].as_u64(),
            nbr["fees"]["taker_bps"].as_u64()
        ),
        (Some("0.05"), Some(10), Some(2_000), Some(20))
    );
    s.ok(
        "POST",
        &format!("/v1/baskets/{basket}/deposits"),
        &w.dev,
        json!({ "account": DEV_ACC, "issuance": 1, "quantity": 100, "priority": 1 }),
    );
    let public = s.get(&format!("/v1/baskets/{basket}"), None);
    assert_eq!((public["free_deposited_tonnes"].as_u64(), public.get("mine")), (Some(100), None));
    let mine = s.get(&format!("/v1/baskets/{basket}"), Some(&w.dev));
    assert_eq!(mine["mine"]["deposits"][0]["free_tonnes"], 100);
    assert!(
        s.get(&format!("/v1/baskets/{basket}"), Some(&w.buyer))["mine"]["deposits"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    s.ok(
        "POST",
        &format!("/v1/baskets/{basket}/withdrawals"),
        &w.dev,
        json!({ "account": DEV_ACC, "issuance": 1, "quantity": 40 }),
    );
    assert_eq!(s.get("/v1/baskets", None)["items"][0]["free_deposited_tonnes"], 60);
    // Criteria that exclude the deposit return it.
    s.ok("PUT", &format!("/v1/baskets/{basket}/criteria"), &w.op, json!({ "vintage_min": 2023 }));
    assert_eq!(s.get("/v1/baskets", None)["items"][0]["free_deposited_tonnes"], 0);
    s.ok("POST", "/v1/instruments/NBR/close", &w.op, json!({}));
}

#[test]
fn auction_bids_are_sealed_and_results_public() {
    let s = Server::start();
    let w = setup(&s);
    let b = w.buyer_acc;
    s.ok(
        "POST",
        "/v1/cash/deposits",
        &w.op,
        json!({ "account": b, "currency": "SAR", "amount": "100000.00" }),
    );
    // Closing a second from now: close is polled until the window has passed.
    let closes = rasid_core::time::rfc3339(
        i64::try_from(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis(),
        )
        .unwrap()
            + 1_000,
    );
    let doc = s.ok("POST", "/v1/auctions", &w.op, json!({
        "name": "First auction", "rule": "uniform_price", "closes_at": closes,
        "lots": [{ "instrument": "VCS1-2021", "seller": DEV_ACC, "quantity": 100, "reserve_price": "30.00", "min_bid": 10, "increment": 10 }],
    }));
    let auction = first_event(&doc, "auction");
    let doc = s.ok(
        "POST",
        &format!("/v1/auctions/{auction}/bids"),
        &w.buyer,
        json!({ "lot": 0, "account": b, "price": "35.00", "quantity": 50 }),
    );
    let bid = first_event(&doc, "bid");
    s.ok(
        "PATCH",
        &format!("/v1/auctions/{auction}/bids/{bid}"),
        &w.buyer,
        json!({ "quantity": 60 }),
    );
    let doc = s.ok(
        "POST",
        &format!("/v1/auctions/{auction}/bids"),
        &w.buyer,
        json!({ "lot": 0, "account": b, "price": "31.00", "quantity": 10 }),
    );
    let second = first_event(&doc, "bid");
    s.ok("DELETE", &format!("/v1/auctions/{auction}/bids/{second}"), &w.buyer, json!({}));
    // The owner sees its bid; another member and the public do not.
    let own = s.get(&format!("/v1/auctions/{auction}"), Some(&w.buyer));
    assert_eq!(
        (own["mine"]["bids"][0]["bid"].as_u64(), own["mine"]["bids"][0]["quantity"].as_u64()),
        (Some(bid), Some(60))
    );
    assert_eq!(own["mine"]["bids"].as_array().unwrap().len(), 1);
    let other = s.get(&format!("/v1/auctions/{auction}"), Some(&w.dev));
    assert!(other["mine"]["bids"].as_array().unwrap().is_empty(), "{other}");
    let public = s.get(&format!("/v1/auctions/{auction}"), None);
    assert!(public.get("mine").is_none() && !public.to_string().contains("35.00"), "{public}");
    let r = s.call("DELETE", &format!("/v1/auctions/{auction}/bids/{bid}"), Some(&w.dev), None);
    assert_eq!(
        (r.status, r.code().as_str()),
        (404, "unknown_bid"),
        "another member's bid is unknown"
    );
    assert_eq!(
        s.get(&format!("/v1/auctions/{auction}/results"), None)["lots"][0]["result"],
        Value::Null
    );
    // Close once the window has passed.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r =
            s.call("POST", &format!("/v1/auctions/{auction}/close"), Some(&w.op), Some(&json!({})));
        if r.status == 200 {
            break;
        }
        assert_eq!(r.code(), "auction_not_ended", "{}", r.text);
        assert!(Instant::now() < deadline, "the auction never ended");
        std::thread::sleep(Duration::from_millis(50));
    }
    let results = s.get(&format!("/v1/auctions/{auction}/results"), Some(&w.buyer));
    let lot = &results["lots"][0]["result"];
    assert_eq!(
        (lot["clearing_price"].as_str(), lot["sold_tonnes"].as_u64()),
        (Some("35.00"), Some(60)),
        "{results}"
    );
    assert_eq!(lot["demand_curve"][0]["cumulative_tonnes"], 60);
    assert_eq!(results["mine"]["allocations"][0]["quantity"], 60);
    let public = s.get(&format!("/v1/auctions/{auction}/results"), None);
    assert!(public.get("mine").is_none());
    let seller = s.get(&format!("/v1/auctions/{auction}/results"), Some(&w.dev));
    assert!(seller["mine"]["allocations"].as_array().unwrap().is_empty());
    assert_eq!(s.get("/v1/auctions", None)["items"][0]["status"], "closed");
}
