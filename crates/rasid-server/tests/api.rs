//! The API against the real server: started in-process on an ephemeral loopback port over a
//! temporary SQLite database, driven over real HTTP by a blocking client.

use rasid_core::exchange::{FeeSchedule, InstrumentSpec, Underlying};
use rasid_core::model::{Basis, Effect, Program, ProjectInfo, Role};
use rasid_core::{AccountId, Command, Currency, OrgId, ProjectId};
use rasid_server::{App, Options};
use rasid_store::{Config, DatabaseUrl, Ledger, open_journal, system_clock};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const OPERATOR_PASSWORD: &str = "operator-secret-1";

/// The developer organization and account the seed creates (after genesis' org1/org2, acc1/acc2).
const DEV_ORG: u64 = 3;
const DEV_ACC: u64 = 3;

/// A ledger with a member that holds 1,000 t of issuance 1 and a listed instrument. Registering
/// projects and issuing have no routes yet, so the seed goes through the ledger directly.
fn seed(database: &DatabaseUrl) {
    let ledger =
        Ledger::open(open_journal(database).unwrap(), Config::default(), system_clock()).unwrap();
    let (op, reg) = (OrgId(1), OrgId(2));
    let commands = vec![
        (
            OrgId(0),
            Command::Genesis {
                operator_name: "Operator".into(),
                registrar_name: "Registry".into(),
            },
        ),
        (op, Command::CreateOrganization { name: "Dev Co".into(), role: Role::Member }),
        (op, Command::OpenAccount { org: OrgId(DEV_ORG), name: "main".into() }),
        (
            reg,
            Command::RegisterProject {
                info: Box::new(ProjectInfo {
                    country: "Saudi Arabia".into(),
                    effect: Effect::Removal,
                    basis: Basis::Nature,
                    ..rasid_core::testing::project(
                        Program::Vcs,
                        "VCS1",
                        "Mangroves",
                        OrgId(DEV_ORG),
                    )
                }),
            },
        ),
        (
            reg,
            Command::Issue {
                project: ProjectId(1),
                vintage_year: 2021,
                quantity_tonnes: 1_000,
                buffer_tonnes: 0,
                to_account: AccountId(DEV_ACC),
                first_serial: None,
                external_ref: None,
            },
        ),
        (
            op,
            Command::ListInstrument {
                spec: InstrumentSpec {
                    symbol: "VCS1-2021".into(),
                    underlying: Underlying::ProjectVintage {
                        project: ProjectId(1),
                        vintage_year: 2021,
                    },
                    currency: Currency::Sar,
                    tick_minor: 5,
                    lot_tonnes: 10,
                    band_bps: 2_000,
                    reference_price_minor: 3_750,
                    fees: FeeSchedule { maker_bps: 10, taker_bps: 20, min_fee_minor: 100 },
                },
            },
        ),
    ];
    for outcome in ledger.submit_batch(commands).unwrap() {
        outcome.unwrap();
    }
    ledger.close().unwrap();
}

struct Server {
    base: String,
    app: Arc<App>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
    http: ureq::Agent,
}

