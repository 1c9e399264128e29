//! The owner's refunds after payment: by amount, by lines (at the price paid after the
//! discount) or in full, on paid, packed, shipped and delivered orders; never above what
//! PhonePe collected, once per `Idempotency-Key`, and through the one refund loop to PhonePe.

use crate::orders::{coupon, create, fill_cart, order_body, product, stock};
use crate::payments::{app_with_sim, initiate_mid, mails};
use crate::support::{Resp, TestApp};
use common::shop::refunds;
use futures::future::join_all;
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document};
use phonepe_sim::{HookOptions, SimHandle};
use serde_json::{json, Value};
use std::time::Duration;

/// An order placed through checkout and paid through the simulator.
pub(crate) async fn paid(
    app: &TestApp,
    sim: &SimHandle,
    user: &str,
    lines: &[(ObjectId, i64)],
    code: Option<&str>,
) -> (String, String) {
    fill_cart(app, user, lines).await;
    let mut body = order_body();
    if let Some(c) = code {
        body["couponCode"] = json!(c);
    }
    let res = create(app, user, body, None).await;
    assert_eq!(res.status, 201, "{}", res.body);
    let id = res.body["id"].as_str().unwrap().to_owned();
    let oid = ObjectId::parse_str(&id).unwrap();
    let mid = initiate_mid(app, user, oid).await;
    let before = sim.webhook_count();
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(before + 1, Duration::from_secs(5))
        .await;
    let order = app
        .get(&format!("/orders/{id}"), Some(&app.token(user)))
        .await;
    assert_eq!(order.body["status"], "paid", "{}", order.body);
    (id, mid)
}

async fn refund(app: &TestApp, id: &str, body: Value, key: Option<&str>) -> Resp {
    let mut req = app
        .http
        .post(format!("{}/admin/orders/{id}/refund", app.base))
        .bearer_auth(app.admin_token())
        .json(&body);
    if let Some(k) = key {
        req = req.header("idempotency-key", k);
    }
    TestApp::read(req.send().await.unwrap()).await
}

/// The owner refunds `quantity` units of `product` with restocking; the order as answered.
async fn refund_restocking(
    app: &TestApp,
    id: &str,
    product: ObjectId,
    quantity: i64,
    reason: &str,
) -> Value {
    let body = json!({
        "lines": [{ "productId": product.to_hex(), "quantity": quantity }],
        "restock": true,
        "reason": reason,
    });
    let res = refund(app, id, body, None).await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body
}

async fn owner(app: &TestApp, id: &str, action: &str, body: Value) {
    let res = app
        .post(
            &format!("/admin/orders/{id}/{action}"),
            Some(&app.admin_token()),
            body,
        )
        .await;
    assert_eq!(res.status, 200, "{action}: {}", res.body);
}

async fn order(app: &TestApp, id: &str) -> Document {
    crate::orders::order_doc(app, id).await
}

fn refunds_of(doc: &Document) -> Vec<Document> {
    doc.get_array("refunds")
        .unwrap()
        .iter()
        .map(|r| r.as_document().unwrap().clone())
        .collect()
}

fn payment(doc: &Document) -> Document {
    doc.get_document("payment").unwrap().clone()
}

