//! Every integer a request can carry, at the edges of what a JSON number can say: each integer
//! request-body property (nested ones too) and query parameter that `openapi.yaml` declares, in
//! every operation, is sent as 0, −1, i64::MIN, i64::MAX and 2^53+1 inside an otherwise valid
//! request. Whatever the value, the answer is never a 5xx or a dropped connection, always
//! JSON (a problem document for a 4xx), and a 4xx changes nothing.
//!
//! The fields come from the spec, so a new integer field is fuzzed the day it is documented;
//! a new operation with one needs its valid request in `base` (the test says so).

use crate::orders::{fill_cart, product};
use crate::owner_refunds::paid;
use crate::payments::app_with_sim;
use crate::support::TestApp;
use futures::TryStreamExt;
use mongodb::bson::{doc, oid::ObjectId, Document};
use reqwest::Method;
use serde_json::{json, Value};
use std::fmt;

const EDGES: [i64; 5] = [0, -1, i64::MIN, i64::MAX, (1 << 53) + 1];

/// Collections a refused request must leave exactly as they were.
const STATE: [&str; 5] = ["products", "coupons", "carts", "orders", "stock_movements"];

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Where an integer sits in a request.
#[derive(Debug, Clone, PartialEq)]
enum Place {
    Body(Vec<Step>),
    Query(String),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Query(name) => write!(f, "?{name}="),
            Place::Body(steps) => {
                for (i, step) in steps.iter().enumerate() {
                    match step {
                        Step::Key(k) if i == 0 => write!(f, "{k}")?,
                        Step::Key(k) => write!(f, ".{k}")?,
                        Step::Index(n) => write!(f, "[{n}]")?,
                    }
                }
                Ok(())
            }
        }
    }
}

struct Operation {
    id: String,
    method: Method,
    path: String,
    integers: Vec<Place>,
}

fn spec() -> Value {
    crate::openapi::document()
}

/// `node` with its `$ref` (if any) followed.
fn resolve<'a>(spec: &'a Value, node: &'a Value) -> &'a Value {
    match node["$ref"].as_str() {
        Some(r) => resolve(
            spec,
            spec.pointer(r.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("dangling $ref {r}")),
        ),
        None => node,
    }
}

/// Every integer under `schema`, as paths from the body's root.
fn integers_in(spec: &Value, schema: &Value, at: &[Step], out: &mut Vec<Place>) {
    let schema = resolve(spec, schema);
    for part in schema["allOf"].as_array().into_iter().flatten() {
        integers_in(spec, part, at, out);
    }
    if schema["type"] == "integer" {
        out.push(Place::Body(at.to_vec()));
    }
    for (key, property) in schema["properties"].as_object().into_iter().flatten() {
        let mut next = at.to_vec();
        next.push(Step::Key(key.clone()));
        integers_in(spec, property, &next, out);
    }
    if let Some(items) = schema.get("items") {
        let mut next = at.to_vec();
        next.push(Step::Index(0));
        integers_in(spec, items, &next, out);
    }
}

/// Every operation of the spec with the integers its requests can carry.
fn operations(spec: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else {
                continue;
            };
            if op.get("operationId").is_none() {
                continue;
            }
            let mut integers = Vec::new();
            let params = item["parameters"].as_array().into_iter().flatten();
            for param in params.chain(op["parameters"].as_array().into_iter().flatten()) {
                let param = resolve(spec, param);
                if param["in"] == "query" && resolve(spec, &param["schema"])["type"] == "integer" {
                    integers.push(Place::Query(param["name"].as_str().unwrap().to_owned()));
                }
            }
            if let Some(schema) = op
                .pointer("/requestBody/content/application~1json/schema")
                .filter(|_| method != Method::GET)
            {
                integers_in(spec, schema, &[], &mut integers);
            }
            ops.push(Operation {
                id: op["operationId"].as_str().unwrap().to_owned(),
                method,
                path: path.clone(),
                integers,
            });
        }
    }
    ops
}

