//! What the owner console asks the API for instead of keeping copies: `GET /admin/meta`
//! (carriers, GST rates, statuses) and each admin order's `allowedActions`, which must be
//! exactly the actions the routes carry out.

use crate::admin_orders::{admin, checkout, pay, ship_body};
use crate::orders::product;
use crate::support::TestApp;
use serde_json::{json, Value};

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect()
}

/// The order's `allowedActions` as the detail and the list both show them (they must agree).
async fn offered(app: &TestApp, id: &str) -> Vec<String> {
    let token = app.admin_token();
    let detail = app.get(&format!("/admin/orders/{id}"), Some(&token)).await;
    let from_detail = strings(&detail.ok()["allowedActions"]);
    let list = app
        .get(&format!("/admin/orders?q={id}"), Some(&token))
        .await;
    let row = list.ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
        .cloned()
        .expect("the order is listed");
    assert_eq!(
        strings(&row["allowedActions"]),
        from_detail,
        "list vs detail"
    );
    from_detail.into_iter().map(str::to_owned).collect()
}

/// Every action the order does not offer changes nothing: it is refused, or, for the move
/// the order has already made, answered unchanged (a repeat is a no-op).
async fn the_others_change_nothing(app: &TestApp, id: &str, offered: &[String]) {
    let before = app
        .get(&format!("/admin/orders/{id}"), Some(&app.admin_token()))
        .await;
    let status = before.ok()["status"].as_str().unwrap().to_owned();
    for (action, reached, body, code) in [
        ("pack", "packed", json!({}), "INVALID_TRANSITION"),
        ("ship", "shipped", ship_body(), "INVALID_TRANSITION"),
        ("deliver", "delivered", json!({}), "INVALID_TRANSITION"),
        ("cancel", "cancelled", json!({}), "INVALID_TRANSITION"),
        (
            "refund",
            "",
            json!({ "amount": 100, "restock": false, "reason": "not offered" }),
            "NOTHING_TO_REFUND",
        ),
    ] {
        if offered.iter().any(|a| a == action) {
            continue;
        }
        let res = admin(app, id, action, body).await;
        if reached == status {
            assert_eq!(res.ok()["status"], reached, "{action} repeated");
        } else {
            res.problem(409, code);
        }
    }
    let after = app
        .get(&format!("/admin/orders/{id}"), Some(&app.admin_token()))
        .await;
    assert_eq!(
        before.body, after.body,
        "an action not offered changed the order"
    );
}

#[tokio::test]
async fn each_order_offers_the_owner_exactly_the_actions_its_state_allows() {
    let app = TestApp::spawn().await;
    let urli = product(&app, "meta-urli", 249_900, 5).await;
    let id = checkout(&app, "user_meta_walk", urli, None).await;

    // What the order offers after each step; first, unpaid, only a cancellation: nothing
    // was collected, so there is nothing to refund.
    let steps: [(&str, &[&str]); 5] = [
        ("checkout", &["cancel"]),
        ("pay", &["pack", "ship", "cancel", "refund"]),
        ("pack", &["ship", "cancel", "refund"]),
        ("ship", &["deliver", "refund"]),
        ("deliver", &["refund"]),
    ];
    for (step, want) in steps {
        match step {
            "checkout" => {}
            "pay" => pay(&app, &id).await,
            "ship" => {
                admin(&app, &id, step, ship_body()).await.ok();
            }
            _ => {
                admin(&app, &id, step, json!({})).await.ok();
            }
        }
        let got = offered(&app, &id).await;
        assert_eq!(got, want, "after {step}");
        the_others_change_nothing(&app, &id, &got).await;
    }
    // A refund of part of it keeps the refund on offer; the amount left is the preview's.
    let refunded = admin(
        &app,
        &id,
        "refund",
        json!({ "amount": 1000, "restock": false, "reason": "scratched" }),
    )
    .await;
    assert_eq!(refunded.status, 201, "{}", refunded.body);
    assert_eq!(offered(&app, &id).await, ["refund"]);

    // Cancelled before it was paid: nothing left to do.
    let unpaid = checkout(&app, "user_meta_cancel", urli, None).await;
    admin(&app, &unpaid, "cancel", json!({})).await.ok();
    let none = offered(&app, &unpaid).await;
    assert!(none.is_empty(), "{none:?}");
    the_others_change_nothing(&app, &unpaid, &none).await;
}

#[tokio::test]
async fn the_meta_lists_the_carriers_rates_and_statuses_the_api_itself_accepts() {
    let app = TestApp::spawn().await;
    let token = app.admin_token();
    app.get("/admin/meta", None)
        .await
        .problem(401, "UNAUTHENTICATED");
    app.get("/admin/meta", Some(&app.token("user_meta_shopper")))
        .await
        .problem(403, "FORBIDDEN");
    let res = app.get("/admin/meta", Some(&token)).await;
    let meta = res.ok().clone();
    // A fresh database has had no migration; every step finds nothing on it.
    assert_eq!(meta["dataVersion"], json!({ "database": 1, "code": 2 }));
    assert_eq!(
        strings(&meta["orderStatuses"]),
        [
            "created",
            "payment_pending",
            "paid",
            "packed",
            "shipped",
            "delivered",
            "cancelled"
        ]
    );

    // Every rate listed is one a product may carry.
    let rates: Vec<i64> = meta["gstRates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_i64().unwrap())
        .collect();
    assert_eq!(rates, [0, 500, 1200, 1800, 2800, 4000]);
    for rate in &rates {
        let made = app
            .post(
                "/admin/products",
                Some(&token),
                json!({ "name": format!("Rate {rate}"), "slug": format!("meta-rate-{rate}"),
                        "price": 10_000, "stock": 1, "hsn": "7418", "gstRate": rate }),
            )
            .await;
        assert_eq!(made.ok()["gstRate"], *rate);
    }

    // Every carrier listed is one shipping makes a tracking link for, under the same name.
    let carriers = strings(&meta["carriers"]);
    assert!(carriers.contains(&"Delhivery") && carriers.contains(&"India Post"));
    let urli = product(&app, "meta-carriers", 249_900, carriers.len() as i64).await;
    for (n, carrier) in carriers.into_iter().enumerate() {
        let id = checkout(&app, &format!("user_meta_carrier_{n}"), urli, None).await;
        pay(&app, &id).await;
        let shipped = admin(
            &app,
            &id,
            "ship",
            json!({ "carrier": carrier, "trackingNumber": "1234567890123" }),
        )
        .await;
        let shipping = &shipped.ok()["shipping"];
        assert_eq!(shipping["carrier"], carrier);
        assert!(
            shipping["trackingUrl"]
                .as_str()
                .is_some_and(|u| u.starts_with("https://")),
            "{carrier}: {shipping}"
        );
    }
}
