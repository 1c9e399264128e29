//! PhonePe's HTTP API (OAuth, pay, status, refund) and the `/simulator` control endpoints.

use std::time::Duration;

use axum::extract::{FromRequestParts, Path, RawQuery, State as Sim};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{json, Map, Value};

use crate::store::{self, Attempt, Attempts, ErrorCodes, Order, Refund, RefundState, State};
use crate::webhook::Event;
use crate::{lock, FailMode, HookOptions, SimError, SimState, Switches};

type ApiResult = Result<Json<Value>, SimError>;

/// PhonePe does not document the default; 20 minutes is a typical checkout window.
const DEFAULT_EXPIRE_AFTER_SECS: i64 = 1200;

pub(crate) fn routes() -> Router<SimState> {
    Router::new()
        .route("/v1/oauth/token", post(oauth_token))
        .route("/checkout/v2/pay", post(pay))
        .route("/checkout/v2/sdk/order", post(sdk_order))
        .route("/checkout/v2/order/{id}/status", get(order_status))
        .route(
            "/checkout/v2/transaction/{id}/status",
            get(transaction_status),
        )
        .route("/payments/v2/refund", post(refund))
        .route("/payments/v2/refund/{id}/status", get(refund_status))
        .route("/client/v1/backend/events/batch", post(events_batch))
        .route("/simulator/config", get(get_config).post(set_config))
        .route("/simulator/webhooks", get(list_webhooks))
        .route("/simulator/reset", post(reset))
        .route("/simulator/orders/{id}", get(hook_show))
        .route("/simulator/orders/{id}/complete", post(hook_complete))
        .route("/simulator/orders/{id}/fail", post(hook_fail))
        .route("/simulator/orders/{id}/expire", post(hook_expire))
}

pub(crate) async fn not_found() -> SimError {
    SimError::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such API")
}

pub(crate) async fn method_not_allowed() -> SimError {
    SimError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "Method not allowed",
    )
}

/// A single path parameter whose rejection is PhonePe-shaped rather than axum's plain text.
pub(crate) struct Id(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = SimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, SimError> {
        Path::<String>::from_request_parts(parts, state)
            .await
            .map(|Path(id)| Id(id))
            .map_err(|e| SimError::bad_request(e.body_text()))
    }
}

fn internal_error() -> SimError {
    SimError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_SERVER_ERROR",
        "Something went wrong (simulated by failApi)",
    )
}

// ---------------------------------------------------------------------------------------------
// OAuth

async fn oauth_token(Sim(sim): Sim<SimState>, body: Bytes) -> ApiResult {
    if sim.switches().fail_oauth {
        return Err(internal_error());
    }
    let form = parse_form(&body).ok_or_else(|| SimError::bad_request("Malformed form body"))?;
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let cfg = sim.config();
    let authentic = field("client_id") == Some(cfg.client_id.as_str())
        && field("client_secret") == Some(cfg.client_secret.as_str())
        && field("client_version") == Some(cfg.client_version.as_str());
    if !authentic {
        return Err(SimError {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "code": "INVALID_CLIENT",
                "errorCode": "INVALID_CLIENT",
                "message": "Client Authentication Failure",
                "data": { "errorDescription": "Client Authentication Failure" },
            }),
        });
    }
    if field("grant_type") != Some("client_credentials") {
        return Err(SimError::new(
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED_GRANT_TYPE",
            "grant_type must be client_credentials",
        ));
    }
    let issued_at = sim.now_ms() / 1000;
    let expires_at = issued_at + cfg.token_ttl_secs;
    let token = format!("sim.{}", store::random_hex(24));
    lock(&sim.inner.store)
        .tokens
        .insert(token.clone(), expires_at);
    Ok(Json(json!({
        "access_token": token,
        "encrypted_access_token": format!("enc.{}", store::random_hex(24)),
        "expires_in": cfg.token_ttl_secs,
        "issued_at": issued_at,
        "expires_at": expires_at,
        "session_expires_at": expires_at,
        "token_type": "O-Bearer",
        "refresh_token": null,
    })))
}

/// `application/x-www-form-urlencoded` decoding; None on bad percent-escapes or non-UTF-8.
fn parse_form(body: &[u8]) -> Option<Vec<(String, String)>> {
    fn decode(s: &str) -> Option<String> {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' => {
                    let hex = s.get(i + 1..i + 3)?;
                    out.push(u8::from_str_radix(hex, 16).ok()?);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            Some((decode(k)?, decode(v)?))
        })
        .collect()
}

