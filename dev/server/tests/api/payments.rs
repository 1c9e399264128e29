//! PhonePe payments end to end against the in-process PhonePe simulator: initiate, the hosted
//! page, webhooks (duplicated, reordered, forged), reconciliation and refunds.

use crate::support::{Resp, TestApp};
use common::shop::messages::outbox::MAIL_OUTBOX;
use common::shop::order::model::ORDERS;
use common::shop::order::model::{Order, OrderItem, Payment, Shipping, StatusChange};
use common::shop::order::status::OrderStatus;
use common::shop::payments::{self, Applied};
use common::shop::refunds;
use common::shop::vocabulary::address::Address;
use common::shop::vocabulary::ids::{OrderId, ProductId, VariantId};
use common::shop::Paise;
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document};
use phonepe_sim::{FailMode, HookOptions, SimConfig, SimHandle};
use serde_json::{json, Value};
use std::time::Duration;

pub const STOREFRONT: &str = "https://shop.pitalya.example/orders/{orderId}";

pub async fn app_with_sim() -> (TestApp, SimHandle) {
    app_with_sim_and(|_| {}).await
}

/// `app_with_sim`, with more settings of the test's own.
pub async fn app_with_sim_and(
    more: impl FnOnce(&mut std::collections::HashMap<String, String>),
) -> (TestApp, SimHandle) {
    let (_, sim) = phonepe_sim::spawn(SimConfig {
        refund_delay_ms: 100,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let cfg = sim.config().clone();
    let base = sim.base_url();
    let app = TestApp::spawn_with(|v| {
        v.insert("PHONEPE_CLIENT_ID".into(), cfg.client_id.clone());
        v.insert("PHONEPE_CLIENT_SECRET".into(), cfg.client_secret.clone());
        v.insert("PHONEPE_PG_URL".into(), base.clone());
        v.insert("PHONEPE_OAUTH_URL".into(), base.clone());
        v.insert(
            "PHONEPE_WEBHOOK_USERNAME".into(),
            cfg.webhook_username.clone(),
        );
        v.insert(
            "PHONEPE_WEBHOOK_PASSWORD".into(),
            cfg.webhook_password.clone(),
        );
        v.insert("PHONEPE_REDIRECT_URL".into(), STOREFRONT.into());
        more(v);
    })
    .await;
    sim.set_webhook_url(Some(format!("{}/payments/phonepe/webhook", app.base)));
    (app, sim)
}

/// An order as checkout leaves it, written directly so these tests do not depend on the cart.
pub async fn insert_order(app: &TestApp, user: &str, total: i64) -> ObjectId {
    let now = DateTime::now();
    let order = Order {
        id: OrderId::new(),
        number: None,
        user_id: user.into(),
        email: common::platform::email::Email::parse(&format!("{user}@example.com")).unwrap(),
        items: vec![OrderItem {
            product_id: ProductId::new(),
            variant_id: VariantId::new(),
            sku: None,
            name: "Kuber Brass Urli".into(),
            variant_title: "Default".into(),
            price: Paise(total),
            image: None,
            quantity: 1,
            line_total: Paise(total),
        }],
        subtotal: Paise(total),
        discount: Paise(0),
        shipping_fee: Paise(0),
        total: Paise(total),
        tax: None,
        coupon_code: None,
        currency: "INR".into(),
        status: OrderStatus::Created,
        status_history: vec![StatusChange {
            status: OrderStatus::Created,
            at: now,
            note: None,
            by: None,
        }],
        payment: Payment::pending(),
        shipping: Shipping {
            address: Address {
                name: "Asha Iyer".into(),
                phone: "+919876543210".into(),
                line1: "12 Temple Street".into(),
                line2: None,
                city: "Chennai".into(),
                state: "Tamil Nadu".into(),
                pincode: "600004".into(),
                country: "IN".into(),
            },
            carrier: None,
            tracking_number: None,
            tracking_url: None,
            description: None,
        },
        refunds: Vec::new(),
        notes: None,
        invoice: None,
        created_at: now,
        updated_at: now,
    };
    app.db()
        .collection::<Order>(ORDERS)
        .insert_one(&order)
        .await
        .unwrap();
    order.id.oid()
}

pub async fn order_doc(app: &TestApp, id: ObjectId) -> Document {
    app.db()
        .collection::<Document>(ORDERS)
        .find_one(doc! { "_id": id })
        .await
        .unwrap()
        .unwrap()
}

/// How many outbox entries `event` has for order `id` (0 or 1: the outbox key is unique).
pub async fn mails(app: &TestApp, id: ObjectId, event: &str) -> u64 {
    app.db()
        .collection::<Document>(MAIL_OUTBOX)
        .count_documents(doc! { "orderId": id, "event": event })
        .await
        .unwrap()
}

pub async fn initiate(app: &TestApp, user: &str, order: ObjectId) -> Value {
    let res = app
        .post(
            "/payments/phonepe/initiate",
            Some(&app.token(user)),
            json!({ "orderId": order.to_hex() }),
        )
        .await;
    res.ok().clone()
}

/// `POST /payments/phonepe/initiate` by `user` for the order `reference` names (id or number).
pub async fn initiate_by(app: &TestApp, user: &str, reference: &str) -> Resp {
    app.post(
        "/payments/phonepe/initiate",
        Some(&app.token(user)),
        json!({ "orderId": reference }),
    )
    .await
}

/// Initiates a payment and returns its PhonePe `merchantOrderId`.
pub async fn initiate_mid(app: &TestApp, user: &str, order: ObjectId) -> String {
    initiate(app, user, order).await["merchantOrderId"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub fn webhook_auth(sim: &SimHandle) -> String {
    phonepe_sim::webhook_authorization(
        &sim.config().webhook_username,
        &sim.config().webhook_password,
    )
}

/// Sends `body` to the webhook as PhonePe would (with its Authorization); returns the status.
pub async fn post_webhook(app: &TestApp, sim: &SimHandle, body: &Value) -> reqwest::StatusCode {
    app.http
        .post(format!("{}/payments/phonepe/webhook", app.base))
        .header("authorization", webhook_auth(sim))
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
}

fn status_of(doc: &Document) -> &str {
    doc.get_str("status").unwrap()
}

#[tokio::test]
async fn full_pay_flow_through_the_hosted_page() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_payer", 129_900).await;
    let started = initiate(&app, "user_payer", order).await;
    assert_eq!(started["orderId"], order.to_hex());
    let mid = started["merchantOrderId"].as_str().unwrap().to_owned();
    assert!(
        mid.len() <= 63
            && mid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    );
    assert_eq!(status_of(&order_doc(&app, order).await), "payment_pending");

    let page_url = started["redirectUrl"].as_str().unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = browser
        .get(page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("₹1,299.00") && page.contains("Pay"), "{page}");
    let paid = browser
        .post(format!("{page_url}/complete"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(
        paid.headers()["location"],
        STOREFRONT.replace("{orderId}", &order.to_hex()).as_str()
    );

    let hooks = sim.wait_for_webhooks(1, Duration::from_secs(5)).await;
    assert!(hooks[0].delivered(), "{:?}", hooks[0]);
    let doc = order_doc(&app, order).await;
    assert_eq!(status_of(&doc), "paid");
    let payment = doc.get_document("payment").unwrap();
    assert_eq!(payment.get_str("status").unwrap(), "paid");
    assert_eq!(payment.get_str("merchantOrderId").unwrap(), mid);
    assert!(payment.get_str("transactionId").unwrap().starts_with("OM"));
    assert_eq!(mails(&app, order, "payment_success").await, 1);
}

#[tokio::test]
async fn duplicate_webhook_marks_order_paid_once() {
    let (app, sim) = app_with_sim().await;
    sim.update_switches(|s| s.drop_webhooks = true);
    let order = insert_order(&app, "user_dup", 59_900).await;
    let mid = initiate_mid(&app, "user_dup", order).await;
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    let body = sim
        .wait_for_webhooks(1, Duration::from_secs(5))
        .await
        .last()
        .unwrap()
        .body
        .clone();
    let auth = webhook_auth(&sim);
    let url = format!("{}/payments/phonepe/webhook", app.base);
    let sends = (0..100).map(|_| {
        let (http, url, auth, body) = (app.http.clone(), url.clone(), auth.clone(), body.clone());
        tokio::spawn(async move {
            http.post(url)
                .header("authorization", auth)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        })
    });
    for status in futures::future::join_all(sends).await {
        assert_eq!(status.unwrap(), 200);
    }
    let doc = order_doc(&app, order).await;
    assert_eq!(status_of(&doc), "paid");
    let paid_entries = doc
        .get_array("statusHistory")
        .unwrap()
        .iter()
        .filter(|h| h.as_document().unwrap().get_str("status") == Ok("paid"))
        .count();
    assert_eq!(paid_entries, 1);
    assert_eq!(mails(&app, order, "payment_success").await, 1);
    let txn = doc
        .get_document("payment")
        .unwrap()
        .get_str("transactionId")
        .unwrap()
        .to_owned();
    assert_eq!(
        app.db()
            .collection::<Document>(ORDERS)
            .count_documents(doc! { "payment.transactionId": txn })
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn failed_after_completed_changes_nothing() {
    let (app, sim) = app_with_sim().await;
    sim.update_switches(|s| s.drop_webhooks = true);
    let order = insert_order(&app, "user_ooo", 59_900).await;
    let mid = initiate_mid(&app, "user_ooo", order).await;
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    let completed = sim
        .wait_for_webhooks(1, Duration::from_secs(5))
        .await
        .last()
        .unwrap()
        .body
        .clone();
    let mut failed = completed.clone();
    failed["event"] = json!("checkout.order.failed");
    failed["type"] = json!("CHECKOUT_ORDER_FAILED");
    failed["payload"]["state"] = json!("FAILED");
    let auth = webhook_auth(&sim);
    let url = format!("{}/payments/phonepe/webhook", app.base);
    for body in [&completed, &failed, &completed] {
        let res = app
            .http
            .post(&url)
            .header("authorization", &auth)
            .json(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    let doc = order_doc(&app, order).await;
    assert_eq!(status_of(&doc), "paid");
    assert_eq!(
        doc.get_document("payment")
            .unwrap()
            .get_str("status")
            .unwrap(),
        "paid"
    );
}

#[tokio::test]
async fn a_failed_attempt_leaves_the_order_payable_and_a_retry_can_pay() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_retry", 59_900).await;
    let first = initiate_mid(&app, "user_retry", order).await;
    sim.fail_order(&first, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(1, Duration::from_secs(5)).await;
    let doc = order_doc(&app, order).await;
    assert_eq!(status_of(&doc), "payment_pending");
    assert_eq!(
        doc.get_document("payment")
            .unwrap()
            .get_str("status")
            .unwrap(),
        "failed"
    );

    let second = initiate_mid(&app, "user_retry", order).await;
    assert_ne!(first, second, "every attempt gets a fresh merchantOrderId");
    sim.complete_order(&second, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(2, Duration::from_secs(5)).await;
    assert_eq!(status_of(&order_doc(&app, order).await), "paid");
    // A late failure for the first attempt must not touch the paid order.
    let late = json!({ "event": "checkout.order.failed", "payload": { "merchantOrderId": first, "state": "FAILED", "amount": 59_900 } });
    assert_eq!(post_webhook(&app, &sim, &late).await, 200);
    assert_eq!(
        order_doc(&app, order)
            .await
            .get_document("payment")
            .unwrap()
            .get_str("status")
            .unwrap(),
        "paid"
    );
}

#[tokio::test]
async fn webhooks_with_wrong_credentials_change_nothing() {
    let (app, sim) = app_with_sim().await;
    sim.update_switches(|s| s.drop_webhooks = true);
    let order = insert_order(&app, "user_forge", 59_900).await;
    let mid = initiate_mid(&app, "user_forge", order).await;
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    let body = sim
        .wait_for_webhooks(1, Duration::from_secs(5))
        .await
        .last()
        .unwrap()
        .body
        .clone();
    let url = format!("{}/payments/phonepe/webhook", app.base);
    let right = webhook_auth(&sim);
    for auth in [
        None,
        Some("".to_owned()),
        Some(right.to_uppercase()),
        Some(format!("SHA256({right})")),
        Some(phonepe_sim::webhook_authorization("pitalyasim", "guess")),
    ] {
        let mut req = app.http.post(&url).json(&body);
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let res = TestApp::read(req.send().await.unwrap()).await;
        res.problem(401, "UNAUTHENTICATED");
    }
    assert_eq!(status_of(&order_doc(&app, order).await), "payment_pending");
}

#[tokio::test]
async fn malformed_and_unknown_webhooks_are_answered_without_changes() {
    let (app, sim) = app_with_sim().await;
    let url = format!("{}/payments/phonepe/webhook", app.base);
    let auth = webhook_auth(&sim);
    let truncated = app
        .http
        .post(&url)
        .header("authorization", &auth)
        .body("{\"event\":\"checkout.order.completed\",\"payl")
        .send()
        .await
        .unwrap();
    TestApp::read(truncated).await.problem(400, "INVALID_JSON");
    let huge = app
        .http
        .post(&url)
        .header("authorization", &auth)
        .body(vec![b' '; 70 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    let unknown = json!({ "event": "checkout.order.completed", "payload": { "merchantOrderId": "PIT-nope", "state": "COMPLETED", "amount": 100, "paymentDetails": [] } });
    let res = app
        .http
        .post(&url)
        .header("authorization", &auth)
        .json(&unknown)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "unknown merchant orders are acknowledged so PhonePe stops retrying"
    );
    let odd = json!({ "event": "some.future.event", "payload": {} });
    assert_eq!(
        app.http
            .post(&url)
            .header("authorization", &auth)
            .json(&odd)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn amount_mismatch_is_flagged_and_never_paid() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_short", 129_900).await;
    let mid = initiate_mid(&app, "user_short", order).await;
    // A webhook claiming another amount is not believed: PhonePe's status API is asked, and
    // it says the real amount was collected, so the order is paid for what it cost.
    let other = insert_order(&app, "user_short_2", 129_900).await;
    let other_mid = initiate_mid(&app, "user_short_2", other).await;
    sim.complete_order(
        &other_mid,
        HookOptions {
            amount: Some(100),
            ..HookOptions::default()
        },
    )
    .await
    .unwrap();
    sim.wait_for_webhooks(1, Duration::from_secs(5)).await;
    assert_eq!(status_of(&order_doc(&app, other).await), "paid");

    // PhonePe itself reporting an amount that is not the order's total (the order's total
    // changed after the attempt was made) is flagged and never paid.
    app.db()
        .collection::<Document>(ORDERS)
        .update_one(
            doc! { "_id": order },
            doc! { "$set": { "total": 129_999_i64 } },
        )
        .await
        .unwrap();
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(2, Duration::from_secs(5)).await;
    let doc = order_doc(&app, order).await;
    assert_eq!(status_of(&doc), "payment_pending");
    assert!(doc
        .get_document("payment")
        .unwrap()
        .get_str("flag")
        .unwrap()
        .starts_with("amount_mismatch"));
    assert_eq!(mails(&app, order, "payment_success").await, 0);
}

async fn make_due(app: &TestApp) {
    app.db()
        .collection::<Document>("payment_attempts")
        .update_many(
            doc! {},
            doc! { "$set": { "nextCheckAt": DateTime::from_millis(0) } },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn with_webhooks_dropped_reconciliation_marks_the_order_paid() {
    let (app, sim) = app_with_sim().await;
    sim.update_switches(|s| s.drop_webhooks = true);
    let order = insert_order(&app, "user_quiet", 59_900).await;
    let mid = initiate_mid(&app, "user_quiet", order).await;
    let phonepe = app.functions.phonepe.clone();
    // Still pending at PhonePe: rescheduled with backoff, nothing changes.
    make_due(&app).await;
    assert!(
        payments::reconcile_due(&app.services.db, &*app.services.clock, &phonepe, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let attempt = payments::find_attempt(&app.services.db, &mid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt.checks, 1);
    assert!(attempt.next_check_at > DateTime::now());

    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    reconciliation_marks_paid(&app, order).await;
    assert_eq!(mails(&app, order, "payment_success").await, 1);
}

/// Runs reconciliation as if its backoff had passed, and expects it to find `order` paid.
async fn reconciliation_marks_paid(app: &TestApp, order: ObjectId) {
    make_due(app).await;
    let changed = payments::reconcile_due(
        &app.services.db,
        &*app.services.clock,
        &app.functions.phonepe,
        10,
    )
    .await
    .unwrap();
    assert_eq!(changed, vec![(OrderId(order), Applied::MarkedPaid)]);
    assert_eq!(status_of(&order_doc(app, order).await), "paid");
}

/// Found by `make prove`: a pay call that timed out marked its attempt `error`, which nothing
/// checks again, although PhonePe went on to create the order; the shopper paid it, the order
/// expired and PhonePe kept the money.
#[tokio::test]
async fn a_pay_call_that_times_out_is_reconciled_not_written_off() {
    let (app, sim) = app_with_sim().await;
    // PhonePe creates the order at once, the shopper pays it at once, and PhonePe holds its
    // answer until its webhook is delivered -- to an endpoint that never answers, so past
    // our client's 8 s.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}/hook", silent.local_addr().unwrap());
    let _held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            open.push(conn);
        }
    });
    sim.set_webhook_url(Some(silent_url));
    sim.update_switches(|s| {
        s.slow_pay_ms = 4_000;
        s.settle_on_pay = Some(phonepe_sim::SettleOnPay::Completed);
    });
    let order = insert_order(&app, "user_slow_pay", 59_900).await;
    let res = app
        .post(
            "/payments/phonepe/initiate",
            Some(&app.token("user_slow_pay")),
            json!({ "orderId": order.to_hex() }),
        )
        .await;
    assert!(res.status.is_server_error(), "{} {}", res.status, res.body);
    let attempt = app
        .db()
        .collection::<Document>("payment_attempts")
        .find_one(doc! { "orderId": order })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(attempt.get_str("state"), Ok("creating"), "{attempt:?}");

    // The webhook never arrives; reconciliation asks PhonePe and finds the money.
    reconciliation_marks_paid(&app, order).await;
}

#[tokio::test]
async fn a_paid_order_is_never_expired_even_without_its_webhook() {
    let (app, sim) = app_with_sim().await;
    sim.update_switches(|s| s.drop_webhooks = true);
    let order = insert_order(&app, "user_late", 59_900).await;
    let mid = initiate_mid(&app, "user_late", order).await;
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    let phonepe = app.functions.phonepe.clone();
    assert!(
        !payments::safe_to_expire(&app.services.db, &phonepe, OrderId(order))
            .await
            .unwrap()
    );
    assert_eq!(status_of(&order_doc(&app, order).await), "paid");

    // With PhonePe unreachable nothing is expired blind.
    let other = insert_order(&app, "user_late", 59_900).await;
    initiate(&app, "user_late", other).await;
    sim.update_switches(|s| s.fail_api = Some(FailMode::ServerError));
    assert!(
        !payments::safe_to_expire(&app.services.db, &phonepe, OrderId(other))
            .await
            .unwrap()
    );
    sim.update_switches(|s| s.fail_api = None);
    // Once PhonePe says the attempt failed, expiry may go ahead.
    let mid2 = payments::find_attempt_for_order(&app.services.db, OrderId(other))
        .await
        .unwrap()
        .unwrap()
        .merchant_order_id;
    sim.fail_order(&mid2, HookOptions::default()).await.unwrap();
    assert!(
        payments::safe_to_expire(&app.services.db, &phonepe, OrderId(other))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_cancelled_paid_order_ends_refunded() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_refund", 129_900).await;
    let mid = initiate_mid(&app, "user_refund", order).await;
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(1, Duration::from_secs(5)).await;
    assert_eq!(status_of(&order_doc(&app, order).await), "paid");
    let admin = app.admin_token();
    let res = app
        .post(
            &format!("/admin/orders/{}/cancel", order.to_hex()),
            Some(&admin),
            json!({}),
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
    let phonepe = app.functions.phonepe.clone();
    let db = &app.services.db;
    let mut refunded = false;
    for _ in 0..30 {
        refunds::drive(db, &*app.services.clock, &phonepe, 10)
            .await
            .unwrap();
        if order_doc(&app, order)
            .await
            .get_document("payment")
            .unwrap()
            .get_str("status")
            .unwrap()
            == "refunded"
        {
            refunded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(refunded, "{:?}", order_doc(&app, order).await);
    assert_eq!(mails(&app, order, "refund_issued").await, 1);
    // Running the job again (or a late refund webhook) changes nothing.
    refunds::drive(db, &*app.services.clock, &phonepe, 10)
        .await
        .unwrap();
    assert_eq!(mails(&app, order, "refund_issued").await, 1);
}

#[tokio::test]
async fn initiate_refuses_what_cannot_be_paid() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_owner", 59_900).await;
    let stranger = app.token("user_stranger");
    app.post(
        "/payments/phonepe/initiate",
        Some(&stranger),
        json!({ "orderId": order.to_hex() }),
    )
    .await
    .problem(404, "ORDER_NOT_FOUND");
    app.post(
        "/payments/phonepe/initiate",
        Some(&stranger),
        json!({ "orderId": "nope" }),
    )
    .await
    .problem(400, "VALIDATION_FAILED");
    app.post(
        "/payments/phonepe/initiate",
        Some(&stranger),
        json!({ "orderId": order.to_hex(), "amount": 1 }),
    )
    .await
    .problem(400, "VALIDATION_FAILED");
    assert_eq!(
        app.post(
            "/payments/phonepe/initiate",
            None,
            json!({ "orderId": order.to_hex() })
        )
        .await
        .status,
        401
    );

    let owner = app.token("user_owner");
    sim.update_switches(|s| s.fail_api = Some(FailMode::ServerError));
    let res = app
        .post(
            "/payments/phonepe/initiate",
            Some(&owner),
            json!({ "orderId": order.to_hex() }),
        )
        .await;
    res.problem(502, "PAYMENT_PROVIDER_ERROR");
    assert!(
        !res.body["detail"]
            .as_str()
            .unwrap()
            .contains("INTERNAL_SERVER_ERROR"),
        "no provider internals leak"
    );
    assert_eq!(
        status_of(&order_doc(&app, order).await),
        "created",
        "a provider error leaves the order payable"
    );
    sim.update_switches(|s| s.fail_api = None);
    let mid = initiate_mid(&app, "user_owner", order).await;
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(1, Duration::from_secs(5)).await;
    app.post(
        "/payments/phonepe/initiate",
        Some(&owner),
        json!({ "orderId": order.to_hex() }),
    )
    .await
    .problem(409, "ORDER_NOT_PAYABLE");
}

/// Found by review: every route that names an order takes its number too, but initiate
/// answered `{"orderId":"PIT-1001"}` with a 400.
#[tokio::test]
async fn initiate_accepts_the_orders_number_in_any_case() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_number", 59_900).await;
    app.db()
        .collection::<Document>(ORDERS)
        .update_one(
            doc! { "_id": order },
            doc! { "$set": { "number": "PIT-1001" } },
        )
        .await
        .unwrap();
    let stranger = initiate_by(&app, "user_stranger", "PIT-1001").await;
    stranger.problem(404, "ORDER_NOT_FOUND");
    let res = initiate_by(&app, "user_number", "pit-1001").await;
    let started = res.ok();
    assert_eq!(
        started["orderId"],
        order.to_hex(),
        "answered with the order's id"
    );
    let mid = started["merchantOrderId"].as_str().unwrap();
    assert_eq!(status_of(&order_doc(&app, order).await), "payment_pending");
    assert_eq!(
        order_doc(&app, order)
            .await
            .get_document("payment")
            .unwrap()
            .get_str("merchantOrderId")
            .unwrap(),
        mid
    );
    sim.complete_order(mid, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(1, Duration::from_secs(5)).await;
    initiate_by(&app, "user_number", "PIT-1001")
        .await
        .problem(409, "ORDER_NOT_PAYABLE");
    initiate_by(&app, "user_number", "PIT-9999")
        .await
        .problem(404, "ORDER_NOT_FOUND");
}

#[tokio::test]
async fn initiate_is_rate_limited_per_user() {
    let (app, _sim) = app_with_sim().await;
    let order = insert_order(&app, "user_spam", 59_900).await;
    let token = app.token("user_spam");
    crate::support::inside_one_window([&app]);
    let mut limited = 0;
    for _ in 0..11 {
        let res = app
            .post(
                "/payments/phonepe/initiate",
                Some(&token),
                json!({ "orderId": order.to_hex() }),
            )
            .await;
        if res.status == 429 {
            res.problem(429, "RATE_LIMITED");
            assert!(res.headers.get("retry-after").is_some());
            limited += 1;
        }
    }
    assert_eq!(limited, 1);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_call_retried() {
    let (app, sim) = app_with_sim().await;
    let first = insert_order(&app, "user_tok", 59_900).await;
    initiate(&app, "user_tok", first).await;
    sim.revoke_tokens();
    let second = insert_order(&app, "user_tok", 59_900).await;
    initiate(&app, "user_tok", second).await;
}

#[tokio::test]
async fn money_arriving_after_cancellation_is_refunded() {
    let (app, sim) = app_with_sim().await;
    sim.update_switches(|s| s.drop_webhooks = true);
    let order = insert_order(&app, "user_slow", 59_900).await;
    let mid = initiate_mid(&app, "user_slow", order).await;
    app.db()
        .collection::<Document>(ORDERS)
        .update_one(
            doc! { "_id": order },
            doc! { "$set": { "status": "cancelled" } },
        )
        .await
        .unwrap();
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    let body = sim
        .wait_for_webhooks(1, Duration::from_secs(5))
        .await
        .last()
        .unwrap()
        .body
        .clone();
    let res = app
        .http
        .post(format!("{}/payments/phonepe/webhook", app.base))
        .header("authorization", webhook_auth(&sim))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc = order_doc(&app, order).await;
    assert_eq!(status_of(&doc), "cancelled");
    assert_eq!(
        doc.get_document("payment")
            .unwrap()
            .get_str("status")
            .unwrap(),
        "refund_pending"
    );
}

async fn attempt_doc(app: &TestApp, merchant_order_id: &str) -> Document {
    app.db()
        .collection::<Document>(common::shop::payments::PAYMENT_ATTEMPTS)
        .find_one(doc! { "merchantOrderId": merchant_order_id })
        .await
        .unwrap()
        .unwrap()
}

/// Found by the invariant suite: a shopper with two payment pages open (two initiates) who
/// pays both was charged twice, because the second completion was taken for a duplicate.
#[tokio::test]
async fn paying_two_attempts_for_one_order_refunds_the_second_charge() {
    let (app, sim) = app_with_sim().await;
    let order = insert_order(&app, "user_two_tabs", 79_900).await;
    let first = initiate_mid(&app, "user_two_tabs", order).await;
    let second = initiate_mid(&app, "user_two_tabs", order).await;
    assert_ne!(first, second);
    sim.complete_order(&first, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(1, Duration::from_secs(5)).await;
    sim.complete_order(&second, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(2, Duration::from_secs(5)).await;

    let doc = order_doc(&app, order).await;
    assert_eq!(status_of(&doc), "paid");
    let payment = doc.get_document("payment").unwrap();
    assert_eq!(payment.get_str("merchantOrderId").unwrap(), first);
    let history = doc.get_array("statusHistory").unwrap();
    let paid_entries = history
        .iter()
        .filter(|h| h.as_document().unwrap().get_str("status").unwrap() == "paid")
        .count();
    assert_eq!(paid_entries, 1);
    assert_eq!(mails(&app, order, "payment_success").await, 1);
    assert_eq!(
        attempt_doc(&app, &second).await.get_str("state").unwrap(),
        "refund_pending"
    );

    let phonepe = app.functions.phonepe.clone();
    let db = &app.services.db;
    let mut refunded = None;
    for _ in 0..30 {
        refunds::drive(db, &*app.services.clock, &phonepe, 10)
            .await
            .unwrap();
        let attempt = attempt_doc(&app, &second).await;
        if attempt.get_str("state").unwrap() == "refunded" {
            refunded = Some(attempt);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let attempt = refunded.expect("the second charge is refunded");
    assert_eq!(attempt.get_str("state").unwrap(), "refunded");
    let order_now = order_doc(&app, order).await;
    let recorded = order_now.get_array("refunds").unwrap();
    let extra = recorded
        .iter()
        .map(|r| r.as_document().unwrap())
        .find(|r| r.get_str("originalMerchantOrderId").unwrap() == second)
        .expect("the extra charge's refund is on the order");
    let refund_id = extra.get_str("merchantRefundId").unwrap();
    let refund = phonepe.refund_status(refund_id).await.unwrap();
    assert_eq!(
        refund.state,
        common::integrations::phonepe::State::Completed
    );
    assert_eq!(refund.amount, Some(79_900));
    // The order's own money is untouched, and a replayed webhook for either attempt changes nothing.
    assert_eq!(status_of(&order_doc(&app, order).await), "paid");
    for mid in [&first, &second] {
        let status: common::integrations::phonepe::OrderStatus =
            serde_json::from_value(sim.order_status(mid).unwrap()).unwrap();
        payments::apply_order_state(db, &status).await.unwrap();
    }
    assert_eq!(
        attempt_doc(&app, &second).await.get_str("state").unwrap(),
        "refunded"
    );
    assert_eq!(
        attempt_doc(&app, &first).await.get_str("state").unwrap(),
        "completed"
    );
    assert_eq!(status_of(&order_doc(&app, order).await), "paid");
}

/// Ids and amounts are typed in the code; what MongoDB holds must not change with them, or
/// documents written by earlier releases (and `make prove`'s checker) would stop matching.
#[tokio::test]
async fn typed_ids_and_amounts_are_stored_exactly_as_before() {
    use mongodb::bson::spec::ElementType;
    let (app, _sim) = app_with_sim().await;
    let lamp = crate::orders::product(&app, "shape-lamp", 49_900, 5).await;
    crate::orders::fill_cart(&app, "user_shape", &[(lamp, 1)]).await;
    let placed = crate::orders::create(&app, "user_shape", crate::orders::order_body(), None).await;
    let id = ObjectId::parse_str(placed.ok()["id"].as_str().unwrap()).unwrap();
    initiate(&app, "user_shape", id).await;
    let one = |collection: &'static str, filter: Document| {
        let db = app.db();
        async move {
            db.collection::<Document>(collection)
                .find_one(filter)
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("nothing in {collection}"))
        }
    };
    let order = one(ORDERS, doc! { "_id": id }).await;
    assert_eq!(order.get_str("userId"), Ok("user_shape"));
    let item = order.get_array("items").unwrap()[0].as_document().unwrap();
    assert_eq!(item.get_object_id("productId"), Ok(lamp), "{item}");
    assert_eq!(
        item.get("price").map(|v| v.element_type()),
        Some(ElementType::Int64)
    );
    let attempt = one(
        "payment_attempts",
        doc! { "orderId": id, "userId": "user_shape" },
    )
    .await;
    assert_eq!(attempt.get_i64("amount"), Ok(49_900), "{attempt}");
    let taken = one("stock_movements", doc! { "orderId": id, "productId": lamp }).await;
    assert_eq!(taken.get_i64("delta"), Ok(-1), "{taken}");
    let product = one("products", doc! { "_id": lamp }).await;
    assert_eq!(crate::support::stock_of(&product), 4);
}

/// Waits until every webhook the simulator recorded has been answered.
async fn all_webhooks_answered(sim: &SimHandle, n: usize) {
    for _ in 0..250 {
        let hooks = sim.wait_for_webhooks(n, Duration::from_secs(5)).await;
        if hooks.len() >= n && hooks.iter().all(|h| h.delivered()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("webhooks unanswered: {:?}", sim.webhooks());
}

#[tokio::test]
async fn a_failed_payment_mails_one_link_back_to_pay_however_often_phonepe_says_so() {
    let (app, sim) = app_with_sim_and(crate::mail::moto_vars).await;
    crate::mail::verify_moto_sender(&app).await;
    // moto keeps every message for the life of the emulator: a fresh customer per run.
    let user = format!("user_failmail_{}", ObjectId::new().to_hex());
    let order = insert_order(&app, &user, 59_900).await;
    app.db()
        .collection::<Document>(ORDERS)
        .update_one(
            doc! { "_id": order },
            doc! { "$set": { "number": "PIT-4242" } },
        )
        .await
        .unwrap();
    let mid = initiate_mid(&app, &user, order).await;
    // Due for reconciliation at once, so the jobs runs below race the webhooks.
    app.db()
        .collection::<Document>("payment_attempts")
        .update_one(
            doc! { "merchantOrderId": &mid },
            doc! { "$set": { "nextCheckAt": DateTime::now() } },
        )
        .await
        .unwrap();

    sim.fail_order(&mid, HookOptions::default()).await.unwrap();
    let failed = json!({ "event": "checkout.order.failed", "payload": { "merchantOrderId": &mid, "state": "FAILED", "amount": 59_900 } });
    let resend = || {
        sim.fail_order(
            &mid,
            HookOptions {
                resend_webhook: true,
                ..HookOptions::default()
            },
        )
    };
    let replay = || async { assert_eq!(post_webhook(&app, &sim, &failed).await, 200) };
    let jobs = app.jobs();
    tokio::join!(
        async { resend().await.unwrap() },
        async { resend().await.unwrap() },
        replay(),
        replay(),
        jobs::run_once(&jobs),
        jobs::run_once(&jobs),
    );
    all_webhooks_answered(&sim, 3).await;
    jobs::run_once(&jobs).await;

    let doc = order_doc(&app, order).await;
    assert_eq!(status_of(&doc), "payment_pending", "still payable");
    assert_eq!(
        doc.get_document("payment").unwrap().get_str("status"),
        Ok("failed")
    );
    assert_eq!(mails(&app, order, "payment_failed").await, 1);
    let to = format!("{user}@example.com");
    let messages = crate::mail::moto_messages(&to).await;
    assert_eq!(
        crate::mail::subjects(&messages),
        ["Your payment for Pitalya order PIT-4242 did not go through"]
    );
    let body = messages[0]["body"].as_str().unwrap();
    // The page PhonePe returns the shopper to, named by the order's number as mails do.
    let link = STOREFRONT.replace("{orderId}", "PIT-4242");
    assert!(body.contains(&format!("href=\"{link}\"")), "{body}");
    assert!(body.contains("₹599.00"), "{body}");
    assert!(body.contains("No money was taken"), "{body}");

    // The shopper tries again and fails again: they are paying, so no second mail.
    let second = initiate_mid(&app, &user, order).await;
    sim.fail_order(&second, HookOptions::default())
        .await
        .unwrap();
    all_webhooks_answered(&sim, 4).await;
    jobs::run_once(&jobs).await;
    assert_eq!(mails(&app, order, "payment_failed").await, 1);
    assert_eq!(crate::mail::moto_messages(&to).await.len(), 1);
}
