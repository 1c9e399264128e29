//! The cart over HTTP against the real database: snapshots, totals, limits, stock, every
//! refusal leaving the cart as it was, and concurrent adds from several tabs.

use crate::lambda_events;
use crate::support::{Resp, TestApp};
use futures::future::join_all;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, Document};
use reqwest::Method;
use serde_json::{json, Value};

const USER: &str = "user_cart_alice";

pub(crate) async fn product_id(app: &TestApp, slug: &str) -> String {
    app.get(&format!("/products/{slug}"), None).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn add(app: &TestApp, token: &str, product: &str, quantity: Value) -> Resp {
    app.post(
        "/cart/add",
        Some(token),
        json!({ "productId": product, "quantity": quantity }),
    )
    .await
}

async fn update(app: &TestApp, token: &str, product: &str, quantity: Value) -> Resp {
    app.post(
        "/cart/update",
        Some(token),
        json!({ "productId": product, "quantity": quantity }),
    )
    .await
}

pub(crate) async fn stored_cart(app: &TestApp, user: &str) -> Option<Document> {
    app.db()
        .collection::<Document>("carts")
        .find_one(doc! { "userId": user })
        .await
        .unwrap()
}

async fn cart_count(app: &TestApp) -> u64 {
    app.db()
        .collection::<Document>("carts")
        .count_documents(doc! {})
        .await
        .unwrap()
}

async fn set_stock(app: &TestApp, slug: &str, stock: i64) {
    app.db()
        .collection::<Document>("products")
        .update_one(
            doc! { "slug": slug },
            doc! { "$set": { "variants.0.stock": stock } },
        )
        .await
        .unwrap();
}

/// Sends a body exactly as given, for what `json!` cannot express.
async fn raw(app: &TestApp, path: &str, token: &str, body: impl Into<reqwest::Body>) -> Resp {
    let res = app
        .http
        .post(format!("{}{path}", app.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    TestApp::read(res).await
}

fn field_of(res: &Resp) -> Vec<String> {
    res.problem(400, "VALIDATION_FAILED")["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_user_without_a_cart_sees_an_empty_one_and_none_is_created() {
    let app = TestApp::spawn().await;
    let token = app.token(USER);
    let res = app.get("/cart", Some(&token)).await;
    assert_eq!(
        res.ok(),
        &json!({ "userId": USER, "items": [], "itemCount": 0, "subtotal": 0, "shippingFee": 0, "total": 0, "currency": "INR", "updatedAt": null })
    );
    assert_eq!(cart_count(&app).await, 0);
}

#[tokio::test]
async fn adding_snapshots_the_catalog_and_totals_in_paise() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let urli = product_id(&app, "kuber-brass-urli").await;
    let diya = product_id(&app, "brass-diya-set-of-2").await;

    let res = add(&app, &token, &urli, json!(2)).await;
    let cart = res.ok();
    assert_eq!(cart["userId"], USER);
    assert_eq!(cart["currency"], "INR");
    assert!(cart["updatedAt"].as_str().unwrap().ends_with('Z'));
    // A product without options sells its one variant, which the line names.
    let variant = app.get("/products/kuber-brass-urli", None).await.ok()["variants"][0].clone();
    assert_eq!(
        cart["items"],
        json!([{
            "productId": urli,
            "variantId": variant["id"],
            "sku": variant["sku"],
            "name": "Kuber Brass Urli",
            "variantTitle": "Default",
            "price": 249_900,
            "image": "https://images.pitalya.example/products/kuber-brass-urli/1.jpg",
            "quantity": 2,
            "lineTotal": 499_800,
        }])
    );
    assert_eq!(cart["itemCount"], 2);
    assert_eq!(cart["subtotal"], 499_800);

    // A later price change in the catalog does not reach a line already in the cart.
    app.db()
        .collection::<Document>("products")
        .update_one(
            doc! { "slug": "kuber-brass-urli" },
            doc! { "$set": { "price": 299_900_i64, "variants.0.price": 299_900_i64, "name": "Renamed Urli" } },
        )
        .await
        .unwrap();
    let res = add(&app, &token, &diya, json!(3)).await;
    let cart = res.ok();
    assert_eq!(cart["items"][0]["price"], 249_900);
    assert_eq!(cart["items"][0]["name"], "Kuber Brass Urli");
    assert_eq!(cart["items"][1]["lineTotal"], 179_700);
    assert_eq!(cart["itemCount"], 5);
    assert_eq!(cart["subtotal"], 499_800 + 179_700);

    let stored = stored_cart(&app, USER).await.unwrap();
    let line = stored.get_array("items").unwrap()[0].as_document().unwrap();
    assert_eq!(
        line.get_object_id("productId").unwrap().to_hex(),
        urli,
        "productId is stored as an ObjectId"
    );
    assert_eq!(
        line.get_i64("price").unwrap(),
        249_900,
        "money is Int64 paise"
    );
    assert_eq!(app.get("/cart", Some(&token)).await.ok(), cart);
}

#[tokio::test]
async fn adding_again_increments_the_one_line_at_the_current_price() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let urli = product_id(&app, "kuber-brass-urli").await;
    add(&app, &token, &urli, json!(2)).await.ok();
    app.db()
        .collection::<Document>("products")
        .update_one(
            doc! { "slug": "kuber-brass-urli" },
            doc! { "$set": { "price": 259_900_i64, "variants.0.price": 259_900_i64 } },
        )
        .await
        .unwrap();
    let res = add(&app, &token, &urli, json!(3)).await;
    let items = res.ok()["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["quantity"], 5);
    assert_eq!(
        items[0]["price"], 259_900,
        "the shopper added at today's price"
    );
    assert_eq!(res.body["subtotal"], 5 * 259_900);
}

#[tokio::test]
async fn concurrent_adds_never_lose_an_increment() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    // 40 in stock, so the per-line limit of 10 is what stops the adds.
    let diya = product_id(&app, "brass-diya-set-of-2").await;
    let results = join_all((0..20).map(|_| add(&app, &token, &diya, json!(1)))).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    for r in results.iter().filter(|r| r.status != 200) {
        r.problem(422, "CART_LIMIT");
    }
    assert_eq!(ok, 10);
    let stored = stored_cart(&app, USER).await.unwrap();
    let items = stored.get_array("items").unwrap();
    assert_eq!(items.len(), 1, "one line, however many tabs: {stored}");
    assert_eq!(
        items[0].as_document().unwrap().get_i64("quantity").unwrap(),
        10
    );
    assert_eq!(cart_count(&app).await, 1);
}

#[tokio::test]
async fn concurrent_adds_stop_exactly_at_the_stock() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let lamp = product_id(&app, "peacock-brass-lamp").await; // 6 in stock
    let results = join_all((0..20).map(|_| add(&app, &token, &lamp, json!(1)))).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    for r in results.iter().filter(|r| r.status != 200) {
        let body = r.problem(409, "INSUFFICIENT_STOCK");
        assert_eq!(body["detail"], "Only 6 of 'Peacock Brass Lamp' left");
    }
    assert_eq!(ok, 6);
    let res = app.get("/cart", Some(&token)).await;
    assert_eq!(res.ok()["items"].as_array().unwrap().len(), 1);
    assert_eq!(res.body["items"][0]["quantity"], 6);
}

#[tokio::test]
async fn concurrent_first_adds_of_different_products_share_one_cart() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let slugs = [
        "brass-diya-set-of-2",
        "kuber-brass-urli",
        "peacock-brass-lamp",
        "brass-pooja-thali-set",
        "hammered-brass-tumbler",
        "brass-ganesha-idol",
        "brass-kalash-coconut-stand",
    ];
    let mut ids = Vec::new();
    for slug in slugs {
        ids.push(product_id(&app, slug).await);
    }
    let results = join_all(ids.iter().map(|id| add(&app, &token, id, json!(2)))).await;
    for r in &results {
        r.ok();
    }
    assert_eq!(cart_count(&app).await, 1);
    let res = app.get("/cart", Some(&token)).await;
    assert_eq!(res.ok()["items"].as_array().unwrap().len(), slugs.len());
    assert_eq!(res.body["itemCount"], 2 * slugs.len() as i64);
}

