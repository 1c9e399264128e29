use crate::support::TestApp;
use mongodb::bson::doc;
use serde_json::json;

#[tokio::test]
async fn catalog_lists_only_active_products_newest_first() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let res = app.get("/products?limit=100", None).await;
    let items = res.ok()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 11, "the inactive demo product is hidden");
    assert!(items.iter().all(|p| p["isActive"] == true));
    assert!(items
        .iter()
        .all(|p| p["price"].is_i64() && p["id"].as_str().unwrap().len() == 24));
    assert_eq!(res.body["nextCursor"], json!(null));
    let first = &items[0];
    for field in [
        "id",
        "name",
        "slug",
        "description",
        "price",
        "images",
        "stock",
        "isActive",
        "createdAt",
        "updatedAt",
    ] {
        assert!(first.get(field).is_some(), "missing {field}");
    }
}

/// Found by review: the contract's Product carries its HSN code and GST rate, which a
/// storefront needs to show "incl. 12 % GST", but only the owner's answers had them.
#[tokio::test]
async fn public_products_carry_their_hsn_code_and_gst_rate() {
    let app = TestApp::spawn().await;
    let res = app
        .invoke_admin(json!({ "action": "upsertProduct", "product": {
            "name": "Brass Urli", "slug": "brass-urli", "price": 249_900, "stock": 5,
            "hsn": "74181022", "gstRate": 1200,
        }}))
        .await;
    assert_eq!(res["ok"], true, "{res}");
    let one = app.get("/products/brass-urli", None).await;
    assert_eq!(one.ok()["hsn"], "74181022");
    assert_eq!(one.body["gstRate"], 1200);
    let list = app.get("/products", None).await;
    let first = &list.ok()["items"][0];
    assert_eq!(first["hsn"], "74181022");
    assert_eq!(first["gstRate"], 1200);
}

#[tokio::test]
async fn pagination_walks_every_product_once() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/products?limit=4&cursor={c}"),
            None => "/products?limit=4".into(),
        };
        let res = app.get(&path, None).await;
        let body = res.ok();
        for p in body["items"].as_array().unwrap() {
            seen.push(p["slug"].as_str().unwrap().to_owned());
        }
        match body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(seen.len(), 11);
    assert_eq!(unique.len(), 11);
}

#[tokio::test]
async fn bad_list_parameters_are_validation_errors() {
    let app = TestApp::spawn().await;
    for q in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "cursor=%%%",
        "cursor=bm90LWFuLWlk",
        "sort=price",
    ] {
        let res = app.get(&format!("/products?{q}"), None).await;
        let body = res.problem(400, "VALIDATION_FAILED");
        assert!(
            body["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "{q}: {body}"
        );
    }
}

#[tokio::test]
async fn product_by_slug_and_the_ones_that_do_not_exist() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let res = app.get("/products/kuber-brass-urli", None).await;
    assert_eq!(res.ok()["price"], 249_900);
    app.get("/products/vintage-brass-hookah", None)
        .await
        .problem(404, "PRODUCT_NOT_FOUND");
    app.get("/products/no-such-thing", None)
        .await
        .problem(404, "PRODUCT_NOT_FOUND");
    for tricky in [
        "kuber%E2%80%8Bbrass-urli",
        "KUBER-BRASS-URLI",
        "%7B%22%24ne%22%3A1%7D",
        "k%C3%BAber",
    ] {
        app.get(&format!("/products/{tricky}"), None)
            .await
            .problem(404, "PRODUCT_NOT_FOUND");
    }
}

#[tokio::test]
async fn products_seeded_directly_in_mongodb_are_served() {
    // The acceptance checks seed with plain inserts (Int32 numbers, BSON dates).
    let app = TestApp::spawn().await;
    app.db()
        .collection::<mongodb::bson::Document>("products")
        .insert_one(doc! {
            "name": "Brass Lota", "slug": "brass-lota", "description": "", "price": 49_900_i32,
            "images": [], "stock": 3_i32, "isActive": true,
            "createdAt": mongodb::bson::DateTime::now(), "updatedAt": mongodb::bson::DateTime::now(),
        })
        .await
        .unwrap();
    let res = app.get("/products/brass-lota", None).await;
    assert_eq!(res.ok()["price"], 49_900);
    assert_eq!(res.body["stock"], 3);
}

#[tokio::test]
async fn health_answers_once_the_database_does() {
    let app = TestApp::spawn().await;
    let res = app.get("/health", None).await;
    assert_eq!(res.ok(), &json!({ "status": "ok" }));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = TestApp::spawn().await;
    let res = app
        .http
        .get(format!("{}/products", app.base))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "abc-123");
    let res = app.get("/nope", None).await;
    let generated = res.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(
        res.problem(404, "ROUTE_NOT_FOUND")["requestId"],
        generated.as_str()
    );
    // A hostile id is replaced, not echoed.
    let res = app
        .http
        .get(format!("{}/health", app.base))
        .header("x-request-id", "<script>")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "<script>");
}

#[tokio::test]
async fn wrong_method_is_a_problem_document() {
    let app = TestApp::spawn().await;
    app.call(reqwest::Method::DELETE, "/products", None, None)
        .await
        .problem(405, "METHOD_NOT_ALLOWED");
}
