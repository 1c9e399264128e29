//! GST and shipping over HTTP: the cart, the coupon quote and checkout price a cart the same
//! way (shipping fee, free-shipping threshold, the ₹1.00 floor), checkout locks the order's
//! tax in, an order with nothing to pay is paid at once, and a product the shop cannot tax
//! is refused by name.

use crate::orders::{
    cart_doc, count, coupon, create, fill_cart, order_body, order_doc, product, stock, used,
};
use crate::support::{base_vars, Resp, TestApp};
use common::platform::config::{from_vars, Config, Section};
use common::shop::tax::seller::SellerConfig;
use mongodb::bson::{doc, Document};
use serde_json::{json, Value};

const URLI: i64 = 249_900;

async fn spawn_shipping(fee: i64, free_min: i64) -> TestApp {
    TestApp::spawn_with(|v| {
        v.insert("SHIPPING_FEE".into(), fee.to_string());
        v.insert("FREE_SHIPPING_MIN".into(), free_min.to_string());
    })
    .await
}

pub(crate) async fn quote(app: &TestApp, user: &str, code: &str) -> Resp {
    app.post(
        "/checkout/apply-coupon",
        Some(&app.token(user)),
        json!({ "code": code }),
    )
    .await
}

async fn cart(app: &TestApp, user: &str) -> Value {
    app.get("/cart", Some(&app.token(user))).await.ok().clone()
}

fn body_to(state: &str, code: Option<&str>) -> Value {
    let mut body = order_body();
    body["shippingAddress"]["state"] = json!(state);
    if let Some(code) = code {
        body["couponCode"] = json!(code);
    }
    body
}

/// The contract's worked example: a ₹2,499 product at 5 % with a ₹200 flat coupon, sold by
/// the sample seller in Tamil Nadu.
#[tokio::test]
async fn the_worked_example_is_taxed_within_tamil_nadu_and_across_to_karnataka() {
    let app = TestApp::spawn().await;
    let urli = product(&app, "tax-urli", URLI, 10).await;
    coupon(
        &app,
        json!({ "code": "FLAT200", "type": "flat", "value": 20_000 }),
    )
    .await;

    for (user, state, want) in [
        ("user_tax_tn", "Tamil Nadu", (5_474, 5_474, 0)),
        ("user_tax_ka", "Karnataka", (0, 0, 10_948)),
    ] {
        fill_cart(&app, user, &[(urli, 1)]).await;
        let q = quote(&app, user, "FLAT200").await;
        assert_eq!(
            q.ok(),
            &json!({ "code": "FLAT200", "subtotal": URLI, "discount": 20_000, "shippingFee": 0, "newTotal": 229_900 })
        );

        let res = create(&app, user, body_to(state, Some("FLAT200")), None).await;
        assert_eq!(res.status.as_u16(), 201, "{}", res.body);
        let order = &res.body;
        assert_eq!(order["subtotal"], URLI);
        assert_eq!(order["discount"], 20_000);
        assert_eq!(order["shippingFee"], 0);
        assert_eq!(order["total"], 229_900);
        let tax = &order["tax"];
        let inter = state != "Tamil Nadu";
        assert_eq!(
            tax["sellerState"],
            json!({ "code": "33", "name": "Tamil Nadu" })
        );
        assert_eq!(tax["placeOfSupply"]["name"], state);
        assert_eq!(tax["interState"], inter, "{tax}");
        assert_eq!(tax["taxableValue"], 218_952);
        assert_eq!(
            (
                tax["cgst"].clone(),
                tax["sgst"].clone(),
                tax["igst"].clone()
            ),
            (json!(want.0), json!(want.1), json!(want.2))
        );
        assert_eq!(tax["totalTax"], 10_948);
        assert_eq!(
            tax["lines"],
            json!([{ "productId": urli.to_hex(), "hsn": "7418", "rate": 500, "taxableValue": 218_952,
                     "cgst": want.0, "sgst": want.1, "igst": want.2 }])
        );
        assert_eq!(
            tax["shipping"],
            json!({ "rate": 500, "taxableValue": 0, "cgst": 0, "sgst": 0, "igst": 0 })
        );

        // Stored once, as shown, and read back the same by GET.
        let id = order["id"].as_str().unwrap();
        let stored = order_doc(&app, id).await;
        assert_eq!(
            stored
                .get_document("tax")
                .unwrap()
                .get_i64("totalTax")
                .unwrap(),
            10_948
        );
        assert_eq!(stored.get_i64("shippingFee").unwrap(), 0);
        let again = app
            .get(&format!("/orders/{id}"), Some(&app.token(user)))
            .await;
        assert_eq!(again.ok()["tax"], *tax);
    }
}

