//! The OpenAPI 3.1 document, generated from the route table (`routes::table`): every route the
//! router serves is an operation here, with its roles (`x-roles`, also in the description), its
//! path and query parameters, its request and response schemas and its error responses.

use crate::routes::table::{self, Access};
use serde_json::{Map, Value, json};

/// A property: `(name, JSON schema type or $ref name, required, description)`.
type Prop = (&'static str, &'static str, bool, &'static str);

fn object(props: &[Prop]) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, ty, req, description) in props {
        // Every object is a named schema with its members (`Name`, `Name?` when it may be null,
        // `[Name]` for arrays of it); `map` is the one deliberately free-form object.
        let schema = match *ty {
            "string" | "integer" | "boolean" => json!({ "type": ty }),
            "map" => json!({ "type": "object", "additionalProperties": true }),
            "integer?" => json!({ "type": ["integer", "null"] }),
            "string?" => json!({ "type": ["string", "null"] }),
            "[string]" => json!({ "type": "array", "items": { "type": "string" } }),
            "[integer]" => json!({ "type": "array", "items": { "type": "integer" } }),
            other if other.starts_with('[') => json!({
                "type": "array",
                "items": { "$ref": format!("#/components/schemas/{}", other.trim_matches(['[', ']'])) },
            }),
            other if other.ends_with('?') => json!({
                "oneOf": [
                    { "$ref": format!("#/components/schemas/{}", other.trim_end_matches('?')) },
                    { "type": "null" },
                ],
            }),
            other => json!({ "$ref": format!("#/components/schemas/{other}") }),
        };
        let mut schema = schema;
        if !description.is_empty() {
            schema["description"] = json!(description);
        }
        properties.insert((*name).to_owned(), schema);
        if *req {
            required.push(*name);
        }
    }
    json!({ "type": "object", "properties": properties, "required": required })
}

fn page_of(item: &str) -> Value {
    json!({
        "type": "object",
        "required": ["items", "next_cursor"],
        "properties": {
            "items": { "type": "array", "items": { "$ref": format!("#/components/schemas/{item}") } },
            "next_cursor": { "type": ["string", "null"], "description": "Pass as `cursor` for the next page; null on the last" },
        },
    })
}

const MONEY: &str = "decimal string in the currency, e.g. \"37.50\"";

