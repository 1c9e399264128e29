//! `admin-ship`'s direct invocation as one typed action per event: a refusal names the field
//! it refuses and changes nothing, and `listOrders` pages like `GET /admin/orders`.

use crate::orders::{create, fill_cart, order_body, product};
use crate::support::TestApp;
use serde_json::{json, Value};

/// What a refused invocation names: its code and the first field.
fn refused(res: &Value) -> (&str, &str) {
    assert_eq!(res["ok"], false, "{res}");
    (
        res["error"]["code"].as_str().unwrap(),
        res["error"]["errors"][0]["field"]
            .as_str()
            .unwrap_or_default(),
    )
}

#[tokio::test]
async fn a_refused_action_names_the_field_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let diya = product(&app, "direct-diya", 59_900, 5).await;
    fill_cart(&app, "user_direct", &[(diya, 1)]).await;
    let order = create(&app, "user_direct", order_body(), None).await;
    let id = order.body["id"].as_str().unwrap().to_owned();
    for (event, field) in [
        (json!({ "action": "dropDatabase" }), "action"),
        (json!({ "action": 7 }), "action"),
        (
            json!({ "action": "pack", "orderId": id, "force": true }),
            "force",
        ),
        (
            json!({ "action": "ship", "orderId": id, "trackingNumber": "1", "carrier": 5 }),
            "carrier",
        ),
        (
            json!({ "action": "cancel", "orderId": id, "reason": "x", "notify": false }),
            "notify",
        ),
        (
            json!({ "action": "refund", "orderId": id, "amount": 100, "restock": false, "reason": "x", "idempotencyKey": "k".repeat(129) }),
            "idempotencyKey",
        ),
        (
            json!({ "action": "listOrders", "colour": "gold" }),
            "colour",
        ),
        (json!({ "action": "listOrders", "limit": 0 }), "limit"),
        (
            json!({ "action": "upsertCoupon", "coupon": { "code": "X", "type": "flat", "value": 100 }, "extra": 1 }),
            "extra",
        ),
        (
            json!({ "action": "adjustStock", "slug": "direct-diya", "delta": 1, "reason": "x", "stock": 9 }),
            "stock",
        ),
        (json!({ "action": "openStockLedgers", "all": true }), "all"),
        (json!({ "action": "migrate", "toVersion": 1 }), "toVersion"),
    ] {
        let res = app.invoke_admin(event.clone()).await;
        assert_eq!(
            refused(&res),
            ("VALIDATION_FAILED", field),
            "{event}: {res}"
        );
    }
    let after = app
        .invoke_admin(json!({ "action": "getOrder", "orderId": id }))
        .await;
    assert_eq!(after["order"]["status"], "created", "{after}");
    assert_eq!(after["order"]["refunds"], json!([]), "{after}");
    let coupons = app.get("/admin/coupons", Some(&app.admin_token())).await;
    assert_eq!(coupons.body["items"], json!([]), "{}", coupons.body);
}

#[tokio::test]
async fn list_orders_pages_with_the_cursor_it_returns() {
    let app = TestApp::spawn().await;
    let diya = product(&app, "direct-page-diya", 59_900, 5).await;
    for user in ["user_page1", "user_page2", "user_page3"] {
        fill_cart(&app, user, &[(diya, 1)]).await;
        assert_eq!(create(&app, user, order_body(), None).await.status, 201);
    }
    let mut numbers = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut event =
            json!({ "action": "listOrders", "status": "created", "sort": "oldest", "limit": 2 });
        if let Some(c) = &cursor {
            event["cursor"] = json!(c);
        }
        let page = app.invoke_admin(event).await;
        assert_eq!(page["ok"], true, "{page}");
        for o in page["items"].as_array().unwrap() {
            numbers.push(o["number"].as_str().unwrap().to_owned());
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(numbers, ["PIT-1001", "PIT-1002", "PIT-1003"]);
}