/// Runs the refund loop until no refund of the order is pending.
async fn settle_all(app: &TestApp, id: &str) -> Document {
    let phonepe = app.functions.phonepe.clone();
    let oid = ObjectId::parse_str(id).unwrap();
    for _ in 0..60 {
        refunds::drive(&app.services.db, &*app.services.clock, &phonepe, 50)
            .await
            .unwrap();
        let doc = order(app, id).await;
        if refunds_of(&doc)
            .iter()
            .all(|r| r.get_str("state").unwrap() != "pending")
        {
            return doc;
        }
        app.db()
            .collection::<Document>("orders")
            .update_one(
                doc! { "_id": oid },
                doc! { "$set": { "refunds.$[r].nextCheckAt": DateTime::from_millis(0) } },
            )
            .array_filters([doc! { "r.state": "pending" }])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("refunds never settled: {:?}", order(app, id).await);
}

fn sim_refunded(sim: &SimHandle, mid: &str) -> i64 {
    sim.refunds_of(mid)
        .iter()
        .filter(|r| r["state"] == "COMPLETED")
        .map(|r| r["amount"].as_i64().unwrap())
        .sum()
}

#[tokio::test]
async fn the_owner_refunds_part_of_a_delivered_order_and_later_the_rest() {
    let (app, sim) = app_with_sim().await;
    let urli = product(&app, "refund-urli", 249_900, 5).await;
    let (id, mid) = paid(&app, &sim, "user_part", &[(urli, 1)], None).await;
    owner(
        &app,
        &id,
        "ship",
        json!({ "carrier": "DTDC", "trackingNumber": "D1" }),
    )
    .await;
    owner(&app, &id, "deliver", json!({})).await;

    let res = refund(
        &app,
        &id,
        json!({ "amount": 50_000, "restock": false, "reason": "dented lid" }),
        None,
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(
        res.body["status"], "delivered",
        "a refund never moves the status"
    );
    assert_eq!(res.body["payment"]["status"], "refund_pending");
    assert_eq!(res.body["refunds"][0]["amount"], 50_000);
    assert_eq!(res.body["refunds"][0]["state"], "pending");
    assert_eq!(res.body["refunds"][0]["kind"], "owner");
    let doc = settle_all(&app, &id).await;
    assert_eq!(
        payment(&doc).get_str("status").unwrap(),
        "partially_refunded"
    );
    assert_eq!(payment(&doc).get_i64("refundedAmount").unwrap(), 50_000);
    let oid = ObjectId::parse_str(&id).unwrap();
    assert_eq!(mails(&app, oid, "refund_issued").await, 1);

    // Without lines or an amount: everything not yet refunded.
    let res = refund(
        &app,
        &id,
        json!({ "restock": false, "reason": "returned to origin" }),
        None,
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["refunds"][1]["amount"], 249_900 - 50_000);
    let doc = settle_all(&app, &id).await;
    assert_eq!(payment(&doc).get_str("status").unwrap(), "refunded");
    assert_eq!(payment(&doc).get_i64("refundedAmount").unwrap(), 249_900);
    assert_eq!(doc.get_str("status").unwrap(), "delivered");
    assert_eq!(
        mails(&app, oid, "refund_issued").await,
        2,
        "one mail per refund"
    );
    assert_eq!(
        sim_refunded(&sim, &mid),
        249_900,
        "PhonePe paid back exactly what was collected"
    );

    let res = refund(
        &app,
        &id,
        json!({ "amount": 100, "restock": false, "reason": "again" }),
        None,
    )
    .await;
    res.problem(409, "NOTHING_TO_REFUND");
}

#[tokio::test]
async fn refunding_lines_gives_back_their_price_after_the_discount_and_can_restock() {
    let (app, sim) = app_with_sim().await;
    let urli = product(&app, "lines-urli", 100_000, 10).await;
    let diya = product(&app, "lines-diya", 50_000, 10).await;
    coupon(
        &app,
        json!({ "code": "FLAT300", "type": "flat", "value": 30_000, "isActive": true }),
    )
    .await;
    let (id, mid) = paid(
        &app,
        &sim,
        "user_lines",
        &[(urli, 2), (diya, 2)],
        Some("FLAT300"),
    )
    .await;
    // Subtotal ₹3,000.00, discount ₹300.00: the urli line (₹2,000) carries ₹200 of it.
    owner(&app, &id, "pack", json!({})).await;
    assert_eq!(stock(&app, urli).await, 8);

    let answer = refund_restocking(&app, &id, urli, 1, "cracked").await;
    assert_eq!(
        answer["refunds"][0]["amount"], 90_000,
        "₹1,000 less its ₹100 share"
    );
    assert_eq!(answer["refunds"][0]["lines"][0]["quantity"], 1);
    assert_eq!(
        stock(&app, urli).await,
        9,
        "the cracked urli is back on the shelf"
    );

    // The second urli gets the rest of the line, so the line refunds to the paisa.
    let res = refund(
        &app,
        &id,
        json!({ "lines": [{ "productId": urli.to_hex(), "quantity": 1 }], "restock": false, "reason": "lost" }),
        None,
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["refunds"][1]["amount"], 90_000);
    assert_eq!(
        stock(&app, urli).await,
        9,
        "restock: false leaves stock alone"
    );

    let res = refund(
        &app,
        &id,
        json!({ "lines": [{ "productId": urli.to_hex(), "quantity": 1 }], "restock": false, "reason": "again" }),
        None,
    )
    .await;
    res.problem(422, "UNITS_ALREADY_REFUNDED");
    assert_eq!(res.body["refundableUnits"], 0);

    let doc = settle_all(&app, &id).await;
    assert_eq!(payment(&doc).get_i64("refundedAmount").unwrap(), 180_000);
    assert_eq!(
        payment(&doc).get_str("status").unwrap(),
        "partially_refunded"
    );
    assert_eq!(sim_refunded(&sim, &mid), 180_000);
}

#[tokio::test]
async fn a_refund_is_never_above_what_is_left_and_bad_requests_change_nothing() {
    let (app, sim) = app_with_sim().await;
    let urli = product(&app, "bad-refund-urli", 100_000, 5).await;
    let (id, _) = paid(&app, &sim, "user_bad_refund", &[(urli, 1)], None).await;
    let before = order(&app, &id).await;

    let res = refund(
        &app,
        &id,
        json!({ "amount": 100_001, "restock": false, "reason": "x" }),
        None,
    )
    .await;
    res.problem(422, "REFUND_EXCEEDS_PAID");
    assert_eq!(res.body["refundable"], 100_000);

    for (body, field) in [
        (
            json!({ "amount": 99, "restock": false, "reason": "x" }),
            "amount",
        ),
        (
            json!({ "amount": 500, "lines": [{ "productId": urli.to_hex(), "quantity": 1 }], "restock": false, "reason": "x" }),
            "amount",
        ),
        (
            json!({ "amount": 500, "restock": true, "reason": "x" }),
            "restock",
        ),
        (json!({ "amount": 500, "reason": "x" }), "restock"),
        (json!({ "amount": 500, "restock": false }), "reason"),
        (
            json!({ "lines": [], "restock": false, "reason": "x" }),
            "lines",
        ),
        (
            json!({ "lines": [{ "productId": "nope", "quantity": 1 }], "restock": false, "reason": "x" }),
            "lines[0].productId",
        ),
        (
            json!({ "lines": [{ "productId": urli.to_hex(), "quantity": 0 }], "restock": false, "reason": "x" }),
            "lines[0].quantity",
        ),
        (
            json!({ "lines": [{ "productId": ObjectId::new().to_hex(), "quantity": 1 }], "restock": false, "reason": "x" }),
            "lines[0].productId",
        ),
    ] {
        let res = refund(&app, &id, body.clone(), None).await;
        res.problem(400, "VALIDATION_FAILED");
        let fields: Vec<&str> = res.body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&field), "{body} → {fields:?}");
    }
    let res = refund(
        &app,
        &id,
        json!({ "amount": 500, "restock": false, "reason": "x", "extra": 1 }),
        None,
    )
    .await;
    res.problem(400, "VALIDATION_FAILED");

    let after = order(&app, &id).await;
    assert_eq!(before, after, "refused refunds change nothing");
    assert_eq!(stock(&app, urli).await, 4);

    // Only admins, and only real orders.
    let res = app
        .post(
            &format!("/admin/orders/{id}/refund"),
            Some(&app.token("user_bad_refund")),
            json!({ "restock": false, "reason": "x" }),
        )
        .await;
    res.problem(403, "FORBIDDEN");
    let res = refund(
        &app,
        &ObjectId::new().to_hex(),
        json!({ "restock": false, "reason": "x" }),
        None,
    )
    .await;
    res.problem(404, "ORDER_NOT_FOUND");
}

