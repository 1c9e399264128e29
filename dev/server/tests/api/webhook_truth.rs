//! A webhook is a hint, not proof: its credential is a static header, so only PhonePe's
//! order-status API can pay an order. Also the events and fields PhonePe documents, a
//! transaction reported for a second order, and webhooks that beat initiate's own record.

use crate::payments::{
    app_with_sim, initiate, initiate_mid, insert_order, order_doc, webhook_auth,
};
use crate::support::TestApp;
use common::shop::order::model::ORDERS;
use common::shop::payments;
use common::shop::payments::PAYMENT_ATTEMPTS;
use mongodb::bson::{doc, DateTime, Document};
use phonepe_sim::{FailMode, HookOptions, SettleOnPay, SimHandle};
use serde_json::{json, Value};
use std::time::Duration;

async fn post_hook(app: &TestApp, sim: &SimHandle, body: Value) -> u16 {
    app.http
        .post(format!("{}/payments/phonepe/webhook", app.base))
        .header("authorization", webhook_auth(sim))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn status(doc: &Document) -> String {
    doc.get_str("status").unwrap().to_owned()
}

fn flag(doc: &Document) -> Option<String> {
    doc.get_document("payment")
        .unwrap()
        .get_str("flag")
        .ok()
        .map(str::to_owned)
}

fn completed_body(mid: &str, amount: i64, txn: &str) -> Value {
    json!({
        "event": "checkout.order.completed",
        "payload": {
            "merchantOrderId": mid, "state": "COMPLETED", "amount": amount,
            "paymentDetails": [{ "transactionId": txn, "state": "COMPLETED", "amount": amount, "paymentMode": "UPI_QR" }]
        }
    })
}

async fn make_attempts_due(app: &TestApp) {
    app.db()
        .collection::<Document>(PAYMENT_ATTEMPTS)
        .update_many(
            doc! {},
            doc! { "$set": { "nextCheckAt": DateTime::from_millis(0) } },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn a_forged_completed_webhook_pays_nothing_while_phonepe_says_pending() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_forged", 49_900).await;
    let mid = initiate_mid(&app, "user_forged", order).await;
    // Someone who saw the webhook credential once sends a perfect-looking "paid".
    assert_eq!(
        post_hook(&app, &sim, completed_body(&mid, 49_900, "T-FORGED")).await,
        200
    );
    let doc = order_doc(&app, order).await;
    assert_eq!(status(&doc), "payment_pending", "{doc:?}");
    assert!(doc
        .get_document("payment")
        .unwrap()
        .get_str("transactionId")
        .is_err());

    // The real payment pays it, with PhonePe's transaction, not the forged one.
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(1, Duration::from_secs(5)).await;
    let doc = order_doc(&app, order).await;
    assert_eq!(status(&doc), "paid");
    assert_ne!(
        doc.get_document("payment")
            .unwrap()
            .get_str("transactionId")
            .unwrap(),
        "T-FORGED"
    );
}

#[tokio::test]
async fn when_phonepe_cannot_confirm_the_webhook_answers_200_and_reconciliation_pays() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_unconfirmed", 49_900).await;
    let mid = initiate_mid(&app, "user_unconfirmed", order).await;
    sim.update_switches(|s| s.fail_api = Some(FailMode::ServerError));
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    let hooks = sim.wait_for_webhooks(1, Duration::from_secs(5)).await;
    assert_eq!(
        hooks.last().unwrap().status,
        Some(200),
        "answered, not retried forever"
    );
    assert_eq!(status(&order_doc(&app, order).await), "payment_pending");

    sim.update_switches(|s| s.fail_api = None);
    make_attempts_due(&app).await;
    let phonepe = app.functions.phonepe.clone();
    payments::reconcile_due(&app.services.db, &*app.services.clock, &phonepe, 10)
        .await
        .unwrap();
    assert_eq!(status(&order_doc(&app, order).await), "paid");
}

#[tokio::test]
async fn pg_order_events_settle_orders_like_checkout_order_events() {
    let (app, sim) = app_with_sim().await;
    sim.update_switches(|s| s.drop_webhooks = true);
    let paid = insert_order(&app, "user_pg_paid", 49_900).await;
    let failed = insert_order(&app, "user_pg_failed", 49_900).await;
    let paid_mid = initiate_mid(&app, "user_pg_paid", paid).await;
    let failed_mid = initiate_mid(&app, "user_pg_failed", failed).await;
    sim.complete_order(&paid_mid, HookOptions::default())
        .await
        .unwrap();
    sim.fail_order(&failed_mid, HookOptions::default())
        .await
        .unwrap();
    let hook = |event: &str, mid: &str, state: &str| json!({ "event": event, "payload": { "merchantOrderId": mid, "state": state, "amount": 49_900 } });
    assert_eq!(
        post_hook(
            &app,
            &sim,
            hook("pg.order.completed", &paid_mid, "COMPLETED")
        )
        .await,
        200
    );
    assert_eq!(
        post_hook(&app, &sim, hook("pg.order.failed", &failed_mid, "FAILED")).await,
        200
    );
    assert_eq!(
        status(&order_doc(&app, paid).await),
        "paid",
        "at once, not a minute later"
    );
    let failed_doc = order_doc(&app, failed).await;
    assert_eq!(
        failed_doc
            .get_document("payment")
            .unwrap()
            .get_str("status")
            .unwrap(),
        "failed"
    );
}

#[tokio::test]
async fn null_optional_fields_in_a_webhook_mean_none() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_nulls", 49_900).await;
    let mid = initiate_mid(&app, "user_nulls", order).await;
    sim.update_switches(|s| s.drop_webhooks = true);
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    let body = json!({
        "event": "checkout.order.completed",
        "type": null,
        "payload": {
            "merchantOrderId": mid, "orderId": null, "state": null, "amount": 49_900,
            "expireAt": null, "errorCode": null, "detailedErrorCode": null, "metaInfo": null,
            "paymentDetails": null, "merchantRefundId": null, "refundId": null,
        }
    });
    assert_eq!(post_hook(&app, &sim, body).await, 200);
    // The body only said "go and ask": PhonePe's answer paid it.
    assert_eq!(status(&order_doc(&app, order).await), "paid");
}