#[rustfmt::skip]
fn schemas() -> Map<String, Value> {
    let mut m = Map::new();
    let mut add = |name: &str, v: Value| {
        m.insert(name.to_owned(), v);
    };
    add("Error", json!({
        "type": "object", "required": ["error"],
        "properties": { "error": object(&[("code", "string", true, "Stable machine-readable code"), ("message", "string", true, ""), ("details", "map", true, "Facts about the error that depend on its code (e.g. `writer` for not_writer); {} when none")]) },
    }));
    add("Range", object(&[("first", "integer", true, "First serial"), ("last", "integer", true, "Last serial, inclusive"), ("quantity", "integer", false, "Tonnes (replies only)")]));
    add("Committed", object(&[("seq", "integer", true, "Journal sequence number of the command"), ("time", "string", true, "RFC 3339"), ("events", "[Event]", true, "What the command did")]));
    add("Health", object(&[("status", "string", true, "\"ok\""), ("seq", "integer", true, "Last durable record"), ("role", "string", false, "writer or follower (PostgreSQL HA)"), ("term", "integer?", false, "Writer lease term")]));
    add("OpenApi", json!({
        "type": "object", "description": "This document (OpenAPI 3.1)", "required": ["openapi", "info", "paths", "components"],
        "properties": {
            "openapi": { "type": "string" },
            "info": { "type": "object", "additionalProperties": true, "description": "Title, version, description" },
            "paths": { "type": "object", "additionalProperties": true, "description": "Path → method → operation" },
            "components": { "type": "object", "additionalProperties": true, "description": "Schemas and security schemes" },
        },
    }));
    add("Event", json!({
        "type": "object", "required": ["type"], "additionalProperties": true,
        "description": "One thing a command did. The other members depend on `type` and name what it touched by id (account, issuance, order, trade, …), with quantities in tonnes, serials as [Range] and prices as decimal strings",
        "properties": { "type": { "type": "string", "description": "organization_created, account_opened, project_registered, issued, labels_set, transferred, retired, cancelled, cash_deposited, cash_withdrawn, cash_transferred, instrument_listed, instrument_status_changed, reference_price_set, order_accepted, order_rested, order_amended, order_cancelled, traded, auction_created, bid_placed, bid_changed, bid_withdrawn, lot_cleared, auction_closed, basket_created, basket_criteria_set, project_rated, basket_deposited, basket_withdrawn or basket_deposit_returned" } },
    }));
    add("LoginRequest", object(&[("username", "string", true, ""), ("password", "string", true, "")]));
    add("Session", object(&[("token", "string", true, "Bearer token"), ("token_type", "string", true, ""), ("expires_in_s", "integer", true, "")]));
    add("Ended", object(&[("ended", "boolean", true, "")]));
    add("NewUser", object(&[("username", "string", true, "a–z, 0–9, . _ -"), ("password", "string", true, "8–1024 bytes"), ("organization", "integer", true, "")]));
    add("User", object(&[("username", "string", true, ""), ("organization", "integer", true, ""), ("role", "string", true, "")]));
    add("Organization", object(&[("id", "integer", true, ""), ("name", "string", true, ""), ("role", "string", true, "operator, registrar, member or auditor")]));
    add("Account", object(&[("id", "integer", true, ""), ("org", "integer", true, ""), ("name", "string", true, ""), ("kind", "string", true, "holding, fees or bufferpool"), ("cash", "[Balance]", false, "Single account only"), ("holdings", "[HoldingBrief]", false, "Single account only"), ("open_orders", "integer", false, "")]));
    add("Me", object(&[("user", "string", true, ""), ("username", "string", true, "Same as user"), ("organization", "Organization", true, ""), ("role", "string", true, ""), ("accounts", "[Account]", true, "")]));
    add("NewOrganization", object(&[("name", "string", true, ""), ("role", "string", true, "operator, registrar, member or auditor")]));
    add("NewAccount", object(&[("organization", "integer", true, ""), ("name", "string", true, "")]));
    add("Balance", object(&[("currency", "string", true, "SAR, USD, EUR or AED"), ("available", "string", true, MONEY), ("reserved", "string", true, MONEY)]));
    add("Cash", object(&[("account", "integer", true, ""), ("balances", "[Balance]", true, "")]));
    add("Holdings", object(&[("account", "integer", true, ""), ("org", "integer", true, ""), ("holdings", "[Holding]", true, "Per issuance: available/reserved tonnes and serial ranges"), ("cash", "[Balance]", true, "")]));
    add("Project", object(&[("id", "integer", true, ""), ("program", "string", true, ""), ("external_id", "string", true, ""), ("name", "string", true, ""), ("methodology", "string", true, ""), ("country", "string", true, ""), ("region", "string", true, ""), ("scope", "string", true, ""), ("type", "string", true, ""), ("effect", "string", true, ""), ("basis", "string", true, ""), ("developer", "integer", true, ""), ("rating", "integer?", false, "Single project only"), ("issuances", "[integer]", false, "Single project only")]));
    add("NewProject", object(&[("program", "string", true, "VCS, GS, ACR, CAR, ART, PURO, ISOMETRIC, CERCARBONO, NATIVE"), ("external_id", "string", true, ""), ("name", "string", true, ""), ("methodology", "string", false, ""), ("country", "string", true, ""), ("region", "string", false, ""), ("scope", "string", false, ""), ("project_type", "string", false, ""), ("effect", "string", false, "reduction (default), removal or mixed"), ("basis", "string", false, "technology (default) or nature"), ("developer", "integer", true, "Organization id")]));
    add("Rating", object(&[("rating", "integer?", true, "0–100, or null to clear")]));
    add("Labels", object(&[("corsia", "string?", false, "pilot, first or second"), ("ccp", "boolean", false, ""), ("article6", "Article6?", false, "")]));
    add("Issuance", object(&[("id", "integer", true, ""), ("project", "integer", true, ""), ("vintage", "integer", true, ""), ("block", "[Range]", true, ""), ("quantity", "integer", true, ""), ("retired_tonnes", "integer", true, ""), ("cancelled_tonnes", "integer", true, ""), ("buffer_tonnes", "integer", true, ""), ("external_ref", "string?", true, ""), ("labels", "Labels", true, ""), ("issued", "string", true, "")]));
    add("NewIssuance", object(&[("project", "integer", true, ""), ("vintage", "integer", true, "Year"), ("quantity", "integer", true, "Tonnes, > 0"), ("buffer", "integer", false, "Tonnes to the buffer pool"), ("to_account", "integer", true, ""), ("first_serial", "integer?", false, "Imports only"), ("external_ref", "string?", false, "")]));
    add("Transfer", object(&[("from", "integer", true, ""), ("to", "integer", true, ""), ("issuance", "integer", true, ""), ("quantity", "integer", false, "Exactly one of quantity and ranges"), ("ranges", "[Range]", false, "")]));
    add("Retire", object(&[("account", "integer", true, ""), ("issuance", "integer", true, ""), ("quantity", "integer", false, "Exactly one of quantity and ranges"), ("ranges", "[Range]", false, ""), ("beneficiary", "string", true, ""), ("purpose", "string", true, "voluntary, corsia, ndc or other"), ("using_entity", "string", false, ""), ("note", "string", false, "")]));
    add("Cancel", object(&[("account", "integer", true, ""), ("issuance", "integer", true, ""), ("quantity", "integer", false, "Exactly one of quantity and ranges"), ("ranges", "[Range]", false, ""), ("reason", "string", true, "")]));
    add("Retirement", object(&[("id", "integer", true, ""), ("account", "integer", true, ""), ("issuance", "integer", true, ""), ("project", "RetirementProject", true, ""), ("vintage", "integer", true, ""), ("quantity", "integer", true, ""), ("serials", "[Range]", true, ""), ("beneficiary", "string", true, ""), ("purpose", "string", true, ""), ("using_entity", "string", true, ""), ("note", "string", true, ""), ("time", "string", true, ""), ("seq", "integer", true, "Journal record of the retirement")]));
    add("CertificateHtml", json!({ "type": "string", "contentMediaType": "text/html", "description": "Printable HTML, Arabic and English" }));
    add("SerialLocation", object(&[("serial", "integer", false, ""), ("status", "string", true, "not_issued, held, retired or cancelled")]));
    add("Stats", object(&[("issued_tonnes", "integer", true, ""), ("retired_tonnes", "integer", true, ""), ("cancelled_tonnes", "integer", true, ""), ("held_tonnes", "integer", true, ""), ("buffer_tonnes", "integer", true, ""), ("trades", "integer", true, "Trades executed"), ("traded_tonnes", "integer", true, "Tonnes traded on the exchange"), ("projects", "integer", true, ""), ("issuances", "integer", true, ""), ("instruments", "integer", true, ""), ("open_orders", "integer", true, ""), ("baskets", "integer", true, ""), ("auctions", "integer", true, "")]));
    add("CashMovement", object(&[("account", "integer", true, ""), ("currency", "string", true, ""), ("amount", "string", true, MONEY)]));
    add("CashTransfer", object(&[("from", "integer", true, ""), ("to", "integer", true, ""), ("currency", "string", true, ""), ("amount", "string", true, MONEY)]));
    add("Market", object(&[("id", "integer", true, ""), ("symbol", "string", true, ""), ("currency", "string", true, ""), ("status", "string", true, "open, halted or closed"), ("reference_price", "string", true, MONEY)]));
    add("Book", object(&[("instrument", "integer", true, ""), ("symbol", "string", true, ""), ("currency", "string", true, ""), ("bids", "[Level]", true, "Best (highest) first"), ("asks", "[Level]", true, "Best (lowest) first")]));
    add("Instrument", object(&[("id", "integer", true, ""), ("symbol", "string", true, ""), ("status", "string", true, ""), ("project", "integer?", true, ""), ("project_external_id", "string?", true, ""), ("vintage", "integer?", true, ""), ("basket", "integer?", true, ""), ("basket_name", "string?", true, ""), ("currency", "string", true, ""), ("tick", "string", true, MONEY), ("lot_tonnes", "integer", true, ""), ("band_bps", "integer", true, ""), ("band", "Band", true, ""), ("reference_price", "string", true, MONEY), ("fees", "Fees", true, ""), ("best_bid", "string?", true, ""), ("best_ask", "string?", true, "")]));
    add("NewInstrument", object(&[("symbol", "string", true, ""), ("project", "integer", false, "With vintage"), ("vintage", "integer", false, ""), ("basket", "integer", false, "Instead of project and vintage"), ("currency", "string", false, "Default SAR"), ("tick", "string", false, "Default 0.05"), ("lot_tonnes", "integer", false, "Default 1 (alias: lot)"), ("band_bps", "integer", false, "Default 2000 (±20%)"), ("reference_price", "string", true, MONEY), ("maker_bps", "integer", false, "Default 10"), ("taker_bps", "integer", false, "Default 20"), ("min_fee", "string", false, "Default 0")]));
    add("Price", object(&[("price", "string", true, MONEY)]));
    add("SessionClose", object(&[("instrument", "string?", false, "Id or symbol; all instruments when absent")]));
    add("NewOrder", object(&[("instrument", "string", true, "Id or symbol"), ("account", "integer", true, ""), ("side", "string", true, "buy or sell"), ("quantity", "integer", true, "Tonnes"), ("price", "string", false, "Limit price; absent for a market order"), ("time_in_force", "string", false, "gtc, day, gtd, ioc or fok (default gtc with a price, ioc without)"), ("expires_at", "string", false, "RFC 3339 UTC, with gtd"), ("post_only", "boolean", false, ""), ("client_order_id", "string", false, ""), ("self_trade", "string", false, "cancel_resting, cancel_incoming or cancel_both"), ("retire", "RetireFor", false, "Buy and retire: the credits bought are retired for this beneficiary")]));
    add("Order", object(&[("id", "integer", true, ""), ("instrument", "integer", true, ""), ("account", "integer", true, ""), ("side", "string", true, ""), ("price", "string", true, MONEY), ("currency", "string", true, ""), ("quantity", "integer", true, ""), ("remaining", "integer", true, ""), ("time_in_force", "string", true, ""), ("client_order_id", "string?", true, "")]));
    add("Amend", object(&[("quantity", "integer", false, "New remaining tonnes"), ("price", "string", false, MONEY)]));
    add("BasketCriteria", object(&[("programs", "[string]", false, ""), ("effects", "[string]", false, ""), ("bases", "[string]", false, ""), ("project_types", "[string]", false, ""), ("places", "[string]", false, ""), ("vintage_min", "integer?", false, ""), ("vintage_max", "integer?", false, ""), ("corsia", "string?", false, ""), ("ccp", "boolean", false, ""), ("article6_authorised", "boolean", false, ""), ("rating_min", "integer?", false, "")]));
    add("Basket", object(&[("id", "integer", true, ""), ("name", "string", true, ""), ("criteria", "BasketCriteria", true, ""), ("free_deposited_tonnes", "integer", true, ""), ("mine", "BasketMine", false, "The caller's own deposits (authenticated)")]));
    add("NewBasket", object(&[("name", "string", true, ""), ("criteria", "BasketCriteria", false, "")]));
    add("BasketDeposit", object(&[("account", "integer", true, ""), ("issuance", "integer", true, ""), ("quantity", "integer", true, ""), ("priority", "integer", false, "Lower is delivered first")]));
    add("BasketWithdrawal", object(&[("account", "integer", true, ""), ("issuance", "integer", true, ""), ("quantity", "integer", true, "")]));
    add("Auction", object(&[("id", "integer", true, ""), ("name", "string", true, ""), ("rule", "string", true, "uniform_price or pay_as_bid"), ("status", "string", true, "open or closed"), ("opens", "string", true, ""), ("closes", "string", true, ""), ("approved_bidders", "integer", true, "How many"), ("lots", "[Lot]", true, "Public lot terms and, once closed, results"), ("mine", "AuctionMine", false, "The caller's own bids and allocations")]));
    add("NewAuction", object(&[("name", "string", true, ""), ("rule", "string", true, "uniform_price or pay_as_bid"), ("opens_at", "string", false, "RFC 3339 UTC; now when absent"), ("closes_at", "string", true, "RFC 3339 UTC"), ("approved_bidders", "[integer]", false, "Organization ids; empty: every member"), ("lots", "[NewLot]", true, "")]));
    add("NewBid", object(&[("lot", "integer", true, ""), ("account", "integer", true, ""), ("price", "string", true, MONEY), ("quantity", "integer", true, "")]));
    add("ChangeBid", object(&[("price", "string", false, MONEY), ("quantity", "integer", false, "")]));
    add("AuctionResults", object(&[("auction", "integer", true, ""), ("status", "string", true, ""), ("lots", "[LotResults]", true, ""), ("mine", "AuctionResultsMine", false, "The caller's own allocations")]));
    add("Trade", object(&[("trade", "integer", true, "Trade id"), ("instrument", "integer", true, ""), ("time", "string", true, "RFC 3339"), ("currency", "string", true, "The instrument's currency"), ("price", "string", true, MONEY), ("quantity", "integer", true, "Tonnes"), ("aggressor", "string", true, "buy or sell: the side that took liquidity")]));
    add("Candle", object(&[("instrument", "integer", true, ""), ("interval", "string", true, "1m, 1h or 1d"), ("start", "string", true, "RFC 3339"), ("currency", "string", true, "The instrument's currency"), ("open", "string", true, MONEY), ("high", "string", true, MONEY), ("low", "string", true, MONEY), ("close", "string", true, MONEY), ("volume", "integer", true, "Tonnes"), ("trades", "integer", true, "")]));
    add("ApiKey", object(&[("id", "integer", true, ""), ("name", "string", true, ""), ("prefix", "string", true, "The secret's first characters, to tell keys apart"), ("created", "string", true, "RFC 3339"), ("revoked", "string?", true, "RFC 3339, or null while the key works")]));
    add("NewApiKey", object(&[("name", "string", true, "1–64 bytes")]));
    add("NewApiKeySecret", object(&[("id", "integer", true, ""), ("name", "string", true, ""), ("prefix", "string", true, ""), ("created", "string", true, "RFC 3339"), ("revoked", "string?", true, "null"), ("secret", "string", true, "rk_…: use as a bearer token; shown only now")]));
    add("Revoked", object(&[("id", "integer", true, ""), ("revoked", "boolean", true, "true")]));
    add("HoldingBrief", object(&[("issuance", "integer", true, ""), ("available_tonnes", "integer", true, ""), ("reserved_tonnes", "integer", true, "Held for open orders, auction lots and basket deposits")]));
    add("Holding", object(&[("issuance", "integer", true, ""), ("project", "string", true, "The project's external id"), ("vintage", "integer", true, ""), ("available_tonnes", "integer", true, ""), ("reserved_tonnes", "integer", true, "Held for open orders, auction lots and basket deposits"), ("available", "[Range]", true, ""), ("reserved", "[Range]", true, "")]));
    add("Article6", object(&[("authorization_ref", "string", true, ""), ("ca_status", "string", true, "not_required, committed, pending or completed")]));
    add("RetirementProject", object(&[("id", "integer", true, ""), ("external_id", "string", true, ""), ("name", "string", true, ""), ("country", "string", true, "")]));
    add("Level", object(&[("price", "string", true, MONEY), ("quantity", "integer", true, "Tonnes at this price"), ("orders", "integer", true, "Orders at this price")]));
    add("Band", object(&[("low", "string", true, MONEY), ("high", "string", true, MONEY)]));
    add("Fees", object(&[("maker_bps", "integer", true, ""), ("taker_bps", "integer", true, ""), ("min_fee", "string", true, MONEY)]));
    add("RetireFor", object(&[("beneficiary", "string", true, ""), ("purpose", "string", true, "voluntary, corsia, ndc or other"), ("using_entity", "string", false, ""), ("note", "string", false, "")]));
    add("BasketMine", object(&[("deposits", "[OwnDeposit]", true, "")]));
    add("OwnDeposit", object(&[("account", "integer", true, ""), ("issuance", "integer", true, ""), ("priority", "integer", true, "Lower is delivered first"), ("free_tonnes", "integer", true, ""), ("free", "[Range]", true, "")]));
    add("Lot", object(&[("lot", "integer", true, "Index in the auction"), ("instrument", "integer", true, ""), ("symbol", "string?", true, ""), ("quantity_tonnes", "integer", true, ""), ("reserve_price", "string", true, MONEY), ("currency", "string", true, ""), ("min_bid_tonnes", "integer", true, ""), ("increment_tonnes", "integer", true, ""), ("guaranteed_bidders", "integer", true, "How many"), ("result", "LotResult?", true, "After close")]));
    add("LotResult", object(&[("clearing_price", "string?", true, MONEY), ("sold_tonnes", "integer", true, ""), ("returned_tonnes", "integer", true, ""), ("bids", "integer", true, "How many"), ("bidders", "integer", true, "How many"), ("demand_curve", "[DemandPoint]", true, "Anonymous")]));
    add("DemandPoint", object(&[("price", "string", true, MONEY), ("cumulative_tonnes", "integer", true, "Tonnes bid at this price or higher")]));
    add("AuctionMine", object(&[("org", "integer", true, ""), ("bids", "[OwnBid]", true, "While open"), ("allocations", "[Allocation]", true, "After close")]));
    add("OwnBid", object(&[("id", "integer", true, ""), ("bid", "integer", true, "Same as id"), ("lot", "integer", true, ""), ("account", "integer", true, ""), ("price", "string", true, MONEY), ("quantity", "integer", true, ""), ("reserved_cash", "string", true, MONEY)]));
    add("Allocation", object(&[("lot", "integer", true, ""), ("bid", "integer", true, ""), ("account", "integer", true, ""), ("quantity", "integer", true, ""), ("price", "string", true, MONEY), ("guaranteed_tonnes", "integer", true, ""), ("fee", "string", true, MONEY), ("serials", "[IssuanceSerials]", true, "")]));
    add("IssuanceSerials", object(&[("issuance", "integer", true, ""), ("serials", "[Range]", true, "")]));
    add("LotResults", object(&[("lot", "integer", true, ""), ("symbol", "string?", true, ""), ("currency", "string", true, ""), ("result", "LotResult?", true, "")]));
    add("AuctionResultsMine", object(&[("allocations", "[Allocation]", true, "")]));
    add("NewLot", object(&[("instrument", "string", true, "Id or symbol"), ("seller", "integer", true, "Account id"), ("quantity", "integer", true, "Tonnes"), ("reserve_price", "string", true, MONEY), ("min_bid", "integer", false, "Default: the increment"), ("increment", "integer", false, "Default: the instrument's lot"), ("guaranteed", "[Guarantee]", false, "")]));
    add("Guarantee", object(&[("org", "integer", true, "Organization id"), ("tonnes", "integer", true, "")]));
    add("WebSocket", json!({ "type": "string", "description": "Answered with 101 Switching Protocols. Client messages: {\"op\":\"subscribe\"|\"unsubscribe\",\"channel\":C}, {\"op\":\"auth\",\"token\":T}. Channels: book:{instrument}, trades:{instrument}, candles:{instrument}:{1m|1h|1d}, auction:{id}; private: orders, fills, balances. Server messages: {\"channel\",\"seq\",\"type\":\"snapshot\"|\"update\",\"data\"}." }));
    add("Metrics", json!({ "type": "string", "description": "Prometheus text exposition format 0.0.4" }));
    for (page, item) in [
        ("OrganizationPage", "Organization"),
        ("AccountPage", "Account"),
        ("ProjectPage", "Project"),
        ("IssuancePage", "Issuance"),
        ("RetirementPage", "Retirement"),
        ("MarketPage", "Market"),
        ("InstrumentPage", "Instrument"),
        ("OrderPage", "Order"),
        ("BasketPage", "Basket"),
        ("AuctionPage", "Auction"),
        ("TradePage", "Trade"),
        ("CandlePage", "Candle"),
        ("ApiKeyPage", "ApiKey"),
    ] {
        m.insert(page.to_owned(), page_of(item));
    }
    m
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in table::routes() {
        let mut parameters: Vec<Value> = route
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        parameters.extend(route.query.iter().map(|(name, description)| {
            json!({ "name": name, "in": "query", "required": false, "description": description, "schema": { "type": "string" } })
        }));
        let roles = route.access.roles();
        let who = match route.access {
            Access::Public => "Public.".to_owned(),
            Access::PublicOrCaller => {
                "Public; a bearer token adds the caller's own view.".to_owned()
            }
            Access::Authenticated => "Any authenticated role.".to_owned(),
            Access::Roles(_) => format!("Roles: {}.", roles.join(", ")),
            Access::RolesOrScrapeToken(_) => format!(
                "Roles: {}; or the scrape token set with --metrics-token (RASID_METRICS_TOKEN) as the bearer token.",
                roles.join(", ")
            ),
        };
        let media = match route.response {
            "CertificateHtml" => "text/html",
            "Metrics" => "text/plain",
            _ => "application/json",
        };
        let mut responses = Map::new();
        let success = if route.status == 101 {
            // An upgrade has no body: the connection becomes the WebSocket the schema describes.
            json!({
                "description": format!(
                    "Switching Protocols: the connection becomes a WebSocket. {}",
                    schemas()[route.response]["description"].as_str().unwrap_or_default()
                ),
            })
        } else {
            json!({
                "description": route.summary,
                "content": { media: { "schema": { "$ref": format!("#/components/schemas/{}", route.response) } } },
            })
        };
        responses.insert(route.status.to_string(), success);
        responses.insert("400".into(), error_response("Malformed input"));
        if route.access.needs_token() || route.access == Access::PublicOrCaller {
            responses.insert("401".into(), error_response("Missing, invalid or expired token"));
        }
        if route.access.needs_token() {
            responses
                .insert("403".into(), error_response("The role or object is not the caller's"));
        }
        responses.insert("404".into(), error_response("Unknown id"));
        if route.request.is_some() {
            responses.insert("409".into(), error_response("Conflicts with the ledger's state"));
            responses.insert("413".into(), error_response("Body too large"));
            responses.insert("422".into(), error_response("Refused by a domain rule"));
            responses.insert(
                "503".into(),
                error_response(
                    "not_writer: this server follows another (PostgreSQL high availability); \
                     details.writer names the writer's address, retry there. Also while shutting down",
                ),
            );
        }
        // Grouped by the first path segment: accounts, orders, auctions, …
        let tag = route.path.trim_start_matches("/v1/").split('/').next().unwrap_or("");
        let mut op = json!({
            "operationId": operation_id(route.method.as_str(), route.path),
            "tags": [tag],
            "summary": route.summary,
            "description": format!("{} {who}", route.summary),
            "x-roles": roles,
            "parameters": parameters,
            "responses": responses,
        });
        if let Some(request) = route.request {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{request}") } } },
            });
        }
        if route.access.needs_token() {
            op["security"] = json!([{ "bearer": [] }]);
        } else if route.access == Access::PublicOrCaller {
            op["security"] = json!([{}, { "bearer": [] }]);
        }
        let item = paths.entry(route.path.to_owned()).or_insert_with(|| json!({}));
        item[route.method.as_str().to_lowercase()] = op;
    }
    // The web UI (`rasid_web::router`, merged into the server's router): its pages answer the
    // application's HTML and its assets the embedded files. Public, outside `/v1`.
    let web_pages = rasid_web::PAGES.iter().map(|p| {
        (*p, "A page of the web UI (index.html; the application renders the view)", "text/html")
    });
    let web_files = [
        ("/assets/{path}", "An embedded file of the web UI", "application/octet-stream"),
        ("/favicon.ico", "The icon", "image/svg+xml"),
    ];
    for (path, summary, media) in web_pages.chain(web_files) {
        let parameters: Vec<Value> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        paths.insert(path.to_owned(), json!({ "get": {
            "operationId": format!("web_{}", operation_id("get", path)),
            "summary": summary,
            "description": format!("{summary}. Public."),
            "tags": ["web"],
            "x-roles": Access::Public.roles(),
            "parameters": parameters,
            "responses": {
                "200": { "description": summary, "content": { media: { "schema": { "type": "string" } } } },
                "304": { "description": "Not modified (ETag)" },
                "404": { "description": "No such asset" },
            },
        } }));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Rasid API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Carbon credit registry and exchange. Errors are {\"error\":{\"code\",\"message\",\"details\"}}. \
    POSTs accept an Idempotency-Key header. Lists are {\"items\",\"next_cursor\"} with ?cursor=&limit= (1–500, default 100).",
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "description": "A session token from POST /v1/sessions, or an API key (rk_…) from POST /v1/api-keys" } },
        },
    })
}

/// `GET /v1/auctions/{id}/bids/{bid}` → `get_auctions_id_bids_bid`.
fn operation_id(method: &str, path: &str) -> String {
    let rest: Vec<&str> =
        path.trim_start_matches("/v1/").split('/').map(|s| s.trim_matches(['{', '}'])).collect();
    format!("{}_{}", method.to_lowercase(), rest.join("_")).replace(['-', '.'], "_")
}
