//! The owner's desk for orders: the fulfilment queue, search by anything a customer might
//! quote on the phone, the full order detail, and the accountant's CSV.

use crate::orders::{create, fill_cart, order_body, product};
use crate::payments::{app_with_sim, initiate_mid};
use crate::support::{Resp, TestApp};
use mongodb::bson::oid::ObjectId;
use phonepe_sim::HookOptions;
use serde_json::{json, Value};
use std::time::Duration;

async fn place(app: &TestApp, user: &str, product: ObjectId, name: &str, phone: &str) -> Value {
    fill_cart(app, user, &[(product, 1)]).await;
    let mut body = order_body();
    body["shippingAddress"]["name"] = json!(name);
    body["shippingAddress"]["phone"] = json!(phone);
    let res = create(app, user, body, None).await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body
}

async fn admin_get(app: &TestApp, path: &str) -> Resp {
    app.get(path, Some(&app.admin_token())).await
}

fn numbers(res: &Resp) -> Vec<String> {
    assert_eq!(res.status, 200, "{}", res.body);
    res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["number"].as_str().unwrap().to_owned())
        .collect()
}

async fn mark_paid(app: &TestApp, id: &str) {
    let oid = ObjectId::parse_str(id).unwrap();
    common::shop::order::transition::apply(
        &app.services.db,
        common::shop::vocabulary::ids::OrderId(oid),
        &common::shop::order::transition::Transition::Pay {
            txn: &format!("T-{id}"),
            merchant_order_id: &format!("PIT-{id}-test"),
            by: common::shop::order::transition::Actor::PhonePe,
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn the_fulfilment_queue_lists_paid_and_packed_orders_oldest_first() {
    let app = TestApp::spawn().await;
    let diya = product(&app, "queue-diya", 59_900, 20).await;
    let a = place(&app, "user_q1", diya, "Asha Iyer", "9876543210").await;
    let b = place(&app, "user_q2", diya, "Bala Murugan", "9876543211").await;
    let c = place(&app, "user_q3", diya, "Chitra Rao", "9876543212").await;
    let _unpaid = place(&app, "user_q4", diya, "Devi", "9876543213").await;
    for o in [&a, &b, &c] {
        mark_paid(&app, o["id"].as_str().unwrap()).await;
    }
    let res = app
        .post(
            &format!("/admin/orders/{}/pack", b["id"].as_str().unwrap()),
            Some(&app.admin_token()),
            json!({}),
        )
        .await;
    assert_eq!(res.status, 200);
    let res = app
        .post(
            &format!("/admin/orders/{}/ship", c["id"].as_str().unwrap()),
            Some(&app.admin_token()),
            json!({ "carrier": "DTDC", "trackingNumber": "Z123" }),
        )
        .await;
    assert_eq!(res.status, 200);

    let queue = admin_get(&app, "/admin/orders?status=paid,packed&sort=oldest").await;
    assert_eq!(numbers(&queue), ["PIT-1001", "PIT-1002"]);
    let all = admin_get(&app, "/admin/orders").await;
    assert_eq!(
        numbers(&all),
        ["PIT-1004", "PIT-1003", "PIT-1002", "PIT-1001"],
        "newest first"
    );

    // Pages follow the chosen order.
    let first = admin_get(&app, "/admin/orders?sort=oldest&limit=3").await;
    assert_eq!(numbers(&first), ["PIT-1001", "PIT-1002", "PIT-1003"]);
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    let rest = admin_get(
        &app,
        &format!("/admin/orders?sort=oldest&limit=3&cursor={cursor}"),
    )
    .await;
    assert_eq!(numbers(&rest), ["PIT-1004"]);
    assert!(rest.body["nextCursor"].is_null());
}

#[tokio::test]
async fn search_finds_an_order_by_anything_the_customer_quotes() {
    let (app, sim) = app_with_sim().await;
    let diya = product(&app, "search-diya", 59_900, 20).await;
    let asha = place(&app, "user_s1", diya, "Asha Iyer", "+91 98765 43210").await;
    let _bala = place(&app, "user_s2", diya, "Bala Murugan", "9123456789").await;
    let id = asha["id"].as_str().unwrap();
    let mid = initiate_mid(&app, "user_s1", ObjectId::parse_str(id).unwrap()).await;
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(1, Duration::from_secs(5)).await;
    let paid = admin_get(&app, &format!("/admin/orders/{id}")).await;
    let txn = paid.body["payment"]["transactionId"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app
        .post(
            &format!("/admin/orders/{id}/ship"),
            Some(&app.admin_token()),
            json!({ "carrier": "Delhivery", "trackingNumber": "DL-778899" }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);

    for q in [
        id.to_owned(),
        "pit-1001".into(),
        "USER_S1@EXAMPLE.COM".into(),
        "98765-43210".into(),
        "+919876543210".into(),
        "asha".into(),
        "Asha I".into(),
        "DL-778899".into(),
        mid.clone(),
        txn.clone(),
    ] {
        let res = admin_get(&app, &format!("/admin/orders?q={}", urlencode(&q))).await;
        assert_eq!(numbers(&res), ["PIT-1001"], "q={q}");
    }
    for q in ["iyer", "nobody@example.com", "DL-7788", "(", ".*"] {
        let res = admin_get(&app, &format!("/admin/orders?q={}", urlencode(q))).await;
        assert!(numbers(&res).is_empty(), "q={q} found {:?}", numbers(&res));
    }
    // Filters combine.
    let res = admin_get(&app, "/admin/orders?q=asha&status=created").await;
    assert!(numbers(&res).is_empty());
    let res = admin_get(&app, "/admin/orders?status=created").await;
    assert_eq!(numbers(&res), ["PIT-1002"]);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn bad_filters_are_refused_naming_the_parameter() {
    let app = TestApp::spawn().await;
    for (query, field) in [
        ("status=posted", "status"),
        ("status=paid,lost", "status"),
        ("sort=cheapest", "sort"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "from"),
        ("limit=0", "limit"),
        ("cursor=zzz", "cursor"),
        ("colour=red", "colour"),
        ("q=%00x", "q"),
    ] {
        let res = admin_get(&app, &format!("/admin/orders?{query}")).await;
        res.problem(400, "VALIDATION_FAILED");
        assert_eq!(res.body["errors"][0]["field"], field, "{query}");
    }
    let res = admin_get(&app, "/admin/orders/export.csv?sort=oldest").await;
    res.problem(400, "VALIDATION_FAILED");
    let res = admin_get(
        &app,
        "/admin/orders/export.csv?from=2025-01-01T00:00:00Z&to=2026-03-01T00:00:00Z",
    )
    .await;
    assert_eq!(
        res.problem(400, "VALIDATION_FAILED")["errors"][0]["field"],
        "from",
        "more than a year"
    );
    app.get("/admin/orders", Some(&app.token("user_nosy")))
        .await
        .problem(403, "FORBIDDEN");
    app.get("/admin/orders/export.csv", None)
        .await
        .problem(401, "UNAUTHENTICATED");
}

#[tokio::test]
async fn the_order_detail_shows_attempts_mails_and_who_did_what() {
    let (app, sim) = app_with_sim().await;
    let diya = product(&app, "detail-diya", 59_900, 20).await;
    let order = place(&app, "user_d1", diya, "Asha Iyer", "9876543210").await;
    let id = order["id"].as_str().unwrap();
    let oid = ObjectId::parse_str(id).unwrap();
    let failed = initiate_mid(&app, "user_d1", oid).await;
    sim.fail_order(&failed, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(1, Duration::from_secs(5)).await;
    let paid = initiate_mid(&app, "user_d1", oid).await;
    sim.complete_order(&paid, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(2, Duration::from_secs(5)).await;
    let res = app
        .post(
            &format!("/admin/orders/{id}/pack"),
            Some(&app.admin_token()),
            json!({}),
        )
        .await;
    assert_eq!(res.status, 200);

    let detail = admin_get(&app, "/admin/orders/PIT-1001").await;
    assert_eq!(detail.status, 200, "{}", detail.body);
    let d = &detail.body;
    assert_eq!(d["id"], id);
    let attempts: Vec<(&str, &str)> = d["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["merchantOrderId"].as_str().unwrap(),
                a["state"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [(failed.as_str(), "failed"), (paid.as_str(), "completed")]
    );
    assert_eq!(d["attempts"][1]["amount"], 59_900);
    let by: Vec<&str> = d["statusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["by"].as_str().unwrap_or("?"))
        .collect();
    let admin_id = d["statusHistory"].as_array().unwrap().last().unwrap()["by"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        by.len(),
        4,
        "created, payment_pending, paid, packed: {by:?}"
    );
    assert_eq!(&by[..3], ["customer", "customer", "phonepe"]);
    assert!(
        admin_id.starts_with("user_"),
        "the admin's user id: {admin_id}"
    );
    let events: Vec<&str> = d["mails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["event"].as_str().unwrap())
        .collect();
    // The failed attempt queued its "pay again" mail before the second one paid.
    assert_eq!(
        events,
        ["order_placed", "payment_failed", "payment_success"]
    );
    assert!(d["refunds"].as_array().unwrap().is_empty());
    assert!(d["invoice"].is_null());
    admin_get(&app, "/admin/orders/PIT-7777")
        .await
        .problem(404, "ORDER_NOT_FOUND");
}

#[tokio::test]
async fn the_csv_export_has_one_quoted_row_per_order_for_the_accountant() {
    let app = TestApp::spawn().await;
    let diya = product(&app, "csv-diya", 59_900, 20).await;
    place(&app, "user_c1", diya, "Iyer, Asha \"Ammu\"", "9876543210").await;
    place(
        &app,
        "user_c2",
        diya,
        "=HYPERLINK(\"http://evil\")",
        "9876543211",
    )
    .await;
    let res = app
        .http
        .get(format!(
            "{}/admin/orders/export.csv?status=created",
            app.base
        ))
        .bearer_auth(app.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("number,id,created (IST),status,customer name,email,phone,state,subtotal,discount,shipping fee,total,taxable value,CGST,SGST,IGST,payment status,transactionId,refunded amount,invoice number,carrier,tracking number"));
    assert!(lines[1].starts_with("PIT-1001,"), "{}", lines[1]);
    assert!(
        lines[1].contains(",\"Iyer, Asha \"\"Ammu\"\"\","),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains(",599.00,0.00,0.00,599.00,"),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains(",Tamil Nadu,"), "{}", lines[1]);
    assert!(
        lines[2].contains(",\"'=HYPERLINK(\"\"http://evil\"\")\","),
        "formulas are defused: {}",
        lines[2]
    );
    // What the parcel holds, by the variant's name and SKU, for the packer.
    assert!(
        lines[1].contains(",1 × Test csv-diya [PIT-"),
        "{}",
        lines[1]
    );
    // Every row has every column.
    for l in &lines[1..] {
        assert_eq!(csv_columns(l), 23, "{l}");
    }
    let none = admin_get_text(&app, "/admin/orders/export.csv?status=delivered").await;
    assert_eq!(
        none.split("\r\n").filter(|l| !l.is_empty()).count(),
        1,
        "just the header"
    );
}

#[tokio::test]
async fn the_csv_export_leaves_tax_empty_for_orders_never_paid() {
    let (app, sim) = app_with_sim().await;
    let diya = product(&app, "csv-tax-diya", 59_900, 20).await;
    let cancelled = place(&app, "user_ct1", diya, "Asha Iyer", "9876543210").await;
    let paid = place(&app, "user_ct2", diya, "Bala Murugan", "9876543211").await;
    let waiting = place(&app, "user_ct3", diya, "Chitra Rao", "9876543212").await;
    let res = app
        .post(
            &format!("/admin/orders/{}/cancel", cancelled["id"].as_str().unwrap()),
            Some(&app.admin_token()),
            json!({ "reason": "customer changed their mind before paying" }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let oid = ObjectId::parse_str(paid["id"].as_str().unwrap()).unwrap();
    let mid = initiate_mid(&app, "user_ct2", oid).await;
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(1, Duration::from_secs(5)).await;

    let text = admin_get_text(&app, "/admin/orders/export.csv").await;
    let row = |order: &Value| -> Vec<String> {
        let number = order["number"].as_str().unwrap();
        let line = text
            .split("\r\n")
            .find(|l| l.starts_with(&format!("{number},")))
            .unwrap_or_else(|| panic!("{number} in {text}"));
        line.split(',').map(str::to_owned).collect()
    };
    // taxable value, CGST, SGST, IGST
    let tax = |r: &[String]| r[12..16].to_vec();
    let (c, p, w) = (row(&cancelled), row(&paid), row(&waiting));
    assert_eq!(&c[3], "cancelled", "{c:?}");
    assert_eq!(tax(&c), ["", "", "", ""], "cancelled unpaid: {c:?}");
    assert_eq!(tax(&w), ["", "", "", ""], "still unpaid: {w:?}");
    assert_eq!(&p[3], "paid", "{p:?}");
    // ₹599 at 5 % within Tamil Nadu: 28.52 tax (14.26 + 14.26) on 570.48.
    assert_eq!(tax(&p), ["570.48", "14.26", "14.26", "0.00"], "paid: {p:?}");
}

async fn admin_get_text(app: &TestApp, path: &str) -> String {
    let res = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(app.admin_token())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.text().await.unwrap()
}

/// Counts RFC 4180 fields in one line (quotes may hold commas).
fn csv_columns(line: &str) -> usize {
    let (mut n, mut quoted) = (1, false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => n += 1,
            _ => {}
        }
    }
    n
}

#[tokio::test]
async fn the_direct_list_and_get_actions_answer_like_the_routes() {
    let app = TestApp::spawn().await;
    let diya = product(&app, "direct-desk-diya", 59_900, 20).await;
    let a = place(&app, "user_dd1", diya, "Asha Iyer", "9876543210").await;
    place(&app, "user_dd2", diya, "Bala", "9876543211").await;
    mark_paid(&app, a["id"].as_str().unwrap()).await;
    let list = app
        .invoke_admin(json!({ "action": "listOrders", "status": ["paid", "packed"], "sort": "oldest", "limit": 10 }))
        .await;
    assert_eq!(list["ok"], true, "{list}");
    let numbers: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["PIT-1001"]);
    let got = app
        .invoke_admin(json!({ "action": "getOrder", "orderId": "PIT-1002" }))
        .await;
    assert_eq!(got["ok"], true, "{got}");
    assert_eq!(got["order"]["number"], "PIT-1002");
    assert!(got["order"]["mails"].is_array());
    let bad = app
        .invoke_admin(json!({ "action": "listOrders", "status": "lost" }))
        .await;
    assert_eq!(bad["error"]["code"], "VALIDATION_FAILED");
    let missing = app
        .invoke_admin(json!({ "action": "getOrder", "orderId": "PIT-9999" }))
        .await;
    assert_eq!(missing["error"]["code"], "ORDER_NOT_FOUND");
}

/// Times the desk cannot hold: year 0000 answered 500 (the database cannot store it), so
/// every time is bounded to 2000–9999 by the one parser, and said so by name.
pub const BAD_TIMES: &[&str] = &[
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "1999-12-31T23:59:59.999Z",
    "2000-01-01T05:29:59+05:30",
    "9999-12-31T23:59:59-01:00",
    "10000-01-01T00:00:00Z",
    "+10000-01-01T00:00:00Z",
    "2026-02-30T00:00:00Z",
    "0000-00-00T00:00:00Z",
    "2026-11-01",
    "garbage",
];

#[tokio::test]
async fn times_outside_2000_to_9999_or_not_rfc3339_are_400s_naming_from_or_to() {
    let app = TestApp::spawn().await;
    for path in ["/admin/orders", "/admin/orders/export.csv"] {
        for param in ["from", "to"] {
            for raw in BAD_TIMES {
                let res = admin_get(&app, &format!("{path}?{param}={}", urlencode(raw))).await;
                let problem = res.problem(400, "VALIDATION_FAILED");
                assert_eq!(problem["errors"][0]["field"], param, "{path} {param}={raw}");
            }
        }
    }
    // The bounds themselves are times like any other.
    let res = admin_get(
        &app,
        "/admin/orders?from=2000-01-01T00:00:00Z&to=9999-12-31T23:59:59.999Z",
    )
    .await;
    assert!(numbers(&res).is_empty());
    let res = admin_get(
        &app,
        "/admin/orders/export.csv?from=9999-06-01T00:00:00Z&to=9999-12-31T23:59:59.999Z",
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
}