#[tokio::test]
async fn an_unpaid_order_has_nothing_to_refund() {
    let (app, _sim) = app_with_sim().await;
    let urli = product(&app, "unpaid-urli", 100_000, 5).await;
    fill_cart(&app, "user_unpaid", &[(urli, 1)]).await;
    let res = create(&app, "user_unpaid", order_body(), None).await;
    let id = res.body["id"].as_str().unwrap().to_owned();
    let res = refund(&app, &id, json!({ "restock": false, "reason": "x" }), None).await;
    res.problem(409, "NOTHING_TO_REFUND");
}

#[tokio::test]
async fn the_same_idempotency_key_refunds_once_even_when_sent_concurrently() {
    let (app, sim) = app_with_sim().await;
    let urli = product(&app, "idem-urli", 100_000, 5).await;
    let (id, _) = paid(&app, &sim, "user_idem", &[(urli, 1)], None).await;
    let body = json!({ "amount": 10_000, "restock": false, "reason": "scratched" });
    let answers = join_all((0..6).map(|_| refund(&app, &id, body.clone(), Some("refund-7")))).await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    let replayed = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        (created, replayed),
        (1, 5),
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(refunds_of(&order(&app, &id).await).len(), 1);

    let res = refund(
        &app,
        &id,
        json!({ "amount": 20_000, "restock": false, "reason": "scratched" }),
        Some("refund-7"),
    )
    .await;
    res.problem(422, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(refunds_of(&order(&app, &id).await).len(), 1);
}

#[tokio::test]
async fn concurrent_refunds_never_add_up_to_more_than_was_collected() {
    let (app, sim) = app_with_sim().await;
    let urli = product(&app, "race-urli", 100_000, 5).await;
    let (id, mid) = paid(&app, &sim, "user_race_refund", &[(urli, 1)], None).await;
    let body = json!({ "amount": 30_000, "restock": false, "reason": "partial" });
    let answers = join_all((0..8).map(|_| refund(&app, &id, body.clone(), None))).await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 3, "three of ₹300 fit in ₹1,000");
    assert!(answers
        .iter()
        .filter(|r| r.status != 201)
        .all(|r| r.status == 422 && r.body["code"] == "REFUND_EXCEEDS_PAID"));
    let doc = settle_all(&app, &id).await;
    assert_eq!(payment(&doc).get_i64("refundedAmount").unwrap(), 90_000);
    assert_eq!(sim_refunded(&sim, &mid), 90_000);
    let ids: std::collections::HashSet<String> = refunds_of(&doc)
        .iter()
        .map(|r| r.get_str("merchantRefundId").unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 3, "every refund has its own merchantRefundId");
}

