//! `perCustomerLimit` through every door: the quote, checkout (also racing on several
//! instances), the owner's coupon routes, and the use a cancelled or expired order gives back.

use crate::orders::{coupon, create, fill_cart, order_body, order_doc, product, stock, used};
use crate::support::{inside_one_window, Resp, TestApp};
use crate::tax::quote;
use futures::future::join_all;
use mongodb::bson::{doc, oid::ObjectId, DateTime, Document};
use serde_json::{json, Value};

async fn order_with(app: &TestApp, user: &str, product: ObjectId, code: &str) -> Resp {
    fill_cart(app, user, &[(product, 1)]).await;
    let mut body = order_body();
    body["couponCode"] = json!(code);
    create(app, user, body, None).await
}

/// The customer's use counter of a coupon as stored (0 when there is none).
async fn uses(app: &TestApp, code: &str, user: &str) -> i64 {
    app.db()
        .collection::<Document>("coupon_uses")
        .find_one(doc! { "code": code, "userId": user })
        .await
        .unwrap()
        .map_or(0, |d| d.get_i64("count").unwrap())
}

async fn cart_items(app: &TestApp, user: &str) -> Vec<mongodb::bson::Bson> {
    crate::orders::cart_doc(app, user)
        .await
        .map(|c| c.get_array("items").unwrap().clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn welcome10_is_once_per_customer_and_a_cancelled_or_expired_order_gives_the_use_back() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let urli = product(&app, "limit-urli", 249_900, 20).await;
    let (asha, ravi) = ("user_limit_asha", "user_limit_ravi");

    let first = order_with(&app, asha, urli, "welcome10").await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["couponCode"], "WELCOME10");
    assert_eq!(uses(&app, "WELCOME10", asha).await, 1);

    // The quote and checkout both refuse the second use, and the refusal changes nothing.
    fill_cart(&app, asha, &[(urli, 1)]).await;
    quote(&app, asha, "WELCOME10")
        .await
        .problem(409, "COUPON_ALREADY_USED");
    let before = (
        stock(&app, urli).await,
        used(&app, "WELCOME10").await,
        cart_items(&app, asha).await,
    );
    let mut body = order_body();
    body["couponCode"] = json!("WELCOME10");
    let again = create(&app, asha, body, None).await;
    let problem = again.problem(409, "COUPON_ALREADY_USED");
    assert!(
        problem["detail"].as_str().unwrap().contains("WELCOME10"),
        "{problem}"
    );
    let after = (
        stock(&app, urli).await,
        used(&app, "WELCOME10").await,
        cart_items(&app, asha).await,
    );
    assert_eq!(before, after);
    assert_eq!(uses(&app, "WELCOME10", asha).await, 1);
    // Without the coupon the same cart is an order as usual.
    assert_eq!(create(&app, asha, order_body(), None).await.status, 201);

    // Another customer has a use of their own.
    fill_cart(&app, ravi, &[(urli, 1)]).await;
    quote(&app, ravi, "WELCOME10").await.ok();
    assert_eq!(order_with(&app, ravi, urli, "WELCOME10").await.status, 201);
    assert_eq!(used(&app, "WELCOME10").await, 2);

    // The owner cancels Asha's first order: her use comes back, once, however often asked.
    let id = first.body["id"].as_str().unwrap();
    for _ in 0..2 {
        app.post(
            &format!("/admin/orders/{id}/cancel"),
            Some(&app.admin_token()),
            json!({ "reason": "customer changed her mind" }),
        )
        .await
        .ok();
    }
    assert_eq!(uses(&app, "WELCOME10", asha).await, 0);
    assert_eq!(used(&app, "WELCOME10").await, 1);
    fill_cart(&app, asha, &[(urli, 1)]).await;
    quote(&app, asha, "WELCOME10").await.ok();
    let second = order_with(&app, asha, urli, "WELCOME10").await;
    assert_eq!(second.status, 201, "{}", second.body);

    // Left unpaid past the payment window, jobs expires it: the use comes back again.
    let second_id = ObjectId::parse_str(second.body["id"].as_str().unwrap()).unwrap();
    let stale = DateTime::from_millis(DateTime::now().timestamp_millis() - 31 * 60_000);
    app.db()
        .collection::<Document>("orders")
        .update_one(
            doc! { "_id": second_id },
            doc! { "$set": { "createdAt": stale } },
        )
        .await
        .unwrap();
    jobs::expire_unpaid(&app.jobs()).await.unwrap();
    let expired = order_doc(&app, &second_id.to_hex()).await;
    assert_eq!(expired.get_str("status").unwrap(), "cancelled");
    assert_eq!(uses(&app, "WELCOME10", asha).await, 0);
    fill_cart(&app, asha, &[(urli, 1)]).await;
    quote(&app, asha, "WELCOME10").await.ok();
}

