//! `payments-initiate`: starts a PhonePe payment attempt for one of the caller's orders.

use axum::extract::{FromRef, State};
use axum::routing::post;
use axum::Router;
use common::integrations::phonepe::{MerchantUrls, PayRequest, PaymentFlow, PhonePe};
use common::platform::auth::{Auth, User};
use common::platform::clock::SharedClock;
use common::platform::config::{Config, PaymentRedirect, PhonePeConfig};
use common::platform::db::Db;
use common::platform::http::Json;
use common::platform::problem_codes::ProblemCode;
use common::platform::rate_limit::{self, Action};
use common::platform::services::Services;
use common::platform::{Error, Result};
use common::shop::order::model::Order;
use common::shop::order::model::ORDERS;
use common::shop::order::settings::PaymentWindow;
use common::shop::order::status::OrderStatus;
use common::shop::payments::{self, AttemptMove, AttemptRef, Recorded};
use common::shop::vocabulary::time::rfc3339;
use mongodb::bson::{doc, DateTime};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The settings this function reads at cold start: initiate calls PhonePe and tells it where
/// to send the shopper back; its mail goes out from the webhook or jobs. `main.rs` and the
/// tests read this one type, so they cannot drift apart.
pub type Settings = (Config, PhonePeConfig, PaymentRedirect, PaymentWindow);

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/payments/phonepe/initiate")];

#[derive(Clone, FromRef)]
struct AppState {
    db: Db,
    auth: Auth,
    clock: SharedClock,
    phonepe: Arc<PhonePe>,
    redirect_url: String,
    expire_after_secs: i64,
}

pub fn router(
    services: &Services,
    phonepe: Arc<PhonePe>,
    redirect: PaymentRedirect,
    window: PaymentWindow,
) -> Router {
    let state = AppState {
        db: services.db.clone(),
        auth: services.auth.clone(),
        clock: services.clock.clone(),
        phonepe,
        redirect_url: redirect.url,
        expire_after_secs: window.page_expiry_secs(),
    };
    Router::new()
        .route("/payments/phonepe/initiate", post(initiate))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InitiateRequest {
    order_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct InitiateResponse {
    order_id: String,
    merchant_order_id: String,
    redirect_url: String,
    expire_at: String,
}

fn not_payable(detail: impl Into<String>) -> Error {
    Error::new(ProblemCode::OrderNotPayable, detail)
}

async fn initiate(
    State(state): State<AppState>,
    user: User,
    Json(req): Json<InitiateRequest>,
) -> Result<axum::Json<InitiateResponse>> {
    // The order's id or its number (`PIT-1001`), as every route that names an order takes.
    let mut filter =
        common::shop::order::lifecycle::filter_for(req.order_id.trim()).map_err(|_| {
            Error::field(
                "orderId",
                "must be an order's 24-character hex id or its number (PIT-1001)",
            )
        })?;
    rate_limit::check(&state.db, &*state.clock, &user.id, Action::InitiatePayment).await?;
    let db = &state.db;
    filter.insert("userId", user.id.as_str());
    let order = db
        .collection::<Order>(ORDERS)
        .find_one(filter)
        .await?
        .ok_or_else(common::shop::order::model::order_not_found)?;
    if !matches!(
        order.status,
        OrderStatus::Created | OrderStatus::PaymentPending
    ) {
        return Err(not_payable(format!(
            "An order that is {} cannot be paid",
            order.status
        )));
    }
    if order.total.get() < 100 {
        return Err(not_payable("PhonePe cannot collect less than ₹1.00"));
    }

    let phonepe = &state.phonepe;

    // The attempt is on record before PhonePe hears of it, so a crash in between leaves a
    // trail that reconciliation resolves.
    let attempt = payments::record_attempt(db, &order).await?;
    let merchant_order_id = attempt.merchant_order_id.clone();

    let pay = PayRequest {
        merchant_order_id: merchant_order_id.clone(),
        amount: order.total.get(),
        expire_after: Some(state.expire_after_secs),
        meta_info: Some(serde_json::json!({ "udf1": order.id.to_hex() })),
        payment_flow: PaymentFlow {
            kind: "PG_CHECKOUT",
            message: Some(format!("Pitalya order {}", order.id.to_hex())),
            merchant_urls: MerchantUrls {
                redirect_url: state.redirect_url.replace("{orderId}", &order.id.to_hex()),
            },
        },
    };
    let created = match phonepe.pay(&pay).await {
        Ok(c) => c,
        Err(e) => {
            // Only a refusal settles the attempt here. After a timeout PhonePe may well have
            // created the order, and the shopper may pay it: the attempt stays `creating`,
            // and reconciliation asks PhonePe which it was (found by `make prove`: written
            // off as an error, such an attempt's money was kept when the order expired).
            let error = e.to_string();
            if e.is_refusal() {
                let refused = AttemptMove::Refused { error: &error };
                payments::move_attempt(db, None, AttemptRef::Id(attempt.id), refused).await?;
            } else {
                payments::note_attempt_error(db, attempt.id, &error).await?;
            }
            return Err(e.into());
        }
    };
    let expire_at = DateTime::from_millis(created.expire_at);

    let moved = payments::record_page_opened(db, &attempt, &created.order_id, expire_at).await;
    match moved? {
        Recorded::Pending => {}
        Recorded::AlreadyPaid => {
            // Paid already: the truthful next step is the order page, not PhonePe's.
            return Ok(axum::Json(InitiateResponse {
                order_id: order.id.to_hex(),
                merchant_order_id,
                redirect_url: state.redirect_url.replace("{orderId}", &order.id.to_hex()),
                expire_at: rfc3339(expire_at),
            }));
        }
        Recorded::AttemptFailed => {
            return Err(Error::new(
                ProblemCode::PaymentAttemptFailed,
                "PhonePe reports that this payment failed already; the order can still be paid with a new attempt",
            ));
        }
    }
    Ok(axum::Json(InitiateResponse {
        order_id: order.id.to_hex(),
        merchant_order_id,
        redirect_url: created.redirect_url,
        expire_at: rfc3339(expire_at),
    }))
}
