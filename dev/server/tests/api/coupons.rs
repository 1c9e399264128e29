//! `POST /checkout/apply-coupon` over HTTP against the real database: every coupon rule of
//! the contract, case-insensitive codes, refusals that change nothing, and the rate limit.

use crate::support::{Resp, TestApp};
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};

const USER: &str = "user_coupon_asha";

async fn product_id(app: &TestApp, slug: &str) -> String {
    app.get(&format!("/products/{slug}"), None).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A seeded app with `USER`'s cart holding `quantity` of `slug`.
async fn app_with_cart(slug: &str, quantity: i64) -> (TestApp, String) {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let id = product_id(&app, slug).await;
    app.post(
        "/cart/add",
        Some(&token),
        json!({ "productId": id, "quantity": quantity }),
    )
    .await
    .ok();
    (app, token)
}

async fn apply(app: &TestApp, token: &str, code: Value) -> Resp {
    app.post(
        "/checkout/apply-coupon",
        Some(token),
        json!({ "code": code }),
    )
    .await
}

async fn coupon_doc(app: &TestApp, code: &str) -> Document {
    app.db()
        .collection::<Document>("coupons")
        .find_one(doc! { "code": code })
        .await
        .unwrap()
        .unwrap()
}

async fn set_coupon(app: &TestApp, code: &str, set: Document) {
    app.db()
        .collection::<Document>("coupons")
        .update_one(doc! { "code": code }, doc! { "$set": set })
        .await
        .unwrap();
}

async fn everything(app: &TestApp) -> (Vec<Document>, Vec<Document>) {
    use futures::TryStreamExt;
    let all = |name: &'static str| async move {
        app.db()
            .collection::<Document>(name)
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .unwrap()
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
    };
    (all("carts").await, all("coupons").await)
}

#[tokio::test]
async fn welcome10_takes_ten_percent_up_to_200_rupees() {
    // One urli is ₹2,499.00: 10% would be ₹249.90, capped at ₹200.
    let (app, token) = app_with_cart("kuber-brass-urli", 1).await;
    let res = apply(&app, &token, json!("WELCOME10")).await;
    assert_eq!(
        res.ok(),
        &json!({ "code": "WELCOME10", "subtotal": 249_900, "discount": 20_000, "shippingFee": 0, "newTotal": 229_900 })
    );
    // Under the cap it is a plain 10%, floored to the paisa.
    let (app, token) = app_with_cart("brass-diya-set-of-2", 1).await;
    let res = apply(&app, &token, json!("WELCOME10")).await;
    assert_eq!(
        res.ok(),
        &json!({ "code": "WELCOME10", "subtotal": 59_900, "discount": 5_990, "shippingFee": 0, "newTotal": 53_910 })
    );
}

#[tokio::test]
async fn codes_match_whatever_their_case() {
    let (app, token) = app_with_cart("kuber-brass-urli", 1).await;
    for code in ["welcome10", "Welcome10", "wElCoMe10"] {
        let res = apply(&app, &token, json!(code)).await;
        assert_eq!(res.ok()["code"], "WELCOME10", "{code}");
        assert_eq!(res.body["discount"], 20_000);
    }
}

#[tokio::test]
async fn flat_coupons_need_their_minimum_order() {
    let (app, token) = app_with_cart("brass-diya-set-of-2", 1).await;
    // FLAT250: ₹250 off orders of ₹1,500 or more.
    let res = apply(&app, &token, json!("flat250")).await;
    let body = res.problem(422, "MIN_ORDER_NOT_MET");
    assert_eq!(body["minOrderValue"], 150_000);
    assert!(body["detail"].as_str().unwrap().contains("₹1,500.00"));
    let urli = product_id(&app, "kuber-brass-urli").await;
    app.post(
        "/cart/add",
        Some(&token),
        json!({ "productId": urli, "quantity": 1 }),
    )
    .await
    .ok();
    let res = apply(&app, &token, json!("FLAT250")).await;
    assert_eq!(
        res.ok(),
        &json!({ "code": "FLAT250", "subtotal": 309_800, "discount": 25_000, "shippingFee": 0, "newTotal": 284_800 })
    );
}

