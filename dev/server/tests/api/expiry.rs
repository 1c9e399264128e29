//! The `jobs` expiry step: unpaid orders past the payment window are cancelled with their
//! stock and coupon uses returned, once; paid orders are never touched.

use crate::orders::{coupon, create, fill_cart, order_body, order_doc, product, stock, used};
use crate::support::TestApp;
use common::shop::order::transition::{self, Actor, Outcome, Transition};
use common::shop::vocabulary::ids::OrderId;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, Bson, DateTime, Document};
use serde_json::json;

async fn checkout(app: &TestApp, user: &str, product: ObjectId) -> String {
    fill_cart(app, user, &[(product, 2)]).await;
    let mut body = order_body();
    body["couponCode"] = json!("FEST");
    let res = create(app, user, body, None).await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body["id"].as_str().unwrap().to_owned()
}

fn oid(id: &str) -> OrderId {
    OrderId(ObjectId::parse_str(id).unwrap())
}

/// Moves an order's creation time `minutes` into the past.
async fn age(app: &TestApp, id: &str, minutes: i64) {
    let then = DateTime::from_millis(DateTime::now().timestamp_millis() - minutes * 60_000);
    app.db()
        .collection::<Document>("orders")
        .update_one(
            doc! { "_id": oid(id).oid() },
            doc! { "$set": { "createdAt": then } },
        )
        .await
        .unwrap();
}

async fn status(app: &TestApp, id: &str) -> String {
    order_doc(app, id)
        .await
        .get_str("status")
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn expiry_cancels_stale_unpaid_orders_and_never_a_paid_one() {
    let app = TestApp::spawn_with(|v| {
        v.insert("ORDER_PAYMENT_TIMEOUT_MINUTES".into(), "30".into());
    })
    .await;
    let urli = product(&app, "urli", 249_900, 20).await;
    coupon(
        &app,
        json!({ "code": "FEST", "type": "percent", "value": 10, "usageLimit": 10 }),
    )
    .await;
    let stale = checkout(&app, "user_stale", urli).await;
    let pending = checkout(&app, "user_pending", urli).await;
    let paid = checkout(&app, "user_paid", urli).await;
    let fresh = checkout(&app, "user_fresh", urli).await;
    assert_eq!((stock(&app, urli).await, used(&app, "FEST").await), (12, 4));

    let db = &app.services.db;
    let wait = Transition::AwaitPayment {
        merchant_order_id: "PIT-pending-test",
    };
    transition::apply(db, oid(&pending), &wait).await.unwrap();
    transition::apply(db, oid(&paid), &pay("T-paid"))
        .await
        .unwrap();
    for id in [&stale, &pending, &paid] {
        age(&app, id, 31).await;
    }
    age(&app, &fresh, 29).await;

    let report = jobs::expire_unpaid(&app.jobs()).await.unwrap();
    assert_eq!((report.expired, report.kept, report.failed), (2, 0, 0));
    for id in [&stale, &pending] {
        let order = order_doc(&app, id).await;
        assert_eq!(order.get_str("status").unwrap(), "cancelled");
        let last = order.get_array("statusHistory").unwrap().last().unwrap();
        assert_eq!(
            last.as_document().unwrap().get_str("note").unwrap(),
            "payment window expired"
        );
        assert_eq!(
            crate::orders::count(
                &app,
                "mail_outbox",
                doc! { "orderId": oid(id).oid(), "event": "order_cancelled" }
            )
            .await,
            1
        );
    }
    assert_eq!(status(&app, &paid).await, "paid");
    assert_eq!(status(&app, &fresh).await, "created");
    assert_eq!(
        (stock(&app, urli).await, used(&app, "FEST").await),
        (16, 2),
        "two orders' units and coupon uses came back"
    );

    // The next run finds nothing to do and gives nothing back twice.
    let report = jobs::expire_unpaid(&app.jobs()).await.unwrap();
    assert_eq!(report.expired, 0);
    assert_eq!((stock(&app, urli).await, used(&app, "FEST").await), (16, 2));
}

#[tokio::test]
async fn a_payment_that_lands_first_keeps_the_order() {
    let app = TestApp::spawn().await;
    let urli = product(&app, "urli", 249_900, 5).await;
    coupon(
        &app,
        json!({ "code": "FEST", "type": "flat", "value": 1_000 }),
    )
    .await;
    let id = checkout(&app, "user_late_payer", urli).await;
    age(&app, &id, 45).await;
    // The webhook marks it paid after expiry picked it as a candidate but before it
    // cancelled: the cancellation re-checks the status in its own transaction.
    transition::apply(&app.services.db, oid(&id), &pay("T-late"))
        .await
        .unwrap();
    let outcome = transition::apply(&app.services.db, oid(&id), &Transition::Expire)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Skipped(_)), "{outcome:?}");
    assert_eq!(status(&app, &id).await, "paid");
    assert_eq!(stock(&app, urli).await, 3);
}