/// Fault injection and token check shared by every PG call.
/// The `slow*` switches: a PhonePe that answers, just late.
async fn hold(ms: u64) {
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

async fn guard(sim: &SimState, headers: &HeaderMap) -> Result<(), SimError> {
    match sim.switches().fail_api {
        Some(FailMode::ServerError) => return Err(internal_error()),
        Some(FailMode::Timeout) => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            return Err(internal_error());
        }
        None => {}
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("O-Bearer "))
        .map(str::trim);
    let now = sim.now_ms() / 1000;
    let valid = token.is_some_and(|t| {
        lock(&sim.inner.store)
            .tokens
            .get(t)
            .is_some_and(|&exp| exp > now)
    });
    if valid {
        Ok(())
    } else {
        Err(SimError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Unauthorized",
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// Request-body helpers: every malformed input becomes a PhonePe-shaped 400.

fn json_object(body: &[u8]) -> Result<Map<String, Value>, SimError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(SimError::bad_request("Request body must be a JSON object.")),
        Err(e) => Err(SimError::bad_request(format!("Invalid JSON: {e}"))),
    }
}

fn required_str<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a str, SimError> {
    match m.get(key) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            Err(SimError::bad_request(format!("{key} must not be blank.")))
        }
        Some(_) => Err(SimError::bad_request(format!("{key} must be a string."))),
    }
}

fn optional_int(m: &Map<String, Value>, key: &str) -> Result<Option<i64>, SimError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| SimError::bad_request(format!("{key} must be an integer."))),
    }
}

fn amount(m: &Map<String, Value>) -> Result<i64, SimError> {
    let amount = optional_int(m, "amount")?
        .ok_or_else(|| SimError::bad_request("amount must not be null."))?;
    if amount < 100 {
        return Err(SimError::bad_request(
            "amount must be greater than or equal to 100.",
        ));
    }
    Ok(amount)
}

fn merchant_id_field<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a str, SimError> {
    let id = required_str(m, key)?;
    if id.len() > 63 {
        return Err(SimError::bad_request(format!(
            "{key} must be at most 63 characters."
        )));
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(SimError::bad_request(format!(
            "{key} may only contain letters, digits, '_' and '-'."
        )));
    }
    Ok(id)
}

fn meta_info(m: &Map<String, Value>) -> Result<Option<Value>, SimError> {
    let meta = match m.get("metaInfo") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(meta)) => meta,
        Some(_) => return Err(SimError::bad_request("metaInfo must be an object.")),
    };
    for (key, value) in meta {
        let Some(n) = key.strip_prefix("udf").and_then(|n| n.parse::<u8>().ok()) else {
            continue;
        };
        let Some(s) = value.as_str() else {
            if value.is_null() {
                continue;
            }
            return Err(SimError::bad_request(format!(
                "metaInfo.{key} must be a string."
            )));
        };
        let limit = if n <= 10 { 256 } else { 50 };
        if s.chars().count() > limit {
            return Err(SimError::bad_request(format!(
                "metaInfo.{key} must be at most {limit} characters."
            )));
        }
    }
    Ok(Some(Value::Object(meta.clone())))
}