/// `SHIPPING_FEE` ₹49 below a ₹1,000 threshold judged after the discount, shown the same by
/// the cart, the coupon quote and the order, and taxed at the goods' rate.
#[tokio::test]
async fn shipping_and_the_free_threshold_agree_in_cart_quote_and_order() {
    let app = spawn_shipping(4_900, 100_000).await;
    let lamp = product(&app, "tax-lamp", 60_000, 10).await;
    coupon(
        &app,
        json!({ "code": "FLAT300", "type": "flat", "value": 30_000 }),
    )
    .await;
    let user = "user_ship";

    fill_cart(&app, user, &[(lamp, 1)]).await;
    let c = cart(&app, user).await;
    assert_eq!(
        (
            c["subtotal"].clone(),
            c["shippingFee"].clone(),
            c["total"].clone()
        ),
        (json!(60_000), json!(4_900), json!(64_900))
    );

    // ₹1,200 ships free in the cart ...
    fill_cart(&app, user, &[(lamp, 2)]).await;
    let c = cart(&app, user).await;
    assert_eq!(
        (
            c["subtotal"].clone(),
            c["shippingFee"].clone(),
            c["total"].clone()
        ),
        (json!(120_000), json!(0), json!(120_000))
    );

    // ... but ₹300 off leaves ₹900, under the threshold: the coupon brings the fee back.
    let q = quote(&app, user, "FLAT300").await;
    assert_eq!(
        q.ok(),
        &json!({ "code": "FLAT300", "subtotal": 120_000, "discount": 30_000, "shippingFee": 4_900, "newTotal": 94_900 })
    );
    let res = create(&app, user, body_to("Kerala", Some("FLAT300")), None).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let o = &res.body;
    assert_eq!(
        (
            o["subtotal"].clone(),
            o["discount"].clone(),
            o["shippingFee"].clone(),
            o["total"].clone()
        ),
        (json!(120_000), json!(30_000), json!(4_900), json!(94_900))
    );
    let tax = &o["tax"];
    // Shipping follows the goods' 5 %: ₹49 holds ₹2.33 of IGST.
    assert_eq!(
        tax["shipping"],
        json!({ "rate": 500, "taxableValue": 4_667, "cgst": 0, "sgst": 0, "igst": 233 })
    );
    let taxable = tax["taxableValue"].as_i64().unwrap();
    assert_eq!(taxable + tax["totalTax"].as_i64().unwrap(), 94_900, "{tax}");

    // Without the coupon the same cart ships free, and the order agrees with the cart.
    fill_cart(&app, user, &[(lamp, 2)]).await;
    let c = cart(&app, user).await;
    let res = create(&app, user, order_body(), None).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["shippingFee"], c["shippingFee"]);
    assert_eq!(res.body["total"], c["total"]);
    assert_eq!(res.body["total"], 120_000);
    assert_eq!(res.body["tax"]["shipping"]["taxableValue"], 0);
}

/// PhonePe cannot collect ₹0.01–₹0.99: a coupon that would leave that much leaves ₹1.00,
/// in the quote and in the order alike.
#[tokio::test]
async fn a_total_under_one_rupee_is_raised_to_one_rupee_in_quote_and_order() {
    let app = TestApp::spawn().await;
    let diya = product(&app, "tax-diya", 50_000, 10).await;
    coupon(
        &app,
        json!({ "code": "ALMOST", "type": "flat", "value": 49_950 }),
    )
    .await;
    let user = "user_floor";
    fill_cart(&app, user, &[(diya, 1)]).await;

    let q = quote(&app, user, "ALMOST").await;
    assert_eq!(
        q.ok(),
        &json!({ "code": "ALMOST", "subtotal": 50_000, "discount": 49_900, "shippingFee": 0, "newTotal": 100 })
    );
    let res = create(&app, user, body_to("Tamil Nadu", Some("ALMOST")), None).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    assert_eq!(res.body["discount"], 49_900);
    assert_eq!(res.body["total"], 100);
    assert_eq!(res.body["status"], "created");
    assert_eq!(res.body["payment"]["provider"], "phonepe");
    let tax = &res.body["tax"];
    assert_eq!(
        tax["taxableValue"].as_i64().unwrap() + tax["totalTax"].as_i64().unwrap(),
        100
    );
}

