//! `payments-webhook`: PhonePe's server-to-server callbacks. Authenticated by PhonePe's
//! header scheme, idempotent, and quick: PhonePe expects an answer within seconds.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use common::config::Secret;
use common::payments::{check_attempt, find_attempt, Applied};
use common::phonepe::PhonePe;
use common::phonepe::{verify_webhook, WebhookBody, WebhookEvent};
use common::refunds::{self, Asked, Settled};
use common::services::Services;
use common::{Error, Result};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The configuration sections this function reads at cold start: the webhook checks PhonePe's
/// callback credentials (the PhonePe section) and mails the confirmation. `main.rs` and the
/// tests use this one constant, so they cannot drift apart.
pub const NEEDS: common::config::Needs = common::config::Needs {
    phonepe: true,
    mail: true,
    seller: false,
};

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/payments/phonepe/webhook")];

#[derive(Clone)]
struct AppState {
    services: Services,
    username: Secret<String>,
    password: Secret<String>,
    /// PhonePe with the webhook's budget: PhonePe expects an answer within seconds, so a
    /// slow status call gives up and leaves the order to reconciliation.
    phonepe: Option<Arc<PhonePe>>,
}

/// How long the webhook waits for PhonePe's own APIs before answering anyway.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(3);

pub fn router(services: &Services) -> Router {
    let (username, password) = match &services.config.phonepe {
        Some(p) => (p.webhook_username.clone(), p.webhook_password.clone()),
        None => (Secret::new(String::new()), Secret::new(String::new())),
    };
    let phonepe = services.config.phonepe.as_ref().and_then(|cfg| {
        PhonePe::with_timeout(cfg, CONFIRM_TIMEOUT)
            .map_err(|e| tracing::error!(error = %e, "cannot build the PhonePe client"))
            .ok()
            .map(Arc::new)
    });
    let state = AppState {
        services: services.clone(),
        username,
        password,
        phonepe,
    };
    Router::new()
        .route("/payments/phonepe/webhook", post(webhook))
        .with_state(state)
}

async fn webhook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<axum::Json<Value>> {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
    // With no credentials configured nothing can be verified, so nothing is accepted.
    if state.username.expose().is_empty()
        || !verify_webhook(
            authorization,
            state.username.expose(),
            state.password.expose(),
        )
    {
        tracing::warn!("webhook with a wrong or missing Authorization header refused");
        return Err(Error::unauthenticated("Invalid webhook credentials"));
    }
    // Read only once the caller is known, and never past the limit: the `Bytes` extractor
    // buffered up to 2 MB for anyone and answered a larger body with a plain-text 413.
    let body = axum::body::to_bytes(body, common::http::MAX_BODY_BYTES)
        .await
        .map_err(|_| Error::payload_too_large())?;
    let parsed: WebhookBody = serde_json::from_slice(&body).map_err(|e| {
        tracing::warn!(error = %e, "unparseable webhook body");
        Error::invalid_json("The webhook body is not a PhonePe callback")
    })?;
    let event = parsed.event();
    let payload = &parsed.payload;
    let db = &state.services.db;
    let applied = match event {
        // A per-attempt failure is not final (the shopper may retry inside PhonePe's page).
        WebhookEvent::TransactionAttemptFailed => Applied::Ignored,
        // The webhook's credential is a static header, so its body proves nothing: it is a
        // hint to ask PhonePe's order-status API, whose answer alone pays (or fails) an
        // attempt. Without an answer in time, reconciliation settles it within a minute.
        WebhookEvent::OrderCompleted | WebhookEvent::OrderFailed => {
            match payload.order.merchant_order_id.as_deref() {
                None => Applied::UnknownAttempt,
                Some(mid) => match (find_attempt(db, mid).await?, state.phonepe.as_ref()) {
                    (None, _) => {
                        tracing::warn!(
                            merchant_order_id = mid,
                            "webhook for a merchant order we never created"
                        );
                        Applied::UnknownAttempt
                    }
                    (Some(_), None) => Applied::Pending,
                    (Some(attempt), Some(phonepe)) => check_attempt(db, phonepe, &attempt).await?,
                },
            }
        }
        WebhookEvent::RefundCompleted | WebhookEvent::RefundFailed => {
            // Only a hint: PhonePe's refund-status API decides, so a forged or stale
            // `pg.refund.failed` can neither mint a second refund nor undo a completed one.
            // Without an answer in time, `jobs` settles it within a minute.
            if let (Some(id), Some(phonepe)) = (
                payload.merchant_refund_id.as_deref(),
                state.phonepe.as_ref(),
            ) {
                if let Asked::Settled(Settled::Completed(order_id)) =
                    refunds::ask(db, phonepe, id).await?
                {
                    state.services.send_mail_now(order_id).await;
                }
            }
            Applied::Ignored
        }
        WebhookEvent::RefundAccepted | WebhookEvent::Unknown => Applied::Ignored,
    };
    tracing::info!(
        event = ?event,
        merchant_order_id = ?payload.order.merchant_order_id,
        applied = ?applied,
        "webhook applied"
    );
    if matches!(applied, Applied::MarkedPaid) {
        if let Some(mid) = payload.order.merchant_order_id.as_deref() {
            if let Some(attempt) = find_attempt(db, mid).await? {
                state.services.send_mail_now(attempt.order_id).await;
            }
        }
    }
    Ok(axum::Json(json!({ "ok": true })))
}
