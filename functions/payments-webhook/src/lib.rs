//! `payments-webhook`: PhonePe's server-to-server callbacks. Authenticated by PhonePe's
//! header scheme, idempotent, and quick: PhonePe expects an answer within seconds.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use common::integrations::phonepe::PhonePe;
use common::integrations::phonepe::{verify_webhook, WebhookBody, WebhookEvent};
use common::platform::clock::SharedClock;
use common::platform::config::{Config, MailConfig, PhonePeConfig, WebhookCredentials};
use common::platform::db::Db;
use common::platform::services::Services;
use common::platform::{Error, Result};
use common::shop::messages::mail::Mailer;
use common::shop::payments::{check_attempt, find_attempt, Applied};
use common::shop::refunds::{self, Asked, Settled};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// The settings this function reads at cold start: the webhook checks PhonePe's callback
/// credentials, confirms with PhonePe's status APIs and mails the confirmation. `main.rs` and
/// the tests read this one type, so they cannot drift apart.
pub type Settings = (Config, PhonePeConfig, WebhookCredentials, MailConfig);

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/payments/phonepe/webhook")];

#[derive(Clone)]
struct AppState {
    db: Db,
    clock: SharedClock,
    credentials: WebhookCredentials,
    /// Built with `CONFIRM_TIMEOUT`: PhonePe expects an answer within seconds, so a slow
    /// status call gives up and leaves the order to reconciliation.
    phonepe: Arc<PhonePe>,
    mailer: Arc<Mailer>,
}

/// How long the webhook waits for PhonePe's own APIs before answering anyway: the client
/// this function is given should be built with it (`PhonePe::with_timeout`).
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(3);

pub fn router(
    services: &Services,
    phonepe: Arc<PhonePe>,
    credentials: WebhookCredentials,
    mailer: Arc<Mailer>,
) -> Router {
    let state = AppState {
        db: services.db.clone(),
        clock: services.clock.clone(),
        credentials,
        phonepe,
        mailer,
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
    if !verify_webhook(
        authorization,
        state.credentials.username.expose(),
        state.credentials.password.expose(),
    ) {
        tracing::warn!("webhook with a wrong or missing Authorization header refused");
        return Err(Error::unauthenticated("Invalid webhook credentials"));
    }
    // Read only once the caller is known, and never past the limit: the `Bytes` extractor
    // buffered up to 2 MB for anyone and answered a larger body with a plain-text 413.
    let body = axum::body::to_bytes(body, common::platform::http::MAX_BODY_BYTES)
        .await
        .map_err(|_| Error::payload_too_large())?;
    let parsed: WebhookBody = serde_json::from_slice(&body).map_err(|e| {
        tracing::warn!(error = %e, "unparseable webhook body");
        Error::invalid_json("The webhook body is not a PhonePe callback")
    })?;
    let event = parsed.event();
    let payload = &parsed.payload;
    let db = &state.db;
    let applied = match event {
        // A per-attempt failure is not final (the shopper may retry inside PhonePe's page).
        WebhookEvent::TransactionAttemptFailed => Applied::Ignored,
        // The webhook's credential is a static header, so its body proves nothing: it is a
        // hint to ask PhonePe's order-status API, whose answer alone pays (or fails) an
        // attempt. Without an answer in time, reconciliation settles it within a minute.
        WebhookEvent::OrderCompleted | WebhookEvent::OrderFailed => {
            match payload.order.merchant_order_id.as_deref() {
                None => Applied::UnknownAttempt,
                Some(mid) => match find_attempt(db, mid).await? {
                    None => {
                        tracing::warn!(
                            merchant_order_id = mid,
                            "webhook for a merchant order we never created"
                        );
                        Applied::UnknownAttempt
                    }
                    Some(attempt) => {
                        check_attempt(db, &*state.clock, &state.phonepe, &attempt).await?
                    }
                },
            }
        }
        WebhookEvent::RefundCompleted | WebhookEvent::RefundFailed => {
            // Only a hint: PhonePe's refund-status API decides, so a forged or stale
            // `pg.refund.failed` can neither mint a second refund nor undo a completed one.
            // Without an answer in time, `jobs` settles it within a minute.
            if let Some(id) = payload.merchant_refund_id.as_deref() {
                if let Asked::Settled(Settled::Completed(order_id)) =
                    refunds::ask(db, &state.phonepe, id).await?
                {
                    state.mailer.send_now(db, order_id).await;
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
    // What the change queued (the payment's confirmation, or the link to pay again) goes
    // out now; `jobs` sends it otherwise.
    if matches!(applied, Applied::MarkedPaid | Applied::MarkedFailed) {
        if let Some(mid) = payload.order.merchant_order_id.as_deref() {
            if let Some(attempt) = find_attempt(db, mid).await? {
                state.mailer.send_now(db, attempt.order_id).await;
            }
        }
    }
    Ok(axum::Json(json!({ "ok": true })))
}