/// Validates `paymentFlow` and returns the merchant redirect URL, if any.
fn payment_flow(m: &Map<String, Value>) -> Result<Option<String>, SimError> {
    let Some(Value::Object(flow)) = m.get("paymentFlow") else {
        return Err(SimError::bad_request("paymentFlow must not be null."));
    };
    if flow.get("type").and_then(Value::as_str) != Some("PG_CHECKOUT") {
        return Err(SimError::bad_request(
            "paymentFlow.type must be PG_CHECKOUT.",
        ));
    }
    let urls = match flow.get("merchantUrls") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(urls)) => urls,
        Some(_) => {
            return Err(SimError::bad_request(
                "paymentFlow.merchantUrls must be an object.",
            ))
        }
    };
    match urls.get("redirectUrl") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(url))
            if (url.starts_with("http://") || url.starts_with("https://"))
                && HeaderValue::from_str(url).is_ok() =>
        {
            Ok(Some(url.clone()))
        }
        Some(_) => Err(SimError::bad_request(
            "paymentFlow.merchantUrls.redirectUrl must be an http(s) URL.",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Pay and status

/// What creating an order answers besides its id, state and expiry: the hosted page for the
/// browser flow, a token for PhonePe's app SDK.
#[derive(Clone, Copy)]
enum Checkout {
    HostedPage,
    AppSdk,
}

/// `POST /checkout/v2/pay`: the Standard Checkout order, paid on the hosted page.
async fn pay(Sim(sim): Sim<SimState>, headers: HeaderMap, body: Bytes) -> ApiResult {
    create_order(sim, headers, body, Checkout::HostedPage).await
}

/// `POST /checkout/v2/sdk/order`: the same order for PhonePe's app SDK, which the official
/// SDKs create with the pay request's body (`merchantOrderId`, `amount`, `expireAfter`,
/// `metaInfo`, `paymentFlow` of type `PG_CHECKOUT`) and which answers a `token` the app
/// opens the payment with instead of a `redirectUrl`.
async fn sdk_order(Sim(sim): Sim<SimState>, headers: HeaderMap, body: Bytes) -> ApiResult {
    create_order(sim, headers, body, Checkout::AppSdk).await
}

async fn create_order(sim: SimState, headers: HeaderMap, body: Bytes, kind: Checkout) -> ApiResult {
    guard(&sim, &headers).await?;
    hold(sim.switches().slow_pay_ms).await;
    let req = json_object(&body)?;
    let merchant_order_id = merchant_id_field(&req, "merchantOrderId")?.to_owned();
    let amount = amount(&req)?;
    let expire_after = optional_int(&req, "expireAfter")?.unwrap_or(DEFAULT_EXPIRE_AFTER_SECS);
    if !(300..=3600).contains(&expire_after) {
        return Err(SimError::bad_request(
            "expireAfter must be between 300 and 3600 seconds.",
        ));
    }
    let redirect_url = payment_flow(&req)?;
    let meta_info = meta_info(&req)?;

    // The store's lock must be released before any await below.
    let response = {
        let mut store = lock(&sim.inner.store);
        if store.orders.contains_key(&merchant_order_id) {
            return Err(SimError::bad_request(format!(
                "Duplicate merchantOrderId {merchant_order_id}: it was already used for an order."
            )));
        }
        let order = Order {
            order_id: store::phonepe_id("OMO"),
            merchant_order_id: merchant_order_id.clone(),
            amount,
            expire_at: sim.now_ms() + expire_after * 1000,
            meta_info,
            redirect_url,
            page_token: store::random_hex(16),
            state: State::Pending,
            error: None,
            attempts: Vec::new(),
        };
        // The app SDK's token opens the same order the hosted page shows, so an SDK order
        // can be paid in a browser, or with the script hooks, like any other.
        let (key, handle) = match kind {
            Checkout::HostedPage => (
                "redirectUrl",
                format!(
                    "{}/pay/{}",
                    sim.config().public_base_url.trim_end_matches('/'),
                    order.page_token
                ),
            ),
            Checkout::AppSdk => ("token", order.page_token.clone()),
        };
        let mut response = json!({
            "orderId": order.order_id,
            "state": "PENDING",
            "expireAt": order.expire_at,
        });
        response[key] = json!(handle);
        store
            .by_page_token
            .insert(order.page_token.clone(), merchant_order_id.clone());
        store.orders.insert(merchant_order_id.clone(), order);
        response
    };
    if let Some(mode) = sim.switches().settle_on_pay {
        sim.settle(
            &merchant_order_id,
            mode == crate::SettleOnPay::Completed,
            HookOptions::default(),
        )?;
        sim.wait_for_delivery(&merchant_order_id, Duration::from_secs(5))
            .await;
    }
    Ok(Json(response))
}

/// Reads a repeatable boolean query flag. The Node SDK sends `details=true&details=true`, so
/// the query is parsed by hand instead of with a strict extractor.
fn query_flag(query: Option<&str>, name: &str) -> Result<bool, SimError> {
    let mut value = false;
    for pair in query.unwrap_or_default().split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, "true"));
        if k != name {
            continue;
        }
        value = match v.to_ascii_lowercase().as_str() {
            "true" | "" => true,
            "false" => false,
            _ => {
                return Err(SimError::bad_request(format!(
                    "{name} must be true or false."
                )))
            }
        };
    }
    Ok(value)
}

