//! The security suite: every route against every kind of caller (the route list is the one
//! the dev server and `routes.rs` use, so a new route cannot escape the matrix), forged and
//! replayed webhooks, NoSQL-operator payloads in every untrusted string, and bodies that
//! are too big or too deep. Every cell asserts the exact status and problem `code`.

use crate::orders::{fill_cart, order_body, product};
use crate::payments::{app_with_sim, initiate_mid, insert_order, mails, order_doc};
use crate::support::{
    spec, Resp, TestApp, ISSUER, KID, OTHER_PRIVATE_PEM, PRIVATE_PEM, PUBLIC_PEM,
};
use base64::Engine;
use common::platform::http::MAX_BODY_BYTES;
use common::shop::order::model::ORDERS;
use dev_server::token;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mongodb::bson::{doc, oid::ObjectId, Document};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

const ALICE: &str = "user_alice_sec";
const BOB: &str = "user_bob_sec";
const SLUG: &str = "security-brass-urli";

// ---------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------

/// Sends raw bytes, so bodies can be exactly as large, deep or broken as a test needs.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    authorization: Option<&str>,
    body: Option<Vec<u8>>,
) -> Resp {
    let mut req = app.http.request(method, format!("{}{}", app.base, path));
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    TestApp::read(req.send().await.expect("request")).await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// Percent-encodes everything but unreserved characters, so operators reach the router as
/// the literal path segment or query value an attacker would send.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A fresh user per case, so per-user rate limits never decide a cell.
fn fresh_user(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{prefix}_{}", N.fetch_add(1, Ordering::SeqCst))
}

#[track_caller]
fn assert_success(res: &Resp, status: u16) {
    assert_eq!(res.status.as_u16(), status, "body: {}", res.body);
    assert_eq!(
        res.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json"),
        "body: {}",
        res.body
    );
}

/// `Resp::problem`, saying which of many cases failed.
#[track_caller]
fn refused(res: &Resp, status: u16, code: &str, case: &str) {
    assert_eq!(
        (res.status.as_u16(), res.body["code"].as_str()),
        (status, Some(code)),
        "{case}: {}",
        res.body
    );
    res.problem(status, code);
}

/// The fields a `VALIDATION_FAILED` problem names.
#[track_caller]
fn invalid_fields(res: &Resp) -> Vec<String> {
    res.problem(400, "VALIDATION_FAILED")["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn set_status(app: &TestApp, id: ObjectId, status: &str) {
    let paid = matches!(status, "paid" | "packed" | "shipped" | "delivered");
    app.db()
        .collection::<Document>(ORDERS)
        .update_one(
            doc! { "_id": id },
            doc! { "$set": {
                "status": status,
                "payment.status": if paid { "paid" } else { "pending" },
            } },
        )
        .await
        .unwrap();
}

async fn order_in(app: &TestApp, user: &str, status: &str) -> ObjectId {
    let id = insert_order(app, user, 100_000).await;
    set_status(app, id, status).await;
    id
}

async fn status_of(app: &TestApp, id: ObjectId) -> String {
    order_doc(app, id)
        .await
        .get_str("status")
        .unwrap()
        .to_owned()
}

// ---------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn alice_claims() -> Value {
    token::claims(&spec(ALICE))
}

fn signed(claims: &Value) -> String {
    token::sign(PRIVATE_PEM.as_bytes(), KID, claims).unwrap()
}

fn with_claims(edit: impl FnOnce(&mut Value)) -> String {
    let mut c = alice_claims();
    edit(&mut c);
    signed(&c)
}

/// Signs `header.claims` with the real private key exactly as given, so only the header's
/// own lie is what the verifier has to catch.
fn signed_raw(header: &Value, claims: &Value, alg: Algorithm, pem: &str) -> String {
    let message = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).unwrap();
    format!("{message}.{sig}")
}

/// Every `Authorization` value that must not authenticate anyone, by name.
fn bad_credentials() -> Vec<(&'static str, Option<String>)> {
    let now = chrono::Utc::now().timestamp();
    let claims = alice_claims();
    let valid = signed(&claims);
    let valid_sig = valid.rsplit('.').next().unwrap().to_owned();
    let none_header = json!({ "alg": "none", "typ": "JWT" });
    let unsigned = format!(
        "{}.{}.",
        b64(none_header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let hs256 = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(KID.into());
        jsonwebtoken::encode(
            &h,
            &claims,
            &EncodingKey::from_secret(PUBLIC_PEM.as_bytes()),
        )
        .unwrap()
    };
    // Header says RS512, the signature is a genuine RS256 one over that very header.
    let alg_mismatch = signed_raw(
        &json!({ "alg": "RS512", "typ": "JWT", "kid": KID }),
        &claims,
        Algorithm::RS256,
        PRIVATE_PEM,
    );
    // Header says HS256 over a genuine RS256 signature: a verifier that trusted the header
    // would go looking for an HMAC key.
    let hs_header_rs_sig = signed_raw(
        &json!({ "alg": "HS256", "typ": "JWT", "kid": KID }),
        &claims,
        Algorithm::RS256,
        PRIVATE_PEM,
    );
    // The attacker ships their own public key in the header and signs with its private half.
    let embedded_jwk = signed_raw(
        &json!({ "alg": "RS256", "typ": "JWT", "kid": "../../../dev/null",
                 "jwk": { "kty": "RSA", "n": "attacker", "e": "AQAB" } }),
        &claims,
        Algorithm::RS256,
        OTHER_PRIVATE_PEM,
    );
    let mut tampered_claims = claims.clone();
    tampered_claims["sub"] = json!(BOB);
    let tampered = format!(
        "{}.{}.{}",
        valid.split('.').next().unwrap(),
        b64(tampered_claims.to_string().as_bytes()),
        valid_sig
    );
    vec![
        ("no Authorization header", None),
        ("empty bearer", Some("Bearer ".into())),
        ("garbage", Some(bearer("not-a-jwt"))),
        ("three garbage parts", Some(bearer("a.b.c"))),
        (
            "expired",
            Some(bearer(&with_claims(|c| c["exp"] = json!(now - 60)))),
        ),
        (
            "not yet valid",
            Some(bearer(&with_claims(|c| c["nbf"] = json!(now + 120)))),
        ),
        (
            "wrong issuer",
            Some(bearer(&with_claims(|c| {
                c["iss"] = json!("https://evil.clerk.accounts.dev")
            }))),
        ),
        (
            "wrong key",
            Some(bearer(
                &token::sign(OTHER_PRIVATE_PEM.as_bytes(), KID, &claims).unwrap(),
            )),
        ),
        ("alg none, no signature", Some(bearer(&unsigned))),
        (
            "alg none, real signature",
            Some(bearer(&format!("{unsigned}{valid_sig}"))),
        ),
        ("HS256 signed with the public key", Some(bearer(&hs256))),
        (
            "alg header RS512 over an RS256 signature",
            Some(bearer(&alg_mismatch)),
        ),
        (
            "alg header HS256 over an RS256 signature",
            Some(bearer(&hs_header_rs_sig)),
        ),
        ("embedded jwk and kid path", Some(bearer(&embedded_jwk))),
        (
            "claims swapped under a valid signature",
            Some(bearer(&tampered)),
        ),
        (
            "session pending",
            Some(bearer(&with_claims(|c| c["sts"] = json!("pending")))),
        ),
        (
            "valid token under the Basic scheme",
            Some(format!("Basic {valid}")),
        ),
    ]
}

// ---------------------------------------------------------------------------------------
// The route × caller matrix
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// No token needed; any token is ignored.
    Public,
    /// PhonePe's `Authorization: sha256(username:password)`, never a Clerk token.
    Webhook,
    Customer,
    Admin,
}