#[tokio::test]
async fn the_direct_refund_action_refunds_like_the_route() {
    let (app, sim) = app_with_sim().await;
    let urli = product(&app, "direct-urli", 100_000, 5).await;
    let (id, _) = paid(&app, &sim, "user_direct_refund", &[(urli, 1)], None).await;
    let event = json!({ "action": "refund", "orderId": id, "amount": 25_000, "restock": false, "reason": "by console", "idempotencyKey": "k1" });
    let first = app.invoke_admin(event.clone()).await;
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["created"], true);
    assert_eq!(first["order"]["refunds"][0]["by"], admin_ship::DIRECT_ACTOR);
    let again = app.invoke_admin(event).await;
    assert_eq!(again["created"], false);
    let bad = app
        .invoke_admin(json!({ "action": "refund", "orderId": id, "amount": 1, "restock": false, "reason": "x" }))
        .await;
    assert_eq!(bad["ok"], false);
    assert_eq!(bad["error"]["code"], "VALIDATION_FAILED");
    assert_eq!(refunds_of(&order(&app, &id).await).len(), 1);
}

/// The order's entries in a product's stock ledger, oldest first, as the owner reads them.
async fn ledger_of_order(app: &TestApp, product: ObjectId, order: &str) -> Vec<i64> {
    let res = app
        .get(
            &format!("/admin/products/{}/stock-movements", product.to_hex()),
            Some(&app.admin_token()),
        )
        .await;
    let mut deltas: Vec<i64> = res.ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["orderId"] == order)
        .map(|m| m["delta"].as_i64().unwrap())
        .collect();
    deltas.reverse();
    deltas
}