async fn order_status(
    Sim(sim): Sim<SimState>,
    headers: HeaderMap,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> ApiResult {
    guard(&sim, &headers).await?;
    hold(sim.switches().slow_status_ms).await;
    let details = query_flag(query.as_deref(), "details")?;
    let error_context = query_flag(query.as_deref(), "errorContext")?;
    sim.sweep_expired();
    let store = lock(&sim.inner.store);
    let order = store
        .orders
        .get(&id)
        .ok_or_else(SimError::order_not_found)?;
    let which = if details {
        Attempts::All
    } else {
        Attempts::Latest
    };
    Ok(Json(order.to_json(
        &sim.config().merchant_id,
        which,
        error_context,
    )))
}

async fn transaction_status(Sim(sim): Sim<SimState>, headers: HeaderMap, Id(id): Id) -> ApiResult {
    guard(&sim, &headers).await?;
    sim.sweep_expired();
    let store = lock(&sim.inner.store);
    let order = store
        .by_transaction
        .get(&id)
        .and_then(|mid| store.orders.get(mid))
        .ok_or_else(|| {
            SimError::new(
                StatusCode::BAD_REQUEST,
                "TRANSACTION_NOT_FOUND",
                "No transaction found for the given transactionId",
            )
        })?;
    Ok(Json(order.to_json(
        &sim.config().merchant_id,
        Attempts::Only(&id),
        false,
    )))
}

// ---------------------------------------------------------------------------------------------
// Refunds

async fn refund(Sim(sim): Sim<SimState>, headers: HeaderMap, body: Bytes) -> ApiResult {
    guard(&sim, &headers).await?;
    hold(sim.switches().slow_refund_ms).await;
    let req = json_object(&body)?;
    let merchant_refund_id = required_str(&req, "merchantRefundId")?.to_owned();
    if merchant_refund_id.len() > 63 {
        return Err(SimError::bad_request(
            "merchantRefundId must be at most 63 characters.",
        ));
    }
    let order_id = required_str(&req, "originalMerchantOrderId")?.to_owned();
    let amount = amount(&req)?;

    let refund = {
        let mut store = lock(&sim.inner.store);
        if store.refunds.contains_key(&merchant_refund_id) {
            return Err(SimError::new(
                StatusCode::BAD_REQUEST,
                "Refund ID Duplicated",
                "Refund ID Duplicated",
            ));
        }
        let order = store
            .orders
            .get(&order_id)
            .ok_or_else(SimError::order_not_found)?;
        if order.state != State::Completed {
            return Err(SimError::bad_request(format!(
                "Refund is allowed only for COMPLETED orders; this order is {}.",
                order.state.as_str()
            )));
        }
        let refundable = store.refundable(order);
        if amount > refundable {
            return Err(SimError::bad_request(format!(
                "Refund amount {amount} exceeds the refundable amount {refundable}."
            )));
        }
        let refund = Refund {
            merchant_refund_id: merchant_refund_id.clone(),
            refund_id: store::phonepe_id("OMR"),
            original_merchant_order_id: order_id,
            amount,
            state: RefundState::Pending,
            timestamp: store::now_ms(),
            error: None,
            attempt: Attempt::new(amount, State::Pending, None),
        };
        store.refunds.insert(merchant_refund_id, refund.clone());
        refund
    };

    // The outcome is fixed now so a test flipping `failRefunds` afterwards cannot race it.
    let fail = sim.switches().fail_refunds;
    let delay = Duration::from_millis(sim.config().refund_delay_ms);
    let finisher = sim.clone();
    let (mrid, rid) = (refund.merchant_refund_id.clone(), refund.refund_id.clone());
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        finisher.finish_refund(&mrid, &rid, fail);
    });
    Ok(Json(json!({
        "refundId": refund.refund_id,
        "amount": refund.amount,
        "state": "PENDING",
    })))
}

impl SimState {
    /// Moves a pending refund to its final state and sends `pg.refund.accepted` +
    /// `pg.refund.completed` (or `pg.refund.failed`). The refund id check keeps a timer from a
    /// refund wiped by `reset` from touching a new refund that reuses its merchantRefundId.
    fn finish_refund(&self, merchant_refund_id: &str, refund_id: &str, fail: bool) {
        let events = {
            let mut store = lock(&self.inner.store);
            let store = &mut *store;
            let Some(refund) = store
                .refunds
                .get_mut(merchant_refund_id)
                .filter(|r| r.refund_id == refund_id && r.state == RefundState::Pending)
            else {
                return;
            };
            let Some(order) = store.orders.get(&refund.original_merchant_order_id) else {
                return;
            };
            let mid = &self.config().merchant_id;
            let oid = order.merchant_order_id.as_str();
            if fail {
                refund.state = RefundState::Failed;
                refund.error = Some(ErrorCodes::new("REFUND_FAILED", "REFUND_FAILED"));
                let payload = refund.webhook_payload(mid, order, "FAILED");
                vec![Event::refund(
                    "pg.refund.failed",
                    oid,
                    merchant_refund_id,
                    payload,
                )]
            } else {
                refund.state = RefundState::Completed;
                let accepted = refund.webhook_payload(mid, order, RefundState::Confirmed.as_str());
                let completed = refund.webhook_payload(mid, order, "COMPLETED");
                vec![
                    Event::refund("pg.refund.accepted", oid, merchant_refund_id, accepted),
                    Event::refund("pg.refund.completed", oid, merchant_refund_id, completed),
                ]
            }
        };
        self.dispatch(events);
    }
}