/// What the requests are built from: one app over the seeded catalog, a shopper with a cart,
/// a paid order, a coupon.
struct Fixture {
    app: TestApp,
    _sim: phonepe_sim::SimHandle,
    product: ObjectId,
    /// The product's one variant.
    variant: String,
    order: String,
    user: &'static str,
}

/// A request about to be sent.
struct Call {
    path: String,
    token: Option<String>,
    body: Option<Value>,
}

/// A valid request of operation `op` for the integer at `place`, unique per `n` where it
/// creates something (so the integer, not a taken slug, decides the answer).
fn base(op: &Operation, place: &Place, f: &Fixture, n: usize) -> Call {
    let admin = Some(f.app.admin_token());
    let shopper = Some(f.app.token(f.user));
    let product = f.product.to_hex();
    let (token, body) = match op.id.as_str() {
        "addToCart" | "updateCartItem" => (shopper, json!({ "productId": product, "quantity": 1 })),
        // A preview takes the refund's body, so the same base request serves both.
        "refundOrder" | "previewRefund" => {
            let body = match place {
                Place::Body(steps) if steps[0] == Step::Key("lines".into()) => {
                    json!({ "lines": [{ "productId": product, "quantity": 1 }], "restock": true, "reason": "edges" })
                }
                _ => json!({ "amount": 100, "restock": false, "reason": "edges" }),
            };
            (admin, body)
        }
        "createProduct" => (
            admin,
            json!({ "name": "Edge Lota", "slug": format!("edge-lota-{n}"), "price": 49_900,
                    "stock": 5, "hsn": "7418", "gstRate": 500 }),
        ),
        "updateProduct" | "updateCoupon" | "updateVariant" => (admin, json!({})),
        "adjustStock" | "adjustVariantStock" => (admin, json!({ "delta": 1, "reason": "edges" })),
        // The product has no options, so a second variant is refused whatever its integers:
        // what matters here is that no integer gets past validation into a 5xx or a change.
        "addVariant" => (admin, json!({ "price": 39_900, "stock": 1 })),
        "createCoupon" => (
            admin,
            json!({ "code": format!("EDGE{n}"), "type": "flat", "value": 100 }),
        ),
        // Its body is CSV, not JSON: sent without one, its query is still read (and refused)
        // first, and an empty file changes nothing.
        "importShopifyProducts" => (admin, Value::Null),
        "listProducts" => (None, Value::Null),
        "listMyOrders" => (shopper, Value::Null),
        "listOrders" | "listAdminProducts" | "listStockMovements" | "listCoupons" => {
            (admin, Value::Null)
        }
        other => panic!(
            "{other} takes an integer ({place}): give it a valid request in integer_edges::base"
        ),
    };
    let path = op
        .path
        .replace(
            "{id}",
            if op.path.starts_with("/admin/orders") {
                &f.order
            } else {
                &product
            },
        )
        .replace("{code}", "WELCOME10")
        .replace("{variantId}", &f.variant);
    Call {
        path,
        token,
        body: (!body.is_null()).then_some(body),
    }
}

/// `body` with the value at `steps` set to `value`.
fn set(body: &mut Value, steps: &[Step], value: i64) {
    let mut at = body;
    for step in steps {
        at = match step {
            Step::Key(k) => &mut at[k.as_str()],
            Step::Index(i) => {
                if !at.is_array() {
                    *at = json!([{}]);
                }
                &mut at[*i]
            }
        };
    }
    *at = json!(value);
}

async fn state(app: &TestApp) -> Vec<Vec<Document>> {
    let mut all = Vec::new();
    for name in STATE {
        let docs: Vec<Document> = app
            .db()
            .collection::<Document>(name)
            .find(doc! {})
            .sort(doc! { "_id": 1 })
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        all.push(docs);
    }
    all
}