#[tokio::test]
async fn a_transaction_that_already_paid_another_order_is_flagged_not_a_500() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_dup_txn", 49_900).await;
    let mid = initiate_mid(&app, "user_dup_txn", order).await;
    sim.update_switches(|s| s.drop_webhooks = true);
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    let txn = sim.order_status(&mid).unwrap()["paymentDetails"][0]["transactionId"]
        .as_str()
        .unwrap()
        .to_owned();
    // An earlier order already carries that transaction (a PhonePe or data error).
    let other = insert_order(&app, "user_other", 49_900).await;
    app.db()
        .collection::<Document>(ORDERS)
        .update_one(
            doc! { "_id": other },
            doc! { "$set": { "status": "paid", "payment.status": "paid", "payment.transactionId": &txn } },
        )
        .await
        .unwrap();

    for _ in 0..2 {
        let hook = json!({ "event": "checkout.order.completed", "payload": { "merchantOrderId": mid, "state": "COMPLETED", "amount": 49_900 } });
        assert_eq!(
            post_hook(&app, &sim, hook).await,
            200,
            "acknowledged, every retry"
        );
    }
    let doc = order_doc(&app, order).await;
    assert_eq!(
        status(&doc),
        "payment_pending",
        "never paid twice by one transaction"
    );
    assert!(
        flag(&doc).unwrap().starts_with("duplicate_transaction:"),
        "{doc:?}"
    );

    // Reconciliation meets the same record and still settles the rest of its batch.
    let healthy = insert_order(&app, "user_healthy", 59_900).await;
    let healthy_mid = initiate_mid(&app, "user_healthy", healthy).await;
    sim.complete_order(&healthy_mid, HookOptions::default())
        .await
        .unwrap();
    make_attempts_due(&app).await;
    let phonepe = app.functions.phonepe.clone();
    payments::reconcile_due(&app.services.db, &*app.services.clock, &phonepe, 10)
        .await
        .unwrap();
    assert_eq!(status(&order_doc(&app, healthy).await), "paid");
}

#[tokio::test]
async fn completed_without_a_completed_transaction_says_so_instead_of_amount_mismatch() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_no_txn", 49_900).await;
    let mid = initiate_mid(&app, "user_no_txn", order).await;
    let status_without_txn: common::integrations::phonepe::OrderStatus =
        serde_json::from_value(json!({
            "merchantOrderId": mid, "state": "COMPLETED", "amount": 49_900,
            "paymentDetails": [{ "transactionId": "", "state": "COMPLETED", "amount": 49_900 }]
        }))
        .unwrap();
    let applied = payments::apply_order_state(&app.services.db, &status_without_txn)
        .await
        .unwrap();
    assert_eq!(applied, payments::Applied::NoTransaction);
    let doc = order_doc(&app, order).await;
    assert_eq!(
        status(&doc),
        "payment_pending",
        "an empty transactionId never pays"
    );
    assert!(
        flag(&doc).unwrap().starts_with("no_completed_transaction:"),
        "{doc:?}"
    );
    drop(sim);
}

#[tokio::test]
async fn a_payment_that_completes_before_initiate_records_it_sends_the_shopper_to_their_paid_order()
{
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_quick", 49_900).await;
    sim.update_switches(|s| s.settle_on_pay = Some(SettleOnPay::Completed));
    let res = initiate(&app, "user_quick", order).await;
    assert_eq!(
        res["redirectUrl"],
        format!("https://shop.pitalya.example/orders/{}", order.to_hex()),
        "{res}"
    );
    let doc = order_doc(&app, order).await;
    assert_eq!(status(&doc), "paid");
}

#[tokio::test]
async fn a_payment_that_fails_before_initiate_records_it_is_refused_and_the_order_stays_payable() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_unlucky", 49_900).await;
    sim.update_switches(|s| s.settle_on_pay = Some(SettleOnPay::Failed));
    let res = app
        .post(
            "/payments/phonepe/initiate",
            Some(&app.token("user_unlucky")),
            json!({ "orderId": order.to_hex() }),
        )
        .await;
    res.problem(409, "PAYMENT_ATTEMPT_FAILED");
    let doc = order_doc(&app, order).await;
    assert_eq!(status(&doc), "created", "not pointing at a dead attempt");
    assert!(doc
        .get_document("payment")
        .unwrap()
        .get_str("merchantOrderId")
        .is_err());

    sim.update_switches(|s| s.settle_on_pay = None);
    let retry = initiate(&app, "user_unlucky", order).await;
    assert!(
        retry["redirectUrl"].as_str().unwrap().contains("/pay/"),
        "{retry}"
    );
}
