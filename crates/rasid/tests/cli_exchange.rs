//! The exchange through the real binary: list an instrument, trade, see the book, the tape,
//! candles and daily prices, and the serials and cash that moved.

mod common;
use common::Rasid;
use serde_json::Value;

fn id(doc: &Value, key: &str) -> String {
    doc["events"][0][key].as_u64().unwrap().to_string()
}

#[test]
fn members_trade_on_the_cli_and_market_data_follows() {
    let r = Rasid::new();
    let seller = id(&r.ok(&["org", "create", "Almaty Forestry Fund"]), "org");
    let buyer = id(&r.ok(&["org", "create", "Gulf Aviation Group"]), "org");
    let sacc = id(&r.ok(&["account", "open", "--org", &seller, "Main"]), "account");
    let bacc = id(&r.ok(&["account", "open", "--org", &buyer, "Main"]), "account");
    let project = id(
        &r.ok(&[
            "project",
            "register",
            "--program",
            "VCS",
            "--id",
            "VCS9001",
            "--name",
            "Ile-Alatau",
            "--developer",
            &seller,
        ]),
        "project",
    );
    r.ok(&[
        "issue",
        "--project",
        &project,
        "--vintage",
        "2023",
        "--quantity",
        "1000",
        "--to",
        &sacc,
    ]);
    r.ok(&["cash", "deposit", "--account", &bacc, "--currency", "SAR", "--amount", "100000.00"]);
    let listed = r.ok(&[
        "instrument",
        "add",
        "--symbol",
        "VCS9001-2023",
        "--project",
        &project,
        "--vintage",
        "2023",
        "--tick",
        "0.05",
        "--lot",
        "10",
        "--reference",
        "37.50",
        "--min-fee",
        "1.00",
    ]);
    assert_eq!(listed["events"][0]["type"], "instrument_listed");

    let sell = r.ok(&[
        "order",
        "place",
        "--account",
        &sacc,
        "--instrument",
        "VCS9001-2023",
        "--side",
        "sell",
        "--price",
        "37.50",
        "--quantity",
        "300",
    ]);
    assert_eq!(sell["events"][1]["type"], "order_rested");
    let book = r.ok(&["market", "book", "VCS9001-2023"]);
    assert_eq!(book["asks"][0]["price"], "37.50");
    assert_eq!(book["asks"][0]["quantity"], 300);

    let buy = r.ok(&[
        "order",
        "place",
        "--account",
        &bacc,
        "--instrument",
        "VCS9001-2023",
        "--side",
        "buy",
        "--price",
        "38.00",
        "--quantity",
        "100",
    ]);
    let trade =
        buy["events"].as_array().unwrap().iter().find(|e| e["type"] == "trade").unwrap().clone();
    assert_eq!(trade["price"], "37.50");
    assert_eq!(trade["quantity"], 100);
    assert_eq!(trade["serials"][0]["serials"][0]["first"], 1);
    assert_eq!(trade["serials"][0]["serials"][0]["last"], 100);
    // 100 × 37.50 = 3,750.00; taker fee 20 bps = 7.50.
    assert_eq!(trade["buyer_fee"], "7.50");
    let h = r.ok(&["holdings", "--account", &bacc]);
    assert_eq!(h["holdings"][0]["available_tonnes"], 100);
    assert_eq!(h["cash"][0]["available"], "96242.50");

    // Buy-and-retire through the CLI, then the certificate data names the serials.
    let retire = r.ok(&[
        "order",
        "place",
        "--account",
        &bacc,
        "--instrument",
        "VCS9001-2023",
        "--side",
        "buy",
        "--market",
        "--quantity",
        "50",
        "--retire-for",
        "Gulf Aviation Group",
        "--purpose",
        "corsia",
    ]);
    let fill =
        retire["events"].as_array().unwrap().iter().find(|e| e["type"] == "trade").unwrap().clone();
    let ret = fill["retirements"][0].as_u64().unwrap().to_string();
    let shown = r.ok(&["retirement", "show", &ret]);
    assert_eq!(shown["serials"][0]["first"], 101);
    assert_eq!(shown["purpose"], "corsia");

    let tape = r.ok(&["market", "trades", "VCS9001-2023"]);
    assert_eq!(tape["trades"].as_array().unwrap().len(), 2);
    assert_eq!(tape["trades"][1]["price"], "37.50");
    let candles = r.ok(&["market", "candles", "VCS9001-2023", "--interval", "1d"]);
    assert_eq!(candles["candles"][0]["volume"], 150);
    let daily = r.ok(&["market", "daily", "VCS9001-2023"]);
    assert_eq!(daily["days"][0]["vwap"], "37.50");

    let open = r.ok(&["order", "list", "--account", &sacc]);
    assert_eq!(open["orders"][0]["remaining"], 150);
    let order = open["orders"][0]["id"].as_u64().unwrap().to_string();
    let (_, code) = r.fails(&["order", "cancel", &order, "--as", &buyer]);
    assert_eq!(code, "unauthorized");
    r.ok(&["order", "cancel", &order]);
    assert!(r.ok(&["order", "list", "--account", &sacc])["orders"].as_array().unwrap().is_empty());
    let (_, code) = r.fails(&[
        "order",
        "place",
        "--account",
        &bacc,
        "--instrument",
        "VCS9001-2023",
        "--side",
        "buy",
        "--price",
        "37.51",
        "--quantity",
        "10",
    ]);
    assert_eq!(code, "price_off_tick");
    r.ok(&["instrument", "halt", "VCS9001-2023"]);
    let (_, code) = r.fails(&[
        "order",
        "place",
        "--account",
        &bacc,
        "--instrument",
        "ins1",
        "--side",
        "buy",
        "--price",
        "37.50",
        "--quantity",
        "10",
    ]);
    assert_eq!(code, "instrument_halted");
    assert_eq!(r.ok(&["verify"])["ok"], true);
}