#[tokio::test]
async fn a_flat_discount_never_exceeds_the_cart() {
    let (app, token) = app_with_cart("brass-diya-set-of-2", 1).await;
    // As the acceptance checks seed: plain inserts with Int32 numbers.
    app.db()
        .collection::<Document>("coupons")
        .insert_one(doc! {
            "code": "BIGFLAT", "type": "flat", "value": 100_000_i32, "usedCount": 0_i32,
            "isActive": true,
        })
        .await
        .unwrap();
    let res = apply(&app, &token, json!("bigflat")).await;
    assert_eq!(
        res.ok(),
        &json!({ "code": "BIGFLAT", "subtotal": 59_900, "discount": 59_900, "shippingFee": 0, "newTotal": 0 })
    );
}

#[tokio::test]
async fn a_coupon_that_has_not_expired_yet_applies() {
    // DIWALI20: 20% up to ₹500, until 2030.
    let (app, token) = app_with_cart("brass-pooja-thali-set", 2).await;
    let res = apply(&app, &token, json!("Diwali20")).await;
    assert_eq!(
        res.ok(),
        &json!({ "code": "DIWALI20", "subtotal": 259_800, "discount": 50_000, "shippingFee": 0, "newTotal": 209_800 })
    );
}

#[tokio::test]
async fn expired_coupons_are_refused() {
    let (app, token) = app_with_cart("kuber-brass-urli", 1).await;
    apply(&app, &token, json!("OLDFEST"))
        .await
        .problem(422, "COUPON_EXPIRED");
    // Expiry is checked against the clock, not only against seeded dates.
    let past = mongodb::bson::DateTime::from_millis(
        mongodb::bson::DateTime::now().timestamp_millis() - 1_000,
    );
    set_coupon(&app, "WELCOME10", doc! { "expiresAt": past }).await;
    apply(&app, &token, json!("welcome10"))
        .await
        .problem(422, "COUPON_EXPIRED");
}

#[tokio::test]
async fn a_coupon_stops_applying_and_checking_out_once_the_clock_passes_its_expiry() {
    let (app, token) = app_with_cart("kuber-brass-urli", 1).await;
    let in_an_hour = mongodb::bson::DateTime::from_millis(
        mongodb::bson::DateTime::now().timestamp_millis() + 3_600_000,
    );
    set_coupon(&app, "WELCOME10", doc! { "expiresAt": in_an_hour }).await;
    apply(&app, &token, json!("WELCOME10")).await.ok();
    app.clock.advance(std::time::Duration::from_secs(2 * 3600));
    apply(&app, &token, json!("WELCOME10"))
        .await
        .problem(422, "COUPON_EXPIRED");
    let mut body = crate::orders::order_body();
    body["couponCode"] = json!("WELCOME10");
    crate::orders::create(&app, USER, body, None)
        .await
        .problem(422, "COUPON_EXPIRED");
}

/// A coupon whose expiry was typed into the database as text (Compass, mongosh) used to make
/// apply-coupon answer 500; the text date is read like a real one.
#[tokio::test]
async fn a_coupon_expiry_stored_as_text_is_honoured() {
    let (app, token) = app_with_cart("brass-pooja-thali-set", 2).await;
    set_coupon(
        &app,
        "DIWALI20",
        doc! { "expiresAt": "2030-11-01T00:00:00Z" },
    )
    .await;
    assert_eq!(
        apply(&app, &token, json!("DIWALI20")).await.ok()["discount"],
        50_000
    );
    set_coupon(
        &app,
        "DIWALI20",
        doc! { "expiresAt": "2020-11-01T00:00:00Z" },
    )
    .await;
    apply(&app, &token, json!("DIWALI20"))
        .await
        .problem(422, "COUPON_EXPIRED");
}