#[tokio::test]
async fn a_line_holds_at_most_ten() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let urli = product_id(&app, "kuber-brass-urli").await; // 12 in stock
    add(&app, &token, &urli, json!(6)).await.ok();
    let before = stored_cart(&app, USER).await;
    let res = add(&app, &token, &urli, json!(5)).await;
    res.problem(422, "CART_LIMIT");
    assert_eq!(stored_cart(&app, USER).await, before, "nothing changed");
    add(&app, &token, &urli, json!(4)).await.ok();
    add(&app, &token, &urli, json!(1))
        .await
        .problem(422, "CART_LIMIT");
    // Past both the line limit and the stock, the limit is the answer.
    add(&app, &token, &urli, json!(10))
        .await
        .problem(422, "CART_LIMIT");
    let res = app.get("/cart", Some(&token)).await;
    assert_eq!(res.ok()["items"][0]["quantity"], 10);
}

#[tokio::test]
async fn stock_is_checked_against_the_whole_line() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let lamp = product_id(&app, "peacock-brass-lamp").await; // 6 in stock
    let bell = product_id(&app, "temple-bell-ghanti").await; // out of stock
    add(&app, &token, &lamp, json!(7))
        .await
        .problem(409, "INSUFFICIENT_STOCK");
    assert_eq!(
        cart_count(&app).await,
        0,
        "a refused first add creates no cart"
    );
    add(&app, &token, &lamp, json!(4)).await.ok();
    let res = add(&app, &token, &lamp, json!(3)).await;
    let body = res.problem(409, "INSUFFICIENT_STOCK");
    assert_eq!(body["detail"], "Only 6 of 'Peacock Brass Lamp' left");
    assert_eq!(body["available"], 6);
    add(&app, &token, &lamp, json!(2)).await.ok();
    let res = add(&app, &token, &bell, json!(1)).await;
    assert_eq!(
        res.problem(409, "INSUFFICIENT_STOCK")["detail"],
        "'Temple Bell (Ghanti)' is out of stock"
    );
    let res = app.get("/cart", Some(&token)).await;
    assert_eq!(res.ok()["items"].as_array().unwrap().len(), 1);
    assert_eq!(res.body["items"][0]["quantity"], 6);
}

