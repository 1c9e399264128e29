//! Drives the simulator over HTTP exactly as a PhonePe client would.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use phonepe_sim::{spawn, FailMode, HookOptions, SimConfig, SimHandle, Switches};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

/// The SDK test vector: sha256("username:password").
const VECTOR_AUTH: &str = "bc842c31a9e54efe320d30d948be61291f3ceee4766e36ab25fa65243cd76e0e";

struct Sim {
    handle: SimHandle,
    base: String,
    http: Client,
}

async fn start_with(config: SimConfig) -> Sim {
    let (_, handle) = spawn(config).await.expect("simulator starts");
    Sim {
        base: handle.base_url(),
        handle,
        http: Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    }
}

async fn start() -> Sim {
    start_with(SimConfig {
        webhook_username: "username".into(),
        webhook_password: "password".into(),
        refund_delay_ms: 100,
        ..SimConfig::default()
    })
    .await
}

impl Sim {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn token_response(&self, id: &str, secret: &str) -> reqwest::Response {
        self.http
            .post(self.url("/v1/oauth/token"))
            .form(&[
                ("client_id", id),
                ("client_secret", secret),
                ("client_version", "1"),
                ("grant_type", "client_credentials"),
            ])
            .send()
            .await
            .unwrap()
    }

    async fn auth(&self) -> String {
        let cfg = self.handle.config();
        let body: Value = self
            .token_response(&cfg.client_id, &cfg.client_secret)
            .await
            .json()
            .await
            .unwrap();
        format!("O-Bearer {}", body["access_token"].as_str().unwrap())
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let auth = self.auth().await;
        let resp = self
            .http
            .post(self.url(path))
            .header("authorization", auth)
            .json(&body)
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json().await.unwrap())
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        let auth = self.auth().await;
        let resp = self
            .http
            .get(self.url(path))
            .header("authorization", auth)
            .send()
            .await
            .unwrap();
        (resp.status(), resp.json().await.unwrap())
    }

    async fn pay(&self, merchant_order_id: &str, amount: i64) -> Value {
        let (status, body) = self
            .post("/checkout/v2/pay", pay_body(merchant_order_id, amount))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    async fn status(&self, merchant_order_id: &str) -> Value {
        let (status, body) = self
            .get(&format!(
                "/checkout/v2/order/{merchant_order_id}/status?details=true&details=true"
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

fn pay_body(merchant_order_id: &str, amount: i64) -> Value {
    json!({
        "merchantOrderId": merchant_order_id,
        "amount": amount,
        "metaInfo": { "udf1": "order-42" },
        "expireAfter": 1200,
        "paymentFlow": {
            "type": "PG_CHECKOUT",
            "message": "Pitalya order",
            "merchantUrls": { "redirectUrl": "https://shop.example/orders/42" }
        }
    })
}

type Hits = Arc<Mutex<Vec<(String, Value)>>>;

/// A merchant webhook endpoint that records (Authorization, body) and answers 200.
async fn receiver() -> (String, Hits) {
    let hits: Hits = Arc::default();
    let sink = hits.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let body = serde_json::from_str(&body).unwrap_or(Value::Null);
                sink.lock().unwrap().push((auth, body));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, hits)
}

fn assert_phonepe_error(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    assert!(body["message"].is_string(), "{body}");
    assert!(body["data"].is_object(), "{body}");
}

#[tokio::test]
async fn token_endpoint_issues_o_bearer_tokens_with_epoch_second_expiry() {
    let sim = start().await;
    let cfg = sim.handle.config();
    let resp = sim.token_response(&cfg.client_id, &cfg.client_secret).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "O-Bearer");
    assert!(body["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(body["encrypted_access_token"].is_string());
    assert!(body["refresh_token"].is_null());
    let issued = body["issued_at"].as_i64().unwrap();
    assert_eq!(body["expires_at"].as_i64().unwrap(), issued + 3600);
    assert_eq!(body["expires_in"], 3600);
    let now = chrono::Utc::now().timestamp();
    assert!((now - issued).abs() < 5, "issued_at is epoch seconds");
}

#[tokio::test]
async fn wrong_client_credentials_get_invalid_client() {
    let sim = start().await;
    let resp = sim.token_response("someone", "wrong").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "INVALID_CLIENT");
    assert_eq!(body["errorCode"], "INVALID_CLIENT");
    assert_eq!(
        body["data"]["errorDescription"],
        "Client Authentication Failure"
    );
}

#[tokio::test]
async fn pg_calls_without_a_valid_token_get_401() {
    let sim = start().await;
    for auth in [None, Some("O-Bearer nope"), Some("Bearer whatever")] {
        let mut req = sim
            .http
            .post(sim.url("/checkout/v2/pay"))
            .json(&pay_body("MO-401", 100));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(
            body,
            json!({"code": "UNAUTHORIZED", "message": "Unauthorized", "data": {}})
        );
    }
}

#[tokio::test]
async fn tokens_stop_working_after_expiry_and_after_revocation() {
    let sim = start_with(SimConfig {
        token_ttl_secs: 1,
        ..SimConfig::default()
    })
    .await;
    let auth = sim.auth().await;
    let status_of = |auth: String| {
        let req = sim
            .http
            .get(sim.url("/checkout/v2/order/none/status"))
            .header("authorization", auth);
        async move { req.send().await.unwrap().status() }
    };
    assert_eq!(status_of(auth.clone()).await, StatusCode::BAD_REQUEST);
    sim.handle.advance_clock(Duration::from_millis(2100));
    assert_eq!(status_of(auth).await, StatusCode::UNAUTHORIZED);

    let fresh = sim.auth().await;
    sim.handle.revoke_tokens();
    assert_eq!(status_of(fresh).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pay_returns_pending_order_with_hosted_page_url() {
    let sim = start().await;
    let before = chrono::Utc::now().timestamp_millis();
    let body = sim.pay("MO_pay-1", 12_990_000).await;
    let order_id = body["orderId"].as_str().unwrap();
    assert!(
        order_id.starts_with("OMO") && order_id.len() == 3 + 15 + 7,
        "{order_id}"
    );
    assert_eq!(body["state"], "PENDING");
    let expire_at = body["expireAt"].as_i64().unwrap();
    assert!(
        (expire_at - before - 1_200_000).abs() < 5_000,
        "expireAt is ms"
    );
    let redirect = body["redirectUrl"].as_str().unwrap();
    assert!(
        redirect.starts_with(&format!("{}/pay/", sim.base)),
        "{redirect}"
    );

    let status = sim.status("MO_pay-1").await;
    assert_eq!(status["state"], "PENDING");
    assert_eq!(status["orderId"], order_id);
    assert_eq!(status["merchantOrderId"], "MO_pay-1");
    assert_eq!(status["merchantId"], "PITALYASIM");
    assert_eq!(status["amount"], 12_990_000);
    assert_eq!(status["payableAmount"], 12_990_000);
    assert_eq!(status["feeAmount"], 0);
    assert_eq!(status["metaInfo"]["udf1"], "order-42");
    assert_eq!(status["paymentDetails"], json!([]));
}

/// PhonePe's SDK flow for apps: the official SDKs' `create_sdk_order` posts the pay body to
/// `/checkout/v2/sdk/order` and gets `{orderId, state, expireAt, token}` back; the order is
/// then like any other (status, completion, webhook).
#[tokio::test]
async fn sdk_order_returns_a_token_for_the_app_and_completes_like_any_order() {
    let sim = start().await;
    let (url, hits) = receiver().await;
    sim.handle.set_webhook_url(Some(url));
    let before = chrono::Utc::now().timestamp_millis();
    // As the Python SDK's `CreateSdkOrderRequest.build_standard_checkout_request` sends it.
    let (status, body) = sim
        .post(
            "/checkout/v2/sdk/order",
            json!({
                "merchantOrderId": "MO-sdk-1",
                "amount": 49_900,
                "metaInfo": { "udf1": "order-42" },
                "paymentFlow": {
                    "type": "PG_CHECKOUT",
                    "message": "Pitalya order",
                    "merchantUrls": { "redirectUrl": "https://shop.example/orders/42" }
                },
                "expireAfter": 900,
                "disablePaymentRetry": null
            }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{body}");
    let order_id = body["orderId"].as_str().unwrap();
    assert!(order_id.starts_with("OMO"), "{order_id}");
    assert_eq!(body["state"], "PENDING");
    let expire_at = body["expireAt"].as_i64().unwrap();
    assert!(
        (expire_at - before - 900_000).abs() < 5_000,
        "expireAt is ms"
    );
    let token = body["token"].as_str().unwrap();
    assert!(!token.is_empty());
    assert!(body.get("redirectUrl").is_none(), "{body}");

    let status = sim.status("MO-sdk-1").await;
    assert_eq!(status["orderId"], order_id);
    assert_eq!(status["amount"], 49_900);
    assert_eq!(status["state"], "PENDING");
    sim.handle
        .complete_order("MO-sdk-1", HookOptions::default())
        .await
        .unwrap();
    sim.handle
        .wait_for_webhooks(1, Duration::from_secs(5))
        .await;
    assert_eq!(sim.status("MO-sdk-1").await["state"], "COMPLETED");
    assert_eq!(hits.lock().unwrap().len(), 1);

    // One merchantOrderId is one order, whichever flow created it; bad bodies are refused as
    // pay refuses them.
    let (dup, body) = sim
        .post("/checkout/v2/sdk/order", pay_body("MO-sdk-1", 49_900))
        .await;
    assert_eq!(dup, StatusCode::BAD_REQUEST, "{body}");
    let (dup, _) = sim
        .post("/checkout/v2/pay", pay_body("MO-sdk-1", 49_900))
        .await;
    assert_eq!(dup, StatusCode::BAD_REQUEST);
    let mut no_flow = pay_body("MO-sdk-2", 49_900);
    no_flow.as_object_mut().unwrap().remove("paymentFlow");
    let (bad, body) = sim.post("/checkout/v2/sdk/order", no_flow).await;
    assert_eq!(bad, StatusCode::BAD_REQUEST);
    assert_phonepe_error(&body, "BAD_REQUEST");
    let unauthenticated = sim
        .http
        .post(sim.url("/checkout/v2/sdk/order"))
        .json(&pay_body("MO-sdk-3", 49_900))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn completing_via_script_hook_marks_order_completed_and_sends_signed_webhook() {
    let sim = start().await;
    let (url, hits) = receiver().await;
    sim.handle.set_webhook_url(Some(url));
    sim.pay("MO-complete", 50_000).await;

    let resp = sim
        .http
        .post(sim.url("/simulator/orders/MO-complete/complete"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let hooked: Value = resp.json().await.unwrap();
    assert_eq!(hooked["state"], "COMPLETED");

    let status = sim.status("MO-complete").await;
    assert_eq!(status["state"], "COMPLETED");
    let detail = &status["paymentDetails"][0];
    assert!(detail["transactionId"].as_str().unwrap().starts_with("OM"));
    assert_eq!(detail["state"], "COMPLETED");
    assert_eq!(detail["amount"], 50_000);
    assert_eq!(detail["paymentMode"], "UPI_QR");
    assert_eq!(detail["rail"]["type"], "UPI");
    assert!(detail["rail"]["utr"].is_string());
    assert_eq!(detail["instrument"]["type"], "ACCOUNT");

    let records = sim
        .handle
        .wait_for_webhooks(1, Duration::from_secs(5))
        .await;
    assert!(records[0].delivered(), "{records:?}");
    let hits = hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 1);
    let (auth, body) = &hits[0];
    assert_eq!(auth, VECTOR_AUTH);
    assert_eq!(body["event"], "checkout.order.completed");
    assert_eq!(body["type"], "CHECKOUT_ORDER_COMPLETED");
    assert_eq!(body["payload"]["merchantOrderId"], "MO-complete");
    assert_eq!(body["payload"]["state"], "COMPLETED");
    assert_eq!(body["payload"]["amount"], 50_000);
    assert_eq!(
        body["payload"]["paymentDetails"][0]["transactionId"],
        detail["transactionId"]
    );
}

#[tokio::test]
async fn completing_twice_adds_no_attempt_and_resends_only_when_asked() {
    let sim = start().await;
    let (url, hits) = receiver().await;
    sim.handle.set_webhook_url(Some(url));
    sim.pay("MO-twice", 100).await;
    sim.handle
        .complete_order("MO-twice", HookOptions::default())
        .await
        .unwrap();
    sim.handle
        .complete_order("MO-twice", HookOptions::default())
        .await
        .unwrap();
    let resend = HookOptions {
        resend_webhook: true,
        ..HookOptions::default()
    };
    let again = sim.handle.complete_order("MO-twice", resend).await.unwrap();
    assert_eq!(again["paymentDetails"].as_array().unwrap().len(), 1);
    sim.handle
        .wait_for_webhooks(2, Duration::from_secs(5))
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(hits.lock().unwrap().len(), 2);

    let err = sim
        .handle
        .fail_order("MO-twice", HookOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn webhook_amount_override_forges_a_mismatch_without_changing_the_order() {
    let sim = start().await;
    let (url, hits) = receiver().await;
    sim.handle.set_webhook_url(Some(url));
    sim.pay("MO-forged", 10_000).await;
    let resp = sim
        .http
        .post(sim.url("/simulator/orders/MO-forged/complete"))
        .json(&json!({"amount": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    sim.handle
        .wait_for_webhooks(1, Duration::from_secs(5))
        .await;
    let body = hits.lock().unwrap()[0].1.clone();
    assert_eq!(body["payload"]["amount"], 100);
    assert_eq!(body["payload"]["paymentDetails"][0]["amount"], 100);
    assert_eq!(sim.status("MO-forged").await["amount"], 10_000);
}

#[tokio::test]
async fn failing_via_script_hook_marks_order_failed_with_error_codes() {
    let sim = start().await;
    let (url, hits) = receiver().await;
    sim.handle.set_webhook_url(Some(url));
    sim.pay("MO-fail", 100).await;
    let resp = sim
        .http
        .post(sim.url("/simulator/orders/MO-fail/fail"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let status = sim.status("MO-fail").await;
    assert_eq!(status["state"], "FAILED");
    assert_eq!(status["errorCode"], "INSUFFICIENT_BALANCE");
    assert_eq!(status["detailedErrorCode"], "Z9");
    assert_eq!(status["paymentDetails"][0]["state"], "FAILED");

    sim.handle
        .wait_for_webhooks(1, Duration::from_secs(5))
        .await;
    let (_, body) = hits.lock().unwrap()[0].clone();
    assert_eq!(body["event"], "checkout.order.failed");
    assert_eq!(body["payload"]["state"], "FAILED");

    let (status, ctx) = sim
        .get("/checkout/v2/order/MO-fail/status?details=false&errorContext=true")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ctx["errorContext"]["detailedErrorCode"], "Z9");
}

#[tokio::test]
async fn status_accepts_repeated_details_and_false_shows_only_latest_attempt() {
    let sim = start().await;
    sim.pay("MO-details", 100).await;
    sim.handle
        .complete_order("MO-details", HookOptions::default())
        .await
        .unwrap();
    let (status, all) = sim
        .get("/checkout/v2/order/MO-details/status?details=true&details=true")
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["paymentDetails"].as_array().unwrap().len(), 1);
    let (status, latest) = sim
        .get("/checkout/v2/order/MO-details/status?details=false&details=false")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(latest["paymentDetails"].as_array().unwrap().len(), 1);
    let (status, bad) = sim
        .get("/checkout/v2/order/MO-details/status?details=maybe")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_phonepe_error(&bad, "BAD_REQUEST");
}

#[tokio::test]
async fn transaction_status_returns_the_order_with_that_attempt() {
    let sim = start().await;
    sim.pay("MO-txn", 100).await;
    let done = sim
        .handle
        .complete_order("MO-txn", HookOptions::default())
        .await
        .unwrap();
    let txn = done["paymentDetails"][0]["transactionId"].as_str().unwrap();
    let (status, body) = sim
        .get(&format!("/checkout/v2/transaction/{txn}/status"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["merchantOrderId"], "MO-txn");
    assert_eq!(body["paymentDetails"][0]["transactionId"], txn);
    let (status, body) = sim.get("/checkout/v2/transaction/OM123/status").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_phonepe_error(&body, "TRANSACTION_NOT_FOUND");
}

#[tokio::test]
async fn unknown_order_status_is_400_mapping_not_found() {
    let sim = start().await;
    let (status, body) = sim
        .get("/checkout/v2/order/NOPE/status?details=true&details=true")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        json!({
            "code": "MERCHANT_ORDER_MAPPING_NOT_FOUND",
            "message": "No entry found for Merchant",
            "data": {}
        })
    );
}

#[tokio::test]
async fn expired_orders_report_failed_auto_failed_and_send_the_webhook() {
    let sim = start().await;
    let (url, hits) = receiver().await;
    sim.handle.set_webhook_url(Some(url));
    sim.pay("MO-expire", 100).await;
    let resp = sim
        .http
        .post(sim.url("/simulator/orders/MO-expire/expire"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let status = sim.status("MO-expire").await;
    assert_eq!(status["state"], "FAILED");
    assert_eq!(status["errorCode"], "TXN_NOT_COMPLETED");
    assert_eq!(status["detailedErrorCode"], "TXN_AUTO_FAILED");
    assert_eq!(status["paymentDetails"], json!([]));
    sim.handle
        .wait_for_webhooks(1, Duration::from_secs(5))
        .await;
    assert_eq!(hits.lock().unwrap()[0].1["event"], "checkout.order.failed");
    let err = sim
        .handle
        .complete_order("MO-expire", HookOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "BAD_REQUEST");
}

#[tokio::test]
async fn refund_lifecycle_completes_and_over_refunds_are_rejected() {
    let sim = start().await;
    let (url, hits) = receiver().await;
    sim.handle.set_webhook_url(Some(url));
    sim.pay("MO-refund", 1_000).await;

    let refund = |id: &str, amount: i64| {
        let body = json!({"merchantRefundId": id, "originalMerchantOrderId": "MO-refund", "amount": amount});
        sim.post("/payments/v2/refund", body)
    };
    let (status, body) = refund("R-early", 500).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "pending orders cannot be refunded"
    );
    assert_phonepe_error(&body, "BAD_REQUEST");

    sim.handle
        .complete_order("MO-refund", HookOptions::default())
        .await
        .unwrap();
    let (status, body) = refund("R-1", 600).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["refundId"].as_str().unwrap().starts_with("OMR"));
    assert_eq!(body["amount"], 600);
    assert_eq!(body["state"], "PENDING");

    let (status, body) = refund("R-2", 401).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "cumulative cap: 600 + 401 > 1000"
    );
    assert_phonepe_error(&body, "BAD_REQUEST");
    let (status, body) = refund("R-1", 100).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], "Refund ID Duplicated");
    let (status, _) = refund("R-small", 99).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, pending) = sim.get("/payments/v2/refund/R-1/status").await;
    assert_eq!(pending["state"], "PENDING");
    assert_eq!(pending["originalMerchantOrderId"], "MO-refund");
    assert_eq!(pending["merchantRefundId"], "R-1");
    assert_eq!(pending["merchantId"], "PITALYASIM");

    // 1 order webhook + accepted + completed.
    sim.handle
        .wait_for_webhooks(3, Duration::from_secs(5))
        .await;
    let (_, done) = sim.get("/payments/v2/refund/R-1/status").await;
    assert_eq!(done["state"], "COMPLETED");
    assert_eq!(done["refundId"], body_refund_id(&sim).await);
    let events: Vec<String> = hits
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| b["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        events,
        [
            "checkout.order.completed",
            "pg.refund.accepted",
            "pg.refund.completed"
        ]
    );
    let completed = hits.lock().unwrap()[2].1.clone();
    assert_eq!(completed["payload"]["merchantRefundId"], "R-1");
    assert_eq!(completed["payload"]["originalMerchantOrderId"], "MO-refund");
    assert_eq!(completed["payload"]["state"], "COMPLETED");

    let (status, body) = refund("R-3", 400).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the remaining 400 is refundable: {body}"
    );
    let (status, body) = sim.get("/payments/v2/refund/NOPE/status").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_phonepe_error(&body, "MERCHANT_REFUND_MAPPING_NOT_FOUND");
}

async fn body_refund_id(sim: &Sim) -> Value {
    sim.handle
        .webhooks()
        .iter()
        .find(|w| w.event == "pg.refund.completed")
        .map(|w| w.body["payload"]["refundId"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn fail_refunds_switch_ends_refunds_failed_and_frees_the_amount() {
    let sim = start().await;
    sim.pay("MO-rf", 1_000).await;
    sim.handle
        .complete_order("MO-rf", HookOptions::default())
        .await
        .unwrap();
    sim.handle.update_switches(|s| s.fail_refunds = true);
    let body =
        json!({"merchantRefundId": "RF-1", "originalMerchantOrderId": "MO-rf", "amount": 1000});
    assert_eq!(
        sim.post("/payments/v2/refund", body).await.0,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (_, status) = sim.get("/payments/v2/refund/RF-1/status").await;
    assert_eq!(status["state"], "FAILED");
    assert!(sim
        .handle
        .webhooks()
        .iter()
        .any(|w| w.event == "pg.refund.failed"));
    let body =
        json!({"merchantRefundId": "RF-2", "originalMerchantOrderId": "MO-rf", "amount": 1000});
    assert_eq!(
        sim.post("/payments/v2/refund", body).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn duplicate_merchant_order_id_is_rejected() {
    let sim = start().await;
    sim.pay("MO-dup", 100).await;
    let (status, body) = sim.post("/checkout/v2/pay", pay_body("MO-dup", 100)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_phonepe_error(&body, "BAD_REQUEST");
}

#[tokio::test]
async fn malformed_pay_requests_get_phonepe_shaped_400s() {
    let sim = start().await;
    let long_id = "x".repeat(64);
    let mut no_flow = pay_body("MO-noflow", 100);
    no_flow.as_object_mut().unwrap().remove("paymentFlow");
    let mut wrong_flow = pay_body("MO-wrongflow", 100);
    wrong_flow["paymentFlow"]["type"] = json!("PG");
    let mut short_expiry = pay_body("MO-short", 100);
    short_expiry["expireAfter"] = json!(299);
    let mut bad_redirect = pay_body("MO-redirect", 100);
    bad_redirect["paymentFlow"]["merchantUrls"]["redirectUrl"] = json!("javascript:alert(1)");
    let cases = [
        json!([1, 2]),
        json!({}),
        pay_body("", 100),
        pay_body("has space", 100),
        pay_body(&long_id, 100),
        pay_body("MO-cheap", 99),
        json!({"merchantOrderId": "MO-str", "amount": "100", "paymentFlow": {"type": "PG_CHECKOUT"}}),
        json!({"merchantOrderId": "MO-frac", "amount": 100.5, "paymentFlow": {"type": "PG_CHECKOUT"}}),
        no_flow,
        wrong_flow,
        short_expiry,
        bad_redirect,
    ];
    for case in cases {
        let (status, body) = sim.post("/checkout/v2/pay", case.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{case} → {body}");
        assert_phonepe_error(&body, "BAD_REQUEST");
    }

    let auth = sim.auth().await;
    let resp = sim
        .http
        .post(sim.url("/checkout/v2/pay"))
        .header("authorization", auth)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_phonepe_error(&resp.json().await.unwrap(), "BAD_REQUEST");

    // Unknown keys are tolerated, and the minimal body works.
    let mut extra = pay_body("MO-extra", 100);
    extra["disablePaymentRetry"] = json!(true);
    assert_eq!(sim.post("/checkout/v2/pay", extra).await.0, StatusCode::OK);
    let minimal = json!({"merchantOrderId": "MO-min", "amount": 100, "paymentFlow": {"type": "PG_CHECKOUT", "merchantUrls": {}}});
    assert_eq!(
        sim.post("/checkout/v2/pay", minimal).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn fail_api_switch_makes_pg_calls_answer_500() {
    let sim = start().await;
    sim.pay("MO-500", 100).await;
    let auth = sim.auth().await;
    let resp = sim
        .http
        .post(sim.url("/simulator/config"))
        .json(&json!({"failApi": "500"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(sim.handle.switches().fail_api, Some(FailMode::ServerError));

    for path in [
        "/checkout/v2/order/MO-500/status?details=true",
        "/payments/v2/refund/R/status",
    ] {
        let resp = sim
            .http
            .get(sim.url(path))
            .header("authorization", &auth)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_phonepe_error(&resp.json().await.unwrap(), "INTERNAL_SERVER_ERROR");
    }
    let resp = sim
        .http
        .post(sim.url("/checkout/v2/pay"))
        .header("authorization", &auth)
        .json(&pay_body("MO-501", 100))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);

    let resp = sim
        .http
        .post(sim.url("/simulator/config"))
        .json(&json!({"failApi": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(sim.status("MO-500").await["state"], "PENDING");
}

#[tokio::test]
async fn fail_api_timeout_holds_the_request_past_client_timeouts() {
    let sim = start().await;
    let auth = sim.auth().await;
    sim.handle
        .update_switches(|s| s.fail_api = Some(FailMode::Timeout));
    let err = sim
        .http
        .get(sim.url("/checkout/v2/order/X/status"))
        .header("authorization", auth)
        .timeout(Duration::from_millis(300))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn fail_oauth_switch_makes_token_endpoint_answer_500() {
    let sim = start().await;
    sim.handle.update_switches(|s| s.fail_oauth = true);
    let cfg = sim.handle.config();
    let resp = sim.token_response(&cfg.client_id, &cfg.client_secret).await;
    assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn simulator_config_rejects_unknown_switches() {
    let sim = start().await;
    let resp = sim
        .http
        .post(sim.url("/simulator/config"))
        .json(&json!({"dropWebhook": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(sim.handle.switches(), Switches::default());
}

#[tokio::test]
async fn dropped_webhooks_are_recorded_but_not_sent() {
    let sim = start().await;
    let (url, hits) = receiver().await;
    sim.handle.set_webhook_url(Some(url));
    sim.handle.update_switches(|s| s.drop_webhooks = true);
    sim.pay("MO-drop", 100).await;
    sim.handle
        .complete_order("MO-drop", HookOptions::default())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(hits.lock().unwrap().is_empty());
    assert_eq!(sim.handle.webhook_count(), 0);
    let listed: Value = sim
        .http
        .get(sim.url("/simulator/webhooks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["webhooks"][0]["dropped"], true);
    assert_eq!(listed["webhooks"][0]["event"], "checkout.order.completed");
}

#[tokio::test]
async fn duplicate_webhooks_switch_sends_extra_copies() {
    let sim = start().await;
    let (url, hits) = receiver().await;
    sim.handle.set_webhook_url(Some(url));
    sim.handle.update_switches(|s| {
        s.duplicate_webhooks = 2;
        s.webhook_delay_ms = 50;
    });
    sim.pay("MO-dupe-hook", 100).await;
    sim.handle
        .complete_order("MO-dupe-hook", HookOptions::default())
        .await
        .unwrap();
    let records = sim
        .handle
        .wait_for_webhooks(3, Duration::from_secs(5))
        .await;
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.delivered()));
    let hits = hits.lock().unwrap();
    assert_eq!(hits.len(), 3);
    assert!(hits.iter().all(|(_, b)| *b == hits[0].1));
}

#[tokio::test]
async fn hosted_page_shows_the_order_and_pay_redirects_to_the_merchant() {
    let sim = start().await;
    let (url, hits) = receiver().await;
    sim.handle.set_webhook_url(Some(url));
    let page_url = sim.pay("MO-page", 12_990_000).await["redirectUrl"]
        .as_str()
        .unwrap()
        .to_owned();
    let html = sim
        .http
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("MO-page"));
    assert!(html.contains("₹1,29,900.00"));
    assert!(html.contains(">Pay</button>") && html.contains(">Fail</button>"));

    let resp = sim
        .http
        .post(format!("{page_url}/complete"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(resp.headers()["location"], "https://shop.example/orders/42");
    assert_eq!(sim.status("MO-page").await["state"], "COMPLETED");
    sim.handle
        .wait_for_webhooks(1, Duration::from_secs(5))
        .await;
    assert_eq!(hits.lock().unwrap().len(), 1);

    let missing = sim.http.get(sim.url("/pay/nope")).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn hosted_page_fail_without_merchant_url_shows_a_result_page() {
    let sim = start().await;
    let body = json!({"merchantOrderId": "MO-nourl", "amount": 100, "paymentFlow": {"type": "PG_CHECKOUT", "merchantUrls": {}}});
    let (_, created) = sim.post("/checkout/v2/pay", body).await;
    let page_url = created["redirectUrl"].as_str().unwrap();
    let resp = sim
        .http
        .post(format!("{page_url}/fail"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.text().await.unwrap().contains("Payment failed"));
    assert_eq!(sim.status("MO-nourl").await["state"], "FAILED");
}

#[tokio::test]
async fn reset_forgets_orders_but_keeps_issued_tokens() {
    let sim = start().await;
    let auth = sim.auth().await;
    sim.pay("MO-reset", 100).await;
    sim.handle.update_switches(|s| s.drop_webhooks = true);
    let resp = sim
        .http
        .post(sim.url("/simulator/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(sim.handle.switches(), Switches::default());
    let resp = sim
        .http
        .get(sim.url("/checkout/v2/order/MO-reset/status"))
        .header("authorization", auth)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_phonepe_shaped_errors() {
    let sim = start().await;
    let resp = sim.http.get(sim.url("/nope")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert_phonepe_error(&resp.json().await.unwrap(), "NOT_FOUND");
    let resp = sim
        .http
        .get(sim.url("/checkout/v2/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_phonepe_error(&resp.json().await.unwrap(), "METHOD_NOT_ALLOWED");
    let resp = sim
        .http
        .post(sim.url("/client/v1/backend/events/batch"))
        .json(&json!({"events": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[test]
fn webhook_authorization_matches_the_sdk_test_vector() {
    assert_eq!(
        phonepe_sim::webhook_authorization("username", "password"),
        VECTOR_AUTH
    );
}

#[test]
fn config_falls_back_to_the_apps_phonepe_variables() {
    // Only this test touches the environment in this binary.
    std::env::set_var("PHONEPE_CLIENT_ID", "app-client");
    std::env::set_var("SIM_CLIENT_ID", "");
    std::env::set_var("SIM_PORT", "4999");
    let cfg = SimConfig::from_env().unwrap();
    assert_eq!(cfg.client_id, "app-client");
    assert_eq!(cfg.client_version, "1");
    assert_eq!(cfg.merchant_id, "PITALYASIM");
    assert_eq!(cfg.port, 4999);
    assert_eq!(cfg.public_base_url, "http://127.0.0.1:4999");
    std::env::set_var("SIM_PORT", "0");
    assert_eq!(
        SimConfig::from_env().unwrap().public_base_url,
        "",
        "spawn fills it"
    );
    std::env::set_var("SIM_PORT", "not-a-port");
    assert!(SimConfig::from_env().is_err());
}

#[tokio::test]
async fn reset_discards_webhooks_still_in_flight() {
    let sim = start().await;
    let (url, hits) = receiver().await;
    sim.handle.set_webhook_url(Some(url));
    sim.handle.update_switches(|s| s.webhook_delay_ms = 200);
    sim.pay("MO-inflight", 100).await;
    sim.handle
        .complete_order("MO-inflight", HookOptions::default())
        .await
        .unwrap();
    sim.handle.reset();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(sim.handle.webhooks().is_empty());
    assert!(hits.lock().unwrap().is_empty());
}
