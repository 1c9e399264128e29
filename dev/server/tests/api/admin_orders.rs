//! The owner's actions on orders over HTTP and by direct invocation: the state machine is
//! enforced, repeats are no-ops, shipping gets a tracking link, and a cancellation gives
//! back stock and the coupon use exactly once.

use crate::lambda_events;
use crate::orders::{
    count, coupon, create, fill_cart, order_body, order_doc, product, stock, used,
};
use crate::support::{Resp, TestApp};
use common::shop::order::status::{check_move, Move, OrderStatus};
use futures::future::join_all;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, DateTime, Document};
use serde_json::{json, Value};

/// Places an order through checkout (so it holds stock and maybe a coupon use).
pub(crate) async fn checkout(
    app: &TestApp,
    user: &str,
    product: ObjectId,
    coupon: Option<&str>,
) -> String {
    fill_cart(app, user, &[(product, 1)]).await;
    let mut body = order_body();
    if let Some(c) = coupon {
        body["couponCode"] = json!(c);
    }
    let res = create(app, user, body, None).await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body["id"].as_str().unwrap().to_owned()
}

/// Marks an order paid as a PhonePe payment leaves it (so a cancellation has money to return),
/// written straight into the database: the payment's own mail is not what these tests are
/// about.
pub(crate) async fn pay(app: &TestApp, id: &str) {
    let oid = ObjectId::parse_str(id).unwrap();
    let t = DateTime::now();
    let paid = app
        .db()
        .collection::<Document>("orders")
        .update_one(
            doc! { "_id": oid, "status": { "$in": ["created", "payment_pending"] } },
            doc! {
                "$set": {
                    "status": "paid",
                    "payment.status": "paid",
                    "payment.merchantOrderId": format!("PIT-{id}-test"),
                    "payment.transactionId": format!("T-{id}"),
                    "updatedAt": t,
                },
                "$push": { "statusHistory": { "status": "paid", "at": t } },
            },
        )
        .await
        .unwrap();
    assert_eq!(paid.modified_count, 1);
}

/// Writes an order in `status` straight into the database (no stock taken), for walking
/// the whole transition table quickly.
async fn order_in(app: &TestApp, status: OrderStatus, product: ObjectId) -> String {
    let id = ObjectId::new();
    let t = DateTime::now();
    let variant = crate::support::only_variant_id(app, product).await;
    app.db()
        .collection::<Document>("orders")
        .insert_one(doc! {
            "_id": id, "userId": "user_table", "email": "t@example.com",
            "items": [{ "productId": product, "variantId": variant, "name": "Test urli", "price": 100_000_i64,
                        "image": null, "quantity": 1_i64, "lineTotal": 100_000_i64 }],
            "subtotal": 100_000_i64, "discount": 0_i64, "total": 100_000_i64,
            "currency": "INR", "status": status.as_str(),
            "statusHistory": [{ "status": "created", "at": t }],
            "payment": { "provider": "phonepe",
                         "status": if status.is_paid_state() { "paid" } else { "pending" } },
            "shipping": { "address": {
                "name": "Asha", "phone": "+919876543210", "line1": "1 Road", "city": "Chennai",
                "state": "Tamil Nadu", "pincode": "600004", "country": "IN" } },
            "createdAt": t, "updatedAt": t,
        })
        .await
        .unwrap();
    id.to_hex()
}

pub(crate) async fn admin(app: &TestApp, id: &str, action: &str, body: Value) -> Resp {
    app.post(
        &format!("/admin/orders/{id}/{action}"),
        Some(&app.admin_token()),
        body,
    )
    .await
}

pub(crate) fn ship_body() -> Value {
    json!({ "trackingNumber": "1234567890123", "carrier": "Delhivery", "description": "1 box, 2.1 kg" })
}

async fn mails(app: &TestApp, id: &str) -> Vec<String> {
    let mut cursor = app
        .db()
        .collection::<Document>("mail_outbox")
        .find(doc! { "orderId": ObjectId::parse_str(id).unwrap() })
        .sort(doc! { "_id": 1 })
        .await
        .unwrap();
    let mut events = Vec::new();
    while cursor.advance().await.unwrap() {
        let d: Document = cursor.deserialize_current().unwrap();
        events.push(d.get_str("event").unwrap().to_owned());
    }
    events
}