/// Every served route and who may call it. `every_route_is_in_the_security_matrix` keeps
/// this equal to `dev_server::all_routes()`.
const ACCESS: &[(&str, &str, Access)] = &[
    ("GET", "/products", Access::Public),
    ("GET", "/products/{slug}", Access::Public),
    ("GET", "/health", Access::Public),
    ("GET", "/cart", Access::Customer),
    ("POST", "/cart/add", Access::Customer),
    ("POST", "/cart/update", Access::Customer),
    ("POST", "/cart/remove", Access::Customer),
    ("DELETE", "/cart/clear", Access::Customer),
    ("POST", "/checkout/apply-coupon", Access::Customer),
    ("POST", "/orders/create", Access::Customer),
    ("GET", "/orders/my", Access::Customer),
    ("GET", "/orders/{id}", Access::Customer),
    ("GET", "/orders/{id}/invoice", Access::Customer),
    ("GET", "/orders/{id}/invoice.pdf", Access::Customer),
    ("POST", "/payments/phonepe/initiate", Access::Customer),
    ("POST", "/payments/phonepe/webhook", Access::Webhook),
    ("POST", "/admin/orders/{id}/ship", Access::Admin),
    ("POST", "/admin/orders/{id}/pack", Access::Admin),
    ("POST", "/admin/orders/{id}/deliver", Access::Admin),
    ("POST", "/admin/orders/{id}/cancel", Access::Admin),
    ("POST", "/admin/orders/{id}/refund", Access::Admin),
    ("POST", "/admin/orders/{id}/refund/preview", Access::Admin),
    ("GET", "/admin/orders", Access::Admin),
    ("GET", "/admin/orders/export.csv", Access::Admin),
    ("GET", "/admin/orders/{id}", Access::Admin),
    ("GET", "/admin/products", Access::Admin),
    ("POST", "/admin/products", Access::Admin),
    ("PATCH", "/admin/products/{id}", Access::Admin),
    ("POST", "/admin/products/{id}/stock", Access::Admin),
    ("POST", "/admin/products/{id}/variants", Access::Admin),
    (
        "PATCH",
        "/admin/products/{id}/variants/{variantId}",
        Access::Admin,
    ),
    (
        "POST",
        "/admin/products/{id}/variants/{variantId}/stock",
        Access::Admin,
    ),
    ("GET", "/admin/products/{id}/stock-movements", Access::Admin),
    ("POST", "/admin/imports/shopify-products", Access::Admin),
    ("GET", "/admin/orders/{id}/invoice", Access::Admin),
    ("GET", "/admin/orders/{id}/invoice.pdf", Access::Admin),
    (
        "GET",
        "/admin/orders/{id}/credit-notes/{number}",
        Access::Admin,
    ),
    ("GET", "/admin/coupons", Access::Admin),
    ("POST", "/admin/coupons", Access::Admin),
    ("PATCH", "/admin/coupons/{code}", Access::Admin),
    ("GET", "/admin/meta", Access::Admin),
    // The owner console is public HTML: everything it shows comes from the admin routes.
    ("GET", "/admin", Access::Public),
    ("GET", "/admin/console.js", Access::Public),
    ("GET", "/admin/console.modules/{module}", Access::Public),
    ("GET", "/admin/console.css", Access::Public),
];

/// A status and, for refusals, the problem `code`; `None` is a JSON success. A "code" with a
/// `/` in it is a success of that media type instead (the console's page and files).
type Expect = (u16, Option<&'static str>);

const UNAUTHENTICATED: Expect = (401, Some("UNAUTHENTICATED"));
const FORBIDDEN: Expect = (403, Some("FORBIDDEN"));
const ORDER_NOT_FOUND: Expect = (404, Some("ORDER_NOT_FOUND"));
const INVOICE_NOT_FOUND: Expect = (404, Some("INVOICE_NOT_FOUND"));

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// Any of `bad_credentials()`.
    Nobody,
    /// The webhook's PhonePe credentials, sent to every route.
    PhonePe,
    /// The customer who owns the fixture orders.
    Owner,
    /// Another signed-in customer.
    OtherCustomer,
    Admin,
}

/// One concrete request per route, and what the owner, another customer and an admin get.
struct Probe {
    path: String,
    body: Option<Value>,
    owner: Expect,
    other: Expect,
    admin: Expect,
    /// For admin routes: the status the order must still have until the admin acts, and
    /// the one it moves to.
    order: Option<(ObjectId, &'static str, &'static str)>,
}

struct Fixture {
    product: ObjectId,
    paid: ObjectId,
    to_pack: ObjectId,
    to_ship: ObjectId,
    to_deliver: ObjectId,
    to_cancel: ObjectId,
}

impl Fixture {
    async fn new(app: &TestApp) -> Fixture {
        Fixture {
            product: product(app, SLUG, 100_000, 50).await,
            paid: order_in(app, ALICE, "paid").await,
            to_pack: order_in(app, ALICE, "paid").await,
            to_ship: order_in(app, ALICE, "paid").await,
            to_deliver: order_in(app, ALICE, "shipped").await,
            to_cancel: order_in(app, ALICE, "created").await,
        }
    }