#[tokio::test]
async fn used_up_coupons_are_exhausted() {
    let (app, token) = app_with_cart("kuber-brass-urli", 1).await;
    // FIRST1: ₹100 off, once.
    let res = apply(&app, &token, json!("first1")).await;
    assert_eq!(res.ok()["discount"], 10_000);
    set_coupon(&app, "FIRST1", doc! { "usedCount": 1_i64 }).await;
    let res = apply(&app, &token, json!("first1")).await;
    assert!(res.problem(409, "COUPON_EXHAUSTED")["detail"]
        .as_str()
        .unwrap()
        .contains("FIRST1"));
    set_coupon(&app, "WELCOME10", doc! { "usageLimit": 0_i32 }).await;
    apply(&app, &token, json!("WELCOME10"))
        .await
        .problem(409, "COUPON_EXHAUSTED");
}

#[tokio::test]
async fn unknown_and_inactive_coupons_are_not_found() {
    let (app, token) = app_with_cart("kuber-brass-urli", 1).await;
    apply(&app, &token, json!("NOSUCHCODE"))
        .await
        .problem(404, "COUPON_NOT_FOUND");
    set_coupon(&app, "WELCOME10", doc! { "isActive": false }).await;
    apply(&app, &token, json!("welcome10"))
        .await
        .problem(404, "COUPON_NOT_FOUND");
}

#[tokio::test]
async fn an_empty_cart_takes_no_coupon() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    apply(&app, &token, json!("WELCOME10"))
        .await
        .problem(422, "CART_EMPTY");
    let urli = product_id(&app, "kuber-brass-urli").await;
    app.post(
        "/cart/add",
        Some(&token),
        json!({ "productId": urli, "quantity": 1 }),
    )
    .await
    .ok();
    app.call(reqwest::Method::DELETE, "/cart/clear", Some(&token), None)
        .await
        .ok();
    apply(&app, &token, json!("WELCOME10"))
        .await
        .problem(422, "CART_EMPTY");
}

#[tokio::test]
async fn malformed_codes_are_validation_errors() {
    let (app, token) = app_with_cart("kuber-brass-urli", 1).await;
    let cases = [
        json!("WEL COME10"),
        json!(""),
        json!("   "),
        json!("AB"),
        json!("A".repeat(33)),
        json!("$ne"),
        json!("दिवाली10"),
        json!({ "$ne": "" }),
        json!({ "$regex": ".*" }),
        json!(["WELCOME10"]),
        json!(10),
        json!(null),
    ];
    // One user per case: more cases than the per-user rate limit allows in a minute.
    for (i, code) in cases.iter().enumerate() {
        let token = app.token(&format!("user_coupon_case_{i}"));
        let res = apply(&app, &token, code.clone()).await;
        let body = res.problem(400, "VALIDATION_FAILED");
        assert_eq!(body["errors"][0]["field"], "code", "{code}: {body}");
    }
    let res = app
        .post("/checkout/apply-coupon", Some(&token), json!({}))
        .await;
    assert_eq!(
        res.problem(400, "VALIDATION_FAILED")["errors"][0]["field"],
        "code"
    );
}