#[tokio::test]
async fn the_owner_packs_ships_and_delivers_a_paid_order() {
    let app = TestApp::spawn().await;
    let urli = product(&app, "urli", 249_900, 5).await;
    let id = checkout(&app, "user_ship", urli, None).await;
    admin(&app, &id, "pack", json!({}))
        .await
        .problem(409, "INVALID_TRANSITION");
    pay(&app, &id).await;

    let packed = admin(&app, &id, "pack", json!({})).await;
    assert_eq!(packed.ok()["status"], "packed");
    let shipped = admin(&app, &id, "ship", ship_body()).await;
    let order = shipped.ok();
    assert_eq!(order["status"], "shipped");
    assert_eq!(
        order["shipping"]["trackingUrl"],
        "https://www.delhivery.com/track/package/1234567890123"
    );
    assert_eq!(order["shipping"]["carrier"], "Delhivery");
    assert_eq!(order["shipping"]["trackingNumber"], "1234567890123");
    assert_eq!(order["shipping"]["description"], "1 box, 2.1 kg");
    assert_eq!(order["shipping"]["address"]["pincode"], "600004");
    // An empty body is as good as `{}` where there are no fields.
    let res = app
        .http
        .post(format!("{}/admin/orders/{id}/deliver", app.base))
        .bearer_auth(app.admin_token())
        .send()
        .await
        .unwrap();
    let delivered = TestApp::read(res).await;
    let order = delivered.ok();
    assert_eq!(order["status"], "delivered");
    let history: Vec<&str> = order["statusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        history,
        ["created", "paid", "packed", "shipped", "delivered"]
    );
    assert_eq!(
        mails(&app, &id).await,
        ["order_placed", "order_shipped", "order_delivered"]
    );
    // The customer sees the same order.
    let mine = app
        .get(&format!("/orders/{id}"), Some(&app.token("user_ship")))
        .await;
    assert_eq!(mine.ok()["shipping"]["trackingNumber"], "1234567890123");
}

#[tokio::test]
async fn every_disallowed_transition_is_refused_and_repeats_are_no_ops() {
    let app = TestApp::spawn().await;
    let urli = product(&app, "urli", 100_000, 1_000).await;
    let actions = [
        ("pack", OrderStatus::Packed, json!({})),
        ("ship", OrderStatus::Shipped, ship_body()),
        ("deliver", OrderStatus::Delivered, json!({})),
        (
            "cancel",
            OrderStatus::Cancelled,
            json!({ "reason": "test" }),
        ),
    ];
    for from in OrderStatus::ALL {
        for (action, to, body) in &actions {
            let id = order_in(&app, from, urli).await;
            let before = order_doc(&app, &id).await;
            let res = admin(&app, &id, action, body.clone()).await;
            let after = order_doc(&app, &id).await;
            match check_move(from, *to) {
                Ok(Move::Apply) => {
                    assert_eq!(res.ok()["status"], to.as_str(), "{from} -{action}->");
                    assert_eq!(
                        after.get_array("statusHistory").unwrap().len(),
                        before.get_array("statusHistory").unwrap().len() + 1
                    );
                }
                Ok(Move::AlreadyThere) => {
                    assert_eq!(res.ok()["status"], from.as_str(), "{from} -{action}->");
                    assert_eq!(after, before, "repeating {action} changed the order");
                }
                Err(_) => {
                    res.problem(409, "INVALID_TRANSITION");
                    assert_eq!(after, before, "a refused {action} changed the order");
                }
            }
        }
    }
    // Only the cancellations moved stock: one unit back per order cancelled from
    // created, payment_pending, paid and packed (these orders never took any).
    assert_eq!(stock(&app, urli).await, 1_004);
}