    fn probe(&self, method: &str, path: &str) -> Probe {
        let ok: Expect = (200, None);
        let same = |path: String, body: Option<Value>, e: Expect| Probe {
            path,
            body,
            owner: e,
            other: e,
            admin: e,
            order: None,
        };
        let admin = |id: ObjectId, action: &str, body: Value, from, to| Probe {
            path: format!("/admin/orders/{}/{action}", id.to_hex()),
            body: Some(body),
            owner: FORBIDDEN,
            other: FORBIDDEN,
            admin: ok,
            order: Some((id, from, to)),
        };
        let unknown_product = ObjectId::new().to_hex();
        match (method, path) {
            ("GET", "/products") => same("/products".into(), None, ok),
            ("GET", "/products/{slug}") => same(format!("/products/{SLUG}"), None, ok),
            ("GET", "/health") => same("/health".into(), None, ok),
            ("GET", "/cart") => same("/cart".into(), None, ok),
            ("POST", "/cart/add") => same(
                path.into(),
                Some(json!({ "productId": self.product.to_hex(), "quantity": 1 })),
                ok,
            ),
            ("POST", "/cart/update") => same(
                path.into(),
                Some(json!({ "productId": unknown_product, "quantity": 1 })),
                (404, Some("NOT_IN_CART")),
            ),
            ("POST", "/cart/remove") => same(
                path.into(),
                Some(json!({ "productId": unknown_product })),
                ok,
            ),
            ("DELETE", "/cart/clear") => same(path.into(), None, ok),
            ("POST", "/checkout/apply-coupon") => same(
                path.into(),
                Some(json!({ "code": "NOSUCHCODE" })),
                (404, Some("COUPON_NOT_FOUND")),
            ),
            ("POST", "/orders/create") => same(
                path.into(),
                Some(json!({})),
                (400, Some("VALIDATION_FAILED")),
            ),
            ("GET", "/orders/my") => same(path.into(), None, ok),
            ("GET", "/orders/{id}") => Probe {
                path: format!("/orders/{}", self.paid.to_hex()),
                body: None,
                owner: ok,
                other: ORDER_NOT_FOUND,
                // An admin is a shopper here: the customer routes show only their own.
                admin: ORDER_NOT_FOUND,
                order: None,
            },
            // Not shipped, so not invoiced: the owner learns that, nobody else learns more.
            ("GET", "/orders/{id}/invoice" | "/orders/{id}/invoice.pdf") => Probe {
                path: path.replace("{id}", &self.paid.to_hex()),
                body: None,
                owner: INVOICE_NOT_FOUND,
                other: ORDER_NOT_FOUND,
                admin: ORDER_NOT_FOUND,
                order: None,
            },
            ("POST", "/payments/phonepe/initiate") => Probe {
                path: path.into(),
                body: Some(json!({ "orderId": self.paid.to_hex() })),
                owner: (409, Some("ORDER_NOT_PAYABLE")),
                other: ORDER_NOT_FOUND,
                admin: ORDER_NOT_FOUND,
                order: None,
            },
            ("POST", "/payments/phonepe/webhook") => same(
                path.into(),
                Some(json!({ "event": "some.future.event", "payload": {} })),
                UNAUTHENTICATED,
            ),
            ("POST", "/admin/orders/{id}/ship") => admin(
                self.to_ship,
                "ship",
                json!({ "trackingNumber": "1234567890123", "carrier": "Delhivery" }),
                "paid",
                "shipped",
            ),
            ("POST", "/admin/orders/{id}/pack") => {
                admin(self.to_pack, "pack", json!({}), "paid", "packed")
            }
            ("POST", "/admin/orders/{id}/deliver") => admin(
                self.to_deliver,
                "deliver",
                json!({}),
                "shipped",
                "delivered",
            ),
            ("POST", "/admin/orders/{id}/cancel") => admin(
                self.to_cancel,
                "cancel",
                json!({ "reason": "security suite" }),
                "created",
                "cancelled",
            ),
            // The owner's desk: customers are refused before anything is read; an admin
            // gets the route's own answer (a refusal of the probe's input where the route
            // would otherwise change something).
            ("POST", "/admin/orders/{id}/refund") => same(
                format!("/admin/orders/{}/refund", self.paid.to_hex()),
                Some(json!({ "restock": false, "reason": "security suite" })),
                (409, Some("NOTHING_TO_REFUND")),
            ),
            ("POST", "/admin/orders/{id}/refund/preview") => same(
                format!("/admin/orders/{}/refund/preview", self.paid.to_hex()),
                Some(json!({})),
                (409, Some("NOTHING_TO_REFUND")),
            ),
            ("GET", "/admin/orders") => same(path.into(), None, ok),
            ("GET", "/admin/orders/export.csv") => same(
                format!("{path}?colour=red"),
                None,
                (400, Some("VALIDATION_FAILED")),
            ),
            ("GET", "/admin/orders/{id}") => {
                same(format!("/admin/orders/{}", self.paid.to_hex()), None, ok)
            }
            ("GET", "/admin/orders/{id}/invoice" | "/admin/orders/{id}/invoice.pdf") => same(
                path.replace("{id}", &self.paid.to_hex()),
                None,
                INVOICE_NOT_FOUND,
            ),
            ("GET", "/admin/orders/{id}/credit-notes/{number}") => same(
                format!(
                    "/admin/orders/{}/credit-notes/PCN-2627-000001.pdf",
                    self.paid.to_hex()
                ),
                None,
                (404, Some("CREDIT_NOTE_NOT_FOUND")),
            ),
            ("GET", "/admin/products") => same(path.into(), None, ok),
            ("POST", "/admin/products") => same(
                path.into(),
                Some(json!({})),
                (400, Some("VALIDATION_FAILED")),
            ),
            ("PATCH", "/admin/products/{id}") => same(
                format!("/admin/products/{}", self.product.to_hex()),
                Some(json!({ "stock": 5 })),
                (400, Some("VALIDATION_FAILED")),
            ),
            ("POST", "/admin/products/{id}/stock") => same(
                format!("/admin/products/{}/stock", self.product.to_hex()),
                Some(json!({})),
                (400, Some("VALIDATION_FAILED")),
            ),
            ("POST", "/admin/products/{id}/variants") => same(
                format!("/admin/products/{}/variants", self.product.to_hex()),
                Some(json!({})),
                (400, Some("VALIDATION_FAILED")),
            ),
            ("PATCH", "/admin/products/{id}/variants/{variantId}") => same(
                format!(
                    "/admin/products/{}/variants/{}",
                    self.product.to_hex(),
                    ObjectId::new().to_hex()
                ),
                Some(json!({ "price": 100_000 })),
                (404, Some("PRODUCT_NOT_FOUND")),
            ),
            ("POST", "/admin/products/{id}/variants/{variantId}/stock") => same(
                format!(
                    "/admin/products/{}/variants/{}/stock",
                    self.product.to_hex(),
                    ObjectId::new().to_hex()
                ),
                Some(json!({})),
                (400, Some("VALIDATION_FAILED")),
            ),
            ("GET", "/admin/products/{id}/stock-movements") => same(
                format!("/admin/products/{}/stock-movements", self.product.to_hex()),
                None,
                ok,
            ),
            // The probe's JSON is not the CSV export the route reads.
            ("POST", "/admin/imports/shopify-products") => same(
                path.into(),
                Some(json!({})),
                (415, Some("UNSUPPORTED_MEDIA_TYPE")),
            ),
            ("GET", "/admin/coupons") => same(path.into(), None, ok),
            ("POST", "/admin/coupons") => same(
                path.into(),
                Some(json!({})),
                (400, Some("VALIDATION_FAILED")),
            ),
            ("PATCH", "/admin/coupons/{code}") => same(
                "/admin/coupons/NOSUCHCODE".into(),
                Some(json!({ "isActive": false })),
                (404, Some("COUPON_NOT_FOUND")),
            ),
            ("GET", "/admin/meta") => same(path.into(), None, ok),
            ("GET", "/admin") => same(path.into(), None, (200, Some("text/html; charset=utf-8"))),
            ("GET", "/admin/console.js") => same(
                path.into(),
                None,
                (200, Some("text/javascript; charset=utf-8")),
            ),
            ("GET", "/admin/console.modules/{module}") => same(
                "/admin/console.modules/api.js".into(),
                None,
                (200, Some("text/javascript; charset=utf-8")),
            ),
            ("GET", "/admin/console.css") => {
                same(path.into(), None, (200, Some("text/css; charset=utf-8")))
            }
            _ => panic!("{method} {path} has no probe: add it to Fixture::probe in security.rs"),
        }
    }
}

fn expected(access: Access, probe: &Probe, caller: Caller) -> Expect {
    match (access, caller) {
        (Access::Public, _) => probe.owner,
        (Access::Webhook, Caller::PhonePe) => (200, None),
        (Access::Webhook, _) => UNAUTHENTICATED,
        (_, Caller::Nobody | Caller::PhonePe) => UNAUTHENTICATED,
        (Access::Admin, Caller::Owner | Caller::OtherCustomer) => FORBIDDEN,
        (_, Caller::Owner) => probe.owner,
        (_, Caller::OtherCustomer) => probe.other,
        (_, Caller::Admin) => probe.admin,
    }
}