#[tokio::test]
async fn the_scheduled_run_reports_the_expiry_step() {
    let app = TestApp::spawn().await;
    let urli = product(&app, "urli", 249_900, 5).await;
    coupon(
        &app,
        json!({ "code": "FEST", "type": "flat", "value": 1_000 }),
    )
    .await;
    let id = checkout(&app, "user_scheduled", urli).await;
    age(&app, &id, 31).await;
    let summary = jobs::run_once(&app.jobs()).await;
    assert_eq!(summary["expiry"]["expired"], 1, "{summary}");
    assert_eq!(status(&app, &id).await, "cancelled");
    assert_eq!(stock(&app, urli).await, 5);
}

/// The backlog metrics behind the template's alarms: zero on a healthy shop, and each kind of
/// stuck work counted once it is older than its grace period (fresh work is not counted).
#[tokio::test]
async fn the_backlog_counts_only_work_that_is_overdue() {
    let app = TestApp::spawn().await;
    let healthy = jobs::measure_backlog(&app.jobs()).await.unwrap();
    assert_eq!(healthy, jobs::Backlog::default());

    let mins_ago = |m: i64| DateTime::from_millis(DateTime::now().timestamp_millis() - m * 60_000);
    let db = app.db();
    let outbox = db.collection::<Document>("mail_outbox");
    let attempts = db.collection::<Document>("payment_attempts");
    let order = ObjectId::new();
    outbox
        .insert_many([
            doc! { "orderId": order, "event": "order_placed", "status": "pending", "createdAt": mins_ago(20) },
            doc! { "orderId": order, "event": "payment_success", "status": "pending", "createdAt": mins_ago(1) },
            doc! { "orderId": order, "event": "order_shipped", "status": "failed", "createdAt": mins_ago(1) },
        ])
        .await
        .unwrap();
    attempts
        .insert_many([
            doc! { "merchantOrderId": "PIT-old", "orderId": order, "state": "pending", "createdAt": mins_ago(180) },
            doc! { "merchantOrderId": "PIT-new", "orderId": order, "state": "pending", "createdAt": mins_ago(5) },
            doc! { "merchantOrderId": "PIT-extra", "orderId": order, "state": "refund_pending", "createdAt": mins_ago(200), "completedAt": mins_ago(90) },
        ])
        .await
        .unwrap();
    // An order with one refund pending past the hour, one fresh and one long completed.
    let refund = |state: &str, at| doc! { "state": state, "merchantRefundId": format!("R-{state}-{at}"), "at": mins_ago(at), "nextCheckAt": mins_ago(at) };
    db.collection::<Document>("orders")
        .insert_many([
            doc! { "payment": { "status": "refund_pending" }, "status": "cancelled", "refunds": [refund("pending", 61)] },
            doc! { "payment": { "status": "refund_pending" }, "status": "shipped", "refunds": [refund("completed", 300), refund("pending", 2)] },
        ])
        .await
        .unwrap();
    // Active products checkout would refuse: one without an HSN code, one without a rate.
    // An inactive one is not for sale, and a complete one is fine.
    db.collection::<Document>("products")
        .insert_many([
            doc! { "name": "No HSN", "slug": "no-hsn", "price": 100_i64, "isActive": true, "gstRate": 500_i64 },
            doc! { "name": "No rate", "slug": "no-rate", "price": 100_i64, "isActive": true, "hsn": "7418", "gstRate": Bson::Null },
            doc! { "name": "Hidden", "slug": "hidden", "price": 100_i64, "isActive": false },
            doc! { "name": "Taxed", "slug": "taxed", "price": 100_i64, "isActive": true, "hsn": "7418", "gstRate": 500_i64 },
        ])
        .await
        .unwrap();

    let backlog = jobs::measure_backlog(&app.jobs()).await.unwrap();
    assert_eq!(
        backlog,
        jobs::Backlog {
            mail_backlog: 1,
            mail_failed: 1,
            payments_unresolved: 1,
            refunds_overdue: 1,
            products_untaxed: 2,
        }
    );
    // The EMF line CloudWatch turns into the alarmed metrics.
    let emf = backlog.emf(1_700_000_000_000);
    assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Pitalya");
    let names: Vec<&str> = emf["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    for name in &names {
        assert!(emf[*name].is_u64(), "{name} has no value in {emf}");
    }
    assert_eq!(emf["RefundsOverdue"], 1);
    assert_eq!(emf["ProductsUntaxed"], 2);
    assert_eq!(names.len(), 5);
}

/// What the webhook applies when PhonePe's transaction `txn` pays an order.
fn pay(txn: &str) -> Transition<'_> {
    Transition::Pay {
        txn,
        merchant_order_id: "PIT-test",
        by: Actor::PhonePe,
    }
}
