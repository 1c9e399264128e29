//! The sample events in `events/` driven through the Lambda event path (API Gateway HTTP
//! API v2 → router → API Gateway response), as `cargo lambda invoke` and `sam local invoke` do.

use crate::support::TestApp;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;

pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

pub fn load_event(name: &str) -> Value {
    let text = std::fs::read_to_string(events_dir().join(format!("{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Swaps the placeholder bearer tokens for freshly minted ones.
pub fn with_tokens(app: &TestApp, mut event: Value) -> Value {
    if let Some(auth) = event["headers"]["authorization"].as_str() {
        let fresh = match auth {
            "Bearer DEV_TOKEN" => Some(format!("Bearer {}", app.token("user_events"))),
            "Bearer DEV_ADMIN_TOKEN" => Some(format!("Bearer {}", app.admin_token())),
            _ => None,
        };
        if let Some(f) = fresh {
            event["headers"]["authorization"] = Value::String(f);
        }
    }
    event
}

pub async fn invoke(app: &TestApp, name: &str) -> Value {
    let event = with_tokens(app, load_event(name));
    let router = dev_server::app(&app.functions);
    let mut ctx = lambda_runtime::Context::default();
    ctx.request_id = "lambda-request-7".into();
    common::platform::lambda::handle_http_event(router, event, ctx)
        .await
        .unwrap()
}

#[tokio::test]
async fn products_list_event_answers_from_the_database() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let res = invoke(&app, "products-list").await;
    assert_eq!(res["statusCode"], 200, "{res}");
    let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 5);
    assert!(body["nextCursor"].is_string());
    assert_eq!(
        res["headers"]["x-request-id"], "lambda-request-7",
        "Lambda's request id is used"
    );
}

#[tokio::test]
async fn product_event_finds_the_seeded_urli() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let res = invoke(&app, "products-get").await;
    assert_eq!(res["statusCode"], 200, "{res}");
}

#[tokio::test]
async fn every_http_event_reaches_a_route() {
    let app = TestApp::spawn().await;
    app.seed().await;
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let event = load_event(&name);
        if !common::platform::lambda::is_http_event(&event) {
            continue;
        }
        let res = invoke(&app, &name).await;
        let body = res["body"].as_str().unwrap_or_default();
        assert!(
            !body.contains("ROUTE_NOT_FOUND") && !body.contains("METHOD_NOT_ALLOWED"),
            "{name}: {res}"
        );
        let status = res["statusCode"].as_i64().unwrap();
        if name == "payments-webhook" {
            // Its Authorization is PhonePe's hash of credentials this app is not configured
            // with; the webhook's own tests cover it.
            continue;
        }
        assert!(
            status != 401 && status != 403 && status < 500 || status == 501 || status == 502,
            "{name}: {res}"
        );
    }
}

/// Each Lambda's router, built exactly as its `main.rs` builds it: from its own `Settings`,
/// through its own constructor.
async fn built_as_its_main_builds_it(name: &str, vars: &HashMap<String, String>) -> axum::Router {
    use common::integrations::phonepe::PhonePe;
    use common::platform::clock::SystemClock;
    use common::platform::config::from_vars;
    use common::platform::services::Services;
    use common::shop::messages::mail::Mailer;
    use std::sync::Arc;
    let router = match name {
        "products" => {
            let config: products::Settings = from_vars(vars).unwrap();
            products::router(
                &Services::init(config, &common::shop::indexes(), SystemClock::shared())
                    .await
                    .unwrap(),
            )
        }
        "cart" => {
            let (config, seller): cart::Settings = from_vars(vars).unwrap();
            let services = Services::init(config, &common::shop::indexes(), SystemClock::shared())
                .await
                .unwrap();
            cart::router(&services, Arc::new(seller))
        }
        "coupons" => {
            let (config, seller): coupons::Settings = from_vars(vars).unwrap();
            let services = Services::init(config, &common::shop::indexes(), SystemClock::shared())
                .await
                .unwrap();
            coupons::router(&services, Arc::new(seller))
        }
        "orders" => {
            let (config, seller, mail, numbering): orders::Settings = from_vars(vars).unwrap();
            let services = Services::init(config, &common::shop::indexes(), SystemClock::shared())
                .await
                .unwrap();
            let mailer = Arc::new(Mailer::new(&mail, services.clock.clone()).await);
            orders::router(&services, Arc::new(seller), mailer, numbering)
        }
        "payments-initiate" => {
            let (config, phonepe, redirect, window): payments_initiate::Settings =
                from_vars(vars).unwrap();
            let services = Services::init(config, &common::shop::indexes(), SystemClock::shared())
                .await
                .unwrap();
            let phonepe = Arc::new(PhonePe::new(&phonepe).unwrap());
            payments_initiate::router(&services, phonepe, redirect, window)
        }
        "payments-webhook" => {
            let (config, phonepe, credentials, mail): payments_webhook::Settings =
                from_vars(vars).unwrap();
            let services = Services::init(config, &common::shop::indexes(), SystemClock::shared())
                .await
                .unwrap();
            let phonepe = Arc::new(
                PhonePe::with_timeout(&phonepe, payments_webhook::CONFIRM_TIMEOUT).unwrap(),
            );
            let mailer = Arc::new(Mailer::new(&mail, services.clock.clone()).await);
            payments_webhook::router(&services, phonepe, credentials, mailer)
        }
        "admin-ship" => {
            let (config, seller, mail, console): admin_ship::Settings = from_vars(vars).unwrap();
            let services = Services::init(config, &common::shop::indexes(), SystemClock::shared())
                .await
                .unwrap();
            let mailer = Arc::new(Mailer::new(&mail, services.clock.clone()).await);
            admin_ship::AdminShip::new(services, Arc::new(seller), mailer, console).router()
        }
        other => panic!("{other} is not a known function"),
    };
    common::platform::http::finish(router)
}