#[tokio::test]
async fn bad_bodies_and_missing_tokens_are_refused() {
    let (app, token) = app_with_cart("kuber-brass-urli", 1).await;
    let url = format!("{}/checkout/apply-coupon", app.base);
    let send = |body: String| {
        app.http
            .post(&url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let res = TestApp::read(
        send(format!(r#"{{"code":"{}"}}"#, "A".repeat(70 * 1024)))
            .await
            .unwrap(),
    )
    .await;
    res.problem(413, "PAYLOAD_TOO_LARGE");
    let res = TestApp::read(send(r#"{"code": "WELCOME10""#.into()).await.unwrap()).await;
    res.problem(400, "INVALID_JSON");
    let res = app
        .post(
            "/checkout/apply-coupon",
            Some(&token),
            json!({ "code": "WELCOME10", "subtotal": 1 }),
        )
        .await;
    assert_eq!(
        res.problem(400, "VALIDATION_FAILED")["errors"][0]["field"],
        "subtotal"
    );
    let res = app
        .post(
            "/checkout/apply-coupon",
            None,
            json!({ "code": "WELCOME10" }),
        )
        .await;
    res.problem(401, "UNAUTHENTICATED");
    assert_eq!(res.headers["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn applying_a_coupon_reserves_nothing_and_refusals_change_nothing() {
    let (app, token) = app_with_cart("kuber-brass-urli", 1).await;
    let before = everything(&app).await;
    apply(&app, &token, json!("WELCOME10")).await.ok();
    apply(&app, &token, json!("FIRST1")).await.ok();
    apply(&app, &token, json!("OLDFEST"))
        .await
        .problem(422, "COUPON_EXPIRED");
    apply(&app, &token, json!("NOPE99"))
        .await
        .problem(404, "COUPON_NOT_FOUND");
    apply(&app, &token, json!({ "$gt": "" }))
        .await
        .problem(400, "VALIDATION_FAILED");
    assert_eq!(everything(&app).await, before);
    assert_eq!(coupon_doc(&app, "FIRST1").await.get_i64("usedCount"), Ok(0));
}

#[tokio::test]
async fn the_eleventh_apply_within_a_minute_is_rate_limited() {
    let (app, token) = app_with_cart("kuber-brass-urli", 1).await;
    crate::support::inside_one_window([&app]);
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let res = apply(&app, &token, json!("WELCOME10")).await;
        statuses.push(res.status.as_u16());
        if res.status == 429 {
            res.problem(429, "RATE_LIMITED");
            let retry_after: u64 = res.headers["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry_after), "{retry_after}");
        }
    }
    assert_eq!(statuses, [[200; 10].as_slice(), &[429]].concat());
    // Malformed requests are counted too, and get the same 429.
    let res = apply(&app, &token, json!(" bad code")).await;
    res.problem(429, "RATE_LIMITED");
    // The limit is per user.
    let other = app.token("user_coupon_ravi");
    apply(&app, &other, json!("WELCOME10"))
        .await
        .problem(422, "CART_EMPTY");
}

/// Found from outside: the quote priced the cart's stale snapshot and deactivated products,
/// and refused codes with spaces that checkout took, so checkout then contradicted it.
#[tokio::test]
async fn the_quote_prices_what_checkout_will_charge() {
    let (app, token) = app_with_cart("kuber-brass-urli", 1).await;
    let id = product_id(&app, "kuber-brass-urli").await;
    let oid = mongodb::bson::oid::ObjectId::parse_str(&id).unwrap();
    // The owner raises the price after the line went into the cart.
    app.db()
        .collection::<Document>("products")
        .update_one(
            doc! { "_id": oid },
            doc! { "$inc": { "price": 10_000_i64, "variants.0.price": 10_000_i64 } },
        )
        .await
        .unwrap();
    let price = app.get("/products/kuber-brass-urli", None).await.ok()["price"]
        .as_i64()
        .unwrap();
    let quote = apply(&app, &token, json!("  welcome10 ")).await;
    assert_eq!(quote.status, 200, "{}", quote.body);
    assert_eq!(
        quote.body["subtotal"], price,
        "today's price, not the cart's snapshot"
    );

    // Checkout refreshes the moved price once, then charges exactly the quote.
    let body = json!({ "shippingAddress": crate::orders::address(), "couponCode": " welcome10 " });
    let first = crate::orders::create(&app, USER, body.clone(), None).await;
    first.problem(409, "PRICE_CHANGED");
    let placed = crate::orders::create(&app, USER, body, None).await;
    assert_eq!(placed.status, 201, "{}", placed.body);
    assert_eq!(placed.body["subtotal"], quote.body["subtotal"]);
    assert_eq!(placed.body["discount"], quote.body["discount"]);
    assert_eq!(placed.body["total"], quote.body["newTotal"]);

    // A deactivated product is refused by the quote as checkout would refuse it.
    let token2 = app.token("user_coupon_gone");
    app.post(
        "/cart/add",
        Some(&token2),
        json!({ "productId": id, "quantity": 1 }),
    )
    .await
    .ok();
    app.db()
        .collection::<Document>("products")
        .update_one(doc! { "_id": oid }, doc! { "$set": { "isActive": false } })
        .await
        .unwrap();
    apply(&app, &token2, json!("WELCOME10"))
        .await
        .problem(409, "PRODUCT_UNAVAILABLE");
}