impl Server {
    fn start(database: DatabaseUrl) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let options = Options {
            database,
            snapshot_interval: 1_000_000,
            bootstrap_operator_password: Some(OPERATOR_PASSWORD.into()),
            demo_users: Vec::new(),
            ha: rasid_server::HaOptions::default(),
        };
        let app = Arc::new(App::open(&options).unwrap());
        let served = app.clone();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                rasid_server::serve_shared(listener, served, async {
                    let _ = stopped.await;
                })
                .await
            })
        });
        // Non-2xx statuses are answers to check, not client errors.
        let http: ureq::Agent =
            ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let server = Self { base, app, stop: Some(stop), thread: Some(thread), http };
        server.wait_healthy();
        server
    }

    /// Polls `/v1/health` until it answers, with a deadline instead of a fixed sleep.
    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut r) = self.http.get(format!("{}/v1/health", self.base)).call()
                && r.status() == 200
            {
                let body: Value =
                    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
                assert_eq!(body["status"], "ok");
                return;
            }
            assert!(Instant::now() < deadline, "the server did not become healthy in 30 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let response = match (method, body) {
            ("GET", _) => {
                let mut r = self.http.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            ("DELETE", _) => {
                let mut r = self.http.delete(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            ("POST", Some(b)) => {
                let mut r = self.http.post(&url).header("Content-Type", "application/json");
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.send(b)
            }
            other => panic!("unsupported {other:?}"),
        };
        let mut response = response.unwrap();
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().unwrap();
        let doc = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text:?}"));
        (status, doc)
    }

    fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.call("GET", path, token, None)
    }

    fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.call("POST", path, token, Some(&body.to_string()))
    }

    /// A POST with an `Idempotency-Key`; also says whether the reply was a replay.
    fn post_idempotent(
        &self,
        path: &str,
        token: &str,
        key: &str,
        body: &Value,
    ) -> (u16, Value, bool) {
        let mut response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "application/json")
            .header("Authorization", format!("Bearer {token}"))
            .header("Idempotency-Key", key)
            .send(body.to_string())
            .unwrap();
        let replayed = response.headers().get("idempotent-replayed").is_some();
        let status = response.status().as_u16();
        let doc = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
        (status, doc, replayed)
    }

    fn login(&self, username: &str, password: &str) -> String {
        let (status, doc) =
            self.post("/v1/sessions", None, &json!({ "username": username, "password": password }));
        assert_eq!(status, 201, "{doc}");
        doc["token"].as_str().unwrap().to_owned()
    }

    /// Stops the server (graceful shutdown closes the ledger) and reports how it ended.
    fn stop(mut self) -> Result<(), String> {
        let _ = self.stop.take().unwrap().send(());
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

fn error_code(doc: &Value) -> &str {
    doc["error"]["code"].as_str().unwrap_or_else(|| panic!("not an error document: {doc}"))
}

fn available(server: &Server, token: &str, account: u64) -> (u64, u64) {
    let (status, doc) = server.get(&format!("/v1/accounts/{account}/holdings"), Some(token));
    assert_eq!(status, 200, "{doc}");
    let h = &doc["holdings"];
    let sum = |key: &str| h.as_array().unwrap().iter().map(|x| x[key].as_u64().unwrap()).sum();
    (sum("available_tonnes"), sum("reserved_tonnes"))
}

#[test]
fn registry_and_orders_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database.clone());

    // Anonymous callers and bad passwords get 401.
    let (status, doc) =
        server.post("/v1/organizations", None, &json!({ "name": "X", "role": "member" }));
    assert_eq!((status, error_code(&doc)), (401, "unauthenticated"));
    let (status, doc) = server.post(
        "/v1/sessions",
        None,
        &json!({ "username": "operator", "password": "wrong-password" }),
    );
    assert_eq!((status, error_code(&doc)), (401, "unauthenticated"));
    let (status, doc) = server.get("/v1/markets", Some("not-a-token"));
    assert_eq!(status, 200, "public routes ignore tokens: {doc}");

    // The bootstrap operator sets up a buyer organization, its account and a user for Dev Co.
    let op = server.login("operator", OPERATOR_PASSWORD);
    let (status, doc) = server.post(
        "/v1/organizations",
        Some(&op),
        &json!({ "name": "Buyer Co", "role": "member" }),
    );
    assert_eq!(status, 201, "{doc}");
    assert_eq!(doc["events"][0]["type"], "organization_created");
    let buyer_org = doc["events"][0]["org"].as_u64().unwrap();
    let (status, doc) = server.post(
        "/v1/accounts",
        Some(&op),
        &json!({ "organization": buyer_org, "name": "main" }),
    );
    assert_eq!(status, 201, "{doc}");
    let buyer_acc = doc["events"][0]["account"].as_u64().unwrap();
    let user = json!({ "username": "dev", "password": "dev-password", "organization": DEV_ORG });
    let (status, doc) = server.post("/v1/users", Some(&op), &user);
    assert_eq!((status, doc["role"].as_str()), (201, Some("member")), "{doc}");
    let (status, doc) = server.post("/v1/users", Some(&op), &user);
    assert_eq!((status, error_code(&doc)), (409, "user_exists"));
    let unknown_org =
        json!({ "username": "ghost", "password": "ghost-password", "organization": 999 });
    let (status, doc) = server.post("/v1/users", Some(&op), &unknown_org);
    assert_eq!((status, error_code(&doc)), (404, "unknown_organization"));

    // The member: forbidden actions, unknown ids, malformed input.
    let dev = server.login("dev", "dev-password");
    let (status, doc) =
        server.post("/v1/organizations", Some(&dev), &json!({ "name": "Mine", "role": "member" }));
    assert_eq!((status, error_code(&doc)), (403, "forbidden"));
    // The route allows members; the engine's code says the object is another organization's.
    let (status, doc) = server.get(&format!("/v1/accounts/{buyer_acc}/holdings"), Some(&dev));
    assert_eq!((status, error_code(&doc)), (403, "unauthorized"));
    let (status, doc) = server.get("/v1/accounts/999/holdings", Some(&dev));
    assert_eq!((status, error_code(&doc)), (404, "unknown_account"));
    let (status, doc) = server.get("/v1/accounts/abc/holdings", Some(&dev));
    assert_eq!((status, error_code(&doc)), (400, "invalid_id"));
    let (status, doc) = server.call("POST", "/v1/transfers", Some(&dev), Some("{not json"));
    assert_eq!((status, error_code(&doc)), (400, "malformed_request"));
    let (status, doc) =
        server.post("/v1/transfers", Some(&dev), &json!({ "from": DEV_ACC, "to": buyer_acc }));
    assert_eq!((status, error_code(&doc)), (400, "malformed_request"), "missing issuance");
    let huge = json!({ "from": DEV_ACC, "to": buyer_acc, "issuance": 1, "quantity": 1, "pad": "x".repeat(100_000) });
    let (status, doc) = server.post("/v1/transfers", Some(&dev), &huge);
    assert_eq!((status, error_code(&doc)), (413, "body_too_large"));
    assert_eq!(available(&server, &dev, DEV_ACC), (1_000, 0));

    // A domain rejection changes nothing.
    let too_much = json!({ "from": DEV_ACC, "to": buyer_acc, "issuance": 1, "quantity": 5_000 });
    let (status, doc) = server.post("/v1/transfers", Some(&dev), &too_much);
    assert_eq!((status, error_code(&doc)), (422, "insufficient_credits"));
    let zero = json!({ "from": DEV_ACC, "to": buyer_acc, "issuance": 1, "quantity": 0 });
    let (status, doc) = server.post("/v1/transfers", Some(&dev), &zero);
    assert_eq!((status, error_code(&doc)), (422, "zero_quantity"));
    assert_eq!(available(&server, &dev, DEV_ACC), (1_000, 0));

    // Moving another organization's credits is the engine's `unauthorized`: 403.
    let theirs = json!({ "from": buyer_acc, "to": DEV_ACC, "issuance": 1, "quantity": 1 });
    let (status, doc) = server.post("/v1/transfers", Some(&dev), &theirs);
    assert_eq!(status, 403, "{doc}");

    // A transfer and a retirement change holdings.
    let (status, doc) = server.post(
        "/v1/transfers",
        Some(&dev),
        &json!({ "from": DEV_ACC, "to": buyer_acc, "issuance": 1, "quantity": 100 }),
    );
    assert_eq!(status, 201, "{doc}");
    assert_eq!(doc["events"][0]["type"], "transferred");
    assert_eq!(available(&server, &dev, DEV_ACC), (900, 0));
    assert_eq!(available(&server, &op, buyer_acc), (100, 0), "the operator sees every account");
    let retire = json!({
        "account": DEV_ACC, "issuance": 1, "ranges": [{ "first": 101, "last": 150 }],
        "beneficiary": "Riyadh Metro", "purpose": "voluntary",
    });
    let (status, doc) = server.post("/v1/retirements", Some(&dev), &retire);
    assert_eq!(status, 201, "{doc}");
    let retirement = doc["events"][0]["retirement"].as_u64().unwrap();
    assert_eq!(available(&server, &dev, DEV_ACC), (850, 0));
    // Retirements are public.
    let (status, doc) = server.get(&format!("/v1/retirements/{retirement}"), None);
    assert_eq!(status, 200, "{doc}");
    assert_eq!(
        (doc["quantity"].as_u64(), doc["beneficiary"].as_str()),
        (Some(50), Some("Riyadh Metro"))
    );
    let (status, doc) = server.post("/v1/retirements", Some(&dev), &retire);
    assert_eq!((status, error_code(&doc)), (422, "already_retired"));
    let (status, doc) = server.get("/v1/retirements/999", None);
    assert_eq!((status, error_code(&doc)), (404, "unknown_retirement"));

    // Market data is public; a sell order reserves serials until it is cancelled.
    let (status, doc) = server.get("/v1/markets", None);
    assert_eq!((status, doc["items"][0]["symbol"].as_str()), (200, Some("VCS1-2021")));
    let order = json!({ "instrument": "VCS1-2021", "account": DEV_ACC, "side": "sell", "quantity": 10, "price": "37.50" });
    let (status, doc) = server.post("/v1/orders", Some(&op), &order);
    assert_eq!((status, error_code(&doc)), (403, "forbidden"), "only members trade");
    let (status, doc) = server.post("/v1/orders", Some(&dev), &order);
    assert_eq!(status, 201, "{doc}");
    let order_id = doc["events"][0]["order"].as_u64().unwrap();
    assert_eq!(available(&server, &dev, DEV_ACC), (840, 10));
    let (status, doc) = server.get("/v1/markets/VCS1-2021/book", None);
    assert_eq!(status, 200, "{doc}");
    assert_eq!(
        (doc["asks"][0]["price"].as_str(), doc["asks"][0]["quantity"].as_u64()),
        (Some("37.50"), Some(10))
    );
    let (status, doc) = server.get(&format!("/v1/orders?account={DEV_ACC}"), Some(&dev));
    assert_eq!((status, doc["items"][0]["id"].as_u64()), (200, Some(order_id)), "{doc}");
    let off_tick = json!({ "instrument": "VCS1-2021", "account": DEV_ACC, "side": "sell", "quantity": 10, "price": "37.52" });
    let (status, doc) = server.post("/v1/orders", Some(&dev), &off_tick);
    assert_eq!((status, error_code(&doc)), (422, "price_off_tick"));
    let (status, doc) = server.get("/v1/markets/NOPE/book", None);
    assert_eq!((status, error_code(&doc)), (404, "unknown_instrument"));
    let (status, doc) = server.call("DELETE", &format!("/v1/orders/{order_id}"), Some(&dev), None);
    assert_eq!(status, 200, "{doc}");
    assert_eq!(doc["events"][0]["type"], "order_cancelled");
    assert_eq!(available(&server, &dev, DEV_ACC), (850, 0));
    let (status, doc) = server.call("DELETE", &format!("/v1/orders/{order_id}"), Some(&dev), None);
    assert_eq!((status, error_code(&doc)), (404, "unknown_order"));

    let (status, doc) = server.get("/v1/nowhere", None);
    assert_eq!((status, error_code(&doc)), (404, "unknown_route"));
    let (status, doc) = server.call("DELETE", "/v1/markets", None, None);
    assert_eq!((status, error_code(&doc)), (405, "method_not_allowed"));

    // An auditor reads every account and changes nothing.
    let (status, doc) = server.post(
        "/v1/organizations",
        Some(&op),
        &json!({ "name": "Audit Co", "role": "auditor" }),
    );
    assert_eq!(status, 201, "{doc}");
    let audit_org = doc["events"][0]["org"].as_u64().unwrap();
    let auditor =
        json!({ "username": "auditor", "password": "auditor-password", "organization": audit_org });
    assert_eq!(server.post("/v1/users", Some(&op), &auditor).0, 201);
    let aud = server.login("auditor", "auditor-password");
    assert_eq!(available(&server, &aud, DEV_ACC), (850, 0));
    assert_eq!(server.get(&format!("/v1/orders?account={DEV_ACC}"), Some(&aud)).0, 200);
    let one = json!({ "from": DEV_ACC, "to": buyer_acc, "issuance": 1, "quantity": 1 });
    for (path, body) in [
        ("/v1/transfers", &one),
        ("/v1/orders", &order),
        ("/v1/users", &json!({ "username": "x", "password": "xxxxxxxx", "organization": 1 })),
        ("/v1/accounts", &json!({ "organization": audit_org, "name": "mine" })),
    ] {
        let (status, doc) = server.post(path, Some(&aud), body);
        assert_eq!((status, error_code(&doc)), (403, "forbidden"), "auditor POST {path}");
    }
    // A member may not create users either.
    let (status, _) = server.post("/v1/users", Some(&dev), &auditor);
    assert_eq!(status, 403);

    // Logging out ends the session.
    let (status, doc) = server.call("DELETE", "/v1/sessions/current", Some(&aud), None);
    assert_eq!(status, 200, "{doc}");
    let (status, doc) = server.get(&format!("/v1/accounts/{DEV_ACC}/holdings"), Some(&aud));
    assert_eq!((status, error_code(&doc)), (401, "unauthenticated"));
    assert_eq!(available(&server, &dev, DEV_ACC), (850, 0));

    // Graceful shutdown closes the ledger; a restart on the same database keeps state and users.
    server.stop().unwrap();
    let server = Server::start(database);
    let dev = server.login("dev", "dev-password");
    assert_eq!(available(&server, &dev, DEV_ACC), (850, 0));
    server.stop().unwrap();
}