/// Found by the benchmark: payments-webhook's `main.rs` asked for the mail settings only, so
/// the deployed webhook never read PhonePe's callback credentials and refused every callback
/// with 401, while the dev server (which reads every setting) passed every test. Each Lambda
/// is now built here exactly as its `main.rs` builds it, from its own `Settings`, and must
/// serve its sample events without a 401 or a 5xx.
#[tokio::test]
async fn each_lambda_serves_its_sample_events_with_only_its_own_settings() {
    let app = TestApp::spawn().await;
    app.seed().await;
    let (_, sim) = phonepe_sim::spawn(phonepe_sim::SimConfig::default())
        .await
        .unwrap();
    let cfg = sim.config().clone();
    let mut vars = crate::support::base_vars(app.db().name());
    for (k, v) in [
        ("PHONEPE_CLIENT_ID", cfg.client_id.clone()),
        ("PHONEPE_CLIENT_SECRET", cfg.client_secret.clone()),
        ("PHONEPE_PG_URL", sim.base_url()),
        ("PHONEPE_OAUTH_URL", sim.base_url()),
        ("PHONEPE_WEBHOOK_USERNAME", cfg.webhook_username.clone()),
        ("PHONEPE_WEBHOOK_PASSWORD", cfg.webhook_password.clone()),
        (
            "PHONEPE_REDIRECT_URL",
            "https://shop.example/o/{orderId}".into(),
        ),
        ("SES_FROM", "orders@pitalya.example".into()),
        // Mail is best effort after the commit; an unreachable SES only queues it.
        ("AWS_ENDPOINT_URL_SES", "http://127.0.0.1:9".into()),
    ] {
        vars.insert(k.into(), v);
    }
    let webhook_auth =
        phonepe_sim::webhook_authorization(&cfg.webhook_username, &cfg.webhook_password);
    let lambdas = [
        "products",
        "cart",
        "coupons",
        "orders",
        "payments-initiate",
        "payments-webhook",
        "admin-ship",
    ];
    let mut served = 0;
    for name in lambdas {
        let router = built_as_its_main_builds_it(name, &vars).await;
        for entry in std::fs::read_dir(events_dir()).unwrap() {
            let path = entry.unwrap().path();
            let event_name = path.file_stem().unwrap().to_str().unwrap().to_owned();
            let mut event = with_tokens(&app, load_event(&event_name));
            let path_of = event["rawPath"].as_str().unwrap_or_default().to_owned();
            let owns = event_name.starts_with(name) || (name == "products" && path_of == "/health");
            if !owns || !common::platform::lambda::is_http_event(&event) {
                continue;
            }
            if name == "payments-webhook" {
                event["headers"]["authorization"] = webhook_auth.clone().into();
            }
            let mut ctx = lambda_runtime::Context::default();
            ctx.request_id = format!("needs-{event_name}");
            let res = common::platform::lambda::handle_http_event(router.clone(), event, ctx)
                .await
                .unwrap();
            let status = res["statusCode"].as_u64().unwrap();
            assert!(
                status != 401 && status < 500,
                "{name} built from its own Settings answered {event_name} with {res}"
            );
            served += 1;
        }
    }
    assert!(served >= 18, "only {served} sample events were replayed");
}

/// API Gateway as it really sends events: a named stage in `rawPath` (every function used to
/// answer those 404 ROUTE_NOT_FOUND), a base64 body, cookies and mixed-case headers — through
/// the hand-written adapter (admin-ship) and through lambda_http's own parsing, which the six
/// other binaries run.
#[tokio::test]
async fn named_stages_base64_bodies_cookies_and_mixed_case_headers_reach_their_routes() {
    use tower::ServiceExt;
    let app = TestApp::spawn().await;
    app.seed().await;
    let urli = app.get("/products/kuber-brass-urli", None).await.ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let staged = invoke(&app, "products-list-named-stage").await;
    assert_eq!(staged["statusCode"], 200, "{staged}");

    let mut event = with_tokens(&app, load_event("cart-add-base64-cookies"));
    use base64::Engine;
    event["body"] = base64::engine::general_purpose::STANDARD
        .encode(serde_json::json!({ "productId": urli, "quantity": 1 }).to_string())
        .into();
    let router = dev_server::app(&app.functions);
    let res = common::platform::lambda::handle_http_event(
        router.clone(),
        event.clone(),
        Default::default(),
    )
    .await
    .unwrap();
    assert_eq!(res["statusCode"], 200, "hand adapter: {res}");
    assert_eq!(res["headers"]["x-request-id"], "sample-mixed-case");

    for name in ["products-list-named-stage", "cart-add-base64-cookies"] {
        let ev = if name == "cart-add-base64-cookies" {
            event.clone()
        } else {
            load_event(name)
        };
        let request = lambda_http::request::from_str(&ev.to_string()).unwrap();
        let response = common::platform::http::lambda_service(router.clone())
            .oneshot(request)
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "lambda_http path: {name}");
    }

    // An event lambda_http cannot read is still a problem document, not a failed invocation.
    let mut broken = load_event("products-list");
    broken["headers"] = serde_json::json!("not a map");
    let res = common::platform::lambda::handle_http_event(router, broken, Default::default()).await;
    let res = res.expect("answered, not an invocation error");
    assert_eq!(res["statusCode"], 400, "{res}");
}