/// A paid order of two urlis, taken from 25 in stock: (app, simulator, urli, order id).
async fn two_of_25_paid(name: &str) -> (TestApp, SimHandle, ObjectId, String) {
    let (app, sim) = app_with_sim().await;
    let urli = product(&app, &format!("{name}-urli"), 100_000, 25).await;
    let (id, _) = paid(&app, &sim, &format!("user_{name}"), &[(urli, 2)], None).await;
    assert_eq!(stock(&app, urli).await, 23);
    (app, sim, urli, id)
}

#[tokio::test]
async fn cancelling_after_a_restocking_refund_gives_back_only_the_units_still_out() {
    let (app, _sim, urli, id) = two_of_25_paid("restock-cancel").await;

    refund_restocking(&app, &id, urli, 1, "cracked").await;
    assert_eq!(stock(&app, urli).await, 24);

    owner(&app, &id, "cancel", json!({ "reason": "changed mind" })).await;
    assert_eq!(
        stock(&app, urli).await,
        25,
        "the refunded urli is already back: only the other one returns"
    );
    assert_eq!(ledger_of_order(&app, urli, &id).await, [-2, 1, 1]);
}

#[tokio::test]
async fn a_restocking_refund_after_the_cancellation_puts_nothing_back_twice() {
    let (app, sim, urli, id) = two_of_25_paid("cancel-restock").await;
    // PhonePe fails the cancellation's refund until the order is flagged for a person, who
    // then refunds the units again by hand, ticking "restock" out of habit.
    sim.update_switches(|s| s.fail_refunds = true);
    owner(&app, &id, "cancel", json!({ "reason": "changed mind" })).await;
    assert_eq!(stock(&app, urli).await, 25);
    let doc = settle_all(&app, &id).await;
    assert!(
        payment(&doc)
            .get_str("flag")
            .unwrap()
            .starts_with("refund_failed"),
        "{doc:?}"
    );
    sim.update_switches(|s| s.fail_refunds = false);

    let answer = refund_restocking(&app, &id, urli, 2, "by hand").await;
    assert_eq!(answer["refunds"].as_array().unwrap().len(), 4);
    assert_eq!(
        stock(&app, urli).await,
        25,
        "the cancellation put them back"
    );
    assert_eq!(ledger_of_order(&app, urli, &id).await, [-2, 2]);
}

#[tokio::test]
async fn a_restocking_refund_of_units_a_failed_refund_restocked_puts_nothing_back_twice() {
    let (app, sim, urli, id) = two_of_25_paid("refail-restock").await;
    sim.update_switches(|s| s.fail_refunds = true);
    refund_restocking(&app, &id, urli, 1, "cracked").await;
    settle_all(&app, &id).await;
    sim.update_switches(|s| s.fail_refunds = false);
    assert_eq!(stock(&app, urli).await, 24);

    // PhonePe never paid it back, so the same urli may be refunded again; it is on the shelf.
    refund_restocking(&app, &id, urli, 2, "both, by hand").await;
    assert_eq!(stock(&app, urli).await, 25, "one unit was still out");
    owner(&app, &id, "cancel", json!({ "reason": "closing it" })).await;
    assert_eq!(stock(&app, urli).await, 25);
    assert_eq!(ledger_of_order(&app, urli, &id).await, [-2, 1, 1]);
}