#[tokio::test]
async fn a_cart_holds_at_most_fifty_products() {
    let app = TestApp::spawn().await;
    let token = app.token(USER);
    let t = mongodb::bson::DateTime::now();
    let ids: Vec<ObjectId> = (0..51).map(|_| ObjectId::new()).collect();
    let products: Vec<Document> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            doc! { "_id": id, "name": format!("Item {i}"), "slug": format!("item-{i}"), "price": 10_000_i64,
            "images": [], "stock": 100_i64, "isActive": true, "createdAt": t, "updatedAt": t }
        })
        .collect();
    app.db()
        .collection::<Document>("products")
        .insert_many(products)
        .await
        .unwrap();
    let lines: Vec<Document> = ids[..49]
        .iter()
        .map(|id| doc! { "productId": id, "name": "x", "price": 10_000_i64, "image": null, "quantity": 1_i64 })
        .collect();
    app.db()
        .collection::<Document>("carts")
        .insert_one(doc! { "userId": USER, "items": lines, "updatedAt": t })
        .await
        .unwrap();
    let res = add(&app, &token, &ids[49].to_hex(), json!(1)).await;
    assert_eq!(res.ok()["items"].as_array().unwrap().len(), 50);
    let before = stored_cart(&app, USER).await;
    let res = add(&app, &token, &ids[50].to_hex(), json!(1)).await;
    assert!(res.problem(422, "CART_LIMIT")["detail"]
        .as_str()
        .unwrap()
        .contains("50"));
    assert_eq!(stored_cart(&app, USER).await, before);
    // A full cart still takes more of what it already holds.
    let res = add(&app, &token, &ids[0].to_hex(), json!(2)).await;
    assert_eq!(res.ok()["itemCount"], 52);
}