#[test]
fn an_idempotent_order_executes_once() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database);
    let op = server.login("operator", OPERATOR_PASSWORD);
    let user = json!({ "username": "dev", "password": "dev-password", "organization": DEV_ORG });
    assert_eq!(server.post("/v1/users", Some(&op), &user).0, 201);
    let dev = server.login("dev", "dev-password");

    let order = json!({ "instrument": "VCS1-2021", "account": DEV_ACC, "side": "sell", "quantity": 10, "price": "37.50" });
    let (status, first, replayed) = server.post_idempotent("/v1/orders", &dev, "order-1", &order);
    assert_eq!((status, replayed), (201, false), "{first}");
    let (status, again, replayed) = server.post_idempotent("/v1/orders", &dev, "order-1", &order);
    assert_eq!((status, replayed), (201, true));
    assert_eq!(again, first, "a retry gets the first reply");
    let (_, orders) = server.get(&format!("/v1/orders?account={DEV_ACC}"), Some(&dev));
    assert_eq!(orders["items"].as_array().unwrap().len(), 1, "executed once: {orders}");
    assert_eq!(available(&server, &dev, DEV_ACC), (990, 10));

    // The same key with another body is refused and changes nothing.
    let other = json!({ "instrument": "VCS1-2021", "account": DEV_ACC, "side": "sell", "quantity": 20, "price": "37.50" });
    let (status, doc, _) = server.post_idempotent("/v1/orders", &dev, "order-1", &other);
    assert_eq!((status, error_code(&doc)), (422, "idempotency_key_reused"));
    assert_eq!(available(&server, &dev, DEV_ACC), (990, 10));

    // Keys belong to their user: the operator's "order-1" is a different key.
    let (status, doc, replayed) = server.post_idempotent("/v1/orders", &op, "order-1", &order);
    assert_eq!((status, error_code(&doc), replayed), (403, "forbidden", false));
    server.stop().unwrap();
}

