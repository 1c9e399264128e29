//! `admin-ship` direct invocations that maintain the catalog.

use crate::support::TestApp;
use mongodb::bson::{doc, Document};
use serde_json::json;

fn product() -> serde_json::Value {
    json!({ "name": "Brass Lota", "slug": "brass-lota", "price": 49_900, "stock": 5, "images": ["https://img.example/lota.jpg"] })
}

#[tokio::test]
async fn upsert_product_is_idempotent_by_slug() {
    let app = TestApp::spawn().await;
    let first = app
        .invoke_admin(json!({ "action": "upsertProduct", "product": product() }))
        .await;
    assert_eq!(first["ok"], true, "{first}");
    let mut changed = product();
    changed["price"] = json!(52_900);
    let second = app
        .invoke_admin(json!({ "action": "upsertProduct", "product": changed }))
        .await;
    assert_eq!(second["product"]["id"], first["product"]["id"]);
    assert_eq!(second["product"]["price"], 52_900);
    let count = app
        .db()
        .collection::<Document>("products")
        .count_documents(doc! { "slug": "brass-lota" })
        .await
        .unwrap();
    assert_eq!(count, 1);
    let stored = app
        .db()
        .collection::<Document>("products")
        .find_one(doc! {})
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(
            stored.get("price"),
            Some(mongodb::bson::Bson::Int64(52_900))
        ),
        "money is Int64 paise"
    );
}

#[tokio::test]
async fn invalid_products_are_refused_with_every_field_named() {
    let app = TestApp::spawn().await;
    let bad = json!({ "action": "upsertProduct", "product": {
        "name": "", "slug": "Brass Lota", "price": 50, "stock": -1, "images": ["javascript:alert(1)"]
    }});
    let res = app.invoke_admin(bad).await;
    assert_eq!(res["ok"], false);
    assert_eq!(res["error"]["code"], "VALIDATION_FAILED");
    let fields: Vec<&str> = res["error"]["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for f in ["name", "slug", "price", "stock", "images[0]"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }
    let unknown = app.invoke_admin(json!({ "action": "upsertProduct", "product": { "name": "x", "slug": "x", "price": 100, "stock": 1, "colour": "gold" } })).await;
    assert_eq!(unknown["error"]["code"], "VALIDATION_FAILED", "{unknown}");
    let wrong_type = app.invoke_admin(json!({ "action": "upsertProduct", "product": { "name": "x", "slug": "x", "price": "100", "stock": 1 } })).await;
    assert_eq!(
        wrong_type["error"]["errors"][0]["field"], "price",
        "{wrong_type}"
    );
    assert_eq!(
        app.db()
            .collection::<Document>("products")
            .count_documents(doc! {})
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn unknown_actions_and_shapes_are_typed_errors() {
    let app = TestApp::spawn().await;
    for event in [
        json!({}),
        json!([]),
        json!({ "action": "dropDatabase" }),
        json!({ "action": "upsertProduct" }),
        json!({ "action": "upsertCoupon", "coupon": {}, "extra": 1 }),
    ] {
        let res = app.invoke_admin(event.clone()).await;
        assert_eq!(res["ok"], false, "{event}");
        assert_eq!(res["error"]["code"], "VALIDATION_FAILED", "{event}: {res}");
    }
}

#[tokio::test]
async fn upsert_coupon_upper_cases_and_keeps_usage() {
    let app = TestApp::spawn().await;
    let res = app.invoke_admin(json!({ "action": "upsertCoupon", "coupon": { "code": "diwali10", "type": "percent", "value": 10, "maxDiscount": 20_000, "usageLimit": 5 } })).await;
    assert_eq!(res["coupon"]["code"], "DIWALI10", "{res}");
    app.db()
        .collection::<Document>("coupons")
        .update_one(
            doc! { "code": "DIWALI10" },
            doc! { "$set": { "usedCount": 3_i64 } },
        )
        .await
        .unwrap();
    let again = app.invoke_admin(json!({ "action": "upsertCoupon", "coupon": { "code": "DIWALI10", "type": "percent", "value": 12 } })).await;
    assert_eq!(again["coupon"]["usedCount"], 3);
    assert_eq!(again["coupon"]["value"], 12);
    let bad = app.invoke_admin(json!({ "action": "upsertCoupon", "coupon": { "code": "a b", "type": "percent", "value": 150, "expiresAt": "tomorrow" } })).await;
    assert_eq!(bad["error"]["errors"].as_array().unwrap().len(), 3, "{bad}");
}

#[tokio::test]
async fn seeding_twice_changes_nothing_the_second_time() {
    let app = TestApp::spawn().await;
    app.seed().await;
    app.seed().await;
    assert_eq!(
        app.db()
            .collection::<Document>("products")
            .count_documents(doc! {})
            .await
            .unwrap(),
        10
    );
    assert_eq!(
        app.db()
            .collection::<Document>("coupons")
            .count_documents(doc! {})
            .await
            .unwrap(),
        5
    );
}