#[tokio::test]
async fn ship_computes_tracking_urls_for_known_carriers_only() {
    let app = TestApp::spawn().await;
    let urli = product(&app, "urli", 100_000, 10).await;
    let id = order_in(&app, OrderStatus::Paid, urli).await;
    let res = admin(
        &app,
        &id,
        "ship",
        json!({ "trackingNumber": "BD 77/21?x", "carrier": "blue dart" }),
    )
    .await;
    let shipping = &res.ok()["shipping"];
    assert_eq!(shipping["carrier"], "Blue Dart");
    assert_eq!(
        shipping["trackingUrl"],
        "https://www.bluedart.com/web/guest/trackdartresultthirdparty?trackFor=0&trackNo=BD%2077%2F21%3Fx"
    );
    assert!(shipping.get("description").is_none());

    let id = order_in(&app, OrderStatus::Packed, urli).await;
    let res = admin(
        &app,
        &id,
        "ship",
        json!({ "trackingNumber": "RJ-42", "carrier": "Raju Couriers" }),
    )
    .await;
    let shipping = &res.ok()["shipping"];
    assert_eq!(shipping["carrier"], "Raju Couriers");
    assert!(shipping.get("trackingUrl").is_none(), "{shipping}");

    let id = order_in(&app, OrderStatus::Paid, urli).await;
    let before = order_doc(&app, &id).await;
    let res = admin(&app, &id, "ship", json!({ "carrier": "  " })).await;
    let errors: Vec<&str> = res.problem(400, "VALIDATION_FAILED")["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(errors, ["trackingNumber", "carrier"]);
    let mut extra = ship_body();
    extra["eta"] = json!("tomorrow");
    admin(&app, &id, "ship", extra)
        .await
        .problem(400, "VALIDATION_FAILED");
    admin(&app, &id, "pack", json!({ "box": 1 }))
        .await
        .problem(400, "VALIDATION_FAILED");
    assert_eq!(order_doc(&app, &id).await, before);
}

#[tokio::test]
async fn cancelling_returns_stock_and_the_coupon_use_exactly_once() {
    let app = TestApp::spawn().await;
    let urli = product(&app, "urli", 249_900, 5).await;
    coupon(
        &app,
        json!({ "code": "SAVE5", "type": "percent", "value": 5, "usageLimit": 10 }),
    )
    .await;
    let id = checkout(&app, "user_cancel", urli, Some("SAVE5")).await;
    assert_eq!((stock(&app, urli).await, used(&app, "SAVE5").await), (4, 1));

    // Several admins clicking at once still give the unit back once.
    let results = join_all((0..5).map(|_| {
        admin(
            &app,
            &id,
            "cancel",
            json!({ "reason": "Customer asked to cancel" }),
        )
    }))
    .await;
    for r in &results {
        assert_eq!(r.ok()["status"], "cancelled");
    }
    assert_eq!((stock(&app, urli).await, used(&app, "SAVE5").await), (5, 0));
    let order = order_doc(&app, &id).await;
    let history = order.get_array("statusHistory").unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        history[1].as_document().unwrap().get_str("note").unwrap(),
        "Customer asked to cancel"
    );
    assert_eq!(
        order
            .get_document("payment")
            .unwrap()
            .get_str("status")
            .unwrap(),
        "pending",
        "nothing was paid, so nothing is refunded"
    );
    assert_eq!(mails(&app, &id).await, ["order_placed", "order_cancelled"]);

    // A paid order's cancellation also returns stock and starts a refund.
    let paid = checkout(&app, "user_cancel_paid", urli, Some("SAVE5")).await;
    pay(&app, &paid).await;
    let res = admin(&app, &paid, "cancel", json!({})).await;
    assert_eq!(res.ok()["payment"]["status"], "refund_pending");
    assert_eq!((stock(&app, urli).await, used(&app, "SAVE5").await), (5, 0));
}

#[tokio::test]
async fn admin_routes_need_an_admin_and_a_real_order() {
    let app = TestApp::spawn().await;
    let urli = product(&app, "urli", 100_000, 10).await;
    let id = order_in(&app, OrderStatus::Paid, urli).await;
    let path = format!("/admin/orders/{id}/pack");
    app.post(&path, Some(&app.token("user_customer")), json!({}))
        .await
        .problem(403, "FORBIDDEN");
    app.post(&path, None, json!({}))
        .await
        .problem(401, "UNAUTHENTICATED");
    admin(&app, "not-an-id", "pack", json!({}))
        .await
        .problem(404, "ORDER_NOT_FOUND");
    admin(&app, &ObjectId::new().to_hex(), "cancel", json!({}))
        .await
        .problem(404, "ORDER_NOT_FOUND");
    assert_eq!(
        order_doc(&app, &id).await.get_str("status").unwrap(),
        "paid"
    );
}