/// What a process leaves behind when it stops between claiming an idempotency key and recording
/// the reply: the claim row, unanswered, written the way `auth.rs` writes it (SHA-256 of
/// method, path and body).
/// Inserts a claimed, unanswered key as the writer of `epoch` would have left it.
fn leave_unanswered_claim(
    db: &std::path::Path,
    key: &str,
    path: &str,
    body: &Value,
    at_ms: i64,
    epoch: i64,
) {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    hasher.update("POST");
    hasher.update([0]);
    hasher.update(path);
    hasher.update([0]);
    hasher.update(body.to_string());
    let fingerprint: [u8; 32] = hasher.finalize().into();
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let inserted = conn
        .execute(
            "INSERT INTO server_idempotency (username, key, request_sha256, created_ms, writer_epoch)
             VALUES ('dev', ?1, ?2, ?3, ?4)",
            rusqlite::params![key, fingerprint.to_vec(), at_ms, epoch],
        )
        .unwrap();
    assert_eq!(inserted, 1);
}

fn wall_clock_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
    i64::try_from(since.as_millis()).unwrap()
}

/// Regression: a key claimed by a process that stopped before recording its reply used to be
/// answered "still running" (409 `idempotency_key_in_flight`) until it expired a day later, so
/// a client could neither learn the outcome nor tell it from a request really in progress.
#[test]
fn a_key_left_unanswered_by_a_stopped_server_is_reported_in_doubt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rasid.db");
    let database = DatabaseUrl::Sqlite(path.clone());
    seed(&database);
    let server = Server::start(database.clone());
    let op = server.login("operator", OPERATOR_PASSWORD);
    let user = json!({ "username": "dev", "password": "dev-password", "organization": DEV_ORG });
    assert_eq!(server.post("/v1/users", Some(&op), &user).0, 201);
    server.stop().unwrap();

    // The previous process claimed "crashed" and stopped; then this one starts.
    let order = json!({ "instrument": "VCS1-2021", "account": DEV_ACC, "side": "sell", "quantity": 10, "price": "37.50" });
    leave_unanswered_claim(&path, "crashed", "/v1/orders", &order, wall_clock_ms() - 1_000, 1);
    let server = Server::start(database);
    assert_ne!(server.app.writer_epoch(), 1, "a fresh epoch");
    let dev = server.login("dev", "dev-password");

    let (status, doc, replayed) = server.post_idempotent("/v1/orders", &dev, "crashed", &order);
    assert_eq!((status, error_code(&doc), replayed), (409, "idempotency_outcome_unknown", false));
    // The key still belongs to that request: another body is refused as before.
    let other = json!({ "instrument": "VCS1-2021", "account": DEV_ACC, "side": "sell", "quantity": 20, "price": "37.50" });
    let (status, doc, _) = server.post_idempotent("/v1/orders", &dev, "crashed", &other);
    assert_eq!((status, error_code(&doc)), (422, "idempotency_key_reused"));
    let (_, orders) = server.get(&format!("/v1/orders?account={DEV_ACC}"), Some(&dev));
    assert_eq!(orders["items"].as_array().unwrap().len(), 0, "nothing ran: {orders}");
    assert_eq!(available(&server, &dev, DEV_ACC), (1_000, 0));

    // A claim this process made itself and has not answered is still running, not in doubt,
    // whatever its time stamp.
    let epoch = server.app.writer_epoch();
    leave_unanswered_claim(&path, "running", "/v1/orders", &order, wall_clock_ms() - 60_000, epoch);
    let (status, doc, _) = server.post_idempotent("/v1/orders", &dev, "running", &order);
    assert_eq!((status, error_code(&doc)), (409, "idempotency_key_in_flight"));
    // Regression: a stopped writer whose clock ran ahead of this one's stamped its claim after
    // this process became the writer; comparing clocks called it still running. The epoch
    // says whose claim it is.
    leave_unanswered_claim(&path, "ahead", "/v1/orders", &order, wall_clock_ms() + 60_000, 1);
    let (status, doc, _) = server.post_idempotent("/v1/orders", &dev, "ahead", &order);
    assert_eq!((status, error_code(&doc)), (409, "idempotency_outcome_unknown"));

    // The client checks, finds nothing, and sends the order again under a new key: it runs once.
    let (status, doc, _) = server.post_idempotent("/v1/orders", &dev, "retry-1", &order);
    assert_eq!(status, 201, "{doc}");
    assert_eq!(available(&server, &dev, DEV_ACC), (990, 10));
    server.stop().unwrap();
}