#[tokio::test]
async fn unknown_inactive_and_malformed_products_are_refused() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    add(&app, &token, &ObjectId::new().to_hex(), json!(1))
        .await
        .problem(404, "PRODUCT_NOT_FOUND");
    let hookah = app
        .db()
        .collection::<Document>("products")
        .find_one(doc! { "slug": "vintage-brass-hookah" })
        .await
        .unwrap()
        .unwrap()
        .get_object_id("_id")
        .unwrap()
        .to_hex();
    add(&app, &token, &hookah, json!(1))
        .await
        .problem(404, "PRODUCT_NOT_FOUND");
    for bad in [
        json!("not-an-id"),
        json!("6745f0c2a1b2c3d4e5f6071"),
        json!("6745f0c2a1b2c3d4e5f60718 "),
        json!({ "$ne": null }),
        json!(12345),
        json!(null),
    ] {
        let res = app
            .post(
                "/cart/add",
                Some(&token),
                json!({ "productId": bad, "quantity": 1 }),
            )
            .await;
        // A null names nothing, so what is missing is the variant (or product) to add.
        let field = if bad.is_null() {
            "variantId"
        } else {
            "productId"
        };
        assert_eq!(field_of(&res), [field], "{bad}");
    }
    let res = app
        .post("/cart/remove", Some(&token), json!({ "productId": "zzz" }))
        .await;
    assert_eq!(field_of(&res), ["productId"]);
    assert_eq!(cart_count(&app).await, 0);
}

#[tokio::test]
async fn bad_quantities_are_validation_errors_naming_quantity() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let urli = product_id(&app, "kuber-brass-urli").await;
    add(&app, &token, &urli, json!(1)).await.ok();
    let before = stored_cart(&app, USER).await;
    let always_bad = [
        json!(-1),
        json!(11),
        json!(1_000_000),
        json!(i64::MAX),
        json!(1.5),
        json!(1.0),
        json!("2"),
        json!(true),
        json!([1]),
        json!(null),
    ];
    for q in always_bad.iter().chain([&json!(0)]) {
        let res = add(&app, &token, &urli, q.clone()).await;
        assert_eq!(field_of(&res), ["quantity"], "add {q}");
    }
    for q in &always_bad {
        let res = update(&app, &token, &urli, q.clone()).await;
        assert_eq!(field_of(&res), ["quantity"], "update {q}");
    }
    for body in [
        r#"{"productId":"PID","quantity":99999999999999999999999}"#,
        r#"{"productId":"PID","quantity":1e3}"#,
        r#"{"productId":"PID"}"#,
    ] {
        let res = raw(&app, "/cart/add", &token, body.replace("PID", &urli)).await;
        assert_eq!(field_of(&res), ["quantity"], "{body}");
    }
    // Beyond f64 the JSON parser itself gives up, before any field is seen: still a typed 400.
    let beyond_f64 = format!(r#"{{"productId":"{urli}","quantity":1e400}}"#);
    raw(&app, "/cart/add", &token, beyond_f64)
        .await
        .problem(400, "INVALID_JSON");
    let res = app.post("/cart/add", Some(&token), json!({})).await;
    assert_eq!(field_of(&res), ["variantId", "quantity"]);
    assert_eq!(stored_cart(&app, USER).await, before, "nothing changed");
}

#[tokio::test]
async fn update_sets_the_quantity_and_zero_removes_the_line() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let urli = product_id(&app, "kuber-brass-urli").await;
    let diya = product_id(&app, "brass-diya-set-of-2").await;
    add(&app, &token, &urli, json!(1)).await.ok();
    add(&app, &token, &diya, json!(1)).await.ok();
    let res = update(&app, &token, &urli, json!(4)).await;
    assert_eq!(res.ok()["items"][0]["quantity"], 4);
    assert_eq!(res.body["items"][1]["quantity"], 1);
    assert_eq!(res.body["subtotal"], 4 * 249_900 + 59_900);
    let res = update(&app, &token, &urli, json!(1)).await;
    assert_eq!(res.ok()["items"][0]["quantity"], 1, "lowering works too");
    let res = update(&app, &token, &urli, json!(0)).await;
    let items = res.ok()["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["productId"], diya);
    update(&app, &token, &urli, json!(0))
        .await
        .problem(404, "NOT_IN_CART");
}