#[tokio::test]
async fn direct_invocation_runs_the_same_actions() {
    let app = TestApp::spawn().await;
    let urli = product(&app, "urli", 100_000, 10).await;
    let id = order_in(&app, OrderStatus::Paid, urli).await;

    let res = app
        .invoke_admin(json!({ "action": "pack", "orderId": id }))
        .await;
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["order"]["status"], "packed");

    // The sample event, pointed at this order.
    let mut event = lambda_events::load_event("admin-direct-ship");
    event["orderId"] = json!(id);
    let res = app.invoke_admin(event).await;
    assert_eq!(res["order"]["status"], "shipped", "{res}");
    assert_eq!(
        res["order"]["shipping"]["trackingUrl"],
        "https://www.delhivery.com/track/package/1234567890123"
    );

    let res = app
        .invoke_admin(json!({ "action": "cancel", "orderId": id, "reason": "too late" }))
        .await;
    assert_eq!(res["ok"], false);
    assert_eq!(res["error"]["code"], "INVALID_TRANSITION");

    let res = app
        .invoke_admin(json!({ "action": "deliver", "orderId": id }))
        .await;
    assert_eq!(res["order"]["status"], "delivered", "{res}");

    for (event, code) in [
        (json!({ "action": "pack" }), "VALIDATION_FAILED"),
        (
            json!({ "action": "pack", "orderId": "nope" }),
            "VALIDATION_FAILED",
        ),
        (
            json!({ "action": "pack", "orderId": id, "force": true }),
            "VALIDATION_FAILED",
        ),
        (
            json!({ "action": "ship", "orderId": id, "carrier": "DTDC" }),
            "VALIDATION_FAILED",
        ),
        (
            json!({ "action": "cancel", "orderId": ObjectId::new().to_hex() }),
            "ORDER_NOT_FOUND",
        ),
    ] {
        let res = app.invoke_admin(event.clone()).await;
        assert_eq!(res["ok"], false, "{event}");
        assert_eq!(res["error"]["code"], code, "{event}: {res}");
    }
    assert_eq!(
        count(&app, "orders", doc! { "status": "delivered" }).await,
        1
    );
}

#[tokio::test]
async fn the_sample_http_events_drive_the_lambda() {
    let app = TestApp::spawn().await;
    let urli = product(&app, "urli", 100_000, 10).await;
    let id = order_in(&app, OrderStatus::Paid, urli).await;
    // The sample events name a fixed order id; move our order there.
    let mut d = order_doc(&app, &id).await;
    let orders = app.db().collection::<Document>("orders");
    orders
        .delete_one(doc! { "_id": d.get_object_id("_id").unwrap() })
        .await
        .unwrap();
    d.insert(
        "_id",
        ObjectId::parse_str("6745f0c2a1b2c3d4e5f60718").unwrap(),
    );
    orders.insert_one(d).await.unwrap();

    for (event, status) in [
        ("admin-ship-pack", "packed"),
        ("admin-ship-ship", "shipped"),
        ("admin-ship-deliver", "delivered"),
    ] {
        let res = lambda_events::invoke(&app, event).await;
        assert_eq!(res["statusCode"], 200, "{event}: {res}");
        let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["status"], status);
    }
    let res = lambda_events::invoke(&app, "admin-ship-cancel").await;
    assert_eq!(res["statusCode"], 409, "{res}");
}

/// Found by the invariant suite: a process killed mid-transaction leaves the order locked
/// until the database aborts the orphan (up to a minute). Requests that need it meanwhile
/// ran out of retries and answered 500; they now answer a retryable 503 and change nothing.
#[tokio::test]
async fn an_order_locked_by_a_crashed_writer_gets_a_retryable_503_and_no_change() {
    let app = TestApp::spawn().await;
    let id = order_in(&app, OrderStatus::Paid, ObjectId::new()).await;
    let oid = ObjectId::parse_str(&id).unwrap();
    // The "crashed" writer: a transaction that touched the order and never finished.
    let mut orphan = app.services.db.client.start_session().await.unwrap();
    orphan.start_transaction().await.unwrap();
    app.db()
        .collection::<Document>("orders")
        .update_one(
            doc! { "_id": oid },
            doc! { "$set": { "note": "half-done" } },
        )
        .session(&mut orphan)
        .await
        .unwrap();

    let res = admin(&app, &id, "ship", ship_body()).await;
    let problem = res.problem(503, "TRY_AGAIN");
    assert!(problem["detail"].as_str().unwrap().contains("retry"));
    assert_eq!(
        res.headers.get("retry-after").and_then(|v| v.to_str().ok()),
        Some("2")
    );
    assert_eq!(
        order_doc(&app, &id).await.get_str("status").unwrap(),
        "paid"
    );
    assert!(mails(&app, &id).await.is_empty());

    // Once the database has aborted the orphan, the same request goes through.
    orphan.abort_transaction().await.unwrap();
    admin(&app, &id, "ship", ship_body()).await.ok();
    assert_eq!(
        order_doc(&app, &id).await.get_str("status").unwrap(),
        "shipped"
    );
}
