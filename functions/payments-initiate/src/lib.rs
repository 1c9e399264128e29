//! `payments-initiate`: starts a PhonePe payment attempt for an order.

use axum::Router;
use common::services::Services;

/// Every route this function serves, as `template.yaml` and `openapi.yaml` declare them.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/payments/phonepe/initiate")];

pub fn router(services: &Services) -> Router {
    common::http::not_implemented(ROUTES, services.auth.clone(), false)
}
