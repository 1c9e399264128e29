//! Order numbers (`PIT-1001`, …): on every order, in every mail, and accepted wherever a route
//! takes an order id; allocated without making concurrent checkouts conflict.

use crate::mail::{app_with_moto, moto_messages, subjects};
use crate::orders::{create, fill_cart, order_body, product};
use crate::support::TestApp;
use futures::future::join_all;
use mongodb::bson::oid::ObjectId;
use serde_json::{json, Value};
use std::collections::HashSet;

async fn place(app: &TestApp, user: &str, slug_product: ObjectId) -> Value {
    fill_cart(app, user, &[(slug_product, 1)]).await;
    let res = create(app, user, order_body(), None).await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body
}

#[tokio::test]
async fn checkouts_get_increasing_numbers_and_every_order_route_accepts_them() {
    let app = TestApp::spawn().await;
    let diya = product(&app, "numbered-diya", 59_900, 10).await;
    let first = place(&app, "user_n1", diya).await;
    let second = place(&app, "user_n2", diya).await;
    assert_eq!(first["number"], "PIT-1001");
    assert_eq!(second["number"], "PIT-1002");

    // The customer's own order, by number in any case; someone else's is not there.
    let own = app
        .get("/orders/pit-1002", Some(&app.token("user_n2")))
        .await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["id"], second["id"]);
    app.get("/orders/PIT-1002", Some(&app.token("user_n1")))
        .await
        .problem(404, "ORDER_NOT_FOUND");
    for missing in ["PIT-9999", "not-an-order", "PIT-", "1001"] {
        app.get(&format!("/orders/{missing}"), Some(&app.token("user_n1")))
            .await
            .problem(404, "ORDER_NOT_FOUND");
    }

    // The owner's actions take numbers too, over HTTP and by direct invocation.
    app.invoke_admin(json!({ "action": "cancel", "orderId": "PIT-1001", "reason": "test" }))
        .await
        .get("ok")
        .filter(|ok| *ok == true)
        .expect("direct cancel by number");
    let res = app
        .post(
            "/admin/orders/PIT-1002/cancel",
            Some(&app.admin_token()),
            json!({}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["status"], "cancelled");
    app.post(
        "/admin/orders/PIT-4242/cancel",
        Some(&app.admin_token()),
        json!({}),
    )
    .await
    .problem(404, "ORDER_NOT_FOUND");
}

#[tokio::test]
async fn concurrent_checkouts_all_succeed_with_distinct_numbers() {
    let app = TestApp::spawn().await;
    let diya = product(&app, "busy-diya", 59_900, 100).await;
    let users: Vec<String> = (0..20).map(|i| format!("user_rush_{i}")).collect();
    for u in &users {
        fill_cart(&app, u, &[(diya, 1)]).await;
    }
    let placed = join_all(users.iter().map(|u| create(&app, u, order_body(), None))).await;
    let numbers: HashSet<String> = placed
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["number"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(numbers.len(), 20, "{numbers:?}");
    assert!(numbers.iter().all(|n| n.starts_with("PIT-")));
}

#[tokio::test]
async fn a_shop_can_choose_its_prefix_and_a_bad_one_fails_the_cold_start() {
    let app = TestApp::spawn_with(|v| {
        v.insert("ORDER_NUMBER_PREFIX".into(), "BRASS".into());
    })
    .await;
    let diya = product(&app, "prefixed-diya", 59_900, 10).await;
    assert_eq!(
        place(&app, "user_prefix", diya).await["number"],
        "BRASS-1001"
    );

    let mut vars = std::collections::HashMap::new();
    vars.insert("MONGODB_URI".into(), "mongodb://127.0.0.1:1".into());
    vars.insert("CLERK_ISSUER".into(), "https://clerk.example".into());
    vars.insert("CLERK_JWKS_URL".into(), "https://clerk.example/jwks".into());
    vars.insert("ORDER_NUMBER_PREFIX".into(), "pit-".into());
    let err = common::platform::config::from_vars::<(
        common::platform::config::Config,
        common::shop::order::settings::OrderNumbering,
    )>(&vars)
    .unwrap_err();
    assert!(
        err.problems
            .iter()
            .any(|p| p.contains("ORDER_NUMBER_PREFIX")),
        "{:?}",
        err.problems
    );
}

#[tokio::test]
async fn mails_name_the_order_by_its_number() {
    let app = app_with_moto().await;
    let diya = product(&app, "mailed-diya", 59_900, 10).await;
    // moto keeps every message for the life of the emulator: a fresh recipient per run.
    let user = format!("user_mailnum_{}", ObjectId::new().to_hex());
    let order = place(&app, &user, diya).await;
    let number = order["number"].as_str().unwrap();
    let mut messages = Vec::new();
    for _ in 0..50 {
        messages = moto_messages(&format!("{user}@example.com")).await;
        if !messages.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        subjects(&messages),
        [format!("We have received your Pitalya order {number}")]
    );
    let body = messages[0]["body"].as_str().unwrap();
    assert!(body.contains(number), "{body}");
    assert!(
        !body.contains(order["id"].as_str().unwrap()),
        "no 24-hex ids in mail"
    );
}
