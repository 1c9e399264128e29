//! Refunds under the faults that used to lose them: overlapping `jobs` runs, a PhonePe that is
//! slow to register a refund, refunds PhonePe fails, a refund request that never arrived, and
//! refund webhooks that lie. The rule each test holds the code to: a `merchantRefundId`, once
//! claimed, is the refund's identity for ever, and PhonePe pays back exactly what was owed.

use crate::payments::{app_with_sim, initiate_mid, insert_order, mails, order_doc, webhook_auth};
use crate::support::TestApp;
use common::shop::order::model::ORDERS;
use common::shop::refunds;
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document};
use phonepe_sim::{HookOptions, SimHandle};
use serde_json::{json, Value};
use std::time::Duration;

/// A paid order (through the simulator's webhook) and its PhonePe merchant order id.
async fn paid_order(app: &TestApp, sim: &SimHandle, user: &str, total: i64) -> (ObjectId, String) {
    let order = insert_order(app, user, total).await;
    let mid = initiate_mid(app, user, order).await;
    let before = sim.webhook_count();
    sim.complete_order(&mid, HookOptions::default())
        .await
        .unwrap();
    sim.wait_for_webhooks(before + 1, Duration::from_secs(5))
        .await;
    let doc = order_doc(app, order).await;
    assert_eq!(doc.get_str("status").unwrap(), "paid", "{doc:?}");
    (order, mid)
}

async fn cancel(app: &TestApp, order: ObjectId) {
    let res = app
        .post(
            &format!("/admin/orders/{}/cancel", order.to_hex()),
            Some(&app.admin_token()),
            json!({ "reason": "customer changed their mind" }),
        )
        .await;
    assert_eq!(res.status, 200, "{:?}", res.body);
}

fn recorded(doc: &Document) -> Vec<Document> {
    doc.get_array("refunds")
        .map(|a| a.iter().map(|r| r.as_document().unwrap().clone()).collect())
        .unwrap_or_default()
}

fn payment_status(doc: &Document) -> String {
    doc.get_document("payment")
        .unwrap()
        .get_str("status")
        .unwrap()
        .to_owned()
}

/// Runs the refund loop (as `jobs` does) until the order's payment is `want` or time is up.
async fn drive_until(app: &TestApp, sim: &SimHandle, order: ObjectId, want: &str) -> Document {
    let phonepe = app.functions.phonepe.clone();
    for _ in 0..60 {
        refunds::drive(&app.services.db, &*app.services.clock, &phonepe, 50)
            .await
            .unwrap();
        let doc = order_doc(app, order).await;
        if payment_status(&doc) == want {
            return doc;
        }
        make_refunds_due(app, order).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    panic!(
        "payment never became {want}: {:?}\nPhonePe: {:?}",
        order_doc(app, order).await,
        sim.webhooks().len()
    );
}

/// Skips the loop's backoff, as if the minutes between `jobs` runs had passed.
async fn make_refunds_due(app: &TestApp, order: ObjectId) {
    app.db()
        .collection::<Document>(ORDERS)
        .update_one(
            doc! { "_id": order },
            doc! { "$set": { "refunds.$[r].nextCheckAt": DateTime::from_millis(0) } },
        )
        .array_filters([doc! { "r.state": "pending" }])
        .await
        .unwrap();
}

fn amounts(refunds: &[Value]) -> Vec<(String, i64)> {
    refunds
        .iter()
        .map(|r| {
            (
                r["state"].as_str().unwrap_or_default().to_owned(),
                r["amount"].as_i64().unwrap_or_default(),
            )
        })
        .collect()
}

/// Found from outside: with a slow refund call and overlapping `jobs` runs, one run asked about
/// a refund still in flight elsewhere, took "not found" for "never registered", dropped the id
/// and requested a second refund; the first then failed as "exceeds the refundable amount" and
/// its error handling erased the second one's id.
#[tokio::test]
async fn overlapping_jobs_runs_with_a_slow_phonepe_request_one_refund_under_one_id() {
    let (app, sim) = app_with_sim().await;
    let (order, mid) = paid_order(&app, &sim, "user_slow_refund", 129_900).await;
    sim.update_switches(|s| s.slow_refund_ms = 1_500);
    cancel(&app, order).await;
    let claimed = recorded(&order_doc(&app, order).await)[0]
        .get_str("merchantRefundId")
        .unwrap()
        .to_owned();

    // Four instances' jobs loops at once, each running again and again while the first
    // request is still on its way to PhonePe.
    let phonepe = app.functions.phonepe.clone();
    let mut runs = Vec::new();
    for _ in 0..4 {
        let (db, phonepe, app_db) = (app.services.db.clone(), phonepe.clone(), app.db().clone());
        let clock = app.services.clock.clone();
        runs.push(tokio::spawn(async move {
            for _ in 0..12 {
                refunds::drive(&db, &*clock, &phonepe, 50).await.unwrap();
                app_db
                    .collection::<Document>(ORDERS)
                    .update_one(
                        doc! { "_id": order },
                        doc! { "$set": { "refunds.$[r].nextCheckAt": DateTime::from_millis(0) } },
                    )
                    .array_filters([doc! { "r.state": "pending" }])
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(150)).await;
            }
        }));
    }
    for run in runs {
        run.await.unwrap();
    }
    let doc = drive_until(&app, &sim, order, "refunded").await;

    let refunds_now = recorded(&doc);
    assert_eq!(refunds_now.len(), 1, "{refunds_now:?}");
    assert_eq!(refunds_now[0].get_str("merchantRefundId").unwrap(), claimed);
    assert_eq!(refunds_now[0].get_str("state").unwrap(), "completed");
    assert_eq!(
        amounts(&sim.refunds_of(&mid)),
        [("COMPLETED".to_owned(), 129_900)],
        "PhonePe was asked for exactly one refund of the whole amount"
    );
    assert_eq!(
        doc.get_document("payment")
            .unwrap()
            .get_i64("refundedAmount")
            .unwrap(),
        129_900
    );
    assert_eq!(mails(&app, order, "refund_issued").await, 1);
}

