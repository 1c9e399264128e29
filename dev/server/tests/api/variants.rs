//! Products with variants over HTTP: the owner creates and changes them, shoppers see and
//! buy them, stock and its ledger move per variant, and a product stored before variants
//! keeps selling.

use crate::orders::{create, fill_cart, order_body};
use crate::support::{Resp, TestApp};
use futures::future::join_all;
use futures::TryStreamExt;
use mongodb::bson::oid::ObjectId;
use mongodb::bson::{doc, Document};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;

/// Kuber Brass Urli in two sizes and two finishes; the small antique one is not sold.
fn urli() -> Value {
    json!({
        "name": "Kuber Brass Urli", "slug": "kuber-urli", "hsn": "74181022", "gstRate": 1200,
        "options": [
            { "name": "Size", "values": ["6 in", "8 in"] },
            { "name": "Finish", "values": ["Polished", "Antique"] },
        ],
        "variants": [
            { "sku": "URLI-6-POL", "options": { "Size": "6 in", "Finish": "Polished" },
              "price": 149_900, "stock": 10, "weightGrams": 900,
              "dimensionsCm": { "length": 16, "breadth": 16, "height": 6 } },
            { "sku": "URLI-6-ANT", "options": { "Size": "6 in", "Finish": "Antique" },
              "price": 119_900, "stock": 4, "isActive": false },
            { "sku": "URLI-8-POL", "options": { "Size": "8 in", "Finish": "Polished" },
              "price": 249_900, "stock": 100 },
            { "sku": "URLI-8-ANT", "options": { "Size": "8 in", "Finish": "Antique" },
              "price": 269_900, "compareAtPrice": 299_900, "stock": 3 },
        ],
    })
}

async fn create_product(app: &TestApp, body: Value) -> Resp {
    app.post("/admin/products", Some(&app.admin_token()), body)
        .await
}

async fn created(app: &TestApp, body: Value) -> Value {
    let res = create_product(app, body).await;
    assert_eq!(res.status, 201, "{}", res.body);
    res.body
}

fn variant_by_sku<'a>(product: &'a Value, sku: &str) -> &'a Value {
    product["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["sku"] == sku)
        .unwrap_or_else(|| panic!("no {sku} in {product}"))
}