#[track_caller]
fn check(res: &Resp, want: Expect, cell: &str) {
    match want {
        (status, Some(media)) if media.contains('/') => {
            assert_eq!(res.status.as_u16(), status, "{cell}: {}", res.body);
            assert_eq!(res.headers["content-type"], media, "{cell}");
        }
        (status, Some(code)) => {
            assert_eq!(res.status.as_u16(), status, "{cell}: {}", res.body);
            assert_eq!(res.body["code"], code, "{cell}: {}", res.body);
            res.problem(status, code);
            if status == 401 {
                assert_eq!(res.headers["www-authenticate"], "Bearer", "{cell}");
            }
        }
        (status, None) => {
            assert_eq!(res.status.as_u16(), status, "{cell}: {}", res.body);
            assert_success(res, status);
        }
    }
}

fn access_of(method: &str, path: &str) -> Access {
    ACCESS
        .iter()
        .find(|(m, p, _)| *m == method && *p == path)
        .map(|(_, _, a)| *a)
        .unwrap_or_else(|| panic!("{method} {path} is not in ACCESS in security.rs"))
}

#[test]
fn every_route_is_in_the_security_matrix() {
    let served: BTreeSet<(&str, &str)> = dev_server::all_routes()
        .into_iter()
        .map(|(_, m, p)| (m, p))
        .collect();
    let classified: BTreeSet<(&str, &str)> = ACCESS.iter().map(|(m, p, _)| (*m, *p)).collect();
    assert_eq!(
        served, classified,
        "classify every served route in ACCESS (and give it a probe)"
    );
}

fn cell_text(e: Expect) -> String {
    match e {
        (s, Some(code)) => format!("{s} `{code}`"),
        (s, None) => format!("{s}"),
    }
}