/// A crash between claiming a refund and sending it (or a request lost on the way) leaves a
/// refund PhonePe never heard of: once the claim's deadline has passed it is sent again, under
/// the same id, never a fresh one.
#[tokio::test]
async fn a_refund_phonepe_never_received_is_sent_again_under_the_same_id() {
    let (app, sim) = app_with_sim().await;
    let (order, mid) = paid_order(&app, &sim, "user_lost_refund", 49_900).await;
    cancel(&app, order).await;
    let claimed = recorded(&order_doc(&app, order).await)[0]
        .get_str("merchantRefundId")
        .unwrap()
        .to_owned();
    // What a crash right after the claim leaves: requested, but PhonePe has nothing.
    let long_ago = DateTime::from_millis(DateTime::now().timestamp_millis() - 60_000);
    app.db()
        .collection::<Document>(ORDERS)
        .update_one(
            doc! { "_id": order },
            doc! { "$set": { "refunds.0.requestedAt": long_ago, "refunds.0.nextCheckAt": long_ago } },
        )
        .await
        .unwrap();
    assert!(sim.refunds_of(&mid).is_empty());

    let doc = drive_until(&app, &sim, order, "refunded").await;
    let refunds_now = recorded(&doc);
    assert_eq!(refunds_now.len(), 1, "{refunds_now:?}");
    assert_eq!(refunds_now[0].get_str("merchantRefundId").unwrap(), claimed);
    assert_eq!(
        amounts(&sim.refunds_of(&mid)),
        [("COMPLETED".to_owned(), 49_900)]
    );
}

/// A request still inside its deadline is not second-guessed: PhonePe's "not found" while the
/// request is on its way is not a verdict, so nothing is sent again.
#[tokio::test]
async fn a_refund_inside_its_request_deadline_is_not_sent_again() {
    let (app, sim) = app_with_sim().await;
    let (order, mid) = paid_order(&app, &sim, "user_inflight", 49_900).await;
    cancel(&app, order).await;
    // Claimed a moment ago by an instance whose request has not reached PhonePe yet.
    let just_now = DateTime::now();
    app.db()
        .collection::<Document>(ORDERS)
        .update_one(
            doc! { "_id": order },
            doc! { "$set": { "refunds.0.requestedAt": just_now, "refunds.0.nextCheckAt": DateTime::from_millis(0) } },
        )
        .await
        .unwrap();
    let phonepe = app.functions.phonepe.clone();
    for _ in 0..3 {
        refunds::drive(&app.services.db, &*app.services.clock, &phonepe, 50)
            .await
            .unwrap();
        make_refunds_due(&app, order).await;
    }
    assert!(
        sim.refunds_of(&mid).is_empty(),
        "nothing sent while in flight"
    );
    let doc = order_doc(&app, order).await;
    assert_eq!(recorded(&doc).len(), 1);
    assert_eq!(recorded(&doc)[0].get_str("state").unwrap(), "pending");
    assert_eq!(payment_status(&doc), "refund_pending");
}