#[test]
fn a_basket_is_defined_filled_by_deposits_and_traded() {
    let r = Rasid::new();
    let seller = id(&r.ok(&["org", "create", "Nature Fund"]), "org");
    let buyer = id(&r.ok(&["org", "create", "Airline"]), "org");
    let sacc = id(&r.ok(&["account", "open", "--org", &seller, "Main"]), "account");
    let bacc = id(&r.ok(&["account", "open", "--org", &buyer, "Main"]), "account");
    let p1 = id(
        &r.ok(&[
            "project",
            "register",
            "--program",
            "VCS",
            "--id",
            "VCS1",
            "--name",
            "Mangroves",
            "--developer",
            &seller,
            "--country",
            "Saudi Arabia",
            "--basis",
            "nature",
            "--effect",
            "removal",
        ]),
        "project",
    );
    let p2 = id(
        &r.ok(&[
            "project",
            "register",
            "--program",
            "VCS",
            "--id",
            "VCS2",
            "--name",
            "Wind",
            "--developer",
            &seller,
            "--country",
            "India",
        ]),
        "project",
    );
    let i1 = id(
        &r.ok(&[
            "issue",
            "--project",
            &p1,
            "--vintage",
            "2022",
            "--quantity",
            "500",
            "--to",
            &sacc,
        ]),
        "issuance",
    );
    let i2 = id(
        &r.ok(&[
            "issue",
            "--project",
            &p2,
            "--vintage",
            "2022",
            "--quantity",
            "500",
            "--to",
            &sacc,
        ]),
        "issuance",
    );
    r.ok(&["cash", "deposit", "--account", &bacc, "--currency", "USD", "--amount", "100000.00"]);
    let basket = id(
        &r.ok(&[
            "basket",
            "create",
            "Nature Removals",
            "--bases",
            "nature",
            "--effects",
            "removal",
            "--vintage-min",
            "2020",
        ]),
        "basket",
    );
    r.ok(&[
        "instrument",
        "add",
        "--symbol",
        "NRX",
        "--basket",
        &basket,
        "--currency",
        "USD",
        "--tick",
        "0.01",
        "--reference",
        "20.00",
    ]);
    let (_, code) = r.fails(&[
        "basket",
        "deposit",
        &basket,
        "--account",
        &sacc,
        "--issuance",
        &i2,
        "--quantity",
        "100",
    ]);
    assert_eq!(code, "basket_category");
    r.ok(&[
        "basket",
        "deposit",
        &basket,
        "--account",
        &sacc,
        "--issuance",
        &i1,
        "--quantity",
        "300",
        "--priority",
        "1",
    ]);
    r.ok(&[
        "order",
        "place",
        "--account",
        &sacc,
        "--instrument",
        "NRX",
        "--side",
        "sell",
        "--price",
        "20.00",
        "--quantity",
        "200",
    ]);
    let buy = r.ok(&[
        "order",
        "place",
        "--account",
        &bacc,
        "--instrument",
        "NRX",
        "--side",
        "buy",
        "--price",
        "20.00",
        "--quantity",
        "150",
    ]);
    let trade =
        buy["events"].as_array().unwrap().iter().find(|e| e["type"] == "trade").unwrap().clone();
    assert_eq!(trade["serials"][0]["issuance"].as_u64().unwrap().to_string(), i1);
    assert_eq!(trade["serials"][0]["serials"][0]["last"], 150);
    assert_eq!(
        (trade["serials"][0]["project"].as_str(), trade["serials"][0]["vintage"].as_u64()),
        (Some("VCS1"), Some(2022))
    );
    let baskets = r.ok(&["basket", "list"]);
    assert_eq!(baskets["baskets"][0]["free_deposited_tonnes"], 100);
    let markets = r.ok(&["instrument", "list"]);
    assert_eq!(markets["instruments"][0]["basket_name"], "Nature Removals");
    let returned =
        r.ok(&["basket", "criteria", &basket, "--bases", "nature", "--vintage-min", "2023"]);
    assert!(
        returned["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "basket_deposit_returned" && e["quantity"] == 100)
    );
    assert_eq!(r.ok(&["verify"])["ok"], true);
}
