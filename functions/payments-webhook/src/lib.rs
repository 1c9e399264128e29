//! `payments-webhook`: applies PhonePe's server-to-server callbacks.

use axum::Router;
use common::services::Services;

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/payments/phonepe/webhook")];

pub fn router(_services: &Services) -> Router {
    // PhonePe authenticates with its own header, not a Clerk token.
    Router::new().route(
        "/payments/phonepe/webhook",
        axum::routing::post(|| async { common::Error::not_implemented() }),
    )
}