async fn refund_status(Sim(sim): Sim<SimState>, headers: HeaderMap, Id(id): Id) -> ApiResult {
    guard(&sim, &headers).await?;
    hold(sim.switches().slow_status_ms).await;
    let store = lock(&sim.inner.store);
    let refund = store.refunds.get(&id).ok_or_else(|| {
        SimError::new(
            StatusCode::BAD_REQUEST,
            "MERCHANT_REFUND_MAPPING_NOT_FOUND",
            "No entry found for Merchant refund id",
        )
    })?;
    Ok(Json(refund.to_json(&sim.config().merchant_id)))
}

/// SDK telemetry (sent only in PRODUCTION mode); accepted and ignored.
async fn events_batch() -> Json<Value> {
    Json(json!({}))
}

// ---------------------------------------------------------------------------------------------
// Simulator controls

fn config_json(sim: &SimState) -> Value {
    let mut v = serde_json::to_value(sim.switches()).unwrap_or_else(|_| json!({}));
    v["webhookUrl"] = json!(sim.webhook_url());
    v
}

async fn get_config(Sim(sim): Sim<SimState>) -> Json<Value> {
    Json(config_json(&sim))
}

/// Partial update: only the keys present change; `failApi: null` clears the fault.
async fn set_config(Sim(sim): Sim<SimState>, body: Bytes) -> ApiResult {
    let mut patch = json_object(&body)?;
    let webhook_url = match patch.remove("webhookUrl") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(url)) => Some(Some(url)),
        Some(_) => {
            return Err(SimError::bad_request(
                "webhookUrl must be a string or null.",
            ))
        }
    };
    let mut merged = serde_json::to_value(sim.switches()).unwrap_or_else(|_| json!({}));
    if let Value::Object(current) = &mut merged {
        current.extend(patch);
    }
    let switches: Switches = serde_json::from_value(merged)
        .map_err(|e| SimError::bad_request(format!("Invalid simulator config: {e}")))?;
    sim.set_switches(switches);
    if let Some(url) = webhook_url {
        sim.set_webhook_url(url);
    }
    Ok(Json(config_json(&sim)))
}

async fn list_webhooks(Sim(sim): Sim<SimState>) -> Json<Value> {
    let webhooks = sim.webhooks();
    Json(json!({ "count": sim.webhook_count(), "webhooks": webhooks }))
}

async fn reset(Sim(sim): Sim<SimState>) -> Json<Value> {
    sim.reset();
    Json(json!({ "ok": true }))
}

fn hook_options(body: &[u8]) -> Result<HookOptions, SimError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(HookOptions::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| SimError::bad_request(format!("Invalid hook body: {e}")))
}

async fn hook_show(Sim(sim): Sim<SimState>, Id(id): Id) -> ApiResult {
    sim.order_status(&id)
        .map(Json)
        .ok_or_else(SimError::order_not_found)
}

async fn hook_complete(Sim(sim): Sim<SimState>, Id(id): Id, body: Bytes) -> ApiResult {
    let opts = hook_options(&body)?;
    sim.complete_order(&id, opts).await.map(Json)
}

async fn hook_fail(Sim(sim): Sim<SimState>, Id(id): Id, body: Bytes) -> ApiResult {
    let opts = hook_options(&body)?;
    sim.fail_order(&id, opts).await.map(Json)
}

async fn hook_expire(Sim(sim): Sim<SimState>, Id(id): Id) -> ApiResult {
    sim.expire_order(&id).await.map(Json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_handles_escapes_and_rejects_garbage() {
        let form = parse_form(b"client_id=a%2Bb&client_secret=x+y&grant_type=").unwrap();
        assert_eq!(form[0], ("client_id".into(), "a+b".into()));
        assert_eq!(form[1], ("client_secret".into(), "x y".into()));
        assert_eq!(form[2], ("grant_type".into(), String::new()));
        assert!(parse_form(b"a=%zz").is_none());
        assert!(parse_form(b"a=%4").is_none());
        assert!(parse_form(b"a=%C3").is_none());
    }

    #[test]
    fn repeated_query_flags_are_accepted() {
        assert!(query_flag(Some("details=true&details=true"), "details").unwrap());
        assert!(!query_flag(Some("details=false"), "details").unwrap());
        assert!(!query_flag(None, "details").unwrap());
        assert!(query_flag(Some("details=maybe"), "details").is_err());
    }
}