async fn fixture() -> Fixture {
    let (app, sim) = app_with_sim().await;
    app.seed().await;
    let product = product(&app, "edge-urli", 100_000, 50).await;
    let (order, _) = paid(&app, &sim, "user_edges_payer", &[(product, 2)], None).await;
    let variant = crate::support::only_variant_id(&app, product)
        .await
        .to_hex();
    Fixture {
        variant,
        app,
        _sim: sim,
        product,
        order,
        user: "user_edges",
    }
}

#[tokio::test]
async fn no_integer_of_any_route_gets_a_5xx_or_changes_anything_when_refused() {
    let spec = spec();
    let ops = operations(&spec);
    let f = fixture().await;
    let mut tried = Vec::new();
    let mut n = 0;
    for op in &ops {
        for place in &op.integers {
            for value in EDGES {
                n += 1;
                let call = base(op, place, &f, n);
                // The shopper's cart holds the line that `updateCartItem` changes (0 removes it).
                fill_cart(&f.app, f.user, &[(f.product, 1)]).await;
                let mut url = format!("{}{}", f.app.base, call.path);
                let mut body = call.body;
                match place {
                    Place::Query(name) => url.push_str(&format!("?{name}={value}")),
                    Place::Body(steps) => set(body.get_or_insert_with(|| json!({})), steps, value),
                }
                let what = format!("{} {} {place} = {value}", op.method, op.path);
                let before = state(&f.app).await;
                let mut req = f.app.http.request(op.method.clone(), &url);
                if let Some(t) = &call.token {
                    req = req.bearer_auth(t);
                }
                if let Some(b) = &body {
                    req = req.json(b);
                }
                let res = req
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{what}: no answer ({e})"));
                let status = res.status();
                let kind = res
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let text = res
                    .text()
                    .await
                    .unwrap_or_else(|e| panic!("{what}: answer cut off ({e})"));
                assert!(!status.is_server_error(), "{what}: {status} {text}");
                let json: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|_| panic!("{what}: {status} is not JSON: {text}"));
                if status.is_client_error() {
                    assert_eq!(kind, "application/problem+json", "{what}: {status}");
                    assert!(json["code"].is_string(), "{what}: {text}");
                    assert!(
                        before == state(&f.app).await,
                        "{what}: refused ({status} {}) but changed the database",
                        json["code"]
                    );
                } else {
                    assert!(kind.starts_with("application/json"), "{what}: {kind}");
                }
                tried.push(format!("{what} → {status}"));
            }
        }
    }
    let fuzzed: std::collections::BTreeSet<&str> = ops
        .iter()
        .filter(|o| !o.integers.is_empty())
        .map(|o| o.id.as_str())
        .collect();
    // The spec walk itself: these are known to carry integers, so finding none means it broke.
    for known in [
        "addToCart",
        "refundOrder",
        "adjustStock",
        "createCoupon",
        "listOrders",
    ] {
        assert!(fuzzed.contains(known), "{known} not fuzzed: {fuzzed:?}");
    }
    assert!(
        tried.iter().any(|t| t.contains("lines[0].quantity")),
        "nested integers are fuzzed too"
    );
    println!("{}", tried.join("\n"));
}

/// Amounts and limits a JavaScript client could not read back exactly (above 2^53) are refused
/// with the field named, rather than stored: the console and storefronts are JavaScript.
#[tokio::test]
async fn coupon_amounts_and_limits_beyond_a_javascript_number_are_refused_by_name() {
    let app = TestApp::spawn().await;
    let admin = Some(app.admin_token());
    let too_big = (1_i64 << 53) + 1;
    for field in [
        "value",
        "minOrderValue",
        "maxDiscount",
        "usageLimit",
        "perCustomerLimit",
    ] {
        let mut body =
            json!({ "code": format!("BIG{}", field.len()), "type": "flat", "value": 100 });
        body[field] = json!(too_big);
        let res = app.post("/admin/coupons", admin.as_deref(), body).await;
        let problem = res.problem(400, "VALIDATION_FAILED");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    let coupons = app.count("coupons").await;
    assert_eq!(coupons, 0, "nothing was stored");
}
