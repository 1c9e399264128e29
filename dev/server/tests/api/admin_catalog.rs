//! `admin-ship` direct invocations that maintain the catalog.

use crate::support::TestApp;
use mongodb::bson::{doc, Document};
use serde_json::json;

fn product() -> serde_json::Value {
    json!({ "name": "Brass Lota", "slug": "brass-lota", "price": 49_900, "stock": 5, "images": ["https://img.example/lota.jpg"], "hsn": "7418", "gstRate": 500 })
}

#[tokio::test]
async fn upsert_product_is_idempotent_by_slug() {
    let app = TestApp::spawn().await;
    let first = app
        .invoke_admin(json!({ "action": "upsertProduct", "product": product() }))
        .await;
    assert_eq!(first["ok"], true, "{first}");
    let changed = json!({ "name": "Brass Lota", "slug": "brass-lota", "price": 52_900 });
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
        "name": "", "slug": "Brass Lota", "price": 50, "stock": -1, "images": ["javascript:alert(1)"],
        "hsn": "74", "gstRate": 1000
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
    for f in [
        "name",
        "slug",
        "price",
        "stock",
        "images[0]",
        "hsn",
        "gstRate",
    ] {
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
        12
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

#[tokio::test]
async fn a_new_product_needs_its_stock_hsn_and_gst_rate() {
    let app = TestApp::spawn().await;
    let res = app
        .invoke_admin(json!({ "action": "upsertProduct", "product": { "name": "Brass Lota", "slug": "brass-lota", "price": 49_900 } }))
        .await;
    let fields: Vec<&str> = res["error"]["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{res}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["hsn", "gstRate", "stock"]);
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
async fn upserting_an_existing_product_changes_only_the_fields_it_names() {
    let app = TestApp::spawn().await;
    let mut first = product();
    first["description"] = json!("Hand-beaten water pot.");
    first["isActive"] = json!(false);
    let created = app
        .invoke_admin(json!({ "action": "upsertProduct", "product": first }))
        .await;
    assert_eq!(created["product"]["stock"], 5, "{created}");
    let res = app
        .invoke_admin(json!({ "action": "upsertProduct", "product": { "slug": "brass-lota", "name": "Brass Lota, 1 l", "gstRate": 1200 } }))
        .await;
    let p = &res["product"];
    assert_eq!(p["name"], "Brass Lota, 1 l", "{res}");
    assert_eq!(p["gstRate"], 1200);
    assert_eq!(p["hsn"], "7418");
    assert_eq!(p["description"], "Hand-beaten water pot.");
    assert_eq!(p["images"], json!(["https://img.example/lota.jpg"]));
    assert_eq!(p["isActive"], false);
    assert_eq!(p["price"], 49_900);
    assert_eq!(p["stock"], 5);
}

#[tokio::test]
async fn upserting_stock_of_an_existing_product_is_refused_naming_adjust_stock() {
    let app = TestApp::spawn().await;
    app.invoke_admin(json!({ "action": "upsertProduct", "product": product() }))
        .await;
    let mut again = product();
    again["stock"] = json!(50);
    again["price"] = json!(1_000);
    let res = app
        .invoke_admin(json!({ "action": "upsertProduct", "product": again }))
        .await;
    assert_eq!(res["error"]["code"], "VALIDATION_FAILED", "{res}");
    let e = &res["error"]["errors"][0];
    assert_eq!(e["field"], "stock");
    assert!(
        e["message"].as_str().unwrap().contains("adjustStock"),
        "{e}"
    );
    let stored = app
        .db()
        .collection::<Document>("products")
        .find_one(doc! { "slug": "brass-lota" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(crate::support::stock_of(&stored), 5);
    assert_eq!(stored.get_i64("price").unwrap(), 49_900, "nothing changed");
}

async fn ledger_sum(app: &TestApp, product_id: &str) -> i64 {
    use futures::TryStreamExt;
    let id = mongodb::bson::oid::ObjectId::parse_str(product_id).unwrap();
    let entries: Vec<Document> = app
        .db()
        .collection::<Document>("stock_movements")
        .find(doc! { "productId": id })
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    entries.iter().map(|e| e.get_i64("delta").unwrap()).sum()
}

#[tokio::test]
async fn adjust_stock_moves_units_by_id_or_slug_and_records_them() {
    let app = TestApp::spawn().await;
    let created = app
        .invoke_admin(json!({ "action": "upsertProduct", "product": product() }))
        .await;
    let id = created["product"]["id"].as_str().unwrap().to_owned();
    let res = app
        .invoke_admin(json!({ "action": "adjustStock", "slug": "brass-lota", "delta": 10, "reason": "new batch from Moradabad" }))
        .await;
    assert_eq!(res["ok"], true, "{res}");
    assert_eq!(res["product"]["stock"], 15);
    assert_eq!(res["movement"]["stockAfter"], 15);
    assert_eq!(res["movement"]["by"], admin_ship::DIRECT_ACTOR);
    let res = app
        .invoke_admin(json!({ "action": "adjustStock", "productId": id, "delta": -4, "reason": "damaged in transit" }))
        .await;
    assert_eq!(res["product"]["stock"], 11, "{res}");
    assert_eq!(ledger_sum(&app, &id).await, 11);

    let res = app
        .invoke_admin(json!({ "action": "adjustStock", "productId": id, "delta": -12, "reason": "stocktake" }))
        .await;
    assert_eq!(res["error"]["code"], "STOCK_WOULD_GO_NEGATIVE", "{res}");
    for bad in [
        json!({ "action": "adjustStock", "slug": "brass-lota", "delta": 0, "reason": "x" }),
        json!({ "action": "adjustStock", "slug": "brass-lota", "delta": 1 }),
        json!({ "action": "adjustStock", "delta": 1, "reason": "x" }),
        json!({ "action": "adjustStock", "slug": "brass-lota", "productId": id, "delta": 1, "reason": "x" }),
        json!({ "action": "adjustStock", "slug": "brass-lota", "delta": 1, "reason": "x", "stock": 3 }),
    ] {
        let res = app.invoke_admin(bad.clone()).await;
        assert_eq!(res["error"]["code"], "VALIDATION_FAILED", "{bad}: {res}");
    }
    let res = app
        .invoke_admin(
            json!({ "action": "adjustStock", "slug": "no-such-lota", "delta": 1, "reason": "x" }),
        )
        .await;
    assert_eq!(res["error"]["code"], "PRODUCT_NOT_FOUND", "{res}");
    assert_eq!(ledger_sum(&app, &id).await, 11, "refusals wrote nothing");
}

#[tokio::test]
async fn seeding_never_resets_stock_prices_or_coupon_use() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let products = app.db().collection::<Document>("products");
    products
        .update_one(
            doc! { "slug": "kuber-brass-urli" },
            doc! { "$set": { "variants.0.stock": 3_i64, "price": 199_900_i64, "variants.0.price": 199_900_i64 } },
        )
        .await
        .unwrap();
    app.db()
        .collection::<Document>("coupons")
        .update_one(
            doc! { "code": "FIRST1" },
            doc! { "$set": { "usedCount": 1_i64, "value": 5_000_i64 } },
        )
        .await
        .unwrap();
    products
        .delete_one(doc! { "slug": "temple-bell-ghanti" })
        .await
        .unwrap();
    app.seed().await;
    let urli = products
        .find_one(doc! { "slug": "kuber-brass-urli" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(crate::support::stock_of(&urli), 3);
    assert_eq!(urli.get_i64("price").unwrap(), 199_900);
    let first = app
        .db()
        .collection::<Document>("coupons")
        .find_one(doc! { "code": "FIRST1" })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.get_i64("usedCount").unwrap(), 1);
    assert_eq!(first.get_i64("value").unwrap(), 5_000);
    let bell = products
        .find_one(doc! { "slug": "temple-bell-ghanti" })
        .await
        .unwrap()
        .expect("a missing demo product is created again");
    assert_eq!(bell.get_str("hsn").unwrap(), "8306");
}

#[tokio::test]
async fn every_seeded_product_has_an_hsn_a_gst_rate_and_a_ledger_matching_its_stock() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let res = app
        .get("/admin/products?limit=100", Some(&app.admin_token()))
        .await;
    let items = res.ok()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 12, "inactive products are listed too");
    for p in items {
        assert!(
            ["7418", "7419", "8306", "9405"].contains(&p["hsn"].as_str().unwrap()),
            "{p}"
        );
        assert!(p["gstRate"].is_i64(), "{p}");
        assert_eq!(
            ledger_sum(&app, p["id"].as_str().unwrap()).await,
            p["stock"].as_i64().unwrap(),
            "{p}"
        );
    }
}

#[tokio::test]
async fn products_stored_before_the_ledger_get_one_opening_entry() {
    let app = TestApp::spawn().await;
    let t = mongodb::bson::DateTime::now();
    let old = mongodb::bson::oid::ObjectId::new();
    let touched = mongodb::bson::oid::ObjectId::new();
    app.db()
        .collection::<Document>("products")
        .insert_many([
            doc! { "_id": old, "name": "Old Lota", "slug": "old-lota", "price": 49_900_i64, "stock": 7_i64, "isActive": true, "createdAt": t, "updatedAt": t },
            // Sold 2 after the ledger shipped, before its ledger was opened: 7 before that.
            doc! { "_id": touched, "name": "Old Urli", "slug": "old-urli", "price": 99_900_i64, "stock": 5_i32, "isActive": true, "createdAt": t, "updatedAt": t },
        ])
        .await
        .unwrap();
    app.db()
        .collection::<Document>("stock_movements")
        .insert_one(doc! { "productId": touched, "delta": -2_i64, "reason": "checkout", "by": "user_x", "at": t, "stockAfter": 5_i64 })
        .await
        .unwrap();
    let res = app
        .invoke_admin(json!({ "action": "openStockLedgers" }))
        .await;
    assert_eq!(res, json!({ "ok": true, "opened": 2 }));
    assert_eq!(ledger_sum(&app, &old.to_hex()).await, 7);
    assert_eq!(ledger_sum(&app, &touched.to_hex()).await, 5);
    let again = app
        .invoke_admin(json!({ "action": "openStockLedgers" }))
        .await;
    assert_eq!(again["opened"], 0, "{again}");
    let extra = app
        .invoke_admin(json!({ "action": "openStockLedgers", "all": true }))
        .await;
    assert_eq!(extra["error"]["code"], "VALIDATION_FAILED");
}
