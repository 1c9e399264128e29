//! What a body must be to be read: JSON by its declared type, and one JSON document only.

use crate::cart::{product_id, stored_cart};
use crate::routes::template_routes;
use crate::support::{sign, spec, Resp, TestApp};
use dev_server::token::TokenSpec;
use mongodb::bson::oid::ObjectId;
use reqwest::Method;
use std::sync::atomic::{AtomicUsize, Ordering};

const WEBHOOK: &str = "/payments/phonepe/webhook";
/// Reads a Shopify export as `text/csv` (its own tests refuse JSON there with 415).
const SHOPIFY_IMPORT: &str = "/admin/imports/shopify-products";

/// Every route of the template that reads a JSON body (all but the webhook, which reads
/// PhonePe's, and the Shopify import, which reads CSV), with a fresh id in each path
/// parameter.
fn body_routes() -> Vec<(Method, String)> {
    template_routes()
        .into_iter()
        .filter(|(_, m, p)| {
            matches!(m.as_str(), "POST" | "PATCH" | "PUT") && p != WEBHOOK && p != SHOPIFY_IMPORT
        })
        .map(|(_, m, p)| {
            let path = p
                .split('/')
                .map(|seg| {
                    if seg.starts_with('{') {
                        ObjectId::new().to_hex()
                    } else {
                        seg.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            (Method::from_bytes(m.as_bytes()).unwrap(), path)
        })
        .collect()
}

/// An admin no other request has used, so per-user rate limits never answer first.
fn fresh_admin() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let user = format!("user_bodies_admin_{}", N.fetch_add(1, Ordering::SeqCst));
    sign(&TokenSpec {
        admin: true,
        ..spec(&user)
    })
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: &str,
) -> Resp {
    let mut req = app
        .http
        .request(method, format!("{}{}", app.base, path))
        .bearer_auth(token)
        .body(body.to_owned());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    TestApp::read(req.send().await.expect("request")).await
}

/// Sends each (content type, body) to every body route, as a fresh admin, and expects the
/// same problem from all of them.
async fn refused_on_every_route(cases: &[(&str, &str)], status: u16, code: &str) {
    let app = TestApp::spawn().await;
    let routes = body_routes();
    assert!(routes.len() >= 8, "too few body routes found: {routes:?}");
    for (method, path) in routes {
        for (ct, body) in cases {
            let res = send(&app, method.clone(), &path, &fresh_admin(), Some(ct), body).await;
            assert_eq!(
                res.status.as_u16(),
                status,
                "{method} {path} as {ct}, {body}: {}",
                res.body
            );
            res.problem(status, code);
        }
    }
}

#[tokio::test]
async fn a_body_declared_as_anything_but_json_is_refused_with_415_on_every_route() {
    let types = [
        "text/plain",
        "text/plain; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "text/json",
    ];
    let cases: Vec<(&str, &str)> = types.iter().map(|ct| (*ct, "{}")).collect();
    refused_on_every_route(&cases, 415, "UNSUPPORTED_MEDIA_TYPE").await;
}

#[tokio::test]
async fn json_followed_by_trailing_data_is_invalid_json_on_every_route() {
    let cases = [r#"{}{"quantity":10}"#, "{} []", "{}x"].map(|b| ("application/json", b));
    refused_on_every_route(&cases, 400, "INVALID_JSON").await;
}

#[tokio::test]
async fn a_refused_body_changes_nothing_and_json_in_any_spelling_is_read() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let user = "user_bodies_shopper";
    let token = app.token(user);
    let product = product_id(&app, "kuber-brass-urli").await;
    let one = format!(r#"{{"productId":"{product}","quantity":1}}"#);
    send(
        &app,
        Method::POST,
        "/cart/add",
        &token,
        Some("text/plain"),
        &one,
    )
    .await
    .problem(415, "UNSUPPORTED_MEDIA_TYPE");
    let trailing = format!(r#"{one}{{"quantity":10}}"#);
    send(
        &app,
        Method::POST,
        "/cart/add",
        &token,
        Some("application/json"),
        &trailing,
    )
    .await
    .problem(400, "INVALID_JSON");
    assert_eq!(
        stored_cart(&app, user).await,
        None,
        "a refused body wrote a cart"
    );

    // A missing type is read as JSON: API Gateway may drop the header.
    for ct in [
        None,
        Some("application/json"),
        Some("Application/JSON; charset=UTF-8"),
        Some("application/merge-patch+json"),
    ] {
        let res = send(
            &app,
            Method::POST,
            "/cart/add",
            &token,
            ct,
            &format!("{one}\n"),
        )
        .await;
        res.ok();
    }
    let cart = stored_cart(&app, user).await.expect("cart");
    let items = cart.get_array("items").unwrap();
    let quantity = items[0].as_document().unwrap().get("quantity").unwrap();
    assert_eq!(
        quantity.as_i64().or(quantity.as_i32().map(i64::from)),
        Some(4)
    );
}