#[tokio::test]
async fn one_customer_racing_checkouts_on_three_instances_never_passes_the_limit() {
    let apps = crate::rate_limits::instances(3).await;
    let app = &apps[0];
    let diya = product(app, "race-diya", 59_900, 100).await;
    coupon(
        app,
        json!({ "code": "TWICE", "type": "percent", "value": 10, "perCustomerLimit": 2 }),
    )
    .await;
    let user = "user_limit_racer";
    let token = app.token(user);
    let mut body = order_body();
    body["couponCode"] = json!("TWICE");
    // Checkout allows 5 orders a minute per user: all five race inside one window, each one
    // refilling the cart on one instance while the others check out on another.
    inside_one_window(&apps);
    let racers = (0..5).map(|i| {
        let (adder, buyer) = (&apps[i % 3], &apps[(i + 1) % 3]);
        let (token, body) = (token.clone(), body.clone());
        async move {
            adder
                .post(
                    "/cart/add",
                    Some(&token),
                    json!({ "productId": diya.to_hex(), "quantity": 1 }),
                )
                .await;
            buyer.post("/orders/create", Some(&token), body).await
        }
    });
    let results: Vec<Resp> = join_all(racers).await;
    let mut placed = 0;
    for r in &results {
        match (r.status.as_u16(), r.body["code"].as_str()) {
            (201, _) => placed += 1,
            (409, Some("COUPON_ALREADY_USED")) | (422, Some("CART_EMPTY")) => {}
            other => panic!("unexpected answer {other:?}: {}", r.body),
        }
    }
    assert!((1..=2).contains(&placed), "{placed} orders with TWICE");

    // Whatever interleaving happened, a third use is refused, and the counters agree with
    // the orders.
    let orders = crate::orders::count(
        app,
        "orders",
        doc! { "userId": user, "couponCode": "TWICE", "status": { "$ne": "cancelled" } },
    )
    .await as i64;
    assert_eq!(orders, placed);
    assert_eq!(uses(app, "TWICE", user).await, placed);
    assert_eq!(used(app, "TWICE").await, placed);
    let quoted = apps[2]
        .post(
            "/checkout/apply-coupon",
            Some(&token),
            json!({ "code": "TWICE" }),
        )
        .await;
    if placed == 2 {
        quoted.problem(409, "COUPON_ALREADY_USED");
    }
}

#[tokio::test]
async fn the_owner_sets_changes_and_clears_a_per_customer_limit() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let created = app
        .post(
            "/admin/coupons",
            Some(&admin),
            json!({ "code": "once", "type": "flat", "value": 5_000, "perCustomerLimit": 1 }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["perCustomerLimit"], 1);

    for bad in [json!(0), json!(-3), json!("one"), json!(1.5)] {
        let res = app
            .post(
                "/admin/coupons",
                Some(&admin),
                json!({ "code": "BAD1", "type": "flat", "value": 5_000, "perCustomerLimit": bad }),
            )
            .await;
        assert_eq!(res.status, 400, "{bad}: {}", res.body);
        assert_eq!(res.body["code"], "VALIDATION_FAILED", "{bad}");
        assert!(
            res.body.to_string().contains("perCustomerLimit"),
            "{bad}: {}",
            res.body
        );
    }

    let patch = |body: Value| {
        let admin = admin.clone();
        let app = &app;
        async move {
            app.call(
                reqwest::Method::PATCH,
                "/admin/coupons/ONCE",
                Some(&admin),
                Some(body),
            )
            .await
        }
    };
    assert_eq!(
        patch(json!({ "perCustomerLimit": 3 })).await.ok()["perCustomerLimit"],
        3
    );
    patch(json!({ "perCustomerLimit": 0 }))
        .await
        .problem(400, "VALIDATION_FAILED");
    assert_eq!(
        patch(json!({ "perCustomerLimit": null })).await.ok()["perCustomerLimit"],
        Value::Null
    );
    let listed = app.get("/admin/coupons", Some(&admin)).await;
    let once = &listed.ok()["items"][0];
    assert_eq!(once["code"], "ONCE");
    assert!(once.as_object().unwrap().contains_key("perCustomerLimit"));

    // The direct invocation takes the same field.
    let res = app
        .invoke_admin(json!({ "action": "upsertCoupon", "coupon": {
            "code": "ONCE", "type": "flat", "value": 5_000, "perCustomerLimit": 2,
        }}))
        .await;
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["coupon"]["perCustomerLimit"], 2, "{res}");
}