#[test]
fn serials_are_located_publicly_by_number_or_registry_string() {
    let dir = tempfile::tempdir().unwrap();
    let database = DatabaseUrl::Sqlite(dir.path().join("rasid.db"));
    seed(&database);
    let server = Server::start(database);
    let (status, doc) = server.get("/v1/serials/1", None);
    assert_eq!((status, doc["status"].as_str()), (200, Some("held")), "{doc}");
    assert_eq!((&doc["account"], &doc["reserved"]), (&json!(DEV_ACC), &json!(false)));
    // A resting sell reserves the lowest serials. The holding only counts them; the serial is
    // found through the order that keeps it.
    let op = server.login("operator", OPERATOR_PASSWORD);
    let user = json!({ "username": "dev", "password": "dev-password", "organization": DEV_ORG });
    assert_eq!(server.post("/v1/users", Some(&op), &user).0, 201);
    let dev = server.login("dev", "dev-password");
    let order = json!({ "instrument": "VCS1-2021", "account": DEV_ACC, "side": "sell", "quantity": 10, "price": "37.50" });
    let (status, doc) = server.post("/v1/orders", Some(&dev), &order);
    assert_eq!(status, 201, "{doc}");
    let (status, doc) = server.get("/v1/serials/1", None);
    assert_eq!((status, doc["status"].as_str()), (200, Some("held")), "{doc}");
    assert_eq!((&doc["account"], &doc["reserved"]), (&json!(DEV_ACC), &json!(true)));
    let (status, doc) = server.get("/v1/serials/99999999999", None);
    assert_eq!((status, doc["status"].as_str()), (200, Some("not_issued")));
    // A well-formed Verra serial this ledger never imported, and a malformed one.
    let verra = "19309-936487628-936491271-VCS-VCU-1491-VER-RW-3-4150-01102024-31122024-1";
    let (status, doc) = server.get(&format!("/v1/serials/{verra}"), None);
    assert_eq!((status, error_code(&doc)), (404, "not_found"), "{doc}");
    let (status, doc) = server.get("/v1/serials/VCS-nonsense", None);
    assert_eq!(status, 400, "{doc}");
    server.stop().unwrap();
}