#[tokio::test]
async fn update_refuses_what_is_not_in_the_cart_or_not_in_stock() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let urli = product_id(&app, "kuber-brass-urli").await;
    let lamp = product_id(&app, "peacock-brass-lamp").await;
    // No cart at all: still a typed 404, and still no cart.
    update(&app, &token, &urli, json!(2))
        .await
        .problem(404, "NOT_IN_CART");
    assert_eq!(cart_count(&app).await, 0);
    add(&app, &token, &lamp, json!(2)).await.ok();
    let before = stored_cart(&app, USER).await;
    update(&app, &token, &urli, json!(2))
        .await
        .problem(404, "NOT_IN_CART");
    update(&app, &token, &urli, json!(0))
        .await
        .problem(404, "NOT_IN_CART");
    update(&app, &token, &ObjectId::new().to_hex(), json!(9))
        .await
        .problem(404, "NOT_IN_CART");
    let res = update(&app, &token, &lamp, json!(7)).await;
    assert_eq!(
        res.problem(409, "INSUFFICIENT_STOCK")["detail"],
        "Only 6 of 'Peacock Brass Lamp' left"
    );
    set_stock(&app, "peacock-brass-lamp", 1).await;
    update(&app, &token, &lamp, json!(3))
        .await
        .problem(409, "INSUFFICIENT_STOCK");
    app.db()
        .collection::<Document>("products")
        .update_one(
            doc! { "slug": "peacock-brass-lamp" },
            doc! { "$set": { "isActive": false } },
        )
        .await
        .unwrap();
    update(&app, &token, &lamp, json!(1))
        .await
        .problem(404, "PRODUCT_NOT_FOUND");
    assert_eq!(stored_cart(&app, USER).await, before, "nothing changed");
    // A line whose product left the catalog can still be taken out.
    let res = update(&app, &token, &lamp, json!(0)).await;
    assert_eq!(res.ok()["items"], json!([]));
}

#[tokio::test]
async fn remove_returns_the_cart_whether_or_not_the_product_was_in_it() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let urli = product_id(&app, "kuber-brass-urli").await;
    let diya = product_id(&app, "brass-diya-set-of-2").await;
    let res = app
        .post("/cart/remove", Some(&token), json!({ "productId": urli }))
        .await;
    assert_eq!(res.ok()["items"], json!([]));
    assert_eq!(res.body["updatedAt"], json!(null));
    assert_eq!(cart_count(&app).await, 0, "removing creates no cart");
    add(&app, &token, &urli, json!(2)).await.ok();
    add(&app, &token, &diya, json!(1)).await.ok();
    let res = app
        .post("/cart/remove", Some(&token), json!({ "productId": urli }))
        .await;
    assert_eq!(res.ok()["items"].as_array().unwrap().len(), 1);
    assert_eq!(res.body["subtotal"], 59_900);
    let before = stored_cart(&app, USER).await;
    let res = app
        .post("/cart/remove", Some(&token), json!({ "productId": urli }))
        .await;
    assert_eq!(res.ok()["items"][0]["productId"], diya);
    assert_eq!(stored_cart(&app, USER).await, before);
}

#[tokio::test]
async fn clear_empties_the_cart() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let res = app
        .call(Method::DELETE, "/cart/clear", Some(&token), None)
        .await;
    assert_eq!(res.ok()["items"], json!([]));
    assert_eq!(cart_count(&app).await, 0, "clearing creates no cart");
    let urli = product_id(&app, "kuber-brass-urli").await;
    add(&app, &token, &urli, json!(3)).await.ok();
    let res = app
        .call(Method::DELETE, "/cart/clear", Some(&token), None)
        .await;
    assert_eq!(res.ok()["items"], json!([]));
    assert_eq!(res.body["itemCount"], 0);
    assert_eq!(res.body["subtotal"], 0);
    assert!(res.body["updatedAt"].is_string());
    assert_eq!(
        app.get("/cart", Some(&token)).await.ok()["items"],
        json!([])
    );
    add(&app, &token, &urli, json!(1)).await.ok();
}