/// Only PhonePe's FAILED verdict frees the money for a new refund id; the failed refund stays
/// on the order, and its replacement names it.
#[tokio::test]
async fn a_refund_phonepe_failed_is_retried_under_a_new_id_and_the_old_one_is_kept() {
    let (app, sim) = app_with_sim().await;
    let (order, mid) = paid_order(&app, &sim, "user_failed_refund", 79_900).await;
    sim.update_switches(|s| s.fail_refunds = true);
    cancel(&app, order).await;
    let phonepe = app.functions.phonepe.clone();
    let mut replaced = None;
    for _ in 0..60 {
        refunds::drive(&app.services.db, &*app.services.clock, &phonepe, 50)
            .await
            .unwrap();
        let doc = order_doc(&app, order).await;
        if recorded(&doc).len() == 2 {
            replaced = Some(doc);
            break;
        }
        make_refunds_due(&app, order).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let doc = replaced.expect("a failed refund is replaced");
    let (first, second) = (&recorded(&doc)[0], &recorded(&doc)[1]);
    assert_eq!(first.get_str("state").unwrap(), "failed");
    assert_eq!(second.get_str("state").unwrap(), "pending");
    assert_ne!(
        first.get_str("merchantRefundId").unwrap(),
        second.get_str("merchantRefundId").unwrap()
    );
    assert_eq!(
        second.get_str("replaces").unwrap(),
        first.get_str("merchantRefundId").unwrap()
    );
    assert_eq!(payment_status(&doc), "refund_pending");

    sim.update_switches(|s| s.fail_refunds = false);
    let doc = drive_until(&app, &sim, order, "refunded").await;
    // A replacement already sent before the switch flipped fails too and is replaced again:
    // however many, every one but the last failed, and each names the one before it.
    let chain = recorded(&doc);
    let (last, failed) = chain.split_last().unwrap();
    assert!(!failed.is_empty() && failed.len() < 3, "{chain:?}");
    assert!(failed
        .iter()
        .all(|r| r.get_str("state").unwrap() == "failed"));
    assert_eq!(last.get_str("state").unwrap(), "completed");
    for pair in chain.windows(2) {
        assert_eq!(
            pair[1].get_str("replaces").unwrap(),
            pair[0].get_str("merchantRefundId").unwrap()
        );
    }
    let mut expected = vec![("FAILED".to_owned(), 79_900); failed.len()];
    expected.push(("COMPLETED".to_owned(), 79_900));
    assert_eq!(amounts(&sim.refunds_of(&mid)), expected);
    assert_eq!(mails(&app, order, "refund_issued").await, 1);
}

/// A `pg.refund.failed` racing a refund PhonePe is completing (or forged with a leaked
/// credential) is only a hint: PhonePe's status API decides, so no second refund is minted.
#[tokio::test]
async fn a_refund_failed_webhook_for_a_completing_refund_mints_nothing() {
    let (app, sim) = app_with_sim().await;
    let (order, mid) = paid_order(&app, &sim, "user_hint", 59_900).await;
    cancel(&app, order).await;
    let phonepe = app.functions.phonepe.clone();
    refunds::drive(&app.services.db, &*app.services.clock, &phonepe, 50)
        .await
        .unwrap();
    let claimed = recorded(&order_doc(&app, order).await)[0]
        .get_str("merchantRefundId")
        .unwrap()
        .to_owned();
    let auth = webhook_auth(&sim);
    let forged = json!({
        "event": "pg.refund.failed",
        "payload": {
            "merchantRefundId": claimed,
            "originalMerchantOrderId": mid,
            "state": "FAILED",
            "amount": 59_900,
            "errorCode": "REFUND_FAILED",
        }
    });
    let res = app
        .http
        .post(format!("{}/payments/phonepe/webhook", app.base))
        .header("authorization", auth)
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let doc = order_doc(&app, order).await;
    assert_eq!(recorded(&doc).len(), 1, "{doc:?}");
    assert_ne!(recorded(&doc)[0].get_str("state").unwrap(), "failed");

    let doc = drive_until(&app, &sim, order, "refunded").await;
    assert_eq!(recorded(&doc).len(), 1);
    assert_eq!(
        amounts(&sim.refunds_of(&mid)),
        [("COMPLETED".to_owned(), 59_900)]
    );
}