fn fields(res: &Resp) -> Vec<String> {
    res.problem(400, "VALIDATION_FAILED")["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn all(app: &TestApp, collection: &str, filter: Document) -> Vec<Document> {
    app.db()
        .collection::<Document>(collection)
        .find(filter)
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap()
}

/// Each variant's stock, and its ledger's sum, by variant id.
async fn stock_and_ledger(app: &TestApp, product: ObjectId) -> HashMap<String, (i64, i64)> {
    let p = app
        .db()
        .collection::<common::shop::catalog::Product>("products")
        .find_one(doc! { "_id": product })
        .await
        .unwrap()
        .unwrap();
    let entries = all(app, "stock_movements", doc! { "productId": product }).await;
    p.variants()
        .iter()
        .map(|v| {
            let sum = entries
                .iter()
                .filter(|e| e.get_object_id("variantId").unwrap_or(product) == v.id.oid())
                .map(|e| e.get_i64("delta").unwrap())
                .sum();
            (v.id.to_hex(), (v.stock, sum))
        })
        .collect()
}

fn oid(v: &Value) -> ObjectId {
    ObjectId::parse_str(v.as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_product_with_two_options_and_four_variants_is_read_publicly_without_its_inactive_variant(
) {
    let app = TestApp::spawn().await;
    let owner = created(&app, urli()).await;
    assert_eq!(owner["variants"].as_array().unwrap().len(), 4);
    let antique = variant_by_sku(&owner, "URLI-8-ANT");
    assert_eq!(antique["title"], "8 in / Antique");
    assert_eq!(
        antique["options"],
        json!({ "Size": "8 in", "Finish": "Antique" })
    );
    assert_eq!(antique["compareAtPrice"], 299_900);
    assert_eq!(variant_by_sku(&owner, "URLI-6-POL")["weightGrams"], 900);

    let public = app.get("/products/kuber-urli", None).await;
    let p = public.ok();
    let skus: Vec<&str> = p["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["URLI-6-POL", "URLI-8-POL", "URLI-8-ANT"]);
    assert_eq!(p["priceRange"], json!({ "min": 149_900, "max": 269_900 }));
    assert_eq!(p["price"], 149_900);
    assert_eq!(
        p["stock"], 113,
        "the inactive variant's units are not for sale"
    );
    assert_eq!(p["options"][1]["values"], json!(["Polished", "Antique"]));

    // Stored without a top-level stock (a Lambda of the previous release finds none to
    // take), with the lowest active price beside the variants.
    let stored = &all(&app, "products", doc! { "slug": "kuber-urli" }).await[0];
    assert!(stored.get("stock").is_none(), "{stored}");
    assert_eq!(stored.get_i64("price").unwrap(), 149_900);

    // A product whose every variant is inactive is not listed.
    for v in owner["variants"].as_array().unwrap() {
        let path = format!(
            "/admin/products/{}/variants/{}",
            owner["id"].as_str().unwrap(),
            v["id"].as_str().unwrap()
        );
        app.call(
            Method::PATCH,
            &path,
            Some(&app.admin_token()),
            Some(json!({ "isActive": false })),
        )
        .await
        .ok();
    }
    app.get("/products/kuber-urli", None)
        .await
        .problem(404, "PRODUCT_NOT_FOUND");
    assert_eq!(app.get("/products", None).await.ok()["items"], json!([]));
}

#[tokio::test]
async fn every_bad_option_and_variant_is_named_at_once_and_nothing_is_created() {
    let app = TestApp::spawn().await;
    let mut bad = urli();
    bad["options"] = json!([
        { "name": "Size", "values": ["6 in", "6 in"] },
        { "name": "Size", "values": [] },
        { "name": "Finish", "values": ["Polished"] },
        { "name": "Weight", "values": ["1 kg"] },
    ]);
    let res = create_product(&app, bad).await;
    let named = fields(&res);
    for f in [
        "options",
        "options[0].values[1]",
        "options[1].name",
        "options[1].values",
    ] {
        assert!(named.contains(&f.to_owned()), "{f} missing from {named:?}");
    }

    let mut bad = urli();
    let v = bad["variants"].as_array_mut().unwrap();
    v[0]["sku"] = json!("URLI 6?");
    v[0]["price"] = json!(99);
    v[1]["options"] = json!({ "Size": "6 in" });
    v[2]["options"] = json!({ "Size": "10 in", "Finish": "Polished", "Colour": "Gold" });
    v[3]["compareAtPrice"] = json!(100_000);
    v[3]["weightGrams"] = json!(0);
    v[3]["dimensionsCm"] = json!({ "length": 501, "breadth": 1, "height": 1 });
    let res = create_product(&app, bad).await;
    let named = fields(&res);
    for f in [
        "variants[0].sku",
        "variants[0].price",
        "variants[1].options.Finish",
        "variants[2].options.Size",
        "variants[2].options.Colour",
        "variants[3].compareAtPrice",
        "variants[3].weightGrams",
        "variants[3].dimensionsCm",
    ] {
        assert!(named.contains(&f.to_owned()), "{f} missing from {named:?}");
    }

    let mut twins = urli();
    twins["variants"][1]["options"] = json!({ "Size": "6 in", "Finish": "Polished" });
    twins["variants"][2]["sku"] = json!("URLI-6-POL");
    let named = fields(&create_product(&app, twins).await);
    assert_eq!(named, ["variants[1].options", "variants[2].sku"]);

    let mut missing = urli();
    missing.as_object_mut().unwrap().remove("variants");
    assert_eq!(fields(&create_product(&app, missing).await), ["variants"]);

    assert_eq!(app.count("products").await, 0, "nothing was created");
    assert_eq!(app.count("stock_movements").await, 0);
}

#[tokio::test]
async fn a_sku_is_unique_across_the_catalog_and_a_taken_one_changes_nothing() {
    let app = TestApp::spawn().await;
    let first = created(&app, urli()).await;
    let mut other = urli();
    other["slug"] = json!("kuber-urli-two");
    let res = create_product(&app, other).await;
    let p = res.problem(409, "SKU_TAKEN");
    assert_eq!(p["skus"].as_array().unwrap().len(), 4, "{p}");
    assert_eq!(app.count("products").await, 1);

    // Taking another product's SKU by adding or patching a variant is refused too.
    let diya = created(
        &app,
        json!({ "name": "Brass Diya", "slug": "brass-diya", "price": 29_900, "stock": 5,
                "sku": "DIYA-1", "hsn": "7419", "gstRate": 1200 }),
    )
    .await;
    assert_eq!(diya["variants"][0]["sku"], "DIYA-1");
    let id = first["id"].as_str().unwrap();
    let vid = variant_by_sku(&first, "URLI-8-POL")["id"].as_str().unwrap();
    let res = app
        .call(
            Method::PATCH,
            &format!("/admin/products/{id}/variants/{vid}"),
            Some(&app.admin_token()),
            Some(json!({ "sku": "DIYA-1" })),
        )
        .await;
    res.problem(409, "SKU_TAKEN");
    let stored = app.get("/products/kuber-urli", None).await;
    assert_eq!(variant_by_sku(stored.ok(), "URLI-8-POL")["id"], vid);
}

#[tokio::test]
async fn the_owner_adds_a_variant_changes_one_and_moves_its_stock_with_the_ledger() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token();
    let p = created(&app, urli()).await;
    let id = p["id"].as_str().unwrap().to_owned();

    // A new value, then a variant that uses it, with its initial stock as a ledger entry.
    let res = app
        .call(
            Method::PATCH,
            &format!("/admin/products/{id}"),
            Some(&admin),
            Some(json!({ "options": [
                { "name": "Size", "values": ["6 in", "8 in", "10 in"] },
                { "name": "Finish", "values": ["Polished", "Antique"] },
            ], "codAllowed": false })),
        )
        .await;
    assert_eq!(res.ok()["codAllowed"], false);
    let removing = app
        .call(
            Method::PATCH,
            &format!("/admin/products/{id}"),
            Some(&admin),
            Some(json!({ "options": [
                { "name": "Size", "values": ["6 in"] },
                { "name": "Finish", "values": ["Polished", "Antique"] },
            ] })),
        )
        .await;
    assert_eq!(fields(&removing), ["options[0].values"]);
    let price = app
        .call(
            Method::PATCH,
            &format!("/admin/products/{id}"),
            Some(&admin),
            Some(json!({ "price": 100_000 })),
        )
        .await;
    let message = price.problem(400, "VALIDATION_FAILED")["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("/variants/{variantId}"), "{message}");

    let added = app
        .post(
            &format!("/admin/products/{id}/variants"),
            Some(&admin),
            json!({ "sku": "URLI-10-POL", "options": { "Size": "10 in", "Finish": "Polished" },
                    "price": 399_900, "stock": 2 }),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.body);
    let ten = variant_by_sku(&added.body, "URLI-10-POL").clone();
    assert_eq!(ten["title"], "10 in / Polished");
    assert_eq!(ten["stock"], 2);
    let again = app
        .post(
            &format!("/admin/products/{id}/variants"),
            Some(&admin),
            json!({ "options": { "Size": "10 in", "Finish": "Polished" }, "price": 399_900, "stock": 2 }),
        )
        .await;
    assert_eq!(fields(&again), ["options"]);

    let vid = ten["id"].as_str().unwrap();
    let path = format!("/admin/products/{id}/variants/{vid}");
    let res = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({ "stock": 9, "price": 50 })),
        )
        .await;
    let errors = res.problem(400, "VALIDATION_FAILED")["errors"].clone();
    assert_eq!(errors[0]["field"], "stock");
    assert!(errors[0]["message"].as_str().unwrap().contains("/stock"));
    assert_eq!(errors[1]["field"], "price");
    let res = app
        .call(
            Method::PATCH,
            &path,
            Some(&admin),
            Some(json!({ "price": 379_900, "sku": "URLI-10" })),
        )
        .await;
    assert_eq!(variant_by_sku(res.ok(), "URLI-10")["price"], 379_900);

    let moved = app
        .post(
            &format!("{path}/stock"),
            Some(&admin),
            json!({ "delta": 5, "reason": "new batch" }),
        )
        .await;
    assert_eq!(moved.ok()["movement"]["variantId"], vid);
    assert_eq!(moved.body["movement"]["sku"], "URLI-10");
    assert_eq!(moved.body["movement"]["stockAfter"], 7);
    // The product's own stock route needs a variant when there are several.
    app.post(
        &format!("/admin/products/{id}/stock"),
        Some(&admin),
        json!({ "delta": 1, "reason": "found one" }),
    )
    .await
    .problem(422, "VARIANT_REQUIRED");

    let ledger = app
        .get(
            &format!("/admin/products/{id}/stock-movements?variantId={vid}"),
            Some(&admin),
        )
        .await;
    let deltas: Vec<i64> = ledger.ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["delta"].as_i64().unwrap())
        .collect();
    assert_eq!(deltas, [5, 2]);
    for (variant, (stock, sum)) in stock_and_ledger(&app, oid(&p["id"])).await {
        assert_eq!(stock, sum, "variant {variant}");
    }
}

#[tokio::test]
async fn buyers_racing_for_two_variants_of_one_product_each_get_exactly_its_stock() {
    let app = TestApp::spawn().await;
    let mut body = urli();
    body["variants"][0]["stock"] = json!(10);
    body["variants"][2]["stock"] = json!(100);
    let p = created(&app, body).await;
    let a = oid(&variant_by_sku(&p, "URLI-6-POL")["id"]);
    let b = oid(&variant_by_sku(&p, "URLI-8-POL")["id"]);
    let a_users: Vec<String> = (0..50).map(|i| format!("user_a_{i:02}")).collect();
    let b_users: Vec<String> = (0..10).map(|i| format!("user_b_{i:02}")).collect();
    for u in &a_users {
        fill_cart(&app, u, &[(a, 1)]).await;
    }
    for u in &b_users {
        fill_cart(&app, u, &[(b, 1)]).await;
    }
    let everyone: Vec<&String> = a_users.iter().chain(&b_users).collect();
    let results = join_all(everyone.iter().map(|u| create(&app, u, order_body(), None))).await;
    let (a_results, b_results) = results.split_at(a_users.len());
    assert_eq!(a_results.iter().filter(|r| r.status == 201).count(), 10);
    assert!(
        b_results.iter().all(|r| r.status == 201),
        "every B buyer is served"
    );
    for r in a_results.iter().filter(|r| r.status != 201) {
        let line = &r.problem(409, "INSUFFICIENT_STOCK")["lines"][0];
        assert_eq!(line["variantId"], a.to_hex());
        assert_eq!(line["name"], "Kuber Brass Urli — 6 in / Polished");
        assert_eq!(line["available"], 0);
    }
    let stocks = stock_and_ledger(&app, oid(&p["id"])).await;
    assert_eq!(stocks[&a.to_hex()], (0, 0));
    assert_eq!(stocks[&b.to_hex()], (90, 90));
    for (stock, sum) in stocks.values() {
        assert_eq!(stock, sum, "each variant's ledger sums to its stock");
    }
}

#[tokio::test]
async fn a_cart_names_the_variant_and_a_product_with_several_needs_one() {
    let app = TestApp::spawn().await;
    let p = created(&app, urli()).await;
    let token = app.token("user_cart_v");
    app.post(
        "/cart/add",
        Some(&token),
        json!({ "productId": p["id"], "quantity": 1 }),
    )
    .await
    .problem(422, "VARIANT_REQUIRED");
    let antique = variant_by_sku(&p, "URLI-8-ANT");
    let cart = app
        .post(
            "/cart/add",
            Some(&token),
            json!({ "variantId": antique["id"], "quantity": 2 }),
        )
        .await;
    let line = &cart.ok()["items"][0];
    assert_eq!(line["variantId"], antique["id"]);
    assert_eq!(line["sku"], "URLI-8-ANT");
    assert_eq!(line["variantTitle"], "8 in / Antique");
    assert_eq!(line["price"], 269_900);
    let res = app
        .post(
            "/cart/add",
            Some(&token),
            json!({ "variantId": antique["id"], "quantity": 2 }),
        )
        .await;
    assert_eq!(
        res.problem(409, "INSUFFICIENT_STOCK")["detail"],
        "Only 3 of 'Kuber Brass Urli — 8 in / Antique' left"
    );
    // The inactive variant is not for sale.
    app.post(
        "/cart/add",
        Some(&token),
        json!({ "variantId": variant_by_sku(&p, "URLI-6-ANT")["id"], "quantity": 1 }),
    )
    .await
    .problem(404, "PRODUCT_NOT_FOUND");
    // With one line of the product in the cart, the product names it.
    let cart = app
        .post(
            "/cart/update",
            Some(&token),
            json!({ "productId": p["id"], "quantity": 3 }),
        )
        .await;
    assert_eq!(cart.ok()["items"][0]["quantity"], 3);
    let cart = app
        .post(
            "/cart/remove",
            Some(&token),
            json!({ "variantId": antique["id"] }),
        )
        .await;
    assert_eq!(cart.ok()["items"], json!([]));
}

#[tokio::test]
async fn an_order_names_its_variant_and_cancelling_returns_the_units_to_it() {
    let app = TestApp::spawn().await;
    let p = created(&app, urli()).await;
    let antique = oid(&variant_by_sku(&p, "URLI-8-ANT")["id"]);
    let polished = oid(&variant_by_sku(&p, "URLI-8-POL")["id"]);
    fill_cart(&app, "user_v_order", &[(antique, 2), (polished, 1)]).await;
    let order = create(&app, "user_v_order", order_body(), None).await;
    let item = &order.ok()["items"][0];
    assert_eq!(item["variantId"], antique.to_hex());
    assert_eq!(item["sku"], "URLI-8-ANT");
    assert_eq!(item["name"], "Kuber Brass Urli");
    assert_eq!(item["variantTitle"], "8 in / Antique");
    assert_eq!(item["price"], 269_900);
    let stocks = stock_and_ledger(&app, oid(&p["id"])).await;
    assert_eq!(stocks[&antique.to_hex()], (1, 1));
    assert_eq!(stocks[&polished.to_hex()], (99, 99));

    let id = order.body["id"].as_str().unwrap();
    app.post(
        &format!("/admin/orders/{id}/cancel"),
        Some(&app.admin_token()),
        json!({ "reason": "customer asked" }),
    )
    .await
    .ok();
    let stocks = stock_and_ledger(&app, oid(&p["id"])).await;
    assert_eq!(stocks[&antique.to_hex()], (3, 3));
    assert_eq!(stocks[&polished.to_hex()], (100, 100));
}

#[tokio::test]
async fn a_product_stored_before_variants_is_added_by_product_id_and_bought() {
    let app = TestApp::spawn().await;
    let id = ObjectId::new();
    let t = mongodb::bson::DateTime::now();
    app.db()
        .collection::<Document>("products")
        .insert_one(doc! {
            "_id": id, "name": "Old Lota", "slug": "old-lota", "description": "", "price": 49_900_i32,
            "images": [], "stock": 3_i32, "isActive": true, "hsn": "7418", "gstRate": 500_i32,
            "createdAt": t, "updatedAt": t,
        })
        .await
        .unwrap();
    let shown = app.get("/products/old-lota", None).await;
    assert_eq!(shown.ok()["variants"][0]["id"], id.to_hex());
    let token = app.token("user_legacy");
    let cart = app
        .post(
            "/cart/add",
            Some(&token),
            json!({ "productId": id.to_hex(), "quantity": 2 }),
        )
        .await;
    assert_eq!(cart.ok()["items"][0]["variantId"], id.to_hex());
    let order = create(&app, "user_legacy", order_body(), None).await;
    assert_eq!(order.ok()["items"][0]["variantId"], id.to_hex());

    let stored = &all(&app, "products", doc! { "_id": id }).await[0];
    assert_eq!(crate::support::stock_of(stored), 1);
    assert!(
        stored.get("variants").is_none(),
        "the document keeps its old shape"
    );
    let entry = &all(&app, "stock_movements", doc! { "productId": id }).await[0];
    assert_eq!(entry.get_object_id("variantId").unwrap(), id);
    assert_eq!(entry.get_i64("delta").unwrap(), -2);
}

#[tokio::test]
async fn a_refund_of_lines_names_the_variant_when_the_order_holds_several_of_the_product() {
    let (app, sim) = crate::payments::app_with_sim().await;
    let p = created(&app, urli()).await;
    let antique = oid(&variant_by_sku(&p, "URLI-8-ANT")["id"]);
    let polished = oid(&variant_by_sku(&p, "URLI-8-POL")["id"]);
    let (id, _) = crate::owner_refunds::paid(
        &app,
        &sim,
        "user_v_refund",
        &[(antique, 1), (polished, 1)],
        None,
    )
    .await;
    let refund = |line: Value| {
        let app = &app;
        let id = id.clone();
        async move {
            app.post(
                &format!("/admin/orders/{id}/refund"),
                Some(&app.admin_token()),
                json!({ "lines": [line], "restock": true, "reason": "dented" }),
            )
            .await
        }
    };
    // The product alone is ambiguous on this order; nothing is refunded or restocked.
    refund(json!({ "productId": p["id"], "quantity": 1 }))
        .await
        .problem(422, "VARIANT_REQUIRED");
    let res =
        refund(json!({ "productId": p["id"], "variantId": antique.to_hex(), "quantity": 1 })).await;
    let line = &res.ok()["refunds"][0]["lines"][0];
    assert_eq!(line["variantId"], antique.to_hex());
    assert_eq!(res.body["refunds"][0]["amount"], 269_900);
    let stocks = stock_and_ledger(&app, oid(&p["id"])).await;
    assert_eq!(
        stocks[&antique.to_hex()],
        (3, 3),
        "the dented urli is back on its shelf"
    );
    assert_eq!(stocks[&polished.to_hex()], (99, 99));
}