/// Found by review: API Gateway hands on a query string as the client sent it, and a raw
/// space or `"` made lambda_http panic turning the event into a request, so the invocation
/// failed before any handler ran. Both Lambda paths now answer a problem document.
#[tokio::test]
async fn a_raw_space_or_quote_in_the_query_string_is_a_problem_not_a_failed_invocation() {
    use tower::ServiceExt;
    let app = TestApp::spawn().await;
    let event = load_event("products-list-raw-query");
    assert_eq!(event["rawQueryString"], "q=a b\"");
    let router = dev_server::app(&app.functions);
    let mut ctx = lambda_runtime::Context::default();
    ctx.request_id = "lambda-raw-query".into();

    let assert_problem = |res: &Value, path: &str| {
        assert_eq!(res["statusCode"], 400, "{path}: {res}");
        assert_eq!(
            res["headers"]["content-type"], "application/problem+json",
            "{path}: {res}"
        );
        assert_eq!(res["headers"]["x-request-id"], "lambda-raw-query", "{path}");
        let body: Value = serde_json::from_str(res["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["code"], "VALIDATION_FAILED", "{path}: {body}");
        assert_eq!(body["errors"][0]["field"], "query", "{path}: {body}");
        assert_eq!(body["requestId"], "lambda-raw-query", "{path}: {body}");
    };

    // The six functions `run_lambda` runs: lambda_http's own parsing, behind the guard.
    let request: lambda_http::request::LambdaRequest =
        serde_json::from_value(event.clone()).unwrap();
    let answer = common::platform::http::lambda_handler(router.clone())
        .oneshot(lambda_runtime::LambdaEvent::new(request, ctx.clone()))
        .await
        .unwrap();
    assert_problem(&serde_json::to_value(answer).unwrap(), "run_lambda");

    // admin-ship's adapter, which also takes direct invocations.
    let res = common::platform::lambda::handle_http_event(router.clone(), event, ctx.clone())
        .await
        .expect("answered, not an invocation error");
    assert_problem(&res, "admin-ship");

    // The same query percent-encoded, as browsers send it, is served.
    let mut encoded = load_event("products-list");
    encoded["rawQueryString"] = "limit=2&cursor=a%20b%22".into();
    let request: lambda_http::request::LambdaRequest = serde_json::from_value(encoded).unwrap();
    let answer = common::platform::http::lambda_handler(router)
        .oneshot(lambda_runtime::LambdaEvent::new(request, ctx))
        .await
        .unwrap();
    let res = serde_json::to_value(answer).unwrap();
    assert_ne!(res["statusCode"], 500, "{res}");
    assert!(res["body"].as_str().unwrap().contains("cursor"), "{res}");
}

/// admin-ship answers API Gateway itself (it also takes direct invocations), so it must hand a
/// PDF over as base64, as lambda_http does for the other functions: read as text, every byte
/// that is not UTF-8 would reach the owner replaced.
#[tokio::test]
async fn a_pdf_leaves_admin_ships_lambda_as_base64_byte_for_byte() {
    use base64::Engine;
    let app = TestApp::spawn().await;
    let number = crate::invoices::shipped_order_number(&app).await;
    let mut event = with_tokens(&app, load_event("admin-ship-invoice-pdf"));
    let path = format!("/admin/orders/{number}/invoice.pdf");
    event["rawPath"] = Value::String(path.clone());
    event["requestContext"]["http"]["path"] = Value::String(path.clone());
    event["pathParameters"]["id"] = Value::String(number.clone());
    let router = dev_server::app(&app.functions);
    let res = common::platform::lambda::handle_http_event(router, event, Default::default())
        .await
        .unwrap();
    assert_eq!(res["statusCode"], 200, "{res}");
    assert_eq!(res["isBase64Encoded"], true, "{res}");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(res["body"].as_str().unwrap())
        .unwrap();
    let served = app
        .http
        .get(format!("{}{path}", app.base))
        .bearer_auth(app.admin_token())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert_eq!(bytes, served.to_vec(), "the same bytes as over HTTP");

    // Problem documents and JSON stay text.
    let json = invoke(&app, "admin-ship-invoice").await;
    assert_eq!(json["isBase64Encoded"], false, "{json}");
}