#[tokio::test]
async fn carts_are_private_to_their_user() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let alice = app.token(USER);
    let bob = app.token("user_cart_bob");
    let urli = product_id(&app, "kuber-brass-urli").await;
    add(&app, &alice, &urli, json!(2)).await.ok();
    let res = app.get("/cart", Some(&bob)).await;
    assert_eq!(res.ok()["items"], json!([]));
    assert_eq!(res.body["userId"], "user_cart_bob");
    update(&app, &bob, &urli, json!(1))
        .await
        .problem(404, "NOT_IN_CART");
    app.call(Method::DELETE, "/cart/clear", Some(&bob), None)
        .await
        .ok();
    assert_eq!(
        app.get("/cart", Some(&alice)).await.ok()["items"][0]["quantity"],
        2
    );
}

#[tokio::test]
async fn every_cart_route_needs_a_token() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let urli = product_id(&app, "kuber-brass-urli").await;
    let body = json!({ "productId": urli, "quantity": 1 });
    for (method, path) in ::cart::ROUTES {
        let res = app
            .call(method.parse().unwrap(), path, None, Some(body.clone()))
            .await;
        res.problem(401, "UNAUTHENTICATED");
        assert_eq!(res.headers["www-authenticate"], "Bearer");
    }
    assert_eq!(cart_count(&app).await, 0);
}

#[tokio::test]
async fn oversized_malformed_and_unknown_bodies_change_nothing() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let token = app.token(USER);
    let urli = product_id(&app, "kuber-brass-urli").await;
    add(&app, &token, &urli, json!(1)).await.ok();
    let before = stored_cart(&app, USER).await;
    let huge = format!(
        r#"{{"productId":"{urli}","quantity":1,"pad":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    raw(&app, "/cart/add", &token, huge)
        .await
        .problem(413, "PAYLOAD_TOO_LARGE");
    for path in ["/cart/add", "/cart/update", "/cart/remove"] {
        raw(&app, path, &token, r#"{"productId": "#)
            .await
            .problem(400, "INVALID_JSON");
        raw(&app, path, &token, "")
            .await
            .problem(400, "INVALID_JSON");
    }
    let res = app
        .post(
            "/cart/add",
            Some(&token),
            json!({ "productId": urli, "quantity": 1, "price": 1 }),
        )
        .await;
    assert_eq!(field_of(&res), ["price"]);
    let res = app
        .post(
            "/cart/remove",
            Some(&token),
            json!({ "productId": urli, "quantity": 1 }),
        )
        .await;
    assert_eq!(field_of(&res), ["quantity"]);
    assert_eq!(stored_cart(&app, USER).await, before, "nothing changed");
}

#[tokio::test]
async fn cart_events_drive_the_lambda_path() {
    let app = TestApp::spawn().await;
    // The sample events name this product id; give it a catalog row.
    let t = mongodb::bson::DateTime::now();
    app.db()
        .collection::<Document>("products")
        .insert_one(doc! {
            "_id": ObjectId::parse_str("6745f0c2a1b2c3d4e5f60001").unwrap(),
            "name": "Brass Diya", "slug": "brass-diya", "description": "", "price": 59_900_i32,
            "images": [], "stock": 5_i32, "isActive": true, "createdAt": t, "updatedAt": t,
        })
        .await
        .unwrap();
    let body = |res: &Value| -> Value {
        assert_eq!(res["statusCode"], 200, "{res}");
        serde_json::from_str(res["body"].as_str().unwrap()).unwrap()
    };
    let cart = body(&lambda_events::invoke(&app, "cart-get").await);
    assert_eq!(cart["items"], json!([]));
    let cart = body(&lambda_events::invoke(&app, "cart-add").await);
    assert_eq!(cart["items"][0]["quantity"], 2);
    assert_eq!(cart["items"][0]["image"], json!(null));
    assert_eq!(cart["subtotal"], 119_800);
    let cart = body(&lambda_events::invoke(&app, "cart-update").await);
    assert_eq!(cart["items"][0]["quantity"], 1);
    let cart = body(&lambda_events::invoke(&app, "cart-remove").await);
    assert_eq!(cart["items"], json!([]));
    let cart = body(&lambda_events::invoke(&app, "cart-clear").await);
    assert_eq!(cart["itemCount"], 0);
}