/// A coupon that covers everything with shipping free leaves nothing to pay: the order is
/// paid at once, without PhonePe, and still takes its stock and sends both mails.
#[tokio::test]
async fn a_zero_total_order_is_created_paid_without_a_payment() {
    let app = TestApp::spawn().await;
    let bell = product(&app, "tax-bell", 50_000, 5).await;
    coupon(
        &app,
        json!({ "code": "ONUS", "type": "percent", "value": 100, "usageLimit": 10 }),
    )
    .await;
    let user = "user_free";
    fill_cart(&app, user, &[(bell, 2)]).await;

    let q = quote(&app, user, "ONUS").await;
    assert_eq!(q.ok()["newTotal"], 0);
    let res = create(&app, user, body_to("Tamil Nadu", Some("ONUS")), None).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.body);
    let o = &res.body;
    assert_eq!(
        (o["discount"].clone(), o["total"].clone()),
        (json!(100_000), json!(0))
    );
    assert_eq!(o["status"], "paid");
    assert_eq!(o["payment"]["provider"], "none");
    assert_eq!(o["payment"]["status"], "not_required");
    let history: Vec<&str> = o["statusHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["created", "paid"]);
    assert_eq!(o["tax"]["totalTax"], 0);

    let id = mongodb::bson::oid::ObjectId::parse_str(o["id"].as_str().unwrap()).unwrap();
    for event in ["order_placed", "payment_success"] {
        assert_eq!(
            count(&app, "mail_outbox", doc! { "orderId": id, "event": event }).await,
            1,
            "{event}"
        );
    }
    assert_eq!(stock(&app, bell).await, 3);
    assert_eq!(used(&app, "ONUS").await, 1);
    let cart = cart_doc(&app, user).await.unwrap();
    assert!(cart.get_array("items").unwrap().is_empty());
}

/// A product with no HSN code cannot be taxed, so it cannot be sold: checkout names it and
/// changes nothing, and the jobs backlog counts it for the owner.
#[tokio::test]
async fn a_product_without_hsn_is_refused_by_name_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let ok = product(&app, "tax-ok", 10_000, 5).await;
    let bare = product(&app, "tax-bare", 20_000, 5).await;
    app.db()
        .collection::<Document>("products")
        .update_one(doc! { "_id": bare }, doc! { "$unset": { "hsn": "" } })
        .await
        .unwrap();
    coupon(
        &app,
        json!({ "code": "TENOFF", "type": "flat", "value": 1_000, "usageLimit": 5 }),
    )
    .await;
    let user = "user_untaxed";
    fill_cart(&app, user, &[(ok, 1), (bare, 2)]).await;
    let cart_before = cart_doc(&app, user).await;

    let res = create(&app, user, body_to("Tamil Nadu", Some("TENOFF")), None).await;
    let problem = res.problem(409, "PRODUCT_NOT_TAXABLE");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("'Test tax-bare'"), "{detail}");
    assert!(!detail.contains("tax-ok"), "{detail}");
    assert_eq!(
        problem["lines"],
        json!([{ "productId": bare.to_hex(), "name": "Test tax-bare" }])
    );

    assert_eq!(count(&app, "orders", doc! {}).await, 0);
    assert_eq!(count(&app, "mail_outbox", doc! {}).await, 0);
    assert_eq!((stock(&app, ok).await, stock(&app, bare).await), (5, 5));
    assert_eq!(used(&app, "TENOFF").await, 0);
    assert_eq!(cart_doc(&app, user).await, cart_before);

    let backlog = jobs::measure_backlog(&app.jobs()).await.unwrap();
    assert_eq!(backlog.products_untaxed, 1);
}

fn seller_vars(tweak: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    let mut vars = base_vars("t_config");
    for (k, v) in tweak {
        vars.insert((*k).into(), (*v).into());
    }
    vars
}