async fn preview(app: &TestApp, id: &str, body: Value) -> Resp {
    app.post(
        &format!("/admin/orders/{id}/refund/preview"),
        Some(&app.admin_token()),
        body,
    )
    .await
}

#[tokio::test]
async fn the_refund_preview_answers_what_the_refund_will_give_back_and_writes_nothing() {
    let (app, sim) = app_with_sim().await;
    let urli = product(&app, "preview-urli", 100_000, 10).await;
    let diya = product(&app, "preview-diya", 50_000, 10).await;
    coupon(
        &app,
        json!({ "code": "FLAT301", "type": "flat", "value": 30_100, "isActive": true }),
    )
    .await;
    let (id, _) = paid(
        &app,
        &sim,
        "user_preview",
        &[(urli, 3), (diya, 1)],
        Some("FLAT301"),
    )
    .await;
    // Subtotal ₹3,500.00, discount ₹301.00: the urli line carries ₹258.00 of it, so its
    // ₹2,742.00 paid splits into units worth 914.00 each, and the diya's ₹457.00.
    let before = order(&app, &id).await;
    let one_urli = json!({ "lines": [{ "productId": urli.to_hex(), "quantity": 1 }] });
    let res = preview(&app, &id, one_urli.clone()).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body, json!({ "amount": 91_400, "refundable": 319_900 }));
    let res = preview(&app, &id, json!({})).await;
    assert_eq!(
        res.body,
        json!({ "amount": 319_900, "refundable": 319_900 }),
        "neither lines nor amount: everything"
    );
    let res = preview(
        &app,
        &id,
        json!({ "amount": 12_345, "restock": false, "reason": "" }),
    )
    .await;
    assert_eq!(res.body["amount"], 12_345, "{}", res.body);
    assert_eq!(
        order(&app, &id).await,
        before,
        "previews record nothing and move no stock"
    );
    assert_eq!(stock(&app, urli).await, 7);

    // The preview is the amount the refund then records, to the paisa.
    let mut body = json!({ "lines": [{ "productId": urli.to_hex(), "quantity": 2 }] });
    let previewed = preview(&app, &id, body.clone()).await.body["amount"].clone();
    body["restock"] = json!(false);
    body["reason"] = json!("two cracked");
    let res = refund(&app, &id, body, None).await;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["refunds"][0]["amount"], previewed);

    // The refusals the refund would answer, and nothing more.
    let res = preview(
        &app,
        &id,
        json!({ "lines": [{ "productId": urli.to_hex(), "quantity": 2 }] }),
    )
    .await;
    res.problem(422, "UNITS_ALREADY_REFUNDED");
    assert_eq!(res.body["refundableUnits"], 1);
    let left = 319_900 - previewed.as_i64().unwrap();
    let res = preview(&app, &id, json!({ "amount": left + 1 })).await;
    res.problem(422, "REFUND_EXCEEDS_PAID");
    assert_eq!(res.body["refundable"], left);
    for (body, field) in [
        (json!({ "amount": 99 }), "amount"),
        (json!({ "amount": 500, "lines": [] }), "amount"),
        (
            json!({ "lines": [{ "productId": "nope", "quantity": 1 }] }),
            "lines[0].productId",
        ),
        (json!({ "colour": "red" }), "colour"),
    ] {
        let res = preview(&app, &id, body.clone()).await;
        res.problem(400, "VALIDATION_FAILED");
        assert!(
            res.body.to_string().contains(field),
            "{body} → {}",
            res.body
        );
    }
    app.post(
        &format!("/admin/orders/{id}/refund/preview"),
        Some(&app.token("user_preview")),
        json!({}),
    )
    .await
    .problem(403, "FORBIDDEN");
    preview(&app, &ObjectId::new().to_hex(), json!({}))
        .await
        .problem(404, "ORDER_NOT_FOUND");
}
