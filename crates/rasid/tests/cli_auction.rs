//! An auction run by hand through the real binary: sealed bids, close, public results and
//! each bidder's private allocation.

mod common;
use common::Rasid;
use serde_json::Value;

fn id(doc: &Value, key: &str) -> String {
    doc["events"][0][key].as_u64().unwrap().to_string()
}

#[test]
fn an_auction_by_hand_with_sealed_bids_and_public_results() {
    let r = Rasid::new();
    let seller = id(&r.ok(&["org", "create", "Tashkent Solar LLC"]), "org");
    let sacc = id(&r.ok(&["account", "open", "--org", &seller, "Main"]), "account");
    let mut bidders = Vec::new();
    for name in ["Riyadh Buyer Co", "Jeddah Cement", "Dammam Airways"] {
        let org = id(&r.ok(&["org", "create", name]), "org");
        let acc = id(&r.ok(&["account", "open", "--org", &org, "Main"]), "account");
        r.ok(&[
            "cash",
            "deposit",
            "--account",
            &acc,
            "--currency",
            "SAR",
            "--amount",
            "1000000.00",
        ]);
        bidders.push((org, acc));
    }
    let project = id(
        &r.ok(&[
            "project",
            "register",
            "--program",
            "GS",
            "--id",
            "GS777",
            "--name",
            "Solar",
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
        "2024",
        "--quantity",
        "10000",
        "--to",
        &sacc,
    ]);
    r.ok(&[
        "instrument",
        "add",
        "--symbol",
        "GS777-2024",
        "--project",
        &project,
        "--vintage",
        "2024",
        "--reference",
        "37.50",
        "--tick",
        "0.50",
        "--maker-bps",
        "0",
        "--taker-bps",
        "0",
    ]);
    let lot = format!(
        "instrument=GS777-2024,seller={sacc},quantity=1000,reserve=30.00,min=100,increment=100,guarantee={}:100",
        bidders[2].0
    );
    // Close within a few seconds: the window must end before `close` is accepted.
    let closes = rasid_core::time::rfc3339(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as i64
            + 1_500,
    );
    let created = r.ok(&[
        "auction",
        "create",
        "--name",
        "Launch auction",
        "--closes",
        &closes,
        "--lot",
        &lot,
    ]);
    let auction = id(&created, "auction");
    r.ok(&[
        "auction",
        "bid",
        "--auction",
        &auction,
        "--account",
        &bidders[0].1,
        "--price",
        "37.50",
        "--quantity",
        "600",
    ]);
    r.ok(&[
        "auction",
        "bid",
        "--auction",
        &auction,
        "--account",
        &bidders[1].1,
        "--price",
        "35.00",
        "--quantity",
        "600",
    ]);
    r.ok(&[
        "auction",
        "bid",
        "--auction",
        &auction,
        "--account",
        &bidders[2].1,
        "--price",
        "30.00",
        "--quantity",
        "200",
    ]);
    let (_, code) = r.fails(&[
        "auction",
        "bid",
        "--auction",
        &auction,
        "--account",
        &bidders[0].1,
        "--price",
        "29.50",
        "--quantity",
        "100",
    ]);
    assert_eq!(code, "below_reserve");
    // Sealed: the public view shows no bid, the bidder sees its own only.
    let public = r.ok(&["auction", "show", &auction]);
    assert!(public.get("mine").is_none());
    assert!(public["lots"][0]["result"].is_null());
    let mine = r.ok(&["auction", "show", &auction, "--as", &bidders[1].0]);
    assert_eq!(mine["mine"]["bids"].as_array().unwrap().len(), 1);
    assert_eq!(mine["mine"]["bids"][0]["price"], "35.00");
    let (_, code) = r.fails(&["auction", "close", &auction]);
    assert_eq!(code, "auction_not_ended");
    // Wait for the window to end by polling `close` until it stops saying not ended.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = r.command().args(["--json", "auction", "close", &auction]).output().unwrap();
        if out.status.success() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the window never ended");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let public = r.ok(&["auction", "show", &auction]);
    let result = &public["lots"][0]["result"];
    // 100 t guaranteed to the third bidder, then 600 t to the first, 300 t to the second;
    // uniform price = lowest accepted bid = the guaranteed bid's 30.00.
    assert_eq!(result["clearing_price"], "30.00");
    assert_eq!(result["sold_tonnes"], 1000);
    assert_eq!((result["bids"].as_u64(), result["bidders"].as_u64()), (Some(3), Some(3)));
    assert_eq!(result["demand_curve"][0]["cumulative_tonnes"], 600);
    let mine = r.ok(&["auction", "show", &auction, "--as", &bidders[1].0]);
    assert_eq!(mine["mine"]["allocations"][0]["quantity"], 300);
    let h = r.ok(&["holdings", "--account", &bidders[1].1]);
    assert_eq!(h["holdings"][0]["available_tonnes"], 300);
    assert_eq!(h["cash"][0]["available"], "991000.00");
    assert_eq!(r.ok(&["verify"])["ok"], true);
}