/// The matrix as the README shows it, built from the same expectations the test asserts.
fn matrix_markdown(fixture: &Fixture) -> String {
    let mut out = String::from(
        "| route | no / invalid token (each case) | PhonePe webhook credentials | customer (owner) | another customer | admin |\n|---|---|---|---|---|---|\n",
    );
    for (_, method, path) in dev_server::all_routes() {
        let access = access_of(method, path);
        let probe = fixture.probe(method, path);
        let cells: Vec<String> = [
            Caller::Nobody,
            Caller::PhonePe,
            Caller::Owner,
            Caller::OtherCustomer,
            Caller::Admin,
        ]
        .iter()
        .map(|c| cell_text(expected(access, &probe, *c)))
        .collect();
        out.push_str(&format!("| `{method} {path}` | {} |\n", cells.join(" | ")));
    }
    out
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_exactly() {
    let (app, sim) = app_with_sim().await;
    let fixture = Fixture::new(&app).await;
    let phonepe = phonepe_sim::webhook_authorization(
        &sim.config().webhook_username,
        &sim.config().webhook_password,
    );
    let matrix = matrix_markdown(&fixture);
    if let Ok(out) = std::env::var("SECURITY_MATRIX_MD") {
        std::fs::write(out, &matrix).unwrap();
    }
    // docs/security.md shows the matrix this test enforces; a route added or changed here
    // without the doc fails (regenerate: SECURITY_MATRIX_MD=/tmp/m.md, paste the table).
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/security.md"),
    )
    .unwrap();
    let documented: Vec<&str> = doc
        .lines()
        .skip_while(|l| !l.starts_with("| route |"))
        .take_while(|l| l.starts_with('|'))
        .collect();
    let enforced: Vec<&str> = matrix.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        documented, enforced,
        "docs/security.md's matrix is out of date"
    );
    let mut callers: Vec<(String, Caller, Option<String>)> = bad_credentials()
        .into_iter()
        .map(|(name, auth)| (name.to_owned(), Caller::Nobody, auth))
        .collect();
    callers.push((
        "PhonePe webhook hash".into(),
        Caller::PhonePe,
        Some(phonepe),
    ));
    callers.push((
        "owner".into(),
        Caller::Owner,
        Some(bearer(&app.token(ALICE))),
    ));
    callers.push((
        "another customer".into(),
        Caller::OtherCustomer,
        Some(bearer(&app.token(BOB))),
    ));
    let admin = (
        "admin".to_owned(),
        Caller::Admin,
        Some(bearer(&app.admin_token())),
    );

    let routes = dev_server::all_routes();
    let run = |callers: Vec<(String, Caller, Option<String>)>| {
        let app = &app;
        let fixture = &fixture;
        let routes = routes.clone();
        async move {
            for (name, caller, auth) in &callers {
                for (_, method, path) in &routes {
                    let access = access_of(method, path);
                    let probe = fixture.probe(method, path);
                    let body = probe.body.as_ref().map(|b| b.to_string().into_bytes());
                    let res = send(
                        app,
                        method.parse().unwrap(),
                        &probe.path,
                        auth.as_deref(),
                        body,
                    )
                    .await;
                    check(
                        &res,
                        expected(access, &probe, *caller),
                        &format!("{method} {path} as {name}"),
                    );
                }
            }
        }
    };
    run(callers).await;
    // Nobody but the admin has moved an order yet: refusals had no side effects.
    for (_, method, path) in &routes {
        if let Some((id, from, _)) = fixture.probe(method, path).order {
            assert_eq!(status_of(&app, id).await, from, "{method} {path}");
        }
    }
    run(vec![admin]).await;
    for (_, method, path) in &routes {
        if let Some((id, _, to)) = fixture.probe(method, path).order {
            assert_eq!(status_of(&app, id).await, to, "{method} {path}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Other customers' resources
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn another_customers_order_is_not_found() {
    let app = TestApp::spawn().await;
    let alices = order_in(&app, ALICE, "paid").await;
    let bob = app.token(BOB);
    let theirs = app
        .get(&format!("/orders/{}", alices.to_hex()), Some(&bob))
        .await;
    let nobodys = app
        .get(&format!("/orders/{}", ObjectId::new().to_hex()), Some(&bob))
        .await;
    // Identical answers, so probing ids tells an outsider nothing about which exist.
    let a = theirs.problem(404, "ORDER_NOT_FOUND");
    let b = nobodys.problem(404, "ORDER_NOT_FOUND");
    assert_eq!(a["detail"], b["detail"]);
    assert_eq!(a["title"], b["title"]);
    assert_success(
        &app.get(
            &format!("/orders/{}", alices.to_hex()),
            Some(&app.token(ALICE)),
        )
        .await,
        200,
    );
}

#[tokio::test]
async fn another_customers_orders_never_appear_in_my_orders() {
    let app = TestApp::spawn().await;
    let alices = order_in(&app, ALICE, "paid").await;
    let bobs = order_in(&app, BOB, "created").await;
    let res = app.get("/orders/my", Some(&app.token(BOB))).await;
    let ids: Vec<&str> = res.ok()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [bobs.to_hex()]);
    assert!(!ids.contains(&alices.to_hex().as_str()));
}

#[tokio::test]
async fn another_customers_order_cannot_be_paid() {
    let (app, _sim) = app_with_sim().await;
    let alices = insert_order(&app, ALICE, 100_000).await;
    app.post(
        "/payments/phonepe/initiate",
        Some(&app.token(BOB)),
        json!({ "orderId": alices.to_hex() }),
    )
    .await
    .problem(404, "ORDER_NOT_FOUND");
    let doc = order_doc(&app, alices).await;
    assert_eq!(doc.get_str("status").unwrap(), "created");
    assert!(doc
        .get_document("payment")
        .unwrap()
        .get_str("merchantOrderId")
        .is_err());
}

#[tokio::test]
async fn another_customers_cart_is_neither_visible_nor_writable() {
    let app = TestApp::spawn().await;
    let p = product(&app, SLUG, 50_000, 20).await;
    fill_cart(&app, ALICE, &[(p, 2)]).await;
    let bob = app.token(BOB);
    let seen = app.get("/cart", Some(&bob)).await;
    assert_eq!(seen.ok()["items"], json!([]));
    app.post(
        "/cart/update",
        Some(&bob),
        json!({ "productId": p.to_hex(), "quantity": 5 }),
    )
    .await
    .problem(404, "NOT_IN_CART");
    app.post(
        "/cart/remove",
        Some(&bob),
        json!({ "productId": p.to_hex() }),
    )
    .await
    .ok();
    app.call(Method::DELETE, "/cart/clear", Some(&bob), None)
        .await
        .ok();
    let alices = app.get("/cart", Some(&app.token(ALICE))).await;
    assert_eq!(alices.ok()["items"][0]["quantity"], 2);
}

#[tokio::test]
async fn admin_lookalike_claims_are_not_admin() {
    let app = TestApp::spawn().await;
    let id = order_in(&app, ALICE, "paid").await;
    let path = format!("/admin/orders/{}/pack", id.to_hex());
    for (name, edit) in [
        ("role ADMIN", json!({ "metadata": { "role": "ADMIN" } })),
        ("role list", json!({ "metadata": { "role": ["admin"] } })),
        (
            "role object",
            json!({ "metadata": { "role": { "admin": true } } }),
        ),
        ("top-level role", json!({ "role": "admin" })),
        (
            "public_metadata",
            json!({ "public_metadata": { "role": "admin" } }),
        ),
        ("org role", json!({ "o": { "rol": "admin" } })),
    ] {
        let token = with_claims(|c| {
            for (k, v) in edit.as_object().unwrap() {
                c[k] = v.clone();
            }
        });
        let res = app.post(&path, Some(&token), json!({})).await;
        assert_eq!(res.status, 403, "{name}: {}", res.body);
        res.problem(403, "FORBIDDEN");
    }
    assert_eq!(status_of(&app, id).await, "paid");
}

// ---------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------

const WEBHOOK: &str = "/payments/phonepe/webhook";

struct Hook {
    app: TestApp,
    _sim: phonepe_sim::SimHandle,
    auth: String,
    order: ObjectId,
    completed: Value,
}

/// An order with a live payment attempt, and the completion webhook PhonePe would send.
async fn hook() -> Hook {
    let (app, sim) = app_with_sim().await;
    sim.update_switches(|s| s.drop_webhooks = true);
    let user = fresh_user("user_hook");
    let order = insert_order(&app, &user, 59_900).await;
    let mid = initiate_mid(&app, &user, order).await;
    // The shopper really paid (the simulator's own webhook is dropped): the webhooks these
    // tests send are then hints PhonePe's status API confirms, or forgeries it never sees.
    sim.complete_order(&mid, phonepe_sim::HookOptions::default())
        .await
        .unwrap();
    let completed = json!({
        "event": "checkout.order.completed",
        "type": "CHECKOUT_ORDER_COMPLETED",
        "payload": {
            "merchantOrderId": mid, "orderId": "OMO123", "state": "COMPLETED", "amount": 59_900,
            "paymentDetails": [{ "transactionId": format!("OMT{}", order.to_hex()),
                                 "paymentMode": "UPI_QR", "amount": 59_900, "state": "COMPLETED",
                                 "timestamp": 1_700_000_000_000_i64 }],
        },
    });
    let auth = phonepe_sim::webhook_authorization(
        &sim.config().webhook_username,
        &sim.config().webhook_password,
    );
    Hook {
        app,
        _sim: sim,
        auth,
        order,
        completed,
    }
}

impl Hook {
    async fn post(&self, auth: Option<&str>, body: Vec<u8>) -> Resp {
        send(&self.app, Method::POST, WEBHOOK, auth, Some(body)).await
    }

    async fn assert_unpaid(&self) {
        assert_eq!(status_of(&self.app, self.order).await, "payment_pending");
        assert_eq!(mails(&self.app, self.order, "payment_success").await, 0);
    }
}

#[tokio::test]
async fn forged_webhook_authorization_changes_nothing() {
    let h = hook().await;
    let body = h.completed.to_string().into_bytes();
    let right = h.auth.clone();
    let forged = [
        phonepe_sim::webhook_authorization("pitalya_hook", "guess1234"),
        phonepe_sim::webhook_authorization("", ""),
        right.to_uppercase(),
        format!("SHA256({right})"),
        format!("Bearer {right}"),
        right[..63].to_owned(),
        format!("{right}0"),
        bearer(&h.app.token(ALICE)),
        bearer(&h.app.admin_token()),
    ];
    for auth in &forged {
        h.post(Some(auth), body.clone())
            .await
            .problem(401, "UNAUTHENTICATED");
    }
    h.assert_unpaid().await;
}

#[tokio::test]
async fn webhook_without_authorization_changes_nothing() {
    let h = hook().await;
    h.post(None, h.completed.to_string().into_bytes())
        .await
        .problem(401, "UNAUTHENTICATED");
    h.assert_unpaid().await;
}

#[tokio::test]
async fn replayed_webhook_pays_once_and_queues_one_mail() {
    let h = hook().await;
    let body = h.completed.to_string().into_bytes();
    for _ in 0..5 {
        let res = h.post(Some(&h.auth), body.clone()).await;
        assert_success(&res, 200);
        assert_eq!(res.body, json!({ "ok": true }));
    }
    let doc = order_doc(&h.app, h.order).await;
    assert_eq!(doc.get_str("status").unwrap(), "paid");
    let paid_moves = doc
        .get_array("statusHistory")
        .unwrap()
        .iter()
        .filter(|s| s.as_document().unwrap().get_str("status") == Ok("paid"))
        .count();
    assert_eq!(paid_moves, 1);
    assert_eq!(mails(&h.app, h.order, "payment_success").await, 1);
}

#[tokio::test]
async fn oversized_webhook_is_a_413_problem_and_changes_nothing() {
    let h = hook().await;
    // Padding inside valid JSON: the size alone decides.
    let mut body = h.completed.to_string().into_bytes();
    body.resize(MAX_BODY_BYTES + 1, b' ');
    h.post(Some(&h.auth), body)
        .await
        .problem(413, "PAYLOAD_TOO_LARGE");
    // Far beyond any framework default limit, too.
    let mut body = h.completed.to_string().into_bytes();
    body.resize(3 * 1024 * 1024, b' ');
    h.post(Some(&h.auth), body)
        .await
        .problem(413, "PAYLOAD_TOO_LARGE");
    h.assert_unpaid().await;
    // Exactly at the limit is still read.
    let mut body = h.completed.to_string().into_bytes();
    body.resize(MAX_BODY_BYTES, b' ');
    assert_success(&h.post(Some(&h.auth), body).await, 200);
    assert_eq!(status_of(&h.app, h.order).await, "paid");
}

#[tokio::test]
async fn garbage_webhook_json_is_a_400_problem_and_changes_nothing() {
    let h = hook().await;
    let mut deep = "[".repeat(10_000);
    deep.push_str(&"]".repeat(10_000));
    let mut deep_payload = h.completed.clone();
    deep_payload["payload"]["metaInfo"] = json!("__DEEP__");
    let deep_payload = deep_payload.to_string().replace("\"__DEEP__\"", &deep);
    let mut wrong_type = h.completed.clone();
    wrong_type["payload"]["amount"] = json!("59900");
    for body in [
        "".to_owned(),
        "not json".to_owned(),
        "{\"event\":\"checkout.order.completed\",\"payl".to_owned(),
        "\u{feff}{}".to_owned(),
        "null".to_owned(),
        "[]".to_owned(),
        "{}".to_owned(),
        deep,
        deep_payload,
        wrong_type.to_string(),
    ] {
        h.post(Some(&h.auth), body.clone().into_bytes())
            .await
            .problem(400, "INVALID_JSON");
    }
    h.post(Some(&h.auth), vec![0xff, 0xfe, b'{', b'}'])
        .await
        .problem(400, "INVALID_JSON");
    h.assert_unpaid().await;
}

#[tokio::test]
async fn unknown_webhook_events_are_acknowledged_without_effect() {
    let h = hook().await;
    for event in [
        "some.future.event",
        "CHECKOUT.ORDER.COMPLETED",
        "checkout.order.completed ",
        "",
    ] {
        let mut body = h.completed.clone();
        body["event"] = json!(event);
        let res = h.post(Some(&h.auth), body.to_string().into_bytes()).await;
        assert_success(&res, 200);
    }
    // With `event` absent, a `type` PhonePe never sends is unknown too.
    let mut body = h.completed.clone();
    body.as_object_mut().unwrap().remove("event");
    body["type"] = json!("CHECKOUT_ORDER_COMPLETED_PLEASE");
    assert_success(
        &h.post(Some(&h.auth), body.to_string().into_bytes()).await,
        200,
    );
    h.assert_unpaid().await;
}

// ---------------------------------------------------------------------------------------
// NoSQL operators
// ---------------------------------------------------------------------------------------

/// Values that would be query operators if a handler ever put client JSON into a filter.
fn operator_objects() -> Vec<Value> {
    vec![
        json!({ "$gt": "" }),
        json!({ "$ne": null }),
        json!({ "$where": "sleep(100) || true" }),
        json!({ "$regex": ".*" }),
        json!({ "$in": [] }),
        json!(["$gt", ""]),
    ]
}

/// Strings that are operators, paths or JavaScript when misread, and literals when not.
const OPERATOR_STRINGS: &[&str] = &[
    "$where",
    "$ne",
    "{\"$ne\":null}",
    "this.userId != ''",
    "'; return true; var x='",
    "items.0.price",
    "a.b$c",
    "$",
    ".",
];

/// Every string field a JSON body takes: (method, route, body builder, field as reported,
/// whether an arbitrary string is a legal literal for it).
struct BodyField {
    method: Method,
    path: &'static str,
    field: &'static str,
    build: fn(Value) -> Value,
    /// An arbitrary string is refused (ids, codes, phone, ...) rather than stored as text.
    strict: bool,
}

fn address_with(field: &str, v: Value) -> Value {
    let mut body = order_body();
    body["shippingAddress"][field] = v;
    body
}

fn body_fields() -> Vec<BodyField> {
    macro_rules! f {
        ($m:ident, $path:literal, $field:literal, $strict:literal, $build:expr) => {
            BodyField {
                method: Method::$m,
                path: $path,
                field: $field,
                build: $build,
                strict: $strict,
            }
        };
    }
    vec![
        f!(
            POST,
            "/cart/add",
            "productId",
            true,
            |v| json!({ "productId": v, "quantity": 1 })
        ),
        f!(
            POST,
            "/cart/add",
            "quantity",
            true,
            |v| json!({ "productId": ObjectId::new().to_hex(), "quantity": v })
        ),
        f!(
            POST,
            "/cart/update",
            "productId",
            true,
            |v| json!({ "productId": v, "quantity": 1 })
        ),
        f!(
            POST,
            "/cart/remove",
            "productId",
            true,
            |v| json!({ "productId": v })
        ),
        f!(
            POST,
            "/checkout/apply-coupon",
            "code",
            true,
            |v| json!({ "code": v })
        ),
        f!(
            POST,
            "/payments/phonepe/initiate",
            "orderId",
            true,
            |v| json!({ "orderId": v })
        ),
        f!(POST, "/orders/create", "couponCode", true, |v| {
            let mut b = order_body();
            b["couponCode"] = v;
            b
        }),
        f!(POST, "/orders/create", "email", true, |v| {
            let mut b = order_body();
            b["email"] = v;
            b
        }),
        f!(POST, "/orders/create", "notes", false, |v| {
            let mut b = order_body();
            b["notes"] = v;
            b
        }),
        f!(POST, "/orders/create", "shippingAddress.name", false, |v| {
            address_with("name", v)
        }),
        f!(POST, "/orders/create", "shippingAddress.phone", true, |v| {
            address_with("phone", v)
        }),
        f!(
            POST,
            "/orders/create",
            "shippingAddress.line1",
            false,
            |v| address_with("line1", v)
        ),
        f!(
            POST,
            "/orders/create",
            "shippingAddress.line2",
            false,
            |v| address_with("line2", v)
        ),
        f!(POST, "/orders/create", "shippingAddress.city", false, |v| {
            address_with("city", v)
        }),
        f!(POST, "/orders/create", "shippingAddress.state", true, |v| {
            address_with("state", v)
        }),
        f!(
            POST,
            "/orders/create",
            "shippingAddress.pincode",
            true,
            |v| address_with("pincode", v)
        ),
        f!(
            POST,
            "/orders/create",
            "shippingAddress.country",
            true,
            |v| address_with("country", v)
        ),
        f!(
            POST,
            "/admin/orders/{id}/ship",
            "trackingNumber",
            false,
            |v| json!({ "trackingNumber": v, "carrier": "Delhivery" })
        ),
        f!(
            POST,
            "/admin/orders/{id}/ship",
            "carrier",
            false,
            |v| json!({ "trackingNumber": "1234567890", "carrier": v })
        ),
        f!(
            POST,
            "/admin/orders/{id}/ship",
            "description",
            false,
            |v| json!({ "trackingNumber": "1234567890", "carrier": "Delhivery", "description": v })
        ),
        f!(
            POST,
            "/admin/orders/{id}/cancel",
            "reason",
            false,
            |v| json!({ "reason": v })
        ),
    ]
}

/// The status an admin-route order starts in: one the action applies to without a refund.
fn admin_from(path: &str) -> &'static str {
    if path.ends_with("/cancel") {
        "created"
    } else {
        "paid"
    }
}

/// Sends one body to its route as a fresh caller (and, for admin routes, on a fresh order
/// the action applies to).
async fn send_field(app: &TestApp, f: &BodyField, value: Value) -> (Resp, Option<ObjectId>) {
    if f.path.starts_with("/admin/") {
        let id = order_in(app, ALICE, admin_from(f.path)).await;
        let path = f.path.replace("{id}", &id.to_hex());
        let res = app
            .call(
                f.method.clone(),
                &path,
                Some(&app.admin_token()),
                Some((f.build)(value)),
            )
            .await;
        (res, Some(id))
    } else {
        let user = fresh_user("user_nosql");
        let res = app
            .call(
                f.method.clone(),
                f.path,
                Some(&app.token(&user)),
                Some((f.build)(value)),
            )
            .await;
        (res, None)
    }
}

#[tokio::test]
async fn operator_objects_in_any_body_field_are_validation_failures() {
    let app = TestApp::spawn().await;
    for f in body_fields() {
        for op in operator_objects() {
            let (res, order) = send_field(&app, &f, op.clone()).await;
            assert_eq!(
                invalid_fields(&res),
                [f.field],
                "{} {} {} = {op}",
                f.method,
                f.path,
                f.field
            );
            if let Some(id) = order {
                assert_eq!(status_of(&app, id).await, admin_from(f.path));
            }
        }
    }
}

#[tokio::test]
async fn operator_strings_in_body_fields_are_refused_or_kept_literally() {
    let app = TestApp::spawn().await;
    for f in body_fields() {
        for s in OPERATOR_STRINGS {
            let (res, order) = send_field(&app, &f, json!(s)).await;
            let cell = format!("{} {} {} = {s:?}", f.method, f.path, f.field);
            if f.strict {
                assert_eq!(invalid_fields(&res), [f.field], "{cell}");
                continue;
            }
            match (f.path, order) {
                // The literal passes validation; the empty cart is then what stops checkout.
                ("/orders/create", _) => {
                    res.problem(422, "CART_EMPTY");
                }
                (_, Some(id)) => {
                    assert_success(&res, 200);
                    let doc = order_doc(&app, id).await;
                    let stored = match f.field {
                        "reason" => doc
                            .get_array("statusHistory")
                            .unwrap()
                            .last()
                            .unwrap()
                            .as_document()
                            .unwrap()
                            .get_str("note")
                            .unwrap()
                            .to_owned(),
                        field => doc
                            .get_document("shipping")
                            .unwrap()
                            .get_str(field)
                            .unwrap()
                            .to_owned(),
                    };
                    assert_eq!(stored, *s, "{cell}: kept as the literal string");
                }
                _ => unreachable!("{cell}"),
            }
        }
    }
}

#[tokio::test]
async fn operator_strings_in_an_address_are_stored_literally() {
    let app = TestApp::spawn().await;
    let p = product(&app, SLUG, 50_000, 20).await;
    let user = fresh_user("user_literal");
    fill_cart(&app, &user, &[(p, 1)]).await;
    let mut body = order_body();
    body["shippingAddress"]["name"] = json!("{\"$ne\":null}");
    body["shippingAddress"]["line1"] = json!("$where: this.a.b");
    body["shippingAddress"]["line2"] = json!("items.0.price");
    body["notes"] = json!("{\"$set\":{\"status\":\"paid\"}}");
    let res = app
        .post("/orders/create", Some(&app.token(&user)), body)
        .await;
    assert_success(&res, 201);
    let id = ObjectId::parse_str(res.body["id"].as_str().unwrap()).unwrap();
    let doc = order_doc(&app, id).await;
    assert_eq!(doc.get_str("status").unwrap(), "created");
    assert_eq!(
        doc.get_str("notes").unwrap(),
        "{\"$set\":{\"status\":\"paid\"}}"
    );
    let address = doc
        .get_document("shipping")
        .unwrap()
        .get_document("address")
        .unwrap();
    assert_eq!(address.get_str("name").unwrap(), "{\"$ne\":null}");
    assert_eq!(address.get_str("line1").unwrap(), "$where: this.a.b");
    assert_eq!(address.get_str("line2").unwrap(), "items.0.price");
}

#[tokio::test]
async fn operator_payloads_in_paths_match_nothing() {
    let app = TestApp::spawn().await;
    product(&app, SLUG, 50_000, 20).await;
    let alices = order_in(&app, ALICE, "paid").await;
    let alice = app.token(ALICE);
    let admin = app.admin_token();
    let mut segments: Vec<String> = operator_objects().iter().map(Value::to_string).collect();
    segments.extend(OPERATOR_STRINGS.iter().map(|s| s.to_string()));
    segments.extend([
        format!("{SLUG}.x"),
        format!("{SLUG}$"),
        format!("{}.0", alices.to_hex()),
        format!("{} ", alices.to_hex()),
        format!("ObjectId(\"{}\")", alices.to_hex()),
        "a/b".into(),
        "%00".into(),
        "\u{0}".into(),
        "é".into(),
        "x".repeat(5_000),
    ]);
    // URL normalisation turns `.` and `..` into dot segments before they leave the client.
    for raw in segments.iter().filter(|s| *s != "." && *s != "..") {
        let seg = enc(raw);
        let res = app.get(&format!("/products/{seg}"), None).await;
        refused(&res, 404, "PRODUCT_NOT_FOUND", raw);
        let res = app.get(&format!("/orders/{seg}"), Some(&alice)).await;
        refused(&res, 404, "ORDER_NOT_FOUND", raw);
        for action in ["ship", "pack", "deliver", "cancel"] {
            let res = app
                .post(
                    &format!("/admin/orders/{seg}/{action}"),
                    Some(&admin),
                    json!({ "trackingNumber": "1", "carrier": "DTDC" }),
                )
                .await;
            refused(&res, 404, "ORDER_NOT_FOUND", raw);
        }
    }
    assert_eq!(status_of(&app, alices).await, "paid");
}

#[tokio::test]
async fn paths_that_are_not_utf8_are_typed_problems() {
    // Regression: axum refused these with a plain-text 400 before any handler ran.
    let app = TestApp::spawn().await;
    let alice = app.token(ALICE);
    let admin = app.admin_token();
    for (method, path, token) in [
        (Method::GET, "/products/%FF%FE", None),
        (Method::GET, "/orders/%C3%28", Some(alice.as_str())),
        (Method::POST, "/admin/orders/%FF/pack", Some(admin.as_str())),
    ] {
        let res = app.call(method, path, token, Some(json!({}))).await;
        refused(&res, 400, "BAD_REQUEST", path);
    }
    // The credentials are still checked first: a broken path is no way around them.
    let res = app.get("/orders/%C3%28", None).await;
    refused(&res, 401, "UNAUTHENTICATED", "anonymous");
}

#[tokio::test]
async fn operator_payloads_in_queries_are_validation_failures() {
    let app = TestApp::spawn().await;
    let alice = app.token(ALICE);
    let mut values: Vec<String> = operator_objects().iter().map(Value::to_string).collect();
    values.extend(OPERATOR_STRINGS.iter().map(|s| s.to_string()));
    for route in ["/products", "/orders/my"] {
        for v in &values {
            for param in ["cursor", "limit"] {
                let res = app
                    .get(&format!("{route}?{param}={}", enc(v)), Some(&alice))
                    .await;
                assert_eq!(invalid_fields(&res), [param], "{route}?{param}={v}");
            }
        }
        // Bracket syntax some frameworks turn into nested objects is just an unknown name here.
        for (q, field) in [
            ("cursor[$ne]=x", "cursor[$ne]"),
            ("limit[$gt]=0", "limit[$gt]"),
            ("isActive=false", "isActive"),
            ("userId[$ne]=x", "userId[$ne]"),
        ] {
            let res = app.get(&format!("{route}?{q}"), Some(&alice)).await;
            assert_eq!(invalid_fields(&res), [field], "{route}?{q}");
        }
    }
}

#[tokio::test]
async fn operator_payloads_in_a_webhook_change_nothing() {
    let h = hook().await;
    for op in operator_objects() {
        for field in ["merchantOrderId", "state", "merchantRefundId"] {
            let mut body = h.completed.clone();
            body["payload"][field] = op.clone();
            h.post(Some(&h.auth), body.to_string().into_bytes())
                .await
                .problem(400, "INVALID_JSON");
        }
    }
    for s in OPERATOR_STRINGS {
        let mut body = h.completed.clone();
        body["payload"]["merchantOrderId"] = json!(s);
        // An id we never issued is acknowledged (so PhonePe stops retrying) and ignored.
        assert_success(
            &h.post(Some(&h.auth), body.to_string().into_bytes()).await,
            200,
        );
    }
    h.assert_unpaid().await;
}

// ---------------------------------------------------------------------------------------
// Body size, depth and shape
// ---------------------------------------------------------------------------------------

/// Pads valid JSON with trailing whitespace to exactly `len` bytes.
fn padded(body: &Value, len: usize) -> Vec<u8> {
    let mut b = body.to_string().into_bytes();
    assert!(b.len() <= len);
    b.resize(len, b' ');
    b
}

#[tokio::test]
async fn bodies_up_to_64_kib_are_read_and_larger_ones_are_413() {
    let app = TestApp::spawn().await;
    let p = product(&app, SLUG, 50_000, 20).await;
    let add = json!({ "productId": p.to_hex(), "quantity": 1 });
    let token = app.token(&fresh_user("user_big"));
    let user = bearer(&token);
    let res = send(
        &app,
        Method::POST,
        "/cart/add",
        Some(&user),
        Some(padded(&add, MAX_BODY_BYTES)),
    )
    .await;
    assert_success(&res, 200);
    let paid = order_in(&app, ALICE, "paid").await;
    let admin = bearer(&app.admin_token());
    let fresh = || bearer(&app.token(&fresh_user("user_big")));
    let mut over: Vec<(String, String, Value)> = vec![
        ("/cart/add".into(), user.clone(), add.clone()),
        ("/cart/update".into(), user.clone(), add.clone()),
        (
            "/cart/remove".into(),
            user.clone(),
            json!({ "productId": p.to_hex() }),
        ),
        (
            "/checkout/apply-coupon".into(),
            fresh(),
            json!({ "code": "X" }),
        ),
        ("/orders/create".into(), fresh(), order_body()),
        (
            "/payments/phonepe/initiate".into(),
            user.clone(),
            json!({ "orderId": paid.to_hex() }),
        ),
    ];
    for action in ["ship", "pack", "deliver", "cancel"] {
        let path = format!("/admin/orders/{}/{action}", paid.to_hex());
        over.push((path, admin.clone(), json!({})));
    }
    for (path, auth, body) in over {
        for len in [MAX_BODY_BYTES + 1, 1024 * 1024] {
            send(
                &app,
                Method::POST,
                &path,
                Some(&auth),
                Some(padded(&body, len)),
            )
            .await
            .problem(413, "PAYLOAD_TOO_LARGE");
        }
    }
    assert_eq!(status_of(&app, paid).await, "paid");
    let cart = app.get("/cart", Some(&token)).await;
    assert_eq!(
        cart.ok()["items"][0]["quantity"],
        1,
        "only the in-limit add counted"
    );
}

#[tokio::test]
async fn deeply_nested_json_is_a_400_problem_not_a_crash() {
    let app = TestApp::spawn().await;
    let paid = order_in(&app, ALICE, "paid").await;
    let admin = bearer(&app.admin_token());
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let routes: Vec<(String, bool)> = vec![
        ("/cart/add".into(), false),
        ("/cart/update".into(), false),
        ("/cart/remove".into(), false),
        ("/checkout/apply-coupon".into(), false),
        ("/orders/create".into(), false),
        ("/payments/phonepe/initiate".into(), false),
        (format!("/admin/orders/{}/ship", paid.to_hex()), true),
        (format!("/admin/orders/{}/pack", paid.to_hex()), true),
        (format!("/admin/orders/{}/deliver", paid.to_hex()), true),
        (format!("/admin/orders/{}/cancel", paid.to_hex()), true),
    ];
    for (path, is_admin) in &routes {
        // A fresh customer per request keeps checkout's 5/min limit out of the picture.
        let caller = || {
            if *is_admin {
                admin.clone()
            } else {
                bearer(&app.token(&fresh_user("user_deep")))
            }
        };
        for n in [10_000, 30_000] {
            // Skimmed without recursion and refused for its shape: not an object.
            let res = send(
                &app,
                Method::POST,
                path,
                Some(&caller()),
                Some(deep(n).into_bytes()),
            )
            .await;
            assert_eq!(invalid_fields(&res), ["body"], "{path} {n}");
            // Unbalanced, so not JSON at all.
            let res = send(
                &app,
                Method::POST,
                path,
                Some(&caller()),
                Some("[".repeat(n).into_bytes()),
            )
            .await;
            refused(&res, 400, "INVALID_JSON", path);
        }
        // Depth inside a field: the field's type is wrong long before the depth matters.
        let field = match path.as_str() {
            "/checkout/apply-coupon" => "code",
            "/orders/create" => "notes",
            "/payments/phonepe/initiate" => "orderId",
            p if p.ends_with("/ship") => "trackingNumber",
            p if p.ends_with("/cancel") => "reason",
            p if p.ends_with("/pack") || p.ends_with("/deliver") => "",
            _ => "productId",
        };
        if !field.is_empty() {
            let objects = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
            for inner in [deep(10_000), objects] {
                let body = format!("{{\"{field}\":{inner}}}");
                let res = send(
                    &app,
                    Method::POST,
                    path,
                    Some(&caller()),
                    Some(body.into_bytes()),
                )
                .await;
                assert_eq!(invalid_fields(&res), [field], "{path}");
            }
        }
    }
    assert_eq!(status_of(&app, paid).await, "paid");
    assert_success(&app.get("/health", None).await, 200);
}

#[tokio::test]
async fn a_json_array_is_not_an_object_body() {
    // Regression: serde fills a struct from an array by position, so `["<id>", 1]` used to
    // add to the cart as if it were `{"productId": "<id>", "quantity": 1}`.
    let app = TestApp::spawn().await;
    let p = product(&app, SLUG, 50_000, 20).await;
    let user = fresh_user("user_array");
    let token = app.token(&user);
    for body in [
        json!([p.to_hex(), 1]),
        json!([]),
        json!("productId"),
        json!(1),
        json!(null),
        json!(true),
    ] {
        let res = app.post("/cart/add", Some(&token), body.clone()).await;
        assert_eq!(invalid_fields(&res), ["body"], "{body}");
    }
    assert_eq!(
        app.get("/cart", Some(&token)).await.ok()["items"],
        json!([])
    );
    let paid = order_in(&app, ALICE, "paid").await;
    let res = app
        .post(
            &format!("/admin/orders/{}/ship", paid.to_hex()),
            Some(&app.admin_token()),
            json!(["1234567890", "Delhivery"]),
        )
        .await;
    assert_eq!(invalid_fields(&res), ["body"]);
    let res = app
        .post(
            &format!("/admin/orders/{}/cancel", paid.to_hex()),
            Some(&app.admin_token()),
            json!(["changed my mind"]),
        )
        .await;
    assert_eq!(invalid_fields(&res), ["body"]);
    assert_eq!(status_of(&app, paid).await, "paid");
    // Broken JSON that merely starts like an array is still reported as broken JSON.
    send(
        &app,
        Method::POST,
        "/cart/add",
        Some(&bearer(&token)),
        Some(b"[1, 2".to_vec()),
    )
    .await
    .problem(400, "INVALID_JSON");
}

#[test]
fn issuer_in_the_matrix_tokens_is_the_configured_one() {
    assert_eq!(alice_claims()["iss"], ISSUER);
}