/// A typo in the GSTIN fails the cold start naming the setting and the right check
/// character; so do the other seller settings, all in one message.
#[test]
fn a_bad_seller_gstin_fails_the_cold_start() {
    assert!(
        reads_seller::<orders::Settings>()
            && reads_seller::<cart::Settings>()
            && reads_seller::<coupons::Settings>()
    );
    type Seller = (Config, SellerConfig);

    let (_, seller) = from_vars::<Seller>(&seller_vars(&[])).unwrap();
    assert_eq!(seller.gstin.as_str(), "33AABCP1234Q1ZE");
    assert_eq!(seller.invoice_prefix.as_str(), "PIT");
    assert_eq!(seller.credit_note_prefix.as_str(), "PCN");
    assert_eq!(seller.shipping.fee, common::shop::Paise::ZERO);

    let err = from_vars::<Seller>(&seller_vars(&[("SELLER_GSTIN", "33AABCP1234Q1ZF")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("SELLER_GSTIN"), "{err}");
    assert!(err.contains("should be 'E'"), "{err}");

    let mut vars = seller_vars(&[
        ("INVOICE_PREFIX", "pit/"),
        ("SHIPPING_FEE", "49.00"),
        ("FREE_SHIPPING_MIN", "-1"),
    ]);
    vars.remove("SELLER_GSTIN");
    vars.remove("SELLER_NAME");
    let err = from_vars::<Seller>(&vars).unwrap_err();
    for name in [
        "SELLER_GSTIN is required",
        "SELLER_NAME",
        "INVOICE_PREFIX",
        "SHIPPING_FEE",
        "FREE_SHIPPING_MIN",
    ] {
        assert!(
            err.problems.iter().any(|p| p.contains(name)),
            "{name}: {:?}",
            err.problems
        );
    }

    // A function that does not price or tax is not bothered by the seller settings.
    assert!(from_vars::<products::Settings>(&vars).is_ok());
}

const SELLER_SETTINGS: [&str; 7] = [
    "SELLER_NAME",
    "SELLER_GSTIN",
    "SELLER_ADDRESS",
    "INVOICE_PREFIX",
    "CREDIT_NOTE_PREFIX",
    "SHIPPING_FEE",
    "FREE_SHIPPING_MIN",
];

/// Whether the settings `S` include the seller section: with every other setting given and
/// no seller setting, reading them fails.
fn reads_seller<S: Section>() -> bool {
    let mut vars = base_vars("t_config");
    crate::support::unreachable_unless_given(&mut vars);
    for v in SELLER_SETTINGS {
        vars.remove(v);
    }
    from_vars::<S>(&vars).is_err()
}

/// A function whose `Settings` have the seller section refuses to start without it, so the
/// template must give it every seller setting; a function that does not read them gets none.
#[test]
fn the_template_gives_the_seller_settings_to_exactly_the_functions_that_read_them() {
    let needs = [
        ("products", reads_seller::<products::Settings>()),
        ("cart", reads_seller::<cart::Settings>()),
        ("coupons", reads_seller::<coupons::Settings>()),
        ("orders", reads_seller::<orders::Settings>()),
        (
            "payments-initiate",
            reads_seller::<payments_initiate::Settings>(),
        ),
        (
            "payments-webhook",
            reads_seller::<payments_webhook::Settings>(),
        ),
        ("admin-ship", reads_seller::<admin_ship::Settings>()),
        ("jobs", reads_seller::<jobs::Settings>()),
    ];
    let text = std::fs::read_to_string(
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml"),
    )
    .unwrap();
    let blocks: Vec<&str> = text
        .split("Type: AWS::Serverless::Function")
        .skip(1)
        .collect();
    assert_eq!(blocks.len(), needs.len(), "one block per function");
    for block in blocks {
        let function = block
            .lines()
            .find_map(|l| l.trim().strip_prefix("CodeUri:"))
            .and_then(|uri| uri.trim().rsplit('/').next())
            .expect("every function has a CodeUri");
        let (_, need) = needs
            .iter()
            .find(|(name, _)| *name == function)
            .unwrap_or_else(|| panic!("{function} is not a known function"));
        let given: Vec<&str> = SELLER_SETTINGS
            .into_iter()
            .filter(|v| block.contains(&format!("{v}: !Ref")))
            .collect();
        let want: &[&str] = if *need { &SELLER_SETTINGS } else { &[] };
        assert_eq!(given, want, "{function}");
    }
}
